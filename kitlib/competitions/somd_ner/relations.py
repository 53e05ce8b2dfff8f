"""SOMD relations (Subtask II): the relations file, candidate pairs and the rule baseline.

``*_relations.txt`` holds one line per sentence (an empty line: no relation). Entries are separated by
``;`` (with or without a space after it); each is ``Type<TAB>subject<TAB>object``, subject and object the
indices (from 0) of the first token of an entity of the same sentence::

    Developer_of\t41\t37; URL_of\t44\t37

A relation is the tuple ``(type, subject, object)``. Reading checks every entry against the sentence's
entities (indices in range, at the first token of an entity); an entry that fails is skipped and
reported as ``relations.txt line 12 entry 2: ...`` (the published files hold a few, e.g.
``Version_of\t6,8\t3``), so nothing is dropped silently. Entities are :func:`~.labels.mentions` tuples
``(type, first token, last token, text)``.

The rule baseline (:class:`RuleLinker`) links each attribute entity to the nearest entity of a type its
relation takes as object; :func:`candidate_pairs` lists the ordered entity pairs of a sentence whose type
pair occurs in training, what the relation classifier (:mod:`.relation_model`) scores.
"""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from ...errors import DataError, ParameterError
from .files import decode_text

__all__ = ["RELATION_TYPES", "Relation", "parse_relations_line", "check_relations", "read_relations",
           "format_relations", "relation_type_pairs", "candidate_pairs", "RuleLinker"]

#: The relation types of the shared task (the data decide which occur).
RELATION_TYPES: tuple[str, ...] = (
    "Developer_of", "Version_of", "URL_of", "Citation_of", "Release_of", "License_of", "PlugIn_of",
    "Abbreviation_of", "AlternativeName_of", "Extension_of", "Specification_of",
)
Relation = tuple[str, int, int]
_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)*")
_INDEX = re.compile(r"\d+")


def parse_relations_line(line: str, where: str) -> tuple[list[Relation], list[str]]:
    """The well-formed entries of one line and a message for each malformed one.

    ``where`` names the place (``"relations.txt line 7"``); messages read ``"<where> entry 2: 'Version_of\\t6,8\\t3':
    subject '6,8' is not a token index; expected Type<TAB>subject<TAB>object"``.
    """
    relations, problems = [], []
    if line.strip() == "":
        return relations, problems
    for k, entry in enumerate(line.split(";"), start=1):
        entry = entry.strip(" \r")
        if entry == "":
            continue  # a trailing ';'
        parts = entry.split("\t")
        if len(parts) != 3:
            parts = entry.split()
        expected = "expected Type<TAB>subject<TAB>object with token indices"
        if len(parts) != 3:
            problems.append(f"{where} entry {k}: {entry!r}: {len(parts)} fields; {expected}")
            continue
        typ, subj, obj = (p.strip() for p in parts)
        bad = ([f"relation type {typ!r} is not a name like 'Version_of'"] if not _TYPE.fullmatch(typ) else []) + [
            f"{what} {value!r} is not a token index" for what, value in (("subject", subj), ("object", obj))
            if not _INDEX.fullmatch(value)]
        if bad:
            problems.append(f"{where} entry {k}: {entry!r}: {'; '.join(bad)}; {expected}")
            continue
        relations.append((typ, int(subj), int(obj)))
    return relations, problems


def check_relations(relations: Sequence[Relation], words: Sequence[str], entities: Sequence[tuple] | None,
                    where: str) -> tuple[list[Relation], list[str]]:
    """Keep the relations whose subject and object are token indices of the sentence ``words`` at the first
    token of an entity (of ``entities``; any token when None), neither pointing at the same entity; one
    message per other relation. Repeats are kept once."""
    starts = None if entities is None else {e[1]: e[0] for e in entities}
    kept, problems, seen = [], [], set()
    for typ, subj, obj in relations:
        text = f"{typ}\t{subj}\t{obj}"
        bad = []
        for what, index in (("subject", subj), ("object", obj)):
            if index >= len(words):
                bad.append(f"{what} {index} is out of range for a sentence of {len(words)} tokens")
            elif starts is not None and index not in starts:
                bad.append(f"{what} {index} ({words[index]!r}) is not the first token of an entity")
        if not bad and subj == obj:
            bad.append("subject and object are the same entity")
        if bad:
            problems.append(f"{where}: {text!r}: {'; '.join(bad)}")
        elif (typ, subj, obj) not in seen:
            seen.add((typ, subj, obj))
            kept.append((typ, subj, obj))
    return kept, problems


