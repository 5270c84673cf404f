"""Mechanics plumbing: cell/Gauss-point/nodal transfers, properties, porosity laws, the coupled-loop module."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.config import override_device
from femion.coupling import ModuleReport, State, coupled_step
from femion.geometry import QUICK_MESH
from femion.physics.mechanics import (
    HISTORY_FIELDS,
    STRESS_FIELDS,
    AxisymmetricSolid,
    MechanicalProperties,
    MechanicsModule,
    MechanicsSettings,
    cell_to_quadrature,
    mechanical_properties,
    rectangle_mesh,
    radial_profile,
    vegard_eigenstrain,
)
from femion.physics.porosity import (
    BlisterSettings,
    blister_energy_release_rate,
    blister_profile,
    laminate,
    porosity_from_void_growth,
    rice_tracey_increment,
)


@pytest.fixture(scope="module")
def device():
    return femion.load_device()


@pytest.fixture(scope="module")
def mesh(device):
    return femion.build_mesh(device, settings=QUICK_MESH)


def test_transfers_are_exact(mesh, device):
    solid = AxisymmetricSolid(mesh, mechanical_properties(mesh, device))
    rng = np.random.default_rng(0)
    cell = rng.normal(size=mesh.n_cells)
    # cell -> Gauss points -> cell is the identity (piecewise-constant fields)
    assert solid.quadrature_to_cell(cell_to_quadrature(cell)) == pytest.approx(cell, rel=1e-14, abs=1e-14)
    # the r-weighted volumes of the Gauss rule equal the exact ∫ r dA of every cell
    assert solid.cell_weights == pytest.approx(mesh.r_volumes, rel=1e-12)
    # a linear nodal field f = a + b r + c z: cell mean ∫ f r dA / ∫ r dA exactly, on rectangles
    rect = rectangle_mesh((0.0, 3e-6), (0.0, 1e-6), (7, 3), r_grading=0.3)
    rsolid = AxisymmetricSolid(rect, MechanicalProperties.uniform(rect.n_cells, 1e9, 0.3), constraints={"axis": "r", "bottom": "z"})
    f = 2.0 + 3e6 * rect.nodes[:, 0] - 5e6 * rect.nodes[:, 1]
    corners = rect.nodes[rect.cells]
    r0, r1 = corners[:, 0, 0], corners[:, 1, 0]
    z0, z1 = corners[:, 0, 1], corners[:, 2, 1]
    mean_r = (2.0 / 3.0) * (r1**3 - r0**3) / (r1**2 - r0**2)
    exact = 2.0 + 3e6 * mean_r - 5e6 * 0.5 * (z0 + z1)
    assert rsolid.nodal_to_cell(f) == pytest.approx(exact, rel=1e-13)


def test_properties_from_database(mesh, device):
    properties = mechanical_properties(mesh, device)
    pt = mesh.region_mask("Pt")
    assert np.all(properties.plastic == pt)
    assert properties.yield_stress[pt][0] == pytest.approx(10e6)
    assert properties.partial_molar_volume[mesh.region_mask("WO3")][0] == pytest.approx(2e-6)
    assert np.all(properties.partial_molar_volume[mesh.region_mask("LiPON", "Pt", "ITO", "substrate")] == 0.0)
    with pytest.raises(KeyError, match="no region"):
        mechanical_properties(mesh, device, plastic_regions=("gold",))
    with pytest.raises(ValueError, match="shape"):
        vegard_eigenstrain(np.zeros(3), np.zeros(4), np.zeros(3))


def test_bad_constraints_named(mesh, device):
    with pytest.raises(KeyError, match="no boundary 'floor'"):
        AxisymmetricSolid(mesh, mechanical_properties(mesh, device), constraints={"floor": "z"})
    with pytest.raises(ValueError, match="components"):
        AxisymmetricSolid(mesh, mechanical_properties(mesh, device), constraints={"axis": "x"})


def test_rice_tracey_and_porosity():
    # equibiaxial tension: σ_m/σ_eq = 2/3 -> 0.283 e Δε
    assert rice_tracey_increment(2.0 / 3.0, 1.0, 1e-3) == pytest.approx(0.283 * np.e * 1e-3)
    assert rice_tracey_increment(1.0, 1.0, 0.0) == 0.0
    with pytest.raises(ValueError):
        rice_tracey_increment(0.0, 1.0, -1.0)
    f0 = 0.01
    assert porosity_from_void_growth(f0, 0.0) == pytest.approx(f0)
    # void volume f0 (R/R0)^3 per matrix volume 1 - f0
    growth = np.log(2.0)
    assert porosity_from_void_growth(f0, growth) == pytest.approx(8 * f0 / (1 - f0 + 8 * f0))


def test_blister_profile_curvatures():
    radius, amplitude = 100e-6, 1e-6
    r = np.linspace(0.0, 0.999 * radius, 2001)
    w, w_rr, w_r_over_r = blister_profile(r, radius, amplitude)
    assert w[0] == pytest.approx(amplitude)
    assert blister_profile(np.array([radius]), radius, amplitude)[0][0] == pytest.approx(0.0, abs=1e-20)
    numeric = np.gradient(np.gradient(w, r), r)
    assert w_rr[5:-5] == pytest.approx(numeric[5:-5], rel=1e-3, abs=1e-4 * abs(w_rr[0]))
    assert w_r_over_r[0] == pytest.approx(w_rr[0])  # equibiaxial curvature at the crest


def test_blister_release_rate_limits():
    e, nu, h = 100e9, 0.3, 250e-9
    assert blister_energy_release_rate(1e6, 2e6, e, nu, h) == 0.0
    g0 = (1 - nu) * h * (1e9) ** 2 / e
    value = blister_energy_release_rate(1e9, 1e3, e, nu, h)
    assert value == pytest.approx(g0 / (1 + 0.9021 * (1 - nu)), rel=1e-5)
    assert value < g0


def test_laminate_homogeneous_plate():
    lam = laminate([(0.0, 1e-6), (1e-6, 3e-6)], [100e9, 100e9], [0.3, 0.3])
    assert lam.neutral_plane == pytest.approx(1.5e-6)
    assert lam.bending_stiffness == pytest.approx(100e9 * (3e-6) ** 3 / (12 * (1 - 0.09)))
    assert lam.plate_modulus == pytest.approx(100e9 / 0.91)


def _li_state(mesh, module, device, dc):
    rc = mesh.cell_centroids[:, 0]
    state = State()
    state.fields["c_li"] = np.where(mesh.region_mask("WO3", "MoO3", "LiPON"), 5000.0, 0.0)
    module.initialize(state)
    new = state.copy()
    new.time = 1.0
    under = rc < device.electrode_radius
    new.fields["c_li"] = state.fields["c_li"] + dc * (mesh.region_mask("WO3") & under) - dc * (mesh.region_mask("MoO3") & under)
    return state, new


def test_module_fields_history_and_skip(mesh, device):
    module = MechanicsModule(mesh, device)
    start, state = _li_state(mesh, module, device, 3000.0)
    for name in ("u_r", "u_z", *STRESS_FIELDS, "eps_p_eq", "porosity", *HISTORY_FIELDS):
        assert name in module.owns and start.fields[name].shape == (mesh.n_cells,)
    report = module.advance(state, 1.0, start)
    assert isinstance(report, ModuleReport) and report.converged and report.residual < 1e-8
    pt = mesh.region_mask("Pt")
    assert state.fields["eps_p_eq"][pt].max() > 0.0  # the 10 MPa Pt yields at the electrode edge
    r_peak = mesh.cell_centroids[pt, 0][np.argmax(state.fields["eps_p_eq"][pt])]
    assert r_peak == pytest.approx(device.electrode_radius, rel=0.01)
    assert np.all(state.fields["eps_p_eq"][~pt] == 0.0)
    # WO3 interior: bonded biaxial stress −E ε*/(1−ν) (ε* = Ω Δc/3), to the substrate's compliance
    wo3 = mesh.region_mask("WO3") & (mesh.cell_centroids[:, 0] < 30e-6)
    expected = -100e9 * 2e-6 / 3 * 3000.0 / 0.7
    assert state.fields["sigma_rr"][wo3] == pytest.approx(expected, rel=0.01)
    # same Li again -> cached, identical; a change below the threshold -> skipped, fields of start
    again = start.copy()
    again.fields["c_li"] = state.fields["c_li"].copy()
    module.advance(again, 1.0, start)
    assert np.array_equal(again.fields["sigma_vm"], state.fields["sigma_vm"])
    tiny = start.copy()
    tiny.fields["c_li"] = start.fields["c_li"] + 1e-3
    assert module.advance(tiny, 1.0, start).iterations == 0
    assert np.array_equal(tiny.fields["eps_p_eq"], start.fields["eps_p_eq"])


def test_module_is_exact_after_restore(mesh, device):
    """A fresh module fed the saved State reproduces the next step (State holds all history)."""
    first = MechanicsModule(mesh, device)
    start, state = _li_state(mesh, first, device, 2000.0)
    first.advance(state, 1.0, start)
    following = state.copy()
    following.fields["c_li"] = state.fields["c_li"] + 1000.0 * (state.fields["c_li"] != start.fields["c_li"]) * np.sign(state.fields["c_li"] - start.fields["c_li"])
    one = following.copy()
    first.advance(one, 1.0, state)
    fresh = MechanicsModule(mesh, device)
    two = following.copy()
    fresh.advance(two, 1.0, state.copy())
    for name in ("sigma_vm", "eps_p_eq", "porosity", "eps_p_rr_q2"):
        assert two.fields[name] == pytest.approx(one.fields[name], rel=1e-6, abs=1e-9 * max(1.0, np.abs(one.fields[name]).max()))
    # the equilibrium displacement is rebuilt from the State alone
    u = fresh.displacement(one)
    assert fresh.solid.nodal_to_cell(u)[:, 1] == pytest.approx(one.fields["u_z"], rel=1e-6, abs=1e-15)


def test_module_in_coupled_step(mesh, device):
    class FixedLi:
        name, owns, reads = "li", ("c_li",), ()

        def __init__(self, values):
            self.values = values

        def initialize(self, state):
            state.fields["c_li"] = self.values.copy()

        def advance(self, state, dt, start):
            state.fields["c_li"] = self.values.copy()
            return ModuleReport()

    module = MechanicsModule(mesh, device)
    start, target = _li_state(mesh, module, device, 1000.0)
    modules = [FixedLi(target.fields["c_li"]), module]
    new, outcome = coupled_step(modules, start, 1.0, 0.0)
    assert outcome.reports["mechanics"].converged
    assert new.fields["sigma_vm"].max() > 0.0


def test_blister_is_computed_not_imposed(mesh, device):
    """Bonded stack: porosity peaks at the electrode edge. With a weak WO3 interface the debonded interface
    and the blister radius come out of G(b) = Γ(ψ(b)) (femion.physics.thinfilm): WO3|LiPON (the compressed
    host over the unstrained electrolyte) debonds and, at Γ_I = 0.01 J/m², grows to the edge of the
    compressed disk; the crest height is the Föppl–von Kármán value for σ₀/σ_c(b)."""
    from femion.physics.thinfilm import circular_blister

    bonded = MechanicsModule(mesh, device, MechanicsSettings(blister=BlisterSettings(enabled=False)))
    start, state = _li_state(mesh, bonded, device, 3000.0)
    bonded.advance(state, 1.0, start)
    pt = mesh.region_mask("Pt")
    r, profile = radial_profile(mesh, state.fields["porosity"], pt, 2e-6)
    assert r[np.argmax(profile)] == pytest.approx(0.98 * device.electrode_radius)
    assert np.all(state.fields["blister_radius"] == 0.0)

    weak = MechanicsModule(mesh, device, MechanicsSettings(blister=BlisterSettings(toughness=0.01)))
    start, state = _li_state(mesh, weak, device, 3000.0)
    weak.advance(state, 1.0, start)
    record = weak.blister_record
    assert record["debonded"] and record["interface_name"] == "WO3|LiPON"
    assert record["radius"] == pytest.approx(device.electrode_radius) and not record["stable"]
    face = weak._interfaces[record["interface"]]
    _, _, _, delta = circular_blister(record["stress"], record["critical_stress"], face.laminate.youngs_modulus, face.laminate.poisson_ratio, face.laminate.thickness)
    assert record["amplitude"] == pytest.approx(float(delta), rel=1e-9)
    assert state.fields["blister_w"].max() == pytest.approx(record["amplitude"], rel=0.02)  # cell-centre sampling of w(r)
    assert weak.blister_of(state) == (record["interface"], record["radius"])
    profile = weak.electrode_profile(state)
    assert profile(np.array([0.0]))[0] > profile(np.array([0.9 * device.electrode_radius]))[0] > 0.0
    # the default interface toughness (materials database, 1.4 J/m² with λ = 0.3) keeps the stack bonded here
    strong = MechanicsModule(mesh, device)
    start, state = _li_state(mesh, strong, device, 3000.0)
    strong.advance(state, 1.0, start)
    assert not strong.blister_record["debonded"] and strong.blister_record["ratio"] < 1.0


def test_ti_does_not_yield(mesh, device):
    titanium = override_device(device, {"device.layers.Pt.material": "Ti"})
    module = MechanicsModule(mesh, titanium)
    start, state = _li_state(mesh, module, titanium, 3000.0)
    module.advance(state, 1.0, start)
    assert np.all(state.fields["eps_p_eq"] == 0.0)


def _partly_plastic_cylinder(reuse: bool) -> AxisymmetricSolid:
    """Thick cylinder (1–2 mm, plane strain), its inner quarter J2 with linear hardening, the rest elastic."""
    mesh = rectangle_mesh((1e-3, 2e-3), (0.0, 4e-5), (40, 2))
    uniform = MechanicalProperties.uniform(mesh.n_cells, 200e9, 0.3, yield_stress=200e6, hardening=1e9)
    inner = mesh.cell_centroids[:, 0] < 1.25e-3
    properties = MechanicalProperties(uniform.youngs_modulus, uniform.poisson_ratio, np.where(inner, 200e6, np.inf),
                                      np.where(inner, 1e9, 0.0), uniform.partial_molar_volume)
    return AxisymmetricSolid(mesh, properties, constraints={"bottom": "z", "top": "z"}, reuse_factorisation=reuse)


def _load_steps(solid: AxisymmetricSolid, pressures, history=None, guess=None):
    """Solve the inner pressures [Pa] in turn, each from the previous history and displacement."""
    unit = solid.traction_load("inner", lambda r, z: (np.ones_like(r), np.zeros_like(r)))
    solutions = []
    for pressure in pressures:
        solution = solid.solve(np.zeros(solid.mesh.n_cells), history, load=pressure * unit, initial=guess)
        assert solution.converged
        history, guess = solution.history, solution.displacement
        solutions.append(solution)
    return solutions


PRESSURES = (60e6, 90e6, 110e6, 95e6)  # [Pa]: first yield near the bore (~68 MPa), spreading plastic zone, then unloading


def test_woodbury_tangent_solve_equals_the_factorised_tangent(monkeypatch):
    """Each load step by the elastic LU + Woodbury correction equals the step that factorises every tangent.

    Both solids start each step from the same history and displacement (those of the factorising
    run), so that the comparison sees the linear solves alone: at the start of a step the points
    that yielded in the previous one sit on the yield surface to round-off, and which of them the
    first tangent counts as yielding follows that round-off (measured in this sequence when each
    solid runs on its own: the first Newton residual of the third step 0.18 against 0.20, the
    converged steps still within 2e-12 in displacement and 6e-11 in plastic strain).
    """
    import femion.physics.mechanics as mechanics

    factorised = []
    factorise = mechanics._factorise
    monkeypatch.setattr(mechanics, "_factorise", lambda matrix: factorised.append(matrix.shape) or factorise(matrix))
    direct = _load_steps(_partly_plastic_cylinder(reuse=False), PRESSURES)
    assert len(factorised) > 4  # the elastic LU and the plastic tangents
    factorised.clear()
    solid = _partly_plastic_cylinder(reuse=True)
    history, guess = None, None
    for pressure, reference in zip(PRESSURES, direct):
        one = _load_steps(solid, (pressure,), history, guess)[0]
        history, guess = reference.history, reference.displacement
        assert one.iterations == reference.iterations and one.residuals[1] == pytest.approx(reference.residuals[1], rel=1e-9)
        pairs = {"displacement": (one.displacement, reference.displacement), "stress": (one.stress, reference.stress),
                 "plastic strain": (one.history.plastic_strain, reference.history.plastic_strain)}
        for name, (a, b) in pairs.items():
            assert np.max(np.abs(a - b)) <= 1e-10 * max(np.max(np.abs(b)), 1e-300), name
    assert len(factorised) == 1  # the elastic LU only
    assert np.count_nonzero(direct[2].increment) > 10 and not np.any(direct[3].increment)  # a plastic zone grows, then unloads


def test_woodbury_solve_keeps_no_state_between_solves():
    """A fresh solid given the State of a step repeats that step bit for bit (restarts are exact)."""
    running = _load_steps(_partly_plastic_cylinder(reuse=True), PRESSURES)
    for k in (2, 3):
        resumed = _load_steps(_partly_plastic_cylinder(reuse=True), PRESSURES[k:k + 1], running[k - 1].history, running[k - 1].displacement)[0]
        assert np.array_equal(resumed.displacement, running[k].displacement)
        assert np.array_equal(resumed.history.plastic_strain, running[k].history.plastic_strain)
