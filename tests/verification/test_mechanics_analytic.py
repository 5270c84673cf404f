"""Mechanics verification: analytic elasticity and plasticity solutions.

* uniform eigenstrain in a free body: zero stress;
* film bonded to a rigid base, far from its edge: σ_rr = σ_θθ = −E ε*/(1 − ν), σ_zz = 0;
  at its free edge the corner displacement converges under mesh refinement (slow tier);
* Lamé thick-walled cylinder under internal pressure (plane strain), second-order convergence;
* return mapping at a material point: uniaxial and equibiaxial stress with linear
  hardening against the closed-form curves;
* Hill's elastic–perfectly-plastic thick cylinder (plane strain, incompressible limit):
  stresses and the elastic–plastic radius; without B-bar the same mesh locks.
"""

from __future__ import annotations

import numpy as np
import pytest

from femion.physics.mechanics import AxisymmetricSolid, MechanicalProperties, PlasticHistory, rectangle_mesh
from femion.physics.plasticity import from_mandel, j2_return_mapping, to_mandel

E, NU = 100e9, 0.3


def test_free_body_uniform_eigenstrain_is_stress_free():
    mesh = rectangle_mesh((0.0, 10e-6), (0.0, 1e-6), (30, 6), r_grading=0.2)
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, E, NU), constraints={"axis": "r", "bottom": "z"})
    strain = 1e-3
    solution = solid.solve(np.full(mesh.n_cells, strain))
    scale = E * strain
    assert np.max(np.abs(solution.stress)) < 1e-12 * scale
    assert solution.displacement[:, 0] == pytest.approx(strain * mesh.nodes[:, 0], abs=1e-12 * 10e-6 * strain * 1e3)


def test_bonded_film_biaxial_stress():
    mesh = rectangle_mesh((0.0, 50e-6), (0.0, 1e-6), (100, 4))
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, E, NU), constraints={"axis": "r", "bottom": "rz"})
    strain = 2e-3
    solution = solid.solve(np.full(mesh.n_cells, strain))
    stress = solid.quadrature_to_cell(from_mandel(solution.stress))
    interior = mesh.cell_centroids[:, 0] < 30e-6  # > 20 film thicknesses from the free edge
    expected = -E * strain / (1 - NU)
    assert stress[interior, 0] == pytest.approx(expected, rel=1e-6)
    assert stress[interior, 2] == pytest.approx(expected, rel=1e-6)
    assert np.max(np.abs(stress[interior][:, [1, 3]])) < 1e-6 * abs(expected)


def _bonded_film_edge_lift(refine: int) -> float:
    """u_z [m] at the free top corner of a bonded film with eigenstrain, mesh (25, 1) refined ``refine`` times."""
    mesh = rectangle_mesh((0.0, 50e-6), (0.0, 1e-6), (25 * refine, refine))
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, E, NU), constraints={"axis": "r", "bottom": "rz"})
    solution = solid.solve(np.full(mesh.n_cells, 2e-3))
    corner = int(np.argmin(np.hypot(mesh.nodes[:, 0] - 50e-6, mesh.nodes[:, 1] - 1e-6)))
    return float(solution.displacement[corner, 1])


@pytest.mark.slow
def test_bonded_film_edge_converges_under_mesh_refinement():
    # Near the free edge the bonded film has no closed form (the corner stress is singular), but the
    # displacement there is finite: the corner lift converges as the mesh is refined (Richardson: the
    # successive differences shrink by a constant factor > 1). Far from the edge the stress is exact
    # at every resolution (test_bonded_film_biaxial_stress).
    lifts = [_bonded_film_edge_lift(k) for k in (1, 2, 4, 8)]
    differences = np.abs(np.diff(lifts))
    assert np.all(differences[1:] < differences[:-1])
    order = np.log2(differences[:-1] / differences[1:])
    assert np.all(order > 0.5), order
    # the edge relaxes laterally, so it lifts less than the laterally constrained interior, (1 + ν)/(1 − ν) ε* h
    assert 0.0 < lifts[-1] < (1 + NU) / (1 - NU) * 2e-3 * 1e-6


