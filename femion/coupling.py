"""The coupled time step: state, the physics-module interface, operator order.

Every physics module plugs into the loop through one small interface,
:class:`PhysicsModule`: the fields it **owns** (writes), the fields it **reads**,
``initialize(state)`` to put its initial fields into the state, and
``advance(state, dt)`` to move its fields from t to t + dt given the others,
returning a :class:`ModuleReport`. A module that changes the electrical
conductivity also implements ``conductivity(state, kappa)``, adding its
contribution in place. Owned fields listed in a module's optional
``derived`` tuple are outputs computed from the others (e.g. interface
current densities) and are left out of the convergence test: near stiff
interfaces they carry round-off far above the tolerance. A module's optional
``field_scales`` gives, per field, the magnitude below which changes are
measured in absolute terms (a field that passes through zero, such as a
double-layer charge, has no relative scale of its own). Adding a physics means writing such a module and
listing it; the loop does not change.

State
-----
:class:`State` is the single source of truth: named cell fields on the full
device mesh (shape (n_cells,), SI, zero where a field does not live) plus the
scalars time t [s], top-electrode voltage V [V] and device current I [A].
Modules keep no state of their own between steps beyond caches they can
rebuild from :class:`State`; that makes step rejection (restore a copy) and
checkpoint/resume (save the state) exact.

Operator order and coupling iterations
--------------------------------------
One step t → t + dt (:func:`coupled_step`):

1. the electric potential at V(t + dt) with κ from the current iterate
   (``electrostatics``);
2. every other module in the listed order (lithium, then mechanics, air,
   vacancy, thermal as they land), each from its state at t with the
   latest fields of the modules before it;
3. repeat 1–2 until the relative change of every owned field is below
   ``tolerance``, at most ``max_iterations`` times.

One sweep 1–2 is a fixed-point map x → G(x) of the owned fields. Plain Picard
iteration x ← G(x) converges at the contraction rate of that map, which
strong feedbacks (an activated conductivity heated by its own current) bring
close to 1 (a step of the full-physics pulses once stalled at a change of
1.03·10⁻⁶ against a 10⁻⁶ tolerance after 20 sweeps). While the electrode voltage is
fixed or solved with the fields (below), the iterates are therefore Anderson-accelerated (Anderson, J. ACM 12,
547 (1965); type II as analysed by Walker & Ni, SIAM J. Numer. Anal. 49,
1715 (2011)): the mixing history starts at sweep ``acceleration_start`` and
the first mixed iterate follows the sweep after it, so a step that converges
sooner is exactly plain Picard. Fields of a module whose update is not
smooth in its inputs (``smooth_coupling = False``: the radial return and
blister decisions of :mod:`femion.physics.mechanics`) are never mixed. With
the last m residuals f = G(x) − x of the scaled fields,
the next iterate is G(x_k) − ΔG γ with γ minimising ‖f_k − ΔF γ‖₂, ΔF and
ΔG the differences of successive residuals and images. A mixed iterate that
leaves a field's sign range (a concentration going negative) is not used;
plain G(x_k) is taken instead, and if a module fails from a mixed iterate the
iterations go on from G(x_k) without acceleration. When the electrostatics
module solves the circuit (below), the electrode voltage is a function of the
fields and is mixed with them; a change of the electrode voltage by the
loop's own circuit update (the secant fallback) restarts the history (the map
itself changed).
Mixed and plain iterates agree within the tolerance, but that can change
which steps the adaptive time control accepts: studies/stress_maps took 121
instead of 128 steps and its electrode-centre stress moved from 3.3 to
5.2 MPa, i.e. that output is not converged in the time step.

The external circuit (:class:`Drive`) closes the loop on the electrode
voltage. Under voltage control V is the protocol value (the step is computed
exactly as without a circuit). Under current control (galvanostatic steps,
open circuit at 0 A), under a compliance current, or with a series resistor,
V is an unknown of the circuit equation I(V) = I_set, I(V) = ±I_cc or
V + R_s I(V) = V_source. For the fields of the current iterate frozen
(conductivities, interface laws linearised at the iterate) the device current
is exactly affine in V, I(V) = I(V_k) + G_d (V − V_k), with G_d = dI/dV the
differential conductance of the frozen problem. The electrostatics module
gets G_d from the factorisation of its own solve (one more right-hand side,
:meth:`femion.physics.electrostatics.PotentialSolver.solve` with
``circuit``) and solves the circuit equation inside the potential solve
(:meth:`Drive.electrode_voltage`: one exact Newton step of the affine
problem, the compliance binding when the unlimited root would exceed I_cc);
the potential of every iterate therefore already meets the circuit, and the
coupling iterations only converge the fields, with V mixed among them.
This was chosen over a Newton step on V at the loop level with the same G_d
as slope (the potential solved at the previous iterate's V) by measurement:
on the quick forming study (V_O and Joule heating under 50 and 500 µA
compliance, 1312 cells) the loop-level secant took 14.5 and 9.4 coupling
iterations per step on average (max 40 and 39; 96 and 56 rejected steps),
the loop-level Newton 13.2 and 8.1 (max 30 and 22), the circuit solved in
the potential solve 6.5 and 6.6 (max 10, no rejected step); on the quick
power_cv_gcd study (galvanostatic cycles, open circuit, lithium and air) 3.6
instead of 7.5 with the secant (141 rejected steps to none). From the same
state and dt the converged steps of both agree within the coupling tolerance
(V, I and fields within 1.3·10⁻⁶ relative). The loop-level Newton ignores
how the other fields respond to V within the step and overshoots where they
feed back strongly (a toy conductance rising as exp(2|V|): 19–25 iterations
against 10–13 for the secant); with the circuit in the potential solve that
feedback is a fixed-point map of the fields, which the Anderson mixing of V
with the fields converges (21–27 iterations on the toy). Where the first
module reports no G_d (a custom module list), the loop falls back to a
safeguarded secant on the (V, I) iterates (:meth:`Drive.target_voltage`).
A step converges when the fields and the circuit residual are both within
tolerance. Fewer rejected steps also mean fewer halvings of dt, which in a
run without local-error control had refined the time grid: the quick
power_scenario's 10⁴ s open-circuit rest went from 324 steps to ten of
1000 s and its lateral Li spread in WO3 from 0.00752 to 0.00766, and the
quick power_cv_gcd capacitance from 0.597 to 0.603 mF/cm². On refined time
grids the secant and this solve agree (spread within 1.2·10⁻⁴, capacitance
within 3·10⁻⁵ relative): those outputs were not converged in the time step,
and both studies now state their largest steps (their configs quote the
convergence).

A module that fails (raises ``FloatingPointError``/``ArithmeticError`` or
reports non-convergence), or a Picard loop that does not converge, rejects the
step: the caller restores the state and retries with a smaller dt.

Profiling
---------
:func:`profile_coupling` is an opt-in measurement of where a run spends its
time: inside the block, every :func:`coupled_step` (of a
:class:`femion.simulation.Simulation`, a :class:`femion.circuit.Circuit` or a
direct call) adds each module's ``advance`` wall time and call count, its own
wall time and its coupling iterations to a :class:`CouplingProfile`. Outside
such a block nothing is timed (one test of an empty list per step and module
call).
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "CouplingError", "CouplingProfile", "Drive", "ModuleReport", "PhysicsModule", "RecentHistoryDrive", "State", "StepOutcome",
    "coupled_step", "profile_coupling", "solution_fields",
]


class CouplingError(ArithmeticError):
    """A coupled step failed to converge (the caller reduces dt)."""


@dataclass
class State:
    """Fields and scalars of the device at one time.

    Attributes
    ----------
    time : float
        t [s].
    voltage : float
        Top-electrode voltage V [V].
    current : float
        Device current I [A] (positive into the top electrode).
    fields : dict of str to ndarray
        Cell fields on the full mesh, shape (n_cells,), SI units.
    drive : Drive or None
        The external circuit of the step that computes this state when V is
        an unknown of it (compliance, series resistor, current control); None
        under a plain voltage source. Set by :func:`coupled_step`; the
        electrostatics module solves the circuit with it.
    conductance : float
        Differential conductance dI/dV [S] of the device with the other
        fields frozen (:attr:`femion.physics.electrostatics.PotentialSolution.differential_conductance`),
        reported with ``current`` when ``drive`` is set; NaN otherwise.
    """

    time: float = 0.0
    voltage: float = 0.0
    current: float = 0.0
    fields: dict[str, np.ndarray] = field(default_factory=dict)
    drive: Drive | None = None
    conductance: float = float("nan")

    def copy(self) -> State:
        """A deep copy (for step rejection); the drive (immutable) is shared."""
        return State(self.time, self.voltage, self.current, {k: v.copy() for k, v in self.fields.items()}, self.drive, self.conductance)


@dataclass(frozen=True)
class ModuleReport:
    """What one module's ``advance`` reports.

    Attributes
    ----------
    converged : bool
        The module's own iterations met their tolerance.
    iterations : int
        Inner iterations used.
    residual : float
        Last relative change or residual of the module's solve.
    """

    converged: bool = True
    iterations: int = 1
    residual: float = 0.0


@runtime_checkable
class PhysicsModule(Protocol):
    """Interface of a physics module in the coupled loop (see the module docstring)."""

    name: str
    owns: tuple[str, ...]
    reads: tuple[str, ...]

    def initialize(self, state: State) -> None:
        """Write the module's initial fields into ``state``."""

    def advance(self, state: State, dt: float, start: State) -> ModuleReport:
        """Move the owned fields from ``start`` (time t) to t + dt, reading the latest fields in ``state``."""


