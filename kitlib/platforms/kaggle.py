"""Kaggle through its official client: submissions, competition downloads, dataset and kernel pushes.

- :func:`upload_kaggle`: the steps of ``KaggleApi.competition_submit`` (StartSubmissionUpload -> PUT of the
  bytes -> CreateSubmission), each bounded in time by :class:`~kitlib.platforms.calls.ClientCalls`.
- :func:`download_kaggle`: ``competition_download_files``, then the archive unzipped in the destination.
- dataset and kernel pushes live in :mod:`kitlib.platforms.kaggle_push` (they share this module's client
  loading and answers).

``import kaggle`` authenticates at import time (and prints a help page when there are no credentials), so
this module loads ``KaggleApi`` without running ``kaggle/__init__.py`` (see :func:`_kaggle_api_class`). Uploads
and pushes raise :class:`~kitlib.errors.UploadError`, downloads :class:`~kitlib.errors.DownloadError`, each with
Kaggle's answer (HTTP status and body, see :func:`_http_answer`) and what the client printed.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

from ..errors import DownloadError, MissingDependencyError, PlatformError, UploadError
from .calls import ClientCalls, UploadUnknown, describe, request_failure, transient
from .client import (
    UploadResult,
    _captured_client_output,
    _ClientOutput,
    _existing_file,
    _non_empty,
    _said,
    _unpack_archives,
)

_KAGGLE_INSTALL = "pip install kaggle==2.2.4 six"


# -------------------------------------------------------------------------------------- uploads
def upload_kaggle(path: Path, competition: str, message: str = "", timeout_s: float | None = None) -> UploadResult:
    """Submit the file ``path`` to the Kaggle competition ``competition`` with description ``message``.

    Credentials are whatever ``KaggleApi.authenticate()`` finds: ``KAGGLE_USERNAME`` + ``KAGGLE_KEY`` (no
    network call), ``KAGGLE_API_TOKEN`` / ``~/.kaggle/access_token``, ``kaggle.json`` in the client's config
    directory, or ``kaggle auth login``. The steps of the client's ``competition_submit`` run as calls of
    :class:`~kitlib.platforms.calls.ClientCalls`, each limited to ``timeout_s``: StartSubmissionUpload and the
    PUT of the bytes (retried when they get no answer), then CreateSubmission (final, never repeated).

    Returns an :class:`UploadResult` with Kaggle's message and its submission ``ref`` as ``submission_id``.
    Raises :class:`UploadError` (no credentials, an HTTP error, Kaggle unreachable, the PUT refused, a call
    before CreateSubmission without a readable answer in time); :class:`~kitlib.platforms.calls.UploadUnknown`
    when CreateSubmission ends unclearly (no answer in time, Ctrl-C, not JSON, neither message nor ref);
    :class:`MissingDependencyError` without the kaggle package.
    """
    path = _existing_file(path, "kaggle")
    competition = _non_empty(competition, "competition")
    _kaggle_api_class()  # a missing client is said here, before any child process
    where = f"Kaggle upload of {path} to competition {competition!r}"
    calls = ClientCalls(where, f"https://www.kaggle.com/competitions/{competition}/submissions", timeout_s)
    token, url = calls("StartSubmissionUpload", _kaggle_start_upload, path, competition, where)
    calls("the PUT of the file bytes", _kaggle_put_bytes, path, url, where)
    answer, ref = calls("CreateSubmission", _kaggle_create_submission, competition, token, message, where, final=True)
    answer = (answer or "Kaggle accepted the submission") + (f" (submission ref {ref})" if ref is not None else "")
    return UploadResult("kaggle", True, answer + calls.said(), ref)


def _kaggle_start_upload(path: Path, competition: str, where: str) -> tuple[str, str]:
    """StartSubmissionUpload (in a child process of :class:`ClientCalls`): ``(blob token, upload URL)``."""
    from kagglesdk.competitions.types.competition_api_service import ApiStartSubmissionUploadRequest

    request = ApiStartSubmissionUploadRequest()
    request.competition_name, request.file_name = competition, path.name
    request.content_length, request.last_modified_epoch_seconds = path.stat().st_size, int(path.stat().st_mtime)
    response, _ = _kaggle_call(where, "start_submission_upload", request)
    if not (response.token and response.create_url):
        raise UploadError(f"{where} failed: StartSubmissionUpload answered without an upload URL and token "
                          f"({response}); no submission was created")
    return response.token, response.create_url


def _kaggle_put_bytes(path: Path, url: str, where: str) -> None:
    """The client's PUT of the file bytes to ``url``; a 503 or an exception of the client is worth another try."""
    status = _kaggle_api_class()().upload_complete(str(path), url, quiet=True)  # the URL is signed: no credentials
    if status != _kaggle_module.ResumableUploadResult.COMPLETE:  # the client swallows the PUT's status and body
        refused = UploadError(f"{where} failed: the upload URL Kaggle returned did not accept the file bytes (the "
                              f"client does not expose the HTTP status); no submission was created")
        raise transient(refused) if status == _kaggle_module.ResumableUploadResult.INCOMPLETE else refused


def _kaggle_create_submission(competition: str, token: str, message: str, where: str) -> tuple[str, str | None]:
    """CreateSubmission (the final call): ``(Kaggle's message, submission ref or None)``; neither is unknown."""
    from kagglesdk.competitions.types.competition_api_service import ApiCreateSubmissionRequest

    request = ApiCreateSubmissionRequest()
    request.competition_name, request.blob_file_tokens = competition, token
    if message:
        request.submission_description = message
    response, body = _kaggle_call(where, "create_submission", request, final=True)
    if not (response.message or response.ref):
        raise UploadUnknown(f"{where}: CreateSubmission answered {body[:200]!r}, without a message or a submission "
                            f"ref, so whether the submission was created is unknown")
    return response.message, str(response.ref) if response.ref else None


