"""The paper's device history as one simulation with every module on: Fig. 3 device curves and Fig. 4 ToF-SIMS.

Problem
-------
The paper's point is one device whose mode is set by its history (paper §2,
Fig. 3 and Fig. 4): the pristine Pt/WO3/LiPON/MoO3/ITO stack is an analog
memristor; a slow voltage sweep in air programs the on-chip power mode; forming
with a small compliance gives the volatile digital memristor and, from the power
state, forming with a large compliance the non-volatile one. This study runs
that history as **one** :class:`femion.Simulation` with every module on
(``physics``: electric potential with the Li electrochemistry, mechanics, air
ingress and reactions, oxygen vacancies, heat) and the whole state carried from
stage to stage, and a second simulation from the power state for the
non-volatile branch (the paper's devices also branch there):

* **main history** — ``analog`` (LTP −5 V then LTD +5 V pulses with reads,
  paper Fig. 3b, 3c) → ``programming`` (one sweep in the ambient at ≤ 50 mV/s)
  → ``CV`` and ``GCD`` (power-mode characterisation, paper Fig. 3e) →
  ``forming 50 uA`` (ramp under I_cc = 50 µA, paper Fig. 3g) → ``volatile``
  (0 → V_max → 0 sweeps under the same compliance, paper Fig. 3h) → ``rest``
  (bias removed: the volatile-mode state of Fig. 4c, f, i);
* **branch** (start: the state at the end of ``GCD``) — ``forming 500 uA``
  (paper Fig. 3j) → ``bipolar`` cycles 0 → +V → 0 → −V → 0 (paper Fig. 3k) →
  ``retention`` (a hold at a read voltage with the resistance followed in time,
  paper Fig. 3l).

Mechanics is solved once per time step after the other modules converged
(``SimulationSettings.lagged``): it reads the Li only, and only the air module
reads its porosity, which it then sees one step late;
``tests/regression/test_lagged_mechanics.py`` shows curves and fields equal to
the fully coupled step within the coupling tolerance (measured ≤ 1.1·10⁻⁸
relative), at a quarter of the cost.

Stages are labelled protocol steps (:meth:`femion.protocols.Protocol.staged`);
the time loop names them in its progress output and keeps the state at the end
of each (:attr:`femion.simulation.Result.stages`, ``fields_stage<k>_<name>.vtu``).

Fig. 4 (synthetic ToF-SIMS, :mod:`femion.tofsims`): the analog mode is the
state after ``analog``, the power mode after ``GCD``, the volatile mode after
``rest``; each on the mesh displaced by its computed displacement. Panel (i)
is the O⁻ depth map of the volatile state and its change against the power
state (ΔO⁻ = 2 (Δc_o − Δc_vo), :func:`o_localisation`).

Fig. 3 (device curves, ``fig3.png``): the reads of the pulse trains, the
programming sweep's I–V, the CV, the GCD, the forming ramp, the volatile and the
bipolar I–V, and the retention hold, each sliced from the one run by its stage
(:meth:`femion.simulation.Result.stage_curves`). The switching figures use the
definitions of :mod:`femion.switching` on the source voltage of each stage
(the protocol's value; it differs from the electrode voltage only under
compliance).

Outputs: ``history/`` and ``nonvolatile/`` (``curves.nc``, ``reads.nc``,
``fields.vtu``, one ``fields_stage<k>_<name>.vtu`` per stage, checkpoint),
``tofsims/*.vti``, ``depth_profiles_<mode>.nc``, ``depth_map_<mode>.nc``, the
nine panel PNGs, ``fig4.png`` and ``fig3.png`` (composites, plot.py),
``panels.json``, ``readouts.json``, ``stages.json`` (per stage: time span, time
steps, largest |I|, peak T, V_O inventory, Li consumed by air),
``profile.json`` (wall time by module and coupling iterations per step,
:func:`femion.coupling.profile_coupling`), ``summary.json``, ``findings.md``
and the run provenance. A rerun resumes both simulations from their checkpoints.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np

from femion.config import load_study_config, require_layers
from femion.coupling import profile_coupling
from femion.constants import AVOGADRO
from femion.geometry import QUICK_MESH, MeshSettings
from femion.io import write_run_metadata
from femion.protocols import (
    Protocol, cyclic_voltammetry, forming_ramp, galvanostatic_cycles, hold, ltp_ltd_cycles, rest, voltage_sweep,
)
from femion.simulation import Simulation, SimulationSettings
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "physics", "pulse_amplitude", "pulse_width", "pulse_rest", "pulses_per_phase", "quick_pulses_per_phase", "read_voltage",
    "program_vertices", "program_rate", "cv_window", "quick_cv_window", "cv_rate", "gcd_current_density", "gcd_window",
    "quick_gcd_window",
    "forming_compliance", "forming_rate", "forming_stop", "quick_forming_stop", "sweep_max", "quick_sweep_max", "sweep_rate",
    "volatile_cycles", "quick_volatile_cycles", "rest_time", "quick_rest_time",
    "nonvolatile_compliance", "set_max", "reset_max", "reset_compliance", "bipolar_cycles", "quick_bipolar_cycles",
    "read_retention", "retention_time", "quick_retention_time", "switch_level", "error_tolerance",
    "track_oxygen", "pixels", "quick_pixels", "field_of_view",
}
QUICK_KEYS = ("pulses_per_phase", "cv_window", "gcd_window", "forming_stop", "sweep_max", "volatile_cycles", "rest_time",
              "bipolar_cycles", "retention_time", "pixels")
"""Keys with a ``quick_`` variant in config.toml."""
UNITS = {  # every one positive (the LTP pulses are −pulse_amplitude)
    "pulse_amplitude": "V", "pulse_width": "s", "pulse_rest": "s", "read_voltage": "V", "program_rate": "V/s", "cv_rate": "V/s",
    "gcd_current_density": "A/m^2", "forming_compliance": "A", "forming_rate": "V/s", "forming_stop": "V", "sweep_max": "V",
    "sweep_rate": "V/s", "rest_time": "s", "nonvolatile_compliance": "A", "set_max": "V", "reset_max": "V",
    "reset_compliance": "A", "read_retention": "V", "retention_time": "s", "field_of_view": "m",
}
MODES = {"analog": "analog", "power": "GCD", "volatile": "rest"}
"""Fig. 4 mode → the stage whose end state the ToF-SIMS sees."""
LOCALISED_FWHM = 1.0
"""O counts as localised under the centre if its change peaks within 0.25 R_e and its FWHM is below this × R_e."""


def parameters(config: dict, origin: str, quick: bool) -> dict:
    """The study's values in SI (quick variants applied), checked; one-line errors naming ``origin`` and the key.

    Raises
    ------
    ValueError
        A non-positive duration, rate, voltage, current, tolerance or field of view, a count that is not a positive
        integer, a window whose ends are not increasing, a non-boolean ``track_oxygen``, or a level outside (0, 1].
    """
    pick = {key: config[("quick_" + key) if quick and key in QUICK_KEYS else key] for key in CONFIG_KEYS if not key.startswith("quick_")}
    si: dict = {}
    for key, unit in UNITS.items():
        name = ("quick_" + key) if quick and key in QUICK_KEYS else key
        si[key] = to_si(pick[key], unit, name=name, origin=origin, positive=True)
    si["pulse_rest"] = to_si(pick["pulse_rest"], "s", name="pulse_rest", origin=origin, nonnegative=True)
    for key in ("pulses_per_phase", "volatile_cycles", "bipolar_cycles", "pixels"):
        name = ("quick_" + key) if quick and key in QUICK_KEYS else key
        si[key] = to_integer(pick[key], name=name, origin=origin)
    si["program_vertices"] = [to_si(v, "V", name="program_vertices", origin=origin) for v in pick["program_vertices"]]
    for key in ("cv_window", "gcd_window"):
        window = [to_si(v, "V", name=key, origin=origin) for v in pick[key]]
        if len(window) != 2 or not window[0] < window[1]:
            raise ValueError(f"{origin}: {key!r} must be [lower, upper] with lower < upper, got {pick[key]!r}")
        si[key] = window
    for key in ("switch_level", "error_tolerance"):
        value = pick[key]
        if key == "error_tolerance" and value is False:
            si[key] = None  # no local-error control
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (0.0 < value <= 1.0):
            raise ValueError(f"{origin}: {key!r} must be a number in (0, 1]{' or false' if key == 'error_tolerance' else ''}, got {value!r}")
        si[key] = float(value)
    if not isinstance(pick["track_oxygen"], bool):
        raise ValueError(f"{origin}: 'track_oxygen' must be true or false, got {pick['track_oxygen']!r}")
    si["track_oxygen"] = pick["track_oxygen"]
    physics = pick["physics"]
    if not isinstance(physics, list) or not all(isinstance(name, str) for name in physics):
        raise ValueError(f"{origin}: 'physics' must be a list of module names, got {physics!r}")
    si["physics"] = tuple(physics)
    return si


def stage_name(kind: str, compliance: float) -> str:
    """Stage label of a forming ramp, e.g. ``forming 50 uA``."""
    return f"{kind} {compliance * 1e6:g} uA"


def history_protocols(si: dict, area: float) -> tuple[Protocol, Protocol]:
    """The main history and the non-volatile branch as staged protocols (module docstring).

    Parameters
    ----------
    si
        :func:`parameters`.
    area
        Electrode area [m²] (the GCD current is ``gcd_current_density`` × area).
    """
    small, large = si["forming_compliance"], si["nonvolatile_compliance"]
    main = (
        ltp_ltd_cycles(si["pulse_amplitude"], si["pulse_width"], si["pulse_rest"], si["pulses_per_phase"], 1,
                       si["read_voltage"]).staged("analog")
        + voltage_sweep(0.0, si["program_vertices"], si["program_rate"]).staged("programming")
        + cyclic_voltammetry(*si["cv_window"], si["cv_rate"], 1, start=0.0).staged("CV")
        + galvanostatic_cycles(si["gcd_current_density"] * area, *si["gcd_window"], 1).staged("GCD")
        + forming_ramp(0.0, si["forming_stop"], si["forming_rate"], small).staged(stage_name("forming", small))
        + voltage_sweep(0.0, [si["sweep_max"], 0.0], si["sweep_rate"], si["volatile_cycles"], compliance=small).staged("volatile")
        + rest(si["rest_time"]).staged("rest")
    )
    cycle = (voltage_sweep(0.0, [si["set_max"], 0.0], si["sweep_rate"], compliance=large)
             + voltage_sweep(0.0, [-si["reset_max"], 0.0], si["sweep_rate"], compliance=si["reset_compliance"]))
    branch = (
        forming_ramp(0.0, si["forming_stop"], si["forming_rate"], large).staged(stage_name("forming", large))
        + (cycle * si["bipolar_cycles"]).staged("bipolar")
        + hold(si["read_retention"], si["retention_time"]).staged("retention")
    )
    return main, branch


def source_voltage(result, protocol: Protocol, stage: str) -> np.ndarray:
    """The source voltage [V] at the rows of ``stage`` (its protocol value; the electrode voltage differs under compliance).

    Raises
    ------
    ValueError
        If the stage has current-controlled steps (no source voltage).
    """
    steps = Protocol(tuple(step for step in protocol if step.stage == stage))
    if not steps.is_voltage_controlled:
        raise ValueError(f"stage {stage!r} is not voltage-controlled")
    curves = result.stage_curves(stage)
    start = result.stage_span(stage)[0]
    start = start if np.isfinite(start) else float(result.curves.time.values[0])  # the first stage starts with the run
    local = np.clip(curves.time.values - start, 0.0, steps.duration)
    return np.asarray(steps.voltage(local), dtype=float)


def device_figures(main, branch, main_protocol: Protocol, branch_protocol: Protocol, si: dict, area: float) -> dict:
    """The Fig. 3 figures of the two runs (definitions: :mod:`femion.observables`, :mod:`femion.switching`); NaN where absent."""
    from femion.observables import discharge_metrics
    from femion.switching import bipolar_cycle, forming_voltage, switching_sweep

    nan = float("nan")
    reads = main.stage_reads("analog")
    g = reads.G.values
    ltp = reads.phase.values == "LTP"
    figures = {
        "G_first_read_S": float(g[0]),
        "G_max_over_G_min_analog": float(np.max(g) / np.min(g)),
        "G_end_LTP_over_start_analog": float(g[ltp][-1] / g[ltp][0]),
        "li_consumed_air_mol": float(main.curves.li_consumed_air.values[-1]),
        "li_consumed_air_power_mol": float(main.stage_curves(MODES["power"]).li_consumed_air.values[-1]),
    }
    cv = main.stage_curves("CV")
    figures["cv_peak_current_A"] = float(np.max(np.abs(cv.current.values)))
    gcd = main.stage_curves("GCD")
    discharging = gcd.current.values < 0.0
    try:
        metrics = discharge_metrics(gcd.time.values[discharging], gcd.voltage.values[discharging], gcd.current.values[discharging], area)
        figures["areal_capacitance_F_per_m2"] = metrics["capacitance_F_m2"]
    except (ValueError, KeyError):
        figures["areal_capacitance_F_per_m2"] = nan
    small, large = si["forming_compliance"], si["nonvolatile_compliance"]
    for result, protocol, compliance, key in ((main, main_protocol, small, "small"), (branch, branch_protocol, large, "large")):
        stage = stage_name("forming", compliance)
        forming = result.stage_curves(stage)
        figures[f"forming_voltage_{key}_V"] = forming_voltage(source_voltage(result, protocol, stage), forming.current.values, compliance)
        figures[f"forming_max_current_{key}_A"] = float(np.max(np.abs(forming.current.values)))
        figures[f"forming_peak_temperature_{key}_K"] = float(np.max(forming.T_max.values)) if "T_max" in forming else nan
    volatile = main.stage_curves("volatile")
    sweep = switching_sweep(source_voltage(main, main_protocol, "volatile"), volatile.current.values, small, si["switch_level"])
    figures.update({"v_th_V": sweep.v_th, "v_hold_V": sweep.v_hold, "selectivity": sweep.selectivity,
                    "volatile_max_current_A": float(np.max(np.abs(volatile.current.values)))})
    bipolar = branch.stage_curves("bipolar")
    cycle = bipolar_cycle(source_voltage(branch, branch_protocol, "bipolar"), bipolar.current.values, large, si["read_retention"],
                          si["switch_level"])
    figures.update({"v_set_V": cycle.v_set, "v_reset_V": cycle.v_reset, "lrs_ohm": cycle.lrs, "hrs_ohm": cycle.hrs,
                    "bipolar_max_current_A": float(np.max(np.abs(bipolar.current.values)))})
    hold_curves = branch.stage_curves("retention")
    current = np.abs(hold_curves.current.values[1:])
    figures["retention_resistance_start_ohm"] = float(si["read_retention"] / current[0]) if current[0] > 0 else nan
    figures["retention_resistance_end_ohm"] = float(si["read_retention"] / current[-1]) if current[-1] > 0 else nan
    return figures


def stage_table(result, protocol: Protocol) -> list[dict]:
    """Per stage: time span [s], time steps, largest |I| [A], peak T [K], V_O inventory and Li consumed by air [mol] at its end,
    largest bulk field in the LiPON [V/m] (the field V_O generation reads)."""
    rows, start = [], float(result.curves.time.values[0])
    for index, name in enumerate(result.stages):
        curves = result.stage_curves(name)
        rows.append({
            "stage": name,
            "t_start_s": start,
            "t_end_s": float(curves.time.values[-1]),
            "time_steps": int(curves.sizes["time"] - (1 if index == 0 else 0)),
            "max_abs_current_A": float(np.max(np.abs(curves.current.values))),
            "peak_temperature_K": float(np.max(curves.T_max.values)) if "T_max" in curves else float("nan"),
            "vo_inventory_end": float(curves.vo_inventory.values[-1]) if "vo_inventory" in curves else float("nan"),
            "li_consumed_air_end_mol": float(curves.li_consumed_air.values[-1]) if "li_consumed_air" in curves else float("nan"),
            "max_lipon_bulk_field_V_per_m": float(np.max(curves.field_max_LiPON.values)) if "field_max_LiPON" in curves else float("nan"),
            "steps": sum(1 for step in protocol if step.stage == name),
        })
        start = rows[-1]["t_end_s"]
    return rows


def tofsims_panels(simulation, result, device, si: dict, outdir: Path) -> tuple[dict, dict, dict]:
    """Fig. 4: the synthetic ToF-SIMS of the analog, power and volatile states (module docstring); (panels, readouts, extras)."""
    from femion import tofsims
    from femion.switching import filament_profile, radial_excess_profile

    mesh = simulation.mesh
    mechanics = next(module for module in simulation.modules if module.name == "mechanics")
    vacancy = next(module for module in simulation.modules if module.name == "vacancy")
    fov = tofsims.FieldOfView(width=si["field_of_view"], pixels=si["pixels"])
    products = ("c_li", "Li2O", "LiOH", "Li2CO3")
    panels, readouts, grids = {}, {}, {}
    for mode, stage in MODES.items():
        state = result.stages[stage]
        grid = tofsims.voxelize(mesh.displaced(mechanics.displacement(state)), device, fov)
        species = {name: state.fields[name] for name in products}
        if mode == "volatile":
            species["c_vo"] = state.fields["n_vo"] / AVOGADRO
            if "n_o" in state.fields:
                species["c_o"] = state.fields["n_o"] / AVOGADRO
        mode_panels, mode_readouts, volumes = tofsims.synthesize_mode(mode, grid, device, species, outdir,
                                                                      depth_map_panel=mode != "volatile")
        panels.update(mode_panels)
        readouts.update(mode_readouts)
        grids[mode] = (grid, volumes)
    power, volatile = result.stages[MODES["power"]], result.stages[MODES["volatile"]]
    grid, volumes = grids["volatile"]
    before_species = {name: power.fields[name] for name in products}
    before_species["c_vo"] = power.fields["n_vo"] / AVOGADRO
    if "n_o" in power.fields:
        before_species["c_o"] = power.fields["n_o"] / AVOGADRO
    before = tofsims.intensity("O-", before_species, grid)
    change = volumes["O-"].values - before.values
    tofsims.write_volumes(outdir / "tofsims", grid, {"O-_change": change}, prefix="volatile_")
    tofsims.write_depth_map(outdir / "depth_map_volatile_O_change.nc", tofsims.depth_map(grid, {"O-_change": change}))
    o_panel(outdir / "panel_i_o_depth_map_volatile.png", grid, volumes["O-"].values, change)
    panels["i"] = {"mode": "volatile", "content": "O depth map", "status": "computed", "file": "panel_i_o_depth_map_volatile.png"}
    try:
        readouts["o_localisation_volatile"] = o_localisation(change, volumes["O-"].values, grid)
    except ValueError as error:  # nothing formed: there is no O change to locate
        readouts["o_localisation_volatile"] = {"sign": 0.0, "fwhm_m": float("nan"), "within_electrode": False, "r_max_m": float("nan"),
                                               "centre_edge_ratio": float("nan"), "relative_amplitude": 0.0,
                                               "localised_under_centre": False, "note": str(error)}
    radii, excess = radial_excess_profile(mesh, volatile.fields["n_vo"], power.fields["n_vo"], "LiPON")
    readouts["vo_excess_LiPON_volatile"] = filament_profile(radii, excess) if np.any(excess > 0.0) else {}
    electrode = mesh.region_mask(device.top_electrode.name)
    formed = result.stages[stage_name("forming", si["forming_compliance"])]
    lipon = vacancy.films.region_mask("LiPON")
    field = vacancy.field_magnitude(formed.fields["phi"][vacancy.films.parent_cells], formed.voltage)
    extras = {
        "lipon_bulk_field_end_forming_V_per_m": float(np.max(field[lipon])),
        "vo_generation_threshold_field_V_per_m": float(device.material("LiPON").value("vo_generation_threshold_field")),
        "max_interface_displacement_power_m": float(max(np.max(np.hypot(ur, uz)) for _, ur, uz in mechanics.interface_profiles(power).values())),
        "porosity_growth_max_power": float(np.max(power.fields["porosity"][electrode]) - mechanics.settings.initial_porosity),
        "vo_inventory_change_forming": float(vacancy.observables(volatile)["vo_inventory"] / vacancy.observables(power)["vo_inventory"] - 1.0),
    }
    return panels, readouts, extras


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the history and its non-volatile branch with every module on; write Fig. 3 and Fig. 4 outputs; return the summary.

    ``overrides`` (dotted ``config.*`` / ``device.*`` keys, as in sweep files) go to
    :func:`femion.config.load_study_config`.

    Raises
    ------
    ValueError
        A bad config value (one line naming the file and key) or a device without WO3 and LiPON.
    femion.simulation.SimulationError
        If a stage cannot be advanced even at the smallest time step (the checkpoints keep what was computed).
    """
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("WO3", "LiPON"), origin)
    si = parameters(config, origin, quick)
    outdir = Path(outdir)
    area = math.pi * device.electrode_radius**2
    main_protocol, branch_protocol = history_protocols(si, area)
    settings = SimulationSettings(mesh=QUICK_MESH if quick else MeshSettings(), max_iterations=40, min_step_fraction=1e-7,
                                  error_tolerance=si["error_tolerance"], circuit_window=3, lagged=("mechanics",))
    options = {"vacancy": {"track_oxygen": si["track_oxygen"]}} if "vacancy" in si["physics"] else {}
    started = time.perf_counter()
    simulation = Simulation(device, main_protocol, settings, physics=si["physics"], options=options)
    with profile_coupling() as profile:
        main = simulation.run(outdir / "history", stage="history")
        main_wall = time.perf_counter() - started
        branch_simulation = Simulation(device, branch_protocol, settings, mesh=simulation.mesh, physics=si["physics"], options=options,
                                       start=main.stages[MODES["power"]])
        branch = branch_simulation.run(outdir / "nonvolatile", stage="non-volatile branch")
    branch_wall = time.perf_counter() - started - main_wall
    timing = profile.report()
    (outdir / "profile.json").write_text(json.dumps(
        {"note": "wall time by module of the coupled steps computed in this invocation (resumed steps are not timed)",
         "history_wall_s": main_wall, "branch_wall_s": branch_wall, **timing}, indent=2))
    print(f"  history: {len(main.curves.time)} time steps in {main_wall:.0f} s; branch: {len(branch.curves.time)} in {branch_wall:.0f} s")

    figures = device_figures(main, branch, main_protocol, branch_protocol, si, area)
    panels, readouts, extras = tofsims_panels(simulation, main, device, si, outdir)
    (outdir / "panels.json").write_text(json.dumps(dict(sorted(panels.items())), indent=2))
    (outdir / "readouts.json").write_text(json.dumps(readouts, indent=2, default=float))
    stages = {"history": stage_table(main, main_protocol), "nonvolatile": stage_table(branch, branch_protocol)}
    (outdir / "stages.json").write_text(json.dumps(stages, indent=2))
    summary = {
        "quick": quick,
        "physics": list(si["physics"]),
        "cells": simulation.mesh.n_cells,
        "time_steps_history": int(main.curves.sizes["time"] - 1),
        "time_steps_nonvolatile": int(branch.curves.sizes["time"] - 1),
        "electrode_radius_m": device.electrode_radius,
        "device_temperature_K": device.temperature,
        "pulses_per_phase": si["pulses_per_phase"],
        "forming_compliance_A": si["forming_compliance"],
        "nonvolatile_compliance_A": si["nonvolatile_compliance"],
        "forming_stop_V": si["forming_stop"],
        "wall_time_history_s": main_wall,
        "wall_time_nonvolatile_s": branch_wall,
        "coupling_iterations_mean": timing["iterations_mean"],
        **figures,
        **extras,
        "o_localised_under_centre": bool(readouts["o_localisation_volatile"]["localised_under_centre"]),
        "panels_computed": sorted(key for key, panel in panels.items() if panel["status"] == "computed"),
        **{key: value for key, value in readouts.items() if isinstance(value, float)},
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    (outdir / "findings.md").write_text(findings(summary, readouts, stages))
    write_run_metadata(outdir, device, {"study": "device_history", "summary": summary})
    print(f"  analog G_max/G_min {summary['G_max_over_G_min_analog']:.3g}; Li consumed by air {summary['li_consumed_air_mol']:.3g} mol; "
          f"forming V_f {summary['forming_voltage_small_V']:.3g} V (50 uA), {summary['forming_voltage_large_V']:.3g} V (500 uA)")
    return summary


def findings(summary: dict, readouts: dict, stages: dict) -> str:
    """The paper's Fig. 3 and Fig. 4 statements next to what this run computed, as Markdown."""
    from femion.claims import CLAIMS, VISIBLE_CHANGE

    paper = {claim.id: claim.paper_value for claim in CLAIMS}
    fmt = lambda value: "—" if value is None or (isinstance(value, float) and not np.isfinite(value)) else f"{value:.3g}"  # noqa: E731
    lines = [
        "# One device, one history: what this run shows", "",
        f"Physics on in every stage: {', '.join(summary['physics'])}; mesh {summary['cells']} cells; "
        f"{summary['time_steps_history']} + {summary['time_steps_nonvolatile']} time steps.", "",
        "## Stages", "",
        "| run | stage | t [s] | steps | max abs(I) [A] | peak T [K] | V_O inventory | Li consumed by air [mol] | max LiPON bulk field [V/m] |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run_name, rows in stages.items():
        for row in rows:
            lines.append(f"| {run_name} | {row['stage']} | {row['t_start_s']:.4g}–{row['t_end_s']:.4g} | {row['time_steps']} | "
                         f"{row['max_abs_current_A']:.3g} | {row['peak_temperature_K']:.5g} | {row['vo_inventory_end']:.4g} | "
                         f"{row['li_consumed_air_end_mol']:.3g} | {fmt(row.get('max_lipon_bulk_field_V_per_m'))} |")
    lines += ["", f"The V_O generation threshold field of the LiPON is {summary['vo_generation_threshold_field_V_per_m']:.3g} V/m "
                  "(femion.physics.vacancy reads the bulk field of each film, the double-layer drops at its interfaces left out)."]
    lines += ["", "## Fig. 3 device figures beside the paper", "",
              "| figure | paper | this run |", "|---|---|---|",
              f"| analog G_max/G_min over one LTP/LTD cycle | {paper.get('analog_window', '57.5')} | {fmt(summary['G_max_over_G_min_analog'])} |",
              f"| Li consumed by air in the programming sweep [mol] | about 10 % of the films' Li (power mode) | {fmt(summary['li_consumed_air_mol'])} |",
              f"| GCD areal capacitance [mF/cm²] | 4.1 | {fmt(summary['areal_capacitance_F_per_m2'] * 0.1)} |",
              f"| forming voltage at {summary['forming_compliance_A'] * 1e6:g} µA [V] | forms (Fig. 3g) | {fmt(summary['forming_voltage_small_V'])} (largest abs(I) {fmt(summary['forming_max_current_small_A'])} A) |",
              f"| volatile V_th / V_hold [V] | V_th > V_hold (Fig. 3h) | {fmt(summary['v_th_V'])} / {fmt(summary['v_hold_V'])} |",
              f"| volatile selectivity | ~10² | {fmt(summary['selectivity'])} |",
              f"| forming voltage at {summary['nonvolatile_compliance_A'] * 1e6:g} µA [V] | forms (Fig. 3j) | {fmt(summary['forming_voltage_large_V'])} (largest abs(I) {fmt(summary['forming_max_current_large_A'])} A) |",
              f"| bipolar V_set / V_reset [V] | set and reset (Fig. 3k) | {fmt(summary['v_set_V'])} / {fmt(summary['v_reset_V'])} |",
              f"| retention: R at start / end of the hold [Ω] | LRS kept > 10⁵ s (Fig. 3l) | {fmt(summary['retention_resistance_start_ohm'])} / {fmt(summary['retention_resistance_end_ohm'])} |",
              "", "## Fig. 4 beside the paper", ""]
    for mode, panel in (("analog", "g"), ("power", "h")):
        cv = readouts[f"li_lateral_uniformity_WO3_{mode}"]
        lines.append(f"- ({panel}) Li homogeneous laterally in the {mode} mode (paper): Li⁻ lateral CV in WO3 = {cv:.2g} → "
                     f"{'reproduced' if cv < 0.01 else 'NOT reproduced'}.")
    centre = readouts["product_ions_in_Pt_power"]["centre"]
    edge = readouts["product_ions_in_Pt_power"]["edge"]
    total = lambda values: sum(v for ion, v in values.items() if ion in ("OH-", "CO3-", "CO3Li-"))  # noqa: E731
    lines.append(f"- (e) reaction products concentrated at the Pt centre in the power mode (paper): centre {total(centre):.3g}, "
                 f"edge {total(edge):.3g} (depth-integrated counts in Pt); Li consumed by air {summary['li_consumed_air_mol']:.3g} mol.")
    lines.append(f"- (b) deformed layers in the power mode (paper): largest interface displacement "
                 f"{summary['max_interface_displacement_power_m']:.3g} m; electrode porosity growth {summary['porosity_growth_max_power']:.3g}.")
    o = readouts["o_localisation_volatile"]
    visible = np.isfinite(o["r_max_m"]) and o["relative_amplitude"] >= VISIBLE_CHANGE
    where = (f"ΔO⁻ peaks at r = {o['r_max_m'] * 1e6:.3g} µm, FWHM {o['fwhm_m'] * 1e6:.3g} µm, "
             f"{o['relative_amplitude']:.2g} of the O⁻ signal" if np.isfinite(o["r_max_m"]) else f"no O change ({o.get('note', '')})")
    verdict = ("reproduced" if o["localised_under_centre"] else "NOT reproduced") if visible else (
        f"NOT reproduced: the change is below the {VISIBLE_CHANGE:g} a ToF-SIMS map shows (femion.claims.VISIBLE_CHANGE)")
    lines.append(f"- (i) O localised below the centre of the Pt electrode in the volatile mode (paper): {where} → {verdict}. "
                 f"V_O inventory change by forming and the volatile cycles: {summary['vo_inventory_change_forming']:.3g} (relative).")
    if not np.isfinite(summary["v_set_V"]) and np.isfinite(summary["v_reset_V"]):
        lines.append(f"- The bipolar row's V_reset ({summary['v_reset_V']:.3g} V) comes from an unformed device (no set): it is the "
                     "current peak of the Li electrochemistry on the negative leg, not a filament reset.")
    lines += ["", "## Reading this run", "",
              f"At the end of the forming ramp ({summary['forming_stop_V']:g} V) the largest bulk field in the LiPON is "
              f"{summary['lipon_bulk_field_end_forming_V_per_m']:.3g} V/m against the V_O generation threshold "
              f"{summary['vo_generation_threshold_field_V_per_m']:.3g} V/m: with the Li electrochemistry on, the bias sits on the "
              "host|LiPON double layers (the electrolyte potential in the LiPON stays near the cell's emf), so the field-driven "
              "generation of femion.physics.vacancy never starts.", "",
              "Every module is on in every stage; nothing here is a scenario input. Where the device does not form, the "
              "digital-mode rows above are the response of the unformed device, and the claim tests say which link breaks "
              "(femion.claims). The reduced V_O + Joule model of studies/forming and the switching studies (lithium left "
              "out, film conductivity replaced) is a separate hypothesis: it forms at ~5 V where this run does not.", ""]
    return "\n".join(lines) + "\n"


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


