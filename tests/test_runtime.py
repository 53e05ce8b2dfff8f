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
    assert runtime.amp_dtype_name(torch.device("cpu"), "fp16") is None  # the CPU runs fp32 whatever is asked
    with runtime.autocast(torch.device("cpu")):
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32
    moved = runtime.to_device({"a": [torch.ones(1)], "b": 3}, torch.device("cpu"))
    assert moved["b"] == 3 and moved["a"][0].device.type == "cpu"


def test_main_process_and_a_disabled_progress_bar():
    assert runtime.is_main_process()
    bar = runtime.progress_bar(10, "x", enabled=False)
    assert bar.disable
    bar.close()



def test_progress_bars_are_widgets_only_in_a_kernel_the_user_drives(monkeypatch):
    import sys

    from tqdm.notebook import tqdm_notebook

    had_kernel = "ipykernel" in sys.modules
    import ipykernel  # noqa: F401  (loaded, as inside Jupyter)

    monkeypatch.delenv(runtime.RUN_DIR_ENV, raising=False)
    monkeypatch.delenv(runtime.KAGGLE_RUN_ENV, raising=False)
    try:
        bar = runtime.progress_bar(3, "x")
        assert isinstance(bar, tqdm_notebook)
        bar.close()
        for env, value in ((runtime.RUN_DIR_ENV, "/tmp/run"), (runtime.KAGGLE_RUN_ENV, "Batch")):
            monkeypatch.setenv(env, value)  # kit run's kernel, or a committed Kaggle kernel: text bars
            bar = runtime.progress_bar(3, "x")
            assert not isinstance(bar, tqdm_notebook)
            bar.close()
            monkeypatch.delenv(env)
        monkeypatch.setitem(sys.modules, "tqdm.notebook", None)  # no ipywidgets: text, not an error
        bar = runtime.progress_bar(3, "x")
        assert not isinstance(bar, tqdm_notebook) and not bar.disable
        bar.close()
    finally:
        if not had_kernel:  # later tests in this process are not "in Jupyter"
            sys.modules.pop("ipykernel", None)

GPUS = {  # compute capability, and what is_bf16_supported(including_emulation=False) answers
    "P100": ((6, 0), False), "T4": ((7, 5), False), "V100": ((7, 0), False), "A100": ((8, 0), True),
    "L4": ((8, 9), True), "H100": ((9, 0), True),
}


@pytest.mark.parametrize("gpu, expected", [("P100", "fp16"), ("T4", "fp16"), ("V100", "fp16"), ("A100", "bf16"),
                                           ("L4", "bf16"), ("H100", "bf16")])
def test_auto_picks_bf16_only_where_the_gpu_has_it_natively(monkeypatch, gpu, expected):
    import torch

    capability, native = GPUS[gpu]
    calls = []

    def is_bf16_supported(including_emulation=True):  # as torch answers: emulation counts by default
        calls.append(including_emulation)
        return True if including_emulation else native

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    cuda = torch.device("cuda")
    assert runtime.amp_dtype_name(cuda) == expected == runtime.amp_dtype_name(cuda, True)
    assert all(flag is False for flag in calls)  # never the emulation-counting default
    assert runtime.amp_dtype_name(cuda, "fp16") == "fp16" and runtime.amp_dtype_name(cuda, "bf16") == "bf16"
    assert runtime.amp_dtype_name(cuda, "off") is None and runtime.amp_dtype_name(cuda, False) is None
    with pytest.raises(ParameterError,
                       match=r"Unknown amp_dtype 'fp32'; expected one of \['auto', 'bf16', 'fp16', 'off'\]"):
        runtime.amp_dtype_name(cuda, "fp32")


def test_the_gpu_is_queried_only_when_asked_never_at_import():
    import subprocess
    import sys

    code = (
        "import torch\n"
        "def refuse(*a, **k): raise SystemExit('CUDA was queried')\n"
        "torch.cuda.get_device_capability = torch.cuda.is_bf16_supported = refuse\n"
        "torch.cuda.init = torch.cuda._lazy_init = refuse\n"
        "import kitlib.train, kitlib.embed, kitlib.tasks.token_classification, kitlib.tasks.multiple_choice\n"
        "import kitlib.competitions.somd_ner, kitlib.competitions.llm_science_exam\n"
        "kitlib.runtime.amp_dtype_name(torch.device('cpu'))\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
