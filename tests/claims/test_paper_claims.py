"""The paper's claims, one test each, asserted on the quick study outputs by the rules of femion.claims.

A claim the model does not reproduce today is ``xfail(strict=True)`` with the
link that breaks as its reason: the day it holds, this suite fails until the
marker comes off. Every claim needs a study run, so all are in the slow tier
(``python -m pytest tests/claims -m "slow or not slow" -rxX``).
"""

from __future__ import annotations

import pytest

from femion.claims import CLAIMS, assess, claim

BREAKING = {
    "analog_window": "Li-depleted interface read through its double layer: the emf-corrected window is ~6x against 57.5x",
    "analog_gradual": "Li transfer per pulse: the first pulse makes ~70 % of each branch's change; depression does not saturate",
    "analog_nonlinearity": "pulse response shape: NeuroSim labels far from 0.6 / -7.7",
    "analog_c2c": "cycle-to-cycle noise: the deterministic Li model only drifts toward a periodic state (no stochastic source)",
    "li_activation_energy": "stack conduction: the charge-transfer resistance RT/(F i0) rises with T (i0 not activated), so the stack's E_A is ~0.07 eV and not Arrhenius",
    "rate_selects_mode": "air consumes no Li: no gas path through the electrode, so no power mode",
    "vacuum_keeps_analog": "no contrast: air consumes no Li either, so the power mode never appears",
    "electrode_selects_mode": "air consumes no Li with any electrode: no power mode",
    "porosity_at_centre": "electrode damage: no thin-film route opens the Pt (buckle apex, Pt domes, gas blister, vacancy creation each <= 0.005 of its threshold); void growth 7e-5 at the edge",
    "products_at_centre": "air reaction: no products in the Pt electrode (no gas path, no Li consumed)",
    "capacitance": "power state not reached: the programmed device keeps its Li excess, and a Li-loss scenario leaves it doping-dominated",
    "ragone": "power state not reached; even the Li-loss scenario with parameters at their range ends lacks ~1.1 V of cell emf",
    "cycling": "cycles computed: 20 in the quick run (3500 in the full variant, ~63 h, not run)",
    "volatile_threshold": "filament does not dissolve at low bias: selectivity ~1 and I_off ~2e-5 A (V_th > V_hold holds)",
    "icc_selects_volatility": "filament stability vs I_cc: the 50 uA state stays conducting, the 500 uA state has no window",
    "retention": "V_O filament stability at 0 V: the LRS fails within seconds at 300 K",
    "o_localised": "forming with every module on (device_history): the bias sits on the host|LiPON double layers, LiPON bulk field <= 2e4 V/m "
                   "against the 1e7 V/m generation threshold, so no V_O form; in the reduced V_O model the uniform forming state is stable "
                   "(filamentation loop gain 0.018 / 0.28 at 50 / 500 uA)",
    "variability_deformation": "filament pinning by the deformed centre: no threshold switching, variations not ordered",
}


def _param(claim_id: str):
    if claim_id in BREAKING:
        return pytest.param(claim_id, marks=pytest.mark.xfail(strict=True, raises=AssertionError, reason=BREAKING[claim_id]))
    return claim_id


@pytest.mark.slow
@pytest.mark.parametrize("claim_id", [_param(c.id) for c in CLAIMS])
def test_paper_claim(claim_id, study_output):
    """The paper's statement holds on the quick study outputs (the rule of femion.claims)."""
    c = claim(claim_id)
    outputs = {name: study_output(name) for name in c.studies}
    result = assess(claim_id, outputs)
    assert result.holds, f"{claim_id}: {result.status}: {result.value} — {result.breaking_link}"


def test_every_claim_is_tested_and_every_reason_names_a_claim():
    assert set(BREAKING) <= {c.id for c in CLAIMS}
