"""SAML 2.0 for AssumeRoleWithSAML: the IdP's metadata, and an authentication response checked as AWS checks it.

The XML signature is signxml's to verify (over lxml), with the signing
certificates of the IdP's metadata registered with the SAML provider, never
the certificate the response carries. Only what the signature covers is
read afterwards (signxml's ``signed_xml``), so an element wrapped around or
beside the signed one proves nothing. Then, on the mock clock: the
assertion's ``Issuer`` is the provider's ``entityID``; its audience and its
bearer confirmation's ``Recipient`` are AWS's sign-in endpoint; its
``Conditions`` and ``SubjectConfirmationData`` windows hold.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ...core.errors import MockCloudError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/"
# the sign-in endpoints AWS accepts as audience and recipient (the global one, the URN, the Regional ones)
AWS_AUDIENCES = ("https://signin.aws.amazon.com/saml", "urn:amazon:webservices")
SKEW_SECONDS = 300  # how far NotBefore may be ahead of the clock
_NAMEID_FORMATS = {
    "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent": "persistent",
    "urn:oasis:names:tc:SAML:2.0:nameid-format:transient": "transient",
}


class SamlRejected(Exception):
    """Why a response was refused: ``code`` is STS's error code, ``message`` its wording."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class IdentityProvider:
    """What a SAML provider's metadata says: the IdP's entityID and its signing certificates."""

    entity_id: str
    certificates: tuple[Certificate, ...]


@dataclass
class Assertion:
    """The facts AssumeRoleWithSAML uses, read from the signed assertion."""

    issuer: str
    subject: str
    subject_type: str
    recipient: str
    audiences: list[str]
    attributes: dict[str, list[str]] = field(default_factory=dict)  # by Name
    session_not_on_or_after: float | None = None

    def values(self, name: str) -> list[str]:
        return self.attributes.get(ATTRIBUTE + name, [])


def _parser() -> Any:
    from lxml import etree

    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_comments=True)


