"""The SQLite store: one process's state in a file (``mockcloud server --state FILE``), one row per entity.

SQLite (the standard library's) in WAL mode with ``synchronous=NORMAL``: a
commit is one SQLite transaction, written to the log before it is
acknowledged, so it survives the process being killed (SIGKILL included) and
a half-written change is never seen; only a power cut can lose the last few
acknowledged ones (a checkpoint makes them durable). A request that changes
nothing writes nothing. A commit that cannot be written (a full disk) is
rolled back whole: the request gets its service's 5xx and nothing it did is
kept.

One process owns the file (an exclusive ``flock`` on it, taken when it is
opened): a second server on the same file is refused. So what this process
caches of it is never stale (:attr:`SqliteStore.exclusive`), and the request
log stays in the process (:attr:`SqliteStore.keeps_log` is false). The file
and its ``-wal``/``-shm`` companions are the owner's alone (0600): they hold
every token and key.

Layout: ``entities`` (``id``, ``kind``, ``version``, ``text``, ``dead_at``;
the rowid keeps the order entities were made in), ``kinds`` (each kind's
membership version) and ``meta`` (the instance, the fixtures' fingerprint,
the last version given, the layout's format).
"""

from __future__ import annotations

import os
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..core.errors import MockCloudError, StoreUnavailable
from .store import PRUNE_PER_COMMIT, Commit, Committed, Conflict, Entity, Meta, Store, Stored, kind_of, require

FORMAT = "mockcloud-state-db 1"
HEADER = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entities (
    id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    version INTEGER NOT NULL,
    text TEXT NOT NULL,
    dead_at REAL
);
CREATE INDEX IF NOT EXISTS entities_by_kind ON entities (kind);
CREATE INDEX IF NOT EXISTS entities_by_dead_at ON entities (dead_at) WHERE dead_at IS NOT NULL;
CREATE TABLE IF NOT EXISTS kinds (kind TEXT PRIMARY KEY, version INTEGER NOT NULL);
"""


def create_private(path: Path) -> None:
    """Make ``path`` an empty file readable by its owner only (it will hold secrets), if it is not there."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


