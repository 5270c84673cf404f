"""The paper's analog pulses with every module on (electrostatics, lithium, mechanics, air, vacancy, thermal).

Paper (Fig. 3b): −5 V / +5 V, 5 ms pulses move Li and leave the device analog; they do not form a V_O
filament, which takes a compliance ramp to ~5–8 V (Fig. 3g). Before the vacancy module read each film's bulk
field (femion.fvm.layerwise_gradient), the double-layer jump of the electrolyte potential at the LiPON|MoO3
interface counted as 5·10⁷ V/m and the first −5 V pulse ran away thermally within 0.1 ms (|I| > 1 kA). This
test asserts the statement, not a snapshot: one −5 V and one +5 V pulse with reads, quick mesh, every module
on, run to the end with |I| below 1 mA (the analog read currents are ~70 µA), the V_O inventory below twice its
initial value (a 50 µA forming ramp multiplies it by ~7, studies/forming; measured here: ×1.21 after the pulse
pair, 2026-12-04) and the temperature rise below 50 K.
"""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.protocols import pulse_train
from femion.simulation import PHYSICS, Simulation, SimulationSettings


@pytest.mark.slow
def test_analog_pulses_do_not_form_the_device_with_every_module():
    device = femion.load_device()
    protocol = pulse_train(-5.0, 5e-3, 50e-3, 1) + pulse_train(5.0, 5e-3, 50e-3, 1)
    simulation = Simulation(device, protocol, SimulationSettings(mesh=femion.QUICK_MESH), physics=tuple(PHYSICS))
    curves = simulation.run(progress=False).curves
    inventory = curves["vo_inventory"].values
    assert float(np.max(np.abs(curves.current.values))) < 1e-3
    assert inventory[-1] / inventory[0] < 2.0
    assert float(np.max(curves["T_max"].values)) - device.temperature < 50.0
