"""V_O hopping transport: Einstein limit, sinh drift law, conservation, seeded disorder."""

from __future__ import annotations

import numpy as np
import pytest

from femion.constants import BOLTZMANN, ELEMENTARY_CHARGE, EV
from femion.coupling import State
from femion.mesh import AxisymmetricMesh
from femion.physics.mechanics import rectangle_mesh
from femion.physics.vacancy import (
    VACANCY_CHARGE_NUMBER,
    VacancyModule,
    VacancyProperties,
    VacancyTransport,
    drift_velocity,
    hopping_diffusivity,
)

A, F, BARRIER, T = 0.25e-9, 2e13, 0.9, 600.0


def column_mesh(radius: float, height: float, n_r: int, n_z: int) -> AxisymmetricMesh:
    """Uniform (r, z) grid, one region 'film', groups axis/outer/bottom/top (:func:`femion.physics.mechanics.rectangle_mesh`)."""
    return rectangle_mesh((0.0, radius), (0.0, height), (n_r, n_z), region="film")


def uniform_properties(n: int, condensation: float = 1e30) -> VacancyProperties:
    ones = np.ones(n)
    return VacancyProperties(
        hop=A * ones, frequency=F * ones, bound_barrier=BARRIER * ones, dilute_barrier=BARRIER * ones,
        condensation=condensation * ones, max_concentration=2e27 * ones, mobility=4e-6 * ones,
        generation_energy=2.6 * ones, generation_length=1e-9 * ones, generation_threshold=1e7 * ones,
        generation_spread=1e6 * ones,
    )


def test_low_field_drift_is_einstein_mobility():
    diffusivity = hopping_diffusivity(A, F, BARRIER, T)
    for field in (1e2, 1e4):
        einstein = VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * diffusivity * field / (BOLTZMANN * T)
        assert drift_velocity(A, F, BARRIER, T, field) == pytest.approx(einstein, rel=1e-9)
    # and the hopping law departs from it at high field (sinh x / x at x = 2)
    field = 2.0 * 2 * BOLTZMANN * T / (VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * A)
    einstein = VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * diffusivity * field / (BOLTZMANN * T)
    assert drift_velocity(A, F, BARRIER, T, field) / einstein == pytest.approx(np.sinh(2.0) / 2.0, rel=1e-12)


@pytest.mark.parametrize("argument", [0.05, 2.0])
def test_constant_field_pulse_moves_at_sinh_velocity(argument):
    """A pulse in a uniform field: its centre of mass moves at v = a f e^(−Ea/kT) sinh(zeaE/2kT)."""
    height, n_z = 400e-9, 400
    mesh = column_mesh(5e-9, height, 1, n_z)
    field = argument * 2 * BOLTZMANN * T / (VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * A)  # along −z
    z = mesh.cell_centroids[:, 1]
    phi = field * z  # E_z = −∂φ/∂z = −field: vacancies drift down
    density = 1e25 * np.exp(-(((z - 0.6 * height) / 15e-9) ** 2))
    transport = VacancyTransport(mesh, uniform_properties(mesh.n_cells), density, generation=False)
    velocity = drift_velocity(A, F, BARRIER, T, field)
    duration = 0.1 * height / velocity
    steps = 10
    temperature = np.full(mesh.n_cells, T)
    weights = mesh.r_volumes
    start = np.sum(z * density * weights) / np.sum(density * weights)
    for _ in range(steps):
        report = transport.step(phi, temperature, duration / steps)
        assert report.converged
    final = transport.density
    centre = np.sum(z * final * weights) / np.sum(final * weights)
    assert final[z < 0.05 * height].max() < 1e-6 * final.max()  # the wall holds a negligible part
    assert (start - centre) / duration == pytest.approx(velocity, rel=1e-5)


def test_conservation_without_generation():
    mesh = column_mesh(200e-9, 300e-9, 12, 15)
    rng = np.random.default_rng(3)
    properties = uniform_properties(mesh.n_cells, condensation=3e25)
    properties = VacancyProperties(**{**properties.__dict__, "dilute_barrier": 0.6 * np.ones(mesh.n_cells)})
    density = 1e25 * rng.lognormal(0.0, 1.0, mesh.n_cells)
    transport = VacancyTransport(mesh, properties, density, generation=False)
    start = transport.inventory()
    phi = 0.5 * rng.random(mesh.n_cells)  # fields up to ~10⁸ V/m between neighbours
    temperature = 500.0 + 300.0 * rng.random(mesh.n_cells)
    for _ in range(3):
        assert transport.step(phi, temperature, 1e-4).converged
    assert transport.step(phi, temperature, 1e-4, max_iterations=200, tolerance=1e-4).converged  # fully implicit
    assert transport.inventory() == pytest.approx(start, rel=1e-11)
    assert transport.density.min() >= 0.0


