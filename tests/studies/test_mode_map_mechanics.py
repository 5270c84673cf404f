"""Quick mode of studies/mode_map_mechanics against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import pytest

from femion.config import load_study
from femion.materials import load_material

STUDY = Path(__file__).resolve().parents[2] / "studies" / "mode_map_mechanics"


@pytest.mark.slow
def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("mode_map.nc", "li_history.nc", "table.md", "summary.json", "run.json"):
        assert (tmp_path / name).is_file(), name
    import xarray as xr

    with xr.open_dataset(tmp_path / "mode_map.nc") as data:
        assert data.sizes == {"electrode": 4, "rate": 4, "mechanism": 2}
        assert data.sigma_vm_max.attrs["units"] == "Pa"
        # an electrode that stays below its yield stress has no plastic strain (J2 return mapping)
        bonded = data.sel(mechanism="bonded")
        for electrode in ("Ti", "ITO"):
            yield_stress = load_material(electrode).value("yield_stress")
            assert np.all(bonded.sigma_vm_max.sel(electrode=electrode).values < yield_stress)
            assert np.all(bonded.eps_p_max.sel(electrode=electrode).values == 0.0)
