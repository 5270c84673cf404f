"""Thin-film fracture and blisters (femion.physics.thinfilm) against published and independent solutions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg
from scipy.integrate import solve_bvp
from scipy.special import j0, j1

from femion.physics.porosity import BUCKLING_COEFFICIENT, MODE_ROOT, clamped_plate_buckling_stress
from femion.physics.thinfilm import (
    MIXITY_ANGLE,
    circular_blister,
    circular_blister_table,
    channel_cracking_number,
    dundurs,
    film_damage,
    interface_toughness,
    necking_strain,
    solve_blister_radius,
)


def test_dundurs_parameters():
    assert dundurs(100e9, 0.3, 100e9, 0.3) == pytest.approx((0.0, 0.0), abs=1e-15)
    # hand computation, E1 = 200, ν1 = 0.25, E2 = 50, ν2 = 0.35 (GPa):
    # Ē1 = 213.33, Ē2 = 56.98 → α = 0.5784; μ1 = 80, μ2 = 18.52 → β = ½(80·0.3 − 18.52·0.5)/(80·0.65 + 18.52·0.75) = 0.1118
    alpha, beta = dundurs(200e9, 0.25, 50e9, 0.35)
    assert alpha == pytest.approx(0.5784, abs=1e-4)
    assert beta == pytest.approx(0.1118, abs=1e-4)


def test_channel_cracking_number_without_mismatch():
    """Z(0, 0) = 1.976 (Beuth 1992; Hutchinson & Suo 1992, steady channelling), = (π/2)·1.1215²: the depth
    average of the edge-crack G = 1.1215² π σ² a/Ē (Tada, Paris & Irwin)."""
    z = channel_cracking_number(100e9, 0.3, 100e9, 0.3)
    assert z == pytest.approx(1.976, rel=2e-3)
    assert z == pytest.approx(np.pi / 2 * 1.1215**2, rel=2e-3)


def test_channel_cracking_number_depends_on_dundurs_only():
    """Two film/substrate pairs with the same (α, β) give the same Z; a compliant substrate raises Z."""
    first = (100e9, 0.3, 10e9, 0.3)
    alpha, beta = dundurs(*first)
    # second pair: film ν = 0.2; find E2, ν2 with the same α, β (solve the two Dundurs equations)
    from scipy.optimize import fsolve

    e2, nu2 = fsolve(lambda x: np.array(dundurs(70e9, 0.2, x[0] * 1e9, x[1])) - (alpha, beta), [7.0, 0.3])
    second = (70e9, 0.2, e2 * 1e9, nu2)
    assert dundurs(*second) == pytest.approx((alpha, beta), abs=1e-9)
    assert channel_cracking_number(*second) == pytest.approx(channel_cracking_number(*first), rel=2e-3)
    assert channel_cracking_number(*first) > 3.0 * channel_cracking_number(100e9, 0.3, 100e9, 0.3) > 3.0 * channel_cracking_number(100e9, 0.3, 1000e9, 0.3)


def test_channel_cracking_and_necking_thresholds():
    """A column of film cells cracks once σ exceeds the hand-computed σ* = (Γ Ē/(Z h))^{1/2}; the open area is
    the released elastic strain (σ − νσ)/E per cracked direction; a freestanding film necks at ε_N = 1 − σ_y/H."""
    e, nu, h, gamma, z = 100e9, 0.3, 50e-9, 2.0, 1.976
    critical = np.sqrt(gamma * e / (1.0 - nu**2) / (z * h))  # (2.0 · 1.0989e11/(1.976 · 5e-8))^{1/2} = 1.4915e9 Pa
    assert critical == pytest.approx(1.4915e9, rel=1e-4)
    cells = np.ones(4, dtype=bool)
    column = np.array([0, 0, 1, 1])
    stress = np.array([0.99, 0.99, 1.01, 1.01]) * critical
    damage = film_damage(column, cells, stress, stress, np.zeros(4), np.ones(4), np.zeros(4, dtype=bool), h, e, nu, gamma, z, 0.5)
    assert damage.channel_ratio == pytest.approx(np.array([0.99, 0.99, 1.01, 1.01]) ** 2, rel=1e-12)
    assert np.all(damage.open_fraction[:2] == 0.0) and np.all(damage.network[:2] == 0.0)
    assert damage.open_fraction[2:] == pytest.approx(2 * 1.01 * critical * (1 - nu) / e, rel=1e-12)
    assert np.all(damage.network[2:] == 1.0)  # both directions: a connected network
    assert necking_strain(10e6, 300e6) == pytest.approx(1.0 - 1.0 / 30.0)
    assert necking_strain(10e6, 5e6) == 0.0
    strain = np.array([0.2, 0.2, 0.6, 0.6])
    freestanding = np.array([True, True, True, True])
    necked = film_damage(column, cells, np.zeros(4), np.zeros(4), strain, np.ones(4), freestanding, h, e, nu, gamma, z, 0.5)
    assert necked.necking_ratio == pytest.approx(strain / 0.5)
    assert necked.open_fraction == pytest.approx([0.0, 0.0, 0.1, 0.1])
    bonded = film_damage(column, cells, np.zeros(4), np.zeros(4), strain, np.ones(4), ~freestanding, h, e, nu, gamma, z, 0.5)
    assert np.all(bonded.open_fraction == 0.0)  # a bonded film does not neck (Li et al. 2005)


def test_clamped_plate_critical_stress_by_finite_differences():
    """σ_c = 1.2235 E/(1−ν²)(h/b)² (Hutchinson & Suo 1992): smallest eigenvalue of the axisymmetric buckling
    equation θ'' + θ'/r − θ/r² = −(σh/D) θ, θ(0) = θ(b) = 0, by second-order finite differences."""
    n, b = 4000, 1.0
    r = np.linspace(0.0, b, n + 1)[1:-1]
    dr = b / n
    main = -2.0 / dr**2 - 1.0 / r**2
    upper = 1.0 / dr**2 + 1.0 / (2.0 * r[:-1] * dr)
    lower = 1.0 / dr**2 - 1.0 / (2.0 * r[1:] * dr)
    operator = sparse.diags([lower, main, upper], [-1, 0, 1], format="csc")
    k2 = -sparse_linalg.eigs(operator, k=1, sigma=0.0, which="LM")[0].real[0]  # (j₁,₁/b)²
    coefficient = k2 * b**2 / 12.0  # σ_c (1−ν²)/E (b/h)² = k² b²/12
    assert coefficient == pytest.approx(1.2235, rel=2e-4)
    assert BUCKLING_COEFFICIENT == pytest.approx(1.2235, rel=1e-4)
    assert clamped_plate_buckling_stress(1.0, 1.0, 1.0) == pytest.approx(BUCKLING_COEFFICIENT)


