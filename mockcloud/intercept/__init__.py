"""Interception: translate each client family's request into the one application's input.

Interceptors hold no service logic. They are installed when the first mock
starts and removed when the last one stops (see :mod:`.chain` for how they
live beside other mocks). A request goes to the mock its thread started,
or, from a thread that started none (a test's pool workers), to the
innermost active mock.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import io
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from ..core.app import OTHERS_ANSWER
from ..core.errors import NotEmulatedError, UnmockedRequestError
from ..core.request import Reply, build_environ
from .chain import Interceptor, is_library_own

if TYPE_CHECKING:
    from importlib.machinery import ModuleSpec
    from types import ModuleType

    from ..core.app import Application

# module name -> the client library whose presence makes it worth installing. The guard
# (socket level) comes last: it is the chain's final link, under every client library.
INTERCEPTORS = {
    "mockcloud.intercept.botocore_send": "botocore",
    "mockcloud.intercept.requests_adapter": "requests",
    "mockcloud.intercept.stdlib_http": "http.client",
    "mockcloud.intercept.aiohttp_connector": "aiohttp",
    "mockcloud.intercept.httpx_transport": "httpx",
    "mockcloud.intercept.urllib3_pool": "urllib3",
    "mockcloud.intercept.aiobotocore_send": "aiobotocore.endpoint",
    "mockcloud.intercept.aliyun_vendored": "aliyunsdkcore.vendored.requests",
    "mockcloud.intercept.guard": "socket",
}


class ActiveMock(Protocol):
    def allows_passthrough(self, host: str) -> bool: ...

    @property
    def app(self) -> Application: ...

    @property
    def allow_loopback(self) -> bool: ...

    @property
    def strict(self) -> bool: ...


_stack: list[ActiveMock] = []  # every active mock, innermost last
_by_thread: dict[int, list[ActiveMock]] = {}  # the mocks each thread started
_installed: list[type[Interceptor]] = []
_lock = threading.RLock()
_get_ident = threading.get_ident


def current() -> ActiveMock | None:
    """The mock this thread started last, else the innermost active mock."""
    own = _by_thread.get(_get_ident())
    if own:
        return own[-1]
    return _stack[-1] if _stack else None


def push(mock: ActiveMock) -> None:
    with _lock:
        if not _stack:
            _install()
        _stack.append(mock)
        _by_thread.setdefault(_get_ident(), []).append(mock)


def pop(mock: ActiveMock) -> None:
    with _lock:
        _remove(_stack, mock)
        for ident, mocks in list(_by_thread.items()):
            if _remove(mocks, mock) and not mocks:
                del _by_thread[ident]
        if not _stack:
            _uninstall()


def _remove(mocks: list[ActiveMock], mock: ActiveMock) -> bool:
    for i in range(len(mocks) - 1, -1, -1):
        if mocks[i] is mock:
            del mocks[i]
            return True
    return False


_present: dict[str, bool] = {}  # is this library installed at all? asked once per process


def _is_installed(library: str) -> bool:
    top = library.partition(".")[0]
    present = _present.get(top)
    if present is None:
        present = _present[top] = importlib.util.find_spec(top) is not None
    return present


def _install() -> None:
    pending = {}
    for module_name, library in INTERCEPTORS.items():
        if library in sys.modules:
            _install_one(module_name)
        elif _is_installed(library):
            pending[library] = module_name  # installed but not imported: patch it when it is
    if pending:
        _hook.watch(pending)


def _install_one(module_name: str) -> None:
    importlib.import_module(module_name)
    interceptor = Interceptor.registry[module_name]
    interceptor.install()
    _installed.append(interceptor)


def _uninstall() -> None:
    _hook.watch({})
    while _installed:
        _installed.pop().uninstall()
    from . import misbehave

    misbehave.stop()


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Patches a client library the moment it is imported while a mock runs.

    So a mock never imports a library the test does not use, and a library
    first imported inside the mock is caught all the same.
    """

    def __init__(self) -> None:
        self.pending: dict[str, str] = {}

    def watch(self, pending: dict[str, str]) -> None:
        self.pending = dict(pending)
        if self.pending and self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        elif not self.pending and self in sys.meta_path:
            sys.meta_path.remove(self)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname not in self.pending:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _ThenPatch(spec.loader, self, fullname)
        return spec

    def loaded(self, fullname: str) -> None:
        with _lock:
            module_name = self.pending.pop(fullname, None)
            if module_name is not None and _stack:
                _install_one(module_name)
            if not self.pending:
                self.watch({})


class _ThenPatch(importlib.abc.Loader):
    def __init__(self, loader: Any, hook: _PatchOnImport, fullname: str) -> None:
        self._loader, self._hook, self._fullname = loader, hook, fullname

    def create_module(self, spec: ModuleSpec) -> ModuleType | None:
        module: ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._hook.loaded(self._fullname)

    def __getattr__(self, name: str) -> Any:  # get_resource_reader, is_package, ... of the real loader
        return getattr(self._loader, name)


