"""Prototypes of proposed solver changes, measured against femion's current solvers.

These are *proposals* for the owners of ``femion/physics/electrostatics.py`` and
``femion/physics/lithium.py``: the same discretisations assembled with
:class:`femion.fvm.TwoPointOperator` (numpy, fixed sparsity pattern) instead of
FiPy terms, solved with :func:`femion.fvm.solve_sparse`. Each is checked
against the FiPy solution in the benchmark run (agreement printed with the
timings), so the timing compares equal work.

* :class:`PotentialPrototype` — steady current continuity ∇·(κ∇φ) = 0 with
  φ = V on the electrode interface and 0 on the ground contact,
  harmonic face conductivities, the device current from the two-point fluxes.
* :class:`LithiumPrototype` — one implicit-Euler Nernst–Planck step with the
  Scharfetter–Gummel flux J = (D/h)[B(Δu)c_i − B(−Δu)c_j], B(x) = x/(eˣ−1)
  (Scharfetter & Gummel, IEEE TED 16, 64 (1969)), u = ψ + Fφ/RT − s ln(1−θ)
  with the site-exclusion part lagged (Picard): the host law ``femion.physics.lithium`` used before it put the
  site blocking into the mobility (lattice gas); kept as a cost reference, the assembled operators and solves
  being the same work. ``stop="solution"`` stops like the current code (relative
  change of c between two solves); ``stop="lagged"`` stops as soon as the
  lagged term itself changes by less than the tolerance, which saves the
  confirming solve when the host occupancy barely moves.
"""

from __future__ import annotations

import numpy as np

from femion import fvm
from femion.constants import FARADAY, GAS_CONSTANT
from femion.mesh import AxisymmetricMesh


def bernoulli(x: np.ndarray) -> np.ndarray:
    """B(x) = x/(eˣ − 1), with the series 1 − x/2 + x²/12 for |x| < 1e-5 and no overflow for large |x|."""
    x = np.asarray(x, dtype=float)
    result = np.empty_like(x)
    small = np.abs(x) < 1e-5
    xs = x[small]
    result[small] = 1.0 - xs / 2.0 + xs * xs / 12.0
    xl = np.clip(x[~small], -700.0, 700.0)
    result[~small] = xl / np.expm1(xl)
    return result


class PotentialPrototype:
    """Steady potential solve on a conduction mesh with numpy assembly (proposal for ``PotentialSolver``).

    Parameters
    ----------
    mesh
        Conduction mesh (contacts are exterior boundary groups).
    electrode, ground
        Contact boundary group names.
    method
        :func:`femion.fvm.solve_sparse` method.
    """

    def __init__(self, mesh: AxisymmetricMesh, *, electrode: str, ground: str = "bottom_contact", method: str = "direct"):
        self.mesh, self.method = mesh, method
        self._electrode = mesh.face_mask(electrode)
        self._ground = mesh.face_mask(ground)
        self._dirichlet = self._electrode | self._ground
        self.operator = fvm.TwoPointOperator(mesh, self._dirichlet)
        self.last_system = None

    def solve(self, conductivity: np.ndarray, voltage: float) -> tuple[np.ndarray, float]:
        """φ per cell [V], shape (n_cells,), and the current into the ground contact [A]."""
        kappa_face = fvm.face_values_harmonic(self.mesh, conductivity)
        boundary = np.where(self._electrode, float(voltage), 0.0)
        matrix = self.operator.assemble(kappa_face)
        rhs = self.operator.dirichlet_rhs(boundary, kappa_face)
        self.last_system = (matrix, rhs)
        phi = fvm.solve_sparse(matrix, rhs, self.method)
        flux = fvm.face_fluxes(self.mesh, phi, kappa_face, self._dirichlet, boundary)
        current = float(2.0 * np.pi * np.sum((flux * self.mesh.r_face)[self._ground]))
        return phi, current