class SqliteStore(Store):
    """The state in one SQLite file, owned by this process."""

    exclusive = True
    keeps_log = False

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.url = f"sqlite://{self.path}"
        self._lock = threading.Lock()
        self._owner: int | None = None
        self._version = 0  # the last version given (meta's "version")
        try:
            create_private(self.path)
            os.chmod(self.path, 0o600)
            self._own()
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            tables = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if tables and not {"meta", "entities", "kinds"} <= tables:
                raise MockCloudError(
                    f"state file {self.path} is a database of something else (tables {sorted(tables)})"
                )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._meta = self._read_meta()
        except sqlite3.DatabaseError as exc:
            self._let_go()
            raise MockCloudError(f"state file {self.path} is not a mockcloud state database: {exc}") from None
        except OSError as exc:
            self._let_go()
            raise MockCloudError(f"state file {self.path} cannot be opened: {exc.strerror or exc}") from None
        except BaseException:
            self._let_go()
            raise

    def _own(self) -> None:
        """Take the file for this process alone, or say who has it."""
        import fcntl

        descriptor = os.open(self.path, os.O_RDONLY)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(descriptor)
            raise MockCloudError(f"state file {self.path} is in use by another mockcloud server") from None
        self._owner = descriptor

    def _let_go(self) -> None:
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None

    def _read_meta(self) -> Meta | None:
        values = dict(self._db.execute("SELECT name, value FROM meta").fetchall())
        if not values:
            if self._db.execute("SELECT 1 FROM entities LIMIT 1").fetchone() is not None:
                raise MockCloudError(f"state file {self.path} holds entities without saying whose")
            return None
        if values.get("format") != FORMAT:
            raise MockCloudError(
                f"state file {self.path} is a database of format {values.get('format')!r}, not {FORMAT!r}"
            )
        try:
            self._version = int(values["version"])
            return Meta(values["instance"], values["fingerprint"])
        except (KeyError, ValueError) as exc:
            raise MockCloudError(f"state file {self.path} has a broken meta table: {exc!r}") from None

    # ---- the store's calls ----------------------------------------------------------------------
    def _call(self, what: str, function: Any) -> Any:
        with self._lock:
            try:
                return function()
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.rollback()
                raise StoreUnavailable(f"the state file {self.path} could not {what}: {exc}") from None

    def meta(self) -> Meta | None:
        return self._meta

    def read(self, instance: str, ids: Sequence[str]) -> dict[str, Stored | None]:
        def read() -> dict[str, Stored | None]:
            require(self._meta, instance)
            return {entity: self._stored(entity) for entity in ids}

        result: dict[str, Stored | None] = self._call("be read", read)
        return result

    def _stored(self, entity: str) -> Stored | None:
        row = self._db.execute("SELECT version, text FROM entities WHERE id = ?", (entity,)).fetchone()
        return None if row is None else Stored(row[0], row[1])

    def _membership(self, kind: str) -> int:
        row = self._db.execute("SELECT version FROM kinds WHERE kind = ?", (kind,)).fetchone()
        return 0 if row is None else int(row[0])

    def scan(self, instance: str, kind: str) -> tuple[int, list[tuple[str, Stored]]]:
        def scan() -> tuple[int, list[tuple[str, Stored]]]:
            require(self._meta, instance)
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(
                    "SELECT id, version, text FROM entities WHERE kind = ? ORDER BY rowid", (kind,)
                ).fetchall()
                return self._membership(kind), [(kind_of(row[0])[1], Stored(row[1], row[2])) for row in rows]
            finally:
                self._db.execute("COMMIT")

        result: tuple[int, list[tuple[str, Stored]]] = self._call("be read", scan)
        return result

    def commit(self, commit: Commit) -> Committed | Conflict:
        def run() -> Committed | Conflict:
            require(self._meta, commit.instance)
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                found = {entity: self._stored(entity) for entity in commit.reads}
                versions = {entity: 0 if stored is None else stored.version for entity, stored in found.items()}
                memberships = {kind: self._membership(kind) for kind in commit.scans}
                if versions != commit.reads or memberships != commit.scans:
                    db.execute("ROLLBACK")
                    return Conflict(found, memberships)
                if not commit.writes and not commit.deletes:
                    db.execute("ROLLBACK")
                    return Committed(self._version)
                version = self._version + 1
                for entity, (text, dead_at) in commit.writes.items():
                    self._write(entity, version, text, dead_at)
                for entity in commit.deletes:
                    self._drop(entity)
                pruned = self._prune(commit.now) if commit.now is not None else ()
                db.execute("UPDATE meta SET value = ? WHERE name = 'version'", (str(version),))
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._version = version
            return Committed(version, pruned)

        result: Committed | Conflict = self._call("be written", run)
        return result

    def _write(self, entity: str, version: int, text: str, dead_at: float | None) -> None:
        db = self._db
        kind = kind_of(entity)[0]
        made = db.execute(
            "INSERT OR IGNORE INTO entities (id, kind, version, text, dead_at) VALUES (?, ?, ?, ?, ?)",
            (entity, kind, version, text, dead_at),
        ).rowcount
        if made:
            self._moved(kind)
        else:
            db.execute(
                "UPDATE entities SET version = ?, text = ?, dead_at = ? WHERE id = ?", (version, text, dead_at, entity)
            )

    def _moved(self, kind: str) -> None:
        self._db.execute(
            "INSERT INTO kinds (kind, version) VALUES (?, 1) ON CONFLICT (kind) DO UPDATE SET version = version + 1",
            (kind,),
        )

    def _drop(self, entity: str) -> None:
        if self._db.execute("DELETE FROM entities WHERE id = ?", (entity,)).rowcount:
            self._moved(kind_of(entity)[0])

    def _prune(self, now: float) -> tuple[str, ...]:
        rows = self._db.execute(
            "SELECT id FROM entities WHERE dead_at IS NOT NULL AND dead_at < ? LIMIT ?", (now, PRUNE_PER_COMMIT)
        ).fetchall()
        for (entity,) in rows:
            self._drop(entity)
        return tuple(entity for (entity,) in rows)

    def put(self, entities: Iterable[Entity], fingerprint: str, *, replace: bool) -> Meta:
        def put() -> Meta:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:
                if self._meta is not None and not replace:
                    db.execute("ROLLBACK")
                    return self._meta
                version = self._version + 1
                db.execute("DELETE FROM entities")
                db.execute("DELETE FROM kinds")
                counts: dict[str, int] = {}
                rows = []
                for entity, text, dead_at in entities:
                    kind = kind_of(entity)[0]
                    counts[kind] = counts.get(kind, 0) + 1
                    rows.append((entity, kind, version, text, dead_at))
                db.executemany("INSERT INTO entities (id, kind, version, text, dead_at) VALUES (?, ?, ?, ?, ?)", rows)
                db.executemany("INSERT INTO kinds (kind, version) VALUES (?, 1)", [(kind,) for kind in counts])
                meta = Meta(secrets.token_hex(8), fingerprint)
                values = {"format": FORMAT, "instance": meta.instance, "fingerprint": fingerprint}
                values["version"] = str(version)
                db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", values.items())
                db.execute("COMMIT")
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            self._version, self._meta = version, meta
            return meta

        meta: Meta = self._call("be written", put)
        return meta

    def dump(self) -> tuple[Meta, list[tuple[str, str]]] | None:
        def dump() -> tuple[Meta, list[tuple[str, str]]] | None:
            if self._meta is None:
                return None
            rows = self._db.execute("SELECT id, text FROM entities ORDER BY rowid").fetchall()
            return self._meta, [(row[0], row[1]) for row in rows]

        result: tuple[Meta, list[tuple[str, str]]] | None = self._call("be read", dump)
        return result

    # the request log stays in the process (keeps_log is false)
    def append(self, records: Sequence[str], log_size: int) -> None:
        pass

    def records(self, after: int = 0, last: int | None = None) -> list[tuple[int, str]]:
        return []

    def clear_records(self) -> None:
        pass

    def ping(self) -> None:
        self._call("be read", lambda: self._db.execute("SELECT 1").fetchone())

    def close(self) -> None:
        with self._lock:
            if self._owner is None:
                return
            try:
                self._db.close()
            except sqlite3.Error:
                pass
            self._let_go()
