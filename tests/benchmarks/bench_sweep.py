"""Sweep scaling (issue #10 item 5): a local sweep of 8 quick points with 1 and 2 workers.

Run: ``python tests/benchmarks/bench_sweep.py [--out sweep.json]`` or through ``run_all.py``.

``sweep_8_points.toml`` (8 temperatures of ``studies/reference_fields``, quick)
is run by :func:`femion.sweep.run_sweep` with ``workers=1`` and ``workers=2``,
each into a fresh temporary folder (no point is reused), in this order and then
again in reverse order (the best of the two runs per worker count counts).
Speed-up = T(1 worker)/T(2 workers) of the whole sweep, cluster start-up,
validation and the results store included; the per-point wall times of the
records give the part that parallelises.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

SWEEP = Path(__file__).resolve().parent / "sweep_8_points.toml"


def timed_sweep(workers: int) -> dict:
    """Wall time of the whole sweep and the sum of point wall times."""
    from femion.sweep import read_records, run_sweep, load_sweep

    with tempfile.TemporaryDirectory(prefix="femion-sweep-bench-") as outdir:
        start = time.perf_counter()
        result = run_sweep(SWEEP, outdir, workers=workers, progress=False)
        wall = time.perf_counter() - start
        records = read_records(load_sweep(SWEEP), outdir)
    point_times = [record["wall_time_s"] for record in records.values()]
    return {
        "wall_s": wall,
        "points": result.points,
        "failed": result.failed,
        "sum_point_s": float(sum(point_times)),
        "max_point_s": float(max(point_times)),
    }


def run() -> dict:
    """1- and 2-worker timings and the speed-up (printed)."""
    print("== 5. sweep scaling (8 quick points) ==")
    runs = {1: [], 2: []}
    for workers in (1, 2, 2, 1):
        runs[workers].append(timed_sweep(workers))
        entry = runs[workers][-1]
        print(
            f"  {workers} worker(s): {entry['wall_s']:6.1f} s for {entry['points']} points "
            f"(failed {entry['failed']}; points sum {entry['sum_point_s']:.1f} s)"
        )
    best = {workers: min(entries, key=lambda e: e["wall_s"]) for workers, entries in runs.items()}
    speedup = best[1]["wall_s"] / best[2]["wall_s"]
    overhead = best[1]["wall_s"] - best[1]["sum_point_s"]
    print(f"  speed-up with 2 workers: {speedup:.2f} (serial part outside points with 1 worker: {overhead:.1f} s)")
    return {"runs": {str(k): v for k, v in runs.items()}, "speedup": speedup, "serial_overhead_s": overhead}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sweep.json")
    arguments = parser.parse_args()
    results = {"machine": machine(), **run()}
    Path(arguments.out).write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
