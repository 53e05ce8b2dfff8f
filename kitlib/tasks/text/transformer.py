"""A fine-tuned transformer encoder for text classification or regression, through :func:`kitlib.train.fit`.

The model (:class:`TextModel`) is the encoder of ``model`` (a local checkpoint folder, or the offline
all-MiniLM-L6-v2 when none is given) with mean pooling under the attention mask and one linear head for every
target at once: a block of logits per classification target (cross-entropy on each), one value per regression
target (squared error on the fold's standardised targets), so several targets train in one model.

Texts are tokenised once (:func:`tokenize`): a text longer than ``max_length`` tokens keeps its first three
quarters and its last quarter (never an error, whatever the text or the tokenizer; ``max_length`` is also held to
what the model's positions take). Training batches are drawn in length buckets (:class:`LengthBatches`: shuffled,
then sorted within chunks) and padded to their own longest text. The training knobs come in one
:class:`~kitlib.fitting.Recipe` (``amp_dtype``, ``lr_decay``, ``ema``, ``processes``, ...), handed to ``fit``
unread; with a checkpoints folder each fold's model is saved there and ``resume`` carries on a fold an earlier
run started. The fold's validation rows are predicted once, after training, and never choose anything.
"""
from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ...folds import FoldResult
from ..tabular.problem import Problem
from .settings import FineTuning

__all__ = ["TextModel", "BlockLoss", "tokenize", "model_limit", "LengthBatches", "PadCollator",
           "load_text_model", "predict_texts", "transformer_fold"]

class TextModel(nn.Module):
    """``encoder`` (a transformers ``AutoModel``) -> mean pooling under the mask -> dropout -> linear head of
    ``width`` outputs. ``base_model`` is the encoder, so layer-wise learning rates find its layers."""

    def __init__(self, encoder: nn.Module, width: int, dropout: float = 0.1):
        super().__init__()
        self.base_model = encoder
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(int(encoder.config.hidden_size), width)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                labels: torch.Tensor | None = None) -> torch.Tensor:
        hidden = self.base_model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        return self.head(self.dropout(pooled)).float()


