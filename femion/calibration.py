"""Calibration machinery: named knobs with literature ranges, residuals against the paper, batched evaluations.

A calibration fits a few material values (*knobs*) of the database to the
paper's quantitative targets (:data:`femion.claims.PAPER_NUMBERS`). This
module holds what every calibration study shares:

* :class:`Knob` and :func:`parse_knobs`: a material value searched inside a
  range, in a scaled coordinate u ∈ [0, 1] (linear, or logarithmic for values
  spanning decades), so that a step in u is the same share of every range;
* :class:`Target` and :func:`residual_vector`: the residual definition
  (logarithmic ln(f/paper), relative (f − paper)/|paper|, linear
  (f − paper)/scale, or a lower bound), each multiplied by its weight, and the
  ±25 % band of :data:`femion.claims.RELATIVE_TOLERANCE`;
* :func:`forward_jacobian`: the Jacobian ∂r/∂u by forward differences from one
  batch of n + 1 points (backward at the upper end of a range), the points
  evaluated together (in parallel);
* :class:`SweepEvaluator`: every batch of points is a :mod:`femion.sweep` run
  of an evaluator study (material values passed as ``material.<M>.<p>``
  overrides, :func:`femion.config.override_materials`); finished points are
  found again on disk, so an interrupted fit resumes, and every point is in a
  results store (``results.nc`` of its batch);
* :func:`identifiability` and :func:`morris_screening`: the local (scaled
  Jacobian: singular values, parameter correlation) and global (Morris
  elementary effects with SALib) view of which knobs the targets pin down;
* :func:`write_back`: the explicit step that writes fitted values into the
  material files with ``source = "calibrated: studies/<name>"``;
* :data:`PARTS` and :data:`OBSERVABLES`: the parts of the paper's targets the
  evaluator of ``studies/calibration`` (``studies/calibration/evaluate``)
  computes, and the summary keys every one of its points reports.

References: the trust-region reflective least squares of
:func:`scipy.optimize.least_squares` (Branch, Coleman & Li, SIAM J. Sci.
Comput. 21, 1 (1999)); Morris, Technometrics 33, 161 (1991) and the μ*
measure of Campolongo, Cariboni & Saltelli, Environ. Model. Softw. 22, 1509
(2007); the scaled-Jacobian identifiability analysis of Brun, Reichert &
Künsch, Water Resour. Res. 37, 1015 (2001).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from femion.config import StudyConfigError
from femion.materials import ASSUMED, CALIBRATED, PROPERTY_UNITS, load_material, rewrite_entry
from femion.units import UnitError, to_si, value_unit_to_si

__all__ = [
    "BudgetSpent",
    "Knob",
    "OBSERVABLES",
    "PARTS",
    "SweepEvaluator",
    "Target",
    "cost",
    "file_value",
    "forward_jacobian",
    "identifiability",
    "morris_screening",
    "parse_knobs",
    "parse_targets",
    "residual_vector",
    "write_back",
    "within_band",
]

KINDS = ("log", "relative", "linear", "lower")
"""Residual kinds of a :class:`Target` (see :meth:`Target.residual`)."""

PARTS: dict[str, tuple[str, ...]] = {
    "analog": ("G_max_over_G_min", "nonlinearity_label_LTP", "nonlinearity_label_LTD", "c2c_variation"),
    "arrhenius": ("li_activation_energy",),
    "power": ("areal_capacitance", "energy", "power"),
    "volatile": ("selectivity", "off_current"),
    "variability": ("variation_v_th", "variation_v_hold", "variation_lrs", "variation_hrs"),
    "retention": ("retention_time",),
}
"""Parts of the calibration evaluator (``studies/calibration/evaluate``, its ``config.part``) -> the summary keys each
computes: names of :data:`femion.claims.PAPER_NUMBERS`, values in their ``si_unit`` (``nonlinearity_label_*``, ``c2c_variation``
and ``variation_*`` [1], ``li_activation_energy`` [eV], ``areal_capacitance`` [F/m²], ``energy`` [J/m²], ``power``
[W/m²], ``off_current`` [A], ``retention_time`` [s]). A :class:`Target`'s ``part`` names one of them."""

OBSERVABLES: tuple[str, ...] = tuple(name for names in PARTS.values() for name in names)
"""Every summary key of the calibration evaluator, in :data:`PARTS` order: each point reports all of them (NaN outside
its part), as the results store of a :class:`SweepEvaluator` needs."""


