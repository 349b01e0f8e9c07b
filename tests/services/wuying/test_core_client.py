"""Every one of the 30 ecd 2020-10-02 operations through aliyunsdkcore's CommonRequest (always v1-signed), in-process
(through the interceptor of its vendored requests) and against the live server.

Each operation is set up with the helpers, called once as a client of that SDK would call it (lists flattened
to ``Name.1``...), and judged by what it answered and by what it changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from aliyunsdkcore.acs_exception.exceptions import ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import CommonRequest

from mockcloud.services.wuying.protocol import WuyingProtocol
from tests.services.wuying.support import ECD_HOST, REGION, Backend
from tests.services.wuying.test_wuying import _no_proxies  # noqa: F401

SITE = "cn-hangzhou+dir-0123456789"
DESKTOP = "ecd-0123456789abcdefg"
PASSWORD = "Alice-Passw0rd"


class CoreClient:
    """aliyunsdkcore's AcsClient with CommonRequests for the ecd 2020-10-02 API, and alice's logon."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.client = AcsClient("testing", "testing", REGION)
        self.logon: dict[str, Any] = {}

    def call(self, action: str, **params: Any) -> dict[str, Any]:
        request = CommonRequest(domain=self.backend.endpoint or ECD_HOST, version="2020-10-02", action_name=action)
        request.set_method("POST")
        request.set_protocol_type("http" if self.backend.server_url else "https")
        for key, value in _flattened(params).items():
            request.add_query_param(key, value)
        return json.loads(self.client.do_action_with_exception(request))

    def log_on(self, client_id: str = "core-1") -> dict[str, Any]:
        self.logon = self.call(
            "GetLoginToken", RegionId=REGION, ClientId=client_id, EndUserId="alice", Password=PASSWORD
        )
        return self.logon

    def token(self, **params: Any) -> dict[str, Any]:
        """The common parameters of an operation taken with alice's LoginToken."""
        if not self.logon:
            self.log_on()
        return {
            "RegionId": REGION,
            "ClientId": "core-1",
            "LoginToken": self.logon["LoginToken"],
            "SessionId": self.logon["SessionId"],
            **params,
        }


def _flattened(params: dict[str, Any]) -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, list):
            for n, item in enumerate(value, 1):
                if isinstance(item, dict):
                    flat.update({f"{key}.{n}.{member}": str(v) for member, v in item.items()})
                else:
                    flat[f"{key}.{n}"] = str(item)
        elif isinstance(value, bool):
            flat[key] = "true" if value else "false"
        else:
            flat[key] = str(value)
    return flat


def _running(cloud) -> None:
    cloud.wuying.update_desktop(DESKTOP, status="Running")


def _enrolled(cloud, core: CoreClient) -> None:
    core.call("SetFingerPrintTemplate", **core.token(Password=PASSWORD, FingerPrintTemplate="minutiae"))


def _send_token_code(cloud, core: CoreClient) -> dict[str, Any]:
    cloud.wuying.create_office_site("cn-hangzhou+dir-secure", secondary_auth=True)
    cloud.wuying.create_user("gus", "Gus-Passw0rd", "cn-hangzhou+dir-secure", email="gus@example.com")
    first = core.call("GetLoginToken", RegionId=REGION, ClientId="core-1", EndUserId="gus", Password="Gus-Passw0rd")
    code = cloud.wuying.email_code("gus")
    answer = core.call("SendTokenCode", ClientId="core-1", SessionId=first["SessionId"], TokenCode=code)
    done = core.call(
        "GetLoginToken", RegionId=REGION, ClientId="core-1", CurrentStage="TokenVerify", SessionId=first["SessionId"]
    )
    return {**answer, "then": done}


Case = Callable[[Any, CoreClient], None]


def _case_get_login_token(cloud, core: CoreClient) -> None:
    assert core.log_on()["LoginToken"].startswith("v1")


def _case_refresh_login_token(cloud, core: CoreClient) -> None:
    params = core.token(EndUserId="alice")
    fresh = core.call("RefreshLoginToken", **params)["LoginToken"]
    assert fresh.startswith("v1") and fresh != params["LoginToken"]


def _case_describe_regions(cloud, core: CoreClient) -> None:
    regions = core.call("DescribeRegions", ClientId="core-1")["Regions"]
    assert {"RegionId": REGION, "RegionEndpoint": ECD_HOST} in regions


def _case_describe_office_sites(cloud, core: CoreClient) -> None:
    sites = core.call("DescribeOfficeSites", ClientId="core-1", RegionId=REGION, OfficeSiteId=[SITE])["OfficeSites"]
    assert [s["OfficeSiteId"] for s in sites] == [SITE]


