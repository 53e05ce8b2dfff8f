"""The SOMD fold model: transformer token classifiers fine-tuned on a fold's training sentences.

:func:`transformer_fold` returns a fold function for :func:`kitlib.folds.cross_validate`. torch and
transformers are imported when a fold runs.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ...folds import FoldResult, downsample_negatives
from ...tasks import token_classification as tc
from .labels import LABELS, mentions

__all__ = ["transformer_fold"]


def transformer_fold(
    words: Sequence[Sequence[str]],
    labels: Sequence[Sequence[str]],
    test_words: Sequence[Sequence[str]],
    *,
    model: str = "",
    negative: np.ndarray | None = None,
    negative_ratio: float = 1.0,
    seed: int = 0,
    n_seeds: int = 1,
    freeze_layers: int = 0,
    max_length: int = 128,
    epochs: int = 3,
    lr: float = 5e-5,
    batch_size: int = 16,
    accumulate: int = 1,
    max_grad_norm: float | None = 1.0,
    lr_decay: float | None = None,
    ema: float | None = None,
    grad_checkpointing: bool = False,
    eval_every: int | None = None,
    amp_dtype: str = "auto",
    o_threshold: float | None = None,
    device: str = "auto",
    checkpoints: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    resume_from: str | os.PathLike | None = None,
    wandb_run=None,
    progress: bool = True,
    processes: int = 1,
    relations: Sequence[Sequence[tuple[str, int, int]]] | None = None,
    relation_epochs: int = 25,
    relation_lr: float = 2e-3,
) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function ``fit_fold(k, train_idx, val_idx)`` over the sentences ``words`` (gold ``labels``).

    For fold ``k`` it fine-tunes ``n_seeds`` token classifiers with seeds ``seed``, ``seed + 1``, ... (fresh
    head, the embeddings and the first ``freeze_layers`` layers frozen, ``max_length`` sub-words per window
    with a quarter of overlap). The model with seed ``t`` trains on every training sentence with an entity
    and a ``negative_ratio`` share of those without (``negative`` marks them; the draw uses ``t + k``), so it
    is the model a run with ``seed=t`` trains; the validation fold stays whole and is never trained on.
    Each keeps the evaluation with the best entity F1 on the fold's validation sentences (decoded with
    ``o_threshold``, None for argmax): that choice sees the validation fold.

    The recipe is :func:`kitlib.train.fit`'s (``max_grad_norm``, ``lr_decay``, ``ema``,
    ``grad_checkpointing``, ``eval_every``, ``amp_dtype``, ``processes``). With ``checkpoints`` (e.g.
    ``run.dir / "checkpoints"``) each model is saved in ``checkpoints/fold<k>/`` (``fold<k>/seed<t>/`` with
    several seeds): the best weights by ``save_pretrained``, the tokenizer, ``settings.json`` (labels,
    windows, best epoch) and the training state every epoch (or ``checkpoint_every`` steps);
    ``resume_from`` (an earlier run folder) continues the folds it holds (:func:`kitlib.train.fold_checkpoint`).

    With ``relations`` (the gold relations of every sentence) the fold also trains a
    :class:`~.relation_model.RelationClassifier` (``relation_epochs``, ``relation_lr``) on the word vectors of the
    first seed's model over its training sentences (gold entities and relations), and keeps the word vectors of
    the validation and test sentences (float16; from the passes that predict their labels, so linking costs one
    extra pass over the training sentences), so the held-out sentences' predicted entities can be linked
    later (:func:`~.relation_model.oof_relation_scores`, :func:`~.relation_model.test_relation_scores`).

    Out: :class:`~kitlib.folds.FoldResult` with ``val`` (per validation sentence, the seeds' word
    probabilities averaged), ``test`` (the same for ``test_words``) and ``info`` (``history`` of the
    first seed; per seed ``train_sentences``, ``best_epochs`` and ``best_scores``; with ``relations``,
    ``relations``: ``{classifier, val_sentences, val_vectors, test_vectors}``).
    """
    from ... import train
    from ...pretrained import save_tokenizer_and_settings

    label_to_id = {lab: i for i, lab in enumerate(LABELS)}
    windows = dict(max_length=max_length, stride=max_length // 4)

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        val_labels = [list(labels[i]) for i in val_idx]
        val_probs: list[np.ndarray] | None = None
        test_probs: list[np.ndarray] | None = None
        info: dict = {"best_epochs": [], "best_scores": [], "train_sentences": []}
        for s in range(n_seeds):
            kept = train_idx if negative is None else downsample_negatives(
                train_idx, negative, negative_ratio, seed=seed + s + k)
            net, tokenizer, path = tc.load_token_classifier(model, LABELS, seed=seed + s)
            tc.freeze_layers(net, freeze_layers)
            folder, resume = train.fold_checkpoint(checkpoints, k, seed + s if n_seeds > 1 else None, resume_from)
            if folder is not None:
                save_tokenizer_and_settings(folder, tokenizer, {
                    "task": "token-classification", "base_model": str(path), "labels": list(LABELS), "fold": k,
                    "seed": seed + s, "freeze_layers": freeze_layers, **windows, "monitor": "val_entity_f1"})
            train_enc = tc.encode(tokenizer, [words[i] for i in kept], [labels[i] for i in kept],
                                  label_to_id=label_to_id, **windows)
            if s == 0:  # one tokenizer for every seed: encode the validation and test sentences once
                val_enc = tc.encode(tokenizer, [words[i] for i in val_idx], **windows)
                test_enc = tc.encode(tokenizer, list(test_words), **windows)
            prefix = f"fold{k}/" + (f"seed{seed + s}/" if n_seeds > 1 else "")
            callbacks = [train.WandbLogger(wandb_run, prefix=prefix)] if wandb_run is not None else []
            linking = relations is not None and s == 0
            fit = tc.fit_token_classifier(
                net, train_enc, labels=LABELS, val=val_enc, val_labels=val_labels, epochs=epochs, lr=lr,
                batch_size=batch_size, accumulate=accumulate, warmup=0.1, max_grad_norm=max_grad_norm,
                lr_decay=lr_decay, ema=ema, grad_checkpointing=grad_checkpointing, eval_every=eval_every,
                amp_dtype=amp_dtype, o_threshold=o_threshold, device=device, checkpoint_dir=folder,
                checkpoint_every=checkpoint_every, resume=resume, seed=seed + s, callbacks=callbacks,
                progress=progress, desc=f"fold {k}" + (f" seed {seed + s}" if n_seeds > 1 else ""),
                processes=processes, val_vectors=linking)
            if folder is not None:
                save_tokenizer_and_settings(folder, None, {"best_epoch": fit.best_epoch, "best_score": fit.best_score})
            if linking:  # one pass gives the test probabilities and the word vectors the relations need
                test, test_vectors = tc.predict_word_probs_and_vectors(fit.model, test_enc, device=device,
                                                                       amp_dtype=amp_dtype)
                info["relations"] = _relation_fold(
                    fit.model, tokenizer, words, labels, relations, kept, val_idx, fit.val_vectors, test_vectors,
                    windows, epochs=relation_epochs, lr=relation_lr, seed=seed + k, device=device,
                    amp_dtype=amp_dtype, folder=folder)
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


def _relation_fold(net, tokenizer, words, labels, relations, kept, val_idx, val_vectors, test_vectors, windows, *,
                   epochs, lr, seed, device, amp_dtype, folder=None) -> dict:
    """A relation classifier trained on the word vectors of the fold's token classifier over its training
    sentences with two entities or more (the others have no candidate pair), with their gold entities and
    relations (saved in ``folder`` as ``relation_classifier.pt`` when given); the validation and test vectors
    (from the passes that predicted them) kept in float16."""
    from .relation_model import RelationClassifier

    ents = {i: mentions(words[i], labels[i]) for i in kept}
    linked = [i for i in kept if len(ents[i]) >= 2]
    vectors = tc.predict_word_vectors(net, tc.encode(tokenizer, [words[i] for i in linked], **windows), device=device,
                                      amp_dtype=amp_dtype) if linked else []
    clf = RelationClassifier(epochs=epochs, lr=lr, seed=seed, device="cpu").fit(
        vectors, [ents[i] for i in linked], [relations[i] for i in linked])
    if folder is not None:
        clf.save(Path(folder) / "relation_classifier.pt")
    return {"classifier": clf, "val_sentences": [int(i) for i in val_idx],
            "val_vectors": [v.astype(np.float16) for v in val_vectors],
            "test_vectors": [v.astype(np.float16) for v in test_vectors]}


def _add(total: list[np.ndarray] | None, part: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
    """``total + part / n`` sentence by sentence (``part / n`` when ``total`` is None)."""
    scaled = [np.asarray(p, dtype=np.float32) / n for p in part]
    return scaled if total is None else [a + b for a, b in zip(total, scaled)]
