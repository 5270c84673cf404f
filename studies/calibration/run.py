"""Calibration of femion against the paper's quantitative targets, with sensitivities and a held-out check.

Problem
-------
Many kinetic and initial-state values of femion's materials database have no
measurement for this stack. This study fits at most 10 of them (the *knobs*
of ``config.toml``, each bounded by its database range, whose source the
database states: :attr:`femion.materials.Parameter.range_source`) to the paper's numbers
(:data:`femion.claims.PAPER_NUMBERS`: G_max/G_min 57.5, nonlinearity labels
0.6/−7.7, analog C2C ≈ 1 %, E_A 0.5 eV, 4.1 mF/cm², 7.0 µWh/cm² at
27.9 µW/cm², selectivity ~10², I_off ~10⁻⁷ A, V_th/V_hold variation 4/2 %,
LRS/HRS variation 3/7 %, retention > 10⁵ s), and says what the data pin down.

Method
------
Residuals (``[targets]`` of the config; weights there): ln(f/paper) for
positive quantities, (f − paper)/|paper| for the C2C and E_A, (f − paper)/scale
for the signed nonlinearity labels, min(0, ln(f/paper)) for the retention
bound (:meth:`femion.calibration.Target.residual`); cost ½ Σ r², a failed
evaluation counting ln 10 per residual (a stated penalty).

The knobs are solved in the scaled space u ∈ [0, 1]ⁿ (log or linear in each
range, :class:`femion.calibration.Knob`) by bounded least squares
(:func:`scipy.optimize.least_squares`, trust-region reflective) whose Jacobian
comes from one batch of n + 1 points (forward differences of step
``jacobian_step`` in u, :func:`femion.calibration.forward_jacobian`); it stops
when a step lowers the cost by less than ``tolerance`` (relative) or moves u by
less than ``tolerance``, the level of the evaluations' time-step error, or at
``max_evaluations`` knob points. Every
batch runs as a :mod:`femion.sweep` of ``./evaluate`` (local cluster by
default; the config's ``[cluster]`` table, e.g. SLURM, is copied into every
batch's sweep file), each point one *part* of the targets for one knob vector,
so points run in parallel, the fit resumes after an interruption (finished
points are read back) and every point is in its batch's ``results.nc``.

Held-out design: the fit uses only the cheap parts (``analog``, ``arrhenius``,
``power``, ~1 min a point on the quick mesh); the digital-mode targets
(``volatile``, ``variability``, ``retention``: 1–9 min a point) are held out,
evaluated once at the start and once at the optimum, and their prediction
errors are reported. The digital-mode parts run without lithium, so the fitted
knobs barely reach them: the held-out screen (``[[screen_knobs]]``, parts
``screen_parts``) sets each V_O knob alone to each end of its range, the fitted
knobs at the optimum, and reports the knob value each held-out target would need
(:func:`needed_value`). Uncertainty: the scaled Jacobian at the optimum gives the
local sensitivities and the identifiability (singular values, collinearity
index, correlation of the knob estimates,
:func:`femion.calibration.identifiability`); a Morris screening
(``morris_trajectories``, SALib, :func:`femion.calibration.morris_screening`)
the global one. For a target out of reach the findings name the knob whose
linearised change would reach it with the smallest step and how far outside its
range that would be.

Write-back is a separate, explicit step (``write_back = true`` in the config
or :func:`femion.calibration.write_back`): fitted values inside their ranges
that the fit moved, and only if the cost fell, go into the material files
with ``source = "calibrated: studies/calibration"`` and the residuals and date
in the note. Every run writes the same into copies of the knobs' material
files in ``calibrated/`` (the proposal); the database changes only with the flag.

Outputs: ``batches/<hash>.toml`` and ``batches/<hash>/`` (each batch's sweep
file, per-point runs and ``results.nc``), ``trials.nc`` (every fitted knob
point: values, targets, residuals, cost, stage), ``fit.json`` (knobs, targets,
the residual table before/after, the held-out errors, batch wall times,
least-squares status, write-back), ``calibrated/<Material>.toml`` (the proposal), ``sensitivity.json`` (Jacobian,
identifiability, Morris), ``summary.json``, ``findings.md``,
``calibration.png`` (plot.py) and the provenance. ``fit.json`` also holds the screen (``held_out_screen``).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from femion.calibration import (
    OBSERVABLES,
    PARTS,
    BudgetSpent,
    SweepEvaluator,
    cost,
    forward_jacobian,
    identifiability,
    morris_screening,
    parse_knobs,
    parse_targets,
    residual_vector,
    write_back,
)
from femion.claims import PAPER_NUMBERS
from femion.config import StudyConfigError, load_study_config
from femion.io import write_dataset, write_run_metadata
from femion.materials import load_material
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
STUDY = "studies/calibration"
CONFIG_KEYS = {"knobs", "screen_knobs", "targets", "fit", "cluster"}
FIT_KEYS = {"max_evaluations", "quick_max_evaluations", "jacobian_step", "quick_knobs", "morris_trajectories",
            "quick_morris_trajectories", "held_out", "quick_held_out", "screen_parts", "quick_screen_parts", "write_back",
            "tolerance"}
FAR = 10.0
"""Extrapolations of :func:`needed_value` further than this many range widths past a range end are reported as not reached."""
PENALTY = math.log(10.0)
"""Residual given to the optimiser for a failed evaluation (stated penalty, stored as NaN in the trials)."""


def point_key(u: np.ndarray) -> tuple:
    """Identity of a scaled knob point (rounded to 1e-8: least squares moves a start on a bound 1e-10 inside)."""
    return tuple(np.round(np.clip(np.asarray(u, dtype=float), 0.0, 1.0), 8))


class Fit:
    """The fitted knob points: residuals of the fitted targets from batches of evaluator points, every point recorded."""

    def __init__(self, evaluator: SweepEvaluator, knobs, targets, budget: int):
        self.evaluator, self.knobs, self.targets, self.budget = evaluator, knobs, targets, budget
        self.parts = list(dict.fromkeys(t.part for t in targets))
        self.rows: dict[tuple, dict] = {}

    def values(self, u: np.ndarray) -> np.ndarray:
        """SI knob values at scaled point ``u``."""
        return np.array([k.to_value(x) for k, x in zip(self.knobs, np.clip(u, 0.0, 1.0))])

    def batch(self, points: list[np.ndarray], stage: str) -> list[np.ndarray]:
        """Residual vectors of ``points`` (scaled), evaluated in one sweep; raises BudgetSpent beyond the budget."""
        keys = [point_key(p) for p in points]
        new = [k for k in dict.fromkeys(keys) if k not in self.rows]
        if len(self.rows) + len(new) > self.budget:
            raise BudgetSpent
        requests = [(part, self.values(np.array(k))) for k in new for part in self.parts]
        records = self.evaluator.evaluate(requests, label=stage) if requests else []
        for index, key in enumerate(new):
            metrics, failures = {}, []
            for j, part in enumerate(self.parts):
                record = records[index * len(self.parts) + j]
                part_metrics = self.evaluator.metrics(record)
                metrics.update({t.name: part_metrics[t.name] for t in self.targets if t.part == part})
                if record["status"] != "done":
                    failures.append(f"{part}: {record.get('error')}")
            residual = residual_vector(metrics, self.targets)
            self.rows[key] = {"u": np.array(key), "values": self.values(np.array(key)), "metrics": metrics,
                              "residual": residual, "cost": cost(residual, PENALTY), "stage": stage,
                              "failure": "; ".join(failures), "order": len(self.rows)}
        return [np.where(np.isfinite(self.rows[k]["residual"]), self.rows[k]["residual"], PENALTY) for k in keys]

    def best(self) -> dict:
        """The recorded point of least cost."""
        return min(self.rows.values(), key=lambda row: (row["cost"], row["order"]))


def _settings(config: dict, quick: bool, origin: str) -> dict:
    table = config["fit"]
    if not isinstance(table, dict) or set(table) != FIT_KEYS:
        raise StudyConfigError(f"{origin}: [fit] must hold exactly {sorted(FIT_KEYS)}")
    prefix = "quick_" if quick else ""
    step = to_si(table["jacobian_step"], "", name="fit.jacobian_step", origin=origin, positive=True)
    if not step < 0.5:
        raise StudyConfigError(f"{origin}: fit.jacobian_step must be below 0.5 (a share of the scaled range), got {step!r}")
    flags = {}
    for key in ("held_out", "write_back"):
        value = table[prefix + key] if key == "held_out" else table[key]
        if not isinstance(value, bool):
            raise StudyConfigError(f"{origin}: fit.{prefix if key == 'held_out' else ''}{key} must be true or false")
        flags[key] = value
    parts = table[prefix + "screen_parts"]
    if not isinstance(parts, list) or not set(parts) <= set(PARTS) or len(set(parts)) != len(parts):
        raise StudyConfigError(f"{origin}: fit.{prefix}screen_parts must be a list of distinct parts of {list(PARTS)}, got {parts!r}")
    if parts and not flags["held_out"]:
        raise StudyConfigError(f"{origin}: fit.{prefix}screen_parts needs fit.{prefix}held_out = true (the screen's middle point)")
    tolerance = to_si(table["tolerance"], "", name="fit.tolerance", origin=origin, positive=True)
    if not tolerance < 0.1:
        raise StudyConfigError(f"{origin}: fit.tolerance must be below 0.1, got {tolerance!r}")
    return {
        "tolerance": tolerance,
        "screen_parts": parts,
        "budget": to_integer(table[prefix + "max_evaluations"], name=f"fit.{prefix}max_evaluations", origin=origin, minimum=2),
        "step": step,
        "knobs": to_integer(table["quick_knobs"], name="fit.quick_knobs", origin=origin, minimum=1) if quick else None,
        "morris": to_integer(table[prefix + "morris_trajectories"], name=f"fit.{prefix}morris_trajectories", origin=origin, minimum=0),
        **flags,
    }


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Fit, screen, check on the held-out targets; write the outputs into ``outdir``; return the summary."""
    from scipy.optimize import least_squares

    began = time.perf_counter()
    origin = str(HERE / "config.toml")
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    settings = _settings(config, quick, origin)
    knobs = parse_knobs(config["knobs"], device, origin)
    screen_knobs = parse_knobs(config["screen_knobs"], device, f"{origin} [[screen_knobs]]", max_knobs=10 - len(knobs)) \
        if config["screen_knobs"] else []  # with the fitted ones at most 10 named parameters
    if settings["knobs"] is not None:
        knobs = knobs[: settings["knobs"]]
    targets = parse_targets(config["targets"], origin)
    unknown = sorted({t.part for t in targets} - set(PARTS))
    if unknown:
        raise StudyConfigError(f"{origin}: targets name parts {unknown}; the evaluator has {list(PARTS)}")
    if not isinstance(config["cluster"], dict):
        raise StudyConfigError(f"{origin}: [cluster] must be a table (femion.sweep's)")
    fitted = [t for t in targets if t.fit]
    held = [t for t in targets if not t.fit]
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    evaluator = SweepEvaluator(HERE / "evaluate", outdir, knobs, list(OBSERVABLES), quick=False, cluster=config["cluster"])
    fit = Fit(evaluator, knobs, fitted, settings["budget"])
    u0 = np.array([k.to_scaled(k.start) for k in knobs])
    held_parts = list(dict.fromkeys(t.part for t in held)) if settings["held_out"] else []

    # 1. The start: the fitted parts and (in the same batch, in parallel) the held-out parts.
    if held_parts:
        evaluator.evaluate([(part, fit.values(u0)) for part in [*fit.parts, *held_parts]], label="start (fitted and held-out parts)")
    fit.batch([u0], "start")
    start = fit.rows[point_key(u0)]

    # 2. The fit.
    def residuals(u: np.ndarray) -> np.ndarray:
        return fit.batch([u], "fit")[0]

    def jacobian(u: np.ndarray) -> np.ndarray:
        return forward_jacobian(lambda points: fit.batch(points, "jacobian"), u, settings["step"])[1]

    status, message = None, ""
    try:
        solution = least_squares(residuals, u0, jac=jacobian, bounds=(0.0, 1.0), method="trf", x_scale=1.0,
                                 ftol=settings["tolerance"], xtol=settings["tolerance"], max_nfev=settings["budget"])
        status, message = int(solution.status), str(solution.message)
    except BudgetSpent:
        status, message = 0, f"stopped at the budget of {settings['budget']} knob points (Jacobian points included)"
    best = fit.best()
    # The scaled Jacobian at the optimum (reuses the fit's last batch when it was taken there).
    fit.budget = len(fit.rows) + len(knobs) + 1
    try:
        _, jac = forward_jacobian(lambda points: fit.batch(points, "jacobian"), best["u"], settings["step"])
    except BudgetSpent:  # cannot happen: the budget was just raised by n + 1
        jac = np.full((len(fitted), len(knobs)), np.nan)
    local = identifiability(jac, [k.name for k in knobs], [t.name for t in fitted])

    # 3. The held-out parts at the optimum.
    held_metrics, held_failures = {"start": {}, "best": {}}, {}
    if held_parts:
        for label, values in (("start", fit.values(u0)), ("best", best["values"])):
            records = evaluator.evaluate([(part, values) for part in held_parts], label=f"held-out parts at the {label}")
            for part, record in zip(held_parts, records):
                metrics = evaluator.metrics(record)
                held_metrics[label].update({name: metrics[name] for name in PARTS[part]})
                if record["status"] != "done":
                    held_failures[f"{part} at the {label}"] = " ".join(str(record.get("error")).split())[:300]

    screen, screen_failures = [], {}
    if settings["screen_parts"]:
        screen, screen_failures, screen_batches = held_out_screen(
            lambda moved: SweepEvaluator(HERE / "evaluate", outdir, [*knobs, moved], list(OBSERVABLES), quick=False, cluster=config["cluster"]),
            screen_knobs, best["values"], settings["screen_parts"], held_metrics["best"],
            [t for t in held if t.part in settings["screen_parts"]])
        evaluator.batches += screen_batches
        evaluator.computed += sum(b["computed"] for b in screen_batches)
        held_failures.update(screen_failures)

    table = residual_table([t for t in targets if t.fit or held_parts], start, best, held_metrics)  # held out: if run
    reach = out_of_reach(fitted, knobs, best, jac)
    trials_dataset(fit, knobs, fitted, outdir / "trials.nc")
    # Write-back: always as a proposal (copies of the knobs' material files in outdir/calibrated), into the
    # database itself only when the config says so.
    note = "fit residuals " + ", ".join(f"{row['target']} {row['residual_after']:+.3g}" for row in table if row["fitted"]) \
        + f"; cost {start['cost']:.4g} -> {best['cost']:.4g}"
    proposal = outdir / "calibrated"
    proposal.mkdir(exist_ok=True)
    for material in {m for k in knobs for m in k.materials}:
        shutil.copy(load_material(material).path, proposal / f"{material}.toml")
    proposed = write_back(knobs, best["values"], STUDY, note, start_cost=start["cost"], best_cost=best["cost"], folder=proposal)
    wrote = write_back(knobs, best["values"], STUDY, note, start_cost=start["cost"], best_cost=best["cost"]) \
        if settings["write_back"] else None
    result = {
        "knobs": [{"name": k.name, "low": k.low, "high": k.high, "unit": k.unit, "scale": "log" if k.log else "linear",
                   "start": k.start, "source": k.source, "range_source": k.range_source} for k in knobs],
        "targets": [{"name": t.name, "paper": t.paper, "kind": t.kind, "weight": t.weight, "scale": t.scale, "part": t.part,
                     "fit": t.fit} for t in targets],
        "residual_definition": "log: w ln(f/paper); relative: w (f - paper)/|paper|; linear: w (f - paper)/scale; "
                               "lower: w min(0, ln(f/paper)); cost 0.5 sum r^2 over the fitted targets, a failed value "
                               f"counting {PENALTY:.4g} (ln 10)",
        "evaluations": len(fit.rows),
        "budget": settings["budget"],
        "least_squares_status": status,
        "least_squares_message": message,
        "start_cost": start["cost"],
        "best_cost": best["cost"],
        "best_values": {k.name: float(v) for k, v in zip(knobs, best["values"])},
        "best_scaled": {k.name: float(x) for k, x in zip(knobs, best["u"])},
        "at_range_edge": {k.name: bool(x < 1e-6 or x > 1 - 1e-6) for k, x in zip(knobs, best["u"])},
        "residual_table": table,
        "out_of_reach": reach,
        "screen_knobs": [{"name": k.name, "low": k.low, "high": k.high, "unit": k.unit, "scale": "log" if k.log else "linear",
                          "start": k.start, "source": k.source, "range_source": k.range_source} for k in screen_knobs] if settings["screen_parts"] else [],
        "held_out_screen": screen,
        "batches": evaluator.batches,
        "points_computed": evaluator.computed,
        "held_out_failures": held_failures,
        "write_back_proposal": {**proposed, "folder": str(proposal)},
        "write_back": wrote,
        "wall_time_s": time.perf_counter() - began,
    }
    sensitivity = {"jacobian": jac.tolist(), "jacobian_step": settings["step"], "at": result["best_scaled"], **local}
    (outdir / "fit.json").write_text(json.dumps(result, indent=2, default=float))
    (outdir / "sensitivity.json").write_text(json.dumps(sensitivity, indent=2, default=float))

    # 4. Global screening (last: the costliest optional step).
    if settings["morris"] > 0:
        fit.budget = len(fit.rows) + settings["morris"] * (len(knobs) + 1)
        sensitivity["morris"] = morris_screening(lambda points: fit.batch(points, "morris"), [k.name for k in knobs],
                                                 [t.name for t in fitted], settings["morris"])
        (outdir / "sensitivity.json").write_text(json.dumps(sensitivity, indent=2, default=float))
        trials_dataset(fit, knobs, fitted, outdir / "trials.nc")
        result["batches"], result["points_computed"] = evaluator.batches, evaluator.computed
    result["wall_time_s"] = time.perf_counter() - began
    result["batch_log"] = batch_log(outdir)
    lowest = fit.best()
    result["lowest_cost_point"] = {"cost": lowest["cost"], "stage": lowest["stage"], "order": lowest["order"],
                                   "values": {k.name: float(v) for k, v in zip(knobs, lowest["values"])}}
    (outdir / "fit.json").write_text(json.dumps(result, indent=2, default=float))

    within = {row["target"]: row["within_after"] for row in table}
    summary = {
        "quick": quick,
        "failure": None if math.isfinite(best["cost"]) else "no fitted point gave a finite cost",
        "knobs": [k.name for k in knobs],
        "evaluations": len(fit.rows),
        "start_cost": start["cost"],
        "best_cost": best["cost"],
        "best_values": result["best_values"],
        "paper_numbers_within_25_percent_before": paper_count(table, "within_before")[0],
        "paper_numbers_within_25_percent_after": paper_count(table, "within_after")[0],
        "paper_numbers": paper_count(table, "within_after")[1],
        "within_25_percent_before": sum(bool(row["within_before"]) for row in table),
        "within_25_percent_after": sum(bool(v) for v in within.values()),
        "targets_evaluated": len(table),
        "sensitivity_ranking": local["ranking"],
        "collinearity_index": local["collinearity"],
        **{f"after_{row['target']}": row["after"] for row in table},
        **{f"before_{row['target']}": row["before"] for row in table},
        "wall_time_s": result["wall_time_s"],
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(result, sensitivity))
    write_run_metadata(outdir, device, {"study": "calibration", "summary": summary})
    print(findings(result, sensitivity))
    return summary


