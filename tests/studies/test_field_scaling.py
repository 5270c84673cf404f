"""Quick mode of studies/field_scaling: stored values (expected.json,
a regression snapshot of the model's own output) and the physics they must show."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import femion
from femion.config import load_study
from femion.physics.electrostatics import layer_conductivity

STUDY = Path(__file__).resolve().parents[2] / "studies" / "field_scaling"


@pytest.fixture(scope="module")
def summary(tmp_path_factory):
    _, module = load_study(STUDY)
    outdir = tmp_path_factory.mktemp("field_scaling")
    result = module.run(outdir, quick=True)
    result["outdir"] = outdir
    return result


def test_matches_expected(summary):
    expected = json.loads((STUDY / "expected.json").read_text())["quick"]
    for key, target in expected.items():
        np.testing.assert_allclose(summary[key], target["value"], rtol=target["rel"], err_msg=key)
    for name in ("scaling.nc", "interface_beta.nc", "fields.vtu", "summary.json", "run.json"):
        assert (summary["outdir"] / name).is_file()


def test_large_device_centre_is_one_dimensional(summary):
    # Far from the edge of the 100 µm device the top-film field is the series-circuit value.
    device = femion.load_device()
    films = femion.build_mesh(device, settings=femion.QUICK_MESH).submesh(tuple(layer.name for layer in device.films))
    kappa = layer_conductivity(films, device)
    resistance = {layer.name: layer.thickness / kappa[films.region_mask(layer.name)][0] for layer in device.films}
    top = device.films[-1]
    beta_1d = resistance[top.name] / sum(resistance.values()) * device.film_stack_thickness / top.thickness
    assert summary["beta_center"][0] == pytest.approx(beta_1d, rel=1e-9)


def test_fringe_grows_as_the_device_shrinks(summary):
    radii = np.array(summary["electrode_radii_m"])
    order = np.argsort(radii)[::-1]
    for key in ("edge_current_fraction", "capacitance_excess"):
        values = np.array(summary[key])[order]
        assert np.all(np.diff(values) > 0), key
    # Fringe capacitance is an edge term: C - C_pp ∝ perimeter, so the excess scales as 1/R_e for R_e ≫ d.
    excess = np.array(summary["capacitance_excess"])[order]
    assert excess[0] * radii[order][0] == pytest.approx(excess[1] * radii[order][1], rel=0.15)


def test_edge_field_enhancement_grows_as_the_device_shrinks(summary):
    radii = np.array(summary["electrode_radii_m"])
    values = np.array(summary["beta_edge"])[np.argsort(radii)[::-1]]
    assert np.all(np.diff(values) > 0)