def _kaggle_call(where: str, method: str, request, final: bool = False,
                 error: type[PlatformError] = UploadError) -> tuple[object, str]:
    """``(answer, its body)`` of ``competition_api_client.<method>(request)``, with fresh credentials; a failure is
    ``error`` (an upload's by default), see :func:`~kitlib.platforms.calls.request_failure`."""
    import requests

    api = _kaggle_authenticated(_kaggle_api_class(), f"{where} failed", None, error)
    bodies: list[str] = []
    check = api.get_response_processor()  # the client's own check of each answer, after its body is kept

    def keep(answer) -> None:
        bodies.append(answer.text)
        check(answer)

    api.get_response_processor = lambda: keep
    try:
        with api.build_kaggle_client() as kaggle:
            return getattr(kaggle.competitions.competition_api_client, method)(request), "".join(bodies)
    except requests.RequestException as exc:
        name = "".join(word.title() for word in method.split("_"))  # the API's name: CreateSubmission
        answer = _http_answer(exc) if exc.response is not None else f"{name}: {_http_answer(exc)}"
        raise request_failure(f"{where} failed", answer, exc, final=final, error=error) from None


def _kaggle_authenticated(api_class: type, failed: str, said: _ClientOutput | None, error: type[PlatformError]):
    """A ``KaggleApi`` on which ``authenticate()`` succeeded.

    ``failed`` starts the error message (``"<what> failed"``). Raises ``error`` (:class:`UploadError` or
    :class:`DownloadError`, as the caller says) when no credentials are found (the client prints a help
    page and exits; nothing is sent) or when checking an access token fails.
    """
    import requests

    api = api_class()
    try:
        api.authenticate()
    except SystemExit as exc:  # authenticate() prints a help page and calls exit(1)
        raise error(
            "No Kaggle credentials found: set KAGGLE_USERNAME and KAGGLE_KEY (or KAGGLE_API_TOKEN), "
            f"or save kaggle.json with your username and key at {api.config} "
            "(create it at https://www.kaggle.com/settings/api), or run `kaggle auth login`."
        ) from exc
    except requests.RequestException as exc:
        raise error(f"{failed} while authenticating: {_http_answer(exc)}{_said(said)}") from exc
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
    submodule normally runs that ``__init__`` first. So, unless the real ``kaggle`` package is already
    imported (then its module is reused), this puts an unexecuted placeholder for the ``kaggle`` package in
    ``sys.modules`` (its ``__path__`` is the real one; ``__version__`` is set because the client reads it),
    imports the submodule under it, then removes every ``kaggle``/``kaggle.*`` entry it added, so a later
    ``import kaggle`` loads the complete package as usual. The module is kept here. ``KaggleApi``'s class
    body still runs: it resolves the config directory (``KAGGLE_CONFIG_DIR``, ``~/.kaggle`` or
    ``$XDG_CONFIG_HOME/kaggle``), creates it if missing, and reads ``KAGGLE_API_ENVIRONMENT`` into ``args``.

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
        return describe(exc)
    path = urlsplit(response.url).path if response.url else ""  # no query: it may hold a URL signature
    call = path.rstrip("/").rsplit("/", 1)[-1] or "request"
    body = response.text.strip() or str(exc)
    hint = (_KAGGLE_HINTS if hints is None else hints).get(response.status_code)
    return f"HTTP {response.status_code} {response.reason} from {call}: {body}" + (f" ({hint})" if hint else "")


# ------------------------------------------------------------------------------------ downloads
_KAGGLE_DOWNLOAD_HINTS = {
    401: "check KAGGLE_USERNAME/KAGGLE_KEY or kaggle.json",
    403: "accept the competition's rules on its Kaggle page first (the Rules tab, 'I understand and accept')",
    404: "check the competition slug",
}


def download_kaggle(competition: str, dest: Path, force: bool = False) -> None:
    """Download and unzip all files of the Kaggle competition ``competition`` into the folder ``dest``.

    Runs the client's ``competition_download_files`` (``DownloadDataFiles``, which redirects to the
    archive ``<competition>.zip``), then extracts that archive as :func:`kitlib.platforms.download`
    describes. ``force`` is passed to the client (without it, the client resumes a partial archive left by
    an interrupted download). Credentials as for :func:`upload_kaggle`. Raises :class:`DownloadError`
    (``"Kaggle competition 'x': download failed: HTTP 403 ..."``) on any refusal or failure,
    :class:`MissingDependencyError` when the kaggle package is not installed.
    """
    competition = _non_empty(competition, "competition")
    dest = Path(dest)
    import requests

    api_class = _kaggle_api_class()
    failed = f"Kaggle competition {competition!r}: download failed"
    dest.mkdir(parents=True, exist_ok=True)
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, failed, said, DownloadError)
        try:
            api.competition_download_files(competition, path=str(dest), force=force, quiet=True)
        except requests.RequestException as exc:
            raise DownloadError(f"{failed}: {_http_answer(exc, _KAGGLE_DOWNLOAD_HINTS)}{_said(said)}") from exc
        except (OSError, ValueError) as exc:  # writing the file; the client's size check raises ValueError
            raise DownloadError(f"{failed} while writing into {dest}: {exc}{_said(said)}") from exc
    archives = [
        p for p in dest.iterdir()
        if p.is_file() and p.name.startswith(f"{competition}.") and not p.name.endswith(".kaggle-partial")
    ]
    if not archives:
        raise DownloadError(f"{failed}: the client reported success but wrote no {competition}.zip into {dest}"
                            f"{_said(said)}")
    _unpack_archives(archives, dest, failed)
