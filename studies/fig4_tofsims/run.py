"""Synthetic ToF-SIMS panels of the paper's Fig. 4 from the simulated device states.

Problem
-------
The paper's Fig. 4 shows ToF-SIMS of the device in three modes: (a)–(c) 3D
layer morphology, (d)–(f) 3D maps of Li⁻, OH⁻, LiO⁻, CO3⁻, CO3Li⁻, (g)/(h) 2D Li
depth maps and (i) a 2D O depth map, for the analog, power and volatile modes
(paper §2.6). femion computes each mode's state with the coupled model along
the paper's histories and passes its fields through the synthetic ToF-SIMS of
:mod:`femion.tofsims` (revolution into voxels, species → ions with assumed
sensitivity factors, Hofmann MRI depth resolution).

Histories
---------
* **Analog mode** (a, d, g): the pristine device driven by a train of
  potentiation pulses (:class:`femion.Simulation`, electric potential + Li
  electrochemistry). No mechanics in this history: the morphology is the
  flat stack.
* **Power mode** (b, e, h): the analog state programmed by a slow voltage
  sweep in the device's ambient with Li, mechanics (Vegard stress, electrode
  plasticity, void growth) and air ingress/reactions
  (``Simulation(..., physics=("lithium", "mechanics", "air"), start=analog
  state)``). The morphology is the mesh displaced by the computed
  displacement; the product ions come from the computed Li2O, LiOH, Li2CO3
  fields. Whatever these physics give is shown, including nothing.
* **Volatile mode** (c, f, i): the power state formed by a voltage ramp
  with a small compliance current (paper: I_cc < 100 µA) and then left at
  open circuit (bias removed) for ``rest_time``
  (:class:`femion.switching.VacancySimulation`: V_O drift–diffusion with
  generation, Joule heating, compliance circuit, ``start`` = the power
  state on the mesh displaced by the power-mode displacement). Every field
  of the power state is carried over except the Li model's electrical
  solution φ, κ (:data:`ELECTRICAL_SOLUTION`: the V_O model solves its own);
  the V_O physics evolves ``n_vo``,
  ``vo_generated``, ``T``, ``phi``; **lithium, mechanics and air are left
  out of this history** (femion.switching runs V_O + Joule only), so Li, the
  products, porosity and the displacement are those of the power state:
  panels (c) and (f) differ from (b) and (e) only through what the V_O
  physics changes, which is nothing in those fields.

  **What the O⁻ signal is computed from.** With ``track_oxygen`` (default
  true) the O²⁻ released by V_O generation is tracked: it drifts toward the
  anode, piles up at the blocking film boundary and recombines with V_O
  (:mod:`femion.physics.vacancy`); with it false it is assumed to leave. The
  O⁻ ion is the lattice O of the oxide matrices (per-matrix factor ×
  formula-unit density), plus the O of the air products (Li2O, LiOH,
  Li2CO3), plus the mobile O (``c_o`` = n_o / N_A), minus the oxygen
  vacancies (``c_vo`` = n_vo / N_A, one lattice O missing per V_O):
  :data:`femion.tofsims.SENSITIVITY_FACTORS`. Panel (i) shows the O⁻ depth
  map of the volatile state and, below it, its change against the same
  sample before forming (the power state with the as-fabricated V_O
  density): ΔO⁻ = 2 (Δc_o − Δc_vo), the O moved (an excess where it piles
  up) and removed (a deficit) by forming.

The forming ramp runs under the time loop's local-error control
(``forming_error_tolerance``, :class:`femion.simulation.SimulationSettings`);
``tests/studies/test_forming.py`` checks that forming converges in dt at that
tolerance (on the pristine device).

O localisation readout: the FWHM in r of the magnitude of the depth-integrated
ΔO⁻ under the electrode (:func:`femion.tofsims.excess_fwhm`, baseline 0: the
change against the power state), with r of its maximum, its centre/edge ratio
and its size relative to the O⁻ signal; beside it the cell-level V_O excess
profile in LiPON (:func:`femion.switching.filament_profile`, no instrument).
The paper states O localised just below the centre of the Pt electrode (Fig.
4i); ``findings.md`` gives the verdict.

Outputs: ``analog/``, ``power/``, ``volatile/`` (simulation curves, reads,
fields; ``volatile/forming.nc`` the forming ramp), ``tofsims/*.vti`` (one
volume per ion and mode, ``volatile_O-_change.vti``), ``depth_profiles_<mode>.nc``,
``depth_map_<mode>.nc``, the nine panel PNGs, ``fig4.png`` (composite),
``panels.json``, ``readouts.json``, ``summary.json`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config, require_layers
from femion.constants import AVOGADRO
from femion.io import write_dataset, write_run_metadata
from femion.protocols import forming_ramp, pulse_train, rest, voltage_sweep
from femion.geometry import QUICK_MESH, MeshSettings
from femion.simulation import Simulation, SimulationSettings
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "pulse_amplitude", "pulse_width", "pulse_rest", "pulses", "quick_pulses", "program_vertices",
    "program_rate", "forming_compliance", "forming_rate", "forming_stop", "quick_forming_stop", "forming_error_tolerance", "rest_time", "pixels", "quick_pixels", "field_of_view",
    "track_oxygen",
}
POWER_PHYSICS = ("lithium", "mechanics", "air")
MISSING: dict[str, tuple[str, str, str]] = {}
"""Panels not computed (key -> (mode, content, what it lacks)); all nine are computed now."""
ELECTRICAL_SOLUTION = ("phi", "kappa")
"""Fields of the power state not carried into the V_O history: the Li physics' potential and conductivity.

