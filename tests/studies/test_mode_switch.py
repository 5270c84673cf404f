"""Quick mode of studies/mode_switch against its expected.json (acceptance of issue #6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.cli import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "mode_switch"


@pytest.mark.slow
def test_quick_run_writes_the_table(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("mode_switch.nc", "table.md", "summary.json", "run.json"):
        assert (tmp_path / name).is_file(), name
    import xarray as xr

    with xr.open_dataset(tmp_path / "mode_switch.nc") as table:
        assert table.sizes["case"] == 4
        assert set(table.ambient.values) == {"air", "vacuum"}
        assert table.li_consumed.attrs["units"] == "mol"
    # Vacuum never consumes Li (no gas), whatever else the model contains.
    vacuum = [row for row in summary["rows"] if row["ambient"] == "vacuum"]
    assert all(row["li_consumed_mol"] == 0.0 for row in vacuum)
