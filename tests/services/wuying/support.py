"""How the WUYING tests reach the service: the tea client, or raw requests (no tests or fixtures here)."""

from __future__ import annotations

import inspect
from urllib.parse import urlencode

import pytest
import requests
from alibabacloud_ecd20201002 import models
from alibabacloud_ecd20201002.client import Client as EcdClient
from alibabacloud_tea_openapi import utils_models
from alibabacloud_tea_openapi.exceptions import ClientException

REGION = "cn-hangzhou"
ECD_HOST = f"ecd.{REGION}.aliyuncs.com"


def refused(call, *args, **kwargs) -> ClientException:
    """The tea SDK's exception for a call the service refuses."""
    with pytest.raises(ClientException) as exc:
        call(*args, **kwargs)
    return exc.value


def rpc_params(action: str, protocol: str = "HTTPS") -> utils_models.Params:
    """An ecd 2020-10-02 operation as the tea SDK's generic call_api describes it: signed (AK), RPC, form data."""
    return utils_models.Params(
        action=action,
        version="2020-10-02",
        protocol=protocol,
        pathname="/",
        method="POST",
        auth_type="AK",
        style="RPC",
        req_body_type="formData",
        body_type="json",
    )


class Backend:
    """Where the emulator runs, and how a test reaches it."""

    def __init__(self, cloud, server_url: str | None = None) -> None:
        self.cloud, self.server_url = cloud, server_url

    @property
    def endpoint(self) -> str | None:
        return self.server_url.split("//", 1)[1] if self.server_url else None

    @property
    def url(self) -> str:
        return (self.server_url or f"https://{ECD_HOST}") + "/"

    def client(self, **config) -> EcdClient:
        if self.server_url:
            config = {"endpoint": self.endpoint, "protocol": "http", **config}
        return EcdClient(utils_models.Config(region_id=REGION, **config))

    def raw(
        self, method: str = "POST", params: dict | None = None, headers: dict | None = None, data=None
    ) -> requests.Response:
        query = {"Action": "GetLoginToken", "Version": "2020-10-02", "Format": "json", **(params or {})}
        return requests.request(method, self.url + "?" + urlencode(query), headers=headers, data=data, timeout=5)


class Session:
    """A client of the tea SDK logged on: calls any operation with its LoginToken, SessionId and ClientId filled in.

    ``call("start_desktops", desktop_id=[...])`` builds the SDK's own request model (``StartDesktopsRequest``),
    setting the common fields the model has (not every operation takes ``region_id`` or ``session_id``);
    a field given overrides the common one (``login_token=None`` leaves it out).
    """

    def __init__(self, ecd: EcdClient, login_token: str, session_id: str, client_id: str, end_user_id: str) -> None:
        self.ecd, self.login_token, self.session_id = ecd, login_token, session_id
        self.client_id, self.end_user_id = client_id, end_user_id

    @classmethod
    def logon(
        cls, ecd: EcdClient, end_user_id: str = "alice", password: str = "Alice-Passw0rd", client_id: str = "client-1"
    ) -> Session:
        body = ecd.get_login_token(
            models.GetLoginTokenRequest(
                region_id=REGION, client_id=client_id, end_user_id=end_user_id, password=password
            )
        ).body
        return cls(ecd, body.login_token, body.session_id, client_id, end_user_id)

    @classmethod
    def logon_with_mfa(cls, cloud, ecd: EcdClient, end_user_id: str, password: str, client_id: str) -> Session:
        """A logon of a user with a bound MFA device: ADPassword, then MFAVerify with the device's current code."""
        first = ecd.get_login_token(
            models.GetLoginTokenRequest(
                region_id=REGION, client_id=client_id, end_user_id=end_user_id, password=password
            )
        ).body
        assert (first.next_stage, first.login_token) == ("MFAVerify", None)
        done = ecd.get_login_token(
            models.GetLoginTokenRequest(
                region_id=REGION,
                client_id=client_id,
                current_stage="MFAVerify",
                session_id=first.session_id,
                authentication_code=cloud.wuying.totp_code(end_user_id),
            )
        ).body
        return cls(ecd, done.login_token, first.session_id, client_id, end_user_id)

    def ticket(self, cloud, desktop_id: str) -> str:
        """A connection ticket for a running desktop: the task, its set-up time on the mock clock, the poll."""
        task = self.call("get_connection_ticket", desktop_id=desktop_id).task_id
        cloud.clock.advance(seconds=2)
        return self.call("get_connection_ticket", task_id=task).ticket

    def request(self, operation: str, **fields):
        model = getattr(models, "".join(p.capitalize() for p in operation.split("_")) + "Request")
        accepted = inspect.signature(model.__init__).parameters
        common = {
            "region_id": REGION,
            "client_id": self.client_id,
            "login_token": self.login_token,
            "session_id": self.session_id,
        }
        return model(**{**{k: v for k, v in common.items() if k in accepted}, **fields})

    def but(self, **changes) -> Session:
        """This session with other credentials: ``but(login_token=...)``, ``but(client_id=...)``..."""
        fields = {
            "login_token": self.login_token,
            "session_id": self.session_id,
            "client_id": self.client_id,
            "end_user_id": self.end_user_id,
        }
        return Session(self.ecd, **{**fields, **changes})

    def call(self, operation: str, **fields):
        """The operation's response body (the SDK's model)."""
        return getattr(self.ecd, operation)(self.request(operation, **fields)).body

    def refresh(self) -> str:
        self.login_token = self.ecd.refresh_login_token(
            models.RefreshLoginTokenRequest(
                region_id=REGION,
                client_id=self.client_id,
                end_user_id=self.end_user_id,
                login_token=self.login_token,
                session_id=self.session_id,
            )
        ).body.login_token
        return self.login_token
