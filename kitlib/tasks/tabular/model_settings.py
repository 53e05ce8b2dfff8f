"""What every tabular model of a run shares: seed, threads, device, the user's parameter overrides, the time
budget and the working folder, in one :class:`ModelSettings` built once and handed down unread.

``params`` maps a model name to the library parameters that override the kit's defaults, e.g.
``{"lightgbm": {"num_leaves": 63}, "catboost": {"depth": 8}}``; the names are the library's own (LightGBM's
``num_leaves``, XGBoost's ``max_depth``, CatBoost's ``depth``, scikit-learn's ``max_leaf_nodes``...), and a name
the library does not know is refused by it, re-raised as ``ParameterError`` naming the model.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...budget import Budget
from ...errors import ParameterError

MODEL_ORDER = ("linear", "lightgbm", "catboost", "xgboost", "hgb", "mlp")  # the order a run evaluates them in
BOOSTERS = ("lightgbm", "xgboost", "catboost")  # the gradient-boosting libraries (kitlib.tasks.tabular.boosters)
DEVICES = ("cpu", "cuda", "auto")  # "cuda:N" names one GPU
INNER_FRACTION = 0.1  # share of a fold's training rows that early stopping watches
REFIT_BELOW = 20_000  # below this many training rows a booster is refit on all of them after early stopping


@dataclass(frozen=True)
class ModelSettings:
    """The settings of a run's tabular models (see the module docstring).

    ``seed``: every model's random seed (boosters, the inner early-stopping split); ``threads``: CPU threads of
    each fit (``0``: all cores); ``device``: ``"cpu"``, ``"cuda"`` (``"cuda:N"``) or ``"auto"`` (the GPU where a
    tiny probe fit works); ``params``: per-model overrides; ``budget``: the run's :class:`~kitlib.budget.Budget`
    (``None``: no limit); ``work_dir``: a folder the libraries may write in (CatBoost's ``train_dir``; ``None``:
    they write nothing); ``inner_fraction`` and ``refit_below``: the early-stopping split and the refit rule.

    Raises ``ParameterError`` for an unknown device or model name, negative threads, a fraction outside (0, 0.5].
    """

    seed: int = 0
    threads: int = 1
    device: str = "cpu"
    params: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    budget: Budget | None = None
    work_dir: str | Path | None = None
    inner_fraction: float = INNER_FRACTION
    refit_below: int = REFIT_BELOW

    def __post_init__(self) -> None:
        if not re.fullmatch(r"cpu|auto|cuda(:\d+)?", str(self.device)):
            raise ParameterError(f"Unknown device {self.device!r}; expected one of {list(DEVICES)} (or cuda:N)")
        if int(self.threads) < 0:
            raise ParameterError(f"threads {self.threads!r}: expected 0 (all cores) or a positive number")
        unknown = sorted(set(self.params) - set(MODEL_ORDER))
        if unknown:
            raise ParameterError(f"Unknown model(s) {unknown} in the model parameters; expected some of "
                                 f"{list(MODEL_ORDER)}")
        if not 0.0 < self.inner_fraction <= 0.5:
            raise ParameterError(f"inner_fraction {self.inner_fraction!r}: expected a share in (0, 0.5]")

    def params_of(self, model: str) -> dict[str, Any]:
        """The user's overrides for ``model`` (a copy; ``{}`` when none)."""
        return dict(self.params.get(model, {}))

    def with_params(self, model: str, params: Mapping[str, Any]) -> ModelSettings:
        """These settings with ``params`` laid over ``model``'s overrides (a tuned model's best trial)."""
        return dataclasses.replace(self, params={**self.params, model: {**self.params_of(model), **params}})

    def cpu_threads(self) -> int:
        """The number of threads to give a library: ``threads``, or every core this process may use for 0."""
        import os

        if self.threads:
            return int(self.threads)
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
