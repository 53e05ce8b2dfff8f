"""kitlib.tasks.tabular boosters: LightGBM, XGBoost and CatBoost fold functions, their early stopping inside the
fold's training rows, the refit rule, reproducibility, threads, devices, the time budget and user parameters.
Tiny sets and few rounds; the 1,000-row 4-class check runs the real defaults."""
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tabular_sets import KINDS, write_kaggle_set

from kitlib import folds as kfolds
from kitlib.budget import Budget
from kitlib.errors import ParameterError
from kitlib.scaffold import infer
from kitlib.tasks import tabular
from kitlib.tasks.tabular import booster_devices, booster_jobs, boosters, early_stopping, fold_functions, models
from kitlib.tasks.tabular.fold_functions import MODEL_ORDER, final_rounds, fit_full, fold_function
from kitlib.tasks.tabular.model_settings import BOOSTERS, ModelSettings
from kitlib.tasks.tabular.models import Coder

QUICK = {"lightgbm": {"num_iterations": 40, "early_stopping_round": 10, "num_leaves": 7},
         "xgboost": {"num_boost_round": 40, "early_stopping_rounds": 10, "max_depth": 3},
         "catboost": {"iterations": 40, "early_stopping_rounds": 10, "depth": 3},
         "hgb": {"max_iter": 40, "n_iter_no_change": 10}}


def quick(**kwargs) -> ModelSettings:
    return ModelSettings(params={**QUICK, **kwargs.pop("params", {})}, **kwargs)


def kaggle_set(tmp_path, kind: str, n: int = 240, seed: int = 0):
    folder = write_kaggle_set(tmp_path / kind, kind, n, 40, seed=seed)
    problem = infer(folder).problem
    return problem, tabular.load(problem, folder)


def run_cv(model, problem, data, settings, n_folds=2, only=None):
    folds = kfolds.assign_folds(len(data.y), n_splits=n_folds, stratify=problem.stratify(data.y), seed=0)
    fit_fold = fold_function(model, problem, data.X, data.y, data.X_test, settings)
    return kfolds.cross_validate(fit_fold, folds, score=lambda idx, pred: problem.score(data.y[idx], pred),
                                 only=only), folds


# ------------------------------------------------------------------------------------------- every kind
@pytest.mark.parametrize("library", BOOSTERS)
@pytest.mark.parametrize("kind", KINDS)
def test_each_booster_predicts_every_kind(tmp_path, library, kind):
    problem, data = kaggle_set(tmp_path, kind)
    cv, folds = run_cv(library, problem, data, quick(), only=[0])
    rows = folds == 0
    val = cv.oof[rows]
    assert val.shape == (rows.sum(), len(problem.columns)) and cv.test.shape == (40, len(problem.columns))
    assert np.isfinite(val).all() and np.isfinite(cv.test).all()
    for _, cols, _ in problem.blocks():
        if problem.classification:
            np.testing.assert_allclose(val[:, cols].sum(axis=1), 1.0, atol=1e-6)
            np.testing.assert_allclose(cv.test[:, cols].sum(axis=1), 1.0, atol=1e-6)
    info = cv.infos[0]
    assert set(info) >= {"best_iteration", "rounds", "n_fit", "refit", "stopped", "seconds"}
    assert len(info["best_iteration"]) == len(problem.targets) and all(r >= 1 for r in info["rounds"])
    assert info["refit"] == [True] * len(problem.targets) and not info["stopped"]
    if problem.classification and problem.metric == "roc_auc":
        assert cv.fold_scores[0] > 0.7  # the generated signal is strong: anything learned shows


@pytest.mark.parametrize("model", ["linear", "hgb"])
def test_linear_and_hgb_go_through_the_same_fold_functions(tmp_path, model):
    problem, data = kaggle_set(tmp_path, "multi-target")
    cv, _ = run_cv(model, problem, data, quick())
    assert cv.oof.shape == (240, 4) and np.isfinite(cv.oof).all()
    if model == "hgb":  # its own early stopping: n_iter_no_change rounds past the best, best recorded
        info = cv.infos[0]
        assert all(b <= r <= 40 for b, r in zip(info["best_iteration"], info["rounds"], strict=True))
        assert info["n_fit"] == [108, 108]  # 90% of the fold's 120 training rows
    else:
        assert cv.infos[0]["best_iteration"] is None and final_rounds(cv.infos, 240) is None


