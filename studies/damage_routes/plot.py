"""Plot of the damage_routes study (reads the summary.json run.py wrote)."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot(outdir: Path) -> None:
    """Write ``damage_routes.png``: drive/threshold of each route on a log scale (1 = the electrode opens)."""
    outdir = Path(outdir)
    summary = json.loads((outdir / "summary.json").read_text())
    names = ["buckle_apex", "pt_domes", "gas_blister", "vacancy_creation"]
    labels = ["(a) buckle apex", "(b) electrode domes", "(c) gas blister", "(d) vacancy bound"]
    ratios = np.array([summary[f"{name}_ratio"] for name in names], dtype=float)
    floor = 1e-8
    figure, axis = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
    axis.barh(labels, np.maximum(ratios, floor), color="C0")
    for row, ratio in enumerate(ratios):
        if ratio <= 0.0:
            axis.text(2 * floor, row, "0: no drive", va="center")
    axis.axvline(1.0, color="k", lw=1, ls="--")
    axis.set(xscale="log", xlim=(floor, 10.0), xlabel="drive / threshold (1: opens)",
             title="Routes to electrode damage")
    figure.savefig(outdir / "damage_routes.png", dpi=120)
    plt.close(figure)
