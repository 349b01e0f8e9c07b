"""Where a mock's state lives: in memory, in a state file, or in a store that several servers share.

Beside :mod:`mockcloud.core` (which it builds on, and which knows nothing of
it): the keepers (:mod:`.keeper`), a world's parts and their verbs
(:mod:`.parts`), snapshots (:mod:`.snapshot`), the stores (:mod:`.store`,
:mod:`.sqlite_store`, :mod:`.redis_store`), the state file
(:mod:`.statefile`) and the shared request log (:mod:`.log`).
"""
