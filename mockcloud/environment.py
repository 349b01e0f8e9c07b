"""Fake AWS keys in the environment while a mock runs, so a developer's real keys are never used."""

from __future__ import annotations

import os
import sys
from typing import Any


def web_identity_configured(env: Any = None) -> bool:
    """Whether botocore would take the web-identity path: ``AWS_ROLE_ARN`` and ``AWS_WEB_IDENTITY_TOKEN_FILE``,
    or the active profile's ``role_arn`` with ``web_identity_token_file`` (``AWS_PROFILE``, else ``default``)."""
    env = os.environ if env is None else env
    if env.get("AWS_ROLE_ARN") and env.get("AWS_WEB_IDENTITY_TOKEN_FILE"):
        return True
    import configparser

    path = os.path.expanduser(env.get("AWS_CONFIG_FILE") or "~/.aws/config")
    profile = env.get("AWS_PROFILE") or env.get("AWS_DEFAULT_PROFILE") or "default"
    config = configparser.RawConfigParser()
    try:
        config.read(path, encoding="utf-8")
    except (configparser.Error, UnicodeDecodeError, OSError):
        return False
    section = profile if profile == "default" else f"profile {profile}"
    if not config.has_section(section):
        return False
    return config.has_option(section, "role_arn") and config.has_option(section, "web_identity_token_file")


MOTO_AWS_KEY = ("FOOBARKEY", "FOOBARSECRET")  # moto's mock_aws puts these in the environment


class FakeAwsEnvironment:
    """Fake AWS keys in ``os.environ`` while a mock runs, as moto sets them, so real keys are never used.

    Real keys (and any session token) are replaced by the mock's first key
    pair (``testing``/``testing`` by default); moto's fake pair, when found,
    is kept, and accepted. When the environment (or the active profile) is
    set up for web identity (``AWS_ROLE_ARN`` and ``AWS_WEB_IDENTITY_TOKEN_FILE``),
    no keys are put in front of it: botocore's own web-identity provider then
    runs against the mock, as in production. On stop, each variable goes back
    to what it was only if it still holds what we set: another mock that
    changed it since owns it now.
    """

    def __init__(self) -> None:
        self._set: dict[str, tuple[str | None, str | None]] = {}  # name -> (value before, value we set)
        self._session: Any = None  # boto3's default session before we started

    def start(self, key: str, secret: str) -> None:
        env = os.environ
        found = (env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY"))
        wanted: dict[str, str | None] = {}
        if found not in ((key, secret), MOTO_AWS_KEY) and not web_identity_configured(env):
            wanted = {
                "AWS_ACCESS_KEY_ID": key,
                "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_SESSION_TOKEN": None,
                "AWS_SECURITY_TOKEN": None,
            }
        if not env.get("AWS_DEFAULT_REGION") and not env.get("AWS_REGION"):
            wanted["AWS_DEFAULT_REGION"] = "us-east-1"
        self._set = {}
        boto3: Any = sys.modules.get("boto3")  # untyped here: its DEFAULT_SESSION is set by hand
        self._session = getattr(boto3, "DEFAULT_SESSION", None)
        if boto3 is not None:  # its cached credentials would outlive the environment's (moto does the same)
            boto3.DEFAULT_SESSION = None
        for name, value in wanted.items():
            before = env.get(name)
            if before == value:
                continue
            self._set[name] = (before, value)
            if value is None:
                del env[name]
            else:
                env[name] = value

    def stop(self) -> None:
        env = os.environ
        for name, (before, ours) in self._set.items():
            if env.get(name) != ours:
                continue  # changed since: whoever changed it restores it
            if before is None:
                env.pop(name, None)
            else:
                env[name] = before
        self._set = {}
        boto3: Any = sys.modules.get("boto3")
        if boto3 is not None:
            boto3.DEFAULT_SESSION = self._session
        self._session = None
