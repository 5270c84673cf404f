"""Device files: the reference device and one clear error per bad input."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import femion
from femion.config import DeviceConfigError, parse_device

REFERENCE_TEXT = femion.load_device().text


def _variant(old: str, new: str) -> str:
    assert old in REFERENCE_TEXT, old
    return REFERENCE_TEXT.replace(old, new, 1)


def test_reference_device_matches_model_section_1(device):
    assert [layer.name for layer in device.layers] == ["ITO", "MoO3", "LiPON", "WO3", "Pt"]
    thicknesses_nm = [round(layer.thickness * 1e9, 9) for layer in device.layers]
    assert thicknesses_nm == [150, 200, 500, 200, 50]
    assert device.electrode_radius == pytest.approx(100e-6, rel=1e-15)
    assert device.film_radius == pytest.approx(150e-6, rel=1e-15)
    assert device.substrate.material == "glass"
    assert device.ambient == "air"
    assert device.temperature == 300.0
    assert device.film_stack_thickness == pytest.approx(900e-9, rel=1e-12)
    assert device.top_electrode.name == "Pt" and device.bottom_electrode.name == "ITO"


def test_device_from_file_round_trips(tmp_path):
    path = tmp_path / "device.toml"
    path.write_text(REFERENCE_TEXT.replace('"200 nm"', '"0.2 um"'))
    device = femion.load_device(path)
    assert device.layer("WO3").thickness == pytest.approx(200e-9, rel=1e-12)
    assert device.source == str(path)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('ambient = "air"', 'ambient = "air"\ncolour = "blue"', "unknown key(s) ['colour']"),
        ('thickness = "150 nm"', 'thickness = "150 nm"\ndensity = 3', "unknown key(s) ['layers[0].density']"),
        ('thickness = "150 nm"', "thickness = 150", "'layers[0].thickness'"),
        ('thickness = "150 nm"', 'thickness = "150"', "has no unit"),
        ('thickness = "500 nm"', 'thickness = "-500 nm"', "'layers[2].thickness' must be positive"),
        ('thickness = "500 nm"', 'thickness = "0 nm"', "'layers[2].thickness' must be positive"),
        ('film_radius = "150 um"', 'film_radius = "50 um"', "'film_radius' (50 um) must exceed"),
        ('material = "MoO3"', 'material = "unobtainium"', "unknown material 'unobtainium'"),
        ('temperature = "300 K"', 'temperature = "300 nm"', "'temperature'"),
        ('electrode_radius = "100 um"', 'electrode_radius = "100 s"', "dimension [time]"),
        ('thickness = "200 nm"', 'thickness = "nan nm"', "not finite"),
        ('ambient = "air"', 'ambient = "argon"', "'ambient' must be one of"),
        ('name = "LiPON"', 'name = "WO3"', "layer names must be unique"),
        ('thickness = "150 nm"', 'thickness = "150 um"\n', None),
        ('thickness = "500 nm"', 'thickness = "1 km"', "outside the range femion meshes"),
        ('thickness = "500 nm"', 'thickness = "150 pm"', "outside the range femion meshes"),
        ('material = "ITO"', 'material = "glass"', "is the bottom electrode but its material is a 'substrate'"),
        ('material = "WO3"', 'material = "Pt"', "is the film but its material is a 'metal'"),
        ('temperature = "300 K"', 'temperature = "300000 K"', "absolute temperature"),
    ],
)
def test_bad_device_input_raises_clear_error(old, new, message):
    if message is None:  # a valid variant (150 µm ITO): parses
        assert parse_device(_variant(old, new), origin="ok.toml").layer("ITO").thickness == pytest.approx(150e-6)
        return
    with pytest.raises(DeviceConfigError, match=re.escape(message)) as error:
        parse_device(_variant(old, new), origin="bad.toml")
    assert "bad.toml" in str(error.value)


def test_missing_key_is_named():
    text = "\n".join(line for line in REFERENCE_TEXT.splitlines() if not line.startswith("film_radius"))
    with pytest.raises(DeviceConfigError, match="missing key 'film_radius'"):
        parse_device(text, origin="bad.toml")


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DeviceConfigError, match="cannot read device file"):
        femion.load_device(tmp_path / "nope.toml")


def test_invalid_toml_is_reported():
    with pytest.raises(DeviceConfigError, match="not valid TOML"):
        parse_device("layers = [", origin="bad.toml")


def test_material_file_next_to_device(tmp_path):
    source = femion.load_material("Pt").path
    (tmp_path / "myPt.toml").write_text(Path(source).read_text(encoding="utf-8"))
    path = tmp_path / "device.toml"
    path.write_text(_variant('material = "Pt"', 'material = "myPt.toml"'))
    device = femion.load_device(path)
    assert device.material("Pt").value("yield_stress") == pytest.approx(10e6)
