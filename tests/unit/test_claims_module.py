"""femion.claims: ids, rules on synthetic study outputs, status computation, parameter provenance."""

from __future__ import annotations

import json
import math

import pytest

from femion import claims
from femion.claims import CLAIMS, STATUSES, assess, load_study_output, mode_after_programming, parameter_provenance

IDS = [
    "analog_gradual", "analog_window", "analog_nonlinearity", "analog_c2c", "li_activation_energy", "rate_selects_mode",
    "vacuum_keeps_analog", "electrode_selects_mode", "porosity_at_centre", "products_at_centre", "li_homogeneous",
    "capacitance", "ragone", "cycling", "series_parallel", "volatile_threshold", "icc_selects_volatility", "retention",
    "o_localised", "variability_deformation", "fringe_scaling",
]


@pytest.fixture(autouse=True)
def uncalibrated_database(monkeypatch):
    """The rules are tested against the database's provenance with calibrated values counted as sourced.

    The database holds fitted values (studies/calibration), which would turn every "reproduced" of a claim that depends
    on one into "reproduced_calibrated"; that variant has its own test.
    """
    def provenance(names):
        return {name: {**info, "kind": "sourced" if info["kind"] == "calibrated" else info["kind"]}
                for name, info in parameter_provenance(names).items()}
    monkeypatch.setattr(claims, "parameter_provenance", provenance)


def test_claim_ids_are_the_stable_list():
    assert [c.id for c in CLAIMS] == IDS
    assert STATUSES == ("reproduced", "reproduced_calibrated", "reproduced_under_scenario", "not_reproduced", "not_yet_modelled")


def test_every_dependency_names_a_database_value():
    names = sorted({p for c in CLAIMS for p in c.parameters})
    table = parameter_provenance(names)
    assert sorted(table) == names  # none of them is a typo
    assert {info["kind"] for info in table.values()} <= {"assumed", "sourced", "calibrated"}


def test_without_outputs_every_claim_is_not_yet_modelled():
    for c in CLAIMS:
        a = assess(c.id, {})
        assert a.status == "not_yet_modelled" and "no output of studies/" in a.breaking_link


def test_unknown_claim_names_the_known_ones():
    with pytest.raises(KeyError, match="analog_window"):
        assess("no_such_claim", {})


def _pulses(window, **extra):
    return {"analog_pulses": {"G_max_over_G_min": window, **extra}}


def test_window_rule_and_statuses():
    assert assess("analog_window", _pulses(57.5 * 1.2)).status == "reproduced"
    failed = assess("analog_window", _pulses(6.0))
    assert failed.status == "not_reproduced" and "6" in failed.breaking_link
    scenario = assess("analog_window", _pulses(57.5, scenario={"li_inventory": "reduced by 60 %"}))
    assert scenario.status == "reproduced_under_scenario" and scenario.scenario == ("analog_pulses: li_inventory = reduced by 60 %",)
    assert assess("analog_window", _pulses(float("nan"))).status == "not_reproduced"


def test_calibrated_dependency_gives_reproduced_calibrated(monkeypatch):
    monkeypatch.setattr(claims, "parameter_provenance", lambda names: {names[0]: {"kind": "calibrated", "in_range": True}})
    a = assess("analog_window", _pulses(57.5))
    assert a.status == "reproduced_calibrated" and a.calibrated[0].endswith("(calibrated)")


def test_gradual_rule():
    ltp = [1.0, 2.0, 2.6, 2.9]  # monotonic, saturating, largest step 1/1.9 of the total ... > 50 %
    ltd = [2.9, 2.4, 2.0, 1.7]  # steps 0.5, 0.4, 0.3: gradual and saturating
    out = {"analog_pulses": {"G_LTP_first_cycle_S": ltp, "G_LTD_first_cycle_S": ltd}}
    assert assess("analog_gradual", out).status == "not_reproduced"
    out["analog_pulses"]["G_LTP_first_cycle_S"] = [1.0, 1.8, 2.4, 2.8]
    assert assess("analog_gradual", out).status == "reproduced"
    out["analog_pulses"]["G_LTP_first_cycle_S"] = [1.0, 1.2, 1.5, 2.8]  # accelerating: not saturating
    assert assess("analog_gradual", out).status == "not_reproduced"


