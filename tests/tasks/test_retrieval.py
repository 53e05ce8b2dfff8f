"""kitlib.tasks.retrieval: cutting a corpus into passages, TF-IDF and embedding search, joined context."""
import os
import subprocess
import sys

import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kitlib.errors import DataError, ParameterError  # noqa: E402
from kitlib.tasks.retrieval import PassageRetriever, chunk_corpus, pack_sentences, retrieve_context, sparse_top_k  # noqa: E402

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
    with pytest.raises(DataError, match="no .txt, .parquet or .csv files in this folder"):
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
    with pytest.raises(ParameterError, match=r"Unknown retrieval method 'lucene'; expected one of \['tfidf', 'bm25'"):
        PassageRetriever("lucene").fit(PASSAGES)
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


# ------------------------------------------------------------------------------ retrieval at scale
def _synthetic_corpus(n: int, seed: int = 0) -> list[str]:
    """Generated passages over a Zipf-like vocabulary of made-up words (no real text)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    vocab = [f"w{i}x" for i in range(300)]
    p = 1.0 / np.arange(1, 301)
    p /= p.sum()
    return [" ".join(rng.choice(vocab, size=12, p=p)) for _ in range(n)]


def test_sparse_tfidf_top_k_equals_the_dense_cosine_top_k():
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer

    passages = _synthetic_corpus(400)
    queries = [" ".join(p.split()[:4]) for p in passages[::37]] + ["nothing in common"]
    idx, sims = PassageRetriever("tfidf", top_k=5).fit(passages).search(queries)
    reference = TfidfVectorizer(ngram_range=(1, 2), stop_words="english", sublinear_tf=True, strip_accents="unicode")
    dense = (reference.fit(passages).transform(queries) @ reference.transform(passages).T).toarray()
    for row, (i, s) in enumerate(zip(idx, sims)):
        np.testing.assert_allclose(s, np.sort(dense[row])[::-1][:5], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(dense[row, i], s, rtol=1e-5, atol=1e-6)
    assert idx[-1].tolist() == [0, 1, 2, 3, 4] and not sims[-1].any()  # no shared word: the first passages, 0


def test_sparse_top_k_orders_ties_by_passage_and_fills_short_rows():
    import numpy as np
    from scipy import sparse

    scores = sparse.csr_matrix(np.array([[0, 2, 0, 2, 1, 3], [0, 0, 0, 0, 0, 0], [0, 0, 5, 0, 0, 0]], dtype=float))
    idx, vals = sparse_top_k(scores, 3)
    assert idx.tolist() == [[5, 1, 3], [0, 1, 2], [2, 0, 1]]
    assert vals.tolist() == [[3, 2, 2], [0, 0, 0], [5, 0, 0]]


def test_bm25_ranks_the_passage_sharing_the_rare_words_first():
    retriever = PassageRetriever("bm25", top_k=2).fit(PASSAGES)
    idx, sims = retriever.search(["pancreas insulin", "volcano on Mars", "bacteria cell walls", "the of and"])
    assert idx.shape == (4, 2) and idx[:3, 0].tolist() == [1, 0, 2]
    assert (sims[:, 0] >= sims[:, 1]).all() and not sims[3].any()  # only stop words: nothing scores


@pytest.mark.parametrize("method", ["tfidf", "bm25"])
def test_the_index_is_kept_in_the_cache_and_reused_for_the_same_corpus(tmp_path, method):
    passages = _synthetic_corpus(200)
    queries = passages[:20]
    first = PassageRetriever(method, top_k=3, cache_dir=tmp_path / "cache").fit(passages)
    again = PassageRetriever(method, top_k=3, cache_dir=tmp_path / "cache").fit(passages)
    assert not first.cached_ and again.cached_ and again.index_dir_ == first.index_dir_
    for a, b in zip(first.search(queries), again.search(queries)):
        assert (a == b).all()
    other = PassageRetriever(method, top_k=3, cache_dir=tmp_path / "cache").fit(passages[:-1])  # another corpus
    assert not other.cached_ and len(list((tmp_path / "cache").iterdir())) == 2
    (first.index_dir_ / "index.json").write_text("{torn")  # a damaged entry is rebuilt, not trusted
    rebuilt = PassageRetriever(method, top_k=3, cache_dir=tmp_path / "cache").fit(passages)
    assert not rebuilt.cached_ and (rebuilt.search(queries)[0] == first.search(queries)[0]).all()


def test_a_read_only_data_folder_gets_its_cache_elsewhere(tmp_path, monkeypatch):
    from kitlib.data import writable_cache_dir

    data = tmp_path / "input" / "wiki"
    data.mkdir(parents=True)
    assert writable_cache_dir(data, "retrieval") == data / ".kitcache" / "retrieval"
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p).startswith(str(tmp_path / "input")) else
                        real_access(p, mode))  # as /kaggle/input is (root ignores file modes)
    monkeypatch.setenv("KIT_CACHE_DIR", str(tmp_path / "working-cache"))
    cache = writable_cache_dir(data, "retrieval")
    assert cache == tmp_path / "working-cache" / "retrieval"
    retriever = PassageRetriever("bm25", cache_dir=cache).fit(PASSAGES)
    assert (retriever.index_dir_ / "index.json").is_file() and not any(data.iterdir())
    assert PassageRetriever("bm25", cache_dir=cache).fit(PASSAGES).cached_


def test_a_corpus_folder_mixes_text_parquet_and_csv_files(tmp_path):
    (tmp_path / "corpus" / "shard").mkdir(parents=True)
    (tmp_path / "corpus" / "notes.txt").write_text("Insulin is secreted by beta cells of the pancreas.")
    pd.DataFrame({"title": ["Mars"], "text": ["Olympus Mons is the largest volcano."]}).to_parquet(
        tmp_path / "corpus" / "shard" / "a.parquet")
    pd.DataFrame({"title": ["Gram stain"], "text": ["It separates bacteria by cell walls."]}).to_csv(
        tmp_path / "corpus" / "b.csv", index=False)
    (tmp_path / "corpus" / ".kitcache").mkdir()
    (tmp_path / "corpus" / ".kitcache" / "junk.csv").write_text("not,a,corpus\n")  # hidden folders are skipped
    chunks = chunk_corpus(tmp_path / "corpus")
    assert chunks["text"].tolist() == ["Gram stain. It separates bacteria by cell walls.",
                                       "Insulin is secreted by beta cells of the pancreas.",
                                       "Mars. Olympus Mons is the largest volcano."]
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "corpus" / "c.csv", index=False)
    with pytest.raises(DataError, match=r"c.csv: no text column 'text'; found \['body'\]"):
        chunk_corpus(tmp_path / "corpus")


@pytest.mark.parametrize("factory", ["Flat", "IVF16,SQ8", "IVF16,PQ8"])
def test_faiss_indexes_find_the_planted_nearest_passage(factory):
    import numpy as np

    from kitlib.tasks.retrieval import build_faiss_index

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(2000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    targets = rng.choice(2000, 50, replace=False)
    queries = vectors[targets] + 0.05 * rng.normal(size=(50, 32)).astype(np.float32)
    index = build_faiss_index(vectors, factory)
    if factory.startswith("IVF"):
        index.nprobe = 16
    _, found = index.search(queries, 5)
    exact = np.argsort(-(queries @ vectors.T), axis=1, kind="stable")[:, :5]
    if factory == "Flat":
        assert (found == exact).all()
    assert np.mean(found[:, 0] == targets) >= 0.9  # compressed: the planted neighbour still comes first


def test_embedding_retrieval_goes_through_faiss_and_is_cached(tmp_path):
    retriever = PassageRetriever("embedding", cache_dir=tmp_path / "index",
                                 embed_kwargs={"device": "cpu", "cache_dir": tmp_path / "emb"}).fit(PASSAGES)
    assert type(retriever.index_).__name__.startswith("IndexFlat")
    again = PassageRetriever("embedding", cache_dir=tmp_path / "index",
                             embed_kwargs={"device": "cpu", "cache_dir": tmp_path / "emb"}).fit(PASSAGES)
    assert again.cached_
    assert again.search(["Which hormone lowers blood sugar?"], top_k=1)[0].tolist() == [[1]]


def test_bm25_search_gives_the_scores_of_bm25s_itself():
    import bm25s
    import numpy as np

    passages = _synthetic_corpus(300, seed=3)
    queries = [" ".join(p.split()[:5]) for p in passages[::29]] + ["w5x w5x w7x"]  # a repeated term counts twice
    retriever = PassageRetriever("bm25", top_k=5).fit(passages)
    idx, sims = retriever.search(queries)
    tokens = bm25s.tokenize(queries, stopwords="en", return_ids=False, show_progress=False)
    _, ref_sims = retriever.index_.retrieve(tokens, k=5, show_progress=False)
    np.testing.assert_allclose(sims, ref_sims, rtol=1e-5)  # the same best scores...
    for row, query, s in zip(idx, tokens, sims):  # ...of the passages named (ties may name another)
        np.testing.assert_allclose(retriever.index_.get_scores(query)[row] if query else 0 * s, s, rtol=1e-5)


class _Planted:
    """Unpickling this writes a marker file: what a pickle planted in a corpus's cache could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        from pathlib import Path

        return (Path(self.marker).write_text, ("code ran",))


