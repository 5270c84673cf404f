"""Axisymmetric finite-volume terms on FiPy (the r-weighting, applied).

The weights themselves are geometry and live in :class:`femion.mesh.AxisymmetricMesh`
(``r_cell``: exact area-centroid r of each cell; ``r_face``: midpoint r of each
face). This module turns them into FiPy terms so every physics module writes its
balance law the same way, per radian:

    ∫ r ∂c/∂t dA = ∮ r D ∇c·n ds + ∫ r S dA

``transient_term(mesh, coeff) == diffusion_term(mesh, D_face) + source(mesh, S)``.
Coefficient weighting keeps FiPy's cell gradients right (a cylindrical-volume subclass gives grad r = 2). Fluxes
through named boundaries are recomputed with the same two-point
transmissibilities FiPy assembles, so contact currents balance to round-off.

For solves repeated every time step, :class:`TwoPointOperator` assembles the
same discretisation directly as a sparse matrix (numpy, fixed sparsity pattern,
no FiPy term machinery) and factorises it (:meth:`TwoPointOperator.factorized`:
banded Cholesky or LU in reverse Cuthill–McKee order, SuperLU for wide bands);
:func:`solve_sparse` solves a given matrix with SuperLU or algebraic multigrid. The two-point flux out of cell i through face f
into cell j is

    F_f = r_f T_f (a_f u_i − b_f u_j),     T_f = L_f/d_f (FiPy's transmissibility),

with a_f = b_f = D_f for diffusion and the Scharfetter–Gummel weights
a_f = D_f B(Δψ_f), b_f = D_f B(−Δψ_f), B(x) = x/(eˣ − 1), for drift–diffusion
(Scharfetter & Gummel, IEEE Trans. Electron Devices 16, 64 (1969)); a
Dirichlet face adds r_f T_f D_f (u_i − u_b).
"""

from __future__ import annotations

import numpy as np
from fipy import CellVariable, DiffusionTerm, FaceVariable, TransientTerm

from femion.mesh import AxisymmetricMesh

__all__ = [
    "BANDED_CHOLESKY_MAX_BANDWIDTH",
    "BANDED_LU_MAX_BANDWIDTH",
    "TwoPointOperator",
    "apply_operator",
    "boundary_flux",
    "face_fluxes",
    "flux_gradient",
    "layerwise_gradient",
    "cell_variable",
    "diffusion_term",
    "face_values_harmonic",
    "r_cell",
    "r_face",
    "r_integral",
    "solve_sparse",
    "source",
    "transient_term",
]


BANDED_CHOLESKY_MAX_BANDWIDTH = 256
"""Widest band [cells] that :meth:`TwoPointOperator.factorized` factorises by banded Cholesky.

Measured (tests/benchmarks, README): in reverse Cuthill–McKee order the band
of femion's layered meshes is 9–42 cells on the default mesh and 184 on a
10⁵-cell potential mesh, where banded Cholesky still takes 0.57 of SuperLU's
time (0.15 at 10³ cells). Wider bands, beyond what was measured, are left to
SuperLU.
"""

BANDED_LU_MAX_BANDWIDTH = 64
"""Widest band [cells] that :meth:`TwoPointOperator.factorized` factorises by banded LU (drift–diffusion).

Measured (tests/benchmarks, README): banded LU takes 0.35–0.7 of SuperLU's
time for bands of 33–37 cells (default mesh), 0.9 at 65 cells and about 1.0
at 158 cells (10⁵ cells).
"""


def cell_variable(
    mesh: AxisymmetricMesh, value: float | np.ndarray = 0.0, name: str = "", has_old: bool = False
) -> CellVariable:
    """A FiPy cell variable on ``mesh.fipy`` (cells in ``mesh.cells`` order); ``has_old`` for transient sweeps."""
    return CellVariable(mesh=mesh.fipy, value=value, name=name, hasOld=has_old)


def r_cell(mesh: AxisymmetricMesh) -> CellVariable:
    """Cell weight r_c [m] as a FiPy cell variable, shape (n_cells,)."""
    return CellVariable(mesh=mesh.fipy, value=mesh.r_cell, name="r_cell")


def r_face(mesh: AxisymmetricMesh) -> FaceVariable:
    """Face weight r_f [m] as a FiPy face variable, shape (n_faces,).

    Faces on the axis (r_f = 0, exterior, no flux by symmetry) get a weight
    of 10⁻³⁰ m instead of 0: FiPy divides convection by diffusion coefficients
    face by face to form Péclet numbers, and 0/0 there would be NaN. No flux
    crosses those faces either way.
    """
    return FaceVariable(mesh=mesh.fipy, value=np.maximum(mesh.r_face, 1e-30), name="r_face")


