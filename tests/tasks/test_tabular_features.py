"""The competitor's features (issue 23 item 1): a features module or cell function whose columns reach the models'
frames and feature lists on every generated kind, unused columns named with the reason, the spec's [features]
overrides, specs written before [features] giving the same frames, columns nobody produces refused naming the spec,
count encoding, and target encoding that reads the training rows' targets only."""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pandas as pd
import pytest
from tabular_sets import KINDS, write_kaggle_set

from kitlib.competitions import get_competition
from kitlib.competitions.specfile import spec_document, spec_path, write_spec
from kitlib.errors import DataError, ParameterError
from kitlib.scaffold import infer
from kitlib.tasks import tabular

TITLES = ("Mr", "Mrs", "Miss", "Dr")
FEATURES_MODULE = textwrap.dedent('''
    import pandas as pd

    from kitlib.tasks.tabular import count_encode


    def features(train, test):
        """A ratio, a title taken from a name, a group mean and a count: what competitors derive."""
        means = pd.concat([train, test])[["colour", "x3"]].groupby("colour")["x3"].mean()
        for frame in (train, test):
            frame["ratio"] = frame["x1"] / (1 + frame["x2"].abs())
            frame["title"] = frame["name"].str.extract(r"^(\\w+)\\.", expand=False)
            frame["colour_mean_x3"] = frame["colour"].map(means)
        return count_encode(train, test, ["colour"])
''')


def with_names(folder, seed: int = 0):
    """Add a ``name`` column (a title and a number: distinct in every row) to train.csv and test.csv."""
    rng = np.random.default_rng(seed)
    for file in ("train.csv", "test.csv"):
        frame = pd.read_csv(folder / file, dtype=str, keep_default_na=False)
        titles = rng.choice(TITLES, size=len(frame))
        frame.insert(2, "name", [f"{t}. Person {file[:2]}{i}" for i, t in enumerate(titles)])
        frame.to_csv(folder / file, index=False)
    return folder


def spec_competition(tmp_path, kind: str, name: str, features: dict | None = None, legacy: bool = False,
                     n_train: int = 120):
    """A spec competition for a generated ``kind`` set (with names): ``[features]`` as given, or (``legacy``) the
    ``[columns]`` lists a spec written before ``[features]`` has. Returns ``(data folder, competition)``."""
    folder = with_names(write_kaggle_set(tmp_path / kind, kind, n_train=n_train, n_test=40))
    found = infer(folder)
    doc = spec_document(found.problem, platform="local", slug=name, data_dir=folder, dtypes=found.dtypes,
                        notebook=f"notebooks/{name}.ipynb")
    doc["columns"] = {"id": found.problem.id, "targets": list(found.problem.targets)}
    doc.pop("features", None)
    if legacy:
        doc["columns"].update(numeric=list(found.problem.numeric), categorical=list(found.problem.categorical))
    if features is not None:
        doc["features"] = features
    write_spec(spec_path(name), doc)
    return folder, get_competition(name)


@pytest.mark.parametrize("kind", KINDS)
def test_a_features_module_reaches_the_frames_and_the_feature_lists(tmp_path, kind, capsys):
    folder, comp = spec_competition(tmp_path, kind, "derived")
    module = spec_path("derived").with_name("derived_features.py")
    module.write_text(FEATURES_MODULE)
    code = tabular.features_of("derived", lambda train, test: (train, test))
    assert code.source == str(module) and code.label == str(module)
    data = tabular.load(comp.tabular, folder, code)
    problem = data.problem
    assert problem.categorical == ("colour", "title")  # name (file order: after x1) is left out
    assert problem.numeric == ("x1", "x2", "x3", "x4", "x5", "ratio", "colour_mean_x3", "colour_count")
    assert list(data.X.columns) == list(problem.features) == list(data.X_test.columns)
    raw = pd.read_csv(folder / "train.csv")
    np.testing.assert_allclose(data.X["ratio"], raw.x1 / (1 + raw.x2.abs()))
    assert set(data.X["title"]) == set(TITLES) and set(data.X_test["title"]) <= set(TITLES)
    means = pd.concat([raw, pd.read_csv(folder / "test.csv")]).groupby("colour")["x3"].mean()
    np.testing.assert_allclose(data.X["colour_mean_x3"], raw.colour.map(means))
    assert data.X["colour_count"].dtype == np.float64 and data.X["colour_count"].min() >= 1
    assert data.feature_report == problem.unused == {
        "name": "a distinct value in every row of train.csv (an identifier?)"}
    printed = capsys.readouterr().out
    assert "not used by the models (1):\n  name: a distinct value in every row of train.csv" in printed
    for model in tabular.MODELS:  # the models take the derived columns as they are
        fitted = tabular.fit_models(model, problem, data.X, data.y)
        assert tabular.predict(fitted, problem, data.X_test).shape == (40, len(problem.columns))


