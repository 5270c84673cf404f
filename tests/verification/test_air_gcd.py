"""GCD analysis of the power-mode study on an ideal capacitor: C = IΔt/ΔV exactly."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "power_cv_gcd"


@pytest.fixture(scope="module")
def study():
    return load_study(STUDY)[1]


def test_ideal_capacitor_discharge_gives_its_capacitance_energy_and_power(study):
    capacitance, current, area, v0, v1 = 1.3e-6, 2e-8, np.pi * 1e-8, 1.0, 0.2  # F, A, m², V
    duration = capacitance * (v0 - v1) / current
    t = np.linspace(0.0, duration, 57)
    v = v0 - current * t / capacitance
    metrics = study.discharge_metrics(t, v, np.full_like(t, -current), area)
    assert metrics["capacitance_F_m2"] == pytest.approx(capacitance / area, rel=1e-13)
    energy = capacitance * (v0**2 - v1**2) / 2 / area  # ∫ I V dt for linear V
    assert metrics["energy_J_m2"] == pytest.approx(energy, rel=1e-13)
    assert metrics["power_W_m2"] == pytest.approx(energy / duration, rel=1e-13)


def test_series_and_parallel_composition(study):
    capacitance, current, area = 1e-6, 1e-8, 1.0
    t = np.linspace(0.0, 50.0, 11)
    v = 1.0 - current * t / capacitance
    single = study.discharge_metrics(t, v, np.full_like(t, -current), area)
    ts, vs, i_s = study.compose_two(t, v, current, "series")
    tp, vp, i_p = study.compose_two(t, v, current, "parallel")
    series = study.discharge_metrics(ts, vs, np.full_like(ts, -i_s), area)
    parallel = study.discharge_metrics(tp, vp, np.full_like(tp, -i_p), area)
    assert series["capacitance_F_m2"] == pytest.approx(single["capacitance_F_m2"] / 2, rel=1e-13)
    assert series["window_V"] == pytest.approx(2 * single["window_V"], rel=1e-13)
    assert parallel["capacitance_F_m2"] == pytest.approx(2 * single["capacitance_F_m2"], rel=1e-13)
    with pytest.raises(ValueError, match="series"):
        study.compose_two(t, v, current, "bridge")


def test_bad_discharges_are_named(study):
    t = np.linspace(0, 1, 5)
    with pytest.raises(ValueError, match="does not fall"):
        study.discharge_metrics(t, t, -np.ones(5), 1.0)
    with pytest.raises(ValueError, match="not constant"):
        study.discharge_metrics(t, 1 - t, -np.arange(5.0), 1.0)
