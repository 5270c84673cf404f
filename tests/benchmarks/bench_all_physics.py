"""Every physics on the default mesh: cost of the coupled step against its modules' own solves, coupling iterations, time by module.

Run: ``python tests/benchmarks/bench_all_physics.py [--out all_physics.json] [--repeats 2]`` or
``python tests/benchmarks/run_all.py --only all_physics``.

Segment: a −5 V hold of 1 ms (the start of a paper pulse, Fig. 3b) and a forming ramp 0 → 4.4 V at
1000 V/s under a 50 µA compliance (Fig. 3g; ``--compliance`` sets another; on the default mesh the
current peaks at 44 µA near 3.4 V in this ramp, so 50 µA does not bind there, 30 µA does), both with
``max_step`` = 0.2 ms, every module of ``femion.simulation.PHYSICS`` on, mesh ``MeshSettings()``.
It runs through :meth:`femion.simulation.Simulation.run` (the real time loop: adaptive dt,
rejected steps, records) inside :func:`femion.coupling.profile_coupling`, which times every
coupled step and every module's ``advance``.

(a) **coupled step**: wall time of each converged ``coupled_step`` (median, mean); the first call
    of the run (one-off set-up inside the modules: the buckled-plate table of
    :func:`femion.physics.thinfilm.circular_blister_table`, 200 ``scipy.integrate.solve_bvp`` solves,
    ~6 s; mechanics' elastic LU; the heat operator) and the failed calls (rejected steps) are
    reported apart.
(b) **one sweep of the modules' own solves** for each accepted step: from the converged state, every
    module's ``advance`` once in operator order, each with the others' fields frozen (a Gauss–Seidel
    sweep), the per-step caches dropped so that each system is assembled, factorised and solved as
    in the first coupling iteration of a step (mechanics' result cache, Li's host-step map); best of
    ``--repeats``. Ratio a/b per step (target ≤ 2), and a/(n b) with n the step's coupling
    iterations: the cost of one coupling iteration against one sweep (1 would be no overhead beyond
    the sweeps themselves). Beside it, for a few sample steps, the bare
    linear algebra of that sweep: every sparse system it factorises, captured
    (``common.capture_linear_systems``) and factorised and solved bare (fastest of SuperLU-MMD and
    the banded LAPACK path of ``common``). Solves with a factorisation femion keeps for the whole
    run (mechanics' elastic LU, the steady heat operator) are not captured.
(c) **coupling iterations** per converged step (mean, max) and the compliance-limited steps.
(d) **share of wall time** by module over the segment run (``CouplingProfile.report``), the rest
    of the coupled steps (copies, convergence test, Anderson mixing, circuit update) and the rest
    of the time loop (records, progress, checkpoints: none here).

Measurements of this machine under its current load (recorded in the JSON, with the BLAS thread
variables), not assertions. On a loaded machine OpenBLAS' own threads make small dense operations
much slower (a 300×300 product: 1.2 ms with ``OPENBLAS_NUM_THREADS=1``, 33 ms with 2 threads at a
load of 5 on 2 cores); compare runs with the same setting.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.sparse.linalg import splu

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import banded_cholesky, banded_lu, best_time, capture_linear_systems, is_spd_candidate, machine  # noqa: E402

PULSE_VOLTAGE, PULSE_TIME = -5.0, 1e-3  # [V], [s]
RAMP_STOP, RAMP_RATE, COMPLIANCE = 4.4, 1000.0, 50e-6  # [V], [V/s], [A]
MAX_STEP = 2e-4  # [s]
SAMPLES_PER_SEGMENT = 2


def segment_protocol(compliance: float = COMPLIANCE):
    """The benchmark's protocol: the −5 V hold, then the forming ramp under the compliance [A]."""
    from femion.protocols import forming_ramp, hold

    return hold(PULSE_VOLTAGE, PULSE_TIME, max_step=MAX_STEP) + forming_ramp(0.0, RAMP_STOP, RAMP_RATE, compliance, max_step=MAX_STEP)