def test_the_coder_gives_the_training_rows_codes_in_one_float_matrix():
    X = pd.DataFrame({"x": [1.5, np.nan, 3.0, 4.0, 5.0, 6.0],
                      "colour": pd.Categorical(["red", "blue", "red", None, "green", "violet"]),
                      "size": ["s", "m", "m", "l", "xl", "m"]})
    coder = Coder(("size",)).fit(X, np.array([0, 1, 2, 3]))  # the first four rows are the training rows
    assert coder.cat_columns_ == ["colour", "size"] and coder.categories_["colour"] == ["red", "blue"]
    assert coder.categories_["size"] == ["m", "l", "s"]  # most frequent first, ties by text
    matrix = coder.transform(X)
    assert matrix.dtype == np.float64 and matrix.flags.f_contiguous and matrix.shape == (6, 3)
    np.testing.assert_array_equal(matrix[:, 0], [0, 1, 0, np.nan, np.nan, np.nan])  # missing, unseen: NaN
    np.testing.assert_array_equal(matrix[:, 1], [2, 0, 0, 1, np.nan, 0])
    np.testing.assert_array_equal(matrix[:, 2], X["x"])  # numbers as they are, after the codes
    np.testing.assert_array_equal(coder.transform(X, np.array([4, 1])), matrix[[4, 1]])
    assert Coder(("size",), order="C").fit(X).transform(X).flags.c_contiguous
    capped = Coder((), max_categories=2).fit(X)  # HistGradientBoosting's cap: the rest share one code
    assert capped.categories_["colour"] == ["red"] and capped.categories_["size"] == ["m"]
    np.testing.assert_array_equal(capped.transform(X)[:, :2], [[0, 1], [1, 0], [0, 0], [np.nan, 1], [1, 1], [1, 0]])
    with pytest.raises(ParameterError, match=r"lacks the column\(s\) \['size'\]"):
        coder.transform(X.drop(columns=["size"]))


