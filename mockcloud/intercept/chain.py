"""Patches as links in a chain: the shape every interceptor shares.

Whatever is installed at a patch point when a mock starts — the library's
own function, moto's or an outer ``responses``/``respx`` patch, or another
mockcloud link — becomes the *next link*. An interceptor answers what the
emulator claims and hands everything else on to that next link. Stopping
removes our link only if it is still the one in place; if another patch has
since been laid over it, our link stays in that patch's chain and, with no
mock running, simply passes every call on. So a stopped mock's patch is
never put back, and stops may come in any order.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any, ClassVar

from ..core.errors import UnmockedRequestError

_MARK = "__mockcloud_link__"


def resolve(path: str) -> tuple[Any, str]:
    """``"package.module:Class.attribute"`` → (the object holding the attribute, its name)."""
    module_name, _, dotted = path.partition(":")
    owner: Any = importlib.import_module(module_name)
    *parents, attribute = dotted.split(".")
    for name in parents:
        owner = getattr(owner, name)
    return owner, attribute


def is_library_own(function: Any, library: str) -> bool:
    """Whether ``function`` is the client library's own code, not a patch laid over it.

    The next link being the library's own means nothing but the real network
    lies beyond, so a request no service claims is refused there and then.
    """
    if getattr(function, _MARK, None) is not None:
        return False
    function = getattr(function, "__func__", function)
    module = getattr(function, "__module__", None) or ""
    return module == library or module.startswith(library + ".")


class Link:
    """One installed patch: what it replaced and the function that replaced it."""

    __slots__ = ("attribute", "inherited", "next", "owner", "patched")

    def __init__(self, owner: Any, attribute: str, handler: Callable[..., Any]) -> None:
        self.owner, self.attribute = owner, attribute
        self.inherited = attribute not in vars(owner)  # e.g. socket.socket.connect comes from _socket
        self.next = nxt = getattr(owner, attribute)
        patched = (_async_patch if inspect.iscoroutinefunction(handler) else _patch)(handler, nxt)
        patched.__name__ = attribute
        patched.__qualname__ = f"mockcloud[{getattr(owner, '__qualname__', owner)}.{attribute}]"
        patched.__wrapped__ = nxt  # type: ignore[attr-defined]
        setattr(patched, _MARK, self)
        self.patched = patched
        setattr(owner, attribute, patched)

    @property
    def in_place(self) -> bool:
        return vars(self.owner).get(self.attribute) is self.patched

    def remove(self) -> None:
        """Take our link out if it is still the one in place; otherwise leave it as a pass-through."""
        if not self.in_place:
            return
        if self.inherited:
            delattr(self.owner, self.attribute)
        else:
            setattr(self.owner, self.attribute, self.next)


def _patch(handler: Callable[..., Any], nxt: Any) -> Callable[..., Any]:
    def patched(*args: Any, **kwargs: Any) -> Any:
        return handler(nxt, *args, **kwargs)

    return patched


def _async_patch(handler: Callable[..., Any], nxt: Any) -> Callable[..., Any]:
    async def patched(*args: Any, **kwargs: Any) -> Any:
        return await handler(nxt, *args, **kwargs)

    return patched


class Interceptor:
    """A client library's patch points. Subclassing registers it.

    ``library`` is the import name whose presence makes the interceptor worth
    installing; ``patches`` maps each patch point (``"module:Class.attr"``)
    to the name of the handler method, which is called with the next link
    first and then the patched function's own arguments.
    """

    library: ClassVar[str] = ""
    patches: ClassVar[dict[str, str]] = {}
    registry: ClassVar[dict[str, type[Interceptor]]] = {}
    _links: ClassVar[list[Link]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._links = []
        if cls.patches:
            Interceptor.registry[cls.__module__] = cls

    @classmethod
    def install(cls) -> None:
        if cls._links:
            return
        for path, handler in cls.patches.items():
            owner, attribute = resolve(path)
            cls._links.append(Link(owner, attribute, getattr(cls, handler)))

    @classmethod
    def uninstall(cls) -> None:
        while cls._links:
            cls._links.pop().remove()

    @classmethod
    def installed(cls) -> bool:
        return bool(cls._links)


_blocked_types: dict[type, type[UnmockedRequestError]] = {}


def blocked_error(base: type[BaseException], **attributes: Any) -> type[UnmockedRequestError]:
    """The exception a library raises for a refused host: its own connection error, naming the host.

    ``attributes`` are set on each instance (``request=None`` for requests'
    exceptions, say), as the library's own constructor would have.
    """
    cached = _blocked_types.get(base)
    if cached is not None:
        return cached

    def __init__(self: UnmockedRequestError, method: str, url: str, host: str) -> None:
        UnmockedRequestError.__init__(self, method, url, host)
        for name, value in attributes.items():
            setattr(self, name, value)

    name = f"Unmocked{base.__name__}"
    made = type(name, (UnmockedRequestError, base), {"__init__": __init__, "__module__": __name__})
    _blocked_types[base] = made
    return made
