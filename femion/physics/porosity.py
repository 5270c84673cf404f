"""Porosity of the top electrode: ductile void growth, and the blister that decides where it grows.

Void growth (Rice & Tracey, J. Mech. Phys. Solids 17, 201 (1969))
-----------------------------------------------------------------
A spherical void of radius R in a plastically flowing matrix grows as

    dR/R = 0.283 exp(1.5 σ_m/σ_eq) dε_p,

σ_m the mean stress, σ_eq the von Mises stress and dε_p the equivalent
plastic strain increment (the high-triaxiality form of their Eq. 33, used
for all triaxialities, as is common; for compressive σ_m it still gives slow
growth, so it cannot close pores). femion integrates g = ln(R/R₀) at every
Gauss point of the electrode. With a plastically incompressible matrix the
void volume fraction follows from an initial porosity f₀ as

    f = f₀ e^{3g} / (1 − f₀ + f₀ e^{3g})        (void volume f₀ (R/R₀)³ per matrix volume 1 − f₀).

Where porosity ends up, and why
-------------------------------
Porosity grows only where the electrode flows plastically, faster where the
triaxiality σ_m/σ_eq is high (equibiaxial tension gives 2/3, a factor e^1
over uniaxial tension, e^2 over equibiaxial compression).

1. **Bonded stack (linear thin-film theory).** An electrode bonded to films
   that are bonded to a thick substrate has no in-plane strain of its own in
   the interior: intercalation expands WO3 vertically and lifts the electrode
   rigidly; only the finite substrate compliance strains it a little
   (σ_vm ≈ 4 MPa at the centre for Δc = 3000 mol/m³ in WO3). The misfit between
   the intercalated film under the electrode and the un-biased film outside
   concentrates stress at the electrode edge r = R_e (a corner singularity).
   Plastic flow, and therefore porosity, starts **at the edge**, not at the
   centre the paper reports (paper §2.6).
2. **Buckle-delamination blister** (Hutchinson & Suo, Adv. Appl. Mech. 29, 63
   (1992), circular blister). The intercalated WO3 is under equibiaxial
   compression σ₀ ≈ −E ε*/(1 − ν). If the sub-stack above an interface
   debonds over a disk r < b, it buckles once the compression exceeds the
   clamped-plate critical stress

       σ_c = 1.2235 E/(1 − ν²) (h/b)²       (= j₁,₁² /12 · E/(1−ν²) (h/b)², j₁,₁ = 3.8317),

   which for a 250 nm sub-stack over b = 100 µm is ~1 MPa, far below the
   intercalation stress. Which interface debonds and the radius b are
   computed in :mod:`femion.physics.thinfilm` (G(b) = Γ(ψ(b)), mode-dependent
   interface toughness, stability after Hutchinson, Thouless & Liniger 1992),
   with G, the edge loads and the crest height δ from the Föppl–von Kármán
   solution of the clamped prestressed plate
   (:func:`femion.physics.thinfilm.circular_blister`). The closed forms kept
   here (:func:`blister_energy_release_rate`, :func:`blister_amplitude`,
   quoted from H&S, not re-derived) are one-term approximations: δ agrees
   with the plate solution near onset, the quoted G is 15–20 % below it for
   σ₀/σ_c = 1.5–3. The shape is the first clamped mode
   w(r) = δ [J₀(j r/b) − J₀(j)]/(1 − J₀(j)). In the
   blister the sub-stack is no longer held by the substrate: its membrane
   strain relaxes by Δε_m = (N_c − N₀)/A (tensile for the electrode: the
   paper's "stretching" of Pt) and it bends, with curvatures κ_rr = −w'',
   κ_θθ = −w'/r largest at the crest r = 0, where the electrode (above the
   neutral plane) is in equibiaxial tension. femion imposes this blister strain
   on the electrode as an incompatible strain in the bonded finite-element
   problem (a reduced-order superposition: the films keep their bonded-film
   stress; flagged), its dilatation projected like the B-bar strain. With
   the assumed interface toughnesses of the materials database the stack stays
   bonded under the reference sweeps (slow −5 V sweep: max G/Γ(ψ) = 0.63 on
   WO3|LiPON under Pt). With a much weaker interface (Γ_I ≤ 0.05 J/m², a
   scenario) WO3|LiPON debonds early in the sweep and the blister grows to
   R_e; the electrode over it is stretched by the membrane relaxation (~1 %)
   and flows (ε_p ≈ 0.03 at the centre for Pt), so the porosity peaks at the
   centre, but only by Δf ≈ 5·10⁻⁴, far below the percolation threshold.
   The bending strain at the crest of a 100 µm blister is of order 10⁻⁴;
   it is the stretching, not the bending, that loads the centre.

A blister centred on the axis is the only one an axisymmetric model can
represent; it is also the largest unsupported compressed span (the whole
biased disk), hence the lowest buckling stress and the highest G.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import j0, j1, jn_zeros

__all__ = [
    "BUCKLING_COEFFICIENT",
    "BlisterSettings",
    "Laminate",
    "blister_amplitude",
    "blister_energy_release_rate",
    "blister_profile",
    "clamped_plate_buckling_stress",
    "laminate",
    "porosity_from_void_growth",
    "rice_tracey_increment",
]

MODE_ROOT = float(jn_zeros(1, 1)[0])
"""j₁,₁ = 3.8317: first zero of J₁, the clamped circular plate's first axisymmetric buckling mode."""

