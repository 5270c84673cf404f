"""Air ingress module: gas-phase laws, reaction integration, stoichiometry, interface checks."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.constants import GAS_CONSTANT
from femion.coupling import State
from femion.physics import air


@pytest.fixture(scope="module")
def device_mesh():
    device = femion.load_device()
    return device, femion.build_mesh(device, settings=femion.QUICK_MESH)


def test_stoichiometry_conserves_every_element_exactly():
    # Paper Eqs. (1)-(3): Li, O, C, H atoms balance in each reaction (integer arithmetic, exact).
    assert np.array_equal(air.COMPOSITION @ air.STOICHIOMETRY, np.zeros((4, 3)))


def test_ambient_air_from_partial_pressures_and_vacuum_is_empty():
    t = 300.0
    c = air.ambient_concentrations("air", t, relative_humidity=0.5)
    total = air.STANDARD_PRESSURE / (GAS_CONSTANT * t)
    assert c["O2"] == pytest.approx(0.2095 * total, rel=1e-12)
    assert c["CO2"] == pytest.approx(420e-6 * total, rel=1e-12)
    assert c["H2O"] == pytest.approx(0.5 * air.saturation_vapour_pressure(t) / (GAS_CONSTANT * t), rel=1e-12)
    assert all(value == 0.0 for value in air.ambient_concentrations("vacuum", t).values())
    with pytest.raises(ValueError, match="ambient"):
        air.ambient_concentrations("argon", t)
    with pytest.raises(ValueError, match="relative humidity"):
        air.ambient_concentrations("air", t, relative_humidity=1.5)


def test_saturation_vapour_pressure_matches_steam_tables():
    # Buck (1981) vs the IAPWS values tabulated in the CRC Handbook: 3.1699 kPa at 25 C, 7.3849 kPa at 40 C.
    assert air.saturation_vapour_pressure(298.15) == pytest.approx(3169.9, rel=2e-3)
    assert air.saturation_vapour_pressure(313.15) == pytest.approx(7384.9, rel=2e-3)


def test_pore_diffusivity_limits_and_bruggeman():
    d_k = air.knudsen_diffusivity(10e-9, 300.0, 0.032)
    mean_speed = np.sqrt(8 * GAS_CONSTANT * 300.0 / (np.pi * 0.032))
    assert d_k == pytest.approx(10e-9 / 3 * mean_speed, rel=1e-14)
    assert air.pore_diffusivity(1e-5, 1e20) == pytest.approx(1e-5)  # wide pores: molecular
    assert air.pore_diffusivity(1e20, 1e-7) == pytest.approx(1e-7)  # narrow pores: Knudsen
    assert air.effective_diffusivity(np.array([0.0, 0.25, 1.0]), 2.0) == pytest.approx([0.0, 0.25, 2.0])
    # above a percolation threshold ε_c only the excess (ε − ε_c)/(1 − ε_c) conducts; below it nothing does
    assert air.effective_diffusivity(np.array([0.02, 0.03, 0.515, 1.0]), 2.0, 0.03) == pytest.approx([0.0, 0.0, 2.0 * 0.5**1.5, 2.0])
    with pytest.raises(ValueError, match="porosity"):
        air.effective_diffusivity(np.array([-0.1]), 1.0)
    with pytest.raises(ValueError, match="threshold"):
        air.effective_diffusivity(np.array([0.1]), 1.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        air.knudsen_diffusivity(0.0, 300.0, 0.032)


def test_reaction_integration_closes_pores_exactly_and_never_overfills():
    eps = np.array([0.1, 0.1, 0.0])
    rates = np.array([[3.0, 0.0, 5.0], [1.0, 0.0, 5.0], [0.5, 0.0, 5.0]])
    dv = np.array([2e-5, 3e-5, 1e-6])
    decay = dv @ rates
    for dt in (1e-3, 10.0, 1e9):
        step = air.integrate_reactions(eps, rates, dv, dt)
        assert step.open_porosity == pytest.approx(eps * np.exp(-decay * dt), rel=1e-12, abs=1e-300)
        # Solid volume added equals the pore volume lost, exactly.
        assert dv @ step.extents == pytest.approx(-eps * np.expm1(-decay * dt), rel=1e-12, abs=1e-300)
        assert np.all(step.open_porosity >= 0.0)
    assert air.integrate_reactions(eps, rates, dv, 1e9).open_porosity[0] == 0.0
    # No rates: nothing happens.
    assert np.all(air.integrate_reactions(eps, np.zeros((3, 3)), dv, 1.0).extents == 0.0)
    with pytest.raises(ValueError, match="non-negative"):
        air.integrate_reactions(eps, -rates, dv, 1.0)
    with pytest.raises(ValueError, match="dt"):
        air.integrate_reactions(eps, rates, dv, 0.0)


def test_product_molar_volumes_from_database():
    v = air.molar_volumes()
    assert v["Li2O"] == pytest.approx(14.84e-6, rel=2e-3)
    assert v["LiOH"] == pytest.approx(16.40e-6, rel=2e-3)
    assert v["Li2CO3"] == pytest.approx(35.02e-6, rel=2e-3)
    assert v["Li2CO3"] > 2 * v["LiOH"]  # carbonation still adds solid volume


def test_sparse_operator_equals_fipy_terms(device_mesh):
    device, mesh = device_mesh
    electrode = mesh.submesh((device.top_electrode.name,))
    exposed = electrode.face_mask("top_contact", "electrode_side")
    rng = np.random.default_rng(3)
    eps = rng.uniform(0.0, 0.3, electrode.n_cells)
    eps[rng.random(electrode.n_cells) < 0.3] = 0.0  # dense cells mixed in
    d = air.effective_diffusivity(eps, 1e-6)
    sink = rng.uniform(0.0, 1e6, electrode.n_cells) * (eps > 0)
    source = rng.uniform(0.0, 1.0, electrode.n_cells) * (eps > 0)
    surface = np.where(exposed, 8.5, 0.0)
    reference, face_d = air.solve_quasi_steady_gas(electrode, d, sink, source, exposed, surface)
    operator = air.GasOperator(electrode, exposed)
    assert operator.face_diffusivity(d) == pytest.approx(face_d, rel=1e-12, abs=1e-30)
    fast = operator.solve(d, sink, source, surface)
    assert fast == pytest.approx(np.asarray(reference.value), rel=1e-9, abs=1e-12)
    assert np.all(fast[eps == 0.0] == 0.0)


def _state(mesh, device, porosity: float, c_li: float, region_radius: float = 30e-6) -> State:
    module = air.AirModule(mesh, device)
    state = State()
    module.initialize(state)
    top = mesh.region_mask(device.top_electrode.name)
    field = np.zeros(mesh.n_cells)
    field[top & (mesh.r_cell < region_radius)] = porosity
    state.fields["porosity"] = field
    li = np.zeros(mesh.n_cells)
    li[mesh.region_mask(*(layer.name for layer in device.films))] = c_li
    state.fields["c_li"] = li
    return state


def _advance(module, state, dt):
    new = state.copy()
    new.time += dt
    module.advance(new, dt, state)
    return new


def test_dense_electrode_or_vacuum_consumes_nothing(device_mesh):
    device, mesh = device_mesh
    for porosity, ambient in ((0.0, "air"), (0.1, "vacuum")):
        module = air.AirModule(mesh, device, ambient=ambient)
        state = _state(mesh, device, porosity, 5000.0)
        new = _advance(module, state, 10.0)
        assert np.array_equal(new.fields["c_li"], state.fields["c_li"])
        assert module.observables(new)["li_consumed_air"] == 0.0
        assert np.all(new.fields["c_o2"] == 0.0)


def test_missing_porosity_means_dense(device_mesh):
    device, mesh = device_mesh
    module = air.AirModule(mesh, device)
    state = _state(mesh, device, 0.1, 5000.0)
    del state.fields["porosity"]
    assert module.observables(_advance(module, state, 10.0))["li_consumed_air"] == 0.0


def test_gas_enters_only_through_pores_and_reaches_the_surface_value(device_mesh):
    device, mesh = device_mesh
    module = air.AirModule(mesh, device)
    state = _state(mesh, device, 0.1, 0.0)  # no Li: no sink, gas at the ambient value in the open pores
    new = _advance(module, state, 1.0)
    porous = state.fields["porosity"] > 0
    ambient = air.ambient_concentrations("air", device.temperature)
    assert new.fields["c_o2"][porous] == pytest.approx(ambient["O2"], rel=1e-9)
    assert np.all(new.fields["c_o2"][~porous] == 0.0)


def test_bad_inputs_are_named(device_mesh):
    device, mesh = device_mesh
    with pytest.raises(ValueError, match="ambient"):
        air.AirModule(mesh, device, ambient="nitrogen")
    with pytest.raises(ValueError, match="relative humidity"):
        air.AirModule(mesh, device, relative_humidity=2.0)
    module = air.AirModule(mesh, device)
    state = _state(mesh, device, 0.1, 100.0)
    state.fields["porosity"][mesh.region_mask(device.top_electrode.name)] = 1.5
    with pytest.raises(ValueError, match="porosity"):
        _advance(module, state, 1.0)
    with pytest.raises(ValueError, match="dt"):
        module.advance(state.copy(), 0.0, state)


def test_too_large_step_is_rejected_not_clipped(device_mesh):
    device, mesh = device_mesh
    module = air.AirModule(mesh, device)
    state = _state(mesh, device, 0.3, 50.0)  # little Li under large pores
    with pytest.raises(FloatingPointError, match="reduce dt"):
        _advance(module, state, 1e4)
