"""Which runs may be uploaded (kitlib.provenance through kit submit and kitlib.submit.upload).

An upload of a smoke run, a run on the demo data, a run that is not ok, or a blend with such an input is refused
before the ledger and any platform call unless forced; forced, the row is marked. Uploads go through the REAL
kaggle client to the stand-in in tests/kaggle_stub.py (sentiment through the REAL aicrowd-cli and its stand-in).
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    StubPlatform,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
    project_competition,
    tls_files,
)

from kitlib import cli, run, submit
from kitlib.competitions import get_competition
from kitlib.data import file_sha256
from kitlib.errors import ParameterError, SubmissionError, UploadError

SLUG = "demo-competition"
CREATE = f"{KAGGLE_SERVICE}/CreateSubmission"


@pytest.fixture
def project(kit_dirs, kit_project: Path, kaggle_credentials, kaggle_server: StubPlatform, monkeypatch) -> Path:
    """The project competition ``demo-competition`` on the Kaggle stand-in; returns a valid submission file."""
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "5")
    return project_competition(kit_project, "kaggle", SLUG)


def a_run(run_id: str, path: Path, **fields) -> str:
    """A run folder under the runs folder whose manifest says it wrote ``path`` (and ``fields``); its id."""
    folder = run.runs_dir() / run_id
    folder.mkdir(parents=True)
    data = str(path.parent / f"{SLUG}-data")
    manifest = {"run_id": run_id, "competition": SLUG, "status": "ok", "score": 0.91, "data_dir": data,
                "params": {"smoke": False, "data_dir": data}, "submission": {"path": str(path),
                                                                              "sha256": file_sha256(path)}}
    manifest.update(fields)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return run_id


def nothing_happened(server: StubPlatform) -> None:
    assert submit.read_ledger().empty and not server.seen


CASES = {  # run fields -> (what the refusal says, the marks of a forced upload)
    "smoke": ({"params": {"smoke": True}}, "is a smoke run", "[smoke]"),
    "failed": ({"status": "failed"}, "has status 'failed', not 'ok'", "[forced]"),
    "interrupted": ({"status": "interrupted"}, "has status 'interrupted'", "[forced]"),
    "running elsewhere": ({"status": "running"}, "has status 'running'", "[forced]"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_upload_of_a_run_unfit_to_hand_in_is_refused_before_the_ledger_unless_forced(project: Path, kaggle_server,
                                                                                        capsys, case: str):
    fields, said, marks = CASES[case]
    run_id = a_run("r-1", project, **fields)
    assert cli.main(["submit", run_id, "--upload", "-m", "try"]) == 1
    err = capsys.readouterr().err
    assert said in err and "--force" in err and "Nothing was recorded or sent" in err and err.count("\n") == 1
    nothing_happened(kaggle_server)

    assert cli.main(["submit", run_id, "--upload", "-m", "try", "--force"]) == 0
    row = submit.read_ledger().iloc[-1]
    assert row.upload_status == "uploaded" and row.message == f"{marks} try" and row.platform_id == "4242"
    assert row.score == ("0.91" if fields.get("status", "ok") == "ok" else "")  # a run that is not ok: no score


def test_an_upload_of_a_run_on_the_demo_data_is_refused(project: Path, kaggle_server, capsys):
    demo = get_competition(SLUG).demo_dir
    run_id = a_run("r-demo", project, data_dir=str(demo), params={"data_dir": ""})
    data = project.parent / f"{SLUG}-data"
    with pytest.raises(UploadError, match="ran on the embedded demo data"):
        submit.submit(run_id, upload=True, data_dir=data)
    nothing_happened(kaggle_server)
    row = submit.submit(run_id, upload=True, data_dir=data, force=True, message="m")
    assert row["message"] == "[demo] m" and row["upload_status"] == "uploaded"


def test_a_blend_inherits_the_smoke_of_its_inputs(project: Path, kaggle_server, capsys):
    smoke = a_run("r-smoke", project, params={"smoke": True})
    fine = a_run("r-fine", project)
    blend = a_run("c-blend-1", project, kind="blend", inputs=[fine, smoke], params={"method": "mean"})
    with pytest.raises(UploadError, match=f"blend c-blend-1's input: run {smoke} is a smoke run"):
        submit.submit(blend, upload=True)
    gone = a_run("c-blend-2", project, kind="blend", inputs=[fine, "r-deleted"])
    with pytest.raises(UploadError, match="input 'r-deleted' is not in .* \\(cannot be checked\\)"):
        submit.submit(gone, upload=True)
    nothing_happened(kaggle_server)
    assert submit.submit(blend, upload=True, force=True)["message"] == "[smoke]"


def test_recording_a_run_that_is_not_ok_warns_and_keeps_no_score(project: Path, kaggle_server, capsys):
    failed = a_run("r-failed", project, status="failed")
    assert cli.main(["submit", failed, "-m", "look"]) == 0
    err = capsys.readouterr().err
    assert "kit submit: warning: run r-failed has status 'failed'" in err and "without the run's score" in err
    row = submit.read_ledger().iloc[-1]
    assert row.score == "" and row.message == "[failed] look" and row.upload_status == "not uploaded"
    smoke = a_run("r-smoke-ok", project, params={"smoke": True})
    assert cli.main(["submit", smoke]) == 0
    row = submit.read_ledger().iloc[-1]
    assert row.message == "[smoke]" and row.score == "0.91"  # an ok run keeps its score, marked
    assert not kaggle_server.seen


def test_a_notebook_uploads_its_own_running_run_with_its_competition_object(project: Path, kaggle_server,
                                                                           monkeypatch):
    run_id = a_run("r-live", project, status="running")
    monkeypatch.setenv("KIT_RUN_DIR", str(run.runs_dir() / run_id))  # as kit run hands it to the kernel
    row = submit.upload(project, get_competition(SLUG), message="from the notebook")
    assert row["upload_status"] == "uploaded" and row["message"] == "from the notebook" and row["score"] == 0.91
    assert len(kaggle_server.requests_to("POST", CREATE)) == 1
    monkeypatch.delenv("KIT_RUN_DIR")  # the same run seen from another process: still running, not ok
    with pytest.raises(UploadError, match="has status 'running'"):
        submit.upload(project, get_competition(SLUG))


def test_an_interactive_run_uploads_from_its_own_kernel(project: Path, kaggle_server):
    data = project.parent / f"{SLUG}-data"
    r = run.start(get_competition(SLUG), {"smoke": False, "data_dir": str(data)})
    r.log_data(data)
    path = submit.write_submission(project.read_text(), get_competition(SLUG), run=r, data_dir=data)
    assert run.read_manifest(r.dir)["status"] == "interactive"
    assert submit.upload(path, get_competition(SLUG))["upload_status"] == "uploaded"


def test_a_competition_object_is_taken_wherever_a_name_is(kit_dirs, tmp_path):
    from kitlib.competitions import sentiment_classification as sentiment

    data = sentiment.write_demo(tmp_path / "data", seed=5, n_train=20, n_val=10, n_test=12)
    r = run.start("sentiment-classification", params={"seed": 0})
    r.log_data(data)
    r.log_metrics({"val_weighted_f1": 0.7})
    sample = pd.read_csv(data / "sample_submission.csv", dtype=str, keep_default_na=False)
    path = submit.write_submission(sample.assign(label=["negative", "neutral", "positive"] * 4), sentiment.COMPETITION,
                                   run=r, data_dir=data)
    row = submit.submit(str(path), sentiment.COMPETITION, message="by object")
    assert row["run_id"] == r.id and row["score"] == 0.7 and row["competition"] == "sentiment-classification"
    with pytest.raises(SubmissionError, match="for 'sentiment-classification', not 'recommender'"):
        submit.submit(str(path), get_competition("recommender"))
    from kitlib import execute, runs_table

    r.finish()
    assert [m["run_id"] for m in runs_table.list_runs(sentiment.COMPETITION)] == [r.id]
    notebook = sentiment.COMPETITION.notebook_path
    assert execute.resolve_notebook(str(notebook), sentiment.COMPETITION) == ("sentiment-classification", notebook)
    assert execute.resolve_notebook("sentiment-classification", sentiment.COMPETITION)[0] == "sentiment-classification"


def test_local_and_code_competitions_record_the_file_and_say_how_to_hand_it_in(kit_dirs, kit_project, tmp_path,
                                                                              capsys, monkeypatch):
    from kitlib import platforms
    from kitlib.competitions import llm_science_exam as se

    monkeypatch.setattr(platforms, "upload", lambda *a, **k: pytest.fail("no platform call"))
    local = project_competition(kit_project, "local", "village-fair")
    row = submit.upload(local, get_competition("village-fair"), message="fair")
    assert row["upload_status"] == "not uploaded" and "has no upload client; hand in" in capsys.readouterr().out
    demo = se.committed_demo_dir()
    ids = pd.read_csv(demo / "sample_submission.csv")["id"].tolist()
    good = tmp_path / "good.csv"
    pd.DataFrame({"id": ids, "prediction": ["B C D"] * len(ids)}).to_csv(good, index=False)
    row = submit.upload(good, se.COMPETITION, data_dir=demo)
    assert row["upload_status"] == "not uploaded" and "`kit kernel llm-science-exam --push`" in capsys.readouterr().out
    assert submit.read_ledger().upload_status.tolist() == ["not uploaded", "not uploaded"]


@pytest.mark.parametrize("limit, where", [("inf", "--timeout"), ("nan", "--timeout"), ("0", "--timeout"),
                                          ("-1", "--timeout"), ("1e12", "env"), ("86401", "env")])
def test_an_upload_time_limit_outside_a_day_is_refused_before_the_ledger(project: Path, kaggle_server, capsys,
                                                                        monkeypatch, limit: str, where: str):
    args = ["submit", str(project), "-c", SLUG, "--upload"]
    if where == "env":
        monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", limit)
    else:
        args += ["--timeout", limit]
    assert cli.main(args) == 2
    assert "must be a number of seconds above 0 and at most 86400" in capsys.readouterr().err
    nothing_happened(kaggle_server)
    with pytest.raises(ParameterError):
        submit.submit(str(project), SLUG, upload=True, timeout_s=float(limit) if where != "env" else None)
    nothing_happened(kaggle_server)


_SENTIMENT = """
import json, os, sys
from pathlib import Path
from kitlib import submit
from kitlib.competitions import sentiment_classification as sentiment
from kitlib.errors import KitError
from kitlib.platforms import calls
calls.RETRY_BACKOFF_S = 0.01
args = json.loads(sys.argv[1])
answers = {}
for force in (False, True):
    try:
        row = submit.upload(args["path"], sentiment.COMPETITION, message="notebook", data_dir=args["data"], force=force)
        answers[str(force)] = {"status": row["upload_status"], "message": row["message"], "id": row["platform_id"]}
    except KitError as exc:
        answers[str(force)] = {"error": str(exc)}
