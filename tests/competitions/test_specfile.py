"""competitions/<name>.toml (kitlib.competitions.specfile): read, checked key by key, first-class in the registry,
and the submission rules it declares enforced by kit submit."""
import tomllib

import pandas as pd
import pytest
from tabular_sets import write_kaggle_set

from kitlib import cli, scaffold, submit
from kitlib.competitions import COMPETITIONS, get_competition, specfile
from kitlib.errors import ParameterError, SubmissionError


@pytest.fixture
def spec(tmp_path, kit_project):
    """A binary competition made by kit new; returns (spec path, data folder)."""
    folder = write_kaggle_set(tmp_path / "set", "binary", 80, 30)
    path, _, _ = scaffold.new_competition("playground", folder)
    return path, folder


def test_a_written_spec_reads_back_as_a_competition(spec):
    path, folder = spec
    comp = specfile.load_spec(path)
    assert (comp.name, comp.platform, comp.slug, comp.metric, comp.mode) == ("playground", "kaggle", "playground",
                                                                             "val_roc_auc", "max")
    sub = comp.submission
    assert sub.columns == ("id", "target") and sub.key == ("id",) and sub.ranges == {"target": (0.0, 1.0)}
    assert sub.sample == "sample_submission.csv" and comp.source == str(path)
    assert comp.resolve_data_dir("") == folder and comp.default_data_dir == folder
    assert comp.predictions.key == ("id",) and comp.tabular.labels == {"target": ("0", "1")}
    assert specfile.load_spec(path) is comp  # cached until the file changes
    assert path.read_text().startswith("# A competition for kitlib, written by `kit new`")


def test_the_registry_lists_spec_competitions_after_the_built_in_ones(spec, capsys):
    assert list(COMPETITIONS)[-1] == "playground" and "playground" in COMPETITIONS
    assert get_competition("playground").tabular.targets == ("target",)
    with pytest.raises(ParameterError, match=r"Unknown competition 'nope'; expected one of \[.*'playground'"):
        get_competition("nope")
    assert cli.main(["competitions"]) == 0
    assert "playground" in capsys.readouterr().out


def test_a_relative_data_dir_is_relative_to_the_project(spec, kit_project):
    path, folder = spec
    target = kit_project / "data" / "playground"
    target.parent.mkdir(parents=True)
    folder.rename(target)
    text = path.read_text().replace(f'data_dir = "{folder}"', 'data_dir = "data/playground"')
    path.write_text(text)
    assert specfile.load_spec(path).resolve_data_dir("") == target


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(colour="red"), r"unknown key 'colour'; expected one of \['class_columns', 'columns'"),
    (lambda d: d["submission"].update(order="id"), r"unknown key 'submission.order'; expected one of \['allowed'"),
    (lambda d: d.update(platform="codalab"),
     r"key 'platform': 'codalab' is not one of \['kaggle', 'aicrowd', 'local'\]"),
    (lambda d: d.update(metric="auc"), r"key 'metric': unknown metric 'auc'; expected one of"),
    (lambda d: d.update(direction="min"), r"key 'direction': 'min', but roc_auc is better when higher \('max'\)"),
    (lambda d: d.update(task="regression"), r"metric 'roc_auc' scores probabilities; a regression problem"),
    (lambda d: d["columns"].update(targets="target"), r"key 'columns.targets' must be a list of strings; got 'target'"),
    (lambda d: d["submission"]["ranges"].update(target=[1, 0]),
     r"key 'submission.ranges.target' must be a list of two"),
    (lambda d: d["labels"].update(target=["1"]), r"target 'target' needs at least two labels"),
    (lambda d: d.pop("metric"), r"missing key 'metric'"),
    (lambda d: d["columns"].pop("id"), r"missing key 'columns.id'"),
    (lambda d: d["submission"].update(key=["row"]), r"key 'submission': columns \['id', 'target'\] must name every"),
    (lambda d: d.update(files="train.csv"), r"key 'files' must be a table; got 'train.csv'"),
])
def test_a_bad_key_or_value_is_an_error_naming_the_file_and_the_key(spec, change, message):
    import tomli_w

    path, _ = spec
    doc = tomllib.loads(path.read_text())
    change(doc)
    path.write_text(tomli_w.dumps(doc))
    with pytest.raises(ParameterError, match=f"{path}: .*{message}" if "must be" in message else message) as info:
        get_competition("playground")
    assert str(path) in str(info.value)


