"""Output: fields to VTU (meshio), curves to netCDF (xarray), run provenance.

* :func:`write_fields` writes cell fields on the (r, z) mesh as an unstructured
  VTK file (``.vtu``) that ParaView opens directly; coordinates are (r, z, 0) in
  metres and every cell carries its integer region tag, in an array named
  ``region (0 ITO, 1 MoO3, ...)`` so the names travel with the file.
* :func:`write_dataset` writes an :class:`xarray.Dataset` to netCDF (netCDF4
  engine), atomically (temporary file, then rename), so a killed run never
  leaves a truncated file; units live in each variable's ``units`` attribute.
* :func:`write_run_metadata` fills a run directory with the device TOML, the
  femion version and git revision, the command, and every material parameter
  used with its source, and a short report listing the assumed values.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from femion._version import __version__, git_revision
from femion.config import Device
from femion.materials import Parameter
from femion.mesh import AxisymmetricMesh

__all__ = ["assumed_parameters", "atomic_write", "calibrated_parameters", "provenance_counts", "json_default", "read_fields", "write_dataset", "write_fields", "write_run_metadata"]


def atomic_write(path: str | Path, write: Any) -> Path:
    """Call ``write(temporary_path)`` and atomically move the result to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def write_fields(path: str | Path, mesh: AxisymmetricMesh, cell_data: Mapping[str, np.ndarray]) -> Path:
    """Write cell fields on ``mesh`` to a ``.vtu`` file.

    Parameters
    ----------
    path
        Output file (``.vtu``).
    mesh
        The mesh the fields live on.
    cell_data
        Field name -> array of shape (n_cells,) or (n_cells, k). Name fields with
        their unit, e.g. ``"phi [V]"``.

    Raises
    ------
    ValueError
        If a field does not have one row per cell.
    """
    import meshio

    # meshio's VTU writer drops field data, so the region names travel in the
    # name of the region-tag array, where ParaView shows them too.
    data = {_region_array_name(mesh.region_names): [mesh.cell_regions.astype(np.int32)]}
    for name, values in cell_data.items():
        values = np.asarray(values)
        if values.shape[0] != mesh.n_cells:
            raise ValueError(f"field {name!r} has {values.shape[0]} rows, mesh has {mesh.n_cells} cells")
        if values.ndim == 2 and values.shape[1] == 2:  # (r, z) vectors -> 3-component for ParaView
            values = np.column_stack([values, np.zeros(len(values))])
        data[name] = [values]
    points = np.column_stack([mesh.nodes, np.zeros(mesh.n_nodes)])
    vtu = meshio.Mesh(points, [("quad", mesh.cells)], cell_data=data)
    return atomic_write(path, lambda temporary: meshio.write(temporary, vtu, file_format="vtu"))


def read_fields(path: str | Path) -> tuple[AxisymmetricMesh, dict[str, np.ndarray]]:
    """Read a ``.vtu`` written by :func:`write_fields` back into a mesh and its cell fields.

    Returns
    -------
    (AxisymmetricMesh, dict)
        The mesh (regions restored, no boundary groups) and name -> cell array
        ((r, z) vectors back to two components).
    """
    import meshio

    vtu = meshio.read(path)
    fields = {}
    for name, blocks in vtu.cell_data.items():
        values = np.asarray(blocks[0])
        fields[name] = values[:, :2] if values.ndim == 2 and values.shape[1] == 3 else values
    region_key = next((name for name in fields if name.startswith("region (")), None)
    if region_key is None:
        raise ValueError(f"{path}: no region-tag array; not written by femion.io.write_fields")
    regions = fields.pop(region_key)
    names = tuple(entry.split(" ", 1)[1] for entry in region_key[len("region ("):-1].split(", "))
    mesh = AxisymmetricMesh(
        nodes=vtu.points[:, :2], cells=vtu.cells_dict["quad"], cell_regions=regions, region_names=tuple(names),
        boundaries={}, source=str(path),
    )
    return mesh, fields


