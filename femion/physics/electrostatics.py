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
