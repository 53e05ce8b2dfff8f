"""Model windows back to words, and word probabilities to BIO labels.

Each word takes its probabilities from the window where it sits most centrally (:func:`merge_windows`,
run batched by :func:`predict_word_probs`); :func:`decode` takes the argmax, except where
``P(O) < o_threshold`` (then the best non-``O`` label wins), and repairs BIO (:func:`repair_bio`);
:func:`choose_o_threshold` picks that threshold on held-out predictions. torch is imported inside
:func:`predict_word_probs`.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ...errors import ParameterError
from .encoding import Encoding, WindowCollator, inference_batches

__all__ = ["merge_windows", "predict_word_probs", "predict_word_vectors", "predict_word_probs_and_vectors",
           "repair_bio", "decode", "choose_o_threshold"]


def merge_windows(encoding: Encoding, window_probs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-word probabilities from per-window, per-first-sub-word probabilities.

    ``window_probs[k]`` holds one row per word whose first sub-word is in window ``k`` (in token order).
    Each word takes the row of the window where it is most central; ties go to the earlier window.
    Out: one ``(n_words, n_labels)`` array per sentence. Raises ``ParameterError`` when a row count
    does not match its window, or a word got no row.
    """
    n_labels = next((p.shape[1] for p in window_probs if len(p)), 1)
    out = [np.zeros((n, n_labels), dtype=np.float32) for n in encoding.n_words]
    best = [np.full(n, -1, dtype=np.int64) for n in encoding.n_words]
    for k, (win, probs) in enumerate(zip(encoding.windows, window_probs)):
        words = [w for w in win.word_index if w >= 0]
        if len(words) != len(probs):
            raise ParameterError(f"window {k}: {len(probs)} probability rows for {len(words)} words")
        for w, row in zip(words, probs):
            centrality = min(w - win.start, win.end - 1 - w)
            if centrality > best[win.sentence][w]:
                best[win.sentence][w] = centrality
                out[win.sentence][w] = row
    for s, b in enumerate(best):
        if (b < 0).any():
            raise ParameterError(f"sentence {s}: words {np.flatnonzero(b < 0).tolist()[:5]} got no prediction")
    return out


def _word_outputs(model, encoding: Encoding, *, batch_size: int, max_tokens: int | None, device, amp_dtype,
                  progress: bool, probs: bool = True, vectors: bool = False):
    """Per-word rows of every window, merged back to sentences, from one forward pass per batch: the softmax
    of the logits (``probs``) and the last hidden state (``vectors``). Out: ``(probs or None, vectors or None)``."""
    import torch

    from ...runtime import autocast, resolve_device

    dev = next(model.parameters()).device if device is None else (
        device if isinstance(device, torch.device) else resolve_device(device))
    model.to(dev)
    was_training = model.training
    model.eval()
    collate = WindowCollator(encoding.pad_id)
    empty = np.zeros((0, 0), np.float32)
    rows_of = {"probs": [empty] * len(encoding) if probs else None,
               "vectors": [empty] * len(encoding) if vectors else None}
    batches = inference_batches(encoding.lengths, batch_size, max_tokens)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="predict", leave=False)
    with torch.inference_mode(), autocast(dev, amp_dtype):
        for idx in batches:
            batch = collate([{"input_ids": encoding.windows[i].input_ids} for i in idx])
            out = model(input_ids=batch["input_ids"].to(dev), attention_mask=batch["attention_mask"].to(dev),
                        output_hidden_states=vectors)
            widx = torch.as_tensor([encoding.windows[i].word_index + [-1] * (out.logits.shape[1] -
                                    len(encoding.windows[i].word_index)) for i in idx])
            keep = (widx >= 0).to(out.logits.device)
            counts = np.cumsum(keep.sum(dim=1).tolist())[:-1]
            for name, values in (("probs", out.logits if probs else None),
                                 ("vectors", out.hidden_states[-1] if vectors else None)):
                if values is None:
                    continue
                rows = values[keep].float()
                rows = (torch.softmax(rows, dim=-1) if name == "probs" else rows).cpu().numpy()
                for i, part in zip(idx, np.split(rows, counts)):
                    rows_of[name][i] = part
    if was_training:
        model.train()
    return tuple(None if rows_of[k] is None else merge_windows(encoding, rows_of[k]) for k in ("probs", "vectors"))


def predict_word_probs(
    model,
    encoding: Encoding,
    *,
    batch_size: int = 64,
    max_tokens: int | None = 2048,
    device: str | Any | None = "auto",
    amp_dtype: str | bool = "auto",
    progress: bool = False,
) -> list[np.ndarray]:
    """Class probabilities per word: batched, longest windows first, merged back to sentences.

    In: a token-classification model (``model(input_ids, attention_mask).logits``), an
    :class:`Encoding`; at most ``batch_size`` windows and ``max_tokens`` padded tokens per forward pass
    (see :func:`inference_batches`); ``device``: ``"auto"`` (CUDA when
    available), a torch device or name, or None (wherever the model already is); ``amp_dtype`` the
    autocast precision on CUDA (``"auto"``, ``"bf16"``, ``"fp16"``, ``"off"``). Out: one float32
    ``(n_words, n_labels)`` array per sentence, rows summing to 1.
    """
    return _word_outputs(model, encoding, batch_size=batch_size, max_tokens=max_tokens, device=device,
                         amp_dtype=amp_dtype, progress=progress)[0]


