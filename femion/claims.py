"""The paper's claims, the studies that measure them, and their computed status.

One place for the scoreboard of femion against Wang et al., *Nano Research* 18,
94907043 (2025) (the all-in-one Pt/WO3/LiPON/MoO3/ITO device). Each
:class:`Claim` holds the paper's statement and value, the studies whose outputs
measure it, the threshold rule written next to it, the mechanism chain it rests
on (its links) and the material values it depends on. :func:`assess` turns the
studies' outputs (their ``summary.json``, plus ``readouts.json`` where a study
writes one) into an :class:`Assessment` whose status is computed, never typed:

``reproduced``
    the rule holds, by mechanism, every parameter the claim depends on inside its
    literature range and none calibrated;
``reproduced_calibrated``
    the rule holds, with fitted (``source = "calibrated: ..."``) or out-of-range
    parameters, which the assessment names;
``reproduced_under_scenario``
    the rule holds, but a study ran with a labelled scenario input (a stated
    hypothesis in its config's ``[scenario]`` table, echoed in its summary under
    ``"scenario"``), which the assessment names;
``not_reproduced``
    the rule fails; the assessment names the link that breaks and the measured gap;
``not_yet_modelled``
    no study output computes the claim.

Claim ids are stable: tests (``tests/claims``), the validation report
(``studies/validation``) and the calibration refer to them.

Examples
--------
>>> from femion.claims import CLAIMS, assess
>>> [claim.id for claim in CLAIMS][:3]
['analog_gradual', 'analog_window', 'analog_nonlinearity']
>>> assess("analog_window", {}).status
'not_yet_modelled'
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np

__all__ = [
    "CLAIMS",
    "STATUSES",
    "Assessment",
    "Claim",
    "PAPER_NUMBERS",
    "PaperNumber",
    "Verdict",
    "assess",
    "claim",
    "load_study_output",
    "mode_after_programming",
    "parameter_provenance",
]

STATUSES: tuple[str, ...] = (
    "reproduced",
    "reproduced_calibrated",
    "reproduced_under_scenario",
    "not_reproduced",
    "not_yet_modelled",
)
"""The status vocabulary, from best to worst."""

REPRODUCED: frozenset[str] = frozenset(STATUSES[:3])
"""The statuses under which the paper's statement holds."""

# Thresholds used by several rules (each rule's own thresholds are written in it).
RELATIVE_TOLERANCE = 0.25
"""A quantitative paper value is matched within ±25 % (the calibration target band)."""
POWER_LI_FRACTION = 0.10
"""Programming gave the power mode if air consumed ≥ 10 % of the films' Li ..."""
POWER_WINDOW = 2.0
"""... and the analog window G_max/G_min after programming fell to ≤ 2 (the Li excess is gone)."""
CENTRE = 0.25
"""'At the centre' means within 0.25 R_e of the axis (R_e: top-electrode radius)."""
VISIBLE_CHANGE = 1e-3
"""Smallest change of the O⁻ signal (ΔO⁻ column over the largest O⁻ column) a ToF-SIMS map shows (assumed: the Poisson
noise of a pixel column of ~10⁶ counts); below it the O map of Fig. 4(i) is unchanged by forming."""
PERCOLATION = 0.03
"""Open porosity a gas path needs (site percolation of pores in the film, as in the materials database)."""


@dataclass(frozen=True)
class Verdict:
    """What a claim's rule finds in the study outputs.

    Attributes
    ----------
    holds : bool
        Whether the paper's statement holds by the claim's threshold rule.
    value : str
        femion's value(s), as text for the report.
    breaking_link : str or None
        When the rule fails: the link of the claim's chain that breaks, with the
        measured gap. A rule that holds only on a scenario study keeps here
        the link where the computed chain breaks.
    studies : tuple of str or None
        The studies whose outputs the verdict rests on (None: all the claim's
        studies); their ``[scenario]`` tables make the status "reproduced
        under a scenario".
    """

    holds: bool
    value: str
    breaking_link: str | None = None
    studies: tuple[str, ...] | None = None


class NotComputed(LookupError):
    """A study output the rule needs is missing: the claim is not yet modelled."""


@dataclass(frozen=True)
class Claim:
    """One claim of the paper and how femion measures it.

    Attributes
    ----------
    id : str
        Stable identifier (snake_case).
    statement : str
        The paper's statement (with its figure or section).
    paper_value : str
        The paper's value, as text.
    studies : tuple of str
        Study folders (``studies/<name>``) whose outputs the rule reads.
    rule : str
        The threshold rule, in words (what :attr:`check` computes).
    links : tuple of str
        The mechanism chain behind the claim, upstream first.
    parameters : tuple of str
        Material values the outcome depends on, as ``"<material>.<property>"``.
    check : callable
        ``check(outputs) -> Verdict`` with ``outputs`` mapping study name to its
        output dict; raises :class:`NotComputed` (or ``KeyError``) when an
        observable is missing.
    """

    id: str
    statement: str
    paper_value: str
    studies: tuple[str, ...]
    rule: str
    links: tuple[str, ...]
    parameters: tuple[str, ...]
    check: Callable[[Mapping[str, Mapping[str, Any]]], Verdict] = field(repr=False)


