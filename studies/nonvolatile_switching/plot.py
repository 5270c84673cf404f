"""Forming ramp, bipolar I–V cycles and per-cycle LRS/HRS and set/reset voltages."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``iv.png`` and ``cycles.png``."""
    outdir = Path(outdir)
    figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    with xr.open_dataset(outdir / "forming.nc") as data:
        axes[0].semilogy(data.source_voltage, np.abs(data.current) + 1e-15)
        axes[0].set_title("forming (500 µA)")
    with xr.open_dataset(outdir / "sweeps.nc") as data:
        axes[1].semilogy(data.source_voltage, np.abs(data.current) + 1e-15)
        axes[1].set_title("bipolar cycles")
    for axis in axes:
        axis.set_xlabel("source voltage (V)")
        axis.set_ylabel("|I| (A)")
    figure.savefig(outdir / "iv.png", dpi=120)
    plt.close(figure)
    with xr.open_dataset(outdir / "cycles.nc") as data:
        figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        axes[0].plot(data.cycle, data.v_set, "o-", label="V_set")
        axes[0].plot(data.cycle, data.v_reset, "s-", label="V_reset")
        axes[0].set_ylabel("V")
        axes[1].semilogy(data.cycle, data.lrs, "o-", label="LRS")
        axes[1].semilogy(data.cycle, data.hrs, "s-", label="HRS")
        axes[1].set_ylabel("R (Ω)")
        for axis in axes:
            axis.set_xlabel("cycle")
            axis.legend()
        figure.savefig(outdir / "cycles.png", dpi=120)
        plt.close(figure)
