"""(r, z) maps and pyvista cut-aways of the stress_maps study (reads maps.nc and the VTU files)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

from femion.io import read_fields  # noqa: E402
from femion.viz import plot_rz_map, render_revolved  # noqa: E402

PANELS = [("sigma_rr", "σ_rr [MPa]", 1e-6), ("sigma_tt", "σ_θθ [MPa]", 1e-6), ("sigma_zz", "σ_zz [MPa]", 1e-6),
          ("sigma_vm", "σ_vm [MPa]", 1e-6), ("eps_p_eq", "ε_p", 1.0), ("porosity", "porosity", 1.0)]


def plot(outdir: Path) -> None:
    """Write ``maps_<rate>.png`` (near the axis and near the electrode edge) and ``cutaway_<rate>_<field>.png``."""
    outdir = Path(outdir)
    for path in sorted(outdir.glob("fields_*.vtu")):
        label = path.stem[len("fields_"):]
        mesh, fields = read_fields(path)
        near_edge = (95.0, 105.0)
        figure, axes = plt.subplots(len(PANELS), 2, figsize=(11, 2.2 * len(PANELS)), constrained_layout=True)
        for row, (name, title, scale) in enumerate(PANELS):
            values = next(v for k, v in fields.items() if k.startswith(name + " ")) * scale
            for column, window in enumerate(((0.0, 10.0), near_edge)):
                collection = plot_rz_map(axes[row, column], mesh, values, r_range=window, cmap="coolwarm" if name.startswith("sigma_") and name != "sigma_vm" else "viridis")
                axes[row, column].set_ylim(20.2, 21.15)
                axes[row, column].set_title(f"{title}, r in {window} µm")
                figure.colorbar(collection, ax=axes[row, column])
        figure.suptitle(f"stress maps after the sweep at {label} V/s (films and electrode; substrate cut)")
        figure.savefig(outdir / f"maps_{label}.png", dpi=110)
        plt.close(figure)
        for name, title in (("sigma_vm", "σ_vm [Pa]"), ("porosity", "porosity")):
            values = next(v for k, v in fields.items() if k.startswith(name + " "))
            keep = mesh.cell_centroids[:, 1] > 19e-6  # films and electrode (+1 µm of substrate)
            render_revolved(outdir / f"cutaway_{label}_{name}.png", mesh.submesh(cell_mask=keep), values[keep],
                            label=title, z_scale=40.0, title=f"{title} after {label} V/s")