class BudgetSpent(Exception):
    """Raised when a fit has used its model evaluations (the Jacobian's points count too)."""


# ---------------------------------------------------------------------------------------------------------------------
# Knobs


@dataclass(frozen=True)
class Knob:
    """One fitted value: ``property`` set to one value in every material of ``materials``.

    Attributes
    ----------
    materials : tuple of str
        Material names (as in their files); the value is the same in each.
    property : str
        Property name (:data:`femion.materials.PROPERTY_UNITS`).
    low, high : float
        Search range in SI (the literature range of the database, or a narrower one).
    log : bool
        Logarithmic scaled coordinate (values spanning decades); needs low > 0.
    start : float
        The database value in SI (the fit's start, clipped into the range).
    source : str
        Source of the database value (a references.bib key, "assumed" or "calibrated: studies/<name>").
    range_source : str
        Source of the range (:attr:`femion.materials.Parameter.range_source`: a references.bib key for a
        literature range, else "assumed"; "assumed" for a range the study config gives).
    """

    materials: tuple[str, ...]
    property: str
    low: float
    high: float
    log: bool = False
    start: float = float("nan")
    source: str = ""
    range_source: str = "assumed"

    @property
    def literature_range(self) -> bool:
        """True if the search range is a literature range (its source a references.bib key)."""
        return self.range_source != ASSUMED

    @property
    def name(self) -> str:
        """``WO3.property`` or ``WO3+MoO3.property``."""
        return f"{'+'.join(self.materials)}.{self.property}"

    @property
    def unit(self) -> str:
        """SI unit of the value (``""``: dimensionless)."""
        return PROPERTY_UNITS[self.property]

    def to_value(self, u: float) -> float:
        """SI value at scaled coordinate ``u`` (0: ``low``, 1: ``high``; log or linear in between)."""
        u = float(u)
        if self.log:
            return float(self.low * (self.high / self.low) ** u)
        return float(self.low + u * (self.high - self.low))

    def to_scaled(self, value: float) -> float:
        """Scaled coordinate u of an SI value (inverse of :meth:`to_value`)."""
        if self.log:
            return float(math.log(value / self.low) / math.log(self.high / self.low))
        return float((value - self.low) / (self.high - self.low))

    def overrides(self, value: float) -> dict[str, str]:
        """``material.<M>.<property>`` overrides (:func:`femion.config.override_materials`) setting ``value`` [SI]."""
        text = f"{float(value):.10g} {self.unit}".strip()
        return {f"material.{material}.{self.property}": text for material in self.materials}

    def inside(self, value: float) -> bool:
        """Whether ``value`` lies in [low, high] (to 1e-9 relative)."""
        tolerance = 1e-9 * max(abs(self.low), abs(self.high))
        return self.low - tolerance <= value <= self.high + tolerance


