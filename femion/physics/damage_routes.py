"""Routes to through-thickness damage of the top electrode, measured on computed mechanics fields.

The paper (§2.6) reports pores at the centre of the soft Pt top electrode
after a slow programming sweep in air. The bonded-stack mechanics of
:mod:`femion.physics.mechanics` puts plastic flow at the electrode edge,
and the thin-film laws of :mod:`femion.physics.thinfilm` find no channel
crack and no debond at database values. This module measures each
candidate route to centre damage on the fields of a computed sweep and
states, per route, the computed driving quantity, the criterion, their
ratio and the parameter value that would close the gap (ratio = 1), next to
the database value and its literature range.

(a) Stretching over a buckle apex
---------------------------------
If an interface under the electrode debonded over the whole compressed disk
r < R_e, the sub-stack above it buckles (σ₀ > σ_c(R_e)) and its crest is
stretched: the electrode's top surface at r = 0 gains the strain
ε_top = ε_m(0) + (z_top − z_n) κ(0) relative to its bonded state
(:func:`femion.physics.thinfilm.blister_apex_strain`, Föppl–von Kármán
plate; z_n the laminate's neutral plane). Where the mechanics has computed
a blister (``blister_radius``, ``blister_interface``), the drive is the
crest strain of that blister at its own radius; otherwise that of the
hypothetical whole-electrode buckle (an upper bound over b: at large
σ₀/σ_c the crest strain no longer depends on b). A debonded film ruptures by
necking at ε_N (:func:`femion.physics.thinfilm.necking_strain`; Li et al.,
Mech. Mater. 37, 261 (2005)). Drive ε_top, threshold ε_N; the blister itself
needs G ≥ Γ(ψ): the mode-I toughness that would let it form is
Γ_I × max_b G/Γ(ψ) (Γ ∝ Γ_I).

(b) Compressive delamination of the electrode into domes
--------------------------------------------------------
Sputtered Pt on TiN forms hollow domes (hillocks) where the film debonds
and buckles once its compressive stress reaches about −1 GPa (Kumagai,
Miura, Shimazu & Matsui, Trans. JSME A 65, 1996 (1999); Matsui, Hiratani,
Kumagai, Miura & Fujisaki, Jpn. J. Appl. Phys. 37, L465 (1998)). The
electrode's own equibiaxial stress σ = −(σ_rr + σ_θθ)/2 (through-thickness
mean per radial column, compression positive) is taken where it is largest;
a dome of radius b buckles above σ_c = 1.2235 Ē (h/b)² (Hutchinson & Suo,
Adv. Appl. Mech. 29, 63 (1992)) and grows while G(b) ≥ Γ(ψ(b))
(:func:`femion.physics.thinfilm.solve_blister_radius` with the uniform
stress σ, b up to R_e). Drive max_b G/Γ(ψ); the stress that would close it
is found by root finding. A plastically flowing film cannot carry more than
its flow stress, so the needed stress is compared with the yield stress.

(c) Gas pressure under a sealed electrode
-----------------------------------------
Li + H₂O → LiOH + ½ H₂ (paper Eq. (2)) beneath a dense electrode would
inflate it: a debond of radius b grows at the overpressure p_d(b) where
G(p, b) = Γ(ψ) (:func:`femion.physics.thinfilm.debond_pressure`,
:func:`femion.physics.thinfilm.pressurized_blister`), holding
n = (p_d + p_amb) V/(R T) moles of gas (ideal gas; p_amb the ambient
pressure, 0 in vacuum). The film opens where its crest strain
ε_m + (h/2) κ reaches ε_N. In the plate regime (δ ≪ h) the crest strain at
debond does not depend on b: with G = (3/32)(1 − ν²) p² b⁴/(E h³) = Γ and
(h/2) κ = (3/8)(1 − ν²) p b²/(E h²), it is [1.5 (1 − ν²) Γ/(E h)]^½. The H₂ needed to spread the debond over the
electrode (b = R_e) is compared with what the films' Li could make (½ n_Li,
if water were unlimited) and with the water available under a dense
electrode (none enters without open porosity; femion has no internal water
source, so the available H₂ is 0).

The plate solutions of (a) and (c) are elastic. A film whose yield strain
σ_y(1 − ν)/E is below the computed crest strain (soft Pt: 6e-5) flows
there, so those crest strains are elastic estimates of a plastic
deformation (reported with ``elastic_limit_strain``).

(d) Vacancy creation (Gruber et al., Phys. Rev. Lett. 107, 265501 (2011))
--------------------------------------------------------------------------
Thin Pt films relax compressive stress near room temperature by creating
vacancies at the free surface. The paper measures the vacancy change but
gives no law of its rate under a bias sweep, so femion bounds the route:
relaxing an equibiaxial elastic strain ε = (1 − ν)σ/E fully by vacancies
takes at most a vacancy volume fraction equal to the relaxed area strain,
f_v ≤ 2 (1 − ν) |σ|/E (each vacancy removing at most one atomic volume).
Threshold: the void percolation threshold of the electrode
(``pore_percolation_threshold``). The bound is a bound, not a prediction.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.optimize import brentq

from femion import fvm
from femion.constants import GAS_CONSTANT
from femion.physics.mechanics import vegard_eigenstrain
from femion.physics.porosity import clamped_plate_buckling_stress
from femion.physics.thinfilm import (
    blister_apex_strain,
    debond_pressure,
    pressurized_blister,
    solve_blister_radius,
)

__all__ = ["ATMOSPHERE", "FieldRecorder", "Route", "electrode_stress_profile", "measure_routes",
           "route_buckle_apex", "route_gas_blister", "route_pt_domes", "route_vacancy_creation"]

ATMOSPHERE = 101325.0
"""Ambient pressure in air [Pa] (standard atmosphere)."""

DOME_STRESS_RANGE = (-0.5e9, -1.0e9)
"""Compressive Pt film stresses [Pa]: as-deposited down to −0.5 GPa, hillock (dome) growth from about −1 GPa
(Kumagai et al. 1999; Matsui et al. 1998)."""

FILM_RUPTURE_STRAIN_RANGE = (0.01, 0.05)
"""Rupture strain of freestanding thin metal films [1]: a few percent (the order quoted by Li et al. 2005)."""


@dataclass(frozen=True)
class Route:
    """One route to through-thickness electrode damage, measured (module docstring).

    Attributes
    ----------
    name : str
        Short key ("buckle_apex", "pt_domes", "gas_blister", "vacancy_creation").
    drive, threshold : float
        Computed driving quantity and the criterion it must reach (same unit ``unit``).
    unit : str
        Unit of ``drive`` and ``threshold``.
    ratio : float
        drive/threshold [1] (≥ 1: the route opens the electrode).
    radius : float
        r [m] where the route acts (its driving quantity peaks).
    parameter : str
        The parameter whose value would close the gap.
    closing_value : float
        Its value at ratio = 1 (SI; NaN if no value closes it).
    database_value : float
        Its value in femion's database or computation.
    literature_range : tuple of float or None
        Its literature range (SI), where known.
    inside_range : bool or None
        Whether ``closing_value`` lies in ``literature_range``.
    source : str
        Where the physics and the range come from.
    extra : dict
        Further measured numbers (SI, keys name their unit).
    """

    name: str
    drive: float
    threshold: float
    unit: str
    ratio: float
    radius: float
    parameter: str
    closing_value: float
    database_value: float
    literature_range: tuple[float, float] | None
    inside_range: bool | None
    source: str
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready dict of the attributes."""
        out = asdict(self)
        out["literature_range"] = list(self.literature_range) if self.literature_range else None
        return out


