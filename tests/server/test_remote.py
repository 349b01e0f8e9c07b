"""Server mode on a par with in-process: every helper over HTTP, and ``mockcloud.connect(url)``.

Each service's whole token flow is driven here with nothing but HTTP: the
admin API (plain ``requests``) for what a test needs from the emulator, and
the service's real client for the rest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

import pytest
import requests
from alibabacloud_ecd20201002 import models as ecd_models
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models

import mockcloud
from mockcloud.core import jsonform
from mockcloud.remote import RemoteError
from tests.helpers import DEFAULT_LICENSE_ARN, aws_client, lm_client
from tests.services.devpay.support import LsClient

TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long
JSON = {"Content-Type": "application/json"}


def helper(server, service: str, name: str, method: str = "POST", **arguments) -> requests.Response:
    url = f"{server.url}/_mockcloud/services/{service}/{name}"
    if method == "GET":
        return requests.get(url, params=arguments, timeout=TIMEOUT)
    return requests.post(url, json=arguments, headers=JSON, timeout=TIMEOUT)


# ---- the helpers over HTTP -------------------------------------------------------------------


def test_every_helper_is_listed_with_its_parameters_and_first_doc_line(mockcloud_server):
    listing = requests.get(f"{mockcloud_server.url}/_mockcloud/services/amplifyuibuilder", timeout=TIMEOUT).json()
    by_name = {h["name"]: h for h in listing["helpers"]}
    code = by_name["create_authorization_code"]
    assert code["kind"] == "method" and code["doc"].startswith("The code Figma would append")
    assert [p["name"] for p in code["parameters"]] == ["client_id", "redirect_uri", "user_id"]
    assert code["parameters"][2] == {
        "name": "user_id",
        "kind": "keyword_only",
        "default": None,
        "annotation": "str | None",
    }
    everything = requests.get(f"{mockcloud_server.url}/_mockcloud/services", timeout=TIMEOUT).json()["services"]
    assert set(everything) == set(mockcloud_server.cloud.service_names)
    assert {"public_key", "create_token", "jwks"} <= {h["name"] for h in everything["licensemanager"]}


def test_helper_errors_are_json_404_400_and_405(mockcloud_server):
    base = f"{mockcloud_server.url}/_mockcloud/services"
    assert requests.get(f"{base}/nosuch", timeout=TIMEOUT).status_code == 404
    missing = helper(mockcloud_server, "licensemanager", "no_such_helper")
    assert missing.status_code == 404 and "no helper 'no_such_helper'" in missing.json()["message"]
    wrong = helper(mockcloud_server, "amplifyuibuilder", "create_authorization_code", nonsense=1)
    assert (
        wrong.status_code == 400
        and wrong.json()["error"] == "BadAdminRequest"
        and "nonsense" in wrong.json()["message"]
    )
    refused = helper(mockcloud_server, "devpay", "create_product", kind="mobile")
    assert refused.status_code == 400
    reader = helper(mockcloud_server, "devpay", "product", method="GET", code="774F4FF8")
    assert reader.status_code == 200 and reader.json()["result"]["$type"] == "Product"
    assert helper(mockcloud_server, "licensemanager", "jwks", method="GET").json()["result"]["keys"]
    not_a_reader = helper(mockcloud_server, "amplifyuibuilder", "create_authorization_code", method="GET")
    assert not_a_reader.status_code == 405 and not_a_reader.headers["Allow"] == "POST"
    assert requests.post(f"{base}/licensemanager/tokens", data="[]", headers=JSON, timeout=TIMEOUT).status_code == 400


def test_values_json_has_no_type_for_come_in_documented_forms(mockcloud_server):
    key = helper(mockcloud_server, "licensemanager", "public_key", method="GET").json()["result"]
    assert list(key) == ["$public_key"] and key["$public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    created = helper(mockcloud_server, "devpay", "create_activation_key", product_code="774F4FF8").json()["result"]
    assert (
        created["$type"] == "ActivationKey"
        and len(created["$value"]) == 28
        and created["customer_id"].startswith("customer-")
    )
    loaded = jsonform.load(created)
    assert loaded == created["$value"] and loaded.customer_id == created["customer_id"]
    assert jsonform.load(jsonform.dump(b"\x00\xff")) == b"\x00\xff"
    when = datetime(2031, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert jsonform.load(jsonform.dump({"at": when, "items": (1, 2)})) == {"at": when, "items": [1, 2]}


# ---- the remote handle ---------------------------------------------------------------------------


def test_connect_has_the_in_process_surface(mockcloud_server):
    remote = mockcloud.connect(mockcloud_server.url)
    lm = lm_client(mockcloud_server.url)
    token = lm.create_token(LicenseArn=DEFAULT_LICENSE_ARN, ClientToken="remote")
    assert [t.token_id for t in remote.licensemanager.tokens] == [token["TokenId"]]
    assert remote.requests[-1].operation == "CreateToken" and len(remote.requests.filter(service="licensemanager")) == 1
    frozen = remote.clock.freeze("2030-01-01T00:00:00Z")
    assert frozen == datetime(2030, 1, 1, tzinfo=timezone.utc) and remote.clock.frozen
    assert remote.clock.advance(hours=1) == datetime(2030, 1, 1, 1, tzinfo=timezone.utc)
    remote.clock.unfreeze()
    remote.faults.add("licensemanager", "ListTokens", throttle=True, count=1)
    assert remote.faults.rules[0]["throttle"] is True
    remote.credentials.add_aws("AKIDREMOTE", "remote-secret")
    remote.reset()
    assert remote.licensemanager.tokens == [] and remote.faults.rules == []
    with pytest.raises(AttributeError, match="no helper"):
        _ = remote.licensemanager.mint_money
    with pytest.raises(AttributeError, match="emulates"):
        _ = remote.nosuchservice


def test_connect_fails_clearly_when_nothing_answers():
    with pytest.raises(RemoteError, match=r"no mockcloud server answers at http://127\.0\.0\.1:9"):
        mockcloud.connect("http://127.0.0.1:9")
    with pytest.raises(mockcloud.MockCloudError, match="http://host:port"):
        mockcloud.connect("ftp://127.0.0.1:9")


# ---- each service's whole token flow, with nothing but HTTP and the real client -----------------


def test_amplify_code_exchange_and_refresh_over_http(mockcloud_server):
    code = helper(mockcloud_server, "amplifyuibuilder", "create_authorization_code").json()["result"]
    ui = aws_client("amplifyuibuilder", mockcloud_server.url)
    redirect = "https://mockcloud.example/figma/callback"
    grant = ui.exchange_code_for_token(provider="figma", request={"code": code, "redirectUri": redirect})
    me = requests.get(
        f"{mockcloud_server.url}/v1/me", headers={"Authorization": f"Bearer {grant['accessToken']}"}, timeout=TIMEOUT
    )
    assert me.status_code == 200 and me.json()["handle"]
    refreshed = ui.refresh_token(provider="figma", refreshTokenBody={"token": grant["refreshToken"]})
    assert refreshed["accessToken"] != grant["accessToken"]


def test_wuying_logon_with_mfa_over_http(mockcloud_server):
    created = helper(
        mockcloud_server, "wuying", "create_user", end_user_id="remote-user", password="Remote-Passw0rd", mfa=True
    )
    assert created.status_code == 200, created.text
    ecd = EcdClient(
        utils_models.Config(region_id="cn-hangzhou", endpoint=mockcloud_server.url.split("//")[1], protocol="http")
    )

    def stage(current: str, session: str | None, **extra):
        request = ecd_models.GetLoginTokenRequest(
            region_id="cn-hangzhou", client_id="remote-client", current_stage=current, session_id=session, **extra
        )
        return ecd.get_login_token(request).body

    first = stage("ADPassword", None, end_user_id="remote-user", password="Remote-Passw0rd")
    assert first.next_stage == "MFABind"
    stage("MFABind", first.session_id)
    totp = helper(mockcloud_server, "wuying", "totp_code", end_user_id="remote-user").json()["result"]
    done = stage("MFAVerify", first.session_id, authentication_code=totp)
    assert done.login_token


def test_devpay_hosted_activation_over_http(mockcloud_server):
    """A web product's sign-up: the activation key from the admin API, the activation with requests (signed v1)."""
    key = helper(mockcloud_server, "devpay", "create_activation_key", product_code="774F4FF8").json()["result"]
    remote = mockcloud.connect(mockcloud_server.url)
    product = remote.devpay.product("774F4FF8")
    assert product.kind == "web" and product.token.startswith("{ProductToken}")
    client = LsClient(mockcloud_server.url + "/", remote.clock)
    activated = client.call("ActivateHostedProduct", ActivationKey=key["$value"], ProductToken=product.token)
    assert activated.status == 200, activated.body
    assert activated.text("UserToken").startswith("{UserToken}")
    assert remote.devpay.subscription("774F4FF8", key["customer_id"]).status == "active"


