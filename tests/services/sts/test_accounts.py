"""Keys for other accounts, in-process (``cloud.credentials.new_account``) and over HTTP (``mockcloud.connect``):
the account is the caller's, from its keys; STS's GetCallerIdentity and GetAccessKeyInfo answer for them."""

from __future__ import annotations

import uuid

import pytest

from mockcloud import MockCloudError, mock_cloud
from mockcloud.remote import RemoteError

ACCOUNT = "123456789012"


def keys_of(key) -> dict:
    return {"AccessKeyId": key.access_key_id, "SecretAccessKey": key.secret_access_key}


def test_keys_of_other_accounts_and_their_users(backend):
    cloud = backend.cloud  # in-process: the mock; against the server: mockcloud.connect's remote handle
    chosen = cloud.credentials.new_account("210987654321")
    fresh = cloud.credentials.new_account()
    assert chosen.account_id == "210987654321" and len(fresh.account_id) == 12 and fresh.account_id != ACCOUNT
    for key in (chosen, fresh):
        who = backend.sts(keys_of(key)).get_caller_identity()
        assert (who["Account"], who["Arn"], who["UserId"]) == (
            key.account_id,
            f"arn:aws:iam::{key.account_id}:root",
            key.account_id,
        )
        assert backend.sts().get_access_key_info(AccessKeyId=key.access_key_id)["Account"] == key.account_id
    # an IAM user of the other account, with keys of its own
    name = f"buyer-{uuid.uuid4().hex[:6]}"
    user = cloud.sts.create_user(
        name,
        account_id="210987654321",
        policies={"all": {"Statement": [{"Effect": "Allow", "Action": "license-manager:*", "Resource": "*"}]}},
    )
    assert user.arn == f"arn:aws:iam::210987654321:user/{name}"
    key = cloud.sts.create_access_key(name, account_id="210987654321")
    who = backend.sts(keys_of(key)).get_caller_identity()
    assert (who["Account"], who["Arn"], who["UserId"]) == ("210987654321", user.arn, user.user_id)
    # the account is the caller's: License Manager answers each account with its own licenses
    assert backend.lm().list_licenses()["Licenses"]
    assert backend.lm(keys_of(key)).list_licenses()["Licenses"] == []


def test_account_ids_are_twelve_digits():
    with mock_cloud(services=["sts"]) as cloud, pytest.raises(MockCloudError, match="12 digits"):
        cloud.credentials.new_account("12345")


def test_over_http_a_bad_account_id_is_the_callers_error(mockcloud_server):
    with pytest.raises(RemoteError) as exc:
        mockcloud_server.cloud.credentials.new_account("not-an-account")
    assert exc.value.status == 400 and "12 digits" in str(exc.value)
