"""Multiple-choice questions with a Hugging Face cross-encoder (``AutoModelForMultipleChoice``).

The questions are a DataFrame with a ``prompt`` column, one column per option (``choices``, by default
``A`` to ``E``) and, for training, an ``answer`` column holding the right option's column name. The
flow, one question in and one score per option out::

    (prompt [+ context], option) x n ──MultipleChoiceDataset──> five encodings ──Collator──> (b, n, len)
        ──model──> logits (b, n) ──top_choices──> "D A C"

- :func:`option_matrix`, :func:`answer_indices` and :func:`top_choices` move between the table, answer
  indices and ranked option names;
- :func:`load_multiple_choice_model` finds and loads the model (nothing is downloaded);
- :class:`MultipleChoiceDataset` and :class:`MultipleChoiceCollator` (:mod:`.multiple_choice_inputs`,
  re-exported here) turn the questions into batches that never fail with any encoder family's tokenizer;
- :func:`predict_choices` returns the ``(n, n_choices)`` logits through :func:`kitlib.train.predict`;
- :func:`cross_encoder_fold` puts it all together as a fold function for :func:`kitlib.folds.cross_validate`
  over :class:`QuestionTables` (``n_seeds`` models per fold, their logits averaged; the training
  :class:`~kitlib.fitting.Recipe` handed to :func:`kitlib.train.fit`, checkpoints, option-order TTA);
  :func:`checkpoint_fold` predicts again from the models it saved.

torch and transformers are imported inside the functions that need them.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import ParameterError
from ..fitting import Recipe
from .multiple_choice_inputs import (
    CHOICES,
    MultipleChoiceCollator,
    MultipleChoiceDataset,
    answer_indices,
    encode_questions,
    option_matrix,
)

__all__ = [
    "CHOICES", "option_matrix", "answer_indices", "top_choices", "load_multiple_choice_model",
    "MultipleChoiceDataset", "encode_questions", "MultipleChoiceCollator", "predict_choices", "CROSS_ENCODER_RECIPE",
    "QuestionTables", "PermutationTTA", "cross_encoder_fold", "fold_model_dirs", "checkpoint_fold", "permutation_tta",
]

# what cross_encoder_fold trains with unless given a recipe: one epoch at 2e-5, 10% warmup then cosine decay
CROSS_ENCODER_RECIPE = Recipe(epochs=1, lr=2e-5, batch_size=8, warmup=0.1, weight_decay=0.01, seed=0)


@dataclass(frozen=True, eq=False)
class QuestionTables:
    """The questions a multiple-choice fold function reads: ``train`` (``prompt``, the option columns ``choices``
    and ``answer``; the folds index its rows), ``test`` (no ``answer`` needed) and ``extra`` questions (with
    ``answer``; they join every fold's training questions and are never validated on), each with its context:
    one string per question (retrieved passages, say) following the prompt, or None."""

    train: pd.DataFrame
    test: pd.DataFrame
    train_context: Sequence[str] | None = None
    test_context: Sequence[str] | None = None
    extra: pd.DataFrame | None = None
    extra_context: Sequence[str] | None = None
    choices: Sequence[str] = CHOICES


@dataclass(frozen=True)
class PermutationTTA:
    """Option-order test-time augmentation (:func:`permutation_tta`): scores averaged over ``orders`` option
    orders (1 for none), the shuffled ones drawn from ``seed``."""

    orders: int = 1
    seed: int = 0


def top_choices(scores: np.ndarray, k: int = 3, choices: Sequence[str] = CHOICES) -> list[str]:
    """Rank each row's scores (higher is better) and return the best ``k`` choices, e.g. ``"D A C"``.

    Ties keep the option order (A before B). Raises ``ParameterError`` unless ``scores`` is
    ``(n, len(choices))``.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[1] != len(choices):
        raise ParameterError(f"scores must have shape (n, {len(choices)}); got {scores.shape}")
    order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [" ".join(choices[j] for j in row) for row in order]


def load_multiple_choice_model(model: str | os.PathLike | None = None, *, seed: int = 0):
    """:class:`~kitlib.pretrained.Pretrained` ``(AutoModelForMultipleChoice, tokenizer, path)`` from a local
    folder or offline-cached hub id.

    ``None`` = the offline all-MiniLM-L6-v2; its new classification head is initialised from ``seed``.
    Nothing is downloaded: a model not on disk raises ``ParameterError`` (see
    :func:`kitlib.pretrained.resolve_model`).
    """
    from ..pretrained import load_pretrained

    return load_pretrained(model, "multiple-choice", seed=seed)


def predict_choices(model, dataset: MultipleChoiceDataset, *, pad_token_id: int = 0, batch_size: int = 16,
                    device: str = "auto", amp_dtype: str = "auto") -> np.ndarray:
    """Logits ``(n, n_choices)`` of a multiple-choice model over ``dataset`` (with or without labels),
    through ``kitlib.train.predict`` (autocast ``amp_dtype`` on CUDA); the model is wrapped so that only its
    logits come back."""
    from torch import nn
    from torch.utils.data import DataLoader

    from ..train import predict

    class _Logits(nn.Module):
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, **batch):
            batch.pop("labels", None)
            return self.inner(**batch).logits

    loader = DataLoader(dataset, batch_size=batch_size, collate_fn=MultipleChoiceCollator(pad_token_id))
    return predict(_Logits(model), loader, device=device, amp_dtype=amp_dtype)


