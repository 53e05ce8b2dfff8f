"""The SOMD 2025 label set (14 entity types, BIO-encoded) and the entities a sentence's labels mark
(:func:`mentions`)."""
from __future__ import annotations

from collections.abc import Sequence

__all__ = ["ENTITY_TYPES", "LABELS", "LABEL_SET", "mentions"]

ENTITY_TYPES: tuple[str, ...] = (
    "Application", "PlugIn", "ProgrammingEnvironment", "OperatingSystem", "SoftwareCoreference", "Version",
    "Developer", "URL", "Citation", "Abbreviation", "AlternativeName", "Extension", "License", "Release",
)
#: Every label of the task: ``O`` first, then ``B-``/``I-`` for each entity type.
LABELS: tuple[str, ...] = ("O",) + tuple(f"{p}-{t}" for t in ENTITY_TYPES for p in ("B", "I"))
LABEL_SET = frozenset(LABELS)


def mentions(words: Sequence[str], labels: Sequence[str]) -> list[tuple[str, int, int, str]]:
    """The entities of one sentence as ``(type, first word, last word, text)`` (seqeval's reading of BIO:
    an ``I-X`` that does not continue an ``X`` starts a new entity)."""
    out, start, kind = [], None, None
    for i, label in enumerate([*labels, "O"]):
        prefix, _, typ = label.partition("-")
        continues = prefix == "I" and typ == kind
        if start is not None and not continues:
            out.append((kind, start, i - 1, " ".join(words[start:i])))
            start = kind = None
        if prefix in ("B", "I") and not continues:
            start, kind = i, typ
    return out