PAIRS = (("variation_v_th", "variation_v_hold"), ("variation_lrs", "variation_hrs"))
"""Targets the paper states as one number pair ("V_th/V_hold 4/2 %", "LRS/HRS 3/7 %"): one of its 13 numbers each."""


def paper_count(table: list[dict], key: str) -> tuple[int, int]:
    """(met, total) over the paper's numbers: a pair of :data:`PAIRS` counts once, met when both are."""
    met = {row["target"]: bool(row[key]) for row in table}
    paired = {name for pair in PAIRS for name in pair if all(n in met for n in pair)}
    groups = [[name] for name in met if name not in paired] + [list(pair) for pair in PAIRS if set(pair) <= paired]
    return sum(all(met[n] for n in group) for group in groups), len(groups)


def residual_table(targets, start: dict, best: dict, held: dict) -> list[dict]:
    """Per target: paper value, femion before (start) and after (optimum), residuals and the ±25 % check."""
    rows = []
    for t in targets:
        before = start["metrics"].get(t.name, held["start"].get(t.name, float("nan"))) if t.fit else held["start"].get(t.name, float("nan"))
        after = best["metrics"].get(t.name, float("nan")) if t.fit else held["best"].get(t.name, float("nan"))
        rows.append({"target": t.name, "fitted": t.fit, "part": t.part, "paper": t.paper, "before": before, "after": after,
                     "residual_before": t.residual(before), "residual_after": t.residual(after),
                     "relative_error_after": after / t.paper - 1.0 if math.isfinite(after) else float("nan"),
                     "within_before": t.within(before), "within_after": t.within(after)})
    return rows


