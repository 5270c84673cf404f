"""Evaluator of the calibration: one part of the paper's quantitative targets for given material values.

Problem
-------
``studies/calibration`` fits material values to the paper's numbers
(:data:`femion.claims.PAPER_NUMBERS`). Each of its model evaluations is a
point of a :mod:`femion.sweep` run of THIS study: the material values arrive
as ``material.<Material>.<property>`` overrides
(:func:`femion.config.override_materials`), ``config.part`` says which group
of targets the point computes. Every part runs on the quick mesh
(:data:`femion.QUICK_MESH`) with a reduced protocol so that one point takes
about a minute:

``analog``
    the LTP/LTD train of studies/analog_pulses (:func:`femion.analog.run_train`
    with the pulses and reads of the ``[train]`` table, :data:`femion.analog.TRAIN_SETTINGS`),
    main amplitude only, ``analog_cycles`` cycles of ``analog_pulses_per_phase``
    pulses; its figures (:func:`femion.analog.train_figures`):
    ``G_max_over_G_min``, ``nonlinearity_label_LTP``/``LTD`` and
    ``c2c_variation``, the larger of the cycle-to-cycle variations of G_max and
    G_min over the cycles after the first (as the rule of claim
    ``analog_c2c``, :func:`femion.observables.cycle_to_cycle_variation`);
``arrhenius``
    the stack's small-signal conductance G(T) of studies/li_arrhenius
    (:func:`femion.analog.stack_conductance`) at ``temperatures``, one read time:
    ``li_activation_energy`` [eV] from :func:`femion.observables.arrhenius_fit`;
``power``
    one GCD cycle of studies/li_inventory (:func:`femion.power.run_gcd`, the
    ``[power]`` table: the window and current the paper's C, E and P imply, on
    li_inventory's labelled scenario state with the hosts' Li reduced by its
    ``fit_inventory_reduction``):
    ``areal_capacitance`` [F/m²], ``energy`` [J/m²], ``power`` [W/m²];
``volatile``, ``variability``, ``retention``
    the quick variants of those studies (held-out targets): ``selectivity``,
    ``off_current`` [A]; ``variation_v_th``, ``variation_v_hold``,
    ``variation_lrs``, ``variation_hrs`` (deformed electrode); ``retention_time``
    [s] (extrapolated LRS retention at 300 K).

The parts and their keys are :data:`femion.calibration.PARTS`; every key of
:data:`femion.calibration.OBSERVABLES` is in every summary (NaN outside the point's
part), as a sweep's store needs. A part whose study reports a failure passes
it on as ``failure``.

Outputs: per part, ``pulses.nc`` (the train's reads, as studies/analog_pulses)
and ``analog.json`` (its figures); ``arrhenius.json``; ``gcd.json``; the
held-out study's own outputs; and ``summary.json`` and the run provenance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

import femion
from femion.analog import READ_UNITS, TRAIN_SETTINGS, PulseTrain, run_train, stack_conductance, train_figures
from femion.calibration import OBSERVABLES, PARTS
from femion.config import StudyConfigError, load_study, load_study_config, override_device, require_layers
from femion.io import write_dataset, write_run_metadata
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
STUDIES = HERE.parent.parent
CONFIG_KEYS = {"part", "analog_pulses_per_phase", "analog_cycles", "temperatures", "read_time", "step_voltage", "train", "power"}
TRAIN_KEYS = {"amplitude", "pulse_width", "pulse_rest", "read_voltage", "read_width"}
POWER_KEYS = {"gcd_window", "gcd_current_density", "inventory_reduction", "hypothesis"}


def _table(config: dict, key: str, keys: set[str], origin: str) -> dict:
    """The ``[key]`` table of the config, with exactly ``keys``."""
    table = config[key]
    if not isinstance(table, dict) or set(table) != keys:
        raise StudyConfigError(f"{origin}: [{key}] must be a table with exactly {sorted(keys)}")
    return table


def _materials(overrides: dict | None) -> dict:
    """The ``material.*`` overrides, passed on to the study a part runs."""
    return {key: value for key, value in (overrides or {}).items() if str(key).startswith("material.")}


def analog(outdir: Path, config: dict, origin: str, device) -> tuple[dict, str | None]:
    """The reduced LTP/LTD train at the main amplitude; its window, labels and C2C (module docstring)."""
    import xarray as xr

    from femion.observables import cycle_to_cycle_variation

    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    cycles = to_integer(config["analog_cycles"], name="analog_cycles", origin=origin, minimum=3)
    train = PulseTrain.from_config({**_table(config, "train", TRAIN_KEYS, origin),
                                    "analog_pulses_per_phase": config["analog_pulses_per_phase"]}, "analog_pulses_per_phase", origin)
    outcome = run_train(device, TRAIN_SETTINGS, train, train.amplitude, cycles)
    reads = xr.concat(outcome.chain.reads, dim="read")
    for name, unit in READ_UNITS.items():
        reads[name].attrs["units"] = unit
    write_dataset(outdir / "pulses.nc", reads)
    figures = train_figures(reads)
    (outdir / "analog.json").write_text(json.dumps({"failure": outcome.failure, **figures}, indent=2, default=float))
    high = np.array(figures["G_max_per_cycle_S"][1:], dtype=float)
    low = np.array(figures["G_min_per_cycle_S"][1:], dtype=float)
    c2c = max(cycle_to_cycle_variation(high), cycle_to_cycle_variation(low)) if high.size > 1 and low.size > 1 else float("nan")
    return {"G_max_over_G_min": figures["G_max_over_G_min"], "nonlinearity_label_LTP": figures["nonlinearity_label_LTP"],
            "nonlinearity_label_LTD": figures["nonlinearity_label_LTD"], "c2c_variation": c2c}, outcome.failure


def arrhenius(outdir: Path, config: dict, origin: str, device) -> tuple[dict, str | None]:
    """E_A of the stack's small-signal conductance at the configured temperatures."""
    from femion.mesh import build_mesh
    from femion.observables import arrhenius_fit
    from femion.simulation import SimulationSettings

    temperatures = np.array(sorted(to_si(v, "K", name="temperatures", origin=origin, positive=True) for v in config["temperatures"]))
    if temperatures.size < 2:
        raise StudyConfigError(f"{origin}: 'temperatures' needs at least two values")
    read_time = to_si(config["read_time"], "s", name="read_time", origin=origin, positive=True)
    step = to_si(config["step_voltage"], "V", name="step_voltage", origin=origin, positive=True)
    settings = SimulationSettings(mesh=femion.QUICK_MESH)
    mesh = build_mesh(device, settings=settings.mesh)
    g = np.array([stack_conductance(override_device(device, {"device.temperature": f"{float(t)!r} K"}, origin=origin),
                                    step, read_time, settings, mesh) for t in temperatures])
    energy = arrhenius_fit(temperatures, g).activation_energy
    (outdir / "arrhenius.json").write_text(json.dumps({"temperatures_K": temperatures.tolist(), "G_S": g.tolist(),
                                                       "activation_energy_eV": energy}, indent=2))
    return {"li_activation_energy": float(energy)}, None


