"""Consecutive negative then positive DC sweeps of the analog memristor mode (paper Fig. 3a and Fig. S1b).

Problem
-------
The pristine device is swept 0 → −V → 0 several times, then 0 → +V → 0 as
many times, at 1 V/s (paper Fig. 3a: "consecutive negative and positive DC
voltage sweeps", the conductance rising with the negative and falling with the
positive sweeps), for V = 5 V (assumed vertex; the text does not state it) and
V = 0.5 V (paper Fig. S1b: analog switching persists down to ±0.5 V). The
physics is the coupled electric potential + Li electrochemistry of
:class:`femion.Simulation` (quasi-neutral LiPON, Butler–Volmer and double
layers at the host/LiPON interfaces, neutral Li diffusion and polaron
conductivity in the hosts). The current includes the double-layer charging
current, as a measured DC sweep does.

Each sweep is run in ramps of at most ``segment_voltage``, each its own
:class:`Simulation` started from the previous final state, so the Li field at
the end of the negative and of the positive sweeps is kept for the maps, and
the I–V up to a failure of the solver is kept too (the failure is recorded in
the summary and ``findings.md``, with the Li map at that point).

Per sweep the study reports the current at the vertex I(±V) [A] and the chord
conductance I(±V)/(±V) [S], and the enclosed loop area ∮ I dV [W] (the
hysteresis). "Conductance rises over the negative sweeps" means |I(−V)|
increases from sweep to sweep; "falls over the positive sweeps" means I(+V)
decreases; both are computed and stated, not assumed.

Outputs: per amplitude ``iv_<V>V.nc`` (``voltage`` [V], ``current`` [A],
``sweep`` index, ``polarity``, per time step), ``li_maps_<V>V.npz`` and
``li_after_{negative,positive}_<V>V.vtu`` (Li on the film cells at the
sweep ends), ``summary.json``, ``findings.md`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config, require_layers
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.protocols import voltage_sweep
from femion.simulation import Simulation, SimulationError, SimulationSettings
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"segment_voltage", "sweep_rate", "amplitudes", "quick_amplitudes", "sweeps_per_polarity", "quick_sweeps_per_polarity"}


def loop_area(voltage: np.ndarray, current: np.ndarray) -> float:
    """Signed area ∮ I dV [W] of one closed sweep (trapezoidal), shape (n,) each."""
    v, i = np.asarray(voltage, float), np.asarray(current, float)
    return float(np.sum(0.5 * (i[1:] + i[:-1]) * np.diff(v)))


def vertex_current(voltage: np.ndarray, current: np.ndarray, vertex: float) -> float:
    """Current [A] at the time step whose voltage is the vertex ``vertex`` [V] (the sweep lands on it)."""
    index = int(np.argmin(np.abs(np.asarray(voltage) - vertex)))
    return float(np.asarray(current)[index])


def sweep_pieces(start: float, end: float, segment: float) -> list[tuple[float, float]]:
    """Split the ramp ``start`` → ``end`` [V] into consecutive pieces of at most ``segment`` [V]."""
    count = max(1, int(np.ceil(abs(end - start) / segment - 1e-9)))
    knots = np.linspace(start, end, count + 1)
    return list(zip(knots[:-1], knots[1:]))


def sweep_amplitude(device, magnitude: float, rate: float, sweeps: int, settings: SimulationSettings, mesh,
                    segment: float) -> dict:
    """Run ``sweeps`` negative then ``sweeps`` positive sweeps of ``magnitude`` [V] at ``rate`` [V/s] from the pristine state.

    Every sweep is run in ramps of at most ``segment`` [V], each a :class:`Simulation` started from the
    previous final state, so that the I–V up to a failure is kept.
    """
    state, rows, maps, per_sweep, failure = None, [], {}, [], None
    index, polarity = 0, -1
    try:
        for polarity in (-1, 1):
            for _ in range(sweeps):
                index += 1
                vertex, parts = polarity * magnitude, []
                for low, high in sweep_pieces(0.0, vertex, segment) + sweep_pieces(vertex, 0.0, segment):
                    simulation = Simulation(device, voltage_sweep(float(low), [float(high)], rate), settings, mesh=mesh, start=state)
                    result = simulation.run(None, progress=None)
                    curves = result.curves
                    t, v, i = curves.time.values, curves.voltage.values, curves.current.values
                    first = 0 if not rows else 1  # the first row repeats the previous piece's last
                    rows.append((t[first:], v[first:], i[first:], np.full(len(t) - first, index), np.full(len(t) - first, polarity)))
                    parts.append((v[first:], i[first:]))
                    state = result.state
                v = np.concatenate([part[0] for part in parts])
                i = np.concatenate([part[1] for part in parts])
                current = vertex_current(v, i, vertex)
                per_sweep.append({
                    "sweep": index, "polarity": polarity, "vertex_current_A": current,
                    "vertex_chord_conductance_S": current / vertex, "loop_area_W": loop_area(v, i),
                })
                maps["negative" if polarity < 0 else "positive"] = state.fields["c_li"].copy()
    except (SimulationError, ValueError) as error:
        # ValueError: the Li model rejects a state (e.g. host occupancy outside (0, 1)) after an accepted step
        reached = rows[-1][1][-1] if rows else 0.0
        failure = f"±{magnitude:g} V, sweep {index} ({'negative' if polarity < 0 else 'positive'}), last V reached {reached:.3g} V: {error}"
        print(f"  FAILED: {failure}")
        if state is not None:
            maps[f"failure_{'negative' if polarity < 0 else 'positive'}"] = state.fields["c_li"].copy()
    return {"rows": rows, "maps": maps, "per_sweep": per_sweep, "failure": failure}


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the sweeps of every amplitude, write I–V loops and Li maps; return the summary."""
    import xarray as xr

    from femion.mesh import build_mesh

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    rate = to_si(config["sweep_rate"], "V/s", name="sweep_rate", origin=origin, positive=True)
    key = "quick_amplitudes" if quick else "amplitudes"
    amplitudes = [abs(to_si(value, "V", name=key, origin=origin)) for value in config[key]]
    if not all(amplitudes):
        raise ValueError(f"{origin}: {key!r}: a sweep amplitude must not be 0 V, got {config[key]!r}")
    key = "quick_sweeps_per_polarity" if quick else "sweeps_per_polarity"
    sweeps = to_integer(config[key], name=key, origin=origin)
    segment = to_si(config["segment_voltage"], "V", name="segment_voltage", origin=origin, positive=True)
    if sweeps < 1 or not amplitudes:
        raise ValueError(f"{origin}: need at least one amplitude and one sweep per polarity")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    # a sweep whose dt collapses (a host interface cell running out of Li) stops with a SimulationError after dt < 1e-3 of the sweep instead of creeping on
    settings = SimulationSettings(min_step_fraction=1e-3)
    mesh = build_mesh(device, settings=settings.mesh)
    films = mesh.submesh(tuple(layer.name for layer in device.films))
    summary: dict = {"quick": quick, "sweep_rate_V_per_s": rate, "sweeps_per_polarity": sweeps, "cells": mesh.n_cells,
                     "failure": None}
    for magnitude in amplitudes:
        tag = f"{magnitude:g}V"
        out = sweep_amplitude(device, magnitude, rate, sweeps, settings, mesh, segment)
        if out["rows"]:
            t, v, i, s, p = (np.concatenate(part) for part in zip(*out["rows"]))
            data = xr.Dataset(
                {"voltage": ("time", v, {"units": "V"}), "current": ("time", i, {"units": "A"}),
                 "sweep": ("time", s, {"units": "1"}), "polarity": ("time", p, {"units": "1"})},
                coords={"time": ("time", t, {"units": "s"})},
            )
            write_dataset(outdir / f"iv_{tag}.nc", data)
        for name, values in out["maps"].items():
            write_fields(outdir / f"li_after_{name}_{tag}.vtu", films, {"c_li [mol/m^3]": values[films.parent_cells]})
        if out["maps"]:
            np.savez_compressed(outdir / f"li_maps_{tag}.npz", nodes=films.nodes, cells=films.cells,
                                **{f"c_li_after_{k}": v[films.parent_cells] for k, v in out["maps"].items()})
        negative = [row["vertex_current_A"] for row in out["per_sweep"] if row["polarity"] < 0]
        positive = [row["vertex_current_A"] for row in out["per_sweep"] if row["polarity"] > 0]
        summary[f"completed_{tag}"] = len(out["per_sweep"]) == 2 * sweeps
        summary[f"last_voltage_{tag}_V"] = float(out["rows"][-1][1][-1]) if out["rows"] else 0.0
        summary["failure"] = summary["failure"] or out["failure"]  # the first amplitude that failed
        summary[tag] = {
            "failure": out["failure"],
            "per_sweep": out["per_sweep"],
            "negative_sweeps_conductance_rises": bool(len(negative) > 1 and np.all(np.diff(np.abs(negative)) > 0)),
            "positive_sweeps_conductance_falls": bool(len(positive) > 1 and np.all(np.diff(positive) < 0)),
        }
        for row in out["per_sweep"]:
            side = "neg" if row["polarity"] < 0 else "pos"
            summary.setdefault(f"vertex_current_first_{side}_{tag}_A", row["vertex_current_A"])
            summary.setdefault(f"loop_area_first_{side}_{tag}_W", row["loop_area_W"])
        print(f"  ±{magnitude:g} V: vertex currents " + ", ".join(f"{row['vertex_current_A']:.3g}" for row in out["per_sweep"]) + " A")
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary, amplitudes))
    write_run_metadata(outdir, device, {"study": "analog_iv", "summary": summary})
    return summary


