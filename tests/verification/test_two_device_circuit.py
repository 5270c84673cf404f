"""Two device models in one circuit (femion.circuit) against Kirchhoff's laws and single-device runs.

References: identical members in series carry the source current each and the
terminal voltage is twice the single device's voltage at that current; identical
members in parallel share a source current equally, so each follows the single
device at half the current; different members in parallel share one voltage and
their currents sum to the source current, and each member alone, driven by the
circuit's voltage history, draws the current it drew in the circuit.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import femion
from femion.circuit import RELATIVE_TOLERANCE, Circuit
from femion.materials import material_variant
from femion.protocols import Protocol, Step, rest
from femion.simulation import Simulation, SimulationSettings

TINY = femion.MeshSettings(radial_cells=(3, 6, 4), min_layer_cells=2, layer_cell_size=100e-9, substrate_cells=2)
SETTINGS = SimulationSettings(mesh=TINY, first_step=1e-3)
CURRENT = 2e-8  # A: charges the cell (Li into the MoO3 side), V rises by ~10 mV over 10 ms
DURATION, MAX_STEP = 1e-2, 1e-3  # s: ten equal steps in every run (V changes < max_voltage_change per step)


@pytest.fixture(scope="module")
def balanced(device, tmp_path_factory):
    """The reference device with MoO3's U0 moved by the pristine emf, so that the emf is 0 V.

    The tests compare runs step by step; they need the same ten time steps in every run, i.e. a voltage that starts at
    the start state's 0 V instead of jumping to the emf (the jump, twice as large in series, cuts the next step).
    """
    emf = Simulation(device, rest(1e-3), SETTINGS).run(progress=False).curves.open_circuit_voltage.values[-1]
    u0 = device.material("MoO3").value("li_standard_potential")
    path = material_variant("MoO3", {"li_standard_potential": (u0 + emf, "assumed")}, tmp_path_factory.mktemp("moo3") / "MoO3.toml",
                            name="MoO3_zero_emf")
    balanced = femion.config.override_device(device, {"device.layers.MoO3.material": str(path)})
    assert abs(Simulation(balanced, rest(1e-3), SETTINGS).run(progress=False).curves.open_circuit_voltage.values[-1]) < 1e-6
    return balanced


def _galvanostatic(current: float) -> Protocol:
    return Protocol((Step.constant("current", current, DURATION, kind="charge", max_step=MAX_STEP),))


def test_identical_devices_in_series_double_the_single_device_voltage(balanced):
    device = balanced
    single = Simulation(device, _galvanostatic(CURRENT), SETTINGS).run(progress=False).curves
    series = Circuit([device, device], _galvanostatic(CURRENT), "series", SETTINGS).run(progress=False).curves
    np.testing.assert_array_equal(series.time.values, single.time.values)
    np.testing.assert_allclose(series.voltage.values, 2.0 * single.voltage.values, rtol=1e-12, atol=0.0)
    for k in (1, 2):
        np.testing.assert_allclose(series[f"current_{k}"].values[1:], CURRENT, rtol=2 * RELATIVE_TOLERANCE)
        np.testing.assert_allclose(series[f"voltage_{k}"].values, single.voltage.values, rtol=1e-12, atol=0.0)
    assert single.voltage.values[-1] - single.voltage.values[0] > 5e-3  # the test exercises a real charge


def test_identical_devices_in_parallel_share_the_current_equally(balanced):
    device = balanced
    parallel = Circuit([device, device], _galvanostatic(CURRENT), "parallel", SETTINGS).run(progress=False).curves
    half = Simulation(device, _galvanostatic(CURRENT / 2), SETTINGS).run(progress=False).curves
    np.testing.assert_array_equal(parallel.time.values, half.time.values)
    for k in (1, 2):
        np.testing.assert_allclose(parallel[f"current_{k}"].values[1:], CURRENT / 2, rtol=2 * RELATIVE_TOLERANCE)
        np.testing.assert_array_equal(parallel[f"voltage_{k}"].values[1:], parallel.voltage.values[1:])
    np.testing.assert_allclose(parallel.current.values[1:], CURRENT, rtol=RELATIVE_TOLERANCE)
    # The single device at I/2 reaches the same voltage within the 1e-6 relative accuracy of the circuit's current and
    # of the members' Picard iterations (measured 1.6e-6 of max |V|; bound 1e-5).
    scale = np.max(np.abs(half.voltage.values))
    np.testing.assert_allclose(parallel.voltage.values, half.voltage.values, rtol=0.0, atol=1e-5 * scale)


def test_different_devices_in_parallel_meet_kirchhoff_and_match_each_device_alone(device):
    small = replace(device, electrode_radius=0.5 * device.electrode_radius)  # a quarter of the electrode area
    circuit = Circuit([device, small], _galvanostatic(CURRENT), "parallel", SETTINGS).run(progress=False).curves
    i1, i2 = circuit.current_1.values[1:], circuit.current_2.values[1:]
    np.testing.assert_allclose(i1 + i2, CURRENT, rtol=RELATIVE_TOLERANCE)
    np.testing.assert_array_equal(circuit.voltage_1.values[1:], circuit.voltage_2.values[1:])
    assert np.all(i1 > 2.0 * i2) and np.all(i2 > 0.0)  # the larger electrode takes the larger share
    # Each member alone under the circuit's voltage history, stepped on the same time grid, draws its circuit current.
    times = circuit.time.values[1:] - circuit.time.values[0]
    history = Step.piecewise_linear(np.r_[0.0, times], np.r_[circuit.voltage.values[1], circuit.voltage.values[1:]],
                                    kind="sweep", max_step=MAX_STEP)
    for member, current in ((device, i1), (small, i2)):
        alone = Simulation(member, Protocol((history,)), SimulationSettings(mesh=TINY, first_step=MAX_STEP)).run(progress=False)
        np.testing.assert_array_equal(alone.curves.time.values[1:] - alone.curves.time.values[0], times)
        np.testing.assert_allclose(alone.curves.current.values[1:], current, rtol=1e-6 * CURRENT / np.min(np.abs(current)))


def test_voltage_source_on_identical_devices_in_series_gives_each_half_the_voltage(device):
    step = Protocol((Step.constant("voltage", 0.04, DURATION, kind="hold", max_step=MAX_STEP),))
    series = Circuit([device, device], step, "series", SETTINGS).run(progress=False).curves
    half = Simulation(device, Protocol((Step.constant("voltage", 0.02, DURATION, kind="hold", max_step=MAX_STEP),)), SETTINGS)
    half = half.run(progress=False).curves
    np.testing.assert_allclose(series.voltage.values[1:], 0.04, rtol=RELATIVE_TOLERANCE)
    np.testing.assert_array_equal(series.current_1.values, series.current_2.values)
    np.testing.assert_allclose(series.current.values[1:], half.current.values[1:], rtol=1e-4)


def test_circuit_refuses_bad_input(device):
    with pytest.raises(ValueError, match="connection"):
        Circuit([device, device], _galvanostatic(CURRENT), "star", SETTINGS)
    with pytest.raises(ValueError, match="at least two"):
        Circuit([device], _galvanostatic(CURRENT), "series", SETTINGS)
    with pytest.raises(ValueError, match="compliance"):
        Circuit([device, device], Protocol((Step.constant("voltage", 1.0, 1e-3, kind="hold", compliance=1e-6),)), "series", SETTINGS)


def test_galvanostatic_step_of_a_parallel_circuit_ends_on_its_terminal_voltage_limit(balanced):
    from femion.protocols import VoltageLimits

    device = balanced
    step = Step.constant("current", -2.0 * CURRENT, float("inf"), kind="charge", limits=VoltageLimits(lower=-0.05))
    circuit = Circuit([device, device], Protocol((step,)), "parallel", SETTINGS).run(progress=False)
    assert circuit.state.voltage == pytest.approx(-0.05, abs=SETTINGS.limit_tolerance)
    assert [member.voltage for member in circuit.state.members] == [circuit.state.voltage] * 2
    np.testing.assert_allclose(circuit.curves.current.values[1:], -2.0 * CURRENT, rtol=RELATIVE_TOLERANCE)
    # The single device at the member current reaches the same limit after the same charge (equal time, to the limit
    # tolerance over the final slope dV/dt).
    alone = Simulation(device, Protocol((replace(step, levels=(-CURRENT,)),)), SETTINGS).run(progress=False)
    slope = abs(np.diff(alone.curves.voltage.values[-2:]) / np.diff(alone.curves.time.values[-2:]))[0]
    assert circuit.state.time == pytest.approx(alone.state.time, abs=2 * SETTINGS.limit_tolerance / slope)
