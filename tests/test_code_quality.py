"""The code stays typed and linted: mypy --strict over the package, ruff's lint and format checks over the repository.

Each tool runs as a developer runs it, from the repository root with the configuration in
``pyproject.toml``, in this interpreter's environment: ``pip install -e '.[test]'`` brings
mypy, ruff and the stubs mypy needs. A failure prints what the tool said.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 600  # seconds; mypy without its cache takes a few on a small machine


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def _explain(result: subprocess.CompletedProcess[str]) -> str:
    command = " ".join(result.args[2:])
    return f"`{command}` exited {result.returncode}:\n{result.stdout}{result.stderr}"


def test_mypy_strict_finds_no_error():
    result = _run("mypy")  # strict, over the packages pyproject.toml names
    assert result.returncode == 0, _explain(result)


def test_ruff_check_finds_nothing():
    result = _run("ruff", "check", "--output-format", "concise", ".")
    assert result.returncode == 0, _explain(result)


def test_ruff_format_would_change_nothing():
    result = _run("ruff", "format", "--check", ".")
    assert result.returncode == 0, _explain(result)
