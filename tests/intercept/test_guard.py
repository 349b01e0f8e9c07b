"""The network guard's every way out: name lookups, datagrams and TCP fast open, against loopback canaries.

A lookup is refused before it leaves (the next link, a recording stand-in
for the resolver, never hears of it); a datagram or a fast-open connection
refused never reaches its canary on 127.0.0.1: after the mock, a sentinel
sent the same way is the first thing the canary gets. With
``allow_loopback=True`` (the default) the same calls reach the canary, and
addresses off loopback stay refused.
"""

from __future__ import annotations

import socket
import sys

import pytest

from mockcloud import UnmockedRequestError, mock_cloud
from mockcloud.intercept.guard import NetworkBlockedError

OFF_LOOPBACK = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never routed, and never tried: the guard refuses first
WAIT = 30.0  # a canary's wait for what must arrive (a busy machine is slow; nothing here waits for an absence)


# ---- name resolution ------------------------------------------------------------------------


@pytest.fixture
def resolver(monkeypatch):
    """Recording stand-ins for the resolver's calls, put in place before the mock: the guard's next links."""
    asked: list[tuple[str, str]] = []

    def stand_in(kind: str, answer):
        def lookup(host, *args, **kwargs):
            asked.append((kind, str(host)))
            return answer(host)

        return lookup

    monkeypatch.setattr(socket, "gethostbyname", stand_in("gethostbyname", lambda host: "127.0.0.1"))
    monkeypatch.setattr(
        socket, "gethostbyname_ex", stand_in("gethostbyname_ex", lambda host: (host, [], ["127.0.0.1"]))
    )
    monkeypatch.setattr(socket, "gethostbyaddr", stand_in("gethostbyaddr", lambda host: ("canary", [], [host])))
    return asked


@pytest.mark.parametrize("lookup", ["gethostbyname", "gethostbyname_ex", "getaddrinfo", "gethostbyaddr"])
def test_a_lookup_of_a_name_off_the_list_never_leaves(resolver, lookup):
    arguments = (OFF_LOOPBACK,) if lookup == "gethostbyaddr" else ("example.org",)
    if lookup == "getaddrinfo":
        arguments += (443,)
    with mock_cloud(), pytest.raises(NetworkBlockedError) as refused:
        getattr(socket, lookup)(*arguments)  # looked up under the mock, as any caller of socket.X does
    message = str(refused.value)
    assert isinstance(refused.value, UnmockedRequestError) and isinstance(refused.value, OSError)
    assert message.startswith("mockcloud's network guard refused a connection to ")
    assert arguments[0] in message and f"passthrough=[{arguments[0]!r}]" in message
    assert resolver == []  # the resolver never heard of it


def test_lookups_of_passthrough_and_loopback_names_go_on(resolver):
    with mock_cloud(passthrough=["api.partner.example"]):
        assert socket.gethostbyname("api.partner.example") == "127.0.0.1"
        assert socket.gethostbyname_ex("api.partner.example")[2] == ["127.0.0.1"]
        assert socket.gethostbyname("localhost") == "127.0.0.1"
        assert socket.gethostbyaddr("127.0.0.1")[0] == "canary"
        assert socket.gethostbyname("10.1.2.3") == "127.0.0.1"  # an address: nothing to resolve, nothing leaves
    assert resolver == [
        ("gethostbyname", "api.partner.example"),
        ("gethostbyname_ex", "api.partner.example"),
        ("gethostbyname", "localhost"),
        ("gethostbyaddr", "127.0.0.1"),
        ("gethostbyname", "10.1.2.3"),
    ]


def test_loopback_lookups_follow_allow_loopback(resolver):
    with mock_cloud(allow_loopback=False):
        for call, argument in (
            (socket.gethostbyname, "localhost"),
            (socket.gethostbyname_ex, "db.localhost"),
            (socket.gethostbyaddr, "127.0.0.1"),
        ):
            with pytest.raises(NetworkBlockedError, match=r"allow|passthrough"):
                call(argument)
    assert resolver == []
    assert socket.gethostbyname("localhost") == "127.0.0.1"  # the mock has stopped: no guard
    assert resolver == [("gethostbyname", "localhost")]


# ---- UDP --------------------------------------------------------------------------------------


@pytest.fixture
def udp_canary():
    canary = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    canary.bind(("127.0.0.1", 0))
    canary.settimeout(WAIT)
    yield canary
    canary.close()


