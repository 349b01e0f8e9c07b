"""A WUYING client's day with the tea SDK, in-process and against the live server.

Logon with a password and an MFA code, the user's resources, starting the desktop and waiting for it on
the mock clock, a connection ticket polled to the end, an hour kept alive by refreshing the LoginToken every
10 minutes, a password change that ends the old token, and the desktop stopped; then the same day without
refreshing, where the first call after 15 minutes meets the expired-token error.
"""

from __future__ import annotations

import base64

import pytest
from alibabacloud_tea_openapi.exceptions import ClientException

from tests.services.wuying.support import Session
from tests.services.wuying.test_wuying import _no_proxies  # noqa: F401

SITE = "cn-hangzhou+dir-0123456789"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # dana's authenticator app
DESKTOP = "ecd-danasdesktop0001"


@pytest.fixture
def dana(cloud):
    cloud.clock.freeze(int(cloud.clock.time()))
    cloud.wuying.create_user("dana", "Dana-Passw0rd", mfa=True, mfa_secret=SECRET, email="dana@example.com")
    cloud.wuying.create_desktop(DESKTOP, end_user_ids=["dana"], desktop_name="Dana's desktop", status="Stopped")


def log_on_with_password_and_mfa(cloud, ecd) -> Session:
    session = Session.logon_with_mfa(cloud, ecd, "dana", "Dana-Passw0rd", "dana-laptop")
    assert session.login_token.startswith("v1")
    return session


def desktop_status(dana: Session) -> str:
    [desktop] = dana.call("describe_global_desktops", desktop_id=[DESKTOP]).desktops
    return desktop.desktop_status


def test_a_clients_day(cloud, ecd, dana):
    session = log_on_with_password_and_mfa(cloud, ecd)
    [resource] = session.call("describe_user_resources").resources
    assert (resource.resource_id, resource.resource_status) == (DESKTOP, "Stopped")

    session.call("start_desktops", desktop_id=[DESKTOP])
    waited = 0
    while desktop_status(session) != "Running":
        assert desktop_status(session) == "Starting" and waited < 300
        cloud.clock.advance(seconds=5)
        waited += 5
    assert waited == 30

    task = session.call("get_connection_ticket", desktop_id=DESKTOP)
    assert task.task_status == "RUNNING" and task.task_id
    polls = 0
    while (answer := session.call("get_connection_ticket", task_id=task.task_id)).task_status == "RUNNING":
        polls += 1
        assert polls < 20
        cloud.clock.advance(seconds=1)
    assert answer.task_status == "FINISHED" and b"[Desktop]" in base64.b64decode(answer.ticket)
    cloud.wuying.redeem_ticket(answer.ticket, DESKTOP)
    assert session.call("describe_global_desktops").desktops[0].connection_status == "Connected"

    for _ in range(6):  # an hour, refreshed every 10 minutes
        cloud.clock.advance(minutes=10)
        stale = session.login_token
        session.refresh()
        assert session.call("describe_user_resources").total_count == 1
        with pytest.raises(ClientException) as replaced:
            session.but(login_token=stale).call("describe_user_resources")
        assert replaced.value.code == "InvalidLoginToken.Replaced"

    old = session.login_token
    session.login_token = session.call(
        "change_password",
        end_user_id="dana",
        office_site_id=SITE,
        old_password="Dana-Passw0rd",
        new_password="Dana-N3w-Passw0rd",
    ).login_token
    with pytest.raises(ClientException) as revoked:
        session.but(login_token=old).call("describe_global_desktops")
    assert (revoked.value.code, revoked.value.status_code) == ("InvalidLoginToken.Revoked", 400)

    session.call("stop_desktops", desktop_id=[DESKTOP])
    assert desktop_status(session) == "Stopping"
    cloud.clock.advance(seconds=20)
    assert desktop_status(session) == "Stopped"
    assert session.call("describe_global_desktops").desktops[0].connection_status == "Disconnected"


def test_the_same_day_without_refreshing_expires_after_15_minutes(cloud, ecd, dana):
    session = log_on_with_password_and_mfa(cloud, ecd)
    session.call("start_desktops", desktop_id=[DESKTOP])
    cloud.clock.advance(minutes=14, seconds=59)
    assert desktop_status(session) == "Running"
    cloud.clock.advance(seconds=1)
    with pytest.raises(ClientException) as expired:
        session.call("get_connection_ticket", desktop_id=DESKTOP)
    error = expired.value
    assert (error.code, error.status_code) == ("InvalidLoginToken.Expired", 400)
    assert error.data["Message"] == "The LoginToken has expired. Log on again."
    with pytest.raises(ClientException) as too_late:
        session.refresh()
    assert too_late.value.code == "InvalidLoginToken.Expired"  # an expired token cannot be refreshed either
    again = log_on_with_password_and_mfa(cloud, ecd)
    assert again.call("describe_global_desktops").desktops[0].desktop_status == "Running"