_hook = _PatchOnImport()


def answer(
    method: str,
    url: str,
    headers: Any,
    body: Any,
    blocked: type[UnmockedRequestError] | None = UnmockedRequestError,
    *,
    next_link: Any = None,
    library: str = "",
    others_answer: bool | None = None,
    timeout: float | None = None,
    timed_out: Callable[[], Exception] | None = None,
    wait: bool = True,
) -> Reply | None:
    """The emulator's reply, or None when the request is not the emulator's to answer.

    Under a strict mock, an operation the service's model declares and mockcloud does not
    emulate raises :class:`~mockcloud.core.errors.NotEmulatedError` here, through the client.

    None means: hand it on to the next link (a passthrough host, or a host no
    service claims while another mock lies beyond). A host no service claims
    with only the library's own code beyond (``next_link`` is ``library``'s
    own, or no ``next_link`` is given) raises ``blocked``, the client
    family's own exception type; ``blocked=None`` always hands it on (a link
    further down decides). ``others_answer`` says whether another mock lies
    beyond when ``next_link`` cannot tell (botocore's before-send handlers). Injected latency is waited out here
    (``wait``), and a client read ``timeout`` shorter than it raises
    ``timed_out()`` after ``timeout`` seconds, as a silent server would make
    the client do; async interceptors pass ``wait=False`` and wait in their
    own loop.
    """
    mock = current()
    if mock is None:
        return None
    stream = None
    if body is None:
        body = b""
    elif isinstance(body, str):
        body = body.encode("utf-8")
    elif not isinstance(body, (bytes, bytearray)):
        stream, body = LazyBody(body), b""
    environ = build_environ(method, url, headers, bytes(body))
    if others_answer is None:
        others_answer = next_link is not None and not is_library_own(next_link, library)
    if others_answer:
        environ[OTHERS_ANSWER] = True  # a service emulated in part may leave a request to that mock
    if stream is not None:  # read only if the request turns out to be ours (routing rarely needs the body)
        environ["wsgi.input"], environ["wsgi.input_terminated"] = stream, True
        del environ["mockcloud.body"], environ["CONTENT_LENGTH"]
    host = environ["SERVER_NAME"]
    if mock.allows_passthrough(host):
        return None
    reply = mock.app.handle_environ(environ)
    missing = reply.not_emulated
    if missing is not None and mock.strict:  # fail the test at the call, whatever the client makes of a 501
        raise NotEmulatedError(missing.service, missing.operation, missing.message)
    if reply.unclaimed:
        if blocked is not None and not others_answer:
            raise blocked(method, url, host)
        return None
    if reply.delay and wait:
        wait_for(reply, timeout, timed_out)
    return reply


def refuse_unless_passed(
    next_link: Any, library: str, method: str, url: str, host: str, blocked: type[UnmockedRequestError]
) -> None:
    """For a last link below the emulator: refuse what reached it when only the real network lies beyond."""
    mock = current()
    if mock is not None and not mock.allows_passthrough(host) and is_library_own(next_link, library):
        raise blocked(method, url, host)


def wait_for(reply: Reply, timeout: float | None, timed_out: Callable[[], Exception] | None) -> None:
    if timeout is not None and timed_out is not None and reply.delay > timeout:
        time.sleep(timeout)
        raise timed_out()
    time.sleep(reply.delay)


async def async_wait_for(reply: Reply, timeout: float | None, timed_out: Callable[[], Exception] | None) -> None:
    import asyncio

    if timeout is not None and timed_out is not None and reply.delay > timeout:
        await asyncio.sleep(timeout)
        raise timed_out()
    await asyncio.sleep(reply.delay)


def read_timeout(timeout: object) -> float | None:
    """The read part of a client's timeout setting: a number, a (connect, read) pair, or an object."""
    if timeout is None or isinstance(timeout, (int, float)):
        return timeout
    if isinstance(timeout, tuple):
        read: float | None = timeout[1] if len(timeout) > 1 else timeout[0]  # (connect, read) or (both,)
        return read
    for attribute in ("read_timeout", "read", "total"):
        value = getattr(timeout, attribute, None)
        if isinstance(value, (int, float)):
            return value
    return None


class LazyBody(io.RawIOBase):
    """A client's streamed body as ``wsgi.input``: read when the emulator needs it, and left rewound.

    So a request handed on to the next link (moto, the network) still has
    its whole body, and a large upload nobody claims is never read here.
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self._source = source
        self._data: io.BytesIO | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._data is None:
            self._data = io.BytesIO(_read_body(self._source))
        return self._data.readinto(buffer)


def _read_body(body: Any) -> bytes:
    if hasattr(body, "read"):
        position = body.tell() if hasattr(body, "tell") else 0
        data = body.read()
        if hasattr(body, "seek"):  # botocore's streams rewind for retries the same way
            body.seek(position)
        return data.encode() if isinstance(data, str) else data
    return b"".join(chunk.encode() if isinstance(chunk, str) else chunk for chunk in body)