def power(outdir: Path, config: dict, origin: str, device) -> tuple[dict, str | None]:
    """One GCD cycle on li_inventory's scenario state (the ``[power]`` table): C, E, P of the discharge in SI."""
    from femion.mesh import build_mesh
    from femion.power import WH, run_gcd
    from femion.simulation import SimulationSettings

    table = _table(config, "power", POWER_KEYS, origin)
    area = math.pi * device.electrode_radius**2
    window = to_si(table["gcd_window"], "V", name="power.gcd_window", origin=origin, positive=True)
    current = to_si(table["gcd_current_density"], "A/m^2", name="power.gcd_current_density", origin=origin, positive=True) * area
    reduction = to_si(table["inventory_reduction"], "", name="power.inventory_reduction", origin=origin)
    settings = SimulationSettings(mesh=femion.QUICK_MESH)
    mesh = build_mesh(device, settings=settings.mesh)
    metrics, _ = run_gcd(device, mesh, settings, reduction, current, window, area)
    (outdir / "gcd.json").write_text(json.dumps({**metrics, "inventory_reduction": reduction, "scenario": table["hypothesis"]},
                                                indent=2, default=float))
    return {"areal_capacitance": metrics["areal_capacitance_mF_cm2"] * 10.0,  # mF/cm² -> F/m²
            "energy": metrics["energy_uWh_cm2"] * 1e-6 * WH / 1e-4,        # µWh/cm² -> J/m²
            "power": metrics["power_uW_cm2"] * 1e-2}, None                  # µW/cm² -> W/m²


def lrs_retention(summary: dict) -> float:
    """LRS retention at 300 K [s] from a studies/retention summary.

    The Arrhenius extrapolation from the elevated-T failures when it exists, else the failure time measured at 300 K,
    else, when the LRS did not fail within the last read at 300 K, that read's time: a lower bound (the study censors
    it, and the paper's number is itself a lower bound, > 1e5 s). NaN only if the 300 K run has no reads.
    """
    for key in ("retention_lrs_300K_extrapolated_s", "failure_lrs_300K_s"):
        value = summary.get(key)
        if isinstance(value, (int, float)) and math.isfinite(value):
            return float(value)
    reads = summary.get("read_times_s") or []
    return float(max(reads)) if reads else float("nan")


def held_out(part: str, outdir: Path, materials: dict) -> tuple[dict, str | None]:
    """The quick variant of a digital-mode study and its targets."""
    name = {"volatile": "volatile_switching", "variability": "variability", "retention": "retention"}[part]
    _, study = load_study(STUDIES / name)
    summary = study.run(outdir / name, quick=True, overrides=materials)
    if part == "volatile":
        values = {"selectivity": summary["selectivity_mean"], "off_current": abs(summary["i_off_first_A"])}
    elif part == "variability":
        values = {f"variation_{q}": summary[f"variation_deformed_{q}"] for q in ("v_th", "v_hold", "lrs", "hrs")}
    else:
        values = {"retention_time": lrs_retention(summary)}
    return values, summary.get("failure")


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Compute the configured part for the overridden materials; return the summary (every observable, NaN outside the part).

    ``quick`` changes nothing: every part already runs on the quick mesh.

    Raises
    ------
    StudyConfigError
        An unknown part.
    """
    origin = str(HERE / "config.toml")
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    part = config["part"]
    if part not in PARTS:
        raise StudyConfigError(f"{origin}: part must be one of {list(PARTS)}, got {part!r}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    materials = _materials(overrides)
    if part == "analog":
        values, failure = analog(outdir, config, origin, device)
    elif part == "arrhenius":
        values, failure = arrhenius(outdir, config, origin, device)
    elif part == "power":
        values, failure = power(outdir, config, origin, device)
    else:
        values, failure = held_out(part, outdir, materials)
    summary = {"part": part, "failure": failure, "materials": materials,
               **{name: float(values.get(name, float("nan"))) if values.get(name) is not None else float("nan")
                  for name in OBSERVABLES}}
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    write_run_metadata(outdir, device, {"study": "calibration/evaluate", "summary": summary})
    print(f"  part {part}: " + ", ".join(f"{k} {summary[k]:.4g}" for k in PARTS[part]))
    return summary
