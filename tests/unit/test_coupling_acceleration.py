"""Anderson acceleration of the coupling iterations (femion.coupling.coupled_step).

Two modules exchange fields through a linear map whose Picard contraction per
sweep is c1·c2 = 0.98: plain iteration needs ~ln(1e-10)/ln(0.98) ≈ 1100
sweeps to reach a 1e-10 change, Anderson mixing solves a linear fixed point of
n unknowns in at most n + 1 (here 2 per cell) iterations once it starts. The fixed point is
known in closed form: a* = (c1 s2 + s1)/(1 − c1 c2), b* = c2 a* + s2.
"""

from __future__ import annotations

import numpy as np
import pytest

from femion.coupling import CouplingError, ModuleReport, State, coupled_step

C1, C2, S1, S2 = 0.98, 1.0, 1.0, 0.5


class _Linear:
    def __init__(self, name, owns, reads, gain, offset):
        self.name, self.owns, self.reads, self.gain, self.offset = name, (owns,), (reads,), gain, offset

    def initialize(self, state):
        state.fields.setdefault(self.owns[0], np.zeros(3))

    def advance(self, state, dt, start):
        state.fields[self.owns[0]] = self.gain * state.fields[self.reads[0]] + self.offset * np.arange(1.0, 4.0)
        return ModuleReport()


def _modules():
    return [_Linear("a", "a", "b", C1, S1), _Linear("b", "b", "a", C2, S2)]


def _start():
    state = State(fields={"a": np.zeros(3), "b": np.zeros(3)})
    return state


def test_anderson_reaches_the_fixed_point_where_picard_stalls():
    exact_a = (C1 * S2 + S1) / (1.0 - C1 * C2) * np.arange(1.0, 4.0)
    with pytest.raises(CouplingError, match="did not converge in 20"):
        coupled_step(_modules(), _start(), 1.0, 0.0, tolerance=1e-10, acceleration=0)
    state, outcome = coupled_step(_modules(), _start(), 1.0, 0.0, tolerance=1e-10, acceleration=5, acceleration_start=1)
    assert outcome.iterations <= 6
    delayed, late = coupled_step(_modules(), _start(), 1.0, 0.0, tolerance=1e-10)  # default: plain for 6 sweeps first
    assert late.iterations <= 6 + 6
    np.testing.assert_allclose(delayed.fields["a"], exact_a, rtol=1e-9)
    np.testing.assert_allclose(state.fields["a"], exact_a, rtol=1e-9)
    np.testing.assert_allclose(state.fields["b"], C2 * exact_a + S2 * np.arange(1.0, 4.0), rtol=1e-9)


def test_fields_of_a_non_smooth_module_are_not_mixed():
    """A module with smooth_coupling = False (mechanics) is iterated plainly: here it stalls like Picard."""
    modules = _modules()
    modules[0].smooth_coupling = False
    modules[1].smooth_coupling = False
    with pytest.raises(CouplingError, match="did not converge in 20"):
        coupled_step(modules, _start(), 1.0, 0.0, tolerance=1e-10, acceleration=5, acceleration_start=1)


def test_a_mixed_iterate_outside_the_sign_range_is_not_used():
    """Fields that stay non-negative under G are never extrapolated below zero (G itself is taken)."""
    from femion.coupling import _Anderson

    mixer = _Anderson(3)
    floors = {}
    assert mixer.mix({"c": np.array([1.0])}, {"c": np.array([0.5])}, floors) == {}  # first iterate: no history yet
    mixed = mixer.mix({"c": np.array([0.5])}, {"c": np.array([0.1])}, floors)  # residuals -0.5, -0.4: extrapolates to -1.5
    assert mixed == {}
