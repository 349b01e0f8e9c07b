"""Property: no input to any operation of any service gets an internal error or a reply outside the service's format.

For every service and every operation, hypothesis draws parameters from the
operation's schema (``mockcloud/services/<name>/schemas``; DevPay's Query
parameters from its action table) and mutates them: wrong types, huge and
tiny numbers, unicode with lone surrogates, control characters and other
scripts' digits, deep nesting, missing, unknown and duplicated parameters,
and bodies in bad encodings. Each request goes over a real wire three ways:
``requests`` under ``mock_cloud()`` (the interceptor), the raw WSGI callable,
and ``requests`` against a live server on 127.0.0.1. The reply is judged by
``tests/service_formats.py``, the oracle ``benchmarks/fuzz.py`` uses too.

Examples per test are few (a few seconds per service); with ``CI`` set the
run is derandomized, so CI sees the same examples every time.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mockcloud import mock_cloud
from mockcloud.core.request import build_environ
from mockcloud.server.live import LiveServer
from mockcloud.services.amplifyuibuilder.protocol import AmplifyUIBuilderProtocol
from mockcloud.services.devpay.protocol import PARAMETERS as DEVPAY_PARAMETERS
from tests.helpers import DEFAULT_LICENSE_ARN, aws_signed_headers
from tests.service_formats import query_pairs, verdict
from tests.services.devpay.support import hmac_b64, v2_string

SCHEMAS = Path(__file__).resolve().parents[2] / "mockcloud" / "services"
TIMEOUT = 10
settings.register_profile(
    "mockcloud-fuzz",
    max_examples=40,
    deadline=None,
    database=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
FUZZ = settings.get_profile("mockcloud-fuzz")


def schemas(service: str) -> dict[str, dict]:
    return {path.stem: json.loads(path.read_text()) for path in sorted((SCHEMAS / service / "schemas").glob("*.json"))}


# ---- values: from a schema, and junk -------------------------------------------------------

CONTROL = "\x00\x01\x08\x0b\x0c\x1f\x7f\x85\u2028"
ODD = "\u00b2\u0661\u0e53\uff11\ufeff\ufffe\u202e\U0001d49c"
TEXT = st.text(
    alphabet=st.one_of(st.characters(), st.characters(categories=["Cs"]), st.sampled_from(CONTROL + ODD)), max_size=40
)
NUMBERS = st.one_of(
    st.integers(),
    st.sampled_from([2**31 - 1, 2**31, -(2**31) - 1, 2**63, 10**400, -(10**400), 0, -1]),
    st.floats(),  # NaN and infinities too: json.dumps writes them as NaN/Infinity, which is no JSON
)


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


JUNK = st.one_of(
    TEXT,
    NUMBERS,
    st.booleans(),
    st.none(),
    st.integers(min_value=60, max_value=300).map(nested),
    st.recursive(
        st.none() | st.integers() | TEXT,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
        max_leaves=8,
    ),
)


class Known(str):
    """Where a drawn document takes the live value of the ``known`` fixture named by this string.

    Strategies are built once per schema (building them, ``from_regex`` above all, costs far more than
    drawing from them) and hold this placeholder; :func:`with_known` puts the wire's own value in.
    """


def from_schema(schema: dict, names: frozenset[str] = frozenset(), name: str = ""):
    """Values that satisfy a (draft 7, mockcloud-sized) JSON schema; a member in ``names`` may be :class:`Known`."""
    strategy = _from_schema(schema, names)
    if name in names:
        return st.one_of(st.just(Known(name)), strategy)
    return strategy


def _from_schema(schema: dict, names: frozenset[str]):
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, names, k) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, names, k) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        return st.lists(
            from_schema(schema.get("items", {}), names),
            min_size=schema.get("minItems", 0),
            max_size=min(schema.get("maxItems", 4), 4),
        )
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    low, high = schema.get("minLength", 0), min(schema.get("maxLength", 40), 40)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"]).filter(lambda s: low <= len(s) <= schema.get("maxLength", 10**9))
    return st.text(min_size=low, max_size=max(low, high))


_STRATEGIES: dict[tuple[str, frozenset[str]], object] = {}


def schema_strategy(schema: dict, known: dict):
    """:func:`from_schema` of ``schema`` with the names ``known`` has values for, built once for the whole run."""
    key = (json.dumps(schema, sort_keys=True), frozenset(known))
    strategy = _STRATEGIES.get(key)
    if strategy is None:
        strategy = _STRATEGIES[key] = from_schema(schema, key[1])
    return strategy


def with_known(value, known: dict):
    """``value`` with each :class:`Known` placeholder replaced by the wire's live value."""
    if isinstance(value, Known):
        return known[str(value)]
    if isinstance(value, dict):
        return {k: with_known(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [with_known(v, known) for v in value]
    return value


def draw_document(data, schema: dict, known: dict, label: str):
    return with_known(data.draw(schema_strategy(schema, known), label=label), known)


def mutated(data, document: dict) -> dict:
    """The document, or it with members replaced by junk, removed, or added."""
    kind = data.draw(st.sampled_from(["none", "replace", "drop", "add", "replace-deep"]), label="mutation")
    if kind == "none" or (kind != "add" and not document):
        return document
    document = dict(document)
    if kind == "add":
        document[data.draw(TEXT, label="new member")] = data.draw(JUNK, label="new value")
        return document
    key = data.draw(st.sampled_from(sorted(document)), label="member")
    if kind == "drop":
        del document[key]
    elif kind == "replace-deep" and isinstance(document[key], dict) and document[key]:
        document[key] = mutated(data, document[key])
    else:
        document[key] = data.draw(JUNK, label="junk")
    return document


def json_body(data, document) -> bytes:
    """The document as a JSON body, or that body broken: duplicate keys, other encodings, truncation, non-objects."""
    text = json.dumps(document, ensure_ascii=data.draw(st.booleans(), label="ascii"))
    form = data.draw(
        st.sampled_from(["plain"] * 4 + ["duplicate", "utf-16", "truncated", "bom", "junk-bytes", "not-object"]),
        label="body form",
    )
    raw = text.encode("utf-8", "surrogatepass")
    if form == "duplicate" and isinstance(document, dict) and document:
        key = data.draw(st.sampled_from(sorted(document)), label="duplicated")
        return (text[:-1] + f",{json.dumps(key)}:{json.dumps(data.draw(JUNK, label='second value'))}}}").encode(
            "utf-8", "surrogatepass"
        )
    if form == "utf-16":
        return text.encode("utf-16", "surrogatepass")
    if form == "truncated":
        return raw[: data.draw(st.integers(0, max(0, len(raw) - 1)), label="cut")]
    if form == "bom":
        return b"\xef\xbb\xbf" + raw
    if form == "junk-bytes":
        return raw + data.draw(st.binary(min_size=1, max_size=8), label="junk bytes")
    if form == "not-object":
        return data.draw(
            st.sampled_from([b"[]", b'"x"', b"null", b"1", b"NaN", b"", b"{", b"[" * 5000]), label="not an object"
        )
    return raw


def header_bytes(text: str) -> bytes:
    """Text as a header value a client can send (no CR/LF, no leading white space; any other byte goes)."""
    return text.encode("utf-8", "surrogatepass").replace(b"\r", b"").replace(b"\n", b"").lstrip(b" \t\x0b\x0c")


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(
        f"{quote(k, safe='', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}" for k, v in pairs
    )


# ---- the wires -----------------------------------------------------------------------------


def _not_a_field_value(value: str | bytes) -> bool:
    data = value.encode("utf-8", "surrogatepass") if isinstance(value, str) else value
    return any((byte < 0x20 and byte != 0x09) or byte == 0x7F for byte in data)


class Wire:
    """One way to the emulator: requests under mock_cloud, the raw WSGI callable, or requests to a live server."""

    def __init__(self, kind: str, cloud, server_url: str | None = None) -> None:
        self.kind, self.cloud, self.server_url = kind, cloud, server_url

    def url(self, real: str, server_path: str) -> str:
        return self.server_url + server_path if self.server_url else real

    def send(self, method: str, url: str, headers: dict, body: bytes) -> tuple[int, dict, bytes]:
        if self.kind == "wsgi":
            started = []
            environ = build_environ(method, url, headers, body)
            chunks = self.cloud.app(environ, lambda status, reply_headers: started.append((status, reply_headers)))
            status, reply_headers = started[0]
            return int(status.split(" ", 1)[0]), dict(reply_headers), b"".join(chunks)
        reply = requests.request(method, url, headers=headers, data=body, timeout=TIMEOUT)
        return reply.status_code, dict(reply.headers), reply.content

    def check(self, service: str, method: str, url: str, headers: dict, body: bytes) -> None:
        status, reply_headers, reply = self.send(method, url, headers, body)
        if self.kind == "server" and any(_not_a_field_value(v) for v in headers.values()):
            # RFC 9110 §5.5: no control characters in a field value: the server refuses the framing itself
            assert status == 400, f"{self.kind} {method} {url[:200]} headers {headers} -> {status} {reply[:200]!r}"
            return
        problem = verdict(service, status, reply_headers, reply)
        assert problem is None, (
            f"{self.kind} {method} {url[:200]}\n  headers {headers}\n  body {body[:300]!r}\n  -> {problem}"
        )


@pytest.fixture(scope="module", params=["requests", "wsgi", "server"])
def wire(request):
    if request.param == "server":
        with LiveServer("127.0.0.1", 0) as server:
            yield Wire("server", server.cloud, server.url)
    else:
        with mock_cloud() as cloud:
            yield Wire(request.param, cloud)


def wuying_logon(cloud) -> dict:
    """A live WUYING logon of alice's (through the model, as the fixture is built), and her desktop."""
    logon = cloud.wuying.logon.get_login_token(
        region_id="cn-hangzhou", client_id="fuzz-client", end_user_id="alice", password="Alice-Passw0rd"
    )
    return {
        "ClientId": "fuzz-client",
        "LoginToken": logon["LoginToken"],
        "SessionId": logon["SessionId"],
        "DesktopId": "ecd-0123456789abcdefg",
        "UserDesktopId": "ecd-0123456789abcdefg",
        "InstanceId": "ecd-0123456789abcdefg",
    }


@pytest.fixture(scope="module")
def known(wire) -> dict:
    """Values that get requests past the first checks (a live refresh token, the fixtures' keys and products)."""
    model = wire.cloud.licensemanager
    token = model.create_token(
        account_id="123456789012", region="us-east-1", license_arn=DEFAULT_LICENSE_ARN, client_token="fuzz"
    )
    sts = wire.cloud.sts
    some = {
        "Statement": [
            {"Effect": "Allow", "Action": ["license-manager:Get*", "sts:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "license-manager:CheckoutLicense", "Resource": "*"},
        ]
    }
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:*"}]}
    role = sts.create_role(f"Fuzz{uuid.uuid4().hex[:8]}", trust, policies={"some": some}, max_session_duration=43200)
    session = sts.assume_role(access_key_id="testing", role_arn=role.arn, session_name="fuzz", duration=43200).key
    delegation = sts.create_delegation_request("123456789012", some)
    granted = model.create_grant(
        account_id="123456789012",
        client_token="fuzz",
        grant_name="fuzz",
        license_arn=DEFAULT_LICENSE_ARN,
        principals=["arn:aws:iam::210987654321:root"],
        home_region="us-east-1",
        allowed_operations=["CheckoutLicense", "CreateGrant"],
    )
    subscription = model.subscribe("123456789012", "prod-fuzz")  # checkouts without a Beneficiary find it
    return {
        "session": (session.access_key_id, session.secret_access_key, session.session_token),
        "fuzz_role": role.arn,
        "TradeInToken": sts.approve_delegation_request(delegation.delegation_id),
        "issuer_host": sts.outbound_issuer().removeprefix("https://"),
        "TargetPrincipal": "210987654321",
        "SigningAlgorithm": "RS256",
        "LicenseArn": DEFAULT_LICENSE_ARN,
        "ResourceArn": DEFAULT_LICENSE_ARN,
        "GrantArn": granted["GrantArn"],
        "Principals": ["arn:aws:iam::210987654321:root"],
        "HomeRegion": "us-east-1",
        "SourceVersion": "1",
        "KeyFingerprint": subscription.key_fingerprint,
        "ProductSKU": "prod-fuzz",
        "Token": token.jwt,
        "AccessToken": model.get_access_token(account_id="123456789012", token=token.jwt),
        "RoleArn": "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole",
        "TokenId": token.token_id,
        "RegionId": "cn-hangzhou",
        "EndUserId": "alice",
        "OfficeSiteId": "cn-hangzhou+dir-0123456789",
        **wuying_logon(wire.cloud),
        "username": "api_user",
        "password": "secure_password_123",
        "ActivationKey": "ADMAY7DVLJTWHJ76MMBMQEXAMPLE",
        "ProductToken": wire.cloud.devpay.product("6883959E").token,
        "ProductCode": "6883959E",
        "amplify": amplify_records(wire.cloud),
    }


def amplify_records(cloud) -> dict:
    """Amplify Studio records the fuzzed requests may name: an app environment, a component, a codegen job."""
    from mockcloud.services.amplifyuibuilder.studio import Scope

    studio = cloud.amplifyuibuilder.studio
    scope = Scope("123456789012", "us-east-1", "dfuzz1", "fuzz")
    data = {"name": "Fuzz", "componentType": "Flex", "properties": {}, "variants": [], "overrides": {}}
    made = studio.create("component", scope, {**data, "bindingProperties": {}}, None, "CreateComponent")
    return {
        "appId": scope.app_id,
        "environmentName": scope.environment_name,
        "id": made["id"],
        "provider": "figma",
        "featureName": "autoGenerateForms",
        "resourceArn": scope.arn("component", made["id"]),
    }


# ---- one property per service ----------------------------------------------------------------

LM = schemas("licensemanager")


def operation_and_document(data, schemas: dict, unknown: str, known: dict) -> tuple[str, dict]:
    """An operation (or one the service does not have) and its parameters, drawn from its schema and mutated."""
    operation = data.draw(st.sampled_from([*sorted(schemas), unknown]), label="operation")
    document = draw_document(data, schemas.get(operation, {"type": "object"}), known, "document")
    return operation, mutated(data, document)


def signed_as(data, url: str, body: bytes, service: str, headers: dict, known: dict) -> dict:
    """Headers signed with the default (root) keys, or with a role session's (the IAM check then decides)."""
    if data.draw(st.booleans(), label="as a role session"):
        key, secret, token = known["session"]
        return aws_signed_headers("POST", url, body, service, headers, key=key, secret=secret, token=token)
    return aws_signed_headers("POST", url, body, service, headers)


@FUZZ
@given(data=st.data())
def test_license_manager_operations(wire, known, data):
    operation, document = operation_and_document(data, LM, "MintMoney", known)
    body = json_body(data, document)
    url = wire.url("https://license-manager.us-east-1.amazonaws.com/", "/")
    headers = {"X-Amz-Target": f"AWSLicenseManager.{operation}", "Content-Type": "application/x-amz-json-1.1"}
    if data.draw(st.booleans(), label="signed") or wire.server_url:  # the server routes unsigned requests by target too
        headers = signed_as(data, url, body, "license-manager", headers, known)
    wire.check("licensemanager", "POST", url, headers, body)


AMPLIFY = schemas("amplifyuibuilder")
# every Amplify UI Builder operation as its @operation declares it: route, payload member, query members
AMPLIFY_ROUTES = {op.name: op.options for op in AmplifyUIBuilderProtocol.routed_operations()}
LABEL = TEXT.filter(lambda s: s != "" and "/" not in s)


def amplify_member(data, operation: str, member: str, known: dict):
    """A value for one member of an operation's input (its schema's strategy is built once, see draw_document)."""
    schema = AMPLIFY[operation].get("properties", {}).get(member, {})
    return draw_document(data, schema, known, member)


@FUZZ
@given(data=st.data())
def test_amplify_ui_builder_operations(wire, known, data):
    """Every operation on its own route: path labels (real IDs now and then), query members, the payload."""
    operation = data.draw(st.sampled_from(sorted(AMPLIFY_ROUTES)), label="operation")
    route = AMPLIFY_ROUTES[operation]
    labels = re.findall(r"{(\w+)}", route["path"])
    path = route["path"]
    for label in labels:
        choices = [known["amplify"][label]] if label in known["amplify"] else []
        value = data.draw(st.sampled_from(choices) | LABEL if choices else LABEL, label=label)
        path = path.replace("{" + label + "}", quote(value, safe="", errors="surrogatepass"))
    pairs = []
    for member in route.get("query", ()):
        if data.draw(st.booleans(), label=f"has {member}"):
            if data.draw(st.booleans(), label=f"{member} as junk text"):
                value = data.draw(TEXT, label=member)
            else:
                value = amplify_member(data, operation, member, known)
            for item in value if isinstance(value, list) else [value]:
                pairs.append((member, str(item)))
    if "payload" in route:
        document = amplify_member(data, operation, route["payload"], known)
    else:
        members = set(AMPLIFY[operation].get("properties", {})) - set(labels) - set(route.get("query", ()))
        document = {m: amplify_member(data, operation, m, known) for m in sorted(members)}
    body = json_body(data, mutated(data, document) if isinstance(document, dict) else document)
    target = path + ("?" + query_string(pairs) if pairs else "")
    url = wire.url(f"https://amplifyuibuilder.us-east-1.amazonaws.com{target}", target)
    method = data.draw(st.sampled_from([route["method"]] * 9 + ["PUT"]), label="method")
    headers = aws_signed_headers(method, url, body, "amplifyuibuilder", {"Content-Type": "application/json"})
    wire.check("amplifyuibuilder", method, url, headers, body)


@FUZZ
@given(token=TEXT, header=st.sampled_from(["Authorization", "X-Figma-Token"]))
def test_figma_me(wire, token, header):
    value = ("Bearer " + token) if header == "Authorization" else token
    url = wire.url("https://api.figma.com/v1/me", "/v1/me")
    wire.check("amplifyuibuilder", "GET", url, {header: header_bytes(value)}, b"")


DEVPAY_ACTIONS = {
    action: tuple(f"{n}.1" if n == "AdditionalTokens" else n for n in names)
    for action, names in DEVPAY_PARAMETERS.items()
}


def devpay_pairs(data, known: dict) -> tuple[str, list[tuple[str, str]]]:
    action = data.draw(st.sampled_from([*sorted(DEVPAY_ACTIONS), "Nope"]), label="action")
    pairs = [
        ("Action", action),
        ("Version", data.draw(st.sampled_from(["2008-04-28", "2007-12-01"]) | TEXT, label="version")),
    ]
    for name in DEVPAY_ACTIONS.get(action, ()):
        if data.draw(st.integers(0, 9), label=f"has {name}"):  # now and then missing
            pairs.append((name, data.draw(st.one_of(st.just(known.get(name.split(".")[0], "x")), TEXT), label=name)))
    pairs.extend(
        data.draw(
            st.lists(
                st.tuples(
                    st.sampled_from(["AdditionalTokens.\u00b2", "ActivationKey", "Version", "AdditionalTokens"]) | TEXT,
                    TEXT,
                ),
                max_size=2,
            ),
            label="extra",
        )
    )
    return action, pairs


@FUZZ
@given(data=st.data())
def test_devpay_query_actions(wire, known, data):
    _action, pairs = devpay_pairs(data, known)
    host = wire.server_url.split("//", 1)[1] if wire.server_url else "ls.amazonaws.com"
    if data.draw(st.booleans(), label="signed"):
        stamp = data.draw(
            st.one_of(st.just(wire.cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")), TEXT), label="timestamp"
        )
        pairs += [
            ("AWSAccessKeyId", "testing"),
            ("Timestamp", stamp),
            ("SignatureVersion", "2"),
            ("SignatureMethod", "HmacSHA256"),
        ]
        try:
            signature = hmac_b64("testing", v2_string("GET", host, "/", dict(pairs)), "sha256")
        except UnicodeEncodeError:  # a lone surrogate cannot be signed
            signature = "AAAA"
        pairs.append(("Signature", signature))
    url = wire.url("https://ls.amazonaws.com/", "/") + "?" + query_string(pairs)
    wire.check("devpay", "GET", url, {}, b"")


@FUZZ
@given(data=st.data())
def test_devpay_soap_actions(wire, known, data):
    action, pairs = devpay_pairs(data, known)
    soap12 = data.draw(st.booleans(), label="SOAP 1.2")
    namespace = "http://www.w3.org/2003/05/soap-envelope" if soap12 else "http://schemas.xmlsoap.org/soap/envelope/"
    members = "".join(
        f"<{n.split('.')[0]}>{v.replace('&', '&amp;').replace('<', '&lt;')}</{n.split('.')[0]}>"
        for n, v in pairs[2:]
        if n.isidentifier() or "." in n
    )
    encoding = data.draw(st.sampled_from(["UTF-8", "UTF-8", "bogus", "utf-16", "ISO-8859-1"]), label="encoding")
    envelope = (
        f'<?xml version="1.0" encoding="{encoding}"?><s:Envelope xmlns:s="{namespace}"><s:Body>'
        f'<{action} xmlns="http://ls.amazonaws.com/doc/2008-04-28/">{members}</{action}></s:Body></s:Envelope>'
    )
    headers = {
        "Content-Type": "application/soap+xml" if soap12 else "text/xml",
        **({} if soap12 else {"SOAPAction": action}),
    }
    url = wire.url("https://ls.amazonaws.com/", "/devpay/")
    wire.check("devpay", "POST", url, headers, envelope.encode("utf-8", "surrogatepass"))


WUYING = schemas("wuying")


def _rpc_value(value) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def rpc_pairs(data, document: dict) -> list[tuple[str, str]]:
    """The document's members as RPC parameters: a list flattened as the SDKs do (``Name.1``, ``Name.1.Member``), or
    not (sent as JSON text, which no operation takes)."""
    pairs = []
    for key, value in document.items():
        if isinstance(value, list) and data.draw(st.booleans(), label=f"flatten {key!r}"):
            for n, item in enumerate(value, 1):
                members = item.items() if isinstance(item, dict) else [(None, item)]
                pairs += [(f"{key}.{n}" + (f".{m}" if m is not None else ""), _rpc_value(v)) for m, v in members]
        else:
            pairs.append((str(key), _rpc_value(value)))
    return pairs


def check_wuying(wire, data, operation: str, document: dict) -> None:
    pairs = [("Action", operation), ("Version", "2020-10-02"), *rpc_pairs(data, document)]
    pairs += data.draw(
        st.lists(
            st.tuples(st.sampled_from(["Format", "RegionId", "Action"]), st.sampled_from(["XML", "JSON"]) | TEXT),
            max_size=2,
        ),
        label="duplicates",
    )
    method = data.draw(st.sampled_from(["GET", "POST"]), label="method")
    if data.draw(st.booleans(), label="signed"):
        params = dict(
            pairs,
            AccessKeyId="testing",
            SignatureMethod="HMAC-SHA1",
            SignatureVersion="1.0",
            SignatureNonce=data.draw(TEXT, label="nonce") or "n",
            Timestamp=wire.cloud.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        )
        try:
            params["Signature"] = TeaUtils.get_rpcsignature(params, method, "testing")
        except UnicodeEncodeError:
            params["Signature"] = "x"
        pairs = list(params.items())
    encoded = query_string(pairs)
    url = wire.url("https://ecd.cn-hangzhou.aliyuncs.com/", "/")
    if method == "POST":
        wire.check("wuying", "POST", url, {"Content-Type": "application/x-www-form-urlencoded"}, encoded.encode())
    else:
        wire.check("wuying", "GET", url + "?" + encoded, {}, b"")


@FUZZ
@given(data=st.data())
def test_wuying_operations(wire, known, data):
    # DescribeDesktops: an admin API (2020-09-30) action, which the client API does not have
    operation, document = operation_and_document(data, WUYING, "DescribeDesktops", known)
    check_wuying(wire, data, operation, document)


@pytest.mark.parametrize("operation", sorted(WUYING))
@settings(FUZZ, max_examples=4)
@given(data=st.data())
def test_each_wuying_operation(wire, known, operation, data):
    """Every operation of the client API meets hostile input, past the LoginToken (a live one is among the values)."""
    document = draw_document(data, WUYING[operation], known, "document")
    check_wuying(wire, data, operation, mutated(data, document))


USERAPI = schemas("userapi")


STS = schemas("sts")


@FUZZ
@given(data=st.data())
def test_sts_actions(wire, known, data):
    action, document = operation_and_document(data, STS, "MintMoney", known)
    if action == "AssumeRoleWithWebIdentity" and data.draw(st.booleans(), label="a real token"):
        document["WebIdentityToken"] = known["AccessToken"]
    if action == "AssumeRole" and data.draw(st.booleans(), label="a real role"):
        document["RoleArn"] = known["fuzz_role"]
    pairs = [
        ("Action", action),
        ("Version", data.draw(st.sampled_from(["2011-06-15", "2011-06-15", "2011-6-15", ""]), label="version")),
    ]
    for name, value in document.items():
        pairs.extend(query_pairs(name, value))
    body = query_string(pairs).encode("utf-8", "surrogatepass")
    url = wire.url("https://sts.amazonaws.com/", "/")
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if action not in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML") or data.draw(st.booleans(), label="signed"):
        headers = signed_as(data, url, body, "sts", headers, known)
    wire.check("sts", "POST", url, headers, body)


@FUZZ
@given(data=st.data())
def test_sts_issuer_documents(wire, known, data):
    host = data.draw(st.sampled_from([known["issuer_host"], "nobody.tokens.sts.global.api.aws"]), label="issuer")
    path = data.draw(
        st.sampled_from(["/.well-known/jwks.json", "/.well-known/openid-configuration", "/", "/x"]), label="path"
    )
    method = data.draw(st.sampled_from(["GET", "POST", "DELETE"]), label="method")  # HEAD: no body to judge
    url = wire.url(f"https://{host}{path}", path)
    wire.check("sts", method, url, {"Host": host} if wire.server_url else {}, b"")


@FUZZ
@given(data=st.data())
def test_user_api_operations(wire, known, data):
    operation = data.draw(st.sampled_from(["Login", "RefreshToken", "Logout", "Me", "Nope"]), label="operation")
    method = {"Me": "GET"}.get(operation, "POST")
    headers = {"Version": header_bytes(data.draw(st.one_of(st.just("2.0"), TEXT), label="version"))}
    if operation != "Login":
        headers["Authorization"] = header_bytes("Bearer " + data.draw(TEXT, label="token"))
    body = b""
    if operation in USERAPI:
        headers["Content-Type"] = data.draw(
            st.sampled_from(["application/json", "application/problem+json", "text/plain"]), label="content type"
        )
        body = json_body(data, mutated(data, draw_document(data, USERAPI[operation], known, "body")))
    url = wire.url(f"https://userapi.example.com/User/{operation}", f"/User/{operation}")
    wire.check("userapi", method, url, headers, body)
