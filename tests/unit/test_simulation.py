"""The coupled time loop: conservation, direction, rejection, checkpoint and resume."""

from __future__ import annotations

import numpy as np
import pytest

import femion
import femion.simulation as simulation_module
from femion.protocols import pulse_train, rest
from femion.simulation import Simulation, SimulationSettings

TINY = femion.MeshSettings(radial_cells=(3, 6, 4), min_layer_cells=2, layer_cell_size=100e-9, substrate_cells=2)
SETTINGS = SimulationSettings(mesh=TINY, first_step=1e-4)
PROTOCOL = pulse_train(-1.0, 1e-3, 1e-3, 2, read_width=2e-4)


def _inventory(curves):
    return sum(curves[name].values for name in curves.data_vars if name.startswith("li_inventory_"))


@pytest.fixture(scope="module")
def reference(device):
    return Simulation(device, PROTOCOL, SETTINGS).run(progress=False)


def test_li_is_conserved_and_drawn_into_wo3(reference):
    total = _inventory(reference.curves)
    np.testing.assert_allclose(total, total[0], rtol=1e-10)
    wo3 = reference.curves["li_inventory_WO3"].values
    assert wo3[-1] > wo3[0]  # negative pulses on Pt draw Li⁺ into WO3 (paper §2.1)
    assert list(reference.reads.pulse_number.values) == [1, 2]
    assert np.all(reference.reads.G.values > 0)


