"""No secret of any service shows in the request log, the dashboard's JSON or ``--verbose`` output.

Each service declares its secret-bearing fields beside its model
(``services/<name>/sensitive.py``). Two kinds of tests hold that list true:

- **Every secret sent**: a journey through every service with its real
  clients, against ``mockcloud server --verbose``, collects every secret it
  sends and receives (passwords, tokens, keys, codes, signatures, the TOTP
  secret and its QR code), then searches the log, the dashboard's JSON and
  the server's stderr for each, raw and encoded (URL-quoted, JSON-escaped),
  and decoded where the output encodes (base64 blobs, PNG QR codes read back
  with zxing-cpp).
- **Every field declared**: each field of each service's API whose name looks
  like a secret (from botocore's models, the Alibaba SDK's models, DevPay's
  parameters and the services' schemas), and every field botocore marks
  ``sensitive``, is in that service's list, or in its ``not_secret`` list. A
  new operation with a new secret fails here until its field is declared.
"""

from __future__ import annotations

import base64
import importlib
import json
import re
import struct
import uuid
import zlib
from pathlib import Path
from urllib.parse import quote, quote_plus, unquote_plus, urlencode

import boto3
import pytest
import requests

import mockcloud
from mockcloud.core import redaction
from mockcloud.core.otp import totp
from mockcloud.services import SERVICE_PACKAGES
from tests.helpers import DEFAULT_LICENSE_ARN as LICENSE_ARN
from tests.helpers import REGION, cli_server
from tests.services.devpay.support import DESKTOP_CODE, DESKTOP_KEY, WEB_CODE, WEB_KEY, LsClient
from tests.services.sts.support import NO_RETRY, ROLE

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "admin-" + uuid.uuid4().hex
FIGMA_CLIENT = "mockcloud-amplify-figma-client"  # the embedded default app, and its redirect URI
FIGMA_REDIRECT = "https://mockcloud.example/figma/callback"
TIMEOUT = 30
# a name that may hold a secret; each such field of an API must be declared secret or not
SECRET_WORDS = re.compile(
    r"token|pass|secret|session|code|key|ticket|png|otp|mfa|auth|cred|sign|cookie|nonce|cert|qr|finger|assertion|private",
    re.IGNORECASE,
)


# ---- every field declared ------------------------------------------------------------------------


def declared(service: str) -> redaction.Sensitive:
    return importlib.import_module(f"{SERVICE_PACKAGES[service]}.sensitive").SENSITIVE


def undeclared(service: str, names: set[str]) -> list[str]:
    sensitive = declared(service)
    known = {redaction.field_key(n) for n in sensitive.fields | sensitive.not_secret}
    return sorted(name for name in names if redaction.field_key(name) not in known)


def botocore_fields(service_name: str) -> tuple[set[str], set[str]]:
    """Every member name of every operation of a botocore service (all of them: others are being added), and
    those botocore marks sensitive."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(service_name)
    names: set[str] = set()
    sensitive: set[str] = set()

    def walk(shape, seen: tuple[str, ...] = ()) -> None:
        if shape is None or shape.name in seen:
            return
        seen = (*seen, shape.name)
        if shape.type_name == "structure":
            for name, member in shape.members.items():
                names.add(name)
                if member.metadata.get("sensitive") or member.serialization.get("sensitive"):
                    sensitive.add(name)
                walk(member, seen)
        elif shape.type_name == "list":
            walk(shape.member, seen)
        elif shape.type_name == "map":
            walk(shape.value, seen)

    for operation in model.operation_names:
        walk(model.operation_model(operation).input_shape)
        walk(model.operation_model(operation).output_shape)
    return names, sensitive


def schema_fields(service: str) -> set[str]:
    """Every property name in the service's own request schemas."""
    names: set[str] = set()

    def walk(node) -> None:
        if isinstance(node, dict):
            names.update(node.get("properties", {}))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in (ROOT / "mockcloud" / "services" / service / "schemas").glob("*.json"):
        walk(json.loads(path.read_text()))
    return names


def alibaba_fields() -> set[str]:
    """Every field of every ecd 2020-10-02 request and response in the Alibaba SDK's models."""
    import alibabacloud_ecd20201002.models as models_package

    names: set[str] = set()
    for path in Path(models_package.__file__).parent.glob("*.py"):
        names.update(re.findall(r"result\['([A-Za-z0-9]+)'\]", path.read_text()))
    return names - {"body", "headers", "statusCode"}


