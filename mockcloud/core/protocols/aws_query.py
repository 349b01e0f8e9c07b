"""The AWS Query protocol of the SQS/EC2/DevPay era: ``Action``+``Version`` over GET or form POST, XML answers.

Success::

    <{Action}Response xmlns="{namespace of the Version}">
      <{Action}Result>...</{Action}Result>
      <ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
    </{Action}Response>

Errors::

    <ErrorResponse xmlns="…"><Error><Type>Sender</Type><Code>…</Code><Message>…</Message><Detail/></Error>
      <RequestId>…</RequestId></ErrorResponse>

with the HTTP status of the code from one table (:data:`COMMON_ERRORS`, which
a service extends). Requests are signed with signature version 0, 1 or 2
(:mod:`..auth.aws_query_signature`). A service subclasses
:class:`AwsQueryProtocol`, sets its namespaces, declares each action with
``@operation`` (``@operation(unsigned=True)`` for one that takes no
signature), and returns each result as ``[(element, value), ...]`` in schema
order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from ..auth import aws_query_signature as query_auth
from ..auth.aws_query_signature import QueryAuthRules, QueryParams
from ..errors import ErrorTable, ServiceError
from ..request import Reply, raw_path
from ..service import Exchange, ServiceProtocol
from ..text import is_ascii_digits, xml_escape
from .aws_common import AwsAuthorization

# code -> (HTTP status, message). Statuses are those the AWS Query framework
# documented (SQS 2008-01-01 "Errors Common to all Actions"); the ones it left
# open are marked [I] and are choices.
COMMON_ERRORS = ErrorTable.of_codes(
    {
        "AccessDenied": (403, "Access to the resource is denied."),
        "AuthFailure": (401, "A value used for authentication could not be validated, such as Signature."),
        "CannotValidateCredentials": (403, "The provided security credentials are not valid."),  # [I]
        "ConflictingQueryParameter": (
            400,
            "The query parameter is invalid. Its structure conflicts with that of another parameter.",
        ),
        "ElementNotSigned": (403, "The element is not signed."),
        "InternalError": (500, "We encountered an internal error. Please try again."),
        "InvalidAccessKeyId": (401, "AWS was not able to validate the provided access credentials."),
        "InvalidAction": (400, "The action is not valid for this web service."),
        "InvalidAddress": (404, "The address is not valid for this web service."),
        "InvalidClientTokenId": (403, "The AWS Access Key Id you provided does not exist in our records."),  # [I]
        "InvalidHttpRequest": (400, "Invalid HTTP request."),
        "InvalidParameterCombination": (
            400,
            "Two parameters were specified that cannot be used together, such as Timestamp and Expires.",
        ),
        "InvalidParameterValue": (400, "One or more parameters cannot be validated."),
        "InvalidQueryParameter": (
            400,
            "The query parameter is invalid. Please see service documentation for correct syntax.",
        ),
        "InvalidRequest": (400, "The service cannot handle the request. Request is invalid."),
        "InvalidSecurity": (403, "The provided security credentials are not valid."),
        "InvalidSecurityToken": (400, "The security token used in the request is invalid."),
        "MalformedSOAPSignature": (400, "Invalid SOAP Signature."),
        "MalformedVersion": (400, "Version not well formed. Must be in YYYY-MM-DD format."),
        "MissingAction": (400, "No action was supplied with this request."),  # [I]
        "MissingClientTokenId": (403, "Request must contain AWSAccessKeyId or X.509 certificate."),
        "MissingCredentials": (401, "AWS was not able to authenticate the request: access credentials are missing."),
        "MissingParameter": (400, "A required parameter is missing."),
        "NoSuchVersion": (400, "An incorrect version was specified in the request."),
        "RequestExpired": (400, "Request has expired."),
        "RequestThrottled": (503, "Request is throttled."),  # [I]
        "ServiceUnavailable": (
            503,
            "Service is unavailable. This error is often temporary; resend the request after a short wait.",
        ),
        "SignatureDoesNotMatch": (
            403,
            "The request signature we calculated does not match the signature you provided.",
        ),  # [I]
        "UnsupportedHttpVerb": (405, "The requested HTTP verb is not supported."),  # [I]
        "URITooLong": (414, "The URI exceeded the maximum limit."),  # [I]
    }
)

FORM = "application/x-www-form-urlencoded"


def xml_elements(items: Iterable[tuple[str, Any]]) -> str:
    """``[(name, value), ...]`` as XML elements in that order; a list value nests, None is left out."""
    out = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            out.append(f"<{name}>{'true' if value else 'false'}</{name}>")
        elif isinstance(value, (list, tuple)):
            out.append(f"<{name}>{xml_elements(value)}</{name}>")
        else:
            out.append(f"<{name}>{xml_escape(str(value))}</{name}>")
    return "".join(out)


def response_xml(action: str, namespace: str, result: Iterable[tuple[str, Any]], rid: str) -> str:
    """``<{Action}Response>`` with its Result and ResponseMetadata, without the XML declaration."""
    return (
        f'<{action}Response xmlns="{namespace}"><{action}Result>{xml_elements(result)}</{action}Result>'
        f"<ResponseMetadata><RequestId>{rid}</RequestId></ResponseMetadata></{action}Response>"
    )


def error_type(status: int) -> str:
    return "Receiver" if status >= 500 else "Sender"


@dataclass(slots=True, eq=False)
class QueryExchange(Exchange):
    query: QueryParams | None = None  # the query string and form body, decoded once
    version: str | None = None  # the API version the request named (checked), for the reply's namespace
    pairs: list[tuple[str, str]] | None = None  # the parameters a signature covered, when one did


Q = TypeVar("Q", bound=QueryExchange)


class AwsQueryProtocol(AwsAuthorization, ServiceProtocol[Q]):
    """Subclasses set the class attributes and declare one ``@operation`` method per action.

    Each method gets the exchange, whose ``params`` are the request's
    parameters and whose ``caller`` is the signer. ``namespaces`` maps each
    accepted API version to its response namespace.
    """

    exchange_type = QueryExchange  # type: ignore[assignment]
    namespaces: ClassVar[Mapping[str, str]] = {}
    error_namespace: str | None = None  # None: the namespace of the request's version
    error_detail: bool = True  # an empty <Detail/> in <Error>, as the 2007-era Query services send it
    operation_options = frozenset({"unsigned"})
    unsigned_operations: frozenset[str] = frozenset()
    list_params: frozenset[str] = frozenset()  # names sent as Name, Name.1, Name.2 ... (or repeated)
    errors: ErrorTable = COMMON_ERRORS
    server_header: str | None = None
    throttling_code: str = "ServiceUnavailable"
    query_auth: QueryAuthRules = QueryAuthRules()

    @classmethod
    def compile_operations(cls) -> None:
        cls.unsigned_operations = frozenset(name for name, op in cls.operations.items() if op.options.get("unsigned"))

    # ---- errors ----------------------------------------------------------------
    def error(self, code: str, message: str | None = None) -> ServiceError:
        """The service's error with its status from the one table (400 for a code not in it)."""
        if code not in self.errors:
            return ServiceError(code, message or "", 400)
        return self.errors.error(code, message)

    def throttling_error(self, exchange: Q, retry_after: float | None) -> ServiceError:
        return self.error(self.throttling_code)

    def access_denied_error(self, message: str) -> ServiceError:
        return self.error("AccessDenied", message)

    def internal_error(self) -> ServiceError:
        return self.error("InternalError")

    def malformed_request(self, exchange: Q, message: str) -> ServiceError:
        return self.error("InvalidHttpRequest", f"Invalid HTTP request. Reason: {message}")

    def injected_error(self, code: str | None, status: int | None, message: str | None) -> ServiceError:
        if code is not None and status is None:
            return self.error(code, message or f"mockcloud injected fault: {code}")
        return super().injected_error(code, status, message)

    # ---- the request -------------------------------------------------------------
    def query(self, exchange: Q) -> QueryParams:
        """The query string and (for a form POST) the body's parameters, decoded once per request."""
        query = exchange.query
        if query is None:
            request = exchange.request
            body = ""
            if request.method == "POST" and request.mimetype == FORM:
                try:
                    body = exchange.body.decode("utf-8")
                except UnicodeDecodeError:
                    raise self.error("InvalidQueryParameter", "The request body is not valid UTF-8.") from None
            query = exchange.query = QueryParams(request.environ.get("QUERY_STRING", ""), body)
        return query

    def operation_of(self, exchange: Q) -> str:
        return self.query(exchange).first("Action") or ""

    def check_action_and_version(self, exchange: Q, version: str | None) -> str:
        """The framework's checks before authentication: verb, Action, Version. Returns the version."""
        method, action = exchange.request.method, exchange.operation
        if method not in ("GET", "POST"):
            raise self.error("UnsupportedHttpVerb", f"The requested HTTP verb is not supported: {method}")
        if not action:
            raise self.error("MissingAction")
        if action not in self.operations:
            raise self.error("InvalidAction", f"The action {action} is not valid for this web service.")
        if not version:
            raise query_auth.missing("Version")
        if version not in self.namespaces:
            if (
                len(version) != 10
                or version[4] != "-"
                or version[7] != "-"
                or not is_ascii_digits(version.replace("-", ""))
            ):
                raise self.error(
                    "MalformedVersion", f"Version not well formed: {version}. Must be in YYYY-MM-DD format."
                )
            raise self.error("NoSuchVersion", f"The requested version ({version}) is not valid.")
        return version

    def secret_for(self, access_key_id: str) -> str | None:
        """The secret of a key that may sign (the shared AWS credentials; services may add their own)."""
        key = self.context.credentials.aws(access_key_id)
        return key.secret_access_key if key is not None else None

    def authenticate(self, exchange: Q) -> Any:
        query = self.query(exchange)
        exchange.version = self.check_action_and_version(exchange, query.first("Version"))
        if exchange.operation in self.unsigned_operations:
            return None
        request = exchange.request
        environ = request.environ
        host = environ.get("HTTP_HOST") or environ.get("SERVER_NAME", "")
        try:
            signer = query_auth.verify(
                query,
                method=request.method,
                hosts=query_auth.host_candidates(host, environ.get("wsgi.url_scheme", "http")),
                path=raw_path(request),
                lookup=self.secret_for,
                now=self.context.clock.time(),
                rules=self.query_auth,
                host_now=self.context.clock.host_time(),
            )
        except ServiceError as error:  # the status comes from the service's one table
            raise self.error(error.code, error.message) from None
        self._check_temporary_key(signer.access_key_id, query.first("SecurityToken"))
        exchange.pairs = signer.pairs
        return signer

    def _check_temporary_key(self, access_key_id: str, token: str | None) -> None:
        """Temporary credentials sign Query requests with their session token (``SecurityToken``), until they expire."""
        key = self.context.credentials.aws(access_key_id)
        if key is None:  # a service's own key (secret_for)
            if token is not None:
                raise self.error("InvalidClientTokenId", "The security token included in the request is invalid.")
            return
        from ..credentials import same_secret

        if key.session_token is None:
            if token is not None:  # a long-term key never comes with a session token
                raise self.error("InvalidClientTokenId", "The security token included in the request is invalid.")
            return
        if token is None or not same_secret(key.session_token, token):
            raise self.error("InvalidClientTokenId", "The security token included in the request is invalid.")
        if key.expires is not None and self.context.clock.time() >= key.expires:
            raise ServiceError("ExpiredToken", "The security token included in the request is expired", 403)

    def parse(self, exchange: Q) -> dict[str, Any]:
        pairs = exchange.pairs
        if pairs is None:
            pairs = self.query(exchange).pairs
        return self.params_of(pairs)

    def params_of(self, pairs: Iterable[tuple[str, str]]) -> dict[str, Any]:
        """Single values (the first of a repeated name wins) and, for ``list_params``, lists in member order."""
        params: dict[str, Any] = {}
        members: dict[str, list[tuple[tuple[int, str], str]]] = {}  # base -> ((digits, number), value)
        for name, value in pairs:
            base, dot, index = name.partition(".")
            if base in self.list_params:
                # member order by number, compared as digits (no int(): any length, no Unicode digits)
                order = (len(index.lstrip("0")), index.lstrip("0")) if dot and is_ascii_digits(index) else (0, "")
                members.setdefault(base, []).append((order, value))
            elif name not in params:
                params[name] = value
        for base, values in members.items():
            params[base] = [v for _, v in sorted(values, key=lambda item: item[0])]
        return params

    # ---- the reply -----------------------------------------------------------------
    def namespace_of(self, exchange: Q) -> str:
        version = exchange.version
        if version is None:
            return next(iter(self.namespaces.values()))
        return self.namespaces[version]

    def _xml_reply(self, status: int, text: str) -> Reply:
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode("utf-8")
        headers = [("Content-Type", "text/xml"), ("Content-Length", str(len(body)))]
        if self.server_header:
            headers.append(("Server", self.server_header))
        return Reply(status, headers, body)

    def _reply_with_id(self, status: int, text: str, rid: str) -> Reply:
        """The XML reply; a protocol that also sends the request id in a header adds it here."""
        return self._xml_reply(status, text)

    def render(self, exchange: Q, result: Any) -> Reply:
        rid = self.context.entropy.request_id()
        return self._reply_with_id(200, response_xml(exchange.operation, self.namespace_of(exchange), result, rid), rid)

    def render_error(self, exchange: Q, error: ServiceError) -> Reply:
        rid = self.context.entropy.request_id()
        namespace = self.error_namespace or self.namespace_of(exchange)
        detail = "<Detail/>" if self.error_detail else ""
        text = (
            f'<ErrorResponse xmlns="{namespace}"><Error><Type>{error_type(error.status)}</Type>'
            f"<Code>{xml_escape(error.code)}</Code><Message>{xml_escape(error.message)}</Message>{detail}</Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>"
        )
        reply = self._reply_with_id(error.status, text, rid)
        reply.headers.extend(error.headers.items())
        return reply