@pytest.mark.parametrize("classification", [True, False])
def test_coded_hgb_matches_scikit_learn(classification):
    """The HistGradientBoosting that takes the Coder's codes as they are fits and predicts what the stock class
    does on the same matrix, byte for byte (with a watched split, missing codes and numbers, a code absent from the
    fitted rows and one only in rows predicted, a pickle round trip),
    without the stock class's copy (no preprocessor); codes beyond ``max_bins`` and no categorical column go the stock
    way."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = np.empty((900, 5), order="F")
    X[:, 0], X[:, 1], X[:, 2:] = rng.integers(0, 6, 900), rng.integers(0, 30, 900), rng.normal(size=(900, 3))
    X[rng.random(900) < 0.1, 0], X[rng.random(900) < 0.1, 3] = np.nan, np.nan
    fitted = X[:800, 1]  # a view: codes 7 and 29 only in rows the fit never sees (missing when predicting)
    fitted[(fitted == 7) | (fitted == 29)] = 8
    X[850:, 1] = np.where(rng.random(50) < 0.5, rng.choice([7.0, 29.0], 50), X[850:, 1])
    y = X[:, 2] + np.nan_to_num(X[:, 0]) % 3 + rng.normal(size=900)
    y = (y > 1).astype(int) if classification else y
    stock_cls = HistGradientBoostingClassifier if classification else HistGradientBoostingRegressor
    settings = {"categorical_features": [True, True, False, False, False], "random_state": 0, "max_iter": 60,
                "early_stopping": True}
    watched = {"X_val": X[700:800], "y_val": y[700:800]}
    stock = stock_cls(**settings).fit(X[:700], y[:700], **watched)
    coded = models.coded_hgb(classification)(**settings).fit(X[:700], y[:700], **watched)
    assert coded._preprocessor is None and stock._preprocessor is not None
    assert isinstance(coded, stock_cls) and coded.n_iter_ == stock.n_iter_
    method = "predict_proba" if classification else "predict"
    np.testing.assert_array_equal(getattr(coded, method)(X), getattr(stock, method)(X))
    again = pickle.loads(pickle.dumps(coded))
    np.testing.assert_array_equal(getattr(again, method)(X[800:]), getattr(stock, method)(X[800:]))
    X[0, 1] = 300  # a code beyond max_bins: scikit-learn's own way (which codes the values again)
    coded = models.coded_hgb(classification)(**settings).fit(X[:700], y[:700], **watched)
    stock = stock_cls(**settings).fit(X[:700], y[:700], **watched)
    assert coded._preprocessor is not None
    np.testing.assert_array_equal(getattr(coded, method)(X), getattr(stock, method)(X))
    plain = models.coded_hgb(classification)(random_state=0, max_iter=5).fit(X[:700, 2:], y[:700])
    assert plain._preprocessor is None and plain.is_categorical_ is None


def test_the_linear_model_fits_at_most_linear_rows_rows_and_predicts_them_all(tmp_path, monkeypatch):
    problem, data = kaggle_set(tmp_path, "binary")
    whole, _ = run_cv("linear", problem, data, quick(), only=[0])
    monkeypatch.setattr(fold_functions, "LINEAR_ROWS", 50)
    capped, folds = run_cv("linear", problem, data, quick(), only=[0])
    assert whole.infos[0]["n_fit"] == [120] and capped.infos[0]["n_fit"] == [50]
    assert capped.test.shape == (40, 2) and np.isfinite(capped.oof[folds == 0]).all()
    assert not np.allclose(capped.test, whole.test)  # fewer rows: another model
    again, _ = run_cv("linear", problem, data, quick(), only=[0])
    np.testing.assert_array_equal(again.test, capped.test)  # the same rows from the same seed


@pytest.mark.parametrize("kind", KINDS)
def test_the_network_predicts_every_kind_and_stops_on_its_watched_rows(tmp_path, kind):
    problem, data = kaggle_set(tmp_path, kind)
    settings = quick(params={"mlp": {"width": 32, "max_epochs": 30, "patience": 3}})
    cv, folds = run_cv("mlp", problem, data, settings)
    assert cv.oof.shape == (240, len(problem.columns)) and cv.test.shape == (40, len(problem.columns))
    assert np.isfinite(cv.oof).all() and np.isfinite(cv.test).all()
    for _, cols, _ in problem.blocks():
        if problem.classification:
            np.testing.assert_allclose(cv.oof[:, cols].sum(axis=1), 1.0, atol=1e-6)
    for info in cv.infos:  # epochs as rounds: the best one kept, stopped 3 epochs after it or at the cap
        assert all(1 <= b <= r <= 30 and (r - b == 3 or r == 30)
                   for b, r in zip(info["best_iteration"], info["rounds"], strict=True))
        assert info["n_fit"] == [108] * len(problem.targets) and not info["stopped"]  # 90% of 120 rows
    again, _ = run_cv("mlp", problem, data, settings)
    np.testing.assert_array_equal(again.oof, cv.oof)  # the same seed, the same network
    if problem.metric == "roc_auc":
        assert cv.mean > 0.6  # chance is 0.5: on 120 training rows a network that learned shows it


def test_the_network_stops_on_a_spent_budget_and_refuses_unknown_parameters(tmp_path):
    problem, data = kaggle_set(tmp_path, "regression", 200)
    budget = Budget(0.5, StepClock(1.0))  # spent at its first reading
    cv, _ = run_cv("mlp", problem, data, quick(budget=budget, params={"mlp": {"width": 8}}), only=[0])
    assert cv.infos[0]["stopped"] and cv.infos[0]["rounds"] == [1]
    assert (budget.cuts[0]["what"], budget.cuts[0]["reason"]) == ("mlp fold 0", "time budget spent after 1 epochs")
    with pytest.raises(ParameterError, match=r"Unknown mlp parameter\(s\) \['layers'\]"):
        run_cv("mlp", problem, data, quick(params={"mlp": {"layers": 3}}), only=[0])
    with pytest.raises(ParameterError, match="mlp.width 0: expected a whole number of at least 1"):
        run_cv("mlp", problem, data, quick(params={"mlp": {"width": 0}}), only=[0])


def test_catboost_cuts_its_category_statistics_on_a_large_set_unless_told(tmp_path, monkeypatch):
    """Above LARGE_ROWS: no combinations of categorical columns and one order of the rows, each unless set."""
    from kitlib.tasks.tabular import booster_catboost

    problem, data = kaggle_set(tmp_path, "binary", 200)
    target = boosters.targets_of(problem)[0]

    def fit(settings):
        return boosters.fit_booster("catboost", target, data.X, data.y[:, 0], settings)

    def statistics(settings):
        params = fit(settings).model.get_params()
        return params.get("max_ctr_complexity"), params.get("permutation_count")

    assert statistics(quick()) == (None, None)  # a small set: CatBoost's own defaults
    # permutation_count is not in CatBoost's published list: it must still change the model, or it is ignored
    one_order = quick().with_params("catboost", {"permutation_count": 1})
    assert not np.array_equal(fit(quick()).predict(data.X), fit(one_order).predict(data.X))
    monkeypatch.setattr(booster_catboost, "LARGE_ROWS", 100)  # 200 rows are "large" now
    assert statistics(quick()) == (1, 1)
    assert statistics(quick().with_params("catboost", {"max_ctr_complexity": 3})) == (3, 1)
    assert statistics(quick().with_params("catboost", {"permutation_count": 2})) == (1, 2)


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_catboost_reads_a_large_pool_back_from_its_bins_to_the_same_model(tmp_path, monkeypatch, kind):
    """Above READ_BACK_ROWS the binned pool is written out and read back (so the raw columns leave memory): the
    out-of-fold and test predictions are byte-identical to training on the pool in memory, and the file is gone."""
    from kitlib.tasks.tabular import booster_catboost

    problem, data = kaggle_set(tmp_path, kind, 300)
    in_memory, _ = run_cv("catboost", problem, data, quick(work_dir=tmp_path / "a"))
    monkeypatch.setattr(booster_catboost, "READ_BACK_ROWS", 100)  # 150 training rows a fold are "large" now
    import catboost

    saved, save = [], catboost.Pool.save

    def recorded_save(pool, path):
        saved.append(path)
        return save(pool, path)

    monkeypatch.setattr(catboost.Pool, "save", recorded_save)
    read_back, _ = run_cv("catboost", problem, data, quick(work_dir=tmp_path / "b"))
    assert len(saved) == 4  # two folds: the fit watching the inner split, then the refit on all the fold's rows
    assert all(str(tmp_path / "b" / "catboost") in path for path in saved)
    assert not any(Path(path).exists() for path in saved) and not list((tmp_path / "b").rglob("kit-pool-*"))
    np.testing.assert_array_equal(read_back.oof, in_memory.oof)
    np.testing.assert_array_equal(read_back.test, in_memory.test)


def test_an_unknown_model_or_setting_is_refused(tmp_path):
    problem, data = kaggle_set(tmp_path, "binary", 60)
    with pytest.raises(ParameterError, match=r"Unknown model 'forest'; expected one of \['linear', 'lightgbm', "
                                             r"'catboost', 'xgboost', 'hgb', 'mlp'\]"):
        fold_function("forest", problem, data.X, data.y, data.X_test, ModelSettings())
    with pytest.raises(ParameterError, match=r"Unknown model\(s\) \['lgbm'\] in the model parameters"):
        ModelSettings(params={"lgbm": {}})
    with pytest.raises(ParameterError, match=r"Unknown device 'tpu'; expected one of \['cpu', 'cuda', 'auto'\]"):
        ModelSettings(device="tpu")
    with pytest.raises(ParameterError, match="threads -1"):
        ModelSettings(threads=-1)


# --------------------------------------------------------------------------------- early stopping inside
def test_the_inner_split_is_stratified_disjoint_and_reproducible():
    classes = np.repeat([0, 1, 2, 3], [500, 300, 150, 50])
    fit, stop = early_stopping.inner_split(len(classes), classes, 0.1, seed=3)
    assert len(stop) == 100 and len(fit) == 900 and not set(fit) & set(stop)
    np.testing.assert_array_equal(np.sort(np.concatenate([fit, stop])), np.arange(1000))
    assert np.bincount(classes[stop]).tolist() == [50, 30, 15, 5]
    again = early_stopping.inner_split(len(classes), classes, 0.1, seed=3)
    np.testing.assert_array_equal(stop, again[1])
    assert not np.array_equal(stop, early_stopping.inner_split(len(classes), classes, 0.1, seed=4)[1])
    lonely = np.array([0] * 30 + [1])  # a class with one row keeps it for fitting
    _, stop = early_stopping.inner_split(31, lonely, 0.1, seed=0)
    assert len(stop) == 3 and (lonely[stop] == 0).all()
    _, stop = early_stopping.inner_split(50, None, 0.1, seed=0)
    assert len(stop) == 5
    with pytest.raises(ParameterError, match="at least 2 training rows; got 1"):
        early_stopping.inner_split(1, None, 0.1, seed=0)


@pytest.mark.parametrize("library", BOOSTERS)
def test_early_stopping_never_watches_a_validation_row(tmp_path, monkeypatch, library):
    problem, data = kaggle_set(tmp_path, "multiclass", 200)
    adapter = boosters._adapter(library)
    seen = []
    original = adapter.train

    def spy(job):
        seen.append((job.X_fit.index, None if job.X_stop is None else job.X_stop.index, job.y_stop))
        return original(job)

    monkeypatch.setattr(adapter, "train", spy)
    _, folds = run_cv(library, problem, data, quick(), n_folds=4, only=[1])
    train_rows, val_rows = set(np.flatnonzero(folds != 1)), set(np.flatnonzero(folds == 1))
    (fit_rows, stop_rows, y_stop), (refit_rows, no_rows, _) = seen
    assert set(stop_rows) <= train_rows and not set(stop_rows) & val_rows and not set(fit_rows) & set(stop_rows)
    assert set(fit_rows) | set(stop_rows) == train_rows and set(refit_rows) == train_rows and no_rows is None
    assert len(stop_rows) == 15  # 10% of 150
    shares = np.bincount(y_stop.astype(int), minlength=4) / len(y_stop)
    fold_shares = np.bincount(data.y[sorted(train_rows), 0].astype(int), minlength=4) / len(train_rows)
    assert np.abs(shares - fold_shares).max() < 0.07


@pytest.mark.parametrize("library", BOOSTERS)
def test_the_refit_rule(tmp_path, library):
    problem, data = kaggle_set(tmp_path, "regression", 200)
    target = boosters.targets_of(problem)[0]
    fitted = boosters.fit_booster(library, target, data.X, data.y[:, 0], quick())
    assert fitted.refit and fitted.n_fit == 180 and fitted.n_train == 200
    assert fitted.rounds == round(fitted.best_iteration * 200 / 180)
    kept = boosters.fit_booster(library, target, data.X, data.y[:, 0], quick(refit_below=200))
    assert not kept.refit and kept.rounds == kept.best_iteration
    assert kept.predict(data.X_test).shape == (40, 1)


def test_final_rounds_scale_the_folds_best_iterations_to_every_row(tmp_path):
    problem, data = kaggle_set(tmp_path, "multi-target", 200)
    infos = [{"best_iteration": [10, 20], "rounds": [11, 22], "n_fit": [90, 90]},
             {"best_iteration": [14, 30], "rounds": [15, 33], "n_fit": [90, 90]}]
    assert final_rounds(infos, 200) == [27, 56]
    full = fit_full("xgboost", problem, data.X, data.y, data.X_test, quick(), [5, 7])
    assert full.info["rounds"] == [5, 7] and full.info["best_iteration"] == [None, None]
    assert full.test.shape == (40, 4)
    assert fit_full("hgb", problem, data.X, data.y, data.X_test, quick(), [5, 7]).info["rounds"] == [5, 7]
    with pytest.raises(ParameterError, match="needs its rounds per target"):
        fit_full("lightgbm", problem, data.X, data.y, data.X_test, quick(), None)


# ------------------------------------------------------------------------------ reproducible, bounded
@pytest.mark.parametrize("library", BOOSTERS)
def test_two_identical_runs_give_byte_identical_predictions(tmp_path, library):
    problem, data = kaggle_set(tmp_path, "binary", 200)
    settings = quick(threads=2)
    first, _ = run_cv(library, problem, data, settings)
    second, _ = run_cv(library, problem, data, settings)
    assert first.oof.tobytes() == second.oof.tobytes() and first.test.tobytes() == second.test.tobytes()


THREAD_PARAM = {"lightgbm": "num_threads", "xgboost": "nthread", "catboost": "thread_count"}


@pytest.mark.parametrize("library", BOOSTERS)
def test_threads_are_bounded(tmp_path, monkeypatch, library):
    problem, data = kaggle_set(tmp_path, "binary", 80)
    adapter = boosters._adapter(library)
    seen, original = [], adapter.train
    monkeypatch.setattr(adapter, "train", lambda job: seen.append(job.params) or original(job))
    target = boosters.targets_of(problem)[0]
    boosters.fit_booster(library, target, data.X, data.y[:, 0], quick(threads=1))
    assert {p[THREAD_PARAM[library]] for p in seen} == {1}
    params, _, _ = boosters.library_params(library, target, quick(threads=0))
    assert params[THREAD_PARAM[library]] == ModelSettings(threads=0).cpu_threads() >= 1


def test_catboost_writes_only_inside_the_folder_it_is_given(tmp_path, monkeypatch):
    problem, data = kaggle_set(tmp_path, "binary", 80)
    work = tmp_path / "elsewhere"
    work.mkdir()
    monkeypatch.chdir(work)
    target = boosters.targets_of(problem)[0]
    boosters.fit_booster("catboost", target, data.X, data.y[:, 0], quick())
    assert list(work.iterdir()) == []
    boosters.fit_booster("catboost", target, data.X, data.y[:, 0], quick(work_dir=tmp_path / "run"))
    assert (tmp_path / "run" / "catboost").is_dir() and list(work.iterdir()) == []


def test_importing_the_tabular_task_imports_no_booster_library():
    code = ("import sys, kitlib.tasks.tabular, kitlib.tasks.tabular.fold_functions, kitlib.tasks.tabular.search_spaces;"
            "print(sorted({'lightgbm', 'xgboost', 'catboost'} & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# ------------------------------------------------------------------------------------------- devices
@pytest.fixture
def probe(monkeypatch):
    """Stand-in probe fits: ``probe[library] = (why not | None, backend)``; counts the calls."""
    answers, calls = {}, []

    def fake(library, gpu):
        calls.append((library, gpu))
        return answers[library]

    monkeypatch.setattr(booster_devices, "_PROBED", {})
    monkeypatch.setattr(booster_devices, "_probe_fit", fake)
    answers["calls"] = calls
    return answers


def test_cuda_maps_to_each_librarys_gpu_parameters(probe):
    probe.update(lightgbm=(None, "gpu"), xgboost=(None, "cuda"), catboost=(None, "GPU"))
    assert booster_devices.device_params("lightgbm", "cuda") == {"device_type": "gpu", "gpu_device_id": 0}
    assert booster_devices.device_params("xgboost", "cuda:1") == {"device": "cuda:1"}
    assert booster_devices.device_params("catboost", "auto") == {"task_type": "GPU", "devices": "0"}
    assert booster_devices.device_params("catboost", "cpu") == {}
    booster_devices.device_params("lightgbm", "auto")
    assert probe["calls"].count(("lightgbm", 0)) == 1  # probed once per process


def test_a_build_without_gpu_is_refused_for_cuda_and_skipped_for_auto(probe, tmp_path):
    probe.update(xgboost=("the installed xgboost-cpu 3.2.0 was built without CUDA", ""),
                 lightgbm=("device_type='gpu': No OpenCL device found", ""), catboost=("CUDA error 35", ""))
    with pytest.raises(ParameterError, match=r"device 'cuda': xgboost cannot train on the GPU here \(the installed "
                                             r"xgboost-cpu 3.2.0 was built without CUDA\); run: pip uninstall -y "
                                             r"xgboost-cpu && pip install xgboost==3.2.0"):
        booster_devices.device_params("xgboost", "cuda")
    with pytest.raises(ParameterError, match="lightgbm cannot train on the GPU here .*OpenCL"):
        booster_devices.device_params("lightgbm", "cuda")
    assert booster_devices.device_params("catboost", "auto") == {}
    problem, data = kaggle_set(tmp_path, "binary", 60)
    with pytest.raises(ParameterError, match="catboost cannot train on the GPU here"):
        fold_function("catboost", problem, data.X, data.y, data.X_test, quick(device="cuda"))
    cv, _ = run_cv("catboost", problem, data, quick(device="auto"), only=[0])  # auto: the CPU
    assert np.isfinite(cv.oof[~np.isnan(cv.oof[:, 0])]).all()


def test_the_real_probe_of_this_xgboost_build():
    xgboost = pytest.importorskip("xgboost")
    why, backend = booster_devices._probe_fit("xgboost", 0)
    if xgboost.build_info().get("USE_CUDA"):
        pytest.skip("this xgboost build has CUDA")
    assert "was built without CUDA" in why and backend == ""


# ------------------------------------------------------------------------------------------- the budget
class StepClock:
    """A fake clock that moves ``step`` seconds every time it is read."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


