"""AWS Amplify UI Builder's Figma tokens, driven by the real boto3 client, and Figma's /v1/me by requests.

Every test runs twice: in-process under the mock, and against a live server
over loopback. Tests that move the clock move the server's clock (frozen, so
this process's time travel leaves it alone) and let boto3 sign at the same
moment, as the licence tests do.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta, timezone

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

import mockcloud
from mockcloud import MockCloudError, mock_amplifyuibuilder, mock_cloud
from tests.helpers import error_of
from tests.services.amplifyuibuilder.support import AWS_HOST, HTTP_TIMEOUT, REGION, ui_client

CLIENT_ID = "mockcloud-amplify-figma-client"  # the embedded default app
REDIRECT_URI = "https://mockcloud.example/figma/callback"
PROFILE = {
    "id": "1234567890123456789",
    "email": "designer@example.com",
    "handle": "Mock Designer",
    "img_url": "https://s3-alpha.figma.com/profile/mock-designer",
}
NINETY_DAYS = 90 * 86400
INVALID_TOKEN = {"status": 403, "err": "Invalid token"}


def exchange(ui, code: str, redirect_uri: str = REDIRECT_URI, **extra) -> dict:
    return ui.exchange_code_for_token(provider="figma", request={"code": code, "redirectUri": redirect_uri, **extra})


def refresh(ui, token: str, **extra) -> dict:
    return ui.refresh_token(provider="figma", refreshTokenBody={"token": token, **extra})


def assert_invalid(excinfo, fragment: str = "") -> None:
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidParameterException", 400), (code, status, message)
    assert fragment in message
    assert excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"] == "InvalidParameterException"


def signed(backend, method: str, path: str, body: bytes) -> requests.Response:
    """A request signed by botocore's own SigV4 signer, sent by requests (for bodies boto3 cannot send)."""
    url = f"{backend.aws_url}{path}"
    request = AWSRequest(method, url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("testing", "testing"), "amplifyuibuilder", REGION).add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=HTTP_TIMEOUT)


# ---- the path a UI Builder user takes ----------------------------------------------


def test_exchange_returns_figma_tokens_that_figma_honours(backend, ui):
    code = backend.model.create_authorization_code()
    out = exchange(ui, code)
    assert out["expiresIn"] == NINETY_DAYS
    assert out["accessToken"] != out["refreshToken"]
    assert out["accessToken"].startswith("figu_")
    assert out["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    me = backend.figma(token=out["accessToken"])
    assert me.status_code == 200
    assert me.json() == PROFILE
    # Figma's own header works too
    assert backend.figma(token=out["accessToken"], header="x-figma-token").json() == PROFILE


def test_whole_path_exchange_call_figma_expire_refresh_call_again(backend, ui):
    """The issue's path: exchange, call Figma, let the token expire on the mock clock, refresh, call again."""
    tokens = exchange(ui, backend.model.create_authorization_code())
    assert backend.figma(token=tokens["accessToken"]).json() == PROFILE

    backend.advance(NINETY_DAYS - 1)
    assert backend.figma(token=tokens["accessToken"]).status_code == 200  # one second left
    backend.advance(1)
    expired = backend.figma(token=tokens["accessToken"])
    assert expired.status_code == 403
    assert expired.json() == INVALID_TOKEN

    with backend.signing_time():
        renewed = refresh(ui, tokens["refreshToken"])
    assert renewed["expiresIn"] == NINETY_DAYS and "refreshToken" not in renewed
    assert renewed["accessToken"] != tokens["accessToken"]
    assert backend.figma(token=renewed["accessToken"]).json() == PROFILE
    assert backend.figma(token=tokens["accessToken"]).status_code == 403  # the old one stays expired

    # the refresh token stays valid: it renews again later
    backend.advance(NINETY_DAYS * 3)
    with backend.signing_time():
        again = refresh(ui, tokens["refreshToken"])
    assert backend.figma(token=again["accessToken"]).json() == PROFILE
    assert backend.figma(token=renewed["accessToken"]).status_code == 403


def test_refresh_leaves_earlier_access_tokens_valid_until_they_expire(backend, ui):
    tokens = exchange(ui, backend.model.create_authorization_code())
    renewed = refresh(ui, tokens["refreshToken"], clientId=CLIENT_ID)
    assert backend.figma(token=tokens["accessToken"]).status_code == 200
    assert backend.figma(token=renewed["accessToken"]).status_code == 200


# ---- ExchangeCodeForToken refusals -----------------------------------------------------


def test_code_is_single_use(backend, ui):
    code = backend.model.create_authorization_code()
    exchange(ui, code)
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, code)
    assert_invalid(excinfo, "already been used")