def _scorer(net, tokenizer, max_length: int, choices: Sequence[str], tta: PermutationTTA, device: str,
            amp_dtype) -> Callable:
    """``score(df, context, idx)``: ``net``'s ``(len(idx), n_choices)`` scores of the questions ``idx`` of ``df``
    (``context`` one string per row of ``df``, or None), averaged over ``tta``'s option orders."""

    def score(df: pd.DataFrame, context: Sequence[str] | None, idx: np.ndarray) -> np.ndarray:
        return permutation_tta(
            lambda d, c: predict_choices(net, MultipleChoiceDataset(d, tokenizer, max_length=max_length, context=c,
                                                                    choices=choices, labels=False),
                                         pad_token_id=tokenizer.pad_token_id, device=device, amp_dtype=amp_dtype),
            df.iloc[idx], None if context is None else [context[i] for i in idx], n_orders=tta.orders, seed=tta.seed,
            choices=choices)

    return score


def cross_encoder_fold(questions: QuestionTables, *, model: str | os.PathLike | None = None, max_length: int = 256,
                       recipe: Recipe = CROSS_ENCODER_RECIPE, n_seeds: int = 1, metric=None, metric_name: str = "score",
                       callbacks: Sequence = (), checkpoints: str | os.PathLike | None = None,
                       resume_from: str | os.PathLike | None = None, tta: PermutationTTA | None = None):
    """A fold function for :func:`kitlib.folds.cross_validate` over the rows of ``questions.train``.

    For each fold it fine-tunes ``n_seeds`` cross-encoders (:func:`load_multiple_choice_model` of ``model``;
    seeds ``recipe.seed`` (0 when None), ``+ 1``, ...: the new head and the shuffling) on the fold's training
    questions as ``recipe`` says (default :data:`CROSS_ENCODER_RECIPE`; handed to :func:`kitlib.train.fit` with
    each model's seed and the monitor set here; ``batch_size`` questions per batch, ``device`` and ``amp_dtype``
    for the predictions too), keeping the weights of the evaluation with the lowest training loss: the fold's
    validation questions are scored at each evaluation (``metric(answer indices, logits)`` as
    ``val_<metric_name>``, for learning curves) but never choose anything. It returns the seeds' logits
    averaged for the validation questions and for ``questions.test`` (``tta`` option orders each; None for one);
    ``info["history"]`` holds the first seed's evaluations. ``questions.extra`` joins the training questions of
    every fold and is never validated on: external questions train, the official ones score.

    With ``checkpoints`` (``run.dir / "checkpoints"``) each model is saved in ``checkpoints/fold<k>/``
    (``fold<k>/seed<t>/`` with several seeds) with its tokenizer, a ``settings.json`` and the training state
    every epoch (or ``recipe.checkpoint_every`` steps); ``resume_from`` (an earlier run folder or its
    ``checkpoints``) continues the folds it holds (:func:`kitlib.train.fold_checkpoint`).
    """
    import torch
    from torch.utils.data import DataLoader

    from ..folds import FoldResult
    from ..pretrained import save_tokenizer_and_settings
    from ..train import fit, fold_checkpoint

    q, choices, tta = questions, questions.choices, tta if tta is not None else PermutationTTA()
    seed = recipe.seed if recipe.seed is not None else 0

    def dataset(df, context, idx, tokenizer):
        return MultipleChoiceDataset(df.iloc[idx], tokenizer, max_length=max_length, choices=choices,
                                     context=None if context is None else [context[i] for i in idx])

    def training_set(tr, tokenizer):
        if q.extra is None or not len(q.extra):
            return dataset(q.train, q.train_context, tr, tokenizer)
        cols = ["prompt", *choices, "answer"]
        both = pd.concat([q.train.iloc[tr][cols], q.extra[cols]], ignore_index=True)
        context = None
        if q.train_context is not None or q.extra_context is not None:
            context = ([q.train_context[i] for i in tr] if q.train_context is not None else [""] * len(tr)) + \
                      (list(q.extra_context) if q.extra_context is not None else [""] * len(q.extra))
        return MultipleChoiceDataset(both, tokenizer, max_length=max_length, choices=choices, context=context)

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        val, test, history = 0.0, 0.0, None
        for s in range(n_seeds):
            net, tokenizer, path = load_multiple_choice_model(model, seed=seed + s)
            folder, resume = fold_checkpoint(checkpoints, k, seed + s if n_seeds > 1 else None, resume_from)
            settings = {"task": "multiple-choice", "base_model": str(path), "choices": list(choices),
                        "max_length": max_length, "fold": k, "seed": seed + s, "monitor": "train_loss"}
            if folder is not None:
                save_tokenizer_and_settings(folder, tokenizer, settings)
            collate = MultipleChoiceCollator(tokenizer.pad_token_id)
            loader = DataLoader(training_set(tr, tokenizer), batch_size=recipe.batch_size, shuffle=True,
                                collate_fn=collate, generator=torch.Generator().manual_seed(seed + s))
            val_set = dataset(q.train, q.train_context, va, tokenizer)
            result = fit(net, loader, recipe=replace(recipe, seed=seed + s, monitor="train_loss", mode="min"),
                         val=DataLoader(val_set, batch_size=16, collate_fn=collate), metric=metric,
                         metric_name=metric_name, checkpoint_dir=folder, resume=resume, callbacks=list(callbacks),
                         desc=f"fold {k} seed {seed + s}")
            if folder is not None:
                save_tokenizer_and_settings(folder, None, {"best_epoch": result.best_epoch,
                                                           "best_score": result.best_score})
            history = result.history if history is None else history
            score = _scorer(net, tokenizer, max_length, choices, tta, recipe.device, recipe.amp_dtype)
            val = val + score(q.train, q.train_context, va) / n_seeds
            test = test + score(q.test, q.test_context, np.arange(len(q.test))) / n_seeds
        return FoldResult(val=val, test=test, info={"history": history})

    return fit_fold


