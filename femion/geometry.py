"""Layer stack -> gmsh model of the (r, z) half-plane with named physical groups.

The device is meshed as a tensor grid of transfinite, recombined blocks: one row
per layer (substrate, bottom electrode, films, top electrode) and three radial
columns, ``[0, R_e/2]``, ``[R_e/2, R_e]`` and ``[R_e, R_film]``, so that there is
a mesh line at the electrode edge r = R_e. The top electrode occupies all
columns but the last. Every cell is a rectangle, which FiPy's two-point flux needs
to converge (triangles give O(1) errors on this stack).

Grading: radially, cells shrink geometrically toward r = 0 and, more strongly,
toward both sides of r = R_e where the fringe field varies on the scale of the
stack thickness; vertically, each layer uses gmsh's ``Bump`` law (cells shrink
toward both interfaces) and the substrate shrinks toward the bottom electrode.
Refining (``MeshSettings.refinement``) multiplies every cell count while keeping
the same smooth grading map (the per-cell ratio is recomputed from the total
size ratio of the segment), so refinement studies see one mesh family.

Nano-resolved axis (optional, ``MeshSettings.axis_cell``): a filament of a
valence-change memory is a few nm wide and, in (r, z), sits on the axis; µm
cells cannot hold it. With ``axis_cell`` set, the first column is split at
``r_core = axis_core`` into a core column ``[0, r_core]`` whose cells grow
geometrically from ``axis_cell`` at r = 0 by at most ``axis_growth`` per cell,
and a column ``[r_core, R_e/2]`` whose first cell continues that progression
(size matched at r_core) and whose last cell has the size of the last cell of
the default first column. Cells stay rectangles (a 2 nm × 50 nm cell is fine for
the two-point flux on orthogonal quads); region and boundary names do not change.
The core's cell count is set by ``axis_cell``/``axis_growth``, not by
``refinement`` (refine the axis by lowering ``axis_cell``). Measured cost on the
reference device: refinement 0.3 goes from 632 to 1312 cells (axis_cell 2 nm) and
one coupled electrostatics + V_O + thermal step from 6.6 to 13.4 ms; refinement
0.5 from 1808 to 3084 cells and 19.5 to 40.2 ms.

gmsh works in micrometres: in metres its absolute tolerance (1e-8) is only five
times below a 50 nm layer . :data:`GMSH_LENGTH_UNIT` records that.

Physical groups
---------------
cells (dim 2)
    one per layer name, and ``substrate``.
boundaries (dim 1)
    ``axis`` (r = 0), ``outer`` (r = R_film), ``top_contact`` (top of the top
    electrode), ``electrode_side`` (top electrode at r = R_e), ``air_surface``
    (top of the uppermost film outside the electrode), ``substrate_bottom``
    (z = 0), ``bottom_contact`` (bottom of the bottom electrode, shared with the
    substrate) and one group ``"upper|lower"`` per horizontal interface, e.g.
    ``WO3|LiPON``; ``bottom_contact`` and ``<bottom electrode>|substrate`` hold
    the same edges.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator

import gmsh
import numpy as np
from scipy.optimize import brentq

from femion.config import SUBSTRATE_REGION, Device

__all__ = [
    "BOUNDARY_NAMES",
    "GMSH_LENGTH_UNIT",
    "MeshSettings",
    "QUICK_MESH",
    "gmsh_session",
    "build_gmsh_model",
    "deform_gmsh_nodes",
    "expected_group_names",
    "interface_displacement",
]

GMSH_LENGTH_UNIT = 1e-6
"""Length of one gmsh model unit [m]: femion's gmsh models are in micrometres."""

BOUNDARY_NAMES = (
    "axis",
    "outer",
    "top_contact",
    "electrode_side",
    "air_surface",
    "substrate_bottom",
    "bottom_contact",
)
"""Exterior and contact boundary groups present in every femion device mesh."""


