"""Verification problems with analytic or independent reference solutions.

Each function builds a problem on femion's own meshes, solves it with femion's
own solvers and returns the numbers the test suite asserts; they double as
examples of the API.

* :func:`manufactured_diffusion` — layered axisymmetric diffusion, steady and transient;
* :func:`series_resistance` — layered conductor in the 1D limit;
* :func:`disk_capacitor` — circular parallel-plate capacitor with fringe field
  (checked in the tests against Love's integral equation and Kirchhoff's formula).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from femion import fvm
from femion.config import Device
from femion.geometry import MeshSettings
from femion.mesh import AxisymmetricMesh, build_mesh

from femion._disk_capacitor import disk_capacitor

__all__ = ["MMSResult", "disk_capacitor", "manufactured_diffusion", "series_resistance"]

# Layer-wise diffusivities of the manufactured problem [m²/s]: contrasts of up
# to 17x between neighbouring layers exercise the harmonic face means.
_MMS_DIFFUSIVITY = {"ITO": 5.0e-14, "MoO3": 0.3e-14, "LiPON": 2.0e-14, "WO3": 0.5e-14}
_MMS_TIME_SCALE = 100.0  # s


@dataclass(frozen=True)
class MMSResult:
    """Error of a manufactured-solution solve.

    Attributes
    ----------
    error : float
        Relative r-weighted L2 error at cell centroids,
        sqrt(Σ r_c A (u_h − u)²) / sqrt(Σ r_c A u²).
    n_cells : int
        Cells in the solve.
    h : float
        Representative cell size sqrt(area / n_cells) [m].
    """

    error: float
    n_cells: int
    h: float


def _mms_fields(mesh: AxisymmetricMesh, device: Device, r: np.ndarray, z: np.ndarray, region: np.ndarray):
    """Manufactured u_steady(r, z) and its source −∇·(D∇u) at points in layers ``region``."""
    layers = list(_MMS_DIFFUSIVITY)
    bottom = device.interface_heights()[f"{device.bottom_electrode.name}|substrate"]
    # Stretched coordinate s(z) = ∫ dz / D makes D ∂u/∂z continuous across layers.
    z_low, s_low, diffusivity = {}, {}, {}
    z_cursor, s_cursor = bottom, 0.0
    for name in layers:
        thickness = device.layer(name).thickness
        z_low[name], s_low[name], diffusivity[name] = z_cursor, s_cursor, _MMS_DIFFUSIVITY[name]
        z_cursor += thickness
        s_cursor += thickness / _MMS_DIFFUSIVITY[name]
    s_top = s_cursor
    names = np.array(mesh.region_names)[region]
    d = np.array([diffusivity[n] for n in names])
    s = np.array([s_low[n] for n in names]) + (z - np.array([z_low[n] for n in names])) / d
    k_r = np.pi / device.film_radius
    k_s = np.pi / (1.5 * s_top)
    f = np.cos(k_r * r)
    laplacian_f = -k_r**2 * f - k_r**2 * np.sinc(k_r * r / np.pi)  # f'' + f'/r
    h = np.cos(k_s * s)
    h_second = -k_s**2 * h
    u = f * h
    source = -d * h * laplacian_f - f * h_second / d
    return u, source, d


def manufactured_diffusion(
    device: Device | None = None, settings: MeshSettings = MeshSettings(), transient: bool = False
) -> MMSResult:
    """Axisymmetric layered diffusion by a manufactured solution on femion's mesh.

    Domain: the bottom electrode and the films (``ITO`` … ``WO3``) of the
    device, 0 ≤ r ≤ R_film. Diffusivity D is constant per layer
    (:data:`_MMS_DIFFUSIVITY`, contrasts up to 17×). Exact solution

        u(r, z, t) = (1 + t/τ) cos(π r / R_film) cos(k s(z)),  s(z) = ∫ dz'/D(z'),

    continuous with continuous flux D ∂u/∂z across interfaces; zero flux on the
    axis (by symmetry) and at r = R_film (∂u/∂r = 0); Dirichlet on the top and
    bottom. The source S = ∂u/∂t − ∇·(D∇u) uses the axisymmetric divergence
    (1/r)∂(r F_r)/∂r + ∂F_z/∂z. The transient case takes five implicit-Euler
    steps of τ/5, which integrate a solution linear in t exactly, so the error
    is purely spatial.

    Parameters
    ----------
    device
        Device whose stack is meshed (default: the reference device).
    settings
        Mesh resolution (vary ``refinement`` for convergence studies).
    transient
        Solve the time-dependent problem instead of the steady one.

    Returns
    -------
    MMSResult
    """
    from femion.config import load_device

    device = device or load_device()
    full = build_mesh(device, settings=settings)
    mesh = full.submesh(tuple(_MMS_DIFFUSIVITY))
    r, z = mesh.cell_centroids.T
    u_exact, source_steady, d_cell = _mms_fields(mesh, device, r, z, mesh.cell_regions)
    d_face = fvm.face_values_harmonic(mesh, d_cell)

    top_name = f"{device.films[-1].name}"
    dirichlet = mesh.face_mask("bottom_contact", "air_surface", f"{device.top_electrode.name}|{top_name}")
    face_r, face_z = mesh.face_centers.T
    # Face regions for evaluating the exact solution on boundary faces.
    face_cell = mesh.face_cells[:, 0]
    u_face, _, _ = _mms_fields(mesh, device, face_r, face_z, mesh.cell_regions[face_cell])

    # Two-point finite volumes assembled in numpy (the matrix FiPy's diffusion term gives, negated:
    # tests/unit/test_fvm_operator.py), r-weighted: K u = Σ_Dirichlet r_f T_f D_f u_b + r_c A_c S.
    operator = fvm.TwoPointOperator(mesh, dirichlet)
    if not transient:
        rhs = operator.dirichlet_rhs(u_face, d_face) + mesh.r_volumes * source_steady
        u = operator.factorized(d_face)(rhs)
    else:
        steps, tau = 5, _MMS_TIME_SCALE
        dt = tau / steps
        u = u_exact.copy()
        solve = operator.factorized(d_face, diagonal=mesh.r_volumes / dt)
        for step in range(1, steps + 1):
            growth = 1.0 + step * dt / tau
            source = u_exact / tau + growth * source_steady
            u = solve(mesh.r_volumes * (u / dt + source) + operator.dirichlet_rhs(growth * u_face, d_face))
        u_exact = growth * u_exact
    error_values = u - u_exact
    weights = mesh.r_volumes
    error = float(np.sqrt(np.sum(weights * error_values**2) / np.sum(weights * u_exact**2)))
    return MMSResult(error=error, n_cells=mesh.n_cells, h=float(np.sqrt(mesh.areas.sum() / mesh.n_cells)))


def series_resistance(device: Device | None = None, settings: MeshSettings = MeshSettings()) -> tuple[float, float]:
    """Layered conductor under the electrode: numerical vs series-resistance current.

    The conduction stack (bottom electrode and films) restricted to r ≤ R_e
    (the film outside made insulating by leaving it out), φ = V on the top
    electrode interface, 0 on the bottom contact, layer-wise conductivity from
    the materials database. The 1D solution is I = V π R_e² / Σ t_i/κ_i.

    Returns
    -------
    (float, float)
        Device current from femion and from the series formula [A] at V = 0.1 V.
    """
    from femion.config import load_device
    from femion.physics.electrostatics import conduction_regions, layer_conductivity, solve_potential

    device = device or load_device()
    voltage = 0.1
    full = build_mesh(device, settings=settings)
    under = full.cell_centroids[:, 0] < device.electrode_radius
    mesh = full.submesh(conduction_regions(device), cell_mask=under)
    kappa = layer_conductivity(mesh, device)
    solution = solve_potential(mesh, kappa, voltage, electrode=f"{device.top_electrode.name}|{device.films[-1].name}")
    resistance = sum(
        layer.thickness / layer_conductivity_value for layer, layer_conductivity_value in
        ((layer, kappa[mesh.region_mask(layer.name)][0]) for layer in (device.bottom_electrode, *device.films))
    ) / (np.pi * device.electrode_radius**2)
    return solution.current, voltage / resistance