def test_resume_after_interruption_equals_uninterrupted_run(device, reference, tmp_path, monkeypatch):
    calls = {"n": 0}
    original = simulation_module.coupled_step

    def interrupted(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 25:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation_module, "coupled_step", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    assert (tmp_path / "checkpoint.npz").is_file()
    monkeypatch.setattr(simulation_module, "coupled_step", original)
    resumed = Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    assert resumed.resumed_steps > 0
    np.testing.assert_allclose(resumed.curves.current.values, reference.curves.current.values, rtol=1e-12)
    np.testing.assert_allclose(resumed.reads.G.values, reference.reads.G.values, rtol=1e-12)
    np.testing.assert_allclose(resumed.state.fields["c_li"], reference.state.fields["c_li"], rtol=1e-12, atol=0)
    for name in ("curves.nc", "reads.nc", "fields.vtu", "run.json"):
        assert (tmp_path / name).is_file()


def _next_step(path) -> int:
    with np.load(path) as data:
        return int(data["next_step"])


def _interrupt_at_call(monkeypatch, count: int, error=KeyboardInterrupt) -> None:
    """Make the ``count``-th coupled step of the time loop raise ``error`` (and every later one, for a failure)."""
    calls = {"n": 0}
    original = simulation_module.coupled_step

    def hooked(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == count or (calls["n"] > count and error is not KeyboardInterrupt):
            raise error("injected") if error is not KeyboardInterrupt else KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation_module, "coupled_step", hooked)


def test_interrupt_names_time_step_and_checkpoint(device, tmp_path, monkeypatch):
    """Ctrl-C: SimulationInterrupted (a KeyboardInterrupt) says where the run stopped and which checkpoint a rerun resumes from."""
    from femion.simulation import SimulationInterrupted

    _interrupt_at_call(monkeypatch, 25)
    with pytest.raises(SimulationInterrupted) as caught:
        Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    interrupt = caught.value
    checkpoint = tmp_path / "checkpoint.npz"
    completed = _next_step(checkpoint)
    assert interrupt.step == completed + 1 and interrupt.steps == len(PROTOCOL)  # stopped in the step after the checkpoint
    assert interrupt.label == (PROTOCOL[completed].label or PROTOCOL[completed].kind)
    assert interrupt.checkpoint == checkpoint
    assert str(interrupt) == (
        f"interrupted at t = {interrupt.time:.6g} s in step {interrupt.step}/{len(PROTOCOL)} ({interrupt.label}); "
        f"rerun the same command to resume from {checkpoint}"
    )
    assert PROTOCOL.step_starts()[completed] <= interrupt.time <= PROTOCOL.step_starts()[completed] + PROTOCOL[completed].duration
    with np.load(checkpoint) as data:  # the per-step rows (all floats) are kept as one array, not as text
        assert "row_values" in data.files and data["row_values"].shape[1] == len(data["row_keys"])
    # without an output folder there is nothing to resume from, and the message says so
    monkeypatch.undo()
    _interrupt_at_call(monkeypatch, 3)
    with pytest.raises(SimulationInterrupted, match="no checkpoint to resume from"):
        Simulation(device, PROTOCOL, SETTINGS).run(None, progress=False)


def test_interrupt_while_writing_a_checkpoint_keeps_the_previous_one(device, reference, tmp_path, monkeypatch):
    """The checkpoint is written to a temporary file and renamed: Ctrl-C in the middle of a write leaves the last one whole."""
    original = np.savez
    calls = {"n": 0}

    def interrupted_write(handle, **arrays):
        calls["n"] += 1
        if calls["n"] == 3:  # checkpoints: the initial state, after step 1, then this one (after step 2)
            handle.write(b"PK\x03\x04 half a zip file")
            raise KeyboardInterrupt
        return original(handle, **arrays)

    monkeypatch.setattr(np, "savez", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    assert _next_step(tmp_path / "checkpoint.npz") == 1
    assert sorted(path.name for path in tmp_path.iterdir()) == ["checkpoint.npz"]  # no temporary file left behind
    monkeypatch.setattr(np, "savez", original)
    resumed = Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    assert resumed.resumed_steps == 1
    np.testing.assert_array_equal(resumed.curves.time.values, reference.curves.time.values)
    np.testing.assert_allclose(resumed.curves.current.values, reference.curves.current.values, rtol=1e-12)


def test_failed_run_leaves_its_checkpoint_and_resumes(device, reference, tmp_path, monkeypatch):
    """A SimulationError keeps the checkpoint of the last completed protocol step; a rerun continues from it."""
    from femion.simulation import SimulationError

    _interrupt_at_call(monkeypatch, 25, FloatingPointError)
    with pytest.raises(SimulationError, match="cannot advance"):
        Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    completed = _next_step(tmp_path / "checkpoint.npz")
    assert completed >= 1
    monkeypatch.undo()
    resumed = Simulation(device, PROTOCOL, SETTINGS).run(tmp_path, progress=False)
    assert resumed.resumed_steps == completed
    np.testing.assert_array_equal(resumed.curves.time.values, reference.curves.time.values)
    np.testing.assert_allclose(resumed.curves.current.values, reference.curves.current.values, rtol=1e-12)
    np.testing.assert_allclose(resumed.reads.G.values, reference.reads.G.values, rtol=1e-12)


def test_checkpoint_of_other_module_settings_is_not_resumed(device, tmp_path):
    """A module swapped in with other settings or another disorder changes the signature: its run starts afresh instead of resuming."""
    from femion.physics.mechanics import MechanicsModule, MechanicsSettings

    protocol = rest(1e-4)
    first = Simulation(device, protocol, SETTINGS, physics=("lithium", "mechanics"))
    other = Simulation(device, protocol, SETTINGS, physics=("lithium", "mechanics"))
    other.modules[2] = MechanicsModule(other.mesh, device, MechanicsSettings(initial_porosity=0.02))
    assert first.signature() != other.signature()
    first.run(tmp_path, progress=False)
    assert other.run(tmp_path, progress=False).resumed_steps == 0
    # a V_O disorder drawn without a seed is another draw in a rerun: not the run the checkpoint continues
    from femion.physics.vacancy import VacancyModule

    drawn = []
    for _ in range(2):
        simulation = Simulation(device, protocol, SETTINGS, physics=("lithium", "vacancy"))
        simulation.modules[2] = VacancyModule(simulation.mesh, device, barrier_disorder=0.05)
        drawn.append(simulation.signature())
    assert drawn[0] != drawn[1]


def test_coupling_profile_counts_every_module_call_and_iteration(device, reference, monkeypatch):
    """profile_coupling records each coupled step (iterations, failures) and each module's calls, and changes nothing."""
    from femion.coupling import profile_coupling

    simulation = Simulation(device, PROTOCOL, SETTINGS)
    lithium = simulation.modules[1]
    original, calls = lithium.advance, {"n": 0}

    def fails_once(state, dt, start):
        calls["n"] += 1
        if calls["n"] == 40:
            raise FloatingPointError("injected")
        return original(state, dt, start)

    monkeypatch.setattr(lithium, "advance", fails_once)
    with profile_coupling() as profile:
        result = simulation.run(progress=False)
    report = profile.report()
    accepted = result.curves.sizes["time"] - 1
    assert report["steps"] == accepted + 1 and report["failed_steps"] == 1  # the failed step was retried at dt / 2
    assert sum(profile.iterations) == profile.module_calls["electrostatics"] == profile.module_calls["lithium"] == calls["n"]
    assert report["iterations_max"] == max(n for n, ok in zip(profile.iterations, profile.converged) if ok)
    assert 0.0 < sum(profile.module_seconds.values()) <= report["step_seconds"]
    assert sum(row["share"] for row in report["modules"].values()) == pytest.approx(1.0)
    # outside the block nothing is recorded, and profiling does not change the result
    Simulation(device, PROTOCOL, SETTINGS).run(progress=False)
    assert len(profile.step_seconds) == accepted + 1
    monkeypatch.undo()
    with profile_coupling():
        profiled = Simulation(device, PROTOCOL, SETTINGS).run(progress=False)
    np.testing.assert_array_equal(profiled.curves.current.values, reference.curves.current.values)


def test_failed_step_is_rejected_and_retried(device, reference, monkeypatch):
    calls = {"n": 0}
    original = simulation_module.coupled_step

    def flaky(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise FloatingPointError("injected failure")
        return original(*args, **kwargs)

    monkeypatch.setattr(simulation_module, "coupled_step", flaky)
    result = Simulation(device, PROTOCOL, SETTINGS).run(progress=False)
    assert len(result.curves.time) > len(reference.curves.time)  # the rejected step was split
    total = _inventory(result.curves)
    np.testing.assert_allclose(total, total[0], rtol=1e-10)


def test_galvanostatic_step_holds_the_current_and_ends_on_its_voltage_limit(device):
    from femion.protocols import Step, VoltageLimits

    current = -2e-8  # drives Li into WO3: V falls
    emf = Simulation(device, femion.protocols.rest(1e-3), SETTINGS).run(progress=False).curves.open_circuit_voltage.values[-1]
    limit = emf - 0.05  # 50 mV below the pristine device's emf
    step = Step.constant("current", current, float("inf"), kind="charge", limits=VoltageLimits(lower=limit))
    result = Simulation(device, femion.protocols.Protocol((step,)), SETTINGS).run(progress=False)
    np.testing.assert_allclose(result.curves.current.values[1:], current, rtol=2e-6)  # Drive tolerance: 1e-6 relative + 1e-15 A
    assert result.state.voltage == pytest.approx(limit, abs=SETTINGS.limit_tolerance)
    total = _inventory(result.curves)
    np.testing.assert_allclose(total, total[0], rtol=1e-10)


def test_a_limit_the_voltage_jumps_past_ends_the_step_at_once(device):
    """Under current control the voltage jumps from the start state's 0 V to the device's emf; a limit between the two
    is met at once (no bisection down to a vanishing step)."""
    from femion.protocols import Step, VoltageLimits

    emf = Simulation(device, femion.protocols.rest(1e-3), SETTINGS).run(progress=False).curves.open_circuit_voltage.values[-1]
    limit = 0.5 * emf  # between 0 V and the emf
    step = Step.constant("current", 2e-8 * np.sign(emf), float("inf"), kind="charge",
                         limits=VoltageLimits(lower=limit) if emf < 0 else VoltageLimits(upper=limit))
    result = Simulation(device, femion.protocols.Protocol((step,)), SETTINGS).run(progress=False)
    assert abs(emf) > 10 * SETTINGS.limit_tolerance  # the test needs an emf well off 0 V
    assert step.crossed(result.state.voltage)
    assert result.state.time <= 1e-9 * SETTINGS.unbounded_first_step * 2


def test_open_circuit_rest_carries_no_current(device):
    # At open circuit the double layers discharge through the Butler-Volmer reaction with the time constant
    # tau = R_ct C_dl, R_ct = RT/(F i0(theta)) at the pristine occupancy (the slower host sets it); after 10 tau the
    # terminal voltage is the open-circuit voltage.
    from femion.constants import FARADAY, GAS_CONSTANT

    def tau(host):
        material = device.material(host)
        theta = material.value("li_initial_occupancy")
        i0 = 2.0 * material.value("exchange_current_density") * np.sqrt(theta * (1.0 - theta))
        return GAS_CONSTANT * device.temperature / (FARADAY * i0) * material.value("double_layer_capacitance")

    relax = 10.0 * max(tau("WO3"), tau("MoO3"))
    result = Simulation(device, pulse_train(-1.0, 1e-3, 0.0, 1, read_width=1e-4) + rest(relax), SETTINGS).run(progress=False)
    assert abs(result.state.current) <= 1e-12
    assert result.state.voltage == pytest.approx(result.curves.open_circuit_voltage.values[-1], abs=0.05)


def test_compliance_limits_the_current(device):
    from femion.protocols import hold

    result = Simulation(device, hold(-2.0, 1e-3, compliance=1e-6), SETTINGS).run(progress=False)
    assert np.all(np.abs(result.curves.current.values) <= 1e-6 * (1 + 1e-6))
    assert result.state.voltage > -2.0  # the source voltage is not reached at the electrode


def test_unknown_physics_is_refused(device):
    with pytest.raises(ValueError, match="unknown physics"):
        Simulation(device, rest(1.0), SETTINGS, physics=("lithium", "magic"))


def test_start_continues_from_a_given_state(device, reference):
    follow = Simulation(device, rest(2e-3), SETTINGS, mesh=None, start=reference.state).run(progress=False)
    curves = follow.curves
    assert curves.time.values[0] == pytest.approx(reference.state.time)  # time continues
    # the first row is the given state: same Li in every layer, and Li stays conserved over the chain
    for name in (n for n in curves.data_vars if n.startswith("li_inventory_")):
        assert curves[name].values[0] == pytest.approx(float(reference.curves[name].values[-1]), rel=1e-12)
    np.testing.assert_allclose(_inventory(curves), _inventory(reference.curves)[0], rtol=1e-10)
    # a physics the earlier run did not have starts as fabricated; the Li field is the given one
    mechanics = Simulation(device, rest(1e-3), SETTINGS, physics=("lithium", "mechanics"), start=reference.state)
    initial = mechanics.initial_state()
    np.testing.assert_array_equal(initial.fields["c_li"], reference.state.fields["c_li"])
    assert "porosity" in initial.fields
    # a start state from another mesh is refused
    bad = reference.state.copy()
    bad.fields["c_li"] = bad.fields["c_li"][:-1]
    with pytest.raises(ValueError, match="c_li"):
        Simulation(device, rest(1e-3), SETTINGS, start=bad)


def test_a_host_cell_on_a_bound_by_round_off_is_held_a_few_ulp_inside():
    # The first-order host step keeps c in (0, c_max) only in exact arithmetic; a full (empty) cell can land on the
    # bound by round-off (measured: c/c_max - 1 = 0 or 2.2e-16 in a WO3 surface cell under a 0.01 V/s sweep).
    from femion.physics.lithium import held_inside

    c_max = np.full(7, 2.8e4)
    c = np.array([1.4e4, 2.8e4, 2.8e4 * (1 + 2.2e-16), 0.0, 1e-300, 2.8e4 * (1 + 1e-12), -1.0])
    held = held_inside(c, c_max)
    ulp4 = 4.0 * np.finfo(float).eps * 2.8e4  # 2.5e-11 mol/m³: a round-off-sized move
    np.testing.assert_array_equal(held[1:4], [2.8e4 - ulp4, 2.8e4 - ulp4, ulp4])
    np.testing.assert_array_equal(held[[0, 4]], c[[0, 4]])  # inside: untouched, however close to a bound
    np.testing.assert_array_equal(held[5:], c[5:])  # past a bound by more than round-off: left for the range check


@pytest.mark.slow
def test_li_is_conserved_when_the_counter_electrode_surface_empties(device, monkeypatch):
    # A sweep to −2 V at 1 V/s empties the MoO3 surface (its Li goes to WO3); at the electrode edge the
    # interface current varies steeply along r and the host step falls back to the first-order exchange
    # (LithiumModule._positive_step). Li stays conserved through it, and every host cell stays in (0, c_max).
    from femion.physics.lithium import LithiumModule
    from femion.protocols import voltage_sweep

    calls = {"n": 0}
    original = LithiumModule._positive_step

    def counted(self, *args, **kwargs):
        calls["n"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(LithiumModule, "_positive_step", counted)
    simulation = Simulation(device, voltage_sweep(0.0, [-2.0], 1.0), SimulationSettings(min_step_fraction=1e-3))
    result = simulation.run(progress=False)
    assert calls["n"] > 0
    total = _inventory(result.curves)
    np.testing.assert_allclose(total, total[0], rtol=1e-10)
    lithium = next(module for module in simulation.modules if module.name == "lithium")
    theta = lithium.occupancy(result.state)[lithium._host_cells]
    assert theta.min() > 0.0 and theta.max() < 1.0


def test_blas_threads_rejects_a_bad_count(monkeypatch):
    from femion.simulation import blas_threads

    monkeypatch.setenv("FEMION_BLAS_THREADS", "0")
    with pytest.raises(ValueError, match="FEMION_BLAS_THREADS"):
        blas_threads()
    monkeypatch.setenv("FEMION_BLAS_THREADS", "1")
    with blas_threads():
        import numpy as np

        assert float(np.ones((3, 3)) @ np.ones(3) @ np.ones(3)) == 9.0
