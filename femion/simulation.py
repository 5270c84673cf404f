"""``Simulation(device, protocol).run()``: the time loop over a protocol.

Pipeline: device → mesh → physics modules (electrostatics first, then lithium;
later physics append to the list) → time loop over the protocol steps →
:class:`Result` (curves, reads, final fields), written to an output directory
with provenance.

The walk through the protocol (:class:`TimeLoop`) is written once and shared
with :class:`femion.circuit.Circuit`, which solves several devices in one
circuit; :meth:`Simulation.advance` is the one-step coupled advance of a single
device that both use.

Time stepping. Within each protocol step the loop lands exactly on the step's
breakpoints, never exceeds ``step.max_step``, and adapts dt: after an accepted
step dt grows by ``settings.growth``; a failed step (a module error, a
non-converged coupling, a non-finite or unphysical field) is rejected, the
state restored and dt halved, down to ``settings.min_step_fraction`` of the
protocol step (then :class:`SimulationError` names the time). NaN never
propagates silently.

Checkpoints. After every protocol step the state, the records and the
position in the protocol are written atomically to ``checkpoint.npz`` in the
output directory (protocol steps are pulses, reads, rests and sweep legs, so
at most one step's work is lost). ``run(outdir)`` on a directory holding a checkpoint of the
same device, protocol and mesh resumes after the last completed protocol step;
nothing already computed is recomputed. A run with an output directory writes
a first checkpoint (the initial state) before its first step, so a run that
stops at any point, interrupted (Ctrl-C: :class:`SimulationInterrupted`) or
failed (:class:`SimulationError`), leaves a checkpoint to resume from. Resuming
is exact: the modules keep nothing between steps that is not in the
:class:`~femion.coupling.State` or rebuilt from it (:mod:`femion.coupling`),
and the time step of every protocol step starts afresh, so a resumed run
repeats the uninterrupted one to round-off.

External circuit. Voltage-controlled steps impose V(t); current-controlled
steps (galvanostatic charge/discharge, open-circuit rests at 0 A) make V an
unknown fixed by the total current; a step's compliance current and the
settings' series resistor limit the current of a voltage source
(:class:`femion.coupling.Drive`). A current-controlled step with voltage
limits ends where V crosses a limit: the crossing is located by re-running the
last time step to the interpolated crossing time until V is within
``settings.limit_tolerance`` of the limit. On current-controlled steps dt also
adapts so that V changes by at most ``settings.max_voltage_change`` per step.

Local-error control (``settings.error_tolerance`` = ε, off by default). The
local error of an implicit-Euler step is estimated from the difference between
the corrector x and the predictor x_p = x_n + (dt/dt_n)(x_n − x_{n−1}), the
linear extrapolation of the two previous accepted states (predictor–corrector
estimate of BDF1, Hairer & Wanner, *Solving ODEs II*, §III.7). For implicit-Euler
history (x_n − x_{n−1})/dt_n is the rate at t_n, so x_p is the explicit-Euler
step: its local error is −x'' dt²/2 against +x'' dt²/2 of implicit Euler (x''
the second time derivative), x − x_p = x'' dt², and

    e = ½ max|x − x_p| / (ε · max(max|x|, floor_x))

over every field the modules own (floors: their ``field_scales``), except the
fields of a module with ``smooth_coupling = False`` (the mechanics' plastic
state: at the onset of yielding ε_p leaves 0 with a kink in time, which a
linear predictor cannot follow at any dt). A step with
e > 1 is rejected and retried with dt · max(0.2, 0.9 e^(−1/2)); an accepted
step sets the next dt to dt · min(growth, 0.9 e^(−1/2)). The estimate needs two
accepted states of the same protocol step, so the first step of each protocol
step (and a step 100× longer than its predecessor, a sliver that landed on a
breakpoint) is accepted on convergence alone. Operator splitting inside a step (a
generation rate lagged to the start of the step, :mod:`femion.physics.vacancy`)
is first-order too and is covered by the same estimate.

Progress. ``run(progress=None)`` shows a tqdm bar (stage label, simulated
time, voltage, time-step count) on a terminal and, when stderr is not a
terminal (logs, sweeps, CI), writes one line per :data:`PROGRESS_INTERVAL`
seconds of wall time to stderr; ``stage`` names the run in both.

Physics. ``physics`` lists the modules after electrostatics by name
(:data:`PHYSICS`, in that operator order); each is built as
``Module(mesh, device)``. Modules with a ``conductivity(state, kappa)`` hook
feed the potential solve; modules with an ``interfaces(state, dt, start)``
hook supply interface laws (Butler–Volmer) to it.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from femion.config import Device
from femion.coupling import CouplingError, Drive, RecentHistoryDrive, State, coupled_step, solution_fields
from femion.geometry import QUICK_MESH, MeshSettings
from femion.io import atomic_write, write_dataset, write_fields, write_run_metadata
from femion.mesh import AxisymmetricMesh, build_mesh
from femion.protocols import Protocol, read_step

__all__ = [
    "PHYSICS", "Progress", "ProtocolChain", "Records", "Result", "Simulation", "SimulationError", "SimulationInterrupted",
    "SimulationSettings", "TimeLoop",
    "available_physics", "physics_class", "records_to_curves",
]

PHYSICS: dict[str, str] = {
    "lithium": "femion.physics.lithium:LithiumModule",
    "mechanics": "femion.physics.mechanics:MechanicsModule",
    "air": "femion.physics.air:AirModule",
    "vacancy": "femion.physics.vacancy:VacancyModule",
    "thermal": "femion.physics.thermal:ThermalModule",
}
"""Physics modules by name, in operator order (after electrostatics), as ``module:Class``."""

PROGRESS_INTERVAL = 10.0
"""Wall time [s] between progress lines when stderr is not a terminal."""


class Progress:
    """Progress of one time loop (:meth:`Simulation.run`, :meth:`femion.circuit.Circuit.run`): a tqdm bar on a terminal, else a line every :data:`PROGRESS_INTERVAL` s.

    ``mode`` True forces the bar, False shows nothing, None picks the bar on a
    terminal and the periodic lines elsewhere. Lines go to stderr as
    ``femion: <stage>: t = ... s (x % of the protocol), V = ... V, time step n, protocol step i/N, w s wall``.

    Parameters
    ----------
    stage : str or None
        Label of the run (None: "femion").
    total : float
        Duration of the timed protocol steps [s].
    done : float
        Protocol time already done [s] (a resumed run).
    steps : int
        Number of protocol steps.
    mode : bool or None
        As above.
    stages : list of (str or None), optional
        Stage name of each protocol step (:attr:`femion.protocols.Step.stage`), shown after ``stage``.
    """

    def __init__(self, stage: str | None, total: float, done: float, steps: int, mode: bool | None,
                 stages: list[str | None] | None = None):
        from tqdm import tqdm

        self.stage, self.total, self.done, self.steps = stage or "femion", total, done, steps
        self.stages = stages  # stage name of each protocol step (Step.stage), shown after ``stage``
        self.count = 0
        self.start = self.last = time.monotonic()
        terminal = bool(getattr(sys.stderr, "isatty", lambda: False)())
        self.bar = tqdm(total=total, unit="s", desc=self.stage, initial=done) if mode or (mode is None and terminal) else None
        self.lines = mode is None and not terminal

    def update(self, amount: float, state: State, index: int) -> None:
        """One accepted time step that advanced the timed protocol by ``amount`` [s], ending in ``state``."""
        self.done += amount
        self.count += 1
        label = self.stage
        if self.stages is not None and self.stages[index] is not None:
            label = f"{self.stage}: {self.stages[index]}"
        if self.bar is not None:
            if self.bar.desc != label:
                self.bar.set_description(label, refresh=False)
            self.bar.update(amount)
            self.bar.set_postfix(V=f"{state.voltage:.3g}", step=self.count, refresh=False)
        elif self.lines:
            now = time.monotonic()
            if now - self.last >= PROGRESS_INTERVAL:
                self.last = now
                share = f" ({100.0 * self.done / self.total:.0f} % of the protocol)" if self.total > 0 else ""
                prefix = "femion: " if self.stage != "femion" else ""
                print(
                    f"{prefix}{label}: t = {state.time:.4g} s{share}, V = {state.voltage:.4g} V, time step {self.count}, "
                    f"protocol step {index + 1}/{self.steps}, {now - self.start:.0f} s wall",
                    file=sys.stderr, flush=True,
                )

    def close(self) -> None:
        """Close the bar (if any)."""
        if self.bar is not None:
            self.bar.close()



BLAS_THREADS_VARIABLE = "FEMION_BLAS_THREADS"
"""Environment variable: threads of the BLAS/LAPACK libraries inside :func:`blas_threads` (default 1)."""


def blas_threads():
    """Context manager limiting the BLAS/LAPACK thread pools (threadpoolctl) for a run; ``FEMION_BLAS_THREADS`` sets the count.

    femion's solves are sparse factorisations and many small dense products,
    where a second OpenBLAS thread costs more than it gains: measured on the
    2-core reference machine under load, one mechanics solve took 147 ms with
    two threads and 49 ms with one, and a 300×300 matrix product 33 ms against
    1.2 ms. ``femion run`` and every sweep point run inside it (a sweep runs
    one point per core already).

    Raises
    ------
    ValueError
        If ``FEMION_BLAS_THREADS`` is not a positive integer.
    """
    import os

    from threadpoolctl import threadpool_limits

    text = os.environ.get(BLAS_THREADS_VARIABLE, "1")
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise ValueError(f"environment variable {BLAS_THREADS_VARIABLE} must be a positive integer, got {text!r}")
    return threadpool_limits(limits=count, user_api="blas")


def physics_class(name: str) -> type:
    """The module class registered in :data:`PHYSICS` under ``name``.

    Raises
    ------
    ValueError
        If ``name`` is not a key of :data:`PHYSICS`.
    ImportError, AttributeError
        If the registered module or class cannot be imported.
    """
    if name not in PHYSICS:
        raise ValueError(f"unknown physics {name!r}; choose from {list(PHYSICS)}")
    module_name, class_name = PHYSICS[name].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def available_physics(names) -> tuple[list[str], list[str]]:
    """Split physics ``names`` into those whose module class imports and those that are unknown or missing."""
    present, missing = [], []
    for name in names:
        try:
            physics_class(name)
            present.append(name)
        except (ValueError, ImportError, AttributeError):
            missing.append(name)
    return present, missing


def _module_identity(module) -> list[str]:
    """A physics module as built, for the checkpoint signature: class, ``settings`` and a digest of its ``properties`` arrays.

    A module swapped into :attr:`Simulation.modules` with other settings, or
    drawn with another disorder (the barrier offsets of
    :class:`femion.physics.vacancy.VacancyModule` live in its properties),
    is another run: its output folder's checkpoint is not resumed.
    """
    import dataclasses

    digest = hashlib.sha256()
    properties = getattr(module, "properties", None)
    if dataclasses.is_dataclass(properties):
        for item in dataclasses.fields(properties):
            value = getattr(properties, item.name)
            digest.update(item.name.encode())
            digest.update(np.ascontiguousarray(value).tobytes() if isinstance(value, np.ndarray) else repr(value).encode())
    return [f"{type(module).__module__}.{type(module).__qualname__}", repr(getattr(module, "settings", None)), digest.hexdigest()]


class SimulationError(RuntimeError):
    """The time loop could not advance (the message names the time and the cause)."""


class SimulationInterrupted(KeyboardInterrupt):
    """Ctrl-C (a KeyboardInterrupt) during :meth:`Simulation.run`; the message says where the run stopped and how to resume.

    A KeyboardInterrupt, so that whatever stops on Ctrl-C stops on it too.

    Attributes
    ----------
    time : float
        Time of the last accepted state [s].
    step : int
        The protocol step that was running, counted from 1.
    steps : int
        Number of protocol steps.
    label : str
        That step's label (its kind if it has none).
    checkpoint : pathlib.Path or None
        The checkpoint a rerun resumes from (the end of the last completed
        protocol step); None for a run without an output directory.
    """

    def __init__(self, time: float, step: int, steps: int, label: str, checkpoint: Path | None):
        self.time, self.step, self.steps, self.label, self.checkpoint = time, step, steps, label, checkpoint
        where = f"interrupted at t = {time:.6g} s in step {step}/{steps} ({label})"
        if checkpoint is None:
            super().__init__(f"{where}; the run had no output folder, so there is no checkpoint to resume from")
        else:
            super().__init__(f"{where}; rerun the same command to resume from {checkpoint}")

    def __reduce__(self):
        return type(self), (self.time, self.step, self.steps, self.label, self.checkpoint)


@dataclass(frozen=True)
class SimulationSettings:
    """Numerical settings of the time loop.

    Attributes
    ----------
    mesh : MeshSettings
        Mesh resolution (default: the quick mesh).
    first_step : float or None
        First trial dt of every protocol step [s]; None starts at the step's
        ``max_step`` and relies on rejection to shrink it where needed.
    growth : float
        dt growth factor after an accepted step.
    min_step_fraction : float
        Smallest dt as a fraction of the protocol step's duration before giving up.
    tolerance : float
        Relative Picard tolerance of the coupling iterations.
    max_iterations : int
        Coupling iterations per step.
    series_resistance : float
        Resistor between the voltage source and the top electrode [Ohm].
    unbounded_first_step : float
        First trial dt [s] of a step without natural time scale (a
        galvanostatic step that runs until a voltage limit).
    max_voltage_change : float
        Largest change of V per time step on current-controlled steps [V].
    limit_tolerance : float
        How close V must land to a voltage limit that ends a step [V].
    error_tolerance : float or None
        Relative local-error tolerance of the adaptive time step (module
        docstring, "Local-error control"); None: no error control, dt grows by
        ``growth`` up to the protocol step's ``max_step``.
    circuit_window : int or None
        With a voltage source, the loop-level circuit update uses only the
        last ``circuit_window`` coupling iterates
        (:class:`femion.coupling.RecentHistoryDrive`; for physics whose I(V)
        changes between iterates, e.g. the V_O field); None: all of them. That
        update (:meth:`femion.coupling.Drive.target_voltage`) is only the
        fallback where the first module reports no dI/dV: the electrostatics
        module solves the circuit (compliance, series resistor) inside its
        potential solve (:meth:`femion.coupling.Drive.electrode_voltage`), and
        there the window has no effect.
    lagged : tuple of str
        Physics solved once per step after the others converged instead of in
        every coupling iteration (``lagged`` of :func:`femion.coupling.coupled_step`;
        e.g. ``("mechanics",)``: its porosity reaches the air module one step late).

    Raises
    ------
    ValueError
        If ``error_tolerance`` is given and not positive and finite.
    """

    mesh: MeshSettings = QUICK_MESH
    first_step: float | None = None
    growth: float = 1.5
    min_step_fraction: float = 1e-9
    tolerance: float = 1e-6
    max_iterations: int = 20
    series_resistance: float = 0.0
    unbounded_first_step: float = 1e-3
    max_voltage_change: float = 0.05
    limit_tolerance: float = 1e-3
    error_tolerance: float | None = None
    circuit_window: int | None = None
    lagged: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "lagged", tuple(self.lagged))
        if self.circuit_window is not None and (isinstance(self.circuit_window, bool) or int(self.circuit_window) != self.circuit_window
                                                or self.circuit_window < 2):
            raise ValueError(f"circuit_window must be an integer >= 2 or None, got {self.circuit_window!r}")
        if self.error_tolerance is not None and not (math.isfinite(self.error_tolerance) and self.error_tolerance > 0.0):
            raise ValueError(f"error_tolerance must be positive and finite or None, got {self.error_tolerance!r}")


@dataclass
class Result:
    """Output of :meth:`Simulation.run`.

    Attributes
    ----------
    curves : xarray.Dataset
        Per accepted time step (dimension ``time``): ``voltage`` [V],
        ``current`` [A] and module observables (e.g. ``li_inventory_WO3`` [mol]).
    reads : xarray.Dataset
        Per read step (dimension ``read``): ``G`` [S], the emf-corrected read
        conductance I/(V_read − V_oc) (:func:`femion.observables.read_conductance`);
        ``G_raw`` [S], I/V_read; ``current`` [A] at the end of the read;
        ``open_circuit_voltage`` [V], the emf V_oc just before the read
        (:meth:`Simulation.open_circuit_voltage`); ``read_time`` [s], the read
        duration; ``read_voltage`` [V]; ``pulse_number``, ``pulse_index``,
        ``polarity``, ``cycle``, ``phase``, ``time`` [s] (end of the read).
    state : State
        Final state (fields on the full mesh).
    mesh : AxisymmetricMesh
        The full device mesh.
    resumed_steps : int
        Protocol steps taken from a checkpoint instead of computed.
    stages : dict of str to State
        The state at the end of each stage of the protocol (:attr:`femion.protocols.Step.stage`),
        in protocol order; empty for a protocol without stages.
    """

    curves: object
    reads: object
    state: State
    mesh: AxisymmetricMesh
    resumed_steps: int = 0
    stages: dict[str, State] = field(default_factory=dict)

    def stage_span(self, name: str) -> tuple[float, float]:
        """(end of the previous stage, end of stage ``name``) [s]; the first stage starts at −∞ (its rows include the initial one).

        Raises
        ------
        KeyError
            If the protocol has no stage ``name``.
        """
        if name not in self.stages:
            raise KeyError(f"no stage {name!r}; stages: {list(self.stages)}")
        names = list(self.stages)
        index = names.index(name)
        return (self.stages[names[index - 1]].time if index > 0 else -np.inf), self.stages[name].time

    def stage_curves(self, name: str):
        """The curves of stage ``name``: its own rows, after the end of the previous stage up to its own end (:meth:`stage_span`).

        Raises
        ------
        KeyError
            If the protocol has no stage ``name``.
        """
        start, end = self.stage_span(name)
        times = self.curves.time.values
        return self.curves.isel(time=np.flatnonzero((times > start) & (times <= end)))

    def stage_reads(self, name: str):
        """The reads taken during stage ``name`` (end time within :meth:`stage_span`), dimension ``read``.

        Raises
        ------
        KeyError
            If the protocol has no stage ``name``.
        """
        start, end = self.stage_span(name)
        if not self.reads.data_vars:
            return self.reads
        times = self.reads.time.values
        return self.reads.isel(read=np.flatnonzero((times > start) & (times <= end)))


def records_to_curves(rows: list[dict], units: dict[str, str]):
    """The per-time-step records as an xarray Dataset on dimension ``time`` [s] (``units`` by variable name, "" if absent).

    Parameters
    ----------
    rows
        One dict per accepted time step, each with ``time`` and the same keys.
    units
        Unit string per variable name.
    """
    import xarray as xr

    curves = xr.Dataset(
        {key: ("time", np.array([row[key] for row in rows])) for key in rows[0] if key != "time"},
        coords={"time": ("time", np.array([row["time"] for row in rows]), {"units": "s"})},
    )
    for name in curves.data_vars:
        curves[name].attrs["units"] = units.get(name, "")
    return curves


@dataclass
class Records:
    """What a time loop records while it runs (:meth:`Simulation.run`, :meth:`femion.circuit.Circuit.run`).

    Attributes
    ----------
    rows : list of dict
        One record per accepted time step (``TimeLoop._row``: time [s], voltage [V], current [A], observables),
        turned into curves by :func:`records_to_curves`.
    reads : list of dict
        One record per completed read step (conductance read-out, :func:`femion.observables.read_conductance`).
    stages : dict of str to State
        The state at the end of each named protocol stage.
    """

    rows: list[dict] = field(default_factory=list)
    reads: list[dict] = field(default_factory=list)
    stages: dict[str, State] = field(default_factory=dict)


class TimeLoop:
    """The walk through a protocol's steps shared by :class:`Simulation` and :class:`femion.circuit.Circuit`.

    A subclass holds ``protocol`` and ``settings`` (:class:`SimulationSettings`)
    and supplies the one-step advance :meth:`advance` (the coupled step of
    everything it solves, from a state at t to t + dt under the circuit's
    :class:`~femion.coupling.Drive`), :meth:`_row` (one record of a state) and
    :meth:`_parts` (the (state, modules) pairs the local-error estimate
    measures). The loop itself (breakpoints, adaptive dt, rejection and retry,
    local-error control, voltage limits; module docstring) is written once here.
    A "state" is any object with ``time`` [s], ``voltage`` [V] (the terminal
    voltage the limits watch) and ``current`` [A].
    """

    protocol: Protocol
    settings: SimulationSettings

    def advance(self, state, dt: float, drive: Drive):
        """The state at t + dt from ``state`` at t under ``drive`` (one coupled step; no retry).

        Raises
        ------
        CouplingError, FloatingPointError, ArithmeticError, ValueError
            When the step fails (the loop halves dt and retries).
        """
        raise NotImplementedError

    def _parts(self, state) -> list[tuple[State, list]]:
        """The (device state, modules) pairs of ``state`` whose owned fields the local-error estimate measures."""
        raise NotImplementedError

    def _row(self, state) -> dict:
        """One record (time, voltage, current, observables) of ``state``."""
        raise NotImplementedError

    def _drive(self, step, local: float) -> Drive:
        value = float(step.value(local))
        if step.control == "current":
            return Drive("current", value)
        if self.settings.circuit_window is not None:
            return RecentHistoryDrive("voltage", value, compliance=step.compliance, series_resistance=self.settings.series_resistance,
                                      window=int(self.settings.circuit_window))
        return Drive("voltage", value, compliance=step.compliance, series_resistance=self.settings.series_resistance)

    def _advance(self, step, index: int, state: State, local: float, trial: float) -> State:
        """One coupled step; halves dt on failure. Returns the new state and the dt used."""
        settings = self.settings
        scale = step.duration if math.isfinite(step.duration) else settings.unbounded_first_step
        while True:
            try:
                return self.advance(state, trial, self._drive(step, local + trial)), trial
            except (CouplingError, FloatingPointError, ArithmeticError, ValueError) as error:
                trial = trial / 2.0
                if trial < settings.min_step_fraction * scale:
                    raise SimulationError(
                        f"cannot advance at t = {state.time:.6g} s in step {index} ({step.label or step.kind}): {error}"
                    ) from error

    def _run_step(self, index: int, step, state: State, records: Records, bar) -> State:
        """Walk one protocol step: breakpoints, adaptive dt, voltage limits."""
        settings = self.settings
        unbounded = not math.isfinite(step.duration)
        if settings.first_step is not None:
            first_step = settings.first_step
        elif math.isfinite(step.max_step):
            first_step = step.max_step
        else:
            first_step = settings.unbounded_first_step
        local, dt = 0.0, min(first_step, step.max_step, step.duration)
        marks = np.asarray(step.breakpoints())
        if step.limits is not None and step.crossed(state.voltage):
            return state  # limit already met when the step starts
        scale = step.duration if math.isfinite(step.duration) else settings.unbounded_first_step
        previous = None  # (state, dt) of the accepted step before ``state``, for the local-error estimate
        while local < step.duration * (1 - 1e-12):
            next_mark = marks[marks > local * (1 + 1e-12) + 1e-300]
            target = float(next_mark[0]) if len(next_mark) else step.duration
            trial = min(dt, step.max_step, target - local)
            if math.isfinite(target) and target - local - trial < 1e-9 * trial:
                trial = target - local
            new, trial = self._advance(step, index, state, local, trial)
            error = self._local_error(previous, state, new, trial)
            if error > 1.0:
                dt = trial * max(0.2, 0.9 / math.sqrt(error))
                if dt < settings.min_step_fraction * scale:
                    raise SimulationError(
                        f"local error {error:.3g} x tolerance at t = {state.time:.6g} s in step {index} "
                        f"({step.label or step.kind}) even at dt = {trial:.3g} s"
                    )
                continue
            if step.limits is not None and step.crossed(new.voltage):
                new = self._land_on_limit(step, index, state, new, local, trial, records)
                records.rows.append(self._row(new))
                bar.update(0.0 if unbounded else step.duration - local, new, index)
                return new
            change = abs(new.voltage - state.voltage)
            previous, state = (state, trial), new
            local = local + trial if trial != target - local else target
            records.rows.append(self._row(state))
            bar.update(0.0 if unbounded else trial, state, index)
            growth = settings.growth
            if step.control == "current" and change > 0.0:
                growth = min(growth, settings.max_voltage_change / change)
            if error > 0.0:
                growth = min(growth, 0.9 / math.sqrt(error))
            dt = trial * max(growth, 0.1)
        return state

    def _local_error(self, previous: tuple[State, float] | None, state: State, new: State, dt: float) -> float:
        """Local error of the step ``state`` → ``new`` in units of the tolerance (module docstring); 0 if not estimated."""
        tolerance = self.settings.error_tolerance
        if tolerance is None or previous is None:
            return 0.0
        before, dt_before = previous
        weight = dt / dt_before
        if weight > 100.0:
            return 0.0  # after a sliver step that landed on a breakpoint: its difference quotient is mostly round-off
        error = 0.0
        for (part_before, modules), (part, _), (part_new, _) in zip(self._parts(before), self._parts(state), self._parts(new)):
            owned, floors = solution_fields(modules)
            kinked = {name for module in modules if not getattr(module, "smooth_coupling", True) for name in module.owns}
            for name in owned:
                if name not in part_before.fields or name in kinked:
                    continue
                x0, x1, x = part_before.fields[name], part.fields[name], part_new.fields[name]
                predicted = x1 + weight * (x1 - x0)
                scale = tolerance * max(float(np.max(np.abs(x))), floors.get(name, 1e-300))
                error = max(error, 0.5 * float(np.max(np.abs(x - predicted))) / scale)
        return error

    def _land_on_limit(self, step, index: int, start: State, crossed: State, local: float, trial: float, records: Records):
        """Locate the limit crossing in time between ``start`` (not crossed) and ``crossed`` (interpolation, then bisection).

        A voltage that jumps past the limit within the smallest step (``min_step_fraction`` of the step, e.g. the
        open-circuit voltage of the start state lying beyond the limit under current control) ends the step at
        ``crossed``: the limit is met at once.
        """
        limit = step.limits.lower if step.limits.which(crossed.voltage) == "lower" else step.limits.upper
        smallest = self.settings.min_step_fraction * (step.duration if math.isfinite(step.duration) else self.settings.unbounded_first_step)
        short = False
        for _ in range(60):
            if abs(crossed.voltage - limit) <= self.settings.limit_tolerance:
                break
            # Linear interpolation, or bisection after falling short (V(t) bends towards the limit).
            fraction = 0.5 if short else min(max((limit - start.voltage) / (crossed.voltage - start.voltage), 0.05), 0.95)
            if trial * fraction < smallest:
                break
            candidate, used = self._advance(step, index, start, local, trial * fraction)
            short = not step.crossed(candidate.voltage)
            if not short:
                crossed, trial = candidate, used
            else:
                records.rows.append(self._row(candidate))
                start, local, trial = candidate, local + used, trial - used
        return crossed



class Simulation(TimeLoop):
    """A device driven by a protocol through the coupled physics.

    Parameters
    ----------
    device
        The device (``femion.load_device()``).
    protocol
        The electrical programme (:mod:`femion.protocols`).
    settings
        Numerical settings.
    mesh
        A prebuilt mesh of the device (default: built from ``settings.mesh``).
    physics
        Names of the modules after electrostatics (keys of :data:`PHYSICS`),
        run in the order of :data:`PHYSICS`.
    options
        Keyword arguments of the physics modules by name, e.g.
        ``{"vacancy": {"track_oxygen": True}}`` (:class:`femion.physics.vacancy.VacancyModule`).
    start
        The state to continue from (e.g. ``result.state`` of an earlier run on
        the same mesh): its fields replace the as-fabricated ones and its time,
        voltage and current are kept; fields of physics it did not run start as
        fabricated, so their references stay the as-fabricated state (mechanics
        takes the as-deposited Li as stress-free and loads the whole history).

    Raises
    ------
    ValueError
        If the protocol is empty, a physics name is unknown (also as a key of
        ``options``), or a ``start`` field does not match the mesh (shape (n_cells,), finite).
    TypeError
        If ``options`` names an argument the module does not take.
    """

    def __init__(
        self,
        device: Device,
        protocol: Protocol,
        settings: SimulationSettings = SimulationSettings(),
        mesh: AxisymmetricMesh | None = None,
        physics: tuple[str, ...] | list[str] = ("lithium",),
        *,
        options: dict[str, dict] | None = None,
        start: State | None = None,
    ):
        from femion.physics.electrostatics import ElectrostaticsModule

        if len(protocol) == 0:
            raise ValueError("the protocol is empty")
        options = {name: dict(values) for name, values in (options or {}).items()}
        unknown = sorted((set(physics) | set(options)) - set(PHYSICS))
        if unknown:
            raise ValueError(f"unknown physics {unknown}; choose from {list(PHYSICS)}")
        self.device = device
        self.protocol = protocol
        self.settings = settings
        self.physics = tuple(name for name in PHYSICS if name in physics)
        self.options = options
        self.mesh = mesh if mesh is not None else build_mesh(device, settings=settings.mesh)
        others = []
        for name in self.physics:
            others.append(physics_class(name)(self.mesh, device, **options.get(name, {})))
        providers = [module for module in others if hasattr(module, "conductivity")]
        interfaces = [module for module in others if hasattr(module, "interfaces")]
        self.modules = [ElectrostaticsModule(self.mesh, device, providers=providers, interfaces=interfaces), *others]
        if start is not None:
            for name, values in start.fields.items():
                values = np.asarray(values)
                if values.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(values)):
                    raise ValueError(f"start field {name!r} must be finite with shape ({self.mesh.n_cells},) (same mesh), got {values.shape}")
            start = start.copy()
        self.start = start

    # ----------------------------------------------------------------- run
    def initial_state(self) -> State:
        """The state before the first step: as fabricated (no bias), overlaid with the fields of ``start`` if given."""
        state = State()
        for module in reversed(self.modules):  # Li first, so κ sees it
            module.initialize(state)
        if self.start is not None:
            state.time, state.voltage, state.current = self.start.time, self.start.voltage, self.start.current
            for name, values in self.start.fields.items():
                state.fields[name] = np.array(values, dtype=float)
        return state

    def signature(self) -> str:
        """Hash of device, protocol, mesh, settings, physics modules (:func:`_module_identity`) and start state: compatible checkpoints share it."""
        start = None
        if self.start is not None:
            digest = hashlib.sha256(repr(self.start.time).encode())
            for name in sorted(self.start.fields):
                digest.update(name.encode())
                digest.update(np.ascontiguousarray(self.start.fields[name], dtype=float).tobytes())
            start = digest.hexdigest()
        modules = [_module_identity(module) for module in self.modules]
        text = json.dumps([self.device.text, repr(list(self.protocol)), self.mesh.n_cells, repr(self.settings), self.physics,
                           repr(sorted(self.options.items())), start, modules])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def run(
        self, outdir: str | Path | None = None, *, resume: bool = True, progress: bool | None = None, stage: str | None = None
    ) -> Result:
        """Run the protocol; write outputs to ``outdir`` if given.

        Parameters
        ----------
        outdir
            Output directory: ``curves.nc``, ``reads.nc``, ``fields.vtu``,
            ``checkpoint.npz`` and the run provenance.
        resume
            Continue from a compatible ``checkpoint.npz`` in ``outdir``.
        progress
            True: a progress bar; False: no progress output; None (default): the
            bar on a terminal, else a line on stderr every :data:`PROGRESS_INTERVAL` s.
        stage
            Label of this run in the progress output (e.g. ``"forming"``; default ``"femion"``).

        Raises
        ------
        SimulationError
            If a step cannot be completed even at the smallest dt (the
            checkpoint of the last completed protocol step stays in ``outdir``).
        SimulationInterrupted
            On a KeyboardInterrupt (Ctrl-C) during the run; the checkpoint of
            the last completed protocol step stays in ``outdir`` (written
            atomically, never half-written) and a rerun resumes from it.
        """
        outdir = Path(outdir) if outdir is not None else None
        checkpoint = outdir / "checkpoint.npz" if outdir is not None else None
        state, records, first, loaded = self.initial_state(), Records(), 0, None
        if checkpoint is not None and resume and checkpoint.is_file():
            loaded = self._load_checkpoint(checkpoint)
        if loaded is not None:
            state, records, first = loaded
        else:
            records.rows.append(self._row(state))
            if checkpoint is not None:  # something to resume from (and a sign of the run) from the start
                self._save_checkpoint(checkpoint, state, records, 0)
        durations = [step.duration for step in self.protocol]
        timed = float(sum(d for d in durations if math.isfinite(d)))
        done = float(sum(d for d in durations[:first] if math.isfinite(d)))
        ends = self.protocol.stage_ends()
        bar = Progress(stage, timed, done, len(self.protocol), progress, [step.stage for step in self.protocol])
        index = first
        try:
            for index in range(first, len(self.protocol)):
                step = self.protocol[index]
                emf = self.open_circuit_voltage(state) if step.kind == "read" else None  # V_oc just before the read
                state = self._run_step(index, step, state, records, bar)
                if step.kind == "read":
                    records.reads.append(self._read(step, state, emf))
                if index in ends:
                    records.stages[ends[index]] = state.copy()
                if checkpoint is not None:
                    self._save_checkpoint(checkpoint, state, records, index + 1)
        except SimulationInterrupted:
            raise
        except KeyboardInterrupt as interrupt:
            step = self.protocol[index]
            raise SimulationInterrupted(
                float(records.rows[-1]["time"]), index + 1, len(self.protocol), step.label or step.kind,
                checkpoint if checkpoint is not None and checkpoint.is_file() else None,
            ) from interrupt
        finally:
            bar.close()
        result = self._result(state, records, resumed=first)
        if outdir is not None:
            self.write(outdir, result)
        return result

    def advance(self, state: State, dt: float, drive: Drive) -> State:
        """One coupled step of this device (:func:`femion.coupling.coupled_step` with the settings' Picard control).

        Parameters
        ----------
        state
            State at t (not modified).
        dt
            Time step [s].
        drive
            The external circuit at t + dt.

        Returns
        -------
        State
            The state at t + dt.

        Raises
        ------
        CouplingError, FloatingPointError, ArithmeticError, ValueError
            As :func:`femion.coupling.coupled_step` (a caller halves dt and retries).
        """
        settings = self.settings
        new, _ = coupled_step(self.modules, state, dt, drive, tolerance=settings.tolerance, max_iterations=settings.max_iterations,
                              lagged=tuple(name for name in settings.lagged if name in self.physics))
        return new

    def _parts(self, state: State) -> list[tuple[State, list]]:
        return [(state, self.modules)]

    # ------------------------------------------------------------ records
    def _row(self, state: State) -> dict:
        row = {"time": state.time, "voltage": state.voltage, "current": state.current}
        for module in self.modules:
            if hasattr(module, "observables"):
                row.update(module.observables(state))
        return row

    def open_circuit_voltage(self, state: State) -> float:
        """The cell's emf V_oc [V] in ``state``: the sum of the modules' ``open_circuit_voltage(state)``, 0 without any.

        With the Li electrochemistry this is the host OCV difference
        Ū_top − Ū_bottom of :meth:`femion.physics.lithium.LithiumModule.open_circuit_voltage`:
        the voltage the top electrode reads at zero current once the double
        layers have relaxed, computed from the state without perturbing it.
        """
        return float(sum(module.open_circuit_voltage(state) for module in self.modules if hasattr(module, "open_circuit_voltage")))

    @staticmethod
    def _read(step, state: State, emf: float) -> dict:
        """One read record: the emf-corrected G of :func:`femion.observables.read_conductance` and the raw I/V_read.

        V_oc is the emf of the state just before the read (the end of the
        preceding step), taken from the model state rather than from an
        open-circuit step: the terminal voltage of a real open-circuit step
        relaxes towards the emf with the double-layer time constant
        R_ct C_dl (ms, and far longer on a Li-depleted host surface where
        i0 → 0), so it would depend on how long one waits, and the relaxation
        itself would move Li. A two-level read (the chord of I(V) through
        two read voltages) was not used: Butler–Volmer makes the read I–V
        curved on the scale RT/F = 26 mV, below V_read = 0.1 V, so its
        intercept is not the emf and its slope depends on the chosen pair.
        G is read at the end of the read step, whose duration (the read
        time, recorded as ``read_time``) is part of the definition: the
        double layers are still charging during a ms read.
        """
        from femion.observables import read_conductance

        voltage = float(step.end_value)
        return {
            "time": state.time,
            "G": read_conductance(state.current, voltage, emf),
            "G_raw": read_conductance(state.current, voltage),
            "current": state.current,
            "open_circuit_voltage": emf,
            "read_time": float(step.duration),
            "read_voltage": voltage,
            "pulse_number": step.pulse_number or 0,
            "pulse_index": step.pulse_index or 0,
            "polarity": step.polarity or 0,
            "cycle": step.cycle or 0,
            "phase": step.phase or "",
        }

    def _result(self, state: State, records: Records, resumed: int) -> Result:
        import xarray as xr

        units = {"voltage": "V", "current": "A"}
        for module in self.modules:
            units.update(getattr(module, "units", {}))
        curves = records_to_curves(records.rows, units)
        keys = ("time", "G", "G_raw", "current", "open_circuit_voltage", "read_time", "read_voltage",
                "pulse_number", "pulse_index", "polarity", "cycle", "phase")
        reads = xr.Dataset(
            {key: ("read", np.array([read.get(key, np.nan) for read in records.reads])) for key in keys}
            if records.reads
            else {},
        )
        for name, unit in (("time", "s"), ("G", "S"), ("G_raw", "S"), ("current", "A"), ("open_circuit_voltage", "V"),
                           ("read_time", "s"), ("read_voltage", "V"), ("pulse_number", "1"), ("pulse_index", "1"),
                           ("polarity", "1"), ("cycle", "1")):
            if name in reads:
                reads[name].attrs["units"] = unit
        return Result(curves=curves, reads=reads, state=state, mesh=self.mesh, resumed_steps=resumed, stages=dict(records.stages))

    def write(self, outdir: Path, result: Result) -> None:
        """Write curves.nc, reads.nc, fields.vtu and the run provenance into ``outdir``."""
        write_dataset(outdir / "curves.nc", result.curves)
        if result.reads.data_vars:
            write_dataset(outdir / "reads.nc", result.reads)
        units = {"phi": "V", "kappa": "S/m", "i_interface": "A/m^2"}
        for module in self.modules:
            units.update(getattr(module, "units", {}))
        fields = {
            f"{name} [{units[name]}]" if units.get(name) else name: values
            for name, values in result.state.fields.items()
        }
        write_fields(outdir / "fields.vtu", self.mesh, fields)
        for number, (name, stage_state) in enumerate(result.stages.items(), start=1):
            labelled = {f"{key} [{units[key]}]" if units.get(key) else key: values for key, values in stage_state.fields.items()}
            write_fields(outdir / f"fields_stage{number}_{_slug(name)}.vtu", self.mesh, labelled)
        write_run_metadata(
            outdir, self.device, {"protocol_steps": len(self.protocol), "settings": repr(self.settings), "signature": self.signature()}
        )

    # -------------------------------------------------------- checkpoints
    def _save_checkpoint(self, path: Path, state: State, records: Records, next_step: int) -> None:
        # The per-time-step rows grow with the run and are rewritten at every protocol step: as one float
        # array (exact, 8 bytes a value) when they are all floats under the same keys, else as JSON text.
        keys = list(records.rows[0]) if records.rows else []
        if keys and all(list(row) == keys and all(isinstance(value, float) for value in row.values()) for row in records.rows):
            rows = {"row_keys": np.array(keys), "row_values": np.array([list(row.values()) for row in records.rows], dtype=float)}
        else:
            rows = {"rows": np.array(json.dumps(records.rows))}
        payload = {
            "signature": np.array(self.signature()),
            "next_step": np.array(next_step),
            "scalars": np.array([state.time, state.voltage, state.current]),
            **rows,
            "reads": np.array(json.dumps(records.reads)),
            "stages": np.array(json.dumps([[name, s.time, s.voltage, s.current] for name, s in records.stages.items()])),
            **{f"field_{name}": values for name, values in state.fields.items()},
            **{f"stage{number}_{name}": values for number, s in enumerate(records.stages.values())
               for name, values in s.fields.items()},
        }

        def write(temporary: Path) -> None:
            with open(temporary, "wb") as handle:
                np.savez(handle, **payload)

        atomic_write(path, write)

    def _load_checkpoint(self, path: Path):
        with np.load(path, allow_pickle=False) as data:
            if str(data["signature"]) != self.signature():
                return None
            time, voltage, current = data["scalars"]
            fields = {key[len("field_"):]: data[key].copy() for key in data.files if key.startswith("field_")}
            if "row_values" in data.files:
                keys = [str(key) for key in data["row_keys"]]
                rows = [dict(zip(keys, values)) for values in data["row_values"].tolist()]
            else:
                rows = json.loads(str(data["rows"]))
            records = Records(rows, json.loads(str(data["reads"])))
            for number, (name, time_, voltage_, current_) in enumerate(json.loads(str(data["stages"])) if "stages" in data.files else []):
                prefix = f"stage{number}_"
                records.stages[name] = State(float(time_), float(voltage_), float(current_),
                                             {key[len(prefix):]: data[key].copy() for key in data.files if key.startswith(prefix)})
            return State(float(time), float(voltage), float(current), fields), records, int(data["next_step"])


def _slug(name: str) -> str:
    """A file-name-safe form of a stage name ("forming 50 uA" → "forming_50_uA")."""
    return "".join(character if character.isalnum() or character in "-." else "_" for character in name).strip("_")


class ProtocolChain:
    """Runs protocol pieces one after another, each a :class:`Simulation` from the final state of the previous one.

    Used where a study needs the state between pieces (reads probed at several read times from one state, a
    protocol assembled as it goes): the concatenated curves and reads are kept in ``curves`` and ``reads``
    (each read tagged with the pulse ``amplitude`` [V] it follows).

    Parameters
    ----------
    device : femion.config.Device
    settings : SimulationSettings
    """

    def __init__(self, device, settings: SimulationSettings):
        self.device, self.settings = device, settings
        self.mesh = build_mesh(device, settings=settings.mesh)
        self.state = None
        self.curves, self.reads = [], []

    def run(self, protocol: Protocol, amplitude: float, probe_times: tuple[float, ...] = ()):
        """Run ``protocol`` from the current state; with ``probe_times``, also read G for those read times before its final read.

        The probes are reads of the final read step's voltage and each
        duration in ``probe_times`` [s], run from the state just before that
        read; their states are discarded. Returns {read time: (G, G_raw)}
        (empty without probes).
        """
        probes = {}
        if probe_times and protocol[len(protocol) - 1].kind == "read":
            *before, read = protocol
            if before:
                self._piece(Protocol(tuple(before)), amplitude)
            for duration in probe_times:
                result = Simulation(self.device, read_step(read.end_value, duration), self.settings, mesh=self.mesh, start=self.state).run(None, progress=None)
                probes[duration] = (float(result.reads.G.values[-1]), float(result.reads.G_raw.values[-1]))
            protocol = Protocol((read,))
        self._piece(protocol, amplitude)
        return probes

    def _piece(self, protocol: Protocol, amplitude: float):
        simulation = Simulation(self.device, protocol, self.settings, mesh=self.mesh, start=self.state)  # continue from the previous piece
        result = simulation.run(None, progress=None)
        curves = result.curves
        if self.curves:
            curves = curves.isel(time=slice(1, None))  # the first row repeats the previous piece's last
        self.curves.append(curves)
        if result.reads.data_vars:
            self.reads.append(result.reads.assign(amplitude=("read", np.full(result.reads.sizes["read"], amplitude))))
        self.state = result.state
