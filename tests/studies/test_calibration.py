"""studies/calibration: its config parses into knobs and targets (fast); the quick fit, its stored residuals and its
resume from the finished sweep points, against expected.json, a regression snapshot of the model's own output (slow)."""

from __future__ import annotations

import json
import math
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from femion.calibration import OBSERVABLES, PARTS, parse_knobs, parse_targets
from femion.claims import PAPER_NUMBERS
from femion.config import StudyConfigError, load_study, load_study_config

STUDY = Path(__file__).resolve().parents[2] / "studies" / "calibration"


def test_config_knobs_are_inside_their_database_ranges_and_targets_come_from_the_claims():
    _, module = load_study(STUDY)
    config, device = load_study_config(STUDY / "config.toml", module.CONFIG_KEYS)
    knobs = parse_knobs(config["knobs"], device, "config")
    assert 1 <= len(knobs) <= 10
    for knob in knobs:
        for material in knob.materials:
            low, high = device.material(material)[knob.property].range
            assert low <= knob.low < knob.high <= high, knob.name
            assert knob.inside(knob.start)
    targets = parse_targets(config["targets"], "config")
    assert {t.name for t in targets} == set(PAPER_NUMBERS)
    assert all(t.paper == PAPER_NUMBERS[t.name].si() for t in targets)
    assert {t.part for t in targets} <= set(PARTS)
    assert all(t.name in PARTS[t.part] for t in targets)
    assert set(OBSERVABLES) <= set(PAPER_NUMBERS) and len(set(OBSERVABLES)) == len(OBSERVABLES)
    _, evaluate = load_study(STUDY / "evaluate")
    with pytest.raises(StudyConfigError, match="part must be one of"):
        evaluate.run(Path("unused"), overrides={"config.part": "nothing"})


def test_evaluator_runs_the_protocols_of_analog_pulses_and_li_inventory():
    """The evaluator's [train] and [power] tables are the pulses of studies/analog_pulses and the GCD and scenario state
    of studies/li_inventory (its fit state), read from their config files."""
    read = lambda path: tomllib.loads(path.read_text(encoding="utf-8"))  # noqa: E731
    evaluator, pulses, inventory = (read(STUDY / "evaluate" / "config.toml"), read(STUDY.parent / "analog_pulses" / "config.toml"),
                                    read(STUDY.parent / "li_inventory" / "config.toml"))
    assert evaluator["train"] == {key: pulses[key] for key in evaluator["train"]}
    assert evaluator["device"] == pulses["device"] == inventory["device"]
    power = evaluator["power"]
    assert (power["gcd_window"], power["gcd_current_density"]) == (inventory["gcd_window"], inventory["gcd_current_density"])
    assert power["inventory_reduction"] == inventory["scenario"]["fit_inventory_reduction"]
    assert power["hypothesis"] == inventory["scenario"]["hypothesis"]


@pytest.mark.slow
def test_quick_run_stores_every_point_and_resumes(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    fit = json.loads((tmp_path / "fit.json").read_text())
    targets = {t["name"]: t for t in fit["targets"]}
    with xr.open_dataset(tmp_path / "trials.nc") as data:
        # the stored cost is ½Σr² of the stored residuals (failed residuals count ln 10)
        r = np.where(np.isfinite(data.residual.values), data.residual.values, math.log(10.0))
        np.testing.assert_allclose(data.cost.values, 0.5 * np.sum(r**2, axis=1), rtol=1e-12)
        assert len(data.trial) == fit["evaluations"]
    for row in fit["residual_table"]:
        if row["fitted"] and targets[row["target"]]["kind"] == "log":
            assert row["residual_after"] == pytest.approx(targets[row["target"]]["weight"] * math.log(row["after"] / row["paper"]))
    assert all((Path(b["file"]).with_suffix("") / "results.nc").is_file() for b in fit["batches"])
    # a rerun into the same folder finds every point on disk: nothing is recomputed, the same optimum comes out
    again = module.run(tmp_path, quick=True)
    refit = json.loads((tmp_path / "fit.json").read_text())
    assert refit["points_computed"] == 0
    assert again["best_values"] == summary["best_values"]
