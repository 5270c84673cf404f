"""Parameter sweeps on Dask: overrides, grids/lists/LHS, the results store, failures, resume, SLURM scripts.

Most tests sweep a tiny synthetic study written into ``tmp_path`` (its ``run``
takes milliseconds and logs every call to ``calls.log``, so recomputation is
visible); one point of the real quick ``studies/field_scaling`` runs on the
same 2-worker local cluster.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import femion
from femion.cli import main
from femion.config import DeviceConfigError, StudyConfigError, load_study, load_study_config, override_device, parse_device
from femion.sweep import (
    ClusterSpec,
    SweepError,
    build_store,
    load_sweep,
    make_cluster,
    run_sweep,
    unstack,
)

ROOT = Path(__file__).resolve().parents[2]
FIELD_SCALING = ROOT / "studies" / "field_scaling"

STUDY_CONFIG = """\
device = ""
x = 1.0
label = "a"
delay = "0 s"
fail_above = 100.0
report_failure_above = 100.0
"""

STUDY_RUN = '''\
"""Synthetic study for the sweep tests: cheap, logs every call, can fail or be slow."""

import json
import os
import time
from pathlib import Path

from femion.config import load_study_config
from femion.units import to_si

HERE = Path(__file__).resolve().parent
CONFIG_KEYS = {"x", "label", "delay", "fail_above", "report_failure_above"}


def run(outdir, quick=False, overrides=None):
    config, device = load_study_config(HERE / "config.toml", CONFIG_KEYS, overrides)
    x = float(config["x"])
    with open(HERE / "calls.log", "a") as log:
        log.write(json.dumps({"x": x, "pid": os.getpid()}) + "\\n")
    (HERE / "pids").mkdir(exist_ok=True)
    (HERE / "pids" / f"{x:g}").write_text(str(os.getpid()))
    if x > config["fail_above"]:
        raise RuntimeError(f"x = {x:g} is above fail_above")
    time.sleep(to_si(config["delay"], "s", name="delay"))
    print("computing", x)
    # A simulation that "fails" without raising: the study says so in its summary, which holds numbers anyway.
    failure = f"x = {x:g} is above report_failure_above" if x > config["report_failure_above"] else None
    summary = {
        "failure": failure,
        "note": None if x < 3 else f"x = {x:g}",
        "mixed": x if x < 3 else "big",
        "square": x * x,
        "profile": [x, 2 * x, 3 * x],
        "thickness_m": device.layer("LiPON").thickness,
        "temperature_K": device.temperature,
        "label": config["label"],
        "nested": {"a": x + 1.0},
        "quick": quick,
    }
    Path(outdir).mkdir(parents=True, exist_ok=True)
    Path(outdir, "summary.json").write_text(json.dumps(summary))
    return summary
'''


@pytest.fixture(scope="module")
def client():
    """A 2-worker local Dask cluster (one single-threaded process per worker), shared by the tests."""
    cluster = make_cluster(ClusterSpec("local", {"n_workers": 2}))
    from distributed import Client

    dask_client = Client(cluster, set_as_default=False)
    yield dask_client
    dask_client.close()
    cluster.close()


def make_study(folder: Path, config: str = STUDY_CONFIG) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(config)
    (folder / "run.py").write_text(STUDY_RUN)
    return folder


def write_sweep(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def calls(study: Path) -> Counter:
    """How often the synthetic study ran for each x."""
    log = study / "calls.log"
    lines = log.read_text().splitlines() if log.exists() else []
    return Counter(json.loads(line)["x"] for line in lines)


GRID = """\
    study = "study"
    observables = ["square", "profile", "thickness_m", "temperature_K", "label", "nested.a"]

    [grid]
    "config.x" = [1.0, 2.0]
    "device.layers.LiPON.thickness" = ["300 nm", "500 nm"]

    [fixed]
    "device.temperature" = "350 K"

    [observable_dims]
    profile = "position"
