"""Uploads through the REAL aicrowd-cli and kaggle clients, talking to a local server standing in for the platform.

The stand-in server and the Kaggle fixtures live in ``tests/kaggle_stub.py`` (shared with the download and
kernel tests).

- Kaggle: a plain-HTTP server on 127.0.0.1 serves ``/api/v1/competitions.CompetitionApiService/<Method>``
  and the upload URL it hands out. The client runs in this process: ``KaggleApi.args = ["--local"]``
  (what ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` sets, but only at import) selects ``KaggleEnv.LOCAL`` and
  ``kagglesdk.kaggle_env._env_to_endpoint[LOCAL]`` is pointed at the server.
- AIcrowd: one HTTPS server (self-signed certificate made with the ``openssl`` CLI, trusted through
  ``REQUESTS_CA_BUNDLE``) serves the Rails API (``/api/v1``), the AIcrowd API (``/aicrowd-api``) and the
  presigned "S3" form target. aicrowd-cli reads ``RAILS_HOST``/``AICROWD_API_ENDPOINT`` once at import and
  binds them into several modules with ``from ... import``, so each upload runs in a fresh subprocess
  with that environment: nothing has to be reloaded, and this process's aicrowd modules stay untouched.

Nothing here reaches the network: servers listen on 127.0.0.1 only, proxies are switched off, HOME and
the config directories point into tmp_path, and the missing-credential tests forbid any socket connect.
"""
from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    KAGGLE_SERVICE,
    Reply,
    Route,
    Seen,
    StubPlatform,
    aicrowd_env,
    kaggle_client,
    kaggle_server,
    no_network,
    tls_files,
)
from kitlib.errors import ParameterError, UploadError
from kitlib.platforms import UploadResult, upload, upload_kaggle

ROOT = Path(__file__).resolve().parent.parent
# CRLF, a bare LF and non-ASCII bytes: the server must receive exactly these.
SUBMISSION = b"id,target\r\n1,0.25\r\n2,caf\xc3\xa9\n"


# --------------------------------------------------------------------------------- local server
def multipart_fields(request: Seen) -> dict[str, tuple[str | None, bytes]]:
    """Split a multipart/form-data body into ``{name: (filename, bytes)}`` without touching the bytes."""
    content_type = request.headers["Content-Type"]
    boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
    fields = {}
    for part in request.body.split(b"--" + boundary)[1:-1]:
        head, _, data = part[2:].partition(b"\r\n\r\n")  # part starts with CRLF, ends with CRLF
        disposition = next(h for h in head.decode().split("\r\n") if h.lower().startswith("content-disposition"))
        params = dict(p.strip().split("=", 1) for p in disposition.split(";")[1:])
        fields[params["name"].strip('"')] = (params.get("filename", "").strip('"') or None, data[:-2])
    return fields


def submission_file(tmp_path: Path) -> Path:
    path = tmp_path / "submission.csv"
    path.write_bytes(SUBMISSION)
    return path


# ----------------------------------------------------------------------------------------- kaggle
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