# SigV4's refusals, worded in auth/sigv4 as AWS's JSON services answer them, as AWS Query services answer them
# (code, status): IAM and STS answer InvalidClientTokenId, SignatureDoesNotMatch and ExpiredToken with 403.
SIGV4_QUERY_ERRORS: dict[str, tuple[str, int]] = {
    "MissingAuthenticationTokenException": ("MissingAuthenticationToken", 403),
    "IncompleteSignatureException": ("IncompleteSignature", 400),
    "UnrecognizedClientException": ("InvalidClientTokenId", 403),
    "InvalidSignatureException": ("SignatureDoesNotMatch", 403),
    "ExpiredTokenException": ("ExpiredToken", 403),
}


class AwsQuerySigV4Protocol(AwsQueryProtocol[QueryExchange]):
    """The AWS Query protocol of today's Query services (STS, IAM): SigV4 in the Authorization header.

    Replies carry ``x-amzn-RequestId`` (the body's RequestId too); errors have no ``<Detail/>``, as STS answers them.
    """

    signing_name: str = ""
    error_detail: bool = False

    def check_action_and_version(self, exchange: QueryExchange, version: str | None) -> str:
        action = exchange.operation
        if action and action not in self.operations and version:
            raise self.error("InvalidAction", f"Could not find operation {action} for version {version}")
        return super().check_action_and_version(exchange, version)

    def authenticate(self, exchange: QueryExchange) -> Any:
        exchange.version = self.check_action_and_version(exchange, self.query(exchange).first("Version"))
        if exchange.operation in self.unsigned_operations:
            return None
        from ..auth import sigv4

        try:
            return sigv4.authenticate(exchange.request, self.context, self.signing_name)
        except ServiceError as error:
            code, status = SIGV4_QUERY_ERRORS.get(error.code, (error.code, error.status))
            raise ServiceError(code, error.message, status) from None

    def _reply_with_id(self, status: int, text: str, rid: str) -> Reply:
        reply = self._xml_reply(status, text)
        reply.headers.append(("x-amzn-RequestId", rid))
        return reply


