"""AIcrowd through its official client, aicrowd-cli: submissions and challenge downloads.

- :func:`upload_aicrowd`: the steps ``aicrowd submission create -c C -f F -d D`` runs for a file, each bounded in
  time by :class:`~kitlib.platforms.calls.ClientCalls`.
- :func:`download_aicrowd`: the dataset listing and downloader behind ``aicrowd dataset download``.

Both start alike (:func:`_aicrowd_challenge`): find the API key (``AICROWD_API_KEY``, else aicrowd-cli's
config file), have AIcrowd verify it, resolve the challenge. aicrowd-cli reads ``AICROWD_API_ENDPOINT``
(full URL) and ``RAILS_HOST`` (host[:port], always https) once, when ``aicrowd`` is first imported, so it
is imported inside the functions. Uploads raise :class:`~kitlib.errors.UploadError`, downloads
:class:`~kitlib.errors.DownloadError`, each with AIcrowd's answer and what the client printed or logged.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import DownloadError, MissingDependencyError, PlatformError, UploadError
from .calls import ClientCalls, UploadUnknown, request_failure, transient
from .client import (
    UploadResult,
    _captured_client_output,
    _ClientOutput,
    _existing_file,
    _non_empty,
    _require,
    _said,
    _unpack_archives,
)

_AICROWD_INSTALL = "pip install aicrowd-cli==0.1.18"


def upload_aicrowd(path: Path, challenge: str, message: str = "", timeout_s: float | None = None) -> UploadResult:
    """Submit the file ``path`` to the AIcrowd challenge ``challenge`` with description ``message``.

    ``challenge`` is a slug, a numeric id or a challenge URL, as ``aicrowd submission create -c`` takes.
    The API key comes from ``AICROWD_API_KEY`` or else from aicrowd-cli's config file (written by
    ``aicrowd login``). The steps are those of aicrowd-cli's ``create_submission`` for a file, each a bounded
    call of :class:`~kitlib.platforms.calls.ClientCalls` (limit ``timeout_s``): verify the key, resolve the
    challenge and check registration; ask Rails for a presigned S3 form; POST the file there (these are
    retried when they time out or get no answer); tell Rails about the uploaded key (the final call, never
    repeated). ``create_submission`` itself is not called because it first reads a challenge id from the git
    config of the current directory, which would override ``challenge`` (and then fails on an unbound variable).

    Returns an :class:`UploadResult` whose ``submission_id`` is the id AIcrowd assigned.
    Raises :class:`UploadError` when no API key is set, the key is refused or cannot be checked, the
    challenge is unknown, the user is not registered, a server answers with an error or with JSON of the
    wrong shape, or a server cannot be reached; :class:`~kitlib.platforms.calls.UploadUnknown` when the final
    call ends without a clear answer (no answer in time, Ctrl-C, no submission id in the answer);
    :class:`MissingDependencyError` when aicrowd-cli is not installed.
    """
    path = _existing_file(path, "aicrowd")
    challenge = _non_empty(challenge, "challenge")
    where = f"AIcrowd upload of {path} to challenge {challenge!r}"
    api_key, key_source = _aicrowd_api_key(UploadError)
    from aicrowd.constants import RAILS_HOST

    calls = ClientCalls(where, f"https://{RAILS_HOST}/challenges", timeout_s)
    challenge_id, slug = calls("the key check and challenge lookup", _aicrowd_check, challenge, api_key, key_source,
                               where)
    calls.check = f"https://{RAILS_HOST}/challenges/{slug}/submissions?my_submissions=true"
    host, fields, slug, problem = calls("the request for an upload form", _aicrowd_upload_form, slug, api_key, where)
    s3_key = calls("the upload of the file to AIcrowd's storage", _aicrowd_store, path, host, fields, where)
    submission_id = calls("the submission request", _aicrowd_create, slug, problem, s3_key, api_key, message, where,
                          final=True)
    answer = (f"AIcrowd accepted submission {submission_id} to challenge {slug!r}: "
              f"https://{RAILS_HOST}/challenges/{slug}/submissions/{submission_id}")
    return UploadResult("aicrowd", True, answer + calls.said(), submission_id)


def _aicrowd_check(challenge: str, api_key: str, key_source: str, where: str) -> tuple[int, str]:
    """The key check, the challenge lookup and the registration check: ``(challenge id, slug)``."""
    from aicrowd.submission.helpers import verify_file_submission

    failed = f"{where} failed"
    with _aicrowd_answers(failed, None, UploadError):
        challenge_id, slug = _aicrowd_challenge(challenge, api_key, key_source, failed, None, UploadError)
        verify_file_submission(api_key, challenge_id)
    return challenge_id, slug


def _aicrowd_upload_form(slug: str, api_key: str, where: str) -> tuple[str, dict, str, str | None]:
    """The presigned S3 form: ``(host, fields, challenge slug, problem slug)`` (a meta challenge names both)."""
    from aicrowd.submission.helpers import get_upload_details

    failed = f"{where} failed"
    problem = None
    with _aicrowd_answers(failed, None, UploadError):
        details, ok = get_upload_details(slug, api_key)
        if ok and isinstance(details, dict) and details.get("meta_challenge"):
            slug, problem = details.get("meta_challenge_id"), details.get("challenge_id")
            details, ok = get_upload_details(slug, api_key)
    if not ok:
        said = details.get("message") if isinstance(details, dict) else None
        raise UploadError(f"{failed}: AIcrowd refused the request for an upload form: {said or _shown(details)}")
    if not (isinstance(details, dict) and isinstance(details.get("url"), str)
            and isinstance(details.get("fields"), dict)):
        raise UploadError(f"{failed}: AIcrowd answered the request for an upload form with {_shown(details)}, "
                          f"not a form (url and fields); no submission was created")
    return details["url"], details["fields"], slug, problem


def _aicrowd_store(path: Path, host: str, fields: dict, where: str) -> str:
    """The POST of the file to the presigned form: the S3 key it was stored under."""
    from aicrowd.submission.helpers import upload_submission

    failed = f"{where} failed"
    with _aicrowd_answers(failed, None, UploadError):
        s3_key = upload_submission(host, dict(fields), str(path))
    if s3_key is None:  # the client logged the storage's answer
        raise UploadError(f"{failed}: AIcrowd's storage did not accept the file; no submission was created")
    return s3_key


def _aicrowd_create(slug: str, problem: str | None, s3_key: str, api_key: str, message: str, where: str) -> str:
    """Tell Rails about the uploaded file (the final call): the id AIcrowd gave the submission."""
    import requests
    from aicrowd.exceptions import CLIException
    from aicrowd.submission.helpers import notify_rails_upload

    failed = f"{where} failed"
    try:
        answer = notify_rails_upload(slug, s3_key, api_key, message, problem)
    except CLIException as exc:
        if isinstance(exc.__cause__, json.JSONDecodeError):  # a 200 the client could not read
            raise UploadUnknown(f"{where}: AIcrowd's answer to the submission request is not JSON, so whether "
                                f"the submission was created is unknown") from None
        raise UploadError(f"{failed}: {exc.message}" + (f" ({exc.fix})" if exc.fix else "")) from None
    except requests.RequestException as exc:
        raise request_failure(failed, f"could not talk to AIcrowd: {exc}", exc, final=True) from None
    if isinstance(answer, dict) and answer.get("success") is False:
        raise UploadError(f"{failed}: AIcrowd refused the submission: {answer.get('message') or _shown(answer)}")
    data = answer.get("data") if isinstance(answer, dict) else None
    submission_id = data.get("submission_id") if isinstance(data, dict) else None
    if submission_id is None or not (isinstance(answer, dict) and answer.get("success")):
        raise UploadUnknown(f"{where}: AIcrowd answered the submission request with {_shown(answer)}, without a "
                            f"submission id, so whether the submission was created is unknown")
    return str(submission_id)


def _shown(answer: object) -> str:
    """An answer as JSON, cut to 200 characters."""
    return json.dumps(answer, default=str)[:200]


def download_aicrowd(challenge: str, dest: Path, force: bool = False) -> None:
    """Download every dataset file of the AIcrowd challenge ``challenge`` into ``dest``; unzip ``.zip`` files.

    The steps of aicrowd-cli's ``download_dataset``: verify the API key (as :func:`upload_aicrowd`
    finds it), resolve the challenge, list its datasets, fetch each ``external_url`` with aicrowd-cli's
    ``Downloader.copy_url`` (which sends the key to the AIcrowd datasets host). Files are fetched one at a
    time in this thread into ``dest/.kit-partial/`` and moved into ``dest`` only when all arrived, because
    ``copy_url`` reports a refused file by logging it and returning. ``force`` is there for the signature
    all platforms share: every call fetches each file whole. Raises :class:`DownloadError`
    (``"AIcrowd challenge 'x': download failed: ..."``, with what the client logged) when the key is
    missing or refused, the challenge is unknown, it lists no files, or a file cannot be fetched (for
    example when you are not registered); :class:`MissingDependencyError` when aicrowd-cli is missing.
    """
    import http.client

    challenge = _non_empty(challenge, "challenge")
    dest = Path(dest)
    failed = f"AIcrowd challenge {challenge!r}: download failed"
    api_key, key_source = _aicrowd_api_key(DownloadError)
    from aicrowd.dataset.helpers import Downloader, get_datasets

    staging = dest / ".kit-partial"
    with _captured_client_output() as said:
        with _aicrowd_answers(failed, said, DownloadError):
            challenge_id, _ = _aicrowd_challenge(challenge, api_key, key_source, failed, said, DownloadError)
            datasets = get_datasets(challenge_id, api_key)  # logs the reason and returns [{}] on failure
        urls = [d["external_url"] for d in datasets if isinstance(d, dict) and d.get("external_url")]
        if not urls:
            raise DownloadError(f"{failed}: AIcrowd listed no dataset files for this challenge.{_said(said)}")

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
                    raise DownloadError(f"{failed}: cannot name a file after the URL {url!r}")
                try:
                    downloader.copy_url(name, url, str(staging / name))
                except (OSError, ValueError, TypeError, http.client.HTTPException) as exc:
                    raise DownloadError(f"{failed}: fetching {url}: {exc}{_said(said)}") from exc
                if not (staging / name).is_file():  # Downloader logged the HTTP error and returned
                    raise DownloadError(f"{failed}: could not fetch {url}.{_said(said)}")
                names.append(name)
            for name in names:
                (staging / name).replace(dest / name)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    _unpack_archives([dest / n for n in names if n.lower().endswith(".zip")], dest, failed)


# ------------------------------------------------------------------------ key and challenge lookup
def _aicrowd_api_key(error: type[PlatformError]) -> tuple[str, str]:
    """Return ``(api_key, where_it_came_from)``: ``AICROWD_API_KEY``, else aicrowd-cli's config file.

    The config file is read only if it exists (aicrowd-cli's own loader creates an empty one).
    Raises ``error`` (:class:`UploadError` or :class:`DownloadError`) naming both places when neither
    holds a key; :class:`MissingDependencyError` when aicrowd-cli is not installed.
    """
    _require("aicrowd", _AICROWD_INSTALL)
    key = os.environ.get("AICROWD_API_KEY", "").strip()
    if key:
        return key, "AICROWD_API_KEY"
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
    raise error(
        "No AIcrowd API key found: set the AICROWD_API_KEY environment variable, or run `aicrowd login` "
        f"(it writes {LoginConstants.CONFIG_KEY} to {config_path}). The key is on "
        "https://www.aicrowd.com/participants/me."
    )


def _aicrowd_challenge(challenge: str, api_key: str, key_source: str, failed: str, said: _ClientOutput | None,
                       error: type[PlatformError]) -> tuple[int, str]:
    """Have AIcrowd verify ``api_key`` and resolve ``challenge``; return ``(challenge_id, challenge_slug)``.

    ``failed`` starts the error message (``"<what> failed"``); ``key_source`` says where the key came
    from. Raises ``error`` when AIcrowd refuses the key (HTTP 401/403), cannot check it (any other HTTP error:
    :func:`~kitlib.platforms.calls.transient`, the key may be fine) or knows no such challenge.
    """
    from aicrowd.challenge.helpers import parse_cli_challenge
    from aicrowd.constants import RAILS_HOST
    from aicrowd_api.request import RailsAPI

    checked = RailsAPI(api_key).get("/api_user")  # what aicrowd-cli's verify_api_key asks, with its status kept
    answer = f"HTTP {checked.status_code} {checked.reason} from api_user: {checked.text.strip()[:300]}"
    if checked.status_code in (401, 403):
        raise error(
            f"{failed}: AIcrowd refused the API key from {key_source} ({answer}). Copy your key from "
            f"https://{RAILS_HOST}/participants/me into AICROWD_API_KEY (or run `aicrowd login`)."
            f"{_said(said)}"
        )
    if not checked.ok:
        raise transient(error(f"{failed}: AIcrowd could not check the API key from {key_source} ({answer}); the "
                              f"key was not refused, try again later.{_said(said)}"))
    challenge_id, challenge_slug = parse_cli_challenge(challenge, api_key)
    if challenge_id is None:
        raise error(f"{failed}: AIcrowd knows no challenge {challenge!r}.{_said(said)}")
    return challenge_id, challenge_slug


@contextlib.contextmanager
def _aicrowd_answers(failed: str, said: _ClientOutput | None, error: type[PlatformError]) -> Iterator[None]:
    """Turn aicrowd-cli's ``CLIException`` and ``requests`` failures raised in the block into ``error``.

    The message starts with ``failed``, gives the client's message and fix (or the connection error),
    then what the client printed or logged. A request that got no answer is
    :func:`~kitlib.platforms.calls.transient` (worth another try of a call that is safe to repeat).
    """
    import requests
    from aicrowd.exceptions import CLIException

    try:
        yield
    except CLIException as exc:
        hint = f" ({exc.fix})" if exc.fix else ""
        raise error(f"{failed}: {exc.message}{hint}{_said(said)}") from exc
    except requests.RequestException as exc:
        raise request_failure(failed, f"could not talk to AIcrowd: {exc}{_said(said)}", exc, error=error) from exc
