"""Electroforming with a compliance current (paper Fig. 3g, 3j).

Problem
-------
The pristine device (uniform background V_O density; by default the weakest
site of its threshold-field disorder on the axis, see below) is ramped
0 → ``stop_voltage`` at ``ramp_rate`` with a current compliance I_cc, once
with a small (< 100 µA, volatile mode in the paper) and once with a large
(≥ 500 µA, non-volatile) I_cc (:func:`femion.switching.form`, with the
settings of :func:`femion.switching.settings_for`; shared with the switching,
retention and variability studies). Physics (:mod:`femion.switching`): V_O
field-accelerated hopping with the density-dependent barrier, thermochemical
generation above the threshold field, activated σ(N, T) in the films, steady
Joule heating (substrate as sink, top contact through h_c:
:mod:`femion.physics.thermal`), compliance circuit. **Lithium is left out** (``physics = ("vacancy",
"thermal")``): at DC the Li⁺ current is blocked by the electrodes, so the
films' κ is their electronic conductivity plus the V_O conductivity.

The deformed-electrode history (forming after power-mode programming) is
**left out**: no mechanics state of a programmed device is stored
(``studies/program_power`` keeps no output), and computing one needs the Li
sweep this study leaves out. Only the flat, pristine device is formed here.

Disorder and resolution (on by default, ``config.toml``; empty ``axis_cell``
and ``weak_site = false`` give the flat device on the plain mesh): the
nano-resolved axis (``axis_cell`` 2 nm, ``axis_core``: radial cells of a few nm
at r = 0, :class:`femion.geometry.MeshSettings`), without which µm cells at the
axis could not hold a nm filament, and the weakest-site seed (``weak_site``:
:class:`femion.physics.seed.DefectSeed`, an extreme-value draw of the weakest
site of the electrode area; the frame is centred on it; an input, stated in
findings.md with its draw and its V_O content).

Outputs per I_cc (label ``<I_cc in µA>uA``): ``iv_<label>.nc`` (t, source
and electrode voltage, current, T_max, peak V_O), ``fields_<label>.vtu``
(n_vo, T, phi, kappa on the full mesh), ``maps_<label>.npz`` (film-mesh V_O
and T, nodes and cells), ``state_<label>.npz`` (the final state, for the
switching studies), ``summary.json``, ``findings.md`` and the run provenance.

Reported: forming voltage V_f (source voltage where |I| first reaches
0.99 I_cc), max |I|/I_cc − 1 over the accepted steps (the compliance holds),
peak T, peak V_O density, the V_O inventory, and where the V_O column forms
(radial profile of the LiPON V_O excess: r of the maximum, FWHM, contrast).

Localisation criterion (:func:`localisation`): at the step of largest Joule
power P'' (per electrode area) the loop gain of a lateral mode J0(q r) under
current control, χ = P'' Z(q) E_a/(k_BT²) (Ridley, Proc. Phys. Soc. 82, 954
(1963); :func:`femion.physics.thermal.filamentation_gain`), with Z(q) the
stack's own thermal response (:func:`femion.physics.thermal.lateral_mode_response`:
electrodes, films, glass sink, top contact), for E_a = E_σ (thermal
filamentation of the activated V_O conduction) and E_a = E_σ + ΔH_eff (the V_O
generation feeding σ: the relative V_O contrast grows when χ > 1). The uniform
state is unstable when χ > 1; the study reports χ for the longest mode under
the electrode and for filament-sized modes, the critical current at the run's
voltage, and the E_σ, ΔH or conductivity scale that would make χ = 1.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.special import jn_zeros

from femion.config import load_study_config, require_layers
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.mesh import build_mesh
from femion.constants import BOLTZMANN, ELEMENTARY_CHARGE, EV
from femion.physics.seed import DefectSeed
from femion.physics.thermal import ThermalSolver, filamentation_gain, lateral_mode_response
from femion.switching import compliance_label, filament_profile, form, forming_voltage, radial_excess_profile, settings_for
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "ramp_rate", "stop_voltage", "compliances", "quick_compliances", "mesh_refinement",
    "quick_mesh_refinement", "compliance_tolerance", "error_tolerance",
    "axis_cell", "axis_core", "weak_site", "weak_site_draw", "weak_site_correlation_length", "weak_site_films",
}


def weak_site_for(config: dict, origin: str = "config.toml") -> DefectSeed | None:
    """The opt-in weakest-site seed (:class:`femion.physics.seed.DefectSeed`) of ``config``, or None.

    Keys: ``weak_site`` (bool), ``weak_site_draw`` (int, the draw of this
    device/cycle), ``weak_site_correlation_length`` (length),
    ``weak_site_films`` (film names; empty: all V_O films).

    Raises
    ------
    ValueError
        A non-boolean ``weak_site`` or bad seed parameters (naming ``origin``).
    """
    if not isinstance(config.get("weak_site", False), bool):
        raise ValueError(f"{origin}: weak_site must be true or false, got {config['weak_site']!r}")
    if not config.get("weak_site", False):
        return None
    films = tuple(config["weak_site_films"]) or None
    try:
        return DefectSeed(draw=int(config["weak_site_draw"]), films=films,
                          correlation_length=to_si(config["weak_site_correlation_length"], "m",
                                                   name="weak_site_correlation_length", origin=origin))
    except ValueError as error:
        raise ValueError(f"{origin}: {error}") from error


def describe(run, compliance: float) -> dict:
    """Forming figures of one run (see the module docstring)."""
    module = run.simulation.vacancy
    films = module.films
    density = run.state.fields["n_vo"][films.parent_cells]
    radii, excess = radial_excess_profile(films, density, module.initial, "LiPON")
    location = filament_profile(radii, excess)
    return {
        "compliance_A": compliance,
        "forming_voltage_V": forming_voltage(run.source, run.current, compliance),
        "compliance_reached": bool(np.max(np.abs(run.current)) >= 0.99 * compliance),
        "max_current_over_compliance_minus_1": float(np.max(np.abs(run.current)) / compliance - 1.0),
        "final_electrode_voltage_V": float(run.voltage[-1]),
        "peak_temperature_K": float(np.max(run.peak_temperature)),
        "peak_vo_density_m3": float(np.max(density)),
        "vo_inventory": float(2 * np.pi * np.sum(films.r_volumes * density)),
        "condensation_density_m3": float(np.max(module.properties.condensation)),
        "filament_r_max_m": location["r_max_m"],
        "filament_fwhm_m": location["fwhm_m"],
        "filament_contrast": location["contrast"],
        "steps": int(len(run.time)),
        "axis_cell_vo_excess_m3": float(excess[0]),
    }


J1_FIRST_ZERO = float(jn_zeros(1, 1)[0])  # J0'(qR) = −J1(qR) = 0: the longest lateral mode of a disk of radius R, adiabatic rim


def localisation(run, device) -> dict:
    """Linear stability of the laterally uniform forming state against lateral modes (module docstring).

    At the step of largest Joule power |I| V: P'' = |I| V/(π R_e²) [W/m²],
    T = T_max of that step; Z(q) of the films under the electrode for the
    longest lateral mode, q = j'_{0,1}/R_e (Z falls with q, so every shorter
    mode, a filament's included, has a smaller gain);
    E_σ, ΔH_eff = ΔH − e ℓ E_th (generation at its threshold field) of LiPON
    (the film where the V_O profile is read). Returns the gains χ_σ (E_σ) and
    χ_f (E_σ + ΔH_eff) per mode, the thermal resistance Z(0) and healing length
    √(Σ k t · Z(0)) of the layers above the glass, the critical current I_cc/χ
    of the longest mode at the run's voltage, and the parameter values that
    give χ = 1 for it (other parameters fixed).

    Raises
    ------
    femion.MaterialError
        A film material without the V_O keys read here.
    """
    simulation = run.simulation
    mesh, solver = simulation.mesh, simulation.thermal.solver
    radius = device.electrode_radius
    power = np.abs(run.current) * np.abs(run.voltage)
    peak = int(np.argmax(power))
    density = power[peak] / (np.pi * radius**2)
    temperature = float(run.peak_temperature[peak])
    films = mesh.region_mask(*(layer.name for layer in device.films))
    inside = np.max(mesh.nodes[mesh.cells][..., 0], axis=1) <= radius * (1.0 + 1e-9)
    uniform, response = lateral_mode_response(solver, films & inside, radius, [0.0, J1_FIRST_ZERO / radius])
    lipon = device.material("LiPON")
    e_sigma = lipon.value("vo_conduction_activation_energy")
    dh_eff = lipon.value("vo_generation_energy") - (ELEMENTARY_CHARGE * lipon.value("vo_generation_dipole_length")
                                                    * lipon.value("vo_generation_threshold_field") / EV)
    chi_sigma = float(filamentation_gain(density, response, e_sigma, temperature))
    chi_forming = float(filamentation_gain(density, response, e_sigma + dh_eff, temperature))
    sheet = sum(device.material(layer.name).value("thermal_conductivity") * layer.thickness for layer in device.layers)
    # the same Joule heat with the top contact held at T_amb (the former boundary): the rise the Robin contact changes
    ideal = ThermalSolver(mesh, solver.properties, solver.ambient_faces | mesh.face_mask("top_contact"), solver.ambient)
    heat = simulation.thermal.heat(run.state)
    dh = lipon.value("vo_generation_energy")
    return {
        "final_rise_K": float(np.max(solver.solve(heat)) - solver.ambient),
        "final_rise_top_at_ambient_K": float(np.max(ideal.solve(heat)) - solver.ambient),
        "peak_power_W": float(power[peak]), "peak_power_density_W_m2": float(density), "temperature_K": temperature,
        "voltage_at_peak_power_V": float(abs(run.voltage[peak])), "current_at_peak_power_A": float(abs(run.current[peak])),
        "conduction_activation_eV": e_sigma, "generation_activation_eff_eV": float(dh_eff),
        "stack_thermal_resistance_K_m2_per_W": float(uniform),
        "healing_length_m": float(np.sqrt(sheet * uniform)),
        "mode_response_K_m2_per_W": float(response),
        "gain_thermal": chi_sigma,
        "gain_forming": chi_forming,
        "critical_current_thermal_A": float(abs(run.current[peak]) / chi_sigma),
        "critical_current_forming_A": float(abs(run.current[peak]) / chi_forming),
        "conduction_activation_for_instability_eV": float(e_sigma / chi_sigma),
        "generation_energy_for_forming_instability_eV": float((e_sigma + dh_eff) / chi_forming - e_sigma + (dh - dh_eff)),
        "conductivity_factor_for_forming_instability": chi_forming,  # all k and h_c times χ_f: Z/χ_f, χ = 1
        "thermal_energy_kT2_eV": float(BOLTZMANN * temperature**2 / EV),
    }


def seed_effect(run, device) -> dict:
    """What limits the seed: its share of the LiPON V_O excess on the axis, the LiPON field over E_th, the V_O spreading radius.

    ``axis_share`` = 1 − median/axis of the radial LiPON V_O excess;
    ``lipon_field_over_threshold`` = median |E| of LiPON over its E_th at the
    end; ``vo_spreading_radius_m`` = √(4 D t) of dilute V_O in LiPON at T_amb
    over the ramp (D = ½ a² f exp(−E_d/k_BT),
    :func:`femion.physics.vacancy.hopping_diffusivity`): V_O generated at the
    weak site spread over this radius, against the seed's correlation length.
    """
    from femion.physics.vacancy import hopping_diffusivity

    module = run.simulation.vacancy
    films = module.films
    density = run.state.fields["n_vo"][films.parent_cells]
    _, excess = radial_excess_profile(films, density, module.initial, "LiPON")
    field = module.field_magnitude(run.state.fields["phi"][films.parent_cells], run.state.voltage)
    lipon = films.region_mask("LiPON")
    threshold = float(np.median(module.properties.generation_threshold[lipon]))  # the seed shifts only the axis cells
    lipon_material = device.material("LiPON")
    diffusivity = hopping_diffusivity(lipon_material.value("vo_hopping_distance"), lipon_material.value("vo_attempt_frequency"),
                                      lipon_material.value("vo_dilute_activation_energy"), device.temperature)
    return {"axis_share": float(1.0 - np.median(excess) / excess[0]),
            "lipon_field_over_threshold": float(np.median(field[lipon]) / threshold),
            "vo_spreading_radius_m": float(np.sqrt(4.0 * diffusivity * (run.time[-1] - run.time[0])))}


def write_run(outdir: Path, tag: str, run) -> None:
    """Curves, maps, fields and the final state of one run."""
    write_dataset(outdir / f"iv_{tag}.nc", run.dataset())
    simulation, state = run.simulation, run.state
    films = simulation.vacancy.films
    write_fields(outdir / f"fields_{tag}.vtu", simulation.mesh, {
        "n_vo [1/m^3]": state.fields["n_vo"], "T [K]": state.fields["T"],
        "phi [V]": state.fields["phi"], "kappa [S/m]": state.fields["kappa"],
    })
    np.savez_compressed(
        outdir / f"maps_{tag}.npz", nodes=films.nodes, cells=films.cells,
        n_vo=state.fields["n_vo"][films.parent_cells], n_vo_initial=simulation.vacancy.initial,
        T=state.fields["T"][films.parent_cells], regions=films.cell_regions, region_names=np.array(films.region_names),
    )
    np.savez_compressed(outdir / f"state_{tag}.npz", time=state.time, voltage=state.voltage, current=state.current,
                        **{f"field_{name}": values for name, values in state.fields.items()})


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Form the pristine device at every compliance; write the outputs; return the summary."""
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the filament profile is read out in LiPON
    rate = to_si(config["ramp_rate"], "V/s", name="ramp_rate", origin=origin, positive=True)
    stop = to_si(config["stop_voltage"], "V", name="stop_voltage", origin=origin)
    if stop == 0.0:
        raise ValueError(f"{origin}: 'stop_voltage' must not be 0 V")
    key = "quick_compliances" if quick else "compliances"
    compliances = [to_si(value, "A", name=key, origin=origin, positive=True) for value in config[key]]
    tolerance = to_si(config["compliance_tolerance"], "", name="compliance_tolerance", origin=origin, nonnegative=True)
    if not compliances:
        raise ValueError(f"{origin}: {key} must list positive currents")
    settings = settings_for(config, quick, origin)
    weak_site = weak_site_for(config, origin)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    mesh = build_mesh(device, settings=settings.mesh)
    summary: dict = {"quick": quick, "cells": mesh.n_cells, "ramp_rate_V_per_s": rate, "stop_voltage_V": stop,
                     "physics": ["electrostatics", "vacancy", "thermal"], "deformed_electrode": "left out (no mechanics state)",
                     "error_tolerance": settings.error_tolerance, "axis_cell_m": settings.mesh.axis_cell,
                     "smallest_radial_cell_m": float(np.min(np.ptp(mesh.nodes[mesh.cells][..., 0], axis=1))),
                     "weak_site": None, "electrode_radius_m": device.electrode_radius,
                     "top_contact_conductance_W_m2K": None}
    for compliance in compliances:
        tag = compliance_label(compliance)
        result = form(device, mesh, settings, compliance, rate, stop, weak_site=weak_site)
        summary["top_contact_conductance_W_m2K"] = result.simulation.thermal.top_contact_conductance
        draw = result.simulation.vacancy.seed_draw
        if draw is not None:
            summary["weak_site"] = {"draw": weak_site.draw, "correlation_length_m": weak_site.correlation_length,
                                    "films": list(weak_site.films or result.simulation.vacancy.films.region_names),
                                    "sites": draw.sites, "z": draw.z, "threshold_offset_V_per_m": draw.threshold_offset,
                                    "inventory_excess": draw.inventory_excess, "inventory_fraction_of_filament": draw.inventory_fraction,
                                    "filament_reference_radius_m": weak_site.filament_radius}
        write_run(outdir, tag, result)
        entry = describe(result, compliance)
        entry["localisation"] = localisation(result, device)
        entry["seed_effect"] = seed_effect(result, device)
        if entry["max_current_over_compliance_minus_1"] > tolerance:
            raise AssertionError(f"I_cc = {compliance:g} A: |I| exceeded the compliance by {entry['max_current_over_compliance_minus_1']:.3g}")
        summary[tag] = entry
        print(f"  I_cc = {tag}: V_f = {entry['forming_voltage_V']:.3g} V, peak N = {entry['peak_vo_density_m3']:.3g} m^-3, "
              f"LiPON V_O excess max at r = {entry['filament_r_max_m'] * 1e6:.3g} um (FWHM {entry['filament_fwhm_m'] * 1e6:.3g} um)")
    small, large = compliance_label(compliances[0]), compliance_label(compliances[-1])
    summary["forming_voltage_small_V"] = summary[small]["forming_voltage_V"]
    summary["forming_voltage_large_V"] = summary[large]["forming_voltage_V"]
    summary["vo_inventory_ratio_large_small"] = summary[large]["vo_inventory"] / summary[small]["vo_inventory"]
    summary["max_compliance_excess"] = max(summary[compliance_label(c)]["max_current_over_compliance_minus_1"] for c in compliances)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary, compliances))
    write_run_metadata(outdir, device, {"study": "forming", "summary": summary})
    return summary


