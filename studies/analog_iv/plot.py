"""I–V loops of every amplitude (linear and |I| log scale) and Li maps (r, z) at the sweep ends."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``iv_<V>V.png`` for every ``iv_<V>V.nc`` and ``li_maps_<V>V.png`` for every ``li_maps_<V>V.npz``."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    outdir = Path(outdir)
    for path in sorted(outdir.glob("iv_*.nc")):
        tag = path.stem.removeprefix("iv_")
        with xr.open_dataset(path) as data:
            figure, (linear, logarithmic) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
            for sweep in np.unique(data.sweep.values):
                chosen = data.sweep.values == sweep
                sign = "−" if data.polarity.values[chosen][0] < 0 else "+"
                v, i = data.voltage.values[chosen], data.current.values[chosen]
                linear.plot(v, i * 1e6, label=f"sweep {sweep} ({sign})")
                logarithmic.semilogy(v, np.abs(i), label=f"sweep {sweep} ({sign})")
            linear.set_xlabel("V (V)")
            linear.set_ylabel("I (µA)")
            logarithmic.set_xlabel("V (V)")
            logarithmic.set_ylabel("|I| (A)")
            linear.legend()
            figure.suptitle(f"Consecutive negative then positive DC sweeps, vertex {tag}")
        figure.savefig(outdir / f"iv_{tag}.png", dpi=120)
        plt.close(figure)
    for path in sorted(outdir.glob("li_maps_*.npz")):
        tag = path.stem.removeprefix("li_maps_")
        with np.load(path) as data:
            polygons = data["nodes"][data["cells"]] * 1e6
            keys = [k for k in data.files if k.startswith("c_li_after_")]
            values = {k: data[k] for k in keys}
        vmax = max(v.max() for v in values.values())
        vmin = max(min(v[v > 0].min() for v in values.values()), vmax * 1e-6)
        figure, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), constrained_layout=True, squeeze=False)
        for axis, key in zip(axes[:, 0], keys):
            collection = PolyCollection(polygons, array=values[key], cmap="viridis", edgecolors="none", norm=LogNorm(vmin, vmax))
            axis.add_collection(collection)
            axis.set_xlim(polygons[..., 0].min(), polygons[..., 0].max())
            axis.set_ylim(polygons[..., 1].min(), polygons[..., 1].max())
            axis.set_xlabel("r (µm)")
            axis.set_ylabel("z (µm)")
            axis.set_title(f"Li {key.removeprefix('c_li_').replace('_', ' ')} sweep(s), {tag} (films, bottom to top: MoO3 / LiPON / WO3)")
            figure.colorbar(collection, ax=axis, label="c_Li (mol/m³, log scale)")
        figure.savefig(outdir / f"li_maps_{tag}.png", dpi=120)
        plt.close(figure)
