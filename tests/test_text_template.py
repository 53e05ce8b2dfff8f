"""kit new for text competitions (template inference, refusals, the tabular warning) and the text template's steps:
folds that never see their validation rows, the budget's plans and cuts under a fake clock, the smoke run end to
end, and the fine-tuned transformer against TF-IDF on a generated set."""
import json
import sys

import numpy as np
import pandas as pd
import pytest
from tabular_sets import write_kaggle_set
from text_sets import write_text_set

from kitlib import cli, runs_table, scaffold, submit
from kitlib.budget import Budget
from kitlib.competitions import get_competition
from kitlib.errors import DataError, ParameterError
from kitlib.fitting import Recipe
from kitlib.folds import CVResult
from kitlib.scaffold import NewOptions
from kitlib.tasks import text
from kitlib.tasks.text import planning


def made(tmp_path, kind, n_train=120, n_test=40):
    return write_text_set(tmp_path / kind, kind, n_train=n_train, n_test=n_test)


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory):
    from tiny_checkpoints import build_checkpoint

    return build_checkpoint("bert", tmp_path_factory.mktemp("tiny") / "bert")


# ------------------------------------------------------------------------------------------ template inference
@pytest.mark.parametrize("kind, columns, task, targets, metric", [
    ("binary", ["text"], "binary", ("target",), "roc_auc"),
    ("binary-labels", ["text"], "binary", ("target",), "accuracy"),
    ("multiclass", ["text"], "multiclass", ("label",), "accuracy"),
    ("multi-label", ["text"], "binary", ("positive", "about_food"), "roc_auc"),
    ("regression", ["text"], "regression", ("rating",), "rmse"),
    ("two-columns", ["title", "body"], "binary", ("target",), "roc_auc"),
])
def test_the_text_template_is_inferred(tmp_path, kind, columns, task, targets, metric):
    found = scaffold.infer_competition("t", NewOptions(made(tmp_path, kind)))
    assert found.template == "text" and found.inputs == {"text_columns": columns}
    p = found.problem
    assert (p.task, p.targets, p.metric, p.features) == (task, targets, metric, ())
    assert any(line.startswith("text:") and "distinct" in line for line in found.notes)
    assert any("left out: ['length']" in line for line in found.notes)
    if kind == "multiclass":
        assert p.labels["label"] == ("film_neg", "film_pos", "food_neg", "food_pos", "neg", "pos")


def test_new_writes_a_text_spec_with_its_group_and_the_cli_prints_the_template(tmp_path, kit_project, capsys):
    folder = made(tmp_path, "grouped")
    assert cli.main(["new", "reviews", "--data-dir", str(folder), "--group", "author", "--platform", "local"]) == 0
    out = capsys.readouterr().out
    assert "template:   text" in out and "text:       text (median" in out
    comp = get_competition("reviews")
    assert comp.template == "text" and dict(comp.inputs) == {"text_columns": ["text"], "group_column": "author"}
    nb = json.loads((kit_project / "notebooks" / "reviews.ipynb").read_text())
    assert nb["metadata"]["kitlib"]["template"] == "text"
    folds = comp.folds(n_folds=3, fold_seed=0)  # kit folds: grouped as the notebook groups them
    authors = pd.read_csv(folder / "train.csv", dtype=str).author
    assert (folds.groupby(authors.to_numpy()).fold.nunique() == 1).all()


@pytest.mark.parametrize("change, options, error, message", [
    (lambda f: f.assign(text=f.text.str.split().str[:2].str.join(" ")), {"template": "text"}, DataError,
     r"train.csv: no text column: its string columns: 'text' \(median \d+ characters, 2 words; \d+% distinct\); a "
     r"text column has a median of at least 30 characters or 5 words and at least 50% distinct values; pass --text"),
    (lambda f: f.drop(columns=["text"]), {"template": "text"}, DataError,
     "train.csv: no text column: it has no string column beside the id and targets"),
    (None, {"text": ("nope",)}, DataError, r"--text column\(s\) \['nope'\] are not columns of both"),
    (None, {"text": ("text",), "template": "tabular"}, ParameterError, "--text names the text columns"),
    (None, {"group": "nope"}, DataError, r"train.csv: no group column 'nope' \(--group\)"),
    (lambda f: f[["id", "target"]], {}, DataError, "train.csv: nothing to train on: no feature or text column"),
])
def test_every_text_refusal_names_what_it_found(tmp_path, change, options, error, message):
    folder = made(tmp_path, "binary")
    if change is not None:
        for name in ("train.csv", "test.csv"):
            frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
            kept = change(frame.assign(target="0")) if name == "test.csv" else change(frame)
            kept = kept.drop(columns=["target"]) if name == "test.csv" else kept
            kept.to_csv(folder / name, index=False)
    with pytest.raises(error, match=message):
        scaffold.infer_competition("t", NewOptions(folder, **options))


