"""``upload`` and ``download`` through the platform a competition names: the table of platforms (one row per
client module) and the checks and the download record that are the same for all of them."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import DownloadError, ParameterError
from .aicrowd import download_aicrowd, upload_aicrowd
from .client import UploadResult, _non_empty
from .kaggle import download_kaggle, upload_kaggle
from .kaggle_submissions import KaggleSubmissions

__all__ = ["DOWNLOAD_RECORD", "PLATFORMS", "download", "submission_reader", "upload"]

DOWNLOAD_RECORD = ".kit-download.json"


@dataclass(frozen=True)
class _Client:
    """One platform's entry points and what it calls the thing a slug names."""

    upload: Callable[[Path, str, str, float | None], UploadResult]
    download: Callable[[str, Path, bool], None]
    slug_names: str  # "competition" or "challenge", for error messages
    status: Callable[[str, float | None], KaggleSubmissions] | None = None  # status reads, where a client has them
    no_status: str = ""  # why a client without status reads has none


_CLIENTS = {
    "aicrowd": _Client(upload_aicrowd, download_aicrowd, "challenge", no_status=(
        "aicrowd-cli 0.1.18 has no call for a submission's status or score")),
    "kaggle": _Client(upload_kaggle, download_kaggle, "competition", KaggleSubmissions),
}
PLATFORMS = tuple(_CLIENTS)


def _client(platform: str) -> _Client:
    """The table row of ``platform``; raise :class:`ParameterError` listing the known ones otherwise."""
    if platform not in _CLIENTS:
        raise ParameterError(f"Unknown platform {platform!r}; expected one of {list(PLATFORMS)}")
    return _CLIENTS[platform]


def upload(platform: str, path: Path, slug: str, message: str = "", timeout_s: float | None = None) -> UploadResult:
    """Upload ``path`` to competition/challenge ``slug`` on ``platform``.

    ``platform`` is one of ``"aicrowd"``, ``"kaggle"``; ``message`` becomes the submission's
    description; ``timeout_s`` limits each client call (default ``$KIT_UPLOAD_TIMEOUT_S``, else
    :data:`kitlib.platforms.calls.UPLOAD_TIMEOUT_S`). Returns the :class:`UploadResult` of
    :func:`~kitlib.platforms.aicrowd.upload_aicrowd` / :func:`~kitlib.platforms.kaggle.upload_kaggle`.
    Raises :class:`ParameterError` for an unknown platform, :class:`~kitlib.errors.UploadError` when the
    upload fails and :class:`~kitlib.platforms.calls.UploadUnknown` when its outcome is unknown.
    """
    return _client(platform).upload(path, slug, message, timeout_s)


def submission_reader(platform: str, slug: str, timeout_s: float | None = None) -> KaggleSubmissions:
    """The status reads of competition ``slug`` on ``platform`` (:class:`~kitlib.platforms.kaggle_submissions.
    KaggleSubmissions`: its submissions, one submission, the day's limits), each within ``timeout_s`` (else
    ``KIT_LB_TIMEOUT_S``). Raises :class:`ParameterError` for an unknown platform and
    :class:`~kitlib.errors.PlatformError` saying why for a client without such calls (aicrowd-cli)."""
    from ..errors import PlatformError

    client = _client(platform)
    if client.status is None:
        raise PlatformError(f"{platform}: {client.no_status}")
    return client.status(_non_empty(slug, client.slug_names), timeout_s)


def download(platform: str, slug: str, dest: Path, force: bool = False) -> Path:
    """Fetch the files of competition/challenge ``slug`` on ``platform`` into the folder ``dest``; return ``dest``.

    ``platform`` is ``"kaggle"`` (the client's ``competition_download_files``) or ``"aicrowd"`` (every file
    aicrowd-cli's ``dataset download`` would fetch). ``dest`` is created if needed. Downloaded ``.zip``
    archives are extracted into ``dest`` and then deleted, and so are ``.zip`` files found inside them (one
    level; Kaggle often ships ``train.csv.zip`` inside the competition archive). Other files are kept as
    they are. A successful download is recorded in ``dest/.kit-download.json`` (platform, slug, files);
    unless ``force``, a folder whose record names the same platform and slug and whose files are all still
    there is returned at once, without contacting the platform.

    Raises :class:`ParameterError` for an unknown platform or an empty slug; :class:`DownloadError`
    (message ``"... download failed: <the platform's answer>"``) when credentials are missing, the
    platform refuses (rules not accepted, unknown slug, not registered), a server cannot be reached or a
    downloaded archive cannot be read; :class:`~kitlib.errors.MissingDependencyError` when the client is
    not installed.
    """
    client = _client(platform)
    slug = _non_empty(slug, client.slug_names)
    dest = Path(dest)
    if not force and _download_recorded(dest, platform, slug):
        return dest
    if dest.exists() and not dest.is_dir():
        raise DownloadError(f"{platform} download of {slug!r} failed: {dest} exists and is not a folder")
    dest.mkdir(parents=True, exist_ok=True)
    (dest / DOWNLOAD_RECORD).unlink(missing_ok=True)  # a half-finished download must not look complete
    client.download(slug, dest, force)
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