def test_post_buckling_deflection_against_hutchinson_suo():
    """Crest height of the post-buckled clamped circular plate (FvK table) against Hutchinson & Suo's
    δ/h = [(σ/σ_c − 1)/c₁]^{1/2}, c₁ = 0.2473(1 + ν) + 0.2231(1 − ν²), accurate near onset."""
    nu = 0.3
    c1 = 0.2473 * (1 + nu) + 0.2231 * (1 - nu**2)
    for ratio, tolerance in ((1.2, 3e-3), (1.5, 6e-3), (2.0, 1.2e-2)):
        _, _, _, delta = circular_blister(ratio, 1.0, 1.0, nu, 1.0)
        assert float(delta) == pytest.approx(np.sqrt((ratio - 1) / c1), rel=tolerance)


def test_blister_release_rate_is_minus_the_energy_derivative():
    """G of the table (edge loads) against −dΠ/dA of two independently solved plates of radius b and b(1+ε)."""
    nu, h, e = 0.3, 1.0, 1.0
    plate, bending = e * h / (1 - nu**2), e * h**3 / (12 * (1 - nu**2))

    def energy(stress, b):
        def equations(r, y):
            theta, slope, u, du = y
            resultant = plate * (du + theta**2 / 2 + nu * u / r) - stress * h
            return np.vstack([slope, -slope / r + theta / r**2 + resultant * theta / bending, du, -theta * slope - du / r + u / r**2 - (1 - nu) * theta**2 / (2 * r)])

        r = np.linspace(1e-6 * b, b, 300)
        amplitude = h * np.sqrt((stress / clamped_plate_buckling_stress(e / (1 - nu**2), h, b) - 1) / 0.52)
        x = MODE_ROOT * r / b
        guess = np.vstack([-amplitude * MODE_ROOT / b * j1(x) / (1 - j0(MODE_ROOT)), np.zeros_like(r), np.zeros_like(r), np.zeros_like(r)])
        solution = solve_bvp(equations, lambda a, c: np.array([a[0], a[2], c[0], c[2]]), r, guess, tol=1e-8, max_nodes=200000)
        assert solution.status == 0
        fine = np.linspace(r[0], b, 100001)
        theta, slope, u, du = solution.sol(fine)
        radial, hoop = du + theta**2 / 2, u / fine
        membrane = 0.5 * plate * (radial**2 + hoop**2 + 2 * nu * radial * hoop) - stress * h * (radial + hoop)
        bend = 0.5 * bending * (slope**2 + (theta / fine) ** 2 + 2 * nu * slope * theta / fine)
        return np.trapezoid((membrane + bend) * 2 * np.pi * fine, fine)

    b = 1.0
    critical = clamped_plate_buckling_stress(e / (1 - nu**2), h, b)
    for ratio in (1.5, 2.0):
        stress = ratio * critical
        step = 1e-3
        derivative = -(energy(stress, b * (1 + step)) - energy(stress, b)) / (np.pi * b**2 * ((1 + step) ** 2 - 1))
        release, _, _, _ = circular_blister(stress, critical, e, nu, h)
        assert float(release) == pytest.approx(derivative, rel=5e-3)


