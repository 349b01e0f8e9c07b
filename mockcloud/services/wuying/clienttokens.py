"""Idempotent requests: an operation retried with the same ``ClientToken`` answers what it answered the first time.

Alibaba's rule (the "how to ensure idempotence" page every ``ClientToken`` links to): the same token with the
same parameters is the same request, done once; with other parameters it is ``IdempotentParameterMismatch``.
Each use is a record by its key (operation, end user, token), kept ``client_token_seconds``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ...core.entities import KEPT_SECONDS, Kind
from ...core.sections import keyed, record
from ...core.service import ServiceContext
from .part import Config, Configured, of


@dataclass(slots=True)
class ClientTokenUse:
    operation: str
    end_user_id: str
    client_token: str
    request: str  # SHA-256 of the request's parameters
    result: dict[str, Any]
    expires: float

    @property
    def key(self) -> str:
        return key_of(self.operation, self.end_user_id, self.client_token)


def key_of(operation: str, end_user_id: str, client_token: str) -> str:
    return hashlib.sha256(json.dumps([operation, end_user_id, client_token]).encode()).hexdigest()


def _dead_at(use: ClientTokenUse) -> float:
    return use.expires + KEPT_SECONDS


# a use of a client token, by key_of(operation, end user, token)
CLIENT_TOKEN: Kind[ClientTokenUse] = Kind("client_token", record, of(ClientTokenUse), _dead_at)


class ClientTokens(Configured):
    """The uses of client tokens; the model's lock guards every change."""

    def __init__(self, context: ServiceContext, config: Config, lock: threading.RLock) -> None:
        self.config = config
        self._lock = lock
        self._uses = context.table(CLIENT_TOKEN)

    def once(
        self,
        operation: str,
        end_user_id: str,
        client_token: str | None,
        request: dict[str, Any],
        now: float,
        action: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """``action()``, or, for a token already used with the same request, the answer it gave then.

        The caller holds the lock; a failed action records nothing (a retry tries again).
        """
        if not client_token:
            return action()
        key = key_of(operation, end_user_id, client_token)
        digest = hashlib.sha256(json.dumps(request, sort_keys=True, default=str).encode()).hexdigest()
        use = self._uses.get(key)
        if use is not None and now < use.expires:
            if use.request != digest:
                raise self.errors.error("idempotent_mismatch")
            return copy.deepcopy(use.result)
        result = action()
        self._uses[key] = ClientTokenUse(
            operation,
            end_user_id,
            client_token,
            digest,
            copy.deepcopy(result),
            now + self.settings["client_token_seconds"],
        )
        return result

    def snapshot(self) -> list[dict[str, Any]]:
        return [record(use) for use in self._uses.values()]

    def load(self, items: list[dict[str, Any]]) -> None:
        uses = keyed([ClientTokenUse(**item) for item in items], lambda u: u.key, "client token uses")
        with self._lock:
            for key, use in uses.items():
                self._uses[key] = use
