"""Device meshes: named groups, exact r-weighted volumes, same cells in FiPy and scikit-fem."""

from __future__ import annotations

import numpy as np
import pytest

import femion
from femion import fvm
from femion.geometry import BOUNDARY_NAMES, gmsh_session
from femion.mesh import MeshError, read_mesh

REQUIRED_BOUNDARIES = {"axis", "outer", "top_contact", "bottom_contact", "air_surface"}
INTERFACES = {"Pt|WO3", "WO3|LiPON", "LiPON|MoO3", "MoO3|ITO", "ITO|substrate"}


def test_groups(mesh):
    assert set(mesh.region_names) == {"Pt", "WO3", "LiPON", "MoO3", "ITO", "substrate"}
    assert REQUIRED_BOUNDARIES | INTERFACES | set(BOUNDARY_NAMES) <= set(mesh.boundaries)


def test_exterior_boundary_is_covered_exactly_once(mesh):
    exterior = mesh.face_cells[:, 1] < 0
    groups = ["axis", "outer", "top_contact", "electrode_side", "air_surface", "substrate_bottom"]
    counts = sum(mesh.face_mask(name).astype(int) for name in groups)
    np.testing.assert_array_equal(counts, exterior.astype(int))


def test_r_weighted_region_volumes_are_exact(mesh, device):
    for layer in (device.substrate, *device.layers):
        radius = device.electrode_radius if layer is device.top_electrode else device.film_radius
        exact = 0.5 * radius**2 * layer.thickness  # ∫∫ r dr dz per radian
        numeric = mesh.r_volumes[mesh.region_mask(layer.name)].sum()
        assert numeric == pytest.approx(exact, rel=1e-12), layer.name


def test_r_weighted_interface_areas_are_exact(mesh, device):
    areas = mesh.r_face_areas
    assert areas[mesh.face_mask("Pt|WO3")].sum() == pytest.approx(0.5 * device.electrode_radius**2, rel=1e-12)
    assert areas[mesh.face_mask("WO3|LiPON")].sum() == pytest.approx(0.5 * device.film_radius**2, rel=1e-12)


def test_mesh_line_at_electrode_edge(mesh, device):
    assert np.any(np.isclose(mesh.nodes[:, 0], device.electrode_radius, rtol=0, atol=1e-12))
    edges = mesh.nodes[mesh.boundaries["electrode_side"]]
    np.testing.assert_allclose(edges[..., 0], device.electrode_radius, rtol=1e-12)


def test_fipy_and_skfem_share_cells(mesh):
    fipy_centres = np.asarray(mesh.fipy.cellCenters.value).T
    skfem_mesh = mesh.skfem
    skfem_centres = skfem_mesh.p[:, skfem_mesh.t].mean(axis=1).T
    np.testing.assert_allclose(fipy_centres, mesh.cell_centroids, rtol=0, atol=1e-9 * mesh.nodes.max())
    np.testing.assert_allclose(skfem_centres, mesh.cell_centroids, rtol=0, atol=1e-9 * mesh.nodes.max())
    for name in mesh.region_names:
        np.testing.assert_array_equal(skfem_mesh.subdomains[name], np.flatnonzero(mesh.region_mask(name)))
    facets = skfem_mesh.facets[:, skfem_mesh.boundaries["WO3|LiPON"]].T
    assert set(map(tuple, np.sort(facets, axis=1))) == set(map(tuple, np.sort(mesh.boundaries["WO3|LiPON"], axis=1)))


def test_coefficient_weighting_keeps_gradients_right(quick_mesh):
    r = fvm.cell_variable(quick_mesh, quick_mesh.r_cell)
    interior = quick_mesh.cell_faces.min(axis=1) >= 0
    gradient = np.asarray(r.grad.value)
    # Away from the boundary rows, grad(r) = (1, 0); scaling the cell volumes by r instead gives 2.
    inner = np.flatnonzero(np.all(quick_mesh.face_cells[quick_mesh.cell_faces, 1] >= 0, axis=1) & interior)
    np.testing.assert_allclose(gradient[0, inner], 1.0, rtol=1e-6)
    np.testing.assert_allclose(gradient[1, inner], 0.0, atol=1e-6)


def test_submesh_turns_interfaces_into_boundaries(mesh):
    films = mesh.submesh(("WO3", "LiPON"))
    assert films.n_cells == mesh.region_mask("WO3", "LiPON").sum()
    exterior = films.face_cells[films.face_mask("Pt|WO3", "LiPON|MoO3"), 1]
    assert np.all(exterior < 0)
    np.testing.assert_allclose(films.cell_centroids, mesh.cell_centroids[films.parent_cells], rtol=0, atol=0)


def test_reference_mesh_is_orthogonal(mesh):
    assert mesh.nonorthogonality() < 1e-2


def test_round_trip_through_msh_file(tmp_path, device, quick_mesh):
    path = tmp_path / "device.msh"
    built = femion.build_mesh(device, path, settings=femion.QUICK_MESH)
    read = read_mesh(path, device)
    np.testing.assert_array_equal(read.cells, built.cells)
    np.testing.assert_allclose(read.nodes, built.nodes, rtol=0, atol=1e-18)
    assert set(read.boundaries) == set(built.boundaries)


