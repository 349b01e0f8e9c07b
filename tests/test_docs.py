"""The README's and the docs site's examples run as written; the site builds; CI runs the README's test command."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mockcloud.server.live import LiveServer
from tests.helpers import UNUSED_PLUGINS

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCKS = [
    (page.relative_to(ROOT).as_posix(), number, code)
    for page in PAGES
    for number, (comment, code) in enumerate(
        re.findall(r"(?:<!--\s*(.*?)\s*-->\s*\n)?```python\n(.*?)```", page.read_text(), re.S)
    )
    if not comment.startswith("not run: ")  # a Python example that needs what this suite cannot give it
]
SHELL = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
# every shell example of the docs: (page, number, the comment before it, its code)
SHELL_BLOCKS = [
    (page.relative_to(ROOT).as_posix(), number, comment, code)
    for page in PAGES
    for number, (comment, code) in enumerate(
        re.findall(r"(?:<!--\s*(.*?)\s*-->\s*\n)?```(?:sh|bash|shell|console)\n(.*?)```", page.read_text(), re.S)
    )
]
NOT_RUN = re.compile(r"not run: (\S.{10,})", re.S)
DOC_URL = "http://127.0.0.1:4566"


def test_the_docs_have_examples():
    assert len(BLOCKS) >= 20
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200


@pytest.mark.parametrize(("page", "number", "code"), BLOCKS, ids=[f"{p}#{n}" for p, n, _ in BLOCKS])
def test_example_runs(page, number, code, request, monkeypatch, capsys):
    if "def test_" in code and "@mock_cloud" not in code:
        pytester = request.getfixturevalue("pytester")
        pytester.makepyfile(test_docs_example=code)
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *UNUSED_PLUGINS)
        result.assert_outcomes(passed=code.count("def test_"))
    elif "MOCKCLOUD_URL" in code:
        with LiveServer() as server:
            monkeypatch.setenv("MOCKCLOUD_URL", server.url)
            exec(compile(code, f"{page} block {number}", "exec"), {"__name__": "docs"})
        assert "Example Pro license" in capsys.readouterr().out
    else:
        exec(compile(code, f"{page} block {number}", "exec"), {"__name__": "docs"})


def test_the_site_builds_strictly(tmp_path):
    """Every page is in the navigation, every link resolves, every API reference renders."""
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "site" / "handle" / "index.html").read_text().count("advance") >= 2


def test_ci_runs_the_readme_test_command():
    test_command = SHELL[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert "mockcloud server" in SHELL[0]


RUN_SHELL_BLOCKS = [(page, number, code) for page, number, comment, code in SHELL_BLOCKS if not comment]


def test_a_shell_example_that_is_not_run_says_why():
    """A shell example runs (below), or the comment just before it says why not: nothing is silently left out."""
    unexplained = [
        f"{page}#sh{number}: {comment!r}"
        for page, number, comment, _ in SHELL_BLOCKS
        if comment and not NOT_RUN.match(comment)
    ]
    assert unexplained == [], "the comment before a shell example must be 'not run: <the reason>'"
    assert RUN_SHELL_BLOCKS, "no shell example of the docs runs"


@pytest.mark.parametrize(
    ("page", "number", "code"), RUN_SHELL_BLOCKS, ids=[f"{p}#sh{n}" for p, n, _ in RUN_SHELL_BLOCKS]
)
def test_shell_example_runs(page, number, code, tmp_path):
    """Each shell example runs with bash against a server this test starts (its URL in place of the docs'
    127.0.0.1:4566)."""
    assert shutil.which("curl") or "curl" not in code, "curl is needed for the docs' shell examples"
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    env.pop("MOCKCLOUD_ADMIN_TOKEN", None)
    # curl fails on an error answer and still shows its body, so an example that gets an error fails here
    prelude = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'
    if "mockcloud server" in code:  # it starts its own servers: on a free port ($MOCKCLOUD_PORT), in tmp_path
        server, port = contextlib.nullcontext(), _free_port()
    else:
        server = LiveServer()
        port = None
    with server as live:
        url = live.url if live is not None else f"http://127.0.0.1:{port}"
        env["MOCKCLOUD_URL"] = url
        if port is not None:
            env["MOCKCLOUD_PORT"] = str(port)  # the default port of every `mockcloud server` it starts
        script = code.replace(DOC_URL, url)
        run = subprocess.run(
            ["bash", "-c", prelude + script],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert run.returncode == 0, f"{page} shell example {number} failed ({run.returncode}):\n{run.stdout}\n{run.stderr}"
    assert "Traceback" not in run.stdout + run.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
