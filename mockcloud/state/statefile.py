"""``mockcloud server --state FILE``: the emulator's state in a file, kept change by change.

The file is a SQLite database (:class:`~.sqlite_store.SqliteStore`): made
(readable by its owner only) when it is not there, opened when it is. A
file that an older mockcloud wrote (a JSON snapshot, saved whole after every
request) is converted on start: checked, written into a new database under
its name, and kept beside it as ``FILE.json`` (or ``FILE.json.N``). Its
running clock goes on from where it stood when the file was last written
(the file's modification time), as if the server had never stopped.

Whatever is wrong with a file (not JSON, not a snapshot, not a state
database, nested too deeply, numbers out of range, records that contradict
each other, a database another server holds) stops the server before it
listens with one line saying so, and leaves the file as it was.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import jsonbody
from ..core.errors import MockCloudError
from .sqlite_store import HEADER, SqliteStore

if TYPE_CHECKING:
    from .keeper import StateKeeper


class StateFile:
    """One server's ``--state`` file: its store, and (when it was an old JSON snapshot) what to convert."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.document: dict[str, Any] | None = None  # an old file's snapshot, to be written into the database
        self.backup: Path | None = None  # where the old file was moved
        self._check_writable()
        try:
            head = self._head()
            if head and head[:1] == b"{":
                self.document = self._converted()
            elif head and head != HEADER:
                raise MockCloudError(
                    f"state file {self.path} is neither a mockcloud state database nor a JSON snapshot"
                )
            self.store = SqliteStore(self.path)
        except MockCloudError:
            self._undo()
            raise
        except (OSError, ValueError) as exc:
            self._undo()
            raise MockCloudError(f"state file {self.path} cannot be used: {exc}") from None

    def _check_writable(self) -> None:
        """A path the server could never write to stops it before it listens, rather than failing every write."""
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

    def _head(self) -> bytes:
        """The file's first bytes, past white space (empty when there is no file, or nothing in it)."""
        if not self.path.exists():
            return b""
        with open(self.path, "rb") as source:
            return source.read(64).lstrip()[:16]

    def _converted(self) -> dict[str, Any]:
        """An old state file's snapshot, checked; the file moved aside (a new database takes its name)."""
        from . import snapshot

        data = self.path.read_bytes()
        saved_at = self.path.stat().st_mtime
        try:
            document = jsonbody.loads(data)
        except jsonbody.BadJson as exc:
            raise MockCloudError(f"state file {self.path} cannot be read as JSON: {exc}") from None
        try:
            snapshot.check(document)
        except MockCloudError as exc:
            raise MockCloudError(f"state file {self.path}: {exc}") from None
        clock = document["clock"]
        if not clock["frozen"]:  # a running clock ran on while the server was down
            document = {**document, "clock": {"now": clock["now"] + time.time() - saved_at, "frozen": False}}
        backup = self.path.with_name(self.path.name + ".json")
        number = 1
        while backup.exists():
            backup = self.path.with_name(f"{self.path.name}.json.{number}")
            number += 1
        os.replace(self.path, backup)
        self.backup = backup
        checked: dict[str, Any] = document
        return checked

    def adopt(self, keeper: StateKeeper) -> None:
        """The keeper on this file: an old file's state written into the new database first."""
        if self.document is not None:
            try:
                keeper.restore(self.document)
            except Exception as exc:
                self.store.close()
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{self.path}{suffix}").unlink(missing_ok=True)
                self._undo()
                message = str(exc) if isinstance(exc, MockCloudError) else f"{type(exc).__name__}: {exc}"
                raise MockCloudError(f"state file {self.path}: {message}") from None
        keeper.start()

    def _undo(self) -> None:
        """The old file back under its name (a conversion that failed leaves it as it was)."""
        if self.backup is not None and not self.path.exists():
            os.replace(self.backup, self.path)
            self.backup = None


def write_private(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all, readable by its owner only (a state holds secrets).

    Written beside it, flushed to disk, then renamed over it; the temporary file goes if anything fails.
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
