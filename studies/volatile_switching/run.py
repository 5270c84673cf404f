"""Volatile threshold switching after small-I_cc forming (paper Fig. 3h, 3i).

Problem
-------
The pristine flat device is formed as in ``studies/forming`` (ramp with a
small I_cc), then swept 0 → ``sweep_max`` → 0 ``cycles`` times under the
compliance ``sweep_compliance``, then held at ``relax_voltage`` (bias
removed except a small read voltage) for ``relax_time`` while the
conductance G = I/V is followed. Physics: :mod:`femion.switching` (V_O +
Joule heating + compliance; **lithium left out**, as in ``studies/forming``;
flat electrode only, the deformed-electrode history is left out).

Per cycle: V_th (forward crossing of ``switch_level`` · I_cc), V_hold
(backward falling crossing), the read voltage (V_th + V_hold)/2 and I_on,
I_off and the selectivity I_on/I_off there (:func:`femion.switching.switching_sweep`).
After the sweeps: G(t) at the read bias, the pristine G at the same bias,
and the relaxation time t_½ at which G − G_pristine has fallen to half its
value at the start of the hold (NaN if it has not within ``relax_time``):
whether the filament dissolves after bias removal.

Paper: selectivity ~10² with I_off ~10⁻⁷ A; V_th and V_hold variation 4 % / 2 %.

Outputs: ``sweeps.nc`` (t, source/electrode voltage, current, cycle),
``relax.nc`` (t, G), ``fields_after_sweeps.vtu``, ``summary.json``,
``findings.md`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.mesh import build_mesh
from femion.protocols import hold, voltage_sweep
from femion.simulation import SimulationSettings
from femion.switching import form, run_vacancy, settings_for, switching_sweep
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "forming_compliance", "forming_rate", "forming_stop", "sweep_max", "sweep_rate", "sweep_compliance", "cycles",
    "quick_cycles", "relax_voltage", "relax_time", "quick_relax_time", "switch_level", "mesh_refinement",
    "quick_mesh_refinement", "error_tolerance",
}


def half_relaxation_time(time: np.ndarray, conductance: np.ndarray, baseline: float) -> float:
    """Time [s] at which G − baseline first falls to half its initial value (linear interpolation; NaN if never).

    Parameters
    ----------
    time, conductance
        t [s] from the start of the relaxation and G [S], shape (n,).
    baseline
        G of the pristine device [S].
    """
    t, g = np.asarray(time, float), np.asarray(conductance, float) - baseline
    if len(t) < 2 or not g[0] > 0.0:
        return float("nan")
    below = np.flatnonzero(g <= 0.5 * g[0])
    if len(below) == 0:
        return float("nan")
    k = int(below[0])
    fraction = (g[k - 1] - 0.5 * g[0]) / (g[k - 1] - g[k])
    return float(t[k - 1] + fraction * (t[k] - t[k - 1]))


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Form, sweep, relax; write the outputs; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    si = {key: to_si(config[key], unit, name=key, origin=origin, positive=key != "relax_voltage") for key, unit in (
        ("forming_compliance", "A"), ("forming_rate", "V/s"), ("forming_stop", "V"), ("sweep_max", "V"),
        ("sweep_rate", "V/s"), ("sweep_compliance", "A"), ("relax_voltage", "V"))}
    key = "quick_relax_time" if quick else "relax_time"
    relax_time = to_si(config[key], "s", name=key, origin=origin, positive=True)
    key = "quick_cycles" if quick else "cycles"
    cycles = to_integer(config[key], name=key, origin=origin)
    level = to_si(config["switch_level"], "", name="switch_level", origin=origin)
    if not 0.0 < level <= 1.0:
        raise ValueError(f"{origin}: 'switch_level' must lie in (0, 1], got {config['switch_level']!r}")
    if si["relax_voltage"] == 0.0:
        raise ValueError(f"{origin}: 'relax_voltage' must not be 0 V (G = I/V)")
    settings = settings_for(config, quick, origin)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    mesh = build_mesh(device, settings=settings.mesh)
    formed = form(device, mesh, settings, si["forming_compliance"], si["forming_rate"], si["forming_stop"])
    protocol = voltage_sweep(0.0, [si["sweep_max"], 0.0], si["sweep_rate"], cycles, compliance=si["sweep_compliance"])
    sweeps = run_vacancy(device, protocol, settings, mesh, start=formed.state)
    cycle_duration = 2.0 * si["sweep_max"] / si["sweep_rate"]
    per_cycle = []
    for index, (v, i) in enumerate(sweeps.cycles(cycle_duration, cycles), start=1):
        figures = switching_sweep(v, i, si["sweep_compliance"], level)
        per_cycle.append({"cycle": index, **figures.__dict__})
    cycle_index = np.minimum((sweeps.time / cycle_duration).astype(int) + 1, cycles)
    data = sweeps.dataset().assign(cycle=("time", cycle_index, {"units": "1"}))
    write_dataset(outdir / "sweeps.nc", data)
    write_fields(outdir / "fields_after_sweeps.vtu", mesh, {"n_vo [1/m^3]": sweeps.state.fields["n_vo"], "T [K]": sweeps.state.fields["T"]})
    # relaxation at the read bias, and the pristine device at the same bias
    relax_settings = SimulationSettings(mesh=settings.mesh, max_iterations=40, min_step_fraction=1e-9, first_step=1e-4 * relax_time)
    relax = run_vacancy(device, hold(si["relax_voltage"], relax_time), relax_settings, mesh, start=sweeps.state)
    pristine = run_vacancy(device, hold(si["relax_voltage"], 1e-3), relax_settings, mesh)
    g_pristine = float(pristine.current[-1] / si["relax_voltage"])
    conductance = relax.current / si["relax_voltage"]
    write_dataset(outdir / "relax.nc", xr.Dataset({"G": ("time", conductance, {"units": "S"})}, coords={"time": ("time", relax.time, {"units": "s"})}))
    v_th = np.array([row["v_th"] for row in per_cycle])
    v_hold = np.array([row["v_hold"] for row in per_cycle])
    selectivity = np.array([row["selectivity"] for row in per_cycle])
    summary = {
        "quick": quick, "cells": mesh.n_cells, "cycles": cycles, "switch_level": level,
        "physics": ["electrostatics", "vacancy", "thermal"], "deformed_electrode": "left out (no mechanics state)",
        "per_cycle": per_cycle,
        "v_th_mean_V": float(np.nanmean(v_th)) if np.isfinite(v_th).any() else float("nan"),
        "v_hold_mean_V": float(np.nanmean(v_hold)) if np.isfinite(v_hold).any() else float("nan"),
        "selectivity_mean": float(np.nanmean(selectivity)) if np.isfinite(selectivity).any() else float("nan"),
        "switching_cycles": int(np.sum(np.isfinite(v_th) & np.isfinite(v_hold))),
        "i_off_first_A": per_cycle[0]["i_off"],
        "g_pristine_S": g_pristine,
        "g_relax_start_S": float(conductance[0]),
        "g_relax_end_S": float(conductance[-1]),
        "relax_time_s": relax_time,
        "half_relaxation_time_s": half_relaxation_time(relax.time, conductance, g_pristine),
        "peak_vo_after_sweeps_m3": float(np.max(sweeps.state.fields["n_vo"])),
        "max_current_over_compliance_minus_1": float(np.max(np.abs(sweeps.current)) / si["sweep_compliance"] - 1.0),
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "volatile_switching", "summary": summary})
    return summary


def findings(s: dict) -> str:
    """The paper's Fig. 3h/3i statements next to this run's numbers (Markdown)."""
    lines = ["# Volatile threshold switching (paper Fig. 3h, 3i): what this run shows", "",
             "Physics: V_O + Joule heating + compliance; lithium left out; flat pristine electrode (deformed history left out).", ""]
    for row in s["per_cycle"]:
        lines.append(f"- cycle {row['cycle']}: V_th = {row['v_th']:.3g} V, V_hold = {row['v_hold']:.3g} V, "
                     f"I_on/I_off = {row['i_on']:.3g}/{row['i_off']:.3g} A = {row['selectivity']:.3g} at {row['read_voltage']:.3g} V")
    lines += ["",
              f"- cycles with both a threshold and a hold crossing: {s['switching_cycles']} of {s['cycles']}.",
              f"- selectivity (mean) {s['selectivity_mean']:.3g} vs the paper's ~10²; I_off {s['i_off_first_A']:.3g} A vs ~10⁻⁷ A.",
              f"- after the sweeps, at the read bias: G = {s['g_relax_start_S']:.3g} S at the start and {s['g_relax_end_S']:.3g} S "
              f"after {s['relax_time_s']:g} s; pristine G = {s['g_pristine_S']:.3g} S; half-relaxation time "
              f"{s['half_relaxation_time_s']:.3g} s (NaN: not within the hold).",
              "- The paper's volatile filament dissolves spontaneously (ms scale) back to the off state. Here G ends "
              f"{s['g_relax_end_S'] / s['g_pristine_S']:.3g} times the pristine G after {s['relax_time_s']:g} s: "
              + ("the device returns to its off state (dissolution reproduced)." if s["g_relax_end_S"] < 2.0 * s["g_pristine_S"] else
                 "the partial decay of G is the through-thickness redistribution of the V_O layer, not the dissolution of a "
                 "filament; the formed state stays conducting (volatility NOT reproduced; the threshold and hold voltages "
                 "above are those of an already conducting device, and the selectivity is far below the paper's ~10²)."),
              "- Under the flat electrode generation is laterally uniform, so the formed V_O are a disk-wide layer, not a filament. "
              "Without bias they can only redistribute through the thickness (blocking electrodes, and the O released by "
              "generation is not tracked, so nothing recombines with them): a laterally uniform V_O layer has no volume to "
              "dissolve into, so the formed state stays conducting. The volatile mode needs a thin filament (lateral "
              "dissolution) or V_O–O recombination; neither exists in this run."]
    return "\n".join(lines) + "\n"