def band_edge(target, value: float) -> float:
    """The edge of the target's ±25 % band nearer to ``value`` (0.75·paper for a lower bound)."""
    if target.kind == "lower":
        return 0.75 * target.paper
    return min((0.75 * target.paper, 1.25 * target.paper), key=lambda e: abs(e - value))


def past_range(knob, u: float, needed: float) -> str:
    """How far a knob value ``needed`` at scaled ``u`` lies past its range: a factor of the end (log knobs) or a
    difference in the knob's unit (linear knobs); ``"inside"`` for u in [0, 1]."""
    if 0.0 <= u <= 1.0:
        return "inside"
    end = knob.high if u > 1.0 else knob.low
    return f"x{needed / end:.3g} of the range end" if knob.log else f"{needed - end:+.3g} {knob.unit} past the range end"


def out_of_reach(targets, knobs, best: dict, jac: np.ndarray) -> list[dict]:
    """For each fitted target outside ±25 % at the optimum: the knob that reaches the band with the least linearised step.

    The residual r_i is moved to the nearer band edge r_i* (the residual at paper·(1 ± 0.25), or at 0.75·paper for a
    lower bound) along one knob: Δu_j = (r_i* − r_i)/J_ij. The knobs that stay in their ranges come first, then by |Δu_j|;
    each with the value it would need (extrapolated on its scale) and how far that lies outside its range (a knob more
    than :data:`FAR` range widths out is said not to reach the band). Linearised: an estimate.
    """
    out = []
    for i, t in enumerate(targets):
        value = best["metrics"].get(t.name, float("nan"))
        if t.within(value) or not math.isfinite(value):
            continue
        goal, now = t.residual(band_edge(t, value)), t.residual(value)
        options = []
        for j, k in enumerate(knobs):
            slope = jac[i, j] if jac.size else float("nan")
            if not math.isfinite(slope) or abs(slope) < 1e-12:
                continue
            du = (goal - now) / slope
            u = best["u"][j] + du
            needed = k.to_value(u) if (not k.log or abs(u) < 50) else float("inf")
            beyond = 0.0 if 0.0 <= u <= 1.0 else (u - 1.0 if u > 1.0 else -u)
            far = f"; more than {FAR:g} range widths out: the knob does not reach the band" if beyond > FAR else ""
            options.append({"knob": k.name, "delta_u": float(du), "u_needed": float(u), "value_needed": float(needed),
                            "inside_range": bool(0.0 <= u <= 1.0), "beyond_range_in_ranges": float(beyond),
                            "beyond_range": past_range(k, u, needed) + far})
        options.sort(key=lambda o: (not o["inside_range"], abs(o["delta_u"])))
        out.append({"target": t.name, "value": value, "paper": t.paper, "options": options[:3]})
    return out


