"""Admissible nucleation seed of a V_O filament: the weakest site of the electrode area.

Why a seed, and why on the axis
-------------------------------
In the (r, z) model of a flat, pristine device nothing breaks the lateral
symmetry under the electrode: a laterally uniform stack forms laterally
uniformly, and a localised filament can only sit on the axis (off the axis it
would be a ring). A real film is disordered: forming starts at its weakest
site. This module draws that site's strength from stated statistics and femion
puts the frame's axis through it; every study using it says so in its findings.

Statistics (all parameters labelled; *assumed* where no literature value exists)
--------------------------------------------------------------------------------
* The film's sites have normally distributed forming-threshold fields, mean E_th
  and standard deviation σ_th: exactly the disorder that already smooths the
  generation onset of :mod:`femion.physics.vacancy` (``vo_generation_threshold_field``
  and ``vo_generation_threshold_spread`` of the film materials, both assumed;
  thermochemical law of McPherson et al., APL 82, 2121 (2003)). The seed adds
  no new amplitude: it uses σ_th.
* The threshold field is a Gaussian random field in the film plane with a
  Gaussian correlation function ρ(r) = exp(−r²/2ℓ²) of correlation length ℓ
  (``correlation_length``, assumed: 2 nm, the medium-range order of an amorphous
  oxide), correlated across the film thickness (a through-film weak path such as a
  grain boundary or a column boundary). The electrode area then holds
  N = (R_e/ℓ)² independent sites (one per correlation area).
* Extreme value: the weakest site's standardised threshold offset is the
  minimum of N standard normal draws, exact CDF
  F_N(x) = 1 − (1 − Φ(x))^N, which tends to a Gumbel law of location
  −b_N and scale a_N = 1/√(2 ln N) (Gumbel, *Statistics of Extremes*, 1958,
  ``gumbel1958extremes``;
  b_N = √(2 ln N) − (ln ln N + ln 4π)/(2√(2 ln N))). One draw per device and
  cycle, by inversion of F_N (exact for any N; seeded ``numpy`` generator).
* Neighbourhood: given the value z σ_th at the site, the conditional mean of the
  Gaussian field at distance r is z σ_th ρ(r) (Gaussian conditioning). The seed
  is that conditional mean: E_th(r) = E_th + z σ_th ρ(r) in the seeded films,
  averaged over each cell's r-weighted radial extent (exact for the Gaussian).
* Optional pre-existing V_O excess at the same site (``density_amplitude`` s,
  std of ln N of the as-deposited V_O density at the site scale, assumed):
  N₀(r) = N̄₀ exp(−s z ρ(r)), perfectly correlated with the threshold (a weak
  site is V_O rich). Default 0: the seed then holds no V_O at all.

Bound (the seed is not a filament)
----------------------------------
The V_O excess the seed places in the films, ∫ (N₀ − N̄₀) dV, must be at most
``max_inventory_fraction`` (5 %) of the V_O a formed filament holds, taken as a
cylinder of radius ``filament_radius`` (assumed 10 nm: the conducting
filaments of oxide switching cells are nanometre-scale, Kwon et al., Nat.
Nanotechnol. 5, 148 (2010), ``kwon2010magneli``) across
the seeded films at the condensation density N_c of the films
(``vo_condensation_concentration``). :meth:`DefectSeed.apply` raises otherwise.
The seed draws no column: the threshold offset decays within ℓ, it carries no V_O
unless ``density_amplitude`` > 0, and the filament's radius, V_O content and
temperature come out of the equations.

Measured (``studies/forming`` quick ramp, its default: 2 nm axis cells, draw 0:
N = 2.5e9, z = −6.14, E_th lowered by 6.1 MV/m on the axis; top contact through
h_c = 260 W/(m² K), :mod:`femion.physics.thermal`): the seed moves the maximum
of the LiPON V_O excess from the electrode-edge ring to the axis but is not
amplified: max/median 1.0051 (50 µA) and 1.0017 (500 µA), FWHM the electrode
size, peak Joule rise 0.16 K and 2.7 K (2026-12-04). Why (the study's findings): the
uniform state is linearly stable, loop gain χ = 0.018 and 0.28 of the longest
lateral mode with E_σ + ΔH_eff (femion.physics.thermal.filamentation_gain),
so a relative V_O contrast decays as the density grows; and dilute V_O spread
over √(4Dt) ≈ 0.3 µm during the ramp, against ℓ = 2 nm, which dilutes what the
weak site generates. A seed would have to be the filament itself to survive.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy.special import log_ndtr, ndtri

from femion.config import Device
from femion.mesh import AxisymmetricMesh

__all__ = [
    "DefectSeed",
    "SeedDraw",
    "draw_minimum_normal",
    "gumbel_minimum_parameters",
    "minimum_normal_cdf",
    "radial_correlation_mean",
    "site_count",
]


def site_count(electrode_radius: float, correlation_length: float) -> float:
    """Independent sites of the electrode area, N = (R_e/ℓ)² (one per correlation area π ℓ²).

    Parameters
    ----------
    electrode_radius, correlation_length
        R_e and ℓ [m], positive.

    Raises
    ------
    ValueError
        Non-positive lengths, or ℓ > R_e.
    """
    if not (0.0 < correlation_length <= electrode_radius):
        raise ValueError(f"need 0 < correlation_length <= electrode_radius, got {correlation_length!r}, {electrode_radius!r}")
    return (electrode_radius / correlation_length) ** 2


def minimum_normal_cdf(x: np.ndarray | float, n: float) -> np.ndarray:
    """Exact CDF of the minimum of ``n`` independent standard normal draws, 1 − (1 − Φ(x))^n.

    Evaluated as −expm1(n log Φ(−x)) (no cancellation for large n). ``x``: any
    shape; returns the same shape. ``n`` >= 1 (real n allowed).
    """
    if not n >= 1.0:
        raise ValueError(f"n must be >= 1, got {n!r}")
    return -np.expm1(n * log_ndtr(-np.asarray(x, dtype=float)))


def draw_minimum_normal(n: float, rng: np.random.Generator, size: int | None = None) -> np.ndarray | float:
    """Draw the minimum of ``n`` standard normals by inverting :func:`minimum_normal_cdf`.

    u ~ U(0, 1), x = Φ⁻¹(1 − (1 − u)^{1/n}), with 1 − (1 − u)^{1/n} = −expm1(log1p(−u)/n)
    (accurate for n up to ~1e300). Returns a float, or an array of shape (size,).

    Raises
    ------
    ValueError
        n < 1.
    """
    if not n >= 1.0:
        raise ValueError(f"n must be >= 1, got {n!r}")
    u = rng.random(size)
    return ndtri(-np.expm1(np.log1p(-u) / n))


def gumbel_minimum_parameters(n: float) -> tuple[float, float]:
    """Location μ and scale β of the Gumbel law approximating the minimum of n standard normals.

    min ≈ −(b_n + a_n G), G standard Gumbel (max type): the minimum has CDF
    1 − exp(−exp((x − μ)/β)) with μ = −b_n, β = a_n = 1/√(2 ln n),
    b_n = √(2 ln n) − (ln ln n + ln 4π)/(2√(2 ln n)) (Gumbel 1958; convergence is
    slow, O(1/ln n) in the location).

    Raises
    ------
    ValueError
        n <= e (the asymptotic form needs ln ln n > 0).
    """
    if not n > np.e:
        raise ValueError(f"n must exceed e, got {n!r}")
    root = np.sqrt(2.0 * np.log(n))
    return -(root - (np.log(np.log(n)) + np.log(4.0 * np.pi)) / (2.0 * root)), 1.0 / root


def radial_correlation_mean(r_inner: np.ndarray, r_outer: np.ndarray, correlation_length: float) -> np.ndarray:
    """r-weighted mean of ρ(r) = exp(−r²/2ℓ²) over [r_inner, r_outer] (exact), shape of the inputs.

    ∫ ρ r dr / ∫ r dr = 2ℓ² (ρ(r_i) − ρ(r_o)) / (r_o² − r_i²); the limit ρ(r) for r_o → r_i.
    """
    r0, r1 = np.asarray(r_inner, dtype=float), np.asarray(r_outer, dtype=float)
    a, b = r0**2 / (2.0 * correlation_length**2), r1**2 / (2.0 * correlation_length**2)
    width = b - a
    safe = np.where(width > 1e-12, width, 1.0)
    # exp(-a) - exp(-b) = exp(-a) (1 - exp(-(b - a)))
    return np.where(width > 1e-12, -np.exp(-a) * np.expm1(-width) / safe, np.exp(-0.5 * (a + b)))


@dataclass(frozen=True)
class SeedDraw:
    """One draw of the weakest site (what a findings.md states).

    Attributes
    ----------
    sites : float
        N, independent sites of the electrode area.
    z : float
        Standardised threshold offset of the weakest site (the minimum of N standard normals).
    threshold_offset : dict of str to float
        z σ_th per seeded film [V/m] at the site (the offset of E_th on the axis).
    inventory_excess : float
        V_O the seed adds to the films [1] (0 without ``density_amplitude``).
    filament_inventory : float
        V_O of the reference formed filament [1].
    """

    sites: float
    z: float
    threshold_offset: dict
    inventory_excess: float
    filament_inventory: float

    @property
    def inventory_fraction(self) -> float:
        """Seed V_O excess over the reference filament's V_O [1]."""
        return self.inventory_excess / self.filament_inventory


