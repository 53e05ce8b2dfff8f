"""AIcrowd submissions through the REAL aicrowd-cli, talking to a local server standing in for AIcrowd.

One HTTPS server (``kaggle_stub.aicrowd_stub``: a self-signed certificate made with the ``openssl`` CLI,
trusted through ``REQUESTS_CA_BUNDLE``) serves the Rails API (``/api/v1``), the AIcrowd API
(``/aicrowd-api``) and the presigned "S3" form target. aicrowd-cli reads ``RAILS_HOST``/``AICROWD_API_ENDPOINT``
once at import and binds them into several modules with ``from ... import``, so each upload runs in a fresh
subprocess with that environment: nothing has to be reloaded, and this process's aicrowd modules stay
untouched.

The subprocess sees only the stand-in (``aicrowd_env``: no proxies, HOME and aicrowd-cli's config in
tmp_path); the missing-key test runs in this process and forbids any socket connect.
"""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    AICROWD_KEY,
    SUBMISSION,
    Reply,
    Seen,
    StubPlatform,
    aicrowd_stub,
    no_network,
    project_competition,
    run_aicrowd,
    submission_file,
    tls_files,
)

from kitlib.errors import UploadError
from kitlib.platforms import upload

CHALLENGE = "demo-challenge"


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


@pytest.fixture
def aicrowd_server(tls_files: tuple[Path, Path]) -> Iterator[StubPlatform]:
    """A stand-in for AIcrowd's Rails API, its AIcrowd API and the S3 bucket, over TLS on one port."""

    def routes(base_url: str) -> dict:
        def presign(request: Seen) -> Reply:
            assert request.query["challenge_id"] == [CHALLENGE]
            fields = {"key": "uploads/7/${filename}", "policy": "cG9saWN5", "x-amz-signature": "abc"}
            return 200, {"success": True, "data": {"url": f"{base_url}/s3-bucket", "fields": fields}}

        return {
            ("GET", "/aicrowd-api/challenges/42/participant"): lambda r: (200, {"registered": True}),
            ("GET", "/api/v1/submissions"): presign,
            ("POST", "/s3-bucket"): lambda r: (204, b""),
            ("POST", "/api/v1/submissions"): lambda r: (200, {"success": True, "data": {"submission_id": 314159}}),
        }

    server = aicrowd_stub(tls_files, CHALLENGE, routes, public=frozenset({("POST", "/s3-bucket")}))
    yield server
    server.close()


_RUN_AICROWD = """
import json, sys
from pathlib import Path
from kitlib.errors import PlatformError
from kitlib.platforms import calls, upload
calls.RETRY_BACKOFF_S = 0.01
args = json.loads(sys.argv[1])
try:
    result = upload("aicrowd", Path(args["path"]), args["challenge"], args["message"])
    answer = {"ok": result.ok, "message": result.message, "submission_id": result.submission_id,
              "platform": result.platform}
except PlatformError as exc:
    answer = {"error": str(exc), "type": type(exc).__name__}
Path(args["out"]).write_text(json.dumps(answer))
"""


def run_aicrowd_upload(
    server: StubPlatform, cert: Path, tmp_path: Path, *, env_key: str | None = AICROWD_KEY, message: str = ""
) -> dict[str, object]:
    """Run ``upload("aicrowd", ...)`` in a fresh interpreter aimed at ``server``; return its answer as a dict."""
    args = {"path": str(submission_file(tmp_path)), "challenge": CHALLENGE, "message": message,
            "out": str(tmp_path / "answer.json")}
    return run_aicrowd(_RUN_AICROWD, args, server, cert, tmp_path, env_key)


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
def test_aicrowd_rejection_raises_with_server_answer(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path],
                                                    tmp_path: Path, method: str, path: str, status: int,
                                                    error: str) -> None:
    body = error.encode() if error.startswith("<") else {"success": False, "message": error}
    aicrowd_server.routes[(method, path)] = lambda r: (status, body)

    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path)

    assert set(answer) == {"error", "type"} and answer["type"] == "UploadError"
    assert f"challenge '{CHALLENGE}' failed" in str(answer["error"])
    assert error in str(answer["error"])


