"""Quick mode of studies/power_cv_gcd against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "power_cv_gcd"


@pytest.mark.slow
def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("curves.nc", "cv.nc", "gcd.nc", "cycling.nc", "series.nc", "parallel.nc", "reference.nc", "summary.json",
                 "findings.md"):
        assert (tmp_path / name).is_file(), name
