"""Amazon DevPay License Service over REST-Query: all six actions, signature versions 0-2, errors, throttling.

Clients are ``requests`` and the standard library's ``urllib`` with the
independent signer of ``support.py``; every backend test runs
in-process under ``mock_devpay`` and against a live server. Time stamps come
from the mock's clock, so tests that move it run in both modes.
"""

from __future__ import annotations

import base64
import threading
from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest

import mockcloud
from mockcloud import mock_cloud, mock_devpay
from mockcloud.core.auth import aws_query_signature as sig
from mockcloud.core.errors import MockCloudError, ServiceError
from tests.services.devpay.support import (
    DESKTOP_CODE,
    DESKTOP_KEY,
    LS,
    LS_ERRORS,
    OTHER_DEVELOPER,
    WEB_CODE,
    WEB_KEY,
    LsClient,
    error,
    hmac_b64,
    ok,
    v0_string,
    v1_string,
    v2_string,
)

# ---- the reference's test vectors ----------------------------------------------------------

ZEND_SECRET = "uV3F3YluFJax1cknvbcGwgjvx4QpvB+leU8dUj2o"
ZEND_PARAMS = {
    "Action": "ActivateHostedProduct",
    "AWSAccessKeyId": "0PN5J17HBGZHT7JJ3X82",
    "SignatureVersion": "1",
    "Timestamp": "2009-11-11T13:52:38Z",
    "Version": "2007-12-01",
}
DG_PARAMS = {
    "Action": "CreateQueue",
    "QueueName": "queue2",
    "AWSAccessKeyId": "0A8BDF2G9KCB3ZNKFA82",
    "SignatureVersion": "1",
    "Expires": "2007-01-12T12:00:00Z",
    "Version": "2006-04-01",
}
V2_PARAMS = {
    "AWSAccessKeyId": "0PN5J17HBGZHT7JJ3X82",
    "Action": "ActivateHostedProduct",
    "ActivationKey": "ADMAY7DVLJTWHJ76MMBMQEXAMPLE",
    "ProductToken": "{ProductToken}AAAHVXNlclRrbg+/=",
    "SignatureMethod": "HmacSHA256",
    "SignatureVersion": "2",
    "Timestamp": "2009-11-11T13:52:38Z",
    "Version": "2008-04-28",
}


def test_signature_version_1_vectors_from_the_reference():
    """Zend's DevPay vector and the DG's example string: the tests' signer and mockcloud's agree with both."""
    expected = (
        "ActionActivateHostedProductAWSAccessKeyId0PN5J17HBGZHT7JJ3X82"
        "SignatureVersion1Timestamp2009-11-11T13:52:38ZVersion2007-12-01"
    )
    assert v1_string(ZEND_PARAMS) == sig.string_to_sign_v1(list(ZEND_PARAMS.items())) == expected
    assert hmac_b64(ZEND_SECRET, expected) == sig.sign(ZEND_SECRET, expected) == "31Q2YlgABM5X3GkYQpGErcL10Xc="
    dg = (
        "ActionCreateQueueAWSAccessKeyId0A8BDF2G9KCB3ZNKFA82Expires2007-01-12T12:00:00Z"
        "QueueNamequeue2SignatureVersion1Version2006-04-01"
    )
    assert sig.string_to_sign_v1(list(DG_PARAMS.items())) == v1_string(DG_PARAMS) == dg
    assert sig.sign("fake-secret-key", dg) == "wlv84EOcHQk800Yq6QHgX4AdJfk="
    newer = {**DG_PARAMS, "Version": "2008-04-28"}
    assert sig.sign("fake-secret-key", sig.string_to_sign_v1(list(newer.items()))) == "+g091tUDDhl8KZmkstGb41D9Ui4="


def test_signature_version_0_and_2_vectors():
    params = {**ZEND_PARAMS, "SignatureVersion": "0"}
    assert sig.string_to_sign_v0(params) == v0_string(params) == "ActivateHostedProduct2009-11-11T13:52:38Z"
    assert sig.sign(ZEND_SECRET, sig.string_to_sign_v0(params)) == "Gyo4s1rULXPd9qjgJ3IKNrNVbj8="
    ours = sig.string_to_sign_v2("GET", "ls.amazonaws.com", "/", list(V2_PARAMS.items()))
    assert ours == v2_string("GET", "ls.amazonaws.com", "/", V2_PARAMS)
    assert "ProductToken=%7BProductToken%7DAAAHVXNlclRrbg%2B%2F%3D" in ours  # RFC 3986, uppercase hex
    assert sig.sign(ZEND_SECRET, ours, "HmacSHA256") == "kUhFH+y2CpRw9r/nUKV57ryELmDi53HAMwbaukONmHg="
    sha1 = {**V2_PARAMS, "SignatureMethod": "HmacSHA1"}
    text = sig.string_to_sign_v2("GET", "ls.amazonaws.com", "/", list(sha1.items()))
    assert sig.sign(ZEND_SECRET, text, "HmacSHA1") == "GF2ue1HjGORy8+WLu1hwzWdoVYg="


