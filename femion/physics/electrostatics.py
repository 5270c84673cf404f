"""Electric potential, current and field enhancement.

Equations (axisymmetric, per radian, SI)
----------------------------------------
Quasi-static current continuity, with the displacement current when a
protocol is fast enough for it to matter:

    ∇·(κ ∇φ) + ∂/∂t ∇·(ε ∇φ) = 0     in the bottom electrode and the films
    φ = V(t)                          on the top-electrode/film interface
    φ = 0                             on ``bottom_contact`` (grounded bottom electrode)
    n·(κ∇φ + ε∂∇φ/∂t) = 0             on all other boundaries (insulating)

κ is the total (electronic + ionic) conductivity [S/m] and ε = ε₀ε_r the
permittivity [F/m], both cell-wise (layer-wise, or supplied by the other physics
as fields). The displacement term is integrated by implicit Euler as a discrete
Gauss law, Σ_f (κ_f + ε_f/Δt) r_f T_f Δφ^{n+1} = Σ_f (ε_f/Δt) r_f T_f Δφ^n, so
the charge stored in every cell is conserved exactly between steps. Face
coefficients are distance-weighted harmonic means, which make the two-point
flux exact for layered media.

Electrochemical interfaces. Where a host film meets the electrolyte, φ is the
electron potential φ_s on the host side and the Li⁺ potential φ_l on the
electrolyte side, and the interface carries a potential jump Δφ = φ_s − φ_l
(Newman & Thomas-Alyea, *Electrochemical Systems*, 3rd ed., 2004, §8). The
lithium module supplies, per interface face, an interface law linearised at
the current iterate, i = G (Δφ − e) (current density from host to
electrolyte, Butler–Volmer plus double layer: :mod:`femion.physics.lithium`).
The solver puts the interface resistance 1/G in series with the two
half-cell resistances of the face, Γ_f = d/(d_0/κ_0 + 1/G + d_1/κ_1), and the
emf e as a pair of opposite sources in the two cells, so the current through
the face is exactly i = (φ_s − φ_l − e)/(d_s/κ_s + 1/G + d_l/κ_l) and still
balances to round-off.

The pure electrostatic mode ∇·(ε∇φ) = 0 gives capacitances (:func:`capacitance`).

Outputs: φ; E = −∇φ in cells (reconstructed consistently with the fluxes, see
:func:`femion.fvm.flux_gradient`) and its normal component on faces; the
current density j = κE in cells; the device current I = 2π ∮ j·n r ds over the
grounded contact (conduction plus displacement). The field enhancement
β = |E| / (|V|/d), d the electrode-to-electrode film thickness
(:func:`field_enhancement`).

The top electrode is not part of the conduction domain: its conductivity
(Pt ~10⁷ S/m) exceeds the films' by ~10¹⁰, so it is the equipotential boundary
the model prescribes. A deformed electrode enters through the mesh
(:func:`femion.build_mesh` with ``interface_profile``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from femion import fvm
from femion.config import Device
from femion.constants import VACUUM_PERMITTIVITY
from femion.mesh import AxisymmetricMesh
from femion.physics import arrhenius

__all__ = [
    "ElectrostaticsModule",
    "FieldEnhancement",
    "InterfaceLaw",
    "PotentialSolution",
    "PotentialSolver",
    "REFERENCE_TEMPERATURE",
    "capacitance",
    "conduction_regions",
    "electrode_interface",
    "field_enhancement",
    "layer_conductivity",
    "layer_permittivity",
    "parallel_plate_capacitance",
    "solve_potential",
]

REFERENCE_TEMPERATURE = 298.15
"""Temperature [K] at which the database's conductivities are quoted."""


def conduction_regions(device: Device) -> tuple[str, ...]:
    """Regions that carry current: the bottom electrode and the films."""
    return (device.bottom_electrode.name, *(layer.name for layer in device.films))


def electrode_interface(device: Device) -> str:
    """Name of the top-electrode/film interface group (e.g. ``"Pt|WO3"``)."""
    return f"{device.top_electrode.name}|{device.films[-1].name}"


