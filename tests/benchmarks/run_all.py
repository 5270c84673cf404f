"""Run every femion benchmark and write one JSON file.

    python tests/benchmarks/run_all.py [--out tests/benchmarks/results.json] [--full] [--quick]

Items: 1–2 ``bench_solvers.py`` (per-step overhead, cost growth), 3
``bench_mms.py`` (work–precision against scikit-fem), 4 ``bench_end_to_end.py``
(studies' wall time and peak memory, loop profile by physics; ``--full`` adds
the main job in full), 5 ``bench_sweep.py`` (8-point sweep, 1 vs 2 workers),
6 ``bench_all_physics.py`` (every physics on the default mesh: coupled step
against its modules' own solves, coupling iterations, time by module).
``--quick`` drops the largest growth mesh and uses fewer repeats. Figures are
measurements of this machine (the JSON records its load average), not
assertions; the default ``python -m pytest`` does not collect this folder
(``norecursedirs`` in pyproject.toml).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

os.environ.setdefault("MPLBACKEND", "Agg")


def main() -> None:
    import bench_all_physics
    import bench_end_to_end
    import bench_mms
    import bench_solvers
    import bench_sweep
    from common import machine

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "results.json"))
    parser.add_argument("--full", action="store_true", help="also run the main job (device_history) in full")
    parser.add_argument("--quick", action="store_true", help="fewer repeats, growth up to ~5e4 cells")
    parser.add_argument("--only", nargs="*", choices=["solvers", "mms", "end_to_end", "sweep", "all_physics"], help="run only these parts")
    parser.add_argument("--skip-studies", nargs="*", default=[], help="studies left out of the end-to-end quick runs (e.g. the longest)")
    arguments = parser.parse_args()
    repeats = 3 if arguments.quick else 5
    refinements = bench_solvers.DEFAULT_REFINEMENTS[:-1] if arguments.quick else bench_solvers.DEFAULT_REFINEMENTS
    parts = {
        "solvers": lambda: bench_solvers.run(repeats, refinements),
        "mms": lambda: bench_mms.run(max(1, repeats // 2)),
        "end_to_end": lambda: bench_end_to_end.run(arguments.full, tuple(arguments.skip_studies)),
        "sweep": bench_sweep.run,
        "all_physics": lambda: bench_all_physics.run(max(1, repeats // 2)),
    }
    results = {"machine_start": machine()}
    out = Path(arguments.out)
    for name, part in parts.items():
        if arguments.only and name not in arguments.only:
            continue
        start = time.perf_counter()
        try:
            results[name] = part()
        except Exception as error:  # one broken part must not lose the others' figures
            results[name] = {"error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
            print(f"!! {name} failed: {type(error).__name__}: {error}")
        results[name + "_wall_s"] = time.perf_counter() - start
        out.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    results["machine_end"] = machine()
    out.write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
