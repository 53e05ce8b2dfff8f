"""The tabular run's model loop (issue 23 items 3-6): the plan read from the template's parameters, the models in
order with every model's tables, the search, the time budget under a fake clock, seeds, the final refit, and the
ensemble's choice. Tiny sets and few rounds; the end-to-end smoke runs are in tests/test_scaffold.py."""
import json

import numpy as np
import pandas as pd
import pytest
from tabular_sets import KINDS, write_kaggle_set

from kitlib import folds as kfolds
from kitlib.budget import Budget
from kitlib.errors import ParameterError
from kitlib.folds import FoldResult
from kitlib.run import Run
from kitlib.scaffold import infer
from kitlib.tasks import tabular
from kitlib.tasks.tabular import evaluation
from kitlib.tasks.tabular.evaluation import Inputs, ModelResult, evaluate_model, evaluate_models
from kitlib.tasks.tabular.final_prediction import choose_final, ensemble_holds, prediction_tables, reference_model
from kitlib.tasks.tabular.fold_functions import final_rounds
from kitlib.tasks.tabular.importance import best_booster, booster_importance
from kitlib.tasks.tabular.model_settings import MODEL_ORDER, ModelSettings
from kitlib.tasks.tabular.problem import Problem
from kitlib.tasks.tabular.run_plan import SMOKE_ROUNDS, Plan, parse_model_params, parse_models, tail_seconds
from kitlib.tasks.tabular.search import StudyPlace, search_models

QUICK = {"lightgbm": {"num_iterations": 30, "early_stopping_round": 10, "num_leaves": 7},
         "xgboost": {"num_boost_round": 30, "early_stopping_rounds": 10, "max_depth": 3},
         "catboost": {"iterations": 30, "early_stopping_rounds": 10, "depth": 3},
         "hgb": {"max_iter": 30, "n_iter_no_change": 10}}


def kaggle_set(tmp_path, kind: str, n: int = 240, seed: int = 0):
    folder = write_kaggle_set(tmp_path / kind, kind, n, 40, seed=seed)
    data = tabular.load(infer(folder).problem, folder, report=False)
    return data.problem, data


def inputs_of(problem, data, n_folds: int = 2) -> Inputs:
    folds = kfolds.assign_folds(len(data.y), n_splits=n_folds, stratify=problem.stratify(data.y), seed=0)
    return Inputs(problem, data.X, data.y, data.X_test, folds)


# ------------------------------------------------------------------------------------------------ the plan
def test_model_params_are_parsed_and_typed():
    got = parse_model_params(" lightgbm.num_leaves 63, catboost.depth 8,hgb.early_stopping False,"
                             "xgboost.eta 0.05,lightgbm.boosting goss, linear.C 1e-2")
    assert got == {"lightgbm": {"num_leaves": 63, "boosting": "goss"}, "catboost": {"depth": 8},
                   "hgb": {"early_stopping": False}, "xgboost": {"eta": 0.05}, "linear": {"C": 0.01}}
    assert isinstance(got["lightgbm"]["num_leaves"], int) and isinstance(got["hgb"]["early_stopping"], bool)
    assert parse_model_params("") == {} and parse_model_params(" , ") == {}


@pytest.mark.parametrize("text, message", [
    ("lightgbm.num_leaves", r"item 'lightgbm.num_leaves': expected '<model>.<parameter> <value>', e.g. "
                            r"'lightgbm.num_leaves 63'"),
    ("num_leaves 63", r"item 'num_leaves 63': expected '<model>.<parameter> <value>'"),
    ("lightgbm. 63", r"item 'lightgbm. 63': expected"),
    ("forest.depth 3", r"item 'forest.depth 3': Unknown model 'forest'; expected one of \['linear', 'lightgbm', "
                       r"'catboost', 'xgboost', 'hgb', 'mlp'\]"),
    ("catboost.depth 6,catboost.depth 8", r"item 'catboost.depth 8': catboost.depth is given twice"),
])
def test_model_params_refusals_name_the_item_and_what_is_allowed(text, message):
    with pytest.raises(ParameterError, match=message):
        parse_model_params(text)