class BlockLoss:
    """The mean over targets of cross-entropy on each classification block of logits, or squared error on each
    value (``blocks``: ``(start, stop)`` per target; ``classes``: True for classification)."""

    def __init__(self, blocks: Sequence[tuple[int, int]], classes: bool):
        self.blocks, self.classes = [tuple(b) for b in blocks], classes

    def __call__(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        losses = []
        for j, (start, stop) in enumerate(self.blocks):
            if self.classes:
                losses.append(nn.functional.cross_entropy(logits[:, start:stop].float(), labels[:, j].long()))
            else:
                losses.append(nn.functional.mse_loss(logits[:, start].float(), labels[:, j].float()))
        return torch.stack(losses).mean()


def model_limit(net: nn.Module, tokenizer) -> int:
    """The most tokens ``net`` takes (its position embeddings, less RoBERTa's padding offset), at most 512."""
    config = getattr(net, "config", None)
    positions = getattr(config, "max_position_embeddings", None)
    limits = [int(positions) - (2 if getattr(config, "model_type", "") in ("roberta", "xlm-roberta") else 0)
              if isinstance(positions, int) else 512, 512]
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 100_000:
        limits.append(model_max)
    return min(limits)


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The ids a tokenizer puts before and after one text (``[CLS]``/``[SEP]``, ``<s>``/``</s>``, ...), read from
    how it encodes a word with and without them."""
    bare = tokenizer("hello", add_special_tokens=False)["input_ids"]
    full = tokenizer("hello", add_special_tokens=True)["input_ids"]
    for start in range(len(full) - len(bare) + 1):
        if full[start:start + len(bare)] == bare:
            return list(full[:start]), list(full[start + len(bare):])
    return [], []


def tokenize(tokenizer, texts: Sequence[str], max_length: int) -> list[np.ndarray]:
    """Token ids of each text with the tokenizer's special tokens, at most ``max_length`` (>= special tokens + 1)
    of them: a longer text keeps its first three quarters and its last quarter of the room."""
    import transformers

    before, after = _special_tokens(tokenizer)
    room = max(1, int(max_length) - len(before) - len(after))
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()  # "longer than the maximum": cut below, on purpose
    try:
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"] if len(texts) else []
    finally:
        transformers.logging.set_verbosity(level)
    out = []
    for seq in ids:
        if len(seq) > room:
            head = (3 * room) // 4
            seq = seq[:head] + (seq[len(seq) - (room - head):] if room > head else [])
        out.append(np.asarray([*before, *seq, *after], dtype=np.int64))
    return out


class LengthBatches(torch.utils.data.Sampler):
    """Batches of row positions for training: shuffled by ``generator``, cut into chunks of 50 batches, each chunk
    sorted by length so a batch pads little, the batches shuffled again. Same generator state, same batches."""

    def __init__(self, lengths: Sequence[int], batch_size: int, generator: torch.Generator):
        self.lengths, self.batch_size, self.generator = np.asarray(lengths), int(batch_size), generator

    def __len__(self) -> int:
        return -(-len(self.lengths) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.lengths), generator=self.generator).numpy()
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = order[start:start + chunk]
            part = part[np.argsort(-self.lengths[part], kind="stable")]
            batches += [part[i:i + self.batch_size].tolist() for i in range(0, len(part), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i]


class PadCollator:
    """Pads a list of ``(ids, labels)`` rows to the longest: ``{"input_ids", "attention_mask", "labels"}``."""

    def __init__(self, pad_id: int):
        self.pad_id = int(pad_id)

    def __call__(self, rows: list) -> dict[str, torch.Tensor]:
        width = max(len(ids) for ids, _ in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (ids, _) in enumerate(rows):
            input_ids[i, :len(ids)] = torch.as_tensor(ids)
            mask[i, :len(ids)] = 1
        labels = torch.as_tensor(np.stack([label for _, label in rows]), dtype=torch.float32)
        return {"input_ids": input_ids, "attention_mask": mask, "labels": labels}


class _Rows(torch.utils.data.Dataset):
    def __init__(self, tokens: Sequence[np.ndarray], labels: np.ndarray):
        self.tokens, self.labels = tokens, labels

    def __len__(self) -> int:
        return len(self.tokens)

    def __getitem__(self, i: int):
        return self.tokens[i], self.labels[i]


def load_text_model(model: str | os.PathLike | None, width: int, seed: int) -> tuple[TextModel, object, str]:
    """``(TextModel over model's encoder with a head of width outputs initialised from seed, tokenizer, path)``.
    Raises ``ParameterError`` for a model that is not on disk (nothing is downloaded)."""
    from ...pretrained import load_pretrained

    encoder, tokenizer, path = load_pretrained(model, "base")
    torch.manual_seed(seed)
    return TextModel(encoder.train(), width), tokenizer, str(path)


def predict_texts(net: nn.Module, tokens: Sequence[np.ndarray], pad_id: int, batch_size: int = 64,
                  device: str = "auto", amp_dtype: str | bool = "auto") -> np.ndarray:
    """The head's outputs ``(n, width)`` for ``tokens``, in their order: batches sorted by length, padded each to
    its own longest, through :func:`kitlib.train.predict`."""
    from ...train import predict

    order = np.argsort([-len(t) for t in tokens], kind="stable")
    batches = [order[i:i + batch_size].tolist() for i in range(0, len(order), batch_size)]
    loader = torch.utils.data.DataLoader(_Rows([tokens[i] for i in order], np.zeros((len(tokens), 1))),
                                         batch_size=batch_size, collate_fn=PadCollator(pad_id))
    out = predict(net, loader, device=device, amp_dtype=amp_dtype) if len(batches) else np.zeros((0, 1))
    back = np.empty_like(out)
    back[order] = out
    return back


def _outputs(problem: Problem, raw: np.ndarray, center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Head outputs -> the problem's prediction columns: softmax per classification block, values unscaled."""
    if not problem.classification:
        return raw[:, :len(problem.targets)] * scale + center
    out = []
    for _, cols, _ in problem.blocks():
        block = raw[:, cols] - raw[:, cols].max(axis=1, keepdims=True)
        block = np.exp(block)
        out.append(block / block.sum(axis=1, keepdims=True))
    return np.hstack(out)


class StopAtDeadline:
    """A :func:`kitlib.train.fit` callback that stops training at an evaluation once ``deadline`` has passed for a
    fold with ``folds_left`` folds to go (itself included), and records the stop in the deadline's budget."""

    def __init__(self, deadline, folds_left: int, what: str):
        self.deadline, self.folds_left, self.what = deadline, folds_left, what
        self.stopped = False

    def on_fit_start(self, state) -> None:
        """Nothing to set up."""

    def on_epoch_end(self, state, logs: dict) -> None:
        if not self.stopped and self.deadline.passed(self.folds_left):
            state.stop_training = self.stopped = True
            self.deadline.budget.cut(self.what, f"training stopped at step {state.step} (epoch {state.epoch}) to "
                                                f"leave time for the predictions")

    def on_fit_end(self, state) -> None:
        """Nothing to tear down."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Nothing to restore: a resumed fit checks the deadline afresh."""


def transformer_fold(problem: Problem, tokens: Sequence[np.ndarray], y: np.ndarray, n_train: int, pad_id: int,
                     tuning: FineTuning) -> Callable[[int, np.ndarray, np.ndarray], FoldResult]:
    """A fold function over the first ``n_train`` of ``tokens`` (:func:`tokenize` of the training texts, then the
    test texts'): a :class:`TextModel` fine-tuned on the fold's training rows (``tuning.max_rows`` of them at most,
    drawn from the recipe's seed), predicting the fold's validation rows and the test rows (columns as
    ``problem.columns``). ``info`` holds ``seconds``, ``history``, ``rows`` (trained on) and ``base_model``."""
    from torch.utils.data import DataLoader

    from ...pretrained import save_tokenizer_and_settings
    from ...train import fit, fold_checkpoint

    recipe, y = tuning.recipe, np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    seed = recipe.seed if recipe.seed is not None else 0
    width = len(problem.columns) if problem.classification else len(problem.targets)
    blocks = [(c.start, c.stop) for _, c, _ in problem.blocks()]
    test_tokens = tokens[n_train:]

    def fit_fold(k: int, train_idx: np.ndarray, val_idx: np.ndarray) -> FoldResult:
        started = time.perf_counter()
        rows = np.asarray(train_idx)
        if tuning.max_rows is not None and len(rows) > tuning.max_rows:
            rows = np.sort(np.random.default_rng(seed + k).choice(rows, tuning.max_rows, replace=False))
        labels = y[rows].copy()
        center, scale = np.zeros(y.shape[1]), np.ones(y.shape[1])
        if not problem.classification:
            center, scale = labels.mean(axis=0), labels.std(axis=0) + 1e-9
            labels = (labels - center) / scale
        net, tokenizer, path = load_text_model(tuning.model, width, seed + k)
        folder, resume = fold_checkpoint(tuning.checkpoints, k, None, tuning.resume_from)
        if folder is not None:
            save_tokenizer_and_settings(folder, tokenizer, {"task": "text", "base_model": path, "fold": k,
                                                            "columns": list(problem.columns), "center": center.tolist(),
                                                            "scale": scale.tolist()})
        generator = torch.Generator().manual_seed(seed + k)
        train_tokens = [tokens[i] for i in rows]
        loader = DataLoader(_Rows(train_tokens, labels), collate_fn=PadCollator(pad_id), generator=generator,
                            batch_sampler=LengthBatches([len(t) for t in train_tokens], recipe.batch_size, generator))
        callbacks, fit_recipe = [], replace(recipe, seed=seed + k, monitor="train_loss", mode="min")
        if tuning.deadline is not None and recipe.processes == 1:  # ranks of a DDP fit must stop together
            callbacks.append(StopAtDeadline(tuning.deadline, tuning.deadline.folds - k, f"transformer fold {k}"))
            fit_recipe = replace(fit_recipe, eval_every=max(10, len(loader) // 8))
        result = fit(net, loader, recipe=fit_recipe, loss_fn=BlockLoss(blocks, problem.classification),
                     checkpoint_dir=folder, resume=resume, callbacks=callbacks, desc=f"transformer fold {k}")
        net.eval()

        def outputs(part: Sequence[np.ndarray]) -> np.ndarray:
            raw = predict_texts(net, part, pad_id, tuning.predict_batch, recipe.device, recipe.amp_dtype)
            return _outputs(problem, raw.astype(np.float64), center, scale)

        val = outputs([tokens[i] for i in val_idx])
        test = outputs(test_tokens) if len(test_tokens) else None
        info = {"seconds": time.perf_counter() - started, "history": result.history, "rows": int(len(rows)),
                "base_model": path}
        return FoldResult(val=val, test=test, info=info)

    return fit_fold
