"""Electrical programmes: waveforms, timing, breakpoints, limits, metadata and config parsing."""

from __future__ import annotations

import dataclasses
import math
import tomllib

import numpy as np
import pytest

from femion.protocols import (
    PROTOCOL_KINDS,
    RAMP_VOLTAGE_INCREMENT,
    SEGMENT_FRACTION,
    Protocol,
    ProtocolError,
    Step,
    VoltageLimits,
    cyclic_voltammetry,
    forming_ramp,
    galvanostatic_cycles,
    hold,
    ltp_ltd_cycles,
    protocol_from_config,
    pulse_train,
    rest,
    voltage_sweep,
)
from femion.units import UnitError

# ---------------------------------------------------------------------------
# voltage sweeps
# ---------------------------------------------------------------------------


def test_fig3a_sweep_voltage_duration_and_breakpoints():
    sweep = voltage_sweep(0.0, [-5.0, 0.0, 5.0, 0.0], rate=1.0)
    assert len(sweep) == 1
    step = sweep[0]
    assert step.control == "voltage" and step.kind == "sweep" and step.cycle == 1
    assert sweep.duration == 20.0  # sum |dV| / rate = 20 V / (1 V/s)
    np.testing.assert_array_equal(step.breakpoints(), [0.0, 5.0, 10.0, 15.0, 20.0])
    np.testing.assert_array_equal(sweep.breakpoints(), [0.0, 5.0, 10.0, 15.0, 20.0])
    times = np.array([0.0, 1.0, 2.5, 5.0, 7.5, 10.0, 12.0, 15.0, 17.5, 20.0])
    expected = np.array([0.0, -1.0, -2.5, -5.0, -2.5, 0.0, 2.0, 5.0, 2.5, 0.0])
    np.testing.assert_allclose(sweep.voltage(times), expected, rtol=0, atol=1e-15)
    np.testing.assert_allclose(step.value(times), expected, rtol=0, atol=1e-15)
    assert sweep.voltage(7.5) == -2.5 and isinstance(sweep.voltage(7.5), float)
    assert step.value(times.reshape(2, 5)).shape == (2, 5)


def test_sweep_rate_and_cycles():
    sweep = voltage_sweep(0.5, [-1.5, 0.5], rate=0.05, cycles=3)
    segment = 2.0 / 0.05  # 40 s
    assert len(sweep) == 3
    assert [step.cycle for step in sweep] == [1, 2, 3]
    assert [step.label for step in sweep] == ["sweep cycle 1", "sweep cycle 2", "sweep cycle 3"]
    assert sweep.duration == pytest.approx(3 * 2 * segment, rel=1e-15)
    np.testing.assert_allclose(
        sweep.breakpoints(), segment * np.arange(7), rtol=1e-15, atol=0
    )
    # slope magnitude equals the rate on every segment
    t = np.linspace(0.0, sweep.duration, 2401)
    slopes = np.abs(np.diff(sweep.voltage(t)) / np.diff(t))
    assert np.allclose(slopes, 0.05, rtol=1e-9)
    assert sweep.voltage(segment) == -1.5 and sweep.voltage(3 * segment) == -1.5


def test_sweep_max_step_from_ramp_increment():
    fast = voltage_sweep(0.0, [-5.0, 0.0], rate=1.0)[0]
    assert fast.max_step == pytest.approx(RAMP_VOLTAGE_INCREMENT / 1.0, rel=1e-15)  # 0.05 s, 50 mV per step
    # a short segment is limited by the segment fraction instead: 0.02 V at 1 V/s lasts 20 ms
    short = voltage_sweep(0.0, [0.02, 0.0], rate=1.0)[0]
    assert short.max_step == pytest.approx(SEGMENT_FRACTION * 0.02, rel=1e-12)
    custom = voltage_sweep(0.0, [1.0], rate=1.0, max_step=1e-3)[0]
    assert custom.max_step == 1e-3


