"""Which hosts a mock lets past it: exact names, ``*.suffix`` / ``.suffix``, or URLs (their host)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit


class Passthrough:
    """The ``passthrough`` option, compiled once: a set of hosts and a tuple of suffixes."""

    __slots__ = ("_hosts", "_suffixes", "entries")

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = tuple(entries)
        hosts: set[str] = set()
        suffixes: list[str] = []
        for given in self.entries:
            entry = given.strip().lower()
            if "://" in entry:
                entry = urlsplit(entry).hostname or ""
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            elif entry.startswith("."):
                suffixes.append(entry)
            elif entry:
                hosts.add(entry)
        self._hosts = frozenset(hosts)
        self._suffixes = tuple(suffixes)

    def allows(self, host: str) -> bool:
        if not self._hosts and not self._suffixes:
            return False
        host = host.lower()
        if host in self._hosts:
            return True
        return bool(self._suffixes) and host.endswith(self._suffixes)
