"""Words to model windows: alignment of words and sub-words, windows of long sentences, batches.

A word's label goes on its first sub-word (the others get ``-100``, or the word's label with
``label_subwords=True``); a sentence longer than ``max_length`` sub-words is cut at word boundaries into
overlapping windows (:func:`encode`). :class:`WindowCollator` pads windows into the dict batches of
:func:`kitlib.train.fit`; :class:`LengthGroupedBatches` and :func:`inference_batches` order them so
little padding is needed. torch is imported inside the functions that need it.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ...errors import ParameterError

__all__ = ["IGNORE", "Window", "Encoding", "encode", "WindowCollator", "LengthGroupedBatches", "inference_batches",
           "make_loader"]

IGNORE = -100


# ------------------------------------------------------------------------------------- alignment
@dataclass
class Window:
    """One model input: a stretch of one sentence's sub-words with the special tokens around it.

    ``word_index[t]`` is the sentence-level index of the word whose *first* sub-word is token ``t``
    (-1 for special tokens and continuation sub-words); ``labels`` are the training targets (or None).
    Words ``start`` .. ``end - 1`` of sentence ``sentence`` are inside the window.
    """

    sentence: int
    start: int
    end: int
    input_ids: list[int]
    word_index: list[int]
    labels: list[int] | None = None


@dataclass
class Encoding:
    """All windows of a list of sentences; a map-style dataset of dicts for a DataLoader.

    ``n_words[i]`` is the word count of sentence ``i`` (the merge checks every word got one row).
    """

    windows: list[Window]
    n_words: list[int]
    pad_id: int = 0
    lengths: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.lengths = np.array([len(w.input_ids) for w in self.windows], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.windows)

    def __getitem__(self, i: int) -> dict[str, list[int]]:
        w = self.windows[i]
        item = {"input_ids": w.input_ids}
        if w.labels is not None:
            item["labels"] = w.labels
        return item


def _special_tokens(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids a tokenizer puts before and after a single sequence ([CLS] / [SEP] ...)."""
    enc = tokenizer(["a"], is_split_into_words=True, add_special_tokens=True)
    ids, wids = enc["input_ids"], enc.word_ids()
    first = wids.index(0)
    last = len(wids) - 1 - wids[::-1].index(0)
    return list(ids[:first]), list(ids[last + 1:])


def _word_pieces(tokenizer, sentences: Sequence[Sequence[str]]) -> list[list[list[int]]]:
    """Sub-word ids per word per sentence (no special tokens); empty pieces become the unknown token."""
    if not getattr(tokenizer, "is_fast", False):
        raise ParameterError(f"{type(tokenizer).__name__} is not a fast tokenizer; word alignment needs "
                             "word_ids(): load it with AutoTokenizer.from_pretrained(path, use_fast=True)")
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else tokenizer.pad_token_id
    out = []
    chunk = 256
    for start in range(0, len(sentences), chunk):
        part = [list(s) for s in sentences[start:start + chunk]]
        enc = tokenizer(part, is_split_into_words=True, add_special_tokens=False)
        for b, words in enumerate(part):
            pieces: list[list[int]] = [[] for _ in words]
            for tid, wid in zip(enc["input_ids"][b], enc.word_ids(b)):
                if wid is not None:
                    pieces[wid].append(tid)
            out.append([p if p else [unk] for p in pieces])
    return out


def _label_ids(labels: Sequence[str], label_to_id: dict[str, int], sentence: int) -> list[int]:
    try:
        return [label_to_id[lab] for lab in labels]
    except KeyError as exc:
        raise ParameterError(f"sentence {sentence}: unknown label {exc.args[0]!r}; expected one of "
                             f"{list(label_to_id)}") from None


def _continuation_id(label: str, label_to_id: dict[str, int]) -> int:
    """The label of a word's later sub-words: ``B-X`` continues as ``I-X`` (when that label exists)."""
    if label.startswith("B-") and "I-" + label[2:] in label_to_id:
        return label_to_id["I-" + label[2:]]
    return label_to_id[label]


def _spans(counts: list[int], room: int, stride: int) -> list[tuple[int, int]]:
    """Word spans ``[start, end)`` covering all words, each at most ``room`` sub-words (a longer single
    word is cut), consecutive spans overlapping by about ``stride`` sub-words."""
    n = len(counts)
    if n == 0:
        return [(0, 0)]
    spans, start = [], 0
    while True:
        end, used = start, 0
        while end < n and (used + counts[end] <= room or end == start):
            used += counts[end]
            end += 1
        spans.append((start, end))
        if end >= n:
            return spans
        nxt, overlap = end, 0
        limit = min(stride, room - min(counts[end], room))  # the next window must reach past ``end``
        while nxt - 1 > start and overlap + counts[nxt - 1] <= limit:
            nxt -= 1
            overlap += counts[nxt]
        start = nxt


