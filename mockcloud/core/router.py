"""Pick the service a request is for, from what a real endpoint would see.

Routes are data (:class:`Claims`), compiled into dictionaries once per mock,
so a request costs a few lookups, never a scan of patterns. The order is the
host name first (when it is a service's real host), then the SigV4 signing
scope, ``X-Amz-Target``, ``Action`` + ``Version``, and last the path.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from .auth.sigv4 import presigned_scope_of, scope_of
from .claims import Claims
from .request import request_body, request_host

if TYPE_CHECKING:
    from .request import Request

T = TypeVar("T")  # what a route leads to (a service's name)
__all__ = ["Claims", "Router"]


@dataclass
class Router(Generic[T]):
    """Compiled claims of the services of one mock."""

    _hosts: dict[str, T] = field(default_factory=dict)
    _labels: dict[str, list[tuple[str, T]]] = field(default_factory=dict)
    _subdomains: dict[str, T] = field(default_factory=dict)
    _signing: dict[str, T] = field(default_factory=dict)
    _targets: dict[str, T] = field(default_factory=dict)
    _versions: dict[str, T] = field(default_factory=dict)
    _paths: list[tuple[str, T]] = field(default_factory=list)
    _server_paths: list[tuple[str, T]] = field(default_factory=list)

    @classmethod
    def build(cls, entries: Iterable[tuple[Claims, T]]) -> Router[T]:
        router = cls()
        for claims, target in entries:
            router.add(claims, target)
        return router

    def add(self, claims: Claims, target: T) -> None:
        """Add routes; safe while other threads route requests (each store is updated in one step)."""
        for host in claims.hosts:
            self._hosts[host.lower()] = target
        for label, domain in claims.host_labels:
            self._labels.setdefault(label.lower(), []).append(("." + domain.lower(), target))
        for domain in claims.subdomains_of:
            self._subdomains[domain.lower()] = target
        for name in claims.signing_names:
            self._signing[name] = target
        for prefix in claims.target_prefixes:
            self._targets[prefix] = target
        for version in claims.api_versions:
            self._versions[version] = target
        if claims.path_prefixes:
            # a new list, assigned at once: routes may be added while requests are being routed
            paths = self._paths + [(p, target) for p in claims.path_prefixes]
            self._paths = sorted(paths, key=lambda item: -len(item[0]))
        if claims.server_path_prefixes:
            paths = self._server_paths + [(p, target) for p in claims.server_path_prefixes]
            self._server_paths = sorted(paths, key=lambda item: -len(item[0]))

    def claims_host(self, host: str) -> T | None:
        """The service whose real host this is, if any."""
        target = self._hosts.get(host)
        if target is not None:
            return target
        label, dot, rest = host.partition(".")
        if dot:
            for suffix, target in self._labels.get(label, ()):
                if host.endswith(suffix):
                    return target
            if self._subdomains:
                return self._subdomains.get(rest)
        return None

    def route(self, request: Request) -> T | None:
        environ = request.environ
        target = self.claims_host(request_host(request))
        if target is not None:
            return target
        if self._signing:
            auth = environ.get("HTTP_AUTHORIZATION")
            query = environ.get("QUERY_STRING", "")
            scope = scope_of(auth) if auth else presigned_scope_of(query) if "X-Amz-Credential=" in query else None
            if scope and scope[3] in self._signing:
                return self._signing[scope[3]]
        amz_target = environ.get("HTTP_X_AMZ_TARGET")
        if amz_target and self._targets:
            target = self._targets.get(amz_target.partition(".")[0])
            if target is not None:
                return target
        if self._versions:
            # not request.args: werkzeug decodes a query string strictly as UTF-8, and clients may send any bytes
            version = environ.get("HTTP_X_ACS_VERSION") or _form_value(environ.get("QUERY_STRING", ""), "Version")
            if version is None and request.method == "POST" and request.mimetype == "application/x-www-form-urlencoded":
                # read through request_body, not request.form: the service may still need the raw body
                version = _form_value(request_body(request).decode("latin-1"), "Version")
            if version is not None and version in self._versions:
                return self._versions[version]
        path = environ.get("PATH_INFO", "/")
        for prefix, target in self._paths:
            if path.startswith(prefix):
                return target
        if self._server_paths and "mockcloud.in_process" not in environ:
            for prefix, target in self._server_paths:
                if path.startswith(prefix):
                    return target
        return None


def _form_value(text: str, name: str) -> str | None:
    """The first value of ``name`` in a query string or form-encoded body (bytes as latin-1), or None."""
    if name not in text:
        return None
    from urllib.parse import parse_qsl

    for key, value in parse_qsl(text, errors="replace"):
        if key == name:
            return value
    return None
