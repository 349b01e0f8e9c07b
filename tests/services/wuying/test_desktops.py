"""WUYING desktops through the tea SDK: discovery, the user's resources, the lifecycle on the mock clock,
connection tickets, snapshots, FOTA updates, recording, and what a desktop's agent reports.

Every test takes ``backend`` (through ``cloud``/``ecd``): it runs in-process and against the live server,
whose helpers (``cloud.wuying.create_desktop``...) go over the admin API.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from alibabacloud_ecd20201002 import models
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from darabonba.runtime import RuntimeOptions

from mockcloud import MockCloudError
from mockcloud.core.inventory import short_id
from mockcloud.services.wuying.desktops import gw_token_of
from tests.services.wuying.support import REGION, Session, refused
from tests.services.wuying.test_wuying import _no_proxies  # noqa: F401

SITE = "cn-hangzhou+dir-0123456789"
DESKTOP = "ecd-0123456789abcdefg"  # alice's, in the default fixtures: Stopped
WRONG_STATUS = "The current status of the desktop does not support this operation."


def status(alice: Session, desktop_id: str = DESKTOP) -> str:
    [found] = alice.call("describe_global_desktops", desktop_id=[desktop_id]).desktops
    return found.desktop_status


# ---- discovery ----------------------------------------------------------------------------------------


def test_regions_office_sites_and_directories(cloud, ecd):
    regions = ecd.describe_regions(models.DescribeRegionsRequest(client_id="c")).body.regions
    assert {"cn-hangzhou", "ap-southeast-1", "eu-central-1"} <= {r.region_id for r in regions}
    assert next(r for r in regions if r.region_id == "cn-shanghai").region_endpoint == "ecd.cn-shanghai.aliyuncs.com"
    cloud.wuying.create_office_site("xx-lab-1+dir-1")  # a region of no SDK's map is listed once it has a site
    assert "xx-lab-1" in [
        r.region_id for r in ecd.describe_regions(models.DescribeRegionsRequest(client_id="c")).body.regions
    ]

    cloud.wuying.create_office_site(
        "cn-hangzhou+dir-ad",
        office_site_type="AD_CONNECTOR",
        desktop_access_type="VPC",
        sso_service_url="https://sso.example.com",
    )
    sites = ecd.describe_office_sites(models.DescribeOfficeSitesRequest(client_id="c", region_id=REGION)).body
    by_id = {s.office_site_id: s for s in sites.office_sites}
    assert set(by_id) == {SITE, "cn-hangzhou+dir-ad"}  # not the xx-lab-1 one: another region
    assert (by_id[SITE].office_site_type, by_id[SITE].desktop_access_type) == ("SIMPLE", "INTERNET")
    assert by_id[SITE].ali_uid == 1234567890123456
    ad = by_id["cn-hangzhou+dir-ad"]
    assert (ad.office_site_type, ad.desktop_access_type, ad.sso_service_url) == (
        "AD_CONNECTOR",
        "VPC",
        "https://sso.example.com",
    )
    one = ecd.describe_office_sites(
        models.DescribeOfficeSitesRequest(client_id="c", region_id=REGION, office_site_id=["cn-hangzhou+dir-ad"])
    ).body.office_sites
    assert [s.office_site_id for s in one] == ["cn-hangzhou+dir-ad"]

    directories = ecd.describe_directories(
        models.DescribeDirectoriesRequest(client_id="c", region_id=REGION, directory_id=[SITE])
    ).body.directories
    assert [(d.directory_id, d.directory_type, d.desktop_access_type) for d in directories] == [
        (SITE, "SIMPLE", "INTERNET")
    ]
    error = refused(ecd.describe_directories, models.DescribeDirectoriesRequest(client_id="c"))
    assert (error.code, error.status_code) == ("MissingRegionId", 400)
    assert refused(ecd.describe_regions, models.DescribeRegionsRequest()).code == "MissingClientId"


# ---- the user's resources ------------------------------------------------------------------------------


def test_user_resources_are_the_users_desktops(cloud, alice):
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    cloud.wuying.create_desktop("ecd-bobsdesktop00001", end_user_ids=["bob"])
    body = alice.call("describe_user_resources")
    assert body.total_count == 1 and body.next_token is None
    [mine] = body.resources
    assert (mine.resource_id, mine.resource_name, mine.resource_type, mine.resource_status) == (
        DESKTOP,
        "Alice's desktop",
        "Desktop",
        "Stopped",
    )
    assert (mine.office_site_id, mine.region_id, mine.os_type, mine.protocol_type) == (SITE, REGION, "Windows", "ASP")
    assert mine.resource_session_status == "Disconnected" and mine.create_time.endswith("Z")
    assert alice.call("describe_user_resources", resource_types=["App"]).resources == []
    assert alice.call("describe_user_resources", resource_types=["Desktop"]).total_count == 1
    assert alice.call("describe_user_resources", resource_name="alice's").total_count == 1  # fuzzy, any case


def test_user_resources_page_with_next_token(cloud, alice):
    for n in range(4):
        cloud.clock.advance(seconds=10)
        cloud.wuying.create_desktop(f"ecd-alice{n:012d}", end_user_ids=["alice"], desktop_name=f"Desk {n}")
    seen, token = [], None
    while True:
        body = alice.call("describe_user_resources", max_results=2, next_token=token)
        assert body.total_count == 5 and len(body.resources) <= 2
        seen += [r.resource_id for r in body.resources]
        token = body.next_token
        if not token:
            break
    assert seen == [DESKTOP] + [f"ecd-alice{n:012d}" for n in range(4)]  # ASC by creation time by default
    newest = alice.call("describe_user_resources", sort_type="DESC", max_results=1).resources
    assert newest[0].resource_id == "ecd-alice000000000003"
    error = refused(alice.call, "describe_user_resources", next_token="not-a-token")
    assert (error.code, error.data["Message"]) == ("InvalidNextToken", "Specified parameter NextToken is not valid.")
    token = alice.call("describe_user_resources", max_results=1).next_token
    other_query = refused(alice.call, "describe_user_resources", max_results=1, next_token=token, sort_type="DESC")
    assert other_query.code == "InvalidNextToken"  # a page token of another query
    assert refused(alice.call, "describe_user_resources", max_results=501).code == "InvalidMaxResults"


def test_global_desktops_filter_sort_and_page(cloud, alice):
    cloud.wuying.create_office_site("cn-shanghai+dir-2")
    for n in range(11):
        cloud.clock.advance(seconds=10)
        cloud.wuying.create_desktop(
            f"ecd-global{n:011d}",
            end_user_ids=["alice"],
            desktop_name=f"Global {n}",
            status="Running" if n % 2 else "Stopped",
            office_site_id="cn-shanghai+dir-2" if n == 5 else None,
            user_custom_name="my build box" if n == 7 else "",
        )
    first = alice.call("describe_global_desktops")
    assert len(first.desktops) == 10 and first.next_token  # MaxResults defaults to 10
    assert first.desktops[0].desktop_id == "ecd-global00000000010"  # the newest first by default
    rest = alice.call("describe_global_desktops", next_token=first.next_token)
    assert [d.desktop_id for d in rest.desktops] == ["ecd-global00000000000", DESKTOP] and rest.next_token is None
    ascending = alice.call("describe_global_desktops", sort_type="ASC", max_results=500).desktops
    assert ascending[0].desktop_id == DESKTOP and len(ascending) == 12
    running = alice.call("describe_global_desktops", desktop_status="Running", max_results=500).desktops
    assert {d.desktop_id for d in running} == {f"ecd-global{n:011d}" for n in range(1, 11, 2)}
    assert [d.desktop_id for d in alice.call("describe_global_desktops", keyword="BUILD").desktops] == [
        "ecd-global00000000007"
    ]
    assert [d.desktop_id for d in alice.call("describe_global_desktops", search_region_id="cn-shanghai").desktops] == [
        "ecd-global00000000005"
    ]
    by_site = alice.call("describe_global_desktops", office_site_id="cn-shanghai+dir-2").desktops
    assert [d.region_id for d in by_site] == ["cn-shanghai"]
    picked = alice.call("describe_global_desktops", desktop_id=["ecd-global00000000002", DESKTOP]).desktops
    assert {d.desktop_id for d in picked} == {"ecd-global00000000002", DESKTOP}
    named = alice.call("describe_global_desktops", desktop_name="Global 3").desktops
    [three] = named
    assert (three.desktop_status, three.end_user_ids, three.directory_id) == ("Running", ["alice"], SITE)
    assert three.expired_time == "2099-12-31T15:59Z" and len(three.creation_time) == len("2020-11-06T08:28Z")
    assert (three.cpu, three.memory, three.desktop_type, three.disks[0].disk_type) == (
        2,
        4096,
        "ecd.basic.large",
        "SYSTEM",
    )
    bad = refused(alice.call, "describe_global_desktops", desktop_status="Sleeping")
    assert bad.code == "InvalidDesktopStatus"


def test_assign_time_orders_by_when_each_desktop_became_the_users(cloud, alice):
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    cloud.clock.advance(seconds=10)
    cloud.wuying.create_desktop("ecd-shared0000000001", end_user_ids=["bob"])  # made before the next one
    cloud.clock.advance(seconds=10)
    cloud.wuying.create_desktop("ecd-newer00000000001", end_user_ids=["alice"])
    cloud.clock.advance(seconds=10)
    cloud.wuying.bind_desktop("ecd-shared0000000001", "alice")  # ... but hers last
    by_creation = alice.call("describe_global_desktops").desktops
    assert [d.desktop_id for d in by_creation] == ["ecd-newer00000000001", "ecd-shared0000000001", DESKTOP]
    by_assignment = alice.call("describe_global_desktops", order_by="AssignTime", sort_type="DESC").desktops
    assert [d.desktop_id for d in by_assignment] == ["ecd-shared0000000001", "ecd-newer00000000001", DESKTOP]
    resources = alice.call("describe_user_resources", order_by="AssignTime").resources
    assert [r.resource_id for r in resources] == [DESKTOP, "ecd-newer00000000001", "ecd-shared0000000001"]
    assert refused(alice.call, "describe_global_desktops", order_by="Name").code == "InvalidOrderBy"


# ---- the lifecycle ----------------------------------------------------------------------------------------


def test_desktops_start_stop_and_reboot_on_the_mock_clock(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    alice.call("start_desktops", desktop_id=[DESKTOP])
    assert status(alice) == "Starting"
    again = refused(alice.call, "start_desktops", desktop_id=[DESKTOP])
    assert (again.code, again.status_code, again.data["Message"]) == ("IncorrectDesktopStatus", 400, WRONG_STATUS)
    cloud.clock.advance(seconds=29)
    assert status(alice) == "Starting"
    cloud.clock.advance(seconds=1)
    assert status(alice) == "Running" and cloud.wuying.desktop_status(DESKTOP) == "Running"
    [running] = alice.call("describe_global_desktops", desktop_id=[DESKTOP]).desktops
    assert running.last_start_time
    assert refused(alice.call, "start_desktops", desktop_id=[DESKTOP]).code == "IncorrectDesktopStatus"

    alice.call("reboot_desktops", desktop_id=[DESKTOP])
    seen = []
    for _ in range(6):
        seen.append(status(alice))
        cloud.clock.advance(seconds=10)
    assert seen == ["Stopping", "Stopping", "Starting", "Starting", "Starting", "Running"]

    alice.call("stop_desktops", desktop_id=[DESKTOP])
    assert status(alice) == "Stopping"
    assert refused(alice.call, "stop_desktops", desktop_id=[DESKTOP]).code == "IncorrectDesktopStatus"
    cloud.clock.advance(seconds=20)
    assert status(alice) == "Stopped"
    assert refused(alice.call, "reboot_desktops", desktop_id=[DESKTOP]).code == "IncorrectDesktopStatus"
    assert refused(alice.call, "stop_desktops", desktop_id=[DESKTOP]).code == "IncorrectDesktopStatus"


def test_a_client_token_makes_a_retry_the_same_request(cloud, alice):
    alice.call("start_desktops", desktop_id=[DESKTOP], client_token="start-1")
    alice.call("start_desktops", desktop_id=[DESKTOP], client_token="start-1")  # a retry: answered, not refused
    assert status(alice) == "Starting"
    mismatch = refused(alice.call, "start_desktops", desktop_id=[DESKTOP, DESKTOP + "x"], client_token="start-1")
    assert (mismatch.code, mismatch.status_code) == ("IdempotentParameterMismatch", 400)
    assert refused(alice.call, "start_desktops", desktop_id=[DESKTOP], client_token="start-2").code == (
        "IncorrectDesktopStatus"
    )


def test_other_users_desktops_and_unknown_ones_are_not_found(cloud, alice):
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    cloud.wuying.create_desktop("ecd-bobsdesktop00001", end_user_ids=["bob"], status="Stopped")
    for desktop_id in ("ecd-bobsdesktop00001", "ecd-doesnotexist0001"):
        error = refused(alice.call, "start_desktops", desktop_id=[desktop_id])
        assert (error.code, error.status_code) == ("InvalidDesktopId.NotFound", 404)
        assert desktop_id in error.data["Message"]
        for operation in ("stop_desktops", "reboot_desktops"):
            assert refused(alice.call, operation, desktop_id=[desktop_id]).code == "InvalidDesktopId.NotFound"
        assert refused(alice.call, "get_connection_ticket", desktop_id=desktop_id).code == "InvalidDesktopId.NotFound"
        assert refused(alice.call, "describe_snapshots", desktop_id=desktop_id).code == "InvalidDesktopId.NotFound"
    # all or nothing: one desktop not hers, and hers does not start either
    assert refused(alice.call, "start_desktops", desktop_id=[DESKTOP, "ecd-bobsdesktop00001"]).code == (
        "InvalidDesktopId.NotFound"
    )
    assert status(alice) == "Stopped" and cloud.wuying.desktop_status("ecd-bobsdesktop00001") == "Stopped"
    assert alice.call("describe_global_desktops", desktop_id=["ecd-bobsdesktop00001"]).desktops == []
    too_many = refused(alice.call, "start_desktops", desktop_id=[f"ecd-{n}" for n in range(21)])
    assert too_many.code == "InvalidDesktopId"  # 1 to 20 ids
    assert refused(alice.call, "start_desktops").code == "MissingDesktopId"


# ---- connecting ------------------------------------------------------------------------------------------


def test_a_connection_ticket_is_a_task_polled_until_the_desktop_runs(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    first = alice.call("get_connection_ticket", desktop_id=DESKTOP)
    assert (first.task_status, first.desktop_id, first.ticket) == ("RUNNING", DESKTOP, None)
    assert status(alice) == "Starting"  # connecting to a stopped desktop starts it
    assert alice.call("get_connection_ticket", task_id=first.task_id).task_status == "RUNNING"
    cloud.clock.advance(seconds=30)
    done = alice.call("get_connection_ticket", task_id=first.task_id)
    assert (done.task_id, done.task_status, done.desktop_id) == (first.task_id, "FINISHED", DESKTOP)
    text = base64.b64decode(done.ticket).decode()
    assert text.startswith("[Desktop]\r\nGWToken=") and f"DesktopId={DESKTOP}\r\n" in text
    assert "EndUserId=alice\r\n" in text
    assert alice.call("get_connection_ticket", task_id=first.task_id).ticket == done.ticket  # polls agree
    fresh = alice.call("get_connection_ticket", task_id=first.task_id, ticket_black_list=[done.ticket]).ticket
    assert fresh and fresh != done.ticket  # a ticket the client could not use is replaced
    record = cloud.wuying.connection_ticket(fresh)
    assert (record.desktop_id, record.end_user_id, record.session_id) == (DESKTOP, "alice", alice.session_id)
    assert record.expires == cloud.clock.time() + 300

    with pytest.raises(MockCloudError, match="is for the desktop"):
        cloud.wuying.redeem_ticket(fresh, "ecd-someotherdesk001")
    cloud.wuying.redeem_ticket(fresh, DESKTOP)
    with pytest.raises(MockCloudError, match="already used"):
        cloud.wuying.redeem_ticket(fresh, DESKTOP)
    [connected] = alice.call("describe_global_desktops", desktop_id=[DESKTOP]).desktops
    assert connected.connection_status == "Connected" and connected.sessions[0].end_user_id == "alice"
    cloud.clock.advance(seconds=301)
    with pytest.raises(MockCloudError, match="expired"):
        cloud.wuying.redeem_ticket(done.ticket)


def test_a_running_desktop_still_answers_a_task_first_and_tasks_belong_to_their_session(cloud, ecd, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    first = alice.call("get_connection_ticket", desktop_id=DESKTOP)
    assert first.task_status == "RUNNING"
    cloud.clock.advance(seconds=2)
    other = Session.logon(ecd, client_id="client-2")  # alice again, on another device
    error = refused(other.call, "get_connection_ticket", task_id=first.task_id)
    assert (error.code, error.status_code) == ("InvalidTaskId.NotFound", 404)
    assert refused(alice.call, "get_connection_ticket", task_id="no-such-task").code == "InvalidTaskId.NotFound"
    assert alice.call("get_connection_ticket", task_id=first.task_id).task_status == "FINISHED"
    assert refused(alice.call, "get_connection_ticket").code == "MissingDesktopId"


def test_a_task_fails_when_its_desktop_goes_down(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    task = alice.call("get_connection_ticket", desktop_id=DESKTOP).task_id
    alice.call("stop_desktops", desktop_id=[DESKTOP])
    failed = alice.call("get_connection_ticket", task_id=task)
    assert (failed.task_status, failed.task_code, failed.ticket) == ("FAILED", "IncorrectDesktopStatus", None)
    assert "Stopping" in failed.task_message
    cloud.wuying.update_desktop(DESKTOP, status="Expired")
    assert refused(alice.call, "get_connection_ticket", desktop_id=DESKTOP).code == "IncorrectDesktopStatus"


def test_without_auto_start_a_stopped_desktop_cannot_be_connected():
    from mockcloud import mock_wuying
    from tests.services.wuying.support import Backend

    with mock_wuying(settings={"wuying": {"connect_starts_desktop": False}}) as cloud:
        alice = Session.logon(Backend(cloud).client())
        assert refused(alice.call, "get_connection_ticket", desktop_id=DESKTOP).code == "IncorrectDesktopStatus"


# ---- snapshots -------------------------------------------------------------------------------------------


def test_snapshots_are_described_and_restored(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    done = cloud.wuying.create_snapshot(DESKTOP, "s-done0000000000000001", snapshot_name="before the upgrade")
    cloud.clock.advance(seconds=10)
    cloud.wuying.create_snapshot(DESKTOP, "s-busy0000000000000001", seconds=60, source_disk_type="DATA")
    cloud.wuying.create_user("bob", "Bob-Passw0rd")
    cloud.wuying.create_desktop("ecd-bobsdesktop00001", end_user_ids=["bob"])
    cloud.wuying.create_snapshot("ecd-bobsdesktop00001", "s-bobs0000000000000001")
    cloud.clock.advance(seconds=15)

    snapshots = alice.call("describe_snapshots").snapshots
    assert [s.snapshot_id for s in snapshots] == ["s-busy0000000000000001", "s-done0000000000000001"]  # newest first
    busy, finished = snapshots
    assert (busy.status, busy.progress, busy.remain_time, busy.source_disk_type) == ("PROGRESSING", "25%", 45, "DATA")
    assert (finished.status, finished.progress, finished.snapshot_name) == (
        "ACCOMPLISHED",
        "100%",
        "before the upgrade",
    )
    assert finished.desktop_id == DESKTOP and finished.snapshot_type == "USER"
    one = alice.call("describe_snapshots", snapshot_id="s-done0000000000000001").snapshots
    assert [s.snapshot_id for s in one] == ["s-done0000000000000001"]
    paged = alice.call("describe_snapshots", max_results=1)
    assert len(paged.snapshots) == 1 and paged.next_token

    running = refused(alice.call, "reset_snapshot", snapshot_id=done.snapshot_id)
    assert running.code == "IncorrectDesktopStatus"  # the desktop must be stopped
    not_ready = refused(alice.call, "reset_snapshot", snapshot_id="s-busy0000000000000001", stop_desktop=True)
    assert (not_ready.code, not_ready.status_code) == ("IncorrectSnapshotStatus", 400)
    for snapshot_id in ("s-bobs0000000000000001", "s-nope0000000000000001"):
        error = refused(alice.call, "reset_snapshot", snapshot_id=snapshot_id, stop_desktop=True)
        assert (error.code, error.status_code) == ("InvalidSnapshotId.NotFound", 404)
    alice.call("reset_snapshot", snapshot_id=done.snapshot_id, desktop_id=DESKTOP, stop_desktop=True)
    assert status(alice) == "Stopping"  # StopDesktop stops it on the way
    assert cloud.wuying.desktop(DESKTOP).restored_snapshot_id == done.snapshot_id
    cloud.clock.advance(seconds=20)
    assert status(alice) == "Stopped"
    alice.call("reset_snapshot", snapshot_id=done.snapshot_id)  # a stopped desktop needs nothing more


# ---- unbinding, FOTA, recording ---------------------------------------------------------------------------


def test_unbinding_a_desktop_refuses_while_connected_unless_forced(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    task = alice.call("get_connection_ticket", desktop_id=DESKTOP).task_id
    cloud.clock.advance(seconds=2)
    ticket = alice.call("get_connection_ticket", task_id=task).ticket
    cloud.wuying.redeem_ticket(ticket)
    busy = refused(alice.call, "unbind_user_desktop", user_desktop_id=DESKTOP)
    assert busy.code == "IncorrectDesktopStatus" and "Force" in busy.data["Message"]
    alice.call("unbind_user_desktop", user_desktop_id=DESKTOP, force=True)
    assert alice.call("describe_user_resources").resources == []
    assert cloud.wuying.desktop(DESKTOP).assigned == {}
    assert refused(alice.call, "start_desktops", desktop_id=[DESKTOP]).code == "InvalidDesktopId.NotFound"
    gone = alice.call("get_connection_ticket", task_id=task)
    assert (gone.task_status, gone.task_code, gone.ticket) == ("FAILED", "InvalidDesktopId.NotFound", None)
    assert cloud.wuying.connection_ticket(ticket).revoked
    with pytest.raises(MockCloudError, match="revoked"):
        cloud.wuying.redeem_ticket(ticket)
    cloud.wuying.bind_desktop(DESKTOP, "alice")
    alice.call("unbind_user_desktop", user_desktop_id=DESKTOP)  # not connected: no Force needed


def test_an_approved_fota_update_rebuilds_the_desktop(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, fota_version="2.1.0", fota_release_note="Faster logons")
    [desktop] = alice.call("describe_global_desktops", query_fota_update=True).desktops
    fota = desktop.fota_update
    assert (fota.current_app_version, fota.new_app_version, fota.release_note) == ("1.0.0", "2.1.0", "Faster logons")
    assert alice.call("describe_user_resources").resources[0].has_upgrade is True
    wrong = refused(alice.call, "approve_fota_update", desktop_id=DESKTOP, app_version="9.9.9")
    assert (wrong.code, wrong.status_code) == ("InvalidAppVersion", 400)
    assert refused(alice.call, "approve_fota_update", app_version="2.1.0").code == "MissingDesktopId"
    alice.call("approve_fota_update", desktop_id=DESKTOP, app_version="2.1.0")
    assert status(alice) == "Rebuilding"
    cloud.clock.advance(seconds=60)
    assert status(alice) == "Running"  # "After the OTA update is complete, the state changes to RUNNING"
    [updated] = alice.call("describe_global_desktops", query_fota_update=True).desktops
    assert (updated.fota_update.current_app_version, updated.fota_update.new_app_version) == ("2.1.0", "")
    assert refused(alice.call, "approve_fota_update", desktop_id=DESKTOP, app_version="2.1.0").code == (
        "InvalidAppVersion"
    )


def test_content_recording_starts_and_stops_once(cloud, alice):
    assert refused(alice.call, "start_record_content", desktop_id=DESKTOP).code == "IncorrectDesktopStatus"
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    alice.call("start_record_content", desktop_id=DESKTOP, file_path="D:\\records\\today.mp4")
    recording = cloud.wuying.desktop(DESKTOP).recording
    assert (recording["end_user_id"], recording["file_path"]) == ("alice", "D:\\records\\today.mp4")
    error = refused(alice.call, "start_record_content", desktop_id=DESKTOP)
    assert (error.code, error.status_code) == ("RecordContent.AlreadyStarted", 400)
    alice.call("stop_record_content", desktop_id=DESKTOP)
    assert cloud.wuying.desktop(DESKTOP).recording is None
    assert refused(alice.call, "stop_record_content", desktop_id=DESKTOP).code == "RecordContent.NotStarted"
    assert refused(alice.call, "stop_record_content").code == "MissingDesktopId"


# ---- what a desktop's agent reports --------------------------------------------------------------------------


def test_the_agent_reports_sessions_and_its_info(cloud, ecd, alice):
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    instance = cloud.wuying.desktop(DESKTOP).ecs_instance_id
    report = {"region_id": REGION, "session_id": "2", "session_change_time": 1642909143781}
    ecd.report_session_status(
        models.ReportSessionStatusRequest(
            instance_id=instance, session_status="SessionLogOn", end_user_id="alice", **report
        )
    )
    [desktop] = alice.call("describe_global_desktops").desktops
    assert desktop.connection_status == "Connected"
    assert (desktop.sessions[0].end_user_id, desktop.sessions[0].establishment_time) == (
        "alice",
        "2022-01-23T03:39:03Z",
    )
    assert alice.call("describe_user_resources").resources[0].resource_session_status == "Connected"
    ecd.report_session_status(
        models.ReportSessionStatusRequest(instance_id=DESKTOP, session_status="SessionLogOff", **report)
    )
    assert alice.call("describe_global_desktops").desktops[0].connection_status == "Disconnected"
    for bad in ({"instance_id": "i-nothere"}, {"instance_id": DESKTOP, "region_id": "cn-beijing"}):
        request = models.ReportSessionStatusRequest(**{**report, "session_status": "SessionLogOn", **bad})
        error = refused(ecd.report_session_status, request)
        assert (error.code, error.status_code) == ("InvalidInstanceId.NotFound", 404)
    odd = models.ReportSessionStatusRequest(instance_id=DESKTOP, session_status="LoggedOn", **report)
    assert refused(ecd.report_session_status, odd).code == "InvalidSessionStatus"

    ecd.report_eds_agent_info(
        models.ReportEdsAgentInfoRequest(
            desktop_id=DESKTOP, eds_agent_info='{"version":"3.2.1"}', ali_uid=1234567890123456
        )
    )
    assert cloud.wuying.desktop(DESKTOP).agent_info == '{"version":"3.2.1"}'
    default = ecd.query_eds_agent_report_config(models.QueryEdsAgentReportConfigRequest(desktop_id=DESKTOP)).body
    assert default.data.config == '{"ReportInterval":300,"Enabled":true}'
    cloud.wuying.update_desktop(DESKTOP, agent_report_config='{"ReportInterval":60}')
    by_instance = ecd.query_eds_agent_report_config(models.QueryEdsAgentReportConfigRequest(ecs_instance_id=instance))
    assert by_instance.body.data.config == '{"ReportInterval":60}'
    wrong_tenant = models.QueryEdsAgentReportConfigRequest(desktop_id=DESKTOP, ali_uid=1)
    assert refused(ecd.query_eds_agent_report_config, wrong_tenant).code == "InvalidInstanceId.NotFound"
    anonymous = models.QueryEdsAgentReportConfigRequest()
    assert refused(ecd.query_eds_agent_report_config, anonymous).code == "MissingDesktopId"
    empty = models.ReportEdsAgentInfoRequest(desktop_id=DESKTOP)
    assert refused(ecd.report_eds_agent_info, empty).code == "MissingEdsAgentInfo"


# ---- the dashboard's Tokens panel -------------------------------------------------------------------------


def test_the_inventory_shows_tickets_and_mount_tokens_with_their_expiry_and_no_secret(cloud, alice):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.update_desktop(DESKTOP, status="Running")
    ticket = alice.ticket(cloud, DESKTOP)
    mount = alice.call("get_cloud_drive_service_mount_token").token.token
    entries = cloud.wuying.inventory()
    text = json.dumps(entries)
    gw_token = gw_token_of(ticket)
    for secret in (ticket, gw_token, mount, alice.login_token, alice.session_id):
        assert secret not in text and secret[:16] not in text
    [listed] = [e for e in entries if e["kind"] == "connection_ticket"]
    assert (listed["id"], listed["subject"], listed["state"]) == (short_id(gw_token), "alice", "active")
    assert listed["expires"] - listed["issued"] == 300
    [drive] = [e for e in entries if e["kind"] == "mount_token"]
    assert (drive["id"], drive["state"], drive["expires"] - drive["issued"]) == (short_id(mount), "active", 3600)
    cloud.wuying.redeem_ticket(ticket)
    states = {
        e["kind"]: e["state"] for e in cloud.wuying.inventory() if e["kind"] in ("connection_ticket", "mount_token")
    }
    assert states == {"connection_ticket": "used", "mount_token": "active"}
    cloud.wuying.logout(alice.login_token)
    after = {e["kind"]: e["state"] for e in cloud.wuying.inventory() if e["kind"] in ("login_token", "mount_token")}
    assert after == {"login_token": "revoked", "mount_token": "revoked"}


# ---- the tea SDK's other ways: its async methods, and call_api signed (ACS3 with Action in a header, and v1) ----


def test_the_async_methods_go_through_the_lifecycle(backend, cloud):
    """aiohttp under the tea client's async methods (in-process through the aiohttp interceptor)."""
    cloud.clock.freeze(int(cloud.clock.time()))
    ecd = backend.client(protocol="http")
    alice = Session.logon(ecd)

    async def day() -> list[str]:
        seen = []
        await ecd.start_desktops_async(alice.request("start_desktops", desktop_id=[DESKTOP]))
        task = (await ecd.get_connection_ticket_async(alice.request("get_connection_ticket", desktop_id=DESKTOP))).body
        seen.append(task.task_status)
        cloud.clock.advance(seconds=30)
        polled = await ecd.get_connection_ticket_async(alice.request("get_connection_ticket", task_id=task.task_id))
        seen.append(polled.body.task_status)
        listed = await ecd.describe_global_desktops_async(alice.request("describe_global_desktops"))
        seen.append(listed.body.desktops[0].desktop_status)
        return seen

    assert asyncio.run(day()) == ["RUNNING", "FINISHED", "Running"]


@pytest.mark.parametrize("algorithm", [None, "v2"])  # None: ACS3-HMAC-SHA256 (call_api's default); "v2": RPC v1
def test_signed_call_api_reaches_the_client_operations(backend, cloud, algorithm):
    extra = {"signature_algorithm": algorithm} if algorithm else {}
    signed = backend.client(access_key_id="testing", access_key_secret="testing", **extra)
    alice = Session.logon(backend.client())
    params = utils_models.Params(
        action="DescribeGlobalDesktops",
        version="2020-10-02",
        protocol="HTTPS",
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )
    query = TeaUtils.query(alice.request("describe_global_desktops", desktop_id=[DESKTOP, "ecd-x"]).to_map())
    answer = signed.call_api(params, utils_models.OpenApiRequest(query=query), RuntimeOptions())
    assert [d["DesktopId"] for d in answer["body"]["Desktops"]] == [DESKTOP]
    wrong = backend.client(access_key_id="testing", access_key_secret="wrong", **extra)
    with pytest.raises(ClientException) as error:
        wrong.call_api(params, utils_models.OpenApiRequest(query=query), RuntimeOptions())
    assert error.value.code == "SignatureDoesNotMatch"
