"""The day's submission limit before an upload (kitlib.uploads): Kaggle's GetSubmissionLimits through the REAL
kaggle client against the stand-in, and when it cannot answer, the ledger's uploads of the day counted against the
spec's daily_limit inside the lock that writes the 'uploading' row (so two submits at once cannot both pass)."""
from __future__ import annotations

import datetime as dt
import multiprocessing
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

from kitlib import cli, platforms, submit, uploads
from kitlib.errors import KitError, PlatformError
from kitlib.ledger import LEDGER_COLUMNS
from kitlib.platforms import UploadResult

SLUG = "demo-competition"
LIMITS = f"{KAGGLE_SERVICE}/GetSubmissionLimits"
START = f"{KAGGLE_SERVICE}/StartSubmissionUpload"


@pytest.fixture
def limited(kit_dirs, kit_project: Path, kaggle_credentials, kaggle_server: StubPlatform, monkeypatch):
    """A factory: the project competition on the Kaggle stand-in with ``daily_limit`` (None: none); returns its
    submission file. Limits of a few seconds."""
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "5")
    monkeypatch.setenv("KIT_LB_TIMEOUT_S", "2")
    return lambda daily_limit=None: project_competition(kit_project, "kaggle", SLUG, daily_limit=daily_limit)


def today_row(minutes_ago: int = 5, **fields) -> dict:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)
    return {**dict.fromkeys(LEDGER_COLUMNS, ""), "time": when.isoformat(), "competition": SLUG,
            "file": f"/f{minutes_ago}.csv", "sha256": "0" * 64, "upload_status": "uploaded", **fields}


def test_the_utc_day_reset_is_said_with_the_time_left():
    now = dt.datetime(2026, 5, 1, 21, 48, 30, tzinfo=dt.UTC)
    assert uploads.day_reset(now) == "the UTC day resets at 2026-05-02 00:00 UTC (in 2 h 11 min)"


