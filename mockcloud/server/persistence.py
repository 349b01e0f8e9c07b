"""``mockcloud server --state FILE``: the emulator's state survives restarts, and no acknowledged change is lost.

The state file is a snapshot (:mod:`mockcloud.core.snapshot`). It is loaded at
start when it exists, and saved atomically (written beside it, flushed to
disk, then renamed over it) after every request that may change state,
before that request is answered. Under load the saves are group commits:
requests that change state while a save runs wait for the next save, which
covers them all, so there is at most one save running and one waiting.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.errors import MockCloudError

if TYPE_CHECKING:
    from ..mock import MockCloud


class StateFile:
    """One server's state file."""

    def __init__(self, path: str | Path, cloud: MockCloud) -> None:
        self.path = Path(path)
        self.cloud = cloud
        self._changes = 0  # changes announced so far
        self._saved = 0  # changes covered by the last save
        self._saving = False
        self._condition = threading.Condition()
        self.saves = 0  # how many times the file was written (for the curious, and the tests)

    def check_writable(self) -> None:
        """A path the server could never save to stops it before it listens, rather than failing every write."""
        where = self.path.parent
        if self.path.is_dir():
            raise MockCloudError(f"--state {self.path} is a folder; give a file path in it")
        if not where.is_dir():
            raise MockCloudError(f"--state {self.path}: the folder {where} does not exist")
        probe = where / f".{self.path.name}.{os.getpid()}.probe"
        try:
            probe.open("wb").close()
            probe.unlink()
        except OSError as exc:
            raise MockCloudError(f"--state {self.path}: cannot write in {where}: {exc.strerror or exc}") from None

    def load(self) -> bool:
        """Restore the state in the file, if there is one; a file that is no snapshot stops the server."""
        if not self.path.exists():
            return False
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise MockCloudError(f"state file {self.path} cannot be read as JSON: {exc}") from None
        try:
            self.cloud.restore(document)
        except MockCloudError as exc:
            raise MockCloudError(f"state file {self.path}: {exc}") from None
        return True

    def changed(self) -> None:
        """A request may have changed state: return once a save that includes it is on disk."""
        with self._condition:
            self._changes += 1
            ticket = self._changes
            while self._saved < ticket:
                if self._saving:
                    self._condition.wait()
                    continue
                self._saving = True
                covers = self._changes
                self._condition.release()
                saved = False
                try:
                    self.save()
                    saved = True
                finally:
                    self._condition.acquire()
                    self._saving = False
                    if saved:
                        self._saved = max(self._saved, covers)
                    self._condition.notify_all()

    def save(self) -> None:
        """Write the state now: to a temporary file beside it, synced, then renamed over it (atomic on POSIX)."""
        data = json.dumps(self.cloud.snapshot(), separators=(",", ":")).encode("utf-8")
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        with open(temporary, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, self.path)
        try:  # the rename itself on disk, too
            directory = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        self.saves += 1
