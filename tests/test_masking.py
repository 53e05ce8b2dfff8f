"""kitlib.masking: one function masks every text the kit writes."""
from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest

from kitlib import masking

PASSWORD = 'pa/ss"9 x'
URL = f"postgresql://kit2:{PASSWORD}@db.example:5432/studies"


@pytest.fixture(autouse=True)
def fresh_registry(monkeypatch):
    monkeypatch.setattr(masking, "_REGISTERED", set())


def test_a_url_password_with_punctuation_is_read_as_sqlalchemy_reads_it():
    assert masking.url_password(URL) == PASSWORD
    assert masking.url_password("postgresql://kit:pa%2Fss@h/db") == "pa/ss"
    assert masking.url_password("sqlite:///runs/x/optuna.db") is None
    assert masking.url_password("journal:/tmp/j.log") is None
    assert masking.url_password("not a url") is None and masking.url_password("postgresql://h/db") is None


@pytest.mark.parametrize("written", [
    PASSWORD,  # raw (printed)
    json.dumps(PASSWORD)[1:-1],  # manifest.json
    repr(PASSWORD)[1:-1],  # a repr in a traceback
    PASSWORD.replace('"', '\\"'),  # as papermill injects it into the parameters cell
    json.dumps(PASSWORD.replace('"', '\\"'))[1:-1],  # ... and that cell inside the .ipynb file
    quote(PASSWORD, safe=""),  # percent-encoded
])
def test_a_registered_url_password_is_masked_in_every_written_form(written):
    masking.add_url_secrets({"storage": URL, "n": 3})
    text = f"before {written} after"
    assert masking.mask(text) == "before *** after"


def test_the_password_as_written_in_the_url_is_masked_too():
    masking.add_url_secrets({"storage": "postgresql://kit:pa%2Fss%40word@h/db"})
    assert masking.mask("url postgresql://kit:pa%2Fss%40word@h/db, printed pa/ss@word") == \
        "url postgresql://kit:***@h/db, printed ***"


def test_credentials_held_out_of_the_environment_are_still_masked(monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    with masking.secrets_removed():
        assert "KAGGLE_KEY" not in os.environ
        assert masking.mask("a live copy printed s3cr3t-kaggle-key") == "a live copy printed ***"
    assert masking.mask("s3cr3t-kaggle-key") == "***"
    monkeypatch.delenv("KAGGLE_KEY")
    assert masking.mask("s3cr3t-kaggle-key") == "s3cr3t-kaggle-key"  # forgotten once back and gone
