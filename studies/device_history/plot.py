"""Composites of the run: ``fig4.png`` (the Fig. 4 panels that run.py wrote) and ``fig3.png`` (the device curves)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

LAYOUT = ("a", "b", "c", "d", "e", "f", "g", "h", "i")


def plot(outdir: Path) -> None:
    """Write ``fig4.png``: computed panels as images, missing ones as a statement of what they lack."""
    outdir = Path(outdir)
    panels = json.loads((outdir / "panels.json").read_text())
    figure, axes = plt.subplots(3, 3, figsize=(15, 12), constrained_layout=True)
    for axis, key in zip(axes.ravel(), LAYOUT):
        panel = panels[key]
        axis.set_axis_off()
        if panel["status"] == "computed":
            axis.imshow(mpimg.imread(outdir / panel["file"]))
            axis.set_title(f"({key}) {panel['mode']}: {panel['content']}")
        else:
            axis.set_title(f"({key}) {panel['mode']}: {panel['content']}")
            axis.text(
                0.5, 0.5, "not modelled yet:\n" + textwrap.fill(panel["reason"], 40),
                ha="center", va="center", fontsize=11, transform=axis.transAxes,
                bbox={"boxstyle": "round", "facecolor": "0.92", "edgecolor": "0.6"},
            )
    figure.suptitle("femion synthetic ToF-SIMS, paper Fig. 4 layout (columns: analog, power, volatile)")
    figure.savefig(outdir / "fig4.png", dpi=110)
    plt.close(figure)
    plot_fig3(outdir)


def plot_fig3(outdir: Path) -> None:
    """Write ``fig3.png``: the device curves of the one history, one panel per stage (paper Fig. 3 layout where it has one)."""
    import numpy as np
    import xarray as xr

    outdir = Path(outdir)
    with xr.open_dataset(outdir / "history" / "curves.nc") as history, xr.open_dataset(outdir / "nonvolatile" / "curves.nc") as branch:
        history, branch = history.load(), branch.load()
    reads = xr.open_dataset(outdir / "history" / "reads.nc").load() if (outdir / "history" / "reads.nc").is_file() else None
    stages = json.loads((outdir / "stages.json").read_text())

    def span(curves, run: str, name: str):
        row = next(row for row in stages[run] if row["stage"] == name)
        times = curves.time.values
        return curves.isel(time=np.flatnonzero((times > row["t_start_s"]) & (times <= row["t_end_s"])))

    names = {row["stage"]: row for row in stages["history"]} | {row["stage"]: row for row in stages["nonvolatile"]}
    forming_small = next(name for name in names if name.startswith("forming") and name in {r["stage"] for r in stages["history"]})
    forming_large = next(row["stage"] for row in stages["nonvolatile"] if row["stage"].startswith("forming"))
    figure, axes = plt.subplots(2, 4, figsize=(18, 8.5), constrained_layout=True)
    ax = axes[0, 0]
    if reads is not None and reads.sizes.get("read", 0):
        ax.plot(np.arange(1, reads.sizes["read"] + 1), reads.G.values * 1e6, "o-")
    ax.set(xlabel="pulse number", ylabel="read conductance G [µS]", title="analog: LTP (−5 V), then LTD (+5 V) pulses")
    panels = [
        (axes[0, 1], history, "history", "programming", "voltage", "programming sweep in the ambient"),
        (axes[0, 2], history, "history", "CV", "voltage", "power mode: cyclic voltammetry"),
        (axes[1, 0], history, "history", forming_small, "voltage", f"{forming_small}"),
        (axes[1, 1], history, "history", "volatile", "voltage", "volatile sweeps under the same compliance"),
        (axes[1, 2], branch, "nonvolatile", "bipolar", "voltage", f"bipolar cycles after {forming_large}"),
    ]
    for axis, curves, run, name, x, title in panels:
        piece = span(curves, run, name)
        axis.semilogy(piece[x].values, np.abs(piece.current.values) + 1e-15)
        axis.set(xlabel="electrode voltage V [V]", ylabel="|I| [A]", title=title)
    piece = span(history, "history", "GCD")
    ax = axes[0, 3]
    ax.plot(piece.time.values - piece.time.values[0], piece.voltage.values)
    ax.set(xlabel="time in stage [s]", ylabel="electrode voltage V [V]", title="power mode: galvanostatic charge, discharge")
    piece = span(branch, "nonvolatile", "retention")
    ax = axes[1, 3]
    resistance = np.abs(piece.voltage.values / np.where(piece.current.values == 0.0, np.nan, piece.current.values))
    ax.loglog(piece.time.values[1:] - piece.time.values[0], resistance[1:])
    ax.set(xlabel="time of the hold [s]", ylabel="resistance V/|I| [Ω]", title="retention: hold at the read voltage")
    for axis in axes.ravel():
        axis.grid(True, alpha=0.3)
    figure.suptitle("femion: one device through its history with every module on (device curves of the paper's Fig. 3)")
    figure.savefig(outdir / "fig3.png", dpi=110)
    plt.close(figure)
