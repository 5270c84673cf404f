"""femion.calibration and the material-value overrides it runs on: knobs, residuals, the scaled Jacobian,
identifiability, write-back provenance, resume of batched sweep evaluations; femion.claims.PAPER_NUMBERS."""

from __future__ import annotations

import math
import re
import shutil
import textwrap
from pathlib import Path

import numpy as np
import pytest

import femion
from femion.calibration import (
    Knob,
    SweepEvaluator,
    Target,
    cost,
    forward_jacobian,
    identifiability,
    jacobian_points,
    parse_knobs,
    parse_targets,
    residual_vector,
    write_back,
)
from femion.claims import PAPER_NUMBERS, claim
from femion.config import StudyConfigError, load_study_config
from femion.materials import MaterialError, load_material
from femion.sweep import ClusterSpec, load_sweep, make_cluster

ROOT = Path(__file__).resolve().parents[2]
PULSES_CONFIG = ROOT / "studies" / "analog_pulses" / "config.toml"


def _pulses_keys() -> set[str]:
    import tomllib

    return set(tomllib.loads(PULSES_CONFIG.read_text())) - {"device"}


# ---------------------------------------------------------------------------------------------------------------------
# material.<Material>.<property> overrides


def test_material_override_replaces_the_value_in_si_and_only_there():
    base = femion.load_device()
    _, device = load_study_config(PULSES_CONFIG, _pulses_keys(), {
        "material.WO3.exchange_current_density": "2 mA/cm^2",  # = 20 A/m^2
        "material.WO3.li_initial_occupancy": 0.02,
        "material.LiPON.li_activation_energy": "0.52 eV",
    })
    wo3, original = device.material("WO3"), base.material("WO3")
    assert wo3.value("exchange_current_density") == pytest.approx(20.0, rel=1e-12)
    assert wo3.value("li_initial_occupancy") == pytest.approx(0.02, rel=1e-12)
    assert wo3["exchange_current_density"].source == "assumed"
    assert device.material("LiPON").value("li_activation_energy") == pytest.approx(0.52, rel=1e-12)
    unchanged = [p for p in original.parameters if p not in ("exchange_current_density", "li_initial_occupancy")]
    assert all(wo3.value(p) == original.value(p) and wo3[p].range == original[p].range for p in unchanged)
    assert device.material("MoO3").path == base.material("MoO3").path
    assert "material.WO3.exchange_current_density" in device.text
    # the same changes give the same file (content-addressed): sweep points share it
    _, again = load_study_config(PULSES_CONFIG, _pulses_keys(), {"material.WO3.li_initial_occupancy": 0.02,
                                                                 "material.WO3.exchange_current_density": "20 A/m^2",
                                                                 "material.LiPON.li_activation_energy": "0.52 eV"})
    assert again.layer("WO3").material == device.layer("WO3").material


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("material.Gold.exchange_current_density", "1 A/m^2", "uses no material 'Gold'"),
        ("material.WO3.no_such_property", "1", "has no property 'no_such_property'"),
        ("material.WO3.exchange_current_density", "1 V", "convertible to A/m\\^2"),
        ("material.WO3", "1", "'material.<Material>.<property>'"),
        ("material.WO3.exchange_current_density.x", "1", "'material.<Material>.<property>'"),
    ],
)
def test_bad_material_overrides_are_one_line_errors_naming_the_key(key, value, message):
    with pytest.raises(StudyConfigError, match=message) as error:
        load_study_config(PULSES_CONFIG, _pulses_keys(), {key: value})
    assert "\n" not in str(error.value) and key in str(error.value) and str(PULSES_CONFIG) in str(error.value)


def test_sweep_files_accept_material_keys_nested_or_quoted(tmp_path):
    text = textwrap.dedent(f"""\
        study = "{ROOT / 'studies' / 'analog_pulses'}"
        observables = ["G_max_over_G_min"]
        [list]
        "material.WO3.exchange_current_density" = ["1 A/m^2", "10 A/m^2"]
        material.MoO3.li_initial_occupancy = [0.2, 0.3]
        """)
    (tmp_path / "s.toml").write_text(text)
    sweep = load_sweep(tmp_path / "s.toml")
    assert set(sweep.parameters) == {"material.WO3.exchange_current_density", "material.MoO3.li_initial_occupancy"}
    from femion.sweep import validate_sweep

    validate_sweep(sweep)  # every point's overrides are checked against the study (material files written)


