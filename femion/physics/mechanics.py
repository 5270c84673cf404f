"""Axisymmetric small-strain mechanics: intercalation stress, electrode plasticity.

Equations (quasi-static, small strain, per radian, SI)
------------------------------------------------------
Unknown displacement u = (u_r, u_z) [m] on the (r, z) half-plane. Strains

    ε_rr = ∂u_r/∂r,  ε_zz = ∂u_z/∂z,  ε_θθ = u_r/r,  ε_rz = ½(∂u_r/∂z + ∂u_z/∂r),

equilibrium ∇·σ = 0 in weak form ∫ σ : ε(v) r dr dz = ∫_Γ t·v r ds (the r
weight of the axisymmetric volume, per radian), with

    σ = C : (ε − ε* − εᵖ),    C isotropic (E, ν per layer from the materials database).

Chemical eigenstrain (Vegard's law): ε* = (Ω/3)(c − c_ref) 1 in
every Li host, Ω = ``li_partial_molar_volume`` (WO3, MoO3: "assumed", 2 cm³/mol,
design range 1–3 cm³/mol, LixWO3 expands by a few % over the usable x range),
c = ``c_li`` and c_ref the stress-free Li content (the as-deposited,
no-bias equilibrium at the start of the run). **LiPON has no Vegard strain
(Ω = 0, a femion decision, flagged):** LiPON is a single-ion conductor whose
Li⁺ is charge-balanced by a fixed glass network; its bulk Li content cannot
change without violating electroneutrality (only nm-thick space-charge layers
do), so Li "flowing through" it carries no volume change. Other layers
(electrodes, substrate) have no eigenstrain.

Top electrode: J2 plasticity with linear isotropic hardening (yield_stress,
hardening_modulus from the database; :mod:`femion.physics.plasticity`); every
other layer is linear elastic.

Boundary conditions: u_r = 0 on the axis (symmetry); the bottom of the substrate
slab is held in z (roller). Axisymmetry already excludes rigid radial
translation (a uniform u_r would strain ε_θθ = u_r/r), so no further
constraint in r is needed: the stack may contract or expand radially. Top,
outer and electrode-side surfaces are traction free.

Discretisation
--------------
Bilinear (Q1) finite elements on ``AxisymmetricMesh.skfem`` (same nodes and cells
in the same order as the FiPy transport mesh) with 2×2 Gauss points; scikit-fem
provides the element basis, its gradients and the quadrature, femion assembles
B-matrices with numpy. Against volumetric locking of near-incompressible
plastic flow in axisymmetric Q1 elements, the dilatation is replaced by its
(r-weighted) cell mean: the mean-dilatation B-bar method of Hughes, Int. J.
Numer. Methods Eng. 15, 1413 (1980) (as MOOSE's RZ strain calculators
recommend). With εᵖ history at Gauss points, each load step is
solved by Newton's method with the consistent tangent (quadratic convergence);
while no point yields the problem is linear and the factorised elastic
stiffness is reused. The tangent differs from the elastic stiffness only on
the dofs of the plastic region, so it is solved with that same elastic LU and
an exact low-rank (Woodbury) correction on those dofs instead of a new
sparse factorisation per Newton iteration (:meth:`AxisymmetricSolid._solve_linear`).

Cell fields move to Gauss points by injection (cell values are constant on a
cell, exact) and back by the r-weighted cell mean ∫ f r dA / ∫ r dA (exact
for the Q1 interpolant of nodal values and for Gauss-point data, with the same
quadrature), see :func:`cell_to_quadrature`, :meth:`AxisymmetricSolid.quadrature_to_cell`,
:meth:`AxisymmetricSolid.nodal_to_cell`.

The coupled-loop module is :class:`MechanicsModule` (below);
porosity (Rice–Tracey) and the blister strain in :mod:`femion.physics.porosity`;
thin-film damage of the electrode (channel cracks, necking) and which interface
debonds, with the blister radius, in :mod:`femion.physics.thinfilm`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import numpy as np
import scipy.sparse as sparse
import scipy.sparse.linalg as sparse_linalg

from femion.config import Device
from femion.mesh import AxisymmetricMesh
from femion.physics.plasticity import IDENTITY, SQRT2, elastic_tangent, j2_return_mapping, mean_stress, von_mises

__all__ = [
    "AxisymmetricSolid",
    "LithiumHistoryRecorder",
    "MechanicalProperties",
    "MechanicsError",
    "MechanicsModule",
    "MechanicsSettings",
    "MechanicsSolution",
    "PlasticHistory",
    "cell_to_quadrature",
    "mechanical_properties",
    "radial_profile",
    "rectangle_mesh",
    "run_mechanics_on_history",
    "vegard_eigenstrain",
]

N_QP = 4
"""Gauss points per quadrilateral (2×2)."""

WOODBURY_MAX_DOFS = 4000
"""Largest number of free dofs of the plastic cells for which :class:`AxisymmetricSolid` keeps
their dense elastic flexibility (memory 8 n² bytes: 128 MB at the limit) and solves plastic
tangents by the Woodbury correction; above it every plastic tangent is factorised."""

WOODBURY_MAX_RANK = 1000
"""Largest number of dofs touched by yielding points for which a plastic tangent is solved by the
Woodbury correction (a dense product and LU of that size: 35–80 ms measured on one core, idle to
loaded machine, about one sparse factorisation of the default-mesh tangent, 55–110 ms); above it
the tangent is factorised."""

WOODBURY_CHUNK = 32
"""The elastic flexibility of the plastic dofs is computed in fixed chunks of this many columns,
each when a yielding point first touches one of its dofs (one elastic solve with that many
right-hand sides; in a −2 V sweep on the default mesh 13 of the 26 chunks are ever needed). Fixed
chunks make every column the same array whenever and in whatever order it is computed."""

DEFAULT_CONSTRAINTS: Mapping[str, str] = {"axis": "r", "substrate_bottom": "z"}
"""Default displacement constraints: boundary name -> fixed components ("r", "z" or "rz"), all to zero."""


class MechanicsError(ArithmeticError):
    """The mechanics solve failed (Newton did not converge, singular stiffness)."""


@dataclass(frozen=True, eq=False)
class MechanicalProperties:
    """Cell-wise mechanical parameters, shape (n_cells,) each.

    Attributes
    ----------
    youngs_modulus, poisson_ratio : ndarray
        E [Pa], ν [1].
    yield_stress : ndarray
        Initial yield stress σ_y [Pa]; ``inf`` in elastic cells.
    hardening : ndarray
        Linear isotropic hardening modulus H [Pa] (0 in elastic cells).
    partial_molar_volume : ndarray
        Ω [m³/mol] of Li (0 where Li causes no eigenstrain).
    """

    youngs_modulus: np.ndarray
    poisson_ratio: np.ndarray
    yield_stress: np.ndarray
    hardening: np.ndarray
    partial_molar_volume: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.youngs_modulus)
        for name in ("poisson_ratio", "yield_stress", "hardening", "partial_molar_volume"):
            if np.shape(getattr(self, name)) != (n,):
                raise ValueError(f"MechanicalProperties.{name} must have shape ({n},)")
        if not np.all(self.youngs_modulus > 0.0) or not np.all((self.poisson_ratio > -1.0) & (self.poisson_ratio < 0.5)):
            raise ValueError("Young's modulus must be positive and Poisson's ratio in (-1, 0.5)")
        if np.any(self.yield_stress <= 0.0) or np.any(self.hardening < 0.0):
            raise ValueError("yield stress must be positive (inf for elastic) and hardening non-negative")

    @property
    def bulk(self) -> np.ndarray:
        """K = E / (3(1 − 2ν)) [Pa]."""
        return self.youngs_modulus / (3.0 * (1.0 - 2.0 * self.poisson_ratio))

    @property
    def shear(self) -> np.ndarray:
        """G = E / (2(1 + ν)) [Pa]."""
        return self.youngs_modulus / (2.0 * (1.0 + self.poisson_ratio))

    @property
    def plastic(self) -> np.ndarray:
        """Cells that can yield, shape (n_cells,)."""
        return np.isfinite(self.yield_stress)

    @classmethod
    def uniform(
        cls,
        n_cells: int,
        youngs_modulus: float,
        poisson_ratio: float,
        yield_stress: float = np.inf,
        hardening: float = 0.0,
        partial_molar_volume: float = 0.0,
    ) -> MechanicalProperties:
        """The same material in every cell (verification problems)."""
        full = lambda value: np.full(n_cells, float(value))  # noqa: E731
        return cls(full(youngs_modulus), full(poisson_ratio), full(yield_stress), full(hardening), full(partial_molar_volume))


def mechanical_properties(mesh: AxisymmetricMesh, device: Device, plastic_regions: tuple[str, ...] | None = None) -> MechanicalProperties:
    """Cell-wise mechanical parameters of a device mesh from the materials database.

    Parameters
    ----------
    mesh
        Full device mesh (regions named after the device layers and ``substrate``).
    device
        The device.
    plastic_regions
        Regions with J2 plasticity (default: the top electrode).

    Returns
    -------
    MechanicalProperties

    Raises
    ------
    femion.MaterialError
        If a layer lacks ``youngs_modulus``/``poisson_ratio``, or a plastic
        region lacks ``yield_stress``/``hardening_modulus``.
    KeyError
        If a plastic region is not a region of the mesh.
    """
    plastic_regions = (device.top_electrode.name,) if plastic_regions is None else tuple(plastic_regions)
    for name in plastic_regions:
        mesh.region_mask(name)  # raises KeyError naming the region
    values = {key: [] for key in ("E", "nu", "sy", "H", "omega")}
    for region in mesh.region_names:
        material = device.material(region)
        values["E"].append(material.value("youngs_modulus"))
        values["nu"].append(material.value("poisson_ratio"))
        plastic = region in plastic_regions
        values["sy"].append(material.value("yield_stress") if plastic else np.inf)
        values["H"].append(material.value("hardening_modulus") if plastic else 0.0)
        # Vegard strain only in Li hosts; LiPON (electrolyte) is excluded on purpose (module docstring).
        host = material.kind == "host" and "li_partial_molar_volume" in material
        values["omega"].append(material.value("li_partial_molar_volume") if host else 0.0)
    index = mesh.cell_regions
    return MechanicalProperties(*(np.asarray(values[key], dtype=float)[index] for key in ("E", "nu", "sy", "H", "omega")))


def vegard_eigenstrain(concentration: np.ndarray, reference: np.ndarray, partial_molar_volume: np.ndarray) -> np.ndarray:
    """Isotropic Vegard eigenstrain ε* = (Ω/3)(c − c_ref) per cell [1], shape (n_cells,).

    Parameters
    ----------
    concentration, reference : ndarray, shape (n_cells,)
        Li content c and stress-free content c_ref [mol/m³].
    partial_molar_volume : ndarray, shape (n_cells,)
        Ω [m³/mol].

    Raises
    ------
    ValueError
        On mismatched shapes or non-finite values.
    """
    c, c0, omega = (np.asarray(x, dtype=float) for x in (concentration, reference, partial_molar_volume))
    if not (c.shape == c0.shape == omega.shape) or c.ndim != 1:
        raise ValueError(f"concentration, reference and Ω must share a shape (n_cells,): {c.shape}, {c0.shape}, {omega.shape}")
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(c0))):
        raise ValueError("Li concentrations must be finite")
    return omega / 3.0 * (c - c0)


def cell_to_quadrature(values: np.ndarray) -> np.ndarray:
    """Cell field → Gauss points (injection; exact for piecewise-constant fields), shape (n_cells, 4)."""
    values = np.asarray(values, dtype=float)
    return np.repeat(values[:, None, ...], N_QP, axis=1)


@dataclass
class PlasticHistory:
    """Plastic history at the Gauss points.

    Attributes
    ----------
    plastic_strain : ndarray, shape (n_cells, 4, 4)
        εᵖ in Mandel form (rr, zz, θθ, √2 rz) per cell and Gauss point [1].
    equivalent_plastic_strain : ndarray, shape (n_cells, 4)
        α [1].
    """

    plastic_strain: np.ndarray
    equivalent_plastic_strain: np.ndarray

    @classmethod
    def zeros(cls, n_cells: int) -> PlasticHistory:
        """Virgin material."""
        return cls(np.zeros((n_cells, N_QP, 4)), np.zeros((n_cells, N_QP)))

    def copy(self) -> PlasticHistory:
        """A deep copy."""
        return PlasticHistory(self.plastic_strain.copy(), self.equivalent_plastic_strain.copy())


@dataclass
class MechanicsSolution:
    """Equilibrium state after one load step.

    Attributes
    ----------
    displacement : ndarray, shape (n_nodes, 2)
        Nodal (u_r, u_z) [m].
    strain, stress : ndarray, shape (n_cells, 4, 4)
        Total (B-bar) strain [1] and stress [Pa] at Gauss points, Mandel form.
    history : PlasticHistory
        Updated plastic history.
    increment : ndarray, shape (n_cells, 4)
        Δα of this step [1].
    residuals : list of float
        Relative residual norm after each Newton iteration (convergence report).
    iterations : int
        Newton iterations (linear solves) used.
    converged : bool
        Residual below tolerance.
    """

    displacement: np.ndarray
    strain: np.ndarray
    stress: np.ndarray
    history: PlasticHistory
    increment: np.ndarray
    residuals: list[float] = field(default_factory=list)
    iterations: int = 0
    converged: bool = True

    @property
    def von_mises(self) -> np.ndarray:
        """σ_vm [Pa] at Gauss points, shape (n_cells, 4)."""
        return von_mises(self.stress)

    @property
    def mean_stress(self) -> np.ndarray:
        """σ_m [Pa] at Gauss points, shape (n_cells, 4)."""
        return mean_stress(self.stress)


class AxisymmetricSolid:
    """Q1 B-bar finite elements for axisymmetric elasto-plasticity on an :class:`AxisymmetricMesh`.

    Parameters
    ----------
    mesh
        The mesh (its scikit-fem view supplies basis and quadrature).
    properties
        Cell-wise parameters.
    constraints
        Boundary name → fixed displacement components (``"r"``, ``"z"`` or
        ``"rz"``), all held at zero. Default: u_r = 0 on ``axis``, u_z = 0 on
        ``substrate_bottom``.
    bbar
        Use the mean-dilatation B-bar strain (default True).
    reuse_factorisation
        Solve plastic tangents with the elastic LU and the Woodbury
        correction on the plastic dofs (default True; see
        :meth:`_solve_linear`); False factorises every plastic tangent. Both
        give the same Newton steps to round-off.

    Raises
    ------
    KeyError
        If a constrained boundary is not a boundary of the mesh.
    ValueError
        On an unknown component code or property arrays of the wrong length.
    """

    def __init__(
        self,
        mesh: AxisymmetricMesh,
        properties: MechanicalProperties,
        constraints: Mapping[str, str] = DEFAULT_CONSTRAINTS,
        bbar: bool = True,
        reuse_factorisation: bool = True,
    ):
        from skfem import CellBasis, ElementQuad1

        if len(properties.youngs_modulus) != mesh.n_cells:
            raise ValueError(f"properties have {len(properties.youngs_modulus)} cells, the mesh {mesh.n_cells}")
        self.mesh = mesh
        self.properties = properties
        basis = CellBasis(mesh.skfem, ElementQuad1(), intorder=2)
        if basis.dx.shape[1] != N_QP or not np.array_equal(basis.element_dofs, mesh.cells.T):
            raise RuntimeError("scikit-fem basis does not match the mesh cells (node order or quadrature)")
        shape = np.stack([b[0].value for b in basis.basis], axis=-1)  # (n_cells, 4 qp, 4 nodes)
        d_dr = np.stack([b[0].grad[0] for b in basis.basis], axis=-1)
        d_dz = np.stack([b[0].grad[1] for b in basis.basis], axis=-1)
        self.points = np.moveaxis(basis.global_coordinates().value, 0, -1)  # (n_cells, 4, 2)
        radius = self.points[..., 0]
        if np.any(radius <= 0.0):
            raise ValueError("Gauss points at r <= 0: the mesh must lie in r >= 0")
        self.shape_functions = shape
        self.weights = basis.dx * radius  # r dA per Gauss point [m³ per radian]
        self.cell_weights = self.weights.sum(axis=1)
        n_cells = mesh.n_cells
        b_matrix = np.zeros((n_cells, N_QP, 4, 8))
        b_matrix[..., 0, 0::2] = d_dr
        b_matrix[..., 1, 1::2] = d_dz
        b_matrix[..., 2, 0::2] = shape / radius[..., None]
        b_matrix[..., 3, 0::2] = d_dz / SQRT2
        b_matrix[..., 3, 1::2] = d_dr / SQRT2
        if bbar:
            volumetric = b_matrix[..., 0, :] + b_matrix[..., 1, :] + b_matrix[..., 2, :]  # (n_cells, qp, 8)
            mean = np.einsum("cq,cqa->ca", self.weights, volumetric) / self.cell_weights[:, None]
            b_matrix = b_matrix + (IDENTITY[None, None, :, None] / 3.0) * (mean[:, None, None, :] - volumetric[:, :, None, :])
        self.b_matrix = b_matrix
        self.bbar = bbar
        self.element_dofs = np.empty((n_cells, 8), dtype=np.int64)
        self.element_dofs[:, 0::2] = 2 * mesh.cells
        self.element_dofs[:, 1::2] = 2 * mesh.cells + 1
        self.n_dofs = 2 * mesh.n_nodes
        # B̄ as one sparse operator, Gauss-point Mandel strains (n_cells·4·4) ← nodal dofs: strain and
        # internal force become one sparse product each instead of dense per-cell contractions.
        rows = np.broadcast_to(np.arange(n_cells * N_QP * 4).reshape(n_cells, N_QP, 4, 1), b_matrix.shape)
        columns = np.broadcast_to(self.element_dofs[:, None, None, :], b_matrix.shape)
        operator = sparse.csr_matrix((b_matrix.ravel(), (rows.ravel(), columns.ravel())), shape=(n_cells * N_QP * 4, self.n_dofs))
        operator.eliminate_zeros()
        self._b_operator, self._b_operator_t = operator, operator.T.tocsr()
        self._rows = np.repeat(self.element_dofs, 8, axis=1).ravel()
        self._cols = np.tile(self.element_dofs, (1, 8)).ravel()
        fixed = np.zeros(self.n_dofs, dtype=bool)
        for name, components in constraints.items():
            if set(components) - {"r", "z"} or not components:
                raise ValueError(f"constraint {name!r}: components must be 'r', 'z' or 'rz', got {components!r}")
            if name not in mesh.boundaries:
                raise KeyError(f"mesh has no boundary {name!r} to constrain; boundaries: {', '.join(sorted(mesh.boundaries))}")
            nodes = np.unique(mesh.boundaries[name])
            for component in components:
                fixed[2 * nodes + (0 if component == "r" else 1)] = True
        self.fixed = fixed
        self.free = np.flatnonzero(~fixed)
        self.bulk = cell_to_quadrature(properties.bulk)
        self.shear = cell_to_quadrature(properties.shear)
        self.yield_stress = cell_to_quadrature(properties.yield_stress)
        self.hardening = cell_to_quadrature(properties.hardening)
        self.elastic = elastic_tangent(self.bulk, self.shear)  # (n_cells, qp, 4, 4)
        self._lame = self.bulk - 2.0 * self.shear / 3.0  # λ at the Gauss points [Pa]
        self._plastic_points = np.flatnonzero(np.isfinite(self.yield_stress.ravel()))  # flat (cell, qp) indices
        self._elastic_lu = self._elastic_reduced = None
        self.reuse_factorisation = reuse_factorisation
        # free dofs of the cells with a yield stress: the only rows and columns a plastic correction touches
        plastic_cells = np.flatnonzero(np.isfinite(properties.yield_stress))
        position = np.full(self.n_dofs, -1, dtype=np.int64)
        position[self.free] = np.arange(self.free.size)
        plastic_dofs = position[np.unique(self.element_dofs[plastic_cells])]
        self._plastic_dofs = plastic_dofs[plastic_dofs >= 0]  # positions in the free numbering, sorted
        self._plastic_position = np.full(self.free.size, -1, dtype=np.int64)
        self._plastic_position[self._plastic_dofs] = np.arange(self._plastic_dofs.size)
        self._flexibility = self._flexibility_chunks = None

    # ------------------------------------------------------------- transfers
    def quadrature_to_cell(self, values: np.ndarray) -> np.ndarray:
        """Gauss-point data (n_cells, 4, ...) → r-weighted cell means ∫ f r dA / ∫ r dA, shape (n_cells, ...)."""
        values = np.asarray(values, dtype=float)
        return np.einsum("cq,cq...->c...", self.weights, values) / self.cell_weights.reshape((-1,) + (1,) * (values.ndim - 2))

    def nodal_to_quadrature(self, values: np.ndarray) -> np.ndarray:
        """Nodal field (n_nodes, ...) → values of its Q1 interpolant at the Gauss points, shape (n_cells, 4, ...)."""
        values = np.asarray(values, dtype=float)
        return np.einsum("cqa,ca...->cq...", self.shape_functions, values[self.mesh.cells])

    def nodal_to_cell(self, values: np.ndarray) -> np.ndarray:
        """Nodal field (n_nodes, ...) → r-weighted cell means of its Q1 interpolant, shape (n_cells, ...)."""
        return self.quadrature_to_cell(self.nodal_to_quadrature(values))

    def mean_dilatation(self, tensor: np.ndarray) -> np.ndarray:
        """Gauss-point Mandel tensors (n_cells, 4, 4) with their trace replaced by its r-weighted cell mean.

        The B-bar strain has a cell-constant dilatation; an eigenstrain whose
        trace varies inside a cell (the blister's bending strain) must be
        projected the same way, or the Gauss-point pressure oscillates by
        K Δtr ε* about the cell mean (Hughes 1980: the projection applies to
        every strain measure entering the volumetric response).
        """
        tensor = np.asarray(tensor, dtype=float)
        trace = tensor[..., :3].sum(axis=-1)
        mean = np.einsum("cq,cq->c", self.weights, trace) / self.cell_weights
        return tensor + ((mean[:, None] - trace) / 3.0)[..., None] * IDENTITY

    # ------------------------------------------------------------ operators
    def strain(self, displacement: np.ndarray) -> np.ndarray:
        """B-bar strain (Mandel) at Gauss points from nodal displacements (n_nodes, 2), shape (n_cells, 4, 4)."""
        return (self._b_operator @ np.asarray(displacement, dtype=float).ravel()).reshape(self.mesh.n_cells, N_QP, 4)

    def internal_force(self, stress: np.ndarray) -> np.ndarray:
        """∫ B̄ᵀσ r dA per degree of freedom [N per radian], shape (2 n_nodes,)."""
        return self._b_operator_t @ (np.asarray(stress, dtype=float) * self.weights[..., None]).ravel()

    def elastic_stress(self, elastic_strain: np.ndarray) -> np.ndarray:
        """σ = C : εᵉ = λ tr(εᵉ) 1 + 2G εᵉ (isotropic Hooke, Mandel) [Pa], shape (n_cells, 4, 4).

        ``elastic_strain`` is ε − ε* − εᵖ at the Gauss points, shape (n_cells, 4, 4) [1].
        """
        elastic_strain = np.asarray(elastic_strain, dtype=float)
        trace = elastic_strain[..., :3].sum(axis=-1)
        return 2.0 * self.shear[..., None] * elastic_strain + (self._lame * trace)[..., None] * IDENTITY

    def stiffness(self, tangent: np.ndarray) -> sparse.csr_matrix:
        """∫ B̄ᵀ D B̄ r dA assembled, shape (2 n_nodes, 2 n_nodes) [N/m per radian]."""
        element = np.einsum("cqia,cqij,cqjb,cq->cab", self.b_matrix, tangent, self.b_matrix, self.weights, optimize=True)
        return sparse.csr_matrix((element.ravel(), (self._rows, self._cols)), shape=(self.n_dofs, self.n_dofs))

    def traction_load(self, boundary: str, traction: Callable[[np.ndarray, np.ndarray], tuple]) -> np.ndarray:
        """Consistent nodal forces ∫_Γ t·v r ds of a traction on a named boundary [N per radian].

        Parameters
        ----------
        boundary
            Boundary group name.
        traction
            Vectorised (r, z) -> (t_r, t_z) [Pa].

        Returns
        -------
        ndarray, shape (2 n_nodes,)

        Raises
        ------
        KeyError
            If the boundary does not exist.
        """
        if boundary not in self.mesh.boundaries:
            raise KeyError(f"mesh has no boundary {boundary!r}")
        edges = self.mesh.boundaries[boundary]
        ends = self.mesh.nodes[edges]  # (n_edges, 2 nodes, 2)
        length = np.linalg.norm(ends[:, 1] - ends[:, 0], axis=1)
        load = np.zeros(self.n_dofs)
        for xi in (0.5 - 0.5 / np.sqrt(3.0), 0.5 + 0.5 / np.sqrt(3.0)):
            point = (1.0 - xi) * ends[:, 0] + xi * ends[:, 1]
            t_r, t_z = (np.broadcast_to(np.asarray(t, dtype=float), (len(edges),)) for t in traction(point[:, 0], point[:, 1]))
            weight = 0.5 * length * point[:, 0]
            for node, shape in ((0, 1.0 - xi), (1, xi)):
                np.add.at(load, 2 * edges[:, node], shape * weight * t_r)
                np.add.at(load, 2 * edges[:, node] + 1, shape * weight * t_z)
        return load

    def _elastic_factors(self):
        """The reduced elastic stiffness K_e (free dofs, CSC) and its LU, built once per solid.

        Raises
        ------
        MechanicsError
            If K_e is singular (missing constraints).
        """
        if self._elastic_lu is None:
            free = self.free
            self._elastic_reduced = self.stiffness(self.elastic)[free][:, free].tocsc()
            self._elastic_lu = _factorise(self._elastic_reduced)
        return self._elastic_reduced, self._elastic_lu

    def _plastic_correction(self, mapped) -> sparse.csr_matrix:
        """Σ_y B̄_yᵀ w_y (D_y − C_y) B̄_y over the yielding Gauss points y on the free dofs, shape (n_free, n_free) [N/m per radian].

        D_y is the consistent tangent of the radial return (``mapped``, a
        :class:`femion.physics.plasticity.ReturnMapping` of the plastic
        points), C_y the elastic one, w_y = r dA. Only the rows of B̄ at the
        yielding points enter (no element loop over the whole mesh); its
        non-zero rows and columns are dofs of yielding cells.
        """
        yielding = np.flatnonzero(mapped.yielding)
        points = self._plastic_points[yielding]
        weights = self.weights.reshape(-1)[points]
        correction = (mapped.tangent[yielding] - self.elastic.reshape(-1, 4, 4)[points]) * weights[:, None, None]
        rows = (4 * points[:, None] + np.arange(4)).ravel()
        b_yield = self._b_operator[rows][:, self.free]
        blocks = sparse.bsr_matrix((correction, np.arange(len(points)), np.arange(len(points) + 1)), shape=(rows.size, rows.size))
        return (b_yield.T @ (blocks @ b_yield)).tocsr()

    def _plastic_tangent(self, mapped) -> sparse.csc_matrix:
        """The consistent tangent on the free dofs, K = K_e + Σ_y B̄_yᵀ w_y (D_y − C_y) B̄_y (CSC).

        The tangent differs from the elastic stiffness only at the yielding
        Gauss points, so it is the cached reduced K_e plus the sparse
        correction of :meth:`_plastic_correction`.
        """
        reduced, _ = self._elastic_factors()
        return (reduced + self._plastic_correction(mapped)).tocsc()

    def _plastic_flexibility(self, where: np.ndarray) -> np.ndarray:
        """G_YY: entries of the elastic flexibility G = P K_e⁻¹ Pᵀ between plastic dofs, shape (n, n) [m/N per radian].

        ``where`` holds positions in P (the free dofs of the plastic cells,
        sorted), shape (n,). The columns of G are computed from the elastic LU
        in fixed chunks of :data:`WOODBURY_CHUNK` the first time a position of
        the chunk is asked for, and kept for the life of the solid: they
        depend on the solid alone, and a chunk is the same array whenever it is
        computed (a resumed run repeats the running one exactly).
        """
        dofs = self._plastic_dofs
        if self._flexibility is None:
            self._flexibility = np.empty((dofs.size, dofs.size), order="F")  # column chunks contiguous, filled on demand
            self._flexibility_chunks = np.zeros(-(-dofs.size // WOODBURY_CHUNK), dtype=bool)
        chunks = np.unique(where // WOODBURY_CHUNK)
        lu = self._elastic_factors()[1]
        for chunk in chunks[~self._flexibility_chunks[chunks]]:  # a few chunks of columns, each one multi-RHS solve
            span = slice(chunk * WOODBURY_CHUNK, min((chunk + 1) * WOODBURY_CHUNK, dofs.size))
            columns = dofs[span]
            unit = np.zeros((self.free.size, columns.size))
            unit[columns, np.arange(columns.size)] = 1.0
            self._flexibility[:, span] = lu.solve(unit)[dofs]
            self._flexibility_chunks[chunk] = True
        return self._flexibility[np.ix_(where, where)]

    def _solve_linear(self, correction: sparse.csr_matrix | None, rhs: np.ndarray) -> np.ndarray:
        """Solve K u = rhs on the free dofs, K = K_e + ``correction`` (None: K_e alone).

        Parameters
        ----------
        correction : sparse matrix or None
            The plastic correction of :meth:`_plastic_correction`, shape
            (n_free, n_free) [N/m per radian]; None while no point yields.
        rhs : ndarray, shape (2 n_nodes,)
            Right-hand side [N per radian]; only its free entries are used.

        Returns
        -------
        ndarray, shape (2 n_nodes,)
            u [m], zero on the fixed dofs.

        Raises
        ------
        MechanicsError
            If K is singular or the solution not finite.

        Notes
        -----
        The elastic stiffness K_e is factorised once per solid. The
        correction C = Σ_y B̄_yᵀ w_y (D_y − C_y) B̄_y is non-zero only on the
        dofs Y of yielding cells, a subset of the free dofs P of the plastic
        region (the top electrode: 805 of 14650 free dofs on the default
        mesh, ~200 of them in Y in a −2 V sweep). With ``reuse_factorisation``
        the tangent K = K_e + Y C_YY Yᵀ is solved exactly by the Woodbury
        identity in its push-through form, which needs no inverse of the
        (singular: no volumetric part) C_YY (Woodbury, Inverting modified
        matrices, Memo. Rep. 42, Statistical Research Group, Princeton
        (1950); Hager, SIAM Rev. 31, 221 (1989)):

            K⁻¹b = x − K_e⁻¹ Y C_YY (I + G_YY C_YY)⁻¹ Yᵀx,   x = K_e⁻¹ b,

        with G = P K_e⁻¹ Pᵀ (:meth:`_plastic_flexibility`, computed once per
        solid): two solves with the elastic LU and a dense LU of size |Y|
        instead of a sparse factorisation of the whole tangent. C_YY is
        negative semi-definite (D_y ≤ C_y: the radial return softens the
        deviatoric response), so with K positive definite the eigenvalues of
        I + G_YY C_YY are 1 or eigenvalues of K_e^(-1/2) K K_e^(-1/2), all in
        (0, 1]: it is regular whenever K is. Measured in a −2 V sweep on the
        default mesh: condition numbers ≤ 2e2, steps equal to the sparse LU's
        to ≤ 4e-13 relative. The result is a function of K and b alone (no
        state carried between solves besides the elastic LU and G, which
        depend on the solid only), so a run resumed from a checkpoint repeats
        the running one exactly. (Measured before this choice: conjugate
        gradients on K preconditioned with the LU of an earlier tangent needed
        ~21 iterations on average to a relative residual of 1e-12 over that
        sweep, each ~1.9 ms, about the cost of a factorisation, and the
        preconditioner carried over from earlier solves makes the result
        depend on the run's history at round-off, which a knife edge of
        Newton turns into ~1e-6 in the plastic strain, see :meth:`solve`.)
        Above :data:`WOODBURY_MAX_DOFS` plastic dofs
        or :data:`WOODBURY_MAX_RANK` dofs in Y, or with
        ``reuse_factorisation`` False, K is factorised (SuperLU). The dense
        part runs on one BLAS thread, whatever the caller set: a 200×200 LU
        took 15–50 ms with two OpenBLAS threads on the loaded 2-core machine
        against 1 ms with one (``femion run`` limits the threads itself,
        :func:`femion.simulation.blas_threads`; tests and library calls may not).
        """
        free = self.free
        reduced, lu = self._elastic_factors()
        solution = np.zeros(self.n_dofs)
        b = rhs[free]
        if correction is None:
            solution[free] = lu.solve(b)
        else:
            correction = correction.tocsr()
            touched = np.flatnonzero(np.diff(correction.indptr))  # Y: rows (= columns, symmetric) with entries
            woodbury = (self.reuse_factorisation and self._plastic_dofs.size <= WOODBURY_MAX_DOFS and touched.size <= WOODBURY_MAX_RANK
                        and np.all(self._plastic_position[touched] >= 0))
            if woodbury:
                inner = correction[touched][:, touched].tocsc()  # C_YY, sparse (dofs of neighbouring cells only)
                where = self._plastic_position[touched]
                with _one_blas_thread():
                    x = lu.solve(b)
                    try:
                        z = np.linalg.solve(np.eye(touched.size) + self._plastic_flexibility(where) @ inner, x[touched])
                    except np.linalg.LinAlgError as error:
                        raise MechanicsError(f"singular plastic tangent: {error}") from error
                    update = np.zeros(free.size)
                    update[touched] = inner @ z
                    solution[free] = x - lu.solve(update)
            else:
                solution[free] = _factorise((reduced + correction).tocsc()).solve(b)
        if not np.all(np.isfinite(solution)):
            raise MechanicsError("singular or ill-conditioned stiffness (missing constraints?)")
        return solution

    # ----------------------------------------------------------------- solve
    def _energy_line_search(self, evaluate, u: np.ndarray, step: np.ndarray, slope: float, full, sufficient: float = 0.25, evaluations: int = 12):
        """Step length s with |p·R(u − s p)| ≤ ``sufficient`` × p·R(u), and its evaluation (see :meth:`solve`).

        ``full`` is the evaluation at s = 1. The root of the rising directional
        derivative is bracketed (doubling s while it is negative) and refined
        by the Illinois variant of regula falsi; after ``evaluations`` the last
        iterate is taken.
        """
        free = self.free
        low, g_low, high, g_high, last = 0.0, -slope, None, 0.0, 0
        length, trial = 1.0, full
        for _ in range(evaluations):
            g = -float(step[free] @ trial[3][free])  # dΠ/ds along u − s p
            if abs(g) <= sufficient * slope:
                break
            # Illinois: when the same end moves twice running, the value kept at the other end counts half
            if g < 0.0:
                low, g_low = length, g
                g_high *= 0.5 if last < 0 else 1.0
                last = -1
            else:
                high, g_high = length, g
                g_low *= 0.5 if last > 0 else 1.0
                last = 1
            length = 2.0 * length if high is None else low - g_low * (high - low) / (g_high - g_low)
            trial = evaluate(u - length * step)
        return trial, length

    def solve(
        self,
        eigenstrain: np.ndarray,
        history: PlasticHistory | None = None,
        load: np.ndarray | None = None,
        initial: np.ndarray | None = None,
        tolerance: float = 1e-8,
        max_iterations: int = 30,
    ) -> MechanicsSolution:
        """Equilibrium for a given eigenstrain and load, from the plastic history at the start of the step.

        Parameters
        ----------
        eigenstrain : ndarray
            ε*: per cell isotropic (n_cells,), or full Mandel tensors at Gauss
            points (n_cells, 4, 4) [1].
        history
            εᵖ and α at the start of the step (default: virgin).
        load
            External nodal forces (:meth:`traction_load`), shape (2 n_nodes,).
        initial
            Starting guess for the nodal displacement (n_nodes, 2).
        tolerance
            Newton stops when ‖R‖ ≤ tolerance × ‖f_ref‖, with f_ref the nodal
            forces of the eigenstrain, old plastic strain and load.
        max_iterations
            Newton iterations.

        Returns
        -------
        MechanicsSolution
            With ``converged`` False if Newton did not meet the tolerance.

        Raises
        ------
        ValueError
            Eigenstrain of a wrong shape or not finite.
        MechanicsError
            Singular stiffness.

        Notes
        -----
        Starting from the equilibrium of the previous step, the points that
        yielded in it sit on the yield surface to round-off, so which of them
        the first tangent counts as yielding follows the round-off of the
        previous step. A change at round-off level before (another linear
        solver, another order of summation) can send Newton along another path
        to the same solution, stopping at another point inside its tolerance:
        measured in a −2 V sweep (lithium and mechanics, default mesh), the
        first tangent of one step counted 145 instead of 144 yielding points
        and the run's plastic strain moved by up to 8e-7 relative to its
        maximum (displacement 2e-9). The same input gives the same result, so
        runs and restarts repeat exactly.
        """
        n = self.mesh.n_cells
        eigen = np.asarray(eigenstrain, dtype=float)
        if eigen.shape == (n,):
            eigen = cell_to_quadrature(eigen)[..., None] * IDENTITY
        if eigen.shape != (n, N_QP, 4) or not np.all(np.isfinite(eigen)):
            raise ValueError(f"eigenstrain must be finite with shape ({n},) or ({n}, {N_QP}, 4), got {np.shape(eigenstrain)}")
        history = PlasticHistory.zeros(n) if history is None else history
        external = np.zeros(self.n_dofs) if load is None else np.asarray(load, dtype=float)
        reference_stress = self.elastic_stress(eigen + history.plastic_strain)
        scale = max(float(np.linalg.norm(self.internal_force(reference_stress)[self.free])), float(np.linalg.norm(external[self.free])))
        u = np.zeros(self.n_dofs) if initial is None else np.asarray(initial, dtype=float).ravel().copy()
        u[self.fixed] = 0.0
        points = self._plastic_points  # radial return only where a yield stress is defined; Hooke elsewhere
        plastic_points = points.size > 0
        flat = lambda a: a.reshape((n * N_QP,) + a.shape[2:])  # noqa: E731

        def evaluate(displacement: np.ndarray):
            strain = self.strain(displacement)
            stress = self.elastic_stress(strain - eigen - history.plastic_strain)
            if plastic_points:
                mapped = j2_return_mapping(
                    flat(strain - eigen)[points],
                    flat(history.plastic_strain)[points],
                    flat(history.equivalent_plastic_strain)[points],
                    flat(self.bulk)[points],
                    flat(self.shear)[points],
                    flat(self.yield_stress)[points],
                    flat(self.hardening)[points],
                )
                flat(stress)[points] = mapped.stress
            else:
                mapped = None
            residual = self.internal_force(stress) - external
            norm = float(np.linalg.norm(residual[self.free])) / scale if scale > 0.0 else 0.0
            return strain, stress, mapped, residual, norm

        strain, stress, mapped, residual, norm = evaluate(u)
        residuals: list[float] = [norm]
        free = self.free
        while norm > tolerance and scale > 0.0 and len(residuals) <= max_iterations:
            yielding = mapped is not None and bool(mapped.yielding.any())
            step = self._solve_linear(self._plastic_correction(mapped) if yielding else None, residual)
            # Line search on the incremental potential Π (associative J2 with linear hardening: convex, its
            # gradient the residual; Ortiz & Stainier, CMAME 171, 419 (1999)): the step length s is the root
            # of dΠ/ds = −p·R(u − s p), which rises with s. A residual-norm backtracking crawls here when the
            # Newton iterates overshoot into plastic states that the solution does not have (the set of
            # yielding points then changes at every iteration); s = 1 is taken near convergence.
            slope = float(step[free] @ residual[free])
            trial = evaluate(u - step)
            if slope > 0.0 and trial[4] > tolerance:
                trial, length = self._energy_line_search(evaluate, u, step, slope, trial)
                step = length * step
            u = u - step
            strain, stress, mapped, residual, norm = trial
            residuals.append(norm)
        if plastic_points:
            plastic_strain, alpha = history.plastic_strain.copy(), history.equivalent_plastic_strain.copy()
            increment = np.zeros((n, N_QP))
            flat(plastic_strain)[points] = mapped.plastic_strain
            flat(alpha)[points] = mapped.equivalent_plastic_strain
            flat(increment)[points] = mapped.increment
            new_history = PlasticHistory(plastic_strain, alpha)
        else:
            new_history, increment = history.copy(), np.zeros((n, N_QP))
        return MechanicsSolution(
            displacement=u.reshape(-1, 2),
            strain=strain,
            stress=stress,
            history=new_history,
            increment=increment,
            residuals=residuals,
            iterations=len(residuals) - 1,
            converged=residuals[-1] <= tolerance or scale == 0.0,
        )


_BLAS_CONTROLLER = None


def _one_blas_thread():
    """Context manager: the BLAS/LAPACK thread pools limited to one thread (threadpoolctl; ~0.1 ms to enter)."""
    global _BLAS_CONTROLLER
    from threadpoolctl import ThreadpoolController

    if _BLAS_CONTROLLER is None:
        _BLAS_CONTROLLER = ThreadpoolController()  # inspects the loaded libraries once (~1.5 ms)
    return _BLAS_CONTROLLER.limit(limits=1, user_api="blas")


def _factorise(matrix: sparse.csc_matrix):
    """SuperLU factors of a reduced stiffness (MMD ordering of AᵀA + A, the best of SuperLU's for these symmetric systems).

    Raises
    ------
    MechanicsError
        If the matrix is exactly singular.
    """
    try:
        return sparse_linalg.splu(matrix, permc_spec="MMD_AT_PLUS_A")
    except RuntimeError as error:  # SuperLU: "Factor is exactly singular"
        raise MechanicsError(f"singular stiffness (missing constraints?): {error}") from error


def rectangle_mesh(
    r_range: tuple[float, float],
    z_range: tuple[float, float],
    cells: tuple[int, int],
    region: str = "body",
    r_grading: float = 1.0,
) -> AxisymmetricMesh:
    """A structured quadrilateral mesh of [r0, r1] × [z0, z1] (verification problems).

    Boundaries: ``inner`` (r = r0; named ``axis`` when r0 = 0), ``outer``,
    ``bottom``, ``top``.

    Parameters
    ----------
    r_range, z_range
        Extent [m].
    cells
        (n_r, n_z) cells.
    region
        Region name.
    r_grading
        Ratio of the last to the first radial cell size (geometric).

    Raises
    ------
    ValueError
        Empty ranges, r0 < 0 or fewer than one cell.
    """
    (r0, r1), (z0, z1), (nr, nz) = r_range, z_range, cells
    if not (0.0 <= r0 < r1 and z0 < z1 and nr >= 1 and nz >= 1 and r_grading > 0.0):
        raise ValueError("rectangle_mesh: need 0 <= r0 < r1, z0 < z1, positive cell counts and grading")
    growth = r_grading ** (1.0 / max(nr - 1, 1))
    sizes = growth ** np.arange(nr)
    r = r0 + (r1 - r0) * np.concatenate([[0.0], np.cumsum(sizes) / sizes.sum()])
    z = np.linspace(z0, z1, nz + 1)
    rr, zz = np.meshgrid(r, z, indexing="ij")
    nodes = np.column_stack([rr.ravel(), zz.ravel()])
    index = np.arange((nr + 1) * (nz + 1)).reshape(nr + 1, nz + 1)
    cells_array = np.column_stack(
        [index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()]
    )
    edges = lambda a, b: np.column_stack([a, b])  # noqa: E731
    boundaries = {
        "axis" if r0 == 0.0 else "inner": edges(index[0, :-1], index[0, 1:]),
        "outer": edges(index[-1, :-1], index[-1, 1:]),
        "bottom": edges(index[:-1, 0], index[1:, 0]),
        "top": edges(index[:-1, -1], index[1:, -1]),
    }
    return AxisymmetricMesh(nodes, cells_array, np.zeros(len(cells_array), dtype=int), (region,), boundaries, source="rectangle")


# --------------------------------------------------------------------------------------
# Coupled-loop module
# --------------------------------------------------------------------------------------

STRESS_FIELDS = ("sigma_rr", "sigma_tt", "sigma_zz", "sigma_rz", "sigma_vm", "sigma_m")
"""Cell stress fields [Pa] the module writes (r-weighted cell means of the Gauss-point values)."""

_TENSOR = ("rr", "zz", "tt", "rz")


def _qp_names(stem: str) -> tuple[str, ...]:
    return tuple(f"{stem}_q{k}" for k in range(N_QP))


HISTORY_FIELDS = tuple(name for component in _TENSOR for name in _qp_names(f"eps_p_{component}")) + _qp_names("eps_p_eq") + _qp_names("void_growth")
"""Gauss-point history stored in the State as cell fields, one per Gauss point k: plastic strain
tensor components ``eps_p_<rr|zz|tt|rz>_q<k>`` [1] (tensor, not Mandel), equivalent plastic strain
``eps_p_eq_q<k>`` [1] and Rice–Tracey void growth ``void_growth_q<k>`` = ln(R/R₀) [1]."""

FILM_FIELDS = ("film_channel_release_rate", "film_channel_ratio", "film_necking_ratio", "film_open_fraction", "film_crack_network")
"""Thin-film damage of the electrode (:class:`femion.physics.thinfilm.FilmDamage`), 0 outside it: channelling
G_ch [J/m²], G_ch/Γ_f [1], ε_p/ε_N where freestanding [1], open area fraction of through-thickness openings [1],
crack connectivity (1 network, 0.5 one family of channels, 0 intact)."""


@dataclass(frozen=True, eq=False)
class _Interface:
    """A candidate debond interface: name ``upper|lower``, the sub-stack above it and its toughness law."""

    name: str
    upper: str
    laminate: object
    layers: np.ndarray
    mode_one: float
    mixity: float
    edges: np.ndarray
    column: np.ndarray
    weight: np.ndarray

    def disk_stress(self, vegard: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        """b ↦ σ₀(b) [Pa]: bonded-film compression of the sub-stack, mean over the disk r < b (compression > 0).

        σ₀ = Σ_cells E/(1−ν) ε* r dA / (b²/2 · h): the cumulative sum over cells up to each outer cell
        radius, interpolated linearly in r² between them (exact for a uniform Li field).
        """
        cumulative = np.concatenate([[0.0], np.cumsum(np.bincount(self.column, self.weight * vegard, minlength=self.edges.size))])
        squares = np.concatenate([[0.0], self.edges**2])
        h = self.laminate.thickness
        return lambda b: np.interp(np.asarray(b, dtype=float) ** 2, squares, cumulative) / (0.5 * np.asarray(b, dtype=float) ** 2 * h)


@dataclass(frozen=True)
class MechanicsSettings:
    """Settings of :class:`MechanicsModule`.

    Attributes
    ----------
    plastic_regions : tuple of str or None
        Regions with J2 plasticity (None: the top electrode).
    initial_porosity : float
        f₀ of the electrode [1]. **Assumed** (1 %): sputtered metal films carry
        nm voids at grain boundaries; no value for these films is published.
        Porosity growth scales with it.
    skip_eigenstrain : float
        Skip the mechanics solve (fields unchanged) while max |Δε*| since the
        last solve stays below this [1] (1e-7: ~10 kPa of film stress, far
        below any yield stress here).
    tolerance : float
        Newton tolerance (relative residual).
    blister : BlisterSettings
        Buckle-delamination mechanism (:mod:`femion.physics.porosity`).
    """

    plastic_regions: tuple[str, ...] | None = None
    initial_porosity: float = 0.01
    skip_eigenstrain: float = 1e-7
    tolerance: float = 1e-8
    blister: object = None  # BlisterSettings; None -> default (set in __post_init__)

    def __post_init__(self) -> None:
        from femion.physics.porosity import BlisterSettings

        if self.blister is None:
            object.__setattr__(self, "blister", BlisterSettings())
        if not 0.0 <= self.initial_porosity < 1.0:
            raise ValueError(f"initial porosity must be in [0, 1), got {self.initial_porosity!r}")
        if not (self.skip_eigenstrain >= 0.0 and self.tolerance > 0.0):
            raise ValueError("skip_eigenstrain must be >= 0 and tolerance > 0")


class MechanicsModule:
    """Coupled-loop module for intercalation stress, electrode plasticity and porosity.

    Name ``"mechanics"``. Reads ``c_li`` [mol/m³]. Owns the cell fields
    ``u_r``, ``u_z`` [m] (r-weighted cell means), :data:`STRESS_FIELDS` [Pa],
    ``eps_p_eq`` [1] and ``porosity`` [1] (cell means; zero outside the
    plastic regions), ``blister_w`` [m] (blister deflection at the cell
    radius, on the debonded cells), ``debonded`` (1 on cells of the debonded
    sub-stack inside the blister), ``blister_radius`` [m] and
    ``blister_interface`` (index + 1 of the debonded candidate interface, 0
    bonded; both uniform fields), the thin-film damage :data:`FILM_FIELDS`
    of the electrode, the Gauss-point history :data:`HISTORY_FIELDS` and
    ``c_li_mech`` (the Li field of the last solve). The stress-free reference
    ``c_li_ref`` is the Li field of the initial state. Everything the next
    step needs is in the State (step rejection and checkpoints stay exact); the
    module caches only what depends on the solid alone (the factorised elastic
    stiffness, the elastic flexibility of the plastic dofs) and the last result.

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device.
    settings
        :class:`MechanicsSettings`.

    Notes
    -----
    Put it after ``lithium`` in the module list and initialise it after
    lithium (it takes ``c_ref`` from ``c_li`` when present; otherwise from the
    ``start`` state of its first step).
    """

    name = "mechanics"
    reads = ("c_li",)
    units = {"mech_sigma_vm_max": "Pa", "mech_eps_p_max": "1", "mech_porosity_max": "1", "mech_blister_height": "m", "mech_blister_radius": "m",
             "mech_film_channel_ratio_max": "1", "mech_film_open_max": "1"}
    """Units of :meth:`observables` (read by the Simulation for its outputs)."""

    smooth_coupling = False
    """Its update (radial return, blister and damage decisions) is not smooth in its inputs: the coupling
    iterations never extrapolate its fields (:func:`femion.coupling.coupled_step`)."""

    def __init__(self, mesh: AxisymmetricMesh, device: Device, settings: MechanicsSettings = MechanicsSettings()):
        self.mesh = mesh
        self.device = device
        self.settings = settings
        self.properties = mechanical_properties(mesh, device, settings.plastic_regions)
        self.solid = AxisymmetricSolid(mesh, self.properties)
        self.plastic_cells = self.properties.plastic
        self.owns = (
            ("u_r", "u_z", *STRESS_FIELDS, "eps_p_eq", "porosity", "blister_w", "debonded", "blister_radius", "blister_interface", "c_li_mech")
            + FILM_FIELDS
            + HISTORY_FIELDS
        )
        self._interfaces = self._candidate_interfaces() if settings.blister.enabled else []
        self._film = self._film_properties()
        self._cache_key = None
        self._cache_fields: dict[str, np.ndarray] = {}
        self.last_report = None

    @property
    def film(self) -> dict:
        """The top electrode's film data (E, ν, h, yield, Beuth Z, Γ_f, necking strain, radial columns; read-only use)."""
        return self._film

    @property
    def blister_interfaces(self) -> list:
        """The candidate debonding interfaces under the electrode with their sub-stacks (read-only use)."""
        return self._interfaces

    def _candidate_interfaces(self) -> list[_Interface]:
        """Every horizontal interface under the electrode (or the one named in the settings), with its sub-stack."""
        from femion.physics.porosity import laminate

        blister, device, mesh = self.settings.blister, self.device, self.mesh
        names = [layer.name for layer in device.layers]
        heights = np.concatenate([[0.0], np.cumsum([device.substrate.thickness] + [layer.thickness for layer in device.layers])])
        outer = np.round(mesh.nodes[mesh.cells, 0].max(axis=1), 12)
        plane = self.properties.youngs_modulus / (1.0 - self.properties.poisson_ratio)
        if blister.interface is not None and blister.interface not in mesh.boundaries:
            raise KeyError(f"blister interface {blister.interface!r} is not an interface of the mesh")
        candidates = []
        for index, upper in enumerate(names):
            lower = names[index - 1] if index > 0 else "substrate"
            name = f"{upper}|{lower}"
            if name not in mesh.boundaries or (blister.interface is not None and name != blister.interface):
                continue
            above = names[index:]
            bounds = [(heights[1 + index + i], heights[2 + index + i]) for i in range(len(above))]
            stack = laminate(
                bounds,
                [device.material(layer).value("youngs_modulus") for layer in above],
                [device.material(layer).value("poisson_ratio") for layer in above],
            )
            material = device.material(upper)
            key = f"interface_toughness_{device.material(lower).name}"
            mode_one = blister.toughness if blister.toughness is not None else material.value(key)
            mixity = blister.mixity_parameter if blister.mixity_parameter is not None else material.value("interface_mixity_parameter")
            layers = mesh.region_mask(*above)
            # r-weighted in-plane stiffness per cell of the sub-stack, summed per outer cell radius, for the disk means
            edges = np.unique(outer[layers])
            column = np.minimum(np.searchsorted(edges, outer), edges.size - 1)
            weight = np.where(layers, plane * mesh.r_volumes, 0.0)
            candidates.append(_Interface(name, upper, stack, layers, float(mode_one), float(mixity), edges, column, weight))
        return candidates

    def _film_properties(self) -> dict:
        """Electrode film data for :func:`femion.physics.thinfilm.film_damage` (Z, Γ_f, ε_N, radial columns)."""
        from femion.physics.thinfilm import channel_cracking_number, necking_strain

        device = self.device
        names = [layer.name for layer in device.layers]
        electrode = device.top_electrode
        film, below = device.material(electrode.name), device.material(names[names.index(electrode.name) - 1])
        cells = self.mesh.region_mask(electrode.name)
        radius = np.round(self.mesh.cell_centroids[:, 0], 12)
        _, column = np.unique(np.where(cells, radius, -1.0), return_inverse=True)
        e, nu = film.value("youngs_modulus"), film.value("poisson_ratio")
        plastic = bool(np.any(self.plastic_cells & cells))
        return {
            "name": electrode.name,
            "cells": cells,
            "column": column,
            "thickness": electrode.thickness,
            "youngs_modulus": e,
            "poisson_ratio": nu,
            "toughness": film.value("film_toughness"),
            "number": channel_cracking_number(e, nu, below.value("youngs_modulus"), below.value("poisson_ratio")),
            "necking": necking_strain(film.value("yield_stress"), film.value("hardening_modulus")) if plastic else np.inf,
        }

    def blister_of(self, state) -> tuple[int, float]:
        """(index into the candidate interfaces or −1, radius b [m]) of the blister recorded in a State."""
        index = int(round(float(np.max(state.fields.get("blister_interface", np.zeros(1)), initial=0.0)))) - 1
        return index, float(np.max(state.fields.get("blister_radius", np.zeros(1)), initial=0.0))

    # --------------------------------------------------------------- state
    def initialize(self, state) -> None:
        """Write zero displacement, stress, history and porosity f₀; set ``c_li_ref`` from ``c_li`` if present."""
        n = self.mesh.n_cells
        for name in self.owns:
            state.fields[name] = np.zeros(n)
        state.fields["porosity"] = np.where(self.plastic_cells, self.settings.initial_porosity, 0.0)
        if "c_li" in state.fields:
            state.fields["c_li_ref"] = state.fields["c_li"].copy()
            state.fields["c_li_mech"] = state.fields["c_li"].copy()

    def _history(self, state) -> tuple[PlasticHistory, np.ndarray]:
        fields = state.fields
        tensor = np.stack([np.stack([fields[f"eps_p_{c}_q{k}"] for c in _TENSOR], axis=-1) for k in range(N_QP)], axis=1)
        tensor[..., 3] *= SQRT2
        alpha = np.stack([fields[f"eps_p_eq_q{k}"] for k in range(N_QP)], axis=1)
        growth = np.stack([fields[f"void_growth_q{k}"] for k in range(N_QP)], axis=1)
        return PlasticHistory(tensor, alpha), growth

    # --------------------------------------------------------------- loads
    def eigenstrain(self, concentration: np.ndarray, reference: np.ndarray, blister: tuple[int, float] = (-1, 0.0)) -> tuple[np.ndarray, dict]:
        """Gauss-point eigenstrain (Mandel, (n_cells, 4, 4)) and the blister record for a Li field.

        Vegard strain in the hosts, plus (if an interface has debonded and its
        sub-stack buckled) minus the blister strain on the electrode cells
        (module docstring of :mod:`femion.physics.porosity`). Which interface
        debonds and the blister radius come from
        :func:`femion.physics.thinfilm.solve_blister_radius` (module docstring
        of :mod:`femion.physics.thinfilm`).

        Parameters
        ----------
        concentration, reference : ndarray, shape (n_cells,)
            c_li and the stress-free c_li_ref [mol/m³].
        blister
            (candidate index, radius [m]) already debonded, from :meth:`blister_of`; (−1, 0) if bonded.
        """
        from femion.physics.porosity import blister_profile
        from femion.physics.thinfilm import solve_blister_radius

        vegard = vegard_eigenstrain(concentration, reference, self.properties.partial_molar_volume)
        eigen = cell_to_quadrature(vegard)[..., None] * IDENTITY
        record = {
            "stress": 0.0, "critical_stress": np.inf, "release_rate": 0.0, "amplitude": 0.0, "debonded": False,
            "interface": -1, "interface_name": "", "radius": 0.0, "ratio": 0.0, "mixity": 0.0, "toughness": 0.0, "stable": True,
        }
        if not self._interfaces:
            return eigen, record
        radius_max = self.device.electrode_radius
        index, debonded_radius = blister
        candidates = range(len(self._interfaces)) if index < 0 else (index,)
        states = {}
        for k in candidates:
            face = self._interfaces[k]
            stress = face.disk_stress(vegard)
            states[k] = solve_blister_radius(
                stress, face.laminate.plate_modulus, face.laminate.youngs_modulus, face.laminate.poisson_ratio,
                face.laminate.thickness, face.mode_one, face.mixity, radius_max, debonded_radius if index >= 0 else 0.0,
            )
        chosen = max(states, key=lambda k: states[k].ratio)
        result, face = states[chosen], self._interfaces[chosen]
        debonded = result.radius > 0.0
        record.update(
            stress=result.stress, critical_stress=result.critical_stress, release_rate=result.release_rate,
            debonded=debonded, ratio=result.ratio, mixity=result.mixity, toughness=result.toughness, stable=result.stable,
            interface=chosen if debonded else -1, interface_name=face.name if debonded else "", radius=result.radius,
        )
        if not debonded or result.amplitude <= 0.0:
            return eigen, record
        lam, b = face.laminate, result.radius
        relaxation = lam.thickness * (result.stress - result.critical_stress) / lam.membrane_stiffness
        r, z = self.solid.points[..., 0], self.solid.points[..., 1]
        _, w_rr, w_r_over_r = blister_profile(r, b, result.amplitude)
        target = (self.plastic_cells & face.layers)[:, None] & (r < b)
        lever = z - lam.neutral_plane
        eigen[..., 0] -= np.where(target, relaxation - lever * w_rr, 0.0)
        eigen[..., 2] -= np.where(target, relaxation - lever * w_r_over_r, 0.0)
        record.update(amplitude=result.amplitude, relaxation=relaxation)
        return (self.solid.mean_dilatation(eigen) if self.solid.bbar else eigen), record

    # ------------------------------------------------------------- advance
    def advance(self, state, dt: float, start):
        """Equilibrium at the Li field of ``state`` from the plastic history of ``start``."""
        import hashlib

        from femion.coupling import ModuleReport
        from femion.physics.porosity import blister_profile, rice_tracey_increment

        c = state.fields["c_li"]
        if "c_li_ref" not in start.fields:  # initialised before lithium: the run's initial Li is the reference
            start.fields["c_li_ref"] = start.fields["c_li"].copy()
            start.fields["c_li_mech"] = start.fields["c_li"].copy()
        reference = start.fields["c_li_ref"]
        state.fields["c_li_ref"] = reference
        change = np.max(np.abs(self.properties.partial_molar_volume / 3.0 * (c - start.fields["c_li_mech"])), initial=0.0)
        if change < self.settings.skip_eigenstrain:
            for name in self.owns:
                state.fields[name] = start.fields[name].copy()
            self.last_report = ModuleReport(True, 0, 0.0)
            return self.last_report
        digest = hashlib.sha1()
        for array in (c, start.fields["c_li_mech"], start.fields["eps_p_eq_q0"], start.fields["blister_radius"], start.fields["blister_interface"], reference):
            digest.update(np.ascontiguousarray(array).tobytes())
        key = digest.hexdigest()
        if key == self._cache_key:
            for name, values in self._cache_fields.items():
                state.fields[name] = values.copy()
            return self.last_report
        history, growth = self._history(start)
        eigen, record = self.eigenstrain(c, reference, self.blister_of(start))
        # Newton starts from the equilibrium of ``start`` rebuilt from the State alone (one solve with the
        # cached elastic LU), not from this object's last solution: Newton stops anywhere inside its
        # tolerance, and the stopping point depends on the start, so a module restored from a saved State
        # would otherwise differ from the running one by up to ~1e-6 relative in the plastic strain
        # increments (a small difference q_tr − σ_y amplifies the 1e-8 residual).
        solution = self.solid.solve(eigen, history, initial=self.displacement(start), tolerance=self.settings.tolerance)
        if not solution.converged:
            self.last_report = ModuleReport(False, solution.iterations, solution.residuals[-1])
            return self.last_report
        vm, sm = solution.von_mises, solution.mean_stress
        growth = growth + rice_tracey_increment(sm, vm, solution.increment)
        fields = self._fields(solution, growth)
        fields["c_li_mech"] = c.copy()
        n, radius = self.mesh.n_cells, record["radius"]
        inside = self.mesh.cell_centroids[:, 0] < radius
        layers = self._interfaces[record["interface"]].layers if record["debonded"] else np.zeros(n, dtype=bool)
        fields["debonded"] = np.where(layers & inside, 1.0, 0.0)
        fields["blister_radius"] = np.full(n, radius)
        fields["blister_interface"] = np.full(n, float(record["interface"] + 1))
        if record["amplitude"] > 0.0:
            w, _, _ = blister_profile(self.mesh.cell_centroids[:, 0], radius, record["amplitude"])
            fields["blister_w"] = np.where(layers & inside, w, 0.0)
        else:
            fields["blister_w"] = np.zeros(n)
        freestanding = self._film["cells"] & inside & (record["debonded"] and self._interfaces[record["interface"]].upper == self._film["name"])
        fields.update(self._film_fields(fields, freestanding))
        state.fields.update(fields)
        self.blister_record = record
        self._cache_key, self._cache_fields = key, {name: values.copy() for name, values in fields.items()}
        self.last_report = ModuleReport(True, max(solution.iterations, 1), solution.residuals[-1])
        return self.last_report

    def _film_fields(self, fields: dict[str, np.ndarray], freestanding: np.ndarray) -> dict[str, np.ndarray]:
        """Thin-film damage of the electrode (:func:`femion.physics.thinfilm.film_damage`) as :data:`FILM_FIELDS`."""
        from femion.physics.thinfilm import film_damage

        film = self._film
        damage = film_damage(
            film["column"], film["cells"], fields["sigma_rr"], fields["sigma_tt"], fields["eps_p_eq"], self.mesh.r_volumes,
            freestanding, film["thickness"], film["youngs_modulus"], film["poisson_ratio"], film["toughness"], film["number"], film["necking"],
        )
        return {
            "film_channel_release_rate": damage.release_rate,
            "film_channel_ratio": damage.channel_ratio,
            "film_necking_ratio": damage.necking_ratio,
            "film_open_fraction": damage.open_fraction,
            "film_crack_network": damage.network,
        }

    def _fields(self, solution: MechanicsSolution, growth: np.ndarray) -> dict[str, np.ndarray]:
        from femion.physics.plasticity import from_mandel
        from femion.physics.porosity import porosity_from_void_growth

        cell = self.solid.quadrature_to_cell
        displacement = self.solid.nodal_to_cell(solution.displacement)
        stress = cell(from_mandel(solution.stress))
        plastic = self.plastic_cells
        fields = {
            "u_r": displacement[:, 0],
            "u_z": displacement[:, 1],
            "sigma_rr": stress[:, 0],
            "sigma_zz": stress[:, 1],
            "sigma_tt": stress[:, 2],
            "sigma_rz": stress[:, 3],
            "sigma_vm": cell(solution.von_mises),
            "sigma_m": cell(solution.mean_stress),
            "eps_p_eq": np.where(plastic, cell(solution.history.equivalent_plastic_strain), 0.0),
            "porosity": np.where(plastic, cell(porosity_from_void_growth(self.settings.initial_porosity, growth)), 0.0),
        }
        tensor = from_mandel(solution.history.plastic_strain)
        for k in range(N_QP):
            for index, component in enumerate(_TENSOR):
                fields[f"eps_p_{component}_q{k}"] = tensor[:, k, index].copy()
            fields[f"eps_p_eq_q{k}"] = solution.history.equivalent_plastic_strain[:, k].copy()
            fields[f"void_growth_q{k}"] = growth[:, k].copy()
        return fields

    # ------------------------------------------------------------- outputs
    def displacement(self, state) -> np.ndarray:
        """Nodal displacement (n_nodes, 2) [m] in equilibrium with the State (one linear solve).

        With the plastic strain of the State fixed the problem is linear, so the
        equilibrium is rebuilt exactly from ``c_li_mech``, ``c_li_ref``,
        ``debonded`` and the Gauss-point history (nothing else is needed).
        """
        history, _ = self._history(state)
        reference = state.fields.get("c_li_ref", state.fields["c_li_mech"])
        eigen, _ = self.eigenstrain(state.fields["c_li_mech"], reference, self.blister_of(state))
        load = self.solid.internal_force(self.solid.elastic_stress(eigen + history.plastic_strain))
        u = self.solid._solve_linear(None, load)
        return u.reshape(-1, 2)

    def interface_profiles(self, state) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Deformed horizontal interfaces: name → (r [m], u_r [m], u_z [m]) sorted by r.

        u_z includes the blister deflection on the debonded interface and above
        (the sub-stack is lifted by w(r)).
        """
        u = self.displacement(state)
        lift = np.zeros(self.mesh.n_nodes)
        amplitude = float(np.max(state.fields.get("blister_w", np.zeros(1)), initial=0.0))
        profiles = {}
        names = [layer.name for layer in self.device.layers]
        index, radius = self.blister_of(state)
        upper = self._interfaces[index].upper if index >= 0 else None
        for name, edges in self.mesh.boundaries.items():
            if "|" not in name:
                continue
            nodes = np.unique(edges)
            r = self.mesh.nodes[nodes, 0]
            order = np.argsort(r)
            nodes, r = nodes[order], r[order]
            w = np.zeros_like(r)
            top = name.split("|")[0]
            if amplitude > 0.0 and upper is not None and top in names and names.index(top) >= names.index(upper):
                from femion.physics.porosity import blister_profile

                w = blister_profile(r, radius, self._blister_amplitude(state))[0]
            profiles[name] = (r, u[nodes, 0], u[nodes, 1] + w)
        del lift
        return profiles

    def _blister_amplitude(self, state) -> float:
        reference = state.fields.get("c_li_ref", state.fields["c_li_mech"])
        _, record = self.eigenstrain(state.fields["c_li_mech"], reference, self.blister_of(state))
        return float(record["amplitude"])

    def electrode_profile(self, state) -> Callable[[np.ndarray], np.ndarray]:
        """w(r) [m] for :func:`femion.build_mesh` (``interface_profile``): lift of the top-electrode/film
        interface relative to the top of the bottom electrode (the films' change in thickness)."""
        profiles = self.interface_profiles(state)
        names = [layer.name for layer in self.device.layers]
        top = profiles[f"{names[-1]}|{names[-2]}"]
        bottom = profiles[f"{names[1]}|{names[0]}"]
        r_top, w_top = top[0], top[2]
        w_bottom = np.interp(r_top, bottom[0], bottom[2])
        lift = w_top - w_bottom
        return lambda r: np.interp(np.asarray(r, dtype=float), r_top, lift, right=0.0)

    def observables(self, state) -> dict[str, float]:
        """Peak σ_vm [Pa], ε_p [1] and porosity [1] in the plastic regions, the blister crest height and radius [m],
        and the electrode's peak channelling ratio G_ch/Γ_f and open area fraction [1] (:mod:`femion.physics.thinfilm`)."""
        plastic = self.plastic_cells
        return {
            "mech_sigma_vm_max": float(np.max(state.fields["sigma_vm"][plastic], initial=0.0)),
            "mech_eps_p_max": float(np.max(state.fields["eps_p_eq"][plastic], initial=0.0)),
            "mech_porosity_max": float(np.max(state.fields["porosity"][plastic], initial=0.0)),
            "mech_blister_height": float(np.max(state.fields["blister_w"], initial=0.0)),
            "mech_blister_radius": float(np.max(state.fields["blister_radius"], initial=0.0)),
            "mech_film_channel_ratio_max": float(np.max(state.fields["film_channel_ratio"], initial=0.0)),
            "mech_film_open_max": float(np.max(state.fields["film_open_fraction"], initial=0.0)),
        }


def radial_profile(mesh: AxisymmetricMesh, values: np.ndarray, cells: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """Through-thickness, r-weighted mean of a cell field in radial bins of ``width`` [m].

    A gauge-averaged profile: the peak cell value at a stress singularity
    (the electrode corner) grows without bound under mesh refinement, the
    mean over a finite gauge converges.

    Parameters
    ----------
    mesh
        The mesh.
    values : ndarray, shape (n_cells,)
        Cell field.
    cells : ndarray of bool, shape (n_cells,)
        Cells to include (e.g. the electrode).
    width
        Bin width [m].

    Returns
    -------
    (r, profile) : tuple of ndarray
        Bin starts [m] and means, for the bins that contain cell centroids.

    Raises
    ------
    ValueError
        Non-positive width or no selected cells.
    """
    if not width > 0.0 or not np.any(cells):
        raise ValueError("radial_profile needs a positive width and at least one cell")
    r = mesh.cell_centroids[cells, 0]
    index = np.floor(r / width).astype(np.int64)
    volume = mesh.r_volumes[cells]
    total = np.bincount(index, volume)
    mean = np.bincount(index, np.asarray(values, dtype=float)[cells] * volume) / np.where(total > 0, total, 1.0)
    present = total > 0
    return np.flatnonzero(present) * width, mean[present]


class LithiumHistoryRecorder:
    """Records ``c_li`` after every accepted step of a :class:`femion.Simulation` (no owned fields).

    Append it to ``simulation.modules``: the loop calls ``observables(state)``
    of every module once per accepted step, which is where the snapshot is
    taken (``advance`` runs once per Picard iteration and is a no-op).
    Mechanics can then be driven along the recorded Li history with
    :func:`run_mechanics_on_history`, once per electrode material, without
    repeating the Li transport (which does not depend on the electrode's
    mechanical properties).

    Attributes
    ----------
    times, voltages : list of float
        t [s] and V [V] of each snapshot.
    concentrations : list of ndarray
        ``c_li`` [mol/m³], shape (n_cells,) each.
    """

    name = "lithium_history"
    owns: tuple[str, ...] = ()
    reads = ("c_li",)

    def __init__(self):
        self.times: list[float] = []
        self.voltages: list[float] = []
        self.concentrations: list[np.ndarray] = []

    def initialize(self, state) -> None:
        """Nothing to initialise."""

    def advance(self, state, dt: float, start):
        """No-op (snapshots are taken in :meth:`observables`)."""
        from femion.coupling import ModuleReport

        return ModuleReport(True, 0, 0.0)

    def observables(self, state) -> dict[str, float]:
        """Store a snapshot of ``c_li``; returns no observables."""
        self.times.append(float(state.time))
        self.voltages.append(float(state.voltage))
        self.concentrations.append(np.array(state.fields["c_li"], copy=True))
        return {}


def run_mechanics_on_history(
    module: MechanicsModule,
    times: np.ndarray,
    concentrations: list[np.ndarray],
    progress: bool = False,
) -> tuple[object, list[dict]]:
    """Drive a :class:`MechanicsModule` along a recorded Li history (load steps = recorded steps).

    The first snapshot is the stress-free reference. Each later snapshot is
    one load step from the previous state; if Newton fails on a step, the
    step is split in two (linear interpolation of c_li) up to 6 times.

    Parameters
    ----------
    module
        The mechanics module (fresh).
    times : array, shape (n,)
        Snapshot times [s].
    concentrations : list of ndarray, shape (n_cells,) each
        ``c_li`` snapshots [mol/m³].
    progress
        Show a tqdm bar.

    Returns
    -------
    (State, list of dict)
        Final state and, per snapshot, ``module.observables`` plus ``time``
        and the blister record (G, σ₀, max G/Γ(ψ) over the candidate radii, debonded interface).

    Raises
    ------
    MechanicsError
        If a step fails even after splitting.
    """
    from tqdm import tqdm

    from femion.coupling import State

    state = State(time=float(times[0]))
    state.fields["c_li"] = np.array(concentrations[0], copy=True)
    module.initialize(state)
    rows = [{"time": float(times[0]), **module.observables(state), "blister_release_rate": 0.0, "blister_stress": 0.0, "blister_ratio": 0.0, "blister_interface": ""}]
    for index in tqdm(range(1, len(times)), disable=not progress, desc="mechanics", leave=False):
        target = np.asarray(concentrations[index], dtype=float)
        pending = [(float(times[index]), target)]
        splits = 0
        while pending:
            time, c = pending[0]
            new = state.copy()
            new.time = time
            new.fields["c_li"] = c.copy()
            report = module.advance(new, max(time - state.time, 1e-300), state)
            if report.converged:
                state = new
                pending.pop(0)
                continue
            splits += 1
            if splits > 6:
                raise MechanicsError(f"mechanics did not converge at t = {time:.6g} s even after splitting the load step")
            middle = 0.5 * (state.fields["c_li"] + c)
            pending.insert(0, (0.5 * (state.time + time), middle))
        record = getattr(module, "blister_record", {})
        rows.append(
            {
                "time": float(times[index]),
                **module.observables(state),
                "blister_release_rate": float(record.get("release_rate", 0.0)),
                "blister_stress": float(record.get("stress", 0.0)),
                "blister_ratio": float(record.get("ratio", 0.0)),
                "blister_interface": str(record.get("interface_name", "")),
            }
        )
    return state, rows
