"""How much of the expensive text models a time budget holds, from speeds measured on this machine.

The fine-tuned transformer is the run's expensive model: its cost is estimated before it starts from a timed
warm-up (:func:`measure_speed`: a few training steps and inference batches of real texts, in seconds per token) and
the texts' token lengths, and :func:`plan_fine_tuning` picks the first plan that fits the seconds left, in this
order: every fold with the recipe's epochs; one epoch; the folds merged into two groups (each model trains on the
other group's rows and predicts its own, so every row still gets an out-of-fold prediction) with the epochs, then
one; shorter texts (128, then 64 tokens); a random subset of the training rows. When even that does not fit it
says why, and the run skips the model. The embeddings get the same treatment (:func:`plan_embedding`): the
longest ``max_length`` whose estimate fits their share, in float or else int8 (dynamically quantised, on the CPU).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Speed", "Plan", "measure_speed", "plan_fine_tuning", "plan_embedding", "merge_folds", "SHORTER"]

SHORTER = (128, 64)  # token lengths a plan may cut texts to
TRAIN_PADDING, INFER_PADDING = 1.1, 1.05  # padded tokens per token in length-bucketed batches
OVERHEAD_S = 3.0  # loading a model, per fold
MIN_ROWS = 400  # fewer training rows per model than this is not worth fine-tuning


@dataclass(frozen=True)
class Speed:
    """Seconds per (padded) token of training (forward, backward, optimiser step) and of inference."""

    train: float
    infer: float


@dataclass(frozen=True)
class Plan:
    """A fine-tuning plan: ``groups`` (the folds merged into that many; the run's ``n_folds`` for none merged),
    ``epochs``, ``max_length`` tokens, ``max_rows`` training rows per model (``None``: all) and its estimate."""

    groups: int
    epochs: int
    max_length: int
    max_rows: int | None
    seconds: float

    def cuts(self, n_folds: int, epochs: int, max_length: int) -> list[str]:
        """What this plan leaves out of the full one, one phrase each (empty for the full plan)."""
        out = []
        if self.groups < n_folds:
            out.append(f"{n_folds} folds merged into {self.groups} groups")
        if self.epochs < epochs:
            out.append(f"{self.epochs} epoch(s) of {epochs}")
        if self.max_length < max_length:
            out.append(f"texts cut to {self.max_length} tokens (not {max_length})")
        if self.max_rows is not None:
            out.append(f"{self.max_rows} training rows per model")
        return out


def measure_speed(net, tokens: list, pad_id: int, batch_size: int, device: str = "auto", steps: int = 4) -> Speed:
    """Time ``steps`` training steps (after one untimed) and ``steps`` inference batches of ``net`` (a
    :class:`~kitlib.tasks.text.transformer.TextModel` that is thrown away afterwards: its weights change) on
    batches of ``tokens`` (a sample of the texts, :func:`~kitlib.tasks.text.transformer.tokenize`d); returns the
    fastest step's seconds per padded token of each (as ``timeit`` takes the minimum: on a shared machine other work
    only ever adds time; a slower run is caught by the fine-tuning's deadline)."""
    import time

    import torch

    from ...runtime import resolve_device
    from .transformer import PadCollator

    dev = resolve_device(device)
    net.to(dev).train()
    collate = PadCollator(pad_id)
    batches = [collate([(t, np.zeros(1)) for t in tokens[i:i + batch_size]])
               for i in range(0, len(tokens), batch_size)][:steps + 1]
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-5)
    train = []
    for i, batch in enumerate(batches):
        started = time.perf_counter()
        out = net(batch["input_ids"].to(dev), batch["attention_mask"].to(dev))
        out.float().pow(2).mean().backward()
        optimizer.step()
        optimizer.zero_grad()
        if i or len(batches) == 1:
            train.append((time.perf_counter() - started) / batch["input_ids"].numel())
    net.eval()
    infer = []
    with torch.inference_mode():
        for batch in batches:
            started = time.perf_counter()
            net(batch["input_ids"].to(dev), batch["attention_mask"].to(dev))
            infer.append((time.perf_counter() - started) / batch["input_ids"].numel())
    return Speed(train=min(train), infer=min(infer[1:] or infer))