@dataclass(frozen=True)
class Drive:
    """What the external circuit imposes on the top electrode during one step.

    Attributes
    ----------
    control : {"voltage", "current"}
        Source mode.
    value : float
        Source voltage [V] (voltage control) or device current [A] (current
        control; 0 A is open circuit) at the end of the step.
    compliance : float or None
        Current compliance I_cc [A] of a voltage source: |I| <= I_cc, the
        electrode potential drops below the source value when the limit is
        reached.
    series_resistance : float
        Resistor R_s [Ohm] between a voltage source and the top electrode:
        V = V_source − R_s I.
    current_tolerance : float
        Absolute tolerance on the circuit equation [A] (added to a relative
        1e-6 of the target current).

    Raises
    ------
    ValueError
        On an unknown control, a non-finite value, a non-positive compliance,
        a compliance or series resistor on a current source, or a negative resistance.
    """

    control: str = "voltage"
    value: float = 0.0
    compliance: float | None = None
    series_resistance: float = 0.0
    current_tolerance: float = 1e-15

    def __post_init__(self) -> None:
        if self.control not in ("voltage", "current"):
            raise ValueError(f"drive control must be 'voltage' or 'current', got {self.control!r}")
        if not np.isfinite(self.value):
            raise ValueError(f"drive value must be finite, got {self.value!r}")
        if self.compliance is not None and not (np.isfinite(self.compliance) and self.compliance > 0.0):
            raise ValueError(f"compliance must be positive and finite, got {self.compliance!r}")
        if not (np.isfinite(self.series_resistance) and self.series_resistance >= 0.0):
            raise ValueError(f"series resistance must be non-negative, got {self.series_resistance!r}")
        if self.control == "current" and (self.compliance is not None or self.series_resistance > 0.0):
            raise ValueError("compliance and series resistance apply to voltage sources only")

    @property
    def fixed_voltage(self) -> bool:
        """V is known before the solve (voltage source, no compliance, no resistor)."""
        return self.control == "voltage" and self.compliance is None and self.series_resistance == 0.0

    def electrode_voltage(self, voltage: float, current: float, conductance: float) -> tuple[float, bool]:
        """The electrode voltage that meets the circuit equation for an affine device I(V).

        For frozen conductivities and interface laws the device current is
        exactly affine in the electrode voltage, I(V') = I + G_d (V' − V)
        (:meth:`femion.physics.electrostatics.PotentialSolver.solve` with
        ``response``), so the circuit equation I(V') = I_set, or
        V' + R_s I(V') = V_source, has the closed-form root of one Newton step.
        The compliance binds when the unlimited root would carry |I| > I_cc;
        then I(V') = ±I_cc with the sign of that current.

        Parameters
        ----------
        voltage, current
            The point of expansion: V [V] and I(V) [A].
        conductance
            G_d = dI/dV [S], positive and finite.

        Returns
        -------
        (float, bool)
            V' [V] and whether the compliance binds.

        Raises
        ------
        ValueError
            If ``conductance`` is not positive and finite.
        """
        if self.fixed_voltage:
            return self.value, False
        if not (np.isfinite(conductance) and conductance > 0.0):
            raise ValueError(f"the differential conductance must be positive and finite, got {conductance!r}")
        if self.control == "current":
            return voltage + (self.value - current) / conductance, False
        resistance = self.series_resistance
        new = voltage + (self.value - voltage - resistance * current) / (1.0 + resistance * conductance)
        if self.compliance is not None:
            predicted = current + conductance * (new - voltage)
            if abs(predicted) > self.compliance:
                return voltage + (np.sign(predicted) * self.compliance - current) / conductance, True
        return new, False

    def target_voltage(self, history: list[tuple[float, float]], conductance: float = float("nan")) -> tuple[float, bool]:
        """Next electrode voltage from the (V, I) pairs of the iterations so far (the loop-level circuit update).

        The coupled loop's fallback when the circuit was not met by the
        potential solve itself (:meth:`electrode_voltage`; the module
        docstring): a Newton step with the frozen-state slope ``conductance``
        when it is known, else a secant (exact in one step for an affine
        I(V)) whose first slope is the chord I/V through the origin (exact for
        an ohmic device), or a 10 mV probe. A voltage at least as large that
        already exceeded I_cc makes the compliance bind, and a step leaving
        the bracket of the circuit residual is replaced by bisection.

        Parameters
        ----------
        history
            (V [V], I [A]) of the coupling iterates so far, the latest last.
        conductance
            dI/dV [S] of the latest iterate with the fields frozen
            (:attr:`State.conductance`); NaN: not known.

        Returns
        -------
        (float, bool)
            Voltage [V] and whether the compliance binds.
        """
        voltage, current = history[-1]
        if self.fixed_voltage:
            return self.value, False
        if np.isfinite(conductance) and conductance > 0.0:
            slope = conductance
        elif len(history) == 1:
            slope = None
        else:
            (v0, i0), (v1, i1) = history[-2], history[-1]
            slope = (i1 - i0) / (v1 - v0) if v1 != v0 else None
        if (slope is None or not np.isfinite(slope) or slope == 0.0) and voltage != 0.0 and current != 0.0:
            slope = current / voltage  # chord through the origin: exact for an ohmic device
        if slope is None or not np.isfinite(slope) or slope <= 0.0:
            return voltage + 0.01, False
        # Solve the affine model I(V) = current + slope (V − voltage).
        limited = False
        if self.control == "current":
            new, target = voltage + (self.value - current) / slope, None
        else:
            resistance = self.series_resistance
            new = voltage + (self.value - voltage - resistance * current) / (1.0 + resistance * slope)
            target = (lambda v: (self.value - v) / resistance) if resistance > 0.0 else None
            if self.compliance is not None:
                predicted = current + slope * (new - voltage)
                # A voltage at least as large already exceeded I_cc: the limit binds even if the local
                # secant (of a strongly nonlinear device) predicts otherwise.
                exceeded = [i for v, i in history if abs(i) > self.compliance and abs(v) <= abs(new) * (1 + 1e-12)]
                if abs(predicted) > self.compliance or exceeded:
                    limit = np.sign(exceeded[-1] if exceeded else predicted) * self.compliance
                    new, target, limited = voltage + (limit - current) / slope, (lambda v: limit), True
        if target is not None:
            new = self._safeguard(new, history, target)
        return new, limited

    @staticmethod
    def _safeguard(candidate: float, history: list[tuple[float, float]], target) -> float:
        """Keep a secant step inside the bracket of the circuit residual I − I_target(V) seen so far.

        I(V) of a passive device increases with V, so the residual does too:
        the largest V with a negative and the smallest with a positive
        residual bracket the root; a step outside is replaced by bisection
        (strongly nonlinear devices, e.g. a forming filament).
        """
        below = [v for v, i in history if i - target(v) < 0.0]
        above = [v for v, i in history if i - target(v) > 0.0]
        if below and above:
            low, high = max(below), min(above)
            if low < high and not (low < candidate < high):
                return 0.5 * (low + high)
        return candidate

    def satisfied(self, voltage: float, current: float, limited: bool) -> bool:
        """Whether (V, I) meets the circuit equation within tolerance."""
        tolerance = self.current_tolerance
        if self.fixed_voltage:
            return voltage == self.value
        if self.control == "current":
            return abs(current - self.value) <= tolerance + 1e-6 * abs(self.value)
        if limited:
            return abs(abs(current) - self.compliance) <= tolerance + 1e-6 * self.compliance
        if self.compliance is not None and abs(current) > self.compliance * (1.0 + 1e-6) + tolerance:
            return False
        scale = tolerance + 1e-6 * abs(current)
        if self.series_resistance > 0.0:
            return abs((self.value - voltage) / self.series_resistance - current) <= scale
        return abs(voltage - self.value) <= 1e-9 * max(abs(self.value), 1.0)