def test_every_service_declares_its_secret_fields():
    for service in SERVICE_PACKAGES:
        assert isinstance(declared(service), redaction.Sensitive), service
    assert set(redaction.declarations()) == set(SERVICE_PACKAGES)


@pytest.mark.parametrize(
    "service, botocore_name", [("licensemanager", "license-manager"), ("sts", "sts"), ("amplifyuibuilder", None)]
)
def test_every_field_of_an_aws_api_that_may_hold_a_secret_is_declared(service, botocore_name):
    names, sensitive = botocore_fields(botocore_name or service)
    fields = {redaction.field_key(n) for n in declared(service).fields}
    assert sorted(n for n in sensitive if redaction.field_key(n) not in fields) == [], "marked sensitive by botocore"
    assert undeclared(service, {n for n in names | schema_fields(service) if SECRET_WORDS.search(n)}) == []


def test_every_field_of_the_wuying_api_that_may_hold_a_secret_is_declared():
    names = alibaba_fields() | schema_fields("wuying")
    assert len(names) > 100  # the SDK's models were read
    assert undeclared("wuying", {n for n in names if SECRET_WORDS.search(n)}) == []


def test_every_devpay_and_user_api_field_that_may_hold_a_secret_is_declared():
    from mockcloud.services.devpay.protocol import PARAMETERS

    devpay = {name for names in PARAMETERS.values() for name in names} | {"UserToken", "SecretAccessKey"}
    assert undeclared("devpay", {n for n in devpay if SECRET_WORDS.search(n)}) == []
    userapi = schema_fields("userapi") | {"accessToken", "refreshToken", "tokenType", "expiresIn"}
    assert undeclared("userapi", {n for n in userapi if SECRET_WORDS.search(n)}) == []


@pytest.mark.parametrize(
    "name, key",
    [
        ("RefreshToken", "refreshtoken"),
        ("refresh_token", "refreshtoken"),
        ("AdditionalTokens.2", "additionaltokens"),
        ("Tokens.member.3", "tokens"),
        ("wsse:Password", "password"),
        ("X-Amz-Security-Token", "xamzsecuritytoken"),
        ("Pass%77ord", "password"),
    ],
)
def test_a_field_matches_however_a_protocol_spells_it(name, key):
    assert redaction.field_key(name) == key


def test_a_record_is_redacted_by_its_own_services_list():
    """WUYING's ClientId is an identifier, Amplify's clientId is marked sensitive: each service decides for its own."""
    from mockcloud.core.log import redact_target

    target = "/?Action=GetLoginToken&ClientId=c1&Password=p"
    assert redact_target(target, "wuying") == "/?Action=GetLoginToken&ClientId=c1&Password=REDACTED"
    assert redact_target(target, "amplifyuibuilder") == "/?Action=GetLoginToken&ClientId=REDACTED&Password=p"
    assert redact_target(target) == "/?Action=GetLoginToken&ClientId=REDACTED&Password=REDACTED"  # unknown: all


# ---- every secret sent ----------------------------------------------------------------------------


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """A PNG's pixels as 8-bit grey (the kinds segno and most encoders write: grey or palette, any depth)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    position, chunks, palette = 8, [], None
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position : position + 8])
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
        elif kind == b"PLTE":
            palette = [sum(body[i : i + 3]) // 3 for i in range(0, len(body), 3)]
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    bits = depth * channels
    stride, step = (width * bits + 7) // 8, max(1, bits // 8)
    raw, rows, previous = zlib.decompress(b"".join(chunks)), [], bytearray(stride)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            left = line[x - step] if x >= step else 0
            up, corner = previous[x], previous[x - step] if x >= step else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                nearest = min((abs(p - left), 0, left), (abs(p - up), 1, up), (abs(p - corner), 2, corner))[2]
                line[x] = (line[x] + nearest) & 255
        rows.append(bytes(line))
        previous = line
    grey = bytearray()
    for line in rows:
        for x in range(width):
            if depth < 8:
                value = (line[x * depth // 8] >> (8 - depth - (x * depth) % 8)) & ((1 << depth) - 1)
                value = palette[value] if palette else value * 255 // ((1 << depth) - 1)
            else:
                value = palette[line[x * step]] if palette else line[x * step]
            grey.append(value)
    return width, height, bytes(grey)


def read_qr_codes(png: bytes) -> list[str]:
    import zxingcpp

    width, height, grey = read_png(png)
    return [found.text for found in zxingcpp.read_barcodes(memoryview(grey).cast("B", (height, width)))]


def decoded_blobs(text: str) -> list[str]:
    """What the output's base64 runs decode to, as text, and the text of any QR code among them."""
    found = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{24,}={0,2}", text):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                data = decode(padded)
            except ValueError:
                continue
            if data.startswith(b"\x89PNG"):
                try:
                    found.extend(read_qr_codes(data))
                except (AssertionError, zlib.error, struct.error, KeyError, IndexError):
                    found.append("<a PNG that could not be read>")
            found.append(data.decode("latin-1"))
    return found