def parse_knobs(entries: Any, device, origin: str, max_knobs: int = 10) -> list[Knob]:
    """Validate ``[[knobs]]`` tables against the device and the materials database.

    Each table holds ``materials`` (a list of material names, or ``material``,
    one name), ``property``, ``scale`` (``"log"`` or ``"linear"``) and
    optionally ``low`` and ``high`` (quantities, ``"0.1 A/m^2"``, or bare
    numbers for dimensionless values). Without them the range is the
    database's ``range`` of the property (the intersection over the
    materials): the literature range when the value has a source.

    Parameters
    ----------
    entries : list of dict
        The tables.
    device : femion.config.Device
        Its layer materials are the ones a knob may name.
    origin : str
        The config file (for messages).
    max_knobs : int
        Most knobs allowed.

    Returns
    -------
    list of Knob

    Raises
    ------
    StudyConfigError
        One line naming ``origin`` and the knob: not 1..``max_knobs`` tables,
        unknown keys, a material the device does not use, a property without a
        database value or range, an empty range, a log scale over a range
        reaching 0 or below.
    """
    if not isinstance(entries, list) or not 1 <= len(entries) <= max_knobs:
        raise StudyConfigError(f"{origin}: give 1 to {max_knobs} [[knobs]] tables")
    names = {}
    for layer in device.layers:
        names.setdefault(device.material(layer.name).name, device.material(layer.name))
    knobs = []
    for index, entry in enumerate(entries):
        where = f"{origin}: knobs[{index}]"
        if not isinstance(entry, dict):
            raise StudyConfigError(f"{where}: must be a table")
        allowed = {"materials", "material", "property", "scale", "low", "high"}
        unknown = sorted(set(entry) - allowed)
        if unknown or "property" not in entry or "scale" not in entry or ("materials" in entry) == ("material" in entry):
            raise StudyConfigError(f"{where}: needs 'materials' (a list) or 'material', 'property', 'scale' and optionally "
                                   f"'low', 'high'" + (f"; unknown: {unknown}" if unknown else ""))
        materials = entry["materials"] if "materials" in entry else [entry["material"]]
        if not isinstance(materials, list) or not materials or not all(isinstance(m, str) for m in materials):
            raise StudyConfigError(f"{where}: 'materials' must be a non-empty list of material names")
        prop = entry["property"]
        if entry["scale"] not in ("log", "linear"):
            raise StudyConfigError(f"{where}: scale must be 'log' or 'linear', got {entry['scale']!r}")
        lows, highs, starts, sources, range_sources = [], [], [], [], []
        for name in materials:
            if name not in names:
                raise StudyConfigError(f"{where}: material {name!r} is not a layer material ({', '.join(names)})")
            material = names[name]
            if prop not in material:
                raise StudyConfigError(f"{where}: {name} has no property {prop!r}")
            parameter = material[prop]
            starts.append(parameter.value)
            sources.append(parameter.source)
            if "low" in entry and "high" in entry:
                continue
            if parameter.range is None:
                raise StudyConfigError(f"{where}: {name}.{prop} has no database range: give 'low' and 'high'")
            lows.append(parameter.range[0])
            highs.append(parameter.range[1])
            range_sources.append(parameter.range_source)
        if ("low" in entry) != ("high" in entry):
            raise StudyConfigError(f"{where}: give both 'low' and 'high' or neither")
        if "low" in entry:
            try:
                low, high = (to_si(entry[key], PROPERTY_UNITS[prop], name=f"knobs[{index}].{key}", origin=origin)
                             for key in ("low", "high"))
            except UnitError as error:
                raise StudyConfigError(str(error)) from None
        else:
            low, high = max(lows), min(highs)
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise StudyConfigError(f"{where}: need low < high, got {low!r}, {high!r}")
        log = entry["scale"] == "log"
        if log and low <= 0.0:
            raise StudyConfigError(f"{where}: a log scale needs low > 0, got {low!r}")
        start = min(max(starts[0], low), high)
        # a range taken from the config, or from several materials of which one has no literature range, is assumed
        literature = bool(range_sources) and all(source != ASSUMED for source in range_sources)
        range_source = "/".join(dict.fromkeys(range_sources)) if literature else ASSUMED
        knobs.append(Knob(tuple(materials), prop, float(low), float(high), log, float(start),
                          "/".join(dict.fromkeys(sources)), range_source))
    if len({knob.name for knob in knobs}) != len(knobs):
        raise StudyConfigError(f"{origin}: a knob is listed twice")
    return knobs


# ---------------------------------------------------------------------------------------------------------------------
# Targets and residuals


@dataclass(frozen=True)
class Target:
    """One quantitative target of the paper and how its residual is formed.

    Attributes
    ----------
    name : str
        Key of :data:`femion.claims.PAPER_NUMBERS` and of the evaluator's summary.
    paper : float
        The paper's value in SI (:meth:`femion.claims.PaperNumber.si`).
    kind : {"log", "relative", "linear", "lower"}
        Residual form, see :meth:`residual`.
    weight : float
        Multiplies the residual.
    scale : float
        Scale of a ``linear`` residual (SI); unused otherwise.
    part : str
        The evaluator part that computes it.
    fit : bool
        In the fitted set (else held out).
    """

    name: str
    paper: float
    kind: str
    weight: float = 1.0
    scale: float = 1.0
    part: str = ""
    fit: bool = True

    def residual(self, value: float) -> float:
        """Weighted residual of ``value`` [SI]; NaN where it is undefined (a failed or missing value).

        * ``log``: w ln(f/paper) (f and paper > 0; a factor e off gives w);
        * ``relative``: w (f − paper)/|paper|;
        * ``linear``: w (f − paper)/scale;
        * ``lower``: w min(0, ln(f/paper)): zero once the bound is met.
        """
        f = float(value)
        if not math.isfinite(f):
            return float("nan")
        if self.kind == "log":
            return self.weight * math.log(f / self.paper) if f > 0 else float("nan")
        if self.kind == "relative":
            return self.weight * (f - self.paper) / abs(self.paper)
        if self.kind == "linear":
            return self.weight * (f - self.paper) / self.scale
        return self.weight * min(0.0, math.log(f / self.paper)) if f > 0 else float("nan")

    def within(self, value: float, tolerance: float | None = None) -> bool:
        """Whether ``value`` meets the target within ±``tolerance`` (default ±25 %, :data:`femion.claims.RELATIVE_TOLERANCE`).

        A ``lower`` target is met at f ≥ (1 − tolerance) paper.
        """
        from femion.claims import RELATIVE_TOLERANCE

        band = RELATIVE_TOLERANCE if tolerance is None else tolerance
        return within_band(value, self.paper, band, lower=self.kind == "lower")


