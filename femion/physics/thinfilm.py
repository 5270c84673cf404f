"""Thin-film failure of the top electrode and buckle-delamination of the stack: channel cracks, necking, blisters.

Bulk ductile void growth (Rice–Tracey, :mod:`femion.physics.porosity`) needs
plastic strains of order 0.5 to open connected pores; a 50 nm sputtered
electrode on a stiff stack fails by thin-film routes instead, whose outcome
depends on the film's stress, yield, thickness and adhesion. This module
computes them from the mechanics fields of :class:`femion.physics.mechanics.MechanicsModule`.

Channel cracking (Beuth, Int. J. Solids Struct. 29, 1657 (1992); Hutchinson & Suo, Adv. Appl. Mech. 29, 63 (1992))
-------------------------------------------------------------------------------------------------------------------
A through-thickness crack channelling across a film of thickness h under
in-plane tension σ releases, in steady state,

    G_ch = Z(α, β) σ² h / Ē_f,        Ē_f = E_f/(1 − ν_f²),

(Beuth writes G = (π/2) g(α, β) σ² h/Ē_f, i.e. Z = (π/2) g), with the Dundurs
parameters α, β of film and substrate (:func:`dundurs`). For no elastic
mismatch Z = 1.976 (Beuth 1992; Hutchinson & Suo 1992, Table 3): Z = (π/2)·1.1215²,
the depth average of G = 1.1215² π σ² a/Ē of an edge crack of depth a.
femion computes Z by the solution method of Beuth, not by a table:
G_ch = (σ/2h) ∫₀ʰ δ(z) dz with δ the opening of the plane-strain crack
through the film, arrested at the interface, loaded by the released stress σ
on its faces; δ is solved by plane-strain finite elements (quadratic
triangles, scikit-fem, geometric mesh grading into the crack tip and the
surface corner, far boundary at 200 h), see :func:`channel_cracking_number`.
A film cracks where G_ch ≥ Γ_f (film toughness, ``film_toughness`` of the
electrode material). In a plastically flowing film σ ≤ σ_y + H ε_p: a soft
film cannot store the energy to channel.

Necking of a debonded ductile film (Li, Huang, Xi, Lacour, Wagner & Suo, Mech. Mater. 37, 261 (2005))
------------------------------------------------------------------------------------------------------
A freestanding metal film ruptures by necking just beyond the necking
strain ε_N, Considère's condition dσ/dε = σ: with linear hardening
σ = σ_y + H ε_p, ε_N = 1 − σ_y/H (0 if H ≤ σ_y). A film fully bonded to a
stiff substrate deforms uniformly far beyond ε_N (the substrate suppresses
the local elongation of a neck); only where the film itself debonds does it
become freestanding and rupture. femion therefore applies the necking
criterion only where the electrode's own interface (electrode|film below)
has debonded.

Open area of the through-thickness openings
-------------------------------------------
Where a film cracks, the cracks relax its in-plane elastic strain; the
film's length does not change, so the crack openings add up to the released
strain: per in-plane direction i whose stress channels a crack, an open
area fraction ε_i = (σ_i − ν σ_j)/E (plane-stress film), summed over the
cracked directions (upper bound: full relaxation, crack spacing not
resolved). Cracks in both r and θ form a connected network (mud cracks); in
one direction, parallel channels (radial or circumferential). Where a
debonded film necks, the plastic strain beyond ε_N localises into the necks
and opens as gaps, open fraction ε_p − ε_N. Every opening runs through the
film's thickness, so it connects the top surface to the layer beneath.

Buckle-delamination: which interface, what radius (Hutchinson & Suo 1992; Hutchinson, Thouless & Liniger, Acta Metall. Mater. 40, 295 (1992))
------------------------------------------------------------------------------------------------------------------------------------------------
Every horizontal interface under the electrode is a candidate. The sub-stack
above it carries the bonded-film membrane force of its Vegard strains,
compression σ₀ = −N/h (mean over the disk r < b, from the Li field). A
debonded disk of radius b buckles above σ_c(b) = 1.2235 E/(1−ν²)(h/b)²
(:func:`femion.physics.porosity.clamped_plate_buckling_stress`) and releases
G(b) (:func:`circular_blister`). The edge
loads that make G are the change of the radial membrane resultant ΔN and the
edge moment M, G = (1 − ν²)/(2E) (ΔN²/h + 12 M²/h³) (plane-strain film edge);
femion takes ΔN, M, G and the crest height from the Föppl–von Kármán
solution of the clamped, prestressed circular plate
(:func:`circular_blister_table`: its δ agrees with Hutchinson & Suo's
post-buckling amplitude near onset; their quoted G formula,
:func:`femion.physics.porosity.blister_energy_release_rate`, is 15–20 % low
against it for σ₀/σ_c = 1.5–3). The mode mixity follows from the film-edge solution of
Suo & Hutchinson (Int. J. Fract. 43, 1 (1990)) with ω = 52.07° (no elastic
mismatch; a few degrees off for |α| ≤ 0.5):

    K_I ∝ √12 M sin ω − h ΔN cos ω,    K_II ∝ −(√12 M cos ω + h ΔN sin ω),    ψ = atan2(K_II, K_I),

from ψ = −(90° − ω) = −37.9° at onset towards −90° (−66° at σ₀/σ_c = 3,
−87° at 300 for ν = 0.3; where K_I would turn negative the faces touch and ψ
is held at −90°). Interface toughness rises with mode II:
Γ(ψ) = Γ_I [1 + tan²((1 − λ)ψ)] (Hutchinson & Suo 1992), Γ_I and λ per
interface from the materials database (``interface_toughness_<lower>``,
``interface_mixity_parameter`` of the upper material). Because ψ grows with
σ₀/σ_c and hence with b, Γ(ψ(b)) can outgrow G(b): a circular blister grows
while G(b) ≥ Γ(ψ(b)) and arrests at the first radius where G − Γ falls
through zero, which is stable against axisymmetric growth (d(G − Γ)/db < 0,
Hutchinson, Thouless & Liniger 1992; their non-axisymmetric, telephone-cord
instability cannot be represented in (r, z)). If G ≥ Γ up to the edge of the
compressed disk (the biased electrode radius R_e, beyond which the films carry
no Vegard strain and G drops), the blister arrests at R_e. A debond needs an
initial interfacial flaw of the size where G first reaches Γ; femion assumes
one exists (flagged). Of the candidate interfaces the one with the largest
max_b G/Γ debonds, at the first load step where any ratio reaches 1; once
debonded, the blister never heals or shrinks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq

from femion.physics.porosity import clamped_plate_buckling_stress

__all__ = [
    "BlisterState",
    "FilmDamage",
    "MIXITY_ANGLE",
    "circular_blister",
    "circular_blister_table",
    "blister_apex_strain",
    "blister_mode_mixity",
    "channel_cracking_number",
    "channel_energy_release_rate",
    "dundurs",
    "film_damage",
    "film_edge_mixity",
    "PressurizedBlister",
    "pressurized_blister",
    "pressurized_blister_table",
    "debond_pressure",
    "interface_toughness",
    "necking_strain",
    "solve_blister_radius",
]

MIXITY_ANGLE = np.deg2rad(52.07)
"""ω of the film-edge solution without elastic mismatch [rad] (Suo & Hutchinson 1990; Hutchinson & Suo 1992)."""

def dundurs(film_modulus: float, film_poisson: float, substrate_modulus: float, substrate_poisson: float) -> tuple[float, float]:
    """Dundurs parameters (α, β) of a film (1) on a substrate (2), plane strain (Dundurs, J. Appl. Mech. 36, 650 (1969)).

    α = (Ē₁ − Ē₂)/(Ē₁ + Ē₂), β = ½ [μ₁(1 − 2ν₂) − μ₂(1 − 2ν₁)] / [μ₁(1 − ν₂) + μ₂(1 − ν₁)],
    Ē = E/(1 − ν²), μ = E/(2(1 + ν)).

    Parameters
    ----------
    film_modulus, substrate_modulus
        Young's moduli [Pa].
    film_poisson, substrate_poisson
        Poisson's ratios [1].

    Raises
    ------
    ValueError
        Non-positive moduli or Poisson's ratios outside (−1, 0.5).
    """
    for e, nu in ((film_modulus, film_poisson), (substrate_modulus, substrate_poisson)):
        if not (e > 0.0 and -1.0 < nu < 0.5):
            raise ValueError(f"need E > 0 and -1 < nu < 0.5, got E={e!r}, nu={nu!r}")
    e1, e2 = film_modulus / (1.0 - film_poisson**2), substrate_modulus / (1.0 - substrate_poisson**2)
    m1, m2 = film_modulus / (2.0 * (1.0 + film_poisson)), substrate_modulus / (2.0 * (1.0 + substrate_poisson))
    alpha = (e1 - e2) / (e1 + e2)
    beta = 0.5 * (m1 * (1.0 - 2.0 * substrate_poisson) - m2 * (1.0 - 2.0 * film_poisson)) / (m1 * (1.0 - substrate_poisson) + m2 * (1.0 - film_poisson))
    return float(alpha), float(beta)


def _graded(n: int, length: float, first: float) -> np.ndarray:
    """n + 1 points from 0 to ``length``, sizes growing geometrically from ``first``."""
    if first * n >= length:
        return np.linspace(0.0, length, n + 1)
    ratio = brentq(lambda q: first * (q**n - 1.0) / (q - 1.0) - length, 1.0 + 1e-12, 10.0)
    return np.concatenate([[0.0], np.cumsum(first * ratio ** np.arange(n))])


@lru_cache(maxsize=64)
def channel_cracking_number(film_modulus: float, film_poisson: float, substrate_modulus: float, substrate_poisson: float, cells: int = 40) -> float:
    """Z(α, β) of the steady channel crack, G_ch = Z σ² h/Ē_f, by plane-strain finite elements [1].

    Solves the crack-face problem of Beuth (1992): a crack through a film
    (0 < y < h) on a half-space, faces loaded by the released film stress σ;
    by symmetry the half x ≥ 0 with u_x = 0 on the ligament x = 0, y < 0 and
    u = 0 at the far bottom (y = −200 h). Then Z = Ē_f/(σ h²) ∫₀ʰ u_x dy
    (∫ δ dy = 2∫ u_x dy, G_ch = (σ/2h)∫ δ dy). Quadratic triangles on a tensor
    mesh graded geometrically into the crack tip (first cell h/200 in x,
    h/400 in y). Converged to 1e-3 for ``cells`` ≥ 30 (Z(0, 0) = 1.974 against
    the exact (π/2)·1.1215² = 1.976). Cached per argument set.

    Parameters
    ----------
    film_modulus, substrate_modulus
        E [Pa] (only the ratio matters).
    film_poisson, substrate_poisson
        ν [1].
    cells
        Cells along each graded direction (40: 2501 nodes, ~1 s).

    Raises
    ------
    ValueError
        Invalid moduli (via :func:`dundurs`) or fewer than 8 cells.
    """
    from skfem import Basis, BilinearForm, ElementTriP2, ElementVector, FacetBasis, LinearForm, MeshTri, asm, condense, solve
    from skfem.helpers import ddot, sym_grad, trace

    dundurs(film_modulus, film_poisson, substrate_modulus, substrate_poisson)
    if cells < 8:
        raise ValueError("channel_cracking_number needs at least 8 cells per direction")
    far = 200.0  # in units of h
    x = _graded(cells, far, 1.0 / 200.0)
    y = np.concatenate([-_graded(cells, far, 1.0 / 400.0)[::-1][:-1], _graded(cells // 2, 1.0, 1.0 / 400.0)])
    mesh = MeshTri.init_tensor(x, y)
    element = ElementVector(ElementTriP2())
    basis = Basis(mesh, element, intorder=4)
    film = mesh.p[1, mesh.t].mean(axis=0) > 0.0
    scale = film_modulus
    e = np.where(film, 1.0, substrate_modulus / scale)
    nu = np.where(film, film_poisson, substrate_poisson)
    n_qp = basis.X.shape[1]
    lame = np.repeat((e * nu / ((1.0 + nu) * (1.0 - 2.0 * nu)))[:, None], n_qp, axis=1)
    shear = np.repeat((e / (2.0 * (1.0 + nu)))[:, None], n_qp, axis=1)

    @BilinearForm
    def stiffness(u, v, w):
        eu, ev = sym_grad(u), sym_grad(v)
        return w["lame"] * trace(eu) * trace(ev) + 2.0 * w["shear"] * ddot(eu, ev)

    @LinearForm
    def unit_traction(v, w):
        return v[0]

    matrix = asm(stiffness, basis, lame=lame, shear=shear)
    crack = mesh.facets_satisfying(lambda p: (p[0] < 1e-12) & (p[1] > 0.0))
    load = asm(unit_traction, FacetBasis(mesh, element, facets=crack, intorder=6))
    ligament = basis.get_dofs(lambda p: (p[0] < 1e-12) & (p[1] <= 1e-12))
    fixed = np.concatenate([ligament.nodal["u^1"], ligament.facet["u^1"], basis.get_dofs(lambda p: p[1] < -far + 1e-9).all()])
    u = solve(*condense(matrix, load, D=fixed))
    # ∫ u_x dy over the crack face = load·u (unit traction); σ = 1, E_f = 1 in these units
    return float(load @ u / (1.0 - film_poisson**2))


def channel_energy_release_rate(stress: np.ndarray, thickness: float, youngs_modulus: float, poisson_ratio: float, number: float) -> np.ndarray:
    """Steady channelling energy release rate G_ch = Z σ² h/Ē_f [J/m²] (0 where σ ≤ 0), same shape as ``stress``.

    Parameters
    ----------
    stress
        In-plane tensile film stress normal to the crack [Pa].
    thickness
        Film thickness h [m].
    youngs_modulus, poisson_ratio
        Film E [Pa], ν.
    number
        Z [1] (:func:`channel_cracking_number`).
    """
    stress = np.maximum(np.asarray(stress, dtype=float), 0.0)
    return number * stress**2 * thickness * (1.0 - poisson_ratio**2) / youngs_modulus


def necking_strain(yield_stress: float, hardening: float) -> float:
    """Considère necking strain of a linearly hardening film, ε_N = 1 − σ_y/H (0 if H ≤ σ_y) [1].

    dσ/dε = σ with σ = σ_y + H ε (true stress and strain); the rupture strain
    of a freestanding film (Li et al., Mech. Mater. 37, 261 (2005)).

    Raises
    ------
    ValueError
        Non-positive yield stress or negative hardening.
    """
    if not (yield_stress > 0.0 and hardening >= 0.0):
        raise ValueError("necking_strain needs a positive yield stress and non-negative hardening")
    return max(1.0 - yield_stress / hardening, 0.0) if hardening > 0.0 else 0.0


@dataclass(frozen=True)
class FilmDamage:
    """Through-thickness damage of the electrode film per cell, shape (n_cells,) each (0 outside the film).

    Attributes
    ----------
    release_rate : ndarray
        Channelling G_ch [J/m²] under the larger in-plane tension of the cell's column.
    channel_ratio : ndarray
        G_ch/Γ_f [1]; ≥ 1: channel cracks.
    necking_ratio : ndarray
        ε_p/ε_N where the film is debonded (freestanding), else 0 [1]; ≥ 1: necks and ruptures.
    open_fraction : ndarray
        Open area fraction of through-thickness openings [1].
    network : ndarray
        1 where cracks run in both r and θ (connected network), 0.5 for one family of channels, 0 intact.
    """

    release_rate: np.ndarray
    channel_ratio: np.ndarray
    necking_ratio: np.ndarray
    open_fraction: np.ndarray
    network: np.ndarray


def film_damage(
    column: np.ndarray,
    cells: np.ndarray,
    stress_rr: np.ndarray,
    stress_tt: np.ndarray,
    plastic_strain: np.ndarray,
    weights: np.ndarray,
    freestanding: np.ndarray,
    thickness: float,
    youngs_modulus: float,
    poisson_ratio: float,
    toughness: float,
    number: float,
    necking: float,
) -> FilmDamage:
    """Channel cracking and necking of the electrode film from its cell fields (module docstring).

    The film criteria act on the through-thickness (weighted) mean of each
    radial column of film cells: a channel crack or a neck runs through the
    whole thickness.

    Parameters
    ----------
    column : ndarray of int, shape (n_cells,)
        Radial column index of each cell (only read on ``cells``).
    cells : ndarray of bool, shape (n_cells,)
        Film cells.
    stress_rr, stress_tt : ndarray, shape (n_cells,)
        In-plane stresses σ_rr, σ_θθ [Pa].
    plastic_strain : ndarray, shape (n_cells,)
        Equivalent plastic strain ε_p [1].
    weights : ndarray, shape (n_cells,)
        Cell volumes for the column mean [m³].
    freestanding : ndarray of bool, shape (n_cells,)
        Film cells whose own interface has debonded.
    thickness, youngs_modulus, poisson_ratio
        Film h [m], E [Pa], ν.
    toughness
        Film toughness Γ_f [J/m²].
    number
        Z [1].
    necking
        ε_N [1].

    Returns
    -------
    FilmDamage

    Raises
    ------
    ValueError
        Non-positive toughness.
    """
    if not toughness > 0.0:
        raise ValueError(f"film toughness must be positive, got {toughness!r}")
    n = len(cells)
    index = np.asarray(column)[cells]
    w = np.asarray(weights, dtype=float)[cells]
    total = np.bincount(index, w)
    mean = lambda values: (np.bincount(index, w * np.asarray(values, dtype=float)[cells], minlength=total.size) / np.where(total > 0, total, 1.0))[index]  # noqa: E731
    s_rr, s_tt, eps_p = mean(stress_rr), mean(stress_tt), mean(plastic_strain)
    g_rr = channel_energy_release_rate(s_rr, thickness, youngs_modulus, poisson_ratio, number)
    g_tt = channel_energy_release_rate(s_tt, thickness, youngs_modulus, poisson_ratio, number)
    cracked_rr, cracked_tt = g_rr >= toughness, g_tt >= toughness
    strain_rr = np.maximum((s_rr - poisson_ratio * s_tt) / youngs_modulus, 0.0)
    strain_tt = np.maximum((s_tt - poisson_ratio * s_rr) / youngs_modulus, 0.0)
    free = np.asarray(freestanding, dtype=bool)[cells]
    necked = free & (eps_p >= necking) & (eps_p > 0.0)
    necking_ratio = np.where(free, eps_p / max(necking, 1e-12), 0.0)  # ε_N = 0: any plastic strain necks
    opened = np.where(cracked_rr, strain_rr, 0.0) + np.where(cracked_tt, strain_tt, 0.0) + np.where(necked, eps_p - necking, 0.0)
    network = np.where(cracked_rr & cracked_tt, 1.0, np.where(cracked_rr | cracked_tt | necked, 0.5, 0.0))
    out = lambda values: _scatter(n, cells, values)  # noqa: E731
    return FilmDamage(
        release_rate=out(np.maximum(g_rr, g_tt)),
        channel_ratio=out(np.maximum(g_rr, g_tt) / toughness),
        necking_ratio=out(necking_ratio),
        open_fraction=out(opened),
        network=out(network),
    )


def _scatter(n: int, cells: np.ndarray, values: np.ndarray) -> np.ndarray:
    full = np.zeros(n)
    full[cells] = values
    return full


# ------------------------------------------------------------------------------ blisters
BLISTER_TABLE_RANGE = (1.02, 100.0)
"""Range of σ₀/σ_c over which :func:`circular_blister_table` solves the plate equations (held beyond)."""


def _plate_equations(poisson_ratio: float, stress: float, pressure: float):
    """Right-hand side of the axisymmetric Föppl–von Kármán plate equations, E = h = 1 (see :func:`circular_blister_table`).

    y = (θ, θ′, u, u′) with θ = w′; prestress σ₀ (compression positive) and a uniform pressure p
    lifting the plate: D (θ″ + θ′/r − θ/r²) = N_r θ + p r/2 (the transverse shear −p r/2 carried
    by the ring r; Timoshenko & Woinowsky-Krieger §97).
    """
    nu = float(poisson_ratio)
    plate = 1.0 / (1.0 - nu**2)
    bending = plate / 12.0

    def equations(radius, y):
        theta, slope, u, du = y
        resultant = plate * (du + theta**2 / 2.0 + nu * u / radius) - stress
        return np.vstack([
            slope,
            -slope / radius + theta / radius**2 + (resultant * theta + 0.5 * pressure * radius) / bending,
            du,
            -theta * slope - du / radius + u / radius**2 - (1.0 - nu) * theta**2 / (2.0 * radius),
        ])

    return equations


def _clamped(a, b):
    return np.array([a[0], a[2], b[0], b[2]])


def _edge_and_apex(solution, poisson_ratio: float) -> tuple[float, float, float, float, float, float]:
    """(ΔN, M, G, δ, ε_m(0), κ(0)) of a solved plate (E = h = b = 1): edge membrane resultant change and moment,
    energy release rate (1 − ν²)/2 (ΔN² + 12 M²), crest height, apex mid-plane strain u′(0) and apex curvature −w″(0)."""
    nu = float(poisson_ratio)
    plate = 1.0 / (1.0 - nu**2)
    _, slope, _, du = solution.sol(1.0)
    resultant, moment = plate * du, plate / 12.0 * slope
    release = (1.0 - nu**2) / 2.0 * (resultant**2 + 12.0 * moment**2)
    fine = np.linspace(solution.x[0], 1.0, 4001)
    deflection = -np.trapezoid(solution.sol(fine)[0], fine)
    # apex values from θ/r and u/r at r = 5e-3 b (both odd in r: error O(r²) ~ 3e-5); the collocation's own
    # derivatives at the first node are off by a boundary layer of the 1/r² coefficients
    apex = 5e-3
    theta, _, u, _ = solution.sol(apex)
    return float(resultant), float(moment), float(release), float(deflection), float(u / apex), float(-theta / apex)


@lru_cache(maxsize=16)
def _buckled_plates(poisson_ratio: float, points: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """q grid and, per q, (G/G₀, ΔN/(σ_c h), |M|/(σ_c h²), δ/h, ε_m(0)(b/h)², κ(0) b²/h) of the post-buckled plate."""
    from scipy.integrate import solve_bvp
    from scipy.special import j0, j1

    from femion.physics.porosity import MODE_ROOT

    nu = float(poisson_ratio)
    plate = 1.0 / (1.0 - nu**2)  # E = h = b = 1
    critical = clamped_plate_buckling_stress(plate, 1.0, 1.0)
    qs = np.geomspace(*BLISTER_TABLE_RANGE, points)
    r = np.linspace(1e-4, 1.0, 300)
    x = MODE_ROOT * r
    amplitude = np.sqrt((qs[0] - 1.0) / 0.52)
    norm = amplitude / (1.0 - j0(MODE_ROOT))
    mesh = r
    guess = np.vstack([-norm * MODE_ROOT * j1(x), -norm * MODE_ROOT**2 * (j0(x) - j1(x) / x), 0.0 * r, 0.0 * r])
    rows = []
    previous = qs[0]
    for q in qs:
        stress = q * critical
        scale = np.sqrt((q - 1.0) / (previous - 1.0))
        guess = guess * np.array([scale, scale, scale**2, scale**2])[:, None]
        solution = solve_bvp(_plate_equations(nu, stress, 0.0), _clamped, mesh, guess, tol=1e-6, max_nodes=20000)
        if solution.status != 0:
            raise ArithmeticError(f"circular blister: plate equations unsolved at sigma/sigma_c = {q:.4g} ({solution.message})")
        mesh, guess, previous = solution.x, solution.y, q
        resultant, moment, release, deflection, strain, curvature = _edge_and_apex(solution, nu)
        rows.append((release / ((1.0 - nu) * stress**2), resultant / critical, abs(moment) / critical, deflection, strain, curvature))
    return qs, np.array(rows)


def circular_blister_table(poisson_ratio: float, points: int = 40) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Post-buckled clamped circular plate under equibiaxial prestress: the Föppl–von Kármán solution.

    Axisymmetric FvK plate equations for the debonded disk r < b of a film
    with bonded compression σ₀ (Hutchinson & Suo 1992, circular blister;
    Timoshenko & Woinowsky-Krieger, *Theory of Plates and Shells*, §97),
    slope θ = w′ and radial displacement u:

        D (θ″ + θ′/r − θ/r²) = N_r θ,      u″ = −θθ′ − u′/r + u/r² − (1 − ν) θ²/(2r),
        N_r = Ē h (u′ + θ²/2 + ν u/r) − σ₀ h,

    θ = u = 0 at r = 0 and r = b (clamped, bonded edge). Solved by
    collocation (:func:`scipy.integrate.solve_bvp`, tolerance 1e-6) on a grid
    of q = σ₀/σ_c, continued from the first buckling mode. The edge loads
    give the energy release rate of the plane-strain film edge,
    G = (1 − ν²)/(2E) (ΔN²/h + 12 M²/h³), ΔN = N_r(b) + σ₀ h, M = D θ′(b)
    (checked against −dΠ/dA of the solved plates to 2e-3). Near onset the crest
    height agrees with Hutchinson & Suo's δ/h = [(q − 1)/c₁]^{1/2} (0.1 % at
    q = 1.2, 0.8 % at q = 2); their quoted G formula (used by
    :func:`femion.physics.porosity.blister_energy_release_rate`) is 15–20 %
    below this solution for q = 1.5–3. The same solutions give the apex
    strains (:func:`blister_apex_strain`).

    Parameters
    ----------
    poisson_ratio
        ν of the plate.
    points
        q grid size (geometric over :data:`BLISTER_TABLE_RANGE`).

    Returns
    -------
    (q, g, resultant, moment, deflection) : tuple of ndarray, shape (points,)
        q; G/G₀ with G₀ = (1 − ν) h σ₀²/E; ΔN/(σ_c h); M/(σ_c h²); δ/h.

    Raises
    ------
    ArithmeticError
        If the collocation fails at a grid point.
    """
    qs, rows = _buckled_plates(float(poisson_ratio), points)
    return qs, rows[:, 0].copy(), rows[:, 1].copy(), rows[:, 2].copy(), rows[:, 3].copy()