"""


def test_local_grid_sweep_equals_points_run_one_by_one(tmp_path, client):
    study = make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "grid.toml", GRID)
    result = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    data = result.dataset
    assert (result.points, result.computed, result.reused, result.failed) == (4, 4, 0, 0)
    assert data.sizes == {"point": 4, "position": 3}
    np.testing.assert_array_equal(data["config.x"], [1.0, 1.0, 2.0, 2.0])  # first key slowest
    np.testing.assert_allclose(data["device.layers.LiPON.thickness"], [300e-9, 500e-9] * 2, rtol=1e-15)
    assert data["device.layers.LiPON.thickness"].attrs["units"] == "m"
    assert data["thickness_m"].attrs["units"] == "m" and data["temperature_K"].attrs["units"] == "K"
    assert list(data["status"].values) == ["done"] * 4 and list(data["error"].values) == [""] * 4
    assert json.loads(data.attrs["grid_shape"]) == [2, 2]

    # The same points, one by one, in this process.
    _, module = load_study(study)
    for index, point in enumerate(load_sweep(sweep_file).points()):
        summary = module.run(tmp_path / "direct" / str(index), overrides=dict(point.parameters))
        for name in ("square", "thickness_m", "temperature_K"):
            assert data[name].values[index] == summary[name], name
        assert list(data["profile"].values[index]) == summary["profile"]
        assert data["label"].values[index] == summary["label"]
        assert data["nested.a"].values[index] == summary["nested"]["a"]
        assert json.loads(data["parameters"].values[index]) == dict(point.parameters)
        record = json.loads((Path(data["outdir"].values[index]) / "result.json").read_text())
        assert record["status"] == "done" and record["seed"] == data["seed"].values[index]
        assert "computing" in (Path(data["outdir"].values[index]) / "log.txt").read_text()
    assert data["temperature_K"].values.tolist() == [350.0] * 4

    # The netCDF store holds the same; a grid unstacks to one dimension per swept key.
    with xr.open_dataset(result.store) as stored:
        xr.testing.assert_equal(stored.load(), data)
        assert stored["wall_time"].attrs["units"] == "s"
        for name in ("femion_version", "git_revision", "started", "finished", "host"):
            assert all(stored[name].values), name
    grid = unstack(data)
    assert grid["square"].dims == ("config.x", "device.layers.LiPON.thickness")
    np.testing.assert_array_equal(grid["square"].values, [[1.0, 1.0], [4.0, 4.0]])

    # A re-run reuses every point and rebuilds the same store.
    again = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    assert (again.computed, again.reused) == (0, 4)
    assert calls(study) == Counter({1.0: 4, 2.0: 4})  # 2 device variants x (sweep + direct) per x
    xr.testing.assert_equal(again.dataset.drop_attrs(), data.drop_attrs())


def test_failing_point_is_recorded_and_the_sweep_goes_on(tmp_path, client, capsys):
    study = make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "list.toml", """\
        study = "study"
        observables = ["square"]

        [list]
        "config.x" = [1.0, 200.0, 3.0]
        "config.label" = ["one", "two", "three"]
    """)
    result = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    data = result.dataset
    assert list(data["status"].values) == ["done", "failed", "done"] and result.failed == 1
    assert data["error"].values[1] == "RuntimeError: x = 200 is above fail_above"
    assert np.isnan(data["square"].values[1]) and data["square"].values[2] == 9.0
    assert list(data["config.label"].values) == ["one", "two", "three"]
    record = json.loads((Path(data["outdir"].values[1]) / "result.json").read_text())
    assert "Traceback" in record["traceback"] and record["summary"] is None

    # Failed points are kept on a re-run unless asked; the command line exits with 1 and names them.
    assert main(["sweep", str(sweep_file), "-o", str(tmp_path / "out"), "--workers", "1"]) == 1
    assert "failed 1-" in capsys.readouterr().err
    assert calls(study)[200.0] == 1
    retried = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False, retry_failed=True)
    assert (retried.computed, retried.reused, retried.failed) == (1, 2, 1)
    assert calls(study) == Counter({1.0: 1, 200.0: 2, 3.0: 1})


def _finished(outdir: Path) -> dict[str, int]:
    """Point directory name -> result.json modification time [ns]."""
    return {path.parent.name: path.stat().st_mtime_ns for path in (outdir / "points").glob("*/result.json")}


# ``python -m femion`` with Ctrl-C handled as in a terminal's foreground job. A process started with SIGINT
# ignored (as pytest is when it runs as a background job of a non-interactive shell) passes that on, and a
# program that inherits an ignored SIGINT rightly keeps ignoring it: the sweep would not stop.
_FEMION_WITH_CTRL_C = (
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT]); "
    "runpy.run_module('femion', run_name='__main__', alter_sys=True)"
)


def _start_sweep(sweep_file: Path, outdir: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", _FEMION_WITH_CTRL_C, "sweep", str(sweep_file), "-o", str(outdir), "--workers", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _store_matches_records(outdir: Path) -> list[str]:
    """The statuses in ``outdir/results.nc``, after checking them against the ``result.json`` files."""
    with xr.open_dataset(outdir / "results.nc") as store:
        status, names = list(store["status"].values), list(store["point_id"].values)
    on_disk = {path.parent.name: json.loads(path.read_text())["status"] for path in (outdir / "points").glob("*/result.json")}
    assert {name: state for name, state in zip(names, status) if state != "pending"} == on_disk
    return status


def _wait_for_points(outdir: Path, count: int, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while len(_finished(outdir)) < count:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "sweep made no progress"
        time.sleep(0.05)


def test_interrupted_and_killed_sweep_resumes_without_recomputing(tmp_path, client):
    import psutil

    study = make_study(tmp_path / "study", STUDY_CONFIG.replace('delay = "0 s"', 'delay = "0.3 s"'))
    sweep_file = write_sweep(tmp_path / "slow.toml", """\
        study = "study"
        observables = ["square", "profile"]

        [list]
        "config.x" = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    """)
    outdir = tmp_path / "out"

    # 1. Ctrl-C: the command stops cleanly, keeps the finished points and writes a partial store.
    process = _start_sweep(sweep_file, outdir)
    _wait_for_points(outdir, 1, process)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "re-run the same command to resume" in err
    status = _store_matches_records(outdir)  # the partial store holds exactly the finished points
    assert 1 <= status.count("done") < 8 and set(status) <= {"done", "pending"}

    # 2. The whole job killed (parent and worker processes, SIGKILL): nothing can clean up.
    before = _finished(outdir)
    process = _start_sweep(sweep_file, outdir)
    _wait_for_points(outdir, len(before) + 2, process)
    children = psutil.Process(process.pid).children(recursive=True)  # its Dask worker processes
    process.kill()
    for child in children:
        try:
            child.kill()
            child.wait(timeout=10)
        except psutil.NoSuchProcess:
            pass
    process.communicate()
    time.sleep(0.2)
    finished = _finished(outdir)
    assert len(before) < len(finished) < 8
    ran = calls(study)

    # 3. The re-run computes only the unfinished points; finished records are untouched.
    result = run_sweep(sweep_file, outdir, client=client, progress=False)
    assert (result.computed, result.reused) == (8 - len(finished), len(finished))
    assert all(_finished(outdir)[name] == mtime for name, mtime in finished.items())
    now = calls(study)
    finished_x = {float(name.split("-")[0]) + 1.0 for name in finished}  # point i has x = i + 1
    for x in np.arange(1.0, 9.0):
        assert now[x] == ran[x] + (x not in finished_x), f"x = {x}: {ran[x]} calls before the re-run, {now[x]} after"

    # 4. The store equals an uninterrupted run's (provenance aside).
    reference = run_sweep(sweep_file, tmp_path / "reference", client=client, progress=False)
    provenance = ["status", "error", "wall_time", "started", "finished", "host", "outdir", "femion_version", "git_revision"]
    xr.testing.assert_identical(
        result.dataset.drop_vars(provenance).drop_attrs(), reference.dataset.drop_vars(provenance).drop_attrs()
    )
    assert list(result.dataset["status"].values) == ["done"] * 8


def test_killed_worker_only_repeats_its_own_point(tmp_path):
    study = make_study(tmp_path / "study", STUDY_CONFIG.replace('delay = "0 s"', 'delay = "1 s"'))
    sweep_file = write_sweep(tmp_path / "kill.toml", """\
        study = "study"
        observables = ["square"]

        [list]
        "config.x" = [1.0, 2.0, 3.0, 4.0]

        [cluster]
        n_workers = 2
    """)
    killed = []

    def kill_the_worker_running_point_3() -> None:
        pid_file = study / "pids" / "3"
        deadline = time.monotonic() + 60
        while not pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.2)
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)  # a worker process of the cluster this test started
        killed.append(pid)

    killer = threading.Thread(target=kill_the_worker_running_point_3)
    killer.start()
    result = run_sweep(sweep_file, tmp_path / "out", progress=False)
    killer.join()
    assert killed
    assert list(result.dataset["status"].values) == ["done"] * 4
    assert result.dataset["square"].values.tolist() == [1.0, 4.0, 9.0, 16.0]
    assert calls(study) == Counter({1.0: 1, 2.0: 1, 3.0: 2, 4.0: 1})  # Dask re-ran the killed point elsewhere


def test_real_quick_field_scaling_point(tmp_path, client):
    sweep_file = write_sweep(tmp_path / "fs.toml", f"""\
        study = "{FIELD_SCALING}"
        quick = true
        observables = ["beta_edge", "capacitance_excess", "stack_thickness_m"]

        [list]
        "config.read_voltage" = ["0.2 V"]

        [fixed]
        "config.quick_electrode_radii" = ["10 um"]
        "config.render_radius" = "10 um"
        "device.layers.LiPON.thickness" = "300 nm"
    """)
    result = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    data = result.dataset
    assert list(data["status"].values) == ["done"], data["error"].values
    assert data["config.read_voltage"].attrs["units"] == "V" and data["config.read_voltage"].values[0] == 0.2
    _, module = load_study(FIELD_SCALING)
    point = load_sweep(sweep_file).points()[0]
    summary = module.run(tmp_path / "direct", quick=True, overrides=dict(point.parameters))
    np.testing.assert_allclose(data["beta_edge"].values[0], summary["beta_edge"], rtol=1e-12)
    np.testing.assert_allclose(data["capacitance_excess"].values[0], summary["capacitance_excess"], rtol=1e-12)
    assert data["stack_thickness_m"].values[0] == pytest.approx(700e-9, rel=1e-12)  # 900 nm - 200 nm of LiPON
    device_toml = (Path(data["outdir"].values[0]) / "device.toml").read_text()
    assert parse_device(device_toml).layer("LiPON").thickness == pytest.approx(300e-9, rel=1e-15)


def test_slurm_and_pbs_job_scripts_without_a_cluster(tmp_path):
    sweep_file = write_sweep(tmp_path / "hpc.toml", f"""\
        study = "{FIELD_SCALING}"
        observables = ["beta_edge"]

        [grid]
        "config.read_voltage" = ["0.1 V", "0.2 V"]

        [cluster]
        kind = "slurm"
        queue = "compute"
        account = "proj42"
        cores = 8
        memory = "32 GB"
        walltime = "02:00:00"
        jobs = 3
        job_script_prologue = ["source /opt/femion/venv/bin/activate"]
    """)
    spec = load_sweep(sweep_file).cluster
    assert spec.kind == "slurm" and spec.options["jobs"] == 3
    handler = signal.getsignal(signal.SIGINT)
    cluster = make_cluster(spec)
    # Importing dask_jobqueue (first time in this process) sets SIGINT to call sys.exit(): Ctrl-C would end
    # the sweep with exit status 0. make_cluster keeps the handler.
    assert signal.getsignal(signal.SIGINT) is handler
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p compute", "#SBATCH -A proj42", "#SBATCH --cpus-per-task=8", "#SBATCH -t 02:00:00",
                 "source /opt/femion/venv/bin/activate"):
        assert line in script, line
    assert "--nthreads 1" in script and "--nworkers 8" in script and sys.executable in script
    cluster = make_cluster(dataclasses.replace(spec, kind="pbs"))
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    assert "#PBS -q compute" in script and "walltime=02:00:00" in script and "--nthreads 1" in script


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ('"config.nope" = [1, 2]', "unknown override 'config.nope'"),
        ('"device.layers.LiPN.thickness" = ["1 um", "2 um"]', "did you mean 'device.layers.LiPON.thickness'"),
        ('"device.colour" = ["red", "blue"]', "unknown device override 'device.colour'"),
        ('"device.film_radius" = ["200 um", "50 um"]', "point 1 (device.film_radius = '50 um')"),
        ('"device.layers.WO3.thickness" = ["200 nm", "200"]', "'device.layers.WO3.thickness'"),
        ('"config.x" = ["1 V", "2 V"]', "expected a number"),
        ('"sample.x" = [1, 2]', "'grid.sample.x': a parameter is 'config.<key"),
    ],
)
def test_bad_dotted_keys_raise_before_any_point_runs(tmp_path, parameter, message):
    study = make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "bad.toml", f"""\
        study = "study"
        observables = ["square"]

        [grid]
        {parameter}
    """)
    with pytest.raises(SweepError) as error:
        run_sweep(sweep_file, tmp_path / "out", progress=False)
    assert message in str(error.value) and str(sweep_file) in str(error.value)
    assert not (study / "calls.log").exists() and not (tmp_path / "out").exists()
    assert main(["sweep", str(sweep_file), "-o", str(tmp_path / "out")]) == 2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('observables = ["square"]\n[grid]\n"config.x" = [1.0]', "'study' must name"),
        ('study = "study"\nobservables = []\n[grid]\n"config.x" = [1.0]', "'observables' must be"),
        ('study = "study"\nobservables = ["square"]', "exactly one of [grid], [list] or [lhs]"),
        ('study = "study"\nobservables = ["square"]\n[list]\n"config.x" = [1.0, 2.0]\n"config.label" = ["a"]',
         "equal lengths"),
        ('study = "study"\nobservables = ["square"]\n[grid]\n"config.x" = [1.0, 1.0]', "lists a value twice"),
        ('study = "study"\nobservables = ["square"]\n[grid]\n"config.x" = [1.0]\n[cluster]\nkind = "slurm"',
         "'cluster.memory'"),
        ('study = "study"\nobservables = ["square"]\n[grid]\n"config.x" = [1.0]\n[cluster]\nkind = "k8s"',
         "'cluster.kind' must be one of"),
        ('study = "study"\nobservables = ["square"]\n[grid]\n"config.x" = [1.0]\n[cluster]\nthreads = 4',
         "['cluster.threads']"),
        ('study = "study"\nobservables = ["square"]\ncolour = 1\n[grid]\n"config.x" = [1.0]', "unknown key(s) ['colour']"),
    ],
)
def test_bad_sweep_files_name_the_key(tmp_path, body, message):
    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "bad.toml", body)
    with pytest.raises(SweepError) as error:
        load_sweep(sweep_file)
    assert message in str(error.value) and str(sweep_file) in str(error.value)


def test_missing_observable_stops_with_a_clear_error(tmp_path, client):
    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "obs.toml", """\
        study = "study"
        observables = ["square", "cube"]

        [grid]
        "config.x" = [1.0, 2.0]
    """)
    with pytest.raises(SweepError, match="observable 'cube' is not in the summary"):
        run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    assert "done" in _store_matches_records(tmp_path / "out")  # the store is written on the error path too
    sweep_file.write_text(sweep_file.read_text().replace(', "cube"', ""))
    result = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    assert result.dataset["square"].values.tolist() == [1.0, 4.0] and result.reused >= 1


def test_latin_hypercube_is_seeded_and_stratified(tmp_path):
    make_study(tmp_path / "study")
    body = """\
        study = "study"
        observables = ["square"]

        [lhs]
        n = 10
        seed = 7

        [lhs.ranges]
        "config.x" = [0.0, 5.0]
        "device.temperature" = ["280 K", "340 K"]
    """
    sweep = load_sweep(write_sweep(tmp_path / "lhs.toml", body))
    again = load_sweep(write_sweep(tmp_path / "lhs2.toml", body))
    assert len(sweep.points()) == 10 and sweep.parameters == again.parameters
    assert [p.digest for p in sweep.points()] == [p.digest for p in again.points()]
    x = np.array(sweep.parameters["config.x"])
    kelvin = np.array([float(value.split()[0]) for value in sweep.parameters["device.temperature"]])
    assert sorted(np.floor(x / 0.5).astype(int)) == list(range(10))  # one value per stratum
    assert sorted(np.floor((kelvin - 280.0) / 6.0).astype(int)) == list(range(10))
    store = build_store(sweep, tmp_path / "nowhere", records={})
    assert list(store["status"].values) == ["pending"] * 10 and store.attrs["lhs_seed"] == 7
    np.testing.assert_allclose(store["device.temperature"].values, kelvin)
    with pytest.raises(SweepError, match="only grid sweeps unstack"):
        unstack(store)


def test_study_config_overrides():
    path = FIELD_SCALING / "config.toml"
    keys = {"electrode_radii", "quick_electrode_radii", "film_margin_stack_thicknesses", "read_voltage", "render_radius"}
    config, device = load_study_config(path, keys, {
        "config.read_voltage": "0.3 V", "config.film_margin_stack_thicknesses": 5,
        "device.temperature": "350 K", "device.layers.LiPON.thickness": "0.3 um", "device.ambient": "vacuum",
    })
    assert config["read_voltage"] == "0.3 V" and config["film_margin_stack_thicknesses"] == 5
    assert device.temperature == 350.0 and device.ambient == "vacuum"
    assert device.layer("LiPON").thickness == pytest.approx(300e-9, rel=1e-15)
    assert parse_device(device.text) == device  # run directories record the device actually used
    assert load_study_config(path, keys)[1] == femion.load_device()  # no overrides: unchanged

    with pytest.raises(StudyConfigError, match=r"override 'config.read_voltage' = 0.3 .*expected a string"):
        load_study_config(path, keys, {"config.read_voltage": 0.3})
    with pytest.raises(StudyConfigError, match=r"unknown override 'config.read_voltag' \(did you mean 'config.read_voltage'"):
        load_study_config(path, keys, {"config.read_voltag": "0.3 V"})
    with pytest.raises(StudyConfigError, match="must start with 'config.'"):
        load_study_config(path, keys, {"read_voltage": "0.3 V"})
    with pytest.raises(DeviceConfigError, match=r"override 'device.electrode_radius' = '200 um': film_radius"):
        load_study_config(path, keys, {"device.electrode_radius": "200 um"})
    reference = femion.load_device()
    with pytest.raises(DeviceConfigError, match="'device.layers.Pt.material'.*top electrode"):
        override_device(reference, {"device.layers.Pt.material": "LiPON"})
    with pytest.raises(DeviceConfigError, match="'device.substrate.thickness' must be positive"):
        override_device(reference, {"device.substrate.thickness": "-1 um"})
    wider = override_device(reference, {"device.electrode_radius": "200 um", "device.film_radius": "300 um"})
    assert (wider.electrode_radius, wider.film_radius) == pytest.approx((200e-6, 300e-6), rel=1e-15)


def test_all_points_failing_still_writes_the_store(tmp_path, client):
    # With no finished point a list observable named in [observable_dims] cannot be checked; the
    # store is written with every point failed instead of a misleading error (fresh-user finding).
    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "allfail.toml", """\
        study = "study"
        observables = ["square", "profile"]

        [list]
        "config.x" = [200.0, 300.0]

        [observable_dims]
        profile = "position"
    """)
    result = run_sweep(sweep_file, tmp_path / "out", client=client, progress=False)
    assert result.failed == 2 and list(result.dataset["status"].values) == ["failed", "failed"]
    assert (tmp_path / "out" / "results.nc").is_file()


def test_failure_reported_by_the_study_fails_the_point(tmp_path, client, capsys):
    # The synthetic study returns numbers with failure = "x = 150 is above report_failure_above" at x = 150
    # (a simulation that ends without raising): the point fails and none of its numbers enter the store.
    study = make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "soft.toml", """\
        study = "study"
        observables = ["square", "profile", "label"]

        [list]
        "config.x" = [1.0, 150.0, 3.0]

        [fixed]
        "config.fail_above" = 1000.0
    """)
    outdir = tmp_path / "out"
    result = run_sweep(sweep_file, outdir, client=client, progress=False)
    data = result.dataset
    assert list(data["status"].values) == ["done", "failed", "done"] and result.failed == 1
    assert list(data["error"].values) == ["", "x = 150 is above report_failure_above", ""]
    assert data["square"].values[0] == 1.0 and np.isnan(data["square"].values[1]) and data["square"].values[2] == 9.0
    assert np.isnan(data["profile"].values[1]).all() and list(data["profile"].values[2]) == [3.0, 6.0, 9.0]
    assert list(data["label"].values) == ["a", "", "a"]
    record = json.loads((Path(data["outdir"].values[1]) / "result.json").read_text())
    assert record["status"] == "failed" and record["summary"]["square"] == 22500.0  # the summary is kept
    assert "the study reported a failure: x = 150" in (Path(data["outdir"].values[1]) / "log.txt").read_text()

    # A record written as "done" before failures were recognised is read as failed; nothing is recomputed.
    record.update(status="done", error=None)
    (Path(data["outdir"].values[1]) / "result.json").write_text(json.dumps(record))
    assert main(["sweep", str(sweep_file), "-o", str(outdir)]) == 1
    assert "failed 1-" in capsys.readouterr().err and calls(study) == Counter({1.0: 1, 150.0: 1, 3.0: 1})
    with xr.open_dataset(outdir / "results.nc") as store:
        assert list(store["status"].values) == ["done", "failed", "done"] and np.isnan(store["square"].values[1])

    # 'failure' is the point's status and error, not an observable.
    sweep_file.write_text(sweep_file.read_text().replace('"label"]', '"label", "failure"]'))
    with pytest.raises(SweepError, match=r"soft.toml: 'observables' lists 'failure'"):
        load_sweep(sweep_file)


def test_values_of_differing_kinds_are_stored_as_text(tmp_path, client):
    # "note" is None at x < 3 and a string above; "mixed" a number at x < 3 and a string above. The sweep
    # completes and the store is written (the landed code stopped after every point had run, exit 2).
    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "kinds.toml", """\
        study = "study"
        observables = ["square", "note", "mixed", "profile"]

        [list]
        "config.x" = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]

        [observable_dims]
        mixed = "position"
    """)
    outdir = tmp_path / "out"
    result = run_sweep(sweep_file, outdir, client=client, progress=False)
    data = result.dataset
    assert list(data["status"].values) == ["done"] * 8 and result.computed == 8
    assert data["square"].values.tolist() == [x * x for x in range(1, 9)]
    assert list(data["note"].values) == ["", ""] + [f"x = {x}" for x in range(3, 9)] and "note" not in data["note"].attrs
    assert list(data["mixed"].values) == ["1.0", "2.0"] + ["big"] * 6
    assert "['number', 'str']" in data["mixed"].attrs["note"] and "unused" in data["mixed"].attrs["observable_dims"]
    assert data["profile"].dims == ("point", "profile_index")
    assert _store_matches_records(outdir) == ["done"] * 8
    with xr.open_dataset(result.store) as stored:
        xr.testing.assert_equal(stored.load(), data)
    assert main(["sweep", str(sweep_file), "-o", str(outdir)]) == 0


@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError, SweepError])
def test_store_is_rebuilt_however_the_sweep_ends(tmp_path, client, monkeypatch, error):
    # One point is computed, then the sweep ends with `error` (Ctrl-C, a bug, a sweep error): the store
    # written before (all pending) must not survive; it is rebuilt from the records on disk.
    import femion.sweep as sweep_module

    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "exit.toml", """\
        study = "study"
        observables = ["square"]

        [list]
        "config.x" = [1.0, 2.0, 3.0]
    """)
    outdir = tmp_path / "out"
    outdir.mkdir()
    build_store(load_sweep(sweep_file), outdir, records={}).to_netcdf(outdir / "results.nc")
    compute = sweep_module._compute

    def compute_one_then_fail(sweep, todo, *arguments):
        compute(sweep, todo[:1], *arguments)
        raise error("stopped")

    monkeypatch.setattr(sweep_module, "_compute", compute_one_then_fail)
    with pytest.raises(error, match="stopped"):
        run_sweep(sweep_file, outdir, client=client, progress=False)
    assert _store_matches_records(outdir) == ["done", "pending", "pending"]


def test_ctrl_c_while_the_cluster_starts_is_raised_once_it_is_up(client, monkeypatch):
    # Ignoring SIGINT during the start-up lost a Ctrl-C (a BLAS thread took and discarded it): here the
    # signal arrives inside the LocalCluster constructor and must surface as KeyboardInterrupt afterwards,
    # with the cluster it started closed. The workers ignore SIGINT themselves (a terminal's Ctrl-C reaches
    # them too; only the main process stops the sweep).
    import distributed
    import psutil

    class InterruptedWhileStarting(distributed.LocalCluster):
        def __init__(self, *arguments, **options):
            os.kill(os.getpid(), signal.SIGINT)
            super().__init__(*arguments, **options)

    me = psutil.Process()
    before = set(me.children(recursive=True))
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal (pytest may ignore it)
    try:
        monkeypatch.setattr(distributed, "LocalCluster", InterruptedWhileStarting)
        with pytest.raises(KeyboardInterrupt):
            make_cluster(ClusterSpec("local", {"n_workers": 1}))
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, previous)
    _, alive = psutil.wait_procs(set(me.children(recursive=True)) - before, timeout=20)
    assert not alive, alive

    for pid in client.run(os.getpid).values():
        ignored = next(line for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("SigIgn"))
        assert int(ignored.split()[1], 16) >> (signal.SIGINT - 1) & 1, f"worker {pid} does not ignore SIGINT"


def test_progress_lines_when_not_on_a_terminal(tmp_path, client, capsys, monkeypatch):
    import femion.sweep as sweep_module

    make_study(tmp_path / "study")
    sweep_file = write_sweep(tmp_path / "lines.toml", """\
        study = "study"
        observables = ["square"]

        [list]
        "config.x" = [1.0, 200.0, 3.0]
    """)
    monkeypatch.setattr(sweep_module, "PROGRESS_INTERVAL", 0.0)
    run_sweep(sweep_file, tmp_path / "out", client=client)  # progress=None; pytest's stderr is not a terminal
    lines = capsys.readouterr().out.splitlines()
    pattern = r"sweep lines: (\d) done, (\d) failed, (\d) pending( \(\d running\))? of 3 points; elapsed \d+:\d\d:\d\d"
    assert lines and all(re.fullmatch(pattern, line) for line in lines), lines
    assert lines[0].startswith("sweep lines: 0 done, 0 failed, 3 pending (0 running)")
    assert lines[-1].startswith("sweep lines: 2 done, 1 failed, 0 pending of 3 points")
    run_sweep(sweep_file, tmp_path / "quiet", client=client, progress=False)
    assert capsys.readouterr().out == ""
