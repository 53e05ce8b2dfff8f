"""``kit data download``: competition files through the REAL kaggle and aicrowd-cli clients, served by the
local stand-in servers of ``kaggle_stub`` (Kaggle in this process over HTTP; AIcrowd over TLS in a
subprocess, because aicrowd-cli reads its endpoints at import).
"""
from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from kaggle_stub import (  # noqa: F401  (fixtures are used by name)
    AICROWD_KEY,
    COMPETITIONS,
    StubPlatform,
    aicrowd_stub,
    kaggle_client,
    kaggle_credentials,
    kaggle_server,
    no_network,
    run_aicrowd,
    tls_files,
)

from kitlib.errors import DownloadError, ParameterError
from kitlib.platforms import DOWNLOAD_RECORD, download

SLUG = "kaggle-llm-science-exam"
TRAIN = b"id,prompt,A,B,C,D,E,answer\n0,Which gas do plants take in?,CO2,O2,N2,He,Ar,A\n"
TEST = b"id,prompt,A,B,C,D,E\n0,What is H2O?,water,salt,iron,gold,neon\n"
SAMPLE = b"id,prediction\n0,A B C\n"


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
    return buffer.getvalue()


# The competition archive as Kaggle ships it: plain files and one file zipped again inside.
ARCHIVE = zip_bytes(
    {"train.csv": TRAIN, "sample_submission.csv": SAMPLE, "test.csv.zip": zip_bytes({"test.csv": TEST})}
)


@pytest.fixture
def kaggle_files(kaggle_server: StubPlatform, kaggle_credentials: tuple[str, str]) -> StubPlatform:
    """DownloadDataFiles redirects (302) to a signed storage URL serving the competition archive."""
    storage = f"/storage/{SLUG}.zip"
    kaggle_server.routes[("POST", f"{COMPETITIONS}/DownloadDataFiles")] = lambda r: (
        302, b"", {"Location": f"{kaggle_server.base_url}{storage}?X-Goog-Signature=abc"})
    kaggle_server.routes[("GET", storage)] = lambda r: (200, ARCHIVE, {"Content-Type": "application/zip"})
    return kaggle_server


# ------------------------------------------------------------------------------------------ kaggle
def test_kaggle_download_unzips_into_dest(kaggle_files: StubPlatform, tmp_path: Path) -> None:
    dest = tmp_path / "data" / "llm-science-exam"

    assert download("kaggle", SLUG, dest) == dest

    assert (dest / "train.csv").read_bytes() == TRAIN
    assert (dest / "test.csv").read_bytes() == TEST  # the zip inside the archive was unzipped too
    assert (dest / "sample_submission.csv").read_bytes() == SAMPLE
    assert sorted(p.name for p in dest.iterdir()) == [DOWNLOAD_RECORD, "sample_submission.csv", "test.csv", "train.csv"]
    (call,) = kaggle_files.requests_to("POST", f"{COMPETITIONS}/DownloadDataFiles")
    assert call.json() == {"competitionName": SLUG}
    assert call.headers["Authorization"] == "Basic " + base64.b64encode(b"ada:s3cret").decode()
    record = json.loads((dest / DOWNLOAD_RECORD).read_text())
    assert record == {"platform": "kaggle", "slug": SLUG,
                      "files": ["sample_submission.csv", "test.csv", "train.csv"]}


def test_kaggle_download_again_only_when_forced_or_incomplete(kaggle_files: StubPlatform, tmp_path: Path) -> None:
    dest = tmp_path / "data"
    download("kaggle", SLUG, dest)
    calls = lambda: len(kaggle_files.requests_to("POST", f"{COMPETITIONS}/DownloadDataFiles"))  # noqa: E731

    download("kaggle", SLUG, dest)
    assert calls() == 1  # complete: nothing fetched

    (dest / "train.csv").write_bytes(b"edited")
    download("kaggle", SLUG, dest, force=True)
    assert calls() == 2 and (dest / "train.csv").read_bytes() == TRAIN

    (dest / "test.csv").unlink()
    download("kaggle", SLUG, dest)
    assert calls() == 3 and (dest / "test.csv").read_bytes() == TEST


