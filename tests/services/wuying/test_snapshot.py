"""WUYING state through a snapshot: logons go on from the stage they were at, tokens keep their rules.

Tests that take ``backend`` run in-process (the snapshot restored into a new
``mock_cloud()``) and against a live server of WUYING alone (``GET``/``PUT
/_mockcloud/state``, the server reset in between); the client is the tea
SDK ``alibabacloud_ecd20201002``.
"""

from __future__ import annotations

import copy
import json

import pytest

from mockcloud import mock_cloud
from mockcloud.core.errors import MockCloudError
from tests.services.wuying.support import Backend
from tests.services.wuying.test_wuying import ALICE, ALICE_PASSWORD, _no_proxies, logon, refresh, refused, stage  # noqa: F401
from tests.snapshot_helpers import assert_valid, restored_backend, saved

BOUND_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PASSWORDS = {
    "dave": "Dave-Passw0rd",
    "erin": "Erin-Passw0rd",
    "gus": "Gus-Passw0rd",
    "ivy": "Ivy-Passw0rd",
    "fay": "Fay-Passw0rd",
    "hal": "Hal-Passw0rd",
}


def rich_state(backend) -> dict:
    """Tokens live, expired and replaced, a KeepAliveToken, and logons waiting at every stage; counts and locks."""
    cloud, ecd = backend.cloud, backend.client()
    cloud.clock.freeze(int(cloud.clock.time()))
    wuying = cloud.wuying
    state = {"expired": logon(ecd).login_token}
    cloud.clock.advance(seconds=901)
    first = logon(ecd)
    state["replaced"] = first.login_token
    state["live"] = refresh(ecd, first.login_token).login_token
    state["keep_alive"] = logon(ecd, client_id="client-ka", keep_alive=True).keep_alive_token
    # dave: MFABind done, MFAVerify to come (the device is being bound)
    wuying.create_user("dave", PASSWORDS["dave"], mfa=True)
    state["dave"] = logon(ecd, "dave", PASSWORDS["dave"]).session_id
    stage(ecd, "MFABind", state["dave"])
    # erin: a bound device whose current code was accepted once; a second logon waits at MFAVerify
    wuying.create_user("erin", PASSWORDS["erin"], mfa=True, mfa_secret=BOUND_SECRET)
    state["erin_code"] = wuying.totp_code("erin")
    stage(ecd, "MFAVerify", logon(ecd, "erin", PASSWORDS["erin"]).session_id, authentication_code=state["erin_code"])
    state["erin"] = logon(ecd, "erin", PASSWORDS["erin"]).session_id
    # gus: an e-mailed code to verify, at an office site that asks for one
    wuying.create_office_site("cn-hangzhou+dir-secure", name="Secure office", secondary_auth=True)
    wuying.create_user("gus", PASSWORDS["gus"], "cn-hangzhou+dir-secure", email="gus@example.com", phone="13912345678")
    state["gus"] = logon(ecd, "gus", PASSWORDS["gus"]).session_id
    # ivy: a new password to choose
    wuying.create_user("ivy", PASSWORDS["ivy"], must_change_password=True, label="new hire")
    state["ivy"] = logon(ecd, "ivy", PASSWORDS["ivy"]).session_id
    # fay: three wrong passwords (two more lock her); hal: locked
    wuying.create_user("fay", PASSWORDS["fay"])
    wuying.create_user("hal", PASSWORDS["hal"])
    for user, times in (("fay", 3), ("hal", 5)):
        for _ in range(times):
            refused(logon, ecd, user, "wrong")
    return state


def test_the_round_trip_is_exact_and_logons_go_on_where_they_stood(backend):
    state = rich_state(backend)
    document = backend.cloud.snapshot()
    assert_valid(document, "wuying")
    text = json.dumps(document)
    for password in [ALICE_PASSWORD, *PASSWORDS.values()]:
        assert password not in text  # users keep their salted hashes only

    with restored_backend(backend, document) as again:
        cloud, ecd = again.cloud, again.client()
        assert cloud.snapshot() == document
        # LoginTokens: the live one refreshes once; replaced and expired stay refused
        assert refused(refresh, ecd, state["expired"]).code == "InvalidLoginToken.Expired"
        assert refused(refresh, ecd, state["replaced"]).code == "InvalidLoginToken.Replaced"
        newer = refresh(ecd, state["live"]).login_token
        assert refused(refresh, ecd, state["live"]).code == "InvalidLoginToken.Replaced"
        assert refresh(ecd, newer).login_token
        # the KeepAliveToken still buys LoginTokens, for its own client only
        kept = stage(ecd, "KeepAliveVerify", None, client_id="client-ka", keep_alive_token=state["keep_alive"])
        assert kept.login_token and kept.keep_alive_token == state["keep_alive"]
        assert (
            refused(stage, ecd, "KeepAliveVerify", None, keep_alive_token=state["keep_alive"]).code
            == "InvalidKeepAliveToken.Mismatch"
        )
        # dave's logon was after MFABind: the device being bound gives the code that finishes it
        assert refused(stage, ecd, "MFABind", state["dave"]).code == "InvalidCurrentStage"
        done = stage(ecd, "MFAVerify", state["dave"], authentication_code=cloud.wuying.totp_code("dave"))
        assert done.login_token and cloud.wuying.user("dave").mfa_secret
        # gus's e-mailed code is still the one that verifies, and still masked in the answer
        assert stage(ecd, "TokenVerify", state["gus"], token_code=cloud.wuying.email_code("gus")).login_token
        # ivy changes her password; the old one is refused afterwards
        changed = stage(
            ecd, "ChangePassword", state["ivy"], old_password=PASSWORDS["ivy"], new_password="Ivy-N3w-Passw0rd"
        )
        assert changed.login_token and changed.label == "new hire"
        assert refused(logon, ecd, "ivy", PASSWORDS["ivy"]).code == "InvalidUsernameOrPassword"
        # fay's three failures still count: the fifth locks; hal is still locked until his lock ends
        assert refused(logon, ecd, "fay", "wrong").code == "InvalidUsernameOrPassword"
        assert refused(logon, ecd, "fay", "wrong").code == "UserLocked"
        assert refused(logon, ecd, "hal", PASSWORDS["hal"]).code == "UserLocked"
        # erin's code was used before the snapshot: used it stays, and the next step's code passes
        assert (
            refused(stage, ecd, "MFAVerify", state["erin"], authentication_code=state["erin_code"]).code
            == "InvalidAuthenticationCode"
        )
        cloud.clock.advance(seconds=30)
        assert stage(ecd, "MFAVerify", state["erin"], authentication_code=cloud.wuying.totp_code("erin")).login_token
        cloud.clock.advance(seconds=1800)
        assert logon(ecd, "hal", PASSWORDS["hal"]).login_token
        assert logon(ecd).login_token  # alice's password from its hash