@pytest.mark.parametrize("library", BOOSTERS)
def test_a_spent_budget_stops_boosting_and_is_recorded(tmp_path, library):
    problem, data = kaggle_set(tmp_path, "binary", 200)
    budget = Budget(30, StepClock(1.0))  # about 30 readings: one per boosting round
    cap, patience = boosters.ROUND_KEYS[library]
    settings = quick(budget=budget).with_params(library, {cap: 500, patience: 500})
    cv, _ = run_cv(library, problem, data, settings, only=[0])
    info = cv.infos[0]
    assert info["stopped"] and info["refit"] == [False] and info["rounds"][0] < 40
    assert budget.cuts[0]["what"] == f"{library} fold 0"
    assert budget.cuts[0]["reason"].startswith("time budget spent after")
    assert np.isfinite(cv.oof[~np.isnan(cv.oof[:, 0])]).all()


def test_a_refit_the_budget_cannot_hold_is_cut(tmp_path):
    problem, data = kaggle_set(tmp_path, "regression", 200)
    budget = Budget(1e-6, lambda: 0.0)  # never spent, yet nothing fits in it
    target = boosters.targets_of(problem)[0]
    fitted = boosters.fit_booster("lightgbm", target, data.X, data.y[:, 0], quick(budget=budget), "lightgbm fold 3")
    assert not fitted.refit and fitted.rounds == fitted.best_iteration
    assert budget.cuts[0]["what"] == "lightgbm fold 3 refit" and "needs about" in budget.cuts[0]["reason"]


