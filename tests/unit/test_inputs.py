"""Bad input fails early with one line naming the file and the key; failed runs fail; outputs carry units; progress shows."""

from __future__ import annotations

import json
import shutil
import tomllib
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import femion
import femion.simulation as simulation_module
from femion.cli import main
from femion.config import DeviceConfigError, StudyConfigError, load_device, load_study, load_study_config, require_layers
from femion.io import write_dataset
from femion.protocols import pulse_train, rest
from femion.simulation import Simulation, SimulationSettings
from femion.units import UnitError, to_integer, to_si

STUDIES = Path(__file__).resolve().parents[2] / "studies"
REFERENCE = Path(femion.__file__).resolve().parent / "devices" / "reference.toml"
TINY = femion.MeshSettings(radial_cells=(3, 6, 4), min_layer_cells=2, layer_cell_size=100e-9, substrate_cells=2)


def _one_line_error(capsys) -> str:
    error = capsys.readouterr().err.strip()
    assert error.startswith("femion: ") and "\n" not in error, error
    return error


# ---------------------------------------------------------------------------------------------- units and counts


@pytest.mark.parametrize("value", ["-5 s", "0 s"])
def test_positive_duration_is_required(value):
    with pytest.raises(UnitError, match=r"^'rest_time' in cfg\.toml: must be positive, got") as error:
        to_si(value, "s", name="rest_time", origin="cfg.toml", positive=True)
    assert "\n" not in str(error.value)


def test_nonnegative_allows_zero_and_refuses_negative():
    assert to_si("0 s", "s", name="pulse_rest", nonnegative=True) == 0.0
    with pytest.raises(UnitError, match="'pulse_rest': must not be negative"):
        to_si("-1 ms", "s", name="pulse_rest", nonnegative=True)


@pytest.mark.parametrize(("value", "message"), [
    ("200", "expected an integer"), (200.0, "expected an integer"), (True, "expected an integer"), (0, "must be an integer >= 1"),
])
def test_counts_must_be_positive_integers(value, message):
    with pytest.raises(UnitError, match=rf"'time_steps' in cfg\.toml: {message}"):
        to_integer(value, name="time_steps", origin="cfg.toml")


def test_count_minimum_is_configurable():
    assert to_integer(0, name="discard_cycles", minimum=0) == 0
    assert to_integer(-3, name="offset", minimum=None) == -3


# ---------------------------------------------------------------------------------------------- study configs