def test_sweep_compliance_is_stored():
    sweep = voltage_sweep(0.0, [10.0, 0.0], rate=0.1, compliance=100e-6)
    assert sweep[0].compliance == 100e-6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": 0.0, "vertices": [], "rate": 1.0}, "vertices"),
        ({"start": 0.0, "vertices": [1.0], "rate": 0.0}, "rate"),
        ({"start": 0.0, "vertices": [1.0], "rate": -1.0}, "rate"),
        ({"start": 0.0, "vertices": [1.0], "rate": math.inf}, "rate"),
        ({"start": 0.0, "vertices": [1.0], "rate": math.nan}, "rate"),
        ({"start": math.nan, "vertices": [1.0], "rate": 1.0}, "start"),
        ({"start": 0.0, "vertices": [1.0, math.inf], "rate": 1.0}, r"vertices\[1\]"),
        ({"start": 0.0, "vertices": [1.0, 1.0], "rate": 1.0}, r"vertices\[1\].*zero-length"),
        ({"start": 0.0, "vertices": [0.0], "rate": 1.0}, r"vertices\[0\].*start"),
        ({"start": 0.0, "vertices": [1.0], "rate": 1.0, "cycles": 2}, "end where it starts"),
        ({"start": 0.0, "vertices": [1.0, 0.0], "rate": 1.0, "cycles": 0}, "cycles"),
        ({"start": 0.0, "vertices": [1.0, 0.0], "rate": 1.0, "cycles": 1.5}, "cycles"),
        ({"start": 0.0, "vertices": [1.0, 0.0], "rate": 1.0, "compliance": 0.0}, "compliance"),
        ({"start": 0.0, "vertices": "1 V", "rate": 1.0}, "vertices"),
        ({"start": "0 V", "vertices": [1.0], "rate": 1.0}, "start"),
    ],
)
def test_sweep_validation(kwargs, match):
    with pytest.raises(ProtocolError, match=match):
        voltage_sweep(**kwargs)


# ---------------------------------------------------------------------------
# pulse trains
# ---------------------------------------------------------------------------


def test_pulse_train_timing_and_reads():
    width, rest_time, read_width, count = 5e-3, 100e-3, 2e-3, 20
    train = pulse_train(-5.0, width, rest_time, count, read_voltage=0.1, read_width=read_width)
    assert len(train) == 3 * count
    assert [step.kind for step in train][:6] == ["pulse", "rest", "read", "pulse", "rest", "read"]
    period = width + rest_time + read_width
    assert train.duration == pytest.approx(count * period, rel=1e-14)
    starts = train.step_starts()
    assert starts.shape == (3 * count,)
    reads = [(index, step) for index, step in enumerate(train) if step.kind == "read"]
    assert len(reads) == count
    for k, (index, step) in enumerate(reads):
        assert starts[index] == pytest.approx(k * period + width + rest_time, rel=1e-14, abs=1e-17)
        assert step.value(0.0) == 0.1 and step.end_value == 0.1
        assert step.duration == read_width
        assert step.pulse_number == k + 1 and step.pulse_index == k + 1
        assert step.polarity == -1 and step.phase is None and step.cycle is None
    pulses = [step for step in train if step.kind == "pulse"]
    assert all(step.value(0.0) == -5.0 and step.value(width) == -5.0 for step in pulses)
    rests = [step for step in train if step.kind == "rest"]
    assert all(step.control == "voltage" and step.end_value == 0.0 for step in rests)
    # global waveform: pulse, then 0 V, then the read, then the next pulse
    assert train.voltage(0.0) == -5.0
    assert train.voltage(width / 2) == -5.0
    assert train.voltage(width + rest_time / 2) == 0.0
    assert train.voltage(width + rest_time + read_width / 2) == 0.1
    assert train.voltage(period + width / 2) == -5.0
    assert train.voltage(train.duration) == 0.1
    # every step edge is a breakpoint
    assert train.breakpoints().size == 3 * count + 1
    np.testing.assert_allclose(train.breakpoints()[:4], [0.0, width, width + rest_time, period], rtol=1e-14)
    # max step: a fraction of the pulse width
    assert pulses[0].max_step == pytest.approx(SEGMENT_FRACTION * width, rel=1e-15)


def test_pulse_train_boundaries_are_right_continuous():
    train = pulse_train(5.0, 1.0, 2.0, 2, read_voltage=0.2, read_width=1.0)
    assert train.voltage([0.0, 1.0, 3.0, 4.0, 5.0, 8.0]).tolist() == [5.0, 0.0, 0.2, 5.0, 0.0, 0.2]
    assert train.locate(1.0) == (1, 0.0)
    assert train.locate(8.0) == (5, 1.0)
    assert train.locate(3.5) == (2, 0.5)