def _scaled(q: np.ndarray, qs: np.ndarray, values: np.ndarray, power: float) -> np.ndarray:
    """values(q) from a table on ``qs``: values/(q − 1)^power interpolated in ln q (constant below the first point),
    power-law extrapolated in ln–ln from the last two points beyond the table, times (q − 1)^power."""
    reduced = values / (qs - 1.0) ** power
    inside = np.interp(np.log(q), np.log(qs), reduced)
    slope = np.log(reduced[-1] / reduced[-2]) / np.log(qs[-1] / qs[-2])
    beyond = reduced[-1] * (np.maximum(q, qs[-1]) / qs[-1]) ** slope
    return np.where(q > qs[-1], beyond, inside) * (q - 1.0) ** power


def circular_blister(stress, critical_stress, youngs_modulus: float, poisson_ratio: float, thickness: float):
    """Energy release rate, edge loads and crest height of a circular blister (Föppl–von Kármán, :func:`circular_blister_table`).

    Parameters
    ----------
    stress, critical_stress : array_like
        σ₀ and σ_c(b) [Pa], compression positive (broadcast).
    youngs_modulus, poisson_ratio, thickness
        Plate E [Pa], ν, h [m].

    Returns
    -------
    (G, ΔN, M, δ) : tuple of ndarray
        [J/m²], [N/m], [N], [m]; zero where σ₀ ≤ σ_c. G/G₀ and ΔN scale as
        (q − 1), M and δ as √(q − 1) below the first table point (the
        onset asymptotics); beyond the last point each is extrapolated as a
        power of q from the last two points (for ν = 0.3 against solved plates:
        δ and G within 2 % at q = 175, G 7 % high at q = 2000).
    """
    qs, g, resultant, moment, deflection = circular_blister_table(round(float(poisson_ratio), 3))
    s, sc = np.broadcast_arrays(np.asarray(stress, dtype=float), np.asarray(critical_stress, dtype=float))
    buckled = (s > sc) & (sc > 0.0)
    q = np.where(buckled, s / np.where(buckled, sc, 1.0), 1.0)
    scaled = lambda values, power: _scaled(q, qs, values, power)  # noqa: E731

    release = np.where(buckled, scaled(g, 1.0) * (1.0 - poisson_ratio) * thickness * s**2 / youngs_modulus, 0.0)
    resultant_out = np.where(buckled, scaled(resultant, 1.0) * sc * thickness, 0.0)
    moment_out = np.where(buckled, scaled(moment, 0.5) * sc * thickness**2, 0.0)
    amplitude = np.where(buckled, scaled(deflection, 0.5) * thickness, 0.0)
    return release, resultant_out, moment_out, amplitude


