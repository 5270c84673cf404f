"""The coupled time step: state, the physics-module interface, operator order.

Every physics module plugs into the loop through one small interface,
:class:`PhysicsModule`: the fields it **owns** (writes), the fields it **reads**,
``initialize(state)`` to put its initial fields into the state, and
``advance(state, dt)`` to move its fields from t to t + dt given the others,
returning a :class:`ModuleReport`. A module that changes the electrical
conductivity also implements ``conductivity(state, kappa)``, adding its
contribution in place. Adding a physics means writing such a module and
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
3. repeat 1–2 (Picard) until the relative change of φ and of every owned field
   is below ``tolerance``, at most ``max_iterations`` times.

A module that fails (raises ``FloatingPointError``/``ArithmeticError`` or
reports non-convergence), or a Picard loop that does not converge, rejects the
step: the caller restores the state and retries with a smaller dt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

__all__ = ["CouplingError", "ModuleReport", "PhysicsModule", "State", "StepOutcome", "coupled_step"]


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
    """

    time: float = 0.0
    voltage: float = 0.0
    current: float = 0.0
    fields: dict[str, np.ndarray] = field(default_factory=dict)

    def copy(self) -> State:
        """A deep copy (for step rejection)."""
        return State(self.time, self.voltage, self.current, {k: v.copy() for k, v in self.fields.items()})


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
    """

    iterations: int
    change: float
    reports: dict[str, ModuleReport]


def _relative_change(new: dict[str, np.ndarray], old: dict[str, np.ndarray]) -> float:
    change = 0.0
    for name, values in new.items():
        scale = max(float(np.max(np.abs(values))), float(np.max(np.abs(old[name]))), 1e-300)
        change = max(change, float(np.max(np.abs(values - old[name]))) / scale)
    return change


def coupled_step(
    modules: list[PhysicsModule],
    start: State,
    dt: float,
    voltage: float,
    *,
    tolerance: float = 1e-6,
    max_iterations: int = 20,
) -> tuple[State, StepOutcome]:
    """Advance all modules from ``start`` by ``dt`` with the top electrode at ``voltage``.

    Parameters
    ----------
    modules
        Modules in operator order; the first is the electrostatics module.
    start
        State at t (not modified).
    dt
        Time step [s].
    voltage
        Top-electrode voltage at t + dt [V].
    tolerance, max_iterations
        Picard convergence control.

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
    state = start.copy()
    state.time = start.time + dt
    state.voltage = float(voltage)
    owned = [name for module in modules for name in module.owns]
    change, reports = np.inf, {}
    for iteration in range(1, max_iterations + 1):
        before = {name: state.fields[name].copy() for name in owned}
        for module in modules:
            report = module.advance(state, dt, start)
            reports[module.name] = report
            if not report.converged:
                raise CouplingError(f"module {module.name!r} did not converge (residual {report.residual:.3g})")
        change = _relative_change({name: state.fields[name] for name in owned}, before)
        if change < tolerance or len(modules) == 1:
            return state, StepOutcome(iteration, change, reports)
    raise CouplingError(f"coupling iterations did not converge in {max_iterations} (change {change:.3g})")
