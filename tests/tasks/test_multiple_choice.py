"""kitlib.tasks.multiple_choice: option tables and ranked answers, and the AutoModelForMultipleChoice
cross-encoder (dataset, collator, prediction) trained for a moment on six demo questions with kitlib.train."""
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from tiny_checkpoints import plant_code, tiny_checkpoints  # noqa: E402,F401  (the session fixture)

from kitlib.errors import DataError, ParameterError  # noqa: E402
from kitlib.metrics import map_at_k  # noqa: E402
from kitlib.tasks import multiple_choice as mc  # noqa: E402

DEMO = Path(__file__).resolve().parents[2] / "data" / "demo" / "llm-science-exam"  # five options A-E
CHANCE = 11 / 30  # MAP@3 of a random ranking of five options


def map3(targets, logits):
    """MAP@3 of ``(n, 5)`` logits against answer indices."""
    return map_at_k([mc.CHOICES[int(t)] for t in np.ravel(targets)], mc.top_choices(logits), k=3)


@pytest.fixture(scope="module")
def demo_train():
    return pd.read_csv(DEMO / "train.csv", dtype=str, keep_default_na=False)


# ---------------------------------------------------------------------------- options and answers
def test_option_matrix_answer_indices_and_top_choices_for_any_option_columns():
    df = pd.DataFrame({"prompt": ["Q1", "Q2"], "A": ["a", "None"], "B": ["b", "0.5"], "C": ["c", ""],
                       "D": ["d", "x"]})
    four = ("A", "B", "C", "D")
    assert mc.option_matrix(df, four).tolist() == [["a", "b", "c", "d"], ["None", "0.5", "", "x"]]
    assert mc.answer_indices(["A", "D"], four).tolist() == [0, 3]
    with pytest.raises(DataError, match=r"answer 1: 'E' is not one of \['A', 'B', 'C', 'D'\]"):
        mc.answer_indices(["A", "E"], four)
    scores = np.array([[0.1, 0.9, 0.3, 0.5], [1.0, 1.0, 0.0, 2.0]])
    assert mc.top_choices(scores, 2, four) == ["B D", "D A"]  # ties keep A before B
    assert mc.top_choices(np.array([[0.1, 0.9, 0.3, 0.5, 0.2]])) == ["B D C"]  # default: five options A-E
    with pytest.raises(ParameterError, match=r"shape \(n, 4\)"):
        mc.top_choices(np.zeros((2, 5)), 3, four)


# ------------------------------------------------------------------------------- cross-encoder
@pytest.fixture(scope="module")
def mc_model():
    return mc.load_multiple_choice_model(seed=0)


def test_dataset_puts_context_after_the_prompt_and_keeps_options_whole(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    df = demo_train.head(2)
    long_context = ["lorem ipsum " * 200, ""]
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=40, context=long_context)
    item = ds[0]
    assert len(ds) == 2 and len(item["input_ids"]) == 5 and item["labels"] == "ABCDE".index(df["answer"].iat[0])
    for choice, ids in enumerate(item["input_ids"]):
        assert len(ids) <= 40
        option_ids = tokenizer(df[list("ABCDE")[choice]].iat[0], add_special_tokens=False)["input_ids"]
        assert ids[-len(option_ids) - 1:-1] == option_ids  # the option is the whole second segment
    text = tokenizer.decode(item["input_ids"][0])
    assert text.lower().index(df["prompt"].iat[0].lower()[:15]) < text.index("lorem")
    unlabeled = mc.MultipleChoiceDataset(df.drop(columns="answer"), tokenizer, max_length=40)
    assert "labels" not in unlabeled[0]
    with pytest.raises(ParameterError, match="context has 1 entries for 2 questions"):
        mc.MultipleChoiceDataset(df, tokenizer, context=["x"])


def test_an_option_longer_than_max_length_drops_the_prompt_instead_of_failing(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    df = demo_train.head(2).copy()
    df.loc[df.index[1], "C"] = "an option far too long to fit " * 20
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=24)  # only_first alone raised a truncation error here
    long_option = ds[1]["input_ids"][2]
    assert len(long_option) == 24 and tokenizer.decode(long_option).startswith("[CLS] [SEP] an option far")
    short = ds[1]["input_ids"][0]
    option_ids = tokenizer(df["A"].iat[1], add_special_tokens=False)["input_ids"]
    assert short[-len(option_ids) - 1:-1] == option_ids and len(short) <= 24  # the others are as before
    with pytest.raises(ParameterError, match="max_length 3 leaves no room beside the special tokens"):
        mc.MultipleChoiceDataset(df, tokenizer, max_length=3)


