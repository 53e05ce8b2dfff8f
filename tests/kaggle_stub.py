"""A local stand-in for the platforms' HTTP APIs, shared by the tests of uploads, downloads and kernel pushes.

- :class:`StubPlatform`: a threading HTTP(S) server on 127.0.0.1 answering ``routes[(method, path)]`` and
  recording every request it received (:class:`Seen`).
- ``kaggle_client`` fixture: the REAL ``KaggleApi`` class, isolated from the user's setup (HOME, config dir,
  temp dir for resumable uploads all in ``tmp_path``) and aimed at ``KaggleEnv.LOCAL`` through
  ``KaggleApi.args = ["--local"]`` (what ``KAGGLE_API_ENVIRONMENT=LOCALHOST`` sets, but only at import).
- ``kaggle_server`` fixture: a :class:`StubPlatform` that ``kagglesdk.kaggle_env._env_to_endpoint[LOCAL]``
  points at, with the competition-submit routes and a :class:`SubmissionBoard` (``server.board``) answering
  ``ListSubmissions``, ``GetSubmission``, ``GetSubmissionLimits`` and ``CreateCodeSubmission`` in kagglesdk's
  shapes; tests add the routes they need (:meth:`StubPlatform.stall` for one that never answers). Retries of
  upload calls wait only :data:`FAST_BACKOFF_S` while it runs.
- :func:`project_competition`: a competition on a platform (``competitions/<slug>.toml`` in the test's project
  folder) and a valid submission file, for tests of ``kit submit --upload``.
- ``no_network`` fixture: fails any socket connect in this process.
- :data:`SUBMISSION` and :func:`submission_file`: the bytes every upload test sends, written to a file.
- ``tls_files`` fixture and :func:`aicrowd_env`: a self-signed certificate for a TLS :class:`StubPlatform`
  and the environment that aims aicrowd-cli (which reads it at import, so it runs in a subprocess) at it.
- :func:`aicrowd_stub`: that TLS server with AIcrowd's key check and challenge lookup, every route but the
  public ones answering 401 unless it gets :data:`AICROWD_KEY`; :func:`run_aicrowd` runs a script in a
  subprocess aimed at it and returns the JSON answer the script wrote.

A test module uses the fixtures by importing them: ``from kaggle_stub import kaggle_client, kaggle_server``
(pytest puts ``tests/`` on ``sys.path``). This is a plain module rather than ``conftest.py`` so that the
server class can be imported by name.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from kitlib.platforms import calls
from kitlib.platforms.kaggle import _kaggle_api_class

ROOT = Path(__file__).resolve().parent.parent
API = "/api/v1"
KAGGLE_SERVICE = f"{API}/competitions.CompetitionApiService"  # kept under its original name
COMPETITIONS = KAGGLE_SERVICE
DATASETS = f"{API}/datasets.DatasetApiService"
BLOBS = f"{API}/blobs.BlobApiService"
KERNELS = f"{API}/kernels.KernelsApiService"


@dataclass
class Seen:
    """One request as the stand-in server received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> object:
        return json.loads(self.body)


Reply = tuple[int, object]  # (status, JSON-able body or raw bytes) or (status, body, {header: value})
Route = Callable[[Seen], tuple]


