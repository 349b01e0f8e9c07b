"""Which fields hold secrets: one declaration per service, beside its model, and the protocols' own.

The request log redacts by these lists alone: the targets it records (and
so the admin API and the dashboard's request list), each record's headers
and bodies (the dashboard's request detail), and ``--verbose``. A service
declares its list in ``services/<name>/sensitive.py``::

    SENSITIVE = Sensitive(
        "Password",       # members, parameters, XML elements and headers whose whole value is a secret
        "QrCodePng",      # derived forms too: a QR code of a secret is the secret
        patterns=(r"\\{UserToken\\}(?P<secret>[A-Za-z0-9+/=]+)",),  # a secret's shape wherever it stands
        not_secret=("TokenId",),  # named like a secret, but an identifier (for the completeness test)
    )

A name matches however a protocol spells it: case, ``_``, ``-`` and ``.``
do not count (``RefreshToken``, ``refresh_token``, ``refreshToken``), nor a
namespace prefix (``wsse:Password``) or a list's index and ``member``
(``AdditionalTokens.1``, ``Tokens.member.2``). A record of one service is
redacted by that service's list and the protocols'; a request no declared
service answered (or a ``--verbose`` line, printed before the routing is
known) by every service's list.

What the protocols themselves carry (signatures, security tokens, the admin
token) is declared here, in :data:`PROTOCOLS`; a pattern with a group named
``secret`` replaces that group only, else the whole match.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import re

__all__ = ["PROTOCOLS", "Rules", "Sensitive", "add_source", "declarations", "field_key", "rules"]

_INDEX_WORDS = frozenset({"member", "entry"})


def field_key(name: str) -> str:
    """The form a field name is compared in: ``AdditionalTokens.1`` → ``additionaltokens``, ``wsse:Password``
    → ``password``, ``X-Amz-Security-Token`` → ``xamzsecuritytoken``."""
    if "%" in name or "+" in name:
        from urllib.parse import unquote_plus

        name = unquote_plus(name)
    name = name.rpartition(":")[2]
    if "." in name:
        parts = [part for part in name.split(".") if part and not part.isdigit() and part.lower() not in _INDEX_WORDS]
        name = parts[-1] if parts else name
    return "".join(c for c in name.lower() if c.isalnum())


class Sensitive:
    """One service's (or the protocols') secret-bearing fields. See the module's docstring."""

    __slots__ = ("fields", "not_secret", "patterns")

    def __init__(self, *fields: str, patterns: Iterable[str] = (), not_secret: Iterable[str] = ()) -> None:
        self.fields = frozenset(fields)
        self.patterns = tuple(patterns)
        self.not_secret = frozenset(not_secret)
        both = {field_key(name) for name in self.fields} & {field_key(name) for name in self.not_secret}
        if both:
            raise ValueError(f"declared both secret and not secret: {sorted(both)}")

    def keys(self) -> frozenset[str]:
        return frozenset(field_key(name) for name in self.fields)

    def __repr__(self) -> str:
        return f"Sensitive({', '.join(sorted(self.fields))})"


# what the wire protocols carry, whatever the service: request signatures (a signature is replayable
# while its time stamp is fresh), temporary credentials' session tokens, mockcloud's own admin token.
# Authorization and cookies are redacted by their own rules (the scheme and key id stay).
PROTOCOLS = Sensitive(
    "Signature",  # AWS Query v0/v1/v2 (DevPay), Alibaba RPC, the Signature= of an Authorization header
    "X-Amz-Signature",  # a SigV4 presigned URL
    "X-Amz-Security-Token",  # header and query parameter
    "SecurityToken",  # Alibaba RPC's STS token parameter
    "X-Acs-Security-Token",
    "SignatureValue",  # XML-DSig (WS-Security)
    "X-Mockcloud-Admin-Token",
    patterns=(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_.-]*",),  # a JWT anywhere (or cut short after its header)
    not_secret=(
        "SignatureMethod",
        "SignatureVersion",
        "SignatureType",
        "SignatureNonce",
        "SignedHeaders",
        "X-Acs-Signature-Nonce",
        "X-Acs-Signature-Method",
        "X-Acs-Signature-Version",
    ),
)


class Rules:
    """What one record is redacted by: field keys (:func:`field_key` form) and secret shapes."""

    __slots__ = ("keys", "patterns")

    def __init__(self, keys: frozenset[str], patterns: tuple[re.Pattern[str], ...]) -> None:
        self.keys = keys
        self.patterns = patterns


# each source: (the declarations by service name, a value that changes when they may have: a registry's contents)
_sources: list[tuple[Callable[[], Mapping[str, Sensitive]], Callable[[], object]]] = []
_cache: dict[object, tuple[dict[str, Rules], Rules]] = {}


def add_source(source: Callable[[], Mapping[str, Sensitive]], version: Callable[[], object] = lambda: None) -> None:
    """Register where the services' declarations come from (the services' registry does, at import);
    they are read again whenever ``version()`` changes."""
    _sources.append((source, version))
    _cache.clear()


def declarations() -> dict[str, Sensitive]:
    """Every service's declaration, by service name."""
    found: dict[str, Sensitive] = {}
    for source, _ in _sources:
        found.update(source())
    return found


def _rules_of(*declared: Sensitive) -> Rules:
    import re

    keys = frozenset().union(*(one.keys() for one in declared))
    return Rules(keys, tuple(re.compile(pattern) for one in declared for pattern in one.patterns))


def rules(service: str | None = None) -> Rules:
    """The rules for a record of ``service``: the protocols' and that service's declarations. For a request
    no declared service answered (unrouted, or ``--verbose``, which prints before it knows), every service's."""
    key = tuple(version() for _, version in _sources)
    built = _cache.get(key)
    if built is None:
        every = declarations()
        by_service = {name: _rules_of(PROTOCOLS, declared) for name, declared in every.items()}
        built = (by_service, _rules_of(PROTOCOLS, *every.values()))
        _cache.clear()
        _cache[key] = built
    by_service, union = built
    return by_service.get(service, union) if service is not None else union
