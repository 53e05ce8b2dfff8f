"""Token classification: word/sub-word alignment, windows merged back, decoding, batching, training.

Uses the offline MiniLM tokenizer and a tiny randomly initialised BERT (no download, a few seconds).
"""
import os
from dataclasses import replace

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from kitlib.errors import ParameterError  # noqa: E402
from kitlib.tasks import token_classification as tc  # noqa: E402

LABELS = ["O", "B-Application", "I-Application", "B-Version", "I-Version"]
L2I = {lab: i for i, lab in enumerate(LABELS)}


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tc.default_model_path())


@pytest.fixture
def tiny_model():
    import torch
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, num_labels=len(LABELS))
    return BertForTokenClassification(config)


def _one_hot_from_windows(encoding):
    """What a perfect model would output: per window, a one-hot row per word from the window's labels."""
    rows = []
    for w in encoding.windows:
        ids = [lab for lab, wi in zip(w.labels, w.word_index) if wi >= 0]
        rows.append(np.eye(len(LABELS), dtype=np.float32)[ids])
    return rows


SENTENCES = [
    ["We", "analysed", "everything", "with", "GraphPadPrism", "9.0.1", "."],
    ["Short"],
    ["Reads", "were", "aligned", "with", "Bowtie2", "2.3.5", "and", "counted", "with", "featureCounts", "after",
     "trimming", "with", "Trimmomatic", "version", "0.39", ",", "then", "normalised", "with", "DESeq2", "in", "R",
     "4.1.2", ",", "as", "described", "in", "the", "supplementary", "methods", "."],
]
LAB = [
    ["O", "O", "O", "O", "B-Application", "B-Version", "O"],
    ["O"],
    [{4: "B-Application", 5: "B-Version", 9: "B-Application", 13: "B-Application", 15: "B-Version",
      20: "B-Application", 22: "B-Application", 23: "B-Version"}.get(i, "O") for i in range(32)],
]


def test_label_goes_on_the_first_sub_word_only(tokenizer):
    enc = tc.encode(tokenizer, SENTENCES[:1], LAB[:1], label_to_id=L2I, max_length=64)
    (w,) = enc.windows
    assert w.input_ids[0] == tokenizer.cls_token_id and w.input_ids[-1] == tokenizer.sep_token_id
    pieces = tokenizer.convert_ids_to_tokens(w.input_ids)
    first = pieces.index("graph")  # "GraphPadPrism" -> graph ##pad ##pr ##ism (uncased)
    assert w.labels[first] == L2I["B-Application"] and w.word_index[first] == 4
    n = len(tokenizer.tokenize("GraphPadPrism"))
    assert n > 1 and w.labels[first + 1:first + n] == [-100] * (n - 1)
    assert w.word_index[first + 1:first + n] == [-1] * (n - 1)
    assert w.labels[0] == w.labels[-1] == -100


def test_label_subwords_continues_b_as_i(tokenizer):
    enc = tc.encode(tokenizer, SENTENCES[:1], LAB[:1], label_to_id=L2I, max_length=64, label_subwords=True)
    w = enc.windows[0]
    first = w.word_index.index(4)
    n = len(tokenizer.tokenize("GraphPadPrism"))
    assert w.labels[first:first + n] == [L2I["B-Application"]] + [L2I["I-Application"]] * (n - 1)


@pytest.mark.parametrize("max_length, stride", [(12, 3), (16, 6), (24, 0), (9, 4), (512, 32)])
def test_windows_round_trip_every_word_gets_its_label_back(tokenizer, max_length, stride):
    enc = tc.encode(tokenizer, SENTENCES, LAB, label_to_id=L2I, max_length=max_length, stride=stride)
    assert all(len(w.input_ids) <= max_length for w in enc.windows)
    long_windows = [w for w in enc.windows if w.sentence == 2]
    if max_length < 40:
        assert len(long_windows) > 1  # the long sentence was split ...
        pairs = list(zip(long_windows, long_windows[1:]))
        for a, b in pairs:
            assert b.start > a.start and b.end > a.end and b.start <= a.end  # ... into windows in order
        if stride:
            assert any(b.start < a.end for a, b in pairs)  # that overlap where the sub-words allow
    probs = tc.merge_windows(enc, _one_hot_from_windows(enc))
    assert [p.shape for p in probs] == [(len(s), len(LABELS)) for s in SENTENCES]
    assert tc.decode(probs, LABELS) == LAB


