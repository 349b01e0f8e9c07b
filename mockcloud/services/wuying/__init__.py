"""Alibaba Cloud WUYING Workspace (ecd 2020-10-02, RPC): client logon tokens."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import WuyingProtocol

NAME = "wuying"
API_VERSION = "2020-10-02"
CLAIMS = Claims(
    # ecd.<region>.aliyuncs.com for every region the SDK knows (and ecd-vpc.<region>... for network="vpc")
    host_labels=(("ecd", "aliyuncs.com"), ("ecd-vpc", "aliyuncs.com")),
    api_versions=(API_VERSION,),
)


def build(context: ServiceContext) -> WuyingProtocol:
    from .model import WuyingModel
    from .protocol import WuyingProtocol

    return WuyingProtocol(context, WuyingModel(context))
