"""studies/analog_iv: helper checks (fast) and the quick run against expected.json,
a regression snapshot of the model's own output (slow: minutes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "analog_iv"


def test_loop_area_of_a_resistor_and_of_a_capacitor():
    _, module = load_study(STUDY)
    t = np.linspace(0.0, 4.0, 4001)
    v = np.interp(t, [0, 1, 2, 3, 4], [0, -1, 0, 1, 0])  # 1 V/s triangular sweep
    assert module.loop_area(v, v / 1e3) == pytest.approx(0.0, abs=1e-12)  # a resistor encloses nothing
    # a capacitor C at |dV/dt| = 1 V/s: I = C dV/dt, the loop encloses 2 C per 1 V excursion and back
    capacitance = 2e-9
    current = capacitance * np.gradient(v, t)
    assert abs(module.loop_area(v, current)) == pytest.approx(4 * capacitance, rel=1e-2)


def test_vertex_current_picks_the_vertex():
    _, module = load_study(STUDY)
    v = np.array([0.0, -0.5, -1.0, -0.5, 0.0])
    i = np.array([0.0, -1.0, -3.0, -1.5, 0.2])
    assert module.vertex_current(v, i, -1.0) == -3.0


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for tag in ("5V", "0.5V"):
        assert (tmp_path / f"iv_{tag}.nc").is_file()
        with xr.open_dataset(tmp_path / f"iv_{tag}.nc") as data:
            assert data.voltage.attrs["units"] == "V" and data.current.attrs["units"] == "A"
