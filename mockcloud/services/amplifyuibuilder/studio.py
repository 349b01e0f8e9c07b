"""What Amplify Studio keeps per app environment: components, themes, forms, codegen jobs, feature flags, tags.

No HTTP here. Every record belongs to the AWS account and Region of the caller
that created it, and to an Amplify app (``appId``) and backend environment
(``environmentName``); mockcloud does not emulate Amplify itself, so any app ID
and environment name are accepted (codegen jobs check the app ID's pattern, as
the model does). Records are kept one table per kind, by their own ID; each
names its account, Region, app and environment. What an app environment holds
of one kind (its IDs in creation order, its names) is an index of its own, a
:class:`Listing`, written with the records it lists: a request reads the
records it names and its environment's listing, never a whole table.

``clientToken`` makes Create*, Update* and StartCodegenJob idempotent: a retry
with the same token and the same request gets the first answer again and
changes nothing; the same token with another request is a
``ResourceConflictException``.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ...core.entities import Kind, Table, Tables, compound
from ...core.errors import MockCloudError, ServiceError
from ...core.sections import keyed
from ...core.timestamps import utc_iso
from .errors import ERRORS

T = TypeVar("T")

STUDIO_DEFAULTS: dict[str, Any] = {
    # seconds on the mock clock a codegen job stays in_progress before it succeeds (ours: the API documents none)
    "codegen_job_seconds": 5,
    # how long a clientToken's first answer is kept for retries (ours; boto3 sends a fresh token with every call)
    "client_token_seconds": 86400,
    # ServiceQuotaExceededException past these, per app environment (ours: AWS documents none for the API)
    "max_components": 1000,
    "max_themes": 100,
    "max_forms": 1000,
}
KINDS = ("component", "theme", "form")
PLURALS = {"component": "components", "theme": "themes", "form": "forms", "codegen_job": "codegen-jobs"}
TITLES = {"component": "Component", "theme": "Theme", "form": "Form", "codegen_job": "Codegen job"}
# the members each kind's entity carries besides appId, environmentName, id, name, timestamps and tags
SUMMARY_MEMBERS = {"component": ("componentType",), "theme": (), "form": ("dataType", "formActionType")}
# what a finished job lists as the packages its code needs (Amplify Studio's React codegen)
CODEGEN_DEPENDENCIES = [
    {
        "name": "@aws-amplify/ui-react",
        "supportedVersion": "^5.0.0",
        "isSemVer": True,
        "reason": "Required to leverage Amplify UI primitives, and Amplify Studio component helper functions.",
    },
    {
        "name": "aws-amplify",
        "supportedVersion": "^5.0.2",
        "isSemVer": True,
        "reason": "Required to leverage DataStore.",
    },
]


def invalid(message: str) -> ServiceError:
    return ERRORS.error("InvalidParameterException", message)


def not_found(kind: str, identifier: str) -> ServiceError:
    return ERRORS.error("ResourceNotFoundException", f"{TITLES[kind]} {identifier} not found.")


@dataclass(slots=True, eq=False)
class Resource:
    """A component, theme or form: its own members as the client sent them, and what the service adds."""

    kind: str  # component, theme or form
    id: str
    account_id: str
    region: str
    app_id: str
    environment_name: str
    name: str
    created_at: float
    modified_at: float | None
    members: dict[str, Any]  # every member of the entity but name, tags and what the service sets
    tags: dict[str, str] = field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        """The entity as Get*, Create*, Update* and Export* return it."""
        out: dict[str, Any] = {"appId": self.app_id, "environmentName": self.environment_name, "id": self.id}
        out["name"] = self.name
        out.update(copy.deepcopy(self.members))
        if self.kind != "form":  # Form has no timestamps in the model
            out["createdAt"] = utc_iso(self.created_at)
            if self.modified_at is not None:
                out["modifiedAt"] = utc_iso(self.modified_at)
        if self.tags:
            out["tags"] = dict(self.tags)
        return out

    def summary(self) -> dict[str, Any]:
        out = {"appId": self.app_id, "environmentName": self.environment_name, "id": self.id, "name": self.name}
        out.update({member: copy.deepcopy(self.members[member]) for member in SUMMARY_MEMBERS[self.kind]})
        return out


@dataclass(slots=True, eq=False)
class CodegenJob:
    """A code generation job: in progress until ``completes_at`` on the mock clock, then its outcome."""

    id: str
    account_id: str
    region: str
    app_id: str
    environment_name: str
    created_at: float
    completes_at: float
    request: dict[str, Any]  # renderConfig, genericDataSchema, autoGenerateForms, features as sent
    tags: dict[str, str] = field(default_factory=dict)
    outcome: str = "succeeded"  # what it ends as: succeeded or failed
    status_message: str | None = None  # for a failed job, why

    def status(self, now: float) -> str:
        return "in_progress" if now < self.completes_at else self.outcome

    def describe(self, now: float) -> dict[str, Any]:
        status = self.status(now)
        out: dict[str, Any] = {"id": self.id, "appId": self.app_id, "environmentName": self.environment_name}
        out.update(copy.deepcopy(self.request))
        out["status"] = status
        if status == "failed" and self.status_message:
            out["statusMessage"] = self.status_message
        if status == "succeeded":
            out["asset"] = {"downloadUrl": self.download_url()}
            out["dependencies"] = copy.deepcopy(CODEGEN_DEPENDENCIES)
        if self.tags:
            out["tags"] = dict(self.tags)
        out["createdAt"] = utc_iso(self.created_at)
        out["modifiedAt"] = utc_iso(self.completes_at if status != "in_progress" else self.created_at)
        return out

    def summary(self, now: float) -> dict[str, Any]:
        modified = self.completes_at if self.status(now) != "in_progress" else self.created_at
        return {
            "appId": self.app_id,
            "environmentName": self.environment_name,
            "id": self.id,
            "createdAt": utc_iso(self.created_at),
            "modifiedAt": utc_iso(modified),
        }

    def download_url(self) -> str:
        """Where the generated code would be (a URL only: mockcloud emulates no S3 to fetch it from)."""
        return (
            f"https://amplify-ui-builder-codegen-{self.region}.s3.{self.region}.amazonaws.com/"
            f"{self.app_id}/{self.environment_name}/{self.id}.zip"
        )


@dataclass(slots=True, eq=False)
class FeatureFlags:
    """GetMetadata's ``features`` of one app environment, as PutMetadataFlag set them."""

    id: str  # account/region/appId/environmentName
    account_id: str
    region: str
    app_id: str
    environment_name: str
    features: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class ClientTokenUse:
    """A request made with a ``clientToken``: a retry with the same request gets ``response`` again.

    ``forget_at`` (``created_at`` and the ``client_token_seconds`` of then; not in a snapshot, which
    gives it again from the settings) is when a retry acts anew: the record is past use and dropped.
    """

    id: str  # account/region/operation/token
    account_id: str
    region: str
    operation: str
    token: str
    fingerprint: str  # the request's SHA-256 (its app, environment, path ID and body)
    response: dict[str, Any]
    created_at: float
    forget_at: float = 0.0


