"""Verification problem: the circular parallel-plate capacitor with fringe field.

Two coaxial, infinitely thin, perfectly conducting disks of radius a, a gap d
apart, in an unbounded homogeneous dielectric ε. :func:`disk_capacitor`
computes C/(ε a) with femion's own machinery (a gmsh transfinite quadrilateral
mesh, :class:`femion.mesh.AxisymmetricMesh`, the r-weighted FiPy diffusion term
of :mod:`femion.fvm` and its boundary fluxes); the test suite compares it with
an independent Nyström solution of Love's integral equation
(``tests/verification/test_disk_capacitor.py``).
"""

from __future__ import annotations

import math

import numpy as np

from femion import fvm
from femion.geometry import GMSH_LENGTH_UNIT, gmsh_session
from femion.mesh import AxisymmetricMesh

__all__ = [
    "DEFAULT_DOMAIN_RADII",
    "MAX_GAP_OVER_RADIUS",
    "MIN_GAP_OVER_RADIUS",
    "disk_capacitor",
    "disk_capacitor_mesh",
]

DEFAULT_DOMAIN_RADII = 20.0
"""Default distance of the grounded far boundary from the disk centre, in disk radii."""

MIN_GAP_OVER_RADIUS = 1e-3
"""Smallest gap/radius ratio accepted (see ``_MIN_EDGE_CELL``)."""

MAX_GAP_OVER_RADIUS = 2.0
"""Largest gap/radius ratio accepted (the far boundary must stay far from both disks)."""

_DISK_RADIUS_UM = 100.0  # disk radius a in gmsh model units (µm); C/(ε a) is scale-free
_EDGE_CELL = 1e-3  # smallest cell at the rim, relative to min(d/2, a), at refinement 1
_MIN_EDGE_CELL = 2e-5  # floor of the smallest cell relative to a, at refinement 1 (see below)
_GROWTH = 1.15  # largest cell-to-cell size ratio of the geometric grading at refinement 1

# The floor bounds the cell count at the smallest gaps; at 2e-5 a the rim cells
# are far finer than the fringe field needs.

GAP_REGION, OUTER_REGION = "gap", "outer"
DISK_TOP, DISK_BOTTOM = "disk_top", "disk_bottom"
MIDPLANE, FAR, AXIS = "midplane", "far", "axis"


def _first_cell_ratio(length: float, cells: int, first: float) -> float:
    """Ratio q > 1 of a geometric progression of ``cells`` cells, first cell ``first``, total ``length``."""
    low, high = 1.0, 2.0
    while first * (high**cells - 1.0) / (high - 1.0) < length:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        if first * (middle**cells - 1.0) / (middle - 1.0) < length:
            low = middle
        else:
            high = middle
    return 0.5 * (low + high)


def _segment(length: float, smallest: float, refinement: float) -> tuple[int, float]:
    """Cell count and per-cell size ratio of a segment graded geometrically from ``smallest``.

    At refinement 1 the first cell is exactly ``smallest`` and the ratio at
    most ``_GROWTH``; refinement multiplies the count and keeps the total size
    ratio (last/first cell), so a refinement study sees one family of grading
    maps: every cell shrinks by the refinement factor.
    """
    if smallest * _GROWTH >= length:
        cells, ratio = 1, 1.0
    else:
        cells = max(2, math.ceil(math.log1p(length * (_GROWTH - 1.0) / smallest) / math.log(_GROWTH)))
        ratio = _first_cell_ratio(length, cells, smallest)
    refined = max(1, round(cells * refinement))
    return refined, ratio ** ((cells - 1) / (refined - 1)) if refined > 1 else 1.0


def _check_arguments(gap_over_radius: float, domain_radii: float, refinement: float) -> tuple[float, float, float]:
    values = {"gap_over_radius": gap_over_radius, "domain_radii": domain_radii, "refinement": refinement}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
        if not math.isfinite(value) or value <= 0.0:
            raise ValueError(f"{name} must be finite and > 0, got {value!r}")
    if not MIN_GAP_OVER_RADIUS <= gap_over_radius <= MAX_GAP_OVER_RADIUS:
        raise ValueError(
            f"gap_over_radius must lie in [{MIN_GAP_OVER_RADIUS:g}, {MAX_GAP_OVER_RADIUS:g}], got {gap_over_radius!r}"
        )
    if domain_radii < 2.0:
        raise ValueError(f"domain_radii must be >= 2 (far boundary at two disk radii or more), got {domain_radii!r}")
    if not 0.1 <= refinement <= 8.0:
        raise ValueError(f"refinement must lie in [0.1, 8], got {refinement!r}")
    return float(gap_over_radius), float(domain_radii), float(refinement)


