"""I–V of the threshold-switching sweeps (|I| log scale) and the conductance relaxation after them."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``sweeps.png`` and ``relax.png``."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "sweeps.nc") as data:
        figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        for cycle in np.unique(data.cycle.values):
            chosen = data.cycle.values == cycle
            axis.semilogy(data.source_voltage.values[chosen], np.abs(data.current.values[chosen]) + 1e-15, label=f"cycle {cycle}")
        axis.set_xlabel("source voltage (V)")
        axis.set_ylabel("|I| (A)")
        axis.legend()
        axis.set_title("0 → V_max → 0 sweeps under compliance after forming")
        figure.savefig(outdir / "sweeps.png", dpi=120)
        plt.close(figure)
    with xr.open_dataset(outdir / "relax.nc") as data:
        figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        axis.loglog(np.maximum(data.time.values, 1e-6), data.G.values)
        axis.set_xlabel("time at the read bias (s)")
        axis.set_ylabel("G (S)")
        axis.set_title("Conductance after the sweeps")
        figure.savefig(outdir / "relax.png", dpi=120)
        plt.close(figure)
