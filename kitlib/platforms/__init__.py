"""Uploads and downloads through the platforms' OFFICIAL clients, one module per platform.

``upload("kaggle" | "aicrowd", path, slug, message)`` sends an already-validated submission file and
returns an :class:`UploadResult` only when the platform said yes; every refusal or failure raises
:class:`~kitlib.errors.UploadError` carrying the platform's answer (HTTP status and body where the client
exposes them) and what the client printed, and an upload whose final call ended without a clear answer raises
:class:`UploadUnknown` (the platform may have the submission). Every client call runs in a child process ended
at a time limit (:mod:`kitlib.platforms.calls`), so no upload hangs.

``download("kaggle" | "aicrowd", slug, dest)`` fetches a competition's files through the same clients,
unzips them in ``dest`` and records the download in ``dest/.kit-download.json``; a failure raises
:class:`~kitlib.errors.DownloadError`. Both errors are :class:`~kitlib.errors.PlatformError`.

- :mod:`kitlib.platforms.kaggle`: the kaggle client (submissions, competition files, dataset and kernel
  pushes for :mod:`kitlib.kernel`).
- :mod:`kitlib.platforms.aicrowd`: aicrowd-cli (submissions, challenge datasets).
- :mod:`kitlib.platforms.client`: what both need (argument checks, captured client output, unzipping).
- :mod:`kitlib.platforms.calls`: an upload's client calls, bounded in time, retried only when safe to repeat.

- :mod:`kitlib.platforms.kaggle_submissions`: a Kaggle competition's submissions, its day's limits (status reads,
  each bounded and tried twice) and code submissions of a kernel version.
- :mod:`kitlib.platforms.dispatch`: ``upload``, ``download`` and ``submission_reader`` (the status reads, where a
  client has them: aicrowd-cli 0.1.18 has none), the table of platforms they choose from.

Adding a platform = one module with ``upload_<name>(path, slug, message, timeout_s)`` and ``download_<name>(slug,
dest, force)`` and a row in ``_CLIENTS`` of :mod:`.dispatch`. Both clients are imported lazily, inside the
functions; importing this package costs nothing.
"""
from __future__ import annotations

from .calls import UploadUnknown
from .client import UploadResult
from .dispatch import DOWNLOAD_RECORD, PLATFORMS, download, submission_reader, upload

__all__ = ["DOWNLOAD_RECORD", "PLATFORMS", "UploadResult", "UploadUnknown", "download", "submission_reader", "upload"]
