"""Command line: info lists assumed values, mesh writes every group, errors are clean, Ctrl-C resumes."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import femion
from femion.cli import main
from femion.io import assumed_parameters


def test_info_lists_assumed_values(capsys):
    assert main(["info"]) == 0
    output = capsys.readouterr().out
    assumed = assumed_parameters(femion.load_device())
    assert f"assumed values (no literature source): {len(assumed)}" in output
    for parameter in assumed:
        assert f"{parameter.material}.{parameter.name} =" in output


def test_mesh_command_writes_all_groups(tmp_path, capsys):
    path = tmp_path / "x.msh"
    assert main(["mesh", "-o", str(path), "--quick"]) == 0
    mesh = femion.read_mesh(path, femion.load_device())
    for name in ("Pt", "WO3", "LiPON", "MoO3", "ITO", "substrate", "axis", "outer", "top_contact",
                 "bottom_contact", "air_surface", "WO3|LiPON", "Pt|WO3", "LiPON|MoO3", "MoO3|ITO"):
        assert name in mesh.region_names or name in mesh.boundaries


def test_bad_device_file_gives_clean_error(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("name = 1\n")
    assert main(["info", str(path)]) == 2
    assert "femion: error:" in capsys.readouterr().err


def test_help_runs_without_heavy_imports():
    code = "import sys, femion.cli; femion.cli._parser(); print('fipy' in sys.modules, 'pyvista' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


def test_interrupt_ends_with_one_line_and_130(monkeypatch, capsys):
    """Ctrl-C during a command: one line on stderr, exit code 130, no traceback."""
    from femion import cli

    def interrupted(arguments):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_info", interrupted)
    parser = cli._parser()
    monkeypatch.setattr(cli, "_parser", lambda: parser)
    for action in parser._subparsers._group_actions[0].choices.values():
        if action.prog.endswith(" info"):
            action.set_defaults(handler=interrupted)
    assert cli.main(["info"]) == 130
    assert capsys.readouterr().err.strip() == "femion: interrupted"


# A study small enough to run in seconds: 30 pulses with reads (90 protocol steps) on a tiny mesh.
_TINY_STUDY = """\
import json
from pathlib import Path

import femion
from femion.protocols import pulse_train
from femion.simulation import Simulation, SimulationSettings

TINY = femion.MeshSettings(radial_cells=(3, 6, 4), min_layer_cells=2, layer_cell_size=100e-9, substrate_cells=2)


def run(outdir, quick=False, overrides=None):
    simulation = Simulation(femion.load_device(), pulse_train(-1.0, 1e-3, 1e-3, 30, read_width=2e-4),
                            SimulationSettings(mesh=TINY, first_step=1e-4))
    result = simulation.run(Path(outdir) / "simulation", progress=False)
    (Path(outdir) / "summary.json").write_text(json.dumps({"resumed_steps": result.resumed_steps}))
    return {}
"""

# ``python -m femion`` with Ctrl-C handled as in a terminal's foreground job (as tests/unit/test_sweep.py does):
# a process started with SIGINT ignored (pytest as a background job of a non-interactive shell) passes that on.
_FEMION_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]); "
    "runpy.run_module('femion', run_name='__main__', alter_sys=True)"
)


def _completed_steps(checkpoint: Path) -> int:
    try:
        with np.load(checkpoint) as data:
            return int(data["next_step"])
    except (OSError, ValueError, KeyError):  # not written yet
        return 0


def test_ctrl_c_during_a_run_ends_with_one_line_and_a_rerun_resumes(tmp_path):
    """SIGINT to `femion run`: exit 130, one line on stderr naming the time, the step and the checkpoint; the rerun resumes."""
    study = tmp_path / "tiny"
    study.mkdir()
    (study / "run.py").write_text(_TINY_STUDY)
    outdir = tmp_path / "out"
    checkpoint = outdir / "simulation" / "checkpoint.npz"
    command = [sys.executable, "-c", _FEMION_WITH_CTRL_C, "run", str(study), "-o", str(outdir), "--no-plot"]
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(femion.__file__).parents[1]), os.environ.get("PYTHONPATH")]))}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    deadline = time.monotonic() + 120.0
    while _completed_steps(checkpoint) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.02)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    match = re.fullmatch(
        r"femion: interrupted at t = (\S+) s in step (\d+)/90 \((.+)\); rerun the same command to resume from (.+)", lines[0]
    )
    assert match, lines[0]
    assert Path(match.group(4)) == checkpoint
    completed = _completed_steps(checkpoint)
    assert int(match.group(2)) == completed + 1 and completed < 90
    # the rerun of the same command continues from the checkpoint instead of starting over
    rerun = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert json.loads((outdir / "summary.json").read_text())["resumed_steps"] == completed


def test_run_that_cannot_go_on_ends_with_one_line_and_keeps_a_checkpoint(tmp_path, capsys):
    """A SimulationError (here: one coupling iteration allowed, never enough): exit 1, one line, the checkpoint stays."""
    study = tmp_path / "tiny"
    study.mkdir()
    (study / "run.py").write_text(_TINY_STUDY.replace("first_step=1e-4)", "first_step=1e-4, max_iterations=1)"))
    outdir = tmp_path / "out"
    assert main(["run", str(study), "-o", str(outdir), "--no-plot"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("femion: tiny: failed: cannot advance at t = 0 s in step 0"), err
    assert _completed_steps(outdir / "simulation" / "checkpoint.npz") == 0  # the initial state, to resume from
    assert (outdir / "simulation" / "checkpoint.npz").is_file()


def test_output_that_is_a_file_is_refused_before_the_run(tmp_path, capsys):
    """`-o` naming an existing file: one line, exit 2, and the study is not run."""
    target = tmp_path / "out.txt"
    target.write_text("")
    study = femion.__file__.rsplit("/femion/", 1)[0] + "/studies/li_arrhenius"
    assert main(["run", study, "--quick", "-o", str(target)]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == f"femion: error: ValueError: output {target} exists and is not a folder; choose another -o folder"
    assert "femion run" not in captured.out


def test_missing_study_folder_names_the_path(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nowhere")]) == 2
    err = capsys.readouterr().err
    assert f"study '{tmp_path / 'nowhere'}': no run.py" in err and "PosixPath" not in err


def test_info_counts_sourced_assumed_and_calibrated(capsys):
    from femion.io import assumed_parameters, calibrated_parameters, provenance_counts

    device = femion.load_device()
    counts = provenance_counts(device)
    assert counts["assumed"] == len(assumed_parameters(device))
    assert counts["calibrated"] == len(calibrated_parameters(device))
    assert counts["sourced"] + counts["assumed"] + counts["calibrated"] == counts["total"]
    assert main(["info"]) == 0
    output = capsys.readouterr().out
    assert (f"material values: {counts['total']} (sourced {counts['sourced']}, assumed {counts['assumed']}, "
            f"calibrated {counts['calibrated']})") in output
