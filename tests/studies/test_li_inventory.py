"""studies/li_inventory: the scenario's start state, the analysis helpers, the knob bounds, and the quick run.

The helpers are checked against closed forms (capacitor discharge, straight lines, exact Li scaling); the quick
run against its expected.json, a regression snapshot of the model's own output.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from femion.claims import POWER_WINDOW
from femion.config import load_study
from femion.config import StudyConfigError, load_study_config

STUDY = Path(__file__).resolve().parents[2] / "studies" / "li_inventory"


@pytest.fixture(scope="module")
def module():
    return load_study(STUDY)[1]


def test_paper_gcd_inverts_the_capacitor_discharge(module):
    # C = 41 F/m², E = 252 J/m² (7.0 µWh/cm²), P = 0.279 W/m² (27.9 µW/cm²).
    gcd = module.paper_gcd(41.0, 252.0, 0.279)
    assert gcd["window_V"] == pytest.approx(math.sqrt(2 * 252.0 / 41.0), rel=1e-12)
    assert gcd["duration_s"] == pytest.approx(252.0 / 0.279, rel=1e-12)
    # Back to the inputs: E = C ΔV²/2, P = E/Δt, i Δt = C ΔV.
    assert 0.5 * 41.0 * gcd["window_V"] ** 2 == pytest.approx(252.0, rel=1e-12)
    assert gcd["current_density_A_m2"] * gcd["duration_s"] == pytest.approx(41.0 * gcd["window_V"], rel=1e-12)
    with pytest.raises(ValueError):
        module.paper_gcd(0.0, 1.0, 1.0)


def test_mode_rule_and_where_it_changes(module):
    assert module.mode(POWER_WINDOW) == "storage" and module.mode(POWER_WINDOW * 1.01) == "doping"
    assert module.mode(float("nan")) == "undecided"
    rows = [{"reduction": 0.5, "mode": "storage"}, {"reduction": 0.0, "mode": "doping"}, {"reduction": 0.9, "mode": "storage"}]
    assert module.mode_change(rows) == {"changes": True, "from": "doping", "to": "storage", "between_X": [0.0, 0.5]}
    assert module.mode_change([{"reduction": 0.0, "mode": "doping"}])["changes"] is False


def test_knob_bounds_are_the_database_ranges(module):
    config, device = load_study_config(STUDY / "config.toml", module.CONFIG_KEYS)
    knobs = {k.name: k for k in module.parse_knobs(config["knobs"], device, "config")}
    assert len(knobs) <= 4
    for name, knob in knobs.items():
        for material in knob.materials:
            low, high = device.material(material).__getitem__(knob.property).range
            assert knob.low >= low and knob.high <= high, name
    with pytest.raises(StudyConfigError, match="knobs"):
        module.parse_knobs([{"materials": ["WO3"], "property": "li_standard_potential", "favourable": "low"}] * 5, device, "config")
    with pytest.raises(StudyConfigError, match="Ag"):
        module.parse_knobs([{"materials": ["Ag"], "property": "li_standard_potential", "favourable": "low"}], device, "config")


def test_a_malformed_scenario_table_is_refused_naming_the_key(module, tmp_path):
    with pytest.raises(StudyConfigError, match=r"\[scenario\]"):
        module.run(tmp_path, quick=True, overrides={"config.scenario": {"hypothesis": "x"}})
    bad = {"hypothesis": "x", "inventory_reduction": [0.0], "quick_inventory_reduction": [1.0], "fit_inventory_reduction": 0.5}
    with pytest.raises(StudyConfigError, match="scenario"):
        module.run(tmp_path, quick=True, overrides={"config.scenario": bad})


@pytest.mark.slow
def test_quick_run_matches_expected(module, tmp_path, assert_matches_expected):
    """Quick variant (coarse mesh, three X, at most quick_fit_max_evaluations GCD runs in the fit): ~4-6 min on 2 cores."""
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("states.nc", "trials.nc", "fit.json", "summary.json", "findings.md", "run.json"):
        assert (tmp_path / name).is_file(), name
    with open(STUDY / "config.toml", "rb") as handle:
        assert summary["scenario"] == tomllib.load(handle)["scenario"]  # echoed verbatim: the claim names it
    assert "HYPOTHESIS" in (tmp_path / "findings.md").read_text()
