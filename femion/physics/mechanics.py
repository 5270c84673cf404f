"""Axisymmetric small-strain mechanics: intercalation stress, electrode plasticity (MODEL.md §3.3).

Equations (quasi-static, small strain, per radian, SI)
------------------------------------------------------
Unknown displacement u = (u_r, u_z) [m] on the (r, z) half-plane. Strains

    ε_rr = ∂u_r/∂r,  ε_zz = ∂u_z/∂z,  ε_θθ = u_r/r,  ε_rz = ½(∂u_r/∂z + ∂u_z/∂r),

equilibrium ∇·σ = 0 in weak form ∫ σ : ε(v) r dr dz = ∫_Γ t·v r ds (the r
weight of the axisymmetric volume, per radian), with

    σ = C : (ε − ε* − εᵖ),    C isotropic (E, ν per layer from the materials database).

Chemical eigenstrain (Vegard's law, MODEL.md §3.3): ε* = (Ω/3)(c − c_ref) 1 in
every Li host, Ω = ``li_partial_molar_volume`` (WO3, MoO3: "assumed", 2 cm³/mol,
MODEL.md §7: 1–3 cm³/mol, LixWO3 expands by a few % over the usable x range),
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
recommend, MODEL.md §7). With εᵖ history at Gauss points, each load step is
solved by Newton's method with the consistent tangent (quadratic convergence);
while no point yields the problem is linear and the factorised elastic
stiffness is reused.

Cell fields move to Gauss points by injection (cell values are constant on a
cell, exact) and back by the r-weighted cell mean ∫ f r dA / ∫ r dA (exact
for the Q1 interpolant of nodal values and for Gauss-point data, with the same
quadrature), see :func:`cell_to_quadrature`, :meth:`AxisymmetricSolid.quadrature_to_cell`,
:meth:`AxisymmetricSolid.nodal_to_cell`.

The coupled-loop module is :class:`MechanicsModule` in :mod:`femion.physics.mechanics_module`;
porosity (Rice–Tracey) and the buckle-delamination blister in
:mod:`femion.physics.porosity`.
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
    "MechanicalProperties",
    "MechanicsError",
    "MechanicsSolution",
    "PlasticHistory",
    "cell_to_quadrature",
    "mechanical_properties",
    "rectangle_mesh",
    "vegard_eigenstrain",
]

N_QP = 4
"""Gauss points per quadrilateral (2×2)."""

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
        Regions with J2 plasticity (default: the top electrode, MODEL.md §3.3).

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
        self.element_dofs = np.empty((n_cells, 8), dtype=np.int64)
        self.element_dofs[:, 0::2] = 2 * mesh.cells
        self.element_dofs[:, 1::2] = 2 * mesh.cells + 1
        self.n_dofs = 2 * mesh.n_nodes
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
        self._elastic_lu = None

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

    # ------------------------------------------------------------ operators
    def strain(self, displacement: np.ndarray) -> np.ndarray:
        """B-bar strain (Mandel) at Gauss points from nodal displacements (n_nodes, 2), shape (n_cells, 4, 4)."""
        element = np.asarray(displacement, dtype=float).ravel()[self.element_dofs]
        return np.einsum("cqia,ca->cqi", self.b_matrix, element)

    def internal_force(self, stress: np.ndarray) -> np.ndarray:
        """∫ B̄ᵀσ r dA per degree of freedom [N per radian], shape (2 n_nodes,)."""
        element = np.einsum("cqia,cqi,cq->ca", self.b_matrix, stress, self.weights)
        return np.bincount(self.element_dofs.ravel(), element.ravel(), minlength=self.n_dofs)

    def stiffness(self, tangent: np.ndarray) -> sparse.csr_matrix:
        """∫ B̄ᵀ D B̄ r dA assembled, shape (2 n_nodes, 2 n_nodes) [N/m per radian]."""
        element = np.einsum("cqia,cqij,cqjb,cq->cab", self.b_matrix, tangent, self.b_matrix, self.weights)
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

    def _solve_linear(self, matrix: sparse.csr_matrix | None, rhs: np.ndarray) -> np.ndarray:
        free = self.free
        if matrix is None:
            if self._elastic_lu is None:
                reduced = self.stiffness(self.elastic)[free][:, free].tocsc()
                self._elastic_lu = sparse_linalg.splu(reduced)
            lu = self._elastic_lu
        else:
            lu = sparse_linalg.splu(matrix[free][:, free].tocsc())
        solution = np.zeros(self.n_dofs)
        solution[free] = lu.solve(rhs[free])
        if not np.all(np.isfinite(solution)):
            raise MechanicsError("singular or ill-conditioned stiffness (missing constraints?)")
        return solution

    # ----------------------------------------------------------------- solve
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
        """
        n = self.mesh.n_cells
        eigen = np.asarray(eigenstrain, dtype=float)
        if eigen.shape == (n,):
            eigen = cell_to_quadrature(eigen)[..., None] * IDENTITY
        if eigen.shape != (n, N_QP, 4) or not np.all(np.isfinite(eigen)):
            raise ValueError(f"eigenstrain must be finite with shape ({n},) or ({n}, {N_QP}, 4), got {np.shape(eigenstrain)}")
        history = PlasticHistory.zeros(n) if history is None else history
        external = np.zeros(self.n_dofs) if load is None else np.asarray(load, dtype=float)
        reference_stress = np.einsum("cqij,cqj->cqi", self.elastic, eigen + history.plastic_strain)
        scale = max(float(np.linalg.norm(self.internal_force(reference_stress)[self.free])), float(np.linalg.norm(external[self.free])))
        u = np.zeros(self.n_dofs) if initial is None else np.asarray(initial, dtype=float).ravel().copy()
        u[self.fixed] = 0.0
        plastic_points = np.any(np.isfinite(self.yield_stress))
        residuals: list[float] = []
        flat = lambda a: a.reshape((n * N_QP,) + a.shape[2:])  # noqa: E731
        for iteration in range(max_iterations + 1):
            strain = self.strain(u)
            if plastic_points:
                mapped = j2_return_mapping(
                    flat(strain - eigen),
                    flat(history.plastic_strain),
                    flat(history.equivalent_plastic_strain),
                    flat(self.bulk),
                    flat(self.shear),
                    flat(self.yield_stress),
                    flat(self.hardening),
                )
                stress = mapped.stress.reshape(n, N_QP, 4)
                yielding = bool(mapped.yielding.any())
            else:
                stress = np.einsum("cqij,cqj->cqi", self.elastic, strain - eigen - history.plastic_strain)
                yielding = False
            residual = self.internal_force(stress) - external
            norm = float(np.linalg.norm(residual[self.free])) / scale if scale > 0.0 else 0.0
            residuals.append(norm)
            if norm <= tolerance or scale == 0.0:
                break
            if iteration == max_iterations:
                break
            tangent = mapped.tangent.reshape(n, N_QP, 4, 4) if yielding else None
            u = u - self._solve_linear(None if tangent is None else self.stiffness(tangent), residual)
        if plastic_points:
            new_history = PlasticHistory(mapped.plastic_strain.reshape(n, N_QP, 4), mapped.equivalent_plastic_strain.reshape(n, N_QP))
            increment = mapped.increment.reshape(n, N_QP)
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
