"""kit lb reads the platform's verdict back into the ledger (kitlib.platform_status), through the REAL kaggle client
talking to the stand-in in tests/kaggle_stub.py, whose SubmissionBoard answers ListSubmissions, GetSubmission and
GetSubmissionLimits in kagglesdk 0.1.38's shapes (scores as strings, status PENDING | COMPLETE | ERROR)."""
from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    StubPlatform,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
    project_competition,
)

from kitlib import cli, platform_status, run, submit
from kitlib.data import file_sha256

SLUG = "demo-competition"
LIST = f"{KAGGLE_SERVICE}/ListSubmissions"
GET = f"{KAGGLE_SERVICE}/GetSubmission"
LB_LIMIT_S = 2


@pytest.fixture
def project(kit_dirs, kit_project: Path, kaggle_credentials, kaggle_server: StubPlatform, monkeypatch) -> Path:
    """The project competition on the Kaggle stand-in, limits of a few seconds; returns a valid submission file."""
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "5")
    monkeypatch.setenv("KIT_LB_TIMEOUT_S", str(LB_LIMIT_S))
    monkeypatch.setattr(platform_status, "POLL_S", 0.05)
    return project_competition(kit_project, "kaggle", SLUG)


def a_run(run_id: str, data: Path, sample: Path, cv_mean: float = 0.9) -> str:
    """An ok run that wrote its submission where write_submission puts it (submissions/<slug>/<run-id>.csv)."""
    path = submit.submissions_dir() / SLUG / f"{run_id}.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(sample.read_bytes())
    folder = run.runs_dir() / run_id
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "run_id": run_id, "competition": SLUG, "status": "ok", "score": cv_mean, "data_dir": str(data),
        "params": {"smoke": False, "data_dir": str(data)}, "cv": {"mean": cv_mean, "std": 0.01, "folds": [cv_mean] * 3},
        "submission": {"path": str(path), "sha256": file_sha256(path)}}))
    return run_id


def uploaded(project: Path, capsys, *args: str) -> dict:
    assert cli.main(["submit", str(project), "-c", SLUG, "--upload", *args]) == 0, capsys.readouterr().err
    return submit.read_ledger().iloc[-1].to_dict()


def test_pending_then_scored_and_a_check_that_changes_nothing_appends_nothing(project: Path, kaggle_server, capsys):
    row = uploaded(project, capsys)
    assert row["platform_id"] == "4242"
    item = kaggle_server.board.add(4242, "submission.csv")  # Kaggle: PENDING, no scores yet
    assert cli.main(["lb", SLUG]) == 0
    out = capsys.readouterr().out
    latest = submit.read_ledger().iloc[-1]
    assert latest.platform_status == "pending" and latest.public_score == "" and latest.checked_time
    assert "1 changed, 1 pending" in out and " pending" in out.splitlines()[2]
    item.update(status="COMPLETE", publicScore="0.912340")  # the string as Kaggle writes it, trailing zero included
    assert cli.main(["lb", SLUG]) == 0
    out = capsys.readouterr().out
    latest = submit.read_ledger().iloc[-1]
    assert latest.platform_status == "scored" and latest.public_score == "0.912340" and latest.private_score == ""
    assert "0.912340" in out  # never rounded
    events = len(submit.read_ledger(events=True))
    assert cli.main(["lb", SLUG]) == 0  # scored without a private score: read again, nothing changed
    assert len(submit.read_ledger(events=True)) == events
    request = kaggle_server.requests_to("POST", LIST)[0].json()
    assert request["competitionName"] == SLUG and request["pageSize"] == 20


def test_wait_polls_with_backoff_until_scored(project: Path, kaggle_server, capsys):
    row = uploaded(project, capsys)
    item = kaggle_server.board.add(int(row["platform_id"]), "submission.csv")
    answered = kaggle_server.routes[("POST", LIST)]

    def later(request):
        if len(kaggle_server.requests_to("POST", LIST)) >= 3:
            item.update(status="COMPLETE", publicScore="0.8", privateScore="0.79")
        return answered(request)

    kaggle_server.routes[("POST", LIST)] = later
    assert cli.main(["lb", SLUG, "--wait", "20"]) == 0
    assert len(kaggle_server.requests_to("POST", LIST)) == 3
    latest = submit.read_ledger().iloc[-1]
    assert (latest.platform_status, latest.public_score, latest.private_score) == ("scored", "0.8", "0.79")
    states = submit.read_ledger(events=True).platform_status.tolist()
    assert states == ["", "", "pending", "scored"]  # uploading, uploaded, then one row per change


