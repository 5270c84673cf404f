"""``Simulation(device, protocol).run()``: the time loop over a protocol.

Pipeline: device → mesh → physics modules (electrostatics first, then lithium;
later physics append to the list) → time loop over the protocol steps →
:class:`Result` (curves, reads, final fields), written to an output directory
with provenance.

Time stepping. Within each protocol step the loop lands exactly on the step's
breakpoints, never exceeds ``step.max_step``, and adapts dt: after an accepted
step dt grows by ``settings.growth``; a failed step (a module error, a
non-converged coupling, a non-finite or unphysical field) is rejected, the
state restored and dt halved, down to ``settings.min_step_fraction`` of the
protocol step (then :class:`SimulationError` names the time). NaN never
propagates silently.

Checkpoints. After every protocol step the state, the records and the
position in the protocol are written atomically to ``checkpoint.npz`` in the
output directory (protocol steps are pulses, reads, rests and sweep legs, so
at most one step's work is lost). ``run(outdir)`` on a directory holding a checkpoint of the
same device, protocol and mesh resumes after the last completed protocol step;
nothing already computed is recomputed.

Not yet supported (clear errors): current-controlled steps (galvanostatic,
open-circuit rests) and compliance currents need the electrochemistry and
vacancy modules of later issues.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from femion.config import Device
from femion.coupling import CouplingError, State, coupled_step
from femion.geometry import QUICK_MESH, MeshSettings
from femion.io import atomic_write, write_dataset, write_fields, write_run_metadata
from femion.mesh import AxisymmetricMesh, build_mesh
from femion.protocols import Protocol

__all__ = ["Result", "Simulation", "SimulationError", "SimulationSettings"]


class SimulationError(RuntimeError):
    """The time loop could not advance (the message names the time and the cause)."""


@dataclass(frozen=True)
class SimulationSettings:
    """Numerical settings of the time loop.

    Attributes
    ----------
    mesh : MeshSettings
        Mesh resolution (default: the quick mesh).
    first_step : float or None
        First trial dt of every protocol step [s]; None starts at the step's
        ``max_step`` and relies on rejection to shrink it where needed.
    growth : float
        dt growth factor after an accepted step.
    min_step_fraction : float
        Smallest dt as a fraction of the protocol step's duration before giving up.
    tolerance : float
        Relative Picard tolerance of the coupling iterations.
    max_iterations : int
        Coupling iterations per step.
    """

    mesh: MeshSettings = QUICK_MESH
    first_step: float | None = None
    growth: float = 1.5
    min_step_fraction: float = 1e-9
    tolerance: float = 1e-6
    max_iterations: int = 20


@dataclass
class Result:
    """Output of :meth:`Simulation.run`.

    Attributes
    ----------
    curves : xarray.Dataset
        Per accepted time step (dimension ``time``): ``voltage`` [V],
        ``current`` [A] and module observables (e.g. ``li_inventory_WO3`` [mol]).
    reads : xarray.Dataset
        Per read step (dimension ``read``): ``G`` [S], ``pulse_number``,
        ``pulse_index``, ``polarity``, ``cycle``, ``phase``, ``time`` [s].
    state : State
        Final state (fields on the full mesh).
    mesh : AxisymmetricMesh
        The full device mesh.
    """

    curves: object
    reads: object
    state: State
    mesh: AxisymmetricMesh
    resumed_steps: int = 0


@dataclass
class _Records:
    rows: list[dict] = field(default_factory=list)
    reads: list[dict] = field(default_factory=list)


class Simulation:
    """A device driven by a protocol through the coupled physics.

    Parameters
    ----------
    device
        The device (``femion.load_device()``).
    protocol
        The electrical programme (:mod:`femion.protocols`).
    settings
        Numerical settings.
    mesh
        A prebuilt mesh of the device (default: built from ``settings.mesh``).

    Raises
    ------
    ValueError
        If the protocol has current-controlled steps or compliance currents
        (not yet supported), or is empty.
    """

    def __init__(
        self,
        device: Device,
        protocol: Protocol,
        settings: SimulationSettings = SimulationSettings(),
        mesh: AxisymmetricMesh | None = None,
    ):
        from femion.physics.electrostatics import ElectrostaticsModule
        from femion.physics.lithium import LithiumModule

        if len(protocol) == 0:
            raise ValueError("the protocol is empty")
        unsupported = [step.label or step.kind for step in protocol if step.control != "voltage" or step.compliance]
        if unsupported:
            raise ValueError(
                f"steps {unsupported[:3]} are current-controlled or carry a compliance current; the coupled loop "
                "supports voltage-controlled steps only until the electrochemistry and vacancy modules land"
            )
        self.device = device
        self.protocol = protocol
        self.settings = settings
        self.mesh = mesh if mesh is not None else build_mesh(device, settings=settings.mesh)
        lithium = LithiumModule(self.mesh, device)
        self.modules = [ElectrostaticsModule(self.mesh, device, providers=[lithium]), lithium]

    # ----------------------------------------------------------------- run
    def initial_state(self) -> State:
        """The state before the first step (no bias, Li in equilibrium)."""
        state = State()
        for module in reversed(self.modules):  # Li first, so κ sees it
            module.initialize(state)
        return state

    def signature(self) -> str:
        """Hash of device, protocol and mesh identifying compatible checkpoints."""
        text = json.dumps([self.device.text, repr(list(self.protocol)), self.mesh.n_cells, repr(self.settings)])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def run(self, outdir: str | Path | None = None, *, resume: bool = True, progress: bool | None = None) -> Result:
        """Run the protocol; write outputs to ``outdir`` if given.

        Parameters
        ----------
        outdir
            Output directory: ``curves.nc``, ``reads.nc``, ``fields.vtu``,
            ``checkpoint.npz`` and the run provenance.
        resume
            Continue from a compatible ``checkpoint.npz`` in ``outdir``.
        progress
            Show a progress bar (default: only on a terminal).

        Raises
        ------
        SimulationError
            If a step cannot be completed even at the smallest dt.
        """
        from tqdm import tqdm

        outdir = Path(outdir) if outdir is not None else None
        state, records, first = self.initial_state(), _Records(), 0
        if outdir is not None and resume and (outdir / "checkpoint.npz").is_file():
            loaded = self._load_checkpoint(outdir / "checkpoint.npz")
            if loaded is not None:
                state, records, first = loaded
        if first == 0:
            records.rows.append(self._row(state))
        starts = np.concatenate([[0.0], np.cumsum([step.duration for step in self.protocol])])
        bar = tqdm(total=float(starts[-1]), unit="s", desc="femion", disable=(not progress) if progress is not None else None)
        bar.update(float(starts[first]))
        for index in range(first, len(self.protocol)):
            step = self.protocol[index]
            first_step = step.max_step if self.settings.first_step is None else self.settings.first_step
            local, dt = 0.0, min(first_step, step.max_step, step.duration)
            marks = np.asarray(step.breakpoints())
            while local < step.duration * (1 - 1e-12):
                next_mark = marks[marks > local * (1 + 1e-12) + 1e-300]
                target = float(next_mark[0]) if len(next_mark) else step.duration
                trial = min(dt, step.max_step, target - local)
                if target - local - trial < 1e-9 * trial:
                    trial = target - local
                try:
                    new, outcome = coupled_step(
                        self.modules, state, trial, float(step.value(local + trial)),
                        tolerance=self.settings.tolerance, max_iterations=self.settings.max_iterations,
                    )
                except (CouplingError, FloatingPointError, ArithmeticError, ValueError) as error:
                    dt = trial / 2.0
                    if dt < self.settings.min_step_fraction * step.duration:
                        raise SimulationError(
                            f"cannot advance at t = {state.time:.6g} s in step {index} ({step.label or step.kind}): {error}"
                        ) from error
                    continue
                state = new
                local = local + trial if trial != target - local else target
                records.rows.append(self._row(state))
                bar.update(trial)
                dt = trial * self.settings.growth
            if step.kind == "read":
                records.reads.append(self._read(step, state))
            if outdir is not None:
                self._save_checkpoint(outdir / "checkpoint.npz", state, records, index + 1)
        bar.close()
        result = self._result(state, records, resumed=first)
        if outdir is not None:
            self.write(outdir, result)
        return result

    # ------------------------------------------------------------ records
    def _row(self, state: State) -> dict:
        row = {"time": state.time, "voltage": state.voltage, "current": state.current}
        for module in self.modules:
            if hasattr(module, "observables"):
                row.update(module.observables(state))
        return row

    @staticmethod
    def _read(step, state: State) -> dict:
        voltage = float(step.end_value)
        return {
            "time": state.time,
            "G": state.current / voltage,
            "read_voltage": voltage,
            "pulse_number": step.pulse_number or 0,
            "pulse_index": step.pulse_index or 0,
            "polarity": step.polarity or 0,
            "cycle": step.cycle or 0,
            "phase": step.phase or "",
        }

    def _result(self, state: State, records: _Records, resumed: int) -> Result:
        import xarray as xr

        rows = records.rows
        curves = xr.Dataset(
            {key: ("time", np.array([row[key] for row in rows])) for key in rows[0] if key != "time"},
            coords={"time": ("time", np.array([row["time"] for row in rows]), {"units": "s"})},
        )
        for name in curves.data_vars:
            curves[name].attrs["units"] = {"voltage": "V", "current": "A"}.get(name, "mol")
        reads = xr.Dataset(
            {
                key: ("read", np.array([read[key] for read in records.reads]))
                for key in ("time", "G", "read_voltage", "pulse_number", "pulse_index", "polarity", "cycle", "phase")
            }
            if records.reads
            else {},
        )
        for name, unit in (("time", "s"), ("G", "S"), ("read_voltage", "V")):
            if name in reads:
                reads[name].attrs["units"] = unit
        return Result(curves=curves, reads=reads, state=state, mesh=self.mesh, resumed_steps=resumed)

    def write(self, outdir: Path, result: Result) -> None:
        """Write curves.nc, reads.nc, fields.vtu and the run provenance into ``outdir``."""
        write_dataset(outdir / "curves.nc", result.curves)
        if result.reads.data_vars:
            write_dataset(outdir / "reads.nc", result.reads)
        fields = {
            "phi [V]": result.state.fields["phi"],
            "c_li [mol/m^3]": result.state.fields["c_li"],
            "kappa [S/m]": result.state.fields["kappa"],
        }
        write_fields(outdir / "fields.vtu", self.mesh, fields)
        write_run_metadata(
            outdir, self.device, {"protocol_steps": len(self.protocol), "settings": repr(self.settings), "signature": self.signature()}
        )

    # -------------------------------------------------------- checkpoints
    def _save_checkpoint(self, path: Path, state: State, records: _Records, next_step: int) -> None:
        payload = {
            "signature": np.array(self.signature()),
            "next_step": np.array(next_step),
            "scalars": np.array([state.time, state.voltage, state.current]),
            "rows": np.array(json.dumps(records.rows)),
            "reads": np.array(json.dumps(records.reads)),
            **{f"field_{name}": values for name, values in state.fields.items()},
        }

        def write(temporary: Path) -> None:
            with open(temporary, "wb") as handle:
                np.savez(handle, **payload)

        atomic_write(path, write)

    def _load_checkpoint(self, path: Path):
        with np.load(path, allow_pickle=False) as data:
            if str(data["signature"]) != self.signature():
                return None
            time, voltage, current = data["scalars"]
            fields = {key[len("field_"):]: data[key].copy() for key in data.files if key.startswith("field_")}
            records = _Records(json.loads(str(data["rows"])), json.loads(str(data["reads"])))
            return State(float(time), float(voltage), float(current), fields), records, int(data["next_step"])