def test_columns_the_models_cannot_use_are_named_with_the_reason(tmp_path):
    folder, comp = spec_competition(tmp_path, "binary", "unused")

    def features(train, test):
        for frame in (train, test):
            frame["when"] = pd.Series(pd.date_range("2024-01-01", periods=len(frame))).dt.strftime("%Y-%m-%d")
            frame["stamp"] = pd.date_range("2024-01-01", periods=len(frame))
            frame["day"] = pd.to_datetime(frame["when"]).dt.day_of_week  # the dates made numbers: used
            frame["constant"] = 1.0
            frame["empty"] = np.nan
        train["only_train"] = 1.0
        test["only_test"] = 1.0
        return train.drop(columns=["x5"]), test.drop(columns=["x5"])

    data = tabular.load(comp.tabular, folder, tabular.features_of("unused", features))
    assert data.problem.numeric == ("x1", "x2", "x3", "x4", "day")
    assert data.feature_report == {
        "x5": "removed by the features step",
        "only_test": "not in train.csv",
        "name": "a distinct value in every row of train.csv (an identifier?)",
        "when": "strings that look like dates or times ('2024-01-01'): make numbers of them in the features step",
        "stamp": "datetimes: make numbers of them in the features step (year, month, day of week, ...)",
        "constant": "one value in every row of train.csv",
        "empty": "missing in every row of train.csv",
        "only_train": "not in test.csv",
    }


@pytest.mark.parametrize("kind", ["binary", "regression"])
def test_the_specs_features_table_drops_and_sets_kinds(tmp_path, kind):
    table = {"drop": ["x5", "name"], "categorical": ["x4", "bucket"], "numeric": ["code"]}
    folder, comp = spec_competition(tmp_path, kind, "overrides", features=table)

    def features(train, test):
        assert train["x4"].map(type).eq(str).all()  # a column the spec declares categorical is read as text
        for frame in (train, test):
            frame["bucket"] = (frame["x1"] > 0).astype(int) + (frame["x1"] > 1).astype(int)
            frame["code"] = frame["bucket"].map("{:03d}".format)
        return train, test

    data = tabular.load(comp.tabular, folder, tabular.features_of("overrides", features))
    assert data.problem.categorical == ("x4", "colour", "bucket")  # file order, then the features step's
    assert data.problem.numeric == ("x1", "x2", "x3", "code")
    assert data.feature_report == {"x5": f"dropped by {spec_path('overrides')} ([features] drop)",
                                   "name": f"dropped by {spec_path('overrides')} ([features] drop)"}
    raw = pd.read_csv(folder / "train.csv", dtype=str)
    assert list(data.X["x4"]) == list(raw["x4"])  # the file's text, as written
    assert set(data.X["bucket"]) == {"0", "1", "2"} and set(data.X["code"]) == {0.0, 1.0, 2.0}
    fitted = tabular.fit_models("hgb", data.problem, data.X, data.y)
    assert tabular.predict(fitted, data.problem, data.X_test).shape[0] == 40


@pytest.mark.parametrize("table, legacy", [({"drop": ["nope"]}, False), ({"categorical": ["ghost"]}, False),
                                           ({"numeric": ["ratio", "nope"]}, True)])
def test_a_column_the_spec_names_that_nobody_produces_is_refused_naming_the_file(tmp_path, table, legacy):
    folder, comp = spec_competition(tmp_path, "multiclass", "ghosts", features=table, legacy=legacy)
    named = [c for c in (*table.get("drop", ()), *table.get("categorical", ()), *table.get("numeric", ()))
             if c != "ratio"]

    def ratio(train, test):
        for frame in (train, test):
            frame["ratio"] = frame["x1"] / (1 + frame["x2"].abs())
        return train, test

    with pytest.raises(DataError, match=rf"^{re.escape(str(spec_path('ghosts')))}: column '{named[0]}' is neither a "
                                        r"column of train.csv/test.csv nor one the features step returns"):
        tabular.load(comp.tabular, folder, ratio)


