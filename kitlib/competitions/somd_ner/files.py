"""The SOMD files: their names in each phase, and reading them checked.

The competition's data directory holds plain-text files, one sentence a line, in one of two namings::

    Phase I                Phase II
    train_texts.txt        texts.txt          tokens separated by spaces (real lines hold double spaces)
    train_entities.txt     entities.txt       one BIO label per token, line for line and token for token
    train_relations.txt    relations.txt      Type<TAB>subject<TAB>object entries, ';'-separated (see .relations)
    test_texts.txt         test_texts.txt     tokens of the sentences to label

The tokens of a line are its whitespace-separated fields; a line ending (``\\n`` or ``\\r\\n``) ends a sentence,
blank lines at the end of a texts or entities file are tolerated, anything else wrong is an error naming the
file and the line.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ...errors import DataError, ParameterError
from .labels import ENTITY_TYPES, LABEL_SET

__all__ = ["TRAIN_TEXTS", "TRAIN_ENTITIES", "TRAIN_RELATIONS", "TEST_TEXTS", "PHASES", "decode_text", "read_lines",
           "split_line", "read_texts", "read_labels", "find_phase"]

TRAIN_TEXTS, TRAIN_ENTITIES, TRAIN_RELATIONS, TEST_TEXTS = (
    "train_texts.txt", "train_entities.txt", "train_relations.txt", "test_texts.txt")


def decode_text(path: Path, error: type[Exception] = DataError) -> str:
    """The UTF-8 text of ``path``; ``error`` naming the file (and the line of a bad byte)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise error(f"{path.name} line {line}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def read_lines(path: Path, error: type[Exception] = DataError, text: str | None = None,
                name: str | None = None) -> list[str]:
    """The lines of ``path`` (UTF-8; or of ``text``) without line endings and without trailing blank lines."""
    text = decode_text(path, error) if text is None else text
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    while lines and lines[-1].strip() == "":
        lines.pop()
    if not lines:
        raise error(f"{name or Path(path).name}: the file is empty; expected one sentence a line")
    return lines


def split_line(line: str, name: str, number: int, what: str) -> tuple[list[str] | None, str | None]:
    """The whitespace-separated fields of one line (real files hold double spaces): ``(items, None)``, or
    ``(None, error message)`` for a line without any."""
    items = line.split()
    if not items:
        return None, f"{name} line {number}: empty line; expected {what} separated by spaces"
    return items, None


def read_texts(path: str | Path) -> list[list[str]]:
    """The sentences of a texts file, each a list of tokens (the whitespace-separated fields of its line:
    double spaces, leading or trailing spaces are no tokens).

    Raises ``DataError`` for a missing or empty file or a blank line inside the file (naming the line).
    """
    path = Path(path)
    sentences = []
    for number, line in enumerate(read_lines(path), start=1):
        tokens, err = split_line(line, path.name, number, "tokens")
        if err:
            raise DataError(err)
        sentences.append(tokens)
    return sentences


def read_labels(path: str | Path, sentences: Sequence[Sequence[str]], texts_name: str = TRAIN_TEXTS) -> list[list[str]]:
    """The BIO labels of an entities file, checked line by line against ``sentences``.

    Raises ``DataError`` when the line counts differ, a line has more or fewer labels than its sentence
    has tokens (``train_entities.txt line 812: 23 labels for 22 tokens``), or a label is not one of
    :data:`LABELS` (naming line, label position and the allowed labels).
    """
    path = Path(path)
    lines = read_lines(path)
    if len(lines) != len(sentences):
        raise DataError(f"{path.name}: {len(lines)} lines but {texts_name} has {len(sentences)} sentences; "
                        "expected one line of labels per sentence")
    labels = []
    for number, (line, tokens) in enumerate(zip(lines, sentences), start=1):
        items, err = split_line(line, path.name, number, "labels")
        if err:
            raise DataError(err)
        if len(items) != len(tokens):
            raise DataError(f"{path.name} line {number}: {len(items)} labels for {len(tokens)} tokens")
        for position, label in enumerate(items, start=1):
            if label not in LABEL_SET:
                raise DataError(f"{path.name} line {number} label {position}: unknown label {label!r}; "
                                f"expected O or B-/I- with one of {list(ENTITY_TYPES)}")
        labels.append(items)
    return labels


#: The file names of each phase: (texts, entities, relations, test texts).
PHASES: dict[str, tuple[str, str, str, str]] = {
    "phase1": (TRAIN_TEXTS, TRAIN_ENTITIES, TRAIN_RELATIONS, TEST_TEXTS),
    "phase2": ("texts.txt", "entities.txt", "relations.txt", TEST_TEXTS),
}


def find_phase(data_dir: str | Path, phase: str = "auto") -> str:
    """Which file names ``data_dir`` uses: ``"phase1"`` (``train_texts.txt``, ...) or ``"phase2"``
    (``texts.txt``, ...); ``phase="auto"`` looks for the training texts of each. Raises ``ParameterError``
    for an unknown phase, ``DataError`` when neither set of names is there."""
    if phase != "auto":
        if phase not in PHASES:
            raise ParameterError(f"Unknown phase {phase!r}; expected one of ['auto', {', '.join(map(repr, PHASES))}]")
        return phase
    for name, files in PHASES.items():
        if (Path(data_dir) / files[0]).is_file():
            return name
    raise DataError(f"{data_dir}: found neither {TRAIN_TEXTS} (Phase I) nor texts.txt (Phase II); expected "
                    f"the training texts, entities and relations and {TEST_TEXTS}")