def _inside(value: float, bounds: tuple[float, float] | None) -> bool | None:
    if bounds is None or not np.isfinite(value):
        return None
    low, high = min(bounds), max(bounds)
    return bool(low <= value <= high)


class FieldRecorder:
    """Copies chosen cell fields after every accepted step of a :class:`femion.Simulation` (no owned fields).

    Append it to ``simulation.modules`` after the modules that own the
    fields (as :class:`femion.physics.mechanics.LithiumHistoryRecorder`).

    Parameters
    ----------
    names : tuple of str
        Field names to record (absent fields are skipped).
    until : float, optional
        Record only steps with t ≤ ``until`` [s] (None: all).
    reduce : {None, "max"}
        None: keep every snapshot; ``"max"``: keep one snapshot, the cell-wise running maximum.

    Attributes
    ----------
    times, voltages : list of float
        t [s] and V [V] per recorded step.
    snapshots : list of dict
        name → ndarray (n_cells,) per snapshot (one with ``reduce="max"``).

    Raises
    ------
    ValueError
        Unknown ``reduce``.
    """

    name = "field_recorder"
    owns: tuple[str, ...] = ()

    def __init__(self, names: tuple[str, ...], until: float | None = None, reduce: str | None = None):
        if reduce not in (None, "max"):
            raise ValueError(f"FieldRecorder: reduce must be None or 'max', got {reduce!r}")
        self.reads = tuple(names)
        self.until = until
        self.reduce = reduce
        self.times: list[float] = []
        self.voltages: list[float] = []
        self.snapshots: list[dict[str, np.ndarray]] = []

    def initialize(self, state) -> None:
        """Nothing to initialise."""

    def advance(self, state, dt: float, start):
        """No-op (snapshots are taken once per accepted step in :meth:`observables`)."""
        from femion.coupling import ModuleReport

        return ModuleReport(True, 0, 0.0)

    def observables(self, state) -> dict[str, float]:
        """Store (or fold into the running maximum) the recorded fields; returns no observables."""
        if self.until is not None and state.time > self.until + 1e-12:
            return {}
        self.times.append(float(state.time))
        self.voltages.append(float(state.voltage))
        snapshot = {name: np.array(state.fields[name], copy=True) for name in self.reads if name in state.fields}
        if self.reduce == "max" and self.snapshots:
            previous = self.snapshots[0]
            self.snapshots[0] = {name: np.maximum(previous[name], values) if name in previous else values for name, values in snapshot.items()}
        else:
            self.snapshots.append(snapshot)
        return {}


