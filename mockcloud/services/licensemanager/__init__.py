"""AWS License Manager (JSON 1.1, SigV4): licenses and the token lifecycle."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import LicenseManagerProtocol

NAME = "licensemanager"
CLAIMS = Claims(
    host_labels=(("license-manager", "amazonaws.com"), ("license-manager", "amazonaws.com.cn")),
    signing_names=("license-manager",),
    target_prefixes=("AWSLicenseManager",),
)


def build(context: ServiceContext) -> LicenseManagerProtocol:
    from .model import LicenseManagerModel
    from .protocol import LicenseManagerProtocol

    return LicenseManagerProtocol(context, LicenseManagerModel(context))
