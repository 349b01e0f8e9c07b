"""WUYING Workspace on the wire: ecd 2020-10-02 RPC actions, their parameters named as the model's keywords."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.auth.alibaba import missing
from ...core.protocols.alibaba_rpc import AlibabaRpcProtocol, RpcExchange, boolean
from ...core.service import camel_case, operation
from ...core.validation import SchemaSet
from .errors import MissingInput
from .logon import Stage
from .model import WuyingModel


def _named_on_the_wire(call: Callable[..., dict[str, Any]], **keywords: Any) -> dict[str, Any]:
    """The model's answer; an input it missed, as the gateway's ``Missing<Param>`` (keywords are params snake-cased)."""
    try:
        return call(**keywords)
    except MissingInput as missed:
        raise missing(camel_case(missed.name)) from None


class WuyingProtocol(AlibabaRpcProtocol):
    model: WuyingModel
    api_version = "2020-10-02"
    product = "ecd"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))

    # every ecd 2020-10-02 operation is auth_type="Anonymous" in the SDKs; a signature, when sent, is verified
    @operation(anonymous=True)
    def get_login_token(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.logon.get_login_token,
            region_id=p["RegionId"],
            client_id=p["ClientId"],
            current_stage=Stage(p.get("CurrentStage") or Stage.AD_PASSWORD),
            end_user_id=p.get("EndUserId"),
            password=p.get("Password"),
            office_site_id=p.get("OfficeSiteId"),
            directory_id=p.get("DirectoryId"),
            session_id=p.get("SessionId"),
            authentication_code=p.get("AuthenticationCode"),
            token_code=p.get("TokenCode"),
            old_password=p.get("OldPassword"),
            new_password=p.get("NewPassword"),
            keep_alive=bool(boolean(p.get("KeepAlive"))),
            keep_alive_token=p.get("KeepAliveToken"),
        )

    @operation(anonymous=True)
    def refresh_login_token(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.logon.refresh_login_token,
            region_id=p["RegionId"],
            client_id=p["ClientId"],
            end_user_id=p["EndUserId"],
            login_token=p["LoginToken"],
            office_site_id=p.get("OfficeSiteId"),
            session_id=p.get("SessionId"),
        )
