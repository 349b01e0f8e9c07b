"""``mockcloud.connect(url)``: the handle of a server elsewhere, with the in-process handle's surface.

So the same test body runs against ``mock_cloud()`` and against a
``mockcloud server`` in another process, container or language's test
harness: ``.clock``, ``.faults``, ``.credentials``, ``.requests``,
``.reset()``, ``.snapshot()``, ``.restore()`` and ``.<service>.<helper>()``
all go over the admin API. Values come back in the forms of
:mod:`mockcloud.core.jsonform` (objects as read-only records).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from .core import jsonform
from .core.errors import MockCloudError

DEFAULT_URL = "http://127.0.0.1:4566"


class RemoteError(MockCloudError):
    """The server refused an admin call (``status`` and its JSON ``error`` code), or did not answer."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


class _Connection(http.client.HTTPConnection):
    """A plain connection of mockcloud's own: an in-process mock running here does not catch it."""

    def connect(self) -> None:
        self.sock = socket.create_connection((self.host, self.port), self.timeout)


class RemoteCloud:
    """What :func:`connect` returns. Attribute names follow :class:`mockcloud.MockCloud`."""

    def __init__(self, url: str | None = None, *, admin_token: str | None = None, timeout: float = 10.0) -> None:
        self.url = (url or os.environ.get("MOCKCLOUD_URL") or DEFAULT_URL).rstrip("/")
        parts = urlsplit(self.url)
        if parts.scheme != "http" or not parts.hostname:
            raise MockCloudError(f"a mockcloud server URL is http://host:port, not {self.url!r}")
        self._host, self._port = parts.hostname, parts.port or 80
        self._token = admin_token if admin_token is not None else os.environ.get("MOCKCLOUD_ADMIN_TOKEN")
        self._timeout = timeout
        self.namespace: str | None = None  # the name, when this is the handle of a namespace
        self.clock = RemoteClock(self)
        self.faults = RemoteFaults(self)
        self.credentials = RemoteCredentials(self)
        self._services: dict[str, RemoteService] = {}
        self.service_names: tuple[str, ...] = tuple(self.call("GET", "health")["services"])

    # ---- the wire ---------------------------------------------------------------
    def call(self, method: str, path: str, body: Any = None, query: dict[str, Any] | None = None) -> Any:
        """One admin call: its JSON answer, or :class:`RemoteError` with the server's message."""
        target = "/_mockcloud/" + path + (f"?{urlencode(query)}" if query else "")
        headers = {"Accept": "application/json"}
        data = None
        if method != "GET":
            headers["Content-Type"] = "application/json"
            data = json.dumps({} if body is None else body).encode()
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        connection = _Connection(self._host, self._port, timeout=self._timeout)
        try:
            connection.request(method, target, body=data, headers=headers)
            reply = connection.getresponse()
            raw = reply.read()
        except OSError as exc:
            raise RemoteError(
                f"no mockcloud server answers at {self.url} ({exc}); start one with `mockcloud server`"
            ) from exc
        finally:
            connection.close()
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            raise RemoteError(f"{method} {target}: {reply.status} and not JSON: {raw[:200]!r}", reply.status) from None
        if reply.status >= 400:
            raise RemoteError(
                f"{method} {target}: {reply.status} {payload.get('error')}: {payload.get('message')}",
                reply.status,
                str(payload.get("error", "")),
            )
        return payload

    # ---- the handle -------------------------------------------------------------
    @property
    def requests(self) -> RemoteRequests:
        return RemoteRequests(jsonform.Record("RequestRecord", r) for r in self.call("GET", "requests")["requests"])

    def reset(self, seed: int | None = None) -> None:
        """Back to the fixtures' state (with ``seed``, every random choice from then on repeats)."""
        self.call("POST", "reset", {} if seed is None else {"seed": seed})

    def snapshot(self) -> dict[str, Any]:
        """The whole emulator's state as a JSON document (what ``restore`` takes back)."""
        document: dict[str, Any] = self.call("GET", "state")
        return document

    def restore(self, document: dict[str, Any]) -> None:
        self.call("PUT", "state", document)

    @contextlib.contextmanager
    def new_namespace(self, prefix: str = "ns", *, seed: int | None = None) -> Iterator[RemoteCloud]:
        """A namespace on this server for the block: the handle of a private emulator (its own state, clock,
        faults, request log), whose ``url`` the clients are given; deleted after the block.

        Its name is ``prefix`` and a random part, so that pytest-xdist workers and CI jobs never meet.
        It is served on a port of its own, on the host name this handle reaches the server by.
        """
        import secrets

        name = f"{prefix}-{secrets.token_hex(4)}"
        port = self.call("POST", "namespaces", {"name": name} if seed is None else {"name": name, "seed": seed})["port"]
        host = f"[{self._host}]" if ":" in self._host else self._host
        try:
            own = RemoteCloud(f"http://{host}:{port}", admin_token=self._token, timeout=self._timeout)
            own.namespace = name
            yield own
        finally:
            with contextlib.suppress(RemoteError):  # the server is gone already: nothing is left to free
                self.call("DELETE", f"namespaces/{name}")

    def __getattr__(self, name: str) -> RemoteService:
        if name.startswith("_") or name not in self.service_names:
            raise AttributeError(f"{name!r}: this server emulates {list(self.service_names)}")
        service = self._services.get(name)
        if service is None:
            service = self._services[name] = RemoteService(self, name)
        return service

    def __repr__(self) -> str:
        return f"<RemoteCloud {self.url} services={list(self.service_names)}>"


