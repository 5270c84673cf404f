"""Power mode: one galvanostatic charge–discharge (GCD) cycle on a state with reduced host Li (paper §2.3, Fig. 3d–f, S3).

The paper reaches its power (supercapacitor) mode when air consumes the
device's Li excess; femion tests that last link with the Li loss as an input:
the as-fabricated state of :class:`femion.simulation.Simulation` with the Li of
both hosts (materials of kind ``"host"``: WO3, MoO3) scaled by (1 − X)
(:func:`reduced_state`). LiPON keeps its Li⁺ concentration c₀: it is an
electroneutral single-ion conductor (:class:`femion.physics.lithium.LithiumModule`).

On that state :func:`run_gcd` runs one GCD cycle (:func:`gcd_protocol`: charge
drawing Li into WO3 down to −window, discharge back to 0 V) and returns the
capacitance, energy and power of the discharge
(:func:`femion.observables.discharge_metrics`) in the paper's units and the
discharge's shape (:func:`discharge_shape`: a capacitor discharges linearly).

Shared by ``studies/li_inventory`` (scenario scan and Ragone fit) and the
calibration evaluator ``studies/calibration/evaluate`` (its ``power`` part).
"""

from __future__ import annotations

import math

import numpy as np

from femion.observables import discharge_metrics
from femion.protocols import Protocol, Step, VoltageLimits, rest

__all__ = ["WH", "discharge_shape", "gcd_protocol", "host_mask", "reduced_state", "run_gcd"]

WH = 3600.0
"""Joules per watt-hour [J/Wh]."""


def host_mask(mesh, device) -> np.ndarray:
    """Boolean mask of the host cells (materials of kind ``"host"``: WO3, MoO3).

    Parameters
    ----------
    mesh : femion.mesh.AxisymmetricMesh
        The device's mesh (n_cells cells).
    device : femion.config.Device
        The device whose film layers name the regions of ``mesh``.

    Returns
    -------
    ndarray of bool, shape (n_cells,)
        True on the cells of every host layer.
    """
    mask = np.zeros(mesh.n_cells, dtype=bool)
    for layer in device.films:
        if device.material(layer.name).kind == "host":
            mask |= mesh.region_mask(layer.name)
    return mask


def reduced_state(device, mesh, settings, reduction: float):
    """The as-fabricated state with the hosts' Li scaled by (1 − ``reduction``): the scenario's start state.

    Parameters
    ----------
    device : femion.config.Device
    mesh : femion.mesh.AxisymmetricMesh
        The mesh every run of the state uses (n_cells cells).
    settings : femion.simulation.SimulationSettings
    reduction : float
        Fraction X of the hosts' Li removed [1], in [0, 1).

    Returns
    -------
    femion.simulation.State
        ``c_li`` [mol/m³] scaled in the host cells; LiPON keeps c₀; double layers uncharged.

    Raises
    ------
    ValueError
        If ``reduction`` is outside [0, 1).
    """
    from femion.simulation import Simulation

    if not 0.0 <= reduction < 1.0:
        raise ValueError(f"the Li inventory reduction must be in [0, 1), got {reduction!r}")
    state = Simulation(device, rest(1.0), settings, mesh=mesh).initial_state()
    c = np.asarray(state.fields["c_li"], dtype=float)
    state.fields["c_li"] = np.where(host_mask(mesh, device), (1.0 - reduction) * c, c)
    return state


def gcd_protocol(current: float, window: float) -> Protocol:
    """One GCD cycle that stores Li in WO3: charge at −|current| to V = −|window|, discharge at +|current| to 0 V.

    Parameters
    ----------
    current : float
        Current magnitude [A], non-zero.
    window : float
        Voltage window magnitude [V], non-zero.

    Returns
    -------
    femion.protocols.Protocol
        Two current steps, each ended by its voltage limit.

    Raises
    ------
    femion.protocols.ProtocolError
        On a zero current or window.
    """
    magnitude, depth = abs(current), abs(window)
    return Protocol((
        Step.constant("current", -magnitude, math.inf, kind="charge", limits=VoltageLimits(lower=-depth), label="charge (Li into WO3)"),
        Step.constant("current", magnitude, math.inf, kind="discharge", limits=VoltageLimits(upper=0.0), label="discharge"),
    ))


