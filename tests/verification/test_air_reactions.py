"""Li-consuming air reactions: exact atom conservation, self-limiting pore clogging."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.coupling import ModuleReport, State
from femion.materials import material_variant
from femion.physics import air


@pytest.fixture(scope="module")
def device_mesh():
    device = femion.load_device()
    return device, femion.build_mesh(device, settings=femion.QUICK_MESH)


class PrescribedPorosity:
    """Test stand-in for the mechanics module: a fixed ``porosity`` field in the top electrode."""

    name = "porosity"
    owns = ("porosity",)
    reads = ()

    def __init__(self, mesh, device, value: float, radius: float):
        self.field = np.zeros(mesh.n_cells)
        self.field[mesh.region_mask(device.top_electrode.name) & (mesh.r_cell < radius)] = value

    def initialize(self, state):
        state.fields["porosity"] = self.field.copy()

    def advance(self, state, dt, start):
        state.fields["porosity"] = start.fields["porosity"].copy()
        return ModuleReport()


def _run_module(module, state, total: float, first: float = 1.0, growth: float = 1.5):
    """Advance the air module alone to ``total`` s, halving dt on rejection; return states per step."""
    states, dt = [state], first
    while state.time < total * (1 - 1e-12):
        trial = min(dt, total - state.time)
        new = state.copy()
        new.time += trial
        try:
            module.advance(new, trial, state)
        except FloatingPointError:
            dt = trial / 2
            continue
        state = new
        states.append(state)
        dt = trial * growth
    return states


def _li_total(mesh, state) -> float:
    return 2 * np.pi * float(np.sum(state.fields["c_li"] * mesh.r_volumes))


def test_atoms_balance_in_every_cell_and_li_is_conserved_exactly(device_mesh):
    device, mesh = device_mesh
    module = air.AirModule(mesh, device)
    state = State()
    module.initialize(state)
    PrescribedPorosity(mesh, device, 0.05, 40e-6).initialize(state)
    state.fields["c_li"] = np.where(mesh.region_mask("WO3", "LiPON", "MoO3"), 10000.0, 0.0)
    # Seed LiOH so that the carbonation (Eq. 3) runs from the first step too.
    state.fields["LiOH"] = np.where(state.fields["porosity"] > 0, 100.0, 0.0)
    initial_li = _li_total(mesh, state) + module.observables(state)["li_consumed_air"]
    states = _run_module(module, state, 200.0)
    assert len(states) > 5
    for before, after in zip(states[:-1], states[1:]):
        total = _li_total(mesh, after) + module.observables(after)["li_consumed_air"]
        assert total == pytest.approx(initial_li, rel=1e-13)
    final = module.observables(states[-1])
    assert final["li_consumed_air"] > 0.1 * module.observables(state)["li_consumed_air"] + 1e-15
    assert final["Li2CO3_amount"] > 0.0 and final["Li2O_amount"] > 0.0
    # Per-cell element balance of one step: Li, O, C, H changes of all species (solids, Li, gases, H2) sum to 0.
    e = module.volumes
    step = air.integrate_reactions(
        np.array([0.05]), np.array([[30.0], [2.0], [0.5]]),
        np.array([2 * e["Li2O"], 2 * e["LiOH"], e["Li2CO3"] - 2 * e["LiOH"]]), 3.0,
    )
    changes = np.array([step.change(name)[0] for name in air.SPECIES])
    assert np.abs(air.COMPOSITION @ changes).max() <= 1e-15 * np.abs(changes).max()


def _without_threshold(device, tmp_path):
    """The device with a top electrode whose pores are connected at any porosity (ε_c = 0)."""
    top = device.top_electrode
    path = material_variant(top.material, {"pore_percolation_threshold": (0.0, "assumed")}, tmp_path / "open.toml", name="open")
    return femion.config.override_device(device, {f"device.layers.{top.name}.material": str(path)})


def test_pore_clogging_stops_the_reaction_within_the_pore_volume_bound(device_mesh, tmp_path):
    device, mesh = device_mesh
    module = air.AirModule(mesh, _without_threshold(device, tmp_path))
    state = State()
    module.initialize(state)
    PrescribedPorosity(mesh, device, 0.02, 30e-6).initialize(state)
    state.fields["c_li"] = np.where(mesh.region_mask("WO3", "LiPON", "MoO3"), 20000.0, 0.0)
    pore_volume = module.observables(state)["open_pore_volume"]
    states = _run_module(module, state, 1e6)
    consumed = np.array([module.observables(s)["li_consumed_air"] for s in states])
    times = np.array([s.time for s in states])
    final = module.observables(states[-1])
    assert final["open_pore_volume"] < 1e-6 * pore_volume  # the pores are closed
    # Finite uptake: the last decade of time adds nothing measurable.
    late = consumed[-1] - consumed[np.searchsorted(times, 1e5)]
    assert late < 1e-6 * consumed[-1]
    # Bounded by the pore volume: between the least (Li2CO3) and most (Li2O) Li-dense products.
    v = module.volumes
    assert 2 / v["Li2CO3"] * pore_volume * 0.999 < consumed[-1] < 2 / v["Li2O"] * pore_volume * 1.000001
    # Dense, unexposed electrode beyond the porous disk: no products there.
    dense = (mesh.region_mask(device.top_electrode.name)) & (states[-1].fields["porosity"] == 0)
    assert np.all(states[-1].fields["Li2O"][dense] == 0.0)


def test_isolated_voids_take_no_gas_and_connected_ones_close_at_the_threshold(device_mesh):
    device, mesh = device_mesh
    module = air.AirModule(mesh, device)
    threshold = module.percolation_threshold
    assert threshold == pytest.approx(0.03)  # Elam, Kerstein & Rehr 1984 (materials database)
    for porosity in (0.5 * threshold, 2.0 * threshold):
        state = State()
        module.initialize(state)
        PrescribedPorosity(mesh, device, porosity, 30e-6).initialize(state)
        state.fields["c_li"] = np.where(mesh.region_mask("WO3", "LiPON", "MoO3"), 20000.0, 0.0)
        states = _run_module(module, state, 1e6)
        consumed = module.observables(states[-1])["li_consumed_air"]
        if porosity < threshold:
            assert consumed == 0.0  # below the percolation threshold the voids are isolated: no uptake at all
            continue
        # connected voids take up Li until the products fill them down to the threshold, and no further
        eps = module.open_porosity(states[-1])
        pore = states[-1].fields["porosity"][module._cells] > 0
        assert np.all(eps[pore] <= threshold * (1 + 1e-9)) and np.all(eps[pore] > 0.5 * threshold)
        times = np.array([s.time for s in states])
        series = np.array([module.observables(s)["li_consumed_air"] for s in states])
        assert series[-1] - series[np.searchsorted(times, 1e5)] < 1e-6 * series[-1]


@pytest.mark.slow
def test_coupled_loop_lithium_sees_the_loss(device_mesh):
    # The Simulation's module list (electrostatics, lithium, air) plus a prescribed porosity before air: Li in
    # the films plus Li in the products stays at its initial value, and the film inventory drops by the products.
    from femion.protocols import hold
    from femion.simulation import Simulation

    device, mesh = device_mesh
    simulation = Simulation(device, hold(-0.5, 20.0), mesh=mesh, physics=("lithium", "air"))
    names = [module.name for module in simulation.modules]
    assert names.index("air") > names.index("lithium")
    simulation.modules.insert(names.index("air"), PrescribedPorosity(mesh, device, 0.05, 50e-6))
    initial = simulation.initial_state()
    result = simulation.run(progress=False)
    consumed = result.curves["li_consumed_air"].values
    assert consumed[-1] > 0.0
    films = _li_total(mesh, initial)
    assert _li_total(mesh, result.state) + consumed[-1] == pytest.approx(films, rel=1e-12)
    assert films - _li_total(mesh, result.state) == pytest.approx(consumed[-1], rel=1e-9)
