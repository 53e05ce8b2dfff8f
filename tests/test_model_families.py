"""The encoder families by one parameter: BERT (WordPiece), RoBERTa (byte-level BPE), DeBERTa-v3 (a sentencepiece
Unigram model only), ModernBERT (byte-level BPE, no token types) and ELECTRA, as tiny random checkpoints built
offline (tests/tiny_checkpoints.py), through the loaders, the layer-wise groups, the word alignment, the
cross-encoder's truncation, the embedder and both transformer notebooks in smoke mode."""
import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_checkpoints import FAMILIES, tiny_checkpoints  # noqa: E402,F401  (the session fixture)

from kitlib import run  # noqa: E402
from kitlib.competitions import COMPETITIONS  # noqa: E402
from kitlib.execute import execute  # noqa: E402
from kitlib.pretrained import load_pretrained, load_tokenizer, read_settings  # noqa: E402
from kitlib.tasks import multiple_choice as mc  # noqa: E402
from kitlib.tasks import token_classification as tc  # noqa: E402

LABELS = ["O", "B-Application", "I-Application"]


@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_loads_with_fresh_heads_and_groups_by_layer(tiny_checkpoints, family):
    from kitlib import train

    path = tiny_checkpoints[family]
    if family == "deberta-v3":  # as published: a sentencepiece model and no tokenizer.json
        assert (path / "spm.model").is_file() and not (path / "tokenizer.json").exists()
    for kind in ("token-classification", "multiple-choice"):
        net, tokenizer, _ = load_pretrained(path, kind, labels=LABELS, seed=0, fast_tokenizer=True)
        opt = train.make_optimizer(net, lr=1.0, weight_decay=0.01, lr_decay=0.5)
        lrs = sorted({g["lr"] for g in opt.param_groups})
        assert lrs == [0.125, 0.25, 0.5, 1.0]  # embeddings, two layers, head
        embeddings, layers = train.encoder_parts(net)
        assert embeddings is not None and len(layers) == 2
        train.enable_grad_checkpointing(net)


@pytest.mark.parametrize("family", FAMILIES)
def test_words_keep_their_sub_words_and_prefix_space(tiny_checkpoints, family):
    tokenizer = load_tokenizer(tiny_checkpoints[family], fast=True)
    words = ["We", "used", "GraphPadPrism", "9.0.1", "."]
    enc = tc.encode(tokenizer, [words], [["O", "O", "B-Application", "O", "O"]],
                    label_to_id={lab: i for i, lab in enumerate(LABELS)}, max_length=64)
    (window,) = enc.windows
    firsts = [t for t, w in zip(window.input_ids, window.word_index) if w >= 0]
    assert [window.labels[window.word_index.index(i)] for i in range(5)] == [0, 0, 1, 0, 0] and len(firsts) == 5
    if family in ("roberta", "modernbert"):  # byte-level BPE: words inside a sentence start with a space
        pieces = tokenizer.convert_ids_to_tokens(firsts)
        assert all(p.startswith("Ġ") for p in pieces[1:4]), pieces


@pytest.mark.parametrize("family", FAMILIES)
def test_cross_encoder_inputs_truncate_the_prompt_first_and_never_fail(tiny_checkpoints, family):
    tokenizer = load_tokenizer(tiny_checkpoints[family])
    long_prompt = "Which of the following statements best describes photosynthesis in green plants ? " * 8
    df = {"prompt": [long_prompt, "What is DNA ?"], "answer": ["A", "B"]}
    for letter in mc.CHOICES:
        df[letter] = ["It increases .", "DNA carries genetic information ; RNA translates it into proteins . " * 6]
    import pandas as pd

    ds = mc.MultipleChoiceDataset(pd.DataFrame(df), tokenizer, max_length=24)
    option = tokenizer("It increases .", add_special_tokens=False)["input_ids"]
    for i in range(2):
        assert all(len(ids) <= 24 for ids in ds.encodings["input_ids"][i])
    first = ds.encodings["input_ids"][0][0]
    assert len(first) == 24 and first[-len(option) - 1:-1] == option  # the prompt was cut, the option kept whole
    batch = mc.MultipleChoiceCollator(tokenizer.pad_token_id)([ds[0], ds[1]])
    assert batch["input_ids"].shape == (2, 5, 24)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_embedder_takes_every_family(tiny_checkpoints, family):
    from kitlib.embed import embed_texts

    texts = ["Plate tectonics explains earthquakes .", "DNA carries genetic information .", "", "atom " * 400]
    vectors = embed_texts(texts, tiny_checkpoints[family], device="cpu", progress=False)
    assert vectors.shape == (4, 32) and np.isfinite(vectors).all()  # the long text cut to what the model takes
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)


def _check_notebook_run(run_dir, competition, family_dir):
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok", manifest.get("error")
    assert COMPETITIONS[competition].metric in manifest["metrics"]
    assert manifest["params"]["model"] == str(family_dir)
    fold = run_dir / "checkpoints" / "fold0"
    settings = read_settings(fold)
    assert settings["base_model"] == str(family_dir) and "best_epoch" in settings
    assert (fold / "config.json").is_file() and (fold / "model.safetensors").is_file()
    assert (fold / "tokenizer_config.json").is_file()
    return settings


@pytest.mark.notebook
@pytest.mark.parametrize("family", FAMILIES)
def test_somd_notebook_runs_with_each_family(kit_dirs, tiny_checkpoints, family):
    path = tiny_checkpoints[family]
    run_dir = execute("somd-ner", {"smoke": "true", "model": str(path), "freeze_layers": "1", "lr": "1e-3"})
    settings = _check_notebook_run(run_dir, "somd-ner", path)
    assert settings["task"] == "token-classification" and settings["labels"][0] == "O"
    net, _, _ = load_pretrained(run_dir / "checkpoints" / "fold0", "token-classification", labels=settings["labels"])
    assert net.config.num_labels == len(settings["labels"])  # the saved fold model reloads as it was trained


@pytest.mark.notebook
@pytest.mark.parametrize("family", FAMILIES)
def test_science_exam_notebook_runs_with_each_family(kit_dirs, tiny_checkpoints, family):
    path = tiny_checkpoints[family]
    params = {"smoke": "true", "model": str(path), "embed_model": str(path), "lr": "1e-3"}
    run_dir = execute("llm-science-exam", params)
    settings = _check_notebook_run(run_dir, "llm-science-exam", path)
    assert settings["task"] == "multiple-choice" and settings["choices"] == list(mc.CHOICES)
    assert read_settings(run_dir / "checkpoints" / "fold1")["fold"] == 1
