"""Per-step overhead of femion's implicit solves and cost growth with mesh size.

Run: ``python tests/benchmarks/bench_solvers.py [--out solvers.json]`` or through ``run_all.py``.

1. Overhead. For every module of the coupled loop (electrostatics, then the
   physics that exist in ``femion.simulation.PHYSICS``) on the default mesh
   (``MeshSettings()``): the wall time of ``module.advance`` divided by a bare
   solve of the sparse system that step factorised (captured from its
   ``splu``/``spsolve`` and ``TwoPointOperator.factorized`` calls), the bare
   solve being the fastest of SuperLU (COLAMD / MMD orderings) and pyamg
   AMG-CG (symmetric systems), as the issue defines it; ``ratio_to_banded``
   divides by a bare run of femion's own banded factorisation instead
   (femion's overhead alone). The
   potential and Li solvers are also timed alone, with the numpy-assembly
   prototypes of ``prototypes.py`` (the proposed change) beside them.
2. Growth. Time and peak memory per potential solve and per Li step for meshes
   of ~10³ to ~10⁵ cells (``MeshSettings.refinement``), for femion, the bare
   solves, the SuperLU prototype, (potential) AMG-CG and (Li) the FiPy
   construction; fitted exponents of time ∝ N^p. Beside them, femion's
   potential solve and Li step with the banded factorisations and with
   SuperLU only (:func:`banded_against_superlu`), timed alternately.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import femion  # noqa: E402
from common import alternating_best, best_bare, best_time, capture_linear_systems, fit_exponent, machine, peak_memory  # noqa: E402
from prototypes import FipyLithiumReference, LithiumPrototype, PotentialPrototype, lithium_test_problem  # noqa: E402

DEFAULT_REFINEMENTS = (0.45, 0.9, 1.8, 3.0, 4.4)


# ------------------------------------------------------------------------------------------ solver level


def potential_setup(device, settings):
    from femion.physics.electrostatics import PotentialSolver, conduction_regions, electrode_interface, layer_conductivity

    mesh = femion.build_mesh(device, settings=settings)
    stack = mesh.submesh(conduction_regions(device))
    kappa = layer_conductivity(stack, device)
    return stack, kappa, PotentialSolver(stack, electrode=electrode_interface(device)), electrode_interface(device)


AMG_NOTE = "pyamg not installed: AMG columns skipped (optional; pip install pyamg)"
"""Recorded (and printed) instead of the AMG figures when pyamg is absent."""


def have_pyamg() -> bool:
    """True when pyamg (optional, for the AMG columns) can be imported."""
    import importlib.util

    return importlib.util.find_spec("pyamg") is not None


def potential_case(device, settings, repeats: int, amg: bool | None = None) -> dict:
    """FiPy PotentialSolver vs bare solve vs prototype (direct, AMG if pyamg is installed; ``amg=None``: when available) on one mesh."""
    stack, kappa, solver, electrode = potential_setup(device, settings)
    reference = solver.solve(kappa, 0.1)
    prototypes = {"prototype_direct": PotentialPrototype(stack, electrode=electrode)}
    amg = have_pyamg() if amg is None else amg
    if amg:
        prototypes["prototype_amg"] = PotentialPrototype(stack, electrode=electrode, method="amg")
    agreement = {}
    for name, prototype in prototypes.items():
        phi, current = prototype.solve(kappa, 0.1)
        agreement[name] = {
            "max_abs_phi_difference_V": float(np.max(np.abs(phi - reference.phi))),
            "current_relative_difference": abs(current / reference.current - 1.0),
        }
    with capture_linear_systems() as captured:
        solver.solve(kappa * 1.0001, 0.1)
    system = captured[-1]
    bare_name, _, bare_all = best_bare(system.matrix, system.a_rhs, repeats)
    from common import bare_solvers

    bare_function = bare_solvers(system.matrix, system.a_rhs)[bare_name]
    functions = {"femion": lambda: solver.solve(kappa * 1.0001, 0.1), "bare": bare_function}
    functions.update({name: (lambda p=p: p.solve(kappa * 1.0001, 0.1)) for name, p in prototypes.items()})
    times = alternating_best(functions, repeats)
    _, memory = peak_memory(lambda: solver.solve(kappa * 1.0001, 0.1))
    _, memory_prototype = peak_memory(lambda: prototypes["prototype_direct"].solve(kappa * 1.0001, 0.1))
    result = {
        "cells": stack.n_cells,
        "femion_s": times["femion"],
        "bare_s": times["bare"],
        "bare_method": bare_name,
        "bare_all_s": bare_all,
        "ratio": times["femion"] / times["bare"],
        "ratio_to_banded": times["femion"] / bare_all.get("banded_cholesky", bare_all.get("banded_lu", np.nan)),
        "peak_MiB": memory,
        "prototype_peak_MiB": memory_prototype,
        "agreement": agreement,
    }
    for name in prototypes:
        result[f"{name}_s"] = times[name]
        result[f"{name}_ratio"] = times[name] / times["bare"]
    if not amg:
        result["amg_note"] = AMG_NOTE
    return result


def lithium_case(device, settings, repeats: int, dt: float = 1e-3) -> dict:
    """femion's Li step (``LithiumTransport.step``, numpy Scharfetter–Gummel assembly) vs the bare solve of its system.

    Beside it: the FiPy construction of the same step (``FipyLithiumReference``, what femion used before the
    numpy assembly) and the ``stop="lagged"`` prototype; both are checked to agree with femion's step.
    """
    from femion.physics.lithium import LithiumProperties, LithiumTransport, lithium_regions

    mesh = femion.build_mesh(device, settings=settings)
    films = mesh.submesh(lithium_regions(device))
    diffusivity, c_max, partition, temperature, start, phi = lithium_test_problem(films, device)
    transport = LithiumTransport(films, LithiumProperties(diffusivity, c_max, partition, temperature), start)

    def femion_step():
        transport._restore(start)
        report = transport.step(phi, dt)
        return transport.concentration, report

    reference, report = femion_step()
    others = {
        "fipy_reference": FipyLithiumReference(films, diffusivity, c_max, partition, temperature),
        "prototype_lagged": LithiumPrototype(films, diffusivity, c_max, partition, temperature, stop="lagged"),
    }
    agreement, solves = {}, {}
    for name, other in others.items():
        c, solves[name] = other.step(start, phi, dt)
        agreement[name] = float(np.max(np.abs(c - reference)) / np.max(reference))
    with capture_linear_systems() as captured:
        femion_step()
    system = captured[-1]
    bare_name, _, bare_all = best_bare(system.matrix, system.a_rhs, repeats)
    from common import bare_solvers

    functions = {"femion": femion_step, "bare": bare_solvers(system.matrix, system.a_rhs)[bare_name]}
    functions.update({name: (lambda o=o: o.step(start, phi, dt)) for name, o in others.items()})
    times = alternating_best(functions, repeats)
    _, memory = peak_memory(femion_step)
    result = {
        "cells": films.n_cells,
        "dt_s": dt,
        "femion_s": times["femion"],
        "femion_solves_per_step": len(captured),
        "femion_picard_iterations": report.iterations,
        "bare_s": times["bare"],
        "bare_method": bare_name,
        "bare_all_s": bare_all,
        "ratio": times["femion"] / times["bare"],
        "ratio_per_solve": times["femion"] / (len(captured) * times["bare"]),
        "ratio_to_banded": times["femion"] / bare_all.get("banded_cholesky", bare_all.get("banded_lu", np.nan)),
        "peak_MiB": memory,
        "relative_difference_to_femion": agreement,
        "solves_per_step": solves,
    }
    for name in others:
        result[f"{name}_s"] = times[name]
        result[f"{name}_ratio"] = times[name] / times["bare"]
    return result


# ------------------------------------------------------------------------------------------ module level


def coupled_modules(device, settings):
    """The coupled loop's modules on one mesh: every physics the installed Simulation offers that constructs."""
    from femion.protocols import hold
    from femion.simulation import Simulation, SimulationSettings

    mesh = femion.build_mesh(device, settings=settings)
    protocol = hold(-1.0, 1e-3)
    names = list(getattr(femion.simulation, "PHYSICS", {"lithium": None}))
    skipped = {}
    while True:
        try:
            if hasattr(femion.simulation, "PHYSICS"):
                simulation = Simulation(device, protocol, SimulationSettings(mesh=settings), mesh=mesh, physics=tuple(names))
            else:
                simulation = Simulation(device, protocol, SimulationSettings(mesh=settings), mesh=mesh)
            return simulation, skipped
        except Exception as error:  # a module still under construction: drop the last one and say why
            if not names:
                raise
            skipped[names.pop()] = f"{type(error).__name__}: {error}"


