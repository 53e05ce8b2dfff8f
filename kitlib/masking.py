"""Keeping credentials out of everything the kit writes: manifests, executed notebooks, logs, the ledger.

:func:`mask` is the one function every writer passes its text through (manifests, the executed notebook and its
live copies, ``kernel.log``, the ledger, error messages). It replaces with ``***``:

- the values of the known credential variables (Kaggle, AIcrowd, wandb, Hugging Face), including those
  :func:`secrets_removed` took out of the environment for a while;
- the secrets registered with :func:`add_secret`, such as the password of a URL-valued parameter
  (:func:`add_url_secrets`: ``-p storage postgresql://user:pa/ss"9@host/db``, parsed the way SQLAlchemy reads it,
  so a password holding ``/``, quotes or spaces is found), each in every form it is written in: raw, JSON-escaped,
  ``repr``-escaped, as papermill injects it into a notebook, percent-encoded, and JSON-escaped once more (a
  notebook's cell source inside the ``.ipynb`` file);
- the password of any URL (``postgresql://user:secret@host`` -> ``postgresql://user:***@host``).

:func:`secrets_removed` keeps the credentials out of a child's environment (``kit run`` starts the notebook's
kernel without them unless the run uploads). Imports only the standard library (SQLAlchemy's URL parser when a
URL is parsed).
"""
from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

SECRET_ENV = ("KAGGLE_KEY", "KAGGLE_API_TOKEN", "AICROWD_API_KEY", "WANDB_API_KEY", "HF_TOKEN",
              "HUGGING_FACE_HUB_TOKEN")
MASK = "***"
MIN_ENV_SECRET = 6  # shorter values of the credential variables are not keys
MIN_SECRET = 4  # a registered secret shorter than this is left to the URL pattern (it would mask common words)
PATH_STORAGES = ("sqlite:", "journal:")  # URL-like values that name a file, not a server with a password
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@\"'<>]+:)(?P<password>[^\s@/\"'<>]+)(?=@)")
_REGISTERED: set[str] = set()  # secrets of this process: add_secret, and the credentials secrets_removed took out


def secret_values() -> list[str]:
    """The secrets to mask now: the credential variables set (6 characters or more), those
    :func:`secrets_removed` holds out of the environment, and those registered with :func:`add_secret`."""
    found = {os.environ[k] for k in SECRET_ENV if len(os.environ.get(k, "")) >= MIN_ENV_SECRET}
    return sorted(found | _REGISTERED, key=len, reverse=True)


def add_secret(value: str) -> None:
    """Mask ``value`` (in each of its written forms) in every text this process writes from now on; values shorter
    than :data:`MIN_SECRET` characters are ignored."""
    if isinstance(value, str) and len(value) >= MIN_SECRET:
        _REGISTERED.add(value)


def url_password(value: str) -> str | None:
    """The password of the URL ``value`` as SQLAlchemy reads it (``make_url``), else ``None``: for a value that
    is not a URL, has no password, or names a file (``sqlite:``, ``journal:``)."""
    if not isinstance(value, str) or "://" not in value or value.startswith(PATH_STORAGES):
        return None
    try:
        from sqlalchemy.engine import make_url

        password = make_url(value.strip()).password
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can read: nothing to find
        return None
    return str(password) if password else None


def add_url_secrets(values: Mapping[str, Any] | Iterable[Any]) -> None:
    """Register (:func:`add_secret`) the password of every URL among ``values`` (a parameter mapping, or any
    iterable of values; lists and dicts inside are searched too), as parsed and as written in the URL."""
    items = values.values() if isinstance(values, Mapping) else values
    for value in items:
        if isinstance(value, (Mapping, list, tuple)):
            add_url_secrets(value)
            continue
        password = url_password(value)
        if password is None:
            continue
        add_secret(password)
        written = _written_password(str(value))
        if written:
            add_secret(written)


def _written_password(url: str) -> str | None:
    """The password as it is written in ``url`` (between the user's ``:`` and the last ``@``), e.g. still
    percent-encoded."""
    rest = url.split("://", 1)[1]
    userinfo = rest.rsplit("@", 1)[0] if "@" in rest else ""
    return userinfo.split(":", 1)[1] if ":" in userinfo else None


def _forms(value: str) -> set[str]:
    """``value`` as the kit's writers may write it: raw, JSON-escaped (ASCII or not), ``repr``-escaped, as papermill
    injects a string parameter, percent-encoded; and each of those JSON-escaped once more (an ``.ipynb`` file
    holds cell sources as JSON strings)."""
    papermill = value.encode("unicode_escape").decode("utf-8").replace('"', '\\"')
    first = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1], repr(value)[1:-1],
             papermill, quote(value, safe=""), quote_plus(value), quote(value)}
    return {f for form in first for f in (form, json.dumps(form)[1:-1], json.dumps(form, ensure_ascii=False)[1:-1])}


def mask(text: str) -> str:
    """``text`` with every secret (:func:`secret_values`, in each written form) and every URL password replaced by
    ``***``."""
    forms = sorted({f for value in secret_values() for f in _forms(value) if f}, key=len, reverse=True)
    for form in forms:
        text = text.replace(form, MASK)
    return _URL_PASSWORD.sub(lambda m: m.group("head") + MASK, text)


@contextlib.contextmanager
def secrets_removed(keep: bool = False) -> Iterator[None]:
    """Remove the credential variables from ``os.environ`` while the block runs (children started in it do
    not inherit them), and put them back afterwards; with ``keep`` nothing is removed. The values removed are
    still masked (:func:`mask`) while they are out of the environment."""
    saved = {} if keep else {k: os.environ.pop(k) for k in SECRET_ENV if k in os.environ}
    held = {v for v in saved.values() if len(v) >= MIN_ENV_SECRET} - _REGISTERED
    _REGISTERED.update(held)
    try:
        yield
    finally:
        os.environ.update(saved)
        _REGISTERED.difference_update(held)
