"""The README's examples run as written, and CI runs the README's test command."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mockcloud.server.live import LiveServer

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)
SHELL = re.findall(r"```sh\n(.*?)```", README, re.S)


def test_readme_has_examples():
    assert len(BLOCKS) >= 4


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_example_runs(index, request, monkeypatch, capsys):
    code = BLOCKS[index]
    if "def test_" in code and "@mock_cloud" not in code:
        pytester = request.getfixturevalue("pytester")
        pytester.makepyfile(test_readme_example=code)
        result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
        result.assert_outcomes(passed=code.count("def test_"))
    elif "MOCKCLOUD_URL" in code:
        with LiveServer() as server:
            monkeypatch.setenv("MOCKCLOUD_URL", server.url)
            exec(compile(code, f"README block {index}", "exec"), {"__name__": "readme"})
        assert "Example Pro license" in capsys.readouterr().out
    else:
        exec(compile(code, f"README block {index}", "exec"), {"__name__": "readme"})


def test_ci_runs_the_readme_test_command():
    test_command = SHELL[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert "mockcloud server" in SHELL[0]