def test_pulse_train_with_rise_is_trapezoidal():
    train = pulse_train(-5.0, 5e-3, 10e-3, 1, rise=1e-3)
    pulse = train[0]
    np.testing.assert_allclose(pulse.breakpoints(), [0.0, 1e-3, 4e-3, 5e-3], rtol=1e-15)
    local = [0.0, 0.5e-3, 1e-3, 2.5e-3, 4.5e-3, 5e-3]
    np.testing.assert_allclose(pulse.value(local), [0, -2.5, -5, -5, -2.5, 0], atol=1e-12)
    assert train.breakpoints().tolist()[:4] == pytest.approx([0.0, 1e-3, 4e-3, 5e-3], rel=1e-14)
    # the 5 V edge in 1 ms is resolved with at most RAMP_VOLTAGE_INCREMENT per step
    assert pulse.max_step == pytest.approx(RAMP_VOLTAGE_INCREMENT * 1e-3 / 5.0, rel=1e-12)


def test_pulse_train_zero_rest_omits_the_rest_step():
    train = pulse_train(1.0, 1.0, 0.0, 3, read_width=0.5)
    assert [step.kind for step in train] == ["pulse", "read"] * 3
    assert train.duration == 4.5


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"amplitude": 0.0}, "amplitude"),
        ({"amplitude": math.inf}, "amplitude"),
        ({"width": 0.0}, "width"),
        ({"width": -5e-3}, "width"),
        ({"rest": -1.0}, "rest"),
        ({"rest": math.nan}, "rest"),
        ({"count": 0}, "count"),
        ({"count": True}, "count"),
        ({"read_voltage": 0.0}, "read_voltage"),
        ({"read_width": 0.0}, "read_width"),
        ({"rise": -1e-3}, "rise"),
        ({"rise": 2.5e-3}, "rise"),
        ({"phase": "LTX"}, "phase"),
        ({"first_pulse_number": 0}, "first_pulse_number"),
    ],
)
def test_pulse_train_validation(kwargs, match):
    arguments = {"amplitude": -5.0, "width": 5e-3, "rest": 0.1, "count": 3, **kwargs}
    with pytest.raises(ProtocolError, match=match):
        pulse_train(**arguments)


def test_pulse_train_rest_is_required():
    with pytest.raises(TypeError):
        pulse_train(-5.0, 5e-3, count=3)  # type: ignore[call-arg]


def test_ltp_ltd_numbering_across_cycles():
    n, cycles = 4, 3
    width, rest_time, read_width = 5e-3, 50e-3, 1e-3
    programme = ltp_ltd_cycles(5.0, width, rest_time, n, cycles, read_width=read_width)
    reads = [step for step in programme if step.kind == "read"]
    assert len(reads) == 2 * n * cycles
    assert [step.pulse_number for step in reads] == list(range(1, 2 * n * cycles + 1))
    assert [step.phase for step in reads] == (["LTP"] * n + ["LTD"] * n) * cycles
    assert [step.cycle for step in reads] == [c for c in range(1, cycles + 1) for _ in range(2 * n)]
    assert [step.pulse_index for step in reads] == list(range(1, n + 1)) * 2 * cycles
    assert [step.polarity for step in reads] == ([-1] * n + [1] * n) * cycles
    pulses = [step for step in programme if step.kind == "pulse"]
    assert [step.end_value for step in pulses] == ([-5.0] * n + [5.0] * n) * cycles
    # pulse, rest and read of one period share the pulse number
    assert [programme[i].pulse_number for i in range(6)] == [1, 1, 1, 2, 2, 2]
    assert reads[n].label == "cycle 1 LTD read 5"
    # timing: read of pulse number p (1-based) starts at (p - 1) period + width + rest
    period = width + rest_time + read_width
    starts = programme.step_starts()
    read_indices = [i for i, step in enumerate(programme) if step.kind == "read"]
    expected = (np.arange(2 * n * cycles) * period) + width + rest_time
    np.testing.assert_allclose(starts[read_indices], expected, rtol=1e-13)
    assert programme.duration == pytest.approx(2 * n * cycles * period, rel=1e-13)


def test_ltp_ltd_sign_and_polarity_options():
    programme = ltp_ltd_cycles(-3.0, 1e-3, 1e-3, 1, 1, ltp_polarity=1)
    assert [step.end_value for step in programme if step.kind == "pulse"] == [3.0, -3.0]
    with pytest.raises(ProtocolError, match="pulses_per_phase"):
        ltp_ltd_cycles(5.0, 1e-3, 1e-3, 0, 1)
    with pytest.raises(ProtocolError, match="cycles"):
        ltp_ltd_cycles(5.0, 1e-3, 1e-3, 2, 0)
    with pytest.raises(ProtocolError, match="ltp_polarity"):
        ltp_ltd_cycles(5.0, 1e-3, 1e-3, 2, 1, ltp_polarity=0)
    with pytest.raises(ProtocolError, match="amplitude"):
        ltp_ltd_cycles(0.0, 1e-3, 1e-3, 2, 1)


