"""What the built package says about itself: it ships its types (PEP 561)."""

from __future__ import annotations

import configparser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_py_typed_is_shipped_and_the_typed_classifier_is_set():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert (ROOT / "mockcloud" / "py.typed").is_file()
    assert "py.typed" in config["options.package_data"]["mockcloud"].split()
    assert "Typing :: Typed" in config["metadata"]["classifiers"].strip().splitlines()
