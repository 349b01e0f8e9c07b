"""The token journey with the AWS SDK for JavaScript v3 (js/journey.mjs, beside this file) against the live server.

The SDK is installed from js/package-lock.json (``npm ci``) when
js/node_modules is missing. Without node the test is skipped on a
developer's machine and fails in CI (``CI=true``), where node must be present.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

JS = Path(__file__).resolve().parent / "js"
EXPECTED = [
    ("CreateLicense", None),
    ("CreateToken", None),
    ("GetAccessToken", None),
    ("AssumeRoleWithWebIdentity", None),
    ("GetCallerIdentity", None),
    ("CheckoutLicense", None),
    ("CheckoutLicense (no seat left)", ("NoEntitlementsAllowedException", 400)),
    ("ExtendLicenseConsumption", None),
    ("AssumeRoleWithWebIdentity (expired access token)", ("ExpiredTokenException", 400)),
    ("GetAccessToken (again)", None),
    ("ExtendLicenseConsumption (expired session)", ("ExpiredTokenException", 403)),
    ("AssumeRoleWithWebIdentity (again)", None),
    ("ExtendLicenseConsumption (new session)", None),
    ("GetAccessToken (third)", None),
    ("AssumeRoleWithWebIdentity (third)", None),
    ("ExtendLicenseConsumption (expired checkout)", ("ResourceNotFoundException", 400)),
    ("GetLicenseUsage", None),
    ("CheckoutLicense (again)", None),
    ("CheckInLicense", None),
    ("done", None),
]


def _tools() -> tuple[str, str]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node and npm:
        return node, npm
    message = "node and npm are needed for the AWS SDK for JavaScript journey (tests/services/licensemanager/js)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}, and CI must have them")
    pytest.skip(message)


def _install(npm: str) -> None:
    if (JS / "node_modules" / "@aws-sdk" / "client-sts").is_dir():
        return
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, check=False, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"


def test_journey_with_the_aws_sdk_for_javascript(mockcloud_server):
    node, npm = _tools()
    _install(npm)
    env = {**os.environ, "MOCKCLOUD_URL": mockcloud_server.url, "NODE_NO_WARNINGS": "1"}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)  # the script names every key it uses
    run = subprocess.run(
        [node, "journey.mjs"], cwd=JS, env=env, check=False, capture_output=True, text=True, timeout=180
    )
    steps = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
    got = [(s["step"], None if s["ok"] else (s["code"], s["status"])) for s in steps]
    assert got == EXPECTED
    expired = next(s for s in steps if s["step"] == "ExtendLicenseConsumption (expired session)")
    assert expired["message"] == "The security token included in the request is expired"
    log = [(r.service, r.operation, r.status) for r in mockcloud_server.cloud.requests]
    assert ("sts", "AssumeRoleWithWebIdentity", 200) in log and ("licensemanager", "CheckoutLicense", 200) in log
