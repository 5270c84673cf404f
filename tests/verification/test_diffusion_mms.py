"""Axisymmetric layered diffusion by manufactured solutions.

Fast tier: error at the default resolution below a stored bound. The bound is
the error measured when this test was written (2.10e-3 steady, 2.05e-3
transient, femion 0.1.0, reference device, default MeshSettings) plus 10 %.
Slow tier: observed order over three refinements (factor 2 each).
"""

from __future__ import annotations

import numpy as np
import pytest

from femion.geometry import MeshSettings
from femion.verification import manufactured_diffusion

STORED_BOUND = {False: 2.3e-3, True: 2.3e-3}


@pytest.mark.parametrize("transient", [False, True], ids=["steady", "transient"])
def test_error_at_default_resolution(device, transient):
    result = manufactured_diffusion(device, MeshSettings(), transient=transient)
    assert result.error < STORED_BOUND[transient]


@pytest.mark.slow
@pytest.mark.parametrize("transient", [False, True], ids=["steady", "transient"])
def test_observed_order(device, transient):
    results = [manufactured_diffusion(device, MeshSettings(refinement=q), transient=transient) for q in (0.5, 1.0, 2.0)]
    h = np.array([r.h for r in results])
    errors = np.array([r.error for r in results])
    slope = np.polyfit(np.log(h), np.log(errors), 1)[0]
    print(f"transient={transient}: h={h}, errors={errors}, observed order {slope:.3f}")
    assert slope >= 1.9