@dataclass(frozen=True)
class DefectSeed:
    """Weakest-site seed of forming, placed on the axis (see the module docstring).

    Attributes
    ----------
    draw : int
        Seed of ``numpy.random.default_rng`` for the extreme-value draw (one per device/cycle).
    correlation_length : float
        ℓ [m] of the threshold field (assumed 2 nm).
    films : tuple of str or None
        Films that carry the weak path (None: all V_O films).
    density_amplitude : float
        s, std of ln N₀ at the site scale [1] (0: no V_O excess).
    filament_radius : float
        Radius [m] of the reference formed filament of the inventory bound (assumed 10 nm).
    max_inventory_fraction : float
        Largest allowed seed V_O excess over the reference filament's V_O (0.05).

    Raises
    ------
    ValueError
        Non-positive lengths, negative amplitude, fraction outside (0, 1].
    """

    draw: int = 0
    correlation_length: float = 2e-9
    films: tuple[str, ...] | None = None
    density_amplitude: float = 0.0
    filament_radius: float = 10e-9
    max_inventory_fraction: float = 0.05

    def __post_init__(self) -> None:
        if not (self.correlation_length > 0.0 and self.filament_radius > 0.0):
            raise ValueError("DefectSeed: correlation_length and filament_radius must be positive")
        if not (self.density_amplitude >= 0.0 and 0.0 < self.max_inventory_fraction <= 1.0):
            raise ValueError("DefectSeed: density_amplitude must be >= 0 and max_inventory_fraction in (0, 1]")

    def standard_offset(self, device: Device) -> tuple[float, float]:
        """(N, z): the site count of ``device``'s electrode and the drawn standardised offset of its weakest site."""
        sites = site_count(device.electrode_radius, self.correlation_length)
        return sites, float(draw_minimum_normal(sites, np.random.default_rng(self.draw)))

    def apply(self, films: AxisymmetricMesh, device: Device, properties, density: np.ndarray):
        """Seed the film properties and initial density; return (properties, density, :class:`SeedDraw`).

        Parameters
        ----------
        films
            Film mesh of :class:`femion.physics.vacancy.VacancyModule` (n cells).
        device
            The device (electrode radius).
        properties
            :class:`femion.physics.vacancy.VacancyProperties` of the films;
            ``generation_threshold`` is lowered by z σ_th ρ̄ per seeded cell.
        density
            Initial V_O density N̄₀ [1/m³], shape (n,); multiplied by exp(−s z ρ̄).

        Raises
        ------
        ValueError
            Unknown film name, a threshold pushed to <= 0, or a V_O excess above
            ``max_inventory_fraction`` of the reference filament.
        """
        names = films.region_names if self.films is None else self.films
        unknown = set(names) - set(films.region_names)
        if unknown:
            raise ValueError(f"DefectSeed.films: {sorted(unknown)} are not V_O films ({list(films.region_names)})")
        sites, z = self.standard_offset(device)
        r = films.nodes[films.cells][..., 0]
        rho = radial_correlation_mean(r.min(axis=1), r.max(axis=1), self.correlation_length) * films.region_mask(*names)
        threshold = properties.generation_threshold + z * properties.generation_spread * rho
        if np.any(threshold <= 0.0):
            raise ValueError(f"DefectSeed: the drawn offset z = {z:.3g} σ_th makes a threshold field non-positive")
        seeded = density * np.exp(-self.density_amplitude * z * rho)
        volumes = 2.0 * np.pi * films.r_volumes
        excess = float(np.sum(volumes * (seeded - density)))
        mask = films.region_mask(*names)
        z_cells = films.nodes[films.cells][..., 1]
        thickness = float(z_cells[mask].max() - z_cells[mask].min())
        filament = np.pi * self.filament_radius**2 * thickness * float(np.max(properties.condensation[mask]))
        offsets = {name: float(z * np.max(properties.generation_spread[films.region_mask(name)])) for name in names}
        record = SeedDraw(sites=sites, z=z, threshold_offset=offsets, inventory_excess=excess, filament_inventory=filament)
        if record.inventory_fraction > self.max_inventory_fraction:
            raise ValueError(f"DefectSeed: the seed holds {record.inventory_fraction:.3g} of a formed filament's V_O "
                             f"(> {self.max_inventory_fraction:g}): it would be a filament, not a seed")
        return replace(properties, generation_threshold=threshold), seeded, record
