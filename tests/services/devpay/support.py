"""Client-side helpers for the DevPay tests (no tests or fixtures here): an independent signer and two clients.

The signer is written from the DevPay Developer Guide's algorithm (and boto's
and Amazon's own sample clients for versions 0 and 2), not from mockcloud's
code, so a test that passes shows both sides agree on the reference.
The WS-Security signer builds the XML signature by hand with lxml's exclusive
canonicalization and cryptography's RSA, as a WS-Security 1.0 toolkit does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

LS = "http://ls.amazonaws.com/doc/2008-04-28/"
LS_ERRORS = "http://ls.amazonaws.com/doc/2007-06-05/"
DESKTOP_CODE = "6883959E"
WEB_CODE = "774F4FF8"
DESKTOP_KEY = "ADMAY7DVLJTWHJ76MMBMQEXAMPLE"
WEB_KEY = "AC6PMWXPBRPDDB426RW4X76I2MXQ"
OTHER_DEVELOPER = ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
HTTP_TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long


# ---- the independent signer ------------------------------------------------------------


def v1_string(params: dict[str, str]) -> str:
    """Sort the parameter names case-insensitively; concatenate name and value, no separators, no encoding."""
    names = sorted((n for n in params if n != "Signature"), key=str.lower)
    return "".join(n + params[n] for n in names)


def v0_string(params: dict[str, str]) -> str:
    return params["Action"] + params["Timestamp"]


def _pct(text: str) -> str:
    safe = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in text.encode("utf-8"))


def v2_string(method: str, host: str, path: str, params: dict[str, str]) -> str:
    query = "&".join(
        f"{_pct(n)}={_pct(params[n])}" for n in sorted(params, key=lambda n: _pct(n).encode()) if n != "Signature"
    )
    return f"{method}\n{host.lower()}\n{path or '/'}\n{query}"


def hmac_b64(secret: str, text: str, digest: str = "sha1") -> str:
    return base64.b64encode(hmac.new(secret.encode(), text.encode(), getattr(hashlib, digest)).digest()).decode()


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- clients ------------------------------------------------------------------------


@dataclass
class XmlReply:
    status: int
    body: bytes
    headers: dict

    @property
    def root(self) -> ET.Element:
        return ET.fromstring(self.body)

    def text(self, name: str) -> str | None:
        found = self.root.find(f".//{{{LS}}}{name}")
        return None if found is None else found.text


class LsReply(XmlReply):
    """A REST-Query reply."""

    def texts(self, name: str) -> list[str]:
        return [e.text for e in self.root.iter(f"{{{LS}}}{name}")]

    @property
    def code(self) -> str | None:
        found = self.root.find(f"{{{LS_ERRORS}}}Error/{{{LS_ERRORS}}}Code")
        return None if found is None else found.text

    @property
    def message(self) -> str:
        return self.root.find(f"{{{LS_ERRORS}}}Error/{{{LS_ERRORS}}}Message").text or ""


@dataclass
class LsClient:
    """A License Service client of the kind the DG describes.

    ``transport`` is ``requests`` or ``urllib``; ``method`` GET (query string)
    or POST (form body); ``encode_plus=False`` leaves ``+`` unencoded in the
    URL, as some old clients did.
    """

    endpoint: str
    clock: object  # the mock's clock: time stamps come from it
    key: str = "testing"
    secret: str = "testing"
    transport: str = "requests"
    method: str = "GET"
    signature_version: str = "1"
    signature_method: str = "HmacSHA256"
    version: str = "2008-04-28"
    encode_plus: bool = True
    extra_headers: dict = field(default_factory=dict)

    def params(
        self,
        action: str,
        *,
        signed: bool = True,
        expires: datetime | None = None,
        timestamp: datetime | None = None,
        **given,
    ) -> dict:
        params = {"Action": action, "Version": self.version}
        params.update({k: v for k, v in given.items() if v is not None})
        if not signed:
            return params
        params["AWSAccessKeyId"] = self.key
        params["SignatureVersion"] = self.signature_version
        if expires is not None:
            params["Expires"] = stamp(expires)
        else:
            params["Timestamp"] = stamp(timestamp or self.clock.now())
        if self.signature_version == "2":
            params["SignatureMethod"] = self.signature_method
        params["Signature"] = self.sign(params)
        return params

    def sign(self, params: dict) -> str:
        if self.signature_version == "0":
            return hmac_b64(self.secret, v0_string(params))
        if self.signature_version == "1":
            return hmac_b64(self.secret, v1_string(params))
        parts = urllib.parse.urlsplit(self.endpoint)
        digest = "sha256" if params["SignatureMethod"] == "HmacSHA256" else "sha1"
        return hmac_b64(self.secret, v2_string(self.method, parts.netloc, parts.path or "/", params), digest)

    def encode(self, params: dict) -> str:
        if self.encode_plus:
            return urllib.parse.urlencode(params)
        return "&".join(
            f"{urllib.parse.quote(k, safe='')}={urllib.parse.quote(v, safe='+')}" for k, v in params.items()
        )

    def call(self, action: str, **kwargs) -> LsReply:
        return self.send(self.params(action, **kwargs))

    def send(self, params: dict) -> LsReply:
        encoded = self.encode(params)
        if self.method == "GET":
            url, body, headers = f"{self.endpoint}?{encoded}", None, {}
        else:
            url, body, headers = self.endpoint, encoded.encode(), {"Content-Type": "application/x-www-form-urlencoded"}
        headers.update(self.extra_headers)
        return self.http(self.method, url, body, headers)

    def http(self, method: str, url: str, body: bytes | None, headers: dict) -> LsReply:
        if self.transport == "requests":
            reply = requests.request(method, url, data=body, headers=headers, timeout=HTTP_TIMEOUT)
            return LsReply(reply.status_code, reply.content, dict(reply.headers))
        request = urllib.request.Request(url, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:
                return LsReply(reply.status, reply.read(), dict(reply.headers))
        except urllib.error.HTTPError as error:
            return LsReply(error.code, error.read(), dict(error.headers))


# ---- where the emulator runs ----------------------------------------------------------


class Backend:
    """The mock (in-process or the live server's), and the URLs a client uses to reach it."""

    def __init__(self, cloud, endpoint: str, soap_url: str):
        self.cloud, self.endpoint, self.soap_url = cloud, endpoint, soap_url

    def client(self, **kwargs) -> LsClient:
        return LsClient(self.endpoint, self.cloud.clock, **kwargs)


def error(reply, code: str, status: int = 400) -> str:
    """Assert an error answer; return its message."""
    assert (reply.status, reply.code) == (status, code), reply.body
    return reply.message


def ok(reply):
    assert reply.status == 200, reply.body
    return reply


# ---- SOAP and WS-Security ------------------------------------------------------------

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
AWS_FAULT = "http://webservices.amazon.com/AWSFault/2005-15-09"
_ALGORITHMS = {
    "sha1": ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1", hashes.SHA1),
    "sha256": (
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
        "http://www.w3.org/2001/04/xmlenc#sha256",
        hashes.SHA256,
    ),
}


@dataclass
class Developer:
    """A developer's RSA key and self-signed X.509 certificate."""

    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def generate(cls, name: str = "mockcloud test developer") -> Developer:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(key, hashes.SHA256())
        )
        return cls(key, certificate)

    @property
    def pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode()


