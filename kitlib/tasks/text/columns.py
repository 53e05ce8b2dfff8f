"""Which columns of a competition's table are text, and how several text columns become one text per row.

A column is text when its values are strings whose median length is at least :data:`MIN_CHARS` characters or
:data:`MIN_WORDS` words and at least :data:`MIN_DISTINCT` of them are distinct (a sentence, a review, a title with
a body), as opposed to a category (a colour, a country: few distinct values) or a code. A column that is a little
shorter but as distinct (:func:`near_text`) is worth a warning when a tabular notebook takes it for a category.

Several text columns are joined with their names, one per line (``title: ...`` then ``body: ...``), so a model
sees which part is which; a single column is its text as it is. A missing value is the empty text.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["MIN_CHARS", "MIN_WORDS", "MIN_DISTINCT", "TextStats", "text_stats", "looks_like_text", "near_text",
           "find_text_columns", "join_texts"]

MIN_CHARS = 30
MIN_WORDS = 5
MIN_DISTINCT = 0.5
NEAR_WORDS = 3  # a string column this long in words (and as distinct) is worth a warning in a tabular notebook


@dataclass(frozen=True)
class TextStats:
    """A string column's median length in characters and in words, and the share of its values that are
    distinct (missing values left out)."""

    chars: float
    words: float
    distinct: float

    def __str__(self) -> str:
        return f"median {self.chars:.0f} characters, {self.words:.0f} words; {self.distinct:.0%} distinct"


def _strings(values: pd.Series) -> pd.Series | None:
    """The non-missing values of ``values`` as text when the column holds text (not numbers or booleans)."""
    if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    present = values.dropna()
    if present.empty:
        return None
    text = present.astype(str)
    if pd.to_numeric(text, errors="coerce").notna().mean() > 0.9:  # numbers read as text (mixed column)
        return None
    return text


def text_stats(values: pd.Series) -> TextStats | None:
    """:class:`TextStats` of a string column; ``None`` for a numeric, boolean or empty one."""
    text = _strings(values)
    if text is None:
        return None
    return TextStats(chars=float(text.str.len().median()), words=float(text.str.split().str.len().median()),
                     distinct=float(text.nunique() / len(text)))


def looks_like_text(values: pd.Series) -> bool:
    """True when ``values`` is a text column (see the module docstring)."""
    stats = text_stats(values)
    return stats is not None and stats.distinct >= MIN_DISTINCT and (
        stats.chars >= MIN_CHARS or stats.words >= MIN_WORDS)


def near_text(values: pd.Series) -> bool:
    """True for a text column, or a string column nearly long enough (:data:`NEAR_WORDS` words) and as distinct:
    a tabular notebook that takes it for a category learns little from it."""
    stats = text_stats(values)
    return stats is not None and stats.distinct >= MIN_DISTINCT and (
        stats.chars >= MIN_CHARS or stats.words >= NEAR_WORDS)


def find_text_columns(frame: pd.DataFrame, candidates: Sequence[str]) -> list[str]:
    """The columns of ``candidates`` (in their order) that :func:`looks_like_text` in ``frame``."""
    return [c for c in candidates if c in frame.columns and looks_like_text(frame[c])]


def join_texts(frame: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """One text per row of ``frame``: the one column's text, or ``"<column>: <text>"`` per column, one a line;
    a missing value is the empty text. Raises ``KeyError`` for a column ``frame`` lacks (callers check first)."""
    parts = [frame[c].astype("string").fillna("").astype(str) for c in columns]
    if len(parts) == 1:
        return parts[0].tolist()
    joined = parts[0].radd(f"{columns[0]}: ")
    for column, part in zip(columns[1:], parts[1:]):
        joined = joined + f"\n{column}: " + part
    return joined.tolist()
