"""kit new (kitlib.scaffold): inference from a competition's files, every refusal, the template notebook, and
kit new + kit run end to end in a temporary project folder."""
import json
import os
import re
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from kaggle_sandbox import run_bootstrap
from tabular_sets import write_kaggle_set

from kitlib import cli, runs_table, scaffold, submit
from kitlib.competitions import get_competition
from kitlib.errors import DataError, ParameterError
from kitlib.execute import notebook_parameters

TEMPLATE = scaffold.TEMPLATE_DIR / "tabular.ipynb"


def made(tmp_path, kind, **kw):
    return write_kaggle_set(tmp_path / kind, kind, n_train=kw.pop("n_train", 120), n_test=40, **kw)


@pytest.mark.parametrize("kind, task, targets, labels, metric, holds", [
    ("binary", "binary", ("target",), ("0", "1"), "roc_auc", "probabilities"),
    ("binary-labels", "binary", ("target",), ("0", "1"), "accuracy", "labels"),
    ("multiclass", "multiclass", ("grade",), ("high", "low", "mid", "top"), "accuracy", "labels"),
    ("integer-multiclass", "multiclass", ("quality",), ("3", "4", "5", "6"), "accuracy", "labels"),
    ("per-class", "multiclass", ("target",), ("Class_1", "Class_2", "Class_3", "Class_4"), "log_loss",
     "probabilities"),
    ("regression", "regression", ("price",), None, "rmse", "values"),
    ("multi-target", "binary", ("a", "b"), ("0", "1"), "roc_auc", "probabilities"),
    ("ranked", "multiclass", ("grade",), ("high", "low", "mid", "top"), "map_at_3", "ranked"),
])
def test_inference_on_generated_sets(tmp_path, kind, task, targets, labels, metric, holds):
    found = scaffold.infer(made(tmp_path, kind))
    p = found.problem
    assert (p.id, p.targets, p.task, p.metric, p.holds) == ("id", targets, task, metric, holds)
    assert p.categorical == ("colour",) and p.numeric == ("x1", "x2", "x3", "x4", "x5")
    assert found.dtypes["x1"] == "float64" and found.dtypes["colour"] in ("object", "str")
    for target in targets:
        assert (p.labels.get(target) if labels else None) == labels
    if kind == "per-class":
        assert p.class_columns == {f"Class_{i}": f"Class_{i}" for i in range(1, 5)}
    assert any(line.startswith("metric:") and ("default" in line or "sample holds" in line) for line in found.notes)


def test_class_columns_named_target_underscore_class_and_options(tmp_path):
    folder = made(tmp_path, "per-class")
    sample = pd.read_csv(folder / "sample_submission.csv")
    sample.columns = ["id"] + [f"target_{c}" for c in sample.columns[1:]]
    sample.to_csv(folder / "sample_submission.csv", index=False)
    p = scaffold.infer(folder, metric="roc").problem
    assert p.class_columns["Class_2"] == "target_Class_2" and p.metric == "roc_auc"
    reg = scaffold.infer(made(tmp_path, "integer-multiclass"), metric="rmse").problem
    assert reg.task == "regression" and reg.holds == "values"
    picked = scaffold.infer(made(tmp_path, "regression"), targets=["price"], id="id", metric="rmsle").problem
    assert picked.metric == "rmsle" and picked.targets == ("price",)


def test_files_by_other_names_and_columns_left_out(tmp_path):
    folder = made(tmp_path, "binary")
    train = pd.read_csv(folder / "train.csv").assign(leak=1.0, empty=float("nan"))
    train.to_csv(folder / "tr.csv", index=False)
    pd.read_csv(folder / "test.csv").assign(empty=float("nan")).to_csv(folder / "te.csv", index=False)
    (folder / "sample_submission.csv").rename(folder / "ss.csv")
    found = scaffold.infer(folder, train="tr.csv", test="te.csv", sample="ss.csv")
    assert "leak" not in found.problem.features and "empty" not in found.problem.features
    assert "left out: ['leak']" in found.notes[-1] and "empty in tr.csv, left out: ['empty']" in found.notes[-1]
    assert found.problem.files == {"train": "tr.csv", "test": "te.csv", "sample": "ss.csv"}


