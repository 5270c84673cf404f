"""Seeded Monte Carlo of cycle-to-cycle variability (paper Figs. S4, S6, S14, S15).

Problem
-------
A device with seeded disorder (Gaussian per-cell barrier offsets of std
``barrier_disorder`` and log-normal initial V_O density of std
``density_fluctuation``, :class:`femion.physics.vacancy.VacancyModule`) is
formed with the small I_cc and then cycled ``cycles`` times through a
bipolar sweep 0 → +V → 0 → −V → 0 under the compliance. Per cycle:
V_th, V_hold (positive half, :func:`femion.switching.switching_sweep`),
the resistances V_read/|I| on the backward legs of the positive and the
negative half at |V| = ``read_voltage``; the LRS is the one of the two with
the lower mean over the cycles, the HRS the other (the set polarity is an
output). The first ``discard_cycles`` cycles after forming are conditioning
cycles, run but left out of the statistics. Variation = std/mean over the cycles
(:func:`femion.observables.cycle_to_cycle_variation`). The same seed gives a
bit-identical run (tested).

Device histories (paper Figs. S14, S15 vs Figs. 3i, S6): *deformed* — the
pristine device is first programmed as in the power mode (sweep
``program_vertices`` at ``program_rate`` with lithium,
:class:`femion.Simulation`; the recorded Li history drives
:class:`femion.physics.mechanics.MechanicsModule`,
:func:`~femion.physics.mechanics.run_mechanics_on_history`), the computed
top-electrode lift w(r) (:meth:`~femion.physics.mechanics.MechanicsModule.electrode_profile`)
is meshed into the stack (:func:`femion.build_mesh` ``interface_profile``;
a steep blister on the axis gets a graded axis column in both meshes,
:func:`femion.mesh.settings_for_profile`) and that device is formed and cycled; *flat* — the pristine flat device is
formed and cycled directly. Both use the same seed (the same per-cell
disorder: the deformed mesh keeps the cell numbering). The Li state of the
programmed device is not carried into the V_O run (lithium is left out of
the V_O physics, as in ``studies/forming``): only its geometry is.
V_th/V_hold and LRS/HRS are read from the same bipolar cycles of the
small-I_cc device (the paper takes V_th/V_hold from the volatile and
LRS/HRS from the non-volatile mode; femion's formed states do not differ in
kind, see ``studies/nonvolatile_switching`` for the 500 µA device).
Physics as ``studies/forming`` (lithium left out). Monte Carlo here is over
cycles of one seeded device: the disorder is frozen; cycle-to-cycle
differences come from the evolving V_O field.

Quick mode (stated in the summary): 3 cycles of ±2 V at 5 V/s, forming ramp
stopped at 7.2 V (past the forming voltage, 4.8 V), programming sweep with
0.5 V per step, the quick mesh (refined near the axis where the programmed
blister needs it, :func:`femion.mesh.settings_for_profile`).

Paper (deformed vs flat): V_th 4 % vs 6 %, V_hold 2 % vs 5 %, LRS 3 % vs
30 %, HRS 7 % vs 77 %.

Outputs: ``cycles.nc`` (per cycle V_th, V_hold, HRS, LRS), ``sweeps.nc``,
``variation.json`` (the table), ``summary.json``, ``findings.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config, require_layers
from femion.geometry import QUICK_MESH, MeshSettings
from femion.io import write_dataset, write_run_metadata
from femion.mesh import build_mesh, settings_for_profile
from femion.observables import cycle_to_cycle_variation
from femion.physics.mechanics import LithiumHistoryRecorder, MechanicsModule, MechanicsSettings, run_mechanics_on_history
from femion.protocols import voltage_sweep
from femion.simulation import Simulation
from femion.switching import backward_resistance, form, forming_voltage, run_vacancy, settings_for, switching_sweep
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "seed", "barrier_disorder", "density_fluctuation", "forming_compliance", "forming_rate", "forming_stop", "sweep_max",
    "sweep_rate", "quick_sweep_rate", "sweep_compliance", "read_voltage", "cycles", "quick_cycles", "switch_level",
    "mesh_refinement", "quick_mesh_refinement", "error_tolerance", "quick_forming_stop", "quick_sweep_max", "program_vertices", "program_rate",
    "program_increment", "quick_program_increment", "discard_cycles",
}
QUANTITIES = ("v_th", "v_hold", "lrs", "hrs")
HISTORIES = ("deformed", "flat")
PAPER = {"deformed": {"v_th": 0.04, "v_hold": 0.02, "lrs": 0.03, "hrs": 0.07},
         "flat": {"v_th": 0.06, "v_hold": 0.05, "lrs": 0.30, "hrs": 0.77}}


def analyse_cycle(source: np.ndarray, current: np.ndarray, compliance: float, level: float, read: float) -> dict:
    """V_th, V_hold (positive half) and the resistances after each half of one bipolar cycle (module docstring).

    Returns ``v_th``, ``v_hold`` [V], ``r_positive`` and ``r_negative`` [Ohm]: V_read/|I| on the backward leg of
    the positive half at +``read`` and of the negative half at −``read``.
    """
    v = np.asarray(source, float)
    positive = v >= 0.0
    split = int(np.flatnonzero(np.diff(positive.astype(int)) < 0)[0]) + 1 if np.any(~positive) else len(v)
    pos_v, pos_i = v[:split], np.asarray(current)[:split]
    neg_v, neg_i = v[split - 1:], np.asarray(current)[split - 1:]
    figures = switching_sweep(pos_v, pos_i, compliance, level)
    return {"v_th": figures.v_th, "v_hold": figures.v_hold,
            "r_positive": backward_resistance(pos_v, pos_i, read), "r_negative": backward_resistance(neg_v, neg_i, -read)}


def label_states(rows: list[dict]) -> tuple[str, list[dict]]:
    """Name the two read states: LRS is the half (positive/negative) whose mean resistance is lower.

    Returns the set polarity ("positive" or "negative": the half after which the LRS is read) and the rows with
    ``lrs`` and ``hrs`` [Ohm] added.
    """
    positive = np.nanmean([row["r_positive"] for row in rows])
    negative = np.nanmean([row["r_negative"] for row in rows])
    polarity = "negative" if negative < positive else "positive"
    low, high = ("r_negative", "r_positive") if polarity == "negative" else ("r_positive", "r_negative")
    return polarity, [{**row, "lrs": row[low], "hrs": row[high]} for row in rows]


def variation(values) -> float:
    """std/mean of the finite values (NaN if fewer than two)."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return float(cycle_to_cycle_variation(finite)) if len(finite) >= 2 else float("nan")