def _tokens(lengths: np.ndarray, max_length: int) -> float:
    return float(np.minimum(lengths, max_length).mean()) if len(lengths) else 0.0


def _cost(speed: Speed, lengths: np.ndarray, n_train: int, n_test: int, groups: int, epochs: int,
          max_length: int, rows: int) -> float:
    per_text = _tokens(lengths, max_length)
    train = epochs * rows * per_text * TRAIN_PADDING * speed.train
    infer = (n_train / groups + n_test) * per_text * INFER_PADDING * speed.infer
    return groups * (train + infer + OVERHEAD_S)


def plan_fine_tuning(speed: Speed, lengths: np.ndarray, n_train: int, n_test: int, n_folds: int, epochs: int,
                     max_length: int, seconds: float) -> tuple[Plan | None, str]:
    """The first plan (module docstring) whose estimate fits ``seconds``, and a line saying what it costs; ``None``
    and why when none does. ``lengths``: each text's token count before truncation (training texts)."""
    lengths = np.asarray(lengths)
    full = max(1, epochs)
    options = [(n_folds, full, max_length), (n_folds, 1, max_length), (min(2, n_folds), full, max_length),
               (min(2, n_folds), 1, max_length)]
    options += [(min(2, n_folds), 1, length) for length in SHORTER if length < max_length]
    seen = set()
    for groups, e, length in options:
        if (groups, e, length) in seen:
            continue
        seen.add((groups, e, length))
        rows = n_train * (groups - 1) // groups
        cost = _cost(speed, lengths, n_train, n_test, groups, e, length, rows)
        if cost <= seconds:
            return Plan(groups, e, length, None, cost), f"estimated {cost:.0f} s of {seconds:.0f} s left"
    groups, length = min(2, n_folds), min([max_length, *SHORTER])
    fixed = _cost(speed, lengths, n_train, n_test, groups, 1, length, 0)
    per_row = (_cost(speed, lengths, n_train, n_test, groups, 1, length, 1000) - fixed) / 1000
    rows = int((seconds - fixed) / per_row) if per_row > 0 and seconds > fixed else 0
    if rows >= MIN_ROWS:
        cost = fixed + rows * per_row
        return Plan(groups, 1, length, rows, cost), f"estimated {cost:.0f} s of {seconds:.0f} s left"
    least = _cost(speed, lengths, n_train, n_test, groups, 1, length, min(MIN_ROWS, n_train))
    return None, (f"even {groups} groups, 1 epoch, {length} tokens and {MIN_ROWS} rows would take ~{least:.0f} s; "
                  f"{seconds:.0f} s left")


def plan_embedding(seconds_per_token: dict[bool, float], lengths: np.ndarray, max_length: int, seconds: float,
                   ) -> tuple[int | None, bool, float]:
    """``(max_length, quantize, estimate)`` for embedding texts of token ``lengths`` with the speeds
    ``seconds_per_token`` (``{False: float, True: int8}``; int8 only where it was measured, on the CPU): the first of
    ``max_length`` then :data:`SHORTER`, float before int8 at each length, whose estimate fits ``seconds``;
    ``(None, False, the last estimate)`` when none does."""
    lengths = np.asarray(lengths)
    estimate = 0.0
    for length in [max_length, *[s for s in SHORTER if s < max_length]]:
        for quantize in sorted(seconds_per_token):
            estimate = len(lengths) * _tokens(lengths, length) * INFER_PADDING * seconds_per_token[quantize]
            if estimate <= seconds:
                return length, quantize, estimate
    return None, False, estimate


def merge_folds(folds: np.ndarray, groups: int) -> np.ndarray:
    """The fold ids merged into ``groups`` groups (fold ``k`` into group ``rank(k) % groups``); rows outside every
    fold (negative ids) stay outside."""
    folds = np.asarray(folds)
    ids = sorted(set(folds[folds >= 0].tolist()))
    if groups >= len(ids):
        return folds
    mapping = {k: i % groups for i, k in enumerate(ids)}
    return np.array([mapping.get(int(f), -1) for f in folds], dtype=np.int64)
