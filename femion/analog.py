"""LTP/LTD pulse trains of the analog memristor mode and their figures (paper Fig. 3b–c).

Shared by the studies ``analog_pulses`` (the trains, read-time sweep and
sensitivity), ``calibration_analog`` (the train as the forward model of the
fit), ``li_arrhenius`` (host-property variants) and ``li_inventory`` (the
conductance window).

The train
---------
A read at V_read for ``read_width`` on the pristine device, then per cycle a
potentiation (LTP) branch of ``pulses`` pulses of −|V_p| and a depression
(LTD) branch of ``pulses`` pulses of +|V_p|, each pulse of ``width``
followed by a rest at 0 V for ``rest`` and a read
(:func:`femion.protocols.pulse_train`, :func:`femion.protocols.read_step`).
Every pulse is its own piece of a :class:`femion.simulation.ProtocolChain`
(full Li physics of :class:`femion.Simulation`), so the reads up to a failed
pulse are kept. ``G`` of a read is the emf-corrected read conductance
I/(V_read − V_oc) (:func:`femion.observables.read_conductance`).

Figures (:func:`train_figures`)
-------------------------------
* the window G_max/G_min (:func:`window`, paper ≈ 57.5);
* NeuroSim's nonlinearity constant A of each branch,
  G(p) = B(1 − e^{−p/A}) + G₀, and its label (:func:`branch_metrics`; Chen,
  Peng & Yu, IEEE TCAD 37, 3067 (2018); :func:`femion.observables.fit_nonlinearity`);
* the cycle-to-cycle variation std/mean of G at the end of each LTP and LTD
  branch (:func:`femion.observables.cycle_to_cycle_variation`, paper ≈ 1 %);
* whether G rises under the LTP and falls under the LTD pulses (computed,
  not assumed), and the open-circuit voltage before the reads.

The small-signal read (:func:`stack_conductance`)
--------------------------------------------------
G = [I(+δV) − I(−δV)]/(2 δV) of two holds from the same state: the emf-free
conductance of the stack at a small step, used for its Arrhenius plot
(``studies/li_arrhenius``, paper Fig. S1a) and by the calibration evaluator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from femion.observables import conductance_ratio, cycle_to_cycle_variation, fit_nonlinearity, nonlinearity_label
from femion.protocols import Protocol, hold, pulse_train, read_step
from femion.simulation import ProtocolChain, Simulation, SimulationError, SimulationSettings
from femion.units import to_integer, to_si

__all__ = [
    "HOSTS",
    "READ_UNITS",
    "TRAIN_SETTINGS",
    "PulseTrain",
    "TrainRun",
    "branch_metrics",
    "host_variant",
    "read_time_key",
    "run_train",
    "stack_conductance",
    "train_figures",
    "window",
]

HOSTS = ("WO3", "MoO3")
"""The Li host layers whose properties :func:`host_variant` scales."""

TRAIN_SETTINGS = SimulationSettings(min_step_fraction=1e-4)
"""Time-loop settings of a train: a pulse whose dt collapses stops with a SimulationError (dt < 0.5 µs for a 5 ms pulse)
instead of creeping on."""

READ_UNITS = {"G": "S", "G_raw": "S", "current": "A", "amplitude": "V", "open_circuit_voltage": "V", "time": "s",
              "read_time": "s", "read_voltage": "V"}
"""SI units of the read variables of a train (``ProtocolChain.reads``), written as ``units`` attributes."""


def window(conductance) -> float:
    """The conductance window G_max/G_min of the reads, NaN when a conductance is not positive and finite.

    Parameters
    ----------
    conductance : array_like, shape (n,)
        Read conductances [S].

    Returns
    -------
    float
        G_max/G_min (:func:`femion.observables.conductance_ratio`; paper Fig. 3b: ≈ 57.5), or NaN where that
        raises (no conductances, or one not positive and finite).
    """
    try:
        return conductance_ratio(conductance)
    except ValueError:
        return float("nan")


def read_time_key(duration: float) -> str:
    """Summary-key tag of a read time ``duration`` [s], in ms: 1e-4 -> ``"0.1ms"``."""
    return f"{duration * 1e3:g}ms"


def host_variant(device, factors: dict[str, float], folder: Path):
    """``device`` with each property in ``factors`` multiplied by its factor in both hosts (:data:`HOSTS`).

    The scaled host materials are copies of the database files written to
    ``folder`` (:func:`femion.materials.material_variant`, ``source = "assumed"``
    for the scaled values); the device uses them through
    :func:`femion.config.override_device`. A sensitivity device, not a physics
    model: which property sets an observable.

    Parameters
    ----------
    device : femion.config.Device
        The base device (with WO3 and MoO3 layers).
    factors : dict of str to float
        Material property name (as in the material TOML) -> dimensionless factor.
    folder : Path
        Where the material copies go (``<host>.toml``).

    Returns
    -------
    femion.config.Device
        The device with the scaled host materials (``device`` itself when ``factors`` is empty).

    Raises
    ------
    femion.materials.MaterialError
        If a host material lacks a property.
    KeyError
        If the device has no WO3 or MoO3 layer.
    """
    import tomllib

    from femion.config import override_device
    from femion.materials import load_material, material_variant

    overrides = {}
    for host in HOSTS:
        name = device.layer(host).material
        table = tomllib.loads(Path(load_material(name).path).read_text(encoding="utf-8"))
        changes = {key: (table[key]["value"] * factor, "assumed") for key, factor in factors.items()}
        path = material_variant(name, changes, folder / f"{host}.toml")
        overrides[f"device.layers.{host}.material"] = str(path)
    return override_device(device, overrides, origin=str(folder)) if overrides else device


def _nan_mean(values: list[float]) -> float:
    """Mean of the finite values, NaN when there are none (no warning)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _nan_max(values: list[float]) -> float:
    """Largest finite value, NaN when there are none (no warning)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.max(finite)) if finite else float("nan")


def branch_metrics(g: np.ndarray, direction: str) -> dict:
    """NeuroSim nonlinearity of one LTP or LTD branch.

    Parameters
    ----------
    g : ndarray, shape (n,)
        Read conductances [S] of the branch, in pulse order.
    direction : {"LTP", "LTD"}
        The expected sense (LTP rises, LTD falls).

    Returns
    -------
    dict
        ``a``: the constant A of G(p) = B(1 − e^{−p/A}) + G₀ [pulses] (:func:`femion.observables.fit_nonlinearity`;
        Chen, Peng & Yu, IEEE TCAD 37, 3067 (2018)); ``rms``: the RMS residual of that fit [S]; ``label``: NeuroSim's
        nonlinearity label of A (:func:`femion.observables.nonlinearity_label`). All NaN when the branch cannot be
        fitted (fewer than 3 points, not monotonic) or is monotonic in the other sense.
    """
    try:
        fit = fit_nonlinearity(g)
    except ValueError:
        return {"a": float("nan"), "rms": float("nan"), "label": float("nan")}
    if fit.direction != direction:
        return {"a": float("nan"), "rms": float("nan"), "label": float("nan")}
    return {"a": fit.a, "rms": fit.rms_residual, "label": nonlinearity_label(fit.a, direction)}


@dataclass(frozen=True)
class PulseTrain:
    """The pulses and reads of an LTP/LTD train (module docstring).

    Attributes
    ----------
    amplitude : float
        Main pulse magnitude |V_p| [V], positive (paper Fig. 3b: 5 V).
    width : float
        Pulse duration [s], positive (paper: 5 ms).
    rest : float
        Rest at 0 V between pulse and read [s], non-negative.
    read_voltage : float
        V_read [V], non-zero (paper: 0.1 V).
    read_width : float
        Read duration [s], positive; G is read at its end.
    pulses : int
        Pulses per LTP and per LTD branch, at least 3 (the nonlinearity fit).
    """

    amplitude: float
    width: float
    rest: float
    read_voltage: float
    read_width: float
    pulses: int

    @classmethod
    def from_config(cls, config: dict, pulses_key: str, origin: str = "config.toml") -> PulseTrain:
        """The train of a study's raw config table.

        Parameters
        ----------
        config : dict
            Raw table (:func:`femion.config.load_study_config`) with ``amplitude``, ``pulse_width``,
            ``pulse_rest``, ``read_voltage``, ``read_width`` (quantity strings) and ``pulses_key``.
        pulses_key : str
            Key of the pulses per branch (e.g. ``pulses_per_phase`` or ``quick_pulses_per_phase``).
        origin : str
            The config file, named in error messages.

        Raises
        ------
        ValueError
            A bad quantity or unit, ``amplitude`` or ``read_voltage`` of 0 V, a non-positive width, a negative
            rest, or fewer than 3 pulses (the message names the key and ``origin``).
        """
        si = lambda key, unit, **sign: to_si(config[key], unit, name=key, origin=origin, **sign)  # noqa: E731
        amplitude = abs(si("amplitude", "V"))
        if amplitude == 0.0:
            raise ValueError(f"{origin}: 'amplitude' must not be 0 V")
        width, rest = si("pulse_width", "s", positive=True), si("pulse_rest", "s", nonnegative=True)
        read_voltage, read_width = si("read_voltage", "V"), si("read_width", "s", positive=True)
        if read_voltage == 0.0:
            raise ValueError(f"{origin}: 'read_voltage' must not be 0 V (G = I/V_read)")
        pulses = to_integer(config[pulses_key], name=pulses_key, origin=origin, minimum=3)  # 3: the nonlinearity fit
        return cls(amplitude, width, rest, read_voltage, read_width, pulses)

    def read(self, duration: float | None = None) -> Protocol:
        """A read at V_read of ``duration`` [s] (default ``read_width``) (:func:`femion.protocols.read_step`)."""
        return read_step(self.read_voltage, self.read_width if duration is None else duration)

    def pulse(self, voltage: float, number: int, phase: str, cycle: int) -> Protocol:
        """One pulse of ``voltage`` [V] (signed), its rest and its read, numbered ``number`` in ``phase`` of ``cycle``."""
        return pulse_train(voltage, self.width, self.rest, 1, self.read_voltage, self.read_width,
                           first_pulse_number=number, phase=phase, cycle=cycle)


@dataclass
class TrainRun:
    """Outcome of :func:`run_train`.

    Attributes
    ----------
    chain : ProtocolChain
        The chain: ``chain.reads`` (one dataset per read, tagged with the pulse ``amplitude``), ``chain.curves``,
        ``chain.state`` (the last state) and ``chain.mesh``.
    probes : list of dict
        Per piece (pristine read, then each pulse): {read time [s]: (G [S], G_raw [S])} of the probe reads of
        :meth:`ProtocolChain.run` (empty dicts without probe times).
    li_after : dict of str to ndarray
        ``c_li`` [mol/m³] on all cells after the last completed LTP and LTD branch, keyed by the phase.
    failure : str or None
        What stopped the train (``±V, cycle c phase, pulse n: error``), None when it completed.
    """

    chain: ProtocolChain
    probes: list[dict] = field(default_factory=list)
    li_after: dict[str, np.ndarray] = field(default_factory=dict)
    failure: str | None = None


def run_train(device, settings: SimulationSettings, train: PulseTrain, magnitude: float, cycles: int,
              probe_times: tuple[float, ...] = ()) -> TrainRun:
    """Run the pristine read and ``cycles`` LTP/LTD cycles of pulses of ``magnitude`` (module docstring).

    Parameters
    ----------
    device : femion.config.Device
        The device (full Li physics of :class:`femion.Simulation`).
    settings : SimulationSettings
        Time-loop settings (:data:`TRAIN_SETTINGS` in the studies).
    train : PulseTrain
        Widths, read and pulses per branch.
    magnitude : float
        Pulse magnitude [V], positive: LTP pulses −magnitude, LTD pulses +magnitude.
    cycles : int
        LTP/LTD cycles; pulse numbers continue across branches and cycles.
    probe_times : tuple of float
        Further read durations [s] probed from the state before every read (:meth:`ProtocolChain.run`).

    Returns
    -------
    TrainRun
        The chain and what the train recorded. A :class:`femion.simulation.SimulationError` or a ``ValueError``
        (the Li model rejecting a state after an accepted step) stops the train; the reads completed before it
        are kept and the error is named in ``failure``.
    """
    chain = ProtocolChain(device, settings)
    outcome = TrainRun(chain)
    number, phase, cycle = 1, "pristine", 0
    try:
        outcome.probes.append(chain.run(train.read(), magnitude, probe_times))
        for cycle in range(1, cycles + 1):
            for phase, sign in (("LTP", -1.0), ("LTD", 1.0)):
                for _ in range(train.pulses):  # one piece per pulse: reads up to a failure are kept
                    outcome.probes.append(chain.run(train.pulse(sign * magnitude, number, phase, cycle), magnitude, probe_times))
                    number += 1
                outcome.li_after[phase] = chain.state.fields["c_li"].copy()
    except (SimulationError, ValueError) as error:
        # pristine: the first read
        outcome.failure = f"{'-' if phase == 'LTP' else '+'}{magnitude:g} V, cycle {cycle} {phase}, pulse {number}: {error}"
    return outcome


def train_figures(reads) -> dict:
    """The figures of one train's reads (module docstring).

    Parameters
    ----------
    reads : xarray.Dataset
        The train's reads along ``read`` (``xr.concat(TrainRun.chain.reads, dim="read")``): ``G`` [S],
        ``G_raw`` [S], ``phase`` ("pristine", "LTP", "LTD"), ``cycle``, ``open_circuit_voltage`` [V]; the first
        read is the pristine one.

    Returns
    -------
    dict
        ``G_pristine_S``; ``G_end_first_LTP_S`` and ``G_end_first_LTD_S``; ``G_max_per_cycle_S`` and
        ``G_min_per_cycle_S`` (G at the end of each LTP and LTD branch); ``G_LTP_first_cycle_S`` and
        ``G_LTD_first_cycle_S`` (the first cycle's branches, each from the read before its first pulse);
        ``G_max_S``, ``G_min_S``, ``G_max_over_G_min`` (NaN for the pristine read alone); ``G_raw_pristine_S``,
        ``G_raw_max_over_G_min``; ``ltp_rises`` and ``ltd_falls`` (every branch ends above / below the read before
        it); NeuroSim ``nonlinearity_A_*``, ``nonlinearity_label_*`` (means over the cycles, NaN branches left out),
        ``nonlinearity_A_*_per_cycle`` and ``nonlinearity_rms_residual_*`` (largest); ``c2c_variation_G_max`` and
        ``c2c_variation_G_min`` (NaN below two cycles); ``open_circuit_voltage_first/last/min/max_read_V`` [V].

    Raises
    ------
    IndexError
        If ``reads`` is empty.
    """
    g, phase, cycle = reads.G.values, reads.phase.values, reads.cycle.values
    g_pristine = float(g[0])
    ltp_a, ltd_a, ltp_rms, ltd_rms, g_high, g_low, rises, falls = [], [], [], [], [], [], [], []
    ltp_label, ltd_label = [], []
    first_branches: dict[str, list[float]] = {}
    previous = g_pristine
    for c in range(1, int(cycle.max()) + 1):
        for name in ("LTP", "LTD"):
            branch = g[(cycle == c) & (phase == name)]
            if branch.size == 0:
                continue
            metrics = branch_metrics(branch, name)
            (ltp_a if name == "LTP" else ltd_a).append(metrics["a"])
            (ltp_rms if name == "LTP" else ltd_rms).append(metrics["rms"])
            (ltp_label if name == "LTP" else ltd_label).append(metrics["label"])
            if name == "LTP":
                rises.append(bool(branch[-1] > previous))
                g_high.append(branch[-1])
            else:
                falls.append(bool(branch[-1] < previous))
                g_low.append(branch[-1])
            if c == 1:  # the first cycle's branches, each from the read before its first pulse
                first_branches[name] = [float(previous), *map(float, branch)]
            previous = branch[-1]
    return {
        "G_pristine_S": g_pristine,
        "G_end_first_LTP_S": float(g_high[0]) if g_high else float("nan"),
        "G_end_first_LTD_S": float(g_low[0]) if g_low else float("nan"),
        "G_max_per_cycle_S": [float(x) for x in g_high],
        "G_min_per_cycle_S": [float(x) for x in g_low],
        "G_LTP_first_cycle_S": first_branches.get("LTP", []),
        "G_LTD_first_cycle_S": first_branches.get("LTD", []),
        "G_max_S": float(g.max()),
        "G_min_S": float(g.min()),
        "G_max_over_G_min": window(g) if g.size > 1 else float("nan"),  # the pristine read alone is no window
        "G_raw_pristine_S": float(reads.G_raw.values[0]),
        "G_raw_max_over_G_min": window(reads.G_raw.values),
        "ltp_rises": bool(rises) and all(rises),
        "ltd_falls": bool(falls) and all(falls),
        "nonlinearity_A_LTP": _nan_mean(ltp_a),
        "nonlinearity_A_LTD": _nan_mean(ltd_a),
        "nonlinearity_label_LTP": _nan_mean(ltp_label),
        "nonlinearity_label_LTD": _nan_mean(ltd_label),
        "nonlinearity_A_LTP_per_cycle": ltp_a,
        "nonlinearity_A_LTD_per_cycle": ltd_a,
        "nonlinearity_rms_residual_LTP": _nan_max(ltp_rms),
        "nonlinearity_rms_residual_LTD": _nan_max(ltd_rms),
        "c2c_variation_G_max": cycle_to_cycle_variation(np.array(g_high)) if len(g_high) > 1 else float("nan"),
        "c2c_variation_G_min": cycle_to_cycle_variation(np.array(g_low)) if len(g_low) > 1 else float("nan"),
        "open_circuit_voltage_first_read_V": float(reads.open_circuit_voltage.values[0]),
        "open_circuit_voltage_last_read_V": float(reads.open_circuit_voltage.values[-1]),
        "open_circuit_voltage_min_V": float(reads.open_circuit_voltage.values.min()),
        "open_circuit_voltage_max_V": float(reads.open_circuit_voltage.values.max()),
    }


def stack_conductance(device, step_voltage: float, read_time: float, settings: SimulationSettings, mesh=None) -> float:
    """Small-signal conductance of the stack from ±``step_voltage`` holds of ``read_time`` from the as-fabricated state.

    G = [I(+δV) − I(−δV)] / (2 δV), with I the device current at the end of each
    hold (:func:`femion.protocols.hold`, full Li physics of
    :class:`femion.simulation.Simulation`: LiPON in series with the two
    host/LiPON interfaces, Butler–Volmer and double layers, and the hosts'
    electronic conduction). For δV below RT/F (26 mV at 300 K) Butler–Volmer is
    linear over ±δV and the ± difference removes the cell's emf and its
    relaxation current (the same at +δV and −δV), so for a linear cell G equals
    the emf-corrected read conductance I/(V − V_oc)
    (:func:`femion.observables.read_conductance`). The Arrhenius plot of G(T) is
    paper Fig. S1a (Sec. 2.2, E_A = 0.5 eV).

    Parameters
    ----------
    device : femion.config.Device
        The device (its ``temperature`` sets T).
    step_voltage : float
        δV [V], positive (10 mV in ``studies/li_arrhenius``).
    read_time : float
        Hold duration [s], positive; the current is taken at its end.
    settings : SimulationSettings
        Time-loop settings.
    mesh : femion.mesh.AxisymmetricMesh, optional
        A mesh of ``device`` to reuse; None builds one.

    Returns
    -------
    float
        G [S].

    Raises
    ------
    femion.protocols.ProtocolError
        On a non-finite step or a non-positive read time.
    femion.simulation.SimulationError
        If a hold fails to integrate.
    """
    currents = []
    for sign in (1.0, -1.0):
        simulation = Simulation(device, hold(sign * step_voltage, read_time, max_step=read_time), settings, mesh=mesh)
        currents.append(simulation.run(None, progress=False).state.current)
    return (currents[0] - currents[1]) / (2.0 * step_voltage)
