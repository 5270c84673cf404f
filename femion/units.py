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

__all__ = ["UnitError", "si_unit", "to_integer", "to_si", "value_unit_to_si"]


class UnitError(ValueError):
    """A quantity with a missing, unknown or dimensionally wrong unit, or a value out of its allowed range."""


@lru_cache(maxsize=1)
def _registry() -> pint.UnitRegistry:
    registry = pint.UnitRegistry()
    return registry


@lru_cache(maxsize=None)
def si_unit(unit: str) -> str:
    """Return the SI base-unit string for ``unit`` (e.g. ``"GPa"`` -> ``"kilogram / meter / second ** 2"``)."""
    registry = _registry()
    return str(registry.Quantity(1.0, unit).to_base_units().units)


def to_si(
    quantity: str | float | int,
    expected_unit: str,
    *,
    name: str,
    origin: str = "",
    positive: bool = False,
    nonnegative: bool = False,
) -> float:
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
    positive
        Refuse values <= 0 (durations, rates, sizes, tolerances).
    nonnegative
        Refuse values < 0.

    Returns
    -------
    float
        Magnitude in ``expected_unit``.

    Raises
    ------
    UnitError
        If the unit is missing, cannot be parsed, has the wrong dimension, the
        value is not finite, or it violates ``positive`` / ``nonnegative``.
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
    if positive and value <= 0.0:
        raise UnitError(f"{where}: must be positive, got {quantity!r}")
    if nonnegative and value < 0.0:
        raise UnitError(f"{where}: must not be negative, got {quantity!r}")
    return value


def to_integer(value: int, *, name: str, origin: str = "", minimum: int | None = 1) -> int:
    """Check that a configuration value is a TOML integer (a count) of at least ``minimum``.

    Counts (time steps, pulses, cycles, pixels, seeds) are plain integers; a
    string (``"200"``), a float (``200.0``) or a boolean is refused rather than
    converted, so a quoting mistake cannot slip through.

    Parameters
    ----------
    value
        The value as read from TOML.
    name
        Dotted key (used in error messages).
    origin
        File or context the value came from (used in error messages).
    minimum
        Smallest accepted value (default 1), or None for no bound.

    Returns
    -------
    int

    Raises
    ------
    UnitError
        If ``value`` is not an integer or is below ``minimum``.
    """
    where = f"{name!r}" + (f" in {origin}" if origin else "")
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnitError(f"{where}: expected an integer (a count, written without quotes), got {value!r}")
    if minimum is not None and value < minimum:
        raise UnitError(f"{where}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


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