@dataclass(frozen=True)
class RecentHistoryDrive(Drive):
    """A :class:`Drive` whose loop-level circuit update uses only the last ``window`` iterates.

    For a device whose I(V) changes between coupling iterates (the V_O field of
    :mod:`femion.physics.vacancy` under compliance): a (V, I) pair from an early
    iterate belongs to another I(V) curve and can pin the secant's bracket on a
    voltage that no longer satisfies I = I_cc (measured with the loop-level
    secant: a forming ramp stalled at 3.9 V with |I|/I_cc − 1 = 2·10⁻⁴ for 60
    iterations). The window only acts on :meth:`Drive.target_voltage`: when the
    electrostatics module solves the circuit within its potential solve (the
    module docstring), the loop-level update is not used and the window has no
    effect.

    Attributes
    ----------
    window : int
        Number of most recent (V, I) coupling iterates used by the secant,
        the compliance test and the bracket safeguard (>= 2).

    Raises
    ------
    ValueError
        As :class:`Drive`, or ``window < 2``.
    """

    window: int = 3

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.window < 2:
            raise ValueError(f"window must be at least 2, got {self.window!r}")

    def target_voltage(self, history: list[tuple[float, float]], conductance: float = float("nan")) -> tuple[float, bool]:
        """Next electrode voltage from the last ``window`` (V, I) iterates (:meth:`Drive.target_voltage`)."""
        return super().target_voltage(history[-self.window:], conductance)


