"""Materials database: every value in SI with a resolvable source."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest

from femion.materials import (
    PROPERTY_UNITS,
    MaterialError,
    available_materials,
    load_material,
    load_references,
    material_variant,
)

EXPECTED = {"Ag", "ITO", "LiPON", "MoO3", "Pt", "Ti", "WO3", "glass"}
REPOSITORY = Path(__file__).resolve().parents[2]


def test_database_has_every_material_of_the_model():
    assert EXPECTED <= set(available_materials())


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_source_resolves_and_every_value_is_si(name):
    """A source is a bibliography key, "assumed", or "calibrated: studies/<name>" naming a study of this repository."""
    material = load_material(name)
    references = load_references()
    assert material.name == name
    assert material.parameters, f"{name} defines no properties"
    for parameter in material.parameters.values():
        calibrated_by = parameter.source.removeprefix("calibrated: ") if parameter.calibrated else None
        assert parameter.source == "assumed" or parameter.source in references or (REPOSITORY / str(calibrated_by)).is_dir()
        assert parameter.unit == PROPERTY_UNITS[parameter.name]
        assert parameter.note.strip()
        if parameter.range is not None:
            low, high = parameter.range
            assert low <= parameter.value <= high, f"{name}.{parameter.name} outside its range"


def test_paper_values_converted_to_si():
    # Yield strengths of paper §2.6 and LiPON conductivity of Yu et al. (1997).
    assert load_material("Pt").value("yield_stress") == pytest.approx(10.0e6)
    assert load_material("Ag").value("yield_stress") == pytest.approx(56.6e6)
    assert load_material("Ti").value("yield_stress") == pytest.approx(840e6)
    assert load_material("ITO").value("yield_stress") == pytest.approx(1.2e9)
    assert load_material("LiPON").value("li_ionic_conductivity") == pytest.approx(2.3e-4)  # 2.3e-6 S/cm


def test_missing_property_names_material_and_key():
    with pytest.raises(MaterialError, match="'glass'.*no property 'yield_stress'"):
        load_material("glass")["yield_stress"]


def test_unknown_material():
    with pytest.raises(MaterialError, match="unknown material 'Xx'"):
        load_material("Xx")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[density]\nvalue = 1.0\nunit = "kg/m^3"\nsource = "nobody2099"\nnote = "x"\n', "not in references.bib"),
        ('[density]\nvalue = 1.0\nunit = "K"\nsource = "assumed"\nnote = "x"\n', "dimension"),
        ('[density]\nvalue = 1.0\nunit = "kg/m^3"\nsource = "assumed"\n', "lacks ['note']"),
        ('[colour]\nvalue = 1.0\nunit = ""\nsource = "assumed"\nnote = "x"\n', "unknown property 'colour'"),
        ('[density]\nvalue = "1"\nunit = "kg/m^3"\nsource = "assumed"\nnote = "x"\n', "must be a number"),
    ],
)
def test_malformed_material_file(tmp_path, body, message):
    path = tmp_path / "bad.toml"
    path.write_text('name = "bad"\ndescription = "test"\nkind = "metal"\n' + body)
    with pytest.raises(MaterialError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_material(path)


def _one_value(tmp_path, body):
    path = tmp_path / f"one{len(list(tmp_path.iterdir()))}.toml"  # a new path each time (files are cached by path)
    path.write_text('name = "one"\ndescription = "test"\nkind = "metal"\n[density]\nvalue = 1.0\nunit = "kg/m^3"\n' + body)
    return load_material(path)["density"]


def test_the_source_of_a_range(tmp_path):
    """A range's source is the explicit range_source, else the value's literature source, else "assumed"."""
    sourced = _one_value(tmp_path, 'source = "yu1997lipon"\nnote = "x"\nrange = [0.5, 2.0]\n')
    assert sourced.range_source == "yu1997lipon" and sourced.literature_range
    assumed = _one_value(tmp_path, 'source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\n')
    assert assumed.range_source == "assumed" and not assumed.literature_range
    calibrated = _one_value(tmp_path, 'source = "calibrated: studies/calibration"\nnote = "x"\nrange = [0.5, 2.0]\n')
    assert calibrated.range_source == "assumed"  # the fit's range keeps its source only when the file states it
    explicit = _one_value(tmp_path, 'source = "calibrated: studies/calibration"\nnote = "x"\nrange = [0.5, 2.0]\n'
                                    'range_source = "wang2025allinone"\nrange_note = "low end: Fig. S16(a)"\n')
    assert explicit.range_source == "wang2025allinone" and explicit.range_note == "low end: Fig. S16(a)"
    assert _one_value(tmp_path, 'source = "assumed"\nnote = "x"\n').range_source == ""
    for body, message in [
        ('source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\nrange_source = "nobody2099"\nrange_note = "y"\n', "range_source 'nobody2099'"),
        ('source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\nrange_source = "yu1997lipon"\n', "needs a range and a range_note"),
        ('source = "assumed"\nnote = "x"\nrange_source = "yu1997lipon"\nrange_note = "y"\n', "needs a range and a range_note"),
        ('source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\nrange_note = "y"\n', "range_note needs a range_source"),
        ('source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\nrange_source = ["yu1997lipon"]\nrange_note = "y"\n', "non-empty string"),
        ('source = "assumed"\nnote = "x"\nrange = [0.5, 2.0]\nrange_source = "yu1997lipon"\nrange_note = ""\n', "non-empty string"),
    ]:
        with pytest.raises(MaterialError, match=message):
            _one_value(tmp_path, body)


def test_lipon_diffusivity_is_nernst_einstein_consistent():
    # The database's LiPON D is derived from σ (Yu et al. 1997) and c; the Li module recomputes it: they must agree.
    import femion
    from femion.physics.lithium import lithium_properties

    device = femion.load_device()
    mesh = femion.build_mesh(device, settings=femion.QUICK_MESH).submesh(("LiPON",))
    derived = lithium_properties(mesh, device).diffusivity[0]
    assert load_material("LiPON").value("li_diffusivity") == pytest.approx(derived, rel=0.01)


def test_material_variant_rewrites_only_the_named_values(tmp_path):
    path = material_variant(
        "WO3", {"exchange_current_density": (3.5, "calibrated: studies/calibration_analog")}, tmp_path / "WO3_fit.toml", name="WO3_fit"
    )
    original, variant = load_material("WO3"), load_material(path)
    assert variant.name == "WO3_fit"
    assert variant.value("exchange_current_density") == 3.5
    assert variant["exchange_current_density"].calibrated and not variant["exchange_current_density"].assumed
    assert variant["exchange_current_density"].note == original["exchange_current_density"].note
    for key in original.parameters:
        if key != "exchange_current_density":
            assert variant[key] == replace(original[key], material="WO3_fit"), key
    # rewriting the same path is not served from the loader's cache
    material_variant("WO3", {"exchange_current_density": (7.0, "assumed")}, path)
    assert load_material(path).value("exchange_current_density") == 7.0


def test_a_variant_keeps_the_literature_source_of_a_range(tmp_path):
    # the range came from the value's own source: it keeps that source, written before the next section's comment
    original = tmp_path / "orig.toml"
    original.write_text('name = "one"\ndescription = "test"\nkind = "metal"\n[density]\nvalue = 1.0\nunit = "kg/m^3"\n'
                        'source = "yu1997lipon"\nnote = "x"\nrange = [0.5, 2.0]\n\n# ---- next section ----\n'
                        '[molar_mass]\nvalue = 0.1\nunit = "kg/mol"\nsource = "assumed"\nnote = "y"\n')
    variant = load_material(material_variant(original, {"density": (1.5, "assumed")}, tmp_path / "variant.toml"))
    assert variant["density"].source == "assumed" and variant["density"].range_source == "yu1997lipon"
    assert variant.value("density") == 1.5 and variant.value("molar_mass") == 0.1
    text = (tmp_path / "variant.toml").read_text()
    assert text.index("range_source") < text.index("# ---- next section ----")


def test_material_variant_errors(tmp_path):
    with pytest.raises(MaterialError, match="has no property 'no_such_property'"):
        material_variant("WO3", {"no_such_property": (1.0, "assumed")}, tmp_path / "a.toml")
    with pytest.raises(MaterialError, match="not in references.bib"):
        material_variant("WO3", {"exchange_current_density": (1.0, "calibrated: somewhere else")}, tmp_path / "b.toml")


def test_every_reference_entry_is_closed():
    """Each BibTeX entry of femion/references.bib balances its braces (load_references checks it) and has a title."""
    from femion.materials import load_references

    load_references.cache_clear()
    references = load_references()
    assert len(references) > 40
    for key, entry in references.items():
        assert re.search(r"\btitle\s*=", entry), key