def blister_apex_strain(stress, critical_stress, poisson_ratio: float, thickness: float, radius: float):
    """Mid-plane strain and curvature at the crest (r = 0) of a circular buckle-delamination blister.

    From the Föppl–von Kármán solutions of :func:`circular_blister_table`
    (same plates): the crest's mid-plane is stretched, relative to the bonded
    film, by ε_m = u′(0) (equibiaxial at r = 0) and bent with curvature
    κ = −w″(0) > 0 (a cap). A fibre at height z above the plate's neutral plane
    is strained by ε_m + z κ relative to its bonded state: the stretching of
    an electrode over a buckle apex. In units of the plate, ε_m (b/h)² and
    κ b²/h depend on q = σ₀/σ_c and ν only; near onset ε_m ∝ (q − 1),
    κ ∝ √(q − 1); beyond the table both are extrapolated as powers of q
    (as :func:`circular_blister`).

    Parameters
    ----------
    stress, critical_stress : array_like
        σ₀ and σ_c(b) [Pa], compression positive (broadcast).
    poisson_ratio
        ν of the plate.
    thickness, radius
        Plate h [m] and blister radius b [m].

    Returns
    -------
    (strain, curvature) : tuple of ndarray
        ε_m(0) [1] and κ(0) [1/m], zero where σ₀ ≤ σ_c.

    Raises
    ------
    ValueError
        Non-positive thickness or radius.
    """
    if not (thickness > 0.0 and radius > 0.0):
        raise ValueError("blister_apex_strain needs a positive thickness and radius")
    qs, rows = _buckled_plates(round(float(poisson_ratio), 3))
    s, sc = np.broadcast_arrays(np.asarray(stress, dtype=float), np.asarray(critical_stress, dtype=float))
    buckled = (s > sc) & (sc > 0.0)
    q = np.where(buckled, s / np.where(buckled, sc, 1.0), 1.0)
    strain = np.where(buckled, _scaled(q, qs, rows[:, 4], 1.0) * (thickness / radius) ** 2, 0.0)
    curvature = np.where(buckled, _scaled(q, qs, rows[:, 5], 0.5) * thickness / radius**2, 0.0)
    return strain, curvature