def test_cross_encoder_fold_saves_each_fold_model_and_a_resumed_run_reuses_it(tiny_checkpoints, demo_train, tmp_path):
    from kitlib.pretrained import read_settings

    df = demo_train.head(8)
    recipe = replace(mc.CROSS_ENCODER_RECIPE, batch_size=4, epochs=2, lr=1e-3, device="cpu", progress=False, ema=0.9,
                     lr_decay=0.9, max_grad_norm=1.0)
    common = dict(model=tiny_checkpoints["electra"], max_length=32, recipe=recipe)
    tr, va = np.arange(6), np.arange(6, 8)
    questions = mc.QuestionTables(df, df.head(2))
    first = mc.cross_encoder_fold(questions, checkpoints=tmp_path / "one" / "checkpoints", **common)(0, tr, va)
    fold = tmp_path / "one" / "checkpoints" / "fold0"
    settings = read_settings(fold)
    assert settings["task"] == "multiple-choice" and settings["max_length"] == 32 and settings["best_epoch"] >= 1
    net, tokenizer, _ = mc.load_multiple_choice_model(fold)  # the best weights and tokenizer, reloadable as they are
    logits = mc.predict_choices(net, mc.MultipleChoiceDataset(df.iloc[va], tokenizer, max_length=32),
                                pad_token_id=tokenizer.pad_token_id, device="cpu")
    np.testing.assert_allclose(logits, first.val, atol=1e-5)
    again = mc.cross_encoder_fold(questions, checkpoints=tmp_path / "two" / "checkpoints",
                                  resume_from=tmp_path / "one", **common)(0, tr, va)
    np.testing.assert_allclose(again.val, first.val, atol=1e-6)  # the finished fold was reused, not retrained
    assert again.info["history"] == first.info["history"]


def test_dataset_and_collator_take_other_option_columns(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    df = demo_train.head(3).assign(answer=["A", "C", "B"])
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=64, choices=("A", "B", "C"))
    assert [len(ds[i]["input_ids"]) for i in range(3)] == [3, 3, 3]
    assert [ds[i]["labels"] for i in range(3)] == [0, 2, 1]
    batch = mc.MultipleChoiceCollator(tokenizer.pad_token_id)([ds[0], ds[1]])
    assert batch["input_ids"].shape[:2] == (2, 3)
    with pytest.raises(DataError, match="answer 0: 'D' is not one of"):
        mc.MultipleChoiceDataset(df.assign(answer="D"), tokenizer, choices=("A", "B", "C"))


def test_collator_pads_to_batch_five_longest(mc_model, demo_train):
    _, tokenizer, _ = mc_model
    ds = mc.MultipleChoiceDataset(demo_train.head(3), tokenizer, max_length=64)
    batch = mc.MultipleChoiceCollator(tokenizer.pad_token_id)([ds[0], ds[1], ds[2]])
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
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=48)
    collate = mc.MultipleChoiceCollator(tokenizer.pad_token_id)
    loader = DataLoader(ds, batch_size=6, collate_fn=collate)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny batches: one thread is faster on a busy 2-core machine
    try:
        result = train.fit(model, loader, val=loader, metric=map3, metric_name="map_at_3",
                           recipe=train.Recipe(epochs=6, lr=2e-4, schedule="constant", progress=False, seed=0,
                                               device="cpu"))
    finally:
        torch.set_num_threads(threads)
    losses = [h["train_loss"] for h in result.history]
    assert losses[-1] < losses[0]  # it learns (here: memorises six questions)
    unlabeled = mc.MultipleChoiceDataset(df.drop(columns="answer"), tokenizer, max_length=48)
    logits = mc.predict_choices(model, unlabeled, pad_token_id=tokenizer.pad_token_id, batch_size=4, device="cpu")
    assert logits.shape == (6, 5)
    assert np.allclose(logits, train.predict(model, loader, device="cpu"), atol=1e-5)  # labels change nothing
    assert map3(mc.answer_indices(df["answer"]), logits) > CHANCE