@dataclass(frozen=True)
class Assessment:
    """A claim's computed status.

    Attributes
    ----------
    claim : Claim
    status : str
        One of :data:`STATUSES`.
    value : str
        femion's value(s) as text ("—" when not computed).
    breaking_link : str or None
        For ``not_reproduced``: the link that breaks and the gap; for
        ``not_yet_modelled``: what is missing.
    scenario : tuple of str
        Scenario inputs (hypotheses) of the studies used.
    calibrated : tuple of str
        Calibrated or out-of-range parameters the claim depends on.
    """

    claim: Claim
    status: str
    value: str
    breaking_link: str | None = None
    scenario: tuple[str, ...] = ()
    calibrated: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        """True if the status is one of the reproduced ones."""
        return self.status in REPRODUCED

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready row: paper value, femion value, status, breaking link, hypotheses, calibrated parameters."""
        return {
            "statement": self.claim.statement,
            "paper": self.claim.paper_value,
            "femion": self.value,
            "status": self.status,
            "breaking_link": self.breaking_link,
            "rule": self.claim.rule,
            "studies": list(self.claim.studies),
            "scenario": list(self.scenario),
            "calibrated_or_out_of_range": list(self.calibrated),
        }


# ---------------------------------------------------------------------------------------------------------------------
# helpers of the rules


def _get(outputs: Mapping[str, Mapping[str, Any]], study: str, *keys: str) -> Any:
    """``outputs[study][k0][k1]...``; :class:`NotComputed` naming the study and key when absent."""
    value: Any = outputs.get(study)
    if value is None:
        raise NotComputed(f"no output of studies/{study}")
    for key in keys:
        if not isinstance(value, Mapping) or key not in value or value[key] is None:
            raise NotComputed(f"studies/{study} does not report {'.'.join(keys)}")
        value = value[key]
    return value


def _number(outputs: Mapping[str, Mapping[str, Any]], study: str, *keys: str) -> float:
    value = _get(outputs, study, *keys)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise NotComputed(f"studies/{study} reports {'.'.join(keys)} = {value!r}, not a number") from None
    return number


def _within(value: float, target: float, tolerance: float = RELATIVE_TOLERANCE) -> bool:
    return math.isfinite(value) and abs(value / target - 1.0) <= tolerance


def _g(value: float) -> str:
    return f"{value:.3g}"


# ---------------------------------------------------------------------------------------------------------------------
# the rules


def _analog_gradual(out):
    ltp = [float(g) for g in _get(out, "analog_pulses", "G_LTP_first_cycle_S")]
    ltd = [float(g) for g in _get(out, "analog_pulses", "G_LTD_first_cycle_S")]
    if len(ltp) < 3 or len(ltd) < 3:
        raise NotComputed("analog_pulses reports fewer than 3 reads per branch")

    def failures(branch, sign):
        """The gradual-and-saturating criteria a branch fails, and its largest step's share of the change."""
        steps = [sign * (b - a) for a, b in zip(branch[:-1], branch[1:])]
        total = sum(steps)
        largest = max(steps) / total if total > 0 else math.inf
        failed = [name for name, ok in (("monotonic", all(x > 0 for x in steps)), ("no step > 50 %", largest <= 0.5),
                                        ("saturating", steps[-1] < steps[0])) if not ok]
        return failed, largest

    up, up_share = failures(ltp, +1)
    down, down_share = failures(ltd, -1)
    value = f"LTP {_g(ltp[0])} → {_g(ltp[-1])} S (largest step {up_share:.0%}), LTD {_g(ltd[0])} → {_g(ltd[-1])} S (largest {down_share:.0%})"
    if not up and not down:
        return Verdict(True, value)
    parts = [f"{name} fails {', '.join(failed)}" for name, failed in (("potentiation", up), ("depression", down)) if failed]
    return Verdict(False, value, "Li transfer per pulse: " + "; ".join(parts))


def _analog_window(out):
    window = _number(out, "analog_pulses", "G_max_over_G_min")
    value = f"G_max/G_min = {_g(window)} (emf-corrected read)"
    if _within(window, PAPER_NUMBERS["G_max_over_G_min"].value):
        return Verdict(True, value)
    driver = out["analog_pulses"].get("window_most_sensitive_to")
    return Verdict(False, value, f"analog window: the read conductance changes {_g(window)}× against 57.5×"
                   + (f"; the study's sensitivity runs find it most sensitive to {driver}" if driver else ""))


def _analog_nonlinearity(out):
    ltp = _number(out, "analog_pulses", "nonlinearity_label_LTP")
    ltd = _number(out, "analog_pulses", "nonlinearity_label_LTD")
    value = f"{ltp:.2g} / {ltd:.2g} (NeuroSim labels)"

    def close(x, paper):
        return math.isfinite(x) and abs(x - paper) <= max(RELATIVE_TOLERANCE * abs(paper), 0.5)

    if close(ltp, PAPER_NUMBERS["nonlinearity_label_LTP"].value) and close(ltd, PAPER_NUMBERS["nonlinearity_label_LTD"].value):
        return Verdict(True, value)
    return Verdict(False, value, f"pulse response shape: labels {ltp:.2g} / {ltd:.2g} against 0.6 / −7.7")


def _analog_c2c(out):
    from femion.observables import cycle_to_cycle_variation

    high = [float(x) for x in _get(out, "analog_pulses", "G_max_per_cycle_S")][1:]  # the first cycle starts from
    low = [float(x) for x in _get(out, "analog_pulses", "G_min_per_cycle_S")][1:]  # the pristine state: left out
    if len(high) < 2 or len(low) < 2:
        raise NotComputed("analog_pulses ran fewer than three LTP/LTD cycles (C2C is taken over the cycles after the first)")
    worst = max(cycle_to_cycle_variation(np.array(high)), cycle_to_cycle_variation(np.array(low)))
    value = f"C2C of G_max/G_min over cycles 2–{len(high) + 1}: {worst:.2%} (worst of the two)"
    drifting = all(np.all(np.diff(series) > 0) or np.all(np.diff(series) < 0) for series in (high, low))
    if drifting and worst >= 0.0025:
        return Verdict(False, value, f"cycle-to-cycle noise: the {worst:.2%} is a monotonic drift of the deterministic "
                                     "Li model toward a periodic state, not a cycle-to-cycle variation; no stochastic "
                                     "source of the analog states is modelled")
    if 0.0025 <= worst <= 0.04:
        return Verdict(True, value)
    if worst < 0.0025:
        return Verdict(False, value, f"cycle-to-cycle noise: the deterministic Li model repeats its cycles ({worst:.2%} "
                                     "against ≈ 1 %); no stochastic source of the analog states is modelled")
    return Verdict(False, value, f"cycle-to-cycle drift {worst:.2%} against ≈ 1 %")


