"""DevPay state through a snapshot: subscriptions, tokens, key pairs and PIDs go on exactly where they stood.

Tests that take ``backend`` run in-process (the snapshot restored into a new
``mock_cloud()``) and against a live server of DevPay alone (``GET``/``PUT
/_mockcloud/state``, the server reset in between); the clients are requests
with the tests' own signer, and a WS-Security SOAP request.
"""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from mockcloud import mock_cloud
from mockcloud.core.errors import MockCloudError
from tests.services.devpay.support import (
    DESKTOP_CODE,
    DESKTOP_KEY,
    OTHER_DEVELOPER,
    WEB_CODE,
    WEB_KEY,
    Backend,
    Developer,
    error,
    ok,
    post_soap,
    soap_request,
)
from tests.services.devpay.test_devpay import activate_desktop, activate_hosted
from tests.snapshot_helpers import assert_valid, restored_backend, saved

DESKTOP_CUSTOMER = "customer-desktop-example"


@pytest.fixture(scope="module")
def developer() -> Developer:
    return Developer.generate()


def rich_state(backend, developer: Developer) -> dict:
    """Both activations, an upgraded legacy token, an expiring one, keys unused and expired, statuses of every kind."""
    cloud, ls = backend.cloud, backend.client()
    cloud.clock.freeze(int(cloud.clock.time()))
    devpay = cloud.devpay
    devpay.register_certificate(developer.pem, "testing")
    state: dict = {}
    stale_key = devpay.create_activation_key(WEB_CODE)  # a new customer; the key will expire unused
    cloud.clock.advance(seconds=3601)
    state["stale_key"] = str(stale_key)
    # the desktop customer: a user token and a key pair; a legacy token upgraded once; an expiring token
    state["desktop"] = activate_desktop(
        backend.client(), cloud=cloud, key=devpay.create_activation_key(DESKTOP_CODE, DESKTOP_CUSTOMER)
    )
    _, key_id, secret = state["desktop"]
    customer = backend.client(key=key_id, secret=secret)
    product_token = devpay.product(DESKTOP_CODE).token
    legacy = devpay.issue_legacy_user_token(DESKTOP_CODE, DESKTOP_CUSTOMER)
    upgraded = ok(customer.call("RefreshUserToken", UserToken=legacy, AdditionalTokens=product_token)).text("UserToken")
    state.update(legacy=legacy, upgraded=upgraded)
    state["expiring"] = activate_desktop(
        backend.client(),
        cloud=cloud,
        key=devpay.create_activation_key(DESKTOP_CODE, DESKTOP_CUSTOMER),
        TokenExpiration="PT600S",
    )[0]
    # the web customer, and a second developer's product whose customer is made up by the mock
    state["web"] = activate_hosted(ls, cloud, key=devpay.create_activation_key(WEB_CODE, "customer-web-example"))
    theirs = devpay.create_product("web", OTHER_DEVELOPER[0], name="Their app")
    other = backend.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
    fresh_key = devpay.create_activation_key(theirs.code)
    state["theirs"] = (
        theirs.code,
        fresh_key.customer_id,
        activate_hosted(other, cloud, key=fresh_key, code=theirs.code)[1],
    )
    # statuses: one cancelled, one whose payment failed; a key never used
    devpay.cancel_subscription(WEB_CODE, stale_key.customer_id)
    state["pending_key"] = str(devpay.create_activation_key(DESKTOP_CODE, "customer-pending", payment_pending=True))
    state["unused_key"] = str(devpay.create_activation_key(WEB_CODE, "customer-late"))
    return state


def test_the_round_trip_is_exact_and_every_token_keeps_its_rules(backend, developer):
    state = rich_state(backend, developer)
    document = backend.cloud.snapshot()
    assert_valid(document, "devpay")
    section = document["devpay"]
    assert section["customer_counter"] == 2
    assert [t["upgraded_to"] for t in section["user_tokens"] if t["token"] == state["legacy"]] == [state["upgraded"]]

    with restored_backend(backend, document) as again:
        cloud = again.cloud
        assert cloud.snapshot() == document
        user_token, key_id, secret = state["desktop"]
        customer = again.client(key=key_id, secret=secret)
        product_token = cloud.devpay.product(DESKTOP_CODE).token
        # the customer's key pair still signs, and its user token still verifies
        assert (
            ok(
                customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token)
            ).text("Subscribed")
            == "true"
        )
        # the legacy token upgrades to the same token as before the snapshot, not to a new one
        refreshed = ok(
            customer.call("RefreshUserToken", UserToken=state["legacy"], AdditionalTokens=product_token)
        ).text("UserToken")
        assert refreshed == state["upgraded"]
        # a second activation of the customer gives the same key pair
        assert activate_desktop(
            again.client(), cloud=cloud, key=cloud.devpay.create_activation_key(DESKTOP_CODE, DESKTOP_CUSTOMER)
        )[1:] == (key_id, secret)
        # PIDs answer for their developer's customers, with the statuses as they were
        ls = again.client()
        _, pid = state["web"]
        assert ok(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid)).texts("ProductCode") == [WEB_CODE]
        code, _, their_pid = state["theirs"]
        other = again.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
        assert (
            ok(other.call("VerifyProductSubscriptionByPid", PersistentIdentifier=their_pid, ProductCode=code)).text(
                "Subscribed"
            )
            == "true"
        )
        error(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier=their_pid), "InvalidPersistentIdentifier")
        # keys: expired stays expired, a payment that failed still fails, the unused one works once it is used
        web_token = cloud.devpay.product(WEB_CODE).token
        error(
            ls.call("ActivateHostedProduct", ActivationKey=state["stale_key"], ProductToken=web_token),
            "ExpiredActivationKey",
        )
        error(
            again.client().call(
                "ActivateDesktopProduct", signed=False, ActivationKey=state["pending_key"], ProductToken=product_token
            ),
            "UserNotSubscribed",
        )
        assert activate_hosted(ls, cloud, key=state["unused_key"])[1] != pid
        # the registered certificate still signs SOAP requests
        now = cloud.clock.now()
        body = soap_request(
            "GetActiveSubscriptionsByPid",
            [("PersistentIdentifier", pid)],
            developer=developer,
            created=now,
            expires=now + timedelta(minutes=5),
        )
        reply = post_soap(again.soap_url, body, action="GetActiveSubscriptionsByPid")
        assert reply.status == 200 and reply.text("ProductCode") == WEB_CODE, reply.body
        # the expiring token dies at its time on the restored clock; the customer numbers go on
        cloud.clock.advance(seconds=600)
        error(
            customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=state["expiring"]),
            "InvalidUserToken",
        )
        assert cloud.devpay.create_activation_key(WEB_CODE).customer_id.startswith("customer-0003-")


