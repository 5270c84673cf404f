"""Joule heating: the temperature field T of the device.

Equations (axisymmetric, per radian, SI)
----------------------------------------
Heat conduction with the Joule source of the current-continuity solution:

    ρ c_p ∂T/∂t = ∇·(k ∇T) + Q,      Q = κ |∇φ|²             in every layer
    T = T_amb                         on ``substrate_bottom`` and ``top_contact``
    n·k∇T = 0                         on ``axis``, ``outer``, ``air_surface``, ``electrode_side``

with k the thermal conductivity [W/(m K)], ρ the density [kg/m³], c_p the
specific heat [J/(kg K)] (materials database, layer-wise), κ the electrical
conductivity [S/m] and φ the potential [V] from
:mod:`femion.physics.electrostatics`. The steady form ∇·(k∇T) + Q = 0 is used
when the thermal time of the stack, t_th ~ L²ρc_p/k (≈ µs for the 0.9 µm film
stack, ≈ 0.3 ms for the 20 µm glass slab), is far below the time step
(``steady=True``, the default for voltage sweeps at ≤ V/s rates).

Boundary conditions (why)
-------------------------
* ``substrate_bottom`` at T_amb: the modelled 20 µm glass slab sits on the
  rest of the (mm-thick) substrate and the chuck, a heat sink far larger than
  the device.
* ``top_contact`` at T_amb: the top of the Pt pad is the electrode that the
  probe/wiring contacts; a metal contact of 200 µm diameter is a good thermal
  anchor. Continuum filament models hold the electrode ends at ambient in the
  same way (Larentis et al., IEEE TED 59, 2468 (2012)). Set ``top_contact_ambient=False``
  to make it adiabatic instead (heat then leaves only through the substrate,
  an upper bound on T).
* all other boundaries adiabatic: the axis by symmetry; ``outer`` at R_film
  is the far edge of the films; the free film and electrode surfaces lose
  heat to air by convection/radiation with h ≲ 10² W/(m² K), against a
  conductance k/L ≈ 5·10⁴ W/(m² K) of the glass slab: negligible.

Joule source
------------
Q is not taken from a reconstructed cell gradient: each face of the
conduction mesh dissipates P_f = κ_f T_f r_f (Δφ_f)² per radian (κ_f the
harmonic face conductivity, T_f = L/d FiPy's transmissibility, Δφ_f the
potential difference across it, Dirichlet faces with their contact value),
half going to each adjoining cell (all to the owner on a contact face). This
is the dissipation of the discrete two-point fluxes, so the total heat is
2π Σ_f P_f = I·V to round-off (discrete Green identity), whatever the mesh.

Discretisation: finite volumes with FiPy's two-point geometry and the
r-weighting of :mod:`femion.fvm` (:class:`femion.fvm.TwoPointOperator`,
factorised once per dt); implicit Euler in time; the unknown is ΔT = T − T_amb
(well scaled). Properties are constant in T (linear problem, one solve per step).

Temperature-dependent source
----------------------------
A heat source that depends on T (Joule heating with an activated σ(T), an
Arrhenius reaction heat) makes the steady problem nonlinear,
K ΔT = P(T). :meth:`ThermalSolver.solve_steady_nonlinear` solves it by
Newton's method from T_amb: for a source that is non-negative, increasing and
convex in T, T_amb is a sub-solution and the Newton iterates increase
monotonically to the minimal (stable, lower-branch) steady state when one
exists (monotone Newton; Ortega & Rheinboldt, *Iterative Solution of
Nonlinear Equations in Several Variables* (1970), §13.3). When no steady
state exists (thermal runaway, Frank-Kamenetskii, *Diffusion and Heat
Exchange in Chemical Kinetics* (1955/1969)), the iterates grow without bound
or the Jacobian K − diag(∂P/∂T) stops being positive: the solver raises
:class:`ThermalRunawayError`. Verified against the Frank-Kamenetskii critical
parameter δ_c = 0.878 of a slab with fixed-T faces
(``tests/verification/test_filament_analytic.py``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from femion import fvm
from femion.config import Device
from femion.mesh import AxisymmetricMesh

__all__ = [
    "ThermalModule",
    "ThermalRunawayError",
    "ThermalProperties",
    "ThermalSolver",
    "joule_heating",
    "thermal_properties",
]


class ThermalRunawayError(RuntimeError):
    """No steady temperature exists for a T-dependent heat source (thermal runaway), or Newton did not reach it."""


@dataclass(frozen=True, eq=False)
class ThermalProperties:
    """Cell-wise thermal parameters.

    Attributes
    ----------
    conductivity : ndarray, shape (n_cells,)
        k [W/(m K)].
    heat_capacity : ndarray, shape (n_cells,)
        Volumetric heat capacity ρ c_p [J/(m³ K)].
    """

    conductivity: np.ndarray
    heat_capacity: np.ndarray


def thermal_properties(mesh: AxisymmetricMesh, device: Device) -> ThermalProperties:
    """k and ρc_p of every cell of ``mesh`` from the materials database.

    Raises
    ------
    femion.MaterialError
        If a layer's material lacks ``thermal_conductivity``, ``density`` or ``specific_heat``.
    """
    k, capacity = [], []
    for region in mesh.region_names:
        material = device.material(region)
        k.append(material.value("thermal_conductivity"))
        capacity.append(material.value("density") * material.value("specific_heat"))
    index = mesh.cell_regions
    return ThermalProperties(conductivity=np.array(k)[index], heat_capacity=np.array(capacity)[index])


def joule_heating(
    mesh: AxisymmetricMesh,
    phi: np.ndarray,
    conductivity: np.ndarray,
    dirichlet: np.ndarray,
    dirichlet_values: np.ndarray | float,
) -> np.ndarray:
    """Joule power of each cell from the discrete two-point fluxes [W per radian], shape (n_cells,).

    P_f = κ_f T_f r_f (Δφ_f)² on every face (interior and Dirichlet), split
    half/half between the two cells of an interior face, all to the owner of
    a Dirichlet face. Divide by ``mesh.r_volumes`` for Q = κ|∇φ|² [W/m³];
    2π Σ P equals I·V of the solve to round-off.

    Parameters
    ----------
    mesh
        Conduction mesh (the one φ was solved on).
    phi
        Potential at cells [V], shape (n_cells,).
    conductivity
        κ [S/m], shape (n_cells,), finite and non-negative.
    dirichlet
        Boolean face mask of the contact faces, shape (n_faces,).
    dirichlet_values
        Contact potentials on faces [V], shape (n_faces,) or scalar.

    Raises
    ------
    ValueError
        Shapes that do not match the mesh, non-finite φ.
    """
    phi = np.asarray(phi, dtype=float)
    if phi.shape != (mesh.n_cells,) or not np.all(np.isfinite(phi)):
        raise ValueError(f"phi must be finite with shape ({mesh.n_cells},)")
    kappa_face = fvm.face_values_harmonic(mesh, conductivity)
    flux = fvm.face_fluxes(mesh, phi, kappa_face, dirichlet, dirichlet_values)  # −κ_f T_f Δφ
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    difference = np.zeros(len(mesh.faces))
    interior = neighbour >= 0
    difference[interior] = phi[neighbour[interior]] - phi[owner[interior]]
    boundary = np.broadcast_to(np.asarray(dirichlet_values, dtype=float), (len(mesh.faces),))
    difference[dirichlet] = boundary[dirichlet] - phi[owner[dirichlet]]
    power = -flux * difference * mesh.r_face  # κ_f T_f r_f Δφ² ≥ 0
    share = np.where(interior, 0.5, 1.0) * power
    result = np.bincount(owner, weights=share, minlength=mesh.n_cells)
    result += np.bincount(neighbour[interior], weights=share[interior], minlength=mesh.n_cells)
    return result


class ThermalSolver:
    """Reusable solver of ρc_p ∂T/∂t = ∇·(k∇T) + Q with T = T_amb on given faces (two-point FV operator, direct LU).

    Parameters
    ----------
    mesh
        Mesh of the heat-conducting domain.
    properties
        k and ρc_p per cell.
    ambient_faces
        Boolean face mask (exterior faces) held at the ambient temperature.
    ambient
        T_amb [K].

    Raises
    ------
    ValueError
        If no face is held at ambient (the steady problem would be singular),
        a masked face is interior, or T_amb is not positive.
    """

    def __init__(self, mesh: AxisymmetricMesh, properties: ThermalProperties, ambient_faces: np.ndarray, ambient: float):
        ambient_faces = np.asarray(ambient_faces, dtype=bool)
        if ambient_faces.shape != (len(mesh.faces),) or not ambient_faces.any():
            raise ValueError("the thermal problem needs at least one face at ambient temperature (else steady T is undefined)")
        if np.any(mesh.face_cells[ambient_faces, 1] >= 0):
            raise ValueError("ambient-temperature faces must be exterior faces")
        if not (np.isfinite(ambient) and ambient > 0.0):
            raise ValueError(f"ambient temperature must be positive, got {ambient!r}")
        self.mesh, self.properties, self.ambient = mesh, properties, float(ambient)
        self.ambient_faces = ambient_faces
        # The steady operator is constant (k independent of T): assembled and factorised once, reused by every
        # steady solve (the FiPy term rebuilt its matrix per call: ~70 % of a coupled V_O step).
        self._operator = fvm.TwoPointOperator(mesh, dirichlet=ambient_faces)
        self._k_face = fvm.face_values_harmonic(mesh, properties.conductivity)
        self._steady_factor = None
        self._transient_factor = None

    def solve(self, heat: np.ndarray, dt: float | None = None, start: np.ndarray | None = None) -> np.ndarray:
        """Temperature after one step (or steady) with the Joule power ``heat``.

        Parameters
        ----------
        heat
            Cell power per radian [W], shape (n_cells,) (as :func:`joule_heating`).
        dt
            Time step [s]; None solves the steady problem.
        start
            T at the start of the step [K], shape (n_cells,) (transient only;
            default T_amb everywhere).

        Returns
        -------
        ndarray, shape (n_cells,)
            T [K].

        Raises
        ------
        ValueError
            Wrong shapes, non-finite heat, non-positive dt.
        """
        heat = np.asarray(heat, dtype=float)
        if heat.shape != (self.mesh.n_cells,) or not np.all(np.isfinite(heat)):
            raise ValueError(f"heat must be finite with shape ({self.mesh.n_cells},)")
        if dt is None:
            if self._steady_factor is None:
                self._steady_factor = self._operator.factorized(self._k_face)
            # K ΔT = P: net r-weighted outflow of heat equals the cell's Joule power per radian (ΔT = 0 on ambient faces).
            return self.ambient + self._steady_factor(heat)
        if not (np.isfinite(dt) and dt > 0.0):
            raise ValueError(f"dt must be positive and finite, got {dt!r}")
        old = np.zeros(self.mesh.n_cells) if start is None else np.asarray(start, dtype=float) - self.ambient
        # Implicit Euler (C/dt + K) ΔT = C/dt ΔT_old + P, C = ρc_p r_c A, by the two-point operator's direct
        # factorisation (cached per dt). FiPy's iterative solve of the same step stopped at its residual
        # tolerance relative to the start of the step and left a near-steady state unchanged (measured: a
        # 1 mK lateral perturbation of a Joule-heated film did not move in 200 steps).
        storage = self.properties.heat_capacity * self.mesh.r_volumes / dt
        if self._transient_factor is None or self._transient_factor[0] != dt:
            self._transient_factor = (dt, self._operator.factorized(self._k_face, diagonal=storage))
        return self.ambient + self._transient_factor[1](storage * old + heat)

    def solve_steady_nonlinear(
        self,
        heat,
        heat_derivative,
        *,
        start: np.ndarray | None = None,
        tolerance: float = 1e-10,
        max_iterations: int = 200,
        max_rise: float = 1e5,
    ) -> np.ndarray:
        """Steady T of ∇·(k∇T) + Q(T) = 0 for a T-dependent heat source, by Newton's method.

        Solves K ΔT = P(T) (K the r-weighted conduction operator with ΔT = 0
        on the ambient faces) with the Jacobian K − diag(∂P/∂T), starting at
        ``start`` (default T_amb). See the module docstring for the monotone
        convergence to the lower-branch state and the runaway diagnosis.

        Parameters
        ----------
        heat
            Callable T → cell power per radian [W], shape (n_cells,) → (n_cells,)
            (as :func:`joule_heating`: Q r_c A per cell).
        heat_derivative
            Callable T → ∂P/∂T per cell [W/K per radian], shape (n_cells,).
        start
            Initial T [K], shape (n_cells,); default T_amb (a sub-solution for a
            non-negative source).
        tolerance
            Relative convergence tolerance on max|δT| / max(ΔT).
        max_iterations
            Newton iterations allowed.
        max_rise
            Largest admitted rise max ΔT [K]; beyond it the state is declared a runaway.

        Returns
        -------
        ndarray, shape (n_cells,)
            T [K].

        Raises
        ------
        ThermalRunawayError
            No convergence within ``max_iterations``, a rise above ``max_rise``,
            non-finite iterates or a singular Jacobian (no steady state: thermal runaway).
        ValueError
            ``start`` of the wrong shape, or a source of the wrong shape.
        """
        n = self.mesh.n_cells
        rise = np.zeros(n) if start is None else np.asarray(start, dtype=float) - self.ambient
        if rise.shape != (n,):
            raise ValueError(f"start must have shape ({n},)")
        conduction = self._operator.assemble(self._k_face)
        for _ in range(max_iterations):
            temperature = self.ambient + rise
            power = np.asarray(heat(temperature), dtype=float)
            slope = np.asarray(heat_derivative(temperature), dtype=float)
            if power.shape != (n,) or slope.shape != (n,):
                raise ValueError(f"heat and heat_derivative must return shape ({n},)")
            if not (np.all(np.isfinite(power)) and np.all(np.isfinite(slope))):
                raise ThermalRunawayError("non-finite heat source: no steady temperature (thermal runaway)")
            residual = conduction @ rise - power
            try:
                update = self._operator.factorized(self._k_face, diagonal=-slope)(-residual)
            except (ValueError, RuntimeError) as error:
                raise ThermalRunawayError(f"singular Jacobian of the steady heat balance ({error}): thermal runaway") from error
            rise = rise + update
            if not np.all(np.isfinite(rise)) or np.max(np.abs(rise)) > max_rise:
                raise ThermalRunawayError(f"temperature rise above {max_rise:g} K: no steady state (thermal runaway)")
            if np.max(np.abs(update)) <= tolerance * max(np.max(np.abs(rise)), 1e-300):
                return self.ambient + rise
        raise ThermalRunawayError(f"no steady temperature after {max_iterations} Newton iterations (thermal runaway)")

    def boundary_heat_flow(self, temperature: np.ndarray) -> float:
        """Heat leaving through the ambient faces, 2π ∮ −k ∂T/∂n r ds [W]."""
        k_face = fvm.face_values_harmonic(self.mesh, self.properties.conductivity)
        flux = fvm.face_fluxes(self.mesh, np.asarray(temperature) - self.ambient, k_face, self.ambient_faces, 0.0)
        return float(2.0 * np.pi * np.sum((flux * self.mesh.r_face)[self.ambient_faces]))


class ThermalModule:
    """Coupled-loop module for the temperature (see :mod:`femion.coupling`).

    Owns ``T`` [K] (every cell of the full mesh); reads ``phi`` and ``kappa``
    (from the electrostatics module). Every Arrhenius rate of the modules
    after it (vacancy hopping, generation) reads ``T``.

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device (T_amb = ``device.temperature``).
    steady
        Solve the steady heat equation each step (thermal times ≪ dt).
    top_contact_ambient
        Hold the top contact at T_amb (default) or make it adiabatic.
    """

    name = "thermal"
    owns = ("T",)
    units = {"T_max": "K", "joule_power": "W"}
    """Units of :meth:`observables` (read by the Simulation for its outputs)."""
    reads = ("phi", "kappa")

    def __init__(self, mesh: AxisymmetricMesh, device: Device, *, steady: bool = True, top_contact_ambient: bool = True):
        from femion.physics.electrostatics import conduction_regions, electrode_interface

        self.mesh, self.device, self.steady = mesh, device, steady
        names = ("substrate_bottom", "top_contact") if top_contact_ambient else ("substrate_bottom",)
        self.solver = ThermalSolver(mesh, thermal_properties(mesh, device), mesh.face_mask(*names), device.temperature)
        self.stack = mesh.submesh(conduction_regions(device))
        self._cells = self.stack.parent_cells
        self._electrode_faces = self.stack.face_mask(electrode_interface(device))
        self._dirichlet = self.stack.face_mask(electrode_interface(device), "bottom_contact")

    def heat(self, state) -> np.ndarray:
        """Joule power per radian [W] of every cell of the full mesh for ``state``, shape (n_cells,)."""
        values = np.where(self._electrode_faces, state.voltage, 0.0)
        power = np.zeros(self.mesh.n_cells)
        power[self._cells] = joule_heating(
            self.stack, state.fields["phi"][self._cells], state.fields["kappa"][self._cells], self._dirichlet, values
        )
        return power

    def initialize(self, state) -> None:
        """T = T_amb everywhere."""
        state.fields["T"] = np.full(self.mesh.n_cells, self.device.temperature)

    def advance(self, state, dt: float, start):
        """Solve T at t + dt from the Joule heat of ``state`` (steady or implicit Euler from ``start``)."""
        from femion.coupling import ModuleReport

        heat = self.heat(state)
        if self.steady:
            state.fields["T"] = self.solver.solve(heat)
        else:
            state.fields["T"] = self.solver.solve(heat, dt=dt, start=start.fields["T"])
        return ModuleReport(converged=True, iterations=1, residual=0.0)

    def observables(self, state) -> dict[str, float]:
        """Peak temperature T_max [K] and Joule power [W] of ``state``."""
        return {"T_max": float(np.max(state.fields["T"])), "joule_power": float(2.0 * np.pi * np.sum(self.heat(state)))}
