"""AssumeRoleWithSAML with boto3, in-process and against the server: a test IdP signs its assertions (signxml), the
emulator verifies them with the certificate registered with the SAML provider, on the mock clock."""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from signxml import XMLSigner

from tests.helpers import DEFAULT_LICENSE_ARN, error_of

ACCOUNT = "123456789012"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
AWS_SAML = "https://signin.aws.amazon.com/saml"
ATTRIBUTE = "https://aws.amazon.com/SAML/Attributes/"


class TestIdP:
    """An identity provider of the test's own: an RSA key, its self-signed certificate, its metadata."""

    __test__ = False

    def __init__(self, entity_id: str = "https://idp.example.com/saml") -> None:
        self.entity_id = entity_id
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idp.example.com")])
        now = datetime.now(timezone.utc)
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .sign(self.key, hashes.SHA256())
        )

    @property
    def metadata(self) -> str:
        der = base64.b64encode(self.certificate.public_bytes(serialization.Encoding.DER)).decode()
        return (
            f'<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{self.entity_id}">'
            '<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">'
            '<md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data>'
            f"<ds:X509Certificate>{der}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
            "</md:IDPSSODescriptor></md:EntityDescriptor>"
        )

    def response(
        self,
        now: float,
        role_arn: str,
        provider_arn: str,
        *,
        subject: str = "alice",
        session_name: str = "alice@example.com",
        audience: str = AWS_SAML,
        recipient: str = AWS_SAML,
        lifetime: int = 300,
        source_identity: str | None = None,
        tags: dict | None = None,
        key=None,
        tamper=None,
    ) -> str:
        """A signed samlp:Response, base64 (the SAMLAssertion AWS takes)."""

        def at(offset: float) -> str:
            return datetime.fromtimestamp(now + offset, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

        attributes = [(ATTRIBUTE + "Role", f"{role_arn},{provider_arn}"), (ATTRIBUTE + "RoleSessionName", session_name)]
        if source_identity:
            attributes.append((ATTRIBUTE + "SourceIdentity", source_identity))
        for k, v in (tags or {}).items():
            attributes.append((ATTRIBUTE + f"PrincipalTag:{k}", v))
        attribute_xml = "".join(
            f'<saml:Attribute Name="{n}"><saml:AttributeValue>{v}</saml:AttributeValue></saml:Attribute>'
            for n, v in attributes
        )
        assertion_id = "_" + uuid.uuid4().hex
        assertion = etree.fromstring(
            f'<saml:Assertion xmlns:saml="{SAML}" ID="{assertion_id}" Version="2.0" IssueInstant="{at(0)}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            "<saml:Subject>"
            f'<saml:NameID Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">{subject}</saml:NameID>'
            '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{at(lifetime)}" Recipient="{recipient}"/>'
            "</saml:SubjectConfirmation></saml:Subject>"
            f'<saml:Conditions NotBefore="{at(-5)}" NotOnOrAfter="{at(lifetime)}">'
            f"<saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            "</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{at(0)}" SessionIndex="{assertion_id}">'
            "<saml:AuthnContext><saml:AuthnContextClassRef>"
            "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            "</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>"
            f"<saml:AttributeStatement>{attribute_xml}</saml:AttributeStatement>"
            "</saml:Assertion>"
        )
        signed = XMLSigner(c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#").sign(
            assertion,
            key=key or self.key,
            cert=self.certificate.public_bytes(serialization.Encoding.PEM).decode(),
            reference_uri=assertion_id,
        )
        response = etree.fromstring(
            f'<samlp:Response xmlns:samlp="{SAMLP}" xmlns:saml="{SAML}" ID="_{uuid.uuid4().hex}" Version="2.0" '
            f'IssueInstant="{at(0)}" Destination="{AWS_SAML}"><saml:Issuer>{self.entity_id}</saml:Issuer>'
            '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>'
            "</samlp:Response>"
        )
        response.append(signed)
        if tamper is not None:
            tamper(response)
        return base64.b64encode(etree.tostring(response)).decode()


@pytest.fixture(scope="module")
def idp():
    return TestIdP()


def trust(provider_arn: str, **condition) -> dict:
    statement = {
        "Effect": "Allow",
        "Principal": {"Federated": provider_arn},
        "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession", "sts:SetSourceIdentity"],
        "Condition": {"StringEquals": {"SAML:aud": AWS_SAML, **condition}},
    }
    return {"Version": "2012-10-17", "Statement": [statement]}


@pytest.fixture
def federation(backend, idp):
    name = f"idp-{uuid.uuid4().hex[:8]}"
    provider = backend.cloud.sts.create_saml_provider(name, idp.metadata)
    role = backend.cloud.sts.create_role(
        f"Saml-{uuid.uuid4().hex[:8]}",
        trust(provider.arn),
        managed_policy_arns=["arn:aws:iam::aws:policy/service-role/AWSLicenseManagerConsumptionPolicy"],
    )
    return provider, role


def assume(backend, role, provider, assertion, **extra):
    return backend.sts().assume_role_with_saml(
        RoleArn=role.arn, PrincipalArn=provider.arn, SAMLAssertion=assertion, **extra
    )


