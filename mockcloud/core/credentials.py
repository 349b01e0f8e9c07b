"""Key pairs the emulated front doors accept: long-term keys, and temporary ones a service issued."""

from __future__ import annotations

import base64
import dataclasses
import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from .entities import KEPT_SECONDS, Kind, MemoryTables, Tables
from .entropy import Entropy
from .errors import MockCloudError

DEFAULT_ACCOUNT_ID = "123456789012"
# An access key id is a prefix (AKIA long-term, ASIA temporary) and 10 bytes in base32; the first six bytes
# carry the account id in bits 7 to 46, which is how AWS's GetAccessKeyInfo can answer for any key.
_ACCOUNT_MASK = 0x7FFFFFFFFF80


def key_id_for(prefix: str, account_id: str, entropy: Entropy) -> str:
    """A new access key id that carries ``account_id`` as AWS's do (the rest random)."""
    head = (entropy.randbelow(2) << 47) | (int(account_id) << 7) | entropy.randbelow(128)
    raw = head.to_bytes(6, "big") + entropy.token_bytes(4)
    return prefix + base64.b32encode(raw).decode("ascii")


def account_of_key_id(access_key_id: str) -> str | None:
    """The account an AWS access key id carries (AKIA…/ASIA… of 20 characters), or None if it carries none."""
    body = access_key_id[4:]
    if len(access_key_id) != 20 or not access_key_id[:4].isalpha() or len(body) != 16:
        return None
    try:
        raw = base64.b32decode(body)
    except (ValueError, TypeError):
        return None
    return f"{(int.from_bytes(raw[:6], 'big') & _ACCOUNT_MASK) >> 7:012d}"


def same_secret(expected: str | bytes, presented: str | bytes) -> bool:
    """Constant-time equality of a secret and what a client presented, for any text it sends.

    ``hmac.compare_digest`` refuses non-ASCII ``str``, and a plain ``.encode()`` fails on a
    lone surrogate, so both sides are compared as bytes that every ``str`` has.
    """
    if isinstance(expected, str) and isinstance(presented, str) and expected.isascii() and presented.isascii():
        return hmac.compare_digest(expected, presented)  # the common case, as it is: no copies
    if isinstance(expected, str):
        expected = expected.encode("utf-8", "surrogatepass")
    if isinstance(presented, str):
        presented = presented.encode("utf-8", "surrogatepass")
    return hmac.compare_digest(expected, presented)


class _AwsKeyItemRequired(TypedDict):
    access_key_id: str
    secret_access_key: str
    account_id: str


class AwsKeyItem(_AwsKeyItemRequired, total=False):
    """One AWS key pair in the fixtures' ``credentials.aws`` form; the optional fields only when set."""

    session_token: str
    expires: float
    arn: str
    user_id: str


class AlibabaKeyItem(TypedDict):
    """One Alibaba Cloud key pair in the fixtures' ``credentials.alibaba`` form."""

    access_key_id: str
    secret: str


class CredentialsExport(TypedDict):
    """What :meth:`Credentials.export` gives (and :meth:`Credentials.load` takes back)."""

    aws: list[AwsKeyItem]
    alibaba: list[AlibabaKeyItem]


@dataclass(frozen=True)
class AwsKey:
    """One AWS key pair. Temporary keys (``ASIA…``) carry a session token and an expiry on the mock clock."""

    access_key_id: str
    secret_access_key: str
    account_id: str = DEFAULT_ACCOUNT_ID
    session_token: str | None = None
    expires: float | None = None  # epoch seconds; None: never
    arn: str | None = None  # who signs with it (GetCallerIdentity); None: the account's root
    user_id: str | None = None

    @property
    def caller_arn(self) -> str:
        return self.arn or f"arn:aws:iam::{self.account_id}:root"

    @property
    def caller_user_id(self) -> str:
        return self.user_id or self.account_id


def _aws_key(data: Any) -> AwsKey:
    return AwsKey(**data)


def _dead_at(key: AwsKey) -> float | None:
    """A temporary key is dropped a while after it expires (a long-term one never)."""
    return None if key.expires is None else key.expires + KEPT_SECONDS


def _secret(data: Any) -> str:
    if not isinstance(data, str):
        raise MockCloudError("an Alibaba Cloud key's secret is text")
    return data


# the records: one AWS key pair by its access key id, one Alibaba Cloud secret by its access key id
AWS_KEY: Kind[AwsKey] = Kind("aws_key", dataclasses.asdict, _aws_key, _dead_at)
ALIBABA_KEY: Kind[str] = Kind("alibaba_key", str, _secret)