def test_a_captured_verify_by_tokens_request_verifies():
    """The LeastAuthority fixture: a real VerifyProductSubscriptionByTokens URL signed with the customer's secret."""
    query = (
        "Action=VerifyProductSubscriptionByTokens&AWSAccessKeyId=TESTAAAAAAAAAAAAAAAA&Expires=1970-01-01T00%3A15%3A00Z"
        f"&ProductToken=%7BProductToken%7DTESTPRODUCTTOKEN{'A' * 295}%3D&SignatureVersion=1"
        f"&UserToken=%7BUserToken%7DTESTUSERTOKEN{'A' * 385}%3D%3D&Version=2008-04-28"
        "&Signature=EoWZTlMO9qQA6Pbq5Ze4eHAlKZc%3D"
    )
    secrets = {"TESTAAAAAAAAAAAAAAAA": "TEST" + "A" * 36}
    signer = sig.verify(
        sig.QueryParams(query), method="GET", hosts=("ls.amazonaws.com",), path="/", lookup=secrets.get, now=600.0
    )
    assert signer.access_key_id == "TESTAAAAAAAAAAAAAAAA" and signer.signature_version == "1"
    assert signer.params["UserToken"].endswith("AA==")
    with pytest.raises(ServiceError) as exc:  # the same request after its Expires
        sig.verify(
            sig.QueryParams(query), method="GET", hosts=("ls.amazonaws.com",), path="/", lookup=secrets.get, now=901.0
        )
    assert exc.value.code == "RequestExpired"


def test_query_decoding_keeps_what_the_client_meant():
    query = sig.QueryParams("ProductToken=%7BProductToken%7Da+b%2Bc%3D&Timestamp=2008-05-23T12:08:33+02:00")
    assert query.first("ProductToken") == "{ProductToken}a b+c="  # form decoding
    assert dict(query.literal_plus_pairs)["ProductToken"] == "{ProductToken}a+b+c="
    assert sig.parse_timestamp(query.first("Timestamp")).utcoffset() == timedelta(hours=2)
    assert sig.parse_timestamp("2008-05-23T12:08:33.250-04:00").microsecond == 250000
    assert sig.parse_timestamp("23/05/2008") is None
    with pytest.raises(ServiceError) as exc:
        sig.QueryParams("Action=%FF%FE")
    assert exc.value.code == "InvalidQueryParameter"


# ---- backends ---------------------------------------------------------------------------


def activate_desktop(
    client: LsClient, key: str = DESKTOP_KEY, code: str = DESKTOP_CODE, cloud=None, **extra
) -> tuple[str, str, str]:
    token = cloud.devpay.product(code).token if cloud is not None else None
    reply = ok(client.call("ActivateDesktopProduct", signed=False, ActivationKey=key, ProductToken=token, **extra))
    return reply.text("UserToken"), reply.text("AWSAccessKeyId"), reply.text("SecretAccessKey")


def activate_hosted(client: LsClient, cloud, key: str = WEB_KEY, code: str = WEB_CODE) -> tuple[str, str]:
    reply = ok(client.call("ActivateHostedProduct", ActivationKey=key, ProductToken=cloud.devpay.product(code).token))
    return reply.text("UserToken"), reply.text("PersistentIdentifier")


SIGNERS = [
    pytest.param("0", None, id="v0"),
    pytest.param("1", None, id="v1"),
    pytest.param("2", "HmacSHA256", id="v2-sha256"),
    pytest.param("2", "HmacSHA1", id="v2-sha1"),
]


