"""Quick mode of studies/li_arrhenius: σ_Li(T) measured on the simulated stack returns the input E_A; other values against
expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from femion.cli import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "li_arrhenius"


def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    # the two inputs differ, and each fit returns its own input (not a value read back from one place)
    assert abs(summary["E_A_fit_database_eV"] - 0.55) < 0.011
    assert abs(summary["E_A_fit_paper_eV"] - 0.5) < 0.01
    with xr.open_dataset(tmp_path / "arrhenius.nc") as data:
        sigma = data.sigma_paper.values
        assert np.all(np.diff(sigma) > 0)  # conductivity rises with temperature
        assert data.temperature.attrs["units"] == "K"
    assert (tmp_path / "LiPON_paper.toml").is_file()


def test_paper_material_sets_the_paper_activation_energy(tmp_path):
    _, module = load_study(STUDY)
    from femion.config import load_device

    device = load_device()
    path = module.paper_material(device, 0.5, tmp_path / "LiPON_paper.toml")
    assert 'value = 0.5\n' in path.read_text()
    assert '"wang2025allinone"' in path.read_text()
