"""Electrical programmes: what the time loop imposes on the device, and when.

A :class:`Protocol` is an ordered, immutable sequence of :class:`Step` objects.
Each step controls either the **voltage** V(t) [V] of the top electrode (the
bottom electrode is ground) or the **total device current** I(t)
[A], as a function of the step's local time t ∈ [0, duration]. Everything here
is SI; quantities with units enter only through :func:`protocol_from_config`.

Sign convention: V is the top-electrode (Pt) potential relative to the grounded
bottom electrode (ITO); I is positive when it flows from the source into the top
electrode, so I and V have the same sign for a resistor and a positive current
raises V (the sense of "charge" in :func:`galvanostatic_cycles`).

Contract with the time loop
---------------------------
The loop walks the steps in order, with a local clock that restarts at 0 for
every step, and must:

1. **Impose** ``step.value(t)``: the top-electrode voltage when
   ``step.control == "voltage"``; when ``step.control == "current"`` the
   electrode potential is an unknown fixed by the total current (0 A is open
   circuit, see :func:`rest`).
2. **Land on breakpoints.** ``step.breakpoints()`` lists the local times where
   the waveform has a kink or a jump (vertices of a sweep, pulse edges, and 0
   and ``duration``). The loop must end a time step exactly on each one, never
   step over it. Steps are discontinuous at their boundaries: the previous step
   is finished at its own end value and the next one starts at its own
   ``value(0)``; the jump takes zero time. :meth:`Protocol.breakpoints` gives the
   same times globally for the part of the programme whose timing is fixed.
3. **Respect** ``step.max_step`` [s], the largest suggested time step inside the
   step (a fraction of each waveform segment, and at most
   :data:`RAMP_VOLTAGE_INCREMENT` of voltage change per step on ramps). It is an
   upper bound for an adaptive controller, not a fixed step; ``math.inf`` means
   the step has no natural time scale (limit-terminated galvanostatic steps).
4. **Apply the compliance.** When ``step.compliance`` [A] is set, the external
   circuit limits ``|I| <= compliance``; once reached, the electrode potential
   becomes an unknown fixed by ``|I| = compliance``.
5. **Stop on limits.** Current-controlled steps may carry ``step.limits``
   (:class:`VoltageLimits`). After every accepted time step the loop calls
   ``step.crossed(V)`` with the computed top-electrode voltage; when it returns
   True the loop locates the crossing inside the last time step (bisection or
   interpolation in time) and ends the step there. A finite ``duration`` on such
   a step is a time-out; ``duration = math.inf`` means "until the limit". All
   later steps start when the limited step actually ended, so global times are
   fixed only up to the first limited step (:attr:`Protocol.n_timed`). A step
   whose limit is already met when it starts ends immediately.
6. **Record reads.** Steps with ``kind == "read"`` hold a small voltage V_read
   (``step.end_value``) for the read time ``step.duration``; the loop records
   the emf-corrected conductance G = I / (V_read − V_oc)
   (:func:`femion.observables.read_conductance`) with I the total device
   current at the end of the read and V_oc the cell's emf just before it, and
   the raw I / V_read, together with the step's ``pulse_number``, ``pulse_index``,
   ``polarity``, ``phase`` ("LTP"/"LTD") and ``cycle``. Counts start at 1, as on
   a plot axis.

Builders return protocols for the paper's experiments: DC sweeps
(:func:`voltage_sweep`, paper Fig. 3a), pulse trains with reads
(:func:`pulse_train`, :func:`ltp_ltd_cycles`, Fig. 3b-c), cyclic voltammetry
and galvanostatic charge/discharge (:func:`cyclic_voltammetry`,
:func:`galvanostatic_cycles`, Fig. 3e-f), holds, open-circuit rests and
electroforming ramps with a compliance current (:func:`forming_ramp`, Fig. 3g).
Protocols concatenate with ``+`` and repeat with ``* n``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from femion.units import to_si

__all__ = [
    "CONTROLS",
    "DEFAULT_READ_VOLTAGE",
    "DEFAULT_READ_WIDTH",
    "PHASES",
    "PROTOCOL_KINDS",
    "RAMP_VOLTAGE_INCREMENT",
    "SEGMENT_FRACTION",
    "STEP_KINDS",
    "Control",
    "Protocol",
    "ProtocolError",
    "Step",
    "VoltageLimits",
    "cyclic_voltammetry",
    "forming_ramp",
    "galvanostatic_cycles",
    "hold",
    "ltp_ltd_cycles",
    "protocol_from_config",
    "pulse_train",
    "rest",
    "voltage_sweep",
]

Control = Literal["voltage", "current"]
CONTROLS: tuple[str, ...] = ("voltage", "current")
STEP_KINDS: tuple[str, ...] = (
    "pulse",
    "read",
    "rest",
    "sweep",
    "hold",
    "charge",
    "discharge",
    "forming",
    "ramp",
)
PHASES: tuple[str, ...] = ("LTP", "LTD")

#: Largest suggested time step as a fraction of each waveform segment [-].
SEGMENT_FRACTION = 0.1
#: Largest suggested voltage change per time step on a voltage ramp [V]
#: (comparable with the staircase step of a source-meter sweep).
RAMP_VOLTAGE_INCREMENT = 0.05
#: Default read voltage V_read [V] of pulse trains.
DEFAULT_READ_VOLTAGE = 0.1
#: Default read duration [s] of pulse trains (*assumed*; not given in the paper).
DEFAULT_READ_WIDTH = 1e-3

_RELATIVE_TIME_TOLERANCE = 1e-12


class ProtocolError(ValueError):
    """Invalid protocol or builder argument; the message names the argument (and key and file for configs)."""


# ---------------------------------------------------------------------------
# argument validation
# ---------------------------------------------------------------------------


def _real(name: str, value: Any, unit: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ProtocolError(
            f"{name} must be a real number in {unit}, got {value!r} ({type(value).__name__}); "
            "quantities with units are converted by protocol_from_config"
        )
    number = float(value)
    if math.isnan(number):
        raise ProtocolError(f"{name} must be a number in {unit}, got NaN")
    return number


def _finite(name: str, value: Any, unit: str) -> float:
    number = _real(name, value, unit)
    if not math.isfinite(number):
        raise ProtocolError(f"{name} must be finite, got {number!r} {unit}")
    return number


def _nonzero(name: str, value: Any, unit: str) -> float:
    number = _finite(name, value, unit)
    if number == 0.0:
        raise ProtocolError(f"{name} must be non-zero, got 0 {unit}")
    return number


def _positive(name: str, value: Any, unit: str) -> float:
    number = _finite(name, value, unit)
    if number <= 0.0:
        raise ProtocolError(f"{name} must be positive, got {number!r} {unit}")
    return number


def _non_negative(name: str, value: Any, unit: str) -> float:
    number = _finite(name, value, unit)
    if number < 0.0:
        raise ProtocolError(f"{name} must be zero or positive, got {number!r} {unit}")
    return number


def _count(name: str, value: Any, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ProtocolError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    number = int(value)
    if number < minimum:
        raise ProtocolError(f"{name} must be at least {minimum}, got {number}")
    return number


def _optional_count(name: str, value: Any) -> int | None:
    return None if value is None else _count(name, value, 1)


def _optional_max_step(value: Any) -> float | None:
    if value is None:
        return None
    number = _real("max_step", value, "s")
    if number <= 0.0:
        raise ProtocolError(f"max_step must be positive, got {number!r} s")
    return number


def _optional_compliance(name: str, value: Any) -> float | None:
    return None if value is None else _positive(name, value, "A")


def _running_sums(values: Sequence[float]) -> list[float]:
    """Compensated (Neumaier) prefix sums ``[0, v0, v0 + v1, ...]``; length ``len(values) + 1``."""
    sums = [0.0]
    total = 0.0
    compensation = 0.0
    for value in values:
        new_total = total + value
        if abs(total) >= abs(value):
            compensation += (total - new_total) + value
        else:
            compensation += (value - new_total) + total
        total = new_total
        sums.append(total + compensation)
    return sums


# ---------------------------------------------------------------------------
# steps
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class VoltageLimits:
    """Voltage window that terminates a current-controlled step.

    Attributes
    ----------
    lower : float
        The step ends when the top-electrode voltage falls to or below this
        value [V]; ``-math.inf`` for no lower limit.
    upper : float
        The step ends when the voltage rises to or above this value [V];
        ``math.inf`` for no upper limit.

    Raises
    ------
    ProtocolError
        If a limit is NaN, both are infinite, or ``lower >= upper``.
    """

    lower: float = -math.inf
    upper: float = math.inf

    def __post_init__(self) -> None:
        lower = _real("lower", self.lower, "V")
        upper = _real("upper", self.upper, "V")
        if math.isinf(lower) and math.isinf(upper) and lower < upper:
            raise ProtocolError("VoltageLimits needs at least one finite limit (lower or upper)")
        if lower >= upper:
            raise ProtocolError(f"lower limit ({lower!r} V) must be below the upper limit ({upper!r} V)")
        object.__setattr__(self, "lower", lower)
        object.__setattr__(self, "upper", upper)

    def which(self, voltage: float) -> Literal["lower", "upper"] | None:
        """Return the limit reached by ``voltage`` [V]: ``"lower"``, ``"upper"`` or None.

        Raises
        ------
        ProtocolError
            If ``voltage`` is not a real number or is NaN (a diverged solve).
        """
        measured = _real("voltage", voltage, "V")
        if measured <= self.lower:
            return "lower"
        if measured >= self.upper:
            return "upper"
        return None

    def crossed(self, voltage: float) -> bool:
        """True when ``voltage`` [V] has reached or passed either limit.

        Raises
        ------
        ProtocolError
            If ``voltage`` is not a real number or is NaN.
        """
        return self.which(voltage) is not None


@dataclass(frozen=True, kw_only=True)
class Step:
    """One segment of an electrical programme (see the module docstring for the loop contract).

    The waveform is piecewise linear through the knots ``(times[i], levels[i])``;
    a single knot means a constant level. Build steps with :meth:`constant` or
    :meth:`piecewise_linear`, or with the protocol builders.

    Attributes
    ----------
    control : {"voltage", "current"}
        What is imposed: the top-electrode voltage [V] or the total device
        current [A].
    kind : str
        One of :data:`STEP_KINDS` ("pulse", "read", "rest", "sweep", "hold",
        "charge", "discharge", "forming", "ramp").
    duration : float
        Length of the step [s]; ``math.inf`` only for steps with ``limits``. On a
        limited step a finite duration is a time-out.
    levels : tuple of float
        Knot values [V or A], shape (n,).
    times : tuple of float
        Knot local times [s], shape (n,), strictly increasing from 0; with
        n >= 2 the last knot is at ``duration``. Default ``(0.0,)`` (constant).
    label : str
        Human-readable name ("cycle 2 LTD read 37").
    max_step : float or None
        Largest suggested time step inside the step [s]; None derives it from
        the waveform (:data:`SEGMENT_FRACTION` of the shortest segment, and on
        voltage ramps at most :data:`RAMP_VOLTAGE_INCREMENT` per step). After
        construction it is always a float (``math.inf`` for an infinite
        constant step).
    limits : VoltageLimits or None
        Voltage window ending a current-controlled step.
    compliance : float or None
        Current compliance I_cc [A] of a voltage-controlled step (``|I| <= I_cc``).
    pulse_number : int or None
        Pulse count across the whole programme, from 1 (pulse, rest and read steps).
    pulse_index : int or None
        Pulse count within its train or phase, from 1.
    cycle : int or None
        Cycle count, from 1.
    polarity : {-1, 1} or None
        Sign of the pulse the step belongs to.
    phase : {"LTP", "LTD"} or None
        Potentiation or depression phase of a pulse train.
    stage : str or None
        Name of the stage of a device history the step belongs to (e.g.
        ``"analog"``, ``"forming 50 uA"``; set with :meth:`Protocol.staged`).
        The time loop names it in its progress output and keeps the state at
        the end of every stage (:attr:`femion.simulation.Result.stages`).

    Raises
    ------
    ProtocolError
        On an unknown control or kind, a non-positive or NaN duration, an
        infinite duration without limits, knots that do not start at 0, are not
        strictly increasing or do not end at ``duration``, non-finite levels,
        limits on a voltage-controlled step, a compliance on a current-controlled
        step, or invalid metadata.
    """

    control: Control
    kind: str
    duration: float
    levels: tuple[float, ...]
    times: tuple[float, ...] = (0.0,)
    label: str = ""
    max_step: float | None = None
    limits: VoltageLimits | None = None
    compliance: float | None = None
    pulse_number: int | None = None
    pulse_index: int | None = None
    cycle: int | None = None
    polarity: int | None = None
    phase: str | None = None
    stage: str | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if self.control not in CONTROLS:
            raise ProtocolError(f"control must be one of {CONTROLS}, got {self.control!r}")
        if self.kind not in STEP_KINDS:
            raise ProtocolError(f"kind must be one of {STEP_KINDS}, got {self.kind!r}")
        if not isinstance(self.label, str):
            raise ProtocolError(f"label must be a string, got {self.label!r}")
        if self.limits is not None and not isinstance(self.limits, VoltageLimits):
            raise ProtocolError(f"limits must be a VoltageLimits or None, got {self.limits!r}")
        if self.limits is not None and self.control != "current":
            raise ProtocolError("limits are only allowed on current-controlled steps")
        duration = _real("duration", self.duration, "s")
        if duration <= 0.0:
            raise ProtocolError(f"duration must be positive, got {duration!r} s")
        if math.isinf(duration) and self.limits is None:
            raise ProtocolError("duration may be infinite only for a step that ends on a voltage limit (limits)")
        set_(self, "duration", duration)

        unit = "V" if self.control == "voltage" else "A"
        levels = tuple(_finite(f"levels[{i}]", v, unit) for i, v in enumerate(_as_sequence("levels", self.levels)))
        times = tuple(_finite(f"times[{i}]", t, "s") for i, t in enumerate(_as_sequence("times", self.times)))
        if len(levels) == 0 or len(levels) != len(times):
            raise ProtocolError(
                f"times and levels must be non-empty and of equal length, got {len(times)} and {len(levels)}"
            )
        if times[0] != 0.0:
            raise ProtocolError(f"times[0] must be 0 (local time), got {times[0]!r} s")
        if any(later <= earlier for earlier, later in zip(times, times[1:])):
            raise ProtocolError(f"times must be strictly increasing, got {times!r}")
        if len(times) > 1:
            if math.isinf(duration):
                raise ProtocolError("a step of infinite duration must be constant (a single knot)")
            if abs(times[-1] - duration) > _RELATIVE_TIME_TOLERANCE * duration:
                raise ProtocolError(f"the last knot time ({times[-1]!r} s) must equal duration ({duration!r} s)")
            times = times[:-1] + (duration,)
        set_(self, "levels", levels)
        set_(self, "times", times)

        if self.compliance is not None:
            if self.control != "voltage":
                raise ProtocolError("compliance is only allowed on voltage-controlled steps")
            set_(self, "compliance", _positive("compliance", self.compliance, "A"))
        for name in ("pulse_number", "pulse_index", "cycle"):
            set_(self, name, _optional_count(name, getattr(self, name)))
        if self.polarity is not None:
            if isinstance(self.polarity, bool) or self.polarity not in (-1, 1):
                raise ProtocolError(f"polarity must be -1, 1 or None, got {self.polarity!r}")
            set_(self, "polarity", int(self.polarity))
        if self.stage is not None and (not isinstance(self.stage, str) or not self.stage.strip()):
            raise ProtocolError(f"stage must be a non-empty string or None, got {self.stage!r}")
        if self.phase is not None and self.phase not in PHASES:
            raise ProtocolError(f"phase must be one of {PHASES} or None, got {self.phase!r}")
        max_step = _optional_max_step(self.max_step)
        set_(self, "max_step", self._derived_max_step() if max_step is None else max_step)

    # -- constructors -------------------------------------------------------

    @classmethod
    def constant(cls, control: Control, level: float, duration: float, *, kind: str, **metadata: Any) -> Step:
        """A step holding ``level`` [V or A] for ``duration`` [s].

        Parameters
        ----------
        control
            "voltage" or "current".
        level
            Imposed value [V or A].
        duration
            Length [s]; ``math.inf`` only together with ``limits=...``.
        kind
            One of :data:`STEP_KINDS`.
        **metadata
            Any other :class:`Step` field (label, limits, compliance, max_step,
            pulse_number, ...).

        Returns
        -------
        Step

        Raises
        ------
        ProtocolError
            As :class:`Step`.
        """
        return cls(control=control, kind=kind, duration=duration, levels=(level,), times=(0.0,), **metadata)

    @classmethod
    def piecewise_linear(
        cls,
        times: Sequence[float],
        levels: Sequence[float],
        *,
        kind: str,
        control: Control = "voltage",
        **metadata: Any,
    ) -> Step:
        """A piecewise-linear step through knots; its duration is ``times[-1]``.

        Parameters
        ----------
        times
            Local knot times [s], shape (n,), n >= 2, strictly increasing from 0.
        levels
            Knot values [V or A], shape (n,).
        kind
            One of :data:`STEP_KINDS`.
        control
            "voltage" (default) or "current".
        **metadata
            Any other :class:`Step` field.

        Returns
        -------
        Step

        Raises
        ------
        ProtocolError
            Fewer than two knots, or as :class:`Step`.
        """
        times = tuple(_as_sequence("times", times))
        if len(times) < 2:
            raise ProtocolError(f"a piecewise-linear step needs at least two knots, got {len(times)}")
        duration = _real("times[-1]", times[-1], "s")
        return cls(control=control, kind=kind, duration=duration, levels=tuple(levels), times=times, **metadata)

    # -- waveform -----------------------------------------------------------

    @property
    def is_limited(self) -> bool:
        """True when the step ends on a voltage limit (its end time is not known in advance)."""
        return self.limits is not None

    @property
    def start_value(self) -> float:
        """Imposed value at local time 0 [V or A]."""
        return self.levels[0]

    @property
    def end_value(self) -> float:
        """Imposed value at the end of the step [V or A] (the read voltage of a read step)."""
        return self.levels[-1]

    def value(self, t: float | np.ndarray) -> float | np.ndarray:
        """Imposed voltage [V] or current [A] at local time ``t``.

        Parameters
        ----------
        t
            Local time(s) [s] in [0, duration], scalar or array of any shape.

        Returns
        -------
        float or ndarray
            A float for scalar ``t``, otherwise an array of the shape of ``t``.

        Raises
        ------
        ProtocolError
            If any ``t`` is NaN or outside [0, duration] (beyond a relative
            rounding tolerance of 1e-12).
        """
        local = np.asarray(t, dtype=float)
        if np.any(np.isnan(local)):
            raise ProtocolError("local time t contains NaN")
        tolerance = _RELATIVE_TIME_TOLERANCE * self.duration if math.isfinite(self.duration) else 0.0
        if local.size and (np.min(local) < -tolerance or np.max(local) > self.duration + tolerance):
            raise ProtocolError(
                f"local time t must lie in [0, {self.duration!r}] s for step {self.label or self.kind!r}, "
                f"got values in [{float(np.min(local))!r}, {float(np.max(local))!r}]"
            )
        if len(self.times) == 1:
            result = np.full(local.shape, self.levels[0])
        else:
            result = np.interp(np.clip(local, 0.0, self.duration), self.times, self.levels)
        return float(result) if result.ndim == 0 else result

    def breakpoints(self) -> np.ndarray:
        """Local times [s] where the loop must land a time step exactly, shape (m,).

        Includes 0, every knot (kinks of ramps, pulse edges) and ``duration``
        when it is finite.
        """
        if len(self.times) == 1 and math.isfinite(self.duration):
            return np.array([0.0, self.duration])
        return np.array(self.times)

    def crossed(self, voltage: float) -> bool:
        """True when the measured top-electrode ``voltage`` [V] ends this step (always False without limits).

        Raises
        ------
        ProtocolError
            If the step has limits and ``voltage`` is NaN or not a number.
        """
        return self.limits is not None and self.limits.crossed(voltage)

    def _derived_max_step(self) -> float:
        if len(self.times) == 1:
            return SEGMENT_FRACTION * self.duration
        candidates = []
        for (t0, v0), (t1, v1) in zip(zip(self.times, self.levels), zip(self.times[1:], self.levels[1:])):
            span = t1 - t0
            candidates.append(SEGMENT_FRACTION * span)
            if self.control == "voltage" and v1 != v0:
                candidates.append(RAMP_VOLTAGE_INCREMENT * span / abs(v1 - v0))
        return min(candidates)


def _as_sequence(name: str, values: Any) -> list[Any]:
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, (Iterable, np.ndarray)):
        raise ProtocolError(f"{name} must be a sequence of numbers, got {values!r}")
    return list(np.asarray(values).ravel().tolist()) if isinstance(values, np.ndarray) else list(values)


# ---------------------------------------------------------------------------
# protocols
# ---------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Protocol:
    """An ordered, immutable sequence of :class:`Step` objects.

    ``p + q`` concatenates (a :class:`Step` is accepted on either side),
    ``p * n`` and ``n * p`` repeat (metadata such as pulse numbers is copied
    unchanged; use :func:`ltp_ltd_cycles` for numbering that continues),
    ``len(p)``, iteration and indexing (a slice gives a Protocol) work as for a
    tuple. Use ``sum(parts, Protocol())`` to concatenate many.

    Attributes
    ----------
    steps : tuple of Step
        The steps, in order.

    Raises
    ------
    TypeError
        If an element of ``steps`` is not a :class:`Step`.
    """

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.steps, Step):
            steps: tuple[Step, ...] = (self.steps,)
        else:
            steps = tuple(self.steps)
        for index, step in enumerate(steps):
            if not isinstance(step, Step):
                raise TypeError(f"Protocol steps[{index}] must be a Step, got {type(step).__name__}")
        object.__setattr__(self, "steps", steps)

    # -- sequence behaviour -------------------------------------------------

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Iterator[Step]:
        return iter(self.steps)

    def __getitem__(self, index: int | slice) -> Step | Protocol:
        if isinstance(index, slice):
            return Protocol(self.steps[index])
        return self.steps[index]

    def __add__(self, other: Protocol | Step) -> Protocol:
        if isinstance(other, Protocol):
            return Protocol(self.steps + other.steps)
        if isinstance(other, Step):
            return Protocol(self.steps + (other,))
        return NotImplemented

    def __radd__(self, other: Step) -> Protocol:
        if isinstance(other, Step):
            return Protocol((other,) + self.steps)
        return NotImplemented

    def __mul__(self, count: int) -> Protocol:
        if isinstance(count, bool) or not isinstance(count, numbers.Integral):
            return NotImplemented
        if count < 0:
            raise ProtocolError(f"a protocol can only be repeated a non-negative number of times, got {count}")
        return Protocol(self.steps * int(count))

    __rmul__ = __mul__

    def __repr__(self) -> str:
        kinds = ", ".join(sorted({step.kind for step in self.steps}))
        return f"Protocol({len(self.steps)} steps [{kinds}], duration={self.duration!r} s)"

    # -- stages -------------------------------------------------------------

    def staged(self, name: str) -> Protocol:
        """This protocol with every step's ``stage`` set to ``name`` (one stage of a device history).

        Raises
        ------
        ProtocolError
            If ``name`` is not a non-empty string.
        """
        return Protocol(tuple(replace(step, stage=name) for step in self.steps))

    @property
    def stages(self) -> tuple[str, ...]:
        """Stage names in the order they first appear (steps without a stage are not counted)."""
        return tuple(dict.fromkeys(step.stage for step in self.steps if step.stage is not None))

    def stage_ends(self) -> dict[int, str]:
        """Index of the last step of each contiguous stage → its name.

        Raises
        ------
        ProtocolError
            If a stage name appears in two separate runs of steps (stages must be contiguous).
        """
        ends: dict[int, str] = {}
        seen: set[str] = set()
        for index, step in enumerate(self.steps):
            if step.stage is None:
                continue
            following = self.steps[index + 1].stage if index + 1 < len(self.steps) else None
            if following != step.stage:
                if step.stage in seen:
                    raise ProtocolError(f"stage {step.stage!r} is not contiguous: it ends twice")
                seen.add(step.stage)
                ends[index] = step.stage
        return ends

    # -- timing -------------------------------------------------------------

    @property
    def duration(self) -> float:
        """Sum of the step durations [s].

        ``math.inf`` if any step is limit-terminated without a time-out; with
        finite time-outs it is an upper bound of the actual duration.
        """
        durations = [step.duration for step in self.steps]
        if any(math.isinf(duration) for duration in durations):
            return math.inf
        return _running_sums(durations)[-1]

    @property
    def n_timed(self) -> int:
        """Number of leading steps whose start and end times are fixed in advance (before the first limited step)."""
        for index, step in enumerate(self.steps):
            if step.is_limited:
                return index
        return len(self.steps)

    @property
    def is_timed(self) -> bool:
        """True when no step ends on a limit, so every time is known in advance."""
        return self.n_timed == len(self.steps)

    @property
    def is_voltage_controlled(self) -> bool:
        """True when every step imposes the voltage (the protocol then has a voltage waveform V(t))."""
        return all(step.control == "voltage" for step in self.steps)

    def step_starts(self) -> np.ndarray:
        """Global start times [s] of the steps whose start is known, shape (k,).

        These are all steps up to and including the first limit-terminated one:
        ``k = min(n_timed + 1, len(self))``. Sums are compensated, so the start
        of step k equals the exact sum of the earlier durations to rounding.
        """
        k = min(self.n_timed + 1, len(self.steps))
        return np.array(_running_sums([step.duration for step in self.steps[: k - 1]])) if k else np.zeros(0)

    def breakpoints(self) -> np.ndarray:
        """Global times [s] where the loop must land a time step exactly, sorted, shape (m,).

        Covers the timed prefix (the first :attr:`n_timed` steps): every step's
        local breakpoints shifted by its start, including 0 and the end of the
        prefix (the start of the first limited step, if any). Later breakpoints
        depend on when the limit is reached: use each step's own
        :meth:`Step.breakpoints` there.
        """
        n = self.n_timed
        edges = _running_sums([step.duration for step in self.steps[:n]])
        points = [np.asarray(edges)]
        for start, step in zip(edges, self.steps[:n]):
            interior = step.breakpoints()[1:-1]
            if interior.size:
                points.append(start + interior)
        return np.unique(np.concatenate(points))

    def locate(self, t: float) -> tuple[int, float]:
        """Step index and local time [s] at global time ``t`` [s] within the timed prefix.

        At a boundary between steps the later step is returned (local time 0),
        at the very end of a timed protocol the last step (local time =
        its duration).

        Raises
        ------
        ProtocolError
            If the protocol is empty, ``t`` is NaN or outside the timed prefix.
        """
        indices, local = self._locate(np.asarray(_real("t", t, "s"), dtype=float))
        return int(indices), float(local)

    def _locate(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not self.steps:
            raise ProtocolError("the protocol is empty")
        if np.any(np.isnan(t)):
            raise ProtocolError("time t contains NaN")
        n = self.n_timed
        edges = np.array(_running_sums([step.duration for step in self.steps[:n]]))
        end = edges[-1]
        last = n - 1 if n == len(self.steps) else n  # the first limited step starts at ``end``
        tolerance = _RELATIVE_TIME_TOLERANCE * max(end, 1.0)
        if t.size and (np.min(t) < -tolerance or np.max(t) > end + tolerance):
            raise ProtocolError(
                f"time t must lie in [0, {float(end)!r}] s (the timed part of the protocol), "
                f"got values in [{float(np.min(t))!r}, {float(np.max(t))!r}]"
            )
        starts = edges[: last + 1]
        indices = np.clip(np.searchsorted(starts, t, side="right") - 1, 0, last)
        local = t - starts[indices]
        return indices, local

    def voltage(self, t: float | np.ndarray) -> float | np.ndarray:
        """Applied top-electrode voltage V(t) [V] of an all-voltage-controlled protocol.

        Right-continuous: at a step boundary the value of the step that starts
        there; at ``t = duration`` the end value of the last step.

        Parameters
        ----------
        t
            Global time(s) [s] in [0, duration], scalar or array.

        Returns
        -------
        float or ndarray
            A float for scalar ``t``, otherwise an array of the shape of ``t``.

        Raises
        ------
        ProtocolError
            If the protocol is empty or has a current-controlled step, or ``t``
            is NaN or outside [0, duration].
        """
        if not self.steps:
            raise ProtocolError("the protocol is empty")
        if not self.is_voltage_controlled:
            current = [index for index, step in enumerate(self.steps) if step.control != "voltage"]
            raise ProtocolError(
                f"voltage(t) needs an all-voltage-controlled protocol; steps {current[:5]} are current-controlled"
            )
        times = np.asarray(t, dtype=float)
        indices, local = self._locate(times)
        result = np.empty(times.shape)
        for index in np.unique(indices):
            mask = indices == index
            step = self.steps[int(index)]
            result[mask] = step.value(np.clip(local[mask], 0.0, step.duration))
        return float(result) if result.ndim == 0 else result


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------


def _pulse_label(kind: str, number: int, phase: str | None, cycle: int | None) -> str:
    parts = []
    if cycle is not None:
        parts.append(f"cycle {cycle}")
    if phase is not None:
        parts.append(phase)
    parts.append(f"{kind} {number}")
    return " ".join(parts)


def voltage_sweep(
    start: float,
    vertices: Sequence[float],
    rate: float,
    cycles: int = 1,
    *,
    compliance: float | None = None,
    max_step: float | None = None,
) -> Protocol:
    """Piecewise-linear (triangular) voltage sweep start → v1 → v2 → … at |dV/dt| = rate.

    Paper Fig. 3a: consecutive negative then positive DC sweeps at 1 V/s,
    ``voltage_sweep(0, [-5, 0, 5, 0], 1.0)``. Each cycle is one step of kind
    "sweep" (``cycle`` = 1, 2, …) with breakpoints at the vertices; its duration
    is Σ|ΔV| / rate.

    Parameters
    ----------
    start
        Initial voltage [V].
    vertices
        Voltages [V] reached in turn, at least one; each must differ from the
        previous one.
    rate
        Sweep rate |dV/dt| [V/s], positive.
    cycles
        Number of repetitions (>= 1). With more than one, the last vertex must
        equal ``start`` so that the waveform is continuous.
    compliance
        Optional current compliance I_cc [A].
    max_step
        Largest suggested time step [s]; None derives it (see :class:`Step`).

    Returns
    -------
    Protocol
        ``cycles`` voltage-controlled steps.

    Raises
    ------
    ProtocolError
        Non-finite voltages, an empty or repeated vertex, a non-positive rate,
        ``cycles < 1``, an open path with ``cycles > 1``, or a non-positive
        compliance or max_step.
    """
    start = _finite("start", start, "V")
    path = [start] + [_finite(f"vertices[{i}]", v, "V") for i, v in enumerate(_as_sequence("vertices", vertices))]
    if len(path) < 2:
        raise ProtocolError("vertices must list at least one vertex voltage")
    rate = _positive("rate", rate, "V/s")
    cycles = _count("cycles", cycles)
    compliance = _optional_compliance("compliance", compliance)
    max_step = _optional_max_step(max_step)
    for index in range(1, len(path)):
        if path[index] == path[index - 1]:
            previous = "start" if index == 1 else f"vertices[{index - 2}]"
            raise ProtocolError(
                f"vertices[{index - 1}] = {path[index]!r} V equals {previous}: zero-length sweep segment"
            )
    if cycles > 1 and path[-1] != start:
        raise ProtocolError(
            f"a sweep repeated {cycles} times must end where it starts (last vertex {path[-1]!r} V, "
            f"start {start!r} V), otherwise the voltage would jump between cycles"
        )
    distances = _running_sums([abs(b - a) for a, b in zip(path, path[1:])])
    times = [distance / rate for distance in distances]
    return Protocol(
        tuple(
            Step.piecewise_linear(
                times,
                path,
                kind="sweep",
                label=f"sweep cycle {cycle}",
                cycle=cycle,
                compliance=compliance,
                max_step=max_step,
            )
            for cycle in range(1, cycles + 1)
        )
    )


def pulse_train(
    amplitude: float,
    width: float,
    rest: float,
    count: int,
    read_voltage: float = DEFAULT_READ_VOLTAGE,
    read_width: float = DEFAULT_READ_WIDTH,
    rise: float = 0.0,
    *,
    first_pulse_number: int = 1,
    phase: str | None = None,
    cycle: int | None = None,
) -> Protocol:
    """``count`` voltage pulses, each followed by a rest at 0 V and a conductance read.

    One period is pulse (``width``) → rest at 0 V (``rest``) → read at
    ``read_voltage`` (``read_width``), so the k-th read (k = 0, 1, …) starts at
    ``k (width + rest + read_width) + width + rest``. The read step (kind
    "read") is where G = I / (V_read − V_oc) is measured at the end of
    ``read_width`` (contract item 6 of this module); it and the pulse and rest
    steps carry ``pulse_number``, ``pulse_index``, ``polarity``, ``phase`` and
    ``cycle``. Paper Fig. 3b: −5 V, 5 ms pulses (LTP), then +5 V (LTD).

    Parameters
    ----------
    amplitude
        Pulse voltage [V], non-zero; its sign is the polarity.
    width
        Pulse duration [s], positive (including the edges when ``rise > 0``).
    rest
        Time at 0 V (voltage-controlled, short circuit) between the pulse and
        the read [s], zero or positive; required because relaxation between
        pulses matters for the physics. Zero omits the rest step.
    count
        Number of pulses (>= 1).
    read_voltage
        Read voltage V_read [V], non-zero.
    read_width
        Read duration [s], positive (default :data:`DEFAULT_READ_WIDTH`, assumed).
    rise
        Linear rise and fall time of each pulse edge [s], zero (square pulse)
        or positive with ``2 rise < width``.
    first_pulse_number
        ``pulse_number`` of the first pulse (>= 1), to continue a numbering.
    phase
        Optional "LTP" or "LTD" tag for every step.
    cycle
        Optional cycle number (>= 1) for every step.

    Returns
    -------
    Protocol
        ``count`` × (pulse, [rest], read) voltage-controlled steps.

    Raises
    ------
    ProtocolError
        On a zero or non-finite amplitude or read voltage, non-positive width or
        read width, negative rest or rise, ``2 rise >= width``, ``count < 1`` or
        invalid metadata.
    """
    amplitude = _nonzero("amplitude", amplitude, "V")
    width = _positive("width", width, "s")
    rest_time = _non_negative("rest", rest, "s")
    count = _count("count", count)
    read_voltage = _nonzero("read_voltage", read_voltage, "V")
    read_width = _positive("read_width", read_width, "s")
    rise = _non_negative("rise", rise, "s")
    if 2.0 * rise >= width:
        raise ProtocolError(f"rise must be shorter than half the pulse width ({width!r} s), got {rise!r} s")
    first = _count("first_pulse_number", first_pulse_number)
    if phase is not None and phase not in PHASES:
        raise ProtocolError(f"phase must be one of {PHASES} or None, got {phase!r}")
    cycle = _optional_count("cycle", cycle)
    polarity = 1 if amplitude > 0 else -1

    steps: list[Step] = []
    for index in range(1, count + 1):
        number = first + index - 1
        meta = dict(pulse_number=number, pulse_index=index, polarity=polarity, phase=phase, cycle=cycle)
        if rise > 0.0:
            pulse = Step.piecewise_linear(
                (0.0, rise, width - rise, width),
                (0.0, amplitude, amplitude, 0.0),
                kind="pulse",
                label=_pulse_label("pulse", number, phase, cycle),
                **meta,
            )
        else:
            pulse = Step.constant(
                "voltage", amplitude, width, kind="pulse", label=_pulse_label("pulse", number, phase, cycle), **meta
            )
        steps.append(pulse)
        if rest_time > 0.0:
            label = _pulse_label("rest", number, phase, cycle)
            steps.append(Step.constant("voltage", 0.0, rest_time, kind="rest", label=label, **meta))
        label = _pulse_label("read", number, phase, cycle)
        steps.append(Step.constant("voltage", read_voltage, read_width, kind="read", label=label, **meta))
    return Protocol(tuple(steps))


def ltp_ltd_cycles(
    amplitude: float,
    width: float,
    rest: float,
    pulses_per_phase: int,
    cycles: int,
    read_voltage: float = DEFAULT_READ_VOLTAGE,
    read_width: float = DEFAULT_READ_WIDTH,
    *,
    rise: float = 0.0,
    ltp_polarity: int = -1,
) -> Protocol:
    """Potentiation then depression pulse trains, repeated (paper Fig. 3b–c).

    Each cycle is ``pulses_per_phase`` LTP pulses of ``ltp_polarity·|amplitude|``
    (negative by default: a negative bias on Pt draws Li⁺ into WO3 and raises
    G) followed by ``pulses_per_phase`` LTD pulses of the opposite
    sign, each with its rest and read as in :func:`pulse_train`.
    ``pulse_number`` runs 1 … 2·pulses_per_phase·cycles across the programme;
    ``pulse_index`` restarts at 1 in each phase; ``phase`` is "LTP"/"LTD" and
    ``cycle`` runs from 1.

    Parameters
    ----------
    amplitude
        Pulse magnitude [V], non-zero (its sign is ignored).
    width, rest, read_voltage, read_width, rise
        As :func:`pulse_train` [s, s, V, s, s].
    pulses_per_phase
        Pulses in each LTP or LTD phase (>= 1).
    cycles
        Number of LTP + LTD cycles (>= 1).
    ltp_polarity
        Sign of the potentiating pulses, -1 (default) or +1.

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        As :func:`pulse_train`; also ``pulses_per_phase < 1``, ``cycles < 1`` or
        ``ltp_polarity`` not ±1.
    """
    magnitude = abs(_nonzero("amplitude", amplitude, "V"))
    pulses_per_phase = _count("pulses_per_phase", pulses_per_phase)
    cycles = _count("cycles", cycles)
    if isinstance(ltp_polarity, bool) or ltp_polarity not in (-1, 1):
        raise ProtocolError(f"ltp_polarity must be -1 or 1, got {ltp_polarity!r}")
    sign = int(ltp_polarity)
    protocol = Protocol()
    number = 1
    for cycle in range(1, cycles + 1):
        for phase, phase_sign in (("LTP", sign), ("LTD", -sign)):
            protocol += pulse_train(
                phase_sign * magnitude,
                width,
                rest,
                pulses_per_phase,
                read_voltage,
                read_width,
                rise,
                first_pulse_number=number,
                phase=phase,
                cycle=cycle,
            )
            number += pulses_per_phase
    return protocol


def cyclic_voltammetry(
    lower: float,
    upper: float,
    rate: float,
    cycles: int = 1,
    start: float | None = None,
    *,
    max_step: float | None = None,
) -> Protocol:
    """Cyclic voltammetry between ``lower`` and ``upper`` at scan rate ``rate``.

    Each cycle goes start → upper → lower → start (with start = lower: lower →
    upper → lower; with start = upper: upper → lower → upper), so it lasts
    2 (upper − lower) / rate and is one step of kind "sweep" labelled
    "CV cycle k".

    Parameters
    ----------
    lower, upper
        Vertex voltages [V], ``lower < upper``.
    rate
        Scan rate ν = |dV/dt| [V/s], positive.
    cycles
        Number of cycles (>= 1).
    start
        Initial voltage [V] in [lower, upper]; None means ``lower``.
    max_step
        Largest suggested time step [s]; None derives it.

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        Non-finite voltages, ``lower >= upper``, ``start`` outside the window,
        a non-positive rate or ``cycles < 1``.
    """
    lower = _finite("lower", lower, "V")
    upper = _finite("upper", upper, "V")
    if lower >= upper:
        raise ProtocolError(f"lower ({lower!r} V) must be below upper ({upper!r} V)")
    begin = lower if start is None else _finite("start", start, "V")
    if not lower <= begin <= upper:
        raise ProtocolError(f"start ({begin!r} V) must lie in [lower, upper] = [{lower!r}, {upper!r}] V")
    if begin == lower:
        vertices = [upper, lower]
    elif begin == upper:
        vertices = [lower, upper]
    else:
        vertices = [upper, lower, begin]
    sweep = voltage_sweep(begin, vertices, rate, cycles, max_step=max_step)
    return Protocol(tuple(replace(step, label=f"CV cycle {step.cycle}") for step in sweep))


def galvanostatic_cycles(
    current: float,
    lower: float,
    upper: float,
    cycles: int = 1,
    rest: float = 0.0,
    *,
    max_step: float | None = None,
) -> Protocol:
    """Galvanostatic charge/discharge (GCD) between voltage limits.

    Each cycle: charge at +|current| until the top-electrode voltage reaches
    ``upper`` (kind "charge", ``limits.upper``), optional open-circuit rest,
    discharge at −|current| until it reaches ``lower`` (kind "discharge",
    ``limits.lower``), optional rest. The charge and discharge steps are
    current-controlled with infinite duration: the loop ends them on
    ``step.crossed(V)``.

    Parameters
    ----------
    current
        Current magnitude [A], non-zero (sign ignored).
    lower, upper
        Voltage limits [V], ``lower < upper``.
    cycles
        Number of charge/discharge cycles (>= 1).
    rest
        Open-circuit time after each charge and each discharge [s], zero
        (no rest steps) or positive.
    max_step
        Largest suggested time step of the charge/discharge steps [s]; None
        leaves ``math.inf`` (no natural time scale: the loop decides).

    Returns
    -------
    Protocol

    Raises
    ------
    ProtocolError
        Zero or non-finite current, non-finite limits, ``lower >= upper``,
        negative rest, ``cycles < 1`` or non-positive max_step.
    """
    magnitude = abs(_nonzero("current", current, "A"))
    lower = _finite("lower", lower, "V")
    upper = _finite("upper", upper, "V")
    if lower >= upper:
        raise ProtocolError(f"lower ({lower!r} V) must be below upper ({upper!r} V)")
    cycles = _count("cycles", cycles)
    rest_time = _non_negative("rest", rest, "s")
    max_step = _optional_max_step(max_step)
    steps: list[Step] = []
    for cycle in range(1, cycles + 1):
        for kind, level, limits in (
            ("charge", magnitude, VoltageLimits(upper=upper)),
            ("discharge", -magnitude, VoltageLimits(lower=lower)),
        ):
            steps.append(
                Step.constant(
                    "current",
                    level,
                    math.inf,
                    kind=kind,
                    limits=limits,
                    cycle=cycle,
                    label=f"{kind} cycle {cycle}",
                    max_step=max_step,
                )
            )
            if rest_time > 0.0:
                label = f"rest after {kind} {cycle}"
                steps.append(Step.constant("current", 0.0, rest_time, kind="rest", cycle=cycle, label=label))
    return Protocol(tuple(steps))


def hold(
    voltage: float,
    duration: float,
    *,
    compliance: float | None = None,
    max_step: float | None = None,
) -> Protocol:
    """Hold the top electrode at ``voltage`` [V] for ``duration`` [s] (kind "hold").

    Parameters
    ----------
    voltage
        Imposed voltage [V].
    duration
        Hold time [s], positive.
    compliance
        Optional current compliance I_cc [A].
    max_step
        Largest suggested time step [s]; None gives ``SEGMENT_FRACTION · duration``.

    Returns
    -------
    Protocol
        One voltage-controlled step.

    Raises
    ------
    ProtocolError
        Non-finite voltage, non-positive or non-finite duration, compliance or
        max_step.
    """
    voltage = _finite("voltage", voltage, "V")
    return Protocol(
        (
            Step.constant(
                "voltage",
                voltage,
                _positive("duration", duration, "s"),
                kind="hold",
                label=f"hold {voltage:g} V",
                compliance=_optional_compliance("compliance", compliance),
                max_step=_optional_max_step(max_step),
            ),
        )
    )


def rest(duration: float, *, max_step: float | None = None) -> Protocol:
    """Open circuit for ``duration`` [s]: a current-controlled step at 0 A (kind "rest").

    The electrode floats: its potential follows from zero total current
    (self-discharge, relaxation, volatile filament dissolution).

    Parameters
    ----------
    duration
        Rest time [s], positive.
    max_step
        Largest suggested time step [s]; None gives ``SEGMENT_FRACTION · duration``.

    Returns
    -------
    Protocol
        One current-controlled step.

    Raises
    ------
    ProtocolError
        Non-positive or non-finite duration or max_step.
    """
    return Protocol(
        (
            Step.constant(
                "current",
                0.0,
                _positive("duration", duration, "s"),
                kind="rest",
                label="open circuit",
                max_step=_optional_max_step(max_step),
            ),
        )
    )


def forming_ramp(
    start: float,
    stop: float,
    rate: float,
    compliance_current: float,
    *,
    max_step: float | None = None,
) -> Protocol:
    """Electroforming: a linear voltage ramp start → stop under a current compliance (paper Fig. 3g).

    I_cc < 100 µA gives the volatile, I_cc >= 500 µA the non-volatile digital
    mode. The step (kind "forming") lasts |stop − start| / rate.

    Parameters
    ----------
    start, stop
        Ramp end points [V], different.
    rate
        Ramp rate |dV/dt| [V/s], positive.
    compliance_current
        Compliance I_cc [A], positive; stored as ``step.compliance``.
    max_step
        Largest suggested time step [s]; None derives it.

    Returns
    -------
    Protocol
        One voltage-controlled step.

    Raises
    ------
    ProtocolError
        Non-finite or equal end points, non-positive rate, compliance or max_step.
    """
    start = _finite("start", start, "V")
    stop = _finite("stop", stop, "V")
    if start == stop:
        raise ProtocolError(f"stop must differ from start ({start!r} V)")
    rate = _positive("rate", rate, "V/s")
    compliance = _positive("compliance_current", compliance_current, "A")
    return Protocol(
        (
            Step.piecewise_linear(
                (0.0, abs(stop - start) / rate),
                (start, stop),
                kind="forming",
                label=f"forming {start:g} V to {stop:g} V, I_cc = {compliance:g} A",
                compliance=compliance,
                max_step=_optional_max_step(max_step),
            ),
        )
    )


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------

_INTEGER = "integer"


@dataclass(frozen=True)
class _Builder:
    function: Callable[..., Protocol]
    required: dict[str, str]  # key -> SI unit, or _INTEGER; a list of quantities for "vertices"
    optional: dict[str, str]

    @property
    def keys(self) -> set[str]:
        return {"kind", "repeat"} | set(self.required) | set(self.optional)


_BUILDERS: dict[str, _Builder] = {
    "voltage_sweep": _Builder(
        voltage_sweep,
        {"start": "V", "vertices": "V", "rate": "V/s"},
        {"cycles": _INTEGER, "compliance": "A", "max_step": "s"},
    ),
    "pulse_train": _Builder(
        pulse_train,
        {"amplitude": "V", "width": "s", "rest": "s", "count": _INTEGER},
        {"read_voltage": "V", "read_width": "s", "rise": "s", "first_pulse_number": _INTEGER},
    ),
    "ltp_ltd_cycles": _Builder(
        ltp_ltd_cycles,
        {"amplitude": "V", "width": "s", "rest": "s", "pulses_per_phase": _INTEGER, "cycles": _INTEGER},
        {"read_voltage": "V", "read_width": "s", "rise": "s", "ltp_polarity": _INTEGER},
    ),
    "cyclic_voltammetry": _Builder(
        cyclic_voltammetry,
        {"lower": "V", "upper": "V", "rate": "V/s"},
        {"cycles": _INTEGER, "start": "V", "max_step": "s"},
    ),
    "galvanostatic_cycles": _Builder(
        galvanostatic_cycles,
        {"current": "A", "lower": "V", "upper": "V"},
        {"cycles": _INTEGER, "rest": "s", "max_step": "s"},
    ),
    "hold": _Builder(hold, {"voltage": "V", "duration": "s"}, {"compliance": "A", "max_step": "s"}),
    "rest": _Builder(rest, {"duration": "s"}, {"max_step": "s"}),
    "forming_ramp": _Builder(
        forming_ramp,
        {"start": "V", "stop": "V", "rate": "V/s", "compliance_current": "A"},
        {"max_step": "s"},
    ),
}
PROTOCOL_KINDS: tuple[str, ...] = tuple(_BUILDERS)
_LIST_KEYS = {"vertices"}


def protocol_from_config(
    table: Mapping[str, Any] | Sequence[Mapping[str, Any]],
    origin: str = "<config>",
    *,
    name: str = "protocol",
) -> Protocol:
    """Build a protocol from a TOML table, or concatenate a list of them.

    Each table names a builder with ``kind`` (one of :data:`PROTOCOL_KINDS`)
    and gives its arguments; quantities are strings with units converted to SI
    by :func:`femion.units.to_si`, counts are integers, ``vertices`` is a list
    of voltages, and the optional ``repeat`` (integer >= 1) repeats the block::

        [[protocol]]
        kind = "pulse_train"
        amplitude = "-5 V"
        width = "5 ms"
        rest = "100 ms"
        count = 20

        [[protocol]]
        kind = "voltage_sweep"
        start = "0 V"
        vertices = ["-5 V", "0 V", "5 V", "0 V"]
        rate = "1 V/s"

    Parameters
    ----------
    table
        One table (mapping) or a non-empty list of tables, as read by tomllib.
    origin
        File or context the table came from (used in error messages).
    name
        Key of the table in its file (used in error messages, e.g.
        ``'protocol[1].width'``).

    Returns
    -------
    Protocol

    Raises
    ------
    UnitError
        A quantity with a missing, unknown or wrong unit (names key and origin).
    ProtocolError
        A missing or unknown ``kind`` (lists the allowed kinds), unknown keys
        (lists the allowed keys), missing keys, a non-integer count, or an
        argument the builder rejects (names key and origin).
    """
    if isinstance(table, Mapping):
        entries = [(name, table)]
    elif isinstance(table, (list, tuple)):
        if not table:
            raise ProtocolError(f"{origin}: {name!r} is an empty list; give at least one protocol table")
        entries = [(f"{name}[{index}]", entry) for index, entry in enumerate(table)]
    else:
        raise ProtocolError(f"{origin}: {name!r} must be a table or a list of tables, got {type(table).__name__}")
    protocol = Protocol()
    for prefix, entry in entries:
        protocol += _protocol_from_table(entry, prefix, origin)
    return protocol


def _protocol_from_table(entry: Any, prefix: str, origin: str) -> Protocol:
    def fail(message: str) -> ProtocolError:
        return ProtocolError(f"{origin}: {message}")

    if not isinstance(entry, Mapping):
        raise fail(f"{prefix!r} must be a table, got {type(entry).__name__}")
    if "kind" not in entry:
        raise fail(f"missing key {prefix + '.kind'!r}; allowed kinds: {list(PROTOCOL_KINDS)}")
    kind = entry["kind"]
    if kind not in _BUILDERS:
        raise fail(f"{prefix + '.kind'!r} = {kind!r} is unknown; allowed kinds: {list(PROTOCOL_KINDS)}")
    builder = _BUILDERS[kind]
    unknown = sorted(set(entry) - builder.keys)
    if unknown:
        dotted = [f"{prefix}.{key}" for key in unknown]
        raise fail(f"unknown key(s) {dotted} for kind {kind!r}; allowed: {sorted(builder.keys)}")
    missing = [key for key in builder.required if key not in entry]
    if missing:
        raise fail(f"missing key(s) {[f'{prefix}.{key}' for key in missing]} for kind {kind!r}")

    def integer(key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise fail(f"{prefix + '.' + key!r} must be an integer, got {value!r}")
        return value

    arguments: dict[str, Any] = {}
    for key, unit in {**builder.required, **builder.optional}.items():
        if key not in entry:
            continue
        value = entry[key]
        dotted = f"{prefix}.{key}"
        if unit == _INTEGER:
            arguments[key] = integer(key, value)
        elif key in _LIST_KEYS:
            if not isinstance(value, (list, tuple)) or not value:
                raise fail(f"{dotted!r} must be a non-empty list of quantities like [\"-5 V\", \"0 V\"]")
            arguments[key] = [to_si(item, unit, name=f"{dotted}[{i}]", origin=origin) for i, item in enumerate(value)]
        else:
            arguments[key] = to_si(value, unit, name=dotted, origin=origin)
    repeat = integer("repeat", entry["repeat"]) if "repeat" in entry else 1
    if repeat < 1:
        raise fail(f"{prefix + '.repeat'!r} must be at least 1, got {repeat}")
    try:
        protocol = builder.function(**arguments)
    except ProtocolError as error:
        raise fail(f"{prefix!r} (kind {kind!r}): {error}") from None
    return protocol * repeat


def read_step(voltage: float, width: float) -> Protocol:
    """A single conductance read at ``voltage`` [V] for ``width`` [s] (e.g. the pristine read before a pulse train).

    Returns
    -------
    Protocol
        One constant-voltage step of kind "read".
    """
    return Protocol((Step.constant("voltage", voltage, width, kind="read", label="pristine read"),))
