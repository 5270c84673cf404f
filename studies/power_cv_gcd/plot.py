"""Plots of the power_cv_gcd study (reads the files run.py wrote)."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402

WH = 3600.0  # J per Wh


def _stages(curves: xr.Dataset) -> list[str]:
    return curves["stage"].attrs["stages"].split("; ")


def plot(outdir: Path) -> None:
    """Write ``power.png`` (the history), ``cv.png``, ``gcd.png`` (Fig. S3b, S3c), ``cycling.png`` and ``circuit.png`` (Fig. 3f)."""
    outdir = Path(outdir)
    with xr.open_dataset(outdir / "curves.nc") as curves:
        curves = curves.load()
    labels = _stages(curves)
    stage = curves["stage"].values

    figure, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, constrained_layout=True)
    axes[0].plot(curves.time, curves.voltage)
    axes[0].set(ylabel="V [V]", title="programming, CV, GCD, self-discharge and cycling on one carried-over state")
    axes[1].plot(curves.time, curves.current * 1e9)
    axes[1].set(xlabel="t [s]", ylabel="I [nA]")
    figure.savefig(outdir / "power.png", dpi=120)
    plt.close(figure)

    with xr.open_dataset(outdir / "cv.nc") as cv:
        cv = cv.load()
    figure, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
    for k, label in enumerate(labels):
        if label.startswith("cv "):
            part = curves.isel(time=stage == k)
            axes[0].plot(part.voltage, part.current * 1e9, label=label[3:])
    axes[0].set(xlabel="V [V]", ylabel="I [nA]", title="CV per sweep rate, two cycles (paper Fig. 3e)")
    axes[0].xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))
    axes[0].legend()
    rate = cv.rate.values
    axes[1].loglog(rate, np.abs(cv.anodic_peak_current) * 1e9, "o-", label="anodic")
    axes[1].loglog(rate, np.abs(cv.cathodic_peak_current) * 1e9, "s-", label="cathodic")
    axes[1].set(xlabel="sweep rate ν [V/s]", ylabel="|peak current| [nA]", title="peak current vs rate")
    axes[1].legend()
    axes[2].plot(rate, cv.anodic_peak_potential, "o-", label="anodic")
    axes[2].plot(rate, cv.cathodic_peak_potential, "s-", label="cathodic")
    axes[2].set(xscale="log", xlabel="sweep rate ν [V/s]", ylabel="peak potential [V]", title="peak potential vs rate")
    axes[2].legend()
    figure.savefig(outdir / "cv.png", dpi=120)
    plt.close(figure)

    if (outdir / "gcd.nc").is_file():
        with xr.open_dataset(outdir / "gcd.nc") as gcd:
            gcd = gcd.load()
        figure, axes = plt.subplots(1, 3, figsize=(14, 4.2), constrained_layout=True)
        for k, label in enumerate(labels):
            if label.startswith("gcd "):
                part = curves.isel(time=stage == k)
                axes[0].plot(part.time - part.time[0], part.voltage, label=label[4:])
        axes[0].set(xlabel="t − t₀ [s]", ylabel="V [V]", title="GCD per current density (paper Fig. S3a)")
        axes[0].legend()
        density = gcd.current_density.values * 0.1  # A/m² -> mA/cm²
        axes[1].plot(density, gcd.capacitance * 0.1, "o-")
        axes[1].set(xlabel="current density [mA/cm²]", ylabel="areal capacitance [mF/cm²]",
                    title="capacitance vs current density (paper Fig. S3b)")
        axes[2].loglog(gcd.power * 1e2, gcd.energy / WH * 1e2, "o-")
        axes[2].set(xlabel="power [µW/cm²]", ylabel="energy [µWh/cm²]", title="Ragone curve (paper Fig. S3c)")
        figure.savefig(outdir / "gcd.png", dpi=120)
        plt.close(figure)

    with xr.open_dataset(outdir / "cycling.nc") as cycling:
        cycling = cycling.load()
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    axes[0].plot(cycling.cycle, cycling.retention, "o-", markersize=3)
    axes[0].set(xlabel="GCD cycle", ylabel="C / C(first cycle) [1]", title="capacity retention (paper Fig. S3e)")
    rest = curves.isel(time=stage == labels.index("self_discharge"))
    resting = np.abs(rest.current.values) <= 1e-6 * np.max(np.abs(rest.current.values))
    axes[1].plot(rest.time[resting] - rest.time[resting][0], rest.voltage[resting])
    axes[1].set(xlabel="open-circuit time [s]", ylabel="V [V]", title="self-discharge after a full charge (paper Fig. S3d)")
    figure.savefig(outdir / "cycling.png", dpi=120)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    for name, label, style in (("reference", "one device at I", "-"), ("series", "two in series at I", "-"),
                               ("parallel", "two in parallel at 2I", "--"),
                               ("parallel_same_terminal_current", "two in parallel at I", ":")):
        with xr.open_dataset(outdir / f"{name}.nc") as record:
            axis.plot(record.time - record.time[0], record.voltage, style, label=label)
    axis.set(xlabel="t − t₀ [s]", ylabel="terminal V [V]", title="GCD of one device and of two in a circuit (paper Fig. 3f)")
    axis.legend()
    figure.savefig(outdir / "circuit.png", dpi=120)
    plt.close(figure)
