"""What the parts of the WUYING model share: its settings (a record), the errors they rename, and the records'
kinds that more than one part reads."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from ...core.clock import Clock
from ...core.entities import Kind, Table
from ...core.entropy import Entropy
from ...core.errors import ErrorTable
from .errors import ERRORS

if TYPE_CHECKING:
    from .clienttokens import ClientTokens
    from .directory import Directory
    from .logon import Logon

T = TypeVar("T")


def of(cls: type[T]) -> Callable[[Any], T]:
    """A kind's ``load``: the record from its JSON fields."""

    def load(data: Any) -> T:
        return cls(**data)

    return load


def text(data: Any) -> str:
    return str(data)


def keys(data: Any) -> list[str]:
    return [str(item) for item in data]


# the settings (key ""), read by every request: a record, so every worker and every restore reads the same
SETTINGS: Kind[dict[str, Any]] = Kind("settings", dict, dict, whole=True)


class Config:
    """The service's settings as its record says (its defaults before any is written), and the error table
    they rename (made again when ``error_codes`` changes)."""

    def __init__(self, table: Table[dict[str, Any]], defaults: dict[str, Any]) -> None:
        self._table = table
        self._defaults = defaults
        self._errors: tuple[str, ErrorTable] = ("{}", ERRORS)

    @property
    def settings(self) -> dict[str, Any]:
        return self._table.get("") or self._defaults

    @settings.setter
    def settings(self, value: dict[str, Any]) -> None:
        self.errors_of(value)  # an unknown case to rename is refused before anything is written
        self._table[""] = value

    @property
    def errors(self) -> ErrorTable:
        return self.errors_of(self.settings)

    def errors_of(self, settings: dict[str, Any]) -> ErrorTable:
        codes = json.dumps(settings.get("error_codes") or {}, sort_keys=True)
        known, table = self._errors
        if codes != known:
            table = ERRORS.renamed(settings.get("error_codes") or {})
            self._errors = (codes, table)
        return table


class Shared(NamedTuple):
    """The directory and logons a part acts on, and the model's ClientTokens, clock, config, lock (which
    guards every change) and entropy."""

    directory: Directory
    logon: Logon
    client_tokens: ClientTokens
    clock: Clock
    config: Config
    lock: threading.RLock
    entropy: Entropy


class Configured:
    """A part that reads the settings and errors through the model's :class:`Config`."""

    config: Config

    @property
    def settings(self) -> dict[str, Any]:
        return self.config.settings

    @property
    def errors(self) -> ErrorTable:
        return self.config.errors


class ModelPart(Configured):
    """A part of the model (the workspace, the account), over what the model shares with it."""

    def __init__(self, shared: Shared) -> None:
        self.directory, self.logon, self.client_tokens = shared.directory, shared.logon, shared.client_tokens
        self.clock, self.config = shared.clock, shared.config
        self.entropy = shared.entropy
        self._lock = shared.lock


def add_key(index: Table[list[str]], owner: str, key: str) -> None:
    """Note ``key`` under ``owner`` in an index kind (a user's desktops, a desktop's snapshots)."""
    found = index.get(owner) or []
    if key not in found:
        index[owner] = [*found, key]


def drop_key(index: Table[list[str]], owner: str, key: str) -> None:
    found = index.get(owner) or []
    if key in found:
        left = [k for k in found if k != key]
        if left:
            index[owner] = left
        else:
            del index[owner]