def test_a_vectorizer_pickle_planted_in_the_index_cache_is_never_unpickled(tmp_path):
    """The TF-IDF index used to keep its vectorizer as vectorizer.pkl beside the corpus and unpickle it on the next
    fit: whoever could write the cache could run code. Now no cache file is a pickle; a planted one is ignored."""
    import pickle

    passages = _synthetic_corpus(60)
    first = PassageRetriever("tfidf", top_k=3, cache_dir=tmp_path / "cache").fit(passages)
    marker = tmp_path / "marker"
    (first.index_dir_ / "vectorizer.pkl").write_bytes(pickle.dumps(_Planted(marker)))
    for key in ("1", "2"):  # the old layout, where an earlier version of the kit would look
        old = tmp_path / "cache" / f"tfidf-old-{key}"
        old.mkdir()
        (old / "vectorizer.pkl").write_bytes(pickle.dumps(_Planted(marker)))
    again = PassageRetriever("tfidf", top_k=3, cache_dir=tmp_path / "cache").fit(passages)
    assert again.cached_ and not marker.exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.read_bytes()[:2] == b"\x80\x04"
                and p.name != "vectorizer.pkl"]  # nothing the kit wrote is a pickle
    assert (again.search(passages[:5])[0] == first.search(passages[:5])[0]).all()