def encodings(secret: str) -> set[str]:
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    if len(secret) >= 32:  # a long secret cut short in a display: its tail
        forms.add(secret[-20:])
    return forms


def leaks(secret: str, text: str) -> bool:
    """Whether ``text`` (and what it decodes to) shows ``secret``, in any of its forms."""
    haystacks = [text, unquote_plus(text), *decoded_blobs(text)]
    for form in encodings(secret):
        if len(form) < 12:  # a short code (six digits): only as a whole token, not inside a longer number
            pattern = re.compile(rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])")
            if any(pattern.search(h) for h in haystacks):
                return True
        elif any(form in h for h in haystacks):
            return True
    return False


@pytest.fixture(scope="module")
def verbose_server():
    with cli_server("--verbose", "--admin-token", ADMIN_TOKEN) as started:
        yield started


class Secrets:
    """What a journey sent or got that must never be shown: (service, what) -> value."""

    def __init__(self) -> None:
        self.found: dict[tuple[str, str], str] = {}

    def add(self, service: str, what: str, value) -> str:
        assert isinstance(value, str) and value, (service, what, value)
        self.found[(service, what)] = value
        return value

    def capture_aws(self, client, service: str) -> None:
        """Each SigV4 signature and session token a boto3 client sends."""

        def sent(request, **_):
            authorization = request.headers.get("Authorization", b"")
            authorization = authorization.decode() if isinstance(authorization, bytes) else authorization
            signature = re.search(r"Signature=([0-9a-f]{64})", authorization)
            if signature:
                self.add(service, f"SigV4 signature {len(self.found)}", signature.group(1))
            token = request.headers.get("X-Amz-Security-Token")
            if token:
                self.add(service, "X-Amz-Security-Token", token.decode() if isinstance(token, bytes) else token)

        client.meta.events.register("before-send", sent)


def aws(service: str, url: str, secrets: Secrets, **keys):
    client = boto3.client(
        service,
        region_name=REGION,
        endpoint_url=url,
        config=NO_RETRY,
        **(keys or {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}),
    )
    secrets.capture_aws(client, service.replace("-", ""))  # license-manager: licensemanager
    return client


def license_manager_journey(url: str, secrets: Secrets) -> str:
    lm = aws("license-manager", url, secrets)
    refresh = secrets.add("licensemanager", "Token", lm.create_token(LicenseArn=LICENSE_ARN, ClientToken="c1")["Token"])
    access = secrets.add("licensemanager", "AccessToken", lm.get_access_token(Token=refresh)["AccessToken"])
    lm.create_license(
        LicenseName="Widget",
        ProductName="Widget",
        ProductSKU="WIDGET-1",
        Issuer={"Name": "Widget Co"},
        HomeRegion=REGION,
        Validity={"Begin": "2024-01-01T00:00:00Z"},
        Beneficiary="arn:aws:iam::123456789012:root",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "MaxCount": 5, "AllowCheckIn": True}],
        ConsumptionConfiguration={"RenewType": "None", "ProvisionalConfiguration": {"MaxTimeToLiveInMinutes": 30}},
        ClientToken=uuid.uuid4().hex,
    )
    out = lm.checkout_license(
        ProductSKU="WIDGET-1",
        CheckoutType="PROVISIONAL",
        KeyFingerprint="aws:123456789012:Widget Co:issuer-fingerprint",
        Beneficiary="123456789012",
        Entitlements=[{"Name": "Seats", "Unit": "Count", "Value": "1"}],
        ClientToken=uuid.uuid4().hex,
    )
    consumption = secrets.add("licensemanager", "LicenseConsumptionToken", out["LicenseConsumptionToken"])
    secrets.add("licensemanager", "SignedToken", out["SignedToken"])
    lm.extend_license_consumption(LicenseConsumptionToken=consumption)
    lm.check_in_license(LicenseConsumptionToken=consumption)
    return access