def edit(folder, name, change):
    frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
    change(frame).to_csv(folder / name, index=False)


@pytest.mark.parametrize("kind, change, kwargs, error, message", [
    ("binary", None, {"metric": "auc"}, ParameterError, r"unknown metric 'auc'; expected one of \['accuracy'"),
    ("binary", None, {"metric": "m"}, ParameterError, r"ambiguous metric 'm'.*\('m' matches \['macro_f1', 'mae', "
                                                      r"'map_at_3'\]\)"),
    ("per-class", None, {"metric": "rmse"}, ParameterError, r"metric 'rmse' scores values, which does not fit a "
                                                            r"multiclass target with a probability per class"),
    ("regression", None, {"metric": "roc_auc"}, ParameterError,
     r"metric 'roc_auc' scores classes, but train.csv column 'price' holds \d+ distinct numbers.*\['mae', 'rmse'"),
    ("per-class", None, {"metric": "accuracy"}, ParameterError, r"with a probability per class.*\['log_loss', "
                                                                r"'roc_auc'\]"),
    ("multiclass", None, {"metric": "log_loss"}, ParameterError, r"expected one of \['accuracy', 'macro_f1', "
                                                                 r"'map_at_3', 'weighted_f1'\]"),
    ("multiclass", None, {"metric": "rmse"}, DataError, r"train.csv row 1: column 'grade': '\w+' is not a number"),
    ("regression", ("train.csv", lambda f: f.assign(price=f.price.where(f.index != 4, "-3"))), {"metric": "rmsle"},
     ParameterError, "metric 'rmsle' needs targets above -1"),
    ("binary", ("train.csv", lambda f: f.assign(target=f.target.where(f.index != 6, ""))), {}, DataError,
     "train.csv row 7: column 'target' is empty; a target needs a value in every row"),
    ("binary", ("train.csv", lambda f: f.assign(target="1")), {}, DataError, "column 'target' holds one value"),
    ("binary", ("sample_submission.csv", lambda f: f.rename(columns={"id": "key"})), {}, DataError,
     r"test.csv: no id column 'key' \(its columns: \['id', 'x1'"),
    ("binary", ("sample_submission.csv", lambda f: f.rename(columns={"target": "label"})), {}, DataError,
     r"columns \['label'\] are neither columns of train.csv nor the classes of one of its columns \['target'\]"),
    ("binary", ("sample_submission.csv", lambda f: f.assign(id=f.id.where(f.index != 2, "999"))), {}, DataError,
     "sample_submission.csv row 3: column 'id': id '999' is not an id of test.csv"),
    ("binary", ("test.csv", lambda f: f.assign(x4=f.x4.where(f.index != 1, "abc"))), {}, DataError,
     "test.csv row 2: column 'x4': 'abc' is not a number"),
    ("binary", None, {"targets": ["nope"]}, DataError, r"train.csv: no target column\(s\) \['nope'\]"),
    ("multi-target", None, {"targets": ["a"]}, DataError, r"columns \['a', 'b'\] are neither columns"),
    ("binary", ("sample_submission.csv", lambda f: f[["id"]]), {}, DataError, "needs an id column and at least one"),
])
def test_every_refusal_names_what_is_wrong(tmp_path, kind, change, kwargs, error, message):
    folder = made(tmp_path, kind)
    if change:
        edit(folder, *change)
    with pytest.raises(error, match=message):
        scaffold.infer(folder, **kwargs)


def test_targets_of_different_tasks_are_refused(tmp_path):
    folder = made(tmp_path, "multi-target")
    edit(folder, "train.csv", lambda f: f.assign(b=[str(i * 0.37) for i in range(len(f))]))
    with pytest.raises(ParameterError, match=r"targets of different tasks \{'a': 'binary', 'b': 'regression'\}"):
        scaffold.infer(folder)