def disk_capacitor_mesh(
    gap_over_radius: float, *, domain_radii: float = DEFAULT_DOMAIN_RADII, refinement: float = 1.0
) -> AxisymmetricMesh:
    """Slit quadrilateral mesh of the upper half-space z >= 0 of the disk capacitor.

    The disk has radius a = 100 µm and lies at z = d/2; the computational
    domain is the box 0 <= r, z <= R = ``domain_radii`` × a. The mesh is a
    2 × 2 grid of transfinite, recombined gmsh ``geo`` blocks split at r = a
    and z = d/2, graded geometrically toward the rim (r = a, z = d/2) in both
    directions and outward to the far boundary. The disk line is then cut
    open: the cells below it (region ``"gap"``) get their own copy of its
    nodes, except the rim node, which stays shared.

    Parameters
    ----------
    gap_over_radius, domain_radii, refinement
        As for :func:`disk_capacitor`.

    Returns
    -------
    AxisymmetricMesh
        Coordinates in metres. Regions ``"gap"`` (r < a, z < d/2) and
        ``"outer"``; boundary groups ``"disk_top"`` and ``"disk_bottom"``
        (the two faces of the disk, both exterior), ``"midplane"`` (z = 0),
        ``"far"`` (r = R and z = R) and ``"axis"`` (r = 0).

    Raises
    ------
    TypeError, ValueError
        As for :func:`disk_capacitor`.
    """
    import gmsh

    gap_over_radius, domain_radii, refinement = _check_arguments(gap_over_radius, domain_radii, refinement)
    a = _DISK_RADIUS_UM
    half_gap = 0.5 * gap_over_radius * a
    far = domain_radii * a
    smallest = max(_EDGE_CELL * min(half_gap, a), _MIN_EDGE_CELL * a)
    radial = [_segment(a, smallest, refinement), _segment(far - a, smallest, refinement)]
    axial = [_segment(half_gap, smallest, refinement), _segment(far - half_gap, smallest, refinement)]

    with gmsh_session():
        gmsh.model.add("femion-disk-capacitor")
        try:
            geo = gmsh.model.geo
            rs, zs = (0.0, a, far), (0.0, half_gap, far)
            point = {(i, j): geo.addPoint(rs[i], zs[j], 0.0) for i in range(3) for j in range(3)}
            horizontal = {(i, j): geo.addLine(point[i, j], point[i + 1, j]) for i in range(2) for j in range(3)}
            vertical = {(i, j): geo.addLine(point[i, j], point[i, j + 1]) for i in range(3) for j in range(2)}
            block = {}
            for i in range(2):
                for j in range(2):
                    loop = geo.addCurveLoop([horizontal[i, j], vertical[i + 1, j], -horizontal[i, j + 1], -vertical[i, j]])
                    block[i, j] = geo.addPlaneSurface([loop])
            geo.synchronize()

            # Lines run in +r / +z: a "Progression" ratio q > 1 grows cells away
            # from the start point, 1/q shrinks them toward the end point. The
            # inner segments (index 0) end at the rim, the outer ones start there.
            for (i, _), curve in horizontal.items():
                cells, ratio = radial[i]
                gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", 1.0 / ratio if i == 0 else ratio)
            for (_, j), curve in vertical.items():
                cells, ratio = axial[j]
                gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", 1.0 / ratio if j == 0 else ratio)
            for surface in block.values():
                gmsh.model.mesh.setTransfiniteSurface(surface)
                gmsh.model.mesh.setRecombine(2, surface)

            gmsh.model.addPhysicalGroup(2, [block[0, 0]], name=GAP_REGION)
            gmsh.model.addPhysicalGroup(2, [block[1, 0], block[0, 1], block[1, 1]], name=OUTER_REGION)
            gmsh.model.addPhysicalGroup(1, [horizontal[0, 1]], name="disk")
            gmsh.model.addPhysicalGroup(1, [horizontal[0, 0], horizontal[1, 0]], name=MIDPLANE)
            gmsh.model.addPhysicalGroup(1, [vertical[2, 0], vertical[2, 1], horizontal[0, 2], horizontal[1, 2]], name=FAR)
            gmsh.model.addPhysicalGroup(1, [vertical[0, 0], vertical[0, 1]], name=AXIS)
            gmsh.model.mesh.generate(2)
            mesh = AxisymmetricMesh.from_gmsh(source=f"disk capacitor d/a={gap_over_radius:g}")
        finally:
            gmsh.model.remove()
    return _slit(mesh, disk_z=half_gap * GMSH_LENGTH_UNIT, disk_radius=a * GMSH_LENGTH_UNIT)


