"""Synthetic ToF-SIMS panels of the paper's Fig. 4 from the simulated device states.

Problem
-------
The paper's Fig. 4 shows ToF-SIMS of the device in three modes: (a)–(c) 3D
layer morphology, (d)–(f) 3D maps of Li⁻, OH⁻, LiO⁻, CO3⁻, CO3Li⁻, (g)/(h) 2D Li
depth maps and (i) a 2D O depth map, for the analog, power and volatile modes
(MODEL.md §4). femion computes each mode's state with the coupled model and
passes its fields through the synthetic ToF-SIMS of :mod:`femion.tofsims`
(revolution into voxels, species → ions with assumed sensitivity factors,
Hofmann MRI depth resolution).

What exists today and what this study therefore does
----------------------------------------------------
* **Analog mode** — computed: the pristine device (Li in no-bias equilibrium)
  driven by a train of potentiation pulses through :class:`femion.Simulation`
  (electric potential + Li Nernst–Planck). Panels (a), (d), (g) are made from
  its final Li field. No mechanics yet, so the morphology is the flat stack.
* **Power mode** (b, e, h) and **volatile mode** (c, f, i) — *not modelled*:
  they need the mechanics, air-ingress and oxygen-vacancy physics of later
  issues. The study does not invent fields for them: ``panels.json`` and the
  composite figure state for each missing panel what it lacks.

Outputs: ``analog/`` (simulation curves, reads, fields), ``tofsims/*.vti``
(one volume per ion), ``depth_profiles_analog.nc``, ``depth_map_analog.nc``,
the panel PNGs, ``fig4.png`` (composite), ``panels.json``, ``readouts.json``,
``summary.json`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.config import load_study_config
from femion.io import write_run_metadata
from femion.protocols import pulse_train
from femion.geometry import QUICK_MESH, MeshSettings
from femion.simulation import Simulation, SimulationSettings
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"pulse_amplitude", "pulse_width", "pulse_rest", "pulses", "quick_pulses", "pixels", "quick_pixels", "field_of_view"}
PRODUCT_IONS = ("Li-", "OH-", "LiO-", "CO3-", "CO3Li-")
MATRIX_IONS = ("Pt-", "WO3-", "PO2-", "MoO3-", "InO-")
MISSING = {
    "b": ("power", "3D morphology", "needs mechanics (Pt plasticity, porosity, deformed interfaces) and air ingress"),
    "c": ("volatile", "3D morphology", "needs mechanics, air ingress and oxygen-vacancy forming"),
    "e": ("power", "secondary-ion maps", "needs air ingress and Li-consuming reactions (Li2O, LiOH, Li2CO3 fields)"),
    "f": ("volatile", "secondary-ion maps", "needs air ingress and oxygen-vacancy forming"),
    "h": ("power", "Li depth map", "needs the programming sweep in air with mechanics and air ingress"),
    "i": ("volatile", "O depth map", "needs oxygen-vacancy migration, forming with compliance and Joule heating"),
}


def findings(summary: dict, readouts: dict) -> str:
    """The paper's Fig. 4 statements next to what this run computed, as Markdown."""
    rising = summary["G_last_read_S"] > summary["G_first_read_S"]
    uniform = readouts["li_lateral_uniformity_WO3_analog"] < 0.01
    lines = [
        "# Fig. 4 synthetic ToF-SIMS: what this run shows",
        "",
        f"- (g) Li homogeneous laterally in the analog mode (paper): Li⁻ lateral CV in WO3 = "
        f"{readouts['li_lateral_uniformity_WO3_analog']:.2g} → {'reproduced' if uniform else 'NOT reproduced'}.",
        "- (d) no reaction products in Pt in the analog mode (paper): depth-integrated "
        + ", ".join(f"{ion.replace('-', '⁻')} = {value:.2g}" for ion, value in readouts["product_ions_in_Pt_analog"].items())
        + " in Pt (LiO⁻ also counts Li of the WO3 below, blurred upward by the depth resolution; no air chemistry "
        "is modelled yet, so this is not a test of it).",
        f"- Analog history: {summary['pulses']} potentiation pulses moved {summary['li_inventory_WO3_change_mol']:.3g} mol of Li into WO3; "
        f"the read conductance went {summary['G_first_read_S']:.4g} → {summary['G_last_read_S']:.4g} S "
        + ("(rising, as the paper's potentiation)." if rising else
           "(FALLING: the paper's potentiation raises G; the model does not reproduce it with these parameters)."),
        "- (b), (c), (e), (f), (h), (i): not modelled yet (see panels.json for what each lacks).",
    ]
    return "\n".join(lines) + "\n"


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the analog history, synthesise its ToF-SIMS panels, record the missing ones; return the summary.

    ``overrides`` (dotted ``config.*`` / ``device.*`` keys, as in sweep files) go to
    :func:`femion.config.load_study_config`.
    """
    from femion import tofsims

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    outdir = Path(outdir)
    pulses = int(config["quick_pulses" if quick else "pulses"])
    pixels = int(config["quick_pixels" if quick else "pixels"])
    protocol = pulse_train(
        to_si(config["pulse_amplitude"], "V", name="pulse_amplitude", origin=origin),
        to_si(config["pulse_width"], "s", name="pulse_width", origin=origin),
        to_si(config["pulse_rest"], "s", name="pulse_rest", origin=origin),
        pulses,
    )
    settings = SimulationSettings(mesh=QUICK_MESH if quick else MeshSettings())
    simulation = Simulation(device, protocol, settings)
    result = simulation.run(outdir / "analog", progress=None)

    fov = tofsims.FieldOfView(width=to_si(config["field_of_view"], "m", name="field_of_view", origin=origin), pixels=pixels)
    grid = tofsims.voxelize(simulation.mesh, device, fov)
    species = {"c_li": result.state.fields["c_li"]}
    volumes = tofsims.measure(species, grid, PRODUCT_IONS + MATRIX_IONS)
    tofsims.write_volumes(outdir / "tofsims", grid, volumes, prefix="analog_")
    profiles = tofsims.depth_profiles(grid, volumes)
    tofsims.write_depth_profiles(outdir / "depth_profiles_analog.nc", profiles)
    tofsims.write_depth_map(outdir / "depth_map_analog.nc", tofsims.depth_map(grid, volumes))

    readouts = {
        "li_lateral_uniformity_WO3_analog": tofsims.lateral_uniformity(volumes["Li-"], grid, layer="WO3"),
        "li_lateral_uniformity_LiPON_analog": tofsims.lateral_uniformity(volumes["Li-"], grid, layer="LiPON"),
        "product_ions_in_Pt_analog": {
            ion: float(tofsims.depth_integrated(volumes[ion], grid, layer="Pt").sum()) for ion in PRODUCT_IONS if ion != "Li-"
        },
        "interfaces_analog": [
            {"ions": f"{item.upper}/{item.lower}", "depth_m": item.depth, "width_m": item.width}
            for item in tofsims.interface_depths(profiles.depth.values, {ion: profiles[ion].values for ion in MATRIX_IONS}, MATRIX_IONS)
        ],
    }
    from femion.viz import plot_depth_map, render_tofsims_ions, render_tofsims_layers

    render_tofsims_layers(
        outdir / "panel_a_morphology_analog.png", grid, {ion: volumes[ion] for ion in MATRIX_IONS},
        title="(a) analog mode: layer morphology (synthetic ToF-SIMS)",
    )
    render_tofsims_ions(
        outdir / "panel_d_ions_analog.png", grid, {ion: volumes[ion] for ion in PRODUCT_IONS},
        title="(d) analog mode: Li-, OH-, LiO-, CO3-, CO3Li- (no air-reaction products modelled)",
    )
    plot_depth_map(
        outdir / "panel_g_li_depth_map_analog.png", tofsims.depth_map(grid, {"Li-": volumes["Li-"]}), "Li-",
        title="(g) analog mode: Li- depth map through the centre",
    )
    panels = {
        "a": {"mode": "analog", "content": "3D morphology", "status": "computed", "file": "panel_a_morphology_analog.png"},
        "d": {"mode": "analog", "content": "secondary-ion maps", "status": "computed", "file": "panel_d_ions_analog.png"},
        "g": {"mode": "analog", "content": "Li depth map", "status": "computed", "file": "panel_g_li_depth_map_analog.png"},
        **{key: {"mode": mode, "content": content, "status": "not modelled", "reason": reason} for key, (mode, content, reason) in MISSING.items()},
    }
    (outdir / "panels.json").write_text(json.dumps(dict(sorted(panels.items())), indent=2))
    (outdir / "readouts.json").write_text(json.dumps(readouts, indent=2, default=float))
    reads = result.reads
    summary = {
        "quick": quick,
        "pulses": pulses,
        "pixels": pixels,
        "cells": simulation.mesh.n_cells,
        "G_first_read_S": float(reads.G.values[0]),
        "G_last_read_S": float(reads.G.values[-1]),
        "li_inventory_WO3_change_mol": float(result.curves.li_inventory_WO3.values[-1] - result.curves.li_inventory_WO3.values[0]),
        "panels_computed": sorted(key for key, panel in panels.items() if panel["status"] == "computed"),
        "panels_not_modelled": sorted(key for key, panel in panels.items() if panel["status"] != "computed"),
        **{key: value for key, value in readouts.items() if isinstance(value, float)},
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    (outdir / "findings.md").write_text(findings(summary, readouts))
    np.savez_compressed(outdir / "voxel_regions.npz", regions=grid.regions())
    write_run_metadata(outdir, device, {"study": "fig4_tofsims", "summary": summary})
    print(f"  analog: {pulses} pulses, G {summary['G_first_read_S']:.4g} -> {summary['G_last_read_S']:.4g} S")
    print(f"  Li lateral CV in WO3: {readouts['li_lateral_uniformity_WO3_analog']:.3g}")
    print(f"  panels computed: {summary['panels_computed']}; not modelled yet: {summary['panels_not_modelled']}")
    return summary