def test_a_signed_assertion_assumes_the_role(backend, idp, federation):
    provider, role = federation
    now = backend.cloud.clock.time()
    out = assume(
        backend,
        role,
        provider,
        idp.response(now, role.arn, provider.arn, source_identity="alice", tags={"dept": "licensing"}),
        DurationSeconds=900,
    )
    assert out["AssumedRoleUser"]["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.name}/alice@example.com"
    assert (out["Subject"], out["SubjectType"], out["Issuer"], out["Audience"]) == (
        "alice",
        "persistent",
        idp.entity_id,
        AWS_SAML,
    )
    qualifier = base64.b64encode(hashlib.sha1(f"{idp.entity_id}{ACCOUNT}/{provider.name}".encode()).digest()).decode()
    assert out["NameQualifier"] == qualifier
    assert out["SourceIdentity"] == "alice" and 0 < out["PackedPolicySize"] <= 100  # the session tags are packed
    credentials = out["Credentials"]
    assert 895 <= credentials["Expiration"].timestamp() - backend.cloud.clock.time() <= 900
    assert backend.lm(credentials).get_license(LicenseArn=DEFAULT_LICENSE_ARN)["License"]
    assert backend.sts(credentials).get_caller_identity()["Arn"] == out["AssumedRoleUser"]["Arn"]


def test_the_signature_is_verified_against_the_registered_certificate(backend, idp, federation):
    provider, role = federation
    now = backend.cloud.clock.time()
    impostor = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def rename_subject(response):
        response.find(f".//{{{SAML}}}NameID").text = "mallory"

    def wrap(response):  # an unsigned assertion beside the signed one: only what is signed counts
        forged = copy.deepcopy(response.find(f"{{{SAML}}}Assertion"))
        forged.remove(forged.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))
        forged.find(f".//{{{SAML}}}NameID").text = "mallory"
        forged.set("ID", "_forged")
        response.insert(2, forged)

    for assertion, expected in [
        (idp.response(now, role.arn, provider.arn, key=impostor), "InvalidIdentityToken"),
        (idp.response(now, role.arn, provider.arn, tamper=rename_subject), "InvalidIdentityToken"),
        (base64.b64encode(b"<not-saml/>").decode(), "InvalidIdentityToken"),
        ("%%%not base64%%%", "InvalidIdentityToken"),
    ]:
        with pytest.raises(ClientError) as exc:
            assume(backend, role, provider, assertion)
        assert error_of(exc)[:2] == (expected, 400)
    out = assume(backend, role, provider, idp.response(now, role.arn, provider.arn, tamper=wrap))
    assert out["Subject"] == "alice"


def test_audience_recipient_role_and_provider_are_checked(backend, idp, federation):
    provider, role = federation
    now = backend.cloud.clock.time()
    for assertion in [
        idp.response(now, role.arn, provider.arn, audience="https://evil.example.com"),
        idp.response(now, role.arn, provider.arn, recipient="https://evil.example.com/acs"),
    ]:
        with pytest.raises(ClientError) as exc:
            assume(backend, role, provider, assertion)
        assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)
    other_role = f"arn:aws:iam::{ACCOUNT}:role/SomeoneElse"
    with pytest.raises(ClientError) as exc:  # the assertion does not name this role
        assume(backend, role, provider, idp.response(now, other_role, provider.arn))
    assert error_of(exc) == ("AccessDenied", 403, "Not authorized to perform sts:AssumeRoleWithSAML")
    with pytest.raises(ClientError) as exc:
        backend.sts().assume_role_with_saml(
            RoleArn=role.arn,
            PrincipalArn=f"arn:aws:iam::{ACCOUNT}:saml-provider/nobody-{uuid.uuid4().hex[:6]}",
            SAMLAssertion=idp.response(now, role.arn, provider.arn),
        )
    assert error_of(exc) == ("InvalidIdentityToken", 400, "Specified provider doesn't exist.")


def test_an_assertion_expires_on_the_mock_clock(local, idp):
    cloud = local.cloud
    provider = cloud.sts.create_saml_provider("idp", idp.metadata)
    role = cloud.sts.create_role("Saml", trust(provider.arn))
    now = cloud.clock.time()
    assertion = idp.response(now, role.arn, provider.arn, lifetime=300)
    cloud.clock.advance(301)
    with pytest.raises(ClientError) as exc:
        assume(local, role, provider, assertion)
    assert error_of(exc)[:2] == ("ExpiredTokenException", 400)
    # and one issued for later is not valid yet
    early = idp.response(cloud.clock.time() + 3600, role.arn, provider.arn)
    with pytest.raises(ClientError) as exc:
        assume(local, role, provider, early)
    assert error_of(exc)[:2] == ("InvalidIdentityToken", 400)


@pytest.fixture
def local():
    from mockcloud import mock_cloud
    from tests.services.sts.support import Backend

    with mock_cloud(services=["licensemanager", "sts"]) as cloud:
        yield Backend(cloud, None)
