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