def _lame(cells: int):
    inner, outer, pressure = 1e-3, 2e-3, 1e6
    mesh = rectangle_mesh((inner, outer), (0.0, 1e-4), (cells, 1))
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, 200e9, NU), constraints={"bottom": "z", "top": "z"})
    load = solid.traction_load("inner", lambda r, z: (np.full_like(r, pressure), np.zeros_like(r)))
    solution = solid.solve(np.zeros(mesh.n_cells), load=load)
    a_coef = pressure * inner**2 / (outer**2 - inner**2)
    b_coef = a_coef * outer**2
    r = mesh.nodes[:, 0]
    exact_u = (1 + NU) / 200e9 * ((1 - 2 * NU) * a_coef * r + b_coef / r)
    rc = mesh.cell_centroids[:, 0]
    stress = solid.quadrature_to_cell(from_mandel(solution.stress))
    u_error = np.max(np.abs(solution.displacement[:, 0] - exact_u)) / np.max(exact_u)
    s_error = max(
        np.max(np.abs(stress[:, 0] - (a_coef - b_coef / rc**2))),
        np.max(np.abs(stress[:, 2] - (a_coef + b_coef / rc**2))),
        np.max(np.abs(stress[:, 1] - 2 * NU * a_coef)),
    ) / pressure
    return u_error, s_error


def test_lame_thick_cylinder_converges_at_second_order():
    coarse, fine = _lame(20), _lame(40)
    assert fine[0] < 5e-5 and fine[1] < 3e-4
    for c, f in zip(coarse, fine):
        assert np.log2(c / f) == pytest.approx(2.0, abs=0.15)


def _point_curve(driven: list[int], free: list[int], strains: np.ndarray, sy: float, h: float):
    """Strain-driven point with σ = 0 on the ``free`` Mandel components (Newton on the tangent)."""
    bulk, shear = E / (3 * (1 - 2 * NU)), E / (2 * (1 + NU))
    plastic, alpha = np.zeros((1, 4)), np.zeros(1)
    strain = np.zeros((1, 4))
    stresses = []
    for value in strains:
        strain[0, driven] = value
        for _ in range(30):
            mapped = j2_return_mapping(strain, plastic, alpha, bulk, shear, sy, h)
            residual = mapped.stress[0, free]
            if np.max(np.abs(residual)) < 1e-9 * sy:
                break
            strain[0, free] -= np.linalg.solve(mapped.tangent[0][np.ix_(free, free)], residual)
        plastic, alpha = mapped.plastic_strain, mapped.equivalent_plastic_strain
        stresses.append(mapped.stress[0].copy())
    return np.array(stresses), alpha


@pytest.mark.parametrize("hardening", [0.0, 2e9])
def test_return_mapping_uniaxial_stress(hardening):
    sy = 100e6
    strains = np.linspace(0.0, 5e-3, 26)[1:]
    stresses, alpha = _point_curve([1], [0, 2, 3], strains, sy, hardening)
    # closed form: elastic up to σ_y/E, then σ = σ_y + E_t (ε − σ_y/E) with E_t = E H/(E + H)
    tangent = E * hardening / (E + hardening)
    expected = np.where(strains < sy / E, E * strains, sy + tangent * (strains - sy / E))
    assert stresses[:, 1] == pytest.approx(expected, rel=1e-9)
    assert alpha[0] == pytest.approx((stresses[-1, 1] - sy) / hardening if hardening else strains[-1] - sy / E, rel=1e-9)


def test_return_mapping_equibiaxial_stress():
    sy, hardening = 100e6, 2e9
    strains = np.linspace(0.0, 4e-3, 21)[1:]
    stresses, _ = _point_curve([0, 2], [1, 3], strains, sy, hardening)
    # σ_rr = σ_θθ = σ, σ_zz = 0, σ_eq = σ: ε = σ(1 − ν)/E + α/2, α = (σ − σ_y)/H
    elastic_limit = sy * (1 - NU) / E
    plastic_slope = 1.0 / ((1 - NU) / E + 0.5 / hardening)
    expected = np.where(strains < elastic_limit, strains * E / (1 - NU), sy + plastic_slope * (strains - elastic_limit))
    assert stresses[:, 0] == pytest.approx(expected, rel=1e-9)
    assert stresses[:, 2] == pytest.approx(expected, rel=1e-9)


