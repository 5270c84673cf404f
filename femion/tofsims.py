"""Synthetic ToF-SIMS: axisymmetric fields -> 3D ion volumes, depth profiles, depth maps.

A real ToF-SIMS depth profile rasters a square field of view (x–y pixels),
sputters the sample layer by layer (depth) and counts secondary ions. femion
imitates it in four steps, all on synthetic or simulated (r, z) cell fields:

1. **Revolution into voxels** (:func:`voxelize`, :class:`VoxelGrid`). A square
   field of view (default 300 µm × 300 µm, 128 × 128 pixels) and depth bins
   finer than the thinnest layer (default 1/20 of it) below the top of the
   stack (depth 0 at the highest mesh node, depth increasing downward). Each
   voxel takes the value of the (r, z) cell that contains its centre
   (r = √(x² + y²), z = z_top − depth); voxels outside the mesh are empty
   (value 0, region −1). Deformed interfaces need nothing extra: a displaced
   mesh (:meth:`femion.mesh.AxisymmetricMesh.displaced`) carries them.
2. **Species -> secondary-ion intensity** (:func:`intensity`). Each ion's
   intensity is a linear combination of species concentrations with per-ion,
   per-matrix relative sensitivity factors (:data:`SENSITIVITY_FACTORS`; all
   *assumed*, each with a note), plus a matrix term for the host fragments
   (Pt⁻, WO3⁻, PO2⁻, ...) proportional to the formula-unit density of the
   region's material (density / molar mass from the materials database).
3. **Depth resolution** (:class:`DepthResolution`, :func:`convolve_depth`):
   Hofmann's Mixing–Roughness–Information depth (MRI) model applied along depth.
4. **Outputs**: VTK image data per ion (:func:`write_volumes`), depth profiles
   versus depth and sputter time (:func:`depth_profiles`, :func:`sputter_time`)
   and 2D depth maps through the centre (:func:`depth_map`) as netCDF via
   xarray with ``units`` attributes, and these readouts:
   :func:`lateral_uniformity`, :func:`centre_edge_ratio`, :func:`excess_fwhm`,
   :func:`interface_depths`. Renders live in :mod:`femion.viz`
   (``render_tofsims_layers``, ``render_tofsims_ions``, ``plot_depth_map``,
   ``plot_depth_profiles``).

The MRI depth-resolution function
---------------------------------
Hofmann (Rep. Prog. Phys. 61, 827, 1998; Surf. Interface Anal. 27, 825, 1999)
writes the measured profile of a delta layer at depth z0, sputtered to depth z,
as the convolution of three normalised functions:

* atomic mixing over a zone of width w (the layer is mixed into the surface
  zone once the sputter front is within w of it, then diluted as the zone is
  sputtered away)::

      g_w(z) = (1/w) exp[−(z − z0 + w)/w]          for z ≥ z0 − w, else 0

* information depth λ (signal from below the surface, attenuated)::

      g_λ(z) = (1/λ) exp[(z − z0)/λ]               for z ≤ z0, else 0

* roughness σ (Gaussian)::

      g_σ(z) = exp[−(z − z0)²/(2σ²)] / (σ √(2π))

Derivation (done here, no approximation): g_w ⊗ g_λ is the two-sided
exponential e^{v/λ} (v < 0), e^{−v/w} (v > 0) of height 1/(w + λ), with
v = z − z0 + w; convolving each one-sided exponential with the Gaussian gives an
exponentially modified Gaussian, so that::

      g(z) = 1/(2(w + λ)) · { exp[−v/w + σ²/(2w²)] · erfc[(σ/w − v/σ)/√2]
                            + exp[ v/λ + σ²/(2λ²)] · erfc[(σ/λ + v/σ)/√2] }

The first term integrates to w/(w + λ), the second to λ/(w + λ): g is
normalised for every w, λ, σ > 0. Its mean is z0 − λ and its variance
w² + λ² + σ². A published implementation carries σ/w in
place of σ/λ in the second erfc; that breaks the normalisation (the test suite
shows it). The cumulative (the response to a step) is::

      G(z) = Φ(v/σ) − [w² p_w(v) − λ² p_λ(v)]/(w + λ)

with p_w, p_λ the two normalised exponentially-modified Gaussians and Φ the
standard normal cumulative. Everything is evaluated in an overflow-free form
(``erfcx``) and the limits w → 0, λ → 0, σ → 0 are exact.

Roughness grows with sputtered depth; femion uses the statistical-roughening
law σ(z0)² = σ0² + ℓ_σ z0 (σ ∝ √z at large depth, the sputter-induced
roughening discussed by Hofmann 1998), with the roughening length ℓ_σ an
*assumed* parameter. A depth-dependent σ makes the depth operator a (banded,
sparse) matrix: column j is the bin-integrated g for a delta layer in bin j
with σ(z_j). Bin integrals come from G, so each column sums to exactly one: the
depth integral of a profile is conserved. Signal that the kernel would place
above the surface (or below the last bin) is reflected back into the grid; near
the surface this shows as a transient over the first ~w (Hofmann's model is
stated for layers buried deeper than w; with the defaults a uniform film
starting at depth 0 reads up to ~30 % high over the first ~2 nm and ~5 % low
over the following ~5 nm). ``boundary="truncate"`` drops that signal instead.

Limitations
-----------
* Depth is geometric: distance below the highest mesh node. A real crater
  starts at the local surface everywhere, so beside the electrode (or over a
  bulged surface) the synthetic raster has empty voxels where a real one would
  already be in the film. Sputter time is computed per column
  (:func:`sputter_time`); differential sputtering and crater-bottom roughening
  beyond σ(z) are not modelled.
* Intensities are linear in concentrations (no matrix-dependent ionisation
  beyond the per-matrix factors, no detector saturation, no counting noise).

The lookup (why a triangle finder)
----------------------------------
Voxels are sampled at their centres. The (r, z) cells are straight-edged
quadrilaterals, possibly displaced, so each is split into two triangles and
matplotlib's ``TrapezoidMapTriFinder`` (O(log n) per point, compiled) finds the
containing cell exactly; the result is the containing cell, not an
interpolation between centroids, which keeps layer boundaries sharp and the
voxel values equal to cell values. Axisymmetry is exploited: only the distinct
pixel radii (about n²/8 of n² pixels on a centred grid) are looked up, giving a
(ring, depth) -> cell table that every field reuses by indexing.

Units: SI inside (m, s, mol/m³). Intensities are in arbitrary units ("a.u.").
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from scipy import sparse
from scipy.special import erfc, erfcx

from femion._version import __version__
from femion.io import atomic_write, write_dataset
from femion.materials import MaterialError
from femion.mesh import AxisymmetricMesh

if TYPE_CHECKING:
    import pyvista
    import xarray

    from femion.config import Device

__all__ = [
    "DepthResolution",
    "FieldOfView",
    "INTENSITY_UNIT",
    "ION_LABELS",
    "ION_NAMES",
    "InterfaceReadout",
    "IonVolume",
    "MATRIX_IONS",
    "SENSITIVITY_FACTORS",
    "SPECIES",
    "SPUTTER_RATES",
    "SensitivityFactor",
    "SputterRate",
    "VoxelGrid",
    "centre_edge_ratio",
    "cell_intensity",
    "convolve_depth",
    "depth_integrated",
    "depth_map",
    "depth_profiles",
    "excess_fwhm",
    "intensity",
    "interface_depths",
    "lateral_uniformity",
    "measure",
    "radial_profile",
    "sensitivity_factor",
    "sputter_time",
    "volume_image",
    "voxelize",
    "write_depth_map",
    "write_depth_profiles",
    "write_volumes",
]

INTENSITY_UNIT = "a.u."
"""Unit of synthetic secondary-ion intensities (relative counts)."""

_SQRT2 = math.sqrt(2.0)
_TAIL = 40.0  # exponential tails are cut at 40 decay lengths (e^-40 ~ 4e-18) ...
_GAUSS_TAIL = 10.0  # ... and Gaussian tails at 10 sigma; the cut mass is kept (folded into the end bins)


# ======================================================================== MRI depth resolution
def _heaviside(v: np.ndarray) -> np.ndarray:
    return np.where(v > 0.0, 1.0, np.where(v < 0.0, 0.0, 0.5))


def _normal_cdf(v: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Φ(v/σ), with the step H(v) (H(0) = 1/2) where σ = 0."""
    v, sigma = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(sigma, dtype=float))
    out = _heaviside(v)
    smooth = sigma > 0.0
    out[smooth] = 0.5 * erfc(-v[smooth] / (sigma[smooth] * _SQRT2))
    return out


