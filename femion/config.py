"""Device description: TOML file -> frozen, validated SI dataclasses.

A device file names the layer stack, the electrode and film radii, the substrate,
the ambient and the temperature (see ``femion/devices/reference.toml``). It is
parsed once; quantities are strings with units (``"200 nm"``) converted to SI
with pint (:mod:`femion.units`). Unknown keys, missing units, non-positive or
implausible sizes (outside :data:`THICKNESS_RANGE` / :data:`RADIUS_RANGE`), a
film radius smaller than the electrode radius, unknown materials and materials
in the wrong role (an insulator as electrode, a metal as film) raise
:class:`DeviceConfigError` naming the key and the file.

Studies read their ``config.toml`` with :func:`load_study_config`, which also
applies dotted-key overrides (``config.<key>``, ``device.<field>``; used by
parameter sweeps, :mod:`femion.sweep`); :func:`override_device` changes a
device with the same unit conversion and validation as a device file.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import importlib.util
import json
import math
import os
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any, Literal, Mapping

from femion.materials import PROPERTY_UNITS, Material, MaterialError, load_material, material_variant
from femion.units import UnitError, to_si, value_unit_to_si

__all__ = [
    "AMBIENTS",
    "Device",
    "DeviceConfigError",
    "Layer",
    "StudyConfigError",
    "device_override_keys",
    "load_device",
    "load_study_config",
    "override_device",
    "override_materials",
    "parse_device",
    "require_layers",
]

AMBIENTS = ("air", "vacuum")
THICKNESS_RANGE = (1e-9, 1e-3)
"""Accepted layer and substrate thicknesses [m]."""
RADIUS_RANGE = (1e-8, 0.1)
"""Accepted electrode and film radii [m]."""
MAX_TEMPERATURE = 2000.0
"""Highest accepted temperature [K]."""
ELECTRODE_KINDS = ("metal", "transparent_conductor")
FILM_KINDS = ("host", "electrolyte")
SUBSTRATE_REGION = "substrate"
MATERIAL_VARIANTS = Path(tempfile.gettempdir()) / "femion-material-variants"
"""Where :func:`override_materials` writes its material copies (one folder per distinct set of changes)."""
_DEVICE_KEYS = {"name", "ambient", "temperature", "electrode_radius", "film_radius", "substrate", "layers"}
_LAYER_KEYS = {"name", "material", "thickness"}
_SUBSTRATE_KEYS = {"material", "thickness"}
_FORBIDDEN_NAME_CHARACTERS = set("|:,/\\ \t\n\"'")


class DeviceConfigError(ValueError):
    """Invalid device description; the message names the key and the file."""


class StudyConfigError(ValueError):
    """Invalid study configuration; the message names the key and the file."""


@dataclass(frozen=True)
class Layer:
    """One layer of the stack.

    Attributes
    ----------
    name : str
        Region name (the gmsh physical group of its cells).
    material : str
        Built-in material name or path of a material TOML file.
    thickness : float
        Thickness [m].
    """

    name: str
    material: str
    thickness: float


@dataclass(frozen=True)
class Device:
    """A vertical thin-film disk device in SI units.

    Attributes
    ----------
    name : str
        Device label.
    layers : tuple of Layer
        Stack from the substrate upward: ``layers[0]`` is the grounded bottom
        electrode, ``layers[-1]`` the biased top electrode (a disk of radius
        ``electrode_radius``), the layers between are the active films.
    substrate : Layer
        Mechanical support (electrically inert), region name ``"substrate"``.
    electrode_radius : float
        Top-electrode radius R_e [m].
    film_radius : float
        Radius of the films, bottom electrode and substrate R_film [m].
    ambient : {"air", "vacuum"}
        Atmosphere above the device.
    temperature : float
        Temperature [K].
    source : str
        Path of the TOML file the device was read from.
    text : str
        The TOML text, copied into run directories for provenance.
    """

    name: str
    layers: tuple[Layer, ...]
    substrate: Layer
    electrode_radius: float
    film_radius: float
    ambient: Literal["air", "vacuum"]
    temperature: float
    source: str = field(default="", compare=False)
    text: str = field(default="", repr=False, compare=False)

    @property
    def top_electrode(self) -> Layer:
        """The biased top electrode (last layer)."""
        return self.layers[-1]

    @property
    def bottom_electrode(self) -> Layer:
        """The grounded bottom electrode (first layer)."""
        return self.layers[0]

    @property
    def films(self) -> tuple[Layer, ...]:
        """Active films between the electrodes, bottom to top."""
        return self.layers[1:-1]

    @property
    def film_stack_thickness(self) -> float:
        """Electrode-to-electrode distance d [m] (sum of the active films)."""
        return sum(layer.thickness for layer in self.films)

    @property
    def region_names(self) -> tuple[str, ...]:
        """Cell-region names, bottom to top, substrate first."""
        return (SUBSTRATE_REGION,) + tuple(layer.name for layer in self.layers)

    def layer(self, name: str) -> Layer:
        """Return the layer (or the substrate) called ``name``.

        Raises
        ------
        KeyError
            If no region has that name.
        """
        if name == SUBSTRATE_REGION:
            return self.substrate
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(f"device {self.name!r} has no region {name!r}; regions: {', '.join(self.region_names)}")

    def material(self, region: str) -> Material:
        """Material of region ``region`` (a layer name or ``"substrate"``)."""
        return load_material(self.layer(region).material)

    def interface_heights(self) -> dict[str, float]:
        """Height z [m] of every horizontal interface, keyed ``"upper|lower"``; z = 0 at the substrate bottom."""
        heights = {}
        z = self.substrate.thickness
        below = SUBSTRATE_REGION
        for layer in self.layers:
            heights[f"{layer.name}|{below}"] = z
            z += layer.thickness
            below = layer.name
        return heights


def load_device(path: str | Path | None = None) -> Device:
    """Read a device TOML file; with no argument, the built-in reference device.

    The reference device is ITO 150 nm / MoO3 200 nm / LiPON 500 nm /
    WO3 200 nm / Pt 50 nm on a 20 µm glass slab, R_e = 100 µm, R_film = 150 µm,
    air, 300 K.

    Parameters
    ----------
    path
        Device TOML file, or None for the reference device.

    Returns
    -------
    Device

    Raises
    ------
    DeviceConfigError
        Unreadable file or invalid content (the message names the key and file).
    """
    if path is None:
        resource = resources.files("femion") / "devices" / "reference.toml"
        return parse_device(resource.read_text(encoding="utf-8"), origin="<femion reference device>")
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DeviceConfigError(f"cannot read device file {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise DeviceConfigError(f"{path}: not a UTF-8 text file (byte {error.start}): a device file is TOML text") from None
    return parse_device(text, origin=str(path))


def parse_device(text: str, origin: str = "<string>") -> Device:
    """Parse device TOML text (see :func:`load_device`).

    Raises
    ------
    DeviceConfigError
        Invalid TOML or content.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise DeviceConfigError(f"{origin}: not valid TOML: {error}") from None
    base = Path(origin).parent if Path(origin).is_file() else Path.cwd()

    def fail(message: str) -> DeviceConfigError:
        return DeviceConfigError(f"{origin}: {message}")

    _check_keys(data, _DEVICE_KEYS, "", origin)
    for required in _DEVICE_KEYS - {"name"}:
        if required not in data:
            raise fail(f"missing key {required!r}")

    def length(value: Any, key: str, bounds: tuple[float, float]) -> float:
        return _length(value, key, bounds, origin)

    layers_data = data["layers"]
    if not isinstance(layers_data, list) or len(layers_data) < 3:
        raise fail("'layers' must list at least three [[layers]]: bottom electrode, film(s), top electrode")
    layers = []
    for index, entry in enumerate(layers_data):
        prefix = f"layers[{index}]"
        if not isinstance(entry, dict):
            raise fail(f"{prefix!r} must be a table")
        _check_keys(entry, _LAYER_KEYS, prefix, origin)
        for required in _LAYER_KEYS:
            if required not in entry:
                raise fail(f"missing key {prefix + '.' + required!r}")
        name = entry["name"]
        if not isinstance(name, str) or not name or _FORBIDDEN_NAME_CHARACTERS & set(name):
            raise fail(f"{prefix + '.name'!r} = {name!r} is not a valid region name (no spaces, '|', ':', ',', '/')")
        material = _resolve_material(entry["material"], f"{prefix}.material", base, origin)
        layers.append(Layer(name=name, material=material, thickness=length(entry["thickness"], f"{prefix}.thickness", THICKNESS_RANGE)))
    names = [layer.name for layer in layers]
    duplicates = {name for name in names if names.count(name) > 1} | ({SUBSTRATE_REGION} & set(names))
    if duplicates:
        raise fail(f"layer names must be unique and not 'substrate': {sorted(duplicates)}")

    substrate_data = data["substrate"]
    if not isinstance(substrate_data, dict):
        raise fail("'substrate' must be a table with material and thickness")
    _check_keys(substrate_data, _SUBSTRATE_KEYS, "substrate", origin)
    for required in _SUBSTRATE_KEYS:
        if required not in substrate_data:
            raise fail(f"missing key {'substrate.' + required!r}")
    substrate = Layer(
        name=SUBSTRATE_REGION,
        material=_resolve_material(substrate_data["material"], "substrate.material", base, origin),
        thickness=length(substrate_data["thickness"], "substrate.thickness", THICKNESS_RANGE),
    )

    electrode_radius = length(data["electrode_radius"], "electrode_radius", RADIUS_RANGE)
    film_radius = length(data["film_radius"], "film_radius", RADIUS_RANGE)
    if film_radius <= electrode_radius:
        raise fail(
            f"'film_radius' ({data['film_radius']}) must exceed 'electrode_radius' ({data['electrode_radius']}): "
            "the films extend beyond the top electrode"
        )
    ambient = data["ambient"]
    if ambient not in AMBIENTS:
        raise fail(f"'ambient' must be one of {AMBIENTS}, got {ambient!r}")
    temperature = _temperature(data["temperature"], "temperature", origin)
    _check_roles(layers, substrate, fail)
    name = data.get("name", Path(origin).stem)
    if not isinstance(name, str):
        raise fail("'name' must be a string")
    return Device(
        name=name,
        layers=tuple(layers),
        substrate=substrate,
        electrode_radius=electrode_radius,
        film_radius=film_radius,
        ambient=ambient,
        temperature=temperature,
        source=origin,
        text=text,
    )


