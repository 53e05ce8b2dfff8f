"""The gazetteer baseline: every longest exact match of a mention seen in training, labelled with its type."""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from ...errors import ParameterError
from .labels import mentions

__all__ = ["Gazetteer"]


class Gazetteer:
    """The baseline: label every longest exact match of a mention seen in training.

    ``fit`` collects each labelled mention's words and the type it was given most often (ties: the
    type first seen); ``predict`` walks each sentence left to right and, at each word, labels the longest
    known mention starting there (``B-``/``I-``), else ``O``. ``lowercase`` matches case-insensitively.
    Learned attributes: ``mentions_`` (word tuple -> type), ``max_words_``.
    """

    def __init__(self, lowercase: bool = False):
        self.lowercase = lowercase

    def _key(self, words: Sequence[str]) -> tuple[str, ...]:
        return tuple(w.lower() for w in words) if self.lowercase else tuple(words)

    def fit(self, sentences: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> Gazetteer:
        """Learn the mentions of ``sentences`` labelled ``labels``; returns ``self``."""
        counts: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for words, labs in zip(sentences, labels):
            for typ, start, end, _ in mentions(words, labs):
                counts[self._key(words[start:end + 1])][typ] += 1
        self.mentions_ = {k: c.most_common(1)[0][0] for k, c in counts.items()}
        self.max_words_ = max((len(k) for k in self.mentions_), default=0)
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[str]]:
        """BIO labels for ``sentences`` (one label per word). Raises ``ParameterError`` before ``fit``."""
        if not hasattr(self, "mentions_"):
            raise ParameterError("Gazetteer.predict called before fit")
        out = []
        for words in sentences:
            keys = self._key(words)
            labs, i = ["O"] * len(words), 0
            while i < len(words):
                for n in range(min(self.max_words_, len(words) - i), 0, -1):
                    typ = self.mentions_.get(keys[i:i + n])
                    if typ is not None:
                        labs[i:i + n] = [f"B-{typ}"] + [f"I-{typ}"] * (n - 1)
                        i += n
                        break
                else:
                    i += 1
            out.append(labs)
        return out