def _normal_pdf(v: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian density; zero where σ = 0 (a delta has no finite density)."""
    v, sigma = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(sigma, dtype=float))
    out = np.zeros(v.shape)
    smooth = sigma > 0.0
    s = sigma[smooth]
    out[smooth] = np.exp(-0.5 * (v[smooth] / s) ** 2) / (s * math.sqrt(2.0 * math.pi))
    return out


def _exp_gauss_pdf(v: np.ndarray, length: float, sigma: np.ndarray) -> np.ndarray:
    """Density of E + N: E exponential on [0, ∞) with mean ``length``, N normal(0, σ²).

    (1/(2L)) exp(−v/L + σ²/(2L²)) erfc[(σ/L − v/σ)/√2], evaluated with erfcx where
    the exponential would overflow; exact limits for σ = 0 (value 1/(2L) at the
    jump v = 0) and L = 0 (Gaussian).
    """
    v, sigma = np.broadcast_arrays(np.asarray(v, dtype=float), np.asarray(sigma, dtype=float))
    if length <= 0.0:
        return _normal_pdf(v, sigma)
    out = np.zeros(v.shape)
    smooth = sigma > 0.0
    s, x = sigma[smooth], v[smooth]
    y = (s / length - x / s) / _SQRT2
    values = np.empty_like(x)
    large = y >= 0.0  # exp(-v/L + s²/2L²) erfc(y) = erfcx(y) exp(-v²/2s²): no overflow
    values[large] = erfcx(y[large]) * np.exp(-0.5 * (x[large] / s[large]) ** 2)
    small = ~large  # here v > s²/L, so the exponent is negative
    values[small] = np.exp(-x[small] / length + 0.5 * (s[small] / length) ** 2) * erfc(y[small])
    out[smooth] = values / (2.0 * length)
    x = v[~smooth]
    out[~smooth] = np.where(x > 0.0, np.exp(-np.maximum(x, 0.0) / length), np.where(x == 0.0, 0.5, 0.0)) / length
    return out


def _exp_gauss_cdf(v: np.ndarray, length: float, sigma: np.ndarray) -> np.ndarray:
    """Cumulative of :func:`_exp_gauss_pdf`: Φ(v/σ) − L p(v)."""
    if length <= 0.0:
        return _normal_cdf(v, sigma)
    return _normal_cdf(v, sigma) - length * _exp_gauss_pdf(v, length, sigma)


@dataclass(frozen=True)
class DepthResolution:
    """Hofmann's Mixing–Roughness–Information depth (MRI) depth-resolution model.

    See the module docstring for the three components, the closed form and its
    derivation. Sources: S. Hofmann, Rep. Prog. Phys. 61, 827 (1998) (the MRI
    model; roughness growing with sputtered depth); S. Hofmann, Surf.
    Interface Anal. 27, 825 (1999) (the depth-resolution function as the
    convolution of mixing, roughness and information-depth terms). Parameter
    ranges: typical values (w 1–3 nm, λ 0.1–0.5 nm, σ ≈ 0.5 nm growing with depth).

    Attributes
    ----------
    mixing_length : float
        Atomic-mixing zone width w [m], >= 0. Default 2 nm (*assumed*, mid-range).
    roughness : float
        Surface roughness σ0 [m] (standard deviation) at depth 0, >= 0. Default 0.5 nm
        (*assumed*).
    information_depth : float
        Information depth λ [m], >= 0. Default 0.3 nm (*assumed*, mid-range).
    roughening_length : float
        ℓ_σ [m] in σ(z)² = σ0² + ℓ_σ z (sputter-induced statistical roughening),
        >= 0. Default 1e-12 m (*assumed*: σ grows from 0.5 nm to 1.1 nm over 1 µm).

    Raises
    ------
    ValueError
        If a length is negative or not finite.
    """

    mixing_length: float = 2.0e-9
    roughness: float = 0.5e-9
    information_depth: float = 0.3e-9
    roughening_length: float = 1.0e-12

    def __post_init__(self) -> None:
        for name in ("mixing_length", "roughness", "information_depth", "roughening_length"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0.0):
                raise ValueError(f"DepthResolution.{name} must be finite and >= 0 [m], got {value!r}")

    # ---------------------------------------------------------------- parameters
    def sigma(self, depth: float | np.ndarray) -> np.ndarray:
        """Roughness σ(z) = √(σ0² + ℓ_σ max(z, 0)) [m] at sputtered depth ``depth`` [m]."""
        depth = np.maximum(np.asarray(depth, dtype=float), 0.0)
        return np.sqrt(self.roughness**2 + self.roughening_length * depth)

    @property
    def ideal(self) -> bool:
        """True if w = λ = σ0 = ℓ_σ = 0 (perfect resolution: the identity)."""
        return self.mixing_length == self.information_depth == self.roughness == self.roughening_length == 0.0

    def support(self, depth: float = 0.0) -> tuple[float, float]:
        """Offsets (u_min, u_max) [m], u = z − z0, outside which g carries < 1e-17 of its mass."""
        sigma = float(self.sigma(depth))
        w, lam = self.mixing_length, self.information_depth
        return (-w - _TAIL * lam - _GAUSS_TAIL * sigma, (_TAIL - 1.0) * w + _GAUSS_TAIL * sigma)

    # ---------------------------------------------------------------- closed form
    def pdf(self, z: np.ndarray, z0: float = 0.0) -> np.ndarray:
        """Closed-form depth-resolution function g(z) [1/m] of a delta layer at depth ``z0``.

        Parameters
        ----------
        z : array_like
            Sputtered depths [m] (any shape).
        z0 : float
            Depth of the delta layer [m]; the roughness is σ(z0).

        Returns
        -------
        ndarray
            g(z), same shape as ``z``; ∫ g dz = 1.

        Raises
        ------
        ValueError
            For the ideal resolution (w = λ = σ = 0), which has no density (use :meth:`cdf`).
        """
        w, lam = self.mixing_length, self.information_depth
        sigma = self.sigma(z0)
        u = np.asarray(z, dtype=float) - z0
        if w + lam == 0.0:
            if sigma == 0.0:
                raise ValueError("an ideal depth resolution (w = λ = σ = 0) is a delta: it has no density")
            return _normal_pdf(u, sigma)
        v = u + w
        return (w * _exp_gauss_pdf(v, w, sigma) + lam * _exp_gauss_pdf(-v, lam, sigma)) / (w + lam)

    def cdf(self, z: np.ndarray, z0: float = 0.0) -> np.ndarray:
        """Cumulative G(z) = ∫_{−∞}^{z} g dz' of the delta-layer response (dimensionless).

        With constant roughness this is also the response to a step: material of
        unit concentration starting at depth ``z0`` is measured as G(z − z0).
        """
        w, lam = self.mixing_length, self.information_depth
        sigma = self.sigma(z0)
        u = np.asarray(z, dtype=float) - z0
        if w + lam == 0.0:
            return _normal_cdf(u, sigma)
        v = u + w
        rising = 1.0 - _exp_gauss_cdf(-v, lam, sigma)
        return (w * _exp_gauss_cdf(v, w, sigma) + lam * rising) / (w + lam)

    def kernel(self, z: np.ndarray, z0: float = 0.0) -> np.ndarray:
        """Closed-form g of a delta layer at ``z0`` as a normalised kernel on the uniform grid ``z``.

        Each value is the bin average (G(z_i + h/2) − G(z_i − h/2))/h [1/m] over the
        bin of width h centred at z_i, so Σ kernel·h = 1 exactly when the grid
        covers the support (:meth:`support`), however narrow g is.

        Raises
        ------
        ValueError
            If ``z`` is not a uniform, increasing 1D grid of at least two points.
        """
        z, h = _uniform_grid(z)
        return (self.cdf(z + 0.5 * h, z0) - self.cdf(z - 0.5 * h, z0)) / h

    # ----------------------------------------------------------- numerical convolution
    def components(self, u: np.ndarray, h: float, depth: float = 0.0) -> dict[str, np.ndarray]:
        """The three normalised components, bin-averaged over bins of width ``h`` centred at offsets ``u``.

        Parameters
        ----------
        u : array_like
            Offsets z − z0 [m] of the bin centres.
        h : float
            Bin width [m].
        depth : float
            Depth z0 [m] setting the roughness σ(z0).

        Returns
        -------
        dict
            ``"mixing"`` g_w, ``"information"`` g_λ, ``"roughness"`` g_σ [1/m], each the
            exact bin average of its density (a delta becomes 1/h in its bin).
        """
        u = np.asarray(u, dtype=float)
        w, lam, sigma = self.mixing_length, self.information_depth, float(self.sigma(depth))

        def mixing(x: np.ndarray) -> np.ndarray:  # cumulative of g_w
            if w == 0.0:
                return _heaviside(x)
            return np.where(x > -w, 1.0 - np.exp(-np.maximum(x + w, 0.0) / w), 0.0)

        def information(x: np.ndarray) -> np.ndarray:  # cumulative of g_λ
            if lam == 0.0:
                return _heaviside(x)
            return np.where(x < 0.0, np.exp(np.minimum(x, 0.0) / lam), 1.0)

        def roughness(x: np.ndarray) -> np.ndarray:
            return _normal_cdf(x, sigma)

        return {
            name: (cumulative(u + 0.5 * h) - cumulative(u - 0.5 * h)) / h
            for name, cumulative in (("mixing", mixing), ("information", information), ("roughness", roughness))
        }

    def kernel_numerical(self, z: np.ndarray, z0: float = 0.0) -> np.ndarray:
        """g on the uniform grid ``z`` by numerical convolution of the three components.

        The components are bin-averaged on grids of the spacing of ``z`` (aligned
        so that their sum lands on ``z``) and convolved with FFTs; the result
        approximates the bin-averaged closed form :meth:`kernel` to O(h²). An
        independent check of the closed form.

        Returns
        -------
        ndarray
            g at the points of ``z`` [1/m].
        """
        from scipy.signal import fftconvolve

        z, h = _uniform_grid(z)
        low, high = self.support(z0)
        half = int(math.ceil(max(-low, high) / h)) + 2
        steps = np.arange(-half, half + 1) * h
        phase = float(np.mod(z[0] - z0, h))
        shifted = self.components(steps + phase, h, z0)["mixing"]
        centred = self.components(steps, h, z0)
        full = fftconvolve(fftconvolve(shifted, centred["information"]), centred["roughness"]) * h * h
        offsets = phase + (np.arange(len(full)) - 3 * half) * h
        return np.interp(z - z0, offsets, full, left=0.0, right=0.0)

    # --------------------------------------------------------------- derived numbers
    def quantile(self, fraction: float, depth: float = 0.0) -> float:
        """Offset u = z − z0 [m] at which the step response G reaches ``fraction`` (0 < fraction < 1)."""
        from scipy.optimize import brentq

        if not 0.0 < fraction < 1.0:
            raise ValueError(f"fraction must lie in (0, 1), got {fraction!r}")
        if self.ideal:
            return 0.0
        low, high = self.support(depth)
        scale = max(high - low, 1e-15)
        return float(
            brentq(lambda u: float(self.cdf(u + depth, depth)) - fraction, low - scale, high + scale, xtol=1e-6 * scale, rtol=1e-12)
        )

    def step_width(self, depth: float = 0.0) -> float:
        """Depth resolution Δz [m]: the 16–84 % width of the step response at depth ``depth``."""
        return self.quantile(0.84, depth) - self.quantile(0.16, depth)

    # ---------------------------------------------------------------- depth operator
    def operator(self, n: int, dz: float, boundary: str = "reflect") -> sparse.csr_matrix:
        """Sparse (n, n) matrix mapping a true profile to the measured one on depth bins of width ``dz``.

        Bin j holds the true concentration in [j dz, (j+1) dz]; its content is
        treated as a delta layer at the bin centre z_j with roughness σ(z_j), and
        entry (i, j) is the mass of that delta's response in output bin i,
        G(e_{i+1} − z_j) − G(e_i − z_j) with e_i = i dz.

        Parameters
        ----------
        n : int
            Number of depth bins.
        dz : float
            Bin width [m].
        boundary : {"reflect", "truncate"}
            ``"reflect"`` folds response that falls above the surface (or below
            the last bin) back into the grid: every column sums to 1 and the
            depth integral is conserved. ``"truncate"`` drops it.

        Raises
        ------
        ValueError
            For n < 1, dz <= 0 or an unknown boundary mode.
        """
        return _depth_operator(self, int(n), float(dz), boundary)


def _uniform_grid(z: np.ndarray) -> tuple[np.ndarray, float]:
    z = np.asarray(z, dtype=float)
    if z.ndim != 1 or len(z) < 2:
        raise ValueError("the grid must be a 1D array of at least two depths")
    steps = np.diff(z)
    h = float(steps.mean())
    if h <= 0.0 or np.max(np.abs(steps - h)) > 1e-6 * h:
        raise ValueError("the grid must be uniform and increasing")
    return z, h


@lru_cache(maxsize=32)
def _depth_operator(resolution: DepthResolution, n: int, dz: float, boundary: str) -> sparse.csr_matrix:
    if n < 1 or not dz > 0.0:
        raise ValueError(f"need n >= 1 depth bins of width dz > 0, got n = {n}, dz = {dz}")
    if boundary not in ("reflect", "truncate"):
        raise ValueError(f"boundary must be 'reflect' or 'truncate', got {boundary!r}")
    if resolution.ideal:
        return sparse.identity(n, format="csr")
    centres = (np.arange(n) + 0.5) * dz
    low, high = resolution.support(centres[-1])
    first, last = int(math.floor(low / dz)) - 1, int(math.ceil(high / dz)) + 1
    offsets = np.arange(first, last + 1)  # output bin i = j + offset
    edges = (np.append(offsets, last + 1) - 0.5)[:, None] * dz  # edges of the output bins relative to z_j
    cumulative = _cdf_offsets(resolution, edges, resolution.sigma(centres)[None, :])  # (band edges, n columns)
    cumulative[0], cumulative[-1] = 0.0, 1.0  # the (negligible) tails go to the end bins: columns sum to 1
    weights = np.diff(cumulative, axis=0)
    rows = offsets[:, None] + np.arange(n)[None, :]
    columns = np.broadcast_to(np.arange(n), rows.shape)
    if boundary == "reflect":
        period = np.mod(rows, 2 * n)
        rows = np.where(period < n, period, 2 * n - 1 - period)
        keep = np.ones(rows.shape, dtype=bool)
    else:
        keep = (rows >= 0) & (rows < n)
    matrix = sparse.coo_matrix((weights[keep], (rows[keep], columns[keep])), shape=(n, n))
    return matrix.tocsr()


def _cdf_offsets(resolution: DepthResolution, u: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """G at offsets u = z − z0 with per-point roughness ``sigma`` (vectorised over columns)."""
    w, lam = resolution.mixing_length, resolution.information_depth
    if w + lam == 0.0:
        return _normal_cdf(u, sigma)
    v = u + w
    rising = 1.0 - _exp_gauss_cdf(-v, lam, sigma)
    return (w * _exp_gauss_cdf(v, w, sigma) + lam * rising) / (w + lam)


def convolve_depth(
    profile: np.ndarray,
    dz: float,
    resolution: DepthResolution,
    *,
    axis: int = -1,
    boundary: str = "reflect",
) -> np.ndarray:
    """Apply the MRI depth resolution along the depth axis of a profile or volume.

    Parameters
    ----------
    profile : ndarray
        True profile(s); along ``axis``, bin k covers depths [k dz, (k+1) dz]
        below the surface (k = 0 at the top).
    dz : float
        Depth-bin width [m].
    resolution : DepthResolution
        The depth-resolution model (σ grows with the depth of each source bin).
    axis : int
        Depth axis of ``profile``.
    boundary : {"reflect", "truncate"}
        See :meth:`DepthResolution.operator`; ``"reflect"`` conserves Σ profile·dz exactly.

    Returns
    -------
    ndarray
        Measured profile(s), same shape as ``profile``.
    """
    profile = np.asarray(profile, dtype=float)
    moved = np.moveaxis(profile, axis, 0)
    operator = resolution.operator(moved.shape[0], dz, boundary)
    flat = operator @ moved.reshape(moved.shape[0], -1)
    return np.moveaxis(np.asarray(flat).reshape(moved.shape), 0, axis)


# ======================================================================== voxels
@dataclass(frozen=True)
class FieldOfView:
    """A square ToF-SIMS raster and its depth binning.

    Attributes
    ----------
    width : float
        Side of the square field of view [m] (default 300 µm).
    pixels : int
        Pixels along each side (default 128).
    depth : float or None
        Profiled depth [m] below the top of the stack; None: down to the bottom of
        the bottom electrode plus 10 %.
    depth_bin : float or None
        Depth-bin width [m]; None: 1/20 of the thinnest layer (finer than every layer).
    centre : tuple of float
        (x, y) [m] of the raster centre relative to the device axis.

    Raises
    ------
    ValueError
        Non-positive sizes or fewer than 2 pixels.
    """

    width: float = 300e-6
    pixels: int = 128
    depth: float | None = None
    depth_bin: float | None = None
    centre: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self) -> None:
        if not (np.isfinite(self.width) and self.width > 0.0):
            raise ValueError(f"FieldOfView.width must be > 0 [m], got {self.width!r}")
        if int(self.pixels) != self.pixels or self.pixels < 2:
            raise ValueError(f"FieldOfView.pixels must be an integer >= 2, got {self.pixels!r}")
        for name in ("depth", "depth_bin"):
            value = getattr(self, name)
            if value is not None and not (np.isfinite(value) and value > 0.0):
                raise ValueError(f"FieldOfView.{name} must be > 0 [m] or None, got {value!r}")


@dataclass(frozen=True, eq=False)
class VoxelGrid:
    """The voxel raster of a field of view over a revolved (r, z) mesh, with its cell lookup.

    Volumes on this grid are arrays of shape ``(nx, ny, nz)`` indexed
    ``[ix, iy, k]``: x, y pixel centres and depth bin k (k = 0 at the top).

    Attributes
    ----------
    x, y : ndarray, shape (nx,), (ny,)
        Pixel-centre coordinates [m] (device axis at x = y = 0).
    depth : ndarray, shape (nz,)
        Depth-bin centres [m] below the top of the stack.
    depth_bin : float
        Depth-bin width [m].
    pixel_size : float
        Pixel side [m].
    z_top : float
        Mesh z [m] of depth 0 (the highest node).
    ring_radius : ndarray, shape (n_rings,)
        The distinct pixel radii r = √(x² + y²) [m].
    pixel_ring : ndarray of int, shape (nx, ny)
        Index into ``ring_radius`` of each pixel.
    ring_cells : ndarray of int, shape (n_rings, nz)
        Mesh cell containing each (ring radius, depth) point; −1 outside the mesh.
    cell_regions : ndarray of int, shape (n_cells,)
        Region index of each mesh cell.
    region_names : tuple of str
        Mesh region names.
    matrices : tuple of str
        Material name of each region (the SIMS matrix).
    matrix_density : tuple of float
        Formula-unit density of each region's material [mol/m³] (density / molar
        mass; NaN where the database lacks either).
    electrode_radius : float
        Top-electrode radius R_e [m].
    layer_order : tuple of str
        Regions met going down the innermost pixel ring (the axis for a centred raster), top first.
    source : str
        Description of the mesh and field of view.
    """

    x: np.ndarray
    y: np.ndarray
    depth: np.ndarray
    depth_bin: float
    pixel_size: float
    z_top: float
    ring_radius: np.ndarray
    pixel_ring: np.ndarray
    ring_cells: np.ndarray
    cell_regions: np.ndarray
    region_names: tuple[str, ...]
    matrices: tuple[str, ...]
    matrix_density: tuple[float, ...]
    electrode_radius: float
    layer_order: tuple[str, ...]
    source: str = ""

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nx, ny, nz)."""
        return (len(self.x), len(self.y), len(self.depth))

    @property
    def n_cells(self) -> int:
        """Number of cells of the mesh the grid was built on."""
        return len(self.cell_regions)

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel [m³]."""
        return self.pixel_size**2 * self.depth_bin

    @property
    def radius(self) -> np.ndarray:
        """Pixel radius √(x² + y²) [m], shape (nx, ny)."""
        return self.ring_radius[self.pixel_ring]

    def sample(self, cell_field: np.ndarray, fill: float = 0.0) -> np.ndarray:
        """The voxel volume of a cell field: each voxel takes the value of the cell containing its centre.

        Parameters
        ----------
        cell_field : ndarray, shape (n_cells,)
            Values on the mesh cells.
        fill : scalar
            Value of voxels outside the mesh.

        Returns
        -------
        ndarray, shape (nx, ny, nz)

        Raises
        ------
        ValueError
            If the field does not have one value per cell.
        """
        cell_field = np.asarray(cell_field)
        if cell_field.shape != (self.n_cells,):
            raise ValueError(f"cell field has shape {cell_field.shape}; the mesh has {self.n_cells} cells")
        inside = self.ring_cells >= 0
        rings = np.where(inside, cell_field[np.maximum(self.ring_cells, 0)], np.asarray(fill, dtype=cell_field.dtype))
        return rings[self.pixel_ring]

    def regions(self) -> np.ndarray:
        """Region index of every voxel (−1 outside the mesh), shape (nx, ny, nz)."""
        return self.sample(self.cell_regions, fill=-1)

    def region_mask(self, *names: str) -> np.ndarray:
        """Boolean voxel mask, shape (nx, ny, nz), of the union of the named regions.

        Raises
        ------
        KeyError
            If a name is not a region of the mesh.
        """
        indices = [self._region_index(name) for name in names]
        return np.isin(self.regions(), indices)

    def _region_index(self, name: str) -> int:
        if name not in self.region_names:
            raise KeyError(f"no region {name!r}; regions: {', '.join(self.region_names)}")
        return self.region_names.index(name)

    def ring_index(self, radius: float) -> int:
        """Index of the ring whose radius is closest to ``radius`` [m]."""
        return int(np.argmin(np.abs(self.ring_radius - radius)))

    def attributes(self) -> dict[str, Any]:
        """Provenance attributes for output files (SI, netCDF-safe)."""
        return {
            "source": self.source,
            "femion_version": __version__,
            "pixel_size_m": self.pixel_size,
            "depth_bin_m": self.depth_bin,
            "field_of_view_m": self.pixel_size * len(self.x),
            "z_top_m": self.z_top,
            "electrode_radius_m": self.electrode_radius,
        }


def voxelize(mesh: AxisymmetricMesh, device: Device, fov: FieldOfView = FieldOfView()) -> VoxelGrid:
    """Revolve an (r, z) mesh into the voxel raster of a field of view (cell lookup only; no field yet).

    Parameters
    ----------
    mesh : AxisymmetricMesh
        The (possibly displaced) device mesh [m].
    device : Device
        The device (matrix materials of the regions, electrode radius, layer
        thicknesses for the default depth binning).
    fov : FieldOfView
        Raster and depth binning.

    Returns
    -------
    VoxelGrid

    Raises
    ------
    KeyError
        If a mesh region is not a region of ``device``.
    """
    import matplotlib.tri as mtri

    z_top = float(mesh.nodes[:, 1].max())
    thinnest = min(layer.thickness for layer in device.layers)
    depth_bin = fov.depth_bin if fov.depth_bin is not None else thinnest / 20.0
    if fov.depth is not None:
        total = fov.depth
    else:
        bottom = device.bottom_electrode.name
        cells = mesh.cells[mesh.region_mask(bottom)] if bottom in mesh.region_names else mesh.cells
        total = 1.1 * (z_top - float(mesh.nodes[cells, 1].min()))
    n_depth = max(1, int(math.ceil(total / depth_bin - 1e-9)))
    depth = (np.arange(n_depth) + 0.5) * depth_bin

    n = int(fov.pixels)
    pixel = fov.width / n
    steps = np.arange(n) + 0.5 - 0.5 * n  # exact half-integers: a centred grid is exactly symmetric
    x = fov.centre[0] + steps * pixel
    y = fov.centre[1] + steps * pixel
    radius = np.sqrt(x[:, None] ** 2 + y[None, :] ** 2)
    ring_radius, pixel_ring = np.unique(radius, return_inverse=True)
    pixel_ring = pixel_ring.reshape(radius.shape)

    # Exact point-in-quad lookup: two triangles per quad, trapezoid-map search
    # in scaled coordinates (µm across, nm down) so that the thin cells are O(1).
    triangles = np.concatenate([mesh.cells[:, [0, 1, 2]], mesh.cells[:, [0, 2, 3]]])
    owner = np.concatenate([np.arange(mesh.n_cells), np.arange(mesh.n_cells)])
    triangulation = mtri.Triangulation(mesh.nodes[:, 0] * 1e6, (mesh.nodes[:, 1] - z_top) * 1e9, triangles)
    finder = triangulation.get_trifinder()
    r_query = np.broadcast_to(ring_radius[:, None], (len(ring_radius), n_depth)) * 1e6
    z_query = np.broadcast_to(-depth[None, :], (len(ring_radius), n_depth)) * 1e9
    found = np.asarray(finder(r_query.ravel(), z_query.ravel()))
    ring_cells = np.where(found >= 0, owner[np.maximum(found, 0)], -1).reshape(len(ring_radius), n_depth)

    matrices, densities = [], []
    for name in mesh.region_names:
        material = device.material(name)
        matrices.append(material.name)
        try:
            densities.append(material.value("density") / material.value("molar_mass"))
        except MaterialError:
            densities.append(float("nan"))
    inner = ring_cells[int(np.argmin(ring_radius))]
    inner_regions = mesh.cell_regions[inner[inner >= 0]]
    changes = np.flatnonzero(np.r_[True, inner_regions[1:] != inner_regions[:-1]]) if len(inner_regions) else []
    order = tuple(mesh.region_names[inner_regions[i]] for i in changes)
    return VoxelGrid(
        x=x,
        y=y,
        depth=depth,
        depth_bin=float(depth_bin),
        pixel_size=float(pixel),
        z_top=z_top,
        ring_radius=ring_radius,
        pixel_ring=pixel_ring,
        ring_cells=ring_cells,
        cell_regions=mesh.cell_regions.copy(),
        region_names=tuple(mesh.region_names),
        matrices=tuple(matrices),
        matrix_density=tuple(densities),
        electrode_radius=device.electrode_radius,
        layer_order=order,
        source=f"{mesh.source}; {n}x{n} pixels over {fov.width * 1e6:g} um, {n_depth} depth bins of {depth_bin * 1e9:g} nm",
    )


# ======================================================================== species -> ions
ION_NAMES: tuple[str, ...] = (
    "Li-", "OH-", "LiO-", "CO3-", "CO3Li-", "O-",
    "Pt-", "WO3-", "WO-", "PO-", "PO2-", "MoO3-", "InO-", "Ag-", "TiO-",
)
"""Secondary (negative) ions femion synthesises, ASCII names (``"Li-"`` is Li⁻)."""

ION_LABELS: Mapping[str, str] = MappingProxyType({
    "Li-": "Li⁻", "OH-": "OH⁻", "LiO-": "LiO⁻", "CO3-": "CO₃⁻", "CO3Li-": "CO₃Li⁻", "O-": "O⁻",
    "Pt-": "Pt⁻", "WO3-": "WO₃⁻", "WO-": "WO⁻", "PO-": "PO⁻", "PO2-": "PO₂⁻", "MoO3-": "MoO₃⁻",
    "InO-": "InO⁻", "Ag-": "Ag⁻", "TiO-": "TiO⁻",
})
"""Display labels of the ions."""

MATRIX_IONS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "Pt": ("Pt-",), "WO3": ("WO3-", "WO-"), "LiPON": ("PO2-", "PO-"), "MoO3": ("MoO3-",), "ITO": ("InO-",),
    "Ag": ("Ag-",), "Ti": ("TiO-",),
})
"""Matrix (host-fragment) ions of each material, the first being the one used to locate interfaces."""

SPECIES: Mapping[str, str] = MappingProxyType({
    "c_li": "Li in the films, mobile and intercalated (all Li of LiPON included) [mol/m^3]",
    "Li2O": "lithium oxide, air-reaction product [mol/m^3 of Li2O]",
    "LiOH": "lithium hydroxide, air-reaction product [mol/m^3 of LiOH]",
    "Li2CO3": "lithium carbonate, air-reaction product [mol/m^3 of Li2CO3]",
    "c_o": "mobile oxygen ions O2- (excess over the matrix) [mol/m^3]",
    "c_vo": "oxygen vacancies (missing matrix O) [mol/m^3]",
    "matrix": "formula units of the region's material, density / molar mass (from the materials database) [mol/m^3]",
})
"""Species the sensitivity table knows, with the units the caller must supply (all mol/m³)."""


@dataclass(frozen=True)
class SensitivityFactor:
    """Relative sensitivity of one secondary ion to one species in one matrix.

    The intensity of ``ion`` is Σ value · c_species over the species, with the
    value of the entry for the voxel's matrix (or of the ``"*"`` entry).

    Attributes
    ----------
    ion : str
        Secondary ion (a name of :data:`ION_NAMES`).
    species : str
        Species (a key of :data:`SPECIES`).
    matrix : str
        Material name of the matrix, or ``"*"`` for every matrix without its own entry.
    value : float
        Relative sensitivity [a.u. per mol/m³]; negative for species that remove
        emitters (oxygen vacancies).
    unit : str
        Unit of :attr:`value`.
    source : str
        ``"assumed"`` for all entries: no calibration exists for this stack.
    note : str
        What the value stands for.
    """

    ion: str
    species: str
    matrix: str
    value: float
    note: str
    unit: str = "a.u./(mol/m^3)"
    source: str = "assumed"

    @property
    def assumed(self) -> bool:
        """True if the factor has no literature or calibration source."""
        return self.source == "assumed"


_YIELD_NOTE = (
    "assumed order-of-magnitude relative useful yield for negative-ion ToF-SIMS with Cs+ sputtering; "
    "calibrate with reference samples before comparing absolute intensities"
)


def _factor(ion: str, species: str, matrix: str, value: float, note: str) -> SensitivityFactor:
    return SensitivityFactor(ion=ion, species=species, matrix=matrix, value=value, note=f"{note} ({_YIELD_NOTE})")


SENSITIVITY_FACTORS: tuple[SensitivityFactor, ...] = (
    # Li- : one per Li atom; a metallic matrix lowers negative-ion yields of electropositive Li
    _factor("Li-", "c_li", "*", 1.0, "Li- per Li atom in oxide and electrolyte matrices"),
    _factor("Li-", "c_li", "Pt", 0.3, "Li- per Li atom in a metallic (Pt) matrix: lower than in oxides"),
    _factor("Li-", "Li2O", "*", 2.0, "Li- from Li2O: two Li atoms per formula unit"),
    _factor("Li-", "LiOH", "*", 1.0, "Li- from LiOH: one Li atom per formula unit"),
    _factor("Li-", "Li2CO3", "*", 2.0, "Li- from Li2CO3: two Li atoms per formula unit"),
    # OH-, LiO-, CO3-, CO3Li- : molecular fragments of the air-reaction products
    _factor("OH-", "LiOH", "*", 5.0, "OH- from LiOH: one hydroxyl per formula unit; OH- is a high-yield negative ion"),
    _factor("LiO-", "Li2O", "*", 1.0, "LiO- cluster from Li2O"),
    _factor("LiO-", "LiOH", "*", 0.5, "LiO- cluster from LiOH (loses H)"),
    _factor("LiO-", "Li2CO3", "*", 0.2, "LiO- cluster from Li2CO3 (fragmentation)"),
    _factor("LiO-", "c_li", "*", 0.05, "LiO- from Li bound to lattice O of an oxide host"),
    _factor("LiO-", "c_li", "Pt", 0.0, "no lattice oxygen in Pt: no LiO- from dissolved Li"),
    _factor("CO3-", "Li2CO3", "*", 2.0, "CO3- from Li2CO3: one carbonate per formula unit"),
    _factor("CO3Li-", "Li2CO3", "*", 0.5, "CO3Li- cluster from Li2CO3"),
    # O- : lattice oxygen of the oxide matrices, products, mobile O, minus vacancies
    _factor("O-", "matrix", "WO3", 6.0, "O- from WO3: 3 O per formula unit x 2.0 per O"),
    _factor("O-", "matrix", "MoO3", 6.0, "O- from MoO3: 3 O per formula unit x 2.0 per O"),
    _factor("O-", "matrix", "LiPON", 6.6, "O- from LiPON (Li2.9PO3.3N0.46): 3.3 O per formula unit x 2.0 per O"),
    _factor("O-", "matrix", "ITO", 6.0, "O- from ITO (In2O3): 3 O per formula unit x 2.0 per O"),
    _factor("O-", "matrix", "Ti", 0.2, "O- from the native-oxide/contamination O of a Ti film, per Ti atom"),
    _factor("O-", "Li2O", "*", 2.0, "O- from Li2O: one O per formula unit x 2.0"),
    _factor("O-", "LiOH", "*", 2.0, "O- from LiOH: one O per formula unit x 2.0"),
    _factor("O-", "Li2CO3", "*", 6.0, "O- from Li2CO3: three O per formula unit x 2.0"),
    _factor("O-", "c_o", "*", 2.0, "O- per mobile O ion (same yield as lattice O)"),
    _factor("O-", "c_vo", "*", -2.0, "an oxygen vacancy removes one lattice O (-2.0 per vacancy)"),
    # matrix ions: host fragments, per formula unit of the host
    _factor("Pt-", "matrix", "Pt", 1.0, "Pt- per Pt atom (Pt has a high electron affinity)"),
    _factor("WO3-", "matrix", "WO3", 0.5, "WO3- per WO3 formula unit"),
    _factor("WO-", "matrix", "WO3", 0.2, "WO- per WO3 formula unit"),
    _factor("PO-", "matrix", "LiPON", 0.5, "PO- per LiPON formula unit (one P)"),
    _factor("PO2-", "matrix", "LiPON", 1.0, "PO2- per LiPON formula unit (one P)"),
    _factor("MoO3-", "matrix", "MoO3", 0.5, "MoO3- per MoO3 formula unit"),
    _factor("InO-", "matrix", "ITO", 0.5, "InO- per ITO (In2O3) formula unit"),
    _factor("Ag-", "matrix", "Ag", 1.0, "Ag- per Ag atom (alternative top electrode)"),
    _factor("TiO-", "matrix", "Ti", 0.3, "TiO- per Ti atom (alternative top electrode)"),
)
"""Per-ion, per-species, per-matrix relative sensitivity factors. All *assumed* (see each note)."""


def sensitivity_factor(
    ion: str, species: str, matrix: str, table: Sequence[SensitivityFactor] | None = None
) -> SensitivityFactor | None:
    """The table entry for (ion, species, matrix): the matrix's own entry, else the ``"*"`` entry, else None.

    ``table`` defaults to :data:`SENSITIVITY_FACTORS`.
    """
    table = SENSITIVITY_FACTORS if table is None else table
    ion = _ion_name(ion)
    fallback = None
    for entry in table:
        if entry.ion == ion and entry.species == species:
            if entry.matrix == matrix:
                return entry
            if entry.matrix == "*":
                fallback = entry
    return fallback


def _ion_name(ion: str) -> str:
    """Accept ``"Li-"`` or the display label ``"Li⁻"``."""
    if ion in ION_LABELS:
        return ion
    for name, label in ION_LABELS.items():
        if ion == label:
            return name
    raise KeyError(f"unknown secondary ion {ion!r}; known: {', '.join(ION_NAMES)}")


@dataclass(frozen=True, eq=False)
class IonVolume:
    """A synthetic secondary-ion volume.

    Attributes
    ----------
    ion : str
        Ion name (:data:`ION_NAMES`).
    values : ndarray, shape (nx, ny, nz)
        Intensity [a.u.] per voxel (depth index 0 at the top).
    unit : str
        Intensity unit.
    notes : tuple of str
        What was assumed (missing species counted as zero, ignored fields, depth resolution).
    """

    ion: str
    values: np.ndarray
    unit: str = INTENSITY_UNIT
    notes: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """Display label (e.g. ``"Li⁻"``)."""
        return ION_LABELS[self.ion]


def cell_intensity(
    ion: str,
    species: Mapping[str, np.ndarray],
    grid: VoxelGrid,
    *,
    regions: Sequence[str] | None = None,
    table: Sequence[SensitivityFactor] | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Secondary-ion intensity of ``ion`` on the mesh cells (before revolution and depth resolution).

    I_ion = Σ_s S(ion, s, matrix) c_s + S(ion, "matrix", matrix) n_matrix, with the
    matrix the material of each cell's region and n_matrix its formula-unit density.

    Parameters
    ----------
    ion : str
        Ion name (``"Li-"`` or ``"Li⁻"``).
    species : mapping of str to ndarray, shape (n_cells,)
        Species concentrations [mol/m³] on the cells (keys of :data:`SPECIES`,
        e.g. ``{"c_li": ..., "Li2CO3": ...}``). Missing species count as zero
        (recorded in the notes); fields the table does not know are ignored
        (recorded).
    grid : VoxelGrid
        Supplies the cell regions and their matrices.
    regions : sequence of str, optional
        Keep only cells of these regions (others give zero).
    table : sequence of SensitivityFactor, optional
        Sensitivity table (default :data:`SENSITIVITY_FACTORS`).

    Returns
    -------
    (ndarray, tuple of str)
        Intensity [a.u.] per cell, and notes.

    Raises
    ------
    KeyError
        Unknown ion or region.
    ValueError
        A species field of the wrong shape or with non-finite values.
    """
    ion = _ion_name(ion)
    table = SENSITIVITY_FACTORS if table is None else table
    notes: list[str] = []
    known = {entry.species for entry in table}
    for name, values in species.items():
        values = np.asarray(values)
        if values.shape != (grid.n_cells,):
            raise ValueError(f"species {name!r} has shape {values.shape}; the mesh has {grid.n_cells} cells")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"species {name!r} has non-finite values")
        if name not in known:
            notes.append(f"field {name!r} has no sensitivity factor for any ion: ignored")
    used = sorted({entry.species for entry in table if entry.ion == ion})
    result = np.zeros(grid.n_cells)
    for name in used:
        factors = np.array([_factor_value(ion, name, matrix, table) for matrix in grid.matrices])
        if not np.any(factors):
            continue
        if name == "matrix":
            density = np.asarray(grid.matrix_density)
            missing = (factors != 0.0) & ~np.isfinite(density)
            if np.any(missing):
                notes.append(
                    f"{ion}: no density/molar_mass for matrices {[grid.matrices[i] for i in np.flatnonzero(missing)]}: "
                    "their matrix term counted as zero"
                )
            result += np.where(factors != 0.0, factors * np.nan_to_num(density), 0.0)[grid.cell_regions]
        elif name in species:
            result += factors[grid.cell_regions] * np.asarray(species[name], dtype=float)
        else:
            notes.append(f"{ion}: species {name!r} not given: counted as zero")
    if regions is not None:
        keep = np.isin(grid.cell_regions, [grid._region_index(name) for name in regions])
        result = np.where(keep, result, 0.0)
        notes.append(f"{ion}: restricted to regions {list(regions)}")
    return result, tuple(notes)