def held_out_screen(evaluator_for, screen_knobs, best_values, parts: list[str], middle: dict,
                    targets) -> tuple[list[dict], dict, list[dict]]:
    """The held-out targets at each end of every screen knob's range, the fitted knobs at the optimum.

    Each screen knob is moved alone (the others keep their database values and are not overridden), so a point's
    identity holds only the fitted knobs and the knob it moves: editing the screen list recomputes only new knobs.

    Parameters
    ----------
    evaluator_for : callable
        ``evaluator_for(knob)`` -> :class:`femion.calibration.SweepEvaluator` whose knobs are the fitted knobs
        followed by ``knob``.
    screen_knobs : list of Knob
    best_values : ndarray
        Fitted knob values at the optimum (SI).
    parts : list of str
        Held-out parts evaluated.
    middle : dict
        The held-out metrics at the optimum with every screen knob at its database value (the screen's middle point).
    targets : list of Target
        Held-out targets of ``parts``.

    Returns
    -------
    (list of dict, dict, list of dict)
        Per (target, screen knob): the values at the low end, the database value and the high end, whether an end
        lies within ±25 % of the paper, and the knob value the target needs (:func:`needed_value`); the failures
        by point; the batches run (:attr:`femion.calibration.SweepEvaluator.batches`).
    """
    values, failures, batches = {}, {}, []
    for k in screen_knobs:
        evaluator = evaluator_for(k)
        requests = [(part, [*best_values, value]) for value in (k.low, k.high) for part in parts]
        records = evaluator.evaluate(requests, label=f"held-out screen: {k.name} at its range ends")
        batches += evaluator.batches
        for (part, point), record in zip(requests, records):
            end = "low" if point[-1] == k.low else "high"
            metrics = evaluator.metrics(record)
            values.setdefault((k.name, end), {}).update({name: metrics[name] for name in PARTS[part]})
            if record["status"] != "done":
                failures[f"{part} at {k.name} = {end} end"] = " ".join(str(record.get("error")).split())[:300]
    rows = []
    for t in targets:
        for k in screen_knobs:
            low, mid, high = values[(k.name, "low")][t.name], middle.get(t.name, float("nan")), values[(k.name, "high")][t.name]
            need = needed_value(t, k, [(0.0, low), (k.to_scaled(k.start), mid), (1.0, high)])
            rows.append({"target": t.name, "paper": t.paper, "knob": k.name, "at_low": low, "at_database": mid, "at_high": high,
                         "within_at_an_end": bool(t.within(low) or t.within(high)), **need})
    return rows, failures, batches


