"""The capability taxonomy: its content and its loader."""

from __future__ import annotations

import re

import pytest

from sharefab.capacity.taxonomy import (
    RESOURCE_KINDS,
    CapabilityDef,
    UnknownCapability,
    load_taxonomy,
)

EXPECTED_FAMILIES = {
    "machining", "forming", "molding", "casting", "joining", "finishing", "heat_treatment",
    "additive", "inspection", "testing", "design", "logistics", "assembly", "electronics",
}  # fmt: skip
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_taxonomy_has_at_least_40_unique_codes() -> None:
    """The taxonomy offers at least 40 process codes and none is listed twice."""
    tax = load_taxonomy()
    codes = [c.code for c in tax.capabilities]
    assert len(codes) >= 40
    assert len(codes) == len(set(codes))


def test_every_family_is_used_and_known() -> None:
    """All 14 process families exist and each has at least one capability."""
    tax = load_taxonomy()
    assert {f.code for f in tax.families} == EXPECTED_FAMILIES
    used = {c.family for c in tax.capabilities}
    assert used == EXPECTED_FAMILIES


def test_codes_from_the_design_exist() -> None:
    """The codes the design and the UI name are all in the taxonomy."""
    tax = load_taxonomy()
    for code in (
        "milling.cnc.3axis", "milling.cnc.5axis", "turning.cnc", "grinding.surface", "edm.wire",
        "sheet.laser_cut", "sheet.bending", "sheet.punching", "molding.injection", "casting.die",
        "casting.sand", "welding.tig", "welding.robot", "coating.powder", "coating.anodize",
        "plating.zinc", "heat_treat.vacuum", "heat_treat.induction", "print3d.sls",
        "print3d.slm", "print3d.fdm", "inspection.cmm", "inspection.xray", "testing.tensile",
        "testing.salt_spray", "testing.emc", "pcb.smt", "pcb.tht", "pcb.aoi", "assembly.manual",
        "design.cad", "design.dfm_review", "logistics.truck",
    ):  # fmt: skip
        assert isinstance(tax.get(code), CapabilityDef), code


def test_entries_are_complete_with_chinese_names() -> None:
    """Every capability has English and Chinese names, a description and valid resource kinds."""
    tax = load_taxonomy()
    for cap in tax.capabilities:
        assert re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)+", cap.code), cap.code
        assert cap.name
        assert cap.description
        assert HAN.search(cap.name_zh), cap.code
        assert cap.resource_kinds
        assert set(cap.resource_kinds) <= set(RESOURCE_KINDS)
    for fam in tax.families:
        assert HAN.search(fam.name_zh)


def test_chinese_names_use_standard_terms() -> None:
    """Key processes carry the usual Chinese shop-floor terms."""
    tax = load_taxonomy()
    assert tax.get("milling.cnc.5axis").name_zh == "数控五轴铣削"
    assert tax.get("molding.injection").name_zh == "注塑成型"
    assert tax.get("heat_treat.vacuum").name_zh == "真空热处理"
    assert tax.get("inspection.cmm").name_zh == "三坐标测量"


def test_typical_materials_are_known_materials() -> None:
    """Every typical material of a capability is described in the materials list."""
    tax = load_taxonomy()
    for cap in tax.capabilities:
        for m in cap.typical_materials:
            assert HAN.search(tax.material(m).name_zh) or tax.material(m).name_zh, m


def test_unknown_code_suggests_a_close_match() -> None:
    """A mistyped code raises a KeyError that names it and suggests the right one."""
    tax = load_taxonomy()
    with pytest.raises(UnknownCapability) as info:
        tax.get("milling.cnc.5axes")
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert "milling.cnc.5axes" in message
    assert "milling.cnc.5axis" in message
    assert info.value.suggestions[0] == "milling.cnc.5axis"


def test_suggestion_from_a_bare_process_name() -> None:
    """Asking for just 'anodize' points to coating.anodize."""
    with pytest.raises(UnknownCapability, match=r"coating\.anodize"):
        load_taxonomy().get("anodize")


def test_loader_is_cached_and_immutable() -> None:
    """The taxonomy is parsed once and its entries cannot be changed by a caller."""
    tax = load_taxonomy()
    assert load_taxonomy() is tax
    with pytest.raises(AttributeError):
        tax.get("turning.cnc").name = "x"  # type: ignore[misc]
