"""Reference device fields: the read-voltage potential and a Li dose relaxing in WO3.

Problem
-------
1. **Potential at V_read.** On the built-in Pt/WO3/LiPON/MoO3/ITO device,
   solve ∇·(κ∇φ) = 0 with the pristine layer conductivities,
   φ = V_read on the Pt/WO3 interface, 0 on the ITO bottom contact. Report the
   read current, conductance, the share of the LiPON in the series resistance
   (the paper: device resistance dominated by LiPON, Fig. S16a) and the field
   enhancement β at the electrode centre and edge.
2. **Li dose relaxation.** The Li charge one analog pulse can move at most
   (≲ 0.6 mC/cm² for −5 V, 5 ms) is placed in the WO3 cells
   touching LiPON under the electrode and left to diffuse, ∂c/∂t = ∇·(D∇c) in
   WO3 with blocking boundaries, D from the materials database. The study
   reports how long the dopant takes to spread homogeneously across the 200 nm
   film and checks the Li inventory (conserved exactly) and the profile at the
   axis against the 1D Fourier-series solution of the same initial step.

Outputs: ``potential.vtu``, ``lithium.vtu`` (ParaView), ``curves.nc``
(xarray), ``summary.json`` and the run provenance of :func:`femion.io.write_run_metadata`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm import tqdm

import femion
from femion import fvm
from femion.constants import FARADAY
from femion.config import StudyConfigError, load_study_config, require_layers
from femion.io import write_dataset, write_fields, write_run_metadata
from femion.physics.electrostatics import (
    conduction_regions,
    electrode_interface,
    field_enhancement,
    layer_conductivity,
    solve_potential,
)
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"read_voltage", "dose", "rest_time", "time_steps", "first_step"}


def slab_profile(z: np.ndarray, t: float, thickness: float, step: float, diffusivity: float, terms: int = 4000) -> np.ndarray:
    """c(z, t)/c̄ in a blocking slab [0, L] whose initial profile is uniform on [0, step], zero above.

    Fourier cosine series: c/c̄ = 1 + 2 Σ_n [L/(nπ step)] sin(nπ step/L) cos(nπ z/L) exp(−(nπ/L)² D t).
    """
    n = np.arange(1, terms + 1)[:, None]
    k = n * np.pi / thickness
    coefficients = 2.0 * np.sin(k * step) / (k * step)
    return 1.0 + np.sum(coefficients * np.cos(k * z[None, :]) * np.exp(-(k**2) * diffusivity * t), axis=0)


def crossing_time(times: np.ndarray, values: np.ndarray, level: float) -> float:
    """First time at which ``values`` rises through ``level``, interpolated linearly in log t (NaN if never)."""
    above = np.flatnonzero((values[1:] >= level) & (values[:-1] < level))
    if len(above) == 0:
        return float("nan")
    i = above[0]
    fraction = (level - values[i]) / (values[i + 1] - values[i])
    return float(np.exp(np.log(times[i]) + fraction * (np.log(times[i + 1]) - np.log(times[i]))))


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, ("LiPON",), origin)  # the series-resistance share it reports
    read_voltage = to_si(config["read_voltage"], "V", name="read_voltage", origin=origin)
    dose = to_si(config["dose"], "C/m^2", name="dose", origin=origin, positive=True)
    rest_time = to_si(config["rest_time"], "s", name="rest_time", origin=origin, positive=True)
    first_step = to_si(config["first_step"], "s", name="first_step", origin=origin, positive=True)
    if first_step >= rest_time:
        raise StudyConfigError(f"{origin}: 'first_step' ({config['first_step']}) must be shorter than 'rest_time' ({config['rest_time']})")
    steps = max(to_integer(config["time_steps"], name="time_steps", origin=origin, minimum=2) // (2 if quick else 1), 2)

    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH if quick else femion.MeshSettings())

    # 1. Potential at the read voltage.
    conduction = mesh.submesh(conduction_regions(device))
    kappa = layer_conductivity(conduction, device)
    potential = solve_potential(conduction, kappa, read_voltage, electrode=electrode_interface(device))
    enhancement = field_enhancement(potential, device)
    area = np.pi * device.electrode_radius**2
    layer_resistance = {
        layer.name: layer.thickness / kappa[conduction.region_mask(layer.name)][0] / area
        for layer in (device.bottom_electrode, *device.films)
    }
    write_fields(
        outdir / "potential.vtu",
        conduction,
        {
            "phi [V]": potential.phi,
            "E [V/m]": potential.field,
            "beta [1]": enhancement.beta,
            "kappa [S/m]": kappa,
        },
    )

    # 2. Li dose relaxing in WO3 (blocking boundaries: the inventory is closed).
    host = device.films[-1].name
    wo3 = mesh.submesh((host,))
    diffusivity = device.material(host).value("li_diffusivity")
    interface = wo3.face_mask(f"{host}|{device.films[-2].name}")
    bottom_cells = np.unique(wo3.face_cells[interface, 0])
    bottom_cells = bottom_cells[wo3.r_cell[bottom_cells] < device.electrode_radius]
    dose_moles = dose / FARADAY * area  # mol
    c_initial = np.zeros(wo3.n_cells)
    c_initial[bottom_cells] = 1.0
    c_initial *= dose_moles / (2 * np.pi * fvm.r_integral(wo3, c_initial))
    c_li = fvm.cell_variable(wo3, c_initial, name="c_li")
    equation = fvm.transient_term(wo3) == fvm.diffusion_term(wo3, diffusivity)

    times = np.concatenate([[0.0], np.geomspace(first_step, rest_time, steps)])
    axis_cells = np.flatnonzero(wo3.r_cell <= wo3.r_cell.min() * (1 + 1e-9))
    axis_cells = axis_cells[np.argsort(wo3.cell_centroids[axis_cells, 1])]
    z_axis = wo3.cell_centroids[axis_cells, 1] - wo3.nodes[:, 1].min()
    thickness = device.layer(host).thickness
    step_height = z_axis[0] * 2.0  # the dosed cell row spans [0, 2 z_centroid] on a rectangular mesh
    inventory, top_over_bottom, analytic_error = [], [], []
    profiles = []
    for index, t in enumerate(tqdm(times, desc="Li relaxation", unit="step", disable=None)):
        if index > 0:
            equation.solve(var=c_li, dt=t - times[index - 1])
        values = np.asarray(c_li.value)
        inventory.append(2 * np.pi * fvm.r_integral(wo3, values))
        profile = values[axis_cells]
        profiles.append(profile)
        top_over_bottom.append(profile[-1] / profile[0])
        if t > 0:
            exact = slab_profile(z_axis, t, thickness, step_height, diffusivity) * dose_moles / (area * thickness)
            analytic_error.append(float(np.max(np.abs(profile - exact)) / exact.mean()))
        else:
            analytic_error.append(np.nan)
    inventory = np.array(inventory)
    top_over_bottom = np.array(top_over_bottom)
    homogeneous = crossing_time(times, top_over_bottom, 0.9)
    fine = np.geomspace(first_step, rest_time, 2000)
    analytic_ratio = np.array(
        [slab_profile(np.array([z_axis[-1], z_axis[0]]), t, thickness, step_height, diffusivity) for t in fine]
    )
    homogeneous_analytic = crossing_time(fine, analytic_ratio[:, 0] / analytic_ratio[:, 1], 0.9)
    write_fields(outdir / "lithium.vtu", wo3, {"c_li [mol/m^3]": np.asarray(c_li.value)})

    dataset = xr.Dataset(
        {
            "li_inventory": ("time", inventory, {"units": "mol", "long_name": "Li dose in WO3"}),
            "top_over_bottom": ("time", top_over_bottom, {"units": "1", "long_name": "c_Li at WO3 top / bottom, r = 0"}),
            "analytic_error": ("time", np.array(analytic_error), {"units": "1", "long_name": "max |c - c_Fourier| / mean, r = 0"}),
            "c_li_axis": (("time", "z"), np.array(profiles), {"units": "mol/m^3", "long_name": "c_Li on the axis"}),
        },
        coords={
            "time": ("time", times, {"units": "s"}),
            "z": ("z", z_axis, {"units": "m", "long_name": "height above the WO3/LiPON interface"}),
        },
        attrs={"title": "femion reference_fields: Li dose relaxation in WO3", "device": device.name},
    )
    write_dataset(outdir / "curves.nc", dataset)

    slowest_mode = thickness**2 / (np.pi**2 * diffusivity)  # τ₁ = L²/(π² D), decay time of the first Fourier mode
    summary = {
        "quick": quick,
        "cells": mesh.n_cells,
        "read_voltage_V": read_voltage,
        "electrode_radius_m": device.electrode_radius,
        "read_current_A": potential.current,
        "read_conductance_S": potential.conductance,
        "current_balance": abs(potential.current + potential.electrode_current) / abs(potential.current),
        "series_resistance_ohm": layer_resistance,
        "lipon_resistance_share": layer_resistance["LiPON"] / sum(layer_resistance.values()) if "LiPON" in layer_resistance else None,
        "beta_center": enhancement.center,
        "beta_edge": enhancement.edge,
        "li_diffusivity_m2_s": diffusivity,
        "li_dose_mol": dose_moles,
        "li_inventory_relative_drift": float(np.max(np.abs(inventory - inventory[0])) / inventory[0]),
        "homogenisation_time_s": float(homogeneous),
        "homogenisation_time_fourier_s": float(homogeneous_analytic),
        "slowest_mode_time_s": slowest_mode,
        "max_analytic_error_after_slowest_mode_time": float(np.nanmax(np.array(analytic_error)[times >= slowest_mode])),
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "reference_fields", "summary": summary})
    for key in ("read_current_A", "lipon_resistance_share", "beta_center", "beta_edge", "homogenisation_time_s"):
        print(f"  {key} = {summary[key]:.4g}")
    return summary
