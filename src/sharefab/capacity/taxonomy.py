"""The capability taxonomy: process codes, their families, names and typical materials.

Pure data loaded once from ``taxonomy.json`` next to this module. No I/O beyond reading that
packaged file, no database imports.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

__all__ = [
    "RESOURCE_KINDS",
    "CapabilityDef",
    "Family",
    "Material",
    "Taxonomy",
    "UnknownCapability",
    "load_taxonomy",
]

RESOURCE_KINDS: tuple[str, ...] = (
    "machine",
    "line",
    "tool",
    "instrument",
    "vehicle",
    "service_team",
)


class UnknownCapability(KeyError):
    """A capability code that is not in the taxonomy."""

    def __init__(self, code: str, suggestions: tuple[str, ...] = ()) -> None:
        self.code = code
        self.suggestions = suggestions
        message = f"unknown capability code {code!r}"
        if suggestions:
            message += "; did you mean " + " or ".join(repr(s) for s in suggestions) + "?"
        super().__init__(message)

    def __str__(self) -> str:
        # KeyError.__str__ would repr() the message and add quotes around it.
        return str(self.args[0])


@dataclass(frozen=True, slots=True)
class Family:
    code: str
    name: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class Material:
    code: str
    name: str
    name_zh: str


@dataclass(frozen=True, slots=True)
class CapabilityDef:
    code: str
    family: str
    name: str
    name_zh: str
    description: str
    resource_kinds: tuple[str, ...]
    typical_materials: tuple[str, ...]


@dataclass(frozen=True)
class Taxonomy:
    version: int
    families: tuple[Family, ...]
    capabilities: tuple[CapabilityDef, ...]
    materials: tuple[Material, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_code", {c.code: c for c in self.capabilities})
        object.__setattr__(self, "_families", {f.code: f for f in self.families})
        object.__setattr__(self, "_materials", {m.code: m for m in self.materials})

    @property
    def codes(self) -> tuple[str, ...]:
        """All capability codes, in taxonomy order."""
        return tuple(c.code for c in self.capabilities)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self.capabilities)

    def get(self, code: str) -> CapabilityDef:
        """The capability with this code; `UnknownCapability` (a KeyError) with suggestions."""
        by_code: dict[str, CapabilityDef] = self._by_code  # type: ignore[attr-defined]
        try:
            return by_code[code]
        except KeyError:
            raise UnknownCapability(code, self.suggest(code)) from None

    def suggest(self, code: str, n: int = 3) -> tuple[str, ...]:
        """Up to ``n`` known codes that look like ``code``, closest first."""
        codes = list(self.codes)
        found = difflib.get_close_matches(code, codes, n=n, cutoff=0.6)
        if not found:
            # "5axis" or "anodize" alone: match on the last dotted part too.
            tail = code.rsplit(".", 1)[-1].lower()
            found = [c for c in codes if tail and tail in c.lower()][:n]
        return tuple(found)

    def family(self, code: str) -> Family:
        """The family with this code (KeyError if unknown)."""
        families: dict[str, Family] = self._families  # type: ignore[attr-defined]
        return families[code]

    def in_family(self, family: str) -> tuple[CapabilityDef, ...]:
        """The capabilities of one family, in taxonomy order."""
        return tuple(c for c in self.capabilities if c.family == family)

    def material(self, code: str) -> Material:
        """The material with this code (KeyError if unknown)."""
        materials: dict[str, Material] = self._materials  # type: ignore[attr-defined]
        return materials[code]


def _parse(doc: dict[str, object]) -> Taxonomy:
    families = tuple(
        Family(code=f["code"], name=f["name"], name_zh=f["name_zh"])
        for f in doc["families"]  # type: ignore[attr-defined]
    )
    capabilities = tuple(
        CapabilityDef(
            code=c["code"],
            family=c["family"],
            name=c["name"],
            name_zh=c["name_zh"],
            description=c.get("description", ""),
            resource_kinds=tuple(c["resource_kinds"]),
            typical_materials=tuple(c.get("typical_materials", ())),
        )
        for c in doc["capabilities"]  # type: ignore[attr-defined]
    )
    materials = tuple(
        Material(code=m["code"], name=m["name"], name_zh=m["name_zh"])
        for m in doc.get("materials", ())  # type: ignore[attr-defined]
    )
    family_codes = {f.code for f in families}
    for cap in capabilities:
        if cap.family not in family_codes:
            raise ValueError(f"capability {cap.code!r} names unknown family {cap.family!r}")
        bad = [k for k in cap.resource_kinds if k not in RESOURCE_KINDS]
        if bad:
            raise ValueError(f"capability {cap.code!r} has unknown resource kinds {bad}")
    return Taxonomy(
        version=int(doc["version"]),  # type: ignore[call-overload]
        families=families,
        capabilities=capabilities,
        materials=materials,
    )


@cache
def load_taxonomy() -> Taxonomy:
    """The packaged capability taxonomy (parsed once, then cached)."""
    text = resources.files("sharefab.capacity").joinpath("taxonomy.json").read_text("utf-8")
    return _parse(json.loads(text))
