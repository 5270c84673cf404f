"""Stress maps: σ_rr, σ_θθ, σ_zz, σ_vm, ε_p and porosity in the stack after a slow and a fast sweep.

Problem
-------
The Pt-electrode reference device is swept 0 → −5 V → 0 at 0.05 V/s (the
paper's programming rate) and at 1 V/s (its analog-mode rate). The coupled
electrostatics + Li model gives the Li history; the mechanics of femion.physics.mechanics
(Vegard eigenstrain, J2 plasticity of Pt, Rice–Tracey porosity, blister of the
WO3+Pt sub-stack if the WO3|LiPON interface debonds) follows it step by step
(:func:`femion.physics.mechanics.run_mechanics_on_history`). The final fields
are written as (r, z) cell maps.

Outputs: ``fields_<rate>.vtu`` (ParaView), ``maps.nc`` (cell fields with their
centroids, per rate), ``summary.json`` and the run provenance; ``plot.py``
draws the (r, z) maps and pyvista cut-aways.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

import femion
from femion.config import load_study_config, override_device, require_layers
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.mesh import settings_for_profile
from femion.physics.mechanics import (
    LithiumHistoryRecorder,
    MechanicsModule,
    MechanicsSettings,
    radial_profile,
    run_mechanics_on_history,
)
from femion.physics.electrostatics import (
    conduction_regions,
    electrode_interface,
    field_enhancement,
    layer_conductivity,
    solve_potential,
)
from femion.physics.porosity import BlisterSettings
from femion.protocols import voltage_sweep
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {
    "electrode",
    "rates",
    "start_voltage",
    "vertices",
    "voltage_increment",
    "quick_voltage_increment",
    "interface_toughness",
    "initial_porosity",
}
MAP_FIELDS = {
    "sigma_rr": "Pa",
    "sigma_tt": "Pa",
    "sigma_zz": "Pa",
    "sigma_rz": "Pa",
    "sigma_vm": "Pa",
    "sigma_m": "Pa",
    "eps_p_eq": "1",
    "porosity": "1",
    "u_r": "m",
    "u_z": "m",
    "c_li": "mol/m^3",
}


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the electrolyte of the Li model
    device = override_device(device, {f"device.layers.{device.top_electrode.name}.material": config["electrode"]},
                             origin=f"{origin}: 'electrode'")
    rates = [to_si(rate, "V/s", name="rates", origin=origin, positive=True) for rate in config["rates"]]
    start = to_si(config["start_voltage"], "V", name="start_voltage", origin=origin)
    vertices = [to_si(v, "V", name="vertices", origin=origin) for v in config["vertices"]]
    key = "quick_voltage_increment" if quick else "voltage_increment"
    increment = to_si(config[key], "V", name=key, origin=origin, positive=True)
    toughness = to_si(config["interface_toughness"], "J/m^2", name="interface_toughness", origin=origin, positive=True)
    f0 = to_si(config["initial_porosity"], "", name="initial_porosity", origin=origin, positive=True)
    if not f0 < 1.0 or not rates:
        raise ValueError(f"{origin}: need 'initial_porosity' below 1 and at least one of 'rates'")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH if quick else femion.MeshSettings())
    electrode = mesh.region_mask(device.top_electrode.name)

    settings = femion.QUICK_MESH if quick else femion.MeshSettings()

    def beta(profile=None) -> tuple[float, float]:
        """β at the centre and the edge with the pristine conductivities, on a flat or deformed mesh (a steep blister on the
        axis gets a graded axis column, :func:`femion.mesh.settings_for_profile`)."""
        resolved = settings if profile is None else settings_for_profile(device, settings, profile)
        deformed = femion.build_mesh(device, settings=resolved, interface_profile=profile)
        stack = deformed.submesh(conduction_regions(device))
        solution = solve_potential(stack, layer_conductivity(stack, device), 0.1, electrode=electrode_interface(device))
        enhancement = field_enhancement(solution, device)
        return float(enhancement.center), float(enhancement.edge)

    beta_flat = beta()
    maps, summary = {}, {"quick": quick, "cells": mesh.n_cells, "electrode": config["electrode"], "beta_center_flat": beta_flat[0], "beta_edge_flat": beta_flat[1]}
    for rate in rates:
        protocol = voltage_sweep(start, vertices, rate, max_step=increment / rate)
        simulation = femion.Simulation(device, protocol, mesh=mesh)
        recorder = LithiumHistoryRecorder()
        simulation.modules.append(recorder)
        simulation.run(progress=None)
        module = MechanicsModule(mesh, device, MechanicsSettings(initial_porosity=f0, blister=BlisterSettings(toughness=toughness)))
        state, rows = run_mechanics_on_history(module, np.array(recorder.times), recorder.concentrations, progress=None)
        label = f"{rate:g}"
        fields = {name: state.fields[name] for name in MAP_FIELDS}
        write_fields(outdir / f"fields_{label}.vtu", mesh, {f"{name} [{unit}]": fields[name] for name, unit in MAP_FIELDS.items()})
        maps[label] = fields
        bins, profile = radial_profile(mesh, state.fields["porosity"] - np.where(electrode, f0, 0.0), electrode, 2e-6)
        growth = state.fields["porosity"][electrode] - f0
        summary[f"rate_{label}"] = {
            "sigma_vm_max_electrode_Pa": float(state.fields["sigma_vm"][electrode].max()),
            "sigma_vm_center_electrode_Pa": float(state.fields["sigma_vm"][electrode][np.argmin(mesh.cell_centroids[electrode, 0])]),
            "eps_p_max": float(state.fields["eps_p_eq"][electrode].max()),
            "porosity_growth_max": float(growth.max()),
            "porosity_peak_r_m": float(mesh.cell_centroids[electrode, 0][np.argmax(growth)]) if growth.max() > 0 else None,
            "porosity_gauge_peak_r_m": float(bins[np.argmax(profile)]) if growth.max() > 0 else None,
            "blister_height_m": float(state.fields["blister_w"].max()),
            "debonded": bool(state.fields["debonded"].max() > 0.5),
            "max_blister_release_rate_J_m2": max(row["blister_release_rate"] for row in rows),
            "u_z_top_center_m": float(state.fields["u_z"][electrode][np.argmin(mesh.cell_centroids[electrode, 0])]),
            "sigma_rr_wo3_center_Pa": float(
                state.fields["sigma_rr"][mesh.region_mask(device.films[-1].name)][np.argmin(mesh.cell_centroids[mesh.region_mask(device.films[-1].name), 0])]
            ),
            "steps": len(recorder.times),
        }
        profile = module.electrode_profile(state)
        deformed = beta(profile)
        summary[f"rate_{label}"].update(
            beta_center_deformed=deformed[0],
            beta_edge_deformed=deformed[1],
            electrode_lift_center_m=float(profile(np.array([0.0]))[0]),
        )

    dataset = xr.Dataset(
        {
            f"{name}_{label}": ("cell", values[name], {"units": MAP_FIELDS[name], "rate_V_s": float(label)})
            for label, values in maps.items()
            for name in MAP_FIELDS
        },
        coords={
            "r": ("cell", mesh.cell_centroids[:, 0], {"units": "m"}),
            "z": ("cell", mesh.cell_centroids[:, 1], {"units": "m"}),
            "region": ("cell", np.array(mesh.region_names)[mesh.cell_regions]),
        },
        attrs={"title": "femion stress_maps: final mechanics fields per sweep rate", "electrode": config["electrode"]},
    )
    write_dataset(outdir / "maps.nc", dataset)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "stress_maps", "summary": summary})
    for label in maps:
        print(f"  {label} V/s: " + ", ".join(f"{k} = {v:.4g}" for k, v in summary[f"rate_{label}"].items() if isinstance(v, float)))
    return summary
