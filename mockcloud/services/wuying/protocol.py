"""WUYING Workspace on the wire: ecd 2020-10-02 RPC actions mapped onto the model."""
from __future__ import annotations

from pathlib import Path

from ...core.protocols.alibaba_rpc import AlibabaRpcProtocol, boolean
from ...core.validation import SchemaSet

_SCHEMAS = SchemaSet(Path(__file__).with_name("schemas"))


class WuyingProtocol(AlibabaRpcProtocol):
    api_version = "2020-10-02"
    product = "ecd"
    schemas = _SCHEMAS
    operations = {
        "GetLoginToken": "get_login_token",
        "RefreshLoginToken": "refresh_login_token",
    }
    # every ecd 2020-10-02 operation is auth_type="Anonymous" in the SDKs; a signature, when sent, is verified
    anonymous_operations = frozenset(operations)

    def get_login_token(self, params: dict, caller) -> dict:
        if "KeepAlive" in params:
            params["KeepAlive"] = boolean(params["KeepAlive"])
        return self.model.get_login_token(params)

    def refresh_login_token(self, params: dict, caller) -> dict:
        return self.model.refresh_login_token(params)
