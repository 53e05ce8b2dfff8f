"""Keeping credentials out of everything the kit writes: manifests, executed notebooks, logs, the ledger.

:func:`mask` replaces the values of the known credential variables (Kaggle, AIcrowd, wandb, Hugging Face)
and the password of any URL (``postgresql://user:secret@host`` -> ``postgresql://user:***@host``) with
``***``; every writer of a run folder passes its text through it. :func:`secrets_removed` keeps the
credentials out of a child's environment (``kit run`` starts the notebook's kernel without them unless
the run uploads). Imports only the standard library.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator

SECRET_ENV = ("KAGGLE_KEY", "KAGGLE_API_TOKEN", "AICROWD_API_KEY", "WANDB_API_KEY", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN")
MASK = "***"
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"'<>]+:)(?P<password>[^\s@/\"'<>]+)(?=@)")


def secret_values() -> list[str]:
    """The values of the credential variables set now (6 characters or more: shorter ones are not keys)."""
    return [os.environ[k] for k in SECRET_ENV if len(os.environ.get(k, "")) >= 6]


def mask(text: str) -> str:
    """``text`` with every known credential value and every URL password replaced by ``***``."""
    for value in secret_values():
        text = text.replace(value, MASK)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


@contextlib.contextmanager
def secrets_removed(keep: bool = False) -> Iterator[None]:
    """Remove the credential variables from ``os.environ`` while the block runs (children started in it do
    not inherit them), and put them back afterwards; with ``keep`` nothing is removed."""
    saved = {} if keep else {k: os.environ.pop(k) for k in SECRET_ENV if k in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)