# ---------------------------------------------------------------------------
# CV, GCD, holds, rests, forming
# ---------------------------------------------------------------------------


def test_cyclic_voltammetry_duration_and_vertices():
    cv = cyclic_voltammetry(-1.0, 2.0, rate=50e-3, cycles=3)
    one_cycle = 2 * 3.0 / 50e-3  # 120 s
    assert len(cv) == 3
    assert cv.duration == pytest.approx(3 * one_cycle, rel=1e-14)
    assert [step.label for step in cv] == ["CV cycle 1", "CV cycle 2", "CV cycle 3"]
    np.testing.assert_allclose(cv[0].breakpoints(), [0.0, 60.0, 120.0], rtol=1e-14)
    assert cv.voltage([0.0, 30.0, 60.0, 90.0, 120.0, 180.0]).tolist() == pytest.approx([-1.0, 0.5, 2.0, 0.5, -1.0, 2.0])


def test_cyclic_voltammetry_from_inside_the_window():
    cv = cyclic_voltammetry(-1.0, 1.0, rate=0.1, start=0.0)
    np.testing.assert_allclose(cv[0].breakpoints(), [0.0, 10.0, 30.0, 40.0], rtol=1e-14)
    assert cv.voltage([0.0, 10.0, 30.0, 40.0]).tolist() == [0.0, 1.0, -1.0, 0.0]
    assert cv.duration == pytest.approx(2 * 2.0 / 0.1, rel=1e-14)
    from_top = cyclic_voltammetry(-1.0, 1.0, rate=1.0, start=1.0)
    assert from_top.voltage([0.0, 2.0, 4.0]).tolist() == [1.0, -1.0, 1.0]


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((1.0, 1.0, 0.1), {}, "lower"),
        ((2.0, 1.0, 0.1), {}, "lower"),
        ((-1.0, 1.0, 0.0), {}, "rate"),
        ((-1.0, 1.0, 0.1), {"start": 2.0}, "start"),
        ((-1.0, 1.0, 0.1), {"cycles": 0}, "cycles"),
        ((-math.inf, 1.0, 0.1), {}, "lower"),
    ],
)
def test_cyclic_voltammetry_validation(args, kwargs, match):
    with pytest.raises(ProtocolError, match=match):
        cyclic_voltammetry(*args, **kwargs)


def test_galvanostatic_cycles_limits_and_crossed():
    gcd = galvanostatic_cycles(-2e-6, lower=0.0, upper=1.5, cycles=2, rest=10.0)
    assert [step.kind for step in gcd] == ["charge", "rest", "discharge", "rest"] * 2
    assert [step.cycle for step in gcd] == [1, 1, 1, 1, 2, 2, 2, 2]
    charge, pause, discharge = gcd[0], gcd[1], gcd[2]
    assert charge.control == "current" and charge.value(123.0) == 2e-6 and charge.duration == math.inf
    assert discharge.control == "current" and discharge.value(0.0) == -2e-6
    assert charge.limits == VoltageLimits(upper=1.5) and discharge.limits == VoltageLimits(lower=0.0)
    assert charge.crossed(1.4999) is False and charge.crossed(1.5) is True and charge.crossed(1.6) is True
    assert charge.crossed(-10.0) is False  # no lower limit while charging
    assert discharge.crossed(0.0001) is False and discharge.crossed(0.0) is True and discharge.crossed(-0.1) is True
    assert charge.limits.which(2.0) == "upper" and discharge.limits.which(-1.0) == "lower"
    assert pause.control == "current" and pause.value(5.0) == 0.0 and pause.limits is None
    assert pause.crossed(100.0) is False
    assert charge.max_step == math.inf
    assert gcd.duration == math.inf
    assert gcd.n_timed == 0 and not gcd.is_timed
    np.testing.assert_array_equal(gcd.breakpoints(), [0.0])
    np.testing.assert_array_equal(gcd.step_starts(), [0.0])
    with pytest.raises(ProtocolError, match="NaN"):
        charge.crossed(math.nan)
    without_rest = galvanostatic_cycles(1e-6, 0.0, 1.0, max_step=0.5)
    assert [step.kind for step in without_rest] == ["charge", "discharge"]
    assert without_rest[0].max_step == 0.5


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0.0, 0.0, 1.0), {}, "current"),
        ((1e-6, 1.0, 1.0), {}, "lower"),
        ((1e-6, 1.0, 0.0), {}, "lower"),
        ((1e-6, 0.0, math.nan), {}, "upper"),
        ((1e-6, 0.0, 1.0), {"rest": -1.0}, "rest"),
        ((1e-6, 0.0, 1.0), {"cycles": 0}, "cycles"),
        ((1e-6, 0.0, 1.0), {"max_step": 0.0}, "max_step"),
    ],
)
def test_galvanostatic_validation(args, kwargs, match):
    with pytest.raises(ProtocolError, match=match):
        galvanostatic_cycles(*args, **kwargs)


