"""A factorization machine recommender in torch (imported lazily), trained by :func:`kitlib.train.fit`.

Implicit feedback: every interaction is a positive, paired with ``n_negatives`` items the user never
touched (``objective="ranking"``, BPR or sampled BCE), or the reference's set-up,
``objective="pointwise"``: "is this interaction a ``target``?" (with sampled non-interactions as extra
negatives). A pointwise target with one class in the data is refused (:func:`require_two_classes`): the
reference scored its all-"view" target with "RMSE 0.0".
"""
from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ...errors import DataError, ParameterError
from ...fitting import Recipe
from ...metrics.ranking import hit_rate_at_k, ndcg_at_k
from .interactions import Interactions, require_two_classes
from .ranking import top_k
from .sampling import SampledBatches

OBJECTIVES = ("ranking", "pointwise")
LOSSES = ("bpr", "bce")
SIDE_FEATURES = ("type", "dow", "hour", "counts", "recency")
# what FMRecommender trains with unless given a recipe: 20 epochs of AdamW at 0.03, weight decay 0.1, no bar
FM_RECIPE = Recipe(epochs=20, lr=0.03, weight_decay=0.1, batch_size=256, seed=0, progress=False)


@functools.cache
def _fm_module_class():
    """The torch module, built on first use so that importing this module does not import torch."""
    import torch
    from torch import nn

    class FactorizationMachine(nn.Module):
        """A second-order factorization machine split into a context side and an item side.

        Context fields (categorical codes into one table, plus numeric features) describe who and when:
        user, interaction type, day of week, hour, the user's count. Item fields: the item and its numeric
        features (popularity, recency), held in the ``item_features`` buffer. The score of context c and
        item i is the usual FM over all fields:
        ``w0 + lin(c) + lin(i) + pairs within c + pairs within i + <sum_c v, sum_i v>``,
        so scoring every item for a user is one matrix product.
        """

        def __init__(self, n_context: int, n_context_numeric: int, item_features: torch.Tensor, factors: int):
            super().__init__()
            n_items, n_item_numeric = item_features.shape
            self.bias = nn.Parameter(torch.zeros(()))
            self.context_embedding = nn.Embedding(n_context, factors)
            self.context_weight = nn.Embedding(n_context, 1)
            self.context_numeric = nn.Parameter(torch.zeros(n_context_numeric, factors))
            self.context_numeric_weight = nn.Parameter(torch.zeros(n_context_numeric))
            self.item_embedding = nn.Embedding(n_items, factors)
            self.item_weight = nn.Embedding(n_items, 1)
            self.item_numeric = nn.Parameter(torch.zeros(n_item_numeric, factors))
            self.item_numeric_weight = nn.Parameter(torch.zeros(n_item_numeric))
            self.register_buffer("item_features", item_features.float())
            for table in (self.context_embedding, self.item_embedding, self.context_numeric, self.item_numeric):
                nn.init.normal_((table.weight if isinstance(table, nn.Embedding) else table), std=0.01)
            nn.init.zeros_(self.context_weight.weight)
            nn.init.zeros_(self.item_weight.weight)

        def context_side(self, context: torch.Tensor, numeric: torch.Tensor):
            """``(sum of context vectors (B, d), linear + within-context pair terms (B,))``."""
            vectors = self.context_embedding(context)  # B, F, d
            total, squares = vectors.sum(1), (vectors * vectors).sum(1)
            linear = self.context_weight(context).sum((1, 2))
            if numeric.shape[1]:
                num = numeric[..., None] * self.context_numeric  # B, N, d
                total, squares = total + num.sum(1), squares + (num * num).sum(1)
                linear = linear + numeric @ self.context_numeric_weight
            return total, linear + 0.5 * (total * total - squares).sum(-1)

        def item_side(self):
            """``(sum of each item's vectors (n_items, d), its linear + within-item pair terms (n_items,))``."""
            feats = self.item_features
            total = self.item_embedding.weight + feats @ self.item_numeric
            squares = self.item_embedding.weight ** 2 + (feats * feats) @ (self.item_numeric ** 2)
            linear = self.item_weight.weight[:, 0] + feats @ self.item_numeric_weight
            return total, linear + 0.5 * (total * total - squares).sum(-1)

        def forward(self, context: torch.Tensor, numeric: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
            """Scores ``(B, m)`` of ``items`` ``(B, m)`` in each row's context ``(B, F)`` / ``(B, N)``."""
            ctx_total, ctx_terms = self.context_side(context, numeric)
            item_total, item_terms = self.item_side()
            # index_select rather than item_total[items]: its backward is a cheap index_add on CPU
            flat = items.reshape(-1)
            vectors = item_total.index_select(0, flat).view(*items.shape, -1)
            cross = (vectors * ctx_total[:, None, :]).sum(-1)
            return self.bias + ctx_terms[:, None] + item_terms.index_select(0, flat).view(items.shape) + cross

        def score_all(self, context: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
            """Scores ``(B, n_items)`` of every item in each row's context."""
            ctx_total, ctx_terms = self.context_side(context, numeric)
            item_total, item_terms = self.item_side()
            return self.bias + ctx_terms[:, None] + item_terms[None, :] + ctx_total @ item_total.T

    return FactorizationMachine


def bpr_loss(scores, target):
    """BPR: ``-log sigmoid(positive - negative)`` averaged over the sampled negatives (``scores[:, 0]`` is
    the positive; ``target`` is unused, present for the training loop's contract)."""
    import torch.nn.functional as F

    return -F.logsigmoid(scores[:, :1] - scores[:, 1:]).mean()


def sampled_bce_loss(scores, target):
    """Binary cross-entropy on ``[observed item, sampled negatives...]``: the observed item's label is
    ``target`` (1 for implicit feedback, the pointwise label otherwise), the sampled items' is 0."""
    import torch
    import torch.nn.functional as F

    labels = torch.zeros_like(scores)
    labels[:, 0] = target
    return F.binary_cross_entropy_with_logits(scores, labels)


SMALL_MODEL = 1_000_000  # parameters; below this an FM fits on one CPU thread unless told otherwise


@contextlib.contextmanager
def _torch_threads(threads: int | None):
    """Run the block with torch using ``threads`` CPU threads (``None``: unchanged), then restore."""
    import torch

    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        if threads:
            torch.set_num_threads(before)


def _standardise(x: np.ndarray) -> np.ndarray:
    std = float(x.std())
    return ((x - x.mean()) / (std if std > 0 else 1.0)).astype(np.float32)


class FMRecommender:
    """A factorization machine over user, item, interaction type and side features, in torch.

    Fields: user, item; with ``features`` (any of ``SIDE_FEATURES``) also ``type`` (interaction type),
    ``dow`` and ``hour`` of the interaction, ``counts`` (the user's interaction count; the item's number
    of users) and ``recency`` (days since the item was last seen in training), numeric features on a
    log scale, standardised on the training data.

    ``objective="ranking"`` (default): every interaction is a positive against ``n_negatives`` sampled
    items the user never interacted with, with ``loss="bpr"`` or ``"bce"`` (sampled binary
    cross-entropy). ``objective="pointwise"``: the reference's set-up, "is this interaction a ``target``"
    (an interaction type, so ``type`` is not a feature), plus ``n_negatives`` sampled non-interactions
    labelled 0 (0 gives exactly the reference's classifier).

    At scoring time the context (type, day, hour) is that of the user's latest training interaction.
    ``threads``: CPU threads torch uses while fitting and scoring (restored afterwards); ``None`` picks one
    for models under ``SMALL_MODEL`` parameters, whose tensors are too small to gain from splitting (on a
    busy machine each split op waits for a descheduled thread), and leaves torch's setting otherwise.
    Trained by :func:`kitlib.train.fit` as ``recipe`` says (default :data:`FM_RECIPE`; ``batch_size``
    positives per batch, ``seed`` (0 when None) for the initial weights and the sampled negatives too); with
    ``validation`` it reports ``val_ndcg_at_{k}`` and ``val_hr_at_{k}`` each epoch and keeps the best epoch's
    weights.
    """

    def __init__(self, factors: int = 32, *, objective: str = "ranking", loss: str = "bpr",
                 target: str | None = None, n_negatives: int = 4, features: Sequence[str] = SIDE_FEATURES,
                 k: int = 10, threads: int | None = None, recipe: Recipe = FM_RECIPE):
        self.factors = factors
        self.objective = objective
        self.loss = loss
        self.target = target
        self.n_negatives = n_negatives
        self.features = features
        self.k = k
        self.threads = threads
        self.recipe = recipe

    # -- checks and features
    def _check_params(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ParameterError(f"Unknown objective {self.objective!r}; expected one of {list(OBJECTIVES)}")
        if self.loss not in LOSSES:
            raise ParameterError(f"Unknown loss {self.loss!r}; expected one of {list(LOSSES)}")
        unknown = [f for f in self.features if f not in SIDE_FEATURES]
        if unknown:
            raise ParameterError(f"Unknown feature(s) {unknown}; expected any of {list(SIDE_FEATURES)}")
        if self.n_negatives < (1 if self.objective == "ranking" else 0):
            raise ParameterError(f"n_negatives must be >= 1 for objective='ranking'; got {self.n_negatives}")
        if self.objective == "pointwise" and self.loss != "bce":
            raise ParameterError("objective='pointwise' trains with loss='bce'; BPR needs a ranking objective")
        if min(self.factors, self.recipe.epochs, self.recipe.batch_size, self.k) < 1:
            raise ParameterError("factors, epochs, batch_size and k must be >= 1")

    def _labels(self, train: Interactions) -> np.ndarray:
        if self.objective == "ranking":
            return np.ones(len(train), dtype=np.float32)
        names = list(train.type_names)
        present = np.asarray(names, dtype=object)[np.unique(train.types)]
        if self.target is None:
            raise ParameterError(f"objective='pointwise' needs target, one of the interaction types {names}")
        require_two_classes(present, "interactionType", source="training interactions")
        if self.target not in names:
            raise DataError(f"column 'interactionType' never holds the target {self.target!r}; "
                            f"its values are {names}")
        return (train.types == names.index(self.target)).astype(np.float32)

    def _context_fields(self) -> list[str]:
        fields = [f for f in ("type", "dow", "hour") if f in self.features]
        return [f for f in fields if not (f == "type" and self.objective == "pointwise")]

    def _build_features(self, train: Interactions):
        """Context codes for the training rows and for scoring each user; item numeric features."""
        n_users, n_items = train.n_users, train.n_items
        sizes = {"type": max(len(train.type_names), 1), "dow": 7, "hour": 24}
        stamps = pd.DatetimeIndex(train.timestamps)
        raw = {"type": train.types, "dow": stamps.day_of_week.to_numpy(), "hour": stamps.hour.to_numpy()}
        fields = self._context_fields()
        offset, row_codes = n_users, [train.users]
        for f in fields:
            row_codes.append(raw[f].astype(np.int64) + offset)
            offset += sizes[f]
        context = np.stack(row_codes, axis=1).astype(np.int64)
        # scoring context: each user's latest training interaction (the most common value for users without)
        order = np.lexsort((np.arange(len(train)), train.timestamps.astype("int64"), train.users))
        last = order[np.r_[train.users[order][1:] != train.users[order][:-1], True]] if len(train) else order
        user_context = np.zeros((n_users, 1 + len(fields)), dtype=np.int64)
        user_context[:, 0] = np.arange(n_users)
        for j, _field in enumerate(fields, start=1):
            user_context[:, j] = np.bincount(context[:, j]).argmax()
            user_context[train.users[last], j] = context[last, j]
        counts_user = np.bincount(train.users, minlength=n_users).astype(np.float64)
        matrix = train.user_item_matrix()
        counts_item = np.asarray(matrix.sum(axis=0)).ravel().astype(np.float64)
        numeric_user, item_cols = [], []
        if "counts" in self.features:
            numeric_user.append(_standardise(np.log1p(counts_user)))
            item_cols.append(_standardise(np.log1p(counts_item)))
        if "recency" in self.features:
            secs = train.timestamps.astype("int64") / 1e9
            latest = np.full(n_items, np.nan)
            np.fmax.at(latest, train.items, secs)
            end = secs.max() if len(secs) else 0.0
            days = np.where(np.isnan(latest), (end - np.nanmin(latest, initial=end)) / 86400 + 1,
                            (end - latest) / 86400)
            item_cols.append(_standardise(np.log1p(np.maximum(days, 0))))
        user_numeric = (np.stack(numeric_user, 1) if numeric_user else np.zeros((n_users, 0))).astype(np.float32)
        item_numeric = (np.stack(item_cols, 1) if item_cols else np.zeros((n_items, 0))).astype(np.float32)
        return context, user_numeric, user_context, item_numeric, offset, matrix

    # -- fit / score
    def fit(self, train: Interactions, validation: tuple[np.ndarray, np.ndarray] | None = None,
            callbacks: Sequence = ()) -> FMRecommender:
        """Train on ``train``; with ``validation`` = ``(users, items)`` held-out pairs (see
        :attr:`Split.validation`) evaluate NDCG@k/HR@k after each epoch (seen items excluded) and keep
        the best epoch. ``callbacks`` go to :func:`kitlib.train.fit` (e.g. ``OptunaPruning(trial,
        "val_ndcg_at_10")``). Sets ``module_``, ``history_``, ``best_epoch_``, ``best_score_``,
        ``threads_``, ``user_context_``, ``user_numeric_``. Raises ``ParameterError`` for invalid
        settings and ``DataError`` for a pointwise target with a single class in the data.
        """
        import torch

        from ...runtime import resolve_device, seed_everything
        from ...train import fit as train_fit

        self._check_params()
        recipe = self.recipe
        seed = recipe.seed if recipe.seed is not None else 0
        seed_everything(seed)  # the initial weights too come from the seed
        labels = self._labels(train)
        context, user_numeric, user_context, item_numeric, n_context, matrix = self._build_features(train)
        module = _fm_module_class()(n_context, user_numeric.shape[1], torch.from_numpy(item_numeric), self.factors)
        batches = SampledBatches(train.users, context, user_numeric[train.users], train.items, labels, matrix,
                                  self.n_negatives, recipe.batch_size, seed)
        self.user_context_, self.user_numeric_ = user_context, user_numeric
        self.n_items_ = train.n_items
        self.device_ = resolve_device(recipe.device)
        evaluate_fn, monitor = None, None
        if validation is not None:
            val_users, val_items = (np.asarray(v) for v in validation)
            k = self.k

            def evaluate_fn(model) -> dict[str, float]:
                self.module_ = model
                recs = top_k(self, val_users, k, exclude=matrix)
                return {f"val_ndcg_at_{k}": ndcg_at_k(val_items, recs, k),
                        f"val_hr_at_{k}": hit_rate_at_k(val_items, recs, k)}

            monitor = f"val_ndcg_at_{k}"
        loss_fn = bpr_loss if (self.objective == "ranking" and self.loss == "bpr") else sampled_bce_loss
        n_params = sum(p.numel() for p in module.parameters())
        self.threads_ = self.threads or (1 if n_params < SMALL_MODEL else None)
        with _torch_threads(self.threads_):
            watched = replace(recipe, seed=seed, monitor=monitor, mode="max" if monitor else None)
            result = train_fit(module, batches, loss_fn=loss_fn, evaluate_fn=evaluate_fn, recipe=watched,
                               callbacks=callbacks, desc="factorization machine")
        self.module_ = result.model
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.best_score_ = result.best_score
        return self

    def score(self, users: np.ndarray) -> np.ndarray:
        """``(len(users), n_items)`` float32 scores of every item for ``users`` (codes)."""
        import torch

        module = self.module_
        module.eval()
        users = np.asarray(users, dtype=np.int64)
        with torch.inference_mode(), _torch_threads(self.threads_):
            context = torch.from_numpy(self.user_context_[users]).to(self.device_)
            numeric = torch.from_numpy(self.user_numeric_[users]).to(self.device_)
            return module.score_all(context, numeric).float().cpu().numpy()