They are the electrical solution of the Li model, recomputed by the V_O + Joule model at every step. The Li
model's φ jumps at the electrode/electrolyte interfaces (LiPON sits at about −2.9 V after the quick power
sweep); the V_O generation law, lagged to the start of a step, reads that jump as a field of ~8·10⁷ V/m, above
its 10⁷ V/m threshold, and generated V_O at 0.05 V in the first forming step (measured). The V_O history
therefore starts from its own φ (0 V everywhere, no bias), as a forming run on the pristine device does.
"""
LOCALISED_FWHM = 1.0
"""O counts as localised under the centre if its change peaks within 0.25 R_e and its FWHM is below this × R_e."""


def findings(summary: dict, readouts: dict) -> str:
    """The paper's Fig. 4 statements next to what this run computed, as Markdown."""
    rising = summary["G_last_read_S"] > summary["G_first_read_S"]
    lines = ["# Fig. 4 synthetic ToF-SIMS: what this run shows", ""]
    for mode, panel in (("analog", "g"), ("power", "h")):
        cv = readouts[f"li_lateral_uniformity_WO3_{mode}"]
        lines.append(f"- ({panel}) Li homogeneous laterally in the {mode} mode (paper): Li⁻ lateral CV in WO3 = {cv:.2g} → "
                     f"{'reproduced' if cv < 0.01 else 'NOT reproduced'}.")
    centre, edge = readouts["product_ions_in_Pt_power"]["centre"], readouts["product_ions_in_Pt_power"]["edge"]
    analog = readouts["product_ions_in_Pt_analog"]["centre"]
    total = lambda values: sum(v for ion, v in values.items() if ion in ("OH-", "CO3-", "CO3Li-"))  # noqa: E731
    concentrated = total(centre) > 2.0 * max(total(edge), 1e-300) and total(centre) > 0.0
    lines.append(
        "- (e) reaction products (OH⁻, CO3⁻, CO3Li⁻) concentrated at the Pt centre in the power mode, absent in the analog mode "
        f"(paper): power centre {total(centre):.3g}, power edge {total(edge):.3g}, analog centre {total(analog):.3g} (depth-integrated "
        f"counts in Pt) → {'reproduced' if concentrated else 'NOT reproduced'}"
        + ("" if concentrated else f"; Li consumed by air in the programming sweep: {summary['li_consumed_air_power_mol']:.3g} mol, "
           f"peak electrode porosity {summary['porosity_max_power']:.3g} against the percolation threshold "
           f"{summary['pore_percolation_threshold']:.3g} of the gas path") + "."
    )
    lines.append(
        f"- (b) deformed layers in the power mode (paper: obvious deformation): largest interface displacement "
        f"{summary['max_interface_displacement_power_m']:.3g} m, peak von Mises stress {summary['sigma_vm_max_power_Pa']:.3g} Pa, "
        f"plastic strain {summary['eps_p_max_power']:.3g} and porosity growth {summary['porosity_growth_max_power']:.3g} in the electrode, "
        f"blister height {summary['blister_height_max_power_m']:.3g} m (largest over the programming sweep)."
    )
    lines.append(
        f"- Analog history: {summary['pulses']} potentiation pulses moved {summary['li_inventory_WO3_change_mol']:.3g} mol of Li into WO3; "
        f"the read conductance went {summary['G_first_read_S']:.4g} → {summary['G_last_read_S']:.4g} S "
        + ("(rising, as the paper's potentiation)." if rising else
           "(FALLING: the paper's potentiation raises G; the model does not reproduce it with these parameters).")
    )
    lines += volatile_findings(summary, readouts)
    return "\n".join(lines) + "\n"


