"""Axisymmetric (r, z) meshes: one mesh, three views (arrays, FiPy, scikit-fem).

:class:`AxisymmetricMesh` holds the node coordinates [m], the quadrilateral
cells, the named cell regions and the named boundary edges of a gmsh mesh. It
is built from a live gmsh model (:func:`build_mesh`) or a ``.msh`` file of any
version gmsh reads (:func:`read_mesh`); FiPy and scikit-fem meshes are then made
from the same arrays, so both see the same cells in the same order and cell
fields move between them by index. This sidesteps two traps: FiPy's
``Gmsh2D`` reads only MSH 2.2 and shells out to ``gmsh --version``, and
scikit-fem loses interface groups from MSH 2.2.

The axisymmetric weighting
--------------------------
FiPy has no cylindrical gmsh mesh; femion owns the r-weighting here, in one
place. All balance laws are integrated per radian with the weight r:

* ``r_cell`` is the exact area centroid r_c = (∫ r dA)/A of each cell, so
  ``A r_c`` is the exact r-weighted volume ∫ r dr dz (:attr:`AxisymmetricMesh.r_volumes`);
* ``r_face`` is the r of each face midpoint, so ``L r_f`` is the exact
  r-weighted face area ∫ r ds of a straight edge.

A conservation law ∂(c)/∂t = -∇·J + S becomes, in FiPy terms,
``TransientTerm(coeff=r_cell) == DiffusionTerm(coeff=D*r_face) + r_cell*S``
(coefficient weighting, not scaled volumes). This keeps FiPy's cell gradients
right (scaling volumes instead, as ``CylindricalGrid2D`` does, makes the
gradient of u = r come out as 2). Totals over the device multiply by 2π once,
at output.

Orthogonality
-------------
FiPy's two-point flux is consistent only when the line joining two cell centres
is normal to their shared face. :meth:`AxisymmetricMesh.nonorthogonality`
measures the worst angle; :meth:`AxisymmetricMesh.fipy` refuses meshes beyond
``MAX_NONORTHOGONALITY_DEG`` and warns above ``WARN_NONORTHOGONALITY_DEG``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np

from femion.geometry import (
    GMSH_LENGTH_UNIT,
    MeshSettings,
    build_gmsh_model,
    expected_group_names,
    deform_gmsh_nodes,
    gmsh_session,
)

if TYPE_CHECKING:
    import fipy
    import skfem

    from femion.config import Device

__all__ = [
    "AxisymmetricMesh",
    "MeshError",
    "MAX_CELLS",
    "MAX_NONORTHOGONALITY_DEG",
    "WARN_NONORTHOGONALITY_DEG",
    "NonOrthogonalMeshWarning",
    "build_mesh",
    "read_mesh",
    "settings_for_profile",
]

WARN_NONORTHOGONALITY_DEG = 10.0
"""Worst face non-orthogonality [deg] above which transport solves warn."""

MAX_CELLS = 2_000_000
"""Largest mesh :func:`build_mesh` builds (a guard against unit typos in thicknesses)."""

MAX_NONORTHOGONALITY_DEG = 30.0
"""Worst face non-orthogonality [deg] above which transport solves refuse the mesh."""

_GMSH_QUAD, _GMSH_LINE = 3, 1


class MeshError(ValueError):
    """A mesh that femion cannot use (unreadable, 3D, triangles, missing groups)."""


class NonOrthogonalMeshWarning(UserWarning):
    """The mesh is non-orthogonal enough to degrade FiPy's two-point flux."""


