"""The SOMD data set of a folder, parsed (:func:`read_somd` -> :class:`SomdData`), and a table of its sentences
(:func:`sentence_table`). Relation entries that cannot be used are skipped and each reported with file, line and
entry."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .files import PHASES, find_phase, read_labels, read_texts
from .labels import mentions
from .relations import read_relations

__all__ = ["SomdData", "read_somd", "sentence_table"]


@dataclass
class SomdData:
    """The competition's files, parsed: training sentences with labels and relations, and test sentences.

    ``relation_problems`` lists every relation entry that was skipped (file, line, entry, why); ``files``
    the names read (texts, entities, relations, test texts), ``phase`` which naming they follow.
    """

    train_words: list[list[str]]
    train_labels: list[list[str]]
    test_words: list[list[str]]
    data_dir: Path
    train_relations: list[list[tuple[str, int, int]]] = field(default_factory=list)
    relation_problems: list[str] = field(default_factory=list)
    phase: str = "phase1"
    files: tuple[str, str, str, str] = PHASES["phase1"]


def read_somd(data_dir: str | Path, phase: str = "auto", strict: bool = False) -> SomdData:
    """Read the training texts, entities and relations and the test texts of ``data_dir``, with the file
    names of ``phase`` (:func:`find_phase`; ``"auto"`` finds them).

    Relation entries that are malformed or do not point at an entity's first token are skipped and listed in
    ``relation_problems`` (``strict``: the first raises ``DataError``); a missing relations file gives no
    relations and one problem saying so. Raises ``DataError`` (see :func:`read_texts`, :func:`read_labels`),
    naming the missing file.
    """
    data_dir = Path(data_dir)
    phase = find_phase(data_dir, phase)
    texts, entities, relations, test = PHASES[phase]
    words = read_texts(data_dir / texts)
    labels = read_labels(data_dir / entities, words, texts_name=texts)
    if (data_dir / relations).is_file():
        entities_of = [mentions(w, lab) for w, lab in zip(words, labels)]
        rels, problems = read_relations(data_dir / relations, words, entities_of,
                                        texts_name=texts, strict=strict)
    else:
        rels, problems = [[] for _ in words], [f"{relations}: no such file in {data_dir}; no relations to learn"]
    return SomdData(words, labels, read_texts(data_dir / test), data_dir, rels, problems, phase, PHASES[phase])


def sentence_table(words: Sequence[Sequence[str]], labels: Sequence[Sequence[str]] | None = None):
    """One row per sentence (pandas DataFrame): ``sentence`` index, ``document`` (= the sentence index:
    the files carry no document id), ``n_words``, ``n_entities`` and ``types`` (comma-separated)."""
    import pandas as pd

    rows = []
    for i, ws in enumerate(words):
        ents = mentions(ws, labels[i]) if labels is not None else []
        rows.append({"sentence": i, "document": i, "n_words": len(ws), "n_entities": len(ents),
                     "types": ",".join(sorted({e[0] for e in ents}))})
    return pd.DataFrame(rows)
