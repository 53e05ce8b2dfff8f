"""kitlib.tasks.retrieval: cutting a corpus into passages, TF-IDF and embedding search, joined context."""
import os
import subprocess
import sys

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kitlib.errors import DataError, ParameterError  # noqa: E402
from kitlib.tasks.retrieval import PassageRetriever, chunk_corpus, pack_sentences, retrieve_context  # noqa: E402

PASSAGES = ["Olympus Mons on Mars is the largest volcano in the solar system.",
            "Insulin is secreted by beta cells of the pancreas.",
            "The Gram stain separates bacteria by their cell walls."]


# ------------------------------------------------------------------------------------- chunking
def test_chunk_corpus_packs_sentences_with_overlap(tmp_path):
    sentences = [f"Sentence {i} talks about topic {i}." for i in range(10)]  # 6 words each
    (tmp_path / "a.txt").write_text(" ".join(sentences) + "\n\nA second paragraph.")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.txt").write_text("Only one sentence here.")
    chunks = chunk_corpus(tmp_path, chunk_words=18, overlap=1)
    a = chunks[chunks["doc"] == "a.txt"]["text"].tolist()
    assert a[0] == " ".join(sentences[0:3]) and a[1] == " ".join(sentences[2:5])  # 3 sentences, 1 shared
    assert a[-1] == "A second paragraph."  # paragraphs are never merged
    assert all(len(t.split()) <= 18 for t in a)
    assert chunks[chunks["doc"] == "sub/b.txt"]["text"].tolist() == ["Only one sentence here."]
    assert list(chunks.columns) == ["doc", "chunk", "text"]
    assert chunks[chunks["doc"] == "a.txt"]["chunk"].tolist() == list(range(len(a)))  # numbered per document


def test_chunk_corpus_reads_parquet_and_csv_tables(tmp_path):
    table = pd.DataFrame({"title": ["Mars", "Venus"], "text": ["Mars has two moons.", "Venus is hot."]})
    table.to_parquet(tmp_path / "wiki.parquet")
    table.to_csv(tmp_path / "wiki.csv", index=False)
    for name in ("wiki.parquet", "wiki.csv"):
        chunks = chunk_corpus(tmp_path / name)
        assert chunks["text"].tolist() == ["Mars. Mars has two moons.", "Venus. Venus is hot."]
    with pytest.raises(DataError, match="no text column 'body'"):
        chunk_corpus(tmp_path / "wiki.parquet", text_column="body")
    with pytest.raises(DataError, match="not found"):
        chunk_corpus(tmp_path / "nothing-here")
    with pytest.raises(ParameterError, match="chunk_words must be >= 10"):
        chunk_corpus(tmp_path / "wiki.csv", chunk_words=3)
    with pytest.raises(ParameterError, match="overlap must be >= 0 sentences"):
        chunk_corpus(tmp_path / "wiki.csv", overlap=-1)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .txt files in this folder"):
        chunk_corpus(tmp_path / "empty")


def test_pack_sentences_keeps_whole_sentences_and_a_long_one_alone():
    long = "Long " + " ".join(["word"] * 14) + "."
    assert pack_sentences(f"One two three. {long} Four five.", chunk_words=10, overlap=0) == [
        "One two three.", long, "Four five."]
    assert pack_sentences("A b. C d. E f.", chunk_words=10, overlap=1) == ["A b. C d. E f."]
    assert pack_sentences("   ", chunk_words=10, overlap=1) == []


# --------------------------------------------------------------------------------------- search
def test_tfidf_search_ranks_the_passage_sharing_the_words_first():
    retriever = PassageRetriever("tfidf", top_k=2).fit(PASSAGES)
    idx, sims = retriever.search(["pancreas insulin", "volcano on Mars", "bacteria cell walls"])
    assert idx.shape == sims.shape == (3, 2)
    assert idx[:, 0].tolist() == [1, 0, 2]
    assert (sims[:, 0] >= sims[:, 1]).all()
    assert retriever.search(["insulin"], top_k=10)[0].shape == (1, 3)  # never more than the passages


def test_embedding_retrieval_ranks_the_right_passage_first(tmp_path):
    retriever = PassageRetriever("embedding", embed_kwargs={"device": "cpu", "cache_dir": tmp_path}).fit(PASSAGES)
    idx, sims = retriever.search(["Which hormone lowers blood sugar?", "Biggest volcano known"], top_k=2)
    assert idx[:, 0].tolist() == [1, 0]
    assert (sims[:, 0] >= sims[:, 1]).all()
    with pytest.raises(ParameterError, match="Unknown retrieval method 'bm25'"):
        PassageRetriever("bm25").fit(PASSAGES)
    with pytest.raises(ParameterError, match="not fitted"):
        PassageRetriever().search(["x"])
    with pytest.raises(DataError, match="no passages to index"):
        PassageRetriever().fit([])


def test_retrieve_context_joins_the_best_passages_and_cuts_to_the_word_budget():
    retriever = PassageRetriever("tfidf").fit(PASSAGES)
    both = retrieve_context(retriever, ["insulin pancreas volcano"], top_k=2, max_words=1000)
    assert both == [f"{PASSAGES[1]} {PASSAGES[0]}"]  # best first
    assert retrieve_context(retriever, ["insulin pancreas volcano"], top_k=2, max_words=4) == ["Insulin is secreted by"]
    with pytest.raises(ParameterError, match="not fitted"):
        retrieve_context(PassageRetriever(), ["x"])


def test_importing_the_module_does_not_import_scikit_learn_or_torch():
    code = "import sys, kitlib.tasks.retrieval; print('sklearn' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