@dataclass(frozen=True)
class StepOutcome:
    """Result of :func:`coupled_step`.

    Attributes
    ----------
    iterations : int
        Coupling (Picard) iterations used.
    change : float
        Last relative change of the coupled fields.
    reports : dict of str to ModuleReport
        Last report of each module.
    limited : bool
        The compliance current limited the step (V is below the source value).
    """

    iterations: int
    change: float
    reports: dict[str, ModuleReport]
    limited: bool = False


@dataclass
class CouplingProfile:
    """Wall time by module and coupling iterations of the coupled steps taken inside :func:`profile_coupling`.

    Attributes
    ----------
    module_seconds : dict of str to float
        Wall time [s] inside each module's ``advance``, by module name.
    module_calls : dict of str to int
        Number of ``advance`` calls by module name.
    step_seconds : list of float
        Wall time [s] of each :func:`coupled_step` call, converged or not.
    iterations : list of int
        Coupling iterations of each call (the one that failed included).
    converged : list of bool
        Whether each call converged (False: it raised and the caller rejects the step).
    """

    module_seconds: dict[str, float] = field(default_factory=dict)
    module_calls: dict[str, int] = field(default_factory=dict)
    step_seconds: list[float] = field(default_factory=list)
    iterations: list[int] = field(default_factory=list)
    converged: list[bool] = field(default_factory=list)

    def _advance(self, module: PhysicsModule, state: State, dt: float, start: State) -> ModuleReport:
        begin = time.perf_counter()
        try:
            return module.advance(state, dt, start)
        finally:
            name = module.name
            self.module_seconds[name] = self.module_seconds.get(name, 0.0) + time.perf_counter() - begin
            self.module_calls[name] = self.module_calls.get(name, 0) + 1

    def report(self) -> dict:
        """Summary as plain numbers (JSON-ready).

        Returns
        -------
        dict
            ``steps``, ``failed_steps`` (coupled-step calls, and those that
            raised); ``step_seconds`` [s], their total wall time;
            ``iterations_mean``, ``iterations_max`` over the converged steps
            (NaN, 0 without any); ``modules``: module name →
            {``seconds`` [s], ``calls``, ``share`` of ``step_seconds``}, plus
            ``"coupling (rest)"`` for the time in the steps outside the
            modules (copies, convergence test, Anderson mixing, circuit update).
        """
        total = float(sum(self.step_seconds))
        good = [n for n, ok in zip(self.iterations, self.converged) if ok]
        share = (lambda seconds: seconds / total) if total > 0.0 else (lambda seconds: float("nan"))
        modules = {
            name: {"seconds": seconds, "calls": self.module_calls[name], "share": share(seconds)}
            for name, seconds in self.module_seconds.items()
        }
        rest = total - sum(self.module_seconds.values())
        modules["coupling (rest)"] = {"seconds": rest, "calls": len(self.step_seconds), "share": share(rest)}
        return {
            "steps": len(self.step_seconds),
            "failed_steps": self.converged.count(False),
            "step_seconds": total,
            "iterations_mean": float(np.mean(good)) if good else float("nan"),
            "iterations_max": int(max(good)) if good else 0,
            "modules": modules,
        }