# ----------------------------------------------------------------------------------------- parameters
def test_user_parameters_reach_the_library(tmp_path):
    problem, data = kaggle_set(tmp_path, "binary", 120)
    target = boosters.targets_of(problem)[0]
    settings = quick().with_params("lightgbm", {"num_leaves": 5, "n_estimators": 7})
    settings = settings.with_params("xgboost", {"max_depth": 2, "learning_rate": 0.2})
    settings = settings.with_params("catboost", {"depth": 2, "n_estimators": 9})
    lgb = boosters.fit_booster("lightgbm", target, data.X, data.y[:, 0], settings, rounds=None)
    assert lgb.model.params["num_leaves"] == 5 and lgb.best_iteration <= 7
    xgb = boosters.fit_booster("xgboost", target, data.X, data.y[:, 0], settings)
    config = xgb.model.save_config()
    assert '"max_depth":"2"' in config and '"eta":"0.200000003"' in config
    cat = boosters.fit_booster("catboost", target, data.X, data.y[:, 0], settings)
    assert cat.model.get_params()["depth"] == 2 and cat.best_iteration <= 9


@pytest.mark.parametrize("library, params, message", [
    ("lightgbm", {"num_leafs": 3}, r"Unknown lightgbm parameter\(s\) \['num_leafs'\]"),
    ("lightgbm", {"num_leaves": 1}, r"lightgbm refused its parameters: .*num_leaves"),
    ("xgboost", {"max_dept": 3}, r"Unknown xgboost parameter\(s\) \[\"max_dept\"\]"),
    ("xgboost", {"max_depth": -3}, r"xgboost refused its parameters: .*max_depth"),
    ("catboost", {"dept": 3}, r"catboost refused its parameters: .*Unknown option \{dept\}"),
    ("hgb", {"max_dept": 3}, r"hgb refused its parameters: .*max_dept"),
])
def test_a_parameter_the_library_refuses_is_a_parameter_error_naming_it(tmp_path, library, params, message):
    problem, data = kaggle_set(tmp_path, "regression", 60)
    with pytest.raises(ParameterError, match=message):
        cv, _ = run_cv(library, problem, data, quick().with_params(library, params), only=[0])