def test_return_mapping_tangent_is_consistent():
    rng = np.random.default_rng(1)
    bulk, shear, sy, h = 150e9, 60e9, 50e6, 1e9
    strain = to_mandel(rng.normal(scale=2e-3, size=(5, 4)))
    plastic = to_mandel(rng.normal(scale=1e-4, size=(5, 4)) * [1, 1, 1, 1])
    plastic[:, :3] -= plastic[:, :3].mean(axis=1, keepdims=True)
    alpha = np.full(5, 1e-4)
    base = j2_return_mapping(strain, plastic, alpha, bulk, shear, sy, h)
    assert base.yielding.all()
    step = 1e-9
    for j in range(4):
        shifted = strain.copy()
        shifted[:, j] += step
        numeric = (j2_return_mapping(shifted, plastic, alpha, bulk, shear, sy, h).stress - base.stress) / step
        assert numeric == pytest.approx(base.tangent[:, :, j], rel=1e-4, abs=1e-4 * shear)


def _hill(bbar: bool):
    inner, outer, sy = 1e-3, 2e-3, 200e6
    k = sy / np.sqrt(3.0)
    mesh = rectangle_mesh((inner, outer), (0.0, 2e-5), (60, 1))
    properties = MechanicalProperties.uniform(mesh.n_cells, 200e9, 0.4999, yield_stress=sy)
    solid = AxisymmetricSolid(mesh, properties, constraints={"bottom": "z", "top": "z"}, bbar=bbar)
    unit = solid.traction_load("inner", lambda r, z: (np.ones_like(r), np.zeros_like(r)))
    history, guess, results = PlasticHistory.zeros(mesh.n_cells), None, []
    rc = mesh.cell_centroids[:, 0]
    for radius in (1.3e-3, 1.6e-3, 1.9e-3):
        pressure = k * (1 - radius**2 / outer**2 + 2 * np.log(radius / inner))  # Hill (1950), plane strain
        solution = solid.solve(np.zeros(mesh.n_cells), history, load=pressure * unit, initial=guess)
        assert solution.converged
        history, guess = solution.history, solution.displacement
        stress = solid.quadrature_to_cell(from_mandel(solution.stress))
        exact_rr = np.where(rc < radius, -pressure + 2 * k * np.log(rc / inner), -k * radius**2 / outer**2 * (outer**2 / rc**2 - 1))
        plastic_radius = rc[solid.quadrature_to_cell(history.equivalent_plastic_strain) > 0].max()
        results.append((np.max(np.abs(stress[:, 0] - exact_rr)) / k, abs(plastic_radius - radius) / (outer - inner)))
    return results


def test_hill_elastic_perfectly_plastic_cylinder():
    for stress_error, radius_error in _hill(bbar=True):
        assert stress_error < 1e-3
        assert radius_error < 1.0 / 60
    locked = _hill(bbar=False)
    assert max(error for error, _ in locked) > 0.1  # plain Q1 locks in near-incompressible plastic flow


def _pressurised_hardening_cylinder(axial_cells: int):
    """Thick cylinder (1–2 mm, plane strain) with linear hardening under an inner pressure of σ_y/2: partly plastic."""
    sy = 200e6
    mesh = rectangle_mesh((1e-3, 2e-3), (0.0, 2e-5), (40, axial_cells))
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, 200e9, 0.3, yield_stress=sy, hardening=1e9), constraints={"bottom": "z", "top": "z"})
    load = solid.traction_load("inner", lambda r, z: (np.full_like(r, 0.5 * sy), np.zeros_like(r)))
    return solid, solid.solve(np.zeros(mesh.n_cells), load=load)


def test_newton_converges_quadratically():
    _, solution = _pressurised_hardening_cylinder(1)
    assert solution.converged and solution.iterations <= 8
    r = solution.residuals
    assert r[-1] < 1e-8 and r[-2] < 1e-3  # last step goes from < 1e-3 to < 1e-8: asymptotically quadratic


