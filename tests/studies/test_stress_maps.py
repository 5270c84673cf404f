"""Quick mode of studies/stress_maps against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "stress_maps"


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::femion.mesh.NonOrthogonalMeshWarning")  # a blister mesh between 10° and 30° warns; stated
def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    flat = {"beta_center_flat": summary["beta_center_flat"]}
    for label in ("0.05", "1"):
        for key, value in summary[f"rate_{label}"].items():
            flat[f"{key}_{label}"] = value
    assert_matches_expected(flat, STUDY)
    for name in ("fields_0.05.vtu", "fields_1.vtu", "maps.nc", "summary.json", "run.json"):
        assert (tmp_path / name).is_file(), name