# ---- the actions ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("version,signature_method", SIGNERS)
def test_desktop_product_lifecycle(backend, cloud, method, version, signature_method):
    """ActivateDesktopProduct (unsigned), then the customer's key pair signs VerifyByTokens and RefreshUserToken."""
    anonymous = backend.client(method=method)
    user_token, key_id, secret = activate_desktop(anonymous, cloud=cloud)
    assert user_token.startswith("{UserToken}") and len(user_token) == len("{UserToken}") + 400
    assert base64.b64decode(user_token[11:])[:10] == b"\x00\x03\x07UserTkn"
    assert len(key_id) == 20 and len(secret) == 40
    assert cloud.devpay.desktop_key(key_id).customer_id == "customer-desktop-example"
    customer = backend.client(
        method=method,
        key=key_id,
        secret=secret,
        signature_version=version,
        signature_method=signature_method or "HmacSHA256",
    )
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    reply = ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token))
    assert reply.text("Subscribed") == "true"
    refreshed = ok(customer.call("RefreshUserToken", UserToken=user_token, AdditionalTokens=product_token))
    assert refreshed.text("UserToken") == user_token  # already current: refreshes to itself
    cloud.devpay.cancel_subscription(DESKTOP_CODE, "customer-desktop-example")
    reply = ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token))
    assert reply.text("Subscribed") == "false"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("version,signature_method", SIGNERS)
def test_web_product_lifecycle(backend, cloud, method, version, signature_method):
    """ActivateHostedProduct by the owner, then the PID answers GetActiveSubscriptions and VerifyByPid."""
    dev = backend.client(method=method, signature_version=version, signature_method=signature_method or "HmacSHA256")
    user_token, pid = activate_hosted(dev, cloud)
    assert len(pid) == 27 and pid.isalnum() and pid.isupper()
    assert ok(dev.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid)).texts("ProductCode") == [WEB_CODE]
    assert (
        ok(dev.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE)).text(
            "Subscribed"
        )
        == "true"
    )
    assert ok(dev.call("RefreshUserToken", UserToken=user_token)).text("UserToken") == user_token
    cloud.devpay.cancel_subscription(WEB_CODE, "customer-web-example")
    assert (
        ok(dev.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE)).text(
            "Subscribed"
        )
        == "false"
    )
    reply = ok(dev.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid))
    assert reply.texts("ProductCode") == []
    assert reply.root.find(f"{{{LS}}}GetActiveSubscriptionsByPidResult") is not None  # an empty Result is legal


def test_response_and_error_xml_shapes(backend, cloud, ls):
    reply = ok(
        ls.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=cloud.devpay.product(WEB_CODE).token)
    )
    root = reply.root
    assert root.tag == f"{{{LS}}}ActivateHostedProductResponse"
    assert [child.tag for child in root] == [f"{{{LS}}}ActivateHostedProductResult", f"{{{LS}}}ResponseMetadata"]
    assert [child.tag.split("}")[1] for child in root[0]] == ["UserToken", "PersistentIdentifier"]  # schema order
    assert len(root.find(f"{{{LS}}}ResponseMetadata/{{{LS}}}RequestId").text) == 36
    assert reply.headers["Content-Type"].startswith("text/xml")
    assert reply.headers["Server"].endswith("AWSLicenseService")  # the server may prepend werkzeug's own
    bad = ls.call("ActivateHostedProduct", ActivationKey="NOPE", ProductToken="{ProductToken}xyz")
    assert bad.status == 400
    root = bad.root
    assert root.tag == f"{{{LS_ERRORS}}}ErrorResponse"
    error_el = root.find(f"{{{LS_ERRORS}}}Error")
    assert [c.tag.split("}")[1] for c in error_el] == ["Type", "Code", "Message", "Detail"]
    assert error_el.find(f"{{{LS_ERRORS}}}Type").text == "Sender"
    assert bad.code == "InvalidProductToken"
    assert len(root.find(f"{{{LS_ERRORS}}}RequestId").text) == 36


def test_persistent_identifier_is_one_per_owner_and_customer(backend, cloud, ls):
    second = cloud.devpay.create_product("web")
    _, pid = activate_hosted(ls, cloud)
    key = cloud.devpay.create_activation_key(second.code, "customer-web-example")
    assert key.customer_id == "customer-web-example" and key.product_code == second.code and len(key) == 28
    _, again = activate_hosted(ls, cloud, key=key, code=second.code)
    assert again == pid
    assert ok(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid)).texts("ProductCode") == [
        WEB_CODE,
        second.code,
    ]
    # another developer's product: another PID, and neither developer sees the other's products
    theirs = cloud.devpay.create_product("web", owner_access_key_id=OTHER_DEVELOPER[0])
    other = backend.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
    _, their_pid = activate_hosted(
        other, cloud, key=cloud.devpay.create_activation_key(theirs.code, "customer-web-example"), code=theirs.code
    )
    assert their_pid != pid
    assert ok(other.call("GetActiveSubscriptionsByPid", PersistentIdentifier=their_pid)).texts("ProductCode") == [
        theirs.code
    ]
    assert ok(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid)).texts("ProductCode") == [
        WEB_CODE,
        second.code,
    ]
    error(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier=their_pid), "InvalidPersistentIdentifier")
    error(
        ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=theirs.code),
        "InvalidProductToken",
    )


