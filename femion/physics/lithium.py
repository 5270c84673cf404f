"""Li⁺ transport in the films: Nernst–Planck with partition and site exclusion (MODEL.md §3.2).

Equations (axisymmetric, per radian, SI)
----------------------------------------
In the films (WO3, LiPON, MoO3 of the reference device), for the Li
concentration c [mol/m³]:

    ∂c/∂t = −∇·J,      J = −D c ∇(μ/RT)
    μ/RT = ψ_k + ln c + z F φ/(RT) − s_k ln(1 − c/c_max,k)

with layer-wise diffusivity D_k(T) = D_k(T₀) exp[−(E_a/k_B)(1/T − 1/T₀)]
(Arrhenius, T₀ = 300 K; Einstein mobility D/RT per mole), charge number
z = 1, the potential φ from :mod:`femion.physics.electrostatics`, a partition
energy ψ_k = μ°_k/RT per layer (Li standard chemical potential relative to
LiPON; ``li_partition_energy``), and site exclusion (s_k = 1) in the hosts
only: θ = c/c_max is the site occupancy of LixWO3 / LixMoO3 (lattice-gas
chemical potential ln[θ/(1−θ)]). LiPON is a single-ion conductor whose Li
content is far from any site limit (s = 0); its D and ionic conductivity are
tied by Nernst–Einstein, σ = F² D c / RT.

Writing u = ψ + zFφ/RT − s ln(1−θ), the flux is J = −D (∇c + c ∇u). All
boundaries are blocking (closed device), so the Li inventory is conserved.

Discretisation
--------------
Finite volumes on FiPy with the r-weighting of :mod:`femion.fvm`. The
face flux is the exponentially fitted Scharfetter–Gummel flux
J_ij = (D_f/h)[B(Δu) c_i − B(−Δu) c_j], B(x) = x/(eˣ − 1), Δu = u_j − u_i
taken across each face, jumps of ψ at layer interfaces included. It vanishes
exactly for c_j/c_i = e^{−Δu}, so a discrete Boltzmann (or, with site
exclusion, Fermi–Dirac) equilibrium stays put to round-off: chemical-potential
continuity across interfaces without interface unknowns. FiPy's
``ExponentialConvectionTerm`` implements this flux but replaces it by central
differencing for |Péclet| < 10⁻³, which breaks exact equilibrium;
:class:`ScharfetterGummelConvectionTerm` supplies the exact weight. Time
integration is implicit Euler; the site-exclusion part of u is lagged and
iterated (Picard) to a tolerance within each step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fipy import FaceVariable
from fipy.terms.exponentialConvectionTerm import ExponentialConvectionTerm
from fipy.tools import numerix

from femion import fvm
from femion.config import Device
from femion.constants import BOLTZMANN, EV, FARADAY, GAS_CONSTANT
from femion.mesh import AxisymmetricMesh
from femion.physics import arrhenius

__all__ = [
    "LithiumModule",
    "LithiumProperties",
    "LithiumStepReport",
    "LithiumTransport",
    "ScharfetterGummelConvectionTerm",
    "host_electronic_conductivity",
    "lithium_properties",
    "lithium_regions",
    "scharfetter_gummel_weight",
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
    """

    diffusivity: np.ndarray
    max_concentration: np.ndarray
    partition: np.ndarray
    temperature: float

    @property
    def site_limited(self) -> np.ndarray:
        """Cells with site exclusion, shape (n_cells,)."""
        return np.isfinite(self.max_concentration)


