"""Arrhenius plot of the LiPON Li⁺ conductivity measured on the simulated stack (paper Fig. S1a).

Problem
-------
The paper extracts E_A = 0.5 eV from σ_Li(T) of its LiPON (Sec. 2.2, Fig. S1a).
Here σ_Li(T) is *measured* on the simulated device, not read back from the
materials database: at each temperature T the device (``device.temperature``
overridden) is held at +δV and at −δV for a short time (electric potential +
Li electrochemistry through :class:`femion.Simulation`), and the small-signal
LiPON conductance is

    σ(T) = [I(+δV) − I(−δV)] / [Δφ(+δV) − Δφ(−δV)] · d / A,

with I the device current [A], Δφ the area-weighted mean potential of the
LiPON cells next to the WO3/LiPON interface minus that of the cells next to
the LiPON/MoO3 interface [V], d the distance between those two rows of cell
centres [m] and A = π R_film² the LiPON area [m²]. The ± difference removes the
internal relaxation current of the as-fabricated stack (OCV offsets of the
uncharged double layers), which is the same at +δV and −δV. The Arrhenius fit
ln σ = ln σ₀ − E_A/(k_B T) (:func:`femion.observables.arrhenius_fit`) must
return the activation energy that went into the model.

Two inputs are run: the database LiPON (E_A = 0.55 eV, Yu et al. 1997) and
the paper's 0.5 eV (a copy of the LiPON material with only
``li_activation_energy`` replaced, written to the output folder and used via
the ``device.layers.LiPON.material`` override).

Outputs: ``arrhenius.nc`` (σ per temperature and input, ``temperature``
coordinate), ``summary.json``, ``LiPON_paper.toml`` and the run provenance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from femion.constants import BOLTZMANN, EV
from femion.config import load_study_config, override_device, require_layers
from femion.mesh import build_mesh
from femion.io import write_dataset, write_run_metadata
from femion.observables import arrhenius_fit
from femion.protocols import hold
from femion.simulation import Simulation, SimulationSettings
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"temperatures", "quick_temperatures", "paper_activation_energy", "step_voltage", "step_duration"}
ELECTROLYTE = "LiPON"


def paper_material(device, activation_energy: float, path: Path) -> Path:
    """Write the device's LiPON material with ``li_activation_energy`` = ``activation_energy`` [eV] (paper §2.2) to ``path``.

    Raises
    ------
    femion.materials.MaterialError
        If the material file has no ``[li_activation_energy]`` table with a ``value`` and a ``source``.
    """
    from femion.materials import material_variant

    return material_variant(device.layer(ELECTROLYTE).material, {"li_activation_energy": (activation_energy, "wang2025allinone")}, path)


def lipon_drop(simulation: Simulation, state) -> tuple[float, float]:
    """Mean φ next to the top minus next to the bottom LiPON interface [V], and the distance of those rows [m]."""
    mesh = simulation.mesh
    z = mesh.cell_centroids[:, 1]
    layer = mesh.region_mask(ELECTROLYTE)
    top = layer & np.isclose(z, z[layer].max())
    bottom = layer & np.isclose(z, z[layer].min())
    weights = mesh.r_volumes
    phi = state.fields["phi"]
    mean = lambda mask: float(np.sum(phi[mask] * weights[mask]) / np.sum(weights[mask]))  # noqa: E731
    return mean(top) - mean(bottom), float(z[layer].max() - z[layer].min())


def measure_conductivity(device, step_voltage: float, step_duration: float, settings: SimulationSettings, mesh=None) -> float:
    """Small-signal LiPON conductivity σ [S/m] of ``device`` from ±``step_voltage`` holds (see module docstring)."""
    currents, drops = [], []
    for sign in (1.0, -1.0):
        simulation = Simulation(device, hold(sign * step_voltage, step_duration, max_step=step_duration), settings, mesh=mesh)
        result = simulation.run(None, progress=False)
        drop, distance = lipon_drop(simulation, result.state)
        currents.append(result.state.current)
        drops.append(drop)
    area = np.pi * device.film_radius**2
    return (currents[0] - currents[1]) / (drops[0] - drops[1]) * distance / area


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Measure σ_Li(T) for the database and the paper activation energy, fit Arrhenius; return the summary."""
    import xarray as xr

    from femion.physics import arrhenius

    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    origin = str(HERE / "config.toml")
    require_layers(device, (ELECTROLYTE,), origin)
    key = "quick_temperatures" if quick else "temperatures"
    temperatures = np.array([to_si(value, "K", name=key, origin=origin, positive=True) for value in config[key]])
    if temperatures.size < 2:
        raise ValueError(f"{origin}: {key!r} needs at least two temperatures for an Arrhenius fit")
    step_voltage = to_si(config["step_voltage"], "V", name="step_voltage", origin=origin)
    if step_voltage == 0.0:
        raise ValueError(f"{origin}: 'step_voltage' must not be 0 V")
    step_duration = to_si(config["step_duration"], "s", name="step_duration", origin=origin, positive=True)
    paper_energy = to_si(config["paper_activation_energy"], "eV", name="paper_activation_energy", origin=origin, positive=True)
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    material = paper_material(device, paper_energy, outdir / "LiPON_paper.toml")
    inputs = {
        "database": device,
        "paper": override_device(device, {f"device.layers.{ELECTROLYTE}.material": str(material)}, origin=origin),
    }
    settings = SimulationSettings()
    mesh = build_mesh(device, settings=settings.mesh)  # the geometry does not change with T or E_A
    summary: dict = {"quick": quick, "temperatures_K": temperatures.tolist()}
    data = {}
    for name, base in inputs.items():
        lipon = base.material(ELECTROLYTE)
        energy_in = lipon.value("li_activation_energy")
        sigma = np.array([
            measure_conductivity(override_device(base, {"device.temperature": f"{float(t)!r} K"}, origin=origin), step_voltage, step_duration, settings, mesh)
            for t in temperatures
        ])
        database_sigma = arrhenius(lipon.value("li_ionic_conductivity"), energy_in, temperatures, 298.15)
        fit = arrhenius_fit(temperatures, sigma)
        data[f"sigma_{name}"] = ("temperature", sigma, {"units": "S/m", "long_name": f"measured LiPON Li+ conductivity ({name} E_A input)"})
        data[f"sigma_input_{name}"] = ("temperature", database_sigma, {"units": "S/m", "long_name": "sigma_Li(T) of the material law (reference only)"})
        summary[f"E_A_input_{name}_eV"] = energy_in
        summary[f"E_A_fit_{name}_eV"] = fit.activation_energy
        summary[f"E_A_relative_error_{name}"] = abs(fit.activation_energy - energy_in) / energy_in
        summary[f"sigma_300K_{name}_S_per_m"] = float(fit.prefactor * np.exp(-fit.activation_energy * EV / (BOLTZMANN * 300.0)))  # from the fit
        summary[f"sigma_max_relative_deviation_{name}"] = float(np.max(np.abs(sigma / database_sigma - 1.0)))
        print(f"  {name}: E_A input {energy_in:.4g} eV, fitted {fit.activation_energy:.4g} eV")
    dataset = xr.Dataset(data, coords={"temperature": ("temperature", temperatures, {"units": "K"})})
    write_dataset(outdir / "arrhenius.nc", dataset)
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2))
    write_run_metadata(outdir, device, {"study": "li_arrhenius", "summary": summary})
    return summary
