"""AWS Security Token Service (AWS Query, SigV4): all its operations, over IAM's identities and policies.

It is the mock's identity authority (``IDENTITY_AUTHORITY``): the roles, users and sessions it keeps are
what the AWS front door evaluates every signed call of every AWS service against.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.router import Claims
from ...core.service import ServiceContext

if TYPE_CHECKING:
    from .protocol import StsProtocol

NAME = "sts"
IDENTITY_AUTHORITY = True
CLAIMS = Claims(
    # sts.amazonaws.com (the global endpoint) and sts.<region>.amazonaws.com, sts-fips.<region>.amazonaws.com
    host_labels=(("sts", "amazonaws.com"), ("sts", "amazonaws.com.cn"), ("sts-fips", "amazonaws.com")),
    # each account's outbound identity issuer (GetWebIdentityToken): its OIDC discovery document and JWKS
    subdomains_of=("tokens.sts.global.api.aws",),
    signing_names=("sts",),
    api_versions=("2011-06-15",),  # AssumeRoleWithWebIdentity is unsigned: Action+Version route it off its host
)


def build(context: ServiceContext) -> StsProtocol:
    from .model import StsModel
    from .protocol import StsProtocol

    return StsProtocol(context, StsModel(context))