def film_edge_mixity(force, moment, thickness: float, omega: float = MIXITY_ANGLE) -> np.ndarray:
    """Mode mixity ψ = atan2(K_II, K_I) [rad] of an interface crack under a film edge loaded by a force and a moment.

    Thin film on a thick substrate, no elastic mismatch (Suo & Hutchinson, Int. J. Fract. 43, 1 (1990);
    Hutchinson & Suo 1992): with the edge force P per unit length (tensile positive, pulling the film edge
    away from the crack) and the moment M per unit length (positive: bends the film edge away from the
    substrate),

        K_I ∝ h P cos ω + √12 M sin ω,      K_II ∝ h P sin ω − √12 M cos ω,

    so pure bending gives ψ = −(90° − ω), pure tension ψ = ω. Not clipped (where K_I < 0 the faces touch;
    callers decide).

    Parameters
    ----------
    force : array_like
        P [N/m].
    moment : array_like
        M [N] (N m/m).
    thickness
        h [m].
    omega
        ω [rad].

    Returns
    -------
    ndarray
        ψ in (−π, π] [rad], broadcast shape of ``force`` and ``moment``.
    """
    bending = np.sqrt(12.0) * np.asarray(moment, dtype=float)
    stretching = thickness * np.asarray(force, dtype=float)
    return np.arctan2(stretching * np.sin(omega) - bending * np.cos(omega), stretching * np.cos(omega) + bending * np.sin(omega))


