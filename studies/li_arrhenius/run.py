"""Arrhenius plot of the stack's small-signal conductance (paper Fig. S1a, Sec. 2.2).

Problem
-------
The paper quotes E_A = 0.5 eV for Li⁺ conduction (Sec. 2.2, Fig. S1a). What a
measurement on the device sees is the conductance of the whole stack, LiPON
in series with the two host/LiPON interfaces (charge transfer and double
layers) and the hosts' electronic conduction (activated small-polaron
hopping, :func:`femion.physics.lithium.host_electronic_conductivity`), each
with its own temperature dependence. This study *measures* the stack's
activation energy from simulated currents; nothing is read back from the
materials database.

At each temperature T (``device.temperature`` overridden) the pristine device
is held at +δV and at −δV for the read time t_read from the same as-fabricated
state (electric potential + Li electrochemistry through
:class:`femion.Simulation`), and the small-signal conductance
(:func:`femion.analog.stack_conductance`) is

    G(T) = [I(+δV) − I(−δV)] / (2 δV)

with I the device current at the end of the hold. δV = 10 mV is below
RT/F = 26 mV, so Butler–Volmer is linear over ±δV, and the ± difference
removes the cell's emf and its relaxation current (the same at +δV and −δV);
for a linear cell it equals the emf-corrected read conductance
I/(V − V_oc) of :func:`femion.observables.read_conductance`. The fit
ln G = ln G₀ − E_A/(k_B T) (:func:`femion.observables.arrhenius_fit`) gives the
stack's E_A; local slopes E_i = −k_B Δln G/Δ(1/T) between neighbouring
temperatures say whether G is Arrhenius at all: ``arrhenius_linear`` is True
when every local slope lies within 20 % of the fitted E_A. The main read time is
the analog read (1 ms, studies/analog_pulses); further read times are fitted
too, since the double layers are still charging during a ms read.

What sets the stack's E_A: the measurement is repeated on device variants
with one series element made fast in both hosts (:data:`VARIANTS`, material
copies by :func:`femion.analog.host_variant`): the interfacial charge
transfer (i0 ×1000), and that together with the hosts' electronic conduction
(×100). When only LiPON is left to limit, the stack's E_A must approach the
LiPON input.

Outputs: ``arrhenius.nc`` (G per temperature and read time, ``temperature``
and ``read_time`` coordinates), ``summary.json`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.analog import host_variant, read_time_key, stack_conductance
from femion.config import load_study_config, override_device, require_layers
from femion.constants import BOLTZMANN, EV
from femion.io import write_dataset, write_run_metadata
from femion.mesh import build_mesh
from femion.observables import arrhenius_fit
from femion.simulation import SimulationSettings
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"temperatures", "quick_temperatures", "paper_activation_energy", "step_voltage", "read_times"}
ELECTROLYTE = "LiPON"
VARIANTS: dict[str, dict[str, float]] = {
    "interfacial kinetics i0 x1000": {"exchange_current_density": 1000.0},
    "i0 x1000 and host electronic conduction x100": {
        "exchange_current_density": 1000.0, "electronic_conductivity": 100.0, "polaron_conductivity": 100.0},
}
"""Device variants of the decomposition: host material property -> factor (both hosts)."""
LINEARITY_TOLERANCE = 0.2
"""Largest relative deviation of a local slope from the fitted E_A for ``arrhenius_linear``."""


def local_activation_energies(temperature: np.ndarray, conductance: np.ndarray) -> np.ndarray:
    """Local Arrhenius slopes E_i = −k_B Δln G / Δ(1/T) [eV] between neighbouring temperatures, shape (n − 1,).

    Raises
    ------
    ValueError
        If fewer than two points or a value is not positive.
    """
    t, g = np.asarray(temperature, dtype=float), np.asarray(conductance, dtype=float)
    if t.size < 2 or np.any(t <= 0.0) or np.any(g <= 0.0):
        raise ValueError("need at least two positive temperatures and positive conductances")
    order = np.argsort(t)
    t, g = t[order], g[order]
    return -np.diff(np.log(g)) / np.diff(1.0 / t) * BOLTZMANN / EV


def is_arrhenius(local: np.ndarray, fitted: float, tolerance: float = LINEARITY_TOLERANCE) -> bool:
    """Whether every local slope lies within ``tolerance`` (relative) of the fitted E_A."""
    local = np.asarray(local, dtype=float)
    return bool(np.all(np.isfinite(local)) and fitted > 0.0 and np.all(np.abs(local - fitted) <= tolerance * fitted))


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Measure G(T) of the stack for each read time, fit Arrhenius, write the outputs; return the summary."""
    import xarray as xr

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, (ELECTROLYTE,), origin)
    key = "quick_temperatures" if quick else "temperatures"
    temperatures = np.array(sorted(to_si(value, "K", name=key, origin=origin, positive=True) for value in config[key]))
    if temperatures.size < 3:
        raise ValueError(f"{origin}: {key!r} needs at least three temperatures (two local slopes)")
    step_voltage = to_si(config["step_voltage"], "V", name="step_voltage", origin=origin, positive=True)
    read_times = [to_si(value, "s", name="read_times", origin=origin, positive=True) for value in config["read_times"]]
    if not read_times:
        raise ValueError(f"{origin}: 'read_times' must list at least one read time")
    paper_energy = to_si(config["paper_activation_energy"], "eV", name="paper_activation_energy", origin=origin)
    settings = SimulationSettings()
    mesh = build_mesh(device, settings=settings.mesh)  # the geometry does not change with T
    devices = [override_device(device, {"device.temperature": f"{float(t)!r} K"}, origin=origin) for t in temperatures]
    conductance = np.array([[stack_conductance(d, step_voltage, t_read, settings, mesh) for d in devices] for t_read in read_times])

    summary: dict = {
        "quick": quick,
        "temperatures_K": temperatures.tolist(),
        "step_voltage_V": step_voltage,
        "read_times_s": read_times,
        "paper_activation_energy_eV": paper_energy,
        "lipon_activation_energy_eV": device.material(ELECTROLYTE).value("li_activation_energy"),
        "host_polaron_activation_energy_eV": {h: device.material(h).value("polaron_activation_energy")
                                               for h in (layer.name for layer in device.films) if device.material(h).kind == "host"},
    }
    for index, t_read in enumerate(read_times):
        g = conductance[index]
        fit = arrhenius_fit(temperatures, g)
        local = local_activation_energies(temperatures, g)
        tag = "" if index == 0 else f"_read_{read_time_key(t_read)}"
        summary[f"activation_energy{tag}_eV"] = fit.activation_energy
        summary[f"local_activation_energy{tag}_eV"] = local.tolist()
        summary[f"arrhenius_linear{tag}"] = is_arrhenius(local, fit.activation_energy)
        summary[f"G_300K{tag}_S"] = float(fit.prefactor * np.exp(-fit.activation_energy * EV / (BOLTZMANN * 300.0)))  # from the fit
        summary[f"G{tag}_S"] = g.tolist()
        print(f"  read {t_read * 1e3:g} ms: stack E_A {fit.activation_energy:.4g} eV, local {np.round(local, 3).tolist()} eV, "
              f"Arrhenius: {summary[f'arrhenius_linear{tag}']}")
    summary["variants"] = {}
    for index, (label, factors) in enumerate(VARIANTS.items()):
        variant = host_variant(device, factors, outdir / "variants" / f"variant_{index}")
        row = {}
        for t_read in read_times:
            g = np.array([stack_conductance(override_device(variant, {"device.temperature": f"{float(t)!r} K"}, origin=origin),
                                            step_voltage, t_read, settings, mesh) for t in temperatures])
            row[read_time_key(t_read)] = {"activation_energy_eV": arrhenius_fit(temperatures, g).activation_energy,
                                          "local_activation_energy_eV": local_activation_energies(temperatures, g).tolist()}
        summary["variants"][label] = row
        print(f"  {label}: stack E_A " + ", ".join(f"{k} read {v['activation_energy_eV']:.3g} eV" for k, v in row.items()))
    dataset = xr.Dataset(
        {"G": (("read_time", "temperature"), conductance, {"units": "S", "long_name": "small-signal stack conductance [I(+dV) - I(-dV)]/(2 dV)"})},
        coords={"temperature": ("temperature", temperatures, {"units": "K"}), "read_time": ("read_time", np.array(read_times), {"units": "s"})},
    )
    write_dataset(outdir / "arrhenius.nc", dataset)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    (outdir / "findings.md").write_text(findings(summary))
    write_run_metadata(outdir, device, {"study": "li_arrhenius", "summary": summary})
    return summary


