"""Text competitions (a ``train.csv`` with one or more text columns, a ``test.csv``, a ``sample_submission.csv``):
the texts, the folds, the models and the run of them under a time budget. What ``kit new`` text competitions and
their template notebook use; nothing here knows a competition. torch is imported only by :mod:`.transformer` and
:mod:`.planning`'s measurement, when the transformer runs.

- :mod:`.columns`: which columns are text (:func:`looks_like_text`), several joined into one text per row;
- :mod:`.data`: :func:`load` the files into :class:`TextData`, :func:`text_folds`, :func:`text_lengths`;
- :mod:`.linear`: TF-IDF (word and character n-grams) and embedding fold functions with linear heads;
- :mod:`.transformer`: a fine-tuned transformer encoder through :func:`kitlib.train.fit`;
- :mod:`.planning`: measured speeds, and what of the transformer (and the embeddings) a budget holds;
- :mod:`.settings`: :class:`TextSettings`, :class:`FineTuning`;
- :mod:`.runner`: the models in order under a :class:`kitlib.budget.Budget`, their tables and the ensemble;
- :mod:`.plots`: text lengths and label balance.
"""
from .columns import find_text_columns, join_texts, looks_like_text, near_text, text_stats
from .data import SMOKE_ROWS, TextData, load, text_folds, text_lengths
from .linear import TfidfSettings
from .plots import plot_summary
from .runner import (
    Final,
    TextModels,
    choose_final,
    final_metrics,
    model_records,
    model_tables,
    parse_models,
    rescore,
    run_models,
)
from .settings import FINE_TUNE_RECIPE, MODELS, Deadline, FineTuning, TextSettings

__all__ = ["find_text_columns", "join_texts", "looks_like_text", "near_text", "text_stats", "SMOKE_ROWS", "TextData",
           "load", "text_folds", "text_lengths", "TfidfSettings", "plot_summary", "Final", "TextModels",
           "choose_final", "final_metrics", "model_records", "model_tables", "parse_models", "rescore", "run_models",
           "FINE_TUNE_RECIPE", "MODELS", "Deadline", "FineTuning", "TextSettings"]