def blister_mode_mixity(resultant: np.ndarray, moment: np.ndarray, thickness: float, omega: float = MIXITY_ANGLE) -> np.ndarray:
    """Mode mixity ψ = atan2(K_II, K_I) [rad] at a blister edge, in [−π/2, −(π/2 − ω)] (module docstring).

    The buckle's edge force is the released compression, P = −ΔN (:func:`film_edge_mixity`); where K_I
    would be negative the faces touch and ψ is held at −π/2.

    Parameters
    ----------
    resultant, moment
        ΔN [N/m] and M [N] (:func:`circular_blister`).
    thickness
        h [m].
    omega
        ω [rad].
    """
    bending = np.sqrt(12.0) * np.asarray(moment, dtype=float)
    stretching = thickness * np.asarray(resultant, dtype=float)
    k1 = bending * np.sin(omega) - stretching * np.cos(omega)
    psi = film_edge_mixity(-np.asarray(resultant, dtype=float), moment, thickness, omega)
    return np.clip(np.where(k1 < 0.0, -0.5 * np.pi, psi), -0.5 * np.pi, 0.0)


def interface_toughness(psi: np.ndarray, mode_one: float, mixity_parameter: float) -> np.ndarray:
    """Γ(ψ) = Γ_I [1 + tan²((1 − λ)ψ)] [J/m²] (Hutchinson & Suo 1992).

    Raises
    ------
    ValueError
        Γ_I ≤ 0 or λ outside (0, 1].
    """
    if not (mode_one > 0.0 and 0.0 < mixity_parameter <= 1.0):
        raise ValueError(f"need Gamma_I > 0 and 0 < lambda <= 1, got {mode_one!r}, {mixity_parameter!r}")
    return mode_one * (1.0 + np.tan((1.0 - mixity_parameter) * np.asarray(psi, dtype=float)) ** 2)