# ---------------------------------------------------------------------------------------------------------------------
# Knobs, targets, residuals


def test_knob_scaled_coordinate_round_trips_and_is_logarithmic():
    knob = Knob(("WO3",), "exchange_current_density", 0.1, 100.0, log=True, start=10.0)
    assert knob.to_value(0.0) == pytest.approx(0.1) and knob.to_value(1.0) == pytest.approx(100.0)
    assert knob.to_value(1.0 / 3.0) == pytest.approx(1.0)  # a third of three decades
    assert knob.to_scaled(10.0) == pytest.approx(2.0 / 3.0)
    linear = Knob(("LiPON",), "li_activation_energy", 0.5, 0.57)
    assert linear.to_value(0.5) == pytest.approx(0.535) and linear.to_scaled(0.535) == pytest.approx(0.5)
    assert knob.overrides(20.0) == {"material.WO3.exchange_current_density": "20 A/m^2"}
    both = Knob(("WO3", "MoO3"), "li_initial_occupancy", 0.01, 0.1)
    assert both.overrides(0.05) == {"material.WO3.li_initial_occupancy": "0.05", "material.MoO3.li_initial_occupancy": "0.05"}


def test_parse_knobs_reads_the_database_range_and_names_bad_entries():
    device = femion.load_device()
    knobs = parse_knobs([{"material": "WO3", "property": "li_diffusivity", "scale": "log"},
                         {"materials": ["WO3", "MoO3"], "property": "exchange_current_density", "scale": "log",
                          "low": "1 A/m^2", "high": "50 A/m^2"}], device, "c.toml")
    d = load_material("WO3")["li_diffusivity"]
    assert (knobs[0].low, knobs[0].high, knobs[0].start, knobs[0].source) == (d.range[0], d.range[1], d.value, d.source)
    assert (knobs[1].low, knobs[1].high) == (1.0, 50.0) and knobs[1].name == "WO3+MoO3.exchange_current_density"
    assert knobs[0].range_source == d.range_source and knobs[0].literature_range  # the database's range and its source
    assert knobs[1].range_source == "assumed" and not knobs[1].literature_range  # a range the config gives
    bad = [
        ([{"material": "Gold", "property": "li_diffusivity", "scale": "log"}], "not a layer material"),
        ([{"material": "WO3", "property": "nothing", "scale": "log"}], "no property"),
        ([{"material": "WO3", "property": "li_diffusivity", "scale": "cubic"}], "scale must be"),
        ([{"material": "WO3", "property": "li_interaction_energy", "scale": "log"}], "log scale needs low > 0"),
        ([{"material": "WO3", "property": "li_diffusivity"}], "needs 'materials'"),
        ([{"material": "WO3", "property": "li_diffusivity", "scale": "log"}] * 2, "listed twice"),
        ([{"material": "WO3", "property": "li_diffusivity", "scale": "log"}] * 11, "1 to 10"),
    ]
    for entries, message in bad:
        with pytest.raises(StudyConfigError, match=message):
            parse_knobs(entries, device, "c.toml")