def test_mode_mixity_and_toughness_law():
    """ψ at onset (pure edge moment) is −(90° − ω); Γ(ψ) = Γ_I[1 + tan²((1 − λ)ψ)]."""
    from femion.physics.thinfilm import blister_mode_mixity

    assert float(blister_mode_mixity(0.0, 1.0, 1.0)) == pytest.approx(-(np.pi / 2 - MIXITY_ANGLE))
    assert float(blister_mode_mixity(1.0, 0.0, 1.0)) == -np.pi / 2  # pure compressive ΔN: faces in contact
    assert float(interface_toughness(-np.pi / 4, 2.0, 0.5)) == pytest.approx(2.0 * (1 + np.tan(np.pi / 8) ** 2))
    assert float(interface_toughness(-1.0, 2.0, 1.0)) == 2.0


def test_blister_radius_solves_g_equals_gamma_and_is_stable():
    """For a uniform compression, the returned radius satisfies G(b) = Γ(ψ(b)) with d(G − Γ)/db < 0
    (Hutchinson, Thouless & Liniger 1992), or arrests at the edge of the compressed disk."""
    e, nu, h = 100e9, 0.3, 250e-9
    plate = e / (1 - nu**2)
    sigma = 0.25e9
    state = solve_blister_radius(lambda b: np.full(np.shape(b), sigma), plate, e, nu, h, 0.028, 0.3, 100e-6)
    assert state.radius > 0.0 and state.stable and state.ratio > 1.0

    def excess(b):
        critical = clamped_plate_buckling_stress(plate, h, b)
        from femion.physics.thinfilm import blister_mode_mixity

        release, resultant, moment, _ = circular_blister(sigma, critical, e, nu, h)
        return float(release - interface_toughness(blister_mode_mixity(resultant, moment, h), 0.028, 0.3))

    assert excess(state.radius) == pytest.approx(0.0, abs=1e-6)
    assert excess(0.99 * state.radius) > 0.0 > excess(1.01 * state.radius)
    assert state.release_rate == pytest.approx(state.toughness, rel=1e-5)
    # a weaker interface: G > Γ up to the disk edge, the blister arrests there (not a stable root)
    weak = solve_blister_radius(lambda b: np.full(np.shape(b), sigma), plate, e, nu, h, 0.005, 0.3, 100e-6)
    assert weak.radius == 100e-6 and not weak.stable
    # a stronger one: no debond
    strong = solve_blister_radius(lambda b: np.full(np.shape(b), sigma), plate, e, nu, h, 1.4, 0.3, 100e-6)
    assert strong.radius == 0.0 and strong.ratio < 1.0
    # the blister never shrinks: from a debonded radius above the stable one it stays
    stays = solve_blister_radius(lambda b: np.full(np.shape(b), sigma), plate, e, nu, h, 0.028, 0.3, 100e-6, debonded_radius=1.5 * state.radius)
    assert stays.radius == pytest.approx(1.5 * state.radius)


def test_blister_table_is_smooth_and_monotone():
    q, g, resultant, moment, deflection = circular_blister_table(0.3)
    for column in (g, resultant, moment, deflection):
        assert np.all(np.diff(column) > 0.0)
