"""WUYING desktops, connections and account records through a snapshot: restored exactly, and going on where they were.

Tests that take ``backend`` run in-process (the snapshot restored into a new ``mock_cloud()``) and against a
live server (``GET``/``PUT /_mockcloud/state``, the server reset in between); the client is the tea SDK.
"""

from __future__ import annotations

import copy
import json

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from mockcloud import MockCloudError, mock_cloud
from tests.services.wuying.support import Backend, Session
from tests.services.wuying.test_wuying import _no_proxies  # noqa: F401
from tests.snapshot_helpers import assert_valid, restored_backend

SITE = "cn-hangzhou+dir-0123456789"
DESKTOP = "ecd-0123456789abcdefg"
PASSWORD = "Alice-Passw0rd"


def workspace_state(backend) -> dict:
    """Desktops mid-transition, tasks and tickets, snapshots, templates, a mount token, a reset, a ClientToken."""
    cloud = backend.cloud
    cloud.clock.freeze(int(cloud.clock.time()))
    alice = Session.logon(backend.client())
    wuying = cloud.wuying
    wuying.create_desktop("ecd-runningdesktop01", end_user_ids=["alice"], desktop_name="Running one")
    wuying.create_desktop("ecd-fotadesktop00001", end_user_ids=["alice"], fota_version="3.0.0")
    wuying.create_snapshot(DESKTOP, "s-done0000000000000001", snapshot_name="done")
    wuying.create_snapshot(DESKTOP, "s-busy0000000000000001", seconds=120)
    state = {"alice": alice}
    # a finished task's unused ticket, and a task still waiting for its desktop
    task = alice.call("get_connection_ticket", desktop_id="ecd-runningdesktop01").task_id
    wuying.update_desktop("ecd-runningdesktop01", agent_report_config='{"ReportInterval":30}')
    cloud.clock.advance(seconds=2)
    state["ticket"] = alice.call("get_connection_ticket", task_id=task).ticket
    alice.call("start_record_content", desktop_id="ecd-runningdesktop01", file_path="/r.mp4")
    alice.call("start_desktops", desktop_id=[DESKTOP], client_token="start-once")
    state["waiting"] = alice.call("get_connection_ticket", desktop_id=DESKTOP).task_id
    alice.call("approve_fota_update", desktop_id="ecd-fotadesktop00001", app_version="3.0.0")
    state["sealed"] = alice.call("encrypt_password", password=PASSWORD).encrypted_password
    alice.call("set_finger_print_template", password=PASSWORD, finger_print_template="minutiae", description="thumb")
    state["mount"] = alice.call("get_cloud_drive_service_mount_token").token.token
    backend.client().reset_password(
        alice.request("reset_password", end_user_id="alice", office_site_id=SITE, email="alice@example.com")
    )
    cloud.clock.advance(seconds=10)  # DESKTOP: Starting, 20 s to go; the FOTA desktop: Rebuilding, 50 s to go
    return state


def test_the_round_trip_is_exact_and_everything_goes_on(backend):
    state = workspace_state(backend)
    document = backend.cloud.snapshot()
    assert_valid(document, "wuying")
    text = json.dumps(document)
    assert "minutiae" not in text and PASSWORD not in text  # a template by its hash, a password never
    section = document["wuying"]
    assert {"desktops", "desktop_snapshots", "connection_tasks", "connection_tickets", "fingerprint_templates"} <= set(
        section
    )
    starting = next(d for d in section["desktops"] if d["desktop_id"] == DESKTOP)
    assert starting["status"] == "Running" and starting["phases"][0][0] == "Starting"

    with restored_backend(backend, document) as again:
        cloud = again.cloud
        assert cloud.snapshot() == document
        alice = state["alice"]
        alice.ecd = again.client()
        # the transitions under way finish on time
        assert cloud.wuying.desktop_status(DESKTOP) == "Starting"
        assert cloud.wuying.desktop_status("ecd-fotadesktop00001") == "Rebuilding"
        assert alice.call("get_connection_ticket", task_id=state["waiting"]).task_status == "RUNNING"
        cloud.clock.advance(seconds=20)
        assert cloud.wuying.desktop_status(DESKTOP) == "Running"
        assert alice.call("get_connection_ticket", task_id=state["waiting"]).task_status == "FINISHED"
        cloud.clock.advance(seconds=30)
        [fota] = alice.call(
            "describe_global_desktops", desktop_id=["ecd-fotadesktop00001"], query_fota_update=True
        ).desktops
        assert (fota.desktop_status, fota.fota_update.current_app_version) == ("Running", "3.0.0")
        # the ClientToken still answers its first answer
        alice.call("start_desktops", desktop_id=[DESKTOP], client_token="start-once")
        # the unused ticket connects, once; the recording goes on
        cloud.wuying.redeem_ticket(state["ticket"], "ecd-runningdesktop01")
        with pytest.raises(MockCloudError, match="already used"):
            cloud.wuying.redeem_ticket(state["ticket"])
        assert cloud.wuying.desktop("ecd-runningdesktop01").recording["file_path"] == "/r.mp4"
        with pytest.raises(ClientException) as started:
            alice.call("start_record_content", desktop_id="ecd-runningdesktop01")
        assert started.value.code == "RecordContent.AlreadyStarted"
        # snapshots, templates, the sealed password, the mount token and the reset are what they were
        busy = alice.call("describe_snapshots", snapshot_id="s-busy0000000000000001").snapshots[0]
        assert (busy.status, busy.remain_time) == ("PROGRESSING", 120 - 62)
        alice.call("verify_credential", office_site_id=SITE, credential=state["sealed"], encrypted_key="k")
        alice.call("verify_credential", office_site_id=SITE, credential="minutiae", credential_type="FingerPrint")
        assert [t.description for t in alice.call("describe_finger_print_templates").finger_print_templates] == [
            "thumb"
        ]
        assert cloud.wuying.mount_token_valid(state["mount"])
        cloud.wuying.complete_password_reset("alice", "Restored-Passw0rd!")
        assert not cloud.wuying.mount_token_valid(state["mount"])