def _length(value: Any, key: str, bounds: tuple[float, float], origin: str) -> float:
    """A positive length [m] within ``bounds``; errors name ``key`` and ``origin``."""
    try:
        metres = to_si(value, "m", name=key, origin=origin)
    except UnitError as error:
        raise DeviceConfigError(str(error)) from None
    if metres <= 0.0:
        raise DeviceConfigError(f"{origin}: {key!r} must be positive, got {value!r}")
    if not bounds[0] <= metres <= bounds[1]:
        raise DeviceConfigError(
            f"{origin}: {key!r} = {value!r} is outside the range femion meshes, "
            f"{bounds[0]:g} m to {bounds[1]:g} m (a unit typo?)"
        )
    return metres


def _temperature(value: Any, key: str, origin: str) -> float:
    """An absolute temperature [K] in (0, MAX_TEMPERATURE]; errors name ``key`` and ``origin``."""
    try:
        temperature = to_si(value, "K", name=key, origin=origin)
    except UnitError as error:
        raise DeviceConfigError(str(error)) from None
    if not 0.0 < temperature <= MAX_TEMPERATURE:
        raise DeviceConfigError(
            f"{origin}: {key!r} must be an absolute temperature in (0, {MAX_TEMPERATURE:g}] K, got {value!r}"
        )
    return temperature