def test_submit_upload_wait_reads_the_verdict_of_the_file_it_sent(project: Path, kaggle_server, capsys):
    answered = kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")]

    def create(request):
        kaggle_server.board.add(4242, "submission.csv", "COMPLETE", public="0.77")
        return answered(request)

    kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")] = create
    assert cli.main(["submit", str(project), "-c", SLUG, "--upload", "--wait", "5"]) == 0
    assert "scored: public 0.77" in capsys.readouterr().out
    assert submit.read_ledger().iloc[-1].public_score == "0.77"


def test_an_error_is_recorded_with_its_description(project: Path, kaggle_server, capsys):
    answered = kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")]

    def create(request):
        kaggle_server.board.add(4242, "submission.csv", "ERROR", error="Submission file has 2 rows; expected 3")
        return answered(request)

    kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")] = create
    assert cli.main(["submit", str(project), "-c", SLUG, "--upload", "--wait", "5"]) == 1
    err = capsys.readouterr().err
    assert err == f"kit submit: {SLUG} could not score the submission: Submission file has 2 rows; expected 3\n"
    latest = submit.read_ledger().iloc[-1]
    assert latest.platform_status == "error" and latest.platform_error == "Submission file has 2 rows; expected 3"
    assert latest.public_score == "" and latest.upload_status == "uploaded"
    assert cli.main(["lb", SLUG]) == 0  # an error is final: not read again
    assert "error: Submission file has 2 rows" in capsys.readouterr().out
    assert len(kaggle_server.requests_to("POST", LIST)) == 1


def test_a_submission_the_platform_does_not_list_is_said_and_left_alone(project: Path, kaggle_server, capsys):
    uploaded(project, capsys)
    kaggle_server.board.add(17, "other.csv", "COMPLETE", public="0.5")  # someone's other submission
    before = submit.ledger_path().read_bytes()
    assert cli.main(["lb", SLUG]) == 0
    out = capsys.readouterr().out
    assert "Kaggle does not know submission 4242" in out and "its row is left as it is" in out
    assert submit.ledger_path().read_bytes() == before
    assert [r.json()["ref"] for r in kaggle_server.requests_to("POST", GET)] == [4242]  # asked once, 404


def test_pages_are_read_until_the_ref_is_found_then_getsubmission(project: Path, kaggle_server, capsys):
    uploaded(project, capsys)
    board = kaggle_server.board
    board.add(4242, "submission.csv", "COMPLETE", public="0.61")
    for ref in range(100, 145):  # 45 newer submissions: the kit's is on the third page of 20
        board.add(ref, f"other-{ref}.csv", "COMPLETE", public="0.1")
    assert cli.main(["lb", SLUG]) == 0
    tokens = [r.json().get("pageToken", "") for r in kaggle_server.requests_to("POST", LIST)]
    assert tokens == ["", "20", "40"] and not kaggle_server.requests_to("POST", GET)
    assert submit.read_ledger().iloc[-1].public_score == "0.61"

    board.items[-1]["privateScore"] = "0.63"  # the private score comes out: read within --pages 1, else GetSubmission
    kaggle_server.seen.clear()
    assert cli.main(["lb", SLUG, "--pages", "1"]) == 0
    assert len(kaggle_server.requests_to("POST", LIST)) == 1 and not kaggle_server.requests_to("POST", GET)
    assert submit.read_ledger().iloc[-1].private_score == ""  # a scored row never drives the paging
    board.items[-1]["status"] = "PENDING"  # (as if re-scored) a row the kit still looks for: GetSubmission finds it
    rows = submit.read_ledger(events=True)
    submit.append_ledger({**rows.iloc[-1].to_dict(), "platform_status": "pending"})
    board.items[-1]["status"] = "COMPLETE"
    assert cli.main(["lb", SLUG, "--pages", "1"]) == 0
    assert [r.json()["ref"] for r in kaggle_server.requests_to("POST", GET)] == [4242]
    assert submit.read_ledger().iloc[-1].private_score == "0.63"


