"""What the server writes on a terminal, with client text in it, escaped.

A request target, an operation name or an error message comes from a client;
written raw, its ESC and CSI bytes would recolour or rewrite the operator's
terminal and its line breaks would forge log lines. Every record of the
``mockcloud`` and ``waitress`` loggers goes through :class:`EscapeControls`
(installed by :func:`escape_logs` when a server is made), and the lines the
server and the CLI print go through :func:`~mockcloud.core.text.printable`.
"""

from __future__ import annotations

import logging

from ..core.text import printable

LOGGERS = ("mockcloud", "waitress")


class EscapeControls(logging.Filter):
    """Each record's message and traceback with :func:`~mockcloud.core.text.printable` text.

    The message is formatted here once (its arguments are often a client's
    path or operation); a traceback keeps its own line breaks, and nothing else.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = printable(message)
        if safe != message or record.args:
            record.msg, record.args = safe, ()
        if record.exc_info and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = "\n".join(printable(line) for line in text.split("\n"))
        return True


def escape_logs(names: tuple[str, ...] = LOGGERS) -> None:
    """Put :class:`EscapeControls` on the loggers ``names``, once each."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, EscapeControls) for existing in logger.filters):
            logger.addFilter(EscapeControls())
