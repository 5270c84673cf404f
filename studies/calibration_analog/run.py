"""Calibration of the analog memristor mode to the paper's pulse figures (paper Fig. 3b).

Problem
-------
The analog pulse response of femion (``studies/analog_pulses``: −5 V / +5 V,
5 ms pulses, reads at 0.1 V) depends on kinetic and initial-state values that
no measurement fixes for this stack (``source = "assumed"`` in the materials
database). This study fits at most a few of them — the *knobs* of
``config.toml``, each a (material, property, range) — to the paper's analog
targets:

* G_max/G_min = 57.5 over one LTP/LTD cycle;
* NeuroSim nonlinearity labels 0.6 (LTP) and −7.7 (LTD)
  (:func:`femion.observables.nonlinearity_label`).

Method: least squares on the residual vector

    r = [ln(ratio/57.5), (NL_LTP − 0.6)/s, (NL_LTD + 7.7)/s]

(s = ``label_scale``) over the knobs in log10 space: a logarithmic grid of
``grid_points`` per knob, then ``refine_evaluations`` Nelder–Mead evaluations
from the best grid point, inside the ranges (scipy.optimize.minimize). Every
trial runs the pulse train of ``studies/analog_pulses`` (:func:`femion.analog.run_train`
with the ``[train]`` table of ``config.toml``, the same pulses and reads as
that study's ``config.toml``; one cycle at the main amplitude,
``pulses_per_phase`` pulses per branch) and its figures
(:func:`femion.analog.train_figures`) on a device whose materials are
copies of the database files with the knob values replaced
(:func:`femion.materials.material_variant`); a branch that is not monotonic
in the expected sense has no label and counts as a failed trial (cost ∞).

The fit is reported as it comes out: if the targets are out of reach within
the ranges, the residuals say so. The fitted values are written as material
files with ``source = "calibrated: studies/calibration_analog"``; they enter
the database only by a deliberate edit that cites this study's outputs.

Outputs: ``trials.nc`` (per trial: knob values, G ratio, labels, residuals,
cost, ``stage`` grid/refine), ``fit.json`` (targets, knobs, best values,
residuals, cost), ``<material>_calibrated.toml``, ``trials/<n>/`` (each
trial's material files, ``pulses.nc`` with its reads and ``summary.json`` with
its train figures), ``summary.json``, ``findings.md`` and the run provenance.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from tqdm import tqdm
import xarray as xr

from femion.analog import READ_UNITS, TRAIN_SETTINGS, PulseTrain, run_train, train_figures
from femion.calibration import Knob, file_value
from femion.config import StudyConfigError, load_study_config, override_device, require_layers
from femion.io import write_dataset, write_run_metadata
from femion.materials import CALIBRATED, material_variant
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
STUDY = "studies/calibration_analog"
CONFIG_KEYS = {"target_ratio", "target_label_LTP", "target_label_LTD", "label_scale", "knobs", "train", "search"}
METRICS = ("G_max_over_G_min", "nonlinearity_label_LTP", "nonlinearity_label_LTD")
TRAIN_KEYS = {"amplitude", "pulse_width", "pulse_rest", "read_voltage", "read_width", "pulses_per_phase", "quick_pulses_per_phase"}


def parse_knobs(entries: list, device, origin: str) -> list[Knob]:
    """Validate the ``[[knobs]]`` tables against ``device``; knobs of :mod:`femion.calibration` (SI range, log scale).

    ``low`` and ``high`` are in the unit of the material file; the knobs hold them in SI.

    Raises
    ------
    StudyConfigError
        A knob whose material is not a layer material of the device, whose
        property the material lacks, or whose range is not 0 < low < high;
        more than three knobs (the issue allows "at most a few").
    """
    if not isinstance(entries, list) or not 1 <= len(entries) <= 3:
        raise StudyConfigError(f"{origin}: give 1 to 3 [[knobs]] tables")
    materials = {device.material(layer.name).name: device.material(layer.name) for layer in device.layers}
    knobs = []
    for index, entry in enumerate(entries):
        where = f"{origin}: knobs[{index}]"
        if set(entry) != {"material", "property", "low", "high"}:
            raise StudyConfigError(f"{where}: needs exactly material, property, low, high")
        if entry["material"] not in materials:
            raise StudyConfigError(f"{where}: material {entry['material']!r} is not a layer material ({', '.join(materials)})")
        if entry["property"] not in materials[entry["material"]]:
            raise StudyConfigError(f"{where}: {entry['material']} has no property {entry['property']!r}")
        low, high = (to_si(entry[key], "", name=f"knobs[{index}].{key}", origin=origin, positive=True) for key in ("low", "high"))
        if not (np.isfinite(low) and np.isfinite(high) and 0.0 < low < high):
            raise StudyConfigError(f"{where}: need 0 < low < high, got {low!r}, {high!r}")
        material = materials[entry["material"]]
        si_per_file = 1.0 / file_value(material.path, entry["property"], 1.0)[0]
        parameter = material[entry["property"]]
        knobs.append(Knob((entry["material"],), entry["property"], low * si_per_file, high * si_per_file, log=True,
                          start=parameter.value, source=parameter.source))
    return knobs


def residuals(metrics: dict, targets: dict, label_scale: float) -> np.ndarray:
    """Residual vector [ln(ratio/target), ΔNL_LTP/s, ΔNL_LTD/s], shape (3,); NaN where a metric is missing."""
    ratio = metrics["G_max_over_G_min"]
    return np.array([
        np.log(ratio / targets["G_max_over_G_min"]) if np.isfinite(ratio) and ratio > 0 else np.nan,
        (metrics["nonlinearity_label_LTP"] - targets["nonlinearity_label_LTP"]) / label_scale,
        (metrics["nonlinearity_label_LTD"] - targets["nonlinearity_label_LTD"]) / label_scale,
    ])


def cost(residual: np.ndarray) -> float:
    """½ Σ r² (∞ when any residual is NaN: a failed or non-monotonic trial)."""
    return float(0.5 * np.sum(residual**2)) if np.all(np.isfinite(residual)) else float("inf")


class Trials:
    """Runs and records the pulse-train trials of the fit (cached by knob values)."""

    def __init__(self, outdir: Path, device, knobs: list[Knob], train: PulseTrain, targets: dict, label_scale: float):
        self.outdir, self.device, self.knobs = outdir, device, knobs
        self.train, self.targets, self.label_scale = train, targets, label_scale
        self.rows: list[dict] = []
        self._cache: dict[tuple, float] = {}

    def materials(self, values: np.ndarray, folder: Path, source: str) -> dict[str, Path]:
        """Write one material variant per knob material with ``values`` (SI); material -> path."""
        changes: dict[str, dict] = {}
        for knob, value in zip(self.knobs, values):
            material = knob.materials[0]
            changes.setdefault(material, {})[knob.property] = (file_value(material, knob.property, float(value))[0], source)
        return {material: material_variant(material, change, folder / f"{material}.toml") for material, change in changes.items()}

    def __call__(self, log_values: np.ndarray, stage: str) -> float:
        """Cost of the knobs at 10**``log_values``; runs the pulse train once per distinct point."""
        key = tuple(np.round(np.asarray(log_values, dtype=float), 9))  # Nelder-Mead revisits clipped bound points
        if key in self._cache:
            return self._cache[key]
        values = 10.0 ** np.asarray(log_values, dtype=float)
        folder = self.outdir / "trials" / f"{len(self.rows):03d}"
        paths = self.materials(values, folder, "assumed")
        overrides = {}
        for layer in self.device.layers:
            name = self.device.material(layer.name).name
            if name in paths:
                overrides[f"device.layers.{layer.name}.material"] = str(Path(paths[name]).resolve())
        try:
            device = override_device(self.device, overrides, origin=str(folder))
            outcome = run_train(device, TRAIN_SETTINGS, self.train, self.train.amplitude, 1)
            reads = xr.concat(outcome.chain.reads, dim="read")
            for name, unit in READ_UNITS.items():
                reads[name].attrs["units"] = unit
            write_dataset(folder / "pulses.nc", reads)
            figures = {"failure": outcome.failure, **train_figures(reads)}
            (folder / "summary.json").write_text(json.dumps(figures, indent=2, default=float))
            metrics = {name: float(figures[name]) for name in METRICS}
            failure = outcome.failure or ""
        except Exception as error:  # noqa: BLE001 - a trial that cannot run is a failed point of the fit, recorded
            metrics, failure = {name: float("nan") for name in METRICS}, f"{type(error).__name__}: {error}"
        residual = residuals(metrics, self.targets, self.label_scale)
        value = cost(residual)
        self.rows.append({"stage": stage, "values": values, **metrics, "residual": residual, "cost": value, "failure": failure})
        self._cache[key] = value
        return value


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Fit the knobs to the paper's analog targets; write trials, fit and calibrated materials; return the summary."""
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    knobs = parse_knobs(config["knobs"], device, origin)
    train, search = config["train"], config["search"]
    if not isinstance(train, dict) or not isinstance(search, dict):
        raise StudyConfigError(f"{origin}: 'train' and 'search' must be tables")
    prefix = "quick_" if quick else ""
    count = lambda key, minimum: to_integer(  # noqa: E731
        search.get(prefix + key), name=f"search.{prefix}{key}", origin=origin, minimum=minimum)
    if set(train) != TRAIN_KEYS:
        raise StudyConfigError(f"{origin}: [train] needs exactly the keys {sorted(TRAIN_KEYS)}, got {sorted(train)}")
    train = PulseTrain.from_config(train, prefix + "pulses_per_phase", f"{origin} [train]")  # at least 3 pulses: the nonlinearity fit
    pulses = train.pulses
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    points = count("grid_points", 1)
    refine = count("refine_evaluations", 0)
    label_scale = to_si(config["label_scale"], "", name="label_scale", origin=origin, positive=True)
    targets = {"G_max_over_G_min": to_si(config["target_ratio"], "", name="target_ratio", origin=origin, positive=True),
               "nonlinearity_label_LTP": to_si(config["target_label_LTP"], "", name="target_label_LTP", origin=origin),
               "nonlinearity_label_LTD": to_si(config["target_label_LTD"], "", name="target_label_LTD", origin=origin)}
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    trials = Trials(outdir, device, knobs, train, targets, label_scale)

    bounds = [(np.log10(k.low), np.log10(k.high)) for k in knobs]
    grid = [np.linspace(low, high, points) if points > 1 else np.array([0.5 * (low + high)]) for low, high in bounds]
    for point in tqdm(list(itertools.product(*grid)), desc="calibration grid", unit="trial"):
        trials(np.array(point), "grid")
    best = int(np.argmin([row["cost"] for row in trials.rows]))
    if refine > 0 and np.isfinite(trials.rows[best]["cost"]):
        start = np.log10(trials.rows[best]["values"])
        with tqdm(total=refine, desc="calibration refine", unit="trial") as bar:
            def objective(x: np.ndarray) -> float:
                bar.update(1)
                return trials(x, "refine")
            minimize(objective, start, method="Nelder-Mead", bounds=bounds,
                     options={"maxfev": refine, "xatol": 0.01, "fatol": 1e-4})
    costs = np.array([row["cost"] for row in trials.rows])
    best = int(np.argmin(costs))
    row = trials.rows[best]
    found = bool(np.isfinite(row["cost"]))

    data = xr.Dataset(
        {
            **{k.name: ("trial", [r["values"][i] for r in trials.rows], {"units": load_unit(k) or "1"}) for i, k in enumerate(knobs)},
            **{name: ("trial", [r[name] for r in trials.rows], {"units": "1"}) for name in METRICS},
            "residual": (("trial", "target"), np.array([r["residual"] for r in trials.rows]), {"units": "1"}),
            "cost": ("trial", costs, {"units": "1"}),
            "stage": ("trial", [r["stage"] for r in trials.rows]),
            "failure": ("trial", [r["failure"] for r in trials.rows]),
        },
        coords={"trial": ("trial", np.arange(len(trials.rows)), {"units": "1"}), "target": list(METRICS)},
        attrs={"targets": json.dumps(targets), "label_scale": label_scale, "cost": "0.5 * sum(residual**2)"},
    )
    write_dataset(outdir / "trials.nc", data)
    calibrated = {}
    if found:
        folder = outdir / "calibrated"
        for material, path in trials.materials(row["values"], folder, f"{CALIBRATED}{STUDY}").items():
            target = outdir / f"{material}_calibrated.toml"
            target.write_text(path.read_text())
            calibrated[material] = str(target)
    fit = {
        "targets": targets,
        "label_scale": label_scale,
        "knobs": [{"name": k.name, "low": k.low, "high": k.high, "unit": load_unit(k)} for k in knobs],
        "trials": len(trials.rows),
        "pulses_per_phase": pulses,
        "best_trial": best,
        "best_values": {k.name: float(v) for k, v in zip(knobs, row["values"])} if found else None,
        "best_metrics": {name: row[name] for name in METRICS},
        "best_residuals": dict(zip(METRICS, map(float, row["residual"]))),
        "best_cost": row["cost"],
        "at_range_edge": {k.name: bool(np.isclose(v, k.low, rtol=1e-6) or np.isclose(v, k.high, rtol=1e-6))
                          for k, v in zip(knobs, row["values"])},
        "calibrated_materials": calibrated,
    }
    (outdir / "fit.json").write_text(json.dumps(fit, indent=2, default=float))
    summary = {
        "quick": quick,
        "trials": len(trials.rows),
        "failed_trials": int(np.sum(~np.isfinite(costs))),
        "failure": None if found else f"no trial gave a finite cost ({len(trials.rows)} trials); first: "
                                      f"{next((r['failure'] for r in trials.rows if r['failure']), 'non-monotonic branches')}",
        "best_cost": row["cost"],
        **{f"best_{k.name}": float(v) for k, v in zip(knobs, row["values"])},
        **{f"best_{name}": row[name] for name in METRICS},
        "targets": targets,
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(fit))
    write_run_metadata(outdir, device, {"study": "calibration_analog", "summary": summary})
    print(f"  {len(trials.rows)} trials; best cost {row['cost']:.4g}: "
          + ", ".join(f"{k.name} = {v:.4g}" for k, v in zip(knobs, row["values"]))
          + f"; ratio {row['G_max_over_G_min']:.4g} (target {targets['G_max_over_G_min']:g}), labels "
          f"{row['nonlinearity_label_LTP']:.3g}/{row['nonlinearity_label_LTD']:.3g} "
          f"(target {targets['nonlinearity_label_LTP']:g}/{targets['nonlinearity_label_LTD']:g})")
    return summary


