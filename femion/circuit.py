"""External circuit: current compliance and series resistance for the coupled loop (MODEL.md §3.5).

A source-meter in voltage mode with a compliance current I_cc drives the top
electrode through an optional series resistance R_s. For frozen
conductivities the device is linear, I = G V_d (G from the electrostatics
solve), so the device voltage that the circuit imposes is

    V_d = V_s / (1 + G R_s)                        (voltage mode)
    V_d = sign(V_s) I_cc / G   if |G V_d| > I_cc    (compliance: the source turns into a current source)

(:func:`device_voltage`). Because G depends on the state at the end of the
step (vacancies, temperature), :func:`compliance_step` iterates: solve the
coupled step at a trial V_d, update V_d from the resulting G, until V_d no
longer changes; it then checks |I| ≤ I_cc (1 + tolerance) and raises
:class:`femion.coupling.CouplingError` otherwise, so that the caller rejects
the step and retries with a smaller dt. :func:`run_voltage_program` is a
small adaptive time loop over a sampled source waveform that uses it (until
the lead's :class:`femion.simulation.Simulation` takes compliance steps).

How to call it from the loop: replace ``coupled_step(modules, state, dt, V)``
by ``compliance_step(modules, state, dt, V, compliance=step.compliance)``; it
returns the same ``(State, StepOutcome)`` pair plus the device voltage
(``state.voltage`` is the device voltage, the source voltage is the argument).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from femion.coupling import CouplingError, State, StepOutcome, coupled_step

__all__ = ["ComplianceOutcome", "compliance_step", "device_voltage", "run_voltage_program"]


def device_voltage(conductance: float, source: float, compliance: float | None = None, series_resistance: float = 0.0) -> float:
    """Device voltage V_d [V] a compliance-limited source imposes on a device of conductance G.

    Parameters
    ----------
    conductance
        G = I/V of the device [S], positive.
    source
        Source voltage V_s [V].
    compliance
        I_cc [A] (None: no limit).
    series_resistance
        R_s [Ω], non-negative.

    Returns
    -------
    float
        V_d with |G V_d| ≤ I_cc.

    Raises
    ------
    ValueError
        Non-positive or non-finite G, negative R_s or non-positive I_cc.
    """
    if not (np.isfinite(conductance) and conductance > 0.0):
        raise ValueError(f"device conductance must be positive and finite, got {conductance!r}")
    if series_resistance < 0.0:
        raise ValueError(f"series resistance must be non-negative, got {series_resistance!r}")
    voltage = source / (1.0 + conductance * series_resistance)
    if compliance is not None:
        if not compliance > 0.0:
            raise ValueError(f"compliance current must be positive, got {compliance!r}")
        if abs(conductance * voltage) > compliance:
            voltage = np.sign(source) * compliance / conductance
    return float(voltage)


@dataclass(frozen=True)
class ComplianceOutcome:
    """Result of :func:`compliance_step` besides the state.

    Attributes
    ----------
    source_voltage, device_voltage : float
        V_s and V_d [V].
    limited : bool
        The compliance set V_d.
    iterations : int
        Circuit iterations (each a full coupled step).
    step : StepOutcome
        The last coupled step's record.
    """

    source_voltage: float
    device_voltage: float
    limited: bool
    iterations: int
    step: StepOutcome


def compliance_step(
    modules: list,
    start: State,
    dt: float,
    source: float,
    *,
    compliance: float | None = None,
    series_resistance: float = 0.0,
    tolerance: float = 1e-3,
    max_iterations: int = 30,
    **coupling,
) -> tuple[State, ComplianceOutcome]:
    """One coupled step with the device voltage set by the external circuit.

    Parameters
    ----------
    modules, start, dt
        As :func:`femion.coupling.coupled_step`.
    source
        Source voltage V_s at t + dt [V].
    compliance, series_resistance
        I_cc [A] and R_s [Ω] (see :func:`device_voltage`).
    tolerance
        Relative tolerance on V_d between circuit iterations and on |I| ≤ I_cc.
    max_iterations
        Circuit iterations before giving up.
    **coupling
        Passed to :func:`femion.coupling.coupled_step`.

    Returns
    -------
    (State, ComplianceOutcome)

    Raises
    ------
    CouplingError
        The circuit iteration did not converge or |I| > I_cc (1 + tolerance).
    """
    if compliance is None and series_resistance == 0.0:
        state, outcome = coupled_step(modules, start, dt, source, **coupling)
        return state, ComplianceOutcome(source, source, False, 1, outcome)
    trial = start.voltage if start.voltage * source > 0 else source
    trial = source if abs(trial) > abs(source) or trial == 0.0 else trial
    limited = False
    history: list[tuple[float, float]] = []  # (V_d, residual) for the secant update
    for iteration in range(1, max_iterations + 1):
        state, outcome = coupled_step(modules, start, dt, trial, **coupling)
        if trial == 0.0 or state.current == 0.0:
            return state, ComplianceOutcome(source, trial, False, iteration, outcome)
        conductance = state.current / trial
        if not conductance > 0.0:
            raise CouplingError(f"non-positive device conductance {conductance:.3g} S in the circuit iteration")
        target = device_voltage(conductance, source, compliance, series_resistance)
        limited = compliance is not None and abs(conductance * target) >= compliance * (1 - 1e-12)
        if abs(target - trial) <= tolerance * max(abs(trial), 1e-3):
            if compliance is None or abs(state.current) <= compliance * (1.0 + tolerance):
                return state, ComplianceOutcome(source, trial, limited, iteration, outcome)
        # Secant on the circuit residual r(V_d) = V_d − V_target(V_d) (G depends on V_d
        # through the state); the frozen-G update V_target is the first guess.
        residual = trial - target
        history.append((trial, residual))
        if len(history) >= 2 and history[-1][1] != history[-2][1]:
            (v0, r0), (v1, r1) = history[-2], history[-1]
            secant = v1 - r1 * (v1 - v0) / (r1 - r0)
            low, high = sorted((0.0, source))
            trial = float(np.clip(secant, low, high)) if low < secant < high else target
        else:
            trial = target
    raise CouplingError(f"compliance circuit did not converge in {max_iterations} iterations (V_s = {source:.4g} V)")


@dataclass
class ProgramRecord:
    """Rows recorded by :func:`run_voltage_program` (one per accepted step)."""

    rows: list[dict] = field(default_factory=list)

    def column(self, key: str) -> np.ndarray:
        """One recorded quantity as an array."""
        return np.array([row[key] for row in self.rows])


def run_voltage_program(
    modules: list,
    state: State,
    times: np.ndarray,
    source_voltages: np.ndarray,
    *,
    compliance: float | None = None,
    series_resistance: float = 0.0,
    min_step: float = 1e-12,
    observe=None,
    progress: str | None = None,
    **coupling,
) -> tuple[State, ProgramRecord]:
    """Drive the modules along a sampled source waveform V_s(t) with compliance.

    Each interval [t_k, t_k+1] is one step; a failed step (module error,
    non-converged coupling or circuit, compliance violated) is retried in
    halves down to ``min_step``.

    Parameters
    ----------
    times
        Sample times [s], increasing, starting at ``state.time``.
    source_voltages
        V_s at ``times`` [V] (linear in between).
    observe
        Optional callable(state) -> dict of extra scalars to record.
    progress
        tqdm description, or None for no bar.

    Returns
    -------
    (State, ProgramRecord)
        Final state; rows with time, source_voltage, voltage, current, limited and observables.

    Raises
    ------
    ValueError
        Times not increasing or arrays of different length.
    femion.simulation.SimulationError
        If a step cannot be completed above ``min_step``.
    """
    from tqdm import tqdm

    from femion.simulation import SimulationError

    times = np.asarray(times, dtype=float)
    source_voltages = np.asarray(source_voltages, dtype=float)
    if times.shape != source_voltages.shape or np.any(np.diff(times) <= 0.0):
        raise ValueError("times must increase and match source_voltages in length")
    record = ProgramRecord()

    def row(current_state: State, source: float, limited: bool) -> dict:
        values = {"time": current_state.time, "source_voltage": source, "voltage": current_state.voltage,
                  "current": current_state.current, "limited": limited}
        if observe is not None:
            values.update(observe(current_state))
        return values

    for k in tqdm(range(1, len(times)), desc=progress or "", disable=progress is None, leave=False):
        target, t = times[k], times[k - 1]
        dt = target - t
        while t < target * (1 - 1e-12):
            trial = min(dt, target - t)
            source = float(np.interp(t + trial, times, source_voltages))
            try:
                new, outcome = compliance_step(
                    modules, state, trial, source, compliance=compliance, series_resistance=series_resistance, **coupling
                )
            except (CouplingError, FloatingPointError, ArithmeticError, ValueError) as error:
                dt = trial / 2.0
                if dt < min_step:
                    raise SimulationError(f"cannot advance at t = {t:.6g} s (V_s = {source:.4g} V): {error}") from error
                continue
            state, t = new, t + trial
            dt = min(2.0 * trial, target - t) if t < target else trial
        record.rows.append(row(state, float(source_voltages[k]), outcome.limited))
    return state, record
