"""The emulated services, by the name users pass to ``mock_cloud(services=[...])``.

Each entry is a package with ``NAME``, ``CLAIMS`` and ``build(context)``;
importing it is cheap, building it happens on the first request it claims.
Its ``sensitive.py`` declares its secret-bearing fields (:mod:`mockcloud.core.redaction`),
read when the request log first redacts something.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import TYPE_CHECKING

from ..core import redaction

if TYPE_CHECKING:
    from ..core.redaction import Sensitive

SERVICE_PACKAGES: dict[str, str] = {
    "licensemanager": "mockcloud.services.licensemanager",
    "devpay": "mockcloud.services.devpay",
    "wuying": "mockcloud.services.wuying",
    "amplifyuibuilder": "mockcloud.services.amplifyuibuilder",
    "userapi": "mockcloud.services.userapi",
    "sts": "mockcloud.services.sts",
}


def load(name: str) -> ModuleType:
    return importlib.import_module(SERVICE_PACKAGES[name])


def _sensitive() -> dict[str, Sensitive]:
    """Each service's declared secret-bearing fields (``services/<name>/sensitive.py``; a package may have none)."""
    import importlib.util

    found: dict[str, Sensitive] = {}
    for name, package in SERVICE_PACKAGES.items():
        module_name = f"{package}.sensitive"
        try:
            present = importlib.util.find_spec(module_name) is not None
        except ModuleNotFoundError:  # the package itself is gone
            present = False
        if present:
            found[name] = importlib.import_module(module_name).SENSITIVE
    return found


redaction.add_source(_sensitive, lambda: tuple(SERVICE_PACKAGES.items()))
