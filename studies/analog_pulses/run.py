"""LTP/LTD pulse trains of the analog memristor mode (paper Fig. 3b–c).

Problem
-------
The pristine device (Li in its as-fabricated state) is driven through
:class:`femion.Simulation` (electric potential + Li electrochemistry:
quasi-neutral LiPON, Butler–Volmer and double layers at the host/LiPON
interfaces, neutral Li diffusion and polaron conductivity in the hosts) by
potentiation trains of −|V_p| pulses followed by depression trains of +|V_p|
pulses (paper Fig. 3b: ±5 V, 5 ms), each pulse followed by a rest at 0 V and a
read at V_read = 0.1 V for the read time ``read_width`` (1 ms). The main amplitude is
repeated for ``cycles`` LTP/LTD cycles (paper Fig. 3c); further amplitudes run
one cycle each.

The read. The stack is an electrochemical cell (LiPON conducts no
electrons), so its read current carries the cell's emf V_oc (the host OCV
difference, of the order of V_read itself) and relaxes during the read as the
double layers charge. ``G`` is the emf-corrected read conductance
I/(V_read − V_oc) at the end of the read, V_oc the emf just before the read
(:func:`femion.observables.read_conductance`, computed by the read machinery
of :class:`femion.Simulation`); ``G_raw`` = I/V_read is kept for comparison.
Read-time dependence: at every read of the main amplitude, further reads of
the durations ``read_time_sweep`` are run from the same pre-read state (side
runs whose state is discarded), so G(t_read) is compared on identical device
states.

Sensitivity: which mechanism sets the analog window. One LTP/LTD cycle of the
main amplitude is rerun with one ingredient of the model changed in both
hosts at a time (:data:`SENSITIVITY`): host doping off (σ_p = 0, so σ_e no
longer depends on θ), host electronic conduction ×100, interfacial kinetics
i0 ×10, host Li diffusivity ×10 and double-layer capacitance ×0.1; the emf's
share follows from G_raw against G. The window G_max/G_min of each variant is
compared with the baseline.

Every LTP or LTD branch is its own :class:`Simulation`, started from the final
state of the previous one, so that the Li field after potentiation and after
depression is available for the maps; pulse numbers continue across branches.

The train, its figures and the host variants are :mod:`femion.analog` (shared with
``studies/calibration_analog``, ``studies/li_arrhenius`` and ``studies/li_inventory``).

Figures of merit (:func:`femion.analog.train_figures`, :mod:`femion.observables`):

* G_max/G_min over all reads of the main amplitude (paper ≈ 57.5);
* NeuroSim nonlinearity A of each LTP and LTD branch,
  G(p) = B(1 − e^{−p/A}) + G₀ (Chen, Peng & Yu, IEEE TCAD 37, 3067 (2018));
  and NeuroSim's nonlinearity label of A (:func:`femion.observables.nonlinearity_label`),
  the scale on which the paper quotes "0.6/−7.7";
* cycle-to-cycle variation std/mean of G at the end of the LTP branch (G_max
  of the cycle) and at the end of the LTD branch (G_min) (paper ≈ 1 %);
* the open-circuit voltage V_oc (host OCV difference) just before every read;
* G_max/G_min for each read time of ``read_time_sweep``;
* the window of each sensitivity variant.

Whether G rises under negative pulses and falls under positive ones is
computed and stated (``ltp_rises``, ``ltd_falls``), not assumed.

Outputs: ``pulses.nc`` (per read: ``G`` [S], ``G_raw`` [S], ``pulse_number``, ``cycle``,
``phase``, ``amplitude`` [V], ``open_circuit_voltage`` [V], ``time`` [s]),
``read_times.nc`` (main amplitude, per read and read time: ``G``, ``G_raw`` [S]),
``sensitivity.nc`` (per variant and read: ``G``, ``G_raw`` [S]),
``curves.nc`` (main amplitude, per time step), ``li_after_LTP.vtu`` /
``li_after_LTD.vtu`` and ``li_maps.npz`` (Li on the film cells after the last
potentiation and depression branch), ``summary.json``, ``findings.md`` and the
run provenance.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from femion.analog import READ_UNITS, TRAIN_SETTINGS, PulseTrain, host_variant, read_time_key, run_train, train_figures, window
from femion.config import load_study_config, require_layers
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "amplitude", "other_amplitudes", "quick_other_amplitudes", "pulse_width", "pulse_rest", "read_voltage",
    "read_width", "pulses_per_phase", "cycles", "quick_pulses_per_phase", "quick_cycles",
    "read_time_sweep", "quick_read_time_sweep", "sensitivity_pulses_per_phase",
}
SENSITIVITY: dict[str, dict[str, float]] = {
    "baseline": {},
    "no host doping (sigma_p = 0)": {"polaron_conductivity": 0.0},
    "host electronic conduction x100": {"electronic_conductivity": 100.0, "polaron_conductivity": 100.0},
    "interfacial kinetics i0 x10": {"exchange_current_density": 10.0},
    "host Li diffusivity x10": {"li_diffusivity": 10.0},
    "double-layer capacitance x0.1": {"double_layer_capacitance": 0.1},
}
"""Sensitivity variants: material property -> factor applied in both hosts (:data:`femion.analog.HOSTS`)."""
PAPER = {"G_max_over_G_min": 57.5, "nonlinearity_label_LTP": 0.6, "nonlinearity_label_LTD": -7.7, "c2c_variation": 0.01}


def sensitivity(device, settings, train: PulseTrain, pulses: int, folder: Path) -> dict:
    """Reads of one LTP/LTD cycle for each variant of :data:`SENSITIVITY` (the analog window's sensitivity study).

    Parameters
    ----------
    device
        The base device; each variant scales host properties (:func:`femion.analog.host_variant`).
    settings
        Time-loop settings.
    train
        The pulse train (:class:`femion.analog.PulseTrain`) at its main amplitude.
    pulses
        Pulses per LTP and per LTD branch (replacing ``train.pulses``).
    folder
        Where the variant material files go.

    Returns
    -------
    dict
        {label: {"G": ndarray (n_reads,) [S] (emf-corrected), "G_raw": ndarray (n_reads,) [S] (I/V_read),
        "failure": str or None}}; a variant that stops early keeps its completed reads and names the error.
    """
    results = {}
    for index, (label, factors) in enumerate(SENSITIVITY.items()):
        variant = host_variant(device, factors, folder / f"variant_{index}") if factors else device
        outcome = run_train(variant, settings, replace(train, pulses=pulses), train.amplitude, 1)
        reads, failure = outcome.chain.reads, outcome.failure
        g = np.concatenate([r.G.values for r in reads]) if reads else np.array([])
        g_raw = np.concatenate([r.G_raw.values for r in reads]) if reads else np.array([])
        results[label] = {"G": g, "G_raw": g_raw, "failure": failure}
        print(f"  sensitivity {label}: G_max/G_min {window(g):.4g} (raw {window(g_raw):.4g})" + (f"; FAILED: {failure}" if failure else ""))
    return results


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the LTP/LTD trains, the read-time sweep and the sensitivity variants; write the outputs; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    si = lambda key, unit, value=None, **sign: to_si(config[key] if value is None else value, unit, name=key, origin=origin, **sign)  # noqa: E731
    key_pulses, key_cycles = ("quick_pulses_per_phase", "quick_cycles") if quick else ("pulses_per_phase", "cycles")
    train = PulseTrain.from_config(config, key_pulses, origin)
    amplitude, pulses, read_voltage, read_width = train.amplitude, train.pulses, train.read_voltage, train.read_width
    others = [abs(si("other_amplitudes", "V", v)) for v in config["quick_other_amplitudes" if quick else "other_amplitudes"]]
    sweep_key = "quick_read_time_sweep" if quick else "read_time_sweep"
    read_times = sorted({read_width, *(si(sweep_key, "s", v, positive=True) for v in config[sweep_key])})
    probe_times = tuple(t for t in read_times if t != read_width)
    cycles = to_integer(config[key_cycles], name=key_cycles, origin=origin)
    sensitivity_pulses = to_integer(config["sensitivity_pulses_per_phase"], name="sensitivity_pulses_per_phase", origin=origin,
                                    minimum=0)  # 0: no sensitivity runs
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    settings = TRAIN_SETTINGS

    summary: dict = {"quick": quick, "amplitude_V": amplitude, "pulses_per_phase": pulses, "cycles": cycles,
                     "read_voltage_V": read_voltage, "read_time_s": read_width}
    per_amplitude = {}
    failure_main, failures_other = None, []
    for index, magnitude in enumerate([amplitude, *others]):
        main = index == 0
        outcome = run_train(device, settings, train, magnitude, cycles if main else 1, probe_times if main else ())
        chain = outcome.chain
        if outcome.failure:
            print(f"  FAILED: {outcome.failure}")
            if not main:
                failures_other.append(outcome.failure)
            else:
                failure_main = outcome.failure
        per_amplitude[magnitude] = xr.concat(chain.reads, dim="read")
        if main:
            main_chain, probes, maps = chain, outcome.probes, outcome.li_after  # probes: {read time: (G, G_raw)} per read
            write_dataset(outdir / "curves.nc", xr.concat(chain.curves, dim="time"))
    pulses_ds = xr.concat(list(per_amplitude.values()), dim="read")
    for name, unit in READ_UNITS.items():
        pulses_ds[name].attrs["units"] = unit
    write_dataset(outdir / "pulses.nc", pulses_ds)

    reads = per_amplitude[amplitude]
    g = reads.G.values
    # read-time sweep on the main amplitude: the main read plus the probes from the same pre-read states
    n = min(len(probes), reads.sizes["read"])
    sweep_g = np.array([[probes[k][t][0] if t in probes[k] else g[k] for t in read_times] for k in range(n)]).reshape(n, len(read_times))
    sweep_raw = np.array([[probes[k][t][1] if t in probes[k] else reads.G_raw.values[k] for t in read_times] for k in range(n)]).reshape(n, len(read_times))
    write_dataset(outdir / "read_times.nc", xr.Dataset(
        {"G": (("read", "read_time"), sweep_g, {"units": "S", "long_name": "emf-corrected I/(V_read - V_oc)"}),
         "G_raw": (("read", "read_time"), sweep_raw, {"units": "S", "long_name": "I/V_read"}),
         "pulse_number": ("read", reads.pulse_number.values[:n], {"units": "1"}), "phase": ("read", reads.phase.values[:n])},
        coords={"read_time": ("read_time", np.array(read_times), {"units": "s"})}))

    figures = train_figures(reads)
    g_pristine = figures["G_pristine_S"]
    summary.update({
        "failure": failure_main,
        "failures_other_amplitudes": failures_other,
        "reads_completed": int((reads.pulse_number.values > 0).sum()),
        "reads_planned": 2 * pulses * cycles,
        "cells": main_chain.mesh.n_cells,
        **figures,
        "G_max_over_G_min_per_amplitude": {f"{a:g} V": window(ds.G.values) for a, ds in per_amplitude.items()},
        "read_times_s": list(read_times),
        "paper": PAPER,
    })
    for j, t in enumerate(read_times):
        summary[f"G_max_over_G_min_read_{read_time_key(t)}"] = window(sweep_g[:, j])
        summary[f"G_raw_max_over_G_min_read_{read_time_key(t)}"] = window(sweep_raw[:, j])
        summary[f"G_pristine_read_{read_time_key(t)}_S"] = float(sweep_g[0, j])

    varied = {}
    if sensitivity_pulses > 0:
        varied = sensitivity(device, settings, train, sensitivity_pulses, outdir / "sensitivity")
    baseline = window(varied["baseline"]["G"]) if varied else float("nan")
    table = {}
    for label, result in varied.items():
        w = window(result["G"])
        table[label] = {"G_max_over_G_min": w, "G_raw_max_over_G_min": window(result["G_raw"]),
                        "G_max_S": float(np.max(result["G"])) if result["G"].size else float("nan"),
                        "G_min_S": float(np.min(result["G"])) if result["G"].size else float("nan"),
                        "log_window_change": float(np.log(w / baseline)) if np.isfinite(w) and np.isfinite(baseline) else float("nan"),
                        "failure": result["failure"]}
    summary["sensitivity"] = table
    summary["sensitivity_pulses_per_phase"] = sensitivity_pulses
    changes = {k: abs(v["log_window_change"]) for k, v in table.items() if k != "baseline" and np.isfinite(v["log_window_change"])}
    summary["window_most_sensitive_to"] = max(changes, key=changes.get) if changes else None
    size = max((r["G"].size for r in varied.values()), default=0)
    pad = lambda a: np.concatenate([a, np.full(size - a.size, np.nan)])  # noqa: E731
    write_dataset(outdir / "sensitivity.nc", xr.Dataset(  # empty without sensitivity runs
        {"G": (("variant", "read"), np.array([pad(r["G"]) for r in varied.values()]).reshape(len(varied), size), {"units": "S"}),
         "G_raw": (("variant", "read"), np.array([pad(r["G_raw"]) for r in varied.values()]).reshape(len(varied), size), {"units": "S"})},
        coords={"variant": ("variant", np.array(list(varied), dtype=str))}))  # text labels, also when empty

    if maps:
        films = main_chain.mesh.submesh(tuple(layer.name for layer in device.films))
        np.savez_compressed(outdir / "li_maps.npz", nodes=films.nodes, cells=films.cells,
                            **{f"c_li_after_{k}": v[films.parent_cells] for k, v in maps.items()})
        for key, values in maps.items():
            write_fields(outdir / f"li_after_{key}.vtu", films, {"c_li [mol/m^3]": values[films.parent_cells]})
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "analog_pulses", "summary": summary})
    print(f"  G: pristine {g_pristine:.4g} S, max/min {summary['G_max_over_G_min']:.4g} (raw I/V_read {summary['G_raw_max_over_G_min']:.4g}; "
          f"paper 57.5); LTP rises: {summary['ltp_rises']}, LTD falls: {summary['ltd_falls']}")
    print("  read-time sweep: " + ", ".join(f"{read_time_key(t)}: {summary[f'G_max_over_G_min_read_{read_time_key(t)}']:.4g} "
                                             f"(raw {summary[f'G_raw_max_over_G_min_read_{read_time_key(t)}']:.4g})" for t in read_times))
    print(f"  NeuroSim label LTP {summary['nonlinearity_label_LTP']:.3g}, LTD {summary['nonlinearity_label_LTD']:.3g} (paper 0.6/-7.7); "
          f"A: LTP {summary['nonlinearity_A_LTP']:.3g}, LTD {summary['nonlinearity_A_LTD']:.3g}; "
          f"C2C G_max {summary['c2c_variation_G_max']:.3g}, G_min {summary['c2c_variation_G_min']:.3g}")
    return summary


def findings(summary: dict) -> str:
    """The paper's Fig. 3b–c statements next to this run's numbers, as Markdown."""
    yes = lambda ok: "reproduced" if ok else "NOT reproduced"  # noqa: E731
    read_ms = summary["read_time_s"] * 1e3
    lines = [
        "# Analog pulses (paper Fig. 3b-c): what this run shows",
        "",
        f"- The read: {summary['read_voltage_V']:g} V for {read_ms:g} ms after each pulse and rest; G is the "
        f"emf-corrected read conductance I/(V_read − V_oc) at the end of the read, V_oc the cell's emf just before it "
        f"(here {summary['open_circuit_voltage_min_V']:.3g} V to {summary['open_circuit_voltage_max_V']:.3g} V, the same order as V_read). "
        f"The raw I/V_read is reported as G_raw.",
        f"- Potentiation: G rises under −{summary['amplitude_V']:g} V pulses → {yes(summary['ltp_rises'])} "
        f"(pristine {summary['G_pristine_S']:.4g} S, end of first LTP {summary['G_end_first_LTP_S']:.4g} S).",
        f"- Depression: G falls under +{summary['amplitude_V']:g} V pulses → {yes(summary['ltd_falls'])} "
        f"(last read of the first LTD branch {summary['G_end_first_LTD_S']:.4g} S).",
        f"- Reads completed: {summary['reads_completed']} of {summary['reads_planned']} planned"
        + (" (the run stopped early, see below; the figures use the completed reads only)." if summary["failure"] else "."),
        f"- G_max/G_min = {summary['G_max_over_G_min']:.4g} at a {read_ms:g} ms read (raw I/V_read: "
        f"{summary['G_raw_max_over_G_min']:.4g}; paper ≈ 57.5).",
        "- Read-time dependence (same device states, reads of different length): "
        + "; ".join(f"{t * 1e3:g} ms: G_max/G_min {summary[f'G_max_over_G_min_read_{read_time_key(t)}']:.4g} "
                    f"(raw {summary[f'G_raw_max_over_G_min_read_{read_time_key(t)}']:.4g}), pristine G "
                    f"{summary[f'G_pristine_read_{read_time_key(t)}_S']:.3g} S" for t in summary["read_times_s"])
        + ". The read current relaxes while the interface double layers charge, so the window is a property of the read time, not of the state alone.",
        f"- NeuroSim nonlinearity: label LTP {summary['nonlinearity_label_LTP']:.3g}, LTD {summary['nonlinearity_label_LTD']:.3g} "
        f"(paper 0.6/−7.7); constant A: LTP {summary['nonlinearity_A_LTP']:.3g}, LTD {summary['nonlinearity_A_LTD']:.3g} "
        "(small |A| = strongly nonlinear).",
        f"- Cycle-to-cycle variation over {summary['cycles']} planned cycles (NaN: fewer than two completed): G_max {summary['c2c_variation_G_max']:.3g}, "
        f"G_min {summary['c2c_variation_G_min']:.3g} (paper ≈ 1 %); the model is deterministic, so only drift "
        "between cycles can show here, no stochastic variation.",
        f"- Open-circuit voltage before the reads: {summary['open_circuit_voltage_first_read_V']:.4g} V (first) → "
        f"{summary['open_circuit_voltage_last_read_V']:.4g} V (last).",
        "- Host Li transport is the lattice gas with site blocking in the mobility (femion.physics.lithium: "
        "D_chem = D at no interaction). Against the former law (chemical diffusivity D/(1−θ)), the quick run moved by "
        "little (measured 2026-12-04): raw window 16.009 → 16.030, A_LTP 1.398 → 1.401, A_LTD −0.598 → −0.592. The "
        "window is set at the host/LiPON interface (table below), not by diffusion in the host.",
        "",
        f"## What sets the analog window (one LTP/LTD cycle of {summary['sensitivity_pulses_per_phase']} pulses per branch, {read_ms:g} ms read)",
        "",
        "| variant (both hosts) | G_max/G_min | raw I/V_read | G_max (S) | G_min (S) | ln(window/baseline) |",
        "|---|---|---|---|---|---|",
    ]
    for label, row in summary["sensitivity"].items():
        name = f"{label} (failed: {' '.join(str(row['failure']).split())})" if row["failure"] else label
        lines.append(f"| {name} | {row['G_max_over_G_min']:.4g} | {row['G_raw_max_over_G_min']:.4g} | {row['G_max_S']:.3g} | "
                     f"{row['G_min_S']:.3g} | {row['log_window_change']:+.3f} |")
    table = summary["sensitivity"]
    if not table:
        lines[-5:] = ["- No sensitivity runs (sensitivity_pulses_per_phase = 0)."]
        if summary["failure"]:
            lines.append(f"- The simulation stopped early: {summary['failure']}")
        return "\n".join(lines) + "\n"
    base = table["baseline"]
    ratio = lambda label, key: table[label][key] / base[key]  # noqa: E731
    lines += [
        "",
        f"The window changes most with: {summary['window_most_sensitive_to']} (largest |ln(window/baseline)|). Against the baseline:",
        "",
    ]
    for label in table:
        if label != "baseline":
            lines.append(f"- {label}: G_max ×{ratio(label, 'G_max_S'):.3g}, G_min ×{ratio(label, 'G_min_S'):.3g}, "
                         f"window ×{ratio(label, 'G_max_over_G_min'):.3g}.")
    lines.append(f"- emf: the raw I/V_read window is ×{base['G_raw_max_over_G_min'] / base['G_max_over_G_min']:.3g} the emf-corrected one "
                 "(V_oc adds to V_read after potentiation and subtracts after depression).")
    capacitive = "double-layer capacitance x0.1"
    if summary["window_most_sensitive_to"] == capacitive and ratio(capacitive, "G_min_S") < 0.5 < ratio(capacitive, "G_max_S"):
        lines += [
            "",
            "Reading: G_max (after potentiation) is a faradaic read, nearly independent of C_dl; G_min (after depression) "
            "follows C_dl, so the depressed-state read current is mostly the charging current of the interface double layers: "
            "depression empties the WO3 surface of Li, charge transfer there stops (i0(θ_s) → 0 and no Li within reach "
            "of the interface), and the read sees a blocking interface whose current decays during the read. The window "
            "is thus set by the Li-depleted interface (interfacial kinetics with the surface occupancy) read through its "
            "double layer, which is why it grows with the read time; the host doping σ_e(θ) is not what sets it.",
        ]
    if summary["failure"]:
        lines.append(f"- The simulation stopped early: {summary['failure']}")
    return "\n".join(lines) + "\n"
