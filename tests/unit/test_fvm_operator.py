"""femion.fvm.TwoPointOperator and solve_sparse against FiPy's own assembly of the same terms."""

import numpy as np
import pytest

import femion
from femion import fvm


@pytest.fixture(scope="module")
def stack():
    device = femion.load_device()
    mesh = femion.build_mesh(device, settings=femion.MeshSettings(refinement=0.3))
    from femion.physics.electrostatics import conduction_regions, electrode_interface

    return device, mesh.submesh(conduction_regions(device)), electrode_interface(device)


def test_diffusion_matrix_and_solution_match_fipy(stack):
    device, mesh, electrode = stack
    rng = np.random.default_rng(1)
    coefficient = 10.0 ** rng.uniform(-6, 2, mesh.n_cells)
    dirichlet = mesh.face_mask(electrode, "bottom_contact")
    boundary = np.where(mesh.face_mask(electrode), 0.7, 0.0)
    face = fvm.face_values_harmonic(mesh, coefficient)
    phi = fvm.cell_variable(mesh, 0.0)
    phi.constrain(0.7, where=mesh.face_mask(electrode))
    phi.constrain(0.0, where=mesh.face_mask("bottom_contact"))
    equation = fvm.diffusion_term(mesh, face) == 0
    equation.cacheMatrix()
    equation.solve(var=phi)
    fipy_matrix = equation.matrix.matrix.toarray()
    operator = fvm.TwoPointOperator(mesh, dirichlet)
    matrix = operator.assemble(face)
    assert np.max(np.abs(matrix.toarray() + fipy_matrix)) < 1e-12 * np.max(np.abs(fipy_matrix))
    solution = fvm.solve_sparse(matrix, operator.dirichlet_rhs(boundary, face))
    assert np.max(np.abs(solution - phi.value)) < 1e-9 * 0.7  # coefficient contrast 1e8: conditioning, not assembly
    # Interior rows conserve: the net outflow of a constant field is zero away from Dirichlet faces.
    touching = np.unique(mesh.face_cells[dirichlet, 0])
    rows = np.setdiff1d(np.arange(mesh.n_cells), touching)
    assert np.max(np.abs((matrix @ np.ones(mesh.n_cells))[rows])) < 1e-12 * np.max(np.abs(matrix.diagonal()))


def test_asymmetric_weights_give_the_flux_balance(stack):
    _, mesh, _ = stack
    operator = fvm.TwoPointOperator(mesh)
    n_faces = len(mesh.faces)
    owner, neighbour = np.full(n_faces, 2.0), np.full(n_faces, 0.5)
    matrix = operator.assemble(owner, neighbour, diagonal=1.0)
    # Column sums of the flux part vanish (what leaves one cell enters its neighbour): 1ᵀK = diagonal.
    assert np.allclose(np.asarray(matrix.sum(axis=0)).ravel(), 1.0, rtol=0, atol=1e-12 * abs(matrix).max())
    # Built directly in CSC (what SuperLU factorises): the same matrix, entry for entry.
    csc = operator.assemble(owner, neighbour, diagonal=1.0, format="csc")
    assert csc.format == "csc"
    assert abs(csc - matrix).max() == 0.0
    with pytest.raises(ValueError, match="format"):
        operator.assemble(owner, format="coo")