def programmed_profile(device, vertices: list[float], rate: float, increment: float, quick: bool):
    """Top-electrode lift w(r) [m] after the power-mode programming sweep (lithium, then mechanics on its history).

    Returns the callable w(r) for :func:`femion.build_mesh`, the lift at r = 0 and at r = 0.9 R_e [m].
    """
    mesh = build_mesh(device, settings=QUICK_MESH if quick else MeshSettings())
    simulation = Simulation(device, voltage_sweep(0.0, vertices, rate, max_step=increment / rate), mesh=mesh)
    recorder = LithiumHistoryRecorder()
    simulation.modules.append(recorder)
    simulation.run(progress=None)
    module = MechanicsModule(mesh, device, MechanicsSettings())
    state, _ = run_mechanics_on_history(module, np.array(recorder.times), recorder.concentrations)
    profile = module.electrode_profile(state)
    return profile, float(profile(np.array([0.0]))[0]), float(profile(np.array([0.9 * device.electrode_radius]))[0])


def cycle_history(device, mesh, settings, si: dict, disorder: dict, protocol, cycles: int, duration: float,
                  level: float, discard: int):
    """Form the seeded device on ``mesh``, run the bipolar cycles; return (set polarity, rows of the kept cycles, forming run, sweep run).

    The first ``discard`` cycles after forming are run but left out of the rows (conditioning cycles).
    """
    formed = form(device, mesh, settings, si["forming_compliance"], si["forming_rate"], si["forming_stop"], **disorder)
    sweeps = run_vacancy(device, protocol, settings, mesh, start=formed.state, **disorder)
    rows = [analyse_cycle(source, current, si["sweep_compliance"], level, si["read_voltage"])
            for source, current in sweeps.cycles(duration, cycles)][discard:]
    polarity, rows = label_states(rows)
    return polarity, rows, formed, sweeps


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Program (deformed history) or not (flat), form the seeded device, cycle it, tabulate the variation; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    pick = (lambda key: config[f"quick_{key}"] if quick else config[key])
    si = {key: to_si(value, unit, name=key, origin=origin, nonnegative=key == "barrier_disorder",
                     positive=key != "barrier_disorder") for key, value, unit in (
        ("barrier_disorder", config["barrier_disorder"], "eV"), ("forming_compliance", config["forming_compliance"], "A"),
        ("forming_rate", config["forming_rate"], "V/s"), ("forming_stop", pick("forming_stop"), "V"),
        ("sweep_max", pick("sweep_max"), "V"), ("sweep_compliance", config["sweep_compliance"], "A"),
        ("read_voltage", config["read_voltage"], "V"), ("sweep_rate", pick("sweep_rate"), "V/s"),
        ("program_rate", config["program_rate"], "V/s"), ("program_increment", pick("program_increment"), "V"))}
    vertices = [to_si(v, "V", name="program_vertices", origin=origin) for v in config["program_vertices"]]
    cycles = to_integer(pick("cycles"), name="quick_cycles" if quick else "cycles", origin=origin)
    discard = to_integer(config["discard_cycles"], name="discard_cycles", origin=origin, minimum=0)
    level = to_si(config["switch_level"], "", name="switch_level", origin=origin, positive=True)
    if discard < 0 or cycles - discard < 2:
        raise ValueError(f"{origin}: variation needs at least 2 cycles after the {discard} discarded ones, got {cycles} cycles")
    if not 0.0 < si["read_voltage"] < si["sweep_max"]:
        raise ValueError(f"{origin}: read_voltage must lie in (0, sweep_max), got {si['read_voltage']} V and {si['sweep_max']} V")
    disorder = {"seed": to_integer(config["seed"], name="seed", origin=origin, minimum=0), "barrier_disorder": si["barrier_disorder"],
                "density_fluctuation": to_si(config["density_fluctuation"], "", name="density_fluctuation", origin=origin, nonnegative=True)}
    settings = settings_for(config, quick, origin)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    vmax, rate = si["sweep_max"], si["sweep_rate"]
    protocol = voltage_sweep(0.0, [vmax, 0.0, -vmax, 0.0], rate, cycles, compliance=si["sweep_compliance"])
    duration = 4.0 * vmax / rate
    profile, lift, lift_edge = programmed_profile(device, vertices, si["program_rate"], si["program_increment"], quick)
    # Both meshes share the settings (and so the cell numbering and the seeded disorder); a steep blister on the
    # axis gets a graded axis column that keeps the deformed cells near-orthogonal (femion.mesh.settings_for_profile).
    mesh_settings = settings_for_profile(device, settings.mesh, profile)
    meshes = {"deformed": build_mesh(device, settings=mesh_settings, interface_profile=profile),
              "flat": build_mesh(device, settings=mesh_settings)}
    table, means, forming_voltages, data, polarity = {}, {}, {}, {}, {}
    for history in HISTORIES:
        polarity[history], rows, formed, sweeps = cycle_history(device, meshes[history], settings, si, disorder, protocol,
                                                                cycles, duration, level, discard)
        table[history] = {key: variation([row[key] for row in rows]) for key in QUANTITIES}
        values = {key: np.array([row[key] for row in rows]) for key in QUANTITIES}
        means[history] = {key: float(np.nanmean(v)) if np.isfinite(v).any() else float("nan") for key, v in values.items()}
        forming_voltages[history] = forming_voltage(formed.source, formed.current, si["forming_compliance"])
        data[history] = xr.Dataset({key: ("cycle", values[key], {"units": "Ohm" if key in ("lrs", "hrs") else "V"}) for key in QUANTITIES},
                                   coords={"cycle": ("cycle", np.arange(discard + 1, cycles + 1), {"units": "1"})})
        write_dataset(outdir / f"sweeps_{history}.nc", sweeps.dataset())
    write_dataset(outdir / "cycles.nc", xr.concat([data[h] for h in HISTORIES], dim=xr.DataArray(list(HISTORIES), dims="history", name="history")))
    (outdir / "variation.json").write_text(json.dumps({"femion": table, "paper": PAPER}, indent=2, default=float))
    ordering = {key: bool(table["deformed"][key] < table["flat"][key]) for key in QUANTITIES}
    summary = {
        "quick": quick, "cells": meshes["flat"].n_cells, "cycles": cycles, "discarded_cycles": discard, "set_polarity": polarity, "sweep_max_V": vmax, "sweep_rate_V_per_s": rate,
        "forming_stop_V": si["forming_stop"], **disorder,
        "physics": ["electrostatics", "vacancy", "thermal"],
        "electrode_lift_center_m": lift, "electrode_lift_0.9Re_m": lift_edge,
        "mesh_axis_column_m": mesh_settings.axis_core if mesh_settings.axis_cell is not None else 0.0,
        "mesh_nonorthogonality_deg": meshes["deformed"].nonorthogonality(),
        "variation": table, "paper": PAPER, "means": means, "forming_voltage_V": forming_voltages,
        "paper_ordering_holds": ordering,
        **{f"variation_{h}_{key}": table[h][key] for h in HISTORIES for key in QUANTITIES},
        **{f"{key}_mean_{h}": means[h][key] for h in HISTORIES for key in QUANTITIES},
        "forming_voltage_flat_V": forming_voltages["flat"], "forming_voltage_deformed_V": forming_voltages["deformed"],
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "variability", "summary": summary})
    return summary