def test_merge_takes_the_most_central_window(tokenizer):
    words = [f"w{i}" for i in range(12)]
    enc = tc.encode(tokenizer, [words], max_length=10, stride=4)  # every word is 2 sub-words ("w", "##0")
    assert len(enc.windows) > 2
    rows = [np.tile(np.eye(len(LABELS), dtype=np.float32)[k % len(LABELS)], (len(w.input_ids) and
            sum(i >= 0 for i in w.word_index), 1)) for k, w in enumerate(enc.windows)]
    merged = tc.merge_windows(enc, rows)[0].argmax(1)
    for word, source in enumerate(merged):
        centrality = [min(word - w.start, w.end - 1 - word) if w.start <= word < w.end else -1 for w in enc.windows]
        assert source == int(np.argmax(centrality)) % len(LABELS)


def test_words_without_sub_words_and_huge_words_still_get_one_label(tokenizer):
    sentences = [["a", "\u200b", "b"], ["x" * 300, "y"]]
    enc = tc.encode(tokenizer, sentences, max_length=16, stride=4)
    zero_width = enc.windows[0]
    assert tokenizer.unk_token_id in zero_width.input_ids
    assert all(len(w.input_ids) <= 16 for w in enc.windows)
    probs = tc.merge_windows(enc, [np.full((sum(i >= 0 for i in w.word_index), 5), 0.2, np.float32)
                                   for w in enc.windows])
    assert [len(p) for p in probs] == [3, 2]


def test_encode_errors(tokenizer):
    with pytest.raises(ParameterError, match="sentence 0: 2 labels for 7 words"):
        tc.encode(tokenizer, SENTENCES[:1], [["O", "O"]], label_to_id=L2I)
    with pytest.raises(ParameterError, match=r"sentence 0: unknown label 'B-Tool'; expected one of \['O', "):
        tc.encode(tokenizer, [["a"]], [["B-Tool"]], label_to_id=L2I)
    with pytest.raises(ParameterError, match="max_length 3 leaves 1 sub-words"):
        tc.encode(tokenizer, [["a"]], max_length=3)
    with pytest.raises(ParameterError, match=r"stride must be in \[0, 8\) for max_length 10; got 8"):
        tc.encode(tokenizer, [["a"]], max_length=10, stride=8)
    with pytest.raises(ParameterError, match="window 0: 1 probability rows for 7 words"):
        enc = tc.encode(tokenizer, SENTENCES[:1])
        tc.merge_windows(enc, [np.ones((1, 5))])


def test_repair_bio():
    assert tc.repair_bio(["O", "I-Version", "I-Version", "B-Application", "I-Version", "I-Application"]) == [
        "O", "B-Version", "I-Version", "B-Application", "B-Version", "B-Application"]
    assert tc.repair_bio(["B-URL", "I-URL"]) == ["B-URL", "I-URL"]


def test_decode_o_threshold_on_hand_made_probabilities():
    #            O     B-App  I-App  B-Ver  I-Ver
    probs = np.array([[0.55, 0.30, 0.05, 0.05, 0.05],   # argmax O; P(O) < 0.6 -> B-Application
                      [0.65, 0.05, 0.25, 0.03, 0.02],   # P(O) >= 0.6 -> O at any threshold up to 0.65
                      [0.40, 0.05, 0.05, 0.10, 0.40],   # tie O / I-Ver: argmax picks O (first); threshold -> I-Ver
                      [0.10, 0.10, 0.10, 0.10, 0.60]])  # I-Version after I-Version: kept
    assert tc.decode([probs], LABELS) == [["O", "O", "O", "B-Version"]]  # stray I- repaired to B-
    assert tc.decode([probs], LABELS, o_threshold=0.6) == [["B-Application", "O", "B-Version", "I-Version"]]
    assert tc.decode([probs], LABELS, o_threshold=0.7) == [["B-Application", "I-Application", "B-Version",
                                                            "I-Version"]]
    with pytest.raises(ParameterError, match=r"probabilities of shape \(4, 3\); expected \(n_words, 5\)"):
        tc.decode([probs[:, :3]], LABELS)
    with pytest.raises(ParameterError, match="outside label 'X' is not among"):
        tc.decode([probs], LABELS, outside="X")