_PROFILES: list[CouplingProfile] = []
"""The active profiles (innermost last) of :func:`profile_coupling`; empty: nothing is timed."""


@contextlib.contextmanager
def profile_coupling() -> Iterator[CouplingProfile]:
    """Time every :func:`coupled_step` inside the block, by module; yields the :class:`CouplingProfile` it fills.

    Opt-in and per process (not thread-safe); blocks may nest, the innermost
    one records. Example::

        with profile_coupling() as profile:
            simulation.run(progress=False)
        profile.report()["modules"]["mechanics"]["share"]
    """
    profile = CouplingProfile()
    _PROFILES.append(profile)
    try:
        yield profile
    finally:
        _PROFILES.remove(profile)


def solution_fields(modules: list[PhysicsModule]) -> tuple[list[str], dict[str, float]]:
    """Names of the fields the modules solve for (owned, not derived) and their absolute floors (``field_scales``).

    The coupling iterations converge on these fields, and the time loop's
    local-error estimate (:mod:`femion.simulation`) measures them; a change is
    relative to max(|field|, floor).
    """
    owned = [name for module in modules for name in module.owns if name not in getattr(module, "derived", ())]
    floors = {name: value for module in modules for name, value in getattr(module, "field_scales", {}).items()}
    return owned, floors


