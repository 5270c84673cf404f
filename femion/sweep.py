"""Parameter sweeps of a study on Dask: local cores, a running scheduler, or SLURM/PBS.

A **sweep file** (TOML) names a study (a folder with ``config.toml`` and
``run.py`` whose ``run(outdir, quick=False, overrides=None)`` returns a summary
dict), the parameters to vary and the observables to collect::

    study = "../field_scaling"            # folder, relative to this file
    quick = true                          # optional (default false); `femion sweep --quick` forces it
    observables = ["beta_edge", "capacitance", "reference_beta_edge"]

    [grid]                                # Cartesian product, first key slowest
    "config.film_margin_stack_thicknesses" = [10, 20]
    "device.layers.LiPON.thickness" = ["250 nm", "500 nm"]

    [fixed]                               # optional: the same override at every point
    "config.read_voltage" = "0.2 V"

    [observable_units]                    # optional: units of observables (else guessed from
    capacitance = "F"                     # name suffixes such as _m, _s, _A, _V, _F, _ohm)

    [observable_dims]                     # optional: dimension name of 1-D list observables
    beta_edge = "radius"                  # (default "<observable>_index")
    capacitance = "radius"

    [cluster]                             # optional; default: kind = "local"
    kind = "local"

Exactly one of ``[grid]`` (Cartesian product), ``[list]`` (equal-length lists,
zipped) or ``[lhs]`` (Latin hypercube: ``n``, ``seed`` and a ``[lhs.ranges]``
table of ``key = [low, high]``, sampled uniformly in the unit of ``low``)
defines the points. Parameters are dotted keys: ``config.<key>`` replaces a
key of the study's ``config.toml`` (the value written as that TOML holds it),
``device.<field>`` changes the study's device (``device.temperature``,
``device.electrode_radius``, ``device.layers.<LayerName>.thickness``, ...; see
:func:`femion.config.device_override_keys`), ``material.<Material>.<property>``
a value of one of the device's materials (``"20 A/m^2"``; a copy of the
material file with that value, :func:`femion.config.override_materials`).
Observables are keys of the
study's summary (``a.b`` reaches into a nested table): numbers, strings or
1-D lists of numbers; an observable whose values are of other or differing
kinds across points (e.g. ``None`` at some points and a string at others) is
stored as text.

A study reports a failed simulation with the summary entry ``failure``: None
on success, else a one-line reason. Such a point, like one whose ``run``
raises, gets status ``failed`` with the reason as its ``error``, and NaN (or
"") for every observable; ``failure`` itself is not an observable.

``[cluster]`` chooses where points run, one point per Dask worker process
with one thread each:

* ``kind = "local"`` (default): a LocalCluster on this machine,
  ``n_workers`` (default: the usable cores; ``--workers`` overrides),
  optional ``memory`` per worker (e.g. ``"4 GiB"``; default: RAM / workers).
* ``kind = "address"``: an existing scheduler, ``address = "tcp://host:8786"``.
* ``kind = "slurm"`` or ``"pbs"`` (dask-jobqueue): ``queue``, ``account``,
  ``cores`` (per job; one single-threaded worker process per core unless
  ``processes`` is set), ``memory`` (per job), ``walltime``, ``jobs``, and
  optionally ``job_extra_directives``, ``job_script_prologue`` (lines run
  before the worker starts, e.g. activating the environment), ``interface``,
  ``local_directory``, ``log_directory``, ``python``.

Outputs (``OUTDIR``, by default ``output/<sweep name>[/quick]`` next to the
sweep file): every point runs in ``OUTDIR/points/<index>-<hash>/`` (the
study's own outputs, ``log.txt`` with its printed output, and ``result.json``,
written atomically when the point finishes, done or failed). A re-run of the
same sweep reuses every finished point (``retry_failed`` recomputes the
failed ones) and recomputes only the rest, so a sweep killed mid-way resumes.
``OUTDIR/results.nc`` is rebuilt from the per-point records whenever
:func:`run_sweep` ends, normally, with an error or interrupted
(:func:`build_store`): dimension ``point``, the swept parameters as
coordinates (SI floats with a ``units`` attribute when the values are
quantities), the observables as variables, and per-point provenance. Off a
terminal (output to a file), progress is one line every
``PROGRESS_INTERVAL`` seconds instead of a progress bar.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import datetime as _dt
import hashlib
import itertools
import json
import math
import os
import re
import socket
import sys
import time
import threading
import tomllib
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np

__all__ = [
    "ClusterSpec",
    "Point",
    "PointTask",
    "Sweep",
    "SweepError",
    "SweepResult",
    "build_store",
    "default_outdir",
    "load_sweep",
    "make_cluster",
    "read_records",
    "run_point",
    "run_sweep",
    "study_failure",
    "unstack",
    "validate_sweep",
]

RECORD_FORMAT = "femion-sweep-point/1"
"""``format`` entry of every ``result.json``."""
KINDS = ("grid", "list", "lhs")
CLUSTER_KINDS = ("local", "address", "slurm", "pbs")
_TOP_KEYS = {"study", "quick", "observables", "grid", "list", "lhs", "fixed", "observable_units", "observable_dims", "cluster"}
_LHS_KEYS = {"n", "seed", "ranges"}
_CLUSTER_KEYS = {
    "local": {"kind", "n_workers", "memory"},
    "address": {"kind", "address"},
    "slurm": {"kind", "queue", "account", "cores", "processes", "memory", "walltime", "jobs", "job_extra_directives",
              "job_script_prologue", "interface", "local_directory", "log_directory", "python"},
}
_CLUSTER_KEYS["pbs"] = _CLUSTER_KEYS["slurm"]
_DEVICE_UNITS = {"temperature": "K", "electrode_radius": "m", "film_radius": "m", "thickness": "m"}
_SUFFIX_UNITS = {
    "_m": "m", "_s": "s", "_A": "A", "_V": "V", "_S": "S", "_F": "F", "_K": "K", "_ohm": "ohm", "_mol": "mol",
    "_m2_s": "m^2/s", "_C": "C", "_J": "J", "_W": "W", "_Pa": "Pa",
}
"""Observable name suffix -> unit, used when ``[observable_units]`` does not name the observable."""
_NAMED_SI_UNITS = ("m", "s", "K", "V", "A", "S", "F", "ohm", "C", "J", "W", "Pa", "Hz", "mol", "kg", "m^2/s", "C/m^2", "mol/m^3")
_PROVENANCE = ("status", "error", "wall_time", "started", "finished", "host", "outdir", "seed", "femion_version",
               "git_revision", "parameters", "point", "point_id")
"""Names of the store's per-point provenance variables and coordinates (not available to observables)."""
FAILURE_KEY = "failure"
"""Summary entry by which a study reports a failed simulation: None, or a one-line reason (str)."""
_POINT_LOCK = threading.Lock()
"""Points in one process run one at a time (gmsh and the output redirection are process-wide)."""
_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*$")


class SweepError(ValueError):
    """Invalid sweep file or sweep; the message names the key and the file."""


