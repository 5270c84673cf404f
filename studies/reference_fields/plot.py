"""Plots of the reference_fields study (reads the files run.py wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import meshio  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``fields.png`` (β near the electrode edge) and ``lithium.png`` (Li relaxation)."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    potential = meshio.read(outdir / "potential.vtu")
    points = potential.points[:, :2] * 1e6  # µm
    quads = potential.cells_dict["quad"]
    beta = potential.cell_data["beta [1]"][0]
    figure, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    edge = summary["electrode_radius_m"] * 1e6
    windows = [((0, 4), "near the axis"), ((edge - 4, edge + 4), f"near the electrode edge (R_e = {edge:g} µm)")]
    for axis, (r_window, title) in zip(axes, windows):
        polygons = points[quads]
        centre_r = polygons[:, :, 0].mean(axis=1)
        keep = (centre_r > r_window[0]) & (centre_r < r_window[1])
        collection = PolyCollection(polygons[keep], array=beta[keep], cmap="magma", edgecolors="none")
        axis.add_collection(collection)
        axis.set_xlim(*r_window)
        axis.set_ylim(points[:, 1].min(), points[:, 1].max())
        axis.set_xlabel("r [µm]")
        axis.set_ylabel("z [µm] (aspect stretched)")
        axis.set_title(f"β = |E|/(V/d), {title}")
        figure.colorbar(collection, ax=axis)
    figure.suptitle(f"Read potential {summary['read_voltage_V']} V: I = {summary['read_current_A']:.3g} A")
    figure.savefig(outdir / "fields.png", dpi=130)
    plt.close(figure)

    curves = xr.open_dataset(outdir / "curves.nc")
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    times = curves.time.values
    for index in np.unique(np.searchsorted(times, [1e-2, 1e-1, 1, 10, 100, times[-1]])):
        index = min(index, len(times) - 1)
        left.plot(curves.z.values * 1e9, curves.c_li_axis.values[index], marker="o", label=f"t = {times[index]:.3g} s")
    left.set_xlabel("height above WO3/LiPON [nm]")
    left.set_ylabel("c_Li on the axis [mol/m³]")
    left.set_yscale("log")
    left.legend()
    right.semilogx(times[1:], curves.top_over_bottom.values[1:])
    right.axhline(0.9, color="grey", linestyle=":")
    right.set_xlabel("time [s]")
    right.set_ylabel("c_Li top / bottom of WO3")
    right.set_title(f"homogeneous (> 0.9) after {summary['homogenisation_time_s']:.3g} s")
    figure.savefig(outdir / "lithium.png", dpi=130)
    plt.close(figure)
    curves.close()
