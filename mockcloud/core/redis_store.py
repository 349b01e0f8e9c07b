"""The Redis store: one emulator for every process and host that names the same ``redis://HOST:PORT/DB``.

Three keys, all under one prefix (``mockcloud`` unless the URL says
``?prefix=NAME``), in one hash slot (the prefix is a hash tag):

- ``{prefix}:versions``: a hash of every part's version, and ``@instance``,
  the id of the contents (a Redis that lost its data and was filled again is
  another instance, and every mock drops what it held of the old one);
- ``{prefix}:parts``: a hash of every part's text (a snapshot's section);
- ``{prefix}:log``: the request log, a stream capped at the log's size.

Each operation of :class:`~.store.Store` is one Lua script, so it is atomic:
a commit checks every version it was given and writes only if all match,
in one step that no other client can interleave. Nothing else in the
database is read, written or flushed. The client library is imported only
when a Redis store is opened (``pip install 'mockcloud[redis]'``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import MockCloudError
from .store import Outcome, Seen, Store, StoreUnavailable, Texts, Versions

DEFAULT_PREFIX = "mockcloud"
INSTANCE = "@instance"
TIMEOUT = 5.0  # seconds a command may take before the request fails with the service's 503

# KEYS: versions, parts. ARGV: (part, known version) pairs. Every version, and the text of each part not known.
_READ = """
local instance = redis.call('HGET', KEYS[1], '@instance')
if not instance then return false end
local versions = redis.call('HGETALL', KEYS[1])
local current = {}
for i = 1, #versions, 2 do current[versions[i]] = versions[i + 1] end
local texts = {}
for i = 1, #ARGV, 2 do
  local version = current[ARGV[i]]
  if version and version ~= ARGV[i + 1] then
    texts[#texts + 1] = ARGV[i]
    texts[#texts + 1] = redis.call('HGET', KEYS[2], ARGV[i])
  end
end
return {versions, texts}
"""

# KEYS: versions, parts, log. ARGV: instance, n, (part, version) * n, m, (part, text) * m, log size, records...
# All versions as given: write, append, and answer {1, new versions}; else {0, every version, the texts that differ}.
_COMMIT = """
local instance = redis.call('HGET', KEYS[1], '@instance')
if not instance then return false end
local n = tonumber(ARGV[2])
local current = instance == ARGV[1]
local i = 3
if current then
  for _ = 1, n do
    if (redis.call('HGET', KEYS[1], ARGV[i]) or '0') ~= ARGV[i + 1] then
      current = false
      break
    end
    i = i + 2
  end
end
if not current then
  local versions = redis.call('HGETALL', KEYS[1])
  local now = {}
  for k = 1, #versions, 2 do now[versions[k]] = versions[k + 1] end
  local texts = {}
  for k = 3, 2 + 2 * n, 2 do
    local version = now[ARGV[k]]
    if version and (version ~= ARGV[k + 1] or instance ~= ARGV[1]) then
      texts[#texts + 1] = ARGV[k]
      texts[#texts + 1] = redis.call('HGET', KEYS[2], ARGV[k])
    end
  end
  return {0, versions, texts}
end
local writes = tonumber(ARGV[i])
i = i + 1
local written = {}
for _ = 1, writes do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  written[#written + 1] = ARGV[i]
  written[#written + 1] = redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
  i = i + 2
end
local size = ARGV[i]
for k = i + 1, #ARGV do
  redis.call('XADD', KEYS[3], 'MAXLEN', size, '*', 'r', ARGV[k])
end
return {1, written}
"""

# KEYS: versions, parts, log. ARGV: a new instance id, (part, text) pairs; mode "fill" (only if empty) or "replace".
_PUT = """
local mode = ARGV[1]
local instance = redis.call('HGET', KEYS[1], '@instance')
if mode == 'fill' and instance then
  return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
end
if not instance then
  redis.call('DEL', KEYS[1], KEYS[2])
  instance = ARGV[2]
  redis.call('HSET', KEYS[1], '@instance', instance)
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  redis.call('HINCRBY', KEYS[1], ARGV[i], 1)
end
redis.call('DEL', KEYS[3])
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
"""


def _pairs(flat: Sequence[Any]) -> Iterable[tuple[str, Any]]:
    for i in range(0, len(flat), 2):
        key = flat[i]
        yield (key.decode() if isinstance(key, bytes) else key), flat[i + 1]


def _text(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _number(stream_id: bytes | str) -> int:
    milliseconds, _, sequence = _text(stream_id).partition("-")
    return int(milliseconds) * 1000 + int(sequence or 0)


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
    if not prefix or any(c in prefix for c in "{} \t\r\n"):
        raise MockCloudError(f"a store prefix is a name without braces or spaces, not {prefix!r}")
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
        self._errors: tuple[type[BaseException], ...] = (redis.exceptions.RedisError, OSError)
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
        self._versions, self._parts, self._log = f"{tag}:versions", f"{tag}:parts", f"{tag}:log"
        self._read_script = self._redis.register_script(_READ)
        self._commit_script = self._redis.register_script(_COMMIT)
        self._put_script = self._redis.register_script(_PUT)
        self._no_script = redis.exceptions.NoScriptError
        self._local = threading.local()  # each thread's own connection for the commit of every request
        self._connections: list[Any] = []
        self._connections_lock = threading.Lock()

    def _commit_call(self, args: list[Any]) -> Any:
        """The commit script on this thread's own connection: the per-request path, without the pool's bookkeeping.

        A connection that failed is closed, and opened again by the next command.
        """
        connection = getattr(self._local, "connection", None)
        if connection is None:
            connection = self._local.connection = self._redis.connection_pool.make_connection()
            with self._connections_lock:
                self._connections.append(connection)
        command = ("EVALSHA", self._commit_script.sha, 3, self._versions, self._parts, self._log, *args)
        try:
            try:
                connection.send_command(*command)
                return connection.read_response()
            except self._no_script:  # a Redis that restarted has forgotten it: nothing ran, so load and send again
                connection.send_command("SCRIPT", "LOAD", _COMMIT)
                connection.read_response()
                connection.send_command(*command)
                return connection.read_response()
        except self._errors as exc:
            connection.disconnect()
            raise StoreUnavailable(f"Redis at {self.url} failed to commit: {exc}") from exc

    def _call(self, what: str, function: Any, *args: Any, retry: bool = False, **kwargs: Any) -> Any:
        """One command; a failure is :class:`StoreUnavailable` (a read, which changes nothing, is tried twice)."""
        for attempt in (1, 2):
            try:
                return function(*args, **kwargs)
            except self._errors as exc:
                if retry and attempt == 1:
                    continue  # a connection the Redis restart broke: the pool opens a new one
                raise StoreUnavailable(f"Redis at {self.url} failed to {what}: {exc}") from exc
        raise AssertionError("unreachable")

    def _seen(self, answer: Any) -> Seen:
        versions_flat, texts_flat = answer
        instance = ""
        versions: dict[str, int] = {}
        for part, value in _pairs(versions_flat):
            if part == INSTANCE:
                instance = _text(value)
            else:
                versions[part] = int(value)
        return Seen(instance, versions, {part: _text(value) for part, value in _pairs(texts_flat)})

    def read(self, known: Mapping[str, int], wanted: Iterable[str]) -> Seen | None:
        argv: list[Any] = []
        for part in wanted:
            argv += [part, str(known.get(part, -1))]
        answer = self._call("read", self._read_script, keys=[self._versions, self._parts], args=argv, retry=True)
        return None if answer is None else self._seen(answer)

    def initialize(self, texts: Mapping[str, str]) -> Seen:
        return self._put("fill", texts)

    def replace(self, texts: Mapping[str, str]) -> Seen:
        return self._put("replace", texts)

    def _put(self, mode: str, texts: Mapping[str, str]) -> Seen:
        argv: list[Any] = [mode, secrets.token_hex(8)]
        for part, text in texts.items():
            argv += [part, text]
        answer = self._call(
            f"{mode} the state", self._put_script, keys=[self._versions, self._parts, self._log], args=argv
        )
        return self._seen(answer)

    def commit(self, instance: str, expected: Versions, texts: Texts, records: Sequence[str], log_size: int) -> Outcome:
        argv: list[Any] = [instance, len(expected)]
        for part, version in expected.items():
            argv += [part, str(version)]
        argv.append(len(texts))
        for part, text in texts.items():
            argv += [part, text]
        argv.append(log_size)
        argv.extend(records)
        answer = self._commit_call(argv)
        if answer is None:
            return None
        if answer[0] == 0:
            return self._seen(answer[1:])
        return {part: int(version) for part, version in _pairs(answer[1])}

    def append(self, records: Sequence[str], log_size: int) -> None:
        if len(records) == 1:
            self._call(
                "log a request", self._redis.xadd, self._log, {"r": records[0]}, maxlen=log_size, approximate=False
            )
            return
        pipeline = self._redis.pipeline(transaction=False)
        for record in records:
            pipeline.xadd(self._log, {"r": record}, maxlen=log_size, approximate=False)
        self._call("log requests", pipeline.execute)

    def records(self, after: int = 0, last: int | None = None) -> list[tuple[int, str]]:
        # a record's number is its stream id, MS-N, as MS * 1000 + N (N stays below 1000: a thousand records in
        # one millisecond is beyond any server); ids grow even across a DEL, as the clock does
        if last is not None:
            entries = self._call("read the request log", self._redis.xrevrange, self._log, count=last, retry=True)
            entries.reverse()
            if after:
                entries = [entry for entry in entries if _number(entry[0]) > after]
        else:
            start = f"({after // 1000}-{after % 1000}" if after else "-"
            entries = self._call("read the request log", self._redis.xrange, self._log, min=start, retry=True)
        return [(_number(key), _text(fields[b"r"])) for key, fields in entries]

    def clear_records(self) -> None:
        self._call("clear the request log", self._redis.delete, self._log)

    def close(self) -> None:
        with self._connections_lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            connection.disconnect()
        self._redis.close()
