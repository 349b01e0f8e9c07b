"""The Redis store: one emulator for every process and host that names the same ``redis://HOST:PORT/DB``.

One key per entity, all under one prefix (``mockcloud`` unless the URL says
``?prefix=NAME``), in one hash slot (the prefix is a hash tag):

- ``{prefix}:meta``: a hash of the contents' ``instance`` id and the
  ``fingerprint`` of the fixtures they were filled from;
- ``{prefix}:INSTANCE:e:PART/KIND/KEY``: one entity, a hash of its version
  (``v``) and its JSON text (``t``);
- ``{prefix}:INSTANCE:k:PART/KIND``: the keys of one kind, a sorted set in the
  order they were made; ``{prefix}:INSTANCE:m`` the membership version of
  each kind; ``{prefix}:INSTANCE:x`` when each entity that expires is past
  use (a sorted set by that moment); ``{prefix}:INSTANCE:v`` the version
  counter;
- ``{prefix}:log``: the request log, a stream capped at the log's size.

Every call is one Lua script, so it is atomic: a commit checks the version of
every entity the request read and writes only if all match, in one step no
other client can interleave, and then drops a few entities past use. The
contents of one instance live under its own name: a reset or a restore
writes the new contents beside the old, makes them the store's in one step,
and deletes the old; whatever the old held (unreadable text, a version that
is no number) goes with them. Nothing else in the database is read, written
or flushed. The client library is imported only when a Redis store is opened
(``pip install 'mockcloud[redis]'``).

Every command waits at most :data:`TIMEOUT` seconds: a Redis that does not
answer costs a request that long, then its service's 503.
"""

from __future__ import annotations

import secrets
import threading
import weakref
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from ..core.errors import MockCloudError, StoreUnavailable
from .store import PRUNE_PER_COMMIT, Commit, Committed, Conflict, Entity, Meta, Moved, Store, Stored, kind_of

DEFAULT_PREFIX = "mockcloud"
TIMEOUT = 1.5  # seconds a command may take before the request fails with its service's 503
BATCH = 1000  # entities written per round trip when the whole state is put

# one entity away, with its membership and its expiry: (base, id) -> nothing
_DROP = """
local function drop(base, id)
  local key = base .. 'e:' .. id
  if redis.call('DEL', key) == 1 then
    local s1 = string.find(id, '/', 1, true)
    local s2 = string.find(id, '/', s1 + 1, true)
    local kind = string.sub(id, 1, s2 - 1)
    redis.call('ZREM', base .. 'k:' .. kind, string.sub(id, s2 + 1))
    redis.call('HINCRBY', base .. 'm', kind, 1)
  end
  redis.call('ZREM', base .. 'x', id)
end
"""

# KEYS: meta. ARGV: instance, base, ids... -> {1, {v, t} per id} ({'0', ''}: absent), or {-1, instance now}
_READ = """
local now = redis.call('HGET', KEYS[1], 'instance')
if now ~= ARGV[1] then return {-1, now or false} end
local out = {}
for i = 3, #ARGV do
  local e = redis.call('HMGET', ARGV[2] .. 'e:' .. ARGV[i], 'v', 't')
  out[#out + 1] = e[1] or '0'
  out[#out + 1] = e[2] or ''
end
return {1, out}
"""

# KEYS: meta. ARGV: instance, base, kind -> {1, membership version, {key, v, t} ...} oldest first, or {-1, instance}
_SCAN = """
local now = redis.call('HGET', KEYS[1], 'instance')
if now ~= ARGV[1] then return {-1, now or false} end
local base, kind = ARGV[2], ARGV[3]
local out = {}
for _, key in ipairs(redis.call('ZRANGE', base .. 'k:' .. kind, 0, -1)) do
  local e = redis.call('HMGET', base .. 'e:' .. kind .. '/' .. key, 'v', 't')
  out[#out + 1] = key
  out[#out + 1] = e[1] or '0'
  out[#out + 1] = e[2] or ''
end
return {1, redis.call('HGET', base .. 'm', kind) or '0', out}
"""

