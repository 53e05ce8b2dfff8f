"""Models for tabular problems: a linear baseline and scikit-learn's HistGradientBoosting, as fold functions.

Both take the rows through a :class:`Coder` first: every categorical column becomes whole-number codes (as
floats) of the training rows' values, missing values ``NaN``, in one float matrix built a column at a time, so a
1,000,000-row fold is never turned into ten million strings. ``make_model("linear" | "hgb", problem, params,
seed)`` builds the scikit-learn pipeline one target fits on that matrix, :func:`fit_models` codes and fits:

- ``linear``: numeric features median-imputed (with missing indicators) and standardised, categorical ones
  one-hot encoded into a sparse matrix (the ``MAX_ONE_HOT`` most frequent values, the rest as one infrequent
  column; missing as a value of its own), then a logistic regression (``C``) or a ridge regression (``alpha`` is
  ``1 / C``);
- ``hgb``: the codes handed to HistGradientBoosting as categorical (the ``MAX_CATEGORIES - 1`` most frequent
  values of a column, every other value one shared code; missing and unseen values missing), numeric ones as they
  are (it handles missing values itself). The estimator is :func:`coded_hgb`'s: it takes the codes as the
  categories they are, where scikit-learn would code them again through an ``OrdinalEncoder`` in a
  ``ColumnTransformer`` that copies the whole matrix twice (at 1,000,000 x 50, 550 MiB more at the peak).

For RMSLE the regressors fit ``log1p`` of the target and predict ``expm1`` of it, clipped at 0. ``threads``
bounds the OpenMP threads of fitting and predicting (``0``: all cores); one thread is the default because
HistGradientBoosting on a few thousand rows gains little from more, and on a busy machine many threads spin.
:func:`model_fold` wraps them for :func:`kitlib.folds.cross_validate`: class probabilities (all of a target's
labels, in ``labels`` order) or values, for the fold's validation rows and the test rows.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ...errors import ParameterError
from ...folds import FoldResult
from .booster_jobs import categorical_columns, float_codes, floats, pieces
from .problem import Problem

MODELS = ("linear", "hgb")
DEFAULTS = {
    "linear": {"C": 1.0},
    "hgb": {"learning_rate": 0.1, "max_iter": 200, "max_leaf_nodes": 31, "l2_regularization": 0.0,
            "min_samples_leaf": 20},
}
MAX_ONE_HOT = 20  # one-hot columns per categorical feature in the linear model
MAX_CATEGORIES = 255  # HistGradientBoosting's limit (max_bins); rarer values share one code


CODE_ROWS = 20_000  # rows coded and predicted at a time (a network holds a layer's activations for each)


class Coder:
    """A frame's rows as one float64 matrix (filled a column at a time): the categorical columns first, as codes of
    the training rows' values (``NaN`` for a missing value; a value the training rows lack is missing too, or the
    shared code of the rarer values when the column has more than ``max_categories``), then the numeric ones as
    they are. ``categorical``: the columns to code besides every non-numeric one; ``order``: the matrix's memory
    layout, ``"F"`` (column-major) or ``"C"`` (row-major: HistGradientBoosting draws 200,000 rows to bin from with
    ``take``, which on a column-major matrix first copies all of it, 275 MiB more for 720,000 x 50)."""

    def __init__(self, categorical: tuple[str, ...] = (), max_categories: int | None = None, order: str = "F"):
        self.categorical, self.max_categories, self.order = tuple(categorical), max_categories, order

    def fit(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> Coder:
        """Learn each categorical column's values from the rows ``rows`` of ``X`` (positions; ``None``: all), the
        most frequent first (ties by text), at most ``max_categories - 1`` of them when the column has more."""
        self.columns_ = list(X.columns)
        self.cat_columns_ = categorical_columns(X, self.categorical)
        coded = set(self.cat_columns_)
        self.num_columns_ = [c for c in self.columns_ if c not in coded]
        self.categories_, self.other_ = {}, {}
        for c in self.cat_columns_:
            values = X[c] if rows is None else X[c].iloc[rows]
            counts = values.value_counts(dropna=True)
            pairs = [(v, n) for v, n in zip(counts.index.tolist(), counts.tolist()) if n > 0]
            order = [v for v, _ in sorted(pairs, key=lambda p: (-p[1], str(type(p[0])), str(p[0])))]
            if self.max_categories and len(order) > self.max_categories:
                order = order[:self.max_categories - 1]
                self.other_[c] = float(len(order))  # the code every other value shares
            self.categories_[c] = order
        return self

    @property
    def n_categorical(self) -> int:
        return len(self.cat_columns_)

    def transform(self, X: pd.DataFrame, rows: np.ndarray | None = None) -> np.ndarray:
        """The rows ``rows`` of ``X`` (positions; ``None``: all) as the coded matrix."""
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ParameterError(f"the frame lacks the column(s) {missing} the model was fitted on")
        n = len(X) if rows is None else len(rows)
        out = np.empty((n, len(self.columns_)), dtype=np.float64, order=self.order)
        for j, c in enumerate([*self.cat_columns_, *self.num_columns_]):
            values = X[c] if rows is None else X[c].iloc[rows]
            if c in self.categories_:
                codes = float_codes(values, self.categories_[c])
                if c in self.other_:  # a value outside the kept ones, not a missing one
                    codes[np.isnan(codes) & values.notna().to_numpy()] = self.other_[c]
                out[:, j] = codes
            else:
                out[:, j] = floats(values)
        return out


class Coded:
    """A fitted :class:`Coder` and the pipeline fitted on its matrix, used as one estimator on frames:
    ``predict_proba``, ``predict`` and ``classes_`` (``pipeline``: the scikit-learn pipeline)."""

    def __init__(self, coder: Coder, pipeline):
        self.coder, self.pipeline = coder, pipeline

    @property
    def classes_(self):
        return self.pipeline.classes_

    def _each(self, method: str, X: pd.DataFrame) -> np.ndarray:
        parts = [getattr(self.pipeline, method)(self.coder.transform(X, chunk))
                 for chunk in pieces(np.arange(len(X)), CODE_ROWS)]
        return np.concatenate(parts) if parts else getattr(self.pipeline, method)(self.coder.transform(X.head(0)))

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self._each("predict_proba", X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._each("predict", X)


def capped_rows(rows: np.ndarray | int, y: np.ndarray, limit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows (positions; a count: all of them) a model fits and their ``y``: at most ``limit``, drawn from
    ``seed`` (kept in order) when there are more."""
    rows = np.arange(rows) if np.isscalar(rows) else np.asarray(rows)
    if len(rows) <= limit:
        return rows, y
    keep = np.sort(np.random.default_rng(seed).choice(len(rows), limit, replace=False))
    return rows[keep], y[keep]