def test_a_restored_seeded_mock_goes_on_as_the_original_would():
    """Restoring draws nothing from the seeded sequence: the next sessions, tokens, codes and salts repeat."""

    def next_steps(cloud, state: dict) -> list:
        ecd = Backend(cloud).client()
        bound = stage(ecd, "MFAVerify", state["dave"], authentication_code=cloud.wuying.totp_code("dave"))
        again = logon(ecd, "gus", PASSWORDS["gus"])
        created = cloud.wuying.create_user("zed", "Zed-Passw0rd")
        return [
            bound.login_token,
            refresh(ecd, state["live"]).login_token,
            again.session_id,
            cloud.wuying.email_code("gus"),
            created.salt,
        ]

    with mock_cloud(services=["wuying"], seed=5) as original:
        state = rich_state(Backend(original))
        document = original.snapshot()
        expected = next_steps(original, state)
    with mock_cloud(services=["wuying"]) as fresh:
        fresh.restore(document)
        assert next_steps(fresh, state) == expected


def test_a_saved_snapshot_serves_as_fixtures_with_its_settings(tmp_path):
    with mock_cloud(services=["wuying"], settings={"wuying": {"login_token_seconds": 60}}) as cloud:
        state = rich_state(Backend(cloud))
        document = cloud.snapshot()
    assert document["wuying"]["settings"]["login_token_seconds"] == 60
    with mock_cloud(services=["wuying"], fixtures=saved(document, tmp_path)) as cloud:
        cloud.clock.freeze(document["clock"]["now"])
        assert cloud.snapshot()["wuying"] == document["wuying"]
        ecd = Backend(cloud).client()
        newer = refresh(ecd, state["live"]).login_token
        assert refused(refresh, ecd, state["live"]).code == "InvalidLoginToken.Replaced"
        assert stage(ecd, "TokenVerify", state["gus"], token_code=cloud.wuying.email_code("gus")).login_token
        cloud.clock.advance(seconds=60)  # the snapshot's settings hold: LoginTokens live 60 seconds
        assert refused(refresh, ecd, newer).code == "InvalidLoginToken.Expired"


def _corruptions(section: dict) -> list:
    """Sections the schema accepts but that cannot be state, and some it refuses."""
    stray = copy.deepcopy(section)
    stray["sessions"][0]["end_user_id"] = "nobody"
    orphan = copy.deepcopy(section)
    orphan["login_tokens"][0]["session_id"] = "no-such-session"
    twice = copy.deepcopy(section)
    twice["login_tokens"].append(twice["login_tokens"][0])
    bad_salt = copy.deepcopy(section)
    bad_salt["users"][0]["salt"] = "not base64!"
    both = copy.deepcopy(section)
    both["users"][0]["password"] = ALICE_PASSWORD
    neither = copy.deepcopy(section)
    del neither["users"][0]["salt"]
    bad_stage = copy.deepcopy(section)
    bad_stage["sessions"][-1]["pending"] = ["Done"]
    return [stray, orphan, twice, bad_salt, both, neither, bad_stage]


def test_a_corrupted_section_is_refused_and_changes_nothing(backend):
    state = rich_state(backend)
    document = backend.cloud.snapshot()
    for section in _corruptions(document["wuying"]):
        with pytest.raises(MockCloudError):
            backend.cloud.restore({**document, "wuying": section})
        assert backend.cloud.snapshot() == document
    ecd = backend.client()
    assert stage(ecd, "TokenVerify", state["gus"], token_code=backend.cloud.wuying.email_code("gus")).login_token
    assert refresh(ecd, state["live"]).login_token
