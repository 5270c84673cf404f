"""Layered conductor in the 1D limit: exact series-resistance current."""

from __future__ import annotations

import pytest

import femion
from femion.physics.electrostatics import conduction_regions, electrode_interface, layer_conductivity, solve_potential
from femion.verification import series_resistance


def test_series_resistance_is_exact(device):
    numeric, exact = series_resistance(device, femion.QUICK_MESH)
    assert numeric == pytest.approx(exact, rel=1e-10)


def test_device_current_is_conserved(device, quick_mesh):
    mesh = quick_mesh.submesh(conduction_regions(device))
    solution = solve_potential(mesh, layer_conductivity(mesh, device), 0.1, electrode=electrode_interface(device))
    assert solution.electrode_current == pytest.approx(-solution.current, rel=1e-10)
    # Pristine stack: the LiPON dominates, the full disk conducts slightly more than the 1D column (fringe).
    numeric_1d, _ = series_resistance(device, femion.QUICK_MESH)
    assert 1.0 < solution.current / numeric_1d < 1.02