@dataclass(frozen=True, eq=False)
class AxisymmetricMesh:
    """A quadrilateral mesh of the (r, z) half-plane with named regions and boundaries.

    Attributes
    ----------
    nodes : ndarray, shape (n_nodes, 2)
        Node coordinates (r, z) [m], r >= 0.
    cells : ndarray of int, shape (n_cells, 4)
        Node indices of each quadrilateral, counter-clockwise.
    cell_regions : ndarray of int, shape (n_cells,)
        Index into :attr:`region_names` of each cell.
    region_names : tuple of str
        Region (gmsh physical group) names.
    boundaries : mapping of str to ndarray of int, shape (n_edges, 2)
        Named edge sets as node-index pairs (exterior boundaries and interfaces).
    parent_cells : ndarray of int, shape (n_cells,)
        For a submesh, the index of each cell in the mesh it was cut from
        (identity otherwise).
    source : str
        Where the mesh came from (file path or device name).
    """

    nodes: np.ndarray
    cells: np.ndarray
    cell_regions: np.ndarray
    region_names: tuple[str, ...]
    boundaries: Mapping[str, np.ndarray]
    parent_cells: np.ndarray = field(default=None)  # type: ignore[assignment]
    source: str = ""

    def __post_init__(self) -> None:
        nodes = np.ascontiguousarray(self.nodes, dtype=float)
        cells = np.ascontiguousarray(self.cells, dtype=np.int64)
        if nodes.ndim != 2 or nodes.shape[1] != 2:
            raise MeshError(f"{self.source}: nodes must have shape (n_nodes, 2), got {nodes.shape}")
        if cells.ndim != 2 or cells.shape[1] != 4:
            raise MeshError(f"{self.source}: cells must be quadrilaterals, shape (n_cells, 4), got {cells.shape}")
        if np.any(nodes[:, 0] < -1e-12 * max(1.0, np.ptp(nodes[:, 0]))):
            raise MeshError(f"{self.source}: nodes with r < 0; an axisymmetric mesh lies in r >= 0")
        nodes[:, 0] = np.maximum(nodes[:, 0], 0.0)
        signed = _signed_areas(nodes, cells)
        if np.any(signed == 0.0):
            raise MeshError(f"{self.source}: degenerate cells with zero area")
        cells = np.where((signed < 0.0)[:, None], cells[:, ::-1], cells)
        object.__setattr__(self, "nodes", nodes)
        object.__setattr__(self, "cells", cells)
        object.__setattr__(self, "cell_regions", np.ascontiguousarray(self.cell_regions, dtype=np.int64))
        object.__setattr__(
            self,
            "boundaries",
            MappingProxyType({name: np.asarray(edges, dtype=np.int64).reshape(-1, 2) for name, edges in self.boundaries.items()}),
        )
        if self.parent_cells is None:
            object.__setattr__(self, "parent_cells", np.arange(len(cells)))

    # ------------------------------------------------------------------ sizes
    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.cells)

    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.nodes)

    def __repr__(self) -> str:
        return (
            f"AxisymmetricMesh({self.n_cells} cells, {self.n_nodes} nodes, regions={list(self.region_names)}, "
            f"boundaries={sorted(self.boundaries)})"
        )

    # ------------------------------------------------------------- topology
    @cached_property
    def faces(self) -> np.ndarray:
        """Unique edges as sorted node pairs, shape (n_faces, 2)."""
        return self._face_topology[0]

    @cached_property
    def cell_faces(self) -> np.ndarray:
        """Face indices of each cell's edges (n0-n1, n1-n2, n2-n3, n3-n0), shape (n_cells, 4)."""
        return self._face_topology[1]

    @cached_property
    def _face_topology(self) -> tuple[np.ndarray, np.ndarray]:
        edges = np.stack([self.cells, np.roll(self.cells, -1, axis=1)], axis=-1).reshape(-1, 2)
        faces, inverse = np.unique(np.sort(edges, axis=1), axis=0, return_inverse=True)
        return faces, inverse.reshape(-1, 4)

    @cached_property
    def face_cells(self) -> np.ndarray:
        """The (up to) two cells of each face, shape (n_faces, 2); -1 where none (exterior)."""
        adjacency = np.full((len(self.faces), 2), -1, dtype=np.int64)
        flat_faces = self.cell_faces.ravel()
        flat_cells = np.repeat(np.arange(self.n_cells), 4)
        order = np.argsort(flat_faces, kind="stable")
        sorted_faces, sorted_cells = flat_faces[order], flat_cells[order]
        first = np.ones(len(sorted_faces), dtype=bool)
        first[1:] = sorted_faces[1:] != sorted_faces[:-1]
        adjacency[sorted_faces[first], 0] = sorted_cells[first]
        adjacency[sorted_faces[~first], 1] = sorted_cells[~first]
        if np.bincount(flat_faces).max() > 2:
            raise MeshError(f"{self.source}: an edge is shared by more than two cells (non-manifold mesh)")
        return adjacency

    @cached_property
    def _face_keys(self) -> np.ndarray:
        return _edge_keys(self.faces, self.n_nodes)  # sorted, since faces are lexicographically unique

    def face_indices(self, edges: np.ndarray) -> np.ndarray:
        """Indices into :attr:`faces` of node-pair ``edges`` (n, 2); -1 where an edge is not a face."""
        keys = _edge_keys(np.sort(np.asarray(edges, dtype=np.int64).reshape(-1, 2), axis=1), self.n_nodes)
        face_keys = self._face_keys
        position = np.searchsorted(face_keys, keys)
        position = np.minimum(position, len(face_keys) - 1)
        return np.where(face_keys[position] == keys, position, -1)

    # ------------------------------------------------------------ geometry
    @cached_property
    def areas(self) -> np.ndarray:
        """Cell areas in the (r, z) plane [m²], shape (n_cells,)."""
        return _signed_areas(self.nodes, self.cells)

    @cached_property
    def r_volumes(self) -> np.ndarray:
        """Exact r-weighted cell volumes ∫ r dr dz = A r_c [m³ per radian], shape (n_cells,).

        Polygon moment formula: ∫ r dA = (1/6) Σ (r_i + r_j)(r_i z_j - r_j z_i)
        over the edges (i, j) of a counter-clockwise polygon (Pappus: A times
        the centroid's r).
        """
        return self.cell_centroids[:, 0] * self.areas

    @cached_property
    def cell_centroids(self) -> np.ndarray:
        """Exact area centroids (r, z) of the cells [m], shape (n_cells, 2).

        Moments are taken relative to each cell's first node, which keeps
        round-off at the level of the cell size even for nm cells far from
        the origin.
        """
        origin = self.nodes[self.cells[:, 0]]
        r = self.nodes[self.cells, 0] - origin[:, :1]
        z = self.nodes[self.cells, 1] - origin[:, 1:]
        r_next, z_next = np.roll(r, -1, axis=1), np.roll(z, -1, axis=1)
        cross = r * z_next - r_next * z
        area = np.sum(cross, axis=1) / 2.0
        moments = np.column_stack([np.sum((r + r_next) * cross, axis=1), np.sum((z + z_next) * cross, axis=1)]) / 6.0
        return origin + moments / area[:, None]

    @property
    def r_cell(self) -> np.ndarray:
        """Axisymmetric cell weight r_c = (∫ r dA)/A [m], shape (n_cells,)."""
        return self.cell_centroids[:, 0]

    @cached_property
    def face_centers(self) -> np.ndarray:
        """Face midpoints (r, z) [m], shape (n_faces, 2)."""
        return self.nodes[self.faces].mean(axis=1)

    @property
    def r_face(self) -> np.ndarray:
        """Axisymmetric face weight: midpoint r of each face [m], shape (n_faces,)."""
        return self.face_centers[:, 0]

    @cached_property
    def face_lengths(self) -> np.ndarray:
        """Face lengths in the (r, z) plane [m], shape (n_faces,)."""
        ends = self.nodes[self.faces]
        return np.hypot(*(ends[:, 1] - ends[:, 0]).T)

    @cached_property
    def face_normals(self) -> np.ndarray:
        """Face normals of length equal to the face length, pointing out of ``face_cells[:, 0]`` [m], shape (n_faces, 2)."""
        ends = self.nodes[self.faces]
        tangent = ends[:, 1] - ends[:, 0]
        normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
        inward = np.sum(normal * (self.face_centers - self.cell_centroids[self.face_cells[:, 0]]), axis=1) < 0
        normal[inward] *= -1.0
        return _read_only(normal)

    @cached_property
    def centroid_face_distances(self) -> np.ndarray:
        """Distance from each face midpoint to the centroid of its owner and neighbour cell [m], shape (n_faces, 2).

        Column 1 is NaN on exterior faces (no neighbour).
        """
        owner, neighbour = self.face_cells[:, 0], self.face_cells[:, 1]
        distances = np.full((len(self.faces), 2), np.nan)
        distances[:, 0] = np.linalg.norm(self.face_centers - self.cell_centroids[owner], axis=1)
        interior = neighbour >= 0
        distances[interior, 1] = np.linalg.norm(self.face_centers[interior] - self.cell_centroids[neighbour[interior]], axis=1)
        return _read_only(distances)

    @cached_property
    def cell_distances(self) -> np.ndarray:
        """FiPy's two-point distance d of each face [m], shape (n_faces,).

        Centre-to-centre across interior faces, centre-to-face on exterior faces,
        with FiPy's cell centres (the two-point flux FiPy assembles is
        κ L (u_1 − u_0)/d). Taken from :attr:`fipy` so femion's own assembly
        matches FiPy's to round-off.
        """
        return _read_only(np.array(self.fipy._cellDistances, dtype=float))

    @cached_property
    def transmissibility(self) -> np.ndarray:
        """FiPy's face geometric factor T = L/d (face length over :attr:`cell_distances`), shape (n_faces,)."""
        return _read_only(np.array(self.fipy._faceAreas, dtype=float) / self.cell_distances)

    @cached_property
    def face_distance_ratio(self) -> np.ndarray:
        """FiPy's owner-side distance fraction α = d(owner, face)/d of each face, shape (n_faces,) (1 on exterior faces).

        FiPy's linear and harmonic face interpolations weight the owner and
        neighbour values with it.
        """
        return _read_only(np.array(self.fipy._faceToCellDistanceRatio, dtype=float))

    @property
    def r_face_areas(self) -> np.ndarray:
        """Exact r-weighted face areas ∫ r ds [m² per radian], shape (n_faces,)."""
        return self.face_lengths * self.r_face

    # --------------------------------------------------------------- regions
    def region_mask(self, *names: str) -> np.ndarray:
        """Boolean cell mask, shape (n_cells,), of the union of the named regions.

        Raises
        ------
        KeyError
            If a name is not a region of this mesh.
        """
        indices = []
        for name in names:
            if name not in self.region_names:
                raise KeyError(f"mesh has no region {name!r}; regions: {', '.join(self.region_names)}")
            indices.append(self.region_names.index(name))
        return np.isin(self.cell_regions, indices)

    def face_mask(self, *names: str) -> np.ndarray:
        """Boolean face mask, shape (n_faces,), of the union of the named boundary groups.

        Raises
        ------
        KeyError
            If a name is not a boundary group of this mesh.
        """
        mask = np.zeros(len(self.faces), dtype=bool)
        for name in names:
            if name not in self.boundaries:
                raise KeyError(f"mesh has no boundary {name!r}; boundaries: {', '.join(sorted(self.boundaries))}")
            mask |= self._boundary_faces(name)
        return mask

    def _boundary_faces(self, name: str) -> np.ndarray:
        """Face mask of one boundary group, computed once per mesh (read-only; :meth:`face_mask` returns copies)."""
        cache = self._face_mask_cache
        if name not in cache:
            indices = self.face_indices(self.boundaries[name])
            mask = np.zeros(len(self.faces), dtype=bool)
            mask[indices[indices >= 0]] = True
            mask.flags.writeable = False
            cache[name] = mask
        return cache[name]

    @cached_property
    def _face_mask_cache(self) -> dict[str, np.ndarray]:
        return {}

    def require(self, regions: tuple[str, ...] = (), boundaries: tuple[str, ...] = ()) -> None:
        """Check that the named regions and boundary groups exist.

        Raises
        ------
        MeshError
            Listing every missing group.
        """
        missing_regions = [name for name in regions if name not in self.region_names]
        missing_boundaries = [name for name in boundaries if name not in self.boundaries]
        if missing_regions or missing_boundaries:
            raise MeshError(
                f"{self.source}: mesh lacks required physical groups: "
                + ", ".join([f"region {n!r}" for n in missing_regions] + [f"boundary {n!r}" for n in missing_boundaries])
                + f" (has regions {list(self.region_names)}, boundaries {sorted(self.boundaries)})"
            )

    def require_device(self, device: Device) -> None:
        """Check that the mesh carries every group a mesh of ``device`` needs and matches its geometry.

        The film radius, the electrode radius and the height of every
        interface (at the outermost face, where a deformed electrode has
        relaxed) must agree with the device.

        Raises
        ------
        MeshError
            If a region, boundary or interface group is missing, or the geometry
            differs (e.g. a mesh written in metres instead of µm).
        """
        regions, boundaries = expected_group_names(device)
        self.require(regions, boundaries)
        problems = []
        r_max = float(self.nodes[:, 0].max())
        if not np.isclose(r_max, device.film_radius, rtol=1e-6):
            problems.append(f"mesh radius {r_max:.6g} m, device film radius {device.film_radius:.6g} m")
        r_side = self.nodes[self.boundaries["electrode_side"], 0]
        if not np.allclose(r_side, device.electrode_radius, rtol=1e-6):
            problems.append(f"electrode edge at r = {r_side.mean():.6g} m, device R_e = {device.electrode_radius:.6g} m")
        thinnest = min(layer.thickness for layer in (device.substrate, *device.layers))
        for name, height in device.interface_heights().items():
            edges = self.boundaries[name]
            outermost = edges[np.argmax(self.nodes[edges, 0].mean(axis=1))]
            z = float(self.nodes[outermost, 1].mean())
            if abs(z - height) > 0.05 * thinnest:
                problems.append(f"interface {name!r} at z = {z:.6g} m, device puts it at {height:.6g} m")
        if problems:
            raise MeshError(
                f"{self.source}: mesh geometry does not match device {device.name!r} (lengths in the file must be in µm): "
                + "; ".join(problems)
            )

    def submesh(self, regions: tuple[str, ...] | None = None, cell_mask: np.ndarray | None = None) -> AxisymmetricMesh:
        """Cut out the cells of ``regions`` (and of ``cell_mask`` if given).

        Boundary groups keep the edges that border a kept cell; interfaces with
        removed regions become exterior boundaries of the submesh. ``parent_cells``
        maps the submesh cells back to this mesh.

        Raises
        ------
        MeshError
            If the selection is empty.
        """
        keep = np.ones(self.n_cells, dtype=bool) if regions is None else self.region_mask(*regions)
        if cell_mask is not None:
            keep &= np.asarray(cell_mask, dtype=bool)
        if not keep.any():
            raise MeshError(f"{self.source}: submesh selection {regions!r} contains no cells")
        cells = self.cells[keep]
        used = np.unique(cells)
        renumber = np.full(self.n_nodes, -1, dtype=np.int64)
        renumber[used] = np.arange(len(used))
        kept_faces = np.zeros(len(self.faces), dtype=bool)
        kept_faces[self.cell_faces[keep].ravel()] = True
        boundaries = {}
        for name, edges in self.boundaries.items():
            indices = self.face_indices(edges)
            edges = edges[(indices >= 0) & kept_faces[np.maximum(indices, 0)]]
            if len(edges):
                boundaries[name] = renumber[edges]
        kept_regions = sorted(set(self.cell_regions[keep].tolist()))
        region_index = np.full(len(self.region_names), -1, dtype=np.int64)
        region_index[kept_regions] = np.arange(len(kept_regions))
        return AxisymmetricMesh(
            nodes=self.nodes[used],
            cells=renumber[cells],
            cell_regions=region_index[self.cell_regions[keep]],
            region_names=tuple(self.region_names[i] for i in kept_regions),
            boundaries=boundaries,
            parent_cells=self.parent_cells[keep],
            source=f"{self.source} [submesh]",
        )

    def displaced(self, displacement: np.ndarray) -> AxisymmetricMesh:
        """A copy with every node moved by ``displacement`` [m], shape (n_nodes, 2).

        Cells, regions, boundaries and ``parent_cells`` are unchanged, so fields
        keep their indices (e.g. the deformed configuration from mechanics).

        Raises
        ------
        MeshError
            If the displacement has the wrong shape, is not finite, or inverts a cell.
        """
        displacement = np.asarray(displacement, dtype=float)
        if displacement.shape != self.nodes.shape or not np.all(np.isfinite(displacement)):
            raise MeshError(f"displacement must be finite with shape {self.nodes.shape}")
        moved = self.nodes + displacement
        if np.any(_signed_areas(moved, self.cells) <= 0.0):
            raise MeshError(f"{self.source}: the displacement inverts cells")
        return AxisymmetricMesh(
            nodes=moved,
            cells=self.cells,
            cell_regions=self.cell_regions,
            region_names=self.region_names,
            boundaries=dict(self.boundaries),
            parent_cells=self.parent_cells,
            source=f"{self.source} [displaced]",
        )

    # ------------------------------------------------------- orthogonality
    @cached_property
    def face_nonorthogonality(self) -> np.ndarray:
        """Angle [deg] between each interior face normal and the line joining its two cell centroids; 0 on exterior faces."""
        interior = self.face_cells[:, 1] >= 0
        angle = np.zeros(len(self.faces))
        ends = self.nodes[self.faces[interior]]
        tangent = ends[:, 1] - ends[:, 0]
        normal = np.column_stack([tangent[:, 1], -tangent[:, 0]])
        join = self.cell_centroids[self.face_cells[interior, 1]] - self.cell_centroids[self.face_cells[interior, 0]]
        cosine = np.abs(np.sum(normal * join, axis=1)) / (np.linalg.norm(normal, axis=1) * np.linalg.norm(join, axis=1))
        angle[interior] = np.degrees(np.arccos(np.clip(cosine, 0.0, 1.0)))
        return angle

    def nonorthogonality(self) -> float:
        """Worst face non-orthogonality of the mesh [deg]."""
        return float(self.face_nonorthogonality.max(initial=0.0))

    def check_orthogonality(self) -> None:
        """Warn or raise if FiPy's two-point flux would be unreliable on this mesh.

        Raises
        ------
        MeshError
            Worst non-orthogonality above :data:`MAX_NONORTHOGONALITY_DEG`.

        Warns
        -----
        NonOrthogonalMeshWarning
            Above :data:`WARN_NONORTHOGONALITY_DEG`.
        """
        worst = self.nonorthogonality()
        if worst > MAX_NONORTHOGONALITY_DEG:
            raise MeshError(
                f"{self.source}: worst face non-orthogonality {worst:.1f}° exceeds {MAX_NONORTHOGONALITY_DEG}°; "
                "FiPy's two-point flux does not converge on such cells. Use transfinite quads."
            )
        if worst > WARN_NONORTHOGONALITY_DEG:
            warnings.warn(
                f"{self.source}: worst face non-orthogonality {worst:.1f}° > {WARN_NONORTHOGONALITY_DEG}°; "
                "transport fluxes lose accuracy there",
                NonOrthogonalMeshWarning,
                stacklevel=2,
            )

    # ------------------------------------------------------------- solvers
    @cached_property
    def fipy(self) -> fipy.meshes.mesh2D.Mesh2D:
        """FiPy mesh with the same cells in the same order and faces in :attr:`faces` order.

        Raises
        ------
        MeshError
            If the mesh is too non-orthogonal (see :meth:`check_orthogonality`).
        """
        from fipy.meshes.mesh2D import Mesh2D

        self.check_orthogonality()
        return Mesh2D(
            vertexCoords=self.nodes.T.copy(),
            faceVertexIDs=self.faces.T.copy(),
            cellFaceIDs=self.cell_faces.T.copy(),
        )

    @cached_property
    def skfem(self) -> skfem.MeshQuad1:
        """scikit-fem quadrilateral mesh with the same nodes and cells (same order).

        Subdomains are the regions; boundaries are the named edge groups,
        interfaces included (as scikit-fem facet indices).
        """
        from skfem import MeshQuad1

        mesh = MeshQuad1(np.ascontiguousarray(self.nodes.T), np.ascontiguousarray(self.cells.T))
        facet_keys = _edge_keys(np.sort(mesh.facets.T, axis=1), self.n_nodes)
        order = np.argsort(facet_keys)
        boundaries = {}
        for name, edges in self.boundaries.items():
            keys = _edge_keys(np.sort(edges, axis=1), self.n_nodes)
            boundaries[name] = order[np.searchsorted(facet_keys, keys, sorter=order)].astype(np.int32)
        subdomains = {name: np.flatnonzero(self.cell_regions == index) for index, name in enumerate(self.region_names)}
        return mesh.with_subdomains(subdomains).with_boundaries(boundaries)

    # ------------------------------------------------------------------ I/O
    @classmethod
    def from_gmsh(cls, source: str = "<gmsh model>") -> AxisymmetricMesh:
        """Extract the current gmsh model's 2D mesh (model units: µm).

        Raises
        ------
        MeshError
            3D mesh, non-quadrilateral cells, cells outside every physical group,
            or no physical groups.
        """
        import gmsh

        if gmsh.model.getDimension() > 2 or gmsh.model.getPhysicalGroups(3):
            raise MeshError(f"{source}: a 3D mesh; femion needs a 2D (r, z) mesh")
        node_tags, coordinates, _ = gmsh.model.mesh.getNodes()
        if len(node_tags) == 0:
            raise MeshError(f"{source}: the file holds no mesh nodes")
        coordinates = coordinates.reshape(-1, 3)
        if np.ptp(coordinates[:, 2]) > 0.0:
            raise MeshError(f"{source}: nodes with varying z-coordinate; femion needs a planar (r, z) mesh")
        tag_order = np.argsort(node_tags)
        sorted_tags = node_tags[tag_order]

        def node_index(tags: np.ndarray) -> np.ndarray:
            return tag_order[np.searchsorted(sorted_tags, tags)]

        region_names, cells, cell_regions = [], [], []
        for dim, tag in gmsh.model.getPhysicalGroups(2):
            name = gmsh.model.getPhysicalName(dim, tag) or f"region{tag}"
            region_cells = []
            for entity in gmsh.model.getEntitiesForPhysicalGroup(dim, tag):
                types, _, element_nodes = gmsh.model.mesh.getElements(dim, entity)
                for element_type, nodes in zip(types, element_nodes):
                    if element_type != _GMSH_QUAD:
                        element_name = gmsh.model.mesh.getElementProperties(element_type)[0]
                        raise MeshError(
                            f"{source}: region {name!r} has {element_name} cells; femion's transport solvers need "
                            "quadrilaterals (FiPy's two-point flux does not converge on triangles here)"
                        )
                    region_cells.append(node_index(nodes).reshape(-1, 4))
            if region_cells:
                region_names.append(name)
                cells.append(np.concatenate(region_cells))
                cell_regions.append(np.full(len(cells[-1]), len(region_names) - 1))
        if not cells:
            raise MeshError(f"{source}: no 2D physical groups (named cell regions) found")
        total_elements = sum(len(t) for t in gmsh.model.mesh.getElements(2)[1])
        n_cells = sum(len(c) for c in cells)
        if total_elements != n_cells:
            raise MeshError(f"{source}: {total_elements - n_cells} cells belong to no physical group")

        boundaries: dict[str, np.ndarray] = {}
        for dim, tag in gmsh.model.getPhysicalGroups(1):
            name = gmsh.model.getPhysicalName(dim, tag) or f"boundary{tag}"
            edges = []
            for entity in gmsh.model.getEntitiesForPhysicalGroup(dim, tag):
                types, _, element_nodes = gmsh.model.mesh.getElements(dim, entity)
                for element_type, nodes in zip(types, element_nodes):
                    if element_type == _GMSH_LINE:
                        edges.append(node_index(nodes).reshape(-1, 2))
            boundaries[name] = np.concatenate(edges) if edges else np.zeros((0, 2), dtype=np.int64)

        cells_array = np.concatenate(cells)
        used = np.unique(cells_array)
        renumber = np.full(len(node_tags), -1, dtype=np.int64)
        renumber[used] = np.arange(len(used))
        return cls(
            nodes=coordinates[used, :2] * GMSH_LENGTH_UNIT,
            cells=renumber[cells_array],
            cell_regions=np.concatenate(cell_regions),
            region_names=tuple(region_names),
            boundaries={name: renumber[edges] for name, edges in boundaries.items()},
            source=source,
        )