def _relative_change(new: dict[str, np.ndarray], old: dict[str, np.ndarray], floors: dict[str, float]) -> tuple[float, str]:
    change, worst = 0.0, ""
    for name, values in new.items():
        scale = max(float(np.max(np.abs(values))), float(np.max(np.abs(old[name]))), floors.get(name, 1e-300))
        value = float(np.max(np.abs(values - old[name]))) / scale
        if value > change:
            change, worst = value, name
    return change, worst


def coupled_step(
    modules: list[PhysicsModule],
    start: State,
    dt: float,
    drive: Drive | float,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = 20,
    acceleration: int = 5,
    acceleration_start: int = 6,
    lagged: tuple[str, ...] | frozenset[str] = (),
) -> tuple[State, StepOutcome]:
    """Advance all modules from ``start`` by ``dt`` under the external circuit ``drive``.

    Parameters
    ----------
    modules
        Modules in operator order; the first is the electrostatics module (it
        sets ``state.current`` for ``state.voltage``).
    start
        State at t (not modified).
    dt
        Time step [s].
    drive
        The circuit at t + dt (:class:`Drive`), or a number: the top-electrode
        voltage [V] of a plain voltage source.
    tolerance, max_iterations
        Convergence control of the coupling iterations (fields: relative
        change; circuit: see :meth:`Drive.satisfied`).
    acceleration
        Depth m of the Anderson acceleration (0: plain Picard iteration).
    acceleration_start
        Coupling iteration after which the mixing starts: a step that Picard
        converges in fewer sweeps is left exactly as plain Picard computes it.
    lagged
        Names of modules taken out of the coupling iterations: each is advanced
        once, after the others have converged, from their fields at t + dt; the
        modules that read its fields see them at t within the step (a lag of
        one step, first order in dt like implicit Euler itself). For a module
        whose inputs come from the others but whose outputs feed back weakly
        (the mechanics: it reads ``c_li``, and only the air module reads its
        porosity), this solves it once per step instead of once per iteration.

    Returns
    -------
    (State, StepOutcome)
        The state at t + dt and the convergence record.

    Raises
    ------
    CouplingError
        If a module reports non-convergence or the Picard loop does not converge.
    FloatingPointError
        Propagated from a module whose solution became unphysical.
    """
    if not _PROFILES:
        return _coupled_step(modules, start, dt, drive, tolerance, max_iterations, acceleration, acceleration_start, None, lagged)
    profile, begin, count = _PROFILES[-1], time.perf_counter(), [0]
    try:
        new, outcome = _coupled_step(modules, start, dt, drive, tolerance, max_iterations, acceleration, acceleration_start,
                                     (profile, count), lagged)
    except BaseException:
        profile.step_seconds.append(time.perf_counter() - begin)
        profile.iterations.append(count[0])
        profile.converged.append(False)
        raise
    profile.step_seconds.append(time.perf_counter() - begin)
    profile.iterations.append(outcome.iterations)
    profile.converged.append(True)
    return new, outcome