@dataclass(frozen=True)
class ClusterSpec:
    """Where the points run (the ``[cluster]`` table of a sweep file).

    Attributes
    ----------
    kind : {"local", "address", "slurm", "pbs"}
        LocalCluster, an existing scheduler, or dask-jobqueue batch jobs.
    options : dict
        The table's other entries (see the module docstring).
    """

    kind: str = "local"
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self, workers: int | None = None) -> str:
        """Where the points run, for messages, e.g. ``"a local cluster of 2 worker processes"``."""
        if self.kind == "local":
            return f"a local cluster of {workers or self.options.get('n_workers') or _usable_cores()} worker processes"
        if self.kind == "address":
            return f"the Dask scheduler at {self.options['address']}"
        return f"{self.kind} batch jobs (queue {self.options.get('queue') or 'default'})"


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Attributes
    ----------
    index : int
        Position in the sweep (grid: row-major, first key slowest).
    parameters : dict
        Dotted key -> override value (swept and fixed), as written in the sweep file.
    digest : str
        Short hash of study, parameters and quick flag (8 hex digits).
    """

    index: int
    parameters: Mapping[str, Any]
    digest: str

    @property
    def name(self) -> str:
        """Directory name ``<index>-<digest>``."""
        return f"{self.index}-{self.digest}"

    @property
    def seed(self) -> int:
        """Per-point seed (from the digest) for the random generators of the point's process."""
        return int(self.digest, 16) & 0x7FFFFFFF


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file (see the module docstring); build with :func:`load_sweep`.

    Attributes
    ----------
    path : Path
        The sweep file.
    study : Path
        The study folder (resolved).
    kind : {"grid", "list", "lhs"}
        How the points are formed.
    parameters : dict
        Swept dotted key -> list of values, in file order (for ``lhs`` the
        sampled values, quantities as strings in the unit of the range's low end).
    fixed : dict
        Dotted key -> value applied at every point.
    observables : tuple of str
        Summary keys to collect.
    observable_units, observable_dims : dict
        Observable -> unit / dimension name (explicit entries of the file).
    quick : bool
        Run the study's quick variant.
    seed : int or None
        Latin-hypercube seed (``lhs`` only).
    cluster : ClusterSpec
        Where the points run.
    text : str
        The sweep file's text (recorded in the results store).
    """

    path: Path
    study: Path
    kind: str
    parameters: Mapping[str, Sequence[Any]]
    fixed: Mapping[str, Any]
    observables: tuple[str, ...]
    observable_units: Mapping[str, str] = field(default_factory=dict)
    observable_dims: Mapping[str, str] = field(default_factory=dict)
    quick: bool = False
    seed: int | None = None
    cluster: ClusterSpec = field(default_factory=ClusterSpec)
    text: str = field(default="", repr=False)

    @property
    def name(self) -> str:
        """The sweep's name: the file name without ``.toml``."""
        return self.path.stem

    @property
    def swept(self) -> tuple[str, ...]:
        """Swept dotted keys in file order."""
        return tuple(self.parameters)

    @property
    def shape(self) -> tuple[int, ...]:
        """Grid shape (one entry per swept key); ``(n_points,)`` for list and lhs."""
        if self.kind == "grid":
            return tuple(len(values) for values in self.parameters.values())
        return (len(next(iter(self.parameters.values()))),)

    def points(self) -> list[Point]:
        """All points, in sweep order."""
        keys = self.swept
        if self.kind == "grid":
            rows = list(itertools.product(*(self.parameters[key] for key in keys)))
        else:
            rows = list(zip(*(self.parameters[key] for key in keys)))
        points = []
        for index, row in enumerate(rows):
            parameters = {**self.fixed, **dict(zip(keys, row))}
            identity = json.dumps(
                {"study": self.study.name, "parameters": parameters, "quick": self.quick}, sort_keys=True, default=str
            )
            points.append(Point(index, parameters, hashlib.sha1(identity.encode()).hexdigest()[:8]))
        return points


@dataclass(frozen=True)
class PointTask:
    """Everything a worker needs to run one point (pickled to the Dask worker).

    Attributes
    ----------
    study : str
        Absolute study folder (workers on a cluster need a shared file system).
    index, name, digest : int, str, str
        As :class:`Point`.
    parameters : dict
        Overrides passed to the study's ``run``.
    quick : bool
        Quick variant.
    outdir : str
        Absolute point directory.
    seed : int
        Seed for ``random`` and ``numpy.random`` in the point's process.
    run_id : str
        Identifies one :func:`run_sweep` call. If Dask runs the task again in
        that call (its result was lost with a killed worker), the point's record
        of this call is returned instead of recomputing it.
    """

    study: str
    index: int
    name: str
    digest: str
    parameters: Mapping[str, Any]
    quick: bool
    outdir: str
    seed: int
    run_id: str = ""


@dataclass(frozen=True)
class SweepResult:
    """What :func:`run_sweep` did.

    Attributes
    ----------
    store : Path
        ``OUTDIR/results.nc``.
    dataset : xarray.Dataset
        The store's content.
    points : int
        Points in the sweep.
    computed : int
        Points run (done or failed) in this call.
    reused : int
        Finished points taken from earlier runs.
    failed : int
        Points whose status is "failed" (this and earlier runs).
    wall_time : float
        Duration of the call [s].
    """

    store: Path
    dataset: Any
    points: int
    computed: int
    reused: int
    failed: int
    wall_time: float


# ---------------------------------------------------------------------------------------------------------------------
# Sweep files


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file (structure only; see :func:`validate_sweep` for the study's keys).

    Parameters
    ----------
    path
        Sweep TOML file.

    Returns
    -------
    Sweep

    Raises
    ------
    SweepError
        Unreadable file, invalid TOML, unknown or missing keys, wrong types, not
        exactly one of ``[grid]``/``[list]``/``[lhs]``, lists of unequal length,
        bad ranges or cluster settings (the message names the key and the file).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise SweepError(f"cannot read sweep file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise SweepError(f"{path}: not a UTF-8 text file (byte {error.start}): a sweep file is TOML text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SweepError(f"{path}: not valid TOML: {error}") from None

    def fail(message: str) -> SweepError:
        return SweepError(f"{path}: {message}")

    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    if not isinstance(data.get("study"), str) or not data["study"]:
        raise fail("'study' must name the study folder, relative to the sweep file (e.g. \"../field_scaling\")")
    study = (path.parent / data["study"]).resolve()
    if not (study / "run.py").is_file() or not (study / "config.toml").is_file():
        raise fail(f"'study' = {data['study']!r}: {study} is not a study folder (no run.py and config.toml)")
    quick = data.get("quick", False)
    if not isinstance(quick, bool):
        raise fail(f"'quick' must be true or false, got {quick!r}")
    observables = data.get("observables")
    if (not isinstance(observables, list) or not observables
            or not all(isinstance(name, str) and name for name in observables)):
        raise fail("'observables' must be a non-empty list of keys of the study's summary")
    if len(set(observables)) != len(observables):
        raise fail(f"'observables' lists a key twice: {observables}")
    reserved = sorted(set(observables) & set(_PROVENANCE))
    if reserved:
        raise fail(f"'observables' {reserved}: these names are taken by the store's provenance variables {_PROVENANCE}")
    if FAILURE_KEY in observables:
        raise fail(f"'observables' lists {FAILURE_KEY!r}: a study's failure is stored as the point's status "
                   "('failed') and error, not as an observable; remove it")
    tables = {}
    for key in ("observable_units", "observable_dims"):
        table = data.get(key, {})
        if not isinstance(table, dict) or not all(isinstance(value, str) and value for value in table.values()):
            raise fail(f"[{key}] must map observable names to strings")
        extra = sorted(set(table) - set(observables))
        if extra:
            raise fail(f"[{key}] names {extra}, which are not in 'observables'")
        tables[key] = dict(table)

    kinds = [kind for kind in KINDS if kind in data]
    if len(kinds) != 1:
        raise fail(f"give exactly one of [grid], [list] or [lhs] (found {kinds or 'none'})")
    kind = kinds[0]
    seed = None
    if kind == "lhs":
        parameters, seed = _lhs(data["lhs"], fail, path.parent)
    else:
        table = data[kind]
        if not isinstance(table, dict) or not table:
            raise fail(f"[{kind}] must map dotted keys to lists of values")
        parameters = _dotted(table, kind, fail)
        for key, values in parameters.items():
            if not isinstance(values, list) or not values:
                raise fail(f"'{kind}.{key}' must be a non-empty list of values")
            if kind == "grid" and len({_canonical(value) for value in values}) != len(values):
                raise fail(f"'grid.{key}' lists a value twice: {values}")
        lengths = {key: len(values) for key, values in parameters.items()}
        if kind == "list" and len(set(lengths.values())) > 1:
            raise fail(f"the [list] entries must have equal lengths (they are zipped), got {lengths}")
    fixed = _dotted(data.get("fixed", {}), "fixed", fail) if isinstance(data.get("fixed", {}), dict) else None
    if fixed is None:
        raise fail("[fixed] must map dotted keys to values")
    both = sorted(set(fixed) & set(parameters))
    if both:
        raise fail(f"{both} are both swept and in [fixed]")
    parameters = {key: [_absolute_material(key, value, path.parent) for value in values] for key, values in parameters.items()}
    fixed = {key: _absolute_material(key, value, path.parent) for key, value in fixed.items()}
    taken = sorted(set(tables["observable_dims"].values()) & (set(_PROVENANCE) | set(parameters)))
    if taken:
        raise fail(f"[observable_dims] uses {taken}, names of the store's coordinates or provenance variables")
    return Sweep(
        path=path,
        study=study,
        kind=kind,
        parameters=parameters,
        fixed=fixed,
        observables=tuple(observables),
        observable_units=tables["observable_units"],
        observable_dims=tables["observable_dims"],
        quick=quick,
        seed=seed,
        cluster=_cluster_spec(data.get("cluster", {}), fail),
        text=text,
    )


def _dotted(table: Mapping[str, Any], prefix: str, fail) -> dict[str, Any]:
    """Flatten ``{"config": {"x": 1}}`` (unquoted dotted TOML keys) to ``{"config.x": 1}``; check the prefixes."""
    flat: dict[str, Any] = {}

    def walk(key: str, value: Any) -> None:
        head = key.split(".", 1)[0]
        if head not in ("config", "device", "material"):
            raise fail(f"'{prefix}.{key}': a parameter is 'config.<key of the study's config.toml>', 'device.<field>' "
                       "or 'material.<Material>.<property>'")
        depth = key.count(".") + 1
        if isinstance(value, dict) and (head == "device" or depth < 2 or (head == "material" and depth < 3)):
            for sub, inner in value.items():
                walk(f"{key}.{sub}", inner)
        else:
            if key in flat:
                raise fail(f"'{prefix}.{key}' is given twice")
            flat[key] = value

    for key, value in table.items():
        walk(key, value)
    return flat


def _lhs(table: Any, fail, folder: Path) -> tuple[dict[str, list], int]:
    """Latin-hypercube values for the ``[lhs]`` table: one stratum per point in every dimension."""
    from femion.units import UnitError, to_si

    if not isinstance(table, dict):
        raise fail("[lhs] must be a table with n, seed and [lhs.ranges]")
    unknown = sorted(set(table) - _LHS_KEYS)
    if unknown:
        raise fail(f"unknown key(s) {['lhs.' + key for key in unknown]}; allowed: {sorted('lhs.' + k for k in _LHS_KEYS)}")
    n, seed = table.get("n"), table.get("seed")
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise fail(f"'lhs.n' must be a positive integer (the number of points), got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise fail(f"'lhs.seed' must be a non-negative integer (the sample is reproducible), got {seed!r}")
    ranges = table.get("ranges")
    if not isinstance(ranges, dict) or not ranges:
        raise fail("[lhs.ranges] must map dotted keys to [low, high]")
    ranges = _dotted(ranges, "lhs.ranges", fail)
    rng = np.random.default_rng(seed)
    parameters = {}
    for key, bounds in ranges.items():
        where = f"'lhs.ranges.{key}'"
        if not isinstance(bounds, list) or len(bounds) != 2:
            raise fail(f"{where} must be [low, high], got {bounds!r}")
        low, high = bounds
        if all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds):
            unit, low_value, high_value = None, float(low), float(high)
        elif all(isinstance(b, str) for b in bounds):
            match = _NUMBER.match(low)
            if match is None:
                raise fail(f"{where}: low end {low!r} must be a number with a unit, e.g. \"0.1 V\"")
            unit = match.group(2)
            try:
                low_value = to_si(low, unit, name=f"lhs.ranges.{key}", origin=str(folder))
                high_value = to_si(high, unit, name=f"lhs.ranges.{key}", origin=str(folder))
            except UnitError as error:
                raise fail(f"{where}: {error}") from None
        else:
            raise fail(f"{where}: give two numbers or two quantity strings, got {bounds!r}")
        if not high_value > low_value:
            raise fail(f"{where}: high end must exceed the low end, got {bounds!r}")
        fractions = (rng.permutation(n) + rng.random(n)) / n
        values = [low_value + float(f) * (high_value - low_value) for f in fractions]
        parameters[key] = values if unit is None else [f"{value!r} {unit}".rstrip() for value in values]
    return parameters, seed


def _absolute_material(key: str, value: Any, folder: Path) -> Any:
    """Material ``.toml`` paths in device overrides are relative to the sweep file's folder."""
    if key.endswith(".material") and isinstance(value, str) and value.endswith(".toml"):
        return str((folder / value).resolve())
    return value


def _cluster_spec(table: Any, fail) -> ClusterSpec:
    if not isinstance(table, dict):
        raise fail("[cluster] must be a table")
    kind = table.get("kind", "local")
    if kind not in CLUSTER_KINDS:
        raise fail(f"'cluster.kind' must be one of {CLUSTER_KINDS}, got {kind!r}")
    unknown = sorted(set(table) - _CLUSTER_KEYS[kind])
    if unknown:
        raise fail(f"unknown key(s) {['cluster.' + key for key in unknown]} for kind {kind!r}; "
                   f"allowed: {sorted(_CLUSTER_KEYS[kind])}")
    options = {key: value for key, value in table.items() if key != "kind"}
    for key in ("n_workers", "cores", "processes", "jobs"):
        value = options.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise fail(f"'cluster.{key}' must be a positive integer, got {value!r}")
    for key in ("job_extra_directives", "job_script_prologue"):
        value = options.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(v, str) for v in value)):
            raise fail(f"'cluster.{key}' must be a list of strings")
    for key in ("address", "queue", "account", "memory", "walltime", "interface", "local_directory", "log_directory", "python"):
        value = options.get(key)
        if value is not None and not isinstance(value, str):
            raise fail(f"'cluster.{key}' must be a string, got {value!r}")
    if kind == "address" and not options.get("address"):
        raise fail("'cluster.address' is required for kind = \"address\" (e.g. \"tcp://10.0.0.1:8786\")")
    if kind in ("slurm", "pbs") and not options.get("memory"):
        raise fail(f"'cluster.memory' (per job, e.g. \"16 GB\") is required for kind = {kind!r}")
    return ClusterSpec(kind=kind, options=options)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def validate_sweep(sweep: Sweep) -> None:
    """Check every point's overrides against the study before anything runs.

    Applies :func:`femion.config.load_study_config` with each point's overrides
    (unknown dotted keys, wrong TOML types, invalid device values such as a film
    radius below the electrode radius), and checks that the study's ``run``
    accepts ``overrides``.

    Raises
    ------
    SweepError
        The first problem, naming the sweep file, the point and the dotted key.
    """
    from femion.config import load_study_config

    config_path = sweep.study / "config.toml"
    if not _accepts_overrides(sweep.study / "run.py"):
        raise SweepError(
            f"{sweep.path}: the study's run() in {sweep.study / 'run.py'} takes no 'overrides' argument; "
            "define run(outdir, quick=False, overrides=None) and pass overrides to load_study_config"
        )
    try:
        with open(config_path, "rb") as handle:
            keys = set(tomllib.load(handle)) - {"device"}
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise SweepError(f"{sweep.path}: cannot read the study config {config_path}: {error}") from None
    for point in sweep.points():
        try:
            load_study_config(config_path, keys, point.parameters)
        except ValueError as error:
            raise SweepError(f"{sweep.path}: point {point.index} {_short(point.parameters, sweep)}: {error}") from None


def _short(parameters: Mapping[str, Any], sweep: Sweep) -> str:
    return "(" + ", ".join(f"{key} = {parameters[key]!r}" for key in sweep.swept) + ")"


def _accepts_overrides(script: Path) -> bool:
    """Whether ``run`` in ``script`` takes an ``overrides`` argument (read with ``ast``; the study is not imported)."""
    try:
        tree = ast.parse(script.read_text(encoding="utf-8"), filename=str(script))
    except (OSError, SyntaxError, ValueError):
        return True  # let the worker report the real error
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "run":
            arguments = node.args
            names = [a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)]
            return "overrides" in names or arguments.kwarg is not None
    return True


