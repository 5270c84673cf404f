"""Oxygen vacancies: field-accelerated hopping, generation, filament conductivity.

Equations (axisymmetric, per radian, SI)
----------------------------------------
In the films (WO3, LiPON, MoO3), for the V_O density N [1/m³] (charge number
z = +2):

    ∂N/∂t = −∇·J + G,        J = −D ∇N + v N
    D = ½ a² f exp(−E_a/k_BT)                               (hopping diffusivity)
    v = a f exp(−E_a/k_BT) sinh(z e a |E| / 2k_BT) Ê        (field-accelerated drift along E)

(Mott–Gurney ion hopping as used by continuum valence-change models; a the
hopping distance, f the attempt frequency: JART VCM v1b, Bengel et al., IEEE
TCAS-I 67, 4618 (2020); E_a ≈ 1.7 eV for O²⁻, paper ref. 36.) With this D the
drift reduces at low field to the Einstein mobility, v → (z e D / k_BT) E
(tested). All film boundaries are blocking for V_O (the electrodes do not
exchange oxygen), so without generation the V_O inventory is conserved.
T is the temperature field of :mod:`femion.physics.thermal` (Joule heating);
it enters every Arrhenius factor here.

Volatile channel (why a thin filament dissolves and a thick one does not)
-------------------------------------------------------------------------
One barrier cannot give both modes at 300 K (a 5 nm filament
dissolving in ~1 ms needs ~0.5 eV; at 1.7 eV it lasts ~10¹¹ s). femion uses a
density-dependent barrier: isolated (dilute) vacancies hop with a low barrier
E_d, while vacancies in a dense, condensed sub-oxide column are bound and hop
with the paper's E_a:

    E_a(N) = E_d + (E_b − E_d) N² / (N² + N_c²)

with N_c the condensation density. Reduced oxides condense V_O into ordered
sub-oxide (Magnéli-type) phases, observed as the conducting filaments of TiO2
cells (Kwon et al., Nat. Nanotechnol. 5, 148 (2010)); isolated charged
vacancies in transition-metal oxides migrate over barriers of a few tenths of
an eV. So a filament whose density stays below N_c (small compliance, little
V_O) spreads out by fast dilute diffusion when the field is removed (volatile),
while one that exceeded N_c keeps a bound core (non-volatile). E_d and N_c are
*assumed* (materials database, ``vo_dilute_activation_energy``,
``vo_condensation_concentration``): the mechanism is documented, its numbers
are calibration knobs, not paper results.

Generation (forming)
--------------------
Mobile O / V_O pairs are created where the local field is high, by the
thermochemical bond-breaking law (McPherson & Mogul, J. Appl. Phys. 84, 1513
(1998); McPherson et al., APL 82, 2121 (2003)):

    G = (N_max − N) f exp[−(ΔH − e ℓ |E|)/k_BT] · s(|E|),
    s(E) = ½ erfc[(E_th − E) / (√2 σ_th)]

ΔH the bond-breaking enthalpy and ℓ the effective dipole length that lowers it
in a field (``vo_generation_energy``, ``vo_generation_dipole_length``:
*assumed*). s is the fraction of sites whose threshold field is below |E|,
for threshold fields spread normally about E_th with standard deviation σ_th
(bond-strength disorder of the amorphous film; ``vo_generation_threshold_field``,
``vo_generation_threshold_spread``: *assumed*). In LiPON it represents the
phosphate-chain breaking the paper reports at high forming voltage (paper
§2.5, Fig. S17). Above E_th the rate grows with T: more current → more Joule
heat → more bond breaking, so a larger I_cc forms more V_O. ``vo_generated``
records the cumulative generated density. The released oxygen is either
assumed to leave (default) or tracked (``VacancyModule(track_oxygen=True)``,
below).

Released oxygen (optional)
--------------------------
With ``track_oxygen`` every generated V_O releases one mobile O²⁻ (density
N_O [1/m³], field ``n_o``, charge number −2) that hops with the same law as
the V_O (barrier ``o_migration_activation_energy``, *assumed*; hop distance and
attempt frequency of the V_O), so it drifts against E, toward the anode. The
film boundaries are blocking: O piles up at the anode interface (the O⁻ signal
of the paper's ToF-SIMS, Fig. 4(i)); release to the gas is not modelled. O and
V_O recombine, R = k_r N N_O, with the diffusion-limited rate constant of
Waite (Phys. Rev. 107, 463 (1957)) for a capture radius of one hop distance a
and a recombination barrier E_r (``vo_recombination_activation_energy``,
*assumed*):

    k_r = 4π a · ½ a² f exp(−E_r/k_BT) = 2π a³ f exp(−E_r/k_BT)   [m³/s]

Recombination is split from transport (Lie splitting, first order in dt) and
integrated exactly per cell over the step (:func:`recombine`): with
Δ = N − N_O conserved, N(t) = Δ N₀ / (Δ − N_O,0 expm1(−k_r Δ t)).

Why the threshold is spread: with a sharp threshold (σ_th → 0) G jumps at
E_th, and under a current compliance the device slides along |E| = E_th (the
generated V_O lower the field they need): a discontinuous right-hand side
whose time-discrete solution depends strongly on dt (measured during development:
forming voltage 3.64 / 4.52 / > 5 V at max steps 50 / 20 / 10 ms). With
σ_th > 0 the law is smooth and the forming converges under the time loop's
local-error control (``SimulationSettings.error_tolerance``; test in
``tests/studies/test_forming.py``).

Soret flux (thermodiffusion)
----------------------------
In a temperature gradient the V_O flux gains a thermophoretic term
(Kim et al., Sci. Rep. 3, 1680 (2013), Eq. (2); continuum filament models):

    J = −D ∇N + v N − D S N ∇T,        S = −E_a / (k_B T²)

so V_O are driven up the temperature gradient, into the hot core of a
filament. It enters the Scharfetter–Gummel face flux as an extra drift
velocity v_S = −D S ∂T/∂n = D E_a (T_nb − T_ow)/(k_B T_f² d) per face (E_a the
face barrier, T_f the face temperature). In a closed film with a fixed
T(z) the steady state is J = 0: d ln N / dT = −S = E_a/(k_B T²), i.e.

    N(z) ∝ exp(−E_a / k_B T(z))

(verified in ``tests/verification/test_vacancy_transport.py``; zero flux at
uniform T). On by default (``VacancyTransport(soret=True)``).

Conductivity
------------
Electronic conduction along the vacancy column, thermally activated
(Larentis et al., IEEE TED 59, 2468 (2012); Kim et al., Sci. Rep. 3, 1680
(2013)), normalised so that μ is the mobility at T_ref = 300 K (JART VCM v1b,
μ = 4·10⁻⁶ m²/(V s)):

    σ = z e μ N exp[−(E_σ/k_B)(1/T − 1/T_ref)]

E_σ is the films' ``vo_conduction_activation_energy`` (assumed value, sourced
form); E_σ = 0 gives the JART law σ = z e μ N. σ is added to κ of the film
cells through the provider hook ``conductivity(state, kappa)``
(:class:`femion.physics.electrostatics.ElectrostaticsModule`), with T of the
state: with Joule heating this is the σ(T) feedback of current filamentation
(Ridley, Proc. Phys. Soc. 82, 954 (1963)).

Disorder (variability)
----------------------
Seeded Monte Carlo: a Gaussian barrier offset δE per cell (std
``barrier_disorder``) and a log-normal factor on the initial density (std of
ln, ``density_fluctuation``) drawn from ``numpy.random.default_rng(seed)``:
the same seed gives bit-identical fields.

Discretisation
--------------
Finite volumes on the cells of the film mesh with FiPy's two-point geometry
and the r-weighting of :mod:`femion.fvm`; the face flux is the
Scharfetter–Gummel flux with the exact weight of
:func:`femion.physics.lithium.scharfetter_gummel_weight`, Péclet number
P = v_n h / D = (2h/a) sinh(z e a E_n / 2k_BT) per face (E_n the normal field
from the potential difference across the face). The sparse system is
assembled here and solved by LU (:meth:`femion.fvm.TwoPointOperator.factorized`): FiPy's convection term caches its
upwind weights with the diffusion coefficient of its first build
(``abstractConvectionTerm._getWeight``), which is wrong when D changes from
iteration to iteration as it does here (T, N-dependent barrier). Implicit
Euler; the density-dependent barrier is taken from the start of the step
(semi-implicit; optional Picard iterations). In the coupled loop the
generation rate is lagged too (field and T of the start of the step,
:class:`VacancyModule` ``lagged_generation``): the steep onset at the
threshold otherwise makes the coupling iterations alternate between
generation on and off. The lag is first order in dt; the time loop's
local-error control bounds it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from femion import fvm
from femion.config import Device
from femion.constants import BOLTZMANN, ELEMENTARY_CHARGE, EV
from femion.mesh import AxisymmetricMesh
from femion.physics.lithium import scharfetter_gummel_weight

__all__ = [
    "CONDUCTION_REFERENCE_TEMPERATURE",
    "OXYGEN_CHARGE_NUMBER",
    "VACANCY_CHARGE_NUMBER",
    "VacancyModule",
    "VacancyProperties",
    "VacancyStepReport",
    "VacancyTransport",
    "activated_conductivity",
    "drift_velocity",
    "hopping_diffusivity",
    "recombination_rate_constant",
    "recombine",
    "vacancy_barrier",
    "vacancy_properties",
    "vacancy_regions",
]

VACANCY_CHARGE_NUMBER = 2
"""Charge number z of the oxygen vacancy V_O²⁺."""

OXYGEN_CHARGE_NUMBER = -2
"""Charge number of the released oxygen ion O²⁻."""

CONDUCTION_REFERENCE_TEMPERATURE = 300.0
"""T_ref [K] at which the activated filament conductivity equals z e μ N."""


def vacancy_regions(device: Device) -> tuple[str, ...]:
    """Regions where V_O live and move: the active films."""
    return tuple(layer.name for layer in device.films)


def hopping_diffusivity(hop: np.ndarray | float, frequency: np.ndarray | float, barrier_ev, temperature) -> np.ndarray:
    """D = ½ a² f exp(−E_a/k_BT) [m²/s].

    Parameters
    ----------
    hop
        Hopping distance a [m].
    frequency
        Attempt frequency f [Hz].
    barrier_ev
        Migration barrier E_a [eV].
    temperature
        T [K], positive.
    """
    return 0.5 * np.asarray(hop) ** 2 * np.asarray(frequency) * np.exp(-np.asarray(barrier_ev) * EV / (BOLTZMANN * np.asarray(temperature)))


def drift_velocity(hop, frequency, barrier_ev, temperature, field, charge_number: int = VACANCY_CHARGE_NUMBER) -> np.ndarray:
    """Field-accelerated hopping drift v = a f e^(−E_a/kT) sinh(z e a E / 2kT) along E [m/s].

    ``field`` is the signed field component along the direction of interest
    [V/m]; the result has its sign (a positive ion drifts along E). Low-field
    limit: v = z e D E / k_BT (Einstein), D = ½a²f e^(−E_a/kT).

    A field beyond ~10¹¹ V/m (a = 0.25 nm, 300 K: sinh overflows past an
    argument of 710) gives ±inf without a warning: only a diverging trial
    iterate of the coupled loop reaches it, and the V_O step rejects its
    non-finite densities (``FloatingPointError``, the time loop retries
    with a smaller dt).
    """
    temperature = np.asarray(temperature, dtype=float)
    rate = np.asarray(frequency) * np.exp(-np.asarray(barrier_ev) * EV / (BOLTZMANN * temperature))
    argument = charge_number * ELEMENTARY_CHARGE * np.asarray(hop) * np.asarray(field) / (2.0 * BOLTZMANN * temperature)
    with np.errstate(over="ignore"):
        return np.asarray(hop) * rate * np.sinh(argument)


def activated_conductivity(density, mobility, activation_ev, temperature, reference: float = CONDUCTION_REFERENCE_TEMPERATURE) -> np.ndarray:
    """σ = z e μ N exp[−(E_σ/k_B)(1/T − 1/T_ref)] [S/m] (thermally activated filament conduction).

    Form of Larentis et al., IEEE TED 59, 2468 (2012) and Kim et al., Sci. Rep.
    3, 1680 (2013), normalised at T_ref so that μ is the JART VCM v1b mobility
    at room temperature (Bengel et al., IEEE TCAS-I 67, 4618 (2020)).

    Parameters
    ----------
    density
        N [1/m³], shape (n,).
    mobility
        μ at T_ref [m²/(V s)], scalar or shape (n,).
    activation_ev
        E_σ [eV], scalar or shape (n,); 0 gives σ = z e μ N.
    temperature
        T [K], positive, scalar or shape (n,).
    reference
        T_ref [K].
    """
    factor = np.exp(-np.asarray(activation_ev) * EV / BOLTZMANN * (1.0 / np.asarray(temperature, dtype=float) - 1.0 / reference))
    return VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * np.asarray(mobility) * np.asarray(density) * factor


def recombination_rate_constant(hop, frequency, barrier_ev, temperature) -> np.ndarray:
    """k_r = 2π a³ f exp(−E_r/k_BT) [m³/s]: diffusion-limited V_O–O recombination, capture radius a.

    Waite, Phys. Rev. 107, 463 (1957): k = 4π r_c D with r_c = a and the
    hopping diffusivity D = ½ a² f exp(−E_r/k_BT) over the recombination barrier E_r.
    """
    return 4.0 * np.pi * np.asarray(hop) * hopping_diffusivity(hop, frequency, barrier_ev, temperature)


def recombine(vacancies, oxygen, rate_constant, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Exact solution of dN/dt = dN_O/dt = −k_r N N_O over ``dt`` per cell, shape (n,) each [1/m³].

    With Δ = N − N_O (conserved): N(dt) = Δ N₀ / (Δ − N_O,0 expm1(−k_r Δ dt)),
    N_O(dt) = N(dt) − Δ; for Δ = 0, N(dt) = N₀ / (1 + k_r N₀ dt).

    Raises
    ------
    ValueError
        Negative densities or rate constant, non-positive dt.
    """
    n = np.asarray(vacancies, dtype=float)
    o = np.asarray(oxygen, dtype=float)
    k = np.broadcast_to(np.asarray(rate_constant, dtype=float), n.shape)
    if np.any(n < 0.0) or np.any(o < 0.0) or np.any(k < 0.0) or not (np.isfinite(dt) and dt > 0.0):
        raise ValueError("recombine needs non-negative densities and rate constant and a positive dt")
    delta = n - o
    with np.errstate(over="ignore"):
        # Written for Δ ≥ 0 (expm1 of a non-positive argument); Δ < 0 by the symmetry N ↔ N_O.
        big, small = np.maximum(n, o), np.minimum(n, o)
        gap = np.abs(delta)
        denominator = gap - small * np.expm1(-k * gap * dt)
        larger = np.where(gap > 0.0, gap * big / np.where(denominator > 0.0, denominator, 1.0), big / (1.0 + k * big * dt))
    larger = np.where(small > 0.0, larger, big)
    smaller = np.maximum(larger - gap, 0.0)
    vac = np.where(delta >= 0.0, larger, smaller)
    oxy = np.where(delta >= 0.0, smaller, larger)
    return vac, oxy


