"""studies/analog_pulses: helper checks (fast) and the quick run against expected.json,
a regression snapshot of the model's own output (slow: minutes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "analog_pulses"


def test_read_step_is_a_single_read():
    _, module = load_study(STUDY)
    from femion.protocols import read_step

    protocol = read_step(0.1, 1e-3)
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
        assert {"G", "G_raw", "current", "pulse_number", "open_circuit_voltage", "phase", "cycle", "amplitude"} <= set(data.variables)
        assert data.G.attrs["units"] == "S"
        # G is I/(V_read - V_oc), G_raw is I/V_read, from the stored current and emf
        np.testing.assert_allclose(data.G.values, data.current.values / (data.read_voltage.values - data.open_circuit_voltage.values), rtol=1e-12)
        np.testing.assert_allclose(data.G_raw.values, data.current.values / data.read_voltage.values, rtol=1e-12)
    with xr.open_dataset(tmp_path / "read_times.nc") as data:
        main = int(np.argmin(np.abs(data.read_time.values - 1e-3)))
        with xr.open_dataset(tmp_path / "pulses.nc") as pulses:
            np.testing.assert_array_equal(data.G.values[:, main], pulses.G.values)  # the 1 ms column is the main read
    assert set(summary["sensitivity"]) == set(module.SENSITIVITY)
    for name in ("curves.nc", "read_times.nc", "sensitivity.nc", "li_maps.npz", "li_after_LTP.vtu", "summary.json", "findings.md", "run.json"):
        assert (tmp_path / name).is_file(), name
