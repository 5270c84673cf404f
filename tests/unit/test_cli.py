"""Command line: info lists assumed values, mesh writes every group, errors are clean."""

from __future__ import annotations

import subprocess
import sys

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