@dataclass(frozen=True)
class MeshSettings:
    """Resolution and grading of the device mesh.

    Attributes
    ----------
    radial_cells : tuple of int
        Cells in the radial segments ``[0, R_e/2]``, ``[R_e/2, R_e]``,
        ``[R_e, R_film]``.
    radial_size_ratios : tuple of float
        Largest/smallest cell size in each radial segment; the smallest cells sit
        at r = 0, at r = R_e and at r = R_e respectively.
    layer_cell_size : float
        Target mean cell height in the layers [m]; each layer gets
        ``max(min_layer_cells, round(thickness / layer_cell_size))`` cells.
    min_layer_cells : int
        Minimum cells across any layer.
    layer_bump : float
        gmsh ``Bump`` coefficient for the layers (< 1 refines toward both
        interfaces; 1 is uniform).
    substrate_cells : int
        Cells across the substrate.
    substrate_size_ratio : float
        Largest/smallest cell height in the substrate (smallest at the top).
    refinement : float
        Multiplies every cell count (the grading map stays the same).
    axis_cell : float or None
        Radial size [m] of the cells at r = 0 (None: no nano-resolved axis, the
        default; see the module docstring). E.g. 2e-9 for a V_O filament.
    axis_core : float
        Radius r_core [m] of the graded core column (used with ``axis_cell``);
        must be below R_e/2.
    axis_growth : float
        Largest size ratio of neighbouring cells in the core column, > 1.
    """

    radial_cells: tuple[int, int, int] = (24, 56, 48)
    radial_size_ratios: tuple[float, float, float] = (4.0, 300.0, 400.0)
    layer_cell_size: float = 25e-9
    min_layer_cells: int = 4
    layer_bump: float = 0.3
    substrate_cells: int = 12
    substrate_size_ratio: float = 40.0
    refinement: float = 1.0
    axis_cell: float | None = None
    axis_core: float = 1e-6
    axis_growth: float = 1.15

    def __post_init__(self) -> None:
        if len(self.radial_cells) != 3 or len(self.radial_size_ratios) != 3:
            raise ValueError("MeshSettings: radial_cells and radial_size_ratios need three entries")
        if min(self.radial_cells) < 1 or self.substrate_cells < 1 or self.min_layer_cells < 1:
            raise ValueError("MeshSettings: cell counts must be positive")
        if min(self.radial_size_ratios) < 1.0 or self.substrate_size_ratio < 1.0:
            raise ValueError("MeshSettings: size ratios must be >= 1")
        if not (self.layer_cell_size > 0.0 and 0.0 < self.refinement < 100.0 and 0.0 < self.layer_bump <= 1.0):
            raise ValueError("MeshSettings: layer_cell_size must be > 0, refinement in (0, 100), layer_bump in (0, 1]")
        if self.axis_cell is not None and not (0.0 < self.axis_cell < self.axis_core and 1.0 < self.axis_growth <= 2.0):
            raise ValueError("MeshSettings: axis_cell must be in (0, axis_core) and axis_growth in (1, 2]")

    def count(self, cells: int) -> int:
        """Cell count after refinement (at least 1)."""
        return max(1, round(cells * self.refinement))

    def layer_cells(self, thickness: float) -> int:
        """Cells across a layer of ``thickness`` [m] after refinement."""
        return self.count(max(self.min_layer_cells, round(thickness / self.layer_cell_size)))

    def _counts_and_growth(self) -> tuple[list[int], list[float]]:
        counts = [self.count(n) for n in self.radial_cells]
        growth = [_progression(counts[0], self.radial_size_ratios[0]),  # grows away from the axis
                  1.0 / _progression(counts[1], self.radial_size_ratios[1]),  # shrinks toward R_e
                  _progression(counts[2], self.radial_size_ratios[2])]  # grows away from R_e
        return counts, growth

    def axis_core_limit(self, device: Device) -> float:
        """Largest ``axis_core`` [m] (exclusive) for ``device``: R_e/2 minus the largest cell of the first column."""
        half = 0.5 * device.electrode_radius
        (count, *_), (growth, *_) = self._counts_and_growth()
        largest = half * (growth - 1.0) / (growth**count - 1.0) * growth ** (count - 1) if growth > 1.0 else half / count
        return half - largest

    def radial_distribution(self, device: Device) -> tuple[list[float], list[tuple[int, float]]]:
        """Column edges and the transfinite law of each radial column.

        Returns
        -------
        radii : list of float
            Column edges [m]: ``[0, R_e/2, R_e, R_film]``, or with the nano axis
            ``[0, r_core, R_e/2, R_e, R_film]``.
        laws : list of (int, float)
            Per column: cell count and gmsh ``Progression`` coefficient (the size
            ratio of consecutive cells in +r).

        Raises
        ------
        ValueError
            With the nano axis: ``axis_core`` not below R_e/2 minus the largest
            cell of the first column.
        """
        half = 0.5 * device.electrode_radius
        counts, growth = self._counts_and_growth()
        radii = [0.0, half, device.electrode_radius, device.film_radius]
        laws = list(zip(counts, growth))
        if self.axis_cell is None:
            return radii, laws
        largest = half - self.axis_core_limit(device)
        core = self.axis_core
        if not core < half - largest:
            raise ValueError(f"MeshSettings: axis_core = {core:g} m must be below R_e/2 - {largest:g} m = {half - largest:g} m")
        core_cells = int(np.ceil(np.log1p(core * (self.axis_growth - 1.0) / self.axis_cell) / np.log(self.axis_growth)))
        core_growth = _geometric_ratio(core, self.axis_cell, core_cells)
        first = self.axis_cell * core_growth**core_cells  # continues the core's progression across r_core
        if first >= largest:
            outer_cells = max(1, round((half - core) / first))
            outer_growth = 1.0
        else:
            ratio = (half - core - first) / (half - core - largest)
            outer_cells = max(2, round(1.0 + np.log(largest / first) / np.log(ratio)))
            outer_growth = _geometric_ratio(half - core, first, outer_cells)
        radii = [0.0, core, *radii[1:]]
        laws = [(core_cells, core_growth), (outer_cells, outer_growth), *laws[1:]]
        return radii, laws

    def estimated_cells(self, device: Device) -> int:
        """Number of cells of the device mesh (exact for the flat tensor grid)."""
        counts = [cells for cells, _ in self.radial_distribution(device)[1]]
        radial = sum(counts)
        inner = sum(counts[:-1])
        rows = self.count(self.substrate_cells) + sum(self.layer_cells(layer.thickness) for layer in device.layers[:-1])
        return radial * rows + inner * self.layer_cells(device.top_electrode.thickness)


