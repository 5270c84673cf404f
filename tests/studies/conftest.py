"""Shared by the study tests: comparison of a quick-mode summary with the study's stored ``expected.json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _assert_matches_expected(summary: dict, study: Path) -> None:
    """Every key of ``expected.json["quick"]``: ``value`` within ``rel``, or at most ``max``.

    A stored NaN (an observable the run leaves undefined, e.g. a window without a read) must come out NaN again.
    """
    expected = json.loads((study / "expected.json").read_text())["quick"]
    for key, target in expected.items():
        if "max" in target:
            assert summary[key] <= target["max"], key
        else:
            assert summary[key] == pytest.approx(target["value"], rel=target["rel"], nan_ok=True), key


@pytest.fixture
def assert_matches_expected():
    """The comparison function, as a fixture (test modules here are not a package)."""
    return _assert_matches_expected
