"""Plots of the mode_switch study (reads the files run.py wrote)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``mode_switch.png``: Li consumed and G_max/G_min before/after for every case."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "mode_switch.nc") as table:
        labels = [f"{a}\n{r:g} V/s\n{e}" for a, r, e in zip(table.ambient.values, table.rate.values, table.electrode.values)]
        x = np.arange(len(labels))
        figure, axes = plt.subplots(1, 2, figsize=(12, 4), constrained_layout=True)
        axes[0].bar(x, table.li_consumed.values)
        axes[0].set(xticks=x, xticklabels=labels, ylabel="Li consumed by air [mol]", title="Li consumed while programming")
        axes[1].bar(x - 0.2, table.g_ratio_before.values, 0.4, label="before")
        axes[1].bar(x + 0.2, table.g_ratio_after.values, 0.4, label="after")
        axes[1].set(xticks=x, xticklabels=labels, ylabel="G_max/G_min", title="analog window")
        axes[1].legend()
        figure.savefig(outdir / "mode_switch.png", dpi=120)
        plt.close(figure)