def test_a_named_column_the_test_frame_lacks_and_a_bad_features_step_are_refused(tmp_path):
    folder, comp = spec_competition(tmp_path, "binary", "lacking", features={"numeric": ["extra"]})

    def train_only(train, test):
        train["extra"] = 1.0
        return train, test

    with pytest.raises(DataError, match=r"lacking.toml: column 'extra' is named as a feature but test.csv lacks it"):
        tabular.load(comp.tabular, folder, train_only)
    module = spec_path("lacking").with_name("lacking_features.py")
    for body, said in [("def features(train, test):\n    return train\n", "returned DataFrame; expected a tuple"),
                       ("def features(train, test):\n    return train.head(3), test\n",
                        "returned 3 rows for the 120 of train.csv; it must keep every row"),
                       ("def features(train, test):\n    train['target'] = 1\n    return train, test\n",
                        r"returned a frame for train.csv with column\(s\) \['target'\]: expected distinct text "
                        r"names other than the id")]:
        module.write_text(body)
        with pytest.raises(ParameterError, match=rf"{re.escape(str(module))} {said}"):
            tabular.load(comp.tabular, folder, tabular.features_of("lacking"))
    module.write_text("FEATURES = 1\n")
    with pytest.raises(ParameterError, match=rf"{re.escape(str(module))}: defines no function features\(train, "
                                             r"test\)"):
        tabular.features_of("lacking")


def test_a_spec_naming_the_id_or_a_column_twice_in_features_is_refused(tmp_path):
    for table, said in [({"drop": ["id"]}, "listed in both columns.id and features.drop"),
                        ({"categorical": ["x1"], "numeric": ["x1"]},
                         "listed in both features.categorical and features.numeric")]:
        with pytest.raises(ParameterError, match=rf"roles.toml: column '\w+' is {said}; give each column one role"):
            spec_competition(tmp_path / said[:20], "binary", "roles", features=table)


@pytest.mark.parametrize("kind", KINDS)
def test_a_spec_written_before_features_gives_the_frames_it_gave(tmp_path, kind):
    folder, old = spec_competition(tmp_path / "old", kind, "old", legacy=True)
    _, new = spec_competition(tmp_path / "new", kind, "new", features={"drop": ["name"]})
    assert old.tabular.categorical == ("name", "colour") and old.tabular.numeric == ("x1", "x2", "x3", "x4", "x5")
    before, after = tabular.load(old.tabular, folder), tabular.load(new.tabular, folder)
    assert before.problem.features == ("name", "colour", "x1", "x2", "x3", "x4", "x5") and before.feature_report == {}
    pd.testing.assert_frame_equal(before.X.drop(columns=["name"]), after.X)
    pd.testing.assert_frame_equal(before.X_test.drop(columns=["name"]), after.X_test)
    np.testing.assert_array_equal(before.y, after.y)


def test_an_old_spec_keeps_what_it_left_out_and_takes_derived_columns(tmp_path):
    folder, comp = spec_competition(tmp_path, "regression", "trimmed", legacy=True)
    path = spec_path("trimmed")
    path.write_text(path.read_text().replace('numeric = ["x1", "x2", "x3", "x4", "x5"]', 'numeric = ["x3", "x1"]'))
    comp = get_competition("trimmed")

    def ratio(train, test):
        for frame in (train, test):
            frame["ratio"] = frame["x1"] / (1 + frame["x2"].abs())
        return train, test

    data = tabular.load(comp.tabular, folder, ratio)
    assert data.problem.numeric == ("x3", "x1", "ratio") and data.problem.categorical == ("name", "colour")
    assert list(data.X.columns) == ["name", "colour", "x3", "x1", "ratio"]
    assert data.feature_report == {c: f"not listed in [columns] of {path} (list it there, or remove both lists to "
                                      f"let the kit choose)" for c in ("x2", "x4", "x5")}


def test_features_of_a_cell_function_or_none(tmp_path):
    def features(train, test):
        return train, test

    code = tabular.features_of("nothing-here", features)
    assert code.source == "cell" and code.fn is features and len(code.sha256) == 64
    assert code.record() == {"source": "cell", "sha256": code.sha256}
    assert tabular.features_of("nothing-here").source == "identity"
    # a function whose source cannot be read (run twice from different places) hashes by its code
    made = []
    for where in ("<cell-1>", "<cell-2>", "<cell-3>"):
        k = 2 if where == "<cell-3>" else 1
        body = f"def features(train, test):\n    return train, test.assign(k={k})\n"
        space: dict = {}
        exec(compile(body, where, "exec"), space)
        made.append(tabular.features_of("nothing-here", space["features"]).sha256)
    assert made[0] == made[1] != made[2]
    with pytest.raises(ParameterError, match="expected a function features"):
        tabular.features_of("nothing-here", "not a function")
    with pytest.raises(ParameterError, match="competition name '../x'"):
        tabular.features_path("../x")


def test_count_encode_counts_train_and_test_together():
    train = pd.DataFrame({"c": ["a", "b", np.nan, "a"], "n": [1, 2, 2, 3]})
    test = pd.DataFrame({"c": ["a", np.nan, "z"], "n": [2, 2, 9]})
    out_train, out_test = tabular.count_encode(train, test, ["c", "n"])
    assert list(out_train["c_count"]) == [3, 1, 2, 3] and list(out_test["c_count"]) == [3, 2, 1]
    assert list(out_train["n_count"]) == [1, 4, 4, 1] and list(out_test["n_count"]) == [4, 4, 1]
    assert "c_count" not in train.columns  # the frames given are left as they were
    with pytest.raises(DataError, match=r"count_encode: the test frame has no column\(s\) \['m'\]"):
        tabular.count_encode(train.assign(m=1), test, "m")