def test_voltage_limits_validation():
    with pytest.raises(ProtocolError, match="lower"):
        VoltageLimits(lower=1.0, upper=1.0)
    with pytest.raises(ProtocolError, match="lower"):
        VoltageLimits(lower=2.0, upper=1.0)
    with pytest.raises(ProtocolError, match="at least one finite"):
        VoltageLimits()
    with pytest.raises(ProtocolError, match="NaN"):
        VoltageLimits(lower=math.nan)
    window = VoltageLimits(lower=-1.0, upper=1.0)
    assert [window.crossed(v) for v in (-1.5, -1.0, 0.0, 1.0, 1.5)] == [True, True, False, True, True]
    assert window.which(0.3) is None


def test_hold_rest_and_forming():
    h = hold(0.1, 2.0, compliance=1e-3)
    assert len(h) == 1 and h[0].kind == "hold" and h[0].compliance == 1e-3
    assert h.voltage([0.0, 1.0, 2.0]).tolist() == [0.1, 0.1, 0.1]
    np.testing.assert_array_equal(h.breakpoints(), [0.0, 2.0])
    assert h[0].max_step == pytest.approx(0.2, rel=1e-15)

    r = rest(60.0)
    assert r[0].control == "current" and r[0].kind == "rest" and r[0].value(30.0) == 0.0
    assert r.duration == 60.0 and r.is_timed and not r.is_voltage_controlled
    with pytest.raises(ProtocolError, match="current-controlled"):
        r.voltage(1.0)

    f = forming_ramp(0.0, 10.0, 0.1, 50e-6)
    step = f[0]
    assert step.kind == "forming" and step.compliance == 50e-6
    assert f.duration == pytest.approx(100.0, rel=1e-15)
    assert f.voltage([0.0, 25.0, 100.0]).tolist() == pytest.approx([0.0, 2.5, 10.0])
    assert step.max_step == pytest.approx(RAMP_VOLTAGE_INCREMENT / 0.1, rel=1e-12)  # 0.5 s
    down = forming_ramp(2.0, -1.0, 1.0, 1e-4)
    assert down.duration == 3.0 and down.voltage(1.0) == 1.0

    for call, match in [
        (lambda: hold(0.1, 0.0), "duration"),
        (lambda: hold(math.inf, 1.0), "voltage"),
        (lambda: hold(0.1, 1.0, compliance=-1e-3), "compliance"),
        (lambda: rest(-1.0), "duration"),
        (lambda: rest(math.inf), "duration"),
        (lambda: forming_ramp(1.0, 1.0, 0.1, 1e-4), "stop"),
        (lambda: forming_ramp(0.0, 10.0, 0.0, 1e-4), "rate"),
        (lambda: forming_ramp(0.0, 10.0, 0.1, 0.0), "compliance_current"),
    ]:
        with pytest.raises(ProtocolError, match=match):
            call()


# ---------------------------------------------------------------------------
# Step and Protocol mechanics
# ---------------------------------------------------------------------------


