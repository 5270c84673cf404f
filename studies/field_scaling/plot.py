"""Pictures of the field_scaling study (reads the files run.py wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from femion.io import read_fields  # noqa: E402
from femion.viz import plot_rz_map, render_revolved  # noqa: E402


def plot(outdir: Path) -> None:
    """Write scaling.png, beta_interface.png, rz_field.png, render_E.png and render_phi.png."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    with xr.open_dataset(outdir / "scaling.nc") as scaling:
        x = scaling.radius_over_stack.values
        figure, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
        axes[0].semilogx(x, scaling.beta_edge, "o-", label="β_edge")
        axes[0].semilogx(x, scaling.beta_edge_over_center, "s--", label="β_edge / β_center")
        axes[0].set_ylabel("field enhancement")
        axes[0].legend()
        axes[1].loglog(x, scaling.edge_current_fraction, "o-", label="femion")
        axes[1].loglog(x, scaling.uniform_edge_fraction, "k:", label="uniform current density")
        axes[1].set_ylabel("current share within d of the edge")
        axes[1].legend()
        axes[2].loglog(x, scaling.capacitance_excess, "o-")
        axes[2].set_ylabel("C / C_pp − 1")
        for axis in axes:
            axis.set_xlabel("R_e / d")
            axis.grid(True, which="both", alpha=0.3)
        figure.suptitle(f"Fringe scaling at fixed stack (d = {summary['stack_thickness_m'] * 1e9:.0f} nm)")
        figure.savefig(outdir / "scaling.png", dpi=130)
        plt.close(figure)

    with xr.open_dataset(outdir / "interface_beta.nc") as interface:
        figure, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
        for axis, key in zip(axes, ("reference", "rendered")):
            radius = interface.attrs[f"{key}_radius_m"]
            r = interface[f"r_{key}"].values
            axis.plot(r * 1e6, interface[f"beta_{key}"].values, ".-")
            axis.axvline(radius * 1e6, color="grey", linestyle=":", label="electrode edge")
            axis.set_xlim(max(0.0, radius - 5 * summary["stack_thickness_m"]) * 1e6, (radius + 5 * summary["stack_thickness_m"]) * 1e6)
            axis.set_xlabel("r [µm]")
            axis.set_ylabel("β in the top film, next to the electrode / air surface")
            axis.set_title(f"R_e = {radius * 1e6:g} µm")
            axis.legend()
        figure.savefig(outdir / "beta_interface.png", dpi=130)
        plt.close(figure)

    mesh, fields = read_fields(outdir / "fields.vtu")
    radius = summary["rendered_radius_m"]
    magnitude = np.hypot(*fields["E [V/m]"].T)
    figure, axis = plt.subplots(figsize=(9, 4), constrained_layout=True)
    collection = plot_rz_map(axis, mesh, magnitude, r_range=(0.0, 3 * radius * 1e6), cmap="inferno", log_scale=True)
    figure.colorbar(collection, ax=axis, label="|E| [V/m]")
    axis.set_title(f"|E| at V_read, R_e = {radius * 1e6:g} µm (z stretched)")
    figure.savefig(outdir / "rz_field.png", dpi=130)
    plt.close(figure)

    near = mesh.submesh(cell_mask=mesh.r_cell < 3 * radius)
    keep = near.parent_cells
    z_scale = 0.4 * (3 * radius) / np.ptp(near.nodes[:, 1])
    render_revolved(
        outdir / "render_E.png", near, magnitude[keep], label="E magnitude [V/m]", z_scale=z_scale, log_scale=True,
        clim=(magnitude[keep].max() * 1e-3, magnitude[keep].max()), cmap="inferno",
        title=f"field magnitude, R_e = {radius * 1e6:g} um, z x{z_scale:.1f}",
    )
    render_revolved(
        outdir / "render_phi.png", near, fields["phi [V]"][keep], label="phi [V]", z_scale=z_scale,
        title=f"potential, R_e = {radius * 1e6:g} um, z x{z_scale:.1f}",
    )