@pytest.mark.parametrize("kwargs, message", [
    (dict(models="linear,forest"), r"Unknown model\(s\) \['forest'\] in models 'linear,forest'; expected some of "
                                   r"\['linear', 'lightgbm', 'catboost', 'xgboost', 'hgb', 'mlp'\]"),
    (dict(models="hgb,hgb"), r"models: \['hgb'\] given twice"),
    (dict(models="linear", search="forest", n_trials=2), r"Unknown model\(s\) \['forest'\] in search"),
    (dict(models="linear", final="blend"), r"Unknown final 'blend'; expected one of \['folds', 'refit'\]"),
    (dict(models="linear", n_seeds=0), r"n_seeds must be at least 1"),
    (dict(models="linear", time_limit=-1), r"time_limit -1.0: expected seconds >= 0"),
    (dict(models=""), r"no model to evaluate"),
])
def test_plan_refusals(kwargs, message):
    with pytest.raises(ParameterError, match=message):
        Plan.from_parameters(**kwargs)


def test_the_plan_in_order_with_its_search_and_smoke_caps():
    plan = Plan.from_parameters("hgb, linear", "lightgbm.num_leaves 15", "lightgbm", 20, 2, "refit",
                                "colour", 900)
    assert plan.models == ("hgb", "linear") and plan.searched == ("lightgbm",) and plan.n_seeds == 2
    assert plan.names() == ["hgb", "linear", "lightgbm_optuna"] and plan.target_encode == ("colour",)
    assert Plan.from_parameters("linear", search="lightgbm", n_trials=0).searched == ()
    smoke = Plan.from_parameters("linear,lightgbm", "lightgbm.num_leaves 15", "lightgbm", 20, smoke=True)
    assert smoke.n_trials == 2 and smoke.params["lightgbm"] == {"num_leaves": 15, **SMOKE_ROUNDS["lightgbm"]}
    assert parse_models("linear,lightgbm,catboost,xgboost,hgb,mlp") == MODEL_ORDER
    assert tail_seconds(0) == 0 and tail_seconds(900) == 36 and tail_seconds(60) == 5 and tail_seconds(4) == 2
    budget = Budget(900, clock=lambda: 0.0)
    assert plan.models_budget(budget).remaining() == 900 - 36
    assert Plan(("linear",)).models_budget(Budget(0)).limited is False


# ------------------------------------------------------------------------------------ every model, every kind
@pytest.mark.parametrize("kind", KINDS)
def test_every_model_keeps_its_tables_for_every_kind(tmp_path, kind):
    problem, data = kaggle_set(tmp_path, kind)
    inputs = inputs_of(problem, data)
    results = evaluate_models(MODEL_ORDER, inputs, ModelSettings(params=QUICK), report=None)
    assert list(results) == list(MODEL_ORDER)
    final = choose_final(results, inputs)
    run = Run(tmp_path / "run", "any", {})
    run.dir.mkdir()
    final_oof, final_test = prediction_tables(data, problem, inputs.folds, final.oof, final.test)
    for name, result in results.items():
        run.log_model(name, result.record("val_metric"), *prediction_tables(data, problem, inputs.folds,
                                                                             result.oof, result.test))
        oof = pd.read_parquet(run.dir / "models" / name / "oof.parquet")
        test = pd.read_parquet(run.dir / "models" / name / "test_predictions.parquet")
        assert list(oof.columns) == list(final_oof.columns) and list(test.columns) == list(final_test.columns)
        assert oof["id"].equals(final_oof["id"]) and oof["fold"].equals(final_oof["fold"])
        values = oof[problem.columns].to_numpy()
        assert np.isfinite(values).all() and np.isfinite(test[problem.columns].to_numpy()).all()
        for _, cols, _ in problem.blocks() if problem.classification else ():
            np.testing.assert_allclose(values[:, cols].sum(axis=1), 1.0, atol=1e-6)
        assert result.score == pytest.approx(problem.score(data.y, values))
    manifest = json.loads((run.dir / "manifest.json").read_text())
    assert set(manifest["models"]) == set(MODEL_ORDER)
    for name, entry in manifest["models"].items():
        assert {"cv", "score", "best_iterations", "seconds", "predictions"} <= set(entry)
        assert len(entry["cv"]["folds"]) == 2 and len(entry["best_iterations"]) == 2
        assert (entry["best_iterations"][0] is None) == (name == "linear")
    submission = problem.to_submission(final_test, data.sample)
    assert len(submission) == len(data.sample)