def _li_activation_energy(out):
    energy = _number(out, "li_arrhenius", "activation_energy_eV")
    local = [float(x) for x in _get(out, "li_arrhenius", "local_activation_energy_eV")]
    linear = bool(_get(out, "li_arrhenius", "arrhenius_linear"))
    value = f"E_A = {energy:.3f} eV on the stack (local slopes {local[0]:.2f} → {local[-1]:.2f} eV)"
    if abs(energy - PAPER_NUMBERS["li_activation_energy"].value) <= 0.05 and linear:
        return Verdict(True, value)
    reason = "the stack is not Arrhenius (local slopes differ by > 20 %)" if not linear else f"{energy:.3f} eV against 0.5 ± 0.05 eV"
    variants = out["li_arrhenius"].get("variants") or {}
    fast = {name: v.get("1ms", {}).get("activation_energy_eV") for name, v in variants.items()}
    what = "; ".join(f"with {name}: {e:.2f} eV" for name, e in fast.items() if e is not None)
    return Verdict(False, value, f"stack conduction: {reason}" + (f" ({what}: the series resistances that are not "
                                                                   "activated in T, above all RT/(F i0), dilute the LiPON slope)" if what else ""))


def mode_after_programming(row: Mapping[str, Any]) -> str:
    """The mode a programming case ends in, from its computed numbers.

    Parameters
    ----------
    row : mapping
        One case of ``studies/mode_switch`` with ``li_consumed_fraction`` (Li
        consumed by air over the films' Li, [1]) and ``g_ratio`` (analog window
        G_max/G_min of the pulses after programming, [1]).

    Returns
    -------
    str
        ``"power"`` when air consumed at least :data:`POWER_LI_FRACTION` of the
        films' Li and the analog window fell to at most :data:`POWER_WINDOW`
        (the storage-dominated device of the paper's §2.6), else ``"analog"``.
    """
    fraction = float(row.get("li_consumed_fraction", float("nan")))
    window = float(row.get("g_ratio", float("nan")))
    return "power" if fraction >= POWER_LI_FRACTION and window <= POWER_WINDOW else "analog"


def _cases(out) -> list[Mapping[str, Any]]:
    rows = _get(out, "mode_switch", "rows")
    if not rows:
        raise NotComputed("studies/mode_switch ran no case")
    return rows


def _pick(rows, **conditions) -> list[Mapping[str, Any]]:
    def ok(row, key, test):
        return test(row[key]) if callable(test) else row[key] == test

    return [row for row in rows if all(ok(row, key, test) for key, test in conditions.items())]


def _slow(rate):
    return rate <= 0.05 + 1e-12


def _fast(rate):
    return rate >= 1.0 - 1e-12


def _describe(rows) -> str:
    return "; ".join(
        f"{row['ambient']} {row['rate_V_s']:g} V/s {row['electrode']}: {mode_after_programming(row)} "
        f"(Li consumed {float(row['li_consumed_fraction']):.2g})"
        for row in rows
    )


def _no_power_link(rows) -> str:
    most = max(rows, key=lambda row: float(row.get("li_consumed_fraction", 0.0) or 0.0))
    return (f"air consumes no Li: at most {float(most['li_consumed_fraction']):.2g} of the films' Li "
            f"({most['ambient']}, {most['rate_V_s']:g} V/s, {most['electrode']}) against ≥ {POWER_LI_FRACTION:g} "
            "(no gas path through the electrode)")


def _rate_selects_mode(out):
    rows = _cases(out)
    slow = _pick(rows, ambient="air", electrode="Pt", rate_V_s=_slow)
    fast = _pick(rows, ambient="air", electrode="Pt", rate_V_s=_fast)
    if not slow or not fast:
        raise NotComputed("mode_switch lacks the air/Pt cases at ≤ 50 mV/s and ≥ 1 V/s")
    value = _describe(slow + fast)
    slow_ok = all(mode_after_programming(r) == "power" for r in slow)
    fast_ok = all(mode_after_programming(r) == "analog" for r in fast)
    if slow_ok and fast_ok:
        return Verdict(True, value)
    return Verdict(False, value, _no_power_link(rows) if not slow_ok else "a fast sweep also consumes the Li")


def _vacuum_keeps_analog(out):
    rows = _cases(out)
    vacuum = _pick(rows, ambient="vacuum", electrode="Pt", rate_V_s=_slow)
    air = _pick(rows, ambient="air", electrode="Pt", rate_V_s=_slow)
    if not vacuum or not air:
        raise NotComputed("mode_switch lacks the slow Pt case in air and in vacuum")
    value = _describe(air + vacuum)
    if all(mode_after_programming(r) == "analog" for r in vacuum) and all(mode_after_programming(r) == "power" for r in air):
        return Verdict(True, value)
    if any(mode_after_programming(r) != "analog" for r in vacuum):
        return Verdict(False, value, "Li is consumed without air")
    return Verdict(False, value, "no contrast: " + _no_power_link(rows))


def _electrode_selects_mode(out):
    rows = _pick(_cases(out), ambient="air", rate_V_s=_slow)
    soft = [r for r in rows if r["electrode"] in ("Pt", "Ag")]
    hard = [r for r in rows if r["electrode"] in ("Ti", "ITO")]
    if not soft or not hard:
        raise NotComputed("mode_switch lacks a soft (Pt/Ag) and a hard (Ti/ITO) electrode in the slow air case")
    value = _describe(soft + hard)
    if all(mode_after_programming(r) == "power" for r in soft) and all(mode_after_programming(r) == "analog" for r in hard):
        return Verdict(True, value)
    if any(mode_after_programming(r) != "analog" for r in hard):
        return Verdict(False, value, "a hard electrode also opens a gas path")
    return Verdict(False, value, _no_power_link(rows))


def _electrode_radius(out) -> float:
    for study in ("stress_maps", "mode_map_mechanics", "device_history"):
        try:
            return _number(out, study, "electrode_radius_m")
        except NotComputed:
            continue
    from femion.config import load_device

    return load_device().electrode_radius


