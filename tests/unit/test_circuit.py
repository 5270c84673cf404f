"""External circuit of the coupled loop (femion.coupling.Drive): compliance on every step, series resistor.

Current control is tested through Simulation in test_simulation.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from femion.coupling import Drive, ModuleReport, State, coupled_step
from femion.physics.electrostatics import ElectrostaticsModule


class VoltageActivatedFilament:
    """Toy provider: film conductivity rising steeply with |V| (a nonlinear device G(V))."""

    name, owns, reads = "toy", ("g",), ("phi",)

    def __init__(self, mesh, device):
        self.cells = mesh.region_mask(*(layer.name for layer in device.films))

    def initialize(self, state):
        state.fields["g"] = np.zeros(len(self.cells))

    def conductivity(self, state, kappa):
        kappa[self.cells] = 1e-6 * np.exp(2.0 * abs(state.voltage))

    def advance(self, state, dt, start):
        state.fields["g"] = np.full(len(self.cells), abs(state.voltage))
        return ModuleReport()


@pytest.fixture()
def loop(device, quick_mesh):
    toy = VoltageActivatedFilament(quick_mesh, device)
    modules = [ElectrostaticsModule(quick_mesh, device, providers=[toy]), toy]
    state = State()
    for module in reversed(modules):
        module.initialize(state)
    return modules, state


def test_compliance_holds_on_every_step_of_a_nonlinear_device(loop):
    modules, state = loop
    compliance, limited = 1e-4, []
    for source in np.linspace(1.0, 8.0, 8):
        state, outcome = coupled_step(modules, state, 0.1, Drive("voltage", source, compliance=compliance), tolerance=1e-8, max_iterations=60)
        assert abs(state.current) <= compliance * (1 + 1e-6)
        assert state.voltage <= source
        limited.append(outcome.limited)
    assert limited[-1] and not limited[0]


def test_series_resistor(loop):
    modules, state = loop
    new, _ = coupled_step(modules, state, 1e-3, Drive("voltage", 2.0, series_resistance=1e3), tolerance=1e-8, max_iterations=60)
    assert new.voltage + new.current * 1e3 == pytest.approx(2.0, rel=1e-6)


def test_bad_drives_are_refused():
    with pytest.raises(ValueError, match="control"):
        Drive("power", 1.0)
    with pytest.raises(ValueError, match="compliance"):
        Drive("voltage", 1.0, compliance=-1.0)
    with pytest.raises(ValueError, match="voltage sources only"):
        Drive("current", 1e-6, compliance=1e-3)
    with pytest.raises(ValueError, match="finite"):
        Drive("voltage", float("nan"))


class _Passive:
    """A second module that reads φ and feeds nothing back (the loop then needs one confirming sweep)."""

    name, owns, reads = "passive", ("seen",), ("phi",)

    def initialize(self, state):
        state.fields["seen"] = np.zeros(1)

    def advance(self, state, dt, start):
        state.fields["seen"] = np.array([np.max(state.fields["phi"])])
        return ModuleReport()


@pytest.mark.parametrize("with_passive", [False, True])
def test_ohmic_device_meets_every_circuit_in_the_fewest_iterations(device, quick_mesh, with_passive):
    """Pristine stack (ohmic, no emf): I = G V with G from a plain voltage solve; the circuit is solved in the first potential solve.

    Alone, the electrostatics module converges in 1 iteration; with a module that reads φ, in 2 (the
    second sweep confirms that nothing changes). Exact references: current control V = I_set/G;
    compliance V = I_cc/G; series resistor V = V_s/(1 + R_s G).
    """
    electrostatics = ElectrostaticsModule(quick_mesh, device)
    modules = [electrostatics, _Passive()] if with_passive else [electrostatics]
    start = State()
    for module in reversed(modules):
        module.initialize(start)
    reference, _ = coupled_step(modules, start, 1e-3, 1.0)
    conductance = reference.current  # I at 1 V [S]
    cases = [
        (Drive("current", -3e-9), -3e-9 / conductance, True),
        (Drive("voltage", 5.0, compliance=1e-9), 1e-9 / conductance, True),
        (Drive("voltage", -5.0, compliance=1e-9), -1e-9 / conductance, True),
        (Drive("voltage", 0.5, compliance=1e-3), 0.5, False),
        (Drive("voltage", 2.0, series_resistance=3e8), 2.0 / (1.0 + 3e8 * conductance), False),
    ]
    for drive, voltage, limited in cases:
        new, outcome = coupled_step(modules, start, 1e-3, drive)
        assert outcome.iterations == len(modules)
        assert new.voltage == pytest.approx(voltage, rel=1e-9)
        assert new.current == pytest.approx(conductance * voltage, rel=1e-9)
        assert new.conductance == pytest.approx(conductance, rel=1e-9)  # ohmic: dI/dV = I/V
        assert outcome.limited == (limited and drive.compliance is not None)


def test_electrode_voltage_solves_the_affine_circuit_equation():
    """Drive.electrode_voltage on I(V') = I + G (V' − V): one exact step, the compliance binding with the sign of the current."""
    current, conductance = 2e-6, 1e-6  # I(1 V) with an emf offset: I(V') = 1e-6 + 1e-6 V'
    assert Drive("current", 5e-6).electrode_voltage(1.0, current, conductance) == (pytest.approx(4.0), False)
    assert Drive("voltage", 3.0).electrode_voltage(1.0, current, conductance) == (3.0, False)
    assert Drive("voltage", 3.0, compliance=5e-6).electrode_voltage(1.0, current, conductance) == (3.0, False)
    assert Drive("voltage", 3.0, compliance=3e-6).electrode_voltage(1.0, current, conductance) == (pytest.approx(2.0), True)
    assert Drive("voltage", -9.0, compliance=3e-6).electrode_voltage(1.0, current, conductance) == (pytest.approx(-4.0), True)
    voltage, limited = Drive("voltage", 3.0, series_resistance=1e6).electrode_voltage(1.0, current, conductance)
    assert voltage + 1e6 * (1e-6 + 1e-6 * voltage) == pytest.approx(3.0) and not limited
    with pytest.raises(ValueError, match="positive and finite"):
        Drive("current", 0.0).electrode_voltage(1.0, current, 0.0)
    # The loop-level fallback takes the same Newton step when the slope is known, a chord I/V when not.
    assert Drive("current", 5e-6).target_voltage([(1.0, current)], conductance) == (pytest.approx(4.0), False)
    assert Drive("current", 5e-6).target_voltage([(1.0, current)]) == (pytest.approx(2.5), False)


class _HiddenDrive:
    """Wraps the electrostatics module so that it solves at the given V and reports no dI/dV: the loop then takes its
    secant fallback (Drive.target_voltage), the circuit algorithm used before the circuit moved into the potential solve."""

    def __init__(self, inner):
        self.inner, self.name, self.owns, self.reads = inner, inner.name, inner.owns, inner.reads
        self.derived, self.field_scales = inner.derived, inner.field_scales

    def initialize(self, state):
        self.inner.initialize(state)

    def advance(self, state, dt, start):
        drive, state.drive = state.drive, None
        try:
            return self.inner.advance(state, dt, start)
        finally:
            state.drive = drive


def test_circuit_in_the_potential_solve_agrees_with_the_loop_level_secant(loop):
    """Same start, same dt, a nonlinear device under compliance and a series resistor: both algorithms meet the
    circuit and agree within the coupling tolerance (1e-8 here)."""
    modules, state = loop
    hidden = [_HiddenDrive(modules[0]), *modules[1:]]
    for drive in (Drive("voltage", 3.0, compliance=1e-4), Drive("voltage", 4.0, compliance=1e-4),
                  Drive("voltage", 2.0, series_resistance=1e3), Drive("current", 1e-7)):
        new, _ = coupled_step(modules, state, 0.1, drive, tolerance=1e-8, max_iterations=60)
        old, _ = coupled_step(hidden, state, 0.1, drive, tolerance=1e-8, max_iterations=60)
        assert new.voltage == pytest.approx(old.voltage, rel=1e-6)
        assert new.current == pytest.approx(old.current, rel=1e-6)
        assert np.isnan(old.conductance) and new.conductance > 0.0


def test_parallel_current_tolerance_is_the_floor_plus_the_relative_accuracy_of_the_largest_current():
    from femion.circuit import RELATIVE_TOLERANCE, parallel_current_tolerance

    assert parallel_current_tolerance(1.0, [0.5, -2.0], floor=1e-15) == pytest.approx(1e-15 + RELATIVE_TOLERANCE * 2.0, rel=1e-15)
    over_time = parallel_current_tolerance(2e-8, [np.array([1e-8, 3e-8]), np.array([1e-8, -1e-8])], floor=0.0)
    np.testing.assert_allclose(over_time, RELATIVE_TOLERANCE * np.array([2e-8, 3e-8]), rtol=1e-15)