def test_the_best_boosters_importance_names_the_features(tmp_path):
    problem, data = kaggle_set(tmp_path, "binary", n=400)
    inputs = inputs_of(problem, data)
    results = evaluate_models(("linear", "lightgbm", "xgboost", "catboost"), inputs, ModelSettings(params=QUICK),
                              report=None)
    best = best_booster(results, problem.mode)
    assert best in ("lightgbm", "xgboost", "catboost")
    for name in ("lightgbm", "xgboost", "catboost"):
        table = booster_importance(results[name], top=None)
        assert set(table.index) <= set(problem.features) and table["importance"].sum() == pytest.approx(1.0)
    assert best_booster({"linear": results["linear"]}, "max") is None


# ------------------------------------------------------------------------------------- seeds and the refit
def test_n_seeds_average_the_seeds_predictions(tmp_path):
    problem, data = kaggle_set(tmp_path, "binary", n=300)
    inputs = inputs_of(problem, data)
    settings = ModelSettings(params=QUICK)
    both = evaluate_model("lightgbm", "lightgbm", inputs, settings, n_seeds=2)
    one = [evaluate_model("lightgbm", "lightgbm", inputs, ModelSettings(seed=s, params=QUICK)) for s in (0, 1)]
    assert both.seeds == [0, 1] and len(both.infos) == 2 and both.record("m")["seeds"] == [0, 1]
    assert not np.allclose(one[0].oof, one[1].oof)  # the seed matters (bagging), so averaging changes something
    np.testing.assert_allclose(both.oof, (one[0].oof + one[1].oof) / 2)
    np.testing.assert_allclose(both.test, (one[0].test + one[1].test) / 2)
    assert both.fold_scores == [inputs.score(np.flatnonzero(inputs.folds == k), both.oof[inputs.folds == k])
                                for k in inputs.fold_ids]


@pytest.mark.parametrize("model", ["lightgbm", "linear"])
def test_final_refit_predicts_the_test_rows_with_one_model_on_every_row(tmp_path, model):
    problem, data = kaggle_set(tmp_path, "regression", n=300)
    inputs = inputs_of(problem, data)
    folds_only = evaluate_model(model, model, inputs, ModelSettings(params=QUICK))
    refit = evaluate_model(model, model, inputs, ModelSettings(params=QUICK), final="refit")
    assert refit.final == "refit" and refit.record("m")["final"] == "refit"
    assert refit.refit_rounds == final_rounds(refit.infos[0], len(data.y))
    np.testing.assert_allclose(refit.oof, folds_only.oof)  # the CV is the folds'; only the test rows change
    assert not np.allclose(refit.test, folds_only.test)
    fitted = evaluation.fit_full(model, problem, data.X, data.y, data.X_test, ModelSettings(params=QUICK),
                                 refit.refit_rounds)
    np.testing.assert_allclose(refit.test, fitted.test)


# ------------------------------------------------------------------------------------------- the search
def test_the_search_keeps_each_tuned_model_with_one_study_per_model(tmp_path):
    problem, data = kaggle_set(tmp_path, "binary", n=300)
    inputs = inputs_of(problem, data)
    place = StudyPlace("comp", run_dir=tmp_path, run_id="run-1")
    lines = []
    results, studies = search_models(("lightgbm", "hgb"), 3, inputs, ModelSettings(params=QUICK), place,
                                     report=lines.append)
    assert set(results) == {"lightgbm_optuna", "hgb_optuna"} and len(lines) == 2
    assert {s.study_name for s in studies.values()} == {"comp-lightgbm", "comp-hgb"}
    study = studies["lightgbm"]
    assert len(study.trials) == 3 and all(t.user_attrs["run_id"] == "run-1" for t in study.trials)
    tuned = results["lightgbm_optuna"]
    assert tuned.mean == pytest.approx(study.best_value) and tuned.model == "lightgbm"
    assert tuned.params == {**QUICK["lightgbm"], **study.best_params}
    assert lines[0].startswith("lightgbm_optuna: roc_auc") and "best trial" in lines[0]


# -------------------------------------------------------------------------------- the budget, a fake clock
class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def fake_fold_functions(clock: FakeClock, costs: dict[str, float]):
    """Fold functions that take ``costs[model]`` seconds of the fake clock per fold and predict the truth blurred;
    a booster stops (as its budget callback does) when its budget is spent mid-fit."""

    def make(model, problem, X, y, X_test, settings):
        def fit_fold(k, train_idx, val_idx):
            budget, cost, stopped = settings.budget, costs[model], False
            if budget is not None and budget.limited and cost > budget.remaining():
                clock.now += budget.remaining()
                stopped = True
                budget.cut(f"{model} fold {k}", "time budget spent after 3 boosting rounds")
            else:
                clock.now += cost
            truth = np.eye(2)[y[val_idx, 0].astype(int)]
            info = {"best_iteration": [3], "rounds": [3], "n_fit": [len(train_idx)], "refit": [False],
                    "stopped": stopped, "seconds": cost}
            return FoldResult(val=0.6 * truth + 0.2, test=np.full((len(X_test), 2), 0.5), info=info)

        return fit_fold

    return make


