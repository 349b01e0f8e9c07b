"""WUYING Workspace on the wire: ecd 2020-10-02 RPC actions mapped onto the model."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ...core.protocols.alibaba_rpc import AlibabaRpcProtocol, RpcExchange, boolean
from ...core.service import operation
from ...core.validation import SchemaSet


class WuyingProtocol(AlibabaRpcProtocol):
    api_version = "2020-10-02"
    product = "ecd"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))

    # every ecd 2020-10-02 operation is auth_type="Anonymous" in the SDKs; a signature, when sent, is verified
    @operation(anonymous=True)
    def get_login_token(self, x: RpcExchange) -> dict[str, Any]:
        params = x.params
        if "KeepAlive" in params:
            params["KeepAlive"] = boolean(params["KeepAlive"])
        return self.model.get_login_token(params)

    @operation(anonymous=True)
    def refresh_login_token(self, x: RpcExchange) -> dict[str, Any]:
        return self.model.refresh_login_token(x.params)