def _factor_value(ion: str, species: str, matrix: str, table: Sequence[SensitivityFactor]) -> float:
    entry = sensitivity_factor(ion, species, matrix, table)
    return 0.0 if entry is None else entry.value


def intensity(
    ion: str,
    species: Mapping[str, np.ndarray],
    grid: VoxelGrid,
    *,
    regions: Sequence[str] | None = None,
    resolution: DepthResolution | None = DepthResolution(),
    table: Sequence[SensitivityFactor] | None = None,
) -> IonVolume:
    """The synthetic 3D intensity volume of one secondary ion.

    Cell intensities (:func:`cell_intensity`) are revolved into the voxel grid
    and, unless ``resolution`` is None, convolved along depth with the MRI depth
    resolution (:func:`convolve_depth`, reflecting boundaries: the depth
    integral of every pixel column is conserved).

    Parameters
    ----------
    ion, species, grid, regions, table
        See :func:`cell_intensity`.
    resolution : DepthResolution or None
        Depth resolution; None for the ideal (true) profile.

    Returns
    -------
    IonVolume
        Values of shape ``grid.shape`` [a.u.] and notes.
    """
    cells, notes = cell_intensity(ion, species, grid, regions=regions, table=table)
    values = grid.sample(cells)
    if resolution is not None:
        values = convolve_depth(values, grid.depth_bin, resolution, axis=2)
        notes = notes + (
            f"MRI depth resolution w = {resolution.mixing_length:.3g} m, lambda = {resolution.information_depth:.3g} m, "
            f"sigma0 = {resolution.roughness:.3g} m, roughening length = {resolution.roughening_length:.3g} m (assumed)",
        )
    return IonVolume(ion=_ion_name(ion), values=values, notes=notes)


