"""STS across servers that share one emulator through a store (as ``--workers`` on one Redis do), with boto3.

A role session issued through one server is evaluated through the other with its role's policies as they stand
now, not as a copy; sessions issued at once through both both succeed; of partners racing to trade one delegation
token through both, exactly one gets credentials. Expired sessions and their temporary keys are dropped on the
mock clock, in memory and in every store.
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import Iterator

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

from mockcloud import mock_cloud
from mockcloud.core.otp import totp
from mockcloud.server.app import create_app
from mockcloud.server.live import LiveServer
from mockcloud.state.store import MemoryStore, Store
from tests.helpers import DEFAULT_LICENSE_ARN, error_of
from tests.services.sts.support import Backend

ACCOUNT = "123456789012"
TRUST_ACCOUNT = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    ],
}
DENY_GET_LICENSE = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Deny", "Action": "license-manager:GetLicense", "Resource": "*"}],
}


def allow(*actions: str) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": "*"}]}


@contextlib.contextmanager
def sharing(store: Store, count: int = 2, services: tuple[str, ...] = ("sts", "licensemanager")) -> Iterator[list]:
    """``count`` live servers, each its own mock, on one store: a backend for each."""
    with contextlib.ExitStack() as stack:
        backends = []
        for _ in range(count):
            app = create_app(services=list(services), store=store)
            stack.callback(app.cloud.state.close)
            server = stack.enter_context(LiveServer(app=app))
            backends.append(Backend(app.cloud, server.url))
        yield backends


def keys_of(key) -> dict:
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def test_a_session_issued_through_one_server_is_judged_through_the_other_with_its_role_as_it_is_now():
    with sharing(MemoryStore()) as (first, second):
        name = f"Shared-{uuid.uuid4().hex[:6]}"
        role = first.cloud.sts.create_role(name, TRUST_ACCOUNT, policies={"lm": allow("license-manager:*")})
        issued = first.sts().assume_role(RoleArn=role.arn, RoleSessionName="s1")["Credentials"]
        identity = second.sts(issued).get_caller_identity()
        assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/s1"
        assert second.lm(issued).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]

        first.cloud.sts.put_role_policy(name, "no-get", DENY_GET_LICENSE)  # changed through the first server
        with pytest.raises(ClientError) as exc:
            second.lm(issued).get_license(LicenseArn=DEFAULT_LICENSE_ARN)
        assert error_of(exc)[0] == "AccessDeniedException"
        assert "explicit deny in an identity-based policy" in error_of(exc)[2]

        # the setting and the key that seals the messages are the emulator's, not one server's
        first.cloud.sts.encode_authorization_messages(True)
        with pytest.raises(ClientError) as exc:
            second.lm(issued).get_license(LicenseArn=DEFAULT_LICENSE_ARN)
        _, _, encoded = error_of(exc)[2].partition(". Encoded authorization failure message: ")
        decoded = json.loads(first.sts().decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
        assert decoded["explicitDeny"] is True
        assert decoded["context"]["principal"]["arn"] == identity["Arn"]

        first.cloud.sts.delete_role_policy(name, "no-get")
        assert second.lm(issued).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]


def test_sessions_of_different_roles_through_both_servers_at_once_both_succeed():
    with sharing(MemoryStore()) as backends:
        roles = [
            backends[0].cloud.sts.create_role(f"Racer-{i}-{uuid.uuid4().hex[:6]}", TRUST_ACCOUNT) for i in range(2)
        ]
        clients = [backend.sts() for backend in backends]
        barrier = threading.Barrier(2)
        issued: dict[int, dict] = {}

        def assume(i: int) -> None:
            barrier.wait(timeout=10)
            issued[i] = clients[i].assume_role(RoleArn=roles[i].arn, RoleSessionName=f"s{i}")["Credentials"]

        threads = [threading.Thread(target=assume, args=(i,)) for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(issued) == [0, 1]
        for i in range(2):  # each is known through the other server
            other = backends[1 - i]
            assert other.sts(issued[i]).get_caller_identity()["Arn"].endswith(f"/{roles[i].name}/s{i}")
        arns = {s.access_key_id: s.principal_arn for s in backends[1].cloud.sts.sessions}
        assert arns[issued[0]["AccessKeyId"]] == roles[0].arn and arns[issued[1]["AccessKeyId"]] == roles[1].arn


def test_of_partners_racing_to_trade_one_delegation_token_through_both_servers_exactly_one_wins():
    with sharing(MemoryStore()) as backends:
        sts = backends[0].cloud.sts
        partner = backends[0].cloud.credentials.new_account()
        request = sts.create_delegation_request(partner.account_id, allow("license-manager:GetLicense"))
        token = sts.approve_delegation_request(request.delegation_id)
        clients = [backends[i % 2].sts(keys_of(partner)) for i in range(8)]
        barrier = threading.Barrier(8)
        outcomes: list[str] = []

        def trade(i: int) -> None:
            barrier.wait(timeout=10)
            try:
                clients[i].get_delegated_access_token(TradeInToken=token)
                outcomes.append("credentials")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=trade, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["ExpiredTradeInTokenException"] * 7 + ["credentials"]
        assert [d.state for d in backends[1].cloud.sts.delegations] == ["REDEEMED"]
        assert len([s for s in backends[1].cloud.sts.sessions if s.kind == "delegated"]) == 1


def test_users_mfa_codes_regions_and_issuers_are_the_emulators_not_one_servers():
    with sharing(MemoryStore()) as (first, second):
        sts = first.cloud.sts
        name = f"user-{uuid.uuid4().hex[:6]}"
        sts.create_user(name, policies={"lm": allow("license-manager:GetLicense")})
        user = keys_of(sts.create_access_key(name))
        assert second.sts(user).get_caller_identity()["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/{name}"
        with pytest.raises(ClientError) as exc:  # the user's policies, through the other server
            second.lm(user).list_licenses()
        assert error_of(exc)[0] == "AccessDeniedException"

        device = sts.create_virtual_mfa_device(f"phone-{uuid.uuid4().hex[:6]}", user_name=name)
        code = totp(device.secret, first.cloud.clock.time())
        assert first.sts(user).get_session_token(SerialNumber=device.serial, TokenCode=code)["Credentials"]
        with pytest.raises(ClientError) as exc:  # a code works once, on any server
            second.sts(user).get_session_token(SerialNumber=device.serial, TokenCode=code)
        assert error_of(exc)[:2] == ("AccessDenied", 403)

        sts.disable_region("eu-west-3")
        with pytest.raises(ClientError) as exc:
            second.sts(user, region="eu-west-3").get_session_token()
        assert error_of(exc)[0] == "RegionDisabledException"

        token = first.sts().get_web_identity_token(Audience=["https://api.example.com"], SigningAlgorithm="ES384")
        issuer = second.cloud.sts.outbound_issuer(ACCOUNT)  # the account's one issuer, made through the first
        host = issuer.removeprefix("https://")
        keys = requests.get(f"{second.url}/.well-known/jwks.json", headers={"Host": host}, timeout=10).json()
        key = jwt.PyJWK(keys["keys"][0]).key
        claims = jwt.decode(token["WebIdentityToken"], key, algorithms=["ES384"], audience="https://api.example.com")
        assert claims["iss"] == issuer


# ---- pruning ---------------------------------------------------------------------------------------------------
def held(store: Store, prefix: str) -> int:
    dumped = store.dump()
    assert dumped is not None
    return sum(1 for entity, _ in dumped[1] if entity.startswith(prefix))


def test_every_store_drops_expired_sessions_and_their_temporary_keys_on_the_shared_clock(store):
    with sharing(store, count=1, services=("sts",)) as (backend,):
        old = [backend.sts().get_session_token(DurationSeconds=900)["Credentials"] for _ in range(20)]
        assert held(store, "sts/session/") == 20 and held(store, "credentials/aws_key/ASIA") == 20
        cloud = backend.cloud
        cloud.state.transaction(lambda: cloud.clock.advance(seconds=901))  # expired, still known: it says so
        with pytest.raises(ClientError) as exc:
            backend.sts(old[0]).get_caller_identity()
        assert error_of(exc)[0] == "ExpiredToken"
        cloud.state.transaction(lambda: cloud.clock.advance(days=400))  # past every use
        for _ in range(20):  # each commit drops a few
            backend.sts().get_session_token(DurationSeconds=900)
        assert held(store, "sts/session/") == 20 and held(store, "credentials/aws_key/ASIA") == 20
        olds = {c["AccessKeyId"] for c in old}
        assert not olds & {s.access_key_id for s in cloud.sts.sessions}
        with pytest.raises(ClientError) as exc:
            backend.sts(old[1]).get_caller_identity()
        assert error_of(exc)[0] == "InvalidClientTokenId"


def test_in_memory_expired_sessions_and_their_keys_go_and_a_snapshot_holds_none_of_them():
    with mock_cloud(services=["sts"]) as cloud:
        backend = Backend(cloud, None)
        old = [backend.sts().get_session_token(DurationSeconds=900)["Credentials"] for _ in range(40)]
        model = cloud.protocol("sts").model
        assert len(model.sessions) == 40
        cloud.clock.advance(days=400)
        for _ in range(40):
            backend.sts().get_session_token(DurationSeconds=900)
        assert len(model.sessions) < 80  # the old go as the new come
        document = cloud.snapshot()
        assert len(document["sts"]["sessions"]) == 40
        kept = {k["access_key_id"] for k in document["credentials"]["aws"]}
        assert not kept & {c["AccessKeyId"] for c in old} and "testing" in kept
