"""Pictures: revolved 3D renders (pyvista, off-screen) and (r, z) maps (matplotlib).

Imported lazily: nothing here is loaded by ``import femion``. pyvista renders
off-screen through EGL; :func:`render_revolved` sets
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` unless the caller chose a
window class (STACK.md). On systems without EGL or OSMesa, VTK cannot render
off-screen; the error then names the libraries to install (README).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from femion.mesh import AxisymmetricMesh

__all__ = ["plot_rz_map", "render_revolved", "revolve"]


def revolve(
    mesh: AxisymmetricMesh,
    cell_data: dict[str, np.ndarray],
    *,
    angle: float = 270.0,
    segments: int = 36,
    z_scale: float = 1.0,
    length_scale: float = 1e6,
):
    """Revolve an (r, z) mesh about the z axis into a 3D hexahedral pyvista grid.

    Parameters
    ----------
    mesh
        Axisymmetric mesh (metres).
    cell_data
        Name -> cell array, shape (n_cells,) or (n_cells, 2) for (r, z) vectors
        (rotated into Cartesian components).
    angle
        Revolution angle [deg]; less than 360 gives a cut-away view.
    segments
        Angular cells over ``angle``.
    z_scale
        Exaggeration of z (thin films are ~100× thinner than wide).
    length_scale
        Output length unit per metre (default µm).

    Returns
    -------
    pyvista.UnstructuredGrid
        ``n_cells × segments`` hexahedra (degenerate on the axis), cell data
        repeated around the revolution, plus ``region``.
    """
    import pyvista as pv

    theta = np.radians(np.linspace(0.0, angle, segments + 1))
    r, z = mesh.nodes[:, 0] * length_scale, mesh.nodes[:, 1] * length_scale * z_scale
    points = np.stack(
        [np.outer(np.cos(theta), r), np.outer(np.sin(theta), r), np.broadcast_to(z, (segments + 1, len(r)))], axis=-1
    ).reshape(-1, 3)
    n_nodes = mesh.n_nodes
    ring = np.arange(segments)[:, None, None] * n_nodes
    bottom = ring + mesh.cells[None, :, :]
    hexahedra = np.concatenate([bottom, bottom + n_nodes], axis=2).reshape(-1, 8)
    cells = np.hstack([np.full((len(hexahedra), 1), 8), hexahedra]).ravel()
    grid = pv.UnstructuredGrid(cells, np.full(len(hexahedra), pv.CellType.HEXAHEDRON, dtype=np.uint8), points)
    mid = np.repeat(0.5 * (theta[:-1] + theta[1:]), mesh.n_cells)
    grid.cell_data["region"] = np.tile(mesh.cell_regions, segments)
    for name, values in cell_data.items():
        values = np.asarray(values)
        if values.ndim == 2:
            tiled = np.tile(values, (segments, 1))
            values = np.column_stack([tiled[:, 0] * np.cos(mid), tiled[:, 0] * np.sin(mid), tiled[:, 1]])
        else:
            values = np.tile(values, segments)
        grid.cell_data[name] = values
    return grid


def render_revolved(
    path: str | Path,
    mesh: AxisymmetricMesh,
    field: np.ndarray,
    *,
    label: str,
    z_scale: float = 1.0,
    log_scale: bool = False,
    cmap: str = "viridis",
    title: str = "",
    clim: tuple[float, float] | None = None,
    window_size: tuple[int, int] = (1200, 900),
) -> Path:
    """Render one cell field on the revolved, cut-away device to a PNG (off-screen).

    Parameters
    ----------
    path
        Output PNG.
    mesh, field
        Mesh and cell field, shape (n_cells,).
    label
        Scalar-bar title (name and unit).
    z_scale
        Exaggeration of z.
    log_scale
        Logarithmic colour scale.
    clim
        Colour limits (default: the field's range).

    Raises
    ------
    RuntimeError
        If VTK cannot open an off-screen render window (missing EGL/OSMesa).
    """
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    grid = revolve(mesh, {label: field}, z_scale=z_scale)
    plotter = pv.Plotter(off_screen=True, window_size=window_size)
    plotter.add_mesh(
        grid, scalars=label, cmap=cmap, log_scale=log_scale, clim=clim, show_edges=False, scalar_bar_args={"title": label}
    )
    plotter.add_text(title, font_size=10)
    plotter.camera_position = "xz"
    plotter.camera.elevation = 25.0
    plotter.camera.azimuth = -35.0
    plotter.reset_camera()
    plotter.camera.zoom(1.3)
    try:
        plotter.screenshot(str(path))
    except Exception as error:  # VTK raises bare RuntimeErrors without a usable GL context
        raise RuntimeError(
            f"off-screen rendering failed ({error}); install EGL (libegl1 libegl-mesa0 libgl1-mesa-dri) or OSMesa"
        ) from error
    finally:
        plotter.close()
    return Path(path)


def plot_rz_map(
    axis,
    mesh: AxisymmetricMesh,
    field: np.ndarray,
    *,
    r_range: tuple[float, float] | None = None,
    cmap: str = "viridis",
    log_scale: bool = False,
    length_scale: float = 1e6,
):
    """Draw a cell field on the (r, z) plane into a matplotlib axis (z stretched to fill the axis).

    Returns
    -------
    matplotlib.collections.PolyCollection
        For a colour bar.
    """
    from matplotlib.collections import PolyCollection
    from matplotlib.colors import LogNorm

    polygons = mesh.nodes[mesh.cells] * length_scale
    keep = np.ones(mesh.n_cells, dtype=bool)
    if r_range is not None:
        r = mesh.r_cell * length_scale
        keep = (r >= r_range[0]) & (r <= r_range[1])
    values = np.asarray(field)[keep]
    norm = LogNorm(vmin=max(values[values > 0].min(), values.max() * 1e-6), vmax=values.max()) if log_scale else None
    collection = PolyCollection(polygons[keep], array=values, cmap=cmap, norm=norm, edgecolors="none")
    axis.add_collection(collection)
    axis.set_xlim(polygons[keep][..., 0].min(), polygons[keep][..., 0].max())
    axis.set_ylim(polygons[keep][..., 1].min(), polygons[keep][..., 1].max())
    axis.set_xlabel("r [µm]")
    axis.set_ylabel("z [µm] (exaggerated)")
    return collection