def test_aicrowd_refused_key(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path, env_key="wrong-key")

    assert answer["type"] == "UploadError"
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


# ------------------------------------------------------------------------------- faults
@pytest.mark.parametrize(("method", "path", "reply", "kind", "said"), [
    ("GET", "/api/v1/submissions", (200, {"success": True, "data": []}), "UploadError", "not a form (url and fields)"),
    ("POST", "/api/v1/submissions", (200, []), "UploadUnknown", "answered the submission request with []"),
    ("POST", "/api/v1/submissions", (200, {"success": True, "data": {}}), "UploadUnknown", "without a submission id"),
    ("POST", "/api/v1/submissions", (200, b"<html>busy</html>"), "UploadUnknown", "is not JSON"),
])
def test_aicrowd_answers_of_the_wrong_shape(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path,
                                            method: str, path: str, reply: tuple, kind: str, said: str) -> None:
    """Unreadable before the final call: failed, nothing created; unreadable from the final call: unknown."""
    aicrowd_server.routes[(method, path)] = lambda r: reply

    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path)

    assert answer["type"] == kind, answer
    assert said in str(answer["error"])
    if kind == "UploadUnknown":
        assert f"{CHALLENGE}/submissions?my_submissions=true before submitting again" in str(answer["error"])
    else:
        assert not aicrowd_server.requests_to("POST", "/s3-bucket")


def test_aicrowd_key_check_failing_is_not_a_refused_key(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path],
                                                        tmp_path: Path) -> None:
    aicrowd_server.routes[("GET", "/api/v1/api_user")] = lambda r: (500, b"<h1>Internal Server Error</h1>")

    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path)

    assert answer["type"] == "UploadError"
    assert "could not check the API key from AICROWD_API_KEY (HTTP 500" in str(answer["error"])
    assert "refused the API key" not in str(answer["error"])
    assert len(aicrowd_server.requests_to("GET", "/api/v1/api_user")) == 3  # safe to repeat: tried again


def test_aicrowd_stalled_submission_request_is_unknown(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    aicrowd_server.routes[("POST", "/api/v1/submissions")] = aicrowd_server.stall()
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "1")

    answer = run_aicrowd_upload(aicrowd_server, tls_files[0], tmp_path)

    assert answer["type"] == "UploadUnknown"
    assert "the submission request got no answer within 1 s, so whether the submission was created is unknown" in str(
        answer["error"])
    assert len(aicrowd_server.requests_to("POST", "/api/v1/submissions")) == 1  # the final call: never repeated


_RUN_SUBMIT = """
import json, sys
from pathlib import Path
from kitlib import submit
args = json.loads(sys.argv[1])
row = submit.submit(args["path"], args["challenge"], upload=True, message="m")
Path(args["out"]).write_text(json.dumps(submit.read_ledger(events=True).to_dict("records")))
"""


def test_no_progress_bar_in_the_ledger_on_a_narrow_terminal(aicrowd_server: StubPlatform, tls_files: tuple[Path, Path],
                                                             tmp_path: Path, kit_dirs, kit_project: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A narrow terminal wraps aicrowd-cli's upload bar, or drops its glyphs: nothing of it may be kept."""
    monkeypatch.setenv("COLUMNS", "40")
    path = project_competition(kit_project, "aicrowd", CHALLENGE, "sentiment-classification-20260101-120000-ab12.csv")
    args = {"path": str(path), "challenge": CHALLENGE, "out": str(tmp_path / "ledger.json")}

    events = run_aicrowd(_RUN_SUBMIT, args, aicrowd_server, tls_files[0], tmp_path, AICROWD_KEY)

    assert [e["upload_status"] for e in events] == ["uploading", "uploaded"]
    assert events[-1]["platform_message"] == (
        f"AIcrowd accepted submission 314159 to challenge '{CHALLENGE}': "
        f"https://127.0.0.1:{aicrowd_server.port}/challenges/{CHALLENGE}/submissions/314159"
    )
    assert events[-1]["platform_id"] == "314159"
