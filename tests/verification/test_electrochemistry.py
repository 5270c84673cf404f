"""Li electrochemistry of the stack against closed forms.

* Butler–Volmer and the regular-solution open-circuit potential: closed forms.
* The implicit surface-layer step of the interface law equals Butler–Volmer
  evaluated at its own end-of-step occupancy, conserves the layer's Li and is
  bounded by the layer's content.
* A blocking cell (no charge transfer) under cyclic voltammetry is two double
  layers in series: i = (C_dl/2) A ν.
* A host film behind a fast, nearly non-polarisable counter electrode:
  thin-layer limit at slow scans, peak current i_p = F² ν N / (4RT) (N = Li
  sites of the film, ideal lattice gas, Nernstian interface; Bard & Faulkner,
  *Electrochemical Methods*, 2nd ed., §11.7 for the thin-layer form with
  Q = F N); semi-infinite limit at fast scans, i_p ∝ √ν (the Nernstian
  lattice-gas problem with D(θ) is invariant under t → νt, x → x√(ν/D), so
  the peak flux scales as √(νD) whatever the form of D(θ); Bard & Faulkner
  §6.2 for the linear case).

Test devices are the reference device with some material values replaced
(modified copies of the database TOMLs), so what is tested is the production
model, not a re-implementation.
"""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest

import femion
from femion.constants import FARADAY, GAS_CONSTANT
from femion.physics.lithium import butler_volmer, exchange_current_density, open_circuit_potential, surface_step_current
from femion.protocols import cyclic_voltammetry
from femion.simulation import Simulation, SimulationSettings


def _material(tmp_path, name: str, **values: float) -> str:
    """A copy of the database TOML of ``name`` with ``values`` (in the TOML's own unit) replaced; returns its path."""
    text = (resources.files("femion.materials") / f"{name}.toml").read_text()
    for key, value in values.items():
        text, count = re.subn(rf"(\[{key}\]\nvalue = )[^\n]+", rf"\g<1>{value!r}", text)
        assert count == 1, key
    path = tmp_path / f"{name}_test.toml"
    path.write_text(text.replace(f'name = "{name}"', f'name = "{name}_test"'))
    return str(path)


def _device(tmp_path, overrides: dict, **materials: dict):
    device = femion.load_device()
    keys = dict(overrides)
    for name, values in materials.items():
        keys[f"device.layers.{name}.material"] = _material(tmp_path, name, **values)
    return femion.config.override_device(device, keys)


def test_butler_volmer_and_open_circuit_potential_closed_forms():
    temperature = 300.0
    f = FARADAY / (GAS_CONSTANT * temperature)
    eta = np.linspace(-0.2, 0.2, 41)
    current, slope = butler_volmer(eta, 3.0, 0.3, temperature)
    np.testing.assert_allclose(current, 3.0 * (np.exp(0.3 * f * eta) - np.exp(-0.7 * f * eta)), rtol=1e-14)
    h = 1e-7
    numeric = (butler_volmer(eta + h, 3.0, 0.3, temperature)[0] - butler_volmer(eta - h, 3.0, 0.3, temperature)[0]) / (2 * h)
    np.testing.assert_allclose(slope, numeric, rtol=1e-7)
    assert butler_volmer(np.array([0.0]), 3.0, 0.5, temperature)[0][0] == 0.0
    theta = np.array([0.1, 0.5, 0.9])
    u = open_circuit_potential(theta, 2.8, 0.0, temperature)
    np.testing.assert_allclose(u, 2.8 + np.log((1 - theta) / theta) / f, rtol=1e-14)
    with pytest.raises(ValueError, match="occupancy"):
        open_circuit_potential(np.array([1.0]), 2.8, 0.0, temperature)
    with pytest.raises(FloatingPointError, match="overflows"):
        butler_volmer(np.array([100.0]), 1.0, 0.5, temperature)


@pytest.mark.parametrize("alpha", [0.5, 0.3, 0.7])
def test_surface_step_current_is_butler_volmer_at_the_end_of_step_occupancy(alpha):
    temperature, u0, i0_ref, dt = 300.0, 2.8, 10.0, 1e-3
    jump = u0 + np.linspace(-0.3, 0.3, 25)
    theta0 = np.full_like(jump, 0.2)
    capacity = np.full_like(jump, 0.05)  # C/m²: a few-nm surface layer
    current, slope, theta = surface_step_current(jump, theta0, capacity, dt, u0, 0.0, i0_ref, alpha, temperature)
    # Li balance of the layer over the step, and Butler–Volmer at the end-of-step state (independent formulas)
    np.testing.assert_allclose(theta, theta0 - current * dt / capacity, rtol=0, atol=1e-15)
    eta = jump - open_circuit_potential(theta, u0, 0.0, temperature)
    expected, _ = butler_volmer(eta, exchange_current_density(theta, i0_ref, alpha), alpha, temperature)
    np.testing.assert_allclose(current, expected, rtol=1e-10, atol=1e-12 * i0_ref)
    h = 1e-6
    numeric = (surface_step_current(jump + h, theta0, capacity, dt, u0, 0.0, i0_ref, alpha, temperature)[0]
               - surface_step_current(jump - h, theta0, capacity, dt, u0, 0.0, i0_ref, alpha, temperature)[0]) / (2 * h)
    np.testing.assert_allclose(slope, numeric, rtol=1e-6)
    # far beyond any physical overpotential the current saturates at the layer's content, without overflow
    far, _, end = surface_step_current(np.array([u0 + 50.0, u0 - 50.0]), np.array([0.2, 0.2]), np.array([0.05, 0.05]),
                                       dt, u0, 0.0, i0_ref, alpha, temperature)
    np.testing.assert_allclose(far, [0.2 * 0.05 / dt, -0.8 * 0.05 / dt], rtol=1e-12)
    assert np.all((end >= 0.0) & (end <= 1.0))
    # the interaction term enters at the start-of-step occupancy: a shift of U° by (Ω/F)(1 − 2θ₀)
    omega = 0.05 * FARADAY
    shifted = surface_step_current(jump, theta0, capacity, dt, u0, omega, i0_ref, alpha, temperature)[0]
    np.testing.assert_allclose(shifted, surface_step_current(jump, theta0, capacity, dt, u0 + 0.05 * 0.6, 0.0, i0_ref, alpha, temperature)[0], rtol=1e-12)
    with pytest.raises(ValueError, match="occupancy"):
        surface_step_current(jump[:1], np.array([0.0]), capacity[:1], dt, u0, 0.0, i0_ref, alpha, temperature)


