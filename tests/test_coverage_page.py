"""docs/coverage.md is what the code emulates: regenerated from the shipped models and the @operation declarations."""

from __future__ import annotations

from pathlib import Path

from mockcloud.coverage import render, services

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "coverage.md"


def test_the_coverage_page_matches_the_code():
    assert PAGE.read_text() == render(), (
        "docs/coverage.md does not match the services' @operation declarations and operations.json: "
        "regenerate it with `python tools/coverage_page.py` and commit it"
    )


def test_every_model_operation_is_on_the_page_once_and_every_declared_one_is_emulated():
    page = PAGE.read_text()
    for service in services():
        if service.model is None:
            continue
        names = [row.operation for row in service.rows]
        assert names == sorted(service.model.operations)
        for row in service.rows:
            assert f"| {row.operation} | {'yes' if row.emulated else 'no'} |" in page
    amplify = next(s for s in services() if s.package == "amplifyuibuilder")
    assert amplify.emulated == len(amplify.rows) == 28  # Amplify UI Builder: every operation of its model


def test_the_readme_and_the_docs_navigation_link_the_page():
    assert "docs/coverage.md" in (ROOT / "README.md").read_text()
    assert "coverage.md" in (ROOT / "mkdocs.yml").read_text()
