"""Multiple-choice questions with a Hugging Face cross-encoder (``AutoModelForMultipleChoice``).

The questions are a DataFrame with a ``prompt`` column, one column per option (``choices``, by default
``A`` to ``E``) and, for training, an ``answer`` column holding the right option's column name. The
flow, one question in and one score per option out::

    (prompt [+ context], option) x n ──MultipleChoiceDataset──> five encodings ──Collator──> (b, n, len)
        ──model──> logits (b, n) ──top_choices──> "D A C"

- :func:`option_matrix`, :func:`answer_indices` and :func:`top_choices` move between the table, answer
  indices and ranked option names;
- :func:`load_multiple_choice_model` finds and loads the model (nothing is downloaded);
- :class:`MultipleChoiceDataset` tokenises the ``(prompt + context, option)`` pairs (:func:`encode_questions`),
  cutting the context first, then the prompt, and the option only when it alone is too long, so no input ever
  fails with any encoder family's tokenizer, and :class:`MultipleChoiceCollator` pads them into
  ``{"input_ids", "attention_mask", "labels"}`` batches, the batch contract of :func:`kitlib.train.fit`;
- :func:`predict_choices` returns the ``(n, n_choices)`` logits through :func:`kitlib.train.predict`;
- :func:`cross_encoder_fold` puts it all together as a fold function for :func:`kitlib.folds.cross_validate`
  (``n_seeds`` models per fold, their logits averaged; the training recipe and checkpoints of
  :func:`kitlib.train.fit` passed through).

torch and transformers are imported inside the functions that need them.
"""
from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError

__all__ = [
    "CHOICES", "option_matrix", "answer_indices", "top_choices", "load_multiple_choice_model",
    "MultipleChoiceDataset", "encode_questions", "MultipleChoiceCollator", "predict_choices", "cross_encoder_fold",
    "fold_model_dirs", "checkpoint_fold", "permutation_tta",
]

CHOICES = ("A", "B", "C", "D", "E")  # the option columns, and the answers' values


def option_matrix(df: pd.DataFrame, choices: Sequence[str] = CHOICES) -> np.ndarray:
    """The options as an object array ``(n, len(choices))`` of strings, columns in ``choices`` order."""
    return df[list(choices)].astype(str).to_numpy()


def answer_indices(answers: Sequence[str], choices: Sequence[str] = CHOICES) -> np.ndarray:
    """``["A", "C"]`` -> ``array([0, 2])``; raises ``DataError`` for an answer outside ``choices``."""
    choices = list(choices)
    out = []
    for i, a in enumerate(answers):
        if a not in choices:
            raise DataError(f"answer {i}: {a!r} is not one of {choices}")
        out.append(choices.index(a))
    return np.asarray(out, dtype=np.int64)


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


class MultipleChoiceDataset:
    """Tokenised questions for ``AutoModelForMultipleChoice``: item i is a dict of one encoding per option.

    Each pair is ``(prompt [+ context], option)`` of at most ``max_length`` tokens (:func:`encode_questions`):
    the context is cut first, then the prompt, and the option is seen whole unless it alone leaves no room,
    when prompt and context are dropped and the option cut. ``context`` (one string per question, e.g. retrieved passages)
    follows the prompt on a new line. Items carry ``labels`` (the answer index) when ``df`` has an
    ``answer`` column and ``labels`` is true. ``choices`` names the option columns. Batch with
    :class:`MultipleChoiceCollator`. Raises ``ParameterError`` when ``context`` does not have one entry
    per question or ``max_length`` leaves no room beside the special tokens, ``DataError`` for an answer
    outside ``choices``.
    """

    def __init__(self, df: pd.DataFrame, tokenizer, *, max_length: int = 256,
                 context: Sequence[str] | None = None, labels: bool = True, choices: Sequence[str] = CHOICES):
        if context is not None and len(context) != len(df):
            raise ParameterError(f"context has {len(context)} entries for {len(df)} questions")
        prompts = df["prompt"].astype(str).tolist()
        contexts = [str(c) if c else "" for c in context] if context is not None else [""] * len(prompts)
        options = option_matrix(df, choices)
        n = len(choices)
        enc = encode_questions(tokenizer, [p for p in prompts for _ in range(n)],
                               [c for c in contexts for _ in range(n)], [str(o) for row in options for o in row],
                               max_length)
        self.keys = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
        self.encodings = {k: [enc[k][i:i + n] for i in range(0, len(prompts) * n, n)] for k in self.keys}
        self.labels = answer_indices(df["answer"], choices) if labels and "answer" in df else None

    def __len__(self) -> int:
        return len(self.encodings["input_ids"])

    def __getitem__(self, i: int) -> dict:
        item = {k: self.encodings[k][i] for k in self.keys}
        if self.labels is not None:
            item["labels"] = int(self.labels[i])
        return item


