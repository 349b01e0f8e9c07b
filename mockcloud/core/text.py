"""Text from clients, made safe to parse and to echo.

- ``str.isdigit`` is true for ``²`` and ``١``, which ``int`` then refuses or
  reads as another number: protocol fields are ASCII digits, so
  :func:`is_ascii_digits` is the test to use before ``int()``.
- XML 1.0 forbids most control characters (and lone surrogates) even when
  escaped, so any client text echoed in an XML reply goes through
  :func:`xml_escape` (or :func:`xml_safe` where a library escapes).
- A log line shows client text (a request target, an operation name, a
  server's error message) on someone's terminal: :func:`printable` escapes
  the characters that would move the cursor, recolour the screen, start a
  new line or reorder the text around them.
"""

from __future__ import annotations

import re

__all__ = ["is_ascii_digits", "printable", "xml_escape", "xml_safe"]

# XML 1.0 §2.2 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF]
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def is_ascii_digits(text: str) -> bool:
    """Whether ``text`` is one or more of 0-9 (and nothing ``int`` would read differently)."""
    return text.isascii() and text.isdigit()


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot carry replaced by U+FFFD."""
    return text if text.isascii() and text.isprintable() else _NOT_XML_CHAR.sub("\ufffd", text)


def xml_escape(text: str) -> str:
    """``text`` as XML character data: ``&``, ``<``, ``>`` escaped, forbidden characters replaced."""
    # as xml.sax.saxutils.escape does, which is not imported for it: it imports urllib.request (~15 ms)
    return xml_safe(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# C0 and C1 controls and DEL (ESC starts terminal sequences, U+009B is CSI), the line and paragraph
# separators, and the bidirectional formatting characters that reorder what a reader sees around them
_UNPRINTABLE = {
    code: f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    for code in (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A))
}


def printable(text: str) -> str:
    """``text`` fit for one log line: control characters written as ``\\xNN`` (``\\x1b``, ``\\x0a``), the rest kept."""
    return text if text.isascii() and text.isprintable() else text.translate(_UNPRINTABLE)