def _case(ambient, rate, electrode, fraction, window):
    return {"ambient": ambient, "rate_V_s": rate, "electrode": electrode, "li_consumed_fraction": fraction, "g_ratio": window}


def test_mode_rules_on_a_map_that_holds_and_one_that_does_not():
    assert mode_after_programming(_case("air", 0.05, "Pt", 0.5, 1.2)) == "power"
    assert mode_after_programming(_case("air", 0.05, "Pt", 0.5, 10.0)) == "analog"
    holds = [_case("air", 0.05, "Pt", 0.5, 1.2), _case("air", 1.0, "Pt", 0.0, 20.0), _case("vacuum", 0.05, "Pt", 0.0, 20.0),
             _case("air", 0.05, "Ti", 0.01, 20.0)]
    for claim_id in ("rate_selects_mode", "vacuum_keeps_analog", "electrode_selects_mode"):
        assert assess(claim_id, {"mode_switch": {"rows": holds}}).status == "reproduced", claim_id
    none = [dict(row, li_consumed_fraction=0.0) for row in holds]
    for claim_id in ("rate_selects_mode", "vacuum_keeps_analog", "electrode_selects_mode"):
        a = assess(claim_id, {"mode_switch": {"rows": none}})
        assert a.status == "not_reproduced" and "air consumes no Li" in a.breaking_link, claim_id


def test_volatile_rule_names_what_fails():
    out = {"volatile_switching": {"v_th_mean_V": 0.66, "v_hold_mean_V": 1.57, "selectivity_mean": 100.0, "i_off_first_A": 1e-7}}
    a = assess("volatile_threshold", out)
    assert a.status == "not_reproduced" and "V_th > V_hold" in a.breaking_link and "selectivity" not in a.breaking_link


def test_load_study_output_merges_readouts(tmp_path):
    assert load_study_output(tmp_path) is None
    (tmp_path / "summary.json").write_text(json.dumps({"quick": True, "x": float("nan")}))
    (tmp_path / "readouts.json").write_text(json.dumps({"y": 1.0}))
    output = load_study_output(tmp_path)
    assert output["readouts"] == {"y": 1.0} and math.isnan(output["x"])
    (tmp_path / "summary.json").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="summary.json"):
        load_study_output(tmp_path)


def test_c2c_rule_leaves_the_first_cycle_out_and_needs_noise():
    repeated = {"G_max_per_cycle_S": [5.0, 7.0, 7.0, 7.0], "G_min_per_cycle_S": [1.0, 2.0, 2.0, 2.0]}
    a = assess("analog_c2c", {"analog_pulses": repeated})  # the first cycle's 40 % offset does not count
    assert a.status == "not_reproduced" and "deterministic" in a.breaking_link
    noisy = {"G_max_per_cycle_S": [5.0, 7.0, 7.1, 6.95], "G_min_per_cycle_S": [1.0, 2.0, 2.02, 1.99]}
    assert assess("analog_c2c", {"analog_pulses": noisy}).status == "reproduced"
    drift = {"G_max_per_cycle_S": [5.0, 7.0, 7.1, 7.2], "G_min_per_cycle_S": [1.0, 2.0, 1.98, 1.96]}
    a = assess("analog_c2c", {"analog_pulses": drift})
    assert a.status == "not_reproduced" and "monotonic drift" in a.breaking_link
    assert assess("analog_c2c", {"analog_pulses": {"G_max_per_cycle_S": [1.0, 2.0], "G_min_per_cycle_S": [1.0, 2.0]}}).status == "not_yet_modelled"


def _fig4_products(power_centre, power_edge, analog_centre=0.0, consumed=0.0):
    return {"li_consumed_air_power_mol": consumed, "readouts": {
        "product_ions_in_Pt_power": {"centre": {"CO3-": power_centre}, "edge": {"CO3-": power_edge}},
        "product_ions_in_Pt_analog": {"centre": {"CO3-": analog_centre}, "edge": {"CO3-": analog_centre}}}}


