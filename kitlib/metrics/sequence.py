"""Sequence-labelling metrics: entity-level and token-level precision/recall/F1 (SOMD 2025)."""
from __future__ import annotations

__all__: list[str] = []