# KEYS: meta, log. ARGV: instance, base, now ('' none), prune limit, then
#   n, (id, version) * n, s, (kind, membership) * s, w, (id, text, dead_at or '') * w, d, id * d, log size, records...
# -> {1, version, pruned ids} | {0, (id, v, t) of every read, (kind, membership) of every scan} | {-1, instance}
_COMMIT = (
    _DROP
    + """
local now = redis.call('HGET', KEYS[1], 'instance')
if now ~= ARGV[1] then return {-1, now or false} end
local base = ARGV[2]
local i = 5
local n = tonumber(ARGV[i])
i = i + 1
local reads = i
local stale = false
for _ = 1, n do
  if (redis.call('HGET', base .. 'e:' .. ARGV[i], 'v') or '0') ~= ARGV[i + 1] then stale = true end
  i = i + 2
end
local s = tonumber(ARGV[i])
i = i + 1
local scans = i
for _ = 1, s do
  if (redis.call('HGET', base .. 'm', ARGV[i]) or '0') ~= ARGV[i + 1] then stale = true end
  i = i + 2
end
if stale then
  local entities, kinds = {}, {}
  for j = reads, reads + 2 * n - 1, 2 do
    local e = redis.call('HMGET', base .. 'e:' .. ARGV[j], 'v', 't')
    entities[#entities + 1] = ARGV[j]
    entities[#entities + 1] = e[1] or '0'
    entities[#entities + 1] = e[2] or ''
  end
  for j = scans, scans + 2 * s - 1, 2 do
    kinds[#kinds + 1] = ARGV[j]
    kinds[#kinds + 1] = redis.call('HGET', base .. 'm', ARGV[j]) or '0'
  end
  return {0, entities, kinds}
end
local w = tonumber(ARGV[i])
local d = tonumber(ARGV[i + 1 + 3 * w])
local version = 0
local pruned = {}
if w > 0 or d > 0 then
  version = redis.call('INCR', base .. 'v')
  i = i + 1
  for _ = 1, w do
    local id = ARGV[i]
    local key = base .. 'e:' .. id
    if redis.call('EXISTS', key) == 0 then
      local s1 = string.find(id, '/', 1, true)
      local s2 = string.find(id, '/', s1 + 1, true)
      local kind = string.sub(id, 1, s2 - 1)
      redis.call('ZADD', base .. 'k:' .. kind, version, string.sub(id, s2 + 1))
      redis.call('HINCRBY', base .. 'm', kind, 1)
    end
    redis.call('HSET', key, 'v', version, 't', ARGV[i + 1])
    if ARGV[i + 2] ~= '' then
      redis.call('ZADD', base .. 'x', ARGV[i + 2], id)
    else
      redis.call('ZREM', base .. 'x', id)
    end
    i = i + 3
  end
  i = i + 1
  for _ = 1, d do
    drop(base, ARGV[i])
    i = i + 1
  end
  if ARGV[3] ~= '' then
    for _, id in ipairs(redis.call('ZRANGEBYSCORE', base .. 'x', '-inf', '(' .. ARGV[3], 'LIMIT', 0, ARGV[4])) do
      drop(base, id)
      pruned[#pruned + 1] = id
    end
  end
else
  i = i + 2
end
local size = ARGV[i]
for k = i + 1, #ARGV do
  redis.call('XADD', KEYS[2], 'MAXLEN', size, '*', 'r', ARGV[k])
end
return {1, version, pruned}
"""
)

# KEYS: meta, log. ARGV: mode ('fill': only if there is no state; 'replace'), instance, fingerprint
# -> {instance, fingerprint} the store holds then
_FLIP = """
local kind = redis.call('TYPE', KEYS[1]).ok
if ARGV[1] == 'fill' and kind == 'hash' and redis.call('HEXISTS', KEYS[1], 'instance') == 1 then
  return redis.call('HMGET', KEYS[1], 'instance', 'fingerprint')
end
if kind ~= 'hash' then redis.call('DEL', KEYS[1]) end
redis.call('HSET', KEYS[1], 'instance', ARGV[2], 'fingerprint', ARGV[3])
redis.call('DEL', KEYS[2])
return {ARGV[2], ARGV[3]}
"""

