"""kitlib.runtime: Kaggle paths, devices, seeds, the main-process check."""
from pathlib import Path

import numpy as np
import pytest

from kitlib import runtime
from kitlib.errors import ParameterError


def test_kaggle_output_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAGGLE_KERNEL_RUN_TYPE", raising=False)
    monkeypatch.setattr(runtime, "KAGGLE_WORKING", tmp_path)
    assert runtime.kaggle_output_path("submission.csv") is None  # not on Kaggle: nothing outside the project

    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert runtime.kaggle_output_path("submission.csv") == tmp_path / "submission.csv"
    monkeypatch.setattr(runtime, "KAGGLE_WORKING", tmp_path / "missing")
    assert runtime.kaggle_output_path("submission.csv") is None
    with pytest.raises(ParameterError, match=r"plain file name .* got '../submission.csv'"):
        runtime.kaggle_output_path("../submission.csv")