def measure(
    species: Mapping[str, np.ndarray],
    grid: VoxelGrid,
    ions: Sequence[str] = ION_NAMES,
    *,
    resolution: DepthResolution | None = DepthResolution(),
    table: Sequence[SensitivityFactor] | None = None,
) -> dict[str, IonVolume]:
    """:func:`intensity` for several ions; ions with no signal anywhere in the grid's matrices are kept (all zero)."""
    return {ion: intensity(ion, species, grid, resolution=resolution, table=table) for ion in map(_ion_name, ions)}


# ======================================================================== sputter time
@dataclass(frozen=True)
class SputterRate:
    """Sputter rate of one material with provenance.

    Attributes
    ----------
    value : float
        Rate [m/s].
    source : str
        ``"assumed"``.
    note : str
        Basis of the value.
    """

    value: float
    note: str
    source: str = "assumed"


_RATE_NOTE = "assumed for a ~1-2 keV Cs+ sputter beam; scale with the real beam current and crater area"
SPUTTER_RATES: Mapping[str, SputterRate] = MappingProxyType({
    "Pt": SputterRate(0.30e-9, f"0.30 nm/s; metals sputter faster than refractory oxides ({_RATE_NOTE})"),
    "Ag": SputterRate(0.50e-9, f"0.50 nm/s; Ag has a high sputter yield ({_RATE_NOTE})"),
    "Ti": SputterRate(0.15e-9, f"0.15 nm/s ({_RATE_NOTE})"),
    "WO3": SputterRate(0.20e-9, f"0.20 nm/s ({_RATE_NOTE})"),
    "LiPON": SputterRate(0.40e-9, f"0.40 nm/s; light, glassy electrolyte ({_RATE_NOTE})"),
    "MoO3": SputterRate(0.25e-9, f"0.25 nm/s ({_RATE_NOTE})"),
    "ITO": SputterRate(0.15e-9, f"0.15 nm/s ({_RATE_NOTE})"),
    "glass": SputterRate(0.30e-9, f"0.30 nm/s ({_RATE_NOTE})"),
})
"""Per-material sputter rates [m/s] (all *assumed*; the paper gives none)."""


