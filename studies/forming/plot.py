"""I–V of the forming ramps and V_O / T maps (r, z) of the films after forming."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``forming_iv.png`` and ``maps_<label>.png`` for every ``maps_<label>.npz``."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    outdir = Path(outdir)
    figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
    for path in sorted(outdir.glob("iv_*.nc")):
        with xr.open_dataset(path) as data:
            axis.semilogy(data.source_voltage.values, np.abs(data.current.values) + 1e-15, label=path.stem.removeprefix("iv_"))
    axis.set_xlabel("source voltage (V)")
    axis.set_ylabel("|I| (A)")
    axis.set_title("Forming ramps with compliance")
    axis.legend(title="I_cc")
    figure.savefig(outdir / "forming_iv.png", dpi=120)
    plt.close(figure)
    for path in sorted(outdir.glob("maps_*.npz")):
        tag = path.stem.removeprefix("maps_")
        with np.load(path) as data:
            polygons = data["nodes"][data["cells"]] * 1e6
            density, temperature = data["n_vo"], data["T"]
        figure, axes = plt.subplots(2, 1, figsize=(8, 6), constrained_layout=True)
        for axis, values, name, norm in ((axes[0], density, "n_VO (m⁻³)", LogNorm(max(density.min(), 1e10), density.max())),
                                         (axes[1], temperature, "T (K)", None)):
            collection = PolyCollection(polygons, array=values, cmap="viridis", edgecolors="none", norm=norm)
            axis.add_collection(collection)
            axis.set_xlim(polygons[..., 0].min(), polygons[..., 0].max())
            axis.set_ylim(polygons[..., 1].min(), polygons[..., 1].max())
            axis.set_xlabel("r (µm)")
            axis.set_ylabel("z (µm)")
            figure.colorbar(collection, ax=axis, label=name)
        axes[0].set_title(f"After forming, I_cc = {tag} (films: MoO3 / LiPON / WO3)")
        figure.savefig(outdir / f"maps_{tag}.png", dpi=120)
        plt.close(figure)