def needed_value(target, knob, points: list[tuple[float, float]]) -> dict:
    """The knob value at which ``target`` reaches its ±25 % band, from its values at scaled knob points (piecewise linear).

    The residual (:meth:`femion.calibration.Target.residual`) is interpolated linearly in the scaled knob u between the
    points. When no segment reaches the edge of the band nearer to the value closest to the paper, the end segment
    nearer to that edge is extrapolated outwards (an estimate); if moving outwards leads away from the band, or the
    band lies more than :data:`FAR` range widths out, the knob does not reach it.

    Parameters
    ----------
    target : femion.calibration.Target
    knob : femion.calibration.Knob
    points : list of (float, float)
        (scaled knob value u in [0, 1], target value) pairs; NaN values are left out.

    Returns
    -------
    dict
        ``u_needed`` (NaN when the knob does not reach the band), ``value_needed`` [SI], ``inside_range`` and
        ``beyond_range`` (text).
    """
    data = sorted((u, v, target.residual(v)) for u, v in points if math.isfinite(v))
    unreached = {"u_needed": float("nan"), "value_needed": float("nan"), "inside_range": False}
    if len(data) < 2:
        return {**unreached, "beyond_range": "too few finite values"}
    inside = [d for d in data if target.within(d[1])]
    if inside:
        return {"u_needed": inside[0][0], "value_needed": knob.to_value(inside[0][0]), "inside_range": True, "beyond_range": "inside"}
    closest = min(data, key=lambda d: abs(d[2]))[1]
    goal = target.residual(band_edge(target, closest))
    u = float("nan")
    for (u0, _, r0), (u1, _, r1) in zip(data, data[1:]):
        if r0 != r1 and min(r0, r1) <= goal <= max(r0, r1):
            u = u0 + (goal - r0) * (u1 - u0) / (r1 - r0)
            break
    else:
        (ue, _, re), (un, _, rn) = min(((data[0], data[1]), (data[-1], data[-2])), key=lambda pair: abs(pair[0][2] - goal))
        if re != rn:
            candidate = ue + (goal - re) * (ue - un) / (re - rn)
            if not 0.0 <= candidate <= 1.0:  # inside would mean the band lies the other way: outwards leads away from it
                u = candidate
    if not math.isfinite(u):
        return {**unreached, "beyond_range": "not reached: the knob moves it away from the band or not at all"}
    if not -FAR <= u <= 1.0 + FAR:
        return {**unreached, "u_needed": float(u), "beyond_range": f"not reached within {FAR:g} range widths past an end (the knob barely moves it)"}
    needed = knob.to_value(u)
    beyond = past_range(knob, u, needed)
    if beyond != "inside":
        beyond += " (extrapolated)"
    return {"u_needed": float(u), "value_needed": float(needed), "inside_range": bool(0.0 <= u <= 1.0), "beyond_range": beyond}


