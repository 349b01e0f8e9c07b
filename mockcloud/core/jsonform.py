"""Handle values as JSON and back: the documented forms of what JSON has no type for.

What the service handles return (dataclasses, bytes, datetimes, keys) goes
over HTTP as JSON (``/_mockcloud/services/...``) and comes back as the same
kinds of value in :func:`mockcloud.connect`'s remote handle:

- ``bytes`` → ``{"$bytes": "<base64>"}``
- ``datetime`` → ``{"$datetime": "<ISO-8601>"}``
- a public key → ``{"$public_key": "<PEM>"}``; a private key → ``{"$private_key": "<PEM>"}``;
  an X.509 certificate → ``{"$certificate": "<PEM>"}``
- a ``str`` that carries fields → ``{"$type": ..., "$value": "<the text>", <field>: ...}``
- a dataclass (or another object) → ``{"$type": "<class name>", <field>: <value>, ...}``,
  read back as an :class:`Record` (attribute access, read-only); fields declared
  ``repr=False`` (password hashes, salts) are kept back
- an ``Enum`` → its value; tuples and sets → lists; dict keys → strings.
"""

from __future__ import annotations

import base64
import dataclasses
import math
from collections.abc import Mapping
from datetime import datetime
from enum import Enum
from typing import Any


class Record:
    """A value that was an object on the other side: its fields as attributes."""

    __slots__ = ("_fields", "_type")

    def __init__(self, type_name: str, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_fields", fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(f"{self._type} has no field {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(
            f"{self._type} is a copy of the server's state: change it with a helper, not by assignment"
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Record) and (self._type, self._fields) == (other._type, other._fields)

    def __hash__(self) -> int:
        return hash((self._type, tuple(sorted(self._fields))))

    def __repr__(self) -> str:
        inside = ", ".join(f"{k}={v!r}" for k, v in self._fields.items())
        return f"{self._type}({inside})"

    def as_dict(self) -> dict[str, Any]:
        return dict(self._fields)


class TextRecord(str):
    """A text that carried fields on the other side (DevPay's activation keys are such ``str``)."""

    _type: str  # the type's name on the other side (``$type``)

    def __new__(cls, text: str, type_name: str, fields: dict[str, Any]) -> TextRecord:
        made = super().__new__(cls, text)
        made.__dict__.update(fields)
        made._type = type_name
        return made


def dump(value: Any) -> Any:
    """``value`` in its JSON form (see the module's documentation)."""
    if isinstance(value, str) and type(value) is not str and getattr(value, "__dict__", None):
        fields = {k: dump(v) for k, v in vars(value).items() if not k.startswith("_")}
        return {"$type": getattr(value, "_type", type(value).__name__), "$value": str(value), **fields}
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, (bytes, bytearray, memoryview)):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, Enum):
        return dump(value.value)
    if isinstance(value, Mapping):  # a dict, or a model's view of its records (a mount's sessions)
        return {str(k): dump(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [dump(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    key = _key_form(value)
    if key is not None:
        return key
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value) if f.repr
        }  # repr=False: kept back
        return {"$type": type(value).__name__, **fields}
    if isinstance(value, Record):
        return {"$type": value._type, **{k: dump(v) for k, v in value._fields.items()}}
    if hasattr(value, "__dict__"):
        public = {k: dump(v) for k, v in vars(value).items() if not k.startswith("_")}
        return {"$type": type(value).__name__, **public}
    return {"$repr": repr(value)}


def load(value: Any) -> Any:
    """The value a JSON form stands for (see the module's documentation)."""
    if isinstance(value, list):
        return [load(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == "$bytes":
            return base64.b64decode(inner)
        if tag == "$datetime":
            return datetime.fromisoformat(inner)
        if tag == "$float":
            return float(inner)
        if tag in ("$public_key", "$private_key"):
            from cryptography.hazmat.primitives import serialization

            data = inner.encode("ascii")
            if tag == "$public_key":
                return serialization.load_pem_public_key(data)
            return serialization.load_pem_private_key(data, password=None)
        if tag == "$certificate":
            from cryptography import x509

            return x509.load_pem_x509_certificate(inner.encode("ascii"))
        if tag == "$repr":
            return inner
    if "$type" in value:
        fields = {k: load(v) for k, v in value.items() if k not in ("$type", "$value")}
        if "$value" in value:
            return TextRecord(value["$value"], value["$type"], fields)
        return Record(value["$type"], fields)
    return {k: load(v) for k, v in value.items()}


def _key_form(value: Any) -> dict[str, str] | None:
    """A cryptography key as PEM, if ``value`` is one (imported only when a value might be)."""
    module = type(value).__module__
    if not module.startswith("cryptography."):
        return None
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if isinstance(value, x509.Certificate):
        return {"$certificate": value.public_bytes(serialization.Encoding.PEM).decode("ascii")}
    if hasattr(value, "private_bytes"):
        pem = value.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {"$private_key": pem.decode("ascii")}
    if hasattr(value, "public_bytes"):
        pem = value.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return {"$public_key": pem.decode("ascii")}
    return None