def test_a_folder_without_train_csv_or_images_is_refused_naming_what_it_holds(tmp_path):
    folder = tmp_path / "odd"
    (folder / "docs").mkdir(parents=True)
    (folder / "notes.txt").write_text("hello")
    with pytest.raises(DataError, match=r"no train.csv and no images: not a tabular, text or image competition.*"
                                        r"\['docs/', 'notes.txt'\]"):
        scaffold.infer_competition("t", NewOptions(folder))
    with pytest.raises(DataError, match="no images found for the image template"):
        scaffold.infer_competition("t", NewOptions(made(tmp_path, "binary"), template="image"))


def test_a_tabular_competition_whose_string_column_looks_like_text_gets_a_warning(tmp_path, kit_project, capsys):
    folder = made(tmp_path, "binary")
    assert cli.main(["new", "forced", "--data-dir", str(folder), "--template", "tabular"]) == 0
    captured = capsys.readouterr()
    assert "warning:    column 'text' looks like text (median" in captured.err
    assert "--template text --text text" in captured.err and "template:   tabular" in captured.out
    plain = write_kaggle_set(tmp_path / "plain", "binary", n_train=120, n_test=40)
    assert not [n for n in scaffold.infer_competition("p", NewOptions(plain)).notes if n.startswith("warning")]


def test_text_columns_and_their_join():
    frame = pd.DataFrame({"title": ["A day out", None], "body": ["It rained all day long and we stayed in", "ok"]})
    assert text.join_texts(frame, ["body"]) == ["It rained all day long and we stayed in", "ok"]
    assert text.join_texts(frame, ["title", "body"])[1] == "title: \nbody: ok"
    assert text.looks_like_text(pd.Series([f"sentence number {i} has a few words" for i in range(20)]))
    assert not text.looks_like_text(pd.Series(["red", "green", "blue"] * 10))
    assert not text.looks_like_text(pd.Series(["the same long sentence of many words here"] * 10))
    assert not text.looks_like_text(pd.Series([str(i * 1000003) for i in range(30)]))


# ------------------------------------------------------------------------------------------ folds and models
def _loaded(tmp_path, kind="binary", n_train=160):
    found = scaffold.infer_competition("t", NewOptions(made(tmp_path, kind, n_train=n_train)))
    data = text.load(found.problem, tmp_path / kind, found.inputs["text_columns"])
    return found.problem, data, text.text_folds(data, found.problem, 3, 0)


@pytest.mark.parametrize("model", ["tfidf", "embeddings", "transformer"])
def test_a_fold_never_sees_its_validation_rows(tmp_path, tiny_bert, model):
    """Scrambling the validation rows' labels leaves the fold's predictions as they were, and the transformer's
    merged groups keep every row's prediction out of its own group's training rows."""
    from kitlib.tasks.text.linear import embedding_fold, hashed_counts, tfidf_fold

    problem, data, folds = _loaded(tmp_path)
    n = len(data.texts)
    texts = [*data.texts, *data.test_texts]

    def fold_function(y):
        if model == "tfidf":
            return tfidf_fold(problem, hashed_counts(texts, text.TfidfSettings(bits=12)), y, n, text.TfidfSettings())
        if model == "embeddings":
            vectors = np.random.default_rng(0).normal(size=(len(texts), 8))
            return embedding_fold(problem, vectors, y, n)
        from kitlib.tasks.text.transformer import tokenize, transformer_fold

        tokenizer = __import__("transformers").AutoTokenizer.from_pretrained(tiny_bert)
        recipe = Recipe(epochs=1, batch_size=16, lr=1e-3, device="cpu", progress=False, seed=0)
        return transformer_fold(problem, tokenize(tokenizer, texts, 32), y, n, tokenizer.pad_token_id,
                                text.FineTuning(model=str(tiny_bert), recipe=recipe))

    merged = planning.merge_folds(folds, 2)
    train_idx, val_idx = np.flatnonzero(merged != 0), np.flatnonzero(merged == 0)
    assert not set(train_idx) & set(val_idx) and set(folds[val_idx]) == {0, 2}
    scrambled = data.y.copy()
    scrambled[val_idx] = 1 - scrambled[val_idx]
    first = fold_function(data.y)(0, train_idx, val_idx)
    second = fold_function(scrambled)(0, train_idx, val_idx)
    np.testing.assert_allclose(first.val, second.val, rtol=1e-6)
    assert first.val.shape == (len(val_idx), 2) and first.test.shape == (len(data.test_texts), 2)


