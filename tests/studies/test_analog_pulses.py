"""studies/analog_pulses: helper checks (fast) and the quick run against expected.json,
a regression snapshot of the model's own output (slow: minutes)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.cli import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "analog_pulses"


def test_branch_metrics_recovers_neurosim_constant():
    _, module = load_study(STUDY)
    p = np.linspace(0.0, 1.0, 12)
    a = 0.3
    g = 1e-6 + 5e-6 * (1 - np.exp(-p / a)) / (1 - np.exp(-1 / a))
    assert module.branch_metrics(g, "LTP")["a"] == pytest.approx(a, rel=1e-6)
    # a branch going the wrong way is not fitted as the expected direction
    assert math.isnan(module.branch_metrics(g[::-1], "LTP")["a"])
    assert math.isnan(module.branch_metrics(g[:2], "LTP")["a"])


def test_read_step_is_a_single_read():
    _, module = load_study(STUDY)
    protocol = module.read_step(0.1, 1e-3)
    assert len(protocol) == 1 and protocol[0].kind == "read" and protocol[0].end_value == 0.1


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    # paper Fig. 3b: G rises under negative pulses and falls under positive ones
    assert summary["ltp_rises"]
    assert summary["ltd_falls"]
    with xr.open_dataset(tmp_path / "pulses.nc") as data:
        assert {"G", "pulse_number", "open_circuit_voltage", "phase", "cycle", "amplitude"} <= set(data.variables)
        assert data.G.attrs["units"] == "S"
    for name in ("curves.nc", "li_maps.npz", "li_after_LTP.vtu", "summary.json", "findings.md", "run.json"):
        assert (tmp_path / name).is_file(), name
