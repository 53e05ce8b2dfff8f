"""``kit submit --upload`` against a stand-in Kaggle that misbehaves, through the REAL kaggle client.

Each fault ends as one line on stderr and exit 1, never a traceback and never a success the platform did not
give, and the ledger holds the submission's ``uploading`` row and the row that settled it: ``failed`` when no
submission can have been created, ``unknown`` when the final call (CreateSubmission) ended without a clear
answer. Stalls end at a short limit (``KIT_UPLOAD_TIMEOUT_S``); calls before CreateSubmission are retried,
CreateSubmission never. Ctrl-C is simulated inside the client call, and sent for real to a ``kit submit``
process group.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    ROOT,
    StubPlatform,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
    project_competition,
)

from kitlib import cli, submit
from kitlib.platforms import calls

START, CREATE = f"{KAGGLE_SERVICE}/StartSubmissionUpload", f"{KAGGLE_SERVICE}/CreateSubmission"
PUT = "/upload/blob-token-7"
SLUG = "demo-competition"
LIMIT_S = 1.0  # the upload time limit of these tests
TRIES = 2  # of a call that is safe to repeat


@pytest.fixture
def submission(kit_dirs, kit_project: Path, kaggle_credentials, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid file for the project competition ``demo-competition`` on Kaggle; calls limited to LIMIT_S, TRIES."""
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", str(LIMIT_S))
    monkeypatch.setattr(calls, "UPLOAD_TRIES", TRIES)
    return project_competition(kit_project, "kaggle", SLUG)


def kit_submit(path: Path, capsys: pytest.CaptureFixture) -> tuple[int, str]:
    """``kit submit PATH -c demo-competition --upload``: (exit status, stderr); Ctrl-C must not escape it."""
    try:
        code = cli.main(["submit", str(path), "-c", SLUG, "--upload", "-m", "try"])
    except KeyboardInterrupt:
        pytest.fail("KeyboardInterrupt escaped kit submit")
    return code, capsys.readouterr().err


def settled(status: str) -> str:
    """The ledger holds one submission, recorded ``uploading`` and then settled as ``status``; its message."""
    events = submit.read_ledger(events=True)
    assert list(events.upload_status) == ["uploading", status]
    assert len(events[list(submit.SUBMISSION_KEY)].drop_duplicates()) == 1  # both rows name the same submission
    (row,) = submit.read_ledger().itertuples()
    assert row.upload_status == status
    return row.platform_message


def one_line(err: str) -> str:
    assert err.startswith("kit submit: Kaggle upload of ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("body", "content_type"), [
    (b"<html><body>Service temporarily overloaded</body></html>", "text/html"),
    (b"{not json", "application/json"),
])
def test_a_non_json_answer_to_create_submission_is_unknown(kaggle_server: StubPlatform, submission: Path, capsys,
                                                          body: bytes, content_type: str) -> None:
    kaggle_server.routes[("POST", CREATE)] = lambda r: (200, body, {"Content-Type": content_type})

    code, err = kit_submit(submission, capsys)

    assert code == 1
    assert "whether the submission was created is unknown" in one_line(err)
    assert body.decode()[:20] in err  # what Kaggle answered, not a guess
    assert f"check https://www.kaggle.com/competitions/{SLUG}/submissions before submitting again" in err
    assert "CreateSubmission" in settled("unknown")
    assert len(kaggle_server.requests_to("POST", CREATE)) == 1


def test_a_non_json_answer_before_create_submission_fails_and_creates_nothing(kaggle_server: StubPlatform,
                                                                             submission: Path, capsys) -> None:
    kaggle_server.routes[("POST", START)] = lambda r: (200, b"<html>maintenance</html>")

    code, err = kit_submit(submission, capsys)

    assert code == 1
    assert "StartSubmissionUpload: the client failed on an answer it did not expect" in one_line(err)
    assert "no submission was created" in settled("failed")
    assert not kaggle_server.requests_to("POST", CREATE)


@pytest.mark.parametrize("answer", [{}, []])
def test_an_answer_without_the_expected_fields_is_unknown(kaggle_server: StubPlatform, submission: Path, capsys,
                                                         answer: object) -> None:
    kaggle_server.routes[("POST", CREATE)] = lambda r: (200, answer)

    code, err = kit_submit(submission, capsys)

    assert code == 1
    assert "accepted" not in err
    assert f"CreateSubmission answered '{answer}', without a message or a submission ref" in one_line(err)
    assert "without a message or a submission ref" in settled("unknown")


@pytest.mark.parametrize(("method", "path", "status", "tries"), [
    ("POST", START, "failed", TRIES),  # safe to repeat: retried, then failed
    ("PUT", PUT, "failed", TRIES),
    ("POST", CREATE, "unknown", 1),  # the final call: never repeated
])
def test_a_stalled_call_ends_at_the_limit_and_says_which(kaggle_server: StubPlatform, submission: Path, capsys,
                                                        method: str, path: str, status: str, tries: int) -> None:
    kaggle_server.routes[(method, path)] = kaggle_server.stall()
    name = {START: "StartSubmissionUpload", PUT: "the PUT of the file bytes", CREATE: "CreateSubmission"}[path]

    started = time.monotonic()
    code, err = kit_submit(submission, capsys)

    assert time.monotonic() - started < tries * LIMIT_S + 10  # not the 60 s the stall lasts
    assert code == 1
    counted = f" ({tries} tries)" if tries > 1 else ""
    assert f"{name} got no answer within {LIMIT_S:g} s{counted}" in one_line(err)
    assert f"{name} got no answer" in settled(status)
    assert len(kaggle_server.requests_to(method, path)) == tries
    if path != CREATE:
        assert not kaggle_server.requests_to("POST", CREATE)