def transient_term(mesh: AxisymmetricMesh, coeff: float | np.ndarray | CellVariable = 1.0, var=None) -> TransientTerm:
    """r-weighted ``TransientTerm``: ∫ coeff r ∂(var)/∂t dA per radian."""
    return TransientTerm(coeff=coeff * r_cell(mesh), var=var)


def diffusion_term(mesh: AxisymmetricMesh, coeff_face: float | np.ndarray | FaceVariable, var=None) -> DiffusionTerm:
    """r-weighted ``DiffusionTerm``: ∮ coeff r ∇(var)·n ds per radian.

    Parameters
    ----------
    coeff_face
        Coefficient on faces, shape (n_faces,) or scalar (e.g. from
        :func:`face_values_harmonic` for layer-wise coefficients).
    """
    return DiffusionTerm(coeff=coeff_face * r_face(mesh), var=var)


def source(mesh: AxisymmetricMesh, value: float | np.ndarray | CellVariable) -> CellVariable:
    """r-weighted volumetric source ``value * r_c``, to add to the right-hand side."""
    return value * r_cell(mesh)


def face_values_harmonic(mesh: AxisymmetricMesh, cell_values: np.ndarray) -> np.ndarray:
    """Distance-weighted harmonic mean of a cell coefficient on faces, shape (n_faces,).

    This is the face coefficient that makes the two-point flux exact for a
    piecewise-constant coefficient in 1D (series resistances); exterior faces
    take their cell's value.

    Raises
    ------
    ValueError
        If ``cell_values`` has the wrong shape or is not finite and non-negative.
    """
    values = np.asarray(cell_values, dtype=float)
    if values.shape != (mesh.n_cells,):
        raise ValueError(f"cell coefficient must have shape ({mesh.n_cells},), got {values.shape}")
    if not np.all(np.isfinite(values)) or np.any(values < 0.0):
        raise ValueError("cell coefficient must be finite and non-negative")
    # FiPy's harmonicFaceValue, in numpy: v₀v₁ / ((v₁ − v₀)α + v₀), α the owner-side distance
    # fraction, 0 where a value is 0; exterior faces use the owner for both sides.
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    first = values[owner]
    second = values[np.where(neighbour >= 0, neighbour, owner)]
    denominator = (second - first) * mesh.face_distance_ratio + first
    product = first * second
    positive = (product > 0.0) & (denominator != 0.0)
    result = np.zeros(len(mesh.faces))
    result[positive] = product[positive] / denominator[positive]
    return result


def _transmissibility(mesh: AxisymmetricMesh) -> np.ndarray:
    """FiPy's face geometric factor L / d (face length over centre distance), shape (n_faces,)."""
    return mesh.transmissibility


def boundary_flux(mesh: AxisymmetricMesh, var: CellVariable, coeff_face: np.ndarray, boundary: str) -> float:
    """Outward diffusive flux −∮ coeff r ∇var·n ds through an exterior boundary, per radian.

    Uses FiPy's own face value (the constraint on Dirichlet faces) and
    transmissibility, so it balances the assembled equations to round-off.
    Multiply by 2π for the device total.

    Parameters
    ----------
    var
        Solved cell variable.
    coeff_face
        The face coefficient used in the equation, shape (n_faces,) or scalar.
    boundary
        Name of an exterior boundary group of ``mesh``.

    Returns
    -------
    float
        Outward flux per radian [unit of coeff × var × m].

    Raises
    ------
    ValueError
        If the boundary has interior faces.
    """
    faces = np.flatnonzero(mesh.face_mask(boundary))
    cells = mesh.face_cells[faces]
    if np.any(cells[:, 1] >= 0):
        raise ValueError(f"boundary {boundary!r} is not exterior on this mesh")
    coefficient = np.broadcast_to(np.asarray(coeff_face, dtype=float), (len(mesh.faces),))[faces]
    face_value = np.asarray(var.faceValue.value)[faces]
    cell_value = np.asarray(var.value)[cells[:, 0]]
    gradient_outward = (face_value - cell_value) * _transmissibility(mesh)[faces]
    return float(-np.sum(coefficient * gradient_outward * mesh.r_face[faces]))


def r_integral(mesh: AxisymmetricMesh, cell_values: np.ndarray, *regions: str) -> float:
    """∫ f r dr dz over the mesh (or the named regions), per radian.

    Multiply by 2π for the volume integral over the device.
    """
    values = np.asarray(cell_values, dtype=float)
    weights = mesh.r_volumes if not regions else mesh.r_volumes * mesh.region_mask(*regions)
    return float(np.sum(values * weights))


