"""Per-cycle V_th, V_hold, HRS and LRS of the Monte Carlo run, and the bipolar I–V."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``cycles.png`` and ``sweeps.png``."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "cycles.nc") as data:
        figure, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
        axes[0].plot(data.cycle, data.v_th, "o-", label="V_th")
        axes[0].plot(data.cycle, data.v_hold, "s-", label="V_hold")
        axes[0].set_xlabel("cycle")
        axes[0].set_ylabel("V")
        axes[0].legend()
        axes[1].semilogy(data.cycle, data.lrs, "o-", label="LRS")
        axes[1].semilogy(data.cycle, data.hrs, "s-", label="HRS")
        axes[1].set_xlabel("cycle")
        axes[1].set_ylabel("R (Ω)")
        axes[1].legend()
        figure.savefig(outdir / "cycles.png", dpi=120)
        plt.close(figure)
    with xr.open_dataset(outdir / "sweeps.nc") as data:
        figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        axis.semilogy(data.source_voltage.values, np.abs(data.current.values) + 1e-15)
        axis.set_xlabel("source voltage (V)")
        axis.set_ylabel("|I| (A)")
        figure.savefig(outdir / "sweeps.png", dpi=120)
        plt.close(figure)