def test_rmsle_fits_log1p_and_never_predicts_below_zero(tmp_path):
    problem, data = kaggle_set(tmp_path, "regression", 200)
    counts = tabular.Problem(id="id", targets=problem.targets, task="regression", metric="rmsle", holds="values",
                             numeric=problem.numeric, categorical=problem.categorical)
    y = np.clip(data.y - 20, 0, None)
    for library in BOOSTERS:
        fitted = boosters.fit_booster(library, boosters.targets_of(counts)[0], data.X, y[:, 0], quick())
        pred = fitted.predict(data.X_test)
        assert (pred >= 0).all() and fitted.target.log1p


def test_categories_are_fixed_from_the_training_rows():
    X = pd.DataFrame({"colour": ["red", "blue", None, "red"], "x": [1.0, None, 3.0, 4.0]})
    categories = booster_jobs.category_values(X, booster_jobs.categorical_columns(X))
    assert categories == {"colour": ["blue", "red"]}
    test = booster_jobs.as_categories(pd.DataFrame({"colour": ["violet", "red"], "x": [1, 2]}), categories)
    assert test["colour"].cat.codes.tolist() == [-1, 1] and test["x"].dtype == np.float64


@pytest.mark.parametrize("categories", [["blue", "green", "red", "violet"], [3, 1, 2, 10]])
def test_category_values_of_a_category_column_are_those_of_its_values(categories):
    """A ``category`` column's values come from its codes: the same list as from the values themselves, whatever
    the rows, with categories no row has and missing values left out."""
    rng = np.random.default_rng(0)
    values = pd.Series(pd.Categorical(rng.choice([*categories[:3], None], 400), categories=categories))
    X = pd.DataFrame({"c": values, "as_objects": values.astype(object)})
    for rows in (None, np.array([5, 0, 7, 7]), np.flatnonzero(values.notna().to_numpy())[:50], np.array([], int)):
        coded = booster_jobs.category_values(X, ["c"], rows)["c"]
        assert coded == booster_jobs.category_values(X, ["as_objects"], rows)["as_objects"]
        assert categories[3] not in coded and None not in coded
    assert booster_jobs.category_values(X, ["c"])["c"] == sorted(categories[:3], key=str)


