"""Plots of the program_power study (reads the files run.py wrote)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import xarray as xr  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``program.png``: I(V) per sweep, Li inventories, Li bound in products and open pore volume vs time."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "sweeps.nc") as sweeps, xr.open_dataset(outdir / "curves.nc") as curves:
        figure, axes = plt.subplots(1, 3, figsize=(14, 4), constrained_layout=True)
        for sweep in sweeps.sweep.values:
            axes[0].plot(sweeps.voltage, sweeps.current.sel(sweep=sweep) * 1e9, label=f"sweep {sweep}")
        axes[0].set(xlabel="V [V]", ylabel="I [nA]", title="programming sweeps (paper Fig. 3d)")
        axes[0].legend()
        for name in curves.data_vars:
            if name.startswith("li_inventory_"):
                axes[1].plot(curves.time, curves[name], label=name.removeprefix("li_inventory_"))
        if "li_consumed_air" in curves:
            axes[1].plot(curves.time, curves["li_consumed_air"], "k--", label="bound in products")
        axes[1].set(xlabel="t [s]", ylabel="Li [mol]", yscale="log", title="Li inventory")
        axes[1].legend()
        if "open_pore_volume" in curves:
            axes[2].plot(curves.time, curves["open_pore_volume"] * 1e18)
        axes[2].set(xlabel="t [s]", ylabel="open pore volume [µm³]", title="electrode porosity left open")
        figure.savefig(outdir / "program.png", dpi=120)
        plt.close(figure)
