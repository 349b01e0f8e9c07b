"""What the parts of the WUYING model built over the directory and the logons share."""

from __future__ import annotations

import threading
from typing import Any, NamedTuple

from ...core.clock import Clock
from ...core.entropy import Entropy
from ...core.errors import ErrorTable
from .clienttokens import ClientTokens
from .directory import Directory
from .logon import Logon


class Shared(NamedTuple):
    """The directory and logons a part acts on, and the model's ClientTokens, clock, settings, errors, lock
    (which guards every change) and entropy."""

    directory: Directory
    logon: Logon
    client_tokens: ClientTokens
    clock: Clock
    settings: dict[str, Any]
    errors: ErrorTable
    lock: threading.RLock
    entropy: Entropy


class ModelPart:
    """A part of the model (the workspace, the account), over what the model shares with it."""

    def __init__(self, shared: Shared) -> None:
        self.directory, self.logon, self.client_tokens = shared.directory, shared.logon, shared.client_tokens
        self.clock, self.settings, self.errors = shared.clock, shared.settings, shared.errors
        self.entropy = shared.entropy
        self._lock = shared.lock
