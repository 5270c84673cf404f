"""Retention of the formed V_O states at 300 K and elevated T (paper Fig. 3l).

Problem
-------
Three states of the flat device (no disorder), each made as in the other
switching studies (:mod:`femion.switching`, V_O + Joule heating + compliance,
lithium left out):

* **LRS** — the pristine device formed (set) with the large compliance
  (ramp 0 → ``forming_stop`` at ``forming_rate`` under ``large_compliance``,
  the non-volatile mode of the paper, Fig. 3j);
* **HRS** — the LRS after one reset sweep 0 → ``reset_voltage`` → 0 at
  ``reset_rate`` under the same compliance;
* **volatile** — the pristine device formed with the small compliance
  (the volatile mode, Fig. 3g).

Each is then left at 0 V and read at ``read_voltage`` for ``read_duration``
at log-spaced times from ``first_read`` to ``retention_time``
(``reads_per_decade``; between reads a 0 V rest of ``steps_per_rest``
implicit steps, so dt grows with t). G = I/V at the end of each read
(:class:`femion.Simulation` read steps). All states at 300 K; LRS and HRS
also at each of ``temperatures`` (the ambient of the device, T feeding every
Arrhenius rate of the V_O hopping).

Failure criterion (stated): a state fails at the first read
where G differs from its first read G_0 by ``failure_ratio`` either way
(|ln(G/G_0)| ≥ ln failure_ratio; time interpolated in log t between reads);
the memory window fails where G_LRS/G_HRS falls below ``failure_ratio``.
A state that never fails within ``retention_time`` has retention
> ``retention_time`` (censored, reported as such, never extrapolated).
Arrhenius extrapolation: ln t_fail = ln τ₀ + E/(k_B T) fitted (least squares)
to the elevated-T failure times, evaluated at 300 K (needs two finite
times). Since G changes only through V_O hopping, the fitted E is compared
with the films' V_O barriers (a consistency check of the extrapolation).

Paper (Fig. 3l): HRS and LRS with negligible degradation after 1e5 s.

Outputs: ``retention.nc`` (G per read for every state and T), ``lrs_forming.nc``,
``hrs_reset.nc``, ``volatile_forming.nc`` (the set/reset curves), ``summary.json``, ``findings.md`` and the run
provenance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from femion.config import load_study_config, override_device
from femion.constants import BOLTZMANN, EV
from femion.io import write_dataset, write_run_metadata
from femion.mesh import build_mesh
from femion.protocols import Protocol, Step, hold, voltage_sweep
from femion.simulation import SimulationSettings
from femion.switching import VacancySimulation, form, forming_voltage, run_vacancy, settings_for
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "large_compliance", "small_compliance", "forming_rate", "forming_stop", "quick_forming_stop_small",
    "reset_voltage", "reset_rate", "read_voltage", "read_duration", "first_read", "retention_time", "reads_per_decade",
    "quick_reads_per_decade", "steps_per_rest", "quick_steps_per_rest", "temperatures", "quick_temperatures",
    "failure_ratio", "mesh_refinement", "quick_mesh_refinement", "error_tolerance",
}
ROOM = 300.0
STATES = ("lrs", "hrs", "volatile")


def read_times(first: float, end: float, per_decade: int) -> np.ndarray:
    """Log-spaced read times [s] from ``first`` to ``end`` (both included), ``per_decade`` per decade.

    Raises
    ------
    ValueError
        ``first`` not in (0, end) or ``per_decade`` < 1.
    """
    if not (0.0 < first < end) or per_decade < 1:
        raise ValueError(f"need 0 < first_read < retention_time and reads_per_decade >= 1, got {first}, {end}, {per_decade}")
    count = max(int(math.ceil(per_decade * math.log10(end / first) - 1e-9)), 1)
    return first * (end / first) ** (np.arange(count + 1) / count)


def retention_protocol(times: np.ndarray, read_voltage: float, read_duration: float, steps: int) -> Protocol:
    """0 V rests and reads: the k-th read (``read_duration`` [s] at ``read_voltage`` [V]) ends at ``times[k]`` [s].

    Each rest is ``steps`` implicit time steps (max_step = rest/steps).

    Raises
    ------
    ValueError
        Reads that overlap (a gap between reads not longer than ``read_duration``) or steps < 1.
    """
    times = np.asarray(times, dtype=float)
    starts = np.concatenate([[0.0], times[:-1]])
    rests = times - read_duration - starts
    if steps < 1 or np.any(rests <= 0.0):
        raise ValueError(f"reads of {read_duration} s overlap for read times {times} (or steps_per_rest < 1)")
    parts = []
    for number, rest in enumerate(rests, start=1):
        parts.append(hold(0.0, float(rest), max_step=float(rest) / steps))
        parts.append(Protocol((Step.constant("voltage", read_voltage, read_duration, kind="read", label=f"retention read {number}",
                                             max_step=read_duration),)))
    return sum(parts, Protocol())


def failure_time(times: np.ndarray, conductance: np.ndarray, ratio: float) -> float:
    """First time [s] where |ln(G/G_0)| reaches ln ``ratio`` (G_0 = G at the first time), log-t interpolation; NaN if never.

    Raises
    ------
    ValueError
        Shapes differ, ratio <= 1, or non-positive G_0.
    """
    t, g = np.asarray(times, dtype=float), np.asarray(conductance, dtype=float)
    if t.shape != g.shape or t.ndim != 1 or not ratio > 1.0:
        raise ValueError("times and conductance must be 1-D of equal length, ratio > 1")
    if not g[0] > 0.0:
        raise ValueError(f"the first read must be a positive conductance, got {g[0]!r}")
    deviation = np.abs(np.log(np.maximum(g, 1e-300) / g[0]))
    limit = math.log(ratio)
    beyond = np.flatnonzero(deviation >= limit)
    if len(beyond) == 0:
        return float("nan")
    k = int(beyond[0])
    if k == 0:
        return float(t[0])
    fraction = (limit - deviation[k - 1]) / (deviation[k] - deviation[k - 1])
    return float(np.exp(np.log(t[k - 1]) + fraction * (np.log(t[k]) - np.log(t[k - 1]))))


def window_failure_time(times: np.ndarray, g_lrs: np.ndarray, g_hrs: np.ndarray, ratio: float) -> float:
    """First time [s] where G_LRS/G_HRS < ``ratio`` (the first read time if never open; NaN if it stays open)."""
    window = np.asarray(g_lrs, dtype=float) / np.asarray(g_hrs, dtype=float)
    closed = np.flatnonzero(window < ratio)
    return float(np.asarray(times)[closed[0]]) if len(closed) else float("nan")


def arrhenius_extrapolation(temperatures, times, target: float = ROOM) -> tuple[float, float]:
    """Fit ln t = ln τ₀ + E/(k_B T) to the finite times; return (E [eV], t(target) [s]); NaNs with < 2 finite times.

    Raises
    ------
    ValueError
        Shapes differ or a temperature is not positive.
    """
    temperature, t = np.asarray(temperatures, dtype=float), np.asarray(times, dtype=float)
    if temperature.shape != t.shape or np.any(temperature <= 0.0):
        raise ValueError("temperatures and times must have equal shapes, temperatures positive")
    ok = np.isfinite(t) & (t > 0.0)
    if np.count_nonzero(ok) < 2 or len(np.unique(temperature[ok])) < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(EV / (BOLTZMANN * temperature[ok]), np.log(t[ok]), 1)
    return float(slope), float(np.exp(intercept + slope * EV / (BOLTZMANN * target)))


def retain(device, mesh, settings: SimulationSettings, start, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """Run the rest/read protocol from ``start`` (time reset to 0); return read times [s] and G [S]."""
    state = start.copy()
    state.time = 0.0
    result = VacancySimulation(device, protocol, settings, mesh=mesh, start=state).run(None, progress=None)
    return np.asarray(result.reads.time.values, float), np.asarray(result.reads.G.values, float)


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Make the LRS, HRS and volatile states, follow their G at rest; write the outputs; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    si = {key: to_si(config[key], unit, name=key, origin=origin, positive=key not in ("reset_voltage", "read_voltage")) for key, unit in (
        ("large_compliance", "A"), ("small_compliance", "A"), ("forming_rate", "V/s"), ("reset_voltage", "V"), ("reset_rate", "V/s"),
        ("read_voltage", "V"), ("read_duration", "s"), ("first_read", "s"), ("retention_time", "s"))}
    if not si["first_read"] < si["retention_time"]:
        raise ValueError(f"{origin}: 'first_read' ({config['first_read']}) must be shorter than 'retention_time' ({config['retention_time']})")
    stop_large = to_si(config["forming_stop"], "V", name="forming_stop", origin=origin)
    stop_small = to_si(config["quick_forming_stop_small" if quick else "forming_stop"], "V", name="forming_stop", origin=origin)
    key = "quick_temperatures" if quick else "temperatures"
    temperatures = [to_si(value, "K", name=key, origin=origin, positive=True) for value in config[key]]
    ratio = to_si(config["failure_ratio"], "", name="failure_ratio", origin=origin)
    if not ratio > 1.0 or not temperatures or si["read_voltage"] == 0.0:
        raise ValueError(f"{origin}: need failure_ratio > 1, at least one temperature and a non-zero read_voltage")
    counts = {key: to_integer(config[key], name=key, origin=origin) for key in (
        ("quick_reads_per_decade", "quick_steps_per_rest") if quick else ("reads_per_decade", "steps_per_rest"))}
    reads_per_decade, steps_per_rest = counts.values()
    settings = settings_for(config, quick, origin)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    times = read_times(si["first_read"], si["retention_time"], reads_per_decade)
    protocol = retention_protocol(times, si["read_voltage"], si["read_duration"], steps_per_rest)
    mesh = build_mesh(device, settings=settings.mesh)
    lrs = form(device, mesh, settings, si["large_compliance"], si["forming_rate"], stop_large)
    reset = run_vacancy(device, voltage_sweep(0.0, [si["reset_voltage"], 0.0], si["reset_rate"], compliance=si["large_compliance"]),
                        settings, mesh, start=lrs.state)
    volatile = form(device, mesh, settings, si["small_compliance"], si["forming_rate"], stop_small)
    starts = {"lrs": lrs.state, "hrs": reset.state, "volatile": volatile.state}
    for name, curve in (("lrs_forming", lrs), ("hrs_reset", reset), ("volatile_forming", volatile)):
        write_dataset(outdir / f"{name}.nc", curve.dataset())
    rest_settings = SimulationSettings(mesh=settings.mesh, max_iterations=40, min_step_fraction=1e-9)
    pristine = run_vacancy(device, hold(si["read_voltage"], si["read_duration"]), rest_settings, mesh)
    g_pristine = float(pristine.current[-1] / si["read_voltage"])
    curves: dict[tuple[str, float], np.ndarray] = {}
    for name in STATES:
        _, curves[(name, ROOM)] = retain(device, mesh, rest_settings, starts[name], protocol)
    for temperature in temperatures:
        hot = override_device(device, {"device.temperature": f"{temperature!r} K"}, origin=origin)
        for name in ("lrs", "hrs"):
            _, curves[(name, temperature)] = retain(hot, mesh, rest_settings, starts[name], protocol)
    data = xr.Dataset({f"G_{name}_{temperature:g}K": ("time", g, {"units": "S", "temperature_K": temperature})
                       for (name, temperature), g in curves.items()}, coords={"time": ("time", times, {"units": "s"})})
    write_dataset(outdir / "retention.nc", data)
    failures = {f"{name}_{temperature:g}K": failure_time(times, g, ratio) for (name, temperature), g in curves.items()}
    arrhenius = {}
    for name in ("lrs", "hrs"):
        energy, extrapolated = arrhenius_extrapolation(temperatures, [failures[f"{name}_{t:g}K"] for t in temperatures])
        arrhenius[name] = {"activation_energy_eV": energy, "retention_300K_extrapolated_s": extrapolated}
    g_lrs, g_hrs = curves[("lrs", ROOM)], curves[("hrs", ROOM)]
    barriers = volatile.simulation.vacancy.properties
    summary = {
        "quick": quick, "cells": mesh.n_cells, "physics": ["electrostatics", "vacancy", "thermal"],
        "read_voltage_V": si["read_voltage"], "read_times_s": times.tolist(), "temperatures_K": [ROOM, *temperatures],
        "failure_ratio": ratio, "forming_stop_large_V": stop_large, "forming_stop_small_V": stop_small,
        "g_pristine_S": g_pristine,
        **{f"g_first_{name}_S": float(curves[(name, ROOM)][0]) for name in STATES},
        **{f"g_end_{name}_S": float(curves[(name, ROOM)][-1]) for name in STATES},
        "window_first": float(g_lrs[0] / g_hrs[0]), "window_end": float(g_lrs[-1] / g_hrs[-1]),
        "window_failure_300K_s": window_failure_time(times, g_lrs, g_hrs, ratio),
        "failure_time_s": failures,
        **{f"failure_{key}_s": value for key, value in failures.items()},
        "arrhenius": arrhenius,
        "retention_lrs_300K_extrapolated_s": arrhenius["lrs"]["retention_300K_extrapolated_s"],
        "lrs_arrhenius_energy_eV": arrhenius["lrs"]["activation_energy_eV"],
        "retention_hrs_300K_extrapolated_s": arrhenius["hrs"]["retention_300K_extrapolated_s"],
        "vo_dilute_barrier_range_eV": [float(np.min(barriers.dilute_barrier)), float(np.max(barriers.dilute_barrier))],
        "vo_bound_barrier_range_eV": [float(np.min(barriers.bound_barrier)), float(np.max(barriers.bound_barrier))],
        "forming_voltage_large_V": forming_voltage(lrs.source, lrs.current, si["large_compliance"]),
        "forming_voltage_small_V": forming_voltage(volatile.source, volatile.current, si["small_compliance"]),
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "retention", "summary": summary})
    return summary


def _time(value: float, end: float) -> str:
    return f"> {end:.3g} s (no failure)" if not np.isfinite(value) else f"{value:.3g} s"


def findings(s: dict) -> str:
    """The retention figures next to the paper's Fig. 3l (Markdown)."""
    end = s["read_times_s"][-1]
    lines = ["# Retention (paper Fig. 3l): what this run shows", "",
             f"Physics: V_O + Joule heating, lithium left out; flat device. Reads at {s['read_voltage_V']:g} V from "
             f"{s['read_times_s'][0]:g} s to {end:g} s after the set/reset, 0 V between reads. Failure: G changes by "
             f"{s['failure_ratio']:g}× from its first read, or G_LRS/G_HRS < {s['failure_ratio']:g}.", "",
             "| state | G first read (S) | G at end (S) | failure at 300 K |", "|---|---|---|---|"]
    for name in STATES:
        lines.append(f"| {name} | {s[f'g_first_{name}_S']:.3g} | {s[f'g_end_{name}_S']:.3g} | "
                     f"{_time(s['failure_time_s'][f'{name}_300K'], end)} |")
    lines += ["", f"- pristine device at the read bias: G = {s['g_pristine_S']:.3g} S.",
              f"- memory window G_LRS/G_HRS: {s['window_first']:.3g} at the first read, {s['window_end']:.3g} at the end; "
              + ("the window is never open (below the failure ratio from the first read): the reset does not make an HRS"
                 if np.isfinite(s["window_failure_300K_s"]) and s["window_failure_300K_s"] <= s["read_times_s"][0] else
                 f"window failure {_time(s['window_failure_300K_s'], end)}")
              + ("; the reverse sweep made the device MORE conductive than the formed state (the 'HRS' conducts better), "
                 "and both relax to the same G: there is no second stable state." if s["window_first"] < 1.0 else "."),
              "- direction of the change at 300 K, G_end/G_first: "
              + ", ".join(f"{name} {s[f'g_end_{name}_S'] / s[f'g_first_{name}_S']:.3g}" for name in STATES)
              + " (> 1: the state becomes more conductive at rest — the V_O piled up by the forming field spread through "
                "the thickness, which lowers the series resistance of a laterally uniform layer)."]
    for name in ("lrs", "hrs"):
        hot = ", ".join(f"{t:g} K: {_time(s['failure_time_s'][f'{name}_{t:g}K'], end)}" for t in s["temperatures_K"][1:])
        a = s["arrhenius"][name]
        lines.append(f"- {name.upper()} at elevated T — {hot}; Arrhenius fit E = {a['activation_energy_eV']:.3g} eV, "
                     f"extrapolated retention at 300 K = {a['retention_300K_extrapolated_s']:.3g} s"
                     + (" (NaN: fewer than two failures at elevated T, nothing to extrapolate)." if not np.isfinite(a["retention_300K_extrapolated_s"]) else
                        f" (film V_O barriers: dilute {s['vo_dilute_barrier_range_eV'][0]:.3g}–{s['vo_dilute_barrier_range_eV'][1]:.3g} eV, "
                        f"bound {s['vo_bound_barrier_range_eV'][0]:.3g}–{s['vo_bound_barrier_range_eV'][1]:.3g} eV)."))
    g_vol, g_p = s["g_end_volatile_S"], s["g_pristine_S"]
    lines += [
        f"- Paper: HRS and LRS with negligible degradation after 1e5 s. femion: LRS {_time(s['failure_time_s']['lrs_300K'], end)}, "
        f"HRS {_time(s['failure_time_s']['hrs_300K'], end)} at 300 K by the G criterion"
        + ("; but with no memory window the retained 'HRS' is not a distinct state, so the paper's non-volatile retention "
           "is NOT reproduced as a two-state memory." if s["window_first"] < s["failure_ratio"] else "."),
        f"- Volatile state: G ends {g_vol / g_p:.3g}× the pristine G after {end:g} s "
        + ("(it returns to the off state: volatile)." if g_vol < 2.0 * g_p else
           "(it stays conducting: the volatility of the paper's small-I_cc filament is NOT reproduced, as in "
           "studies/volatile_switching — a disk-wide V_O layer has no volume to dissolve into)."),
    ]
    return "\n".join(lines) + "\n"
