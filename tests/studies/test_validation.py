"""studies/validation: the report from stored study outputs (fast) and the quick validation against expected.json (slow)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from femion.claims import CLAIMS, STATUSES
from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "validation"


def test_report_from_stored_outputs_computes_every_row(tmp_path):
    """With every study's output already in place (reuse), each row is computed from it; none is typed."""
    _, module = load_study(STUDY)
    for name in module.studies_needed():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps({"quick": True, "failure": None}))
        (folder / "run.json").write_text(json.dumps({"git_revision": "test", "created": "2026-12-04"}))
    outputs = {
        "field_scaling": {"electrode_radii_m": [1e-4, 1e-6], "edge_current_fraction": [0.01, 0.4], "capacitance_excess": [0.01, 2.0]},
        "analog_pulses": {"G_max_over_G_min": 6.0},
    }
    for name, extra in outputs.items():
        (tmp_path / name / "summary.json").write_text(json.dumps({"quick": True, "failure": None, **extra}))
    summary = module.run(tmp_path, quick=True)
    table = json.loads((tmp_path / "validation.json").read_text())
    assert list(table) == [c.id for c in CLAIMS]
    assert {row["status"] for row in table.values()} <= set(STATUSES)
    assert table["fringe_scaling"]["status"] == "reproduced"
    assert table["analog_window"]["status"] == "not_reproduced" and "6" in table["analog_window"]["femion"]
    assert table["capacitance"]["status"] == "not_yet_modelled"
    assert sum(summary[s] for s in STATUSES) == len(CLAIMS) and summary["failure"] is None
    report = (tmp_path / "validation.md").read_text()
    assert report.count("\n| `") == len(CLAIMS) and "Counts by status" in report


def test_a_failed_study_fails_the_validation(tmp_path):
    _, module = load_study(STUDY)
    for name in module.studies_needed():
        folder = tmp_path / name
        folder.mkdir()
        (folder / "summary.json").write_text(json.dumps({"quick": True}))
        (folder / "run.json").write_text("{}")
    (tmp_path / "field_scaling" / "summary.json").write_text(json.dumps({"quick": False}))  # other mode: re-run ...
    (tmp_path / "field_scaling" / "config_marker").write_text("")
    module_run = module.load_study

    def failing(path):
        folder, study = module_run(path)
        study.run = lambda outdir, quick=False: {"failure": "simulation stopped at t = 0"}
        return folder, study

    module.load_study = failing
    try:
        summary = module.run(tmp_path, quick=True)
    finally:
        module.load_study = module_run
    assert summary["failure"] == "studies failed: field_scaling"
    table = json.loads((tmp_path / "validation.json").read_text())
    assert table["fringe_scaling"]["status"] == "not_yet_modelled"
    assert "simulation stopped" in table["fringe_scaling"]["breaking_link"]


@pytest.mark.slow
def test_quick_validation_report(tmp_path, assert_matches_expected):
    """Regression snapshot of the counts by status (all quick studies: ~1 h on 2 cores)."""
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