def findings(s: dict) -> str:
    """The variation table of both histories next to the paper's, and whether the paper's ordering holds (Markdown)."""
    lines = ["# Cycle-to-cycle variability (paper Figs. S4, S6, S14, S15): what this run shows", "",
             f"Seed {s['seed']}, barrier disorder {s['barrier_disorder']:.3g} eV, density fluctuation {s['density_fluctuation']:g}, "
             f"{s['cycles']} bipolar cycles (the first {s['discarded_cycles']} after forming left out of the statistics) 0 → ±{s['sweep_max_V']:g} V at {s['sweep_rate_V_per_s']:g} V/s, forming ramp to "
             f"{s['forming_stop_V']:g} V under 50 µA. Physics: V_O + Joule + compliance, lithium left out of the V_O runs.", "",
             "| history | V_th | V_hold | LRS | HRS |", "|---|---|---|---|---|"]
    for history in HISTORIES:
        f, p = s["variation"][history], s["paper"][history]
        cells = " | ".join(f"{f[k] * 100:.3g} % (paper {p[k] * 100:g} %)" for k in QUANTITIES)
        lines.append(f"| {history} | {cells} |")
    lines.append("")
    for history in HISTORIES:
        m = s["means"][history]
        lines.append(f"- means, {history}: V_th {m['v_th']:.3g} V, V_hold {m['v_hold']:.3g} V, LRS {m['lrs']:.3g} Ω, "
                     f"HRS {m['hrs']:.3g} Ω; forming voltage {s['forming_voltage_V'][history]:.3g} V.")
    for history in HISTORIES:
        lines.append(f"- {history}: the LRS is the state read after the {s['set_polarity'][history]} half of the cycle "
                     "(LRS/HRS are named by their resistance, not by the sweep polarity).")
    spread = max(abs(s["variation"]["deformed"][k] - s["variation"]["flat"][k]) for k in QUANTITIES)
    holds = [k for k, v in s["paper_ordering_holds"].items() if v]
    fails = [k for k, v in s["paper_ordering_holds"].items() if not v]
    lines += [
        "- Paper ordering (deformed more uniform than flat): "
        + (f"holds for {', '.join(holds)}" if holds else "holds for none of the four")
        + (f"; does not hold for {', '.join(fails)}." if fails else " (all four).")
        + " Forming voltages differ by "
        f"{abs(s['forming_voltage_V']['deformed'] / s['forming_voltage_V']['flat'] - 1) * 100:.2g} % between the histories, "
        f"against a relative thickness change of {s['electrode_lift_center_m'] / 900e-9 * 100:.2g} % (centre lift over the ~900 nm stack).",
        f"- The programming sweep lifts the electrode by {s['electrode_lift_center_m'] * 1e9:.3g} nm at r = 0 and "
        f"{s['electrode_lift_0.9Re_m'] * 1e9:.3g} nm at r = 0.9 R_e on a ~900 nm stack"
        + (": a nearly uniform change of film thickness, not a dome, so femion's mechanics gives no local field "
           "enhancement at the centre and the deformed device differs from the flat one by a relative geometry change "
           f"of order 1e-3. The rows differ by at most {spread * 100:.2g} percentage points, and the paper's factor 1.5–10 "
           "between them is absent; whatever ordering appears is that small perturbation, not the paper's mechanism (a "
           "filament pinned under the centre of the electrode): the paper's ordering is NOT reproduced as a physical effect."
           if abs(s["electrode_lift_center_m"] - s["electrode_lift_0.9Re_m"]) <= 0.1 * abs(s["electrode_lift_center_m"]) else
           ": a dome, i.e. a thinner stack at the centre (compare the rows)."),
        "- The formed V_O layer is laterally uniform (see studies/forming): no filament forms and ruptures, so the "
        "cycle-to-cycle variation measured here is that of a disk-wide conductor, not of a stochastic filament.",
    ]
    if s["quick"]:
        lines.append(f"- Quick mode: {s['cycles']} cycles only; a std/mean from so few cycles is a regression number, not a statistic.")
    return "\n".join(lines) + "\n"