def write_dataset(path: str | Path, dataset: Any) -> Path:
    """Write an :class:`xarray.Dataset` to netCDF atomically (netCDF4 engine).

    Every numeric or boolean data variable and coordinate must carry a
    non-empty ``units`` attribute (CF conventions: ``"1"`` for a dimensionless
    number, a count or an index); text variables (labels, messages) need none,
    and date-times get theirs from xarray's encoding.
    This is the one place where femion's netCDF outputs are checked.

    Raises
    ------
    ValueError
        A numeric variable or coordinate without ``units``, named with the file.
    """
    missing = sorted(
        str(name)
        for name, variable in (*dataset.data_vars.items(), *dataset.coords.items())
        if variable.dtype.kind in "biufc" and not str(variable.attrs.get("units", "")).strip()
    )
    if missing:
        raise ValueError(
            f"{path}: variable(s) {', '.join(missing)} have no 'units' attribute; give each one "
            "(\"1\" for dimensionless numbers, counts and indices)"
        )
    return atomic_write(path, lambda temporary: dataset.to_netcdf(temporary, engine="netcdf4"))


def _device_materials(device: Device) -> list:
    """The distinct materials of the device's regions, in region order."""
    materials = {}
    for region in device.region_names:
        material = device.material(region)
        materials.setdefault(material.name, material)
    return list(materials.values())


def provenance_counts(device: Device) -> dict[str, int]:
    """How many material values of the device are sourced, assumed and calibrated.

    A value is *assumed* (``source = "assumed"``), *calibrated*
    (``source = "calibrated: studies/<name>"``) or *sourced* (a key of
    ``femion/references.bib``); each distinct material counts once.

    Returns
    -------
    dict
        ``{"total", "sourced", "assumed", "calibrated"}`` (counts).
    """
    parameters = [p for material in _device_materials(device) for p in material.parameters.values()]
    assumed = sum(p.assumed for p in parameters)
    calibrated = len(calibrated_parameters(device))
    return {"total": len(parameters), "sourced": len(parameters) - assumed - calibrated, "assumed": assumed,
            "calibrated": calibrated}


def assumed_parameters(device: Device) -> list[Parameter]:
    """Material parameters of the device's materials that carry ``source = "assumed"``."""
    return [p for material in _device_materials(device) for p in material.assumed()]


def calibrated_parameters(device: Device) -> list[Parameter]:
    """Material parameters of the device's materials fitted by a calibration study (``source = "calibrated: ..."``)."""
    return [p for material in _device_materials(device) for p in material.calibrated()]


def write_run_metadata(outdir: str | Path, device: Device, extra: Mapping[str, Any] | None = None) -> Path:
    """Write provenance into ``outdir``: device.toml, run.json, materials.json, report.md.

    Parameters
    ----------
    outdir
        Run directory (created if needed).
    device
        The simulated device.
    extra
        JSON-serialisable study parameters and results to record in run.json.

    Returns
    -------
    Path
        The run directory.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    (outdir / "device.toml").write_text(device.text or f"# device {device.name} (built in code)\n", encoding="utf-8")
    materials: dict[str, Any] = {}
    for region in device.region_names:
        material = device.material(region)
        materials[region] = {
            "material": material.name,
            "file": material.path,
            "parameters": {
                key: {"value": p.value, "unit": p.unit, "source": p.source, "note": p.note, "range": p.range,
                      "range_source": p.range_source, "range_note": p.range_note}
                for key, p in material.parameters.items()
            },
        }
    (outdir / "materials.json").write_text(json.dumps(materials, indent=2), encoding="utf-8")
    run = {
        "femion_version": __version__,
        "git_revision": git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": sys.argv,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device.name,
        "device_source": device.source,
        **(dict(extra) if extra else {}),
    }
    (outdir / "run.json").write_text(json.dumps(run, indent=2, default=json_default), encoding="utf-8")
    counts = provenance_counts(device)
    lines = [f"# femion run report: device {device.name!r}", "",
             f"Material values: {counts['total']} (sourced {counts['sourced']}, assumed {counts['assumed']}, "
             f"calibrated {counts['calibrated']}).", "", "## Assumed values (no literature source)", ""]
    assumed = assumed_parameters(device)
    lines += [f"- {p.material}.{p.name} = {p.value:.4g} {p.unit}: {p.note}" for p in assumed] or ["- none"]
    lines += ["", "## Calibrated values (fitted by a study, which saves the fit's inputs and residuals)", ""]
    lines += [f"- {p.material}.{p.name} = {p.value:.4g} {p.unit}: {p.source}" for p in calibrated_parameters(device)] or ["- none"]
    (outdir / "report.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return outdir


def _region_array_name(region_names: tuple[str, ...]) -> str:
    return "region (" + ", ".join(f"{index} {name}" for index, name in enumerate(region_names)) + ")"


def json_default(value: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars and arrays, paths; anything else as its repr."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return repr(value)
