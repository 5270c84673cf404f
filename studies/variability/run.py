"""Seeded Monte Carlo of cycle-to-cycle variability (paper Figs. S4, S6, S14, S15; MODEL.md §3.5, §5).

Problem
-------
A device with seeded disorder (Gaussian per-cell barrier offsets of std
``barrier_disorder`` and log-normal initial V_O density of std
``density_fluctuation``, :class:`femion.physics.vacancy.VacancyModule`) is
formed with the small I_cc and then cycled ``cycles`` times through a
bipolar sweep 0 → +V → 0 → −V → 0 under the compliance. Per cycle:
V_th, V_hold (positive half, :func:`femion.switching.switching_sweep`),
LRS = V_read/|I| on the backward leg of the positive half (after set) and
HRS = V_read/|I| on the backward leg of the negative half (after reset),
both at |V| = ``read_voltage``. Variation = std/mean over the cycles
(:func:`femion.observables.cycle_to_cycle_variation`). The same seed gives a
bit-identical run (tested).

Device histories: the paper compares a device formed after power-mode
programming (deformed Pt, field enhancement at the centre) with one formed
from the pristine flat device. **The deformed history is left out**: no
mechanics state of a programmed device exists (it needs the Li + mechanics
programming sweep, which does not converge with V_O and is not stored), so
its row of the table is NaN. Physics as ``studies/forming`` (lithium left
out). Monte Carlo here is over cycles of one seeded device: the disorder is
frozen; cycle-to-cycle differences come from the evolving V_O field.

Paper (deformed vs flat): V_th 4 % vs 6 %, V_hold 2 % vs 5 %, LRS 3 % vs
30 %, HRS 7 % vs 77 %.

Outputs: ``cycles.nc`` (per cycle V_th, V_hold, HRS, LRS), ``sweeps.nc``,
``variation.json`` (the table), ``summary.json``, ``findings.md``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.cli import load_study
from femion.config import load_study_config
from femion.io import write_dataset, write_run_metadata
from femion.mesh import build_mesh
from femion.observables import cycle_to_cycle_variation
from femion.protocols import voltage_sweep
from femion.switching import run_vacancy, switching_sweep
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "seed", "barrier_disorder", "density_fluctuation", "forming_compliance", "forming_rate", "forming_stop", "sweep_max",
    "sweep_rate", "quick_sweep_rate", "sweep_compliance", "read_voltage", "cycles", "quick_cycles", "switch_level",
    "mesh_refinement", "quick_mesh_refinement",
}
PAPER = {"deformed": {"v_th": 0.04, "v_hold": 0.02, "lrs": 0.03, "hrs": 0.07},
         "flat": {"v_th": 0.06, "v_hold": 0.05, "lrs": 0.30, "hrs": 0.77}}


def backward_resistance(source: np.ndarray, current: np.ndarray, read: float) -> float:
    """V_read/|I| [Ohm] on the leg after the extreme of ``source`` (the backward leg), at source = ``read`` (signed)."""
    v, i = np.asarray(source, float), np.asarray(current, float)
    top = int(np.argmax(np.abs(v)))
    back_v, back_i = v[top:], np.abs(i[top:])
    order = np.argsort(back_v)
    value = float(np.interp(read, back_v[order], back_i[order]))
    return abs(read) / value if value > 0 else float("inf")


def analyse_cycle(source: np.ndarray, current: np.ndarray, compliance: float, level: float, read: float) -> dict:
    """V_th, V_hold (positive half), LRS and HRS of one bipolar cycle (module docstring)."""
    v = np.asarray(source, float)
    positive = v >= 0.0
    split = int(np.flatnonzero(np.diff(positive.astype(int)) < 0)[0]) + 1 if np.any(~positive) else len(v)
    pos_v, pos_i = v[:split], np.asarray(current)[:split]
    neg_v, neg_i = v[split - 1:], np.asarray(current)[split - 1:]
    figures = switching_sweep(pos_v, pos_i, compliance, level)
    return {"v_th": figures.v_th, "v_hold": figures.v_hold,
            "lrs": backward_resistance(pos_v, pos_i, read), "hrs": backward_resistance(neg_v, neg_i, -read)}


def variation(values) -> float:
    """std/mean of the finite values (NaN if fewer than two)."""
    finite = np.asarray(values, float)
    finite = finite[np.isfinite(finite)]
    return float(cycle_to_cycle_variation(finite)) if len(finite) >= 2 else float("nan")


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Form the seeded device, cycle it, tabulate the variation; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    _, forming = load_study(HERE.parent / "forming")
    si = {key: to_si(config[key], unit, name=key, origin=origin) for key, unit in (
        ("barrier_disorder", "eV"), ("forming_compliance", "A"), ("forming_rate", "V/s"), ("forming_stop", "V"),
        ("sweep_max", "V"), ("sweep_compliance", "A"), ("read_voltage", "V"))}
    rate = to_si(config["quick_sweep_rate" if quick else "sweep_rate"], "V/s", name="sweep_rate", origin=origin)
    cycles = int(config["quick_cycles" if quick else "cycles"])
    level = float(config["switch_level"])
    if cycles < 2:
        raise ValueError(f"{origin}: variation needs at least 2 cycles, got {cycles}")
    disorder = {"seed": int(config["seed"]), "barrier_disorder": si["barrier_disorder"],
                "density_fluctuation": float(config["density_fluctuation"])}
    settings = forming.settings_for(config, quick)
    mesh = build_mesh(device, settings=settings.mesh)
    formed = forming.form(device, mesh, settings, si["forming_compliance"], si["forming_rate"], si["forming_stop"], **disorder)
    vmax = si["sweep_max"]
    protocol = voltage_sweep(0.0, [vmax, 0.0, -vmax, 0.0], rate, cycles, compliance=si["sweep_compliance"])
    sweeps = run_vacancy(device, protocol, settings, mesh, start=formed.state, **disorder)
    duration = 4.0 * vmax / rate
    rows = []
    for source, current in sweeps.cycles(duration, cycles):
        rows.append(analyse_cycle(source, current, si["sweep_compliance"], level, si["read_voltage"]))
    table = {"flat": {key: variation([row[key] for row in rows]) for key in ("v_th", "v_hold", "lrs", "hrs")},
             "deformed": {key: float("nan") for key in ("v_th", "v_hold", "lrs", "hrs")}}
    data = xr.Dataset({key: ("cycle", np.array([row[key] for row in rows]), {"units": "Ohm" if key in ("lrs", "hrs") else "V"})
                       for key in ("v_th", "v_hold", "lrs", "hrs")}, coords={"cycle": np.arange(1, cycles + 1)})
    write_dataset(outdir / "cycles.nc", data)
    write_dataset(outdir / "sweeps.nc", sweeps.dataset())
    (outdir / "variation.json").write_text(json.dumps({"femion": table, "paper": PAPER}, indent=2, default=float))
    means = {f"{key}_mean": float(np.nanmean(data[key].values)) if np.isfinite(data[key].values).any() else float("nan")
             for key in ("v_th", "v_hold", "lrs", "hrs")}
    summary = {
        "quick": quick, "cells": mesh.n_cells, "cycles": cycles, "sweep_rate_V_per_s": rate, **disorder,
        "physics": ["electrostatics", "vacancy", "thermal"],
        "deformed_history": "left out (no mechanics state of a programmed device): NaN row",
        "variation": table, "paper": PAPER, **means,
        "variation_flat_v_th": table["flat"]["v_th"], "variation_flat_v_hold": table["flat"]["v_hold"],
        "variation_flat_lrs": table["flat"]["lrs"], "variation_flat_hrs": table["flat"]["hrs"],
        "forming_voltage_V": forming.forming_voltage(formed.source, formed.current, si["forming_compliance"]),
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "variability", "summary": summary})
    return summary


def findings(s: dict) -> str:
    """The variation table next to the paper's (Markdown)."""
    lines = ["# Cycle-to-cycle variability (paper Figs. S4, S6, S14, S15): what this run shows", "",
             f"Seed {s['seed']}, barrier disorder {s['barrier_disorder']:.3g} eV, density fluctuation {s['density_fluctuation']:g}, "
             f"{s['cycles']} bipolar cycles at {s['sweep_rate_V_per_s']:g} V/s. Physics: V_O + Joule + compliance, lithium left out.", "",
             "| history | V_th | V_hold | LRS | HRS |", "|---|---|---|---|---|"]
    for history in ("deformed", "flat"):
        f, p = s["variation"][history], s["paper"][history]
        cells = " | ".join(f"{f[k] * 100:.3g} % (paper {p[k] * 100:g} %)" for k in ("v_th", "v_hold", "lrs", "hrs"))
        lines.append(f"| {history} | {cells} |")
    lines += ["",
              f"- means: V_th {s['v_th_mean']:.3g} V, V_hold {s['v_hold_mean']:.3g} V, LRS {s['lrs_mean']:.3g} Ω, HRS {s['hrs_mean']:.3g} Ω.",
              "- The deformed-electrode row is NaN: that history is left out (no mechanics state), so the paper's ordering "
              "(deformed more uniform than flat) is NOT tested.",
              "- The formed V_O layer is laterally uniform (see studies/forming): no filament forms and ruptures, so the "
              "cycle-to-cycle variation measured here is that of a disk-wide conductor, not of a stochastic filament."]
    return "\n".join(lines) + "\n"