# KEYS: meta. ARGV: base, instance -> {id, t, ...} every entity, oldest first per kind, or {-1, instance}
_DUMP = """
local now = redis.call('HGET', KEYS[1], 'instance')
if now ~= ARGV[2] then return {-1, now or false} end
local base = ARGV[1]
local out = {}
for _, kind in ipairs(redis.call('HKEYS', base .. 'm')) do
  for _, key in ipairs(redis.call('ZRANGE', base .. 'k:' .. kind, 0, -1)) do
    out[#out + 1] = kind .. '/' .. key
    out[#out + 1] = redis.call('HGET', base .. 'e:' .. kind .. '/' .. key, 't') or ''
  end
end
return {1, out}
"""


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _number(stream_id: bytes | str) -> int:
    milliseconds, _, sequence = _text(stream_id).partition("-")
    return int(milliseconds) * 1000 + int(sequence or 0)


def _count(value: Any) -> int:
    """A version the store answered; what is no number is what no mockcloud wrote (unreadable contents)."""
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StoreUnavailable(f"the store holds what no mockcloud wrote (a version {value!r:.40})") from None


def _stored(version: Any, text: Any) -> Stored | None:
    number = _count(version)
    try:
        return None if number == 0 else Stored(number, _text(text))
    except UnicodeDecodeError:
        raise StoreUnavailable("the store holds text that is not UTF-8") from None


