"""Quick mode of studies/damage_routes against its expected.json, a regression snapshot of the model's own output."""

from __future__ import annotations

from pathlib import Path

import pytest

from femion.config import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "damage_routes"


@pytest.mark.slow
def test_quick_run_matches_expected(tmp_path, assert_matches_expected):
    """Regression snapshot: the programming sweep (0.05 V/s, air, Pt, coarse mesh) and the four routes as stored.

    Slow tier: one sweep with lithium and mechanics.
    """
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for name in ("findings.md", "summary.json", "run.json"):
        assert (tmp_path / name).is_file(), name
    # identities, not snapshots: each ratio is its drive over its threshold
    for route in ("buckle_apex", "pt_domes", "gas_blister", "vacancy_creation"):
        assert summary[f"{route}_ratio"] == pytest.approx(summary[f"{route}_drive"] / summary[f"{route}_threshold"], rel=1e-12)
