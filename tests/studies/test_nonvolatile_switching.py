"""studies/nonvolatile_switching: the bipolar-cycle figures (fast) and the quick run against expected.json,
a regression snapshot of the model's own output (slow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from femion.config import load_study
from femion.switching import backward_resistance, bipolar_cycle

STUDY = Path(__file__).resolve().parents[2] / "studies" / "nonvolatile_switching"


def synthetic_cycle():
    """1 kOhm after the set at +2 V until the reset at -1.5 V, 1 MOhm otherwise; compliance 2 mA."""
    legs = [np.linspace(0, 3, 61), np.linspace(3, 0, 61)[1:], np.linspace(0, -3, 61)[1:], np.linspace(-3, 0, 61)[1:]]
    v = np.concatenate(legs)
    on = np.concatenate([legs[0] >= 2.0, np.ones(60, bool), legs[2] > -1.5, np.zeros(60, bool)])
    return v, np.clip(np.where(on, v / 1e3, v / 1e6), -2e-3, 2e-3)


def test_bipolar_cycle_figures_of_a_synthetic_cycle():
    v, i = synthetic_cycle()
    row = bipolar_cycle(v, i, compliance=2e-3, read=0.2, level=0.5)
    assert 1.95 <= row.v_set <= 2.0  # |I| jumps from 2 uA to 2 mA between 1.95 and 2.0 V
    assert row.v_reset == pytest.approx(-1.45, abs=1e-12)  # last on-point before the drop
    assert row.lrs == pytest.approx(1e3, rel=1e-9) and row.hrs == pytest.approx(1e6, rel=1e-9)


def mirrored_cycle():
    """The synthetic cycle with the halves' roles swapped: the positive half resets (on until +1.5 V), the negative sets (at -2 V)."""
    v, i = synthetic_cycle()
    split = int(np.flatnonzero(v < 0)[0])
    positive, negative = slice(0, split), slice(split - 1, None)
    return np.concatenate([-v[negative], -v[positive][1:]]), np.concatenate([-i[negative], -i[positive][1:]])


def test_set_polarity_of_the_synthetic_cycle_and_its_mirror():
    _, module = load_study(STUDY)
    v, i = synthetic_cycle()
    positive, negative = module.hysteresis_ratios(v, i, 1.0)
    assert positive == pytest.approx(1e3, rel=1e-9) and negative == pytest.approx(1e-3, rel=1e-9)  # + half sets, - half resets
    mv, mi = mirrored_cycle()
    positive, negative = module.hysteresis_ratios(mv, mi, 1.0)
    assert positive == pytest.approx(1e-3, rel=1e-9) and negative == pytest.approx(1e3, rel=1e-9)
    direct, flipped = bipolar_cycle(v, i, 2e-3, 0.2), bipolar_cycle(mv, mi, 2e-3, 0.2, set_polarity=-1)
    assert flipped.v_set == pytest.approx(-direct.v_set, abs=1e-12) and flipped.v_reset == pytest.approx(-direct.v_reset, abs=1e-12)
    assert flipped.lrs == pytest.approx(1e3, rel=1e-9) and flipped.hrs == pytest.approx(1e6, rel=1e-9)
    with pytest.raises(ValueError, match="outside"):
        module.hysteresis_ratios(v, i, 5.0)


def test_no_reset_without_a_current_drop_and_bad_input():
    v, _ = synthetic_cycle()
    row = bipolar_cycle(v, v / 1e3, compliance=1e-2, read=0.2)  # a plain resistor: no set crossing, no reset
    assert np.isnan(row.v_set) and np.isnan(row.v_reset)
    assert row.lrs == pytest.approx(1e3) and row.hrs == pytest.approx(1e3)
    with pytest.raises(ValueError, match="negative half"):
        bipolar_cycle(np.abs(v), v, 1e-3, 0.2)
    with pytest.raises(ValueError, match="read non-zero"):
        backward_resistance(v, v, 0.0)


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert (tmp_path / "sweeps.nc").is_file() and (tmp_path / "cycles.nc").is_file()
