"""kit blend's inputs: RUN, RUN:MODEL, RUN:*, quoted globs over run ids; each picks the right tables."""
import numpy as np
import pytest
from blend_runs import probability, spouse, spouse_run

from kitlib import blend, blend_inputs, run
from kitlib.cli import main
from kitlib.errors import DataError, ParameterError

N = 200
Y = (np.arange(N) % 2).astype(np.int64)
FOLDS = (np.arange(N) // 2) % 4


def scores(strength: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return probability(strength * (Y - 0.5) + rng.normal(size=N))


@pytest.fixture
def runs(kit_dirs, tmp_path, monkeypatch):
    """Two spouse runs; the first keeps three models of different strength."""
    data = tmp_path / "data"
    spouse(data, monkeypatch)
    models = {"linear": scores(0.5, 1), "lightgbm": scores(2.0, 2), "catboost": scores(1.0, 3)}
    first = spouse_run(kit_dirs[0], "spouse-20260101-000000-aaaa", data, models["lightgbm"], Y, FOLDS, models)
    second = spouse_run(kit_dirs[0], "spouse-20260102-000000-bbbb", data, scores(1.5, 4), Y, FOLDS)
    return first, second, models


def test_run_model_and_run_star_pick_the_models_tables(runs):
    first, second, models = runs
    from sklearn.metrics import roc_auc_score

    out = blend.blend([f"{first.name}:linear", f"{first.name}:catboost", second.name], method="mean")
    manifest = run.read_manifest(out)
    assert manifest["inputs"] == [f"{first.name}:linear", f"{first.name}:catboost", second.name]
    own = manifest["input_scores"]
    assert own[f"{first.name}:linear"]["blend_cv"]["score"] == pytest.approx(roc_auc_score(Y, models["linear"]))
    assert own[f"{first.name}:catboost"]["blend_cv"]["score"] == pytest.approx(roc_auc_score(Y, models["catboost"]))
    assert own[f"{first.name}:linear"]["cv_mean"] == 0.5  # what the run recorded for that model
    star = blend_inputs.resolve_inputs([f"{first.name}:*"])
    assert [name for _, _, name in star] == [f"{first.name}:{m}" for m in ("catboost", "lightgbm", "linear")]
    assert [model for _, model, _ in star] == ["catboost", "lightgbm", "linear"]  # by name
    found = blend_inputs.load_input(*star[1])
    assert found.tables_dir == first / "models" / "lightgbm" and found.oof["p_1"].tolist() == pytest.approx(
        models["lightgbm"].tolist())


def test_a_glob_over_run_ids_takes_every_finished_run_it_matches(runs, kit_dirs, tmp_path):
    first, second, _ = runs
    spouse_run(kit_dirs[0], "spouse-20260103-000000-cccc", tmp_path / "data", scores(1.0, 5), Y, FOLDS,
               status="failed")
    assert [name for _, _, name in blend_inputs.resolve_inputs(["spouse-2026*"])] == [first.name, second.name]
    assert [name for _, _, name in blend_inputs.resolve_inputs(["spouse-*:lin*"])] == [f"{first.name}:linear"]
    assert main(["blend", "spouse-*", f"{first.name}:catboost", "--method", "weights"]) == 0
    with pytest.raises(ParameterError, match=r"no finished run in .* matches 'nobody-\*'"):
        blend_inputs.resolve_inputs(["nobody-*"])


def test_a_model_a_run_did_not_keep_is_named_with_the_ones_it_did(runs):
    first, second, _ = runs
    with pytest.raises(DataError, match=rf"run {first.name} has no model 'xgboost' .*; its models: \['catboost', "
                                        r"'lightgbm', 'linear'\]"):
        blend.blend([f"{first.name}:xgboost", second.name])
    with pytest.raises(DataError, match=rf"run {second.name} has no model matching '\*' .*none \(it kept only its "
                                        "submitted predictions\\)"):
        blend.blend([first.name, f"{second.name}:*"])
    with pytest.raises(ParameterError, match=rf"run {first.name}:linear is given twice"):
        blend.blend([f"{first.name}:linear", f"{first.name}:lin*"])
