"""Arrhenius plot ln G vs 1000/T of the stack's small-signal conductance, per read time, with the fitted lines."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``arrhenius.png`` from ``arrhenius.nc`` and ``summary.json``."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    with xr.open_dataset(outdir / "arrhenius.nc") as data:
        t = data.temperature.values
        figure, axis = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
        for index, t_read in enumerate(data.read_time.values):
            g = data.G.values[index]
            tag = "" if index == 0 else f"_read_{t_read * 1e3:g}ms"
            slope, intercept = np.polyfit(1.0 / t, np.log(g), 1)
            axis.semilogy(1000.0 / t, g, "o", label=f"read {t_read * 1e3:g} ms: fit E_A {summary[f'activation_energy{tag}_eV']:.3g} eV"
                          + ("" if summary[f"arrhenius_linear{tag}"] else " (not Arrhenius)"))
            axis.semilogy(1000.0 / t, np.exp(intercept + slope / t), "-", color="0.4")
    axis.set_xlabel("1000 / T (1/K)")
    axis.set_ylabel("small-signal stack conductance G (S)")
    axis.legend()
    axis.set_title(f"Stack conductance vs T (paper: E_A = {summary['paper_activation_energy_eV']:g} eV)")
    figure.savefig(outdir / "arrhenius.png", dpi=120)
    plt.close(figure)