@pytest.mark.parametrize(
    ("route", "reply", "error"),
    [
        (("POST", f"{COMPETITIONS}/DownloadDataFiles"),
         (403, {"code": 403, "message": "You must accept this competition's rules before you download files"}),
         r"HTTP 403 .*DownloadDataFiles: .*must accept this competition's rules.*\(accept the competition's rules"),
        (("POST", f"{COMPETITIONS}/DownloadDataFiles"), (404, {"code": 404, "message": "Competition not found"}),
         r"HTTP 404 .*Competition not found.*\(check the competition slug\)"),
        (("GET", f"/storage/{SLUG}.zip"), (403, b"<Error><Code>AccessDenied</Code></Error>"),
         rf"HTTP 403 .*{SLUG}\.zip: <Error><Code>AccessDenied"),
    ],
)
def test_kaggle_refusal_raises_with_the_answer(kaggle_files: StubPlatform, tmp_path: Path, route: tuple,
                                               reply: tuple, error: str) -> None:
    kaggle_files.routes[route] = lambda r: reply
    with pytest.raises(DownloadError, match=rf"Kaggle competition '{SLUG}': download failed: {error}"):
        download("kaggle", SLUG, tmp_path / "data")
    assert not (tmp_path / "data" / DOWNLOAD_RECORD).exists()


def test_kaggle_archive_that_is_not_a_zip(kaggle_files: StubPlatform, tmp_path: Path) -> None:
    kaggle_files.routes[("GET", f"/storage/{SLUG}.zip")] = lambda r: (200, b"<html>maintenance</html>")
    with pytest.raises(DownloadError, match=r"download failed: .*\.zip is not a readable zip archive"):
        download("kaggle", SLUG, tmp_path / "data")
    assert (tmp_path / "data" / f"{SLUG}.zip").read_bytes() == b"<html>maintenance</html>"  # kept to look at
    assert not (tmp_path / "data" / DOWNLOAD_RECORD).exists()


def test_kaggle_download_without_credentials(kaggle_client: type, no_network: list[object], tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"No Kaggle credentials found"):
        download("kaggle", SLUG, tmp_path / "data")
    assert no_network == []


