"""Verification problem: capacitance of the circular parallel-plate capacitor (MODEL.md §6).

Two coaxial, infinitely thin, perfectly conducting disks of radius a, a gap d
apart, in an unbounded homogeneous dielectric ε, solved with femion's own gmsh
quadrilateral mesh and r-weighted FiPy diffusion term. The test suite compares
:func:`disk_capacitor` with an independent Nyström solution of Love's integral
equation (tests/verification/test_disk_capacitor.py).
"""

from __future__ import annotations

import math

import numpy as np

from femion import fvm
from femion.geometry import GMSH_LENGTH_UNIT, gmsh_session
from femion.mesh import AxisymmetricMesh

__all__ = ["disk_capacitor", "disk_capacitor_mesh"]

DEFAULT_DOMAIN_RADII = 10.0
"""Default distance of the grounded far boundary from the disk centre, in disk radii."""

MIN_GAP_OVER_RADIUS = 1e-3
MAX_GAP_OVER_RADIUS = 1e2

_DISK_RADIUS_UM = 100.0  # disk radius in gmsh model units (µm); the result is scale-free
_EDGE_CELL = 0.02  # smallest cell at the disk edge, relative to min(d/2, a)
_GROWTH = 1.12  # cell-to-cell size ratio of the geometric grading at refinement 1

GAP_REGION, OUTER_REGION = "gap", "outer"
DISK_TOP, DISK_BOTTOM = "disk_top", "disk_bottom"


def _segment(length: float, smallest: float, growth: float, refinement: float) -> tuple[int, float]:
    """Cell count and per-cell ratio of a geometric grading over ``length``.

    At refinement 1 the cells start at ``smallest`` and grow by ``growth``;
    refinement multiplies the count and keeps the total size ratio, so a
    refinement study sees one family of grading maps.
    """
    if smallest >= length:
        cells = 1
    else:
        cells = max(2, math.ceil(math.log1p(length * (growth - 1.0) / smallest) / math.log(growth)))
    ratio = growth ** (cells - 1)
    refined = max(2, round(cells * refinement))
    return refined, ratio ** (1.0 / (refined - 1))


