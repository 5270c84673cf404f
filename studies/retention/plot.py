"""G(t) at rest of the LRS, HRS and volatile states at 300 K and elevated T, and the set/reset curves."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``retention.png`` and ``set_reset.png``."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "retention.nc") as data:
        figure, axis = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
        for name in data.data_vars:
            axis.loglog(data.time, np.abs(data[name]), "o-", label=name.removeprefix("G_").replace("_", " "))
        axis.set_xlabel("time at 0 V (s)")
        axis.set_ylabel("G at the read bias (S)")
        axis.legend(fontsize=8)
        figure.savefig(outdir / "retention.png", dpi=120)
        plt.close(figure)
    figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
    for name in ("lrs_forming", "hrs_reset", "volatile_forming"):
        with xr.open_dataset(outdir / f"{name}.nc") as row:
            axis.semilogy(row.source_voltage, np.abs(row.current) + 1e-15, label=name.replace("_", " "))
    axis.set_xlabel("source voltage (V)")
    axis.set_ylabel("|I| (A)")
    axis.legend()
    figure.savefig(outdir / "set_reset.png", dpi=120)
    plt.close(figure)