def _coupled_step(modules, start, dt, drive, tolerance, max_iterations, acceleration, acceleration_start, profiling, lagged=()):
    """:func:`coupled_step`; ``profiling`` is None or (the profile to fill, a one-element iteration counter)."""
    unknown = set(lagged) - {module.name for module in modules}
    if unknown:
        raise ValueError(f"lagged modules {sorted(unknown)} are not among the modules")
    after_loop = [module for module in modules if module.name in lagged]
    modules_all, modules = modules, [module for module in modules if module.name not in lagged]

    def advance(module, state):
        report = module.advance(state, dt, start) if profiling is None else profiling[0]._advance(module, state, dt, start)
        reports[module.name] = report
        if not report.converged:
            raise CouplingError(f"module {module.name!r} did not converge (residual {report.residual:.3g})")

    if not isinstance(drive, Drive):
        drive = Drive("voltage", float(drive))
    state = start.copy()
    state.time = start.time + dt
    state.voltage = drive.value if drive.control == "voltage" else float(start.voltage)
    state.drive, state.conductance = (None if drive.fixed_voltage else drive), float("nan")
    owned, floors = solution_fields(modules_all)
    change, worst, reports, history, limited = np.inf, "", {}, [], False
    mixer, plain = _Anderson(acceleration), None
    smooth = {name for module in modules if getattr(module, "smooth_coupling", True) for name in module.owns}
    for iteration in range(1, max_iterations + 1):
        before = {name: state.fields[name].copy() for name in owned}
        voltage = state.voltage
        if profiling is not None:
            profiling[1][0] = iteration
        try:
            for module in modules:
                advance(module, state)
        except (ArithmeticError, ValueError):
            if plain is None:
                raise
            # A module failed from a mixed iterate: go on from the plain Picard iterate, without acceleration.
            state.voltage = plain.pop(_VOLTAGE, state.voltage)
            state.fields.update(plain)
            mixer, plain = _Anderson(0), None
            continue
        if not (np.isfinite(state.voltage) and np.isfinite(state.current)):
            raise FloatingPointError(f"non-finite electrode state V = {state.voltage!r}, I = {state.current!r}")
        after = {name: state.fields[name] for name in owned}
        change, worst = _relative_change(after, before, floors)
        # The first module solved the circuit with the frozen fields (it reports dI/dV): V is then a function of the
        # fields like any derived output, and Drive decides whether the compliance binds at the solved point.
        solved = state.drive is not None and np.isfinite(state.conductance)
        if solved:
            limited = drive.electrode_voltage(state.voltage, state.current, state.conductance)[1]
        circuit_met = drive.satisfied(state.voltage, state.current, limited)
        if circuit_met and (change < tolerance or len(modules) == 1):
            for module in after_loop:
                advance(module, state)
            return state, StepOutcome(iteration, change, reports, limited)
        moved = False
        if not circuit_met:
            history.append((state.voltage, state.current))
            state.voltage, limited = drive.target_voltage(history, state.conductance)
            moved = state.voltage != history[-1][0]
        plain = None
        if moved or len(modules) == 1 or iteration < acceleration_start:
            mixer.reset()
        else:
            images = {n: after[n] for n in owned if n in smooth}
            iterate = {n: before[n] for n in owned if n in smooth}
            if solved:  # the electrode voltage is mixed with the fields it is a function of
                iterate[_VOLTAGE], images[_VOLTAGE] = np.array([voltage]), np.array([state.voltage])
            mixed = mixer.mix(iterate, images, {**floors, _VOLTAGE: _VOLTAGE_FLOOR})
            if mixed:
                plain = {name: images[name].copy() for name in mixed if name != _VOLTAGE}
                plain[_VOLTAGE] = state.voltage
                state.voltage = float(mixed.pop(_VOLTAGE, [state.voltage])[0])
                state.fields.update(mixed)
    raise CouplingError(
        f"coupling iterations did not converge in {max_iterations} (field change {change:.3g} in {worst!r}, "
        f"V = {state.voltage:.6g} V, I = {state.current:.6g} A)"
    )


