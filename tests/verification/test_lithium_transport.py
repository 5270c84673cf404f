"""Li transport: exact equilibrium, exact conservation, slab diffusion, the SG weight."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import femion
from femion.physics.electrostatics import conduction_regions, electrode_interface, layer_conductivity, solve_potential
from femion.physics.lithium import (
    LithiumTransport,
    lithium_properties,
    lithium_regions,
    scharfetter_gummel_weight,
)


@pytest.fixture(scope="module")
def setup(device):
    full = femion.build_mesh(device, settings=femion.QUICK_MESH)
    films = full.submesh(lithium_regions(device))
    stack = full.submesh(conduction_regions(device))
    to_films = np.searchsorted(stack.parent_cells, films.parent_cells)

    def potential(voltage):
        solution = solve_potential(stack, layer_conductivity(stack, device), voltage, electrode=electrode_interface(device))
        return solution.phi[to_films]

    inventory = 2 * np.pi * device.layer("LiPON").thickness * 0.5 * device.film_radius**2 * 65706.0
    # The database's host partition energies are −F U°/RT ≈ −110 (Li binds to the hosts by ~2.8 eV vs Li metal):
    # at equilibrium the hosts would hold everything. A generic transport test wants Li in every layer, so the
    # hosts get a moderate partition energy of +0.05 eV (ψ = 1.93 at 300 K) here.
    properties = lithium_properties(films, device)
    moderate = np.where(properties.site_limited, 0.05 * femion.constants.EV / (femion.constants.BOLTZMANN * properties.temperature), 0.0)
    return films, dataclasses.replace(properties, partition=moderate), potential, inventory


@pytest.mark.parametrize("interaction_ev", [0.0, 0.05, -0.02])
def test_biased_equilibrium_stays_put(setup, interaction_ev):
    # Uniform μ: Fermi–Dirac (with the regular-solution interaction Ω) in the hosts, Boltzmann in LiPON,
    # partition jumps at both interfaces, a 20 mV bias. The Scharfetter–Gummel bracket vanishes whatever the
    # lattice-gas face mobility, so the flux is zero to round-off and implicit steps of any length keep the state.
    films, properties, potential, inventory = setup
    omega = interaction_ev * femion.constants.FARADAY
    properties = dataclasses.replace(properties, interaction=np.where(properties.site_limited, omega, 0.0))
    phi = potential(-0.02)
    transport = LithiumTransport(films, properties, np.ones(films.n_cells))
    equilibrium = transport.equilibrium(phi, inventory)
    assert transport.drift_potential(phi, equilibrium).std() > 0.5  # a non-trivial profile
    theta = equilibrium[properties.site_limited] / properties.max_concentration[properties.site_limited]
    assert np.ptp(theta) > 0.1  # with θ-gradients in the hosts
    transport = LithiumTransport(films, properties, equilibrium)
    system = transport._system(phi, equilibrium, 1.0)
    outflow = transport._operator.assemble(system["owner_coefficient"], system["neighbour_coefficient"]) @ equilibrium
    scale = transport._operator.assemble(system["owner_coefficient"], -system["neighbour_coefficient"]) @ equilibrium
    assert np.max(np.abs(outflow)) < 1e-13 * np.max(np.abs(scale))
    for dt in (1e-6, 1e-2, 1e2, 1e6):
        transport.step(phi, dt)
        np.testing.assert_allclose(transport.concentration, equilibrium, rtol=5e-11)  # round-off of 1e6 s steps


def test_inventory_is_conserved_under_a_pulse_train(setup):
    films, properties, potential, inventory = setup
    zero = np.zeros(films.n_cells)
    transport = LithiumTransport(films, properties, np.ones(films.n_cells))
    transport = LithiumTransport(films, properties, transport.equilibrium(zero, inventory))
    start, wo3_start = transport.inventory(), transport.inventory("WO3")
    for voltage in (-0.05, 0.0, 0.05, 0.0) * 3:
        phi = potential(voltage) if voltage else zero
        for _ in range(3):
            transport.step(phi, 5e-3)
        if voltage < 0:  # a negative top electrode draws Li⁺ into WO3 (paper §2.1, analog potentiation)
            assert transport.inventory("WO3") > wo3_start
    assert transport.inventory() == pytest.approx(start, rel=1e-10)


def test_slab_diffusion_matches_fourier_series(device):
    # Li placed in the bottom cell row of a WO3 column diffuses with blocking faces: 1D Fourier series.
    full = femion.build_mesh(device)
    host = full.submesh(("WO3",), cell_mask=full.r_cell < 0.1 * device.electrode_radius)
    properties = lithium_properties(host, device)
    bottom = np.unique(host.face_cells[host.face_mask("WO3|LiPON"), 0])
    c0 = np.zeros(host.n_cells)
    c0[bottom] = 100.0
    transport = LithiumTransport(host, properties, c0)
    thickness, diffusivity = device.layer("WO3").thickness, properties.diffusivity[0]
    z0 = host.nodes[:, 1].min()
    step = 2 * (host.cell_centroids[bottom[0], 1] - z0)
    column = np.flatnonzero(np.isclose(host.r_cell, host.r_cell.min()))
    column = column[np.argsort(host.cell_centroids[column, 1])]
    z = host.cell_centroids[column, 1] - z0
    t_end, steps = thickness**2 / diffusivity * 0.05, 100
    for _ in range(steps):
        transport.step(np.zeros(host.n_cells), t_end / steps)
    n = np.arange(1, 3001)[:, None]
    k = n * np.pi / thickness
    series = 1 + np.sum(2 * np.sin(k * step) / (k * step) * np.cos(k * z) * np.exp(-(k**2) * diffusivity * t_end), axis=0)
    exact = series * 100.0 * step / thickness
    assert np.max(np.abs(transport.concentration[column] - exact)) / exact.max() < 0.02


def test_scharfetter_gummel_weight_is_exact():
    peclet = np.array([-800.0, -50.0, -1.0, -0.011, -0.0099, -1e-9, 0.0, 1e-9, 0.0099, 0.011, 1.0, 50.0, 800.0])
    alpha = scharfetter_gummel_weight(peclet)
    with np.errstate(all="ignore"):
        exact = np.where(peclet == 0.0, 0.5, 1.0 / (1.0 - np.exp(-peclet.astype(np.longdouble))) - 1.0 / peclet.astype(np.longdouble))
    mask = np.abs(peclet) >= 1e-3  # long-double closed form is accurate there
    np.testing.assert_allclose(alpha[mask], exact[mask].astype(float), rtol=1e-12)
    assert alpha[6] == 0.5
    np.testing.assert_allclose(alpha[[0, -1]], [1 / 800, 1 - 1 / 800], rtol=1e-12)
    assert np.all(np.diff(alpha) >= 0)


def test_bad_inputs(setup):
    films, properties, potential, inventory = setup
    with pytest.raises(ValueError, match="shape"):
        LithiumTransport(films, properties, np.ones(3))
    with pytest.raises(ValueError, match="site limit"):
        LithiumTransport(films, properties, np.full(films.n_cells, 1e9))
    transport = LithiumTransport(films, properties, np.ones(films.n_cells))
    with pytest.raises(ValueError, match="dt must be positive"):
        transport.step(np.zeros(films.n_cells), -1.0)
    with pytest.raises(ValueError, match="phi must be finite"):
        transport.step(np.full(films.n_cells, np.nan), 1.0)
