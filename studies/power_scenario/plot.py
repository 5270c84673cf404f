"""Plots of the power_scenario study (reads the files run.py wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``power_scenario.png``: Li consumed vs time, open pore volume vs time, Li bound in products vs r."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    with xr.open_dataset(outdir / "curves.nc") as curves, xr.open_dataset(outdir / "products.nc") as products:
        figure, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
        axes[0].plot(curves.time, curves["li_consumed_fraction"])
        axes[0].axhline(summary["power_li_fraction"], color="k", ls="--", label="power-mode threshold")
        axes[0].axvline(summary["sweep_end_s"], color="grey", ls=":", label="end of sweep")
        axes[0].set(xlabel="t [s]", ylabel="Li consumed / films' Li", xscale="log", yscale="log",
                    title="Li consumed by air (scenario pores)")
        axes[0].legend()
        axes[1].plot(curves.time, curves["open_pore_volume"] * 1e18)
        axes[1].set(xlabel="t [s]", ylabel="open pore volume [µm³]", xscale="log", title="pores sealing")
        axes[2].scatter(products.r * 1e6, products.li_bound, c=products.z * 1e9, s=12)
        axes[2].set(xlabel="r [µm]", ylabel="Li bound [mol/m³]", xscale="log", title="where the products sit (colour: z)")
        figure.suptitle(f"HYPOTHESIS: {summary['scenario']['hypothesis']}", fontsize=8)
        figure.savefig(outdir / "power_scenario.png", dpi=120)
        plt.close(figure)