def test_step_validation():
    with pytest.raises(ProtocolError, match="control"):
        Step.constant("power", 1.0, 1.0, kind="hold")  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="kind"):
        Step.constant("voltage", 1.0, 1.0, kind="zap")
    with pytest.raises(ProtocolError, match="duration"):
        Step.constant("voltage", 1.0, 0.0, kind="hold")
    with pytest.raises(ProtocolError, match="infinite"):
        Step.constant("voltage", 1.0, math.inf, kind="hold")
    with pytest.raises(ProtocolError, match="limits are only allowed"):
        Step.constant("voltage", 1.0, 1.0, kind="hold", limits=VoltageLimits(upper=2.0))
    with pytest.raises(ProtocolError, match="compliance"):
        Step.constant("current", 1e-6, 1.0, kind="charge", compliance=1e-3)
    with pytest.raises(ProtocolError, match="strictly increasing"):
        Step.piecewise_linear([0.0, 2.0, 1.0], [0.0, 1.0, 0.0], kind="ramp")
    with pytest.raises(ProtocolError, match=r"times\[0\]"):
        Step.piecewise_linear([1.0, 2.0], [0.0, 1.0], kind="ramp")
    with pytest.raises(ProtocolError, match="last knot"):
        Step(control="voltage", kind="ramp", duration=3.0, times=(0.0, 2.0), levels=(0.0, 1.0))
    with pytest.raises(ProtocolError, match="equal length"):
        Step(control="voltage", kind="ramp", duration=2.0, times=(0.0, 2.0), levels=(0.0,))
    with pytest.raises(ProtocolError, match=r"levels\[1\]"):
        Step.piecewise_linear([0.0, 1.0], [0.0, math.nan], kind="ramp")
    with pytest.raises(ProtocolError, match="polarity"):
        Step.constant("voltage", 1.0, 1.0, kind="pulse", polarity=2)
    with pytest.raises(ProtocolError, match="pulse_number"):
        Step.constant("voltage", 1.0, 1.0, kind="pulse", pulse_number=0)
    with pytest.raises(ProtocolError, match="max_step"):
        Step.constant("voltage", 1.0, 1.0, kind="hold", max_step=-1.0)


def test_step_value_range_and_breakpoints():
    ramp = Step.piecewise_linear([0.0, 1.0, 3.0], [0.0, 2.0, 0.0], kind="ramp")
    assert ramp.duration == 3.0
    assert ramp.value(2.0) == 1.0
    np.testing.assert_array_equal(ramp.breakpoints(), [0.0, 1.0, 3.0])
    with pytest.raises(ProtocolError, match="local time"):
        ramp.value(3.1)
    with pytest.raises(ProtocolError, match="local time"):
        ramp.value(-0.1)
    with pytest.raises(ProtocolError, match="NaN"):
        ramp.value(math.nan)
    assert ramp.value(3.0 * (1 + 1e-14)) == 0.0  # rounding tolerance
    charge = galvanostatic_cycles(1e-6, 0.0, 1.0)[0]
    np.testing.assert_array_equal(charge.breakpoints(), [0.0])
    assert charge.value(1e9) == 1e-6
    # steps are immutable and hashable
    with pytest.raises(dataclasses.FrozenInstanceError):
        ramp.duration = 5.0  # type: ignore[misc]
    assert hash(ramp) == hash(Step.piecewise_linear([0, 1, 3], [0, 2, 0], kind="ramp"))


def test_concatenation_and_repetition():
    a = hold(1.0, 2.0)
    b = voltage_sweep(1.0, [0.0], rate=0.5)  # 2 s
    c = a + b
    assert isinstance(c, Protocol) and len(c) == 2
    assert c.duration == 4.0
    np.testing.assert_array_equal(c.breakpoints(), [0.0, 2.0, 4.0])
    assert c.voltage([0.0, 2.0, 3.0, 4.0]).tolist() == [1.0, 1.0, 0.5, 0.0]
    assert list(c) == [a[0], b[0]]

    r = c * 3
    assert len(r) == 6 and r.duration == 12.0
    assert 3 * c == r
    np.testing.assert_array_equal(r.breakpoints(), [0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0])
    assert r.voltage(7.0) == 0.5 and r.voltage(9.0) == 1.0
    assert len(c * 0) == 0 and (c * 0).duration == 0.0
    with pytest.raises(ProtocolError, match="non-negative"):
        c * -1
    with pytest.raises(TypeError):
        c * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        c + 1  # type: ignore[operator]

    step = hold(0.0, 1.0)[0]
    assert len(c + step) == 3 and (step + c)[0] == step
    assert sum([a, b, a], Protocol()) == a + b + a
    assert isinstance(r[1:3], Protocol) and len(r[1:3]) == 2
    with pytest.raises(TypeError, match="Step"):
        Protocol(("not a step",))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="empty"):
        Protocol().voltage(0.0)


def test_protocol_time_range_checks():
    p = hold(1.0, 2.0) + hold(2.0, 3.0)
    with pytest.raises(ProtocolError, match=r"\[0, 5.0\]"):
        p.voltage(5.5)
    with pytest.raises(ProtocolError, match="NaN"):
        p.voltage(np.array([0.0, math.nan]))
    assert p.voltage(np.array([])).shape == (0,)


