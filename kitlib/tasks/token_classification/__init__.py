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

The modules: :mod:`.encoding` (alignment, windows, batches), :mod:`.decoding` (merging windows,
predicting, decoding, the O-threshold) and :mod:`.model` (loading, freezing, fine-tuning); the names
below are re-exported here. torch and transformers are imported inside the functions that need them.
"""
from __future__ import annotations

from .decoding import (
                       choose_o_threshold,
                       decode,
                       merge_windows,
                       predict_word_probs,
                       predict_word_probs_and_vectors,
                       predict_word_vectors,
                       repair_bio,
)
from .encoding import Encoding, LengthGroupedBatches, Window, WindowCollator, encode, inference_batches, make_loader
from .model import (
                       TOKEN_CLASSIFIER_RECIPE,
                       TokenClassifierFit,
                       ValidationScoring,
                       default_model_path,
                       fit_token_classifier,
                       freeze_layers,
                       load_token_classifier,
)

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
    "predict_word_vectors",
    "predict_word_probs_and_vectors",
    "decode",
    "repair_bio",
    "choose_o_threshold",
    "default_model_path",
    "load_token_classifier",
    "freeze_layers",
    "TOKEN_CLASSIFIER_RECIPE",
    "ValidationScoring",
    "TokenClassifierFit",
    "fit_token_classifier",
]