class LithiumPrototype:
    """One implicit Li step with numpy Scharfetter–Gummel assembly (proposal for ``LithiumTransport.step``).

    Parameters
    ----------
    mesh
        Film mesh.
    diffusivity, max_concentration, partition
        Cell arrays as in ``LithiumProperties`` (c_max = inf where no site exclusion).
    temperature
        T [K].
    stop
        ``"solution"`` (as femion now) or ``"lagged"`` (see the module docstring).
    """

    def __init__(self, mesh, diffusivity, max_concentration, partition, temperature, stop: str = "solution"):
        self.mesh, self.stop = mesh, stop
        self.partition, self.temperature = np.asarray(partition), float(temperature)
        self.max_concentration = np.asarray(max_concentration, dtype=float)
        self.limited = np.isfinite(self.max_concentration)
        self._c_max = np.where(self.limited, self.max_concentration, 1.0)
        self.diffusivity_face = fvm.face_values_harmonic(mesh, diffusivity)
        self.operator = fvm.TwoPointOperator(mesh)
        self._owner, self._neighbour = mesh.face_cells[:, 0], np.where(mesh.face_cells[:, 1] >= 0, mesh.face_cells[:, 1], mesh.face_cells[:, 0])
        self._storage = mesh.r_volumes  # r_c A
        self.last_system = None

    def drift_potential(self, phi: np.ndarray, c: np.ndarray) -> np.ndarray:
        """u = ψ + Fφ/RT − s ln(1 − θ) [1]."""
        theta = np.where(self.limited, c / self._c_max, 0.0)
        return self.partition + FARADAY * phi / (GAS_CONSTANT * self.temperature) - np.log1p(-theta)

    def step(self, c_old: np.ndarray, phi: np.ndarray, dt: float, tolerance: float = 1e-10, max_iterations: int = 50):
        """c after one step [mol/m³] and the number of linear solves."""
        storage = self._storage / dt
        iterate, u = c_old, self.drift_potential(phi, c_old)
        solves = 0
        for solves in range(1, max_iterations + 1):
            delta = u[self._neighbour] - u[self._owner]
            owner = self.diffusivity_face * bernoulli(delta)
            neighbour = self.diffusivity_face * bernoulli(-delta)
            matrix = self.operator.assemble(owner, neighbour, diagonal=storage)
            rhs = storage * c_old
            self.last_system = (matrix, rhs)
            new = fvm.solve_sparse(matrix, rhs)
            if not self.limited.any():
                return new, solves
            if self.stop == "lagged":
                u_new = self.drift_potential(phi, new)
                if np.max(np.abs(u_new - u)) < tolerance:
                    return new, solves
                u = u_new
            else:
                change = float(np.max(np.abs(new - iterate)) / max(np.max(np.abs(new)), 1e-300))
                if change < tolerance:
                    return new, solves
                u = self.drift_potential(phi, new)
            iterate = new
        return iterate, solves


class FipyLithiumReference:
    """Today's FiPy construction of the Li step (as ``femion.physics.lithium.LithiumTransport`` builds it), on given arrays.

    ``transient_term == diffusion_term(D_f) − ScharfetterGummelConvectionTerm(v r_f)`` with
    v = −D_f ∇u·n per face, one FiPy ``sweep`` per Picard iteration, the same
    stopping rule. Built here from arrays so that the comparison does not
    depend on the materials database while the Li model is being rewritten.
    """

    def __init__(self, mesh, diffusivity, max_concentration, partition, temperature):
        from fipy import FaceVariable

        from femion.physics.lithium import ScharfetterGummelConvectionTerm

        self.mesh = mesh
        self.helper = LithiumPrototype(mesh, diffusivity, max_concentration, partition, temperature)
        self.c = fvm.cell_variable(mesh, 0.0, name="c_li", has_old=True)
        self._velocity = FaceVariable(mesh=mesh.fipy, rank=1, value=0.0)
        self._normals = np.asarray(mesh.fipy.faceNormals)
        self._interior = mesh.face_cells[:, 1] >= 0
        self._equation = fvm.transient_term(mesh) == fvm.diffusion_term(mesh, self.helper.diffusivity_face) - ScharfetterGummelConvectionTerm(
            coeff=self._velocity * fvm.r_face(mesh)
        )

    def _set_velocity(self, u):
        owner, neighbour = self.mesh.face_cells[:, 0], self.mesh.face_cells[:, 1]
        gradient = np.zeros(len(self.mesh.faces))
        interior = self._interior
        gradient[interior] = (u[neighbour[interior]] - u[owner[interior]]) / self.mesh.cell_distances[interior]
        self._velocity.setValue(-self.helper.diffusivity_face * gradient * self._normals)

    def step(self, c_old, phi, dt, tolerance: float = 1e-10, max_iterations: int = 50):
        """c after one step and the number of FiPy sweeps."""
        self.c.setValue(c_old)
        self.c.updateOld()
        iterate, sweeps = c_old, 0
        for sweeps in range(1, max_iterations + 1):
            self._set_velocity(self.helper.drift_potential(phi, iterate))
            self._equation.sweep(var=self.c, dt=dt)
            new = np.array(self.c.value)
            change = float(np.max(np.abs(new - iterate)) / max(np.max(np.abs(new)), 1e-300))
            iterate = new
            if not self.helper.limited.any() or change < tolerance:
                break
        return iterate, sweeps


def lithium_test_problem(mesh, device):
    """Film-cell arrays of a Li step problem: (D [m²/s], c_max [mol/m³], ψ [1], T [K], c_old, φ [V]).

    Layer values in the literature ranges of the materials database (host D ~1e-16 m²/s, LiPON D from
    σ ≈ 2.3e-4 S/m, c_max 5e4 mol/m³ in the hosts), hosts 10 % filled, a
    −50 mV potential drop across the films; fixed here so the benchmark does
    not follow the materials database while the Li model changes.
    """
    hosts = {layer.name for layer in device.films if device.material(layer.name).kind == "host"}
    names = np.array(mesh.region_names)[mesh.cell_regions]
    host = np.isin(names, sorted(hosts))
    diffusivity = np.where(host, 1e-16, 1e-14)
    max_concentration = np.where(host, 5e4, np.inf)
    partition = np.where(host, -2.0, 0.0)
    c_old = np.where(host, 5e3, 6e4)
    z = mesh.cell_centroids[:, 1]
    phi = -0.05 * (z - z.min()) / np.ptp(z)
    return diffusivity, max_concentration, partition, 300.0, c_old, phi