def test_missing_mesh_file(tmp_path):
    with pytest.raises(MeshError, match="not found"):
        read_mesh(tmp_path / "missing.msh")


def test_unreadable_mesh_file(tmp_path):
    path = tmp_path / "garbage.msh"
    path.write_text("this is not a mesh\n")
    with pytest.raises(MeshError, match="garbage.msh"):
        read_mesh(path)


def _write_gmsh(path, build):
    import gmsh

    with gmsh_session():
        gmsh.model.add("test")
        build(gmsh)
        gmsh.write(str(path))
        gmsh.model.remove()


def _one_region_rectangle(width: float, height: float):
    """A gmsh builder of one quadrilateral-meshed rectangle, region 'WO3' only (no boundary groups)."""

    def build(gmsh):
        surface = gmsh.model.occ.addRectangle(0, 0, 0, width, height)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [surface], name="WO3")
        gmsh.option.setNumber("Mesh.RecombineAll", 1)
        gmsh.model.mesh.setTransfiniteAutomatic()
        gmsh.model.mesh.generate(2)

    return build


def test_mesh_without_required_groups(tmp_path, device):
    path = tmp_path / "square.msh"
    _write_gmsh(path, _one_region_rectangle(1, 1))
    with pytest.raises(MeshError, match="lacks required physical groups: region 'substrate'.*boundary 'axis'"):
        read_mesh(path, device)


def test_triangle_mesh_is_refused(tmp_path):
    def triangles(gmsh):
        surface = gmsh.model.occ.addRectangle(0, 0, 0, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [surface], name="WO3")
        gmsh.model.mesh.generate(2)

    path = tmp_path / "triangles.msh"
    _write_gmsh(path, triangles)
    with pytest.raises(MeshError, match="Triangle.*quadrilaterals"):
        read_mesh(path)


def test_3d_mesh_is_refused(tmp_path):
    def box(gmsh):
        volume = gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(3, [volume], name="block")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
        gmsh.model.mesh.generate(3)

    path = tmp_path / "box.msh"
    _write_gmsh(path, box)
    with pytest.raises(MeshError, match="3D mesh"):
        read_mesh(path)


def test_skewed_mesh_is_refused():
    nodes = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.9, 1.0], [2.0, 1.0]]) * 1e-6
    cells = np.array([[0, 1, 4, 3], [1, 2, 5, 4]])
    skewed = femion.AxisymmetricMesh(nodes, cells, np.zeros(2, int), ("WO3",), {}, source="skewed")
    assert skewed.nonorthogonality() > 30
    with pytest.raises(MeshError, match="non-orthogonality"):
        skewed.fipy


def test_mesh_written_in_metres_is_refused(tmp_path):
    """The reference device's 150 um x 21 um section written in metres would read as 1e-6 times too small."""

    path = tmp_path / "metres.msh"
    _write_gmsh(path, _one_region_rectangle(150e-6, 21.1e-6))
    with pytest.raises(MeshError, match=r"metres\.msh: mesh extent 0\.00015 x 2\.11e-05 .*implausible for micrometres") as error:
        read_mesh(path)
    assert "\n" not in str(error.value)


# Nano-resolved axis (MeshSettings.axis_cell): graded core column [0, axis_core].
NANO_AXIS = femion.MeshSettings(refinement=0.3, axis_cell=2e-9, axis_core=1e-6)


@pytest.fixture(scope="module")
def nano_mesh(device):
    return femion.build_mesh(device, settings=NANO_AXIS)


def _radial_widths(mesh):
    """Radial width [m] and centre r [m] of the cells of the lowest LiPON row, sorted by r."""
    widths = np.ptp(mesh.nodes[mesh.cells][..., 0], axis=1)
    lipon = mesh.region_mask("LiPON")
    z = mesh.cell_centroids[:, 1]
    row = np.flatnonzero(lipon & np.isclose(z, z[lipon].min()))
    order = np.argsort(mesh.r_cell[row])
    return widths[row][order], mesh.r_cell[row][order]


def test_nano_axis_cells(nano_mesh):
    widths, radii = _radial_widths(nano_mesh)
    assert widths[0] == pytest.approx(NANO_AXIS.axis_cell, rel=1e-5)  # gmsh works in µm: round-off ~1e-15 µm
    core = radii < NANO_AXIS.axis_core
    ratios = widths[1:] / widths[:-1]
    assert np.all(ratios[core[1:]] <= NANO_AXIS.axis_growth * (1 + 1e-6))  # smooth core, matched at r_core
    assert widths[core].sum() == pytest.approx(NANO_AXIS.axis_core, rel=1e-9)
    assert np.all(radii[:5] < 2e-8)  # five cells inside the first 20 nm


