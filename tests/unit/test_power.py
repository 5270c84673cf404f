"""femion.power: the reduced-Li start state and the discharge shape, against exact scaling and closed forms."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.mesh import build_mesh
from femion.power import discharge_shape, gcd_protocol, host_mask, reduced_state
from femion.simulation import SimulationSettings


def test_discharge_shape_of_a_line_and_of_a_plateau():
    t = np.linspace(0.0, 10.0, 50)
    line = discharge_shape(t, 3.0 - 0.2 * t)
    assert line["r_squared"] == pytest.approx(1.0, abs=1e-12) and line["dvdt_spread"] == pytest.approx(0.0, abs=1e-12)
    bent = discharge_shape(t, np.where(t < 5.0, 3.0 - 0.5 * t, 0.5 - 0.01 * (t - 5.0)))
    assert bent["r_squared"] < 0.95 and bent["dvdt_spread"] > 0.5
    with pytest.raises(ValueError):
        discharge_shape(t[:2], t[:2])


def test_reduced_state_scales_exactly_the_host_li():
    device = femion.load_device()
    settings = SimulationSettings(mesh=femion.QUICK_MESH)
    mesh = build_mesh(device, settings=settings.mesh)
    full = reduced_state(device, mesh, settings, 0.0).fields["c_li"]
    cut = reduced_state(device, mesh, settings, 0.75).fields["c_li"]
    hosts = host_mask(mesh, device)
    assert np.array_equal(hosts, mesh.region_mask("WO3") | mesh.region_mask("MoO3"))
    assert np.allclose(cut[hosts], 0.25 * full[hosts], rtol=1e-15, atol=0.0)
    assert np.array_equal(cut[~hosts], full[~hosts])  # LiPON keeps c0
    with pytest.raises(ValueError, match="reduction"):
        reduced_state(device, mesh, settings, 1.0)


def test_gcd_protocol_charges_to_minus_the_window_and_discharges_to_zero():
    protocol = gcd_protocol(-2e-6, -3.5)  # magnitudes are taken
    charge, discharge = protocol.steps
    assert charge.kind == "charge" and charge.limits.lower == -3.5
    assert discharge.kind == "discharge" and discharge.limits.upper == 0.0
