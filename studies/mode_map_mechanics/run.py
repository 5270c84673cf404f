"""Mechanics mode map: which top electrodes deform and open pores, at which sweep rates.

Problem
-------
The paper (§2.6, Fig. S12) programs the pristine device into the power mode by
a slow voltage sweep: Li⁺ intercalation strains the stack, the soft Pt (and Ag)
electrode deforms plastically and opens pores at its centre; Ti and ITO
electrodes do not, and fast sweeps (1 V/s) do not. This study asks femion the
same question.

For each sweep rate the coupled electrostatics + Li model (``femion.Simulation``)
runs the same window 0 → −5 V → 0 (Li drawn into WO3), and the Li field of
every accepted step is recorded. The Li transport does not depend on the
electrode's mechanical properties, so the mechanics (femion.physics.mechanics:
Vegard eigenstrain, J2 plasticity of the electrode, Rice–Tracey porosity,
buckle-delamination blister of the WO3+electrode sub-stack over LiPON) is then
driven along that Li history for each electrode material, twice:

* ``bonded``: the stack stays bonded (linear thin-film mechanics);
* ``blister``: the WO3|LiPON interface debonds when the circular-blister energy
  release rate reaches the interface toughness (Hutchinson & Suo 1992).

Reported per electrode × rate × mechanism (maxima over the sweep): peak
von Mises stress and plastic strain in the electrode, peak porosity (cell
value) and its radius, the radius where the porosity profile averaged over a
``gauge_width`` annulus peaks (the cell peak at the electrode corner is a
singular, mesh-dependent value), the blister energy release rate and height.
Outputs: ``mode_map.nc`` (xarray), ``table.md``, ``summary.json``,
``li_history.nc`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

import femion
from femion.config import load_study_config, override_device, require_layers
from femion.io import write_dataset, write_run_metadata
from femion.physics.mechanics import (
    LithiumHistoryRecorder,
    MechanicsModule,
    MechanicsSettings,
    radial_profile,
    run_mechanics_on_history,
)
from femion.physics.porosity import BlisterSettings
from femion.protocols import voltage_sweep
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "electrodes",
    "rates",
    "start_voltage",
    "vertices",
    "voltage_increment",
    "quick_voltage_increment",
    "gauge_width",
    "interface_toughness",
    "initial_porosity",
}
MECHANISMS = ("bonded", "blister")
QUANTITIES = {
    "sigma_vm_max": ("Pa", "peak von Mises stress in the electrode over the sweep"),
    "eps_p_max": ("1", "peak equivalent plastic strain in the electrode"),
    "porosity_max": ("1", "peak porosity (cell value) in the electrode"),
    "porosity_growth": ("1", "peak porosity minus the initial porosity f0"),
    "porosity_r": ("m", "radius of the peak porosity cell (NaN without growth)"),
    "porosity_gauge_r": ("m", "radius where the gauge-averaged porosity profile peaks (NaN without growth)"),
    "porosity_center_over_edge": ("1", "porosity growth in the gauge bin at r = 0 over that at the electrode edge"),
    "blister_release_rate_max": ("J/m^2", "peak circular-blister energy release rate"),
    "blister_height_max": ("m", "peak blister crest height (0: no blister)"),
}


def li_history(device, rate: float, start: float, vertices: list[float], increment: float, mesh):
    """Run the coupled Li model over the sweep; return (times, voltages, c_li snapshots)."""
    protocol = voltage_sweep(start, vertices, rate, max_step=increment / rate)
    simulation = femion.Simulation(device, protocol, mesh=mesh)
    recorder = LithiumHistoryRecorder()
    simulation.modules.append(recorder)
    simulation.run(progress=None)
    return np.array(recorder.times), np.array(recorder.voltages), recorder.concentrations


def mechanics_on_history(mesh, device, electrode: str, mechanism: str, times, concentrations, gauge: float, settings: dict):
    """Drive one electrode material and mechanism along a Li history; return the quantities and the final state."""
    electrode_device = override_device(device, {f"device.layers.{device.top_electrode.name}.material": electrode})
    blister = BlisterSettings(enabled=mechanism == "blister", toughness=settings["toughness"])
    module = MechanicsModule(mesh, electrode_device, MechanicsSettings(initial_porosity=settings["f0"], blister=blister))
    state, rows = run_mechanics_on_history(module, times, concentrations)
    cells = module.plastic_cells
    porosity = state.fields["porosity"]
    f0 = settings["f0"]
    growth = porosity[cells] - f0
    grown = growth.max() > 1e-12 * max(f0, 1e-300)
    r_cells = mesh.cell_centroids[cells, 0]
    bins, profile = radial_profile(mesh, porosity - np.where(cells, f0, 0.0), cells, gauge)
    edge_bin = profile[np.argmin(np.abs(bins - (device.electrode_radius - gauge)))]
    values = {
        "sigma_vm_max": max(row["mech_sigma_vm_max"] for row in rows),
        "eps_p_max": max(row["mech_eps_p_max"] for row in rows),
        "porosity_max": float(porosity[cells].max()),
        "porosity_growth": float(growth.max()),
        "porosity_r": float(r_cells[np.argmax(growth)]) if grown else float("nan"),
        "porosity_gauge_r": float(bins[np.argmax(profile)]) if grown else float("nan"),
        "porosity_center_over_edge": float(profile[0] / edge_bin) if grown and edge_bin > 0 else float("nan"),
        "blister_release_rate_max": max(row["blister_release_rate"] for row in rows),
        "blister_height_max": max(row["mech_blister_height"] for row in rows),
    }
    return values, state, module


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    rates = [to_si(rate, "V/s", name="rates", origin=origin, positive=True) for rate in config["rates"]]
    start = to_si(config["start_voltage"], "V", name="start_voltage", origin=origin)
    vertices = [to_si(v, "V", name="vertices", origin=origin) for v in config["vertices"]]
    key = "quick_voltage_increment" if quick else "voltage_increment"
    increment = to_si(config[key], "V", name=key, origin=origin, positive=True)
    gauge = to_si(config["gauge_width"], "m", name="gauge_width", origin=origin, positive=True)
    settings = {
        "toughness": to_si(config["interface_toughness"], "J/m^2", name="interface_toughness", origin=origin, positive=True),
        "f0": to_si(config["initial_porosity"], "", name="initial_porosity", origin=origin, positive=True),
    }
    if not settings["f0"] < 1.0:
        raise ValueError(f"{origin}: 'initial_porosity' must be below 1, got {config['initial_porosity']!r}")
    if not rates:
        raise ValueError(f"{origin}: 'rates' must list at least one sweep rate")
    electrodes = list(config["electrodes"])
    for electrode in electrodes:  # an unknown or non-conducting electrode material fails here, not after the first runs
        override_device(device, {f"device.layers.{device.top_electrode.name}.material": electrode}, origin=f"{origin}: 'electrodes'")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH if quick else femion.MeshSettings())

    shape = (len(electrodes), len(rates), len(MECHANISMS))
    table = {name: np.full(shape, np.nan) for name in QUANTITIES}
    li_transfer, li_rows = [], []
    wo3 = mesh.region_mask(device.films[-1].name) & (mesh.cell_centroids[:, 0] < device.electrode_radius)
    for j, rate in enumerate(rates):
        times, voltages, concentrations = li_history(device, rate, start, vertices, increment, mesh)
        dc = np.array([np.average((c - concentrations[0])[wo3], weights=mesh.r_volumes[wo3]) for c in concentrations])
        li_transfer.append(float(np.max(np.abs(dc))))
        li_rows.append((times, voltages, dc))
        jobs = [(i, electrode, k, mechanism) for i, electrode in enumerate(electrodes) for k, mechanism in enumerate(MECHANISMS)]
        for i, electrode, k, mechanism in tqdm(jobs, desc=f"mechanics at {rate:g} V/s", disable=None, leave=False):
            values, _, _ = mechanics_on_history(mesh, device, electrode, mechanism, times, concentrations, gauge, settings)
            for name, value in values.items():
                table[name][i, j, k] = value

    coords = {
        "electrode": ("electrode", electrodes),
        "rate": ("rate", np.array(rates), {"units": "V/s", "long_name": "sweep rate"}),
        "mechanism": ("mechanism", list(MECHANISMS)),
    }
    data = {
        name: (("electrode", "rate", "mechanism"), table[name], {"units": unit, "long_name": text})
        for name, (unit, text) in QUANTITIES.items()
    }
    data["li_transfer"] = ("rate", np.array(li_transfer), {"units": "mol/m^3", "long_name": "peak |mean Δc_Li| in WO3 under the electrode"})
    dataset = xr.Dataset(
        data,
        coords=coords,
        attrs={
            "title": "femion mode_map_mechanics: electrode x sweep rate",
            "sweep": f"{start:g} V -> {vertices} V",
            "interface_toughness_J_m2": settings["toughness"],
            "initial_porosity": settings["f0"],
            "gauge_width_m": gauge,
            "quick": int(quick),
        },
    )
    write_dataset(outdir / "mode_map.nc", dataset)
    history = xr.Dataset(
        {
            f"dc_wo3_{j}": (f"step_{j}", row[2], {"units": "mol/m^3", "rate_V_s": rates[j]})
            for j, row in enumerate(li_rows)
        }
        | {f"voltage_{j}": (f"step_{j}", row[1], {"units": "V"}) for j, row in enumerate(li_rows)}
        | {f"time_{j}": (f"step_{j}", row[0], {"units": "s"}) for j, row in enumerate(li_rows)},
        attrs={"title": "mean Li change in WO3 under the electrode along each sweep"},
    )
    write_dataset(outdir / "li_history.nc", history)

    lines = [
        "| electrode | rate [V/s] | mechanism | Δc_WO3 [mol/m³] | σ_vm max [MPa] | ε_p max | Δf max | r(Δf max) [µm] | r(gauge peak) [µm] | G max [J/m²] | blister δ [µm] |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, electrode in enumerate(electrodes):
        for j, rate in enumerate(rates):
            for k, mechanism in enumerate(MECHANISMS):
                cell = {name: table[name][i, j, k] for name in QUANTITIES}
                lines.append(
                    f"| {electrode} | {rate:g} | {mechanism} | {li_transfer[j]:.0f} | {cell['sigma_vm_max'] / 1e6:.1f} | {cell['eps_p_max']:.2e} | "
                    f"{cell['porosity_growth']:.2e} | {cell['porosity_r'] * 1e6:.1f} | {cell['porosity_gauge_r'] * 1e6:.1f} | "
                    f"{cell['blister_release_rate_max']:.3g} | {cell['blister_height_max'] * 1e6:.2f} |"
                )
    (outdir / "table.md").write_text(
        "# femion mode map (mechanics)\n\n" + "\n".join(lines) + "\n\nNaN radius: no porosity growth (no plastic flow).\n"
    )

    def cell(name, electrode, rate_index, mechanism):
        return float(table[name][electrodes.index(electrode), rate_index, MECHANISMS.index(mechanism)])

    slow, fast = int(np.argmin(rates)), int(np.argmax(rates))
    summary = {
        "quick": quick,
        "cells": mesh.n_cells,
        "li_transfer_slow_mol_m3": li_transfer[slow],
        "li_transfer_fast_mol_m3": li_transfer[fast],
        **{f"eps_p_max_{e}_slow_bonded": cell("eps_p_max", e, slow, "bonded") for e in electrodes},
        **{f"eps_p_max_{e}_fast_bonded": cell("eps_p_max", e, fast, "bonded") for e in electrodes},
        **{f"sigma_vm_max_{e}_slow_bonded": cell("sigma_vm_max", e, slow, "bonded") for e in electrodes},
        "porosity_growth_Pt_slow_bonded": cell("porosity_growth", "Pt", slow, "bonded") if "Pt" in electrodes else None,
        "porosity_gauge_r_Pt_slow_bonded": cell("porosity_gauge_r", "Pt", slow, "bonded") if "Pt" in electrodes else None,
        "porosity_gauge_r_Pt_slow_blister": cell("porosity_gauge_r", "Pt", slow, "blister") if "Pt" in electrodes else None,
        "blister_release_rate_max_Pt_slow": cell("blister_release_rate_max", "Pt", slow, "blister") if "Pt" in electrodes else None,
        "blister_height_max_Pt_slow": cell("blister_height_max", "Pt", slow, "blister") if "Pt" in electrodes else None,
        "electrode_radius_m": device.electrode_radius,
        "interface_toughness_J_m2": settings["toughness"],
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "mode_map_mechanics", "summary": summary})
    print("\n".join(lines))
    return summary