def lithium_properties(mesh: AxisymmetricMesh, device: Device, temperature: float | None = None) -> LithiumProperties:
    """Li parameters of each film cell from the materials database.

    In the hosts ``li_diffusivity`` (at 300 K) and
    ``li_diffusivity_activation_energy`` give D(T); hosts (material kind
    ``host``) are site-limited with ``li_max_concentration`` and carry
    ``li_partition_energy``. The electrolyte is the reference (ψ = 0) without
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
    diffusivity, maximum, partition = [], [], []
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
            partition.append(material.value("li_partition_energy") * EV / (BOLTZMANN * temperature))
        else:
            maximum.append(np.inf)
            partition.append(0.0)
    index = mesh.cell_regions
    return LithiumProperties(
        diffusivity=np.array(diffusivity)[index],
        max_concentration=np.array(maximum)[index],
        partition=np.array(partition)[index],
        temperature=temperature,
    )


@dataclass(frozen=True)
class LithiumStepReport:
    """Outcome of one implicit Li step.

    Attributes
    ----------
    converged : bool
        Picard iteration on the site-exclusion term met the tolerance.
    iterations : int
        Picard iterations used.
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
        On a concentration of wrong shape, negative, non-finite, or at/above c_max.
    """

    def __init__(self, mesh: AxisymmetricMesh, properties: LithiumProperties, concentration: np.ndarray):
        self.mesh = mesh
        self.properties = properties
        self._check(concentration)
        self.c = fvm.cell_variable(mesh, np.asarray(concentration, dtype=float), name="c_li", has_old=True)
        self._diffusivity_face = fvm.face_values_harmonic(mesh, properties.diffusivity)
        self._velocity = FaceVariable(mesh=mesh.fipy, rank=1, value=0.0)
        self._normals = np.asarray(mesh.fipy.faceNormals)
        self._interior = mesh.face_cells[:, 1] >= 0
        r_face = fvm.r_face(mesh)
        self._equation = fvm.transient_term(mesh) == fvm.diffusion_term(
            mesh, self._diffusivity_face
        ) - ScharfetterGummelConvectionTerm(coeff=self._velocity * r_face)

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
        return np.array(self.c.value)

    def occupancy(self) -> np.ndarray:
        """θ = c/c_max in the hosts, 0 elsewhere, shape (n_cells,)."""
        return np.where(self.properties.site_limited, self.concentration / self.properties.max_concentration, 0.0)

    def drift_potential(self, phi: np.ndarray, concentration: np.ndarray | None = None) -> np.ndarray:
        """u = ψ + Fφ/RT − s ln(1 − θ) per cell [1], shape (n_cells,)."""
        c = self.concentration if concentration is None else concentration
        theta = np.where(self.properties.site_limited, c / self.properties.max_concentration, 0.0)
        return (
            self.properties.partition
            + FARADAY * np.asarray(phi) / (GAS_CONSTANT * self.properties.temperature)
            - np.log1p(-theta)
        )

    def _set_velocity(self, u: np.ndarray) -> None:
        owner, neighbour = self.mesh.face_cells[:, 0], self.mesh.face_cells[:, 1]
        gradient = np.zeros(len(self.mesh.faces))
        interior = self._interior
        distance = np.asarray(self.mesh.fipy._cellDistances)
        gradient[interior] = (u[neighbour[interior]] - u[owner[interior]]) / distance[interior]
        self._velocity.setValue(-self._diffusivity_face * gradient * self._normals)

    def step(self, phi: np.ndarray, dt: float, tolerance: float = 1e-10, max_iterations: int = 50) -> LithiumStepReport:
        """Advance c by one implicit-Euler step of ``dt`` [s] in the potential ``phi`` [V] (cells).

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
        self.c.updateOld()
        iterate = previous
        change = np.inf
        iterations = 0
        for iterations in range(1, max_iterations + 1):
            self._set_velocity(self.drift_potential(phi, iterate))
            self._equation.sweep(var=self.c, dt=dt)
            new = self.concentration
            if not np.all(np.isfinite(new)):
                self._restore(previous)
                raise FloatingPointError("Li step produced non-finite concentrations")
            change = float(np.max(np.abs(new - iterate)) / max(np.max(np.abs(new)), 1e-300))
            iterate = new
            if not np.any(self.properties.site_limited) or change < tolerance:
                break
        if np.any(iterate < -1e-9 * np.max(iterate)) or np.any(iterate >= self.properties.max_concentration):
            self._restore(previous)
            raise FloatingPointError("Li step left the physical range (negative or above c_max); reduce dt")
        return LithiumStepReport(converged=change < tolerance or not np.any(self.properties.site_limited), iterations=iterations, change=change)

    def _restore(self, values: np.ndarray) -> None:
        self.c.setValue(values)
        self.c.updateOld()

    def inventory(self, *regions: str) -> float:
        """Li amount 2π ∫ c r dr dz [mol] in the whole film mesh or the named regions."""
        return 2.0 * np.pi * fvm.r_integral(self.mesh, self.concentration, *regions)

    def equilibrium(self, phi: np.ndarray, inventory: float) -> np.ndarray:
        """No-flux equilibrium c [mol/m³] holding ``inventory`` [mol] in the potential ``phi``.

        c exp(u) is uniform: Boltzmann c = K e^{−u₀} in LiPON, Fermi–Dirac
        θ/(1−θ) = (K/c_max) e^{−u₀} in the hosts, u₀ = ψ + Fφ/RT. K is found by
        bisection on log K.

        Raises
        ------
        ValueError
            If the inventory is not positive or exceeds the site capacity.
        """
        u0 = self.properties.partition + FARADAY * np.asarray(phi) / (GAS_CONSTANT * self.properties.temperature)
        limited = self.properties.site_limited
        c_max = np.where(limited, self.properties.max_concentration, 1.0)

        def profile(log_k: float) -> np.ndarray:
            x = np.exp(np.clip(log_k - u0, -700.0, 700.0))  # K e^{−u₀} [mol/m³]
            return np.where(limited, c_max * x / (c_max + x), x)

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