def test_mixed_protocol_timed_prefix():
    programme = (
        forming_ramp(0.0, 5.0, 1.0, 1e-4)
        + hold(0.0, 1.0)
        + galvanostatic_cycles(1e-6, 0.0, 1.0)
        + pulse_train(-5.0, 1e-3, 1e-3, 2)
    )
    assert programme.n_timed == 2 and not programme.is_timed
    assert programme.duration == math.inf
    np.testing.assert_array_equal(programme.breakpoints(), [0.0, 5.0, 6.0])
    np.testing.assert_array_equal(programme.step_starts(), [0.0, 5.0, 6.0])
    assert programme.locate(6.0) == (2, 0.0)
    assert programme.locate(5.5) == (1, 0.5)
    with pytest.raises(ProtocolError, match="timed part"):
        programme.locate(7.0)
    with pytest.raises(ProtocolError, match="current-controlled"):
        programme.voltage(1.0)
    # the pulse-train steps after the limited steps keep their own local breakpoints
    assert programme[-1].kind == "read" and programme[-1].breakpoints()[-1] == pytest.approx(1e-3)


def test_breakpoint_accumulation_is_compensated():
    train = pulse_train(-5.0, 5e-3, 0.1, 1000, read_width=1e-3)
    period = 0.106
    starts = train.step_starts()
    read_starts = starts[2::3]
    expected = np.arange(1000) * period + 0.105
    # within two units in the last place of the exact sums (plain summation drifts by ~1e-12 here)
    assert np.all(np.abs(read_starts - expected) <= 2 * np.spacing(expected))
    assert np.all(np.diff(train.breakpoints()) > 0.0)


# ---------------------------------------------------------------------------
# configuration
# ---------------------------------------------------------------------------


def test_config_pulse_train_matches_builder():
    table = {"kind": "pulse_train", "amplitude": "-5 V", "width": "5 ms", "rest": "100 ms", "count": 20}
    assert protocol_from_config(table, "run.toml") == pulse_train(-5.0, 5e-3, 0.1, 20)
    with_options = dict(table, read_voltage="100 mV", read_width="2 ms", rise="0.5 ms")
    assert protocol_from_config(with_options, "run.toml") == pulse_train(-5.0, 5e-3, 0.1, 20, 0.1, 2e-3, 0.5e-3)


def test_config_list_from_toml_concatenates():
    text = """
    [[protocol]]
    kind = "voltage_sweep"
    start = "0 V"
    vertices = ["-5 V", "0 V", "5 V", "0 V"]
    rate = "1 V/s"
    cycles = 2

    [[protocol]]
    kind = "cyclic_voltammetry"
    lower = "0 V"
    upper = "2.5 V"
    rate = "50 mV/s"

    [[protocol]]
    kind = "hold"
    voltage = "0.1 V"
    duration = "1 min"
    compliance = "100 uA"
    repeat = 2

    [[protocol]]
    kind = "forming_ramp"
    start = "0 V"
    stop = "10 V"
    rate = "0.1 V/s"
    compliance_current = "50 uA"

    [[protocol]]
    kind = "ltp_ltd_cycles"
    amplitude = "5 V"
    width = "5 ms"
    rest = "100 ms"
    pulses_per_phase = 10
    cycles = 2

    [[protocol]]
    kind = "rest"
    duration = "1 h"

    [[protocol]]
    kind = "galvanostatic_cycles"
    current = "1 uA"
    lower = "0 V"
    upper = "2.5 V"
    cycles = 3
    rest = "10 s"
    """
    tables = tomllib.loads(text)["protocol"]
    programme = protocol_from_config(tables, "programme.toml")
    expected = (
        voltage_sweep(0.0, [-5.0, 0.0, 5.0, 0.0], 1.0, cycles=2)
        + cyclic_voltammetry(0.0, 2.5, 0.05)
        + hold(0.1, 60.0, compliance=100e-6) * 2
        + forming_ramp(0.0, 10.0, 0.1, 50e-6)
        + ltp_ltd_cycles(5.0, 5e-3, 0.1, 10, 2)
        + rest(3600.0)
        + galvanostatic_cycles(1e-6, 0.0, 2.5, cycles=3, rest=10.0)
    )
    assert len(programme) == len(expected)
    for got, want in zip(programme, expected):
        assert got.kind == want.kind and got.control == want.control
        assert got.times == pytest.approx(want.times, rel=1e-12)
        assert got.levels == pytest.approx(want.levels, rel=1e-12)
        if want.compliance is None:
            assert got.compliance is None
        else:
            assert got.compliance == pytest.approx(want.compliance, rel=1e-12)
        assert got.limits == want.limits and got.pulse_number == want.pulse_number
    assert programme.n_timed == len(expected) - 3 * 4
    assert programme[4].compliance == pytest.approx(100e-6, rel=1e-12)
    assert programme[2].duration == pytest.approx(2 * 2.5 / 0.05, rel=1e-12)


