"""Hofmann's MRI depth-resolution function: normalisation, closed form vs convolution, step and delta responses.

References: S. Hofmann, Rep. Prog. Phys. 61, 827 (1998); Surf. Interface Anal.
27, 825 (1999). The closed form is re-derived in :mod:`femion.tofsims`; here it
is checked against (i) direct quadrature (∫g = 1, first two moments), (ii) the
literal textbook expression, (iii) the numerical convolution of its three
components, and (iv) the depth operator applied to a delta layer and a step.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import erfc

from femion.tofsims import DepthResolution, convolve_depth

NM = 1e-9


def random_resolutions(count: int = 6, seed: int = 20250) -> list[tuple[DepthResolution, float]]:
    """Random (resolution, z0) pairs spanning and exceeding the typical ranges (w 1–3 nm, λ 0.1–0.5 nm)."""
    rng = np.random.default_rng(seed)
    cases = []
    for _ in range(count):
        resolution = DepthResolution(
            mixing_length=rng.uniform(0.5, 5.0) * NM,
            roughness=rng.uniform(0.1, 3.0) * NM,
            information_depth=rng.uniform(0.05, 1.0) * NM,
            roughening_length=rng.uniform(0.0, 1e-11),
        )
        cases.append((resolution, rng.uniform(0.0, 1000.0) * NM))
    return cases


def integrate(function, resolution: DepthResolution, z0: float) -> float:
    low, high = resolution.support(z0)
    breaks = [z0 - resolution.mixing_length, z0]
    return quad(function, z0 + low, z0 + high, points=breaks, limit=400, epsabs=0.0, epsrel=1e-12)[0]


def literal_mri(z: np.ndarray, z0: float, w: float, lam: float, sigma: float, typo: bool = False) -> np.ndarray:
    """The closed form exactly as written (exp · erfc), optionally with the published σ/w-for-σ/λ typo."""
    v = np.asarray(z) - z0 + w
    second = sigma / w if typo else sigma / lam
    return (
        np.exp(-v / w + sigma**2 / (2 * w**2)) * erfc((sigma / w - v / sigma) / math.sqrt(2))
        + np.exp(v / lam + sigma**2 / (2 * lam**2)) * erfc((second + v / sigma) / math.sqrt(2))
    ) / (2 * (w + lam))


@pytest.mark.parametrize("resolution, z0", random_resolutions())
def test_closed_form_integrates_to_one(resolution, z0):
    total = integrate(lambda z: float(resolution.pdf(z, z0)), resolution, z0)
    assert total == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("resolution, z0", random_resolutions())
def test_first_moments(resolution, z0):
    """Mean z0 − λ and variance w² + λ² + σ(z0)² (sum of the component variances)."""
    mean = integrate(lambda z: (z - z0) * float(resolution.pdf(z, z0)), resolution, z0)
    second = integrate(lambda z: (z - z0) ** 2 * float(resolution.pdf(z, z0)), resolution, z0)
    w, lam, sigma = resolution.mixing_length, resolution.information_depth, float(resolution.sigma(z0))
    assert mean == pytest.approx(-lam, rel=1e-7)
    assert second - mean**2 == pytest.approx(w**2 + lam**2 + sigma**2, rel=1e-7)


@pytest.mark.parametrize("resolution, z0", random_resolutions(3))
def test_cdf_is_the_integral_of_the_pdf(resolution, z0):
    low, high = resolution.support(z0)
    for fraction in (0.1, 0.3, 0.5, 0.7):
        z = z0 + low + fraction * (high - low) * 0.2
        integral = quad(lambda x: float(resolution.pdf(x, z0)), z0 + low, z, points=[z0 - resolution.mixing_length, z0]
                        if z > z0 else None, limit=400, epsabs=0.0, epsrel=1e-12)[0]
        assert float(resolution.cdf(z, z0)) == pytest.approx(integral, abs=1e-10)


def test_stable_implementation_equals_the_literal_closed_form():
    resolution = DepthResolution(mixing_length=2 * NM, roughness=0.8 * NM, information_depth=0.4 * NM, roughening_length=0.0)
    z = np.linspace(-8, 15, 301) * NM
    literal = literal_mri(z, 0.0, 2 * NM, 0.4 * NM, 0.8 * NM)
    np.testing.assert_allclose(resolution.pdf(z), literal, rtol=1e-10, atol=1e-12 * literal.max())


def test_published_sigma_over_w_typo_breaks_normalisation():
    """σ/w in place of σ/λ in the second erfc does not integrate to 1; the correct form does."""
    w, lam, sigma = 2 * NM, 0.3 * NM, 1.0 * NM
    lower, upper = -60 * NM, 80 * NM
    correct = quad(lambda z: float(literal_mri(z, 0.0, w, lam, sigma)), lower, upper, limit=400)[0]
    typo = quad(lambda z: float(literal_mri(z, 0.0, w, lam, sigma, typo=True)), lower, upper, limit=400)[0]
    assert correct == pytest.approx(1.0, abs=1e-9)
    assert abs(typo - 1.0) > 1e-2


def test_closed_form_equals_numerical_convolution_of_the_three_components():
    """Bin-averaged closed form vs FFT convolution of the bin-averaged g_w, g_λ, g_σ: within 5e-4 of the peak at h = λ/15."""
    for resolution, z0 in random_resolutions(4, seed=3):
        lam = resolution.information_depth
        h = min(lam, resolution.mixing_length, float(resolution.sigma(z0))) / 15.0
        low, high = resolution.support(z0)
        z = z0 + np.arange(math.floor(low / h), math.ceil(high / h)) * h + 0.37 * h  # grid not aligned with z0
        closed = resolution.kernel(z, z0)
        numerical = resolution.kernel_numerical(z, z0)
        assert closed.sum() * h == pytest.approx(1.0, abs=1e-9)
        assert np.max(np.abs(closed - numerical)) < 5e-4 * closed.max()


@pytest.mark.parametrize(
    "resolution, reference",
    [
        (DepthResolution(0.0, 1.5 * NM, 0.0, 0.0), "gauss"),
        (DepthResolution(2.0 * NM, 0.0, 0.5 * NM, 0.0), "two-sided"),
    ],
)
def test_limits(resolution, reference):
    z = np.linspace(-10, 20, 241) * NM + 0.013 * NM
    if reference == "gauss":
        expected = np.exp(-0.5 * (z / (1.5 * NM)) ** 2) / (1.5 * NM * math.sqrt(2 * math.pi))
    else:  # σ = 0: rising e^{v/λ}, falling e^{−v/w}, peak at z0 − w, height 1/(w + λ)
        v = z + 2.0 * NM
        expected = np.where(v < 0, np.exp(v / (0.5 * NM)), np.exp(-v / (2.0 * NM))) / (2.5 * NM)
    np.testing.assert_allclose(resolution.pdf(z), expected, rtol=1e-12, atol=1e-15 / NM)


def test_step_width_of_a_gaussian_is_two_sigma():
    resolution = DepthResolution(0.0, 1.0 * NM, 0.0, 0.0)
    # 16–84 % of a Gaussian: 2 Φ⁻¹(0.84) σ = 1.98892 σ
    assert resolution.step_width() == pytest.approx(2 * 0.994457883 * NM, rel=1e-6)


def test_delta_layer_reproduces_the_closed_form():
    """A one-bin layer through the depth operator equals g sampled at the bin centres, to O(dz²)."""
    resolution = DepthResolution(roughening_length=5e-12)
    dz = 0.1 * NM
    n = 1000
    profile = np.zeros(n)
    j = 600  # delta layer at 60 nm
    profile[j] = 1.0 / dz
    measured = convolve_depth(profile, dz, resolution)
    centres = (np.arange(n) + 0.5) * dz
    expected = resolution.pdf(centres, centres[j])
    assert measured.sum() * dz == pytest.approx(1.0, abs=1e-12)
    assert np.max(np.abs(measured - expected)) < 1e-3 * expected.max()


def test_step_reproduces_the_closed_form_step_response():
    """Material from z_s downward (constant σ) is measured as G(z − z_s), to O(dz²)."""
    resolution = DepthResolution(mixing_length=2.5 * NM, roughness=0.7 * NM, information_depth=0.4 * NM, roughening_length=0.0)
    dz = 0.1 * NM
    n = 1500
    centres = (np.arange(n) + 0.5) * dz
    step_at = 500 * dz  # a bin edge, 50 nm
    profile = (centres > step_at).astype(float)
    measured = convolve_depth(profile, dz, resolution)
    expected = resolution.cdf(centres, step_at)
    interior = (centres > 20 * NM) & (centres < 120 * NM)  # away from the grid ends (surface transient, bottom)
    assert np.max(np.abs(measured - expected)[interior]) < 1e-4


def test_depth_operator_conserves_the_integral():
    rng = np.random.default_rng(1)
    profile = rng.uniform(0.0, 1.0, size=(7, 400))
    resolution = DepthResolution(roughening_length=1e-11)
    measured = convolve_depth(profile, 1.0 * NM, resolution)
    np.testing.assert_allclose(measured.sum(axis=1), profile.sum(axis=1), rtol=1e-12)
    truncated = convolve_depth(profile, 1.0 * NM, resolution, boundary="truncate")
    assert np.all(truncated.sum(axis=1) < profile.sum(axis=1))
    np.testing.assert_allclose(truncated[:, 20:-60], measured[:, 20:-60], rtol=1e-12)  # only the ends differ


def test_uniform_profile_away_from_the_ends_is_unchanged():
    profile = np.full(500, 3.0)
    measured = convolve_depth(profile, 0.5 * NM, DepthResolution())
    np.testing.assert_allclose(measured[120:-120], 3.0, rtol=1e-12)  # mixing tail e^(-60 nm / w) below round-off


def test_ideal_resolution_is_the_identity():
    profile = np.random.default_rng(2).normal(size=50)
    np.testing.assert_array_equal(convolve_depth(profile, 1.0 * NM, DepthResolution(0.0, 0.0, 0.0, 0.0)), profile)


def test_invalid_parameters():
    with pytest.raises(ValueError, match="mixing_length"):
        DepthResolution(mixing_length=-1e-9)
    with pytest.raises(ValueError, match="no density"):
        DepthResolution(0.0, 0.0, 0.0, 0.0).pdf(np.zeros(3))
    with pytest.raises(ValueError, match="boundary"):
        DepthResolution().operator(10, 1e-9, boundary="wrap")
    with pytest.raises(ValueError, match="uniform"):
        DepthResolution().kernel(np.array([0.0, 1e-9, 3e-9]))


@pytest.mark.slow
def test_numerical_convolution_converges_at_second_order():
    resolution = DepthResolution(mixing_length=2 * NM, roughness=0.5 * NM, information_depth=0.3 * NM, roughening_length=0.0)
    steps = np.array([0.06, 0.03, 0.015]) * NM
    errors = []
    for h in steps:
        z = np.arange(-20 * NM, 60 * NM, h) + 0.37 * h
        closed = resolution.kernel(z)
        errors.append(np.max(np.abs(closed - resolution.kernel_numerical(z))) / closed.max())
    order = np.polyfit(np.log(steps), np.log(errors), 1)[0]
    assert order == pytest.approx(2.0, abs=0.25)
