"""Command line: ``femion info | mesh | run | sweep``.

Heavy libraries (FiPy, pyvista, matplotlib) are imported inside the commands so
``femion --help`` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time
from pathlib import Path

from femion.config import load_study  # noqa: F401  (re-exported: `femion.cli.load_study` stays importable)

__all__ = ["main", "load_study"]


def _device(path: str | None):
    from femion.config import load_device

    return load_device(path)


def _length(metres: float) -> str:
    """A length with a readable unit (nm below 1 µm, else µm)."""
    return f"{metres * 1e9:.4g} nm" if metres < 1e-6 else f"{metres * 1e6:.4g} um"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (0.0 < value < 100.0):
        raise argparse.ArgumentTypeError(f"must be a number in (0, 100), got {text!r}")
    return value


def _info(arguments: argparse.Namespace) -> int:
    from femion.io import assumed_parameters, calibrated_parameters, provenance_counts
    from femion.materials import load_references

    device = _device(arguments.device)
    print(f"device {device.name!r}  ({device.source})")
    print(f"  ambient {device.ambient}, temperature {device.temperature:g} K")
    print(f"  top electrode radius {device.electrode_radius * 1e6:g} um, film radius {device.film_radius * 1e6:g} um")
    print(f"  electrode-to-electrode film stack d = {device.film_stack_thickness * 1e9:g} nm")
    print("  stack (top to bottom):")
    for layer in reversed((device.substrate, *device.layers)):
        material = device.material(layer.name)
        print(f"    {layer.name:<10} {material.name:<8} {_length(layer.thickness):>10}   {material.description}")
    print("\nmaterials used:")
    references = load_references()
    seen = set()
    for region in device.region_names:
        material = device.material(region)
        if material.name in seen:
            continue
        seen.add(material.name)
        print(f"  {material.name} ({material.kind}): {material.path}")
        for key, parameter in material.parameters.items():
            flag = "  ASSUMED" if parameter.assumed else ""
            print(f"    {key:<34} {parameter.value:>12.5g} {parameter.unit:<10} [{parameter.source}]{flag}")
    counts = provenance_counts(device)
    print(f"\nmaterial values: {counts['total']} (sourced {counts['sourced']}, assumed {counts['assumed']}, "
          f"calibrated {counts['calibrated']})")
    assumed = assumed_parameters(device)
    print(f"\nassumed values (no literature source): {len(assumed)}")
    for parameter in assumed:
        print(f"  {parameter.material}.{parameter.name} = {parameter.value:.4g} {parameter.unit}  -- {parameter.note}")
    calibrated = calibrated_parameters(device)
    print(f"\ncalibrated values (fitted by a study): {len(calibrated)}")
    for parameter in calibrated:
        print(f"  {parameter.material}.{parameter.name} = {parameter.value:.4g} {parameter.unit}  -- {parameter.source}")
    cited = sorted({p.source for region in device.region_names for p in device.material(region).parameters.values()} - {"assumed"})
    print(f"\nsources cited ({len(cited)}), see femion/references.bib: {', '.join(k for k in cited if k in references)}")
    return 0


def _mesh(arguments: argparse.Namespace) -> int:
    from femion.geometry import QUICK_MESH, MeshSettings
    from femion.mesh import build_mesh

    device = _device(arguments.device)
    settings = QUICK_MESH if arguments.quick else MeshSettings()
    if arguments.refinement is not None:  # relative to the chosen base (quick or default)
        settings = dataclasses.replace(settings, refinement=settings.refinement * arguments.refinement)
    start = time.perf_counter()
    mesh = build_mesh(device, arguments.output, settings=settings)
    elapsed = time.perf_counter() - start
    print(f"wrote {arguments.output}: {mesh.n_cells} quadrilateral cells, {mesh.n_nodes} nodes in {elapsed:.2f} s (units: um)")
    print(f"  regions:    {', '.join(mesh.region_names)}")
    print(f"  boundaries: {', '.join(sorted(mesh.boundaries))}")
    return 0


def _read_run_record(outdir: Path) -> dict | None:
    """The ``run.json`` of ``outdir`` as a dict, {} if unreadable, None if absent."""
    import json

    record = outdir / "run.json"
    if not record.is_file():
        return None
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_outdir(outdir: Path, study: str, folder: Path) -> None:
    """Refuse an output folder that holds another study's run.

    The run in ``outdir`` is this study's if its ``run.json`` names ``study``
    (the study folder's name) or was written by ``femion run`` of the same
    study folder (``study_folder``).

    Raises
    ------
    ValueError
        One line naming the folder, its ``run.json`` and the study found there.
    """
    data = _read_run_record(outdir)
    if data is None:
        return
    found = data.get("study")
    record = outdir / "run.json"
    if found != study and data.get("study_folder") != str(folder.resolve()):
        what = f"study {found!r}" if isinstance(found, str) else "a run that names no study"
        raise ValueError(
            f"output folder {outdir} holds {what} ({record}); choose another -o folder, "
            f"or pass --force to write {study!r} into it anyway"
        )


def _run(arguments: argparse.Namespace) -> int:
    folder, module = load_study(arguments.study)
    outdir = Path(arguments.output) if arguments.output else folder / "output"
    if arguments.quick and not arguments.output:
        outdir = folder / "output" / "quick"
    study = folder.resolve().name
    if outdir.exists() and not outdir.is_dir():
        raise ValueError(f"output {outdir} exists and is not a folder; choose another -o folder")
    if not arguments.force:
        _check_outdir(outdir, study, folder)
    start = time.perf_counter()
    print(f"femion run {folder} -> {outdir}{' (quick)' if arguments.quick else ''}")
    from femion.simulation import SimulationError, blas_threads

    try:
        with blas_threads():
            summary = module.run(outdir, quick=arguments.quick)
    except SimulationError as error:  # a run that could not advance and that the study does not record itself
        if arguments.traceback:
            raise
        summary = {"failure": str(error)}
    data = _read_run_record(outdir)
    if data is not None:  # mark the run as this study folder's, for the next _check_outdir
        import json

        data["study_folder"] = str(folder.resolve())
        (outdir / "run.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    failure = summary.get("failure") if isinstance(summary, dict) else None
    if failure:
        # The study wrote what it computed before the failure; no plot of a partial run.
        print(f"femion: {study}: failed: {' '.join(str(failure).split())}", file=sys.stderr)
        return 1
    plot_script = folder / "plot.py"
    if plot_script.is_file() and not arguments.no_plot:
        spec = importlib.util.spec_from_file_location(f"femion_study_{folder.name}_plot", plot_script)
        plot_module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(plot_module)
        plot_module.plot(outdir)
    print(f"done in {time.perf_counter() - start:.1f} s; outputs in {outdir}")
    return 0


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _sweep(arguments: argparse.Namespace) -> int:
    from femion.sweep import default_outdir, load_sweep, run_sweep

    sweep = load_sweep(arguments.sweep)
    if arguments.quick:
        sweep = dataclasses.replace(sweep, quick=True)
    outdir = Path(arguments.output) if arguments.output else default_outdir(sweep)
    print(
        f"femion sweep {arguments.sweep} -> {outdir}: {len(sweep.points())} points of {sweep.study.name} "
        f"({sweep.kind}{', quick' if sweep.quick else ''}) on {sweep.cluster.describe(arguments.workers)}"
    )
    try:
        result = run_sweep(sweep, outdir, workers=arguments.workers, retry_failed=arguments.retry_failed)
    except KeyboardInterrupt:
        print(f"\ninterrupted; finished points are kept in {outdir / 'points'} and {outdir / 'results.nc'} "
              "holds them: re-run the same command to resume", file=sys.stderr)
        return 130
    print(
        f"done in {result.wall_time:.1f} s: {result.points} points, {result.computed} computed, "
        f"{result.reused} reused from earlier runs, {result.failed} failed; results in {result.store}"
    )
    if result.failed:
        failed = result.dataset["status"].values == "failed"
        for point_id, error in zip(result.dataset["point_id"].values[failed], result.dataset["error"].values[failed]):
            print(f"  failed {point_id}: {error}", file=sys.stderr)
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    from femion._version import __version__

    parser = argparse.ArgumentParser(
        prog="femion", description="Coupled axisymmetric multiphysics of iontronic thin-film devices."
    )
    parser.add_argument("--version", action="version", version=f"femion {__version__}")
    parser.add_argument("--traceback", action="store_true", help="show the full traceback on errors")
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="print a device, its materials and every assumed value")
    info.add_argument("device", nargs="?", help="device TOML file (default: the built-in reference device)")
    info.set_defaults(handler=_info)

    mesh = commands.add_parser("mesh", help="build the (r, z) gmsh mesh of a device and write a .msh file")
    mesh.add_argument("device", nargs="?", help="device TOML file (default: the built-in reference device)")
    mesh.add_argument("-o", "--output", required=True, help="output .msh file (MSH 4.1, lengths in um)")
    mesh.add_argument("--quick", action="store_true", help="coarse mesh for quick runs")
    mesh.add_argument("--refinement", type=_positive_float, help="multiply every cell count by this factor")
    mesh.set_defaults(handler=_mesh)

    run = commands.add_parser("run", help="run a study (a folder under studies/)")
    run.add_argument("study", help="study folder, e.g. studies/reference_fields")
    run.add_argument("--quick", action="store_true", help="coarse, fast variant")
    run.add_argument("-o", "--output", help="output directory (default: STUDY/output, or STUDY/output/quick)")
    run.add_argument("--no-plot", action="store_true", help="skip the study's plot step")
    run.add_argument("--force", action="store_true",
                     help="write into an output folder that holds another study's run (files of both mix)")
    run.set_defaults(handler=_run)

    sweep = commands.add_parser(
        "sweep", help="run a study over a parameter grid, list or Latin hypercube on Dask (resumable)"
    )
    sweep.add_argument("sweep", help="sweep TOML file, e.g. studies/sweeps/field_scaling_radius.toml")
    sweep.add_argument("--quick", action="store_true", help="run the study's quick variant at every point")
    sweep.add_argument("-o", "--output", help="output directory (default: output/<sweep name>[/quick] next to the file)")
    sweep.add_argument("--workers", type=_positive_int,
                       help="worker processes (local: default the cores; slurm/pbs: instead of 'jobs')")
    sweep.add_argument("--retry-failed", action="store_true", help="recompute points that failed in an earlier run")
    sweep.set_defaults(handler=_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``femion`` command."""
    arguments = _parser().parse_args(argv)
    try:
        return arguments.handler(arguments)
    except KeyboardInterrupt as interrupt:
        if arguments.traceback:
            raise
        # A run's time loop says where it stopped and which checkpoint a rerun resumes from
        # (femion.simulation.SimulationInterrupted; looked up, not imported, to keep `femion --help` light).
        simulation = sys.modules.get("femion.simulation")
        interrupted = simulation is not None and isinstance(interrupt, simulation.SimulationInterrupted)
        print(f"femion: {interrupt}" if interrupted else "femion: interrupted", file=sys.stderr)
        return 130
    except (ValueError, KeyError, OSError) as error:
        # Input errors (device, material, mesh, study config, units, protocol: all ValueErrors),
        # and files that cannot be read or written. --traceback shows the full trace.
        if arguments.traceback:
            raise
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"femion: error: {type(error).__name__}: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
