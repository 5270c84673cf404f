"""Lithium: transport, intercalation electrochemistry and doping.

Two layers of the same physics live here.

1. :class:`LithiumTransport` — Nernst–Planck drift–diffusion of Li on a film
   mesh, for any combination of layers:

       ∂c/∂t = −∇·J,      J = −D c (1 − s θ) ∇(μ/RT)
       μ/RT = ψ_k + ln c + z F φ/(RT) − s_k ln(1 − θ) − s_k (Ω_k/RT)(1 − 2θ)

   with layer-wise D_k(T) (Arrhenius about T₀ = 300 K), z = 1, a partition
   energy ψ_k = μ°_k/RT per layer (from ``li_standard_potential`` U°:
   ψ = −F U°/RT relative to Li metal; 0 in the electrolyte), site exclusion
   (s = 1, θ = c/c_max) and the regular-solution interaction Ω_k
   (``li_interaction_energy``) in the hosts. In a host at rest (φ = 0)
   μ_Li − μ_Li(metal) = −F U(θ), U the open-circuit potential of
   :func:`open_circuit_potential`, so transport and interfaces share one
   thermodynamics.

   **Mobility.** A Li hops only into an empty site: the lattice-gas mobility
   is D c (1 − θ)/RT, as in the nonequilibrium-thermodynamics models of
   intercalation hosts (Smith & Bazant, J. Electrochem. Soc. 164, E3291
   (2017), whose solid transport is −D θ(1 − θ)∇(μ/kT) in filling fraction
   θ; regular-solution μ of Bazant, Acc. Chem. Res. 46, 1144 (2013)). With
   φ = 0 and ψ uniform, ∇(μ/RT) = [1/(θ(1 − θ)) + 2Ω/RT] ∇θ, so

       J = −D_chem(θ) ∇c,   D_chem(θ) = D (1 − θ) Γ(θ) = D [1 + 2 (Ω/RT) θ (1 − θ)],

   Γ = ∂ln a/∂ln θ = θ ∂(μ/RT)/∂θ = 1/(1 − θ) + 2Ωθ/RT the thermodynamic
   factor of the open-circuit potential in use, Γ = −(Fθ/RT) dU/dθ. The
   ideal lattice gas (Ω = 0) is Fickian, D_chem = D at every θ: the (1 − θ)
   of the mobility cancels the 1/(1 − θ) of the site entropy. Ω > 0
   (a steeper U(θ)) speeds chemical diffusion; Ω < −2RT would make
   D_chem < 0 near θ = 1/2 (spinodal phase separation, not modelled: it is
   rejected). Integrated in θ, J = −D c_max ∇K(θ) with the Kirchhoff
   potential K(θ) = θ + (Ω/RT)(θ² − 2θ³/3).

   **Discretisation.** The face flux is the exponentially fitted
   Scharfetter–Gummel flux J_ij = (D_f m_f/h)[B(Δu) c_i − B(−Δu) c_j]
   (:func:`bernoulli`) with u = ψ + zFφ/RT − s ln(1 − θ) − s(Ω/RT)(1 − 2θ)
   (jumps of ψ at layer interfaces included) and the face mobility factor
   m_f the logarithmic mean of 1 − θ_i and 1 − θ_j
   (:func:`logarithmic_mean`). The bracket vanishes exactly for
   c_j/c_i = e^{−Δu} whatever m_f, so a discrete equilibrium (uniform μ,
   with field, partition jumps, interaction and θ-gradients) stays put to
   round-off — chemical-potential continuity across interfaces without
   interface unknowns. With Ω = 0 and no drift the logarithmic mean makes
   the flux exactly D_f c_max (θ_i − θ_j)/h, the Fickian two-point flux:
   B(Δu) c_i − B(−Δu) c_j = c_max (θ_i − θ_j)/m_f for Δu = ln[(1 − θ_i)/(1 − θ_j)].
   Implicit Euler, solved by Newton's method with the exact Jacobian of
   this flux (:meth:`LithiumTransport.step`).
   Assembled with :class:`femion.fvm.TwoPointOperator` (r-weighted
   two-point finite volumes, the same operator FiPy's terms give, at a
   fraction of FiPy's per-step assembly cost; tests/benchmarks).

2. :class:`LithiumModule` — the device model the coupled loop runs: an
   electroneutral single-ion electrolyte (LiPON, c = c₀, ionic conduction
   solved with φ), neutral Li chemical diffusion in the mixed-conducting hosts
   (the transport above with φ = 0 on the host mesh, in its Kirchhoff form
   :meth:`LithiumTransport.frozen_step`), and Butler–Volmer charge
   transfer plus a double layer at each host/electrolyte interface, with the
   host open-circuit potential U(θ) of a regular solution. The module
   docstring gives the equations and sources. The Nernst–Planck form of (1)
   across LiPON is not used there: without electroneutrality, Li⁺ drawn into
   WO3 would leave an unscreened space charge next to MoO3 (10¹¹ V/m for one
   5 ms pulse), which the thin (sub-nm) double layer cannot hold.

Doping: electronic conductivity of the hosts from their Li content
(:func:`host_electronic_conductivity`), read conductance from the potential
solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fipy import FaceVariable
from fipy.terms.exponentialConvectionTerm import ExponentialConvectionTerm
from fipy.tools import numerix
from scipy.special import expit

from femion import fvm
from femion.config import Device
from femion.constants import FARADAY, GAS_CONSTANT
from femion.mesh import AxisymmetricMesh
from femion.physics import arrhenius

__all__ = [
    "HOST_ELECTRONIC_REFERENCE_TEMPERATURE",
    "HostInterface",
    "LithiumModule",
    "LithiumProperties",
    "LithiumStepReport",
    "LithiumTransport",
    "ScharfetterGummelConvectionTerm",
    "bernoulli",
    "butler_volmer",
    "exchange_current_density",
    "host_electronic_conductivity",
    "host_interfaces",
    "lithium_properties",
    "lithium_regions",
    "logarithmic_mean",
    "open_circuit_potential",
    "scharfetter_gummel_weight",
    "surface_step_current",
]

DIFFUSIVITY_REFERENCE_TEMPERATURE = 300.0
"""Temperature [K] at which the database's Li diffusivities are quoted."""

IONIC_REFERENCE_TEMPERATURE = 298.15
"""Temperature [K] at which the database's Li⁺ conductivities are quoted (as in electrostatics)."""


def lithium_regions(device: Device) -> tuple[str, ...]:
    """Regions where Li moves: the active films."""
    return tuple(layer.name for layer in device.films)


def scharfetter_gummel_weight(peclet: np.ndarray) -> np.ndarray:
    """Exact exponential-scheme upwind weight α(P) = 1/(1 − e^{−P}) − 1/P.

    With the face value c_f = α c_owner + (1 − α) c_neighbour, a convection
    flux v c_f plus the two-point diffusion flux gives the Scharfetter–Gummel
    flux. A series is used for |P| < 10⁻² (truncation ≲ 10⁻¹⁵), and the
    large-|P| limits are taken without overflow.

    Parameters
    ----------
    peclet : ndarray
        Péclet number P = v h / D per face.

    Returns
    -------
    ndarray
        α in [0, 1], same shape.
    """
    p = np.asarray(peclet, dtype=float)
    alpha = np.empty_like(p)
    small = np.abs(p) < 1e-2
    ps = p[small]
    alpha[small] = 0.5 + ps / 12.0 - ps**3 / 720.0
    large = ~small
    pl = p[large]
    alpha[large] = 1.0 / (-np.expm1(-np.clip(pl, -700.0, 700.0))) - 1.0 / pl
    return alpha


def bernoulli(x: np.ndarray) -> np.ndarray:
    """Bernoulli function B(x) = x/(eˣ − 1), B(0) = 1, evaluated without cancellation.

    The Scharfetter–Gummel flux between cells i and j with drift-potential
    difference Δu = u_j − u_i is J = (D/h)[B(Δu) c_i − B(−Δu) c_j]
    (Scharfetter & Gummel, IEEE Trans. Electron Devices 16, 64 (1969)); it
    vanishes exactly for c_j/c_i = e^{−Δu} because B(x)/B(−x) = e^{−x}.
    """
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-8
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - 0.5 * x, safe / np.expm1(safe))


