"""The README's and the docs site's examples run as written; the site builds; CI runs the README's test command."""

from __future__ import annotations

import os
import re
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
    for number, code in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S))
]
SHELL = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)


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
