"""Air ingress through the porous top electrode and Li-consuming reactions.

What happens (paper §2.6, Eqs. (1)–(3), refs 40–42)
----------------------------------------------------
Where slow programming has stretched the top electrode into porosity, air
diffuses through the pores to the electrode/WO3 interface and consumes Li
irreversibly:

    (1)  4 Li + O2        → 2 Li2O
    (2)  2 Li + 2 H2O     → 2 LiOH + H2
    (3)  2 LiOH + CO2     → Li2CO3 + H2O

The solid products fill the pores and close them, so the uptake stops by
itself. This module owns the gas fields ``c_o2``, ``c_h2o``, ``c_co2``
[mol/m³ of pore gas] and the product fields ``Li2O``, ``LiOH``, ``Li2CO3``
[mol of formula units per m³ of cell], all on the top-electrode cells (zero
elsewhere). It reads ``porosity`` (void volume fraction of each cell, owned by
the mechanics module; absent means dense), ``c_li`` and ``T`` if present.

Gas transport (quasi-steady)
----------------------------
For each gas g in the open pore space of the electrode,

    ∇·(D_eff,g ∇c_g) − s_g c_g + q_g = 0,    c_g = c_g,amb on the exposed faces,

with the axisymmetric r-weighting of :mod:`femion.fvm` (per radian). The open
porosity is ε = max(porosity − Σ_p c_p V_p, 0), V_p = M_p/ρ_p the molar
volume of product p. The effective diffusivity combines

* molecular diffusion in air, D_m(T) = D_m(T_ref)(T/T_ref)^1.75 (binary
  coefficients at 293.15 K from the CRC Handbook / Marrero & Mason 1972; the
  T^1.75 law of Fuller, Schettler & Giddings 1966),
* Knudsen diffusion in pores of diameter d_p, D_K = (d_p/3)√(8RT/πM) (kinetic
  theory; the mean free path in air at 1 atm, ~68 nm, exceeds the ~10 nm
  voids, so wall collisions dominate),
* in series (Bosanquet interpolation, Pollard & Present 1948),
  1/D_pore = 1/D_m + 1/D_K,
* and the Bruggeman tortuosity of a random pore network above the
  percolation threshold ε_c of the pore space,
  D_eff = [(ε − ε_c)/(1 − ε_c)]^1.5 D_pore for ε > ε_c, else 0
  (Archie's law with a percolation threshold, Hunt, *Percolation Theory
  for Flow in Porous Media*, 2005, ch. 4; Bruggeman/Tjaden et al. 2016 for
  the exponent; ε_c = 0 gives the plain Bruggeman law).

Why a threshold: voids seeded in a dense film (the as-deposited porosity f₀
of the mechanics module) are isolated; gas gets in only where the voids
connect. For randomly placed, overlapping spherical voids the void space
percolates at ε_c ≈ 0.03 (Elam, Kerstein & Rehr, PRL 52, 1516 (1984)),
``pore_percolation_threshold`` of the electrode material. Below ε_c a cell
is dense for the gas: D_eff = 0 and its cells carry c = 0. The gas
crosses the electrode (~50 nm, D_eff ≳ 10⁻⁸ m²/s) in ≲ 1 µs, far faster
than any protocol step, which is why the steady form is used. The exposed
faces are the top of the electrode (``top_contact``) and its rim
(``electrode_side``); the bare film outside the electrode (``air_surface``) is
dense oxide and takes no gas. Ambient ``air``: c_g,amb = x_g p°/(RT) with
p° = 101 325 Pa, x_O2 = 0.2095, x_CO2 = 420 ppm and x_H2O = RH p_sat(T)/p°
(p_sat by Buck 1981); ambient ``vacuum``: c_g,amb = 0.

Reactions (mass action, flagged constants)
------------------------------------------
Per unit cell volume [mol/(m³ s)] in the electrode cells,

    R1 = k1 ε c_O2 θ_Li,   R2 = k2 ε c_H2O θ_Li,   R3 = k3 ε c_CO2 φ_LiOH,

with θ_Li = c_li/c_max of the film cell at the interface below the
electrode cell (the Li that reaches the pore wall; Li in the electrode
itself is not modelled), φ_LiOH = c_LiOH V_LiOH the LiOH volume fraction,
and k_j(T) Arrhenius about 300 K. The constants k_j are **assumed** (no
measurement for this geometry; materials database ``O2``, ``H2O``, ``CO2``).
The gas sinks are s_O2 = k1 ε θ, s_H2O = k2 ε θ, s_CO2 = k3 ε φ_LiOH and
the water made by (3) is a source of H2O, q_H2O = R3.

Time integration (operator split, exact pore closure)
-----------------------------------------------------
The products change the open porosity by dε/dt = −Σ_j ΔV_j R_j with
ΔV_1 = 2V_Li2O, ΔV_2 = 2V_LiOH, ΔV_3 = V_Li2CO3 − 2V_LiOH (all > 0). With
the gas, θ and φ_LiOH frozen over the step, R_j = a_j ε and
ε(t + dt) = ε e^{−λ dt}, λ = Σ_j ΔV_j a_j, so the extents are
ξ_j = a_j ε (1 − e^{−λ dt})/λ: the pores close asymptotically and never
overfill, whatever dt. The Li consumed, 4ξ1 + 2ξ2 per electrode cell
volume, is subtracted from ``c_li`` of the interface film cell of the same
column (moles exactly: Σ r-weighted volumes), so Li atoms are conserved to
round-off between ``c_li`` and the products. A step that would take more
than half the Li of a film cell, or half the LiOH of a cell, raises
:class:`FloatingPointError` (the loop retries with a smaller dt). The module
must come **after** the lithium module in the loop: lithium recomputes
``c_li`` from the start of the step in every coupling iteration, and this
module then removes the step's consumption from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from fipy import ImplicitSourceTerm

from femion import fvm
from femion.config import Device
from femion.constants import GAS_CONSTANT
from femion.materials import load_material
from femion.mesh import AxisymmetricMesh, MeshError
from femion.physics import arrhenius

__all__ = [
    "AirModule",
    "COMPOSITION",
    "ELEMENTS",
    "GASES",
    "GAS_FIELDS",
    "PRODUCTS",
    "REACTIONS",
    "SPECIES",
    "STANDARD_PRESSURE",
    "STOICHIOMETRY",
    "GasOperator",
    "GasProperties",
    "ReactionStep",
    "ambient_concentrations",
    "effective_diffusivity",
    "gas_properties",
    "integrate_reactions",
    "knudsen_diffusivity",
    "molar_volumes",
    "molecular_diffusivity",
    "open_porosity",
    "pore_diffusivity",
    "saturation_vapour_pressure",
    "solve_quasi_steady_gas",
]

STANDARD_PRESSURE = 101325.0
"""Ambient pressure p° [Pa] (one standard atmosphere)."""

GAS_DIFFUSIVITY_REFERENCE_TEMPERATURE = 293.15
"""Temperature [K] of the database's binary gas diffusivities (CRC table column)."""

