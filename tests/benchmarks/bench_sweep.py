"""Sweep scaling: a local sweep of 8 quick points with 1 and 2 workers.

Run: ``python tests/benchmarks/bench_sweep.py [--out sweep.json]`` or through ``run_all.py``.

Two sweeps of 8 quick points, each run by :func:`femion.sweep.run_sweep` with
``workers=1`` and ``workers=2``, each into a fresh temporary folder (no point
is reused), in this order and then again in reverse order (the best of the two
runs per worker count counts):

* ``short``: ``sweep_8_points.toml``, 8 temperatures of ``studies/reference_fields``
  (2–3 s points: the sweep's fixed costs weigh most);
* ``representative``: ``sweep_8_points_pulses.toml``, 8 temperatures of
  ``studies/analog_pulses`` with one LTP/LTD cycle (32–40 s per point on average, the longest 89–120 s; measured).

Speed-up = T(1 worker)/T(2 workers) of the whole sweep, cluster start-up,
validation and the results store included. The records' per-point wall times
split T(1 worker) into the part that parallelises (the points) and the fixed
part outside them; the first point of each worker also pays the imports.
Beside it, the machine's own ceiling (:func:`machine_ceiling`): the speed-up
of two independent plain processes running the same point at once.
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

HERE = Path(__file__).resolve().parent
SWEEPS = {"short": HERE / "sweep_8_points.toml", "representative": HERE / "sweep_8_points_pulses.toml"}


def timed_sweep(workers: int, sweep: Path = SWEEPS["short"]) -> dict:
    """Wall time of the whole sweep and the sum of point wall times."""
    from femion.sweep import load_sweep, read_records, run_sweep

    with tempfile.TemporaryDirectory(prefix="femion-sweep-bench-") as outdir:
        start = time.perf_counter()
        result = run_sweep(sweep, outdir, workers=workers, progress=False)
        wall = time.perf_counter() - start
        records = read_records(load_sweep(sweep), outdir)
    point_times = [record["wall_time_s"] for record in records.values()]
    return {
        "wall_s": wall,
        "points": result.points,
        "failed": result.failed,
        "sum_point_s": float(sum(point_times)),
        "max_point_s": float(max(point_times)),
    }


_POINT_SCRIPT = """
import json, sys, time
from pathlib import Path
from femion.config import load_study
_, module = load_study(sys.argv[1])
start = time.perf_counter()
module.run(Path(sys.argv[2]), quick=True, overrides=json.loads(sys.argv[3]))
print(json.dumps(time.perf_counter() - start))
"""


def machine_ceiling(sweep: Path, repeats: int = 2) -> dict:
    """What two concurrent, independent runs of one point get from this machine, without Dask.

    The sweep's middle point is run by its study in a plain Python process,
    alone and as two processes at once (alternately, ``repeats`` times; best
    of each). Ceiling = 2 t_alone / t_pair: the 2-worker speed-up that
    perfectly parallel work reaches here, with no scheduler, no imbalance and
    no fixed part. Below 2 it is the machine's (shared memory bandwidth and
    caches, the hypervisor), not the sweep's.
    """
    import subprocess

    from femion.sweep import load_sweep

    loaded = load_sweep(sweep)
    points = loaded.points()
    point = points[len(points) // 2]
    overrides = json.dumps(dict(point.parameters), default=str)

    def launch(folder: str):
        return subprocess.Popen([sys.executable, "-c", _POINT_SCRIPT, str(loaded.study), folder, overrides],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def finish(process) -> float:
        output, _ = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"the point run failed (exit {process.returncode})")
        return float(output.strip().splitlines()[-1])

    alone, pair, pair_walls = [], [], []
    with tempfile.TemporaryDirectory(prefix="femion-ceiling-") as folder:
        for repeat in range(repeats):
            alone.append(finish(launch(f"{folder}/alone{repeat}")))
            processes = [launch(f"{folder}/pair{repeat}-{k}") for k in range(2)]
            times = [finish(process) for process in processes]
            pair.append(times)
            pair_walls.append(max(times))
    best_alone, best_pair = min(alone), min(pair_walls)
    return {"point": point.name, "parameters": dict(point.parameters), "alone_s": alone, "pair_s": pair,
            "ceiling": 2.0 * best_alone / best_pair}


def run(names: tuple[str, ...] = tuple(SWEEPS)) -> dict:
    """1- and 2-worker timings and the speed-up of each sweep in ``names`` (printed)."""
    print("== 5. sweep scaling (8 quick points) ==")
    results = {}
    for name in names:
        runs = {1: [], 2: []}
        for workers in (1, 2, 2, 1):
            runs[workers].append(timed_sweep(workers, SWEEPS[name]))
            entry = runs[workers][-1]
            print(
                f"  {name}: {workers} worker(s): {entry['wall_s']:6.1f} s for {entry['points']} points "
                f"(failed {entry['failed']}; points sum {entry['sum_point_s']:.1f} s, longest {entry['max_point_s']:.1f} s)"
            )
        best = {workers: min(entries, key=lambda e: e["wall_s"]) for workers, entries in runs.items()}
        speedup = best[1]["wall_s"] / best[2]["wall_s"]
        overhead = best[1]["wall_s"] - best[1]["sum_point_s"]
        # Amdahl bound with this fixed part: T1 / (fixed + points / 2)
        bound = best[1]["wall_s"] / (overhead + best[1]["sum_point_s"] / 2.0)
        print(f"  {name}: speed-up with 2 workers {speedup:.2f} (fixed part outside points with 1 worker {overhead:.1f} s; "
              f"Amdahl bound with it {bound:.2f})")
        ceiling = machine_ceiling(SWEEPS[name])
        print(f"  {name}: machine ceiling (point {ceiling['point']} alone {min(ceiling['alone_s']):.1f} s, two at once "
              f"{min(max(pair) for pair in ceiling['pair_s']):.1f} s): {ceiling['ceiling']:.2f}; the sweep reaches "
              f"{speedup / ceiling['ceiling']:.0%} of it")
        results[name] = {"runs": {str(k): v for k, v in runs.items()}, "speedup": speedup, "serial_overhead_s": overhead,
                         "amdahl_bound": bound, "machine_ceiling": ceiling, "fraction_of_ceiling": speedup / ceiling["ceiling"]}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="sweep.json")
    arguments = parser.parse_args()
    results = {"machine": machine(), **run()}
    Path(arguments.out).write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
