"""SOMD files: strict reading, the demo set, the gazetteer baseline, predictions checks and packing."""
import os
import zipfile
from collections import Counter
from pathlib import Path

import pytest

from kitlib.competitions import COMPETITIONS
from kitlib.competitions import somd_ner as somd
from kitlib.competitions.somd_ner import demo
from kitlib.errors import DataError, ParameterError, SubmissionError
from kitlib.folds import load_oof
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
        ("a b\n\nc\n", "O O\nO\nO\n", r"train_texts.txt line 2: empty line; expected tokens separated by single"),
        ("a  b\n", "O O\n", r"train_texts.txt line 1 column 3: extra space; expected tokens separated by single"),
        ("a b \n", "O O\n", r"train_texts.txt line 1 column 4: extra space"),
        (" a\n", "O\n", r"train_texts.txt line 1 column 1: extra space"),
        ("", "O\n", r"train_texts.txt: the file is empty; expected one sentence a line"),
        ("a\n", "\n\n", r"train_entities.txt: the file is empty"),
    ],
)
def test_reading_errors_name_file_line_and_what_was_expected(tmp_path, texts, entities, message):
    with pytest.raises(DataError, match=message):
        somd.read_somd(_write(tmp_path, texts, entities))


def test_missing_file_and_bad_encoding_are_named(tmp_path):
    with pytest.raises(DataError, match="train_texts.txt: no such file"):
        somd.read_somd(tmp_path)
    d = _write(tmp_path, "a\n", "O\n")
    (d / "test_texts.txt").write_bytes(b"ok\nbad \xff byte\n")
    with pytest.raises(DataError, match="test_texts.txt line 2: not UTF-8"):
        somd.read_somd(d)


def test_label_set_has_o_and_both_prefixes_of_fourteen_types():
    assert len(somd.ENTITY_TYPES) == 14 and len(somd.LABELS) == 29 and somd.LABELS[0] == "O"
    assert {"B-Application", "I-Release", "B-SoftwareCoreference"} <= set(somd.LABELS)


def test_mentions_follow_seqeval():
    words = "We used Graph Pad Prism 9 and R".split()
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
    assert sorted(before) == ["test_texts.txt", "train_entities.txt", "train_texts.txt"]
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


def test_check_predictions_accepts_a_valid_file(tmp_path):
    d = _write(tmp_path / "data", "a\n", "O\n", test="We used SPSS .\nIt ran\n")
    path = somd.write_predictions([["O", "O", "B-Application", "O"], ["O", "O"]], tmp_path / "predictions.txt")
    assert path.read_text() == "O O B-Application O\nO O\n"
    assert somd.check_predictions(path, d) is None
    path.write_text(path.read_text() + "\n\n")  # trailing blank lines are tolerated
    somd.check_predictions(path, d)


@pytest.mark.parametrize(
    "content, message",
    [
        ("O O O O\n", r"predictions.txt: 1 lines but test_texts.txt has 2 sentences"),
        ("O O O\nO O\n", r"predictions.txt line 1: 3 labels for 4 tokens"),
        ("O O B-Tool O\nO O\n", r"predictions.txt line 1 label 3: unknown label 'B-Tool'"),
        ("O O O O\nO  O\n", r"predictions.txt line 2 column 3: extra space"),
        ("O O O O\n\nO O\n", r"predictions.txt line 2: empty line"),
        ("", r"predictions.txt: the file is empty"),
    ],
)
def test_check_predictions_refuses_and_names_the_first_bad_line(tmp_path, content, message):
    d = _write(tmp_path / "data", "a\n", "O\n", test="We used SPSS .\nIt ran\n")
    path = tmp_path / "predictions.txt"
    path.write_text(content)
    with pytest.raises(SubmissionError, match=message):
        somd.check_predictions(path, d)


def test_check_predictions_lists_at_most_five_problems(tmp_path):
    d = _write(tmp_path / "data", "a\n", "O\n", test="a b\n" * 8)
    path = tmp_path / "predictions.txt"
    path.write_text("O\n" * 8)
    with pytest.raises(SubmissionError) as info:
        somd.check_predictions(path, d)
    message = str(info.value)
    assert "line 5: 1 labels for 2 tokens" in message and "line 6" not in message


def test_pack_predictions_puts_the_file_at_the_zip_root_reproducibly(tmp_path):
    path = somd.write_predictions([["O", "B-URL"]], tmp_path / "predictions.txt")
    first = somd.pack_predictions(path)
    assert first == tmp_path / "predictions.zip"
    with zipfile.ZipFile(first) as zf:
        assert zf.namelist() == ["predictions.txt"] and zf.read("predictions.txt") == path.read_bytes()
    again = somd.pack_predictions(path, tmp_path / "again.zip")
    assert again.read_bytes() == first.read_bytes()
    with pytest.raises(SubmissionError, match="no such predictions file"):
        somd.pack_predictions(tmp_path / "missing.txt")


def test_highlight_marks_each_mention_with_its_type():
    out = somd.highlight_html(["Use", "R", "<4>", "now"], ["O", "B-ProgrammingEnvironment", "B-Version", "O"])
    assert out.startswith("Use <mark") and out.endswith("</mark> now")
    assert "R <sub>ProgrammingEnvironment</sub></mark>" in out and "&lt;4&gt; <sub>Version</sub>" in out
    assert out.count("<mark") == 2


def test_kit_submit_refuses_bad_predictions_and_records_good_ones(kit_dirs, tmp_path, capsys):
    from kitlib import cli, submit

    d = _write(tmp_path / "data", "a\n", "O\n", test="We used SPSS .\nIt ran\n")
    bad = tmp_path / "bad" / "predictions.txt"
    bad.parent.mkdir()
    bad.write_text("O O O O\nO O O\n")
    assert cli.main(["submit", str(bad), "--competition", "somd-ner", "--data-dir", str(d)]) == 1
    assert "predictions.txt line 2: 3 labels for 2 tokens" in capsys.readouterr().err
    assert submit.read_ledger().empty  # a refused file is never recorded
    good = somd.write_predictions([["O", "O", "B-Application", "O"], ["O", "O"]], tmp_path / "predictions.txt")
    assert cli.main(["submit", str(good), "--competition", "somd-ner", "--data-dir", str(d)]) == 0
    assert submit.read_ledger().competition.tolist() == ["somd-ner"]


@pytest.mark.notebook
def test_notebook_smoke_on_a_second_dataset(kit_dirs, tmp_path):
    from kitlib import run
    from kitlib.execute import execute

    data_dir = somd.write_corpus(tmp_path / "other", n_train=150, n_test=40, seed=7)
    run_dir = execute("somd-ner", {"smoke": "true", "data_dir": str(data_dir), "seed": "1"})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok" and manifest["data_dir"] == str(data_dir)
    assert {"val_entity_f1", "val_entity_f1_gazetteer", "val_token_f1", "o_threshold"} <= set(manifest["metrics"])
    somd.check_predictions(Path(manifest["submission"]["path"]), data_dir)
    with zipfile.ZipFile(run_dir / "predictions.zip") as zf:
        assert zf.read("predictions.txt") == Path(manifest["submission"]["path"]).read_bytes()
    probs, folds = load_oof(run_dir / "oof_probs.npz")
    assert len(probs) == len(folds) == 120 and any(p is not None for p in probs)
