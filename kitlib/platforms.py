"""Upload an already-validated submission file through the platforms' OFFICIAL clients.

``upload("kaggle" | "aicrowd", path, slug, message)`` returns an :class:`UploadResult` only when the
platform said yes; every refusal or failure raises :class:`~kitlib.errors.UploadError` carrying the
platform's answer (HTTP status and body where the client exposes them) and what the client printed.

- AIcrowd goes through aicrowd-cli's own functions, the same ones ``aicrowd submission create -c C -f F
  -d D`` runs for a file (see :func:`upload_aicrowd`). aicrowd-cli reads ``AICROWD_API_ENDPOINT`` (full
  URL) and ``RAILS_HOST`` (host[:port], always https) once, when ``aicrowd`` is first imported.
- Kaggle goes through ``kaggle.api.kaggle_api_extended.KaggleApi.competition_submit`` (StartSubmissionUpload
  -> PUT of the bytes -> CreateSubmission). ``import kaggle`` authenticates at import time (and prints a
  help page when there are no credentials), so this module loads ``KaggleApi`` without running
  ``kaggle/__init__.py`` (see :func:`_kaggle_api_class`).

``download("kaggle" | "aicrowd", slug, dest)`` fetches a competition's files through the same clients
(Kaggle: ``competition_download_files``; AIcrowd: the dataset listing and downloader behind ``aicrowd
dataset download``), unzips them in ``dest`` and records the download in ``dest/.kit-download.json``.
:func:`push_kaggle_dataset` and :func:`push_kaggle_kernel` send a dataset folder and a kernel folder through
the client's ``dataset_create_new``/``dataset_create_version`` and ``kernels_push`` (used by
:mod:`kitlib.kernel`). Every failure raises :class:`~kitlib.errors.UploadError` with the platform's answer.

Both clients are imported lazily, inside the functions; importing this module costs nothing.
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import importlib.util
import io
import json
import logging
import os
import re
import sys
import shutil
import threading
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from .errors import MissingDependencyError, ParameterError, UploadError

PLATFORMS = ("aicrowd", "kaggle")

_AICROWD_INSTALL = "pip install aicrowd-cli==0.1.18"
_KAGGLE_INSTALL = "pip install kaggle==2.2.4 six"


@dataclass
class UploadResult:
    """What a platform answered to an accepted upload.

    ``platform`` is ``"aicrowd"`` or ``"kaggle"``; ``ok`` is True (failures raise instead);
    ``message`` is the platform's answer in words, followed by anything the client printed;
    ``submission_id`` is the platform's id for the new submission when it sent one.
    """

    platform: str
    ok: bool
    message: str
    submission_id: str | None = None


# ------------------------------------------------------------------------------------- dispatch
def upload(platform: str, path: Path, slug: str, message: str = "") -> UploadResult:
    """Upload ``path`` to competition/challenge ``slug`` on ``platform``.

    ``platform`` is one of ``"aicrowd"``, ``"kaggle"``; ``message`` becomes the submission's
    description. Returns the :class:`UploadResult` of :func:`upload_aicrowd` / :func:`upload_kaggle`.
    Raises :class:`ParameterError` for an unknown platform and :class:`UploadError` when the upload fails.
    """
    if platform == "aicrowd":
        return upload_aicrowd(path, slug, message)
    if platform == "kaggle":
        return upload_kaggle(path, slug, message)
    raise ParameterError(f"Unknown platform {platform!r}; expected one of {list(PLATFORMS)}")


# -------------------------------------------------------------------------------------- aicrowd
def upload_aicrowd(path: Path, challenge: str, message: str = "") -> UploadResult:
    """Submit the file ``path`` to the AIcrowd challenge ``challenge`` with description ``message``.

    ``challenge`` is a slug, a numeric id or a challenge URL, as ``aicrowd submission create -c`` takes.
    The API key comes from ``AICROWD_API_KEY`` or else from aicrowd-cli's config file (written by
    ``aicrowd login``). The steps are those of aicrowd-cli's ``create_submission`` for a file:
    verify the key, resolve the challenge, check registration, then ``submit_file`` (ask Rails for a
    presigned S3 form, POST the file there, tell Rails about the uploaded key). ``create_submission``
    itself is not called because it first reads a challenge id from the git config of the current
    directory, which would override ``challenge`` (and then fails on an unbound variable).

    Returns an :class:`UploadResult` whose ``submission_id`` is the id AIcrowd assigned.
    Raises :class:`UploadError` when no API key is set, the key is refused, the challenge is unknown,
    the user is not registered, a server answers with an error, or a server cannot be reached;
    :class:`MissingDependencyError` when aicrowd-cli is not installed.
    """
    path = _existing_file(path, "aicrowd")
    challenge = _non_empty(challenge, "challenge")
    api_key, key_source = _aicrowd_api_key()

    _require("aicrowd", _AICROWD_INSTALL)
    import requests
    from aicrowd.challenge.helpers import parse_cli_challenge
    from aicrowd.constants import RAILS_HOST
    from aicrowd.exceptions import CLIException
    from aicrowd.submission.helpers import submit_file, verify_file_submission
    from aicrowd_api.auth import verify_api_key

    where = f"AIcrowd upload of {path} to challenge {challenge!r}"
    with _captured_client_output() as said:
        try:
            if not verify_api_key(api_key):
                raise UploadError(
                    f"{where} failed: AIcrowd refused the API key from {key_source}. Copy your key from "
                    f"https://{RAILS_HOST}/participants/me into AICROWD_API_KEY (or run `aicrowd login`)."
                    f"{_said(said)}"
                )
            challenge_id, challenge_slug = parse_cli_challenge(challenge, api_key)
            if challenge_id is None:
                raise UploadError(f"{where} failed: AIcrowd knows no challenge {challenge!r}.{_said(said)}")
            verify_file_submission(api_key, challenge_id)
            data = submit_file(challenge_slug, str(path), message, api_key, print_links=False)
        except CLIException as exc:
            hint = f" ({exc.fix})" if exc.fix else ""
            raise UploadError(f"{where} failed: {exc.message}{hint}{_said(said)}") from exc
        except requests.RequestException as exc:
            raise UploadError(f"{where} failed: could not talk to AIcrowd: {exc}{_said(said)}") from exc

    data = data if isinstance(data, dict) else {}
    raw_id = data.get("submission_id")
    submission_id = None if raw_id is None else str(raw_id)
    answer = (
        f"AIcrowd accepted submission {submission_id} to challenge {challenge_slug!r}: "
        f"https://{RAILS_HOST}/challenges/{challenge_slug}/submissions/{submission_id}"
        if submission_id is not None
        else f"AIcrowd accepted the submission to challenge {challenge_slug!r}: {json.dumps(data)}"
    )
    return UploadResult("aicrowd", True, answer + _said(said), submission_id)


def _aicrowd_api_key() -> tuple[str, str]:
    """Return ``(api_key, where_it_came_from)``: ``AICROWD_API_KEY``, else aicrowd-cli's config file.

    The config file is read only if it exists (aicrowd-cli's own loader creates an empty one).
    Raises :class:`UploadError` naming both places when neither holds a key.
    """
    key = os.environ.get("AICROWD_API_KEY", "").strip()
    if key:
        return key, "AICROWD_API_KEY"
    _require("aicrowd", _AICROWD_INSTALL)
    import click
    from aicrowd.constants import LoginConstants
    from aicrowd.contexts import CLIConfig

    config_path = Path(click.get_app_dir("aicrowd-cli")) / "config.toml"
    if config_path.is_file():
        config = CLIConfig()
        config.load(str(config_path))
        key = str(config.get(LoginConstants.CONFIG_KEY) or "").strip()
        if key:
            return key, str(config_path)
    raise UploadError(
        "No AIcrowd API key found: set the AICROWD_API_KEY environment variable, or run `aicrowd login` "
        f"(it writes {LoginConstants.CONFIG_KEY} to {config_path}). The key is on "
        "https://www.aicrowd.com/participants/me."
    )


# --------------------------------------------------------------------------------------- kaggle
def upload_kaggle(path: Path, competition: str, message: str = "") -> UploadResult:
    """Submit the file ``path`` to the Kaggle competition ``competition`` with description ``message``.

    Credentials are whatever ``KaggleApi.authenticate()`` finds: ``KAGGLE_USERNAME`` + ``KAGGLE_KEY``
    (no network call), ``KAGGLE_API_TOKEN`` / ``~/.kaggle/access_token``, ``kaggle.json`` in the
    client's config directory, or ``kaggle auth login`` credentials. The upload is the client's
    ``competition_submit``: StartSubmissionUpload -> PUT of the bytes to the returned URL ->
    CreateSubmission.

    Returns an :class:`UploadResult` with Kaggle's message and its submission ``ref`` as ``submission_id``.
    Raises :class:`UploadError` when no credentials are found, an API call answers with an HTTP error,
    the PUT of the bytes fails, or Kaggle cannot be reached; :class:`MissingDependencyError` when the
    kaggle package is not installed.
    """
    path = _existing_file(path, "kaggle")
    competition = _non_empty(competition, "competition")
    import requests

    api_class = _kaggle_api_class()
    where = f"Kaggle upload of {path} to competition {competition!r}"
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, f"{where} failed", said)
        try:
            response = api.competition_submit(str(path), message, competition, quiet=True)
        except requests.RequestException as exc:
            raise UploadError(f"{where} failed: {_http_answer(exc)}{_said(said)}") from exc

    if response.message == api_class.COMPETITION_SUBMIT_UPLOAD_FAILED_MESSAGE:
        # The client swallows the PUT's status and body; all we have is its verdict and what it printed.
        raise UploadError(
            f"{where} failed: the upload URL Kaggle returned did not accept the file bytes "
            f"(client answer: {response.message!r}; the client does not expose the HTTP status){_said(said)}"
        )
    submission_id = str(response.ref) if response.ref else None
    answer = response.message or "Kaggle accepted the submission"
    if submission_id is not None:
        answer += f" (submission ref {submission_id})"
    return UploadResult("kaggle", True, answer + _said(said), submission_id)


def _kaggle_authenticated(api_class: type, failed: str, said: _ClientOutput):
    """A ``KaggleApi`` on which ``authenticate()`` succeeded.

    ``failed`` starts the error message (``"<what> failed"``). Raises :class:`UploadError` when no
    credentials are found (the client prints a help page and exits; nothing is sent) or when checking an
    access token fails.
    """
    import requests

    api = api_class()
    try:
        api.authenticate()
    except SystemExit as exc:  # authenticate() prints a help page and calls exit(1)
        raise UploadError(
            "No Kaggle credentials found: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), "
            f"or save kaggle.json with your username and key at {api.config} "
            "(create it at https://www.kaggle.com/settings/api), or run `kaggle auth login`."
        ) from exc
    except requests.RequestException as exc:
        raise UploadError(f"{failed} while authenticating: {_http_answer(exc)}{_said(said)}") from exc
    return api


_KAGGLE_HINTS = {
    401: "check KAGGLE_USERNAME/KAGGLE_KEY or kaggle.json",
    403: "accept the competition's rules on its Kaggle page first, and check the daily submission limit",
    404: "check the competition slug and that it still accepts submissions",
}
_kaggle_lock = threading.Lock()
_kaggle_module: ModuleType | None = None


def _kaggle_api_class() -> type:
    """Return ``kaggle.api.kaggle_api_extended.KaggleApi`` without running ``kaggle/__init__.py``.

    ``kaggle/__init__.py`` builds a ``KaggleApi`` and calls ``authenticate()`` at import: it prints a help
    page when no credentials exist and may call the network to check an access token. Importing the
    submodule normally runs that ``__init__`` first (a parent package is always imported first). So,
    unless the real ``kaggle`` package is already imported (then its module is simply reused), this puts
    an unexecuted placeholder module for the ``kaggle`` package in ``sys.modules`` (its ``__path__`` is the
    real one; ``__version__`` is set because the client reads ``kaggle.__version__``), imports the
    submodule under it, then removes every ``kaggle``/``kaggle.*`` entry it added, so a later
    ``import kaggle`` elsewhere loads the complete package exactly as usual. The module is kept here.
    ``KaggleApi``'s class body still runs: it resolves the config directory (``KAGGLE_CONFIG_DIR``,
    ``~/.kaggle`` or ``$XDG_CONFIG_HOME/kaggle``) and creates it if missing, and reads
    ``KAGGLE_API_ENVIRONMENT`` once into ``KaggleApi.args``.

    Raises :class:`MissingDependencyError` when the kaggle package is not installed.
    """
    global _kaggle_module
    name = "kaggle.api.kaggle_api_extended"
    with _kaggle_lock:
        if _kaggle_module is not None:
            return _kaggle_module.KaggleApi
        if "kaggle" in sys.modules:
            _kaggle_module = importlib.import_module(name)
            return _kaggle_module.KaggleApi
        spec = importlib.util.find_spec("kaggle")
        if spec is None:
            raise MissingDependencyError(f"kaggle is not installed; run: {_KAGGLE_INSTALL}")
        placeholder = importlib.util.module_from_spec(spec)  # created, not executed
        placeholder.__version__ = importlib.metadata.version("kaggle")
        before = set(sys.modules)
        sys.modules["kaggle"] = placeholder
        try:
            _kaggle_module = importlib.import_module(name)
        except ImportError as exc:
            raise MissingDependencyError(f"kaggle could not be imported ({exc}); run: {_KAGGLE_INSTALL}") from exc
        finally:
            for added in set(sys.modules) - before:
                if added == "kaggle" or added.startswith("kaggle."):
                    del sys.modules[added]
        return _kaggle_module.KaggleApi


def _http_answer(exc: Exception, hints: dict[int, str] | None = None) -> str:
    """Describe a ``requests`` exception: ``HTTP <status> <reason> from <call>: <body>`` when a response came.

    ``hints`` maps an HTTP status to advice appended in parentheses (default: the upload hints).
    """
    import requests

    response = getattr(exc, "response", None)
    if response is None:
        if isinstance(exc, (requests.ConnectionError, requests.Timeout)):
            return f"could not reach the server: {exc}"
        return f"{type(exc).__name__}: {exc}"
    path = urlsplit(response.url).path if response.url else ""  # no query: it may hold a URL signature
    call = path.rstrip("/").rsplit("/", 1)[-1] or "request"
    body = response.text.strip() or str(exc)
    hint = (_KAGGLE_HINTS if hints is None else hints).get(response.status_code)
    return f"HTTP {response.status_code} {response.reason} from {call}: {body}" + (f" ({hint})" if hint else "")


# ------------------------------------------------------------------------------------ downloads
DOWNLOAD_RECORD = ".kit-download.json"
_KAGGLE_DOWNLOAD_HINTS = {
    401: "check KAGGLE_USERNAME/KAGGLE_KEY or kaggle.json",
    403: "accept the competition's rules on its Kaggle page first (the Rules tab, 'I understand and accept')",
    404: "check the competition slug",
}


def download(platform: str, slug: str, dest: Path, force: bool = False) -> Path:
    """Fetch the files of competition/challenge ``slug`` on ``platform`` into the folder ``dest``; return ``dest``.

    ``platform`` is ``"kaggle"`` (the client's ``competition_download_files``) or ``"aicrowd"`` (every file
    aicrowd-cli's ``dataset download`` would fetch). ``dest`` is created if needed. Downloaded ``.zip``
    archives are extracted into ``dest`` and then deleted, and so are ``.zip`` files found inside them (one
    level; Kaggle often ships ``train.csv.zip`` inside the competition archive). Other files are kept as
    they are. A successful download is recorded in ``dest/.kit-download.json`` (platform, slug, files);
    unless ``force``, a folder whose record names the same platform and slug and whose files are all still
    there is returned at once, without contacting the platform.

    Raises :class:`ParameterError` for an unknown platform or an empty slug; :class:`UploadError`
    (message ``"... download failed: <the platform's answer>"``) when credentials are missing, the
    platform refuses (rules not accepted, unknown slug, not registered), a server cannot be reached or a
    downloaded archive cannot be read; :class:`MissingDependencyError` when the client is not installed.
    """
    if platform not in PLATFORMS:
        raise ParameterError(f"Unknown platform {platform!r}; expected one of {list(PLATFORMS)}")
    slug = _non_empty(slug, "competition" if platform == "kaggle" else "challenge")
    dest = Path(dest)
    if not force and _download_recorded(dest, platform, slug):
        return dest
    if dest.exists() and not dest.is_dir():
        raise UploadError(f"{platform} download of {slug!r} failed: {dest} exists and is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / DOWNLOAD_RECORD).unlink(missing_ok=True)  # a half-finished download must not look complete
    if platform == "kaggle":
        download_kaggle(slug, dest, force=force)
    else:
        download_aicrowd(slug, dest)
    files = sorted(
        str(p.relative_to(dest)) for p in dest.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(dest).parts)
    )
    record = {"platform": platform, "slug": slug, "files": files}
    (dest / DOWNLOAD_RECORD).write_text(json.dumps(record, indent=1) + "\n")
    return dest


def _download_recorded(dest: Path, platform: str, slug: str) -> bool:
    """True when ``dest/.kit-download.json`` records ``platform``/``slug`` and all its files still exist."""
    try:
        record = json.loads((dest / DOWNLOAD_RECORD).read_text())
    except (OSError, ValueError):
        return False
    files = record.get("files") if isinstance(record, dict) else None
    return (
        record.get("platform") == platform and record.get("slug") == slug and isinstance(files, list)
        and bool(files) and all((dest / name).is_file() for name in files)
    )


def download_kaggle(competition: str, dest: Path, force: bool = False) -> None:
    """Download and unzip all files of the Kaggle competition ``competition`` into the folder ``dest``.

    Runs the client's ``competition_download_files`` (``DownloadDataFiles``, which redirects to the
    archive ``<competition>.zip``), then extracts that archive as :func:`download` describes. ``force``
    is passed to the client (without it, the client resumes a partial archive left by an interrupted
    download). Credentials as for :func:`upload_kaggle`. Raises :class:`UploadError` (``"Kaggle competition
    'x': download failed: HTTP 403 ..."``) on any refusal or failure, :class:`MissingDependencyError`
    when the kaggle package is not installed.
    """
    competition = _non_empty(competition, "competition")
    dest = Path(dest)
    import requests

    api_class = _kaggle_api_class()
    failed = f"Kaggle competition {competition!r}: download failed"
    dest.mkdir(parents=True, exist_ok=True)
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, failed, said)
        try:
            api.competition_download_files(competition, path=str(dest), force=force, quiet=True)
        except requests.RequestException as exc:
            raise UploadError(f"{failed}: {_http_answer(exc, _KAGGLE_DOWNLOAD_HINTS)}{_said(said)}") from exc
        except (OSError, ValueError) as exc:  # writing the file; the client's size check raises ValueError
            raise UploadError(f"{failed} while writing into {dest}: {exc}{_said(said)}") from exc
    archives = [
        p for p in dest.iterdir()
        if p.is_file() and p.name.startswith(f"{competition}.") and not p.name.endswith(".kaggle-partial")
    ]
    if not archives:
        raise UploadError(f"{failed}: the client reported success but wrote no {competition}.zip into {dest}"
                          f"{_said(said)}")
    _unpack_archives(archives, dest, failed)


def download_aicrowd(challenge: str, dest: Path) -> None:
    """Download every dataset file of the AIcrowd challenge ``challenge`` into ``dest``; unzip ``.zip`` files.

    The steps of aicrowd-cli's ``download_dataset``: verify the API key (as :func:`upload_aicrowd`
    finds it), resolve the challenge, list its datasets, fetch each ``external_url`` with aicrowd-cli's
    ``Downloader.copy_url`` (which sends the key to the AIcrowd datasets host). Files are fetched one at a
    time in this thread into ``dest/.kit-partial/`` and moved into ``dest`` only when all arrived, because
    ``copy_url`` reports a refused file by logging it and returning. Raises :class:`UploadError`
    (``"AIcrowd challenge 'x': download failed: ..."``, with what the client logged) when the key is
    missing or refused, the challenge is unknown, it lists no files, or a file cannot be fetched (for
    example when you are not registered); :class:`MissingDependencyError` when aicrowd-cli is missing.
    """
    import http.client

    challenge = _non_empty(challenge, "challenge")
    dest = Path(dest)
    api_key, key_source = _aicrowd_api_key()
    _require("aicrowd", _AICROWD_INSTALL)
    import requests
    from aicrowd.challenge.helpers import parse_cli_challenge
    from aicrowd.constants import RAILS_HOST
    from aicrowd.dataset.helpers import Downloader, get_datasets
    from aicrowd.exceptions import CLIException
    from aicrowd_api.auth import verify_api_key

    failed = f"AIcrowd challenge {challenge!r}: download failed"
    staging = dest / ".kit-partial"
    with _captured_client_output() as said:
        try:
            if not verify_api_key(api_key):
                raise UploadError(
                    f"{failed}: AIcrowd refused the API key from {key_source}. Copy your key from "
                    f"https://{RAILS_HOST}/participants/me into AICROWD_API_KEY (or run `aicrowd login`)."
                    f"{_said(said)}"
                )
            challenge_id, _ = parse_cli_challenge(challenge, api_key)
            if challenge_id is None:
                raise UploadError(f"{failed}: AIcrowd knows no challenge {challenge!r}.{_said(said)}")
            datasets = get_datasets(challenge_id, api_key)  # logs the reason and returns [{}] on failure
        except CLIException as exc:
            hint = f" ({exc.fix})" if exc.fix else ""
            raise UploadError(f"{failed}: {exc.message}{hint}{_said(said)}") from exc
        except requests.RequestException as exc:
            raise UploadError(f"{failed}: could not talk to AIcrowd: {exc}{_said(said)}") from exc
        urls = [d["external_url"] for d in datasets if isinstance(d, dict) and d.get("external_url")]
        if not urls:
            raise UploadError(f"{failed}: AIcrowd listed no dataset files for this challenge.{_said(said)}")

        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            downloader = Downloader(1, api_key)
            # copy_url() writes only while a private "active" flag is set, which Downloader.download() sets
            # before handing the files to worker threads (where failures vanish). Fetching here instead, in
            # this thread, lets exceptions propagate and the client's log lines be captured.
            if not hasattr(downloader, "_Downloader__active"):
                raise MissingDependencyError(f"this aicrowd-cli's Downloader is not the expected one; run: "
                                             f"{_AICROWD_INSTALL}")
            downloader._Downloader__active = True
            names = []
            for url in urls:
                name = Path(urlsplit(url).path).name
                if not name or name in names:
                    raise UploadError(f"{failed}: cannot name a file after the URL {url!r}")
                try:
                    downloader.copy_url(name, url, str(staging / name))
                except (OSError, ValueError, TypeError, http.client.HTTPException) as exc:
                    raise UploadError(f"{failed}: fetching {url}: {exc}{_said(said)}") from exc
                if not (staging / name).is_file():  # Downloader logged the HTTP error and returned
                    raise UploadError(f"{failed}: could not fetch {url}.{_said(said)}")
                names.append(name)
            for name in names:
                (staging / name).replace(dest / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _unpack_archives([dest / n for n in names if n.lower().endswith(".zip")], dest, failed)


def _unpack_archives(archives: list[Path], dest: Path, failed: str) -> None:
    """Extract each zip in ``archives`` into ``dest`` and delete it; then the ``.zip`` files they held.

    Member paths are made safe by :meth:`zipfile.ZipFile.extractall` (no absolute paths, no ``..``).
    Raises :class:`UploadError` (starting with ``failed``) for an archive that is not a readable zip;
    that archive is kept for inspection.
    """
    for archive in sorted(archives):
        inner = _extract_zip(archive, dest, failed)
        for nested in inner:
            if nested.is_file():
                _extract_zip(nested, nested.parent, failed)


def _extract_zip(archive: Path, into: Path, failed: str) -> list[Path]:
    """Extract ``archive`` into ``into``, delete it, and return the extracted ``.zip`` members' paths."""
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.namelist() if not m.endswith("/")]
            zipped.extractall(into)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UploadError(f"{failed}: {archive} is not a readable zip archive ({exc}); it was kept as is") from exc
    archive.unlink()
    return [into / m for m in members if m.lower().endswith(".zip")]


