"""Recommender systems (kitlib.tasks.recsys): encoding, the leave-last-out split, negative sampling, the
one-class refusal, the baselines, the factorization machine, top-k and recommendations.

The demo interactions come from the recommender competition's generator (the only data set at hand);
the library itself knows nothing of that competition."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from kitlib.competitions import recommender as rec
from kitlib.errors import DataError, ParameterError
from kitlib.tasks import recsys
from kitlib.tasks.recsys import sampling

FUNNEL = ("view", "click", "like", "book")


def tiny_frame():
    """Three users; u1's latest attraction is C (a view then a book), u3 has a single attraction."""
    rows = [("u1", "A", "view", "2024-01-01 10:00:00"), ("u1", "C", "view", "2024-01-02 10:00:00"),
            ("u1", "B", "click", "2024-01-03 10:00:00"), ("u1", "C", "book", "2024-01-04 10:00:00"),
            ("u2", "B", "view", "2024-01-01 09:00:00"), ("u2", "A", "like", "2024-01-05 09:00:00"),
            ("u3", "D", "view", "2024-01-02 12:00:00"), ("u3", "D", "click", "2024-01-02 12:05:00")]
    frame = pd.DataFrame(rows, columns=list(recsys.FRAME_COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


def encode(frame):
    return recsys.IdEncoder(FUNNEL).fit_transform(frame)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo set as shipped (600 users, 5,000 interactions), read, encoded and split."""
    path = rec.write_demo(tmp_path_factory.mktemp("demo")) / rec.FILE_NAME
    data = recsys.IdEncoder(rec.INTERACTION_TYPES).fit_transform(rec.read_interactions(path))
    return path, data, recsys.split_interactions(data)


# ----------------------------------------------------------------------------------------- encoding
def test_encoder_keeps_the_mapping_and_round_trips():
    frame = tiny_frame()
    encoder = recsys.IdEncoder(FUNNEL).fit(frame)
    data = encoder.transform(frame)
    assert list(encoder.user_ids_) == ["u1", "u2", "u3"] and list(encoder.item_ids_) == ["A", "B", "C", "D"]
    assert encoder.type_names_ == ("view", "click", "like", "book")
    back = data.to_frame()
    assert list(back.columns) == list(recsys.FRAME_COLUMNS)
    assert back[["userId", "attractionId", "interactionType"]].equals(frame[["userId", "attractionId",
                                                                              "interactionType"]])


def test_encoder_orders_types_as_told_then_the_others_sorted():
    frame = tiny_frame()
    assert recsys.IdEncoder().fit(frame).type_names_ == ("book", "click", "like", "view")
    assert recsys.IdEncoder(("like", "share")).fit(frame).type_names_ == ("like", "book", "click", "view")


def test_unknown_ids_are_an_error_or_dropped_on_request():
    frame = tiny_frame()
    encoder = recsys.IdEncoder(FUNNEL).fit(frame)
    new = pd.concat([frame, pd.DataFrame([("u9", "A", "view", pd.Timestamp("2024-02-01"))],
                                         columns=frame.columns)], ignore_index=True)
    with pytest.raises(DataError, match=r"column 'userId' holds 'u9' on line 10, not seen when the encoder"):
        encoder.transform(new)
    assert len(encoder.transform(new, unknown="drop")) == len(frame)
    assert encoder.user_codes(["u2", "u9"], unknown="drop").tolist() == [1, -1]
    with pytest.raises(DataError, match=r"not seen when the encoder was fitted, e.g. \['u9'\]"):
        encoder.user_codes(["u9"])


# -------------------------------------------------------------------------------------------- split
def test_leave_last_out_holds_out_the_latest_attraction_with_all_its_interactions():
    data = encode(tiny_frame())
    split = recsys.split_interactions(data, "last")
    # u1's latest interaction is a booking of C (code 2); u2's a like of A (0); u3 has one attraction only
    assert split.val_users.tolist() == [0, 1] and split.val_items.tolist() == [2, 0]
    train = split.train.to_frame()
    assert not ((train.userId == "u1") & (train.attractionId == "C")).any()  # the earlier view left too
    assert len(split.held_out) == 3 and len(split.train) == 5
    seen = split.train.user_item_matrix()
    assert seen[0, 2] == 0 and seen[1, 0] == 0  # the filter of seen items does not know the held-out pairs
    assert (train.userId == "u3").sum() == 2  # u3 stays in training


def test_no_held_out_pair_leaks_into_training_on_the_demo(demo):
    _, data, split = demo
    seen = split.train.user_item_matrix()
    assert not np.asarray(seen[split.val_users, split.val_items]).any()
    assert len(split.train) + len(split.held_out) == len(data)
    latest = data.to_frame().sort_values("timestamp", kind="stable").groupby("userId").tail(1)
    expected = dict(zip(latest.userId, latest.attractionId))
    got = dict(zip(data.user_ids[split.val_users], data.item_ids[split.val_items]))
    assert all(expected[u] == item for u, item in got.items())


def test_random_split_is_seeded():
    data = encode(tiny_frame())
    a, b = recsys.split_interactions(data, "random", seed=1), recsys.split_interactions(data, "random", seed=1)
    assert a.val_items.tolist() == b.val_items.tolist()
    with pytest.raises(ParameterError, match=r"Unknown split 'first'; expected one of \['last', 'random'\]"):
        recsys.split_interactions(data, "first")


# -------------------------------------------------------------------------------- negative sampling
def test_negative_sampling_never_samples_a_positive():
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 12
    dense = rng.random((n_users, n_items)) < 0.8  # most items are positives: collisions are frequent
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = False  # leave each user one negative
    matrix = sparse.csr_matrix(dense.astype(np.float32))
    users = np.repeat(np.arange(n_users), 20)
    negatives = recsys.sample_negatives(users, 3, matrix, np.random.default_rng(1))
    assert negatives.shape == (len(users), 3)
    assert not dense[users[:, None], negatives].any()
    assert (negatives == recsys.sample_negatives(users, 3, matrix, np.random.default_rng(1))).all()
    full = sparse.csr_matrix(np.ones((1, n_items), dtype=np.float32))
    with pytest.raises(DataError, match="interacted with all 12 items"):
        recsys.sample_negatives(np.array([0]), 1, full, rng)


def test_both_lookups_agree(monkeypatch, demo):
    _, _, split = demo
    matrix = split.train.user_item_matrix()
    users = np.repeat(np.arange(split.train.n_users), 5)
    items = np.random.default_rng(0).integers(0, split.train.n_items, len(users))
    bitset_lookup = recsys.PositiveLookup(matrix)
    bitset = bitset_lookup.contains(users, items)
    monkeypatch.setattr(sampling, "BITSET_MAX_BITS", 0)
    searched = recsys.PositiveLookup(matrix)
    assert bitset_lookup.bits is not None and searched.bits is None  # the two paths really were taken
    assert (searched.contains(users, items) == bitset).all()
    assert (bitset == np.asarray(matrix[users, items]).ravel().astype(bool)).all()


# ------------------------------------------------------------------------------- one-class refusal
def test_a_single_class_target_is_refused_naming_the_column_and_value(tmp_path):
    path = rec.write_demo(tmp_path, seed=0, degenerate=True, n_users=60, n_interactions=400) / rec.FILE_NAME
    frame = rec.read_interactions(path)
    assert set(frame.interactionType) == {"view"}
    data = recsys.IdEncoder(rec.INTERACTION_TYPES).fit_transform(frame)
    fm = recsys.FMRecommender(objective="pointwise", loss="bce", target="view",
                              recipe=replace(recsys.FM_RECIPE, epochs=1))
    with pytest.raises(DataError, match=r"column 'interactionType' has a single class: every row is 'view'"):
        fm.fit(data)
    with pytest.raises(DataError, match=r"column 'label' has a single class: every row is 1"):
        recsys.require_two_classes([1, 1, 1], "label")


def test_a_catalogue_no_larger_than_k_is_refused():
    split = recsys.split_interactions(encode(tiny_frame()))
    with pytest.raises(DataError, match=r"catalogue has 4 attractions, not more than k=10.*HR@10 would be 1.0"):
        recsys.evaluate(recsys.PopularityRecommender().fit(split.train), split, k=10)


# ------------------------------------------------------------------------------------------- models
def test_top_k_excludes_seen_items_breaks_ties_by_code_and_batches():
    class Fixed:
        def score(self, users):
            return np.tile(np.array([5.0, 5.0, 1.0, 3.0, 5.0], dtype=np.float32), (len(users), 1))

    seen = sparse.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], dtype=np.float32))
    got = recsys.top_k(Fixed(), np.array([0, 1, 2]), 3, exclude=seen, batch_size=2)
    assert got.tolist() == [[1, 4, 3], [0, 1, 4], [0, 1, 2]]
    with pytest.raises(DataError, match="user code 2 has interacted with 2 of 5 items; fewer than k=4"):
        recsys.top_k(Fixed(), np.array([2]), 4, exclude=seen)


def test_item_knn_similarity_is_the_cosine_of_item_columns():
    from sklearn.metrics.pairwise import cosine_similarity

    data = encode(tiny_frame())
    knn = recsys.ItemKNNRecommender(neighbours=10).fit(data)
    expected = cosine_similarity(data.user_item_matrix().T.toarray())
    np.fill_diagonal(expected, 0)
    assert np.allclose(knn.similarity_.toarray(), expected, atol=1e-6)
    # u2 has A and B; C co-occurs with both (through u1), D with neither
    scores = knn.score(np.array([1]))[0]
    assert scores[2] > scores[3]


def test_item_knn_keeps_only_the_nearest_neighbours():
    knn = recsys.ItemKNNRecommender(neighbours=1).fit(encode(tiny_frame()))
    assert (np.diff(knn.similarity_.T.tocsr().indptr) <= 1).all()  # each item keeps one neighbour


def test_popularity_ranks_by_distinct_users():
    pop = recsys.PopularityRecommender().fit(encode(tiny_frame()))
    assert pop.popularity_.tolist() == [2, 2, 1, 1]  # A: u1, u2; B: u1, u2; C: u1 (twice); D: u3


def test_personalised_models_beat_popularity_on_the_demo(demo):
    _, _, split = demo
    pop = recsys.evaluate(recsys.PopularityRecommender().fit(split.train), split)
    knn = recsys.evaluate(recsys.ItemKNNRecommender().fit(split.train), split)
    assert knn["hr_at_10"] >= pop["hr_at_10"] + 0.15
    assert set(knn) == {"hr_at_10", "ndcg_at_10", "map_at_10", "mrr", "coverage"}
    assert knn["coverage"] > pop["coverage"]  # popularity shows everyone the same ten


def test_factorization_machine_learns_and_keeps_its_best_epoch(demo):
    _, _, split = demo
    recipe = replace(recsys.FM_RECIPE, epochs=6, lr=0.03, batch_size=128, seed=0)
    fm = recsys.FMRecommender(factors=16, recipe=recipe).fit(split.train, split.validation)
    ndcg = [h["val_ndcg_at_10"] for h in fm.history_]
    assert len(ndcg) == 6 and "val_hr_at_10" in fm.history_[0]
    assert fm.best_epoch_ == int(np.argmax(ndcg)) + 1
    assert recsys.evaluate(fm, split)["ndcg_at_10"] == pytest.approx(max(ndcg))  # best weights restored
    pop = recsys.evaluate(recsys.PopularityRecommender().fit(split.train), split)
    assert max(ndcg) > pop["ndcg_at_10"]


def test_factorization_machine_is_deterministic_and_supports_both_losses(demo):
    _, _, split = demo
    recipe = replace(recsys.FM_RECIPE, epochs=2, batch_size=256, seed=3)
    runs = [recsys.FMRecommender(factors=8, loss=loss, recipe=recipe).fit(split.train)
            for loss in ("bpr", "bpr", "bce")]
    users = np.arange(5)
    assert np.array_equal(runs[0].score(users), runs[1].score(users))
    assert not np.allclose(runs[0].score(users), runs[2].score(users))


def bookable_frame(n_users=60, n_items=20, per_user=6, seed=0):
    """Each user views ``per_user`` of ``n_items`` attractions drawn uniformly; the first half of the
    catalogue ("I00".."I09") is always booked after the view, the other half never: equally popular, so
    only the interaction type tells the halves apart."""
    rng = np.random.default_rng(seed)
    rows, start = [], pd.Timestamp("2024-01-01")
    for u in range(n_users):
        for item in rng.choice(n_items, per_user, replace=False):
            t = start + pd.Timedelta(hours=int(rng.integers(0, 2000)))
            rows.append((f"u{u:02d}", f"I{item:02d}", "view", t))
            if item < n_items // 2:
                rows.append((f"u{u:02d}", f"I{item:02d}", "book", t + pd.Timedelta(minutes=10)))
    return pd.DataFrame(rows, columns=list(recsys.FRAME_COLUMNS))


def test_pointwise_objective_scores_the_attractions_that_get_the_target_type_higher():
    data = encode(bookable_frame())
    users, booked = np.arange(data.n_users), np.arange(data.n_items) < data.n_items // 2

    def separation(**kwargs):
        recipe = replace(recsys.FM_RECIPE, epochs=5, batch_size=64, seed=0)
        fm = recsys.FMRecommender(factors=4, recipe=recipe, **kwargs).fit(data)
        scores = fm.score(users)
        strict = (scores[:, booked].min(1) > scores[:, ~booked].max(1)).mean()
        return strict, (scores[:, booked].mean(1) > scores[:, ~booked].mean(1)).mean()

    # the reference's classifier ("is this interaction a book?", no sampled negatives)
    strict, on_average = separation(objective="pointwise", loss="bce", target="book", n_negatives=0)
    assert on_average == 1.0 and strict >= 0.9  # every user's booked half above the other, nearly always all
    # with sampled non-interactions as extra negatives the booked half still comes first for every user
    assert separation(objective="pointwise", loss="bce", target="book", n_negatives=4)[1] == 1.0
    # a ranking FM on the same data learns what gets interacted with, not what gets booked
    assert separation(objective="ranking", n_negatives=4)[1] < 0.9


def test_pointwise_objective_beats_a_random_ranking_and_refuses_bad_targets(demo):
    _, _, split = demo
    fm = recsys.FMRecommender(factors=8, objective="pointwise", loss="bce", target="click",
                              recipe=replace(recsys.FM_RECIPE, epochs=2, batch_size=256))
    fm.fit(split.train, split.validation)
    assert "type" not in fm._context_fields()  # the target is not a feature of itself
    # a random list of 10 among a user's unseen attractions hits the held-out one with 10 / (unseen)
    unseen = split.train.n_items - np.diff(split.train.user_item_matrix().indptr)[split.val_users]
    random_hr = float(np.mean(10 / unseen))
    assert fm.history_[-1]["val_hr_at_10"] > 1.5 * random_hr
    with pytest.raises(ParameterError, match="needs target, one of the interaction types"):
        recsys.FMRecommender(objective="pointwise", loss="bce").fit(split.train)
    with pytest.raises(DataError, match="never holds the target 'purchase'"):
        recsys.FMRecommender(objective="pointwise", loss="bce", target="purchase").fit(split.train)


@pytest.mark.parametrize("kwargs, message", [
    ({"objective": "regression"}, r"Unknown objective 'regression'; expected one of \['ranking', 'pointwise'\]"),
    ({"loss": "hinge"}, r"Unknown loss 'hinge'; expected one of \['bpr', 'bce'\]"),
    ({"features": ("weather",)}, r"Unknown feature\(s\) \['weather'\]"),
    ({"n_negatives": 0}, "n_negatives must be >= 1"),
    ({"objective": "pointwise", "target": "book"}, "objective='pointwise' trains with loss='bce'"),
])
def test_factorization_machine_refuses_bad_settings(demo, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        recsys.FMRecommender(**kwargs).fit(demo[2].train)


# ------------------------------------------------------------------------------- recommendations
def test_recommend_gives_k_unseen_attractions_to_every_user(demo):
    _, data, _ = demo
    knn = recsys.ItemKNNRecommender().fit(data)
    out = recsys.recommend(knn, data, k=5)
    assert list(out.columns) == ["userId", "rank", "attractionId"]
    assert len(out) == 5 * data.n_users and set(out.userId) == set(data.user_ids)
    assert (out.groupby("userId")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * data.n_users).all()
    seen = set(zip(data.to_frame().userId, data.to_frame().attractionId))
    assert not any(pair in seen for pair in zip(out.userId, out.attractionId))
    assert not out.duplicated(["userId", "attractionId"]).any()


def test_recommend_handles_unknown_users_explicitly(demo):
    _, data, _ = demo
    pop = recsys.PopularityRecommender().fit(data)
    with pytest.raises(DataError, match="1 userId\\(s\\) have no interactions .* e.g. \\['stranger'\\]"):
        recsys.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]])
    out = recsys.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]], unknown="popular")
    top3 = data.item_ids[np.argsort(-pop.popularity_, kind="stable")[:3]].tolist()
    assert out[out.userId == "stranger"].attractionId.tolist() == top3
    assert set(recsys.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]],
                                unknown="skip").userId) == {data.user_ids[0]}