def test_a_restored_seeded_mock_goes_on_as_the_original_would(developer):
    """Restoring draws nothing from the seeded sequence: the next keys, tokens and PIDs are the original's."""

    def next_steps(cloud) -> list:
        backend = Backend(cloud, "https://ls.amazonaws.com/", "https://ls.amazonaws.com/")
        key = cloud.devpay.create_activation_key(WEB_CODE)
        hosted = activate_hosted(backend.client(), cloud, key=key)
        return [str(key), key.customer_id, *hosted, cloud.devpay.create_product().token]

    with mock_cloud(services=["devpay"], seed=3) as original:
        rich_state(Backend(original, "https://ls.amazonaws.com/", "https://ls.amazonaws.com/"), developer)
        document = original.snapshot()
        expected = next_steps(original)
    with mock_cloud(services=["devpay"]) as fresh:
        fresh.restore(document)
        assert next_steps(fresh) == expected


def test_a_saved_snapshot_serves_as_fixtures_with_its_settings(tmp_path, developer):
    endpoint = "https://ls.amazonaws.com/"
    with mock_cloud(services=["devpay"], settings={"devpay": {"activation_key_single_use": True}}) as cloud:
        state = rich_state(Backend(cloud, endpoint, endpoint), developer)
        document = cloud.snapshot()
    with mock_cloud(services=["devpay"], fixtures=saved(document, tmp_path)) as cloud:
        cloud.clock.freeze(document["clock"]["now"])
        assert cloud.snapshot()["devpay"] == document["devpay"]
        ls = Backend(cloud, endpoint, endpoint).client()
        assert activate_hosted(ls, cloud, key=state["unused_key"])
        # single use, as the snapshot's settings say: the key is refused the second time
        message = error(
            ls.call(
                "ActivateHostedProduct",
                ActivationKey=state["unused_key"],
                ProductToken=cloud.devpay.product(WEB_CODE).token,
            ),
            "InvalidActivationKey",
        )
        assert "already been used" in message


def _corruptions(section: dict) -> list:
    """Sections the schema accepts but that cannot be state, and some it refuses."""
    unknown_product = copy.deepcopy(section)
    unknown_product["user_tokens"][0]["product_code"] = "ZZZZZZZZ"
    lost_upgrade = copy.deepcopy(section)
    next(t for t in lost_upgrade["user_tokens"] if "upgraded_to" in t)["upgraded_to"] = "{UserToken}AAAA"
    twice = copy.deepcopy(section)
    twice["desktop_keys"].append({**twice["desktop_keys"][0], "access_key_id": "ANOTHERKEYID"})
    shared_pid = copy.deepcopy(section)
    shared_pid["persistent_identifiers"].append(
        {**shared_pid["persistent_identifiers"][0], "customer_id": "someone-else"}
    )
    bad_status = copy.deepcopy(section)
    bad_status["subscriptions"][0]["status"] = "paused"
    stray = copy.deepcopy(section)
    stray["user_tokens"][0]["secret"] = "x"
    return [unknown_product, lost_upgrade, twice, shared_pid, bad_status, stray]


def test_a_corrupted_section_is_refused_and_changes_nothing(backend, developer):
    state = rich_state(backend, developer)
    document = backend.cloud.snapshot()
    for section in _corruptions(document["devpay"]):
        with pytest.raises(MockCloudError):
            backend.cloud.restore({**document, "devpay": section})
        assert backend.cloud.snapshot() == document
    user_token, key_id, secret = state["desktop"]
    customer = backend.client(key=key_id, secret=secret)
    product_token = backend.cloud.devpay.product(DESKTOP_CODE).token
    assert (
        ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token)).text(
            "Subscribed"
        )
        == "true"
    )


def test_no_snapshot_state_in_fixtures_means_todays_behaviour():
    """The embedded fixtures hold none of the new properties: fresh keys, unused, subscribed, and nothing else."""
    with mock_cloud(services=["devpay"]) as cloud:
        cloud.clock.freeze()
        section = cloud.snapshot()["devpay"]
        now = cloud.clock.time()
    assert [(k["key"], k["created"], k["expires"], k["used"]) for k in section["activation_keys"]] == [
        (DESKTOP_KEY, now, now + 3600, False),
        (WEB_KEY, now, now + 3600, False),
    ]
    assert [s["status"] for s in section["subscriptions"]] == ["active", "active"]
    assert (
        section["user_tokens"],
        section["desktop_keys"],
        section["persistent_identifiers"],
        section["customer_counter"],
    ) == ([], [], [], 0)
    assert json.loads(json.dumps(section)) == section
