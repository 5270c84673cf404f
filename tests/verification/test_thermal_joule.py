"""Joule heating of a slab: parabolic steady profile, transient Fourier series, energy balance."""

from __future__ import annotations

import numpy as np
import pytest

from femion.mesh import AxisymmetricMesh
from femion.physics.electrostatics import solve_potential
from femion.physics.mechanics import rectangle_mesh
from femion.physics.thermal import ThermalProperties, ThermalSolver, joule_heating


def slab_mesh(radius: float, thickness: float, n_r: int, n_z: int) -> AxisymmetricMesh:
    """Uniform (r, z) grid, one region 'slab', groups axis/outer/bottom/top (:func:`femion.physics.mechanics.rectangle_mesh`)."""
    return rectangle_mesh((0.0, radius), (0.0, thickness), (n_r, n_z), region="slab")


THICKNESS, RADIUS = 200e-9, 1e-6
KAPPA, K_TH, RHO_CP, VOLTAGE, T_AMB = 1.0e3, 1.5, 2.0e6, 1.0, 300.0


def joule_slab(n_z: int):
    mesh = slab_mesh(RADIUS, THICKNESS, 3, n_z)
    kappa = np.full(mesh.n_cells, KAPPA)
    solution = solve_potential(mesh, kappa, VOLTAGE, electrode="top", ground="bottom")
    dirichlet = mesh.face_mask("top", "bottom")
    heat = joule_heating(mesh, solution.phi, kappa, dirichlet, np.where(mesh.face_mask("top"), VOLTAGE, 0.0))
    properties = ThermalProperties(np.full(mesh.n_cells, K_TH), np.full(mesh.n_cells, RHO_CP))
    solver = ThermalSolver(mesh, properties, dirichlet, T_AMB)
    return mesh, solution, heat, solver


def test_joule_power_equals_iv_and_uniform_source():
    mesh, solution, heat, _ = joule_slab(40)
    assert 2 * np.pi * heat.sum() == pytest.approx(solution.current * VOLTAGE, rel=1e-12)
    q = heat / mesh.r_volumes
    assert np.allclose(q, KAPPA * (VOLTAGE / THICKNESS) ** 2, rtol=1e-10)


def test_steady_parabolic_profile_and_heat_balance():
    mesh, solution, heat, solver = joule_slab(80)
    temperature = solver.solve(heat)
    z = mesh.cell_centroids[:, 1]
    q = KAPPA * (VOLTAGE / THICKNESS) ** 2
    exact = T_AMB + q * z * (THICKNESS - z) / (2 * K_TH)
    rise = exact.max() - T_AMB
    assert np.max(np.abs(temperature - exact)) < 5e-4 * rise  # O(h²) FV error, measured 1.6e-4 at 80 cells
    assert solver.boundary_heat_flow(temperature) == pytest.approx(2 * np.pi * heat.sum(), rel=1e-9)


def test_transient_matches_fourier_series():
    mesh, _, heat, solver = joule_slab(60)
    q = KAPPA * (VOLTAGE / THICKNESS) ** 2
    diffusivity = K_TH / RHO_CP
    t_end = 0.1 * THICKNESS**2 / diffusivity
    steps = 40
    temperature = np.full(mesh.n_cells, T_AMB)
    for _ in range(steps):
        temperature = solver.solve(heat, dt=t_end / steps, start=temperature)
    z = mesh.cell_centroids[:, 1]
    n = np.arange(1, 400, 2)[:, None]
    k = n * np.pi / THICKNESS
    series = np.sum(4 * q * THICKNESS**2 / (K_TH * (n * np.pi) ** 3) * np.sin(k * z) * (1 - np.exp(-(k**2) * diffusivity * t_end)), axis=0)
    rise = series.max()
    assert np.max(np.abs(temperature - T_AMB - series)) < 1.5e-2 * rise  # implicit Euler O(dt), measured 7.4e-3 at 40 steps


