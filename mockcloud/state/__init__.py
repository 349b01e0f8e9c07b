"""Where a mock's state lives: in memory, in a state file, or in a store that several servers share.

Beside :mod:`mockcloud.core` (which it builds on, and which knows nothing of
it): the keepers (:mod:`.keeper`, :mod:`.shared`), a world's parts and their
verbs (:mod:`.parts`), snapshots (:mod:`.snapshot`), the stores
(:mod:`.store`, :mod:`.sqlite_store`, :mod:`.redis_store`), the state file
(:mod:`.statefile`) and the request log of a store (:mod:`.log`). A mock
gets its keeper from :func:`keeper_for`, and a store from its URL with
:func:`open_store`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..core.errors import MockCloudError

if TYPE_CHECKING:
    from .keeper import StateKeeper
    from .store import Store
    from .world import Blueprint


def keeper_for(blueprint: Blueprint, seed: int | None, store: Store | str | None) -> StateKeeper:
    """The keeper of a mock: in memory, or on ``store`` (a :class:`~.store.Store`, or its URL)."""
    if store is None:
        from .keeper import MemoryKeeper

        return MemoryKeeper(blueprint, seed)
    if blueprint.patch_time:
        raise MockCloudError(
            "a mock that shares its state through a store keeps a clock of its own: pass patch_time=False"
        )
    from .shared import SharedKeeper

    return SharedKeeper(blueprint, seed, open_store(store) if isinstance(store, str) else store)


def open_store(url: str) -> Store:
    """The store a URL names: ``redis://HOST:PORT/DB`` (or ``rediss://``, ``unix://``), or ``sqlite:///PATH``."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in ("redis", "rediss", "unix"):
        from .redis_store import RedisStore  # imports the redis client only now

        return RedisStore(url)
    if scheme == "sqlite":
        from .sqlite_store import SqliteStore

        return SqliteStore(url[len("sqlite://") :])
    raise MockCloudError(f"unknown store {url!r}: give redis://HOST:PORT/DB or sqlite:///PATH")
