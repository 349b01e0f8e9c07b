"""WUYING Workspace on the wire: the 30 ecd 2020-10-02 RPC actions, their parameters named as the model's keywords.

Every parameter arrives as a string; a list comes as ``Name.1``, ``Name.2``... (and a list of objects as
``Name.1.Key``), as the SDKs flatten them, and is gathered into one list before the schema sees it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...core.auth.alibaba import missing
from ...core.protocols.alibaba_rpc import AlibabaRpcProtocol, RpcExchange, boolean, invalid
from ...core.service import ServiceContext, camel_case, operation
from ...core.validation import SchemaSet
from .errors import InvalidInput, MissingInput
from .logon import Presented, Stage
from .model import WuyingModel


def _named_on_the_wire(call: Callable[..., dict[str, Any]], *args: Any, **keywords: Any) -> dict[str, Any]:
    """The model's answer; an input it missed or refused, as the gateway's ``Missing<Param>`` / ``Invalid<Param>``
    (the model names inputs by their keywords, wire parameters snake-cased)."""
    try:
        return call(*args, **keywords)
    except MissingInput as missed:
        raise missing(_wire_name(missed.name)) from None
    except InvalidInput as refused:
        raise invalid(_wire_name(refused.name)) from None


_WIRE_NAMES = {"client_os": "ClientOS", "finger_print_template": "FingerPrintTemplate"}


def _wire_name(keyword: str) -> str:
    return _WIRE_NAMES.get(keyword) or camel_case(keyword)


def _gather(params: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    """``Name.N`` (and ``Name.N.Member``) parameters as one list ``Name``, in the order of N.

    A name also sent whole (``DesktopId=x``) stays as sent, which the schema refuses; ``Name.x`` with no number
    is no item, and is ignored as any unknown parameter is.
    """
    found: dict[str, dict[int, Any]] = {}
    for key in [k for k in params if "." in k]:
        name, _, rest = key.partition(".")
        if name not in names or name in params:
            continue
        index, _, member = rest.partition(".")
        if not (index.isascii() and index.isdigit()) or int(index) < 1 or len(index) > 6:
            continue
        value = params.pop(key)
        items = found.setdefault(name, {})
        if member:
            item = items.setdefault(int(index), {})
            if isinstance(item, dict):
                item[member] = value
        else:
            items[int(index)] = value
    for name, items in found.items():
        params[name] = [items[i] for i in sorted(items)]
    return params


def _int(params: dict[str, Any], name: str) -> int | None:
    value = params.get(name)
    return None if value is None else int(value)


def _flag(params: dict[str, Any], name: str, default: bool = False) -> bool:
    value = boolean(params.get(name))
    return default if value is None else value


class WuyingProtocol(AlibabaRpcProtocol):
    model: WuyingModel
    api_version = "2020-10-02"
    product = "ecd"
    schemas = SchemaSet(Path(__file__).with_name("schemas"))

    def __init__(self, context: ServiceContext, model: Any) -> None:
        super().__init__(context, model)
        assert self.schemas is not None
        self._lists = {
            name: frozenset(
                member
                for member, spec in self.schemas.schema(name).get("properties", {}).items()
                if spec.get("type") == "array"
            )
            for name in self.operations
        }

    def parse(self, exchange: RpcExchange) -> dict[str, Any]:
        params: dict[str, Any] = super().parse(exchange)
        lists = self._lists.get(exchange.operation)
        return _gather(params, lists) if lists else params

    @staticmethod
    def _presented(p: dict[str, Any]) -> Presented:
        return Presented(p.get("LoginToken"), p["ClientId"], p.get("SessionId"), p.get("RegionId"))

    # Every ecd 2020-10-02 operation is auth_type="Anonymous" in the SDKs; a signature, when sent, is verified.
    # ---- logon --------------------------------------------------------------------------------
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
            keep_alive=_flag(p, "KeepAlive"),
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

    # ---- discovery ------------------------------------------------------------------------------
    @operation(anonymous=True)
    def describe_regions(self, x: RpcExchange) -> dict[str, Any]:
        return {
            "Regions": [
                {"RegionId": region, "RegionEndpoint": f"ecd.{region}.aliyuncs.com"} for region in self.model.regions()
            ]
        }

    def _sites(self, region_id: str, wanted: list[str]) -> list[Any]:
        chosen = set(wanted)
        return [
            site
            for site in self.model.office_sites
            if site.region_id == region_id and (not chosen or site.office_site_id in chosen)
        ]

    @operation(anonymous=True)
    def describe_office_sites(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return {
            "OfficeSites": [
                {
                    "OfficeSiteId": site.office_site_id,
                    "OfficeSiteType": site.office_site_type,
                    "DesktopAccessType": site.desktop_access_type,
                    "DesktopVpcEndpoint": site.desktop_vpc_endpoint,
                    "SsoServiceUrl": site.sso_service_url,
                    "ProviderId": site.provider_id,
                    "AliUid": site.tenant_id,
                    "BizType": site.biz_type,
                }
                for site in self._sites(p["RegionId"], p.get("OfficeSiteId", []))
            ]
        }

    @operation(anonymous=True)
    def describe_directories(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return {
            "Directories": [
                {
                    "DirectoryId": site.office_site_id,
                    "DirectoryType": site.office_site_type,
                    "DesktopAccessType": site.desktop_access_type,
                    "SsoServiceUrl": site.sso_service_url,
                    "ProviderId": site.provider_id,
                }
                for site in self._sites(p["RegionId"], p.get("DirectoryId", []))
            ]
        }

    # ---- the user's resources ------------------------------------------------------------------------
    @operation(anonymous=True)
    def describe_user_resources(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.describe_user_resources,
            self._presented(p),
            resource_types=p.get("ResourceTypes", []),
            product_types=p.get("ProductTypes", []),
            resource_ids=p.get("ResourceIds", []),
            office_site_ids=p.get("OfficeSiteIds", []),
            resource_name=p.get("ResourceName"),
            search_region_id=p.get("SearchRegionId"),
            login_region_id=p.get("LoginRegionId"),
            protocol_type=p.get("ProtocolType"),
            access_type=p.get("AccessType"),
            order_by=p.get("OrderBy"),
            sort_type=p.get("SortType"),
            max_results=_int(p, "MaxResults"),
            next_token=p.get("NextToken"),
            query_fota_update=_flag(p, "QueryFotaUpdate"),
            query_desktop_timers=_flag(p, "QueryDesktopTimers", True),
            query_desktop_duration_list=_flag(p, "QueryDesktopDurationList", True),
        )

    @operation(anonymous=True)
    def describe_global_desktops(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.describe_global_desktops,
            self._presented(p),
            desktop_ids=p.get("DesktopId", []),
            desktop_name=p.get("DesktopName"),
            desktop_status=p.get("DesktopStatus"),
            office_site_id=p.get("OfficeSiteId"),
            directory_id=p.get("DirectoryId"),
            keyword=p.get("Keyword"),
            search_region_id=p.get("SearchRegionId"),
            login_region_id=p.get("LoginRegionId"),
            desktop_access_type=p.get("DesktopAccessType"),
            order_by=p.get("OrderBy"),
            sort_type=p.get("SortType"),
            max_results=_int(p, "MaxResults"),
            next_token=p.get("NextToken"),
            query_fota_update=_flag(p, "QueryFotaUpdate"),
        )

    @operation(anonymous=True)
    def describe_snapshots(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.describe_snapshots,
            self._presented(p),
            desktop_id=p.get("DesktopId"),
            snapshot_id=p.get("SnapshotId"),
            max_results=_int(p, "MaxResults"),
            next_token=p.get("NextToken"),
        )

    # ---- the desktop lifecycle ----------------------------------------------------------------------------
    @operation(anonymous=True)
    def start_desktops(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.start_desktops,
            self._presented(p),
            desktop_ids=p["DesktopId"],
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def stop_desktops(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.stop_desktops,
            self._presented(p),
            desktop_ids=p["DesktopId"],
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def reboot_desktops(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.reboot_desktops,
            self._presented(p),
            desktop_ids=p["DesktopId"],
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def reset_snapshot(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.reset_snapshot,
            self._presented(p),
            snapshot_id=p["SnapshotId"],
            desktop_id=p.get("DesktopId"),
            stop_desktop=_flag(p, "StopDesktop"),
        )

    @operation(anonymous=True)
    def unbind_user_desktop(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.unbind_user_desktop,
            self._presented(p),
            user_desktop_id=p["UserDesktopId"],
            force=_flag(p, "Force"),
        )

    @operation(anonymous=True)
    def approve_fota_update(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.approve_fota_update,
            self._presented(p),
            desktop_id=p.get("DesktopId"),
            app_version=p["AppVersion"],
        )

    # ---- connecting ---------------------------------------------------------------------------------------------
    @operation(anonymous=True)
    def get_connection_ticket(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.get_connection_ticket,
            self._presented(p),
            desktop_id=p.get("DesktopId"),
            task_id=p.get("TaskId"),
            ticket_black_list=p.get("TicketBlackList", []),
        )

    @operation(anonymous=True)
    def start_record_content(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.start_record_content,
            self._presented(p),
            desktop_id=p["DesktopId"],
            file_path=p.get("FilePath"),
        )

    @operation(anonymous=True)
    def stop_record_content(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.stop_record_content, self._presented(p), desktop_id=p["DesktopId"]
        )

    # ---- what a desktop's agent reports (no LoginToken) -----------------------------------------------------
    @operation(anonymous=True)
    def report_session_status(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.report_session_status,
            instance_id=p["InstanceId"],
            region_id=p["RegionId"],
            session_id=p["SessionId"],
            session_status=p["SessionStatus"],
            session_change_time=int(p["SessionChangeTime"]),
            end_user_id=p.get("EndUserId"),
        )

    @operation(anonymous=True)
    def report_eds_agent_info(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.report_eds_agent_info,
            eds_agent_info=p.get("EdsAgentInfo"),
            desktop_id=p.get("DesktopId"),
            ecs_instance_id=p.get("EcsInstanceId"),
            ali_uid=_int(p, "AliUid"),
        )

    @operation(anonymous=True)
    def query_eds_agent_report_config(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.workspace.query_eds_agent_report_config,
            desktop_id=p.get("DesktopId"),
            ecs_instance_id=p.get("EcsInstanceId"),
            ali_uid=_int(p, "AliUid"),
        )

    # ---- account actions ------------------------------------------------------------------------------------------
    @operation(anonymous=True)
    def change_password(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.change_password,
            self._presented(p),
            end_user_id=p["EndUserId"],
            office_site_id=p["OfficeSiteId"],
            old_password=p["OldPassword"],
            new_password=p["NewPassword"],
        )

    @operation(anonymous=True)
    def reset_password(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.reset_password,
            region_id=p["RegionId"],
            end_user_id=p["EndUserId"],
            office_site_id=p["OfficeSiteId"],
            email=p.get("Email"),
            phone=p.get("phone"),  # the SDK's wire name is lower case
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def send_token_code(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.logon.send_token_code,
            client_id=p["ClientId"],
            token_code=p["TokenCode"],
            session_id=p.get("SessionId"),
            end_user_id=p.get("EndUserId"),
            login_token=p.get("LoginToken"),
        )

    @operation(anonymous=True)
    def verify_credential(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.verify_credential,
            self._presented(p),
            office_site_id=p["OfficeSiteId"],
            credential=p["Credential"],
            credential_type=p.get("CredentialType"),
            encrypted_key=p.get("EncryptedKey"),
        )

    @operation(anonymous=True)
    def encrypt_password(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.encrypt_password,
            self._presented(p),
            password=p["Password"],
            office_site_id=p.get("OfficeSiteId"),
            directory_id=p.get("DirectoryId"),
        )

    @operation(anonymous=True)
    def get_cloud_drive_service_mount_token(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.get_cloud_drive_service_mount_token,
            self._presented(p),
            office_site_id=p.get("OfficeSiteId"),
        )

    # ---- fingerprint templates ---------------------------------------------------------------------------------------
    @operation(anonymous=True)
    def set_finger_print_template(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.set_finger_print_template,
            self._presented(p),
            password=p["Password"],
            finger_print_template=p.get("FingerPrintTemplate"),
            encrypted_finger_print_template=p.get("EncryptedFingerPrintTemplate"),
            encrypted_key=p.get("EncryptedKey"),
            description=p.get("Description"),
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def set_finger_print_template_description(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.set_finger_print_template_description,
            self._presented(p),
            index=int(p["Index"]),
            description=p["Description"],
            client_token=p.get("ClientToken"),
        )

    @operation(anonymous=True)
    def describe_finger_print_templates(self, x: RpcExchange) -> dict[str, Any]:
        return _named_on_the_wire(self.model.account.describe_finger_print_templates, self._presented(x.params))

    @operation(anonymous=True)
    def delete_finger_print_template(self, x: RpcExchange) -> dict[str, Any]:
        p = x.params
        return _named_on_the_wire(
            self.model.account.delete_finger_print_template,
            self._presented(p),
            index=int(p["Index"]),
            client_token=p.get("ClientToken"),
        )