BUCKLING_COEFFICIENT = MODE_ROOT**2 / 12.0
"""1.2235 in σ_c = 1.2235 E/(1−ν²)(h/b)² (Hutchinson & Suo 1992)."""

RICE_TRACEY_PREFACTOR = 0.283
"""Rice & Tracey (1969) void-growth prefactor."""


def rice_tracey_increment(mean_stress: np.ndarray, equivalent_stress: np.ndarray, plastic_increment: np.ndarray) -> np.ndarray:
    """Increment of g = ln(R/R₀): 0.283 exp(1.5 σ_m/σ_eq) Δε_p (Rice & Tracey 1969), same shape as the inputs.

    Parameters
    ----------
    mean_stress, equivalent_stress : ndarray
        σ_m, σ_eq [Pa] at the end of the increment.
    plastic_increment : ndarray
        Δε_p ≥ 0 [1].

    Raises
    ------
    ValueError
        On a negative plastic increment.
    """
    mean_stress, equivalent_stress, plastic_increment = np.broadcast_arrays(
        *(np.asarray(x, dtype=float) for x in (mean_stress, equivalent_stress, plastic_increment))
    )
    if np.any(plastic_increment < 0.0):
        raise ValueError("plastic strain increments must be non-negative")
    flowing = (plastic_increment > 0.0) & (equivalent_stress > 0.0)
    triaxiality = np.where(flowing, mean_stress / np.where(flowing, equivalent_stress, 1.0), 0.0)
    return np.where(flowing, RICE_TRACEY_PREFACTOR * np.exp(1.5 * np.clip(triaxiality, -20.0, 20.0)) * plastic_increment, 0.0)


def porosity_from_void_growth(initial_porosity: float | np.ndarray, void_growth: np.ndarray) -> np.ndarray:
    """Void volume fraction f = f₀e^{3g}/(1 − f₀ + f₀e^{3g}) from g = ln(R/R₀) (incompressible matrix).

    Raises
    ------
    ValueError
        If f₀ is outside [0, 1).
    """
    f0 = np.asarray(initial_porosity, dtype=float)
    if np.any(f0 < 0.0) or np.any(f0 >= 1.0):
        raise ValueError(f"initial porosity must be in [0, 1), got {initial_porosity!r}")
    growth = f0 * np.exp(3.0 * np.asarray(void_growth, dtype=float))
    return growth / (1.0 - f0 + growth)