def test_kaggle_saying_none_allowed_now_refuses_before_anything_is_recorded(limited, kaggle_server, capsys):
    path = limited()
    kaggle_server.board.limits = {"numToday": 5, "numTotal": 40, "numAllowedNow": 0}
    assert cli.main(["submit", str(path), "-c", SLUG, "--upload"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "kaggle allows no more submissions to demo-competition today (5 made today, " \
        "Kaggle's GetSubmissionLimits says); the UTC day resets at " in err and "Nothing was recorded or sent" in err
    assert submit.read_ledger().empty and not kaggle_server.requests_to("POST", START)
    assert kaggle_server.requests_to("POST", LIMITS)[0].json() == {"competitionName": SLUG}

    kaggle_server.board.limits = {"numToday": 0, "numAllowedNow": 0, "limitedByTotal": True}
    assert cli.main(["submit", str(path), "-c", SLUG, "--upload"]) == 1
    assert "no more submissions to demo-competition at all" in capsys.readouterr().err
    kaggle_server.board.limits = {"numToday": 4, "numAllowedNow": 1}
    assert cli.main(["submit", str(path), "-c", SLUG, "--upload"]) == 0
    assert submit.read_ledger().upload_status.tolist() == ["uploaded"]


def test_when_kaggle_cannot_say_the_ledger_counts_todays_uploads(limited, kaggle_server, capsys):
    path = limited(daily_limit=2)
    kaggle_server.routes[("POST", LIMITS)] = lambda r: (503, {"code": 503, "message": "busy"})
    for row in [today_row(5), today_row(6, upload_status="unknown"),  # these two count
                today_row(7, platform_status="error"), today_row(8, upload_status="failed"),
                today_row(9, upload_status="not uploaded"), today_row(10, competition="other"),
                today_row(60 * 24 + 5)]:  # yesterday (or earlier)
        submit.append_ledger(row)
    before = submit.ledger_path().read_bytes()
    assert cli.main(["submit", str(path), "-c", SLUG, "--upload"]) == 1
    err = capsys.readouterr().err
    assert "allows no more submissions to demo-competition today (2 of 2 made today, by the ledger; Kaggle could " \
        "not be asked: Kaggle status read of competition 'demo-competition' failed: HTTP 503" in err
    assert err.count("\n") == 1 and submit.ledger_path().read_bytes() == before
    assert len(kaggle_server.requests_to("POST", LIMITS)) == 2  # a status read: tried twice
    assert not kaggle_server.requests_to("POST", START)


def test_without_a_daily_limit_an_unanswered_limit_check_is_a_warning(limited, kaggle_server, capsys):
    path = limited()
    kaggle_server.routes[("POST", LIMITS)] = kaggle_server.stall()
    assert cli.main(["submit", str(path), "-c", SLUG, "--upload"]) == 0
    err = capsys.readouterr().err
    assert "warning: the day's submission limit could not be checked" in err and "GetSubmissionLimits got no " \
        "answer within 2 s (2 tries)" in err and "sets no daily_limit" in err
    assert submit.read_ledger().upload_status.tolist() == ["uploaded"]


def _submit_at_once(start, path: str, out) -> None:
    start.wait()
    try:
        out.put(submit.submit(path, SLUG, upload=True)["upload_status"])
    except KitError as exc:
        out.put(str(exc))


def test_two_submits_at_once_cannot_both_take_the_last_place(limited, kaggle_server):
    path = limited(daily_limit=1)
    kaggle_server.routes[("POST", LIMITS)] = lambda r: (500, {"code": 500, "message": "down"})
    context = multiprocessing.get_context("fork")
    start, out = context.Barrier(2), context.Queue()
    children = [context.Process(target=_submit_at_once, args=(start, str(path), out)) for _ in range(2)]
    for child in children:
        child.start()
    answers = sorted(out.get(timeout=60) for _ in children)
    for child in children:
        child.join(60)
    assert answers[1] == "uploaded" and "(1 of 1 made today, by the ledger" in answers[0], answers
    assert submit.read_ledger(events=True).upload_status.tolist() == ["uploading", "uploaded"]
    assert len(kaggle_server.requests_to("POST", START)) == 1


def test_aicrowd_counts_the_ledger_against_the_specs_limit_else_none(kit_dirs, kit_project, monkeypatch, capsys):
    sent = []
    monkeypatch.setattr(platforms, "submission_reader", lambda *a, **k: pytest.fail("AIcrowd has no status call"))
    monkeypatch.setattr(platforms, "upload", lambda *a, **k: sent.append(a) or UploadResult("aicrowd", True, "ok", "1"))
    path = project_competition(kit_project, "aicrowd", "village-race", daily_limit=1)
    submit.append_ledger({**today_row(), "competition": "village-race"})
    with pytest.raises(KitError, match=r"aicrowd allows no more submissions to village-race today \(1 of 1 made "
                                       r"today, by the ledger\)"):
        submit.submit(str(path), "village-race", upload=True)
    assert not sent
    other = project_competition(kit_project / "p2", "aicrowd", "open-race")
    monkeypatch.setenv("KIT_PROJECT_DIR", str(kit_project / "p2"))
    for _ in range(3):  # no daily_limit: no limit, and nothing to warn about
        assert submit.submit(str(other), "open-race", upload=True)["upload_status"] == "uploaded"
    assert len(sent) == 3


def test_platform_limits_says_why_it_has_none(monkeypatch, kit_dirs):
    from kitlib.competitions import get_competition

    def fails(*args, **kwargs):
        raise PlatformError("Kaggle status read of competition 'x' failed:\n  HTTP 500")

    monkeypatch.setattr(platforms, "submission_reader", fails)
    assert uploads.platform_limits(get_competition("sentiment-classification")) == (None, "")
    assert uploads.platform_limits(get_competition("llm-science-exam")) == (
        None, "Kaggle status read of competition 'x' failed: HTTP 500")