def test_a_fits_rows_are_taken_by_position_in_one_copy_and_coded_as_each_library_takes_them():
    X = pd.DataFrame({"colour": pd.array(["red", "blue", None, "red", "green"], dtype="str"),
                      "x": [1.0, None, 3.0, 4.0, 5.0]}, index=[10, 11, 12, 13, 14])
    rows = np.array([0, 1, 2])  # green (row 4) is not among the training rows
    categories = booster_jobs.category_values(X, ["colour"], rows)
    assert categories == {"colour": ["blue", "red"]}
    frame = booster_jobs.as_categories(X, categories, rows)
    assert frame.index.tolist() == [10, 11, 12] and frame["colour"].cat.codes.tolist() == [1, 0, -1]
    matrix = booster_jobs.as_matrix(X, categories, np.array([4, 3, 1]))
    np.testing.assert_array_equal(matrix, [[np.nan, 5.0], [1.0, 4.0], [0.0, np.nan]])  # unseen green: missing
    from kitlib.tasks.tabular import booster_catboost

    coded = booster_catboost.prepare(X, categories, np.array([4, 2, 0]))
    assert coded["colour"].tolist() == [booster_catboost.UNSEEN_CODE, booster_catboost.MISSING_CODE, 1]
    assert coded.attrs["cat_features"] == ["colour"] and coded["x"].tolist() == [5.0, 3.0, 1.0]


