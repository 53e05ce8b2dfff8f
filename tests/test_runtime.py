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


def test_seed_everything_repeats_numpy_and_torch():
    import torch

    runtime.seed_everything(5)
    a = (np.random.rand(3), torch.rand(3))
    runtime.seed_everything(5)
    b = (np.random.rand(3), torch.rand(3))
    np.testing.assert_array_equal(a[0], b[0])
    assert torch.equal(a[1], b[1])


def test_devices_and_autocast_on_the_cpu():
    import torch

    assert runtime.resolve_device("cpu") == torch.device("cpu")
    assert runtime.resolve_device(torch.device("cpu")) == torch.device("cpu")
    assert runtime.resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert runtime.amp_dtype_name(torch.device("cpu")) is None
    with runtime.autocast(torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    moved = runtime.to_device({"a": [torch.ones(1)], "b": 3}, torch.device("cpu"))
    assert moved["b"] == 3 and moved["a"][0].device.type == "cpu"


def test_main_process_and_a_disabled_progress_bar():
    assert runtime.is_main_process()
    bar = runtime.progress_bar(10, "x", enabled=False)
    assert bar.disable
    bar.close()
