"""External training questions for the LLM Science Exam (``extra_train``): read, checked, and freed of
repeats of the official prompts (:func:`read_extra_questions`); :func:`load_extra_train` is the notebook's step."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from ...data import read_csv
from ...errors import DataError
from ...tasks.multiple_choice import CHOICES as LETTERS

__all__ = ["ExtraQuestions", "normalise_prompt", "read_extra_questions", "load_extra_train"]


class ExtraQuestions(NamedTuple):
    """External training questions as the notebook uses them, and their summary for the manifest."""

    questions: pd.DataFrame  # prompt, A..E, answer (and context)
    summary: dict  # files, dropped_official, dropped_repeats, used


def normalise_prompt(text: str) -> str:
    """The form two prompts are compared in: lower case, runs of white space collapsed to one space."""
    return " ".join(str(text).lower().split())


def read_extra_questions(sources: str | Path | Sequence[str | Path],
                         official: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """External training questions: CSV or parquet files, or folders of them (every ``*.csv``/``*.parquet``
    below, sorted), with ``prompt, A..E, answer`` and optionally ``context`` (used instead of retrieval for
    that row when not empty); other columns (an ``id``, a source) are ignored. ``sources`` is one path, a
    comma-separated string of paths, or a list.

    Questions whose prompt repeats one of ``official`` (the competition's ``train.csv``: the questions CV
    scores), compared after lower-casing and collapsing white space, are dropped, and so are repeats within
    the external files. Out: ``(frame, info)``; the frame holds ``id`` (``extra-<n>``), ``prompt``, ``A..E``,
    ``answer``, ``context`` (``""`` where none) and ``source`` (file name); ``info`` counts ``files``,
    ``read``, ``dropped_official`` (repeats of an official prompt), ``dropped_repeats`` and ``kept``.
    Raises ``DataError`` naming the file, row and column: a missing file or column, an empty prompt, an
    answer outside A-E, a folder without such files.
    """
    if isinstance(sources, (str, Path)):
        sources = [s.strip() for s in str(sources).split(",") if s.strip()]
    files: list[Path] = []
    for source in map(Path, sources):
        if source.is_dir():
            found = sorted(f for f in source.rglob("*") if f.suffix in (".csv", ".parquet") and f.is_file()
                           and not any(part.startswith(".") for part in f.relative_to(source).parts))
            if not found:
                raise DataError(f"extra_train {source}: no .csv or .parquet files in this folder")
            files.extend(found)
        elif source.is_file() and source.suffix in (".csv", ".parquet"):
            files.append(source)
        else:
            raise DataError(f"extra_train {source}: not found, or not a .csv/.parquet file or a folder of them")
    needed = ["prompt", *LETTERS, "answer"]
    frames = []
    for file in files:
        df = pd.read_parquet(file) if file.suffix == ".parquet" else read_csv(file, dtype=str, keep_default_na=False)
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise DataError(f"{file}: missing column(s) {missing}; found {list(df.columns)}, expected {needed} "
                            "(and optionally 'context')")
        df = df[needed + (["context"] if "context" in df.columns else [])].copy()
        for col in df.columns:
            df[col] = df[col].map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v))
        df["answer"] = df["answer"].str.strip()
        empty = np.flatnonzero(df["prompt"].str.strip().eq("").to_numpy())
        if len(empty):
            raise DataError(f"{file}: row {empty[0] + 1}, column 'prompt': empty prompt ({len(empty)} such row(s))")
        bad = np.flatnonzero(~df["answer"].isin(LETTERS).to_numpy())
        if len(bad):
            raise DataError(f"{file}: row {bad[0] + 1}, column 'answer': {df['answer'].iat[bad[0]]!r} is not one of "
                            f"{list(LETTERS)} ({len(bad)} bad row(s))")
        frames.append(df.assign(source=file.name))
    extra = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*needed, "context", "source"])
    if "context" not in extra or not len(extra):
        extra["context"] = ""
    extra["context"] = extra["context"].fillna("")
    key = extra["prompt"].map(normalise_prompt)
    official_keys = set(official["prompt"].map(normalise_prompt))
    is_official = key.isin(official_keys).to_numpy()
    repeated = (key.duplicated() & ~key.isin(official_keys)).to_numpy()
    kept = extra[~is_official & ~repeated].reset_index(drop=True)
    kept.insert(0, "id", [f"extra-{i}" for i in range(len(kept))])
    info = {"files": [str(f) for f in files], "read": int(len(extra)), "dropped_official": int(is_official.sum()),
            "dropped_repeats": int(repeated.sum()), "kept": int(len(kept))}
    return kept[["id", "prompt", *LETTERS, "answer", "context", "source"]], info


def load_extra_train(sources: str | Path | Sequence[str | Path], official: pd.DataFrame, *,
                     limit: int | None = None) -> ExtraQuestions:
    """The :class:`ExtraQuestions` of ``sources`` (:func:`read_extra_questions`, repeats of ``official`` dropped),
    at most ``limit`` of them (smoke runs), with the summary printed. Raises ``DataError`` as
    :func:`read_extra_questions` does."""
    extra, info = read_extra_questions(sources, official)
    extra = extra.head(limit) if limit else extra
    info = {**info, "used": len(extra)}
    print(f"extra_train: {len(extra)} external questions from {len(info['files'])} file(s); dropped "
          f"{info['dropped_official']} repeating an official prompt, {info['dropped_repeats']} repeats")
    return ExtraQuestions(extra, info)