_VOLTAGE = "electrode voltage"
"""Key of the electrode voltage among the mixed iterates (not a field of the state)."""

_VOLTAGE_FLOOR = 1e-3
"""Scale [V] below which electrode-voltage changes are measured in absolute terms in the Anderson mixing (as φ's floor)."""


class _Anderson:
    """Anderson mixing (type II) of the owned fields over the coupling iterations (see the module docstring).

    Fields are scaled by max(|x|, floor) of the first iterate so that fields of
    different units weigh alike; the least-squares problem is solved with
    :func:`numpy.linalg.lstsq` (rank-deficient histories are fine).
    """

    def __init__(self, depth: int):
        self.depth = int(depth)
        self.reset()

    def reset(self) -> None:
        self.residuals: list[np.ndarray] = []
        self.images: list[np.ndarray] = []
        self.scales: dict[str, float] | None = None

    def mix(self, before: dict[str, np.ndarray], after: dict[str, np.ndarray], floors: dict[str, float]) -> dict[str, np.ndarray]:
        """The next iterate from x_k = ``before`` and G(x_k) = ``after`` (field name → array); {} to keep G(x_k)."""
        if self.depth <= 0 or not after:
            return {}
        names = list(after)
        if self.scales is None:
            self.scales = {n: max(float(np.max(np.abs(after[n]))), floors.get(n, 1e-300)) for n in names}
        image = np.concatenate([after[n].ravel() / self.scales[n] for n in names])
        residual = image - np.concatenate([before[n].ravel() / self.scales[n] for n in names])
        self.residuals.append(residual)
        self.images.append(image)
        if len(self.residuals) > self.depth + 1:
            self.residuals.pop(0)
            self.images.pop(0)
        if len(self.residuals) < 2:
            return {}
        d_residual = np.diff(np.array(self.residuals), axis=0).T
        d_image = np.diff(np.array(self.images), axis=0).T
        gamma = np.linalg.lstsq(d_residual, residual, rcond=None)[0]
        mixed = image - d_image @ gamma
        if not np.all(np.isfinite(mixed)):
            return {}
        out, start = {}, 0
        for n in names:
            size = after[n].size
            values = (mixed[start:start + size] * self.scales[n]).reshape(after[n].shape)
            start += size
            low, high = float(np.min(after[n])), float(np.max(after[n]))
            if (low >= 0.0 and np.min(values) < 0.0) or (high <= 0.0 and np.max(values) > 0.0):
                return {}  # the extrapolation leaves the field's sign range: keep the plain Picard iterate
            out[n] = values
        return out