Path(args["out"]).write_text(json.dumps(answers))
"""


def test_a_smoke_notebook_run_uploads_to_aicrowd_only_when_forced(kit_dirs, tmp_path, tls_files):
    """What the sentiment notebook does with -p smoke true -p submit true [-p force_submit true], inside kit run."""
    from kaggle_stub import AICROWD_KEY, aicrowd_stub, run_aicrowd

    from kitlib.competitions import sentiment_classification as sentiment

    data = sentiment.write_demo(tmp_path / "data", seed=5, n_train=20, n_val=10, n_test=12)
    sample = pd.read_csv(data / "sample_submission.csv", dtype=str, keep_default_na=False)
    path = tmp_path / "submission.csv"
    sample.assign(label=["negative", "neutral", "positive"] * 4).to_csv(path, index=False)
    folder = run.runs_dir() / "sentiment-classification-smoke"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({
        "run_id": folder.name, "competition": "sentiment-classification", "status": "running", "data_dir": str(data),
        "params": {"smoke": True, "data_dir": str(data)}, "submission": {"path": str(path),
                                                                         "sha256": file_sha256(path)}}))

    def routes(base_url: str) -> dict:
        fields = {"key": "uploads/7/${filename}", "policy": "cG9saWN5", "x-amz-signature": "abc"}
        return {
            ("GET", "/aicrowd-api/challenges/42/participant"): lambda r: (200, {"registered": True}),
            ("GET", "/api/v1/submissions"): lambda r: (200, {"success": True, "data": {
                "url": f"{base_url}/s3-bucket", "fields": fields}}),
            ("POST", "/s3-bucket"): lambda r: (204, b""),
            ("POST", "/api/v1/submissions"): lambda r: (200, {"success": True, "data": {"submission_id": 314159}}),
        }

    server = aicrowd_stub(tls_files, sentiment.COMPETITION.slug, routes, public=frozenset({("POST", "/s3-bucket")}))
    try:
        import os

        os.environ["KIT_RUN_DIR"] = str(folder)  # inherited by the interpreter run_aicrowd starts
        answers = run_aicrowd(_SENTIMENT, {"path": str(path), "data": str(data), "out": str(tmp_path / "out.json")},
                              server, tls_files[0], tmp_path, AICROWD_KEY)
    finally:
        os.environ.pop("KIT_RUN_DIR", None)
        server.close()
    assert "is a smoke run" in answers["False"]["error"] and "force_submit=True" in answers["False"]["error"]
    assert answers["True"] == {"status": "uploaded", "message": "[smoke] notebook", "id": "314159"}
    assert len(server.requests_to("POST", "/api/v1/submissions")) == 1  # only the forced upload reached AIcrowd
    assert submit.read_ledger().upload_status.tolist() == ["uploaded"]
