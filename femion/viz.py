"""Pictures: revolved 3D renders (pyvista, off-screen) and (r, z) maps (matplotlib).

Imported lazily: nothing here is loaded by ``import femion``. pyvista renders
off-screen through EGL; :func:`render_revolved` sets
``VTK_DEFAULT_OPENGL_WINDOW=vtkEGLRenderWindow`` unless the caller chose a
window class. On systems without EGL or OSMesa, VTK cannot render
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
    return _screenshot(plotter, path)


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


# ------------------------------------------------------------------ synthetic ToF-SIMS panels (femion.tofsims)
TOFSIMS_COLORS = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45", "#fabed4", "#ffe119",
)
"""Ion colours of the ToF-SIMS panels, in order of the volumes passed."""


def _tofsims_plotter(window_size: tuple[int, int], background: str):
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    plotter = pv.Plotter(off_screen=True, window_size=window_size)
    plotter.set_background(background)
    return plotter


def _screenshot(plotter, path: str | Path) -> Path:
    """Save the off-screen render to ``path`` and close the plotter (clear error without a GL context)."""
    try:
        plotter.screenshot(str(path))
    except Exception as error:  # VTK raises bare RuntimeErrors without a usable GL context
        raise RuntimeError(
            f"off-screen rendering failed ({error}); install EGL (libegl1 libegl-mesa0 libgl1-mesa-dri) or OSMesa"
        ) from error
    finally:
        plotter.close()
    return Path(path)


def _tofsims_scene(plotter, grid, exaggeration: float, title: str, foreground: str, zoom: float = 1.2) -> None:
    import pyvista as pv

    nx, ny, nz = grid.shape
    half = 0.5 * grid.pixel_size * 1e6
    bounds = (
        grid.x[0] * 1e6 - half, grid.x[-1] * 1e6 + half, grid.y[0] * 1e6 - half, grid.y[-1] * 1e6 + half,
        -nz * grid.depth_bin * 1e6 * exaggeration, 0.0,
    )
    plotter.add_mesh(pv.Box(bounds).outline(), color=foreground, line_width=1.0)
    plotter.add_text(
        f"{title}\n{grid.pixel_size * nx * 1e6:.0f} × {grid.pixel_size * ny * 1e6:.0f} µm², "
        f"depth {nz * grid.depth_bin * 1e9:.0f} nm (× {exaggeration:.3g})",
        font_size=10, color=foreground,
    )
    plotter.view_isometric()
    plotter.camera.elevation = -10.0
    plotter.reset_camera()
    plotter.camera.zoom(zoom)


def _default_exaggeration(grid, exaggeration: float | None) -> float:
    if exaggeration is not None:
        return float(exaggeration)
    nx, _, nz = grid.shape
    return 0.3 * nx * grid.pixel_size / (nz * grid.depth_bin)


def render_tofsims_layers(
    path: str | Path,
    grid,
    volumes: dict,
    *,
    level: float = 0.5,
    depth_exaggeration: float | None = None,
    colors: tuple[str, ...] = TOFSIMS_COLORS,
    title: str = "3D layer morphology (synthetic ToF-SIMS)",
    cut_away: bool = True,
    background: str = "black",
    window_size: tuple[int, int] = (1200, 900),
) -> Path:
    """Render the 3D layer morphology from matrix-ion volumes (paper Fig. 4(a)–(c) style), off-screen.

    Each volume (normally one matrix ion per layer: ``Pt-``, ``WO3-``, ``PO2-``,
    ``MoO3-``, ``InO-``) is normalised to its maximum and drawn as its
    ``level`` isosurface in its own colour, depth exaggerated. The quadrant
    facing the camera (x > 0, y > 0) is cut away and the volume is padded
    with empty voxels, so every layer appears as a closed, capped solid.

    Parameters
    ----------
    path
        Output PNG.
    grid : femion.tofsims.VoxelGrid
        Raster of the volumes.
    volumes : dict of str to IonVolume or ndarray
        Matrix-ion volumes, shape ``grid.shape``.
    level
        Isosurface level as a fraction of each volume's maximum.
    depth_exaggeration
        Factor on depth (default: the displayed depth is 0.3 × the field of view).
    cut_away
        Remove the quadrant facing the camera.

    Raises
    ------
    RuntimeError
        If VTK cannot open an off-screen render window (missing EGL/OSMesa).
    """
    import pyvista as pv

    exaggeration = _default_exaggeration(grid, depth_exaggeration)
    keep = ~((grid.x[:, None, None] > 0.0) & (grid.y[None, :, None] > 0.0)) if cut_away else True
    spacing = (grid.pixel_size * 1e6, grid.pixel_size * 1e6, grid.depth_bin * 1e6 * exaggeration)
    origin = ((grid.x[0] - grid.pixel_size) * 1e6, (grid.y[0] - grid.pixel_size) * 1e6,
              -(grid.depth[-1] + grid.depth_bin) * 1e6 * exaggeration)
    image = pv.ImageData(dimensions=tuple(n + 2 for n in grid.shape), spacing=spacing, origin=origin)
    foreground = "white" if background == "black" else "black"
    plotter = _tofsims_plotter(window_size, background)
    entries = []
    for index, (name, volume) in enumerate(volumes.items()):
        values = np.asarray(getattr(volume, "values", volume), dtype=float)
        color = colors[index % len(colors)]
        if values.max() > 0.0:
            padded = np.pad(np.where(keep, values / values.max(), 0.0), 1)  # empty voxels all round: closed surfaces
            image.point_data[name] = padded[:, :, ::-1].ravel(order="F")
            surface = image.contour([level], scalars=name)
            if surface.n_points:
                plotter.add_mesh(surface, color=color, smooth_shading=True)
                entries.append([name, color])
                continue
        entries.append([f"{name} (none)", color])
    _tofsims_scene(plotter, grid, exaggeration, title, foreground)
    if entries:
        plotter.add_legend(entries, bcolor=background, face="rectangle", size=(0.18, 0.25))
    return _screenshot(plotter, path)


def render_tofsims_ions(
    path: str | Path,
    grid,
    volumes: dict,
    *,
    panels: bool = True,
    levels: tuple[float, ...] = (0.2, 0.5, 0.8),
    opacities: tuple[float, ...] = (0.08, 0.2, 0.45),
    common_scale: bool = False,
    depth_exaggeration: float | None = None,
    colors: tuple[str, ...] = TOFSIMS_COLORS,
    title: str = "3D secondary-ion maps (synthetic ToF-SIMS)",
    background: str = "black",
    window_size: tuple[int, int] | None = None,
    columns: int = 3,
) -> Path:
    """Render 3D secondary-ion maps with transparency (paper Fig. 4(d)–(f) style), off-screen.

    Each ion is drawn as nested translucent isosurfaces at ``levels`` × its
    maximum (or × the largest maximum of all ions with ``common_scale``), more
    opaque toward the maximum, in its own colour, inside the outline of the
    analysed volume. Ions with no signal are marked "(none)".

    Parameters
    ----------
    path
        Output PNG.
    grid : femion.tofsims.VoxelGrid
    volumes : dict of str to IonVolume or ndarray
        Ion volumes, shape ``grid.shape``.
    panels
        One panel per ion (default), or all ions overlaid in one view.
    columns
        Panels per row (rows as needed): 3 puts five ions on a 2 × 3 grid whose
        aspect matches the morphology renderings, so composites stay legible.
    levels, opacities
        Isosurface levels (fractions of the maximum) and their opacities.
    common_scale
        Normalise all ions by the same maximum (compares abundances) rather than each by its own.
    window_size
        Pixels (default 1200 × 900 overlaid, 420 × 480 per panel).

    Raises
    ------
    ValueError
        If ``columns`` < 1.
    RuntimeError
        If VTK cannot open an off-screen render window.
    """
    from femion.tofsims import volume_image

    if columns < 1:
        raise ValueError(f"columns must be at least 1, got {columns!r}")
    exaggeration = _default_exaggeration(grid, depth_exaggeration)
    values = {name: getattr(volume, "values", volume) for name, volume in volumes.items()}
    largest = max((float(v.max()) for v in values.values()), default=0.0)
    image = volume_image(grid, values, length_scale=1e6, depth_scale=exaggeration, point_data=True)
    foreground = "white" if background == "black" else "black"
    count = max(len(values), 1)
    columns = min(columns, count)
    rows = -(-count // columns)
    if window_size is None:
        window_size = (420 * columns, 480 * rows) if panels else (1200, 900)
    os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    import pyvista as pv

    plotter = pv.Plotter(off_screen=True, window_size=window_size, shape=(rows, columns) if panels else (1, 1), border=False)
    if panels:
        for cell in range(rows * columns):  # unused cells of the last row too
            plotter.subplot(*divmod(cell, columns))
            plotter.set_background(background)
    entries = []
    for index, (name, v) in enumerate(values.items()):
        if panels:
            plotter.subplot(*divmod(index, columns))
            plotter.set_background(background)
        color = colors[index % len(colors)]
        scale = largest if common_scale else float(v.max())
        label = name  # VTK's default font lacks sub/superscript glyphs: ASCII names (Li-, CO3-)
        drawn = False
        if scale > 0.0:
            for level, opacity in zip(levels, opacities):
                surface = image.contour([level * scale], scalars=name)
                if surface.n_points:
                    plotter.add_mesh(surface, color=color, opacity=opacity, smooth_shading=True)
                    drawn = True
        label = label if drawn else f"{label} (none)"
        entries.append([label, color])
        if panels:
            _tofsims_scene(plotter, grid, exaggeration, label if index else f"{title}\n{label}", foreground, zoom=0.9)
    if not panels:
        plotter.set_background(background)
        _tofsims_scene(plotter, grid, exaggeration, title, foreground)
        if entries:
            plotter.add_legend(entries, bcolor=background, face="rectangle", size=(0.2, 0.3))
    return _screenshot(plotter, path)


def plot_depth_map(
    path: str | Path | None,
    dataset,
    variable: str,
    *,
    axis=None,
    log_scale: bool = False,
    cmap: str = "jet",
    title: str | None = None,
):
    """Draw a 2D ToF-SIMS depth map (x versus depth, paper Fig. 4(g)–(i) style) with a colour bar.

    Parameters
    ----------
    path
        Output PNG, or None to draw into ``axis`` only.
    dataset : xarray.Dataset
        From :func:`femion.tofsims.depth_map` (dims ``depth``, ``x`` in metres).
    variable
        Ion to draw.
    axis
        Matplotlib axis (default: a new figure).
    log_scale
        Logarithmic colour scale (non-positive values masked).

    Returns
    -------
    Path or matplotlib.collections.QuadMesh
        The PNG path if ``path`` is given, else the mesh (for a colour bar).
    """
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from femion.tofsims import ION_LABELS

    data = dataset[variable]
    values = np.asarray(data.values, dtype=float)
    figure = None
    if axis is None:
        figure, axis = plt.subplots(figsize=(7.0, 4.0), constrained_layout=True)
    norm = None
    if log_scale:
        positive = values[values > 0]
        norm = LogNorm(vmin=max(positive.min(), positive.max() * 1e-4), vmax=positive.max()) if positive.size else None
        values = np.ma.masked_less_equal(values, 0.0)
    x = dataset["x"].values * 1e6
    depth = dataset["depth"].values * 1e9
    quad = axis.pcolormesh(x, depth, values, cmap=cmap, norm=norm, shading="nearest")
    axis.set_ylim(depth.max(), depth.min())
    axis.set_xlabel("x [µm]")
    axis.set_ylabel("depth [nm]")
    axis.set_title(title if title is not None else f"{ION_LABELS.get(variable, variable)} depth map")
    colorbar = axis.figure.colorbar(quad, ax=axis)
    colorbar.set_label(f"{ION_LABELS.get(variable, variable)} intensity [{data.attrs.get('units', '')}]")
    if path is None:
        return quad
    axis.figure.savefig(path, dpi=150)
    plt.close(axis.figure if figure is None else figure)
    return Path(path)


def plot_depth_profiles(
    path: str | Path,
    dataset,
    *,
    variables: tuple[str, ...] | None = None,
    versus: str = "depth",
    log_scale: bool = True,
    dynamic_range: float = 6.0,
    title: str = "synthetic ToF-SIMS depth profiles",
) -> Path:
    """Plot depth profiles (intensity versus depth [nm] or sputter time [s]) to a PNG.

    Parameters
    ----------
    dataset : xarray.Dataset
        From :func:`femion.tofsims.depth_profiles`.
    variables
        Ions to plot (default all).
    versus : {"depth", "sputter_time"}
        Abscissa.
    log_scale
        Logarithmic intensity axis.
    dynamic_range
        Decades shown below the largest intensity on a log axis.
    """
    import matplotlib.pyplot as plt

    from femion.tofsims import ION_LABELS

    if versus not in ("depth", "sputter_time"):
        raise ValueError(f"versus must be 'depth' or 'sputter_time', got {versus!r}")
    abscissa = dataset[versus].values * (1e9 if versus == "depth" else 1.0)
    figure, axis = plt.subplots(figsize=(7.0, 4.5), constrained_layout=True)
    names = variables or tuple(dataset.data_vars)
    palette = plt.get_cmap("tab20")
    for index, name in enumerate(names):
        values = np.asarray(dataset[name].values, dtype=float)
        if log_scale and not np.any(values > 0):
            continue
        axis.plot(abscissa, np.where(values > 0, values, np.nan) if log_scale else values, label=ION_LABELS.get(name, name),
                  color=palette(index % 20))
    if log_scale and axis.lines:
        top = max(np.nanmax(line.get_ydata()) for line in axis.lines)
        axis.set_yscale("log")
        axis.set_ylim(top * 10.0**-dynamic_range, top * 2.0)
    axis.set_xlabel("depth [nm]" if versus == "depth" else "sputter time [s]")
    axis.set_ylabel("intensity [a.u.]")
    axis.set_title(title)
    if axis.lines:
        axis.legend(fontsize=8, ncol=2)
    figure.savefig(path, dpi=150)
    plt.close(figure)
    return Path(path)


__all__ += ["plot_depth_map", "plot_depth_profiles", "render_tofsims_ions", "render_tofsims_layers"]
