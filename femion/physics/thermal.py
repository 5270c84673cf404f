"""Joule heating: the temperature field T of the device.

Equations (axisymmetric, per radian, SI)
----------------------------------------
Heat conduction with the Joule source of the current-continuity solution:

    ρ c_p ∂T/∂t = ∇·(k ∇T) + Q,      Q = κ |∇φ|²             in every layer
    T = T_amb                         on ``substrate_bottom``
    −n·k∇T = h_c (T − T_amb)          on ``top_contact`` (Robin: probe/air contact conductance h_c)
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
* ``top_contact``: a finite heat-transfer coefficient h_c [W/(m² K)] to
  ambient (Robin condition), the material value ``contact_thermal_conductance``
  of the top electrode. The top of the 50 nm Pt pad is NOT a heat sink: it
  touches air (free convection and radiation, h of order 10 W/(m² K)) and a
  probe needle over a contact spot of a few µm radius, whose conductance,
  averaged over the 100 µm pad, is of order 10² W/(m² K) (the value, its
  estimate and range in ``femion/materials/Pt.toml``), against a conductance
  k/L ≈ 5·10⁴ W/(m² K) of the glass slab. The electrodes spread heat
  laterally (Pt: k t ≈ 3.6·10⁻⁶ W/K per square) and the substrate is the sink.
  Continuum filament models that hold the electrode ends at ambient
  (Larentis et al., IEEE TED 59, 2468 (2012)) model a cell buried between
  thick metal lines, not a probed pad; that limit is
  ``top_contact_conductance=np.inf`` of :class:`ThermalModule` (the top face
  held at T_amb, what femion used before), ``0`` makes the face adiabatic.
* all other boundaries adiabatic: the axis by symmetry; ``outer`` at R_film
  is the far edge of the films; the free film and electrode surfaces lose
  heat to air by convection/radiation with h ≲ 10² W/(m² K), against a
  conductance k/L ≈ 5·10⁴ W/(m² K) of the glass slab: negligible.

Lateral (filamentation) stability
---------------------------------
Under current control the uniform state of a film whose conductivity is
activated, σ ∝ exp(−E_a/k_BT), is unstable to a lateral mode J0(q r) when the
extra Joule heat of the mode outruns its conduction loss (Ridley, Proc. Phys.
Soc. 82, 954 (1963); Goodwill et al., Nat. Commun. 10, 1628 (2019);
Kumar & Williams, Nat. Commun. 9, 2030 (2018)): at fixed field
δP'' = P'' (E_a/k_BT²) δT
and δT = Z(q) δP'', so the gain is

    χ(q) = P'' Z(q) E_a / (k_B T²)     (unstable for χ > 1)

with P'' the Joule power per electrode area [W/m²] and Z(q) [K m²/W] the
steady temperature response of the heated films to an areal heat flux
J0(q r) (:func:`lateral_mode_response`, from the stack's own conduction
operator: the electrodes' lateral spreading, the films, the substrate sink,
the top contact). Z falls with q beyond the thermal healing length, so the
longest mode that fits under the electrode is the most unstable. A
thermally activated reaction rate ∝ exp(−ΔH/k_BT) (V_O generation) adds ΔH to
E_a for the growth of the relative contrast of its product
(:func:`filamentation_gain`). Z(q) is verified against the closed form of a
slab and χ against the dispersion relation whose growth rate the lateral-mode
test checks (``tests/verification/test_filament_analytic.py``); the extension
to the generation (E_a + ΔH) is derived here, not tested separately.

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
A Robin face of conductance h is the series of the half cell (d/k, d the
centre-to-face distance) and the contact (1/h): the face enters the operator
as a Dirichlet face (ΔT = 0 beyond the contact) with the effective face
conductivity k h d/(k + h d) (:func:`contact_face_conductivity`); h = ∞
recovers T = T_amb on the face. Verified against the exact ΔT of a uniformly
heated slab with a Robin face (``tests/verification/test_thermal_joule.py``).

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
    "contact_face_conductivity",
    "filamentation_gain",
    "joule_heating",
    "lateral_mode_response",
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


def contact_face_conductivity(
    mesh: AxisymmetricMesh, face_conductivity: np.ndarray, faces: np.ndarray, conductance: np.ndarray | float
) -> np.ndarray:
    """Face conductivities with a contact conductance h in series on the exterior ``faces``, shape (n_faces,) [W/(m K)].

    A Robin face −n·k∇T = h (T − T_amb) carries, per unit area, the flux
    (T_c − T_amb)/(d/k + 1/h) from the cell centre (distance d to the face)
    through the contact: a Dirichlet face at T_amb with the effective
    conductivity k h d/(k + h d) (the two-point flux is k_f (T_c − T_amb)/d).
    h = ∞ leaves k (T = T_amb on the face); h = 0 gives 0 (adiabatic).

    Parameters
    ----------
    mesh
        The mesh (:attr:`femion.mesh.AxisymmetricMesh.cell_distances` are the d).
    face_conductivity
        k on every face [W/(m K)], shape (n_faces,) (:func:`femion.fvm.face_values_harmonic`).
    faces
        Boolean mask of the exterior faces with the contact, shape (n_faces,).
    conductance
        h [W/(m² K)], scalar or shape (n_faces,), non-negative (``np.inf`` allowed).

    Raises
    ------
    ValueError
        Wrong shapes, a masked interior face, or a negative or NaN conductance.
    """
    n_faces = len(mesh.faces)
    k = np.asarray(face_conductivity, dtype=float)
    faces = np.asarray(faces, dtype=bool)
    h = np.broadcast_to(np.asarray(conductance, dtype=float), (n_faces,))
    if k.shape != (n_faces,) or faces.shape != (n_faces,):
        raise ValueError(f"face conductivity and face mask must have shape ({n_faces},)")
    if np.any(mesh.face_cells[faces, 1] >= 0):
        raise ValueError("contact faces must be exterior faces")
    if np.any(np.isnan(h[faces])) or np.any(h[faces] < 0.0):
        raise ValueError("contact conductance must be non-negative (np.inf: ideal contact)")
    d = mesh.cell_distances
    result = k.copy()
    finite = faces & np.isfinite(h)
    hd = h[finite] * d[finite]
    result[finite] = np.divide(k[finite] * hd, k[finite] + hd, out=np.zeros(hd.shape), where=(k[finite] + hd) > 0.0)
    return result


def joule_heating(
    mesh: AxisymmetricMesh,
    phi: np.ndarray,
    conductivity: np.ndarray,
    dirichlet: np.ndarray,
    dirichlet_values: np.ndarray | float,
    interface=None,
) -> np.ndarray:
    """Joule power of each cell from the discrete two-point fluxes [W per radian], shape (n_cells,).

    P_f = κ_f T_f r_f (Δφ_f)² on every face (interior and Dirichlet), split
    half/half between the two cells of an interior face, all to the owner of
    a Dirichlet face. Divide by ``mesh.r_volumes`` for Q = κ|∇φ|² [W/m³];
    without interface laws 2π Σ P equals I·V of the solve to round-off.

    On a face with an electrochemical interface law i = G (φ_0 − φ_1 − e)
    (:class:`femion.physics.electrostatics.InterfaceLaw`) the face carries the
    series coefficient Γ_f of the solve and dissipates
    P_f = Γ_f T_f r_f (φ_0 − φ_1 − e)² = I_f (Δφ − e): the part of the
    potential jump that is the interface emf e moves charge reversibly (it is
    stored as chemical energy, Newman & Thomas-Alyea 2004, §8) and is not
    heat, so 2π Σ P = I·V − Σ I_f e_f. (Counting the whole double-layer jump
    as heat made 22 mW of a 0.35 mW pulse, 64×.)

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
    interface : femion.physics.electrostatics.InterfaceLaw, optional
        Interface laws of the solve (faces of ``mesh``).

    Raises
    ------
    ValueError
        Shapes that do not match the mesh, non-finite φ.
    """
    phi = np.asarray(phi, dtype=float)
    if phi.shape != (mesh.n_cells,) or not np.all(np.isfinite(phi)):
        raise ValueError(f"phi must be finite with shape ({mesh.n_cells},)")
    kappa_face = fvm.face_values_harmonic(mesh, conductivity)
    emf = np.zeros(len(mesh.faces))
    if interface is not None:
        kappa_face, _, _ = interface.apply(mesh, kappa_face)
        emf[np.asarray(interface.faces, dtype=int)] = interface.emf
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    difference = np.zeros(len(mesh.faces))
    interior = neighbour >= 0
    difference[interior] = phi[neighbour[interior]] - phi[owner[interior]]
    boundary = np.broadcast_to(np.asarray(dirichlet_values, dtype=float), (len(mesh.faces),))
    difference[dirichlet] = boundary[dirichlet] - phi[owner[dirichlet]]
    driving = difference + emf  # −(φ_0 − φ_1 − e)
    power = kappa_face * mesh.transmissibility * driving * driving * mesh.r_face  # Γ_f T_f r_f (Δφ − e)² ≥ 0
    share = np.where(interior, 0.5, 1.0) * power
    result = np.bincount(owner, weights=share, minlength=mesh.n_cells)
    result += np.bincount(neighbour[interior], weights=share[interior], minlength=mesh.n_cells)
    return result


def lateral_mode_response(solver: "ThermalSolver", heated: np.ndarray, radius: float, wavenumbers) -> np.ndarray:
    """Z(q): steady temperature response of the heated cells to an areal heat flux J0(q r), r < ``radius`` [K m²/W].

    The flux P''(r) = J0(q r) [W/m²] is spread uniformly over the thickness of
    the heated cells (volumetric source J0(q r)/H, H their total r-weighted
    volume over R²/2); the steady ΔT (``solver``'s conduction operator and
    ambient faces) is projected back on J0(q r) over the heated cells:
    Z = ∫ ΔT J0 r dV / ∫ J0² r dV. For q = 0 it is the mean rise per unit flux,
    the thermal resistance of the stack per unit area. Linear stability of a
    lateral mode: :func:`filamentation_gain` (Ridley, Proc. Phys. Soc. 82,
    954 (1963)).

    Parameters
    ----------
    solver
        Thermal solver of the domain (its mesh, conductivities and ambient faces).
    heated
        Boolean cell mask of the heated cells, shape (n_cells,), all at r < ``radius``.
    radius
        Radius R of the heated disk [m] (the electrode radius).
    wavenumbers
        q [1/m], shape (n_q,), non-negative.

    Returns
    -------
    ndarray, shape (n_q,)
        Z(q) [K m²/W].

    Raises
    ------
    ValueError
        An empty mask, heated cells beyond ``radius``, or a negative wavenumber.
    """
    from scipy.special import j0

    mesh = solver.mesh
    heated = np.asarray(heated, dtype=bool)
    q = np.atleast_1d(np.asarray(wavenumbers, dtype=float))
    if heated.shape != (mesh.n_cells,) or not heated.any():
        raise ValueError(f"heated must be a non-empty boolean cell mask of shape ({mesh.n_cells},)")
    if np.any(q < 0.0) or not np.all(np.isfinite(q)):
        raise ValueError("wavenumbers must be finite and non-negative")
    r = mesh.cell_centroids[:, 0]
    if np.max(mesh.nodes[mesh.cells[heated]][..., 0]) > radius * (1.0 + 1e-9):
        raise ValueError("heated cells must lie within radius")
    volume = np.where(heated, mesh.r_volumes, 0.0)
    thickness = volume.sum() / (0.5 * radius**2)
    result = np.empty(len(q))
    for index, wavenumber in enumerate(q):  # one steady solve per mode (the factorisation is reused)
        shape = np.where(heated, j0(wavenumber * r), 0.0)
        rise = solver.solve(shape * volume / thickness) - solver.ambient
        result[index] = np.sum(rise * shape * volume) / np.sum(shape**2 * volume)
    return result


def filamentation_gain(power_density, response, activation_ev, temperature) -> np.ndarray:
    """Loop gain χ = P'' Z(q) E_a/(k_B T²) of a lateral mode under current control (unstable for χ > 1).

    Ridley, Proc. Phys. Soc. 82, 954 (1963); Goodwill et al., Nat. Commun.
    10, 1628 (2019). For the conductivity alone E_a is its activation energy
    (thermal filamentation); adding the activation energy ΔH of a reaction
    whose product raises σ (V_O generation) gives the gain of the relative
    contrast of that product: with σ ∝ N, a generation rate independent of N
    (N ≪ N_max) and T following the heat quasi-statically,
    d ln(δN/N)/d ln N = χ_ΔH/(1 − χ_σ) − 1, which is positive exactly when
    χ = χ_σ + χ_ΔH > 1. Upper bound when part of the conductance is not
    activated or the films are in series.

    Parameters
    ----------
    power_density
        Joule power per electrode area P'' [W/m²], scalar or array.
    response
        Z(q) [K m²/W] (:func:`lateral_mode_response`), scalar or array.
    activation_ev
        E_a (+ ΔH) [eV], scalar or array.
    temperature
        T [K], positive.

    Returns
    -------
    ndarray
        χ (dimensionless), broadcast shape.
    """
    from femion.constants import BOLTZMANN, EV

    return np.asarray(power_density) * np.asarray(response) * np.asarray(activation_ev) * EV / (BOLTZMANN * np.asarray(temperature) ** 2)


class ThermalSolver:
    """Reusable solver of ρc_p ∂T/∂t = ∇·(k∇T) + Q with T = T_amb on given faces (two-point FV operator, direct LU).

    Parameters
    ----------
    mesh
        Mesh of the heat-conducting domain.
    properties
        k and ρc_p per cell.
    ambient_faces
        Boolean face mask (exterior faces) that exchange heat with the ambient.
    ambient
        T_amb [K].
    conductance
        Contact conductance h [W/(m² K)] of the ambient faces (Robin condition
        −n·k∇T = h (T − T_amb), :func:`contact_face_conductivity`), scalar or
        shape (n_faces,), positive; ``np.inf`` (default) holds them at T_amb.

    Raises
    ------
    ValueError
        If no face exchanges heat with the ambient (the steady problem would be
        singular), a masked face is interior, T_amb is not positive, or a
        conductance is not positive.
    """

    def __init__(
        self,
        mesh: AxisymmetricMesh,
        properties: ThermalProperties,
        ambient_faces: np.ndarray,
        ambient: float,
        conductance: np.ndarray | float = np.inf,
    ):
        ambient_faces = np.asarray(ambient_faces, dtype=bool)
        if ambient_faces.shape != (len(mesh.faces),) or not ambient_faces.any():
            raise ValueError("the thermal problem needs at least one face at ambient temperature (else steady T is undefined)")
        if np.any(mesh.face_cells[ambient_faces, 1] >= 0):
            raise ValueError("ambient-temperature faces must be exterior faces")
        if not (np.isfinite(ambient) and ambient > 0.0):
            raise ValueError(f"ambient temperature must be positive, got {ambient!r}")
        self.mesh, self.properties, self.ambient = mesh, properties, float(ambient)
        if np.any(np.broadcast_to(np.asarray(conductance, dtype=float), (len(mesh.faces),))[ambient_faces] <= 0.0):
            raise ValueError("contact conductance of the ambient faces must be positive (leave adiabatic faces out of ambient_faces)")
        self.ambient_faces = ambient_faces
        # The steady operator is constant (k independent of T): assembled and factorised once, reused by every
        # steady solve (the FiPy term rebuilt its matrix per call: ~70 % of a coupled V_O step).
        self._operator = fvm.TwoPointOperator(mesh, dirichlet=ambient_faces)
        self._k_face = contact_face_conductivity(
            mesh, fvm.face_values_harmonic(mesh, properties.conductivity), ambient_faces, conductance
        )
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

    def boundary_heat_flow(self, temperature: np.ndarray, faces: np.ndarray | None = None) -> float:
        """Heat leaving through the ambient faces (through their contacts), 2π ∮ −k ∂T/∂n r ds [W].

        ``faces``: optional boolean face mask, shape (n_faces,), restricting the sum (default: all ambient faces).
        """
        flux = fvm.face_fluxes(self.mesh, np.asarray(temperature) - self.ambient, self._k_face, self.ambient_faces, 0.0)
        mask = self.ambient_faces if faces is None else self.ambient_faces & np.asarray(faces, dtype=bool)
        return float(2.0 * np.pi * np.sum((flux * self.mesh.r_face)[mask]))


RUNAWAY_TEMPERATURE = 5000.0
"""Ceiling of a physical temperature [K]: above the melting points of every layer (Pt 2041 K, WO3 1746 K, MoO3 1068 K,
glass ~1900 K; CRC Handbook) with margin. A solution beyond it is a runaway the model's laws do not describe: before
this check an all-physics −5 V pulse reached 5·10⁹ K without being rejected."""


class ThermalModule:
    """Coupled-loop module for the temperature (see :mod:`femion.coupling`).

    Owns ``T`` [K] (every cell of the full mesh); reads ``joule``, the Joule heat
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
    top_contact_conductance
        Heat-transfer coefficient h_c [W/(m² K)] of the ``top_contact`` face to
        ambient; None (default): the top electrode material's
        ``contact_thermal_conductance``; ``np.inf`` holds the face at T_amb,
        0 makes it adiabatic.

    Notes
    -----
    Measured on the reference device (``studies/forming`` quick, the heat of
    the final state of each ramp, 2026-12-04): max rise 0.10 K (I_cc 50 µA)
    and 2.4 K (500 µA) with h_c = 260 W/(m² K), against 0.0022 K and 0.040 K with the top
    of the pad held at T_amb; the stack's thermal resistance per electrode area
    is Z(0) = 1.8e-5 K m²/W (4.1e-7 with the top at T_amb), set by the 20 µm
    glass slab.

    Raises
    ------
    ValueError
        A negative or NaN ``top_contact_conductance``.
    femion.MaterialError
        The top electrode material lacks ``contact_thermal_conductance`` (with the default None).
    """

    name = "thermal"
    owns = ("T",)
    units = {"T_max": "K", "joule_power": "W"}
    """Units of :meth:`observables` (read by the Simulation for its outputs)."""
    reads = ("joule",)

    def __init__(self, mesh: AxisymmetricMesh, device: Device, *, steady: bool = True, top_contact_conductance: float | None = None):
        self.mesh, self.device, self.steady = mesh, device, steady
        if top_contact_conductance is None:
            top_contact_conductance = device.material(device.top_electrode.name).value("contact_thermal_conductance")
        h_c = float(top_contact_conductance)
        if np.isnan(h_c) or h_c < 0.0:
            raise ValueError(f"top_contact_conductance must be non-negative, got {top_contact_conductance!r}")
        self.top_contact_conductance = h_c
        bottom, top = mesh.face_mask("substrate_bottom"), mesh.face_mask("top_contact")
        conductance = np.where(top, h_c, np.inf)
        self.solver = ThermalSolver(mesh, thermal_properties(mesh, device), bottom | (top & (h_c > 0.0)), device.temperature,
                                    conductance=conductance)

    def heat(self, state) -> np.ndarray:
        """Joule power per radian [W] of every cell of the full mesh for ``state``, shape (n_cells,).

        The ``joule`` field of the electrostatics module, which solves the
        conduction with its interface laws (:func:`joule_heating`).

        Raises
        ------
        KeyError
            If ``state`` has no ``joule`` field (no electrostatics module before this one).
        """
        try:
            return state.fields["joule"]
        except KeyError:
            raise KeyError("the thermal module needs the 'joule' field of the electrostatics module") from None

    def initialize(self, state) -> None:
        """T = T_amb everywhere."""
        state.fields["T"] = np.full(self.mesh.n_cells, self.device.temperature)

    def advance(self, state, dt: float, start):
        """Solve T at t + dt from the Joule heat of ``state`` (steady or implicit Euler from ``start``).

        Raises
        ------
        FloatingPointError
            If T exceeds :data:`RUNAWAY_TEMPERATURE` anywhere: thermal runaway,
            outside every material law of the stack (the step is rejected; a
            run that cannot avoid it stops with this reason).
        """
        from femion.coupling import ModuleReport

        heat = self.heat(state)
        if self.steady:
            temperature = self.solver.solve(heat)
        else:
            temperature = self.solver.solve(heat, dt=dt, start=start.fields["T"])
        peak = float(np.max(temperature))
        if not peak <= RUNAWAY_TEMPERATURE:
            raise FloatingPointError(f"thermal runaway: T reaches {peak:.3g} K (> {RUNAWAY_TEMPERATURE:g} K, above every "
                                     "melting point of the stack)")
        state.fields["T"] = temperature
        return ModuleReport(converged=True, iterations=1, residual=0.0)

    def observables(self, state) -> dict[str, float]:
        """Peak temperature T_max [K] and Joule power [W] of ``state``."""
        return {"T_max": float(np.max(state.fields["T"])), "joule_power": float(2.0 * np.pi * np.sum(self.heat(state)))}