def discharge_shape(time: np.ndarray, voltage: np.ndarray) -> dict[str, float]:
    """Linearity of a discharge V(t): R² of a least-squares line, and std/mean of dV/dt.

    A capacitor discharges linearly at constant current (R² = 1, spread 0); a
    Li-storage plateau bends the curve (R² < 1, a large spread).

    Parameters
    ----------
    time, voltage : ndarray, shape (n,)
        The discharge [s], [V], n ≥ 3, time strictly increasing.

    Returns
    -------
    dict
        ``r_squared`` [1] (NaN for a constant V) and ``dvdt_spread`` [1], the time-weighted
        std/mean of dV/dt (inf for a zero mean slope).

    Raises
    ------
    ValueError
        On fewer than three points or non-increasing time.
    """
    t, v = np.asarray(time, dtype=float), np.asarray(voltage, dtype=float)
    if t.size < 3 or np.any(np.diff(t) <= 0.0):
        raise ValueError("a discharge shape needs at least three points at increasing times")
    slope, intercept = np.polyfit(t, v, 1)
    residual = v - (slope * t + intercept)
    total = np.sum((v - v.mean()) ** 2)
    rate = np.diff(v) / np.diff(t)
    weights = np.diff(t)
    mean = np.sum(rate * weights) / np.sum(weights)
    spread = math.sqrt(np.sum(weights * (rate - mean) ** 2) / np.sum(weights)) / abs(mean) if mean != 0 else float("inf")
    return {"r_squared": float(1.0 - np.sum(residual**2) / total) if total > 0 else float("nan"), "dvdt_spread": float(spread)}


def run_gcd(device, mesh, settings, reduction: float, current: float, window: float, area: float):
    """One GCD cycle (:func:`gcd_protocol`) from the reduced start state (:func:`reduced_state`).

    The discharge metrics are :func:`femion.observables.discharge_metrics` of the
    discharge at the imposed current, taken on −V and −I (the discharge moves V
    on Pt from −``window`` to 0 V).

    Parameters
    ----------
    device : femion.config.Device
    mesh : femion.mesh.AxisymmetricMesh
        The mesh of the run (from ``device``).
    settings : femion.simulation.SimulationSettings
    reduction : float
        Fraction X of the hosts' Li removed [1], in [0, 1).
    current : float
        Current magnitude [A], non-zero.
    window : float
        Voltage window magnitude [V], non-zero.
    area : float
        Electrode area [m²], positive (the metrics are per area).

    Returns
    -------
    metrics : dict
        ``areal_capacitance_mF_cm2`` [mF/cm²], ``energy_uWh_cm2`` [µWh/cm²], ``power_uW_cm2`` [µW/cm²]
        (the paper's units), ``discharge_time_s``, ``charge_time_s`` [s], ``charge_C_m2``,
        ``discharge_C_m2`` [C/m²], ``mean_discharge_voltage_V`` [V] and the discharge shape
        ``discharge_r_squared``, ``discharge_dvdt_spread`` [1] (:func:`discharge_shape`).
    curves : xarray.Dataset
        The run's curves (per time step: ``time`` [s], ``voltage`` [V], ``current`` [A], ...).

    Raises
    ------
    ValueError
        If ``reduction`` is outside [0, 1), or the run has no discharge (fewer than three
        points at the discharge current).
    femion.simulation.SimulationError
        If the time integration fails.
    """
    from femion.simulation import Simulation

    start = reduced_state(device, mesh, settings, reduction)
    result = Simulation(device, gcd_protocol(current, window), settings, mesh=mesh, start=start).run(progress=None)
    curves = result.curves
    t, v, i = curves.time.values, curves.voltage.values, curves.current.values
    scale = abs(current)
    charge = np.flatnonzero(np.isclose(i, -scale, rtol=1e-3, atol=0.0))
    discharge = np.flatnonzero(np.isclose(i, scale, rtol=1e-3, atol=0.0))
    if discharge.size < 3:
        raise ValueError("the GCD run has no discharge")
    # The imposed current: the recorded one follows it to ~1e-6 relative, above discharge_metrics' constancy check.
    metrics = discharge_metrics(t[discharge], -v[discharge], np.full(discharge.size, -abs(current)), area)
    shape = discharge_shape(t[discharge], v[discharge])
    return {
        "areal_capacitance_mF_cm2": metrics["capacitance_F_m2"] * 0.1,
        "energy_uWh_cm2": metrics["energy_J_m2"] / WH * 1e2,
        "power_uW_cm2": metrics["power_W_m2"] * 1e2,
        "discharge_time_s": metrics["duration_s"],
        "charge_time_s": float(t[charge[-1]] - t[charge[0]]) if charge.size > 1 else float("nan"),
        "charge_C_m2": float(scale / area * (t[charge[-1]] - t[charge[0]])) if charge.size > 1 else float("nan"),
        "discharge_C_m2": float(scale / area * metrics["duration_s"]),
        "mean_discharge_voltage_V": metrics["energy_J_m2"] / (scale / area * metrics["duration_s"]),
        "discharge_r_squared": shape["r_squared"],
        "discharge_dvdt_spread": shape["dvdt_spread"],
    }, curves