def vacancy_barrier(density: np.ndarray, bound: np.ndarray, dilute: np.ndarray, condensation: np.ndarray) -> np.ndarray:
    """E_a(N) = E_d + (E_b − E_d) N²/(N² + N_c²) [eV] (see the module docstring).

    Parameters
    ----------
    density
        N [1/m³], non-negative.
    bound, dilute
        E_b and E_d [eV].
    condensation
        N_c [1/m³], positive.
    """
    x = (np.maximum(np.asarray(density, dtype=float), 0.0) / condensation) ** 2
    return dilute + (bound - dilute) * x / (1.0 + x)


@dataclass(frozen=True, eq=False)
class VacancyProperties:
    """Cell-wise V_O parameters on the film mesh (all arrays shape (n_cells,)).

    Attributes
    ----------
    hop : ndarray
        Hopping distance a [m].
    frequency : ndarray
        Attempt frequency f [Hz].
    bound_barrier, dilute_barrier : ndarray
        E_b (condensed, paper 1.7 eV) and E_d (dilute) [eV], disorder included.
    condensation : ndarray
        N_c [1/m³].
    max_concentration : ndarray
        N_max [1/m³] (site density for generation).
    mobility : ndarray
        Electron mobility μ of the σ = z e μ N law [m²/(V s)].
    generation_energy : ndarray
        ΔH [eV].
    generation_length : ndarray
        ℓ [m].
    generation_threshold : ndarray
        Median threshold field E_th [V/m] of the generation law.
    generation_spread : ndarray
        Standard deviation σ_th [V/m] of the threshold fields, positive.
    conduction_energy : ndarray or float
        Activation energy E_σ of the electronic conduction [eV] (default 0: σ = z e μ N).
    """

    hop: np.ndarray
    frequency: np.ndarray
    bound_barrier: np.ndarray
    dilute_barrier: np.ndarray
    condensation: np.ndarray
    max_concentration: np.ndarray
    mobility: np.ndarray
    generation_energy: np.ndarray
    generation_length: np.ndarray
    generation_threshold: np.ndarray
    generation_spread: np.ndarray
    conduction_energy: np.ndarray | float = 0.0