def clamped_plate_buckling_stress(plate_modulus: float, thickness: float, radius: float) -> float:
    """Critical equibiaxial compression of a clamped circular plate, σ_c = 1.2235 E/(1−ν²) (h/b)² [Pa].

    Parameters
    ----------
    plate_modulus
        E/(1 − ν²) [Pa] (of the equivalent homogeneous plate for a laminate).
    thickness, radius
        h, b [m].

    Raises
    ------
    ValueError
        Non-positive arguments.
    """
    if not (plate_modulus > 0.0 and thickness > 0.0 and radius > 0.0):
        raise ValueError("plate modulus, thickness and radius must be positive")
    return BUCKLING_COEFFICIENT * plate_modulus * (thickness / radius) ** 2


def blister_amplitude(stress_ratio: float | np.ndarray, thickness: float, poisson_ratio: float) -> np.ndarray:
    """Post-buckling crest height δ = h [(σ/σ_c − 1)/c₁]^{1/2} of a circular blister [m] (0 below σ_c).

    c₁ = 0.2473(1 + ν) + 0.2231(1 − ν²) (Hutchinson & Suo 1992, circular blister).

    Parameters
    ----------
    stress_ratio
        σ₀/σ_c, compression counted positive.
    thickness, poisson_ratio
        h [m], ν.
    """
    c1 = 0.2473 * (1.0 + poisson_ratio) + 0.2231 * (1.0 - poisson_ratio**2)
    excess = np.maximum(np.asarray(stress_ratio, dtype=float) - 1.0, 0.0)
    return thickness * np.sqrt(excess / c1)


def blister_energy_release_rate(stress: float, critical_stress: float, youngs_modulus: float, poisson_ratio: float, thickness: float) -> float:
    """Energy release rate at the edge of a circular blister [J/m²] (Hutchinson & Suo 1992).

    G = G₀ (1 − σ_c/σ)(1 + 0.9021(1 − ν) σ_c/σ) / (1 + 0.9021(1 − ν)), G₀ = (1 − ν) h σ²/E,
    for σ ≥ σ_c (compression positive); 0 below σ_c (no buckle, no driving force).
    """
    if stress <= critical_stress or stress <= 0.0:
        return 0.0
    g0 = (1.0 - poisson_ratio) * thickness * stress**2 / youngs_modulus
    ratio = critical_stress / stress
    coefficient = 0.9021 * (1.0 - poisson_ratio)
    return float(g0 * (1.0 - ratio) * (1.0 + coefficient * ratio) / (1.0 + coefficient))


