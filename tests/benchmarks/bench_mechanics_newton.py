"""Plastic Newton of the mechanics in a programming sweep: tangent factorisations, plastic solves, time in mechanics.

Run: ``python tests/benchmarks/bench_mechanics_newton.py [--direct] [--save run.npz] [--compare other.npz]``.

Segment: a −2 V programming sweep 0 → −2 V → 0 (``--rate``, default 0.5 V/s) with lithium and mechanics
on (``--all-physics``: every module of ``femion.simulation.PHYSICS``), mechanics lagged (once per
step, as the main job), mesh ``MeshSettings()`` (default). Reported: the
accepted steps, the mechanics' ``advance`` calls and seconds (:func:`femion.coupling.profile_coupling`),
the sparse LU factorisations inside :mod:`femion.physics.mechanics` and their seconds (the
elastic one included), the plastic tangent solves (Newton iterations with a yielding point) and
their seconds, and the run's wall time.

``--direct`` turns ``AxisymmetricSolid.reuse_factorisation`` off (every plastic Newton iteration
factorises its tangent, instead of the elastic LU with the Woodbury correction). ``--save`` stores
the curves and the mechanics' final fields; ``--compare`` reads such a file and prints the largest
relative difference of each (max |a − b| / max |b|).

A measurement of this machine under its current load, not an assertion.
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import machine  # noqa: E402

COMPARED_FIELDS = ("u_r", "u_z", "sigma_vm", "sigma_rr", "sigma_zz", "sigma_tt", "sigma_rz", "eps_p_eq", "porosity", "c_li")


def run(rate: float, direct: bool, physics: tuple[str, ...] = ("lithium", "mechanics")) -> tuple[dict, dict[str, np.ndarray]]:
    """Run the sweep; return the figures and the arrays to compare (curves and final fields)."""
    import scipy.sparse.linalg as sparse_linalg

    import femion
    import femion.physics.mechanics as mechanics
    from femion.coupling import profile_coupling
    from femion.protocols import voltage_sweep
    from femion.simulation import Simulation, SimulationSettings

    counts = {"factorisations": 0, "factorisation_s": 0.0, "plastic_solves": 0, "plastic_solve_s": 0.0}

    def splu(*args, **kwargs):
        begin = time.perf_counter()
        lu = sparse_linalg.splu(*args, **kwargs)
        counts["factorisations"] += 1
        counts["factorisation_s"] += time.perf_counter() - begin
        return lu

    solve_linear = mechanics.AxisymmetricSolid._solve_linear

    def timed_solve_linear(self, correction, rhs):
        if correction is None:
            return solve_linear(self, correction, rhs)
        begin = time.perf_counter()
        solution = solve_linear(self, correction, rhs)
        counts["plastic_solves"] += 1
        counts["plastic_solve_s"] += time.perf_counter() - begin
        return solution

    proxy = types.SimpleNamespace(**{name: getattr(sparse_linalg, name) for name in dir(sparse_linalg) if not name.startswith("__")})
    proxy.splu = splu
    mechanics.sparse_linalg = proxy
    mechanics.AxisymmetricSolid._solve_linear = timed_solve_linear
    try:
        device = femion.load_device()
        protocol = voltage_sweep(0.0, [-2.0, 0.0], rate)
        simulation = Simulation(device, protocol, SimulationSettings(mesh=femion.MeshSettings(), lagged=("mechanics",)), physics=physics)
        solid = next(module for module in simulation.modules if module.name == "mechanics").solid
        if hasattr(solid, "reuse_factorisation"):
            solid.reuse_factorisation = not direct
        with profile_coupling() as profile:
            begin = time.perf_counter()
            result = simulation.run(None, progress=False)
            wall = time.perf_counter() - begin
    finally:
        mechanics.sparse_linalg = sparse_linalg
        mechanics.AxisymmetricSolid._solve_linear = solve_linear
    report = profile.report()
    figures = {
        "machine": machine(), "cells": simulation.mesh.n_cells, "physics": list(physics), "rate_V_per_s": rate, "direct": direct, "run_s": wall,
        "accepted_steps": int(result.curves.sizes["time"]) - 1,
        "mechanics_s": report["modules"]["mechanics"]["seconds"], "mechanics_calls": report["modules"]["mechanics"]["calls"],
        "mechanics_share": report["modules"]["mechanics"]["seconds"] / wall,
        **counts,
    }
    curves = ("current", "mech_sigma_vm_max", "mech_eps_p_max", "mech_porosity_max")
    arrays = {f"curve_{name}": np.asarray(result.curves[name].values, dtype=float) for name in curves}
    arrays.update({f"field_{name}": np.asarray(result.state.fields[name], dtype=float) for name in COMPARED_FIELDS if name in result.state.fields})
    arrays.update({f"field_{name}": np.asarray(values, dtype=float) for name, values in result.state.fields.items() if name.startswith("eps_p_")})
    return figures, arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0.5, help="sweep rate [V/s]")
    parser.add_argument("--direct", action="store_true", help="factorise every plastic tangent (no reuse)")
    parser.add_argument("--all-physics", action="store_true", help="every module of femion.simulation.PHYSICS (default: lithium and mechanics)")
    parser.add_argument("--save", help="store the curves and final fields (npz)")
    parser.add_argument("--compare", help="compare with a stored npz")
    arguments = parser.parse_args()
    from femion.simulation import blas_threads

    with blas_threads():
        from femion.simulation import PHYSICS

        figures, arrays = run(arguments.rate, arguments.direct, tuple(PHYSICS) if arguments.all_physics else ("lithium", "mechanics"))
    for name, value in figures.items():
        print(f"  {name:<18} {value}")
    if arguments.save:
        np.savez(arguments.save, **arrays)
        print(f"wrote {arguments.save}")
    if arguments.compare:
        with np.load(arguments.compare) as other:
            worst = 0.0
            for name in sorted(set(other.files) & set(arrays)):
                reference = other[name]
                if reference.shape != arrays[name].shape:
                    print(f"  {name:<22} shape {arrays[name].shape} vs {reference.shape}")
                    worst = np.inf
                    continue
                scale = np.max(np.abs(reference), initial=0.0)
                difference = float(np.max(np.abs(arrays[name] - reference), initial=0.0) / (scale if scale > 0.0 else 1.0))
                worst = max(worst, difference)
                print(f"  {name:<22} {difference:.3e}")
            print(f"  largest relative difference {worst:.3e}")


if __name__ == "__main__":
    main()
