"""AWS Amplify UI Builder (REST-JSON, SigV4): Figma token exchange and refresh, with Figma's ``/v1/me``.

Routes: Amplify UI Builder's hosts and SigV4 signing name, Figma's host
``api.figma.com``, and on the standalone server (under its own host) the
path ``/v1/me``, so a Figma client pointed at the server reaches Figma's side.
In-process that path is never claimed on other hosts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import AmplifyUIBuilderProtocol

NAME = "amplifyuibuilder"
CLAIMS = Claims(
    hosts=("api.figma.com",),
    host_labels=(("amplifyuibuilder", "amazonaws.com"), ("amplifyuibuilder", "amazonaws.com.cn")),
    signing_names=("amplifyuibuilder",),
    server_path_prefixes=("/v1/me",),
)


def build(context: ServiceContext) -> AmplifyUIBuilderProtocol:
    from .model import AmplifyUIBuilderModel
    from .protocol import AmplifyUIBuilderProtocol

    return AmplifyUIBuilderProtocol(context, AmplifyUIBuilderModel(context))
