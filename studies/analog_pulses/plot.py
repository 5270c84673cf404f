"""G vs pulse number (all amplitudes), V_oc at the reads, and Li maps (r, z) after potentiation and depression."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``conductance.png`` and, when the maps exist, ``li_maps.png``."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    with xr.open_dataset(outdir / "pulses.nc") as data:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, constrained_layout=True)
        for amplitude in np.unique(data.amplitude.values):
            chosen = data.where(data.amplitude == amplitude, drop=True)
            mark = chosen.pulse_number > 0
            top.plot(chosen.pulse_number.values[mark], chosen.G.values[mark] * 1e6, ".-", label=f"±{amplitude:g} V")
            bottom.plot(chosen.pulse_number.values[mark], chosen.open_circuit_voltage.values[mark], ".-", label=f"±{amplitude:g} V")
        top.set_ylabel("G at V_read (µS)")
        top.legend(title="pulse amplitude")
        top.set_title(f"LTP (−) / LTD (+) trains: G_max/G_min = {summary['G_max_over_G_min']:.3g} (paper 57.5)")
        bottom.set_ylabel("open-circuit voltage (V)")
        bottom.set_xlabel("pulse number")
    figure.savefig(outdir / "conductance.png", dpi=120)
    plt.close(figure)

    maps = outdir / "li_maps.npz"
    if not maps.is_file():
        return
    with np.load(maps) as data:
        polygons = data["nodes"][data["cells"]] * 1e6
        keys = [k for k in ("c_li_after_LTP", "c_li_after_LTD") if k in data.files]
        values = {k: data[k] for k in keys}
    vmin = min(v.min() for v in values.values())
    vmax = max(v.max() for v in values.values())
    figure, axes = plt.subplots(len(keys), 1, figsize=(8, 3.2 * len(keys)), constrained_layout=True, squeeze=False)
    for axis, key in zip(axes[:, 0], keys):
        collection = PolyCollection(polygons, array=values[key], cmap="viridis", edgecolors="none",
                                    norm=LogNorm(vmin=max(vmin, vmax * 1e-6), vmax=vmax))
        axis.add_collection(collection)
        axis.set_xlim(polygons[..., 0].min(), polygons[..., 0].max())
        axis.set_ylim(polygons[..., 1].min(), polygons[..., 1].max())
        axis.set_xlabel("r (µm)")
        axis.set_ylabel("z (µm)")
        axis.set_title(f"Li concentration {key.removeprefix('c_li_').replace('_', ' ')} (films, bottom to top: MoO3 / LiPON / WO3)")
        figure.colorbar(collection, ax=axis, label="c_Li (mol/m³, log scale)")
    figure.savefig(outdir / "li_maps.png", dpi=120)
    plt.close(figure)
