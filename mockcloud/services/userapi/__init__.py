"""The generic User API (``/User/Login``, ``/User/RefreshToken``, ...): JSON over HTTPS, JWT bearer tokens.

Vendors ship it under their own base URL, so it is *mounted*: each mount is a
base URL with its own users, signing key and settings. In-process a mount
answers on its host (the longest mounted path prefix wins); through the
standalone server it answers under the server's own host at the mount's path
(``http://127.0.0.1:4566/api/User/Login`` for ``https://vendor.example/api``),
and always at the host-qualified path (``/vendor.example/api/User/Login``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ...core.errors import MockCloudError
from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import UserApiProtocol

NAME = "userapi"
OPERATIONS_PATH = "/User/"


def split_base_url(base_url: str) -> tuple[str, str]:
    """``(host, path)`` of a mount: lower-case host name without port, path without a trailing slash."""
    if not isinstance(base_url, str):
        raise MockCloudError(f"a base URL must be a string, not {base_url!r}")
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise MockCloudError(
            f"{base_url!r} is not a base URL to mount the User API at: use http(s)://host[:port][/path], "
            "without query or fragment"
        )
    return parts.hostname.lower(), unquote(parts.path).rstrip("/")


def mount_claims(base_url: str) -> Claims:
    """The routes of one mount: its host in-process, its plain and host-qualified paths on the server."""
    host, path = split_base_url(base_url)
    return Claims(hosts=(host,), server_path_prefixes=(path + OPERATIONS_PATH, f"/{host}{path}{OPERATIONS_PATH}"))


CLAIMS = None  # the routes are the mounts', from the model's state (UserApiModel.claims)


def build(context: ServiceContext) -> UserApiProtocol:
    from .model import UserApiModel
    from .protocol import UserApiProtocol

    return UserApiProtocol(context, UserApiModel(context))