QUICK_MESH = MeshSettings(refinement=0.5)
"""Coarse settings for quick runs and CI (half the cells in each direction)."""


@contextlib.contextmanager
def gmsh_session() -> Iterator[None]:
    """Initialise gmsh quietly for the duration of a ``with`` block.

    gmsh keeps global state; nested sessions reuse the open one. Signal handlers
    are not installed, so this also works in worker threads (Dask).
    """
    if gmsh.isInitialized():
        yield
        return
    gmsh.initialize(interruptible=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.option.setNumber("General.Verbosity", 1)
        yield
    finally:
        gmsh.finalize()


def _progression(cells: int, size_ratio: float) -> float:
    """Per-cell growth factor giving ``size_ratio`` between last and first cell."""
    return size_ratio ** (1.0 / (cells - 1)) if cells > 1 else 1.0


def _geometric_ratio(length: float, first: float, cells: int) -> float:
    """Ratio q of a geometric series of ``cells`` terms starting at ``first`` that sums to ``length``.

    Solves first (q^n − 1)/(q − 1) = length (q = 1 if length ≈ n first).

    Raises
    ------
    ValueError
        ``length`` < ``first``·``cells`` beyond round-off (shrinking series are not used).
    """
    mean = length / cells
    if abs(mean / first - 1.0) < 1e-12:
        return 1.0
    if mean < first:
        raise ValueError(f"{cells} cells from {first:g} m cannot shrink to fill {length:g} m")
    total = lambda q: first * np.expm1(cells * np.log(q)) / (q - 1.0) - length  # noqa: E731
    high = 2.0
    while total(high) < 0.0:
        high *= 2.0
    return float(brentq(total, 1.0 + 1e-14, high, xtol=1e-15, rtol=1e-14))


def build_gmsh_model(device: Device, settings: MeshSettings = MeshSettings()) -> None:
    """Create and mesh the device in the current gmsh session (units: µm).

    Parameters
    ----------
    device
        Device whose stack is meshed.
    settings
        Resolution and grading.

    Notes
    -----
    Must run inside :func:`gmsh_session`. The model is left in gmsh for
    extraction (:func:`femion.mesh.AxisymmetricMesh.from_gmsh`) or writing.
    """
    scale = 1.0 / GMSH_LENGTH_UNIT
    gmsh.model.add(f"femion-{device.name}")
    geo = gmsh.model.geo
    radii, laws = settings.radial_distribution(device)
    last = len(radii) - 2  # the column outside the electrode
    rows = [device.substrate, *device.layers]
    heights = np.concatenate([[0.0], np.cumsum([row.thickness for row in rows])])
    top_row = len(rows) - 1

    def columns(row: int) -> range:
        return range(last) if row == top_row else range(last + 1)

    # Points on the grid (r index, z index), created only where used.
    points: dict[tuple[int, int], int] = {}

    def point(i: int, j: int) -> int:
        if (i, j) not in points:
            points[i, j] = geo.addPoint(radii[i] * scale, heights[j] * scale, 0.0)
        return points[i, j]

    horizontal: dict[tuple[int, int], int] = {}  # (column, z index) -> curve, oriented +r
    vertical: dict[tuple[int, int], int] = {}  # (r index, row) -> curve, oriented +z

    def h_line(column: int, j: int) -> int:
        if (column, j) not in horizontal:
            horizontal[column, j] = geo.addLine(point(column, j), point(column + 1, j))
        return horizontal[column, j]

    def v_line(i: int, row: int) -> int:
        if (i, row) not in vertical:
            vertical[i, row] = geo.addLine(point(i, row), point(i, row + 1))
        return vertical[i, row]

    surfaces: dict[int, list[int]] = {row: [] for row in range(len(rows))}
    for row in range(len(rows)):
        for column in columns(row):
            loop = geo.addCurveLoop(
                [h_line(column, row), v_line(column + 1, row), -h_line(column, row + 1), -v_line(column, row)]
            )
            surfaces[row].append(geo.addPlaneSurface([loop]))
    geo.synchronize()

    # Transfinite distributions.
    for (column, _), curve in horizontal.items():
        cells, growth = laws[column]
        gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", growth)
    for (_, row), curve in vertical.items():
        if row == 0:
            cells = settings.count(settings.substrate_cells)
            coefficient = 1.0 / _progression(cells, settings.substrate_size_ratio)
            gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Progression", coefficient)
        else:
            cells = settings.layer_cells(rows[row].thickness)
            gmsh.model.mesh.setTransfiniteCurve(curve, cells + 1, "Bump", settings.layer_bump)
    for row_surfaces in surfaces.values():
        for surface in row_surfaces:
            gmsh.model.mesh.setTransfiniteSurface(surface)
            gmsh.model.mesh.setRecombine(2, surface)

    # Physical groups.
    for row, row_surfaces in surfaces.items():
        gmsh.model.addPhysicalGroup(2, row_surfaces, name=rows[row].name)
    boundary = {
        "axis": [vertical[0, row] for row in range(len(rows))],
        "outer": [vertical[last + 1, row] for row in range(top_row)],
        "electrode_side": [vertical[last, top_row]],
        "top_contact": [horizontal[column, top_row + 1] for column in columns(top_row)],
        "air_surface": [horizontal[last, top_row]],
        "substrate_bottom": [horizontal[column, 0] for column in columns(0)],
        "bottom_contact": [horizontal[column, 1] for column in columns(0)],
    }
    for j in range(1, len(rows)):
        name = f"{rows[j].name}|{rows[j - 1].name}"
        boundary[name] = [horizontal[column, j] for column in columns(j)]
    assert rows[0].name == SUBSTRATE_REGION
    for name, curves in boundary.items():
        gmsh.model.addPhysicalGroup(1, curves, name=name)
    gmsh.model.mesh.generate(2)


def expected_group_names(device: Device) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Cell-region and boundary group names a mesh of ``device`` must carry."""
    interfaces = tuple(device.interface_heights())
    return device.region_names, BOUNDARY_NAMES + interfaces


def interface_displacement(
    nodes: np.ndarray, device: Device, profile: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """Node displacement [m] that moves the top-electrode/film interface by w(r).

    The top electrode moves rigidly by w(r) in z; the active films stretch
    linearly between the (fixed) bottom electrode and the moved interface,
    Δz = w(r) (z − z_f)/(z_e − z_f), with z_f the top of the bottom electrode
    and z_e the flat electrode interface. Bottom electrode and substrate stay
    put. Vertical node moves keep the transfinite topology; cells become
    trapezoids whose non-orthogonality is about atan(|w'(r)|), small for smooth
    profiles (checked by :meth:`femion.mesh.AxisymmetricMesh.check_orthogonality`).

    Parameters
    ----------
    nodes
        Node coordinates (r, z) [m], shape (n_nodes, 2), z = 0 at the substrate bottom.
    device
        The device the mesh was built for.
    profile
        Vectorised w(r) [m]; w > 0 lifts the electrode (thicker films),
        w < 0 presses it in (thinner films, higher field).

    Returns
    -------
    ndarray, shape (n_nodes, 2)

    Raises
    ------
    ValueError
        If w is not finite or thins the film stack by 90 % or more anywhere.
    """
    r, z = nodes[:, 0], nodes[:, 1]
    w = np.broadcast_to(np.asarray(profile(r), dtype=float), r.shape)
    if not np.all(np.isfinite(w)):
        raise ValueError("interface profile w(r) returned non-finite values")
    heights = device.interface_heights()
    z_films = heights[f"{device.films[0].name}|{device.bottom_electrode.name}"]
    z_electrode = heights[f"{device.top_electrode.name}|{device.films[-1].name}"]
    stack = z_electrode - z_films
    if np.any(w <= -0.9 * stack):
        raise ValueError(f"interface profile thins the {stack * 1e9:.0f} nm film stack by 90 % or more (min w = {w.min():.3g} m)")
    tolerance = 1e-6 * stack
    fraction = np.clip((z - z_films) / stack, 0.0, 1.0)
    fraction[z < z_films + tolerance] = 0.0
    fraction[z > z_electrode - tolerance] = 1.0
    return np.column_stack([np.zeros_like(r), w * fraction])


def deform_gmsh_nodes(device: Device, profile: Callable[[np.ndarray], np.ndarray]) -> None:
    """Apply :func:`interface_displacement` to the nodes of the current gmsh model (in place)."""
    node_tags, coordinates, _ = gmsh.model.mesh.getNodes()
    xyz = coordinates.reshape(-1, 3).copy()
    xyz[:, :2] += interface_displacement(xyz[:, :2] * GMSH_LENGTH_UNIT, device, profile) / GMSH_LENGTH_UNIT
    # gmsh's API sets node coordinates one at a time (no bulk setter); this is
    # mesh construction, O(n_nodes) calls of a few microseconds each.
    for tag, position in zip(node_tags.tolist(), xyz.tolist()):
        gmsh.model.mesh.setNode(tag, position, [])
