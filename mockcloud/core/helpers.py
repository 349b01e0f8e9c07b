"""A service handle's public surface, for callers that are not Python objects in this process.

Every public method and property of a service's model (``cloud.<service>``)
is a helper: the admin API lists and calls them over HTTP
(``/_mockcloud/services/<service>/<name>``), and :func:`mockcloud.connect`'s
remote handle calls them the same way. Properties, and methods marked
:func:`reads_only`, only read state, so they may also answer GET.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
_READS_ONLY = "__mockcloud_reads_only__"


def reads_only(function: F) -> F:
    """Mark a model method that only reads state: over HTTP it may answer GET too."""
    setattr(function, _READS_ONLY, True)
    return function


@dataclass(frozen=True)
class Helper:
    name: str
    kind: str  # "method", "property" or "attribute" (the instance's own public data)
    parameters: tuple[dict[str, Any], ...]
    doc: str
    reads_only: bool

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "parameters": list(self.parameters),
            "doc": self.doc,
            "reads_only": self.reads_only,
        }


_by_class: dict[type, dict[str, Helper]] = {}


def helpers(model: object) -> dict[str, Helper]:
    """The public methods and properties of ``model``'s class (worked out once per class), and its public data."""
    cls = type(model)
    found = _by_class.get(cls)
    if found is None:
        found = _by_class[cls] = _helpers_of(cls)
    data = {
        name: Helper(name, "attribute", (), "", True)
        for name, value in vars(model).items()
        if not name.startswith("_") and name not in found and not callable(value)
    }
    return {**found, **data} if data else found


def _helpers_of(cls: type) -> dict[str, Helper]:
    found: dict[str, Helper] = {}
    for name, member in inspect.getmembers(cls):
        if name.startswith("_"):
            continue
        doc = (inspect.getdoc(member) or "").strip().split("\n", 1)[0]
        if isinstance(member, property):
            found[name] = Helper(name, "property", (), doc, True)
        elif inspect.isfunction(member):
            try:
                parameters = list(inspect.signature(member).parameters.values())[1:]  # without self
            except (TypeError, ValueError):
                continue
            found[name] = Helper(
                name, "method", tuple(_parameter(p) for p in parameters), doc, bool(getattr(member, _READS_ONLY, False))
            )
    return found


def call(model: object, helper: Helper, arguments: dict[str, Any]) -> Any:
    """Call a helper with keyword arguments; a wrong argument raises ``TypeError`` before the call."""
    if helper.kind != "method":
        if arguments:
            raise TypeError(f"{helper.name} is a {helper.kind}: it takes no arguments")
        return getattr(model, helper.name)
    method = getattr(model, helper.name)
    bound = inspect.signature(method).bind(**arguments)
    return method(*bound.args, **bound.kwargs)


def _parameter(parameter: inspect.Parameter) -> dict[str, Any]:
    described: dict[str, Any] = {"name": parameter.name, "kind": parameter.kind.name.lower()}
    if parameter.default is not inspect.Parameter.empty:
        from .jsonform import dump

        described["default"] = dump(parameter.default)
    if parameter.annotation is not inspect.Parameter.empty:
        annotation = parameter.annotation
        described["annotation"] = (
            annotation if isinstance(annotation, str) else getattr(annotation, "__name__", repr(annotation))
        )
    return described