def within_band(value: float, paper: float, band: float, lower: bool = False) -> bool:
    """|f/paper − 1| ≤ band (or f ≥ (1 − band) paper for a lower bound); False for a non-finite f."""
    f = float(value)
    if not math.isfinite(f):
        return False
    if lower:
        return f >= (1.0 - band) * paper
    return abs(f / paper - 1.0) <= band


def parse_targets(table: Any, origin: str) -> list[Target]:
    """Read a ``[targets.<name>]`` table: ``kind``, ``weight``, ``part``, ``fit`` and, for ``linear``, ``scale``.

    The paper's value comes from :data:`femion.claims.PAPER_NUMBERS` (never from
    the config); a ``lower``-bound number must use kind ``lower``.

    Raises
    ------
    StudyConfigError
        One line naming ``origin`` and the target: a name not in
        ``PAPER_NUMBERS``, an unknown kind or key, a non-positive weight or
        scale, a log residual of a non-positive paper value.
    """
    from femion.claims import PAPER_NUMBERS

    if not isinstance(table, dict) or not table:
        raise StudyConfigError(f"{origin}: [targets] must hold one table per target")
    targets = []
    for name, entry in table.items():
        where = f"{origin}: targets.{name}"
        if name not in PAPER_NUMBERS:
            raise StudyConfigError(f"{where}: not a paper number of femion.claims.PAPER_NUMBERS ({', '.join(PAPER_NUMBERS)})")
        if not isinstance(entry, dict) or not {"kind", "weight", "part", "fit"} <= set(entry) <= {"kind", "weight", "part", "fit", "scale"}:
            raise StudyConfigError(f"{where}: needs kind, weight, part, fit (and scale for kind 'linear')")
        kind = entry["kind"]
        number = PAPER_NUMBERS[name]
        if kind not in KINDS:
            raise StudyConfigError(f"{where}: kind must be one of {KINDS}, got {kind!r}")
        if (kind == "lower") != (number.bound == "lower"):
            raise StudyConfigError(f"{where}: the paper states {'a lower bound' if number.bound == 'lower' else 'a value'}: "
                                   f"use kind {'lower' if number.bound == 'lower' else 'log, relative or linear'}")
        paper = number.si()
        if kind == "linear" and "scale" not in entry:
            raise StudyConfigError(f"{where}: kind 'linear' needs a scale")
        try:
            weight = to_si(entry["weight"], "", name=f"targets.{name}.weight", origin=origin, positive=True)
            scale = to_si(entry["scale"], number.si_unit, name=f"targets.{name}.scale", origin=origin,
                          positive=True) if kind == "linear" else 1.0
        except UnitError as error:
            raise StudyConfigError(str(error)) from None
        if kind in ("log", "lower") and paper <= 0:
            raise StudyConfigError(f"{where}: a logarithmic residual needs a positive paper value, got {paper!r}")
        if not isinstance(entry["part"], str) or not isinstance(entry["fit"], bool):
            raise StudyConfigError(f"{where}: part must be a string and fit true or false")
        targets.append(Target(name, paper, kind, weight, scale, entry["part"], entry["fit"]))
    return targets


def residual_vector(metrics: Mapping[str, float], targets: Sequence[Target]) -> np.ndarray:
    """Weighted residuals, shape (len(targets),); NaN where a metric is missing or undefined."""
    return np.array([t.residual(metrics.get(t.name, float("nan"))) for t in targets], dtype=float)