def test_solver_rejects_no_ambient_face():
    mesh = slab_mesh(RADIUS, THICKNESS, 2, 4)
    properties = ThermalProperties(np.ones(mesh.n_cells), np.ones(mesh.n_cells))
    with pytest.raises(ValueError, match="ambient"):
        ThermalSolver(mesh, properties, np.zeros(len(mesh.faces), dtype=bool), 300.0)


def robin_slab_exact(z: np.ndarray, q: float, conductance: float) -> np.ndarray:
    """Exact T(z) of −k T'' = q on [0, L], T(0) = T_amb, −k T'(L) = h (T(L) − T_amb): T_amb + a z − q z²/(2k).

    The Robin face gives a = q L (1 + h L/(2k)) / (k + h L): h → ∞ recovers the symmetric parabola
    (a = qL/2k), h → 0 the adiabatic top (a = qL/k).
    """
    a = q * THICKNESS * (1.0 + conductance * THICKNESS / (2.0 * K_TH)) / (K_TH + conductance * THICKNESS)
    return T_AMB + a * z - q * z**2 / (2.0 * K_TH)


@pytest.mark.parametrize("biot", [0.1, 1.0, 10.0])
def test_steady_slab_with_robin_face(biot):
    """Uniform Joule source, bottom at T_amb, top through a contact h = Bi k/L: the exact ΔT within O(h²) (measured 4.3e-5, 6.9e-5, 1.3e-4 of the rise at Bi 0.1, 1, 10, 80 cells); the contact flux to 1e-13."""
    mesh, _, heat, _ = joule_slab(80)
    conductance = biot * K_TH / THICKNESS
    properties = ThermalProperties(np.full(mesh.n_cells, K_TH), np.full(mesh.n_cells, RHO_CP))
    faces = mesh.face_mask("top", "bottom")
    solver = ThermalSolver(mesh, properties, faces, T_AMB, conductance=np.where(mesh.face_mask("top"), conductance, np.inf))
    temperature = solver.solve(heat)
    q = KAPPA * (VOLTAGE / THICKNESS) ** 2
    exact = robin_slab_exact(mesh.cell_centroids[:, 1], q, conductance)
    rise = exact.max() - T_AMB
    assert np.max(np.abs(temperature - exact)) < 5e-4 * rise
    # the contact carries h (T_top − T_amb) of the exact top temperature
    top = mesh.face_mask("top")
    top_flux = 2 * np.pi * np.sum((conductance * (robin_slab_exact(THICKNESS, q, conductance) - T_AMB) * mesh.r_face_areas)[top])
    assert solver.boundary_heat_flow(temperature, top) == pytest.approx(top_flux, rel=1e-9)
    assert solver.boundary_heat_flow(temperature) == pytest.approx(2 * np.pi * heat.sum(), rel=1e-9)


def test_ideal_and_vanishing_contact_limits():
    """h = ∞ is the Dirichlet face exactly; h → 0 approaches the adiabatic top (a = qL/k), checked at h L/k = 1e-6."""
    mesh, _, heat, dirichlet_solver = joule_slab(40)
    properties = ThermalProperties(np.full(mesh.n_cells, K_TH), np.full(mesh.n_cells, RHO_CP))
    faces = mesh.face_mask("top", "bottom")
    ideal = ThermalSolver(mesh, properties, faces, T_AMB, conductance=np.inf)
    assert np.array_equal(ideal.solve(heat), dirichlet_solver.solve(heat))
    weak = ThermalSolver(mesh, properties, faces, T_AMB, conductance=np.where(mesh.face_mask("top"), 1e-6 * K_TH / THICKNESS, np.inf))
    adiabatic = ThermalSolver(mesh, properties, mesh.face_mask("bottom"), T_AMB)
    assert np.allclose(weak.solve(heat), adiabatic.solve(heat), rtol=0.0, atol=1e-5 * (adiabatic.solve(heat).max() - T_AMB))


