"""The token journey (js/journey.mjs) and the buyer journey (js/buyer.mjs) with the AWS SDK for JavaScript v3,
against the live server.

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


def run(script: str, server) -> list[dict]:
    """Run a script of js/ against the server; its steps, once it has exited cleanly."""
    node, npm = _tools()
    _install(npm)
    env = {**os.environ, "MOCKCLOUD_URL": server.url, "NODE_NO_WARNINGS": "1"}
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(name, None)  # the script names every key it uses
    done = subprocess.run([node, script], cwd=JS, env=env, check=False, capture_output=True, text=True, timeout=180)
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return steps


def test_journey_with_the_aws_sdk_for_javascript(mockcloud_server):
    steps = run("journey.mjs", mockcloud_server)
    got = [(s["step"], None if s["ok"] else (s["code"], s["status"])) for s in steps]
    assert got == EXPECTED
    expired = next(s for s in steps if s["step"] == "ExtendLicenseConsumption (expired session)")
    assert expired["message"] == "The security token included in the request is expired"
    log = [(r.service, r.operation, r.status) for r in mockcloud_server.cloud.requests]
    assert ("sts", "AssumeRoleWithWebIdentity", 200) in log and ("licensemanager", "CheckoutLicense", 200) in log


BUYER_EXPECTED = [
    ("CreateLicense", None),
    ("CreateGrant", None),
    ("ListReceivedGrants", None),
    ("CheckoutLicense (pending grant)", ("NoEntitlementsAllowedException", 400)),
    ("AcceptGrant", None),
    ("CreateGrantVersion (activate)", None),
    ("ListReceivedLicenses", None),
    ("CheckoutLicense", None),
    ("CheckoutLicense (no seat left)", ("NoEntitlementsAllowedException", 400)),
    ("ExtendLicenseConsumption", None),
    ("CheckInLicense", None),
    ("CreateLicenseVersion", None),
    ("CheckoutLicense (two seats)", None),
    ("DeleteGrant", None),
    ("CheckoutLicense (deleted grant)", ("ResourceNotFoundException", 400)),
    ("DeleteLicense", None),
    ("CheckoutLicense (Marketplace)", None),
    ("done", None),
]


def test_buyer_journey_with_the_aws_sdk_for_javascript(mockcloud_server):
    steps = {s["step"]: s for s in run("buyer.mjs", mockcloud_server)}
    assert [(name, None if s["ok"] else (s["code"], s["status"])) for name, s in steps.items()] == BUYER_EXPECTED
    assert steps["ListReceivedGrants"]["grants"] == [[True, "PENDING_ACCEPT"]]
    assert steps["AcceptGrant"]["status"] == "DISABLED"
    assert steps["CreateGrantVersion (activate)"]["status"] == "ACTIVE"
    assert steps["ListReceivedLicenses"]["licenses"] == [[True, "ACTIVE"]]
    checked_out = steps["CheckoutLicense"]
    assert checked_out["alg"] == "PS256" and checked_out["signedTokenLength"] >= 4096
    assert checked_out["issuedAt"].endswith("Z")  # the SDK hands the time through as the wire had it
    assert steps["CreateLicenseVersion"]["version"] == "2"
    assert steps["DeleteLicense"]["status"] == "DELETED"  # its only grant was deleted: nothing holds it
    assert steps["CheckoutLicense (Marketplace)"]["license"] is True
    log = [(r.operation, r.status) for r in mockcloud_server.cloud.requests if r.service == "licensemanager"]
    assert log.count(("CheckoutLicense", 200)) == 3 and log.count(("CheckoutLicense", 400)) == 3
