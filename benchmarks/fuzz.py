"""Bounded fuzzing of a mockcloud server: every service, every operation, mutated and malformed requests.

Run from the repository root:

    python benchmarks/fuzz.py                       # 20000 requests against a LiveServer it starts on 127.0.0.1
    python benchmarks/fuzz.py --requests 2000 --seed 7
    python benchmarks/fuzz.py --url http://127.0.0.1:4566   # a server already running on loopback

It generates requests from each operation's schema (``mockcloud/services/*/schemas``;
DevPay's Query parameters from the table below), signs some of them as real
clients would (SigV4, AWS Query v0/v1/v2, Alibaba RPC v1) and mutates them:
wrong types, huge and tiny numbers, unicode (lone surrogates, control
characters, other scripts' digits), deep nesting, missing and duplicated
parameters, bad encodings, broken signatures and time stamps, and broken
framing sent over a raw socket. Every reply is judged by
``tests/service_formats.py``: a 5xx internal error, or a reply not in the
service's own format, is an internal error.

A share of the requests (``--keep-alive``, default 40%) goes over one
keep-alive connection per worker, a quarter of those as HEAD, each reply read
by its own framing (RFC 9112 §6.3) as an HTTP client does. A reply that does
not begin with a status line (``http.client``'s ``BadStatusLine``), or bytes
that arrive before the next request was sent (a body after a reply to HEAD,
a Content-Length that lies), mean requests and replies are out of step: a
desynchronized connection. It prints the counts by status and service, and
the keep-alive counts, and exits 1 when there was any internal error or
desynchronized reply.

Standard library and mockcloud only; traffic goes to loopback only, and the
run stops by itself (``--requests`` and ``--seconds`` bound it).
"""

from __future__ import annotations

import argparse
import base64
import collections
import hashlib
import hmac
import ipaddress
import json
import random
import re
import select
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mockcloud.core.auth import alibaba as alibaba_auth  # noqa: E402
from mockcloud.core.auth import aws_query_signature as query_auth  # noqa: E402
from mockcloud.core.auth.sigv4 import signing_key  # noqa: E402
from mockcloud.services.amplifyuibuilder.protocol import AmplifyUIBuilderProtocol  # noqa: E402
from mockcloud.services.devpay.protocol import PARAMETERS as DEVPAY_PARAMETERS  # noqa: E402
from mockcloud.services.devpay.protocol import DevpayProtocol  # noqa: E402
from tests.service_formats import query_pairs, server_refused_framing, verdict  # noqa: E402

SCHEMAS = ROOT / "mockcloud" / "services"
KEY = SECRET = "testing"
REGION = "us-east-1"
LICENSE_ARN = "arn:aws:license-manager::123456789012:license:l-0123456789abcdef0123456789abcdef"
DESKTOP_KEY, WEB_KEY = "ADMAY7DVLJTWHJ76MMBMQEXAMPLE", "AC6PMWXPBRPDDB426RW4X76I2MXQ"
FIGMA_CLIENT, FIGMA_REDIRECT = "mockcloud-amplify-figma-client", "https://mockcloud.example/figma/callback"
USERAPI_USER, USERAPI_PASSWORD = "api_user", "secure_password_123"
# WUYING's embedded user (a logon for the fuzz's client) and her desktop
WUYING_LOGON = {
    "RegionId": "cn-hangzhou",
    "ClientId": "fuzz-client",
    "EndUserId": "alice",
    "Password": "Alice-Passw0rd",
}
WUYING_DESKTOP = "ecd-0123456789abcdefg"
TIMEOUT = 10

# DevPay's actions and their parameters (the License Service has no JSON schemas: Query parameters are strings).
DEVPAY_ACTIONS = {
    action: tuple(
        p for name in names for p in ((f"{name}.1", f"{name}.2") if name in DevpayProtocol.list_params else (name,))
    )
    for action, names in DEVPAY_PARAMETERS.items()
}
USERAPI_OPERATIONS = {"Login": "POST", "RefreshToken": "POST", "Logout": "POST", "Me": "GET"}
# every Amplify UI Builder operation as its @operation declares it: method, path template, payload, query members
AMPLIFY_ROUTES = {op.name: dict(op.options) for op in AmplifyUIBuilderProtocol.routed_operations()}
AMPLIFY_APP, AMPLIFY_ENV = "dfuzz1", "fuzz"

WEIRD_STRINGS = [
    "",
    " ",
    "\u0000",
    "\x01\x1f\x7f",
    "\ud800",
    "\udfff",
    "a\udc80b",
    "\U0001d49c" * 3,
    "\u00b2",
    "\u0661\u0662",
    "\u202eRTL",
    "%00",
    "%ff",
    "<x>&amp;</x>",
    "]]>",
    "\"'\\",
    "\ufeff",
    "\ufffe",
    "x" * 5000,
    "☃" * 300,
    "\r\n\r\n",
    "{ProductToken}",
    "{UserToken}A",
    "P" + "9" * 60 + "Y",
    "PT-1S",
    "2024-02-30T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "9999-12-31T23:59:59-14:00",
    "2024-01-01T00:00:00+99:00",
    "null",
    "true",
    "1e400",
    "-0",
]
WEIRD_NUMBERS = [
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**63,
    -(2**63) - 1,
    10**400,
    1e308,
    -1e308,
    1e-320,
    0.5,
    -0.0,
]


# ---- a request, sent as bytes --------------------------------------------------------


