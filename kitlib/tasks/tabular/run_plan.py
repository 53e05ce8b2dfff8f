"""What a tabular run does, read from the template's parameters: the models in order, their parameter overrides,
the search, the seeds, the final prediction, the target-encoded columns and the time budget.

The template's knobs are strings and numbers; :meth:`Plan.from_parameters` checks them once and every step
after reads the :class:`Plan`::

    plan = Plan.from_parameters(models="linear,lightgbm,catboost,xgboost,hgb,mlp", search="lightgbm", n_trials=20,
                                n_seeds=1, final="folds", target_encode="", time_limit=900)
    parse_model_params("lightgbm.num_leaves 63,catboost.depth 8,hgb.early_stopping false")
    # {"lightgbm": {"num_leaves": 63}, "catboost": {"depth": 8}, "hgb": {"early_stopping": False}}

A value is typed by what it reads as: ``true``/``false`` a bool, a whole number an int, a number a float, anything
else a string. Errors name the item that is wrong and what is allowed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...budget import Budget
from ...errors import ParameterError
from .model_settings import MODEL_ORDER
from .search_spaces import SPACES

__all__ = ["FINALS", "SMOKE_ROUNDS", "TUNED_SUFFIX", "Plan", "parse_columns", "parse_model_params", "parse_models",
           "parse_value", "tail_seconds"]

FINALS = ("folds", "refit")  # test predictions: the fold models averaged, or one model refit on every row
TUNED_SUFFIX = "_optuna"  # a searched model is kept as <model>_optuna
TAIL_SHARE = 0.04  # share of the time limit kept for the ensemble, the tables and the submission
TAIL_MIN_S, TAIL_MAX_S = 5.0, 60.0
SMOKE_TRIALS = 2  # trials per searched model at most in smoke mode
SMOKE_ROUNDS: dict[str, dict[str, Any]] = {  # round caps and patience in smoke mode, laid over the user's overrides
    "lightgbm": {"num_iterations": 30, "early_stopping_round": 10},
    "xgboost": {"num_boost_round": 30, "early_stopping_rounds": 10},
    "catboost": {"iterations": 30, "early_stopping_rounds": 10},
    "hgb": {"max_iter": 30, "n_iter_no_change": 10},
    "mlp": {"max_epochs": 5, "patience": 2},
}


def parse_columns(text: str, what: str) -> tuple[str, ...]:
    """The comma-separated names in ``text`` (spaces around them dropped, empty items skipped), each once.
    Raises ``ParameterError`` naming ``what`` for a name given twice."""
    names = [part.strip() for part in str(text or "").split(",") if part.strip()]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ParameterError(f"{what}: {twice} given twice in {text!r}; name each once")
    return tuple(names)


def parse_models(text: str, what: str = "models") -> tuple[str, ...]:
    """The comma-separated model names of ``text`` in the order given (``"linear,lightgbm"``). Raises
    ``ParameterError`` for an unknown name or one given twice, listing the known models."""
    names = parse_columns(text, what)
    unknown = [n for n in names if n not in MODEL_ORDER]
    if unknown:
        raise ParameterError(f"Unknown model(s) {unknown} in {what} {text!r}; expected some of {list(MODEL_ORDER)}, "
                             "comma-separated")
    return names


def parse_value(text: str) -> bool | int | float | str:
    """``"true"``/``"false"`` (any case) as a bool, a whole number as an int, a number as a float, else the text."""
    value = str(text).strip()
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def parse_model_params(text: str) -> dict[str, dict[str, Any]]:
    """``"lightgbm.num_leaves 63,catboost.depth 8"`` -> ``{"lightgbm": {"num_leaves": 63}, "catboost": {"depth":
    8}}``: comma-separated items ``<model>.<parameter> <value>`` (values typed by :func:`parse_value`; the
    parameter names are the library's own). Empty text gives ``{}``.

    Raises ``ParameterError`` naming the item for one without a model, parameter or value, an unknown model
    (listing the known ones) or a parameter given twice."""
    out: dict[str, dict[str, Any]] = {}
    for item in (part.strip() for part in str(text or "").split(",")):
        if not item:
            continue
        name, _, value = item.partition(" ")
        model, dot, parameter = name.partition(".")
        if not dot or not model or not parameter or not value.strip():
            raise ParameterError(f"model_params item {item!r}: expected '<model>.<parameter> <value>', e.g. "
                                 f"'lightgbm.num_leaves 63' (items separated by commas)")
        if model not in MODEL_ORDER:
            raise ParameterError(f"model_params item {item!r}: Unknown model {model!r}; expected one of "
                                 f"{list(MODEL_ORDER)}")
        if parameter in out.get(model, {}):
            raise ParameterError(f"model_params item {item!r}: {model}.{parameter} is given twice")
        out.setdefault(model, {})[parameter] = parse_value(value)
    return out


def tail_seconds(time_limit: float) -> float:
    """Seconds of a ``time_limit`` kept after the models and the search, for the ensemble, the run folder's
    tables and the submission: 4% of it, between 5 and 60 s (0 without a limit)."""
    if not time_limit:
        return 0.0
    return min(TAIL_MAX_S, max(TAIL_MIN_S, TAIL_SHARE * time_limit), 0.5 * time_limit)


@dataclass(frozen=True)
class Plan:
    """A run's plan (see the module docstring). ``models``: evaluated in this order; ``params``: per-model
    overrides; ``search``: models tuned by Optuna after them, ``n_trials`` trials each (0: no search); ``n_seeds``:
    each model trained with ``seed``, ``seed + 1``, ... and averaged; ``final``: ``"folds"`` or ``"refit"``;
    ``target_encode``: columns target-encoded inside each fold; ``time_limit``: seconds for the whole run (0: no
    limit). Raises ``ParameterError`` for a value outside its range."""

    models: tuple[str, ...]
    params: dict[str, dict[str, Any]] = field(default_factory=dict)
    search: tuple[str, ...] = ()
    n_trials: int = 0
    n_seeds: int = 1
    final: str = "folds"
    target_encode: tuple[str, ...] = ()
    time_limit: float = 0.0

    def __post_init__(self) -> None:
        if not self.models and not (self.search and self.n_trials):
            raise ParameterError(f"no model to evaluate: name some of {list(MODEL_ORDER)} in models")
        if self.final not in FINALS:
            raise ParameterError(f"Unknown final {self.final!r}; expected one of {list(FINALS)}")
        if int(self.n_seeds) < 1 or int(self.n_trials) < 0:
            raise ParameterError(f"n_seeds must be at least 1 and n_trials at least 0; got n_seeds {self.n_seeds}, "
                                 f"n_trials {self.n_trials}")
        if not math.isfinite(self.time_limit) or self.time_limit < 0:
            raise ParameterError(f"time_limit {self.time_limit!r}: expected seconds >= 0 (0 for no limit)")
        unsearchable = [m for m in self.search if m not in SPACES]
        if unsearchable:
            raise ParameterError(f"search: no search space for {unsearchable}; expected some of {list(SPACES)}")

    @classmethod
    def from_parameters(cls, models: str, model_params: str = "", search: str = "", n_trials: int = 0,
                        n_seeds: int = 1, final: str = "folds", target_encode: str = "", time_limit: float = 0.0,
                        smoke: bool = False) -> Plan:
        """The plan of the template's parameters (strings as the template writes them); ``smoke``: few rounds
        (:data:`SMOKE_ROUNDS`) and at most :data:`SMOKE_TRIALS` trials per searched model. Raises
        ``ParameterError`` naming the parameter and the item that is wrong."""
        params = parse_model_params(model_params)
        if smoke:
            params = {m: {**params.get(m, {}), **SMOKE_ROUNDS.get(m, {})} for m in {*params, *SMOKE_ROUNDS}}
            n_trials = min(int(n_trials), SMOKE_TRIALS)
        return cls(models=parse_models(models), params=params, search=parse_models(search, "search"),
                   n_trials=int(n_trials), n_seeds=int(n_seeds), final=str(final),
                   target_encode=parse_columns(target_encode, "target_encode"), time_limit=float(time_limit or 0))

    @property
    def searched(self) -> tuple[str, ...]:
        """The searched models when there are trials to run (``()`` at ``n_trials`` 0)."""
        return self.search if self.n_trials else ()

    def models_budget(self, budget: Budget) -> Budget:
        """The part of the run's ``budget`` the models and the search may use: all of it but
        :func:`tail_seconds` of the time limit (the whole budget without a limit)."""
        if not budget.limited:
            return budget
        return budget.part(seconds=max(budget.remaining() - tail_seconds(self.time_limit), 1e-9))

    def names(self) -> list[str]:
        """Every model the run may keep, in order: ``models``, then ``<model>_optuna`` per searched model."""
        return [*self.models, *(f"{m}{TUNED_SUFFIX}" for m in self.searched)]
