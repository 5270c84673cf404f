"""Heat maps of the mode_map_mechanics study (reads mode_map.nc written by run.py)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``mode_map.png``: peak ε_p and porosity growth, electrode × rate, for both mechanisms."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "mode_map.nc") as data:
        data = data.load()
    panels = [("eps_p_max", "peak ε_p"), ("porosity_growth", "peak Δf (porosity growth)"), ("sigma_vm_max", "peak σ_vm [MPa]")]
    figure, axes = plt.subplots(len(data.mechanism), len(panels), figsize=(4.2 * len(panels), 3.6 * len(data.mechanism)), constrained_layout=True)
    axes = np.atleast_2d(axes)
    rates = data.rate.values
    for row, mechanism in enumerate(data.mechanism.values):
        for column, (name, title) in enumerate(panels):
            axis = axes[row, column]
            values = data[name].sel(mechanism=mechanism).values
            if name == "sigma_vm_max":
                values = values / 1e6
                shown = values
            else:
                shown = np.log10(np.maximum(values, 1e-12))
            image = axis.imshow(shown, cmap="viridis", aspect="auto")
            for (i, j), value in np.ndenumerate(values):
                axis.text(j, i, f"{value:.2g}", ha="center", va="center", color="white", fontsize=8)
            axis.set_xticks(range(len(rates)), [f"{rate:g}" for rate in rates])
            axis.set_yticks(range(len(data.electrode)), list(data.electrode.values))
            axis.set_xlabel("sweep rate [V/s]")
            axis.set_title(f"{title} ({mechanism})" + ("" if name == "sigma_vm_max" else ", colour log10"))
            figure.colorbar(image, ax=axis)
    figure.suptitle(f"femion mechanics mode map: sweep {data.attrs.get('sweep', '')}")
    figure.savefig(outdir / "mode_map.png", dpi=130)
    plt.close(figure)
