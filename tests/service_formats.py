"""The oracle of the fuzzers: is a reply in its service's own format, and is it an internal error?

Shared by ``tests/test_fuzz_properties.py`` and ``benchmarks/fuzz.py``, so it
uses the standard library only. A reply is judged against the format of the
service the request was meant for:

- ``licensemanager`` (AWS JSON 1.1): ``application/x-amz-json-1.1``; an error has ``__type`` and
  ``x-amzn-ErrorType`` (and a message, except coral's ``UnknownOperationException``);
- ``amplifyuibuilder`` (AWS REST-JSON): JSON; an error has ``x-amzn-ErrorType`` and ``message``,
  or is Figma's ``{"status", "err"}``;
- ``devpay`` (AWS Query): XML, an error an ``ErrorResponse`` with ``Error/Code``; over SOAP an
  Envelope whose error is a ``Fault`` (SOAP 1.1 answers every fault with 500; ``aws:Client.*``
  says it is the client's);
- ``sts`` (AWS Query): XML, an error an ``ErrorResponse`` with ``Error/Code``;
- ``wuying`` (Alibaba RPC): JSON (or XML for ``Format=XML``) with ``RequestId``; an error has
  ``Code`` and ``Message``;
- ``userapi``: JSON; an error is ``application/problem+json`` with ``type``, ``title``,
  ``status``, ``detail`` and ``error``.

A request no service claims gets mockcloud's own 404 ``NoServiceClaimsRequest``: not an error
of any service, so it is judged fine.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Iterable, Mapping

__all__ = ["INTERNAL_CODES", "verdict"]

INTERNAL_CODES = frozenset(
    {"InternalFailure", "ServerInternalException", "InternalServerException", "InternalError", "server_error"}
)
SOAP11 = "{http://schemas.xmlsoap.org/soap/envelope/}"
SOAP12 = "{http://www.w3.org/2003/05/soap-envelope}"


def _headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    pairs = headers.items() if hasattr(headers, "items") else headers
    return {name.lower(): value for name, value in pairs}


def verdict(service: str, status: int, headers: Mapping[str, str] | Iterable[tuple[str, str]], body: bytes) -> str | None:
    """None when the reply is fine; else what is wrong (an internal error, or not the service's format)."""
    headers = _headers(headers)
    if status == 404 and body.startswith(b'{"error": "NoServiceClaimsRequest"'):
        return None
    try:
        code = _CHECKS[service](status, headers, body)
    except (ValueError, KeyError, TypeError, AttributeError, ET.ParseError) as exc:
        return f"{status} not in {service}'s format ({type(exc).__name__}: {exc}): {body[:200]!r}"
    if code in INTERNAL_CODES or (status >= 500 and code is not _CLIENT_FAULT):
        return f"internal error {status} {code}: {body[:200]!r}"
    return None


_CLIENT_FAULT = object()  # a SOAP 1.1 fault of the client's, which AWS sends with status 500


def _json_object(body: bytes) -> dict:
    value = json.loads(body)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _aws_json(status: int, headers: dict, body: bytes):
    if headers.get("content-type") != "application/x-amz-json-1.1":
        raise ValueError(f"Content-Type {headers.get('content-type')!r}")
    payload = _json_object(body)
    if status < 300:
        return None
    if "x-amzn-errortype" not in headers or not isinstance(payload["__type"], str):  # a message may be absent
        raise KeyError("x-amzn-ErrorType and __type")
    return payload["__type"].rpartition("#")[2]


def _rest_json(status: int, headers: dict, body: bytes):
    payload = _json_object(body)
    if status < 300:
        return None
    if "x-amzn-errortype" in headers:
        payload["message"]
        return headers["x-amzn-errortype"].partition(":")[0]
    if payload["status"] != status or not isinstance(payload["err"], str):  # Figma's own errors
        raise ValueError("not a Figma error")
    return None


def _devpay(status: int, headers: dict, body: bytes):
    root = ET.fromstring(body)
    if root.tag in (f"{SOAP11}Envelope", f"{SOAP12}Envelope"):
        return _soap(status, root)
    return _query(status, root)


def _sts(status: int, headers: dict, body: bytes):
    return _query(status, ET.fromstring(body))


def _query(status: int, root: ET.Element):
    if status < 300:
        if not root.tag.endswith("Response"):
            raise ValueError(f"root {root.tag}")
        return None
    if not root.tag.endswith("ErrorResponse"):
        raise ValueError(f"root {root.tag}")
    code = root.find("{*}Error/{*}Code")
    return code.text


def _soap(status: int, root: ET.Element):
    soap = root.tag[: root.tag.index("}") + 1]
    body = root.find(f"{soap}Body")
    fault = body.find(f"{soap}Fault")
    if fault is None:
        if status >= 300:
            raise ValueError("an error without a Fault")
        return None
    if soap == SOAP11:
        kind, _, code = fault.find("faultcode").text.partition(":")[2].partition(".")
        return _CLIENT_FAULT if kind == "Client" and code not in INTERNAL_CODES else code
    return fault.find(f"{soap}Code/{soap}Subcode/{soap}Value").text.partition(":")[2]


def _alibaba(status: int, headers: dict, body: bytes):
    if headers.get("content-type", "").startswith("text/xml"):
        root = ET.fromstring(body)
        if status < 300:
            return None
        if root.tag != "Error" or root.find("RequestId") is None:
            raise ValueError(f"root {root.tag}")
        return root.find("Code").text
    payload = _json_object(body)
    payload["RequestId"]
    if status < 300:
        return None
    if not isinstance(payload["Message"], str):
        raise ValueError("Message")
    return payload["Code"]


def _userapi(status: int, headers: dict, body: bytes):
    if status < 300:
        if status == 204:
            return None
        _json_object(body)
        return None
    if not headers.get("content-type", "").startswith("application/problem+json"):
        raise ValueError(f"Content-Type {headers.get('content-type')!r}")
    payload = _json_object(body)
    if payload["status"] != status or not all(isinstance(payload[k], str) for k in ("type", "title", "detail")):
        raise ValueError("not a problem document")
    return payload["error"]


_CHECKS = {
    "licensemanager": _aws_json,
    "amplifyuibuilder": _rest_json,
    "devpay": _devpay,
    "sts": _sts,
    "wuying": _alibaba,
    "userapi": _userapi,
}
