"""Quick mode of studies/validation: the table is complete and its statuses follow from the numbers;
values against expected.json, a regression snapshot of the model's own output.

Default tier, the longest test in it: it runs the field_scaling and fig4_tofsims quick variants (the latter with the
full programming window since 2026-12-04), about 135 s of CPU.
"""

from __future__ import annotations

from pathlib import Path

import xarray as xr

from femion.cli import load_study

STUDY = Path(__file__).resolve().parents[2] / "studies" / "validation"


def test_quick_validation_report(tmp_path, assert_matches_expected):
    _, module = load_study(STUDY)
    summary = module.run(tmp_path, quick=True)
    assert_matches_expected(summary, STUDY)
    with xr.open_dataset(tmp_path / "validation.nc") as table:
        statuses = dict(zip(table.claim.values.tolist(), table.status.values.tolist()))
    assert statuses["fringe effect vs size (§2.6)"] == "reproduced"
    assert (tmp_path / "validation.md").read_text().count("\n|") == 16  # header, rule and 14 claims
