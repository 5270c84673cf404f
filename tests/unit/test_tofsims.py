"""Synthetic ToF-SIMS on synthetic fields: revolution, species -> ions, outputs, renders, readouts.

Fields here are built in the tests (uniform layer fields, a Gaussian Li excess);
the package never invents physics fields.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from femion import tofsims
from femion.tofsims import (
    ION_NAMES,
    MATRIX_IONS,
    SENSITIVITY_FACTORS,
    SPECIES,
    SPUTTER_RATES,
    DepthResolution,
    FieldOfView,
    centre_edge_ratio,
    depth_map,
    depth_profiles,
    excess_fwhm,
    intensity,
    interface_depths,
    lateral_uniformity,
    measure,
    sputter_time,
    voxelize,
    write_volumes,
)

NM, UM = 1e-9, 1e-6
STACK = ("Pt", "WO3", "LiPON", "MoO3", "ITO")
STACK_IONS = ("Pt-", "WO3-", "PO2-", "MoO3-", "InO-")


@pytest.fixture(scope="module")
def grid(quick_mesh, device):
    """32 × 32 pixels over the default 300 µm field, default depth binning."""
    return voxelize(quick_mesh, device, FieldOfView(pixels=32))


def uniform(mesh, values: dict[str, float]) -> np.ndarray:
    """A cell field constant in each named region, zero elsewhere."""
    field = np.zeros(mesh.n_cells)
    for region, value in values.items():
        field[mesh.region_mask(region)] = value
    return field


def gaussian_excess(mesh, region: str, amplitude: float, width: float) -> np.ndarray:
    """amplitude · exp(−r²/2s²) in one region."""
    r = mesh.cell_centroids[:, 0]
    return np.where(mesh.region_mask(region), amplitude * np.exp(-0.5 * (r / width) ** 2), 0.0)


# ---------------------------------------------------------------------------------------------- voxel grid
def test_grid_geometry(grid, device):
    nx, ny, nz = grid.shape
    assert (nx, ny) == (32, 32)
    assert grid.pixel_size * nx == pytest.approx(300 * UM)
    thinnest = min(layer.thickness for layer in device.layers)
    assert grid.depth_bin < thinnest
    assert grid.depth[0] == pytest.approx(0.5 * grid.depth_bin)
    stack = sum(layer.thickness for layer in device.layers)
    assert grid.depth[-1] > stack  # profiled into the substrate
    np.testing.assert_array_equal(grid.x, -grid.x[::-1])
    assert grid.layer_order == STACK + ("substrate",)


def test_outside_the_mesh_is_empty(grid, device):
    regions = grid.regions()
    radius = grid.radius
    assert np.all(regions[radius > device.film_radius] == -1)  # the corners of the square raster
    above_film = (radius > device.electrode_radius * 1.02) & (radius < device.film_radius)
    top = grid.depth < device.top_electrode.thickness
    assert np.all(regions[above_film][:, top] == -1)  # no Pt beyond the electrode: nothing above the WO3 there
    under = radius < 0.9 * device.electrode_radius
    assert np.all(regions[under][:, top] == grid.region_names.index("Pt"))


def test_revolution_preserves_the_volume_integral(quick_mesh, device):
    """Σ voxel·dV → 2π ∫ c r dr dz, the error within a pixel/bin bound and shrinking under refinement."""
    fields = {
        "uniform WO3": uniform(quick_mesh, {"WO3": 1.0}),
        "Gaussian in WO3+Pt": gaussian_excess(quick_mesh, "WO3", 1.0, 30 * UM) + gaussian_excess(quick_mesh, "Pt", 1.0, 30 * UM),
    }
    exact = {name: 2 * np.pi * np.sum(field * quick_mesh.r_volumes) for name, field in fields.items()}
    errors = {name: [] for name in fields}
    for pixels, depth_bin in ((32, 3.3 * NM), (64, 1.65 * NM), (128, 0.825 * NM)):  # bins not aligned with interfaces
        grid = voxelize(quick_mesh, device, FieldOfView(pixels=pixels, depth=300 * NM, depth_bin=depth_bin))
        bound = 2 * (grid.pixel_size / device.film_radius) + depth_bin / (200 * NM)  # edge pixels + straddling bins
        for name, field in fields.items():
            error = abs(grid.sample(field).sum() * grid.voxel_volume - exact[name]) / exact[name]
            assert error < bound, (name, pixels, error, bound)
            errors[name].append(error)
    assert errors["uniform WO3"][-1] < 0.5 * errors["uniform WO3"][0]
    assert errors["uniform WO3"][2] < errors["uniform WO3"][1] < errors["uniform WO3"][0]
    assert errors["Gaussian in WO3+Pt"][-1] < 2e-3


def test_axisymmetric_field_gives_a_rotationally_symmetric_image(quick_mesh, grid):
    species = {"c_li": uniform(quick_mesh, {"LiPON": 6.0e4}) + gaussian_excess(quick_mesh, "Pt", 2000.0, 25 * UM)}
    volume = intensity("Li-", species, grid).values
    np.testing.assert_array_equal(volume, np.rot90(volume, axes=(0, 1)))
    np.testing.assert_array_equal(volume, volume[::-1, :, :])


def test_deformed_interfaces_come_with_the_displaced_mesh(quick_mesh, device):
    """Stretch the stack at the centre (a bulge of 20 nm at r = 0): the voxels see the lifted interfaces."""
    nodes = quick_mesh.nodes
    bottom, top = device.substrate.thickness, nodes[:, 1].max()
    bulge = 20 * NM * np.exp(-0.5 * (nodes[:, 0] / (30 * UM)) ** 2)
    lift = np.where(nodes[:, 1] > bottom, bulge * (nodes[:, 1] - bottom) / (top - bottom), 0.0)
    deformed = quick_mesh.displaced(np.column_stack([np.zeros(len(nodes)), lift]))
    dz = 1.0 * NM
    grid = voxelize(deformed, device, FieldOfView(pixels=64, depth=400 * NM, depth_bin=dz))
    assert grid.z_top == pytest.approx(top + 20 * NM, rel=1e-12)  # the axis node of the top surface
    wo3 = grid.region_mask("WO3")
    centre = np.unravel_index(np.argmin(grid.radius), grid.radius.shape)
    edge = np.unravel_index(np.argmin(np.abs(grid.radius - 0.9 * device.electrode_radius)), grid.radius.shape)
    z_interface = bottom + sum(layer.thickness for layer in device.layers[:-1])  # Pt|WO3, flat
    fraction = (z_interface - bottom) / (top - bottom)
    for pixel in (centre, edge):
        r = grid.radius[pixel]
        lifted_top = top + 20 * NM * math.exp(-0.5 * (r / (30 * UM)) ** 2)
        lifted_interface = z_interface + 20 * NM * math.exp(-0.5 * (r / (30 * UM)) ** 2) * fraction
        first_wo3 = grid.depth[np.argmax(wo3[pixel])]
        first_pt = grid.depth[np.argmax(grid.regions()[pixel] >= 0)]
        assert first_wo3 == pytest.approx(grid.z_top - lifted_interface, abs=dz), pixel
        assert first_pt == pytest.approx(grid.z_top - lifted_top, abs=dz), pixel
    # the electrode thickens at the centre by the stretch: 50 nm × (1 + 20 nm / stack)
    pt_centre = grid.region_mask("Pt")[centre].sum() * dz
    assert pt_centre == pytest.approx(50 * NM * (1 + 20 * NM / (top - bottom)), abs=2 * dz)


# ---------------------------------------------------------------------------------------------- species -> ions
def test_sensitivity_table_provenance():
    assert all(entry.source == "assumed" and entry.assumed and entry.note for entry in SENSITIVITY_FACTORS)
    assert {entry.ion for entry in SENSITIVITY_FACTORS} <= set(ION_NAMES)
    assert {entry.species for entry in SENSITIVITY_FACTORS} <= set(SPECIES)
    for ion in ("Li-", "OH-", "LiO-", "CO3-", "CO3Li-", "O-", "Pt-", "WO3-", "WO-", "PO-", "PO2-", "MoO3-", "InO-"):
        assert any(entry.ion == ion for entry in SENSITIVITY_FACTORS), ion
    for material, ions in MATRIX_IONS.items():
        for ion in ions:
            assert tofsims.sensitivity_factor(ion, "matrix", material) is not None, (material, ion)
    keys = [(entry.ion, entry.species, entry.matrix) for entry in SENSITIVITY_FACTORS]
    assert len(keys) == len(set(keys))
    assert all(rate.source == "assumed" and rate.value > 0 for rate in SPUTTER_RATES.values())


def test_species_to_intensity_mapping(quick_mesh, grid, device):
    c_li = uniform(quick_mesh, {"Pt": 100.0, "WO3": 5000.0, "LiPON": 6.0e4, "MoO3": 4000.0})
    carbonate = uniform(quick_mesh, {"Pt": 300.0})
    species = {"c_li": c_li, "Li2CO3": carbonate, "phi": np.zeros(quick_mesh.n_cells)}
    li = intensity("Li⁻", species, grid, resolution=None)
    regions = grid.regions()
    index = grid.region_names.index
    assert li.ion == "Li-" and li.label == "Li⁻"
    np.testing.assert_allclose(li.values[regions == index("WO3")], 1.0 * 5000.0)
    np.testing.assert_allclose(li.values[regions == index("LiPON")], 1.0 * 6.0e4)
    np.testing.assert_allclose(li.values[regions == index("Pt")], 0.3 * 100.0 + 2.0 * 300.0)  # Pt matrix factor
    assert np.all(li.values[regions == -1] == 0.0)
    assert any("'phi'" in note and "ignored" in note for note in li.notes)
    assert any("'Li2O'" in note and "counted as zero" in note for note in li.notes)
    # matrix ions: only in their own layer, factor × formula-unit density from the materials database
    pt = intensity("Pt-", {}, grid, resolution=None).values
    material = device.material("Pt")
    density = material.value("density") / material.value("molar_mass")
    np.testing.assert_allclose(pt[regions == index("Pt")], 1.0 * density)
    assert np.all(pt[regions != index("Pt")] == 0.0)
    # restriction to a region
    only_pt = intensity("Li-", species, grid, regions=("Pt",), resolution=None).values
    assert np.all(only_pt[regions != index("Pt")] == 0.0)
    np.testing.assert_array_equal(only_pt[regions == index("Pt")], li.values[regions == index("Pt")])


def test_oxygen_vacancies_lower_the_O_signal(quick_mesh, grid):
    plain = intensity("O-", {}, grid, resolution=None).values
    vacancies = intensity("O-", {"c_vo": uniform(quick_mesh, {"WO3": 1000.0})}, grid, resolution=None).values
    wo3 = grid.regions() == grid.region_names.index("WO3")
    np.testing.assert_allclose(plain[wo3] - vacancies[wo3], 2.0 * 1000.0)
    np.testing.assert_array_equal(plain[~wo3], vacancies[~wo3])


def test_bad_inputs(quick_mesh, grid):
    with pytest.raises(KeyError, match="unknown secondary ion"):
        intensity("Xe-", {}, grid)
    with pytest.raises(ValueError, match="shape"):
        intensity("Li-", {"c_li": np.zeros(5)}, grid)
    with pytest.raises(ValueError, match="non-finite"):
        intensity("Li-", {"c_li": np.full(quick_mesh.n_cells, np.nan)}, grid)
    with pytest.raises(KeyError, match="no region"):
        intensity("Li-", {}, grid, regions=("Au",))
    with pytest.raises(ValueError, match="pixels"):
        FieldOfView(pixels=1)


def test_depth_resolution_conserves_each_column(quick_mesh, grid):
    species = {"c_li": uniform(quick_mesh, {"WO3": 5000.0, "LiPON": 6.0e4})}
    sharp = intensity("Li-", species, grid, resolution=None).values
    blurred = intensity("Li-", species, grid, resolution=DepthResolution()).values
    np.testing.assert_allclose(blurred.sum(axis=2), sharp.sum(axis=2), rtol=1e-12, atol=1e-9)
    assert not np.array_equal(blurred, sharp)


def test_sputter_time(grid, device):
    time = sputter_time(grid)
    assert np.all(np.diff(time) > 0)
    pt = grid.depth < device.top_electrode.thickness
    np.testing.assert_allclose(np.diff(time[pt]), grid.depth_bin / SPUTTER_RATES["Pt"].value, rtol=1e-12)
    stack_time = sum(layer.thickness / SPUTTER_RATES[layer.material].value for layer in device.layers)
    stack = sum(layer.thickness for layer in device.layers)
    reached = np.interp(stack, grid.depth, time)
    assert reached == pytest.approx(stack_time, rel=0.01)
    with pytest.raises(KeyError, match="no sputter rate"):
        sputter_time(grid, {"Pt": 1e-10})


# ---------------------------------------------------------------------------------------------- files
def test_vti_round_trip(tmp_path, quick_mesh, grid):
    import pyvista as pv

    volumes = measure({"c_li": uniform(quick_mesh, {"LiPON": 6.0e4})}, grid, ("Li-", "Pt-"))
    paths = write_volumes(tmp_path, grid, volumes)
    assert set(paths) == {"Li-", "Pt-"}
    image = pv.read(paths["Li-"])
    assert isinstance(image, pv.ImageData)
    assert tuple(image.dimensions) == tuple(n + 1 for n in grid.shape)
    back = np.asarray(image.cell_data["Li-"]).reshape(grid.shape, order="F")[:, :, ::-1]
    np.testing.assert_allclose(back, volumes["Li-"].values)
    assert str(image.field_data["length_unit"][0]) == "m"
    assert str(image.field_data["intensity_unit"][0]) == "a.u."
    assert str(image.field_data["ion"][0]) == "Li-"
    assert image.bounds[5] == pytest.approx(0.0, abs=1e-15)  # top of the stack at z = 0
    assert image.bounds[4] == pytest.approx(-grid.shape[2] * grid.depth_bin)
    assert image.bounds[1] - image.bounds[0] == pytest.approx(300 * UM)


def test_netcdf_round_trip(tmp_path, quick_mesh, grid):
    import xarray as xr

    volumes = measure({"c_li": uniform(quick_mesh, {"LiPON": 6.0e4, "WO3": 5000.0})}, grid, ("Li-", "Pt-", "WO3-"))
    profiles = depth_profiles(grid, volumes)
    tofsims.write_depth_profiles(tmp_path / "profiles.nc", profiles)
    maps = depth_map(grid, volumes)
    tofsims.write_depth_map(tmp_path / "map.nc", maps)
    with xr.open_dataset(tmp_path / "profiles.nc") as back:
        assert back["depth"].attrs["units"] == "m"
        assert back["sputter_time"].attrs["units"] == "s"
        assert back["Li-"].attrs["units"] == "a.u."
        np.testing.assert_allclose(back["Li-"].values, profiles["Li-"].values)
        versus_time = back.swap_dims(depth="sputter_time")
        assert versus_time["Li-"].dims == ("sputter_time",)
    with xr.open_dataset(tmp_path / "map.nc") as back:
        assert back["WO3-"].dims == ("depth", "x")
        assert back["x"].attrs["units"] == "m" and back["depth"].attrs["units"] == "m"
        np.testing.assert_allclose(back["WO3-"].values, maps["WO3-"].values)
    # the centre-line map of an axisymmetric field is mirror symmetric
    np.testing.assert_allclose(maps["Li-"].values, maps["Li-"].values[:, ::-1])


def test_renders_produce_non_empty_pngs(tmp_path, quick_mesh, device):
    import matplotlib.image

    from femion import viz

    grid = voxelize(quick_mesh, device, FieldOfView(pixels=32, depth_bin=10 * NM))
    species = {"c_li": uniform(quick_mesh, {"LiPON": 6.0e4}), "Li2CO3": gaussian_excess(quick_mesh, "Pt", 500.0, 25 * UM)}
    volumes = measure(species, grid, STACK_IONS + ("CO3-", "Li-"))
    outputs = [
        viz.render_tofsims_layers(tmp_path / "layers.png", grid, {ion: volumes[ion] for ion in STACK_IONS},
                                  window_size=(400, 300)),
        viz.plot_depth_map(tmp_path / "map.png", depth_map(grid, volumes), "Li-", log_scale=True),
        viz.plot_depth_profiles(tmp_path / "profiles.png", depth_profiles(grid, volumes), versus="sputter_time"),
    ]
    for path in outputs:
        assert path.stat().st_size > 5000
        pixels = matplotlib.image.imread(path)
        assert pixels[..., :3].std() > 0.01, path  # not a blank image


@pytest.mark.slow
def test_ion_map_render(tmp_path, quick_mesh, device):
    from femion import viz

    grid = voxelize(quick_mesh, device, FieldOfView(pixels=32, depth_bin=10 * NM))
    species = {"Li2CO3": gaussian_excess(quick_mesh, "Pt", 500.0, 25 * UM)}
    volumes = measure(species, grid, ("CO3-", "OH-"))
    for panels in (True, False):
        path = viz.render_tofsims_ions(tmp_path / f"ions{panels}.png", grid, volumes, panels=panels, window_size=(600, 300))
        assert path.stat().st_size > 5000


# ---------------------------------------------------------------------------------------------- readouts
def test_readouts_of_a_uniform_stack(quick_mesh, grid):
    species = {"c_li": uniform(quick_mesh, {"WO3": 5000.0, "LiPON": 6.0e4, "MoO3": 4000.0})}
    volume = intensity("Li-", species, grid)
    assert lateral_uniformity(volume, grid, layer="LiPON") < 1e-12
    assert centre_edge_ratio(volume, grid, layer="WO3") == pytest.approx(1.0, rel=1e-12)
    window = (300 * NM, 700 * NM)
    assert lateral_uniformity(volume, grid, depth_range=window) < 1e-12


def test_readouts_of_a_gaussian_excess_under_the_electrode(quick_mesh, device):
    """Li excess c = 1000 + 4000 exp(−r²/2s²) in Pt: FWHM 2√(2 ln 2) s, centre/edge ratio as the analytic field."""
    width = 25 * UM
    grid = voxelize(quick_mesh, device, FieldOfView(pixels=128, depth=100 * NM))
    species = {"c_li": uniform(quick_mesh, {"Pt": 1000.0}) + gaussian_excess(quick_mesh, "Pt", 4000.0, width)}
    volume = intensity("Li-", species, grid)
    assert excess_fwhm(volume, grid, layer="Pt") == pytest.approx(2 * math.sqrt(2 * math.log(2)) * width, rel=0.05)
    radius = grid.radius
    field = 1000.0 + 4000.0 * np.exp(-0.5 * (radius / width) ** 2)
    centre = field[radius < 0.1 * device.electrode_radius].mean()
    edge = field[(radius >= 0.9 * device.electrode_radius) & (radius < device.electrode_radius)].mean()
    assert centre_edge_ratio(volume, grid, layer="Pt") == pytest.approx(centre / edge, rel=0.05)
    assert lateral_uniformity(volume, grid, layer="Pt") > 0.3
    with pytest.raises(ValueError, match="no positive excess"):
        excess_fwhm(intensity("Li-", {"c_li": uniform(quick_mesh, {"Pt": 1000.0})}, grid), grid, layer="Pt")


def test_interface_depths_and_widths(quick_mesh, device):
    """Flat stack: 50 % crossings at the true interface + the MRI median offset, 16–84 % widths = Hofmann's Δz."""
    dz = 0.25 * NM
    grid = voxelize(quick_mesh, device, FieldOfView(width=40 * UM, pixels=4, depth=1.15 * UM, depth_bin=dz))
    resolution = DepthResolution()
    volumes = measure({}, grid, STACK_IONS, resolution=resolution)
    profiles = depth_profiles(grid, volumes)
    readouts = interface_depths(profiles["depth"].values, {ion: profiles[ion].values for ion in STACK_IONS}, STACK_IONS)
    assert [(item.upper, item.lower) for item in readouts] == list(zip(STACK_IONS[:-1], STACK_IONS[1:]))
    true_depth = np.cumsum([layer.thickness for layer in reversed(device.layers)])[:-1]
    for item, depth in zip(readouts, true_depth):
        expected = depth + resolution.quantile(0.5, depth)
        assert item.depth == pytest.approx(expected, abs=0.2 * dz), (item, depth)
        assert item.width == pytest.approx(resolution.step_width(depth), abs=0.5 * dz), item
    assert readouts[0].width < readouts[-1].width  # roughness grows with depth


@pytest.mark.slow
def test_synthesize_mode_writes_the_panels_and_reads_the_products(tmp_path, quick_mesh, device):
    """One state's Fig. 4 column: panel files exist, and a Gaussian product excess in Pt reads centre > edge."""
    from femion.tofsims import FIG4_PANELS, synthesize_mode

    grid = voxelize(quick_mesh, device, FieldOfView(pixels=24, depth_bin=20 * NM))
    species = {"c_li": uniform(quick_mesh, {"LiPON": 6.0e4}), "Li2CO3": gaussian_excess(quick_mesh, "Pt", 500.0, 25 * UM)}
    panels, readouts, volumes = synthesize_mode("power", grid, device, species, tmp_path)
    assert sorted(panels) == sorted(FIG4_PANELS["power"].values())
    for panel in panels.values():
        assert (tmp_path / panel["file"]).stat().st_size > 5000
    products = readouts["product_ions_in_Pt_power"]
    assert products["centre"]["CO3-"] > 2.0 * products["edge"]["CO3-"] > 0.0
    assert (tmp_path / "depth_map_power.nc").is_file() and (tmp_path / "tofsims" / "power_CO3-.vti").is_file()
