"""Device observables from simulated curves.

Pure functions of arrays; each states its definition and source. They take
SI arrays and return SI numbers (or dimensionless ratios).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize_scalar

from femion.constants import BOLTZMANN, EV

__all__ = [
    "ArrheniusFit",
    "NonlinearityFit",
    "arrhenius_fit",
    "areal_capacitance_cv",
    "areal_capacitance_gcd",
    "discharge_metrics",
    "conductance_ratio",
    "cycle_to_cycle_variation",
    "fit_nonlinearity",
    "nonlinearity_label",
    "read_conductance",
]


def read_conductance(current: float, read_voltage: float, open_circuit_voltage: float = 0.0) -> float:
    """Emf-corrected read conductance G = I/(V_read − V_oc) [S].

    The read current of an electrochemical cell is driven by the read voltage
    minus the cell's own emf: in the linear (small-signal) regime
    I = G (V_read − V_oc), so I/V_read mixes the conductance with the emf and
    can even change sign when |V_oc| approaches V_read. G is the chord
    conductance of the read from the open-circuit point to the read point,
    which equals the small-signal conductance where I(V) is linear over that
    span (Bard & Faulkner, *Electrochemical Methods*, 2nd ed., §1.3: an
    electrochemical cell as an emf in series with its impedance). With
    ``open_circuit_voltage = 0`` it is the raw I/V_read.

    Parameters
    ----------
    current
        Device current at the end of the read [A] (positive into the top electrode).
    read_voltage
        Read voltage V_read [V], non-zero.
    open_circuit_voltage
        The cell's emf V_oc [V] in the same sign convention (top minus bottom).

    Returns
    -------
    float
        G [S]; negative when the current flows against V_read − V_oc.

    Raises
    ------
    ValueError
        If any input is not finite or V_read − V_oc is zero.
    """
    values = (float(current), float(read_voltage), float(open_circuit_voltage))
    if not all(np.isfinite(v) for v in values):
        raise ValueError(f"read current, voltage and open-circuit voltage must be finite, got {values}")
    drive = values[1] - values[2]
    if drive == 0.0 or values[1] == 0.0:
        raise ValueError(f"the read voltage ({values[1]!r} V) must be non-zero and differ from the open-circuit voltage ({values[2]!r} V)")
    return values[0] / drive


def conductance_ratio(conductance: np.ndarray) -> float:
    """G_max/G_min over a pulse train.

    Raises
    ------
    ValueError
        If the array is empty or any conductance is not positive and finite.
    """
    values = np.asarray(conductance, dtype=float)
    if values.size == 0 or not np.all(np.isfinite(values)) or np.any(values <= 0.0):
        raise ValueError("conductances must be a non-empty array of positive, finite values")
    return float(values.max() / values.min())


@dataclass(frozen=True)
class NonlinearityFit:
    """Fit of G(P) = B (1 − e^{−P/A}) + G_0 to one potentiation or depression branch.

    The behavioural model of NeuroSim (Chen, Peng, Yu, IEEE TCAD 37, 3067
    (2018)): P is the pulse number normalised to the branch length
    (p = P/P_max ∈ [0, 1]), A the normalised nonlinearity constant and B
    fixed by the end points, B = (G_max − G_min)/(1 − e^{−1/A}). Small A means
    strongly nonlinear; A → ∞ is linear. A negative A describes a branch
    that curves the other way (concave up for potentiation). NeuroSim also
    labels devices by a "nonlinearity" number read off a table of A
    (:func:`nonlinearity_label`), which is what papers quote (e.g. "0.6/−7.7").

    Attributes
    ----------
    a : float
        Normalised nonlinearity constant A (in units of the branch length).
    rms_residual : float
        RMS of G_fit − G relative to G_max − G_min.
    direction : {"LTP", "LTD"}
        Increasing (potentiation) or decreasing (depression) branch.
    """

    a: float
    rms_residual: float
    direction: str


def _normalised_branch(a: float, p: np.ndarray) -> np.ndarray:
    """(1 − e^{−p/A})/(1 − e^{−1/A}), continuous through A → ±∞ (linear)."""
    if abs(a) > 1e6:
        return p
    return np.expm1(-p / a) / np.expm1(-1.0 / a)


def fit_nonlinearity(conductance: np.ndarray) -> NonlinearityFit:
    """Fit the NeuroSim nonlinearity A to one monotonic branch G(P), P = 1 … n.

    The branch is normalised to g = (G − G_first)/(G_last − G_first) ∈ [0, 1]
    against p = (P − 1)/(n − 1), and A solves the least-squares problem for
    g(p) = (1 − e^{−p/A})/(1 − e^{−1/A}) (one-dimensional, by bracketing the
    root of the derivative of the residual in 1/A).

    Raises
    ------
    ValueError
        If fewer than three points, non-finite values, or no net change.
    """
    g = np.asarray(conductance, dtype=float)
    if g.size < 3 or not np.all(np.isfinite(g)):
        raise ValueError("need at least three finite conductances")
    span = g[-1] - g[0]
    if span == 0.0:
        raise ValueError("the branch has no net conductance change")
    direction = "LTP" if span > 0 else "LTD"
    y = (g - g[0]) / span
    p = np.linspace(0.0, 1.0, g.size)

    def residual(inverse_a: float) -> float:
        a = 1.0 / inverse_a if inverse_a != 0.0 else np.inf
        return float(np.sum((_normalised_branch(a, p) - y) ** 2))

    grid = np.concatenate([-np.geomspace(50.0, 1e-3, 200), [0.0], np.geomspace(1e-3, 50.0, 200)])
    values = np.array([residual(x) for x in grid])
    best = int(np.argmin(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    refined = minimize_scalar(residual, bounds=(low, high), method="bounded", options={"xatol": 1e-10})
    inverse_a = float(refined.x) if refined.fun <= values[best] else float(grid[best])
    a = 1.0 / inverse_a if inverse_a != 0.0 else np.inf
    fitted = _normalised_branch(a, p)
    return NonlinearityFit(a=a, rms_residual=float(np.sqrt(np.mean((fitted - y) ** 2))), direction=direction)


def nonlinearity_label(a: float, direction: str) -> float:
    """NeuroSim's nonlinearity label of a branch with normalised constant A.

    NeuroSim (MLP_NeuroSim ``Documents/Nonlinearity-NormA.htm``, Chen, Peng &
    Yu, IEEE TCAD 37, 3067 (2018)) tabulates the label NL against A. Its
    table is reproduced (to its printed digits, tested at NL = 0.01 … 5.8) by
    NL = 10 d/(0.7 √2), d = max_p [g(p) − p] the largest distance of the
    normalised branch g(p) = (1 − e^{−p/A})/(1 − e^{−1/A}) above the line
    g = p: NL is 10× the largest distance normal to the diagonal in units of
    0.7. By NeuroSim's convention depression branches are quoted with a minus
    sign. A branch curving the other way (A < 0) gets the opposite sign.

    Parameters
    ----------
    a : float
        Normalised nonlinearity constant A (:class:`NonlinearityFit`), ±inf for linear.
    direction : {"LTP", "LTD"}
        Branch direction.

    Returns
    -------
    float
        The label (0 for a linear branch).

    Raises
    ------
    ValueError
        If ``direction`` is not "LTP" or "LTD", or ``a`` is NaN or zero.
    """
    if direction not in ("LTP", "LTD"):
        raise ValueError(f"direction must be 'LTP' or 'LTD', got {direction!r}")
    if not (np.isfinite(a) or np.isinf(a)) or a == 0.0:
        raise ValueError(f"nonlinearity constant A must be non-zero and not NaN, got {a!r}")
    if np.isinf(a) or abs(a) > 1e6:
        return 0.0
    # g(p) − p is extremal where g'(p) = 1: e^{−p/A} = A (1 − e^{−1/A}) (closed form, no grid)
    p = float(np.clip(-a * np.log(-a * np.expm1(-1.0 / a)), 0.0, 1.0))
    deviation = float(_normalised_branch(a, np.array([p]))[0] - p)
    label = 10.0 * deviation / (0.7 * np.sqrt(2.0))
    return label if direction == "LTP" else -label


def cycle_to_cycle_variation(values: np.ndarray) -> float:
    """Cycle-to-cycle variation std/mean (sample std, ddof = 1) of a quantity over repeated cycles.

    Raises
    ------
    ValueError
        If fewer than two values or a zero mean.
    """
    values = np.asarray(values, dtype=float)
    if values.size < 2 or values.mean() == 0.0:
        raise ValueError("need at least two values with a non-zero mean")
    return float(values.std(ddof=1) / abs(values.mean()))


@dataclass(frozen=True)
class ArrheniusFit:
    """Least-squares Arrhenius fit.

    Attributes
    ----------
    activation_energy : float
        E_a [eV].
    prefactor : float
        A in σ = A exp(−E_a/kT) (or σT = A exp(−E_a/kT)), unit of the data (× K).
    times_temperature : bool
        Whether σT (ionic-conductor convention) rather than σ was fitted.
    """

    activation_energy: float
    prefactor: float
    times_temperature: bool


def arrhenius_fit(temperature: np.ndarray, value: np.ndarray, times_temperature: bool = False) -> ArrheniusFit:
    """Fit ln(σ) (or ln(σT)) linearly in 1/T and return E_a [eV].

    Raises
    ------
    ValueError
        On fewer than two points, non-positive temperatures or values.
    """
    t = np.asarray(temperature, dtype=float)
    y = np.asarray(value, dtype=float) * (t if times_temperature else 1.0)
    if t.size < 2 or np.any(t <= 0.0) or np.any(y <= 0.0) or not np.all(np.isfinite(y)):
        raise ValueError("need at least two positive temperatures and positive, finite values")
    slope, intercept = np.polyfit(1.0 / t, np.log(y), 1)
    return ArrheniusFit(activation_energy=float(-slope * BOLTZMANN / EV), prefactor=float(np.exp(intercept)), times_temperature=times_temperature)


def areal_capacitance_cv(voltage: np.ndarray, current: np.ndarray, scan_rate: float, area: float) -> float:
    """Areal capacitance from one CV cycle: C = ∮|i| dV / (2 ν ΔV A) [F/m²].

    Parameters
    ----------
    voltage, current
        One full cycle, shape (n,), [V] and [A].
    scan_rate
        ν [V/s], positive.
    area
        Electrode area A [m²].

    Raises
    ------
    ValueError
        On mismatched shapes or non-positive rate/area/window.
    """
    v, i = np.asarray(voltage, dtype=float), np.asarray(current, dtype=float)
    window = v.max() - v.min()
    if v.shape != i.shape or scan_rate <= 0.0 or area <= 0.0 or window <= 0.0:
        raise ValueError("need matching voltage/current arrays, a positive scan rate, area and voltage window")
    charge_times_volt = np.sum(0.5 * (np.abs(i[1:]) + np.abs(i[:-1])) * np.abs(np.diff(v)))
    return float(charge_times_volt / (2.0 * scan_rate * window * area))


def areal_capacitance_gcd(current: float, discharge_time: float, voltage_window: float, area: float) -> float:
    """Areal capacitance from a galvanostatic discharge: C = I Δt / (ΔV A) [F/m²].

    Raises
    ------
    ValueError
        On non-positive inputs.
    """
    if min(abs(current), discharge_time, voltage_window, area) <= 0.0:
        raise ValueError("current, discharge time, voltage window and area must be positive")
    return float(abs(current) * discharge_time / (voltage_window * area))


def discharge_metrics(time: np.ndarray, voltage: np.ndarray, current: np.ndarray, area: float) -> dict[str, float]:
    """Capacitance, energy and power of one galvanostatic discharge (paper Fig. 3e-f, S3: GCD and Ragone point).

    ΔV = V(start) − V(end) of the discharge (the first point after the current
    reversal, so an ohmic IR drop is excluded), Δt its duration,
    C = |I| Δt/(ΔV A) [F/m²] (:func:`areal_capacitance_gcd`),
    E = ∫ |I| V dt / A [J/m²] (trapezoid, exact for linear V), P = E/Δt [W/m²].
    With ``area`` = 1 the values are per device: C [F], E [J], P [W].

    Parameters
    ----------
    time, voltage, current
        The discharge segment, shape (n,), n ≥ 2, [s], [V], [A] (constant current).
    area
        Electrode area [m²].

    Raises
    ------
    ValueError
        On fewer than two points, a non-constant current or a rising voltage.
    """
    t, v, i = (np.asarray(x, dtype=float) for x in (time, voltage, current))
    if t.size < 2 or not (t.shape == v.shape == i.shape):
        raise ValueError("a discharge needs at least two (t, V, I) points of matching shape")
    if np.ptp(i) > 1e-5 * np.max(np.abs(i)):
        raise ValueError("the discharge current is not constant")
    duration, window = t[-1] - t[0], v[0] - v[-1]
    if window <= 0.0:
        raise ValueError("the voltage does not fall during the discharge")
    magnitude = float(np.mean(np.abs(i)))
    energy = float(np.sum(0.5 * (v[1:] + v[:-1]) * np.diff(t))) * magnitude / area
    return {
        "capacitance_F_m2": areal_capacitance_gcd(magnitude, duration, window, area),
        "energy_J_m2": energy,
        "power_W_m2": energy / duration,
        "duration_s": float(duration),
        "window_V": float(window),
        "current_A": magnitude,
    }
