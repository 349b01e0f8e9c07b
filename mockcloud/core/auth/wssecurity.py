"""WS-Security 1.0 for AWS SOAP requests: a ``wsu:Timestamp`` and an X.509 XML signature.

AWS's rules (DevPay DG "Authentication of SOAP Requests"; the same for the
SQS/EC2 SOAP APIs of the time): the ``wsse:Security`` header must carry a
``wsu:Timestamp``, and it must be signed; a Timestamp with ``Created`` but no
``Expires`` expires 15 minutes after ``Created``. The signing certificate
travels in a ``wsse:BinarySecurityToken`` (or the signature's ``X509Data``)
and must be one the account registered.

The signature itself is checked by signxml (over lxml), against the
registered certificate, at the mock clock's time. Then "see what is signed":
the Timestamp whose times are enforced is the signed copy, and it must be
the one in the Security header.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from xml.etree.ElementTree import Element

from ..errors import ServiceError
from . import fresh
from .aws_query_signature import iso, parse_timestamp

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from signxml.verifier import VerifyResult

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"
X509V3 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
_ID = f"{{{WSU}}}Id"
IdentityT = TypeVar("IdentityT")  # who a certificate stands for: what the service's look-up returns


@dataclass(frozen=True)
class WsSecurityRules:
    timestamp_seconds: float = 900  # lifetime of a Timestamp without Expires
    max_future_seconds: float = 900  # how far ahead of the clock Created may be
    allow_sha1: bool = True  # RSA-SHA1 and SHA-1 digests: what WS-Security 1.0 toolkits of the time used


@dataclass(frozen=True)
class WsSigner(Generic[IdentityT]):
    """Who signed (what the service's certificate look-up returned), with what, and which parts."""

    identity: IdentityT
    certificate: Certificate
    signed: frozenset[str]  # "Timestamp", "Body", and the local names of other signed elements
    created: datetime | None
    expires: datetime


def _error(code: str, message: str, status: int = 400) -> ServiceError:
    return ServiceError(code, message, status, common=True)


def security_header(header: Element | None) -> Element | None:
    if header is None:
        return None
    return header.find(f"{{{WSSE}}}Security")


def check_times(
    created_text: str | None, expires_text: str | None, now: float, rules: WsSecurityRules
) -> tuple[datetime | None, datetime]:
    """The Timestamp's 15-minute rules on the mock clock; returns (created, expires)."""
    created: datetime | None = None
    expires: datetime | None = None
    if created_text is not None:
        created = parse_timestamp(created_text)
        if created is None:
            raise _error(
                "WSSecurityCreatedDateIncorrectFormat", "Timestamp for created date must be in ISO8601 format."
            )
    if expires_text is not None:
        expires = parse_timestamp(expires_text)
        if expires is None:
            raise _error(
                "WSSecurityExpiresDateIncorrectFormat", "Timestamp for expires date must be in ISO8601 format."
            )
    if expires is None:
        if created is None:
            raise _error("WSSecurityTimestampExpiresMissing", "Timestamp must have Expires element.")
        try:
            expires = created + timedelta(seconds=rules.timestamp_seconds)
        except OverflowError:  # created at the calendar's end: it expires there too
            expires = datetime.max.replace(tzinfo=timezone.utc)
    current = datetime.fromtimestamp(now, timezone.utc)
    if current > expires:
        raise _error(
            "WSSecurityTimestampExpired", f"Request has expired. Expires date is {iso(expires)}, now is {iso(current)}."
        )
    if created is not None and (created - current).total_seconds() > rules.max_future_seconds:
        raise _error(
            "InvalidSecurity",
            "The provided security credentials are not valid. "
            f"Reason: Timestamp Created {iso(created)} is in the future.",
            403,
        )
    return created, expires


def _timestamp(security: Element) -> Element:
    found = security.findall(f"{{{WSU}}}Timestamp")
    if not found:
        raise _error("WSSecurityTimestampMissing", "Security Header Element is missing the timestamp element.")
    if len(found) > 1:
        raise _error(
            "InvalidSecurity", "The provided security credentials are not valid. Reason: more than one Timestamp.", 403
        )
    return found[0]


def _certificate(security: Element) -> bytes | None:
    """The DER of the one X.509 certificate the message carries, if any."""
    tokens = security.findall(f"{{{WSSE}}}BinarySecurityToken")
    ders = []
    for token in tokens:
        value_type = token.get("ValueType")
        if value_type is None:
            raise _error("WSSecurityMissingValuetype", "BinarySecurityToken must have attribute ValueType.")
        if value_type != X509V3:
            raise _error("WSSecurityIncorrectValuetype", "BinarySecurityToken has bad ValueType.")
        encoding = token.get("EncodingType")
        if encoding is not None and encoding != BASE64_BINARY:
            raise _error(
                "WSSecurityEncodingTypeError", f"BinarySecurityToken must have EncodingType of {BASE64_BINARY}."
            )
        ders.append(_b64(token.text))
    embedded = security.findall(f"{{{DS}}}Signature/{{{DS}}}KeyInfo/{{{DS}}}X509Data/{{{DS}}}X509Certificate")
    if not ders:
        ders.extend(_b64(item.text) for item in embedded[:2])
    if len(ders) > 1:
        raise _error(
            "WSSecurityMultipleX509Error",
            f"Request must not contain more than one BinarySecurityToken with valueType {X509V3}.",
        )
    return ders[0] if ders else None


def _b64(text: str | None) -> bytes:
    try:
        return base64.b64decode("".join((text or "").split()), validate=True)
    except (binascii.Error, ValueError):
        raise _error("X509ParseError", "Could not parse X.509 certificate.") from None


def verify(
    raw: bytes,
    *,
    envelope_ns: str,
    security: Element | None,
    body: Element,
    now: float,
    owner_of: Callable[[Certificate], IdentityT | None],
    rules: WsSecurityRules = WsSecurityRules(),
    host_now: float | None = None,
) -> WsSigner[IdentityT]:
    """Check the WS-Security header of a SOAP message already parsed safely (``raw`` is its bytes).

    The certificate is judged at ``now``; the Timestamp may also be current at ``host_now`` (:func:`.fresh`).
    """
    if security is None:
        raise _error("MissingClientTokenId", "Request must contain AWSAccessKeyId or X.509 certificate.", 403)
    timestamp = _timestamp(security)
    der = _certificate(security)
    signature = security.find(f"{{{DS}}}Signature")
    if der is None:
        if signature is None:
            raise _error("MissingClientTokenId", "Request must contain AWSAccessKeyId or X.509 certificate.", 403)
        raise _error(
            "X509ParseError",
            "Could not parse X.509 certificate: the signature names no certificate the request carries.",
        )
    from cryptography import x509

    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise _error("X509ParseError", "Could not parse X.509 certificate.") from None
    identity = owner_of(certificate)
    if identity is None:
        raise _error("InvalidClientTokenId", "The X.509 certificate you provided does not exist in our records.", 403)
    if signature is None:
        raise _error("WSSecuritySignatureMissing", "SignatureValue is missing or empty.")
    if signature.find(f"{{{DS}}}SignedInfo") is None:
        raise _error("WSSecuritySignedInfoMissing", "Request has no SignedInfo.")
    value = signature.find(f"{{{DS}}}SignatureValue")
    if value is None or not (value.text or "").strip():
        raise _error("WSSecuritySignatureMissing", "SignatureValue is missing or empty.")
    results = _verify_signature(raw, envelope_ns, certificate, now, rules)
    signed: dict[str, Any] = {}
    for result in results:
        element = result.signed_xml
        if element is None:
            continue
        local = element.tag.rpartition("}")[2]
        if element.tag == f"{{{WSU}}}Timestamp" and element.get(_ID) != timestamp.get(_ID):
            continue  # a signed Timestamp that is not the header's proves nothing
        if local == "Body" and element.tag != f"{{{envelope_ns}}}Body":
            continue
        if local == "Body" and element.get(_ID) != body.get(_ID):
            continue
        signed[local] = element
    signed_timestamp = signed.get("Timestamp")
    if signed_timestamp is None:
        raise _error("ElementNotSigned", "The element Timestamp is not signed.", 403)
    created_el = signed_timestamp.find(f"{{{WSU}}}Created")
    expires_el = signed_timestamp.find(f"{{{WSU}}}Expires")
    created_text = None if created_el is None else (created_el.text or "")
    expires_text = None if expires_el is None else (expires_el.text or "")
    created, expires = fresh(lambda at: check_times(created_text, expires_text, at, rules), now, host_now)
    return WsSigner(identity, certificate, frozenset(signed), created, expires)


def _verify_signature(
    raw: bytes, envelope_ns: str, certificate: Certificate, now: float, rules: WsSecurityRules
) -> list[VerifyResult]:
    from lxml import etree
    from signxml.algorithms import DigestAlgorithm, SignatureMethod
    from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    methods = frozenset(m for m in SignatureMethod if rules.allow_sha1 or "SHA1" not in m.name)
    digests = frozenset(d for d in DigestAlgorithm if rules.allow_sha1 or "SHA1" not in d.name)
    config = SignatureConfiguration(
        location=f"./{{{envelope_ns}}}Header/{{{WSSE}}}Security/",
        expect_references=True,
        signature_methods=methods,
        digest_algorithms=digests,
        verification_time=datetime.fromtimestamp(now, timezone.utc),
    )
    try:
        results = XMLVerifier().verify(raw, x509_cert=certificate, expect_config=config)
    except InvalidSignature as exc:  # digest, signature value or certificate validity
        raise _error(
            "WSSecurityX509SignatureError", f"Failed to check signature with X.509 certificate. {exc}", 403
        ) from None
    except (InvalidInput, SignXMLException, etree.DocumentInvalid, etree.XMLSyntaxError, ValueError) as exc:
        raise _error("MalformedSOAPSignature", f"Invalid SOAP Signature. Reason: {exc}") from None
    return results if isinstance(results, list) else [results]