def _drop_step_caches(modules) -> None:
    """Forget the per-step results a module would reuse instead of solving (benchmark only: private attributes)."""
    for module in modules:
        if hasattr(module, "_cache_key"):  # mechanics: the result of the same inputs
            module._cache_key = None
        if hasattr(module, "_response"):  # lithium: the host-step map of this step and iterate
            module._response = None


def sweep_time(modules, start, new, dt: float, repeats: int) -> dict[str, float]:
    """Best wall time [s] of each module's ``advance`` in one operator-order sweep from the converged ``new``."""
    best = {module.name: np.inf for module in modules}
    for _ in range(max(1, repeats)):
        state = new.copy()
        _drop_step_caches(modules)
        for module in modules:
            begin = time.perf_counter()
            module.advance(state, dt, start)
            best[module.name] = min(best[module.name], time.perf_counter() - begin)
    return best


def bare_sweep(modules, start, new, dt: float, repeats: int) -> dict:
    """The sparse systems one sweep factorises, each factorised and solved bare; time [s] by module."""
    by_module = {}
    state = new.copy()
    _drop_step_caches(modules)
    for module in modules:
        with capture_linear_systems() as systems:
            module.advance(state, dt, start)
        seconds, unknowns = 0.0, []
        for system in systems:
            rhs = system.a_rhs
            candidates = {"splu_mmd": lambda m=system.matrix, b=rhs: splu(m, permc_spec="MMD_AT_PLUS_A").solve(b)}
            if is_spd_candidate(system.matrix) and system.matrix.diagonal()[0] > 0:
                candidates["banded_cholesky"] = lambda m=system.matrix, b=rhs: banded_cholesky(m, b)
            else:
                candidates["banded_lu"] = lambda m=system.matrix, b=rhs: banded_lu(m, b)
            times = {}
            for name, function in candidates.items():
                try:
                    times[name] = best_time(function, repeats)
                except Exception:  # noqa: BLE001 (a singular band is simply not a candidate)
                    continue
            seconds += min(times.values())
            unknowns.append(int(system.matrix.shape[0]))
        by_module[module.name] = {"seconds": seconds, "systems": len(systems), "unknowns": unknowns}
    return by_module