def test_choose_o_threshold_finds_the_threshold_that_recovers_hesitant_entities():
    probs = [np.array([[0.55, 0.45, 0, 0, 0], [0.9, 0.1, 0, 0, 0]]), np.array([[0.8, 0.2, 0, 0, 0]])]
    true = [["B-Application", "O"], ["O"]]
    best, curve = tc.choose_o_threshold(probs, true, LABELS, grid=[0.5, 0.6, 0.85])
    assert curve == {0.5: 0.0, 0.6: 1.0, 0.85: pytest.approx(2 / 3)}
    assert best == 0.6


def test_choose_o_threshold_keeps_plain_argmax_when_no_threshold_helps():
    # the second word is O by argmax, but P(O) is under every threshold of the grid: a false entity
    probs = [np.array([[0.1, 0.9, 0, 0, 0], [0.28, 0.27, 0.2, 0.15, 0.1]])]
    true = [["B-Application", "O"]]
    best, curve = tc.choose_o_threshold(probs, true, LABELS)
    assert sorted(curve) == [0.0, *np.round(np.arange(0.30, 0.951, 0.05), 2).tolist()]
    assert best == 0.0 and curve[0.0] == 1.0 and curve[0.3] == pytest.approx(2 / 3)
    probs = [np.array([[0.2, 0.8, 0, 0, 0], [0.6, 0.1, 0.3, 0, 0]])]  # O by argmax, I-App above 0.6
    best, curve = tc.choose_o_threshold(probs, [["B-Application", "I-Application"]], LABELS)
    assert curve[0.0] == 0.0 and best == 0.65 and curve[0.95] == 1.0  # ties: the closest to 0.5


def test_length_grouped_batches_cover_everything_once_and_reshuffle():
    lengths = np.arange(103) % 17
    sampler = tc.LengthGroupedBatches(lengths, batch_size=8, seed=1, chunk=4)
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 13
    for epoch in (first, second):
        assert sorted(i for b in epoch for i in b) == list(range(103))
    assert first != second
    assert first == list(tc.LengthGroupedBatches(lengths, batch_size=8, seed=1, chunk=4))
    spread = np.mean([np.ptp(lengths[b]) for b in first])
    assert spread < np.ptp(lengths) / 2  # similar lengths share a batch
    ordered = list(tc.LengthGroupedBatches(lengths, 8, shuffle=False))
    assert [lengths[b].max() for b in ordered] == sorted((lengths[b].max() for b in ordered), reverse=True)
    resumed = tc.LengthGroupedBatches(lengths, batch_size=8, seed=1, chunk=4)
    resumed.load_state_dict(sampler.state_dict())  # a resumed fit draws the next epoch's order, not the first
    assert list(resumed) == list(sampler)


def test_collator_pads_inputs_and_labels(tokenizer):
    enc = tc.encode(tokenizer, SENTENCES[:2], LAB[:2], label_to_id=L2I)
    batch = tc.WindowCollator(enc.pad_id)([enc[0], enc[1]])
    width = len(enc.windows[0].input_ids)
    assert batch["input_ids"].shape == batch["labels"].shape == (2, width)
    assert batch["attention_mask"][1].sum() == 3 and batch["input_ids"][1, 3:].eq(enc.pad_id).all()
    assert batch["labels"][1, 3:].eq(-100).all()