def test_legacy_user_token_refreshes_to_the_current_version(backend, cloud):
    _, key_id, secret = activate_desktop(backend.client(), cloud=cloud)
    customer = backend.client(key=key_id, secret=secret)
    legacy = cloud.devpay.issue_legacy_user_token(DESKTOP_CODE, "customer-desktop-example")
    assert base64.b64decode(legacy[11:])[:2] == b"\x00\x00"
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    fresh = ok(customer.call("RefreshUserToken", UserToken=legacy, AdditionalTokens=product_token)).text("UserToken")
    assert fresh != legacy and base64.b64decode(fresh[11:])[:2] == b"\x00\x03"
    assert (
        ok(customer.call("RefreshUserToken", UserToken=legacy, AdditionalTokens=product_token)).text("UserToken")
        == fresh
    )
    assert (
        ok(customer.call("RefreshUserToken", UserToken=fresh, AdditionalTokens=product_token)).text("UserToken")
        == fresh
    )
    assert (
        ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=fresh)).text(
            "Subscribed"
        )
        == "true"
    )


def test_token_expiration_runs_on_the_mock_clock(backend, cloud):
    user_token, key_id, secret = activate_desktop(backend.client(), cloud=cloud, TokenExpiration="PT60S")
    customer = backend.client(key=key_id, secret=secret)
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token))
    cloud.clock.advance(seconds=61)
    message = error(
        customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token),
        "InvalidUserToken",
    )
    assert "expired" in message
    seconds, _, _ = activate_desktop(backend.client(), cloud=cloud, TokenExpiration="3600")  # bare seconds are accepted
    assert cloud.devpay.user_token(seconds).expires == pytest.approx(cloud.clock.time() + 3600, abs=5)
    for bad in ("soon", "P", "-PT5S", "PT0S"):
        error(
            backend.client().call(
                "ActivateDesktopProduct",
                signed=False,
                ActivationKey=DESKTOP_KEY,
                ProductToken=product_token,
                TokenExpiration=bad,
            ),
            "InvalidParameterValue",
        )


def test_unencoded_plus_in_tokens_is_understood(backend, cloud):
    """A client that leaves ``+`` raw in the URL (as some did) is verified against what it sent."""
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    assert "+" in product_token
    raw = backend.client(encode_plus=False)
    user_token, key_id, secret = activate_desktop(raw, cloud=cloud)
    for version in ("1", "2"):
        customer = backend.client(key=key_id, secret=secret, encode_plus=False, signature_version=version)
        assert (
            ok(
                customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token)
            ).text("Subscribed")
            == "true"
        )


def test_test_side_helpers_and_defaults(cloud):
    desktop, web = cloud.devpay.product(DESKTOP_CODE), cloud.devpay.product(WEB_CODE)
    assert (desktop.kind, web.kind) == ("desktop", "web")
    assert desktop.owner_access_key_id == web.owner_access_key_id == "testing"
    assert len(desktop.token) == len("{ProductToken}") + 312
    assert base64.b64decode(desktop.token[14:])[:9] == b"\x00\x01\x06AppTkn"
    made = cloud.devpay.create_product(kind="web", owner_access_key_id="testing")
    assert len(made.code) == 8 and made.token.startswith("{ProductToken}")
    key = cloud.devpay.create_activation_key(made.code)
    assert key.customer_id.startswith("customer-") and key.expires - key.created == 3600
    assert cloud.devpay.subscription(made.code, key.customer_id).status == "active"
    with pytest.raises(MockCloudError):
        cloud.devpay.create_product(kind="mobile")
    with pytest.raises(MockCloudError):
        cloud.devpay.cancel_subscription(made.code, "nobody")
    with pytest.raises(MockCloudError):
        cloud.devpay.create_activation_key("ZZZZZZZZ")


# ---- action errors -----------------------------------------------------------------------