def test_tokenize_never_fails_and_keeps_the_head_and_the_tail(tiny_bert):
    from transformers import AutoTokenizer

    from kitlib.tasks.text.transformer import tokenize

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    long = " ".join(["alpha"] * 300 + ["omega"])
    ids = tokenize(tokenizer, [long, "", "x" * 5000], 16)
    assert all(len(t) <= 16 for t in ids) and len(ids[1]) == 2
    assert tokenizer.decode(ids[0][-5:-1]).replace(" ", "").endswith("omega")  # the tail survives


def test_the_plan_cuts_epochs_then_folds_then_length_then_rows():
    lengths = np.full(1000, 100)
    speed = planning.Speed(train=1e-4, infer=2e-5)  # 0.01 s per text to train, 0.002 s to predict

    def plan(seconds):
        return planning.plan_fine_tuning(speed, lengths, 1000, 300, 5, 2, 256, seconds)[0]

    assert (plan(1e6).groups, plan(1e6).epochs, plan(1e6).max_length) == (5, 2, 256)
    assert (plan(70).groups, plan(70).epochs) == (5, 1)
    assert (plan(40).groups, plan(40).epochs) == (2, 2)
    assert (plan(25).groups, plan(25).epochs, plan(25).max_length) == (2, 1, 256)
    short = planning.plan_fine_tuning(speed, np.full(1000, 300), 1000, 300, 5, 2, 256, 25)[0]
    assert short.max_length < 256 and short.cuts(5, 2, 256)
    assert plan(15).max_rows is not None and plan(15).max_rows >= planning.MIN_ROWS and plan(15).max_length == 64
    nothing, why = planning.plan_fine_tuning(speed, lengths, 1000, 300, 5, 2, 256, 3)
    assert nothing is None and "s left" in why
    assert list(planning.merge_folds(np.array([0, 1, 2, 3, 4, -1]), 2)) == [0, 1, 0, 1, 0, -1]
    speeds = {False: 1e-3, True: 6e-4}  # 1,000 texts of 100 tokens: 105 s in float, 63 s in int8
    assert planning.plan_embedding(speeds, lengths, 256, 200)[:2] == (256, False)
    assert planning.plan_embedding(speeds, lengths, 256, 80)[:2] == (256, True)
    assert planning.plan_embedding(speeds, lengths, 256, 60)[:2] == (64, True)
    assert planning.plan_embedding(speeds, lengths, 256, 10)[:2] == (None, False)


def test_the_deadline_stops_training_in_time_to_predict_and_says_so():
    from kitlib.tasks.text.transformer import StopAtDeadline
    from kitlib.train import FitState

    now = [0.0]
    budget = Budget(100, clock=lambda: now[0])
    deadline = text.Deadline(budget, reserve_s=10, predict_s=5, folds=2)
    first, last = StopAtDeadline(deadline, 2, "transformer fold 0"), StopAtDeadline(deadline, 1, "transformer fold 1")
    state = FitState(model=None, optimizer=None, epoch=1, step=40)
    now[0] = 80.0  # 20 s left: fold 0 needs 10 + 2 x 5 + 3, fold 1 needs 10 + 5
    first.on_epoch_end(state, {})
    assert state.stop_training and budget.cuts[0]["what"] == "transformer fold 0"
    state.stop_training = False
    last.on_epoch_end(state, {})
    assert not state.stop_training and "step 40" in budget.cuts[0]["reason"] and len(budget.cuts) == 1


def test_a_spent_budget_skips_every_model_and_says_so(tmp_path):
    problem, data, folds = _loaded(tmp_path)
    now = [0.0]
    budget = Budget(10, clock=lambda: now[0])
    now[0] = 11.0
    done = text.run_models(problem, data, folds, text.TextSettings(), budget, say=lambda line: None)
    assert done.cvs == {} and done.skipped == ["tfidf", "embeddings", "transformer"]
    assert [c["what"] for c in budget.cuts] == ["tfidf", "embeddings", "transformer"]
    assert all("spent before it started" in c["reason"] for c in budget.cuts)


