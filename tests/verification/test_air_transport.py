"""Gas diffusion through a porous slab against the steady analytic solutions."""

from __future__ import annotations

import numpy as np
import pytest

from femion import fvm
from femion.mesh import AxisymmetricMesh
from femion.physics import air


def slab(radius: float, heights: np.ndarray, n_r: int = 6) -> AxisymmetricMesh:
    """Rectangular (r, z) grid over [0, radius] x heights with boundaries top, bottom, axis, outer."""
    r = np.linspace(0.0, radius, n_r + 1)
    z = np.asarray(heights, dtype=float)
    rr, zz = np.meshgrid(r, z, indexing="ij")
    nodes = np.column_stack([rr.ravel(), zz.ravel()])
    index = np.arange(len(nodes)).reshape(len(r), len(z))
    cells = np.column_stack(
        [index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()]
    )
    boundaries = {
        "top": np.column_stack([index[:-1, -1], index[1:, -1]]),
        "bottom": np.column_stack([index[:-1, 0], index[1:, 0]]),
        "axis": np.column_stack([index[0, :-1], index[0, 1:]]),
        "outer": np.column_stack([index[-1, :-1], index[-1, 1:]]),
    }
    return AxisymmetricMesh(nodes, cells, np.zeros(len(cells), dtype=int), ("Pt",), boundaries, source="slab")


def test_linear_flux_through_porous_slab_is_exact():
    # c = c_s on top, 0 at the bottom, no reaction: J = D_eff c_s / L, per radian J R^2/2.
    thickness, radius, c_s = 50e-9, 100e-6, 8.51
    mesh = slab(radius, np.geomspace(1, 2, 11) * thickness - thickness)  # graded cells
    eps = 0.2
    d_pore = air.pore_diffusivity(air.molecular_diffusivity(2.02e-5, 300.0), air.knudsen_diffusivity(10e-9, 300.0, 0.032))
    d_eff = air.effective_diffusivity(np.full(mesh.n_cells, eps), d_pore)
    dirichlet = mesh.face_mask("top", "bottom")
    surface = np.where(mesh.face_mask("top"), c_s, 0.0)
    zero = np.zeros(mesh.n_cells)
    c, face_d = air.solve_quasi_steady_gas(mesh, d_eff, zero, zero, dirichlet, surface)
    exact = eps**1.5 * d_pore * c_s / thickness * radius**2 / 2
    inflow = -fvm.boundary_flux(mesh, c, face_d, "top")
    assert inflow == pytest.approx(exact, rel=1e-12)
    assert fvm.boundary_flux(mesh, c, face_d, "bottom") == pytest.approx(exact, rel=1e-12)
    fast = air.GasOperator(mesh, dirichlet).solve(d_eff, zero, zero, surface)
    assert fast == pytest.approx(np.asarray(c.value), rel=1e-12)


def test_two_porous_layers_in_series_and_dense_layer_blocks():
    # Layers of porosity 0.3 over 0.05: J = c_s / (L1/D1 + L2/D2), exact for piecewise-linear c.
    l1, l2, c_s = 30e-9, 20e-9, 1.0
    heights = np.concatenate([np.linspace(0, l2, 5), np.linspace(l2, l1 + l2, 7)[1:]])
    mesh = slab(10e-6, heights, n_r=3)
    z = mesh.cell_centroids[:, 1]
    eps = np.where(z > l2, 0.3, 0.05)
    d = air.effective_diffusivity(eps, 1e-6)
    dirichlet = mesh.face_mask("top", "bottom")
    surface = np.where(mesh.face_mask("top"), c_s, 0.0)
    zero = np.zeros(mesh.n_cells)
    operator = air.GasOperator(mesh, dirichlet)
    c = operator.solve(d, zero, zero, surface)
    variable = fvm.cell_variable(mesh, c)
    variable.constrain(surface, where=dirichlet)
    exact = c_s / (l1 / (0.3**1.5 * 1e-6) + l2 / (0.05**1.5 * 1e-6)) * (10e-6) ** 2 / 2
    assert -fvm.boundary_flux(mesh, variable, operator.face_diffusivity(d), "top") == pytest.approx(exact, rel=1e-12)
    # A dense (eps = 0) bottom layer: no flux, no gas below.
    d_dense = air.effective_diffusivity(np.where(z > l2, 0.3, 0.0), 1e-6)
    c_dense = operator.solve(d_dense, zero, zero, surface)
    assert np.all(c_dense[z < l2] == 0.0)
    assert c_dense[z > l2] == pytest.approx(c_s, rel=1e-12)


def _reactive_flux(n_z: int) -> tuple[float, float]:
    thickness, radius, c_s, d, sink = 50e-9, 5e-6, 8.51, 1e-7, 4e8  # Thiele modulus m L = 3.16
    mesh = slab(radius, np.linspace(0.0, thickness, n_z + 1), n_r=2)
    operator = air.GasOperator(mesh, mesh.face_mask("top"))
    surface = np.where(mesh.face_mask("top"), c_s, 0.0)
    full = np.full(mesh.n_cells, 1.0)
    c = operator.solve(d * full, sink * full, 0 * full, surface)
    consumed = np.sum(sink * c * mesh.r_volumes)  # per radian; equals the inflow at steady state
    m = np.sqrt(sink / d)
    exact = d * c_s * m * np.tanh(m * thickness) * radius**2 / 2
    return consumed, exact


def test_reactive_slab_flux_against_thiele_solution():
    # Closed bottom, first-order sink s: J = D c_s m tanh(m L), m = sqrt(s/D) (second-order FV error).
    consumed, exact = _reactive_flux(200)
    assert consumed == pytest.approx(exact, rel=2e-4)


@pytest.mark.slow
def test_reactive_slab_observed_order_two():
    errors = [abs(_reactive_flux(n)[0] / _reactive_flux(n)[1] - 1) for n in (25, 50, 100, 200)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert orders == pytest.approx(2.0, abs=0.1)
