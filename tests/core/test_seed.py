"""Reproducible runs: with a seed, the same calls make the same identifiers, tokens, codes, keys and ids.

The fixed sequence runs in fresh processes and their outputs are compared
byte for byte; another seed, or none, gives other bytes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
import requests

from mockcloud import mock_cloud
from mockcloud.server import LiveServer
from tests.helpers import DEADLINE

SEQUENCE = textwrap.dedent(
    """
    import json, sys
    import boto3, requests
    from botocore.config import Config
    from alibabacloud_ecd20201002 import models
    from alibabacloud_ecd20201002.client import Client
    from alibabacloud_tea_openapi import utils_models
    from mockcloud import mock_cloud

    ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"
    seed = None if sys.argv[1] == "none" else int(sys.argv[1])
    out = {}
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"})
    with mock_cloud(seed=seed) as cloud:
        cloud.clock.freeze("2031-02-03T04:05:06Z")
        lm = boto3.client("license-manager", region_name="us-east-1", config=config)
        created = lm.create_token(LicenseArn=ARN, ClientToken="seeded")
        out["refresh"] = created["Token"]
        out["token_id"] = created["TokenId"]
        out["request_id"] = created["ResponseMetadata"]["RequestId"]
        out["access"] = lm.get_access_token(Token=created["Token"])["AccessToken"]
        out["jwks"] = cloud.licensemanager.jwks()
        sts = boto3.client("sts", region_name="us-east-1", config=config)
        out["role_credentials"] = sts.assume_role_with_web_identity(
            RoleArn="arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole", RoleSessionName="seed",
            WebIdentityToken=out["access"])["Credentials"]["AccessKeyId"]
        version = {"Version": "2.0"}
        pair = requests.post("https://userapi.example.com/User/Login", headers=version,
                             json={"username": "api_user", "password": "secure_password_123"}).json()
        out["userapi"] = pair
        out["figma_code"] = cloud.amplifyuibuilder.create_authorization_code()
        key = cloud.devpay.create_activation_key("774F4FF8")
        out["devpay"] = [str(key), key.customer_id]
        cloud.wuying.create_user("seeded", "Seeded-Passw0rd", mfa=True)
        ecd = Client(utils_models.Config(region_id="cn-hangzhou"))
        first = ecd.get_login_token(models.GetLoginTokenRequest(
            region_id="cn-hangzhou", client_id="c", end_user_id="seeded", password="Seeded-Passw0rd")).body
        bound = ecd.get_login_token(models.GetLoginTokenRequest(
            region_id="cn-hangzhou", client_id="c", current_stage="MFABind", session_id=first.session_id)).body
        out["wuying"] = [first.session_id, first.request_id, bound.secret]
    print(json.dumps(out, sort_keys=True, default=str))
    """
)


def run_sequences(*seeds: str) -> list[bytes]:
    """The sequence's output for each seed, each in a fresh process (all at once: they only wait on imports)."""
    processes = [
        subprocess.Popen([sys.executable, "-c", SEQUENCE, seed], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for seed in seeds
    ]
    outputs = []
    for process in processes:
        out, err = process.communicate(timeout=DEADLINE * 5)
        assert process.returncode == 0, err.decode()[-3000:]
        outputs.append(out)
    return outputs


def test_a_seed_repeats_every_identifier_token_code_and_key_byte_for_byte():
    first, second, other, unseeded, unseeded_again = run_sequences("42", "42", "43", "none", "none")
    assert first == second and len(first) > 2000
    assert other != first
    assert unseeded != unseeded_again


def test_reset_with_a_seed_starts_the_same_sequence_again():
    with mock_cloud(services=["amplifyuibuilder"], seed=5) as cloud:
        codes = [cloud.amplifyuibuilder.create_authorization_code() for _ in range(3)]
        cloud.reset(seed=5)
        assert [cloud.amplifyuibuilder.create_authorization_code() for _ in range(3)] == codes
        cloud.reset(seed=None)
        assert cloud.amplifyuibuilder.create_authorization_code() not in codes
        with pytest.raises(TypeError, match="whole number"):
            cloud.reset(seed="five")


def test_the_server_takes_a_seed_at_start_and_on_reset():
    codes = []
    for _ in range(2):
        with LiveServer(seed=9) as server:
            url = f"{server.url}/_mockcloud/services/amplifyuibuilder/create_authorization_code"
            codes.append(requests.post(url, json={}, timeout=10).json()["result"])
            reset = requests.post(f"{server.url}/_mockcloud/reset", json={"seed": 9}, timeout=10)
            assert reset.json() == {"reset": True, "seed": 9}
            assert requests.post(url, json={}, timeout=10).json()["result"] == codes[-1]
    assert codes[0] == codes[1]
