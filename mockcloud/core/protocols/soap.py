"""SOAP 1.1 and 1.2, document/literal, beside AWS Query on the same endpoint (the SQS/EC2/DevPay way).

The Body's one child is named after the action, in the namespace of the API
version, with the request parameters as child elements; the answer's Body
holds exactly the ``<{Action}Response>`` the Query protocol returns. Errors
are SOAP faults in AWS's shape::

    <soap:Fault>                                     SOAP 1.1: faultcode aws:Client.<Code>, faultstring,
      <soap:Code><soap:Value>soap:Sender</soap:Value>          detail/aws:RequestId
        <soap:Subcode><soap:Value>aws:<Code></soap:Value></soap:Subcode></soap:Code>
      <soap:Reason><soap:Text xml:lang="en-US">…</soap:Text></soap:Reason>
      <soap:Detail><aws:RequestId>…</aws:RequestId></soap:Detail>
    </soap:Fault>

SOAP 1.1 faults are HTTP 500 ("For SOAP 1.1, SQS returns HTTP status code 500
for all faults"), except throttling, which stays 503; SOAP 1.2 faults take the
status of the code. Signed actions authenticate with WS-Security
(:mod:`..auth.wssecurity`). Envelopes are parsed with defusedxml: no DTDs, no
entities.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from xml.etree.ElementTree import Element

from ..auth import wssecurity
from ..auth.wssecurity import WsSecurityRules
from ..errors import ErrorTable, ServiceError
from ..request import Reply, Request
from ..text import xml_escape
from .aws_query import AwsQueryProtocol, QueryExchange, response_xml

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
AWS_FAULT = "http://webservices.amazon.com/AWSFault/2005-15-09"
WS_ADDRESSING = ("http://www.w3.org/2005/08/addressing", "http://schemas.xmlsoap.org/ws/2004/08/addressing")
MAX_ENVELOPE_BYTES = 1 << 20
MAX_DEPTH = 64

_NAMESPACES = {SOAP11: "1.1", SOAP12: "1.2"}
_CONTENT_TYPES = {"1.1": "text/xml; charset=utf-8", "1.2": "application/soap+xml; charset=utf-8"}

SOAP_ERRORS = ErrorTable.of_codes(
    {  # the framework's SOAP and WS-Security codes; statuses [I]
        "SoapBodyMissing": (400, "Could not find the SOAP body in the request."),
        "SoapEnvelopeMissing": (400, "Could not find the SOAP envelope in the request."),
        "SoapEnvelopeParseError": (400, "Could not parse the SOAP envelope."),
        "SoapEnvelopeTooDeep": (400, "The SOAP envelope exceeded the maximum allowed depth."),
        "SoapEnvelopeTooLong": (400, "The SOAP envelope exceeded the maximum allowed length."),
        "SOAP11MissingAction": (400, "The <Action> request element is missing in SOAP 1.1 request."),
        "SOAP11IncorrectDateFormat": (400, "Timestamp must be in XSD date format."),
        "UnknownEnvelopeNamespace": (
            400,
            "Envelope Namespace must be for either SOAP 1.1: http://schemas.xmlsoap.org/soap/envelope, "
            "or SOAP 1.2: http://www.w3.org/2003/05/soap-envelope.",
        ),
        "WSSecurityCorruptSignedInfo": (400, "Signed info is corrupt."),
        "WSSecurityCreatedDateIncorrectFormat": (400, "Timestamp for created date must be in ISO8601 format."),
        "WSSecurityEncodingTypeError": (400, "BinarySecurityToken must have EncodingType of Base64Binary."),
        "WSSecurityExpiresDateIncorrectFormat": (400, "Timestamp for expires date must be in ISO8601 format."),
        "WSSecurityIncorrectValuetype": (400, "BinarySecurityToken has bad ValueType."),
        "WSSecurityMissingValuetype": (400, "BinarySecurityToken must have attribute ValueType."),
        "WSSecurityMultipleX509Error": (400, "Request must not contain more than one X.509 BinarySecurityToken."),
        "WSSecuritySignatureError": (400, "Error while processing signature element."),
        "WSSecuritySignatureMissing": (400, "SignatureValue is missing or empty."),
        "WSSecuritySignedInfoError": (400, "Error while processing signed info."),
        "WSSecuritySignedInfoMissing": (400, "Request has no SignedInfo."),
        "WSSecurityTimestampExpired": (400, "Request has expired."),
        "WSSecurityTimestampExpiresMissing": (400, "Timestamp must have Expires element."),
        "WSSecurityTimestampMissing": (400, "Security Header Element is missing the timestamp element."),
        "WSSecurityX509SignatureError": (403, "Failed to check signature with X.509 certificate."),
        "X509ParseError": (400, "Could not parse X.509 certificate."),
    }
)


@dataclass
class SoapMessage:
    version: str  # "1.1" or "1.2"
    namespace: str  # the envelope's
    header: Element | None
    body: Element
    operation: Element  # the Body's one child, named after the action
    raw: bytes

    @property
    def action(self) -> str:
        return self.operation.tag.rpartition("}")[2]

    @property
    def action_namespace(self) -> str:
        tag = self.operation.tag
        return tag[1 : tag.index("}")] if tag.startswith("{") else ""

    def addressing_action(self) -> str | None:
        if self.header is None:
            return None
        for namespace in WS_ADDRESSING:
            found = self.header.find(f"{{{namespace}}}Action")
            if found is not None:
                return (found.text or "").strip()
        return None


def soap_version_of(request: Request) -> str | None:
    """``1.2`` for ``application/soap+xml``, ``1.1`` for ``text/xml`` or a SOAPAction header; else None."""
    if request.method != "POST":
        return None
    mimetype = request.mimetype
    if mimetype == "application/soap+xml":
        return "1.2"
    if mimetype == "text/xml" or "HTTP_SOAPACTION" in request.environ:
        return "1.1"
    return None


def _fault(code: str, message: str | None = None) -> ServiceError:
    error = SOAP_ERRORS.error(code, message)
    error.common = True
    return error


def parse_envelope(raw: bytes, declared: str) -> SoapMessage:
    """The envelope's parts, or the framework's SOAP error (parsed with defusedxml: no DTDs, no entities)."""
    if len(raw) > MAX_ENVELOPE_BYTES:
        raise _fault("SoapEnvelopeTooLong")
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(raw, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError):  # LookupError: an unknown encoding="..."
        raise _fault("SoapEnvelopeParseError") from None
    _check_depth(root)
    namespace, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    if local != "Envelope":
        raise _fault("SoapEnvelopeMissing")
    version = _NAMESPACES.get(namespace)
    if version is None:
        raise _fault("UnknownEnvelopeNamespace")
    header = root.find(f"{{{namespace}}}Header")
    body = root.find(f"{{{namespace}}}Body")
    if body is None:
        raise _fault("SoapBodyMissing")
    children = list(body)
    if len(children) != 1:
        raise _fault("SoapBodyMissing", "The SOAP body must hold exactly one request element.")
    return SoapMessage(version, namespace, header, body, children[0], raw)


def _check_depth(root: Element) -> None:
    stack = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _fault("SoapEnvelopeTooDeep")
        stack.extend((child, depth + 1) for child in element)


def envelope(version: str, inner: str) -> bytes:
    namespace = SOAP12 if version == "1.2" else SOAP11
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<soap:Envelope xmlns:soap="{namespace}"><soap:Body>{inner}</soap:Body></soap:Envelope>'
    ).encode()


def fault_xml(version: str, code: str, message: str, receiver: bool, rid: str) -> str:
    detail = f'<aws:RequestId xmlns:aws="{AWS_FAULT}">{rid}</aws:RequestId>'
    if version == "1.2":
        return (
            f'<soap:Fault xmlns:aws="{AWS_FAULT}">'
            f"<soap:Code><soap:Value>soap:{'Receiver' if receiver else 'Sender'}</soap:Value>"
            f"<soap:Subcode><soap:Value>aws:{xml_escape(code)}</soap:Value></soap:Subcode></soap:Code>"
            f'<soap:Reason><soap:Text xml:lang="en-US">{xml_escape(message)}</soap:Text></soap:Reason>'
            f"<soap:Detail>{detail}</soap:Detail></soap:Fault>"
        )
    return (
        f'<soap:Fault xmlns:aws="{AWS_FAULT}">'
        f"<faultcode>aws:{'Server' if receiver else 'Client'}.{xml_escape(code)}</faultcode>"
        f"<faultstring>{xml_escape(message)}</faultstring><detail>{detail}</detail></soap:Fault>"
    )


def fault_status(version: str, status: int) -> int:
    if version == "1.2" or status == 503:
        return status
    return 500


@dataclass(slots=True, eq=False)
class SoapExchange(QueryExchange):
    soap: SoapMessage | None = None  # the envelope, when the request came over SOAP
    soap_version: str | None = None  # "1.1" or "1.2": faults answer in the envelope the client used, even for a bad one


class AwsQuerySoapProtocol(AwsQueryProtocol[SoapExchange]):
    """AWS Query with its SOAP twin on the same endpoint.

    Subclasses declare ``@operation(soap=False)`` for actions not offered over
    SOAP, and :meth:`certificate_owner` (who a registered X.509 certificate belongs to).
    """

    exchange_type = SoapExchange
    operation_options = AwsQueryProtocol.operation_options | {"soap"}
    soap_refused: frozenset[str] = frozenset()
    ws_security: WsSecurityRules = WsSecurityRules()

    @classmethod
    def compile_operations(cls) -> None:
        super().compile_operations()
        cls.soap_refused = frozenset(
            name for name, op in cls.operations.items() if op.options.get("soap", True) is False
        )

    def operation_of(self, exchange: SoapExchange) -> str:
        version = soap_version_of(exchange.request)
        if version is None:
            return super().operation_of(exchange)
        exchange.soap_version = version  # faults answer in the envelope the client used, even for a bad one
        message = parse_envelope(exchange.body, version)
        exchange.soap_version = message.version
        exchange.soap = message
        for api_version, namespace in self.namespaces.items():
            if namespace == message.action_namespace:
                exchange.version = api_version
        return message.action

    def authenticate(self, exchange: SoapExchange) -> Any:
        message = exchange.soap
        if message is None:
            return super().authenticate(exchange)
        operation = exchange.operation
        if operation not in self.operations:
            raise self.error("InvalidAction", f"The action {operation} is not valid for this web service.")
        if exchange.version is None:
            raise self.error("NoSuchVersion", f"The requested version ({message.action_namespace}) is not valid.")
        environ = exchange.request.environ
        if message.version == "1.1" and "HTTP_SOAPACTION" not in environ and message.addressing_action() is None:
            raise _fault("SOAP11MissingAction")
        if operation in self.soap_refused:
            raise self.error(
                "InvalidAction", f"The action {operation} is not valid over SOAP; use a REST-Query request."
            )
        if operation in self.unsigned_operations:
            return None
        try:
            return wssecurity.verify(
                message.raw,
                envelope_ns=message.namespace,
                security=wssecurity.security_header(message.header),
                body=message.body,
                now=self.context.clock.time(),
                host_now=self.context.clock.host_time(),
                owner_of=self.certificate_owner,
                rules=self.ws_security,
            )
        except ServiceError as error:  # the status comes from the service's one table
            raise self.error(error.code, error.message) from None

    def malformed_request(self, exchange: SoapExchange, message: str) -> ServiceError:
        version = soap_version_of(exchange.request)
        if version is not None:  # a SOAP client gets its fault in the envelope it used
            exchange.soap_version = version
        return super().malformed_request(exchange, message)

    def certificate_owner(self, certificate: Certificate) -> Any | None:
        """The identity a registered certificate stands for (None: not registered)."""
        return None

    def parse(self, exchange: SoapExchange) -> dict[str, Any]:
        message = exchange.soap
        if message is None:
            return super().parse(exchange)
        params: dict[str, Any] = {}
        for child in message.operation:
            name = child.tag.rpartition("}")[2]
            value = (child.text or "").strip()
            if name in self.list_params:
                params.setdefault(name, []).append(value)
            elif name not in params:
                params[name] = value
        return params

    def render(self, exchange: SoapExchange, result: Any) -> Reply:
        message = exchange.soap
        if message is None:
            return super().render(exchange, result)
        inner = response_xml(exchange.operation, self.namespace_of(exchange), result, self.context.entropy.request_id())
        return self._soap_reply(200, message.version, inner)

    def render_error(self, exchange: SoapExchange, error: ServiceError) -> Reply:
        version = exchange.soap_version
        if version is None:
            return super().render_error(exchange, error)
        inner = fault_xml(version, error.code, error.message, error.status >= 500, self.context.entropy.request_id())
        reply = self._soap_reply(fault_status(version, error.status), version, inner)
        reply.headers.extend(error.headers.items())
        return reply

    def _soap_reply(self, status: int, version: str, inner: str) -> Reply:
        body = envelope(version, inner)
        headers = [("Content-Type", _CONTENT_TYPES[version]), ("Content-Length", str(len(body)))]
        if self.server_header:
            headers.append(("Server", self.server_header))
        return Reply(status, headers, body)