def test_batched_sorted_inference_equals_one_by_one(tokenizer, tiny_model):
    enc = tc.encode(tokenizer, SENTENCES, max_length=16, stride=4)
    batched = tc.predict_word_probs(tiny_model, enc, batch_size=4, device="cpu")
    single = tc.predict_word_probs(tiny_model, enc, batch_size=1, device="cpu")
    for a, b in zip(batched, single):
        assert a.shape[1] == len(LABELS)
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-5)


def test_word_vectors_are_the_last_hidden_state_at_first_sub_words_from_the_same_passes(tokenizer, tiny_model):
    import torch

    enc = tc.encode(tokenizer, SENTENCES, max_length=16, stride=4)
    probs, vectors = tc.predict_word_probs_and_vectors(tiny_model, enc, batch_size=4, device="cpu")
    for a, b in zip(probs, tc.predict_word_probs(tiny_model, enc, batch_size=4, device="cpu")):
        np.testing.assert_allclose(a, b, atol=1e-6)
    alone = tc.predict_word_vectors(tiny_model, enc, batch_size=1, device="cpu")
    assert [v.shape for v in vectors] == [(len(s), tiny_model.config.hidden_size) for s in SENTENCES]
    for a, b in zip(vectors, alone):
        np.testing.assert_allclose(a, b, atol=1e-5)
    short = next(i for i, w in enumerate(enc.windows) if w.start == 0 and w.end == len(SENTENCES[w.sentence]))
    win = enc.windows[short]  # a sentence in one window: its words' vectors are the states at their first sub-words
    with torch.no_grad():
        outputs = tiny_model.eval()(input_ids=torch.tensor([win.input_ids]), output_hidden_states=True)
        states = outputs.hidden_states[-1][0]
    first = [t for t, w in enumerate(win.word_index) if w >= 0]
    np.testing.assert_allclose(vectors[win.sentence], states[first].numpy(), atol=1e-5)


def test_freeze_layers(tiny_model):
    n = tc.freeze_layers(tiny_model, 1)
    assert n == sum(p.numel() for p in tiny_model.bert.embeddings.parameters()) + sum(
        p.numel() for p in tiny_model.bert.encoder.layer[0].parameters())
    assert not any(p.requires_grad for p in tiny_model.bert.encoder.layer[0].parameters())
    assert all(p.requires_grad for p in tiny_model.bert.encoder.layer[1].parameters())
    assert all(p.requires_grad for p in tiny_model.classifier.parameters())
    with pytest.raises(ParameterError, match=r"freeze_layers must be in \[0, 2\] for this model; got 3"):
        tc.freeze_layers(tiny_model, 3)


def test_fit_learns_a_trivial_task_and_keeps_the_best_validation_probabilities(tokenizer, tiny_model):
    rng = np.random.default_rng(0)
    names, fillers = ["Stata", "Excel", "Prism"], ["we", "used", "the", "data", "and", "then", "in", "a"]
    sentences, labels = [], []
    for _ in range(60):
        words = list(rng.choice(fillers, size=rng.integers(3, 9)))
        k = int(rng.integers(0, len(words)))
        words.insert(k, str(rng.choice(names)))
        sentences.append(words)
        labels.append(["B-Application" if i == k else "O" for i in range(len(words))])
    train = tc.encode(tokenizer, sentences[:48], labels[:48], label_to_id=L2I, max_length=16, stride=4)
    val = tc.encode(tokenizer, sentences[48:], max_length=16, stride=4)
    recipe = replace(tc.TOKEN_CLASSIFIER_RECIPE, epochs=6, lr=3e-3, batch_size=8, warmup=0.0, progress=False, seed=0)
    result = tc.fit_token_classifier(tiny_model, train, labels=LABELS, val=val, val_labels=labels[48:], recipe=recipe)
    scores = [h["val_entity_f1"] for h in result.history]
    assert result.best_score == max(scores) >= 0.9
    assert result.best_epoch == scores.index(max(scores)) + 1
    assert [len(p) for p in result.val_probs] == [len(s) for s in sentences[48:]]
    assert tc.decode(result.val_probs, LABELS) == tc.decode(tc.predict_word_probs(result.model, val), LABELS)
    assert result.val_vectors is None  # only when asked for
    with pytest.raises(ParameterError, match="give both val"):
        tc.fit_token_classifier(tiny_model, train, labels=LABELS, val=val)


