"""Quick mode of studies/fig4_tofsims: the analog and power panels exist, the volatile ones are declared missing, numbers as stored."""

from __future__ import annotations

import json
from pathlib import Path


from femion.cli import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "fig4_tofsims"


def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    assert summary["li_inventory_WO3_change_mol"] > 0  # negative pulses draw Li into WO3
    panels = json.loads((tmp_path / "panels.json").read_text())
    assert {key for key, panel in panels.items() if panel["status"] == "computed"} == {"a", "b", "d", "e", "g", "h"}
    assert all(panel["reason"] for panel in panels.values() if panel["status"] != "computed")
    for name in ("panel_a_morphology_analog.png", "panel_d_ions_analog.png", "panel_g_li_depth_map_analog.png",
                 "depth_profiles_analog.nc", "depth_map_analog.nc", "tofsims/analog_Li-.vti", "analog/curves.nc",
                 "panel_b_morphology_power.png", "panel_e_ions_power.png", "panel_h_li_depth_map_power.png",
                 "depth_map_power.nc", "tofsims/power_OH-.vti", "power/curves.nc"):
        assert (tmp_path / name).is_file(), name
