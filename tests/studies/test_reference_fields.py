"""Quick mode of studies/reference_fields against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path


from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "reference_fields"


def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("potential.vtu", "lithium.vtu", "curves.nc", "summary.json", "run.json", "report.md", "device.toml"):
        assert (tmp_path / name).is_file(), name
    import xarray as xr

    with xr.open_dataset(tmp_path / "curves.nc") as curves:
        assert curves.time.attrs["units"] == "s"
        assert curves.li_inventory.attrs["units"] == "mol"
