"""Studies are thin: shared logic lives in the package, so no study imports another study's run.py
(except studies/validation, whose job is to run every study). Every .py under studies/ is scanned, nested studies
(e.g. studies/calibration/evaluate) included; run outputs (``output/`` folders) are not."""

from __future__ import annotations

import ast
from pathlib import Path

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def test_no_study_loads_another_study():
    offenders = []
    for script in sorted(STUDIES.rglob("*.py")):
        parts = script.relative_to(STUDIES).parts
        if parts[0] == "validation" or "output" in parts[:-1]:
            continue
        for node in ast.walk(ast.parse(script.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == "load_study":
                offenders.append(f"{script.relative_to(STUDIES)}:{node.lineno}")
    assert not offenders, f"studies loading another study's run.py (move the shared code into femion): {offenders}"