def test_code_expires_on_the_mock_clock(backend, ui):
    code = backend.model.create_authorization_code()
    backend.advance(601)
    with backend.signing_time(), pytest.raises(ClientError) as excinfo:
        exchange(ui, code)
    assert_invalid(excinfo, "expired")


def test_unknown_code(ui):
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, "not-a-code-figma-issued")
    assert_invalid(excinfo, "not valid")


def test_redirect_uri_must_match_and_a_refused_attempt_does_not_spend_the_code(backend, ui):
    code = backend.model.create_authorization_code()
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, code, redirect_uri="https://evil.example/callback")
    assert_invalid(excinfo, "redirectUri")
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, code, clientId="someone-else")
    assert_invalid(excinfo, "clientId")
    assert exchange(ui, code)["accessToken"]  # still unused


def test_client_id_binds_codes_and_refresh_tokens(backend, ui):
    """A code for another app needs that clientId; without one the request is for the default app."""
    model = backend.model
    code = model.create_authorization_code(client_id="my-figma-app", redirect_uri="http://localhost:3000/cb")
    assert model.apps["my-figma-app"].redirect_uris == ["http://localhost:3000/cb"]  # registered on the way
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, code, redirect_uri="http://localhost:3000/cb")
    assert_invalid(excinfo, "clientId")
    tokens = exchange(ui, code, redirect_uri="http://localhost:3000/cb", clientId="my-figma-app")
    assert backend.figma(token=tokens["accessToken"]).json() == PROFILE

    with pytest.raises(ClientError) as excinfo:
        refresh(ui, tokens["refreshToken"])  # the default app's, not this one's
    assert_invalid(excinfo, "clientId")
    with pytest.raises(ClientError) as excinfo:
        refresh(ui, tokens["refreshToken"], clientId=CLIENT_ID)
    assert_invalid(excinfo, "clientId")
    assert refresh(ui, tokens["refreshToken"], clientId="my-figma-app")["accessToken"]


def test_another_provider_is_an_invalid_parameter(backend):
    raw = backend.client(validate=False)
    code = backend.model.create_authorization_code()
    with pytest.raises(ClientError) as excinfo:
        raw.exchange_code_for_token(provider="github", request={"code": code, "redirectUri": REDIRECT_URI})
    assert_invalid(excinfo)
    assert error_of(excinfo)[2] == (
        "1 validation error detected: Value 'github' at 'provider' failed to satisfy constraint: "
        "Member must satisfy enum value set: [figma]"
    )
    with pytest.raises(ClientError) as excinfo:
        raw.refresh_token(provider="FIGMA", refreshTokenBody={"token": "x"})
    assert_invalid(excinfo, "Value 'FIGMA' at 'provider'")
    assert exchange(raw, code)["accessToken"]  # the refused call did not touch the code


def test_missing_and_wrongly_typed_members(backend):
    raw = backend.client(validate=False)
    with pytest.raises(ClientError) as excinfo:
        raw.exchange_code_for_token(provider="figma", request={"code": "c"})
    assert_invalid(
        excinfo,
        "1 validation error detected: Value null at 'request.redirectUri' "
        "failed to satisfy constraint: Member must not be null",
    )
    with pytest.raises(ClientError) as excinfo:
        raw.exchange_code_for_token(provider="figma")  # botocore sends {}
    assert_invalid(excinfo, "2 validation errors detected")
    with pytest.raises(ClientError) as excinfo:
        raw.exchange_code_for_token(provider="figma", request={"code": 42, "redirectUri": REDIRECT_URI})
    assert_invalid(excinfo, "request.code")
    with pytest.raises(ClientError) as excinfo:
        raw.refresh_token(provider="figma", refreshTokenBody={"clientId": CLIENT_ID})
    assert_invalid(excinfo, "Value null at 'refreshTokenBody.token'")


