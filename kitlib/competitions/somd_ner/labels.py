"""The SOMD 2025 label set: 14 entity types, BIO-encoded."""
from __future__ import annotations

__all__ = ["ENTITY_TYPES", "LABELS"]

ENTITY_TYPES: tuple[str, ...] = (
    "Application", "PlugIn", "ProgrammingEnvironment", "OperatingSystem", "SoftwareCoreference", "Version",
    "Developer", "URL", "Citation", "Abbreviation", "AlternativeName", "Extension", "License", "Release",
)
#: Every label of the task: ``O`` first, then ``B-``/``I-`` for each entity type.
LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
