"""Which device each gradient-boosting library trains on, and the library parameters that say so.

``device`` is ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"``:

- ``cuda`` maps to LightGBM ``device_type="gpu"`` (the PyPI wheel's OpenCL learner; a CUDA build's
  ``device_type="cuda"`` when OpenCL is absent), XGBoost ``device="cuda"``, CatBoost ``task_type="GPU"``. Where the
  installed build or machine cannot, :func:`device_params` raises ``ParameterError`` saying why, with the command
  that installs a build that can (xgboost-cpu has no CUDA);
- ``auto`` takes the GPU where a tiny probe fit on it works, the CPU otherwise;
- ``cpu`` never touches a GPU.

The probe is run once per library and GPU in a process (:func:`gpu_problem` caches it). Nothing here needs a GPU:
without one, ``auto`` is the CPU and ``cuda`` an error.
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import ParameterError

_PROBED: dict[tuple[str, int], tuple[str | None, str]] = {}  # (library, gpu) -> (why not | None, backend)

INSTALL = {
    "lightgbm": "the PyPI wheel trains on GPUs through OpenCL: install your GPU's OpenCL runtime (NVIDIA: the "
                "driver's OpenCL ICD and ocl-icd-libopencl1), or build LightGBM for CUDA: pip install lightgbm "
                "--no-binary lightgbm --config-settings=cmake.define.USE_CUDA=ON",
    "xgboost": "pip uninstall -y xgboost-cpu && pip install xgboost==3.2.0",
    "catboost": "the PyPI wheel (pip install catboost==1.2.10) trains on NVIDIA GPUs; it needs a driver recent "
                "enough for its CUDA runtime (check nvidia-smi)",
}


def parse_device(device: str) -> tuple[str, int]:
    """``("cpu" | "cuda" | "auto", gpu index)`` of a device string; ``ParameterError`` for anything else."""
    match = re.fullmatch(r"(cpu|auto|cuda)(?::(\d+))?", str(device))
    if not match or (match.group(2) and match.group(1) != "cuda"):
        raise ParameterError(f"Unknown device {device!r}; expected one of ['cpu', 'cuda', 'auto'] (or cuda:N)")
    return match.group(1), int(match.group(2) or 0)


def _xgboost_without_cuda() -> str | None:
    import importlib.metadata

    import xgboost

    if xgboost.build_info().get("USE_CUDA"):
        return None
    try:
        importlib.metadata.version("xgboost-cpu")
        package = "xgboost-cpu"
    except importlib.metadata.PackageNotFoundError:
        package = "xgboost"
    return f"the installed {package} {xgboost.__version__} was built without CUDA"


def _probe_fit(library: str, gpu: int) -> tuple[str | None, str]:
    """Fit a tiny model on GPU ``gpu``: ``(None, backend)`` when it works, ``(why not, "")`` otherwise."""
    import warnings

    import numpy as np

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(64, 3)), rng.normal(size=64)
    if library == "lightgbm":
        import lightgbm

        problems = []
        for backend in ("gpu", "cuda"):
            try:
                lightgbm.train({"device_type": backend, "gpu_device_id": gpu, "verbosity": -1, "num_threads": 1},
                               lightgbm.Dataset(X, y), num_boost_round=2)
                return None, backend
            except Exception as exc:  # noqa: BLE001 - the library's own error is the reason we report
                problems.append(f"device_type={backend!r}: {str(exc).splitlines()[0]}")
        return "; ".join(problems), ""
    if library == "xgboost":
        import xgboost

        why = _xgboost_without_cuda()
        if why:
            return why, ""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                xgboost.train({"device": f"cuda:{gpu}", "nthread": 1}, xgboost.DMatrix(X, y), num_boost_round=2)
            except Exception as exc:  # noqa: BLE001
                return str(exc).splitlines()[0], ""
        fell_back = [str(w.message) for w in caught if "GPU" in str(w.message)]
        return (fell_back[0].strip(), "") if fell_back else (None, "cuda")
    if library == "catboost":
        import catboost

        try:
            catboost.CatBoostRegressor(iterations=2, task_type="GPU", devices=str(gpu), verbose=False,
                                       allow_writing_files=False, thread_count=1).fit(X, y)
            return None, "GPU"
        except Exception as exc:  # noqa: BLE001
            return str(exc).strip().splitlines()[-1], ""
    raise ParameterError(f"Unknown booster {library!r}; expected one of ['lightgbm', 'xgboost', 'catboost']")


def gpu_problem(library: str, gpu: int = 0) -> tuple[str | None, str]:
    """``(None, backend)`` when ``library`` trains on GPU ``gpu`` here (``backend`` is LightGBM's ``device_type``),
    else ``(why not, "")``; the probe fit runs once per process for each library and GPU."""
    key = (library, gpu)
    if key not in _PROBED:
        _PROBED[key] = _probe_fit(library, gpu)
    return _PROBED[key]


def device_params(library: str, device: str) -> dict[str, Any]:
    """The parameters that put ``library`` on ``device`` (``{}`` for the CPU).

    Raises ``ParameterError`` for an unknown device or library, or ``cuda`` where the build or the machine cannot
    train on the GPU (the message says why and what to install)."""
    kind, gpu = parse_device(device)
    if kind == "cpu":
        return {}
    why, backend = gpu_problem(library, gpu)
    if why is not None:
        if kind == "auto":
            return {}
        raise ParameterError(f"device {device!r}: {library} cannot train on the GPU here ({why}); "
                             f"{'run: ' if library == 'xgboost' else ''}{INSTALL[library]}; or use device 'cpu' "
                             f"or 'auto'")
    if library == "lightgbm":
        return {"device_type": backend, "gpu_device_id": gpu}
    if library == "xgboost":
        return {"device": f"cuda:{gpu}"}
    return {"task_type": "GPU", "devices": str(gpu)}


def on_gpu(params: dict[str, Any]) -> bool:
    """True when :func:`device_params` put a library on a GPU."""
    return bool(params)
