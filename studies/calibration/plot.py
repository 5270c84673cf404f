"""The calibration's residuals before/after, the fit's cost per knob point, and the knob sensitivities."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``calibration.png`` from ``fit.json``, ``sensitivity.json`` and ``trials.nc``."""
    outdir = Path(outdir)
    fit = json.loads((outdir / "fit.json").read_text())
    sensitivity = json.loads((outdir / "sensitivity.json").read_text())
    figure, axes = plt.subplots(1, 3, figsize=(17, 5), constrained_layout=True)

    table = fit["residual_table"]
    names = [row["target"] for row in table]
    y = np.arange(len(names))
    ratio = lambda key: np.array([row[key] / row["paper"] if row[key] == row[key] else np.nan for row in table])  # noqa: E731
    axes[0].axvspan(0.75, 1.25, color="0.9", label="±25 %")
    axes[0].scatter(np.abs(ratio("before")), y, marker="o", facecolors="none", edgecolors="C0", label="database values")
    axes[0].scatter(np.abs(ratio("after")), y, marker="x", color="C3", label="fitted")
    axes[0].set_xscale("log")
    axes[0].set_yticks(y, [n + ("" if row["fitted"] else " (held out)") for n, row in zip(names, table)], fontsize=8)
    axes[0].axvline(1.0, color="k", lw=0.8)
    axes[0].set_xlabel("|femion / paper|")
    axes[0].legend(fontsize=8)
    axes[0].set_title("targets")

    with xr.open_dataset(outdir / "trials.nc") as data:
        stages = data.stage.values
        for stage, marker in (("start", "*"), ("fit", "o"), ("jacobian", "."), ("morris", "+")):
            pick = stages == stage
            axes[1].semilogy(data.trial.values[pick], data.cost.values[pick], marker, ls="none", label=stage)
    axes[1].set_xlabel("knob point (evaluation order)")
    axes[1].set_ylabel("cost ½Σr² (fitted targets)")
    axes[1].legend(fontsize=8)
    axes[1].set_title("fit")

    knobs = sensitivity["knobs"]
    jac = np.abs(np.array(sensitivity["jacobian"], dtype=float))
    image = axes[2].imshow(np.log10(jac + 1e-6), aspect="auto", cmap="magma")
    axes[2].set_xticks(np.arange(len(knobs)), knobs, rotation=60, ha="right", fontsize=7)
    axes[2].set_yticks(np.arange(len(sensitivity["targets"])), sensitivity["targets"], fontsize=8)
    figure.colorbar(image, ax=axes[2], label="log10 |∂r/∂u| at the optimum")
    axes[2].set_title(f"scaled Jacobian (collinearity index {sensitivity['collinearity']:.3g})")
    figure.savefig(outdir / "calibration.png", dpi=120)
    plt.close(figure)