def build_mesh(
    device: Device,
    path: str | Path | None = None,
    settings: MeshSettings = MeshSettings(),
    interface_profile: Callable[[np.ndarray], np.ndarray] | None = None,
) -> AxisymmetricMesh:
    """Mesh a device with gmsh and, if ``path`` is given, write the ``.msh`` file.

    Parameters
    ----------
    device
        The device to mesh (see :func:`femion.load_device`).
    path
        Output ``.msh`` path (MSH 4.1, model units µm), or None to skip writing.
    settings
        Resolution and grading (:class:`femion.geometry.MeshSettings`;
        :data:`femion.geometry.QUICK_MESH` for quick runs).
    interface_profile
        Optional deformed top-electrode/film interface w(r) [m] (vectorised
        callable of r [m]; w > 0 lifts the electrode). The mesh is built flat and
        then deformed by :func:`femion.geometry.interface_displacement`, which
        keeps the transfinite topology and near-orthogonal cells.

    Returns
    -------
    AxisymmetricMesh
        The mesh in metres with all physical groups of
        :mod:`femion.geometry`.

    Raises
    ------
    MeshError
        If the mesh would exceed :data:`MAX_CELLS`, ``path`` does not end in
        ``.msh``, or the file cannot be written.
    ValueError
        If ``interface_profile`` is not finite or thins the stack by 90 % or more.
    """
    import gmsh

    estimate = settings.estimated_cells(device)
    if estimate > MAX_CELLS:
        raise MeshError(
            f"device {device.name!r} would need about {estimate:,} cells (limit {MAX_CELLS:,}); "
            "check the layer thicknesses or coarsen MeshSettings (layer_cell_size, refinement)"
        )
    if path is not None and Path(path).suffix != ".msh":
        raise MeshError(f"mesh output {path} must end in .msh (gmsh MSH 4.1)")
    with gmsh_session():
        build_gmsh_model(device, settings)
        if interface_profile is not None:
            deform_gmsh_nodes(device, interface_profile)
        mesh = AxisymmetricMesh.from_gmsh(source=str(path) if path else f"device {device.name!r}")
        if path is not None:
            gmsh.option.setNumber("Mesh.MshFileVersion", 4.1)
            try:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                gmsh.write(str(path))
            except Exception as error:  # gmsh raises a bare Exception
                raise MeshError(f"cannot write mesh file {path}: {error}") from None
        gmsh.model.remove()
    return mesh


