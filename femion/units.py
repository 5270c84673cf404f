"""Unit conversion at the configuration edge (pint).

femion computes in SI; pint appears only here, where TOML strings such as
``"200 nm"`` or tables ``{value = 2.3e-6, unit = "S/cm"}`` become SI floats.
Every conversion names the quantity it converts, so a unit mistake reports the
offending key.
"""

from __future__ import annotations

import math
from functools import lru_cache

import pint

__all__ = ["UnitError", "si_unit", "to_si", "value_unit_to_si"]


class UnitError(ValueError):
    """A quantity with a missing, unknown or dimensionally wrong unit."""


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    registry = pint.UnitRegistry()
    return registry


@lru_cache(maxsize=None)
def si_unit(unit: str) -> str:
    """Return the SI base-unit string for ``unit`` (e.g. ``"GPa"`` -> ``"kilogram / meter / second ** 2"``)."""
    registry = _registry()
    return str(registry.Quantity(1.0, unit).to_base_units().units)


def to_si(quantity: str | float | int, expected_unit: str, *, name: str, origin: str = "") -> float:
    """Convert a quantity to a float in the SI unit ``expected_unit``.

    Parameters
    ----------
    quantity
        A string with value and unit (``"200 nm"``, ``"300 K"``) or, only when
        ``expected_unit`` is dimensionless (``""``), a bare number.
    expected_unit
        Target unit, e.g. ``"m"``, ``"K"``, ``"S/m"`` or ``""`` for dimensionless.
    name
        Dotted key of the quantity (used in error messages).
    origin
        File or context the quantity came from (used in error messages).

    Returns
    -------
    float
        Magnitude in ``expected_unit``.

    Raises
    ------
    UnitError
        If the unit is missing, cannot be parsed, has the wrong dimension, or the
        value is not finite.
    """
    where = f"{name!r}" + (f" in {origin}" if origin else "")
    registry = _registry()
    if isinstance(quantity, bool):
        raise UnitError(f"{where}: expected a quantity, got the boolean {quantity!r}")
    if isinstance(quantity, (int, float)):
        if expected_unit:
            raise UnitError(
                f"{where}: the number {quantity!r} has no unit; write it with a unit, "
                f"e.g. \"{quantity} {expected_unit}\""
            )
        value = float(quantity)
    elif isinstance(quantity, str):
        try:
            parsed = registry.Quantity(quantity)
        except Exception as error:  # pint raises several exception types
            raise UnitError(f"{where}: cannot parse {quantity!r} as a quantity ({error})") from None
        if not isinstance(parsed, pint.Quantity):
            parsed = registry.Quantity(parsed)
        if expected_unit and parsed.unitless:
            raise UnitError(f"{where}: {quantity!r} has no unit; expected a quantity in {expected_unit}")
        try:
            value = float(parsed.to(expected_unit or "dimensionless").magnitude)
        except pint.DimensionalityError:
            raise UnitError(
                f"{where}: {quantity!r} has dimension {parsed.dimensionality}, expected a "
                f"quantity convertible to {expected_unit or 'a dimensionless number'}"
            ) from None
    else:
        raise UnitError(f"{where}: expected a string like \"200 nm\", got {type(quantity).__name__}")
    if not math.isfinite(value):
        raise UnitError(f"{where}: value {quantity!r} is not finite")
    return value


def value_unit_to_si(value: float | int, unit: str, expected_unit: str, *, name: str, origin: str = "") -> float:
    """Convert a separate ``value`` and ``unit`` pair to a float in ``expected_unit``.

    Raises
    ------
    UnitError
        As :func:`to_si`; also if ``value`` is not a number.
    """
    where = f"{name!r}" + (f" in {origin}" if origin else "")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UnitError(f"{where}: value must be a number, got {value!r}")
    if not math.isfinite(value):
        raise UnitError(f"{where}: value {value!r} is not finite")
    registry = _registry()
    try:
        quantity = registry.Quantity(float(value), unit or "dimensionless")
    except Exception as error:
        raise UnitError(f"{where}: unknown unit {unit!r} ({error})") from None
    try:
        return float(quantity.to(expected_unit or "dimensionless").magnitude)
    except pint.DimensionalityError:
        raise UnitError(
            f"{where}: unit {unit!r} has dimension {quantity.dimensionality}, expected a "
            f"unit convertible to {expected_unit or 'dimensionless'}"
        ) from None