# ----------------------------------------------------------------------- Kaggle datasets, kernels
DATASET_READY_TIMEOUT_S = 600.0  # how long push_kaggle_dataset waits for Kaggle to process a version
DATASET_POLL_S = 5.0
_KAGGLE_PUSH_HINTS = {
    401: "check KAGGLE_USERNAME/KAGGLE_KEY or kaggle.json",
    403: "the id's owner must be the user of these credentials",
    404: "check the ids in the metadata file",
}


def kaggle_username() -> str | None:
    """The Kaggle user name of the configured credentials, read without any network call.

    ``KAGGLE_USERNAME`` first, else ``username`` in the client's ``kaggle.json``; ``None`` when neither is
    set (access-token-only logins name the user only after a network call, so they give ``None`` here).
    """
    name = os.environ.get("KAGGLE_USERNAME", "").strip()
    if name:
        return name
    api = _kaggle_api_class()()
    with _captured_client_output():  # the client prints a warning about readable key files
        config = api.read_config_file(quiet=True)
    name = str(config.get("username") or "").strip() if isinstance(config, dict) else ""
    return name or None


def push_kaggle_dataset(folder: Path, version_notes: str) -> str:
    """Upload the folder ``folder`` as a private Kaggle dataset (a new one, or a new version); wait until ready.

    ``folder/dataset-metadata.json`` holds ``id`` (``owner/slug``), ``title`` and ``licenses``; every
    plain file beside it is uploaded (sub-folders are skipped). When Kaggle knows the dataset (its status
    call answers) the client's ``dataset_create_version`` adds a version with ``version_notes``,
    otherwise ``dataset_create_new`` creates it private. Then the status is polled every
    ``DATASET_POLL_S`` seconds until Kaggle reports it ``ready`` (a kernel can only attach a processed
    version). Returns the dataset's ``owner/slug``.

    Raises :class:`UploadError` when the client rejects the metadata, a file upload fails, Kaggle
    answers with an error, processing fails or takes longer than ``DATASET_READY_TIMEOUT_S``.
    """
    import requests

    folder = Path(folder)
    try:
        ref = str(json.loads((folder / "dataset-metadata.json").read_text())["id"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UploadError(f"Kaggle dataset push of {folder} failed: no readable 'id' in "
                          f"{folder / 'dataset-metadata.json'} ({exc}); nothing was sent") from exc
    failed = f"Kaggle dataset push of {folder} to {ref!r} failed"
    api_class = _kaggle_api_class()
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, failed, said)
        try:
            exists = _kaggle_dataset_status(api, ref) is not None
            if exists:
                response = api.dataset_create_version(str(folder), version_notes, quiet=False, dir_mode="skip")
            else:
                response = api.dataset_create_new(str(folder), public=False, quiet=False, dir_mode="skip")
        except requests.RequestException as exc:
            raise UploadError(f"{failed}: {_http_answer(exc, _KAGGLE_PUSH_HINTS)}{_said(said)}") from exc
        except ValueError as exc:  # the client's own checks of dataset-metadata.json
            raise UploadError(f"{failed}: the kaggle client refused {folder / 'dataset-metadata.json'}: {exc}"
                              f"{_said(said)}") from exc
        if "Upload unsuccessful" in said.text():
            raise UploadError(f"{failed}: a file did not reach Kaggle, so the new version may lack it; push again."
                              f"{_said(said)}")
        if response is None or response.error or str(response.status or "").lower() not in ("", "ok"):
            answer = (response.error or response.status) if response is not None else "no answer"
            raise UploadError(f"{failed}: Kaggle answered: {answer}{_said(said)}")
        deadline = time.monotonic() + DATASET_READY_TIMEOUT_S
        while True:
            try:
                status = _kaggle_dataset_status(api, ref)
            except requests.RequestException as exc:
                raise UploadError(f"{failed} while waiting for it to be processed: {_http_answer(exc)}") from exc
            if status == "ready":
                return ref
            if status in ("failed", "deleted"):
                raise UploadError(f"{failed}: Kaggle could not process the new version (status {status!r})")
            if time.monotonic() >= deadline:
                raise UploadError(f"{failed}: still {status!r} after {DATASET_READY_TIMEOUT_S:.0f} s; check "
                                  f"https://www.kaggle.com/datasets/{ref} and push again when it is ready")
            time.sleep(DATASET_POLL_S)


def _kaggle_dataset_status(api, ref: str) -> str | None:
    """The dataset's status in lower case (``"ready"``, ...), or ``None`` when Kaggle answers 404."""
    import requests

    try:
        return str(api.dataset_status(ref)).lower()
    except requests.HTTPError as exc:
        if exc.response is not None and exc.response.status_code == 404:
            return None
        raise


def push_kaggle_kernel(folder: Path) -> str:
    """Push the kernel folder ``folder`` (``kernel-metadata.json`` + its ``code_file``) with ``kernels_push``.

    The client checks the metadata first (title of at least 5 characters, an existing code file, an
    ``owner/slug`` id with a slug of at least 5 characters, language, kernel type, dataset and kernel
    source ids) and sends nothing when a check fails. Returns ``"Kaggle saved version N of <id>: <url>"``,
followed by anything the client printed (such as its warning that the title does not match the id).

    Raises :class:`UploadError` when the client rejects the metadata, Kaggle answers with an HTTP error or
    an ``error`` field, or Kaggle saved the kernel but could not attach one of its sources (listed in the
    message; the kernel would fail on Kaggle without them).
    """
    import requests

    folder = Path(folder)
    failed = f"Kaggle kernel push of {folder} failed"
    api_class = _kaggle_api_class()
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, failed, said)
        try:
            response = api.kernels_push(str(folder))
        except requests.RequestException as exc:
            raise UploadError(f"{failed}: {_http_answer(exc, _KAGGLE_PUSH_HINTS)}{_said(said)}") from exc
        except ValueError as exc:  # the client's checks of kernel-metadata.json; nothing was sent
            raise UploadError(f"{failed}: the kaggle client refused {folder / api_class.KERNEL_METADATA_FILE}: "
                              f"{exc}; nothing was sent{_said(said)}") from exc
    if response is None:
        raise UploadError(f"{failed}: the client returned no answer{_said(said)}")
    if response.error:
        raise UploadError(f"{failed}: Kaggle answered: {response.error}{_said(said)}")
    where = f"version {response.version_number} of {response.ref or folder.name}: {response.url}"
    invalid = {
        "datasets": response.invalid_dataset_sources,
        "competitions": response.invalid_competition_sources,
        "kernels": response.invalid_kernel_sources,
        "models": response.invalid_model_sources,
    }
    invalid = {kind: list(ids) for kind, ids in invalid.items() if ids}
    if invalid:
        listed = "; ".join(f"{kind}: {ids}" for kind, ids in invalid.items())
        raise UploadError(f"Kaggle saved {where} but could not attach these sources, so it cannot run as "
                          f"intended: {listed}. Check the ids and that you may use them (competition rules "
                          f"accepted, dataset processed).{_said(said)}")
    return f"Kaggle saved {where}{_said(said)}"