def run(repeats: int = 2, quick: bool = False, compliance: float = COMPLIANCE, lagged: tuple[str, ...] = ("mechanics",)) -> dict:
    """All figures (printed) as a dict; ``quick`` uses the quick mesh (a trial of this script, not the benchmark).

    ``lagged``: modules solved once per step after the others converged (``SimulationSettings.lagged``; the main job
    lags the mechanics); ``()`` solves every module in every coupling iteration.
    """
    import femion
    import femion.simulation as simulation_module
    from femion.coupling import profile_coupling
    from femion.simulation import PHYSICS, Simulation, SimulationSettings

    print(f"== all physics, {'quick' if quick else 'default'} mesh: coupled step, module solves, iterations, shares ==")
    mesh = femion.QUICK_MESH if quick else femion.MeshSettings()
    results: dict = {"machine_start": machine(), "mesh": "QUICK_MESH" if quick else "MeshSettings() (default)", "physics": ["electrostatics", *PHYSICS],
                     "blas_threads": {name: os.environ.get(name) for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}}
    device = femion.load_device()
    protocol = segment_protocol(compliance)
    begin = time.perf_counter()
    simulation = Simulation(device, protocol, SimulationSettings(mesh=mesh, lagged=tuple(lagged)), physics=tuple(PHYSICS))
    results["lagged"] = list(lagged)
    results["setup_s"] = time.perf_counter() - begin
    results["cells"] = simulation.mesh.n_cells
    results["protocol"] = {
        "pulse": {"voltage_V": PULSE_VOLTAGE, "duration_s": PULSE_TIME},
        "forming": {"stop_V": RAMP_STOP, "rate_V_per_s": RAMP_RATE, "compliance_A": compliance},
        "max_step_s": MAX_STEP,
    }

    # Keep each converged step (copies, timed so that they can be taken off the loop's own time).
    steps, copying = [], [0.0]
    original = simulation_module.coupled_step

    def recording(modules, start, dt, drive, **options):
        new, outcome = original(modules, start, dt, drive, **options)
        begin = time.perf_counter()
        steps.append({"start": start.copy(), "new": new.copy(), "dt": dt, "drive": drive, "outcome": outcome})
        copying[0] += time.perf_counter() - begin
        return new, outcome

    simulation_module.coupled_step = recording
    try:
        with profile_coupling() as profile:
            begin = time.perf_counter()
            result = simulation.run(None, progress=False)
            wall = time.perf_counter() - begin - copying[0]
    finally:
        simulation_module.coupled_step = original
    report = profile.report()
    accepted = int(result.curves.sizes["time"]) - 1
    results["run_s"], results["accepted_steps"] = wall, accepted

    converged_seconds = [s for s, ok in zip(profile.step_seconds, profile.converged) if ok]
    first_call = profile.step_seconds[0]
    # the converged calls, in order, correspond to ``steps``; the first call of the run carries one-off set-up
    assert len(converged_seconds) == len(steps), (len(converged_seconds), len(steps))
    for entry, seconds in zip(steps, converged_seconds):
        entry["seconds"] = seconds
    first_converged_is_first_call = bool(profile.converged[0])

    segments = {"pulse -5 V": [s for s in steps if s["drive"].compliance is None],
                f"forming ramp, I_cc = {compliance * 1e6:g} uA": [s for s in steps if s["drive"].compliance is not None]}
    print(f"  {simulation.mesh.n_cells} cells; set-up {results['setup_s']:.1f} s; run {wall:.1f} s, {accepted} accepted steps, "
          f"{report['failed_steps']} rejected coupled steps; first coupled call {first_call:.2f} s (one-off set-up)")

    # (b) one sweep of module solves per accepted step, and the bare linear algebra of sample steps
    names = [module.name for module in simulation.modules]
    results["segments"] = {}
    for label, entries in segments.items():
        rows = []
        for position, entry in enumerate(entries):
            solo = sweep_time(simulation.modules, entry["start"], entry["new"], entry["dt"], repeats)
            row = {
                "time_s": entry["new"].time, "dt_s": entry["dt"], "voltage_V": entry["new"].voltage, "current_A": entry["new"].current,
                "iterations": entry["outcome"].iterations, "limited": entry["outcome"].limited,
                "coupled_step_s": entry["seconds"], "sweep_s": sum(solo.values()), "sweep_by_module_s": solo,
            }
            row["ratio"] = row["coupled_step_s"] / row["sweep_s"]
            row["ratio_per_iteration"] = row["ratio"] / row["iterations"]
            sample = np.linspace(0, len(entries) - 1, SAMPLES_PER_SEGMENT).round().astype(int)
            if position in set(sample.tolist()):
                row["bare"] = bare_sweep(simulation.modules, entry["start"], entry["new"], entry["dt"], repeats)
                row["bare_s"] = sum(item["seconds"] for item in row["bare"].values())
            rows.append(row)
        # the first converged step of the run includes the one-off factorisations: left out of the medians
        timed = rows[1:] if (label == "pulse -5 V" and first_converged_is_first_call and len(rows) > 1) else rows
        iterations = [row["iterations"] for row in rows]
        summary = {
            "steps": len(rows),
            "limited_steps": sum(row["limited"] for row in rows),
            "coupled_step_median_s": float(np.median([row["coupled_step_s"] for row in timed])),
            "coupled_step_mean_s": float(np.mean([row["coupled_step_s"] for row in timed])),
            "sweep_median_s": float(np.median([row["sweep_s"] for row in timed])),
            "ratio_median": float(np.median([row["ratio"] for row in timed])),
            "ratio_per_iteration_median": float(np.median([row["ratio_per_iteration"] for row in timed])),
            "ratio_of_sums": float(sum(row["coupled_step_s"] for row in timed) / sum(row["sweep_s"] for row in timed)),
            "iterations_mean": float(np.mean(iterations)),
            "iterations_max": int(np.max(iterations)),
            "sweep_median_by_module_s": {name: float(np.median([row["sweep_by_module_s"][name] for row in timed])) for name in names},
        }
        bare = [row for row in rows if "bare" in row]
        if bare:
            summary["bare_median_s"] = float(np.median([row["bare_s"] for row in bare]))
            summary["ratio_to_bare_median"] = float(np.median([row["coupled_step_s"] / row["bare_s"] for row in bare]))
        results["segments"][label] = {"summary": summary, "rows": rows}

    # (d) shares of the run's wall time
    shares = {name: {"seconds": row["seconds"], "calls": row["calls"], "share": row["seconds"] / wall} for name, row in report["modules"].items()}
    shares["loop (rest)"] = {"seconds": wall - report["step_seconds"], "calls": None, "share": (wall - report["step_seconds"]) / wall}
    results["profile"] = {**{k: v for k, v in report.items() if k != "modules"}, "first_call_s": first_call, "shares": shares}
    results["machine_end"] = machine()

    # tables
    print("\n  (a)-(c) per segment (medians over the converged steps; the run's first step left out)")
    header = (f"  {'segment':<28} {'steps':>5} {'limited':>7} {'a: coupled':>11} {'b: sweep':>9} {'a/b':>6} {'a/(n b)':>7} "
              f"{'bare':>8} {'a/bare':>7} {'iter mean/max':>13}")
    print(header)
    for label, entry in results["segments"].items():
        s = entry["summary"]
        print(f"  {label:<28} {s['steps']:>5} {s['limited_steps']:>7} {s['coupled_step_median_s']:>9.3f} s {s['sweep_median_s']:>7.3f} s "
              f"{s['ratio_median']:>6.2f} {s['ratio_per_iteration_median']:>7.2f} {s.get('bare_median_s', float('nan')):>6.3f} s "
              f"{s.get('ratio_to_bare_median', float('nan')):>7.1f} {s['iterations_mean']:>8.2f} / {s['iterations_max']}")
    print("\n  (b) one sweep by module, median [s]")
    print("  " + f"{'segment':<28} " + " ".join(f"{name:>14}" for name in names))
    for label, entry in results["segments"].items():
        print("  " + f"{label:<28} " + " ".join(f"{entry['summary']['sweep_median_by_module_s'][name]:>14.4f}" for name in names))
    print(f"\n  (d) share of the run's wall time ({wall:.1f} s, {report['steps']} coupled steps of which {report['failed_steps']} failed, "
          f"the first one {first_call:.1f} s with the one-off set-up; iterations mean {report['iterations_mean']:.2f}, max {report['iterations_max']})")
    for name, row in shares.items():
        calls = "" if row["calls"] is None else f"  calls {row['calls']}"
        print(f"      {name:<18} {row['seconds']:8.2f} s  {100 * row['share']:5.1f} %{calls}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="all_physics.json")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="quick mesh: a trial of this script, not the benchmark")
    parser.add_argument("--compliance", type=float, default=COMPLIANCE, help="compliance of the forming ramp [A] (default 5e-5)")
    parser.add_argument("--coupled-mechanics", action="store_true",
                        help="solve the mechanics in every coupling iteration (default: lagged, once per step, as the main job)")
    arguments = parser.parse_args()
    from femion.simulation import blas_threads

    with blas_threads():  # as femion run: FEMION_BLAS_THREADS (default 1)
        results = run(arguments.repeats, arguments.quick, arguments.compliance, () if arguments.coupled_mechanics else ("mechanics",))
    Path(arguments.out).write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
