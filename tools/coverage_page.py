"""Write docs/coverage.md from the services' shipped model operation lists and their @operation declarations.

    python tools/coverage_page.py

Run it after an operation is added (tests/test_coverage_page.py fails until the page matches the code),
and after ``python tools/model_operations.py`` when a model changes.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mockcloud.coverage import render  # noqa: E402  (the checkout's own mockcloud, not an installed one)

PAGE = ROOT / "docs" / "coverage.md"

if __name__ == "__main__":
    PAGE.write_text(render())
    print(f"wrote {PAGE.relative_to(ROOT)}")
