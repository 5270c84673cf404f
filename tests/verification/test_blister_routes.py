"""Apex strain of a buckled blister and the gas-pressurised blister (femion.physics.thinfilm) against closed forms."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import cumulative_trapezoid
from scipy.special import j0, j1

from femion.physics.porosity import MODE_ROOT, clamped_plate_buckling_stress
from femion.physics.thinfilm import (
    MIXITY_ANGLE,
    blister_apex_strain,
    debond_pressure,
    film_edge_mixity,
    interface_toughness,
    pressurized_blister,
    pressurized_blister_table,
)


def test_apex_strain_near_onset_against_the_first_mode():
    """Near onset w = δ φ(r), φ = [J₀(k r/b) − J₀(k)]/(1 − J₀(k)), δ/h = [(q − 1)/c₁]^{1/2} (Hutchinson & Suo 1992).
    Apex curvature κ = δ k²/(2 b² (1 − J₀(k))); apex mid-plane strain from the in-plane FvK equation driven
    by that shape, (1/r (r u)′)′ = −θθ′ − (1 − ν)θ²/(2r), u(0) = u(b) = 0, integrated by quadrature:
    u′(0) = C/2, C = −2∫₀¹ s F(s) ds, F the integral of the right-hand side."""
    nu, h, b = 0.3, 1e-7, 5e-5
    plate = 100e9 / (1 - nu**2)
    critical = clamped_plate_buckling_stress(plate, h, b)
    q = 1.02
    strain, curvature = blister_apex_strain(q * critical, critical, nu, h, b)
    c1 = 0.2473 * (1 + nu) + 0.2231 * (1 - nu**2)
    amplitude = np.sqrt((q - 1) / c1)  # δ/h
    k = MODE_ROOT
    r = np.linspace(0.0, 1.0, 200001)[1:]
    slope = -k * j1(k * r) / (1 - j0(k))
    second = -k**2 * (j0(k * r) - j1(k * r) / (k * r)) / (1 - j0(k))
    source = -slope * second - (1 - nu) * slope**2 / (2 * r)
    integral = cumulative_trapezoid(source, r, initial=0.0)
    constant = -2.0 * np.trapezoid(r * integral, r)
    assert float(curvature) == pytest.approx(amplitude * h * k**2 / (2 * b**2 * (1 - j0(k))), rel=1e-2)
    assert float(strain) == pytest.approx(amplitude**2 * constant / 2 * (h / b) ** 2, rel=1e-2)
    assert float(strain) > 0.0  # the crest's mid-plane is stretched relative to the bonded film


def test_apex_strain_zero_below_buckling_and_scales_with_the_plate():
    nu = 0.3
    s, c = blister_apex_strain(np.array([0.5, 2.0]), 1.0, nu, 1e-7, 1e-5)
    assert s[0] == 0.0 and c[0] == 0.0 and s[1] > 0.0 and c[1] > 0.0
    # same q: ε_m ∝ (h/b)², κ ∝ h/b²
    s2, c2 = blister_apex_strain(2.0, 1.0, nu, 2e-7, 1e-5)
    assert float(s2) == pytest.approx(4.0 * s[1], rel=1e-12)
    assert float(c2) == pytest.approx(2.0 * c[1], rel=1e-12)


def test_pressurized_plate_limit_against_williams():
    """Small load: linear clamped plate, δ = p b⁴/(64 D), V = π b² δ/3, G = (3/32)(1 − ν²) p² b⁴/(E h³)
    (Williams 1969; Jensen 1991), pure edge moment → ψ = −(90° − ω)."""
    e, nu, h, b = 170e9, 0.38, 5e-8, 2e-6
    d = e * h**3 / (12 * (1 - nu**2))
    p = 1e-3 * e * h**4 / b**4  # P = 1e-3
    state = pressurized_blister(p, b, e, nu, h)
    delta = p * b**4 / (64 * d)
    assert float(state.deflection) == pytest.approx(delta, rel=1e-4)
    assert float(state.volume) == pytest.approx(np.pi * b**2 * delta / 3, rel=1e-4)
    assert float(state.release_rate) == pytest.approx(3 / 32 * (1 - nu**2) * p**2 * b**4 / (e * h**3), rel=1e-4)
    assert float(state.mixity) == pytest.approx(-(np.pi / 2 - MIXITY_ANGLE), abs=1e-3)
    # apex of the plate w = δ(1 − r²/b²)²: κ = 4δ/b²
    assert float(state.apex_curvature) == pytest.approx(4 * delta / b**2, rel=1e-3)


def test_pressurized_membrane_limit_energy_balance():
    """Large load: membrane, δ ∝ p^{1/3} (Hencky 1915) and, for that scaling, G = (5/4) p V/(π b²) exactly
    (the potential −(3/4) p V differentiated at fixed p over the debond area)."""
    nu = 0.3
    loads, rows = pressurized_blister_table(nu)
    top = loads[-1]
    release, deflection, volume = rows[-1, 0], rows[-1, 1], rows[-1, 2]
    assert release == pytest.approx(1.25 * top * volume / np.pi, rel=2e-3)
    exponent = np.log(rows[-1, 1] / rows[-3, 1]) / np.log(loads[-1] / loads[-3])
    assert exponent == pytest.approx(1.0 / 3.0, abs=2e-3)
    assert deflection > 100.0  # δ ≫ h: membrane regime reached


def test_film_edge_mixity_limits():
    assert float(film_edge_mixity(1.0, 0.0, 1.0)) == pytest.approx(MIXITY_ANGLE)
    assert float(film_edge_mixity(0.0, 1.0, 1.0)) == pytest.approx(-(np.pi / 2 - MIXITY_ANGLE))


def test_debond_pressure_in_the_plate_regime():
    """Where the debond pressure leaves the film a plate: G = Γ(ψ = −(90° − ω)) solved in closed form,
    p = [32 E h³ Γ/(3 (1 − ν²) b⁴)]^{1/2}."""
    e, nu, h, b = 170e9, 0.38, 5e-8, 1e-6
    gamma = float(interface_toughness(-(np.pi / 2 - MIXITY_ANGLE), 1e-4, 0.3))
    p = debond_pressure(b, e, nu, h, 1e-4, 0.3)
    assert pressurized_blister(p, b, e, nu, h).deflection < 0.05 * h
    assert p == pytest.approx(np.sqrt(32 * e * h**3 * gamma / (3 * (1 - nu**2) * b**4)), rel=2e-3)


def test_pressurized_blister_rejects_bad_input():
    with pytest.raises(ValueError):
        pressurized_blister(-1.0, 1e-6, 1e11, 0.3, 1e-7)
    with pytest.raises(ValueError):
        pressurized_blister(1.0, 0.0, 1e11, 0.3, 1e-7)


def test_crest_strain_at_debond_is_size_independent_in_the_plate_regime():
    """Plate regime: G = (3/32)(1 − ν²) p² b⁴/(E h³) = Γ and (h/2)κ = (3/8)(1 − ν²) p b²/(E h²) give the crest
    bending strain at debond [1.5 (1 − ν²) Γ/(E h)]^{1/2}, whatever b."""
    e, nu, h = 170e9, 0.38, 5e-8
    gamma = float(interface_toughness(-(np.pi / 2 - MIXITY_ANGLE), 1e-4, 0.3))
    expected = np.sqrt(1.5 * (1 - nu**2) * gamma / (e * h))
    for b in (0.25e-6, 0.5e-6):
        p = debond_pressure(b, e, nu, h, 1e-4, 0.3)
        state = pressurized_blister(p, b, e, nu, h)
        assert float(state.deflection) < 0.05 * h
        assert float(0.5 * h * state.apex_curvature) == pytest.approx(expected, rel=5e-3)
