"""benchmarks/fuzz.py runs bounded, answers 0 internal errors, and never aims off loopback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "benchmarks" / "fuzz.py"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=120
    )


def test_a_short_run_counts_statuses_and_finds_no_internal_error():
    result = run("--requests", "300", "--seed", "5")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "fuzz: 300 requests" in result.stdout
    assert "by status: " in result.stdout and "licensemanager: " in result.stdout
    assert result.stdout.rstrip().endswith("internal errors: 0")


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1:4566", "http://example.com", "https://127.0.0.1:4566", "http://192.168.1.1"]
)
def test_targets_off_loopback_are_refused_before_any_request(url):
    result = run("--url", url, "--requests", "1")
    assert result.returncode != 0
    assert "refusing" in result.stderr and "loopback" in result.stderr
    assert "fuzz:" not in result.stdout