@dataclass
class Case:
    service: str
    label: str
    method: str = "POST"
    target: str = "/"  # path and query, as sent
    headers: list = field(default_factory=list)  # (name, value) with str or bytes values
    body: bytes = b""
    raw: bytes | None = None  # the whole request as bytes (framing cases)

    def header(self, name: str, value) -> None:
        self.headers.append((name, value))

    def well_framed(self) -> bool:
        """Whether its request ends where the server will think it ends: no line break in the target or a
        header value (an injected header, or a head that ends early), no length or coding of its own."""
        names = {name.lower() for name, _ in self.headers}
        texts = [self.target, *(v.decode("latin-1") if isinstance(v, bytes) else v for _, v in self.headers)]
        return not ({"content-length", "transfer-encoding"} & names) and not any(
            "\r" in text or "\n" in text for text in texts
        )

    def wire(self, host: str, keep_alive: bool = False) -> bytes:
        if self.raw is not None:
            return self.raw
        lines = [f"{self.method} {self.target} HTTP/1.1".encode("latin-1")]
        names = {name.lower() for name, _ in self.headers}
        if "host" not in names:
            lines.append(b"Host: " + host.encode())
        for name, value in self.headers:
            lines.append(
                name.encode("latin-1")
                + b": "
                + (value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass"))
            )
        if "content-length" not in names and "transfer-encoding" not in names:
            lines.append(b"Content-Length: " + str(len(self.body)).encode())
        if not keep_alive:
            lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


def exchange(address: tuple[str, int], data: bytes) -> tuple[int, list, bytes]:
    """Send the bytes, read the reply to its end: (status, headers, body); status 0 when none came."""
    with socket.create_connection(address, timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server may answer and close before reading everything
            pass
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
    reply = b"".join(chunks)
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    try:
        status = int(lines[0].split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0, [], reply
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
    length = next((v for n, v in headers if n.lower() == "content-length"), None)
    if length is not None and length.isdigit():
        body = body[: int(length)]
    return status, headers, body


class Desynchronized(Exception):
    """The connection's replies are out of step with its requests."""

    def __init__(self, kind: str, detail: bytes, previous: bytes = b"") -> None:
        super().__init__(
            f"{kind}: {detail[:120]!r}" + (f"\n    after the request: {previous[:300]!r}" if previous else "")
        )
        self.kind = kind


_STATUS_LINE = re.compile(rb"HTTP/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?\r\n")


class KeepAlive:
    """One keep-alive connection: a request, its reply read by its framing, then the next request.

    ``exchange`` raises :class:`Desynchronized` when a reply does not begin with
    a status line (BadStatusLine) or bytes arrive that no request asked for.
    """

    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.buffer = b""
        self.connections = 0
        self.previous = b""  # the request before: stray bytes are most likely its

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock, self.buffer = None, b""

    def stray(self, wait: float = 0.0) -> bytes:
        """Bytes the server sent that no request asked for (read without waiting, or ``wait`` seconds)."""
        if self.sock is None:
            return b""
        found = self.buffer
        while True:
            readable, _, _ = select.select([self.sock], [], [], wait)
            if not readable:
                return found
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                return found
            if not chunk:  # the server closed it: fine, between requests
                self.close()
                return found
            found += chunk
            wait = 0.0

    def exchange(self, data: bytes, method: str) -> tuple[int, list, bytes]:
        if self.sock is not None:
            early = self.stray()
            if early:
                self.close()
                raise Desynchronized("stray bytes", early, self.previous)
        if self.sock is None:
            self.sock = socket.create_connection(self.address, timeout=TIMEOUT)
            self.connections += 1
        try:
            self.sock.sendall(data)
        except OSError:  # closed by the server meanwhile (idle): once more on a new connection
            self.close()
            return self.exchange(data, method)
        self.previous = data
        head = self._read_until(b"\r\n\r\n")
        match = _STATUS_LINE.match(head)
        if match is None:
            self.close()
            raise Desynchronized("BadStatusLine", head, self.previous)
        status = int(match.group(1))
        headers = []
        for line in head[match.end() :].split(b"\r\n"):
            if line:
                name, _, value = line.partition(b":")
                headers.append((name.decode("latin-1").strip(), value.decode("latin-1").strip()))
        fields = {name.lower(): value for name, value in headers}
        if method == "HEAD" or status in (204, 304) or status < 200:
            body = b""
        elif "chunked" in fields.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif fields.get("content-length", "").isdigit():
            body = self._read_exactly(int(fields["content-length"]))
        else:  # to the end of the connection
            body = self.buffer + self._read_all()
            self.close()
        if "close" in fields.get("connection", "").lower():
            self.close()
        return status, headers, body

    def _recv(self) -> bytes:
        assert self.sock is not None
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionError("the server closed the connection in the middle of a reply")
        return chunk

    def _read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self.buffer += self._recv()
        found, _, self.buffer = self.buffer.partition(marker)
        return found + b"\r\n"

    def _read_exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self.buffer += self._recv()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def _read_chunked(self) -> bytes:
        body = b""
        while True:
            size = int(self._read_until(b"\r\n").strip().split(b";")[0], 16)
            if size == 0:
                self._read_until(b"\r\n")  # no trailers here
                return body
            body += self._read_exactly(size)
            self._read_exactly(2)

    def _read_all(self) -> bytes:
        data = b""
        try:
            while chunk := self.sock.recv(65536) if self.sock else b"":
                data += chunk
        except OSError:
            pass
        return data


# ---- signers (from the protocols' own definitions) ----------------------------------


def amz_date(now: float) -> str:
    return datetime.fromtimestamp(now, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def sigv4_sign(
    case: Case,
    host: str,
    service: str,
    now: float,
    *,
    date: str | None = None,
    scope_service: str | None = None,
    payload_hash: str | None = None,
    token: str | None = None,
    presign: int | None = None,
    key: tuple[str, str] = (KEY, SECRET),
) -> None:
    """Sign the case as an SDK does: an Authorization header (host and x-amz-* headers signed), or with
    ``presign`` (X-Amz-Expires seconds) the query-string form, as botocore's SigV4QueryAuth. ``key`` is
    the (access key id, secret) to sign with: the default test keys unless a role session's."""
    key_id, secret = key
    date = date or amz_date(now)
    scope = f"{date[:8]}/{REGION}/{scope_service or service}/aws4_request"
    if presign is None:
        case.header("X-Amz-Date", date)
        if token is not None:
            case.header("X-Amz-Security-Token", token)
        if payload_hash is not None:
            case.header("X-Amz-Content-Sha256", payload_hash)
    signed = {"host": host}
    for name, value in case.headers:
        lower = name.lower()
        if lower.startswith("x-amz-") or lower == "content-type":
            signed[lower] = value.decode("latin-1") if isinstance(value, bytes) else value
    names = sorted(signed)
    if presign is not None:
        params = [
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            ("X-Amz-Credential", f"{key_id}/{scope}"),
            ("X-Amz-Date", date),
            ("X-Amz-Expires", str(presign)),
            ("X-Amz-SignedHeaders", ";".join(names)),
        ]
        if token is not None:
            params.append(("X-Amz-Security-Token", token))
        case.target += ("&" if "?" in case.target else "?") + query_string(params)
    path, _, query = case.target.partition("?")
    canonical_query = "&".join(sorted(p if "=" in p else p + "=" for p in query.split("&") if p))
    canonical = "\n".join(
        [
            case.method,
            path,
            canonical_query,
            "".join(f"{n}:{' '.join(signed[n].split())}\n" for n in names),
            ";".join(names),
            hashlib.sha256(case.body).hexdigest(),
        ]
    )
    to_sign = (
        f"AWS4-HMAC-SHA256\n{date}\n{scope}\n{hashlib.sha256(canonical.encode('utf-8', 'surrogatepass')).hexdigest()}"
    )
    signature = hmac.new(
        signing_key(secret, date[:8], REGION, scope_service or service),
        to_sign.encode("utf-8", "surrogatepass"),
        "sha256",
    ).hexdigest()
    if presign is None:
        case.header(
            "Authorization",
            f"AWS4-HMAC-SHA256 Credential={key_id}/{scope}, SignedHeaders={';'.join(names)}, Signature={signature}",
        )
    else:
        case.target += f"&X-Amz-Signature={signature}"


def query_string(pairs: list[tuple[str, str]]) -> str:
    return "&".join(
        f"{quote(n, safe='', errors='surrogatepass')}={quote(v, safe='', errors='surrogatepass')}" for n, v in pairs
    )


# ---- values from schemas, and their mutations ------------------------------------------


class Generator:
    """Random requests for one run (one seeded generator; ``known`` holds live tokens and keys)."""

    def __init__(self, rng: random.Random, host: str, known: dict) -> None:
        self.rng, self.host, self.known = rng, host, known
        self.schemas = {
            service: {p.stem: json.loads(p.read_text()) for p in sorted((SCHEMAS / service / "schemas").glob("*.json"))}
            for service in ("licensemanager", "amplifyuibuilder", "wuying", "userapi", "sts")
        }

    # values
    def value(self, schema: dict, name: str = "", depth: int = 0):
        rng = self.rng
        if name in self.known and rng.random() < 0.7:
            return self.known[name]
        if "enum" in schema:
            return rng.choice(schema["enum"])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = rng.choice(kind)
        if kind == "object" or "properties" in schema:
            props = schema.get("properties", {})
            required = set(schema.get("required", ()))
            return {k: self.value(v, k, depth + 1) for k, v in props.items() if k in required or rng.random() < 0.5}
        if kind == "array":
            low, high = schema.get("minItems", 0), min(schema.get("maxItems", 3), 3)
            return [
                self.value(schema.get("items", {}), name, depth + 1) for _ in range(rng.randint(low, max(low, high)))
            ]
        if kind == "integer":
            return rng.randint(max(schema.get("minimum", -5), -5), min(schema.get("maximum", 1000), 1000))
        if kind == "number":
            return rng.uniform(-1000, 1000)
        if kind == "boolean":
            return rng.random() < 0.5
        low, high = schema.get("minLength", 1), min(schema.get("maxLength", 24), 24)
        return "".join(
            rng.choice("abcdefghijklmnopqrstuvwxyzABCDEF0123456789-_") for _ in range(rng.randint(low, max(low, high)))
        )

    def mutate_wire(self, case: Case) -> None:
        """Header and request-target trouble any service may meet."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.3:
            name = rng.choice(
                [
                    "Content-Type",
                    "X-Amz-Target",
                    "X-Amz-Date",
                    "Host",
                    "Authorization",
                    "Version",
                    "X-Forwarded-For",
                    "Cookie",
                ]
            )
            case.header(
                name,
                rng.choice(
                    [
                        b"\xff\xfe",
                        b"\xc2\xb2",
                        "\u00e9t\u00e9",
                        "",
                        "a" * 8000,
                        "application/x-amz-json-1.1; charset=bogus",
                        "multipart/form-data; boundary=",
                        "text/xml; charset=utf-16",
                    ]
                ),
            )
        elif roll < 0.5 and case.headers:
            case.headers.pop(rng.randrange(len(case.headers)))
        elif roll < 0.65 and case.headers:
            case.headers.append(rng.choice(case.headers))  # the same header twice
        else:
            path, mark, query = case.target.partition("?")
            path = rng.choice(
                [
                    path + "%",
                    path + "%zz",
                    path + "%ff%fe",
                    "//" + path.lstrip("/"),
                    path + "/../..",
                    path + "/" + "a" * 3000,
                    path + "%2F",
                    path.replace("/", "/./"),
                    "*",
                    "http://127.0.0.1" + path,
                ]
            )
            case.target = (
                path
                + mark
                + query
                + rng.choice(
                    [
                        "",
                        "&",
                        "&&=&",
                        "&%ZZ=1",
                        "&x=%ED%A0%80",
                        "&" + "y=1&" * 200,
                        "&Version=\xff",
                        "&\xff\xfe=\xc3",
                        "&Format=XML&x=\x7f\x80",
                    ]
                )
            )  # raw bytes, not UTF-8

    def weird(self):
        rng = self.rng
        roll = rng.random()
        if roll < 0.45:
            return rng.choice(WEIRD_STRINGS)
        if roll < 0.75:
            return rng.choice(WEIRD_NUMBERS)
        if roll < 0.85:
            depth = rng.choice([10, 65, 200, 500])
            value: object = 1
            for _ in range(depth):
                value = [value]
            return value
        return rng.choice([None, True, {}, [], {"a": {"b": [1, "x"]}}, ["\ud800"]])

    def mutate_document(self, document: dict) -> dict:
        """Replace, delete or add members at random places of a JSON document."""
        rng = self.rng
        for _ in range(rng.randint(1, 3)):
            holder, key = self._random_slot(document)
            action = rng.random()
            if action < 0.6 or (holder is document and not holder):
                if isinstance(holder, list) and not holder:
                    holder.append(self.weird())
                else:
                    holder[key] = self.weird()
            elif action < 0.8 and isinstance(holder, dict) and key in holder:
                del holder[key]
            elif isinstance(holder, dict):
                holder[rng.choice(["Extra", "__type", "", "\ud800", "a" * 300])] = self.weird()
        return document

    def _random_slot(self, document):
        holder, key = document, self.rng.choice(list(document) or [""])
        while (
            isinstance(holder.get(key) if isinstance(holder, dict) else None, (dict, list)) and self.rng.random() < 0.5
        ):
            inner = holder[key]
            if isinstance(inner, dict) and inner:
                holder, key = inner, self.rng.choice(list(inner))
            elif isinstance(inner, list) and inner:
                holder, key = inner, self.rng.randrange(len(inner))
            else:
                break
        return holder, key

    def json_body(self, document) -> bytes:
        """A JSON body, sometimes broken as text: duplicate keys, bad encodings, truncation, non-objects."""
        rng = self.rng
        text = json.dumps(document, ensure_ascii=rng.random() < 0.7)
        roll = rng.random()
        if roll < 0.6:
            return text.encode("utf-8", "surrogatepass")
        if roll < 0.65 and text.endswith("}") and len(text) > 2:
            key = rng.choice(list(document)) if isinstance(document, dict) and document else "k"
            return (text[:-1] + f",{json.dumps(key)}:{json.dumps(self.weird())}}}").encode("utf-8", "surrogatepass")
        if roll < 0.7:
            return text.encode("utf-16", "surrogatepass")
        if roll < 0.75:
            return text.encode("utf-8", "surrogatepass")[: rng.randrange(max(1, len(text)))]
        if roll < 0.8:
            return b"\xef\xbb\xbf" + text.encode("utf-8", "surrogatepass")
        if roll < 0.85:
            return text.encode("latin-1", "replace") + b"\xff\xfe\xc0\xaf\xed\xa0\x80"
        if roll < 0.9:
            return rng.choice([b"", b"[]", b'"x"', b"null", b"1", b"NaN", b"{", b"}", b"{}garbage", b'{"a":Infinity}'])
        return b"[" * 50_000 + b"]" * 50_000

    def document(self, service: str, operation: str) -> dict:
        schema = self.schemas[service].get(operation, {"type": "object"})
        document = self.value(schema)
        if self.rng.random() < 0.5:
            document = self.mutate_document(document)
        return document

    # ---- the services ---------------------------------------------------------------
    def licensemanager(self, now: float) -> Case:
        rng = self.rng
        operation = rng.choice([*self.schemas["licensemanager"], "MintMoney", ""])
        case = Case("licensemanager", f"LM {operation}")
        case.header("Content-Type", rng.choice(["application/x-amz-json-1.1"] * 4 + ["application/json", "text/plain"]))
        case.header(
            "X-Amz-Target",
            f"AWSLicenseManager.{operation}" if rng.random() < 0.95 else rng.choice(["", "x.y.z", "AWSLicenseManager"]),
        )
        case.body = self.json_body(self.document("licensemanager", operation))
        if rng.random() < 0.05:
            case.method = rng.choice(["GET", "PUT", "DELETE"])
        self.aws_auth(case, "license-manager", now)
        return case

    def amplifyuibuilder(self, now: float) -> Case:
        rng = self.rng
        if rng.random() < 0.15:  # Figma's GET /v1/me beside it
            case = Case("amplifyuibuilder", "Figma me", "GET", rng.choice(["/v1/me", "/v1/me/", "/v1/files"]))
            token = self.known.get("figma_access", "x") if rng.random() < 0.5 else str(self.weird())
            case.header("Authorization", rng.choice(["Bearer ", "bearer ", "Basic ", ""]) + token)
            return case
        if rng.random() < 0.7:  # Amplify Studio's operations, each on its own route
            return self.amplify_studio(now)
        operation = rng.choice(["ExchangeCodeForToken", "RefreshToken"])
        provider = "figma" if rng.random() < 0.85 else rng.choice(["", "%FF", "%00", "x" * 300, "..", "figma%2F.."])
        path = f"/tokens/{provider}" + ("/refresh" if operation == "RefreshToken" else "")
        document = self.document("amplifyuibuilder", operation)
        body = document.get("request") if operation == "ExchangeCodeForToken" else document.get("refreshTokenBody")
        if not isinstance(body, dict) or rng.random() < 0.1:
            body = document
        if operation == "ExchangeCodeForToken" and rng.random() < 0.5:
            code = (
                self.known["figma_code"]() if "figma_code" in self.known else "c"
            )  # single-use: a fresh one each time
            body.update({"code": code, "redirectUri": FIGMA_REDIRECT, "clientId": FIGMA_CLIENT})
            if rng.random() < 0.5:
                self.mutate_document(body)
        case = Case("amplifyuibuilder", f"Amplify {operation}", rng.choice(["POST"] * 9 + ["GET"]), path)
        case.header("Content-Type", "application/json")
        case.body = self.json_body(body)
        self.aws_auth(case, "amplifyuibuilder", now)
        return case

    def amplify_studio(self, now: float) -> Case:
        """Any Amplify UI Builder operation but the token ones: its path labels (a real record's now and then),
        its query members, its payload or body members, from its schema, mutated."""
        rng = self.rng
        operation = rng.choice(sorted(set(AMPLIFY_ROUTES) - {"ExchangeCodeForToken", "RefreshToken"}))
        route, schema = AMPLIFY_ROUTES[operation], self.schemas["amplifyuibuilder"][operation]
        properties = schema.get("properties", {})
        path = route["path"]
        labels = [part[1:-1] for part in path.split("/") if part.startswith("{")]
        seeded = self.known.get("amplify", {})
        for label in labels:
            value = seeded.get(label) if label in seeded and rng.random() < 0.7 else self.weird()
            text = value if isinstance(value, str) else json.dumps(value)
            path = path.replace("{" + label + "}", quote(text, safe="", errors="surrogatepass") or "x")
        pairs = []
        for member in route.get("query", ()):
            if rng.random() < 0.5:
                value = self.value(properties.get(member, {}), member) if rng.random() < 0.8 else self.weird()
                for item in value if isinstance(value, list) else [value]:
                    pairs.append(f"{member}={quote(str(item), safe='', errors='surrogatepass')}")
        if "payload" in route:
            document = self.value(properties.get(route["payload"], {}))
        else:
            members = set(properties) - set(labels) - set(route.get("query", ()))
            document = {m: self.value(properties[m], m) for m in members}
        if isinstance(document, dict) and rng.random() < 0.5:
            document = self.mutate_document(document)
        target = path + ("?" + "&".join(pairs) if pairs else "")
        method = route["method"] if rng.random() < 0.9 else rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE"])
        case = Case("amplifyuibuilder", f"Amplify {operation}", method, target)
        case.header("Content-Type", "application/json")
        case.body = self.json_body(document)
        self.aws_auth(case, "amplifyuibuilder", now)
        return case

    def aws_auth(self, case: Case, service: str, now: float) -> None:
        """Sign properly, or not at all, or with one thing wrong."""
        rng = self.rng
        roll = rng.random()
        session = self.known.get("session")
        if roll < 0.12 and session is not None:  # a role session's keys: the IAM check of every call
            key_id, secret, token = session
            sigv4_sign(case, self.host, service, now, token=token, key=(key_id, secret))
        elif roll < 0.55:
            sigv4_sign(case, self.host, service, now)
        elif roll < 0.62:
            pass
        elif roll < 0.68:
            sigv4_sign(
                case,
                self.host,
                service,
                now,
                payload_hash=rng.choice(
                    ["UNSIGNED-PAYLOAD", "0" * 64, "\u00b2", hashlib.sha256(case.body).hexdigest()]
                ),
            )
        elif roll < 0.73:
            sigv4_sign(case, self.host, service, now, token=rng.choice(["x", "\u00e9" * 4, "a" * 2000]))
        elif roll < 0.8:
            sigv4_sign(
                case,
                self.host,
                service,
                now,
                date=rng.choice(
                    [
                        "00000101T000000Z",
                        "99991231T235959Z",
                        "20240231T000000Z",
                        "2024-01-01T00:00:00Z",
                        "\u00b2" * 16,
                        "20240101T250000Z",
                        amz_date(now - 3600),
                    ]
                ),
            )
        elif roll < 0.85:
            sigv4_sign(
                case,
                self.host,
                service,
                now,
                scope_service=rng.choice(["sts", "", "license-manager", "amplifyuibuilder"]),
            )
        elif roll < 0.87:  # presigned properly, for a while
            sigv4_sign(
                case,
                self.host,
                service,
                now,
                presign=rng.choice([1, 60, 604800]),
                token=rng.choice([None, None, "x"]),
                date=rng.choice([None, None, amz_date(now - 120), amz_date(now + 3600)]),
            )
        elif roll < 0.9:  # presigned-looking query parameters
            date = amz_date(now)
            params = [
                ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
                ("X-Amz-Credential", f"{KEY}/{date[:8]}/{REGION}/{service}/aws4_request"),
                ("X-Amz-Date", date),
                ("X-Amz-Expires", str(rng.choice([0, 1, 604800, 604801, -5, 10**30]))),
                ("X-Amz-SignedHeaders", "host"),
                ("X-Amz-Signature", rng.choice(["0" * 64, "\u00e9", ""])),
            ]
            case.target += ("&" if "?" in case.target else "?") + query_string(
                rng.sample(params, rng.randint(3, len(params)))
            )
        else:
            sigv4_sign(case, self.host, service, now)
            name, value = case.headers[-1]
            case.headers[-1] = (
                name,
                rng.choice(
                    [
                        value[:-1] + "\u00b2",
                        value.replace("Signature=", "Signature=zz"),
                        value.replace(", ", ","),
                        "AWS4-HMAC-SHA256",
                        "AWS4-HMAC-SHA256 Credential=a/b, SignedHeaders=, Signature=",
                        "AWS4-HMAC-SHA512 x",
                        value + ", Signature=00",
                        value.replace("SignedHeaders=", "SignedHeaders=x-missing;"),
                        b"AWS4-HMAC-SHA256 Credential=\xff\xfe/1/2/3/aws4_request, SignedHeaders=host, Signature=00",
                    ]
                ),
            )

    def devpay(self, now: float) -> Case:
        rng = self.rng
        if rng.random() < 0.25:
            return self.devpay_soap()
        action = rng.choice([*DEVPAY_ACTIONS, "MintMoney"])
        pairs = [
            ("Action", action),
            (
                "Version",
                rng.choice(["2008-04-28"] * 8 + ["2007-12-01", "2008-4-28", "\u0662\u0660\u0660\u0668-04-28", ""]),
            ),
        ]
        for name in DEVPAY_ACTIONS.get(action, ()):
            if rng.random() < 0.85:
                pairs.append((name, self.devpay_value(name)))
        if rng.random() < 0.3:
            pairs.append(
                (
                    rng.choice(
                        [
                            "AdditionalTokens.\u00b2",
                            "AdditionalTokens.1" + "0" * 40,
                            "AdditionalTokens",
                            "ActivationKey",
                        ]
                    ),
                    str(self.weird()),
                )
            )
        signed = rng.random() < 0.6 and action != "ActivateDesktopProduct"
        if signed or rng.random() < 0.2:
            version = rng.choice(["0", "1", "2", "2", "3", None])
            stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if rng.random() < 0.25:
                stamp = rng.choice(
                    [
                        *WEIRD_STRINGS[24:31],
                        "2024-01-01T00:00:00.\u00b2Z",
                        "0001-01-01T00:00:00+01:00",
                        "9999-12-31T23:59:59-01:00",
                    ]
                )
            pairs += [
                ("AWSAccessKeyId", KEY if rng.random() < 0.9 else "nobody"),
                (rng.choice(["Timestamp"] * 5 + ["Expires"]), stamp),
            ]
            if version is not None:
                pairs.append(("SignatureVersion", version))
            method = rng.choice(["GET", "POST"])
            if version == "2":
                pairs.append(("SignatureMethod", rng.choice(["HmacSHA256", "HmacSHA1", "HmacMD5"])))
            params = dict(reversed(pairs))
            try:
                if version == "2":
                    to_sign = query_auth.string_to_sign_v2(method, self.host, "/", pairs)
                elif version == "1":
                    to_sign = query_auth.string_to_sign_v1(pairs)
                else:
                    to_sign = query_auth.string_to_sign_v0(params)
                method_name = params.get("SignatureMethod", "HmacSHA1") if version == "2" else "HmacSHA1"
                signature = query_auth.sign(
                    SECRET, to_sign, method_name if method_name in query_auth.SIGNATURE_METHODS else "HmacSHA1"
                )
            except UnicodeEncodeError:  # a lone surrogate cannot be signed: send a wrong signature
                signature = "AAAA"
            pairs.append(("Signature", signature if rng.random() < 0.85 else str(self.weird())))
        else:
            method = rng.choice(["GET", "POST", "PUT"])
        return self.query_case(Case("devpay", f"DevPay {action}", method), query_string(pairs))

    def sts(self, now: float) -> Case:
        rng = self.rng
        if rng.random() < 0.03:  # an outbound issuer's documents beside the API
            issuer = self.known.get("issuer_host", "nobody.tokens.sts.global.api.aws")
            path = rng.choice(["/.well-known/jwks.json", "/.well-known/openid-configuration", "/", "/x"])
            return Case("sts", "STS issuer", rng.choice(["GET", "GET", "POST"]), path, [("Host", issuer)])
        action = rng.choice([*self.schemas["sts"], "MintMoney", ""])
        pairs = [
            ("Action", action),
            ("Version", rng.choice(["2011-06-15"] * 8 + ["2011-6-15", "\u0662\u0660\u0661\u0661-06-15", ""])),
        ]
        document = self.document("sts", action) if action in self.schemas["sts"] else {}
        unsigned = action in ("AssumeRoleWithWebIdentity", "AssumeRoleWithSAML")
        if action == "AssumeRoleWithWebIdentity" and rng.random() < 0.5:
            document["WebIdentityToken"] = self.known.get("lm_access", "x") if rng.random() < 0.7 else str(self.weird())
            document["RoleArn"] = "arn:aws:iam::123456789012:role/AWSLicenseManagerConsumptionRole"
        if action == "AssumeRole" and rng.random() < 0.5:
            document["RoleArn"] = self.known.get("fuzz_role", document.get("RoleArn"))
        if action == "GetDelegatedAccessToken" and rng.random() < 0.3:
            document["TradeInToken"] = self.known.get("trade_in", "dt-x")
        for name, value in document.items():
            pairs.extend(query_pairs(name, value))
        case = self.query_case(Case("sts", f"STS {action}", rng.choice(["POST"] * 4 + ["GET"])), query_string(pairs))
        if not unsigned or rng.random() < 0.2:
            self.aws_auth(case, "sts", now)
        return case

    def query_case(self, case: Case, encoded: str) -> Case:
        """Parameters in the query string, or (mostly, for a POST) in a form body."""
        if case.method == "POST" and self.rng.random() < 0.7:
            case.header("Content-Type", "application/x-www-form-urlencoded")
            case.body = encoded.encode()
        else:
            case.target = "/?" + encoded
        return case

    def devpay_value(self, name: str) -> str:
        rng = self.rng
        if rng.random() < 0.15:
            return str(self.weird())
        if name == "ActivationKey":
            return rng.choice([DESKTOP_KEY, WEB_KEY, "NOTAKEY"])
        if name.startswith(("ProductToken", "AdditionalTokens")):
            return self.known.get(rng.choice(["desktop_product", "web_product"]), "{ProductToken}x")
        if name == "UserToken":
            return self.known.get("user_token", "{UserToken}x")
        if name == "ProductCode":
            return rng.choice(["6883959E", "774F4FF8", "ZZZZZZZZ"])
        if name == "TokenExpiration":
            return rng.choice(["PT3600S", "3600", "P1Y2M3DT4H5M6.5S", "P", "-PT1S"])
        return rng.choice(["PPHUXKJYQBLH753XI5BBW5DMW54", "x"])

    def devpay_soap(self) -> Case:
        rng = self.rng
        soap12 = rng.random() < 0.4
        action = rng.choice([*DEVPAY_ACTIONS, "Nope"])
        params = "".join(
            f"<{n.split('.')[0]}>{self.xml_text(self.devpay_value(n))}</{n.split('.')[0]}>"
            for n in DEVPAY_ACTIONS.get(action, ())
        )
        envelope_ns = (
            "http://www.w3.org/2003/05/soap-envelope" if soap12 else "http://schemas.xmlsoap.org/soap/envelope/"
        )
        roll = rng.random()
        if roll < 0.1:
            envelope_ns = "urn:nope"
        encoding = rng.choice(["UTF-8"] * 6 + ["bogus", "utf-16", "latin-1", ""])
        decl = f'<?xml version="1.0" encoding="{encoding}"?>' if encoding else ""
        body = (
            f'{decl}<s:Envelope xmlns:s="{envelope_ns}"><s:Body><{action} xmlns="http://ls.amazonaws.com/doc/2008-04-28/">'
            f"{params}</{action}></s:Body></s:Envelope>"
        )
        if roll > 0.85:
            body = rng.choice(
                [
                    body[: rng.randrange(len(body))],
                    "<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>",
                    "<a>" * 5000 + "</a>" * 5000,
                    body.replace("<s:Body>", "<s:Body><x/>"),
                    "not xml",
                    body + "<trailing/>",
                ]
            )
        case = Case("devpay", f"DevPay SOAP {action}", "POST", "/devpay/")
        case.header("Content-Type", "application/soap+xml; charset=utf-8" if soap12 else "text/xml; charset=utf-8")
        if not soap12 and rng.random() < 0.8:
            case.header("SOAPAction", action)
        case.body = body.encode("utf-8", "surrogatepass")
        return case

    @staticmethod
    def xml_text(value: str) -> str:
        return value.replace("&", "&amp;").replace("<", "&lt;")

    def wuying(self, now: float) -> Case:
        rng = self.rng
        operation = rng.choice([*self.schemas["wuying"], "DescribeDesktops"])  # an admin API (2020-09-30) action
        document = self.document("wuying", operation)
        pairs = [("Action", operation), ("Version", "2020-10-02" if rng.random() < 0.95 else "2019-01-01")]
        for key, value in document.items():
            if isinstance(value, list) and rng.random() < 0.8:  # flattened as the SDKs send lists: Name.1, Name.1.Key
                for n, item in enumerate(value, 1):
                    members = item.items() if isinstance(item, dict) else [(None, item)]
                    pairs += [(f"{key}.{n}" + (f".{m}" if m else ""), self.rpc_text(v)) for m, v in members]
            else:
                pairs.append((key, self.rpc_text(value)))
        if rng.random() < 0.3:
            pairs.append(("Format", rng.choice(["XML", "xml", "JSON", "yaml"])))
        if rng.random() < 0.15:
            pairs.append((rng.choice([k for k, _ in pairs]), str(self.weird())))  # a duplicated parameter
        if rng.random() < 0.5:
            stamp = datetime.fromtimestamp(now, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            if rng.random() < 0.2:
                stamp = rng.choice(
                    [
                        "0000-01-01T00:00:00Z",
                        "2024-02-30T00:00:00Z",
                        "\u0662024-01-01T00:00:00Z",
                        "2024-01-01T00:00:00.\u00b2Z",
                    ]
                )
            pairs += [
                ("AccessKeyId", KEY),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureVersion", "1.0"),
                ("SignatureNonce", f"{rng.random()}"),
                ("Timestamp", stamp),
            ]
            method = rng.choice(["GET", "POST"])
            params = dict(pairs)
            try:
                signature = alibaba_auth.rpc_signature(SECRET, alibaba_auth.rpc_string_to_sign(method, params))
            except UnicodeEncodeError:
                signature = "x"
            pairs.append(("Signature", signature if rng.random() < 0.9 else str(self.weird())))
        else:
            method = rng.choice(["GET", "POST", "DELETE"])
        encoded = query_string(pairs)
        if rng.random() < 0.1:  # raw bytes the decoder must survive
            encoded += "&" + rng.choice(["%ED%A0%80=1", "a=%FF%FE", "%=%", "b=%C0%AF", "Format=XML&RegionId=%01"])
        case = self.query_case(Case("wuying", f"WUYING {operation}", method), encoded)
        if rng.random() < 0.05:
            case.header(
                "Authorization",
                rng.choice(
                    [
                        "ACS3-HMAC-SHA256 Credential=testing,SignedHeaders=host,Signature=00",
                        "ACS3-HMAC-SHA256",
                        "ACS3-X y",
                    ]
                ),
            )
            case.header("x-acs-date", rng.choice(["2024-01-01T00:00:00Z", "x"]))
            case.header("x-acs-signature-nonce", "n")
        if rng.random() < 0.05:
            case.header(
                "Host",
                rng.choice(
                    ["ecd.cn-hangzhou.aliyuncs.com\x01\x1f", "\udc80", "ecd.cn-hangzhou.aliyuncs.com:99999999999"]
                ),
            )
        return case

    @staticmethod
    def rpc_text(value) -> str:
        return value if isinstance(value, str) else json.dumps(value)

    def userapi(self, now: float) -> Case:
        rng = self.rng
        operation = rng.choice([*USERAPI_OPERATIONS, "Admin"])
        method = USERAPI_OPERATIONS.get(operation, "GET") if rng.random() < 0.9 else rng.choice(["GET", "PUT", "POST"])
        case = Case(
            "userapi", f"UserAPI {operation}", method, rng.choice(["/User/", "/userapi.example.com/User/"]) + operation
        )
        if rng.random() < 0.95:
            case.header("Version", rng.choice(["2.0"] * 8 + ["1.0", "", "2.0\x00", "\u00b2"]))
        if operation != "Login" and rng.random() < 0.9:
            token = (
                self.known.get("userapi_access", "x")
                if rng.random() < 0.5
                else rng.choice(
                    [
                        str(self.weird()),
                        "a.b.c",
                        "eyJhbGciOiJIUzI1NiJ9.e30.x",
                        base64.urlsafe_b64encode(b"[" * 3000).decode() + ".e30.x",
                    ]
                )
            )
            case.header("Authorization", rng.choice(["Bearer ", "bearer  ", "Basic "]) + token)
        if operation in ("Login", "RefreshToken"):
            case.header("Content-Type", rng.choice(["application/json"] * 6 + ["text/plain", "application/x+json", ""]))
            document = self.document("userapi", operation)
            if operation == "Login" and rng.random() < 0.4:
                document.update({"username": USERAPI_USER, "password": USERAPI_PASSWORD})
            if operation == "RefreshToken" and rng.random() < 0.4:
                document["refreshToken"] = self.known.get("userapi_refresh", "x")
            case.body = self.json_body(document)
        return case

    def framing(self, now: float) -> Case:
        """Framing the application must survive (the server may refuse it first; no 5xx either way)."""
        rng = self.rng
        head = (
            b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Target: AWSLicenseManager.ListTokens\r\n"
            b"Content-Type: application/x-amz-json-1.1\r\nConnection: close\r\n"
        )
        raw = head + rng.choice(
            [
                b"Content-Length: abc\r\n\r\n{}",
                b"Content-Length: -1\r\n\r\n{}",
                b"Content-Length: 1e3\r\n\r\n{}",
                b"Content-Length: \xc2\xb2\r\n\r\n{}",
                b"Content-Length: 40\r\n\r\n{}",  # fewer bytes than declared, then the client stops sending
                b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
                b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
                b"Transfer-Encoding: chunked\r\n\r\n-2\r\n{}\r\n0\r\n\r\n",
                b"Transfer-Encoding: chunked\r\n\r\n2;x=\xff\r\n{}\r\n0\r\n\r\n",
                b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}",  # no last chunk
                b"Transfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                b"Transfer-Encoding: gzip\r\n\r\n{}",
            ]
        )
        return Case("licensemanager", "framing", raw=raw)


# ---- the run -------------------------------------------------------------------------


def loopback(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        is_loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if parts.scheme != "http" or not is_loopback:
        raise SystemExit(f"fuzz.py: refusing {url!r}: only http:// on a loopback address (127.0.0.0/8, ::1, localhost)")
    return host, parts.port or 80


def seed_known(address: tuple[str, int], host: str, cloud) -> dict:
    """Live tokens and keys the generator mixes in, so some requests get past authentication."""
    known: dict = {
        "LicenseArn": LICENSE_ARN,
        "ResourceArn": LICENSE_ARN,
        "Beneficiary": "arn:aws:iam::123456789012:root",
        "Principals": ["arn:aws:iam::210987654321:root"],
        "HomeRegion": "us-east-1",
        "SourceVersion": "1",
        "KeyFingerprint": "aws:123456789012:mockcloud:issuer-fingerprint",
        "ProductSKU": "EXAMPLE-PRO-SKU",
        # WUYING's embedded user (wrong passwords will lock her now and then: that path is fuzzed too)
        "RegionId": "cn-hangzhou",
        "EndUserId": "alice",
        "Password": "Alice-Passw0rd",
        "OfficeSiteId": "cn-hangzhou+dir-0123456789",
        "CurrentStage": "ADPassword",
    }
    case = Case("licensemanager", "seed", target="/")
    case.header("X-Amz-Target", "AWSLicenseManager.CreateToken")
    case.header("Content-Type", "application/x-amz-json-1.1")
    case.body = json.dumps({"LicenseArn": LICENSE_ARN, "ClientToken": f"fuzz-{time.time()}"}).encode()
    sigv4_sign(case, host, "license-manager", time.time())
    status, _, body = exchange(address, case.wire(host))
    if status == 200:
        created = json.loads(body)
        known["Token"], known["TokenId"] = created["Token"], created["TokenId"]
        access = Case("licensemanager", "seed", target="/")
        access.header("X-Amz-Target", "AWSLicenseManager.GetAccessToken")
        access.header("Content-Type", "application/x-amz-json-1.1")
        access.body = json.dumps({"Token": created["Token"]}).encode()
        sigv4_sign(access, host, "license-manager", time.time())
        status, _, body = exchange(address, access.wire(host))
        if status == 200:
            known["lm_access"] = json.loads(body)["AccessToken"]  # a web-identity token STS trusts
    logon = Case(
        "wuying",
        "seed",
        "POST",
        "/?" + query_string([("Action", "GetLoginToken"), ("Version", "2020-10-02"), *WUYING_LOGON.items()]),
    )
    status, _, body = exchange(address, logon.wire(host))
    if status == 200:  # a live LoginToken takes the fuzz past every client operation's first check
        answer = json.loads(body)
        known.update(ClientId=WUYING_LOGON["ClientId"], LoginToken=answer["LoginToken"], SessionId=answer["SessionId"])
        known.update(dict.fromkeys(("DesktopId", "UserDesktopId", "InstanceId"), WUYING_DESKTOP))
    login = Case(
        "userapi",
        "seed",
        "POST",
        "/User/Login",
        [("Version", "2.0"), ("Content-Type", "application/json")],
        json.dumps({"username": USERAPI_USER, "password": USERAPI_PASSWORD}).encode(),
    )
    status, _, body = exchange(address, login.wire(host))
    if status == 200:
        tokens = json.loads(body)
        known["userapi_access"], known["userapi_refresh"] = tokens["accessToken"], tokens["refreshToken"]
    component = {
        "name": f"Fuzz{int(time.time() * 1000)}",
        "componentType": "Flex",
        "properties": {},
        "variants": [],
        "overrides": {},
        "bindingProperties": {},
    }
    create = Case(
        "amplifyuibuilder",
        "seed",
        "POST",
        f"/app/{AMPLIFY_APP}/environment/{AMPLIFY_ENV}/components",
        [("Content-Type", "application/json")],
        json.dumps(component).encode(),
    )
    sigv4_sign(create, host, "amplifyuibuilder", time.time())
    status, _, body = exchange(address, create.wire(host))
    if status == 200:  # a real record for the Studio operations' path labels and ARNs
        made = json.loads(body)
        known["amplify"] = {
            "appId": AMPLIFY_APP,
            "environmentName": AMPLIFY_ENV,
            "id": made["id"],
            "featureName": "autoGenerateForms",
            "provider": "figma",
            "resourceArn": f"arn:aws:amplifyuibuilder:{REGION}:123456789012:app/{AMPLIFY_APP}/environment/"
            f"{AMPLIFY_ENV}/components/{made['id']}",
        }
    grant = Case("licensemanager", "seed", target="/")
    grant.header("X-Amz-Target", "AWSLicenseManager.CreateGrant")
    grant.header("Content-Type", "application/x-amz-json-1.1")
    grant.body = json.dumps(
        {
            "LicenseArn": LICENSE_ARN,
            "ClientToken": f"fuzz-{time.time()}",
            "GrantName": "fuzz",
            "Principals": ["arn:aws:iam::210987654321:root"],
            "HomeRegion": "us-east-1",
            "AllowedOperations": ["CheckoutLicense", "CreateGrant"],
        }
    ).encode()
    sigv4_sign(grant, host, "license-manager", time.time())
    status, _, body = exchange(address, grant.wire(host))
    if status == 200:
        known["GrantArn"] = json.loads(body)["GrantArn"]
    if cloud is not None:  # our own server: its models give codes and tokens directly
        seed_identities(known, cloud)
        # a Marketplace subscription of the signing account: checkouts without a Beneficiary find it
        subscription = cloud.licensemanager.subscribe("123456789012", "prod-fuzz")
        known["KeyFingerprint"], known["ProductSKU"] = subscription.key_fingerprint, "prod-fuzz"
        known["figma_code"] = cloud.amplifyuibuilder.create_authorization_code
        known["desktop_product"] = cloud.devpay.product("6883959E").token
        known["web_product"] = cloud.devpay.product("774F4FF8").token
    return known


def seed_identities(known: dict, cloud) -> None:
    """A role session whose policy allows a little (its calls meet the IAM check), a trade-in token, an issuer."""
    sts = cloud.sts
    trust = {"Statement": [{"Effect": "Allow", "Principal": {"AWS": "123456789012"}, "Action": "sts:*"}]}
    some = {
        "Statement": [
            {"Effect": "Allow", "Action": ["license-manager:Get*", "sts:*"], "Resource": "*"},
            {"Effect": "Deny", "Action": "license-manager:CheckoutLicense", "Resource": "*"},
        ]
    }
    role = sts.create_role(f"Fuzz{time.time_ns()}", trust, policies={"some": some}, max_session_duration=43200)
    known["fuzz_role"] = role.arn
    issued = sts.assume_role(access_key_id=KEY, role_arn=role.arn, session_name="fuzz", duration=43200)
    known["session"] = (issued.key.access_key_id, issued.key.secret_access_key, issued.key.session_token)
    request = sts.create_delegation_request("123456789012", some)
    known["trade_in"] = sts.approve_delegation_request(request.delegation_id)
    known["issuer_host"] = sts.outbound_issuer().removeprefix("https://")
    known["AccessKeyId"] = issued.key.access_key_id
    known["TargetPrincipal"] = "210987654321"
    known["SigningAlgorithm"] = "RS256"


def router_of(cloud):
    """Which service a request goes to, by the server's own routing (a default mock's when the server is not ours)."""
    from mockcloud.core.request import Request, build_environ
    from mockcloud.mock import MockCloud

    route = (cloud or MockCloud(intercept=False, patch_time=False)).services.router().route

    def service_of(case: Case, host: str) -> str | None:
        headers = [
            (n, v.decode("latin-1") if isinstance(v, bytes) else v.encode("utf-8", "surrogatepass").decode("latin-1"))
            for n, v in case.headers
        ]
        target = case.target.split("://", 1)[1].partition("/")[2] if "://" in case.target else case.target.lstrip("/")
        environ = build_environ(case.method, f"http://{host}/{target}", headers, case.body)
        del environ["mockcloud.in_process"]  # as the server hands it over
        return route(Request(environ))

    return service_of


def judge_head(status: int, headers: list, body: bytes) -> str | None:
    """A reply to HEAD has no body to judge by its format: an internal error is a 5xx (but for a SOAP client fault)."""
    if status >= 500 and status != 503:
        return f"internal error {status} (HEAD)"
    if not any(name.lower() == "content-length" for name, _ in headers):
        return f"HEAD answered {status} without Content-Length"
    return None


def run(
    address: tuple[str, int],
    host: str,
    cloud,
    *,
    requests: int,
    seconds: float,
    seed: int,
    workers: int,
    keep_alive: float = 0.4,
) -> dict:
    known = seed_known(address, host, cloud)
    service_of = router_of(cloud)
    statuses: collections.Counter = collections.Counter()
    by_service: collections.Counter = collections.Counter()
    problems: list[str] = []
    fuzzer_bugs: list[str] = []
    soap_client_faults = [0]
    kept = collections.Counter()  # keep-alive: requests, HEAD requests, connections, and each kind of desync
    desyncs: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    counter = iter(range(requests))

    def worker(index: int) -> None:
        rng = random.Random(seed * 1000 + index)
        generator = Generator(rng, host, known)
        kinds = [
            generator.licensemanager,
            generator.amplifyuibuilder,
            generator.devpay,
            generator.wuying,
            generator.userapi,
            generator.sts,
        ]
        connection = KeepAlive(address)
        try:
            work(rng, generator, kinds, connection)
        finally:
            stray = connection.stray(wait=0.5)  # after its last reply, nothing more may come
            with lock:
                kept["connections"] += connection.connections
                if stray:
                    kept["stray bytes"] += 1
                    desyncs.append(f"stray bytes after the last reply: {stray[:120]!r}")
            connection.close()

    def work(rng: random.Random, generator: Generator, kinds: list, connection: KeepAlive) -> None:
        while time.monotonic() < deadline:
            with lock:
                if next(counter, None) is None:
                    return
            make = generator.framing if rng.random() < 0.03 else rng.choice(kinds)
            reuse = False
            try:
                case = make(time.time())
                if case.raw is None and rng.random() < 0.08:
                    generator.mutate_wire(case)  # framing of its own: on a connection of its own
                elif case.raw is None and case.well_framed() and rng.random() < keep_alive:
                    reuse = True
                    if rng.random() < 0.25:
                        case.method = "HEAD"  # after signing: some fail authentication, as a changed method must
            except Exception as exc:  # a bug of this script's: say so, and go on
                with lock:
                    fuzzer_bugs.append(f"{make.__name__}: {exc!r}")
                continue
            try:
                if reuse:
                    status, headers, body = connection.exchange(case.wire(host, keep_alive=True), case.method)
                else:
                    status, headers, body = exchange(address, case.wire(host))
            except Desynchronized as lost:
                with lock:
                    kept[lost.kind] += 1
                    kept["desynchronized requests"] += 1
                    desyncs.append(f"{case.label} ({case.method}): {lost}\n    request: {case.wire(host)[:300]!r}")
                continue
            except OSError as exc:
                connection.close()
                status, headers, body = 0, [], repr(exc).encode()
            if reuse:
                with lock:
                    kept["requests"] += 1
                    kept["HEAD"] += case.method == "HEAD"
            if case.method == "HEAD" and status:
                problem = judge_head(status, headers, body)
            elif case.raw is not None:  # the server may answer framing itself, or close on a body that never ends
                closed = status == 0 and b"imeout" not in body and b"timed out" not in body  # not a hang
                refused = server_refused_framing(status, body) or closed
                problem = None if refused or 400 <= status < 500 else f"framing answered {status}: {body[:120]!r}"
            elif status == 0:
                problem = f"no reply: {body[:120]!r}"
            else:  # a mutation may send it elsewhere (another signing scope, no X-Amz-Target): judge where it went
                try:
                    went = service_of(case, host)
                except ValueError:  # a target the router's environ cannot express: the service meant
                    went = None
                problem = verdict(went or case.service, status, headers, body)
            with lock:
                statuses[status] += 1
                if status == 500 and b"<faultcode>aws:Client." in body:
                    soap_client_faults[0] += 1
                by_service[(case.service, status // 100)] += 1
                if problem is not None:
                    problems.append(f"{case.label}: {problem}\n    request: {case.wire(host)[:300]!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(workers)]
    begin = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {
        "statuses": statuses,
        "by_service": by_service,
        "problems": problems,
        "fuzzer_bugs": fuzzer_bugs,
        "soap_client_faults": soap_client_faults[0],
        "keep_alive": kept,
        "desyncs": desyncs,
        "elapsed": time.monotonic() - begin,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000, help="requests to send (default 20000)")
    parser.add_argument(
        "--seconds", type=float, default=600.0, help="stop after this long whatever is left (default 600)"
    )
    parser.add_argument(
        "--seed", type=int, default=11, help="random seed (default 11): the same seed sends the same requests"
    )
    parser.add_argument("--workers", type=int, default=4, help="concurrent connections (default 4)")
    parser.add_argument("--url", help="fuzz this server (http on loopback only) instead of starting one")
    parser.add_argument("--show", type=int, default=10, help="how many internal errors to print in full (default 10)")
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=0.4,
        metavar="SHARE",
        help="the share of requests sent over each worker's keep-alive connection, a quarter as HEAD (default 0.4)",
    )
    args = parser.parse_args(argv)
    if args.requests < 1 or args.seconds <= 0 or not 1 <= args.workers <= 64 or not 0 <= args.keep_alive <= 1:
        parser.error("--requests and --seconds must be positive, --workers 1..64, --keep-alive 0..1")

    server = None
    if args.url:
        address = loopback(args.url)
        host = f"{address[0]}:{address[1]}"
        cloud = None
    else:
        from mockcloud.server.live import LiveServer

        server = LiveServer("127.0.0.1", 0).start()
        address, host, cloud = ("127.0.0.1", server.port), f"127.0.0.1:{server.port}", server.cloud
    tracebacks = _capture_tracebacks()  # our own server's: shown with the internal errors, not logged as they come
    try:
        result = run(
            address,
            host,
            cloud,
            requests=args.requests,
            seconds=args.seconds,
            seed=args.seed,
            workers=args.workers,
            keep_alive=args.keep_alive,
        )
    finally:
        if server is not None:
            server.stop()
    desyncs = result["desyncs"]
    sent = sum(result["statuses"].values()) + result["keep_alive"]["desynchronized requests"]
    print(
        f"fuzz: {sent} requests in {result['elapsed']:.1f} s ({sent / max(result['elapsed'], 1e-9):.0f}/s), "
        f"seed {args.seed}, "
        f"{args.workers} connections, target {'--url ' + args.url if args.url else 'LiveServer on ' + host}"
    )
    print(
        "by status: "
        + ", ".join(f"{status or 'no reply'}: {count}" for status, count in sorted(result["statuses"].items()))
    )
    if result["soap_client_faults"]:
        print(
            f"  of the 500s, {result['soap_client_faults']} are SOAP 1.1 faults of the client's (aws:Client.*): "
            "AWS answers every SOAP 1.1 fault with 500"
        )
    services = sorted({service for service, _ in result["by_service"]})
    for service in services:
        row = {f"{klass}xx": count for (name, klass), count in sorted(result["by_service"].items()) if name == service}
        print(f"  {service}: " + ", ".join(f"{k} {v}" for k, v in row.items()))
    if result["fuzzer_bugs"]:
        print(f"requests this script failed to build: {len(result['fuzzer_bugs'])} (first: {result['fuzzer_bugs'][0]})")
    kept = result["keep_alive"]
    print(
        f"keep-alive: {kept['requests']} requests ({kept['HEAD']} HEAD) on {kept['connections']} connections; "
        f"BadStatusLine: {kept['BadStatusLine']}, desynchronized replies: {kept['stray bytes']}"
    )
    for desync in desyncs[: args.show]:
        print("  " + desync)
    problems = result["problems"]
    print(f"internal errors: {len(problems)}")
    for problem in problems[: args.show]:
        print("  " + problem)
    for trace in tracebacks[: min(args.show, 3)]:
        print("  the emulator's traceback:\n    " + trace.replace("\n", "\n    "))
    return 1 if problems or desyncs else 0


def _capture_tracebacks() -> list[str]:
    """Collect the tracebacks the emulator logs for internal errors instead of printing them.

    (Those of this process's server.)
    """
    import logging
    import traceback

    found: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.exc_info:
                found.append("".join(traceback.format_exception(*record.exc_info)).rstrip())

    logger = logging.getLogger("mockcloud")
    logger.addHandler(Collect())
    logger.propagate = False
    return found


if __name__ == "__main__":
    sys.exit(main())
