"""Several devices in one circuit: series or parallel connection solved on every time step.

Each member is a full device model (:class:`femion.simulation.Simulation`: its
own :class:`~femion.config.Device`, mesh, physics modules and state), so the
members may differ in geometry or in their parameter draw. The circuit walks
one protocol with the time loop of :class:`femion.simulation.TimeLoop`
(breakpoints, adaptive dt, rejection and retry, voltage limits ending a
galvanostatic step) and replaces the single device's coupled step by a
circuit step that couples the members' coupled steps
(:func:`femion.coupling.coupled_step`) through Kirchhoff's laws at t + dt:

series
    the same current I through every member, terminal voltage V = Σ_k V_k;
parallel
    the same voltage V on every member, terminal current I = Σ_k I_k.

A source that imposes the shared quantity (a current source in series, a
voltage source in parallel) drives every member directly, and the step is one
coupled step per member. A source that imposes the summed quantity (a voltage
source in series, a current source in parallel, including the open-circuit
rest at 0 A) leaves the shared quantity unknown: the circuit step solves
Σ_k V_k(I) = V_source, or Σ_k I_k(V) = I_source, by a safeguarded secant
iteration on I or V around the members' coupled steps (each member restarts
from its state at t for every iterate). Both sums increase monotonically with
the shared quantity for passive members, so the iterates that overshoot and
undershoot bracket the root and a step leaving the bracket is replaced by
bisection (as :meth:`femion.coupling.Drive.target_voltage` does for one
device). The converged step meets the summed equation within the members' own
accuracy: 1e-6 relative to the largest member current (plus
:attr:`femion.coupling.Drive.current_tolerance`) for a current, 1e-6 relative
to the largest member voltage (plus 1e-12 V) for a voltage.

The wiring is ideal (no lead resistance); compliance currents and the series
resistor of :class:`~femion.simulation.SimulationSettings` apply to a single
device and are refused here. Kirchhoff's laws for series and parallel
elements: e.g. Horowitz & Hill, *The Art of Electronics*, 3rd ed. (2015), §1.2.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from femion.config import Device
from femion.coupling import CouplingError, Drive, State
from femion.mesh import AxisymmetricMesh
from femion.protocols import Protocol
from femion.simulation import Progress, Records, Simulation, SimulationSettings, TimeLoop, records_to_curves

__all__ = ["CONNECTIONS", "Circuit", "CircuitResult", "CircuitState", "parallel_current_tolerance"]

CONNECTIONS = ("series", "parallel")
"""How the members are connected between the source terminals."""

RELATIVE_TOLERANCE = 1e-6
"""Relative accuracy of the summed circuit equation (the relative accuracy of a single device's galvanostatic step)."""

VOLTAGE_FLOOR = 1e-12
"""Absolute floor [V] of the voltage tolerance of a series voltage source."""


def parallel_current_tolerance(source, member_currents, floor: float = Drive.current_tolerance):
    """Accuracy [A] to which a parallel circuit meets I_source = Σ I_k: floor + RELATIVE_TOLERANCE · max(|I_source|, |I_k|).

    Parameters
    ----------
    source : float or ndarray
        Source current I_source [A] (one value, or one per time).
    member_currents : sequence of float or ndarray
        The members' currents I_k [A], each shaped like ``source``.
    floor : float
        Absolute floor [A] (the drive's :attr:`femion.coupling.Drive.current_tolerance`).

    Returns
    -------
    float or ndarray
        The tolerance, shaped like ``source``.
    """
    largest = np.abs(np.asarray(source, dtype=float))
    for current in member_currents:
        largest = np.maximum(largest, np.abs(np.asarray(current, dtype=float)))
    return floor + RELATIVE_TOLERANCE * largest


@dataclass
class CircuitState:
    """The members' states at one time and the circuit's terminal quantities.

    Attributes
    ----------
    members : tuple of State
        One :class:`femion.coupling.State` per member, each on its own mesh.
    time : float
        t [s] (every member's time).
    voltage : float
        Terminal voltage [V]: Σ_k V_k in series, the shared V in parallel.
    current : float
        Terminal current [A] (positive into the top electrodes): the shared I in
        series, Σ_k I_k in parallel.
    """

    members: tuple[State, ...]
    time: float
    voltage: float
    current: float

    def copy(self) -> CircuitState:
        """A deep copy (for step rejection)."""
        return CircuitState(tuple(member.copy() for member in self.members), self.time, self.voltage, self.current)


@dataclass
class CircuitResult:
    """Output of :meth:`Circuit.run`.

    Attributes
    ----------
    curves : xarray.Dataset
        Per accepted time step (dimension ``time`` [s]): terminal ``voltage`` [V]
        and ``current`` [A]; per member k = 1, 2, ...: ``voltage_k`` [V],
        ``current_k`` [A] and the member's module observables with the suffix
        ``_k`` (e.g. ``li_inventory_WO3_1`` [mol]).
    state : CircuitState
        Final state.
    """

    curves: object
    state: CircuitState


class Circuit(TimeLoop):
    """Devices connected in series or in parallel, driven by one protocol (module docstring).

    Parameters
    ----------
    devices
        The members' devices (``femion.load_device()`` or variants), at least two.
    protocol
        The source programme (:mod:`femion.protocols`): voltage steps impose the
        terminal voltage, current steps the terminal current; voltage limits of
        galvanostatic steps apply to the terminal voltage.
    connection
        "series" or "parallel".
    settings
        Numerical settings of the time loop and of every member's coupled step.
    physics
        Names of the modules after electrostatics (keys of
        :data:`femion.simulation.PHYSICS`), the same for every member.
    starts
        Per member, the state to continue from (as ``Simulation(start=...)``) or
        None for the as-fabricated state; default all None.
    meshes
        Per member, a prebuilt mesh of its device or None; default all None.

    Raises
    ------
    ValueError
        On an unknown connection, fewer than two devices, ``starts`` or
        ``meshes`` of another length, a protocol step with a compliance current,
        a non-zero ``settings.series_resistance``, or what
        :class:`~femion.simulation.Simulation` raises for a member.
    """

    def __init__(
        self,
        devices: Sequence[Device],
        protocol: Protocol,
        connection: str,
        settings: SimulationSettings = SimulationSettings(),
        physics: tuple[str, ...] | list[str] = ("lithium",),
        *,
        starts: Sequence[State | None] | None = None,
        meshes: Sequence[AxisymmetricMesh | None] | None = None,
    ):
        if connection not in CONNECTIONS:
            raise ValueError(f"connection must be one of {CONNECTIONS}, got {connection!r}")
        count = len(devices)
        if count < 2:
            raise ValueError(f"a circuit needs at least two devices, got {count}")
        starts = [None] * count if starts is None else list(starts)
        meshes = [None] * count if meshes is None else list(meshes)
        if len(starts) != count or len(meshes) != count:
            raise ValueError(f"starts and meshes must list one entry per device ({count}), got {len(starts)} and {len(meshes)}")
        if any(step.compliance is not None for step in protocol):
            raise ValueError("a compliance current applies to a single device; the circuit's sources are ideal")
        if settings.series_resistance != 0.0:
            raise ValueError("settings.series_resistance applies to a single device; the circuit's wiring is ideal")
        self.protocol, self.settings, self.connection = protocol, settings, connection
        self.members = tuple(
            Simulation(device, protocol, settings, mesh=mesh, physics=physics, start=start)
            for device, mesh, start in zip(devices, meshes, starts)
        )
        self._slope: float | None = None  # d(summed quantity)/d(shared quantity) of the last solved step: the first secant slope

    def initial_state(self) -> CircuitState:
        """The members' initial states (:meth:`Simulation.initial_state`) with the terminal V and I they imply.

        Members that start from unrelated states need not share a current (series) or a
        voltage (parallel) before the first step: the terminal value is then their mean.
        """
        members = tuple(member.initial_state() for member in self.members)
        voltages = [m.voltage for m in members]
        currents = [m.current for m in members]
        if self.connection == "series":
            return CircuitState(members, members[0].time, float(np.sum(voltages)), float(np.mean(currents)))
        return CircuitState(members, members[0].time, float(np.mean(voltages)), float(np.sum(currents)))

    # ------------------------------------------------------------ the circuit step
    def _shared(self, state: CircuitState, dt: float, value: float) -> CircuitState:
        """Every member driven by the shared quantity ``value`` (I [A] in series, V [V] in parallel) over dt."""
        control = "current" if self.connection == "series" else "voltage"
        drive = Drive(control, float(value))
        members = tuple(member.advance(start, dt, drive) for member, start in zip(self.members, state.members))
        if self.connection == "series":
            return CircuitState(members, state.time + dt, float(sum(m.voltage for m in members)), float(value))
        return CircuitState(members, state.time + dt, float(value), float(sum(m.current for m in members)))

    def advance(self, state: CircuitState, dt: float, drive: Drive) -> CircuitState:
        """One circuit step: the members' coupled steps tied by Kirchhoff's laws at t + dt (module docstring).

        Parameters
        ----------
        state
            Circuit state at t (not modified).
        dt
            Time step [s].
        drive
            The source at t + dt: terminal voltage (control "voltage") or terminal
            current (control "current").

        Returns
        -------
        CircuitState
            The state at t + dt.

        Raises
        ------
        CouplingError
            If the secant iteration does not meet the circuit equation in
            ``settings.max_iterations`` iterates, or from a member's coupled step.
        FloatingPointError, ArithmeticError, ValueError
            From a member's coupled step (the loop halves dt and retries).
        """
        shared = "current" if self.connection == "series" else "voltage"
        if drive.control == shared:
            return self._shared(state, dt, drive.value)
        target = float(drive.value)
        if self.connection == "series":  # V_source = Σ V_k(I): unknown I

            def summed(new: CircuitState) -> float:
                return new.voltage

            def tolerance(new: CircuitState) -> float:
                return VOLTAGE_FLOOR + RELATIVE_TOLERANCE * max(abs(target), *(abs(m.voltage) for m in new.members))

            guess, probe = state.current, max(1e-2 * abs(state.current), 1e-12)
        else:  # I_source = Σ I_k(V): unknown V

            def summed(new: CircuitState) -> float:
                return new.current

            def tolerance(new: CircuitState) -> float:
                return float(parallel_current_tolerance(target, [m.current for m in new.members], drive.current_tolerance))

            guess, probe = state.voltage, 1e-3
        return self._solve(lambda value: self._shared(state, dt, value), summed, tolerance, target, guess, probe)

    def _solve(
        self,
        evaluate: Callable[[float], CircuitState],
        summed: Callable[[CircuitState], float],
        tolerance: Callable[[CircuitState], float],
        target: float,
        guess: float,
        probe: float,
    ) -> CircuitState:
        """Safeguarded secant on the shared quantity x until |summed(evaluate(x)) − target| ≤ tolerance.

        The first slope is the last solved step's (or a probe step of ``probe``);
        later slopes are secants; a step outside the bracket of the residual's
        sign changes is replaced by bisection (the summed quantity increases with x).
        """
        history: list[tuple[float, float]] = []
        x = guess
        for _ in range(self.settings.max_iterations):
            new = evaluate(x)
            y = summed(new)
            if not math.isfinite(y):
                raise FloatingPointError(f"non-finite circuit sum {y!r} at shared value {x!r}")
            if abs(y - target) <= tolerance(new):
                if len(history):
                    x0, y0 = history[-1]
                    if x != x0 and (y - y0) / (x - x0) > 0.0:
                        self._slope = (y - y0) / (x - x0)
                return new
            slope = None
            if history:
                x0, y0 = history[-1]
                slope = (y - y0) / (x - x0) if x != x0 else None
            history.append((x, y))
            if slope is None or not (math.isfinite(slope) and slope > 0.0):
                slope = self._slope
            step = (target - y) / slope if slope else math.copysign(probe, target - y)
            candidate = x + step
            below = [v for v, s in history if s < target]
            above = [v for v, s in history if s > target]
            if below and above:
                low, high = max(below), min(above)
                if low < high and not (low < candidate < high):
                    candidate = 0.5 * (low + high)
            x = candidate
        raise CouplingError(
            f"{self.connection} circuit equation not met in {self.settings.max_iterations} iterates "
            f"(target {target:.6g}, last sum {history[-1][1]:.6g} at shared value {history[-1][0]:.6g})"
        )

    def _parts(self, state: CircuitState) -> list[tuple[State, list]]:
        return [(part, member.modules) for part, member in zip(state.members, self.members)]

    # ------------------------------------------------------------ records and run
    def _row(self, state: CircuitState) -> dict:
        row = {"time": state.time, "voltage": state.voltage, "current": state.current}
        for k, (member, part) in enumerate(zip(self.members, state.members), start=1):
            row[f"voltage_{k}"], row[f"current_{k}"] = part.voltage, part.current
            for name, value in member._row(part).items():
                if name not in ("time", "voltage", "current"):
                    row[f"{name}_{k}"] = value
        return row

    def _units(self) -> dict[str, str]:
        units = {"voltage": "V", "current": "A"}
        for k, member in enumerate(self.members, start=1):
            units.update({f"voltage_{k}": "V", f"current_{k}": "A"})
            for module in member.modules:
                units.update({f"{name}_{k}": unit for name, unit in getattr(module, "units", {}).items()})
        return units

    def run(self, *, progress: bool | None = None, stage: str | None = None) -> CircuitResult:
        """Walk the protocol (the loop of :class:`~femion.simulation.TimeLoop`) and return the records and final state.

        Parameters
        ----------
        progress, stage
            As :meth:`femion.simulation.Simulation.run`.

        Raises
        ------
        femion.simulation.SimulationError
            If a step cannot be completed even at the smallest dt.
        """
        state, records = self.initial_state(), Records()
        records.rows.append(self._row(state))
        timed = float(sum(step.duration for step in self.protocol if math.isfinite(step.duration)))
        bar = Progress(stage or f"{self.connection} circuit", timed, 0.0, len(self.protocol), progress)
        for index, step in enumerate(self.protocol):
            state = self._run_step(index, step, state, records, bar)
        bar.close()
        return CircuitResult(curves=records_to_curves(records.rows, self._units()), state=state)
