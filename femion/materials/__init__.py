"""Materials database with per-value provenance.

One TOML file per material lives in this folder. Every property is a table::

    [youngs_modulus]
    value = 170.0
    unit = "GPa"
    source = "darling1972platinum"   # a key of femion/references.bib, "assumed", or "calibrated: studies/<name>"
    note = "polycrystalline bulk Pt"
    range = [160.0, 175.0]           # optional, same unit as value
    range_source = "darling1972platinum"  # optional: where the range comes from (default: the value's source)
    range_note = "..."               # with range_source: how the range follows from it

A range is a literature range when its source is a references.bib key: an
explicit ``range_source``, or else the value's own source. A calibrated value
keeps the range it was fitted in, so its range's source must be explicit
(``range_source``); otherwise its range counts as assumed.

On load every value is converted once (pint, :mod:`femion.units`) to the SI unit
listed in :data:`PROPERTY_UNITS`; physics modules only see SI floats. A value
without a literature source carries ``source = "assumed"`` and is listed by
``femion info`` and in every run report. A value fitted to measurements by a
documented study carries ``source = "calibrated: studies/<name>"`` (the study
saves the fit's inputs and residuals) and is listed in run reports as well.

A **material set** is a folder of material files, e.g. the calibrated set a
calibration study writes: with the environment variable ``FEMION_MATERIALS``
naming such a folder, a material it holds replaces the built-in file of the
same name wherever the material is loaded by name (every study, sweep worker
and ``femion info``), and the run's ``materials.json`` records the file used.
Materials the folder does not hold come from the built-in database.
:func:`material_variant` writes a copy of a material file with some values
replaced (sweeps, calibration trials).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from femion.units import UnitError, value_unit_to_si

__all__ = [
    "KINDS",
    "PROPERTY_UNITS",
    "Material",
    "MaterialError",
    "Parameter",
    "available_materials",
    "load_material",
    "material_variant",
    "rewrite_entry",
    "load_references",
    "material_folders",
]

PROPERTY_UNITS: Mapping[str, str] = MappingProxyType(
    {
        "density": "kg/m^3",
        "molar_mass": "kg/mol",
        "youngs_modulus": "Pa",
        "poisson_ratio": "",
        "yield_stress": "Pa",
        "hardening_modulus": "Pa",
        # thin-film fracture and delamination (femion.physics.thinfilm); interface_toughness_<M> is the
        # mode-I toughness of this material's film on a layer of material M below it
        "film_toughness": "J/m^2",
        "interface_toughness_WO3": "J/m^2",
        "interface_toughness_LiPON": "J/m^2",
        "interface_toughness_MoO3": "J/m^2",
        "interface_toughness_ITO": "J/m^2",
        "interface_toughness_glass": "J/m^2",
        "interface_mixity_parameter": "",
        "relative_permittivity": "",
        "electronic_conductivity": "S/m",
        "polaron_conductivity": "S/m",
        "polaron_activation_energy": "eV",
        "li_ionic_conductivity": "S/m",
        "li_activation_energy": "eV",
        "li_diffusivity": "m^2/s",
        "li_diffusivity_activation_energy": "eV",
        "li_max_concentration": "mol/m^3",
        "li_reversible_fraction": "",
        "li_partial_molar_volume": "m^3/mol",
        "li_standard_potential": "V",
        "li_interaction_energy": "eV",
        "li_initial_occupancy": "",
        "exchange_current_density": "A/m^2",
        "charge_transfer_coefficient": "",
        "double_layer_capacitance": "F/m^2",
        "thermal_conductivity": "W/(m*K)",
        "contact_thermal_conductance": "W/(m^2*K)",  # top face of the top electrode to ambient (femion.physics.thermal)
        "specific_heat": "J/(kg*K)",
        "coefficient_of_thermal_expansion": "1/K",
        # oxygen vacancies (femion.physics.vacancy)
        "vo_activation_energy": "eV",
        "vo_dilute_activation_energy": "eV",
        "vo_hopping_distance": "m",
        "vo_attempt_frequency": "Hz",
        "vo_electron_mobility": "m^2/(V*s)",
        "vo_conduction_activation_energy": "eV",
        "o_migration_activation_energy": "eV",
        "vo_recombination_activation_energy": "eV",
        "vo_max_concentration": "1/m^3",
        "vo_condensation_concentration": "1/m^3",
        "vo_initial_concentration": "1/m^3",
        "vo_generation_energy": "eV",
        "vo_generation_dipole_length": "m",
        "vo_generation_threshold_field": "V/m",
        "vo_generation_threshold_spread": "V/m",
        # air ingress and Li-consuming reactions (femion.physics.air)
        "pore_diameter": "m",
        "pore_percolation_threshold": "",
        "gas_diffusivity": "m^2/s",
        "ambient_mole_fraction": "",
        "relative_humidity": "",
        "li_reaction_rate_constant": "1/s",
        "li_reaction_activation_energy": "eV",
    }
)
"""Allowed property names and the SI unit each is stored in after loading."""

KINDS = ("metal", "host", "electrolyte", "transparent_conductor", "substrate", "gas", "reaction_product")
"""Allowed material kinds."""

ASSUMED = "assumed"
CALIBRATED = "calibrated: "
"""Prefix of the source of a calibrated value, followed by the study folder (``studies/<name>``)."""
_ENTRY_KEYS = {"value", "unit", "source", "note", "range", "range_source", "range_note"}
_MATERIALS_DIR = resources.files(__name__)
MATERIAL_SET_VARIABLE = "FEMION_MATERIALS"
"""Environment variable naming a folder of material files that take precedence over the built-ins."""


class MaterialError(ValueError):
    """A material file that is missing, malformed, or lacks a requested property."""


@dataclass(frozen=True)
class Parameter:
    """One material value in SI with its provenance.

    Attributes
    ----------
    name : str
        Property name (a key of :data:`PROPERTY_UNITS`).
    value : float
        Value in the SI unit :attr:`unit`.
    unit : str
        SI unit of :attr:`value` (``""`` for dimensionless).
    source : str
        BibTeX key in ``femion/references.bib`` or ``"assumed"``.
    note : str
        What the value is and why it was chosen.
    range : tuple of float or None
        Range in SI, where known (a calibration's search bounds).
    material : str
        Name of the material the value belongs to.
    range_source : str
        Where the range comes from: a references.bib key (a literature range)
        or ``"assumed"``; ``""`` when there is no range.
    range_note : str
        How the range follows from its source (``""`` when the file gives none).
    """

    name: str
    value: float
    unit: str
    source: str
    note: str
    range: tuple[float, float] | None
    material: str
    range_source: str = ""
    range_note: str = ""

    @property
    def assumed(self) -> bool:
        """True if the value has no literature source."""
        return self.source == ASSUMED

    @property
    def calibrated(self) -> bool:
        """True if the value was fitted by a calibration study (``source = "calibrated: studies/<name>"``)."""
        return self.source.startswith(CALIBRATED)

    @property
    def literature_range(self) -> bool:
        """True if the value has a range and that range has a literature source (a references.bib key)."""
        return self.range is not None and self.range_source not in ("", ASSUMED)


@dataclass(frozen=True)
class Material:
    """A material and its SI parameters.

    Index it by property name to get a :class:`Parameter`; use :meth:`value` for
    the SI float.

    Raises
    ------
    MaterialError
        On access to a property the material file does not define.
    """

    name: str
    description: str
    kind: str
    parameters: Mapping[str, Parameter] = field(repr=False)
    path: str = field(repr=False, default="")

    def __getitem__(self, key: str) -> Parameter:
        try:
            return self.parameters[key]
        except KeyError:
            known = ", ".join(sorted(self.parameters))
            raise MaterialError(
                f"material {self.name!r} ({self.path}) has no property {key!r}; it defines: {known}"
            ) from None

    def __contains__(self, key: object) -> bool:
        return key in self.parameters

    def value(self, key: str) -> float:
        """Return property ``key`` as an SI float (see :data:`PROPERTY_UNITS`)."""
        return self[key].value

    def assumed(self) -> tuple[Parameter, ...]:
        """Return the parameters without a literature source."""
        return tuple(p for p in self.parameters.values() if p.assumed)

    def calibrated(self) -> tuple[Parameter, ...]:
        """Return the parameters fitted by a calibration study."""
        return tuple(p for p in self.parameters.values() if p.calibrated)


def material_folders() -> tuple[Path, ...]:
    """The folders materials are loaded from by name, first match wins.

    Returns
    -------
    tuple of Path
        The folder named by ``FEMION_MATERIALS`` (when set and non-empty), then
        the built-in database ``femion/materials``.

    Raises
    ------
    MaterialError
        If ``FEMION_MATERIALS`` names something that is not a folder.
    """
    builtin = Path(str(_MATERIALS_DIR))
    overlay = os.environ.get(MATERIAL_SET_VARIABLE, "").strip()
    if not overlay:
        return (builtin,)
    folder = Path(overlay).expanduser().resolve()
    if not folder.is_dir():
        raise MaterialError(f"{MATERIAL_SET_VARIABLE}={overlay}: not a folder of material .toml files")
    return (folder, builtin)


def available_materials() -> tuple[str, ...]:
    """Names of the materials loadable by name: the built-ins and those of a ``FEMION_MATERIALS`` set."""
    return tuple(
        sorted({entry.name[: -len(".toml")] for folder in material_folders() for entry in folder.iterdir() if entry.name.endswith(".toml")})
    )


@lru_cache(maxsize=1)
def load_references() -> Mapping[str, str]:
    """Parse ``femion/references.bib`` into ``{key: raw BibTeX entry}``.

    Raises
    ------
    MaterialError
        If a key appears twice or an entry's braces do not balance (an
        unclosed entry swallows the next one in BibTeX tools).
    """
    text = (resources.files("femion") / "references.bib").read_text(encoding="utf-8")
    starts = [(match.start(), match.group(1)) for match in re.finditer(r"@\w+\s*\{\s*([^,\s]+)\s*,", text)]
    entries: dict[str, str] = {}
    for index, (start, key) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else len(text)
        if key in entries:
            raise MaterialError(f"references.bib: duplicate key {key!r}")
        entries[key] = text[start:end].strip()
        if entries[key].count("{") != entries[key].count("}"):
            raise MaterialError(f"references.bib: entry {key!r} has unbalanced braces")
    return MappingProxyType(entries)


def load_material(name_or_path: str | Path) -> Material:
    """Load a material by built-in name (``"Pt"``) or from a TOML file path.

    Parameters
    ----------
    name_or_path
        Material name (from the ``FEMION_MATERIALS`` set if it holds one, else
        built-in), or path to a ``.toml`` file with the same schema.

    Returns
    -------
    Material
        Values converted to SI.

    Raises
    ------
    MaterialError
        Unknown material, unreadable file, unknown property, missing field,
        unresolved source key, or a unit error (message names file and key).
    """
    text_path = str(name_or_path)
    if text_path.endswith(".toml"):
        return _load_material_file(str(Path(text_path).resolve()))
    if text_path not in available_materials():
        raise MaterialError(
            f"unknown material {text_path!r}; built-in materials: {', '.join(available_materials())} "
            "(or give a path to a material .toml)"
        )
    path = next(folder / f"{text_path}.toml" for folder in material_folders() if (folder / f"{text_path}.toml").is_file())
    return _load_material_file(str(path))


@lru_cache(maxsize=None)
def _load_material_file(path: str) -> Material:
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise MaterialError(f"material file not found: {path}") from None
    except UnicodeDecodeError as error:
        raise MaterialError(f"material file {path} is not a UTF-8 text file (byte {error.start})") from None
    except tomllib.TOMLDecodeError as error:
        raise MaterialError(f"material file {path} is not valid TOML: {error}") from None

    for key in ("name", "description", "kind"):
        if not isinstance(data.get(key), str):
            raise MaterialError(f"{path}: missing or non-string top-level key {key!r}")
    name, kind = data["name"], data["kind"]
    if kind not in KINDS:
        raise MaterialError(f"{path}: kind {kind!r} is not one of {KINDS}")

    references = load_references()
    parameters: dict[str, Parameter] = {}
    for key, entry in data.items():
        if key in ("name", "description", "kind"):
            continue
        if key not in PROPERTY_UNITS:
            raise MaterialError(f"{path}: unknown property {key!r}; allowed: {', '.join(PROPERTY_UNITS)}")
        if not isinstance(entry, dict):
            raise MaterialError(f"{path}: property {key!r} must be a table with value, unit, source, note")
        missing = {"value", "unit", "source", "note"} - entry.keys()
        extra = entry.keys() - _ENTRY_KEYS
        if missing or extra:
            raise MaterialError(
                f"{path}: property {key!r} "
                + (f"lacks {sorted(missing)}" if missing else f"has unknown fields {sorted(extra)}")
            )
        source = entry["source"]
        calibrated = source.startswith(CALIBRATED) and re.fullmatch(r"studies/[A-Za-z0-9_]+", source[len(CALIBRATED):])
        if source != ASSUMED and source not in references and not calibrated:
            raise MaterialError(
                f"{path}: property {key!r} cites {source!r}, which is not in references.bib "
                f"(nor 'assumed', nor '{CALIBRATED}studies/<name>')"
            )
        target = PROPERTY_UNITS[key]
        try:
            value = value_unit_to_si(entry["value"], entry["unit"], target, name=key, origin=path)
            bounds = entry.get("range")
            if bounds is not None:
                if not (isinstance(bounds, list) and len(bounds) == 2):
                    raise MaterialError(f"{path}: property {key!r}: range must be [low, high]")
                low, high = (value_unit_to_si(b, entry["unit"], target, name=f"{key}.range", origin=path) for b in bounds)
                bounds = (low, high)
        except UnitError as error:
            raise MaterialError(str(error)) from None
        range_source = entry.get("range_source")
        for name_ in ("range_source", "range_note"):
            if name_ in entry and not (isinstance(entry[name_], str) and entry[name_].strip()):
                raise MaterialError(f"{path}: property {key!r}: {name_} must be a non-empty string")
        if range_source is not None:
            if bounds is None or "range_note" not in entry:
                raise MaterialError(f"{path}: property {key!r}: range_source needs a range and a range_note")
            if range_source != ASSUMED and range_source not in references:
                raise MaterialError(
                    f"{path}: property {key!r}: range_source {range_source!r} is not in references.bib (nor 'assumed')"
                )
        elif "range_note" in entry:
            raise MaterialError(f"{path}: property {key!r}: range_note needs a range_source")
        else:
            range_source = "" if bounds is None else (source if source in references else ASSUMED)
        parameters[key] = Parameter(
            name=key,
            value=value,
            unit=target,
            source=source,
            note=str(entry["note"]),
            range=bounds,
            material=name,
            range_source=range_source,
            range_note=str(entry.get("range_note", "")),
        )
    return Material(
        name=name,
        description=data["description"],
        kind=kind,
        parameters=MappingProxyType(parameters),
        path=path,
    )


def material_variant(
    name_or_path: str | Path, changes: Mapping[str, tuple[float, str]], path: str | Path, name: str | None = None
) -> Path:
    """Write a copy of a material file with some values and their sources replaced.

    The copy keeps every comment, unit, note and range of the original; only
    the ``value`` and ``source`` lines of the changed properties are rewritten
    (:func:`rewrite_entry`), so it records exactly what differs. It is loaded
    once before returning.

    Parameters
    ----------
    name_or_path
        Built-in material name or material ``.toml`` path.
    changes
        Property -> (value in the unit the file states for it, source): a
        references.bib key, ``"assumed"`` or ``"calibrated: studies/<name>"``.
    path
        Where to write the ``.toml``.
    name
        Material name of the copy (default: the original's).

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    MaterialError
        If the original lacks a changed property, or the copy does not load
        (bad source, value outside what the unit conversion accepts).
    """
    original = load_material(name_or_path)
    text = Path(original.path).read_text(encoding="utf-8")
    for key, (value, source) in changes.items():
        text = rewrite_entry(text, original[key], original.path, value=repr(float(value)), source=str(source))
    if name is not None:
        text, count = re.subn(r'^name\s*=\s*"[^"]*"', f'name = "{name}"', text, count=1, flags=re.M)
        if count != 1:
            raise MaterialError(f"{original.path}: no top-level name line")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    _load_material_file.cache_clear()  # a file rewritten at the same path must not come back from the cache
    load_material(path)
    return path


def rewrite_entry(text: str, parameter: Parameter, origin: str | Path, *, value: str, source: str,
                  note: str | None = None) -> str:
    """The text of a material file with one property's ``value``, ``source`` (and ``note``) lines replaced.

    A range whose source was the value's own (no ``range_source`` line, a
    references.bib key as source) keeps that source: the replaced entry gains
    ``range_source`` and ``range_note`` lines, so a calibrated value still
    reports the literature range it lies in.

    Parameters
    ----------
    text
        The material file's text.
    parameter
        The property as loaded from that text (:class:`Parameter`).
    origin
        The file, for error messages.
    value
        The new value as a TOML literal, in the unit the file states.
    source
        The new source (a references.bib key, ``"assumed"`` or ``"calibrated: studies/<name>"``).
    note
        The new note (default: keep the old one).

    Returns
    -------
    str
        The rewritten text (comments, unit, range and every other property unchanged).

    Raises
    ------
    MaterialError
        If the file has no ``[<property>]`` table with single-line ``value``,
        ``source`` (and ``note``) entries.
    """
    fields = {"value": value, "source": json.dumps(source)}
    if note is not None:
        fields["note"] = json.dumps(note)
    begin, stop = _entry_span(text, parameter.name, origin)
    block = text[begin:stop]
    for line, literal in fields.items():
        block, count = re.subn(rf"^{line}\s*=\s*[^\n]*$", lambda _: f"{line} = {literal}", block, count=1, flags=re.M)
        if count != 1:
            raise MaterialError(f"{origin}: [{parameter.name}] has no single-line {line!r} entry to replace")
    if parameter.literature_range and parameter.range_source == parameter.source and source != parameter.source \
            and not re.search(r"^range_source\s*=", block, re.M):
        # after the table's last key line (before trailing blank lines and comments, e.g. a section heading)
        lines = block.split("\n")
        last = max(i for i, line in enumerate(lines) if line.strip() and not line.lstrip().startswith("#"))
        lines[last + 1:last + 1] = [f"range_source = {json.dumps(parameter.range_source)}",
                                    f"range_note = {json.dumps(f'the range of the literature source of the value ({parameter.range_source})')}"]
        block = "\n".join(lines)
    return text[:begin] + block + text[stop:]


def _entry_span(text: str, key: str, origin: str | Path) -> tuple[int, int]:
    """Start and end offsets in ``text`` of the body of TOML table ``[key]`` (after its header line)."""
    start = re.search(rf"^\[{re.escape(key)}\]\s*$", text, re.M)
    if start is None:
        raise MaterialError(f"{origin}: no [{key}] table")
    end = re.search(r"^\[", text[start.end():], re.M)
    return start.end(), start.end() + (end.start() if end else len(text) - start.end())
