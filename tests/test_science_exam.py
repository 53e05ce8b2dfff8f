"""kitlib.competitions.llm_science_exam: the demo set, reading and checking files, retrieval, and the three approaches
(zero-shot similarity, the contrastive OptionScorer, the AutoModelForMultipleChoice cross-encoder), each
trained for a moment on tiny data with kitlib.train."""
import filecmp
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kitlib import submit  # noqa: E402
from kitlib.errors import DataError, ParameterError, SubmissionError  # noqa: E402
from kitlib.metrics import map_at_k  # noqa: E402
from kitlib.competitions import llm_science_exam as se  # noqa: E402

DEMO = se._committed_demo_dir()
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


# ------------------------------------------------------------------------------------ retrieval
def test_chunk_corpus_packs_sentences_with_overlap(tmp_path):
    sentences = [f"Sentence {i} talks about topic {i}." for i in range(10)]  # 6 words each
    (tmp_path / "a.txt").write_text(" ".join(sentences) + "\n\nA second paragraph.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Only one sentence here.")
    chunks = se.chunk_corpus(tmp_path, chunk_words=18, overlap=1)
    a = chunks[chunks["doc"] == "a.txt"]["text"].tolist()
    assert a[0] == " ".join(sentences[0:3]) and a[1] == " ".join(sentences[2:5])  # 3 sentences, 1 shared
    assert a[-1] == "A second paragraph."  # paragraphs are never merged
    assert all(len(t.split()) <= 18 for t in a)
    assert chunks[chunks["doc"] == "sub/b.txt"]["text"].tolist() == ["Only one sentence here."]
    assert list(chunks.columns) == ["doc", "chunk", "text"]


def test_chunk_corpus_reads_parquet_and_csv_tables(tmp_path):
    table = pd.DataFrame({"title": ["Mars", "Venus"], "text": ["Mars has two moons.", "Venus is hot."]})
    table.to_parquet(tmp_path / "wiki.parquet")
    table.to_csv(tmp_path / "wiki.csv", index=False)
    for name in ("wiki.parquet", "wiki.csv"):
        chunks = se.chunk_corpus(tmp_path / name)
        assert chunks["text"].tolist() == ["Mars. Mars has two moons.", "Venus. Venus is hot."]
    with pytest.raises(DataError, match="no text column 'body'"):
        se.chunk_corpus(tmp_path / "wiki.parquet", text_column="body")
    with pytest.raises(DataError, match="not found"):
        se.chunk_corpus(tmp_path / "nothing-here")
    with pytest.raises(ParameterError, match="chunk_words must be >= 10"):
        se.chunk_corpus(tmp_path / "wiki.csv", chunk_words=3)


@pytest.fixture(scope="module")
def demo_chunks():
    return se.chunk_corpus(DEMO / "corpus")


@pytest.fixture(scope="module")
def demo_train():
    return se.read_questions(DEMO / "train.csv", require_answer=True)


def test_tfidf_retrieval_finds_the_passage_that_answers_most_questions(demo_chunks, demo_train):
    retriever = se.PassageRetriever("tfidf").fit(demo_chunks["text"])
    context = se.add_context(demo_train, retriever, top_k=3, max_words=1000)
    found = [row[row["answer"]].lower()[:12] in ctx.lower() for (_, row), ctx in zip(demo_train.iterrows(), context)]
    assert np.mean(found) > 0.7  # the corpus covers the questions and retrieval finds it
    short = se.add_context(demo_train.head(3), retriever, top_k=2, max_words=20)
    assert all(len(c.split()) <= 20 for c in short)