def test_fit_forwards_the_recipe_and_resumes_from_its_checkpoint_folder(tokenizer, tmp_path):
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from kitlib.train import Callback

    sentences = [["we", "used", "Stata", "and", "then", "Excel"], ["the", "data", "in", "Prism"]] * 6
    labels = [["O", "O", "B-Application", "O", "O", "B-Application"], ["O", "O", "O", "B-Application"]] * 6
    train = tc.encode(tokenizer, sentences, labels, label_to_id=L2I, max_length=16, stride=4)
    val = tc.encode(tokenizer, sentences[:2], max_length=16, stride=4)

    def fit(folder, resume=False, **extra):
        torch.manual_seed(0)
        config = BertConfig(vocab_size=30522, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                            intermediate_size=32, num_labels=len(LABELS))
        recipe = replace(tc.TOKEN_CLASSIFIER_RECIPE, epochs=3, lr=3e-3, batch_size=4, progress=False, seed=0,
                         lr_decay=0.8, ema=0.9, eval_every=2)
        return tc.fit_token_classifier(BertForTokenClassification(config), train, labels=LABELS, val=val,
                                       val_labels=labels[:2], recipe=recipe, checkpoint_dir=folder, resume=resume,
                                       **extra)

    whole = fit(tmp_path / "whole")
    assert [h["step"] for h in whole.history] == [2, 3, 4, 6, 8, 9]  # 3 batches an epoch, validated every 2 steps
    assert {"config.json", "model.safetensors", "train_state.pt"} <= {p.name for p in (tmp_path / "whole").iterdir()}

    class Stop(Exception):
        """The end of a Kaggle session, after the fourth evaluation."""

    class StopAfter(Callback):
        def on_epoch_end(self, state, logs):
            if state.evaluations == 4:
                raise Stop("session over")

    with pytest.raises(Stop):
        fit(tmp_path / "cut", callbacks=[StopAfter()])
    resumed = fit(tmp_path / "cut", resume=True)
    strip = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history] for r in (whole, resumed)]
    assert strip[0] == strip[1] and resumed.best_score == whole.best_score
    for a, b in zip(whole.val_probs, resumed.val_probs):
        np.testing.assert_allclose(a, b, atol=1e-6)


def test_load_token_classifier_offline(tmp_path):
    model, tok, _ = tc.load_token_classifier("", LABELS, seed=0)
    assert model.config.num_labels == 5 and model.config.id2label[1] == "B-Application" and tok.is_fast
    with pytest.raises(ParameterError, match="neither a local directory nor in the offline Hugging Face cache"):
        tc.load_token_classifier(str(tmp_path / "nothing-here"), LABELS)


def test_inference_batches_go_longest_first_within_a_token_budget():
    lengths = [10, 50, 3, 3, 20, 600, 7]
    batches = tc.inference_batches(lengths, batch_size=3, max_tokens=60)
    # the 600-token window alone (over budget by itself), 50 alone (2 x 50 > 60), then 3 x 20, then the rest
    assert batches == [[5], [1], [4, 0, 6], [2, 3]]
    assert tc.inference_batches(lengths, batch_size=4, max_tokens=None) == [[5, 1, 4, 0], [6, 2, 3]]


def test_the_package_keeps_its_public_names_and_imports_no_competition():
    import ast
    from pathlib import Path

    assert sorted(tc.__all__) == sorted(name for name in tc.__all__ if hasattr(tc, name))
    assert len(tc.__all__) == 21  # 19, and the recipe and the validation scoring of fit_token_classifier
    for path in Path(tc.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert "competitions" not in (node.module or ""), f"{path.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any("competitions" in a.name for a in node.names), path.name