def _slit(mesh: AxisymmetricMesh, disk_z: float, disk_radius: float) -> AxisymmetricMesh:
    """Cut the mesh open along the disk line; the gap cells get their own copy of its nodes.

    The rim node (r = a) stays shared, so the cut closes there. Each disk edge
    then exists twice, as the top face of an outer cell (``disk_top``) and as
    the bottom face of a gap cell (``disk_bottom``); both are exterior faces.
    Boundary edges below the disk (the axis segment in the gap) follow the gap
    cells onto the copied nodes.
    """
    tolerance = 1e-9 * disk_radius
    disk_edges = mesh.boundaries["disk"]
    disk_nodes = np.unique(disk_edges)
    at_rim = np.abs(mesh.nodes[disk_nodes, 0] - disk_radius) < tolerance
    if at_rim.sum() != 1 or np.any(np.abs(mesh.nodes[disk_nodes, 1] - disk_z) > tolerance):
        raise RuntimeError(f"{mesh.source}: the disk edges are not on the line z = d/2, 0 <= r <= a")
    cut = disk_nodes[~at_rim]
    copy = np.arange(mesh.n_nodes)
    copy[cut] = mesh.n_nodes + np.arange(len(cut))

    in_gap = mesh.cell_regions == mesh.region_names.index(GAP_REGION)
    boundaries = {DISK_TOP: disk_edges, DISK_BOTTOM: copy[disk_edges]}
    for name, edges in mesh.boundaries.items():
        if name != "disk":
            below = mesh.nodes[edges, 1].mean(axis=1) < disk_z - tolerance
            boundaries[name] = np.where(below[:, None], copy[edges], edges)
    return AxisymmetricMesh(
        nodes=np.concatenate([mesh.nodes, mesh.nodes[cut]]),
        cells=np.where(in_gap[:, None], copy[mesh.cells], mesh.cells),
        cell_regions=mesh.cell_regions,
        region_names=mesh.region_names,
        boundaries=boundaries,
        source=f"{mesh.source} [slit]",
    )


