"""``mock_cloud()`` leaves a web-identity environment alone, so botocore's own AssumeRoleWithWebIdentityProvider runs
end to end against the mock, as in production: token file, credentials, calls, and its automatic refresh when the
mock clock passes the credentials' expiry."""

from __future__ import annotations

import os
import uuid

import boto3
import pytest

from mockcloud import mock_cloud
from mockcloud.environment import web_identity_configured
from tests.helpers import DEFAULT_LICENSE_ARN, lm_client

ROLE = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"


@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    """No keys, no profile, no config files of the developer's: only what the test sets."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    return tmp_path


def access_token() -> str:
    """A License Manager access token (a web-identity token for the consumption role), made with the test keys."""
    lm = lm_client()
    refresh = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, RoleArns=[ROLE], ClientToken=uuid.uuid4().hex)["Token"]
    return lm.get_access_token(Token=refresh)["AccessToken"]


def checkout(lm):
    return lm.checkout_license(
        ProductSKU="EXAMPLE-PRO-SKU",
        CheckoutType="PROVISIONAL",
        KeyFingerprint="aws:123456789012:mockcloud:issuer-fingerprint",
        Beneficiary="node@example.com",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        ClientToken=uuid.uuid4().hex,
    )


def test_botocores_web_identity_provider_runs_and_refreshes_on_the_mock_clock(clean_environment, monkeypatch):
    token_file = clean_environment / "token"
    monkeypatch.setenv("AWS_ROLE_ARN", ROLE)
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "node-1")
    with mock_cloud() as cloud:
        assert "AWS_ACCESS_KEY_ID" not in os.environ  # no fake keys in front of the web-identity path
        token_file.write_text(access_token())
        session = boto3.Session()
        credentials = session.get_credentials()
        assert credentials.method == "assume-role-with-web-identity"
        lm = session.client("license-manager")
        assert checkout(lm)["LicenseConsumptionToken"]  # the role's consumption policy allows it
        first = credentials.get_frozen_credentials().access_key
        assert first.startswith("ASIA")
        sts = session.client("sts")
        assert sts.get_caller_identity()["Arn"] == (
            "arn:aws:sts::123456789012:assumed-role/AWSLicenseManagerConsumptionRole/node-1"
        )
        # the platform rotates the token file; the mock clock passes into botocore's refresh window
        cloud.clock.advance(3600 - 120)
        token_file.write_text(access_token())
        assert checkout(lm)["LicenseConsumptionToken"]  # refreshed by botocore itself, no error on the way
        second = credentials.get_frozen_credentials().access_key
        assert second != first and second.startswith("ASIA")
        assert [r.operation for r in cloud.requests.filter(service="sts")].count("AssumeRoleWithWebIdentity") == 2
        cloud.clock.advance(200)  # the first credentials have expired; the refreshed ones go on
        assert sts.get_caller_identity()["Account"] == "123456789012"
    assert "AWS_ACCESS_KEY_ID" not in os.environ


def test_a_profile_with_a_web_identity_token_file_is_left_alone_too(clean_environment, monkeypatch):
    config = clean_environment / "config"
    config.write_text(f"[profile app]\nrole_arn = {ROLE}\nweb_identity_token_file = {clean_environment / 'token'}\n")
    monkeypatch.setenv("AWS_PROFILE", "app")
    assert web_identity_configured()
    with mock_cloud():
        assert "AWS_ACCESS_KEY_ID" not in os.environ
    monkeypatch.setenv("AWS_PROFILE", "other")
    assert not web_identity_configured()
    with mock_cloud():  # anything else gets the fake keys as before
        assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_ACCESS_KEY_ID" not in os.environ