def test_activation_errors(backend, cloud, ls):
    desktop, web = cloud.devpay.product(DESKTOP_CODE), cloud.devpay.product(WEB_CODE)
    anonymous = backend.client()

    def adp(**params):
        return anonymous.call("ActivateDesktopProduct", signed=False, **params)

    assert "ActivationKey" in error(adp(ProductToken=desktop.token), "MissingParameter")
    error(adp(ActivationKey=DESKTOP_KEY), "MissingProductToken")
    error(adp(ActivationKey="not-a-key!", ProductToken=desktop.token), "InvalidActivationKey")
    error(adp(ActivationKey="A" * 31, ProductToken=desktop.token), "InvalidActivationKey")
    error(adp(ActivationKey="UNKNOWNKEY0000000000000000AB", ProductToken=desktop.token), "InvalidActivationKey")
    error(adp(ActivationKey=WEB_KEY, ProductToken=desktop.token), "IncorrectActivationKey")
    error(adp(ActivationKey=DESKTOP_KEY, ProductToken="{ProductToken}Zm9yZ2Vk"), "InvalidProductToken")
    error(adp(ActivationKey=WEB_KEY, ProductToken=web.token), "InvalidProductToken")  # not a desktop product
    # ActivateHostedProduct: the product token must be the signer's
    other = backend.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
    error(other.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=web.token), "InvalidProductToken")
    error(ls.call("ActivateHostedProduct", ActivationKey=DESKTOP_KEY, ProductToken=web.token), "IncorrectActivationKey")
    # a failed sign-up payment
    pending = cloud.devpay.create_activation_key(WEB_CODE, payment_pending=True)
    error(ls.call("ActivateHostedProduct", ActivationKey=pending, ProductToken=web.token), "UserNotSubscribed")
    assert cloud.devpay.persistent_identifier("testing", pending.customer_id) is None  # nothing half-written
    # activation keys live one hour on the mock clock
    ok(ls.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=web.token))
    cloud.clock.advance(minutes=61)
    error(ls.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=web.token), "ExpiredActivationKey")
    error(adp(ActivationKey=DESKTOP_KEY, ProductToken=desktop.token), "ExpiredActivationKey")


def test_persistent_identifier_and_product_code_errors(backend, cloud, ls):
    _, pid = activate_hosted(ls, cloud)
    error(ls.call("GetActiveSubscriptionsByPid"), "MissingPersistentIdentifier")
    error(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PNOTAREALPID"), "InvalidPersistentIdentifier")
    error(ls.call("VerifyProductSubscriptionByPid", ProductCode=WEB_CODE), "MissingPersistentIdentifier")
    assert "ProductCode" in error(
        ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid), "MissingParameter"
    )
    error(
        ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier="bad pid", ProductCode=WEB_CODE),
        "InvalidPersistentIdentifier",
    )
    error(
        ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode="bad"), "InvalidParameterValue"
    )
    error(
        ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode="00000000"),
        "InvalidProductToken",
    )
    other = backend.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
    error(other.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid), "InvalidPersistentIdentifier")
    # the desktop product is the same developer's: verifiable by PID (not subscribed: another customer)
    assert (
        ok(ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=DESKTOP_CODE)).text(
            "Subscribed"
        )
        == "false"
    )


def test_verify_by_tokens_errors(backend, cloud, ls):
    user_token, key_id, secret = activate_desktop(backend.client(), cloud=cloud)
    customer = backend.client(key=key_id, secret=secret)
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    error(customer.call("VerifyProductSubscriptionByTokens", UserToken=user_token), "MissingProductToken")
    error(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token), "MissingUserToken")
    error(
        customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken="{UserToken}Zm9v"),
        "InvalidUserToken",
    )
    error(
        customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken="garbage"),
        "InvalidUserToken",
    )
    other_product = cloud.devpay.product(WEB_CODE).token
    error(
        customer.call("VerifyProductSubscriptionByTokens", ProductToken=other_product, UserToken=user_token),
        "InvalidProductToken",
    )
    # signed with the developer's own keys instead of the customer's
    error(
        ls.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token),
        "InvalidUserToken",
    )
    # another customer's key pair
    key = cloud.devpay.create_activation_key(DESKTOP_CODE)
    _, other_id, other_secret = activate_desktop(backend.client(), key=key, cloud=cloud)
    stranger = backend.client(key=other_id, secret=other_secret)
    error(
        stranger.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token),
        "InvalidUserToken",
    )