def _case_describe_directories(cloud, core: CoreClient) -> None:
    directories = core.call("DescribeDirectories", ClientId="core-1", RegionId=REGION)["Directories"]
    assert [(d["DirectoryId"], d["DirectoryType"]) for d in directories] == [(SITE, "SIMPLE")]


def _case_describe_user_resources(cloud, core: CoreClient) -> None:
    body = core.call("DescribeUserResources", **core.token(ResourceTypes=["Desktop"]))
    assert [r["ResourceId"] for r in body["Resources"]] == [DESKTOP] and body["TotalCount"] == 1


def _case_describe_global_desktops(cloud, core: CoreClient) -> None:
    body = core.call("DescribeGlobalDesktops", **core.token(DesktopId=[DESKTOP], QueryFotaUpdate=True))
    assert [(d["DesktopId"], d["DesktopStatus"]) for d in body["Desktops"]] == [(DESKTOP, "Stopped")]


def _case_describe_snapshots(cloud, core: CoreClient) -> None:
    cloud.wuying.create_snapshot(DESKTOP, "s-core0000000000000001")
    body = core.call("DescribeSnapshots", **core.token(DesktopId=DESKTOP))
    assert [(s["SnapshotId"], s["Status"]) for s in body["Snapshots"]] == [("s-core0000000000000001", "ACCOMPLISHED")]


def _case_start_desktops(cloud, core: CoreClient) -> None:
    core.call("StartDesktops", **core.token(DesktopId=[DESKTOP], ClientToken="core-start"))
    assert cloud.wuying.desktop_status(DESKTOP) == "Starting"


def _case_stop_desktops(cloud, core: CoreClient) -> None:
    _running(cloud)
    core.call("StopDesktops", **core.token(DesktopId=[DESKTOP]))
    assert cloud.wuying.desktop_status(DESKTOP) == "Stopping"


def _case_reboot_desktops(cloud, core: CoreClient) -> None:
    _running(cloud)
    core.call("RebootDesktops", **core.token(DesktopId=[DESKTOP]))
    assert cloud.wuying.desktop_status(DESKTOP) == "Stopping"


def _case_reset_snapshot(cloud, core: CoreClient) -> None:
    cloud.wuying.create_snapshot(DESKTOP, "s-core0000000000000002")
    core.call("ResetSnapshot", **core.token(SnapshotId="s-core0000000000000002", DesktopId=DESKTOP))
    assert cloud.wuying.desktop(DESKTOP).restored_snapshot_id == "s-core0000000000000002"


def _case_unbind_user_desktop(cloud, core: CoreClient) -> None:
    core.call("UnbindUserDesktop", **core.token(UserDesktopId=DESKTOP, Force=False))
    assert cloud.wuying.desktop(DESKTOP).assigned == {}


def _case_get_connection_ticket(cloud, core: CoreClient) -> None:
    body = core.call("GetConnectionTicket", **core.token(DesktopId=DESKTOP, Tag=[{"Key": "team", "Value": "qa"}]))
    assert (body["TaskStatus"], body["DesktopId"]) == ("RUNNING", DESKTOP)


def _case_change_password(cloud, core: CoreClient) -> None:
    params = core.token(EndUserId="alice", OfficeSiteId=SITE, OldPassword=PASSWORD, NewPassword="Core-Passw0rd!")
    assert core.call("ChangePassword", **params)["LoginToken"] != params["LoginToken"]
    with pytest.raises(ServerException) as revoked:
        core.call("DescribeUserResources", **core.token())
    assert revoked.value.get_error_code() == "InvalidLoginToken.Revoked"


def _case_reset_password(cloud, core: CoreClient) -> None:
    core.call(
        "ResetPassword",
        RegionId=REGION,
        ClientId="core-1",
        EndUserId="alice",
        OfficeSiteId=SITE,
        Email="alice@example.com",
    )
    assert [r.channel for r in cloud.wuying.password_resets("alice")] == ["Email"]


def _case_send_token_code(cloud, core: CoreClient) -> None:
    answer = _send_token_code(cloud, core)
    assert answer["RequestId"] and answer["then"]["LoginToken"].startswith("v1")


def _case_verify_credential(cloud, core: CoreClient) -> None:
    with pytest.raises(ServerException) as wrong:
        core.call("VerifyCredential", **core.token(OfficeSiteId=SITE, Credential="nope", CredentialType="Password"))
    assert (wrong.value.get_error_code(), wrong.value.get_http_status()) == ("InvalidCredential", 400)
    assert core.call("VerifyCredential", **core.token(OfficeSiteId=SITE, Credential=PASSWORD))["RequestId"]