def findings(summary: dict, amplitudes: list[float]) -> str:
    """The paper's Fig. 3a / S1b statements next to this run's numbers, as Markdown."""
    lines = ["# Analog DC sweeps (paper Fig. 3a, S1b): what this run shows", ""]
    for magnitude in amplitudes:
        entry = summary[f"{magnitude:g}V"]
        sweeps = ", ".join(f"#{row['sweep']} ({'−' if row['polarity'] < 0 else '+'}): I(vertex) = {row['vertex_current_A']:.3g} A, "
                           f"∮IdV = {row['loop_area_W']:.3g} W" for row in entry["per_sweep"])
        lines.append(f"- ±{magnitude:g} V at {summary['sweep_rate_V_per_s']:g} V/s: {sweeps or 'no sweep completed'}.")
        if summary["sweeps_per_polarity"] > 1:
            lines.append(f"  - conductance rises over consecutive negative sweeps (paper): "
                         f"{'reproduced' if entry['negative_sweeps_conductance_rises'] else 'NOT reproduced'}; "
                         f"falls over positive sweeps: {'reproduced' if entry['positive_sweeps_conductance_falls'] else 'NOT reproduced'}.")
        else:
            lines.append("  - one sweep per polarity (quick mode): the sweep-to-sweep trend is not tested.")
        if entry["failure"]:
            lines.append(f"  - the simulation stopped early: {entry['failure']}")
    return "\n".join(lines) + "\n"
