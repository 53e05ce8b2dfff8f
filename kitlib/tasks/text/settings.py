"""The text template's model settings: what each model trains with, gathered once from the notebook's parameters
and handed down unread (the fine-tuning :class:`~kitlib.fitting.Recipe` inside :class:`FineTuning`). Imports
neither torch nor scikit-learn."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ...budget import Budget
from ...fitting import Recipe
from .linear import TfidfSettings

__all__ = ["MODELS", "FINE_TUNE_RECIPE", "Deadline", "FineTuning", "TextSettings"]

MODELS = ("tfidf", "embeddings", "transformer")  # in the order a run evaluates them: the cheap ones first
# what the fine-tuning trains with unless given a recipe: two epochs at 5e-5, 10% warmup, linear decay
FINE_TUNE_RECIPE = Recipe(epochs=2, lr=5e-5, batch_size=16, warmup=0.1, weight_decay=0.01, schedule="linear", seed=0)


@dataclass(frozen=True)
class FineTuning:
    """What :func:`transformer_fold` trains: ``model`` (a checkpoint folder; ``None`` for the default),
    ``recipe`` (handed to ``fit``), ``max_rows`` (training rows per fold, a random subset beyond it; ``None`` for
    all), ``checkpoints`` (a folder for the fold models; ``None`` keeps none), ``resume_from`` (an earlier run
    folder whose fold checkpoints carry on), ``predict_batch`` (texts per inference batch), ``deadline`` (a
    :class:`Deadline` that stops training in time to predict; ``None`` for none)."""

    model: str | os.PathLike | None = None
    recipe: Recipe = FINE_TUNE_RECIPE
    max_rows: int | None = None
    checkpoints: str | os.PathLike | None = None
    resume_from: str | os.PathLike | None = None
    predict_batch: int = 64
    deadline: Deadline | None = None


@dataclass(frozen=True)
class Deadline:
    """When fine-tuning must stop so that the run still ends within its budget: training stops (at its next
    evaluation) once ``budget`` has less left than ``reserve_s`` plus ``predict_s`` (one fold's predictions) for
    this fold and each fold after it (of ``folds`` fold models, numbered from 0), plus ``overhead_s`` for each fold
    after it."""

    budget: Budget
    reserve_s: float
    predict_s: float
    folds: int
    overhead_s: float = 3.0

    def passed(self, folds_left: int) -> bool:
        """True once training a fold with ``folds_left - 1`` folds after it must stop."""
        need = self.reserve_s + self.predict_s * folds_left + self.overhead_s * max(0, folds_left - 1)
        return self.budget.limited and self.budget.remaining() < need


@dataclass(frozen=True)
class TextSettings:
    """The run's model knobs: ``models`` (in :data:`MODELS` order), ``tfidf``, ``embed_model`` (``None``: the kit's
    default embedder) and ``embed_C``, ``max_length`` tokens per text (both encoders), ``tuning`` (the fine-tuned
    transformer: model, recipe, checkpoints, resume), ``device``, ``cache_dir`` for the embeddings, ``seed``,
    ``reserve_s`` seconds kept for the ensemble and the submission."""

    models: tuple[str, ...] = MODELS
    tfidf: TfidfSettings = TfidfSettings()
    embed_model: str | None = None
    embed_C: float = 0.5
    max_length: int = 256
    tuning: FineTuning = FineTuning()
    device: str = "auto"
    cache_dir: str | Path | None = None
    seed: int = 0
    reserve_s: float = 30.0