def vacancy_properties(
    mesh: AxisymmetricMesh, device: Device, barrier_offset: np.ndarray | None = None
) -> VacancyProperties:
    """V_O parameters of each film cell from the materials database.

    Parameters
    ----------
    mesh
        Film mesh (regions are films).
    device
        Supplies the materials.
    barrier_offset
        Per-cell disorder δE added to both barriers [eV], shape (n_cells,).

    Raises
    ------
    femion.MaterialError
        A film lacks a ``vo_*`` property.
    ValueError
        ``barrier_offset`` of wrong shape or non-finite.
    """
    keys = {
        "hop": "vo_hopping_distance",
        "frequency": "vo_attempt_frequency",
        "bound_barrier": "vo_activation_energy",
        "dilute_barrier": "vo_dilute_activation_energy",
        "condensation": "vo_condensation_concentration",
        "max_concentration": "vo_max_concentration",
        "mobility": "vo_electron_mobility",
        "generation_energy": "vo_generation_energy",
        "generation_length": "vo_generation_dipole_length",
        "generation_threshold": "vo_generation_threshold_field",
        "generation_spread": "vo_generation_threshold_spread",
        "conduction_energy": "vo_conduction_activation_energy",
    }
    table = {name: np.array([device.material(region).value(key) for region in mesh.region_names])[mesh.cell_regions] for name, key in keys.items()}
    if barrier_offset is not None:
        offset = np.asarray(barrier_offset, dtype=float)
        if offset.shape != (mesh.n_cells,) or not np.all(np.isfinite(offset)):
            raise ValueError(f"barrier_offset must be finite with shape ({mesh.n_cells},)")
        table["bound_barrier"] = table["bound_barrier"] + offset
        table["dilute_barrier"] = table["dilute_barrier"] + offset
    return VacancyProperties(**table)


