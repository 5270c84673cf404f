"""Electrostatics against analytic solutions."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.constants import VACUUM_PERMITTIVITY
from femion.physics.electrostatics import (
    capacitance,
    conduction_regions,
    electrode_interface,
    field_enhancement,
    layer_conductivity,
    layer_permittivity,
    parallel_plate_capacitance,
    solve_potential,
)


def _series_profile(device, z, voltage, kappa_of):
    """Exact 1D potential of the layered conductor at heights z (piecewise linear)."""
    layers = [device.bottom_electrode, *device.films]
    resistances = np.array([layer.thickness / kappa_of(layer.name) for layer in layers])
    bottom = device.interface_heights()[f"{device.bottom_electrode.name}|substrate"]
    edges = bottom + np.concatenate([[0.0], np.cumsum([layer.thickness for layer in layers])])
    potentials = voltage * np.concatenate([[0.0], np.cumsum(resistances)]) / resistances.sum()
    return np.interp(z, edges, potentials)


def test_flat_stack_far_from_edge_is_one_dimensional(device, mesh):
    stack = mesh.submesh(conduction_regions(device))
    kappa = layer_conductivity(stack, device)
    solution = solve_potential(stack, kappa, 0.1, electrode=electrode_interface(device))
    column = np.flatnonzero(stack.r_cell < 0.05 * device.electrode_radius)
    kappa_of = {name: kappa[stack.region_mask(name)][0] for name in stack.region_names}.__getitem__
    exact = _series_profile(device, stack.cell_centroids[column, 1], 0.1, kappa_of)
    np.testing.assert_allclose(solution.phi[column], exact, rtol=1e-9, atol=1e-12)
    # The flux-consistent field is exact too: E_z = −ΔV_layer / t_layer in every cell of the column.
    layers = [device.bottom_electrode, *device.films]
    resistance = sum(layer.thickness / kappa_of(layer.name) for layer in layers)
    for layer in layers:
        cells = column[stack.region_mask(layer.name)[column]]
        expected = -0.1 / resistance / kappa_of(layer.name)
        np.testing.assert_allclose(solution.field[cells, 1], expected, rtol=1e-8)


def test_contact_currents_balance(device, quick_mesh):
    stack = quick_mesh.submesh(conduction_regions(device))
    solution = solve_potential(stack, layer_conductivity(stack, device), -2.0, electrode=electrode_interface(device))
    assert solution.current + solution.electrode_current == pytest.approx(0.0, abs=1e-10 * abs(solution.current))
    r, density = solution.contact_current_density("bottom_contact")
    lengths = np.sort(stack.face_lengths[stack.face_mask("bottom_contact")])  # not used for ordering
    assert len(r) == len(density) == len(lengths)


def test_column_capacitance_equals_series_plates(device, quick_mesh):
    under = quick_mesh.submesh(cell_mask=quick_mesh.r_cell < device.electrode_radius)
    assert capacitance(under, device) == pytest.approx(parallel_plate_capacitance(device), rel=1e-10)


def test_fringe_adds_capacitance_and_current(device, quick_mesh):
    full = capacitance(quick_mesh, device)
    assert 1.0 < full / parallel_plate_capacitance(device) < 1.05


def _slab(device, n_layers):
    """Column mesh r < R_e of the first n films (one or two layers), for 1D transient checks."""
    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH)
    names = tuple(layer.name for layer in device.films[:n_layers])
    return mesh.submesh(names, cell_mask=mesh.r_cell < device.electrode_radius), names


def test_displacement_current_of_a_ramped_slab(device):
    # Homogeneous leaky dielectric, V = a t: I = G V + C a exactly (φ stays linear in z).
    mesh, (name,) = _slab(device, 1)
    electrode, ground = f"{device.films[1].name}|{name}", f"{name}|{device.bottom_electrode.name}"
    kappa = np.full(mesh.n_cells, 1e-4)
    eps = np.full(mesh.n_cells, 20 * VACUUM_PERMITTIVITY)
    area, thickness = np.pi * device.electrode_radius**2, device.layer(name).thickness
    conductance, capacity = 1e-4 * area / thickness, 20 * VACUUM_PERMITTIVITY * area / thickness
    ramp, dt, previous = 1e3, 1e-6, None
    for step in range(1, 6):
        previous = solve_potential(
            mesh, kappa, ramp * step * dt, electrode=electrode, ground=ground, permittivity=eps, dt=dt, previous=previous
        )
        assert previous.current == pytest.approx(conductance * ramp * step * dt + capacity * ramp, rel=1e-9)
        assert previous.displacement_current == pytest.approx(capacity * ramp, rel=1e-9)
        assert previous.electrode_current == pytest.approx(-previous.current, rel=1e-10)


def _maxwell_wagner_error(device, settings, steps=20):
    """Largest relative error of the two-layer step response against the exact time-discrete solution.

    Two leaky dielectrics (MoO3 and LiPON slots, κ and ε set here) under a voltage
    step relax with τ = (C1 + C2)/(G1 + G2), C = ε/d, G = κ/d per unit area. The
    reference integrates the same lumped circuit by implicit Euler with the same
    Δt, so only the spatial error remains (first order: the interface charge
    sits in the cells next to the interface).
    """
    mesh = femion.build_mesh(device, settings=settings)
    names = (device.films[0].name, device.films[1].name)
    mesh = mesh.submesh(names, cell_mask=mesh.r_cell < device.electrode_radius)
    electrode, ground = f"{device.films[2].name}|{names[1]}", f"{names[0]}|{device.bottom_electrode.name}"
    properties = {names[0]: (1e-4, 10.0), names[1]: (1e-5, 30.0)}
    kappa = np.array([properties[n][0] for n in mesh.region_names])[mesh.cell_regions]
    eps = VACUUM_PERMITTIVITY * np.array([properties[n][1] for n in mesh.region_names])[mesh.cell_regions]
    d1, d2 = device.layer(names[0]).thickness, device.layer(names[1]).thickness
    g1, g2 = properties[names[0]][0] / d1, properties[names[1]][0] / d2
    c1, c2 = (VACUUM_PERMITTIVITY * properties[n][1] / d for n, d in zip(names, (d1, d2)))
    tau, area, voltage = (c1 + c2) / (g1 + g2), np.pi * device.electrode_radius**2, 1.0
    dt, previous, v_old, errors = tau / steps, None, 0.0, []
    for step in range(1, steps + 1):
        previous = solve_potential(
            mesh, kappa, voltage, electrode=electrode, ground=ground, permittivity=eps, dt=dt, previous=previous
        )
        applied_old = 0.0 if step == 1 else voltage  # uncharged device before the step
        # C1 (v − v_o)/Δt + G1 v = C2 [(V − v) − (V_o − v_o)]/Δt + G2 (V − v), v the voltage over layer 1
        v_new = (c1 * v_old / dt + c2 * (voltage - applied_old + v_old) / dt + g2 * voltage) / ((c1 + c2) / dt + g1 + g2)
        exact = area * (g1 * v_new + c1 * (v_new - v_old) / dt)
        errors.append(abs(previous.current / exact - 1.0))
        assert previous.electrode_current == pytest.approx(-previous.current, rel=1e-9)
        v_old = v_new
    return max(errors)


def test_maxwell_wagner_relaxation_of_two_layers(device):
    # Stored bound: 3.74e-2 measured at the default mesh (femion 0.1.0, 2026-11-30), plus 7 %.
    assert _maxwell_wagner_error(device, femion.MeshSettings()) < 0.040


@pytest.mark.slow
def test_maxwell_wagner_converges_first_order(device):
    errors = [_maxwell_wagner_error(device, femion.MeshSettings(refinement=q)) for q in (0.5, 1.0, 2.0)]
    print("Maxwell-Wagner errors", errors)
    assert errors[0] / errors[1] > 1.8 and errors[1] / errors[2] > 1.8


def test_deformed_electrode_raises_beta_center(device):
    d = device.film_stack_thickness
    results = {}
    for height in (0.0, -50e-9, 50e-9):
        mesh = femion.build_mesh(device, interface_profile=lambda r, h=height: h * np.exp(-((r / 5e-6) ** 2)))
        assert mesh.nonorthogonality() < 10.0
        stack = mesh.submesh(conduction_regions(device))
        solution = solve_potential(stack, layer_conductivity(stack, device), 0.1, electrode=electrode_interface(device))
        results[height] = field_enhancement(solution, device)
    flat = results[0.0]
    # A 5 µm wide dent is wide against d = 0.9 µm: locally 1D, fields scale as d / (d + w(0)).
    assert results[-50e-9].center / flat.center == pytest.approx(d / (d - 50e-9), rel=0.01)
    assert results[50e-9].center / flat.center == pytest.approx(d / (d + 50e-9), rel=0.01)
    assert results[-50e-9].edge == pytest.approx(flat.edge, rel=1e-6)  # the edge is far from the dent


def test_bad_inputs(device, quick_mesh):
    stack = quick_mesh.submesh(conduction_regions(device))
    kappa = layer_conductivity(stack, device)
    with pytest.raises(ValueError, match="voltage must be finite"):
        solve_potential(stack, kappa, np.nan, electrode=electrode_interface(device))
    with pytest.raises(ValueError, match="non-finite"):
        solve_potential(stack, np.where(stack.r_cell > 0, np.nan, 1.0), 0.1, electrode=electrode_interface(device))
    with pytest.raises(ValueError, match="must be positive"):
        solve_potential(stack, -kappa, 0.1, electrode=electrode_interface(device))
    with pytest.raises(ValueError, match="needs permittivity"):
        solve_potential(stack, kappa, 0.1, electrode=electrode_interface(device), dt=1e-3)
    with pytest.raises(femion.MeshError, match="boundary 'nowhere'"):
        solve_potential(stack, kappa, 0.1, electrode="nowhere")
    with pytest.raises(ValueError, match="thins the"):
        femion.build_mesh(device, settings=femion.QUICK_MESH, interface_profile=lambda r: -1e-6 + 0 * r)
    assert layer_permittivity(stack.submesh(("WO3",)), device).min() > VACUUM_PERMITTIVITY


def test_beta_edge_is_mesh_converged(device):
    # The edge field is singular but its d/4-window mean converges: quick vs default mesh within 1 %.
    values = []
    for settings in (femion.QUICK_MESH, femion.MeshSettings()):
        stack = femion.build_mesh(device, settings=settings).submesh(conduction_regions(device))
        solution = solve_potential(stack, layer_conductivity(stack, device), 0.1, electrode=electrode_interface(device))
        values.append(field_enhancement(solution, device).edge)
    assert values[0] == pytest.approx(values[1], rel=0.01)


def test_contacts_must_be_exterior(device, quick_mesh):
    with pytest.raises(ValueError, match="interior faces"):
        solve_potential(quick_mesh, np.ones(quick_mesh.n_cells), 0.1, electrode=electrode_interface(device))


def _interface_problem(device, quick_mesh):
    """The stack with a Butler–Volmer-like law on WO3|LiPON and LiPON|MoO3 (G, emf per face) and stored charge."""
    from femion.physics.electrostatics import InterfaceLaw, PotentialSolver

    stack = quick_mesh.submesh(conduction_regions(device))
    faces = np.flatnonzero(stack.face_mask("WO3|LiPON", "LiPON|MoO3"))
    r = stack.r_face[faces] / device.electrode_radius
    law = InterfaceLaw(faces, 5.0 + 3.0 * r, np.where(stack.face_mask("WO3|LiPON")[faces], 0.3, -0.2) * (1.0 + r))
    solver = PotentialSolver(stack, electrode=electrode_interface(device))
    kappa, eps = layer_conductivity(stack, device), layer_permittivity(stack, device)
    previous = solver.solve(kappa, 0.4, interface=law)
    return solver, dict(permittivity=eps, dt=1e-6, previous=previous, interface=law), kappa


def test_differential_conductance_equals_a_finite_difference_of_two_solves(device, quick_mesh):
    """dI/dV of the frozen problem (one more right-hand side of the same factors) against (I(V + h) − I(V − h))/2h.

    The problem is affine in V, so the central difference is exact up to round-off; with an emf and stored
    charge I/V is not dI/dV, which the check would catch.
    """
    solver, options, kappa = _interface_problem(device, quick_mesh)
    voltage, h = 1.3, 1e-2
    solution = solver.solve(kappa, voltage, response=True, **options)
    up, down = (solver.solve(kappa, voltage + s * h, **options) for s in (1.0, -1.0))
    assert solution.differential_conductance == pytest.approx((up.current - down.current) / (2 * h), rel=1e-8)
    assert solution.current == pytest.approx(solver.solve(kappa, voltage, **options).current, rel=1e-12)
    assert abs(solution.conductance / solution.differential_conductance - 1.0) > 1e-3  # emf and stored charge: I/V differs
    assert solver.solve(kappa, voltage, **options).differential_conductance is None  # not computed unless asked


def test_circuit_solved_within_the_solve_equals_the_direct_solve_at_its_voltage(device, quick_mesh):
    """``circuit`` moves the solution along the unit response: it equals a plain solve at the returned voltage."""
    solver, options, kappa = _interface_problem(device, quick_mesh)
    seen = []

    def circuit(voltage, current, conductance):
        seen.append((voltage, current, conductance))
        return voltage + (2e-9 - current) / conductance  # current control at 2 nA

    solution = solver.solve(kappa, 0.9, circuit=circuit, **options)
    direct = solver.solve(kappa, solution.voltage, **options)
    assert len(seen) == 1 and seen[0][0] == 0.9
    assert solution.current == pytest.approx(2e-9, rel=1e-9)
    assert direct.current == pytest.approx(2e-9, rel=1e-9)
    np.testing.assert_allclose(solution.phi, direct.phi, rtol=0.0, atol=1e-12 * abs(solution.voltage))
    assert solution.displacement_current == pytest.approx(direct.displacement_current, rel=1e-8)
    with pytest.raises(ValueError, match="non-finite"):
        solver.solve(kappa, 0.9, circuit=lambda v, i, g: float("nan"), **options)