def load_unit(knob: Knob) -> str:
    """SI unit of a knob's value (its range and the trials' values are in SI)."""
    return knob.unit


def findings(fit: dict) -> str:
    """The fit against the paper's targets, as Markdown."""
    lines = ["# Calibration of the analog mode (paper Fig. 3b): what the fit gives", ""]
    metrics = fit["best_metrics"]
    targets = fit["targets"]
    if fit["best_values"] is None:
        lines.append(f"- No trial of {fit['trials']} produced a monotonic LTP and LTD branch: no fit.")
        return "\n".join(lines) + "\n"
    lines.append(f"- {fit['trials']} trials ({fit['pulses_per_phase']} pulses per branch, one cycle); best trial {fit['best_trial']}:")
    for knob in fit["knobs"]:
        value = fit["best_values"][knob["name"]]
        edge = " — at the edge of its range: the optimum may lie outside" if fit["at_range_edge"][knob["name"]] else ""
        lines.append(f"  - {knob['name']} = {value:.4g} {knob['unit']} (searched {knob['low']:g}–{knob['high']:g}){edge}")
    lines.append(f"- G_max/G_min {metrics['G_max_over_G_min']:.4g} vs {targets['G_max_over_G_min']:g}; "
                 f"nonlinearity label LTP {metrics['nonlinearity_label_LTP']:.3g} vs {targets['nonlinearity_label_LTP']:g}, "
                 f"LTD {metrics['nonlinearity_label_LTD']:.3g} vs {targets['nonlinearity_label_LTD']:g}.")
    lines.append("- Residuals: " + ", ".join(f"{k} {v:.3g}" for k, v in fit["best_residuals"].items()) + f"; cost {fit['best_cost']:.4g}.")
    reached = all(abs(v) < 0.1 for v in fit["best_residuals"].values())
    lines.append("- The targets are " + ("reached (every residual below 0.1)." if reached else
                                         "NOT reached with these knobs in these ranges (residuals above)."))
    return "\n".join(lines) + "\n"
