"""WUYING's desktops: the cloud computers bound to end users, their snapshots, and the connections to them.

A desktop is in a settled status, or on its way to it through timed phases on the mock clock. StartDesktops
takes a ``Stopped`` desktop through ``Starting`` (``desktop_start_seconds``) to ``Running``; StopDesktops a
``Running`` one through ``Stopping`` (``desktop_stop_seconds``) to ``Stopped``; RebootDesktops through
``Stopping`` and ``Starting`` back to ``Running``; ApproveFotaUpdate through ``Rebuilding``. The status at a
moment is worked out from the phases, so reading never writes, and a test moves the clock to see a desktop come
up. Acting on a desktop in a status the operation does not take is ``IncorrectDesktopStatus``.

GetConnectionTicket is a task: the first call answers a ``TaskId`` and ``TaskStatus=RUNNING`` (starting a
stopped desktop on the way, as a client connecting does); a poll with the ``TaskId`` answers ``FINISHED`` and
the ticket once the desktop is ``Running`` and the task's own set-up time is over, or ``FAILED`` when the
desktop went away. The ticket (base64 of the ``[Desktop]`` file a client opens) carries a gateway token tied
to the desktop, the user and the logon session; it expires, and the desktop's gateway (:meth:`redeem_ticket`)
takes it once.

Every record is a dataclass by its id, referring to others by id; the model's lock guards every change.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import string
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ...core.credentials import same_secret
from ...core.entities import KEPT_SECONDS, Kind
from ...core.errors import MockCloudError, ServiceError
from ...core.pagination import BadPageToken, paginate
from ...core.sections import keyed, record
from ...core.service import ServiceContext
from ...core.timestamps import utc_iso
from .errors import InvalidInput, MissingInput
from .logon import LoginToken, Presented
from .part import ModelPart, Shared, add_key, drop_key, keys, of, text

# DescribeGlobalDesktops' DesktopStatus values (the ecd SDKs' documentation), and Failed (a creation that failed)
DESKTOP_STATUSES = (
    "Pending",
    "Starting",
    "Running",
    "Stopping",
    "Stopped",
    "Rebuilding",
    "Expired",
    "Deleted",
    "Failed",
)
# the statuses a connection task waits through for the desktop to come up
_COMING_UP = frozenset({"Pending", "Starting", "Rebuilding"})
# session changes a desktop's agent reports (ReportSessionStatus), by what they do to the session
_SESSION_UP = frozenset({"SessionLogOn", "SessionConnect", "SessionReconnect", "SessionUnlock"})
_SESSION_DOWN = frozenset({"SessionLogOff", "SessionDisconnect"})
_ID_ALPHABET = string.ascii_lowercase + string.digits
_POSTPAID_EXPIRY = "2099-12-31T15:59Z"  # what the documentation says pay-as-you-go desktops show


def minutes_iso(seconds: float) -> str:
    """``YYYY-MM-DDTHH:MMZ``: how DescribeGlobalDesktops writes its times."""
    return utc_iso(seconds)[:-4] + "Z"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(slots=True)
class Desktop:
    desktop_id: str
    office_site_id: str
    desktop_name: str
    created: float
    assigned: dict[str, float] = field(default_factory=dict)  # end user → when bound, in binding order
    status: str = "Running"  # the settled status, once the phases are over
    phases: list[list[Any]] = field(default_factory=list)  # [[status, until], ...] on the way to it
    desktop_type: str = "ecd.basic.large"
    cpu: int = 2
    memory: int = 4096  # MiB
    gpu_memory: int = 0  # MB
    os_type: str = "Windows"
    platform: str = "Windows Server 2019"
    image_id: str = ""
    protocol_type: str = "ASP"
    charge_type: str = "PostPaid"
    expired_time: float | None = None  # a subscription's end: Expired from then on
    host_name: str = ""
    network_interface_ip: str = ""
    policy_group_id: str = "system-all-enabled-policy"
    system_disk_size: int = 80  # GiB
    data_disk_size: int = 0  # GiB; 0: no data disk
    user_custom_name: str = ""
    ecs_instance_id: str = ""
    app_version: str = "1.0.0"  # the image version (FOTA)
    fota_version: str | None = None  # an image update ApproveFotaUpdate may take
    fota_release_note: str = ""
    last_start: float | None = None
    sessions: list[dict[str, Any]] = field(default_factory=list)  # connected: {end_user_id, session_id, established}
    recording: dict[str, Any] | None = None  # {end_user_id, file_path, started}
    restored_snapshot_id: str | None = None  # the last snapshot ResetSnapshot restored
    agent_info: str | None = None  # what ReportEdsAgentInfo last reported
    agent_reported: float | None = None
    agent_report_config: str | None = None  # QueryEdsAgentReportConfig's answer (else the setting's)

    @property
    def end_user_ids(self) -> list[str]:
        return list(self.assigned)

    def status_at(self, now: float) -> str:
        if self.expired_time is not None and now >= self.expired_time and self.status != "Deleted":
            return "Expired"
        for status, until in self.phases:
            if now < float(until):
                return str(status)
        return self.status

    def go(self, now: float, steps: Sequence[tuple[str, float]], settled: str) -> None:
        """Walk through ``steps`` (status, seconds) from now, then rest in ``settled``."""
        at, phases = now, []
        for status, seconds in steps:
            at += seconds
            if seconds > 0:
                phases.append([status, at])
        self.phases = phases
        self.status = settled


@dataclass(slots=True)
class DesktopSnapshot:
    snapshot_id: str
    desktop_id: str
    created: float
    ready: float  # ACCOMPLISHED from then on (PROGRESSING before)
    snapshot_name: str = ""
    description: str = ""
    snapshot_type: str = "USER"  # USER or AUTO
    source_disk_type: str = "SYSTEM"  # SYSTEM or DATA
    source_disk_size: int = 80  # GiB
    failed: bool = False
    restore_point_id: str | None = None
    restore_point_name: str | None = None

    def status_at(self, now: float) -> str:
        if self.failed:
            return "FAILED"
        return "ACCOMPLISHED" if now >= self.ready else "PROGRESSING"


@dataclass(slots=True)
class ConnectionTask:
    task_id: str
    desktop_id: str
    end_user_id: str
    session_id: str
    client_id: str
    created: float
    ready: float  # the connection's own set-up: no ticket before then
    status: str = "RUNNING"  # RUNNING until a poll finds it FINISHED or FAILED
    ticket_id: str | None = None  # the ticket it answered (its GWToken's SHA-256)
    code: str | None = None  # why it failed
    message: str | None = None
    ticket_expires: float | None = None  # when its last ticket expires (not in a snapshot: from its ticket)


@dataclass(slots=True)
class ConnectionTicket:
    gw_token: str  # the secret the desktop's gateway takes
    task_id: str
    desktop_id: str
    end_user_id: str
    session_id: str
    client_id: str
    region_id: str
    issued: float
    expires: float
    used: bool = False  # a gateway took it (redeem_ticket)
    revoked: bool = False  # its session was revoked

    @property
    def ticket_id(self) -> str:
        return _digest(self.gw_token)

    def text(self, protocol_type: str) -> str:
        """The ticket as GetConnectionTicket answers it: base64 of the connection file a client opens."""
        lines = [
            "[Desktop]",
            f"GWToken={self.gw_token}",
            f"DesktopId={self.desktop_id}",
            f"EndUserId={self.end_user_id}",
            f"RegionId={self.region_id}",
            f"ProtocolType={protocol_type}",
            f"ExpireTime={utc_iso(self.expires)}",
        ]
        return base64.b64encode(("\r\n".join(lines) + "\r\n").encode()).decode("ascii")

    def live(self, now: float) -> bool:
        return not (self.used or self.revoked) and now < self.expires


def gw_token_of(ticket: str) -> str:
    """The GWToken in a ticket (its base64 text, or the token itself)."""
    try:
        text = base64.b64decode(ticket.encode("ascii"), validate=True).decode("utf-8")
    except (ValueError, UnicodeError):
        return ticket
    for line in text.splitlines():
        name, sep, value = line.partition("=")
        if sep and name == "GWToken":
            return value
    return ticket


# the fields a fixtures (or create_desktop) desktop may set, beyond its id, site and users
DESKTOP_FIELDS = frozenset(
    name
    for name in Desktop.__dataclass_fields__
    if name not in ("desktop_id", "office_site_id", "assigned", "phases", "created")
)
SNAPSHOT_FIELDS = frozenset(
    name
    for name in DesktopSnapshot.__dataclass_fields__
    if name not in ("snapshot_id", "desktop_id", "created", "ready")
)


def _desktop_dump(desktop: Desktop) -> dict[str, Any]:
    return {
        **record(desktop),
        "phases": [list(p) for p in desktop.phases],
        "sessions": [dict(s) for s in desktop.sessions],
    }


def _task_dead_at(task: ConnectionTask) -> float:
    """A task is polled until its ticket is past use (or, without one, a day after it was set up)."""
    return max(task.ready, task.ticket_expires or 0.0) + KEPT_SECONDS


def _ticket_dead_at(ticket: ConnectionTicket) -> float:
    return ticket.expires + KEPT_SECONDS


# the records, by key: a desktop (its id), a user's desktops (end user id -> desktop ids), a desktop by its ECS
# instance id (-> desktop id), a snapshot (its id), a desktop's snapshots (desktop id -> snapshot ids), a
# connection task (its id), a connection ticket (the SHA-256 of its GWToken)
DESKTOP: Kind[Desktop] = Kind("desktop", _desktop_dump, of(Desktop))
DESKTOPS_OF: Kind[list[str]] = Kind("desktops_of", list, keys)
INSTANCE: Kind[str] = Kind("instance", str, text)
DESKTOP_SNAPSHOT: Kind[DesktopSnapshot] = Kind("desktop_snapshot", record, of(DesktopSnapshot))
SNAPSHOTS_OF: Kind[list[str]] = Kind("snapshots_of", list, keys)
CONNECTION_TASK: Kind[ConnectionTask] = Kind("connection_task", record, of(ConnectionTask), _task_dead_at)
CONNECTION_TICKET: Kind[ConnectionTicket] = Kind("connection_ticket", record, of(ConnectionTicket), _ticket_dead_at)


class Workspace(ModelPart):
    """Desktops, their snapshots, and connection tasks and tickets; the model's lock guards every change."""

    def __init__(self, shared: Shared, context: ServiceContext) -> None:
        super().__init__(shared)
        self._desktops = context.table(DESKTOP)
        self._desktops_of = context.table(DESKTOPS_OF)
        self._instances = context.table(INSTANCE)
        self._snapshots = context.table(DESKTOP_SNAPSHOT)
        self._snapshots_of = context.table(SNAPSHOTS_OF)
        self._tasks = context.table(CONNECTION_TASK)
        self._tickets = context.table(CONNECTION_TICKET)  # by the SHA-256 of the GWToken

    # ---- snapshots ----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "desktops": [_desktop_dump(d) for d in self._desktops.values()],
                "desktop_snapshots": [record(s) for s in self._snapshots.values()],
                "connection_tasks": [record(t, omit=("ticket_expires",)) for t in self._tasks.values()],
                "connection_tickets": [record(t) for t in self._tickets.values()],
            }

    def save(self, desktop: Desktop) -> None:
        """Write a desktop back, with the indexes of its users and its ECS instance."""
        old = self._desktops.get(desktop.desktop_id)
        if old is not None and old is not desktop:
            self._unindex(old)
        self._desktops[desktop.desktop_id] = desktop
        for end_user_id in desktop.assigned:
            add_key(self._desktops_of, end_user_id, desktop.desktop_id)
        if desktop.ecs_instance_id and self._instances.get(desktop.ecs_instance_id) != desktop.desktop_id:
            self._instances[desktop.ecs_instance_id] = desktop.desktop_id

    def _unindex(self, desktop: Desktop) -> None:
        for end_user_id in desktop.assigned:
            drop_key(self._desktops_of, end_user_id, desktop.desktop_id)
        if desktop.ecs_instance_id and self._instances.get(desktop.ecs_instance_id) == desktop.desktop_id:
            del self._instances[desktop.ecs_instance_id]

    def desktops_of(self, end_user_id: str) -> list[Desktop]:
        """The user's desktops, by the index written with them."""
        found = (self._desktops.get(desktop_id) for desktop_id in self._desktops_of.get(end_user_id) or ())
        return [d for d in found if d is not None and end_user_id in d.assigned]

    def load(self, section: dict[str, Any]) -> None:
        """Desktops and snapshots of fixtures (made as the helpers make them) or of a snapshot (as they were)."""
        keyed([item for item in section.get("desktops", ()) if "desktop_id" in item], _id("desktop_id"), "desktops")
        keyed(section.get("desktop_snapshots", ()), _id("snapshot_id"), "desktop snapshots")
        for item in section.get("desktops", ()):
            if "created" in item:  # a snapshot's desktop: every field as it was
                desktop = Desktop(**item)
                self._check_desktop(desktop)
                with self._lock:
                    self.save(desktop)
            else:
                self.create_desktop(**item)
        for item in section.get("desktop_snapshots", ()):
            if "created" in item:
                snapshot = DesktopSnapshot(**item)
                if snapshot.desktop_id not in self._desktops:
                    raise MockCloudError(f"the snapshot {snapshot.snapshot_id!r} is of a desktop that is not there")
                with self._lock:
                    self._save_snapshot(snapshot)
            else:
                self.create_snapshot(**item)
        tasks = keyed(
            [ConnectionTask(**item) for item in section.get("connection_tasks", ())],
            lambda t: t.task_id,
            "connection tasks",
        )
        tickets = keyed(
            [ConnectionTicket(**item) for item in section.get("connection_tickets", ())],
            lambda t: t.ticket_id,
            "connection tickets",
        )
        for desktop_id in {*(t.desktop_id for t in tasks.values()), *(t.desktop_id for t in tickets.values())}:
            if desktop_id not in self._desktops:
                raise MockCloudError(f"a connection is to a desktop {desktop_id!r} that is not there")
        for ticket in tickets.values():
            task = tasks.get(ticket.task_id)
            if task is not None:
                task.ticket_expires = max(task.ticket_expires or 0.0, ticket.expires)
        with self._lock:
            for task_id, task in tasks.items():
                self._tasks[task_id] = task
            for ticket_id, ticket in tickets.items():
                self._tickets[ticket_id] = ticket

    def _save_snapshot(self, snapshot: DesktopSnapshot) -> None:
        self._snapshots[snapshot.snapshot_id] = snapshot
        add_key(self._snapshots_of, snapshot.desktop_id, snapshot.snapshot_id)

    def _check_desktop(self, desktop: Desktop) -> None:
        if self.directory.find_site(desktop.office_site_id) is None:
            raise MockCloudError(f"desktop {desktop.desktop_id!r}: no office site {desktop.office_site_id!r}")
        for end_user_id in desktop.assigned:
            self.directory.user(end_user_id)
        for status, _ in [*desktop.phases, [desktop.status, 0]]:
            if status not in DESKTOP_STATUSES:
                raise MockCloudError(f"desktop {desktop.desktop_id!r}: no desktop status {status!r}")

    # ---- test-side helpers ------------------------------------------------------------
    def new_id(self, prefix: str, size: int) -> str:
        return prefix + "".join(self.entropy.choice(_ID_ALPHABET) for _ in range(size))

    def create_desktop(
        self,
        desktop_id: str | None = None,
        *,
        end_user_ids: Iterable[str] = (),
        office_site_id: str | None = None,
        desktop_name: str | None = None,
        **details: Any,
    ) -> Desktop:
        unknown = set(details) - DESKTOP_FIELDS
        if unknown:
            raise MockCloudError(f"unknown desktop field(s) {sorted(unknown)}; known: {sorted(DESKTOP_FIELDS)}")
        if "expired_time" in details and details["expired_time"] is not None:
            details["expired_time"] = float(details["expired_time"])
        users = list(dict.fromkeys(end_user_ids))
        for end_user_id in users:
            self.directory.user(end_user_id)
        with self._lock:
            if office_site_id is None:
                office_site_id = (
                    self.directory.user(users[0]).office_site_id if users else self.directory.default_office_site_id
                )
            if office_site_id is None or self.directory.find_site(office_site_id) is None:
                raise MockCloudError(f"no WUYING office site {office_site_id!r} for the desktop")
            now = self.clock.time()
            desktop_id = desktop_id or self.new_id("ecd-", 17)
            octets = self.entropy.token_bytes(2)
            made = {
                "image_id": self.new_id("m-", 17),
                "host_name": f"DESKTOP-{desktop_id[-7:].upper()}",
                "network_interface_ip": f"192.168.{octets[0]}.{octets[1] or 1}",
                "ecs_instance_id": self.new_id("i-", 20),
            }
            desktop = Desktop(
                desktop_id,
                office_site_id,
                desktop_name or desktop_id,
                now,
                dict.fromkeys(users, now),
                **{**made, **details},
            )
            if desktop.status == "Running" and desktop.last_start is None:
                desktop.last_start = now
            self._check_desktop(desktop)
            self.save(desktop)
        return desktop

    def bind_desktop(self, desktop_id: str, end_user_id: str) -> Desktop:
        self.directory.user(end_user_id)
        with self._lock:
            desktop = self.desktop(desktop_id)
            desktop.assigned.setdefault(end_user_id, self.clock.time())
            self.save(desktop)
            return desktop

    def update_desktop(self, desktop_id: str, **details: Any) -> Desktop:
        unknown = set(details) - DESKTOP_FIELDS
        if unknown:
            raise MockCloudError(f"unknown desktop field(s) {sorted(unknown)}; known: {sorted(DESKTOP_FIELDS)}")
        with self._lock:
            desktop = self.desktop(desktop_id)
            if "status" in details:
                if details["status"] not in DESKTOP_STATUSES:
                    raise MockCloudError(f"no desktop status {details['status']!r}; known: {DESKTOP_STATUSES}")
                desktop.phases = []
            self._unindex(desktop)
            for name, value in details.items():
                setattr(desktop, name, value)
            self.save(desktop)
            return desktop

    def desktop(self, desktop_id: str) -> Desktop:
        try:
            return self._desktops[desktop_id]
        except KeyError:
            raise MockCloudError(f"no WUYING desktop {desktop_id!r}; known: {sorted(self._desktops.keys())}") from None

    @property
    def desktops(self) -> list[Desktop]:
        with self._lock:
            return list(self._desktops.values())

    def create_snapshot(
        self, desktop_id: str, snapshot_id: str | None = None, *, seconds: float = 0, **details: Any
    ) -> DesktopSnapshot:
        unknown = set(details) - SNAPSHOT_FIELDS
        if unknown:
            raise MockCloudError(f"unknown snapshot field(s) {sorted(unknown)}; known: {sorted(SNAPSHOT_FIELDS)}")
        with self._lock:
            self.desktop(desktop_id)
            now = self.clock.time()
            snapshot = DesktopSnapshot(snapshot_id or self.new_id("s-", 20), desktop_id, now, now + seconds, **details)
            self._save_snapshot(snapshot)
            return snapshot

    def snapshot_of(self, snapshot_id: str) -> DesktopSnapshot:
        try:
            return self._snapshots[snapshot_id]
        except KeyError:
            raise MockCloudError(
                f"no WUYING snapshot {snapshot_id!r}; known: {sorted(self._snapshots.keys())}"
            ) from None

    def connection_ticket(self, ticket: str) -> ConnectionTicket:
        found = self._tickets.get(_digest(gw_token_of(ticket)))
        if found is None:
            raise MockCloudError("no such WUYING connection ticket")
        return found

    def redeem_ticket(self, ticket: str, desktop_id: str | None = None) -> ConnectionTicket:
        """What the desktop's gateway does with a ticket: take it once, live, for its running desktop; the user is
        then connected (a session on the desktop) until the agent reports the session off."""
        now = self.clock.time()
        with self._lock:
            found = self.connection_ticket(ticket)
            if not same_secret(found.gw_token, gw_token_of(ticket)):
                raise MockCloudError("no such WUYING connection ticket")
            problem = None
            desktop = self._desktops.get(found.desktop_id)
            if found.revoked:
                problem = "it was revoked (its logon session ended, or its user gave the desktop up)"
            elif found.used:
                problem = "it was already used"
            elif now >= found.expires:
                problem = f"it expired at {utc_iso(found.expires)}"
            elif desktop_id is not None and desktop_id != found.desktop_id:
                problem = f"it is for the desktop {found.desktop_id}"
            elif desktop is None or found.end_user_id not in desktop.assigned:
                problem = "its user is no longer bound to the desktop"
            elif desktop.status_at(now) != "Running":
                problem = f"the desktop is {desktop.status_at(now)}"
            if problem or desktop is None:
                raise MockCloudError(f"the connection ticket is refused: {problem}")
            found.used = True
            self._tickets[found.ticket_id] = found
            desktop.sessions.append(
                {"end_user_id": found.end_user_id, "session_id": found.session_id, "established": now}
            )
            self.save(desktop)
            return found

    def end_sessions(self, session_ids: Iterable[str]) -> None:
        """Revoke the connection tickets of logon sessions that ended (the caller holds the lock)."""
        ended = set(session_ids)
        if not ended:
            return
        for key, ticket in self._tickets.items():  # a scan: rare (a password changed or reset, a logout)
            if ticket.session_id in ended and not ticket.revoked:
                ticket.revoked = True
                self._tickets[key] = ticket

    # ---- rules shared by the operations -------------------------------------------
    def _own(self, token: LoginToken, desktop_id: str) -> Desktop:
        """The caller's desktop; another user's is as absent as an unknown one (nothing tells them apart)."""
        desktop = self._desktops.get(desktop_id)
        if desktop is None or token.end_user_id not in desktop.assigned:
            raise self.errors.error("desktop_not_found", desktop_id=desktop_id)
        return desktop

    def _wrong_status(self) -> ServiceError:
        return self.errors.error("desktop_wrong_status")

    def _own_all(self, token: LoginToken, desktop_ids: Sequence[str], wanted: str, now: float) -> list[Desktop]:
        desktops = [self._own(token, desktop_id) for desktop_id in dict.fromkeys(desktop_ids)]
        if any(d.status_at(now) != wanted for d in desktops):
            raise self._wrong_status()
        return desktops

    def _start(self, desktop: Desktop, now: float) -> None:
        desktop.go(now, [("Starting", self.settings["desktop_start_seconds"])], "Running")
        desktop.last_start = now + self.settings["desktop_start_seconds"]
        self._desktops[desktop.desktop_id] = desktop

    def _went_down(self, desktop: Desktop) -> None:
        """The desktop stopped (or goes through a stop): its sessions and recording end; it is written back."""
        desktop.sessions = []
        desktop.recording = None
        self._desktops[desktop.desktop_id] = desktop

    # ---- discovery of the user's resources ------------------------------------------
    def describe_global_desktops(
        self,
        presented: Presented,
        *,
        desktop_ids: Sequence[str] = (),
        desktop_name: str | None = None,
        desktop_status: str | None = None,
        office_site_id: str | None = None,
        directory_id: str | None = None,
        keyword: str | None = None,
        search_region_id: str | None = None,
        login_region_id: str | None = None,
        desktop_access_type: str | None = None,
        order_by: str | None = None,
        sort_type: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        query_fota_update: bool = False,
    ) -> dict[str, Any]:
        now = self.clock.time()
        if office_site_id and directory_id and office_site_id != directory_id:
            raise self.errors.error("both_site_ids")
        site_id = office_site_id or directory_id
        with self._lock:
            token = self.logon.check(presented, now)
            if login_region_id and login_region_id != token.region_id:
                raise self.errors.error("login_token_mismatch", what="region")
            wanted = set(desktop_ids)
            found = [
                d
                for d in self.desktops_of(token.end_user_id)
                if (not wanted or d.desktop_id in wanted)
                and (desktop_name is None or d.desktop_name == desktop_name)
                and (desktop_status is None or d.status_at(now) == desktop_status)
                and (not site_id or d.office_site_id == site_id)
                and (search_region_id is None or self._region_of(d) == search_region_id)
                and (desktop_access_type is None or self._access_matches(d, desktop_access_type))
                and (not keyword or _matches(keyword, d.desktop_id, d.desktop_name, d.user_custom_name))
            ]
            descending = (sort_type or ("ASC" if order_by else "DESC")).upper() == "DESC"
            ordered = self._ordered(found, token.end_user_id, order_by, descending)
            query = [sorted(wanted), desktop_name, desktop_status, site_id, keyword, search_region_id]
            scope = json.dumps([token.end_user_id, *query, desktop_access_type, order_by, sort_type])
            page, following = self._page(ordered, max_results, next_token, default=10, largest=500, scope=scope)
            desktops = [self._global_desktop(d, token.end_user_id, now, query_fota_update) for d in page]
        result: dict[str, Any] = {"Desktops": desktops}
        if following:
            result["NextToken"] = following
        return result

    def describe_user_resources(
        self,
        presented: Presented,
        *,
        resource_types: Sequence[str] = (),
        product_types: Sequence[str] = (),
        resource_ids: Sequence[str] = (),
        office_site_ids: Sequence[str] = (),
        resource_name: str | None = None,
        search_region_id: str | None = None,
        login_region_id: str | None = None,
        protocol_type: str | None = None,
        access_type: str | None = None,
        order_by: str | None = None,
        sort_type: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        query_fota_update: bool = False,
        query_desktop_timers: bool = True,
        query_desktop_duration_list: bool = True,
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            if login_region_id and login_region_id != token.region_id:
                raise self.errors.error("login_token_mismatch", what="region")
            ids, sites = set(resource_ids), set(office_site_ids)
            found = [
                d
                for d in self.desktops_of(token.end_user_id)
                if (not resource_types or "Desktop" in resource_types)
                and (not product_types or "CloudDesktop" in product_types)
                and (not ids or d.desktop_id in ids)
                and (not sites or d.office_site_id in sites)
                and (not resource_name or _matches(resource_name, d.desktop_name, d.user_custom_name))
                and (search_region_id is None or self._region_of(d) == search_region_id)
                and (protocol_type is None or d.protocol_type.upper() == protocol_type.upper())
                and (access_type is None or self._access_matches(d, access_type))
            ]
            descending = (sort_type or "ASC").upper() == "DESC"
            ordered = self._ordered(found, token.end_user_id, order_by, descending)
            query = [sorted(resource_types), sorted(product_types), sorted(ids), sorted(sites), resource_name]
            scope = json.dumps(
                [token.end_user_id, *query, search_region_id, protocol_type, access_type, order_by, sort_type]
            )
            page, following = self._page(ordered, max_results, next_token, default=500, largest=500, scope=scope)
            resources = [
                self._resource(
                    d, token.end_user_id, now, query_fota_update, query_desktop_timers, query_desktop_duration_list
                )
                for d in page
            ]
        result: dict[str, Any] = {
            "Resources": resources,
            "TotalCount": len(ordered),
            "MaxResults": max_results or 500,
            "QueryFailedResourceTypes": [],
        }
        if following:
            result["NextToken"] = following
        return result

    def describe_snapshots(
        self,
        presented: Presented,
        *,
        desktop_id: str | None = None,
        snapshot_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            if desktop_id:
                self._own(token, desktop_id)
            mine = [desktop_id] if desktop_id else [d.desktop_id for d in self.desktops_of(token.end_user_id)]
            ids = [i for d in mine for i in self._snapshots_of.get(d) or () if not snapshot_id or i == snapshot_id]
            found = [s for s in (self._snapshots.get(i) for i in ids) if s is not None and s.desktop_id in mine]
            found.sort(key=lambda s: (-s.created, s.snapshot_id))  # the newest first
            scope = json.dumps([token.end_user_id, desktop_id, snapshot_id])
            page, following = self._page(found, max_results, next_token, default=100, largest=100, scope=scope)
            snapshots = [self._snapshot(s, now) for s in page]
        result: dict[str, Any] = {"Snapshots": snapshots}
        if following:
            result["NextToken"] = following
        return result

    # ---- the desktop lifecycle -----------------------------------------------------------
    def start_desktops(
        self, presented: Presented, *, desktop_ids: Sequence[str], client_token: str | None = None
    ) -> dict[str, Any]:
        return self._act("StartDesktops", presented, desktop_ids, client_token, self._starts)

    def stop_desktops(
        self, presented: Presented, *, desktop_ids: Sequence[str], client_token: str | None = None
    ) -> dict[str, Any]:
        return self._act("StopDesktops", presented, desktop_ids, client_token, self._stops)

    def reboot_desktops(
        self, presented: Presented, *, desktop_ids: Sequence[str], client_token: str | None = None
    ) -> dict[str, Any]:
        return self._act("RebootDesktops", presented, desktop_ids, client_token, self._reboots)

    def _act(
        self,
        operation: str,
        presented: Presented,
        desktop_ids: Sequence[str],
        client_token: str | None,
        change: Callable[[LoginToken, Sequence[str], float], None],
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)

            def act() -> dict[str, Any]:
                change(token, desktop_ids, now)
                return {}

            request = {"DesktopId": list(desktop_ids)}
            return self.client_tokens.once(operation, token.end_user_id, client_token, request, now, act)

    def _starts(self, token: LoginToken, desktop_ids: Sequence[str], now: float) -> None:
        for desktop in self._own_all(token, desktop_ids, "Stopped", now):
            self._start(desktop, now)

    def _stops(self, token: LoginToken, desktop_ids: Sequence[str], now: float) -> None:
        for desktop in self._own_all(token, desktop_ids, "Running", now):
            desktop.go(now, [("Stopping", self.settings["desktop_stop_seconds"])], "Stopped")
            self._went_down(desktop)

    def _reboots(self, token: LoginToken, desktop_ids: Sequence[str], now: float) -> None:
        stop, start = self.settings["desktop_stop_seconds"], self.settings["desktop_start_seconds"]
        for desktop in self._own_all(token, desktop_ids, "Running", now):
            desktop.go(now, [("Stopping", stop), ("Starting", start)], "Running")
            desktop.last_start = now + stop + start
            self._went_down(desktop)

    def reset_snapshot(
        self, presented: Presented, *, snapshot_id: str, desktop_id: str | None = None, stop_desktop: bool = False
    ) -> dict[str, Any]:
        """Restore a desktop's disk from its snapshot: the desktop must be stopped, or stopped on the way."""
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            snapshot = self._snapshots.get(snapshot_id)
            if snapshot is None or (desktop_id and desktop_id != snapshot.desktop_id):
                raise self.errors.error("snapshot_not_found", snapshot_id=snapshot_id)
            try:
                desktop = self._own(token, snapshot.desktop_id)
            except ServiceError:
                raise self.errors.error("snapshot_not_found", snapshot_id=snapshot_id) from None
            status = snapshot.status_at(now)
            if status != "ACCOMPLISHED":
                raise self.errors.error("snapshot_not_ready", snapshot_id=snapshot_id, status=status)
            current = desktop.status_at(now)
            if current == "Running" and stop_desktop:
                desktop.go(now, [("Stopping", self.settings["desktop_stop_seconds"])], "Stopped")
                self._went_down(desktop)
            elif current != "Stopped":
                raise self._wrong_status()
            desktop.restored_snapshot_id = snapshot.snapshot_id
            self._desktops[desktop.desktop_id] = desktop
        return {}

    def unbind_user_desktop(self, presented: Presented, *, user_desktop_id: str, force: bool = False) -> dict[str, Any]:
        """The caller gives the desktop up: refused while connected to it, unless forced."""
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            desktop = self._own(token, user_desktop_id)
            connected = [s for s in desktop.sessions if s["end_user_id"] == token.end_user_id]
            if connected and not force:
                raise self.errors.error("desktop_in_use", desktop_id=user_desktop_id)
            del desktop.assigned[token.end_user_id]
            drop_key(self._desktops_of, token.end_user_id, desktop.desktop_id)
            desktop.sessions = [s for s in desktop.sessions if s["end_user_id"] != token.end_user_id]
            if desktop.recording and desktop.recording["end_user_id"] == token.end_user_id:
                desktop.recording = None
            self._desktops[desktop.desktop_id] = desktop
            for key, ticket in self._tickets.items():  # a scan: rare (a user gives a desktop up)
                if ticket.desktop_id == user_desktop_id and ticket.end_user_id == token.end_user_id:
                    ticket.revoked = True
                    self._tickets[key] = ticket
        return {}

    def approve_fota_update(self, presented: Presented, *, desktop_id: str | None, app_version: str) -> dict[str, Any]:
        """Take the image update the desktop has: it is rebuilt, then runs the new version."""
        if not desktop_id:
            raise MissingInput("desktop_id")
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            desktop = self._own(token, desktop_id)
            if desktop.fota_version is None or desktop.fota_version != app_version:
                raise self.errors.error("fota_not_available", app_version=app_version, desktop_id=desktop_id)
            if desktop.status_at(now) not in ("Running", "Stopped"):
                raise self._wrong_status()
            desktop.go(now, [("Rebuilding", self.settings["fota_update_seconds"])], "Running")
            desktop.last_start = now + self.settings["fota_update_seconds"]
            desktop.app_version, desktop.fota_version, desktop.fota_release_note = app_version, None, ""
            self._went_down(desktop)
        return {}

    # ---- connecting ------------------------------------------------------------------------
    def get_connection_ticket(
        self,
        presented: Presented,
        *,
        desktop_id: str | None = None,
        task_id: str | None = None,
        ticket_black_list: Sequence[str] = (),
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            if task_id:
                task = self._tasks.get(task_id)
                if (
                    task is None
                    or task.end_user_id != token.end_user_id
                    or task.session_id != token.session_id
                    or (desktop_id and desktop_id != task.desktop_id)
                ):
                    raise self.errors.error("task_not_found", task_id=task_id)
            else:
                if not desktop_id:
                    raise MissingInput("desktop_id")
                desktop = self._own(token, desktop_id)
                status = desktop.status_at(now)
                if status == "Stopped" and self.settings["connect_starts_desktop"]:
                    self._start(desktop, now)
                elif status != "Running" and status not in _COMING_UP:
                    raise self._wrong_status()
                task = ConnectionTask(
                    str(self.entropy.uuid4()),
                    desktop_id,
                    token.end_user_id,
                    token.session_id,
                    token.client_id,
                    now,
                    now + self.settings["connection_task_seconds"],
                )
            before = None if not task_id else record(task)
            result = self._poll(task, token, now, set(ticket_black_list))
            if record(task) != before:  # a new task, or one that moved on
                self._tasks[task.task_id] = task
            return result

    def _poll(self, task: ConnectionTask, token: LoginToken, now: float, black_list: set[str]) -> dict[str, Any]:
        desktop = self._desktops.get(task.desktop_id)
        bound = desktop is not None and task.end_user_id in desktop.assigned
        status = desktop.status_at(now) if desktop is not None else "Deleted"
        ticket = self._tickets.get(task.ticket_id) if task.ticket_id else None
        if task.status != "FAILED" and not bound:
            self._fail(task, "InvalidDesktopId.NotFound", f"The desktop {task.desktop_id} is no longer yours.")
        elif task.status == "RUNNING":
            if status == "Running" and now >= task.ready:
                task.status = "FINISHED"
            elif status != "Running" and status not in _COMING_UP:
                self._fail(task, "IncorrectDesktopStatus", f"The desktop {task.desktop_id} is {status}.")
        elif task.status == "FINISHED" and ticket is not None and not ticket.live(now) and status != "Running":
            self._fail(task, "IncorrectDesktopStatus", f"The desktop {task.desktop_id} is {status}.")
        result: dict[str, Any] = {"TaskId": task.task_id, "TaskStatus": task.status, "DesktopId": task.desktop_id}
        if task.status == "FAILED":
            result.update(TaskCode=task.code, TaskMessage=task.message)
        elif task.status == "FINISHED" and desktop is not None:
            if ticket is None or not ticket.live(now) or ticket.text(desktop.protocol_type) in black_list:
                ticket = self._issue_ticket(task, token, now)
            result["Ticket"] = ticket.text(desktop.protocol_type)
        return result

    @staticmethod
    def _fail(task: ConnectionTask, code: str, message: str) -> None:
        task.status, task.code, task.message = "FAILED", code, message

    def _issue_ticket(self, task: ConnectionTask, token: LoginToken, now: float) -> ConnectionTicket:
        ticket = ConnectionTicket(
            self.entropy.token_hex(24),
            task.task_id,
            task.desktop_id,
            task.end_user_id,
            task.session_id,
            task.client_id,
            token.region_id,
            now,
            now + self.settings["connection_ticket_seconds"],
        )
        self._tickets[ticket.ticket_id] = ticket
        task.ticket_id, task.ticket_expires = ticket.ticket_id, ticket.expires
        return ticket

    # ---- recording, and what the desktop's agent reports ---------------------------------------
    def start_record_content(
        self, presented: Presented, *, desktop_id: str, file_path: str | None = None
    ) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            desktop = self._own(token, desktop_id)
            if desktop.status_at(now) != "Running":
                raise self._wrong_status()
            if desktop.recording is not None:
                raise self.errors.error("record_started", desktop_id=desktop_id)
            desktop.recording = {"end_user_id": token.end_user_id, "file_path": file_path or "", "started": now}
            self._desktops[desktop_id] = desktop
        return {}

    def stop_record_content(self, presented: Presented, *, desktop_id: str) -> dict[str, Any]:
        now = self.clock.time()
        with self._lock:
            token = self.logon.check(presented, now)
            desktop = self._own(token, desktop_id)
            if desktop.recording is None:
                raise self.errors.error("record_not_started", desktop_id=desktop_id)
            desktop.recording = None
            self._desktops[desktop_id] = desktop
        return {}

    def _instance(self, instance_id: str | None, desktop_id: str | None = None, ali_uid: int | None = None) -> Desktop:
        """The desktop an agent names, by its id or its ECS instance id (and its tenant, when given)."""
        if not (instance_id or desktop_id):
            raise MissingInput("desktop_id")
        found = self._desktops.get(desktop_id or "")
        if found is None and instance_id:
            found = self._desktops.get(instance_id) or self._desktops.get(self._instances.get(instance_id) or "")
        if found is not None and instance_id and instance_id not in (found.desktop_id, found.ecs_instance_id):
            found = None
        if found is not None and ali_uid is not None:
            site = self.directory.find_site(found.office_site_id)
            if site is None or site.tenant_id != ali_uid:
                found = None
        if found is None:
            raise self.errors.error("instance_not_found", instance_id=desktop_id or instance_id)
        return found

    def report_session_status(
        self,
        *,
        instance_id: str,
        region_id: str,
        session_id: str,
        session_status: str,
        session_change_time: int,
        end_user_id: str | None = None,
    ) -> dict[str, Any]:
        """A desktop's agent reports a session change: logons and connects add a session, logoffs and
        disconnects end it (the desktop's ConnectionStatus follows); other changes are taken and change nothing."""
        with self._lock:
            desktop = self._instance(instance_id)
            if self._region_of(desktop) != region_id:
                raise self.errors.error("instance_not_found", instance_id=instance_id)
            ours = [
                s
                for s in desktop.sessions
                if s["session_id"] == session_id and (not end_user_id or s["end_user_id"] == end_user_id)
            ]
            if session_status in _SESSION_DOWN and ours:
                desktop.sessions = [s for s in desktop.sessions if s not in ours]
                self._desktops[desktop.desktop_id] = desktop
            elif session_status in _SESSION_UP and not ours:
                user = end_user_id or next(iter(desktop.assigned), "")
                desktop.sessions.append(
                    {"end_user_id": user, "session_id": session_id, "established": session_change_time / 1000}
                )
                self._desktops[desktop.desktop_id] = desktop
        return {}

    def report_eds_agent_info(
        self,
        *,
        eds_agent_info: str | None,
        desktop_id: str | None = None,
        ecs_instance_id: str | None = None,
        ali_uid: int | None = None,
    ) -> dict[str, Any]:
        if not eds_agent_info:
            raise MissingInput("eds_agent_info")
        with self._lock:
            desktop = self._instance(ecs_instance_id, desktop_id, ali_uid)
            desktop.agent_info, desktop.agent_reported = eds_agent_info, self.clock.time()
            self._desktops[desktop.desktop_id] = desktop
        return {}

    def query_eds_agent_report_config(
        self, *, desktop_id: str | None = None, ecs_instance_id: str | None = None, ali_uid: int | None = None
    ) -> dict[str, Any]:
        with self._lock:
            desktop = self._instance(ecs_instance_id, desktop_id, ali_uid)
            config = desktop.agent_report_config
        return {"Data": {"Config": config if config is not None else self.settings["agent_report_config"]}}

    # ---- how they look on the wire ----------------------------------------------------------
    def _region_of(self, desktop: Desktop) -> str:
        site = self.directory.find_site(desktop.office_site_id)
        return site.region_id if site else ""

    def _access_matches(self, desktop: Desktop, wanted: str) -> bool:
        site = self.directory.find_site(desktop.office_site_id)
        allowed = (site.desktop_access_type if site else "INTERNET").upper()
        return wanted.upper() in (allowed, "ANY") or allowed == "ANY"

    @staticmethod
    def _ordered(found: list[Desktop], end_user_id: str, order_by: str | None, descending: bool) -> list[Desktop]:
        if order_by == "AssignTime":
            return sorted(found, key=lambda d: (d.assigned[end_user_id], d.desktop_id), reverse=descending)
        return sorted(found, key=lambda d: (d.created, d.desktop_id), reverse=descending)

    @staticmethod
    def _page(
        items: list[Any], max_results: int | None, next_token: str | None, *, default: int, largest: int, scope: str
    ) -> tuple[list[Any], str | None]:
        if max_results is not None and not 1 <= max_results <= largest:
            raise InvalidInput("max_results")
        try:
            return paginate(items, max_results, next_token, default=default, scope=scope)
        except BadPageToken:
            raise InvalidInput("next_token") from None

    def _sessions_of(self, desktop: Desktop) -> list[dict[str, Any]]:
        return [
            {"EndUserId": s["end_user_id"], "EstablishmentTime": utc_iso(s["established"])} for s in desktop.sessions
        ]

    def _fota(self, desktop: Desktop) -> dict[str, Any]:
        return {
            "CurrentAppVersion": desktop.app_version,
            "NewAppVersion": desktop.fota_version or "",
            "ReleaseNote": desktop.fota_release_note,
            "Force": False,
        }

    @staticmethod
    def _expiry(desktop: Desktop, *, minutes: bool) -> str:
        """A subscription's end; pay-as-you-go desktops show the far date the documentation gives."""
        if desktop.expired_time is None:
            return _POSTPAID_EXPIRY if minutes else _POSTPAID_EXPIRY[:-1] + ":00Z"
        return minutes_iso(desktop.expired_time) if minutes else utc_iso(desktop.expired_time)

    def _global_desktop(self, desktop: Desktop, end_user_id: str, now: float, fota: bool) -> dict[str, Any]:
        site = self.directory.find_site(desktop.office_site_id)
        disks = [{"DiskId": f"d-{desktop.desktop_id[4:]}s", "DiskType": "SYSTEM", "DiskSize": desktop.system_disk_size}]
        if desktop.data_disk_size:
            disks.append(
                {"DiskId": f"d-{desktop.desktop_id[4:]}d", "DiskType": "DATA", "DiskSize": desktop.data_disk_size}
            )
        found: dict[str, Any] = {
            "DesktopId": desktop.desktop_id,
            "DesktopName": desktop.desktop_name,
            "DesktopStatus": desktop.status_at(now),
            "DesktopType": desktop.desktop_type,
            "ConnectionStatus": "Connected" if desktop.sessions else "Disconnected",
            "ChargeType": desktop.charge_type,
            "Cpu": desktop.cpu,
            "Memory": desktop.memory,
            "GpuMemory": desktop.gpu_memory,
            "CreationTime": minutes_iso(desktop.created),
            "ExpiredTime": self._expiry(desktop, minutes=True),
            "OfficeSiteId": desktop.office_site_id,
            "DirectoryId": desktop.office_site_id,
            "RegionId": site.region_id if site else "",
            "EndUserId": end_user_id,
            "EndUserIds": desktop.end_user_ids,
            "OsType": desktop.os_type,
            "Platform": desktop.platform,
            "Os": desktop.platform,
            "ImageId": desktop.image_id,
            "HostName": desktop.host_name,
            "NetworkInterfaceIp": desktop.network_interface_ip,
            "PolicyGroupId": desktop.policy_group_id,
            "ProtocolType": desktop.protocol_type,
            "Disks": disks,
            "Sessions": self._sessions_of(desktop),
            "SupportHibernation": False,
            "HibernationBeta": False,
            "UserCustomName": desktop.user_custom_name,
        }
        if desktop.last_start is not None and desktop.last_start <= now:
            found["LastStartTime"] = minutes_iso(desktop.last_start)
        if fota:
            found["FotaUpdate"] = self._fota(desktop)
        return found

    def _resource(
        self, desktop: Desktop, end_user_id: str, now: float, fota: bool, timers: bool, durations: bool
    ) -> dict[str, Any]:
        site = self.directory.find_site(desktop.office_site_id)
        user = self.directory.find_user(end_user_id)
        found: dict[str, Any] = {
            "ResourceId": desktop.desktop_id,
            "ResourceName": desktop.desktop_name,
            "ResourceType": "Desktop",
            "ProductType": "CloudDesktop",
            "ResourceStatus": desktop.status_at(now),
            "ResourceSessionStatus": "Connected" if desktop.sessions else "Disconnected",
            "ResourceLevel": "Center",
            "RegionId": site.region_id if site else "",
            "OfficeSiteId": desktop.office_site_id,
            "AliUid": site.tenant_id if site else 0,
            "AccessType": site.desktop_access_type if site else "INTERNET",
            "ChargeType": desktop.charge_type,
            "CreateTime": utc_iso(desktop.created),
            "ExpiredTime": self._expiry(desktop, minutes=False),
            "Os": desktop.platform,
            "OsType": desktop.os_type,
            "OsDescription": desktop.platform,
            "ProtocolType": desktop.protocol_type,
            "SessionType": "SINGLE_SESSION",
            "Sessions": [
                {
                    "UserId": s["end_user_id"],
                    "NickName": user.nick_name if user and s["end_user_id"] == end_user_id else "",
                    "ResourceSessionStartTime": utc_iso(s["established"]),
                }
                for s in desktop.sessions
            ],
            "SupportHibernation": False,
            "HibernationBeta": False,
            "HasUpgrade": desktop.fota_version is not None,
            "UserCustomName": desktop.user_custom_name,
        }
        if desktop.last_start is not None and desktop.last_start <= now:
            found["LastStartTime"] = utc_iso(desktop.last_start)
        if fota:
            found["FotaUpdate"] = self._fota(desktop)
        if timers:
            found["DesktopTimers"] = []
        if durations:
            found["DesktopDurationList"] = []
        return found

    @staticmethod
    def _snapshot(snapshot: DesktopSnapshot, now: float) -> dict[str, Any]:
        status = snapshot.status_at(now)
        length = max(snapshot.ready - snapshot.created, 1e-9)
        done = 100 if status == "ACCOMPLISHED" else min(99, int(100 * (now - snapshot.created) / length))
        found: dict[str, Any] = {
            "SnapshotId": snapshot.snapshot_id,
            "SnapshotName": snapshot.snapshot_name,
            "Description": snapshot.description,
            "DesktopId": snapshot.desktop_id,
            "SnapshotType": snapshot.snapshot_type,
            "SourceDiskType": snapshot.source_disk_type,
            "SourceDiskSize": str(snapshot.source_disk_size),
            "Status": status,
            "Progress": f"{done}%",
            "RemainTime": math.ceil(snapshot.ready - now) if status == "PROGRESSING" else 0,
            "CreationTime": utc_iso(snapshot.created),
        }
        if snapshot.restore_point_id:
            found["RestorePointId"] = snapshot.restore_point_id
        if snapshot.restore_point_name:
            found["RestorePointName"] = snapshot.restore_point_name
        return found

    def inventory(self, now: float) -> list[dict[str, object]]:
        """The connection tickets it holds, for the dashboard (no secrets: ids are hashes of the GWToken)."""
        from ...core.inventory import entry, short_id, state_of

        with self._lock:
            tickets = list(self._tickets.values())
        return [
            entry(
                "wuying",
                "connection_ticket",
                short_id(t.gw_token),
                t.end_user_id,
                t.issued,
                t.expires,
                state_of(now, t.expires, revoked=t.revoked, used=t.used),
            )
            for t in tickets
        ]


def _id(name: str) -> Callable[[dict[str, Any]], Any]:
    return lambda item: item[name]


def _matches(wanted: str, *texts: str) -> bool:
    """Fuzzy search as the client API does it: a case-insensitive part of any of the texts."""
    needle = wanted.casefold()
    return any(needle in text.casefold() for text in texts if text)
