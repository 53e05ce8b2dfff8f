"""SOMD files: reading, the demo set, the gazetteer baseline, predictions checks and packing; the
word-level prediction tables of a run, their score and submission, the fold model, and blending two runs."""
import io
import os
import zipfile
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from kitlib import predictions
from kitlib.competitions import COMPETITIONS
from kitlib.competitions import somd_ner as somd
from kitlib.competitions.somd_ner import demo
from kitlib.errors import DataError, ParameterError
from kitlib.metrics import entity_f1

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "data" / "demo" / "somd-ner"


def _write(folder: Path, texts: str, entities: str, test: str = "We used SPSS .\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "train_texts.txt").write_text(texts, encoding="utf-8")
    (folder / "train_entities.txt").write_text(entities, encoding="utf-8")
    (folder / "test_texts.txt").write_text(test, encoding="utf-8")
    return folder


def test_reads_sentences_and_labels_tolerating_trailing_blank_lines_and_crlf(tmp_path):
    d = _write(tmp_path, "We used SPSS 25 .\r\nNo software here\n\n\n",
               "O O B-Application B-Version O\r\nO O O\n\n")
    data = somd.read_somd(d)
    assert data.train_words == [["We", "used", "SPSS", "25", "."], ["No", "software", "here"]]
    assert data.train_labels[0][2:4] == ["B-Application", "B-Version"]
    assert data.test_words == [["We", "used", "SPSS", "."]]


@pytest.mark.parametrize(
    "texts, entities, message",
    [
        ("a b\nc d\n", "O O\nO O O\n", r"train_entities.txt line 2: 3 labels for 2 tokens"),
        ("a b\n", "O B-Software\n", r"train_entities.txt line 1 label 2: unknown label 'B-Software'; expected O or "
                                    r"B-/I- with one of \['Application', "),
        ("a b\nc\n", "O O\n", r"train_entities.txt: 1 lines but train_texts.txt has 2 sentences"),
        ("a b\n\nc\n", "O O\nO\nO\n", r"train_texts.txt line 2: empty line; expected tokens separated by spaces"),
        ("a  b\n", "O O O\n", r"train_entities.txt line 1: 3 labels for 2 tokens"),
        ("", "O\n", r"train_texts.txt: the file is empty; expected one sentence a line"),
        ("a\n", "\n\n", r"train_entities.txt: the file is empty"),
    ],
)
def test_reading_errors_name_file_line_and_what_was_expected(tmp_path, texts, entities, message):
    with pytest.raises(DataError, match=message):
        somd.read_somd(_write(tmp_path, texts, entities))


def test_tokens_are_the_whitespace_separated_fields_as_in_the_real_files(tmp_path):
    d = _write(tmp_path, "We  used SPSS \n a\tb\n", "O O  B-Application\nO O\n")
    data = somd.read_somd(d)
    assert data.train_words == [["We", "used", "SPSS"], ["a", "b"]]
    assert data.train_labels == [["O", "O", "B-Application"], ["O", "O"]]


def test_missing_file_and_bad_encoding_are_named(tmp_path):
    with pytest.raises(DataError, match=r"found neither train_texts.txt \(Phase I\) nor texts.txt \(Phase II\)"):
        somd.read_somd(tmp_path)
    (tmp_path / "train_texts.txt").write_text("a\n")
    with pytest.raises(DataError, match="train_entities.txt: no such file"):
        somd.read_somd(tmp_path)
    d = _write(tmp_path, "a\n", "O\n")
    (d / "test_texts.txt").write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(DataError, match="test_texts.txt line 2: not UTF-8"):
        somd.read_somd(d)


def test_label_set_has_o_and_both_prefixes_of_fourteen_types():
    assert len(somd.ENTITY_TYPES) == 14 and len(somd.LABELS) == 29 and somd.LABELS[0] == "O"
    assert {"B-Application", "I-Release", "B-SoftwareCoreference"} <= set(somd.LABELS)


def test_mentions_follow_seqeval():
    words = ["We", "used", "Graph", "Pad", "Prism", "9", "and", "R"]
    labels = ["O", "O", "B-Application", "I-Application", "I-Application", "B-Version", "O", "I-ProgrammingEnvironment"]
    assert somd.mentions(words, labels) == [("Application", 2, 4, "Graph Pad Prism"), ("Version", 5, 5, "9"),
                                            ("ProgrammingEnvironment", 7, 7, "R")]


def test_gazetteer_takes_the_longest_known_mention():
    train = [["GraphPad", "Prism", "was", "used"], ["Prism", "9", "ran"], ["Prism", "again"]]
    labels = [["B-Application", "I-Application", "O", "O"], ["B-Application", "B-Version", "O"],
              ["B-Extension", "O"]]
    gaz = somd.Gazetteer().fit(train, labels)
    assert gaz.mentions_[("Prism",)] == "Application"  # seen twice as Application, once as Extension
    assert gaz.predict([["We", "used", "GraphPad", "Prism", "9", "."], ["prism"]]) == [
        ["O", "O", "B-Application", "I-Application", "B-Version", "O"], ["O"]]
    assert somd.Gazetteer(lowercase=True).fit(train, labels).predict([["prism"]]) == [["B-Application"]]
    with pytest.raises(ParameterError, match="before fit"):
        somd.Gazetteer().predict(train)


def test_demo_set_is_the_generator_output_and_has_enough_mentions(tmp_path):
    somd.write_demo(tmp_path, seed=0)
    for name in ("train_texts.txt", "train_entities.txt", "test_texts.txt"):
        assert (DEMO / name).read_bytes() == (tmp_path / name).read_bytes(), f"{name} differs from write_demo"
    data = somd.read_somd(DEMO)
    assert (len(data.train_words), len(data.test_words)) == somd.DEMO_SIZE
    counts = Counter(m[0] for w, lab in zip(data.train_words, data.train_labels) for m in somd.mentions(w, lab))
    for common in ("Application", "Version", "PlugIn", "ProgrammingEnvironment", "Developer"):
        assert counts[common] >= 40, counts
    assert len(counts) == 14
    assert COMPETITIONS["somd-ner"].demo is somd.write_demo


def _mtimes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in sorted(folder.iterdir())}