class Credentials:
    """AWS and Alibaba key pairs, registered by fixtures, by the test, or issued by a service (STS)."""

    def __init__(self, entropy: Entropy | None = None, tables: Tables | None = None) -> None:
        self.entropy = entropy or Entropy()
        tables = tables or MemoryTables(lambda: 0.0)
        self._aws = tables.table(AWS_KEY)
        self._alibaba = tables.table(ALIBABA_KEY)
        self._lock = threading.Lock()
        self.changes = 0  # grows with every key added or cleared: a sharing mock writes them back then

    def add_aws(
        self,
        access_key_id: str,
        secret_access_key: str,
        *,
        account_id: str = DEFAULT_ACCOUNT_ID,
        session_token: str | None = None,
        expires: float | None = None,
        arn: str | None = None,
        user_id: str | None = None,
    ) -> AwsKey:
        key = AwsKey(access_key_id, secret_access_key, account_id, session_token, expires, arn, user_id)
        with self._lock:
            self._aws[access_key_id] = key
            self.changes += 1
        return key

    def issue_temporary(self, *, account_id: str, expires: float, arn: str | None, user_id: str | None) -> AwsKey:
        """New temporary credentials, as STS hands them out: an ``ASIA…`` key id, a secret and a session token.

        All three are random (``secrets``); the key is accepted by every AWS service of the mock
        until ``expires`` on the mock clock, and only with its session token.
        """
        while True:
            key_id = key_id_for("ASIA", account_id, self.entropy)
            if key_id not in self._aws:
                break
        secret = base64.b64encode(self.entropy.token_bytes(30)).decode()  # 40 characters, as AWS's
        token = base64.b64encode(self.entropy.token_bytes(264)).decode()  # a few hundred characters, as AWS's
        return self.add_aws(
            key_id, secret, account_id=account_id, session_token=token, expires=expires, arn=arn, user_id=user_id
        )

    def new_account(self, account_id: str | None = None) -> AwsKey:
        """Keys of another account: its root keys (``AKIA…``, never limited by IAM), in a new account by default.

        ``account_id`` (12 digits) picks the account; the key id carries it, as AWS's key ids do.
        """
        if account_id is None:
            account_id = f"{100000000000 + self.entropy.randbelow(900000000000):012d}"
        if not (
            isinstance(account_id, str) and len(account_id) == 12 and account_id.isascii() and account_id.isdigit()
        ):
            from .errors import MockCloudError

            raise MockCloudError(f"an account id is 12 digits, not {account_id!r}")
        while True:
            key_id = key_id_for("AKIA", account_id, self.entropy)
            if key_id not in self._aws:
                break
        secret = base64.b64encode(self.entropy.token_bytes(30)).decode()
        return self.add_aws(key_id, secret, account_id=account_id)

    def add_alibaba(self, access_key_id: str, secret: str) -> None:
        with self._lock:
            self._alibaba[access_key_id] = secret
            self.changes += 1

    def aws(self, access_key_id: str) -> AwsKey | None:
        return self._aws.get(access_key_id)

    def alibaba(self, access_key_id: str) -> str | None:
        return self._alibaba.get(access_key_id)

    def load(self, data: Mapping[str, Any]) -> None:
        """Add the key pairs of a fixtures ``credentials`` section; one key id twice in it is refused."""
        for kind in ("aws", "alibaba"):
            ids = [item["access_key_id"] for item in data.get(kind, ())]
            if len(set(ids)) != len(ids):
                twice = next(i for i in ids if ids.count(i) > 1)
                raise MockCloudError(f"the {kind} access key id {twice[:24]!r} is given twice")
        for item in data.get("aws", ()):
            self.add_aws(
                item["access_key_id"],
                item["secret_access_key"],
                account_id=item.get("account_id", DEFAULT_ACCOUNT_ID),
                session_token=item.get("session_token"),
                expires=item.get("expires"),
                arn=item.get("arn"),
                user_id=item.get("user_id"),
            )
        for item in data.get("alibaba", ()):
            self.add_alibaba(item["access_key_id"], item["secret"])

    def export(self) -> CredentialsExport:
        """Every key pair, in the fixtures' ``credentials`` form (what ``load`` takes back)."""
        aws: list[AwsKeyItem] = []
        for key in list(self._aws.values()):  # read without the lock: the table is consistent on its own
            item: AwsKeyItem = {
                "access_key_id": key.access_key_id,
                "secret_access_key": key.secret_access_key,
                "account_id": key.account_id,
            }
            if key.session_token is not None:
                item["session_token"] = key.session_token
            if key.expires is not None:
                item["expires"] = key.expires
            if key.arn is not None:
                item["arn"] = key.arn
            if key.user_id is not None:
                item["user_id"] = key.user_id
            aws.append(item)
        alibaba: list[AlibabaKeyItem] = [{"access_key_id": k, "secret": v} for k, v in list(self._alibaba.items())]
        return {"aws": aws, "alibaba": alibaba}

    def clear(self) -> None:
        self._aws.clear()
        self._alibaba.clear()
        with self._lock:
            self.changes += 1

    def registered(self) -> tuple[list[AwsKey], list[tuple[str, str]]]:
        """Every key pair: the AWS keys, and the Alibaba Cloud (access key id, secret) pairs, for listings."""
        return list(self._aws.values()), list(self._alibaba.items())