def test_refresh_user_token_errors(backend, cloud, ls):
    user_token, key_id, secret = activate_desktop(backend.client(), cloud=cloud)
    customer = backend.client(key=key_id, secret=secret)
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    error(customer.call("RefreshUserToken", AdditionalTokens=product_token), "MissingUserToken")
    error(
        customer.call("RefreshUserToken", UserToken="{UserToken}bm9wZQ==", AdditionalTokens=product_token),
        "InvalidUserToken",
    )
    error(
        customer.call("RefreshUserToken", UserToken=user_token), "MissingProductToken"
    )  # desktop: the product token is required
    error(
        customer.call("RefreshUserToken", UserToken=user_token, AdditionalTokens=cloud.devpay.product(WEB_CODE).token),
        "InvalidProductToken",
    )
    error(
        customer.call("RefreshUserToken", UserToken=user_token, AdditionalTokens="{UserToken}x"),
        "InvalidParameterValue",
    )
    error(
        ls.call("RefreshUserToken", UserToken=user_token, AdditionalTokens=product_token), "InvalidUserToken"
    )  # not the customer's keys
    # numbered members are read as the list they are
    assert (
        ok(customer.call("RefreshUserToken", UserToken=user_token, **{"AdditionalTokens.1": product_token})).text(
            "UserToken"
        )
        == user_token
    )
    # a web product's token refreshed by another developer
    web_token, _ = activate_hosted(ls, cloud)
    other = backend.client(key=OTHER_DEVELOPER[0], secret=OTHER_DEVELOPER[1])
    error(other.call("RefreshUserToken", UserToken=web_token), "InvalidUserToken")
    error(ls.call("RefreshUserToken", UserToken=web_token, AdditionalTokens=product_token), "InvalidProductToken")


# ---- authentication -------------------------------------------------------------------------


def test_time_stamp_rules(backend, cloud, ls):
    now = cloud.clock.now()
    params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    params["Expires"] = params["Timestamp"]
    assert "Expires" in error(ls.send(params), "InvalidParameterCombination")
    params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    del params["Timestamp"]
    assert "Timestamp" in error(ls.send(params), "MissingParameter")
    error(
        ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX", timestamp=now - timedelta(minutes=16)),
        "RequestExpired",
    )
    error(
        ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX", timestamp=now + timedelta(minutes=16)),
        "RequestExpired",
    )
    error(
        ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX", expires=now - timedelta(seconds=5)),
        "RequestExpired",
    )
    # inside the window the request reaches the action
    error(
        ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX", timestamp=now - timedelta(minutes=14)),
        "InvalidPersistentIdentifier",
    )
    error(
        ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX", expires=now + timedelta(minutes=15)),
        "InvalidPersistentIdentifier",
    )
    params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    params["Timestamp"] = "yesterday"
    params["Signature"] = ls.sign(params)
    assert "Timestamp" in error(ls.send(params), "InvalidParameterValue")
    params["Timestamp"] = now.astimezone(timezone(timedelta(hours=-4))).isoformat(timespec="seconds")
    params["Signature"] = ls.sign(params)
    error(ls.send(params), "InvalidPersistentIdentifier")  # an offset time stamp, as Ruby's Time#iso8601 sent


def test_key_and_signature_errors(backend, ls):
    params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    assert error(
        backend.client(key="AKIDUNKNOWN", secret="x").send(params | {"AWSAccessKeyId": "AKIDUNKNOWN"}),
        "InvalidClientTokenId",
        403,
    )
    error(
        backend.client(secret="wrong").call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX"),
        "SignatureDoesNotMatch",
        403,
    )
    tampered = dict(params, PersistentIdentifier="PY")
    error(ls.send(tampered), "SignatureDoesNotMatch", 403)
    error(ls.send({k: v for k, v in params.items() if k != "Signature"}), "MissingParameter")
    error(ls.send({k: v for k, v in params.items() if k != "AWSAccessKeyId"}), "MissingClientTokenId", 403)
    assert "SignatureVersion" in error(ls.send(dict(params, SignatureVersion="3")), "InvalidParameterValue")
    v2 = backend.client(signature_version="2", signature_method="HmacMD5")
    assert "SignatureMethod" in error(
        v2.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX"), "InvalidParameterValue"
    )
    no_method = backend.client(signature_version="2").params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    del no_method["SignatureMethod"]
    assert "SignatureMethod" in error(ls.send(no_method), "MissingParameter")
    # without SignatureVersion the request is taken as version 0 (the Query framework's default)
    v0 = backend.client(signature_version="0").params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    del v0["SignatureVersion"]
    error(ls.send(v0), "InvalidPersistentIdentifier")