def test_lightgbm_fits_the_model_its_own_pandas_path_fits(tmp_path):
    """The kit hands LightGBM a float matrix of category codes instead of a frame: the same trees, the same
    predictions as LightGBM given the frame with pandas categories."""
    import lightgbm

    problem, data = kaggle_set(tmp_path, "multiclass", 300)
    target = boosters.targets_of(problem)[0]
    settings = quick(refit_below=0)
    params, _, _ = boosters.library_params("lightgbm", target, settings)
    fitted = boosters.fit_booster("lightgbm", target, data.X, data.y[:, 0], settings, rounds=25)
    frame = booster_jobs.as_categories(data.X, fitted.categories)
    own = lightgbm.train(params, lightgbm.Dataset(frame, data.y[:, 0]), num_boost_round=25)
    test = booster_jobs.as_categories(data.X_test, fitted.categories)
    np.testing.assert_array_equal(fitted.predict(data.X_test), own.predict(test))


def fit_whole_then_batched(tmp_path, monkeypatch, library, kind, rows, limits):
    """``(data, whole, batched, what train saw)``: ``library`` fitted on ``rows`` as it is, then again with the
    adapter's module constants ``limits`` lowered so the fit goes a batch at a time."""
    adapter = boosters._adapter(library)
    problem, data = kaggle_set(tmp_path, kind, 300)
    target = boosters.targets_of(problem)[0]
    whole = boosters.fit_booster(library, target, data.X, data.y[rows, 0], quick(), rows=rows)
    seen = []
    original = adapter.train
    monkeypatch.setattr(adapter, "train", lambda job: seen.append(job.X_fit) or original(job))
    for name, value in limits.items():
        monkeypatch.setattr(adapter, name, value)
    batched = boosters.fit_booster(library, target, data.X, data.y[rows, 0], quick(), rows=rows)
    return data, whole, batched, seen[0]


def test_lightgbm_reads_a_large_fit_a_batch_at_a_time_and_fits_the_same_model(tmp_path, monkeypatch):
    """Above SEQUENCE_ROWS rows LightGBM reads the fit's rows in batches from the frame (a lightgbm.Sequence);
    with every row in LightGBM's bin sample (as here) the model is the one the matrix gives."""
    import lightgbm

    rows = np.arange(20, 280)
    data, whole, batched, fit = fit_whole_then_batched(tmp_path, monkeypatch, "lightgbm", "binary", rows,
                                                       {"SEQUENCE_ROWS": 100})
    assert isinstance(fit.values, lightgbm.Sequence) and whole.rounds == batched.rounds
    np.testing.assert_array_equal(whole.predict(data.X_test), batched.predict(data.X_test))
    np.testing.assert_array_equal(whole.predict(data.X, rows[:50]), batched.predict(data.X.iloc[rows[:50]]))


def test_xgboost_reads_a_large_fit_a_batch_at_a_time_and_fits_the_same_model(tmp_path, monkeypatch):
    """Above BATCHED_ROWS rows XGBoost bins the fit's rows a batch at a time (an xgboost.DataIter into its
    QuantileDMatrix): the same model as from one frame."""
    data, whole, batched, fit = fit_whole_then_batched(tmp_path, monkeypatch, "xgboost", "multiclass",
                                                       np.arange(10, 290), {"BATCHED_ROWS": 100, "BATCH_ROWS": 64})
    assert isinstance(fit, booster_jobs.RowBatches) and len(fit.batches()) == 4  # 252 fit rows
    assert whole.rounds == batched.rounds
    np.testing.assert_array_equal(whole.predict(data.X_test), batched.predict(data.X_test))


# ------------------------------------------------------------------------- the small-data check
@pytest.mark.parametrize("model", [m for m in MODEL_ORDER if m != "linear"])
def test_no_booster_is_worse_than_the_class_frequencies_on_1000_rows_of_4_classes(tmp_path, model):
    from kitlib.metrics import log_loss

    problem, data = kaggle_set(tmp_path, "multiclass", 1000, seed=5)
    cv, _ = run_cv(model, problem, data, ModelSettings(threads=1), n_folds=5)
    y = data.y[:, 0].astype(int)
    prior = np.bincount(y, minlength=4) / len(y)
    frequencies = log_loss(y, np.tile(prior, (len(y), 1)), labels=[0, 1, 2, 3])
    assert log_loss(y, cv.oof, labels=[0, 1, 2, 3]) < frequencies - 0.1


def test_xgboost_leaves_hold_about_ten_rows_whatever_the_loss(tmp_path):
    problem, _ = kaggle_set(tmp_path, "regression", 60)
    values = boosters.targets_of(problem)[0]
    classes = boosters.targets_of(kaggle_set(tmp_path, "binary", 60)[0])[0]
    assert boosters.library_params("xgboost", values, ModelSettings())[0]["min_child_weight"] == 10.0
    assert boosters.library_params("xgboost", classes, ModelSettings())[0]["min_child_weight"] == 2.0
    mine = ModelSettings(params={"xgboost": {"min_child_weight": 3}})
    assert boosters.library_params("xgboost", values, mine)[0]["min_child_weight"] == 3