def _check_roles(layers: list[Layer], substrate: Layer, fail) -> None:
    """Electrodes must conduct, films must be hosts or electrolytes, the substrate a substrate."""
    roles = [(layers[0], "bottom electrode", ELECTRODE_KINDS), (layers[-1], "top electrode", ELECTRODE_KINDS)]
    roles += [(layer, "film", FILM_KINDS) for layer in layers[1:-1]]
    roles.append((substrate, "substrate", ("substrate",)))
    for layer, role, kinds in roles:
        kind = load_material(layer.material).kind
        if kind not in kinds:
            raise fail(f"layer {layer.name!r} is the {role} but its material is a {kind!r}; a {role} must be one of {kinds}")


def _check_keys(table: dict, allowed: set[str], prefix: str, origin: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        dotted = [f"{prefix}.{key}" if prefix else key for key in unknown]
        raise DeviceConfigError(f"{origin}: unknown key(s) {dotted}; allowed: {sorted(allowed)}")


def _resolve_material(value: Any, key: str, base: Path, origin: str) -> str:
    if not isinstance(value, str):
        raise DeviceConfigError(f"{origin}: {key!r} must be a material name or a path to a .toml file")
    reference = str((base / value).resolve()) if value.endswith(".toml") else value
    try:
        load_material(reference)
    except MaterialError as error:
        raise DeviceConfigError(f"{origin}: {key!r}: {error}") from None
    return reference


def device_override_keys(device: Device) -> tuple[str, ...]:
    """Dotted keys that :func:`override_device` accepts for ``device``.

    ``device.name``, ``device.ambient``, ``device.temperature``,
    ``device.electrode_radius``, ``device.film_radius``,
    ``device.substrate.thickness``, ``device.substrate.material`` and, for every
    layer, ``device.layers.<name>.thickness`` and ``device.layers.<name>.material``.
    """
    keys = [f"device.{name}" for name in ("name", "ambient", "temperature", "electrode_radius", "film_radius")]
    keys += ["device.substrate.thickness", "device.substrate.material"]
    for layer in device.layers:
        keys += [f"device.layers.{layer.name}.thickness", f"device.layers.{layer.name}.material"]
    return tuple(keys)


def override_device(
    device: Device, overrides: Mapping[str, Any], origin: str = "", base: str | Path | None = None
) -> Device:
    """Return ``device`` with some fields replaced, validated as in a device file.

    Values are written as in a device TOML file (``"300 nm"``, ``"350 K"``,
    ``"vacuum"``, a material name or ``.toml`` path) and converted to SI. The
    result passes the checks of :func:`parse_device`: positive sizes within
    :data:`THICKNESS_RANGE` / :data:`RADIUS_RANGE`, ``film_radius >
    electrode_radius``, a valid ambient and temperature, materials in their
    roles. Its ``text`` is a regenerated device TOML (SI values, the overrides
    listed in a comment), so run directories record the device actually used.

    Parameters
    ----------
    device
        The base device.
    overrides
        Dotted key (see :func:`device_override_keys`, e.g.
        ``"device.layers.LiPON.thickness"``) -> value.
    origin
        Where the overrides come from (used in error messages).
    base
        Folder against which relative material ``.toml`` paths are resolved
        (default: the current directory).

    Returns
    -------
    Device
        A new device; ``device`` itself is unchanged. ``source`` is kept.

    Raises
    ------
    StudyConfigError
        A key that is not a device override key (the message lists the valid ones).
    DeviceConfigError
        An invalid value, or an invalid combination (e.g. ``film_radius`` not
        above ``electrode_radius``); the message names the dotted key(s).
    """
    where = origin or device.source or "<overrides>"
    folder = Path(base) if base is not None else Path.cwd()
    valid = device_override_keys(device)
    fields: dict[str, Any] = {}
    layers = {layer.name: layer for layer in device.layers}
    substrate = device.substrate
    materials_changed = False
    for key, value in overrides.items():
        if key not in valid:
            close = difflib.get_close_matches(str(key), valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise StudyConfigError(f"{where}: unknown device override {key!r}{hint}; device keys: {', '.join(valid)}")
        field_name = key[len("device."):]
        if field_name == "name":
            if not isinstance(value, str) or not value:
                raise DeviceConfigError(f"{where}: {key!r} must be a non-empty string, got {value!r}")
            fields["name"] = value
        elif field_name == "ambient":
            if value not in AMBIENTS:
                raise DeviceConfigError(f"{where}: {key!r} must be one of {AMBIENTS}, got {value!r}")
            fields["ambient"] = value
        elif field_name == "temperature":
            fields["temperature"] = _temperature(value, key, where)
        elif field_name in ("electrode_radius", "film_radius"):
            fields[field_name] = _length(value, key, RADIUS_RANGE, where)
        else:
            attribute = field_name.rsplit(".", 1)[1]
            if attribute == "thickness":
                new = {"thickness": _length(value, key, THICKNESS_RANGE, where)}
            else:
                new = {"material": _resolve_material(value, key, folder, where)}
                materials_changed = True
            if field_name.startswith("substrate."):
                substrate = dataclasses.replace(substrate, **new)
            else:
                name = field_name[len("layers."):-len(attribute) - 1]
                layers[name] = dataclasses.replace(layers[name], **new)
    electrode_radius = fields.get("electrode_radius", device.electrode_radius)
    film_radius = fields.get("film_radius", device.film_radius)
    if film_radius <= electrode_radius:
        named = [key for key in ("device.film_radius", "device.electrode_radius") if key in overrides]
        raise DeviceConfigError(
            f"{where}: override {', '.join(f'{key!r} = {overrides[key]!r}' for key in named)}: film_radius "
            f"({film_radius:g} m) must exceed electrode_radius ({electrode_radius:g} m): "
            "the films extend beyond the top electrode"
        )
    stack = [layers[layer.name] for layer in device.layers]
    if materials_changed:

        def fail(message: str) -> DeviceConfigError:
            changed = [key for key in overrides if key.endswith(".material")]
            return DeviceConfigError(f"{where}: override {', '.join(map(repr, changed))}: {message}")

        _check_roles(stack, substrate, fail)
    changed = dataclasses.replace(device, layers=tuple(stack), substrate=substrate, **fields)
    header = [f"# device {changed.name!r}: {device.source or 'built in code'} with overrides (values in SI)"]
    header += [f"#   {key} = {json.dumps(value, ensure_ascii=False, default=str)}" for key, value in overrides.items()]
    return dataclasses.replace(changed, text=_device_toml(changed, header))


def override_materials(device: Device, overrides: Mapping[str, Any], origin: str = "") -> Device:
    """Return ``device`` with some material values replaced (``material.<Material>.<property>`` keys).

    Each changed material is written once as a copy of its file with the new
    values (:func:`femion.materials.material_variant`, ``source = "assumed"``:
    an override is no literature value) into :data:`MATERIAL_VARIANTS`, in a
    folder named by a hash of the original file and the changes, and every
    layer (and the substrate) of that material then uses the copy. The
    device's ``text`` lists the overrides.

    Parameters
    ----------
    device
        The base device.
    overrides
        ``"material.<Material>.<property>"`` -> value: ``"<number> <unit>"``
        (any unit convertible to the property's SI unit,
        :data:`femion.materials.PROPERTY_UNITS`) or a bare number for a
        dimensionless property. ``<Material>`` is the ``name`` of a material of
        the device's layers or substrate.

    Returns
    -------
    Device
        A new device; ``device`` itself is unchanged.

    Raises
    ------
    StudyConfigError
        One line naming ``origin`` and the key: a key not of the form
        ``material.<Material>.<property>``, a material the device does not use,
        a property its file does not define, a value of the wrong unit or not finite.
    """
    where = origin or device.source or "<overrides>"
    regions = [*device.layers, device.substrate]
    used: dict[str, list[Layer]] = {}
    for layer in regions:
        used.setdefault(load_material(layer.material).name, []).append(layer)
    changes: dict[str, dict[str, float]] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        if len(parts) != 3 or parts[0] != "material" or not parts[1] or not parts[2]:
            raise StudyConfigError(f"{where}: override {key!r}: a material override is 'material.<Material>.<property>'")
        _, name, prop = parts
        if name not in used:
            raise StudyConfigError(f"{where}: override {key!r}: the device uses no material {name!r} (its materials: "
                                   f"{', '.join(used)})")
        material = load_material(used[name][0].material)
        if prop not in material:
            raise StudyConfigError(f"{where}: override {key!r}: material {name!r} ({material.path}) has no property {prop!r}")
        try:
            si = to_si(value, PROPERTY_UNITS[prop], name=str(key), origin=where)
        except UnitError as error:
            raise StudyConfigError(str(error)) from None
        if not math.isfinite(si):
            raise StudyConfigError(f"{where}: override {key!r} = {value!r} is not finite")
        changes.setdefault(name, {})[prop] = si
    replaced: dict[str, str] = {}
    for name, values in changes.items():
        material = load_material(used[name][0].material)
        text = Path(material.path).read_text(encoding="utf-8")
        file_values = {}
        for prop, si in values.items():
            unit = tomllib.loads(text)[prop]["unit"]
            scale = value_unit_to_si(1.0, unit, PROPERTY_UNITS[prop], name=prop, origin=material.path)
            file_values[prop] = (si / scale, "assumed")
        digest = hashlib.sha1(json.dumps([text, sorted(values.items())]).encode()).hexdigest()[:16]
        target = MATERIAL_VARIANTS / digest / f"{name}.toml"
        if not target.is_file():  # written under a private name, then renamed: parallel sweep workers share the folder
            private = target.with_name(f".{name}.{os.getpid()}.toml")
            try:
                material_variant(material.path, file_values, private)
            except MaterialError as error:
                raise StudyConfigError(f"{where}: overrides of material {name!r}: {error}") from None
            os.replace(private, target)
        replaced[name] = str(target)
    layers = tuple(dataclasses.replace(layer, material=replaced.get(load_material(layer.material).name, layer.material))
                   for layer in device.layers)
    substrate = device.substrate
    if load_material(substrate.material).name in replaced:
        substrate = dataclasses.replace(substrate, material=replaced[load_material(substrate.material).name])
    changed = dataclasses.replace(device, layers=layers, substrate=substrate)
    header = [f"# device {changed.name!r}: {device.source or 'built in code'} with material overrides (values in SI)"]
    header += [f"#   {key} = {json.dumps(value, ensure_ascii=False, default=str)}" for key, value in overrides.items()]
    return dataclasses.replace(changed, text=_device_toml(changed, header))


def _device_toml(device: Device, header: list[str]) -> str:
    """Device TOML text (SI quantities) that :func:`parse_device` reads back to an equal device."""

    def string(value: str) -> str:
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string

    lines = [*header, f"name = {string(device.name)}", f"ambient = {string(device.ambient)}"]
    lines += [f'temperature = "{device.temperature!r} K"']
    lines += [f'electrode_radius = "{device.electrode_radius!r} m"', f'film_radius = "{device.film_radius!r} m"', ""]
    lines += ["[substrate]", f"material = {string(device.substrate.material)}", f'thickness = "{device.substrate.thickness!r} m"']
    for layer in device.layers:
        lines += ["", "[[layers]]", f"name = {string(layer.name)}", f"material = {string(layer.material)}"]
        lines += [f'thickness = "{layer.thickness!r} m"']
    return "\n".join(lines) + "\n"


def _variant_kind(value: Any) -> str:
    """TOML kind with integers and floats told apart (counts vs quantities), for the quick/full key check."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    return "a " + _toml_kind(value)


def _toml_kind(value: Any) -> str:
    """TOML value kind used to check that an override has the type of the value it replaces."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "table"
    return type(value).__name__


def load_study_config(
    path: str | Path, keys: set[str], overrides: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], Device]:
    """Read a study's ``config.toml``: exactly the ``keys`` (plus ``device``), and its device.

    ``device`` is a device TOML path relative to the config file's folder, or
    empty for the built-in reference device.

    Parameters
    ----------
    path
        The study's ``config.toml``.
    keys
        The keys the study reads (``device`` is always allowed and required).
    overrides
        Dotted key -> value, applied after reading (parameter sweeps):

        * ``config.<key>``: replaces ``<key>`` of the file; the value is written as
          the TOML would hold it (``"0.2 V"``, ``20``, ``["1 um", "2 um"]``) and
          must have the same TOML type (string, number, boolean, array, table) as
          the value it replaces. ``config.device`` selects another device file.
        * ``device.<field>``: changes the device through :func:`override_device`
          (``device.temperature``, ``device.layers.LiPON.thickness``, ...).
        * ``material.<Material>.<property>``: a value of a material of the device
          (after the ``device.*`` overrides), through :func:`override_materials`
          (``"material.WO3.exchange_current_density" = "20 A/m^2"``).

    Returns
    -------
    (dict, Device)
        The raw table with the ``config.*`` overrides in place (quantities still
        strings; convert with :func:`femion.units.to_si` naming the key) and the
        device with the ``device.*`` overrides applied.

    Raises
    ------
    StudyConfigError
        Unreadable file, invalid TOML, unknown or missing keys; an override key
        that is not ``config.<key>`` of the file or a device override key, or a
        ``config.*`` value of the wrong TOML type (the message names the dotted key).
    DeviceConfigError
        If the device file or a ``device.*`` override value is invalid.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise StudyConfigError(f"cannot read study config {path}: {error.strerror}") from None
    except UnicodeDecodeError as error:
        raise StudyConfigError(f"{path}: not a UTF-8 text file (byte {error.start}): a study config is TOML text") from None
    except tomllib.TOMLDecodeError as error:
        raise StudyConfigError(f"{path}: not valid TOML: {error}") from None
    allowed = set(keys) | {"device"}
    unknown, missing = sorted(set(data) - allowed), sorted(allowed - set(data))
    if unknown or missing:
        raise StudyConfigError(
            f"{path}: " + (f"unknown key(s) {unknown}" if unknown else "") + ("; " if unknown and missing else "")
            + (f"missing key(s) {missing}" if missing else "") + f" (keys: {sorted(allowed)})"
        )
    device_overrides, material_overrides = {}, {}
    for key, value in (overrides or {}).items():
        prefix, _, name = str(key).partition(".")
        if prefix == "device" and name:
            device_overrides[key] = value
        elif prefix == "material" and name:
            material_overrides[key] = value
        elif prefix == "config" and name in allowed:
            if _toml_kind(value) != _toml_kind(data[name]):
                raise StudyConfigError(
                    f"override {key!r} = {value!r} for {path}: expected a {_toml_kind(data[name])} like the file's "
                    f"value {data[name]!r}, got a {_toml_kind(value)}"
                )
            data[name] = value
        elif prefix == "config":
            close = difflib.get_close_matches(name, sorted(allowed), n=1)
            hint = f" (did you mean 'config.{close[0]}'?)" if close else ""
            raise StudyConfigError(f"unknown override {key!r}{hint}: {path} has keys {sorted(allowed)}")
        else:
            raise StudyConfigError(
                f"override {key!r} for {path}: a dotted key must start with 'config.' (a key of the file), "
                "'device.' (a device field, e.g. 'device.layers.LiPON.thickness') or 'material.' "
                "(a material value, e.g. 'material.WO3.exchange_current_density')"
            )
    for key, value in data.items():  # both variants are checked, whichever runs: a quick key has its full key's type
        full = key.removeprefix("quick_")
        if full != key and full in data and _variant_kind(value) != _variant_kind(data[full]):
            raise StudyConfigError(
                f"{path}: {key!r} is {_variant_kind(value)} while {full!r} is {_variant_kind(data[full])}: "
                "the quick variant's value must have the type of the full one"
            )
    device_path = data["device"]
    if not isinstance(device_path, str):
        raise StudyConfigError(f"{path}: 'device' must be a path string (empty for the reference device)")
    device = load_device(path.parent / device_path if device_path else None)
    if device_overrides:
        device = override_device(device, device_overrides, origin=f"overrides of {path}", base=path.parent)
    if material_overrides:
        device = override_materials(device, material_overrides, origin=f"overrides of {path}")
    return data, device


def require_layers(device: Device, names: tuple[str, ...] | list[str], origin: str = "") -> None:
    """Refuse a device that lacks a layer a study addresses by name.

    Studies that read out a named layer (e.g. the LiPON electrolyte or the WO3
    host of the reference stack, ``femion/devices/reference.toml``) call this
    right after :func:`load_study_config`, before any computation. A device
    without them is valid (``femion info`` and ``femion mesh`` accept it); only
    such a study refuses it.

    Parameters
    ----------
    device
        The study's device.
    names
        Layer names the study needs.
    origin
        The study's config file (named in the message, with its ``device`` key).

    Raises
    ------
    DeviceConfigError
        One line naming the missing layer(s), the device file and the config key.
    """
    present = {layer.name for layer in device.layers}
    missing = [name for name in names if name not in present]
    if missing:
        where = f"{origin}: 'device'" if origin else "device"
        raise DeviceConfigError(
            f"{where}: this study needs layer(s) {', '.join(map(repr, missing))}, which device {device.name!r} "
            f"({device.source or 'built in code'}) does not have; its layers: {', '.join(sorted(present))}"
        )


def apply_quick_table(config: Mapping[str, Any], keys: set[str] | frozenset[str], origin: str, quick: bool) -> dict:
    """Check a study's ``[quick]`` table and, for the quick variant, return ``config`` with its keys replaced.

    The ``[quick]`` table holds keys of the study (``keys`` minus ``"quick"``)
    whose values the quick variant uses instead of the full ones.

    Raises
    ------
    StudyConfigError
        One line naming ``origin``: ``quick`` is not a table, or names a key
        that is not one of the study's.
    """
    table = config["quick"]
    if not isinstance(table, dict):
        raise StudyConfigError(f"{origin}: quick: must be a table of the keys the quick variant replaces")
    known = set(keys) - {"quick"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise StudyConfigError(f"{origin}: quick.{unknown[0]}: not a key of the study (keys: {sorted(known)})")
    return {**config, **table} if quick else dict(config)


def load_study(study: str | Path) -> tuple[Path, ModuleType]:
    """Resolve a study folder (or its config/run file) and import its ``run.py``.

    Raises
    ------
    FileNotFoundError
        If the folder or its ``run.py`` does not exist.
    """
    path = Path(study)
    folder = path.parent if path.is_file() else path
    script = folder / "run.py"
    if not script.is_file():
        raise FileNotFoundError(
            f"study {str(study)!r}: no run.py in {folder} (a study is a folder with run.py and config.toml; "
            "studies that build on another one, e.g. on forming, need that study folder beside them)"
        )
    spec = importlib.util.spec_from_file_location(f"femion_study_{folder.name}", script)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # registered before execution, as for an import (dataclasses look it up)
    spec.loader.exec_module(module)
    return folder, module
