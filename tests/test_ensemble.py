"""kitlib.ensemble: hill climbing, stacking, rank and simplex blends over arrays, scored by nested CV."""
import itertools

import numpy as np
import pytest
from sklearn.metrics import log_loss as sk_log_loss
from sklearn.metrics import roc_auc_score

from kitlib.ensemble import (
    METHODS,
    Ensemble,
    Scorer,
    Settings,
    candidate_weights,
    choose,
    hill_climb,
    metric_scorer,
    nested_cv,
    rank_scale,
    roc_auc_many,
    score_inputs,
    stack,
)
from kitlib.errors import DataError, ParameterError

AUC = metric_scorer("roc_auc")
N = 600
FOLDS = np.arange(N) % 5


def probs(logit: np.ndarray) -> np.ndarray:
    """Binary class probabilities ``[1 - p, p]`` from logits."""
    p = 1.0 / (1.0 + np.exp(-logit))
    return np.stack([1.0 - p, p], axis=-1)


def complementary(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two inputs, each informative on one half of the rows and noise on the other: ``(preds (2, N, 2), y)``."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    signal = 2.0 * (y - 0.5)
    first = np.arange(N) < N // 2
    a = np.where(first, signal + rng.normal(size=N), rng.normal(size=N))
    b = np.where(first, rng.normal(size=N), signal + rng.normal(size=N))
    return np.stack([probs(a), probs(b)]), y


def strong_and_noise(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Five pure-noise inputs, then one strong one (the last)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, N)
    noise = [probs(rng.normal(size=N)) for _ in range(5)]
    return np.stack([*noise, probs(2.0 * (y - 0.5) + rng.normal(size=N))]), y


def copies_and_good(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Twenty noisy copies of one signal, then one good input (the last)."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=N)
    y = (latent + rng.normal(scale=0.7, size=N) > 0).astype(np.int64)
    copies = [probs(latent + rng.normal(scale=3.0, size=N)) for _ in range(20)]
    return np.stack([*copies, probs(latent + rng.normal(scale=0.5, size=N))]), y


# ------------------------------------------------------------------------------------------------- weights
@pytest.mark.parametrize("method", ["mean", "rank", "weights", "hill"])
def test_weights_are_non_negative_and_sum_to_one(method):
    preds, y = copies_and_good()
    for settings in (Settings(), Settings(bags=4, seed=3)):
        ens = choose(method, preds[:8], y, AUC, settings)
        assert ens.weights.shape == (8,) and (ens.weights >= 0).all()
        assert ens.weights.sum() == pytest.approx(1.0, abs=1e-12)


def test_hill_starts_from_the_best_single_input_and_only_climbs():
    preds, y = copies_and_good()
    ens = hill_climb(preds, y, AUC)
    singles = [AUC(y, p) for p in preds]
    assert ens.trace[0].input == int(np.argmax(singles)) and ens.trace[0].score == pytest.approx(max(singles))
    scores = [s.score for s in ens.trace]
    assert all(b > a for a, b in itertools.pairwise(scores))
    assert ens.score == pytest.approx(scores[-1], abs=1e-9)
    assert len(hill_climb(preds, y, AUC, Settings(max_steps=2)).trace) <= 3


def test_hill_on_two_complementary_inputs_beats_both_in_nested_cv():
    preds, y = complementary()
    alone = score_inputs(preds, y, FOLDS, AUC)
    result = nested_cv("hill", preds, y, FOLDS, AUC)
    assert result.cv.mean > max(a.mean for a in alone) + 0.05
    assert result.cv.score > max(a.score for a in alone) + 0.05
    assert result.nested and result.oof.shape == (N, 2) and len(result.fold_ensembles) == 5


def test_hill_keeps_the_strong_input_among_noise_and_its_nested_cv_matches_it():
    preds, y = strong_and_noise()
    strong = score_inputs(preds, y, FOLDS, AUC)[-1]
    result = nested_cv("hill", preds, y, FOLDS, AUC)
    assert result.final.weights[-1] >= 0.9
    assert all(w[-1] >= 0.9 for w in result.fold_weights.values())
    assert abs(result.cv.mean - strong.mean) <= strong.std


@pytest.mark.parametrize("seed", [0, 1])
def test_bagged_hill_over_noisy_copies_and_one_good_input(seed):
    preds, y = copies_and_good(seed)
    best = max(score_inputs(preds, y, FOLDS, AUC), key=lambda s: s.mean)
    result = nested_cv("hill", preds, y, FOLDS, AUC, Settings(bags=20, bag_fraction=0.5, seed=seed))
    assert abs(result.cv.mean - best.mean) <= best.std  # within the best input's fold spread
    assert result.in_sample >= best.score  # in-sample: at least the best input's on the same rows
    assert {s.bag for s in result.final.trace} == set(range(20))


def test_stack_on_two_complementary_inputs_beats_both_in_nested_cv_and_predicts_test_rows():
    preds, y = complementary()
    alone = score_inputs(preds, y, FOLDS, AUC)
    result = nested_cv("stack", preds, y, FOLDS, AUC)
    assert result.cv.mean > max(a.mean for a in alone) + 0.05
    assert result.final.weights is None and result.final.stacker.model_.coef_.shape == (1, 2)
    test = result.predict(preds[:, :7])
    assert test.shape == (7, 2) and np.allclose(test.sum(axis=1), 1.0)


def test_stack_regression_with_ridge_and_multiclass_with_logistic():
    rng = np.random.default_rng(0)
    truth = rng.normal(size=N)
    values = np.stack([truth + rng.normal(scale=s, size=N) for s in (0.5, 1.0)])[:, :, None]
    rmse = metric_scorer("rmse")
    ridge = stack(values, truth, rmse)
    assert ridge.stacker.kind == "ridge" and ridge.score < min(rmse(truth, v) for v in values)
    y = rng.integers(0, 3, N)
    onehot = np.eye(3)[y]
    inputs = np.stack([0.5 * onehot + 0.5 * rng.dirichlet(np.ones(3), size=N) for _ in range(2)])
    multi = stack(inputs, y, metric_scorer("log_loss"))
    assert multi.stacker.kind == "logistic" and np.allclose(multi.predict(inputs).sum(axis=1), 1.0)
    with pytest.raises(ParameterError, match="stacker 'ridge' does regression, not classification"):
        stack(inputs, y, metric_scorer("log_loss"), Settings(stacker="ridge"))


def test_stack_lightgbm_is_an_option():
    pytest.importorskip("lightgbm")
    preds, y = complementary()
    ens = stack(preds, y, AUC, Settings(stacker="lightgbm"))
    assert ens.stacker.kind == "lightgbm" and ens.predict(preds).shape == (N, 2)


# -------------------------------------------------------------------------------------------- refusals
@pytest.mark.parametrize("metric", ["accuracy", "log_loss"])
def test_rank_is_refused_for_metrics_that_score_values(metric):
    preds, y = complementary()
    with pytest.raises(ParameterError, match=rf"order-based metrics only .*'{metric}' scores the values themselves"):
        nested_cv("rank", preds, y, FOLDS, metric_scorer(metric))


def test_rank_averages_ranks_scaled_to_0_1_for_roc_auc():
    preds, y = complementary()
    result = nested_cv("rank", preds, y, FOLDS, AUC)
    scaled = rank_scale(preds)
    assert scaled.min() == 0.0 and scaled.max() == 1.0 and not result.nested
    assert np.allclose(result.final.predict(preds), scaled.mean(axis=0))
    assert rank_scale(np.array([[[0.2, 0.5, 0.3]]]), "rows").tolist() == [[[0.0, 1.0, 0.5]]]


def test_one_validation_fold_takes_only_mean_and_rank():
    preds, y = complementary()
    one = np.zeros(N, dtype=np.int64)
    for method in ("hill", "weights", "stack", lambda p, t, s, c: METHODS["mean"](p, t, s, c)):
        with pytest.raises(ParameterError, match=r"single validation fold \(0\).*use method 'mean' or 'rank'"):
            nested_cv(method, preds, y, one, AUC)
    for method in ("mean", "rank"):
        assert nested_cv(method, preds, y, one, AUC).cv.fold_scores == [pytest.approx(AUC(y, choose(
            method, preds, y, AUC).predict(preds)))]


def test_bad_inputs_are_named():
    preds, y = complementary()
    with pytest.raises(ParameterError, match=r"Unknown ensemble method 'best'; expected one of \['mean', 'rank'"):
        nested_cv("best", preds, y, FOLDS, AUC)
    bad = preds.copy()
    bad[1, 17, 0] = np.nan
    with pytest.raises(DataError, match="input 1, row 17, column 0 is nan"):
        hill_climb(bad, y, AUC)
    with pytest.raises(ParameterError, match="y must hold one row per prediction row"):
        hill_climb(preds, y[:-1], AUC)
    with pytest.raises(ParameterError, match="Unknown stacker 'svm'; expected one of"):
        Settings(stacker="svm")
    with pytest.raises(ParameterError, match="metric 'roc_auc' is better when higher"):
        Scorer(fn=roc_auc_score, mode="min", metric="roc_auc")
    with pytest.raises(ParameterError, match="unknown metric 'auc'"):
        metric_scorer("auc")
    with pytest.raises(ParameterError, match="this hill ensemble combines 2 inputs; got predictions of 3"):
        hill_climb(preds, y, AUC).predict(np.concatenate([preds, preds[:1]]))


# ------------------------------------------------------------------------------------- honesty, sameness
def test_nested_cv_chooses_each_folds_weights_without_its_rows():
    """By construction: a method that records the rows it is given (y carries the row numbers)."""
    seen = []

    def recording(preds, rows, scorer, settings):
        seen.append(set(rows.tolist()))
        return Ensemble("recording", np.full(len(preds), 1.0 / len(preds)), 0.0)

    preds, _ = complementary()
    folds = np.repeat([2, 0, 1], N // 3)
    folds[:5] = -1  # kept out of every fold
    nested_cv(recording, preds, np.arange(N), folds, Scorer(fn=lambda rows, pred: 0.0))
    kept = set(np.flatnonzero(folds >= 0).tolist())
    assert seen == [kept - set(np.flatnonzero(folds == k).tolist()) for k in (0, 1, 2)] + [kept]


@pytest.mark.parametrize("method", ["hill", "weights", "stack"])
def test_a_folds_own_rows_never_change_its_ensemble(method):
    preds, y = complementary()
    before = nested_cv(method, preds, y, FOLDS, AUC)
    changed, y2 = preds.copy(), y.copy()
    rng = np.random.default_rng(9)
    held = FOLDS == 3
    changed[:, held] = probs(rng.normal(size=(2, int(held.sum()))))
    y2[held] = 1 - y2[held]
    after = nested_cv(method, changed, y2, FOLDS, AUC)
    direct = choose(method, preds[:, ~held], y[~held], AUC)  # chosen on the other folds' rows alone
    for ens in (before.fold_ensembles[3], after.fold_ensembles[3]):
        if method == "stack":
            assert np.array_equal(ens.stacker.model_.coef_, direct.stacker.model_.coef_)
        else:
            assert np.array_equal(ens.weights, direct.weights)
        assert ens.score == direct.score


def test_the_same_inputs_give_the_same_ensemble():
    preds, y = copies_and_good()
    settings = Settings(bags=5, seed=7)
    a, b = (nested_cv("hill", preds, y, FOLDS, AUC, settings) for _ in range(2))
    assert np.array_equal(a.oof, b.oof) and np.array_equal(a.final.weights, b.final.weights)
    assert a.final.trace == b.final.trace and a.cv == b.cv
    twins = np.stack([preds[-1], preds[-1], preds[0]])
    assert hill_climb(twins, y, AUC).trace[0].input == 0  # equals: the lowest index


def test_the_fast_path_and_a_kit_problem_score_choose_the_same_hill():
    from kitlib.tasks.tabular.problem import Problem

    problem = Problem(id="id", targets=("y",), task="binary", metric="roc_auc", holds="probabilities",
                      labels={"y": ("0", "1")})
    preds, y = copies_and_good()
    fast = hill_climb(preds, y, metric_scorer("roc_auc"))
    slow = hill_climb(preds, y, metric_scorer(problem.metric, problem.score, fast=False))
    assert np.array_equal(fast.weights, slow.weights) and fast.score == pytest.approx(slow.score, abs=1e-12)


def test_weights_search_the_grid_kit_blend_searched():
    """Equal weights first; a grid of step 0.05 (two inputs) or 0.1 (three, four); else vertices + 1,000 draws."""
    two, three, five = candidate_weights(2), candidate_weights(3), candidate_weights(5, seed=0)
    assert two[0].tolist() == [0.5, 0.5] and len(two) == 1 + 21 and two[1:, 0].tolist() == [i / 20 for i in range(21)]
    assert len(three) == 1 + 66 and np.allclose(three[1:] * 10, np.round(three[1:] * 10))
    assert len(five) == 1 + 5 + 1000 and np.array_equal(five[1:6], np.eye(5))
    assert np.array_equal(five, candidate_weights(5, seed=0)) and not np.array_equal(five, candidate_weights(5, 1))
    for grid in (two, three, five):
        assert (grid >= 0).all() and np.allclose(grid.sum(axis=1), 1.0)
    preds, y = complementary()
    same = np.stack([preds[0], preds[0]])
    assert choose("weights", same, y, AUC).weights.tolist() == [0.5, 0.5]  # ties keep equal weights


# ------------------------------------------------------------------------------------------- fast scores
@pytest.mark.parametrize("seed", range(4))
def test_the_fast_roc_auc_equals_scikit_learns(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(500) < 0.3).astype(np.int64)
    scores = rng.normal(size=(6, 500)) * np.array([[1], [100], [1e-3], [5], [1], [1]])
    scores[3] = np.round(scores[3])  # many ties
    scores[4, :50], scores[4, 50:90] = -0.0, 0.0  # signed zeros are equal
    scores[5] = np.where(rng.random(500) < 0.5, 1e300, 1e-300)  # too spread to scale: the exact rank path
    expected = [roc_auc_score(y, s) for s in scores]
    assert np.abs(roc_auc_many(y, scores) - expected).max() < 1e-9
    multi = rng.integers(0, 4, 500)
    blends = rng.dirichlet(np.ones(4), size=(3, 500))
    assert np.abs(AUC.score_many(multi, blends) - [AUC(multi, b) for b in blends]).max() < 1e-9


def test_the_other_fast_scores_equal_their_metrics():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 300)
    blends = rng.dirichlet(np.ones(2), size=(4, 300))
    fast = metric_scorer("log_loss").score_many(y, blends)
    assert np.abs(fast - [sk_log_loss(y, b[:, 1]) for b in blends]).max() < 1e-9
    values = rng.normal(size=300)
    guesses = rng.normal(size=(3, 300, 1))
    for name in ("rmse", "mae", "log_loss"):
        scorer = metric_scorer(name)
        truth, cands = (values, guesses) if name != "log_loss" else (rng.integers(0, 5, 300),
                                                                       rng.dirichlet(np.ones(5), size=(3, 300)))
        assert scorer.batch(truth, cands.shape[2]) is not None
        assert np.abs(scorer.score_many(truth, cands) - [scorer(truth, c) for c in cands]).max() < 1e-9


def test_per_option_scores_rank_within_rows_for_map_at_3():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 5, 200)
    scores = np.stack([np.eye(5)[y] + rng.normal(size=(200, 5)) for _ in range(3)])  # equally good, independent
    map3 = metric_scorer("map_at_3")
    assert map3.order == "rows" and AUC.order == "columns" and metric_scorer("log_loss").order is None
    folds = np.arange(200) % 4
    ranked = nested_cv("rank", scores, y, folds, map3)
    alone = score_inputs(scores, y, folds, map3)
    assert ranked.cv.score > max(a.score for a in alone)
    assert np.array_equal(rank_scale(scores, "rows").argsort(axis=2), scores.argsort(axis=2))
    hill = nested_cv("hill", scores, y, folds, map3)
    assert hill.final.weights.sum() == pytest.approx(1.0)


def test_the_module_imports_numpy_metrics_and_errors_only():
    """The layering the design asks for: kitlib.tasks and notebooks may import it (scikit-learn and LightGBM lazily,
    inside the stacker)."""
    import ast
    from pathlib import Path

    import kitlib.ensemble

    ours = set()
    for path in Path(kitlib.ensemble.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                ours.add("." * node.level + (node.module or ""))
            elif isinstance(node, ast.ImportFrom | ast.Import) and "kitlib" in ast.unparse(node):
                ours.add(ast.unparse(node))
    assert {o for o in ours if o.startswith("..")} <= {"..errors", "..metrics"}
    assert not {o for o in ours if not o.startswith(".")}