def face_fluxes(
    mesh: AxisymmetricMesh,
    cell_values: np.ndarray,
    coeff_face: np.ndarray | float,
    dirichlet: np.ndarray | None = None,
    dirichlet_values: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Two-point fluxes −coeff ∂u/∂n on every face, oriented from ``face_cells[:, 0]`` outward.

    Interior faces use (u_1 − u_0)·T; Dirichlet faces (``dirichlet`` mask) use
    (u_b − u_0)·T with FiPy's cell-to-face distance; other exterior faces carry
    no flux. T = L/d is FiPy's transmissibility, so these are the fluxes FiPy's
    ``DiffusionTerm`` assembles (not r-weighted; multiply by ``mesh.r_face``
    for the flux per radian).

    Returns
    -------
    ndarray, shape (n_faces,)
        Flux per unit length of face in the (r, z) plane times the face length
        [unit of coeff × u].
    """
    values = np.asarray(cell_values, dtype=float)
    neighbour = mesh.face_cells[:, 1]
    difference = np.zeros(len(mesh.faces))
    interior = neighbour >= 0
    difference[interior] = values[neighbour[interior]] - values[mesh.face_cells[interior, 0]]
    if dirichlet is not None:
        boundary = np.broadcast_to(np.asarray(dirichlet_values, dtype=float), (len(mesh.faces),))
        difference[dirichlet] = boundary[dirichlet] - values[mesh.face_cells[dirichlet, 0]]
    return -np.broadcast_to(np.asarray(coeff_face, dtype=float), (len(mesh.faces),)) * difference * _transmissibility(mesh)


def apply_operator(
    mesh: AxisymmetricMesh,
    cell_values: np.ndarray,
    coeff_face: np.ndarray | float,
    dirichlet: np.ndarray | None = None,
    dirichlet_values: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Discrete r-weighted ∮ coeff r ∇u·n ds of each cell (FiPy's ``DiffusionTerm`` applied to u).

    Returns
    -------
    ndarray, shape (n_cells,)
        Net inflow per radian; divide by ``mesh.r_volumes`` for ∇·(coeff ∇u).
    """
    outflow = face_fluxes(mesh, cell_values, coeff_face, dirichlet, dirichlet_values) * mesh.r_face
    result = -np.bincount(mesh.face_cells[:, 0], weights=outflow, minlength=mesh.n_cells)
    interior = mesh.face_cells[:, 1] >= 0
    result += np.bincount(mesh.face_cells[interior, 1], weights=outflow[interior], minlength=mesh.n_cells)
    return result


def flux_gradient(
    mesh: AxisymmetricMesh,
    cell_values: np.ndarray,
    coeff_cell: np.ndarray,
    dirichlet: np.ndarray | None = None,
    dirichlet_values: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Cell gradients (∂u/∂r, ∂u/∂z) consistent with the two-point fluxes, shape (n_cells, 2).

    Green–Gauss with face values that honour flux continuity across a
    coefficient jump: u_f = (w_0 u_0 + w_1 u_1)/(w_0 + w_1), w = coeff/δ (δ the
    centroid-to-face distance). FiPy's ``grad`` interpolates face values
    linearly, which smears the field of one layer into the cells of the next
    where κ or ε jumps; this reconstruction keeps a piecewise-linear layered
    solution exact. Non-Dirichlet exterior faces take the cell value
    (zero normal derivative).
    """
    face_value = _flux_face_values(mesh, np.asarray(cell_values, dtype=float), np.asarray(coeff_cell, dtype=float),
                                   dirichlet, dirichlet_values)
    return _green_gauss(mesh, face_value, face_value)


def _flux_face_values(mesh: AxisymmetricMesh, values: np.ndarray, coeff: np.ndarray, dirichlet, dirichlet_values) -> np.ndarray:
    """Face values honouring flux continuity, u_f = (w_0 u_0 + w_1 u_1)/(w_0 + w_1), w = coeff/δ; exterior faces
    take the owner's value, Dirichlet faces their given one (:func:`flux_gradient`). Shape (n_faces,)."""
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    interior = neighbour >= 0
    face_value = values[owner].copy()
    n_i = neighbour[interior]
    distances = mesh.centroid_face_distances
    w_owner = coeff[owner[interior]] / distances[interior, 0]
    w_neighbour = coeff[n_i] / distances[interior, 1]
    face_value[interior] = (w_owner * values[owner[interior]] + w_neighbour * values[n_i]) / (w_owner + w_neighbour)
    if dirichlet is not None:
        boundary = np.broadcast_to(np.asarray(dirichlet_values, dtype=float), (len(mesh.faces),))
        face_value[dirichlet] = boundary[dirichlet]
    return face_value


def _green_gauss(mesh: AxisymmetricMesh, owner_value: np.ndarray, neighbour_value: np.ndarray) -> np.ndarray:
    """Green–Gauss cell gradients, shape (n_cells, 2), from the face values each side sees (owner's, neighbour's)."""
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    interior = neighbour >= 0
    normals = mesh.face_normals  # outward from the owner, |n| = face length
    gradient = np.empty((mesh.n_cells, 2))
    for component in range(2):
        gradient[:, component] = np.bincount(owner, weights=normals[:, component] * owner_value, minlength=mesh.n_cells)
        gradient[:, component] -= np.bincount(neighbour[interior], weights=normals[interior, component] * neighbour_value[interior],
                                              minlength=mesh.n_cells)
    return gradient / mesh.areas[:, None]


def layerwise_gradient(
    mesh: AxisymmetricMesh,
    cell_values: np.ndarray,
    dirichlet: np.ndarray | None = None,
    dirichlet_values: np.ndarray | float = 0.0,
    *,
    tolerance: float = 1e-10,
    max_iterations: int = 200,
) -> np.ndarray:
    """Cell gradients (∂u/∂r, ∂u/∂z) of each region from its own cells only, shape (n_cells, 2).

    Green–Gauss as :func:`flux_gradient` (unit coefficients) inside a region;
    on a face between two regions each side takes its own linear
    extrapolation u_c + ∇u_c·(x_f − x_c) instead of a value shared across
    the face, as do exterior faces without a given value, iterated to
    consistency (the iteration contracts by about ½ per pass and is exact
    for a field linear within each region). A jump of u
    across a region interface (e.g. the double-layer drop of the electrolyte
    potential at a host|electrolyte interface, :mod:`femion.physics.lithium`)
    therefore does not appear as a bulk gradient in the cells next to it. A
    gradient component that no shared or given face constrains (a region one
    cell thick in that direction) comes out zero.

    Parameters
    ----------
    mesh : AxisymmetricMesh
    cell_values : ndarray, shape (n_cells,)
    dirichlet : ndarray of bool, shape (n_faces,), optional
        Exterior faces with a given value.
    dirichlet_values : float or ndarray, shape (n_faces,)
    tolerance, max_iterations
        Stop when the largest change of the gradient between passes is below
        ``tolerance`` × its largest magnitude.

    Returns
    -------
    ndarray, shape (n_cells, 2)
        Gradient [unit of u / m].

    Raises
    ------
    ValueError
        If ``cell_values`` is not of shape (n_cells,).
    """
    values = np.asarray(cell_values, dtype=float)
    if values.shape != (mesh.n_cells,):
        raise ValueError(f"cell_values must have shape ({mesh.n_cells},), got {values.shape}")
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    interior = neighbour >= 0
    regions = mesh.cell_regions
    across = np.zeros(len(owner), dtype=bool)
    across[interior] = regions[owner[interior]] != regions[neighbour[interior]]
    given = np.zeros(len(owner), dtype=bool) if dirichlet is None else np.asarray(dirichlet, dtype=bool)
    free = ~interior & ~given  # exterior faces without a value: extrapolated from their cell as well
    owner_value = _flux_face_values(mesh, values, np.ones(mesh.n_cells), dirichlet, dirichlet_values)  # shared and given faces
    neighbour_value = owner_value.copy()
    extrapolated = across | free
    o_a, n_a = owner[extrapolated], neighbour[across]
    offset_owner = mesh.face_centers[extrapolated] - mesh.cell_centroids[o_a]
    offset_neighbour = mesh.face_centers[across] - mesh.cell_centroids[n_a]
    # An extrapolated face value enters only its own cell's Green-Gauss sum, so one pass is g ← M g + g0 with M
    # block-diagonal (a 2×2 block per cell): g0 is the sum with every extrapolated face at its cell's value and
    # M_c = Σ_f n_f (x_f − x_c)ᵀ / A_c over the cell's extrapolated faces (outward normals). The passes below are
    # the same fixed-point iteration as re-summing the faces each time, done on the blocks.
    owner_value[extrapolated] = values[o_a]
    neighbour_value[across] = values[n_a]
    base = _green_gauss(mesh, owner_value, neighbour_value)
    normals = mesh.face_normals
    blocks = np.zeros((mesh.n_cells, 2, 2))
    for i in range(2):
        for j in range(2):
            blocks[:, i, j] = (np.bincount(o_a, weights=normals[extrapolated, i] * offset_owner[:, j], minlength=mesh.n_cells)
                               - np.bincount(n_a, weights=normals[across, i] * offset_neighbour[:, j], minlength=mesh.n_cells))
    blocks /= mesh.areas[:, None, None]
    gradient = np.zeros((mesh.n_cells, 2))
    for _ in range(max_iterations):
        new = np.einsum("nij,nj->ni", blocks, gradient) + base
        change = float(np.max(np.abs(new - gradient)))
        gradient = new
        if change <= tolerance * max(float(np.max(np.abs(gradient))), 1e-300):
            break
    return gradient


class _BandOrder:
    """Cells in reverse Cuthill–McKee order, and where a two-point matrix goes in LAPACK's band storage.

    LAPACK keeps a band matrix column by column (Fortran order): entry (i, j)
    of the permuted matrix sits in row ``offset + i − j`` of column j, with
    ``offset`` 0 for the lower triangle of a symmetric matrix (``dpbtrf``)
    and 2w for a general one (``dgbtrf``: w extra rows take the fill of
    pivoting). The flat positions of the diagonal and of the off-diagonal
    entries of every interior face are computed once per layout.
    """

    def __init__(self, order: np.ndarray, owner: np.ndarray, neighbour: np.ndarray):
        self.order = order
        self.position = np.empty(len(order), dtype=np.int64)  # position[cell]: its index in the order
        self.position[order] = np.arange(len(order))
        self._owner, self._neighbour = self.position[owner], self.position[neighbour]
        self.width = int(np.max(np.abs(self._owner - self._neighbour))) if len(owner) else 0
        self._layouts: dict[bool, tuple] = {}

    def storage(self, lower_only: bool) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """A zeroed band array (Fortran order), its flat view, and the flat positions of its entries.

        The positions are those of (the diagonal per cell, the (owner,
        neighbour) entry per interior face, the (neighbour, owner) entry per
        interior face); with ``lower_only`` the second is the one entry of
        the face in the lower triangle and the third is unused.
        """
        w, n = self.width, len(self.order)
        rows = w + 1 if lower_only else 3 * w + 1
        if lower_only not in self._layouts:
            offset = 0 if lower_only else 2 * w
            row, column = self._owner, self._neighbour
            if lower_only:
                row, column = np.maximum(row, column), np.minimum(row, column)
            self._layouts[lower_only] = (
                offset + self.position * rows,
                offset + row - column + column * rows,
                offset + column - row + row * rows,
            )
        band = np.zeros((rows, n), order="F")
        return band, band.reshape(-1, order="F"), self._layouts[lower_only]

    def in_cell_order(self, solve):
        """``solve`` of the permuted system, as a solver in the mesh's cell order."""
        order, position = self.order, self.position

        def solve_cells(rhs: np.ndarray) -> np.ndarray:
            return solve(np.asarray(rhs, dtype=float)[order])[position]

        return solve_cells


class TwoPointOperator:
    """Sparse two-point finite-volume operators of one mesh, assembled in numpy.

    The sparsity pattern (diagonal plus one entry per side of every interior
    face) and the scatter from faces to matrix entries are built once; each
    :meth:`assemble` is then O(n_faces) vectorised work, against the
    per-step term and variable machinery of FiPy. The matrix is the negative
    of what FiPy assembles for ``diffusion_term(mesh, D)`` (row i holds the net
    outflow of cell i), so that for diffusion it is symmetric positive
    definite: Cholesky-ordered LU and conjugate gradients apply.

    Parameters
    ----------
    mesh
        The mesh; cells are the unknowns, in ``mesh.cells`` order.
    dirichlet
        Boolean face mask, shape (n_faces,), of exterior faces with a
        prescribed value (default none).

    Raises
    ------
    ValueError
        If ``dirichlet`` has the wrong shape or marks interior faces.
    """

    def __init__(self, mesh: AxisymmetricMesh, dirichlet: np.ndarray | None = None):
        from scipy import sparse

        n_faces = len(mesh.faces)
        dirichlet = np.zeros(n_faces, dtype=bool) if dirichlet is None else np.asarray(dirichlet, dtype=bool)
        if dirichlet.shape != (n_faces,):
            raise ValueError(f"dirichlet mask must have shape ({n_faces},), got {dirichlet.shape}")
        self.mesh = mesh
        owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
        self._interior = np.flatnonzero(neighbour >= 0)
        if np.any(neighbour[dirichlet] >= 0):
            raise ValueError("Dirichlet faces must be exterior faces")
        self.dirichlet = dirichlet
        self._dirichlet_faces = np.flatnonzero(dirichlet)
        self._owner_i, self._neighbour_i = owner[self._interior], neighbour[self._interior]
        self._owner_d = owner[self._dirichlet_faces]
        # r-weighted geometric factor r_f T_f of every face (r_f = 0 on the axis: no flux there).
        self.face_weight = mesh.r_face * mesh.transmissibility
        n = mesh.n_cells
        rows = np.concatenate([np.arange(n), self._owner_i, self._neighbour_i])
        cols = np.concatenate([np.arange(n), self._neighbour_i, self._owner_i])
        order = sparse.csr_matrix(
            (np.arange(1, len(rows) + 1, dtype=float), (rows, cols)), shape=(n, n)
        )
        if order.nnz != len(rows):
            raise ValueError("two cells share more than one face; the two-point pattern needs a conforming mesh")
        order.sort_indices()
        self._scatter = order.data.astype(np.int64) - 1
        self._indices, self._indptr = order.indices.copy(), order.indptr.copy()
        # The pattern is symmetric, so the CSC arrays of a matrix share indices/indptr with its CSR
        # arrays; only the values are permuted (entry (j, i) in place of (i, j)).
        position = sparse.csr_matrix((np.arange(1, order.nnz + 1, dtype=float), self._indices, self._indptr), shape=(n, n))
        transposed = position.T.tocsr()
        transposed.sort_indices()
        if not (np.array_equal(transposed.indices, self._indices) and np.array_equal(transposed.indptr, self._indptr)):
            raise RuntimeError("two-point sparsity pattern is not symmetric")
        self._scatter_csc = self._scatter[transposed.data.astype(np.int64) - 1]
        self._band: _BandOrder | None = None  # built on the first factorized() call

    def assemble(
        self,
        owner_coefficient: np.ndarray | float,
        neighbour_coefficient: np.ndarray | float | None = None,
        diagonal: np.ndarray | float = 0.0,
        dirichlet_coefficient: np.ndarray | float | None = None,
        format: str = "csr",
    ):
        """Matrix of the net r-weighted outflow of every cell plus a diagonal, shape (n_cells, n_cells).

        Row i of ``K u`` is ``diagonal_i u_i + Σ_f r_f T_f (a_f u_i − b_f u_j)``
        over the interior faces of cell i (a, b as seen from cell i) plus
        ``Σ_f r_f T_f c_f u_i`` over its Dirichlet faces.

        Parameters
        ----------
        owner_coefficient
            a_f on every face, shape (n_faces,) or scalar: the coefficient of
            the owner value ``face_cells[:, 0]`` in the flux out of the owner.
        neighbour_coefficient
            b_f, the coefficient of the neighbour value; default a_f (diffusion).
        diagonal
            Extra diagonal per cell, shape (n_cells,) or scalar (e.g. the
            transient term r_c A/Δt).
        dirichlet_coefficient
            c_f on Dirichlet faces; default a_f.
        format
            ``"csr"`` or ``"csc"`` (what SuperLU factorises: built directly,
            without a conversion).

        Returns
        -------
        scipy.sparse.csr_matrix or scipy.sparse.csc_matrix

        Raises
        ------
        ValueError
            Unknown ``format``.
        """
        from scipy import sparse

        if format not in ("csr", "csc"):
            raise ValueError(f"format must be 'csr' or 'csc', got {format!r}")
        n = self.mesh.n_cells
        diag, in_owner, out_owner = self._entries(owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient)
        scatter, kind = (self._scatter, sparse.csr_matrix) if format == "csr" else (self._scatter_csc, sparse.csc_matrix)
        data = np.concatenate([diag, -in_owner, -out_owner])[scatter]
        return kind((data, self._indices, self._indptr), shape=(n, n))

    def _entries(self, owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient):
        """(diagonal, flux out of the owner per unit neighbour value, per unit owner value) of every cell / interior face."""
        n_faces, n = len(self.mesh.faces), self.mesh.n_cells
        a = np.broadcast_to(np.asarray(owner_coefficient, dtype=float), (n_faces,))
        b = a if neighbour_coefficient is None else np.broadcast_to(np.asarray(neighbour_coefficient, dtype=float), (n_faces,))
        c = a if dirichlet_coefficient is None else np.broadcast_to(np.asarray(dirichlet_coefficient, dtype=float), (n_faces,))
        weight = self.face_weight
        interior, faces = self._interior, self._dirichlet_faces
        out_owner = weight[interior] * a[interior]  # flux out of the owner per unit owner value
        in_owner = weight[interior] * b[interior]  # flux out of the owner per unit neighbour value
        diag = np.bincount(self._owner_i, weights=out_owner, minlength=n)
        diag += np.bincount(self._neighbour_i, weights=in_owner, minlength=n)
        diag += np.bincount(self._owner_d, weights=weight[faces] * c[faces], minlength=n)
        diag += np.broadcast_to(np.asarray(diagonal, dtype=float), (n,))
        return diag, in_owner, out_owner

    def factorized(
        self,
        owner_coefficient: np.ndarray | float,
        neighbour_coefficient: np.ndarray | float | None = None,
        diagonal: np.ndarray | float = 0.0,
        dirichlet_coefficient: np.ndarray | float | None = None,
    ):
        """Factors of ``assemble(owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient)``, as a solver.

        The unknowns are taken in the reverse Cuthill–McKee order of the mesh
        (:func:`scipy.sparse.csgraph.reverse_cuthill_mckee`, computed once per
        operator): on a layered thin-film mesh the matrix is then banded, a
        few cells across the thickest layer, and LAPACK's banded
        factorisations beat SuperLU's general sparse LU (tests/benchmarks,
        README):

        * diffusion (no ``neighbour_coefficient``; symmetric, and positive
          definite with a Dirichlet face or a positive diagonal in every
          connected part): banded Cholesky (``dpbtrf``, through
          :func:`scipy.linalg.cholesky_banded`) for bands up to
          :data:`BANDED_CHOLESKY_MAX_BANDWIDTH` cells;
        * drift–diffusion (Scharfetter–Gummel, not symmetric): banded LU
          with partial pivoting (``dgbtrf``) for bands up to
          :data:`BANDED_LU_MAX_BANDWIDTH` cells.

        Wider bands, and a symmetric matrix that is not positive definite, go
        to SuperLU (:func:`factorized`).

        Parameters
        ----------
        owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient
            As in :meth:`assemble`.

        Returns
        -------
        callable
            ``solve(rhs)`` for rhs of shape (n_cells,) or (n_cells, k), returning the same shape.

        Raises
        ------
        ValueError
            If the matrix is singular (SuperLU's verdict, or a zero pivot of the banded LU).
        """
        from scipy import linalg
        from scipy.linalg import lapack

        symmetric = neighbour_coefficient is None
        band = self._band_order()
        if band.width <= (BANDED_CHOLESKY_MAX_BANDWIDTH if symmetric else BANDED_LU_MAX_BANDWIDTH):
            diag, in_owner, out_owner = self._entries(owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient)
            if symmetric:
                lower, flat, (at_diagonal, at_face, _) = band.storage(lower_only=True)
                flat[at_diagonal] = diag
                flat[at_face] = -out_owner
                try:
                    factor = linalg.cholesky_banded(lower, lower=True, overwrite_ab=True, check_finite=False)
                except linalg.LinAlgError:  # not positive definite: SuperLU decides (solves it, or calls it singular)
                    factor = None
                if factor is not None:
                    return band.in_cell_order(lambda rhs: linalg.cho_solve_banded((factor, True), rhs, check_finite=False))
            else:
                general, flat, (at_diagonal, at_owner_row, at_neighbour_row) = band.storage(lower_only=False)
                flat[at_diagonal] = diag
                flat[at_owner_row] = -in_owner  # row owner, column neighbour
                flat[at_neighbour_row] = -out_owner  # row neighbour, column owner
                factors, pivots, info = lapack.dgbtrf(general, band.width, band.width, overwrite_ab=True)
                if info > 0:
                    raise ValueError(f"singular two-point system: zero pivot in banded LU at unknown {info - 1}")
                return band.in_cell_order(lambda rhs: lapack.dgbtrs(factors, band.width, band.width, rhs, pivots)[0])
        return factorized(
            self.assemble(owner_coefficient, neighbour_coefficient, diagonal, dirichlet_coefficient, format="csc")
        )

    def _band_order(self) -> _BandOrder:
        """The reverse Cuthill–McKee order of the cells (computed on the first call)."""
        if self._band is None:
            from scipy import sparse
            from scipy.sparse.csgraph import reverse_cuthill_mckee

            n = self.mesh.n_cells
            pattern = sparse.csr_matrix((np.ones(len(self._indices)), self._indices, self._indptr), shape=(n, n))
            order = reverse_cuthill_mckee(pattern, symmetric_mode=True).astype(np.int64)
            self._band = _BandOrder(order, self._owner_i, self._neighbour_i)
        return self._band

    def dirichlet_rhs(self, boundary_values: np.ndarray | float, coefficient: np.ndarray | float) -> np.ndarray:
        """Right-hand side Σ_f r_f T_f c_f u_b of the Dirichlet faces of each cell, shape (n_cells,).

        Parameters
        ----------
        boundary_values
            u_b on every face, shape (n_faces,) or scalar (read on Dirichlet faces only).
        coefficient
            c_f, shape (n_faces,) or scalar.
        """
        n_faces = len(self.mesh.faces)
        faces = self._dirichlet_faces
        values = np.broadcast_to(np.asarray(boundary_values, dtype=float), (n_faces,))[faces]
        c = np.broadcast_to(np.asarray(coefficient, dtype=float), (n_faces,))[faces]
        return np.bincount(self._owner_d, weights=self.face_weight[faces] * c * values, minlength=self.mesh.n_cells)


def factorized(matrix):
    """LU factors of a two-point finite-volume matrix, as a solver to call on right-hand sides.

    SuperLU with the ``MMD_AT_PLUS_A`` ordering, as :func:`solve_sparse`.

    Parameters
    ----------
    matrix
        Sparse matrix, shape (n, n).

    Returns
    -------
    callable
        ``solve(rhs)`` for rhs of shape (n,) or (n, k), returning the same shape.

    Raises
    ------
    ValueError
        If the matrix is singular.
    """
    from scipy import sparse
    from scipy.sparse.linalg import splu

    try:
        return splu(sparse.csc_matrix(matrix), permc_spec="MMD_AT_PLUS_A").solve
    except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
        raise ValueError(f"singular two-point system: {error}") from None


def solve_sparse(
    matrix, rhs: np.ndarray, method: str = "direct", tolerance: float = 1e-12, refinement_steps: int = 0
) -> np.ndarray:
    """Solve ``matrix x = rhs`` for a two-point finite-volume system.

    Parameters
    ----------
    matrix
        Sparse matrix, shape (n, n) (e.g. from :meth:`TwoPointOperator.assemble`).
    rhs
        Right-hand side, shape (n,), or k right-hand sides, shape (n, k)
        (``"direct"`` only; one factorisation for all).
    method
        ``"direct"``: SuperLU with the minimum-degree ordering of AᵀA + A
        (``MMD_AT_PLUS_A``), the fastest of SuperLU's orderings on femion's
        layered meshes (tests/benchmarks). ``"amg"``: conjugate gradients
        preconditioned by classical (Ruge–Stüben) algebraic multigrid from
        pyamg, on the symmetrically diagonal-scaled system; for symmetric
        positive definite matrices only (diffusion, potential, heat).
    tolerance
        Relative residual of the ``"amg"`` iteration.
    refinement_steps
        ``"direct"`` only: steps of iterative refinement x ← x + LU⁻¹(b − A x)
        with the same factorisation (a triangular solve each; Higham,
        *Accuracy and Stability of Numerical Algorithms*, 2nd ed., ch. 12).

    Returns
    -------
    ndarray, shape of ``rhs``

    Raises
    ------
    ValueError
        Unknown method, shape mismatch, or a singular matrix.
    ImportError
        ``"amg"`` without pyamg installed (``pip install pyamg``).
    ArithmeticError
        If the multigrid iteration does not reach ``tolerance`` in 200 cycles.
    """
    from scipy import sparse

    rhs = np.asarray(rhs, dtype=float)
    if rhs.ndim not in (1, 2) or matrix.shape != (len(rhs), len(rhs)):
        raise ValueError(f"matrix of shape {matrix.shape} does not match a right-hand side of length {len(rhs)}")
    if method == "direct":
        solve = factorized(matrix)
        solution = solve(rhs)
        for _ in range(refinement_steps):
            solution = solution + solve(rhs - matrix @ solution)
        return solution
    if method == "amg":
        if rhs.ndim != 1:
            raise ValueError("the 'amg' method takes one right-hand side, shape (n,)")
        import pyamg

        scale = 1.0 / np.sqrt(matrix.diagonal())
        scaling = sparse.diags(scale)
        scaled = sparse.csr_matrix(scaling @ matrix @ scaling)
        residuals: list[float] = []
        solution = pyamg.ruge_stuben_solver(scaled).solve(
            scale * rhs, tol=tolerance, accel="cg", maxiter=200, residuals=residuals
        )
        if residuals and residuals[-1] > tolerance * max(residuals[0], 1e-300):
            raise ArithmeticError(f"AMG-CG did not converge: relative residual {residuals[-1] / residuals[0]:.2g}")
        return scale * solution
    raise ValueError(f"unknown method {method!r}; use 'direct' or 'amg'")
