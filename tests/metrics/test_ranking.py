"""Recommender metrics (kitlib.metrics.ranking): values worked out by hand, and against scikit-learn's
``ndcg_score`` and the kit's own ``map_at_k`` where they compute the same thing."""
import math

import numpy as np
import pytest
from sklearn.metrics import ndcg_score

from kitlib.metrics import (
    catalogue_coverage,
    hit_rate_at_k,
    map_at_k,
    mean_average_precision_at_k,
    mean_reciprocal_rank,
    ndcg_at_k,
)

# three users, one relevant item each, found at rank 2, at rank 1 and at rank 3
RELEVANT = ["a", "b", "c"]
RECOMMENDED = [["x", "a", "y"], ["b", "x", "y"], ["y", "z", "c"]]


def test_hit_rate_counts_users_with_a_hit_in_the_first_k():
    assert hit_rate_at_k(RELEVANT, RECOMMENDED, k=1) == pytest.approx(1 / 3)  # only user 2
    assert hit_rate_at_k(RELEVANT, RECOMMENDED, k=2) == pytest.approx(2 / 3)
    assert hit_rate_at_k(RELEVANT, RECOMMENDED, k=3) == 1.0


def test_ndcg_of_one_relevant_item_is_one_over_log2_of_rank_plus_one():
    # ranks 2, 1, 3 -> 1/log2(3) = 0.6309, 1, 1/log2(4) = 0.5
    assert ndcg_at_k(RELEVANT, RECOMMENDED, k=3) == pytest.approx((1 / math.log2(3) + 1 + 0.5) / 3)
    assert ndcg_at_k(RELEVANT, RECOMMENDED, k=2) == pytest.approx((1 / math.log2(3) + 1 + 0) / 3)


def test_ndcg_with_several_relevant_items_divides_by_the_ideal_ordering():
    # relevant {a, b} at ranks 1 and 3: DCG = 1 + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) = 1.6309
    assert ndcg_at_k([{"a", "b"}], [["a", "x", "b"]], k=3) == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    # three relevant but k = 2: the ideal holds two hits only, so two hits in two places score 1
    assert ndcg_at_k([{"a", "b", "c"}], [["b", "a", "x"]], k=2) == pytest.approx(1.0)


def test_ndcg_matches_scikit_learn():
    rng = np.random.default_rng(0)
    n_items, k = 20, 5
    relevant, ranked, y_true, y_score = [], [], [], []
    for _ in range(30):
        rel = set(rng.choice(n_items, size=rng.integers(1, 4), replace=False).tolist())
        order = rng.permutation(n_items)
        relevant.append(rel)
        ranked.append(order)
        y_true.append([1.0 if i in rel else 0.0 for i in range(n_items)])
        score = np.empty(n_items)
        score[order] = np.arange(n_items, 0, -1)  # first in the list = highest score
        y_score.append(score)
    assert ndcg_at_k(relevant, ranked, k=k) == pytest.approx(ndcg_score(y_true, y_score, k=k))


def test_map_averages_precision_at_each_hit():
    # relevant {a, b}; hits at ranks 2 and 4: (1/2 + 2/4) / min(2, 4) = 0.5
    assert mean_average_precision_at_k([{"a", "b"}], [["x", "a", "y", "b"]], k=4) == pytest.approx(0.5)
    # with k = 3 only the hit at rank 2 counts: (1/2) / min(2, 3) = 0.25
    assert mean_average_precision_at_k([{"a", "b"}], [["x", "a", "y", "b"]], k=3) == pytest.approx(0.25)
    # one relevant item per user: 1/rank -> (1/2 + 1 + 1/3) / 3
    assert mean_average_precision_at_k(RELEVANT, RECOMMENDED, k=3) == pytest.approx((0.5 + 1 + 1 / 3) / 3)


def test_map_with_one_relevant_item_equals_the_kaggle_map_at_k():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 8, 50).tolist()
    preds = [rng.permutation(8)[:5].tolist() for _ in range(50)]
    assert mean_average_precision_at_k(truth, preds, k=3) == pytest.approx(map_at_k(truth, preds, k=3))


def test_mrr_is_the_mean_reciprocal_rank_of_the_first_hit():
    assert mean_reciprocal_rank(RELEVANT, RECOMMENDED) == pytest.approx((0.5 + 1 + 1 / 3) / 3)
    assert mean_reciprocal_rank(["a", "b", "c"], [["x", "a"], ["b"], ["y", "z", "w"]]) == pytest.approx(0.5)
    assert mean_reciprocal_rank(RELEVANT, RECOMMENDED, k=1) == pytest.approx(1 / 3)


def test_coverage_is_the_share_of_the_catalogue_recommended_to_anyone():
    assert catalogue_coverage([[1, 2], [2, 3]], catalogue_size=10) == pytest.approx(0.3)
    assert catalogue_coverage([[1, 2], [2, 3]], catalogue_size=10, k=1) == pytest.approx(0.2)
    with pytest.raises(ValueError, match="catalogue holds 2"):
        catalogue_coverage([[1, 2, 3]], catalogue_size=2)


def test_a_repeated_item_counts_once_and_lists_are_cut_at_k():
    # "a" repeated: its second copy adds nothing; "b" at rank 3 is outside k = 2
    assert ndcg_at_k([{"a", "b"}], [["a", "a", "b"]], k=2) == pytest.approx(1 / (1 + 1 / math.log2(3)))
    assert hit_rate_at_k(["a"], [["x", "x", "a"]], k=2) == 0.0


def test_two_dimensional_arrays_of_codes_work():
    recs = np.array([[3, 1, 2], [0, 4, 1]])
    assert hit_rate_at_k(np.array([1, 2]), recs, k=3) == 0.5
    assert ndcg_at_k(np.array([1, 2]), recs, k=3) == pytest.approx(1 / math.log2(3) / 2)


@pytest.mark.parametrize("metric", [hit_rate_at_k, ndcg_at_k, mean_average_precision_at_k, mean_reciprocal_rank])
def test_bad_inputs_are_refused(metric):
    with pytest.raises(ValueError, match="2 users with relevant items but 1 recommendation lists"):
        metric(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="empty"):
        metric([], [])
    with pytest.raises(ValueError, match="no relevant item"):
        metric([set()], [["a"]])
    with pytest.raises(ValueError, match="k must be a positive integer"):
        metric(["a"], [["a"]], k=0)