def _case_encrypt_password(cloud, core: CoreClient) -> None:
    sealed = core.call("EncryptPassword", **core.token(Password=PASSWORD))["EncryptedPassword"]
    params = core.token(OfficeSiteId=SITE, Credential=sealed, EncryptedKey="k")
    assert core.call("VerifyCredential", **params)["RequestId"]


def _case_get_cloud_drive_service_mount_token(cloud, core: CoreClient) -> None:
    token = core.call("GetCloudDriveServiceMountToken", **core.token())["Token"]
    assert token["Status"] == "enabled" and cloud.wuying.mount_token_valid(token["Token"])


def _case_set_finger_print_template(cloud, core: CoreClient) -> None:
    body = core.call(
        "SetFingerPrintTemplate", **core.token(Password=PASSWORD, FingerPrintTemplate="m", Description="d")
    )
    assert body["Index"] == 1 and body["EncryptedPassword"]


def _case_set_finger_print_template_description(cloud, core: CoreClient) -> None:
    _enrolled(cloud, core)
    core.call("SetFingerPrintTemplateDescription", **core.token(Index=1, Description="right thumb"))
    assert [t.description for t in cloud.wuying.fingerprint_templates("alice")] == ["right thumb"]


def _case_describe_finger_print_templates(cloud, core: CoreClient) -> None:
    _enrolled(cloud, core)
    templates = core.call("DescribeFingerPrintTemplates", **core.token())["FingerPrintTemplates"]
    assert [(t["Index"], t["EndUserId"], t["ClientId"]) for t in templates] == [(1, "alice", "core-1")]


def _case_delete_finger_print_template(cloud, core: CoreClient) -> None:
    _enrolled(cloud, core)
    core.call("DeleteFingerPrintTemplate", **core.token(Index=1))
    assert cloud.wuying.fingerprint_templates("alice") == []


def _case_approve_fota_update(cloud, core: CoreClient) -> None:
    cloud.wuying.update_desktop(DESKTOP, fota_version="1.1.0")
    core.call("ApproveFotaUpdate", **core.token(DesktopId=DESKTOP, AppVersion="1.1.0"))
    assert cloud.wuying.desktop_status(DESKTOP) == "Rebuilding"


def _case_start_record_content(cloud, core: CoreClient) -> None:
    _running(cloud)
    core.call("StartRecordContent", **core.token(DesktopId=DESKTOP, FilePath="/records/a.mp4"))
    assert cloud.wuying.desktop(DESKTOP).recording["file_path"] == "/records/a.mp4"


def _case_stop_record_content(cloud, core: CoreClient) -> None:
    _running(cloud)
    core.call("StartRecordContent", **core.token(DesktopId=DESKTOP))
    core.call("StopRecordContent", **core.token(DesktopId=DESKTOP))
    assert cloud.wuying.desktop(DESKTOP).recording is None


def _case_report_session_status(cloud, core: CoreClient) -> None:
    core.call(
        "ReportSessionStatus",
        RegionId=REGION,
        InstanceId=DESKTOP,
        SessionId="1",
        SessionStatus="SessionLogOn",
        SessionChangeTime=1700000000000,
        EndUserId="alice",
    )
    assert [s["end_user_id"] for s in cloud.wuying.desktop(DESKTOP).sessions] == ["alice"]


def _case_report_eds_agent_info(cloud, core: CoreClient) -> None:
    core.call("ReportEdsAgentInfo", DesktopId=DESKTOP, EdsAgentInfo='{"v":1}')
    assert cloud.wuying.desktop(DESKTOP).agent_info == '{"v":1}'


def _case_query_eds_agent_report_config(cloud, core: CoreClient) -> None:
    assert json.loads(core.call("QueryEdsAgentReportConfig", DesktopId=DESKTOP)["Data"]["Config"])["ReportInterval"]


CASES: dict[str, Case] = {
    "".join(part.capitalize() for part in name[len("_case_") :].split("_")): case
    for name, case in sorted(globals().items())
    if name.startswith("_case_")
}


def test_every_operation_has_a_case():
    assert set(CASES) == set(WuyingProtocol.operations) and len(CASES) == 30


@pytest.mark.parametrize("operation", sorted(CASES))
def test_each_operation_through_aliyunsdkcore(backend, cloud, operation):
    CASES[operation](cloud, CoreClient(backend))
    assert cloud.requests.filter(service="wuying", operation=operation)[-1].status == 200