def test_the_ensemble_and_the_models_tables(tmp_path):
    problem, data, folds = _loaded(tmp_path, n_train=240)
    settings = text.TextSettings(models=("tfidf",), tfidf=text.TfidfSettings(bits=14))
    done = text.run_models(problem, data, folds, settings, Budget(0), say=lambda line: None)
    noisy = np.random.default_rng(0).random((len(data.y), 2))
    noise = CVResult(oof=noisy / noisy.sum(1, keepdims=True), test=np.full((len(data.test_texts), 2), 0.5),
                     fold_scores=[], score=0.5, models=[], infos=[], folds=folds, fold_ids=[],
                     rows=np.arange(len(folds)))
    done.cvs["noise"] = text.rescore(noise, folds, lambda idx, pred: problem.score(data.y[idx], pred))
    final = text.choose_final(problem, done.cvs, folds, data.y, "val_roc_auc", "max")
    assert final.kind == "model" and final.model == "tfidf" and "ensemble (nested)" in final.table.index
    oof, test = text.model_tables(problem, data, folds, final.oof, final.test)
    assert list(oof.columns) == ["id", "fold", "target", "p_0", "p_1"] and len(test) == len(data.test_texts)
    assert set(text.final_metrics("val_roc_auc", final, done.cvs)) >= {"val_roc_auc", "val_roc_auc_tfidf_cv_mean"}


# ------------------------------------------------------------------------------------------ end to end
@pytest.mark.notebook
def test_new_then_run_in_smoke_mode_end_to_end(tmp_path, kit_project, kit_dirs, tiny_bert):
    folder = made(tmp_path, "binary", n_train=200, n_test=60)
    assert cli.main(["new", "reviews", "--data-dir", str(folder), "--platform", "local"]) == 0
    assert cli.main(["run", "reviews", "-p", "smoke", "true", "-p", "model", str(tiny_bert), "-p", "embed_model",
                     str(tiny_bert), "-q"]) == 0
    (manifest,) = runs_table.list_runs("reviews", include_all=True)
    assert manifest["status"] == "ok" and manifest["cv"]["metric"] == "val_roc_auc"
    assert set(manifest["models"]) == {"tfidf", "embeddings", "transformer"}
    assert manifest["final"]["kind"] in ("model", "ensemble") and isinstance(manifest["cut"], list)
    for name in manifest["models"]:
        assert len(pd.read_parquet(manifest["models"][name]["predictions"]["oof.parquet"])) == 200
    submit.validate_submission(manifest["submission"]["path"], "reviews", folder)
    written = pd.read_csv(manifest["submission"]["path"])
    assert list(written.id) == list(pd.read_csv(folder / "sample_submission.csv").id)
    assert written.target.between(0, 1).all()


def test_the_fine_tuned_transformer_beats_tfidf_on_the_generated_set(tmp_path, capsys):
    """The same folds, the offline MiniLM fine-tuned for one epoch on two merged groups, against TF-IDF + logistic
    regression: the generated reviews hide their sentiment in rare synonyms and negations (figures printed)."""
    problem, data, folds = _loaded(tmp_path, n_train=700)
    recipe = Recipe(epochs=2, lr=8e-5, batch_size=16, warmup=0.1, schedule="linear", weight_decay=0.01, device="cpu",
                    progress=False, seed=0)
    settings = text.TextSettings(models=("tfidf", "transformer"), max_length=48, device="cpu",
                                 tuning=text.FineTuning(recipe=recipe))
    done = text.run_models(problem, data, planning.merge_folds(folds, 2), settings, Budget(0),
                           say=lambda line: print(line, file=sys.stderr))
    tfidf, tuned = done.cvs["tfidf"].score, done.cvs["transformer"].score
    print(f"out of fold roc_auc: tfidf {tfidf:.4f}, transformer {tuned:.4f}", file=sys.stderr)
    assert tuned > tfidf


def test_the_kernel_bundle_carries_the_text_template_and_its_model_folders(tmp_path, kit_project, tiny_bert):
    import zipfile

    from kitlib import kernel

    scaffold.new_competition("reviews", NewOptions(made(tmp_path, "binary"), slug="review-sentiment"))
    out = kernel.build_bundle("reviews", {"time_limit": "600"}, tmp_path / "bundle", username="ada", model=tiny_bert)
    record = json.loads((out / "bundle.json").read_text())
    roles = {a["role"]: a for a in record["datasets"]}
    assert {"default text model", "model"} <= set(roles) and roles["model"]["source"] == str(tiny_bert)
    nb = json.loads((out / "reviews.ipynb").read_text())
    source = "".join("".join(c["source"]) for c in nb["cells"])
    assert f'model = "{roles["model"]["mount"]}"' in source and "time_limit = 600" in source
    assert "text.run_models(problem, data, folds, settings, budget)" in source
    (wheel,) = (out / "kitlib-dataset").glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "kitlib/templates/text.ipynb" in names and "kitlib/tasks/text/transformer.py" in names