def soap_request(
    action: str,
    params: list[tuple[str, str]],
    *,
    soap: str = "1.1",
    created: datetime | None = None,
    expires: datetime | None = None,
    timestamp: bool = True,
    security: bool = True,
    developer: Developer | None = None,
    sign: tuple[str, ...] = ("Timestamp", "Body"),
    digest: str = "sha256",
    namespace: str = LS,
    tamper: bool = False,
    value_type: str = X509V3,
    encoding_type: str = BASE64_BINARY,
) -> bytes:
    """A document/literal SOAP request; with ``developer``, a WS-Security X.509 signature over ``sign``."""
    env = SOAP12 if soap == "1.2" else SOAP11
    nsmap = {"soap": env, "wsse": WSSE, "wsu": WSU}
    envelope = etree.Element(f"{{{env}}}Envelope", nsmap=nsmap)
    header = etree.SubElement(envelope, f"{{{env}}}Header")
    body = etree.SubElement(envelope, f"{{{env}}}Body", {f"{{{WSU}}}Id": "Body-1"})
    call = etree.SubElement(body, f"{{{namespace}}}{action}", nsmap={None: namespace})
    for name, value in params:
        etree.SubElement(call, f"{{{namespace}}}{name}").text = value
    if not security:
        return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")
    sec = etree.SubElement(header, f"{{{WSSE}}}Security", {f"{{{env}}}mustUnderstand": "1"})
    parts = {"Body": body}
    if developer is not None:
        der = developer.certificate.public_bytes(serialization.Encoding.DER)
        bst = etree.SubElement(
            sec,
            f"{{{WSSE}}}BinarySecurityToken",
            {"ValueType": value_type, "EncodingType": encoding_type, f"{{{WSU}}}Id": "X509-1"},
        )
        bst.text = base64.b64encode(der).decode()
    if timestamp:
        ts = etree.SubElement(sec, f"{{{WSU}}}Timestamp", {f"{{{WSU}}}Id": "TS-1"})
        if created is not None:
            etree.SubElement(ts, f"{{{WSU}}}Created").text = stamp(created)
        if expires is not None:
            etree.SubElement(ts, f"{{{WSU}}}Expires").text = stamp(expires)
        parts["Timestamp"] = ts
    if developer is not None:
        _sign(sec, [parts[p] for p in sign if p in parts], developer, digest)
    if tamper:
        call[0].text = (call[0].text or "") + "X"
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


