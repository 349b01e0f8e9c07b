"""How the User API tests reach a mount: a requests session, in-process or on the server (no tests or fixtures here)."""

from __future__ import annotations

import requests

from mockcloud.services.userapi import split_base_url

DEFAULT_BASE = "https://userapi.example.com"
USERNAME, PASSWORD = "api_user", "secure_password_123"
TIMEOUT = 60  # seconds: a loaded machine is slow, not wrong; only a broken emulator waits this long


class Backend:
    """Where the emulator runs, and a requests session that reaches a mount there."""

    def __init__(self, cloud, server_url: str | None = None) -> None:
        self.cloud, self.server_url = cloud, server_url
        self.http = requests.Session()

    def url(self, base_url: str = DEFAULT_BASE) -> str:
        """The mount itself in-process; on the server, the mount's path under the server's host."""
        if self.server_url is None:
            return base_url
        return self.server_url + split_base_url(base_url)[1]

    def call(
        self, method: str, operation: str, *, token=None, version="2.0", base=DEFAULT_BASE, headers=None, **kwargs
    ):
        sent = {} if version is None else {"Version": version}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        return self.http.request(method, f"{self.url(base)}/User/{operation}", headers=sent, timeout=TIMEOUT, **kwargs)

    def login(self, username=USERNAME, password=PASSWORD, **kwargs) -> requests.Response:
        return self.call("POST", "Login", json={"username": username, "password": password}, **kwargs)

    def tokens(self, username=USERNAME, password=PASSWORD, **kwargs) -> dict:
        reply = self.login(username, password, **kwargs)
        assert reply.status_code == 200, reply.text
        return reply.json()

    def refresh(self, pair: dict, **kwargs) -> requests.Response:
        return self.call(
            "POST", "RefreshToken", token=pair["accessToken"], json={"refreshToken": pair["refreshToken"]}, **kwargs
        )

    def me(self, access: str, **kwargs) -> requests.Response:
        return self.call("GET", "Me", token=access, **kwargs)

    def logout(self, access: str, **kwargs) -> requests.Response:
        return self.call("POST", "Logout", token=access, **kwargs)
