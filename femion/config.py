"""Device description: TOML file -> frozen, validated SI dataclasses.

A device file names the layer stack, the electrode and film radii, the substrate,
the ambient and the temperature (see ``femion/devices/reference.toml``). It is
parsed once; quantities are strings with units (``"200 nm"``) converted to SI
with pint (:mod:`femion.units`). Unknown keys, missing units, non-positive or
implausible sizes (outside :data:`THICKNESS_RANGE` / :data:`RADIUS_RANGE`), a
film radius smaller than the electrode radius, unknown materials and materials
in the wrong role (an insulator as electrode, a metal as film) raise
:class:`DeviceConfigError` naming the key and the file.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from femion.materials import Material, MaterialError, load_material
from femion.units import UnitError, to_si

__all__ = [
    "AMBIENTS",
    "Device",
    "DeviceConfigError",
    "Layer",
    "StudyConfigError",
    "load_device",
    "load_study_config",
    "parse_device",
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
    """A vertical thin-film disk device in SI units (MODEL.md §1).

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

    The reference device (MODEL.md §1) is ITO 150 nm / MoO3 200 nm / LiPON 500 nm /
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
        try:
            metres = to_si(value, "m", name=key, origin=origin)
        except UnitError as error:
            raise DeviceConfigError(str(error)) from None
        if metres <= 0.0:
            raise fail(f"{key!r} must be positive, got {value!r}")
        if not bounds[0] <= metres <= bounds[1]:
            raise fail(
                f"{key!r} = {value!r} is outside the range femion meshes, "
                f"{bounds[0]:g} m to {bounds[1]:g} m (a unit typo?)"
            )
        return metres

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
    try:
        temperature = to_si(data["temperature"], "K", name="temperature", origin=origin)
    except UnitError as error:
        raise DeviceConfigError(str(error)) from None
    if not 0.0 < temperature <= MAX_TEMPERATURE:
        raise fail(f"'temperature' must be an absolute temperature in (0, {MAX_TEMPERATURE:g}] K, got {data['temperature']!r}")
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


def load_study_config(path: str | Path, keys: set[str]) -> tuple[dict[str, Any], Device]:
    """Read a study's ``config.toml``: exactly the ``keys`` (plus ``device``), and its device.

    ``device`` is a device TOML path relative to the config file's folder, or
    empty for the built-in reference device.

    Returns
    -------
    (dict, Device)
        The raw table (quantities still strings; convert with
        :func:`femion.units.to_si` naming the key) and the device.

    Raises
    ------
    StudyConfigError
        Unreadable file, invalid TOML, unknown or missing keys.
    DeviceConfigError
        If the device file is invalid.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except OSError as error:
        raise StudyConfigError(f"cannot read study config {path}: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise StudyConfigError(f"{path}: not valid TOML: {error}") from None
    allowed = set(keys) | {"device"}
    unknown, missing = sorted(set(data) - allowed), sorted(allowed - set(data))
    if unknown or missing:
        raise StudyConfigError(
            f"{path}: " + (f"unknown key(s) {unknown}" if unknown else "") + ("; " if unknown and missing else "")
            + (f"missing key(s) {missing}" if missing else "") + f" (keys: {sorted(allowed)})"
        )
    device_path = data["device"]
    if not isinstance(device_path, str):
        raise StudyConfigError(f"{path}: 'device' must be a path string (empty for the reference device)")
    device = load_device(path.parent / device_path if device_path else None)
    return data, device
