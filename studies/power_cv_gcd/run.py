"""Power-mode characterisation on the programmed state (paper Fig. 3e, 3f, S3).

Problem
-------
Program the pristine device (slow sweep in air, as ``program_power``), then on
the carried-over state, one history: CV at several sweep rates, two cycles
each, the second analysed (capacitance, redox peak currents and potentials, the
rate exponent b of the peak current);
GCD at several current densities → areal capacitance C = IΔt/(ΔV A) of a
discharge vs current density (Fig. S3b) and the Ragone curve, energy
E = ∫|I|V dt/A and power P = E/Δt per density (Fig. S3c); self-discharge, the
open-circuit voltage decay after a charge (Fig. S3d); capacity over
``gcd_cycles`` GCD cycles and its retention C(last)/C(first) (Fig. S3e).
Two device instances in the programmed state, each with its own Device and
mesh, are solved in one circuit (:mod:`femion.circuit`), in series and in
parallel, and GCD-cycled as one device alone is (Fig. 3f): in series at the
single device's current I, in parallel at 2I (I per member) and at I. The
series voltage at equal charge and the parallel capacitance, each divided by
the single device's, come out of the circuit solve.

Physics: the programming runs lithium, mechanics and air; the stages after it
run ``power_physics`` (lithium and air). Leaving mechanics out there is a
measured choice: the reference GCD cycle of the circuit comparison is also run
with mechanics, and the relative change of its capacitance is reported.

The paper's targets: 4.1 mF/cm², 7.0 µWh/cm² at 27.9 µW/cm², negligible loss
over 3500 cycles, voltage (series) and capacitance (parallel) doubled. The
study reports femion's numbers next to them (no value is invented for them).

Outputs: ``curves.nc`` (the single device's whole history), ``cv.nc`` (per
rate), ``gcd.nc`` (per current density, sorted), ``cycling.nc`` (per cycle),
``series.nc``, ``parallel.nc`` and ``parallel_same_terminal_current.nc`` (the circuits' records), ``reference.nc``
(the single device's reference cycle), ``summary.json``, ``findings.md`` and
the provenance.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import xarray as xr

import femion
from femion.circuit import Circuit, parallel_current_tolerance
from femion.config import StudyConfigError, load_study_config, require_layers
from femion.io import write_dataset, write_run_metadata
from femion.observables import areal_capacitance_cv, discharge_metrics
from femion.protocols import cyclic_voltammetry, galvanostatic_cycles, rest, voltage_sweep
from femion.simulation import PHYSICS, Simulation, SimulationSettings, available_physics
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
VARIANT_KEYS = ("program_vertices", "cv_window", "cv_rates", "gcd_window", "gcd_current_densities", "gcd_cycles",
                "self_discharge_time")
CONFIG_KEYS = {*VARIANT_KEYS, *(f"quick_{key}" for key in VARIANT_KEYS), "program_rate", "power_physics", "voltage_step",
               "voltage_limit_tolerance"}
PAPER = {"areal_capacitance_mF_cm2": 4.1, "energy_uWh_cm2": 7.0, "power_uW_cm2": 27.9}
WH = 3600.0  # J per Wh
PROGRAM_PHYSICS = ("lithium", "mechanics", "air")
CV_CYCLES = 2  # per rate: the first brings the state from the previous stage onto the cycle; the second is analysed
GCD_CYCLES_PER_DENSITY = 2  # the first cycle brings the state from the previous stage into the window; the second is analysed


def discharges(curves: xr.Dataset, area: float) -> list[dict[str, float]]:
    """:func:`discharge_metrics` of every discharge in ``curves`` (runs of negative current after the start row) [SI, per ``area``].

    Raises
    ------
    ValueError
        From :func:`discharge_metrics` (a segment that is not a clean discharge).
    """
    t, v, i = (values[1:] for values in (curves.time.values, curves.voltage.values, curves.current.values))  # row 0: the start
    negative = i < -1e-6 * np.max(np.abs(i), initial=0.0)
    edges = np.flatnonzero(np.diff(np.r_[0, negative.astype(int), 0]))
    return [discharge_metrics(t[a:b], v[a:b], i[a:b], area) for a, b in zip(edges[::2], edges[1::2]) if b - a >= 2]


def cv_peaks(voltage: np.ndarray, current: np.ndarray, window: tuple[float, float]) -> dict[str, float]:
    """Anodic and cathodic peak of one CV cycle: the extreme current of each sweep direction and its potential.

    The anodic peak is the largest current on the positive-going samples
    (dV/dt > 0), the cathodic the most negative on the negative-going ones. A
    peak is a redox peak (``*_interior`` = 1) when it lies more than 5 % of the
    window inside both vertices: at a vertex the extreme is the sweep reversal,
    not a maximum of I(V) (Bard & Faulkner, *Electrochemical Methods*, 2nd ed.,
    §6.2: the peak of a diffusion-limited sweep).

    Parameters
    ----------
    voltage, current
        The cycle, shape (n,), [V], [A].
    window
        (lower, upper) vertices [V].

    Returns
    -------
    dict
        ``anodic_current_A``, ``anodic_potential_V``, ``anodic_interior``, and the same for ``cathodic``.
    """
    v, i = np.asarray(voltage, dtype=float), np.asarray(current, dtype=float)
    rising = np.r_[False, np.diff(v) > 0]
    low, high = window
    margin = 0.05 * (high - low)
    out = {}
    for name, mask, pick in (("anodic", rising, np.argmax), ("cathodic", ~rising & np.r_[False, np.diff(v) < 0], np.argmin)):
        index = np.flatnonzero(mask)
        k = index[pick(i[index])]
        out[f"{name}_current_A"], out[f"{name}_potential_V"] = float(i[k]), float(v[k])
        out[f"{name}_interior"] = int(low + margin < v[k] < high - margin)
    return out


def rate_exponent(rates: list[float], peaks: list[float]) -> float:
    """Exponent b of |I_p| = a ν^b, least squares in log–log.

    b = 1/2 for semi-infinite diffusion (Randles–Ševčík), 1 for a capacitive or
    surface-confined process (Bard & Faulkner, *Electrochemical Methods*, 2nd
    ed., §6.2.1 and §14.3.1).

    Parameters
    ----------
    rates
        Sweep rates ν [V/s], positive, length n.
    peaks
        Peak currents [A] (sign ignored), length n.

    Returns
    -------
    float
        b [1]; NaN for n < 2.
    """
    if len(rates) < 2:
        return float("nan")
    return float(np.polyfit(np.log(rates), np.log(np.abs(peaks)), 1)[0])


def _open_circuit_drop(voltage: np.ndarray, current: np.ndarray) -> float:
    """Self-discharge [V]: the last voltage minus the first one at open circuit (after the last current-carrying sample).

    The rest starts where the charge current is switched off; its first sample
    is already past the ohmic step, so the drop is the open-circuit decay
    alone. (Locating the start by time, t_end − hold, fell on either side of
    that step by round-off of the limit-ended charge's end time.)
    """
    carrying = np.flatnonzero(np.abs(current) > 1e-6 * np.max(np.abs(current), initial=0.0))
    if not len(carrying) or carrying[-1] + 1 >= len(voltage):
        return float("nan")
    return float(voltage[-1] - voltage[carrying[-1] + 1])


def charge_branch(curves: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Passed charge Q [C] and terminal voltage V [V] over the first charge branch of ``curves``, each shape (n,).

    The first row is the start state (Q = 0); the branch runs to the sample
    before the first negative current. A recorded current is the current of the
    implicit-Euler step ending at its time, so Q_k = Σ_{j ≤ k} I_j (t_j − t_{j−1})
    is the charge the step passed exactly.
    """
    t, v, i = curves.time.values, curves.voltage.values, curves.current.values
    negative = np.flatnonzero(i[1:] < 0)
    end = negative[0] + 1 if len(negative) else len(t)
    return np.r_[0.0, np.cumsum(i[1:end] * np.diff(t[:end]))], v[:end]


def _chain(parts: list[tuple[str, xr.Dataset]]) -> xr.Dataset:
    """Concatenate the records of consecutive stages (each stage's first row repeats the previous stage's last).

    The variable ``stage`` numbers the stage of each row (from 0); its attribute
    ``stages`` lists their labels in that order, separated by "; ".
    """
    pieces = [curves if k == 0 else curves.isel(time=slice(1, None)) for k, (_, curves) in enumerate(parts)]
    pieces = [piece.assign(stage=("time", np.full(piece.sizes["time"], k))) for k, piece in enumerate(pieces)]
    chained = xr.concat(pieces, dim="time", data_vars="all")
    chained["stage"].attrs.update(units="1", stages="; ".join(label for label, _ in parts))
    return chained


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    wall_start = time.perf_counter()
    origin = str(HERE / "config.toml")
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    pick = lambda key: config[f"quick_{key}" if quick else key]  # noqa: E731
    key_of = lambda key: f"quick_{key}" if quick else key  # noqa: E731
    si = lambda value, unit, key, **sign: to_si(value, unit, name=key_of(key), origin=origin, **sign)  # noqa: E731
    vertices = [si(v, "V", "program_vertices") for v in pick("program_vertices")]
    program_rate = to_si(config["program_rate"], "V/s", name="program_rate", origin=origin, positive=True)
    cv_low, cv_high = (si(v, "V", "cv_window") for v in pick("cv_window"))
    cv_rates = [si(v, "V/s", "cv_rates", positive=True) for v in pick("cv_rates")]
    gcd_low, gcd_high = (si(v, "V", "gcd_window") for v in pick("gcd_window"))
    densities = [si(v, "A/m^2", "gcd_current_densities", positive=True) for v in pick("gcd_current_densities")]
    cycles = to_integer(pick("gcd_cycles"), name=key_of("gcd_cycles"), origin=origin)
    hold = si(pick("self_discharge_time"), "s", "self_discharge_time", positive=True)
    voltage_step, limit_tolerance = (to_si(config[key], "V", name=key, origin=origin, positive=True)
                                     for key in ("voltage_step", "voltage_limit_tolerance"))
    for key, (low, high) in (("cv_window", (cv_low, cv_high)), ("gcd_window", (gcd_low, gcd_high))):
        if not low < high:
            raise StudyConfigError(f"{origin}: {key_of(key)!r} must be [lower, upper] with lower < upper, got {pick(key)!r}")
    if not cv_rates or not densities:
        raise StudyConfigError(f"{origin}: {key_of('cv_rates')!r} and {key_of('gcd_current_densities')!r} must each list a value")
    if cycles < 2:
        raise StudyConfigError(f"{origin}: {key_of('gcd_cycles')!r} must be at least 2 (retention compares the last with the first)")
    power_names = config["power_physics"]
    if not (isinstance(power_names, list) and all(name in PHYSICS for name in power_names) and "lithium" in power_names):
        raise StudyConfigError(f"{origin}: 'power_physics' must list physics of {list(PHYSICS)} including 'lithium', got {power_names!r}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    area = np.pi * device.electrode_radius**2
    present, missing = available_physics(PROGRAM_PHYSICS)
    power, power_missing = available_physics(power_names)
    # Time resolution: at most ``voltage_step`` per step on the sweeps (max_step = voltage_step / rate) and about as much on the
    # current-controlled steps (SimulationSettings.max_voltage_change: the GCD branches, rests and the circuits); a GCD branch
    # ends within ``voltage_limit_tolerance`` of its limit (SimulationSettings.limit_tolerance).
    settings = SimulationSettings(mesh=femion.QUICK_MESH if quick else femion.MeshSettings(), max_voltage_change=voltage_step,
                                  limit_tolerance=limit_tolerance)
    walls: dict[str, float] = {}

    def stage(name: str, protocol, start, physics=power) -> femion.Result:
        began = time.perf_counter()
        result = Simulation(device, protocol, settings, mesh=mesh, physics=physics, start=start).run(progress=None, stage=name)
        walls[name] = walls.get(name, 0.0) + time.perf_counter() - began
        return result

    # Programming: the pristine device, every module on.
    began = time.perf_counter()
    program_sweep = voltage_sweep(0.0, vertices, program_rate, max_step=voltage_step / program_rate)
    program = Simulation(device, program_sweep, settings, physics=present).run(progress=None, stage="program")
    walls["program"] = time.perf_counter() - began
    mesh, programmed = program.mesh, program.state
    history, state = [("program", program.curves)], programmed

    # CV at each rate (two cycles from 0 V, the second analysed), on the carried state.
    cv_rows = []
    for rate in cv_rates:
        result = stage("cv", cyclic_voltammetry(cv_low, cv_high, rate, CV_CYCLES, start=0.0, max_step=voltage_step / rate), state)
        state, curves = result.state, result.curves
        curves = curves.isel(time=curves.time.values > curves.time.values[-1] - 2.0 * (cv_high - cv_low) / rate * (1 + 1e-9))
        history.append((f"cv {rate:g} V/s", result.curves))
        v, i = curves.voltage.values, curves.current.values
        cv_rows.append({"rate_V_s": rate, "capacitance_F_m2": areal_capacitance_cv(v, i, rate, area),
                        **cv_peaks(v, i, (cv_low, cv_high))})

    # GCD at each current density: two cycles, the second discharge analysed.
    problems, gcd_rows = [], []
    for density in densities:
        result = stage("gcd", galvanostatic_cycles(density * area, gcd_low, gcd_high, GCD_CYCLES_PER_DENSITY), state)
        state = result.state
        history.append((f"gcd {density * 0.1:g} mA/cm^2", result.curves))
        try:
            gcd_rows.append({"current_density_A_m2": density, **discharges(result.curves, area)[-1]})
        except (ValueError, IndexError) as error:
            problems.append(f"GCD at {density * 0.1:g} mA/cm² not analysed: {error}")

    # Self-discharge: a full charge at the first density, then open circuit.
    result = stage("self_discharge", galvanostatic_cycles(densities[0] * area, gcd_low, gcd_high, 1)[:1] + rest(hold), state)
    state = result.state
    history.append(("self_discharge", result.curves))
    drop = _open_circuit_drop(result.curves.voltage.values, result.curves.current.values)

    # Capacity over the GCD cycles at the first density.
    result = stage("cycling", galvanostatic_cycles(densities[0] * area, gcd_low, gcd_high, cycles), state)
    history.append(("cycling", result.curves))
    try:
        cycle_rows = discharges(result.curves, area)
    except ValueError as error:
        cycle_rows = []
        problems.append(f"cycling not analysed: {error}")
    cycle_capacitance = np.array([row["capacitance_F_m2"] for row in cycle_rows])
    curves = _chain(history)
    write_dataset(outdir / "curves.nc", curves)

    # Two programmed devices in one circuit against one device alone, at the first density's current.
    current = densities[0] * area
    reference = stage("reference", galvanostatic_cycles(current, gcd_low, gcd_high, 1), programmed)
    single = discharges(reference.curves, 1.0)[-1]
    with_mechanics = float("nan")
    if "mechanics" in present and "mechanics" not in power:
        extra = tuple(dict.fromkeys([*power, "mechanics"]))
        check = stage("mechanics_check", galvanostatic_cycles(current, gcd_low, gcd_high, 1), programmed, physics=extra)
        with_mechanics = discharges(check.curves, 1.0)[-1]["capacitance_F_m2"] / single["capacitance_F_m2"] - 1.0
    # Series: the single device's current through both; parallel: twice it (the single device's current in each member)
    # and, for comparison, the single device's current shared by both.
    circuits = {}
    for name, connection, source, window in (
        ("series", "series", current, (2.0 * gcd_low, 2.0 * gcd_high)),
        ("parallel", "parallel", 2.0 * current, (gcd_low, gcd_high)),
        ("parallel_same_terminal_current", "parallel", current, (gcd_low, gcd_high)),
    ):
        began = time.perf_counter()
        circuit = Circuit([device, device], galvanostatic_cycles(source, *window, 1), connection, settings, power,
                          starts=[programmed, programmed])
        circuits[name] = circuit.run(progress=None, stage=name).curves
        walls[name] = time.perf_counter() - began
        write_dataset(outdir / f"{name}.nc", circuits[name])
    write_dataset(outdir / "reference.nc", reference.curves)
    last = {name: discharges(circuits[name], 1.0)[-1] for name in circuits}
    ratio = {name: row["capacitance_F_m2"] / single["capacitance_F_m2"] for name, row in last.items()}
    durations = {name: row["duration_s"] for name, row in last.items()}
    (q_single, v_single), (q_series, v_series) = charge_branch(reference.curves), charge_branch(circuits["series"])
    equal_charge = min(q_single[-1], q_series[-1])  # the largest charge both branches passed (V interpolated in Q)
    series_ratio = float(np.interp(equal_charge, q_series, v_series) / np.interp(equal_charge, q_single, v_single))
    kirchhoff = 0.0  # |I_1 + I_2 − I_source| / I_source of the parallel circuits (the source is ±I_source on every step)
    kirchhoff_ratio = 0.0  # the same residual over the circuit's own tolerance (femion.circuit: absolute + relative to the largest current)
    for name, source in (("parallel", 2.0 * current), ("parallel_same_terminal_current", current)):
        record = circuits[name]
        i_1, i_2 = record.current_1.values[1:], record.current_2.values[1:]
        residual = np.abs(np.abs(i_1 + i_2) - source)
        allowed = parallel_current_tolerance(source, [i_1, i_2])
        kirchhoff = max(kirchhoff, float(np.max(residual)) / source)
        kirchhoff_ratio = max(kirchhoff_ratio, float(np.max(residual / allowed)))
    ser = circuits["series"]
    series_mismatch = float(np.max(np.abs(ser.current_1.values[1:] - ser.current_2.values[1:])))

    notes = [f"physics of the programming: electrostatics, {', '.join(present)}; after it: electrostatics, {', '.join(power)}"]
    if missing or power_missing:
        notes.append(f"missing physics: {', '.join(dict.fromkeys(missing + power_missing))}")
    notes.append(f"mechanics left out after programming changes the reference GCD capacitance by {with_mechanics:.2e} (relative)")
    notes.append(f"two-device circuits (femion.circuit): two instances of the device, each on its own mesh, both in the programmed "
                 f"state; parallel Kirchhoff residual max |I1 + I2 − I|/I = {kirchhoff:.2g} ({kirchhoff_ratio:.2g} of the circuit's tolerance), series max |I1 − I2| = {series_mismatch:.2g} A")
    notes += problems
    first = gcd_rows[0] if gcd_rows and gcd_rows[0]["current_density_A_m2"] == densities[0] else None
    walls["total"] = time.perf_counter() - wall_start
    summary = {
        "quick": quick,
        "physics": present,
        "power_physics": power,
        "missing_physics": missing,
        "cv_rates_V_s": cv_rates,
        "cv_capacitance_F_m2": [row["capacitance_F_m2"] for row in cv_rows],
        "cv_anodic_peak_current_A": [row["anodic_current_A"] for row in cv_rows],
        "cv_anodic_peak_potential_V": [row["anodic_potential_V"] for row in cv_rows],
        "cv_cathodic_peak_current_A": [row["cathodic_current_A"] for row in cv_rows],
        "cv_cathodic_peak_potential_V": [row["cathodic_potential_V"] for row in cv_rows],
        "cv_peaks_interior": [bool(row["anodic_interior"] and row["cathodic_interior"]) for row in cv_rows],
        "cv_anodic_peak_rate_exponent": rate_exponent(cv_rates, [row["anodic_current_A"] for row in cv_rows]),
        "gcd_current_densities_A_m2": [row["current_density_A_m2"] for row in gcd_rows],
        "gcd_discharges": len(gcd_rows),
        "gcd_capacitance_F_m2": [row["capacitance_F_m2"] for row in gcd_rows],
        "ragone_energy_J_m2": [row["energy_J_m2"] for row in gcd_rows],
        "ragone_power_W_m2": [row["power_W_m2"] for row in gcd_rows],
        "areal_capacitance_mF_cm2": (first["capacitance_F_m2"] * 0.1) if first else float("nan"),
        "energy_uWh_cm2": (first["energy_J_m2"] / WH * 1e2) if first else float("nan"),
        "power_uW_cm2": (first["power_W_m2"] * 1e2) if first else float("nan"),
        "self_discharge_voltage_drop_V": drop,
        "self_discharge_time_s": hold,
        "gcd_cycles": len(cycle_rows),
        "cycling_capacitance_first_F_m2": float(cycle_capacitance[0]) if len(cycle_rows) else float("nan"),
        "cycling_capacitance_last_F_m2": float(cycle_capacitance[-1]) if len(cycle_rows) else float("nan"),
        "capacity_retention": float(cycle_capacitance[-1] / cycle_capacitance[0]) if len(cycle_rows) else float("nan"),
        "cycling_wall_time_s": walls["cycling"],
        "series_parallel_computed": True,
        "single_capacitance_F": single["capacitance_F_m2"],
        "series_voltage_ratio": series_ratio,
        "series_capacitance_ratio": ratio["series"],
        "parallel_capacitance_ratio": ratio["parallel"],
        "parallel_capacitance_ratio_same_terminal_current": ratio["parallel_same_terminal_current"],
        "series_current_mismatch_A": series_mismatch,
        "parallel_kirchhoff_relative_residual": kirchhoff,
        "parallel_kirchhoff_residual_over_tolerance": kirchhoff_ratio,
        "mechanics_effect_on_capacitance": with_mechanics,
        "li_consumed_air_mol": float(curves["li_consumed_air"].values[-1]) if "li_consumed_air" in curves else float("nan"),
        "wall_time_s": walls,
        "paper": PAPER,
        "notes": notes,
    }
    write_dataset(outdir / "cv.nc", xr.Dataset(
        {"capacitance": ("rate", summary["cv_capacitance_F_m2"], {"units": "F/m^2"}),
         "anodic_peak_current": ("rate", summary["cv_anodic_peak_current_A"], {"units": "A"}),
         "anodic_peak_potential": ("rate", summary["cv_anodic_peak_potential_V"], {"units": "V"}),
         "cathodic_peak_current": ("rate", summary["cv_cathodic_peak_current_A"], {"units": "A"}),
         "cathodic_peak_potential": ("rate", summary["cv_cathodic_peak_potential_V"], {"units": "V"}),
         "peaks_interior": ("rate", np.array(summary["cv_peaks_interior"], dtype=int), {"units": "1"})},
        coords={"rate": ("rate", cv_rates, {"units": "V/s"})}))
    if gcd_rows:
        names = {"capacitance_F_m2": ("capacitance", "F/m^2"), "energy_J_m2": ("energy", "J/m^2"), "power_W_m2": ("power", "W/m^2"),
                 "duration_s": ("discharge_time", "s"), "window_V": ("voltage_window", "V"), "current_A": ("current", "A")}
        ordered = sorted(gcd_rows, key=lambda row: row["current_density_A_m2"])
        write_dataset(outdir / "gcd.nc", xr.Dataset(
            {name: ("current_density", [row[key] for row in ordered], {"units": unit}) for key, (name, unit) in names.items()},
            coords={"current_density": ("current_density", [row["current_density_A_m2"] for row in ordered], {"units": "A/m^2"})}))
    write_dataset(outdir / "cycling.nc", xr.Dataset(
        {"capacitance": ("cycle", cycle_capacitance, {"units": "F/m^2"}),
         "retention": ("cycle", cycle_capacitance / cycle_capacitance[0] if len(cycle_rows) else cycle_capacitance, {"units": "1"})},
        coords={"cycle": ("cycle", np.arange(1, len(cycle_rows) + 1), {"units": "1"})}))

    peak_cycle = int(np.argmax(cycle_capacitance)) + 1 if len(cycle_rows) else 0
    peak_retention = float(cycle_capacitance.max() / cycle_capacitance[0]) if len(cycle_rows) else float("nan")
    mf = lambda value: f"{value * 0.1:.4g}"  # noqa: E731  F/m² -> mF/cm²
    findings = [
        "# power_cv_gcd findings", "", *[f"- {note}" for note in notes],
        f"- Li consumed by air over the whole history: {summary['li_consumed_air_mol']:.3g} mol; the GCD capacitance at "
        f"{densities[0] * 0.1:g} mA/cm² is {summary['areal_capacitance_mF_cm2'] / 4.1:.3g} of the paper's 4.1 mF/cm² "
        "(the paper's power state is the one whose excess Li the air consumed).",
        f"- Wall time: {', '.join(f'{name} {value:.0f} s' for name, value in walls.items())}.",
        "",
        "| quantity | femion | paper |", "|---|---|---|",
        f"| areal capacitance (GCD at {densities[0] * 0.1:g} mA/cm²) | {summary['areal_capacitance_mF_cm2']:.4g} mF/cm² | 4.1 mF/cm² |",
        f"| Ragone point at {densities[0] * 0.1:g} mA/cm² | {summary['energy_uWh_cm2']:.4g} µWh/cm² at "
        f"{summary['power_uW_cm2']:.4g} µW/cm² | 7.0 µWh/cm² at 27.9 µW/cm² |",
        f"| GCD capacity retention after {len(cycle_rows)} cycles | {summary['capacity_retention']:.4g} "
        f"({walls['cycling']:.0f} s wall; C/C(first) peaks at {peak_retention:.4g} in cycle {peak_cycle}) | negligible loss over 3500 |",
        f"| series: V(series)/V(single) at equal charge | {series_ratio:.4g} | 2 |",
        f"| parallel at twice the current (the single device's current per member): C(parallel)/C(single) | "
        f"{summary['parallel_capacitance_ratio']:.4g} | 2 |",
        f"| parallel at the single device's current (half per member): C(parallel)/C(single) | "
        f"{summary['parallel_capacitance_ratio_same_terminal_current']:.4g} | (2 for a rate-independent capacitance) |",
        f"| series: C(series)/C(single) | {summary['series_capacitance_ratio']:.4g} | (1/2 for two capacitors in series) |",
        f"| discharge time: one device at I / two in parallel at 2I / at I | {single['duration_s']:.4g} / "
        f"{durations['parallel']:.4g} / {durations['parallel_same_terminal_current']:.4g} s | |",
        f"| self-discharge after {hold:g} s open circuit | {drop:.4g} V | low (Fig. S3d) |",
        "",
        "| CV rate [V/s] | C [mF/cm²] | anodic peak [A] at [V] | cathodic peak [A] at [V] | inside the window (not at a vertex) |",
        "|---|---|---|---|---|",
        *[f"| {row['rate_V_s']:g} | {mf(row['capacitance_F_m2'])} | {row['anodic_current_A']:.4g} at {row['anodic_potential_V']:.4g} | "
          f"{row['cathodic_current_A']:.4g} at {row['cathodic_potential_V']:.4g} | "
          f"anodic {'yes' if row['anodic_interior'] else 'no'}, cathodic {'yes' if row['cathodic_interior'] else 'no'} |"
          for row in cv_rows],
        f"- anodic peak current ∝ ν^b with b = {summary['cv_anodic_peak_rate_exponent']:.3g} (1/2 diffusion-limited, 1 capacitive)",
        "",
        "| current density [mA/cm²] | C [mF/cm²] | E [µWh/cm²] | P [µW/cm²] | discharge time [s] |", "|---|---|---|---|---|",
        *[f"| {row['current_density_A_m2'] * 0.1:g} | {mf(row['capacitance_F_m2'])} | {row['energy_J_m2'] / WH * 1e2:.4g} | "
          f"{row['power_W_m2'] * 1e2:.4g} | {row['duration_s']:.4g} |" for row in sorted(gcd_rows, key=lambda r: r['current_density_A_m2'])],
    ]
    (outdir / "findings.md").write_text("\n".join(findings) + "\n")
    print("\n".join(findings))
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "power_cv_gcd", "summary": summary})
    return summary