def layer_conductivity(mesh: AxisymmetricMesh, device: Device, temperature: float | None = None) -> np.ndarray:
    """Pristine layer-wise conductivity κ [S/m] of each cell, shape (n_cells,).

    κ = σ_e + σ_Li(T), with σ_e the material's ``electronic_conductivity`` and,
    where the material defines it, the Li⁺ ionic conductivity
    σ_Li(T) = σ_Li(T_ref) exp[−(E_a/k)(1/T − 1/T_ref)] (Arrhenius, T_ref =
    298.15 K; LiPON: Yu et al., J. Electrochem. Soc. 144, 524 (1997)).

    Parameters
    ----------
    mesh
        Mesh whose regions are device layers.
    device
        Supplies the materials and (by default) the temperature.
    temperature
        Temperature [K]; default ``device.temperature``.

    Raises
    ------
    femion.MaterialError
        If a layer's material lacks ``electronic_conductivity``.
    ValueError
        If the temperature is not positive and finite.
    """
    temperature = device.temperature if temperature is None else float(temperature)
    if not (np.isfinite(temperature) and temperature > 0.0):
        raise ValueError(f"temperature must be positive and finite, got {temperature!r}")
    values = np.empty(len(mesh.region_names))
    for index, region in enumerate(mesh.region_names):
        material = device.material(region)
        kappa = material.value("electronic_conductivity")
        if "li_ionic_conductivity" in material:
            kappa += arrhenius(
                material.value("li_ionic_conductivity"), material.value("li_activation_energy"), temperature, REFERENCE_TEMPERATURE
            )
        values[index] = kappa
    return values[mesh.cell_regions]


def layer_permittivity(mesh: AxisymmetricMesh, device: Device) -> np.ndarray:
    """Layer-wise permittivity ε = ε₀ ε_r [F/m] of each cell, shape (n_cells,).

    Raises
    ------
    femion.MaterialError
        If a layer's material lacks ``relative_permittivity``.
    """
    values = np.array([device.material(region).value("relative_permittivity") for region in mesh.region_names])
    return VACUUM_PERMITTIVITY * values[mesh.cell_regions]