@dataclass(slots=True, eq=False)
class Listing:
    """What one app environment holds of one kind: its IDs in creation order and, but for jobs, its names."""

    ids: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # name -> id


@dataclass(frozen=True)
class Scope:
    """Where a request acts: the caller's account and Region, and the app environment of its path."""

    account_id: str
    region: str
    app_id: str
    environment_name: str

    def holds(self, record: Resource | CodegenJob) -> bool:
        return (record.account_id, record.region, record.app_id, record.environment_name) == (
            self.account_id,
            self.region,
            self.app_id,
            self.environment_name,
        )

    def listing(self, kind: str) -> str:
        """The key of the :class:`Listing` of ``kind`` in this app environment."""
        return compound(self.account_id, self.region, self.app_id, self.environment_name, kind)

    def arn(self, kind: str, identifier: str) -> str:
        return (
            f"arn:{partition(self.region)}:amplifyuibuilder:{self.region}:{self.account_id}:"
            f"app/{self.app_id}/environment/{self.environment_name}/{PLURALS[kind]}/{identifier}"
        )


def partition(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def fingerprint(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def fields_of(item: Any, omit: Iterable[str] = ()) -> dict[str, Any]:
    """A record's fields as a section's entry, None-valued ones too (the schema requires them); not copied."""
    skipped = set(omit)
    return {f.name: getattr(item, f.name) for f in dataclasses.fields(item) if f.name not in skipped}


def of(cls: type[T]) -> Callable[[Any], T]:
    def load(data: Any) -> T:
        return cls(**data)

    return load


def _client_token_dead_at(use: ClientTokenUse) -> float:
    return use.forget_at  # nothing answers for it once forgotten: a retry then acts anew


# the records, by key: a component, theme or form (its ID, one kind each), a codegen job (its ID), an
# app environment's feature flags ("account/region/app/environment"), a clientToken use
# ("account/region/operation/token") and what an app environment holds of one kind (Scope.listing)
RESOURCES: dict[str, Kind[Resource]] = {kind: Kind(kind, fields_of, of(Resource)) for kind in KINDS}
CODEGEN_JOB: Kind[CodegenJob] = Kind("codegen_job", fields_of, of(CodegenJob))
FEATURE_FLAGS: Kind[FeatureFlags] = Kind("feature_flags", fields_of, of(FeatureFlags))
CLIENT_TOKEN: Kind[ClientTokenUse] = Kind("client_token", fields_of, of(ClientTokenUse), _client_token_dead_at)
LISTING: Kind[Listing] = Kind("listing", fields_of, of(Listing))


class Studio:
    """``cloud.amplifyuibuilder.studio``: Amplify Studio's records, and the operations on them."""

    def __init__(
        self, tables: Tables, settings: Callable[[], dict[str, Any]], clock: Any, new_id: Callable[[], str], lock: Any
    ) -> None:
        self._settings = settings
        self.clock = clock
        self._new_id = new_id
        self._lock = lock
        self.components = tables.table(RESOURCES["component"])
        self.themes = tables.table(RESOURCES["theme"])
        self.forms = tables.table(RESOURCES["form"])
        self.codegen_jobs = tables.table(CODEGEN_JOB)
        self.feature_flags = tables.table(FEATURE_FLAGS)
        self.client_tokens = tables.table(CLIENT_TOKEN)
        self._listings = tables.table(LISTING)

    @property
    def settings(self) -> dict[str, Any]:
        return self._settings()

    def load(self, section: dict[str, Any]) -> None:
        """A section's records, refusing two under one ID (of a kind) or two of one name in an app environment."""
        listings: dict[str, Listing] = {}

        def listed(kind: str, record: Resource | CodegenJob, name: str | None) -> None:
            scope = Scope(record.account_id, record.region, record.app_id, record.environment_name)
            listing = listings.setdefault(scope.listing(kind), Listing())
            if name is not None:
                if name in listing.names:
                    raise MockCloudError(
                        f"amplifyuibuilder: two {PLURALS[kind]} named {name!r} in app {record.app_id} "
                        f"environment {record.environment_name}"
                    )
                listing.names[name] = record.id
            listing.ids.append(record.id)

        resources = {
            kind: keyed(
                (Resource(kind=kind, **item) for item in section.get(PLURALS[kind], ())), lambda r: r.id, PLURALS[kind]
            )
            for kind in KINDS
        }
        jobs = keyed((CodegenJob(**item) for item in section.get("codegen_jobs", ())), lambda j: j.id, "codegen jobs")
        flags = keyed(
            (FeatureFlags(**item) for item in section.get("feature_flags", ())), lambda f: f.id, "feature flag sets"
        )
        window = self.settings["client_token_seconds"]
        uses = keyed(
            (ClientTokenUse(**item) for item in section.get("client_tokens", ())), lambda u: u.id, "clientToken uses"
        )
        for kind, records in resources.items():
            for record in sorted(records.values(), key=lambda r: r.created_at):
                listed(kind, record, record.name)
                self._of(kind)[record.id] = record
        for job in sorted(jobs.values(), key=lambda j: j.created_at):
            listed("codegen_job", job, None)
            self.codegen_jobs[job.id] = job
        for key, listing in listings.items():
            self._listings[key] = listing
        for key, flag_set in flags.items():
            self.feature_flags[key] = flag_set
        for key, use in uses.items():
            use.forget_at = use.created_at + window
            self.client_tokens[key] = use

    def snapshot(self) -> dict[str, Any]:
        """The sections of this part of the state, not copied (the caller holds the lock, and copies them)."""
        out: dict[str, Any] = {}
        for kind in KINDS:
            out[PLURALS[kind]] = [fields_of(r, omit=("kind",)) for r in self._of(kind).values()]
        out["codegen_jobs"] = [fields_of(job) for job in self.codegen_jobs.values()]
        out["feature_flags"] = [fields_of(flags) for flags in self.feature_flags.values()]
        out["client_tokens"] = [fields_of(use, omit=("forget_at",)) for use in self.client_tokens.values()]
        return out

    def _of(self, kind: str) -> Table[Resource]:
        stores: dict[str, Table[Resource]] = {
            "component": self.components,
            "theme": self.themes,
            "form": self.forms,
        }
        return stores[kind]

    # ---- clientToken -------------------------------------------------------------------
    def _idempotent(
        self,
        scope: Scope,
        operation: str,
        token: str | None,
        request: Any,
        act: Callable[[], dict[str, Any]],
    ) -> dict[str, Any]:
        """``act()``, or, for a retry with the same token and request, the answer the first call got."""
        if token is None:
            return act()
        key = f"{scope.account_id}/{scope.region}/{operation}/{token}"
        digest = fingerprint(scope.app_id, scope.environment_name, request)
        used = self.client_tokens.get(key)
        now = self.clock.time()  # after the read: another worker's clock may be a moment ahead
        if used is not None and now >= used.forget_at:
            used = None  # forgotten: the request acts anew
        if used is not None:
            if used.fingerprint != digest:
                raise ERRORS.error(
                    "ResourceConflictException",
                    f"The clientToken {token} was already used with a different {operation} request.",
                )
            return copy.deepcopy(used.response)
        response = act()
        self.client_tokens[key] = ClientTokenUse(
            key,
            scope.account_id,
            scope.region,
            operation,
            token,
            digest,
            copy.deepcopy(response),
            now,
            now + self.settings["client_token_seconds"],
        )
        return response

    # ---- components, themes, forms ----------------------------------------------------------
    def _find(self, kind: str, scope: Scope, identifier: str) -> Resource:
        record = self._of(kind).get(identifier)
        if record is None or not scope.holds(record):
            raise not_found(kind, identifier)
        return record

    def _listing(self, kind: str, scope: Scope) -> Listing:
        return self._listings.get(scope.listing(kind)) or Listing()

    def _in_scope(self, kind: str, scope: Scope) -> list[Resource]:
        table = self._of(kind)
        found = [r for r in map(table.get, self._listing(kind, scope).ids) if r is not None]
        return sorted(found, key=lambda r: r.created_at)  # stable: creation order among equal times

    def _check_name(self, kind: str, listing: Listing, scope: Scope, name: str, other_than: str | None = None) -> None:
        if listing.names.get(name, other_than) != other_than:
            raise ERRORS.error(
                "ResourceConflictException",
                f"A {kind} named {name} already exists in app {scope.app_id} environment {scope.environment_name}.",
            )

    def create(
        self, kind: str, scope: Scope, data: dict[str, Any], client_token: str | None, operation: str
    ) -> dict[str, Any]:
        """Create*: the new entity (or, for a retried clientToken, the first answer)."""
        with self._lock:
            return self._idempotent(scope, operation, client_token, data, lambda: self._create(kind, scope, data))

    def _create(self, kind: str, scope: Scope, data: dict[str, Any]) -> dict[str, Any]:
        limit = self.settings[f"max_{PLURALS[kind]}"]
        listing = self._listing(kind, scope)
        if len(listing.ids) >= limit:
            raise ERRORS.error(
                "ServiceQuotaExceededException",
                f"The app environment has the most {PLURALS[kind]} it may have ({limit}).",
            )
        self._check_name(kind, listing, scope, data["name"])
        members = {k: copy.deepcopy(v) for k, v in data.items() if k not in ("name", "tags")}
        record = Resource(
            kind,
            self._new_id(),
            scope.account_id,
            scope.region,
            scope.app_id,
            scope.environment_name,
            data["name"],
            self.clock.time(),
            None,
            members,
            dict(data.get("tags") or {}),
        )
        self._of(kind)[record.id] = record
        listing.ids.append(record.id)
        listing.names[record.name] = record.id
        self._listings[scope.listing(kind)] = listing
        return record.describe()

    def get(self, kind: str, scope: Scope, identifier: str) -> dict[str, Any]:
        with self._lock:
            return self._find(kind, scope, identifier).describe()

    def update(
        self,
        kind: str,
        scope: Scope,
        identifier: str,
        data: dict[str, Any],
        client_token: str | None,
        operation: str,
    ) -> dict[str, Any]:
        """Update*: the members sent replace the stored ones; the others stay."""
        with self._lock:
            return self._idempotent(
                scope,
                operation,
                client_token,
                [identifier, data],
                lambda: self._update(kind, scope, identifier, data),
            )

    def _update(self, kind: str, scope: Scope, identifier: str, data: dict[str, Any]) -> dict[str, Any]:
        record = self._find(kind, scope, identifier)
        if data.get("id") not in (None, identifier):
            raise invalid(f"The {kind} id in the request body does not match the id in the path ({identifier}).")
        name = data.get("name")
        if name is not None and name != record.name:  # a new name: the listing's names change with it
            listing = self._listing(kind, scope)
            self._check_name(kind, listing, scope, name, other_than=identifier)
            if listing.names.get(record.name) == identifier:
                del listing.names[record.name]
            listing.names[name] = identifier
            self._listings[scope.listing(kind)] = listing
            record.name = name
        for member, value in data.items():
            if member not in ("id", "name"):
                record.members[member] = copy.deepcopy(value)
        record.modified_at = self.clock.time()
        self._of(kind)[identifier] = record
        return record.describe()

    def delete(self, kind: str, scope: Scope, identifier: str) -> None:
        with self._lock:
            record = self._find(kind, scope, identifier)
            listing = self._listing(kind, scope)
            if identifier in listing.ids:
                listing.ids.remove(identifier)
            if listing.names.get(record.name) == identifier:
                del listing.names[record.name]
            self._listings[scope.listing(kind)] = listing
            del self._of(kind)[identifier]

    def summaries(self, kind: str, scope: Scope) -> list[dict[str, Any]]:
        """The app environment's entities in creation order, as summaries."""
        with self._lock:
            return [r.summary() for r in self._in_scope(kind, scope)]

    def export(self, kind: str, scope: Scope) -> list[dict[str, Any]]:
        """The app environment's entities in creation order, whole."""
        with self._lock:
            return [r.describe() for r in self._in_scope(kind, scope)]

    # ---- codegen jobs ----------------------------------------------------------------
    def start_codegen_job(self, scope: Scope, data: dict[str, Any], client_token: str | None) -> dict[str, Any]:
        render = data["renderConfig"]
        if len(render) != 1:
            raise invalid("renderConfig must set exactly one of: react.")
        api = render.get("react", {}).get("apiConfiguration")
        if api is not None and len(api) != 1:
            raise invalid("apiConfiguration must set exactly one of: graphQLConfig, dataStoreConfig, noApiConfig.")
        with self._lock:
            return self._idempotent(
                scope, "StartCodegenJob", client_token, data, lambda: self._start_codegen_job(scope, data)
            )

    def _start_codegen_job(self, scope: Scope, data: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.time()
        request = {k: copy.deepcopy(v) for k, v in data.items() if k != "tags"}
        job = CodegenJob(
            self._new_id(),
            scope.account_id,
            scope.region,
            scope.app_id,
            scope.environment_name,
            now,
            now + self.settings["codegen_job_seconds"],
            request,
            dict(data.get("tags") or {}),
        )
        self.codegen_jobs[job.id] = job
        listing = self._listing("codegen_job", scope)
        listing.ids.append(job.id)
        self._listings[scope.listing("codegen_job")] = listing
        return job.describe(now)

    def get_codegen_job(self, scope: Scope, identifier: str) -> dict[str, Any]:
        with self._lock:
            job = self.codegen_jobs.get(identifier)
            if job is None or not scope.holds(job):
                raise not_found("codegen_job", identifier)
            return job.describe(self.clock.time())

    def list_codegen_jobs(self, scope: Scope) -> list[dict[str, Any]]:
        with self._lock:
            found = map(self.codegen_jobs.get, self._listing("codegen_job", scope).ids)
            jobs = sorted((j for j in found if j is not None), key=lambda j: j.created_at)
            now = self.clock.time()
            return [job.summary(now) for job in jobs]

    def fail_codegen_job(self, identifier: str, message: str = "Code generation failed.") -> None:
        """Test helper: the job ends ``failed`` with ``message`` (at once, if it is still in progress)."""
        with self._lock:
            job = self.codegen_jobs.get(identifier)
            if job is None:
                raise MockCloudError(f"no codegen job {identifier!r}")
            job.outcome, job.status_message = "failed", message
            job.completes_at = min(job.completes_at, self.clock.time())
            self.codegen_jobs[identifier] = job

    # ---- metadata ---------------------------------------------------------------------
    def _flags_id(self, scope: Scope) -> str:
        return f"{scope.account_id}/{scope.region}/{scope.app_id}/{scope.environment_name}"

    def get_metadata(self, scope: Scope) -> dict[str, str]:
        with self._lock:
            flags = self.feature_flags.get(self._flags_id(scope))
            return dict(flags.features) if flags is not None else {}

    def put_metadata_flag(self, scope: Scope, feature: str, value: str) -> None:
        if not feature:
            raise invalid("featureName must not be empty.")
        with self._lock:
            key = self._flags_id(scope)
            flags = self.feature_flags.get(key)
            if flags is None:
                flags = FeatureFlags(key, scope.account_id, scope.region, scope.app_id, scope.environment_name)
            flags.features[feature] = value
            self.feature_flags[key] = flags

    # ---- tags ---------------------------------------------------------------------------
    def _tagged(self, account_id: str, arn: str) -> tuple[Table[Any], Resource | CodegenJob]:
        """The table and record an ARN names."""
        parts = arn.split(":", 5)
        if len(parts) != 6 or parts[0] != "arn" or parts[2] != "amplifyuibuilder":
            raise invalid(f"The resource ARN {arn} is not valid.")
        region, account, resource = parts[3], parts[4], parts[5].split("/")
        if (
            len(resource) != 6
            or resource[0] != "app"
            or resource[2] != "environment"
            or resource[4] not in PLURALS.values()
        ):
            raise invalid(f"The resource ARN {arn} is not valid.")
        kind = next(k for k, plural in PLURALS.items() if plural == resource[4])
        scope = Scope(account, region, resource[1], resource[3])
        table = self._table(kind)
        record = table.get(resource[5])
        if record is None or account != account_id or not scope.holds(record) or partition(region) != parts[1]:
            raise ERRORS.error("ResourceNotFoundException", f"The resource {arn} was not found.")
        return table, record

    def _table(self, kind: str) -> Table[Any]:
        return self.codegen_jobs if kind == "codegen_job" else self._of(kind)

    def tag(self, account_id: str, arn: str, tags: dict[str, str]) -> None:
        with self._lock:
            table, record = self._tagged(account_id, arn)
            record.tags.update(tags)
            table[record.id] = record

    def untag(self, account_id: str, arn: str, keys: Iterable[str]) -> None:
        with self._lock:
            table, record = self._tagged(account_id, arn)
            for key in keys:
                record.tags.pop(key, None)
            table[record.id] = record

    def tags(self, account_id: str, arn: str) -> dict[str, str]:
        with self._lock:
            return dict(self._tagged(account_id, arn)[1].tags)

    # ---- helpers for tests and the dashboard -----------------------------------------------------
    def arn_of(self, kind: str, identifier: str) -> str:
        """The ARN of a component, theme, form or codegen job (``kind``: component, theme, form, codegen_job)."""
        with self._lock:
            record = self._table(kind).get(identifier)
            if record is None:
                raise MockCloudError(f"no {kind} {identifier!r}")
            return Scope(record.account_id, record.region, record.app_id, record.environment_name).arn(kind, identifier)