def encode_questions(tokenizer, prompts: list[str], contexts: list[str], options: list[str],
                     max_length: int) -> dict[str, list]:
    """Tokenise ``(prompt + "\n" + context, option)`` pairs to at most ``max_length`` tokens, never failing.

    Each part is measured in tokens (no special tokens) and cut in order of priority: the context first
    (its end, so the best passage stays), then the prompt (its end), and the option only when it alone
    fills the room, when prompt and context are dropped. Parts are cut at token boundaries of their own
    text (character offsets), so any fast tokenizer works (BERT WordPiece, RoBERTa/ModernBERT byte-level
    BPE, DeBERTa-v3 sentencepiece); the pair is then encoded with ``longest_first`` truncation as a safety
    net for a merge across the joint. Raises ``ParameterError`` when ``max_length`` leaves no room beside the
    special tokens.
    """
    room = max_length - tokenizer.num_special_tokens_to_add(pair=True)
    if room < 2:
        raise ParameterError(f"max_length {max_length} leaves no room beside the special tokens; give at least "
                             f"{max_length - room + 2}")
    contexts = [f"\n{c}" if c else "" for c in contexts]

    def measure(texts: list[str]) -> dict[str, list]:
        unique = sorted(set(texts))
        enc = tokenizer(unique, add_special_tokens=False, return_offsets_mapping=True)
        return {t: [end for _, end in offsets] for t, offsets in zip(unique, enc["offset_mapping"])}

    def cut(text: str, ends: list[int], keep: int) -> str:
        return text if keep >= len(ends) else (text[:ends[keep - 1]] if keep > 0 else "")

    p_ends, c_ends, o_ends = measure(prompts), measure(contexts), measure(options)
    firsts, seconds = [], []
    for prompt, context, option in zip(prompts, contexts, options):
        lp, lc, lo = len(p_ends[prompt]), len(c_ends[context]), len(o_ends[option])
        keep_o = min(lo, room)
        keep_p = max(0, min(lp, room - keep_o))
        keep_c = max(0, min(lc, room - keep_o - keep_p))
        first = cut(prompt, p_ends[prompt], keep_p) + (cut(context, c_ends[context], keep_c) if keep_p else "")
        firsts.append(first)
        seconds.append(cut(option, o_ends[option], keep_o))
    return dict(tokenizer(firsts, seconds, truncation="longest_first", max_length=max_length, padding=False))


class MultipleChoiceCollator:
    """Pad a list of :class:`MultipleChoiceDataset` items into tensors ``(batch, n_choices, longest)``
    (+ ``labels``)."""

    def __init__(self, pad_token_id: int = 0):
        self.pad_token_id = pad_token_id

    def __call__(self, items: list[dict]) -> dict:
        import torch

        width = max(len(seq) for item in items for seq in item["input_ids"])
        batch = {}
        for key in (k for k in ("input_ids", "attention_mask", "token_type_ids") if k in items[0]):
            fill = self.pad_token_id if key == "input_ids" else 0
            out = torch.full((len(items), len(items[0][key]), width), fill, dtype=torch.long)
            for b, item in enumerate(items):
                for c, seq in enumerate(item[key]):
                    out[b, c, :len(seq)] = torch.as_tensor(seq, dtype=torch.long)
            batch[key] = out
        if "labels" in items[0]:
            batch["labels"] = torch.as_tensor([item["labels"] for item in items], dtype=torch.long)
        return batch


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


