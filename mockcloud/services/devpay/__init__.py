"""Amazon DevPay License Service (ls.amazonaws.com, API 2008-04-28): AWS Query and SOAP, signature versions 0-2."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import DevpayProtocol

NAME = "devpay"
CLAIMS = Claims(
    hosts=("ls.amazonaws.com",),
    api_versions=("2008-04-28", "2007-12-01"),
    # server mode: SOAP requests carry no Version, so they go to http://127.0.0.1:4566/devpay/
    server_path_prefixes=("/devpay",),
)


def build(context: ServiceContext) -> DevpayProtocol:
    from .model import DevpayModel
    from .protocol import DevpayProtocol

    return DevpayProtocol(context, DevpayModel(context))