@dataclass(frozen=True)
class BlisterState:
    """A circular blister on one interface at one load (module docstring).

    Attributes
    ----------
    radius : float
        b [m] (0: bonded).
    stress, critical_stress : float
        σ₀ over r < b and σ_c(b) [Pa], compression positive.
    release_rate, toughness, mixity : float
        G(b) [J/m²], Γ(ψ(b)) [J/m²], ψ(b) [rad].
    ratio : float
        max over the radius grid of G/Γ(ψ) [1] (≥ 1: the interface can debond).
    stable : bool
        d(G − Γ)/db < 0 at b (axisymmetric arrest); False for an arrest at the edge of the compressed disk.
    amplitude : float
        Crest height δ [m].
    """

    radius: float
    stress: float
    critical_stress: float
    release_rate: float
    toughness: float
    mixity: float
    ratio: float
    stable: bool
    amplitude: float


def solve_blister_radius(
    disk_stress,
    plate_modulus: float,
    youngs_modulus: float,
    poisson_ratio: float,
    thickness: float,
    mode_one: float,
    mixity_parameter: float,
    max_radius: float,
    debonded_radius: float = 0.0,
    points: int = 400,
) -> BlisterState:
    """Blister radius from G(b) = Γ(ψ(b)) with the stability check of Hutchinson, Thouless & Liniger (1992).

    Parameters
    ----------
    disk_stress : callable
        b [m] (ndarray) → σ₀(b) [Pa], the mean compression over r < b (vectorised).
    plate_modulus
        E/(1 − ν²) of the (equivalent) plate for σ_c [Pa].
    youngs_modulus, poisson_ratio, thickness
        E [Pa], ν, h [m] of the plate for G and ψ.
    mode_one, mixity_parameter
        Γ_I [J/m²], λ.
    max_radius
        Edge of the compressed disk [m] (arrest there).
    debonded_radius
        Radius already debonded [m] (0: bonded; the blister never shrinks).
    points
        Radius grid size (geometric from h to ``max_radius``).

    Returns
    -------
    BlisterState
        ``radius`` 0 if G < Γ(ψ) everywhere (and nothing was debonded); the
        other values then belong to b = ``max_radius`` (what a debond over the
        whole compressed disk would release and need).

    Raises
    ------
    ValueError
        Non-positive ``max_radius`` or thickness.
    """
    if not (max_radius > 0.0 and thickness > 0.0):
        raise ValueError("solve_blister_radius needs a positive max_radius and thickness")

    def evaluate(b):
        b = np.asarray(b, dtype=float)
        sigma = np.asarray(disk_stress(b), dtype=float)
        critical = clamped_plate_buckling_stress(plate_modulus, thickness, 1.0) / b**2
        release, resultant, moment, amplitude = circular_blister(sigma, critical, youngs_modulus, poisson_ratio, thickness)
        psi = blister_mode_mixity(resultant, moment, thickness)
        gamma = interface_toughness(psi, mode_one, mixity_parameter)
        return sigma, critical, release, gamma, psi, amplitude

    grid = np.geomspace(min(thickness, 0.5 * max_radius), max_radius, points)
    sigma, critical, release, gamma, psi, _ = evaluate(grid)
    excess = release - gamma
    ratio = float(np.max(release / gamma))
    start = float(debonded_radius)
    if start <= 0.0:
        if ratio < 1.0:
            return BlisterState(0.0, float(sigma[-1]), float(critical[-1]), float(release[-1]), float(gamma[-1]), float(psi[-1]), ratio, True, 0.0)
        start = float(grid[np.argmax(excess >= 0.0)])
    radius, stable = start, True
    beyond = grid > start
    if evaluate(start)[2] >= evaluate(start)[3]:
        # grows to the first radius beyond ``start`` where G − Γ falls through zero
        falls = np.flatnonzero(beyond[1:] & (excess[:-1] >= 0.0) & (excess[1:] < 0.0))
        if falls.size:
            k = falls[0]
            f = lambda b: float(np.subtract(*evaluate(np.array([b]))[2:4])[0])  # noqa: E731
            radius = brentq(f, max(grid[k], start), grid[k + 1]) if f(max(grid[k], start)) >= 0.0 else float(grid[k + 1])
        else:
            radius, stable = max_radius, False
    sigma_b, critical_b, release_b, gamma_b, psi_b, amplitude = (float(np.ravel(v)[0]) for v in evaluate(np.array([radius])))
    return BlisterState(radius, sigma_b, critical_b, release_b, gamma_b, psi_b, ratio, stable, amplitude)


