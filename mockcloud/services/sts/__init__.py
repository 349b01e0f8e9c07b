"""AWS Security Token Service (AWS Query, SigV4): AssumeRoleWithWebIdentity and GetCallerIdentity."""
from __future__ import annotations

from ...core.router import Claims
from ...core.service import ServiceContext

NAME = "sts"
CLAIMS = Claims(
    # sts.amazonaws.com (the global endpoint) and sts.<region>.amazonaws.com, sts-fips.<region>.amazonaws.com
    host_labels=(("sts", "amazonaws.com"), ("sts", "amazonaws.com.cn"), ("sts-fips", "amazonaws.com")),
    signing_names=("sts",),
    api_versions=("2011-06-15",),  # AssumeRoleWithWebIdentity is unsigned: Action+Version route it off its host
)


def build(context: ServiceContext):
    from .model import StsModel
    from .protocol import StsProtocol

    return StsProtocol(context, StsModel(context))