def test_malformed_bodies_are_invalid_parameters_in_rest_json_form(backend):
    for body in (b"{not json", b"[1, 2]", b'"a string"'):
        reply = signed(backend, "POST", "/tokens/figma", body)
        assert reply.status_code == 400, body
        assert reply.headers["x-amzn-ErrorType"] == "InvalidParameterException"
        assert set(reply.json()) == {"message"} and reply.json()["message"]
        assert reply.headers["x-amzn-RequestId"]
    reply = signed(backend, "POST", "/tokens/figma/refresh", b"")  # no body: the payload member is missing
    assert reply.status_code == 400
    assert reply.json()["message"] == (
        "1 validation error detected: Value null at 'refreshTokenBody' "
        "failed to satisfy constraint: Member must not be null"
    )


def test_unknown_route_is_unknown_operation(backend):
    reply = signed(backend, "GET", "/tokens/figma", b"")
    assert reply.status_code == 404
    assert reply.headers["x-amzn-ErrorType"] == "UnknownOperationException"
    reply = signed(backend, "POST", "/tokens/figma/revoke", b"{}")
    assert reply.status_code == 404


# ---- RefreshToken refusals -----------------------------------------------------------


def test_unknown_and_revoked_refresh_tokens(backend, ui):
    with pytest.raises(ClientError) as excinfo:
        refresh(ui, "figur_made-up")
    assert_invalid(excinfo, "not valid")

    tokens = exchange(ui, backend.model.create_authorization_code())
    renewed = refresh(ui, tokens["refreshToken"])
    backend.model.revoke_refresh_token(tokens["refreshToken"])
    with pytest.raises(ClientError) as excinfo:
        refresh(ui, tokens["refreshToken"])
    assert_invalid(excinfo, "revoked")
    # revoking the grant revokes what it issued: Figma refuses both access tokens
    for token in (tokens["accessToken"], renewed["accessToken"]):
        reply = backend.figma(token=token)
        assert (reply.status_code, reply.json()) == (403, INVALID_TOKEN)
    # an access token is not a refresh token
    other = exchange(ui, backend.model.create_authorization_code())
    with pytest.raises(ClientError) as excinfo:
        refresh(ui, other["accessToken"])
    assert_invalid(excinfo)


def test_refresh_token_lifetime_setting_on_the_mock_clock():
    settings = {
        "amplifyuibuilder": {
            "refresh_token_seconds": 3600,
            "access_token_seconds": 900,
            "authorization_code_seconds": 30,
        }
    }
    with mock_cloud(services=["amplifyuibuilder"], settings=settings) as cloud:
        ui = ui_client()
        model = cloud.amplifyuibuilder
        late = model.create_authorization_code()
        cloud.clock.advance(31)
        with pytest.raises(ClientError) as excinfo:
            exchange(ui, late)
        assert_invalid(excinfo, "expired")
        tokens = exchange(ui, model.create_authorization_code())
        assert tokens["expiresIn"] == 900
        cloud.clock.advance(901)
        assert (
            requests.get(
                "https://api.figma.com/v1/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"}
            ).status_code
            == 403
        )
        assert refresh(ui, tokens["refreshToken"])["expiresIn"] == 900
        cloud.clock.advance(3600)
        with pytest.raises(ClientError) as excinfo:
            refresh(ui, tokens["refreshToken"])
        assert_invalid(excinfo, "expired")


def test_unknown_setting_is_refused():
    with pytest.raises(MockCloudError, match=r"access_token_second.*known: .*access_token_seconds"):
        mock_cloud(services=["amplifyuibuilder"], settings={"amplifyuibuilder": {"access_token_second": 1}})