# ------------------------------------------------------------------ pressurised blisters
PRESSURE_TABLE_RANGE = (1e-3, 1e8)
"""Range of the load P = p b⁴/(E h⁴) over which :func:`pressurized_blister_table` solves the plate equations."""


@lru_cache(maxsize=16)
def pressurized_blister_table(poisson_ratio: float, points: int = 56) -> tuple[np.ndarray, np.ndarray]:
    """Clamped circular plate (no prestress) under a uniform pressure: the Föppl–von Kármán solution.

    The plate equations of :func:`circular_blister_table` with a pressure
    term, D (θ″ + θ′/r − θ/r²) = N_r θ + p r/2, σ₀ = 0, clamped at r = b (a
    debonded disk of a film on a rigid substrate, inflated from below: the
    blister test of Williams, J. Appl. Polym. Sci. 13, 29 (1969)), solved by
    collocation (:func:`scipy.integrate.solve_bvp`, tolerance 1e-6) on a
    geometric grid of P = p b⁴/(E h⁴) over :data:`PRESSURE_TABLE_RANGE`,
    continued from the linear plate. Edge loads give G as in
    :func:`circular_blister_table`. Limits: the linear plate,
    δ = p b⁴/(64 D), G = (3/32)(1 − ν²) p² b⁴/(E h³) (Williams 1969; Jensen,
    Eng. Fract. Mech. 40, 475 (1991)); the membrane (Hencky, Z. Math. Phys.
    63, 311 (1915)), δ ∝ (p b⁴/(E h))^{1/3}, for which energy balance gives
    G = (5/4) p V/(π b²) (V the blister volume).

    Parameters
    ----------
    poisson_ratio
        ν of the plate.
    points
        Grid size.

    Returns
    -------
    (P, rows) : tuple of ndarray
        P, shape (points,); rows, shape (points, 7): G b⁴/(E h⁵), δ/h,
        V/(b² h), N_r(b) b²/(E h³) (edge membrane force, tensile positive),
        |M(b)| b²/(E h⁴), ε_m(0) (b/h)² (apex mid-plane strain) and
        κ(0) b²/h (apex curvature −w″(0)).

    Raises
    ------
    ArithmeticError
        If the collocation fails at a grid point.
    """
    from scipy.integrate import solve_bvp

    nu = float(poisson_ratio)
    bending = 1.0 / (12.0 * (1.0 - nu**2))
    loads = np.geomspace(*PRESSURE_TABLE_RANGE, points)
    mesh = np.linspace(1e-4, 1.0, 400)
    # linear clamped plate: θ = −P r (1 − r²)/(16 D)
    unit = -mesh * (1.0 - mesh**2) / (16.0 * bending)
    guess = np.vstack([loads[0] * unit, loads[0] * (-(1.0 - 3.0 * mesh**2) / (16.0 * bending)), 0.0 * mesh, 0.0 * mesh])
    rows, previous = [], loads[0]
    for load in loads:
        scale = (load / previous) ** (1.0 / 3.0 if previous > 10.0 else 1.0)
        guess = guess * np.array([scale, scale, scale**2, scale**2])[:, None]
        solution = solve_bvp(_plate_equations(nu, 0.0, load), _clamped, mesh, guess, tol=1e-6, max_nodes=50000)
        if solution.status != 0:
            raise ArithmeticError(f"pressurised blister: plate equations unsolved at P = {load:.4g} ({solution.message})")
        mesh, guess, previous = solution.x, solution.y, load
        force, moment, release, deflection, strain, curvature = _edge_and_apex(solution, nu)
        fine = np.linspace(solution.x[0], 1.0, 4001)
        volume = -np.pi * np.trapezoid(fine**2 * solution.sol(fine)[0], fine)
        rows.append((release, deflection, volume, force, abs(moment), strain, curvature))
    return loads, np.array(rows)


