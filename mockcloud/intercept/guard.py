"""The chain's last link: under a mock, no socket reaches a non-loopback address unless allowed.

Every client mockcloud knows is answered above this point. What gets here
is a client it does not catch (httpcore or a urllib3 connection used
directly, websocket-client, a raw socket) or a request an outer mock handed
to the network. Name lookups of hosts not in ``passthrough`` are refused
before any DNS query leaves (``getaddrinfo``, ``gethostbyname``,
``gethostbyname_ex``, and the reverse ``gethostbyaddr``), and so is every way
a socket reaches an address that is neither loopback nor a passthrough
host's: ``connect``/``connect_ex``, a datagram's ``sendto``/``sendmsg`` to an
address (UDP: a DNS query of a resolver library, a metrics packet), and TCP
fast open (``sendto``/``sendmsg`` with ``MSG_FASTOPEN``, which connects and
sends in one call). Each refusal names the host, with the same rule for
loopback (``allow_loopback``).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

from ..core.errors import UnmockedRequestError
from . import current, misbehave
from .chain import Interceptor

_INET = (socket.AF_INET, socket.AF_INET6)
_passed: dict[str, str] = {}  # address -> the passthrough host name it was resolved from


class NetworkBlockedError(UnmockedRequestError):
    """A connection (or a name lookup) to the network under the mock that no interceptor answered."""

    def __init__(self, host: str, port: Any = None, address: str | None = None) -> None:
        self.method, self.url, self.host = "CONNECT", host if port is None else f"{host}:{port}", host
        where = f"{host} ({address})" if address and address != host else host
        if port is not None:
            where = f"{where} port {port}"
        ConnectionError.__init__(
            self,
            f"mockcloud's network guard refused a connection to {where}: no interceptor answered it "
            f"(a client mockcloud does not catch, such as a raw socket, websocket-client or httpcore used directly, "
            f"or a request another mock let through), and nothing under the mock may reach the network. "
            f"To let it through, use mock_cloud(passthrough=[{host!r}]).",
        )


def _name(host: Any) -> str:
    if isinstance(host, bytes):
        host = host.decode("idna", "replace")
    return str(host).lower().rstrip(".")


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return None


def _is_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or ip.is_unspecified


def _allowed_name(mock: Any, name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return bool(mock.allow_loopback)
    return bool(mock.allows_passthrough(name))


def _check(address: Any, family: int) -> None:
    mock = current()
    if mock is None or family not in _INET or not isinstance(address, tuple) or not address:
        return
    host, port = _name(address[0]), address[1] if len(address) > 1 else "?"
    if (host, port) == misbehave.address():  # mockcloud's own loopback end of a network fault
        return
    ip = _ip(host)
    if ip is None:
        if _allowed_name(mock, host):
            return
        raise NetworkBlockedError(host, port)
    text = str(ip)
    if (_is_loopback(ip) and mock.allow_loopback) or _passes(mock, text):
        return
    raise NetworkBlockedError(_passed.get(text) or text, port, text)


def _passes(mock: Any, address: str) -> bool:
    """Whether ``address`` is a passthrough host's: given as such, or resolved from a passthrough name."""
    name = _passed.get(address)
    return (name is not None and mock.allows_passthrough(name)) or bool(mock.allows_passthrough(address))


def _check_name(host: Any, port: Any = None) -> str | None:
    """Before a lookup leaves: refuse a name that is not loopback's (when allowed) nor a passthrough host's.

    Returns the name when its answers must be remembered (an allowed passthrough name), else None.
    """
    mock = current()
    if mock is None or host is None:
        return None
    name = _name(host)
    if _ip(name) is not None:  # an address: no lookup leaves; the connection decides
        return None
    if not _allowed_name(mock, name):
        raise NetworkBlockedError(name, port)
    return name


def _remember(name: str, addresses: Any) -> None:
    """The addresses a passthrough name resolved to: a connection to them is that host's."""
    if len(_passed) > 4096:
        _passed.clear()
    for address in addresses:
        _passed[_name(address)] = name


def _looked_up(nxt: Any, host: Any, addresses: Callable[[Any], Iterable[Any]]) -> Any:
    """``nxt(host)`` if the name may be looked up; the addresses of a passthrough name remembered."""
    name = _check_name(host)
    found = nxt(host)
    if name is not None:
        _remember(name, addresses(found))
    return found


def _send_address(args: tuple[Any, ...], position: int) -> Any:
    """The destination of ``sendto``/``sendmsg`` (None when it has none: a connected socket's send)."""
    return args[position] if len(args) > position else None


# sendto(data, address) | sendto(data, flags, address); sendmsg(buffers, ancdata, flags, address)
_SENDMSG = hasattr(socket.socket, "sendmsg")  # not on Windows


class SocketGuard(Interceptor):
    library = "socket"
    patches: ClassVar[dict[str, str]] = {
        "socket:getaddrinfo": "getaddrinfo",
        "socket:gethostbyname": "gethostbyname",
        "socket:gethostbyname_ex": "gethostbyname_ex",
        "socket:gethostbyaddr": "gethostbyaddr",
        "socket:socket.connect": "connect",
        "socket:socket.connect_ex": "connect_ex",
        "socket:socket.sendto": "sendto",
        **({"socket:socket.sendmsg": "sendmsg"} if _SENDMSG else {}),
    }

    @staticmethod
    def getaddrinfo(nxt: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = _check_name(host, port)
        results = nxt(host, port, *args, **kwargs)
        if name is not None:
            _remember(name, (sockaddr[0] for *_, sockaddr in results if isinstance(sockaddr, tuple) and sockaddr))
        return results

    @staticmethod
    def gethostbyname(nxt: Any, host: Any) -> Any:
        return _looked_up(nxt, host, lambda address: (address,))

    @staticmethod
    def gethostbyname_ex(nxt: Any, host: Any) -> Any:
        return _looked_up(nxt, host, lambda found: found[2])  # (name, aliases, addresses)

    @staticmethod
    def gethostbyaddr(nxt: Any, host: Any) -> Any:
        """A reverse lookup asks DNS about an address: only loopback's (when allowed) or a passthrough host's."""
        mock = current()
        if mock is not None and host is not None:
            name = _name(host)
            ip = _ip(name)
            if ip is None:
                _check_name(host)
            elif not ((_is_loopback(ip) and mock.allow_loopback) or _passes(mock, str(ip))):
                raise NetworkBlockedError(name)
        return nxt(host)

    @staticmethod
    def connect(nxt: Any, sock: socket.socket, address: Any) -> Any:
        _check(address, sock.family)
        return nxt(sock, address)

    @staticmethod
    def connect_ex(nxt: Any, sock: socket.socket, address: Any) -> Any:
        _check(address, sock.family)
        return nxt(sock, address)

    @staticmethod
    def sendto(nxt: Any, sock: socket.socket, *args: Any) -> Any:
        _check(_send_address(args, 2 if len(args) > 2 else 1), sock.family)
        return nxt(sock, *args)

    @staticmethod
    def sendmsg(nxt: Any, sock: socket.socket, *args: Any) -> Any:
        _check(_send_address(args, 3), sock.family)
        return nxt(sock, *args)
