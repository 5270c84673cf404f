"""Validation report: every claim of the paper with femion's value and its computed status.

The claims, their threshold rules, their mechanism chains and the material
values they depend on live in :mod:`femion.claims`; this study only gathers the
outputs of the studies that measure them and writes the scoreboard:

* ``validation.md``: one row per claim (paper, femion, status, the link that
  breaks for a claim not reproduced, the assumed values it depends on), the
  counts by status, and the counts of assumed, sourced and calibrated values the
  claims depend on;
* ``validation.json``: claim id → paper value, femion value, status (one of
  :data:`femion.claims.STATUSES`), breaking link, rule, scenario inputs;
* ``summary.json`` with the counts, and the usual run provenance.

Each study runs into ``<output>/<study>`` (in quick mode with ``--quick``).
With ``reuse_outputs = true`` a study folder there that already holds a
``summary.json`` from a run of the same mode is read instead of re-run (its
revision and date are listed in the report): the report can be rebuilt after
one study changed. A study that fails (raises, or reports a ``failure``) leaves
its claims ``not_yet_modelled`` with the reason, and the validation itself then
reports a failure (exit 1 from ``femion run``).
"""

from __future__ import annotations

import json
import traceback
from collections import Counter
from dataclasses import replace
from pathlib import Path

from femion.claims import CLAIMS, STATUSES, assess, load_study_output, parameter_provenance
from femion.config import load_study, load_study_config
from femion.io import write_run_metadata

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"reuse_outputs"}

LABELS = {
    "reproduced": "reproduced",
    "reproduced_calibrated": "reproduced, calibrated",
    "reproduced_under_scenario": "reproduced under a scenario",
    "not_reproduced": "not reproduced",
    "not_yet_modelled": "not yet modelled",
}


def studies_needed() -> list[str]:
    """The studies the claims read, in the order of :data:`femion.claims.CLAIMS`."""
    names: list[str] = []
    for c in CLAIMS:
        names.extend(name for name in c.studies if name not in names)
    return names


def _reusable(folder: Path, quick: bool) -> bool:
    run = folder / "run.json"
    if not (folder / "summary.json").is_file() or not run.is_file():
        return False
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return bool(summary.get("quick", False)) == quick and not summary.get("failure")


def _provenance(folder: Path) -> str:
    try:
        run = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "—"
    return f"{run.get('git_revision') or '?'} ({run.get('created', '?')})"


def gather(outdir: Path, quick: bool, reuse: bool) -> tuple[dict[str, dict], dict[str, str], dict[str, str]]:
    """Run or read every needed study; return outputs, failures and provenance by study name."""
    outputs, failures, provenance = {}, {}, {}
    for name in studies_needed():
        folder = outdir / name
        if not (reuse and _reusable(folder, quick)):
            print(f"validation: running studies/{name}{' (quick)' if quick else ''} -> {folder}", flush=True)
            try:
                _, module = load_study(HERE.parent / name)
                summary = module.run(folder, quick=quick)
            except Exception as error:  # a study that fails is reported, and the others still run
                failures[name] = f"{type(error).__name__}: {error}".splitlines()[0]
                (outdir / f"{name}.traceback.txt").write_text(traceback.format_exc(), encoding="utf-8")
                continue
            if isinstance(summary, dict) and summary.get("failure"):
                failures[name] = str(summary["failure"])
                continue
        else:
            print(f"validation: reading studies/{name} from {folder}", flush=True)
        output = load_study_output(folder)
        if output is not None:
            outputs[name] = output
            provenance[name] = _provenance(folder)
    return outputs, failures, provenance


def _cell(text: str | None) -> str:
    return (text or "").replace("|", "\\|").replace("\n", " ")


def run(outdir: Path, quick: bool = False, overrides: dict | None = None) -> dict:
    """Gather the studies' outputs, compute every claim's status and write the report into ``outdir``.

    Parameters
    ----------
    outdir : Path
        Output folder; each study runs (or is read) in a sub-folder of it.
    quick : bool
        Run the studies in their quick mode.
    overrides : dict, optional
        ``config.reuse_outputs`` (see :func:`femion.config.load_study_config`).

    Returns
    -------
    dict
        Counts by status, the per-claim statuses and ``failure`` (None, or the
        studies that failed).
    """
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    if not isinstance(config["reuse_outputs"], bool):
        raise ValueError(f"{HERE / 'config.toml'}: reuse_outputs must be true or false, got {config['reuse_outputs']!r}")
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    outputs, failures, provenance = gather(outdir, quick, config["reuse_outputs"])

    assessments = []
    for c in CLAIMS:
        a = assess(c.id, outputs)
        failed = [f"{name}: {failures[name]}" for name in c.studies if name in failures]
        if failed and a.status == "not_yet_modelled":
            a = replace(a, breaking_link="study failed: " + "; ".join(failed))
        assessments.append(a)
    counts = Counter(a.status for a in assessments)
    parameters = sorted({p for c in CLAIMS for p in c.parameters})
    sources = parameter_provenance(parameters)
    kinds = Counter(info["kind"] for info in sources.values())

    lines = [
        "# femion validation report" + (" (quick studies)" if quick else ""),
        "",
        "Each status is computed from the studies' outputs by the rule of `femion.claims` (the column 'rule').",
        "",
        "| claim | paper | femion | status | breaking link | rule | assumed values it depends on |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in assessments:
        assumed = [p for p in a.claim.parameters if sources.get(p, {}).get("kind") == "assumed"]
        link = a.breaking_link or ""
        if a.scenario:
            link = (link + "; " if link else "") + "hypotheses: " + "; ".join(a.scenario)
        if a.calibrated:
            link = (link + "; " if link else "") + "fitted/out of range: " + ", ".join(a.calibrated)
        lines.append(
            f"| `{a.claim.id}`: {_cell(a.claim.statement)} | {_cell(a.claim.paper_value)} | {_cell(a.value)} | "
            f"{LABELS[a.status]} | {_cell(link)} | {_cell(a.claim.rule)} | "
            f"{', '.join(assumed) if a.status != 'reproduced' else ''} |"
        )
    lines += [
        "",
        "Counts by status: " + ", ".join(f"{LABELS[s]} {counts.get(s, 0)}" for s in STATUSES) + f" (of {len(assessments)}).",
        "",
        f"Material values the claims depend on: {len(sources)} — assumed {kinds.get('assumed', 0)}, "
        f"sourced {kinds.get('sourced', 0)}, calibrated {kinds.get('calibrated', 0)}.",
        "",
        "Study outputs used (git revision, date):",
        "",
        *[f"- `{name}`: {provenance[name]}" for name in provenance],
        *[f"- `{name}`: FAILED ({reason})" for name, reason in failures.items()],
    ]
    report = "\n".join(lines) + "\n"
    (outdir / "validation.md").write_text(report, encoding="utf-8")
    table = {a.claim.id: a.as_dict() for a in assessments}
    (outdir / "validation.json").write_text(json.dumps(table, indent=2, ensure_ascii=False), encoding="utf-8")
    summary = {
        "quick": quick,
        "claims": len(assessments),
        **{status: counts.get(status, 0) for status in STATUSES},
        "statuses": {a.claim.id: a.status for a in assessments},
        "parameters": {"assumed": kinds.get("assumed", 0), "sourced": kinds.get("sourced", 0), "calibrated": kinds.get("calibrated", 0)},
        "studies_failed": failures,
        "failure": ("studies failed: " + ", ".join(failures)) if failures else None,
    }
    (outdir / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    write_run_metadata(outdir, device, {"study": "validation", "summary": summary})
    print(report)
    return summary