def test_the_budget_skips_a_model_stops_the_search_and_the_run_still_predicts(tmp_path, monkeypatch):
    problem, data = kaggle_set(tmp_path, "binary")
    inputs = inputs_of(problem, data, n_folds=5)
    clock = FakeClock()
    monkeypatch.setattr(evaluation, "fold_function",
                        fake_fold_functions(clock, {"linear": 1, "lightgbm": 4, "catboost": 40, "hgb": 1}))
    plan = Plan(("linear", "lightgbm", "catboost", "hgb"), search=("lightgbm",), n_trials=20, time_limit=100)
    budget = Budget(100, clock=clock)
    settings = ModelSettings(budget=plan.models_budget(budget))
    results = evaluate_models(plan.models, inputs, settings, report=None)
    assert list(results) == ["linear", "lightgbm", "hgb"]  # catboost's first fold needed more than its share
    assert clock.now == 5 + 20 + 70 / 5 + 5  # catboost spent only its first fold's share of what was left
    tuned, studies = search_models(plan.searched, plan.n_trials, inputs, settings, StudyPlace("c", run_dir=tmp_path),
                                   results, report=None)
    assert "lightgbm_optuna" in tuned and 1 <= len(studies["lightgbm"].trials) < 20
    cuts = budget.cuts
    assert [c["what"] for c in cuts[:2]] == ["catboost fold 0", "catboost"]
    assert "its first fold needs more than its share" in cuts[1]["reason"]
    assert cuts[-1]["what"] == "search c-lightgbm" and "stopped before trial" in cuts[-1]["reason"]
    assert budget.spent() <= 100 - tail_seconds(100)  # the tail is left for the ensemble and the submission
    final = choose_final({**results, **tuned}, inputs)
    _, test = prediction_tables(data, problem, inputs.folds, final.oof, final.test)
    assert len(problem.to_submission(test, data.sample)) == len(data.sample)


def test_a_later_seed_or_a_refit_the_budget_cannot_hold_is_left_out(tmp_path, monkeypatch):
    problem, data = kaggle_set(tmp_path, "binary")
    inputs = inputs_of(problem, data, n_folds=2)
    clock = FakeClock()
    monkeypatch.setattr(evaluation, "fold_function", fake_fold_functions(clock, {"lightgbm": 10}))
    budget = Budget(30, clock=clock)
    result = evaluate_model("lightgbm", "lightgbm", inputs, ModelSettings(budget=budget), n_seeds=3, final="refit")
    assert result.seeds == [0] and result.final == "folds"  # 20 s for the first seed, 10 s left
    assert [c["what"] for c in budget.cuts] == ["lightgbm seeds 1..2", "lightgbm refit"]
    clock.now = 30
    with pytest.raises(evaluation.ModelSkipped, match="the time budget was spent before fold 0"):
        evaluate_model("lightgbm", "lightgbm", inputs, ModelSettings(budget=budget))


# ------------------------------------------------------------------------------------------- the ensemble
def binary_problem(metric: str = "roc_auc") -> Problem:
    holds = "labels" if metric == "accuracy" else "probabilities"
    return Problem(id="id", targets=("target",), task="binary", metric=metric, holds=holds,
                   labels={"target": ("0", "1")}, numeric=("x",))


def result_of(name: str, p: np.ndarray, inputs: Inputs) -> ModelResult:
    oof = np.stack([1 - p, p], axis=1)
    folds = inputs.folds
    scores = [inputs.score(np.flatnonzero(folds == k), oof[folds == k]) for k in inputs.fold_ids]
    infos = [[{"best_iteration": None}] * len(scores)]
    return ModelResult(name, "lightgbm", oof, oof[:10], inputs.fold_ids, scores,
                       inputs.score(np.arange(len(p)), oof), infos, 0.0)


def signals(n: int = 3000, seed: int = 0):
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    y = (a + b + 0.5 * rng.normal(size=n) > 0).astype(float)
    return rng, a, b, y