def blister_profile(r: np.ndarray, radius: float, amplitude: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """First clamped mode w(r) = δ [J₀(j r/b) − J₀(j)]/(1 − J₀(j)) and its curvatures.

    Parameters
    ----------
    r
        Radii [m] (any shape); zero outside r ≥ b.
    radius, amplitude
        Blister radius b [m] and crest height δ [m].

    Returns
    -------
    (w, w_rr, w_r_over_r) : tuple of ndarray
        Deflection [m], d²w/dr² [1/m] and (1/r) dw/dr [1/m] (its r → 0 limit on the axis).
    """
    r = np.asarray(r, dtype=float)
    k = MODE_ROOT / radius
    norm = amplitude / (1.0 - j0(MODE_ROOT))
    x = k * r
    inside = r < radius
    w = np.where(inside, norm * (j0(x) - j0(MODE_ROOT)), 0.0)
    # J0' = −J1, J0'' = −J0 + J1/x; (1/r) dw/dr = −norm k² J1(x)/x
    small = x < 1e-6
    j1_over_x = np.where(small, 0.5 - x**2 / 16.0, j1(x) / np.where(small, 1.0, x))
    w_r_over_r = np.where(inside, -norm * k**2 * j1_over_x, 0.0)
    w_rr = np.where(inside, norm * k**2 * (-j0(x) + j1_over_x), 0.0)
    return w, w_rr, w_r_over_r


@dataclass(frozen=True)
class Laminate:
    """Plate properties of a layer stack (classical lamination, equibiaxial, per unit width).

    Attributes
    ----------
    thickness : float
        Total h [m].
    neutral_plane : float
        z_n [m] of the bending neutral plane (same z origin as the layer bounds).
    bending_stiffness : float
        D = Σ E_i/(1−ν_i²) ∫ (z − z_n)² dz [N m].
    membrane_stiffness : float
        A = Σ E_i h_i/(1−ν_i) [N/m] (equibiaxial).
    plate_modulus : float
        12 D/h³ [Pa]: E/(1−ν²) of the equivalent homogeneous plate.
    youngs_modulus, poisson_ratio : float
        Thickness-weighted E [Pa] and ν of the equivalent plate (for the G and δ formulas).
    """

    thickness: float
    neutral_plane: float
    bending_stiffness: float
    membrane_stiffness: float
    plate_modulus: float
    youngs_modulus: float
    poisson_ratio: float


def laminate(bounds: list[tuple[float, float]], youngs_modulus: list[float], poisson_ratio: list[float]) -> Laminate:
    """Plate properties of layers occupying ``bounds`` = [(z_bottom, z_top), ...] [m].

    Raises
    ------
    ValueError
        Empty stack or non-positive thickness.
    """
    if not bounds or any(top <= bottom for bottom, top in bounds):
        raise ValueError("laminate needs at least one layer of positive thickness")
    e = np.asarray(youngs_modulus, dtype=float)
    nu = np.asarray(poisson_ratio, dtype=float)
    z0 = np.array([b for b, _ in bounds])
    z1 = np.array([t for _, t in bounds])
    plate = e / (1.0 - nu**2)
    neutral = float(np.sum(plate * (z1**2 - z0**2) / 2.0) / np.sum(plate * (z1 - z0)))
    bending = float(np.sum(plate * ((z1 - neutral) ** 3 - (z0 - neutral) ** 3) / 3.0))
    h = float(z1.max() - z0.min())
    weights = (z1 - z0) / np.sum(z1 - z0)
    return Laminate(
        thickness=h,
        neutral_plane=neutral,
        bending_stiffness=bending,
        membrane_stiffness=float(np.sum(e * (z1 - z0) / (1.0 - nu))),
        plate_modulus=12.0 * bending / h**3,
        youngs_modulus=float(np.sum(weights * e)),
        poisson_ratio=float(np.sum(weights * nu)),
    )


@dataclass(frozen=True)
class BlisterSettings:
    """Buckle-delamination settings of :class:`femion.physics.mechanics.MechanicsModule`.

    Which interface debonds and the blister radius are computed
    (:mod:`femion.physics.thinfilm`); these settings only restrict or
    override the inputs.

    Attributes
    ----------
    enabled : bool
        Model the blister (False: bonded stack only).
    interface : str or None
        Only this interface ``"upper|lower"`` may debond (None: every
        interface under the electrode is a candidate).
    toughness : float or None
        Mode-I interface toughness Γ_I [J/m²] for every candidate (None: per
        interface from the materials database, ``interface_toughness_<lower>``
        of the upper material).
    mixity_parameter : float or None
        λ of Γ(ψ) = Γ_I [1 + tan²((1 − λ)ψ)] for every candidate (None: the
        upper material's ``interface_mixity_parameter``).
    """

    enabled: bool = True
    interface: str | None = None
    toughness: float | None = None
    mixity_parameter: float | None = None

    def __post_init__(self) -> None:
        if self.toughness is not None and not (np.isfinite(self.toughness) and self.toughness > 0.0):
            raise ValueError(f"interface toughness must be positive, got {self.toughness!r}")
        if self.mixity_parameter is not None and not 0.0 < self.mixity_parameter <= 1.0:
            raise ValueError(f"mixity parameter lambda must be in (0, 1], got {self.mixity_parameter!r}")
        if self.interface is not None and "|" not in self.interface:
            raise ValueError(f"blister interface must be named 'upper|lower', got {self.interface!r}")