def settings_for_profile(
    device: Device,
    settings: MeshSettings,
    interface_profile: Callable[[np.ndarray], np.ndarray],
) -> MeshSettings:
    """Mesh settings under which the mesh deformed by an axial blister w(r) stays near-orthogonal.

    :func:`femion.geometry.interface_displacement` moves nodes vertically, so a
    film cell of mean height h whose height changes by Δh across its width Δr
    becomes a trapezoid whose centroid shifts sideways by Δr Δh / (12 h). Where a
    blister rises on the axis (a lift comparable with the film stack over a few
    µm, the power mode's electrode blister, :mod:`femion.physics.thinfilm`) the
    default µm-wide axis cells then reach 50° of face non-orthogonality, beyond
    what FiPy's two-point flux tolerates (:data:`MAX_NONORTHOGONALITY_DEG`). This
    returns ``settings`` unchanged when the deformed mesh stays below
    :data:`WARN_NONORTHOGONALITY_DEG`, and otherwise the first candidate that
    does, or the best of them (the faces keep at least the tilt atan|w'| of the
    interface itself). The candidates, in order: a graded axis column
    (``MeshSettings.axis_cell``) spanning twice the blister radius r_b (where
    the lift has fallen to 5 % of its rise above the lift at R_e/2; at most
    95 % of :meth:`~femion.geometry.MeshSettings.axis_core_limit`), with cells
    of 1 % of its width at the axis growing by 10 % or 4 % per cell; then, for
    a blister as wide as the first radial column (µm lifts over tens of µm,
    whose foot lies beyond any axis column) that no axis column brings within
    twice :data:`WARN_NONORTHOGONALITY_DEG`, a uniform first column
    [0, R_e/2] of 2, 1 or 0.5 µm cells. For interface cells of height h the
    centroid shift grows as Δr² |w'| / (12 (d + w)), d the film stack, so the
    radial cells must be narrow wherever the lift changes.
    Use the returned settings for the flat mesh too when both must share the cell
    numbering.

    Parameters
    ----------
    device
        The device to mesh.
    settings
        The settings wanted for an undeformed mesh.
    interface_profile
        Vectorised w(r) [m], as for :func:`build_mesh`.

    Returns
    -------
    MeshSettings
        ``settings`` or a copy with ``axis_cell``, ``axis_core`` and ``axis_growth``
        set, or with a uniform first radial column (``radial_cells``, ``radial_size_ratios``).

    Raises
    ------
    MeshError
        If no candidate keeps the worst non-orthogonality at or below
        :data:`MAX_NONORTHOGONALITY_DEG` (the profile is not an axial blister, or
        it is too steep for vertical node moves).
    """
    from dataclasses import replace

    worst = build_mesh(device, settings=settings, interface_profile=interface_profile).nonorthogonality()
    if worst <= WARN_NONORTHOGONALITY_DEG:
        return settings
    half = 0.5 * device.electrode_radius
    r = np.linspace(0.0, half, 4001)
    rise = np.asarray(interface_profile(r), dtype=float)
    rise = np.abs(rise - rise[-1])
    inside = np.flatnonzero(rise > 0.05 * rise[0]) if rise[0] > 0.0 else np.array([], dtype=int)
    blister = r[inside[-1] + 1] if inside.size and inside[-1] + 1 < len(r) else 0.0
    tried = [f"default axis: {worst:.1f}°"]
    best = (worst, settings)
    if blister > 0.0:
        core = min(2.0 * blister, 0.95 * settings.axis_core_limit(device))
        for growth in (1.10, 1.04):
            candidate = replace(settings, axis_cell=core / 100.0, axis_core=core, axis_growth=growth)
            try:
                angle = build_mesh(device, settings=candidate, interface_profile=interface_profile).nonorthogonality()
            except ValueError as error:  # axis_core too wide for this radial grading
                tried.append(f"axis column {core:.3g} m: {error}")
                continue
            tried.append(f"axis column {core:.3g} m, growth {growth}: {angle:.1f}°")
            if angle <= WARN_NONORTHOGONALITY_DEG:
                return candidate
            if angle < best[0]:
                best = (angle, candidate)
        uniform = best[0] > 2.0 * WARN_NONORTHOGONALITY_DEG  # no axis column does well: the foot lies beyond them
        for width in (2e-6, 1e-6, 0.5e-6) if uniform else ():
            cells = int(np.ceil(half / width))
            candidate = replace(settings, axis_cell=None, radial_cells=(int(np.ceil(cells / settings.refinement)),
                                                                        *settings.radial_cells[1:]),
                                radial_size_ratios=(1.0, *settings.radial_size_ratios[1:]))
            angle = build_mesh(device, settings=candidate, interface_profile=interface_profile).nonorthogonality()
            tried.append(f"uniform first column of {half / candidate.count(candidate.radial_cells[0]):.3g} m cells: {angle:.1f}°")
            if angle <= WARN_NONORTHOGONALITY_DEG:
                return candidate
            if angle < best[0]:
                best = (angle, candidate)
    if best[0] <= MAX_NONORTHOGONALITY_DEG:
        return best[1]
    raise MeshError(f"device {device.name!r}: the deformed interface (lift {np.max(np.abs(interface_profile(r))):.3g} m) "
                    f"leaves the mesh non-orthogonal whatever the axis column ({'; '.join(tried)})")