def findings(summary: dict) -> str:
    """The stack's measured activation energy next to the paper's, as Markdown."""
    lines = [
        "# Arrhenius plot of the stack (paper Fig. S1a): what this run shows",
        "",
        f"- Small-signal conductance G = [I(+δV) − I(−δV)]/(2δV), δV = {summary['step_voltage_V'] * 1e3:g} mV, of the pristine "
        f"stack at {', '.join(f'{t:g}' for t in summary['temperatures_K'])} K.",
        f"- Inputs (not fitted back): LiPON Li⁺ conduction E_A {summary['lipon_activation_energy_eV']:.3g} eV; host polaron hopping W "
        + ", ".join(f"{h} {w:.3g} eV" for h, w in summary["host_polaron_activation_energy_eV"].items()) + ".",
    ]
    for index, t_read in enumerate(summary["read_times_s"]):
        tag = "" if index == 0 else f"_read_{read_time_key(t_read)}"
        local = ", ".join(f"{e:.3g}" for e in summary[f"local_activation_energy{tag}_eV"])
        lines.append(
            f"- Read time {t_read * 1e3:g} ms: stack E_A = {summary[f'activation_energy{tag}_eV']:.3g} eV (paper: 0.5 eV); local slopes "
            f"from low to high T: {local} eV → "
            + ("Arrhenius (every local slope within 20 % of the fit)." if summary[f"arrhenius_linear{tag}"]
               else "not Arrhenius (a local slope differs from the fit by more than 20 %): the stack mixes processes with different activation energies.")
        )
    lines += ["", "What sets it (same measurement on device variants, both hosts changed):", ""]
    for label, row in summary["variants"].items():
        lines.append(f"- {label}: " + "; ".join(
            f"{key} read: E_A {v['activation_energy_eV']:.3g} eV, local {', '.join(f'{e:.3g}' for e in v['local_activation_energy_eV'])} eV"
            for key, v in row.items()))
    lines.append(f"- LiPON input for comparison: {summary['lipon_activation_energy_eV']:.3g} eV. The exchange current density i0 of "
                 "the host/LiPON interfaces carries no activation energy in the model, so R_ct = RT/(F i0) grows with T; "
                 "where the variants approach the LiPON value, the interfaces (and hosts) are what pulls the stack's E_A down.")
    return "\n".join(lines) + "\n"