def test_embedding_retrieval_ranks_the_right_passage_first(tmp_path):
    passages = ["Olympus Mons on Mars is the largest volcano in the solar system.",
                "Insulin is secreted by beta cells of the pancreas.",
                "The Gram stain separates bacteria by their cell walls."]
    retriever = se.PassageRetriever("embedding", embed_kwargs={"device": "cpu", "cache_dir": tmp_path}).fit(passages)
    idx, sims = retriever.search(["Which hormone lowers blood sugar?", "Biggest volcano known"], top_k=2)
    assert idx[:, 0].tolist() == [1, 0]
    assert (sims[:, 0] >= sims[:, 1]).all()
    with pytest.raises(ParameterError, match="Unknown retrieval method 'bm25'"):
        se.PassageRetriever("bm25").fit(passages)
    with pytest.raises(ParameterError, match="not fitted"):
        se.PassageRetriever().search(["x"])


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
    context = se.add_context(df, se.PassageRetriever("tfidf").fit(demo_chunks["text"]), top_k=2)
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
    model = se.OptionScorer(16, hidden=8).eval()
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
    model = se.OptionScorer(d, hidden=64, dropout=0.0)
    result = train.fit(model, train.tensor_loader(q[tr], o[tr], y[tr], batch_size=32, shuffle=True, seed=0),
                       val=train.tensor_loader(q[va], o[va], y[va], batch_size=64), loss_fn=torch.nn.CrossEntropyLoss(),
                       metric=se.map3_metric, metric_name="map_at_3", epochs=30, lr=3e-3, progress=False, seed=0,
                       device="cpu")
    logits = train.predict(model, train.tensor_loader(q[va], o[va], y[va], batch_size=64), device="cpu")
    zero_shot = se.map3_metric(y[va], se.option_scores(q[va], o[va]))
    assert se.map3_metric(y[va], logits) > max(0.8, zero_shot + 0.3)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def test_importing_the_task_module_does_not_import_torch():
    code = "import sys, kitlib.competitions.llm_science_exam as s; s.check_submission; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ------------------------------------------------------------------------- c: cross-encoder
@pytest.fixture(scope="module")
def mc_model():
    return se.load_multiple_choice_model(seed=0)


def test_dataset_puts_context_after_the_prompt_and_keeps_options_whole(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    df = demo_train.head(2)
    long_context = ["lorem ipsum " * 200, ""]
    ds = se.MultipleChoiceDataset(df, tokenizer, max_length=40, context=long_context)
    item = ds[0]
    assert len(ds) == 2 and len(item["input_ids"]) == 5 and item["labels"] == "ABCDE".index(df["answer"].iat[0])
    for choice, ids in enumerate(item["input_ids"]):
        assert len(ids) <= 40
        option_ids = tokenizer(df[list("ABCDE")[choice]].iat[0], add_special_tokens=False)["input_ids"]
        assert ids[-len(option_ids) - 1:-1] == option_ids  # the option is the whole second segment
    text = tokenizer.decode(item["input_ids"][0])
    assert text.lower().index(df["prompt"].iat[0].lower()[:15]) < text.index("lorem")
    unlabeled = se.MultipleChoiceDataset(df.drop(columns="answer"), tokenizer, max_length=40)
    assert "labels" not in unlabeled[0]
    with pytest.raises(ParameterError, match="context has 1 entries for 2 questions"):
        se.MultipleChoiceDataset(df, tokenizer, context=["x"])


def test_collator_pads_to_batch_five_longest(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    ds = se.MultipleChoiceDataset(demo_train.head(3), tokenizer, max_length=64)
    batch = se.MultipleChoiceCollator(tokenizer.pad_token_id)([ds[0], ds[1], ds[2]])
    longest = max(len(s) for i in range(3) for s in ds[i]["input_ids"])
    assert batch["input_ids"].shape == (3, 5, longest) == batch["attention_mask"].shape
    assert batch["labels"].tolist() == [ds[i]["labels"] for i in range(3)]
    assert int(batch["attention_mask"].sum()) == sum(len(s) for i in range(3) for s in ds[i]["input_ids"])


def test_cross_encoder_trains_with_kitlib_train(mc_model, demo_train):
    import torch
    from torch.utils.data import DataLoader

    from kitlib import train

    model, tokenizer, _ = mc_model
    df = demo_train.head(6)
    ds = se.MultipleChoiceDataset(df, tokenizer, max_length=48)
    collate = se.MultipleChoiceCollator(tokenizer.pad_token_id)
    loader = DataLoader(ds, batch_size=6, collate_fn=collate)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster on a busy 2-core machine
    try:
        result = train.fit(model, loader, val=loader, metric=se.map3_metric, metric_name="map_at_3", epochs=6,
                           lr=2e-4, schedule="constant", progress=False, seed=0, device="cpu")
    finally:
        torch.set_num_threads(threads)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]  # it learns (here: memorises six questions)
    unlabeled = se.MultipleChoiceDataset(df.drop(columns="answer"), tokenizer, max_length=48)
    logits = se.predict_choices(model, unlabeled, pad_token_id=tokenizer.pad_token_id, batch_size=4, device="cpu")
    assert logits.shape == (6, 5)
    assert np.allclose(logits, train.predict(model, loader, device="cpu"), atol=1e-5)  # labels change nothing
    assert se.map3_metric(se.answer_indices(df["answer"]), logits) > CHANCE


def test_cross_encoder_model_that_is_not_on_disk_fails_clearly():
    with pytest.raises(ParameterError, match="nor in the offline Hugging Face cache"):
        se.load_multiple_choice_model("microsoft/deberta-v3-large-not-downloaded")