def _porosity_at_centre(out):
    rate = _get(out, "stress_maps", "rate_0.05")
    radius = _electrode_radius(out)
    growth = float(rate.get("porosity_growth_max", float("nan")))
    peak = rate.get("porosity_peak_r_m")
    where = "none" if peak is None else f"r = {float(peak) * 1e6:.3g} µm"
    value = f"peak porosity growth {growth:.2g} at {where} (R_e = {radius * 1e6:.3g} µm), slow −5 V sweep"
    if peak is not None and float(peak) <= CENTRE * radius and growth >= PERCOLATION:
        return Verdict(True, value)
    routes = _damage_routes(out)
    if peak is None or growth <= 0:
        return Verdict(False, value, "electrode damage: no pore growth in the electrode" + routes)
    if float(peak) > CENTRE * radius:
        return Verdict(False, value, f"electrode damage location: pores grow at r = {float(peak) / radius:.2f} R_e "
                                     f"({'near the edge' if float(peak) > 0.5 * radius else 'off the centre'}), not within {CENTRE:g} R_e" + routes)
    return Verdict(False, value, f"electrode damage amount: growth {growth:.2g} below the {PERCOLATION:g} percolation threshold"
                   + routes)


def _damage_routes(out) -> str:
    """The thin-film routes to electrode damage measured by studies/damage_routes (drive/threshold), '' without them."""
    routes = out.get("damage_routes", {}).get("routes")
    if not routes:
        return ""
    parts = [f"{name.replace('_', ' ')} " + (f"{float(route['ratio']):.2g} of its threshold" if route["ratio"] == route["ratio"]
                                              else "not computed") for name, route in routes.items()]
    opens = out["damage_routes"].get("any_route_opens")
    return ("; thin-film routes (studies/damage_routes, drive/threshold): " + ", ".join(parts)
            + ("" if opens else ": none opens the electrode"))


def _products_at_centre(out):
    power = _get(out, "device_history", "readouts", "product_ions_in_Pt_power")
    analog = _get(out, "device_history", "readouts", "product_ions_in_Pt_analog")
    centre, edge = sum(power["centre"].values()), sum(power["edge"].values())
    analog_centre = sum(analog["centre"].values())
    value = f"power mode: centre {_g(centre)}, edge {_g(edge)}; analog centre {_g(analog_centre)} (counts per pixel)"

    def holds(centre, edge):
        return centre > 0 and centre > 2.0 * edge and analog_centre <= 0.01 * centre

    if holds(centre, edge):
        return Verdict(True, value, studies=("device_history",))
    consumed = out["device_history"].get("li_consumed_air_power_mol")
    if centre <= 0 or consumed == 0.0:
        link = ("air reaction: no Li consumed by air in the power history "
                f"({consumed} mol; no gas path through the electrode), so the product-ion counts in "
                "the Pt are the synthetic background of both modes")
    else:
        link = "products not concentrated at the centre (centre ≤ 2 × edge) or present in the analog mode"
    scenario = out.get("power_scenario", {}).get("product_ions_in_Pt_power")
    if scenario:  # the chain closed downstream of the electrode damage by the pore hypothesis
        s_centre, s_edge = sum(scenario["centre"].values()), sum(scenario["edge"].values())
        value += f"; under the pore scenario (power_scenario): centre {_g(s_centre)}, edge {_g(s_edge)}"
        if holds(s_centre, s_edge):
            return Verdict(True, value, link, studies=("device_history", "power_scenario"))
        link += (f"; under the pore scenario the products ({_g(out['power_scenario'].get('li_consumed_mol', float('nan')))} mol "
                 "of Li) do not stand out of the centre's product-ion counts (centre ≤ 2 × edge)")
    return Verdict(False, value, link)


def _li_homogeneous(out):
    analog = _number(out, "device_history", "li_lateral_uniformity_WO3_analog")
    power = _number(out, "device_history", "li_lateral_uniformity_WO3_power")
    value = f"lateral CV of Li⁻ in WO3: analog {analog:.2g}, power {power:.2g}"
    if analog < 0.01 and power < 0.01:
        return Verdict(True, value)
    return Verdict(False, value, f"lateral Li transport: CV {max(analog, power):.2g} ≥ 0.01")


def _inventory_evidence(out) -> str:
    """What the Li-loss scenario (studies/li_inventory) says about the storage-dominated link, '' without it."""
    inv = out.get("li_inventory")
    if not inv:
        return ""
    windows = inv.get("G_max_over_G_min") or []
    change = inv.get("mode_change") or {}
    reductions = inv.get("inventory_reduction") or inv.get("scenario", {}).get("inventory_reduction") or []
    text = ("; Li-loss scenario (studies/li_inventory): host Li reduced by X = "
            + ", ".join(f"{x:g}" for x in reductions) + " leaves the analog window at "
            + ", ".join(f"{w:.3g}" for w in windows)
            + (f" (storage-dominated needs ≤ {POWER_WINDOW:g}): the device stays doping-dominated"
               if not change.get("changes") else f", mode changes at X = {change.get('between_X')}"))
    return text


def _capacitance(out):
    c = _number(out, "power_cv_gcd", "areal_capacitance_mF_cm2")
    value = f"{_g(c)} mF/cm²"
    if _within(c, PAPER_NUMBERS["areal_capacitance"].value):
        return Verdict(True, value, studies=("power_cv_gcd",))
    consumed = out["power_cv_gcd"].get("li_consumed_air_mol")
    link = (f"power state: {_g(c)} mF/cm² against 4.1; Li consumed by air in programming: {consumed} mol "
            "(the programmed device keeps its analog Li excess)" if consumed == 0.0 else
            f"power-state capacitance {_g(c)} mF/cm² against 4.1 with {consumed} mol of Li consumed by air")
    inv = out.get("li_inventory")
    if inv and "database_areal_capacitance_mF_cm2" in inv:
        link += (f"{_inventory_evidence(out)}; at X = {inv.get('fit_inventory_reduction', float('nan')):g} (chosen so the "
                 f"remaining host Li stores about the paper's charge, not a prediction) GCD gives "
                 f"{_g(inv['database_areal_capacitance_mF_cm2'])} mF/cm² with database values")
    return Verdict(False, value, link)


