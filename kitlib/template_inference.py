"""Which notebook template fits a competition's files (``kit new``'s ``--template``, inferred when not given).

- **image**: the image layout finder of :mod:`kitlib.tasks.images` (``find_image_layout(data_dir, options)``)
  says the folder holds an image competition: it returns an ``ImageLayout`` (whose ``spec_fields()`` go into the
  spec's ``[inputs]``), ``None`` when there are no images, or raises ``DataError`` naming what it found when images
  are there in a layout it does not know;
- **text**: ``--text COL ...``, or the string columns of ``train.csv`` shared with ``test.csv`` that
  :func:`kitlib.tasks.text.columns.looks_like_text` (median at least 30 characters or 5 words, at least 50%
  distinct); several are joined with their names;
- **tabular**: feature columns and no text; a string column that nearly looks like text gets a warning;
- anything else (no ``train.csv`` and no images; a ``train.csv`` with nothing but ids and targets) is refused,
  naming what the folder holds.

:func:`choose_template` returns the template, the spec's ``[inputs]`` and the lines ``kit new`` prints.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from .errors import DataError, ParameterError
from .tasks.text.columns import MIN_CHARS, MIN_DISTINCT, MIN_WORDS, looks_like_text, near_text, text_stats

__all__ = ["find_images", "folder_listing", "choose_template", "warn_text_like"]


def folder_listing(data_dir: Path, limit: int = 12) -> str:
    """``data_dir``'s entries (folders with a ``/``), sorted, at most ``limit`` of them."""
    entries = sorted(f"{p.name}/" if p.is_dir() else p.name for p in Path(data_dir).iterdir()) \
        if Path(data_dir).is_dir() else []
    more = f" and {len(entries) - limit} more" if len(entries) > limit else ""
    return f"{entries[:limit]}{more}"


def find_images(data_dir: Path, options: Any) -> Any:
    """The image layout of ``data_dir`` (``kitlib.tasks.images.find_image_layout``), or ``None`` when the kit has
    no image support installed or the folder holds no images. Its ``DataError`` (images in an unknown layout)
    goes through."""
    if importlib.util.find_spec("kitlib.tasks.images") is None:
        return None
    from .tasks import images

    finder = getattr(images, "find_image_layout", None)
    return finder(Path(data_dir), options) if finder is not None else None


def _text_refusal(train, candidates: list[str], source: str) -> str:
    shown = []
    for column in candidates:
        stats = text_stats(train[column])
        if stats is not None:
            shown.append(f"{column!r} ({stats})")
    found = f"its string columns: {', '.join(shown)}" if shown else "it has no string column beside the id and targets"
    return (f"{source}: no text column: {found}; a text column has a median of at least {MIN_CHARS} characters or "
            f"{MIN_WORDS} words and at least {MIN_DISTINCT:.0%} distinct values; pass --text COL to name one")


def choose_template(given: str | None, train, test, features: list[str], text: tuple[str, ...],
                    source: str) -> tuple[str, list[str], list[str]]:
    """``(template, text columns, notes)`` for a competition whose images were not found (see the module
    docstring): ``given`` (``--template``; ``None`` to infer), ``train``/``test`` the files' frames, ``features``
    their shared columns (not the id, targets or group), ``text`` the ``--text`` columns, ``source`` the
    training file's name.

    Raises ``DataError`` naming the file and what it found for a text template without a text column, a
    ``--text`` column missing from either file, or nothing to train on; ``ParameterError`` for ``--text`` with
    the tabular template."""
    if text:
        missing = [c for c in text if c not in train.columns or c not in test.columns]
        if missing:
            raise DataError(f"{source}: --text column(s) {missing} are not columns of both the training and the "
                            f"test file; their shared columns: {features}")
        if given == "tabular":
            raise ParameterError("--text names the text columns of the text template; drop it, or pass "
                                 "--template text")
    found = list(text) or [c for c in features if c in train.columns and looks_like_text(train[c])]
    if given == "text" or (given is None and found):
        if not found:
            raise DataError(_text_refusal(train, features, source))
        notes = [f"text:       {c} ({text_stats(train[c]) or 'not a string column'})" for c in found]
        left = [c for c in features if c not in found]
        if left:
            notes.append(f"features:   the text template reads only the text; left out: {left[:8]}"
                         f"{' ...' if len(left) > 8 else ''}")
        return "text", found, notes
    if given is None and not features:
        raise DataError(f"{source}: nothing to train on: no feature or text column beside the id and targets (and "
                        f"no images folder); a tabular competition needs feature columns shared with the test file, "
                        f"a text one a text column, an image one a folder of images")
    return given or "tabular", [], []


def warn_text_like(train, categorical: list[str], name: str) -> list[str]:
    """``warning:`` lines for the categorical features of a tabular competition that look like text (or nearly):
    taken as categories they teach a model little (a sentence per row scored ROC AUC 0.504)."""
    lines = []
    for column in categorical:
        if column in train.columns and near_text(train[column]):
            lines.append(f"warning:    column {column!r} looks like text ({text_stats(train[column])}); the tabular "
                         f"notebook takes it for a category, which learns little from text: `kit new {name} "
                         f"--template text --text {column} --force` trains text models on it")
    return lines