def test_products_rule_falls_back_on_the_pore_scenario():
    """Computed chain broken (no Li consumed): the pore scenario's products decide, and the status names its hypothesis."""
    out = {"device_history": _fig4_products(1e-9, 1e-9)}
    a = assess("products_at_centre", out)
    assert a.status == "not_reproduced" and a.breaking_link.startswith("air reaction: no Li consumed")
    scenario = {"product_ions_in_Pt_power": {"centre": {"CO3-": 5.0}, "edge": {"CO3-": 1.0}}, "li_consumed_mol": 1e-12,
                "scenario": {"pore_radius": "5 um"}}
    a = assess("products_at_centre", out | {"power_scenario": scenario})
    assert a.status == "reproduced_under_scenario" and a.scenario == ("power_scenario: pore_radius = 5 um",)
    assert a.breaking_link.startswith("air reaction")  # where the computed chain breaks stays on record
    scenario["product_ions_in_Pt_power"]["centre"]["CO3-"] = 1.5
    a = assess("products_at_centre", out | {"power_scenario": scenario})
    assert a.status == "not_reproduced" and "under the pore scenario" in a.breaking_link
    assert assess("products_at_centre", {"device_history": _fig4_products(5.0, 1.0, consumed=1e-12)}).status == "reproduced"


def test_capacitance_and_ragone_report_the_li_loss_scenario_but_stay_not_reproduced():
    """The Li-loss scenario does not make the device storage-dominated, so its GCD numbers are evidence, not a pass."""
    power = {"areal_capacitance_mF_cm2": 0.6, "energy_uWh_cm2": 2e-4, "power_uW_cm2": 0.7, "li_consumed_air_mol": 0.0}
    inventory = {"inventory_reduction": [0.0, 0.9], "G_max_over_G_min": [5.6, 3.9], "mode_change": {"changes": False},
                 "fit_inventory_reduction": 0.8, "database_areal_capacitance_mF_cm2": 3.9, "energy_uWh_cm2": 2.6,
                 "power_uW_cm2": 10.2, "mean_discharge_voltage_best_V": 0.64, "emf_shift_needed_V": 1.11,
                 "scenario": {"hypothesis": "host Li reduced by X"}}
    out = {"power_cv_gcd": power, "li_inventory": inventory}
    a = assess("capacitance", out)
    assert a.status == "not_reproduced" and "stays doping-dominated" in a.breaking_link and "3.9 mF/cm²" in a.breaking_link
    r = assess("ragone", out)
    assert r.status == "not_reproduced" and "1.11 V more emf" in r.breaking_link
    assert assess("capacitance", {"power_cv_gcd": power | {"areal_capacitance_mF_cm2": 4.0}}).status == "reproduced"


def test_porosity_claim_names_the_measured_damage_routes():
    stress = {"rate_0.05": {"porosity_growth_max": 7e-5, "porosity_peak_r_m": 1e-4}, "electrode_radius_m": 1e-4}
    routes = {"damage_routes": {"any_route_opens": False, "routes": {"buckle_apex": {"ratio": 0.0045}, "gas_blister": {"ratio": 0.0}}}}
    a = assess("porosity_at_centre", {"stress_maps": stress} | routes)
    assert a.status == "not_reproduced"
    assert "buckle apex 0.0045 of its threshold" in a.breaking_link and "none opens the electrode" in a.breaking_link


def test_o_localised_needs_a_visible_change():
    """A localised but invisible O⁻ change (below VISIBLE_CHANGE of the signal) is not the paper's map: the link is forming."""
    radius = 100e-6
    o = {"fwhm_m": 5e-6, "r_max_m": 1e-6, "relative_amplitude": 1e-9}
    history = {"electrode_radius_m": radius, "forming_stop_V": 6.0, "forming_compliance_A": 5e-5, "forming_max_current_small_A": 1.6e-7,
               "readouts": {"o_localisation_volatile": o}}
    a = assess("o_localised", {"device_history": history})
    assert a.status == "not_reproduced" and a.breaking_link.startswith("forming with every module on")
    o["relative_amplitude"] = 10 * claims.VISIBLE_CHANGE
    assert assess("o_localised", {"device_history": history}).status == "reproduced"