def test_a_missing_ref_is_matched_by_file_name_and_date(project: Path, kaggle_server, capsys, monkeypatch):
    data = project.parent / f"{SLUG}-data"
    run_id = a_run(f"{SLUG}-20260101-000000-abcd", data, project)
    kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")] = lambda r: (200, b"<html>busy</html>")
    assert cli.main(["submit", run_id, "--upload"]) == 1  # an answer it cannot read: unknown
    sent = kaggle_server.requests_to("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload")[0].json()
    assert sent["fileName"] == f"{run_id}.csv"  # what the kit sends: the run's file, <run-id>.csv
    row = submit.read_ledger().iloc[-1]
    assert row.upload_status == "unknown" and row.platform_id == ""
    recorded = dt.datetime.fromisoformat(row.time)
    stamp = lambda minutes: (recorded + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"  # noqa: E731
    board = kaggle_server.board
    board.add(501, f"{run_id}.csv", "COMPLETE", public="0.70", date=stamp(-25))  # same name, too early
    board.add(502, "submission.csv", "COMPLETE", public="0.71", date=stamp(1))  # right time, other name
    board.add(503, f"{run_id}.csv", "COMPLETE", public="0.72", date=stamp(1))  # this one
    assert cli.main(["lb", SLUG]) == 0
    latest = submit.read_ledger().iloc[-1]
    assert (latest.upload_status, latest.platform_id, latest.public_score) == ("uploaded", "503", "0.72")
    assert latest.platform_message.startswith("matched by kit lb: Kaggle submission 503")
    assert "0.7200" not in capsys.readouterr().out  # shown as Kaggle wrote it
    table = submit.read_ledger()
    assert len(table) == 1 and table.iloc[0].run_id == run_id


def test_two_candidates_for_a_missing_ref_are_said_not_guessed(project: Path, kaggle_server, capsys):
    kaggle_server.routes[("POST", f"{KAGGLE_SERVICE}/CreateSubmission")] = lambda r: (200, {"neither": 1})
    assert cli.main(["submit", str(project), "-c", SLUG, "--upload"]) == 1
    capsys.readouterr()
    kaggle_server.board.add(601, "submission.csv", "COMPLETE", public="0.70")
    kaggle_server.board.add(602, "submission.csv", "PENDING")
    before = submit.ledger_path().read_bytes()
    assert cli.main(["lb", SLUG]) == 0
    assert "matches 2 Kaggle submissions by file name and time (refs 601, 602)" in capsys.readouterr().out
    assert submit.ledger_path().read_bytes() == before


def test_a_stalled_status_read_ends_within_its_bound_in_one_line(project: Path, kaggle_server, capsys):
    uploaded(project, capsys)
    kaggle_server.routes[("POST", LIST)] = kaggle_server.stall()
    before = submit.ledger_path().read_bytes()
    start = time.monotonic()
    assert cli.main(["lb", SLUG, "--wait", "30"]) == 1
    took = time.monotonic() - start
    err = capsys.readouterr().err
    assert took < 2 * LB_LIMIT_S + 10, took
    assert err == (f"kit lb: Kaggle status read of competition '{SLUG}' failed: ListSubmissions got no answer "
                   f"within {LB_LIMIT_S} s (2 tries)\n")
    assert len(kaggle_server.requests_to("POST", LIST)) == 2 and submit.ledger_path().read_bytes() == before


@pytest.mark.parametrize("answer, said", [
    ((200, b"<html>oops</html>"), "ListSubmissions: the client failed on an answer it did not expect (JSONDecodeError"),
    ((200, {"submissions": [{"ref": 4242, "status": "COMPLETE", "publicScore": 0.91}]}),
     "ListSubmissions answered public_score 0.91 for submission 4242, not text"),
    ((200, {"submissions": [{"ref": 4242, "status": "DONE"}]}),
     "ListSubmissions: the client failed on an answer it did not expect (KeyError: 'DONE')"),
    ((200, {"submissions": [{"ref": "x", "status": "COMPLETE"}]}), "answered a submission whose ref is 'x'"),
    ((500, {"code": 500, "message": "internal"}), "HTTP 500 Internal Server Error from ListSubmissions"),
])
def test_a_malformed_answer_is_one_line_and_records_nothing(project: Path, kaggle_server, capsys, answer, said):
    uploaded(project, capsys)
    kaggle_server.routes[("POST", LIST)] = lambda r: answer
    before = submit.ledger_path().read_bytes()
    assert cli.main(["lb", SLUG]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and said in err and "Traceback" not in err, err
    assert submit.ledger_path().read_bytes() == before  # never a wrong score


def test_aicrowd_has_no_status_call_the_row_stays_uploaded(kit_dirs, capsys, monkeypatch):
    from kitlib import platforms

    monkeypatch.setattr(platforms, "submission_reader", lambda *a, **k: pytest.fail("no platform call"))
    submit.append_ledger({"time": "2026-03-01T10:00:00+00:00", "competition": "sentiment-classification",
                          "file": "/s.csv", "sha256": "0" * 64, "upload_status": "uploaded", "platform_id": "314159",
                          "platform_message": "AIcrowd accepted submission 314159 to challenge 'x': "
                                              "https://www.aicrowd.com/challenges/x/submissions/314159"})
    assert cli.main(["lb", "sentiment-classification"]) == 0
    out = capsys.readouterr().out
    assert "aicrowd-cli 0.1.18 has no call for a submission's status or score" in out
    assert "https://www.aicrowd.com/challenges/x/submissions/314159" in out
    assert submit.read_ledger().iloc[-1].upload_status == "uploaded" and len(submit.read_ledger(events=True)) == 1