def test_action_version_and_verb_errors(backend, ls):
    error(ls.send({"Version": "2008-04-28"}), "MissingAction")
    assert "MintMoney" in error(ls.call("MintMoney"), "InvalidAction")
    params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    # without a Version the server cannot route by it: these go to the service's own path there
    by_path = LsClient(backend.soap_url, backend.cloud.clock)
    assert "Version" in error(by_path.send({k: v for k, v in params.items() if k != "Version"}), "MissingParameter")
    error(by_path.send(dict(params, Version="28/04/2008")), "MalformedVersion")
    error(by_path.send(dict(params, Version="2009-01-01")), "NoSuchVersion")
    put = ls.http("PUT", ls.endpoint + "?" + ls.encode(params), None, {})
    assert (put.status, put.code) == (405, "UnsupportedHttpVerb")


def test_older_api_version_answers_in_its_namespace(backend, cloud):
    old = backend.client(version="2007-12-01")
    reply = ok(
        old.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=cloud.devpay.product(WEB_CODE).token)
    )
    assert reply.root.tag == "{http://ls.amazonaws.com/doc/2007-12-01/}ActivateHostedProductResponse"


def test_soap_endpoint_path_takes_rest_queries_too(backend, cloud):
    """In server mode /devpay/ is the service's path; signature version 2 signs that path."""
    client = LsClient(backend.soap_url, cloud.clock, signature_version="2")
    assert urlsplit(backend.soap_url).path in ("/", "/devpay/")
    _, pid = activate_hosted(client, cloud)
    assert (
        ok(client.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE)).text(
            "Subscribed"
        )
        == "true"
    )


# ---- throttling --------------------------------------------------------------------------------


def test_throttle_fault_answers_503_service_unavailable(backend, cloud, ls):
    cloud.faults.add("devpay", "GetActiveSubscriptionsByPid", throttle=True, count=1)
    reply = ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
    assert error(reply, "ServiceUnavailable", 503)
    assert reply.root.find(f"{{{LS_ERRORS}}}Error/{{{LS_ERRORS}}}Type").text == "Receiver"
    error(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX"), "InvalidPersistentIdentifier")
    assert [r.error_code for r in cloud.requests.filter(service="devpay")] == [
        "ServiceUnavailable",
        "InvalidPersistentIdentifier",
    ]


def test_a_retry_loop_gets_through_once_the_rate_limit_allows(backend, cloud, ls):
    """The DG: LS may throttle with 503, clients retry; the mock clock refills the bucket."""
    _, pid = activate_hosted(ls, cloud)
    cloud.faults.rate_limit("devpay", "VerifyProductSubscriptionByPid", rate=0.5, burst=1)
    ok(ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE))
    statuses = []
    for _attempt in range(5):  # the client's retry loop, backing off on the mock clock
        reply = ls.call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE)
        statuses.append(reply.status)
        if reply.status != 503:
            break
        assert reply.code == "ServiceUnavailable"
        cloud.clock.advance(seconds=1)
    assert statuses == [503, 503, 200]
    assert reply.text("Subscribed") == "true"


# ---- the standard library's urllib -------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_urllib_client_end_to_end(backend, cloud, method):
    """The standard library's client: in-process through the http.client interceptor, and over a socket."""
    anonymous = backend.client(transport="urllib", method=method)
    user_token, key_id, secret = activate_desktop(anonymous, cloud=cloud)
    customer = backend.client(transport="urllib", method=method, key=key_id, secret=secret, signature_version="2")
    product_token = cloud.devpay.product(DESKTOP_CODE).token
    assert (
        ok(customer.call("VerifyProductSubscriptionByTokens", ProductToken=product_token, UserToken=user_token)).text(
            "Subscribed"
        )
        == "true"
    )
    dev = backend.client(transport="urllib", method=method, signature_version="0")
    _, pid = activate_hosted(dev, cloud)
    assert ok(dev.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid)).texts("ProductCode") == [WEB_CODE]
    error(
        dev.call(
            "GetActiveSubscriptionsByPid", PersistentIdentifier=pid, timestamp=cloud.clock.now() - timedelta(hours=1)
        ),
        "RequestExpired",
    )
    cloud.faults.add("devpay", throttle=True, count=1)
    error(dev.call("GetActiveSubscriptionsByPid", PersistentIdentifier=pid), "ServiceUnavailable", 503)


# ---- settings and in-process specifics ---------------------------------------------------------


