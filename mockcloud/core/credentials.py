"""Key pairs the emulated front doors accept."""
from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass

DEFAULT_ACCOUNT_ID = "123456789012"


def same_secret(expected: str | bytes, presented: str | bytes) -> bool:
    """Constant-time equality of a secret and what a client presented, for any text it sends.

    ``hmac.compare_digest`` refuses non-ASCII ``str``, and a plain ``.encode()`` fails on a
    lone surrogate, so both sides are compared as bytes that every ``str`` has.
    """
    if isinstance(expected, str):
        expected = expected.encode("utf-8", "surrogatepass")
    if isinstance(presented, str):
        presented = presented.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected, presented)


@dataclass(frozen=True)
class AwsKey:
    access_key_id: str
    secret_access_key: str
    account_id: str = DEFAULT_ACCOUNT_ID
    session_token: str | None = None


class Credentials:
    """AWS and Alibaba key pairs, registered by fixtures or by the test."""

    def __init__(self) -> None:
        self._aws: dict[str, AwsKey] = {}
        self._alibaba: dict[str, str] = {}
        self._lock = threading.Lock()

    def add_aws(
        self,
        access_key_id: str,
        secret_access_key: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        session_token: str | None = None,
    ) -> AwsKey:
        key = AwsKey(access_key_id, secret_access_key, account_id, session_token)
        with self._lock:
            self._aws[access_key_id] = key
        return key

    def add_alibaba(self, access_key_id: str, secret: str) -> None:
        with self._lock:
            self._alibaba[access_key_id] = secret

    def aws(self, access_key_id: str) -> AwsKey | None:
        return self._aws.get(access_key_id)

    def alibaba(self, access_key_id: str) -> str | None:
        return self._alibaba.get(access_key_id)

    def load(self, data: dict) -> None:
        for item in data.get("aws", ()):
            self.add_aws(
                item["access_key_id"],
                item["secret_access_key"],
                account_id=item.get("account_id", DEFAULT_ACCOUNT_ID),
                session_token=item.get("session_token"),
            )
        for item in data.get("alibaba", ()):
            self.add_alibaba(item["access_key_id"], item["secret"])

    def clear(self) -> None:
        with self._lock:
            self._aws.clear()
            self._alibaba.clear()