# -------------------------------------------------------------------------------------- helpers
def _existing_file(path: Path | str, platform: str) -> Path:
    """Return ``path`` as a Path; raise :class:`UploadError` when it is not an existing file."""
    path = Path(path)
    if not path.is_file():
        raise UploadError(f"Cannot upload to {platform}: {path} is not an existing file; nothing was sent.")
    return path


def _non_empty(value: str, what: str) -> str:
    """Return ``value`` stripped; raise :class:`ParameterError` when it is empty."""
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"The {what} slug must be a non-empty string, got {value!r}")
    return value.strip()


def _require(module: str, install: str) -> None:
    """Raise :class:`MissingDependencyError` with ``install`` when ``module`` cannot be found."""
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(f"{module} is not installed; run: {install}")


_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_PROGRESS_BAR = re.compile(r"━|\d%\|")  # rich's bar glyph; tqdm's "45%|"


class _ClientOutput:
    """What a client printed to stdout/stderr and logged (WARNING and above, this thread only)."""

    def __init__(self) -> None:
        self.stream = io.StringIO()
        self.handler = _ThreadLogHandler(threading.get_ident())

    def text(self) -> str:
        """The captured output so far, without ANSI codes, progress bars (rich, tqdm) and blank lines."""
        raw = self.stream.getvalue() + "".join(f"{line}\n" for line in self.handler.lines)
        raw = _ANSI.sub("", raw)
        lines = (line.split("\r")[-1].rstrip() for line in raw.splitlines())
        return "\n".join(line for line in lines if line.strip() and not _PROGRESS_BAR.search(line))


class _ThreadLogHandler(logging.Handler):
    """Keeps the formatted messages of records logged by one thread."""

    def __init__(self, thread_id: int) -> None:
        super().__init__(level=logging.WARNING)
        self.thread_id = thread_id
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self.thread_id:
            self.lines.append(f"{record.levelname}: {record.getMessage()}")


@contextlib.contextmanager
def _captured_client_output() -> Iterator[_ClientOutput]:
    """Capture stdout, stderr and root-logger records (WARNING+) of this thread while the block runs.

    Both clients report HTTP failures by printing or by logging to the root logger (AIcrowd logs the
    reason and body of every failed request), so this is where the platform's answer often is.
    """
    said = _ClientOutput()
    root = logging.getLogger()
    root.addHandler(said.handler)
    try:
        with contextlib.redirect_stdout(said.stream), contextlib.redirect_stderr(said.stream):
            yield said
    finally:
        root.removeHandler(said.handler)


def _said(said: _ClientOutput) -> str:
    """``"\\nClient output:\\n..."`` when the client printed or logged anything, else ``""``."""
    text = said.text()
    return f"\nClient output:\n{text}" if text else ""