def test_a_restored_seeded_mock_makes_the_same_desktops_and_tickets():
    def next_steps(cloud, alice: Session) -> list:
        alice.ecd = Backend(cloud).client()
        made = cloud.wuying.create_desktop(end_user_ids=["alice"])
        task = alice.call("get_connection_ticket", desktop_id=made.desktop_id)
        cloud.clock.advance(seconds=2)
        return [
            made.desktop_id,
            made.image_id,
            task.task_id,
            alice.call("get_connection_ticket", task_id=task.task_id).ticket,
        ]

    with mock_cloud(services=["wuying"], seed=7) as original:
        state = workspace_state(Backend(original))
        document = original.snapshot()
        expected = next_steps(original, state["alice"])
    with mock_cloud(services=["wuying"]) as fresh:
        fresh.restore(document)
        assert next_steps(fresh, state["alice"]) == expected


def _corruptions(section: dict) -> list:
    def changed(change) -> dict:
        copied = copy.deepcopy(section)
        change(copied)
        return copied

    return [
        changed(lambda s: s["desktops"][0]["assigned"].update(nobody=0)),
        changed(lambda s: s["desktops"][0].update(office_site_id="cn-hangzhou+dir-nope")),
        changed(lambda s: s["desktops"][0].update(status="Hibernating")),
        changed(lambda s: s["desktop_snapshots"][0].update(desktop_id="ecd-nope")),
        changed(lambda s: s["connection_tickets"][0].update(desktop_id="ecd-nope")),
        changed(lambda s: s["connection_tickets"].append(s["connection_tickets"][0])),
        changed(lambda s: s["fingerprint_templates"][0].update(end_user_id="nobody")),
        changed(lambda s: s["mount_tokens"].append(s["mount_tokens"][0])),
        changed(lambda s: s.update(encryption_key="short")),
        changed(lambda s: s["desktops"][0].update(end_user_ids=["alice"])),  # fixtures' form in a snapshot's desktop
    ]


def test_a_corrupted_section_is_refused_and_changes_nothing(backend):
    workspace_state(backend)
    document = backend.cloud.snapshot()
    for section in _corruptions(document["wuying"]):
        with pytest.raises(MockCloudError):
            backend.cloud.restore({**document, "wuying": section})
        assert backend.cloud.snapshot() == document


def test_fixtures_make_desktops_and_snapshots(tmp_path):
    fixtures = {
        "wuying": {
            "office_sites": [{"office_site_id": SITE, "name": "Example office"}],
            "users": [{"end_user_id": "alice", "password": PASSWORD}],
            "desktops": [
                {"desktop_id": "ecd-fromfixtures0001", "end_user_ids": ["alice"], "status": "Stopped", "cpu": 8}
            ],
            "desktop_snapshots": [{"desktop_id": "ecd-fromfixtures0001", "snapshot_id": "s-f", "seconds": 30}],
        }
    }
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(fixtures))
    with mock_cloud(services=["wuying"], fixtures=path) as cloud:
        alice = Session.logon(Backend(cloud).client())
        [desktop] = alice.call("describe_global_desktops").desktops
        assert (desktop.desktop_id, desktop.desktop_status, desktop.cpu) == ("ecd-fromfixtures0001", "Stopped", 8)
        assert alice.call("describe_snapshots").snapshots[0].status == "PROGRESSING"
    bad = copy.deepcopy(fixtures)
    bad["wuying"]["desktops"][0]["end_user_ids"] = ["nobody"]
    path.write_text(json.dumps(bad))
    with mock_cloud(services=["wuying"], fixtures=path) as cloud, pytest.raises(MockCloudError, match="nobody"):
        cloud.wuying.desktops  # noqa: B018  (the model is built, from its fixtures, when first used)