def _ragone(out):
    energy = _number(out, "power_cv_gcd", "energy_uWh_cm2")
    power = _number(out, "power_cv_gcd", "power_uW_cm2")
    value = f"{_g(energy)} µWh/cm² at {_g(power)} µW/cm²"
    if _within(energy, PAPER_NUMBERS["energy"].value) and _within(power, PAPER_NUMBERS["power"].value):
        return Verdict(True, value, studies=("power_cv_gcd",))
    link = f"stored charge of the power state: {_g(energy)} µWh/cm² against 7.0"
    inv = out.get("li_inventory")
    if inv and "energy_uWh_cm2" in inv:
        link += (f"; Li-loss scenario with the fitted parameters at the ends of their ranges: {_g(inv['energy_uWh_cm2'])} µWh/cm² "
                 f"at {_g(inv['power_uW_cm2'])} µW/cm²: the cell voltage (mean discharge "
                 f"{_g(inv.get('mean_discharge_voltage_best_V', float('nan')))} V) would need "
                 f"{_g(inv.get('emf_shift_needed_V', float('nan')))} V more emf than the hosts' standard potentials allow")
    return Verdict(False, value, link)


def _cycling(out):
    retention = _number(out, "power_cv_gcd", "capacity_retention")
    cycles = _number(out, "power_cv_gcd", "gcd_cycles")
    value = f"capacity retention {retention:.3g} after {cycles:g} cycles"
    if cycles >= 3500 and retention >= 0.9:
        return Verdict(True, value)
    return Verdict(False, value, "capacity fade over GCD cycling" if cycles >= 3500 else f"only {cycles:g} cycles computed")


def _series_parallel(out):
    if not _get(out, "power_cv_gcd", "series_parallel_computed"):
        raise NotComputed("power_cv_gcd does not solve two devices in a circuit")
    voltage = _number(out, "power_cv_gcd", "series_voltage_ratio")
    capacitance = _number(out, "power_cv_gcd", "parallel_capacitance_ratio")
    value = (f"series voltage ×{voltage:.3g}, parallel capacitance ×{capacitance:.3g} (two instances of the computed "
             "programmed state, which is not the paper's power state)")
    if _within(voltage, 2.0, 0.1) and _within(capacitance, 2.0, 0.1):
        return Verdict(True, value)
    return Verdict(False, value, "two-device circuit does not double voltage/capacitance within 10 %")


def _volatile_threshold(out):
    v_th = _number(out, "volatile_switching", "v_th_mean_V")
    v_hold = _number(out, "volatile_switching", "v_hold_mean_V")
    selectivity = _number(out, "volatile_switching", "selectivity_mean")
    i_off = _number(out, "volatile_switching", "i_off_first_A")
    value = f"V_th {_g(v_th)} V, V_hold {_g(v_hold)} V, selectivity {_g(selectivity)}, I_off {_g(i_off)} A"
    ok = [
        math.isfinite(v_th) and math.isfinite(v_hold) and v_th > v_hold,
        math.isfinite(selectivity) and 10.0 <= selectivity <= 1e3,
        math.isfinite(i_off) and 1e-8 <= abs(i_off) <= 1e-6,
    ]
    if all(ok):
        return Verdict(True, value)
    names = ["V_th > V_hold", "selectivity within 10–1000", "I_off within 1e-8–1e-6 A"]
    return Verdict(False, value, "filament dissolution at low bias (volatility): fails " + ", ".join(n for n, k in zip(names, ok) if not k))


def _icc_selects_volatility(out):
    relax = _number(out, "volatile_switching", "g_relax_end_S") / _number(out, "volatile_switching", "g_pristine_S")
    window = _number(out, "nonvolatile_switching", "window_mean")
    value = f"50 µA: G after relaxation / pristine = {_g(relax)}; 500 µA: HRS/LRS window {_g(window)}"
    volatile, nonvolatile = relax <= 10.0, math.isfinite(window) and window >= 2.0
    if volatile and nonvolatile:
        return Verdict(True, value)
    parts = []
    if not volatile:
        parts.append(f"the 50 µA filament does not dissolve (G stays {_g(relax)}× pristine)")
    if not nonvolatile:
        parts.append(f"the 500 µA state has no bistable window ({_g(window)} < 2)")
    return Verdict(False, value, "filament stability vs I_cc: " + "; ".join(parts))


def _retention(out):
    window = _number(out, "retention", "window_end")
    failure = _number(out, "retention", "failure_lrs_300K_s")
    value = f"LRS/HRS window at the last read {_g(window)}; LRS failure at 300 K: " + (
        "none within the reads" if not math.isfinite(failure) else f"{_g(failure)} s")
    if window >= 2.0 and (not math.isfinite(failure) or failure > 1e5):
        return Verdict(True, value)
    return Verdict(False, value, f"V_O filament stability at 0 V: the LRS fails after {_g(failure)} s" if math.isfinite(failure)
                   else f"window {_g(window)} < 2 at the last read")


def _o_localised(out):
    o = _get(out, "device_history", "readouts", "o_localisation_volatile")
    radius = _electrode_radius(out)
    fwhm, peak = float(o["fwhm_m"]), float(o["r_max_m"])
    amplitude = float(o.get("relative_amplitude", 0.0))
    if not math.isfinite(peak) or amplitude < VISIBLE_CHANGE:
        history = out["device_history"]
        return Verdict(False, f"O⁻ change {amplitude:.2g} of the O⁻ signal (visible from {VISIBLE_CHANGE:g})", (
            "forming with every module on: the history's forming ramp to "
            f"{_g(history.get('forming_stop_V', float('nan')))} V under I_cc = {_g(history.get('forming_compliance_A', float('nan')))} A "
            f"reached |I| ≤ {_g(history.get('forming_max_current_small_A', float('nan')))} A (the Li electrochemistry puts the bias on the "
            "host|LiPON double layers, below the V_O generation field in the LiPON bulk), so no V_O form and the O⁻ map does not "
            "change"))
    value = f"O⁻ change peaks at r = {peak * 1e6:.3g} µm, FWHM {fwhm * 1e6:.3g} µm (R_e = {radius * 1e6:.3g} µm)"
    if math.isfinite(fwhm) and peak <= CENTRE * radius and fwhm <= CENTRE * radius:
        return Verdict(True, value)
    return Verdict(False, value, f"filament localisation: the V_O excess is a layer/ring (peak at {peak / radius:.2f} R_e, "
                                 f"FWHM {fwhm / radius:.2f} R_e) against ≤ {CENTRE:g} R_e")