def trials_dataset(fit: Fit, knobs, targets, path: Path) -> None:
    """Every fitted knob point in ``trials.nc`` (dimension ``trial``, in evaluation order)."""
    import xarray as xr

    rows = sorted(fit.rows.values(), key=lambda row: row["order"])
    data = xr.Dataset(
        {
            **{k.name: ("trial", [r["values"][j] for r in rows], {"units": k.unit or "1"}) for j, k in enumerate(knobs)},
            "u": (("trial", "knob"), np.array([r["u"] for r in rows]), {"units": "1", "long_name": "scaled knob value"}),
            **{f"value_{t.name}": ("trial", [r["metrics"].get(t.name, np.nan) for r in rows],
                                   {"units": PAPER_NUMBERS[t.name].si_unit or "1"}) for t in targets},
            "residual": (("trial", "target"), np.array([r["residual"] for r in rows]), {"units": "1"}),
            "cost": ("trial", [r["cost"] for r in rows], {"units": "1"}),
            "stage": ("trial", [r["stage"] for r in rows]),
            "failure": ("trial", [r["failure"] for r in rows]),
        },
        coords={"trial": ("trial", np.arange(len(rows)), {"units": "1"}), "knob": [k.name for k in knobs], "target": [t.name for t in targets]},
        attrs={"cost": "0.5 * sum(residual**2), failed residual = ln 10", "targets_si": json.dumps({t.name: t.paper for t in targets})},
    )
    write_dataset(path, data)


