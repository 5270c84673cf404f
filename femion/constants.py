"""Physical constants in SI units (CODATA 2018 exact values where defined).

This is the only copy of the constants in femion; every module imports them from
here.
"""

ELEMENTARY_CHARGE = 1.602176634e-19
"""Elementary charge e [C] (CODATA 2018, exact)."""

BOLTZMANN = 1.380649e-23
"""Boltzmann constant k_B [J/K] (CODATA 2018, exact)."""

AVOGADRO = 6.02214076e23
"""Avogadro constant N_A [1/mol] (CODATA 2018, exact)."""

FARADAY = ELEMENTARY_CHARGE * AVOGADRO
"""Faraday constant F = e N_A [C/mol]."""

GAS_CONSTANT = BOLTZMANN * AVOGADRO
"""Molar gas constant R = k_B N_A [J/(mol K)]."""

VACUUM_PERMITTIVITY = 8.8541878128e-12
"""Vacuum permittivity epsilon_0 [F/m] (CODATA 2018)."""

EV = ELEMENTARY_CHARGE
"""One electronvolt [J]."""
