import pandas as pd
import pytest

from kitlib import cli, submit
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.errors import SubmissionError, UploadError


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
    (lambda f: f.iloc[[1, 0] + list(range(2, 12))],
     r"column 'embeddings' differs from sample_submission.csv in row\(s\) 1, 2"),
    (lambda f: f.assign(label=["happy"] + ["neutral"] * 11),
     r"'happy' in row\(s\) 1 is not one of \['negative', 'neutral', 'positive'\]"),
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

    def refuse(platform, path, slug, message="", timeout_s=None):
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
    with pytest.raises(SubmissionError,
                       match=f"was written by run {r.id} for 'sentiment-classification', not 'somd-ner'"):
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


def test_a_binary_or_cut_submission_is_refused_in_one_short_line(tmp_path):
    from kitlib.submit import validate_submission

    binary = tmp_path / "submission.csv"
    binary.write_bytes(b"PK\x03\x04" + bytes(range(128, 256)) * 16)
    with pytest.raises(SubmissionError) as caught:
        validate_submission(binary, "sentiment-classification", None)
    text = str(caught.value)
    assert "submission.csv: not a text CSV file" in text and len(text) < 300 and "\\x" not in text
    wide = tmp_path / "wide.csv"
    wide.write_text(",".join("x" * 500 for _ in range(3)) + "\n1,2,3\n")
    with pytest.raises(SubmissionError, match=r"columns \['x{37}\.\.\.'") as caught:
        validate_submission(wide, "sentiment-classification", None)
    assert len(str(caught.value)) < 400


# ------------------------------------------------------------------------ the ledger: events, lock, old files
def upload_with(monkeypatch, answer):
    """Let ``platforms.upload`` answer with ``answer(...)`` (a function of the ledger's events so far)."""
    from kitlib import platforms

    def fake(platform, path, slug, message="", timeout_s=None):
        return answer(submit.read_ledger(events=True).upload_status.tolist(), platform)

    monkeypatch.setattr(platforms, "upload", fake)


def test_an_upload_is_recorded_before_the_client_is_called_then_settled(kit_dirs, data_dir, tmp_path, monkeypatch):
    from kitlib.platforms import UploadResult

    seen = []
    upload_with(monkeypatch, lambda events, platform: seen.append(events) or UploadResult(platform, True, "ok", "77"))
    row = submit.submit(str(write(good(data_dir), tmp_path)), "sentiment-classification", data_dir=data_dir,
                        upload=True)
    assert seen == [["uploading"]]  # on record before the platform was asked
    events = submit.read_ledger(events=True)
    assert events.upload_status.tolist() == ["uploading", "uploaded"]
    assert len(events[list(submit.SUBMISSION_KEY)].drop_duplicates()) == 1  # both rows name one submission
    assert events.status_time.iloc[1] >= events.status_time.iloc[0] == events.time.iloc[0]
    (settled,) = submit.read_ledger().to_dict("records")
    assert settled == {k: ("" if v is None else str(v)) for k, v in row.items()}
    assert settled["upload_status"] == "uploaded" and settled["platform_id"] == "77"