@dataclass(frozen=True)
class PressurizedBlister:
    """A gas-inflated circular debond of radius b (:func:`pressurized_blister`); arrays of the broadcast shape.

    Attributes
    ----------
    release_rate : ndarray
        G [J/m²].
    mixity : ndarray
        ψ [rad] (:func:`film_edge_mixity`, tensile edge force and peeling moment).
    deflection : ndarray
        Crest height δ [m].
    volume : ndarray
        Blister volume V [m³].
    apex_strain, apex_curvature : ndarray
        Mid-plane strain ε_m(0) [1] and curvature κ(0) [1/m] at the crest.
    """

    release_rate: np.ndarray
    mixity: np.ndarray
    deflection: np.ndarray
    volume: np.ndarray
    apex_strain: np.ndarray
    apex_curvature: np.ndarray


def pressurized_blister(pressure, radius, youngs_modulus: float, poisson_ratio: float, thickness: float) -> PressurizedBlister:
    """G, mode mixity, crest height, volume and apex strain of a film debonded over r < b and inflated by a gas.

    Interpolates :func:`pressurized_blister_table` in ln P (each quantity
    divided by its small-load power of P: G ∝ P², δ, V, M, κ ∝ P,
    N, ε_m ∝ P²); below the table the linear-plate limit, above it a
    power-law extrapolation from the last two points.

    Parameters
    ----------
    pressure : array_like
        Gas overpressure p [Pa] (≥ 0).
    radius : array_like
        b [m] (> 0).
    youngs_modulus, poisson_ratio, thickness
        Film E [Pa], ν, h [m].

    Returns
    -------
    PressurizedBlister

    Raises
    ------
    ValueError
        Negative pressure, non-positive radius, modulus or thickness.
    """
    p, b = np.broadcast_arrays(np.asarray(pressure, dtype=float), np.asarray(radius, dtype=float))
    if np.any(p < 0.0) or np.any(b <= 0.0) or not (youngs_modulus > 0.0 and thickness > 0.0):
        raise ValueError("pressurized_blister needs p >= 0, b > 0, E > 0 and h > 0")
    loads, rows = pressurized_blister_table(round(float(poisson_ratio), 3))
    e, h = youngs_modulus, thickness
    load = p * b**4 / (e * h**4)
    safe = np.maximum(load, loads[0] * 1e-12)
    powers = np.array([2.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0])

    def column(k: int) -> np.ndarray:
        reduced = rows[:, k] / loads ** powers[k]
        inside = np.interp(np.log(safe), np.log(loads), reduced)
        slope = np.log(reduced[-1] / reduced[-2]) / np.log(loads[-1] / loads[-2])
        beyond = reduced[-1] * (np.maximum(safe, loads[-1]) / loads[-1]) ** slope
        return np.where(safe > loads[-1], beyond, inside) * load ** powers[k]

    force = column(3) * e * h**3 / b**2
    moment = column(4) * e * h**4 / b**2
    return PressurizedBlister(
        release_rate=column(0) * e * h**5 / b**4,
        mixity=film_edge_mixity(force, moment, h),
        deflection=column(1) * h,
        volume=column(2) * b**2 * h,
        apex_strain=column(5) * (h / b) ** 2,
        apex_curvature=column(6) * h / b**2,
    )


def debond_pressure(radius: float, youngs_modulus: float, poisson_ratio: float, thickness: float, mode_one: float, mixity_parameter: float) -> float:
    """Gas overpressure p [Pa] at which a debond of radius b grows: G(p, b) = Γ(ψ(p, b)) (:func:`pressurized_blister`, :func:`interface_toughness`).

    G − Γ(ψ) rises monotonically with p (G ∝ p² in the plate regime, ∝ p^{4/3} as a membrane; Γ(ψ) is
    bounded), so the root is bracketed on a geometric grid and refined by :func:`scipy.optimize.brentq`.

    Parameters
    ----------
    radius
        b [m].
    youngs_modulus, poisson_ratio, thickness
        Film E [Pa], ν, h [m].
    mode_one, mixity_parameter
        Γ_I [J/m²], λ of the interface.

    Raises
    ------
    ValueError
        Non-positive radius, thickness, modulus or toughness (also via :func:`interface_toughness`).
    """
    interface_toughness(0.0, mode_one, mixity_parameter)

    def excess(log_p: float) -> float:
        state = pressurized_blister(np.exp(log_p), radius, youngs_modulus, poisson_ratio, thickness)
        return float(state.release_rate - interface_toughness(state.mixity, mode_one, mixity_parameter))

    grid = np.linspace(np.log(1e-6), np.log(1e13), 96)
    values = np.array([excess(x) for x in grid])
    above = np.flatnonzero(values >= 0.0)
    if above.size == 0 or above[0] == 0:
        raise ValueError(f"debond_pressure: no root between 1e-6 and 1e13 Pa for b = {radius!r} m")
    k = above[0]
    return float(np.exp(brentq(excess, grid[k - 1], grid[k], xtol=1e-10)))