def test_seeded_disorder_is_bit_identical(device, quick_mesh):
    def fields(seed):
        module = VacancyModule(quick_mesh, device, seed=seed, barrier_disorder=0.05, density_fluctuation=0.5)
        state = State()
        module.initialize(state)
        return state.fields["n_vo"], module.properties.bound_barrier

    first, second, other = fields(7), fields(7), fields(8)
    assert np.array_equal(first[0], second[0]) and np.array_equal(first[1], second[1])
    assert not np.array_equal(first[0], other[0])


def test_bad_input_is_rejected():
    mesh = column_mesh(10e-9, 10e-9, 2, 2)
    with pytest.raises(ValueError, match="non-negative"):
        VacancyTransport(mesh, uniform_properties(mesh.n_cells), -np.ones(mesh.n_cells))
    transport = VacancyTransport(mesh, uniform_properties(mesh.n_cells), np.ones(mesh.n_cells), generation=False)
    with pytest.raises(ValueError, match="dt"):
        transport.step(np.zeros(mesh.n_cells), np.full(mesh.n_cells, 300.0), -1.0)


def test_generation_rate_is_the_thermochemical_rate_times_the_threshold_fraction():
    """k_g = f exp[−(ΔH − e ℓ E)/kT] · ½ erfc[(E_th − E)/(√2 σ_th)]: half the rate at E_th, Φ(±2) at E_th ± 2σ_th."""
    from scipy.stats import norm

    mesh = column_mesh(1e-6, 1e-6, 2, 2)
    transport = VacancyTransport(mesh, uniform_properties(mesh.n_cells), np.ones(mesh.n_cells))
    temperature = np.full(mesh.n_cells, T)
    for field, fraction in ((1e7, 0.5), (1.2e7, norm.cdf(2.0)), (0.8e7, norm.cdf(-2.0)), (0.0, norm.cdf(-10.0))):
        thermochemical = F * np.exp(-(2.6 * EV - ELEMENTARY_CHARGE * 1e-9 * field) / (BOLTZMANN * T))
        rate = transport.generation_rate(np.full(mesh.n_cells, field), temperature)
        assert rate == pytest.approx(thermochemical * fraction, rel=1e-9)


# Soret flux J_S = −D S N ∇T, S = −E_a/(k_B T²) (Kim et al., Sci. Rep. 3, 1680 (2013)). In a closed film at a fixed
# T(z) the steady state has J = −D ∇N − D S N ∇T = 0, so d ln N/dT = E_a/(k_B T²) and N(z) ∝ exp(−E_a/k_B T(z)).
T_COLD, T_HOT, HEIGHT = 600.0, 900.0, 50e-9


def soret_steady(n_z: int) -> tuple[np.ndarray, np.ndarray]:
    """(computed steady N, analytic N scaled to the same inventory) in a closed column with linear T(z)."""
    mesh = column_mesh(20e-9, HEIGHT, 2, n_z)
    transport = VacancyTransport(mesh, uniform_properties(mesh.n_cells), np.full(mesh.n_cells, 1e25), generation=False)
    z = mesh.cell_centroids[:, 1]
    temperature = T_COLD + (T_HOT - T_COLD) * z / HEIGHT
    relaxation = HEIGHT**2 / hopping_diffusivity(A, F, BARRIER, T_COLD)
    for _ in range(30):
        transport.step(np.zeros(mesh.n_cells), temperature, 10.0 * relaxation)
    exact = np.exp(-BARRIER * EV / (BOLTZMANN * temperature))
    exact *= np.sum(transport.density * mesh.r_volumes) / np.sum(exact * mesh.r_volumes)
    return transport.density, exact


def test_soret_steady_profile_in_a_temperature_gradient():
    """N ∝ exp(−E_a/k_BT) (a 330-fold rise from 600 K to 900 K at 0.9 eV): max relative error below 1e-4 at 80 cells (measured 3.5e-5)."""
    density, exact = soret_steady(80)
    assert density.max() / density.min() > 100.0
    assert np.max(np.abs(density / exact - 1.0)) < 1e-4