def test_write_demo_on_an_up_to_date_folder_writes_nothing(tmp_path):
    out = somd.write_demo(tmp_path / "demo")
    assert out == tmp_path / "demo"
    for i, path in enumerate(sorted(out.iterdir())):  # back-date the files: a rewrite would show
        os.utime(path, ns=(10**18 + i, 10**18 + i))
    before = _mtimes(out)
    assert somd.write_demo(out) == out
    assert _mtimes(out) == before  # nothing rewritten, no temporary file left behind
    assert sorted(before) == ["test_texts.txt", "train_entities.txt", "train_relations.txt", "train_texts.txt"]
    committed = _mtimes(DEMO)
    assert COMPETITIONS["somd-ner"].resolve_data_dir("") == DEMO.resolve()  # runs write_demo on the committed set
    assert _mtimes(DEMO) == committed


def test_write_demo_rewrites_only_the_missing_or_changed_files(tmp_path):
    out = somd.write_demo(tmp_path)
    expected = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "train_entities.txt").write_text("O\n")
    (out / "test_texts.txt").unlink()
    os.utime(out / "train_texts.txt", ns=(10**18, 10**18))
    somd.write_demo(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == expected
    assert (out / "train_texts.txt").stat().st_mtime_ns == 10**18  # identical: left alone
    assert demo.write_demo is somd.write_demo and demo.generate_corpus is somd.generate_corpus


def test_corpus_generator_is_deterministic_and_the_gazetteer_is_a_real_baseline():
    a = somd.generate_corpus(300, 100, seed=5)
    assert a == somd.generate_corpus(300, 100, seed=5)
    assert a != somd.generate_corpus(300, 100, seed=6)
    train_w, train_l, test_w, test_l = a
    f1 = entity_f1(test_l, somd.Gazetteer().fit(train_w, train_l).predict(test_w))
    assert 0.3 < f1 < 0.95  # it finds known names but misses unseen ones and tags look-alikes


def test_highlight_marks_each_mention_with_its_type():
    out = somd.highlight_html(["Use", "R", "<4>", "now"], ["O", "B-ProgrammingEnvironment", "B-Version", "O"])
    assert out.startswith("Use <mark") and out.endswith("</mark> now")
    assert "R <sub>ProgrammingEnvironment</sub></mark>" in out and "&lt;4&gt; <sub>Version</sub>" in out
    assert out.count("<mark") == 2


# ------------------------------------------------------------------------------ prediction tables
def _probs(gold, wrong=None, sure=0.9, unsure=(0.4, 0.5)):
    """Word probabilities that pick ``gold`` with ``sure`` confidence, except at the positions in ``wrong``
    (position -> label), where the gold label gets ``unsure[0]`` and the wrong one ``unsure[1]``."""
    out = np.full((len(gold), len(somd.LABELS)), 0.0)
    for i, lab in enumerate(gold):
        if wrong and i in wrong:
            out[i, somd.LABELS.index(lab)], out[i, somd.LABELS.index(wrong[i])] = unsure
        else:
            out[i, somd.LABELS.index(lab)] = sure
        out[i] += (1 - out[i].sum()) / len(somd.LABELS)
    return out


GOLD = [["We", "used", "SPSS", "and", "R"], ["Run", "on", "Linux"]], [
    ["O", "O", "B-Application", "O", "B-ProgrammingEnvironment"], ["O", "O", "B-OperatingSystem"]]


def test_the_competition_keeps_word_tables_with_a_probability_per_label():
    spec = COMPETITIONS["somd-ner"].predictions
    assert (spec.key, spec.target) == (("sentence", "token"), "label")
    assert spec.score is somd.score_predictions and spec.to_submission is somd.predictions_to_submission
    assert tuple(predictions.columns("p_", somd.LABELS)) == somd.PROBABILITIES and somd.PROBABILITIES[0] == "p_O"


def test_word_frame_has_one_row_per_word():
    words, gold = GOLD
    frame = somd.word_frame([_probs(g) for g in gold], [7, 3], fold=[1, 0], labels=gold)
    assert list(frame.columns) == ["sentence", "token", "fold", "label", *somd.PROBABILITIES]
    assert frame.sentence.tolist() == [7] * 5 + [3] * 3 and frame.token.tolist() == [0, 1, 2, 3, 4, 0, 1, 2]
    assert frame.fold.tolist() == [1] * 5 + [0] * 3 and frame.label.tolist() == gold[0] + gold[1]
    test = somd.word_frame([_probs(g) for g in gold], range(2))
    assert list(test.columns) == ["sentence", "token", *somd.PROBABILITIES]
    with pytest.raises(DataError, match="sentence 3: 2 labels for 3 words"):
        somd.word_frame([_probs(g) for g in gold], [7, 3], labels=[gold[0], gold[1][:2]])


def test_score_decodes_argmax_with_bio_repair_per_sentence_in_any_row_order():
    words, gold = GOLD
    # sentence 0: "R" mislabelled (Application over ProgrammingEnvironment); sentence 1: I- repaired to B-
    probs = [_probs(gold[0], {4: "B-Application"}), _probs(gold[1], {2: "I-OperatingSystem"}, unsure=(0.0, 0.9))]
    frame = somd.word_frame(probs, [0, 1], fold=[0, 0], labels=gold)
    decoded = somd.decode_frame(frame)
    assert decoded == [["O", "O", "B-Application", "O", "B-Application"], ["O", "O", "B-OperatingSystem"]]
    # 3 gold entities, 3 predicted, 2 right: precision = recall = F1 = 2/3, as seqeval counts them
    from seqeval.metrics import f1_score

    assert somd.score_predictions(frame) == pytest.approx(2 / 3) == pytest.approx(f1_score(gold, decoded))
    shuffled = frame.sample(frac=1.0, random_state=0)
    assert somd.score_predictions(shuffled) == somd.score_predictions(frame)
    assert somd.score_predictions(frame.iloc[:0]) == 0.0  # no rows (a blend's empty training side)


def test_an_o_threshold_turns_unsure_outside_words_into_entities():
    gold = [["O", "B-Application", "O"]]
    probs = _probs(gold[0], {1: "O"}, unsure=(0.35, 0.6))  # the argmax misses the mention: P(O) 0.6
    frame = somd.word_frame([probs], [0], fold=[0], labels=gold)
    assert somd.decode_frame(frame) == [["O", "O", "O"]] and somd.score_predictions(frame) == 0.0
    assert somd.decode_frame(frame, 0.7) == gold and somd.score_predictions(frame, 0.7) == 1.0


def test_fold_scores_and_cv_summary_are_per_fold_and_pooled():
    words, gold = GOLD
    probs = [_probs(gold[0], {4: "O"}), _probs(gold[1])]  # fold 0 finds 1 of 2 entities, fold 1 finds its one
    frame = somd.word_frame(probs, [0, 1], fold=[0, 1], labels=gold)
    assert somd.fold_scores(frame) == pytest.approx({0: 2 / 3, 1: 1.0})  # P 1, R 1/2 -> F1 2/3
    cv = somd.cv_summary(frame, "val_entity_f1")
    assert cv["folds"] == pytest.approx([2 / 3, 1.0]) and cv["fold_ids"] == [0, 1]
    assert (cv["mean"], cv["std"]) == (pytest.approx(5 / 6), pytest.approx(1 / 6))
    assert cv["score"] == pytest.approx(0.8)  # pooled: 2 of 3 found, precision 1 -> 2 * 2/3 / (5/3)
    assert (cv["n_rows"], cv["n_sentences"], cv["metric"]) == (8, 2, "val_entity_f1")


def test_tables_with_missing_words_or_columns_are_refused():
    words, gold = GOLD
    frame = somd.word_frame([_probs(g) for g in gold], [0, 1], labels=gold)
    with pytest.raises(DataError, match=r"sentence 0: tokens \[0, 1, 3, 4\]; expected one row per word"):
        somd.score_predictions(frame.drop(index=2))
    with pytest.raises(DataError, match=r"lack the columns \['p_O'\]"):
        somd.score_predictions(frame.drop(columns="p_O"))


def test_to_submission_writes_one_line_per_test_sentence_in_file_order(tmp_path):
    words, gold = GOLD
    d = _write(tmp_path / "data", "a\n", "O\n", test="We used SPSS and R\nRun on Linux\n")
    test = somd.word_frame([_probs(g) for g in gold], [0, 1]).iloc[::-1]
    data = somd.predictions_to_submission(test, d)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("predictions.entities.txt").decode() == (
            "O O B-Application O B-ProgrammingEnvironment\nO O B-OperatingSystem\n")
        assert zf.read("predictions.relations.txt").decode() == "\n\n"  # no training relations: no rule
    path = tmp_path / "predictions.zip"
    path.write_bytes(data)
    somd.check_submission(path, d)
    with pytest.raises(DataError, match=r"cover 1 sentences but test_texts.txt has 2; sentences \[1\] have none"):
        somd.predictions_to_submission(test[test.sentence == 0], d)
    short = _write(tmp_path / "short", "a\n", "O\n", test="We used SPSS and R\nRun on\n")
    with pytest.raises(DataError, match=r"sentence 1 \(test_texts.txt line 2\) has 3 rows for 2 words"):
        somd.predictions_to_submission(test, short)


def test_two_runs_with_complementary_errors_blend_into_a_better_valid_submission(kit_dirs, tmp_path):
    from kitlib import blend, run, submit

    words, gold = GOLD
    d = _write(tmp_path / "data", "a\n", "O\n", test="We used SPSS and R\nRun on Linux\n")
    gold4, ids, folds = gold * 2, [0, 1, 2, 3], [0, 0, 1, 1]
    wrong_a = [{2: "O"}, {}, {2: "O"}, {}]  # run a misses SPSS, run b misses Linux
    wrong_b = [{}, {2: "O"}, {}, {2: "O"}]
    folders = []
    for name, wrong in (("somd-ner-a", wrong_a), ("somd-ner-b", wrong_b)):
        folder = kit_dirs[0] / name
        folder.mkdir(parents=True)
        run.update_manifest(folder, run_id=name, competition="somd-ner", status="ok", data_dir=str(d),
                            data=[{"path": "test_texts.txt", "sha256": "same"}], params={"fold_seed": 0})
        oof = somd.word_frame([_probs(g, w) for g, w in zip(gold4, wrong)], ids, fold=folds, labels=gold4)
        test = somd.word_frame([_probs(g, w) for g, w in zip(gold, wrong[:2])], [0, 1])
        predictions.write(folder, oof, test)
        assert somd.score_predictions(oof) == pytest.approx(0.8)
        folders.append(folder)
    out = blend.blend([str(f) for f in folders])
    manifest = run.read_manifest(out)
    assert manifest["status"] == "ok" and manifest["score"] == 1.0 and manifest["cv"]["folds"] == [1.0, 1.0]
    submit.validate_submission(manifest["submission"]["path"], "somd-ner", d)
    with zipfile.ZipFile(manifest["submission"]["path"]) as zf:
        assert zf.read("predictions.entities.txt").decode() == (
            "O O B-Application O B-ProgrammingEnvironment\nO O B-OperatingSystem\n")


# ------------------------------------------------------------------------------------ fold model
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    """A tiny randomly initialised BERT with the offline MiniLM tokenizer, saved as a local checkpoint."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from kitlib.tasks import token_classification as tc

    folder = tmp_path_factory.mktemp("tiny-bert")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertForTokenClassification(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tc.default_model_path()).save_pretrained(folder)
    return folder


def test_transformer_fold_trains_on_the_training_fold_only_and_averages_its_seeds(tiny_checkpoint, monkeypatch):
    from kitlib.tasks import token_classification as tc

    words, labels, test_words, _ = somd.generate_corpus(40, 6, seed=3)
    negative = np.array([all(lab == "O" for lab in labs) for labs in labels])
    train_idx, val_idx = np.arange(10, 40), np.arange(10)
    trained_on, encode = [], tc.encode  # the sentence objects each model is trained on

    def recording_encode(tokenizer, sentences, labels=None, **kw):
        if labels is not None:
            trained_on.extend(id(s) for s in sentences)
        return encode(tokenizer, sentences, labels, **kw)

    monkeypatch.setattr(tc, "encode", recording_encode)
    kw = dict(tagger=somd.Tagger(str(tiny_checkpoint), max_length=32), negative=negative, negative_ratio=0.5)
    recipe = replace(tc.TOKEN_CLASSIFIER_RECIPE, epochs=1, batch_size=8, device="cpu", progress=False)
    both = somd.transformer_fold(words, labels, test_words, recipe=replace(recipe, seed=0), n_seeds=2,
                                 **kw)(0, train_idx, val_idx)
    assert not set(trained_on) & {id(words[i]) for i in val_idx}  # never a validation sentence
    assert {id(words[i]) for i in train_idx if not negative[i]} <= set(trained_on)  # every one with an entity
    expected = int((~negative[train_idx]).sum() + round(0.5 * negative[train_idx].sum()))
    assert both.info["train_sentences"] == [expected, expected] and expected < len(train_idx)
    assert len(trained_on) == 2 * expected and len(both.info["best_epochs"]) == 2
    # n_seeds=2 is the average of the models that runs with seed 0 and seed 1 train
    singles = [somd.transformer_fold(words, labels, test_words, recipe=replace(recipe, seed=s), n_seeds=1,
                                     **kw)(0, train_idx, val_idx) for s in (0, 1)]
    assert len(both.val) == len(val_idx) and len(both.test) == len(test_words)
    for mean, a, b in zip(both.val + both.test, singles[0].val + singles[0].test, singles[1].val + singles[1].test):
        assert mean.shape == a.shape and np.allclose(mean, (a + b) / 2, atol=1e-6)
    assert not np.allclose(singles[0].val[0], singles[1].val[0])  # the seeds give different models


# ------------------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_notebook_smoke_writes_word_tables_and_two_seeds_blend(kit_dirs, tmp_path):
    from kitlib import blend, run, submit
    from kitlib.execute import execute
    from kitlib.folds import assign_folds

    data_dir = somd.write_corpus(tmp_path / "other", n_train=150, n_test=40, seed=7)
    run_dir = execute("somd-ner", {"smoke": "true", "data_dir": str(data_dir), "seed": "1"})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok" and manifest["data_dir"] == str(data_dir)
    metrics = manifest["metrics"]
    assert {"val_entity_f1", "val_relation_f1", "val_somd_score", "val_entity_f1_gazetteer", "val_entity_f1_model",
            "val_entity_f1_combination", "val_relation_f1_rule", "val_relation_f1_classifier", "o_threshold",
            "gazetteer_weight", "relation_threshold"} <= set(metrics)
    assert manifest["score"] == metrics["val_somd_score"] == pytest.approx(
        (metrics["val_entity_f1"] + metrics["val_relation_f1"]) / 2)
    somd.check_submission(Path(manifest["submission"]["path"]), data_dir)
    with zipfile.ZipFile(run_dir / "predictions.zip") as zf:
        assert zf.namelist() == ["predictions.entities.txt", "predictions.relations.txt"]
    assert not (run_dir / "oof_probs.npz").exists()  # the tables below replace it

    # oof.parquet: one row per word of the sentences scored out of fold (smoke: fold 0 of the first 120)
    data = somd.read_somd(data_dir)
    words, labels = data.train_words[:120], data.train_labels[:120]
    fold_of = assign_folds(somd.sentence_table(words, labels), n_splits=4, groups="document", seed=0)
    scored = np.flatnonzero(fold_of == 0)
    oof, test = predictions.read(run_dir)
    assert list(oof.columns) == ["sentence", "token", "fold", "label", "relations", *somd.PROBABILITIES]
    assert oof.sentence.tolist() == [i for i in scored for _ in words[i]]
    assert oof.token.tolist() == [t for i in scored for t in range(len(words[i]))]
    assert oof.label.tolist() == [lab for i in scored for lab in labels[i]] and (oof.fold == 0).all()
    assert np.allclose(oof[list(somd.PROBABILITIES)].sum(axis=1), 1.0, atol=1e-4)
    assert list(test.columns) == ["sentence", "token", *somd.PROBABILITIES]
    assert test.sentence.tolist() == [i for i, w in enumerate(data.test_words) for _ in w]
    cv, metrics = manifest["cv"], manifest["metrics"]
    assert cv["metric"] == "val_somd_score" and cv["score"] == pytest.approx(manifest["score"])
    assert cv["n_sentences"] == len(scored) and cv["folds"] == [pytest.approx(cv["mean"])] and cv["std"] == 0.0
    assert (metrics["val_somd_score_cv_mean"], metrics["val_somd_score_cv_std"]) == (cv["mean"], cv["std"])
    assert metrics["val_somd_score_argmax"] == pytest.approx(somd.score_predictions(oof))
    gold_relations = [somd.relations.parse_relations_line(line, "x")[0] for line in
                      oof.groupby("sentence", sort=True)["relations"].first()]
    assert gold_relations == [data.train_relations[i] for i in scored]

    # another seed on the same folds: another model, and the two blend into a valid submission
    other = execute("somd-ner", {"smoke": "true", "data_dir": str(data_dir), "seed": "2"})
    other_oof = predictions.read(other)[0]
    assert other_oof[["sentence", "token", "fold", "label"]].equals(oof[["sentence", "token", "fold", "label"]])
    assert not np.allclose(other_oof[list(somd.PROBABILITIES)], oof[list(somd.PROBABILITIES)])
    out = blend.blend([str(run_dir), str(other)], method="mean")  # smoke trains one fold: weights need two
    blended = run.read_manifest(out)
    assert blended["status"] == "ok" and blended["inputs"] == [run_dir.name, other.name]
    submit.validate_submission(blended["submission"]["path"], "somd-ner", data_dir)
    assert predictions.read(out)[0]["fold"].equals(oof["fold"])