@pytest.mark.parametrize("raised, status, said", [
    (KeyboardInterrupt(), "unknown", "interrupted (Ctrl-C)"),
    (RuntimeError("client bug"), "unknown", "ended with RuntimeError: client bug"),
    (UploadError("HTTP 403 Forbidden"), "failed", "HTTP 403 Forbidden"),
])
def test_every_upload_exception_is_one_line_a_non_zero_exit_and_a_settled_row(kit_dirs, data_dir, tmp_path,
                                                                             monkeypatch, capsys, raised, status,
                                                                             said):
    def fail(events, platform):
        raise raised

    upload_with(monkeypatch, fail)
    path = write(good(data_dir), tmp_path)
    try:
        code = cli.main(["submit", str(path), "-c", "sentiment-classification", "--data-dir", str(data_dir),
                         "--upload"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped kit submit")
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and said in err and "Traceback" not in err
    assert submit.read_ledger(events=True).upload_status.tolist() == ["uploading", status]
    assert said in submit.read_ledger().platform_message.iloc[0]


OLD_LEDGER = ('time,competition,file,sha256,run_id,score,message,upload_status,platform_message\r\n'
              '2025-01-01T00:00:00+00:00,sentiment-classification,/old.csv,' + "a" * 64 +
              ',,,"old, ""quoted""",uploaded,AIcrowd accepted submission 1\r\n')  # as the kit wrote it then


def test_an_older_ledger_without_the_new_columns_keeps_working(kit_dirs, data_dir, tmp_path, monkeypatch):
    """Its header is rewritten with the new columns (issue 26) before the next row, its rows kept as they were."""
    from kitlib.platforms import UploadResult

    submit.ledger_path().parent.mkdir(parents=True)
    submit.ledger_path().write_bytes(OLD_LEDGER.encode())
    path = write(good(data_dir), tmp_path)
    submit.submit(str(path), "sentiment-classification", data_dir=data_dir)
    upload_with(monkeypatch, lambda events, platform: UploadResult(platform, True, "accepted", "9"))
    submit.submit(str(path), "sentiment-classification", data_dir=data_dir, upload=True)

    text = submit.ledger_path().read_bytes().decode()
    header, first = OLD_LEDGER.split("\r\n")[:2]
    lines = text.split("\r\n")  # the file's own line ends are kept
    assert lines[0] == ",".join(submit.LEDGER_COLUMNS) and text.count("\r\n") == 5
    assert lines[1] == first + "," * (len(submit.LEDGER_COLUMNS) - len(header.split(",")))  # the old row, kept
    assert submit.read_ledger(events=True).upload_status.tolist() == ["uploaded", "not uploaded", "uploading",
                                                                      "uploaded"]
    ledger = submit.read_ledger()
    assert ledger.upload_status.tolist() == ["uploaded", "not uploaded", "uploaded"]
    assert ledger.message.iloc[0] == 'old, "quoted"' and ledger.status_time.iloc[0] == ledger.time.iloc[0]
    assert ledger.platform_message.iloc[0] == "AIcrowd accepted submission 1"
    assert list(ledger.columns) == list(submit.LEDGER_COLUMNS) and ledger.platform_id.tolist() == ["", "", "9"]


def test_an_empty_ledger_file_gets_its_header(kit_dirs, data_dir, tmp_path):
    submit.ledger_path().parent.mkdir(parents=True)
    submit.ledger_path().touch()  # as another process that had just created it would leave it
    submit.submit(str(write(good(data_dir), tmp_path)), "sentiment-classification", data_dir=data_dir)
    assert submit.ledger_path().read_text().splitlines()[0] == ",".join(submit.LEDGER_COLUMNS)
    assert submit.read_ledger().upload_status.tolist() == ["not uploaded"]


ROWS, TRIALS = 10, 3
MESSAGE = 'a "quoted", multi-line\nmessage ' * 40


def append_rows(start, who: int) -> None:
    start.wait()
    for i in range(ROWS):
        submit.append_ledger(dict(time=f"{who}-{i}", competition="c", file=f"{who}.csv", sha256="0" * 64,
                                  message=MESSAGE, upload_status="not uploaded"))


def test_two_processes_appending_at_once_write_one_header_and_intact_rows(kit_dirs, tmp_path, monkeypatch):
    """Two first-ever submits at once, on fresh ledgers, on a disk slow enough to open the ledger that both look
    before either writes."""
    import builtins
    import multiprocessing
    import time

    real_open = builtins.open

    def slow_open(file, *args, **kwargs):
        if str(file).endswith("ledger.csv"):
            time.sleep(0.02)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", slow_open)
    context = multiprocessing.get_context("fork")
    header = ",".join(submit.LEDGER_COLUMNS)
    for trial in range(TRIALS):
        monkeypatch.setenv("KIT_SUBMISSIONS_DIR", str(tmp_path / f"trial-{trial}"))
        start = context.Barrier(2)
        writers = [context.Process(target=append_rows, args=(start, who)) for who in (0, 1)]
        for process in writers:
            process.start()
        for process in writers:
            process.join(60)
        assert [w.exitcode for w in writers] == [0, 0]
        text = submit.ledger_path().read_text()
        assert text.startswith(header + "\n") and text.count(header) == 1, f"trial {trial}"
        ledger = submit.read_ledger(events=True)
        assert set(ledger.message) == {MESSAGE} and set(ledger.upload_status) == {"not uploaded"}
        for who in (0, 1):  # every row of each process, intact, in its order
            assert ledger.time[ledger.file == f"{who}.csv"].tolist() == [f"{who}-{i}" for i in range(ROWS)]
