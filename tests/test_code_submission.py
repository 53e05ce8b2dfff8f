"""Code competitions in the ledger (kitlib.code_submission): a pushed kernel version is recorded, submitted through
the REAL kaggle client's competition_submit_code (CreateCodeSubmission on the stand-in, a final call: never
retried) and read back by kit lb like a file's upload. Bundles here are the two files the kit reads of one (its
notebook and bundle.json); test_kernel.py pushes a real one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    StubPlatform,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
)

from kitlib import cli, code_submission, platform_status, run, submit
from kitlib.competitions import get_competition

COMP = "llm-science-exam"
SLUG = get_competition(COMP).slug
CREATE = f"{KAGGLE_SERVICE}/CreateCodeSubmission"
KERNEL = "ada/llm-science-exam-kit"


@pytest.fixture
def kaggle(kit_dirs, kaggle_credentials, kaggle_server: StubPlatform, monkeypatch) -> StubPlatform:
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "3")
    monkeypatch.setenv("KIT_LB_TIMEOUT_S", "2")
    monkeypatch.setattr(platform_status, "POLL_S", 0.05)
    return kaggle_server


def a_bundle(tmp_path: Path, name: str, smoke: bool = False, run_status: str = "ok") -> Path:
    """A bundle folder with its notebook (parameters baked in) predicting with the checkpoints of an ok run."""
    run_dir = run.runs_dir() / f"{COMP}-{name}"
    (run_dir / "checkpoints" / "fold0").mkdir(parents=True)
    (run_dir / "manifest.json").write_text(json.dumps({
        "run_id": run_dir.name, "competition": COMP, "status": run_status, "score": 0.81,
        "params": {"smoke": False, "data_dir": "/data/lse"}, "data_dir": "/data/lse",
        "cv": {"mean": 0.8, "std": 0.02, "folds": [0.78, 0.82]}}))
    bundle = tmp_path / f"bundle-{name}"
    bundle.mkdir()
    (bundle / f"{COMP}.ipynb").write_text(json.dumps({"cells": [], "metadata": {"papermill": {"parameters": {
        "smoke": smoke, "checkpoints": "/kaggle/input/x"}}}, "nbformat": 4, "nbformat_minor": 5}))
    (bundle / "bundle.json").write_text(json.dumps({"datasets": [
        {"role": "checkpoints", "source": str(run_dir / "checkpoints"), "slug": "x"}]}))
    return bundle


def test_a_pushed_version_is_recorded_submitted_and_read_back(kaggle, tmp_path, capsys):
    pushed = code_submission.record_push(COMP, a_bundle(tmp_path, "a"), KERNEL, 3)
    assert (pushed["upload_status"], pushed["kernel"], pushed["kernel_version"]) == ("kernel_pushed", KERNEL, "3")
    assert pushed["run_id"] == f"{COMP}-a" and pushed["score"] == 0.81 and pushed["message"] == ""

    assert cli.main(["submit", "--kernel", KERNEL, "-m", "fold models"]) == 0  # version and competition: the ledger's
    out = capsys.readouterr().out
    assert f"submitted kernel {KERNEL} version 3 to {COMP}, run {COMP}-a: Your code submission was received" in out
    (sent,) = kaggle.requests_to("POST", CREATE)
    assert sent.json() == {"competitionName": SLUG, "kernelOwner": "ada", "kernelSlug": "llm-science-exam-kit",
                           "kernelVersion": 3, "fileName": "submission.csv", "submissionDescription": "fold models"}
    row = submit.read_ledger().iloc[-1]
    assert (row.upload_status, row.platform_id, row.kernel, row.kernel_version) == ("uploaded", "9001", KERNEL, "3")
    assert submit.read_ledger(events=True).upload_status.tolist() == ["kernel_pushed", "uploading", "uploaded"]

    kaggle.board.items[0].update(status="COMPLETE", publicScore="0.871")  # kit lb reads it like a file's upload
    assert cli.main(["lb", COMP]) == 0
    out = capsys.readouterr().out
    assert submit.read_ledger().iloc[-1].public_score == "0.871"
    assert f"{COMP}-a" in out and "0.8000 +- 0.0200 (2)  0.871" in out and "+0.0710" in out


def test_a_kernel_unfit_to_hand_in_is_refused_unless_forced(kaggle, tmp_path, capsys):
    code_submission.record_push(COMP, a_bundle(tmp_path, "smoke", smoke=True), KERNEL, 4)
    assert submit.read_ledger().iloc[-1].message == "[smoke]"
    events = len(submit.read_ledger(events=True))
    assert cli.main(["submit", "--kernel", KERNEL, "--version", "4"]) == 1
    err = capsys.readouterr().err
    assert "smoke=True baked in" in err and "--force" in err and err.count("\n") == 1
    assert len(submit.read_ledger(events=True)) == events and not kaggle.requests_to("POST", CREATE)
    assert cli.main(["submit", "--kernel", KERNEL, "--version", "4", "--force"]) == 0
    assert submit.read_ledger().iloc[-1].message == "[smoke]"

    code_submission.record_push(COMP, a_bundle(tmp_path, "failed", run_status="failed"), KERNEL, 5)
    with pytest.raises(Exception, match=f"run {COMP}-failed has status 'failed'"):
        code_submission.submit_kernel(KERNEL, 5)


def test_an_unclear_end_of_create_code_submission_is_unknown_never_repeated(kaggle, tmp_path, capsys):
    code_submission.record_push(COMP, a_bundle(tmp_path, "b"), KERNEL, 6)
    kaggle.routes[("POST", CREATE)] = kaggle.stall()
    assert cli.main(["submit", "--kernel", KERNEL]) == 1
    err = capsys.readouterr().err
    assert "CreateCodeSubmission got no answer within 3 s, so whether the submission was created is unknown" in err
    assert len(kaggle.requests_to("POST", CREATE)) == 1
    row = submit.read_ledger().iloc[-1]
    assert row.upload_status == "unknown" and row.platform_id == ""
    kaggle.board.add(9100, "submission.csv", "COMPLETE", public="0.85")  # Kaggle had it after all
    assert cli.main(["lb", COMP]) == 0
    row = submit.read_ledger().iloc[-1]
    assert (row.upload_status, row.platform_id, row.public_score) == ("uploaded", "9100", "0.85")


def test_what_a_kernel_submission_needs_is_asked_for(kaggle, capsys):
    assert cli.main(["submit", "--kernel", KERNEL]) == 2
    assert "no version of kernel ada/llm-science-exam-kit is recorded as pushed" in capsys.readouterr().err
    assert cli.main(["submit", "--kernel", "llm-science-exam-kit", "--version", "2"]) == 2  # owner: KAGGLE_USERNAME
    assert "which competition is kernel ada/llm-science-exam-kit for" in capsys.readouterr().err
    assert cli.main(["submit", "--kernel", KERNEL, "--version", "2", "-c", "sentiment-classification"]) == 2
    assert "is not a Kaggle code competition" in capsys.readouterr().err
    assert cli.main(["submit", "x.csv", "--kernel", KERNEL]) == 2
    assert cli.main(["kernel", COMP, "--submit"]) == 2
    assert "--submit (and --wait) go with --push" in capsys.readouterr().err
    assert not kaggle.seen