@dataclass(frozen=True)
class VacancyStepReport:
    """Outcome of one implicit V_O step.

    Attributes
    ----------
    converged : bool
        Picard iteration on the lagged barrier/generation met the tolerance.
    iterations : int
        Picard iterations used.
    change : float
        Last relative change max|ΔN|/max N.
    """

    converged: bool
    iterations: int
    change: float


class VacancyTransport:
    """Owner of the V_O density on the film mesh.

    Parameters
    ----------
    mesh
        Film mesh.
    properties
        :class:`VacancyProperties` of its cells.
    density
        Initial N [1/m³], shape (n_cells,), finite and non-negative.
    generation
        Include the field-driven generation term.
    soret
        Include the Soret (thermodiffusion) flux −D S N ∇T, S = −E_a/(k_B T²)
        (module docstring).
    charge_number
        Charge number of the hopping species (+2 for V_O, −2 for the released O²⁻).

    Raises
    ------
    ValueError
        Bad initial density.
    """

    def __init__(
        self,
        mesh: AxisymmetricMesh,
        properties: VacancyProperties,
        density: np.ndarray,
        *,
        generation: bool = True,
        soret: bool = True,
        charge_number: int = VACANCY_CHARGE_NUMBER,
    ):
        self.mesh, self.properties, self.generation, self.soret = mesh, properties, generation, soret
        self.charge_number = int(charge_number)
        self._density = self._check(density)
        self._gen_rate = np.zeros(mesh.n_cells)  # k_g [1/s]
        self._distance = np.asarray(mesh.fipy._cellDistances)
        owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
        self._interior = neighbour >= 0
        self._owner, self._neighbour = owner, np.where(self._interior, neighbour, owner)
        # r-weighted transmissibility r_f L_f / d_f of interior faces (FiPy's two-point geometry).
        self._operator = fvm.TwoPointOperator(mesh)

    def _factorized(self, diffusivity: np.ndarray, velocity: np.ndarray, dt: float):
        """Factors of the implicit-Euler matrix of the r-weighted balance with Scharfetter–Gummel face fluxes, as a solver.

        Face flux owner → neighbour per radian, r L [v (α c_o + (1 − α) c_n) + D (c_o − c_n)/d]
        = w_D [(α P + 1) c_o + ((1 − α) P − 1) c_n], with w_D = D r L/d,
        P = v d/D and α the exact SG weight
        (:func:`femion.physics.lithium.scharfetter_gummel_weight`): the
        Scharfetter–Gummel flux (D/d)[B(−P) c_o − B(P) c_n]. Columns sum to
        the storage term only, so the discrete inventory is conserved.
        """
        faces = self._interior
        d = self._distance[faces]
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            peclet = velocity[faces] * d / diffusivity[faces]
        if not np.all(np.isfinite(peclet)):  # a diverging trial iterate: reject the step before assembling
            raise FloatingPointError("V_O Péclet number not finite (a drift velocity beyond what the face diffusivity "
                                     "can carry, or infinite: a field beyond ~1e11 V/m in a trial iterate)")
        alpha = scharfetter_gummel_weight(peclet)
        owner = np.zeros(len(self.mesh.faces))
        neighbour = np.zeros(len(self.mesh.faces))
        owner[faces] = diffusivity[faces] * (alpha * peclet + 1.0)  # D B(−P)
        neighbour[faces] = diffusivity[faces] * (1.0 - (1.0 - alpha) * peclet)  # D B(P)
        storage = self.mesh.r_volumes * (1.0 / dt + self._gen_rate)
        return self._operator.factorized(owner, neighbour, diagonal=storage)

    def _check(self, density) -> np.ndarray:
        values = np.asarray(density, dtype=float)
        if values.shape != (self.mesh.n_cells,):
            raise ValueError(f"V_O density must have shape ({self.mesh.n_cells},), got {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0.0):
            raise ValueError("V_O density must be finite and non-negative")
        return values

    @property
    def density(self) -> np.ndarray:
        """N [1/m³], shape (n_cells,) (a copy)."""
        return self._density.copy()

    def set_density(self, density: np.ndarray) -> None:
        """Replace N (and its old value) [1/m³]."""
        self._density = self._check(density)

    def barrier(self, density: np.ndarray | None = None) -> np.ndarray:
        """E_a(N) of every cell [eV]."""
        p = self.properties
        return vacancy_barrier(self.density if density is None else density, p.bound_barrier, p.dilute_barrier, p.condensation)

    def face_coefficients(self, phi: np.ndarray, temperature: np.ndarray, density: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Face diffusivity D_f [m²/s] and normal drift velocity v_f [m/s] (owner → neighbour), shape (n_faces,).

        Face barrier, temperature and hop are arithmetic means of the two
        cells; E_n = −(φ_nb − φ_ow)/d; exterior faces carry no drift. With
        ``soret`` the thermophoretic velocity D E_a (T_nb − T_ow)/(k_B T_f² d)
        is added (the −D S N ∇T flux, S = −E_a/k_BT²).
        """
        p = self.properties
        ow, nb = self._owner, self._neighbour
        barrier = self.barrier(density)
        face_barrier = 0.5 * (barrier[ow] + barrier[nb])
        face_t = 0.5 * (temperature[ow] + temperature[nb])
        face_hop = 0.5 * (p.hop[ow] + p.hop[nb])
        face_f = 0.5 * (p.frequency[ow] + p.frequency[nb])
        diffusivity = hopping_diffusivity(face_hop, face_f, face_barrier, face_t)
        normal_field = np.where(self._interior, -(phi[nb] - phi[ow]) / self._distance, 0.0)
        velocity = drift_velocity(face_hop, face_f, face_barrier, face_t, normal_field, self.charge_number)
        if self.soret:
            gradient = np.where(self._interior, (temperature[nb] - temperature[ow]) / self._distance, 0.0)
            velocity = velocity + diffusivity * face_barrier * EV / (BOLTZMANN * face_t**2) * gradient
        return diffusivity, velocity

    def generation_rate(self, field_magnitude: np.ndarray, temperature: np.ndarray) -> np.ndarray:
        """k_g = f exp[−(ΔH − e ℓ |E|)/k_BT] · ½ erfc[(E_th − |E|)/(√2 σ_th)] per cell [1/s] (G = k_g (N_max − N))."""
        from scipy.special import erfc

        p = self.properties
        exponent = -(p.generation_energy * EV - ELEMENTARY_CHARGE * p.generation_length * field_magnitude) / (BOLTZMANN * temperature)
        fraction = 0.5 * erfc((p.generation_threshold - field_magnitude) / (np.sqrt(2.0) * p.generation_spread))
        return p.frequency * np.exp(np.minimum(exponent, 0.0)) * fraction

    def step(
        self,
        phi: np.ndarray,
        temperature: np.ndarray,
        dt: float,
        field_magnitude: np.ndarray | None = None,
        *,
        tolerance: float = 1e-6,
        max_iterations: int = 1,
        generation_rate: np.ndarray | None = None,
        source: np.ndarray | None = None,
    ) -> VacancyStepReport:
        """Advance N by one implicit-Euler step of ``dt`` [s].

        Parameters
        ----------
        phi
            Potential at the film cells [V], shape (n_cells,).
        temperature
            T at the film cells [K], shape (n_cells,), positive.
        dt
            Step [s], positive.
        field_magnitude
            |E| per cell [V/m] for the generation term (needed if generation is
            on and ``generation_rate`` is not given).
        generation_rate
            Precomputed k_g per cell [1/s], shape (n_cells,) (e.g. from the
            field at the start of the step, see :class:`VacancyModule`);
            overrides ``field_magnitude``.
        source
            Extra volumetric source [1/(m³ s)], shape (n_cells,), constant over
            the step (e.g. the O released by the V_O generation).
        tolerance, max_iterations
            Picard control of the density-dependent barrier. The default
            (one iteration) is semi-implicit: the barrier of the start-of-step
            density, a linear M-matrix step that conserves N and keeps it
            positive for any dt (first order in dt like implicit Euler itself);
            more iterations make it fully implicit where they converge.

        Raises
        ------
        ValueError
            Bad dt, phi or T.
        FloatingPointError
            A non-finite Péclet number v d/D on a face (a field beyond ~10¹¹ V/m makes v infinite), non-finite or
            negative densities beyond round-off (reject the step).
        """
        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        phi = np.asarray(phi, dtype=float)
        temperature = np.asarray(temperature, dtype=float)
        if phi.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(phi)):
            raise ValueError(f"phi must be finite with shape ({self.mesh.n_cells},)")
        if temperature.shape != (self.mesh.n_cells,) or not np.all(temperature > 0.0):
            raise ValueError(f"temperature must be positive with shape ({self.mesh.n_cells},)")
        previous = self.density
        if self.generation and generation_rate is not None:
            rate = np.asarray(generation_rate, dtype=float)
            if rate.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(rate)) or np.any(rate < 0.0):
                raise ValueError(f"generation_rate must be finite, non-negative, shape ({self.mesh.n_cells},)")
        elif self.generation:
            if field_magnitude is None:
                raise ValueError("the generation term needs field_magnitude")
            rate = self.generation_rate(np.asarray(field_magnitude, dtype=float), temperature)
        else:
            rate = np.zeros(self.mesh.n_cells)
        self._gen_rate = rate
        right = self.mesh.r_volumes * (previous / dt + rate * self.properties.max_concentration)
        if source is not None:
            source = np.asarray(source, dtype=float)
            if source.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(source)):
                raise ValueError(f"source must be finite with shape ({self.mesh.n_cells},)")
            right = right + self.mesh.r_volumes * source
        iterate, change, iterations = previous, np.inf, 0
        for iterations in range(1, max_iterations + 1):
            diffusivity, velocity = self.face_coefficients(phi, temperature, iterate)
            new = self._factorized(diffusivity, velocity, dt)(right)
            if not np.all(np.isfinite(new)):
                raise FloatingPointError("V_O step produced non-finite densities")
            change = float(np.max(np.abs(new - iterate)) / max(np.max(np.abs(new)), 1e-300))
            iterate = new
            if change < tolerance:
                break
        if max_iterations == 1:
            change = 0.0
        if np.any(iterate < -1e-9 * np.max(np.abs(iterate))):
            raise FloatingPointError("V_O step gave negative densities; reduce dt")
        self._density = np.maximum(iterate, 0.0)
        return VacancyStepReport(converged=change < tolerance, iterations=iterations, change=change)

    def inventory(self, *regions: str) -> float:
        """V_O number 2π ∫ N r dr dz [1] in the film mesh or the named regions."""
        return 2.0 * np.pi * fvm.r_integral(self.mesh, self.density, *regions)

    def conductivity(self, density: np.ndarray | None = None, temperature: np.ndarray | None = None) -> np.ndarray:
        """Filament conductivity per cell [S/m], shape (n_cells,).

        σ = z e μ N exp[−(E_σ/k_B)(1/T − 1/T_ref)] (:func:`activated_conductivity`);
        ``temperature`` None means T_ref (σ = z e μ N, the JART VCM v1b law).
        """
        n = self.density if density is None else np.asarray(density)
        if temperature is None:
            return VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * self.properties.mobility * n
        return activated_conductivity(n, self.properties.mobility, self.properties.conduction_energy, temperature)


class VacancyModule:
    """Coupled-loop module for oxygen vacancies (see :mod:`femion.coupling`).

    Owns ``n_vo`` [1/m³] (film cells, zero elsewhere), ``vo_generated``
    [1/m³] (cumulative generated density) and, with ``track_oxygen``, ``n_o`` [1/m³]; reads ``phi`` and ``T`` (300 K /
    the device temperature if no thermal module runs). Adds the activated
    σ(N, T) to the film conductivity through ``conductivity(state, kappa)``.

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device.
    seed
        Seed of the disorder (None: no disorder, uniform initial density).
    barrier_disorder
        Std of the per-cell barrier offset [eV].
    density_fluctuation
        Std of ln(N₀/N̄₀) of the initial density [1].
    initial_density
        Mean initial N̄₀ [1/m³]; default the films' ``vo_initial_concentration``.
    generation
        Include field-driven generation.
    replace_film_conductivity
        If True, overwrite the film κ with the films' ``electronic_conductivity``
        + σ_VO (use without the Li module for DC switching: the Li⁺ current is
        blocked by the electrodes in steady state); otherwise add σ_VO to κ.
    lagged_generation
        If True (default), the generation rate of a step is evaluated with the
        field and temperature at the start of the step (explicit in the
        generation, implicit in transport). The generated V_O lower the
        local field within the same step (a depleted, field-carrying cell
        changes κ by O(1) for ΔN ≪ N_max), and G rises steeply with the field
        near E_th: with a sharp threshold the Picard loop of
        :func:`femion.coupling.coupled_step` alternated between generation on
        and off at any dt (measured during development: forming stalled at 0.9 V).
        Lagging G removes that feedback from the iteration; the error is
        O(dt) like implicit Euler's and is held to the time loop's
        ``error_tolerance`` (:mod:`femion.simulation`). False evaluates G with
        the latest iterate.
    weak_site
        :class:`femion.physics.seed.DefectSeed`: the weakest site of the
        electrode area on the axis (lowered generation threshold, optional V_O
        excess); its draw is kept in ``seed_draw``. None: no seed.
    soret
        Include the Soret flux of V_O (:class:`VacancyTransport`).
    activated_conduction
        Use the thermally activated σ(N, T) with T of the state (default);
        False gives σ = z e μ N at any T.
    track_oxygen
        Track the released O²⁻ (field ``n_o``) with drift, diffusion and V_O–O
        recombination (module docstring); default False (the O is assumed to leave).

    Raises
    ------
    ValueError
        Negative disorder parameters or initial density.
    """

    name = "vacancy"
    owns = ("n_vo", "vo_generated")
    units = {"vo_inventory": "1", "vo_peak": "1/m^3", "o_inventory": "1"}
    """Units of :meth:`observables` (read by the Simulation for its outputs; the inventory is a number of vacancies)."""
    reads = ("phi", "T")

    def __init__(
        self,
        mesh: AxisymmetricMesh,
        device: Device,
        *,
        seed: int | None = None,
        barrier_disorder: float = 0.0,
        density_fluctuation: float = 0.0,
        initial_density: float | None = None,
        generation: bool = True,
        replace_film_conductivity: bool = False,
        lagged_generation: bool = True,
        weak_site=None,
        soret: bool = True,
        activated_conduction: bool = True,
        track_oxygen: bool = False,
    ):
        if barrier_disorder < 0.0 or density_fluctuation < 0.0:
            raise ValueError("barrier_disorder and density_fluctuation must be non-negative")
        self.mesh, self.device = mesh, device
        self.films = mesh.submesh(vacancy_regions(device))
        self._cells = self.films.parent_cells
        self._layers = {layer: self.films.region_mask(layer) for layer in self.films.region_names}
        self.units = {**type(self).units, **{f"field_max_{layer}": "V/m" for layer in self._layers}}
        rng = np.random.default_rng(seed)
        offset = rng.normal(0.0, barrier_disorder, self.films.n_cells) if barrier_disorder > 0.0 else None
        self.properties = vacancy_properties(self.films, device, offset)
        if initial_density is None:
            base = np.array([device.material(region).value("vo_initial_concentration") for region in self.films.region_names])[self.films.cell_regions]
        else:
            if not (np.isfinite(initial_density) and initial_density >= 0.0):
                raise ValueError(f"initial_density must be finite and non-negative, got {initial_density!r}")
            base = np.full(self.films.n_cells, float(initial_density))
        if density_fluctuation > 0.0:
            base = base * np.exp(rng.normal(0.0, density_fluctuation, self.films.n_cells) - 0.5 * density_fluctuation**2)
        self.seed_draw = None
        if weak_site is not None:
            self.properties, base, self.seed_draw = weak_site.apply(self.films, device, self.properties, base)
        self.initial = base
        self.transport = VacancyTransport(self.films, self.properties, base, generation=generation, soret=soret)
        self.activated_conduction = activated_conduction
        self.track_oxygen = track_oxygen
        if track_oxygen:
            self.owns = ("n_vo", "vo_generated", "n_o")
            oxygen_barrier = np.array([device.material(region).value("o_migration_activation_energy") for region in self.films.region_names])[self.films.cell_regions]
            self._recombination_barrier = np.array(
                [device.material(region).value("vo_recombination_activation_energy") for region in self.films.region_names]
            )[self.films.cell_regions]
            oxygen_properties = replace(self.properties, bound_barrier=oxygen_barrier, dilute_barrier=oxygen_barrier)
            self.oxygen = VacancyTransport(
                self.films, oxygen_properties, np.zeros(self.films.n_cells), generation=False, soret=soret, charge_number=OXYGEN_CHARGE_NUMBER
            )
        self.replace_film_conductivity = replace_film_conductivity
        self.lagged_generation = lagged_generation
        # Convergence floors of the coupled loop: changes below the mean background density are absolute
        # (``vo_generated`` starts at zero everywhere, so it has no relative scale of its own).
        background = max(float(np.mean(base)), 1.0)
        self.field_scales = {"n_vo": background, "vo_generated": background, "n_o": background}
        self._electronic = np.array([device.material(region).value("electronic_conductivity") for region in self.films.region_names])[self.films.cell_regions]
        from femion.physics.electrostatics import electrode_interface

        self._electrode_faces = self.films.face_mask(electrode_interface(device))
        ground = f"{device.films[0].name}|{device.bottom_electrode.name}"
        self._contact_faces = self.films.face_mask(electrode_interface(device), ground)

    def initialize(self, state) -> None:
        """Put the initial V_O density (and zero generated density) into ``state``."""
        field = np.zeros(self.mesh.n_cells)
        field[self._cells] = self.initial
        state.fields["n_vo"] = field
        state.fields["vo_generated"] = np.zeros(self.mesh.n_cells)
        if self.track_oxygen:
            state.fields["n_o"] = np.zeros(self.mesh.n_cells)

    def conductivity(self, state, kappa: np.ndarray) -> None:
        """Add (or, with ``replace_film_conductivity``, set) the V_O conductivity of the films in κ (in place)."""
        temperature = self._temperature(state) if self.activated_conduction else None
        sigma = self.transport.conductivity(state.fields["n_vo"][self._cells], temperature)
        if self.replace_film_conductivity:
            kappa[self._cells] = self._electronic + sigma
        else:
            kappa[self._cells] += sigma

    def _temperature(self, state) -> np.ndarray:
        if "T" in state.fields:
            return state.fields["T"][self._cells]
        return np.full(self.films.n_cells, self.device.temperature)

    def field_magnitude(self, phi: np.ndarray, voltage: float) -> np.ndarray:
        """Bulk |E| per film cell [V/m]: each film's gradient from its own cells, contacts at V and 0.

        :func:`femion.fvm.layerwise_gradient`: a potential jump across a film
        interface (the double-layer drop of the electrolyte potential at a
        host|LiPON interface when lithium runs) is not read as a bulk field.
        Read as one, it put 5·10⁷ V/m into the LiPON and MoO3 cells next to
        the LiPON|MoO3 interface at −5 V (bulk LiPON 8.5·10⁶ V/m), and the
        thermochemical generation there ran away within 0.1 ms.
        """
        values = np.where(self._electrode_faces, voltage, 0.0)
        gradient = fvm.layerwise_gradient(self.films, phi, self._contact_faces, values)
        return np.hypot(gradient[:, 0], gradient[:, 1])

    def advance(self, state, dt: float, start):
        """One implicit V_O step from ``start`` in the potential and temperature of ``state``.

        The generation rate uses the field and T of ``start`` when
        ``lagged_generation`` is set (see the class docstring), else of ``state``.
        """
        from femion.coupling import ModuleReport

        n0 = start.fields["n_vo"][self._cells]
        self.transport.set_density(n0)
        phi = state.fields["phi"][self._cells]
        temperature = self._temperature(state)
        rate = None
        if self.transport.generation:
            source = start if self.lagged_generation and "phi" in start.fields else state
            rate = self.transport.generation_rate(
                self.field_magnitude(source.fields["phi"][self._cells], source.voltage), self._temperature(source)
            )
        report = self.transport.step(phi, temperature, dt, generation_rate=rate)
        n1 = self.transport.density
        released = np.zeros(self.films.n_cells)  # V_O generated in the step [1/(m³ s)]
        generated = start.fields["vo_generated"].copy()
        if self.transport.generation:
            released = self.transport._gen_rate * (self.properties.max_concentration - n1)
            generated[self._cells] += dt * released
        state.fields["vo_generated"] = generated
        if self.track_oxygen:
            self.oxygen.set_density(start.fields["n_o"][self._cells])
            # Where drift has piled V_O above N_max the generation term is negative (saturation): no O is released there.
            self.oxygen.step(phi, temperature, dt, source=np.maximum(released, 0.0))
            p = self.properties
            n1, o1 = recombine(n1, self.oxygen.density, recombination_rate_constant(p.hop, p.frequency, self._recombination_barrier, temperature), dt)
            oxygen = np.zeros(self.mesh.n_cells)
            oxygen[self._cells] = o1
            state.fields["n_o"] = oxygen
        field = np.zeros(self.mesh.n_cells)
        field[self._cells] = n1
        state.fields["n_vo"] = field
        return ModuleReport(converged=report.converged, iterations=report.iterations, residual=report.change)

    def observables(self, state) -> dict[str, float]:
        """V_O inventory [1] and peak density [1/m³] of ``state`` (and the O inventory when tracked).

        With the potential solved, also ``field_max_<layer>``: the largest bulk |E| [V/m] in each film
        (:meth:`field_magnitude`, the field the thermochemical generation reads), to set against
        ``vo_generation_threshold_field``.
        """
        n = state.fields["n_vo"][self._cells]
        result = {"vo_inventory": 2 * np.pi * fvm.r_integral(self.films, n), "vo_peak": float(np.max(n))}
        if self.track_oxygen:
            result["o_inventory"] = 2 * np.pi * fvm.r_integral(self.films, state.fields["n_o"][self._cells])
        if "phi" in state.fields:
            field = self.field_magnitude(state.fields["phi"][self._cells], state.voltage)
            for layer, mask in self._layers.items():
                result[f"field_max_{layer}"] = float(np.max(field[mask]))
        return result