def where(entry: dict, summary: dict) -> str:
    """One sentence on whether the LiPON V_O excess of a run is a filament (contrast and FWHM) and where its maximum sits."""
    radius = summary["electrode_radius_m"]
    uniform = entry["filament_contrast"] < 1.5 and entry["filament_fwhm_m"] > 0.1 * radius
    text = ("A contrast near 1 and a FWHM of the electrode size mean no filament: generation is laterally uniform under "
            f"the flat electrode (peak T {entry['peak_temperature_K'] - 300.0:.2g} K above 300 K: Joule heating does not "
            "localise it). " if uniform else "The excess is localised (contrast above 1.5 or FWHM below R_e/10). ")
    if entry["filament_r_max_m"] < 0.01 * radius:
        text += ("Its maximum sits on the axis, at the seeded weakest site" if summary["weak_site"] else "Its maximum sits on the axis")
        return text + (", which the equations did not amplify." if uniform else ".")
    if entry["filament_r_max_m"] > 0.9 * radius:
        return text + "The maximum near r = R_e is the fringe field, which in the axisymmetric geometry is a ring, not a column."
    return text + "A maximum at r > 0 is a ring in the axisymmetric geometry."


def findings(summary: dict, compliances: list[float]) -> str:
    """What the run shows next to the paper (Markdown)."""
    lines = ["# Electroforming (paper Fig. 3g, 3j): what this run shows", "",
             "Physics: V_O + Joule heating + compliance circuit; lithium left out (the coupled Li + V_O + T loop did not "
             "converge); flat pristine electrode only (no mechanics state of a programmed device exists: the "
             "deformed-electrode history is left out).", "",
             f"Time step: adaptive, local-error tolerance {summary['error_tolerance']:g} (SimulationSettings.error_tolerance). "
             "The slow test tests/studies/test_forming.py::test_forming_converges_in_the_time_step forms at this tolerance "
             "and a quarter of it and requires the forming voltage within 1 % and the V_O inventory within 3 %: the figures "
             "below are converged in dt to that level (the sharp generation threshold used before was not).", ""]
    lines += [f"Mesh: {summary['cells']} cells, smallest radial cell {summary['smallest_radial_cell_m'] * 1e9:.3g} nm"
              + (f" (nano-resolved axis, MeshSettings.axis_cell = {summary['axis_cell_m'] * 1e9:g} nm)." if summary["axis_cell_m"]
                 else " (no nano-resolved axis: µm cells at the axis cannot hold a nm filament)."), ""]
    lines += [f"Thermal boundary: the substrate bottom at T_amb (the sink), the top of the Pt pad through a contact conductance "
              f"h_c = {summary['top_contact_conductance_W_m2K']:.3g} W/(m² K) (air + probe spot averaged over the pad, "
              "femion.physics.thermal); the Pt pad spreads heat laterally.", ""]
    seed = summary["weak_site"]
    if seed is None:
        lines += ["Seed: none (the flat pristine device; nothing breaks the lateral symmetry under the electrode).", ""]
    else:
        offsets = ", ".join(f"{name} {value / 1e6:.3g} MV/m" for name, value in seed["threshold_offset_V_per_m"].items())
        lines += [f"Seed (INPUT, femion.physics.seed.DefectSeed): the weakest of N = {seed['sites']:.3g} sites of the electrode "
                  f"area (threshold fields ~ N(E_th, σ_th) of the films, correlation length "
                  f"{seed['correlation_length_m'] * 1e9:g} nm, assumed), draw {seed['draw']}: z = {seed['z']:.3g} σ_th, i.e. "
                  f"a threshold offset of {offsets} on the axis, decaying as exp(−r²/2ℓ²). The axis is where femion's frame "
                  f"puts this site. Its V_O excess is {seed['inventory_excess']:.3g} "
                  f"({seed['inventory_fraction_of_filament']:.2g} of a {seed['filament_reference_radius_m'] * 1e9:g} nm "
                  "filament at N_c): a seed, not a filament.", ""]
    for compliance in compliances:
        e = summary[compliance_label(compliance)]
        lines.append(
            f"- I_cc = {compliance * 1e6:g} µA: forming voltage {e['forming_voltage_V']:.3g} V (source voltage at 0.99 I_cc); "
            f"max |I|/I_cc − 1 = {e['max_current_over_compliance_minus_1']:.2g} on the accepted steps; peak T "
            f"{e['peak_temperature_K']:.2f} K; peak V_O density {e['peak_vo_density_m3']:.3g} m⁻³ (condensation density N_c "
            f"{e['condensation_density_m3']:.3g} m⁻³); V_O inventory {e['vo_inventory']:.3g}.")
        lines.append(
            f"  - where the V_O form: the thickness-averaged LiPON V_O excess peaks at r = {e['filament_r_max_m'] * 1e6:.3g} µm "
            f"with FWHM {e['filament_fwhm_m'] * 1e6:.3g} µm and max/median contrast {e['filament_contrast']:.4g}. "
            + where(e, summary))
        loc, eff = e["localisation"], e["seed_effect"]
        lines.append(
            f"  - temperature: max rise {loc['final_rise_K']:.3g} K at the end ({loc['final_rise_top_at_ambient_K']:.2g} K for the "
            f"same heat with the top of the pad held at T_amb); stack thermal resistance Z(0) = "
            f"{loc['stack_thermal_resistance_K_m2_per_W']:.3g} K m²/W, healing length √(Σkt·Z(0)) = "
            f"{loc['healing_length_m'] * 1e6:.3g} µm.")
        lines.append(
            f"  - localisation criterion (longest lateral mode under the electrode, Z = {loc['mode_response_K_m2_per_W']:.3g} K m²/W; "
            f"P'' = {loc['peak_power_density_W_m2']:.3g} W/m² at {loc['voltage_at_peak_power_V']:.3g} V): loop gain "
            f"χ = P'' Z E_a/(k_BT²) = {loc['gain_thermal']:.3g} for the activated conduction (E_σ = {loc['conduction_activation_eV']:g} eV) "
            f"and {loc['gain_forming']:.3g} with the V_O generation (E_σ + ΔH_eff = "
            f"{loc['conduction_activation_eV'] + loc['generation_activation_eff_eV']:.3g} eV); the uniform state is "
            + ("UNSTABLE (χ > 1). " if loc["gain_forming"] > 1.0 else "stable (χ < 1). ")
            + f"χ = 1 needs I ≈ {loc['critical_current_forming_A'] * 1e3:.3g} mA at this voltage, or ΔH = "
            f"{loc['generation_energy_for_forming_instability_eV']:.3g} eV, or all thermal conductances × "
            f"{loc['conductivity_factor_for_forming_instability']:.3g}; thermal filamentation alone needs E_σ = "
            f"{loc['conduction_activation_for_instability_eV']:.3g} eV. Shorter modes (a filament) have smaller Z, hence smaller χ.")
        lines.append(
            f"  - seed: {eff['axis_share'] * 100:.2g} % of the axis V_O excess; LiPON median field {eff['lipon_field_over_threshold']:.2g} "
            f"E_th at the end; dilute V_O spread over √(4Dt) = {eff['vo_spreading_radius_m'] * 1e9:.3g} nm during the ramp, "
            "against the seed's correlation length: what the weak site generates is diluted laterally.")
    lines += ["",
              f"- V_O inventory after the ramp, large over small I_cc: {summary['vo_inventory_ratio_large_small']:.3g}. "
              + ("Larger I_cc forms more V_O, as the paper states. " if summary["vo_inventory_ratio_large_small"] > 1 else
                 "The paper says a larger I_cc forms more V_O; here it does NOT over a ramp to the same stop voltage: the "
                 "small-I_cc device reaches its compliance earlier and keeps generating for the rest of the ramp, while the "
                 "large-I_cc device reaches its compliance only near the end. ")
              + "In neither case does the peak density approach N_c: the model's non-volatile criterion (a condensed core "
              "above N_c) is not met by forming a flat pristine device, so the paper's thick non-volatile filament is NOT "
              "reproduced."]
    return "\n".join(lines) + "\n"
