"""studies/volatile_switching: helper checks (fast) and the quick run against expected.json,
a regression snapshot of the model's own output (slow: ~17 min, forming and sweeps under compliance at local-error tolerance 1e-2)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femion.config import load_study
from femion.switching import switching_sweep

STUDY = Path(__file__).resolve().parents[2] / "studies" / "volatile_switching"


def test_threshold_switch_figures_of_a_synthetic_hysteresis():
    up = np.linspace(0.0, 10.0, 101)
    down = up[::-1][1:]
    v = np.concatenate([up, down])
    off, cc = 1e-8 * v, 5e-5
    i = np.where(np.concatenate([up >= 4.0, down >= 2.0]), cc, off)  # jumps at 4 V, drops below 2 V
    figures = switching_sweep(v, i, cc, level=0.5)
    assert 3.9 < figures.v_th <= 4.0 and 1.9 <= figures.v_hold < 2.0
    assert figures.selectivity == pytest.approx(cc / (1e-8 * figures.read_voltage), rel=0.05)


def test_half_relaxation_time_of_an_exponential():
    _, module = load_study(STUDY)
    t = np.linspace(0.0, 10.0, 10001)
    assert module.half_relaxation_time(t, 1e-9 + 1e-6 * np.exp(-t / 2.0), 1e-9) == pytest.approx(2.0 * np.log(2.0), rel=1e-6)
    assert np.isnan(module.half_relaxation_time(t, np.full_like(t, 1e-6), 1e-9))


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert (tmp_path / "sweeps.nc").is_file() and (tmp_path / "relax.nc").is_file()
