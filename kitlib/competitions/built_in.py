"""The table of the built-in competitions: each defined in its own module or package of
``kitlib/competitions/`` as ``COMPETITION``. Adding one is a line here (the registry in
:mod:`kitlib.competitions` and the spec-file reader, which refuses a spec named like a built-in competition,
both read this table)."""
from __future__ import annotations

from .image_classification import COMPETITION as IMAGE_CLASSIFICATION
from .llm_science_exam import COMPETITION as LLM_SCIENCE_EXAM
from .recommender import COMPETITION as RECOMMENDER
from .sentiment_classification import COMPETITION as SENTIMENT_CLASSIFICATION
from .somd_ner import COMPETITION as SOMD_NER
from .spec import Competition
from .tell_the_time import COMPETITION as TELL_THE_TIME

__all__ = ["BUILT_IN", "BUILT_IN_NAMES"]

BUILT_IN: tuple[Competition, ...] = (
    SENTIMENT_CLASSIFICATION,
    LLM_SCIENCE_EXAM,
    SOMD_NER,
    IMAGE_CLASSIFICATION,
    TELL_THE_TIME,
    RECOMMENDER,
)
BUILT_IN_NAMES = frozenset(c.name for c in BUILT_IN)