def read_relations(path, sentences: Sequence[Sequence[str]], entities: Sequence[Sequence[tuple]] | None = None,
                   *, texts_name: str = "texts", strict: bool = False) -> tuple[list[list[Relation]], list[str]]:
    """The relations of a relations file, one list per sentence, and the problems found (each naming the file,
    line and entry). Malformed entries, indices out of range and indices that are not an entity's first token
    (checked against ``entities``, the :func:`~.mentions` of each sentence) are skipped and reported; with
    ``strict`` the first one raises ``DataError``. Fewer lines than sentences (trailing empty lines cut off)
    is reported and the rest taken as empty; more non-empty lines than sentences raises ``DataError``.
    """
    path = Path(path)
    text = decode_text(path, DataError)
    lines = [ln[:-1] if ln.endswith("\r") else ln for ln in text.split("\n")]
    if text.endswith("\n"):
        lines.pop()
    if text == "":
        lines = []
    problems: list[str] = []
    if len(lines) > len(sentences):
        extra = [i for i in range(len(sentences), len(lines)) if lines[i].strip()]
        if extra:
            raise DataError(f"{path.name}: {len(lines)} lines but {texts_name} has {len(sentences)} sentences "
                            f"(line {extra[0] + 1} holds relations); expected one line per sentence")
        lines = lines[:len(sentences)]
    elif len(lines) < len(sentences):
        problems.append(f"{path.name}: {len(lines)} lines for {len(sentences)} sentences of {texts_name}; the last "
                        f"{len(sentences) - len(lines)} taken to have no relation")
    out, n_entries, n_shifted = [], 0, 0
    for number, words in enumerate(sentences, start=1):
        line = lines[number - 1] if number <= len(lines) else ""
        where = f"{path.name} line {number}"
        rels, bad = parse_relations_line(line, where)
        ents = None if entities is None else entities[number - 1]
        if ents is not None:  # would the entries fit if the file counted tokens from 1?
            starts = {e[1] for e in ents}
            n_entries += len(rels)
            n_shifted += sum(s - 1 in starts and o - 1 in starts and not (s in starts and o in starts)
                             for _, s, o in rels)
        rels, wrong = check_relations(rels, words, ents, where)
        if strict and (bad or wrong):
            raise DataError((bad + wrong)[0])
        problems += bad + wrong
        out.append(rels)
    if n_entries and n_shifted > n_entries / 2:
        problems.insert(0, f"{path.name}: {n_shifted} of {n_entries} entries point one token after entity starts; the "
                           "file seems to count tokens from 1, expected from 0")
    return out, problems


def format_relations(relations: Sequence[Relation]) -> str:
    """One sentence's relations as a line of the relations file (without the line end): entries
    ``Type<TAB>subject<TAB>object`` joined by ``"; "``, sorted by subject, object and type."""
    return "; ".join(f"{t}\t{s}\t{o}" for t, s, o in sorted(relations, key=lambda r: (r[1], r[2], r[0])))


# ------------------------------------------------------------------------------------- candidates
def relation_type_pairs(entities: Sequence[Sequence[tuple]], relations: Sequence[Sequence[Relation]]) -> dict:
    """``(subject type, object type) -> Counter of relation types`` over training sentences."""
    pairs: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for ents, rels in zip(entities, relations):
        types = {e[1]: e[0] for e in ents}
        for typ, subj, obj in rels:
            if subj in types and obj in types:
                pairs[(types[subj], types[obj])][typ] += 1
    return dict(pairs)


def candidate_pairs(entities: Sequence[tuple], type_pairs) -> list[tuple[int, int]]:
    """The ordered pairs ``(i, j)`` of entities of one sentence (indices into ``entities``, ``i != j``) whose
    ``(type of i, type of j)`` is in ``type_pairs`` (e.g. the keys of :func:`relation_type_pairs`), in order
    of ``i`` then ``j``."""
    return [(i, j) for i, a in enumerate(entities) for j, b in enumerate(entities)
            if i != j and (a[0], b[0]) in type_pairs]


def _gap(a: tuple, b: tuple) -> int:
    """Tokens between two spans (0 when adjacent or overlapping)."""
    return max(b[1] - a[2] - 1, a[1] - b[2] - 1, 0)


class RuleLinker:
    """The rule baseline: each attribute entity linked to the nearest software mention with its type's relation.

    ``fit`` learns from training sentences which entity types are attributes: a type becomes a subject type
    when at least ``min_share`` of its entities are the subject of a relation; its relation is the type it is
    most often subject of, and its object types those that relation links it to. ``predict`` links every
    entity of a subject type to the nearest entity (fewest tokens between them; on a tie the one before it) of
    one of its object types. Learned attribute: ``rules_`` (subject type -> (relation type, object types)).
    """

    def __init__(self, min_share: float = 0.5):
        self.min_share = min_share

    def fit(self, entities: Sequence[Sequence[tuple]], relations: Sequence[Sequence[Relation]]) -> RuleLinker:
        """Learn the rules from the entities and relations of training sentences; returns ``self``."""
        n_type: Counter = Counter()
        linked: Counter = Counter()
        rel_of: dict[str, Counter] = defaultdict(Counter)
        objects: dict[tuple[str, str], Counter] = defaultdict(Counter)
        for ents, rels in zip(entities, relations):
            types = {e[1]: e[0] for e in ents}
            n_type.update(e[0] for e in ents)
            subjects = set()
            for typ, subj, obj in rels:
                if subj in types and obj in types:
                    subjects.add(subj)
                    rel_of[types[subj]][typ] += 1
                    objects[(types[subj], typ)][types[obj]] += 1
            linked.update(types[s] for s in subjects)
        self.rules_ = {}
        for typ, n in n_type.items():
            if n and linked[typ] / n >= self.min_share and rel_of[typ]:
                relation = rel_of[typ].most_common(1)[0][0]
                self.rules_[typ] = (relation, frozenset(objects[(typ, relation)]))
        return self

    def predict(self, entities: Sequence[Sequence[tuple]]) -> list[list[Relation]]:
        """Relations for each sentence's entities. Raises ``ParameterError`` before ``fit``."""
        if not hasattr(self, "rules_"):
            raise ParameterError("RuleLinker.predict called before fit")
        out = []
        for ents in entities:
            rels = []
            for a in ents:
                if a[0] not in self.rules_:
                    continue
                relation, object_types = self.rules_[a[0]]
                options = [(_gap(a, b), 0 if b[1] < a[1] else 1, b[1]) for b in ents
                           if b is not a and b[0] in object_types and b[1] != a[1]]
                if options:
                    rels.append((relation, a[1], min(options)[2]))
            out.append(rels)
        return out