CACHED_FACTORISATIONS = {"mechanics": ("solid", "_elastic_lu"), "thermal": ("solver", "_steady_factor")}
"""Modules that factorise a constant operator once per run: (attribute holding the solver, its cached LU)."""


def module_overheads(device, settings, repeats: int, dt: float = 1e-4, voltage: float = -1.0) -> dict:
    """Per-module ``advance`` time against a bare solve of the system it factorised."""
    from femion.coupling import coupled_step

    simulation, skipped = coupled_modules(device, settings)
    start = simulation.initial_state()
    results = {"mesh_cells": simulation.mesh.n_cells, "skipped_modules": skipped, "dt_s": dt, "voltage_V": voltage}
    try:
        state, outcome = coupled_step(simulation.modules, start, dt, voltage)
        results["coupling_iterations"] = outcome.iterations
    except Exception as error:
        results["coupled_step_error"] = f"{type(error).__name__}: {error}"
        state = start.copy()
        state.time, state.voltage = dt, voltage
    for module in simulation.modules:
        entry: dict = {}
        guess = getattr(module, "_guess", None)
        try:
            def advance(module=module):
                trial = state.copy()
                if module.name == "mechanics":
                    # one step's Li change is below the module's skip threshold and its result is cached:
                    # load it with a 1 % change of the host Li, clear the cache and start Newton from the
                    # solution of the step before, so that every repeat does a real Newton solve
                    hosts = np.isfinite(trial.fields["c_li"]) & (start.fields["c_li"] > 0.0)
                    trial.fields["c_li"] = np.where(hosts, 1.01 * start.fields["c_li"], start.fields["c_li"])
                    module._cache_key, module._guess = None, guess
                if hasattr(module, "interfaces"):
                    # the Li interface laws (built for the potential solve) factorise the host step that
                    # advance then reuses: both are the module's work in one coupling iteration
                    module._response = None
                    module.interfaces(trial, dt, start)
                module.advance(trial, dt, start)

            advance()
            cached = CACHED_FACTORISATIONS.get(module.name)
            if cached:
                # the module factorises a constant operator once per run and reuses it in every step: drop
                # the factorisation for the capture run so the benchmark sees the system the step solves
                owner, attribute = cached
                setattr(getattr(module, owner), attribute, None)
            with capture_linear_systems() as captured:
                advance()
            entry["factorisations_per_step"] = 0 if cached else len(captured)
            if cached:
                entry["note"] = "operator factorised once per run (cached LU); femion_s is a step that reuses it"
            entry["solves_per_step"] = sum(len(system.rhs) for system in captured)
            # each repeat starts from a copy of the coupled state (the benchmark's doing, not the module's):
            # its time is measured alone and taken off
            copy_time = best_time(state.copy, repeats)
            femion_time = best_time(advance, repeats) - copy_time
            entry["femion_s"], entry["state_copy_s"] = femion_time, copy_time
            systems = list(captured)
            if systems:
                largest = max(systems, key=lambda system: system.matrix.shape[0])
                name, bare, bare_all = best_bare(largest.matrix, largest.a_rhs, repeats)
                entry.update(unknowns=largest.matrix.shape[0], bare_s=bare, bare_method=name, ratio=femion_time / bare,
                             bare_all_s=bare_all)
                banded = [bare_all[method] for method in ("banded_cholesky", "banded_lu") if method in bare_all]
                if banded:  # femion's own method, bare: what is left is femion's overhead
                    entry["ratio_to_banded"] = femion_time / banded[0]
                total = 0.0
                for system in systems:
                    total += best_bare(system.matrix, system.a_rhs, max(1, repeats // 2))[1]
                entry["bare_all_systems_s"] = total
                entry["ratio_to_all_systems"] = femion_time / total
            else:
                entry["note"] = "no sparse factorisation in this step (cached or explicit)"
        except Exception as error:
            entry["error"] = f"{type(error).__name__}: {error}"
            entry["traceback"] = traceback.format_exc(limit=3)
        results[module.name] = entry
    return results


def banded_against_superlu(device, refinements=DEFAULT_REFINEMENTS, repeats: int = 5) -> list[dict]:
    """femion's potential solve and Li step with the banded factorisations and with SuperLU only, per mesh size.

    Both paths are timed alternately in one process (``femion.fvm``'s band limits set to −1 for the
    SuperLU path), so the figures say what the banded factorisations change at each size.
    """
    from femion import fvm
    from femion.physics.lithium import LithiumProperties, LithiumTransport, lithium_regions

    limits = (fvm.BANDED_CHOLESKY_MAX_BANDWIDTH, fvm.BANDED_LU_MAX_BANDWIDTH)
    rows = []
    try:
        for refinement in refinements:
            settings = femion.MeshSettings(refinement=refinement)
            stack, kappa, solver, _ = potential_setup(device, settings)
            films = femion.build_mesh(device, settings=settings).submesh(lithium_regions(device))
            diffusivity, c_max, partition, temperature, start, phi = lithium_test_problem(films, device)
            transport = LithiumTransport(films, LithiumProperties(diffusivity, c_max, partition, temperature), start)

            def lithium_step():
                transport._restore(start)
                transport.step(phi, 1e-3)

            reps = repeats if refinement <= 2 else max(1, repeats // 2)
            best = {}
            for _ in range(2):
                for banded in (True, False):
                    fvm.BANDED_CHOLESKY_MAX_BANDWIDTH, fvm.BANDED_LU_MAX_BANDWIDTH = limits if banded else (-1, -1)
                    for name, function in (("potential", lambda: solver.solve(kappa * 1.0001, 0.1)), ("lithium", lithium_step)):
                        key = f"{name}_{'banded' if banded else 'superlu'}_s"
                        best[key] = min(best.get(key, np.inf), best_time(function, reps))
            rows.append({"refinement": refinement, "potential_cells": stack.n_cells, "lithium_cells": films.n_cells, **best})
            print(f"  banded vs SuperLU only: potential {stack.n_cells} cells {best['potential_banded_s'] * 1e3:.1f} / "
                  f"{best['potential_superlu_s'] * 1e3:.1f} ms, Li step {films.n_cells} cells {best['lithium_banded_s'] * 1e3:.1f} / "
                  f"{best['lithium_superlu_s'] * 1e3:.1f} ms")
    finally:
        fvm.BANDED_CHOLESKY_MAX_BANDWIDTH, fvm.BANDED_LU_MAX_BANDWIDTH = limits
    return rows


# ------------------------------------------------------------------------------------------ driver


def run(repeats: int = 5, refinements=DEFAULT_REFINEMENTS, growth: bool = True) -> dict:
    """All figures of items 1 and 2 as a dict (also printed)."""
    device = femion.load_device()
    default = femion.MeshSettings()
    results: dict = {"machine": machine(), "mesh": "MeshSettings() (default)"}
    if not have_pyamg():
        results["amg_note"] = AMG_NOTE
        print(f"note: {AMG_NOTE}")
    print("== 1. per-step overhead (default mesh) ==")
    results["overhead_solvers"] = {
        "potential": potential_case(device, default, repeats),
        "lithium_step": lithium_case(device, default, repeats),
    }
    for name, entry in results["overhead_solvers"].items():
        line = (f"{name:>13}: {entry['cells']} cells, femion {entry['femion_s'] * 1e3:7.1f} ms, bare ({entry['bare_method']}) "
                f"{entry['bare_s'] * 1e3:6.1f} ms, ratio {entry['ratio']:.2f} (to the bare banded factorisation {entry['ratio_to_banded']:.2f})")
        for key in entry:
            if key.endswith("_ratio") and key != "ratio" and not key.startswith("ratio"):
                line += f" | {key[:-6]} {entry[key]:.2f}"
        print(line)
    results["overhead_modules"] = module_overheads(device, default, repeats)
    for name, entry in results["overhead_modules"].items():
        if isinstance(entry, dict) and ("femion_s" in entry or "error" in entry):
            if "ratio" in entry:
                print(
                    f"  module {name:>14}: advance {entry['femion_s'] * 1e3:7.1f} ms, {entry['factorisations_per_step']} factorisation(s), "
                    f"bare {entry['bare_s'] * 1e3:6.1f} ms ({entry['bare_method']}, {entry['unknowns']} unknowns), ratio {entry['ratio']:.2f} "
                    f"(to all its systems {entry['ratio_to_all_systems']:.2f}"
                    + (f"; to the bare banded factorisation {entry['ratio_to_banded']:.2f}" if "ratio_to_banded" in entry else "")
                    + ")"
                )
            else:
                print(f"  module {name:>14}: {entry.get('femion_s', float('nan')) * 1e3:.1f} ms {entry.get('note') or entry.get('error')}")
    if growth:
        print("== 2. cost growth ==")
        rows = {"potential": [], "lithium": []}
        for refinement in refinements:
            settings = femion.MeshSettings(refinement=refinement)
            reps = max(1, repeats // 2) if refinement > 2 else repeats
            rows["potential"].append({"refinement": refinement, **potential_case(device, settings, reps)})
            rows["lithium"].append({"refinement": refinement, **lithium_case(device, settings, reps)})
            for name in rows:
                row = rows[name][-1]
                keys = [k for k in row if k.startswith(("prototype_", "fipy_")) and k.endswith("_s")]
                print(
                    f"{name:>10} {row['cells']:>7} cells: femion {row['femion_s'] * 1e3:8.1f} ms ({row['peak_MiB']:.0f} MiB), bare {row['bare_s'] * 1e3:8.1f} ms ({row['bare_method']}), "
                    + ", ".join(f"{k.removeprefix('prototype_')[:-2]} {row[k] * 1e3:.1f} ms" for k in keys)
                )
        exponents = {}
        for name, data in rows.items():
            cells = [row["cells"] for row in data]
            keys = ["femion_s", "bare_s", *[k for k in data[0] if k.startswith(("prototype_", "fipy_")) and k.endswith("_s")]]
            exponents[name] = {key[:-2]: fit_exponent(cells, [row[key] for row in data]) for key in keys}
            exponents[name]["peak_memory"] = fit_exponent(cells, [row["peak_MiB"] for row in data])
            print(f"{name:>10} exponents p (time ∝ N^p): " + ", ".join(f"{k} {v:.2f}" for k, v in exponents[name].items()))
        results["growth"] = {"rows": rows, "exponents": exponents}
        comparison = banded_against_superlu(device, refinements, repeats)
        exponents_paths = {
            key[:-2]: fit_exponent([row["potential_cells" if key.startswith("potential") else "lithium_cells"] for row in comparison],
                                   [row[key] for row in comparison])
            for key in comparison[0] if key.endswith("_s")
        }
        print("  exponents p, banded vs SuperLU-only path: " + ", ".join(f"{k} {v:.2f}" for k, v in exponents_paths.items()))
        results["growth"]["banded_against_superlu"] = {"rows": comparison, "exponents": exponents_paths}
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="solvers.json")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-growth", action="store_true")
    arguments = parser.parse_args()
    start = time.perf_counter()
    results = run(arguments.repeats, growth=not arguments.no_growth)
    results["wall_time_s"] = time.perf_counter() - start
    Path(arguments.out).write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
