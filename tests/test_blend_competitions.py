"""kit import and kit blend for every competition with prediction tables (issue 25 item 5): two teammates'
predictions on the demo data, made on kit folds, imported and blended by every method the competition takes into
a submission that validates; the recommender refused with its reason."""
import numpy as np
import pandas as pd
import pytest

from kitlib import blend, imports, run, submit
from kitlib.competitions import BUILT_IN, get_competition
from kitlib.competitions.rows import fold_settings, row_tables
from kitlib.errors import ParameterError

METHODS = {  # what each competition takes: one fold (images, clocks) only mean and rank; rank for order metrics
    "sentiment-classification": ("mean", "rank", "hill", "stack"),
    "llm-science-exam": ("mean", "rank", "hill", "stack"),
    "somd-ner": ("mean", "hill", "stack"),
    "image-classification": ("mean", "rank"),
    "tell-the-time": ("mean",),
}
REFUSED = {"somd-ner": "rank", "tell-the-time": "rank", "image-classification": "hill"}


def predictions_for(tables, n: int, rng: np.random.Generator) -> np.ndarray:
    """Random predictions in the competition's columns: class probabilities summing to 1, else numbers."""
    if tables.groups:
        return rng.dirichlet(np.ones(len(tables.columns)), size=n)
    return rng.normal(size=(n, len(tables.columns)))


def teammate(comp, tables, folds, folder, seed):
    """Out-of-fold and test files as a teammate writes them: the validated rows (kit folds' units, expanded to the
    prediction tables' rows) with their fold, and every test row."""
    rng = np.random.default_rng(seed)
    keys = [c for c in folds.columns if c != "fold"]
    oof = tables.truth.drop(columns=[c for c in tables.truth.columns if c not in comp.predictions.key]).merge(
        folds, on=keys)
    oof = oof[oof["fold"] >= 0].reset_index(drop=True)
    oof = pd.concat([oof, pd.DataFrame(predictions_for(tables, len(oof), rng), columns=tables.columns)], axis=1)
    test = pd.concat([tables.test, pd.DataFrame(predictions_for(tables, len(tables.test), rng),
                                                columns=tables.columns)], axis=1)
    folder.mkdir(parents=True)
    oof.to_parquet(folder / "oof.parquet")
    test.to_csv(folder / "test.csv", index=False)
    return folder / "oof.parquet", folder / "test.csv"


def data_for(name: str, tmp_path):
    """The demo data, but a smaller SOMD corpus (a stacker over 15 word labels fits slowly on 2 shared cores)."""
    if name != "somd-ner":
        return get_competition(name).resolve_data_dir(None)
    from kitlib.competitions.somd_ner.demo import write_corpus

    return write_corpus(tmp_path / "somd", 100, 20, seed=3)


@pytest.mark.parametrize("name", list(METHODS))
def test_imports_and_blends_of_every_competition_with_prediction_tables(kit_dirs, tmp_path, name):
    comp = get_competition(name)
    data_dir = data_for(name, tmp_path)
    tables = row_tables(comp, data_dir, fold_settings(comp))
    folds = comp.folds(data_dir)
    imported = [imports.import_predictions(comp, *teammate(comp, tables, folds, tmp_path / f"t{i}", i),
                                           data_dir=data_dir).name for i in range(2)]
    for method in METHODS[name]:
        manifest = run.read_manifest(blend.blend(imported, method=method))
        assert manifest["status"] == "ok" and manifest["method"] == method
        assert manifest["cv"]["nested"] == (method in ("hill", "stack"))
        submit.validate_submission(manifest["submission"]["path"], comp, data_dir)
    if name in REFUSED:
        with pytest.raises(ParameterError):
            blend.blend(imported, method=REFUSED[name])


def test_every_built_in_competition_is_blended_or_refused_with_its_reason():
    assert {c.name for c in BUILT_IN} - set(METHODS) == {"recommender"}
    with pytest.raises(ParameterError, match="recommender has no fold assignment to share"):
        get_competition("recommender").folds()