def default_outdir(sweep: Sweep) -> Path:
    """``output/<sweep name>`` next to the sweep file, with ``/quick`` appended for quick sweeps."""
    outdir = sweep.path.parent / "output" / sweep.name
    return outdir / "quick" if sweep.quick else outdir


# ---------------------------------------------------------------------------------------------------------------------
# One point (runs in a Dask worker process)


def run_point(task: PointTask) -> dict[str, Any]:
    """Run one point of a sweep and persist its record atomically in ``task.outdir/result.json``.

    The study's outputs go to ``task.outdir``, its printed output to
    ``task.outdir/log.txt``. Any exception of the study is caught and recorded
    (status ``"failed"``, ``error``, ``traceback``); it does not propagate. A
    summary whose ``failure`` entry is not None (:func:`study_failure`) is
    recorded as failed too, with that reason as ``error`` and the summary kept.

    Parameters
    ----------
    task
        The point.

    Returns
    -------
    dict
        The record written to ``result.json``: ``status`` ("done"/"failed"),
        ``error``, ``summary`` (the study's summary, JSON-compatible; None if
        ``run`` raised),
        ``parameters``, ``wall_time_s`` [s], ``started``/``finished`` (UTC ISO
        times), ``host``, ``pid``, ``seed``, ``femion_version``,
        ``git_revision``, ``outdir`` and the point identity.
    """
    with _POINT_LOCK:
        return _run_point(task)