def host_electronic_conductivity(theta: np.ndarray, pristine: float, polaron: float) -> np.ndarray:
    """Electronic conductivity of a lithiated host [S/m] (small-polaron hopping).

    σ_e(θ) = σ_0 + σ_p θ(1 − θ): a Li⁺ inserted into WO3/MoO3 reduces one
    metal site (W⁶⁺ → W⁵⁺), whose electron hops as a small polaron between
    reduced and unreduced sites, so the hopping conductivity is proportional
    to the product of their fractions, θ(1 − θ) (Austin & Mott, Adv. Phys. 18,
    41 (1969), Eq. 5.1 form, with x = θ for one electron per inserted Li).

    Parameters
    ----------
    theta : ndarray
        Site occupancy c/c_max, in [0, 1).
    pristine : float
        σ_0 of the Li-free film [S/m] (``electronic_conductivity``).
    polaron : float
        σ_p [S/m] (``polaron_conductivity``).
    """
    theta = np.asarray(theta, dtype=float)
    return pristine + polaron * theta * (1.0 - theta)


class LithiumModule:
    """Coupled-loop module for Li (see :mod:`femion.coupling`).

    Owns ``c_li`` [mol/m³] (film cells; zero elsewhere); reads ``phi``.
    Provides the Li-dependent conductivity of the films: LiPON ionic
    σ = F² D c / RT (Nernst–Einstein, MODEL.md §3.2) and, in the hosts,
    :func:`host_electronic_conductivity` plus their (small) ionic part.

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device.
    initial
        Initial c on the film cells [mol/m³], or None for the no-bias
        equilibrium that holds the Li of the pristine LiPON glass
        (``li_max_concentration`` × LiPON volume).
    """

    name = "lithium"
    owns = ("c_li",)
    reads = ("phi",)

    def __init__(self, mesh: AxisymmetricMesh, device: Device, initial: np.ndarray | None = None):
        self.mesh = mesh
        self.device = device
        self.films = mesh.submesh(lithium_regions(device))
        self._cells = self.films.parent_cells
        self.properties = lithium_properties(self.films, device)
        start = np.ones(self.films.n_cells) if initial is None else np.asarray(initial, dtype=float)
        self.transport = LithiumTransport(self.films, self.properties, start)
        if initial is None:
            electrolyte = [layer for layer in device.films if device.material(layer.name).kind == "electrolyte"]
            inventory = sum(
                2 * np.pi * fvm.r_integral(self.films, np.full(self.films.n_cells, device.material(layer.name).value("li_max_concentration")), layer.name)
                for layer in electrolyte
            )
            self.transport = LithiumTransport(
                self.films, self.properties, self.transport.equilibrium(np.zeros(self.films.n_cells), inventory)
            )
        rt = GAS_CONSTANT * self.properties.temperature
        self._ionic_per_concentration = FARADAY**2 * self.properties.diffusivity / rt
        pristine, polaron = [], []
        for region in self.films.region_names:
            material = device.material(region)
            pristine.append(material.value("electronic_conductivity"))
            polaron.append(material.value("polaron_conductivity") if material.kind == "host" else 0.0)
        self._pristine = np.array(pristine)[self.films.cell_regions]
        self._polaron = np.array(polaron)[self.films.cell_regions]

    def initialize(self, state) -> None:
        """Put the initial Li field into ``state``."""
        field = np.zeros(self.mesh.n_cells)
        field[self._cells] = self.transport.concentration
        state.fields["c_li"] = field

    def conductivity(self, state, kappa: np.ndarray) -> None:
        """Overwrite κ [S/m] in the film cells with the Li-dependent value (in place)."""
        c = state.fields["c_li"][self._cells]
        theta = np.where(self.properties.site_limited, c / np.where(self.properties.site_limited, self.properties.max_concentration, 1.0), 0.0)
        kappa[self._cells] = host_electronic_conductivity(theta, self._pristine, self._polaron) + self._ionic_per_concentration * c

    def advance(self, state, dt: float, start):
        """One implicit Li step from ``start`` in the potential of ``state``."""
        from femion.coupling import ModuleReport

        self.transport._restore(start.fields["c_li"][self._cells])
        report = self.transport.step(state.fields["phi"][self._cells], dt)
        field = np.zeros(self.mesh.n_cells)
        field[self._cells] = self.transport.concentration
        state.fields["c_li"] = field
        return ModuleReport(converged=report.converged, iterations=report.iterations, residual=report.change)

    def observables(self, state) -> dict[str, float]:
        """Li inventory of each film [mol] in ``state``."""
        c = state.fields["c_li"][self._cells]
        return {
            f"li_inventory_{region}": 2 * np.pi * fvm.r_integral(self.films, c, region)
            for region in self.films.region_names
        }
