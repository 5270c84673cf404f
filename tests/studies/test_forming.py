"""studies/forming: helper checks (fast) and the quick run against expected.json (slow: ~2 min)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.cli import load_study
from femion.switching import crossing_voltage, filament_profile, forming_voltage

STUDY = Path(__file__).resolve().parents[2] / "studies" / "forming"


def test_forming_voltage_interpolates_the_compliance_crossing():
    v = np.linspace(0.0, 5.0, 51)
    i = 1e-9 * np.exp(v / 0.3)  # exponential rise: |I| = 1e-5 A at V = 0.3 ln(1e4)
    assert forming_voltage(v, np.minimum(i, 1e-5), 1e-5, level=0.5) == pytest.approx(0.3 * np.log(5e3), abs=1e-9)
    assert np.isnan(crossing_voltage(v, i * 0, 1e-6))
    with pytest.raises(ValueError, match="level"):
        forming_voltage(v, i, 1e-5, level=2.0)


def test_filament_profile_of_a_gaussian_column_and_of_a_ring():
    r = np.linspace(0.0, 100e-6, 2001)
    column = filament_profile(r, np.exp(-0.5 * (r / 10e-6) ** 2))
    assert column["r_max_m"] == 0.0
    assert column["fwhm_m"] == pytest.approx(2.3548 * 10e-6, rel=1e-3)  # 2 sqrt(2 ln 2) sigma
    ring = filament_profile(r, np.exp(-0.5 * ((r - 60e-6) / 5e-6) ** 2))
    assert ring["r_max_m"] == pytest.approx(60e-6, abs=1e-7)
    assert ring["fwhm_m"] == pytest.approx(2.3548 * 5e-6, rel=1e-3)


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for tag in ("50uA", "500uA"):
        assert summary[tag]["compliance_reached"]
        with xr.open_dataset(tmp_path / f"iv_{tag}.nc") as data:
            assert data.current.attrs["units"] == "A"
            assert np.max(np.abs(data.current.values)) <= float(tag.removesuffix("uA")) * 1e-6 * (1 + 1e-5)
