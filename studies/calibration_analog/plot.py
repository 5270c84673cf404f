"""Cost map of the calibration trials and the metrics against the targets."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``calibration.png`` from ``trials.nc`` and ``fit.json``."""
    outdir = Path(outdir)
    fit = json.loads((outdir / "fit.json").read_text())
    names = [knob["name"] for knob in fit["knobs"]]
    with xr.open_dataset(outdir / "trials.nc") as data:
        cost = data.cost.values
        finite = np.isfinite(cost)
        figure, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
        x = data[names[0]].values
        y = data[names[1]].values if len(names) > 1 else np.zeros_like(x)
        scatter = axes[0].scatter(x[finite], y[finite], c=np.log10(cost[finite]), cmap="viridis", s=60)
        axes[0].scatter(x[~finite], y[~finite], marker="x", color="red", label="failed / non-monotonic")
        best = fit["best_trial"]
        axes[0].scatter([x[best]], [y[best]], facecolors="none", edgecolors="k", s=200, label="best")
        axes[0].set_xscale("log")
        if len(names) > 1:
            axes[0].set_yscale("log")
            axes[0].set_ylabel(names[1])
        axes[0].set_xlabel(names[0])
        axes[0].legend(fontsize=8)
        figure.colorbar(scatter, ax=axes[0], label="log10 cost")
        trial = data.trial.values
        targets = fit["targets"]
        axes[1].semilogy(trial, data.G_max_over_G_min.values, "o-", label="G_max/G_min")
        axes[1].axhline(targets["G_max_over_G_min"], color="C0", ls="--")
        twin = axes[1].twinx()
        for name, colour in (("nonlinearity_label_LTP", "C1"), ("nonlinearity_label_LTD", "C2")):
            twin.plot(trial, data[name].values, "s-", color=colour, label=name.replace("nonlinearity_", ""))
            twin.axhline(targets[name], color=colour, ls="--")
        axes[1].set_xlabel("trial")
        axes[1].set_ylabel("G_max/G_min")
        twin.set_ylabel("NeuroSim label")
        axes[1].legend(loc="upper left", fontsize=8)
        twin.legend(loc="upper right", fontsize=8)
        axes[1].set_title("metrics per trial (dashed: paper targets)")
    figure.savefig(outdir / "calibration.png", dpi=120)
    plt.close(figure)