def fold_model_dirs(checkpoints: str | os.PathLike, fold: int) -> list:
    """The saved model folders of one fold under ``checkpoints`` (``fold<k>/``, or its ``seed<t>/`` folders
    when several seeds were trained), in seed order. Raises ``ParameterError`` when the fold has none."""
    from pathlib import Path

    folder = Path(checkpoints) / f"fold{fold}"
    seeds = sorted((p for p in folder.glob("seed*") if (p / "config.json").is_file()),
                   key=lambda p: int(p.name[4:]) if p.name[4:].isdigit() else 0)
    found = seeds or ([folder] if (folder / "config.json").is_file() else [])
    if not found:
        raise ParameterError(f"{folder}: no saved cross-encoder (config.json and weights); expected the "
                             "checkpoints of a run that trained this fold")
    return found


def checkpoint_fold(questions: QuestionTables, checkpoints: str | os.PathLike, *, max_length: int | None = None,
                    device: str = "auto", amp_dtype: str = "auto", tta: PermutationTTA | None = None):
    """A fold function for :func:`kitlib.folds.cross_validate` that trains nothing: fold k's saved
    cross-encoders (:func:`fold_model_dirs` of ``checkpoints``, written by :func:`cross_encoder_fold`) score
    its validation questions (rows of ``questions.train``) and ``questions.test``, seeds averaged, exactly as the
    run that trained them did (``tta`` option orders each; None for one). ``max_length`` defaults to the one in
    each model's ``settings.json``; ``info`` holds the model folders (``models``), their base model and the
    training history (from the finished ``train_state.pt``). Raises ``ParameterError`` for a fold without a
    saved model.
    """
    from ..folds import FoldResult
    from ..pretrained import read_settings

    q, tta = questions, tta if tta is not None else PermutationTTA()

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        dirs = fold_model_dirs(checkpoints, k)
        val, test = 0.0, 0.0
        for folder in dirs:
            settings = read_settings(folder)
            length = int(max_length or settings.get("max_length") or 256)
            net, tokenizer, _ = load_multiple_choice_model(folder)
            net.eval()
            score = _scorer(net, tokenizer, length, q.choices, tta, device, amp_dtype)
            val = val + score(q.train, q.train_context, va) / len(dirs)
            test = test + score(q.test, q.test_context, np.arange(len(q.test))) / len(dirs)
        info = {"history": _finished_history(dirs[0]), "models": [str(d) for d in dirs],
                "base_model": read_settings(dirs[0]).get("base_model")}
        return FoldResult(val=val, test=test, info=info)

    return fit_fold


