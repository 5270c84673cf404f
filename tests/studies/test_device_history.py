"""studies/device_history: the O-localisation readout on synthetic fields and the staged protocols (fast), and the quick
run against its expected.json, a regression snapshot of the model's own output (slow)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from femion import tofsims
from femion.config import load_study
from femion.constants import AVOGADRO

STUDY = Path(__file__).resolve().parents[2] / "studies" / "device_history"
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


def test_history_protocols_are_staged(study):
    """The main history and the branch carry the paper's stages in order; stage spans are contiguous."""
    from femion.config import load_study_config

    config, device = load_study_config(STUDY / "config.toml", study.CONFIG_KEYS)
    si = study.parameters(config, "config.toml", quick=True)
    main, branch = study.history_protocols(si, math.pi * device.electrode_radius**2)
    assert main.stages == ("analog", "programming", "CV", "GCD", "forming 50 uA", "volatile", "rest")
    assert branch.stages == ("forming 500 uA", "bipolar", "retention")
    assert sorted(main.stage_ends().values()) == sorted(main.stages)
    assert [step.compliance for step in main if step.stage == "volatile"] == pytest.approx([50e-6] * si["volatile_cycles"])


@pytest.mark.slow
def test_quick_run(tmp_path, study, assert_matches_expected):
    """Regression snapshot: the quick history with every module on; numbers as stored in expected.json.

    Slow tier (several minutes): the pulse trains, the programming sweep over the full window, CV, GCD, forming and
    the volatile sweeps, and the non-volatile branch, all with lithium, mechanics, air, vacancy and thermal.
    """
    summary = study.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert summary["physics"] == ["lithium", "mechanics", "air", "vacancy", "thermal"]
    assert summary["forming_max_current_small_A"] <= 50e-6 * (1 + 1e-5)  # the compliance holds
    panels = json.loads((tmp_path / "panels.json").read_text())
    assert {key for key, panel in panels.items() if panel["status"] == "computed"} == set("abcdefghi")
    for name in ("panel_a_morphology_analog.png", "panel_d_ions_analog.png", "panel_g_li_depth_map_analog.png",
                 "depth_profiles_analog.nc", "depth_map_analog.nc", "tofsims/analog_Li-.vti", "history/curves.nc",
                 "history/reads.nc", "history/fields_stage1_analog.vtu", "history/fields_stage7_rest.vtu",
                 "nonvolatile/curves.nc", "panel_b_morphology_power.png", "panel_e_ions_power.png",
                 "panel_h_li_depth_map_power.png", "panel_c_morphology_volatile.png", "panel_f_ions_volatile.png",
                 "panel_i_o_depth_map_volatile.png", "depth_map_volatile_O_change.nc", "tofsims/volatile_O-_change.vti",
                 "stages.json", "findings.md"):
        assert (tmp_path / name).is_file(), name
