"""The emulated services, by the name users pass to ``mock_cloud(services=[...])``.

Each entry is a package with ``NAME``, ``CLAIMS`` and ``build(context)``;
importing it is cheap, building it happens on the first request it claims.
"""

from __future__ import annotations

import importlib
from types import ModuleType

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
