"""Host Li transport as a lattice gas, against analytic references (femion.physics.lithium).

The host flux is J = −D c (1 − θ) ∇(μ/RT) with μ of the regular-solution
open-circuit potential, so D_chem(θ) = D[1 + 2(Ω/RT)θ(1 − θ)]
(:class:`femion.physics.lithium.LithiumTransport`). Checked here:

* the ideal lattice gas (Ω = 0) is Fickian with D at any θ (Fourier series of a
  slab), where the former law's D/(1 − θ) would run from 1.1 D to 10 D;
* a diffusion-limited linear sweep into a semi-infinite host gives the
  classical reversible voltammogram (Randles–Ševčík peak, Nicholson–Shain);
* with the interaction on, D_chem(θ₀) is D(1 − θ₀) times the thermodynamic
  factor of the open-circuit potential in use.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, optimize

from femion.constants import FARADAY, GAS_CONSTANT
from femion.mesh import AxisymmetricMesh
from femion.physics.lithium import (
    LithiumProperties,
    LithiumTransport,
    open_circuit_potential,
    surface_step_current,
)

TEMPERATURE = 300.0
F_RT = FARADAY / (GAS_CONSTANT * TEMPERATURE)
DIFFUSIVITY = 1e-14  # m²/s, WO3-like
SITES = 28037.0  # mol/m³, WO3's c_max
STANDARD_POTENTIAL = 2.8  # V vs Li/Li⁺


def column(z_nodes: np.ndarray, radius: tuple[float, float] = (1e-6, 1.1e-6)) -> AxisymmetricMesh:
    """One cell across in r, cells between ``z_nodes`` [m]: a 1-D host with boundaries "surface" (z = 0) and "back"."""
    r, z = np.asarray(radius, dtype=float), np.asarray(z_nodes, dtype=float)
    rr, zz = np.meshgrid(r, z, indexing="ij")
    index = np.arange(rr.size).reshape(rr.shape)
    cells = np.column_stack([index[:-1, :-1].ravel(), index[1:, :-1].ravel(), index[1:, 1:].ravel(), index[:-1, 1:].ravel()])
    boundaries = {"surface": np.column_stack([index[:-1, 0], index[1:, 0]]), "back": np.column_stack([index[:-1, -1], index[1:, -1]])}
    return AxisymmetricMesh(np.column_stack([rr.ravel(), zz.ravel()]), cells, np.zeros(len(cells), dtype=int), ("WO3",), boundaries, source="column")


def host(mesh: AxisymmetricMesh, theta: np.ndarray, interaction_rt: float = 0.0) -> LithiumTransport:
    """A uniform host (D, c_max, ψ = 0, Ω = interaction_rt · RT) holding occupancy ``theta``."""
    n = mesh.n_cells
    properties = LithiumProperties(
        np.full(n, DIFFUSIVITY), np.full(n, SITES), np.zeros(n), TEMPERATURE, np.full(n, interaction_rt * GAS_CONSTANT * TEMPERATURE)
    )
    return LithiumTransport(mesh, properties, SITES * np.asarray(theta, dtype=float))


def centres(mesh: AxisymmetricMesh) -> np.ndarray:
    return mesh.cell_centroids[:, 1]


# ----------------------------------------------------------------------------- (a) Fickian ideal lattice gas
def test_ideal_lattice_gas_slab_is_fickian_with_d():
    """θ = 0.9 | 0.1 step in a blocked slab of thickness L relaxes as the Fourier series with D itself.

    θ(z, t) = 1/2 + Σ_n (0.8/(nπ)) sin(nπ/2) · 2 cos(nπz/L) e^{−(nπ/L)² D t}. The
    former law's chemical diffusivity D/(1 − θ) ran from 1.1 D at θ = 0.1 to
    10 D at θ = 0.9 across this profile. Both host paths
    are checked: the Scharfetter–Gummel step with the logarithmic-mean
    mobility, and the Kirchhoff-form step the device model uses, which must
    agree to round-off for Ω = 0.
    """
    thickness, n_cells, steps = 100e-9, 100, 400
    mesh = column(np.linspace(0.0, thickness, n_cells + 1))
    z = centres(mesh)
    theta0 = np.where(z < thickness / 2, 0.9, 0.1)
    t_end = 0.02 * thickness**2 / DIFFUSIVITY
    dt = t_end / steps
    general, device = host(mesh, theta0), host(mesh, theta0)
    zero = np.zeros(mesh.n_cells)
    for _ in range(steps):
        report = general.step(zero, dt, tolerance=1e-13)
        assert report.converged
        device._restore(device.frozen_step(dt)(zero))
    n = np.arange(1, 4001)[:, None]
    k = n * np.pi / thickness
    exact = 0.5 + np.sum(1.6 / (n * np.pi) * np.sin(n * np.pi / 2) * np.cos(k * z) * np.exp(-(k**2) * DIFFUSIVITY * t_end), axis=0)
    theta = general.occupancy()
    assert np.max(np.abs(theta - exact)) < 5e-4  # O(h²) + O(dt) at 100 cells, 400 steps (measured 2.0e-4)
    np.testing.assert_allclose(device.occupancy(), theta, rtol=0, atol=1e-12)
    # the mass stays where Fick puts it: the full half keeps 1/2 + Σ… of its excess, not the faster law's
    assert np.mean(theta[z < thickness / 2]) == pytest.approx(np.mean(exact[z < thickness / 2]), rel=2e-4)


# ----------------------------------------------------------------------------- (b) reversible voltammogram
def reversible_current(x: float) -> float:
    """Classical reversible linear-sweep current ψ(x) = F_{−3/2}(x), x = −F(E − E_1/2)/RT (cathodic sweep).

    With Nernst at the surface and equal diffusivities of the two forms, the
    surface concentration is C*·e^x/(1 + e^x) and the current is its
    semi-derivative in σt (σ = Fv/RT): ψ = i/(F C* √(σD)) = d^{1/2}/dx^{1/2}
    [1/(1 + e^{−x})] = F_{−3/2}(x), the complete Fermi–Dirac integral
    −Li_{−1/2}(−eˣ) (Nicholson & Shain, Anal. Chem. 36, 706 (1964), whose
    tabulated π^{1/2}χ it is; Bard & Faulkner, *Electrochemical Methods*, 2nd
    ed., 2001, Sec. 6.2.1). Evaluated as (2/√π)∫₀^∞ ¼ sech²((s² − x)/2) ds.
    """
    value, _ = integrate.quad(
        lambda s: 0.25 / np.cosh(min(0.5 * (s * s - x), 350.0)) ** 2, 0.0, np.inf, epsabs=1e-13, epsrel=1e-12, limit=200
    )
    return 2.0 / np.sqrt(np.pi) * value


def reversible_peak() -> tuple[float, float]:
    """(x_p, ψ_p) of :func:`reversible_current`: dψ/dx = F_{−5/2}(x) = 0, with F_{−5/2} = (2/√π)∫ ¼ sech² u tanh u ds."""

    def slope(x: float) -> float:
        value, _ = integrate.quad(
            lambda s: 0.25 * np.tanh(0.5 * (s * s - x)) / np.cosh(min(0.5 * (s * s - x), 350.0)) ** 2,
            0.0, np.inf, epsabs=1e-12, epsrel=0.0, limit=200,
        )
        return value

    x_p = optimize.brentq(slope, 0.5, 2.0, xtol=1e-13)
    return x_p, reversible_current(x_p)


def graded_host(smallest: float, growth: float, thickness: float) -> AxisymmetricMesh:
    """Column with cells growing geometrically by ``growth`` from ``smallest`` [m] at the surface to ``thickness`` [m]."""
    sizes = smallest * growth ** np.arange(int(np.ceil(np.log1p(thickness * (growth - 1) / smallest) / np.log(growth))) + 1)
    return column(np.concatenate([[0.0], np.cumsum(sizes)]))


def linear_sweep(mesh: AxisymmetricMesh, rate: float, dx: float, start: float = 12.0, end: float = 4.0):
    """Insertion sweep E = E_i − v t into ``mesh`` through its "surface", fast Butler–Volmer kinetics.

    The host starts in equilibrium with E_i = U° + start·RT/F (θ_b = 1/(1 + e^start));
    each implicit step takes femion's host step (:meth:`LithiumTransport.frozen_step`)
    and its response to the interface current, and the closed-form
    Butler–Volmer step of the surface cell (:func:`surface_step_current`,
    i₀,ref = 10⁶ A/m²: Λ = k⁰/√(DFv/RT) ≫ 15, reversible) — the device
    model's interface law on a 1-D host. Returns x = −F(E − U°)/RT and
    ψ = −i/(F c_max √(D F v/RT)) at the end of every step of Δx = ``dx``.
    """
    n = mesh.n_cells
    transport = host(mesh, np.full(n, 1.0 / (1.0 + np.exp(start))))
    faces = np.flatnonzero(mesh.face_mask("surface"))
    cell = mesh.face_cells[faces, 0]
    unit = np.zeros(n)  # 1 A/m² leaving the host through the surface
    unit[cell] = -mesh.face_lengths[faces] * mesh.r_face[faces] / (FARADAY * mesh.r_volumes[cell])
    dt = dx / (F_RT * rate)
    steps = int(round((start + end) / dx))
    x = -start + dx * np.arange(1, steps + 1)
    psi = np.empty(steps)
    for k in range(steps):
        step = transport.frozen_step(dt)
        free, loaded = step(np.column_stack([np.zeros(n), unit]))[cell].T
        theta, response = free / SITES, (free - loaded) / SITES
        current, _, _ = surface_step_current(
            STANDARD_POTENTIAL - x[k] / F_RT, theta, dt / response, dt, STANDARD_POTENTIAL, 0.0, 1e6, 0.5, TEMPERATURE
        )
        transport._restore(step(current[0] * unit))
        psi[k] = -current[0] / (FARADAY * SITES * np.sqrt(DIFFUSIVITY * F_RT * rate))
    return x, psi


def peak(x: np.ndarray, psi: np.ndarray) -> tuple[float, float]:
    """(x_p, ψ_p) by the parabola through the largest sample and its neighbours."""
    j = int(np.argmax(psi))
    a, b, c = psi[j - 1 : j + 2]
    shift = 0.5 * (a - c) / (a - 2 * b + c)
    return x[j] + shift * (x[1] - x[0]), b - 0.25 * (a - c) * shift


def sweep_peaks(rates, smallest: float, growth: float, dx: float):
    """ψ_p and x_p at each rate on one mesh: finest cell ``smallest`` × ℓ of the fastest rate, 40 ℓ of the slowest deep."""
    length = lambda v: np.sqrt(DIFFUSIVITY / (F_RT * v))  # noqa: E731
    mesh = graded_host(smallest * length(max(rates)), growth, 40.0 * length(min(rates)))
    return np.array([peak(*linear_sweep(mesh, v, dx)) for v in rates])


RATES = (0.01, 0.1, 1.0)  # V/s


def test_reversible_linear_sweep_gives_the_randles_sevcik_peak():
    """Diffusion-limited linear sweep into a thick host: the classical reversible peak, √v scaling.

    For a lattice gas (Ω = 0) the Nernstian surface condition of
    :func:`femion.physics.lithium.open_circuit_potential`,
    θ/(1 − θ) = exp(−F(E − U°)/RT), with D_chem = D makes the problem the
    classical reversible one in θ: the empty sites (oxidised form, C_O* =
    c_max(1 − θ_b)) and the Li (reduced form) diffuse with the same D, so
    C_O + C_R = c_max everywhere, C_O/C_R = exp(F(E − E°)/RT) at the surface,
    E_1/2 = U°. Hence ψ = |i|/(F c_max √(D F v/RT)) = F_{−3/2}(x)
    (:func:`reversible_current`): the peak ψ_p = 0.4463 at
    E_p − E_1/2 = −1.109 RT/F (Li insertion, cathodic sweep; sign: E falls),
    Randles–Ševčík. Checked at three sweep rates a decade apart on one mesh
    (the peak current then scales as √v). The scheme is first order (implicit
    Euler; Butler–Volmer at the surface cell's mean occupancy); at the default
    resolution (finest cell 0.025 ℓ, growth 1.1, Δx = σΔt = 0.01) the measured
    errors are 0.45 % in ψ_p and −0.009 RT/F in E_p at the rate the cell is
    sized for (test_reversible_sweep_converges_first_order for the order).
    """
    x_ref, psi_ref = reversible_peak()
    assert psi_ref == pytest.approx(0.4463, abs=5e-5)
    assert x_ref == pytest.approx(1.109, abs=5e-4)
    peaks = sweep_peaks(RATES, smallest=0.025, growth=1.1, dx=0.01)
    x_p, psi_p = peaks[:, 0], peaks[:, 1]
    np.testing.assert_allclose(psi_p, psi_ref, rtol=6e-3)  # ψ_p within 0.6 % at every rate
    np.testing.assert_allclose(x_p, x_ref, atol=0.015)  # E_p within 0.015 RT/F (0.4 mV)
    # i_p = ψ_p F c_max √(D F v/RT): i_p/√v at the three rates agrees to the same bound
    i_p = psi_p * FARADAY * SITES * np.sqrt(DIFFUSIVITY * F_RT * np.array(RATES))
    np.testing.assert_allclose(i_p / np.sqrt(RATES), i_p[0] / np.sqrt(RATES[0]), rtol=6e-3)


@pytest.mark.slow
def test_reversible_sweep_converges_first_order():
    """Halving the finest cell, the cell growth − 1 and Δt together halves the peak errors (observed order → 1)."""
    x_ref, psi_ref = reversible_peak()
    levels = [(0.05, 1.2, 0.02), (0.025, 1.1, 0.01), (0.0125, 1.05, 0.005), (0.00625, 1.025, 0.0025)]
    errors = np.array([sweep_peaks((0.1,), *level)[0] for level in levels])
    height = np.abs(errors[:, 1] / psi_ref - 1.0)
    position = np.abs(errors[:, 0] - x_ref)
    order_height = np.log2(height[:-1] / height[1:])
    order_position = np.log2(position[:-1] / position[1:])
    # measured: ψ_p errors 7.95e-3, 4.52e-3, 2.40e-3, 1.23e-3 (orders 0.81, 0.91, 0.97)
    assert np.all(order_height > 0.75) and order_height[-1] > 0.9
    assert np.all(order_position > 0.75) and order_position[-1] > 0.9


# ----------------------------------------------------------------------------- (c) thermodynamic factor
@pytest.mark.parametrize("interaction_rt", [1.5, -1.5])
@pytest.mark.parametrize("theta0", [0.1, 0.5, 0.8])
def test_chemical_diffusivity_is_set_by_the_ocv_thermodynamic_factor(theta0, interaction_rt):
    """A small cosine perturbation about θ₀ decays at D_chem(θ₀) = D(1 − θ₀)·Γ(θ₀), Γ = −(Fθ₀/RT) dU/dθ.

    Γ is taken by finite differences of :func:`open_circuit_potential` (the
    OCV the interfaces use), not from the transport's formula. On a uniform
    column with blocking ends cos(kz_i), k = π/L, is an exact eigenvector of
    the two-point operator with eigenvalue λ_h = (4/h²) sin²(kh/2), and an
    implicit-Euler step multiplies its amplitude by 1/(1 + λ_h D_chem dt), so
    D_chem is read off one step with no discretisation error (the
    perturbation ε = 10⁻⁴ leaves O(ε²) from the nonlinearity). Both host
    paths: the Scharfetter–Gummel step and the Kirchhoff-form step.
    """
    omega = interaction_rt * GAS_CONSTANT * TEMPERATURE
    delta = 1e-5
    slope = (
        open_circuit_potential(theta0 + delta, STANDARD_POTENTIAL, omega, TEMPERATURE)
        - open_circuit_potential(theta0 - delta, STANDARD_POTENTIAL, omega, TEMPERATURE)
    ) / (2 * delta)
    expected = DIFFUSIVITY * (1.0 - theta0) * (-theta0 * slope / (GAS_CONSTANT * TEMPERATURE / FARADAY))
    thickness, n_cells, epsilon = 50e-9, 20, 1e-4
    mesh = column(np.linspace(0.0, thickness, n_cells + 1))
    h, k = thickness / n_cells, np.pi / thickness
    mode = np.cos(k * centres(mesh))
    eigenvalue = 4.0 / h**2 * np.sin(k * h / 2) ** 2
    dt = 0.2 / (eigenvalue * DIFFUSIVITY)
    theta = theta0 + epsilon * mode
    for path in ("general", "device"):
        transport = host(mesh, theta, interaction_rt)
        if path == "general":
            assert transport.step(np.zeros(mesh.n_cells), dt, tolerance=1e-15, max_iterations=200).change < 1e-13
        else:
            c = transport.concentration
            for _ in range(30):  # the fully implicit step: the secant taken at the end of the step (as the device loop does)
                c = transport.frozen_step(dt, linearised_at=c)(np.zeros(mesh.n_cells))
            transport._restore(c)
        amplitude = np.sum((transport.occupancy() - theta0) * mode) / np.sum(mode * mode)
        measured = (epsilon / amplitude - 1.0) / (eigenvalue * dt)
        assert measured == pytest.approx(expected, rel=1e-5), path
    # the former law's D/(1 − θ₀) (no interaction) differs by far more than the tolerance
    assert abs(DIFFUSIVITY / (1.0 - theta0) / expected - 1.0) > 0.1
