"""Benchmarks: per-step overhead of femion's implicit solves and cost growth with mesh size.

Run: ``python tests/benchmarks/bench_solvers.py [--out benchmarks.json]`` (not part of the test run).

1. Per-step overhead (issue #10 item 1): for the potential solve and one Li
   step, femion's wall time divided by a bare ``scipy.sparse.linalg.splu``
   factor-and-solve of the same assembled system, measured side by side in
   one run (best of ``--repeats``).
2. Cost growth (item 2): time per potential solve and per Li step for meshes
   from ~10³ to ~10⁵ cells (``MeshSettings.refinement``), with the fitted
   exponent of time ∝ N^p.

Figures are printed and written to JSON; they are measurements of this
machine, not assertions.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
from scipy.sparse.linalg import splu

import femion
from femion.physics.electrostatics import PotentialSolver, conduction_regions, electrode_interface, layer_conductivity
from femion.physics.lithium import LithiumTransport, lithium_properties, lithium_regions


def best_time(function, repeats: int) -> float:
    """Smallest wall time of ``repeats`` calls [s]."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def potential_case(device, settings, repeats):
    mesh = femion.build_mesh(device, settings=settings)
    stack = mesh.submesh(conduction_regions(device))
    kappa = layer_conductivity(stack, device)
    solver = PotentialSolver(stack, electrode=electrode_interface(device))
    solver.solve(kappa, 0.1)
    femion_time = best_time(lambda: solver.solve(kappa * 1.0001, 0.1), repeats)
    solver._equation.cacheMatrix()
    solver._equation.cacheRHSvector()
    solver.solve(kappa, 0.1)
    matrix = solver._equation.matrix.matrix.tocsc()
    rhs = np.asarray(solver._equation.RHSvector)
    bare = best_time(lambda: splu(matrix).solve(rhs), repeats)
    return stack.n_cells, femion_time, bare


def lithium_case(device, settings, repeats):
    mesh = femion.build_mesh(device, settings=settings)
    films = mesh.submesh(lithium_regions(device))
    properties = lithium_properties(films, device)
    transport = LithiumTransport(films, properties, np.ones(films.n_cells))
    inventory = 2 * np.pi * femion.fvm.r_integral(films, np.full(films.n_cells, 1000.0))
    transport = LithiumTransport(films, properties, transport.equilibrium(np.zeros(films.n_cells), inventory))
    phi = -0.05 * (films.cell_centroids[:, 1] - films.cell_centroids[:, 1].min()) / np.ptp(films.cell_centroids[:, 1])
    start = transport.concentration

    def femion_step():
        transport._restore(start)
        transport.step(phi, 1e-3)

    femion_time = best_time(femion_step, repeats)
    transport._equation.cacheMatrix()
    transport._equation.cacheRHSvector()
    femion_step()
    matrix = transport._equation.matrix.matrix.tocsc()
    rhs = np.asarray(transport._equation.RHSvector)
    bare = best_time(lambda: splu(matrix).solve(rhs), repeats)
    return films.n_cells, femion_time, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="benchmarks.json")
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    device = femion.load_device()
    results = {"overhead": {}, "growth": {"potential": [], "lithium": []}}
    for name, case in (("potential", potential_case), ("lithium_step", lithium_case)):
        cells, femion_time, bare = case(device, femion.MeshSettings(), arguments.repeats)
        results["overhead"][name] = {"cells": cells, "femion_s": femion_time, "bare_splu_s": bare, "ratio": femion_time / bare}
        print(f"{name:>13}: {cells} cells, femion {femion_time * 1e3:.1f} ms, bare splu {bare * 1e3:.1f} ms, ratio {femion_time / bare:.2f}")
    for name, case in (("potential", potential_case), ("lithium", lithium_case)):
        for refinement in (0.35, 0.7, 1.4, 2.8):
            cells, femion_time, _ = case(device, femion.MeshSettings(refinement=refinement), max(2, arguments.repeats // 2))
            results["growth"][name].append({"cells": cells, "seconds": femion_time})
            print(f"{name:>13} growth: {cells:>7} cells  {femion_time * 1e3:8.1f} ms")
        data = results["growth"][name]
        exponent = np.polyfit(np.log([d["cells"] for d in data]), np.log([d["seconds"] for d in data]), 1)[0]
        results["growth"][f"{name}_exponent"] = float(exponent)
        print(f"{name:>13}: time ∝ N^{exponent:.2f}")
    with open(arguments.out, "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=2)
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