def volatile_findings(summary: dict, readouts: dict) -> list[str]:
    """The volatile-mode lines of :func:`findings` (panels c, f, i)."""
    o = readouts["o_localisation_volatile"]
    vo = readouts["vo_excess_LiPON_volatile"]
    radius = summary["electrode_radius_m"]
    fwhm = o["fwhm_m"]
    width = (f"FWHM {fwhm * 1e6:.3g} µm" + ("" if o["within_electrode"] else " (the half maximum is not reached under the "
             "electrode: width over the whole raster)")) if np.isfinite(fwhm) else "no half-maximum crossing inside the raster"
    localised = bool(o["localised_under_centre"])
    centre_sign = "deficit" if o["sign"] < 0 else "excess"
    lines = [
        f"- Volatile history: forming ramp 0 → {summary['forming_stop_V']:g} V at {summary['forming_rate_V_per_s']:g} V/s under "
        f"I_cc = {summary['forming_compliance_A'] * 1e6:g} µA from the power state (V_O + Joule heating; Li, mechanics and air "
        f"left out), then {summary['rest_time_s']:g} s at open circuit. Forming voltage {summary['forming_voltage_V']:.3g} V; "
        f"max |I|/I_cc − 1 = {summary['forming_max_current_over_compliance_minus_1']:.2g}; peak T {summary['forming_peak_temperature_K']:.2f} K; "
        f"peak V_O density after the rest {summary['vo_peak_volatile_m3']:.3g} m⁻³.",
        f"- (i) O localised just below the centre of the Pt electrode in the volatile mode (paper). Computed: the forming-induced "
        f"change of the O⁻ signal is a {centre_sign} (the model removes lattice O where V_O form and does not track the released "
        f"O²⁻); its depth-integrated magnitude peaks at r = {o['r_max_m'] * 1e6:.3g} µm (R_e = {radius * 1e6:.3g} µm), {width}, "
        f"centre/edge ratio {o['centre_edge_ratio']:.3g}, and it is {o['relative_amplitude']:.2g} of the O⁻ signal (invisible in "
        f"the raw O⁻ map, shown as ΔO⁻ in the lower half of the panel). Cell-level V_O excess in LiPON (no instrument): maximum at "
        f"r = {vo['r_max_m'] * 1e6:.3g} µm, FWHM {vo['fwhm_m'] * 1e6:.3g} µm, max/median contrast {vo['contrast']:.3g} → "
        + ("reproduced in this run (but see the time-step check below)." if localised else
           "NOT reproduced: the V_O form in a layer as wide as the electrode (largest near its rim, where the fringe field is), "
           "not a column under its centre. What could localise them is small here: the power state's largest interface "
           f"displacement is {summary['max_interface_displacement_power_m']:.2g} m against the {summary['film_thickness_m'] * 1e9:.3g} nm "
           f"film stack, and Joule heating raised T by {summary['forming_peak_temperature_K'] - summary['device_temperature_K']:.2g} K at most."),
        f"- Time step of the forming: adaptive, local-error tolerance {summary['forming_error_tolerance']:g}, the tolerance at "
        "which tests/studies/test_forming.py shows forming converged in dt (forming voltage within 1 %, V_O inventory within 3 % "
        "of a run at a quarter of it). The earlier sharp generation threshold made this map depend on the time step.",
        f"- (c), (f) similar to (b), (e) in the volatile mode (paper: the device structure is stable). Here they are the power "
        f"state's displacement, products and Li carried through the V_O history unchanged (that history does not evolve them: "
        f"largest change of the displacement {summary['displacement_change_volatile_m']:.2g} m), so the similarity is by "
        "construction, not a computed stability result.",
    ]
    return lines