def _c14n(element) -> bytes:
    return etree.tostring(element, method="c14n", exclusive=True, with_comments=False)


def _sign(security, parts, developer: Developer, digest: str) -> None:
    """XML-DSig over the referenced parts: exclusive C14N, RSA, key named by a SecurityTokenReference."""
    signature_uri, digest_uri, hash_class = _ALGORITHMS[digest]
    signature = etree.SubElement(security, f"{{{DS}}}Signature", nsmap={"ds": DS})
    signed_info = etree.SubElement(signature, f"{{{DS}}}SignedInfo")
    etree.SubElement(signed_info, f"{{{DS}}}CanonicalizationMethod", {"Algorithm": EXC_C14N})
    etree.SubElement(signed_info, f"{{{DS}}}SignatureMethod", {"Algorithm": signature_uri})
    for part in parts:
        reference = etree.SubElement(signed_info, f"{{{DS}}}Reference", {"URI": "#" + part.get(f"{{{WSU}}}Id")})
        transforms = etree.SubElement(reference, f"{{{DS}}}Transforms")
        etree.SubElement(transforms, f"{{{DS}}}Transform", {"Algorithm": EXC_C14N})
        etree.SubElement(reference, f"{{{DS}}}DigestMethod", {"Algorithm": digest_uri})
        hasher = hashes.Hash(hash_class())
        hasher.update(_c14n(part))
        etree.SubElement(reference, f"{{{DS}}}DigestValue").text = base64.b64encode(hasher.finalize()).decode()
    value = developer.key.sign(_c14n(signed_info), padding.PKCS1v15(), hash_class())
    etree.SubElement(signature, f"{{{DS}}}SignatureValue").text = base64.b64encode(value).decode()
    key_info = etree.SubElement(signature, f"{{{DS}}}KeyInfo")
    reference = etree.SubElement(
        etree.SubElement(key_info, f"{{{WSSE}}}SecurityTokenReference"), f"{{{WSSE}}}Reference"
    )
    reference.set("URI", "#X509-1")
    reference.set("ValueType", X509V3)


class SoapReply(XmlReply):
    """A SOAP reply (envelope or fault)."""

    @property
    def fault_code(self) -> str | None:
        """The AWS code of a fault: SOAP 1.1 ``aws:Client.<Code>``, SOAP 1.2 Subcode ``aws:<Code>``."""
        root = self.root
        old = root.find(f".//{{{SOAP11}}}Fault/faultcode")
        if old is not None:
            return old.text.split(".", 1)[1]
        sub = root.find(f".//{{{SOAP12}}}Fault/{{{SOAP12}}}Code/{{{SOAP12}}}Subcode/{{{SOAP12}}}Value")
        return None if sub is None else sub.text.split(":", 1)[1]


def post_soap(
    url: str,
    body: bytes,
    *,
    soap: str = "1.1",
    action: str | None = "",
    transport: str = "requests",
    headers: dict | None = None,
) -> SoapReply:
    sent = {"Content-Type": "application/soap+xml; charset=utf-8" if soap == "1.2" else "text/xml; charset=utf-8"}
    if soap == "1.1" and action is not None:
        sent["SOAPAction"] = action
    sent.update(headers or {})
    if transport == "requests":
        reply = requests.post(url, data=body, headers=sent, timeout=HTTP_TIMEOUT)
        return SoapReply(reply.status_code, reply.content, dict(reply.headers))
    request = urllib.request.Request(url, data=body, headers=sent, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as reply:
            return SoapReply(reply.status, reply.read(), dict(reply.headers))
    except urllib.error.HTTPError as error:
        return SoapReply(error.code, error.read(), dict(error.headers))