def test_several_right_hand_sides_and_refinement(stack):
    device, mesh, electrode = stack
    rng = np.random.default_rng(2)
    coefficient = 10.0 ** rng.uniform(-8, 2, mesh.n_cells)  # the stack's conductivity contrast
    dirichlet = mesh.face_mask(electrode, "bottom_contact")
    face = fvm.face_values_harmonic(mesh, coefficient)
    operator = fvm.TwoPointOperator(mesh, dirichlet)
    matrix = operator.assemble(face)
    rhs = np.column_stack([operator.dirichlet_rhs(np.where(mesh.face_mask(electrode), 1.0, 0.0), face), rng.normal(size=mesh.n_cells)])
    both = fvm.solve_sparse(matrix, rhs)
    for k in range(2):
        np.testing.assert_allclose(both[:, k], fvm.solve_sparse(matrix, rhs[:, k]), rtol=1e-12, atol=0)
    # refinement with the same factors: the residual does not grow, and one step is what a second
    # factorisation of the same matrix gave (bit for bit: SuperLU is deterministic)
    plain = fvm.solve_sparse(matrix, rhs[:, 0])
    refined = fvm.solve_sparse(matrix, rhs[:, 0], refinement_steps=1)
    np.testing.assert_array_equal(refined, plain + fvm.solve_sparse(matrix, rhs[:, 0] - matrix @ plain))
    assert np.linalg.norm(rhs[:, 0] - matrix @ refined) <= np.linalg.norm(rhs[:, 0] - matrix @ plain)
    with pytest.raises(ValueError, match="one right-hand side"):
        fvm.solve_sparse(matrix, rhs, method="amg")


def test_bad_input_is_named(stack):
    _, mesh, _ = stack
    with pytest.raises(ValueError, match="shape"):
        fvm.TwoPointOperator(mesh, np.zeros(3, dtype=bool))
    interior = mesh.face_cells[:, 1] >= 0
    with pytest.raises(ValueError, match="exterior"):
        fvm.TwoPointOperator(mesh, interior)
    with pytest.raises(ValueError, match="unknown method"):
        fvm.solve_sparse(fvm.TwoPointOperator(mesh).assemble(1.0, diagonal=1.0), np.ones(mesh.n_cells), method="magic")


def test_banded_cholesky_solves_what_superlu_solves(stack, monkeypatch):
    device, mesh, electrode = stack
    rng = np.random.default_rng(3)
    coefficient = 10.0 ** rng.uniform(-8, 2, mesh.n_cells)  # the stack's conductivity contrast
    dirichlet = mesh.face_mask(electrode, "bottom_contact")
    face = fvm.face_values_harmonic(mesh, coefficient)
    diagonal = mesh.r_volumes * rng.uniform(0.0, 1e3, mesh.n_cells)
    rhs = rng.normal(size=(mesh.n_cells, 2))
    operator = fvm.TwoPointOperator(mesh, dirichlet)
    reference = fvm.solve_sparse(operator.assemble(face, diagonal=diagonal), rhs)
    banded = operator.factorized(face, diagonal=diagonal)
    order, width = operator._band.order, operator._band.width  # RCM makes the band a few cells across the stack
    assert sorted(order) == list(range(mesh.n_cells)) and width < 0.05 * mesh.n_cells and width <= fvm.BANDED_CHOLESKY_MAX_BANDWIDTH
    scale = np.max(np.abs(reference))
    assert np.max(np.abs(banded(rhs) - reference)) < 1e-9 * scale
    assert np.max(np.abs(banded(rhs[:, 1]) - reference[:, 1])) < 1e-9 * scale
    # an indefinite matrix (negative diagonal) is not Cholesky's: SuperLU solves it
    indefinite = -5.0 * operator.assemble(face).diagonal()
    expected = fvm.solve_sparse(operator.assemble(face, diagonal=indefinite), rhs[:, 0])
    np.testing.assert_allclose(operator.factorized(face, diagonal=indefinite)(rhs[:, 0]), expected, rtol=1e-9, atol=1e-12 * np.max(np.abs(expected)))
    # a band wider than the limit goes to SuperLU as well
    calls = []
    superlu = fvm.factorized
    monkeypatch.setattr(fvm, "factorized", lambda matrix: calls.append(matrix) or superlu(matrix))
    monkeypatch.setattr(fvm, "BANDED_CHOLESKY_MAX_BANDWIDTH", width - 1)
    wide = fvm.TwoPointOperator(mesh, dirichlet)
    assert np.max(np.abs(wide.factorized(face, diagonal=diagonal)(rhs) - reference)) < 1e-12 * scale
    assert len(calls) == 1