def electrode_stress_profile(module, fields: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Equibiaxial in-plane stress of the top electrode per radial column, compression positive.

    σ(r) = −(σ_rr + σ_θθ)/2, volume-weighted through the film thickness.

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        The module that computed ``fields``.
    fields : dict
        Cell fields with ``sigma_rr`` and ``sigma_tt`` [Pa], shape (n_cells,).

    Returns
    -------
    (r, stress) : tuple of ndarray
        Column radii [m] (sorted) and σ [Pa].
    """
    film, mesh = module.film, module.mesh
    cells = film["cells"]
    column = film["column"][cells]
    weight = mesh.r_volumes[cells]
    value = -0.5 * (fields["sigma_rr"][cells] + fields["sigma_tt"][cells])
    total = np.bincount(column, weight)
    present = total > 0
    stress = np.bincount(column, weight * value)[present] / total[present]
    radius = np.bincount(column, weight * mesh.cell_centroids[cells, 0])[present] / total[present]
    order = np.argsort(radius)
    return radius[order], stress[order]


def _top_of_stack(device) -> float:
    return float(device.substrate.thickness + sum(layer.thickness for layer in device.layers))


def route_buckle_apex(module, fields: dict[str, np.ndarray]) -> Route:
    """Route (a): the electrode stretched over the crest of a whole-disk buckle (module docstring).

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        Mechanics of the device (its candidate interfaces and electrode film).
    fields : dict
        ``c_li`` and ``c_li_ref`` [mol/m³], shape (n_cells,); optionally ``blister_radius`` [m] and
        ``blister_interface`` (index + 1, 0 bonded) of a computed blister.

    Returns
    -------
    Route
        Drive: crest strain ε_top of the electrode's top surface [1] of the computed blister, else the
        largest over the candidate interfaces of a whole-electrode buckle; threshold ε_N; closing
        parameter: the electrode's rupture strain.

    Raises
    ------
    ValueError
        If the module has no candidate interface (blister disabled).
    """
    if not module.blister_interfaces:
        raise ValueError("route_buckle_apex needs a MechanicsModule with blister candidates (blister.enabled)")
    device, film = module.device, module.film
    radius = device.electrode_radius
    vegard = vegard_eigenstrain(fields["c_li"], fields["c_li_ref"], module.properties.partial_molar_volume)
    top = _top_of_stack(device)
    rows = []
    for face in module.blister_interfaces:
        lam = face.laminate
        sigma = float(face.disk_stress(vegard)(np.array([radius]))[0])
        critical = clamped_plate_buckling_stress(lam.plate_modulus, lam.thickness, radius)
        strain, curvature = blister_apex_strain(sigma, critical, lam.poisson_ratio, lam.thickness, radius)
        crest = float(strain + (top - lam.neutral_plane) * curvature)
        state = solve_blister_radius(face.disk_stress(vegard), lam.plate_modulus, lam.youngs_modulus, lam.poisson_ratio,
                                     lam.thickness, face.mode_one, face.mixity, radius)
        upper, lower = face.name.split("|")
        bounds = device.material(upper)[f"interface_toughness_{device.material(lower).name}"].range
        rows.append({"interface": face.name, "mode_one_range_J_m2": list(bounds) if bounds else None, "disk_stress_Pa": sigma, "critical_stress_Pa": critical, "q": sigma / critical,
                     "apex_membrane_strain": float(strain), "apex_curvature_1_m": float(curvature), "crest_strain": crest,
                     "g_over_gamma_max": state.ratio, "mode_one_J_m2": face.mode_one,
                     "mode_one_needed_J_m2": face.mode_one * state.ratio})
    best = max(rows, key=lambda row: row["crest_strain"])
    drive, radius_note = best["crest_strain"], "whole-electrode buckle (hypothetical: no interface debonded)"
    computed = {"computed_blister_radius_m": 0.0, "computed_blister_crest_strain": 0.0}
    index = int(round(float(np.max(fields.get("blister_interface", np.zeros(1)), initial=0.0)))) - 1
    b = float(np.max(fields.get("blister_radius", np.zeros(1)), initial=0.0))
    if index >= 0 and b > 0.0:  # a blister the mechanics computed: its own radius and interface
        face = module.blister_interfaces[index]
        lam = face.laminate
        sigma = float(face.disk_stress(vegard)(np.array([b]))[0])
        critical = clamped_plate_buckling_stress(lam.plate_modulus, lam.thickness, b)
        strain, curvature = blister_apex_strain(sigma, critical, lam.poisson_ratio, lam.thickness, b)
        drive = float(strain + (top - lam.neutral_plane) * curvature)
        computed = {"computed_blister_radius_m": b, "computed_blister_crest_strain": drive}
        radius_note = f"computed blister of the {face.name} interface, b = {b:.3g} m"
    necking = film["necking"]
    material = device.material(film["name"])
    yield_stress, hardening = material.value("yield_stress"), material.value("hardening_modulus")
    return Route(
        name="buckle_apex", drive=drive, threshold=necking, unit="1",
        ratio=drive / necking if necking > 0 else float("inf"), radius=0.0,
        parameter="rupture (necking) strain of the debonded electrode", closing_value=drive,
        database_value=necking, literature_range=FILM_RUPTURE_STRAIN_RANGE,
        inside_range=_inside(drive, FILM_RUPTURE_STRAIN_RANGE),
        source="Hutchinson & Suo 1992 (circular blister); FvK apex strain (femion.physics.thinfilm); Li et al. 2005 (necking)",
        extra={"interface": best["interface"], "interfaces": rows, "yield_stress_Pa": yield_stress, "hardening_Pa": hardening,
               "blister": radius_note, **computed, "whole_disk_crest_strain": best["crest_strain"],
               "mode_one_needed_J_m2": best["mode_one_needed_J_m2"], "mode_one_J_m2": best["mode_one_J_m2"],
               "mode_one_range_J_m2": best["mode_one_range_J_m2"], "g_over_gamma_max": best["g_over_gamma_max"],
               "elastic_limit_strain": yield_stress * (1.0 - film["poisson_ratio"]) / film["youngs_modulus"]},
    )


def _dome_ratio(stress: float, film: dict, mode_one: float, mixity: float, radius: float) -> float:
    if stress <= 0.0:
        return 0.0
    e, nu, h = film["youngs_modulus"], film["poisson_ratio"], film["thickness"]
    state = solve_blister_radius(lambda b: np.full(np.shape(b), stress), e / (1.0 - nu**2), e, nu, h, mode_one, mixity, radius)
    return state.ratio


def route_pt_domes(module, fields: dict[str, np.ndarray], mode_one: float | None = None) -> Route:
    """Route (b): compressive delamination of the electrode itself into domes (module docstring).

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        Mechanics of the device.
    fields : dict
        ``sigma_rr``, ``sigma_tt`` [Pa], shape (n_cells,).
    mode_one : float, optional
        Γ_I of the electrode's interface [J/m²] (None: the database value).

    Returns
    -------
    Route
        Drive max_b G/Γ(ψ) at the radius of the largest compression (threshold 1); closing
        parameter: the compressive film stress at which G/Γ reaches 1.
    """
    device, film = module.device, module.film
    material = device.material(film["name"])
    mode_one = _electrode_toughness(module) if mode_one is None else float(mode_one)
    mixity = material.value("interface_mixity_parameter")
    radius = device.electrode_radius
    r, stress = electrode_stress_profile(module, fields)
    k = int(np.argmax(stress))
    peak = float(stress[k])
    ratio = _dome_ratio(peak, film, mode_one, mixity, radius)
    needed = brentq(lambda s: _dome_ratio(s, film, mode_one, mixity, radius) - 1.0, 1e3, 1e11, xtol=1e3)
    centre = float(np.interp(0.0, r, stress))
    yield_stress = material.value("yield_stress")
    return Route(
        name="pt_domes", drive=ratio, threshold=1.0, unit="G/Γ", ratio=ratio, radius=float(r[k]),
        parameter="compressive stress of the electrode film", closing_value=needed, database_value=peak,
        literature_range=(abs(DOME_STRESS_RANGE[0]), abs(DOME_STRESS_RANGE[1])), inside_range=_inside(needed, (abs(DOME_STRESS_RANGE[0]), abs(DOME_STRESS_RANGE[1]))),
        source="Hutchinson & Suo 1992 (sigma_c = 1.2235 E (h/b)^2, G(b) = Gamma(psi)); Kumagai et al. 1999; Matsui et al. 1998",
        extra={"peak_compression_Pa": peak, "centre_stress_Pa": centre, "yield_stress_Pa": yield_stress,
               "mode_one_needed_at_1GPa_J_m2": mode_one * _dome_ratio(abs(DOME_STRESS_RANGE[1]), film, mode_one, mixity, radius),
               "needed_over_yield": needed / yield_stress, "mode_one_J_m2": mode_one,
               "mode_one_needed_J_m2": mode_one * ratio if ratio > 0 else 0.0,
               "critical_stress_at_electrode_radius_Pa": clamped_plate_buckling_stress(
                   film["youngs_modulus"] / (1 - film["poisson_ratio"] ** 2), film["thickness"], radius)},
    )


def _electrode_toughness(module) -> float:
    """Γ_I of the electrode's interface with the layer below, from the database [J/m²]."""
    device, film = module.device, module.film
    names = [layer.name for layer in device.layers]
    below = device.material(names[names.index(film["name"]) - 1]).name
    return device.material(film["name"]).value(f"interface_toughness_{below}")


def route_gas_blister(module, li_films: float, points: int = 48, mode_one: float | None = None,
                      h2_generated: float | None = None) -> Route:
    """Route (c): the electrode inflated by H₂ from Li + H₂O under it (module docstring).

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        Mechanics of the device (electrode film, its interface, ambient, temperature).
    li_films : float
        Li in the films [mol] (½ of it bounds the H₂ if water were unlimited).
    points
        Radius grid (geometric, 10 h to R_e).
    mode_one : float, optional
        Γ_I of the electrode's interface [J/m²] (None: the database value).
    h2_generated : float, optional
        H₂ the computed history made by Eq. (2) [mol], ½ of the LiOH the air
        module formed (None: not computed, the history ran no air module; the
        drive and ratio are NaN).

    Returns
    -------
    Route
        Drive: H₂ generated [mol]; threshold: H₂ to spread the debond over the
        electrode; closing parameter: water under the electrode [mol].

    Raises
    ------
    ValueError
        Negative ``li_films``.
    """
    if li_films < 0.0:
        raise ValueError(f"li_films must be >= 0, got {li_films!r}")
    device, film = module.device, module.film
    material = device.material(film["name"])
    mode_one = _electrode_toughness(module) if mode_one is None else float(mode_one)
    mixity = material.value("interface_mixity_parameter")
    e, nu, h = film["youngs_modulus"], film["poisson_ratio"], film["thickness"]
    radius = device.electrode_radius
    ambient = ATMOSPHERE if device.ambient == "air" else 0.0
    temperature = device.temperature
    radii = np.geomspace(10.0 * h, radius, points)
    pressure = np.array([debond_pressure(b, e, nu, h, mode_one, mixity) for b in radii])
    state = pressurized_blister(pressure, radii, e, nu, h)
    moles = (pressure + ambient) * state.volume / (GAS_CONSTANT * temperature)
    crest = state.apex_strain + 0.5 * h * state.apex_curvature
    necking = film["necking"]
    opens = np.flatnonzero(crest >= necking)
    rupture = FILM_RUPTURE_STRAIN_RANGE[0]
    opens_literature = np.flatnonzero(crest >= rupture)
    needed = float(moles[-1])
    available = float("nan") if h2_generated is None else float(h2_generated)
    return Route(
        name="gas_blister", drive=available, threshold=needed, unit="mol H2", ratio=available / needed, radius=0.0,
        parameter="water under the electrode (mol H2O = 2 mol H2)", closing_value=2.0 * needed, database_value=0.0,
        literature_range=None, inside_range=None,
        source="paper Eq. (2); Williams 1969, Jensen 1991 (pressurised blister); FvK plate (femion.physics.thinfilm)",
        extra={"li_films_mol": li_films, "h2_from_li_mol": 0.5 * li_films, "h2_needed_over_h2_from_li": needed / (0.5 * li_films) if li_films > 0 else float("inf"),
               "debond_pressure_at_electrode_radius_Pa": float(pressure[-1]), "debond_pressure_at_10h_Pa": float(pressure[0]),
               "crest_height_at_electrode_radius_m": float(state.deflection[-1]), "crest_strain_max": float(np.max(crest)),
               "necking_strain": necking, "opens_at_radius_m": float(radii[opens[0]]) if opens.size else float("nan"),
               "h2_to_open_mol": float(moles[opens[0]]) if opens.size else float("nan"),
               "opens_at_radius_with_rupture_1pct_m": float(radii[opens_literature[0]]) if opens_literature.size else float("nan"),
               "rupture_1pct_up_to_radius_m": float(radii[opens_literature[-1]]) if opens_literature.size else float("nan"),
               "debond_pressure_to_open_with_rupture_1pct_Pa": float(pressure[opens_literature[0]]) if opens_literature.size else float("nan"),
               "h2_to_open_with_rupture_1pct_mol": float(moles[opens_literature[0]]) if opens_literature.size else float("nan"),
               "mode_one_J_m2": mode_one, "ambient_pressure_Pa": ambient,
               "elastic_limit_strain": material.value("yield_stress") * (1.0 - nu) / e},
    )


def route_vacancy_creation(module, fields: dict[str, np.ndarray]) -> Route:
    """Route (d): porosity from vacancy creation relaxing compressive film stress, an upper bound (module docstring).

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        Mechanics of the device.
    fields : dict
        ``sigma_rr``, ``sigma_tt`` [Pa], shape (n_cells,).

    Returns
    -------
    Route
        Drive: f_v bound 2(1 − ν)σ/E at the largest compression [1]; threshold: the electrode's pore
        percolation threshold; closing parameter: the compressive stress that would make f_v reach it.
    """
    device, film = module.device, module.film
    material = device.material(film["name"])
    threshold = material.value("pore_percolation_threshold")
    e, nu = film["youngs_modulus"], film["poisson_ratio"]
    r, stress = electrode_stress_profile(module, fields)
    k = int(np.argmax(stress))
    peak = max(float(stress[k]), 0.0)
    bound = 2.0 * (1.0 - nu) * peak / e
    needed = threshold * e / (2.0 * (1.0 - nu))
    return Route(
        name="vacancy_creation", drive=bound, threshold=threshold, unit="vacancy volume fraction (bound)",
        ratio=bound / threshold, radius=float(r[k]), parameter="compressive stress of the electrode film",
        closing_value=needed, database_value=peak, literature_range=(abs(DOME_STRESS_RANGE[0]), abs(DOME_STRESS_RANGE[1])),
        inside_range=_inside(needed, (abs(DOME_STRESS_RANGE[0]), abs(DOME_STRESS_RANGE[1]))),
        source="Gruber et al., PRL 107, 265501 (2011) (mechanism; no rate law); bound 2(1 - nu)|sigma|/E",
        extra={"peak_compression_Pa": peak, "percolation_threshold": threshold},
    )


def measure_routes(module, snapshots: list[dict[str, np.ndarray]], li_films: float, mode_one: float | None = None) -> dict[str, Route]:
    """Every route on every snapshot; per route the snapshot with the largest drive/threshold ratio.

    Parameters
    ----------
    module : femion.physics.mechanics.MechanicsModule
        The module that computed the snapshots.
    snapshots : list of dict
        Fields ``c_li``, ``c_li_ref``, ``sigma_rr``, ``sigma_tt`` per accepted step (snapshots lacking one are
        skipped; ``extra["snapshot"]`` indexes the remaining ones).
    li_films : float
        Li in the films [mol] (route (c)).
    mode_one : float, optional
        Γ_I of the electrode's interface for routes (b) and (c) [J/m²] (None: the database value).

    Returns
    -------
    dict
        Route name → :class:`Route`, with ``extra["snapshot"]`` the index of the chosen snapshot.

    Raises
    ------
    ValueError
        No snapshot with the needed fields.
    """
    needed = ("c_li", "c_li_ref", "sigma_rr", "sigma_tt")
    snapshots = [s for s in snapshots if all(name in s for name in needed)]  # the initial state may lack c_li_ref
    if not snapshots:
        raise ValueError(f"measure_routes needs at least one snapshot with the fields {', '.join(needed)}")
    out: dict[str, Route] = {}
    for name, function in (("buckle_apex", route_buckle_apex), ("pt_domes", route_pt_domes), ("vacancy_creation", route_vacancy_creation)):
        if name == "pt_domes":  # cheap proxy first: the dome drive rises with the peak compression
            index = int(np.argmax([np.max(electrode_stress_profile(module, s)[1]) for s in snapshots]))
            candidates = [index]
        else:
            candidates = range(len(snapshots))
        best = None
        for index in candidates:
            route = function(module, snapshots[index], mode_one) if name == "pt_domes" else function(module, snapshots[index])
            if best is None or route.ratio > best[1].ratio:
                best = (index, route)
        index, route = best
        out[name] = Route(**{**route.__dict__, "extra": {**route.extra, "snapshot": index}})
    last = snapshots[-1]
    h2 = 0.5 * 2.0 * np.pi * fvm.r_integral(module.mesh, last["LiOH"]) if "LiOH" in last else None  # Eq. (2): ½ H2 per LiOH
    out["gas_blister"] = route_gas_blister(module, li_films, mode_one=mode_one, h2_generated=h2)
    return out
