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

from femion.calibration import OBSERVABLES, PARTS, Knob, parse_knobs, parse_targets
from femion.claims import PAPER_NUMBERS
from femion.config import StudyConfigError, load_study, load_study_config

STUDY = Path(__file__).resolve().parents[2] / "studies" / "calibration"


def test_config_knobs_are_inside_their_database_ranges_and_targets_come_from_the_claims():
    _, module = load_study(STUDY)
    config, device = load_study_config(STUDY / "config.toml", module.CONFIG_KEYS)
    knobs = parse_knobs(config["knobs"], device, "config")
    screen = parse_knobs(config["screen_knobs"], device, "config")
    assert 1 <= len(knobs) and len(knobs) + len(screen) <= 10  # at most 10 named parameters, fitted and screened
    for knob in [*knobs, *screen]:
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


def test_needed_value_interpolates_inside_and_extrapolates_outwards_only():
    """The screen's knob value for a target's ±25 % band: linear in the scaled knob between points, outwards past an end."""
    _, module = load_study(STUDY)
    config, _ = load_study_config(STUDY / "config.toml", module.CONFIG_KEYS)
    off = {t.name: t for t in parse_targets(config["targets"], "config")}["off_current"]  # log residual, paper 1e-7 A
    knob = Knob(("LiPON",), "vo_recombination_activation_energy", 0.5, 1.7, start=0.9)  # linear, eV
    # ln(I/1e-7) falls linearly from ln 1e3 at u = 0 to ln 0.1 at u = 1; the value closest to the paper (1e-8 A) lies
    # below the band, so the edge sought is 0.75e-7 A: ln 1e3 - u ln 1e4 = ln 0.75
    u_edge = (math.log(1e3) - math.log(0.75)) / math.log(1e4)
    inside = module.needed_value(off, knob, [(0.0, 1e-4), (1.0, 1e-8)])
    assert inside["inside_range"] and inside["u_needed"] == pytest.approx(u_edge) and inside["value_needed"] == pytest.approx(0.5 + 1.2 * u_edge)
    # 1e-4 A at u = 0 and 1e-5 A at u = 1: ln falls by ln 10 per unit u, the edge 1.25e-7 lies ln(80)/ln(10) past u = 1
    outside = module.needed_value(off, knob, [(0.0, 1e-4), (1.0, 1e-5)])
    assert not outside["inside_range"] and outside["u_needed"] == pytest.approx(1.0 + math.log(1e-5 / 1.25e-7) / math.log(10.0))
    assert "past the range end" in outside["beyond_range"]
    rising = module.needed_value(off, knob, [(0.0, 1e-5), (0.5, 2e-5), (1.0, 3e-5)])  # falls towards the band below u = 0
    assert rising["u_needed"] == pytest.approx(-0.5 * math.log(1e-5 / 1.25e-7) / math.log(2.0))
    valley = module.needed_value(off, knob, [(0.0, 1e-5), (0.5, 1e-6), (1.0, 1e-5)])  # outwards leads away at both ends
    assert math.isnan(valley["u_needed"]) and valley["beyond_range"].startswith("not reached")
    assert module.needed_value(off, knob, [(0.0, 1e-4), (1.0, 1.1e-7)])["u_needed"] == 1.0  # an end in the band
    flat = module.needed_value(off, knob, [(0.0, 1.8e-5), (1.0, 1.7e-5)])  # 1 % a range: the band lies ~90 range widths out
    assert math.isnan(flat["value_needed"]) and flat["beyond_range"].startswith("not reached within 10 range widths")


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


def test_lrs_retention_takes_the_extrapolation_then_the_300K_failure_then_the_censoring_read():
    """The held-out retention target: a censored LRS (no failure within the reads) counts as its last read, a lower bound."""
    _, evaluate = load_study(STUDY / "evaluate")
    nan = float("nan")
    reads = [0.002, 1.0, 1e5]
    assert evaluate.lrs_retention({"retention_lrs_300K_extrapolated_s": 8.3, "failure_lrs_300K_s": 7.8, "read_times_s": reads}) == 8.3
    assert evaluate.lrs_retention({"retention_lrs_300K_extrapolated_s": nan, "failure_lrs_300K_s": 7.8, "read_times_s": reads}) == 7.8
    assert evaluate.lrs_retention({"retention_lrs_300K_extrapolated_s": nan, "failure_lrs_300K_s": nan, "read_times_s": reads}) == 1e5
    assert math.isnan(evaluate.lrs_retention({"retention_lrs_300K_extrapolated_s": nan, "failure_lrs_300K_s": nan, "read_times_s": []}))
