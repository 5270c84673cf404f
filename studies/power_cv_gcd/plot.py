"""Plots of the power_cv_gcd study (reads the files run.py wrote)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``power.png``: the whole V(t), I(t) record after programming (CV, GCD, self-discharge)."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "curves.nc") as curves:
        figure, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, constrained_layout=True)
        axes[0].plot(curves.time, curves.voltage)
        axes[0].set(ylabel="V [V]", title="programming, CV, GCD and self-discharge on one carried-over state")
        axes[1].plot(curves.time, curves.current * 1e9)
        axes[1].set(xlabel="t [s]", ylabel="I [nA]")
        figure.savefig(outdir / "power.png", dpi=120)
        plt.close(figure)