def predict_word_vectors(
    model,
    encoding: Encoding,
    *,
    batch_size: int = 64,
    max_tokens: int | None = 2048,
    device: str | Any | None = "auto",
    amp_dtype: str | bool = "auto",
    progress: bool = False,
) -> list[np.ndarray]:
    """The encoder's last hidden state at each word's first sub-word, merged back to sentences as
    :func:`predict_word_probs` merges probabilities (each word from the window where it is most central).

    In: a transformers model that takes ``output_hidden_states`` (a token classifier: its encoder's states);
    the rest as :func:`predict_word_probs`. Out: one float32 ``(n_words, hidden size)`` array per sentence.
    """
    return _word_outputs(model, encoding, batch_size=batch_size, max_tokens=max_tokens, device=device,
                         amp_dtype=amp_dtype, progress=progress, probs=False, vectors=True)[1]


def predict_word_probs_and_vectors(
    model,
    encoding: Encoding,
    *,
    batch_size: int = 64,
    max_tokens: int | None = 2048,
    device: str | Any | None = "auto",
    amp_dtype: str | bool = "auto",
    progress: bool = False,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """:func:`predict_word_probs` and :func:`predict_word_vectors` from the same forward passes:
    ``(probabilities, vectors)``, one array per sentence in each."""
    return _word_outputs(model, encoding, batch_size=batch_size, max_tokens=max_tokens, device=device,
                         amp_dtype=amp_dtype, progress=progress, vectors=True)


# --------------------------------------------------------------------------------------- decoding
def repair_bio(labels: Sequence[str]) -> list[str]:
    """An ``I-X`` that follows neither ``B-X`` nor ``I-X`` becomes ``B-X``; everything else is kept."""
    out, prev = [], "O"
    for lab in labels:
        if lab.startswith("I-") and prev[2:] != lab[2:]:
            lab = "B-" + lab[2:]
        out.append(lab)
        prev = lab
    return out


def decode(
    word_probs: Sequence[np.ndarray],
    labels: Sequence[str],
    o_threshold: float | None = None,
    outside: str = "O",
) -> list[list[str]]:
    """One BIO label per word from class probabilities.

    In: per-sentence ``(n_words, n_labels)`` arrays whose columns follow ``labels``; ``o_threshold``:
    where ``P(outside) < o_threshold`` the best label other than ``outside`` is taken, elsewhere the
    argmax (None or 0: plain argmax). Labels are then BIO-repaired (:func:`repair_bio`).
    Out: label lists. Raises ``ParameterError`` when ``outside`` is not in ``labels`` or a width differs.
    """
    labels = list(labels)
    if outside not in labels:
        raise ParameterError(f"outside label {outside!r} is not among the labels {labels}")
    o = labels.index(outside)
    names = np.array(labels, dtype=object)
    out = []
    for s, probs in enumerate(word_probs):
        probs = np.asarray(probs)
        if probs.ndim != 2 or probs.shape[1] != len(labels):
            raise ParameterError(f"sentence {s}: probabilities of shape {probs.shape}; expected (n_words, "
                                 f"{len(labels)})")
        pred = probs.argmax(axis=1)
        if o_threshold:
            masked = probs.copy()
            masked[:, o] = -np.inf
            pred = np.where(probs[:, o] < o_threshold, masked.argmax(axis=1), pred)
        out.append(repair_bio(names[pred].tolist()))
    return out


def choose_o_threshold(
    word_probs: Sequence[np.ndarray],
    true_labels: Sequence[Sequence[str]],
    labels: Sequence[str],
    grid: Sequence[float] = (0.0, *np.round(np.arange(0.30, 0.951, 0.05), 2).tolist()),
) -> tuple[float, dict[float, float]]:
    """The O-threshold with the best exact-match entity F1 on held-out (e.g. out-of-fold) predictions.

    The default grid holds 0.0 (plain argmax: a threshold can only add entities, so a model that
    over-predicts them is best without one) and 0.30, 0.35, ..., 0.95.
    Out: ``(best threshold, {threshold: entity F1})``; ties go to the threshold closest to 0.5.
    """
    from ...metrics.sequence import entity_f1

    curve = {float(t): entity_f1(true_labels, decode(word_probs, labels, float(t))) for t in grid}
    best = max(curve, key=lambda t: (round(curve[t], 12), -abs(t - 0.5)))
    return best, curve