def sts_journey(url: str, secrets: Secrets, web_identity_token: str, cloud) -> None:
    """Every STS operation that takes or gives a secret: web identity, SAML, MFA codes, session tokens."""
    sts = aws("sts", url, secrets)
    credentials = sts.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="app", WebIdentityToken=web_identity_token
    )["Credentials"]
    secrets.add("sts", "SecretAccessKey", credentials["SecretAccessKey"])
    secrets.add("sts", "SessionToken", credentials["SessionToken"])
    as_role = aws("sts", url, secrets, **client_keys(credentials))
    assert as_role.get_caller_identity()["Arn"].endswith("/app")
    # an IAM user with an MFA device: AssumeRole and GetSessionToken take its one-time codes
    name = f"redaction-{uuid.uuid4().hex[:8]}"
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    cloud.sts.create_user(name, policies={"all": allow_all})
    key = cloud.sts.create_access_key(name)
    secrets.add("sts", "user SecretAccessKey", key.secret_access_key)
    device = cloud.sts.create_virtual_mfa_device(f"phone-{name}", user_name=name)
    secrets.add("sts", "MFA seed", device.secret)
    user = aws("sts", url, secrets, aws_access_key_id=key.access_key_id, aws_secret_access_key=key.secret_access_key)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:AssumeRole"}],
    }
    role = cloud.sts.create_role(f"Redaction-{name}", trust)
    now = cloud.clock.time()
    code = secrets.add("sts", "TokenCode (AssumeRole)", totp(device.secret, now))
    assumed = user.assume_role(
        RoleArn=role.arn, RoleSessionName="redaction", SerialNumber=device.serial, TokenCode=code
    )
    secrets.add("sts", "AssumeRole SessionToken", assumed["Credentials"]["SessionToken"])
    cloud.clock.advance(30)  # a fresh code
    code = secrets.add("sts", "TokenCode (GetSessionToken)", totp(device.secret, cloud.clock.time()))
    session = user.get_session_token(SerialNumber=device.serial, TokenCode=code)["Credentials"]
    secrets.add("sts", "GetSessionToken SessionToken", session["SessionToken"])
    federated = user.get_federation_token(Name="fed", Policy=json.dumps(allow_all))["Credentials"]
    secrets.add("sts", "GetFederationToken SecretAccessKey", federated["SecretAccessKey"])
    secrets.add("sts", "GetFederationToken SessionToken", federated["SessionToken"])
    outbound = sts.get_web_identity_token(Audience=["https://verifier.example"], SigningAlgorithm="RS256")
    secrets.add("sts", "GetWebIdentityToken WebIdentityToken", outbound["WebIdentityToken"])
    # SAML: a signed assertion of a test IdP
    from tests.services.sts.test_saml import TestIdP
    from tests.services.sts.test_saml import trust as saml_trust

    idp = TestIdP()
    provider = cloud.sts.create_saml_provider(f"idp-{name}", idp.metadata)
    saml_role = cloud.sts.create_role(f"Saml-{name}", saml_trust(provider.arn))
    assertion = secrets.add("sts", "SAMLAssertion", idp.response(cloud.clock.time(), saml_role.arn, provider.arn))
    saml = sts.assume_role_with_saml(RoleArn=saml_role.arn, PrincipalArn=provider.arn, SAMLAssertion=assertion)
    secrets.add("sts", "AssumeRoleWithSAML SessionToken", saml["Credentials"]["SessionToken"])


def client_keys(credentials: dict) -> dict:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def amplify_journey(url: str, secrets: Secrets, cloud) -> None:
    ui = aws("amplifyuibuilder", url, secrets)
    code = secrets.add("amplifyuibuilder", "code", cloud.amplifyuibuilder.create_authorization_code())
    grant = ui.exchange_code_for_token(
        provider="figma", request={"code": code, "redirectUri": FIGMA_REDIRECT, "clientId": FIGMA_CLIENT}
    )
    access = secrets.add("amplifyuibuilder", "accessToken", grant["accessToken"])
    refresh = secrets.add("amplifyuibuilder", "refreshToken", grant["refreshToken"])
    again = ui.refresh_token(provider="figma", refreshTokenBody={"token": refresh, "clientId": FIGMA_CLIENT})
    secrets.add("amplifyuibuilder", "refreshed accessToken", again["accessToken"])
    for headers in ({"Authorization": f"Bearer {access}"}, {"X-Figma-Token": again["accessToken"]}):
        assert requests.get(f"{url}/v1/me", headers=headers, timeout=TIMEOUT).status_code == 200


