"""G vs pulse number (all amplitudes), V_oc at the reads, G for each read time, the sensitivity windows, and Li maps (r, z)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``conductance.png``, ``read_time.png`` and, when the maps exist, ``li_maps.png``."""
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    with xr.open_dataset(outdir / "pulses.nc") as data:
        figure, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6.5), sharex=True, constrained_layout=True)
        for amplitude in np.unique(data.amplitude.values):
            chosen = data.where(data.amplitude == amplitude, drop=True)
            mark = chosen.pulse_number > 0
            line, = top.plot(chosen.pulse_number.values[mark], chosen.G.values[mark] * 1e6, ".-", label=f"±{amplitude:g} V")
            top.plot(chosen.pulse_number.values[mark], chosen.G_raw.values[mark] * 1e6, ":", color=line.get_color(),
                     label=f"±{amplitude:g} V, raw I/V_read")
            bottom.plot(chosen.pulse_number.values[mark], chosen.open_circuit_voltage.values[mark], ".-", label=f"±{amplitude:g} V")
        top.set_ylabel("G = I/(V_read − V_oc) (µS)")
        top.legend(title="pulse amplitude")
        top.set_title(f"LTP (−) / LTD (+) trains, {summary['read_time_s'] * 1e3:g} ms read: G_max/G_min = "
                      f"{summary['G_max_over_G_min']:.3g} (raw {summary['G_raw_max_over_G_min']:.3g}; paper 57.5)")
        bottom.set_ylabel("open-circuit voltage (V)")
        bottom.set_xlabel("pulse number")
    figure.savefig(outdir / "conductance.png", dpi=120)
    plt.close(figure)

    with xr.open_dataset(outdir / "read_times.nc") as data:
        figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
        for j, t in enumerate(data.read_time.values):
            key = f"{t * 1e3:g}ms"
            line, = left.semilogy(data.pulse_number.values, data.G.values[:, j], ".-",
                                  label=f"{t * 1e3:g} ms: G_max/G_min {summary[f'G_max_over_G_min_read_{key}']:.3g}")
            left.semilogy(data.pulse_number.values, data.G_raw.values[:, j], ":", color=line.get_color())
        left.set_xlabel("pulse number (0: pristine)")
        left.set_ylabel("G (S); dotted: raw I/V_read")
        left.set_title("read-time dependence (same states)")
        left.legend(title="read time")
    labels = list(summary["sensitivity"])
    if not labels:
        right.set_axis_off()
        figure.savefig(outdir / "read_time.png", dpi=120)
        plt.close(figure)
        return
    values = [summary["sensitivity"][k]["G_max_over_G_min"] for k in labels]
    raw = [summary["sensitivity"][k]["G_raw_max_over_G_min"] for k in labels]
    y = np.arange(len(labels))
    right.barh(y - 0.2, values, height=0.4, label="G = I/(V_read − V_oc)")
    right.barh(y + 0.2, raw, height=0.4, label="raw I/V_read", alpha=0.6)
    right.set_yticks(y, labels)
    right.set_xscale("log")
    right.invert_yaxis()
    right.set_xlabel("G_max/G_min (one LTP/LTD cycle)")
    right.set_title("sensitivity of the window")
    right.legend()
    figure.savefig(outdir / "read_time.png", dpi=120)
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