def _variability_deformation(out):
    quantities = ("v_th", "v_hold", "lrs", "hrs")
    deformed = {q: _number(out, "variability", f"variation_deformed_{q}") for q in quantities}
    flat = {q: _number(out, "variability", f"variation_flat_{q}") for q in quantities}
    threshold = all(
        _number(out, "variability", f"v_th_mean_{h}") > _number(out, "variability", f"v_hold_mean_{h}") for h in ("deformed", "flat")
    )
    value = ", ".join(f"{q} {deformed[q]:.1%}/{flat[q]:.1%}" for q in quantities) + " (deformed/flat)"
    smaller = [q for q in quantities if math.isfinite(deformed[q]) and math.isfinite(flat[q]) and deformed[q] < flat[q]]
    if threshold and len(smaller) == len(quantities):
        return Verdict(True, value)
    parts = [] if threshold else ["V_th < V_hold: the cycles are crossings of an ohmic loop, not threshold switching"]
    if len(smaller) < len(quantities):
        parts.append("deformation does not reduce the variation of " + ", ".join(q for q in quantities if q not in smaller))
    return Verdict(False, value, "filament pinning by the deformed centre: " + "; ".join(parts))


def _fringe_scaling(out):
    radii = [float(x) for x in _get(out, "field_scaling", "electrode_radii_m")]
    edge = [float(x) for x in _get(out, "field_scaling", "edge_current_fraction")]
    excess = [float(x) for x in _get(out, "field_scaling", "capacitance_excess")]
    large, small = radii.index(max(radii)), radii.index(min(radii))
    value = (f"edge current share {edge[large]:.1%} at R_e = {radii[large] * 1e6:g} µm, C/C_pp − 1 = {excess[small]:.0%} "
             f"at {radii[small] * 1e6:g} µm")
    if edge[large] < 0.05 and excess[small] > 0.5:
        return Verdict(True, value)
    return Verdict(False, value, "fringe field does not scale as stated")


_LI = ("WO3.li_diffusivity", "WO3.exchange_current_density", "WO3.li_initial_occupancy", "WO3.polaron_conductivity",
       "WO3.electronic_conductivity", "MoO3.li_diffusivity", "MoO3.exchange_current_density", "LiPON.li_ionic_conductivity")
_MECH = ("Pt.yield_stress", "Pt.hardening_modulus", "WO3.li_partial_molar_volume", "WO3.youngs_modulus",
         "Pt.pore_percolation_threshold")
_AIR = ("O2.li_reaction_rate_constant", "H2O.li_reaction_rate_constant", "CO2.li_reaction_rate_constant", "O2.gas_diffusivity")
_VO = ("LiPON.vo_generation_energy", "LiPON.vo_activation_energy", "LiPON.vo_dilute_activation_energy",
       "LiPON.vo_electron_mobility", "LiPON.vo_generation_threshold_field", "LiPON.thermal_conductivity")

_POWER_CHAIN = ("Li transfer", "intercalation stress", "electrode damage at the centre", "gas path", "Li consumed by air",
                "storage-dominated response")
_FILAMENT_CHAIN = ("V_O generation under field and heat", "localisation on the axis", "filament growth under I_cc",
                   "dissolution or stability at low bias")

