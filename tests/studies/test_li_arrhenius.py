"""studies/li_arrhenius: the local-slope helpers (fast) and the quick run against expected.json."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.config import load_study
from femion.constants import BOLTZMANN, EV

STUDY = Path(__file__).resolve().parents[2] / "studies" / "li_arrhenius"


def test_local_slopes_of_a_pure_and_a_mixed_arrhenius_law():
    _, module = load_study(STUDY)
    t = np.array([280.0, 320.0, 360.0, 300.0])  # unsorted on purpose
    g = 2.0 * np.exp(-0.5 * EV / (BOLTZMANN * t))
    np.testing.assert_allclose(module.local_activation_energies(t, g), 0.5, rtol=1e-12)
    assert module.is_arrhenius(module.local_activation_energies(t, g), 0.5)
    # two resistors in series with 0.5 and 0 eV: the local slope falls from ~0.5 eV towards 0
    series = 1.0 / (1.0 / g + 1.0 / (g[0] * 3.0))
    local = module.local_activation_energies(t, series)
    assert np.all(np.diff(local) < 0.0)
    assert not module.is_arrhenius(local, float(np.mean(local)))
    with pytest.raises(ValueError):
        module.local_activation_energies(t[:1], g[:1])


def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert len(summary["local_activation_energy_eV"]) == len(summary["temperatures_K"]) - 1
    assert isinstance(summary["arrhenius_linear"], bool)
    with xr.open_dataset(tmp_path / "arrhenius.nc") as data:
        assert data.temperature.attrs["units"] == "K" and data.G.attrs["units"] == "S"
        assert data.G.shape == (len(summary["read_times_s"]), len(summary["temperatures_K"]))
        # the fitted E_A is the least-squares slope of the stored conductances
        slope = np.polyfit(1.0 / data.temperature.values, np.log(data.G.values[0]), 1)[0]
        assert summary["activation_energy_eV"] == pytest.approx(-slope * BOLTZMANN / EV, rel=1e-12)
    assert (tmp_path / "findings.md").is_file()
