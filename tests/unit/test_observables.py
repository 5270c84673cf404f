"""Observables recover known parameters from synthetic curves."""

from __future__ import annotations

import numpy as np
import pytest

from femion.constants import BOLTZMANN, EV
from femion.observables import (
    areal_capacitance_cv,
    areal_capacitance_gcd,
    arrhenius_fit,
    conductance_ratio,
    cycle_to_cycle_variation,
    fit_nonlinearity,
    nonlinearity_label,
    read_conductance,
)


@pytest.mark.parametrize("a", [0.2, 0.8, 3.0, -0.5])
def test_nonlinearity_fit_recovers_a(a):
    p = np.linspace(0, 1, 40)
    g_min, g_max = 1e-6, 5.75e-5
    branch = g_min + (g_max - g_min) * np.expm1(-p / a) / np.expm1(-1 / a)
    fit = fit_nonlinearity(branch)
    assert fit.a == pytest.approx(a, rel=1e-6)
    assert fit.direction == "LTP" and fit.rms_residual < 1e-9
    depression = g_max - (g_max - g_min) * np.expm1(-p / a) / np.expm1(-1 / a)
    assert fit_nonlinearity(depression).direction == "LTD"
    assert fit_nonlinearity(depression).a == pytest.approx(a, rel=1e-6)


# (label, normalised A) pairs printed in NeuroSim's table (MLP_NeuroSim_V1.0, Documents/Nonlinearity-NormA.htm)
NEUROSIM_TABLE = [(0.01, 126.2689581), (0.1, 12.62580682), (1.5, 0.825164164), (3.0, 0.386829669), (4.4, 0.235108743), (5.8, 0.145899115)]


@pytest.mark.parametrize(("label", "a"), NEUROSIM_TABLE)
def test_nonlinearity_label_reproduces_neurosim_table(label, a):
    assert nonlinearity_label(a, "LTP") == pytest.approx(label, rel=1e-8)
    assert nonlinearity_label(a, "LTD") == pytest.approx(-label, rel=1e-8)
    assert nonlinearity_label(-a, "LTP") == pytest.approx(-label, rel=1e-8)  # curving the other way


def test_nonlinearity_label_limits_and_errors():
    assert nonlinearity_label(np.inf, "LTP") == 0.0
    with pytest.raises(ValueError, match="direction"):
        nonlinearity_label(1.0, "up")
    with pytest.raises(ValueError, match="non-zero"):
        nonlinearity_label(float("nan"), "LTP")


def test_linear_branch_has_large_a():
    assert abs(fit_nonlinearity(np.linspace(1.0, 2.0, 20)).a) > 1e3


def test_ratio_and_variation():
    assert conductance_ratio([1e-6, 5.75e-5, 2e-5]) == pytest.approx(57.5)
    assert cycle_to_cycle_variation([1.0, 1.02, 0.98]) == pytest.approx(0.02)
    with pytest.raises(ValueError):
        conductance_ratio([1.0, -1.0])


@pytest.mark.parametrize("times_temperature", [False, True])
def test_arrhenius_fit_returns_input_energy(times_temperature):
    t = np.linspace(280, 360, 9)
    sigma = 3.0 * np.exp(-0.5 * EV / (BOLTZMANN * t)) / (t if times_temperature else 1.0)
    fit = arrhenius_fit(t, sigma, times_temperature=times_temperature)
    assert fit.activation_energy == pytest.approx(0.5, rel=1e-12)


def test_capacitance_of_an_ideal_capacitor():
    # i = C A ν on a triangular sweep: both definitions return C exactly.
    capacitance, area, rate = 4.1e-2, 3.14e-8, 0.05  # 4.1 mF/cm² in F/m²
    up = np.linspace(0.0, 1.0, 201)
    voltage = np.concatenate([up, up[::-1][1:]])
    current = np.concatenate([np.full(201, capacitance * area * rate), np.full(200, -capacitance * area * rate)])
    assert areal_capacitance_cv(voltage, current, rate, area) == pytest.approx(capacitance, rel=1e-12)
    current_gcd = 1e-6
    assert areal_capacitance_gcd(current_gcd, capacitance * area * 1.0 / current_gcd, 1.0, area) == pytest.approx(capacitance)


def test_read_conductance_removes_the_emf_of_a_linear_cell():
    # a cell = emf E in series with a conductance g: I = g (V - E) at every read voltage
    g, emf = 3.0e-6, -0.135
    for v_read in (0.05, 0.1, 0.2):
        current = g * (v_read - emf)
        assert read_conductance(current, v_read, emf) == pytest.approx(g, rel=1e-14)
    # the raw I/V_read carries the emf: (1 - E/V_read) g = 2.35 g at 0.1 V
    assert read_conductance(g * (0.1 - emf), 0.1) == pytest.approx(2.35 * g, rel=1e-14)


@pytest.mark.parametrize("args", [(1e-6, 0.0, 0.0), (1e-6, 0.1, 0.1), (np.nan, 0.1, 0.0), (1e-6, 0.1, np.inf)])
def test_read_conductance_rejects_bad_input(args):
    with pytest.raises(ValueError):
        read_conductance(*args)
