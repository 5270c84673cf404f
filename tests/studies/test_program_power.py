"""Quick mode of studies/program_power against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "program_power"


@pytest.mark.slow
def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("curves.nc", "sweeps.nc", "summary.json", "findings.md"):
        assert (tmp_path / name).is_file(), name
    # Li is conserved between the films and the air products (to the loop's tolerance).
    total_start = summary["li_film_inventory_start_mol"]
    assert summary["li_film_inventory_end_mol"] + summary["li_consumed_total_mol"] == pytest.approx(total_start, rel=1e-9)