_TRAIN = {"kind": "pulse_train", "amplitude": "-5 V", "width": "5 ms", "rest": "0.1 s", "count": 2}
_SWEEP = {"kind": "voltage_sweep", "start": "0 V", "vertices": ["1 V"], "rate": "1 V/s"}


@pytest.mark.parametrize(
    ("table", "error", "match"),
    [
        (dict(_TRAIN, amplitude="-5"), UnitError, r"'protocol\.amplitude' in run\.toml"),
        (dict(_TRAIN, width="5 mV"), UnitError, r"'protocol\.width' in run\.toml"),
        (dict(_TRAIN, amplitude=-5), UnitError, "no unit"),
        (dict(_TRAIN, count=2.0), ProtocolError, r"'protocol\.count' must be an integer"),
        (dict(_TRAIN, colour="red"), ProtocolError, r"unknown key\(s\) \['protocol\.colour'\].*allowed: \['amplitude'"),
        ({k: v for k, v in _TRAIN.items() if k != "rest"}, ProtocolError, r"missing key\(s\) \['protocol\.rest'\]"),
        (dict(_TRAIN, kind="zap"), ProtocolError, r"unknown; allowed kinds: \['voltage_sweep', 'pulse_train'"),
        ({"amplitude": "-5 V"}, ProtocolError, r"missing key 'protocol\.kind'"),
        (
            dict(_TRAIN, width="-5 ms"),
            ProtocolError,
            r"run\.toml: 'protocol' \(kind 'pulse_train'\): width must be positive",
        ),
        (dict(_SWEEP, vertices=[]), ProtocolError, "vertices"),
        (dict(_SWEEP, vertices=["1 V", "2 A"]), UnitError, r"'protocol\.vertices\[1\]'"),
        (dict(_SWEEP, rate="1 V"), UnitError, r"'protocol\.rate'"),
        (
            {"kind": "galvanostatic_cycles", "current": "1 uA", "lower": "1 V", "upper": "0 V"},
            ProtocolError,
            "lower",
        ),
        ({"kind": "rest", "duration": "1 s", "repeat": 0}, ProtocolError, r"'protocol\.repeat' must be at least 1"),
        ({"kind": "rest", "duration": "1 s", "repeat": True}, ProtocolError, r"'protocol\.repeat' must be an integer"),
    ],
)
def test_config_errors_name_key_and_origin(table, error, match):
    with pytest.raises(error, match=match):
        protocol_from_config(table, "run.toml")


def test_config_list_errors_name_the_index():
    tables = [{"kind": "rest", "duration": "1 s"}, {"kind": "hold", "voltage": "1 V", "duration": "1 kg"}]
    with pytest.raises(UnitError, match=r"'protocol\[1\]\.duration' in run\.toml"):
        protocol_from_config(tables, "run.toml")
    with pytest.raises(ProtocolError, match="empty list"):
        protocol_from_config([], "run.toml")
    with pytest.raises(ProtocolError, match=r"'protocol\[0\]' must be a table"):
        protocol_from_config(["rest"], "run.toml")
    with pytest.raises(ProtocolError, match="must be a table or a list"):
        protocol_from_config("rest", "run.toml")  # type: ignore[arg-type]


def test_every_protocol_kind_is_buildable_from_config():
    minimal = {
        "voltage_sweep": {"start": "0 V", "vertices": ["1 V"], "rate": "1 V/s"},
        "pulse_train": {"amplitude": "1 V", "width": "1 ms", "rest": "1 ms", "count": 1},
        "ltp_ltd_cycles": {"amplitude": "1 V", "width": "1 ms", "rest": "1 ms", "pulses_per_phase": 1, "cycles": 1},
        "cyclic_voltammetry": {"lower": "0 V", "upper": "1 V", "rate": "1 V/s"},
        "galvanostatic_cycles": {"current": "1 uA", "lower": "0 V", "upper": "1 V"},
        "hold": {"voltage": "1 V", "duration": "1 s"},
        "rest": {"duration": "1 s"},
        "forming_ramp": {"start": "0 V", "stop": "1 V", "rate": "1 V/s", "compliance_current": "1 uA"},
    }
    assert set(minimal) == set(PROTOCOL_KINDS)
    for kind, arguments in minimal.items():
        assert len(protocol_from_config({"kind": kind, **arguments}, "t.toml")) >= 1
