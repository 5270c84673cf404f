"""The power-mode chain closed downstream of the electrode damage by a scenario input (paper Fig. 3d, Eqs. (1)–(3)).

Problem
-------
The paper programs the device to its power mode by slow sweeps in air: the
stretched top electrode opens pores, air reaches the electrode/WO3 interface
and consumes Li by Eqs. (1)–(3). In femion the computed electrode damage
(:mod:`femion.physics.thinfilm`, :mod:`femion.physics.porosity`) never opens
pores, so air consumes nothing (``studies/program_power``). This study replaces
that one link by a labelled hypothesis, the config's ``[scenario]`` table:
open pores in the top electrode over r < ``pore_radius`` with open volume
fraction ``pore_fraction``. They are written into the ``porosity`` field of
the start state of the :class:`femion.simulation.Simulation` (its ``start``
argument) for this study only, and every link after it is computed.

Physics: electrostatics, lithium and air (:mod:`femion.physics.air`). The
mechanics module is left out on purpose: it rewrites ``porosity`` at every
step from its as-deposited f₀ and the computed void growth, which would erase
the scenario pores, i.e. put back the link the scenario replaces.

Protocol: one slow programming sweep (0 → −2 → 0 → 2 → 0 V at 50 mV/s, the
full window of ``studies/program_power``) and an open-circuit rest of
``hold_time``, in air.

Outputs
-------
* Li consumed by air vs time (mol and fraction of the films' Li, the measure of
  :data:`femion.claims.POWER_LI_FRACTION`), ``curves.nc``;
* where the products sit (product-weighted r and z, radial extent, centre over
  edge, top over bottom half of the electrode), ``products.nc`` (r, z fields);
* whether the products seal the pores: the open porosity ε = porosity − Σ c_p V_p
  falls to the percolation threshold ε_c of the electrode, below which the air
  module admits no gas (gas-tight), and when;
* the Li-inventory bound of pore filling: products filling the open pore
  volume down to ε_c hold at most (f − ε_c) h n_Li of Li per area, n_Li the Li
  per volume of the Li-densest product (Li2O), against the Li of the MoO3 film
  and of all films; the lateral Li supply time through LiPON to a central pore,
  (R_e − a)²/D;
* the gap (full variant): a scan over pore radius × fraction, and the pore
  volume per electrode area that would hold :data:`femion.claims.POWER_LI_FRACTION`
  of the films' Li, against the electrode thickness.

``summary.json``, ``findings.md`` (the scenario printed as a HYPOTHESIS) and the provenance.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import xarray as xr

import femion
from femion.claims import POWER_LI_FRACTION
from femion.config import StudyConfigError, load_study_config, require_layers
from femion.io import write_dataset, write_run_metadata
from femion.physics.air import PRODUCTS, molar_volumes
from femion.protocols import rest, voltage_sweep
from femion.units import to_integer, to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"vertices", "rate", "sweeps", "hold_time", "scan_pore_radius", "scan_pore_fraction", "scenario", "pixels",
               "quick_pixels", "field_of_view", "sweep_max_step", "hold_max_step"}
SCENARIO_KEYS = {"hypothesis", "pore_radius", "pore_fraction"}
PHYSICS = ("lithium", "air")
LI_PER_FORMULA = {"Li2O": 2, "LiOH": 1, "Li2CO3": 2}
"""Li atoms per formula unit of each air product (paper Eqs. (1)–(3))."""


def scenario_porosity(mesh, device, radius: float, fraction: float) -> np.ndarray:
    """The scenario's ``porosity`` field: ``fraction`` in the top-electrode cells with centroid r < ``radius``, else 0.

    Parameters
    ----------
    mesh : femion.mesh.AxisymmetricMesh
        The device mesh (n_cells cells).
    device : femion.config.Device
        The device (names the top electrode).
    radius : float
        Pore radius [m], positive.
    fraction : float
        Open pore volume fraction [1], in (0, 1).

    Returns
    -------
    ndarray, shape (n_cells,)
        Void volume fraction per cell [1] (the field :mod:`femion.physics.air` reads).

    Raises
    ------
    ValueError
        If ``radius`` is not positive or ``fraction`` is outside (0, 1), or no electrode cell lies inside ``radius``.
    """
    if not (math.isfinite(radius) and radius > 0.0):
        raise ValueError(f"pore radius must be positive, got {radius!r}")
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"pore fraction must be in (0, 1), got {fraction!r}")
    inside = mesh.region_mask(device.top_electrode.name) & (mesh.cell_centroids[:, 0] < radius)
    if not np.any(inside):
        raise ValueError(f"no top-electrode cell has its centroid inside r < {radius:g} m on this mesh")
    return np.where(inside, fraction, 0.0)


def _scenario(config: dict, origin: str) -> tuple[dict, float, float]:
    table = config["scenario"]
    if not isinstance(table, dict) or set(table) != SCENARIO_KEYS:
        raise StudyConfigError(f"{origin}: [scenario] must hold exactly the keys {sorted(SCENARIO_KEYS)}")
    radius = to_si(table["pore_radius"], "m", name="scenario.pore_radius", origin=origin, positive=True)
    fraction = to_si(table["pore_fraction"], "", name="scenario.pore_fraction", origin=origin, positive=True)
    if fraction >= 1.0:
        raise StudyConfigError(f"{origin}: scenario.pore_fraction must be below 1, got {fraction!r}")
    return dict(table), radius, fraction


def _case(device, protocol, settings, mesh, radius: float, fraction: float, sweep_end: float) -> tuple[dict, object, object]:
    """Run one scenario case; return its measures, the Result and the air module."""
    from femion.simulation import Simulation

    first = Simulation(device, protocol, settings, mesh=mesh, physics=PHYSICS)
    start = first.initial_state()
    start.fields["porosity"] = scenario_porosity(first.mesh, device, radius, fraction)
    simulation = Simulation(device, protocol, settings, mesh=first.mesh, physics=PHYSICS, start=start)
    result = simulation.run(progress=False, stage=f"power_scenario a={radius:g} m f={fraction:g}")
    air = next(module for module in simulation.modules if module.name == "air")
    curves = result.curves
    t, consumed = curves.time.values, curves["li_consumed_air"].values
    films = sum(float(curves[name].values[0]) for name in curves.data_vars if name.startswith("li_inventory_"))
    cells = air.electrode.parent_cells
    inside = start.fields["porosity"][cells] > 0.0
    open_end = air.open_porosity(result.state)
    sealed = bool(np.all(open_end[inside] <= air.percolation_threshold))
    final = float(consumed[-1])
    # Sealed cells admit no gas, so consumption stops exactly: the seal time is when the total reaches its final value.
    seal_time = float(t[np.argmax(consumed >= final)]) if sealed and final > 0.0 else float("nan")
    volume = 2.0 * np.pi * air.electrode.r_volumes
    pore_volume = float(np.sum(start.fields["porosity"][cells] * volume))
    volumes = molar_volumes()
    return {
        "pore_radius_m": radius,
        "pore_fraction": fraction,
        "pore_volume_m3": pore_volume,
        "pore_area_m2": float(np.sum(volume[inside]) / device.top_electrode.thickness),
        "li_films_mol": films,
        "li_consumed_mol": final,
        **{f"li_drawn_{name.removeprefix('li_inventory_')}_mol": float(curves[name].values[0] - curves[name].values[-1])
           for name in curves.data_vars if name.startswith("li_inventory_")},
        "li_films_end_mol": sum(float(curves[name].values[-1]) for name in curves.data_vars if name.startswith("li_inventory_")),
        "li_consumed_fraction": final / films if films > 0 else float("nan"),
        "li_consumed_at_sweep_end_mol": float(np.interp(sweep_end, t, consumed)),
        "pores_sealed": sealed,
        "seal_time_s": seal_time,
        "open_porosity_end_max": float(np.max(open_end[inside])),
        "open_pore_volume_end_m3": float(curves["open_pore_volume"].values[-1]),
        "products_volume_m3": sum(float(curves[f"{name}_amount"].values[-1]) * volumes[name] for name in PRODUCTS),
    }, result, air


def _product_location(result, air, device) -> tuple[dict, xr.Dataset]:
    """Where the products sit: Li bound per cell volume q [mol/m³] on the electrode cells, its weighted r and z."""
    fields = result.state.fields
    cells = air.electrode.parent_cells
    q = sum(LI_PER_FORMULA[name] * np.asarray(fields[name])[cells] for name in PRODUCTS)
    r, z = air.electrode.r_cell, air.electrode.cell_centroids[:, 1]
    weights = q * air.electrode.r_volumes
    total = float(np.sum(weights))
    columns = np.unique(np.round(r, 12))
    axis, edge = np.isclose(r, columns[0]), np.isclose(r, columns[-1])
    centre_q, edge_q = float(np.mean(q[axis])), float(np.mean(q[edge]))
    middle = 0.5 * (z.min() + z.max())
    top, bottom = float(np.sum(weights[z > middle])), float(np.sum(weights[z <= middle]))
    located = {
        "products_r_mean_m": float(np.sum(weights * r) / total) if total > 0 else float("nan"),
        "products_r_extent_m": float(np.max(r[q > 1e-3 * q.max()])) if total > 0 else float("nan"),
        "products_z_above_interface_m": float(np.sum(weights * z) / total - air.electrode.nodes[:, 1].min()) if total > 0 else float("nan"),
        "products_centre_over_edge": centre_q / edge_q if edge_q > 0 else (float("inf") if centre_q > 0 else float("nan")),
        "products_top_over_bottom": top / bottom if bottom > 0 else float("nan"),
        "products_volume_fraction_max": float(np.max(sum(np.asarray(fields[n])[cells] * air.volumes[n] for n in PRODUCTS))),
    }
    data = xr.Dataset(
        {name: ("cell", np.asarray(fields[name])[cells], {"units": "mol/m^3"}) for name in PRODUCTS}
        | {"li_bound": ("cell", q, {"units": "mol/m^3", "long_name": "Li bound in products per cell volume"}),
           "open_porosity": ("cell", air.open_porosity(result.state), {"units": "1"})},
        coords={"r": ("cell", r, {"units": "m"}), "z": ("cell", z, {"units": "m"})},
    )
    return located, data


def _tofsims(config: dict, origin: str, quick: bool, result, mesh, device, outdir: Path) -> dict:
    """Synthetic ToF-SIMS of the scenario's final state: paper Fig. 4 (b), (e), (h) and their readouts.

    The power column of Fig. 4 from this study's state (:func:`femion.tofsims.synthesize_mode`):
    products where the air reacted, and Li⁻'s lateral uniformity in WO3 as computed.
    """
    from femion import tofsims

    pixels = to_integer(config["quick_pixels" if quick else "pixels"], name="pixels", origin=origin, minimum=8)
    width = to_si(config["field_of_view"], "m", name="field_of_view", origin=origin, positive=True)
    grid = tofsims.voxelize(mesh, device, tofsims.FieldOfView(width=width, pixels=pixels))
    species = {name: result.state.fields[name] for name in ("c_li", *PRODUCTS)}
    panels, readouts, _ = tofsims.synthesize_mode("power", grid, device, species, outdir)
    (outdir / "panels.json").write_text(json.dumps(panels, indent=2))
    products = readouts["product_ions_in_Pt_power"]
    return {
        "tofsims_pixels": pixels,
        "li_lateral_uniformity_WO3_power": readouts["li_lateral_uniformity_WO3_power"],
        "li_lateral_uniformity_LiPON_power": readouts["li_lateral_uniformity_LiPON_power"],
        "product_ions_in_Pt_power": products,
        "product_ions_centre_over_edge": sum(products["centre"].values()) / max(sum(products["edge"].values()), 1e-300),
    }


def _bounds(device, air, case: dict, li_mo_o3: float, fractions: list[float]) -> dict:
    """Pore-filling Li bound, the pore volume the power mode needs, and the lateral Li supply time through LiPON."""
    volumes = molar_volumes()
    density = max(LI_PER_FORMULA[name] / volumes[name] for name in PRODUCTS)  # Li per product volume [mol/m³] (Li2O)
    h = device.top_electrode.thickness
    area = math.pi * device.electrode_radius**2
    eps_c = air.percolation_threshold
    usable = max(case["pore_fraction"] - eps_c, 0.0)
    films = case["li_films_mol"]
    needed_volume = POWER_LI_FRACTION * films / density  # open pore volume filled to reach the power mode [m³]
    diffusivity = device.material("LiPON").value("li_diffusivity")
    supply = (device.electrode_radius - case["pore_radius_m"]) ** 2 / diffusivity
    return {
        "li_per_product_volume_max_mol_m3": density,
        "pore_fill_li_bound_mol": usable / case["pore_fraction"] * case["pore_volume_m3"] * density,
        "pore_fill_li_per_area_mol_m2": usable * h * density,
        "li_moo3_per_area_mol_m2": li_mo_o3 / area,
        "li_films_per_area_mol_m2": films / area,
        "whole_film_li_fraction_max": h * density * area / films,  # every m³ of the electrode filled with Li2O
        "power_pore_volume_needed_m3": needed_volume,
        "power_pore_thickness_needed_m": needed_volume / area,  # filled pore volume per electrode area
        "power_pore_fraction_needed_whole_electrode": eps_c + needed_volume / (area * h),
        "power_pore_fraction_needed_whole_electrode_moo3": eps_c + POWER_LI_FRACTION * li_mo_o3 / density / (area * h),
        "electrode_thickness_m": h,
        # Pore radius whose pores, filled with Li2O down to ε_c, hold the power-mode Li: π a² h (f − ε_c) n_Li = needed.
        "power_pore_radius_needed_m": {f"{f:g}": math.sqrt(needed_volume / (math.pi * h * (f - eps_c))) if f > eps_c else float("inf")
                                       for f in sorted({case["pore_fraction"], *fractions})},
        "electrode_radius_m": device.electrode_radius,
        "lipon_li_diffusivity_m2_s": diffusivity,
        "lateral_supply_time_s": supply,
    }


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    from femion.simulation import SimulationSettings

    origin = str(HERE / "config.toml")
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    require_layers(device, ("LiPON", "MoO3"), origin)
    scenario, radius, fraction = _scenario(config, origin)
    vertices = [to_si(v, "V", name="vertices", origin=origin) for v in config["vertices"]]
    rate = to_si(config["rate"], "V/s", name="rate", origin=origin, positive=True)
    sweeps = to_integer(config["sweeps"], name="sweeps", origin=origin)
    hold = to_si(config["hold_time"], "s", name="hold_time", origin=origin, positive=True)
    sweep_step, hold_step = (to_si(config[key], "s", name=key, origin=origin, positive=True) for key in ("sweep_max_step", "hold_max_step"))
    radii = [to_si(v, "m", name="scan_pore_radius", origin=origin, positive=True) for v in config["scan_pore_radius"]]
    fractions = [to_si(v, "", name="scan_pore_fraction", origin=origin, positive=True) for v in config["scan_pore_fraction"]]
    if device.ambient != "air":
        raise StudyConfigError(f"{origin}: device: the study needs ambient 'air', got {device.ambient!r}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    sweep = voltage_sweep(0.0, vertices, rate, cycles=sweeps, max_step=sweep_step)
    sweep_end = sum(step.duration for step in sweep)
    protocol = sweep + rest(hold, max_step=hold_step)
    settings = SimulationSettings(mesh=femion.QUICK_MESH if quick else femion.MeshSettings())
    from femion.mesh import build_mesh

    mesh = build_mesh(device, settings=settings.mesh)
    case, result, air = _case(device, protocol, settings, mesh, radius, fraction, sweep_end)
    curves = result.curves
    films = case["li_films_mol"]
    curves["li_consumed_fraction"] = ("time", curves["li_consumed_air"].values / films, {"units": "1", "long_name": "Li consumed by air over the films' Li"})
    curves["open_pore_volume"].attrs["units"] = "m^3"
    write_dataset(outdir / "curves.nc", curves)
    located, products = _product_location(result, air, device)
    write_dataset(outdir / "products.nc", products)
    bounds = _bounds(device, air, case, float(curves["li_inventory_MoO3"].values[0]), fractions)
    tofsims = _tofsims(config, origin, quick, result, mesh, device, outdir)  # no mechanics: the undeformed mesh

    scan = []
    if not quick:
        for a in radii:
            for f in fractions:
                row, _, _ = _case(device, protocol, settings, mesh, a, f, sweep_end)
                scan.append(row)
    summary = {
        "quick": quick,
        "scenario": scenario,
        "physics": ["electrostatics", *PHYSICS],
        "hold_time_s": hold,
        "sweep_end_s": sweep_end,
        **case,
        **located,
        **bounds,
        **tofsims,
        "percolation_threshold": air.percolation_threshold,
        "power_li_fraction": POWER_LI_FRACTION,
        "power_mode_reached": case["li_consumed_fraction"] >= POWER_LI_FRACTION,
        "scan": scan,
    }
    findings = _findings(summary)
    (outdir / "findings.md").write_text("\n".join(findings) + "\n")
    print("\n".join(findings))
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "power_scenario", "summary": summary})
    return summary


def _findings(s: dict) -> list[str]:
    scenario = s["scenario"]
    lines = [
        "# power_scenario findings", "",
        f"- HYPOTHESIS (scenario input, not computed): {scenario['hypothesis']}; "
        f"pore_radius = {scenario['pore_radius']}, pore_fraction = {scenario['pore_fraction']}. "
        "The computed thin-film damage of the Pt electrode does not open pores; every link after it is computed.",
        f"- physics: {', '.join(s['physics'])}; mechanics left out: it rewrites `porosity` every step from f₀ and the "
        "computed void growth, which would erase the scenario pores.",
        f"- protocol: one slow sweep ({s['sweep_end_s']:g} s) then open-circuit rest {s['hold_time_s']:g} s, in air.",
        f"- scenario pores on the mesh: volume {s['pore_volume_m3']:.4g} m³ over {s['pore_area_m2']:.4g} m² "
        f"(cells with centroid r < {s['pore_radius_m'] * 1e6:g} µm).",
        f"- Li consumed by air: {s['li_consumed_mol']:.4g} mol = {s['li_consumed_fraction']:.3g} of the films' Li "
        f"({s['li_films_mol']:.4g} mol); {s['li_consumed_at_sweep_end_mol']:.4g} mol by the end of the sweep.",
        f"- pores sealed: {s['pores_sealed']} (open porosity ≤ ε_c = {s['percolation_threshold']:g}: "
        f"max open porosity at the end {s['open_porosity_end_max']:.4g}); seal time {s['seal_time_s']:.4g} s.",
        f"- products sit in the pores: Li-weighted mean r {s['products_r_mean_m'] * 1e6:.3g} µm, extent "
        f"{s['products_r_extent_m'] * 1e6:.3g} µm, mean height above the Pt/WO3 interface "
        f"{s['products_z_above_interface_m'] * 1e9:.3g} nm of {s['electrode_thickness_m'] * 1e9:.3g} nm, centre/edge {s['products_centre_over_edge']:.3g}, "
        f"top/bottom half of the electrode {s['products_top_over_bottom']:.3g} (gas crosses the film in ≲ 1 µs); "
        f"largest product volume fraction {s['products_volume_fraction_max']:.3g}.",
        f"- bound: products filling the pores down to ε_c hold ≤ {s['pore_fill_li_per_area_mol_m2']:.3g} mol/m² of Li "
        f"(Li2O, {s['li_per_product_volume_max_mol_m3']:.4g} mol/m³) = {s['pore_fill_li_bound_mol']:.3g} mol here, "
        f"against {s['li_moo3_per_area_mol_m2']:.3g} mol/m² in MoO3 and {s['li_films_per_area_mol_m2']:.3g} mol/m² in all films.",
        f"- lateral Li supply to the pore through LiPON: (R_e − a)²/D = {s['lateral_supply_time_s']:.3g} s "
        f"(D = {s['lipon_li_diffusivity_m2_s']:.3g} m²/s, database); the pores seal long before.",
        f"- power mode reached: {s['power_mode_reached']} (needs ≥ {s['power_li_fraction']:g} of the films' Li).",
        f"- gap: {s['power_li_fraction']:g} of the films' Li in Li2O fills {s['power_pore_volume_needed_m3']:.3g} m³, "
        f"{s['power_pore_thickness_needed_m'] * 1e9:.3g} nm of pore per electrode area against a "
        f"{s['electrode_thickness_m'] * 1e9:.3g} nm film; pore radius needed at fraction f: "
        + ", ".join(f"{a * 1e6:.3g} µm (f = {f})" for f, a in s["power_pore_radius_needed_m"].items())
        + f" against R_e = {s['electrode_radius_m'] * 1e6:.3g} µm (whole-electrode pore fraction needed: "
        f"{s['power_pore_fraction_needed_whole_electrode']:.3g}); even the whole electrode volume turned into Li2O "
        f"holds {s['whole_film_li_fraction_max']:.3g} of the films' Li. Pore filling inside a 50 nm Pt film cannot reach "
        "the power mode as measured against the films' Li (femion.claims: all films, LiPON's Li included); it needs "
        "products outside the film (growing on it, not sealing) or far less Li in the stack. Against the MoO3 Li alone "
        f"the whole electrode at pore fraction {s['power_pore_fraction_needed_whole_electrode_moo3']:.3g} would reach it.",
        f"- synthetic ToF-SIMS of this state (paper Fig. 4 (b), (e), (h): panel_b/e/h PNGs, {s['tofsims_pixels']}² pixels): "
        f"product ions in the Pt, centre (r < R_e/4) over edge (3R_e/4 < r < R_e) {s['product_ions_centre_over_edge']:.3g}; "
        f"Li⁻ lateral CV in WO3 {s['li_lateral_uniformity_WO3_power']:.2g}, in LiPON {s['li_lateral_uniformity_LiPON_power']:.2g} "
        "(Li drawn to the central pores comes through LiPON; the paper reports Li laterally homogeneous in the power mode).",
        "- net Li change per film over the run (the sweep's transfer plus the air's draw; start − end): " + ", ".join(f"{k.removeprefix('li_drawn_').removesuffix('_mol')} {v:.3g} mol"
                                                         for k, v in s.items() if k.startswith("li_drawn_")) + ".",
    ]
    if s["scan"]:
        lines += ["", "| pore radius [µm] | pore fraction | Li consumed [mol] | fraction of films' Li | sealed | seal time [s] |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {row['pore_radius_m'] * 1e6:g} | {row['pore_fraction']:g} | {row['li_consumed_mol']:.4g} | "
                  f"{row['li_consumed_fraction']:.3g} | {row['pores_sealed']} | {row['seal_time_s']:.4g} |" for row in s["scan"]]
    return lines