def encode(
    tokenizer,
    sentences: Sequence[Sequence[str]],
    labels: Sequence[Sequence[str]] | None = None,
    *,
    label_to_id: dict[str, int] | None = None,
    max_length: int = 128,
    stride: int = 32,
    label_subwords: bool = False,
) -> Encoding:
    """Turn sentences of words (and optionally their labels) into model windows.

    In: a fast tokenizer; ``sentences`` as lists of words; ``labels`` one label per word (needs
    ``label_to_id``); ``max_length`` sub-words per window including special tokens; ``stride`` sub-words
    of overlap between consecutive windows of one long sentence; ``label_subwords`` labels every
    sub-word instead of only the first (the rest get -100).
    Out: an :class:`Encoding`. Raises ``ParameterError`` for a slow tokenizer, a ``max_length`` that
    leaves no room, a ``stride`` not below the room, mismatched label counts or unknown labels.
    """
    prefix, suffix = _special_tokens(tokenizer)
    room = max_length - len(prefix) - len(suffix)
    if room < 2:
        raise ParameterError(f"max_length {max_length} leaves {room} sub-words after the special tokens; "
                             "expected at least 2")
    if not 0 <= stride < room:
        raise ParameterError(f"stride must be in [0, {room}) for max_length {max_length}; got {stride}")
    if labels is not None:
        if label_to_id is None:
            raise ParameterError("labels given without label_to_id")
        if len(labels) != len(sentences):
            raise ParameterError(f"{len(labels)} label rows for {len(sentences)} sentences")
    windows = []
    for s, pieces in enumerate(_word_pieces(tokenizer, sentences)):
        lab_ids = None
        if labels is not None:
            if len(labels[s]) != len(pieces):
                raise ParameterError(f"sentence {s}: {len(labels[s])} labels for {len(pieces)} words")
            lab_ids = _label_ids(labels[s], label_to_id, s)
            cont = [_continuation_id(lab, label_to_id) for lab in labels[s]]
        for start, end in _spans([len(p) for p in pieces], room, stride):
            ids, widx, labs = list(prefix), [-1] * len(prefix), [IGNORE] * len(prefix)
            for w in range(start, end):
                piece = pieces[w][:room]
                ids += piece
                widx += [w] + [-1] * (len(piece) - 1)
                if lab_ids is not None:
                    rest = cont[w] if label_subwords else IGNORE
                    labs += [lab_ids[w]] + [rest] * (len(piece) - 1)
            ids += suffix
            widx += [-1] * len(suffix)
            labs += [IGNORE] * len(suffix)
            windows.append(Window(s, start, end, ids, widx, labs if lab_ids is not None else None))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    return Encoding(windows, [len(s) for s in sentences], pad_id=pad)


# ------------------------------------------------------------------------------------------ batches
class WindowCollator:
    """Pad a list of ``Encoding`` items into a dict of tensors: ``input_ids``, ``attention_mask`` and,
    when the items carry them, ``labels`` (padded with -100)."""

    def __init__(self, pad_id: int = 0):
        self.pad_id = pad_id

    def __call__(self, items: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        width = max(len(it["input_ids"]) for it in items)
        ids = torch.full((len(items), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(items), width), dtype=torch.long)
        labels = torch.full((len(items), width), IGNORE, dtype=torch.long) if "labels" in items[0] else None
        for i, it in enumerate(items):
            n = len(it["input_ids"])
            ids[i, :n] = torch.as_tensor(it["input_ids"])
            mask[i, :n] = 1
            if labels is not None:
                labels[i, :n] = torch.as_tensor(it["labels"])
        batch = {"input_ids": ids, "attention_mask": mask}
        if labels is not None:
            batch["labels"] = labels
        return batch


class LengthGroupedBatches:
    """Batch sampler: shuffle, cut into chunks of ``chunk`` batches, sort each chunk by length, batch,
    shuffle the batches. Similar lengths share a batch (little padding) while the order stays random;
    each pass (epoch) draws a new order from ``seed`` and the pass number. ``shuffle=False`` gives
    batches in order of decreasing length (for inference)."""

    def __init__(self, lengths: Sequence[int], batch_size: int, shuffle: bool = True, seed: int = 0, chunk: int = 50):
        if batch_size < 1:
            raise ParameterError(f"batch_size must be >= 1; got {batch_size}")
        self.lengths = np.asarray(lengths)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.chunk = chunk
        self._passes = 0

    def __len__(self) -> int:
        return math.ceil(len(self.lengths) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        if not self.shuffle:
            order = np.argsort(-self.lengths, kind="stable")
            yield from (order[i:i + bs].tolist() for i in range(0, n, bs))
            return
        rng = np.random.default_rng([self.seed, self._passes])
        self._passes += 1
        perm = rng.permutation(n)
        size = bs * self.chunk
        batches = []
        for c in range(0, n, size):
            part = perm[c:c + size]
            part = part[np.argsort(-self.lengths[part], kind="stable")]
            batches += [part[i:i + bs].tolist() for i in range(0, len(part), bs)]
        for b in rng.permutation(len(batches)):
            yield batches[b]

    def state_dict(self) -> dict:
        """The passes drawn so far (a resumed fit continues with the next epoch's order)."""
        return {"passes": self._passes}

    def load_state_dict(self, state: dict) -> None:
        """Take back :meth:`state_dict`."""
        self._passes = int(state["passes"])


def inference_batches(lengths: Sequence[int], batch_size: int = 64, max_tokens: int | None = 2048) -> list[list[int]]:
    """Indices in batches for inference: longest first, each batch at most ``batch_size`` items and,
    padded to its longest item, at most ``max_tokens`` tokens (a long item alone may exceed it).
    Long windows thus come a few at a time and short ones many at a time, with almost no padding."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    batches, current = [], []
    for i in order.tolist():
        width = lengths[current[0]] if current else lengths[i]  # the first item of a batch is its longest
        if current and (len(current) >= batch_size or (max_tokens and (len(current) + 1) * width > max_tokens)):
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def make_loader(encoding: Encoding, batch_size: int = 16, shuffle: bool = True, seed: int = 0):
    """A DataLoader of padded dict batches over ``encoding`` (length-grouped; see
    :class:`LengthGroupedBatches`)."""
    from torch.utils.data import DataLoader

    sampler = LengthGroupedBatches(encoding.lengths, batch_size, shuffle=shuffle, seed=seed)
    return DataLoader(encoding, batch_sampler=sampler, collate_fn=WindowCollator(encoding.pad_id))