def test_kaggle_refused_bytes_raise(kaggle_server: StubPlatform, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
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
        "from kitlib import platforms\n"
        "api_class = platforms._kaggle_api_class()\n"
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


# ---------------------------------------------------------------------------------------- aicrowd
AICROWD_KEY = "aicrowd-test-key-123"
CHALLENGE = "demo-challenge"


@pytest.fixture
def aicrowd_server(tls_files: tuple[Path, Path]) -> Iterator[StubPlatform]:
    """A stand-in for AIcrowd's Rails API, its AIcrowd API and the S3 bucket, over TLS on one port."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, tls_files))

    def authorized(route: Route) -> Route:
        def check(request: Seen) -> Reply:
            if request.headers.get("Authorization") != f"Token {AICROWD_KEY}":
                return 401, {"error": "Invalid API key"}
            return route(request)

        return check

    def challenges(request: Seen) -> Reply:
        known = request.query.get("slug") == [CHALLENGE]
        return 200, [{"id": 42, "slug": CHALLENGE}] if known else []

    def presign(request: Seen) -> Reply:
        assert request.query["challenge_id"] == [CHALLENGE]
        fields = {"key": "uploads/7/${filename}", "policy": "cG9saWN5", "x-amz-signature": "abc"}
        return 200, {"success": True, "data": {"url": f"{server.base_url}/s3-bucket", "fields": fields}}

    server = StubPlatform(
        {
            ("GET", "/api/v1/api_user"): authorized(lambda r: (200, {"id": 7, "username": "ada"})),
            ("GET", "/aicrowd-api/challenges/"): authorized(challenges),
            ("GET", "/aicrowd-api/challenges/42/participant"): authorized(lambda r: (200, {"registered": True})),
            ("GET", "/api/v1/submissions"): authorized(presign),
            ("POST", "/s3-bucket"): lambda r: (204, b""),
            ("POST", "/api/v1/submissions"): authorized(
                lambda r: (200, {"success": True, "data": {"submission_id": 314159}})
            ),
        },
        tls=context,
    )
    yield server
    server.close()


_RUN_AICROWD = """
import json, sys
from pathlib import Path
from kitlib.errors import UploadError
from kitlib.platforms import upload
args = json.loads(sys.argv[1])
try:
    result = upload("aicrowd", Path(args["path"]), args["challenge"], args["message"])
    answer = {"ok": result.ok, "message": result.message, "submission_id": result.submission_id,
              "platform": result.platform}
except UploadError as exc:
    answer = {"error": str(exc)}
Path(args["out"]).write_text(json.dumps(answer))
"""


def run_aicrowd_upload(
    server: StubPlatform, cert: Path, tmp_path: Path, *, env_key: str | None = AICROWD_KEY, message: str = ""
) -> dict[str, object]:
    """Run ``upload("aicrowd", ...)`` in a fresh interpreter aimed at ``server``; return its answer as a dict."""
    env = aicrowd_env(server, cert, tmp_path / "home", env_key)
    out = tmp_path / "answer.json"
    args = {"path": str(submission_file(tmp_path)), "challenge": CHALLENGE, "message": message, "out": str(out)}
    done = subprocess.run(
        [sys.executable, "-c", _RUN_AICROWD, json.dumps(args)],
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # whatever the client printed went into the result, not the terminal
    return json.loads(out.read_text())


@pytest.mark.parametrize("key_from", ["env", "config-file"])
def test_aicrowd_upload_sends_bytes_and_description(
    aicrowd_server: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path, key_from: str
) -> None:
    if key_from == "config-file":  # what `aicrowd login` writes
        config = tmp_path / "home" / ".config" / "aicrowd-cli" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text(f'aicrowd_api_key = "{AICROWD_KEY}"\n')

    answer = run_aicrowd_upload(
        aicrowd_server,
        tls_files[0],
        tmp_path,
        env_key=AICROWD_KEY if key_from == "env" else None,
        message="lgbm fold-avg, cv 0.91",
    )

    assert answer["ok"] is True and answer["platform"] == "aicrowd"
    assert answer["submission_id"] == "314159"
    assert answer["message"] == (
        f"AIcrowd accepted submission 314159 to challenge '{CHALLENGE}': "
        f"https://127.0.0.1:{aicrowd_server.port}/challenges/{CHALLENGE}/submissions/314159"
    )  # the upload's progress bar is not part of the message
    (s3,) = aicrowd_server.requests_to("POST", "/s3-bucket")
    fields = multipart_fields(s3)
    assert fields["file"] == ("submission.csv", SUBMISSION)
    assert fields["key"] == (None, b"uploads/7/submission.csv")
    (create,) = aicrowd_server.requests_to("POST", "/api/v1/submissions")
    assert create.json() == {
        "challenge_id": CHALLENGE,
        "submission": {"description": "lgbm fold-avg, cv 0.91"},
        "submission_files": [{"submission_file_s3_key": "uploads/7/submission.csv"}],
    }


@pytest.mark.parametrize(
    ("method", "path", "status", "error"),
    [
        ("POST", "/api/v1/submissions", 422, "Daily submission limit of 5 reached"),
        ("GET", "/api/v1/submissions", 403, "Challenge is not accepting submissions"),
        ("POST", "/s3-bucket", 500, "<Error><Code>InternalError</Code></Error>"),
    ],
)
def test_aicrowd_rejection_raises_with_server_answer(
    aicrowd_server: StubPlatform,
    tls_files: tuple[Path, Path],
    tmp_path: Path,
    method: str,
    path: str,
    status: int,
    error: str,
) -> None:
    body = error.encode() if error.startswith("<") else {"success": False, "message": error}
    aicrowd_server.routes[(method, path)] = lambda r: (status, body)

    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path)

    assert set(answer) == {"error"}
    assert f"challenge '{CHALLENGE}' failed" in str(answer["error"])
    assert error in str(answer["error"])


def test_aicrowd_refused_key(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path, env_key="wrong-key")

    assert "AIcrowd refused the API key from AICROWD_API_KEY" in str(answer["error"])
    assert "Invalid API key" in str(answer["error"])  # the server's body, as the client logged it
    assert not aicrowd_server.requests_to("POST", "/s3-bucket")


def test_aicrowd_missing_credentials(
    monkeypatch: pytest.MonkeyPatch, no_network: list[object], tmp_path: Path
) -> None:
    monkeypatch.delenv("AICROWD_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))

    with pytest.raises(UploadError, match=r"No AIcrowd API key found: set the AICROWD_API_KEY") as caught:
        upload("aicrowd", submission_file(tmp_path), CHALLENGE)
    assert str(tmp_path / "home" / ".config" / "aicrowd-cli" / "config.toml") in str(caught.value)
    assert not (tmp_path / "home").exists()  # no config file created as a side effect
    assert no_network == []


# ----------------------------------------------------------------------------------------- dispatch
def test_unknown_platform_lists_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match=r"Unknown platform 'codalab'; expected one of \['aicrowd', 'kaggle'\]"):
        upload("codalab", submission_file(tmp_path), "x")


@pytest.mark.parametrize("platform", ["aicrowd", "kaggle"])
def test_missing_file_is_not_uploaded(platform: str, tmp_path: Path, no_network: list[object]) -> None:
    with pytest.raises(UploadError, match=r"missing\.csv is not an existing file; nothing was sent"):
        upload(platform, tmp_path / "missing.csv", "demo")
    assert no_network == []
