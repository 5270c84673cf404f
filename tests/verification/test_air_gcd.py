"""The power-mode study's analysis on exact inputs: an ideal capacitor (C = IΔt/ΔV), a power law, a Gaussian redox pair."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femion.config import load_study
from femion.observables import discharge_metrics

STUDY = Path(__file__).resolve().parents[2] / "studies" / "power_cv_gcd"


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)[1]


def test_ideal_capacitor_discharge_gives_its_capacitance_energy_and_power(study):
    capacitance, current, area, v0, v1 = 1.3e-6, 2e-8, np.pi * 1e-8, 1.0, 0.2  # F, A, m², V
    duration = capacitance * (v0 - v1) / current
    t = np.linspace(0.0, duration, 57)
    v = v0 - current * t / capacitance
    metrics = discharge_metrics(t, v, np.full_like(t, -current), area)
    assert metrics["capacitance_F_m2"] == pytest.approx(capacitance / area, rel=1e-13)
    energy = capacitance * (v0**2 - v1**2) / 2 / area  # ∫ I V dt for linear V
    assert metrics["energy_J_m2"] == pytest.approx(energy, rel=1e-13)
    assert metrics["power_W_m2"] == pytest.approx(energy / duration, rel=1e-13)


def test_discharges_are_cut_from_a_gcd_record_and_charge_is_counted_per_step(study):
    import xarray as xr

    capacitance, current = 1e-6, 1e-8  # F, A: ideal capacitor, V = Q/C
    t_charge = np.linspace(0.0, 40.0, 9)
    t = np.r_[t_charge, 40.0 + np.linspace(5.0, 40.0, 8)]
    i = np.r_[-3e-9, np.full(8, current), np.full(8, -current)]  # row 0: the start state (its own current)
    q = np.r_[0.0, np.cumsum(i[1:9] * np.diff(t[:9]))]
    v = np.r_[q / capacitance, (q[-1] - current * (t[9:] - 40.0)) / capacitance]
    record = xr.Dataset({"voltage": ("time", v), "current": ("time", i)}, coords={"time": t})
    (single,) = study.discharges(record, 1.0)
    assert single["capacitance_F_m2"] == pytest.approx(capacitance, rel=1e-12)
    charge, voltage = study.charge_branch(record)
    np.testing.assert_allclose(charge, current * t_charge, rtol=1e-12)
    np.testing.assert_allclose(voltage, current * t_charge / capacitance, rtol=1e-12)


def test_peak_current_rate_exponent_of_a_power_law(study):
    rates = [0.01, 0.02, 0.05, 0.1]
    assert study.rate_exponent(rates, [-3e-9 * r**0.5 for r in rates]) == pytest.approx(0.5, rel=1e-12)
    assert study.rate_exponent(rates, [7e-8 * r for r in rates]) == pytest.approx(1.0, rel=1e-12)
    assert np.isnan(study.rate_exponent([0.1], [1e-9]))


def test_cv_peaks_find_an_interior_redox_pair_and_flag_vertex_extremes(study):
    up = np.linspace(-1.0, 1.0, 401)
    v = np.r_[up, up[::-1][1:]]
    peak = lambda centre, sign: sign * np.exp(-(((v - centre) / 0.1) ** 2))  # noqa: E731
    rising = np.r_[True, np.diff(v) > 0]
    i = np.where(rising, 1e-8 * peak(0.2, 1) + 1e-9, 1e-8 * peak(-0.3, -1) - 1e-9)
    found = study.cv_peaks(v, i, (-1.0, 1.0))
    assert found["anodic_potential_V"] == pytest.approx(0.2, abs=1e-12)
    assert found["cathodic_potential_V"] == pytest.approx(-0.3, abs=1e-12)
    assert found["anodic_interior"] == 1 and found["cathodic_interior"] == 1
    ramp = study.cv_peaks(v, np.where(rising, 1e-9 * (v + 1.0), -1e-9 * (1.0 - v)), (-1.0, 1.0))
    assert ramp["anodic_potential_V"] == pytest.approx(1.0) and ramp["anodic_interior"] == 0
    assert ramp["cathodic_potential_V"] == pytest.approx(-1.0) and ramp["cathodic_interior"] == 0


def test_bad_discharges_are_named(study):
    t = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="does not fall"):
        discharge_metrics(t, t, -np.ones(5), 1.0)
    with pytest.raises(ValueError, match="not constant"):
        discharge_metrics(t, 1 - t, -np.arange(5.0), 1.0)
