"""Generated text competitions in Kaggle's layout (train.csv, test.csv, sample_submission.csv), for the ``kit new``
text tests and the text quality runs (bench/bench_text.py).

Reviews are sentences built from vocabularies, with the structure that separates a bag of words from a model
that reads: the sentiment word of a clause sets its polarity, a negation before it (``not``, ``never``, ``hardly``,
sometimes with words in between) flips it, a clause after ``but`` outweighs the one before, and many sentiment
words are rare synonyms (``superb``, ``dreadful``) that a few training rows hold, some only the test rows, which a
pretrained embedder knows and n-gram counts cannot. Topic and filler words carry no signal; 5% of labels are
flipped. The held-out labels of the test rows are written beside the data folder (``<folder>.solution.csv``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

KINDS = ("binary", "binary-labels", "multiclass", "multi-label", "regression", "two-columns", "grouped")
POSITIVE = ["good", "great", "nice", "fine", "excellent", "wonderful", "superb", "delightful", "splendid",
            "terrific", "marvelous", "fabulous", "outstanding", "lovely", "brilliant", "enjoyable", "pleasant",
            "remarkable", "impressive", "charming", "exceptional", "stellar", "magnificent", "phenomenal"]
NEGATIVE = ["bad", "poor", "boring", "awful", "terrible", "horrible", "dreadful", "atrocious", "abysmal",
            "lousy", "mediocre", "dull", "tedious", "disappointing", "unpleasant", "miserable", "pathetic",
            "appalling", "dismal", "subpar", "inferior", "shoddy", "wretched", "insipid"]
COMMON = 4  # the first words of each list are common; the others rare (each in few rows)
NEGATIONS = ["not", "never", "hardly", "not at all", "far from", "not really", "by no means"]
TOPICS = {"film": ["movie", "plot", "actors", "script", "soundtrack", "ending", "director"],
          "food": ["meal", "soup", "dessert", "waiter", "menu", "pasta", "kitchen"],
          "hotel": ["room", "bed", "lobby", "staff", "breakfast", "view", "pool"],
          "tech": ["phone", "battery", "screen", "camera", "charger", "app", "keyboard"]}
FILLER = ["honestly", "overall", "to be fair", "in my opinion", "frankly", "I think", "as expected", "again"]
INTENSIFIERS = ["very", "quite", "really", "truly", "rather", "", "", ""]


def _word(rng: np.random.Generator, positive: bool) -> str:
    words = POSITIVE if positive else NEGATIVE
    if rng.random() < 0.45:
        return words[rng.integers(COMMON)]
    return words[COMMON + rng.integers(len(words) - COMMON)]


def _clause(rng: np.random.Generator, topic: str, polarity: bool) -> str:
    """A clause whose meaning has ``polarity``; half the time through a negated word of the other polarity."""
    thing = rng.choice(TOPICS[topic])
    negated = rng.random() < 0.35
    word = _word(rng, polarity != negated)
    lead = f"{rng.choice(NEGATIONS)} " if negated else ""
    intensity = rng.choice(INTENSIFIERS)
    return f"the {thing} was {lead}{intensity + ' ' if intensity else ''}{word}"


def review(rng: np.random.Generator, topic: str, score: float) -> str:
    """A review of ``topic`` whose sentiment is ``score`` (> 0 positive): one to three clauses; with ``but`` the
    last clause carries the sentiment and the first says the opposite."""
    polarity = score > 0
    parts = []
    if rng.random() < 0.4:
        parts.append(_clause(rng, topic, not polarity) + " but " + _clause(rng, topic, polarity))
    else:
        parts.append(_clause(rng, topic, polarity))
    if abs(score) > 1 and rng.random() < 0.6:
        parts.append(_clause(rng, topic, polarity))
    if rng.random() < 0.5:
        parts.insert(0, f"{rng.choice(FILLER)}, we went there for the {rng.choice(TOPICS[topic])}")
    return (". ".join(parts) + ".").capitalize()


def _labels(kind: str, scores: np.ndarray, topics: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    flip = rng.random(len(scores)) < 0.05
    positive = (scores > 0) ^ flip
    if kind in ("binary", "binary-labels", "two-columns", "grouped"):
        return pd.DataFrame({"target": positive.astype(int)})
    if kind == "multiclass":
        mood = np.where(positive, "pos", "neg")
        return pd.DataFrame({"label": [f"{t}_{m}" if t in ("film", "food") else m for t, m in zip(topics, mood)]})
    if kind == "multi-label":
        return pd.DataFrame({"positive": positive.astype(int), "about_food": (topics == "food").astype(int)})
    if kind == "regression":
        return pd.DataFrame({"rating": np.round(3 + np.tanh(scores) * 2 + 0.3 * rng.normal(size=len(scores)), 3)})
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def _sample(kind: str, ids: np.ndarray, y: pd.DataFrame) -> pd.DataFrame:
    sample = pd.DataFrame({"id": ids})
    for column in y.columns:
        sample[column] = y[column].iloc[0] if kind in ("binary-labels", "multiclass") else 0.5
    return sample


def write_text_set(folder: str | Path, kind: str = "binary", n_train: int = 600, n_test: int = 200,
                   seed: int = 0) -> Path:
    """Write a generated text competition of ``kind`` (:data:`KINDS`) into ``folder``: ``train.csv`` (id, text
    columns, targets), ``test.csv`` (id, text columns), ``sample_submission.csv``; the test rows' labels go to
    ``<folder>.solution.csv``. The same arguments give the same bytes. Returns the folder."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    topics = rng.choice(list(TOPICS), size=n)
    scores = rng.normal(size=n) * 1.5
    texts = [review(rng, t, s) for t, s in zip(topics, scores)]
    frame = pd.DataFrame({"id": np.arange(n) + 1000})
    if kind == "two-columns":
        frame["title"] = [f"{rng.choice(FILLER)}: the {rng.choice(TOPICS[t])} and the {rng.choice(TOPICS[t])}, "
                          f"visit {rng.integers(1, 500)}" for t in topics]
        frame["body"] = texts
    else:
        frame["text"] = texts
    if kind == "grouped":
        frame["author"] = [f"user{u}" for u in rng.integers(0, max(10, n // 8), size=n)]
    frame["length"] = [len(t) for t in texts]  # a numeric column beside the text
    y = _labels(kind, scores, topics, rng)
    train = pd.concat([frame.iloc[:n_train].reset_index(drop=True), y.iloc[:n_train].reset_index(drop=True)], axis=1)
    test = frame.iloc[n_train:].drop(columns=["author"], errors="ignore").reset_index(drop=True)
    train.to_csv(out / "train.csv", index=False)
    test.to_csv(out / "test.csv", index=False)
    _sample(kind, test["id"].to_numpy(), y).to_csv(out / "sample_submission.csv", index=False)
    solution = pd.concat([test[["id"]], y.iloc[n_train:].reset_index(drop=True)], axis=1)
    solution.to_csv(out.with_name(out.name + ".solution.csv"), index=False)
    return out