def devpay_journey(url: str, secrets: Secrets, cloud) -> None:
    desktop_product = secrets.add("devpay", "desktop ProductToken", cloud.devpay.product(DESKTOP_CODE).token)
    web_product = secrets.add("devpay", "web ProductToken", cloud.devpay.product(WEB_CODE).token)
    secrets.add("devpay", "desktop ActivationKey", DESKTOP_KEY)
    secrets.add("devpay", "web ActivationKey", WEB_KEY)
    anonymous = LsClient(url + "/", cloud.clock, method="POST")
    reply = anonymous.call(
        "ActivateDesktopProduct", signed=False, ActivationKey=DESKTOP_KEY, ProductToken=desktop_product
    )
    assert reply.status == 200, reply.body
    user_token = secrets.add("devpay", "desktop UserToken", reply.text("UserToken"))
    key_id, secret = (
        reply.text("AWSAccessKeyId"),
        secrets.add("devpay", "SecretAccessKey", reply.text("SecretAccessKey")),
    )
    for method, version in (("GET", "2"), ("POST", "1")):
        customer = LsClient(url + "/", cloud.clock, key=key_id, secret=secret, method=method, signature_version=version)
        params = customer.params(
            "VerifyProductSubscriptionByTokens", ProductToken=desktop_product, UserToken=user_token
        )
        secrets.add("devpay", f"Signature v{version}", params["Signature"])
        assert customer.send(params).status == 200
        params = customer.params("RefreshUserToken", UserToken=user_token, AdditionalTokens=desktop_product)
        assert customer.send(params).status == 200
    developer = LsClient(url + "/", cloud.clock, method="GET")
    reply = developer.call("ActivateHostedProduct", ActivationKey=WEB_KEY, ProductToken=web_product)
    assert reply.status == 200, reply.body
    secrets.add("devpay", "web UserToken", reply.text("UserToken"))


def wuying_journey(url: str, secrets: Secrets, cloud) -> None:
    """Every logon stage, with passwords, codes and tokens in form bodies and query strings, and a signed call."""
    password, new_password = secrets.add("wuying", "Password", "Jo-Passw0rd!"), "Jo-Passw0rd-2"
    secrets.add("wuying", "NewPassword", new_password)
    cloud.wuying.create_user(
        "jo", password, mfa=True, email="jo@example.com", must_change_password=True, secondary_auth=True
    )
    base = {"Action": "GetLoginToken", "Version": "2020-10-02", "RegionId": "cn-hangzhou", "ClientId": "client-jo"}

    def call(params: dict, *, query: bool = False) -> dict:
        if query:  # the secrets in the target: what the log's URL and --verbose show
            reply = requests.get(f"{url}/?{urlencode({**base, **params})}", timeout=TIMEOUT)
        else:
            reply = requests.post(f"{url}/", data={**base, **params}, timeout=TIMEOUT)
        assert reply.status_code == 200, reply.text
        return reply.json()

    out = call({"CurrentStage": "ADPassword", "EndUserId": "jo", "Password": password, "KeepAlive": "true"}, query=True)
    session = secrets.add("wuying", "SessionId", out["SessionId"])
    while out.get("NextStage"):
        stage = out["NextStage"]
        extra = {}
        if stage == "ChangePassword":
            extra = {"OldPassword": password, "NewPassword": new_password}
        elif stage == "MFAVerify":
            extra = {"AuthenticationCode": secrets.add("wuying", "AuthenticationCode", cloud.wuying.totp_code("jo"))}
        elif stage == "TokenVerify":
            extra = {"TokenCode": secrets.add("wuying", "TokenCode", cloud.wuying.email_code("jo"))}
        out = call({"CurrentStage": stage, "SessionId": session, **extra}, query=stage == "MFAVerify")
        if stage == "MFABind":
            secret = secrets.add("wuying", "Secret", out["Secret"])
            png = base64.b64decode(out["QrCodePng"])
            qr_text = read_qr_codes(png)  # the check below decodes QR codes: it must read this one
            assert len(qr_text) == 1 and qr_text[0].startswith("otpauth://totp/") and f"secret={secret}" in qr_text[0]
            secrets.add("wuying", "QrCodePng", out["QrCodePng"])
    login = secrets.add("wuying", "LoginToken", out["LoginToken"])
    keep_alive = secrets.add("wuying", "KeepAliveToken", out["KeepAliveToken"])
    again = call({"CurrentStage": "KeepAliveVerify", "KeepAliveToken": keep_alive}, query=True)
    secrets.add("wuying", "LoginToken (keep-alive)", again["LoginToken"])
    refreshed = call(
        {"Action": "RefreshLoginToken", "EndUserId": "jo", "LoginToken": login, "SessionId": session}, query=True
    )
    secrets.add("wuying", "LoginToken (refreshed)", refreshed["LoginToken"])
    client_operations(call, secrets, cloud, new_password, again["LoginToken"], again["SessionId"])
    # an RPC call signed as aliyunsdkcore signs (signature v1, in the query string)
    from aliyunsdkcore.auth.composer import rpc_signature_composer

    params = {
        **base,
        "CurrentStage": "ADPassword",
        "EndUserId": "alice",
        "Password": "Alice-Passw0rd",
        "Format": "JSON",
    }
    signed, _ = rpc_signature_composer.get_signed_url(params, "testing", "testing", "JSON", "GET", {})
    query = dict(pair.split("=", 1) for pair in signed.lstrip("/?").split("&"))
    secrets.add("wuying", "Signature (RPC)", unquote_plus(query["Signature"]))
    secrets.add("wuying", "alice's Password", "Alice-Passw0rd")
    assert requests.get(f"{url}/{signed}", timeout=TIMEOUT).status_code == 200