def test_new_writes_spec_and_notebook_and_refuses_to_overwrite(tmp_path, kit_project, capsys):
    folder = made(tmp_path, "binary")
    assert cli.main(["new", "playground", "--data-dir", str(folder), "--platform", "local"]) == 0
    out = capsys.readouterr().out
    spec, notebook = kit_project / "competitions" / "playground.toml", kit_project / "notebooks" / "playground.ipynb"
    assert f"spec:       {spec}" in out and f"notebook:   {notebook}" in out and "metric:     roc_auc" in out
    comp = get_competition("playground")
    assert comp.platform == "local" and comp.slug == "playground" and comp.notebook_path == notebook
    nb = json.loads(notebook.read_text())
    assert nb["metadata"]["kitlib"]["competition"] == "playground"
    assert 'get_competition("playground")' in "".join(c for cell in nb["cells"] for c in cell["source"])
    with pytest.raises(ParameterError, match=r"playground.toml and .*playground.ipynb already exist\(s\); pass "
                                             r"--force"):
        scaffold.new_competition("playground", folder)
    notebook.unlink()
    with pytest.raises(ParameterError, match="playground.toml already exist"):
        scaffold.new_competition("playground", folder)
    scaffold.new_competition("playground", scaffold.NewOptions(folder, force=True, metric="accuracy"))
    assert get_competition("playground").metric == "val_accuracy" and notebook.is_file()
    assert cli.main(["new", "Bad Name", "--data-dir", str(folder)]) == 2
    assert "competition name 'Bad Name'" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, message", [
    (dict(name="sentiment-classification"), "'sentiment-classification' is a built-in competition"),
    (dict(platform="codalab"), r"Unknown platform 'codalab'; expected one of \['kaggle', 'aicrowd', 'local'\]"),
    (dict(template="images"), r"Unknown template 'images'; expected one of \['tabular', 'text', 'image'\]"),
])
def test_new_refuses_names_platforms_and_templates(tmp_path, kit_project, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        name = kwargs.pop("name", "fine")
        scaffold.new_competition(name, scaffold.NewOptions(made(tmp_path, "binary"), **kwargs))
    assert not (kit_project / "competitions").exists()


def test_the_template_is_short_clean_and_its_parameters_documented():
    nb = json.loads(TEMPLATE.read_text())
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code)
    cell = next(c for c in code if "parameters" in c["metadata"].get("tags", []))
    lines = sum(1 for c in code if c is not cell for line in "".join(c["source"]).splitlines() if line.strip())
    assert lines <= 110, lines
    declared = notebook_parameters(TEMPLATE)
    params = [line for line in "".join(cell["source"]).splitlines() if re.match(r"^\w+\s*:", line)]
    assert len(declared) == len(params) and all("=" not in line.partition("#")[2] for line in params)
    assert {"data_dir", "seed", "fold_seed", "smoke", "device", "submit", "force_submit", "track", "n_folds",
            "n_trials", "models", "model_params", "search", "n_seeds", "final", "time_limit",
            "threads"} <= set(declared)
    assert all(info.get("help") for info in declared.values())


