"""studies/fig4_tofsims: the O-localisation readout on synthetic fields (fast) and the quick run against its expected.json,
a regression snapshot of the model's own output (slow: ~5 min, the full programming window and forming under compliance)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from femion import tofsims
from femion.config import load_study
from femion.constants import AVOGADRO

STUDY = Path(__file__).resolve().parents[2] / "studies" / "fig4_tofsims"
UM = 1e-6


@pytest.fixture(scope="module")
def study():
    """The study module (run.py)."""
    return load_study(STUDY)[1]


def o_change(mesh, grid, vacancies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ΔO⁻, O⁻) of a V_O density [1/m³] on the cells against the same stack without vacancies."""
    with_vo = tofsims.intensity("O-", {"c_vo": vacancies / AVOGADRO}, grid).values
    without = tofsims.intensity("O-", {}, grid).values
    return with_vo - without, with_vo


def test_o_localisation_of_a_gaussian_vacancy_column(study, quick_mesh, device):
    """V_O excess N exp(−r²/2s²) in LiPON: a deficit of O⁻ with FWHM 2√(2 ln 2) s, peaked on the axis, localised."""
    width = 15 * UM
    grid = tofsims.voxelize(quick_mesh, device, tofsims.FieldOfView(pixels=96))
    r = quick_mesh.cell_centroids[:, 0]
    vacancies = np.where(quick_mesh.region_mask("LiPON"), 1e24 * np.exp(-0.5 * (r / width) ** 2), 0.0)
    change, signal = o_change(quick_mesh, grid, vacancies)
    result = study.o_localisation(change, signal, grid)
    assert result["sign"] == -1.0
    assert result["within_electrode"]
    assert result["fwhm_m"] == pytest.approx(2 * math.sqrt(2 * math.log(2)) * width, rel=0.1)
    assert result["r_max_m"] < 0.1 * device.electrode_radius
    assert result["centre_edge_ratio"] > 10.0
    assert 0.0 < result["relative_amplitude"] < 1.0
    assert result["localised_under_centre"]


def test_o_localisation_of_a_disk_wide_layer(study, quick_mesh, device):
    """V_O uniform under the electrode: the width is the electrode's diameter, not localised; no change raises."""
    grid = tofsims.voxelize(quick_mesh, device, tofsims.FieldOfView(pixels=64))
    r = quick_mesh.cell_centroids[:, 0]
    vacancies = np.where(quick_mesh.region_mask("LiPON") & (r < device.electrode_radius), 1e23, 0.0)
    change, signal = o_change(quick_mesh, grid, vacancies)
    result = study.o_localisation(change, signal, grid)
    assert not result["localised_under_centre"]
    assert result["fwhm_m"] == pytest.approx(2 * device.electrode_radius, rel=0.1)
    assert result["centre_edge_ratio"] == pytest.approx(1.0, rel=1e-6)
    with pytest.raises(ValueError, match="did not change"):
        study.o_localisation(np.zeros(grid.shape), signal, grid)


@pytest.mark.slow
def test_quick_run(tmp_path, study, assert_matches_expected):
    """Regression snapshot: all nine panels computed from the three histories; numbers as stored in expected.json.

    Slow tier (~5 min): the quick variant programs over the full window (0 -> -2 -> 0 -> 2 -> 0 V at 0.05 V/s) with
    lithium, mechanics and air, then forms under compliance.
    """
    summary = study.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert summary["li_inventory_WO3_change_mol"] > 0  # negative pulses draw Li into WO3
    assert summary["forming_max_current_over_compliance_minus_1"] <= 1e-5  # the compliance holds
    assert np.isfinite(summary["forming_voltage_V"])  # the quick ramp reaches the compliance
    panels = json.loads((tmp_path / "panels.json").read_text())
    assert {key for key, panel in panels.items() if panel["status"] == "computed"} == set("abcdefghi")
    for name in ("panel_a_morphology_analog.png", "panel_d_ions_analog.png", "panel_g_li_depth_map_analog.png",
                 "depth_profiles_analog.nc", "depth_map_analog.nc", "tofsims/analog_Li-.vti", "analog/curves.nc",
                 "panel_b_morphology_power.png", "panel_e_ions_power.png", "panel_h_li_depth_map_power.png",
                 "depth_map_power.nc", "tofsims/power_OH-.vti", "power/curves.nc",
                 "panel_c_morphology_volatile.png", "panel_f_ions_volatile.png", "panel_i_o_depth_map_volatile.png",
                 "depth_map_volatile.nc", "depth_map_volatile_O_change.nc", "tofsims/volatile_O-.vti",
                 "tofsims/volatile_O-_change.vti", "volatile/curves.nc", "volatile/forming.nc"):
        assert (tmp_path / name).is_file(), name
