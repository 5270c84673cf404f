"""LTP/LTD pulse trains of the analog memristor mode (paper Fig. 3b–c).

Problem
-------
The pristine device (Li in its as-fabricated state) is driven through
:class:`femion.Simulation` (electric potential + Li electrochemistry:
quasi-neutral LiPON, Butler–Volmer and double layers at the host/LiPON
interfaces, neutral Li diffusion and polaron conductivity in the hosts) by
potentiation trains of −|V_p| pulses followed by depression trains of +|V_p|
pulses (paper Fig. 3b: ±5 V, 5 ms), each pulse followed by a rest at 0 V and a
read at V_read = 0.1 V (G = I/V_read, MODEL.md §5). The main amplitude is
repeated for ``cycles`` LTP/LTD cycles (paper Fig. 3c); further amplitudes run
one cycle each.

Every LTP or LTD branch is its own :class:`Simulation`, started from the final
state of the previous one, so that the Li field after potentiation and after
depression is available for the maps; pulse numbers continue across branches.

Figures of merit (MODEL.md §5, :mod:`femion.observables`):

* G_max/G_min over all reads of the main amplitude (paper ≈ 57.5);
* NeuroSim nonlinearity A of each LTP and LTD branch,
  G(p) = B(1 − e^{−p/A}) + G₀ (Chen, Peng & Yu, IEEE TCAD 37, 3067 (2018));
  and NeuroSim's nonlinearity label of A (:func:`femion.observables.nonlinearity_label`),
  the scale on which the paper quotes "0.6/−7.7";
* cycle-to-cycle variation std/mean of G at the end of the LTP branch (G_max
  of the cycle) and at the end of the LTD branch (G_min) (paper ≈ 1 %);
* the open-circuit voltage V_oc (host OCV difference) at every read.

Whether G rises under negative pulses and falls under positive ones is
computed and stated (``ltp_rises``, ``ltd_falls``), not assumed.

Outputs: ``pulses.nc`` (per read: ``G`` [S], ``pulse_number``, ``cycle``,
``phase``, ``amplitude`` [V], ``open_circuit_voltage`` [V], ``time`` [s]),
``curves.nc`` (main amplitude, per time step), ``li_after_LTP.vtu`` /
``li_after_LTD.vtu`` and ``li_maps.npz`` (Li on the film cells after the last
potentiation and depression branch), ``summary.json``, ``findings.md`` and the
run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.observables import conductance_ratio, cycle_to_cycle_variation, fit_nonlinearity, nonlinearity_label
from femion.protocols import Protocol, Step, pulse_train
from femion.simulation import Simulation, SimulationError, SimulationSettings
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "amplitude", "other_amplitudes", "quick_other_amplitudes", "pulse_width", "pulse_rest", "read_voltage",
    "read_width", "pulses_per_phase", "cycles", "quick_pulses_per_phase", "quick_cycles",
}
PAPER = {"G_max_over_G_min": 57.5, "nonlinearity_label_LTP": 0.6, "nonlinearity_label_LTD": -7.7, "c2c_variation": 0.01}


class _Chain:
    """Runs protocol pieces one after another, each from the final state of the previous one."""

    def __init__(self, device, settings: SimulationSettings):
        from femion.mesh import build_mesh

        self.device, self.settings = device, settings
        self.mesh = build_mesh(device, settings=settings.mesh)
        self.state = None
        self.curves, self.reads = [], []

    def run(self, protocol: Protocol, amplitude: float):
        simulation = Simulation(self.device, protocol, self.settings, mesh=self.mesh, start=self.state)  # continue from the previous piece
        result = simulation.run(None, progress=None)
        curves = result.curves
        if self.curves:
            curves = curves.isel(time=slice(1, None))  # the first row repeats the previous piece's last
        self.curves.append(curves)
        if result.reads.data_vars:
            reads = result.reads.assign(
                amplitude=("read", np.full(result.reads.sizes["read"], amplitude)),
                open_circuit_voltage=("read", result.curves.open_circuit_voltage.sel(time=result.reads.time.values).values),
            )
            self.reads.append(reads)
        self.state = result.state
        return result


def read_step(voltage: float, width: float) -> Protocol:
    """A single conductance read at ``voltage`` [V] for ``width`` [s] (the pristine read)."""
    return Protocol((Step.constant("voltage", voltage, width, kind="read", label="pristine read"),))


def _nan_mean(values: list[float]) -> float:
    """Mean of the finite values, NaN when there are none (no warning)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.mean(finite)) if finite else float("nan")