def test_settings_choose_codes_versions_and_key_reuse():
    settings = {
        "bad_signature_code": "AuthFailure",
        "unknown_key_code": "InvalidAccessKeyId",
        "signature_versions": ["1"],
        "default_signature_version": None,
        "activation_key_single_use": True,
        "throttling_code": "RequestThrottled",
    }
    with mock_cloud(services=["devpay"], settings={"devpay": settings}) as cloud:
        ls = LsClient("https://ls.amazonaws.com/", cloud.clock)
        error(
            LsClient("https://ls.amazonaws.com/", cloud.clock, secret="bad").call(
                "GetActiveSubscriptionsByPid", PersistentIdentifier="PX"
            ),
            "AuthFailure",
            401,
        )
        error(
            LsClient("https://ls.amazonaws.com/", cloud.clock, key="AKIDNOPE").call(
                "GetActiveSubscriptionsByPid", PersistentIdentifier="PX"
            ),
            "InvalidAccessKeyId",
            401,
        )
        error(
            LsClient("https://ls.amazonaws.com/", cloud.clock, signature_version="2").call(
                "GetActiveSubscriptionsByPid", PersistentIdentifier="PX"
            ),
            "InvalidParameterValue",
        )
        params = ls.params("GetActiveSubscriptionsByPid", PersistentIdentifier="PX")
        del params["SignatureVersion"]
        error(ls.send(params), "MissingParameter")
        activate_hosted(ls, cloud)
        assert "already been used" in error(
            ls.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=cloud.devpay.product(WEB_CODE).token),
            "InvalidActivationKey",
        )
        cloud.faults.add("devpay", throttle=True, count=1)
        error(ls.call("GetActiveSubscriptionsByPid", PersistentIdentifier="PX"), "RequestThrottled", 503)
    with (
        pytest.raises(MockCloudError),
        mock_cloud(services=["devpay"], settings={"devpay": {"bad_signature_code": "Nope"}}) as cloud,
    ):
        _ = cloud.devpay


def test_plain_http_to_the_real_host_is_refused_in_process():
    with mock_devpay() as cloud:
        reply = LsClient("http://ls.amazonaws.com/", cloud.clock).call(
            "ActivateDesktopProduct", signed=False, ActivationKey=DESKTOP_KEY
        )
        assert "HTTPS" in error(reply, "InvalidHttpRequest")
    with mock_cloud(services=["devpay"], settings={"devpay": {"require_https": False}}) as cloud:
        reply = LsClient("http://ls.amazonaws.com/", cloud.clock).call(
            "ActivateDesktopProduct", signed=False, ActivationKey=DESKTOP_KEY
        )
        error(reply, "MissingProductToken")


def test_mock_devpay_shortcut_and_custom_fixtures(tmp_path):
    assert "mock_devpay" in mockcloud.__all__
    fixtures = tmp_path / "devpay.json"
    fixtures.write_text(
        '{"devpay": {"products": [{"code": "ABCDEF12", "kind": "web", "owner_access_key_id": "testing",'
        ' "token": "{ProductToken}AAEGQXBwVGtuZm9v"}],'
        ' "activation_keys": [{"key": "KEY1", "product_code": "ABCDEF12", "customer_id": "c1",'
        ' "status": "payment_pending"}]}}'
    )
    with mock_devpay(fixtures=str(fixtures)) as cloud:
        assert [p.code for p in cloud.devpay.products] == ["ABCDEF12"]
        ls = LsClient("https://ls.amazonaws.com/", cloud.clock)
        error(
            ls.call("ActivateHostedProduct", ActivationKey="KEY1", ProductToken="{ProductToken}AAEGQXBwVGtuZm9v"),
            "UserNotSubscribed",
        )
    bad = tmp_path / "bad.json"
    bad.write_text('{"devpay": {"products": [{"code": "short", "kind": "web", "token": "x"}]}}')
    with pytest.raises(MockCloudError), mock_devpay(fixtures=str(bad)) as cloud:
        _ = cloud.devpay


def test_racing_activations_share_one_persistent_identifier(backend, cloud):
    """Concurrent first activations of one customer must not mint two PIDs."""
    web = cloud.devpay.product(WEB_CODE)
    results: list = []
    barrier = threading.Barrier(4)

    def activate():
        client = backend.client()
        barrier.wait(timeout=10)
        results.append(client.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=web.token))

    threads = [threading.Thread(target=activate) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert [r.status for r in results] == [200] * 4
    assert len({r.text("PersistentIdentifier") for r in results}) == 1
    assert len({r.text("UserToken") for r in results}) == 4