class RemoteService:
    """``remote.<service>``: each helper of the service's handle, called over HTTP."""

    def __init__(self, cloud: RemoteCloud, name: str) -> None:
        self._cloud, self._name = cloud, name
        listing = cloud.call("GET", f"services/{quote(name)}")["helpers"]
        self._helpers: dict[str, dict[str, Any]] = {h["name"]: h for h in listing}

    def __dir__(self) -> list[str]:
        return sorted(self._helpers)

    def __getattr__(self, name: str) -> Any:
        helper = self._helpers.get(name)
        if helper is None:
            raise AttributeError(f"{self._name} has no helper {name!r}; it has {sorted(self._helpers)}")
        path = f"services/{quote(self._name)}/{quote(name)}"
        if helper["kind"] != "method":  # a property or public data: read now
            return jsonform.load(self._cloud.call("GET", path)["result"])
        names = [p["name"] for p in helper["parameters"] if p["kind"] in ("positional_only", "positional_or_keyword")]

        def call(*args: Any, **kwargs: Any) -> Any:
            if len(args) > len(names):
                raise TypeError(f"{self._name}.{name}() takes at most {len(names)} positional arguments")
            arguments = {**dict(zip(names, args, strict=False)), **kwargs}  # no more args than names (checked)
            return jsonform.load(self._cloud.call("POST", path, jsonform.dump(arguments))["result"])

        call.__name__ = name
        call.__doc__ = helper["doc"]
        return call

    def __repr__(self) -> str:
        return f"<RemoteService {self._name} at {self._cloud.url}>"


class RemoteClock:
    """``remote.clock``: the server's mock clock."""

    def __init__(self, cloud: RemoteCloud) -> None:
        self._cloud = cloud

    def _state(self, body: dict[str, Any] | None = None) -> dict[str, Any]:
        state: dict[str, Any] = self._cloud.call("POST" if body is not None else "GET", "clock", body)
        return state

    def now(self) -> datetime:
        return datetime.fromisoformat(self._state()["now"])

    def time(self) -> float:
        return self.now().timestamp()

    @property
    def frozen(self) -> bool:
        return bool(self._state()["frozen"])

    def freeze(self, when: datetime | str | float | None = None) -> datetime:
        value = when.isoformat() if isinstance(when, datetime) else when
        return datetime.fromisoformat(self._state({"freeze": value})["now"])

    def advance(self, seconds: float | None = None, **delta: float) -> datetime:
        step = (seconds or 0.0) + timedelta(**delta).total_seconds()
        return datetime.fromisoformat(self._state({"advance": step})["now"])

    def unfreeze(self) -> datetime:
        return datetime.fromisoformat(self._state({"unfreeze": True})["now"])


class RemoteFaults:
    """``remote.faults``: the server's fault rules and rate limits."""

    def __init__(self, cloud: RemoteCloud) -> None:
        self._cloud = cloud

    def add(self, service: str | None = None, operation: str | None = None, **rule: Any) -> None:
        body = {k: v for k, v in {"service": service, "operation": operation, **rule}.items() if v is not None}
        self._cloud.call("POST", "faults", body)

    def rate_limit(
        self, service: str, operation: str | None = None, *, rate: float, burst: float | None = None
    ) -> None:
        spec = {
            k: v
            for k, v in {"service": service, "operation": operation, "rate": rate, "burst": burst}.items()
            if v is not None
        }
        self._cloud.call("POST", "faults", {"rate_limit": spec})

    def clear(self) -> None:
        self._cloud.call("DELETE", "faults")

    @property
    def rules(self) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = self._cloud.call("GET", "faults")["rules"]
        return rules

    @property
    def limits(self) -> list[dict[str, Any]]:
        limits: list[dict[str, Any]] = self._cloud.call("GET", "faults")["rate_limits"]
        return limits


class RemoteCredentials:
    """``remote.credentials``: register key pairs on the server."""

    def __init__(self, cloud: RemoteCloud) -> None:
        self._cloud = cloud

    def add_aws(
        self,
        access_key_id: str,
        secret_access_key: str,
        *,
        account_id: str | None = None,
        session_token: str | None = None,
    ) -> None:
        key = {"access_key_id": access_key_id, "secret_access_key": secret_access_key}
        if account_id is not None:
            key["account_id"] = account_id
        if session_token is not None:
            key["session_token"] = session_token
        self._cloud.call("POST", "credentials", {"aws": [key]})

    def add_alibaba(self, access_key_id: str, secret: str) -> None:
        self._cloud.call("POST", "credentials", {"alibaba": [{"access_key_id": access_key_id, "secret": secret}]})

    def new_account(self, account_id: str | None = None) -> jsonform.Record:
        """Root keys of another account on the server (``access_key_id``, ``secret_access_key``, ``account_id``)."""
        body = {} if account_id is None else {"account_id": account_id}
        return jsonform.Record("AwsKey", self._cloud.call("POST", "credentials/accounts", body))


class RemoteRequests(list[jsonform.Record]):
    """The server's request log as read now: records with ``service``, ``operation``, ``status``, ..."""

    def filter(
        self, service: str | None = None, operation: str | None = None, error_code: str | None = None
    ) -> list[jsonform.Record]:
        return [
            r
            for r in self
            if (service is None or r.service == service)
            and (operation is None or r.operation == operation)
            and (error_code is None or r.error_code == error_code)
        ]


def connect(url: str | None = None, *, admin_token: str | None = None, timeout: float = 10.0) -> RemoteCloud:
    """The handle of the server at ``url`` (default ``$MOCKCLOUD_URL``, then ``http://127.0.0.1:4566``)."""
    return RemoteCloud(url, admin_token=admin_token, timeout=timeout)
