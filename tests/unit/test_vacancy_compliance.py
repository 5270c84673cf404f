"""Compliance circuit (femion.circuit): |I| <= I_cc on every accepted step, series resistor, closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from femion.circuit import compliance_step, device_voltage, run_voltage_program
from femion.coupling import State
from femion.physics.electrostatics import ElectrostaticsModule


def test_device_voltage_closed_forms():
    assert device_voltage(1e-3, 5.0) == 5.0
    assert device_voltage(1e-3, 5.0, series_resistance=1e3) == pytest.approx(2.5)
    assert device_voltage(1e-3, 5.0, compliance=1e-3) == pytest.approx(1.0)
    assert device_voltage(1e-3, -5.0, compliance=1e-3) == pytest.approx(-1.0)
    with pytest.raises(ValueError, match="conductance"):
        device_voltage(0.0, 1.0)
    with pytest.raises(ValueError, match="compliance"):
        device_voltage(1.0, 1.0, compliance=-1.0)


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
        from femion.coupling import ModuleReport

        state.fields["g"] = np.full(len(self.cells), abs(state.voltage))
        return ModuleReport()


def test_compliance_holds_on_every_step(device, quick_mesh):
    toy = VoltageActivatedFilament(quick_mesh, device)
    modules = [ElectrostaticsModule(quick_mesh, device, providers=[toy]), toy]
    state = State()
    for module in reversed(modules):
        module.initialize(state)
    compliance = 1e-4
    times = np.linspace(0.0, 1.0, 9)
    state, record = run_voltage_program(modules, state, times, 8.0 * times, compliance=compliance, tolerance=1e-4)
    currents, voltages, limited = record.column("current"), record.column("voltage"), record.column("limited")
    assert np.all(np.abs(currents) <= compliance * (1 + 1e-3))
    assert limited[-1] and not limited[0]
    assert voltages[-1] < 8.0
    # a single step with a series resistor: V_s = V_d + I R_s
    new, outcome = compliance_step(modules, state, 1e-3, 2.0, series_resistance=1e3, tolerance=1e-8)
    assert outcome.device_voltage + new.current * 1e3 == pytest.approx(2.0, rel=1e-6)