def batch_log(outdir: Path) -> list[dict]:
    """Every batch sweep in ``outdir/batches`` from its point records (this run's and earlier ones'), in time order.

    Per batch: the parts it ran, points, failed points, the span from the first point's start to the last one's end [s] (wall time of the batch
    as run, whatever run of the study ran it) and the summed point wall times [s].
    """
    import datetime as dt

    rows = []
    for folder in sorted(p for p in (outdir / "batches").glob("*") if p.is_dir()):
        records = [json.loads(f.read_text()) for f in folder.glob("points/*/result.json")]
        if not records:
            continue
        starts = [dt.datetime.fromisoformat(r["started"]) for r in records]
        ends = [dt.datetime.fromisoformat(r["finished"]) for r in records]
        rows.append({"batch": folder.name, "parts": sorted({r["parameters"]["config.part"] for r in records}),
                     "points": len(records), "failed": sum(r["status"] != "done" for r in records),
                     "first_start": min(starts).isoformat(), "span_s": (max(ends) - min(starts)).total_seconds(),
                     "point_time_sum_s": sum(r["wall_time_s"] for r in records)})
    return sorted(rows, key=lambda row: row["first_start"])


def _fmt(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, float) and math.isfinite(value) else str(value)


def findings(result: dict, sensitivity: dict) -> str:
    """The calibration's findings as Markdown: residual table, sensitivities, identifiability, held-out errors."""
    lines = ["# Calibration against the paper's numbers (studies/calibration)", ""]
    lines.append(f"- {result['evaluations']} fitted knob points (budget {result['budget']}); least squares: "
                 f"{result['least_squares_message'].rstrip('.')}. Cost {result['start_cost']:.4g} (database values) -> {result['best_cost']:.4g}.")
    low = result.get("lowest_cost_point")
    if low and low["cost"] < result["best_cost"]:
        stop = ("The fit stopped at its budget, not converged." if result["least_squares_status"] == 0 else
                f"The iterations stopped on the tolerance while this probe, one Jacobian step away, costs "
                f"{1 - low['cost'] / result['best_cost']:.2g} less: the optimum is known to about that share of the cost.")
        lines.append(f"- The fitted values below are the best point the least-squares iterations reached; a later probe "
                     f"({low['stage']} point {low['order']}) costs {low['cost']:.4g}: " + ", ".join(
                         f"{k} = {v:.4g}" for k, v in low["values"].items() if not math.isclose(v, result["best_values"][k], rel_tol=1e-6))
                     + f". {stop}")
    lines.append("- Knobs (range, source of the range, scale, source of the start value) -> fitted value:")
    for k in result["knobs"]:
        edge = " (at a range end)" if result["at_range_edge"][k["name"]] else ""
        lines.append(f"  - {k['name']}: [{k['low']:.4g}, {k['high']:.4g}] {k['unit']} ({k['range_source']}), {k['scale']}, "
                     f"{k['source']}: {k['start']:.4g} -> {result['best_values'][k['name']]:.4g}{edge}")
    assumed = [k["name"] for k in result["knobs"] if k["range_source"] == "assumed"]
    lines.append(f"- Knobs searched in a range with no literature source: {', '.join(assumed)}. Their fitted values are "
                 "inside an assumed range, not a literature one." if assumed else
                 "- Every knob's range is a literature range (its source is named above).")
    lines += ["", "| target | set | paper (SI) | femion before | femion after | residual before | after | within ±25 % before / after |",
              "|---|---|---|---|---|---|---|---|"]
    for row in result["residual_table"]:
        lines.append(f"| {row['target']} | {'fit' if row['fitted'] else 'held out'} | {row['paper']:.4g} | {_fmt(row['before'])} | "
                     f"{_fmt(row['after'])} | {_fmt(row['residual_before'])} | {_fmt(row['residual_after'])} | "
                     f"{'yes' if row['within_before'] else 'no'} / {'yes' if row['within_after'] else 'no'} |")
    n = len(result["residual_table"])
    before = sum(row["within_before"] for row in result["residual_table"])
    after = sum(row["within_after"] for row in result["residual_table"])
    (b13, n13), (a13, _) = paper_count(result["residual_table"], "within_before"), paper_count(result["residual_table"], "within_after")
    lines += ["", f"- Within ±25 %: {before}/{n} targets before, {after}/{n} after; counted as the paper's numbers (a "
                  f"V_th/V_hold or LRS/HRS pair once, met when both are): {b13}/{n13} before, {a13}/{n13} after (goal ≥ 10/13)."]
    held = [row for row in result["residual_table"] if not row["fitted"]]
    if held:
        lines.append("- Held-out targets (not fitted; predicted at the optimum): " + ", ".join(
            f"{row['target']} {_fmt(row['after'])} vs {row['paper']:.3g} (error {_fmt(row['relative_error_after'])})" for row in held))
    lines += ["", "## Sensitivity and identifiability (scaled Jacobian at the optimum)", ""]
    lines.append("- Ranking (RMS change of the weighted residuals per full range, linearised): " + ", ".join(
        f"{name} {sensitivity['importance'][name]:.3g}" for name in sensitivity["ranking"]))
    lines.append(f"- Singular values: {', '.join(f'{s:.3g}' for s in sensitivity['singular_values'])}; collinearity index "
                 f"{sensitivity['collinearity']:.3g} (Brun et al. 2001: above 10-15 the knobs cannot all be told apart by "
                 "these targets).")
    names = sensitivity["knobs"]
    corr = np.array(sensitivity["correlation"], dtype=float)
    pairs = [(abs(corr[i, j]), names[i], names[j], corr[i, j]) for i in range(len(names)) for j in range(i + 1, len(names))
             if np.isfinite(corr[i, j])]
    pairs.sort(reverse=True)
    if pairs:
        lines.append("- Strongest trade-offs (correlation of the estimates): " + ", ".join(
            f"{a}/{b} {c:+.2f}" for _, a, b, c in pairs[:3]))
    lines.append("- Least determined combination (smallest singular value): " + ", ".join(
        f"{name} {w:+.2f}" for name, w in sensitivity["null_direction"].items() if abs(w) > 0.2))
    if "morris" in sensitivity:
        lines += ["", "## Morris screening (μ* per unit scaled range)", ""]
        for output, row in sensitivity["morris"]["outputs"].items():
            ranked = sorted(row["mu_star"].items(), key=lambda kv: -kv[1] if math.isfinite(kv[1]) else 0)
            lines.append(f"- {output}: " + ", ".join(f"{k} {v:.3g}" for k, v in ranked[:3]))
    if result["out_of_reach"]:
        lines += ["", "## Fitted targets out of reach (linearised at the optimum)", ""]
        for row in result["out_of_reach"]:
            if not row["options"]:
                lines.append(f"- {row['target']} ({_fmt(row['value'])} vs {row['paper']:.3g}): no knob moves it.")
                continue
            o = row["options"][0]
            lines.append(f"- {row['target']} ({_fmt(row['value'])} vs {row['paper']:.3g}): cheapest knob {o['knob']}, needs "
                         f"{o['value_needed']:.3g} ({o['beyond_range']}).")
    if result.get("held_out_screen"):
        lines += ["", "## Held-out targets against the V_O knobs (each knob at its range ends, the fitted knobs at the optimum)", "",
                  "| target | paper | knob | at low end | at database value | at high end | within ±25 % at an end | value needed |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in result["held_out_screen"]:
            needed = row["beyond_range"] if not math.isfinite(row["value_needed"]) else \
                f"{row['value_needed']:.3g} ({row['beyond_range']})"
            lines.append(f"| {row['target']} | {row['paper']:.3g} | {row['knob']} | {_fmt(row['at_low'])} | {_fmt(row['at_database'])} | "
                         f"{_fmt(row['at_high'])} | {'yes' if row['within_at_an_end'] else 'no'} | {needed} |")
    proposal = result["write_back_proposal"]
    lines += ["", f"- Write-back proposal ({proposal['folder']}, source \"calibrated: {STUDY}\"): would write "
              f"{list(proposal['written']) or 'nothing'}; skipped: {proposal['skipped'] or 'none'}."]
    if result["write_back"] is not None:
        lines += [f"- Written into the materials database: {list(result['write_back']['written'])}."]
    else:
        lines += ["- Nothing written into the materials database (config fit.write_back = false)."]
    for what, reason in result.get("held_out_failures", {}).items():
        lines.append(f"- Held-out part {what} FAILED: {reason}")
    lines += ["", "## Batches (sweeps of ./evaluate, from their point records; span = first start to last end)", ""]
    for b in result.get("batch_log", []):
        lines.append(f"- {b['batch']} ({', '.join(b['parts'])}): {b['points']} points, {b['failed']} failed, span "
                     f"{b['span_s']:.0f} s, point times summed {b['point_time_sum_s']:.0f} s, started {b['first_start'][:19]}")
    return "\n".join(lines) + "\n"
