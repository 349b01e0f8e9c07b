"""The chain's last link: under a mock, no socket reaches a non-loopback address unless allowed.

Every client mockcloud knows is answered above this point. What gets here
is a client it does not catch (httpcore or a urllib3 connection used
directly, websocket-client, a raw socket) or a request an outer mock handed
to the network. Name lookups of hosts not in ``passthrough`` are refused
before any DNS query leaves, and connections to addresses that are neither
loopback nor a passthrough host's are refused, naming the host.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any, ClassVar

from ..core.errors import UnmockedRequestError
from . import current, misbehave
from .chain import Interceptor

_INET = (socket.AF_INET, socket.AF_INET6)
_passed: dict[str, str] = {}  # address -> the passthrough host name it was resolved from


class NetworkBlockedError(UnmockedRequestError):
    """A connection (or a name lookup) to the network under the mock that no interceptor answered."""

    def __init__(self, host: str, port: Any, address: str | None = None) -> None:
        self.method, self.url, self.host = "CONNECT", f"{host}:{port}", host
        where = f"{host} ({address})" if address and address != host else host
        ConnectionError.__init__(
            self,
            f"mockcloud's network guard refused a connection to {where} port {port}: no interceptor answered it "
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
    if _is_loopback(ip) and mock.allow_loopback:
        return
    name = _passed.get(text)
    if (name is not None and mock.allows_passthrough(name)) or mock.allows_passthrough(text):
        return
    raise NetworkBlockedError(name or text, port, text)


class SocketGuard(Interceptor):
    library = "socket"
    patches: ClassVar[dict[str, str]] = {
        "socket:getaddrinfo": "getaddrinfo",
        "socket:socket.connect": "connect",
        "socket:socket.connect_ex": "connect_ex",
    }

    @staticmethod
    def getaddrinfo(nxt: Any, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        mock = current()
        if mock is None or host is None:
            return nxt(host, port, *args, **kwargs)
        name = _name(host)
        if _ip(name) is not None:  # an address: the connection decides
            return nxt(host, port, *args, **kwargs)
        if not _allowed_name(mock, name):
            raise NetworkBlockedError(name, port)
        results = nxt(host, port, *args, **kwargs)
        if len(_passed) > 4096:
            _passed.clear()
        for *_, sockaddr in results:
            if isinstance(sockaddr, tuple) and sockaddr:
                _passed[_name(sockaddr[0])] = name
        return results

    @staticmethod
    def connect(nxt: Any, sock: socket.socket, address: Any) -> Any:
        _check(address, sock.family)
        return nxt(sock, address)

    @staticmethod
    def connect_ex(nxt: Any, sock: socket.socket, address: Any) -> Any:
        _check(address, sock.family)
        return nxt(sock, address)