# ---- Figma's side ------------------------------------------------------------------


def test_figma_refuses_missing_unknown_and_revoked_tokens(backend, ui):
    for token, header in (
        (None, "bearer"),
        ("figu_unknown", "bearer"),
        ("figu_unknown", "x-figma-token"),
        ("", "bearer"),
    ):
        reply = backend.figma(token=token, header=header)
        assert reply.status_code == 403, (token, header)
        assert reply.json() == INVALID_TOKEN
        assert reply.headers["Content-Type"].startswith("application/json")
    tokens = exchange(ui, backend.model.create_authorization_code())
    backend.model.revoke_access_token(tokens["accessToken"])
    assert backend.figma(token=tokens["accessToken"]).json() == INVALID_TOKEN
    # a refresh token is not an access token
    assert backend.figma(token=tokens["refreshToken"]).status_code == 403


def test_figma_unknown_paths_and_methods_are_figma_404s(backend, ui):
    tokens = exchange(ui, backend.model.create_authorization_code())
    for method, path in (("GET", "/v1/files/abc123"), ("POST", "/v1/me"), ("GET", "/v2/me")):
        reply = backend.figma(path, tokens["accessToken"], method=method, host="api.figma.com")
        assert reply.status_code == 404, (method, path)
        assert reply.json() == {"status": 404, "err": "Not found"}


def test_in_process_only_figmas_host_is_figma():
    """The server routes /v1/me on its own host; in-process another host's /v1/me stays unclaimed."""
    with mock_amplifyuibuilder(), pytest.raises(requests.ConnectionError, match=r"other\.example"):
        requests.get("https://other.example/v1/me", headers={"Authorization": "Bearer x"}, timeout=HTTP_TIMEOUT)


def test_figma_profile_follows_the_user_who_authorized(backend, ui):
    backend.model.add_user("42", "Second Designer", "second@example.com", "https://s3-alpha.figma.com/profile/second")
    tokens = exchange(ui, backend.model.create_authorization_code(user_id="42"))
    assert backend.figma(token=tokens["accessToken"]).json() == {
        "id": "42",
        "email": "second@example.com",
        "handle": "Second Designer",
        "img_url": "https://s3-alpha.figma.com/profile/second",
    }


def test_figma_throttling_and_injected_errors(backend, ui):
    tokens = exchange(ui, backend.model.create_authorization_code())
    backend.cloud.faults.add("amplifyuibuilder", "figma.getMe", throttle=True, count=1)
    reply = backend.figma(token=tokens["accessToken"])
    assert reply.status_code == 429
    assert reply.json()["status"] == 429 and reply.json()["err"]
    assert int(reply.headers["Retry-After"]) >= 1
    backend.cloud.faults.add("amplifyuibuilder", "figma.getMe", status=500, count=1)
    reply = backend.figma(token=tokens["accessToken"])
    assert (reply.status_code, reply.json()) == (500, {"status": 500, "err": "Internal server error"})
    assert backend.figma(token=tokens["accessToken"]).status_code == 200
    assert [r.operation for r in backend.cloud.requests.filter(service="amplifyuibuilder")][-3:] == ["figma.getMe"] * 3


# ---- the AWS front door ---------------------------------------------------------------


def test_aws_throttling_and_injected_errors(backend, ui):
    backend.cloud.faults.add("amplifyuibuilder", "ExchangeCodeForToken", throttle=True, count=1)
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, "anything")
    assert error_of(excinfo)[:2] == ("ThrottlingException", 429)
    backend.cloud.faults.add("amplifyuibuilder", "RefreshToken", status=500, count=1)
    with pytest.raises(ClientError) as excinfo:
        refresh(ui, "anything")
    assert error_of(excinfo)[:2] == ("InternalServerException", 500)


