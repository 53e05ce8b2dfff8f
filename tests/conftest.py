"""Shared fixtures: every test writes runs, submissions and the ledger under its own tmp folder."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def kit_dirs(tmp_path, monkeypatch):
    """Point ``runs/`` and ``submissions/`` at tmp folders; returns ``(runs, submissions)``."""
    runs, subs = tmp_path / "runs", tmp_path / "submissions"
    monkeypatch.setenv("KIT_RUNS_DIR", str(runs))
    monkeypatch.setenv("KIT_SUBMISSIONS_DIR", str(subs))
    monkeypatch.delenv("KIT_RUN_DIR", raising=False)
    return runs, subs
