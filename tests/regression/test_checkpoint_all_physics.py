"""Checkpoint and resume with every module on: an interrupted and resumed run repeats the uninterrupted one.

``Simulation.run(outdir)`` writes ``checkpoint.npz`` after every protocol step and resumes from it
(:mod:`femion.simulation`). Resuming is exact only if no module keeps anything between steps that is
neither in the checkpointed :class:`femion.coupling.State` nor rebuilt from it (cached factorisations,
Anderson history, mechanics' committed plastic state and Newton start, the V_O generation lagged to
the step start, air bookkeeping, the records). This test runs a short protocol through every part of
the device history (a −5 V, 5 ms pulse, rest and read; a ±1 V sweep; a forming ramp that reaches its
10 µA compliance) with electrostatics, lithium, mechanics, air, vacancy and thermal on, interrupts it
(Ctrl-C, as a KeyboardInterrupt from inside a coupled step) in the sweep and again in the forming ramp,
resumes it first from a new Simulation (as a rerun of the command would), then from the interrupted
Simulation object itself (whatever its modules cached in the broken step must not matter), and compares the
result with an uninterrupted run: every field of the final state, every curve (same times) and every
read to 1e-10 relative. Measured 2026-12-04: every difference below 1e-12 relative; 33 s on the quick mesh (65 s on a loaded machine).
"""

from __future__ import annotations

import numpy as np
import pytest

import femion
import femion.simulation as simulation_module
from femion.protocols import forming_ramp, pulse_train, voltage_sweep
from femion.simulation import PHYSICS, Simulation, SimulationInterrupted, SimulationSettings

COMPLIANCE = 10e-6  # [A]
PROTOCOL = (
    pulse_train(-5.0, 5e-3, 1e-3, 1, read_width=1e-3)  # pulse, rest, read: steps 1-3
    + voltage_sweep(0.0, [-1.0, 0.0], 100.0)  # step 4
    + forming_ramp(0.0, 2.0, 200.0, COMPLIANCE)  # step 5
)


def _simulation(device) -> Simulation:
    return Simulation(device, PROTOCOL, SimulationSettings(mesh=femion.QUICK_MESH), physics=tuple(PHYSICS))


def _interrupt_in_step(monkeypatch, index: int, after: int = 3) -> None:
    """Raise KeyboardInterrupt in the ``after``-th coupled step of protocol step ``index`` (from 0)."""
    run_step = Simulation._run_step

    def hooked(self, position, step, state, records, bar):
        if position == index:
            calls = {"n": 0}
            original = simulation_module.coupled_step

            def interrupted(*args, **kwargs):
                calls["n"] += 1
                if calls["n"] == after:
                    raise KeyboardInterrupt
                return original(*args, **kwargs)

            monkeypatch.setattr(simulation_module, "coupled_step", interrupted)
        return run_step(self, position, step, state, records, bar)

    monkeypatch.setattr(Simulation, "_run_step", hooked)


def _assert_same(result, reference) -> None:
    assert sorted(result.state.fields) == sorted(reference.state.fields)
    for name, values in reference.state.fields.items():
        np.testing.assert_allclose(result.state.fields[name], values, rtol=1e-10, atol=0.0, err_msg=f"field {name}")
    assert result.state.time == pytest.approx(reference.state.time, rel=1e-10)
    np.testing.assert_allclose(result.curves.time.values, reference.curves.time.values, rtol=1e-10, atol=0.0)
    assert sorted(result.curves.data_vars) == sorted(reference.curves.data_vars)
    for name in reference.curves.data_vars:
        np.testing.assert_allclose(result.curves[name].values, reference.curves[name].values, rtol=1e-10, atol=0.0, err_msg=f"curve {name}")
    assert sorted(result.reads.data_vars) == sorted(reference.reads.data_vars) and reference.reads.sizes["read"] == 1
    for name in reference.reads.data_vars:
        expected = reference.reads[name].values
        if expected.dtype.kind in "fi":
            np.testing.assert_allclose(result.reads[name].values, expected, rtol=1e-10, atol=0.0, err_msg=f"read {name}")
        else:
            np.testing.assert_array_equal(result.reads[name].values, expected)


@pytest.mark.slow
def test_interrupted_and_resumed_run_equals_the_uninterrupted_one(device, tmp_path, monkeypatch):
    reference = _simulation(device).run(progress=False)
    forming = reference.curves.sel(time=slice(PROTOCOL.step_starts()[4], None))
    # the ramp reaches the compliance, so the resumed steps include the limited circuit
    assert float(np.max(np.abs(forming.current.values))) == pytest.approx(COMPLIANCE, rel=1e-5)

    checkpoint = tmp_path / "checkpoint.npz"
    for index in (3, 4):  # Ctrl-C in the sweep, then (after resuming in a new Simulation) in the forming ramp
        simulation = _simulation(device)
        _interrupt_in_step(monkeypatch, index)
        with pytest.raises(SimulationInterrupted) as caught:
            simulation.run(tmp_path, progress=False)
        monkeypatch.undo()
        assert (caught.value.step, caught.value.checkpoint) == (index + 1, checkpoint)
        with np.load(checkpoint) as data:
            assert int(data["next_step"]) == index
    # the last resume reuses the interrupted Simulation: what its modules cached in the broken step must not matter
    resumed = simulation.run(tmp_path, progress=False)
    assert resumed.resumed_steps == 4
    _assert_same(resumed, reference)
