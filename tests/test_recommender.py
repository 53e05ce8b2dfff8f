"""The attraction recommender (kitlib.competitions.recommender): reading, encoding, the leave-last-out split,
negative sampling, the one-class refusal, the models, top-k, the submission check and the notebook."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from kitlib.errors import DataError, ParameterError, SubmissionError
from kitlib.competitions import recommender as rec

HEADER = "userId,attractionId,interactionType,timestamp\n"


def write(path, text):
    path.write_text(text)
    return path


def tiny_frame():
    """Three users; u1's latest attraction is C (a view then a book), u3 has a single attraction."""
    rows = [("u1", "A", "view", "2024-01-01 10:00:00"), ("u1", "C", "view", "2024-01-02 10:00:00"),
            ("u1", "B", "click", "2024-01-03 10:00:00"), ("u1", "C", "book", "2024-01-04 10:00:00"),
            ("u2", "B", "view", "2024-01-01 09:00:00"), ("u2", "A", "like", "2024-01-05 09:00:00"),
            ("u3", "D", "view", "2024-01-02 12:00:00"), ("u3", "D", "click", "2024-01-02 12:05:00")]
    frame = pd.DataFrame(rows, columns=list(rec.COLUMNS))
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    return frame


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo set as shipped (600 users, 5,000 interactions), read, encoded and split."""
    path = rec.write_demo(tmp_path_factory.mktemp("demo"))
    data = rec.IdEncoder().fit_transform(rec.read_interactions(path))
    return path, data, rec.split_interactions(data)


# ------------------------------------------------------------------------------------------ reading
def test_read_interactions_checks_columns_and_names_them(tmp_path):
    path = write(tmp_path / "x.csv", "userId,attraction,interactionType,timestamp\nu,a,view,2024-01-01\n")
    with pytest.raises(DataError, match=r"x.csv: missing column\(s\) \['attractionId'\]"):
        rec.read_interactions(path)


def test_read_interactions_names_the_lines_of_bad_timestamps(tmp_path):
    path = write(tmp_path / "x.csv", HEADER + "u,a,view,2024-01-01 10:00:00\nu,b,view,yesterday\n"
                                              "u,c,view,2024-13-45\n")
    with pytest.raises(DataError, match=r"'timestamp' holds 'yesterday' on lines 3, 4, which is not a date-time"):
        rec.read_interactions(path)


def test_read_interactions_names_empty_ids(tmp_path):
    path = write(tmp_path / "x.csv", HEADER + "u,a,view,2024-01-01\n,b,view,2024-01-02\n")
    with pytest.raises(DataError, match=r"column 'userId' is empty on line 3"):
        rec.read_interactions(path)


def test_read_interactions_takes_a_folder_and_parses_time(tmp_path):
    write(tmp_path / rec.FILE_NAME, HEADER + "u,a,view,2024-01-01T10:00:00Z\nu,b,book,2024-01-01 11:30:00\n")
    frame = rec.read_interactions(tmp_path)
    assert list(frame.columns) == list(rec.COLUMNS)
    assert frame["timestamp"].tolist() == [pd.Timestamp("2024-01-01 10:00"), pd.Timestamp("2024-01-01 11:30")]
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: expected synthetic_user_interactions.csv .*the folder holds \[\]"):
        rec.read_interactions(tmp_path / "empty")
    with pytest.raises(DataError, match="nothing-here: no such file"):
        rec.read_interactions(tmp_path / "nothing-here")


# ----------------------------------------------------------------------------------------- encoding
def test_encoder_keeps_the_mapping_and_round_trips():
    frame = tiny_frame()
    encoder = rec.IdEncoder().fit(frame)
    data = encoder.transform(frame)
    assert list(encoder.user_ids_) == ["u1", "u2", "u3"] and list(encoder.item_ids_) == ["A", "B", "C", "D"]
    assert encoder.type_names_ == ("view", "click", "like", "book")
    back = data.to_frame()
    assert back[["userId", "attractionId", "interactionType"]].equals(frame[["userId", "attractionId",
                                                                              "interactionType"]])


def test_unknown_ids_are_an_error_or_dropped_on_request():
    frame = tiny_frame()
    encoder = rec.IdEncoder().fit(frame)
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
    data = rec.IdEncoder().fit_transform(tiny_frame())
    split = rec.split_interactions(data, "last")
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
    frame = tiny_frame()
    data = rec.IdEncoder().fit_transform(pd.concat([frame] * 1, ignore_index=True))
    a, b = rec.split_interactions(data, "random", seed=1), rec.split_interactions(data, "random", seed=1)
    assert a.val_items.tolist() == b.val_items.tolist()
    with pytest.raises(ParameterError, match=r"Unknown split 'first'; expected one of \['last', 'random'\]"):
        rec.split_interactions(data, "first")


# -------------------------------------------------------------------------------- negative sampling
def test_negative_sampling_never_samples_a_positive():
    rng = np.random.default_rng(0)
    n_users, n_items = 50, 12
    dense = rng.random((n_users, n_items)) < 0.8  # most items are positives: collisions are frequent
    dense[np.arange(n_users), rng.integers(0, n_items, n_users)] = False  # leave each user one negative
    from scipy import sparse

    matrix = sparse.csr_matrix(dense.astype(np.float32))
    users = np.repeat(np.arange(n_users), 20)
    negatives = rec.sample_negatives(users, 3, matrix, np.random.default_rng(1))
    assert negatives.shape == (len(users), 3)
    assert not dense[users[:, None], negatives].any()
    assert (negatives == rec.sample_negatives(users, 3, matrix, np.random.default_rng(1))).all()
    full = sparse.csr_matrix(np.ones((1, n_items), dtype=np.float32))
    with pytest.raises(DataError, match="interacted with all 12 items"):
        rec.sample_negatives(np.array([0]), 1, full, rng)


def test_both_lookups_agree(monkeypatch, demo):
    _, _, split = demo
    matrix = split.train.user_item_matrix()
    users = np.repeat(np.arange(split.train.n_users), 5)
    items = np.random.default_rng(0).integers(0, split.train.n_items, len(users))
    bitset = rec.PositiveLookup(matrix).contains(users, items)
    monkeypatch.setattr(rec, "BITSET_MAX_BITS", 0)
    assert (rec.PositiveLookup(matrix).contains(users, items) == bitset).all()
    assert (bitset == np.asarray(matrix[users, items]).ravel().astype(bool)).all()


# ------------------------------------------------------------------------------- one-class refusal
def test_a_single_class_target_is_refused_naming_the_column_and_value(tmp_path):
    path = rec.write_demo(tmp_path, seed=0, degenerate=True, n_users=60, n_interactions=400)
    frame = rec.read_interactions(path)
    assert set(frame.interactionType) == {"view"}
    data = rec.IdEncoder().fit_transform(frame)
    fm = rec.FMRecommender(objective="pointwise", loss="bce", target="view", epochs=1)
    with pytest.raises(DataError, match=r"column 'interactionType' has a single class: every row is 'view'"):
        fm.fit(data)
    with pytest.raises(DataError, match=r"column 'label' has a single class: every row is 1"):
        rec.require_two_classes([1, 1, 1], "label")


def test_a_catalogue_no_larger_than_k_is_refused():
    data = rec.IdEncoder().fit_transform(tiny_frame())
    split = rec.split_interactions(data)
    with pytest.raises(DataError, match=r"catalogue has 4 attractions, not more than k=10.*HR@10 would be 1.0"):
        rec.evaluate(rec.PopularityRecommender().fit(split.train), split, k=10)


# ------------------------------------------------------------------------------------------- models
def test_top_k_excludes_seen_items_breaks_ties_by_code_and_batches():
    class Fixed:
        def score(self, users):
            return np.tile(np.array([5.0, 5.0, 1.0, 3.0, 5.0], dtype=np.float32), (len(users), 1))

    from scipy import sparse

    seen = sparse.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 1, 1]], dtype=np.float32))
    got = rec.top_k(Fixed(), np.array([0, 1, 2]), 3, exclude=seen, batch_size=2)
    assert got.tolist() == [[1, 4, 3], [0, 1, 4], [0, 1, 2]]
    with pytest.raises(DataError, match="user code 2 has interacted with 2 of 5 items; fewer than k=4"):
        rec.top_k(Fixed(), np.array([2]), 4, exclude=seen)


def test_item_knn_similarity_is_the_cosine_of_item_columns():
    from sklearn.metrics.pairwise import cosine_similarity

    data = rec.IdEncoder().fit_transform(tiny_frame())
    knn = rec.ItemKNNRecommender(neighbours=10).fit(data)
    expected = cosine_similarity(data.user_item_matrix().T.toarray())
    np.fill_diagonal(expected, 0)
    assert np.allclose(knn.similarity_.toarray(), expected, atol=1e-6)
    # u2 has A and B; C co-occurs with both (through u1), D with neither
    scores = knn.score(np.array([1]))[0]
    assert scores[2] > scores[3]


def test_item_knn_keeps_only_the_nearest_neighbours():
    data = rec.IdEncoder().fit_transform(tiny_frame())
    knn = rec.ItemKNNRecommender(neighbours=1).fit(data)
    assert (np.diff(knn.similarity_.T.tocsr().indptr) <= 1).all()  # each item keeps one neighbour


def test_popularity_ranks_by_distinct_users():
    data = rec.IdEncoder().fit_transform(tiny_frame())
    pop = rec.PopularityRecommender().fit(data)
    assert pop.popularity_.tolist() == [2, 2, 1, 1]  # A: u1, u2; B: u1, u2; C: u1 (twice); D: u3


def test_personalised_models_beat_popularity_on_the_demo(demo):
    _, _, split = demo
    pop = rec.evaluate(rec.PopularityRecommender().fit(split.train), split)
    knn = rec.evaluate(rec.ItemKNNRecommender().fit(split.train), split)
    assert knn["hr_at_10"] >= pop["hr_at_10"] + 0.15
    assert set(knn) == {"hr_at_10", "ndcg_at_10", "map_at_10", "mrr", "coverage"}
    assert knn["coverage"] > pop["coverage"]  # popularity shows everyone the same ten


def test_factorization_machine_learns_and_keeps_its_best_epoch(demo):
    _, _, split = demo
    fm = rec.FMRecommender(factors=16, epochs=6, lr=0.03, batch_size=128, seed=0).fit(split.train, split.validation)
    ndcg = [h["val_ndcg_at_10"] for h in fm.history_]
    assert len(ndcg) == 6 and "val_hr_at_10" in fm.history_[0]
    assert fm.best_epoch_ == int(np.argmax(ndcg)) + 1
    assert rec.evaluate(fm, split)["ndcg_at_10"] == pytest.approx(max(ndcg))  # best weights restored
    pop = rec.evaluate(rec.PopularityRecommender().fit(split.train), split)
    assert max(ndcg) > pop["ndcg_at_10"]


def test_factorization_machine_is_deterministic_and_supports_both_losses(demo):
    _, _, split = demo
    runs = [rec.FMRecommender(factors=8, epochs=2, loss=loss, batch_size=256, seed=3).fit(split.train)
            for loss in ("bpr", "bpr", "bce")]
    users = np.arange(5)
    assert np.array_equal(runs[0].score(users), runs[1].score(users))
    assert not np.allclose(runs[0].score(users), runs[2].score(users))


def test_pointwise_objective_predicts_the_target_type(demo):
    _, _, split = demo
    fm = rec.FMRecommender(factors=8, epochs=2, objective="pointwise", loss="bce", target="click", batch_size=256)
    fm.fit(split.train, split.validation)
    assert "type" not in fm._context_fields()  # the target is not a feature of itself
    assert fm.history_[-1]["val_hr_at_10"] >= 0
    with pytest.raises(ParameterError, match="needs target, one of the interaction types"):
        rec.FMRecommender(objective="pointwise", loss="bce").fit(split.train)
    with pytest.raises(DataError, match="never holds the target 'purchase'"):
        rec.FMRecommender(objective="pointwise", loss="bce", target="purchase").fit(split.train)


@pytest.mark.parametrize("kwargs, message", [
    ({"objective": "regression"}, r"Unknown objective 'regression'; expected one of \['ranking', 'pointwise'\]"),
    ({"loss": "hinge"}, r"Unknown loss 'hinge'; expected one of \['bpr', 'bce'\]"),
    ({"features": ("weather",)}, r"Unknown feature\(s\) \['weather'\]"),
    ({"n_negatives": 0}, "n_negatives must be >= 1"),
    ({"objective": "pointwise", "target": "book"}, "objective='pointwise' trains with loss='bce'"),
])
def test_factorization_machine_refuses_bad_settings(demo, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        rec.FMRecommender(**kwargs).fit(demo[2].train)


# ------------------------------------------------------------------------------- recommendations
def test_recommend_gives_k_unseen_attractions_to_every_user(demo):
    _, data, _ = demo
    knn = rec.ItemKNNRecommender().fit(data)
    out = rec.recommend(knn, data, k=5)
    assert list(out.columns) == ["userId", "rank", "attractionId"]
    assert len(out) == 5 * data.n_users and set(out.userId) == set(data.user_ids)
    assert (out.groupby("userId")["rank"].apply(list) == [[1, 2, 3, 4, 5]] * data.n_users).all()
    seen = set(zip(data.to_frame().userId, data.to_frame().attractionId))
    assert not any(pair in seen for pair in zip(out.userId, out.attractionId))
    assert not out.duplicated(["userId", "attractionId"]).any()


def test_recommend_handles_unknown_users_explicitly(demo):
    _, data, _ = demo
    pop = rec.PopularityRecommender().fit(data)
    with pytest.raises(DataError, match="1 userId\\(s\\) have no interactions .* e.g. \\['stranger'\\]"):
        rec.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]])
    out = rec.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]], unknown="popular")
    top3 = data.item_ids[np.argsort(-pop.popularity_, kind="stable")[:3]].tolist()
    assert out[out.userId == "stranger"].attractionId.tolist() == top3
    assert set(rec.recommend(pop, data, k=3, user_ids=["stranger", data.user_ids[0]], unknown="skip").userId) == {
        data.user_ids[0]}


# ------------------------------------------------------------------------------------ submission check
@pytest.fixture
def submission(demo, tmp_path):
    path, data, _ = demo
    frame = rec.recommend(rec.PopularityRecommender().fit(data), data, k=4)
    return frame, path.parent, tmp_path / "recommendations.csv"


def test_a_valid_file_passes_the_check(submission):
    frame, data_dir, out = submission
    frame.to_csv(out, index=False)
    rec.check_recommendations(out, data_dir)


@pytest.mark.parametrize("break_it, message", [
    (lambda f: f.iloc[4:], r"user\(s\) of the data have no recommendations"),
    (lambda f: f.assign(rank=f["rank"].where(f.index != 1, 1)), r"a user's rank repeats in row 2"),
    (lambda f: f.assign(attractionId=f.attractionId.where(f.index != 2, f.attractionId[0])),
     r"an attraction is recommended twice to the same user in row 3"),
    (lambda f: f.assign(attractionId=f.attractionId.where(f.index != 6, "Atlantis")),
     r"attractionId not in the data in row 7"),
    (lambda f: f.assign(rank=f["rank"].astype(str).where(f.index != 0, "first")),
     r"rank is not a positive integer in row 1"),
    (lambda f: f.assign(userId=f.userId.where(f.index != 3, "someone-else")), r"userId not in the interactions"),
    (lambda f: f.rename(columns={"rank": "position"}), r"columns \['userId', 'position', 'attractionId'\]"),
    (lambda f: f[f["rank"] != 4], None),  # every user with ranks 1..3: a valid k=3 file
])
def test_the_check_refuses_with_the_first_offending_rows(submission, break_it, message):
    frame, data_dir, out = submission
    break_it(frame.copy()).to_csv(out, index=False)
    if message is None:
        rec.check_recommendations(out, data_dir)
        return
    with pytest.raises(SubmissionError, match=message):
        rec.check_recommendations(out, data_dir)


def test_the_check_refuses_a_seen_attraction_and_a_short_user(demo, submission):
    _, data, _ = demo
    frame, data_dir, out = submission
    first_user, first_seen = data.to_frame().iloc[0][["userId", "attractionId"]]
    row = frame.index[frame.userId == first_user][0]
    frame.loc[row, "attractionId"] = first_seen
    frame.to_csv(out, index=False)
    with pytest.raises(SubmissionError, match=f"already interacted with is recommended in row {row + 1}"):
        rec.check_recommendations(out, data_dir)
    frame.drop(index=row).to_csv(out, index=False)
    with pytest.raises(SubmissionError, match="a user has 3 rows, not k=4"):
        rec.check_recommendations(out, data_dir)


def test_kit_submit_refuses_an_invalid_file(submission, kit_dirs, capsys):
    from kitlib.cli import main

    frame, data_dir, out = submission
    frame.iloc[:-1].to_csv(out, index=False)
    code = main(["submit", str(out), "--competition", "recommender", "--data-dir", str(data_dir)])
    assert code != 0
    assert "a user has 3 rows, not k=4" in capsys.readouterr().err
    frame.to_csv(out, index=False)
    assert main(["submit", str(out), "--competition", "recommender", "--data-dir", str(data_dir)]) == 0


# -------------------------------------------------------------------------------------------- demo
def test_demo_is_deterministic_in_the_reference_format(tmp_path):
    a = rec.write_demo(tmp_path / "a", seed=2, n_users=50, n_interactions=400)
    b = rec.write_demo(tmp_path / "b", seed=2, n_users=50, n_interactions=400)
    c = rec.write_demo(tmp_path / "c", seed=3, n_users=50, n_interactions=400)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1] != digest[2]
    frame = rec.read_interactions(a)
    assert list(frame.columns) == list(rec.COLUMNS) and len(frame) == 400
    assert set(frame.interactionType) == set(rec.INTERACTION_TYPES)
    assert frame.userId.str.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}").all()
    assert frame.userId.nunique() == 50 and frame.timestamp.is_monotonic_increasing
    mtime = a.stat().st_mtime_ns
    rec.write_demo(tmp_path / "a", seed=2, n_users=50, n_interactions=400)
    assert a.stat().st_mtime_ns == mtime  # same bytes: not rewritten


def test_demo_popularity_has_a_long_tail(demo):
    _, data, _ = demo
    counts = np.sort(np.bincount(data.items, minlength=data.n_items))[::-1]
    assert counts[: data.n_items // 5].sum() > 0.45 * counts.sum()  # a fifth of the catalogue, half the traffic
    assert counts[: data.n_items // 10].sum() > 2 * counts[-data.n_items // 2:].sum()


# ----------------------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_notebook_on_a_second_dataset(kit_dirs, tmp_path):
    from kitlib import run, submit
    from kitlib.execute import execute

    data_dir = tmp_path / "other"
    rec.write_demo(data_dir, seed=7, n_users=150, n_interactions=1200)
    run_dir = execute("recommender", {"smoke": "true", "data_dir": str(data_dir), "k": "5"})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok" and manifest["data_dir"] == str(data_dir)
    metrics = manifest["metrics"]
    for model in ("popularity", "item_knn", "fm"):
        assert f"val_hr_at_5_{model}" in metrics and f"val_ndcg_at_5_{model}" in metrics
    submit.validate_submission(manifest["submission"]["path"], "recommender", data_dir)
    out = pd.read_csv(manifest["submission"]["path"])
    assert len(out) == 5 * 150
