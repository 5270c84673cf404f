"""Quick mode of studies/mode_switch against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "mode_switch"


@pytest.mark.slow
def test_quick_run_writes_the_table(tmp_path, assert_matches_expected):
    """Regression snapshot: the quick variant (full programming window and rates, coarse mesh, ~400 s) as stored.

    Slow tier: four programming sweeps with lithium, mechanics and air plus the pulse/CV characterisations.
    """
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
    # Vacuum never consumes Li (no gas to react with), whatever else the model contains: an identity, not a snapshot.
    vacuum = [row for row in summary["rows"] if row["ambient"] == "vacuum"]
    assert all(row["li_consumed_mol"] == 0.0 for row in vacuum)
