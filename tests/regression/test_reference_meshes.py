"""The committed reference meshes (meshes/, made by `femion mesh`) match the builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import femion

MESHES = Path(__file__).resolve().parents[2] / "meshes"


@pytest.mark.parametrize(
    ("filename", "settings", "cells"),
    [("reference.msh", femion.MeshSettings(), 7232), ("reference_quick.msh", femion.QUICK_MESH, 1808)],
)
def test_committed_mesh_matches_builder(filename, settings, cells):
    device = femion.load_device(MESHES / "reference.toml")
    stored = femion.read_mesh(MESHES / filename, device)
    built = femion.build_mesh(device, settings=settings)
    assert stored.n_cells == built.n_cells == cells
    np.testing.assert_array_equal(stored.cells, built.cells)
    np.testing.assert_allclose(stored.nodes, built.nodes, rtol=0, atol=1e-15)