def cross_encoder_fold(train_df: pd.DataFrame, test_df: pd.DataFrame, *, model: str | os.PathLike | None = None,
                       train_context: Sequence[str] | None = None, test_context: Sequence[str] | None = None,
                       choices: Sequence[str] = CHOICES, max_length: int = 256, batch_size: int = 8,
                       epochs: int = 1, lr: float = 2e-5, warmup: float = 0.1, weight_decay: float = 0.01,
                       max_grad_norm: float | None = None, lr_decay: float | None = None, ema: float | None = None,
                       grad_checkpointing: bool = False, eval_every: int | None = None, amp_dtype: str = "auto",
                       checkpoints: str | os.PathLike | None = None, checkpoint_every: int | None = None,
                       resume_from: str | os.PathLike | None = None, seed: int = 0, n_seeds: int = 1,
                       device: str = "auto", metric=None, metric_name: str = "score", callbacks: Sequence = (),
                       progress: bool = True, extra_df: pd.DataFrame | None = None,
                       extra_context: Sequence[str] | None = None, tta: int = 1, tta_seed: int = 0,
                       processes: int = 1):
    """A fold function for :func:`kitlib.folds.cross_validate` over the questions of ``train_df``.

    For each fold it fine-tunes ``n_seeds`` cross-encoders (:func:`load_multiple_choice_model` of ``model``;
    seeds ``seed``, ``seed + 1``, ...: the new head and the shuffling) on the fold's training questions for
    ``epochs`` epochs, keeping the weights of the evaluation with the lowest training loss: the fold's
    validation questions are scored at each evaluation (``metric(answer indices, logits)`` as
    ``val_<metric_name>``, for learning curves) but never choose anything. It returns the seeds' logits
    averaged for the validation questions and for ``test_df``; ``info["history"]`` holds the first seed's
    evaluations. ``train_context`` and ``test_context`` (one string per question, or ``None``) follow the
    prompts.

    The recipe is :func:`kitlib.train.fit`'s: ``max_grad_norm``, ``lr_decay``, ``ema``, ``grad_checkpointing``,
    ``eval_every``, ``amp_dtype``, ``processes`` (DDP here). With ``checkpoints`` (``run.dir / "checkpoints"``)
    each model is saved in ``checkpoints/fold<k>/`` (``fold<k>/seed<t>/`` with several seeds) with its tokenizer,
    a ``settings.json`` and the training state every epoch (or ``checkpoint_every`` steps); ``resume_from`` (an
    earlier run folder or its ``checkpoints``) continues the folds it holds (:func:`kitlib.train.fold_checkpoint`).

    ``extra_df`` (questions with ``prompt``, the option columns and ``answer``; ``extra_context`` one string
    each) joins the training questions of every fold and is never validated on: external questions train,
    the official ones score. ``tta`` > 1 averages the scores over that many option orders
    (:func:`permutation_tta`, orders drawn from ``tta_seed``).
    """
    import torch
    from torch.utils.data import DataLoader

    from ..folds import FoldResult
    from ..pretrained import save_tokenizer_and_settings
    from ..train import fit, fold_checkpoint

    def dataset(df, context, idx, tokenizer):
        return MultipleChoiceDataset(df.iloc[idx], tokenizer, max_length=max_length, choices=choices,
                                     context=None if context is None else [context[i] for i in idx])

    def training_set(tr, tokenizer):
        if extra_df is None or not len(extra_df):
            return dataset(train_df, train_context, tr, tokenizer)
        cols = ["prompt", *choices, "answer"]
        both = pd.concat([train_df.iloc[tr][cols], extra_df[cols]], ignore_index=True)
        context = None
        if train_context is not None or extra_context is not None:
            context = ([train_context[i] for i in tr] if train_context is not None else [""] * len(tr)) + \
                      (list(extra_context) if extra_context is not None else [""] * len(extra_df))
        return MultipleChoiceDataset(both, tokenizer, max_length=max_length, choices=choices, context=context)

    def scores(net, tokenizer, df, context, idx):
        return permutation_tta(
            lambda d, c: predict_choices(net, MultipleChoiceDataset(d, tokenizer, max_length=max_length, context=c,
                                                                    choices=choices, labels=False),
                                         pad_token_id=tokenizer.pad_token_id, device=device, amp_dtype=amp_dtype),
            df.iloc[idx], None if context is None else [context[i] for i in idx], n_orders=tta, seed=tta_seed,
            choices=choices)

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
            loader = DataLoader(training_set(tr, tokenizer), batch_size=batch_size, shuffle=True,
                                collate_fn=collate, generator=torch.Generator().manual_seed(seed + s))
            val_set = dataset(train_df, train_context, va, tokenizer)
            result = fit(net, loader, val=DataLoader(val_set, batch_size=16, collate_fn=collate), metric=metric,
                         metric_name=metric_name, monitor="train_loss", epochs=epochs, lr=lr, warmup=warmup,
                         weight_decay=weight_decay, max_grad_norm=max_grad_norm, lr_decay=lr_decay, ema=ema,
                         grad_checkpointing=grad_checkpointing, eval_every=eval_every, amp_dtype=amp_dtype,
                         checkpoint_dir=folder, checkpoint_every=checkpoint_every, resume=resume, device=device,
                         seed=seed + s, callbacks=list(callbacks), progress=progress, desc=f"fold {k} seed {seed + s}",
                         processes=processes)
            if folder is not None:
                save_tokenizer_and_settings(folder, None, {"best_epoch": result.best_epoch,
                                                           "best_score": result.best_score})
            history = result.history if history is None else history
            val = val + scores(net, tokenizer, train_df, train_context, va) / n_seeds
            test = test + scores(net, tokenizer, test_df, test_context, np.arange(len(test_df))) / n_seeds
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