def client_operations(call, secrets: Secrets, cloud, password: str, login_token: str, session_id: str) -> None:
    """WUYING's client operations that carry secrets: a connection ticket (and the tickets a client no longer
    wants), a cloud drive mount token, credentials checked (a password, an encrypted one), fingerprints."""
    site = "cn-hangzhou+dir-0123456789"
    desktop = "ecd-redactiontest0001"
    cloud.wuying.create_desktop(desktop, end_user_ids=["jo"], status="Running")
    logged_on = {"LoginToken": login_token, "SessionId": session_id}
    task = call({"Action": "GetConnectionTicket", "DesktopId": desktop, **logged_on})
    for _ in range(50):  # polled to its end (the desktop runs: a few polls on the mock clock)
        task = call({"Action": "GetConnectionTicket", "TaskId": task["TaskId"], **logged_on}, query=True)
        if task["TaskStatus"] != "RUNNING":
            break
        cloud.clock.advance(5)
    ticket = secrets.add("wuying", "Ticket", task["Ticket"])
    again = call(
        {"Action": "GetConnectionTicket", "DesktopId": desktop, "TicketBlackList.1": ticket, **logged_on}, query=True
    )
    if again.get("Ticket"):
        secrets.add("wuying", "Ticket (again)", again["Ticket"])
    mount = call({"Action": "GetCloudDriveServiceMountToken", "OfficeSiteId": site, **logged_on})
    secrets.add("wuying", "mount Token", mount["Token"]["Token"])
    call({"Action": "VerifyCredential", "OfficeSiteId": site, "Credential": password, **logged_on}, query=True)
    encrypted = call({"Action": "EncryptPassword", "Password": password, "OfficeSiteId": site, **logged_on})
    encrypted_password = secrets.add("wuying", "EncryptedPassword", encrypted["EncryptedPassword"])
    call(
        {"Action": "VerifyCredential", "OfficeSiteId": site, "Credential": encrypted_password, "EncryptedKey": "key-1"}
        | logged_on
    )
    template = secrets.add("wuying", "FingerPrintTemplate", "fingerprint-" + uuid.uuid4().hex)
    call({"Action": "SetFingerPrintTemplate", "Password": password, "FingerPrintTemplate": template, **logged_on})


