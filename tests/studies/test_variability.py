"""studies/variability: seed reproducibility and cycle analysis (fast); the quick run against expected.json,
a regression snapshot of the model's own output (slow: ~14 min)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import femion
from femion.config import load_study
from femion.geometry import MeshSettings
from femion.protocols import hold
from femion.simulation import SimulationSettings
from femion.switching import run_vacancy

STUDY = Path(__file__).resolve().parents[2] / "studies" / "variability"


def test_same_seed_gives_a_bit_identical_run():
    device = femion.load_device()
    settings = SimulationSettings(mesh=MeshSettings(refinement=0.25), max_iterations=40)
    mesh = femion.build_mesh(device, settings=settings.mesh)

    def run(seed):
        out = run_vacancy(device, hold(2.0, 0.2, compliance=5e-5), settings, mesh, seed=seed, barrier_disorder=0.05, density_fluctuation=0.5)
        return out.current, out.state.fields["n_vo"]

    first, second, other = run(11), run(11), run(12)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[1], other[1])


def test_cycle_analysis_of_a_synthetic_bipolar_cycle():
    _, module = load_study(STUDY)
    legs = [np.linspace(0, 4, 41), np.linspace(4, 0, 41)[1:], np.linspace(0, -4, 41)[1:], np.linspace(-4, 0, 41)[1:]]
    v = np.concatenate(legs)
    # on (1 kOhm) after the positive sweep passes 2 V until the negative sweep passes -3 V, else off (1 MOhm)
    on = np.concatenate([legs[0] >= 2.0, np.ones(40, bool), legs[2] > -3.0, np.zeros(40, bool)])
    i = np.where(on, v / 1e3, v / 1e6)
    row = module.analyse_cycle(v, np.clip(i, -1e-3, 1e-3), 1e-3, 0.5, 0.5)
    assert row["r_positive"] == pytest.approx(1e3, rel=1e-9) and row["r_negative"] == pytest.approx(1e6, rel=1e-9)
    assert 1.95 < row["v_th"] <= 2.0
    polarity, rows = module.label_states([row, {**row, "r_positive": 2e6}])  # mean after the positive half (1e3 + 2e6)/2 > 1e6
    assert polarity == "negative" and rows[1]["lrs"] == 1e6 and rows[1]["hrs"] == 2e6
    assert module.variation([1.0, 1.0, np.nan]) == 0.0


@pytest.mark.slow
def test_quick_run(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    for history in ("deformed", "flat"):  # the acceptance table: both histories, every quantity computed
        assert all(np.isfinite(summary["variation"][history][key]) for key in ("v_th", "v_hold", "lrs", "hrs")), history
    assert (tmp_path / "variation.json").is_file() and (tmp_path / "findings.md").is_file()