def logarithmic_mean(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Logarithmic mean L(a, b) = (a − b)/(ln a − ln b), L(a, a) = a, of positive numbers.

    The face mobility factor of the lattice-gas Scharfetter–Gummel flux
    (:class:`LithiumTransport`): with m_f = L(1 − θ_i, 1 − θ_j) the flux of an
    ideal lattice gas without drift is exactly the Fickian two-point flux.
    Near a = b the series L = b(1 + x/2 − x²/12 + x³/24 − 19x⁴/720),
    x = a/b − 1, is used for |x| < 10⁻³ (truncation ≲ 10⁻¹⁶).

    Parameters
    ----------
    a, b : ndarray
        Positive values, broadcastable shapes.

    Returns
    -------
    ndarray
        L(a, b), between min(a, b) and max(a, b), of the broadcast shape.

    Raises
    ------
    ValueError
        If any value is not positive.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    if np.any(~(a > 0.0)) or np.any(~(b > 0.0)):
        raise ValueError("the logarithmic mean needs positive values")
    x = a / b - 1.0
    small = np.abs(x) < 1e-3
    series = b * (1.0 + x / 2.0 - x**2 / 12.0 + x**3 / 24.0 - 19.0 * x**4 / 720.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        direct = (a - b) / (np.log(a) - np.log(b))
    return np.where(small, series, direct)


def bernoulli_derivative(x: np.ndarray) -> np.ndarray:
    """B′(x) = B(x)(1 − B(x))/x − B(x) of :func:`bernoulli`, B′(0) = −1/2 (series −1/2 + x/6 − x³/180 for |x| < 10⁻³)."""
    x = np.asarray(x, dtype=float)
    small = np.abs(x) < 1e-3
    safe = np.where(small, 1.0, x)
    b = bernoulli(safe)
    return np.where(small, -0.5 + x / 6.0 - x**3 / 180.0, b * (1.0 - b) / safe - b)


def logarithmic_mean_gradient(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Partial derivatives (∂L/∂a, ∂L/∂b) of :func:`logarithmic_mean`, both 1/2 at a = b.

    ∂L/∂a = (1 − L/a)/ln(a/b), ∂L/∂b = (L/b − 1)/ln(a/b); with L = b f(x),
    x = a/b − 1, the series f′ and f − (1 + x) f′ for |x| < 10⁻³.
    """
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    mean = logarithmic_mean(a, b)
    x = a / b - 1.0
    small = np.abs(x) < 1e-3
    f = 1.0 + x / 2.0 - x**2 / 12.0 + x**3 / 24.0
    fp = 0.5 - x / 6.0 + x**2 / 8.0 - 19.0 * x**3 / 180.0
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ratio = np.log(a) - np.log(b)
        da = (1.0 - mean / a) / log_ratio
        db = (mean / b - 1.0) / log_ratio
    return np.where(small, fp, da), np.where(small, f - (1.0 + x) * fp, db)


class _ExactAlpha(FaceVariable):
    def __init__(self, peclet):
        FaceVariable.__init__(self, peclet.mesh)
        self.peclet = self._requires(peclet)

    def _calcValue(self):
        return scharfetter_gummel_weight(numerix.asarray(self.peclet.numericValue))


class ScharfetterGummelConvectionTerm(ExponentialConvectionTerm):
    """FiPy convection term with the exact Scharfetter–Gummel weight for every Péclet number.

    Use together with a ``DiffusionTerm`` in the same equation (FiPy takes the
    Péclet number from it). See :func:`scharfetter_gummel_weight`.
    """

    def _alpha(self, P):
        return _ExactAlpha(P)


@dataclass(frozen=True, eq=False)
class LithiumProperties:
    """Cell-wise Li transport parameters on the film mesh.

    Attributes
    ----------
    diffusivity : ndarray, shape (n_cells,)
        D [m²/s] at the temperature of construction.
    max_concentration : ndarray, shape (n_cells,)
        Site density c_max [mol/m³]; ``inf`` where there is no site exclusion (LiPON).
    partition : ndarray, shape (n_cells,)
        ψ = μ°/RT [1] (Li standard chemical potential relative to LiPON).
    temperature : float
        T [K].
    interaction : ndarray, shape (n_cells,), or None
        Regular-solution interaction Ω [J/mol] of the site-limited cells
        (:func:`open_circuit_potential`); None: no interaction (Ω = 0).
    """

    diffusivity: np.ndarray
    max_concentration: np.ndarray
    partition: np.ndarray
    temperature: float
    interaction: np.ndarray | None = None

    @property
    def site_limited(self) -> np.ndarray:
        """Cells with site exclusion, shape (n_cells,)."""
        return np.isfinite(self.max_concentration)

    @property
    def reduced_interaction(self) -> np.ndarray:
        """Ω/RT [1] in the site-limited cells, 0 elsewhere, shape (n_cells,)."""
        if self.interaction is None:
            return np.zeros(np.shape(self.max_concentration))
        omega = np.broadcast_to(np.asarray(self.interaction, dtype=float), np.shape(self.max_concentration))
        return np.where(self.site_limited, omega / (GAS_CONSTANT * self.temperature), 0.0)


def lithium_properties(mesh: AxisymmetricMesh, device: Device, temperature: float | None = None) -> LithiumProperties:
    """Li parameters of each film cell from the materials database.

    In the hosts ``li_diffusivity`` (at 300 K) and
    ``li_diffusivity_activation_energy`` give D(T); hosts (material kind
    ``host``) are site-limited with ``li_max_concentration`` and carry
    ψ = −F U°/RT from ``li_standard_potential`` U° (vs Li/Li⁺) and the
    regular-solution interaction Ω = F × ``li_interaction_energy`` [eV] of
    :func:`open_circuit_potential`. The electrolyte is the reference (ψ = 0, Ω = 0) without
    site exclusion, and its D(T) = σ_Li(T) RT / (F² c) follows from the
    measured ionic conductivity by Nernst–Einstein, so that both descriptions
    of the same Li⁺ current agree at every temperature.

    Raises
    ------
    femion.MaterialError
        If a film material lacks a needed property.
    ValueError
        If the temperature is not positive and finite.
    """
    temperature = device.temperature if temperature is None else float(temperature)
    if not (np.isfinite(temperature) and temperature > 0.0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    diffusivity, maximum, partition, interaction = [], [], [], []
    for region in mesh.region_names:
        material = device.material(region)
        if material.kind == "electrolyte":
            # The measured quantity is σ_Li(T); D follows by Nernst–Einstein so that the
            # Li module's ionic conductivity F²Dc/RT equals the electrostatics' σ_Li(T) at every T.
            sigma = arrhenius(
                material.value("li_ionic_conductivity"), material.value("li_activation_energy"), temperature, IONIC_REFERENCE_TEMPERATURE
            )
            diffusivity.append(sigma * GAS_CONSTANT * temperature / (FARADAY**2 * material.value("li_max_concentration")))
        else:
            diffusivity.append(
                arrhenius(
                    material.value("li_diffusivity"),
                    material.value("li_diffusivity_activation_energy"),
                    temperature,
                    DIFFUSIVITY_REFERENCE_TEMPERATURE,
                )
            )
        if material.kind == "host":
            maximum.append(material.value("li_max_concentration"))
            # μ°_Li(host) − μ°_Li(Li metal) = −F U°: the partition energy relative to the Li reference.
            partition.append(-FARADAY * material.value("li_standard_potential") / (GAS_CONSTANT * temperature))
            interaction.append(material.value("li_interaction_energy") * FARADAY)
        else:
            maximum.append(np.inf)
            partition.append(0.0)
            interaction.append(0.0)
    index = mesh.cell_regions
    return LithiumProperties(
        diffusivity=np.array(diffusivity)[index],
        max_concentration=np.array(maximum)[index],
        partition=np.array(partition)[index],
        temperature=temperature,
        interaction=np.array(interaction)[index],
    )


@dataclass(frozen=True)
class LithiumStepReport:
    """Outcome of one implicit Li step.

    Attributes
    ----------
    converged : bool
        The iteration on the c-dependent coefficients (chord, see :meth:`LithiumTransport.step`) met the tolerance.
    iterations : int
        Iterations used.
    change : float
        Last relative change max|Δc|/max c.
    """

    converged: bool
    iterations: int
    change: float


class LithiumTransport:
    """Owner of the Li concentration field on the film mesh.

    Parameters
    ----------
    mesh
        The film mesh (e.g. ``full_mesh.submesh(lithium_regions(device))``).
    properties
        Transport parameters (:func:`lithium_properties`).
    concentration
        Initial c [mol/m³], shape (n_cells,), non-negative and below c_max.

    Raises
    ------
    ValueError
        On a concentration of wrong shape, negative, non-finite, or at/above
        c_max, or an interaction Ω ≤ −2RT (D_chem would turn negative: phase
        separation, which this law does not describe).
    """

    def __init__(self, mesh: AxisymmetricMesh, properties: LithiumProperties, concentration: np.ndarray):
        self.mesh = mesh
        self.properties = properties
        if np.any(properties.reduced_interaction <= -2.0):
            raise ValueError("Li interaction energy Ω ≤ −2RT: the host would phase-separate (D_chem < 0 at θ = 1/2)")
        self._check(concentration)
        self._c = np.array(concentration, dtype=float)
        self._diffusivity_face = fvm.face_values_harmonic(mesh, properties.diffusivity)
        self._operator = fvm.TwoPointOperator(mesh)
        self._owner, self._neighbour = mesh.face_cells[:, 0], np.maximum(mesh.face_cells[:, 1], 0)
        self._interior = mesh.face_cells[:, 1] >= 0

    def _check(self, concentration: np.ndarray) -> None:
        values = np.asarray(concentration, dtype=float)
        if values.shape != (self.mesh.n_cells,):
            raise ValueError(f"Li concentration must have shape ({self.mesh.n_cells},), got {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0.0):
            raise ValueError("Li concentration must be finite and non-negative")
        if np.any(values >= self.properties.max_concentration):
            raise ValueError("Li concentration reaches the site limit c_max in a host")

    @property
    def concentration(self) -> np.ndarray:
        """c [mol/m³], shape (n_cells,) (a copy)."""
        return self._c.copy()

    def occupancy(self) -> np.ndarray:
        """θ = c/c_max in the hosts, 0 elsewhere, shape (n_cells,)."""
        return np.where(self.properties.site_limited, self.concentration / self.properties.max_concentration, 0.0)

    def drift_potential(self, phi: np.ndarray, concentration: np.ndarray | None = None) -> np.ndarray:
        """u = ψ + Fφ/RT − s ln(1 − θ) − s(Ω/RT)(1 − 2θ) per cell [1], shape (n_cells,).

        μ/RT = ln c + u: the part of the Li chemical potential the
        Scharfetter–Gummel flux treats as a drift (see the module docstring).
        """
        c = self.concentration if concentration is None else concentration
        theta = np.where(self.properties.site_limited, c / self.properties.max_concentration, 0.0)
        return (
            self.properties.partition
            + FARADAY * np.asarray(phi) / (GAS_CONSTANT * self.properties.temperature)
            - np.log1p(-theta)
            - self.properties.reduced_interaction * (1.0 - 2.0 * theta)
        )

    def face_mobility(self, concentration: np.ndarray | None = None) -> np.ndarray:
        """Lattice-gas mobility factor m_f = L(1 − θ_i, 1 − θ_j) per face [1], shape (n_faces,).

        L is the logarithmic mean (:func:`logarithmic_mean`); 1 between cells
        without site exclusion; exterior faces take their cell's 1 − θ.
        """
        c = self.concentration if concentration is None else concentration
        theta = np.where(self.properties.site_limited, c / self.properties.max_concentration, 0.0)
        free = np.clip(1.0 - theta, 1e-300, None)
        return logarithmic_mean(free[self._owner], free[np.where(self._interior, self._neighbour, self._owner)])

    def _system(self, phi: np.ndarray, concentration: np.ndarray, dt: float) -> dict[str, np.ndarray]:
        """Implicit-Euler system with Scharfetter–Gummel face coefficients at ``concentration`` in the potential ``phi``.

        Keyword arguments of :meth:`femion.fvm.TwoPointOperator.assemble` and ``factorized``.
        """
        u = self.drift_potential(phi, concentration)
        delta = np.where(self._interior, u[self._neighbour] - u[self._owner], 0.0)
        coefficient = self._diffusivity_face * self.face_mobility(concentration)
        return {
            "owner_coefficient": coefficient * bernoulli(delta),
            "neighbour_coefficient": coefficient * bernoulli(-delta),
            "diagonal": self.mesh.r_volumes / dt,
        }

    def _jacobian(self, phi: np.ndarray, concentration: np.ndarray, dt: float) -> dict[str, np.ndarray]:
        """Jacobian of the implicit-Euler residual A(c) c at ``concentration``, as face coefficients.

        The face flux F = D_f m_f β, β = B(Δu) c_o − B(−Δu) c_n (owner o,
        neighbour n, Δu = u_n − u_o), linearises to a δc_o − b δc_n with
        a = ∂F/∂c_o and b = −∂F/∂c_n (u′ = dU/dc per cell, m_f the
        logarithmic mean of 1 − θ, :func:`logarithmic_mean_gradient`).
        Keyword arguments of :meth:`femion.fvm.TwoPointOperator.factorized`.
        """
        c = np.asarray(concentration, dtype=float)
        limited = self.properties.site_limited
        c_max = np.where(limited, self.properties.max_concentration, 1.0)
        theta = np.where(limited, c / c_max, 0.0)
        slope = np.where(limited, (1.0 / (1.0 - theta) + 2.0 * self.properties.reduced_interaction) / c_max, 0.0)  # du/dc
        u = self.drift_potential(phi, c)
        owner, neighbour = self._owner, np.where(self._interior, self._neighbour, self._owner)
        delta = np.where(self._interior, u[neighbour] - u[owner], 0.0)
        free = np.clip(1.0 - theta, 1e-300, None)
        mobility = logarithmic_mean(free[owner], free[neighbour])
        d_free_o, d_free_n = logarithmic_mean_gradient(free[owner], free[neighbour])
        d_mobility_o = np.where(limited[owner], -d_free_o / c_max[owner], 0.0)
        d_mobility_n = np.where(limited[neighbour], -d_free_n / c_max[neighbour], 0.0)
        forward, backward = bernoulli(delta), bernoulli(-delta)
        bracket = forward * c[owner] - backward * c[neighbour]
        drift = bernoulli_derivative(delta) * c[owner] + bernoulli_derivative(-delta) * c[neighbour]  # ∂β/∂Δu
        d = self._diffusivity_face
        return {
            "owner_coefficient": d * (d_mobility_o * bracket + mobility * (forward - drift * slope[owner])),
            "neighbour_coefficient": -d * (d_mobility_n * bracket + mobility * (-backward + drift * slope[neighbour])),
            "diagonal": self.mesh.r_volumes / dt,
        }

    def step(
        self, phi: np.ndarray, dt: float, tolerance: float = 1e-10, max_iterations: int = 50, source: np.ndarray | None = None
    ) -> LithiumStepReport:
        """Advance c by one implicit-Euler step of ``dt`` [s] in the potential ``phi`` [V] (cells).

        ``source`` [mol/(m³ s)], shape (n_cells,), is a volumetric Li source held
        constant over the step (interface reactions enter this way); its
        r-weighted integral times dt is added to the inventory exactly. The
        implicit step is solved by Newton's method (Jacobian refactorised only
        when the change stops halving) to a relative change ``tolerance``.

        Raises
        ------
        ValueError
            If ``dt`` is not positive and finite or ``phi`` is not finite.
        FloatingPointError
            If the solution becomes non-finite or negative beyond round-off
            (the caller should reject the step and retry with a smaller dt).
        """
        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        phi = np.asarray(phi, dtype=float)
        if phi.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(phi)):
            raise ValueError(f"phi must be finite with shape ({self.mesh.n_cells},)")
        previous = self.concentration
        gain = self.mesh.r_volumes * (previous / dt + (0.0 if source is None else np.asarray(source, dtype=float)))
        c_max = self.properties.max_concentration
        limited = self.properties.site_limited
        iterate = previous
        change = last_change = np.inf
        iterations = 0
        # Newton on R(c) = A(c) c − gain (site exclusion, mobility and interaction make A depend on c), with the
        # Jacobian (:meth:`_jacobian`) kept while the change shrinks at least by half (chord) and refactorised at
        # the iterate otherwise; each update is shortened if needed to keep c inside (0, c_max). A Picard
        # iteration on A(c) would not do: at θ near 1 its lagged coefficients miss most of the flux's dependence
        # on c and it diverges for steps D dt/h² ≳ 0.3.
        solve = self._operator.factorized(**self._jacobian(phi, iterate, dt))
        for iterations in range(1, max_iterations + 1):
            if iterations > 1 and change > 0.5 * last_change:
                solve = self._operator.factorized(**self._jacobian(phi, iterate, dt))
            residual = self._operator.assemble(**self._system(phi, iterate, dt)) @ iterate - gain
            update = -solve(residual)
            if not np.all(np.isfinite(update)):
                self._restore(previous)
                raise FloatingPointError("Li step produced non-finite concentrations")
            # shorten only an update that would cross a bound, from an iterate inside it (a cell at c = 0 may take
            # a round-off negative update; the range check after the loop judges the result)
            full = iterate + update
            below = (full < 0.0) & (iterate > 0.0)
            above = limited & (full >= c_max)
            with np.errstate(divide="ignore", invalid="ignore"):
                room = np.concatenate([iterate[below] / -update[below], (c_max[above] - iterate[above]) / update[above], [np.inf]])
            length = min(1.0, 0.9 * float(np.min(room)))
            last_change = change
            new = iterate + length * update
            change = float(np.max(np.abs(new - iterate)) / max(np.max(np.abs(new)), 1e-300))
            iterate = new
            self._c = iterate
            if change < tolerance and length == 1.0:
                break
        if np.any(iterate < -1e-9 * np.max(iterate)) or np.any(iterate >= c_max):
            self._restore(previous)
            raise FloatingPointError("Li step left the physical range (negative or above c_max); reduce dt")
        return LithiumStepReport(converged=change < tolerance, iterations=iterations, change=change)

    @property
    def linear(self) -> bool:
        """True if the host flux is linear in c (Ω = 0 everywhere): :meth:`frozen_step` is then exact at any linearisation point."""
        return not np.any(self.properties.reduced_interaction)

    def chemical_diffusivity(self, concentration: np.ndarray | None = None) -> np.ndarray:
        """D_chem(θ) = D [1 + 2(Ω/RT) θ(1 − θ)] per cell [m²/s], shape (n_cells,) (module docstring).

        D where there is no site exclusion.
        """
        c = self.concentration if concentration is None else np.asarray(concentration, dtype=float)
        theta = np.where(self.properties.site_limited, c / self.properties.max_concentration, 0.0)
        return self.properties.diffusivity * (1.0 + 2.0 * self.properties.reduced_interaction * theta * (1.0 - theta))

    def frozen_step(self, dt: float, linearised_at: np.ndarray | None = None, sink: np.ndarray | None = None):
        """The implicit step of host Li diffusion from the present c, as a linear map of its source.

        In the hosts Li moves as neutral Li with fast electrons (φ = 0): with
        ψ uniform in each region the flux of the module docstring is
        J = −D c_max ∇K(θ), K(θ) = θ + (Ω/RT)(θ² − 2θ³/3) (θ = c/c_max;
        regions must not touch, no partition jumps), discretised exactly in K:
        J_f = D_f c_max (K_i − K_j)/h = D_f σ_f (c_i − c_j)/h with the secant
        σ_f = (K_i − K_j)/(θ_i − θ_j) = 1 + (Ω/RT)[θ_i + θ_j − (2/3)(θ_i² + θ_iθ_j + θ_j²)].
        σ_f is taken at ``linearised_at`` (default: the present c), so the
        end-of-step concentration is linear in the source,
        c(dt) = A⁻¹ V (c/dt + s). For the ideal lattice gas (Ω = 0) σ_f = 1:
        the step is Fickian with D, exact whatever the linearisation point
        (:attr:`linear`), and equals :meth:`step` with φ = 0 to round-off
        (the logarithmic-mean mobility identity of the module docstring). The
        matrix is factorised once; the returned map solves for any number of
        sources. The state is not changed. The coupled loop iterates the
        linearisation point to convergence when Ω ≠ 0 (:class:`LithiumModule`),
        which makes the result the fully implicit step.

        Parameters
        ----------
        dt
            Time step [s].
        linearised_at
            c [mol/m³] at which σ_f is taken, shape (n_cells,).
        sink
            First-order sink rate k ≥ 0 [1/s], shape (n_cells,): a term −k c
            taken implicitly (it keeps c positive whatever k).

        Returns
        -------
        callable
            ``step(source)``: source [mol/(m³ s)] of shape (n_cells,) or
            (n_cells, k) → end-of-step c [mol/m³] of the same shape.

        Raises
        ------
        ValueError
            If ``dt`` is not positive and finite or ``linearised_at`` has the wrong shape.
        """
        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        at = self._c if linearised_at is None else np.asarray(linearised_at, dtype=float)
        if at.shape != (self.mesh.n_cells,):
            raise ValueError(f"linearisation point must have shape ({self.mesh.n_cells},), got {at.shape}")
        if self.linear:
            coefficient = self._diffusivity_face
        else:
            c_max = np.where(self.properties.site_limited, self.properties.max_concentration, np.inf)
            theta = np.clip(at / c_max, 0.0, 1.0)
            other = np.where(self._interior, self._neighbour, self._owner)
            ti, tj = theta[self._owner], theta[other]
            omega = 0.5 * (self.properties.reduced_interaction[self._owner] + self.properties.reduced_interaction[other])
            secant = 1.0 + omega * (ti + tj - 2.0 / 3.0 * (ti**2 + ti * tj + tj**2))
            coefficient = self._diffusivity_face * secant
        rate = 1.0 / dt + (0.0 if sink is None else np.asarray(sink, dtype=float))
        solve = self._operator.factorized(coefficient, diagonal=self.mesh.r_volumes * rate)
        volumes, stored = self.mesh.r_volumes, self._c / dt

        def step(source: np.ndarray) -> np.ndarray:
            source = np.asarray(source, dtype=float)
            if source.ndim == 2:
                return solve(volumes[:, None] * (stored[:, None] + source))
            return solve(volumes * (stored + source))

        return step

    def _restore(self, values: np.ndarray) -> None:
        self._c = np.array(values, dtype=float)

    def inventory(self, *regions: str) -> float:
        """Li amount 2π ∫ c r dr dz [mol] in the whole film mesh or the named regions."""
        return 2.0 * np.pi * fvm.r_integral(self.mesh, self.concentration, *regions)

    def equilibrium(self, phi: np.ndarray, inventory: float) -> np.ndarray:
        """No-flux equilibrium c [mol/m³] holding ``inventory`` [mol] in the potential ``phi``.

        c exp(u) is uniform (:meth:`drift_potential`): Boltzmann c = K e^{−u₀}
        in LiPON, θ/(1−θ) e^{−(Ω/RT)(1−2θ)} = (K/c_max) e^{−u₀} in the hosts
        (Fermi–Dirac for Ω = 0), u₀ = ψ + Fφ/RT. The host relation is solved
        for θ by Newton's method in ℓ = ln[θ/(1−θ)] (monotone for Ω > −2RT);
        K is found by bisection on log K.

        Raises
        ------
        ValueError
            If the inventory is not positive or exceeds the site capacity.
        """
        u0 = self.properties.partition + FARADAY * np.asarray(phi) / (GAS_CONSTANT * self.properties.temperature)
        limited = self.properties.site_limited
        c_max = np.where(limited, self.properties.max_concentration, 1.0)
        omega = self.properties.reduced_interaction

        def occupancy(y: np.ndarray) -> np.ndarray:
            # θ of ℓ − ω(1 − 2θ(ℓ)) = y, θ(ℓ) = 1/(1 + e^{−ℓ}); h'(ℓ) = 1 + 2ωθ(1 − θ) ≥ 1 + ω/2 > 0
            logit = np.clip(y, -700.0, 700.0)
            if np.any(omega):
                for _ in range(60):
                    theta = expit(logit)
                    residual = logit - omega * (1.0 - 2.0 * theta) - y
                    logit = logit - residual / (1.0 + 2.0 * omega * theta * (1.0 - theta))
                    if np.max(np.abs(residual)) < 1e-15 * max(1.0, float(np.max(np.abs(y)))):
                        break
            return expit(logit)

        def profile(log_k: float) -> np.ndarray:
            y = np.clip(log_k - u0 - np.log(c_max), -700.0, 700.0)
            return np.where(limited, c_max * occupancy(y), np.exp(y))

        def amount(log_k: float) -> float:
            return 2.0 * np.pi * fvm.r_integral(self.mesh, profile(log_k))

        if not (np.isfinite(inventory) and inventory > 0.0):
            raise ValueError(f"inventory must be positive, got {inventory!r}")
        low, high = -800.0, 800.0
        for _ in range(200):
            middle = 0.5 * (low + high)
            if amount(middle) < inventory:
                low = middle
            else:
                high = middle
        result = profile(0.5 * (low + high))
        if abs(2.0 * np.pi * fvm.r_integral(self.mesh, result) / inventory - 1.0) > 1e-9:
            raise ValueError("inventory cannot be held in equilibrium (exceeds the site capacity?)")
        return result


HOST_ELECTRONIC_REFERENCE_TEMPERATURE = 300.0
"""Temperature [K] at which the database's host electronic conductivities are quoted."""


def host_electronic_conductivity(
    theta: np.ndarray,
    pristine: float | np.ndarray,
    polaron: float | np.ndarray,
    activation_energy: float | np.ndarray = 0.0,
    temperature: float | np.ndarray = HOST_ELECTRONIC_REFERENCE_TEMPERATURE,
) -> np.ndarray:
    """Electronic conductivity of a lithiated host [S/m] (small-polaron hopping).

    σ_e(θ, T) = [σ_0 + σ_p θ(1 − θ)] (T_0/T) exp[−(W/k_B)(1/T − 1/T_0)],
    T_0 = :data:`HOST_ELECTRONIC_REFERENCE_TEMPERATURE` (300 K, where σ_0 and
    σ_p are quoted, so values at 300 K do not depend on W).

    θ dependence: a Li⁺ inserted into WO3/MoO3 reduces one metal site
    (W⁶⁺ → W⁵⁺), whose electron hops as a small polaron between reduced and
    unreduced sites, so the hopping conductivity is proportional to the
    product of their fractions, θ(1 − θ). T dependence: the adiabatic
    small-polaron hopping law σ = (A/T) exp(−W/k_B T) with hopping energy W
    (Austin & Mott, Adv. Phys. 18, 41 (1969), Eq. 5.1 form, with x = θ for one
    electron per inserted Li). The same W is applied to σ_0, the conduction
    of the as-deposited film, whose electrons (from oxygen vacancies) hop
    between the same metal sites.

    Parameters
    ----------
    theta : ndarray, shape (n,)
        Site occupancy c/c_max, in [0, 1).
    pristine : float or ndarray, shape (n,)
        σ_0 of the Li-free film at T_0 [S/m] (``electronic_conductivity``).
    polaron : float or ndarray, shape (n,)
        σ_p at T_0 [S/m] (``polaron_conductivity``).
    activation_energy : float or ndarray, shape (n,)
        Polaron hopping energy W [eV] (``polaron_activation_energy``), >= 0;
        0 with T = T_0 gives the 300 K law.
    temperature : float or ndarray, shape (n,)
        T [K], positive.

    Returns
    -------
    ndarray, shape (n,)
        σ_e [S/m].

    Raises
    ------
    ValueError
        If a temperature is not positive and finite or W is negative.
    """
    theta = np.asarray(theta, dtype=float)
    temperature = np.asarray(temperature, dtype=float)
    if not np.all(np.isfinite(temperature) & (temperature > 0.0)):
        raise ValueError("temperature must be positive and finite for the host electronic conductivity")
    if np.any(np.asarray(activation_energy) < 0.0):
        raise ValueError("the polaron hopping energy must not be negative")
    reference = HOST_ELECTRONIC_REFERENCE_TEMPERATURE
    factor = reference / temperature * arrhenius(1.0, activation_energy, temperature, reference)
    return (pristine + polaron * theta * (1.0 - theta)) * factor


def open_circuit_potential(theta: np.ndarray, standard_potential: float, interaction: float, temperature: float) -> np.ndarray:
    """Open-circuit potential of a Li host vs Li/Li⁺ [V] (regular solution).

    U(θ) = U° + (RT/F) ln[(1 − θ)/θ] + (Ω/F)(1 − 2θ): the lattice-gas (Nernst)
    term of an intercalation host plus a mean-field interaction Ω between
    inserted Li (Bazant, Acc. Chem. Res. 46, 1144 (2013), Eq. 9 form; U° is
    the potential at θ = 1/2).

    Parameters
    ----------
    theta : ndarray
        Site occupancy in (0, 1).
    standard_potential : float
        U° [V] (``li_standard_potential``).
    interaction : float
        Ω per Li [J/mol] (``li_interaction_energy`` × F for a value in eV).
    temperature : float
        T [K].

    Raises
    ------
    ValueError
        If θ leaves (0, 1).
    """
    theta = np.asarray(theta, dtype=float)
    if np.any(theta <= 0.0) or np.any(theta >= 1.0):
        raise ValueError("site occupancy must lie in (0, 1) for the open-circuit potential")
    return (
        standard_potential
        + GAS_CONSTANT * temperature / FARADAY * np.log((1.0 - theta) / theta)
        + interaction / FARADAY * (1.0 - 2.0 * theta)
    )


def butler_volmer(
    overpotential: np.ndarray, exchange_current: np.ndarray, alpha: float, temperature: float
) -> tuple[np.ndarray, np.ndarray]:
    """Butler–Volmer current density and its derivative.

    i = i₀ [exp(α f η) − exp(−(1 − α) f η)], f = F/RT, positive anodic
    (Li leaves the host: Li → Li⁺ + e⁻) (Newman & Thomas-Alyea,
    *Electrochemical Systems*, 3rd ed., 2004, Eq. 8.6).

    Parameters
    ----------
    overpotential : ndarray
        η = φ_s − φ_l − U [V].
    exchange_current : ndarray
        i₀ [A/m²].
    alpha : float
        Anodic transfer coefficient α.
    temperature : float
        T [K].

    Returns
    -------
    (ndarray, ndarray)
        i [A/m²] and di/dη [S/m²], same shape as ``overpotential``.

    Raises
    ------
    FloatingPointError
        If |α f η| is so large that the exponentials overflow (the step is too long).
    """
    f = FARADAY / (GAS_CONSTANT * temperature)
    eta = np.asarray(overpotential, dtype=float)
    if np.any(np.abs(eta) * f > 600.0):
        raise FloatingPointError(f"Butler–Volmer overpotential {np.max(np.abs(eta)):.3g} V overflows; reduce dt")
    anodic = np.exp(alpha * f * eta)
    cathodic = np.exp(-(1.0 - alpha) * f * eta)
    i0 = np.asarray(exchange_current, dtype=float)
    return i0 * (anodic - cathodic), i0 * f * (alpha * anodic + (1.0 - alpha) * cathodic)


def exchange_current_density(theta: np.ndarray, reference: float, alpha: float = 0.5) -> np.ndarray:
    """i₀(θ) = 2 i₀,ref θ^(1−α) (1 − θ)^α [A/m²] (site-limited host).

    The exchange current density of an intercalation reaction with a fixed
    electrolyte concentration, i₀ ∝ c_s^(α_c) (c_max − c_s)^(α_a) with
    α_a = α, α_c = 1 − α (Newman & Thomas-Alyea 2004, Eq. 8.19 with c_l
    constant), normalised so that i₀ = i₀,ref at θ = 1/2 when α = 1/2. With
    the lattice-gas U(θ) of :func:`open_circuit_potential` this makes the
    Butler–Volmer current mass-action in θ (:func:`surface_step_current`).

    Parameters
    ----------
    theta : ndarray
        Site occupancy in [0, 1].
    reference : float
        i₀,ref [A/m²].
    alpha : float
        Anodic transfer coefficient α in (0, 1).
    """
    theta = np.clip(np.asarray(theta, dtype=float), 0.0, 1.0)
    return reference * 2.0 * theta ** (1.0 - alpha) * (1.0 - theta) ** alpha


def surface_step_current(
    jump: np.ndarray,
    theta: np.ndarray,
    capacity: np.ndarray,
    dt: float,
    standard_potential: float,
    interaction: float,
    reference_current: float,
    alpha: float,
    temperature: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Butler–Volmer current of a host surface layer over one implicit step, and its slope.

    With U(θ) of :func:`open_circuit_potential` and i₀(θ) of
    :func:`exchange_current_density`, the Butler–Volmer current
    i = i₀(θ)[e^(αfη) − e^(−(1−α)fη)], η = Δφ − U(θ), is the mass-action law

        i = 2 i₀,ref [θ e^(α f x) − (1 − θ) e^(−(1−α) f x)],   x = Δφ − U° − (Ω/F)(1 − 2θ)

    (f = F/RT; Bazant, Acc. Chem. Res. 46, 1144 (2013) for the
    lattice-gas form). The surface layer of areal capacity Q = F c_max h
    [C/m²] (h its volume per interface area) takes the current over the step:
    θ = θ₀ − i dt/Q (implicit Euler; the interaction term is taken at θ₀).
    Linear in θ, this has the closed form

        θ = (θ₀ + s b)/(1 + s a + s b),   i = (θ₀ − θ)/s,   s = dt/Q,

    a, b the anodic and cathodic rate coefficients above, evaluated in
    logarithms so that no overpotential overflows. The current is bounded by
    the layer's content, −(1 − θ₀)/s < i < θ₀/s: a depleted (or filled)
    surface turns the interface into a blocking one and the double layer
    takes the rest, as in a real cell, instead of an unbounded overpotential.

    Parameters
    ----------
    jump : ndarray, shape (n,)
        Δφ = φ_host − φ_electrolyte [V].
    theta : ndarray, shape (n,)
        Occupancy θ₀ of the surface layer at the start of the step, in (0, 1).
    capacity : ndarray, shape (n,)
        Q = F c_max h [C/m²].
    dt : float
        Step [s].
    standard_potential, interaction, reference_current, alpha, temperature : float
        U° [V], Ω [J/mol], i₀,ref [A/m²], α, T [K].

    Returns
    -------
    (ndarray, ndarray, ndarray)
        i [A/m²] (positive: Li leaves the host), di/dΔφ [S/m²] and the
        end-of-step occupancy θ, each shape (n,).

    Raises
    ------
    ValueError
        If θ₀ is outside (0, 1) or dt is not positive.
    """
    theta = np.asarray(theta, dtype=float)
    if np.any(~(theta > 0.0)) or np.any(~(theta < 1.0)):
        raise ValueError("surface occupancy must lie in (0, 1)")
    if not dt > 0.0:
        raise ValueError(f"dt must be positive, got {dt!r}")
    f = FARADAY / (GAS_CONSTANT * temperature)
    x = np.asarray(jump, dtype=float) - standard_potential - interaction / FARADAY * (1.0 - 2.0 * theta)
    s = dt / np.asarray(capacity, dtype=float)
    log_k = np.log(2.0 * reference_current * s)
    log_a = log_k + alpha * f * x  # ln(s a)
    log_b = log_k - (1.0 - alpha) * f * x  # ln(s b)
    log_d = np.logaddexp(0.0, np.logaddexp(log_a, log_b))  # ln(1 + s a + s b)
    theta_end = np.exp(np.logaddexp(np.log(theta), log_b) - log_d)
    current = (theta - theta_end) / s
    # di/dΔφ = (f/s) [α θ (s a)/D + (1 − α)(1 − θ)(s b)/D], D = 1 + s a + s b
    slope = f / s * (alpha * theta_end * np.exp(log_a - log_d) + (1.0 - alpha) * (1.0 - theta_end) * np.exp(log_b - log_d))
    return current, slope, theta_end


@dataclass(frozen=True, eq=False)
class HostInterface:
    """One host/electrolyte interface of the stack (geometry and kinetic parameters).

    Attributes
    ----------
    group : str
        Interface group name (e.g. ``"WO3|LiPON"``).
    host : str
        Host region name.
    cells : ndarray of int, shape (n,)
        Full-mesh indices of the host cells along the interface (one face each).
    weights : ndarray, shape (n,)
        Face length × face r [m²] per radian of each interface face.
    standard_potential, interaction, reference_current, alpha, capacitance : float
        U° [V], Ω [J/mol], i₀,ref [A/m²], α, C_dl [F/m²].
    zero_charge_potential : float
        Δφ at zero double-layer charge [V]: the open-circuit potential of the
        pristine film (*assumed*: the interface is uncharged as fabricated).
    """

    group: str
    host: str
    cells: np.ndarray
    weights: np.ndarray
    standard_potential: float
    interaction: float
    reference_current: float
    alpha: float
    capacitance: float
    zero_charge_potential: float


def host_interfaces(mesh: AxisymmetricMesh, device: Device) -> list[HostInterface]:
    """The host/electrolyte interfaces of ``device`` on the full ``mesh``.

    Raises
    ------
    femion.MeshError
        If an expected interface group is missing.
    femion.MaterialError
        If a host lacks an electrochemical property.
    """
    films = list(device.films)
    result = []
    for lower, upper in zip(films, films[1:]):
        kinds = (device.material(lower.name).kind, device.material(upper.name).kind)
        if set(kinds) != {"host", "electrolyte"}:
            continue
        host = lower.name if kinds[0] == "host" else upper.name
        group = f"{upper.name}|{lower.name}"
        mesh.require(boundaries=(group,))
        faces = np.flatnonzero(mesh.face_mask(group))
        owner, neighbour = mesh.face_cells[faces, 0], mesh.face_cells[faces, 1]
        host_id = mesh.region_names.index(host)
        cells = np.where(mesh.cell_regions[owner] == host_id, owner, neighbour)
        material = device.material(host)
        theta0 = material.value("li_initial_occupancy")
        interaction = material.value("li_interaction_energy") * FARADAY
        u0 = material.value("li_standard_potential")
        result.append(
            HostInterface(
                group=group,
                host=host,
                cells=cells,
                weights=mesh.face_lengths[faces] * mesh.r_face[faces],
                standard_potential=u0,
                interaction=interaction,
                reference_current=material.value("exchange_current_density"),
                alpha=material.value("charge_transfer_coefficient"),
                capacitance=material.value("double_layer_capacitance"),
                zero_charge_potential=float(open_circuit_potential(theta0, u0, interaction, device.temperature)),
            )
        )
    return result


def held_inside(c: np.ndarray, c_max: np.ndarray) -> np.ndarray:
    """Concentrations with the cells on a bound of (0, c_max) by round-off held a few ulp inside it.

    The first-order host step (:meth:`LithiumModule._positive_step`) keeps c
    inside (0, c_max) in exact arithmetic; a cell full (empty) to machine
    precision can still land on the bound by round-off, where U(θ) and the
    Butler–Volmer law are singular. A cell within 8ε c_max past a bound (ε
    the machine epsilon) is set to c_max(1 − 4ε) (to 4ε c_max): a
    round-off-sized amount of Li, which :meth:`LithiumModule._positive_step`
    charges to the double layer at the interface. A cell further out is left
    as it is, for the caller's range check to reject the step.

    Parameters
    ----------
    c : ndarray, shape (n,)
        Concentrations [mol/m³] (or occupancies θ with ``c_max = 1``).
    c_max : ndarray, shape (n,), or float
        Site densities [mol/m³].

    Returns
    -------
    ndarray, shape (n,)
        ``c``, with the cells on a bound by round-off held inside it [mol/m³].
    """
    eps = np.finfo(float).eps
    full = (c >= c_max) & (c <= c_max * (1.0 + 8.0 * eps))
    empty = (c <= 0.0) & (c >= -8.0 * eps * c_max)
    return np.where(full, c_max * (1.0 - 4.0 * eps), np.where(empty, 4.0 * eps * c_max, c))


class LithiumModule:
    """Coupled-loop module for Li: intercalation hosts, electrolyte and their interfaces.

    Model (thin-film battery form of Newman & Thomas-Alyea 2004,
    ch. 22, and of LiPON cells, e.g. Fabre et al., J. Electrochem. Soc. 159,
    A104 (2012)):

    * **Electrolyte (LiPON)**: a single-ion conductor with a fixed anion
      network is electroneutral outside nm-thin double layers, so its Li⁺
      concentration stays c₀ (``li_max_concentration``) and the Li⁺ current
      is ionic conduction, σ_Li(T) ∇φ, solved by the electrostatics module.
    * **Hosts (WO3, MoO3)**: mixed conductors with fast electrons; inserted Li⁺
      moves with its electron as neutral Li by lattice-gas chemical diffusion,
      ∂c/∂t = ∇·[D_chem(θ)∇c], D_chem = D[1 + 2(Ω/RT)θ(1 − θ)] (site
      exclusion in the mobility; :class:`LithiumTransport` with φ = 0, whose
      docstring derives it from U(θ)), blocking at the metal contacts.
    * **Interfaces host/electrolyte**: Butler–Volmer charge transfer
      (:func:`butler_volmer`) with η = Δφ − U(θ_s), U the open-circuit potential
      (:func:`open_circuit_potential`) at the occupancy θ_s of the host cell on
      the interface, i₀(θ_s) (:func:`exchange_current_density`), in parallel
      with a double layer of capacitance C_dl: i = i_F + C_dl ∂Δφ/∂t. The
      faradaic current removes i_F/F of Li per area from the host (positive
      i_F: deintercalation). The double-layer charge q (host side, C/m²)
      fixes Δφ = U_pzc + q/C_dl. Over a time step Butler–Volmer is taken at
      the end-of-step occupancy of the host cell on the interface, which the
      implicit host diffusion step makes a linear function of the interface
      current: θ_s = θ_free − S i_F (θ_free: the step without current; S:
      the response of the diffusion step to a unit, laterally uniform current
      density; :meth:`LithiumTransport.frozen_step`, with D_chem taken at
      the present coupling iterate (exact for Ω = 0, where the step is linear), so that the converged step is fully
      implicit in both the interface law and the host diffusion). The interface law is
      then the closed form of :func:`surface_step_current` with the effective
      layer capacity dt/S, which is the Li the diffusion step can bring to
      the surface in dt (F c_max √(D dt) when the cell is thinner than √(D dt),
      the cell's own content when thicker). The current is thus bounded by
      the Li (or the free sites) within reach of the interface: a depleted
      surface blocks charge transfer and the double layer takes the voltage,
      as in a cell whose electrode runs out of Li at the interface.
    * **Doping**: electronic conductivity of the hosts from the Li content
      and the temperature, activated small-polaron hopping
      (:func:`host_electronic_conductivity`).

    The interface law is linearised at the current iterate (Newton tangent of
    Butler–Volmer) and handed to the potential solve as i = G(Δφ − e)
    (:class:`femion.physics.electrostatics.InterfaceLaw`); the coupling
    iterations are then Newton iterations on the interface, and converge to
    Butler–Volmer exactly. Within every iteration the faradaic and double-layer
    currents add up to the interface current of the potential solve, so Li is
    conserved to round-off in a closed device:
    N_hosts − Σ Q_dl/F is invariant (the electrolyte side of each double layer
    holds −q of Li⁺ charge).

    Owns ``c_li`` [mol/m³] (film cells; c₀ in the electrolyte) and ``q_dl``
    [C/m²] (on the host cells along each interface; zero elsewhere); reads
    ``phi`` and ``i_interface`` (electrostatics).

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device.
    initial
        Initial c on the film cells [mol/m³], or None for the as-fabricated
        state: hosts at ``li_initial_occupancy``, electrolyte at c₀, uncharged
        double layers.

    Raises
    ------
    ValueError
        If the device has no host/electrolyte interface.
    """

    name = "lithium"
    owns = ("c_li", "q_dl")
    reads = ("phi", "i_interface")
    units = {"c_li": "mol/m^3", "q_dl": "C/m^2", "open_circuit_voltage": "V"}
    # C/m²: with the coupling tolerance 1e-6, a small q_dl converges to 1e-8 C/m² (0.1 µV across 0.1 F/m²);
    # relative to q itself the round-off of the potential solve across stiff interfaces would never settle.
    field_scales = {"q_dl": 0.01}

    def __init__(self, mesh: AxisymmetricMesh, device: Device, initial: np.ndarray | None = None):
        self.mesh = mesh
        self.device = device
        self.temperature = device.temperature
        self.films = mesh.submesh(lithium_regions(device))
        self.units = {**type(self).units, **{f"li_inventory_{region}": "mol" for region in self.films.region_names}}
        host_names = tuple(layer.name for layer in device.films if device.material(layer.name).kind == "host")
        self.hosts = mesh.submesh(host_names)
        self.properties = lithium_properties(self.hosts, device)
        self.interfaces_ = host_interfaces(mesh, device)
        if not self.interfaces_:
            raise ValueError("the device has no host/electrolyte interface for the Li electrochemistry")
        self._film_cells = self.films.parent_cells
        self._host_cells = self.hosts.parent_cells
        self._host_index = np.full(mesh.n_cells, -1)
        self._host_index[self._host_cells] = np.arange(self.hosts.n_cells)
        c_max = np.zeros(mesh.n_cells)
        c_max[self._host_cells] = self.properties.max_concentration
        self._c_max = c_max
        if initial is None:
            initial = np.zeros(self.films.n_cells)
            for region in self.films.region_names:
                material = device.material(region)
                fraction = material.value("li_initial_occupancy") if material.kind == "host" else 1.0
                initial[self.films.region_mask(region)] = fraction * material.value("li_max_concentration")
        self._initial = np.asarray(initial, dtype=float)
        if self._initial.shape != (self.films.n_cells,):
            raise ValueError(f"initial Li must have shape ({self.films.n_cells},), got {self._initial.shape}")
        full = np.zeros(mesh.n_cells)
        full[self._film_cells] = self._initial
        self.transport = LithiumTransport(self.hosts, self.properties, full[self._host_cells])
        pristine, polaron, hopping = [], [], []
        for region in self.hosts.region_names:
            material = device.material(region)
            pristine.append(material.value("electronic_conductivity"))
            polaron.append(material.value("polaron_conductivity"))
            hopping.append(material.value("polaron_activation_energy"))
        self._pristine = np.array(pristine)[self.hosts.cell_regions]
        self._polaron = np.array(polaron)[self.hosts.cell_regions]
        self._hopping = np.array(hopping)[self.hosts.cell_regions]
        self._laws: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._response: tuple | None = None  # (dt, start c, iterate c, step map, θ_free, S) of the host step
        unit = np.zeros(mesh.n_cells)
        for interface in self.interfaces_:  # 1 A/m² of faradaic current leaving each host through its interface
            unit[interface.cells] = -interface.weights / (FARADAY * mesh.r_volumes[interface.cells])
        self._unit_current_source = unit[self._host_cells]

    # ------------------------------------------------------------ fields
    def initialize(self, state) -> None:
        """Put the initial Li field and uncharged double layers into ``state``."""
        field = np.zeros(self.mesh.n_cells)
        field[self._film_cells] = self._initial
        state.fields["c_li"] = field
        state.fields["q_dl"] = np.zeros(self.mesh.n_cells)

    def occupancy(self, state) -> np.ndarray:
        """θ = c/c_max in the host cells, 0 elsewhere, shape (n_cells,)."""
        c = state.fields["c_li"]
        return np.where(self._c_max > 0.0, c / np.where(self._c_max > 0.0, self._c_max, 1.0), 0.0)

    def conductivity(self, state, kappa: np.ndarray) -> None:
        """Overwrite κ [S/m] in the host cells with the Li-doped electronic conductivity (in place).

        :func:`host_electronic_conductivity` at the host cells' occupancy and
        temperature: the field ``T`` where a thermal module provides it, else
        the device temperature.
        """
        theta = self.occupancy(state)[self._host_cells]
        temperature = state.fields["T"][self._host_cells] if "T" in state.fields else self.temperature
        kappa[self._host_cells] = host_electronic_conductivity(theta, self._pristine, self._polaron, self._hopping, temperature)

    # -------------------------------------------------------- interfaces
    def _kinetics(self, interface: HostInterface, state) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        theta = np.clip(self.occupancy(state)[interface.cells], 1e-300, 1.0 - 1e-16)
        u = open_circuit_potential(theta, interface.standard_potential, interface.interaction, self.temperature)
        i0 = exchange_current_density(theta, interface.reference_current, interface.alpha)
        return theta, u, i0

    def interfaces(self, state, dt: float, start) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
        """Interface laws i = G(Δφ − e) linearised at ``state`` for the potential solve.

        Returns
        -------
        list of (str, ndarray, ndarray, ndarray)
            Per interface: group name, host cells (full mesh), G [S/m²] and e [V].
        """
        laws = []
        for interface in self.interfaces_:
            capacitance = interface.capacitance
            jump = interface.zero_charge_potential + state.fields["q_dl"][interface.cells] / capacitance
            jump_old = interface.zero_charge_potential + start.fields["q_dl"][interface.cells] / capacitance
            current, slope = self._faradaic(interface, state, start, jump, dt)
            conductance = slope + capacitance / dt
            emf = jump - (current + capacitance * (jump - jump_old) / dt) / conductance
            self._laws[interface.group] = (conductance, emf, jump, current, slope)
            laws.append((interface.group, interface.cells, conductance, emf))
        return laws

    def _faradaic(self, interface: HostInterface, state, start, jump: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
        """Faradaic current density i_F [A/m²] at the jump Δφ and its derivative di_F/dΔφ [S/m²].

        Butler–Volmer at the end-of-step occupancy θ_s = θ_free − S i_F of the
        host cell on the interface (:meth:`_host_step`), in the closed form of
        :func:`surface_step_current` with the layer capacity dt/S.
        """
        _, theta, response = self._host_step(state, start, dt)
        # a surface cell held a few ulp inside a bound (held_inside) can step onto it by round-off: hold it again
        theta, response = held_inside(theta[interface.cells], 1.0), response[interface.cells]
        if np.any(theta <= 0.0) or np.any(theta >= 1.0):
            raise FloatingPointError(f"host {interface.host} surface occupancy left (0, 1); reduce dt")
        current, slope, _ = surface_step_current(
            jump, theta, dt / response, dt, interface.standard_potential, interface.interaction,
            interface.reference_current, interface.alpha, self.temperature,
        )
        return current, slope

    def _host_step(self, state, start, dt: float):
        """The host diffusion step of ``dt`` from ``start``, linearised at the iterate ``state``.

        Returns the step map (:meth:`LithiumTransport.frozen_step`) and, as
        full-mesh arrays, θ_free (occupancy after the step without interface
        current) and S [m²/A] (decrease of θ per A/m² of faradaic current
        leaving every interface uniformly). Kept while the same step and
        iterate are in use (the interface laws and :meth:`advance` of one
        coupling iteration share them); for a linear host law
        (:attr:`LithiumTransport.linear`) the iterate does not matter and the
        step is kept for all coupling iterations of the time step.
        """
        c_start = start.fields["c_li"][self._host_cells]
        c_iterate = state.fields["c_li"][self._host_cells]
        cached = self._response
        if (cached is None or cached[0] != dt or not np.array_equal(cached[1], c_start)
                or not (self.transport.linear or np.array_equal(cached[2], c_iterate))):
            self.transport._restore(c_start)
            step = self.transport.frozen_step(dt, linearised_at=c_iterate)
            solution = step(np.column_stack([np.zeros(self.hosts.n_cells), self._unit_current_source]))
            c_max = self._c_max[self._host_cells]
            theta, response = np.zeros(self.mesh.n_cells), np.zeros(self.mesh.n_cells)
            theta[self._host_cells] = solution[:, 0] / c_max
            response[self._host_cells] = (solution[:, 0] - solution[:, 1]) / c_max
            cached = self._response = (dt, c_start.copy(), c_iterate.copy(), step, theta, response)
        return cached[3], cached[4], cached[5]

    def advance(self, state, dt: float, start):
        """One implicit step of host Li and double-layer charge, given the interface currents of ``state``.

        The host diffusion step is the one the interface laws of this iterate
        were built on (D_chem at the iterate); the coupling iterations
        converge it together with the interface law.

        Raises
        ------
        FloatingPointError
            If a host concentration leaves (0, c_max) (the step is rejected and retried with a smaller dt).
        """
        from femion.coupling import ModuleReport

        source = np.zeros(self.mesh.n_cells)
        q_dl = np.zeros(self.mesh.n_cells)
        step, theta_free, response = self._host_step(state, start, dt)
        for interface in self.interfaces_:
            if interface.group not in self._laws:
                self.interfaces(state, dt, start)
            conductance, emf, jump_k, current_k, slope_k = self._laws[interface.group]
            total = state.fields["i_interface"][interface.cells]
            jump = total / conductance + emf
            # Newton: the faradaic current of the linearised law the potential solve used; at
            # convergence the linearisation point is the solution.
            faradaic = current_k + slope_k * (jump - jump_k)
            # The linearisation may overshoot the Li within reach of the interface in an early iterate; keep
            # the iterate inside the bounds of the law itself (never active at the converged solution).
            theta, s = theta_free[interface.cells], response[interface.cells]
            faradaic = np.clip(faradaic, -(1.0 - 1e-9) * (1.0 - theta) / s, (1.0 - 1e-9) * theta / s)
            q_dl[interface.cells] = start.fields["q_dl"][interface.cells] + (total - faradaic) * dt
            source[interface.cells] = -faradaic * interface.weights / (FARADAY * self.mesh.r_volumes[interface.cells])
        self._laws.clear()
        c_max = self._c_max[self._host_cells]
        c_host, converged, iterations, change = self._diffusion(
            step, source[self._host_cells], dt, start.fields["c_li"][self._host_cells], state.fields["c_li"][self._host_cells]
        )
        if np.any(c_host <= 0.0) or np.any(c_host >= c_max):
            c_host = self._positive_step(state, start, dt, source, q_dl)
            converged, iterations, change = True, 1, 0.0
        if not np.all(np.isfinite(c_host)) or np.any(c_host <= 0.0) or np.any(c_host >= c_max):
            theta = c_host / c_max
            worst = int(np.argmin(np.minimum(theta, 1.0 - theta)))
            r, z = self.hosts.cell_centroids[worst]
            raise FloatingPointError(
                f"Li host step left the physical range (0, c_max): θ = {theta[worst]:.3g} in "
                f"{self.hosts.region_names[self.hosts.cell_regions[worst]]} at r = {r * 1e6:.4g} µm, "
                f"z = {z * 1e9:.5g} nm; reduce dt"
            )
        self.transport._restore(c_host)
        field = start.fields["c_li"].copy()
        field[self._host_cells] = c_host
        state.fields["c_li"] = field
        state.fields["q_dl"] = q_dl
        return ModuleReport(converged=converged, iterations=iterations, residual=change)

    def _diffusion(
        self, step, source: np.ndarray, dt: float, c_start: np.ndarray, linearised_at: np.ndarray,
        tolerance: float = 1e-10, max_iterations: int = 50,
    ):
        """The host step under the interface ``source`` [mol/(m³ s)], D_chem(θ) iterated to ``tolerance``.

        The first iterate is ``step`` (linearised at ``linearised_at``, the
        coupling iterate the interface laws were built on); for a linear host
        law (Ω = 0, :attr:`LithiumTransport.linear`) it is the step. Otherwise D_chem is then
        re-taken at each new iterate (Picard) until the relative change is
        below ``tolerance``, so the coupling iterations need not converge the
        host nonlinearity as well (each of them may run expensive modules,
        e.g. mechanics). Once the coupling has converged the first iterate
        already equals its linearisation point and no further factorisation is
        made. Stops early if an iterate leaves (0, c_max).

        Returns
        -------
        (ndarray, bool, int, float)
            c [mol/m³] on the host cells, converged, iterations, last relative change.
        """
        c_max = self._c_max[self._host_cells]
        c_host = step(source)
        change = float(np.max(np.abs(c_host - linearised_at)) / np.max(np.abs(c_host)))
        self.transport._restore(c_start)
        for iteration in range(1, max_iterations + 1):
            if np.any(c_host <= 0.0) or np.any(c_host >= c_max) or not np.all(np.isfinite(c_host)):
                return c_host, False, iteration, change
            if self.transport.linear:
                return c_host, True, iteration, 0.0
            if change < tolerance:
                return c_host, True, iteration, change
            new = self.transport.frozen_step(dt, linearised_at=c_host)(source)
            change = float(np.max(np.abs(new - c_host)) / np.max(np.abs(new)))
            c_host = new
        return c_host, change < tolerance, max_iterations, change

    def _positive_step(self, state, start, dt: float, source: np.ndarray, q_dl: np.ndarray) -> np.ndarray:
        """The host step with the interface exchange taken first-order in the surface cell's Li (or free sites).

        Used when the prescribed exchange ``source`` would push a host cell out
        of (0, c_max): the law's S is the response to a laterally uniform
        current, and where the current varies steeply along the interface (the
        electrode edge) a nearly emptied (filled) surface cell can overshoot.
        The removal s = −ρ becomes −k c with k = ρ/c_pred (c_pred the
        occupancy the law assumed), the insertion s = ρ′ becomes
        k′ (c_max − c) with k′ = ρ′/(c_max − c_pred); both equal the prescribed
        exchange at c = c_pred and keep c inside (0, c_max) in exact arithmetic
        (the matrix stays an M-matrix, for c and for c_max − c); a cell that
        round-off puts on a bound is held a few ulp inside it. The exchanged Li
        is then what the cells actually took, and ``q_dl`` (modified in place)
        takes the rest of the interface current, so Li stays conserved.
        """
        source_host = source[self._host_cells]
        c_max = self._c_max[self._host_cells]
        _, theta_free, response = self._host_step(state, start, dt)
        sink = np.zeros(self.hosts.n_cells)
        gain = np.zeros(self.hosts.n_cells)
        for interface in self.interfaces_:
            rows = self._host_index[interface.cells]
            rate = source_host[rows]
            volume_per_area = self.mesh.r_volumes[interface.cells] / interface.weights
            faradaic = -rate * FARADAY * volume_per_area
            predicted = np.clip(theta_free[interface.cells] - response[interface.cells] * faradaic, 1e-12, 1.0 - 1e-12)
            removal, insertion = rate < 0.0, rate > 0.0
            sink[rows[removal]] = -rate[removal] / (predicted[removal] * c_max[rows[removal]])
            k_insert = rate[insertion] / ((1.0 - predicted[insertion]) * c_max[rows[insertion]])
            sink[rows[insertion]] = k_insert
            gain[rows[insertion]] = k_insert * c_max[rows[insertion]]
        self.transport._restore(start.fields["c_li"][self._host_cells])
        step = self.transport.frozen_step(dt, linearised_at=state.fields["c_li"][self._host_cells], sink=sink)
        solved = step(gain)
        # a cell on a bound by round-off is held inside it; at the interface the Li that moves is charged to the
        # double layer (a cell away from it moves by at most 8 ulp of c_max, a round-off-sized loss)
        c_host = held_inside(solved, c_max)
        for interface in self.interfaces_:
            rows = self._host_index[interface.cells]
            held = (solved[rows] - c_host[rows]) / dt
            taken = gain[rows] - sink[rows] * solved[rows] - held  # mol/(m³ s) actually exchanged
            faradaic = -taken * FARADAY * self.mesh.r_volumes[interface.cells] / interface.weights
            total = state.fields["i_interface"][interface.cells]
            q_dl[interface.cells] = start.fields["q_dl"][interface.cells] + (total - faradaic) * dt
        return c_host

    # ------------------------------------------------------- observables
    def double_layer_charge(self, state) -> dict[str, float]:
        """Host-side double-layer charge Q_dl = 2π ∮ q r ds [C] of each interface."""
        return {
            interface.group: float(2.0 * np.pi * np.sum(state.fields["q_dl"][interface.cells] * interface.weights))
            for interface in self.interfaces_
        }

    def open_circuit_voltage(self, state) -> float:
        """Open-circuit voltage of the stack [V]: area-weighted U(θ_s) of the top host minus that of the bottom host.

        V_oc = Ū_top − Ū_bottom is what the top electrode would read at zero
        current with uncharged double layers relaxed (the nanobattery emf).
        """
        values = []
        for interface in self.interfaces_:
            _, u, _ = self._kinetics(interface, state)
            values.append(float(np.sum(u * interface.weights) / np.sum(interface.weights)))
        return values[-1] - values[0] if len(values) > 1 else values[0]

    def inventory(self, state) -> float:
        """Conserved Li amount [mol]: hosts + electrolyte − Σ Q_dl/F (closed device)."""
        c = state.fields["c_li"][self._film_cells]
        return 2 * np.pi * fvm.r_integral(self.films, c) - sum(self.double_layer_charge(state).values()) / FARADAY

    def observables(self, state) -> dict[str, float]:
        """Li inventory of each film [mol] (electrolyte including its double-layer Li⁺) and V_oc [V]."""
        c = state.fields["c_li"][self._film_cells]
        result = {f"li_inventory_{region}": 2 * np.pi * fvm.r_integral(self.films, c, region) for region in self.films.region_names}
        electrolyte = [r for r in self.films.region_names if self.device.material(r).kind == "electrolyte"]
        if electrolyte:
            result[f"li_inventory_{electrolyte[0]}"] -= sum(self.double_layer_charge(state).values()) / FARADAY
        result["open_circuit_voltage"] = self.open_circuit_voltage(state)
        return result