def test_cross_encoder_model_that_is_not_on_disk_fails_clearly():
    with pytest.raises(ParameterError, match="nor in the offline Hugging Face cache"):
        mc.load_multiple_choice_model("microsoft/deberta-v3-large-not-downloaded")


def test_importing_the_module_does_not_import_torch():
    code = "import sys, kitlib.tasks.multiple_choice; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ------------------------------------------------------------------- truncation, every encoder family
LONG = "Which of the following statements best describes the process of photosynthesis in green plants ? " * 12
LONG_CONTEXT = "The periodic table arranges chemical elements by atomic number and properties . " * 40
LONG_OPTION = "Plate tectonics explains earthquakes , volcanoes and the drift of continents . " * 12


@pytest.mark.parametrize("family", ["bert", "roberta", "deberta-v3", "modernbert"])
def test_long_inputs_never_fail_and_are_cut_context_first_then_prompt_then_option(tiny_checkpoints, family):
    """A RoBERTa or DeBERTa-v3 checkpoint stopped with "Sequence to truncate too short" under only_first."""
    from kitlib.pretrained import load_tokenizer

    tokenizer = load_tokenizer(tiny_checkpoints[family])
    special = tokenizer.num_special_tokens_to_add(pair=True)
    n_tokens = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    short_option, short_prompt = "It increases .", "What is the primary function of mitochondria ?"
    df = pd.DataFrame({"prompt": [LONG, short_prompt, LONG], "A": [LONG_OPTION, short_option, short_option],
                       **{c: [short_option] * 3 for c in "BCDE"}})
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=48, context=[LONG_CONTEXT] * 3, labels=False)
    lengths = [len(ids) for item in (ds[i] for i in range(3)) for ids in item["input_ids"]]
    assert max(lengths) <= 48 and min(lengths) >= 46  # every input is long: all are (nearly) full

    def decoded(i, choice):
        return tokenizer.decode(ds[i]["input_ids"][choice], skip_special_tokens=True)

    squash = lambda text: "".join(text.lower().split())  # noqa: E731 - tokenizers differ in spacing and case
    # a short prompt and option stay whole; the context fills what is left (cut from its end)
    assert squash(decoded(1, 1)).startswith(squash(short_prompt))
    assert squash(decoded(1, 1)).endswith(squash(short_option))
    assert "periodic" in decoded(1, 1).lower()
    # a long prompt: the context goes entirely, the prompt is cut, the short option stays whole
    assert "periodic" not in decoded(2, 1).lower() and squash(decoded(2, 1)).endswith(squash(short_option))
    assert squash(decoded(2, 1)).startswith(squash("Which of the following"))
    # an option longer than the room: prompt and context go, the option is cut to fill the room
    assert n_tokens(LONG_OPTION) > 48
    assert squash(decoded(0, 0)).startswith(squash("Plate tectonics explains"))
    assert "photosynthesis" not in decoded(0, 0)
    assert len(ds[0]["input_ids"][0]) == 48 and special >= 2


@pytest.mark.parametrize("family", ["roberta", "deberta-v3"])
def test_a_cross_encoder_of_the_family_scores_long_questions(tiny_checkpoints, family, demo_train):
    net, tokenizer, _ = mc.load_multiple_choice_model(tiny_checkpoints[family], seed=0)
    df = demo_train.head(2).assign(prompt=LONG)
    ds = mc.MultipleChoiceDataset(df, tokenizer, max_length=40, context=[LONG_CONTEXT] * 2)
    logits = mc.predict_choices(net, ds, pad_token_id=tokenizer.pad_token_id, device="cpu")
    assert logits.shape == (2, 5) and np.isfinite(logits).all()


