"""Arrhenius plot ln σ vs 1000/T of the measured LiPON conductivity with the fitted lines."""

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
        figure, axis = plt.subplots(figsize=(6, 4.5), constrained_layout=True)
        for name, marker in (("database", "o"), ("paper", "s")):
            sigma = data[f"sigma_{name}"].values
            slope, intercept = np.polyfit(1.0 / t, np.log(sigma), 1)
            axis.semilogy(1000.0 / t, sigma, marker, label=f"{name}: input {summary[f'E_A_input_{name}_eV']:.3g} eV, "
                          f"fit {summary[f'E_A_fit_{name}_eV']:.4g} eV")
            axis.semilogy(1000.0 / t, np.exp(intercept + slope / t), "-", color="0.4")
    axis.set_xlabel("1000 / T (1/K)")
    axis.set_ylabel("σ_Li of LiPON (S/m), measured on the stack")
    axis.legend()
    axis.set_title("LiPON Li⁺ conductivity from small-signal steps")
    figure.savefig(outdir / "arrhenius.png", dpi=120)
    plt.close(figure)