FULLER_EXPONENT = 1.75
"""Temperature exponent of binary gas diffusivities at constant pressure (Fuller et al. 1966)."""

RATE_REFERENCE_TEMPERATURE = 300.0
"""Temperature [K] at which the database's reaction rate constants are quoted."""

BRUGGEMAN_EXPONENT = 1.5
"""D_eff = ε^1.5 D (Bruggeman; Tjaden et al. 2016)."""

GASES = ("O2", "H2O", "CO2")
"""Reactive gases of air (materials database names)."""

GAS_FIELDS = {"O2": "c_o2", "H2O": "c_h2o", "CO2": "c_co2"}
"""State field of each gas [mol/m³ of pore gas]."""

PRODUCTS = ("Li2O", "LiOH", "Li2CO3")
"""Solid products (materials database names = state field names) [mol/m³ of cell]."""

REACTIONS = ("4Li + O2 -> 2Li2O", "2Li + 2H2O -> 2LiOH + H2", "2LiOH + CO2 -> Li2CO3 + H2O")
"""Paper Eqs. (1)–(3), in the order of the extents ξ_1..ξ_3."""

SPECIES = ("Li", "O2", "H2O", "CO2", "H2", "Li2O", "LiOH", "Li2CO3")
"""Species of :data:`STOICHIOMETRY` rows."""

STOICHIOMETRY = np.array(
    [
        [-4, -2, 0],  # Li
        [-1, 0, 0],  # O2
        [0, -2, 1],  # H2O
        [0, 0, -1],  # CO2
        [0, 1, 0],  # H2
        [2, 0, 0],  # Li2O
        [0, 2, -2],  # LiOH
        [0, 0, 1],  # Li2CO3
    ],
    dtype=float,
)
"""ν[species, reaction]: change of each species per unit extent of each reaction (negative: consumed)."""

ELEMENTS = ("Li", "O", "C", "H")
"""Elements of :data:`COMPOSITION` rows."""

COMPOSITION = np.array(
    [
        # Li O2 H2O CO2 H2 Li2O LiOH Li2CO3
        [1, 0, 0, 0, 0, 2, 1, 2],  # Li
        [0, 2, 1, 2, 0, 1, 1, 3],  # O
        [0, 0, 0, 1, 0, 0, 0, 1],  # C
        [0, 0, 2, 0, 2, 0, 1, 0],  # H
    ],
    dtype=float,
)
"""Atoms of each element per formula unit of each species; COMPOSITION @ STOICHIOMETRY = 0."""

_BLOCKED = 1e-12
"""Open porosity below which a cell is treated as dense (no gas)."""