def sputter_time(grid: VoxelGrid, rates: Mapping[str, float] | None = None, *, radius: float = 0.0) -> np.ndarray:
    """Sputter time [s] at which each depth-bin centre is reached, along the column at ``radius``.

    t(d) = ∫_0^d dz'/v(z'), with v the sputter rate of the material at (radius,
    z'); empty bins (above the local surface) take no time.

    Parameters
    ----------
    grid : VoxelGrid
    rates : mapping of str to float, optional
        Sputter rate [m/s] per material name or region name (region names take
        precedence); default :data:`SPUTTER_RATES`.
    radius : float
        Radius [m] of the column (default the axis).

    Returns
    -------
    ndarray, shape (nz,)

    Raises
    ------
    KeyError
        If a material in the column has no rate.
    ValueError
        If a rate is not positive.
    """
    table = {name: rate.value for name, rate in SPUTTER_RATES.items()} if rates is None else dict(rates)
    cells = grid.ring_cells[grid.ring_index(radius)]
    region = np.where(cells >= 0, grid.cell_regions[np.maximum(cells, 0)], -1)
    per_region = np.full(len(grid.region_names) + 1, np.inf)  # last entry: outside the mesh
    for index in np.unique(region[region >= 0]):
        name, material = grid.region_names[index], grid.matrices[index]
        key = name if name in table else material
        if key not in table:
            raise KeyError(f"no sputter rate for region {name!r} (material {material!r}); give one in rates [m/s]")
        if not table[key] > 0.0:
            raise ValueError(f"sputter rate of {key!r} must be > 0 [m/s], got {table[key]!r}")
        per_region[index] = table[key]
    step = grid.depth_bin / per_region[region]
    return np.cumsum(step) - 0.5 * step