def o_localisation(change: np.ndarray, signal: np.ndarray, grid) -> dict:
    """Where the forming-induced O⁻ change lies: FWHM in r under the electrode, peak radius, contrast.

    Parameters
    ----------
    change : ndarray, shape grid.shape
        ΔO⁻ = O⁻(volatile) − O⁻(before forming) per voxel [a.u.].
    signal : ndarray, shape grid.shape
        O⁻ of the volatile state [a.u.].
    grid : femion.tofsims.VoxelGrid

    Returns
    -------
    dict
        ``sign`` (−1 deficit, +1 excess: sign of the change integrated under the
        electrode), ``fwhm_m`` (:func:`femion.tofsims.excess_fwhm` of sign·ΔO⁻,
        baseline 0, within r <= R_e; if the half maximum is not reached there,
        over the whole raster and ``within_electrode`` False; NaN if not even
        there), ``r_max_m`` (ring radius of the largest magnitude under the
        electrode), ``centre_edge_ratio`` (:func:`femion.tofsims.centre_edge_ratio`),
        ``relative_amplitude`` (largest column magnitude of ΔO⁻ over the largest
        O⁻ column integral), ``localised_under_centre`` (peak within 0.25 R_e and
        FWHM < :data:`LOCALISED_FWHM` R_e).

    Raises
    ------
    ValueError
        If the change is zero everywhere under the electrode (nothing formed).
    """
    from femion import tofsims

    radius = grid.electrode_radius
    column = tofsims.depth_integrated(change, grid)
    under = grid.radius <= radius
    total = float(column[under].sum())
    if total == 0.0:
        raise ValueError("the O- signal did not change under the electrode: forming created no vacancies")
    sign = -1.0 if total < 0.0 else 1.0
    oriented = sign * np.asarray(change)
    within = True
    try:
        fwhm = tofsims.excess_fwhm(oriented, grid, baseline=0.0)
    except ValueError:
        within = False
        try:
            fwhm = tofsims.excess_fwhm(oriented, grid, baseline=0.0, r_max=float(np.max(np.abs(grid.x))))
        except ValueError:
            fwhm = float("nan")
    radii, means, outer = tofsims.radial_profile(sign * column, grid)
    inside = outer <= radius * (1.0 + 1e-12)
    r_max = float(radii[inside][np.argmax(means[inside])])
    relative = float(np.max(np.abs(column)) / np.max(np.abs(tofsims.depth_integrated(signal, grid))))
    localised = bool(within and np.isfinite(fwhm) and r_max < 0.25 * radius and fwhm < LOCALISED_FWHM * radius)
    return {
        "sign": sign,
        "fwhm_m": float(fwhm),
        "within_electrode": within,
        "r_max_m": r_max,
        "centre_edge_ratio": tofsims.centre_edge_ratio(oriented, grid),
        "relative_amplitude": relative,
        "localised_under_centre": localised,
        "definition": "magnitude of the depth-integrated O- change (volatile minus before forming) per pixel; baseline 0",
        "paper": "Fig. 4i: O localised just below the centre of the Pt electrode (directional O2- migration under the deformed centre)",
    }


