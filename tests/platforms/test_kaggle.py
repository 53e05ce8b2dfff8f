"""Kaggle submissions through the REAL kaggle client, talking to a local server standing in for Kaggle.

The stand-in server and the Kaggle fixtures live in ``tests/kaggle_stub.py`` (shared with the download and
kernel tests): a plain-HTTP server on 127.0.0.1 serves ``/api/v1/competitions.CompetitionApiService/<Method>``
and the upload URL it hands out. The client runs in this process: ``KaggleApi.args = ["--local"]`` (what
``KAGGLE_API_ENVIRONMENT=LOCALHOST`` sets, but only at import) selects ``KaggleEnv.LOCAL`` and
``kagglesdk.kaggle_env._env_to_endpoint[LOCAL]`` is pointed at the server.

No request leaves 127.0.0.1: ``kaggle_client`` switches proxies off and keeps HOME and the client's config
directory in tmp_path; without credentials, no socket may connect at all.
"""
from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    ROOT,
    SUBMISSION,
    StubPlatform,
    kaggle_client,
    kaggle_server,
    no_network,
    submission_file,
)

from kitlib.errors import UploadError
from kitlib.platforms import UploadResult, upload
from kitlib.platforms.kaggle import upload_kaggle


def test_kaggle_upload_sends_bytes_and_description(
    kaggle_server: StubPlatform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    path = submission_file(tmp_path)

    result = upload("kaggle", path, "demo-competition", "lgbm fold-avg, cv 0.91")

    assert result == UploadResult(
        "kaggle", True, "Successfully submitted to Demo Competition (submission ref 4242)", "4242"
    )
    (start,) = kaggle_server.requests_to("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload")
    assert start.json()["competitionName"] == "demo-competition"
    assert start.json()["fileName"] == "submission.csv"
    assert start.json()["contentLength"] == len(SUBMISSION)
    assert start.headers["Authorization"] == "Basic " + base64.b64encode(b"ada:s3cret").decode()
    (put,) = kaggle_server.requests_to("PUT", "/upload/blob-token-7")
    assert put.body == SUBMISSION
    (create,) = kaggle_server.requests_to("POST", f"{KAGGLE_SERVICE}/CreateSubmission")
    assert create.json() == {
        "competitionName": "demo-competition",
        "blobFileTokens": "blob-token-7",
        "submissionDescription": "lgbm fold-avg, cv 0.91",
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("POST", f"{KAGGLE_SERVICE}/CreateSubmission", 400, "Submission must have 418 rows, found 2"),
        ("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload", 403, "You must accept this competition's rules"),
        ("POST", f"{KAGGLE_SERVICE}/CreateSubmission", 500, "Internal error, please retry"),
        ("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload", 502, "<html><h1>502 Bad Gateway</h1></html>"),
    ],
)
def test_kaggle_rejection_raises_with_server_answer(
    kaggle_server: StubPlatform,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    method: str,
    path: str,
    status: int,
    error: str,
) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    body = error.encode() if error.startswith("<") else {"code": status, "message": error}
    kaggle_server.routes[(method, path)] = lambda r: (status, body)

    with pytest.raises(UploadError, match=rf"HTTP {status} .*{path.rsplit('/', 1)[1]}") as caught:
        upload_kaggle(submission_file(tmp_path), "demo-competition", "try")
    assert error in str(caught.value)
    assert "demo-competition" in str(caught.value)


def test_kaggle_refused_bytes_raise(kaggle_server: StubPlatform, monkeypatch: pytest.MonkeyPatch,
                                    tmp_path: Path) -> None:
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    kaggle_server.routes[("PUT", "/upload/blob-token-7")] = lambda r: (403, {"error": "SignatureDoesNotMatch"})

    with pytest.raises(UploadError, match="did not accept the file bytes"):
        upload_kaggle(submission_file(tmp_path), "demo-competition")
    assert not kaggle_server.requests_to("POST", f"{KAGGLE_SERVICE}/CreateSubmission")


def test_kaggle_missing_credentials(kaggle_client: type, no_network: list[object], tmp_path: Path) -> None:
    with pytest.raises(UploadError, match=r"No Kaggle credentials found: set KAGGLE_USERNAME and KAGGLE_KEY") as caught:
        upload_kaggle(submission_file(tmp_path), "demo-competition")
    assert str(tmp_path / "kaggle" / "kaggle.json") in str(caught.value)
    assert no_network == []


def test_kaggle_client_loads_without_running_kaggle_init(tmp_path: Path) -> None:
    """Loading KaggleApi must not authenticate (no help page); a later ``import kaggle`` still works fully."""
    script = (
        "import sys\n"
        "from kitlib.platforms.kaggle import _kaggle_api_class\n"
        "api_class = _kaggle_api_class()\n"
        "assert 'kaggle' not in sys.modules, 'placeholder left behind'\n"
        "print('LOADED', api_class.__name__, flush=True)\n"
        "import importlib.metadata, kaggle, kaggle.models.kaggle_models_extended\n"
        "assert kaggle.__version__ == importlib.metadata.version('kaggle')\n"
        "print('IMPORTED', type(kaggle.api).__name__, kaggle.models.__name__)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAGGLE_")}
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / ".config"), PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    before_import, _, after_import = done.stdout.partition("LOADED KaggleApi\n")
    assert before_import == ""  # nothing printed: kaggle/__init__ (and its auth help page) did not run
    assert "Authentication required" in after_import  # the real `import kaggle` still authenticates
    assert after_import.rstrip().endswith("IMPORTED KaggleApi kaggle.models")
