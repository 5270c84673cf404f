"""studies/retention: read schedule, failure criterion, Arrhenius extrapolation (fast); the quick run against
expected.json, a regression snapshot of the model's own output (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femion.config import load_study
from femion.constants import BOLTZMANN, EV

STUDY = Path(__file__).resolve().parents[2] / "studies" / "retention"


@pytest.fixture(scope="module")
def module():
    return load_study(STUDY)[1]


def test_read_schedule_and_protocol(module):
    times = module.read_times(1e-2, 1e5, 2)
    assert len(times) == 15 and times[0] == pytest.approx(1e-2) and times[-1] == pytest.approx(1e5)
    assert np.allclose(np.diff(np.log10(times)), 0.5)
    protocol = module.retention_protocol(times, 0.1, 1e-3, 4)
    reads = [step for step in protocol if step.kind == "read"]
    ends = np.cumsum([step.duration for step in protocol])
    assert len(reads) == len(times)
    assert np.allclose(ends[1::2], times, rtol=1e-12)  # every read ends at its read time
    with pytest.raises(ValueError, match="overlap"):
        module.retention_protocol(np.array([1e-3, 1.5e-3]), 0.1, 1e-3, 4)


def test_failure_time_of_an_exponential_decay(module):
    t = np.logspace(-2, 5, 71)
    g = 1e-3 * np.exp(-t / 100.0)
    expected = 100.0 * np.log(2.0) + 1e-2  # G/G_0 = exp(-(t - t_0)/100) = 1/2
    assert module.failure_time(t, g, 2.0) == pytest.approx(expected, rel=0.02)  # log-t interpolation between reads
    assert np.isnan(module.failure_time(t, np.full_like(t, 1e-3), 2.0))
    assert module.window_failure_time(t, np.full_like(t, 1e-3), np.full_like(t, 1e-3), 2.0) == t[0]


def test_arrhenius_extrapolation_recovers_a_barrier(module):
    temperature = np.array([350.0, 400.0, 450.0])
    times = 1e-9 * np.exp(0.8 * EV / (BOLTZMANN * temperature))
    energy, at_room = module.arrhenius_extrapolation(temperature, times)
    assert energy == pytest.approx(0.8, rel=1e-9)
    assert at_room == pytest.approx(1e-9 * np.exp(0.8 * EV / (BOLTZMANN * 300.0)), rel=1e-9)
    assert all(np.isnan(module.arrhenius_extrapolation(temperature, [np.nan, np.nan, 1.0])))


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected, module):
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert (tmp_path / "retention.nc").is_file()
