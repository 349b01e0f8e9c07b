"""The DevPay License Service over SOAP 1.1 and 1.2 with WS-Security X.509 signatures.

Requests are signed by the tests' own WS-Security signer (exclusive C14N,
RSA-SHA1 or RSA-SHA256, the certificate in a BinarySecurityToken) and checked
by mockcloud with signxml against the certificate the developer registered.
In-process the endpoint is https://ls.amazonaws.com/; against the server it
is /devpay/ (a SOAP request carries no Version to route by).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from mockcloud import mock_cloud, mock_devpay
from tests.services.devpay.support import (
    AWS_FAULT,
    DESKTOP_CODE,
    DESKTOP_KEY,
    LS,
    OTHER_DEVELOPER,
    SOAP11,
    SOAP12,
    WEB_CODE,
    WEB_KEY,
    Developer,
    LsClient,
    ok,
    post_soap,
    soap_request,
)


@pytest.fixture(scope="module")
def developer() -> Developer:
    return Developer.generate()


@pytest.fixture(scope="module")
def stranger() -> Developer:
    return Developer.generate("someone else")


@pytest.fixture
def registered(cloud, developer) -> Developer:
    cloud.devpay.register_certificate(developer.pem, "testing")
    return developer


def signed(cloud, developer, action, params, *, soap="1.1", minutes=5, **options) -> bytes:
    now = cloud.clock.now()
    options.setdefault("created", now)
    options.setdefault("expires", now + timedelta(minutes=minutes))
    return soap_request(action, params, soap=soap, developer=developer, **options)


def fault(reply, code: str, status: int):
    assert (reply.status, reply.fault_code) == (status, code), reply.body
    return reply


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
@pytest.mark.parametrize("digest", ["sha1", "sha256"])
def test_web_product_over_soap(backend, cloud, registered, soap, digest):
    """ActivateHostedProduct, GetActiveSubscriptionsByPid, VerifyByPid and RefreshUserToken, WS-Security signed."""
    token = cloud.devpay.product(WEB_CODE).token

    def call(action, params):
        body = signed(cloud, registered, action, params, soap=soap, digest=digest)
        return post_soap(backend.soap_url, body, soap=soap, action=action)

    reply = call("ActivateHostedProduct", [("ActivationKey", WEB_KEY), ("ProductToken", token)])
    assert reply.status == 200, reply.body
    envelope = SOAP12 if soap == "1.2" else SOAP11
    assert reply.root.tag == f"{{{envelope}}}Envelope"
    response = reply.root.find(f"{{{envelope}}}Body/{{{LS}}}ActivateHostedProductResponse")
    assert [c.tag.split("}")[1] for c in response] == ["ActivateHostedProductResult", "ResponseMetadata"]
    assert reply.headers["Content-Type"].startswith("application/soap+xml" if soap == "1.2" else "text/xml")
    user_token, pid = reply.text("UserToken"), reply.text("PersistentIdentifier")
    assert user_token.startswith("{UserToken}") and len(pid) == 27
    assert call("GetActiveSubscriptionsByPid", [("PersistentIdentifier", pid)]).text("ProductCode") == WEB_CODE
    assert (
        call("VerifyProductSubscriptionByPid", [("PersistentIdentifier", pid), ("ProductCode", WEB_CODE)]).text(
            "Subscribed"
        )
        == "true"
    )
    assert (
        call("RefreshUserToken", [("UserToken", user_token), ("AdditionalTokens", token)]).text("UserToken")
        == user_token
    )
    # the same state answers REST-Query
    rest = backend.client().call("VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode=WEB_CODE)
    assert ok(rest).text("Subscribed") == "true"


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
def test_activate_desktop_product_over_soap_is_unsigned(backend, cloud, soap):
    body = soap_request(
        "ActivateDesktopProduct",
        [("ActivationKey", DESKTOP_KEY), ("ProductToken", cloud.devpay.product(DESKTOP_CODE).token)],
        soap=soap,
        security=False,
    )
    reply = post_soap(backend.soap_url, body, soap=soap, action="ActivateDesktopProduct")
    assert reply.status == 200, reply.body
    assert len(reply.text("AWSAccessKeyId")) == 20 and len(reply.text("SecretAccessKey")) == 40
    # the key pair it returned signs REST-Query calls
    customer = backend.client(key=reply.text("AWSAccessKeyId"), secret=reply.text("SecretAccessKey"))
    verified = customer.call(
        "VerifyProductSubscriptionByTokens",
        ProductToken=cloud.devpay.product(DESKTOP_CODE).token,
        UserToken=reply.text("UserToken"),
    )
    assert ok(verified).text("Subscribed") == "true"


@pytest.mark.parametrize("soap,status", [("1.1", 500), ("1.2", 400)])
def test_soap_refusals_and_fault_shapes(backend, cloud, registered, soap, status):
    """VerifyByTokens is REST-only; a desktop product's RefreshUserToken is REST-only; faults are AWS's."""
    desktop = cloud.devpay.product(DESKTOP_CODE).token
    body = signed(
        cloud,
        registered,
        "VerifyProductSubscriptionByTokens",
        [("ProductToken", desktop), ("UserToken", "{UserToken}x")],
        soap=soap,
    )
    reply = fault(post_soap(backend.soap_url, body, soap=soap), "InvalidAction", status)
    root = reply.root
    if soap == "1.1":
        found = root.find(f".//{{{SOAP11}}}Fault")
        assert [c.tag for c in found] == ["faultcode", "faultstring", "detail"]
        assert found.find("faultcode").text == "aws:Client.InvalidAction"
    else:
        found = root.find(f".//{{{SOAP12}}}Fault")
        assert found.find(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value").text == "soap:Sender"
        assert "SOAP" in found.find(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text").text
    assert len(root.find(f".//{{{AWS_FAULT}}}RequestId").text) == 36
    # a desktop user token refreshed over SOAP
    adp = soap_request(
        "ActivateDesktopProduct", [("ActivationKey", DESKTOP_KEY), ("ProductToken", desktop)], soap=soap, security=False
    )
    user_token = post_soap(backend.soap_url, adp, soap=soap).text("UserToken")
    body = signed(
        cloud, registered, "RefreshUserToken", [("UserToken", user_token), ("AdditionalTokens", desktop)], soap=soap
    )
    fault(post_soap(backend.soap_url, body, soap=soap), "InvalidRequest", status)


def test_ws_security_timestamp_rules(backend, cloud, registered, request):
    token = cloud.devpay.product(WEB_CODE).token
    params = [("ActivationKey", WEB_KEY), ("ProductToken", token)]
    now = cloud.clock.now()

    def send(**options):
        return post_soap(
            backend.soap_url,
            soap_request("ActivateHostedProduct", params, soap="1.2", developer=registered, **options),
            soap="1.2",
        )

    fault(send(timestamp=False, sign=("Body",)), "WSSecurityTimestampMissing", 400)
    fault(
        send(created=now - timedelta(minutes=20), expires=now - timedelta(minutes=1)), "WSSecurityTimestampExpired", 400
    )
    fault(
        send(created=now - timedelta(minutes=16)), "WSSecurityTimestampExpired", 400
    )  # Created alone lives 15 minutes
    fault(send(), "WSSecurityTimestampExpiresMissing", 400)  # an empty Timestamp
    fault(send(created=now + timedelta(minutes=20)), "InvalidSecurity", 403)
    assert send(created=now - timedelta(minutes=14)).status == 200  # within 15 minutes of Created
    if request.node.callspec.params["backend"] == "server":
        return  # a server's client signs with the host's time, which the server's clock does not move
    # the clock moves past a signed Expires
    body = soap_request(
        "VerifyProductSubscriptionByPid",
        [("PersistentIdentifier", "PX"), ("ProductCode", WEB_CODE)],
        soap="1.2",
        developer=registered,
        created=now,
        expires=now + timedelta(minutes=5),
    )
    cloud.clock.advance(minutes=6)
    fault(post_soap(backend.soap_url, body, soap="1.2"), "WSSecurityTimestampExpired", 400)


def test_ws_security_signature_rules(backend, cloud, registered, stranger):
    token = cloud.devpay.product(WEB_CODE).token
    params = [("ActivationKey", WEB_KEY), ("ProductToken", token)]

    def send(developer=registered, **options):
        return post_soap(
            backend.soap_url,
            signed(cloud, developer, "ActivateHostedProduct", params, soap="1.2", **options),
            soap="1.2",
        )

    fault(send(tamper=True), "WSSecurityX509SignatureError", 403)
    fault(send(sign=("Body",)), "ElementNotSigned", 403)
    fault(send(stranger), "InvalidClientTokenId", 403)
    fault(send(encoding_type="urn:hex"), "WSSecurityEncodingTypeError", 400)
    fault(send(value_type="urn:kerberos"), "WSSecurityIncorrectValuetype", 400)
    now = cloud.clock.now()
    unsigned = soap_request(
        "ActivateHostedProduct", params, soap="1.2", created=now, expires=now + timedelta(minutes=5)
    )
    fault(post_soap(backend.soap_url, unsigned, soap="1.2"), "MissingClientTokenId", 403)
    no_header = soap_request("ActivateHostedProduct", params, soap="1.2", security=False)
    fault(post_soap(backend.soap_url, no_header, soap="1.2"), "MissingClientTokenId", 403)
    # another developer's registered certificate: the product token is not theirs
    cloud.devpay.register_certificate(stranger.certificate, OTHER_DEVELOPER[0])
    fault(send(stranger), "InvalidProductToken", 400)
    assert send().status == 200


def test_sha1_signatures_can_be_refused():
    developer = Developer.generate()
    with mock_cloud(services=["devpay"], settings={"devpay": {"soap_allow_sha1": False}}) as cloud:
        cloud.devpay.register_certificate(developer.pem)
        params = [("ActivationKey", WEB_KEY), ("ProductToken", cloud.devpay.product(WEB_CODE).token)]
        reply = post_soap(
            "https://ls.amazonaws.com/", signed(cloud, developer, "ActivateHostedProduct", params, digest="sha1")
        )
        fault(reply, "MalformedSOAPSignature", 500)
        reply = post_soap(
            "https://ls.amazonaws.com/", signed(cloud, developer, "ActivateHostedProduct", params, digest="sha256")
        )
        assert reply.status == 200, reply.body


def test_envelope_errors(backend, cloud):
    url = backend.soap_url
    fault(post_soap(url, b"<not xml", soap="1.2"), "SoapEnvelopeParseError", 400)
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><x>&b;</x>'
    fault(post_soap(url, bomb, soap="1.2"), "SoapEnvelopeParseError", 400)
    fault(post_soap(url, b"<ActivateDesktopProduct/>", soap="1.2"), "SoapEnvelopeMissing", 400)
    fault(post_soap(url, b"<Envelope/>", soap="1.2"), "UnknownEnvelopeNamespace", 400)
    fault(
        post_soap(url, b'<e:Envelope xmlns:e="urn:soap-0.9"><e:Body/></e:Envelope>', soap="1.2"),
        "UnknownEnvelopeNamespace",
        400,
    )
    fault(post_soap(url, f'<s:Envelope xmlns:s="{SOAP12}"/>'.encode(), soap="1.2"), "SoapBodyMissing", 400)
    deep = f'<s:Envelope xmlns:s="{SOAP12}"><s:Body>{"<a>" * 80}{"</a>" * 80}</s:Body></s:Envelope>'.encode()
    fault(post_soap(url, deep, soap="1.2"), "SoapEnvelopeTooDeep", 400)
    adp = soap_request("ActivateDesktopProduct", [("ActivationKey", DESKTOP_KEY)], security=False)
    fault(post_soap(url, adp, soap="1.1", action=None), "SOAP11MissingAction", 500)
    fault(post_soap(url, soap_request("MintMoney", [], security=False), soap="1.1"), "InvalidAction", 500)
    other_version = soap_request(
        "ActivateDesktopProduct", [], security=False, namespace="http://ls.amazonaws.com/doc/2001-01-01/"
    )
    fault(post_soap(url, other_version, soap="1.1"), "NoSuchVersion", 500)
    # the action's own errors come back as faults too
    fault(post_soap(url, adp, soap="1.1", action="ActivateDesktopProduct"), "MissingProductToken", 500)


def test_throttled_soap_request_is_a_503_fault(backend, cloud, registered):
    cloud.faults.add("devpay", "ActivateDesktopProduct", throttle=True, count=1)
    adp = soap_request(
        "ActivateDesktopProduct",
        [("ActivationKey", DESKTOP_KEY), ("ProductToken", cloud.devpay.product(DESKTOP_CODE).token)],
        security=False,
    )
    reply = fault(post_soap(backend.soap_url, adp), "ServiceUnavailable", 503)
    assert reply.root.find(f".//{{{SOAP11}}}Fault/faultcode").text == "aws:Server.ServiceUnavailable"
    assert post_soap(backend.soap_url, adp).status == 200


@pytest.mark.parametrize("soap", ["1.1", "1.2"])
def test_urllib_soap_client(backend, cloud, registered, soap):
    params = [("ActivationKey", WEB_KEY), ("ProductToken", cloud.devpay.product(WEB_CODE).token)]
    reply = post_soap(
        backend.soap_url,
        signed(cloud, registered, "ActivateHostedProduct", params, soap=soap),
        soap=soap,
        transport="urllib",
    )
    assert reply.status == 200 and len(reply.text("PersistentIdentifier")) == 27
    bad = post_soap(
        backend.soap_url,
        signed(cloud, registered, "ActivateHostedProduct", params, soap=soap, tamper=True),
        soap=soap,
        transport="urllib",
    )
    fault(bad, "WSSecurityX509SignatureError", 500 if soap == "1.1" else 403)


def test_certificate_from_a_fixtures_file(tmp_path):
    developer = Developer.generate()
    path = tmp_path / "fixtures.json"
    path.write_text(
        json.dumps(
            {
                "devpay": {
                    "products": [
                        {
                            "code": "WEB00001",
                            "kind": "web",
                            "owner_access_key_id": "testing",
                            "token": "{ProductToken}AAEGQXBwVGtuYmFy",
                        }
                    ],
                    "activation_keys": [{"key": "KEYWEB1", "product_code": "WEB00001", "customer_id": "c1"}],
                    "certificates": [{"owner_access_key_id": "testing", "pem": developer.pem}],
                }
            }
        )
    )
    with mock_devpay(fixtures=str(path)) as cloud:
        body = signed(
            cloud,
            developer,
            "ActivateHostedProduct",
            [("ActivationKey", "KEYWEB1"), ("ProductToken", "{ProductToken}AAEGQXBwVGtuYmFy")],
        )
        reply = post_soap("https://ls.amazonaws.com/", body)
        assert reply.status == 200, reply.body
        assert cloud.devpay.persistent_identifier("testing", "c1") == reply.text("PersistentIdentifier")
        pid = reply.text("PersistentIdentifier")
        rest = LsClient("https://ls.amazonaws.com/", cloud.clock).call(
            "VerifyProductSubscriptionByPid", PersistentIdentifier=pid, ProductCode="WEB00001"
        )
        assert ok(rest).text("Subscribed") == "true"
