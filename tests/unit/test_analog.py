"""femion.analog: pulse-train helpers and figures on synthetic reads (known NeuroSim constants, windows, variation)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from femion.analog import HOSTS, PulseTrain, branch_metrics, host_variant, read_time_key, train_figures, window
from femion.config import load_device


def neurosim(p: np.ndarray, a: float, g0: float, g1: float) -> np.ndarray:
    """G(p) = G0 + (G1 - G0)(1 - e^{-p/A})/(1 - e^{-1/A}) on p in [0, 1] (Chen, Peng & Yu 2018)."""
    return g0 + (g1 - g0) * (1 - np.exp(-p / a)) / (1 - np.exp(-1 / a))


def test_branch_metrics_recovers_neurosim_constant():
    p = np.linspace(0.0, 1.0, 12)
    a = 0.3
    g = neurosim(p, a, 1e-6, 6e-6)
    assert branch_metrics(g, "LTP")["a"] == pytest.approx(a, rel=1e-6)
    # a branch going the wrong way is not fitted as the expected direction
    assert math.isnan(branch_metrics(g[::-1], "LTP")["a"])
    assert math.isnan(branch_metrics(g[:2], "LTP")["a"])


def test_read_time_key_and_window():
    assert read_time_key(1e-4) == "0.1ms" and read_time_key(1e-2) == "10ms"
    assert window(np.array([1e-6, 4e-6])) == pytest.approx(4.0)
    assert math.isnan(window(np.array([1e-6, -1e-7])))  # a read current against V_read - V_oc: no ratio


def test_host_variant_scales_both_hosts(tmp_path):
    device = load_device()
    variant = host_variant(device, {"double_layer_capacitance": 0.1, "polaron_conductivity": 0.0}, tmp_path)
    for host in HOSTS:
        before, after = device.material(host), variant.material(host)
        assert after.value("double_layer_capacitance") == pytest.approx(0.1 * before.value("double_layer_capacitance"), rel=1e-12)
        assert after.value("polaron_conductivity") == 0.0
        assert after.value("exchange_current_density") == before.value("exchange_current_density")


def test_train_figures_of_synthetic_reads():
    """Two cycles of NeuroSim branches with known A and end points: the figures are those of the construction."""
    n, a_ltp, a_ltd = 10, 0.4, 0.25
    p = np.linspace(0.0, 1.0, n)  # the pulse axis of femion.observables.fit_nonlinearity: (P - 1)/(n - 1)
    g_min, tops = 1e-6, (5e-5, 4e-5)  # G_max of cycle 1 and 2; every LTD branch returns to g_min
    g, phase, cycle = [g_min], ["pristine"], [0]
    for c, top in enumerate(tops, start=1):
        g += list(neurosim(p, a_ltp, g_min, top)) + list(neurosim(p, a_ltd, top, g_min))
        phase += ["LTP"] * n + ["LTD"] * n
        cycle += [c] * 2 * n
    g = np.array(g)
    emf = np.linspace(0.05, 0.02, g.size)
    reads = xr.Dataset({"G": ("read", g), "G_raw": ("read", 2.0 * g), "phase": ("read", phase), "cycle": ("read", cycle),
                        "open_circuit_voltage": ("read", emf)})
    figures = train_figures(reads)
    assert figures["G_max_over_G_min"] == pytest.approx(5e-5 / g_min, rel=1e-12)
    assert figures["G_raw_max_over_G_min"] == pytest.approx(5e-5 / g_min, rel=1e-12)
    assert figures["G_max_per_cycle_S"] == pytest.approx(list(tops), rel=1e-12)
    assert figures["G_min_per_cycle_S"] == pytest.approx([g_min, g_min], rel=1e-12)
    assert figures["ltp_rises"] and figures["ltd_falls"]
    assert figures["nonlinearity_A_LTP_per_cycle"] == pytest.approx([a_ltp, a_ltp], rel=1e-6)
    assert figures["nonlinearity_A_LTD"] == pytest.approx(a_ltd, rel=1e-6)
    assert figures["c2c_variation_G_max"] == pytest.approx(np.std(tops, ddof=1) / np.mean(tops), rel=1e-12)  # sample std
    assert figures["c2c_variation_G_min"] == pytest.approx(0.0, abs=1e-12)
    assert figures["G_LTP_first_cycle_S"][0] == g_min and len(figures["G_LTP_first_cycle_S"]) == n + 1
    assert figures["open_circuit_voltage_first_read_V"] == 0.05 and figures["open_circuit_voltage_last_read_V"] == pytest.approx(0.02)
    pristine = train_figures(reads.isel(read=[0]))
    assert math.isnan(pristine["G_max_over_G_min"]) and not pristine["ltp_rises"]


def test_pulse_train_from_config_names_bad_keys():
    config = {"amplitude": "-5 V", "pulse_width": "5 ms", "pulse_rest": "10 ms", "read_voltage": "0.1 V",
              "read_width": "1 ms", "pulses_per_phase": 20}
    train = PulseTrain.from_config(config, "pulses_per_phase", "c.toml")
    assert train == PulseTrain(5.0, 5e-3, 1e-2, 0.1, 1e-3, 20)  # the magnitude of the amplitude
    with pytest.raises(ValueError, match="c.toml: 'amplitude' must not be 0 V"):
        PulseTrain.from_config({**config, "amplitude": "0 V"}, "pulses_per_phase", "c.toml")
    with pytest.raises(ValueError, match="read_voltage"):
        PulseTrain.from_config({**config, "read_voltage": "0 V"}, "pulses_per_phase", "c.toml")
    with pytest.raises(ValueError, match="pulses_per_phase"):
        PulseTrain.from_config({**config, "pulses_per_phase": 2}, "pulses_per_phase", "c.toml")
