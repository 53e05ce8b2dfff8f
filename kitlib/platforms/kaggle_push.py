"""Kaggle dataset and kernel pushes through the official client (used by :mod:`kitlib.kernel`).

:func:`push_kaggle_dataset` and :func:`push_kaggle_kernel` send a dataset folder and a kernel folder through
``dataset_create_new``/``dataset_create_version`` and ``kernels_push``; :func:`kaggle_username` names the
configured user without a network call. Failures raise :class:`~kitlib.errors.UploadError` with Kaggle's answer
and what the client printed.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from ..errors import UploadError
from .client import _captured_client_output, _said
from .kaggle import _http_answer, _kaggle_api_class, _kaggle_authenticated

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


def push_kaggle_dataset(folder: Path, version_notes: str, dir_mode: str = "skip") -> str:
    """Upload the folder ``folder`` as a private Kaggle dataset (a new one, or a new version); wait until ready.

    ``folder/dataset-metadata.json`` holds ``id`` (``owner/slug``), ``title`` and ``licenses``; every file
    beside it is uploaded; sub-folders are skipped (``dir_mode="skip"``) or each sent zipped (``"zip"``). When
    Kaggle knows the dataset (its status call answers) the client's ``dataset_create_version`` adds a version with
    ``version_notes``, otherwise ``dataset_create_new`` creates it private. Then the status is polled every
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
        api = _kaggle_authenticated(api_class, failed, said, UploadError)
        try:
            exists = _kaggle_dataset_status(api, ref) is not None
            if exists:
                response = api.dataset_create_version(str(folder), version_notes, quiet=False, dir_mode=dir_mode)
            else:
                response = api.dataset_create_new(str(folder), public=False, quiet=False, dir_mode=dir_mode)
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


class KernelPush(str):
    """What Kaggle answered to a kernel push, as text, with the kernel's ``ref`` (``owner/slug``, the id its
    ``kernel-metadata.json`` gives) and the ``version`` Kaggle saved (``None`` when it named none)."""

    ref: str
    version: int | None

    def __new__(cls, text: str, ref: str, version: int | None) -> KernelPush:
        pushed = super().__new__(cls, text)
        pushed.ref, pushed.version = ref, version
        return pushed


def push_kaggle_kernel(folder: Path) -> KernelPush:
    """Push the kernel folder ``folder`` (``kernel-metadata.json`` + its ``code_file``) with ``kernels_push``.

    The client checks the metadata first (title of at least 5 characters, an existing code file, an
    ``owner/slug`` id with a slug of at least 5 characters, language, kernel type, dataset and kernel
    source ids) and sends nothing when a check fails. Returns ``"Kaggle saved version N of <id>: <url>"``,
    followed by anything the client printed (such as its warning that the title does not match the id), as a
    :class:`KernelPush` (the kernel's id and the version saved).

    Raises :class:`UploadError` when the client rejects the metadata, Kaggle answers with an HTTP error or
    an ``error`` field, or Kaggle saved the kernel but could not attach one of its sources (listed in the
    message; the kernel would fail on Kaggle without them).
    """
    import requests

    folder = Path(folder)
    failed = f"Kaggle kernel push of {folder} failed"
    api_class = _kaggle_api_class()
    with _captured_client_output() as said:
        api = _kaggle_authenticated(api_class, failed, said, UploadError)
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
    try:
        ref = str(json.loads((folder / api_class.KERNEL_METADATA_FILE).read_text())["id"])
    except (OSError, ValueError, KeyError, TypeError):
        ref = str(response.ref or folder.name)
    version = response.version_number if isinstance(response.version_number, int) else None
    return KernelPush(f"Kaggle saved {where}{_said(said)}", ref, version)

