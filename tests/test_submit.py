import pandas as pd
import pytest

from kitlib import cli, submit
from kitlib.errors import SubmissionError, UploadError
from kitlib.competitions import sentiment_classification as sentiment


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return sentiment.write_demo(tmp_path_factory.mktemp("data"), seed=5, n_train=20, n_val=10, n_test=12)


def good(data_dir):
    sample = pd.read_csv(data_dir / "sample_submission.csv", dtype=str, keep_default_na=False)
    return sample.assign(label=["negative", "neutral", "positive"] * 4)


def write(frame, tmp_path):
    path = tmp_path / "sub.csv"
    frame.to_csv(path, index=False)
    return path


def test_valid_submission_goes_to_the_ledger(kit_dirs, data_dir, tmp_path, capsys):
    path = write(good(data_dir), tmp_path)
    assert cli.main(["submit", str(path), "-c", "sentiment-classification", "--data-dir", str(data_dir),
                     "-m", "first try"]) == 0
    ledger = submit.read_ledger()
    assert len(ledger) == 1
    row = ledger.iloc[0]
    assert row.competition == "sentiment-classification" and row.message == "first try"
    assert row.upload_status == "not uploaded" and len(row.sha256) == 64


@pytest.mark.parametrize("change, message", [
    (lambda f: f.drop(columns="label"), r"columns \['embeddings'\]; expected \['embeddings', 'label'\]"),
    (lambda f: f[["label", "embeddings"]], "expected \\['embeddings', 'label'\\]"),
    (lambda f: f.iloc[:-1], "11 rows; sample_submission.csv has 12"),
    (lambda f: f.iloc[[1, 0] + list(range(2, 12))], r"column 'embeddings' differs from sample_submission.csv in row\(s\) 1, 2"),
    (lambda f: f.assign(label=["happy"] + ["neutral"] * 11), r"'happy' in row\(s\) 1 is not one of \['negative', 'neutral', 'positive'\]"),
    (lambda f: f.assign(label=[""] * 3 + ["neutral"] * 9), r"column 'label' is empty in row\(s\) 1, 2, 3"),
])
def test_invalid_submissions_are_refused_and_not_recorded(kit_dirs, data_dir, tmp_path, change, message, capsys):
    path = write(change(good(data_dir)), tmp_path)
    with pytest.raises(SubmissionError, match=message):
        submit.submit(str(path), "sentiment-classification", data_dir=data_dir, upload=True)
    assert submit.read_ledger().empty
    assert cli.main(["submit", str(path), "-c", "sentiment-classification", "--data-dir", str(data_dir)]) == 1
    assert "sub.csv" in capsys.readouterr().err


def test_failed_upload_is_marked_in_the_ledger(kit_dirs, data_dir, tmp_path, monkeypatch):
    from kitlib import platforms

    def refuse(platform, path, slug, message=""):
        raise UploadError("aicrowd refused sub.csv: 403 Forbidden")

    monkeypatch.setattr(platforms, "upload", refuse)
    path = write(good(data_dir), tmp_path)
    assert cli.main(["submit", str(path), "-c", "sentiment-classification", "--data-dir", str(data_dir),
                     "--upload"]) == 1
    row = submit.read_ledger().iloc[0]
    assert row.upload_status == "failed" and "403" in row.platform_message


def test_submit_by_run_id(kit_dirs, data_dir):
    from kitlib import run

    r = run.start("sentiment-classification", params={"seed": 0})
    r.log_data(data_dir)
    r.log_metrics({"val_weighted_f1": 0.7})
    path = submit.write_submission(good(data_dir), "sentiment-classification", run=r, data_dir=data_dir)
    assert path.parent.name == "sentiment-classification" and path.stem == r.id
    assert (r.dir / "submission.csv").read_bytes() == path.read_bytes()
    row = submit.submit(r.id)
    assert row["run_id"] == r.id and row["score"] == 0.7
    with pytest.raises(SubmissionError, match="neither a file nor a run id"):
        submit.submit("no-such-run")


def test_write_submission_refuses_invalid(kit_dirs, data_dir):
    with pytest.raises(SubmissionError, match="rows"):
        submit.write_submission(good(data_dir).iloc[:3], "sentiment-classification", data_dir=data_dir)


# ------------------------------------------------------------------------ a file a run wrote: provenance
def written_by_a_run(data_dir):
    from kitlib import run

    r = run.start("sentiment-classification", params={"seed": 0})
    r.log_data(data_dir)  # not the demo set: the file has the rows of this folder's sample
    r.log_metrics({"val_weighted_f1": 0.7})
    return r, submit.write_submission(good(data_dir), "sentiment-classification", run=r, data_dir=data_dir)


def test_submit_by_path_finds_the_run_and_its_data(kit_dirs, data_dir, capsys):
    r, path = written_by_a_run(data_dir)
    assert cli.main(["submit", str(path), "-m", "by path"]) == 0  # no --competition, no --data-dir
    assert f"run {r.id}" in capsys.readouterr().out
    row = submit.read_ledger().iloc[-1]
    assert row.run_id == r.id and float(row.score) == 0.7 and row.competition == "sentiment-classification"
    copy = submit.submit(str(r.dir / "submission.csv"))  # the run folder's copy is the run's too
    assert copy["run_id"] == r.id
    with pytest.raises(SubmissionError, match=f"was written by run {r.id} for 'sentiment-classification', not 'somd-ner'"):
        submit.submit(str(path), "somd-ner")


def test_an_edited_file_is_refused_or_recorded_as_edited(kit_dirs, data_dir, capsys):
    r, path = written_by_a_run(data_dir)
    path.write_text(path.read_text().replace("negative", "positive", 1))
    with pytest.raises(SubmissionError, match=rf"{path.name} was written by run {r.id} \(sha256 \w+\) but has changed "
                                              r"since \(sha256 \w+\): it was edited; pass --force"):
        submit.submit(str(path))
    with pytest.raises(SubmissionError, match="it was edited"):
        submit.submit(r.id)  # by run id, the same check
    assert submit.read_ledger().empty
    assert cli.main(["submit", str(path), "--force", "-m", "hand-fixed"]) == 0
    assert "edited after its run" in capsys.readouterr().out
    row = submit.read_ledger().iloc[-1]
    assert row.run_id == r.id and row.score == "" and row.message == "[edited] hand-fixed"


def test_a_refusal_names_the_sample_and_says_when_the_data_folder_was_a_guess(kit_dirs, data_dir, tmp_path):
    path = write(good(data_dir).iloc[:5], tmp_path)
    with pytest.raises(SubmissionError, match=r"no run in .* wrote this file; say which competition"):
        submit.submit(str(path))
    with pytest.raises(SubmissionError, match=r"compared against .*demo.sentiment-classification.sample_submission.csv "
                                              r"\(the sentiment-classification demo set: no data folder was given; "
                                              r"pass --data-dir"):
        submit.submit(str(path), "sentiment-classification")
    with pytest.raises(SubmissionError, match=r"5 rows; sample_submission.csv has 12; compared against "
                                              rf"{data_dir}/sample_submission.csv$"):
        submit.submit(str(path), "sentiment-classification", data_dir=data_dir)