def test_nano_axis_keeps_names_volumes_and_orthogonality(nano_mesh, quick_mesh, device):
    assert set(nano_mesh.region_names) == set(quick_mesh.region_names)
    assert set(nano_mesh.boundaries) == set(quick_mesh.boundaries)
    for layer in (device.substrate, *device.layers):
        radius = device.electrode_radius if layer is device.top_electrode else device.film_radius
        exact = 0.5 * radius**2 * layer.thickness
        assert nano_mesh.r_volumes[nano_mesh.region_mask(layer.name)].sum() == pytest.approx(exact, rel=1e-12), layer.name
    exterior = nano_mesh.face_cells[:, 1] < 0
    groups = ["axis", "outer", "top_contact", "electrode_side", "air_surface", "substrate_bottom"]
    np.testing.assert_array_equal(sum(nano_mesh.face_mask(name).astype(int) for name in groups), exterior.astype(int))
    assert nano_mesh.nonorthogonality() < 1e-2
    assert nano_mesh.n_cells == NANO_AXIS.estimated_cells(device)


def test_nano_axis_is_off_by_default(device):
    radii, laws = femion.MeshSettings().radial_distribution(device)
    assert radii == [0.0, 0.5 * device.electrode_radius, device.electrode_radius, device.film_radius]
    assert [cells for cells, _ in laws] == list(femion.MeshSettings().radial_cells)


@pytest.mark.parametrize("kwargs", [dict(axis_cell=0.0), dict(axis_cell=2e-9, axis_growth=1.0), dict(axis_cell=2e-6, axis_core=1e-6)])
def test_bad_nano_axis_settings(kwargs):
    with pytest.raises(ValueError, match="MeshSettings: axis_cell"):
        femion.MeshSettings(**kwargs)


def test_nano_axis_core_too_wide(device):
    with pytest.raises(ValueError, match="axis_core"):
        femion.MeshSettings(axis_cell=2e-9, axis_core=0.5 * device.electrode_radius).radial_distribution(device)


def _blister(height: float, width: float):
    """A Gaussian lift on the axis [m] (the power mode's electrode blister, in shape)."""
    return lambda r: height * np.exp(-((np.asarray(r, dtype=float) / width) ** 2))


def test_settings_for_profile_keeps_settings_for_a_gentle_lift(device):
    profile = _blister(2e-9, 20e-6)
    assert femion.mesh.settings_for_profile(device, femion.QUICK_MESH, profile) is femion.QUICK_MESH


def test_settings_for_profile_resolves_a_steep_axial_blister(device):
    """A 0.5 µm blister of 2 µm width: refused on the default µm axis cells, accepted on a graded axis column.

    Vertical node moves tilt the faces by the interface slope itself, at most 0.5 µm sqrt(2/e) / 2 µm = 0.21 (11.9°),
    so the resolved mesh cannot go much below that (its nodes sample the slope); it must stay within 1° of it.
    """
    profile = _blister(0.5e-6, 2e-6)
    default = femion.build_mesh(device, settings=femion.QUICK_MESH, interface_profile=profile)
    assert default.nonorthogonality() > femion.mesh.MAX_NONORTHOGONALITY_DEG
    settings = femion.mesh.settings_for_profile(device, femion.QUICK_MESH, profile)
    assert settings.axis_cell is not None and settings.axis_core > 2e-6
    resolved = femion.build_mesh(device, settings=settings, interface_profile=profile)
    slope = np.degrees(np.arctan(0.5e-6 * np.sqrt(2.0 / np.e) / 2e-6))
    assert slope - 0.5 <= resolved.nonorthogonality() <= slope + 1.0  # nodes sample the slope
    assert resolved.n_cells == femion.build_mesh(device, settings=settings).n_cells  # flat twin: same numbering


def test_settings_for_profile_resolves_a_wide_micrometre_blister(device):
    """A 4 µm clamped-plate blister w = h (1 - (r/a)^2)^2 of radius a = 45 µm (the calibrated set's power-mode blister,
    in size): its foot lies beyond any axis column, so the first radial column is made uniform; the faces then keep only
    the interface tilt, at most 8 h / (3 sqrt(3) a) = 1.54 h / a = 0.137 (7.8°)."""
    h, a = 4e-6, 45e-6
    profile = lambda r: h * np.clip(1.0 - (np.asarray(r, dtype=float) / a) ** 2, 0.0, None) ** 2
    settings = femion.mesh.settings_for_profile(device, femion.QUICK_MESH, profile)
    assert settings.axis_cell is None and settings.radial_size_ratios[0] == 1.0
    resolved = femion.build_mesh(device, settings=settings, interface_profile=profile)
    slope = np.degrees(np.arctan(8.0 * h / (3.0 * np.sqrt(3.0) * a)))
    assert slope - 0.5 <= resolved.nonorthogonality() <= slope + 1.0
    assert resolved.n_cells == femion.build_mesh(device, settings=settings).n_cells  # flat twin: same numbering


def test_settings_for_profile_refuses_a_profile_no_axis_column_resolves(device):
    """A 0.5 µm step at R_e/4 is no axial blister: the error names the lift and what was tried."""
    step = lambda r: np.where(np.asarray(r) < 0.25 * device.electrode_radius, 0.5e-6, 0.0)
    with pytest.raises(MeshError, match="non-orthogonal whatever the axis column"):
        femion.mesh.settings_for_profile(device, femion.QUICK_MESH, step)
