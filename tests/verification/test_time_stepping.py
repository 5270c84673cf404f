"""Local-error control of the time loop (``SimulationSettings.error_tolerance``) on an analytic decay.

A module owning one field x with dx/dt = −x/τ, stepped by implicit Euler,
driven through :class:`femion.Simulation`. Theory (simulation module
docstring): the estimate of the local error is x'' dt²/2 = x h²/2 (h = dt/τ),
the controller settles where that equals 0.81 ε x, so h = (1.62 ε)^½ and
after T the relative global error of implicit Euler is (T/τ) h/2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import femion
from femion.coupling import ModuleReport
from femion.protocols import hold
from femion.simulation import Simulation, SimulationError, SimulationSettings

TAU = 1.0e-3
DURATION = 5.0 * TAU


class Decay:
    """dx/dt = −x/τ on every cell, one implicit-Euler step per advance."""

    name = "decay"
    owns = ("x",)

    def __init__(self, n_cells: int):
        self.n_cells = n_cells

    def initialize(self, state) -> None:
        state.fields["x"] = np.ones(self.n_cells)
        state.current = 0.0

    def advance(self, state, dt, start):
        state.fields["x"] = start.fields["x"] / (1.0 + dt / TAU)
        state.current = 0.0
        return ModuleReport(converged=True, iterations=1, residual=0.0)


def run(tolerance: float | None, max_step: float = DURATION):
    device = femion.load_device()
    settings = SimulationSettings(error_tolerance=tolerance, first_step=1e-3 * TAU, growth=2.0)
    simulation = Simulation(device, hold(0.0, DURATION, max_step=max_step), settings, physics=())
    simulation.modules = [Decay(simulation.mesh.n_cells)]
    result = simulation.run(None, progress=False)
    x = float(result.state.fields["x"][0])
    return abs(x / math.exp(-DURATION / TAU) - 1.0), len(result.curves.time) - 1


@pytest.mark.parametrize("tolerance", [1e-3, 1e-4])
def test_global_error_follows_the_controlled_step(tolerance):
    error, steps = run(tolerance)
    h = math.sqrt(1.62 * tolerance)
    predicted = (DURATION / TAU) * h / 2.0
    # The first steps (start at 1e-3 τ, growth 2) are shorter than the settled step: they add little error.
    assert error == pytest.approx(predicted, rel=0.05)
    assert steps == pytest.approx(DURATION / TAU / h, rel=0.05)


def test_error_falls_as_the_square_root_of_the_tolerance():
    coarse, _ = run(1e-3)
    fine, _ = run(1e-5)
    assert coarse / fine == pytest.approx(10.0, rel=0.05)


def test_without_control_the_step_only_grows():
    error, steps = run(None)
    # first step 1e-3 τ doubling up to the end: a handful of steps and an O(1) error
    assert steps < 15
    assert error > 0.1


def test_bad_tolerance_is_rejected():
    with pytest.raises(ValueError, match="error_tolerance"):
        SimulationSettings(error_tolerance=-1.0)
    with pytest.raises(ValueError, match="error_tolerance"):
        SimulationSettings(error_tolerance=float("nan"))


def test_unreachable_tolerance_names_the_time():
    device = femion.load_device()
    settings = SimulationSettings(error_tolerance=1e-30, first_step=1e-3 * TAU, min_step_fraction=1e-6)
    simulation = Simulation(device, hold(0.0, DURATION, max_step=DURATION), settings, physics=())
    simulation.modules = [Decay(simulation.mesh.n_cells)]
    with pytest.raises(SimulationError, match="local error"):
        simulation.run(None, progress=False)