# ======================================================================== outputs
def _values(volume: IonVolume | np.ndarray) -> np.ndarray:
    return volume.values if isinstance(volume, IonVolume) else np.asarray(volume, dtype=float)


def _check_volume(grid: VoxelGrid, values: np.ndarray, name: str) -> np.ndarray:
    if values.shape != grid.shape:
        raise ValueError(f"volume {name!r} has shape {values.shape}; the grid is {grid.shape}")
    return values


def volume_image(
    grid: VoxelGrid,
    volumes: Mapping[str, IonVolume | np.ndarray],
    *,
    length_scale: float = 1.0,
    depth_scale: float = 1.0,
    point_data: bool = False,
) -> pyvista.ImageData:
    """A pyvista ImageData of voxel volumes.

    Geometry: x, y as in the grid, z = −depth (the top of the stack at z = 0,
    going down), all multiplied by ``length_scale`` (and z by ``depth_scale``,
    an exaggeration for rendering). Arrays are cell data (one value per voxel)
    or, with ``point_data``, point data on the voxel centres (for contouring).
    The region index (−1 outside) is included as ``"region"``.

    Parameters
    ----------
    grid : VoxelGrid
    volumes : mapping of str to IonVolume or ndarray, shape grid.shape
    length_scale : float
        Output length unit per metre (1: SI metres; 1e6: µm).
    depth_scale : float
        Extra factor on z.
    point_data : bool
        Store values on points (voxel centres) rather than cells.
    """
    import pyvista as pv

    nx, ny, nz = grid.shape
    spacing = (grid.pixel_size * length_scale, grid.pixel_size * length_scale, grid.depth_bin * length_scale * depth_scale)
    if point_data:
        image = pv.ImageData(
            dimensions=(nx, ny, nz),
            spacing=spacing,
            origin=(grid.x[0] * length_scale, grid.y[0] * length_scale, -grid.depth[-1] * length_scale * depth_scale),
        )
        data = image.point_data
    else:
        image = pv.ImageData(
            dimensions=(nx + 1, ny + 1, nz + 1),
            spacing=spacing,
            origin=(
                (grid.x[0] - 0.5 * grid.pixel_size) * length_scale,
                (grid.y[0] - 0.5 * grid.pixel_size) * length_scale,
                -nz * grid.depth_bin * length_scale * depth_scale,
            ),
        )
        data = image.cell_data
    data["region"] = grid.regions()[:, :, ::-1].ravel(order="F").astype(np.int32)
    for name, volume in volumes.items():
        values = _check_volume(grid, _values(volume), name)
        data[name] = values[:, :, ::-1].ravel(order="F")
    return image


def write_volumes(
    directory: str | Path,
    grid: VoxelGrid,
    volumes: Mapping[str, IonVolume | np.ndarray],
    *,
    prefix: str = "",
) -> dict[str, Path]:
    """Write each volume to its own VTK image-data file ``<directory>/<prefix><ion>.vti``.

    Coordinates are SI metres, z = −depth (:func:`volume_image`), one cell per
    voxel; each file holds the volume (named after the ion), the region index,
    and field data ``length_unit`` ("m"), ``intensity_unit``, ``ion``,
    ``depth_axis``, ``notes`` and the grid provenance.

    Returns
    -------
    dict of str to Path
        The file of each ion.
    """
    directory = Path(directory)
    paths = {}
    for name, volume in volumes.items():
        image = volume_image(grid, {name: volume})
        unit = volume.unit if isinstance(volume, IonVolume) else INTENSITY_UNIT
        image.field_data["length_unit"] = np.array(["m"])
        image.field_data["intensity_unit"] = np.array([unit])
        image.field_data["ion"] = np.array([name])
        image.field_data["depth_axis"] = np.array(["z = -depth; top of the stack at z = 0"])
        image.field_data["region_names"] = np.array(list(grid.region_names))
        notes = volume.notes if isinstance(volume, IonVolume) else ()
        image.field_data["notes"] = np.array(list(notes) or ["none"])
        image.field_data["source"] = np.array([grid.source])
        safe = "".join(character if character.isalnum() or character in "-_+" else "_" for character in name)
        paths[name] = atomic_write(directory / f"{prefix}{safe}.vti", lambda temporary, image=image: image.save(str(temporary)))
    return paths


