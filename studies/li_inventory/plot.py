"""Plots of the li_inventory study (reads the files run.py wrote)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``li_inventory.png`` (per X: CV, GCD, analog reads; window and C vs X) and ``li_inventory_fit.png`` (trials)."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    reductions = summary["inventory_reduction"]
    figure, axes = plt.subplots(2, 3, figsize=(15, 8), constrained_layout=True)
    for x in reductions:
        tag = f"{x:g}"
        with xr.open_dataset(outdir / f"cv_X{tag}.nc") as cv:
            axes[0, 0].plot(cv.voltage, cv.current * 1e9, label=f"X = {tag}")
        with xr.open_dataset(outdir / f"gcd_X{tag}.nc") as gcd:
            axes[0, 1].plot(gcd.time, -gcd.voltage, label=f"X = {tag}")
        path = outdir / f"reads_X{tag}.nc"
        if path.is_file():
            with xr.open_dataset(path) as reads:
                axes[0, 2].plot(np.arange(reads.sizes["read"]), reads.G * 1e6, "o-", label=f"X = {tag}")
    axes[0, 0].set(xlabel="V on Pt [V]", ylabel="I [nA]", title="CV (negative: Li into WO3)")
    axes[0, 1].set(xlabel="t [s]", ylabel="−V on Pt [V]", title="GCD: charge (Li into WO3) and discharge")
    axes[0, 2].set(xlabel="read (0: pristine, then LTP, LTD)", ylabel="G (emf-corrected) [µS]", title="analog LTP/LTD cycle")
    for axis in axes[0]:
        axis.legend(fontsize=8)
    window = summary["G_max_over_G_min"]
    axes[1, 0].plot(reductions, window, "o-")
    axes[1, 0].axhline(summary["power_window_threshold"], color="k", ls="--", label="storage-dominated below")
    axes[1, 0].set(xlabel="X (fraction of the hosts' Li removed)", ylabel="G_max/G_min [1]", title="deciding observable", yscale="log")
    axes[1, 0].legend(fontsize=8)
    axes[1, 1].plot(reductions, summary["areal_capacitance_scan_mF_cm2"], "o-", label="C [mF/cm²]")
    axes[1, 1].plot(reductions, summary["energy_scan_uWh_cm2"], "s-", label="E [µWh/cm²]")
    axes[1, 1].axhline(summary["paper"]["areal_capacitance_mF_cm2"], color="C0", ls=":", label="paper C")
    axes[1, 1].axhline(summary["paper"]["energy_uWh_cm2"], color="C1", ls=":", label="paper E")
    axes[1, 1].set(xlabel="X", ylabel="C [mF/cm²], E [µWh/cm²]", title="GCD discharge (3.5 V, 15.9 µA/cm²)", yscale="log")
    axes[1, 1].legend(fontsize=8)
    with xr.open_dataset(outdir / "trials.nc") as trials:
        axes[1, 2].plot(trials.power_uW_cm2, trials.energy_uWh_cm2, "o", label="fit trials")
    for row in summary["rows"]:
        axes[1, 2].plot(row["power_uW_cm2"], row["energy_uWh_cm2"], "^", label=f"scan X = {row['reduction']:g}")
    axes[1, 2].plot(summary["paper"]["power_uW_cm2"], summary["paper"]["energy_uWh_cm2"], "k*", ms=12, label="paper")
    axes[1, 2].set(xlabel="P [µW/cm²]", ylabel="E [µWh/cm²]", xscale="log", yscale="log", title="Ragone")
    axes[1, 2].legend(fontsize=7)
    figure.suptitle(textwrap.fill(f"HYPOTHESIS: {summary['scenario']['hypothesis']}", 200), fontsize=7)
    figure.savefig(outdir / "li_inventory.png", dpi=120)
    plt.close(figure)