def o_panel(path: Path, grid, signal: np.ndarray, change: np.ndarray) -> Path:
    """Panel (i): the O⁻ depth map of the volatile state (top) and its change against the power state (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from femion import tofsims
    from femion.viz import plot_depth_map

    figure, axes = plt.subplots(2, 1, figsize=(7.0, 7.0), constrained_layout=True)
    plot_depth_map(None, tofsims.depth_map(grid, {"O-": signal}), "O-", axis=axes[0],
                   title="(i) volatile mode: O- depth map through the centre")
    limit = float(np.max(np.abs(change))) or 1.0
    quad = plot_depth_map(None, tofsims.depth_map(grid, {"O-": change}), "O-", axis=axes[1], cmap="RdBu_r",
                          title="O- change by forming (volatile minus power state): negative = O removed")
    quad.set_clim(-limit, limit)
    figure.savefig(path, dpi=150)
    plt.close(figure)
    return path


def check_config(config: dict, device, origin: str, quick: bool) -> None:
    """Validate every key and the device's layers before the first simulation (one-line errors naming ``origin`` and the key).

    Raises
    ------
    ValueError
        A non-positive duration, rate, compliance, tolerance or field of view, a count that is not a positive
        integer, a zero forming stop voltage, or a device without the WO3 and LiPON layers read out here.
    """
    require_layers(device, ("WO3", "LiPON"), origin)
    prefix = "quick_" if quick else ""
    for key in ("pulses", "pixels"):
        to_integer(config[prefix + key], name=prefix + key, origin=origin)
    for key, unit in (("pulse_width", "s"), ("program_rate", "V/s"), ("forming_compliance", "A"), ("forming_rate", "V/s"),
                      ("rest_time", "s"), ("field_of_view", "m"), ("forming_error_tolerance", "")):
        to_si(config[key], unit, name=key, origin=origin, positive=True)
    to_si(config["pulse_rest"], "s", name="pulse_rest", origin=origin, nonnegative=True)
    to_si(config["pulse_amplitude"], "V", name="pulse_amplitude", origin=origin)
    for value in config["program_vertices"]:
        to_si(value, "V", name="program_vertices", origin=origin)
    if to_si(config[prefix + "forming_stop"], "V", name=prefix + "forming_stop", origin=origin) == 0.0:
        raise ValueError(f"{origin}: {prefix + 'forming_stop'!r} must not be 0 V")
    if not isinstance(config["track_oxygen"], bool):
        raise ValueError(f"{origin}: 'track_oxygen' must be true or false, got {config['track_oxygen']!r}")


def volatile_history(device, mesh, start, config: dict, origin: str, outdir: Path, quick: bool):
    """Forming with a small I_cc from ``start`` (the power state) on ``mesh``, then open circuit; returns (forming run, rest result, simulation)."""
    from femion.switching import VacancySimulation, run_vacancy

    si = {key: to_si(config[key], unit, name=key, origin=origin) for key, unit in (
        ("forming_compliance", "A"), ("forming_rate", "V/s"), ("rest_time", "s"))}
    si["forming_error_tolerance"] = float(config["forming_error_tolerance"])
    stop = "quick_forming_stop" if quick else "forming_stop"
    si["forming_stop"] = to_si(config[stop], "V", name=stop, origin=origin)
    if not (si["forming_compliance"] > 0.0 and si["forming_rate"] > 0.0 and si["forming_stop"] != 0.0 and si["rest_time"] > 0.0
            and si["forming_error_tolerance"] > 0.0):
        raise ValueError(f"{origin}: need forming_compliance > 0, forming_rate > 0, forming_stop != 0, forming_error_tolerance > 0 "
                         "and rest_time > 0")
    settings = SimulationSettings(mesh=QUICK_MESH if quick else MeshSettings(), max_iterations=40, min_step_fraction=1e-7,
                                  error_tolerance=si["forming_error_tolerance"])
    protocol = forming_ramp(0.0, si["forming_stop"], si["forming_rate"], si["forming_compliance"])
    track = bool(config["track_oxygen"])
    formed = run_vacancy(device, protocol, settings, mesh, start=start, stage="fig4 volatile: forming", track_oxygen=track)
    write_dataset(outdir / "volatile" / "forming.nc", formed.dataset())
    relaxation = VacancySimulation(device, rest(si["rest_time"]), settings, mesh=mesh, start=formed.state, track_oxygen=track)
    relaxed = relaxation.run(outdir / "volatile", progress=None, stage="fig4 volatile: rest")
    return si, formed, relaxed, relaxation


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the analog, power and volatile histories and synthesise their ToF-SIMS panels; return the summary.

    ``overrides`` (dotted ``config.*`` / ``device.*`` keys, as in sweep files) go to
    :func:`femion.config.load_study_config`.
    """
    from femion import tofsims
    from femion.tofsims import synthesize_mode
    from femion.switching import filament_profile, forming_voltage, radial_excess_profile

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    outdir = Path(outdir)
    check_config(config, device, origin, quick)
    pulses = int(config["quick_pulses" if quick else "pulses"])
    pixels = int(config["quick_pixels" if quick else "pixels"])
    protocol = pulse_train(
        to_si(config["pulse_amplitude"], "V", name="pulse_amplitude", origin=origin),
        to_si(config["pulse_width"], "s", name="pulse_width", origin=origin),
        to_si(config["pulse_rest"], "s", name="pulse_rest", origin=origin),
        pulses,
    )
    settings = SimulationSettings(mesh=QUICK_MESH if quick else MeshSettings())
    simulation = Simulation(device, protocol, settings)
    result = simulation.run(outdir / "analog", progress=None, stage="fig4 analog: pulses")
    print(f"  analog: {pulses} pulses, G {float(result.reads.G.values[0]):.4g} -> {float(result.reads.G.values[-1]):.4g} S")

    vertices = [to_si(v, "V", name="program_vertices", origin=origin) for v in config["program_vertices"]]  # quick too: the stressing window
    rate = to_si(config["program_rate"], "V/s", name="program_rate", origin=origin)
    programming = Simulation(device, voltage_sweep(0.0, vertices, rate), settings, mesh=simulation.mesh,
                             physics=POWER_PHYSICS, start=result.state)
    power = programming.run(outdir / "power", progress=None, stage="fig4 power: programming sweep")
    mechanics = next(module for module in programming.modules if module.name == "mechanics")
    displacement = mechanics.displacement(power.state)
    profiles = mechanics.interface_profiles(power.state)
    electrode = simulation.mesh.region_mask(device.top_electrode.name)
    f0 = mechanics.settings.initial_porosity
    print(f"  power: sweep {vertices} V at {rate:g} V/s; Li consumed by air {float(power.curves.li_consumed_air.values[-1]):.3g} mol")

    # volatile history: forming from the power state on its deformed mesh, then bias removed
    deformed = simulation.mesh.displaced(displacement)
    start = power.state.copy()
    start.time = 0.0
    for name in ELECTRICAL_SOLUTION:
        start.fields.pop(name, None)
    forming, formed, relaxed, relaxation = volatile_history(device, deformed, start, config, origin, outdir, quick)
    volatile_state = relaxed.state
    displacement_volatile = mechanics.displacement(volatile_state)
    module = relaxation.vacancy
    vo_initial = np.zeros(simulation.mesh.n_cells)
    vo_initial[module.films.parent_cells] = module.initial
    v_f = forming_voltage(formed.source, formed.current, forming["forming_compliance"])
    print(f"  volatile: forming V_f = {v_f:.3g} V at I_cc = {forming['forming_compliance'] * 1e6:g} uA, then "
          f"{forming['rest_time']:g} s open circuit; peak V_O {float(np.max(volatile_state.fields['n_vo'])):.3g} m^-3")

    fov = tofsims.FieldOfView(width=to_si(config["field_of_view"], "m", name="field_of_view", origin=origin), pixels=pixels)
    grid_flat = tofsims.voxelize(simulation.mesh, device, fov)
    panels_analog, readouts, _ = synthesize_mode("analog", grid_flat, device, {"c_li": result.state.fields["c_li"]}, outdir)
    grid_power = tofsims.voxelize(deformed, device, fov)
    species = {name: power.state.fields[name] for name in ("c_li", "Li2O", "LiOH", "Li2CO3")}
    panels_power, readouts_power, _ = synthesize_mode("power", grid_power, device, species, outdir)
    readouts.update(readouts_power)
    grid_volatile = tofsims.voxelize(simulation.mesh.displaced(displacement_volatile), device, fov)
    species_volatile = {name: volatile_state.fields[name] for name in ("c_li", "Li2O", "LiOH", "Li2CO3")}
    species_volatile["c_vo"] = volatile_state.fields["n_vo"] / AVOGADRO
    if "n_o" in volatile_state.fields:  # the released O²⁻ (tracked): its pile-up at the anode is part of the O⁻ change
        species_volatile["c_o"] = volatile_state.fields["n_o"] / AVOGADRO
    panels_volatile, readouts_volatile, volumes = synthesize_mode("volatile", grid_volatile, device, species_volatile, outdir,
                                                             depth_map_panel=False)
    before = tofsims.intensity("O-", {**species, "c_vo": vo_initial / AVOGADRO}, grid_volatile)
    change = volumes["O-"].values - before.values
    tofsims.write_volumes(outdir / "tofsims", grid_volatile, {"O-_change": change}, prefix="volatile_")
    tofsims.write_depth_map(outdir / "depth_map_volatile_O_change.nc", tofsims.depth_map(grid_volatile, {"O-_change": change}))
    o_panel(outdir / "panel_i_o_depth_map_volatile.png", grid_volatile, volumes["O-"].values, change)
    panels_volatile["i"] = {"mode": "volatile", "content": "O depth map", "status": "computed", "file": "panel_i_o_depth_map_volatile.png"}
    readouts.update(readouts_volatile)
    readouts["o_localisation_volatile"] = o_localisation(change, volumes["O-"].values, grid_volatile)
    radii, excess = radial_excess_profile(simulation.mesh, volatile_state.fields["n_vo"], vo_initial, "LiPON")
    readouts["vo_excess_LiPON_volatile"] = filament_profile(radii, excess)
    readouts["o_excess_fwhm_volatile_m"] = readouts["o_localisation_volatile"]["fwhm_m"]
    panels = {
        **panels_analog, **panels_power, **panels_volatile,
        **{key: {"mode": mode, "content": content, "status": "not modelled", "reason": reason} for key, (mode, content, reason) in MISSING.items()},
    }
    (outdir / "panels.json").write_text(json.dumps(dict(sorted(panels.items())), indent=2))
    (outdir / "readouts.json").write_text(json.dumps(readouts, indent=2, default=float))
    reads = result.reads
    summary = {
        "quick": quick,
        "pulses": pulses,
        "pixels": pixels,
        "cells": simulation.mesh.n_cells,
        "electrode_radius_m": device.electrode_radius,
        "film_thickness_m": float(sum(layer.thickness for layer in device.films)),
        "device_temperature_K": device.temperature,
        "G_first_read_S": float(reads.G.values[0]),
        "G_last_read_S": float(reads.G.values[-1]),
        "li_inventory_WO3_change_mol": float(result.curves.li_inventory_WO3.values[-1] - result.curves.li_inventory_WO3.values[0]),
        "li_consumed_air_power_mol": float(power.curves.li_consumed_air.values[-1]),
        "max_interface_displacement_power_m": float(max(np.max(np.hypot(ur, uz)) for _, ur, uz in profiles.values())),
        "porosity_growth_max_power": float(np.max(power.state.fields["porosity"][electrode]) - f0),
        "porosity_max_power": float(np.max(power.state.fields["porosity"][electrode])),
        "sigma_vm_max_power_Pa": float(np.max(power.curves.mech_sigma_vm_max.values)),
        "eps_p_max_power": float(np.max(power.curves.mech_eps_p_max.values)),
        "blister_height_max_power_m": float(np.max(power.curves.mech_blister_height.values)),
        "pore_percolation_threshold": device.material(device.top_electrode.name).value("pore_percolation_threshold"),
        "forming_compliance_A": forming["forming_compliance"],
        "forming_rate_V_per_s": forming["forming_rate"],
        "forming_stop_V": forming["forming_stop"],
        "forming_error_tolerance": forming["forming_error_tolerance"],
        "rest_time_s": forming["rest_time"],
        "forming_voltage_V": v_f,
        "forming_max_current_over_compliance_minus_1": float(np.max(np.abs(formed.current)) / forming["forming_compliance"] - 1.0),
        "forming_peak_temperature_K": float(np.max(formed.peak_temperature)),
        "vo_peak_volatile_m3": float(np.max(volatile_state.fields["n_vo"])),
        "vo_generated_inventory_volatile": float(2 * np.pi * np.sum(simulation.mesh.r_volumes * volatile_state.fields["vo_generated"])),
        "displacement_change_volatile_m": float(np.max(np.abs(displacement_volatile - displacement))),
        "voltage_end_of_rest_V": float(volatile_state.voltage),
        "panels_computed": sorted(key for key, panel in panels.items() if panel["status"] == "computed"),
        "panels_not_modelled": sorted(key for key, panel in panels.items() if panel["status"] != "computed"),
        **{key: value for key, value in readouts.items() if isinstance(value, float)},
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    (outdir / "findings.md").write_text(findings(summary, readouts))
    write_run_metadata(outdir, device, {"study": "fig4_tofsims", "summary": summary})
    print(f"  Li lateral CV in WO3: analog {readouts['li_lateral_uniformity_WO3_analog']:.3g}, power {readouts['li_lateral_uniformity_WO3_power']:.3g}, "
          f"volatile {readouts['li_lateral_uniformity_WO3_volatile']:.3g}")
    o = readouts["o_localisation_volatile"]
    print(f"  O- change by forming: peak at r = {o['r_max_m'] * 1e6:.3g} um, FWHM {o['fwhm_m'] * 1e6:.3g} um "
          f"({'localised' if o['localised_under_centre'] else 'not localised'} under the centre)")
    print(f"  panels computed: {summary['panels_computed']}; not modelled yet: {summary['panels_not_modelled']}")
    return summary
