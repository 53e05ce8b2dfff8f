"""Multiple-choice questions as cross-encoder inputs: the option table, answer indices, and the tokenised
``(prompt [+ context], option)`` pairs with their collator.

The questions are a DataFrame with a ``prompt`` column, one column per option (``choices``, by default
``A`` to ``E``) and, for training, an ``answer`` column holding the right option's column name.
:class:`MultipleChoiceDataset` tokenises the pairs (:func:`encode_questions`), cutting the context first,
then the prompt, and the option only when it alone is too long, so no input ever fails with any encoder
family's tokenizer, and :class:`MultipleChoiceCollator` pads them into ``{"input_ids", "attention_mask",
"labels"}`` batches, the batch contract of :func:`kitlib.train.fit`. :mod:`kitlib.tasks.multiple_choice`
re-exports every name; torch is imported inside the collator.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError

__all__ = ["CHOICES", "option_matrix", "answer_indices", "MultipleChoiceDataset", "encode_questions",
           "MultipleChoiceCollator"]

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


class MultipleChoiceDataset:
    """Tokenised questions for ``AutoModelForMultipleChoice``: item i is a dict of one encoding per option.

    Each pair is ``(prompt [+ context], option)`` of at most ``max_length`` tokens (:func:`encode_questions`):
    the context is cut first, then the prompt, and the option is seen whole unless it alone leaves no room,
    when prompt and context are dropped and the option cut. ``context`` (one string per question, e.g.
    retrieved passages) follows the prompt on a new line. Items carry ``labels`` (the answer index) when ``df`` has an
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
