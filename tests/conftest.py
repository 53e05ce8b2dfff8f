"""Shared fixtures: every test writes runs, submissions and the ledger under its own tmp folder, and sees an empty
project folder (KIT_PROJECT_DIR), so no test picks up a user's own competitions/*.toml or notebooks."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(autouse=True)
def kit_project(tmp_path, monkeypatch):
    """An empty project folder for every test (``KIT_PROJECT_DIR``; created when something writes there); a test
    that needs its own sets ``KIT_PROJECT_DIR`` again. Returns its path."""
    project = tmp_path / "kit-project"
    monkeypatch.setenv("KIT_PROJECT_DIR", str(project))
    return project


@pytest.fixture
def kit_dirs(tmp_path, monkeypatch):
    """Point ``runs/`` and ``submissions/`` at tmp folders; returns ``(runs, submissions)``."""
    runs, subs = tmp_path / "runs", tmp_path / "submissions"
    monkeypatch.setenv("KIT_RUNS_DIR", str(runs))
    monkeypatch.setenv("KIT_SUBMISSIONS_DIR", str(subs))
    monkeypatch.delenv("KIT_RUN_DIR", raising=False)
    return runs, subs