@dataclass
class StubPlatform:
    """A threading HTTP(S) server on 127.0.0.1 answering ``routes[(method, path)]`` and recording requests.

    A route returns ``(status, body)`` or ``(status, body, headers)``; a ``bytes`` body is sent as is
    (``Content-Type: text/html`` unless the headers say otherwise), anything else as JSON.
    """

    routes: dict[tuple[str, str], Route]
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)  # set on close: stalled routes answer

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urlsplit(self.path)
                request = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers), self._body())
                stub.seen.append(request)
                route = stub.routes.get((self.command, url.path))
                reply = route(request) if route else (404, {"code": 404, "message": f"no route {url.path}"})
                status, body, headers = (*reply, {}) if len(reply) == 2 else reply
                raw = body if isinstance(body, bytes) else json.dumps(body).encode()
                headers = {"Content-Type": "text/html" if isinstance(body, bytes) else "application/json", **headers}
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client has gone (a stalled call it ended at its time limit)
                    pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", ""):
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0], 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    self.rfile.readline()
                    return b"".join(chunks)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            do_GET = do_POST = do_PUT = _handle

            def log_message(self, format: str, *args: object) -> None:  # keep test output clean
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if self.tls is not None:
            self.httpd.socket = self.tls.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.base_url = f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.released.set()
        self.httpd.shutdown()
        self.httpd.server_close()

    def stall(self, seconds: float = 60.0) -> Route:
        """A route that answers nothing until the server closes (or ``seconds`` pass), then 504."""

        def wait(request: Seen) -> Reply:
            self.released.wait(seconds)
            return 504, {"code": 504, "message": "stalled"}

        return wait

    def requests_to(self, method: str, path: str) -> list[Seen]:
        return [r for r in self.seen if r.method == method and r.path == path]


@dataclass
class SubmissionBoard:
    """Kaggle's side of one competition's submissions, answering as kagglesdk 0.1.38 reads them.

    ``items`` are ``ApiSubmission`` objects as JSON (``ref``, ``date``, ``fileName``, ``status`` PENDING | COMPLETE |
    ERROR, ``publicScore``/``privateScore`` as strings, ``errorDescription``, ...), newest first, as
    ``ListSubmissions`` sorts them by date; ``limits`` is the ``ApiSubmissionLimits`` answer. ``ListSubmissions``
    pages them by the request's ``pageSize`` (its ``pageToken`` is the offset; ``nextPageToken`` is ``""`` on the
    last page); ``GetSubmission`` answers 404 for a ref it does not hold; ``CreateCodeSubmission`` adds a pending
    submission named ``submission.csv`` with the next ref and answers ``{message, ref}``.
    """

    items: list[dict] = field(default_factory=list)
    limits: dict = field(default_factory=lambda: {"numToday": 0, "numAllowedNow": 5})
    next_ref: int = 9000

    def add(self, ref: int, file_name: str, status: str = "PENDING", *, public: str | None = None,
            private: str | None = None, error: str | None = None, date: str | None = None) -> dict:
        """Put a submission at the top (newest); returns its JSON object, which a test may change later."""
        import datetime as _dt

        when = date or _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        item = {"ref": ref, "date": when, "fileName": file_name, "status": status, "description": "",
                "submittedBy": "ada", "teamName": "ada", "totalBytes": 64}
        item.update({k: v for k, v in (("publicScore", public), ("privateScore", private),
                                       ("errorDescription", error)) if v is not None})
        self.items.insert(0, item)
        return item

    def list(self, request: Seen) -> Reply:
        body = request.json()
        start, size = int(body.get("pageToken") or 0), int(body.get("pageSize") or 20)
        page = self.items[start:start + size]
        return 200, {"submissions": page, "nextPageToken": str(start + size) if start + size < len(self.items) else ""}

    def get(self, request: Seen) -> Reply:
        ref = int(request.json().get("ref") or 0)
        found = [item for item in self.items if int(item["ref"]) == ref]
        return (200, found[0]) if found else (404, {"code": 404, "message": f"Submission {ref} not found"})

    def code(self, request: Seen) -> Reply:
        self.next_ref += 1
        self.add(self.next_ref, request.json().get("fileName") or "submission.csv")
        return 200, {"message": "Your code submission was received", "ref": self.next_ref}


# CRLF, a bare LF and non-ASCII bytes: the server must receive exactly these.
SUBMISSION = b"id,target\r\n1,0.25\r\n2,caf\xc3\xa9\n"


def submission_file(tmp_path: Path) -> Path:
    """``tmp_path/submission.csv`` holding :data:`SUBMISSION`."""
    path = tmp_path / "submission.csv"
    path.write_bytes(SUBMISSION)
    return path


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Fail any socket connect in this process; returns the list of attempted addresses."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError(f"test forbids network access (tried {address})")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