def test_download_checks_its_arguments(tmp_path: Path, no_network: list[object]) -> None:
    with pytest.raises(ParameterError, match=r"Unknown platform 'codalab'; expected one of \['aicrowd', 'kaggle'\]"):
        download("codalab", SLUG, tmp_path)
    with pytest.raises(ParameterError, match=r"competition slug must be a non-empty string"):
        download("kaggle", " ", tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(DownloadError, match=r"file exists and is not a folder"):
        download("kaggle", SLUG, tmp_path / "file")
    assert no_network == []


# ----------------------------------------------------------------------------------------- aicrowd
CHALLENGE = "sentiment-classification"
AI_TRAIN = b"embeddings,label\n\"[0.1, 0.2]\",positive\n"
AI_VAL = b"embeddings,label\n\"[0.3, 0.4]\",negative\n"


@pytest.fixture
def aicrowd_files(tls_files: tuple[Path, Path]) -> Iterator[StubPlatform]:
    """AIcrowd's APIs and its datasets host over TLS; the challenge lists a zip and a plain CSV."""

    def routes(base_url: str) -> dict:
        files = f"{base_url}/files"
        listing = [
            {"title": "train.zip", "external_url": f"{files}/train.zip", "external_file_size": 300},
            {"title": "val.csv", "external_url": f"{files}/val.csv", "external_file_size": len(AI_VAL)},
        ]
        train = zip_bytes({"train.csv": AI_TRAIN})
        return {
            ("GET", "/aicrowd-api/challenges/42/dataset"): lambda r: (200, listing),
            ("GET", "/files/train.zip"): lambda r: (200, train, {"Content-Type": "application/zip"}),
            ("GET", "/files/val.csv"): lambda r: (200, AI_VAL, {"Content-Type": "text/csv"}),
        }

    server = aicrowd_stub(tls_files, CHALLENGE, routes)
    yield server
    server.close()


_RUN_DOWNLOAD = """
import json, sys
from pathlib import Path
from kitlib.errors import PlatformError
from kitlib.platforms import download
args = json.loads(sys.argv[1])
try:
    answer = {"dest": str(download("aicrowd", args["challenge"], Path(args["dest"])))}
except PlatformError as exc:
    answer = {"error": str(exc), "type": type(exc).__name__}
Path(args["out"]).write_text(json.dumps(answer))
"""


def run_aicrowd_download(server: StubPlatform, cert: Path, tmp_path: Path, key: str = AICROWD_KEY) -> dict:
    """``download("aicrowd", CHALLENGE, tmp_path / "data")`` in a fresh interpreter aimed at ``server``."""
    args = {"challenge": CHALLENGE, "dest": str(tmp_path / "data"), "out": str(tmp_path / "answer.json")}
    return run_aicrowd(_RUN_DOWNLOAD, args, server, cert, tmp_path, key)


def test_aicrowd_download_fetches_and_unzips(aicrowd_files: StubPlatform, tls_files: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    answer = run_aicrowd_download(aicrowd_files, tls_files[0], tmp_path)

    dest = tmp_path / "data"
    assert answer == {"dest": str(dest)}
    assert (dest / "train.csv").read_bytes() == AI_TRAIN
    assert (dest / "val.csv").read_bytes() == AI_VAL
    assert sorted(p.name for p in dest.iterdir()) == [DOWNLOAD_RECORD, "train.csv", "val.csv"]
    for path in ("/files/train.zip", "/files/val.csv"):  # the datasets host gets the key
        (fetch,) = aicrowd_files.requests_to("GET", path)
        assert fetch.headers["Authorization"] == f"Token {AICROWD_KEY}"


def test_aicrowd_file_refused(aicrowd_files: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    aicrowd_files.routes[("GET", "/files/val.csv")] = lambda r: (
        401, b"<p>Please <a href=https://127.0.0.1/challenges/x/register>register</a></p>")

    answer = run_aicrowd_download(aicrowd_files, tls_files[0], tmp_path)

    error = str(answer["error"])
    assert answer["type"] == "DownloadError"
    assert error.startswith(f"AIcrowd challenge '{CHALLENGE}': download failed: could not fetch ")
    assert "401" in error and "make sure that you are registered" in error  # what the client logged and said
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == []  # nothing half-downloaded left behind


def test_aicrowd_refused_key(aicrowd_files: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    answer = run_aicrowd_download(aicrowd_files, tls_files[0], tmp_path, key="wrong-key")
    assert answer["type"] == "DownloadError"
    assert "download failed: AIcrowd refused the API key from AICROWD_API_KEY" in str(answer["error"])
    assert not aicrowd_files.requests_to("GET", "/files/val.csv")


def test_aicrowd_listing_fails(aicrowd_files: StubPlatform, tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    aicrowd_files.routes[("GET", "/aicrowd-api/challenges/42/dataset")] = lambda r: (
        500, {"message": "datasets service unavailable"})
    answer = run_aicrowd_download(aicrowd_files, tls_files[0], tmp_path)
    error = str(answer["error"])
    assert answer["type"] == "DownloadError"
    assert "download failed: AIcrowd listed no dataset files" in error
    assert "datasets service unavailable" in error  # the reason the client logged


def test_aicrowd_download_without_credentials(monkeypatch: pytest.MonkeyPatch, no_network: list[object],
                                             tmp_path: Path) -> None:
    monkeypatch.delenv("AICROWD_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "home" / ".config"))

    with pytest.raises(DownloadError, match=r"No AIcrowd API key found: set the AICROWD_API_KEY"):
        download("aicrowd", CHALLENGE, tmp_path / "data")
    assert not (tmp_path / "data" / DOWNLOAD_RECORD).exists()
    assert no_network == []


def test_kit_data_download_command(kaggle_files: StubPlatform, tmp_path: Path,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    from kitlib.cli import main

    dest = tmp_path / "data"
    status = main(["data", "download", "llm-science-exam", "--dest", str(dest)])

    printed = capsys.readouterr()
    assert status == 0, printed.err
    assert f"data_dir: {dest}" in printed.out and f"kit run llm-science-exam -p data_dir {dest}" in printed.out
    assert (dest / "train.csv").read_bytes() == TRAIN

    kaggle_files.routes[("POST", f"{COMPETITIONS}/DownloadDataFiles")] = lambda r: (
        403, {"code": 403, "message": "You must accept this competition's rules"})
    assert main(["data", "download", "llm-science-exam", "--dest", str(dest), "--force"]) == 1
    assert "download failed: HTTP 403" in capsys.readouterr().err