def userapi_journey(url: str, secrets: Secrets) -> None:
    http = requests.Session()
    headers = {"Version": "2.0"}
    password = secrets.add("userapi", "password", "secure_password_123")
    tokens = http.post(
        f"{url}/User/Login", json={"username": "api_user", "password": password}, headers=headers, timeout=TIMEOUT
    ).json()
    access = secrets.add("userapi", "accessToken", tokens["accessToken"])
    refresh = secrets.add("userapi", "refreshToken", tokens["refreshToken"])
    again = http.post(
        f"{url}/User/RefreshToken",
        json={"refreshToken": refresh},
        headers={**headers, "Authorization": f"Bearer {access}"},
        timeout=TIMEOUT,
    ).json()
    secrets.add("userapi", "refreshed accessToken", again["accessToken"])
    secrets.add("userapi", "refreshed refreshToken", again["refreshToken"])
    me = http.get(
        f"{url}/User/Me", headers={**headers, "Authorization": f"Bearer {again['accessToken']}"}, timeout=TIMEOUT
    )
    assert me.status_code == 200, me.text


def dashboard_json(url: str) -> str:
    """Every answer the dashboard reads (its request list, each request opened, tokens, clock, faults, keys...)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

    def get(path: str) -> dict:
        reply = requests.get(f"{url}/_mockcloud/{path}", headers=headers, timeout=TIMEOUT)
        assert reply.status_code == 200, (path, reply.text)
        return reply.json()

    listed = get("requests?since=0")
    answers = [listed, get("requests?since=0&limit=500")]
    answers += [get(f"requests/{record['seq']}") for record in listed["requests"]]
    answers += [
        get(path) for path in ("inventory?limit=500", "clock", "faults", "health", "operations", "credentials", "jwks")
    ]
    return json.dumps(answers)


def test_every_secret_of_every_service_stays_out_of_the_log_the_dashboard_and_verbose(verbose_server):
    proc, url = verbose_server
    cloud = mockcloud.connect(url, admin_token=ADMIN_TOKEN)
    secrets = Secrets()
    secrets.add("mockcloud", "admin token", ADMIN_TOKEN)
    access = license_manager_journey(url, secrets)
    sts_journey(url, secrets, access, cloud)
    amplify_journey(url, secrets, cloud)
    devpay_journey(url, secrets, cloud)
    wuying_journey(url, secrets, cloud)
    userapi_journey(url, secrets)

    log = json.dumps([[repr(record), record.url] for record in cloud.requests])  # the log as a test reads it
    dashboard = dashboard_json(url)
    proc.terminate()
    _, verbose = proc.communicate(timeout=30)

    services = {service for service, _ in secrets.found}
    assert services == {*SERVICE_PACKAGES, "mockcloud"}  # a secret of each service was sent
    assert len(json.loads(dashboard)[0]["requests"]) > 25 and verbose.count("\n") > 25  # they were all logged
    assert "REDACTED" in dashboard and "REDACTED" in verbose
    shown = {
        (service, what, where)
        for (service, what), value in secrets.found.items()
        for where, text in (("the log", log), ("the dashboard's JSON", dashboard), ("--verbose", verbose))
        if leaks(value, text)
    }
    assert shown == set()


def test_the_search_finds_a_secret_in_each_form_it_looks_for():
    """The check above can fail: each encoding it searches for, it finds."""
    secret = "s3cr3t/value+with=signs_" + uuid.uuid4().hex
    for text in (secret, quote(secret, safe=""), quote_plus(secret), json.dumps({"x": secret}), secret[-20:] + "..."):
        assert leaks(secret, f"before {text} after"), text
    assert leaks(secret, base64.b64encode(f"inside {secret} a blob".encode()).decode())
    assert leaks("123456", '{"AuthenticationCode": "123456"}') and not leaks("123456", '{"epoch": 1712345678.1234567}')
    import segno

    buffer = __import__("io").BytesIO()
    segno.make(f"otpauth://totp/x?secret={secret.upper()[:32]}", error="m").save(buffer, kind="png", scale=4)
    assert leaks(secret.upper()[:32], "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())


def test_an_authorization_header_keeps_its_key_id_and_scope_whatever_a_service_declares():
    """WUYING declares Credential (VerifyCredential's password or code): in an Authorization header it is a key id."""
    from mockcloud.core.log import REDACTED, redact_header

    acs3 = "ACS3-HMAC-SHA256 Credential=testing,SignedHeaders=host;x-acs-date,Signature=abc123"
    assert redact_header("Authorization", acs3, "wuying") == (
        f"ACS3-HMAC-SHA256 Credential=testing, SignedHeaders=host;x-acs-date, Signature={REDACTED}"
    )
    assert redact_header("X-Custom", "Credential=x", "wuying") == "Credential=x"
