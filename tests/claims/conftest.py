"""Study outputs for the claim tests: each needed study runs once per session in its quick mode.

Set ``FEMION_CLAIMS_OUTPUTS`` to a folder holding the studies' output folders
(e.g. the output of ``femion run studies/validation --quick``) to read them
instead of running the studies.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from femion.claims import load_study_output
from femion.config import load_study

STUDIES = Path(__file__).resolve().parents[2] / "studies"


@pytest.fixture(scope="session")
def study_output(tmp_path_factory):
    """``study_output(name)`` → the quick output of ``studies/<name>`` (summary with readouts), run once per session."""
    cache: dict[str, dict] = {}
    stored = os.environ.get("FEMION_CLAIMS_OUTPUTS")

    def get(name: str) -> dict:
        if name not in cache:
            folder = Path(stored) / name if stored else tmp_path_factory.mktemp(name)
            if not stored:
                _, module = load_study(STUDIES / name)
                module.run(folder, quick=True)
            output = load_study_output(folder)
            if output is None:
                raise FileNotFoundError(f"no summary.json in {folder}")
            cache[name] = output
        return cache[name]

    return get