def split_url(url: str) -> tuple[str, str]:
    """``(the URL the client library takes, the key prefix)``: ``?prefix=NAME`` is ours, not the library's."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = DEFAULT_PREFIX
    rest = []
    for key, value in query:
        if key == "prefix":
            prefix = value
        else:
            rest.append((key, value))
    if not prefix or any(c in prefix for c in "{} \t\r\n:*?[]"):
        raise MockCloudError(f"a store prefix is a name without braces, colons, wildcards or spaces, not {prefix!r}")
    return urlunsplit(parts._replace(query=urlencode(rest))), prefix


class RedisStore(Store):
    """The state of one emulator in a Redis database (``redis://HOST:PORT/DB``), under one key prefix."""

    def __init__(self, url: str) -> None:
        try:
            import redis
        except ImportError:
            raise MockCloudError("a Redis store needs the redis client: pip install 'mockcloud[redis]'") from None
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        client_url, self.prefix = split_url(url)
        self.url = url
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError, ValueError)
        try:
            # no retries inside the client: a commit sent twice could be applied once and then refused,
            # and a request must not be handled again after its change was written
            self._redis = redis.Redis.from_url(
                client_url,
                socket_timeout=TIMEOUT,
                socket_connect_timeout=TIMEOUT,
                retry=Retry(NoBackoff(), 0),
            )
        except ValueError as exc:
            raise MockCloudError(f"not a Redis URL {url!r}: {exc}") from None
        tag = "{" + self.prefix + "}"
        self._tag = tag
        self._meta, self._log = f"{tag}:meta", f"{tag}:log"
        self._scripts = {
            name: (script, self._redis.register_script(script).sha)
            for name, script in (("read", _READ), ("scan", _SCAN), ("commit", _COMMIT), ("dump", _DUMP))
        }
        self._flip = self._redis.register_script(_FLIP)
        self._no_script = redis.exceptions.NoScriptError
        self._local = threading.local()  # each thread's own connection for the per-request scripts
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()  # to close them all at close()

    def _base(self, instance: str) -> str:
        return f"{self._tag}:{instance}:"

    def _script(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script on this thread's own connection: the per-request path, without the pool's bookkeeping.

        A connection that failed is closed, and opened again by the next command.
        """
        script, sha = self._scripts[name]
        command = ("EVALSHA", sha, len(keys), *keys, *args)
        try:
            connection = getattr(self._local, "connection", None)
            if connection is None:  # the thread's own, outside the pool (it goes with the thread)
                pool = self._redis.connection_pool
                connection = self._local.connection = pool.connection_class(**pool.connection_kwargs)
                self._connections.add(connection)
            try:
                connection.send_command(*command)
                return connection.read_response()
            except self._no_script:  # a Redis that restarted has forgotten it: nothing ran, so load and send again
                connection.send_command("SCRIPT", "LOAD", script)
                connection.read_response()
                connection.send_command(*command)
                return connection.read_response()
        except self._errors as exc:
            connection = getattr(self._local, "connection", None)
            if connection is not None:
                connection.disconnect()
            raise StoreUnavailable(f"Redis at {self.url} failed to {name}: {exc}") from exc

    def _call(self, what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
        """One command through the pool; a failure is :class:`StoreUnavailable`."""
        try:
            return function(*args, **kwargs)
        except self._errors as exc:
            raise StoreUnavailable(f"Redis at {self.url} failed to {what}: {exc}") from exc

    def meta(self) -> Meta | None:
        kind = _text(self._call("read the state", self._redis.type, self._meta))
        if kind == "none":
            return None
        instance, fingerprint = (
            self._call("read the state", self._redis.hmget, self._meta, "instance", "fingerprint")
            if kind == "hash"
            else (None, None)
        )
        if instance is None:  # a reset or a restore writes it anew
            raise StoreUnavailable(f"the store {self.url} holds what no mockcloud wrote under {self._meta}")
        return Meta(_text(instance), _text(fingerprint or b""))

    def _moved(self, answer: Any) -> Moved:
        instance = answer[1]
        if not instance:
            return Moved(None)
        fingerprint = self._call("read the state", self._redis.hget, self._meta, "fingerprint")
        return Moved(Meta(_text(instance), _text(fingerprint or b"")))

    def read(self, instance: str, ids: Sequence[str]) -> dict[str, Stored | None]:
        answer = self._script("read", [self._meta], [instance, self._base(instance), *ids])
        if answer[0] == -1:
            raise self._moved(answer)
        flat = answer[1]
        return {entity: _stored(flat[2 * i], flat[2 * i + 1]) for i, entity in enumerate(ids)}

    def scan(self, instance: str, kind: str) -> tuple[int, list[tuple[str, Stored]]]:
        answer = self._script("scan", [self._meta], [instance, self._base(instance), kind])
        if answer[0] == -1:
            raise self._moved(answer)
        flat = answer[2]
        found = []
        for i in range(0, len(flat), 3):
            stored = _stored(flat[i + 1], flat[i + 2])
            if stored is not None:
                found.append((_text(flat[i]), stored))
        return _count(answer[1]), found

    def commit(self, commit: Commit) -> Committed | Conflict:
        args: list[Any] = [
            commit.instance,
            self._base(commit.instance),
            "" if commit.now is None else repr(commit.now),
            PRUNE_PER_COMMIT,
            len(commit.reads),
        ]
        for entity, version in commit.reads.items():
            args += [entity, str(version)]
        args.append(len(commit.scans))
        for kind, version in commit.scans.items():
            args += [kind, str(version)]
        args.append(len(commit.writes))
        for entity, (text, dead_at) in commit.writes.items():
            args += [entity, text, "" if dead_at is None else repr(dead_at)]
        args.append(len(commit.deletes))
        args.extend(commit.deletes)
        args.append(commit.log_size)
        args.extend(commit.records)
        answer = self._script("commit", [self._meta, self._log], args)
        if answer[0] == -1:
            raise self._moved(answer)
        if answer[0] == 0:
            entities, kinds = answer[1], answer[2]
            return Conflict(
                {_text(entities[i]): _stored(entities[i + 1], entities[i + 2]) for i in range(0, len(entities), 3)},
                {_text(kinds[i]): _count(kinds[i + 1]) for i in range(0, len(kinds), 2)},
            )
        return Committed(_count(answer[1]), tuple(_text(entity) for entity in answer[2]))

    def put(self, entities: Iterable[Entity], fingerprint: str, *, replace: bool) -> Meta:
        instance = secrets.token_hex(8)
        base = self._base(instance)
        memberships: dict[Any, Any] = {}  # kind -> its first membership version
        pipeline = self._redis.pipeline(transaction=False)
        version = 0
        for version, (entity, text, dead_at) in enumerate(entities, start=1):
            kind, key = kind_of(entity)
            memberships[kind] = 1
            pipeline.hset(base + "e:" + entity, mapping={"v": version, "t": text})
            pipeline.zadd(base + "k:" + kind, {key: version})
            if dead_at is not None:
                pipeline.zadd(base + "x", {entity: dead_at})
            if version % BATCH == 0:
                self._call("write the state", pipeline.execute)
        if memberships:
            pipeline.hset(base + "m", mapping=memberships)
        pipeline.set(base + "v", version)  # every version given from here on is above those
        self._call("write the state", pipeline.execute)
        mode = "replace" if replace else "fill"
        answer = self._call(
            "write the state", self._flip, keys=[self._meta, self._log], args=[mode, instance, fingerprint]
        )
        meta = Meta(_text(answer[0]), _text(answer[1] or b""))
        self._sweep(keep=meta.instance)
        return meta

    def _sweep(self, keep: str) -> None:
        """Delete every key under the prefix but the meta, the log and the contents of instance ``keep``."""
        kept = (self._meta, self._log)
        current = self._base(keep)
        pattern = self._tag.replace("[", "\\[").replace("]", "\\]") + ":*"
        doomed = []
        for key in self._call("clean up", self._redis.scan_iter, match=pattern, count=1000):
            name = _text(key)
            if name not in kept and not name.startswith(current):
                doomed.append(key)
                if len(doomed) >= BATCH:
                    self._call("clean up", self._redis.unlink, *doomed)
                    doomed = []
        if doomed:
            self._call("clean up", self._redis.unlink, *doomed)

    def dump(self) -> tuple[Meta, list[tuple[str, str]]] | None:
        meta = self.meta()
        if meta is None:
            return None
        answer = self._script("dump", [self._meta], [self._base(meta.instance), meta.instance])
        if answer[0] == -1:
            raise self._moved(answer)
        flat = answer[1]
        return meta, [(_text(flat[i]), _text(flat[i + 1])) for i in range(0, len(flat), 2)]

    def append(self, records: Sequence[str], log_size: int) -> None:
        pipeline = self._redis.pipeline(transaction=False)
        for record in records:
            pipeline.xadd(self._log, {"r": record}, maxlen=log_size, approximate=False)
        self._call("log requests", pipeline.execute)

    def records(self, after: int = 0, last: int | None = None) -> list[tuple[int, str]]:
        # a record's number is its stream id, MS-N, as MS * 1000 + N (N stays below 1000: a thousand records in
        # one millisecond is beyond any server); ids grow even across a DEL, as the clock does
        if last is not None:
            entries = self._call("read the request log", self._redis.xrevrange, self._log, count=last)
            entries.reverse()
            if after:
                entries = [entry for entry in entries if _number(entry[0]) > after]
        else:
            start = f"({after // 1000}-{after % 1000}" if after else "-"
            entries = self._call("read the request log", self._redis.xrange, self._log, min=start)
        return [(_number(key), _text(fields[b"r"])) for key, fields in entries]

    def clear_records(self) -> None:
        self._call("clear the request log", self._redis.delete, self._log)

    def ping(self) -> None:
        self._call("answer", self._redis.ping)

    def close(self) -> None:
        for connection in list(self._connections):
            connection.disconnect()
        self._redis.close()