def test_the_kernel_bundle_carries_the_spec_and_the_template(tmp_path, kit_project):
    from kitlib import kernel

    options = scaffold.NewOptions(made(tmp_path, "binary"), slug="playground-series-s9e9")
    scaffold.new_competition("playground", options)
    out = kernel.build_bundle("playground", {"n_trials": "2"}, tmp_path / "bundle", username="ada")
    meta = json.loads((out / "kernel-metadata.json").read_text())
    assert meta["competition_sources"] == ["playground-series-s9e9"]
    nb = nbformat.read(out / "playground.ipynb", as_version=4)
    (wheel,) = (out / "kitlib-dataset").glob("*.whl")
    import zipfile

    assert "kitlib/templates/tabular.ipynb" in zipfile.ZipFile(wheel).namelist()
    done = run_bootstrap(out, nb.cells[1].source, "from kitlib.competitions import get_competition\n"
                         "c = get_competition('playground')\nprint(c.metric, c.slug, c.tabular.targets)", tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "val_roc_auc playground-series-s9e9 ('target',)"


@pytest.mark.notebook
def test_new_then_run_in_smoke_mode_end_to_end(tmp_path, kit_project, kit_dirs, capsys):
    folder = made(tmp_path, "multiclass", n_train=300)
    assert cli.main(["new", "grades", "--data-dir", str(folder), "--metric", "weighted_f1"]) == 0
    assert cli.main(["competitions"]) == 0
    assert "grades" in capsys.readouterr().out
    assert cli.main(["run", "grades", "-p", "smoke", "true", "-p", "n_trials", "2", "-q"]) == 0
    (manifest,) = runs_table.list_runs("grades", include_all=True)
    assert manifest["status"] == "ok" and manifest["competition"] == "grades" and manifest["data_dir"] == str(folder)
    assert manifest["cv"]["metric"] == "val_weighted_f1" and len(manifest["cv"]["folds"]) == 2
    assert manifest["score"] == manifest["metrics"]["val_weighted_f1"]
    models = {"linear", "lightgbm", "catboost", "xgboost", "hgb", "mlp", "lightgbm_optuna"}
    assert {f"val_weighted_f1_{m}" for m in models} <= set(manifest["metrics"])
    assert set(manifest["models"]) == models and manifest["final"]["kind"] in ("model", "ensemble")
    assert_models_tables(manifest)
    path = manifest["submission"]["path"]
    submit.validate_submission(path, "grades", folder)
    written = pd.read_csv(path, dtype=str)
    assert list(written.columns) == ["id", "grade"] and set(written.grade) <= {"high", "low", "mid", "top"}
    assert list(written.id) == list(pd.read_csv(folder / "sample_submission.csv", dtype=str).id)
    assert cli.main(["submit", path]) == 0  # found by its path: the run's competition, data and score
    row = submit.read_ledger().iloc[-1]
    assert row.run_id == manifest["run_id"] and float(row.score) == pytest.approx(manifest["score"])
    assert cli.main(["run", "grades", "-p", "smoke", "true", "-p", "model_params", "linear.C 0.1", "-q"]) == 0
    runs = [m["run_id"] for m in runs_table.list_runs("grades", include_all=True)]
    assert cli.main(["blend", *runs]) == 0  # the spec's Predictions score and write the blend
    (blended,) = [m for m in runs_table.list_runs("grades", include_all=True) if m.get("kind") == "blend"]
    submit.validate_submission(blended["submission"]["path"], "grades", folder)
    (kit_project / "notebooks" / "grades.ipynb").unlink()
    with pytest.raises(ParameterError, match=r"the notebook of 'grades' does not exist: .*kit new grades"):
        from kitlib.execute import execute

        execute("grades", {})


def assert_models_tables(manifest):
    """Every model of the run has its tables under models/<model>/, with the run's keys, folds and columns."""
    run_dir = Path(os.environ["KIT_RUNS_DIR"]) / manifest["run_id"]
    oof, test = pd.read_parquet(run_dir / "oof.parquet"), pd.read_parquet(run_dir / "test_predictions.parquet")
    for name, record in manifest["models"].items():
        m_oof = pd.read_parquet(run_dir / "models" / name / "oof.parquet")
        m_test = pd.read_parquet(run_dir / "models" / name / "test_predictions.parquet")
        assert list(m_oof.columns) == list(oof.columns) and list(m_test.columns) == list(test.columns), name
        assert m_oof["id"].equals(oof["id"]) and m_oof["fold"].equals(oof["fold"]) and m_test["id"].equals(test["id"])
        assert record["cv"]["metric"] == manifest["cv"]["metric"] and record["seconds"] >= 0
        assert len(record["best_iterations"]) == len(manifest["cv"]["folds"])


@pytest.mark.notebook
def test_two_smoke_runs_give_the_same_submission_bytes_and_keep_every_model(tmp_path, kit_project, kit_dirs):
    folder = made(tmp_path, "regression", n_train=300)
    assert cli.main(["new", "prices", "--data-dir", str(folder)]) == 0
    for _ in range(2):
        assert cli.main(["run", "prices", "-p", "smoke", "true", "-q"]) == 0
    first, second = runs_table.list_runs("prices", include_all=True)
    assert first["submission"]["sha256"] == second["submission"]["sha256"]
    assert first["cv"] == second["cv"] and first["final"] == second["final"]
    assert set(first["models"]) == {"linear", "lightgbm", "catboost", "xgboost", "hgb", "mlp", "lightgbm_optuna"}
    assert first["cut"] == [] and first["params"]["time_limit"] == 900
    assert_models_tables(first)
    if first["final"]["kind"] == "ensemble":
        assert first["cv"]["nested"] and abs(sum(first["final"]["weights"].values()) - 1) < 1e-9
    else:
        assert first["cv"] == first["models"][first["final"]["model"]]["cv"]
    submit.validate_submission(first["submission"]["path"], "prices", folder)


# ------------------------------------------------------------------ issue 24: what kit new must refuse, and compare
@pytest.mark.parametrize("rename, column", [({"id": "fold"}, "fold"), ({"target": "p_1"}, "p_1"),
                                            ({"target": "pred_price"}, "pred_price")])
def test_a_column_named_like_the_run_folder_tables_is_refused(tmp_path, rename, column):
    folder = made(tmp_path, "binary")
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        edit(folder, name, lambda f: f.rename(columns=rename))
    with pytest.raises(DataError, match=rf"column '{column}' is named like a column of the run folder's prediction "
                                        r"tables"):
        scaffold.infer(folder)


@pytest.mark.parametrize("name, message", [
    ("fine\n", "competition name 'fine\\\\n'"),
    ("x" * 65, "at most 64 characters"),
    ("a/b", "competition name 'a/b'"),
])
def test_a_competition_name_with_a_newline_separator_or_hundreds_of_characters_is_refused(tmp_path, kit_project, name,
                                                                                        message):
    with pytest.raises(ParameterError, match=message):
        scaffold.new_competition(name, made(tmp_path, "binary"))
    assert not (kit_project / "competitions").exists()


@pytest.mark.parametrize("kwargs, message", [
    ({"train": "../train.csv"}, r"--train '\.\./train\.csv': expected the name of a file in the data folder"),
    ({"sample": "sub/sample.csv"}, r"--sample 'sub/sample\.csv'"),
    ({"slug": "a/b"}, r"slug 'a/b'"),
    ({"slug": "s" * 101}, r"at most 100 characters"),
    ({"slug": "ok-slug\n"}, r"slug 'ok-slug\\n'"),
])
def test_file_names_and_slugs_are_plain(tmp_path, kit_project, kwargs, message):
    with pytest.raises(ParameterError, match=message):
        scaffold.new_competition("fine", scaffold.NewOptions(made(tmp_path, "binary"), **kwargs))
    assert not (kit_project / "competitions").exists()


@pytest.mark.parametrize("name", ["train.csv", "test.csv", "sample_submission.csv"])
def test_a_file_with_only_its_header_is_refused(tmp_path, name):
    folder = made(tmp_path, "binary")
    edit(folder, name, lambda f: f.iloc[:0])
    with pytest.raises(DataError, match=rf"{name} has no rows \(only its header"):
        scaffold.infer(folder)


def test_too_few_rows_per_class_for_the_notebooks_folds_is_refused_naming_the_class(tmp_path):
    folder = made(tmp_path, "multiclass")
    edit(folder, "train.csv", lambda f: f.assign(grade=f.grade.where(f.index > 2, "rare")))
    with pytest.raises(DataError, match=r"train.csv: class 'rare' of column 'grade' has 3 row\(s\); the notebook's "
                                        r"5-fold stratified cross-validation needs at least 5 per class"):
        scaffold.infer(folder)
    edit(folder, "train.csv", lambda f: f.iloc[:2].assign(grade=["low", "mid"]))
    with pytest.raises(DataError, match=r"train.csv: 2 rows; 5-fold cross-validation"):
        scaffold.infer(folder)


@pytest.mark.parametrize("kind, folds", [("regression", 8), ("binary", 5), ("multiclass", 5)])
def test_kit_new_writes_the_tasks_number_of_folds_into_the_notebook(tmp_path, kit_project, kind, folds):
    from kitlib.competitions.rows import fold_settings

    _, notebook, found = scaffold.new_competition("made", scaffold.NewOptions(made(tmp_path, kind)))
    assert scaffold.template_folds("tabular", found.problem.task) == folds
    assert notebook_parameters(notebook)["n_folds"]["default"] == str(folds)
    assert notebook_parameters(TEMPLATE)["n_folds"]["default"] == "5"  # the template itself is unchanged
    assert fold_settings(get_competition("made")).n_folds == folds
    if kind == "regression":  # 7 rows: enough for 5 folds, not for the 8 a regression notebook cross-validates
        few = made(tmp_path / "few", kind)
        edit(few, "train.csv", lambda f: f.iloc[:7])
        with pytest.raises(DataError, match=r"train.csv: 7 rows; 8-fold cross-validation"):
            scaffold.infer(few)


@pytest.mark.parametrize("name, value", [("train.csv", "inf"), ("test.csv", "-inf")])
def test_a_non_finite_number_is_refused_naming_file_row_and_column(tmp_path, name, value):
    folder = made(tmp_path, "regression")
    edit(folder, name, lambda f: f.assign(x3=f.x3.where(f.index != 4, value)))
    with pytest.raises(DataError, match=rf"{name} row 5: column 'x3': '{value}' is not a finite number"):
        scaffold.infer(folder)


def test_targets_are_compared_as_numbers_and_the_metric_follows_the_sample(tmp_path):
    folder = made(tmp_path, "binary")
    edit(folder, "train.csv", lambda f: f.assign(target=f.target.where(f.index % 10 != 3, f.target + ".0")))
    found = scaffold.infer(folder)
    assert found.problem.task == "binary" and found.problem.labels == {"target": ("0", "1")}
    assert found.problem.metric == "roc_auc"  # the sample holds probabilities
    from kitlib.tasks.tabular import load

    data = load(found.problem, folder)
    raw = pd.read_csv(folder / "train.csv", dtype=str).target
    assert (data.y[:, 0] == raw.astype(float).to_numpy()).all()  # "1.0" is the class "1"
    labels = made(tmp_path, "binary-labels")
    edit(labels, "sample_submission.csv", lambda f: f.assign(target="1.0"))
    assert scaffold.infer(labels).problem.metric == "accuracy"  # 1.0 is a label: the sample holds labels
    ints = made(tmp_path, "integer-multiclass")
    edit(ints, "sample_submission.csv", lambda f: f.assign(quality="4.5"))
    assert scaffold.infer(ints).problem.task == "regression"  # numbers that are no labels: values


def test_a_spec_giving_one_column_two_roles_is_refused_when_it_loads(tmp_path, kit_project):
    spec, _, _ = scaffold.new_competition("roles", made(tmp_path, "binary"))
    text = spec.read_text()
    assert 'categorical = []' in text and 'numeric = []' in text  # [features]: overrides, empty when written
    spec.write_text(text.replace('categorical = []', 'categorical = ["x1"]')
                    .replace('numeric = []', 'numeric = ["x1"]'))
    with pytest.raises(ParameterError, match=r"roles.toml: column 'x1' is listed in both features.categorical and "
                                             r"features.numeric"):
        get_competition("roles")


@pytest.mark.parametrize("file_name", ["../outside.csv", "manifest.json", ".hidden.csv", "sub/dir.csv"])
def test_a_spec_file_name_must_be_a_plain_name(tmp_path, kit_project, file_name):
    spec, _, _ = scaffold.new_competition("named", made(tmp_path, "binary"))
    spec.write_text(spec.read_text().replace('file_name = "submission.csv"', f'file_name = "{file_name}"'))
    with pytest.raises(ParameterError, match=r"named.toml: key 'submission.file_name': submission file name"):
        get_competition("named")