def _nan_max(values: list[float]) -> float:
    """Largest finite value, NaN when there are none (no warning)."""
    finite = [v for v in values if np.isfinite(v)]
    return float(np.max(finite)) if finite else float("nan")


def branch_metrics(g: np.ndarray, direction: str) -> dict:
    """NeuroSim A, its label and the RMS residual of one branch, or NaN when the branch is not monotonic in the expected sense."""
    try:
        fit = fit_nonlinearity(g)
    except ValueError:
        return {"a": float("nan"), "rms": float("nan"), "label": float("nan")}
    if fit.direction != direction:
        return {"a": float("nan"), "rms": float("nan"), "label": float("nan")}
    return {"a": fit.a, "rms": fit.rms_residual, "label": nonlinearity_label(fit.a, direction)}


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the LTP/LTD trains, compute the figures of merit, write the outputs; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    si = lambda key, unit, value=None, **sign: to_si(config[key] if value is None else value, unit, name=key, origin=origin, **sign)  # noqa: E731
    amplitude = abs(si("amplitude", "V"))
    if amplitude == 0.0:
        raise ValueError(f"{origin}: 'amplitude' must not be 0 V")
    others = [abs(si("other_amplitudes", "V", v)) for v in config["quick_other_amplitudes" if quick else "other_amplitudes"]]
    width, rest = si("pulse_width", "s", positive=True), si("pulse_rest", "s", nonnegative=True)
    read_voltage, read_width = si("read_voltage", "V"), si("read_width", "s", positive=True)
    if read_voltage == 0.0:
        raise ValueError(f"{origin}: 'read_voltage' must not be 0 V (G = I/V_read)")
    key_pulses, key_cycles = ("quick_pulses_per_phase", "quick_cycles") if quick else ("pulses_per_phase", "cycles")
    pulses = to_integer(config[key_pulses], name=key_pulses, origin=origin, minimum=3)  # 3: the nonlinearity fit
    cycles = to_integer(config[key_cycles], name=key_cycles, origin=origin)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    # a pulse whose dt collapses stops with a SimulationError (dt < 0.5 us) instead of creeping on
    settings = SimulationSettings(min_step_fraction=1e-4)

    summary: dict = {"quick": quick, "amplitude_V": amplitude, "pulses_per_phase": pulses, "cycles": cycles}
    per_amplitude = {}
    maps = {}
    failure_main, failures_other = None, []
    main_chain = None
    for index, magnitude in enumerate([amplitude, *others]):
        chain = _Chain(device, settings)
        main = index == 0
        n_cycles = cycles if main else 1
        chain.run(read_step(read_voltage, read_width), magnitude)
        number = 1
        try:
            for cycle in range(1, n_cycles + 1):
                for phase, sign in (("LTP", -1.0), ("LTD", 1.0)):
                    for _ in range(pulses):  # one piece per pulse: reads up to a failure are kept
                        chain.run(pulse_train(sign * magnitude, width, rest, 1, read_voltage, read_width,
                                              first_pulse_number=number, phase=phase, cycle=cycle), magnitude)
                        number += 1
                    if main:
                        maps[phase] = chain.state.fields["c_li"].copy()
        except (SimulationError, ValueError) as error:
            # ValueError: the Li model rejects a state (e.g. host occupancy outside (0, 1)) after an accepted step
            failure = f"{'-' if phase == 'LTP' else '+'}{magnitude:g} V, cycle {cycle} {phase}, pulse {number}: {error}"
            print(f"  FAILED: {failure}")
            if not main:
                failures_other.append(failure)
            else:
                failure_main = failure
        per_amplitude[magnitude] = xr.concat(chain.reads, dim="read")
        if main:
            main_chain = chain
            write_dataset(outdir / "curves.nc", xr.concat(chain.curves, dim="time"))
    pulses_ds = xr.concat(list(per_amplitude.values()), dim="read")
    for name, unit in (("G", "S"), ("amplitude", "V"), ("open_circuit_voltage", "V"), ("time", "s"), ("read_voltage", "V")):
        pulses_ds[name].attrs["units"] = unit
    write_dataset(outdir / "pulses.nc", pulses_ds)

    reads = per_amplitude[amplitude]
    g, phase, cycle = reads.G.values, reads.phase.values, reads.cycle.values
    g_pristine = float(g[0])
    ltp_a, ltd_a, ltp_rms, ltd_rms, g_high, g_low, rises, falls = [], [], [], [], [], [], [], []
    ltp_label, ltd_label = [], []
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
            previous = branch[-1]
    summary.update({
        "failure": failure_main,
        "failures_other_amplitudes": failures_other,
        "reads_completed": int((reads.pulse_number.values > 0).sum()),
        "reads_planned": 2 * pulses * cycles,
        "cells": main_chain.mesh.n_cells,
        "G_pristine_S": g_pristine,
        "G_end_first_LTP_S": float(g_high[0]) if g_high else float("nan"),
        "G_end_first_LTD_S": float(g_low[0]) if g_low else float("nan"),
        "G_max_S": float(g.max()),
        "G_min_S": float(g.min()),
        "G_max_over_G_min": conductance_ratio(g),
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
        "G_max_over_G_min_per_amplitude": {f"{a:g} V": conductance_ratio(ds.G.values) for a, ds in per_amplitude.items()},
        "paper": PAPER,
    })
    if maps:
        films = main_chain.mesh.submesh(tuple(layer.name for layer in device.films))
        np.savez_compressed(outdir / "li_maps.npz", nodes=films.nodes, cells=films.cells,
                            **{f"c_li_after_{k}": v[films.parent_cells] for k, v in maps.items()})
        for key, values in maps.items():
            write_fields(outdir / f"li_after_{key}.vtu", films, {"c_li [mol/m^3]": values[films.parent_cells]})
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "analog_pulses", "summary": summary})
    print(f"  G: pristine {g_pristine:.4g} S, max/min {summary['G_max_over_G_min']:.4g} (paper 57.5); "
          f"LTP rises: {summary['ltp_rises']}, LTD falls: {summary['ltd_falls']}")
    print(f"  NeuroSim label LTP {summary['nonlinearity_label_LTP']:.3g}, LTD {summary['nonlinearity_label_LTD']:.3g} (paper 0.6/-7.7); "
          f"A: LTP {summary['nonlinearity_A_LTP']:.3g}, LTD {summary['nonlinearity_A_LTD']:.3g}; "
          f"C2C G_max {summary['c2c_variation_G_max']:.3g}, G_min {summary['c2c_variation_G_min']:.3g}")
    return summary