def _study_copy(tmp_path: Path, name: str, **changes: str) -> Path:
    """A copy of a study folder whose config.toml has ``key = <TOML text>`` lines replaced."""
    folder = tmp_path / name
    shutil.copytree(STUDIES / name, folder, ignore=shutil.ignore_patterns("output", "__pycache__"))
    lines = (folder / "config.toml").read_text(encoding="utf-8").splitlines()
    for key, text in changes.items():
        index = next(i for i, line in enumerate(lines) if line.split("=")[0].strip() == key)
        lines[index] = f"{key} = {text}"
    (folder / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


@pytest.mark.parametrize(("key", "text", "message"), [
    ("rest_time", '"-5 s"', "must be positive"),
    ("first_step", '"0 s"', "must be positive"),
    ("time_steps", "0", "must be an integer >= 2"),
    ("time_steps", '"200"', "expected an integer"),
    ("first_step", '"2000 s"', "must be shorter than 'rest_time'"),
])
def test_bad_study_value_is_refused_before_computing(tmp_path, capsys, key, text, message):
    folder = _study_copy(tmp_path, "reference_fields", **{key: text})
    out = tmp_path / "out"
    assert main(["run", str(folder), "-o", str(out), "--no-plot"]) == 2
    error = _one_line_error(capsys)
    assert str(folder / "config.toml") in error and f"'{key}'" in error and message in error
    assert not out.exists()  # refused before the output folder (or any computation)


def test_device_without_the_needed_layer_is_refused(tmp_path, capsys):
    text = REFERENCE.read_text(encoding="utf-8").replace('[[layers]]\nname = "LiPON"\nmaterial = "LiPON"\nthickness = "500 nm"\n', "")
    device = tmp_path / "no_lipon.toml"
    device.write_text(text, encoding="utf-8")
    assert "LiPON" not in [layer.name for layer in load_device(device).layers]
    folder = _study_copy(tmp_path, "reference_fields", device=json.dumps(str(device)))
    out = tmp_path / "out"
    assert main(["run", str(folder), "-o", str(out), "--no-plot"]) == 2
    error = _one_line_error(capsys)
    assert "'device'" in error and "'LiPON'" in error and str(device) in error
    assert not out.exists()
    with pytest.raises(DeviceConfigError, match=r"^config\.toml: 'device': this study needs layer\(s\) 'LiPON', .*its layers: ITO, MoO3, Pt, WO3$"):
        require_layers(load_device(device), ("WO3", "LiPON"), "config.toml")


_CALIBRATION_FIT = tomllib.loads((STUDIES / "calibration" / "config.toml").read_text(encoding="utf-8"))["fit"]
BAD_OVERRIDES = {  # study -> (override, key named in the error): one value of each class per study, checked before any computation
    "calibration": ({"config.fit": {**_CALIBRATION_FIT, "jacobian_step": -0.05}}, "fit.jacobian_step"),
    "analog_iv": ({"config.sweeps_per_polarity": 0}, "sweeps_per_polarity"),
    "analog_pulses": ({"config.pulse_width": "0 ms"}, "pulse_width"),
    "calibration_analog": ({"config.label_scale": -1.0}, "label_scale"),
    "damage_routes": ({"config.rate": "0 V/s"}, "rate"),
    "field_scaling": ({"config.render_radius": "-2 um"}, "render_radius"),
    "device_history": ({"config.rest_time": "0 s"}, "rest_time"),
    "forming": ({"config.ramp_rate": "0 V/s"}, "ramp_rate"),
    "li_arrhenius": ({"config.read_times": ["-1 ms"]}, "read_times"),
    "li_inventory": ({"config.gcd_window": "-3.5 V"}, "gcd_window"),
    "mode_map_mechanics": ({"config.voltage_increment": "0 V"}, "voltage_increment"),
    "mode_switch": ({"config.pulse_width": "0 s"}, "pulse_width"),
    "nonvolatile_switching": ({"config.cycles": 0}, "cycles"),
    "power_cv_gcd": ({"config.self_discharge_time": "-100 s"}, "self_discharge_time"),
    "power_scenario": ({"config.hold_time": "0 s"}, "hold_time"),
    "program_power": ({"config.sweeps": 1}, "sweeps"),
    "reference_fields": ({"config.time_steps": 0}, "time_steps"),
    "retention": ({"config.steps_per_rest": 0}, "steps_per_rest"),
    "stress_maps": ({"config.voltage_increment": "-0.05 V"}, "voltage_increment"),
    "validation": ({"config.reuse_outputs": "yes"}, "config.reuse_outputs"),
    "variability": ({"config.cycles": 2.5}, "cycles"),
    "volatile_switching": ({"config.relax_time": "0 s"}, "relax_time"),
}


def test_every_study_is_audited():
    assert sorted(BAD_OVERRIDES) == sorted(p.parent.name for p in STUDIES.glob("*/run.py"))


@pytest.mark.parametrize("study", sorted(BAD_OVERRIDES))
def test_every_study_refuses_a_bad_value_before_computing(tmp_path, study):
    overrides, key = BAD_OVERRIDES[study]
    _, module = load_study(STUDIES / study)
    out = tmp_path / "out"
    with pytest.raises(ValueError) as error:
        module.run(out, quick=False, overrides=overrides)
    message = str(error.value)
    assert f"'{key}'" in message and str(STUDIES / study / "config.toml") in message and "\n" not in message
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- undecodable files


def test_binary_device_file_is_named(tmp_path, capsys):
    path = tmp_path / "binary.toml"
    path.write_bytes(b"\x80\x81\xff\xfe\x00")
    with pytest.raises(DeviceConfigError, match=r"binary\.toml: not a UTF-8 text file"):
        load_device(path)
    assert main(["info", str(path)]) == 2
    assert str(path) in _one_line_error(capsys)


def test_binary_study_config_is_named(tmp_path):
    path = tmp_path / "config.toml"
    path.write_bytes(b"\xff\xfe binary")
    with pytest.raises(StudyConfigError, match=r"config\.toml: not a UTF-8 text file"):
        load_study_config(path, set())


# ---------------------------------------------------------------------------------------------- femion run: failures, output folders


def _fake_study(tmp_path: Path, name: str, body: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "run.py").write_text(
        "import json\nfrom pathlib import Path\n\n\ndef run(outdir, quick=False, overrides=None):\n"
        "    outdir = Path(outdir)\n    outdir.mkdir(parents=True, exist_ok=True)\n"
        f"    (outdir / 'run.json').write_text(json.dumps({{'study': {name!r}}}))\n{body}",
        encoding="utf-8",
    )
    return folder


def test_failed_simulation_exits_1_with_one_line(tmp_path, capsys):
    folder = _fake_study(tmp_path, "fails", "    return {'failure': 'cycle 1 LTP, pulse 2: cannot advance\\n at t = 1 s'}\n")
    assert main(["run", str(folder), "-o", str(tmp_path / "out")]) == 1
    captured = capsys.readouterr()
    assert captured.err.strip() == "femion: fails: failed: cycle 1 LTP, pulse 2: cannot advance at t = 1 s"
    assert "done in" not in captured.out


def test_uncaught_simulation_error_exits_1(tmp_path, capsys):
    body = "    from femion.simulation import SimulationError\n    raise SimulationError('cannot advance at t = 0.5 s')\n"
    folder = _fake_study(tmp_path, "raises", body)
    assert main(["run", str(folder), "-o", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.strip() == "femion: raises: failed: cannot advance at t = 0.5 s"


def test_successful_run_exits_0(tmp_path, capsys):
    folder = _fake_study(tmp_path, "works", "    return {'failure': None}\n")
    assert main(["run", str(folder), "-o", str(tmp_path / "out")]) == 0
    assert "done in" in capsys.readouterr().out


def test_output_folder_of_another_study_is_refused_unless_forced(tmp_path, capsys):
    out = tmp_path / "out"
    first = _fake_study(tmp_path, "first", "    return {'failure': None}\n")
    second = _fake_study(tmp_path, "second", "    return {'failure': None}\n")
    assert main(["run", str(first), "-o", str(out)]) == 0
    assert main(["run", str(first), "-o", str(out)]) == 0  # the same study may rerun into its folder
    capsys.readouterr()
    assert main(["run", str(second), "-o", str(out)]) == 2
    error = _one_line_error(capsys)
    assert str(out) in error and "'first'" in error and "--force" in error
    assert json.loads((out / "run.json").read_text())["study"] == "first"
    assert main(["run", str(second), "-o", str(out), "--force"]) == 0
    assert json.loads((out / "run.json").read_text())["study"] == "second"


def test_renamed_study_copy_may_rerun_into_its_output_folder(tmp_path, capsys):
    """A copy of a study in a folder of another name writes the study's own name into run.json: still its run."""
    copy = _fake_study(tmp_path, "copy", "    return {'failure': None}\n")
    (copy / "run.py").write_text((copy / "run.py").read_text().replace("'study': 'copy'", "'study': 'original'"))
    out = tmp_path / "out"
    assert main(["run", str(copy), "-o", str(out)]) == 0
    assert main(["run", str(copy), "-o", str(out)]) == 0
    other = _fake_study(tmp_path, "original", "    return {'failure': None}\n")
    capsys.readouterr()
    assert main(["run", str(other), "-o", str(out)]) == 0  # names the same study: accepted


# ---------------------------------------------------------------------------------------------- netCDF units


def test_write_dataset_refuses_variables_without_units(tmp_path):
    dataset = xr.Dataset(
        {"current": ("time", [1.0, 2.0], {"units": "A"}), "share": ("time", [0.1, 0.2]), "label": ("time", ["a", "b"])},
        coords={"time": ("time", [0.0, 1.0]), "index": ("time", [0, 1], {"units": "1"})},
    )
    with pytest.raises(ValueError, match=r"out\.nc: variable\(s\) share, time have no 'units' attribute"):
        write_dataset(tmp_path / "out.nc", dataset)
    assert not (tmp_path / "out.nc").exists()
    dataset["share"].attrs["units"] = "1"
    dataset["time"].attrs["units"] = "s"
    write_dataset(tmp_path / "out.nc", dataset)  # the text variable needs no unit
    with xr.open_dataset(tmp_path / "out.nc") as read:
        assert read["share"].attrs["units"] == "1"


def _walk_units(dataset) -> dict[str, str]:
    return {str(name): variable.attrs.get("units", "") for name, variable in (*dataset.data_vars.items(), *dataset.coords.items())
            if variable.dtype.kind in "biufc"}


def test_every_simulation_output_has_units(device, tmp_path):
    """All physics on a tiny mesh: every curve (incl. the mechanics observables) and read variable carries a unit."""
    physics = ("lithium", "mechanics", "air", "vacancy", "thermal")
    protocol = pulse_train(-1.0, 1e-4, 0.0, 1, read_width=1e-4)
    result = Simulation(device, protocol, SimulationSettings(mesh=TINY, first_step=1e-5), physics=physics).run(progress=False)
    units = {**_walk_units(result.curves), **{f"reads.{k}": v for k, v in _walk_units(result.reads).items()}}
    assert {"mech_sigma_vm_max", "mech_blister_height", "mech_eps_p_max", "mech_porosity_max", "T_max", "vo_peak",
            "reads.pulse_number"} <= set(units)
    assert not [name for name, unit in units.items() if not unit.strip()]
    assert units["mech_sigma_vm_max"] == "Pa" and units["mech_porosity_max"] == "1" and units["mech_blister_height"] == "m"
    write_dataset(tmp_path / "curves.nc", result.curves)


# ---------------------------------------------------------------------------------------------- progress


def test_progress_lines_when_not_on_a_terminal(device, capsys, monkeypatch):
    monkeypatch.setattr(simulation_module, "PROGRESS_INTERVAL", 0.0)
    Simulation(device, rest(3e-4), SimulationSettings(mesh=TINY, first_step=1e-4)).run(progress=None, stage="test stage")
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("femion: test stage: ")]
    assert lines, "no progress line"
    assert "t = " in lines[-1] and " s (" in lines[-1] and "V = " in lines[-1] and "time step" in lines[-1]
    assert "100 % of the protocol" in lines[-1]


def test_no_progress_output_when_disabled(device, capsys, monkeypatch):
    monkeypatch.setattr(simulation_module, "PROGRESS_INTERVAL", 0.0)
    Simulation(device, rest(2e-4), SimulationSettings(mesh=TINY, first_step=1e-4)).run(progress=False, stage="quiet")
    assert "quiet" not in capsys.readouterr().err


def test_mesh_extent_check_accepts_femion_meshes(tmp_path, device):
    path = tmp_path / "device.msh"
    femion.build_mesh(device, path, settings=TINY)
    mesh = femion.read_mesh(path)
    assert np.isclose(np.ptp(mesh.nodes[:, 0]), device.film_radius)


def test_binary_sweep_file_is_named(tmp_path, capsys):
    path = tmp_path / "sweep.toml"
    path.write_bytes(b"\x80 binary \xff")
    assert main(["sweep", str(path)]) == 2
    error = _one_line_error(capsys)
    assert str(path) in error and "not a UTF-8 text file" in error


def test_binary_material_file_is_named(tmp_path):
    material = tmp_path / "binary_material.toml"
    material.write_bytes(b"\xff\xfe\x00")
    text = REFERENCE.read_text(encoding="utf-8").replace('material = "WO3"', f'material = "{material}"')
    device = tmp_path / "device.toml"
    device.write_text(text, encoding="utf-8")
    with pytest.raises(DeviceConfigError, match=r"binary_material\.toml is not a UTF-8 text file"):
        load_device(device)


LAYER_STUDIES = ("analog_iv", "analog_pulses", "damage_routes", "device_history", "forming", "li_arrhenius", "mode_map_mechanics", "mode_switch",
                 "power_cv_gcd", "power_scenario", "program_power", "reference_fields", "stress_maps", "variability")
"""Studies that need LiPON (the electrolyte of the Li model, or a layer they read out by name)."""


@pytest.mark.parametrize("study", LAYER_STUDIES)
def test_studies_refuse_a_device_without_lipon_before_computing(tmp_path, study):
    text = REFERENCE.read_text(encoding="utf-8").replace('[[layers]]\nname = "LiPON"\nmaterial = "LiPON"\nthickness = "500 nm"\n', "")
    device = tmp_path / "no_lipon.toml"
    device.write_text(text, encoding="utf-8")
    _, module = load_study(STUDIES / study)
    out = tmp_path / "out"
    with pytest.raises(DeviceConfigError, match=r"'device': this study needs layer\(s\) .*'LiPON'") as error:
        module.run(out, quick=True, overrides={"config.device": str(device)})
    assert str(STUDIES / study / "config.toml") in str(error.value) and "\n" not in str(error.value)
    assert not out.exists()


def test_solver_benchmark_runs_without_pyamg(device, monkeypatch):
    """tests/benchmarks/bench_solvers.py: the AMG columns are optional (skipped with a note when pyamg is absent)."""
    import sys

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[1] / "benchmarks"))
    monkeypatch.setitem(sys.modules, "pyamg", None)  # an import of pyamg now fails as if it were not installed
    import bench_solvers

    monkeypatch.setattr(bench_solvers, "have_pyamg", lambda: False)
    result = bench_solvers.potential_case(device, TINY, repeats=1)
    assert result["amg_note"] == bench_solvers.AMG_NOTE
    assert "prototype_amg_s" not in result and "prototype_direct_s" in result
    assert result["agreement"]["prototype_direct"]["current_relative_difference"] < 1e-6


@pytest.mark.parametrize(("key", "value"), [("quick_pulses_per_phase", '"200"'), ("pulses_per_phase", '"200"'), ("cycles", "2.5")])
def test_both_variants_are_checked_whichever_runs(tmp_path, key, value):
    """A quick key must have its full key's TOML type (and vice versa), even when the other variant runs."""
    from femion.config import StudyConfigError, load_study_config

    source = Path(__file__).resolve().parents[2] / "studies" / "analog_pulses" / "config.toml"
    lines = [f"{key} = {value}" if line.split("=")[0].strip() == key else line for line in source.read_text().splitlines()]
    config = tmp_path / "config.toml"
    config.write_text("\n".join(lines) + "\n")
    import tomllib

    keys = set(tomllib.loads(config.read_text())) - {"device"}
    with pytest.raises(StudyConfigError, match=key.removeprefix("quick_")):
        load_study_config(config, keys)
