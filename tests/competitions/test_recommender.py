"""The attraction recommender competition (kitlib.competitions.recommender): reading the interactions file,
the submission check, the demo set and the notebook. The models are tested in tests/tasks/test_recsys.py."""
import hashlib

import numpy as np
import pandas as pd
import pytest

from kitlib.competitions import recommender as rec
from kitlib.errors import DataError, SubmissionError
from kitlib.tasks import recsys

HEADER = "userId,attractionId,interactionType,timestamp\n"


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo set as shipped (600 users, 5,000 interactions), read and encoded."""
    path = rec.write_demo(tmp_path_factory.mktemp("demo")) / rec.FILE_NAME
    return path, recsys.IdEncoder(rec.INTERACTION_TYPES).fit_transform(rec.read_interactions(path))


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


def test_the_file_format_is_the_frame_the_encoder_reads(demo):
    assert rec.COLUMNS == recsys.FRAME_COLUMNS
    _, data = demo
    assert data.type_names == rec.INTERACTION_TYPES  # codes in funnel order: view, click, like, book


# ------------------------------------------------------------------------------------ submission check
@pytest.fixture
def submission(demo, tmp_path):
    path, data = demo
    frame = recsys.recommend(recsys.PopularityRecommender().fit(data), data, k=4)
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
    _, data = demo
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
    a = rec.write_demo(tmp_path / "a", seed=2, n_users=50, n_interactions=400) / rec.FILE_NAME
    b = rec.write_demo(tmp_path / "b", seed=2, n_users=50, n_interactions=400) / rec.FILE_NAME
    c = rec.write_demo(tmp_path / "c", seed=3, n_users=50, n_interactions=400) / rec.FILE_NAME
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
    _, data = demo
    counts = np.sort(np.bincount(data.items, minlength=data.n_items))[::-1]
    assert counts[: data.n_items // 5].sum() > 0.45 * counts.sum()  # a fifth of the catalogue, half the traffic
    assert counts[: data.n_items // 10].sum() > 2 * counts[-data.n_items // 2:].sum()


# -------------------------------------------------------------------------------------- run tables
class FixedScores:
    """A model whose scores are given: ``score(users)`` returns their rows."""

    def __init__(self, scores):
        self.scores = np.asarray(scores, dtype=np.float32)

    def score(self, users):
        return self.scores[np.asarray(users)]


SCORES = [[9.0, 0.5, 0.9, 0.5], [0.3, 0.2, 9.0, 0.1], [0.0, 0.0, 0.0, 0.0]]  # users x attractions a..d


@pytest.fixture
def tiny_split():
    """Three users, four attractions a..d; users 0 and 1 have two attractions, user 2 one (not evaluated)."""
    frame = pd.DataFrame({"userId": ["u0", "u0", "u1", "u1", "u2"], "attractionId": ["a", "b", "c", "d", "a"],
                          "interactionType": "view",
                          "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-01", "2024-01-03",
                                                       "2024-01-01"])})
    data = recsys.IdEncoder(rec.INTERACTION_TYPES).fit_transform(frame)
    return data, recsys.split_interactions(data, "last")


def test_held_out_ranks_count_the_full_ranking_by_hand(tiny_split):
    data, split = tiny_split
    assert split.val_users.tolist() == [0, 1] and split.val_items.tolist() == [1, 3]  # u0 holds out b, u1 d
    # u0 has seen a (excluded, though it scores highest); b scores 0.5: c (0.9) is ahead, d ties at 0.5 but
    # has a higher code. u1 has seen c (excluded); d scores 0.1, behind a and b: rank 3 of 3 candidates.
    model = FixedScores(SCORES)
    assert recsys.held_out_ranks(model, split).tolist() == [2, 3]
    for k in (1, 2, 3):  # rank <= k exactly when top_k lists the held-out attraction
        recs = recsys.top_k(model, split.val_users, k, exclude=split.train.user_item_matrix())
        hits = [item in row for item, row in zip(split.val_items, recs)]
        assert hits == (recsys.held_out_ranks(model, split) <= k).tolist()
    assert recsys.score_pairs(model, [1, 0, 1], [2, 1, 0]).tolist() == pytest.approx([9.0, 0.5, 0.3])


def test_the_oof_table_is_the_chosen_models_ranks_and_matches_the_metric(demo, tiny_split):
    data, split = tiny_split
    oof = rec.oof_predictions(FixedScores(SCORES), split, k=2)
    assert oof.to_dict("list") == {"userId": ["u0", "u1"], "attractionId": ["b", "d"], "fold": [0, 0],
                                   "pred_rank": [2.0, 3.0], "pred_in_top_k": [1.0, 0.0]}
    # on the demo set (many ties in popularity), NDCG@10 from the ranks is the one evaluate() reports
    _, demo_data = demo
    demo_split = recsys.split_interactions(demo_data, "last")
    for model in (recsys.PopularityRecommender().fit(demo_split.train),
                  recsys.ItemKNNRecommender(20).fit(demo_split.train)):
        ranks = rec.oof_predictions(model, demo_split, k=10)["pred_rank"].to_numpy()
        expected = recsys.evaluate(model, demo_split, 10)
        assert np.mean(np.where(ranks <= 10, 1 / np.log2(ranks + 1), 0.0)) == pytest.approx(expected["ndcg_at_10"])
        assert np.mean(ranks <= 10) == pytest.approx(expected["hr_at_10"])
        assert ranks.min() >= 1 and ranks.max() > 10  # the full ranking, not cut at k
    cv = rec.cv_summary(demo_split, 0.25)
    assert cv == {"metric": "val_ndcg_at_10", "mean": 0.25, "std": 0.0, "folds": [0.25],
                  "n_rows": len(demo_split.val_users)}


def test_the_test_table_holds_the_final_lists_with_scores(demo):
    _, data = demo
    model = recsys.PopularityRecommender().fit(data)
    recommendations = recsys.recommend(model, data, k=3)
    table = rec.final_predictions(recommendations, data, model)
    assert list(table.columns) == ["userId", "rank", "attractionId", "pred_score"]
    items = pd.Index(data.item_ids).get_indexer(table["attractionId"])
    assert table["pred_score"].tolist() == model.popularity_[items].tolist()
    assert (table.groupby("userId")["pred_score"].diff().dropna() <= 0).all()  # best first
    no_model = rec.final_predictions(recommendations, data)
    assert list(no_model.columns) == ["userId", "rank", "attractionId", "pred_rank"]
    assert no_model["pred_rank"].tolist() == recommendations["rank"].astype(float).tolist()


def test_recommender_runs_are_not_blendable():
    assert rec.COMPETITION.predictions is None


# ----------------------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_notebook_on_a_second_dataset(kit_dirs, tmp_path, capsys):
    """Two smoke runs with different ``seed``: each writes its prediction tables; with split "last" they
    hold out the same attractions; ``kit blend`` refuses them (ranked lists are not blended)."""
    from kitlib import run, submit
    from kitlib.cli import main
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

    data = recsys.IdEncoder(rec.INTERACTION_TYPES).fit_transform(rec.read_interactions(data_dir))
    val_users = recsys.split_interactions(data, "last").val_users
    oof = pd.read_parquet(run_dir / "oof.parquet")
    assert list(oof.columns) == ["userId", "attractionId", "fold", "pred_rank", "pred_in_top_k"]
    assert len(oof) == len(val_users) and oof["userId"].is_unique and set(oof["fold"]) == {0}
    assert set(oof["userId"]) == set(data.user_ids[val_users])
    assert (oof["pred_rank"] >= 1).all() and oof["pred_rank"].max() <= data.n_items
    assert (oof["pred_in_top_k"] == (oof["pred_rank"] <= 5)).all()  # k is 5 in this run
    cv = manifest["cv"]
    assert cv["metric"] == "val_ndcg_at_10" and cv["std"] == 0.0 and cv["folds"] == [cv["mean"]]
    assert cv["n_rows"] == len(oof) and cv["mean"] == manifest["score"] == metrics["val_ndcg_at_10"]
    ranks = oof["pred_rank"].to_numpy()
    assert np.mean(np.where(ranks <= 10, 1 / np.log2(ranks + 1), 0.0)) == pytest.approx(cv["mean"])
    test = pd.read_parquet(run_dir / "test_predictions.parquet")
    assert list(test.columns) == ["userId", "rank", "attractionId", "pred_score"]
    assert (test.groupby("userId").size() == 5).all() and test["userId"].nunique() == 150
    assert test[["userId", "rank", "attractionId"]].astype(str).equals(out.astype(str))

    other = execute("recommender", {"smoke": "true", "data_dir": str(data_dir), "k": "5", "seed": "1"})
    other_oof = pd.read_parquet(other / "oof.parquet")
    assert other_oof[["userId", "attractionId", "fold"]].equals(oof[["userId", "attractionId", "fold"]])
    capsys.readouterr()
    assert main(["blend", run_dir.name, other.name]) != 0
    assert "recommender runs keep no blendable predictions" in capsys.readouterr().err
    assert sorted(p.name for p in kit_dirs[0].iterdir()) == sorted([run_dir.name, other.name])  # no blend folder


def test_a_file_cut_mid_row_is_refused_instead_of_read_partially(tmp_path):
    path = write(tmp_path / "y.csv", HEADER + "u,a,view,2024-01-01 10:00:00\nu,b,cli")
    with pytest.raises(DataError, match=r"y.csv: the last line holds 3 field\(s\) where the header has 4; .*cut short"):
        rec.read_interactions(path)
