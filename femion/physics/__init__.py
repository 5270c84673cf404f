"""Physics modules: each owns its fields and states its equations and sources.

Shared constitutive law:

* :func:`arrhenius` — thermally activated rates, used by every module whose
  parameters are quoted at a reference temperature (every
  activated quantity follows Arrhenius in T).
"""

from __future__ import annotations

import numpy as np

from femion.constants import BOLTZMANN, EV

__all__ = ["arrhenius"]


def arrhenius(value: float, activation_energy: float, temperature: float | np.ndarray, reference_temperature: float):
    """Move an activated quantity from ``reference_temperature`` to ``temperature``.

    X(T) = X(T_ref) exp[−(E_a/k_B)(1/T − 1/T_ref)].

    Parameters
    ----------
    value
        X at the reference temperature (any unit).
    activation_energy
        E_a [eV].
    temperature, reference_temperature
        T and T_ref [K].

    Returns
    -------
    float or ndarray
        X(T), same unit as ``value``.
    """
    return value * np.exp(-activation_energy * EV / BOLTZMANN * (1.0 / np.asarray(temperature) - 1.0 / reference_temperature))