def disk_capacitor(
    gap_over_radius: float, *, domain_radii: float = DEFAULT_DOMAIN_RADII, refinement: float = 1.0
) -> float:
    """Normalised capacitance C/(ε a) of two coaxial thin conducting disks, solved with femion.

    Two coaxial, infinitely thin, perfectly conducting disks of radius a at
    z = ±d/2 in an unbounded homogeneous dielectric of permittivity ε [F/m]
    are held at potentials ±V/2. The potential solves ∇·(ε∇φ) = 0 outside the
    disks with φ → 0 at infinity, and C = Q/V [F] with Q the charge on the
    disk at +V/2 (−Q sits on the other). C/(ε a) depends only on d/a: it
    tends to π a/d (parallel plates) plus Kirchhoff's (1877) fringe term
    ln(16π a/d) − 1 for d ≪ a, and to 4 (two isolated disks of 8 ε a each,
    in series) for d ≫ a.

    Parameters
    ----------
    gap_over_radius
        d/a, in [``MIN_GAP_OVER_RADIUS``, ``MAX_GAP_OVER_RADIUS``] = [1e-3, 2].
    domain_radii
        Distance R of the grounded far boundary from the disk centre, in disk
        radii (>= 2; default ``DEFAULT_DOMAIN_RADII`` = 20).
    refinement
        Multiplies every cell count of the mesh (in [0.1, 8]) while keeping
        the grading map, so every cell shrinks by this factor.

    Returns
    -------
    float
        C/(ε a), dimensionless (C in F, ε in F/m, a in m).

    Raises
    ------
    TypeError
        If an argument is not a real number.
    ValueError
        If an argument is not finite or not positive, ``gap_over_radius`` lies
        outside [1e-3, 2], ``domain_radii`` < 2 or ``refinement`` outside
        [0.1, 8].

    Notes
    -----
    *Antisymmetry.* Reflection z → −z maps the problem onto itself with
    φ → −φ, so by uniqueness φ(r, −z) = −φ(r, z) and φ = 0 on the mid-plane.
    The upper half-space z >= 0 with φ = 0 at z = 0 is therefore an exact
    reduction. Both faces of the upper disk lie in it, so Gauss's law over
    them gives the whole charge Q of that disk (nothing is doubled), and
    C = Q/V with V = V/2 − (−V/2).

    *Far field.* The half-space is truncated at the box r, z <= R =
    ``domain_radii`` × a, with φ = 0 there. Far away the field is that of a
    dipole p ≈ Q d; the grounded box acts back on the disks like an image
    field ~p/(4π ε R³), which raises C by a fraction of order a² d/(4 R³).
    Measured at d = a: 3.3e-3 at R = 5 a, 4.0e-4 at 10 a, 4.3e-5 at the
    default 20 a (∝ R⁻³, and smaller for smaller gaps).

    *Discretisation.* The disk is a slit in a transfinite quadrilateral gmsh
    mesh (:func:`disk_capacitor_mesh`), with φ = V/2 on both of its faces.
    Cells shrink geometrically toward the rim, where the charge density has
    an inverse-square-root singularity. The r-weighted two-point-flux
    diffusion term (:func:`femion.fvm.diffusion_term`) is solved with FiPy,
    and Q = −2π ε × (flux of −ε∇φ out of the domain through ``disk_top``
    and ``disk_bottom``, per radian, from :func:`femion.fvm.boundary_flux`).
    C comes out low; the error falls 3-4× when ``refinement`` doubles
    (observed order 1.7-1.9; the two-point flux on a geometrically graded
    mesh is formally first order). Default mesh: relative error about
    1.5e-3 at d/a = 1, 5.6e-4 at 0.2, 3.4e-4 at 0.1 and 1e-4 at 0.02, with
    1e4-2e4 cells and < 0.5 s per call.

    References
    ----------
    E. R. Love, "The electrostatic field of two equal circular co-axial
    conducting disks", Q. J. Mech. Appl. Math. 2, 428-451 (1949).
    G. Kirchhoff, "Zur Theorie des Condensators", Monatsber. Königl. Preuss.
    Akad. Wiss. Berlin, 144-162 (1877); quoted in Landau & Lifshitz,
    Electrodynamics of Continuous Media, §2 (Gaussian units).

    Examples
    --------
    >>> round(disk_capacitor(0.1), 1)  # Love's equation gives 36.93
    36.9
    """
    mesh = disk_capacitor_mesh(gap_over_radius, domain_radii=domain_radii, refinement=refinement)
    permittivity = 1.0  # [F/m]; C/(ε a) does not depend on it
    voltage = 1.0  # potential difference between the disks [V]
    eps_face = fvm.face_values_harmonic(mesh, np.full(mesh.n_cells, permittivity))
    phi = fvm.cell_variable(mesh, 0.0, name="phi")
    phi.constrain(0.5 * voltage, where=mesh.face_mask(DISK_TOP, DISK_BOTTOM))
    phi.constrain(0.0, where=mesh.face_mask(MIDPLANE, FAR))
    (fvm.diffusion_term(mesh, eps_face) == 0).solve(var=phi)
    # boundary_flux is the flux of −ε∇φ out of the domain, i.e. into the disk.
    into_disk = fvm.boundary_flux(mesh, phi, eps_face, DISK_TOP) + fvm.boundary_flux(mesh, phi, eps_face, DISK_BOTTOM)
    charge = -2.0 * math.pi * into_disk  # [C]
    return charge / voltage / (permittivity * _DISK_RADIUS_UM * GMSH_LENGTH_UNIT)
