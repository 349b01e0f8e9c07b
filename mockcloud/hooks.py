"""What the mock asks of the layers above it, filled in by the package's face (``mockcloud/__init__.py``).

The mock sits below the server, yet ``cloud.dashboard()`` serves the mock
with the server's machinery; so the mock reaches it through this hook, which
``import mockcloud`` (always run before any of its modules) fills, rather
than by importing the server.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# (cloud) -> a started server of its dashboard and admin API, with ``.url`` and ``.stop()``
serve_dashboard: Callable[[Any], Any] | None = None