@pytest.fixture
def kaggle_client(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> type:
    """The real KaggleApi class, isolated from the user's setup and aimed at KaggleEnv.LOCAL."""
    for name in list(os.environ):
        if name.startswith("KAGGLE_") or name.lower() in ("http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # ~/.kaggle/access_token, credentials.json
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))
    monkeypatch.setenv("KAGGLE_CONFIG_DIR", str(tmp_path / "kaggle"))
    monkeypatch.setenv("KAGGLE_API_ENVIRONMENT", "LOCALHOST")
    # Resumable dataset uploads keep state in <tempdir>/.kaggle/uploads: never reuse the user's.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    api_class = _kaggle_api_class()
    # The class body resolved these when it was first imported (maybe before this test): reset them.
    monkeypatch.setattr(api_class, "config_dir", str(tmp_path / "kaggle"))
    monkeypatch.setattr(api_class, "config", str(tmp_path / "kaggle" / "kaggle.json"))
    monkeypatch.setattr(api_class, "args", ["--local"])
    return api_class


@pytest.fixture
def kaggle_server(monkeypatch: pytest.MonkeyPatch, kaggle_client: type) -> Iterator[StubPlatform]:
    """A stand-in Kaggle API: accepts a competition submission (ref 4242); tests add further routes."""
    from kagglesdk.kaggle_env import KaggleEnv, _env_to_endpoint

    def start(request: Seen) -> Reply:
        return 200, {"token": "blob-token-7", "createUrl": f"{server.base_url}/upload/blob-token-7"}

    board = SubmissionBoard()
    server = StubPlatform(
        {
            ("POST", f"{KAGGLE_SERVICE}/StartSubmissionUpload"): start,
            ("PUT", "/upload/blob-token-7"): lambda r: (200, {}),
            ("POST", f"{KAGGLE_SERVICE}/CreateSubmission"): lambda r: (
                200,
                {"message": "Successfully submitted to Demo Competition", "ref": 4242},
            ),
            ("POST", f"{KAGGLE_SERVICE}/ListSubmissions"): board.list,
            ("POST", f"{KAGGLE_SERVICE}/GetSubmission"): board.get,
            ("POST", f"{KAGGLE_SERVICE}/GetSubmissionLimits"): lambda r: (200, board.limits),
            ("POST", f"{KAGGLE_SERVICE}/CreateCodeSubmission"): board.code,
        }
    )
    server.board = board
    monkeypatch.setitem(_env_to_endpoint, KaggleEnv.LOCAL, server.base_url)
    monkeypatch.setattr(calls, "RETRY_BACKOFF_S", FAST_BACKOFF_S)
    yield server
    server.close()


FAST_BACKOFF_S = 0.01
_SPEC = """\
title = "Demo"
platform = "{platform}"
slug = "{slug}"
metric = "roc_auc"
task = "binary"
data_dir = "{data}"

[columns]
id = "id"
targets = ["target"]

[labels]
target = ["0", "1"]

[submission]
file_name = "submission.csv"
columns = ["id", "target"]
key = ["id"]
ranges = {{ target = [0, 1] }}
"""


def project_competition(project: Path, platform: str, slug: str, file_name: str = "submission.csv",
                        daily_limit: int | None = None) -> Path:
    """Declare competition ``slug`` on ``platform`` in the project folder ``project`` (its spec file, with
    ``daily_limit`` when given, and its data folder with ``sample_submission.csv``); return a valid submission file
    ``file_name`` beside the data."""
    data = project / f"{slug}-data"
    data.mkdir(parents=True)
    (data / "sample_submission.csv").write_text("id,target\n1,0.5\n2,0.5\n")
    (project / "competitions").mkdir(exist_ok=True)
    limit = f"daily_limit = {daily_limit}\n" if daily_limit is not None else ""
    (project / "competitions" / f"{slug}.toml").write_text(limit + _SPEC.format(platform=platform, slug=slug,
                                                                                data=data))
    path = project / file_name
    path.write_text("id,target\n1,0.25\n2,0.75\n")
    return path