def test_broken_files_and_names(kit_project, capsys):
    folder = kit_project / "competitions"
    folder.mkdir(parents=True)
    (folder / "broken.toml").write_text("platform = [unclosed\n")
    with pytest.raises(ParameterError, match=r"broken.toml: not a TOML file"):
        get_competition("broken")
    get_competition("sentiment-classification")  # a broken spec stops only what uses it
    (folder / "Upper Case.toml").write_text("")
    with pytest.raises(ParameterError, match=r"Upper Case.toml: 'Upper Case' is not a competition name"):
        specfile.load_spec(folder / "Upper Case.toml")
    (folder / "recommender.toml").write_text("")
    with pytest.raises(ParameterError, match=r"recommender.toml: 'recommender' is a built-in competition"):
        specfile.load_spec(folder / "recommender.toml")
    assert get_competition("recommender").source == ""  # the built-in one wins
    assert cli.main(["competitions"]) == 2  # the good ones listed, each bad one named
    out, err = capsys.readouterr()
    assert "sentiment-classification" in out and "broken.toml: not a TOML file" in err
    assert "Upper Case.toml: 'Upper Case' is not a competition name" in err


def sample_based(folder, **columns):
    sample = pd.read_csv(folder / "sample_submission.csv", dtype=str)
    return sample.assign(**columns)


@pytest.mark.parametrize("values, message", [
    (["0.5"] * 29 + ["1.5"], r"column 'target': '1.5' in row\(s\) 30 is not a number in \[0, 1\]"),
    (["NaN"] + ["0.5"] * 29, r"column 'target': 'NaN' in row\(s\) 1 is not a number in \[0, 1\]"),
    (["high"] * 2 + ["0.5"] * 28, r"'high' in row\(s\) 1, 2 is not a number"),
])
def test_submissions_are_validated_against_the_declared_ranges(spec, kit_dirs, tmp_path, values, message):
    path, folder = spec
    bad = tmp_path / "bad.csv"
    sample_based(folder, target=values).to_csv(bad, index=False)
    with pytest.raises(SubmissionError, match=message):
        submit.submit(str(bad), "playground")
    good = tmp_path / "good.csv"
    sample_based(folder, target="0.25").to_csv(good, index=False)
    row = submit.submit(str(good), "playground")  # the recorded data folder holds the sample
    assert row["competition"] == "playground" and row["run_id"] is None
    shuffled = sample_based(folder, target="0.25").iloc[::-1]
    shuffled.to_csv(bad, index=False)
    with pytest.raises(SubmissionError, match=rf"column 'id' differs from sample_submission.csv.*compared against "
                                              rf"{folder}/sample_submission.csv"):
        submit.submit(str(bad), "playground")


def test_ranked_and_label_submissions(tmp_path, kit_project, kit_dirs):
    folder = write_kaggle_set(tmp_path / "ranked", "ranked", 80, 10)
    scaffold.new_competition("ranks", folder)
    assert get_competition("ranks").submission.ranked == {"grade": 3}
    out = tmp_path / "ranked.csv"
    sample_based(folder, grade=["top mid low"] * 9 + ["top mid low high"]).to_csv(out, index=False)
    with pytest.raises(SubmissionError, match=r"'top mid low high' in row\(s\) 10 is not up to 3 space-separated "
                                              r"values of \['high', 'low', 'mid', 'top'\]"):
        submit.validate_submission(out, "ranks", folder)
    sample_based(folder, grade=["top mid low"] * 9 + ["top great"]).to_csv(out, index=False)
    with pytest.raises(SubmissionError, match=r"'top great' in row\(s\) 10"):
        submit.validate_submission(out, "ranks", folder)
    sample_based(folder, grade="mid").to_csv(out, index=False)
    submit.validate_submission(out, "ranks", folder)