CLAIMS: tuple[Claim, ...] = (
    Claim("analog_gradual", "−5 V pulses raise G gradually and saturate; +5 V pulses lower it (Fig. 3b)", "gradual, saturating",
          ("analog_pulses",), "first-cycle LTP reads (from the read before the first pulse) rise and LTD reads fall monotonically, no step > 50 % of the branch, last step < first",
          ("Li transfer per pulse", "host doping σ_e(θ)", "emf-corrected read"), _LI, _analog_gradual),
    Claim("analog_window", "G_max/G_min over LTP/LTD (Fig. 3b)", "≈ 57.5", ("analog_pulses",),
          "G_max/G_min within ±25 % of 57.5", ("Li transfer per pulse", "host doping σ_e(θ)", "emf-corrected read"), _LI, _analog_window),
    Claim("analog_nonlinearity", "nonlinearity of LTP/LTD (Fig. 3c)", "0.6 / −7.7", ("analog_pulses",),
          "NeuroSim labels within ±25 % (at least ±0.5) of 0.6 and −7.7", ("Li transfer per pulse", "host doping σ_e(θ)"), _LI,
          _analog_nonlinearity),
    Claim("analog_c2c", "cycle-to-cycle variation of the analog states (Fig. 3c)", "≈ 1 %", ("analog_pulses",),
          "C2C (std/mean) of G_max and G_min over the cycles after the first within 0.25–4 %, not a monotonic drift", ("Li transfer per pulse", "cycle-to-cycle noise"), _LI, _analog_c2c),
    Claim("li_activation_energy", "activation energy of Li⁺ conduction, measured on the stack (§2.2)", "0.5 eV", ("li_arrhenius",),
          "stack E_A within 0.5 ± 0.05 eV and Arrhenius (local slopes within 20 %)",
          ("LiPON ionic conduction", "host electronic conduction", "stack in series"),
          ("LiPON.li_ionic_conductivity", "LiPON.li_activation_energy", "WO3.polaron_conductivity", "MoO3.polaron_conductivity",
           "WO3.exchange_current_density", "MoO3.exchange_current_density"),
          _li_activation_energy),
    Claim("rate_selects_mode", "a sweep at ≤ 50 mV/s in air programs the power mode, 1 V/s keeps the analog mode (§2.6)",
          "≤ 50 mV/s → power; 1 V/s → analog", ("mode_switch",),
          f"air/Pt: slow cases power, fast cases analog (power: Li consumed ≥ {POWER_LI_FRACTION:g} of the films' Li and window ≤ {POWER_WINDOW:g})",
          _POWER_CHAIN, _LI + _MECH + _AIR, _rate_selects_mode),
    Claim("vacuum_keeps_analog", "the slow sweep in vacuum keeps the analog mode (§2.6)", "vacuum → analog", ("mode_switch",),
          "slow Pt: vacuum analog while air gives power", _POWER_CHAIN, _LI + _MECH + _AIR, _vacuum_keeps_analog),
    Claim("electrode_selects_mode", "Pt/Ag electrodes give the power mode, Ti/ITO stay analog (§2.6)", "Pt/Ag → power; Ti/ITO → analog",
          ("mode_switch",), "slow air sweep: Pt/Ag cases power, Ti/ITO cases analog", _POWER_CHAIN, _LI + _MECH + _AIR,
          _electrode_selects_mode),
    Claim("porosity_at_centre", "pores open at the centre of the Pt electrode (Fig. 2d)", "centre", ("stress_maps", "damage_routes"),
          f"slow −5 V sweep: peak pore growth within {CENTRE:g} R_e and open porosity ≥ {PERCOLATION:g}",
          _POWER_CHAIN[:3], _MECH, _porosity_at_centre),
    Claim("products_at_centre", "reaction products in Pt at the centre in the power mode, none in the analog mode (Fig. 4d,e)",
          "centre; none in analog", ("device_history", "power_scenario"), "power centre > 2 × edge and analog centre ≤ 1 % of power centre",
          _POWER_CHAIN[:5], _MECH + _AIR, _products_at_centre),
    Claim("li_homogeneous", "Li laterally homogeneous in the analog and power modes (Fig. 4g,h)", "homogeneous", ("device_history",),
          "lateral CV of the Li⁻ signal in WO3 < 1 % in both modes", ("Li transfer", "lateral Li transport"), _LI, _li_homogeneous),
    Claim("capacitance", "areal capacitance of the power mode (Fig. 3e, S3)", "≈ 4.1 mF/cm²", ("power_cv_gcd", "li_inventory"),
          "within ±25 % of 4.1 mF/cm²", _POWER_CHAIN, _LI + _AIR, _capacitance),
    Claim("ragone", "energy at power (Fig. S3)", "7.0 µWh/cm² at 27.9 µW/cm²", ("power_cv_gcd", "li_inventory"),
          "energy and power each within ±25 %", _POWER_CHAIN, _LI + _AIR, _ragone),
    Claim("cycling", "negligible capacity loss over 3500 GCD cycles (Fig. 3g)", "≥ 90 % after 3500 cycles", ("power_cv_gcd",),
          "≥ 3500 cycles computed and capacity retention ≥ 0.9", _POWER_CHAIN + ("cycling",), _LI + _AIR, _cycling),
    Claim("series_parallel", "two devices in series double the voltage, in parallel the capacitance (Fig. 3g)", "2× V; 2× C",
          ("power_cv_gcd",), "computed from two device instances in one circuit, each ratio within ±10 % of 2",
          _POWER_CHAIN + ("circuit of two devices",), _LI + _AIR, _series_parallel),
    Claim("volatile_threshold", "volatile threshold switching after forming at low I_cc (Fig. 3h–j)",
          "V_th > V_hold, selectivity ~10², I_off ~10⁻⁷ A", ("volatile_switching",),
          "V_th > V_hold, selectivity 10–1000, I_off 1e-8–1e-6 A", _FILAMENT_CHAIN, _VO, _volatile_threshold),
    Claim("icc_selects_volatility", "I_cc < 100 µA gives volatile, ≥ 500 µA non-volatile switching (Fig. 3h, 3k)",
          "< 100 µA volatile; ≥ 500 µA non-volatile", ("volatile_switching", "nonvolatile_switching"),
          "50 µA: G relaxes to ≤ 10× pristine; 500 µA: HRS/LRS window ≥ 2", _FILAMENT_CHAIN, _VO, _icc_selects_volatility),
    Claim("retention", "non-volatile states retained > 10⁵ s (Fig. 3l)", "> 10⁵ s", ("retention",),
          "LRS/HRS window ≥ 2 at the last read and no LRS failure within 10⁵ s at 300 K", _FILAMENT_CHAIN, _VO, _retention),
    Claim("o_localised", "O localised under the centre of the Pt electrode in the volatile mode (Fig. 4i)", "localised at the centre",
          ("device_history",), f"O⁻ change peaks within {CENTRE:g} R_e with FWHM ≤ {CENTRE:g} R_e",
          ("electrode deformation at the centre",) + _FILAMENT_CHAIN, _MECH + _VO, _o_localised),
    Claim("variability_deformation", "deformation lowers variation: V_th/V_hold 4/2 % vs 6/5 %, LRS/HRS 3/7 % vs 30/77 % (§2.5)",
          "deformed < flat for V_th, V_hold, LRS, HRS", ("variability",),
          "threshold switching in both histories and every deformed variation below the flat one",
          ("electrode deformation at the centre",) + _FILAMENT_CHAIN, _MECH + _VO, _variability_deformation),
    Claim("fringe_scaling", "fringe effect negligible at 200 µm, severe when the device shrinks (§2.6)",
          "negligible at 200 µm, severe when shrunk", ("field_scaling",),
          "edge current share < 5 % at the largest radius and capacitance excess > 50 % at the smallest",
          ("field between the electrodes",), ("LiPON.relative_permittivity", "WO3.relative_permittivity"), _fringe_scaling),
)
"""Every claim, in the paper's order (analog, power, digital, scaling)."""

_BY_ID = {c.id: c for c in CLAIMS}


@dataclass(frozen=True)
class PaperNumber:
    """One number the paper states, as its claim writes it.

    Attributes
    ----------
    claim : str
        Id of the claim (:data:`CLAIMS`) whose ``paper_value`` or ``statement`` text holds it.
    text : str
        The number as the claim's text writes it (``"57.5"``, ``"10⁻⁷"``).
    value : float
        Its value in ``unit``.
    unit : str
        Its unit as a pint expression (``""``: dimensionless).
    si_unit : str
        The SI unit of :meth:`si` (``""``: dimensionless).
    bound : {"value", "lower"}
        ``"lower"``: the paper states a lower bound (``> 10⁵ s``).
    """

    claim: str
    text: str
    value: float
    unit: str
    si_unit: str
    bound: str = "value"

    def si(self) -> float:
        """The number in :attr:`si_unit`."""
        from femion.units import value_unit_to_si

        return value_unit_to_si(self.value, self.unit, self.si_unit, name=self.text, origin=f"claim {self.claim}")