def test_banded_lu_solves_drift_diffusion(stack, monkeypatch):
    _, mesh, _ = stack
    rng = np.random.default_rng(4)
    n_faces = len(mesh.faces)
    peclet = rng.uniform(-30.0, 30.0, n_faces)  # strong drift both ways: Scharfetter-Gummel weights
    from femion.physics.lithium import bernoulli

    diffusivity = 10.0 ** rng.uniform(-16, -12, n_faces)
    owner, neighbour = diffusivity * bernoulli(peclet), diffusivity * bernoulli(-peclet)
    storage = mesh.r_volumes / 1e-3
    operator = fvm.TwoPointOperator(mesh)
    rhs = rng.uniform(0.0, 1.0, (mesh.n_cells, 2)) * storage[:, None]
    reference = fvm.solve_sparse(operator.assemble(owner, neighbour, diagonal=storage), rhs)
    solve = operator.factorized(owner, neighbour, diagonal=storage)
    width = operator._band.width
    assert width <= fvm.BANDED_LU_MAX_BANDWIDTH  # the banded path was taken
    scale = np.max(np.abs(reference))
    assert np.max(np.abs(solve(rhs) - reference)) < 1e-12 * scale
    assert np.max(np.abs(solve(rhs[:, 0]) - reference[:, 0])) < 1e-12 * scale
    calls = []
    superlu = fvm.factorized
    monkeypatch.setattr(fvm, "factorized", lambda matrix: calls.append(matrix) or superlu(matrix))
    monkeypatch.setattr(fvm, "BANDED_LU_MAX_BANDWIDTH", width - 1)
    assert np.max(np.abs(operator.factorized(owner, neighbour, diagonal=storage)(rhs) - reference)) < 1e-12 * scale
    assert len(calls) == 1


def test_layerwise_gradient_ignores_jumps_between_regions(stack):
    """u = s_k z + j_k in region k (a slope and an offset per layer): each region's cells recover s_k exactly.

    The offsets make u jump across every region interface, as the electrolyte potential does across a double
    layer; the gradient of a cell next to the jump must still be its own layer's slope, not the jump over a
    cell width (a cell of a one-cell-thick region, which cannot know its slope, gets zero).
    """
    device, mesh, electrode = stack
    z = mesh.cell_centroids[:, 1]
    slopes = np.array([1.0e6, -3.0e5, 2.0e7, 4.0e6, 5.0e5])[: len(mesh.region_names)]
    offsets = np.array([0.0, 2.5, -1.0, 0.7, 3.0])[: len(mesh.region_names)]
    u = slopes[mesh.cell_regions] * z + offsets[mesh.cell_regions]
    gradient = fvm.layerwise_gradient(mesh, u)
    owner, neighbour = mesh.face_cells[:, 0], mesh.face_cells[:, 1]
    interior = neighbour >= 0
    same = interior & (mesh.cell_regions[owner] == mesh.cell_regions[np.where(interior, neighbour, 0)])
    known = np.zeros(mesh.n_cells, dtype=bool)
    known[owner[same]] = known[neighbour[same]] = True
    assert known.sum() > 0.5 * mesh.n_cells
    np.testing.assert_allclose(gradient[known, 1], slopes[mesh.cell_regions[known]], rtol=1e-8)
    np.testing.assert_allclose(gradient[known, 0], 0.0, atol=1e-8 * np.max(np.abs(slopes)))
    np.testing.assert_array_equal(gradient[~known], 0.0)
    # One region: the same as the unit-coefficient Green-Gauss of flux_gradient for a linear field.
    flat = fvm.layerwise_gradient(mesh, 2.0e6 * z + 0.0 * z)
    np.testing.assert_allclose(flat[known, 1], 2.0e6, rtol=1e-8)