def checkpoint_fold(train_df: pd.DataFrame, test_df: pd.DataFrame, checkpoints: str | os.PathLike, *,
                    train_context: Sequence[str] | None = None, test_context: Sequence[str] | None = None,
                    choices: Sequence[str] = CHOICES, max_length: int | None = None, device: str = "auto",
                    amp_dtype: str = "auto", tta: int = 1, tta_seed: int = 0):
    """A fold function for :func:`kitlib.folds.cross_validate` that trains nothing: fold k's saved
    cross-encoders (:func:`fold_model_dirs` of ``checkpoints``, written by :func:`cross_encoder_fold`) score
    its validation questions and ``test_df``, seeds averaged, exactly as the run that trained them did.
    ``max_length`` defaults to the one in each model's ``settings.json``; ``info`` holds the model folders
    (``models``), their base model and the training history (from the finished ``train_state.pt``).
    Raises ``ParameterError`` for a fold without a saved model.
    """
    from ..folds import FoldResult
    from ..pretrained import read_settings

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        dirs = fold_model_dirs(checkpoints, k)
        val, test = 0.0, 0.0
        for folder in dirs:
            settings = read_settings(folder)
            length = int(max_length or settings.get("max_length") or 256)
            net, tokenizer, _ = load_multiple_choice_model(folder)
            net.eval()

            def score(df, context, idx):
                return permutation_tta(
                    lambda d, c: predict_choices(net, MultipleChoiceDataset(d, tokenizer, max_length=length, context=c,
                                                                            choices=choices, labels=False),
                                                 pad_token_id=tokenizer.pad_token_id, device=device,
                                                 amp_dtype=amp_dtype),
                    df.iloc[idx], None if context is None else [context[i] for i in idx], n_orders=tta,
                    seed=tta_seed, choices=choices)

            val = val + score(train_df, train_context, va) / len(dirs)
            test = test + score(test_df, test_context, np.arange(len(test_df))) / len(dirs)
        info = {"history": _finished_history(dirs[0]), "models": [str(d) for d in dirs],
                "base_model": read_settings(dirs[0]).get("base_model")}
        return FoldResult(val=val, test=test, info=info)

    return fit_fold


def _finished_history(folder) -> list:
    """The history a finished fit left in ``folder/train_state.pt`` (empty when there is none)."""
    from pathlib import Path

    path = Path(folder) / "train_state.pt"
    if not path.is_file():
        return []
    import torch

    return list(torch.load(path, map_location="cpu", weights_only=False).get("history") or [])


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
