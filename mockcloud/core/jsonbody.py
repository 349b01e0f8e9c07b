"""JSON from untrusted bytes: strict UTF-8, I-JSON strings, bounded nesting and number size.

Every JSON document a client controls (a request body, a pagination token, a
token's payload) is read here, so a hostile one fails as a :class:`BadJson`
that each protocol words as its own client error, and nothing deeper in the
request path meets a value it cannot handle:

- bytes must be UTF-8 (RFC 8259 §8.1); ``json.loads`` would guess UTF-16/32
  and pass lone surrogates encoded in the bytes through;
- strings must not hold lone surrogates (I-JSON, RFC 7493 §2.1): escaped ones
  (``"\\ud800"``) decode fine in Python but cannot be encoded again, so they
  break every later ``str.encode`` (constant-time comparisons, replies);
- nesting is at most :data:`MAX_DEPTH` levels, well below the recursion limit
  of validation and rendering (``json.loads`` alone fails at ~1000 with a
  ``RecursionError``);
- ``NaN``/``Infinity`` (not JSON) are refused, and so are numbers of more
  than :data:`MAX_NUMBER_DIGITS` digits (Python 3.10 would parse a megabyte
  of digits in quadratic time; 3.11+ caps them at 4300 anyway).

The checks cost nothing for the usual small body: the nesting walk and the
surrogate scan only run when the bytes could hold a problem.
"""

from __future__ import annotations

import json
import re
from typing import Any, NoReturn

__all__ = ["MAX_DEPTH", "MAX_NUMBER_DIGITS", "BadJson", "loads"]

MAX_DEPTH = 64
MAX_NUMBER_DIGITS = 400
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class BadJson(ValueError):
    """The text is not a JSON document this emulator accepts; ``str()`` says why."""


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BadJson(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise BadJson(f"a number has more than {MAX_NUMBER_DIGITS} digits")
    return float(text)


def _constant(name: str) -> NoReturn:
    raise BadJson(f"{name} is not a JSON value")


_decoder = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def loads(data: bytes | str) -> Any:
    """The JSON value of ``data``, or :class:`BadJson`."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BadJson("the document is not UTF-8") from None
    else:
        text = data
    try:
        value = _decoder.decode(text)
    except BadJson:
        raise
    except RecursionError:
        raise BadJson(f"the document is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:  # JSONDecodeError, and int()'s own digit limit
        raise BadJson(f"the document is not valid JSON: {exc}") from None
    brackets = text.count("[") + text.count("{")
    escapes = "\\u" in text
    if brackets > MAX_DEPTH or escapes:
        _inspect(value, check_depth=brackets > MAX_DEPTH, check_strings=escapes)
    return value


def _inspect(value: Any, *, check_depth: bool, check_strings: bool) -> None:
    """Walk the value (without recursion) for nesting and lone surrogates."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if check_depth and depth > MAX_DEPTH:
                raise BadJson(f"the document is nested more than {MAX_DEPTH} levels deep")
            for key, member in item.items():
                if check_strings and _LONE_SURROGATE.search(key):
                    raise BadJson("a string holds a lone surrogate (\\ud800-\\udfff)")
                stack.append((member, depth + 1))
        elif isinstance(item, list):
            if check_depth and depth > MAX_DEPTH:
                raise BadJson(f"the document is nested more than {MAX_DEPTH} levels deep")
            stack.extend((member, depth + 1) for member in item)
        elif check_strings and isinstance(item, str) and _LONE_SURROGATE.search(item):
            raise BadJson("a string holds a lone surrogate (\\ud800-\\udfff)")