def test_a_safe_call_is_retried_after_an_error_the_final_one_never(kaggle_server: StubPlatform, submission: Path,
                                                                  capsys) -> None:
    answers = iter([(503, {"code": 503, "message": "try again"})])
    start = kaggle_server.routes[("POST", START)]
    kaggle_server.routes[("POST", START)] = lambda r: next(answers, None) or start(r)

    assert kit_submit(submission, capsys)[0] == 0
    assert len(kaggle_server.requests_to("POST", START)) == 2
    assert settled("uploaded").startswith("Successfully submitted to Demo Competition (submission ref 4242)")
    assert submit.read_ledger().platform_id.tolist() == ["4242"]

    kaggle_server.routes[("POST", CREATE)] = lambda r: (503, {"code": 503, "message": "try again"})
    code, err = kit_submit(submission, capsys)
    assert code == 1 and "HTTP 503" in err
    assert len(kaggle_server.requests_to("POST", CREATE)) == 2  # one for each submit: never repeated


@pytest.mark.parametrize(("method", "status"), [("StartSubmissionUpload", "failed"), ("CreateSubmission", "unknown")])
def test_ctrl_c_inside_the_client_call(kaggle_server: StubPlatform, submission: Path, capsys,
                                       monkeypatch: pytest.MonkeyPatch, method: str, status: str) -> None:
    send = requests.Session.send

    def interrupted(self, request, **kwargs):
        if request.url.endswith(method):
            raise KeyboardInterrupt
        return send(self, request, **kwargs)

    monkeypatch.setattr(requests.Session, "send", interrupted)

    code, err = kit_submit(submission, capsys)

    assert code == 1
    assert f"interrupted (Ctrl-C) during {method}" in one_line(err)
    assert "interrupted (Ctrl-C)" in settled(status)


_KIT = """
import sys
from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint
from kitlib import cli
_env_to_endpoint[KaggleEnv.LOCAL] = sys.argv[1]
sys.exit(cli.main(sys.argv[2:]))
"""


def test_ctrl_c_at_the_terminal_during_create_submission(kaggle_server: StubPlatform, submission: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """SIGINT to the whole process group, as a terminal sends it, while CreateSubmission waits for an answer."""
    kaggle_server.routes[("POST", CREATE)] = kaggle_server.stall()
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "60")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the client environment (HOME, KAGGLE_*) is the fixtures'
    kit = subprocess.Popen([sys.executable, "-c", _KIT, kaggle_server.base_url, "submit", str(submission), "-c", SLUG,
                            "--upload"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True,  # SIGINT as a terminal delivers it, even to a suite run in the
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # background
    try:
        deadline = time.monotonic() + 30
        while not kaggle_server.requests_to("POST", CREATE) and time.monotonic() < deadline and kit.poll() is None:
            time.sleep(0.05)
        assert kaggle_server.requests_to("POST", CREATE), kit.stderr.read() if kit.poll() is not None else "no call"
        os.killpg(kit.pid, signal.SIGINT)
        out, err = kit.communicate(timeout=20)
    finally:
        if kit.poll() is None:
            os.killpg(kit.pid, signal.SIGKILL)
    assert kit.returncode == 1, err
    assert "interrupted (Ctrl-C) during CreateSubmission" in one_line(err)
    assert "interrupted (Ctrl-C)" in settled("unknown")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_or_sighup_during_create_submission_settles_the_row(kaggle_server: StubPlatform, submission: Path,
                                                                    monkeypatch: pytest.MonkeyPatch, signum) -> None:
    """A scheduler's SIGTERM, or the terminal closing (SIGHUP), to kit submit alone: one line, the row settled
    ``unknown`` (never left ``uploading`` for ever), no process left behind."""
    kaggle_server.routes[("POST", CREATE)] = kaggle_server.stall()
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "60")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    kit = subprocess.Popen([sys.executable, "-c", _KIT, kaggle_server.base_url, "submit", str(submission), "-c", SLUG,
                            "--upload"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           start_new_session=True,  # SIGINT as a terminal delivers it, even to a suite run in the
                           preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # background
    try:
        deadline = time.monotonic() + 30
        while not kaggle_server.requests_to("POST", CREATE) and time.monotonic() < deadline and kit.poll() is None:
            time.sleep(0.05)
        assert kaggle_server.requests_to("POST", CREATE), kit.stderr.read() if kit.poll() is not None else "no call"
        kit.send_signal(signum)  # to kit submit only, not its upload child
        out, err = kit.communicate(timeout=20)
    finally:
        if kit.poll() is None:
            os.killpg(kit.pid, signal.SIGKILL)
    name = signal.Signals(signum).name
    assert kit.returncode == 1, err
    assert f"interrupted ({name}) during CreateSubmission" in one_line(err)
    assert f"interrupted ({name})" in settled("unknown")
    with pytest.raises(ProcessLookupError):  # the process group is gone: the upload child was ended too
        os.killpg(kit.pid, 0)