@pytest.fixture
def kaggle_credentials(monkeypatch: pytest.MonkeyPatch, kaggle_client: type) -> tuple[str, str]:
    """``KAGGLE_USERNAME=ada`` and ``KAGGLE_KEY=s3cret`` for the client under test."""
    monkeypatch.setenv("KAGGLE_USERNAME", "ada")
    monkeypatch.setenv("KAGGLE_KEY", "s3cret")
    return "ada", "s3cret"


# ---------------------------------------------------------------------------------------- aicrowd
@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost, made with the openssl CLI: (cert, key)."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make the test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return cert, key


def aicrowd_env(server: StubPlatform, cert: Path, home: Path, api_key: str | None) -> dict[str, str]:
    """Environment for a subprocess whose aicrowd-cli talks to ``server`` (trusting ``cert``) only.

    Rails API at ``https://127.0.0.1:<port>/api/v1``, AIcrowd API at ``/aicrowd-api``, the datasets host
    (which gets the API key) is the same server; HOME and config in ``home``; ``AICROWD_API_KEY`` is
    ``api_key`` (none when ``None``); kitlib importable from this checkout.
    """
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AICROWD_", "KAGGLE_", "REQUESTS_CA", "CURL_CA", "SSL_CERT"))
        and k.lower() not in ("http_proxy", "https_proxy", "all_proxy")
    }
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        RAILS_HOST=f"127.0.0.1:{server.port}",
        AICROWD_API_ENDPOINT=f"{server.base_url}/aicrowd-api",
        DATASETS_HOST=f"127.0.0.1:{server.port}",
        REQUESTS_CA_BUNDLE=str(cert),  # requests (the APIs)
        SSL_CERT_FILE=str(cert),  # urllib (aicrowd-cli's dataset downloader)
        NO_PROXY="127.0.0.1,localhost",
        no_proxy="127.0.0.1,localhost",
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    if api_key is not None:
        env["AICROWD_API_KEY"] = api_key
    return env


AICROWD_KEY = "aicrowd-test-key-123"


def aicrowd_stub(tls_files: tuple[Path, Path], challenge: str, routes: Callable[[str], dict[tuple[str, str], Route]],
                 public: frozenset[tuple[str, str]] = frozenset()) -> StubPlatform:
    """A stand-in for AIcrowd over TLS on one port: its Rails API, its AIcrowd API and whatever ``routes`` add.

    ``routes(base_url)`` gives the routes beside the two every call starts with: the key check
    (``GET /api/v1/api_user``) and the challenge lookup (``GET /aicrowd-api/challenges/?slug=``, which knows
    ``challenge`` as id 42). Every route except those in ``public`` answers ``401 {"error": "Invalid API
    key"}`` unless the request carries ``Authorization: Token <AICROWD_KEY>``. Close it after use.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*map(str, tls_files))

    def authorized(route: Route) -> Route:
        def check(request: Seen) -> tuple:
            if request.headers.get("Authorization") != f"Token {AICROWD_KEY}":
                return 401, {"error": "Invalid API key"}
            return route(request)

        return check

    def challenges(request: Seen) -> Reply:
        return 200, [{"id": 42, "slug": challenge}] if request.query.get("slug") == [challenge] else []

    server = StubPlatform({}, tls=context)
    table = {
        ("GET", "/api/v1/api_user"): lambda r: (200, {"id": 7, "username": "ada"}),
        ("GET", "/aicrowd-api/challenges/"): challenges,
        **routes(server.base_url),
    }
    server.routes.update({key: route if key in public else authorized(route) for key, route in table.items()})
    return server


def run_aicrowd(script: str, args: dict[str, object], server: StubPlatform, cert: Path, tmp_path: Path,
                api_key: str | None) -> dict[str, object]:
    """Run ``script`` (given ``json.dumps(args)`` as ``sys.argv[1]``) in a fresh interpreter aimed at ``server``.

    The script writes its answer as JSON to ``args["out"]``; that answer is returned. Asserts that the
    interpreter exited cleanly and printed nothing (what the client prints belongs in the result).
    """
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        env=aicrowd_env(server, cert, tmp_path / "home", api_key), cwd=tmp_path,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""  # whatever the client printed went into the result, not the terminal
    return json.loads(Path(str(args["out"])).read_text())