def test_residual_definitions():
    log = Target("G_max_over_G_min", 57.5, "log", weight=2.0)
    assert log.residual(57.5 * math.e) == pytest.approx(2.0) and log.residual(57.5) == 0.0
    assert math.isnan(log.residual(0.0)) and math.isnan(log.residual(float("nan")))
    relative = Target("li_activation_energy", 0.5, "relative")
    assert relative.residual(0.45) == pytest.approx(-0.1)
    linear = Target("nonlinearity_label_LTD", -7.7, "linear", weight=0.5, scale=2.0)
    assert linear.residual(-3.7) == pytest.approx(0.5 * 4.0 / 2.0)
    lower = Target("retention_time", 1e5, "lower")
    assert lower.residual(1e6) == 0.0 and lower.residual(1e5 / math.e) == pytest.approx(-1.0)
    # the ±25 % band (femion.claims.RELATIVE_TOLERANCE), a lower bound from below only
    assert log.within(57.5 * 1.25) and not log.within(57.5 * 1.26) and lower.within(1e9) and not lower.within(7e4)
    r = residual_vector({"G_max_over_G_min": 57.5 * math.e}, [log, relative])
    assert r[0] == pytest.approx(2.0) and math.isnan(r[1])
    assert cost(r) == pytest.approx(0.5 * (4.0 + math.log(10.0) ** 2))  # the failed residual counts ln 10


def test_parse_targets_takes_the_paper_value_from_the_claims():
    targets = parse_targets({"areal_capacitance": {"kind": "log", "weight": 1.0, "part": "power", "fit": True},
                             "nonlinearity_label_LTP": {"kind": "linear", "scale": 1.0, "weight": 1.0, "part": "analog", "fit": True}},
                            "c.toml")
    assert targets[0].paper == pytest.approx(41.0)  # 4.1 mF/cm² in F/m²
    assert targets[1].paper == 0.6
    for table, message in [
        ({"not_a_number": {"kind": "log", "weight": 1.0, "part": "x", "fit": True}}, "not a paper number"),
        ({"retention_time": {"kind": "log", "weight": 1.0, "part": "x", "fit": True}}, "lower bound"),
        ({"energy": {"kind": "linear", "weight": 1.0, "part": "x", "fit": True}}, "needs a scale"),
        ({"energy": {"kind": "log", "weight": 0.0, "part": "x", "fit": True}}, "weight"),
    ]:
        with pytest.raises(StudyConfigError, match=message):
            parse_targets(table, "c.toml")