MESH = femion.MeshSettings(radial_cells=(2, 2, 2), min_layer_cells=2, layer_cell_size=50e-9, substrate_cells=2)


def test_blocking_cell_cv_is_two_double_layers_in_series(tmp_path):
    # No charge transfer (i0 ~ 0) and conducting hosts: the whole film area charges both double layers.
    host = {"exchange_current_density": 1e-12, "electronic_conductivity": 100.0}
    device = _device(tmp_path, {}, WO3=host, MoO3=host)
    rate = 1.0
    simulation = Simulation(device, cyclic_voltammetry(-0.1, 0.1, rate, start=0.0), SimulationSettings(mesh=MESH))
    result = simulation.run(progress=False)
    capacitance = device.material("WO3").value("double_layer_capacitance")
    area = np.pi * device.film_radius**2
    time = result.curves.time.values
    current = result.curves.current.values
    rising = (time > 0.05) & (time < 0.09)  # 0 → 0.1 V leg, far from its start (RC ~ 1e-4 s)
    np.testing.assert_allclose(current[rising], 0.5 * capacitance * area * rate, rtol=1e-3)


def _host_cv_peak(
    tmp_path, rate: float, mesh: femion.MeshSettings, voltage_step: float, diffusivity: float = 1e-13
) -> tuple[float, float]:
    """Cathodic peak current of a Nernstian WO3 film against a large, fast MoO3 counter electrode.

    Returns the peak current [A] and the thin-layer prediction [A], F² ν N_W /(4RT (1 + N_W/N_M)): the
    counter electrode (θ ≈ 1/2, N_M ≈ 56 N_W) takes up the same charge, which slows the sweep of the
    WO3 potential by the factor 1 + N_W/N_M (both at θ = 1/2).
    """
    fast = {"exchange_current_density": 1e4, "electronic_conductivity": 100.0, "polaron_conductivity": 0.0}
    device = _device(
        tmp_path,
        {"device.layers.MoO3.thickness": "5 um"},
        WO3={**fast, "li_diffusivity": diffusivity},
        MoO3={**fast, "li_diffusivity": 1e-11, "li_initial_occupancy": 0.5},
        LiPON={"li_ionic_conductivity": 1.0},
    )
    offset = device.material("WO3").value("li_standard_potential") - device.material("MoO3").value("li_standard_potential")
    protocol = cyclic_voltammetry(offset - 0.15, offset + 0.12, rate, start=offset + 0.12, max_step=voltage_step / rate)
    result = Simulation(device, protocol, SimulationSettings(mesh=mesh)).run(progress=False)
    area = np.pi * device.film_radius**2
    sites = {name: device.material(name).value("li_max_concentration") * area * device.layer(name).thickness for name in ("WO3", "MoO3")}
    predicted = FARADAY**2 * rate * sites["WO3"] / (4 * GAS_CONSTANT * 300.0 * (1.0 + sites["WO3"] / sites["MoO3"]))
    return float(-result.curves.current.values.min()), float(predicted)


@pytest.mark.slow
def test_host_film_cv_thin_layer_limit(tmp_path):
    # L²/D = 0.4 s ≪ the 50 s the sweep spends across the peak: the film stays uniform (thin-layer limit).
    # 0.5 mV per step: implicit Euler, first order in dt.
    peak, predicted = _host_cv_peak(tmp_path, 2e-3, MESH, 5e-4)
    assert peak == pytest.approx(predicted, rel=0.01)


@pytest.mark.slow
def test_host_film_cv_semi_infinite_limit(tmp_path):
    # D = 1e-16 m²/s: the diffusion length across the peak (~10 nm at 0.1 V/s, ~5 nm at 0.4 V/s) is far
    # below the 200 nm film, so the film is semi-infinite and i_p ∝ √ν: 4× the rate, 2× the peak.
    # The interface cells (~1 nm, graded) resolve it; the ratio converges to 2 from below under mesh
    # refinement (1.954 with 30 cells per layer, 1.967 with 60) and grows towards 2 as D falls (the finite
    # film: 1.865 at D = 1e-15, 1.932 at 3e-16, with 30 cells).
    mesh = femion.MeshSettings(radial_cells=(1, 1, 1), min_layer_cells=60, layer_cell_size=1e-6, layer_bump=0.05, substrate_cells=2)
    slow, _ = _host_cv_peak(tmp_path, 0.1, mesh, 1e-3, diffusivity=1e-16)
    fast, _ = _host_cv_peak(tmp_path, 0.4, mesh, 1e-3, diffusivity=1e-16)
    assert fast / slow == pytest.approx(2.0, rel=0.025)