def depth_profiles(
    grid: VoxelGrid,
    volumes: Mapping[str, IonVolume | np.ndarray],
    *,
    r_max: float | None = None,
    r_min: float = 0.0,
    rates: Mapping[str, float] | None = None,
) -> xarray.Dataset:
    """Depth profiles: intensity averaged over the pixels with r_min <= r <= r_max, versus depth.

    Parameters
    ----------
    grid : VoxelGrid
    volumes : mapping of str to IonVolume or ndarray
    r_max : float, optional
        Outer radius of the analysis area [m] (default R_e: under the electrode).
    r_min : float
        Inner radius [m].
    rates : mapping, optional
        Sputter rates [m/s] for the ``sputter_time`` coordinate (:func:`sputter_time`
        along the column at the mid radius of the area).

    Returns
    -------
    xarray.Dataset
        One variable per ion (dim ``depth``, units "a.u."), coordinates ``depth``
        [m] and ``sputter_time`` [s] (on dim ``depth``; use
        ``ds.swap_dims(depth="sputter_time")`` for profiles versus time).

    Raises
    ------
    ValueError
        If no pixel lies in the analysis area.
    """
    import xarray as xr

    r_max = grid.electrode_radius if r_max is None else r_max
    area = (grid.radius >= r_min) & (grid.radius <= r_max)
    if not area.any():
        raise ValueError(f"no pixel with {r_min} m <= r <= {r_max} m")
    time = sputter_time(grid, rates, radius=0.5 * (r_min + r_max) if r_min > 0.0 else 0.0)
    coords = {
        "depth": ("depth", grid.depth, {"units": "m", "long_name": "depth below the top of the stack"}),
        "sputter_time": ("depth", time, {"units": "s", "long_name": "sputter time (assumed per-material rates)"}),
    }
    data = {}
    for name, volume in volumes.items():
        values = _check_volume(grid, _values(volume), name)
        notes = "; ".join(volume.notes) if isinstance(volume, IonVolume) else ""
        data[name] = (
            "depth",
            values[area].mean(axis=0),
            {"units": INTENSITY_UNIT, "long_name": f"{ION_LABELS.get(name, name)} intensity", "notes": notes or "none"},
        )
    attrs = grid.attributes() | {
        "title": "femion synthetic ToF-SIMS depth profiles",
        "analysis_area": f"pixels with {r_min:g} m <= r <= {r_max:g} m ({int(area.sum())} pixels)",
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def depth_map(grid: VoxelGrid, volumes: Mapping[str, IonVolume | np.ndarray]) -> xarray.Dataset:
    """2D depth maps (x versus depth) through the centre of the field of view.

    The row of pixels closest to y = y_centre is used; with an even pixel count
    the two central rows are averaged (identical for axisymmetric fields).

    Returns
    -------
    xarray.Dataset
        One variable per ion, dims (``depth``, ``x``), units "a.u."; coordinates
        ``x`` [m] and ``depth`` [m].
    """
    import xarray as xr

    centre_y = 0.5 * (grid.y[0] + grid.y[-1])
    distance = np.abs(grid.y - centre_y)
    rows = np.flatnonzero(np.isclose(distance, distance.min(), rtol=0.0, atol=1e-9 * grid.pixel_size))
    data = {}
    for name, volume in volumes.items():
        values = _check_volume(grid, _values(volume), name)
        data[name] = (
            ("depth", "x"),
            values[:, rows, :].mean(axis=1).T,
            {"units": INTENSITY_UNIT, "long_name": f"{ION_LABELS.get(name, name)} intensity"},
        )
    coords = {
        "x": ("x", grid.x, {"units": "m", "long_name": "lateral position through the centre"}),
        "depth": ("depth", grid.depth, {"units": "m", "long_name": "depth below the top of the stack"}),
    }
    attrs = grid.attributes() | {"title": "femion synthetic ToF-SIMS depth map", "rows_y_m": str(grid.y[rows].tolist())}
    return xr.Dataset(data, coords=coords, attrs=attrs)


def write_depth_profiles(path: str | Path, dataset: xarray.Dataset) -> Path:
    """Write a :func:`depth_profiles` dataset to netCDF (atomically)."""
    return write_dataset(path, dataset)


def write_depth_map(path: str | Path, dataset: xarray.Dataset) -> Path:
    """Write a :func:`depth_map` dataset to netCDF (atomically)."""
    return write_dataset(path, dataset)


# ======================================================================== readouts
def depth_integrated(
    volume: IonVolume | np.ndarray,
    grid: VoxelGrid,
    *,
    layer: str | None = None,
    depth_range: tuple[float, float] | None = None,
) -> np.ndarray:
    """Depth integral ∫ I dz [a.u.·m] of each pixel column, within a layer or a depth window.

    Parameters
    ----------
    volume : IonVolume or ndarray, shape grid.shape
    grid : VoxelGrid
    layer : str, optional
        Integrate over the voxels of this region (the geometry of the revolved mesh).
    depth_range : (float, float), optional
        Integrate over depth-bin centres in [d0, d1] [m] (what an experimenter
        does from the matrix-ion interfaces). Give ``layer`` or ``depth_range``
        or neither (whole column).

    Returns
    -------
    ndarray, shape (nx, ny)

    Raises
    ------
    ValueError
        If both ``layer`` and ``depth_range`` are given.
    """
    values = _check_volume(grid, _values(volume), "volume")
    if layer is not None and depth_range is not None:
        raise ValueError("give either layer or depth_range, not both")
    if layer is not None:
        values = np.where(grid.region_mask(layer), values, 0.0)
    elif depth_range is not None:
        keep = (grid.depth >= depth_range[0]) & (grid.depth <= depth_range[1])
        values = values[:, :, keep]
    return values.sum(axis=2) * grid.depth_bin


def radial_profile(image: np.ndarray, grid: VoxelGrid, *, bin_width: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Azimuthal average of a pixel image in rings of width ``bin_width`` (default one pixel).

    Returns
    -------
    (ndarray, ndarray, ndarray)
        Mean pixel radius [m] of each non-empty ring, the ring mean of ``image``,
        and the outer edge [m] of each ring.
    """
    image = np.asarray(image, dtype=float)
    if image.shape != grid.shape[:2]:
        raise ValueError(f"image has shape {image.shape}; the raster is {grid.shape[:2]}")
    width = grid.pixel_size if bin_width is None else bin_width
    index = np.floor(grid.radius / width).astype(np.int64).ravel()
    counts = np.bincount(index)
    filled = counts > 0
    sums = np.bincount(index, weights=image.ravel())[filled]
    radii = np.bincount(index, weights=grid.radius.ravel())[filled]
    outer = (np.flatnonzero(filled) + 1.0) * width
    return radii / counts[filled], sums / counts[filled], outer


def lateral_uniformity(
    volume: IonVolume | np.ndarray,
    grid: VoxelGrid,
    *,
    layer: str | None = None,
    depth_range: tuple[float, float] | None = None,
    r_max: float | None = None,
) -> float:
    """Coefficient of variation across r of an ion's depth-integrated intensity under the electrode.

    The depth integral in a layer (:func:`depth_integrated`) is averaged over
    rings one pixel wide (:func:`radial_profile`); the CV is std/mean of the
    ring means of the rings lying entirely within r <= r_max (default R_e), each
    ring counted once (uniform weight in r, not in area).

    Raises
    ------
    ValueError
        If fewer than two rings lie under the electrode or the mean is zero.
    """
    r_max = grid.electrode_radius if r_max is None else r_max
    _, means, outer = radial_profile(depth_integrated(volume, grid, layer=layer, depth_range=depth_range), grid)
    selected = means[outer <= r_max * (1.0 + 1e-12)]
    if len(selected) < 2:
        raise ValueError("fewer than two pixel rings under the electrode: refine the raster")
    mean = selected.mean()
    if mean == 0.0:
        raise ValueError("the ion has no intensity in the selected layer")
    return float(selected.std() / abs(mean))


def centre_edge_ratio(
    volume: IonVolume | np.ndarray,
    grid: VoxelGrid,
    *,
    layer: str | None = None,
    depth_range: tuple[float, float] | None = None,
    centre_radius: float | None = None,
    edge_width: float | None = None,
) -> float:
    """Ratio of an ion's depth-integrated intensity at the centre to that at the electrode edge.

    Centre: mean over pixels with r < ``centre_radius`` (default 0.1 R_e); edge:
    mean over pixels with R_e − ``edge_width`` <= r < R_e (default width 0.1 R_e).

    Raises
    ------
    ValueError
        If an area holds no pixel or the edge intensity is zero.
    """
    radius_e = grid.electrode_radius
    centre_radius = 0.1 * radius_e if centre_radius is None else centre_radius
    edge_width = 0.1 * radius_e if edge_width is None else edge_width
    image = depth_integrated(volume, grid, layer=layer, depth_range=depth_range)
    centre = grid.radius < centre_radius
    edge = (grid.radius >= radius_e - edge_width) & (grid.radius < radius_e)
    if not centre.any() or not edge.any():
        raise ValueError("the centre or edge area holds no pixel: refine the raster")
    edge_mean = image[edge].mean()
    if edge_mean == 0.0:
        raise ValueError("zero intensity at the electrode edge")
    return float(image[centre].mean() / edge_mean)


def excess_fwhm(
    volume: IonVolume | np.ndarray,
    grid: VoxelGrid,
    *,
    layer: str | None = None,
    depth_range: tuple[float, float] | None = None,
    baseline: float | None = None,
    r_max: float | None = None,
) -> float:
    """Full width at half maximum [m] in r of an ion's excess under the electrode.

    The radial profile (:func:`radial_profile`) of the depth-integrated intensity
    minus a baseline is taken for r <= r_max (default R_e). The baseline
    defaults to the mean of the outermost 10 % of that range. The half-maximum
    crossings are interpolated linearly in r; for an excess peaked on the axis
    FWHM = 2 r_half (the width through the centre), for an off-axis ring it is
    the width of the ring, r_outer − r_inner.

    Raises
    ------
    ValueError
        If there is no positive excess, or it does not fall below half maximum
        inside r_max.
    """
    r_max = grid.electrode_radius if r_max is None else r_max
    radii, means, outer = radial_profile(depth_integrated(volume, grid, layer=layer, depth_range=depth_range), grid)
    inside = outer <= r_max * (1.0 + 1e-12)
    radii, means = radii[inside], means[inside]
    if baseline is None:
        baseline = float(means[radii >= 0.9 * r_max].mean()) if np.any(radii >= 0.9 * r_max) else float(means[-1])
    excess = means - baseline
    peak = int(np.argmax(excess))
    half = 0.5 * excess[peak]
    if not half > 1e-9 * np.abs(means).max():  # round-off of a uniform field is no excess
        raise ValueError("no positive excess over the baseline")
    after = np.flatnonzero(excess[peak:] < half)
    if len(after) == 0:
        raise ValueError("the excess does not fall to half maximum inside r_max")
    j = peak + after[0]
    r_outer = radii[j - 1] + (half - excess[j - 1]) * (radii[j] - radii[j - 1]) / (excess[j] - excess[j - 1])
    before = np.flatnonzero(excess[:peak] < half)
    if len(before) == 0:
        return float(2.0 * r_outer)
    i = before[-1]
    r_inner = radii[i] + (half - excess[i]) * (radii[i + 1] - radii[i]) / (excess[i + 1] - excess[i])
    return float(r_outer - r_inner)


@dataclass(frozen=True)
class InterfaceReadout:
    """Depth and width of one interface from the matrix-ion depth profiles.

    Attributes
    ----------
    upper, lower : str
        Matrix ions of the layers above and below.
    depth : float
        Interface depth [m]: mean of the 50 % crossings of the falling upper ion
        and the rising lower ion, each normalised to its plateau (the median of
        its samples above half its maximum, which ignores the surface transient).
    width : float
        Interface width [m]: mean of the two 16–84 % widths.
    depth_upper, depth_lower : float
        The two 50 % crossings [m].
    width_upper, width_lower : float
        The two 16–84 % widths [m].
    """

    upper: str
    lower: str
    depth: float
    width: float
    depth_upper: float
    depth_lower: float
    width_upper: float
    width_lower: float


def _crossing(depth: np.ndarray, signal: np.ndarray, level: float, falling: bool, peak: int) -> float:
    """Depth where ``signal`` crosses ``level``: first below it after ``peak`` (falling) or last below it before ``peak`` (rising)."""
    if falling:
        below = np.flatnonzero(signal[peak:] < level)
        if len(below) == 0:
            return float("nan")
        j = peak + below[0]
        i = j - 1
    else:
        below = np.flatnonzero(signal[: peak + 1] < level)
        if len(below) == 0:
            return float("nan")
        i = below[-1]
        j = i + 1
    return float(depth[i] + (level - signal[i]) * (depth[j] - depth[i]) / (signal[j] - signal[i]))


def interface_depths(depth: np.ndarray, profiles: Mapping[str, np.ndarray], ions: Sequence[str]) -> tuple[InterfaceReadout, ...]:
    """Depths (50 % crossings) and widths (16–84 %) of the interfaces between consecutive matrix ions.

    Parameters
    ----------
    depth : ndarray, shape (nz,)
        Depth [m] (or sputter time: the readouts come out in the same unit).
    profiles : mapping of str to ndarray, shape (nz,)
        Depth profiles (e.g. ``{name: ds[name].values for name in ds.data_vars}``).
    ions : sequence of str
        Matrix ions of the layers from the top down, e.g.
        ``("Pt-", "WO3-", "PO2-", "MoO3-", "InO-")``; one interface per
        consecutive pair.

    Returns
    -------
    tuple of InterfaceReadout
        NaN where a crossing is not found (e.g. a profile that never reaches 84 %).

    Raises
    ------
    KeyError
        If an ion has no profile.
    ValueError
        If a profile is zero everywhere.
    """
    depth = np.asarray(depth, dtype=float)
    normalised = {}
    for ion in ions:
        signal = np.asarray(profiles[ion], dtype=float)
        if not signal.max() > 0.0:
            raise ValueError(f"matrix ion {ion!r} has no signal")
        plateau = np.median(signal[signal >= 0.5 * signal.max()])  # robust to the surface transient
        normalised[ion] = signal / plateau
    readouts = []
    for upper, lower in zip(ions[:-1], ions[1:]):
        a, b = normalised[upper], normalised[lower]
        peak_a = int(np.argmax(a))
        rising_from = peak_a + int(np.argmax(b[peak_a:]))
        d_a = _crossing(depth, a, 0.5, True, peak_a)
        d_b = _crossing(depth, b, 0.5, False, rising_from)
        w_a = _crossing(depth, a, 0.16, True, peak_a) - _crossing(depth, a, 0.84, True, peak_a)
        w_b = _crossing(depth, b, 0.84, False, rising_from) - _crossing(depth, b, 0.16, False, rising_from)
        readouts.append(
            InterfaceReadout(
                upper=upper, lower=lower, depth=0.5 * (d_a + d_b), width=0.5 * (w_a + w_b),
                depth_upper=d_a, depth_lower=d_b, width_upper=w_a, width_lower=w_b,
            )
        )
    return tuple(readouts)


FIG4_PRODUCT_IONS = ("Li-", "OH-", "LiO-", "CO3-", "CO3Li-")
"""Secondary ions of the air-reaction products and Li (paper Fig. 4(d)–(f))."""
FIG4_MATRIX_IONS = ("Pt-", "WO3-", "PO2-", "MoO3-", "InO-")
"""Matrix ions of the five layers drawn in the morphology panels (paper Fig. 4(a)–(c)); :data:`MATRIX_IONS` lists every matrix ion per material."""
FIG4_PANELS = MappingProxyType({
    "analog": MappingProxyType({"morphology": "a", "ions": "d", "depth_map": "g"}),
    "power": MappingProxyType({"morphology": "b", "ions": "e", "depth_map": "h"}),
    "volatile": MappingProxyType({"morphology": "c", "ions": "f", "depth_map": "i"}),
})
"""Panel letters of paper Fig. 4 per mode (columns: analog, power, volatile)."""


def synthesize_mode(
    mode: str,
    grid: VoxelGrid,
    device,
    species: Mapping[str, np.ndarray],
    outdir: str | Path,
    *,
    depth_map_panel: bool = True,
    panel_keys: Mapping[str, str] | None = None,
) -> tuple[dict, dict, dict]:
    """Synthetic ToF-SIMS of one device state: volumes, profiles, depth map, panel PNGs and readouts (paper Fig. 4).

    Writes ``tofsims/<mode>_<ion>.vti``, ``depth_profiles_<mode>.nc``,
    ``depth_map_<mode>.nc`` and the panels ``panel_<key>_morphology_<mode>.png``
    (layer morphology, Fig. 4(a)–(c)), ``panel_<key>_ions_<mode>.png``
    (product-ion maps, Fig. 4(d)–(f)) and, with ``depth_map_panel``,
    ``panel_<key>_li_depth_map_<mode>.png`` (Fig. 4(g)–(h)) into ``outdir``.

    Parameters
    ----------
    mode : str
        Label of the state ("analog", "power", "volatile", ...).
    grid : VoxelGrid
        Raster of the (possibly displaced) mesh, :func:`voxelize`.
    device : femion.config.Device
    species : mapping of str to ndarray, shape (n_cells,)
        Concentrations [mol/m³] on the mesh cells (``c_li``, products, ``c_vo``).
    outdir : path
    depth_map_panel : bool
        False leaves the depth-map panel to the caller.
    panel_keys : mapping, optional
        Panel letter of ``"morphology"``, ``"ions"``, ``"depth_map"``; default
        :data:`FIG4_PANELS` of ``mode``.

    Returns
    -------
    (dict, dict, dict)
        Panels (letter → mode, content, status, file), readouts (Li⁻ lateral
        uniformity in WO3 and LiPON, product-ion counts in the top electrode
        at the centre r < R_e/4 and the edge 3R_e/4 < r < R_e per pixel, the
        interface depths) and the ion volumes.

    Raises
    ------
    KeyError
        If ``mode`` has no default panel keys and none are given.
    """
    from femion.viz import plot_depth_map, render_tofsims_ions, render_tofsims_layers

    outdir = Path(outdir)
    ions = FIG4_PRODUCT_IONS + FIG4_MATRIX_IONS + (("O-",) if "c_vo" in species else ())
    volumes = measure(species, grid, ions)
    write_volumes(outdir / "tofsims", grid, volumes, prefix=f"{mode}_")
    profiles = depth_profiles(grid, volumes)
    write_depth_profiles(outdir / f"depth_profiles_{mode}.nc", profiles)
    write_depth_map(outdir / f"depth_map_{mode}.nc", depth_map(grid, volumes))
    keys = dict(FIG4_PANELS[mode] if panel_keys is None else panel_keys)
    files = {
        "morphology": f"panel_{keys['morphology']}_morphology_{mode}.png",
        "ions": f"panel_{keys['ions']}_ions_{mode}.png",
    }
    render_tofsims_layers(outdir / files["morphology"], grid, {ion: volumes[ion] for ion in FIG4_MATRIX_IONS},
                          title=f"({keys['morphology']}) {mode} mode: layer morphology (synthetic ToF-SIMS)")
    render_tofsims_ions(outdir / files["ions"], grid, {ion: volumes[ion] for ion in FIG4_PRODUCT_IONS},
                        title=f"({keys['ions']}) {mode} mode: Li-, OH-, LiO-, CO3-, CO3Li-")
    contents = {"morphology": "3D morphology", "ions": "secondary-ion maps"}
    if depth_map_panel:
        files["depth_map"] = f"panel_{keys['depth_map']}_li_depth_map_{mode}.png"
        contents["depth_map"] = "Li depth map"
        plot_depth_map(outdir / files["depth_map"], depth_map(grid, {"Li-": volumes["Li-"]}), "Li-",
                       title=f"({keys['depth_map']}) {mode} mode: Li- depth map through the centre")
    panels = {keys[name]: {"mode": mode, "content": contents[name], "status": "computed", "file": file} for name, file in files.items()}
    radius = device.electrode_radius
    pixel_r = np.hypot(*np.meshgrid(grid.x, grid.y, indexing="ij"))
    centre, edge = pixel_r < 0.25 * radius, (pixel_r > 0.75 * radius) & (pixel_r < radius)
    in_pt = {ion: depth_integrated(volumes[ion], grid, layer=device.top_electrode.name) for ion in FIG4_PRODUCT_IONS if ion != "Li-"}
    readouts = {
        f"li_lateral_uniformity_WO3_{mode}": lateral_uniformity(volumes["Li-"], grid, layer="WO3"),
        f"li_lateral_uniformity_LiPON_{mode}": lateral_uniformity(volumes["Li-"], grid, layer="LiPON"),
        f"product_ions_in_Pt_{mode}": {
            "centre": {ion: float(image[centre].mean()) for ion, image in in_pt.items()},
            "edge": {ion: float(image[edge].mean()) for ion, image in in_pt.items()},
        },
        f"interfaces_{mode}": [
            {"ions": f"{item.upper}/{item.lower}", "depth_m": item.depth, "width_m": item.width}
            for item in interface_depths(profiles.depth.values, {ion: profiles[ion].values for ion in FIG4_MATRIX_IONS}, FIG4_MATRIX_IONS)
        ],
    }
    return panels, readouts, volumes
