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