def _run_point(task: PointTask) -> dict[str, Any]:
    import random

    import dask

    from femion._version import __version__, git_revision
    from femion.config import load_study
    from femion.io import atomic_write, json_default

    outdir = Path(task.outdir)
    if task.run_id:
        try:
            earlier = json.loads((outdir / "result.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            earlier = {}
        if earlier.get("run_id") == task.run_id and earlier.get("digest") == task.digest:
            return earlier
    outdir.mkdir(parents=True, exist_ok=True)
    _announce_start(task)
    started = _now()
    start = time.perf_counter()
    status, error, trace, summary = "done", None, None, None
    with open(outdir / "log.txt", "w", encoding="utf-8") as log, _redirect_output(log):
        try:
            random.seed(task.seed)
            np.random.seed(task.seed)
            _, module = load_study(task.study)
            # Inside a Dask worker, xarray would lock netCDF writes through the scheduler (a distributed
            # lock): a point then depends on the scheduler connection and fails when the sweep is stopped.
            # The synchronous scheduler keeps everything the study does inside this process.
            from femion.simulation import blas_threads

            with dask.config.set(scheduler="synchronous"), blas_threads():
                result = module.run(outdir, quick=task.quick, overrides=dict(task.parameters))
            if not isinstance(result, Mapping):
                raise TypeError(f"the study's run() returned {type(result).__name__}, not a summary dict")
            summary = json.loads(json.dumps(dict(result), default=json_default))
            failure = study_failure(summary)
            if failure is not None:
                status, error = "failed", failure
                print(f"the study reported a failure: {failure}", file=sys.stderr)
        except Exception as exception:  # a failing point is recorded; the sweep goes on
            status, error, trace = "failed", f"{type(exception).__name__}: {exception}", traceback.format_exc()
            print(trace, file=sys.stderr)
    record = {
        "format": RECORD_FORMAT,
        "index": task.index,
        "name": task.name,
        "digest": task.digest,
        "study": task.study,
        "parameters": dict(task.parameters),
        "quick": task.quick,
        "seed": task.seed,
        "status": status,
        "error": error,
        "traceback": trace,
        "summary": summary,
        "wall_time_s": time.perf_counter() - start,
        "started": started,
        "finished": _now(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "femion_version": __version__,
        "git_revision": git_revision(),
        "outdir": str(outdir),
        "run_id": task.run_id,
    }
    _write_record(outdir, record, atomic_write)
    return record


def _announce_start(task: PointTask) -> None:
    """Tell the sweep's client that this point started (a Dask event; nothing outside a worker)."""
    try:
        from distributed import get_worker

        get_worker().log_event(_started_topic(task.run_id), task.name)
    except (ImportError, ValueError):  # ValueError: not running in a Dask worker
        pass


def _started_topic(run_id: str) -> str:
    return f"femion-sweep-started-{run_id}"


@contextlib.contextmanager
def _redirect_output(log) -> Iterator[None]:
    """Send Python's and the C libraries' standard output and error of this process to ``log``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])


def _write_record(outdir: Path, record: Mapping[str, Any], atomic_write) -> None:
    from femion.io import json_default

    text = json.dumps(record, indent=2, default=json_default)
    atomic_write(outdir / "result.json", lambda temporary: temporary.write_text(text, encoding="utf-8"))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds")




def study_failure(summary: Mapping[str, Any] | None) -> str | None:
    """The failure a study reports in its summary, as one line of text, or None on success.

    Parameters
    ----------
    summary
        A study's summary (the dict its ``run`` returns), or None.

    Returns
    -------
    str or None
        None if ``summary`` has no ``failure`` entry or it is None; else the
        reason (whitespace collapsed to one line; a non-string entry is
        described by its value).
    """
    if not isinstance(summary, Mapping) or summary.get(FAILURE_KEY) is None:
        return None
    reason = summary[FAILURE_KEY]
    if not isinstance(reason, str):
        return f"the study reported {FAILURE_KEY} = {reason!r}"
    return " ".join(reason.split()) or "the study reported a failure without a reason"


def read_records(sweep: Sweep, outdir: str | Path) -> dict[int, dict[str, Any]]:
    """Finished-point records of ``sweep`` found in ``outdir/points`` (index -> record).

    A record counts only if it belongs to the same point: same digest, parameters and quick flag.
    A "done" record whose summary reports a failure (:func:`study_failure`; written before
    failures were recognised) is returned as "failed" with that reason.
    """
    records = {}
    for point in sweep.points():
        path = Path(outdir) / "points" / point.name / "result.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if (record.get("format") == RECORD_FORMAT and record.get("digest") == point.digest
                and record.get("quick") == sweep.quick
                and _canonical(record.get("parameters")) == _canonical(dict(point.parameters))
                and record.get("status") in ("done", "failed")):
            failure = study_failure(record.get("summary"))
            if record["status"] == "done" and failure is not None:
                record = {**record, "status": "failed", "error": failure}
            records[point.index] = record
    return records


# ---------------------------------------------------------------------------------------------------------------------
# Clusters


def _usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def make_cluster(spec: ClusterSpec, workers: int | None = None) -> Any:
    """Create (but do not scale) the Dask cluster of a ``[cluster]`` table.

    Parameters
    ----------
    spec
        The cluster settings.
    workers
        Number of worker processes (local: ``n_workers``; slurm/pbs: the number
        of single-threaded workers to request, instead of ``jobs``).

    Returns
    -------
    distributed.LocalCluster or dask_jobqueue.JobQueueCluster or None
        None for ``kind = "address"`` (connect a client to the address).
        Local clusters start their workers; job-queue clusters submit nothing
        until scaled (``cluster.job_script()`` shows the batch script).

    Raises
    ------
    SweepError
        ``workers`` given for an existing scheduler.
    """
    import logging

    import dask
    import distributed  # noqa: F401  (registers the "distributed" config defaults before dask.config.set below)

    options = dict(spec.options)
    if spec.kind == "address":
        if workers is not None:
            raise SweepError("--workers does not apply to kind = \"address\" (the scheduler's workers run the points)")
        return None
    # The scheduler hands a worker a new point only when its one thread is free, so "running" is exact
    # and a killed worker takes at most one point with it.
    settings = {"distributed.scheduler.worker-saturation": 1.0, "distributed.worker.profile.enabled": False}
    with dask.config.set(settings):
        if spec.kind == "local":
            from distributed import LocalCluster

            # Ctrl-C in the terminal reaches the whole process group, but only this process should react (it
            # closes the cluster; running points have no record yet and run again when the sweep resumes):
            # the worker processes ignore SIGINT from their start (the preload, dask_setup below), and a
            # Ctrl-C while the cluster starts is held and raised once it is up (_sigint_deferred).
            cluster = None
            try:
                with _sigint_deferred():
                    cluster = LocalCluster(
                        n_workers=workers or options.get("n_workers") or _usable_cores(),
                        threads_per_worker=1,
                        processes=True,
                        dashboard_address=":0",  # a free port: several sweeps (or notebooks) can run side by side
                        silence_logs=logging.ERROR,
                        memory_limit=_dask_memory(options["memory"]) if options.get("memory") else "auto",
                        preload=[__name__],
                    )
            except BaseException:
                if cluster is not None:
                    cluster.close(timeout=10)
                raise
            return cluster
        with _sigint_kept():  # importing dask_jobqueue makes SIGINT call sys.exit() (exit status 0)
            import dask_jobqueue

        cluster_class = dask_jobqueue.SLURMCluster if spec.kind == "slurm" else dask_jobqueue.PBSCluster
        cores = options.get("cores", 1)
        arguments = {
            "cores": cores,
            "processes": options.get("processes", cores),
            "memory": _dask_memory(options["memory"]),
            "walltime": options.get("walltime", "01:00:00"),
            "python": options.get("python", sys.executable),
            "scheduler_options": {"dashboard_address": ":0"},
        }
        if options.get("interface"):
            arguments["scheduler_options"]["interface"] = options["interface"]
            arguments["interface"] = options["interface"]
        for key in ("queue", "account", "job_extra_directives", "job_script_prologue", "local_directory", "log_directory"):
            if options.get(key) is not None:
                arguments[key] = options[key]
        return cluster_class(**arguments)


def dask_setup(worker: Any) -> None:
    """Dask preload of the local cluster's worker processes: ignore SIGINT (Ctrl-C).

    Ctrl-C in a terminal signals the whole process group; the sweep's main
    process stops the sweep, so the workers must not die on their own (a
    point whose worker dies may be recorded as failed instead of staying
    pending for the resume). Called by Dask in the worker process's main thread before
    it accepts tasks (``preload=["femion.sweep"]``); a no-op in other threads.

    Parameters
    ----------
    worker : distributed.Worker
        The starting worker (unused).
    """
    import signal

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Hold a Ctrl-C (SIGINT) that arrives while the block runs; act on it when the block ends.

    A handler installed before the block records the signal (in whichever
    thread the kernel delivers it); on leaving, the previous handler is
    restored and, if a signal arrived, called, so that Python's default raises
    KeyboardInterrupt then (also when the block failed). Ignoring the signal
    instead (SIG_IGN, even with the main thread blocking it) would lose it:
    a process-directed signal goes to any thread that does not block it, such
    as a BLAS thread, which then discards it. If SIGINT is already ignored
    (e.g. a background job of a non-interactive shell) it stays ignored.
    Main thread only; elsewhere a no-op.
    """
    import signal

    previous = signal.getsignal(signal.SIGINT) if threading.current_thread() is threading.main_thread() else None
    if previous in (None, signal.SIG_IGN):
        yield
        return
    received: list[int] = []
    signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            if callable(previous):
                previous(signal.SIGINT, None)  # default_int_handler: raise KeyboardInterrupt
            else:  # SIG_DFL: the default action (terminate)
                os.kill(os.getpid(), signal.SIGINT)


@contextlib.contextmanager
def _sigint_kept() -> Iterator[None]:
    """Restore the SIGINT handler after the block (main thread only; elsewhere a no-op)."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _dask_memory(text: str) -> str:
    """``"4 GiB"`` -> ``"4GiB"`` (Dask's byte parser wants no space before some units)."""
    return text.replace(" ", "")


# ---------------------------------------------------------------------------------------------------------------------
# The sweep


def run_sweep(
    sweep: Sweep | str | Path,
    outdir: str | Path | None = None,
    *,
    quick: bool | None = None,
    workers: int | None = None,
    retry_failed: bool = False,
    client: Any = None,
    progress: bool | None = None,
) -> SweepResult:
    """Run every unfinished point of a sweep on Dask and write ``OUTDIR/results.nc``.

    Finished points (a matching ``points/<index>-<hash>/result.json``) are
    reused, so re-running a killed sweep resumes it. Once the output directory
    exists, the store is rebuilt from the per-point records however the call
    ends: normally, with an error, interrupted (points not yet run then have
    status ``"pending"``) or with any other exception.

    Parameters
    ----------
    sweep
        A :class:`Sweep` or a sweep file.
    outdir
        Output directory (default: :func:`default_outdir`).
    quick
        True forces the study's quick variant (else the sweep file's ``quick``).
    workers
        Number of worker processes (see :func:`make_cluster`).
    retry_failed
        Recompute points whose earlier run failed (default: keep their records).
    client
        An existing ``distributed.Client`` to use instead of the ``[cluster]`` table.
    progress
        True: a tqdm progress bar (on standard error); False: no progress
        output; None (default): the bar if standard error is a terminal, else
        one line on standard output every ``PROGRESS_INTERVAL`` seconds
        (points done, failed and pending, elapsed time), for log files.

    Returns
    -------
    SweepResult

    Raises
    ------
    SweepError
        Invalid sweep file or overrides (before any point runs), or an
        observable missing from (or naming a table in) the first finished
        point's summary (the sweep stops; finished points are kept for the
        re-run). Values of differing kinds never stop a sweep (see
        :func:`build_store`).
    KeyboardInterrupt
        Re-raised after the partial store is written and the cluster closed.
    """
    import xarray as xr  # noqa: F401  (fail early if the store cannot be written)

    from femion.io import write_dataset

    begin = time.perf_counter()
    if not isinstance(sweep, Sweep):
        sweep = load_sweep(sweep)
    if quick:
        sweep = dataclasses.replace(sweep, quick=True)
    if workers is not None and client is None and sweep.cluster.kind == "address":
        raise SweepError(f"{sweep.path}: --workers does not apply to kind = \"address\" (the scheduler's workers run the points)")
    validate_sweep(sweep)
    points = sweep.points()
    outdir = Path(outdir) if outdir is not None else default_outdir(sweep)
    outdir = outdir.resolve()
    (outdir / "points").mkdir(parents=True, exist_ok=True)
    from femion.io import atomic_write

    atomic_write(outdir / "sweep.toml", lambda temporary: temporary.write_text(sweep.text, encoding="utf-8"))
    computed, reusable = 0, set()
    try:
        records = read_records(sweep, outdir)
        for record in records.values():
            if record["status"] == "done":
                _observables(record, sweep)  # an observable renamed since: say so before computing anything
        reusable = {index for index, record in records.items() if record["status"] == "done" or not retry_failed}
        todo = [point for point in points if point.index not in reusable]
        if todo:
            computed = _compute(sweep, todo, outdir, workers, client, progress, len(points), reusable, records)
    finally:
        # Every way out (done, an error, Ctrl-C, any exception) leaves a store that matches the records on disk.
        records = read_records(sweep, outdir)
        dataset = build_store(sweep, outdir, records, strict=False)
        write_dataset(outdir / "results.nc", dataset)
    failed = sum(record["status"] == "failed" for record in records.values())
    return SweepResult(
        store=outdir / "results.nc",
        dataset=dataset,
        points=len(points),
        computed=computed,
        reused=len(reusable),
        failed=failed,
        wall_time=time.perf_counter() - begin,
    )


def _compute(sweep, todo, outdir, workers, client, progress, total, reusable, records) -> int:
    """Submit ``todo`` to Dask and wait; return the number of points finished in this call."""
    from tqdm import tqdm

    from femion.io import atomic_write

    run_id = uuid.uuid4().hex[:12]
    tasks = {
        point.index: PointTask(
            study=str(sweep.study), index=point.index, name=point.name, digest=point.digest,
            parameters=dict(point.parameters), quick=sweep.quick, outdir=str(outdir / "points" / point.name),
            seed=point.seed, run_id=run_id,
        )
        for point in todo
    }
    failed = sum(records[index]["status"] == "failed" for index in reusable)
    lines = progress is None and not _is_terminal(sys.stderr)  # e.g. output to a file: periodic lines instead
    bar = tqdm(total=total, initial=len(reusable), desc=f"sweep {sweep.name}", unit="point",
               disable=lines or (None if progress is None else not progress), dynamic_ncols=True)
    report = _ProgressLines(sweep.name, total, len(reusable), failed) if lines else None
    finished = 0
    with _client(sweep.cluster, workers, client) as dask_client:
        started: set[str] = set()  # points whose worker announced the start (see _announce_start)
        topic = _started_topic(run_id)
        dask_client.subscribe_topic(topic, lambda event: started.add(event[1]))
        futures = {
            dask_client.submit(run_point, task, key=f"femion-point-{task.name}-{run_id}", pure=False): task
            for task in tasks.values()
        }
        pending = set(futures)
        try:
            while pending:
                done = [future for future in pending if future.done()]
                for future in done:
                    pending.discard(future)
                    task = futures.pop(future)  # dropping the future lets the worker forget the result
                    if future.status == "finished":
                        record = future.result()
                    elif future.status == "cancelled":
                        continue  # no record: the point is unfinished and runs again on the next call
                    else:  # the task itself died (e.g. its worker was killed repeatedly): record the failure
                        exception = future.exception()
                        record = _failed_record(task, f"{type(exception).__name__}: {exception}")
                        _write_record(Path(task.outdir), record, atomic_write)
                    finished += 1
                    failed += record["status"] == "failed"
                    if record["status"] == "done":
                        _observables(record, sweep)
                    bar.update(1)
                done = future = None  # drop the references: the workers may forget those results
                if pending:
                    running = len(started & {futures[future].name for future in pending})
                    bar.set_postfix_str(
                        f"done {bar.n - failed}, running {running}, failed {failed}, queued {len(pending) - running}",
                        refresh=True,
                    )
                    if report is not None:
                        report.show(len(reusable) + finished, failed, running)
                    time.sleep(0.2)
            bar.set_postfix_str(f"done {bar.n - failed}, failed {failed}")
            if report is not None:
                report.show(len(reusable) + finished, failed, 0, final=True)
        finally:
            for future in pending:
                future.cancel()
            with contextlib.suppress(Exception):  # the client may be gone already (Ctrl-C)
                dask_client.unsubscribe_topic(topic)
            bar.close()
    return finished


PROGRESS_INTERVAL = 30.0
"""Seconds between the progress lines of a sweep whose standard error is not a terminal."""


def _is_terminal(stream: Any) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class _ProgressLines:
    """One progress line on standard output at the start, every ``PROGRESS_INTERVAL`` seconds and at the end."""

    def __init__(self, name: str, total: int, finished: int, failed: int) -> None:
        self.name, self.total, self.begin, self.last = name, total, time.monotonic(), -math.inf
        self.show(finished, failed, 0)

    def show(self, finished: int, failed: int, running: int, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - self.last < PROGRESS_INTERVAL:
            return
        self.last = now
        elapsed = _dt.timedelta(seconds=round(now - self.begin))
        pending = self.total - finished
        print(f"sweep {self.name}: {finished - failed} done, {failed} failed, {pending} pending"
              f"{f' ({running} running)' if pending else ''} of {self.total} points; elapsed {elapsed}", flush=True)


def _failed_record(task: PointTask, error: str) -> dict[str, Any]:
    from femion._version import __version__, git_revision

    return {
        "format": RECORD_FORMAT, "index": task.index, "name": task.name, "digest": task.digest, "study": task.study,
        "parameters": dict(task.parameters), "quick": task.quick, "seed": task.seed, "status": "failed",
        "error": error, "traceback": None, "summary": None, "wall_time_s": float("nan"), "started": None,
        "finished": _now(), "host": socket.gethostname(), "pid": None, "femion_version": __version__,
        "git_revision": git_revision(), "outdir": task.outdir, "run_id": task.run_id,
    }


@contextlib.contextmanager
def _client(spec: ClusterSpec, workers: int | None, client: Any) -> Iterator[Any]:
    """A Dask client for the sweep; clusters created here are closed on exit."""
    if client is not None:
        yield client
        return
    import shutil

    from distributed import Client

    submit = {"slurm": "sbatch", "pbs": "qsub"}.get(spec.kind)
    if submit and shutil.which(submit) is None:
        raise SweepError(
            f"cluster kind {spec.kind!r}: {submit!r} is not on the PATH; run femion sweep on the cluster's login "
            "node (or inside a job), where the batch system's commands are available"
        )
    cluster = make_cluster(spec, workers)
    try:
        if cluster is None:
            own = Client(spec.options["address"], set_as_default=False)
        else:
            if spec.kind in ("slurm", "pbs"):
                if workers:
                    cluster.scale(n=workers)
                else:
                    cluster.scale(jobs=spec.options.get("jobs", 1))
            own = Client(cluster, set_as_default=False)
        try:
            yield own
        finally:
            own.close(timeout=10)
    finally:
        if cluster is not None:
            cluster.close(timeout=10)


# ---------------------------------------------------------------------------------------------------------------------
# The results store


def _observables(record: Mapping[str, Any], sweep: Sweep) -> dict[str, Any]:
    """The observables' values in a record's summary, as the study returned them (JSON types).

    Raises
    ------
    SweepError
        An observable that is not in the summary, or that names a table: mistakes
        in ``observables``, reported at the first finished point (finished points
        are reused after the fix).
    """
    summary = record.get("summary") or {}
    values = {}
    for name in sweep.observables:
        if name in summary:
            value = summary[name]
        else:
            value = summary
            for part in name.split("."):
                if not isinstance(value, Mapping) or part not in value:
                    raise SweepError(
                        f"{sweep.path}: observable {name!r} is not in the summary of point {record['name']} "
                        f"(summary keys: {sorted(summary)}); fix 'observables' and re-run: finished points are reused"
                    )
                value = value[part]
        if isinstance(value, Mapping):
            raise SweepError(
                f"{sweep.path}: observable {name!r} of point {record['name']} is a table; name one entry, "
                f"e.g. {name + '.' + next(iter(value), 'key')!r}"
            )
        values[name] = value
    return values


def _kind(value: Any) -> str:
    """Storage kind of one observable value: "none", "number", "str", "list" (1-D, numbers or None) or "text"."""
    if value is None:
        return "none"
    if isinstance(value, (bool, int, float)):
        return "number"
    if isinstance(value, str):
        return "str"
    if isinstance(value, list) and all(item is None or isinstance(item, (bool, int, float)) for item in value):
        return "list"
    return "text"


def _as_float(value: Any) -> float:
    return math.nan if value is None else float(value)


def _coordinate(key: str, values: list[Any]) -> tuple[np.ndarray, dict[str, str]]:
    """Swept values -> coordinate array (SI floats for quantities) and attributes."""
    from femion.units import UnitError, si_unit, to_si

    attrs = {"long_name": key}
    head, _, rest = key.partition(".")
    unit = _DEVICE_UNITS.get(rest.rsplit(".", 1)[-1]) if head == "device" else None
    if unit is not None:
        return np.array([to_si(value, unit, name=key) for value in values]), {**attrs, "units": unit}
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return np.array(values), {**attrs, "units": "1"}  # a bare TOML number is dimensionless (to_si wants units otherwise)
    if all(isinstance(value, str) for value in values):
        matches = [_NUMBER.match(value) for value in values]
        if all(matches) and all(match.group(2) for match in matches):
            try:
                base = {si_unit(match.group(2)) for match in matches}
            except Exception:  # not a unit: keep the strings
                base = set()
            if len(base) == 1:
                (base_unit,) = base
                named = next((name for name in _NAMED_SI_UNITS if si_unit(name) == base_unit), base_unit)
                try:
                    return np.array([to_si(value, named, name=key) for value in values]), {**attrs, "units": named}
                except UnitError:
                    pass
        return np.array(values, dtype=object), attrs
    return np.array([_canonical(value) for value in values], dtype=object), {**attrs, "note": "JSON text of the values"}


def _lenient_value(record: Mapping[str, Any], name: str) -> Any:
    """An observable's value for a store written despite a naming mistake: the value, or None if absent or a table."""
    value = record.get("summary") or {}
    for part in [name] if name in value else name.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return None
        value = value[part]
    return None if isinstance(value, Mapping) else value


def _observable_unit(name: str, sweep: Sweep) -> str | None:
    if name in sweep.observable_units:
        return sweep.observable_units[name]
    for suffix, unit in sorted(_SUFFIX_UNITS.items(), key=lambda item: -len(item[0])):
        if name.endswith(suffix):
            return unit
    return None


def build_store(
    sweep: Sweep, outdir: str | Path, records: Mapping[int, Mapping[str, Any]] | None = None, *, strict: bool = True
) -> Any:
    """The sweep's results as an :class:`xarray.Dataset`, from the per-point records.

    Parameters
    ----------
    sweep
        The sweep.
    outdir
        Its output directory.
    records
        Index -> record (default: :func:`read_records`).
    strict
        Raise on observable naming mistakes (else store those values as missing).

    Returns
    -------
    xarray.Dataset
        Dimension ``point`` (n_points,); coordinates ``point`` (index),
        ``point_id`` (directory name) and one per swept key (named by the dotted
        key; SI floats with ``units`` when the values are quantities, else the
        values or their JSON text). One variable per observable: (point,) for
        scalars, (point, ``<observable>_index`` or its ``[observable_dims]``
        name) for 1-D lists (NaN-padded), text for strings and for values of
        other or differing kinds across points (JSON text of non-strings, a
        ``note`` attribute says so); NaN (or "") where a point did not finish,
        failed, or returned None. Provenance per point: ``status`` ("done", "failed", "pending"),
        ``error``, ``wall_time`` [s], ``started``, ``finished``, ``host``,
        ``outdir``, ``seed``, ``femion_version``, ``git_revision``,
        ``parameters`` (JSON text of all overrides). Attributes: the sweep
        (``sweep_kind``, ``swept_parameters``, ``grid_shape`` for grids: see
        :func:`unstack`, ``lhs_seed``, ``fixed_parameters``, ``quick``,
        ``sweep_file``, ``sweep_toml``) and the builder's version and revision.

    Raises
    ------
    SweepError
        Only if ``strict``: an observable missing from a done point's summary
        or naming a table (see :func:`_observables`). Otherwise such a value is
        stored as missing, so a store can always be written.
    """
    import xarray as xr

    from femion._version import __version__, git_revision

    points = sweep.points()
    records = read_records(sweep, outdir) if records is None else records
    n = len(points)
    values: dict[int, dict[str, Any]] = {}
    for index, record in records.items():
        if record["status"] == "done":
            try:
                values[index] = _observables(record, sweep)
            except SweepError:
                if strict:
                    raise
                values[index] = {name: _lenient_value(record, name) for name in sweep.observables}
    data_vars: dict[str, Any] = {}
    for name in sweep.observables:
        column = {index: row[name] for index, row in values.items() if row[name] is not None}
        kinds = {_kind(value) for value in column.values()}
        unit = _observable_unit(name, sweep)
        # numbers without a unit suffix or [observable_units] entry are stored as dimensionless (netCDF needs units)
        numeric = bool(kinds) and (kinds <= {"number"} or kinds == {"list"})
        attrs = {"units": unit} if unit else {"units": "1"} if numeric or not kinds else {}
        if kinds <= {"number"}:
            array = np.full(n, np.nan)
            for index, value in column.items():
                array[index] = float(value)
            data_vars[name] = ("point", array, attrs)
        elif kinds == {"list"}:
            array = np.full((n, max(len(value) for value in column.values())), np.nan)
            for index, value in column.items():
                array[index, : len(value)] = [_as_float(item) for item in value]
            data_vars[name] = (("point", sweep.observable_dims.get(name, f"{name}_index")), array, attrs)
        else:  # strings; or values of other kinds, or of differing kinds across points: text
            array = np.full(n, "", dtype=object)
            for index, value in column.items():
                array[index] = value if isinstance(value, str) else _canonical(value)
            if kinds != {"str"}:
                attrs["note"] = (f"stored as text (JSON for non-strings): the values are of kinds {sorted(kinds)} "
                                 "across points, not all numbers or all 1-D lists of numbers")
            data_vars[name] = ("point", array, attrs)
        if name in sweep.observable_dims and column and kinds != {"list"}:
            data_vars[name][2]["observable_dims"] = (f"[observable_dims] names {sweep.observable_dims[name]!r} for it, "
                                                     "unused: its values are not all 1-D lists of numbers")
    widths: dict[str, int] = {}  # observables sharing a dimension are NaN-padded to the longest
    for dim_names, array, _ in data_vars.values():
        if isinstance(dim_names, tuple):
            widths[dim_names[1]] = max(widths.get(dim_names[1], 0), array.shape[1])
    for name, (dim_names, array, attrs) in list(data_vars.items()):
        if isinstance(dim_names, tuple) and array.shape[1] < widths[dim_names[1]]:
            padded = np.full((n, widths[dim_names[1]]), np.nan)
            padded[:, : array.shape[1]] = array
            data_vars[name] = (dim_names, padded, attrs)

    def column(key: str, default: Any, dtype: Any = object) -> np.ndarray:
        array = np.array([default] * n, dtype=dtype)
        for index, record in records.items():
            value = record.get(key)
            array[index] = default if value is None else value
        return array

    status = column("status", "pending")
    error = column("error", "")
    data_vars.update({
        "status": ("point", status, {"long_name": "done, failed, or pending (not run yet)"}),
        "error": ("point", error, {"long_name": "error of a failed point"}),
        "wall_time": ("point", column("wall_time_s", np.nan, float), {"units": "s", "long_name": "run time of the point"}),
        "started": ("point", column("started", ""), {"long_name": "start time (UTC, ISO 8601)"}),
        "finished": ("point", column("finished", ""), {"long_name": "end time (UTC, ISO 8601)"}),
        "host": ("point", column("host", ""), {}),
        "outdir": ("point", np.array([str(Path(outdir) / "points" / p.name) for p in points], dtype=object),
                   {"long_name": "the point's output directory"}),
        "seed": ("point", np.array([p.seed for p in points], dtype=np.int64),
                 {"units": "1", "long_name": "seed of random and numpy.random in the point's process"}),
        "femion_version": ("point", column("femion_version", ""), {}),
        "git_revision": ("point", column("git_revision", ""), {}),
        "parameters": ("point", np.array([_canonical(dict(p.parameters)) for p in points], dtype=object),
                       {"long_name": "JSON text of the point's overrides (swept and fixed)"}),
    })
    coords: dict[str, Any] = {
        "point": ("point", np.arange(n), {"units": "1", "long_name": "point index"}),
        "point_id": ("point", np.array([p.name for p in points], dtype=object), {"long_name": "<index>-<hash> directory name"}),
    }
    for key in sweep.swept:
        array, attrs = _coordinate(key, [p.parameters[key] for p in points])
        coords[key] = ("point", array, attrs)
    attrs = {
        "title": f"femion sweep {sweep.name}",
        "study": str(sweep.study),
        "sweep_file": str(sweep.path.resolve()),
        "sweep_kind": sweep.kind,
        "swept_parameters": json.dumps(list(sweep.swept)),
        "fixed_parameters": json.dumps(dict(sweep.fixed), default=str),
        "quick": int(sweep.quick),
        "points_done": int(np.sum(status == "done")),
        "points_failed": int(np.sum(status == "failed")),
        "points_pending": int(np.sum(status == "pending")),
        "femion_version": __version__,
        "git_revision": git_revision(),
        "created": _now(),
        "sweep_toml": sweep.text,
    }
    if sweep.kind == "grid":
        attrs["grid_shape"] = json.dumps(list(sweep.shape))
    if sweep.seed is not None:
        attrs["lhs_seed"] = sweep.seed
    return xr.Dataset(data_vars, coords=coords, attrs=attrs)


def unstack(dataset: Any) -> Any:
    """A grid sweep's store with one dimension per swept key (named by the dotted key), those first.

    Raises
    ------
    SweepError
        If ``dataset`` is not the store of a grid sweep.
    """
    if dataset.attrs.get("sweep_kind") != "grid":
        raise SweepError(f"only grid sweeps unstack; this store's sweep_kind is {dataset.attrs.get('sweep_kind')!r}")
    keys = json.loads(dataset.attrs["swept_parameters"])
    return dataset.drop_vars("point").set_index(point=keys).unstack("point").transpose(*keys, ...)
