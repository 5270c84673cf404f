"""femion.physics.damage_routes: each route's numbers against closed forms on prescribed fields."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion.constants import GAS_CONSTANT
from femion.geometry import QUICK_MESH
from femion.physics.damage_routes import (
    ATMOSPHERE,
    FieldRecorder,
    electrode_stress_profile,
    route_buckle_apex,
    route_gas_blister,
    route_pt_domes,
    route_vacancy_creation,
)
from femion.physics.mechanics import MechanicsModule, vegard_eigenstrain
from femion.physics.porosity import clamped_plate_buckling_stress
from femion.physics.thinfilm import blister_apex_strain, debond_pressure, pressurized_blister


@pytest.fixture(scope="module")
def module():
    device = femion.load_device()
    return MechanicsModule(femion.build_mesh(device, settings=QUICK_MESH), device)


def _uniform_stress(module, compression):
    n = module.mesh.n_cells
    return {"sigma_rr": np.full(n, -compression), "sigma_tt": np.full(n, -compression)}


def test_stress_profile_and_vacancy_bound(module):
    fields = _uniform_stress(module, 20e6)
    r, stress = electrode_stress_profile(module, fields)
    assert np.all(np.diff(r) > 0) and r[-1] < module.device.electrode_radius
    assert stress == pytest.approx(np.full_like(stress, 20e6), rel=1e-12)
    route = route_vacancy_creation(module, fields)
    film = module.film
    e, nu = film["youngs_modulus"], film["poisson_ratio"]
    assert route.drive == pytest.approx(2 * (1 - nu) * 20e6 / e, rel=1e-12)
    threshold = module.device.material("Pt").value("pore_percolation_threshold")
    assert route.closing_value == pytest.approx(threshold * e / (2 * (1 - nu)), rel=1e-12)
    assert route.ratio == pytest.approx(route.drive / threshold)
    # tension: no compression to relax, no vacancies
    assert route_vacancy_creation(module, _uniform_stress(module, -5e6)).drive == 0.0


def test_dome_route_closing_stress_gives_ratio_one(module):
    route = route_pt_domes(module, _uniform_stress(module, 20e6))
    assert 0.0 < route.ratio < 1.0
    again = route_pt_domes(module, _uniform_stress(module, route.closing_value))
    assert again.ratio == pytest.approx(1.0, abs=2e-3)
    # the needed stress exceeds the plane-strain steady-state bound sqrt(2 E Gamma_I / ((1 - nu^2) h)) (Gamma(psi) >= Gamma_I)
    film = module.film
    e, nu, h = film["youngs_modulus"], film["poisson_ratio"], film["thickness"]
    assert route.closing_value > np.sqrt(2 * e * route.extra["mode_one_J_m2"] / ((1 - nu**2) * h))


def test_buckle_apex_route_matches_the_plate_functions(module):
    mesh, device = module.mesh, module.device
    under = mesh.cell_centroids[:, 0] < device.electrode_radius
    c_ref = np.where(mesh.region_mask("WO3", "MoO3", "LiPON"), 5000.0, 0.0)
    c = c_ref + 3000.0 * (mesh.region_mask("WO3") & under)
    route = route_buckle_apex(module, {"c_li": c, "c_li_ref": c_ref})
    rows = {row["interface"]: row for row in route.extra["interfaces"]}
    face = next(f for f in module.blister_interfaces if f.name == route.extra["interface"])
    lam = face.laminate
    vegard = vegard_eigenstrain(c, c_ref, module.properties.partial_molar_volume)
    sigma = float(face.disk_stress(vegard)(np.array([device.electrode_radius]))[0])
    critical = clamped_plate_buckling_stress(lam.plate_modulus, lam.thickness, device.electrode_radius)
    strain, curvature = blister_apex_strain(sigma, critical, lam.poisson_ratio, lam.thickness, device.electrode_radius)
    top = device.substrate.thickness + sum(layer.thickness for layer in device.layers)
    assert route.drive == pytest.approx(float(strain + (top - lam.neutral_plane) * curvature), rel=1e-12)
    assert rows[face.name]["q"] > 1.0 and route.drive > 0.0
    assert route.threshold == module.film["necking"]
    # a computed blister: the drive is the crest strain at its own radius and interface
    b = 0.4 * device.electrode_radius
    k = module.blister_interfaces.index(face)
    n = mesh.n_cells
    computed = route_buckle_apex(module, {"c_li": c, "c_li_ref": c_ref, "blister_radius": np.full(n, b), "blister_interface": np.full(n, k + 1.0)})
    sigma_b = float(face.disk_stress(vegard)(np.array([b]))[0])
    critical_b = clamped_plate_buckling_stress(lam.plate_modulus, lam.thickness, b)
    strain_b, curvature_b = blister_apex_strain(sigma_b, critical_b, lam.poisson_ratio, lam.thickness, b)
    assert computed.drive == pytest.approx(float(strain_b + (top - lam.neutral_plane) * curvature_b), rel=1e-12)
    assert computed.extra["computed_blister_radius_m"] == b
    assert computed.extra["whole_disk_crest_strain"] == pytest.approx(route.drive, rel=1e-12)


def test_gas_route_moles_are_the_ideal_gas_in_the_debond(module):
    route = route_gas_blister(module, li_films=1e-9, points=8)
    film, device = module.film, module.device
    e, nu, h = film["youngs_modulus"], film["poisson_ratio"], film["thickness"]
    pt = device.material("Pt")
    p = debond_pressure(device.electrode_radius, e, nu, h, pt.value("interface_toughness_WO3"), pt.value("interface_mixity_parameter"))
    volume = float(pressurized_blister(p, device.electrode_radius, e, nu, h).volume)
    assert route.threshold == pytest.approx((p + ATMOSPHERE) * volume / (GAS_CONSTANT * device.temperature), rel=1e-9)
    assert np.isnan(route.drive) and np.isnan(route.ratio)  # no air module in the history: not computed
    computed = route_gas_blister(module, li_films=1e-9, points=8, h2_generated=0.25 * route.threshold)
    assert computed.ratio == pytest.approx(0.25, rel=1e-12)
    assert route.extra["h2_needed_over_h2_from_li"] == pytest.approx(route.threshold / 0.5e-9)
    with pytest.raises(ValueError):
        route_gas_blister(module, li_films=-1.0)


def test_field_recorder_keeps_the_running_maximum():
    class _State:
        def __init__(self, time, values):
            self.time, self.voltage, self.fields = time, 0.0, {"x": np.asarray(values, dtype=float)}

    recorder = FieldRecorder(("x",), until=2.0, reduce="max")
    for time, values in ((0.0, [1, 5]), (1.0, [3, 2]), (3.0, [9, 9])):
        recorder.observables(_State(time, values))
    assert len(recorder.snapshots) == 1
    assert recorder.snapshots[0]["x"].tolist() == [3.0, 5.0]
    assert recorder.times == [0.0, 1.0]
    with pytest.raises(ValueError):
        FieldRecorder(("x",), reduce="min")


def test_measure_routes_picks_the_worst_snapshot(module):
    from femion.physics.damage_routes import measure_routes

    mesh = module.mesh
    c_ref = np.where(mesh.region_mask("WO3", "MoO3", "LiPON"), 5000.0, 0.0)
    first = {"c_li": c_ref, **_uniform_stress(module, 0.0)}  # no c_li_ref: skipped
    weak = {"c_li": c_ref, "c_li_ref": c_ref, **_uniform_stress(module, 5e6)}
    strong = {"c_li": c_ref, "c_li_ref": c_ref, **_uniform_stress(module, 30e6)}
    routes = measure_routes(module, [first, weak, strong, weak], li_films=1e-9)
    assert set(routes) == {"buckle_apex", "pt_domes", "gas_blister", "vacancy_creation"}
    assert routes["vacancy_creation"].extra["snapshot"] == 1 and routes["pt_domes"].extra["snapshot"] == 1
    assert routes["buckle_apex"].drive == 0.0  # no Vegard strain: nothing buckles
    with pytest.raises(ValueError):
        measure_routes(module, [first], li_films=1e-9)