def test_sigv4_refusals_in_rest_json_form(backend):
    unknown = backend.client(key="AKIDUNKNOWN", secret="whatever")
    with pytest.raises(ClientError) as excinfo:
        exchange(unknown, "c")
    assert error_of(excinfo)[:2] == ("UnrecognizedClientException", 403)
    wrong_secret = backend.client(secret="not-the-secret")
    with pytest.raises(ClientError) as excinfo:
        refresh(wrong_secret, "t")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert "signature we calculated does not match" in message

    url = f"{backend.aws_url}/tokens/figma"
    headers = (
        {"Content-Type": "application/json"}
        if backend.server_url is None
        else {"Content-Type": "application/json", "Host": AWS_HOST}
    )
    reply = requests.post(url, data=b"{}", headers=headers, timeout=HTTP_TIMEOUT)
    assert reply.status_code == 403
    assert reply.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert reply.json() == {"message": "Missing Authentication Token"}


def test_a_client_clock_far_from_the_server_is_signature_expired(mockcloud_server, monkeypatch):
    """The server's clock moved a day: boto3's real-time signature is still fresh; one a day old is not."""
    import botocore.auth

    ui = ui_client(mockcloud_server.url)
    mockcloud_server.cloud.clock.advance(days=1)
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, "c")
    assert error_of(excinfo)[0] != "InvalidSignatureException"  # the code is unknown, the signature fine
    yesterday = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=1)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: yesterday)
    with pytest.raises(ClientError) as excinfo:
        exchange(ui, "c")
    code, status, message = error_of(excinfo)
    assert (code, status) == ("InvalidSignatureException", 403)
    assert message.startswith("Signature expired: ")


def test_racing_exchanges_of_one_code_mint_one_grant(backend):
    code = backend.model.create_authorization_code()
    clients = [backend.client() for _ in range(6)]
    barrier = threading.Barrier(len(clients))
    won, refused = [], []

    def attempt(client):
        barrier.wait(timeout=10)
        try:
            won.append(exchange(client, code))
        except ClientError as exc:
            refused.append(exc.response["Error"]["Code"])

    threads = [threading.Thread(target=attempt, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1 and refused == ["InvalidParameterException"] * 5


# ---- the handle --------------------------------------------------------------------


def test_shortcut_defaults_and_helpers():
    assert "mock_amplifyuibuilder" in mockcloud.__all__
    with mock_amplifyuibuilder() as cloud:
        assert cloud.service_names == ("amplifyuibuilder",)
        model = cloud.amplifyuibuilder
        assert model.default_app.client_id == CLIENT_ID
        assert model.default_app.redirect_uris == [REDIRECT_URI]
        model.create_authorization_code(redirect_uri="https://second.example/cb")  # a new URI for the default app
        assert model.default_app.redirect_uris == [REDIRECT_URI, "https://second.example/cb"]
        with pytest.raises(MockCloudError):
            model.revoke_refresh_token("never-issued")
        with pytest.raises(MockCloudError):
            model.create_authorization_code(user_id="nobody")


def test_custom_fixtures(tmp_path):
    path = tmp_path / "fixtures.json"
    path.write_text(
        json.dumps(
            {
                "amplifyuibuilder": {
                    "settings": {"access_token_seconds": 60},
                    "apps": [{"client_id": "acme-figma", "redirect_uris": ["https://acme.example/cb"]}],
                    "users": [
                        {"id": "7", "handle": "Acme", "email": "a@acme.example", "img_url": "https://img.example/7"}
                    ],
                }
            }
        )
    )
    with mock_cloud(services=["amplifyuibuilder"], fixtures=path) as cloud:
        ui = ui_client()
        tokens = exchange(
            ui, cloud.amplifyuibuilder.create_authorization_code(), redirect_uri="https://acme.example/cb"
        )
        assert tokens["expiresIn"] == 60
        me = requests.get("https://api.figma.com/v1/me", headers={"X-Figma-Token": tokens["accessToken"]})
        assert me.json()["handle"] == "Acme"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"amplifyuibuilder": {"apps": [{"redirect_uris": []}]}}))
    with (
        pytest.raises(MockCloudError, match="client_id"),
        mock_cloud(services=["amplifyuibuilder"], fixtures=bad) as cloud,
    ):
        _ = cloud.amplifyuibuilder