@pytest.mark.slow
def test_soret_steady_profile_second_order():
    """Observed order 2 (max relative errors 5.4e-4, 1.4e-4, 3.5e-5 at 20, 40, 80 cells)."""
    errors = [np.max(np.abs(np.divide(*soret_steady(n)) - 1.0)) for n in (20, 40, 80)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert np.all(np.abs(orders - 2.0) < 0.3)


def test_soret_flux_vanishes_at_uniform_temperature():
    mesh = column_mesh(20e-9, HEIGHT, 2, 10)
    rng = np.random.default_rng(1)
    density = 1e25 * (1.0 + 0.5 * rng.random(mesh.n_cells))
    phi = 0.01 * rng.random(mesh.n_cells)
    temperature = np.full(mesh.n_cells, T_HOT)
    with_soret = VacancyTransport(mesh, uniform_properties(mesh.n_cells), density, generation=False, soret=True)
    without = VacancyTransport(mesh, uniform_properties(mesh.n_cells), density, generation=False, soret=False)
    assert np.array_equal(with_soret.face_coefficients(phi, temperature, density)[1], without.face_coefficients(phi, temperature, density)[1])
    uniform = VacancyTransport(mesh, uniform_properties(mesh.n_cells), np.full(mesh.n_cells, 1e25), generation=False)
    uniform.step(np.zeros(mesh.n_cells), temperature, 1.0)
    assert np.max(np.abs(uniform.density / 1e25 - 1.0)) < 1e-10  # round-off of the LU solve (measured 1.3e-11)


def test_activated_conductivity_law():
    """σ = z e μ N exp[−(E_σ/k)(1/T − 1/300 K)]: z e μ N at 300 K, Arrhenius slope −E_σ/k in 1/T."""
    from femion.physics.vacancy import activated_conductivity

    n, mu, e_sigma = 1e26, 4e-6, 0.1
    base = VACANCY_CHARGE_NUMBER * ELEMENTARY_CHARGE * mu * n
    assert activated_conductivity(n, mu, e_sigma, 300.0) == pytest.approx(base, rel=1e-14)
    t1, t2 = 400.0, 700.0
    slope = np.log(activated_conductivity(n, mu, e_sigma, t2) / activated_conductivity(n, mu, e_sigma, t1)) / (1 / t2 - 1 / t1)
    assert slope == pytest.approx(-e_sigma * EV / BOLTZMANN, rel=1e-12)
    assert activated_conductivity(n, mu, 0.0, 900.0) == pytest.approx(base, rel=1e-14)


def test_recombination_matches_the_rate_equation():
    """recombine() against an independent stiff ODE integration of dN/dt = dN_O/dt = −k N N_O (N > N_O, N < N_O, N = N_O)."""
    from scipy.integrate import solve_ivp

    from femion.physics.vacancy import recombine

    k, dt = 1e-27, 2e-2
    n0 = np.array([3e26, 1e26, 2e26, 5e25, 0.0])
    o0 = np.array([1e26, 3e26, 2e26, 0.0, 4e25])
    n1, o1 = recombine(n0, o0, k, dt)
    for i in range(len(n0)):
        ode = solve_ivp(lambda t, y: [-k * y[0] * y[1], -k * y[0] * y[1]], (0.0, dt), [n0[i], o0[i]], method="Radau", rtol=1e-11, atol=1.0)
        assert n1[i] == pytest.approx(ode.y[0, -1], rel=1e-8, abs=1.0)
        assert o1[i] == pytest.approx(ode.y[1, -1], rel=1e-8, abs=1.0)
    assert np.allclose(n1 - o1, n0 - o0, rtol=1e-12, atol=1.0)


def test_released_oxygen_drifts_against_the_field():
    """O²⁻ (charge −2) moves opposite to V_O²⁺ in the same field, at the same sinh speed."""
    from femion.physics.vacancy import OXYGEN_CHARGE_NUMBER

    mesh = column_mesh(20e-9, HEIGHT, 2, 20)
    z = mesh.cell_centroids[:, 1]
    density = 1e25 * np.exp(-(((z - HEIGHT / 2) / 5e-9) ** 2))
    phi = -1e7 * z  # E = +1e7 V/m along z
    temperature = np.full(mesh.n_cells, T)
    shifts = []
    for charge in (VACANCY_CHARGE_NUMBER, OXYGEN_CHARGE_NUMBER):
        transport = VacancyTransport(mesh, uniform_properties(mesh.n_cells), density, generation=False, charge_number=charge)
        transport.step(phi, temperature, 1e-3)
        shifts.append(np.sum(z * transport.density) / np.sum(transport.density) - HEIGHT / 2)
    assert shifts[0] > 0.0 and shifts[1] < 0.0
    assert shifts[1] == pytest.approx(-shifts[0], rel=1e-9)


def test_tracked_oxygen_balances_the_generated_vacancies(device, quick_mesh):
    """With track_oxygen, every generated V_O releases one O and recombination removes pairs: ∫(N − N_O) is conserved."""
    module = VacancyModule(quick_mesh, device, track_oxygen=True)
    start = State(voltage=6.0)
    module.initialize(start)
    z = quick_mesh.cell_centroids[:, 1]
    cells = module.films.parent_cells
    start.fields["phi"] = np.zeros(quick_mesh.n_cells)
    bottom, top = z[cells].min(), z[cells].max()
    start.fields["phi"][cells] = 6.0 * (z[cells] - bottom) / (top - bottom)
    start.fields["T"] = np.full(quick_mesh.n_cells, 300.0)
    before = module.observables(start)
    state = State(voltage=6.0, fields=dict(start.fields))
    for _ in range(3):
        module.advance(state, 1e-3, start)
        start = State(voltage=6.0, fields=dict(state.fields))
    after = module.observables(state)
    assert after["o_inventory"] > 0.0
    assert after["vo_inventory"] - after["o_inventory"] == pytest.approx(before["vo_inventory"], rel=1e-9)


def test_tracked_oxygen_run_writes_its_curves(device, tmp_path):
    """A VacancySimulation with track_oxygen writes curves.nc (every observable, o_inventory included, has units)."""
    import xarray as xr

    import femion
    from femion.protocols import rest
    from femion.simulation import SimulationSettings
    from femion.switching import VacancySimulation

    simulation = VacancySimulation(device, rest(1e-3), SimulationSettings(mesh=femion.QUICK_MESH), track_oxygen=True)
    simulation.run(tmp_path, progress=None)
    with xr.open_dataset(tmp_path / "curves.nc") as curves:
        assert curves["o_inventory"].attrs["units"] == "1"


def test_field_max_observables_read_the_bulk_field_of_each_film(device, quick_mesh):
    """A potential linear in z across the films, V at the electrode and 0 at the bottom contact: |E| = V/d in every film."""
    module = VacancyModule(quick_mesh, device)
    state = State(voltage=2.0)
    module.initialize(state)
    faces_z = module.films.face_centers[:, 1]
    bottom, top = faces_z.min(), faces_z.max()
    cells = module.films.parent_cells
    state.fields["phi"] = np.zeros(quick_mesh.n_cells)
    state.fields["phi"][cells] = 2.0 * (quick_mesh.cell_centroids[cells, 1] - bottom) / (top - bottom)
    observed = module.observables(state)
    assert set(module.films.region_names) == {key.removeprefix("field_max_") for key in observed if key.startswith("field_max_")}
    for layer in module.films.region_names:
        assert observed[f"field_max_{layer}"] == pytest.approx(2.0 / (top - bottom), rel=1e-9), layer
        assert module.units[f"field_max_{layer}"] == "V/m"


def test_a_field_beyond_the_hopping_range_rejects_the_step_without_warnings(device, quick_mesh):
    """A diverging trial iterate (|E| ~ 1e12 V/m): sinh overflows to inf, the step raises FloatingPointError, no RuntimeWarning."""
    import warnings

    module = VacancyModule(quick_mesh, device)
    start = State(voltage=2.0)
    module.initialize(start)
    cells = module.films.parent_cells
    z = quick_mesh.cell_centroids[:, 1]
    start.fields["phi"] = np.zeros(quick_mesh.n_cells)
    start.fields["phi"][cells] = 1e6 * (z[cells] - z[cells].min()) / (z[cells].max() - z[cells].min())  # 1e6 V over ~1 um
    start.fields["T"] = np.full(quick_mesh.n_cells, 300.0)
    state = State(voltage=2.0, fields=dict(start.fields))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError):
            module.advance(state, 1e-6, start)
