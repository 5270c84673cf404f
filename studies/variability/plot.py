"""Per-cycle V_th, V_hold, HRS and LRS of both device histories, and their bipolar I–V."""

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
        for history, style in zip(data.history.values, ("-", "--")):
            row = data.sel(history=history)
            axes[0].plot(row.cycle, row.v_th, "o" + style, label=f"V_th {history}")
            axes[0].plot(row.cycle, row.v_hold, "s" + style, label=f"V_hold {history}")
            axes[1].semilogy(row.cycle, row.lrs, "o" + style, label=f"LRS {history}")
            axes[1].semilogy(row.cycle, row.hrs, "s" + style, label=f"HRS {history}")
        axes[0].set_xlabel("cycle")
        axes[0].set_ylabel("V")
        axes[0].legend()
        axes[1].set_xlabel("cycle")
        axes[1].set_ylabel("R (Ω)")
        axes[1].legend()
        figure.savefig(outdir / "cycles.png", dpi=120)
        plt.close(figure)
    figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
    for history, style in (("deformed", "-"), ("flat", "--")):
        with xr.open_dataset(outdir / f"sweeps_{history}.nc") as data:
            axis.semilogy(data.source_voltage.values, np.abs(data.current.values) + 1e-15, style, label=history)
    axis.set_xlabel("source voltage (V)")
    axis.set_ylabel("|I| (A)")
    axis.legend()
    figure.savefig(outdir / "sweeps.png", dpi=120)
    plt.close(figure)