def cost(residual: np.ndarray, penalty: float = math.log(10.0)) -> float:
    """½ Σ r², with a failed residual (NaN) counted as ``penalty`` (a stated penalty, not a measured value)."""
    r = np.where(np.isfinite(residual), residual, penalty)
    return float(0.5 * np.sum(r**2))


# ---------------------------------------------------------------------------------------------------------------------
# Jacobian


def jacobian_points(u: np.ndarray, step: float) -> tuple[list[np.ndarray], np.ndarray]:
    """The n + 1 points of a forward-difference Jacobian in u ∈ [0, 1]ⁿ, and the signed steps (shape (n,)).

    Component i steps by +``step``, or by −``step`` where u_i + step > 1 (the upper end of its range).
    """
    u = np.asarray(u, dtype=float)
    steps = np.where(u + step <= 1.0, step, -step)
    points = [u.copy()]
    for i in range(u.size):
        shifted = u.copy()
        shifted[i] += steps[i]
        points.append(shifted)
    return points, steps


def forward_jacobian(batch: Callable[[list[np.ndarray]], list[np.ndarray]], u: np.ndarray, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Residuals and forward-difference Jacobian at ``u`` from one batch of n + 1 evaluations.

    Parameters
    ----------
    batch : callable
        Maps a list of points (each shape (n,)) to their residual vectors (each shape (m,)), evaluated together.
    u : ndarray, shape (n,)
        Point in the scaled space [0, 1]ⁿ.
    step : float
        Step in u (0 < step < 1); backward where the forward step would leave [0, 1].

    Returns
    -------
    (ndarray (m,), ndarray (m, n))
        r(u) and J_ij ≈ (r_i(u + h_j e_j) − r_i(u))/h_j. First-order accurate in h.

    Raises
    ------
    ValueError
        If ``step`` is not in (0, 1).
    """
    if not 0.0 < step < 1.0:
        raise ValueError(f"the Jacobian step must be in (0, 1), got {step!r}")
    points, steps = jacobian_points(u, step)
    values = [np.asarray(v, dtype=float) for v in batch(points)]
    base = values[0]
    jac = np.column_stack([(values[i + 1] - base) / steps[i] for i in range(len(steps))]) if len(steps) else np.zeros((base.size, 0))
    return base, jac


# ---------------------------------------------------------------------------------------------------------------------
# Local and global sensitivity


def identifiability(jac: np.ndarray, names: Sequence[str], targets: Sequence[str]) -> dict[str, Any]:
    """What the scaled Jacobian says about the knobs (Brun et al. 2001).

    Parameters
    ----------
    jac : ndarray, shape (m, n)
        ∂r/∂u: weighted residuals per unit of each knob's scaled range.
    names, targets : sequences of str
        Knob names (n) and target names (m).

    Returns
    -------
    dict
        ``importance`` per knob: ‖J_:j‖₂/√m (RMS change of the residuals over the whole
        range, linearised); ``ranking`` (knobs by importance); ``singular_values``
        of J; ``condition`` (largest/smallest singular value, inf when rank
        deficient); ``collinearity`` 1/σ_min of the column-normalised J (Brun's
        index: > 10–15 means poorly identifiable); ``correlation`` of the
        knob estimates, the normalised pseudo-inverse of JᵀJ (|ρ| near 1:
        the knobs trade off); ``null_direction`` (the right singular vector of
        the smallest singular value: the combination the data do not fix);
        ``dominant_target`` per knob (largest |J_ij|).
    """
    J = np.asarray(jac, dtype=float)
    m, n = J.shape
    norms = np.linalg.norm(J, axis=0)
    importance = norms / math.sqrt(max(m, 1))
    singular = np.linalg.svd(J, compute_uv=False) if J.size else np.array([])
    _, _, vt = np.linalg.svd(J) if J.size else (None, None, np.zeros((0, 0)))
    normalised = J / np.where(norms > 0, norms, 1.0)
    s_norm = np.linalg.svd(normalised, compute_uv=False) if J.size else np.array([])
    collinearity = float(1.0 / s_norm[-1]) if s_norm.size and s_norm[-1] > 0 else float("inf")
    covariance = np.linalg.pinv(J.T @ J)
    sd = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        correlation = covariance / np.outer(sd, sd)
    order = np.argsort(-importance)
    return {
        "knobs": list(names),
        "targets": list(targets),
        "importance": {names[j]: float(importance[j]) for j in range(n)},
        "ranking": [names[j] for j in order],
        "singular_values": [float(s) for s in singular],
        "condition": float(singular[0] / singular[-1]) if singular.size and singular[-1] > 0 else float("inf"),
        "collinearity": collinearity,
        "correlation": [[float(x) for x in row] for row in correlation],
        "null_direction": {names[j]: float(vt[-1, j]) for j in range(n)} if n else {},
        "dominant_target": {names[j]: targets[int(np.argmax(np.abs(J[:, j])))] if m and norms[j] > 0 else None for j in range(n)},
    }


def morris_screening(batch: Callable[[list[np.ndarray]], list[np.ndarray]], names: Sequence[str], outputs: Sequence[str],
                     trajectories: int, levels: int = 4, seed: int = 0) -> dict[str, Any]:
    """Morris elementary effects of each output w.r.t. each knob over the scaled box [0, 1]ⁿ (SALib).

    Parameters
    ----------
    batch : callable
        Maps a list of points (each shape (n,)) to output vectors (each shape (k,)), evaluated together.
    names : sequence of str
        Knob names (n ≥ 1).
    outputs : sequence of str
        Output names (k).
    trajectories : int
        Morris trajectories r; the design has r (n + 1) points.
    levels : int
        Grid levels p of the design (even).
    seed : int
        Seed of the design.

    Returns
    -------
    dict
        ``points`` (the design, r(n+1) × n), ``values`` (r(n+1) × k) and per output
        ``mu_star``, ``sigma`` per knob (μ* = mean |elementary effect|, per unit of
        scaled range; σ its spread: interaction or non-linearity). An output
        with a non-finite value at some point is screened on the trajectories
        that are complete.
    """
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    problem = {"num_vars": len(names), "names": list(names), "bounds": [[0.0, 1.0]] * len(names)}
    design = sample.sample(problem, trajectories, num_levels=levels, seed=seed)
    values = np.array([np.asarray(v, dtype=float) for v in batch([row for row in design])])
    per_output = {}
    n = len(names)
    for k, output in enumerate(outputs):
        y = values[:, k].reshape(trajectories, n + 1)
        complete = np.all(np.isfinite(y), axis=1)
        if not np.any(complete):
            per_output[output] = {"mu_star": {name: float("nan") for name in names},
                                  "sigma": {name: float("nan") for name in names}, "trajectories": 0}
            continue
        rows = np.repeat(complete, n + 1)
        result = analyze.analyze(problem, design[rows], y[complete].ravel(), num_levels=levels, print_to_console=False)
        per_output[output] = {"mu_star": dict(zip(names, map(float, result["mu_star"]))),
                              "sigma": dict(zip(names, map(float, result["sigma"]))), "trajectories": int(np.sum(complete))}
    return {"points": design.tolist(), "values": values.tolist(), "outputs": per_output, "trajectories": trajectories,
            "levels": levels, "seed": seed}


# ---------------------------------------------------------------------------------------------------------------------
# Evaluations as sweeps


class SweepEvaluator:
    """Runs batches of evaluator-study points through :func:`femion.sweep.run_sweep`, each point once.

    A point is (part, knob values): the evaluator study's ``config.part`` and
    the knobs' ``material.*`` overrides, plus ``fixed`` overrides. Every batch
    not yet computed becomes a sweep file ``<outdir>/batches/<hash>.toml``
    (``[list]`` of the points, ``[cluster]`` from the caller) run into
    ``<outdir>/batches/<hash>/`` (its ``results.nc`` and per-point records).
    On construction every finished record under ``<outdir>/batches`` is read
    back, so a rerun of an interrupted fit reuses every finished point.

    Parameters
    ----------
    study : Path
        The evaluator study folder (``run(outdir, quick, overrides)``, summary
        holding every observable, ``config.part`` selecting what it runs).
    outdir : Path
        The calibration's output folder.
    knobs : list of Knob
    observables : list of str
        Summary keys collected (each part reports all of them, NaN where not its own).
    quick : bool
        The evaluator's quick variant.
    cluster : dict
        The sweep file's ``[cluster]`` table (``{"kind": "local"}``, SLURM, ...).
    workers : int or None
        Local workers (None: the cluster table's or the usable cores).
    fixed : dict
        Overrides applied at every point.
    client : distributed.Client, optional
        An existing Dask client to run the batches on (instead of ``cluster``).
    """

    def __init__(self, study: Path, outdir: Path, knobs: list[Knob], observables: list[str], quick: bool,
                 cluster: Mapping[str, Any], workers: int | None = None, fixed: Mapping[str, Any] | None = None,
                 client: Any = None):
        self.study, self.outdir, self.knobs = Path(study).resolve(), Path(outdir).resolve(), knobs
        self.observables, self.quick, self.cluster, self.workers = list(observables), quick, dict(cluster), workers
        self.fixed, self.client = dict(fixed or {}), client
        self.cache: dict[str, dict[str, Any]] = {}
        self.computed = 0
        self.batches: list[dict[str, Any]] = []
        self._load()

    def parameters(self, part: str, values: Sequence[float]) -> dict[str, Any]:
        """The overrides of one point: ``config.part``, the knobs' material values, the fixed overrides."""
        parameters = {"config.part": part, **self.fixed}
        for knob, value in zip(self.knobs, values):
            parameters.update(knob.overrides(value))
        return parameters

    @staticmethod
    def key(parameters: Mapping[str, Any]) -> str:
        """Canonical text of a point's overrides (its identity in the cache)."""
        return json.dumps(dict(parameters), sort_keys=True, default=str)

    def _load(self) -> None:
        for path in sorted((self.outdir / "batches").glob("*/points/*/result.json")):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if record.get("status") in ("done", "failed") and record.get("quick") == self.quick:
                self.cache[self.key(record["parameters"])] = record

    def evaluate(self, requests: Sequence[tuple[str, Sequence[float]]], label: str = "") -> list[dict[str, Any]]:
        """Records (as :func:`femion.sweep.run_point` writes them) of (part, SI knob values) requests, in order.

        Points already computed (this run or an earlier one) are reused; the
        others run as one sweep. The batch's label, size and wall time are
        appended to :attr:`batches`.
        """
        from femion.sweep import load_sweep, run_sweep

        wanted = [self.parameters(part, values) for part, values in requests]
        todo, seen = [], set()
        for parameters in wanted:
            key = self.key(parameters)
            if key not in self.cache and key not in seen:
                todo.append(parameters)
                seen.add(key)
        if todo:
            text = self.sweep_text(todo)
            digest = hashlib.sha1(text.encode()).hexdigest()[:10]
            folder = self.outdir / "batches"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{digest}.toml"
            path.write_text(text, encoding="utf-8")
            result = run_sweep(load_sweep(path), folder / digest, workers=None if self.client else self.workers,
                               client=self.client, progress=False)
            self.computed += result.computed
            self.batches.append({"label": label, "file": str(path), "points": len(todo), "computed": result.computed,
                                 "reused": result.reused, "failed": result.failed, "wall_time_s": result.wall_time})
            self._load()
        missing = [p for p in wanted if self.key(p) not in self.cache]
        if missing:
            raise RuntimeError(f"{len(missing)} points have no record after their sweep (first: {missing[0]})")
        return [self.cache[self.key(p)] for p in wanted]

    def metrics(self, record: Mapping[str, Any]) -> dict[str, float]:
        """The observables of a record as floats (NaN for a failed point or a missing value)."""
        summary = record.get("summary") or {}
        out = {}
        for name in self.observables:
            value = summary.get(name) if record.get("status") == "done" else None
            out[name] = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value is not None else float("nan")
        return out

    def sweep_text(self, points: Sequence[Mapping[str, Any]]) -> str:
        """The sweep file (TOML) of a batch: the evaluator study, its observables, the points as a ``[list]``."""
        keys = list(dict.fromkeys(key for p in points for key in p))
        lines = ["# One batch of calibration points (written by femion.calibration.SweepEvaluator).",
                 f"study = {json.dumps(str(self.study))}",
                 f"quick = {'true' if self.quick else 'false'}",
                 "observables = [" + ", ".join(json.dumps(name) for name in self.observables) + "]", "", "[list]"]
        for key in keys:
            lines.append(f"{json.dumps(key)} = [" + ", ".join(_toml_value(p[key]) for p in points) + "]")
        lines += ["", "[cluster]"]
        for key, value in self.cluster.items():
            lines.append(f"{key} = {_toml_value(value)}")
        return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    """A TOML literal of a string, number, boolean or list of them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise TypeError(f"no TOML literal for {value!r}")


# ---------------------------------------------------------------------------------------------------------------------
# Write-back


def file_value(material: str | Path, prop: str, value: float) -> tuple[float, str]:
    """An SI value of ``prop`` in the unit the material's file states for it.

    Parameters
    ----------
    material : str or Path
        Built-in material name or material ``.toml`` path.
    prop : str
        Property the file defines.
    value : float
        Value in SI (:data:`femion.materials.PROPERTY_UNITS`).

    Returns
    -------
    (float, str)
        The value in the file's unit, and that unit.

    Raises
    ------
    femion.materials.MaterialError
        If the material lacks ``prop``.
    """
    loaded = load_material(material)
    loaded[prop]  # raises MaterialError when the file lacks it
    path = Path(loaded.path)
    unit = tomllib.loads(path.read_text(encoding="utf-8"))[prop]["unit"]
    return value / value_unit_to_si(1.0, unit, PROPERTY_UNITS[prop], name=prop, origin=str(path)), unit


def write_back(knobs: Sequence[Knob], values: Sequence[float], study: str, note: str, *,
               start_cost: float, best_cost: float, folder: Path | None = None, date: str | None = None) -> dict[str, Any]:
    """Write fitted values into the material files, with ``source = "calibrated: <study>"`` and a dated note.

    The note keeps what it replaces: the value, unit, source and note before
    calibration follow the fit's residuals.

    Only values that are inside their knob's range, that the fit moved (by more
    than 1e-6 relative) and only when the fit lowered the cost are written; the
    others are listed with the reason. The value is written in the unit the
    file states for the property; unit, range and comments stay.

    Parameters
    ----------
    knobs : sequence of Knob
    values : sequence of float
        Fitted SI values, one per knob.
    study : str
        ``"studies/<name>"`` (the source text; :func:`femion.materials.load_material` checks its form).
    note : str
        Appended to ``calibrated <date>:`` as the property's new note (the fit's residuals).
    start_cost, best_cost : float
        Cost of the start and of the fitted point.
    folder : Path, optional
        Folder of the material files (default: the built-in database ``femion/materials``).
    date : str, optional
        ISO date of the note (default: today, UTC).

    Returns
    -------
    dict
        ``written``: knob name -> {materials, value, file_value, unit}; ``skipped``: knob name -> reason.

    Raises
    ------
    ValueError
        If ``study`` is not ``studies/<name>`` or the lengths differ.
    """
    if not re.fullmatch(r"studies/[A-Za-z0-9_]+", study):
        raise ValueError(f"study must be 'studies/<name>', got {study!r}")
    if len(knobs) != len(values):
        raise ValueError("one value per knob")
    from femion.materials import _MATERIALS_DIR, _load_material_file

    folder = Path(folder) if folder is not None else Path(str(_MATERIALS_DIR))
    date = date or _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    written, skipped = {}, {}
    lowered = math.isfinite(best_cost) and best_cost < start_cost
    for knob, value in zip(knobs, values):
        if not lowered:
            skipped[knob.name] = f"the fit did not lower the cost ({best_cost:.4g} vs {start_cost:.4g})"
            continue
        if not knob.inside(value):
            skipped[knob.name] = f"{value:.4g} outside its range [{knob.low:.4g}, {knob.high:.4g}]"
            continue
        if math.isclose(value, knob.start, rel_tol=1e-6, abs_tol=0.0):
            skipped[knob.name] = "not moved by the fit"
            continue
        file_values = {}
        _load_material_file.cache_clear()  # the files as they are now on disk
        for material in knob.materials:
            path = folder / f"{material}.toml"
            in_file, unit = file_value(path, knob.property, value)
            text = path.read_text(encoding="utf-8")
            before = tomllib.loads(text)[knob.property]
            quantity = " ".join(part for part in (repr(before["value"]), before.get("unit", "")) if part)
            previous = f"before calibration: {quantity} (source {before['source']}): {before['note']}"
            text = rewrite_entry(text, load_material(path)[knob.property], path, value=repr(float(in_file)),
                                 source=f"{CALIBRATED}{study}", note=f"calibrated {date}: {note}. {previous}")
            path.write_text(text, encoding="utf-8")
            file_values[material] = (in_file, unit)
        _load_material_file.cache_clear()
        for material in knob.materials:
            load_material(folder / f"{material}.toml")  # the rewritten file loads
        written[knob.name] = {"materials": list(knob.materials), "value": float(value), "unit": knob.unit,
                              "file_values": {m: {"value": v, "unit": u} for m, (v, u) in file_values.items()}}
    return {"written": written, "skipped": skipped, "date": date}