PAPER_NUMBERS: Mapping[str, PaperNumber] = {
    "G_max_over_G_min": PaperNumber("analog_window", "57.5", 57.5, "", ""),
    "nonlinearity_label_LTP": PaperNumber("analog_nonlinearity", "0.6", 0.6, "", ""),
    "nonlinearity_label_LTD": PaperNumber("analog_nonlinearity", "−7.7", -7.7, "", ""),
    "c2c_variation": PaperNumber("analog_c2c", "1 %", 1.0, "percent", ""),
    "li_activation_energy": PaperNumber("li_activation_energy", "0.5 eV", 0.5, "eV", "eV"),
    "areal_capacitance": PaperNumber("capacitance", "4.1 mF/cm²", 4.1, "mF/cm^2", "F/m^2"),
    "energy": PaperNumber("ragone", "7.0 µWh/cm²", 7.0, "uW*h/cm^2", "J/m^2"),
    "power": PaperNumber("ragone", "27.9 µW/cm²", 27.9, "uW/cm^2", "W/m^2"),
    "selectivity": PaperNumber("volatile_threshold", "10²", 1e2, "", ""),
    "off_current": PaperNumber("volatile_threshold", "10⁻⁷ A", 1e-7, "A", "A"),
    "variation_v_th": PaperNumber("variability_deformation", "V_th/V_hold 4/2 %", 4.0, "percent", ""),
    "variation_v_hold": PaperNumber("variability_deformation", "V_th/V_hold 4/2 %", 2.0, "percent", ""),
    "variation_lrs": PaperNumber("variability_deformation", "LRS/HRS 3/7 %", 3.0, "percent", ""),
    "variation_hrs": PaperNumber("variability_deformation", "LRS/HRS 3/7 %", 7.0, "percent", ""),
    "retention_time": PaperNumber("retention", "10⁵ s", 1e5, "s", "s", bound="lower"),
}
"""The paper's quantitative targets by name, each tied to the claim text that states it (the calibration's targets)."""


def claim(claim_id: str) -> Claim:
    """The claim with id ``claim_id``.

    Raises
    ------
    KeyError
        For an unknown id (the message lists the known ones).
    """
    try:
        return _BY_ID[claim_id]
    except KeyError:
        raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(_BY_ID)}") from None


def parameter_provenance(parameters: tuple[str, ...] | list[str]) -> dict[str, dict[str, Any]]:
    """Source class of each ``"<material>.<property>"``: assumed, sourced or calibrated, and whether it is in range.

    Parameters
    ----------
    parameters : sequence of str
        Material values as ``"<material>.<property>"``.

    Returns
    -------
    dict
        ``{name: {"kind": "assumed" | "sourced" | "calibrated", "in_range": bool | None}}``;
        names the database does not hold are left out.
    """
    from femion.materials import MaterialError, load_material

    table: dict[str, dict[str, Any]] = {}
    for name in parameters:
        material, _, key = name.partition(".")
        try:
            parameter = load_material(material)[key]
        except (MaterialError, KeyError, FileNotFoundError):
            continue
        kind = "calibrated" if parameter.calibrated else "assumed" if parameter.assumed else "sourced"
        low_high = parameter.range
        in_range = None if low_high is None else bool(min(low_high) <= parameter.value <= max(low_high))
        table[name] = {"kind": kind, "in_range": in_range}
    return table


def assess(claim_id: str, outputs: Mapping[str, Mapping[str, Any]]) -> Assessment:
    """Compute one claim's status from study outputs.

    Parameters
    ----------
    claim_id : str
        A claim id of :data:`CLAIMS`.
    outputs : mapping
        Study name → its output (``summary.json`` with ``readouts.json`` under
        ``"readouts"``, see :func:`load_study_output`). Studies absent here make
        the claim ``not_yet_modelled``.

    Returns
    -------
    Assessment

    Raises
    ------
    KeyError
        For an unknown claim id.
    """
    c = claim(claim_id)
    try:
        verdict = c.check(outputs)
    except (NotComputed, KeyError) as missing:
        reason = str(missing) if isinstance(missing, NotComputed) else f"missing observable {missing}"
        return Assessment(c, "not_yet_modelled", "—", reason)
    scenario = tuple(
        f"{study}: {key} = {value}"
        for study in (c.studies if verdict.studies is None else verdict.studies)
        for key, value in dict(outputs.get(study, {}).get("scenario") or {}).items()
    )
    if not verdict.holds:
        return Assessment(c, "not_reproduced", verdict.value, verdict.breaking_link, scenario)
    provenance = parameter_provenance(c.parameters)
    calibrated = tuple(
        name + (" (calibrated)" if info["kind"] == "calibrated" else " (outside its literature range)")
        for name, info in provenance.items()
        if info["kind"] == "calibrated" or info["in_range"] is False
    )
    status = "reproduced_under_scenario" if scenario else "reproduced_calibrated" if calibrated else "reproduced"
    return Assessment(c, status, verdict.value, verdict.breaking_link if scenario else None, scenario, calibrated)


def load_study_output(folder: str | Path) -> dict[str, Any] | None:
    """A study's output folder as one dict: its ``summary.json``, with ``readouts.json`` under ``"readouts"``.

    Parameters
    ----------
    folder : path
        The study's output folder.

    Returns
    -------
    dict or None
        None when the folder holds no ``summary.json``.

    Raises
    ------
    ValueError
        When a JSON file there cannot be read (the message names it).
    """
    folder = Path(folder)
    output: dict[str, Any] = {}
    for name, key in (("summary.json", None), ("readouts.json", "readouts")):
        path = folder / name
        if not path.is_file():
            if key is None:
                return None
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path}: not a readable JSON file ({error})") from None
        if key is None:
            output.update(data)
        else:
            output[key] = data
    return output
