"""studies/power_scenario: the scenario pores, the config's [scenario] table, and the quick run.

The quick run is compared with its expected.json, a regression snapshot of the model's own output, and checked
against identities (Li conservation, product volume = pore volume closed) and the analytic pore-filling bound.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import numpy as np
import pytest

import femion
from femion.config import StudyConfigError, load_study
from femion.mesh import build_mesh

STUDY = Path(__file__).resolve().parents[2] / "studies" / "power_scenario"


@pytest.fixture(scope="module")
def module():
    return load_study(STUDY)[1]


def test_scenario_pores_fill_exactly_the_electrode_cells_inside_the_radius(module):
    device = femion.load_device()
    mesh = build_mesh(device, settings=femion.QUICK_MESH)
    field = module.scenario_porosity(mesh, device, 5e-6, 0.2)
    expected = mesh.region_mask(device.top_electrode.name) & (mesh.cell_centroids[:, 0] < 5e-6)
    assert field.shape == (mesh.n_cells,)
    assert np.array_equal(field > 0.0, expected) and np.all(field[expected] == 0.2)
    with pytest.raises(ValueError, match="pore fraction"):
        module.scenario_porosity(mesh, device, 5e-6, 1.0)
    with pytest.raises(ValueError, match="no top-electrode cell"):
        module.scenario_porosity(mesh, device, 1e-9, 0.2)


def test_a_malformed_scenario_table_is_refused_naming_the_key(module, tmp_path):
    with pytest.raises(StudyConfigError, match=r"\[scenario\]"):
        module.run(tmp_path, quick=True, overrides={"config.scenario": {"pore_radius": "5 um"}})
    bad = {"hypothesis": "x", "pore_radius": "5 um", "pore_fraction": 1.5}
    with pytest.raises(StudyConfigError, match="scenario.pore_fraction"):
        module.run(tmp_path, quick=True, overrides={"config.scenario": bad})


@pytest.mark.slow
def test_quick_run_matches_expected(module, tmp_path, assert_matches_expected):
    """Quick variant (coarse mesh, one case): 20–45 s on the shared 2-core machine, so the slow tier."""
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("curves.nc", "products.nc", "summary.json", "findings.md", "run.json"):
        assert (tmp_path / name).is_file(), name
    with open(STUDY / "config.toml", "rb") as handle:
        assert summary["scenario"] == tomllib.load(handle)["scenario"]  # echoed verbatim: the claim names it
    assert "HYPOTHESIS" in (tmp_path / "findings.md").read_text()
    # Li atoms are conserved between the films and the air products.
    assert summary["li_films_end_mol"] + summary["li_consumed_mol"] == pytest.approx(summary["li_films_mol"], rel=1e-9)
    # The products fill exactly the pore volume that closed.
    closed = summary["pore_volume_m3"] - summary["open_pore_volume_end_m3"]
    assert summary["products_volume_m3"] == pytest.approx(closed, rel=1e-9)
    # Analytic bound: pores filled down to the percolation threshold with the Li-densest product (Li2O).
    assert 0.0 < summary["li_consumed_mol"] <= summary["pore_fill_li_bound_mol"]
    # No gas outside the scenario pores: no products beyond the pore radius.
    assert summary["products_r_extent_m"] < summary["pore_radius_m"]
    assert summary["pores_sealed"] == (summary["open_porosity_end_max"] <= summary["percolation_threshold"])
    assert summary["pores_sealed"] == math.isfinite(summary["seal_time_s"])
