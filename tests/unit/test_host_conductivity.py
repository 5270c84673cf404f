"""Host electronic conductivity: the small-polaron law in θ and T (femion.physics.lithium.host_electronic_conductivity)."""

from __future__ import annotations

import numpy as np
import pytest

from femion.observables import arrhenius_fit
from femion.physics.lithium import HOST_ELECTRONIC_REFERENCE_TEMPERATURE, host_electronic_conductivity


def test_reference_temperature_value_does_not_depend_on_the_hopping_energy():
    theta = np.array([0.0, 0.01, 0.5, 0.9])
    expected = 1e-3 + 0.1 * theta * (1 - theta)
    for w in (0.0, 0.11, 0.4):
        sigma = host_electronic_conductivity(theta, 1e-3, 0.1, w, HOST_ELECTRONIC_REFERENCE_TEMPERATURE)
        np.testing.assert_allclose(sigma, expected, rtol=1e-14)


@pytest.mark.parametrize("w", [0.05, 0.11, 0.3])
def test_sigma_times_t_is_arrhenius_with_the_hopping_energy(w):
    # Austin & Mott: sigma T = A exp(-W/kT), so ln(sigma T) against 1/T has slope -W/k exactly
    t = np.linspace(250.0, 400.0, 7)
    sigma = host_electronic_conductivity(np.full_like(t, 0.2), 1e-3, 0.1, w, t)
    assert arrhenius_fit(t, sigma, times_temperature=True).activation_energy == pytest.approx(w, rel=1e-10)
    # per-cell arrays: each cell its own W and T
    cells = host_electronic_conductivity(np.array([0.2, 0.2]), np.array([1e-3, 1e-3]), np.array([0.1, 0.1]),
                                         np.array([0.0, w]), np.array([300.0, 350.0]))
    assert cells[0] == pytest.approx(1e-3 + 0.1 * 0.16, rel=1e-14)
    assert cells[1] == pytest.approx(sigma[np.argmin(np.abs(t - 350.0))], rel=1e-12)


@pytest.mark.parametrize("w, t", [(0.1, 0.0), (0.1, np.nan), (-0.1, 300.0)])
def test_bad_temperature_or_energy_is_rejected(w, t):
    with pytest.raises(ValueError):
        host_electronic_conductivity(np.array([0.1]), 1e-3, 0.1, w, t)
