"""Who may drive the admin API (``/_mockcloud/...``).

A web page in the developer's browser can send a cross-site POST to any
local port, and with DNS rebinding read the answers too. So an admin request
is refused unless its ``Host`` is one of the server's own names (rebinding
keeps the attacker's name in ``Host``), its ``Origin``, if any, is too, and a
state-changing call says ``Content-Type: application/json`` (which a page
cannot send cross-site without a CORS preflight, and we answer no preflight).
Off loopback, every admin call also needs the admin token, except the
dashboard's static page and files, which hold no state and ask for it.
"""

from __future__ import annotations

import hmac
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
TOKEN_HEADER = "HTTP_X_MOCKCLOUD_ADMIN_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` listens on loopback only."""
    host = host.strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    # an IP address (AF_INET, AF_INET6) is text: the int of typeshed's other address families never comes
    return bool(infos) and all(ipaddress.ip_address(str(info[4][0]).split("%")[0]).is_loopback for info in infos)


def is_wildcard(host: str) -> bool:
    host = host.strip("[]")
    return host in ("", "0.0.0.0", "::")


def _split_host(value: str) -> tuple[str, int | None] | None:
    """``name[:port]`` / ``[v6][:port]`` → (lower-case name without brackets or trailing dot, port or None)."""
    value = value.strip().lower()
    if not value:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        name, rest = value[1:end], value[end + 1 :]
        if rest and not rest.startswith(":"):
            return None
        port_text = rest[1:] if rest else None
    else:
        name, colon, port_text = value.partition(":")
        if not colon:
            port_text = None
        elif ":" in port_text:
            return None
    if port_text is None:
        return name.rstrip("."), None
    if not port_text.isdigit() or len(port_text) > 5 or int(port_text) > 65535:
        return None
    return name.rstrip("."), int(port_text)


def off_loopback(host: str) -> str:
    """What a server bound off loopback warns of."""
    return (
        f"mockcloud server bound to {host}, off loopback: anything that reaches this address can use the emulator "
        "with its example credentials; the admin API needs the admin token"
    )


@dataclass
class AdminGuard:
    """The admin API's checks for one bound server.

    ``own`` holds (name, port) pairs; a port of None accepts any port (an
    extra allowed host given without one). ``token``, when set, is required
    on every admin call, as ``Authorization: Bearer …`` or
    ``X-Mockcloud-Admin-Token``.
    """

    own: frozenset[tuple[str, int | None]] = field(default_factory=frozenset)
    token: str | None = None

    @classmethod
    def for_bind(
        cls, host: str, port: int, *, allowed_hosts: Iterable[str] = (), token: str | None = None
    ) -> AdminGuard:
        """The guard of a server bound to ``host``:``port``: its own names are the bound address,
        the loopback names if it listens on loopback (a wildcard bind does too, and then also the
        machine's host name and addresses), and ``allowed_hosts`` (``name`` or ``name:port``)."""
        names = {host.strip("[]").lower()}
        if is_wildcard(host) or is_loopback(host):
            names.update(LOOPBACK_NAMES)
        if is_wildcard(host):
            names.update(_machine_names())
        own: set[tuple[str, int | None]] = {(name, port) for name in names if name and not is_wildcard(name)}
        for entry in allowed_hosts:
            split = _split_host(entry)
            if split is None:
                raise ValueError(f"not a host name or host:port: {entry!r}")
            own.add(split)
        return cls(frozenset(own), token)

    def _is_own(self, name: str, port: int) -> bool:
        return (name, port) in self.own or (name, None) in self.own

    def refusal(self, environ: WSGIEnvironment, *, public: bool = False) -> tuple[int, str, str] | None:
        """None if the admin request may go on, else (status, error code, message).

        ``public``: the dashboard's own static files, the same for everyone and holding no state;
        they need no admin token (the page asks for it), but the Host and Origin checks still apply.
        """
        host = environ.get("HTTP_HOST")
        split = _split_host(host) if host else None
        if split is None or not self._is_own(split[0], split[1] if split[1] is not None else 80):
            return (
                403,
                "ForbiddenHost",
                (
                    f"Host {host!r} is not this server's own name (DNS rebinding?); "
                    "start the server with --allow-host NAME to accept it"
                ),
            )
        origin = environ.get("HTTP_ORIGIN")
        if origin is not None:
            parts = urlsplit(origin.strip())
            try:
                port = parts.port or (443 if parts.scheme == "https" else 80)
            except ValueError:
                port = -1
            if parts.scheme != "http" or not parts.hostname or not self._is_own(parts.hostname.rstrip("."), port):
                return 403, "ForbiddenOrigin", f"Origin {origin!r} may not drive the mockcloud admin API"
        if self.token is not None and not public and not self._token_matches(environ):
            return (
                401,
                "Unauthorized",
                (
                    "the admin API needs the admin token: "
                    "'Authorization: Bearer TOKEN' or 'X-Mockcloud-Admin-Token: TOKEN' "
                    "(printed when the server started, or given with --admin-token)"
                ),
            )
        if environ.get("REQUEST_METHOD") in STATE_CHANGING:
            mimetype = environ.get("CONTENT_TYPE", "").split(";", 1)[0].strip().lower()
            if mimetype != "application/json":
                return (
                    415,
                    "UnsupportedMediaType",
                    "a state-changing admin call must be sent with Content-Type: application/json",
                )
        return None

    def _token_matches(self, environ: WSGIEnvironment) -> bool:
        given = environ.get(TOKEN_HEADER)
        if given is None:
            scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer":
                return False
            given = value.strip()
        expected = self.token.encode("utf-8")  # type: ignore[union-attr]
        # WSGI header values are latin-1 text: as bytes, any value compares without an error
        return hmac.compare_digest(given.encode("latin-1", "replace"), expected)


def _machine_names() -> set[str]:
    """This machine's host name and the addresses it resolves to (what a wildcard bind answers on)."""
    names: set[str] = set()
    try:
        hostname = socket.gethostname()
    except OSError:
        return names
    names.add(hostname.lower())
    try:
        for info in socket.getaddrinfo(hostname, None):
            names.add(str(info[4][0]).split("%")[0].lower())  # text, as in is_loopback
    except OSError:
        pass
    return names