def test_paper_numbers_are_the_numbers_their_claims_state():
    superscript = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
    for name, number in PAPER_NUMBERS.items():
        c = claim(number.claim)
        assert number.text in c.paper_value + " " + c.statement, name
        # every number written in the text: the value is one of them (10ⁿ read as 1eⁿ)
        text = number.text.replace("−", "-")
        written = [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?(?![\d⁰¹²³⁴⁵⁶⁷⁸⁹⁻])", text)]
        written += [10.0 ** int(e.translate(superscript)) for e in re.findall(r"10([⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+)", text)]
        assert any(math.isclose(number.value, w) for w in written), name
    assert PAPER_NUMBERS["energy"].si() == pytest.approx(7.0e-6 * 3600.0 / 1e-4)  # 7.0 µWh/cm² in J/m²
    assert PAPER_NUMBERS["c2c_variation"].si() == pytest.approx(0.01)


# ---------------------------------------------------------------------------------------------------------------------
# Scaled Jacobian and identifiability


def test_forward_jacobian_of_an_analytic_function():
    A = np.array([[1.0, 2.0, -1.0], [0.5, 0.0, 3.0]])

    def f(u):
        return A @ u + np.array([u[0] ** 2, 0.0])

    calls = []

    def batch(points):
        calls.append(len(points))
        return [f(p) for p in points]

    u = np.array([0.2, 0.5, 0.995])  # the last component steps backward (u + h > 1)
    h = 0.01
    r, J = forward_jacobian(batch, u, h)
    exact = A.copy()
    exact[0, 0] += 2 * u[0]
    assert calls == [4]  # n + 1 points in one batch
    np.testing.assert_allclose(r, f(u), rtol=1e-14)
    np.testing.assert_allclose(J, exact + np.array([[h, 0, 0], [0, 0, 0]]), atol=1e-10)  # forward difference of u²: 2u + h
    points, steps = jacobian_points(u, h)
    assert steps.tolist() == [h, h, -h] and all(np.all((p >= 0) & (p <= 1)) for p in points)
    with pytest.raises(ValueError):
        forward_jacobian(batch, u, 1.5)


def test_identifiability_finds_the_trade_off_and_the_ranking():
    J = np.array([[1.0, 2.0, 0.0], [2.0, 4.0, 0.0], [0.0, 0.0, 0.5]])  # knobs a and b act only together; c weakly
    result = identifiability(J, ["a", "b", "c"], ["t1", "t2", "t3"])
    assert result["ranking"] == ["b", "a", "c"]
    assert result["importance"]["b"] == pytest.approx(math.sqrt(20.0 / 3.0))
    assert result["condition"] == float("inf") or result["condition"] > 1e12
    assert result["collinearity"] > 1e6
    null = np.array([result["null_direction"][k] for k in "abc"])
    np.testing.assert_allclose(np.abs(null), np.array([2.0, 1.0, 0.0]) / math.sqrt(5.0), atol=1e-12)  # a + 2b·(−½) const
    independent = identifiability(np.diag([1.0, 2.0]), ["a", "b"], ["t1", "t2"])
    assert independent["collinearity"] == pytest.approx(1.0) and independent["correlation"][0][1] == pytest.approx(0.0)


# ---------------------------------------------------------------------------------------------------------------------
# Write-back


def test_material_set_overrides_the_builtins_by_name(tmp_path, monkeypatch):
    """FEMION_MATERIALS: a folder's file replaces the built-in of the same name; the others stay built-in."""
    shutil.copy(Path(load_material("WO3").path), tmp_path / "WO3.toml")
    knob = Knob(("WO3",), "exchange_current_density", 0.1, 100.0, log=True, start=10.0)
    write_back([knob], [25.0], "studies/calibration", "G ratio -0.1", start_cost=3.0, best_cost=1.0, folder=tmp_path)
    monkeypatch.setenv("FEMION_MATERIALS", str(tmp_path))
    assert load_material("WO3").path == str((tmp_path / "WO3.toml").resolve())
    assert load_material("WO3")["exchange_current_density"].calibrated
    assert load_material("LiPON").path.endswith("femion/materials/LiPON.toml")
    monkeypatch.setenv("FEMION_MATERIALS", str(tmp_path / "missing"))
    with pytest.raises(MaterialError, match="FEMION_MATERIALS=.*missing: not a folder"):
        load_material("WO3")


def test_write_back_provenance_and_what_it_refuses(tmp_path):
    for name in ("WO3", "LiPON"):
        shutil.copy(Path(load_material(name).path), tmp_path / f"{name}.toml")
    moved = Knob(("WO3",), "exchange_current_density", 0.1, 100.0, log=True, start=10.0)
    unmoved = Knob(("LiPON",), "li_activation_energy", 0.5, 0.57, start=0.55)
    outside = Knob(("WO3",), "li_initial_occupancy", 1e-4, 0.1, log=True, start=0.01)
    result = write_back([moved, unmoved, outside], [25.0, 0.55, 0.2], "studies/calibration", "G ratio -0.1",
                        start_cost=3.0, best_cost=1.0, folder=tmp_path, date="2026-12-04")
    assert list(result["written"]) == ["WO3.exchange_current_density"]
    assert "not moved" in result["skipped"]["LiPON.li_activation_energy"]
    assert "outside its range" in result["skipped"]["WO3.li_initial_occupancy"]
    original = load_material("WO3")["exchange_current_density"]
    parameter = load_material(tmp_path / "WO3.toml")["exchange_current_density"]
    assert parameter.value == pytest.approx(25.0) and parameter.source == "calibrated: studies/calibration" and parameter.calibrated
    assert parameter.note == (f"calibrated 2026-12-04: G ratio -0.1. before calibration: {original.value!r} A/m^2 "
                              f"(source {original.source}): {original.note}")  # the note keeps what it replaced
    assert parameter.range == (0.1, 100.0)
    assert load_material(tmp_path / "WO3.toml").value("li_initial_occupancy") == load_material("WO3").value("li_initial_occupancy")
    none = write_back([moved], [30.0], "studies/calibration", "n", start_cost=1.0, best_cost=1.0, folder=tmp_path)
    assert not none["written"] and "did not lower the cost" in none["skipped"][moved.name]
    with pytest.raises(ValueError, match="studies/<name>"):
        write_back([moved], [30.0], "calibration", "n", start_cost=2.0, best_cost=1.0, folder=tmp_path)
    # a literature range whose source was the value's own keeps that source once the value is calibrated
    sourced = tmp_path / "sourced.toml"
    sourced.write_text('name = "WO3"\ndescription = "test"\nkind = "host"\n[li_diffusivity]\nvalue = 1e-15\n'
                       'unit = "m^2/s"\nsource = "granqvist1995handbook"\nnote = "x"\nrange = [1e-16, 1e-13]\n\n'
                       '[density]\nvalue = 7000.0\nunit = "kg/m^3"\nsource = "assumed"\nnote = "y"\n')
    shutil.copy(sourced, tmp_path / "WO3.toml")
    diffusivity = Knob(("WO3",), "li_diffusivity", 1e-16, 1e-13, log=True, start=1e-15)
    write_back([diffusivity], [3e-14], "studies/calibration", "n", start_cost=2.0, best_cost=1.0, folder=tmp_path)
    parameter = load_material(tmp_path / "WO3.toml")["li_diffusivity"]
    assert parameter.calibrated and parameter.range_source == "granqvist1995handbook" and parameter.literature_range
    assert load_material(tmp_path / "WO3.toml").value("density") == 7000.0


# ---------------------------------------------------------------------------------------------------------------------
# Batched evaluations through femion.sweep, with resume

EVALUATOR_RUN = '''\
"""Synthetic evaluator: y = i0 * theta (from the material overrides), logged per call."""
import json
from pathlib import Path
from femion.config import load_study_config
HERE = Path(__file__).resolve().parent
def run(outdir, quick=False, overrides=None):
    config, device = load_study_config(HERE / "config.toml", {"part"}, overrides)
    wo3 = device.material("WO3")
    y = wo3.value("exchange_current_density") * wo3.value("li_initial_occupancy")
    with open(HERE / "calls.log", "a") as log:
        log.write(config["part"] + "\\n")
    return {"failure": None, "y": y if config["part"] == "a" else 2 * y}
'''


def test_sweep_evaluator_batches_points_and_resumes_from_disk(tmp_path):
    study = tmp_path / "evaluator"
    study.mkdir()
    (study / "config.toml").write_text('device = ""\npart = "a"\n')
    (study / "run.py").write_text(EVALUATOR_RUN)
    knobs = [Knob(("WO3",), "exchange_current_density", 0.1, 100.0, log=True, start=10.0),
             Knob(("WO3",), "li_initial_occupancy", 1e-4, 0.1, log=True, start=0.01)]
    from distributed import Client

    cluster = make_cluster(ClusterSpec("local", {"n_workers": 1}))
    client = Client(cluster, set_as_default=False)
    try:
        out = tmp_path / "out"
        first = SweepEvaluator(study, out, knobs, ["y"], quick=False, cluster={"kind": "local"}, client=client)
        records = first.evaluate([("a", [10.0, 0.01]), ("b", [10.0, 0.01]), ("a", [20.0, 0.01])], label="one")
        assert [first.metrics(r)["y"] for r in records] == pytest.approx([0.1, 0.2, 0.2])
        assert first.computed == 3 and (study / "calls.log").read_text().split() == ["a", "b", "a"]
        batch = first.batches[0]
        assert load_sweep(batch["file"]).cluster.kind == "local" and (Path(batch["file"]).with_suffix("") / "results.nc").is_file()
        # a new evaluator (a rerun after an interruption) finds the finished points on disk
        again = SweepEvaluator(study, out, knobs, ["y"], quick=False, cluster={"kind": "local"}, client=client)
        records = again.evaluate([("a", [20.0, 0.01]), ("a", [10.0, 0.01]), ("a", [10.0, 0.1])], label="two")
        assert again.computed == 1 and [again.metrics(r)["y"] for r in records] == pytest.approx([0.2, 0.1, 1.0])
        assert (study / "calls.log").read_text().split() == ["a", "b", "a", "a"]
    finally:
        client.close()
        cluster.close()
