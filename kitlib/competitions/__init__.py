"""The competitions the kit carries: an explicit table of the built-in ones, each defined in its own module.

``kit run``, ``kit submit`` and ``kit runs`` read :data:`COMPETITIONS`; adding a competition is one module
here (defining ``COMPETITION``), one notebook, one test module, its demo data and a line in the table
below. Importing this package imports only numpy and pandas: each module keeps torch, transformers and
Keras inside the functions that need them.
"""
from __future__ import annotations

from ..errors import ParameterError
from . import (image_classification, llm_science_exam, recommender, sentiment_classification, somd_ner,
               tell_the_time)
from .spec import ROOT, Competition, Predictions, SubmissionSpec

__all__ = ["ROOT", "Competition", "Predictions", "SubmissionSpec", "COMPETITIONS", "BUILT_IN", "get_competition"]

BUILT_IN: tuple[Competition, ...] = (
    sentiment_classification.COMPETITION,
    llm_science_exam.COMPETITION,
    somd_ner.COMPETITION,
    image_classification.COMPETITION,
    tell_the_time.COMPETITION,
    recommender.COMPETITION,
)

COMPETITIONS: dict[str, Competition] = {c.name: c for c in BUILT_IN}


def get_competition(name: str | Competition) -> Competition:
    """Return the competition called ``name`` (a :class:`Competition` is returned as it is); raise
    ``ParameterError`` listing the known ones."""
    if isinstance(name, Competition):
        return name
    try:
        return COMPETITIONS[name]
    except KeyError:
        raise ParameterError(f"Unknown competition {name!r}; expected one of {sorted(COMPETITIONS)}") from None
