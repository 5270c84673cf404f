"""Oxygen-vacancy switching runs and their observables.

Shared by the studies ``forming``, ``volatile_switching``,
``nonvolatile_switching``, ``retention`` and ``variability``: the run
(:func:`run_vacancy`), its numerical settings from a study's config
(:func:`settings_for`), the forming ramp (:func:`form`) and the observables.

Physics of the runs
-------------------
:class:`VacancySimulation` is :class:`femion.Simulation` with the physics
``("vacancy", "thermal")``: the potential ∇·(κ∇φ) = 0 with
κ = σ_e + z e μ N in the films (σ_e the films' ``electronic_conductivity``;
N the V_O density of :mod:`femion.physics.vacancy`), field-accelerated V_O
hopping with the density-dependent barrier and thermochemical generation,
and steady Joule heating (:mod:`femion.physics.thermal`). Lithium is left
out: the Li⁺ current is blocked by the electrodes at DC, so the film
conductivity is *replaced* (``replace_film_conductivity``) rather than
LiPON's Li⁺ conductivity added. The coupled loop with every module on runs
the paper's analog pulses (tests/regression/test_all_physics_pulses.py);
these switching runs keep the reduced physics as their cost choice.

External circuit: a voltage source with compliance I_cc, solved inside
the potential solve of every coupling iterate
(:meth:`femion.coupling.Drive.electrode_voltage`). The drive is a
:class:`femion.coupling.RecentHistoryDrive` (re-exported here): its window of
the last few coupling iterates acts only in the loop-level fallback
(:meth:`femion.coupling.Drive.target_voltage`, where the first module reports
no dI/dV).

Observables (definitions, paper values in femion.claims)
------------------------------------------------------
* forming voltage V_f: source voltage at which |I| first reaches
  ``level`` · I_cc on the forming ramp (linear interpolation);
* V_th, V_hold on a 0 → V_max → 0 sweep: forward-leg source voltage where
  |I| first reaches ``level`` · I_cc; backward-leg source voltage where |I|
  last falls below it (paper Fig. 3h: "the current increases rapidly to reach
  I_CC … returns to off-state … below V_hold");
* selectivity I_on/I_off: backward-leg over forward-leg current at the same
  source voltage, the read voltage halfway between V_hold and V_th (both
  states exist there);
* filament location: the radial profile of the V_O excess over the initial
  density, averaged over the LiPON thickness; r of its maximum and its full
  width at half maximum (on the cell centres; a profile that peaks at
  r > 0 is a ring in the axisymmetric geometry);
* bipolar cycle 0 → +V → 0 → −V → 0 (:func:`bipolar_cycle`), with a given
  set polarity (which half sets): set voltage V_set, forward leg of the set
  half where |I| first reaches ``level`` · I_cc; reset voltage V_reset, the
  source voltage of the largest |I| on the forward leg of the reset half when
  |I| then drops by at least ``reset_drop`` (else NaN: no reset); LRS =
  V_read/|I| on the backward leg of the set half at ±V_read, HRS the same on
  the backward leg of the reset half (:func:`backward_resistance`);
* variation: std/mean (:func:`femion.observables.cycle_to_cycle_variation`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from femion.config import Device
from femion.coupling import RecentHistoryDrive, State
from femion.geometry import MeshSettings
from femion.mesh import AxisymmetricMesh
from femion.protocols import Protocol, forming_ramp
from femion.simulation import Simulation, SimulationSettings
from femion.units import to_si

__all__ = [
    "BipolarCycle",
    "RecentHistoryDrive",
    "SwitchingRun",
    "SwitchingSweep",
    "VacancySimulation",
    "backward_resistance",
    "bipolar_cycle",
    "compliance_label",
    "crossing_voltage",
    "filament_profile",
    "form",
    "forming_voltage",
    "radial_excess_profile",
    "run_vacancy",
    "settings_for",
    "switching_sweep",
]


class VacancySimulation(Simulation):
    """A :class:`~femion.Simulation` of the V_O + Joule-heating physics, optionally from a given state.

    Parameters
    ----------
    device
        The device.
    protocol
        Electrical programme.
    settings
        Numerical settings (the coupling iterations should allow ~40 iterates
        under compliance).
    mesh
        Prebuilt mesh (e.g. deformed-electrode); default built from ``settings.mesh``.
    start
        State to start from (fields of a previous run on the same mesh, and
        t, V, I); None starts from the pristine device.
    seed, barrier_disorder, density_fluctuation
        Disorder of :class:`femion.physics.vacancy.VacancyModule` (seeded,
        bit-identical per seed).
    drive_window
        ``window`` of :class:`RecentHistoryDrive` (it sets ``settings.circuit_window``).
    weak_site
        Opt-in nucleation seed, :class:`femion.physics.seed.DefectSeed` (the
        weakest site of the electrode area, put on the axis); its draw is
        ``self.vacancy.seed_draw``. None (default): the flat pristine device.
    track_oxygen
        Track the O²⁻ released by generation (field ``n_o``) with its drift
        and recombination (:class:`femion.physics.vacancy.VacancyModule`).

    Raises
    ------
    ValueError
        A ``start`` state whose fields do not match the mesh, or bad disorder parameters.
    """

    def __init__(
        self,
        device: Device,
        protocol: Protocol,
        settings: SimulationSettings = SimulationSettings(max_iterations=40),
        mesh: AxisymmetricMesh | None = None,
        start: State | None = None,
        *,
        seed: int | None = None,
        barrier_disorder: float = 0.0,
        density_fluctuation: float = 0.0,
        drive_window: int = 3,
        weak_site=None,
        track_oxygen: bool = False,
    ):
        from femion.physics.electrostatics import ElectrostaticsModule
        from femion.physics.thermal import ThermalModule
        from femion.physics.vacancy import VacancyModule

        settings = replace(settings, circuit_window=int(drive_window))  # the time loop's RecentHistoryDrive
        super().__init__(device, protocol, settings, mesh=mesh, physics=("vacancy", "thermal"), start=start)
        self.vacancy = VacancyModule(
            self.mesh, device, seed=seed, barrier_disorder=barrier_disorder,
            density_fluctuation=density_fluctuation, replace_film_conductivity=True, weak_site=weak_site,
            track_oxygen=track_oxygen,
        )
        self.thermal = ThermalModule(self.mesh, device)
        self.modules = [ElectrostaticsModule(self.mesh, device, providers=[self.vacancy]), self.vacancy, self.thermal]
        self.drive_window = int(drive_window)


def crossing_voltage(source: np.ndarray, current: np.ndarray, level: float, *, last_below: bool = False) -> float:
    """Source voltage where |I| crosses ``level`` (linear interpolation in |I|) [V].

    Parameters
    ----------
    source, current
        Source voltage [V] and device current [A] per time step, shape (n,).
    level
        Current level [A], positive.
    last_below
        False: the first step at which |I| reaches ``level`` (rising crossing).
        True: the last step at which |I| falls below ``level`` coming from above
        (falling crossing).

    Returns
    -------
    float
        The crossing voltage, or NaN if |I| never crosses ``level`` that way.

    Raises
    ------
    ValueError
        Shapes differ, or ``level`` is not positive.
    """
    v = np.asarray(source, dtype=float)
    i = np.abs(np.asarray(current, dtype=float))
    if v.shape != i.shape or v.ndim != 1:
        raise ValueError(f"source and current must be 1-D of equal length, got {v.shape} and {i.shape}")
    if not level > 0.0:
        raise ValueError(f"level must be positive, got {level!r}")
    above = i >= level
    if last_below:
        falls = np.flatnonzero(above[:-1] & ~above[1:])
        if len(falls) == 0:
            return float("nan")
        k = int(falls[-1])
    else:
        rises = np.flatnonzero(~above[:-1] & above[1:])
        if above[0]:
            return float(v[0])
        if len(rises) == 0:
            return float("nan")
        k = int(rises[0])
    # interpolate in log|I| (currents span decades across the switching jump)
    a, b = np.log(max(i[k], 1e-300)), np.log(max(i[k + 1], 1e-300))
    fraction = 0.5 if a == b else float(np.clip((np.log(level) - a) / (b - a), 0.0, 1.0))
    return float(v[k] + fraction * (v[k + 1] - v[k]))


def forming_voltage(source: np.ndarray, current: np.ndarray, compliance: float, level: float = 0.99) -> float:
    """Forming voltage V_f [V]: source voltage where |I| first reaches ``level`` · I_cc (NaN if never).

    Raises
    ------
    ValueError
        Non-positive compliance or level outside (0, 1].
    """
    if not (compliance > 0.0 and 0.0 < level <= 1.0):
        raise ValueError(f"need compliance > 0 and 0 < level <= 1, got {compliance!r}, {level!r}")
    return crossing_voltage(source, current, level * compliance)


@dataclass(frozen=True)
class SwitchingSweep:
    """Threshold-switching figures of one 0 → V_max → 0 sweep.

    Attributes
    ----------
    v_th, v_hold : float
        Threshold and hold voltages [V] (NaN if not reached).
    read_voltage : float
        (V_th + V_hold)/2 [V].
    i_on, i_off : float
        |I| on the backward and forward legs at ``read_voltage`` [A].
    selectivity : float
        i_on / i_off.
    """

    v_th: float
    v_hold: float
    read_voltage: float
    i_on: float
    i_off: float
    selectivity: float


def switching_sweep(source: np.ndarray, current: np.ndarray, compliance: float, level: float = 0.5) -> SwitchingSweep:
    """V_th, V_hold and the selectivity of one 0 → V_max → 0 sweep (module docstring definitions).

    Parameters
    ----------
    source, current
        Source voltage [V] and current [A] per step, shape (n,), the sweep
        going up to its maximum and back.
    compliance
        I_cc [A].
    level
        Fraction of I_cc defining the switching crossings.

    Raises
    ------
    ValueError
        Bad shapes or parameters.
    """
    v = np.asarray(source, dtype=float)
    i = np.asarray(current, dtype=float)
    if v.shape != i.shape or v.ndim != 1 or len(v) < 3:
        raise ValueError("source and current must be 1-D, equal length, at least 3 points")
    if not (compliance > 0.0 and 0.0 < level <= 1.0):
        raise ValueError(f"need compliance > 0 and 0 < level <= 1, got {compliance!r}, {level!r}")
    top = int(np.argmax(v))
    v_th = crossing_voltage(v[: top + 1], i[: top + 1], level * compliance)
    v_hold = crossing_voltage(v[top:], i[top:], level * compliance, last_below=True)
    nan = float("nan")
    if not (np.isfinite(v_th) and np.isfinite(v_hold)):
        return SwitchingSweep(v_th, v_hold, nan, nan, nan, nan)
    read = 0.5 * (v_th + v_hold)
    forward_v, forward_i = v[: top + 1], np.abs(i[: top + 1])
    backward_v, backward_i = v[top:][::-1], np.abs(i[top:][::-1])
    order_f = np.argsort(forward_v, kind="stable")
    order_b = np.argsort(backward_v, kind="stable")
    i_off = float(np.interp(read, forward_v[order_f], forward_i[order_f]))
    i_on = float(np.interp(read, backward_v[order_b], backward_i[order_b]))
    return SwitchingSweep(v_th, v_hold, read, i_on, i_off, i_on / i_off if i_off > 0 else nan)


def backward_resistance(source: np.ndarray, current: np.ndarray, read: float) -> float:
    """V_read/|I| [Ohm] on the backward leg (after the extreme of |source|) at source = ``read`` [V] (signed).

    Parameters
    ----------
    source, current
        Source voltage [V] and current [A] of one half cycle 0 → ±V → 0, shape (n,).
    read
        Read voltage [V], same sign as the half cycle, non-zero.

    Returns
    -------
    float
        |read| / |I(read)| by linear interpolation on the backward leg (inf if I = 0 there).

    Raises
    ------
    ValueError
        Bad shapes or ``read`` = 0.
    """
    v, i = np.asarray(source, dtype=float), np.asarray(current, dtype=float)
    if v.shape != i.shape or v.ndim != 1 or len(v) < 2 or read == 0.0:
        raise ValueError("source and current must be 1-D of equal length >= 2, and read non-zero")
    top = int(np.argmax(np.abs(v)))
    back_v, back_i = v[top:], np.abs(i[top:])
    order = np.argsort(back_v, kind="stable")
    value = float(np.interp(read, back_v[order], back_i[order]))
    return abs(read) / value if value > 0 else float("inf")


@dataclass(frozen=True)
class BipolarCycle:
    """Figures of one bipolar cycle 0 → +V → 0 → −V → 0 (module docstring definitions).

    Attributes
    ----------
    v_set, v_reset : float
        Set [V] (positive) and reset [V] (negative) voltages, NaN if absent.
    lrs, hrs : float
        Resistances [Ohm] at ±V_read after the set and after the reset.
    """

    v_set: float
    v_reset: float
    lrs: float
    hrs: float


def bipolar_cycle(source: np.ndarray, current: np.ndarray, compliance: float, read: float, level: float = 0.5,
                  reset_drop: float = 0.1, set_polarity: int = 1) -> BipolarCycle:
    """Set/reset voltages and LRS/HRS of one bipolar cycle 0 → +V → 0 → −V → 0 (module docstring).

    Parameters
    ----------
    source, current
        Source voltage [V] and current [A], shape (n,), positive half first.
    compliance
        I_cc of the set [A], positive.
    read
        |V_read| [V], positive.
    level
        Fraction of I_cc defining the set crossing, in (0, 1].
    reset_drop
        Relative drop of |I| after its maximum on the forward leg of the reset half that counts as a reset, in (0, 1).
    set_polarity
        +1: the positive half sets and the negative half resets; −1: the reverse (V_set < 0 < V_reset).

    Raises
    ------
    ValueError
        Bad shapes, no negative half, or parameters out of range.
    """
    v, i = np.asarray(source, dtype=float), np.asarray(current, dtype=float)
    if v.shape != i.shape or v.ndim != 1:
        raise ValueError("source and current must be 1-D of equal length")
    if not (compliance > 0.0 and read > 0.0 and 0.0 < level <= 1.0 and 0.0 < reset_drop < 1.0 and set_polarity in (1, -1)):
        raise ValueError("need compliance > 0, read > 0, 0 < level <= 1, 0 < reset_drop < 1, set_polarity +-1; "
                         f"got {compliance}, {read}, {level}, {reset_drop}, {set_polarity}")
    negative = np.flatnonzero(v < 0.0)
    if len(negative) == 0:
        raise ValueError("the cycle has no negative half")
    split = int(negative[0])
    halves = {1: (v[:split], i[:split]), -1: (v[split - 1:], i[split - 1:])}
    set_v, set_i = halves[set_polarity]
    reset_v, reset_i = halves[-set_polarity]
    top = int(np.argmax(np.abs(set_v)))
    v_set = crossing_voltage(set_v[: top + 1], set_i[: top + 1], level * compliance)
    bottom = int(np.argmax(np.abs(reset_v)))
    forward = np.abs(reset_i[: bottom + 1])
    peak = int(np.argmax(forward))
    dropped = peak < bottom and np.min(forward[peak:]) <= (1.0 - reset_drop) * forward[peak]
    v_reset = float(reset_v[peak]) if dropped else float("nan")
    return BipolarCycle(v_set, v_reset, backward_resistance(set_v, set_i, set_polarity * read),
                        backward_resistance(reset_v, reset_i, -set_polarity * read))


def radial_excess_profile(films: AxisymmetricMesh, density: np.ndarray, background: np.ndarray, region: str) -> tuple[np.ndarray, np.ndarray]:
    """Thickness-averaged V_O excess N − N₀ per radial column of ``region`` [1/m³].

    Parameters
    ----------
    films
        The film mesh (transfinite: cells of a region lie in columns of equal centroid r).
    density, background
        N and N₀ on the film cells [1/m³], shape (films.n_cells,).
    region
        Film region name (e.g. "LiPON").

    Returns
    -------
    (ndarray, ndarray)
        Column centre radii r [m], shape (m,), sorted, and the area-weighted
        mean excess over each column's cells, shape (m,).

    Raises
    ------
    ValueError
        Shapes that do not match the mesh.
    """
    density = np.asarray(density, dtype=float)
    background = np.asarray(background, dtype=float)
    if density.shape != (films.n_cells,) or background.shape != (films.n_cells,):
        raise ValueError(f"density and background must have shape ({films.n_cells},)")
    mask = films.region_mask(region)
    r = films.cell_centroids[mask, 0]
    keys = np.round(r, 12)
    radii, column = np.unique(keys, return_inverse=True)
    weight = films.areas[mask]
    total = np.bincount(column, weights=weight * (density - background)[mask])
    return radii, total / np.bincount(column, weights=weight)


def filament_profile(radii: np.ndarray, excess: np.ndarray) -> dict[str, float]:
    """Location and width of the V_O column from a radial excess profile.

    Returns ``r_max_m`` (r of the maximum excess), ``fwhm_m`` (width of the
    connected region around it above half the maximum, on the column centres;
    a peak at r = 0 counts its full width 2·r_half, a ring its radial width),
    ``peak_excess_m3`` and ``contrast`` (max over median of the excess).
    All NaN if the excess is nowhere positive.
    """
    radii, excess = np.asarray(radii, dtype=float), np.asarray(excess, dtype=float)
    nan = float("nan")
    if len(radii) == 0 or not np.max(excess) > 0.0:
        return {"r_max_m": nan, "fwhm_m": nan, "peak_excess_m3": nan, "contrast": nan}
    k = int(np.argmax(excess))
    half = 0.5 * excess[k]
    low = k
    while low > 0 and excess[low - 1] >= half:
        low -= 1
    high = k
    while high < len(radii) - 1 and excess[high + 1] >= half:
        high += 1

    def edge(inside: int, outside: int) -> float:
        a, b = excess[inside], excess[outside]
        return float(radii[inside] + (a - half) / (a - b) * (radii[outside] - radii[inside]))

    left = edge(low, low - 1) if low > 0 else 0.0
    right = edge(high, high + 1) if high < len(radii) - 1 else float(radii[-1])
    width = 2.0 * right if low == 0 else right - left
    median = float(np.median(excess))
    return {
        "r_max_m": float(radii[k]),
        "fwhm_m": float(width),
        "peak_excess_m3": float(excess[k]),
        "contrast": float(excess[k] / median) if median > 0 else float("inf"),
    }


@dataclass
class SwitchingRun:
    """Curves and final state of one :class:`VacancySimulation` run.

    Attributes
    ----------
    time, source, voltage, current : ndarray, shape (n,)
        t [s], source voltage of the protocol [V], electrode voltage [V]
        (below the source while the compliance binds), device current [A].
    peak_temperature : ndarray, shape (n,)
        T_max [K].
    vo_peak : ndarray, shape (n,)
        Largest V_O density [1/m³].
    state : State
        Final state.
    simulation : VacancySimulation
        The simulation (its ``vacancy`` module holds the film mesh and initial density).
    """

    time: np.ndarray
    source: np.ndarray
    voltage: np.ndarray
    current: np.ndarray
    peak_temperature: np.ndarray
    vo_peak: np.ndarray
    state: State
    simulation: VacancySimulation

    def cycles(self, duration: float, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """(source [V], current [A]) of each of ``count`` cycles of ``duration`` [s] from t = 0.

        The steps at a cycle boundary belong to both neighbouring cycles.
        """
        pieces = []
        for cycle in range(count):
            chosen = (self.time >= cycle * duration * (1 - 1e-12)) & (self.time <= (cycle + 1) * duration * (1 + 1e-12))
            pieces.append((self.source[chosen], self.current[chosen]))
        return pieces

    def dataset(self):
        """The curves as an :class:`xarray.Dataset` (dimension ``time``, SI units as attrs)."""
        import xarray as xr

        return xr.Dataset(
            {
                "source_voltage": ("time", self.source, {"units": "V"}),
                "voltage": ("time", self.voltage, {"units": "V"}),
                "current": ("time", self.current, {"units": "A"}),
                "T_max": ("time", self.peak_temperature, {"units": "K"}),
                "vo_peak": ("time", self.vo_peak, {"units": "1/m^3"}),
            },
            coords={"time": ("time", self.time, {"units": "s"})},
        )


def run_vacancy(device: Device, protocol: Protocol, settings: SimulationSettings, mesh: AxisymmetricMesh,
                start: State | None = None, stage: str | None = None, **disorder) -> SwitchingRun:
    """Run ``protocol`` with :class:`VacancySimulation` and collect the curves.

    ``stage`` labels the run's progress output (:meth:`femion.simulation.Simulation.run`).
    ``disorder`` goes to :class:`VacancySimulation` (``seed``, ``barrier_disorder``,
    ``density_fluctuation``, ``weak_site``, ``track_oxygen``). The protocol time starts at 0 for every run
    (the start state's time is reset), so ``source`` is ``protocol.voltage(t)``;
    with a start state the t = 0 row (the previous run's last V and I) is dropped.

    Raises
    ------
    femion.simulation.SimulationError
        If the time loop cannot advance.
    """
    if start is not None:
        start = start.copy()
        start.time = 0.0
    simulation = VacancySimulation(device, protocol, settings, mesh=mesh, start=start, **disorder)
    result = simulation.run(None, progress=None, stage=stage)
    curves = result.curves
    # A start state carries the voltage and current of the previous run's last step, not of this protocol at t = 0.
    keep = slice(1, None) if start is not None else slice(None)
    time = curves.time.values[keep]
    source = np.asarray(protocol.voltage(np.minimum(time, protocol.duration)), dtype=float) if protocol.is_timed else curves.voltage.values[keep]
    return SwitchingRun(
        time=time, source=source, voltage=curves.voltage.values[keep], current=curves.current.values[keep],
        peak_temperature=curves.T_max.values[keep], vo_peak=curves.vo_peak.values[keep], state=result.state, simulation=simulation,
    )


def compliance_label(compliance: float) -> str:
    """File and stage label of a compliance current ``compliance`` [A], in µA: 5e-5 -> ``"50uA"``."""
    return f"{compliance * 1e6:g}uA"


def settings_for(config: dict, quick: bool, origin: str = "config.toml") -> SimulationSettings:
    """Numerical settings of a V_O switching study from its ``config`` table (40 coupling iterations under compliance).

    Parameters
    ----------
    config
        The study's raw config table (:func:`femion.config.load_study_config`): ``mesh_refinement`` and
        ``quick_mesh_refinement`` (dimensionless, :class:`femion.geometry.MeshSettings` ``refinement``),
        ``error_tolerance`` (dimensionless local-error tolerance, :class:`femion.simulation.SimulationSettings`),
        and optionally ``axis_cell`` (length; empty or absent: the plain mesh) with ``axis_core`` (length), the
        nano-resolved axis of :class:`femion.geometry.MeshSettings`.
    quick
        Use ``quick_mesh_refinement`` instead of ``mesh_refinement``.
    origin
        The config file, named in error messages.

    Returns
    -------
    SimulationSettings
        Mesh settings as above, ``max_iterations`` 40, ``min_step_fraction`` 1e-7 and the local-error tolerance.

    Raises
    ------
    ValueError
        A non-positive mesh refinement or error tolerance, or bad nano-axis settings (the message names the key
        and ``origin``).
    """
    key = "quick_mesh_refinement" if quick else "mesh_refinement"
    refinement = to_si(config[key], "", name=key, origin=origin, positive=True)
    tolerance = to_si(config["error_tolerance"], "", name="error_tolerance", origin=origin, positive=True)
    axis = {}
    if config.get("axis_cell", ""):
        axis = {"axis_cell": to_si(config["axis_cell"], "m", name="axis_cell", origin=origin, positive=True),
                "axis_core": to_si(config["axis_core"], "m", name="axis_core", origin=origin, positive=True)}
    return SimulationSettings(mesh=MeshSettings(refinement=refinement, **axis), max_iterations=40, min_step_fraction=1e-7,
                              error_tolerance=tolerance)


def form(device: Device, mesh: AxisymmetricMesh, settings: SimulationSettings, compliance: float, rate: float, stop: float,
         **disorder) -> SwitchingRun:
    """Electroforming: the ramp 0 → ``stop`` at ``rate`` under the compliance ``compliance`` (paper Fig. 3g), run by :func:`run_vacancy`.

    Parameters
    ----------
    device, mesh, settings
        As :func:`run_vacancy` (the pristine device: no start state).
    compliance
        I_cc [A], positive.
    rate
        Ramp rate |dV/dt| [V/s], positive.
    stop
        End voltage of the ramp [V], non-zero.
    **disorder
        Passed to :class:`VacancySimulation` (``seed``, ``barrier_disorder``, ``density_fluctuation``,
        ``weak_site``, ``track_oxygen``).

    Returns
    -------
    SwitchingRun
        The forming run; its stage label is ``forming at I_cc = <compliance_label>``.

    Raises
    ------
    ValueError
        Bad ramp parameters (:func:`femion.protocols.forming_ramp`).
    femion.simulation.SimulationError
        If the time loop cannot advance.
    """
    return run_vacancy(device, forming_ramp(0.0, stop, rate, compliance), settings, mesh,
                       stage=f"forming at I_cc = {compliance_label(compliance)}", **disorder)
