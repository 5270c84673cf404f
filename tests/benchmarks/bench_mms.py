"""Work–precision on the axisymmetric MMS diffusion problem.

Run: ``python tests/benchmarks/bench_mms.py [--out mms.json]`` or through ``run_all.py``.

The steady layered problem of :func:`femion.verification.manufactured_diffusion`
(∇·(D∇u) + S = 0 on the bottom electrode and films, D jumping up to 17× between
layers, Dirichlet on the bottom contact, the air surface and the electrode
interface, zero flux on the axis and at R_film) is solved on the same meshes,
in one run, by

* ``femion`` — ``manufactured_diffusion`` itself: FiPy's two-point finite-volume
  geometry, assembled in numpy by :class:`femion.fvm.TwoPointOperator` and solved by
  :func:`femion.fvm.solve_sparse` (it used FiPy's term assembly and solver until
  session 6: same unknowns and error to round-off, measured 0.35–1.09 of skfem's time
  then);
* ``skfem`` — scikit-fem bilinear (Q1, the P1 of quadrilaterals) finite
  elements, weak form ∫ D ∇u·∇v r dr dz = ∫ S v r dr dz, the exact solution
  imposed at the Dirichlet nodes.

Error: relative r-weighted L2 error at cell centroids, as ``manufactured_diffusion``
reports it (the Q1 solution is evaluated at each cell's centre); the Q1
solution's continuous L2 error by quadrature is recorded as well. Times exclude
building the gmsh mesh (common to all) and include everything after it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import femion  # noqa: E402
from common import fit_exponent, machine  # noqa: E402
from femion.verification import _MMS_DIFFUSIVITY, _mms_fields, manufactured_diffusion  # noqa: E402

REFINEMENTS = (0.5, 1.0, 2.0, 3.0)


def _problem(device, settings):
    full = femion.build_mesh(device, settings=settings)
    mesh = full.submesh(tuple(_MMS_DIFFUSIVITY))
    dirichlet = mesh.face_mask("bottom_contact", "air_surface", f"{device.top_electrode.name}|{device.films[-1].name}")
    return mesh, dirichlet


def _relative_error(mesh, values, exact) -> float:
    weights = mesh.r_volumes
    return float(np.sqrt(np.sum(weights * (values - exact) ** 2) / np.sum(weights * exact**2)))


def skfem_q1(device, mesh, dirichlet) -> tuple[float, float, int]:
    """scikit-fem Q1 solve of the same problem; returns (centroid error, continuous L2 error, dofs)."""
    from skfem import Basis, BilinearForm, ElementQuad1, Functional, LinearForm, condense, solve
    from skfem.helpers import dot, grad

    skmesh = mesh.skfem
    basis = Basis(skmesh, ElementQuad1())
    element_regions = mesh.cell_regions
    quad_r, quad_z = basis.mapping.F(basis.X)  # (n_elements, n_points)
    regions = np.repeat(element_regions[:, None], quad_r.shape[1], axis=1)
    exact_q, source_q, d_q = (
        array.reshape(quad_r.shape) for array in _mms_fields(mesh, device, quad_r.ravel(), quad_z.ravel(), regions.ravel())
    )

    @BilinearForm
    def stiffness(u, v, w):
        return w["d"] * dot(grad(u), grad(v)) * w.x[0]

    @LinearForm
    def load(v, w):
        return w["s"] * v * w.x[0]

    matrix = stiffness.assemble(basis, d=d_q)
    rhs = load.assemble(basis, s=source_q)
    faces = np.flatnonzero(dirichlet)
    nodes = np.unique(mesh.faces[faces])
    node_region = np.zeros(mesh.n_nodes, dtype=np.int64)
    node_region[mesh.cells.ravel()] = np.repeat(element_regions, 4)
    node_exact, _, _ = _mms_fields(mesh, device, mesh.nodes[nodes, 0], mesh.nodes[nodes, 1], node_region[nodes])
    values = np.zeros(basis.N)
    values[nodes] = node_exact
    solution = solve(*condense(matrix, rhs, x=values, D=nodes))
    centre = solution[mesh.cells].mean(axis=1)  # bilinear interpolant at the cell centre
    exact_centre, _, _ = _mms_fields(mesh, device, *mesh.cell_centroids.T, mesh.cell_regions)
    centroid_error = _relative_error(mesh, centre, exact_centre)
    uh = basis.interpolate(solution)

    @Functional
    def squared_error(w):
        return (w["uh"] - w["u"]) ** 2 * w.x[0]

    @Functional
    def squared_norm(w):
        return w["u"] ** 2 * w.x[0]

    l2 = float(np.sqrt(squared_error.assemble(basis, uh=uh, u=exact_q) / squared_norm.assemble(basis, u=exact_q)))
    return centroid_error, l2, basis.N


def run(repeats: int = 3, refinements=REFINEMENTS) -> dict:
    """Error and wall time of each method at each refinement (printed), with fitted slopes."""
    device = femion.load_device()
    rows = []
    print("== 3. work-precision, MMS diffusion ==")
    for refinement in refinements:
        settings = femion.MeshSettings(refinement=refinement)
        build = min(_time(lambda: femion.build_mesh(device, settings=settings)) for _ in range(repeats))
        femion_total, result = np.inf, None
        for _ in range(repeats):
            start = time.perf_counter()
            result = manufactured_diffusion(device, settings)
            femion_total = min(femion_total, time.perf_counter() - start)
        mesh, dirichlet = _problem(device, settings)
        sk_time, sk = _best(lambda: skfem_q1(device, _problem(device, settings)[0], dirichlet), repeats, subtract=build)
        row = {
            "refinement": refinement,
            "cells": mesh.n_cells,
            "femion_s": max(femion_total - build, 1e-6),
            "femion_error": result.error,
            "skfem_s": sk_time,
            "skfem_centroid_error": sk[0],
            "skfem_l2_error": sk[1],
            "skfem_dofs": sk[2],
        }
        rows.append(row)
        print(
            f"{row['cells']:>7} cells: femion {row['femion_s'] * 1e3:7.1f} ms err {row['femion_error']:.3e} | "
            f"skfem Q1 {sk_time * 1e3:7.1f} ms err {sk[0]:.3e} (L2 {sk[1]:.3e})"
        )
    cells = [row["cells"] for row in rows]
    slopes = {
        "femion_error_vs_h": -2 * fit_exponent(cells, [row["femion_error"] for row in rows]),
        "skfem_error_vs_h": -2 * fit_exponent(cells, [row["skfem_centroid_error"] for row in rows]),
    }
    # Time each method needs for femion's error at each refinement (log-log interpolation of the other's curve).
    comparison = []
    for row in rows:
        target = row["femion_error"]
        sk_time = _time_at_error(target, [r["skfem_centroid_error"] for r in rows], [r["skfem_s"] for r in rows])
        comparison.append(
            {
                "cells": row["cells"],
                "error": target,
                "femion_s": row["femion_s"],
                "skfem_s_at_same_error": sk_time,
                "femion_over_skfem": row["femion_s"] / sk_time if sk_time else None,
            }
        )
        if sk_time:
            print(f"  at error {target:.2e}: femion/skfem time {row['femion_s'] / sk_time:.2f}")
    print("  observed orders (error vs h): " + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))
    return {"rows": rows, "orders": slopes, "same_error": comparison}


def _time(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def _best(function, repeats, subtract=0.0):
    best, value = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        value = function()
        best = min(best, time.perf_counter() - start)
    return max(best - subtract, 1e-6), value


def _time_at_error(target, errors, times):
    """Log–log interpolation of time at ``target`` error on a (decreasing error) curve; None outside its range."""
    errors, times = np.log(np.asarray(errors)), np.log(np.asarray(times))
    order = np.argsort(errors)
    if not (errors.min() <= np.log(target) <= errors.max()):
        return None
    return float(np.exp(np.interp(np.log(target), errors[order], times[order])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="mms.json")
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    results = {"machine": machine(), **run(arguments.repeats)}
    Path(arguments.out).write_text(json.dumps(results, indent=2, default=float), encoding="utf-8")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