def read_metadata(document: str) -> IdentityProvider:
    """The entityID and signing certificates of an IdP's SAML metadata; :class:`MockCloudError` says what is wrong."""
    from cryptography import x509
    from lxml import etree

    try:
        root = etree.fromstring(document.encode("utf-8"), parser=_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise MockCloudError(f"the SAML metadata is not XML: {exc}") from None
    if root.tag != f"{{{MD}}}EntityDescriptor" or not root.get("entityID"):
        raise MockCloudError("SAML metadata is an md:EntityDescriptor with an entityID")
    certificates = []
    for descriptor in root.iterfind(f"{{{MD}}}IDPSSODescriptor/{{{MD}}}KeyDescriptor"):
        if descriptor.get("use", "signing") != "signing":
            continue
        for element in descriptor.iterfind(f".//{{{DS}}}X509Certificate"):
            try:
                der = base64.b64decode("".join((element.text or "").split()), validate=True)
                certificates.append(x509.load_der_x509_certificate(der))
            except (binascii.Error, ValueError) as exc:
                raise MockCloudError(f"a signing certificate of the SAML metadata cannot be read: {exc}") from None
    if not certificates:
        raise MockCloudError("the SAML metadata names no signing certificate (IDPSSODescriptor/KeyDescriptor)")
    return IdentityProvider(root.get("entityID"), tuple(certificates))


def _time(text: str | None) -> float | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SamlRejected(
            "InvalidIdentityToken", f"Invalid SAML response: the time {text!r} is not ISO 8601"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def verify(encoded: str, provider: IdentityProvider, now: float) -> Assertion:
    """The signed assertion of a base64 SAML response of ``provider``, checked on ``now``; or :class:`SamlRejected`."""
    from lxml import etree
    from signxml.exceptions import InvalidInput, InvalidSignature, SignXMLException
    from signxml.verifier import SignatureConfiguration, XMLVerifier

    try:
        raw = base64.b64decode("".join(encoded.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SamlRejected("InvalidIdentityToken", "Invalid base64 SAML authentication response") from None
    try:
        root = etree.fromstring(raw, parser=_parser())
    except (etree.XMLSyntaxError, ValueError):
        raise SamlRejected("InvalidIdentityToken", "Response is not a valid SAML authentication response") from None
    if root.tag != f"{{{SAMLP}}}Response":
        raise SamlRejected("InvalidIdentityToken", "Response is not a valid SAML authentication response")
    config = SignatureConfiguration(
        location=".//",
        expect_references=1,
        ignore_ambiguous_key_info=True,  # the registered certificate decides, never the one the response carries
        verification_time=datetime.fromtimestamp(now, timezone.utc),
    )
    signed = None
    for certificate in provider.certificates:
        try:
            result = XMLVerifier().verify(raw, x509_cert=certificate, expect_config=config, parser=_parser())
        except (InvalidSignature, InvalidInput, SignXMLException, etree.XMLSyntaxError, ValueError):
            continue
        signed = (result[0] if isinstance(result, list) else result).signed_xml
        break
    if signed is None:
        raise SamlRejected(
            "InvalidIdentityToken", "The SAML response's signature does not verify with the provider's certificates"
        )
    assertion = signed if signed.tag == f"{{{SAML}}}Assertion" else signed.find(f"{{{SAML}}}Assertion")
    if assertion is None:
        raise SamlRejected("InvalidIdentityToken", "The signed SAML response holds no assertion")
    return _read(assertion, provider, now)


def _read(assertion: Any, provider: IdentityProvider, now: float) -> Assertion:
    issuer = (assertion.findtext(f"{{{SAML}}}Issuer") or "").strip()
    if issuer != provider.entity_id:
        raise SamlRejected(
            "InvalidIdentityToken",
            f"Issuer of the SAML assertion {issuer!r} is not the provider's {provider.entity_id}",
        )
    conditions = assertion.find(f"{{{SAML}}}Conditions")
    audiences: list[str] = []
    if conditions is not None:
        not_before, not_after = _time(conditions.get("NotBefore")), _time(conditions.get("NotOnOrAfter"))
        if not_before is not None and now + SKEW_SECONDS < not_before:
            raise SamlRejected("InvalidIdentityToken", "The SAML assertion is not yet valid (Conditions NotBefore)")
        if not_after is not None and now >= not_after:
            raise SamlRejected("ExpiredTokenException", "The SAML assertion has expired (Conditions NotOnOrAfter)")
        audiences = [
            (a.text or "").strip() for a in conditions.iterfind(f"{{{SAML}}}AudienceRestriction/{{{SAML}}}Audience")
        ]
    if not any(_is_aws_endpoint(a) for a in audiences):
        raise SamlRejected(
            "InvalidIdentityToken", "Audience of the SAML assertion is not https://signin.aws.amazon.com/saml"
        )
    subject = assertion.find(f"{{{SAML}}}Subject")
    name_id = None if subject is None else subject.find(f"{{{SAML}}}NameID")
    if name_id is None or not (name_id.text or "").strip():
        raise SamlRejected("InvalidIdentityToken", "The SAML assertion has no Subject NameID")
    recipient = ""
    for confirmation in subject.iterfind(f"{{{SAML}}}SubjectConfirmation"):
        if confirmation.get("Method") != BEARER:
            continue
        data = confirmation.find(f"{{{SAML}}}SubjectConfirmationData")
        if data is None:
            continue
        not_after = _time(data.get("NotOnOrAfter"))
        if not_after is not None and now >= not_after:
            raise SamlRejected("ExpiredTokenException", "The SAML assertion has expired (SubjectConfirmationData)")
        recipient = data.get("Recipient", "")
    if not _is_aws_endpoint(recipient):
        raise SamlRejected(
            "InvalidIdentityToken", "Recipient of the SAML assertion is not https://signin.aws.amazon.com/saml"
        )
    attributes: dict[str, list[str]] = {}
    for attribute in assertion.iterfind(f"{{{SAML}}}AttributeStatement/{{{SAML}}}Attribute"):
        values = [(v.text or "").strip() for v in attribute.iterfind(f"{{{SAML}}}AttributeValue")]
        attributes.setdefault(attribute.get("Name", ""), []).extend(values)
    session_end = None
    for statement in assertion.iterfind(f"{{{SAML}}}AuthnStatement"):
        session_end = _time(statement.get("SessionNotOnOrAfter")) or session_end
    name_format = name_id.get("Format", "urn:oasis:names:tc:SAML:2.0:nameid-format:transient")
    return Assertion(
        issuer,
        name_id.text.strip(),
        _NAMEID_FORMATS.get(name_format, name_format),
        recipient,
        audiences,
        attributes,
        session_end,
    )


def _is_aws_endpoint(url: str) -> bool:
    if url in AWS_AUDIENCES:
        return True
    # Regional sign-in endpoints: https://<region>.signin.aws.amazon.com/saml
    return url.startswith("https://") and url.endswith(".signin.aws.amazon.com/saml")


def name_qualifier(issuer: str, account_id: str, provider_name: str) -> str:
    """AWS's NameQualifier: BASE64(SHA1(issuer + account id + "/" + provider name))."""
    return base64.b64encode(hashlib.sha1(f"{issuer}{account_id}/{provider_name}".encode()).digest()).decode()