def _first_datagram_is(canary: socket.socket, expected: bytes) -> None:
    """After the refused sends: a sentinel from outside the mock is the first datagram the canary gets."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(expected, canary.getsockname())
    assert canary.recv(64) == expected


SENDS = {
    "sendto": lambda sock, address: sock.sendto(b"leak", address),
    "sendto with flags": lambda sock, address: sock.sendto(b"leak", 0, address),
    "sendmsg": lambda sock, address: sock.sendmsg([b"le", b"ak"], [], 0, address),
}


@pytest.mark.parametrize("send", list(SENDS))
def test_a_datagram_to_loopback_is_refused_when_loopback_is_closed(udp_canary, send):
    if send == "sendmsg" and not hasattr(socket.socket, "sendmsg"):
        pytest.skip("no sendmsg on this platform")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        with mock_cloud(allow_loopback=False), pytest.raises(NetworkBlockedError, match=r"127\.0\.0\.1.*passthrough"):
            SENDS[send](sock, udp_canary.getsockname())
        _first_datagram_is(udp_canary, b"sentinel")
        with mock_cloud():  # loopback open (the default): the same call arrives
            SENDS[send](sock, udp_canary.getsockname())
        assert udp_canary.recv(64) == b"leak"


@pytest.mark.parametrize("send", list(SENDS))
def test_a_datagram_off_loopback_is_refused(send):
    if send == "sendmsg" and not hasattr(socket.socket, "sendmsg"):
        pytest.skip("no sendmsg on this platform")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock, mock_cloud():
        with pytest.raises(NetworkBlockedError, match=rf"{OFF_LOOPBACK} port 53.*passthrough"):
            SENDS[send](sock, (OFF_LOOPBACK, 53))
        with pytest.raises(NetworkBlockedError, match=r"dns\.example port 53"):
            SENDS[send](sock, ("dns.example", 53))  # a name: resolved inside sendto, so judged by name first


def test_a_datagram_to_a_passthrough_address_goes(udp_canary):
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        mock_cloud(allow_loopback=False, passthrough=["127.0.0.1"]),
    ):
        sock.sendto(b"allowed", udp_canary.getsockname())
    assert udp_canary.recv(64) == b"allowed"


def test_a_connected_datagram_socket_is_judged_at_connect(udp_canary):
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        mock_cloud(allow_loopback=False),
        pytest.raises(NetworkBlockedError),
    ):
        sock.connect(udp_canary.getsockname())
    _first_datagram_is(udp_canary, b"sentinel")


# ---- TCP fast open ------------------------------------------------------------------------------

needs_fast_open = pytest.mark.skipif(
    not hasattr(socket, "MSG_FASTOPEN"), reason=f"no TCP fast open (MSG_FASTOPEN) on {sys.platform}"
)


@pytest.fixture
def tcp_canary():
    canary = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    canary.bind(("127.0.0.1", 0))
    if hasattr(socket, "TCP_FASTOPEN"):
        canary.setsockopt(socket.IPPROTO_TCP, socket.TCP_FASTOPEN, 8)
    canary.listen(8)
    canary.settimeout(WAIT)
    yield canary
    canary.close()


def _first_connection_is(canary: socket.socket, sentinel: socket.socket) -> None:
    """The sentinel, connected after the refusals, is the first connection the canary accepts."""
    accepted, peer = canary.accept()
    with accepted:
        assert peer == sentinel.getsockname()


FAST_OPENS = {
    "sendto": lambda sock, address: sock.sendto(b"GET / HTTP/1.0\r\n\r\n", socket.MSG_FASTOPEN, address),
    "sendmsg": lambda sock, address: sock.sendmsg([b"GET / HTTP/1.0\r\n\r\n"], [], socket.MSG_FASTOPEN, address),
}


@needs_fast_open
@pytest.mark.parametrize("send", list(FAST_OPENS))
def test_tcp_fast_open_to_loopback_is_refused_when_loopback_is_closed(tcp_canary, send):
    address = tcp_canary.getsockname()
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        mock_cloud(allow_loopback=False),
        pytest.raises(NetworkBlockedError, match=r"127\.0\.0\.1.*passthrough"),
    ):
        FAST_OPENS[send](sock, address)
    with socket.create_connection(address, timeout=WAIT) as sentinel:
        _first_connection_is(tcp_canary, sentinel)


@needs_fast_open
@pytest.mark.parametrize("send", list(FAST_OPENS))
def test_tcp_fast_open_off_loopback_is_refused_and_to_loopback_goes_by_default(tcp_canary, send):
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
        mock_cloud(),
        pytest.raises(NetworkBlockedError, match=rf"{OFF_LOOPBACK} port 443"),
    ):
        FAST_OPENS[send](sock, (OFF_LOOPBACK, 443))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, mock_cloud():
        FAST_OPENS[send](sock, tcp_canary.getsockname())  # connects (with or without a cookie) and sends
        accepted, _ = tcp_canary.accept()
        with accepted:
            accepted.settimeout(WAIT)
            assert accepted.recv(64).startswith(b"GET / HTTP/1.0")
