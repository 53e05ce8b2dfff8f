"""The SOMD fold model: transformer token classifiers fine-tuned on a fold's training sentences.

:func:`transformer_fold` returns a fold function for :func:`kitlib.folds.cross_validate`: the token classifier
(:class:`Tagger`) trains as its :class:`~kitlib.fitting.Recipe` says, and with :class:`RelationTraining` a
relation classifier beside it. torch and transformers are imported when a fold runs.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ...fitting import Recipe
from ...folds import FoldResult, downsample_negatives
from ...tasks import token_classification as tc
from .labels import LABELS, mentions
from .relation_model import RELATION_RECIPE, RelationClassifier

__all__ = ["Tagger", "RelationTraining", "transformer_fold"]


@dataclass(frozen=True)
class Tagger:
    """The token classifier a SOMD fold fine-tunes: the encoder ``model`` (a local checkpoint directory or an
    offline hub id; ``""`` for all-MiniLM-L6-v2) with a fresh head, its embeddings and first ``freeze_layers``
    layers frozen, ``max_length`` sub-words per window (a quarter of overlap), and its validation labels decoded
    with ``o_threshold`` (None for argmax)."""

    model: str = ""
    freeze_layers: int = 0
    max_length: int = 128
    o_threshold: float | None = None


@dataclass(frozen=True, eq=False)
class RelationTraining:
    """The relation classifier a fold trains beside its tagger: the gold ``relations`` of every sentence
    (``(type, subject start, object start)`` tuples) and its ``recipe`` (:data:`~.relation_model.RELATION_RECIPE`
    by default; fold ``k`` trains with seed ``recipe.seed + k``)."""

    relations: Sequence[Sequence[tuple[str, int, int]]]
    recipe: Recipe = RELATION_RECIPE


def transformer_fold(
    words: Sequence[Sequence[str]],
    labels: Sequence[Sequence[str]],
    test_words: Sequence[Sequence[str]],
    *,
    recipe: Recipe = tc.TOKEN_CLASSIFIER_RECIPE,
    tagger: Tagger | None = None,
    n_seeds: int = 1,
    negative: np.ndarray | None = None,
    negative_ratio: float = 1.0,
    checkpoints: str | os.PathLike | None = None,
    resume_from: str | os.PathLike | None = None,
    wandb_run=None,
    relation_training: RelationTraining | None = None,
) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function ``fit_fold(k, train_idx, val_idx)`` over the sentences ``words`` (gold ``labels``).

    For fold ``k`` it fine-tunes ``n_seeds`` token classifiers (``tagger``, None for ``Tagger()``) with seeds
    ``recipe.seed`` (0 when None), ``+ 1``, ... (fresh head and shuffling). Each trains as ``recipe`` says
    (default :data:`kitlib.tasks.token_classification.TOKEN_CLASSIFIER_RECIPE`; handed to
    :func:`~kitlib.tasks.token_classification.fit_token_classifier` with its seed; ``device`` and ``amp_dtype``
    for the predictions too). The model with seed ``t`` trains on every training sentence with an entity and a
    ``negative_ratio`` share of those without (``negative`` marks them; the draw uses ``t + k``), so it is the
    model a run with seed ``t`` trains; the validation fold stays whole and is never trained on. Each keeps the
    evaluation with the best entity F1 on the fold's validation sentences (decoded with ``tagger.o_threshold``):
    that choice sees the validation fold.

    With ``checkpoints`` (e.g. ``run.dir / "checkpoints"``) each model is saved in ``checkpoints/fold<k>/``
    (``fold<k>/seed<t>/`` with several seeds): the best weights by ``save_pretrained``, the tokenizer,
    ``settings.json`` (labels, windows, best epoch) and the training state every epoch (or
    ``recipe.checkpoint_every`` steps); ``resume_from`` (an earlier run folder) continues the folds it holds
    (:func:`kitlib.train.fold_checkpoint`). ``wandb_run`` gets every evaluation, keys prefixed ``fold<k>/``.

    With ``relation_training`` the fold also trains a :class:`~.relation_model.RelationClassifier` (its recipe)
    on the word vectors of the first seed's model over its training sentences (gold entities and relations),
    and keeps the word vectors of the validation and test sentences (float16; from the passes that predict
    their labels, so linking costs one extra pass over the training sentences), so the held-out sentences'
    predicted entities can be linked later (:func:`~.relation_model.oof_relation_scores`,
    :func:`~.relation_model.test_relation_scores`).

    Out: :class:`~kitlib.folds.FoldResult` with ``val`` (per validation sentence, the seeds' word
    probabilities averaged), ``test`` (the same for ``test_words``) and ``info`` (``history`` of the
    first seed; per seed ``train_sentences``, ``best_epochs`` and ``best_scores``; with ``relation_training``,
    ``relations``: ``{classifier, val_sentences, val_vectors, test_vectors}``).
    """
    from ... import train
    from ...pretrained import save_tokenizer_and_settings

    tagger = tagger if tagger is not None else Tagger()
    seed, device, amp_dtype = (recipe.seed if recipe.seed is not None else 0), recipe.device, recipe.amp_dtype
    label_to_id = {lab: i for i, lab in enumerate(LABELS)}
    windows = dict(max_length=tagger.max_length, stride=tagger.max_length // 4)

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        val_labels = [list(labels[i]) for i in val_idx]
        val_probs: list[np.ndarray] | None = None
        test_probs: list[np.ndarray] | None = None
        info: dict = {"best_epochs": [], "best_scores": [], "train_sentences": []}
        for s in range(n_seeds):
            kept = train_idx if negative is None else downsample_negatives(
                train_idx, negative, negative_ratio, seed=seed + s + k)
            net, tokenizer, path = tc.load_token_classifier(tagger.model, LABELS, seed=seed + s)
            tc.freeze_layers(net, tagger.freeze_layers)
            folder, resume = train.fold_checkpoint(checkpoints, k, seed + s if n_seeds > 1 else None, resume_from)
            if folder is not None:
                save_tokenizer_and_settings(folder, tokenizer, {
                    "task": "token-classification", "base_model": str(path), "labels": list(LABELS), "fold": k,
                    "seed": seed + s, "freeze_layers": tagger.freeze_layers, **windows, "monitor": "val_entity_f1"})
            train_enc = tc.encode(tokenizer, [words[i] for i in kept], [labels[i] for i in kept],
                                  label_to_id=label_to_id, **windows)
            if s == 0:  # one tokenizer for every seed: encode the validation and test sentences once
                val_enc = tc.encode(tokenizer, [words[i] for i in val_idx], **windows)
                test_enc = tc.encode(tokenizer, list(test_words), **windows)
            prefix = f"fold{k}/" + (f"seed{seed + s}/" if n_seeds > 1 else "")
            callbacks = [train.WandbLogger(wandb_run, prefix=prefix)] if wandb_run is not None else []
            linking = relation_training is not None and s == 0
            fit = tc.fit_token_classifier(
                net, train_enc, labels=LABELS, val=val_enc, val_labels=val_labels,
                recipe=replace(recipe, seed=seed + s), checkpoint_dir=folder, resume=resume, callbacks=callbacks,
                scoring=tc.ValidationScoring(tagger.o_threshold, vectors=linking),
                desc=f"fold {k}" + (f" seed {seed + s}" if n_seeds > 1 else ""))
            if folder is not None:
                save_tokenizer_and_settings(folder, None, {"best_epoch": fit.best_epoch, "best_score": fit.best_score})
            if linking:  # one pass gives the test probabilities and the word vectors the relations need
                test, test_vectors = tc.predict_word_probs_and_vectors(fit.model, test_enc, device=device,
                                                                       amp_dtype=amp_dtype)
                relation_recipe = relation_training.recipe
                relation_recipe = replace(relation_recipe, seed=(relation_recipe.seed or 0) + k)
                classifier = _relation_fold(fit.model, tokenizer, windows, words, labels, relation_training.relations,
                                            kept, recipe=recipe, relation_recipe=relation_recipe, folder=folder)
                info["relations"] = {"classifier": classifier, "val_sentences": [int(i) for i in val_idx],
                                     "val_vectors": [v.astype(np.float16) for v in fit.val_vectors],
                                     "test_vectors": [v.astype(np.float16) for v in test_vectors]}
            else:
                test = tc.predict_word_probs(fit.model, test_enc, device=device, amp_dtype=amp_dtype)
            val_probs = _add(val_probs, fit.val_probs, n_seeds)
            test_probs = _add(test_probs, test, n_seeds)
            info["train_sentences"].append(int(len(kept)))
            info["best_epochs"].append(fit.best_epoch)
            info["best_scores"].append(float(fit.best_score))
            info.setdefault("history", fit.history)
        return FoldResult(val=val_probs, test=test_probs, info=info)

    return fit_fold


def _relation_fold(net, tokenizer, windows: dict, words, labels, relations, kept, *, recipe: Recipe,
                   relation_recipe: Recipe, folder=None) -> RelationClassifier:
    """A relation classifier trained as ``relation_recipe`` says on the word vectors of the fold's token
    classifier ``net`` (computed on ``recipe.device`` in ``recipe.amp_dtype``) over its training sentences
    ``kept`` with two entities or more (the others have no candidate pair), with their gold entities and
    relations; saved in ``folder`` as ``relation_classifier.pt`` when given."""
    ents = {i: mentions(words[i], labels[i]) for i in kept}
    linked = [i for i in kept if len(ents[i]) >= 2]
    vectors = tc.predict_word_vectors(net, tc.encode(tokenizer, [words[i] for i in linked], **windows),
                                      device=recipe.device, amp_dtype=recipe.amp_dtype) if linked else []
    clf = RelationClassifier(relation_recipe).fit(vectors, [ents[i] for i in linked], [relations[i] for i in linked])
    if folder is not None:
        clf.save(Path(folder) / "relation_classifier.pt")
    return clf


def _add(total: list[np.ndarray] | None, part: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """``total + part / n`` sentence by sentence (``part / n`` when ``total`` is None)."""
    scaled = [np.asarray(p, dtype=np.float32) / n for p in part]
    return scaled if total is None else [a + b for a, b in zip(total, scaled)]
