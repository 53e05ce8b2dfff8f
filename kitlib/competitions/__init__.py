"""The competitions the kit carries: an explicit table of the built-in ones, each defined in its own module, and
the project's own, declared in ``competitions/<name>.toml`` (``kit new`` writes them; see :mod:`.specfile`).

``kit run``, ``kit submit`` and ``kit runs`` read :data:`COMPETITIONS`; adding a built-in competition is one
module here (defining ``COMPETITION``), one notebook, one test module, its demo data and a line in the table
below. Spec files are read when asked for (an error names the file and the key); a built-in name wins.
Importing this package imports only numpy and pandas: each module keeps torch, transformers and Keras inside
the functions that need them.
"""
from __future__ import annotations

from collections.abc import Iterator, MutableMapping

from ..errors import ParameterError
from . import (image_classification, llm_science_exam, recommender, sentiment_classification, somd_ner,
               tell_the_time)
from .spec import ROOT, Competition, Predictions, SubmissionSpec, project_dir

__all__ = ["ROOT", "Competition", "Predictions", "SubmissionSpec", "COMPETITIONS", "BUILT_IN", "get_competition",
           "project_dir", "Registry"]

BUILT_IN: tuple[Competition, ...] = (
    sentiment_classification.COMPETITION,
    llm_science_exam.COMPETITION,
    somd_ner.COMPETITION,
    image_classification.COMPETITION,
    tell_the_time.COMPETITION,
    recommender.COMPETITION,
)
BUILT_IN_NAMES = frozenset(c.name for c in BUILT_IN)


class Registry(MutableMapping):
    """Name -> :class:`Competition`: the built-in table first, then the spec files of the project folder.

    Iterating lists names without parsing a spec; looking one up (``values()`` looks them all up) reads its
    file, so a broken spec is an error naming it only when it is used. Setting an item puts a competition
    in the table (tests replace a built-in one this way)."""

    def __init__(self, built_in: tuple[Competition, ...]):
        self._table = {c.name: c for c in built_in}

    def __getitem__(self, name: str) -> Competition:
        if name in self._table:
            return self._table[name]
        from .specfile import load_spec, spec_path

        if isinstance(name, str) and name and spec_path(name).is_file():
            return load_spec(spec_path(name))
        raise KeyError(name)

    def __contains__(self, name: object) -> bool:
        from .specfile import spec_path

        return name in self._table or (isinstance(name, str) and bool(name) and spec_path(name).is_file())

    def __setitem__(self, name: str, competition: Competition) -> None:
        self._table[name] = competition

    def __delitem__(self, name: str) -> None:
        del self._table[name]

    def __iter__(self) -> Iterator[str]:
        from .specfile import spec_names

        yield from self._table
        yield from (n for n in spec_names() if n not in self._table)

    def __len__(self) -> int:
        return sum(1 for _ in self)


COMPETITIONS: Registry = Registry(BUILT_IN)


def get_competition(name: str | Competition) -> Competition:
    """Return the competition called ``name`` (a :class:`Competition` is returned as it is); raise
    ``ParameterError`` listing the known ones, or naming the spec file and key that is wrong."""
    if isinstance(name, Competition):
        return name
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ParameterError(f"Unknown competition {name!r}; expected one of {sorted(COMPETITIONS)}") from None