@pytest.mark.parametrize("metric", ["roc_auc", "accuracy"])
def test_the_ensemble_of_two_complementary_models_beats_both_in_nested_cv(metric):
    rng, a, b, y = signals()
    problem = binary_problem(metric)
    inputs = Inputs(problem, pd.DataFrame({"x": a}), y[:, None], pd.DataFrame({"x": a[:10]}),
                    kfolds.assign_folds(len(y), 5, stratify=y.astype(int), seed=0))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    results = {"sees_a": result_of("sees_a", sigmoid(1.5 * a), inputs),
               "sees_b": result_of("sees_b", sigmoid(1.5 * b), inputs)}
    final = choose_final(results, inputs)
    assert final.kind == "ensemble" and set(final.weights) == {"sees_a", "sees_b"}
    assert final.mean > max(r.mean for r in results.values()) + 0.05
    assert final.table.index[0] == "ensemble" and final.record()["weights"] == final.weights
    assert final.chosen_on == ("log_loss" if metric == "accuracy" else None)
    assert final.summary("val_m")["nested"] is True and final.oof.shape == (len(y), 2)
    np.testing.assert_allclose(final.test, final.nested.predict(np.stack([r.test for r in results.values()])))


def test_the_ensemble_holds_unless_the_best_model_is_ahead_by_more_than_the_folds_noise():
    model = [0.70, 0.72, 0.69, 0.71, 0.70]
    within = [0.71, 0.70, 0.69, 0.70, 0.70]  # 0.004 behind on average; the differences' standard error is 0.0051
    assert ensemble_holds("max", within, model)
    behind = [0.69, 0.71, 0.68, 0.70, 0.69]  # 0.01 behind in every fold: no noise to hide in
    assert not ensemble_holds("max", behind, model)
    assert ensemble_holds("max", [0.75] * 5, model)
    rmse = [6.30, 6.10, 6.25, 6.40, 6.20]  # lower is better
    assert ensemble_holds("min", [6.27, 6.12, 6.27, 6.40, 6.22], rmse)  # 0.006 behind, standard error 0.0098
    assert not ensemble_holds("min", [6.32, 6.12, 6.27, 6.42, 6.22], rmse)
    assert ensemble_holds("max", [0.7], [0.7]) and not ensemble_holds("max", [0.69], [0.7])  # one fold: no worse


def test_the_ensemble_is_held_against_the_best_untuned_model():
    rng, a, b, y = signals()
    inputs = Inputs(binary_problem(), pd.DataFrame({"x": a}), y[:, None], pd.DataFrame({"x": a[:10]}),
                    kfolds.assign_folds(len(y), 5, stratify=y.astype(int), seed=0))
    sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    results = {"weak": result_of("weak", sigmoid(0.5 * a), inputs),
               "good": result_of("good", sigmoid(a + 0.5 * b), inputs),
               "good_optuna": result_of("good_optuna", sigmoid(a + 0.6 * b), inputs)}
    assert reference_model(results, "max") == "good"  # the tuned one's CV is the best of its trials: not the bar
    assert reference_model({"weak": results["weak"], "good": results["good"]}, "min") == "weak"
    assert reference_model({"good_optuna": results["good_optuna"]}, "max") == "good_optuna"


def test_one_strong_model_among_noise_models_is_kept_alone():
    rng, a, b, y = signals(seed=1)
    problem = binary_problem()
    inputs = Inputs(problem, pd.DataFrame({"x": a}), y[:, None], pd.DataFrame({"x": a[:10]}),
                    kfolds.assign_folds(len(y), 5, stratify=y.astype(int), seed=0))
    results = {"strong": result_of("strong", 1 / (1 + np.exp(-(a + b))), inputs)}
    for i in range(4):
        results[f"noise_{i}"] = result_of(f"noise_{i}", rng.random(len(y)), inputs)
    final = choose_final(results, inputs)
    assert final.kind == "model" and final.model == "strong" and final.record() == {"kind": "model",
                                                                                   "model": "strong"}
    np.testing.assert_allclose(final.test, results["strong"].test)
    assert final.summary("val_m") == results["strong"].summary("val_m")
    assert "ensemble" in final.table.index  # its nested CV is shown beside the models even when not kept
    alone = choose_final(results, inputs, ensemble=False)
    assert alone.kind == "model" and "ensemble" not in alone.table.index
    with pytest.raises(ParameterError, match="no model was kept"):
        choose_final({}, inputs)