def expected_names(kind: str, problem) -> list[str]:
    if kind == "multi-target":
        return ["colour_te_a", "colour_te_b"]
    if problem.task == "multiclass":
        return [f"colour_te_{label}" for label in problem.labels[problem.targets[0]]]
    return ["colour_te"]


@pytest.mark.parametrize("kind", KINDS)
def test_target_encoding_reads_the_training_rows_targets_only(tmp_path, kind):
    from sklearn.preprocessing import TargetEncoder

    folder = write_kaggle_set(tmp_path / kind, kind, n_train=160, n_test=40, seed=3)
    problem = infer(folder).problem
    data = tabular.load(problem, folder)
    train_rows, val_rows = np.arange(110), np.arange(110, 160)
    X, y = data.X, data.y

    def encode(X, y):
        return tabular.target_encode_fold(X.iloc[train_rows], y[train_rows], [X.iloc[val_rows], data.X_test],
                                          ["colour"], problem, seed=7)

    enc_train, (enc_val, enc_test) = encode(X, y)
    names = expected_names(kind, problem)
    assert tabular.target_encoded_names(["colour"], problem) == names
    assert list(enc_val.columns) == [*X.columns, *names] and "colour_te" not in X.columns  # originals kept, copies
    # the validation rows' targets and colours changed: the validation and test rows' values stay the same
    changed_y, changed_X = y.copy(), X.copy()
    changed_y[val_rows] = y[val_rows][::-1] if problem.classification else y[val_rows] * 10 - 3
    changed_X.iloc[val_rows, X.columns.get_loc("colour")] = "red"
    again_train, (again_val, again_test) = encode(changed_X, changed_y)
    pd.testing.assert_frame_equal(again_train, enc_train)
    pd.testing.assert_frame_equal(again_test, enc_test)
    same_colour = enc_val["colour"] == "red"
    np.testing.assert_allclose(again_val[names].to_numpy()[same_colour], enc_val[names].to_numpy()[same_colour])
    # a validation row's value is its colour's, learnt from the training rows: scikit-learn's encoder fitted on them
    reference = enc_val.drop_duplicates("colour").dropna(subset=["colour"])
    colours = reference[["colour"]].astype(object)

    def target(rows, j):
        values = y[rows, j if kind == "multi-target" else 0]
        return (values == j).astype(float) if problem.task == "multiclass" else values

    for j, name in enumerate(names):
        fitted = TargetEncoder(target_type="continuous").fit(X.iloc[train_rows][["colour"]].astype(object),
                                                             target(train_rows, j))
        np.testing.assert_allclose(reference[name], fitted.transform(colours)[:, 0])
    # ... and one fitted on the validation rows too would differ: the check can see a leak
    both = np.concatenate([train_rows, val_rows])
    leaky = TargetEncoder(target_type="continuous").fit(X.iloc[both][["colour"]].astype(object), target(both, 0))
    assert not np.allclose(leaky.transform(colours)[:, 0], reference[names[0]])
    encoded = tabular.with_target_encoding(problem, ["colour"])
    assert encoded.numeric == (*problem.numeric, *names)
    fitted = tabular.fit_models("hgb", encoded, enc_train, y[train_rows])
    assert tabular.predict(fitted, encoded, enc_test).shape == (40, len(problem.columns))


def test_target_encode_columns_and_a_fold_with_one_class():
    problem = tabular.Problem(id="id", targets=("t",), task="binary", metric="roc_auc", holds="probabilities",
                              labels={"t": ("0", "1")}, categorical=("c",), numeric=("x",))
    assert tabular.target_encode_columns(" c, x ,c", problem) == ("c", "x")
    assert tabular.target_encode_columns("", problem) == ()
    with pytest.raises(ParameterError, match=r"target_encode: \['nope'\] are not features of the problem; expected "
                                             r"some of \['c', 'x'\]"):
        tabular.target_encode_columns("c,nope", problem)
    X = pd.DataFrame({"c": ["a", "b", "a", "b"], "x": [1.0, 2.0, 3.0, 4.0]})
    out, (other,) = tabular.target_encode_fold(X, np.ones(4), [X.head(2)], "c", problem)
    assert list(out["c_te"]) == [1.0] * 4 and list(other["c_te"]) == [1.0, 1.0]
    with pytest.raises(DataError, match=r"target_encode: the other frame 1 rows have no column\(s\) \['c'\]"):
        tabular.target_encode_fold(X, np.ones(4), [X[["x"]]], "c", problem)