class NotAnInteger(ValueError):
    """A Query parameter an integer member cannot be read from (``member`` is its lowerCamel path)."""

    def __init__(self, member: str, value: str) -> None:
        super().__init__(f"{member}: {value!r}")
        self.member, self.value = member, value


def structured(params: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """Flat Query parameters as the members an operation's schema describes.

    AWS Query sends a list as ``Name.member.N`` (an empty one as ``Name=``), a
    structure's members as ``Name.Member``, numbers and booleans as text; this
    is the reverse, so a request validates against the same JSON schema the
    JSON protocols use. Parameters the schema does not name are left out.
    """
    out: dict[str, Any] = {}
    for name, member in schema.get("properties", {}).items():
        value = _member(params, name, member, name[:1].lower() + name[1:])
        if value is not _ABSENT:
            out[name] = value
    return out


_ABSENT = object()


def _member(params: Mapping[str, str], prefix: str, schema: Mapping[str, Any], path: str) -> Any:
    kind = schema.get("type")
    if kind == "array":
        if params.get(prefix) == "" and not any(k.startswith(prefix + ".") for k in params):
            return []
        head = prefix + ".member."
        numbers = sorted(
            {int(k[len(head) :].split(".", 1)[0]) for k in params if k.startswith(head) and _numbered(k[len(head) :])}
        )
        if not numbers:
            return _ABSENT
        items = schema.get("items", {})
        found = [_member(params, f"{head}{n}", items, f"{path}.{n}.member") for n in numbers]
        return [None if item is _ABSENT else item for item in found]
    if kind == "object" or "properties" in schema:
        out = {}
        for name, member in schema.get("properties", {}).items():
            value = _member(params, f"{prefix}.{name}", member, f"{path}.{name[:1].lower() + name[1:]}")
            if value is not _ABSENT:
                out[name] = value
        return out if out or prefix in params else _ABSENT
    if prefix not in params:
        return _ABSENT
    text = params[prefix]
    if kind == "integer":
        if not (is_ascii_digits(text) or (text[:1] == "-" and is_ascii_digits(text[1:]))) or len(text) > 400:
            raise NotAnInteger(path, text)
        return int(text)
    if kind == "boolean":
        return {"true": True, "false": False}.get(text, text)
    return text


def _numbered(rest: str) -> bool:
    number = rest.split(".", 1)[0]
    return is_ascii_digits(number) and len(number) < 7