def _finished_history(folder) -> list:
    """The history a finished fit left in ``folder/train_state.pt`` (empty when there is none), read with
    ``torch.load(weights_only=True)``: the folder may come from elsewhere (``-p checkpoints``). Raises ``DataError``
    naming the file when it holds more than tensors and plain values."""
    from pathlib import Path

    from ..train.checkpoint import TRAIN_STATE, load_safely

    path = Path(folder) / TRAIN_STATE
    if not path.is_file():
        return []
    return list(load_safely(path).get("history") or [])


def permutation_tta(score_fn, df: pd.DataFrame, context: Sequence[str] | None = None, *, n_orders: int = 1,
                    seed: int = 0, choices: Sequence[str] = CHOICES) -> np.ndarray:
    """Option-permutation test-time augmentation: ``score_fn(df, context) -> (n, n_choices)`` scores is called
    on ``n_orders`` versions of ``df`` whose option columns are shuffled per question (the first version is
    the original order; the others drawn from ``seed``), each result is put back in the original option
    order and the scores are averaged. ``n_orders=1`` is one plain call. A scorer that reads every option on
    its own (``AutoModelForMultipleChoice`` scores each ``(prompt, option)`` pair apart) gets the same scores
    in every order; the average matters for scorers that read the options together (a prompt listing A-E).
    Raises ``ParameterError`` for ``n_orders < 1``.
    """
    if n_orders < 1:
        raise ParameterError(f"tta must be >= 1 option orders; got {n_orders}")
    if n_orders == 1:
        return np.asarray(score_fn(df, context), dtype=np.float64)
    rng = np.random.default_rng(seed)
    options = option_matrix(df, choices)
    n, m = options.shape
    total = np.zeros((n, m), dtype=np.float64)
    for t in range(n_orders):
        perm = np.tile(np.arange(m), (n, 1)) if t == 0 else np.argsort(rng.random((n, m)), axis=1)
        shuffled = df.copy()
        shuffled[list(choices)] = np.take_along_axis(options, perm, axis=1)
        if "answer" in shuffled:
            shuffled = shuffled.drop(columns="answer")
        got = np.asarray(score_fn(shuffled, context), dtype=np.float64)
        back = np.empty_like(got)
        np.put_along_axis(back, perm, got, axis=1)  # column perm[i, j] of the original is column j here
        total += back
    return total / n_orders