def _check_positive(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0.0:
        raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    return value


def disk_capacitor_mesh(
    gap_over_radius: float, *, domain_radii: float = DEFAULT_DOMAIN_RADII, refinement: float = 1.0
) -> AxisymmetricMesh:
    """The slit quadrilateral mesh of the upper half (z >= 0) of the disk capacitor.

    See :func:`disk_capacitor` for the problem and the parameters. The disk
    has radius 100 µm and lies at z = d/2; the mesh is in metres.

    Returns
    -------
    AxisymmetricMesh
        Regions ``"gap"`` (0 < r < a, 0 < z < d/2) and ``"outer"``; boundary
        groups ``"disk_top"`` and ``"disk_bottom"`` (the two faces of the
        slit, both exterior), ``"midplane"`` (z = 0), ``"far"`` (r = R and
        z = R) and ``"axis"`` (r = 0).
    """
    import gmsh

    gap_over_radius, domain_radii, refinement = _check_arguments(gap_over_radius, domain_radii, refinement)
    a = _DISK_RADIUS_UM
    half_gap = 0.5 * gap_over_radius * a
    far = domain_radii * a
    smallest = _EDGE_CELL * min(half_gap, a)

    with gmsh_session():
        gmsh.model.add("femion-disk-capacitor")
        try:
            geo = gmsh.model.geo
            rs, zs = (0.0, a, far), (0.0, half_gap, far)
            points = {(i, j): geo.addPoint(rs[i], zs[j], 0.0) for i in range(3) for j in range(3)}
            horizontal = {(i, j): geo.addLine(points[i, j], points[i + 1, j]) for i in range(2) for j in range(3)}
            vertical = {(i, j): geo.addLine(points[i, j], points[i, j + 1]) for i in range(3) for j in range(2)}
            blocks = {}
            for i in range(2):
                for j in range(2):
                    loop = geo.addCurveLoop(
                        [horizontal[i, j], vertical[i + 1, j], -horizontal[i, j + 1], -vertical[i, j]]
                    )
                    blocks[i, j] = geo.addPlaneSurface([loop])
            geo.synchronize()

            # Geometric grading toward the disk edge (r = a, z = d/2) in both
            # directions; lines run +r / +z, so "Progression" q > 1 grows away
            # from the start point and 1/q shrinks toward the end point.
            radial = [_segment(a, smallest, _GROWTH, refinement), _segment(far - a, smallest, _GROWTH, refinement)]
            axial = [
                _segment(half_gap, smallest, _GROWTH, refinement),
                _segment(far - half_gap, smallest, _GROWTH, refinement),
            ]
            for (i, _), curve in horizontal.items():
                cells, ratio = radial[i]
                gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", 1.0 / ratio if i == 0 else ratio)
            for (_, j), curve in vertical.items():
                cells, ratio = axial[j]
                gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", 1.0 / ratio if j == 0 else ratio)
            for surface in blocks.values():
                gmsh.model.mesh.setTransfiniteSurface(surface)
                gmsh.model.mesh.setRecombine(2, surface)

            gmsh.model.addPhysicalGroup(2, [blocks[0, 0]], name=GAP_REGION)
            gmsh.model.addPhysicalGroup(2, [blocks[1, 0], blocks[0, 1], blocks[1, 1]], name=OUTER_REGION)
            gmsh.model.addPhysicalGroup(1, [horizontal[0, 1]], name="disk")
            gmsh.model.addPhysicalGroup(1, [horizontal[0, 0], horizontal[1, 0]], name="midplane")
            gmsh.model.addPhysicalGroup(
                1, [vertical[2, 0], vertical[2, 1], horizontal[0, 2], horizontal[1, 2]], name="far"
            )
            gmsh.model.addPhysicalGroup(1, [vertical[0, 0], vertical[0, 1]], name="axis")
            gmsh.model.mesh.generate(2)
            mesh = AxisymmetricMesh.from_gmsh(source=f"disk capacitor d/a={gap_over_radius:g}")
        finally:
            gmsh.model.remove()
    return _slit(mesh, disk_z=half_gap * GMSH_LENGTH_UNIT, disk_radius=a * GMSH_LENGTH_UNIT)


def _slit(mesh: AxisymmetricMesh, disk_z: float, disk_radius: float) -> AxisymmetricMesh:
    """Cut the mesh open along the disk: the gap cells get their own copy of the disk nodes.

    The node at the rim (r = a) stays shared, so the slit closes there; every
    disk edge then exists twice, once as the top face of an outer cell
    (``disk_top``) and once as the bottom face of a gap cell (``disk_bottom``),
    and both are exterior boundaries.
    """
    tolerance = 1e-9 * disk_radius
    disk_edges = mesh.boundaries["disk"]
    disk_nodes = np.unique(disk_edges)
    rim = np.abs(mesh.nodes[disk_nodes, 0] - disk_radius) < tolerance
    if rim.sum() != 1 or np.any(np.abs(mesh.nodes[disk_nodes, 1] - disk_z) > tolerance):
        raise AssertionError("disk capacitor mesh: the disk line is not where it was built")
    slit_nodes = disk_nodes[~rim]
    copy = np.arange(mesh.n_nodes)
    copy[slit_nodes] = mesh.n_nodes + np.arange(len(slit_nodes))
    nodes = np.concatenate([mesh.nodes, mesh.nodes[slit_nodes]])

    below = mesh.cell_regions == mesh.region_names.index(GAP_REGION)
    cells = np.where(below[:, None], copy[mesh.cells], mesh.cells)
    boundaries = {DISK_TOP: disk_edges, DISK_BOTTOM: copy[disk_edges]}
    for name, edges in mesh.boundaries.items():
        if name == "disk":
            continue
        under = mesh.nodes[edges, 1].mean(axis=1) < disk_z - tolerance
        boundaries[name] = np.where(under[:, None], copy[edges], edges)
    return AxisymmetricMesh(
        nodes=nodes,
        cells=cells,
        cell_regions=mesh.cell_regions,
        region_names=mesh.region_names,
        boundaries=boundaries,
        source=f"{mesh.source} [slit]",
    )


def _check_arguments(gap_over_radius: float, domain_radii: float, refinement: float) -> tuple[float, float, float]:
    gap_over_radius = _check_positive("gap_over_radius", gap_over_radius)
    domain_radii = _check_positive("domain_radii", domain_radii)
    refinement = _check_positive("refinement", refinement)
    if not MIN_GAP_OVER_RADIUS <= gap_over_radius <= MAX_GAP_OVER_RADIUS:
        raise ValueError(
            f"gap_over_radius must lie in [{MIN_GAP_OVER_RADIUS:g}, {MAX_GAP_OVER_RADIUS:g}], got {gap_over_radius!r}"
        )
    minimum = 2.0 * max(1.0, 0.5 * gap_over_radius)
    if domain_radii < minimum:
        raise ValueError(
            f"domain_radii must be >= {minimum:g} (twice the larger of the disk radius and the half gap), "
            f"got {domain_radii!r}"
        )
    return gap_over_radius, domain_radii, refinement


def disk_capacitor(
    gap_over_radius: float, *, domain_radii: float = DEFAULT_DOMAIN_RADII, refinement: float = 1.0
) -> float:
    """Normalised capacitance C/(ε a) of two coaxial thin disks, computed with femion.

    TODO docstring
    """
    mesh = disk_capacitor_mesh(gap_over_radius, domain_radii=domain_radii, refinement=refinement)
    permittivity = 1.0  # C/(ε a) does not depend on ε
    voltage = 1.0  # potential difference between the disks [V]
    eps_face = fvm.face_values_harmonic(mesh, np.full(mesh.n_cells, permittivity))
    phi = fvm.cell_variable(mesh, 0.0, name="phi")
    phi.constrain(0.5 * voltage, where=mesh.face_mask(DISK_TOP, DISK_BOTTOM))
    phi.constrain(0.0, where=mesh.face_mask("midplane", "far"))
    (fvm.diffusion_term(mesh, eps_face) == 0).solve(var=phi)
    outward = fvm.boundary_flux(mesh, phi, eps_face, DISK_TOP) + fvm.boundary_flux(mesh, phi, eps_face, DISK_BOTTOM)
    charge = -2.0 * math.pi * outward
    radius = _DISK_RADIUS_UM * GMSH_LENGTH_UNIT
    return charge / voltage / (permittivity * radius)