@dataclass(frozen=True, eq=False)
class PotentialSolution:
    """Potential, field and current of one (quasi-)static solve.

    Attributes
    ----------
    mesh : AxisymmetricMesh
        Conduction mesh the solution lives on.
    phi : ndarray, shape (n_cells,)
        Potential at cell centroids [V].
    field : ndarray, shape (n_cells, 2)
        E = −∇φ, components (E_r, E_z) [V/m], flux-consistent reconstruction.
    face_field : ndarray, shape (n_faces,)
        Normal component of E on each face [V/m], oriented out of
        ``mesh.face_cells[:, 0]`` (zero on insulating faces).
    current_density : ndarray, shape (n_cells, 2)
        Conduction current density κE [A/m²].
    face_current_density : ndarray, shape (n_faces,)
        Normal current density (conduction + displacement) on each face
        [A/m²], oriented out of ``mesh.face_cells[:, 0]``.
    voltage : float
        Electrode potential [V].
    current : float
        Device current into the grounded contact, conduction + displacement [A]
        (positive for V > 0).
    displacement_current : float
        Displacement part of ``current`` [A] (0 for a steady solve).
    electrode_current : float
        Current leaving through the biased electrode [A]; equals −current to
        round-off (charge conservation).
    conductivity, permittivity : ndarray, shape (n_cells,)
        κ [S/m] and ε [F/m] used (permittivity None for a steady solve).
    electrode, ground : str
        Boundary group names of the contacts.
    differential_conductance : float or None
        G_d = dI/dV [S] of the frozen problem (κ, ε/Δt and the interface laws
        held fixed; :meth:`PotentialSolver.solve` with ``response``), None if
        not computed. Differs from ``conductance`` = I/V when the interfaces
        carry an emf or charge is stored from the previous step.
    """

    mesh: AxisymmetricMesh
    phi: np.ndarray
    field: np.ndarray
    face_field: np.ndarray
    current_density: np.ndarray
    face_current_density: np.ndarray
    voltage: float
    current: float
    displacement_current: float
    electrode_current: float
    conductivity: np.ndarray
    permittivity: np.ndarray | None
    electrode: str
    ground: str
    differential_conductance: float | None = None

    @property
    def conductance(self) -> float:
        """G = I/V [S] (conduction and displacement).

        Raises
        ------
        ValueError
            At zero applied voltage.
        """
        if self.voltage == 0.0:
            raise ValueError("conductance is undefined at zero voltage")
        return self.current / self.voltage

    def contact_current_density(self, boundary: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Normal current density into a contact along r (conduction + displacement).

        Returns
        -------
        (ndarray, ndarray), each shape (n_faces_on_contact,)
            Face-midpoint r [m] (sorted) and outward current density [A/m²].
        """
        faces = np.flatnonzero(self.mesh.face_mask(boundary or self.ground))
        order = np.argsort(self.mesh.r_face[faces])
        return self.mesh.r_face[faces][order], self.face_current_density[faces][order]


def _check_cell_field(name: str, values: np.ndarray | None, mesh: AxisymmetricMesh, allow_zero: bool = False) -> np.ndarray:
    values = np.asarray(values, dtype=float)
    if values.shape != (mesh.n_cells,):
        raise ValueError(f"{name} must have shape ({mesh.n_cells},), got {values.shape}")
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} has {np.count_nonzero(~np.isfinite(values))} non-finite values")
    if np.any(values < 0.0) or (not allow_zero and np.any(values == 0.0)):
        raise ValueError(f"{name} must be positive")
    return values


@dataclass(frozen=True, eq=False)
class InterfaceLaw:
    """A linear interface law on faces: i = G (φ_0 − φ_1 − e).

    i [A/m²] is the current density through the face from its owner cell
    (``face_cells[:, 0]``) to its neighbour; G [S/m²] the interface
    conductance and e [V] the interface emf, both oriented owner → neighbour.

    Attributes
    ----------
    faces : ndarray of int, shape (n,)
        Interior faces of the mesh carrying the law.
    conductance : ndarray, shape (n,)
        G [S/m²], positive and finite.
    emf : ndarray, shape (n,)
        e [V], finite.
    """

    faces: np.ndarray
    conductance: np.ndarray
    emf: np.ndarray

    def apply(self, mesh: AxisymmetricMesh, kappa_face: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Face coefficients with the interface in series, the emf face fluxes and cell sources.

        Returns
        -------
        (ndarray, ndarray, ndarray)
            Γ_f [S/m] (n_faces,); emf part of the owner-outward face flux as
            returned by :func:`femion.fvm.face_fluxes` (n_faces,); emf source of
            each cell per unit area in FiPy's equation (n_cells,).

        Raises
        ------
        ValueError
            On exterior faces, non-positive or non-finite G, non-finite e.
        """
        faces = np.asarray(self.faces, dtype=int)
        conductance = np.asarray(self.conductance, dtype=float)
        emf = np.asarray(self.emf, dtype=float)
        if np.any(mesh.face_cells[faces, 1] < 0):
            raise ValueError("interface laws apply to interior faces only")
        if not (np.all(np.isfinite(conductance)) and np.all(conductance > 0.0) and np.all(np.isfinite(emf))):
            raise ValueError("interface conductance must be positive and finite and the emf finite")
        distance = mesh.cell_distances[faces]
        kappa_face = np.array(kappa_face, dtype=float)
        kappa_face[faces] = distance / (distance / kappa_face[faces] + 1.0 / conductance)
        transmissibility = mesh.transmissibility[faces]
        # Outward flux of the owner per unit face length... as fvm.face_fluxes: coeff·T·(u_0 − u_1) − coeff·T·e.
        flux = np.zeros(len(mesh.faces))
        flux[faces] = -kappa_face[faces] * transmissibility * emf
        weighted = flux * mesh.r_face
        source = np.bincount(mesh.face_cells[:, 0], weights=weighted, minlength=mesh.n_cells)
        source -= np.bincount(np.maximum(mesh.face_cells[:, 1], 0), weights=np.where(mesh.face_cells[:, 1] >= 0, weighted, 0.0), minlength=mesh.n_cells)
        return kappa_face, flux, -source / mesh.areas


class PotentialSolver:
    """Reusable solver of the potential problem on one mesh and pair of contacts.

    Holds the two-point sparsity pattern (:class:`femion.fvm.TwoPointOperator`),
    so that repeated solves (every step of the coupled loop) only refill
    coefficient values and factorise. :func:`solve_potential` is the one-shot
    form.

    Parameters
    ----------
    mesh
        Conduction mesh; ``electrode`` and ``ground`` must be exterior boundary groups.
    electrode, ground
        Boundary group names.

    Raises
    ------
    ValueError
        If a contact group has interior faces.
    femion.MeshError
        Missing boundary groups.
    """

    def __init__(self, mesh: AxisymmetricMesh, *, electrode: str, ground: str = "bottom_contact"):
        mesh.require(boundaries=(electrode, ground))
        for name in (electrode, ground):
            if np.any(mesh.face_cells[mesh.face_mask(name), 1] >= 0):
                raise ValueError(
                    f"contact {name!r} has interior faces on this mesh; solve on the conduction submesh "
                    "(mesh.submesh(conduction_regions(device))) so that contacts are exterior boundaries"
                )
        self.mesh, self.electrode, self.ground = mesh, electrode, ground
        self._electrode_faces = mesh.face_mask(electrode)
        self._dirichlet = mesh.face_mask(electrode, ground)
        self._operator = fvm.TwoPointOperator(mesh, dirichlet=self._dirichlet)

    def solve(
        self,
        conductivity: np.ndarray,
        voltage: float,
        *,
        permittivity: np.ndarray | None = None,
        dt: float | None = None,
        previous: PotentialSolution | None = None,
        interface: InterfaceLaw | None = None,
        response: bool = False,
        circuit: Callable[[float, float, float], float] | None = None,
    ) -> PotentialSolution:
        """Solve current continuity with φ = ``voltage`` on ``electrode`` and 0 on ``ground``.

        Without ``dt``: the steady problem ∇·(κ∇φ) = 0. With ``dt`` and
        ``permittivity``: one implicit-Euler step of ∇·(κ∇φ) + ∂_t∇·(ε∇φ) = 0 from
        ``previous`` (or from φ = 0 everywhere, an uncharged device).

        Parameters
        ----------
        conductivity
            κ per cell [S/m], shape (n_cells,), positive and finite.
        voltage
            Electrode potential [V] (at the end of the step).
        permittivity
            ε per cell [F/m], shape (n_cells,); needed with ``dt``.
        dt
            Time step [s] for the displacement current.
        previous
            Solution at the start of the step (same mesh).
        interface
            Interface law i = G (φ_0 − φ_1 − e) on interior faces of this mesh
            (:class:`InterfaceLaw`), or None.
        response
            Also compute the differential conductance G_d = dI/dV [S] of this
            (frozen) problem: the current of the unit response φ_1 (φ = 1 V on
            the electrode, no emf, no stored charge), one more right-hand side
            of the same factorisation. The problem is affine in V, so
            φ(V') = φ(V) + (V' − V) φ_1 and I(V') = I(V) + G_d (V' − V)
            exactly; G_d includes the interface laws in series and, with ``dt``,
            the displacement term ε/Δt.
        circuit
            The external circuit, solved within this solve: called once as
            ``circuit(voltage, I(voltage), G_d)`` [V, A, S], it returns the
            electrode voltage V' [V] that meets the circuit equation for the
            affine I(V) above (:meth:`femion.coupling.Drive.electrode_voltage`);
            the solution is then the one at V' (``voltage`` is only the point of
            expansion). Implies ``response``.

        Returns
        -------
        PotentialSolution
            With ``differential_conductance`` set when ``response`` or ``circuit`` is given.

        Raises
        ------
        ValueError
            Non-finite voltage; κ or ε of wrong shape, non-finite or not positive;
            ``dt`` without ``permittivity`` or not positive; ``previous`` on another
            mesh; a contact group with interior faces (solve on the conduction submesh);
            a non-finite voltage returned by ``circuit``.
        """
        mesh = self.mesh
        if not np.isfinite(voltage):
            raise ValueError(f"voltage must be finite, got {voltage!r}")
        kappa = _check_cell_field("conductivity", conductivity, mesh)
        dirichlet = self._dirichlet
        boundary_values = np.where(self._electrode_faces, float(voltage), 0.0)
        kappa_face = fvm.face_values_harmonic(mesh, kappa)
        emf_source = np.zeros(mesh.n_cells)
        emf_flux = np.zeros(len(mesh.faces))
        if interface is not None:
            kappa_face, emf_flux, emf_source = interface.apply(mesh, kappa_face)
        if dt is None:
            eps = None if permittivity is None else _check_cell_field("permittivity", permittivity, mesh)
            capacitive_face, old_flux, stored = 0.0, 0.0, np.zeros(mesh.n_cells)
        else:
            if permittivity is None or not (np.isfinite(dt) and dt > 0.0):
                raise ValueError("a transient solve needs permittivity and a positive, finite dt")
            eps = _check_cell_field("permittivity", permittivity, mesh)
            capacitive_face = fvm.face_values_harmonic(mesh, eps) / dt
            if previous is None:
                old_phi, old_boundary = np.zeros(mesh.n_cells), np.zeros(len(mesh.faces))
            else:
                if previous.mesh is not mesh:
                    raise ValueError("previous solution lives on another mesh")
                old_phi = previous.phi
                old_boundary = np.where(self._electrode_faces, previous.voltage, 0.0)
            stored = fvm.apply_operator(mesh, old_phi, capacitive_face, dirichlet, old_boundary) / mesh.areas
            old_flux = fvm.face_fluxes(mesh, old_phi, capacitive_face, dirichlet, old_boundary)
        coefficient = kappa_face + capacitive_face
        rhs = self._operator.dirichlet_rhs(boundary_values, coefficient) - (stored - emf_source) * mesh.areas
        # One step of iterative refinement (same factorisation): with the 10¹⁰ conductivity contrast of
        # the stack the residual of the poorly conducting rows would otherwise show as a charge imbalance.
        solve = self._operator.factorized(coefficient)
        conductance = None
        if not (response or circuit is not None):
            values = solve(rhs)
            values = values + solve(rhs - self._operator.assemble(coefficient) @ values)
        else:
            # The unit response φ_1 (φ = 1 V on the electrode, no emf, no stored charge) with the same factors:
            # φ(V') = φ(V) + (V' − V) φ_1 exactly, and G_d = I(φ_1) is dI/dV of the frozen problem.
            unit_boundary = np.where(self._electrode_faces, 1.0, 0.0)
            both = np.column_stack([rhs, self._operator.dirichlet_rhs(unit_boundary, coefficient)])
            first = solve(both)
            first = first + solve(both - self._operator.assemble(coefficient) @ first)
            values, unit = first[:, 0], first[:, 1]
            conductance = _contact_total(mesh, fvm.face_fluxes(mesh, unit, coefficient, dirichlet, unit_boundary), self.ground)
            if circuit is not None:
                current = _contact_total(mesh, fvm.face_fluxes(mesh, values, coefficient, dirichlet, boundary_values) + emf_flux - old_flux,
                                         self.ground)
                target = float(circuit(float(voltage), current, conductance))
                if not np.isfinite(target):
                    raise ValueError(f"the circuit returned a non-finite electrode voltage {target!r}")
                if target != voltage:
                    values = values + (target - voltage) * unit
                    voltage, boundary_values = target, np.where(self._electrode_faces, target, 0.0)
        conduction_flux = fvm.face_fluxes(mesh, values, kappa_face, dirichlet, boundary_values) + emf_flux
        displacement_flux = fvm.face_fluxes(mesh, values, capacitive_face, dirichlet, boundary_values) - old_flux
        field_normal = fvm.face_fluxes(mesh, values, 1.0, dirichlet, boundary_values) / mesh.face_lengths
        field = -fvm.flux_gradient(mesh, values, kappa if dt is None else kappa + eps / dt, dirichlet, boundary_values)

        def contact_total(flux: np.ndarray, name: str) -> float:
            return _contact_total(mesh, flux, name)

        total_flux = conduction_flux + displacement_flux
        return PotentialSolution(
            mesh=mesh,
            phi=values,
            field=field,
            face_field=field_normal,
            current_density=kappa[:, None] * field,
            face_current_density=total_flux / mesh.face_lengths,
            voltage=float(voltage),
            current=contact_total(total_flux, self.ground),
            displacement_current=contact_total(np.broadcast_to(displacement_flux, total_flux.shape), self.ground),
            electrode_current=contact_total(total_flux, self.electrode),
            conductivity=kappa,
            permittivity=eps,
            electrode=self.electrode,
            ground=self.ground,
            differential_conductance=conductance,
        )


def _contact_total(mesh: AxisymmetricMesh, flux: np.ndarray, name: str) -> float:
    """2π Σ_f flux_f r_f over the faces of boundary group ``name`` [A for a current flux]."""
    return float(2.0 * np.pi * np.sum((flux * mesh.r_face)[mesh.face_mask(name)]))


def solve_potential(
    mesh: AxisymmetricMesh,
    conductivity: np.ndarray,
    voltage: float,
    *,
    electrode: str,
    ground: str = "bottom_contact",
    permittivity: np.ndarray | None = None,
    dt: float | None = None,
    previous: PotentialSolution | None = None,
) -> PotentialSolution:
    """Solve current continuity with φ = ``voltage`` on ``electrode`` and 0 on ``ground`` (one shot).

    Without ``dt``: the steady problem ∇·(κ∇φ) = 0. With ``dt`` and
    ``permittivity``: one implicit-Euler step of ∇·(κ∇φ) + ∂_t∇·(ε∇φ) = 0 from
    ``previous`` (or from φ = 0 everywhere, an uncharged device). For repeated
    solves on one mesh use :class:`PotentialSolver`, whose :meth:`~PotentialSolver.solve`
    documents ``conductivity``, ``voltage``, ``permittivity``, ``dt`` and ``previous``.

    Parameters
    ----------
    mesh
        Conduction mesh; ``electrode`` and ``ground`` must be exterior boundary
        groups of it (e.g. the submesh of :func:`conduction_regions`).
    electrode, ground
        Boundary group names.

    Returns
    -------
    PotentialSolution

    Raises
    ------
    ValueError
        As :meth:`PotentialSolver.solve`, and for contacts with interior faces.
    femion.MeshError
        Missing boundary groups.
    """
    return PotentialSolver(mesh, electrode=electrode, ground=ground).solve(
        conductivity, voltage, permittivity=permittivity, dt=dt, previous=previous
    )


def capacitance(mesh: AxisymmetricMesh, device: Device) -> float:
    """Electrostatic capacitance [F] of the film stack: ∇·(ε∇φ) = 0, C = Q/V.

    Solved on the films of ``mesh`` (the electrodes are the equipotential
    boundaries: the top-electrode interface and the bottom electrode's top
    surface), with layer permittivities. Q is the charge on the grounded
    side, 2π ∮ ε ∇φ·n r ds, equal to minus the electrode charge to round-off.
    Fields outside the mesh (the air above the films) are not included.

    Parameters
    ----------
    mesh
        A mesh of the device containing its film regions.
    device
        Supplies the film names and permittivities.

    Raises
    ------
    femion.MaterialError
        If a film lacks ``relative_permittivity``.
    """
    films = mesh.submesh(tuple(layer.name for layer in device.films))
    ground = f"{device.films[0].name}|{device.bottom_electrode.name}"
    solution = solve_potential(films, layer_permittivity(films, device), 1.0, electrode=electrode_interface(device), ground=ground)
    return solution.current


def parallel_plate_capacitance(device: Device) -> float:
    """C_pp = A / Σ(t_i/ε_i) [F] of the film stack under the electrode (no fringe), A = π R_e²."""
    inverse = sum(
        layer.thickness / (VACUUM_PERMITTIVITY * device.material(layer.name).value("relative_permittivity"))
        for layer in device.films
    )
    return np.pi * device.electrode_radius**2 / inverse


@dataclass(frozen=True, eq=False)
class FieldEnhancement:
    """Field enhancement β = |E| / (|V|/d).

    Attributes
    ----------
    beta : ndarray, shape (n_cells,)
        β in every cell of the conduction mesh.
    center : float
        β_center: β in the film cell touching the electrode nearest the axis.
    edge : float
        β_edge: r-weighted mean of β over the film cells of the top film whose
        centroids lie within ``edge_window`` of the electrode edge (r = R_e on
        the electrode/film interface). The field at a sharp electrode edge is
        singular but integrable, so this mean converges under refinement where
        a point value would not.
    edge_window : float
        Radius of the averaging window [m] (default d/4, resolved by several
        cells of the default mesh: β_edge changes by < 1 % from the quick to a
        twice-refined mesh).
    interface_r, interface_beta : ndarray
        β in the top-film cells touching the electrode and the air surface,
        sorted by r (for line plots along the Pt/WO3 interface).
    """

    beta: np.ndarray
    center: float
    edge: float
    edge_window: float
    interface_r: np.ndarray
    interface_beta: np.ndarray


def field_enhancement(
    solution: PotentialSolution, device: Device, edge_window: float | None = None
) -> FieldEnhancement:
    """β = |E| / (|V|/d), with d the electrode-to-electrode film thickness.

    Parameters
    ----------
    solution
        Potential solved on the conduction mesh of ``device``.
    device
        Supplies d, R_e and the electrode interface.
    edge_window
        Averaging radius for β_edge [m]; default d/4.

    Raises
    ------
    ValueError
        If the applied voltage is zero (β undefined).
    """
    if solution.voltage == 0.0:
        raise ValueError("field enhancement is undefined at zero voltage")
    mesh = solution.mesh
    d = device.film_stack_thickness
    window = 0.25 * d if edge_window is None else edge_window
    beta = np.hypot(*solution.field.T) / (abs(solution.voltage) / d)
    top_faces = mesh.face_mask(electrode_interface(device), "air_surface")
    touching = np.unique(mesh.face_cells[top_faces, 0])
    touching = touching[np.argsort(mesh.r_cell[touching])]
    electrode_faces = mesh.face_mask(electrode_interface(device))
    z_edge = mesh.face_centers[electrode_faces, 1][np.argmax(mesh.r_face[electrode_faces])]
    top_film = mesh.region_mask(device.films[-1].name)
    distance = np.hypot(mesh.r_cell - device.electrode_radius, mesh.cell_centroids[:, 1] - z_edge)
    near = (distance < window) & top_film
    if not near.any():
        near = top_film & (distance <= distance[top_film].min())
    weights = mesh.r_volumes[near]
    return FieldEnhancement(
        beta=beta,
        center=float(beta[touching[0]]),
        edge=float(np.sum(beta[near] * weights) / np.sum(weights)),
        edge_window=window,
        interface_r=mesh.r_cell[touching],
        interface_beta=beta[touching],
    )


class ElectrostaticsModule:
    """Coupled-loop module for the electric potential (see :mod:`femion.coupling`).

    Owns ``phi`` [V] (conduction cells; the top electrode carries V, the
    substrate 0), ``i_interface`` [A/m²] (the current density through each
    electrochemical interface face, from the host into the electrolyte, stored
    on the host cell next to the face; zero elsewhere) and the device current;
    reads the conductivity that the other modules add through their
    ``conductivity(state, kappa)`` hooks on top of the pristine layer values
    (:func:`layer_conductivity`), and the interface laws of modules with an
    ``interfaces(state, dt, start)`` hook. When the external circuit leaves
    the electrode voltage unknown, it also sets the voltage and the frozen
    differential conductance (:meth:`advance`).

    Parameters
    ----------
    mesh
        Full device mesh.
    device
        The device.
    providers
        Modules whose ``conductivity(state, kappa)`` overwrite κ in their cells.
    interfaces
        Modules whose ``interfaces(state, dt, start)`` return a list of
        ``(group, host_cells, conductance, emf)``: an interface group name of the
        mesh, the full-mesh indices of the host cells along it, and per host
        cell G [S/m²] and e [V] of the law i = G (φ_host − φ_electrolyte − e).
    """

    name = "electrostatics"
    owns = ("phi", "i_interface", "joule")
    derived = ("i_interface", "joule")
    reads = ("kappa",)
    field_scales = {"phi": 1e-3}
    """φ changes are measured against at least 1 mV [V] (coupling convergence, local-error estimate): at open circuit
    φ relaxes to 0 V, where a purely relative measure would chase round-off."""

    def __init__(self, mesh: AxisymmetricMesh, device: Device, providers: list | tuple = (), interfaces: list | tuple = ()):
        self.mesh = mesh
        self.device = device
        self.providers = list(providers)
        self.interface_providers = list(interfaces)
        self.stack = mesh.submesh(conduction_regions(device))
        self._cells = self.stack.parent_cells
        self._electrode_cells = mesh.region_mask(device.top_electrode.name)
        self._base = np.zeros(mesh.n_cells)
        self._base[self._cells] = layer_conductivity(self.stack, device)
        self._solver = PotentialSolver(self.stack, electrode=electrode_interface(device))
        self._electrode_faces = self.stack.face_mask(electrode_interface(device))
        self._contact_faces = self.stack.face_mask(electrode_interface(device), "bottom_contact")
        self._face_of_cell: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.last_solution: PotentialSolution | None = None

    def _interface_faces(self, group: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Stack faces of ``group``, their host-side full-mesh cells and the orientation sign (+1: owner is host)."""
        if group not in self._face_of_cell:
            stack = self.stack
            faces = np.flatnonzero(stack.face_mask(group))
            owner, neighbour = stack.face_cells[faces, 0], stack.face_cells[faces, 1]
            if np.any(neighbour < 0):
                raise ValueError(f"interface {group!r} has exterior faces on the conduction mesh")
            self._face_of_cell[group] = (faces, stack.parent_cells[owner], stack.parent_cells[neighbour])
        return self._face_of_cell[group]

    def interface_law(self, state, dt: float, start) -> tuple[InterfaceLaw | None, list]:
        """Collect the interface laws of the providers as one :class:`InterfaceLaw` on the stack mesh."""
        faces, conductance, emf, records = [], [], [], []
        for provider in self.interface_providers:
            for group, host_cells, g, e in provider.interfaces(state, dt, start):
                stack_faces, owner, neighbour = self._interface_faces(group)
                lookup = np.full(self.mesh.n_cells, -1)
                lookup[np.asarray(host_cells)] = np.arange(len(host_cells))
                owner_is_host = lookup[owner] >= 0
                host = np.where(owner_is_host, owner, neighbour)
                index = lookup[host]
                if np.any(index < 0):
                    raise ValueError(f"interface {group!r}: host cells do not cover the interface faces")
                sign = np.where(owner_is_host, 1.0, -1.0)
                faces.append(stack_faces)
                conductance.append(np.asarray(g)[index])
                emf.append(sign * np.asarray(e)[index])
                records.append((stack_faces, host, sign))
        if not faces:
            return None, records
        return InterfaceLaw(np.concatenate(faces), np.concatenate(conductance), np.concatenate(emf)), records

    def conductivity(self, state) -> np.ndarray:
        """κ [S/m] on the full mesh for ``state``, shape (n_cells,)."""
        kappa = self._base.copy()
        for provider in self.providers:
            provider.conductivity(state, kappa)
        return kappa

    def initialize(self, state) -> None:
        """φ = 0 everywhere (no bias), no interface current, no Joule heat."""
        state.fields["phi"] = np.zeros(self.mesh.n_cells)
        state.fields["i_interface"] = np.zeros(self.mesh.n_cells)
        state.fields["joule"] = np.zeros(self.mesh.n_cells)
        state.fields["kappa"] = self.conductivity(state)

    def advance(self, state, dt: float, start):
        """Solve the steady potential with κ and interface laws from ``state``.

        Under a plain voltage source (``state.drive`` None) at ``state.voltage``.
        When V is an unknown of the external circuit (``state.drive`` a
        :class:`femion.coupling.Drive` with compliance, series resistor or
        current control), the circuit equation is solved within the same
        solve (:meth:`PotentialSolver.solve` with ``circuit``, expanded at
        ``state.voltage``; :meth:`femion.coupling.Drive.electrode_voltage`):
        ``state.voltage`` becomes the electrode voltage that meets it for the
        frozen κ and interface laws, and ``state.conductance`` the
        differential conductance dI/dV [S] of that frozen problem.
        """
        from femion.coupling import ModuleReport

        kappa = self.conductivity(state)
        law, records = self.interface_law(state, dt, start)
        drive = getattr(state, "drive", None)
        if drive is None or drive.fixed_voltage:
            solution = self._solver.solve(kappa[self._cells], state.voltage, interface=law)
        else:
            solution = self._solver.solve(kappa[self._cells], state.voltage, interface=law,
                                          circuit=lambda v, i, g: drive.electrode_voltage(v, i, g)[0])
            state.voltage = solution.voltage
            state.conductance = solution.differential_conductance
        phi = np.zeros(self.mesh.n_cells)
        phi[self._cells] = solution.phi
        phi[self._electrode_cells] = state.voltage
        current = np.zeros(self.mesh.n_cells)
        for faces, host, sign in records:
            current[host] = sign * solution.face_current_density[faces]
        from femion.physics.thermal import joule_heating

        joule = np.zeros(self.mesh.n_cells)
        joule[self._cells] = joule_heating(self.stack, solution.phi, kappa[self._cells], self._contact_faces,
                                           np.where(self._electrode_faces, state.voltage, 0.0), interface=law)
        state.fields["phi"] = phi
        state.fields["i_interface"] = current
        state.fields["kappa"] = kappa
        state.fields["joule"] = joule
        state.current = solution.current
        self.last_solution = solution
        return ModuleReport(converged=True, iterations=1, residual=0.0)