def findings(summary: dict) -> str:
    """The paper's Fig. 3b–c statements next to this run's numbers, as Markdown."""
    yes = lambda ok: "reproduced" if ok else "NOT reproduced"  # noqa: E731
    lines = [
        "# Analog pulses (paper Fig. 3b-c): what this run shows",
        "",
        f"- Potentiation: G rises under −{summary['amplitude_V']:g} V pulses → {yes(summary['ltp_rises'])} "
        f"(pristine {summary['G_pristine_S']:.4g} S, end of first LTP {summary['G_end_first_LTP_S']:.4g} S).",
        f"- Depression: G falls under +{summary['amplitude_V']:g} V pulses → {yes(summary['ltd_falls'])} "
        f"(last read of the first LTD branch {summary['G_end_first_LTD_S']:.4g} S).",
        f"- Reads completed: {summary['reads_completed']} of {summary['reads_planned']} planned"
        + (" (the run stopped early, see below; the figures use the completed reads only)." if summary["failure"] else "."),
        f"- G_max/G_min = {summary['G_max_over_G_min']:.4g} (paper ≈ 57.5).",
        f"- NeuroSim nonlinearity: label LTP {summary['nonlinearity_label_LTP']:.3g}, LTD {summary['nonlinearity_label_LTD']:.3g} "
        f"(paper 0.6/−7.7); constant A: LTP {summary['nonlinearity_A_LTP']:.3g}, LTD {summary['nonlinearity_A_LTD']:.3g} "
        "(small |A| = strongly nonlinear).",
        f"- Cycle-to-cycle variation over {summary['cycles']} planned cycles (NaN: fewer than two completed): G_max {summary['c2c_variation_G_max']:.3g}, "
        f"G_min {summary['c2c_variation_G_min']:.3g} (paper ≈ 1 %); the model is deterministic, so only drift "
        "between cycles can show here, no stochastic variation.",
        f"- Open-circuit voltage at the reads: {summary['open_circuit_voltage_first_read_V']:.4g} V → "
        f"{summary['open_circuit_voltage_last_read_V']:.4g} V.",
    ]
    if summary["failure"]:
        lines.append(f"- The simulation stopped early: {summary['failure']}")
    return "\n".join(lines) + "\n"