def test_solver_rejects_non_positive_contact_conductance():
    mesh = slab_mesh(RADIUS, THICKNESS, 2, 4)
    properties = ThermalProperties(np.ones(mesh.n_cells), np.ones(mesh.n_cells))
    with pytest.raises(ValueError, match="conductance"):
        ThermalSolver(mesh, properties, mesh.face_mask("top", "bottom"), 300.0, conductance=0.0)


def test_runaway_temperature_is_rejected():
    """A Joule heat that would put T above RUNAWAY_TEMPERATURE raises FloatingPointError (the step is rejected)."""
    import femion
    from femion.coupling import State
    from femion.physics.thermal import RUNAWAY_TEMPERATURE, ThermalModule

    device = femion.load_device()
    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH)
    module = ThermalModule(mesh, device)
    state = State(fields={"T": np.full(mesh.n_cells, 300.0)})
    module.heat = lambda s: np.full(mesh.n_cells, 1e3)  # W per radian per cell: far beyond any device's dissipation
    with pytest.raises(FloatingPointError, match="thermal runaway"):
        module.advance(state, 1e-3, state.copy())
    assert np.all(state.fields["T"] == 300.0)  # the state is left as it was
    module.heat = lambda s: np.zeros(mesh.n_cells)
    module.advance(state, 1e-3, state.copy())
    assert np.max(state.fields["T"]) < RUNAWAY_TEMPERATURE


@pytest.mark.parametrize("electrode", ["Pt", "Ag", "Ti", "ITO"])
def test_thermal_module_builds_for_every_top_electrode(electrode):
    """Every top-electrode material of the mode map carries the contact conductance the Robin top face reads."""
    import femion
    from femion.config import override_device
    from femion.physics.thermal import ThermalModule

    device = femion.load_device()
    if electrode != device.top_electrode.material:
        device = override_device(device, {f"device.layers.{device.top_electrode.name}.material": electrode})
    module = ThermalModule(femion.build_mesh(device, settings=femion.QUICK_MESH), device)
    assert module.top_contact_conductance == device.material(device.top_electrode.name).value("contact_thermal_conductance") > 0.0


def test_joule_heat_across_an_interface_law_excludes_its_emf():
    """Slab with an interface law i = G (φ_0 − φ_1 − e) mid-way: heat = I² R_total / A, the emf part I·e is not heat.

    1D: R_total = d/κ + 1/G per unit area, the current density uniform; 2π Σ P = I²R_total/A and
    V − 2π Σ P / I = ±e (the reversible part of I·V).
    """
    from femion.physics.electrostatics import InterfaceLaw, PotentialSolver

    mesh = slab_mesh(RADIUS, THICKNESS, 3, 40)
    kappa = np.full(mesh.n_cells, KAPPA)
    z = mesh.face_centers[:, 1]
    horizontal = np.abs(mesh.face_normals[:, 1]) > np.abs(mesh.face_normals[:, 0])
    middle = np.flatnonzero((mesh.face_cells[:, 1] >= 0) & horizontal & np.isclose(z, 0.5 * THICKNESS, rtol=1e-9, atol=0.0))
    assert middle.size == 3  # one face per radial cell
    conductance, emf = 2.0e9, 0.3  # S/m², V
    law = InterfaceLaw(middle, np.full(middle.size, conductance), np.full(middle.size, emf))
    solution = PotentialSolver(mesh, electrode="top", ground="bottom").solve(kappa, VOLTAGE, interface=law)
    dirichlet = mesh.face_mask("top", "bottom")
    heat = joule_heating(mesh, solution.phi, kappa, dirichlet, np.where(mesh.face_mask("top"), VOLTAGE, 0.0), interface=law)
    total = 2 * np.pi * heat.sum()
    area = np.pi * RADIUS**2
    assert total == pytest.approx(solution.current**2 * (THICKNESS / KAPPA + 1.0 / conductance) / area, rel=1e-9)
    assert abs(VOLTAGE - total / solution.current) == pytest.approx(emf, rel=1e-9)
