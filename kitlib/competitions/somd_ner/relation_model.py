"""The SOMD relation classifier: candidate entity pairs scored from pooled span embeddings of the fold's encoder.

For each sentence the candidates are the ordered entity pairs whose ``(subject type, object type)`` occurs in
training (:func:`~.relations.candidate_pairs`), so software-to-software types such as ``PlugIn_of`` count.
A pair is described by the word vectors of the fold's fine-tuned token classifier
(:func:`kitlib.tasks.token_classification.predict_word_vectors`, computed once per sentence: no re-encoding
per pair): the mean vector of the subject span, of the object span, their product, the mean of the words
between them, and learned embeddings of both entity types and of the signed distance. A small MLP trained
with :func:`kitlib.train.fit` gives ``P(none)`` and ``P(type)`` for the relation types seen with that type
pair (the others are masked out). :func:`decode_relations` keeps the best type of a pair where
``P(none)`` is below a threshold, chosen out of fold by :func:`choose_relation_threshold`.

torch is imported when a model is fitted or applied.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from ...errors import ParameterError
from ...fitting import Recipe
from .labels import ENTITY_TYPES, mentions
from .relations import Relation, candidate_pairs, relation_type_pairs

__all__ = ["RELATION_RECIPE", "RelationClassifier", "ScoredPairs", "decode_relations", "choose_relation_threshold",
           "average_scored", "oof_relation_scores", "test_relation_scores", "rule_oof_relations"]

_DISTANCES = (-30, -15, -8, -4, -2, -1, 0, 1, 2, 4, 8, 15, 30)
#: Per sentence, one ``(subject start, object start, probabilities over classes_)`` per candidate pair.
ScoredPairs = list[list[tuple[int, int, np.ndarray]]]


def _type_id(typ: str) -> int:
    return ENTITY_TYPES.index(typ) + 1 if typ in ENTITY_TYPES else 0


def _features(vectors: Sequence[np.ndarray], entities: Sequence[Sequence[tuple]], pairs_of: dict):
    """``(dense features, type/distance ids, allowed-class mask, (sentence, subject start, object start))``
    of every candidate pair."""
    dense, ids, keys, masks = [], [], [], []
    classes = pairs_of["classes"]
    for s, (vec, ents) in enumerate(zip(vectors, entities)):
        for i, j in candidate_pairs(ents, pairs_of["pairs"]):
            a, b = ents[i], ents[j]
            sv, ov = vec[a[1]:a[2] + 1].mean(0), vec[b[1]:b[2] + 1].mean(0)
            lo, hi = (a[2] + 1, b[1]) if a[1] < b[1] else (b[2] + 1, a[1])
            between = vec[lo:hi].mean(0) if hi > lo else np.zeros_like(sv)
            dense.append(np.concatenate([sv, ov, sv * ov, between]))
            d = b[1] - a[1]
            ids.append((_type_id(a[0]), _type_id(b[0]), int(np.searchsorted(_DISTANCES, d))))
            allowed = pairs_of["pairs"][(a[0], b[0])]
            masks.append([True] + [c in allowed for c in classes[1:]])
            keys.append((s, a[1], b[1]))
    width = 4 * (vectors[0].shape[1] if len(vectors) else 1)
    return (np.asarray(dense, np.float32).reshape(-1, width), np.asarray(ids, np.int64).reshape(-1, 3),
            np.asarray(masks, bool).reshape(-1, len(classes)), keys)


def _network(width: int, n_classes: int, hidden: int, dropout: float):
    import torch
    from torch import nn

    class PairScorer(nn.Module):
        def __init__(self):
            super().__init__()
            self.types = nn.Embedding(len(ENTITY_TYPES) + 1, 16)
            self.distance = nn.Embedding(len(_DISTANCES) + 1, 16)
            self.norm = nn.LayerNorm(width)
            self.mlp = nn.Sequential(nn.Linear(width + 48, hidden), nn.GELU(), nn.Dropout(dropout),
                                     nn.Linear(hidden, n_classes))

        def forward(self, dense, ids, mask):
            x = torch.cat([self.norm(dense), self.types(ids[:, 0]), self.types(ids[:, 1]), self.distance(ids[:, 2])], 1)
            return self.mlp(x).masked_fill(~mask, -1e4)

    return PairScorer()


# how RelationClassifier trains unless given a recipe: AdamW at 2e-3, 5% warmup then cosine decay, on the CPU
RELATION_RECIPE = Recipe(epochs=25, lr=2e-3, batch_size=64, weight_decay=0.01, schedule="cosine", warmup=0.05,
                         device="cpu", seed=0, progress=False)


class RelationClassifier:
    """Relation types of candidate entity pairs from word vectors (see the module docstring).

    ``fit(vectors, entities, relations)`` learns from training sentences (their gold entities, as
    :func:`~.labels.mentions` tuples, and relations) as ``recipe`` says (default :data:`RELATION_RECIPE`; handed to
    :func:`kitlib.train.fit`, ``batch_size`` candidate pairs a batch, ``seed`` (0 when None) for the initial weights
    too, ``device`` for scoring too); ``predict_proba(vectors, entities)`` scores the candidate pairs of other
    sentences (predicted entities). Learned attributes: ``classes_`` (``"none"`` then the relation types seen),
    ``pairs_`` ((subject type, object type) -> relation types seen), ``model_``, ``history_``.
    """

    def __init__(self, recipe: Recipe = RELATION_RECIPE, hidden: int = 256, dropout: float = 0.2):
        self.recipe, self.hidden, self.dropout = recipe, hidden, dropout

    def fit(self, vectors: Sequence[np.ndarray], entities: Sequence[Sequence[tuple]],
            relations: Sequence[Sequence[Relation]]) -> RelationClassifier:
        """Train on the candidate pairs of the given sentences; a pair with no gold relation is ``none``.
        Out: ``self``. With no relation at all in the data the model predicts none everywhere."""
        import torch

        from ... import train

        counts = relation_type_pairs(entities, relations)
        self.classes_ = ("none", *sorted({t for c in counts.values() for t in c}))
        self.pairs_ = {pair: frozenset(c) for pair, c in counts.items()}
        self.history_, self.model_ = [], None
        if not self.pairs_:
            return self
        dense, ids, mask, keys = _features(vectors, entities, {"pairs": self.pairs_, "classes": self.classes_})
        gold = {}
        for s, rels in enumerate(relations):
            for typ, subj, obj in rels:
                gold.setdefault((s, subj, obj), typ)
        target = np.array([self.classes_.index(gold[k]) if gold.get(k) in self.classes_ else 0 for k in keys])
        seed = self.recipe.seed if self.recipe.seed is not None else 0
        torch.manual_seed(seed)
        self.model_ = _network(dense.shape[1], len(self.classes_), self.hidden, self.dropout)
        loader = train.tensor_loader(dense, ids, mask, target, batch_size=self.recipe.batch_size, shuffle=True,
                                     seed=seed)
        result = train.fit(self.model_, loader, loss_fn=torch.nn.functional.cross_entropy,
                           recipe=replace(self.recipe, seed=seed), desc="relations")
        self.model_, self.history_ = result.model, result.history
        return self

    def save(self, path) -> None:
        """Write the fitted classifier (settings, classes, type pairs, weights) to ``path`` with ``torch.save``."""
        import torch

        torch.save({"settings": {"recipe": self.recipe.record(), "hidden": self.hidden, "dropout": self.dropout},
                    "classes": self.classes_, "pairs": {k: sorted(v) for k, v in self.pairs_.items()},
                    "width": None if self.model_ is None else self.model_.norm.normalized_shape[0],
                    "state_dict": None if self.model_ is None else self.model_.state_dict()}, path)

    @classmethod
    def load(cls, path) -> RelationClassifier:
        """A classifier written by :meth:`save` (or by the kit before the recipe, which saved its knobs apart), read
        with ``torch.load(weights_only=True)`` (a fold's checkpoints may come from elsewhere): raises ``DataError``
        naming the file when it holds more than tensors and plain values."""
        from ...train.checkpoint import load_safely

        saved = load_safely(path)
        settings = dict(saved["settings"])
        recipe = (Recipe(**settings.pop("recipe")) if "recipe" in settings else
                  replace(RELATION_RECIPE, **{k: settings.pop(k) for k in ("epochs", "lr", "batch_size", "weight_decay",
                                                                          "seed", "device") if k in settings}))
        clf = cls(recipe, **settings)
        clf.classes_, clf.pairs_ = tuple(saved["classes"]), {k: frozenset(v) for k, v in saved["pairs"].items()}
        clf.history_, clf.model_ = [], None
        if saved["state_dict"] is not None:
            clf.model_ = _network(saved["width"], len(clf.classes_), clf.hidden, clf.dropout)
            clf.model_.load_state_dict(saved["state_dict"])
        return clf

    def predict_proba(self, vectors: Sequence[np.ndarray], entities: Sequence[Sequence[tuple]]) -> ScoredPairs:
        """Per sentence, ``(subject start, object start, probabilities over classes_)`` for each candidate pair.
        Raises ``ParameterError`` before ``fit`` or when the counts of ``vectors`` and ``entities`` differ."""
        import torch

        from ...runtime import resolve_device

        if not hasattr(self, "classes_"):
            raise ParameterError("RelationClassifier.predict_proba called before fit")
        if len(vectors) != len(entities):
            raise ParameterError(f"{len(vectors)} sentences of vectors but {len(entities)} of entities")
        out: ScoredPairs = [[] for _ in entities]
        if self.model_ is None:
            return out
        dense, ids, mask, keys = _features(vectors, entities, {"pairs": self.pairs_, "classes": self.classes_})
        if not keys:
            return out
        device = resolve_device(self.recipe.device)
        net = self.model_.to(device).eval()
        with torch.inference_mode():
            logits = net(torch.as_tensor(dense, device=device), torch.as_tensor(ids, device=device),
                         torch.as_tensor(mask, device=device))
            probs = torch.softmax(logits.float(), -1).cpu().numpy()
        for (s, subj, obj), p in zip(keys, probs):
            out[s].append((subj, obj, p))
        return out


def average_scored(parts: Sequence[ScoredPairs], classes: Sequence[Sequence[str]]) -> tuple[ScoredPairs, tuple]:
    """The mean of several models' scores of the same candidates (e.g. the fold models on the test sentences),
    on the union of their classes (a class a model lacks counts 0 for it). Out: ``(scored, classes)``."""
    union = ("none", *sorted({c for cs in classes for c in cs[1:]}))
    n = len(parts)
    out: ScoredPairs = []
    for s in range(len(parts[0]) if parts else 0):
        total: dict[tuple[int, int], np.ndarray] = {}
        for part, cs in zip(parts, classes):
            for subj, obj, p in part[s]:
                row = total.setdefault((subj, obj), np.zeros(len(union)))
                for c, v in zip(cs, p):
                    row[union.index(c)] += v / n
        out.append([(subj, obj, row) for (subj, obj), row in total.items()])
    return out, union


def decode_relations(scored: ScoredPairs, classes: Sequence[str], threshold: float = 0.5,
                     one_per_subject: bool = False) -> list[list[Relation]]:
    """Relations from scored candidate pairs: a pair gets its most likely relation type where ``P(none)`` is
    below ``threshold``; with ``one_per_subject`` a subject keeps only its pair with the lowest ``P(none)``."""
    out = []
    for pairs in scored:
        chosen: dict = {}
        for subj, obj, p in pairs:
            p_none = float(p[0]) if len(p) else 1.0
            if len(p) < 2 or p_none >= threshold:
                continue
            rel = (classes[1 + int(np.argmax(p[1:]))], subj, obj)
            key = subj if one_per_subject else (subj, obj)
            if key not in chosen or p_none < chosen[key][0]:
                chosen[key] = (p_none, rel)
        out.append(sorted((r for _, r in chosen.values()), key=lambda r: (r[1], r[2], r[0])))
    return out


def choose_relation_threshold(scored: ScoredPairs, classes: Sequence[str], true: Sequence[Sequence[Relation]],
                              average: str = "micro",
                              grid: Sequence[float] = tuple(np.round(np.arange(0.1, 0.951, 0.05), 2).tolist())):
    """The ``P(none)`` threshold and ``one_per_subject`` with the best relation F1 (``average``) on held-out
    (out-of-fold) scored pairs against the ``true`` relations. Out: ``(threshold, one_per_subject,
    {(threshold, one_per_subject): F1})``; ties go to the threshold closest to 0.5, then to one per subject."""
    from ...metrics import relation_f1

    curve = {(float(t), one): relation_f1(true, decode_relations(scored, classes, float(t), one), average)
             for t in grid for one in (True, False)}
    best = max(curve, key=lambda k: (round(curve[k], 12), -abs(k[0] - 0.5), k[1]))
    return best[0], best[1], curve


def _union(classes: Sequence[Sequence[str]]) -> tuple[str, ...]:
    return ("none", *sorted({c for cs in classes for c in cs[1:]}))


def _to_classes(pairs: list, cs: Sequence[str], union: Sequence[str]) -> list:
    index = [union.index(c) for c in cs]
    out = []
    for subj, obj, p in pairs:
        row = np.zeros(len(union))
        row[index] = p
        out.append((subj, obj, row))
    return out


def oof_relation_scores(infos: Sequence[dict], rows: Sequence[int], entities: Sequence[Sequence[tuple]]):
    """Out-of-fold scores of the candidate pairs of ``entities`` (predicted entities of the sentences ``rows``),
    each sentence scored by the relation classifier of the fold that held it out, with that fold's word
    vectors (``info["relations"]`` of :func:`~.fold_models.transformer_fold`). Out: ``(scored aligned with rows,
    classes)`` on the union of the folds' classes; sentences of no trained fold get no candidates."""
    parts = [info["relations"] for info in infos if info.get("relations")]
    union = _union([p["classifier"].classes_ for p in parts])
    where = {int(r): n for n, r in enumerate(rows)}
    scored: ScoredPairs = [[] for _ in rows]
    for part in parts:
        held = [(n, where[int(i)]) for n, i in enumerate(part["val_sentences"]) if int(i) in where]
        vectors = [part["val_vectors"][n].astype(np.float32) for n, _ in held]
        got = part["classifier"].predict_proba(vectors, [entities[m] for _, m in held])
        for (_, m), pairs in zip(held, got):
            scored[m] = _to_classes(pairs, part["classifier"].classes_, union)
    return scored, union


def test_relation_scores(infos: Sequence[dict], entities: Sequence[Sequence[tuple]]):
    """The fold classifiers' scores of the candidate pairs of the test ``entities``, each with its fold's word
    vectors, averaged (:func:`average_scored`). Out: ``(scored, classes)``."""
    parts = [info["relations"] for info in infos if info.get("relations")]
    got = [p["classifier"].predict_proba([v.astype(np.float32) for v in p["test_vectors"]], entities) for p in parts]
    if not got:
        return [[] for _ in entities], ("none",)
    return average_scored(got, [p["classifier"].classes_ for p in parts])


def rule_oof_relations(words, labels, relations, folds, rows, entities) -> list[list[Relation]]:
    """The rule baseline out of fold: for each fold, a :class:`~.relations.RuleLinker` fitted on the other
    folds' gold entities and relations links the ``entities`` (predicted) of its held-out sentences ``rows``.
    Out: relations aligned with ``rows``."""
    from .relations import RuleLinker

    folds = np.asarray(folds)
    out: list[list[Relation]] = [[] for _ in rows]
    for k in sorted({int(folds[i]) for i in rows}):
        train = np.flatnonzero(folds != k)
        rule = RuleLinker().fit([mentions(words[i], labels[i]) for i in train], [relations[i] for i in train])
        held = [n for n, i in enumerate(rows) if folds[i] == k]
        for n, rels in zip(held, rule.predict([entities[n] for n in held])):
            out[n] = rels
    return out
