"""Electric potential and current: quasi-static current continuity (MODEL.md §3.1).

Equations (axisymmetric, per radian, SI):

    ∇·(κ ∇φ) = 0                       in the bottom electrode and the films
    φ = V(t)                           on the top-electrode/film interface (equipotential metal)
    φ = 0                              on ``bottom_contact`` (grounded bottom electrode)
    κ ∇φ·n = 0                         on all other boundaries (insulating)

κ is the total (electronic + ionic) conductivity [S/m], cell-wise; face values
are distance-weighted harmonic means, which make the two-point flux exact for
layered conductors (series resistances). The field is E = −∇φ and the device
current I = 2π ∮ j·n r ds over the grounded contact, with j = −κ∇φ.

The top electrode itself is not part of the conduction domain: its
conductivity (Pt ~10⁷ S/m) exceeds the films' by ~10¹⁰, so it is the
equipotential boundary the MODEL prescribes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from femion import fvm
from femion.config import Device
from femion.constants import BOLTZMANN, EV
from femion.mesh import AxisymmetricMesh

__all__ = [
    "PotentialSolution",
    "REFERENCE_TEMPERATURE",
    "conduction_regions",
    "electrode_interface",
    "field_enhancement",
    "layer_conductivity",
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
    """
    temperature = device.temperature if temperature is None else temperature
    values = np.empty(len(mesh.region_names))
    for index, region in enumerate(mesh.region_names):
        material = device.material(region)
        kappa = material.value("electronic_conductivity")
        if "li_ionic_conductivity" in material:
            activation = material.value("li_activation_energy") * EV
            kappa += material.value("li_ionic_conductivity") * np.exp(
                -activation / BOLTZMANN * (1.0 / temperature - 1.0 / REFERENCE_TEMPERATURE)
            )
        values[index] = kappa
    return values[mesh.cell_regions]


@dataclass(frozen=True, eq=False)
class PotentialSolution:
    """Steady potential and current.

    Attributes
    ----------
    mesh : AxisymmetricMesh
        Conduction mesh the solution lives on.
    phi : ndarray, shape (n_cells,)
        Potential at cell centres [V].
    field : ndarray, shape (n_cells, 2)
        Electric field E = −∇φ, components (E_r, E_z) [V/m].
    voltage : float
        Applied electrode potential [V].
    current : float
        Device current into the grounded contact, 2π ∮ j·n r ds [A]
        (positive for V > 0 with positive κ).
    electrode_current : float
        Current leaving through the biased electrode [A]; equals −current to
        round-off (charge conservation).
    conductivity : ndarray, shape (n_cells,)
        κ used [S/m].
    """

    mesh: AxisymmetricMesh
    phi: np.ndarray
    field: np.ndarray
    voltage: float
    current: float
    electrode_current: float
    conductivity: np.ndarray

    @property
    def conductance(self) -> float:
        """G = I/V [S]."""
        return self.current / self.voltage


def solve_potential(
    mesh: AxisymmetricMesh,
    conductivity: np.ndarray,
    voltage: float,
    *,
    electrode: str,
    ground: str = "bottom_contact",
) -> PotentialSolution:
    """Solve ∇·(κ∇φ) = 0 with φ = ``voltage`` on ``electrode`` and 0 on ``ground``.

    Parameters
    ----------
    mesh
        Conduction mesh; ``electrode`` and ``ground`` must be exterior boundary
        groups of it (e.g. the submesh of :func:`conduction_regions`).
    conductivity
        κ per cell [S/m], shape (n_cells,), positive and finite.
    voltage
        Electrode potential [V].
    electrode, ground
        Boundary group names.

    Returns
    -------
    PotentialSolution

    Raises
    ------
    ValueError
        Non-finite voltage, or conductivity of wrong shape, non-finite or not positive.
    femion.MeshError
        Missing boundary groups.
    """
    if not np.isfinite(voltage):
        raise ValueError(f"voltage must be finite, got {voltage!r}")
    kappa = np.asarray(conductivity, dtype=float)
    if kappa.shape != (mesh.n_cells,) or not np.all(np.isfinite(kappa)) or np.any(kappa <= 0.0):
        raise ValueError(f"conductivity must be positive and finite with shape ({mesh.n_cells},)")
    mesh.require(boundaries=(electrode, ground))
    kappa_face = fvm.face_values_harmonic(mesh, kappa)
    phi = fvm.cell_variable(mesh, 0.0, name="phi")
    phi.constrain(voltage, where=mesh.face_mask(electrode))
    phi.constrain(0.0, where=mesh.face_mask(ground))
    (fvm.diffusion_term(mesh, kappa_face) == 0).solve(var=phi)
    current = 2.0 * np.pi * fvm.boundary_flux(mesh, phi, kappa_face, ground)
    electrode_current = 2.0 * np.pi * fvm.boundary_flux(mesh, phi, kappa_face, electrode)
    field = -np.asarray(phi.grad.value).T
    return PotentialSolution(
        mesh=mesh,
        phi=np.array(phi.value),
        field=field,
        voltage=float(voltage),
        current=current,
        electrode_current=electrode_current,
        conductivity=kappa,
    )


@dataclass(frozen=True, eq=False)
class FieldEnhancement:
    """Field enhancement β = |E| / (|V|/d) (MODEL.md §3.1, §5).

    Attributes
    ----------
    beta : ndarray, shape (n_cells,)
        β in every cell of the conduction mesh.
    center : float
        β_center: β in the film cell touching the electrode nearest the axis.
    edge : float
        β_edge: r-weighted mean of β over the film cells whose centroids lie
        within ``edge_window`` of the electrode edge (r = R_e on the
        electrode/film interface). The field at a sharp electrode edge is
        singular but integrable, so this mean converges under refinement where
        a point value would not.
    edge_window : float
        Radius of the averaging window [m] (default d/10).
    """

    beta: np.ndarray
    center: float
    edge: float
    edge_window: float


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
        Averaging radius for β_edge [m]; default d/10.

    Raises
    ------
    ValueError
        If the applied voltage is zero (β undefined).
    """
    if solution.voltage == 0.0:
        raise ValueError("field enhancement is undefined at zero voltage")
    mesh = solution.mesh
    d = device.film_stack_thickness
    window = 0.1 * d if edge_window is None else edge_window
    beta = np.hypot(*solution.field.T) / (abs(solution.voltage) / d)
    interface = mesh.face_mask(electrode_interface(device))
    touching = np.unique(mesh.face_cells[interface, 0])
    center_cell = touching[np.argmin(mesh.r_cell[touching])]
    z_edge = mesh.face_centers[interface, 1].mean()
    distance = np.hypot(mesh.r_cell - device.electrode_radius, mesh.cell_centroids[:, 1] - z_edge)
    near = distance < window
    if not near.any():
        near = distance <= distance.min()
    weights = mesh.r_volumes[near]
    return FieldEnhancement(
        beta=beta,
        center=float(beta[center_cell]),
        edge=float(np.sum(beta[near] * weights) / np.sum(weights)),
        edge_window=window,
    )
