"""Recommender systems on implicit feedback: interactions in, ranked top-k items per user out, measured honestly.

Flow::

    IdEncoder(type_order).fit(frame).transform(frame) -> Interactions   integer codes; the id mapping stays
    split_interactions(data, "last") -> Split     each user's latest item held out, with all of its
                                                  interactions (no leak into training or the filter)
    PopularityRecommender / ItemKNNRecommender / FMRecommender .fit(train) .score(users)
    top_k(model, users, k, exclude) -> codes      batched over users, seen items never recommended
    held_out_ranks(model, split) -> ranks         each held-out item's place in the full ranking
    evaluate(model, split, k) -> {hr_at_k, ndcg_at_k, map_at_k, mrr, coverage}
    recommend(model, data, k) -> DataFrame(userId, rank, attractionId)

Modules: :mod:`.interactions` (codes, split, the one-class refusal), :mod:`.sampling` (negatives),
:mod:`.baselines`, :mod:`.fm` (the factorization machine; torch is imported only when it is fitted) and
:mod:`.ranking`. A competition's file format (its reader, its interaction types) stays with the
competition (``kitlib.competitions.recommender``); nothing here imports it.
"""
from __future__ import annotations

from .baselines import ItemKNNRecommender, PopularityRecommender
from .fm import FM_RECIPE, LOSSES, OBJECTIVES, SIDE_FEATURES, FMRecommender, bpr_loss, sampled_bce_loss
from .interactions import FRAME_COLUMNS, IdEncoder, Interactions, Split, require_two_classes, split_interactions
from .ranking import evaluate, held_out_ranks, recommend, score_pairs, top_k
from .sampling import PositiveLookup, SampledBatches, sample_negatives

__all__ = [
    "FRAME_COLUMNS", "IdEncoder", "Interactions", "Split", "require_two_classes", "split_interactions",
    "PositiveLookup", "SampledBatches", "sample_negatives",
    "PopularityRecommender", "ItemKNNRecommender",
    "OBJECTIVES", "LOSSES", "SIDE_FEATURES", "FM_RECIPE", "FMRecommender", "bpr_loss", "sampled_bce_loss",
    "top_k", "held_out_ranks", "score_pairs", "evaluate", "recommend",
]
