"""Studies are thin: shared logic lives in the package, so no study uses the functions of another study's run.py.

A study may run another study whole, through its ``run()`` (a black box with its own config, as studies/validation
runs every study and studies/calibration/evaluate runs the digital-mode studies for its held-out targets); it may not
reach into the other study's functions or constants. Every .py under studies/ is scanned, nested studies included; run
outputs (``output/`` folders) are not.
"""

from __future__ import annotations

import ast
from pathlib import Path

STUDIES = Path(__file__).resolve().parents[2] / "studies"


def _loaded_names(tree: ast.AST) -> tuple[set[str], list[int]]:
    """Names bound to a loaded study module (``_, name = load_study(...)``), and the lines of load_study calls bound to none."""
    names, unbound = set(), []
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _is_load_study(node.value):
            bound.add(id(node.value))
            for target in node.targets:
                elements = target.elts if isinstance(target, ast.Tuple) else [target]
                if isinstance(elements[-1], ast.Name):
                    names.add(elements[-1].id)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _is_load_study(node) and id(node) not in bound:
            unbound.append(node.lineno)
    return names, unbound


def _is_load_study(call: ast.Call) -> bool:
    return getattr(call.func, "id", getattr(call.func, "attr", None)) == "load_study"


def test_no_study_uses_another_study_s_functions():
    offenders = []
    for script in sorted(STUDIES.rglob("*.py")):
        parts = script.relative_to(STUDIES).parts
        if parts[0] == "validation" or "output" in parts[:-1]:
            continue
        tree = ast.parse(script.read_text(encoding="utf-8"))
        names, unbound = _loaded_names(tree)
        offenders += [f"{script.relative_to(STUDIES)}:{line} (load_study result not bound)" for line in unbound]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in names and node.attr != "run":
                offenders.append(f"{script.relative_to(STUDIES)}:{node.lineno} ({node.value.id}.{node.attr})")
    assert not offenders, f"studies using another study's functions (move the shared code into femion): {offenders}"


def test_the_guard_flags_a_reach_into_another_study():
    """The check itself: running a loaded study is allowed, using one of its functions is not."""
    allowed = ast.parse("_, study = load_study(path)\nsummary = study.run(out, quick=True)\n")
    names, unbound = _loaded_names(allowed)
    assert names == {"study"} and not unbound
    reach = ast.parse("_, forming = load_study(path)\nstate = forming.form(device)\n")
    names, _ = _loaded_names(reach)
    assert [n.attr for n in ast.walk(reach) if isinstance(n, ast.Attribute) and getattr(n.value, "id", None) in names] == ["form"]