# --------------------------------------------------- external questions, saved folds, option-order TTA
def test_external_questions_join_every_fold_s_training_and_are_never_validated_on(tiny_checkpoints, demo_train):
    from kitlib.train import Callback

    class Steps(Callback):
        def __init__(self):
            self.steps = []

        def on_fit_end(self, state):
            self.steps.append(state.step)

    df, test = demo_train.head(8), demo_train.iloc[40:42].drop(columns="answer")
    extra = demo_train.iloc[20:26].drop(columns="id")  # six questions from elsewhere, no id needed
    tr, va = np.arange(6), np.arange(6, 8)
    recipe = replace(mc.CROSS_ENCODER_RECIPE, batch_size=4, epochs=1, lr=1e-3, device="cpu", progress=False)
    common = dict(model=tiny_checkpoints["bert"], max_length=32, recipe=recipe)
    alone, joined = Steps(), Steps()
    plain = mc.cross_encoder_fold(mc.QuestionTables(df, test), callbacks=[alone], **common)(0, tr, va)
    with_extra = mc.QuestionTables(df, test, extra=extra, extra_context=["Context for an external question."] * 6)
    more = mc.cross_encoder_fold(with_extra, callbacks=[joined], **common)(0, tr, va)
    assert alone.steps == [2] and joined.steps == [3]  # 6 questions in batches of 4, then 6 + 6
    assert more.val.shape == plain.val.shape == (2, 5) and not np.allclose(more.val, plain.val)


def test_saved_fold_models_predict_again_without_training(tiny_checkpoints, demo_train, tmp_path):
    df, test = demo_train.head(8), demo_train.iloc[40:43].drop(columns="answer")
    context = [f"Passage {i}." for i in range(8)]
    tr, va = np.arange(5), np.arange(5, 8)
    questions = mc.QuestionTables(df, test, train_context=context)
    recipe = replace(mc.CROSS_ENCODER_RECIPE, batch_size=4, epochs=2, lr=1e-3, progress=False, device="cpu")
    trained = mc.cross_encoder_fold(questions, model=tiny_checkpoints["roberta"], max_length=32, recipe=recipe,
                                    checkpoints=tmp_path / "checkpoints", n_seeds=2)(1, tr, va)
    assert [p.name for p in mc.fold_model_dirs(tmp_path / "checkpoints", 1)] == ["seed0", "seed1"]
    again = mc.checkpoint_fold(questions, tmp_path / "checkpoints", device="cpu")(1, tr, va)
    np.testing.assert_allclose(again.val, trained.val, rtol=0, atol=1e-6)
    np.testing.assert_allclose(again.test, trained.test, rtol=0, atol=1e-6)
    assert again.info["history"] == trained.info["history"]
    assert again.info["base_model"] == str(tiny_checkpoints["roberta"])
    with pytest.raises(ParameterError, match=r"fold0: no saved cross-encoder"):
        mc.checkpoint_fold(mc.QuestionTables(df, test), tmp_path / "checkpoints")(0, tr, va)
    # the checkpoints may be a stranger's (-p checkpoints): a training record that would run code is refused
    planted = plant_code(tmp_path / "checkpoints" / "fold1" / "seed0" / "train_state.pt", tmp_path / "ran")
    with pytest.raises(DataError, match=rf"^{planted}: refused to load \(it calls posix.system\)"):
        mc.checkpoint_fold(questions, tmp_path / "checkpoints", device="cpu")(1, tr, va)
    assert not (tmp_path / "ran").exists()


def test_option_order_tta_puts_scores_back_in_place_and_averages_the_orders():
    df = pd.DataFrame({"prompt": ["Q1", "Q2"], "A": ["a", "bb"], "B": ["ccc", "d"], "C": ["ee", "fff"],
                       "D": ["g", "hhhh"], "E": ["iiiii", "jj"], "answer": ["A", "B"]})
    seen = []

    def by_content(d, context):  # scores each option by its text: the order must not matter
        seen.append(d)
        return np.vectorize(len)(mc.option_matrix(d)).astype(float)

    plain = by_content(df, None)
    np.testing.assert_allclose(mc.permutation_tta(by_content, df, n_orders=6, seed=1), plain)
    assert len(seen) == 1 + 6 and "answer" not in seen[-1]
    assert any((mc.option_matrix(d) != mc.option_matrix(df)).any() for d in seen[2:])  # other orders were read
    by_position = lambda d, c: np.tile(np.arange(5.0), (len(d), 1))  # noqa: E731 - pure position bias
    averaged = mc.permutation_tta(by_position, df, n_orders=400, seed=0)
    assert np.abs(averaged - 2.0).max() < 0.3  # every option has been everywhere: the bias averages out
    with pytest.raises(ParameterError, match="tta must be >= 1"):
        mc.permutation_tta(by_content, df, n_orders=0)
