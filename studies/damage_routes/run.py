"""Damage routes: which mechanism could open the top electrode at its centre, and how far each is from doing so.

Problem
-------
The paper (§2.6, Fig. 3d) programs the power mode by a slow sweep in air:
pores open at the centre of the soft Pt electrode and air consumes Li. On
femion's computed stack, at database values nothing debonds or cracks and
plastic flow sits at the electrode edge. This study runs the programming
sweep of ``studies/mode_switch`` (electrostatics + lithium + mechanics,
fields recorded at every accepted step) and measures every candidate route
(:mod:`femion.physics.damage_routes`):

(a) the electrode stretched over the crest of a buckled, debonded sub-stack;
(b) compressive delamination of the electrode into domes (Pt on TiN: domes
    at about −1 GPa);
(c) a gas blister inflated by H₂ from Li + H₂O (paper Eq. (2)) under a
    sealed electrode;
(d) porosity from vacancy creation relaxing compressive stress (Gruber et
    al. 2011), as an upper bound.

For each: the driving quantity, the criterion, their ratio, and the value
of the parameter that would close the gap with its literature range.

Outputs: ``findings.md`` (the table), ``summary.json`` (flat keys
``<route>_ratio``, ``<route>_drive``, ``<route>_threshold``,
``<route>_closing_value``, ``<route>_radius_m`` and the extras), and the run
provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import femion
from femion.config import apply_quick_table, load_study_config, override_device, require_layers
from femion.io import write_run_metadata
from femion.physics.damage_routes import FieldRecorder, measure_routes
from femion.physics.mechanics import MechanicsModule, MechanicsSettings
from femion.physics.porosity import BlisterSettings
from femion.protocols import voltage_sweep
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"electrode", "ambient", "program_vertices", "rate", "quick_mesh", "interface_toughness", "quick"}
RECORDED = ("c_li", "c_li_ref", "sigma_rr", "sigma_tt", "eps_p_eq", "blister_radius", "blister_interface")
LABELS = {
    "buckle_apex": "(a) stretching over a buckle apex",
    "pt_domes": "(b) electrode domes (compressive delamination)",
    "gas_blister": "(c) gas blister (Li + H2O -> LiOH + 1/2 H2)",
    "vacancy_creation": "(d) vacancy creation (upper bound)",
}


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Run the study and write its outputs into ``outdir``; return the summary."""
    from femion.simulation import Simulation, SimulationSettings

    origin = str(HERE / "config.toml")
    config, base = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    config = apply_quick_table(config, CONFIG_KEYS, origin, quick)
    require_layers(base, ("LiPON",), origin)
    device = override_device(base, {"device.ambient": config["ambient"],
                                    f"device.layers.{base.top_electrode.name}.material": config["electrode"]}, origin)
    toughness = None if config["interface_toughness"] == "" else to_si(config["interface_toughness"], "J/m^2", name="interface_toughness",
                                                                          origin=origin, positive=True)
    vertices = [to_si(v, "V", name="program_vertices", origin=origin) for v in config["program_vertices"]]
    rate = to_si(config["rate"], "V/s", name="rate", origin=origin, positive=True)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    settings = SimulationSettings(mesh=femion.QUICK_MESH if config["quick_mesh"] else femion.MeshSettings())
    mesh = femion.build_mesh(device, settings=settings.mesh)
    air = device.ambient == "air"  # the air module measures the water the gas route needs (Eq. (2) makes ½ H2 per LiOH)
    physics = ["lithium", "mechanics"] + (["air"] if air else [])
    simulation = Simulation(device, voltage_sweep(0.0, vertices, rate), settings, mesh=mesh, physics=physics)
    if toughness is not None:  # every candidate interface at this mode-I toughness (femion.physics.porosity.BlisterSettings)
        index = next(k for k, module in enumerate(simulation.modules) if module.name == "mechanics")
        simulation.modules[index] = MechanicsModule(mesh, device, MechanicsSettings(blister=BlisterSettings(toughness=toughness)))
    recorder = FieldRecorder(RECORDED + (("LiOH",) if air else ()))
    simulation.modules.append(recorder)
    result = simulation.run(progress=False)
    mechanics = next(module for module in simulation.modules if module.name == "mechanics")
    curves = result.curves
    li_films = sum(float(curves[name].values[0]) for name in curves.data_vars if name.startswith("li_inventory_"))
    routes = measure_routes(mechanics, recorder.snapshots, li_films, mode_one=toughness)

    summary: dict = {"quick": quick, "steps": len(recorder.snapshots), "electrode": config["electrode"], "rate_V_s": rate,
                     "li_films_mol": li_films, "interface_toughness_J_m2": toughness if toughness is not None else "database"}
    for name, route in routes.items():
        summary[f"{name}_drive"] = route.drive
        summary[f"{name}_threshold"] = route.threshold
        summary[f"{name}_ratio"] = route.ratio
        summary[f"{name}_closing_value"] = route.closing_value
        summary[f"{name}_radius_m"] = route.radius
        summary[f"{name}_inside_range"] = route.inside_range
        for key, value in route.extra.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                summary[f"{name}_{key}"] = float(value)
    summary["any_route_opens"] = any(route.ratio >= 1.0 for route in routes.values())
    summary["routes"] = {name: route.as_dict() for name, route in routes.items()}

    lines = ["# Damage routes at the electrode centre (femion)", "",
             f"Programming sweep 0 → {' → '.join(f'{v:g}' for v in vertices)} V at {rate:g} V/s, {config['electrode']} electrode, "
             f"{config['ambient']}, interface toughness {'database' if toughness is None else f'{toughness:g} J/m² (every interface)'}, "
             f"{'quick' if config['quick_mesh'] else 'full'} mesh, {len(recorder.snapshots)} accepted steps; "
             f"each route at the step where its ratio peaks (gas blister: independent of the step).", "",
             "| route | drive | criterion | ratio | acts at r [µm] | parameter that would close it | needed | database/computed | literature range | inside? |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, route in routes.items():
        bounds = "—" if route.literature_range is None else f"{route.literature_range[0]:.3g} – {route.literature_range[1]:.3g}"
        unit = "" if route.unit == "1" else f" {route.unit}"
        lines.append(f"| {LABELS[name]} | {route.drive:.3g} | {route.threshold:.3g}{unit} | {route.ratio:.3g} | "
                     f"{route.radius * 1e6:.3g} | {route.parameter} | {route.closing_value:.3g} | {route.database_value:.3g} | {bounds} | "
                     f"{'—' if route.inside_range is None else ('yes' if route.inside_range else 'no')} |")
    a, b, c, d = (routes[k] for k in ("buckle_apex", "pt_domes", "gas_blister", "vacancy_creation"))
    lines += [
        "",
        "## What each route needs",
        "",
        f"- (a) Over the {a.extra['blister']} the electrode's crest is strained by "
        f"{a.drive:.3g} (whole-electrode buckle of the {a.extra['interface']} interface: {a.extra['whole_disk_crest_strain']:.3g}; necking strain {a.threshold:.3g} from σ_y = {a.extra['yield_stress_Pa'] / 1e6:.3g} MPa, "
        f"H = {a.extra['hardening_Pa'] / 1e6:.3g} MPa); freestanding metal films rupture at a few percent. The buckle itself "
        f"needs Γ_I ≤ {a.extra['mode_one_needed_J_m2']:.3g} J/m² (used {a.extra['mode_one_J_m2']:.3g} J/m², literature range "
        f"{a.extra['mode_one_range_J_m2']} J/m²; max G/Γ(ψ) = {a.extra['g_over_gamma_max']:.3g}). The crest strain is "
        + ("below" if a.drive < 0.01 else "above") + " the 1 % at which the weakest freestanding films rupture and "
        + ("above" if a.drive > a.extra["elastic_limit_strain"] else "below")
        + f" the film's elastic limit {a.extra['elastic_limit_strain']:.2g}"
        + (" (the crest would flow, not open)." if a.drive > a.extra["elastic_limit_strain"] and a.drive < 0.01 else "."),
        f"- (b) The electrode's largest in-plane compression is {b.extra['peak_compression_Pa'] / 1e6:.3g} MPa at "
        f"r = {b.radius * 1e6:.3g} µm (centre {b.extra['centre_stress_Pa'] / 1e6:.3g} MPa); a dome needs "
        f"{b.closing_value / 1e6:.3g} MPa with Γ_I = {b.extra['mode_one_J_m2']:.3g} J/m² of the electrode's interface, "
        f"{b.extra['needed_over_yield']:.3g}× the film's yield stress {b.extra['yield_stress_Pa'] / 1e6:.3g} MPa, which caps the "
        f"stress a flowing film can carry; Pt domes on TiN appear at about −1 GPa, which with this geometry needs "
        f"Γ_I ≤ {b.extra['mode_one_needed_at_1GPa_J_m2']:.3g} J/m². The compression peaks "
        + ("at the electrode edge, not at the centre." if b.radius > 0.5 * device.electrode_radius else "in the central half of the electrode."),
        f"- (c) Spreading a gas debond over the electrode (b = R_e) takes {c.threshold:.3g} mol H2 at "
        f"{c.extra['debond_pressure_at_electrode_radius_Pa']:.3g} Pa overpressure ({c.extra['h2_needed_over_h2_from_li']:.3g} of "
        f"what the films' Li could make with unlimited water); the crest strain on the way peaks at {c.extra['crest_strain_max']:.3g} "
        f"(necking {c.extra['necking_strain']:.3g}). "
        + ((f"It exceeds 1 %, the low end of freestanding-film rupture, for debonds from "
            f"b = {c.extra['opens_at_radius_with_rupture_1pct_m'] * 1e6:.3g} µm (the smallest computed, 10 h) up to "
            f"{c.extra['rupture_1pct_up_to_radius_m'] * 1e6:.3g} µm: a debond growing under gas pressure strains its crest by "
            f"[1.5 (1 − ν²) Γ(ψ)/(E h)]^½ in the plate regime whatever its size, so at 1 % rupture the film would open at the first debond "
            f"({c.extra['debond_pressure_to_open_with_rupture_1pct_Pa']:.3g} Pa, {c.extra['h2_to_open_with_rupture_1pct_mol']:.3g} mol H2; ")
           if c.extra["opens_at_radius_with_rupture_1pct_m"] == c.extra["opens_at_radius_with_rupture_1pct_m"] else
           "It stays below 1 %, the low end of freestanding-film rupture, at every debond radius (the plate-regime crest strain at "
           "debond, [1.5 (1 − ν²) Γ(ψ)/(E h)]^½, is small for this Γ_I; ")
        + f"elastic estimate, the film's elastic limit is {c.extra['elastic_limit_strain']:.2g}). "
        + (f"The computed history made {c.drive:.3g} mol H2 (½ of the LiOH the air module formed: water reaches the Li only "
           "through open pores), so the gap of this route is the "
           if c.drive == c.drive else "No air module ran in this history (vacuum), so no H2 is computed; the gap of this route is the ")
        + f"water ({c.closing_value:.3g} mol H2O under the electrode to spread the debond), not the mechanics.",
        f"- (d) Vacancy creation can make at most {d.drive:.3g} void fraction from {d.extra['peak_compression_Pa'] / 1e6:.3g} MPa "
        f"of compression (percolation {d.threshold:.3g}); reaching it needs {d.closing_value / 1e9:.3g} GPa.",
        "",
        "Paper: pores at the Pt centre after a slow sweep in air. "
        + ("At least one route opens the electrode." if summary["any_route_opens"] else
           "No route opens the electrode at the computed fields and "
           + ("database values" if toughness is None else f"Γ_I = {toughness:g} J/m²") + "; the table gives the distance."),
    ]
    (outdir / "findings.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    write_run_metadata(outdir, device, {"study": "damage_routes", "summary": {k: v for k, v in summary.items() if k != "routes"}})
    return summary