_BLOCKING_RATE = 1e10
"""Sink rate [1/s] that pins c = 0 in dense cells (their faces carry no flux, so any value works)."""

MAX_STEP_FRACTION = 0.5
"""Largest fraction of a film cell's Li (or a cell's LiOH) one step may consume before it is rejected."""


# ------------------------------------------------------------------ gas phase
def saturation_vapour_pressure(temperature: float | np.ndarray) -> float | np.ndarray:
    """Saturation vapour pressure of water [Pa] (Buck 1981, over liquid water).

    p_sat = 611.21 Pa · exp[17.502 t/(240.97 + t)], t = T − 273.15 K in °C.

    Parameters
    ----------
    temperature
        T [K], scalar or array.

    Raises
    ------
    ValueError
        If T is not positive and finite.
    """
    t = np.asarray(temperature, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0.0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    celsius = t - 273.15
    result = 611.21 * np.exp(17.502 * celsius / (240.97 + celsius))
    return float(result) if result.ndim == 0 else result


@dataclass(frozen=True)
class GasProperties:
    """Database values of one reactive gas (SI).

    Attributes
    ----------
    name : str
        ``"O2"``, ``"H2O"`` or ``"CO2"``.
    molar_mass : float
        M [kg/mol].
    diffusivity : float
        Binary diffusivity in air at 293.15 K, 1 atm [m²/s].
    mole_fraction : float or None
        Ambient mole fraction (None for H2O: from the relative humidity).
    relative_humidity : float or None
        Ambient relative humidity (H2O only).
    rate_constant : float
        k at 300 K [1/s] (assumed).
    activation_energy : float
        Activation energy of k [eV] (assumed).
    """

    name: str
    molar_mass: float
    diffusivity: float
    mole_fraction: float | None
    relative_humidity: float | None
    rate_constant: float
    activation_energy: float


def gas_properties(name: str) -> GasProperties:
    """Load a reactive gas from the materials database.

    Raises
    ------
    ValueError
        If ``name`` is not one of :data:`GASES`.
    femion.MaterialError
        If the material file lacks a property.
    """
    if name not in GASES:
        raise ValueError(f"unknown reactive gas {name!r}; known: {GASES}")
    material = load_material(name)
    return GasProperties(
        name=name,
        molar_mass=material.value("molar_mass"),
        diffusivity=material.value("gas_diffusivity"),
        mole_fraction=material.value("ambient_mole_fraction") if "ambient_mole_fraction" in material else None,
        relative_humidity=material.value("relative_humidity") if "relative_humidity" in material else None,
        rate_constant=material.value("li_reaction_rate_constant"),
        activation_energy=material.value("li_reaction_activation_energy"),
    )


def ambient_concentrations(
    ambient: str, temperature: float | np.ndarray, relative_humidity: float | None = None
) -> dict[str, float | np.ndarray]:
    """Concentrations of O2, H2O, CO2 in the ambient gas [mol/m³] (ideal gas).

    ``air``: c_g = x_g p°/(RT), x_O2 and x_CO2 from the database, x_H2O =
    RH · p_sat(T)/p° (Buck 1981). ``vacuum``: all zero.

    Parameters
    ----------
    ambient
        ``"air"`` or ``"vacuum"`` (``Device.ambient``).
    temperature
        T [K], scalar or array (e.g. one value per boundary face).
    relative_humidity
        RH in [0, 1]; None takes the database value (``H2O.relative_humidity``).

    Raises
    ------
    ValueError
        On an unknown ambient, a non-positive temperature or RH outside [0, 1].
    """
    if ambient not in ("air", "vacuum"):
        raise ValueError(f"ambient must be 'air' or 'vacuum', got {ambient!r}")
    t = np.asarray(temperature, dtype=float)
    if not np.all(np.isfinite(t)) or np.any(t <= 0.0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    water = gas_properties("H2O")
    humidity = water.relative_humidity if relative_humidity is None else float(relative_humidity)
    if not 0.0 <= humidity <= 1.0:
        raise ValueError(f"relative humidity must lie in [0, 1], got {relative_humidity!r}")
    scale = 0.0 if ambient == "vacuum" else 1.0
    total = STANDARD_PRESSURE / (GAS_CONSTANT * t)
    result = {
        "O2": scale * gas_properties("O2").mole_fraction * total,
        "H2O": scale * humidity * saturation_vapour_pressure(t) / (GAS_CONSTANT * t),
        "CO2": scale * gas_properties("CO2").mole_fraction * total,
    }
    return {key: (float(value) if np.ndim(value) == 0 else value) for key, value in result.items()}


def molecular_diffusivity(reference: float, temperature: float | np.ndarray) -> float | np.ndarray:
    """Binary diffusivity in air at T [m²/s] from its 293.15 K value: D (T/293.15 K)^1.75 (Fuller et al. 1966)."""
    return reference * (np.asarray(temperature, dtype=float) / GAS_DIFFUSIVITY_REFERENCE_TEMPERATURE) ** FULLER_EXPONENT


def knudsen_diffusivity(pore_diameter: float, temperature: float | np.ndarray, molar_mass: float) -> float | np.ndarray:
    """Knudsen diffusivity in a cylindrical pore [m²/s]: D_K = (d/3) √(8RT/(πM)) (kinetic theory).

    Parameters
    ----------
    pore_diameter
        d [m], positive.
    temperature
        T [K].
    molar_mass
        M [kg/mol], positive.

    Raises
    ------
    ValueError
        On a non-positive diameter or molar mass.
    """
    if not (pore_diameter > 0.0 and molar_mass > 0.0):
        raise ValueError(f"pore diameter and molar mass must be positive, got {pore_diameter!r}, {molar_mass!r}")
    return pore_diameter / 3.0 * np.sqrt(8.0 * GAS_CONSTANT * np.asarray(temperature, dtype=float) / (np.pi * molar_mass))


def pore_diffusivity(molecular: float | np.ndarray, knudsen: float | np.ndarray) -> float | np.ndarray:
    """Diffusivity in one pore [m²/s]: Bosanquet series combination 1/D = 1/D_m + 1/D_K (Pollard & Present 1948)."""
    return 1.0 / (1.0 / np.asarray(molecular, dtype=float) + 1.0 / np.asarray(knudsen, dtype=float))


def effective_diffusivity(porosity: np.ndarray, diffusivity: float | np.ndarray, threshold: float = 0.0) -> np.ndarray:
    """Effective diffusivity of a porous medium [m²/s]: D_eff = [(ε − ε_c)/(1 − ε_c)]^1.5 D above ε_c, else 0.

    Bruggeman's tortuosity exponent 1.5 (Tjaden et al. 2016) on the pore
    volume in excess of the percolation threshold ε_c (Archie's law with a
    threshold; Hunt 2005, ch. 4). ε_c = 0 is the plain Bruggeman law ε^1.5 D.

    Parameters
    ----------
    porosity
        Open (gas-filled) volume fraction ε in [0, 1], shape (n,).
    diffusivity
        Pore diffusivity [m²/s], scalar or shape (n,).
    threshold
        Percolation threshold ε_c of the pore space, in [0, 1).

    Raises
    ------
    ValueError
        If a porosity is outside [0, 1] or not finite, or the threshold is outside [0, 1).
    """
    eps = np.asarray(porosity, dtype=float)
    if not np.all(np.isfinite(eps)) or np.any(eps < 0.0) or np.any(eps > 1.0):
        raise ValueError("porosity must be finite and within [0, 1]")
    if not 0.0 <= threshold < 1.0:
        raise ValueError(f"percolation threshold must lie in [0, 1), got {threshold!r}")
    connected = np.maximum(eps - threshold, 0.0) / (1.0 - threshold)
    return connected**BRUGGEMAN_EXPONENT * np.asarray(diffusivity, dtype=float)


def molar_volumes() -> dict[str, float]:
    """Molar volume V = M/ρ [m³/mol] of each product (materials database, CRC densities)."""
    volumes = {}
    for name in PRODUCTS:
        material = load_material(name)
        volumes[name] = material.value("molar_mass") / material.value("density")
    return volumes


def open_porosity(porosity: np.ndarray, products: dict[str, np.ndarray], volumes: dict[str, float]) -> np.ndarray:
    """Gas-filled volume fraction ε = max(porosity − Σ_p c_p V_p, 0), shape (n,).

    Parameters
    ----------
    porosity
        Void volume fraction of each cell, shape (n,).
    products
        c_p [mol/m³] of each product (keys of :data:`PRODUCTS`), shape (n,).
    volumes
        V_p [m³/mol] (:func:`molar_volumes`).
    """
    filled = sum(np.asarray(products[name], dtype=float) * volumes[name] for name in PRODUCTS)
    return np.maximum(np.asarray(porosity, dtype=float) - filled, 0.0)


def solve_quasi_steady_gas(
    mesh: AxisymmetricMesh,
    diffusivity: np.ndarray,
    sink_rate: np.ndarray,
    source_density: np.ndarray,
    dirichlet: np.ndarray,
    surface: float | np.ndarray,
):
    """Solve ∇·(D ∇c) − s c + q = 0 with FiPy (r-weighted terms of :mod:`femion.fvm`), c = c_s on ``dirichlet`` faces.

    The reference implementation of :class:`GasOperator` (same two-point
    discretisation; the module uses the operator, which skips FiPy's per-solve
    overhead, ~0.1 s, and is tested against this function). Other exterior
    faces are closed. Dense cells (D = 0, no sink) are pinned to c = 0 by a
    blocking sink: their faces carry no flux, so the rest is untouched.

    Parameters
    ----------
    mesh
        The gas domain.
    diffusivity
        D_eff per cell [m²/s], shape (n_cells,) (faces: distance-weighted harmonic mean).
    sink_rate
        s per cell [1/s], shape (n_cells,), non-negative.
    source_density
        q per cell [mol/(m³ s)], shape (n_cells,).
    dirichlet
        Boolean face mask, shape (n_faces,).
    surface
        c_s [mol/m³] on those faces, scalar or shape (n_faces,).

    Returns
    -------
    (fipy.CellVariable, ndarray)
        The solved variable and the face coefficient D_f (for :func:`femion.fvm.boundary_flux`).

    Raises
    ------
    ValueError
        On wrong shapes, negative diffusivities or sinks.
    FloatingPointError
        If the solution is not finite.
    """
    d, s, q, mask, values = _check_gas_problem(mesh, diffusivity, sink_rate, source_density, dirichlet, surface)
    face_d = fvm.face_values_harmonic(mesh, d)
    c = fvm.cell_variable(mesh, 0.0, name="c_gas")
    if np.any(mask):
        c.constrain(values, where=mask)
    equation = fvm.diffusion_term(mesh, face_d) - ImplicitSourceTerm(coeff=fvm.r_cell(mesh) * s) + fvm.source(mesh, q)
    equation.solve(var=c)
    if not np.all(np.isfinite(np.asarray(c.value))):
        raise FloatingPointError("gas solve produced non-finite concentrations")
    return c, face_d


def _check_gas_problem(mesh, diffusivity, sink_rate, source_density, dirichlet, surface):
    d = np.asarray(diffusivity, dtype=float)
    s = np.asarray(sink_rate, dtype=float)
    q = np.asarray(source_density, dtype=float)
    if d.shape != (mesh.n_cells,) or s.shape != (mesh.n_cells,) or q.shape != (mesh.n_cells,):
        raise ValueError(f"diffusivity, sink and source must have shape ({mesh.n_cells},)")
    if not np.all(np.isfinite(d)) or np.any(d < 0.0):
        raise ValueError("diffusivities must be finite and non-negative")
    if not np.all(np.isfinite(s)) or np.any(s < 0.0):
        raise ValueError("sink rates must be finite and non-negative")
    if not np.all(np.isfinite(q)):
        raise ValueError("sources must be finite")
    mask = np.asarray(dirichlet, dtype=bool)
    if mask.shape != (len(mesh.faces),):
        raise ValueError(f"dirichlet mask must have shape ({len(mesh.faces)},)")
    values = np.broadcast_to(np.asarray(surface, dtype=float), (len(mesh.faces),)).copy()
    s = np.where((d <= 0.0) & (s <= 0.0), _BLOCKING_RATE, s)
    return d, s, q, mask, values


class GasOperator:
    """The discrete operator of :func:`solve_quasi_steady_gas`, assembled directly as a sparse matrix.

    Same two-point fluxes as FiPy's ``DiffusionTerm`` on the r-weighted mesh,
    assembled with :class:`femion.fvm.TwoPointOperator` (harmonic face means of
    :func:`femion.fvm.face_values_harmonic`) and factorised by
    :meth:`femion.fvm.TwoPointOperator.factorized`. Built once per mesh and Dirichlet set.

    Parameters
    ----------
    mesh
        The gas domain.
    dirichlet
        Boolean face mask of the exposed faces, shape (n_faces,).
    """

    def __init__(self, mesh: AxisymmetricMesh, dirichlet: np.ndarray):
        self.mesh = mesh
        self.dirichlet = np.asarray(dirichlet, dtype=bool)
        self._operator = fvm.TwoPointOperator(mesh, dirichlet=self.dirichlet)

    def face_diffusivity(self, diffusivity: np.ndarray) -> np.ndarray:
        """FiPy's harmonic face mean D₁D₂/((D₂ − D₁)α + D₁) (0 if either is 0), shape (n_faces,)."""
        return fvm.face_values_harmonic(self.mesh, diffusivity)

    def solve(
        self, diffusivity: np.ndarray, sink_rate: np.ndarray, source_density: np.ndarray, surface: float | np.ndarray
    ) -> np.ndarray:
        """c [mol/m³] per cell, shape (n_cells,) (arguments as in :func:`solve_quasi_steady_gas`).

        Raises
        ------
        ValueError
            On wrong shapes, negative diffusivities or sinks.
        FloatingPointError
            If the solution is not finite.
        """
        d, s, q, mask, values = _check_gas_problem(self.mesh, diffusivity, sink_rate, source_density, self.dirichlet, surface)
        face_d = self.face_diffusivity(d)
        rhs = q * self.mesh.r_volumes + self._operator.dirichlet_rhs(values, face_d)
        c = self._operator.factorized(face_d, diagonal=s * self.mesh.r_volumes)(rhs)
        if not np.all(np.isfinite(c)):
            raise FloatingPointError("gas solve produced non-finite concentrations")
        return c


# ------------------------------------------------------------------ reactions
@dataclass(frozen=True)
class ReactionStep:
    """Reaction extents of one step, per unit cell volume.

    Attributes
    ----------
    extents : ndarray, shape (3, n)
        ξ_j [mol/m³] of :data:`REACTIONS` over the step.
    open_porosity : ndarray, shape (n,)
        ε at the end of the step.
    """

    extents: np.ndarray
    open_porosity: np.ndarray

    def change(self, species: str) -> np.ndarray:
        """Change of ``species`` (a name of :data:`SPECIES`) [mol/m³], shape (n,): Σ_j ν_sj ξ_j."""
        return STOICHIOMETRY[SPECIES.index(species)] @ self.extents


def integrate_reactions(
    porosity: np.ndarray,
    rates: np.ndarray,
    volume_increments: np.ndarray,
    dt: float,
) -> ReactionStep:
    """Integrate R_j = a_j ε with dε/dt = −Σ_j ΔV_j R_j exactly over ``dt`` (a_j frozen).

    ε(t + dt) = ε e^{−λ dt}, λ = Σ_j ΔV_j a_j, ξ_j = a_j ε (1 − e^{−λ dt})/λ
    (ξ_j = a_j ε dt where λ = 0). The pores close asymptotically and never
    overfill.

    Parameters
    ----------
    porosity
        Open porosity ε at the start, shape (n,).
    rates
        a_j [mol/(m³ s)] per unit open porosity, shape (3, n), non-negative.
    volume_increments
        ΔV_j [m³/mol] of solid volume per unit extent, shape (3,), non-negative.
    dt
        Step [s], positive.

    Raises
    ------
    ValueError
        On negative rates, increments, porosity or a non-positive dt.
    """
    eps = np.asarray(porosity, dtype=float)
    a = np.asarray(rates, dtype=float)
    dv = np.asarray(volume_increments, dtype=float)
    if not (np.isfinite(dt) and dt > 0.0):
        raise ValueError(f"dt must be positive and finite, got {dt!r}")
    if a.shape != (3, eps.size) or dv.shape != (3,):
        raise ValueError(f"rates must have shape (3, {eps.size}) and volume increments (3,)")
    if np.any(a < 0.0) or np.any(dv < 0.0) or np.any(eps < 0.0) or not np.all(np.isfinite(a)):
        raise ValueError("rates, volume increments and porosity must be finite and non-negative")
    decay = dv @ a  # λ [1/s]
    x = decay * dt
    small = x < 1e-12
    factor = np.where(small, dt, -np.expm1(-x) / np.where(small, 1.0, decay))  # ∫ e^{−λτ} dτ over dt
    extents = a * (eps * factor)[None, :]
    return ReactionStep(extents=extents, open_porosity=eps * np.exp(-x))


# ------------------------------------------------------------------ module
class AirModule:
    """Coupled-loop module for air ingress and the Li-consuming reactions (see the module docstring).

    Owns ``c_o2``, ``c_h2o``, ``c_co2`` [mol/m³ of pore gas] and ``Li2O``,
    ``LiOH``, ``Li2CO3`` [mol/m³] on the top-electrode cells; reads
    ``porosity`` [1] (mechanics; absent = dense electrode), ``c_li``
    [mol/m³] (and removes the consumed Li from it) and ``T`` [K] if present
    (else the device temperature). List it after the lithium module.

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device; ``device.ambient`` selects air or vacuum.
    ambient
        Override of ``device.ambient`` (``"air"`` or ``"vacuum"``).
    relative_humidity
        Override of the database humidity, in [0, 1].

    Raises
    ------
    femion.mesh.MeshError
        If the mesh lacks the exposed boundaries or the electrode/film interface,
        or an electrode cell has no interface film cell below it.
    ValueError
        On an unknown ambient or a humidity outside [0, 1].
    """

    name = "air"
    owns = ("c_o2", "c_h2o", "c_co2", "Li2O", "LiOH", "Li2CO3")
    reads = ("porosity", "c_li", "T")
    units = {
        "c_o2": "mol/m^3", "c_h2o": "mol/m^3", "c_co2": "mol/m^3",
        "Li2O": "mol/m^3", "LiOH": "mol/m^3", "Li2CO3": "mol/m^3",
        "li_consumed_air": "mol", "Li2O_amount": "mol", "LiOH_amount": "mol", "Li2CO3_amount": "mol",
        "open_pore_volume": "m^3",
    }
    """Units of the owned fields and of :meth:`observables` (read by the Simulation for its outputs)."""

    def __init__(
        self,
        mesh: AxisymmetricMesh,
        device: Device,
        *,
        ambient: str | None = None,
        relative_humidity: float | None = None,
    ):
        self.mesh = mesh
        self.device = device
        self.ambient = device.ambient if ambient is None else ambient
        if self.ambient not in ("air", "vacuum"):
            raise ValueError(f"ambient must be 'air' or 'vacuum', got {self.ambient!r}")
        self.relative_humidity = relative_humidity
        ambient_concentrations(self.ambient, device.temperature, relative_humidity)  # validates the humidity
        top, film = device.top_electrode.name, device.films[-1].name
        interface = f"{top}|{film}"
        mesh.require(regions=(top, film), boundaries=("top_contact", "electrode_side", interface))
        self.electrode = mesh.submesh((top,))
        self._cells = self.electrode.parent_cells
        self._exposed = self.electrode.face_mask("top_contact", "electrode_side")
        self._exposed_owner = self.electrode.face_cells[self._exposed, 0]
        self.operator = GasOperator(self.electrode, self._exposed)
        # Column map: each electrode cell draws Li from the film cell under it at the interface.
        faces = np.flatnonzero(mesh.face_mask(interface))
        pair = mesh.face_cells[faces]
        film_mask = mesh.region_mask(film)
        film_cells = np.where(film_mask[pair[:, 0]], pair[:, 0], pair[:, 1])
        spans = np.sort(mesh.nodes[mesh.faces[faces], 0], axis=1)
        order = np.argsort(spans[:, 0])
        spans, film_cells = spans[order], film_cells[order]
        r = self.electrode.r_cell
        index = np.clip(np.searchsorted(spans[:, 0], r, side="right") - 1, 0, len(spans) - 1)
        inside = (spans[index, 0] <= r) & (r <= spans[index, 1])
        if not np.all(inside):
            raise MeshError(f"{mesh.source}: electrode cells without an interface film cell below them")
        self._column = film_cells[index]  # full-mesh film cell of each electrode cell
        self._film_cells, self._column_index = np.unique(self._column, return_inverse=True)
        self._li_capacity = device.material(film).value("li_max_concentration")
        self._pore_diameter = device.material(top).value("pore_diameter")
        self.percolation_threshold = device.material(top).value("pore_percolation_threshold")
        self.gases = {name: gas_properties(name) for name in GASES}
        self.volumes = molar_volumes()
        v = self.volumes
        self.volume_increments = np.array([2 * v["Li2O"], 2 * v["LiOH"], v["Li2CO3"] - 2 * v["LiOH"]])
        if np.any(self.volume_increments < 0.0):
            raise ValueError("product molar volumes give a solid volume decrease; check the database densities")

    # ------------------------------------------------------------ helpers
    def _temperature(self, state) -> np.ndarray:
        if "T" in state.fields:
            return np.asarray(state.fields["T"], dtype=float)[self._cells]
        return np.full(self.electrode.n_cells, self.device.temperature)

    def _porosity(self, state) -> np.ndarray:
        if "porosity" not in state.fields:
            return np.zeros(self.electrode.n_cells)
        values = np.asarray(state.fields["porosity"], dtype=float)
        if values.shape != (self.mesh.n_cells,):
            raise ValueError(f"porosity must have shape ({self.mesh.n_cells},), got {values.shape}")
        porosity = values[self._cells]
        if not np.all(np.isfinite(porosity)) or np.any(porosity < 0.0) or np.any(porosity > 1.0):
            raise ValueError("porosity must be finite and within [0, 1] in the electrode")
        return porosity

    def _products(self, state) -> dict[str, np.ndarray]:
        return {name: np.asarray(state.fields[name], dtype=float)[self._cells] for name in PRODUCTS}

    def open_porosity(self, state) -> np.ndarray:
        """Open (gas-filled) porosity ε of the electrode cells in ``state``, shape (n_electrode_cells,)."""
        return open_porosity(self._porosity(state), self._products(state), self.volumes)

    def diffusivities(self, temperature: np.ndarray) -> dict[str, np.ndarray]:
        """Pore diffusivity D_pore [m²/s] of each gas at cell temperatures, shape (n_electrode_cells,)."""
        return {
            name: pore_diffusivity(
                molecular_diffusivity(gas.diffusivity, temperature),
                knudsen_diffusivity(self._pore_diameter, temperature, gas.molar_mass),
            )
            for name, gas in self.gases.items()
        }

    def surface_concentrations(self, temperature: np.ndarray) -> dict[str, np.ndarray]:
        """Ambient c_g [mol/m³] on every electrode face (non-zero only on the exposed faces), shape (n_faces,)."""
        face_t = temperature[self._exposed_owner]
        ambient = ambient_concentrations(self.ambient, face_t, self.relative_humidity)
        result = {}
        for name in GASES:
            values = np.zeros(len(self.electrode.faces))
            values[self._exposed] = ambient[name]
            result[name] = values
        return result

    # ------------------------------------------------------------ interface
    def initialize(self, state) -> None:
        """Zero gas and products (pristine device); ``c_li`` and ``porosity`` are not touched."""
        for name in (*GAS_FIELDS.values(), *PRODUCTS):
            state.fields[name] = np.zeros(self.mesh.n_cells)

    def advance(self, state, dt: float, start):
        """Quasi-steady gas, then the reactions over dt from ``start``; remove the consumed Li from ``state.c_li``.

        Raises
        ------
        ValueError
            On a non-positive dt or a malformed porosity field.
        FloatingPointError
            If the step would consume more than :data:`MAX_STEP_FRACTION` of
            the Li of a film cell or of the LiOH of a cell (retry with smaller dt).
        """
        from femion.coupling import ModuleReport

        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        products = self._products(start)
        eps = open_porosity(self._porosity(state), products, self.volumes)
        for name in (*GAS_FIELDS.values(), *PRODUCTS):
            state.fields[name] = np.array(start.fields[name], dtype=float)
        porous = eps > max(_BLOCKED, self.percolation_threshold)  # isolated voids take no gas
        if self.ambient == "vacuum" or not np.any(porous):
            for name in GAS_FIELDS.values():
                state.fields[name][self._cells] = 0.0
            return ModuleReport(converged=True, iterations=1, residual=0.0)

        temperature = self._temperature(state)
        if "c_li" in state.fields:
            c_li = np.asarray(state.fields["c_li"], dtype=float)
            theta = np.clip(c_li[self._column] / self._li_capacity, 0.0, 1.0)
        else:
            c_li, theta = None, np.zeros(self.electrode.n_cells)
        lioh_fraction = products["LiOH"] * self.volumes["LiOH"]
        k = {
            name: arrhenius(gas.rate_constant, gas.activation_energy, temperature, RATE_REFERENCE_TEMPERATURE)
            for name, gas in self.gases.items()
        }
        open_eps = np.where(porous, eps, 0.0)
        pore_d = self.diffusivities(temperature)
        surface = self.surface_concentrations(temperature)

        def solve(name: str, sink: np.ndarray, source: np.ndarray) -> np.ndarray:
            d_eff = effective_diffusivity(open_eps, pore_d[name], self.percolation_threshold)
            return np.maximum(self.operator.solve(d_eff, sink, source, surface[name]), 0.0)

        c_o2 = solve("O2", k["O2"] * open_eps * theta, np.zeros_like(theta))
        c_co2 = solve("CO2", k["CO2"] * open_eps * lioh_fraction, np.zeros_like(theta))
        carbonation = k["CO2"] * open_eps * lioh_fraction * c_co2  # R3, the H2O source
        c_h2o = solve("H2O", k["H2O"] * open_eps * theta, carbonation)
        for name, values in (("O2", c_o2), ("H2O", c_h2o), ("CO2", c_co2)):
            state.fields[GAS_FIELDS[name]][self._cells] = values

        rates = np.vstack([k["O2"] * c_o2 * theta, k["H2O"] * c_h2o * theta, k["CO2"] * c_co2 * lioh_fraction])
        step = integrate_reactions(open_eps, rates, self.volume_increments, dt)
        lioh_after = products["LiOH"] + step.change("LiOH")
        if np.any(lioh_after < -1e-12 * max(float(np.max(products["LiOH"])), 1e-300)) or np.any(
            2 * step.extents[2] > MAX_STEP_FRACTION * (products["LiOH"] + 2 * step.extents[1]) + 1e-300
        ):
            raise FloatingPointError("air: the step would consume too much LiOH in a cell; reduce dt")
        li_used = -step.change("Li")  # mol/m³ of electrode cell
        if c_li is not None:
            moles = np.bincount(self._column_index, weights=li_used * self.electrode.r_volumes, minlength=len(self._film_cells))
            available = c_li[self._film_cells] * self.mesh.r_volumes[self._film_cells]
            if np.any(moles > MAX_STEP_FRACTION * available):
                raise FloatingPointError("air: the step would consume more than half the Li of an interface cell; reduce dt")
            updated = c_li.copy()
            updated[self._film_cells] -= moles / self.mesh.r_volumes[self._film_cells]
            state.fields["c_li"] = updated
        for name in PRODUCTS:
            state.fields[name][self._cells] = products[name] + step.change(name)
        return ModuleReport(converged=True, iterations=1, residual=0.0)

    def observables(self, state) -> dict[str, float]:
        """Totals over the device: Li bound in products and each product [mol], open pore volume [m³]."""
        weights = 2.0 * np.pi * self.electrode.r_volumes
        products = self._products(state)
        li_bound = 2 * products["Li2O"] + products["LiOH"] + 2 * products["Li2CO3"]
        result = {"li_consumed_air": float(np.sum(li_bound * weights))}
        result.update({f"{name}_amount": float(np.sum(products[name] * weights)) for name in PRODUCTS})
        result["open_pore_volume"] = float(np.sum(self.open_porosity(state) * weights))
        return result