def coder_for(kind: str, problem: Problem) -> Coder:
    """The :class:`Coder` of a ``kind`` model of ``problem`` (HistGradientBoosting's capped at
    :data:`MAX_CATEGORIES` codes per column, row-major)."""
    return Coder(problem.categorical, MAX_CATEGORIES, "C") if kind == "hgb" else Coder(problem.categorical)


def _preprocess(n_categorical: int, n_columns: int):
    """The linear model's steps on a :class:`Coder` matrix (``n_categorical`` code columns first)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    cat, num = list(range(n_categorical)), list(range(n_categorical, n_columns))
    parts = [("cat", OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=MAX_ONE_HOT,
                                   sparse_output=True), cat),
             ("num", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                   StandardScaler(copy=False)), num)]
    # the one-hot columns stay sparse (a 1,000,000-row set would otherwise be a dense matrix several times its size)
    return ColumnTransformer([p for p in parts if p[2]], sparse_threshold=1.0)


class _CodesAreCategories:
    """HistGradientBoosting on a :class:`Coder` matrix: the ``categorical_features`` columns already hold whole-number
    codes (as floats, ``NaN`` missing), so the fit takes the codes its rows have as the known categories instead of
    coding them again in a copy of the matrix (scikit-learn's ``OrdinalEncoder`` in a ``ColumnTransformer``). The
    bins are the same (each category's rank among the known ones), and a code the fitted rows lack is missing when
    predicting, as scikit-learn's own coding makes it; every other step is scikit-learn's. Anything else (no
    categorical column, a mask that does not fit, a code that is negative or not below ``max_bins``) goes
    scikit-learn's way. ``_preprocess_X`` is scikit-learn's private step: ``test_coded_hgb_matches_scikit_learn``
    holds the fitted predictions to the stock class's, byte for byte, so a scikit-learn that changes the step fails
    there, not in a run."""

    def _preprocess_X(self, X, *, reset):
        from sklearn.utils.validation import validate_data

        mask = self.categorical_features
        usable = (reset and isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype == np.float64 and mask is not None
                  and not isinstance(mask, str) and len(mask) == X.shape[1] and all(isinstance(m, (bool, np.bool_))
                                                                                     for m in mask) and any(mask))
        if not usable:
            return super()._preprocess_X(X, reset=reset)
        mask = np.asarray(mask, dtype=bool)
        known = [None] * X.shape[1]
        for j in np.flatnonzero(mask):
            column = X[:, j]
            codes = np.unique(column[~np.isnan(column)])
            if len(codes) and (codes[0] < 0 or codes[-1] >= self.max_bins or (codes != np.floor(codes)).any()):
                return super()._preprocess_X(X, reset=reset)
            known[j] = codes
        X = validate_data(self, X, dtype=[np.float64], ensure_all_finite=False)
        self.is_categorical_ = mask
        self._preprocessor = None
        self._is_categorical_remapped = mask
        return X, known


def coded_hgb(classification: bool):
    """The HistGradientBoosting class (classifier or regressor) that takes a :class:`Coder` matrix's codes as they
    are (:class:`_CodesAreCategories`): this module's ``CodedHistGradientBoostingClassifier`` or ``...Regressor``,
    made on first use so that importing the module does not import scikit-learn (and found by that name when a
    fitted model is unpickled)."""
    name = "CodedHistGradientBoosting" + ("Classifier" if classification else "Regressor")
    if name not in globals():
        import sklearn.ensemble

        base = getattr(sklearn.ensemble, name.removeprefix("Coded"))
        globals()[name] = type(name, (_CodesAreCategories, base), {"__module__": __name__, "__doc__": base.__doc__})
    return globals()[name]


def __getattr__(name: str):
    if name in ("CodedHistGradientBoostingClassifier", "CodedHistGradientBoostingRegressor"):
        return coded_hgb(name.endswith("Classifier"))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def make_model(kind: str, problem: Problem, params: dict | None = None, seed: int = 0,
               coder: Coder | None = None):
    """An unfitted pipeline for one target of ``problem`` (see the module docstring), taking the matrix of
    ``coder`` (fitted; ``None``: the problem's categorical columns come first, then its numeric ones).

    ``params`` override :data:`DEFAULTS` of the model. Raises ``ParameterError`` for an unknown model or
    parameter (listing the known ones)."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.pipeline import make_pipeline

    if kind not in MODELS:
        raise ParameterError(f"Unknown model {kind!r}; expected one of {list(MODELS)}")
    unknown = sorted(set(params or {}) - set(DEFAULTS[kind]))
    if unknown:
        raise ParameterError(f"Unknown {kind} parameter(s) {unknown}; expected some of {sorted(DEFAULTS[kind])}")
    hp = {**DEFAULTS[kind], **(params or {})}
    n_cat = coder.n_categorical if coder is not None else len(problem.categorical)
    n_columns = len(coder.columns_) if coder is not None else len(problem.categorical) + len(problem.numeric)
    if kind == "linear":
        model = LogisticRegression(C=hp["C"], max_iter=2000) if problem.classification else Ridge(alpha=1.0 / hp["C"])
    else:
        cats = [True] * n_cat + [False] * (n_columns - n_cat) if n_cat else None
        model = coded_hgb(problem.classification)(**hp, categorical_features=cats, random_state=seed)
    if problem.metric == "rmsle":
        model = TransformedTargetRegressor(regressor=model, func=np.log1p, inverse_func=np.expm1, check_inverse=False)
    # HistGradientBoosting takes the coded matrix as it is (no copy in between, nor inside: coded_hgb)
    return make_pipeline(_preprocess(n_cat, n_columns), model) if kind == "linear" else make_pipeline(model)


def _threads(threads: int):
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads or None, user_api="openmp")


def fit_models(kind: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, params: dict | None = None,
               seed: int = 0, threads: int = 1, rows: np.ndarray | None = None) -> list[Coded]:
    """One fitted :func:`make_model` per target, each a :class:`Coded`, on the rows ``rows`` of ``X`` (positions;
    ``None``: all) and their ``y`` (``(len(rows), targets)`` codes or values); the rows are coded once."""
    y = np.asarray(y).reshape(len(y), -1)
    coder = coder_for(kind, problem).fit(X, rows)
    matrix = coder.transform(X, rows)
    with _threads(threads):
        return [Coded(coder, make_model(kind, problem, params, seed, coder).fit(
            matrix, y[:, j].astype(np.int64) if problem.classification else y[:, j]))
            for j in range(len(problem.targets))]


def predict(models: list, problem: Problem, X: pd.DataFrame, threads: int = 1) -> np.ndarray:
    """Predictions of the per-target ``models`` for ``X``, columns as ``problem.columns``: every label's
    probability (0 for a label a fold never saw) or the value (clipped at 0 for RMSLE)."""
    with _threads(threads):
        return _predict(models, problem, X)


def _predict(models: list, problem: Problem, X: pd.DataFrame) -> np.ndarray:
    parts = []
    for model, (_, _, labels) in zip(models, problem.blocks()):
        if problem.classification:
            probs = np.zeros((len(X), len(labels)))
            probs[:, model.classes_.astype(np.int64)] = model.predict_proba(X)
            parts.append(probs)
        else:
            values = model.predict(X).astype(np.float64)
            parts.append((np.clip(values, 0, None) if problem.metric == "rmsle" else values)[:, None])
    return np.hstack(parts)


def model_fold(kind: str, problem: Problem, X: pd.DataFrame, y: np.ndarray, X_test: pd.DataFrame,
               params: dict | None = None, seed: int = 0, threads: int = 1):
    """A fold function for :func:`kitlib.folds.cross_validate`: fits :func:`fit_models` on the fold's training
    rows and predicts its validation rows and ``X_test``; the fold's model is the list of per-target models."""

    def fit_fold(k: int, tr: np.ndarray, va: np.ndarray) -> FoldResult:
        models = fit_models(kind, problem, X.iloc[tr], y[tr], params, seed, threads)
        return FoldResult(val=predict(models, problem, X.iloc[va], threads),
                          test=predict(models, problem, X_test, threads), model=models)

    return fit_fold


def suggest_hgb(trial) -> dict:
    """An Optuna search space over the gradient-boosting knobs (learning rate, leaves, L2, leaf size)."""
    return {"learning_rate": trial.suggest_float("learning_rate", 0.02, 0.3, log=True),
            "max_leaf_nodes": trial.suggest_int("max_leaf_nodes", 8, 128, log=True),
            "l2_regularization": trial.suggest_float("l2_regularization", 1e-6, 10.0, log=True),
            "min_samples_leaf": trial.suggest_int("min_samples_leaf", 5, 100, log=True)}


def permutation_importance(models: list, problem: Problem, X: pd.DataFrame, y: np.ndarray, *, repeats: int = 5,
                           seed: int = 0, threads: int = 1) -> pd.DataFrame:
    """How much the metric worsens when one feature's values are shuffled among the rows of ``X`` (rows the
    ``models`` never saw), ``repeats`` times per feature. Returns ``importance`` (mean loss of score, positive
    when the feature helps, whatever the metric's direction) and ``std`` per feature, most important first."""
    rng = np.random.default_rng(seed)
    sign = 1.0 if problem.mode == "max" else -1.0
    base = problem.score(y, predict(models, problem, X, threads))
    rows = {}
    for column in X.columns:
        losses = []
        for _ in range(repeats):
            shuffled = X.copy()
            shuffled[column] = X[column].to_numpy()[rng.permutation(len(X))]
            losses.append(sign * (base - problem.score(y, predict(models, problem, shuffled, threads))))
        rows[column] = {"importance": float(np.mean(losses)), "std": float(np.std(losses))}
    return pd.DataFrame(rows).T.sort_values("importance", ascending=False)