def read_mesh(path: str | Path, device: Device | None = None) -> AxisymmetricMesh:
    """Read a 2D quadrilateral ``.msh`` file (any version gmsh reads; model units µm).

    Parameters
    ----------
    path
        Mesh file. Coordinates are (r, z) in micrometres, as femion writes them.
    device
        If given, check that the mesh carries every group this device needs
        and matches its geometry (:meth:`AxisymmetricMesh.require_device`).

    Returns
    -------
    AxisymmetricMesh
        Node coordinates in metres.

    Raises
    ------
    MeshError
        Missing or unreadable file, 3D mesh, non-quadrilateral cells, missing
        groups, or an extent implausible in micrometres (a mesh written in metres).
    """
    import gmsh

    path = Path(path)
    if not path.is_file():
        raise MeshError(f"mesh file not found: {path}")
    with gmsh_session():
        try:
            gmsh.open(str(path))
        except Exception as error:
            raise MeshError(f"cannot read mesh file {path}: {error}") from None
        try:
            mesh = AxisymmetricMesh.from_gmsh(source=str(path))
        finally:
            gmsh.model.remove()
    _check_extent(mesh, path)
    if device is not None:
        mesh.require_device(device)
    return mesh


def _check_extent(mesh: AxisymmetricMesh, path: Path) -> None:
    """Refuse a mesh whose size is implausible for coordinates in µm (a file written in metres or nm).

    The radial extent must lie in the device radius range and the height in
    the range from one thinnest layer to the largest radius
    (:data:`femion.config.RADIUS_RANGE`, :data:`femion.config.THICKNESS_RANGE`).
    """
    from femion.config import RADIUS_RANGE, THICKNESS_RANGE

    width = float(np.ptp(mesh.nodes[:, 0]))
    height = float(np.ptp(mesh.nodes[:, 1]))
    if not (RADIUS_RANGE[0] <= width <= RADIUS_RANGE[1] and THICKNESS_RANGE[0] <= height <= RADIUS_RANGE[1]):
        raise MeshError(
            f"{path}: mesh extent {width / GMSH_LENGTH_UNIT:.4g} x {height / GMSH_LENGTH_UNIT:.4g} (r x z) in file units is "
            f"implausible for micrometres (expected r between {RADIUS_RANGE[0] / GMSH_LENGTH_UNIT:g} and "
            f"{RADIUS_RANGE[1] / GMSH_LENGTH_UNIT:g} um); femion meshes are written in um, was this one written in metres?"
        )


def _signed_areas(nodes: np.ndarray, cells: np.ndarray) -> np.ndarray:
    r, z = nodes[cells, 0], nodes[cells, 1]
    return 0.5 * np.sum(r * np.roll(z, -1, axis=1) - np.roll(r, -1, axis=1) * z, axis=1)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _edge_keys(sorted_edges: np.ndarray, n_nodes: int) -> np.ndarray:
    return sorted_edges[:, 0].astype(np.int64) * n_nodes + sorted_edges[:, 1]