def test_userapi_login_and_rotation_over_http(mockcloud_server):
    created = helper(mockcloud_server, "userapi", "create_user", username="remote", password="remote-password-1")
    assert created.status_code == 200, created.text
    base, version = f"{mockcloud_server.url}/userapi.example.com", {"Version": "2.0"}
    pair = requests.post(
        f"{base}/User/Login",
        json={"username": "remote", "password": "remote-password-1"},
        headers=version,
        timeout=TIMEOUT,
    ).json()
    rotated = requests.post(
        f"{base}/User/RefreshToken",
        json={"refreshToken": pair["refreshToken"]},
        headers={**version, "Authorization": f"Bearer {pair['accessToken']}"},
        timeout=TIMEOUT,
    )
    assert rotated.status_code == 200 and rotated.json()["refreshToken"] != pair["refreshToken"]


# ---- the admin API from the shell ---------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mockcloud", *args], check=False, capture_output=True, text=True, timeout=60
    )


def test_the_cli_moves_the_clock_and_calls_helpers(mockcloud_server):
    url = ["--url", mockcloud_server.url]
    frozen = run_cli("clock", "freeze", "2031-01-01T00:00:00+00:00", *url)
    assert frozen.returncode == 0 and frozen.stdout.strip() == "2031-01-01T00:00:00+00:00"
    advanced = run_cli("clock", "advance", "3600", *url)
    assert advanced.stdout.strip() == "2031-01-01T01:00:00+00:00"
    created = run_cli("call", "wuying", "create_user", "end_user_id=shell", "password=Shell-Passw0rd", "mfa=true", *url)
    assert created.returncode == 0, created.stderr
    user = json.loads(created.stdout)
    assert (
        user["end_user_id"] == "shell" and user["mfa"] is True and "password_hash" not in user
    )  # repr=False: kept back
    assert mockcloud.connect(mockcloud_server.url).wuying.user("shell").end_user_id == "shell"
    bad = run_cli("call", "wuying", "create_user", "nonsense", *url)
    assert bad.returncode == 2 and "key=value" in bad.stderr


def test_the_cli_says_when_no_server_answers():
    result = run_cli("clock", "now", "--url", "http://127.0.0.1:9")
    assert result.returncode == 2 and result.stderr.startswith(
        "mockcloud: no mockcloud server answers at http://127.0.0.1:9"
    )
