"""Composite of the Fig. 4 panels (reads the PNGs and panels.json that run.py wrote)."""

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