def test_energy_line_search_is_exact_on_a_quadratic_potential():
    """Linear elasticity: Π is quadratic, its slope along a 3× too long Newton step vanishes at s = 1/3."""
    mesh = rectangle_mesh((1e-3, 2e-3), (0.0, 2e-5), (8, 2))
    solid = AxisymmetricSolid(mesh, MechanicalProperties.uniform(mesh.n_cells, 200e9, 0.3), constraints={"bottom": "z", "top": "z"})
    load = solid.traction_load("inner", lambda r, z: (np.full_like(r, 1e8), np.zeros_like(r)))
    u = np.zeros(solid.n_dofs)

    def evaluate(displacement):
        residual = solid.internal_force(solid.elastic_stress(solid.strain(displacement))) - load
        return None, None, None, residual, float(np.linalg.norm(residual[solid.free]))

    residual = evaluate(u)[3]
    newton = solid._solve_linear(None, residual)
    step = 3.0 * newton
    slope = float(step[solid.free] @ residual[solid.free])
    calls = []
    counted = lambda displacement: calls.append(1) or evaluate(displacement)  # noqa: E731
    trial, length = solid._energy_line_search(counted, u, step, slope, evaluate(u - step))
    assert abs(length - 1.0 / 3.0) < 1e-9 and len(calls) == 1  # one regula-falsi step from the bracket [0, 1]
    assert trial[4] < 1e-9 * np.linalg.norm(load[solid.free])


def test_plastic_tangent_from_yielding_points_equals_the_full_assembly():
    """K_e + the yielding points' correction (what Newton factorises) is the element-by-element tangent."""
    solid, solution = _pressurised_hardening_cylinder(2)
    n = solid.mesh.n_cells
    strain = solution.strain.reshape(-1, 4)
    mapped = j2_return_mapping(strain, np.zeros_like(strain), np.zeros(len(strain)), solid.bulk.ravel(), solid.shear.ravel(),
                               solid.yield_stress.ravel(), solid.hardening.ravel())
    assert 0 < mapped.yielding.sum() < len(strain)  # a plastic zone and an elastic rest
    full = solid.stiffness(mapped.tangent.reshape(n, 4, 4, 4))[solid.free][:, solid.free]
    reduced = solid._plastic_tangent(mapped)
    assert abs(reduced - full).max() < 1e-12 * abs(full).max()


def test_clamped_plate_buckling_coefficient_by_finite_differences():
    """σ_c = 1.2235 E/(1−ν²)(h/b)²: smallest eigenvalue of the axisymmetric clamped-plate problem.

    With the slope φ = w', D(φ'' + φ'/r − φ/r²) + N φ = 0, φ(0) = φ(b) = 0, solved by
    central differences (independent of the Bessel-function closed form).
    """
    from scipy.linalg import eigh_tridiagonal

    from femion.physics.porosity import BUCKLING_COEFFICIENT, clamped_plate_buckling_stress

    n, b = 4000, 1.0
    r = np.linspace(0.0, b, n + 2)[1:-1]
    h = r[1] - r[0]
    # symmetric form: −(r φ')' + φ/r = λ r φ, λ = N/D
    upper = (r[:-1] + h / 2) / h**2
    diagonal = (2 * r) / h**2 + 1.0 / r
    # mass matrix diag(r): symmetric scaling M^(-1/2) K M^(-1/2) keeps it tridiagonal
    scale = 1.0 / np.sqrt(r)
    eigenvalue = eigh_tridiagonal(diagonal * scale**2, -upper * scale[:-1] * scale[1:], select="i", select_range=(0, 0))[0][0]
    assert eigenvalue / 12.0 == pytest.approx(BUCKLING_COEFFICIENT, rel=1e-4)
    assert BUCKLING_COEFFICIENT == pytest.approx(1.2235, abs=5e-5)
    assert clamped_plate_buckling_stress(100e9 / 0.91, 250e-9, 100e-6) == pytest.approx(1.2235 * 100e9 / 0.91 * 6.25e-6, rel=1e-4)
