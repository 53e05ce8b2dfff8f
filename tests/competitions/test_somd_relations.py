"""SOMD relations and the shared task's submission: reading both phases' files, the rule baseline, candidate
pairs, the relation classifier, the out-of-fold choices, the two-file zip and its refusals, the notebook on the
Phase II-style demo variant."""
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from tiny_checkpoints import tiny_checkpoints  # noqa: F401

from kitlib.competitions import somd_ner as somd
from kitlib.competitions.somd_ner import relation_model as rm
from kitlib.competitions.somd_ner import scoring
from kitlib.errors import DataError, ParameterError, SubmissionError
from kitlib.tasks import token_classification as tc

# "We used SPSS 25 ( IBM ) ." / "Run in R with lme4 ." / "Nothing here ."
WORDS = [["We", "used", "SPSS", "25", "(", "IBM", ")", "."], ["Run", "in", "R", "with", "lme4", "."],
         ["Nothing", "here", "."]]
LABELS = [["O", "O", "B-Application", "B-Version", "O", "B-Developer", "O", "O"],
          ["O", "O", "B-ProgrammingEnvironment", "O", "B-PlugIn", "O"], ["O", "O", "O"]]
RELATIONS = [[("Version_of", 3, 2), ("Developer_of", 5, 2)], [("PlugIn_of", 4, 2)], []]


def _write(folder: Path, relations: str, phase: str = "phase1", test: str = "We used SPSS 25 .\nIt ran\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    texts, entities, rels, test_name = somd.PHASES[phase]
    (folder / texts).write_text("".join(" ".join(w) + "\n" for w in WORDS))
    (folder / entities).write_text("".join(" ".join(lab) + "\n" for lab in LABELS))
    (folder / rels).write_text(relations)
    (folder / test_name).write_text(test)
    return folder


GOOD = "Version_of\t3\t2; Developer_of\t5\t2\nPlugIn_of\t4\t2\n\n"


# ----------------------------------------------------------------------------------------- reading
def test_reads_relations_with_either_separator_and_empty_lines(tmp_path):
    data = somd.read_somd(_write(tmp_path, "Version_of\t3\t2;Developer_of\t5\t2;\r\nPlugIn_of\t4\t2\n\n"))
    assert data.train_relations == RELATIONS and data.relation_problems == [] and data.phase == "phase1"
    assert somd.format_relations(data.train_relations[0]) == "Version_of\t3\t2; Developer_of\t5\t2"


def test_phase_two_names_are_found_and_a_phase_can_be_forced(tmp_path):
    d = _write(tmp_path, GOOD, phase="phase2")
    data = somd.read_somd(d)
    assert data.phase == "phase2" and data.files == ("texts.txt", "entities.txt", "relations.txt", "test_texts.txt")
    assert data.train_relations == RELATIONS
    with pytest.raises(DataError, match="train_texts.txt: no such file"):
        somd.read_somd(d, phase="phase1")
    with pytest.raises(ParameterError, match=r"Unknown phase 'phase3'; expected one of \['auto', 'phase1', 'phase2'\]"):
        somd.read_somd(d, phase="phase3")


@pytest.mark.parametrize("line, message", [
    ("Version_of\t6,8\t2",
     r"train_relations.txt line 1 entry 1: 'Version_of\\t6,8\\t2': subject '6,8' is not a token index"),
    ("Version_of\t3", r"line 1 entry 1: 'Version_of\\t3': 2 fields; expected Type<TAB>subject<TAB>object"),
    ("Version_of\t3\t2; Developer_of\t41\t2", r"line 1: 'Developer_of\\t41\\t2': subject 41 is out of range for a "
                                            r"sentence of 8 tokens"),
    ("Version_of\t3\t1", r"line 1: 'Version_of\\t3\\t1': object 1 \('used'\) is not the first token of an entity"),
    ("Version_of\t3\t3", r"line 1: 'Version_of\\t3\\t3': subject and object are the same entity"),
    ("version of\t3\t2", r"relation type 'version of' is not a name like 'Version_of'"),
])
def test_malformed_entries_are_skipped_and_each_named_by_file_line_and_entry(tmp_path, line, message):
    data = somd.read_somd(_write(tmp_path, line + "\nPlugIn_of\t4\t2\n\n"))
    assert len(data.relation_problems) == 1 and __import__("re").search(message, data.relation_problems[0])
    assert data.train_relations[1] == [("PlugIn_of", 4, 2)]  # the rest is read
    assert all(r in RELATIONS[0] for r in data.train_relations[0])  # good entries of the same line are kept
    with pytest.raises(DataError, match=message):
        somd.read_somd(tmp_path, strict=True)


def test_indices_counted_from_one_are_said_first(tmp_path):
    data = somd.read_somd(_write(tmp_path, "Version_of\t4\t3; Developer_of\t6\t3\nPlugIn_of\t5\t3\n\n"))
    assert data.train_relations == [[], [], []]
    assert data.relation_problems[0] == ("train_relations.txt: 3 of 3 entries point one token after entity starts; "
                                         "the file seems to count tokens from 1, expected from 0")


def test_relation_line_counts(tmp_path):
    data = somd.read_somd(_write(tmp_path, "Version_of\t3\t2\n"))  # trailing empty lines cut off: said, not guessed
    assert data.train_relations == [[("Version_of", 3, 2)], [], []]
    assert data.relation_problems == ["train_relations.txt: 1 lines for 3 sentences of train_texts.txt; the last 2 "
                                      "taken to have no relation"]
    with pytest.raises(DataError, match=r"train_relations.txt: 4 lines but train_texts.txt has 3 sentences \(line 4 "
                                        r"holds relations\)"):
        somd.read_somd(_write(tmp_path, GOOD + "PlugIn_of\t4\t2\n"))
    (tmp_path / "train_relations.txt").unlink()
    missing = somd.read_somd(tmp_path)
    assert missing.train_relations == [[], [], []]
    assert "train_relations.txt: no such file" in missing.relation_problems[0]


def test_demo_relations_are_deterministic_and_the_phase_two_variant_reads(tmp_path):
    a, b = somd.generate_somd(60, 10, seed=4), somd.generate_somd(60, 10, seed=4)
    assert a == b and sum(map(len, a.train_relations)) > 30
    for words, labels, rels in zip(a.train_words, a.train_labels, a.train_relations):
        starts = {m[1] for m in somd.mentions(words, labels)}
        assert all(s in starts and o in starts for _, s, o in rels)  # every relation joins two entity starts
    demo = somd.read_somd(somd.DEMO_SIZE and Path(__file__).resolve().parents[2] / "data" / "demo" / "somd-ner")
    assert demo.relation_problems == [] and {"Version_of", "PlugIn_of", "Developer_of"} <= {
        r[0] for rels in demo.train_relations for r in rels}
    d = somd.write_demo(tmp_path / "p2", variant="phase2")
    assert sorted(p.name for p in d.iterdir()) == ["entities.txt", "relations.txt", "test_texts.txt", "texts.txt"]
    assert "  " in (d / "texts.txt").read_text() and ";V" in (d / "relations.txt").read_text().replace("; ", "")
    two = somd.read_somd(d)
    one = somd.read_somd(somd.write_demo(tmp_path / "p1"))
    assert two.phase == "phase2" and two.train_words == one.train_words  # double spaces are no tokens
    assert len(two.relation_problems) == 1 and "is not a token index" in two.relation_problems[0]
    assert sum(map(len, two.train_relations)) == sum(map(len, one.train_relations)) - 1


# -------------------------------------------------------------------------------- candidates, rule
ENTS = [somd.mentions(w, lab) for w, lab in zip(WORDS, LABELS)]


def test_candidate_pairs_are_the_ordered_pairs_of_type_pairs_seen_in_training():
    pairs = somd.relation_type_pairs(ENTS, RELATIONS)
    assert pairs == {("Version", "Application"): {"Version_of": 1}, ("Developer", "Application"): {"Developer_of": 1},
                     ("PlugIn", "ProgrammingEnvironment"): {"PlugIn_of": 1}}
    assert somd.candidate_pairs(ENTS[0], pairs) == [(1, 0), (2, 0)]  # (Version, SPSS), (IBM, SPSS)
    assert somd.candidate_pairs(ENTS[1], pairs) == [(1, 0)]  # software to software: lme4 -> R
    assert somd.candidate_pairs(ENTS[2], pairs) == []


def test_rule_links_each_attribute_to_the_nearest_software_before_it_on_a_tie():
    rule = somd.RuleLinker().fit(ENTS, RELATIONS)
    assert rule.rules_["Version"] == ("Version_of", frozenset({"Application"}))
    assert "Application" not in rule.rules_  # never a subject: no rule
    assert rule.predict(ENTS) == [[("Version_of", 3, 2), ("Developer_of", 5, 2)], [("PlugIn_of", 4, 2)], []]
    # "A 1 B": the version is as near to A as to B -> A (before it); "A x x 1 B" -> B (nearer)
    tie = [("Application", 0, 0, "A"), ("Version", 1, 1, "1"), ("Application", 2, 2, "B")]
    far = [("Application", 0, 0, "A"), ("Version", 3, 3, "1"), ("Application", 4, 4, "B")]
    assert rule.predict([tie, far]) == [[("Version_of", 1, 0)], [("Version_of", 3, 4)]]
    with pytest.raises(ParameterError, match="RuleLinker.predict called before fit"):
        somd.RuleLinker().predict(ENTS)


# ---------------------------------------------------------------------------------- classifier
def _vectors(entities, n_words, dim=8, seed=0):
    """Word vectors where a subject's first dimension says whether it is linked (1) or not (-1)."""
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.1, (n, dim)).astype(np.float32) for n in n_words]


def test_relation_classifier_learns_pairs_and_masks_types_never_seen_with_a_type_pair():
    # sentences "A 1 B 2": version 1 belongs to A, version 2 to B; the vectors mark the software a version is of
    words = [["A", "1", "B", "2"]] * 40
    labels = [["B-Application", "B-Version", "B-Application", "B-Version"]] * 40
    ents = [somd.mentions(w, lab) for w, lab in zip(words, labels)]
    rels = [[("Version_of", 1, 0), ("Version_of", 3, 2)]] * 40
    vectors = _vectors(ents, [4] * 40)
    for v in vectors:
        v[0, 0] = v[1, 0] = 1.0   # A and 1 share a sign, B and 2 another
        v[2, 0] = v[3, 0] = -1.0
    clf = rm.RelationClassifier(replace(rm.RELATION_RECIPE, epochs=40, lr=5e-3, seed=0)).fit(vectors, ents, rels)
    assert clf.classes_ == ("none", "Version_of") and clf.pairs_ == {("Version", "Application"): {"Version_of"}}
    scored = clf.predict_proba(vectors[:2], ents[:2])
    assert [(s, o) for s, o, _ in scored[0]] == [(1, 0), (1, 2), (3, 0), (3, 2)]
    assert rm.decode_relations(scored, clf.classes_, 0.5) == rels[:2]
    t, one, curve = rm.choose_relation_threshold(scored, clf.classes_, rels[:2])
    assert curve[(t, one)] == 1.0
    with pytest.raises(ParameterError, match="called before fit"):
        rm.RelationClassifier().predict_proba(vectors, ents)
    empty = rm.RelationClassifier().fit(vectors, ents, [[] for _ in ents])  # no relation in the data
    assert empty.predict_proba(vectors[:1], ents[:1]) == [[]]


def test_decoding_keeps_the_best_type_below_the_none_threshold_and_one_per_subject():
    classes = ("none", "Version_of", "URL_of")
    scored = [[(1, 0, np.array([0.3, 0.6, 0.1])), (1, 2, np.array([0.2, 0.7, 0.1])), (4, 2, np.array([0.7, 0.1, 0.2]))]]
    assert rm.decode_relations(scored, classes, 0.5) == [[("Version_of", 1, 0), ("Version_of", 1, 2)]]
    assert rm.decode_relations(scored, classes, 0.5, one_per_subject=True) == [[("Version_of", 1, 2)]]
    assert rm.decode_relations(scored, classes, 0.8) == [[("Version_of", 1, 0), ("Version_of", 1, 2), ("URL_of", 4, 2)]]
    averaged, union = rm.average_scored([scored, [[(1, 0, np.array([0.5, 0.5]))]]], [classes, ("none", "Version_of")])
    assert union == ("none", "URL_of", "Version_of") and np.allclose(averaged[0][0][2], [0.4, 0.05, 0.55])


def test_transformer_fold_trains_a_relation_classifier_on_the_fold_encoder(tiny_checkpoints, tmp_path):  # noqa: F811
    c = somd.generate_somd(40, 6, seed=3, negative_share=0.1)
    recipe = replace(tc.TOKEN_CLASSIFIER_RECIPE, epochs=1, batch_size=8, device="cpu", progress=False)
    fit_fold = somd.transformer_fold(c.train_words, c.train_labels, c.test_words, recipe=recipe,
                                     tagger=somd.Tagger(str(tiny_checkpoints["bert"]), max_length=32),
                                     relation_training=somd.RelationTraining(
                                         c.train_relations, replace(somd.RELATION_RECIPE, epochs=2)),
                                     checkpoints=tmp_path)
    result = fit_fold(0, np.arange(10, 40), np.arange(10))
    part = result.info["relations"]
    assert part["val_sentences"] == list(range(10)) and len(part["test_vectors"]) == 6
    assert [v.shape for v in part["val_vectors"]] == [(len(c.train_words[i]), 32) for i in range(10)]
    gold = [somd.mentions(c.train_words[i], c.train_labels[i]) for i in range(10)]
    scored, classes = rm.oof_relation_scores([result.info], list(range(10)), gold)
    assert classes[0] == "none" and sum(map(len, scored)) == sum(len(somd.candidate_pairs(
        e, part["classifier"].pairs_)) for e in gold) > 0
    test_entities = [somd.mentions(w, lab) for w, lab in zip(c.test_words, c.test_labels)]
    test, _ = rm.test_relation_scores([result.info], test_entities)
    assert len(test) == 6 and all(np.isclose(p.sum(), 1.0) for pairs in test for _, _, p in pairs)
    saved = rm.RelationClassifier.load(tmp_path / "fold0" / "relation_classifier.pt")  # kept with the fold model
    vectors = [v.astype(np.float32) for v in part["val_vectors"]]
    again = saved.predict_proba(vectors, gold)
    assert saved.classes_ == part["classifier"].classes_ and all(
        np.allclose(p, q) for a, b in zip(again, part["classifier"].predict_proba(vectors, gold))
        for (_, _, p), (_, _, q) in zip(a, b))


def test_rule_out_of_fold_learns_on_the_other_folds_only():
    words, labels, rels = WORDS * 2, LABELS * 2, RELATIONS[:2] + [[]] + [[], [], []]  # fold 1 has no relation
    folds = np.array([0, 0, 0, 1, 1, 1])
    ents = [somd.mentions(w, lab) for w, lab in zip(words, labels)]
    out = rm.rule_oof_relations(words, labels, rels, folds, [0, 1, 3], [ents[0], ents[1], ents[3]])
    assert out == [[], [], RELATIONS[0]]  # fold 0 learned from fold 1 (no relation); fold 1 from fold 0


# ------------------------------------------------------------------------------------- scoring
def test_gazetteer_combination_weight_is_chosen_out_of_fold():
    true = [["B-Application", "O"], ["O", "B-Application"]]
    model = [np.eye(len(somd.LABELS))[[0, 0]] * 0.98 + 0.02 / len(somd.LABELS)] * 2  # sure of O everywhere
    gazetteer = true
    weight, threshold, curve = scoring.choose_combination(model, gazetteer, true)
    assert weight > 0 and curve[weight][1] == 1.0 and curve[0.0][1] == 0.0
    assert scoring.choose_combination(scoring.one_hot(true), [["O", "O"]] * 2, true)[0] == 0.0  # model right alone
    assert np.allclose(scoring.combine(model, gazetteer, 0.5)[0][0],
                       0.5 * model[0][0] + 0.5 * scoring.one_hot(true)[0][0])


def test_somd_scores_and_the_cv_summary_by_hand():
    true_l, pred_l = [["B-URL", "O"], ["B-Version", "O"]], [["B-URL", "O"], ["O", "O"]]
    true_r, pred_r = [[("URL_of", 0, 1)], [("Version_of", 0, 1)]], [[("URL_of", 0, 1)], []]
    s = scoring.somd_scores(true_l, pred_l, true_r, pred_r)
    # entities: tp 1, predicted 1, true 2 -> F1 2/3 micro; macro (URL 1, Version 0) 1/2; relations the same
    assert s["entity_f1_micro"] == pytest.approx(2 / 3) and s["entity_f1_macro"] == pytest.approx(0.5)
    assert s["somd_micro"] == pytest.approx(2 / 3) and s["somd_macro"] == pytest.approx(0.5)
    cv = scoring.somd_cv_summary([0, 1], true_l, pred_l, true_r, pred_r, "val_somd_score")
    assert cv["folds"] == [1.0, 0.0] and cv["mean"] == 0.5 and cv["score"] == pytest.approx(2 / 3)


# ---------------------------------------------------------------------------------- submission
TEST = "We used SPSS 25 .\nIt ran\n"
PRED_L = [["O", "O", "B-Application", "B-Version", "O"], ["O", "O"]]


def test_submission_zip_holds_both_files_at_its_root_and_validates(tmp_path):
    d = _write(tmp_path / "data", GOOD)
    data = somd.submission_zip(PRED_L, [[("Version_of", 3, 2)], []])
    assert data == somd.submission_zip(PRED_L, [[("Version_of", 3, 2)], []])  # same predictions, same bytes
    path = tmp_path / "predictions.zip"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as zf:
        assert zf.namelist() == ["predictions.entities.txt", "predictions.relations.txt"]
        assert zf.read("predictions.relations.txt") == b"Version_of\t3\t2\n\n"
    assert somd.check_submission(path, d) is None
    assert somd.pack_predictions(path) == path and path.read_bytes() == data  # already the upload file


def _zip(path: Path, entities: str, relations: str | None, extra: dict | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("predictions.entities.txt", entities)
        if relations is not None:
            zf.writestr("predictions.relations.txt", relations)
        for name, text in (extra or {}).items():
            zf.writestr(name, text)
    return path


ENT = "O O B-Application B-Version O\nO O\n"


@pytest.mark.parametrize("entities, relations, extra, message", [
    (ENT, None, None, r"holds \['predictions.entities.txt'\]; expected predictions.zip holding .* \(missing "
                      r"\['predictions.relations.txt'\]\)"),
    (ENT, "\n\n", {"notes.txt": "x"}, r"\(unexpected \['notes.txt'\]\)"),
    ("O O O O O\n", "\n", None, r"predictions.entities.txt: 1 lines but test_texts.txt has 2 sentences"),
    (ENT, "\n", None, r"predictions.relations.txt: 1 lines but test_texts.txt has 2 sentences"),
    ("O O B-Tool O O\nO O\n", "\n\n", None, r"predictions.entities.txt line 1 label 3: unknown label 'B-Tool'"),
    (ENT, "Made_of\t3\t2\n\n", None, r"predictions.relations.txt line 1: unknown relation type 'Made_of'"),
    (ENT, "Version_of\t9\t2\n\n", None, r"line 1: 'Version_of\\t9\\t2': subject 9 is out of range for a sentence of 5"),
    (ENT, "Version_of\t3\t1\n\n", None, r"object 1 \('used'\) is not the first token of a predicted entity"),
    (ENT, "Version_of 3,4 2\n\n", None, r"predictions.relations.txt line 1 entry 1: .*subject '3,4' is not a token"),
])
def test_check_submission_refuses_and_names_the_first_offending_lines(tmp_path, entities, relations, extra, message):
    d = _write(tmp_path / "data", GOOD)
    path = _zip(tmp_path / "predictions.zip", entities, relations, extra)
    with pytest.raises(SubmissionError, match=message):
        somd.check_submission(path, d)


def test_check_submission_lists_at_most_five_problems(tmp_path):
    d = _write(tmp_path / "data", GOOD, test="a b\n" * 8)
    path = _zip(tmp_path / "predictions.zip", "O\n" * 8, "Version_of\t0\t1\n" * 8)
    message = str(pytest.raises(SubmissionError, somd.check_submission, path, d).value)
    assert message.count("\n  ") == 5 and "line 5: 1 labels for 2 tokens" in message and "line 6" not in message


def test_the_packer_never_writes_over_its_input_and_refuses_what_its_name_is_not(tmp_path):
    d = _write(tmp_path / "data", GOOD)
    text_as_zip = tmp_path / "preds.zip"
    text_as_zip.write_text(ENT)
    for call in (lambda: somd.check_submission(text_as_zip, d), lambda: somd.pack_predictions(text_as_zip)):
        with pytest.raises(SubmissionError, match="preds.zip: not a zip archive; expected predictions.zip holding"):
            call()
    assert text_as_zip.read_text() == ENT  # untouched
    other = tmp_path / "predictions.txt"
    other.write_text(ENT)
    with pytest.raises(SubmissionError, match=r"predictions.txt: expected predictions.zip .* \(or "
                                              r"predictions.entities.txt with predictions.relations.txt beside it\)"):
        somd.check_submission(other, d)
    entities = somd.write_predictions(PRED_L, tmp_path / "run" / "predictions.entities.txt")
    with pytest.raises(SubmissionError, match="predictions.relations.txt not found beside it"):
        somd.pack_predictions(entities)
    (entities.parent / "predictions.relations.txt").write_text("Version_of\t3\t2\n\n")
    somd.check_submission(entities, d)
    packed = somd.pack_predictions(entities)
    assert packed == entities.parent / "predictions.zip"
    assert packed.read_bytes() == somd.submission_zip(PRED_L, [[("Version_of", 3, 2)], []])
    assert somd.pack_predictions(entities) == packed  # the same bytes again: nothing to do
    (entities.parent / "predictions.relations.txt").write_text("\n\n")
    with pytest.raises(SubmissionError, match="predictions.zip exists and holds something else; the packer never"):
        somd.pack_predictions(entities)
    with pytest.raises(SubmissionError, match="no such predictions file"):
        somd.pack_predictions(tmp_path / "missing.entities.txt")


def test_a_zip_holding_a_member_name_twice_is_refused_naming_it(tmp_path):
    d = _write(tmp_path / "data", GOOD)
    path = tmp_path / "predictions.zip"
    with pytest.warns(UserWarning, match="Duplicate name"), zipfile.ZipFile(path, "w") as zf:
        zf.writestr("predictions.entities.txt", ENT)
        zf.writestr("predictions.relations.txt", "\n\n")
        zf.writestr("predictions.relations.txt", "Version_of\t3\t2\n\n")  # which one would the scorer read?
    for call in (lambda: somd.check_submission(path, d), lambda: somd.pack_predictions(path)):
        with pytest.raises(SubmissionError, match=r"^predictions.zip: holds 'predictions.relations.txt' 2 times; "
                                                  r"each member name must appear once \(expected predictions.zip"):
            call()


def _blank_lines_zip(path: Path, n_bytes: int) -> Path:
    """A valid entities member and a relations member of ``n_bytes`` blank lines, deflated (a few hundred KB)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("predictions.entities.txt", ENT)
        with zf.open("predictions.relations.txt", "w", force_zip64=True) as member:
            for _ in range(n_bytes >> 20):
                member.write(b"\n" * (1 << 20))
    return path


def test_a_member_that_unpacks_far_beyond_the_test_texts_is_refused_before_it_is_unpacked(tmp_path, monkeypatch):
    """300 MB of blank lines in a 300 KB zip once took 5 GB and was recorded valid (blank lines at the end are
    tolerated): its declared size is refused before a byte of it is unpacked."""
    d = _write(tmp_path / "data", GOOD)
    path = _blank_lines_zip(tmp_path / "predictions.zip", 300 << 20)
    assert path.stat().st_size < 1 << 20
    opened = []
    real_open = zipfile.ZipFile.open
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda self, name, *a, **k: (
        opened.append(getattr(name, "filename", name)), real_open(self, name, *a, **k))[1])
    limit = 64 * len("We used SPSS 25 .\nIt ran\n") + (1 << 20)
    with pytest.raises(SubmissionError, match=rf"^predictions.zip: predictions.relations.txt unpacks to 314,572,800 "
                                              rf"bytes, more than {limit:,} \(64 times the 25 bytes of test_texts.txt"):
        somd.check_submission(path, d)
    assert "predictions.relations.txt" not in opened


def test_a_member_whose_header_understates_its_size_is_read_with_a_bound(tmp_path):
    d = _write(tmp_path / "data", GOOD)
    path = tmp_path / "predictions.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("predictions.entities.txt", ENT)
        zf.writestr("predictions.relations.txt", b"\n" * (4 << 20))
    data = bytearray(path.read_bytes())
    central = data.rindex(b"PK\x01\x02")  # the relations member's entry in the central directory
    data[central + 24:central + 28] = (3).to_bytes(4, "little")  # unpacked size: 3 bytes, it says
    path.write_bytes(bytes(data))
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("predictions.relations.txt").file_size == 3
    with pytest.raises(SubmissionError, match=r"^predictions.zip: a damaged zip archive \(zipfile.BadZipFile: Bad "
                                              r"CRC-32 for file 'predictions.relations.txt'\)"):
        somd.check_submission(path, d)  # three bytes read, then the checksum tells the lie


def _damaged_zip(path: Path, damage: str) -> Path:
    """A zip of ENT and two blank lines, damaged where ``damage`` says."""
    import struct

    method = zipfile.ZIP_STORED if damage == "ends inside a member" else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(path, "w", method) as zf:
        zf.writestr("predictions.entities.txt", ENT * 40)
        zf.writestr("predictions.relations.txt", "\n\n")
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("predictions.entities.txt")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    if damage == "compressed bytes":
        data[start:start + 4] = b"\xff" * 4
    elif damage == "checksum":
        data[start + info.compress_size - 6:start + info.compress_size] = b"\0" * 6
    else:  # the last member says it is longer than what is left of the file
        central = data.rindex(b"PK\x01\x02")
        data[central + 20:central + 28] = struct.pack("<II", 1000, 1000)
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("damage, said", [("compressed bytes", r"zlib.error: Error -3 while decompressing data"),
                                          ("checksum", r"zipfile.BadZipFile: Bad CRC-32"),
                                          ("ends inside a member", r"EOFError: it ends inside a member")])
def test_a_damaged_member_is_one_line(kit_dirs, tmp_path, capsys, damage, said):
    from kitlib import cli

    d = _write(tmp_path / "data", GOOD)
    path = _damaged_zip(tmp_path / "predictions.zip", damage)
    with pytest.raises(SubmissionError, match=rf"^predictions.zip: a damaged zip archive \({said}.*\); expected "):
        somd.check_submission(path, d)
    assert cli.main(["submit", str(path), "--competition", "somd-ner", "--data-dir", str(d)]) == 1
    err = capsys.readouterr().err
    assert "a damaged zip archive" in err and err.count("\n") == 1 and "Traceback" not in err


def test_kit_submit_refuses_a_bad_zip_and_records_a_good_one(kit_dirs, tmp_path, capsys):
    from kitlib import cli, submit

    d = _write(tmp_path / "data", GOOD)
    bad = _zip(tmp_path / "bad.zip", ENT, "Version_of\t3\t1\n\n")
    assert cli.main(["submit", str(bad), "--competition", "somd-ner", "--data-dir", str(d)]) == 1
    assert "is not the first token of a predicted entity" in capsys.readouterr().err
    assert submit.read_ledger().empty  # a refused file is never recorded
    good = tmp_path / "predictions.zip"
    good.write_bytes(somd.submission_zip(PRED_L, [[("Version_of", 3, 2)], []]))
    assert cli.main(["submit", str(good), "--competition", "somd-ner", "--data-dir", str(d)]) == 0
    assert submit.read_ledger().competition.tolist() == ["somd-ner"]


# ------------------------------------------------------------------------------------- notebook
@pytest.mark.notebook
def test_notebook_smoke_on_the_phase_two_demo_variant_writes_the_two_file_zip(kit_dirs, tmp_path):
    from kitlib import run
    from kitlib.execute import execute

    data_dir = somd.write_demo(tmp_path / "phase2", variant="phase2")
    run_dir = execute("somd-ner", {"smoke": "true", "data_dir": str(data_dir)})
    manifest = run.read_manifest(run_dir)
    assert manifest["status"] == "ok" and manifest["params"]["phase"] == "auto"
    m = manifest["metrics"]
    assert manifest["score"] == m["val_somd_score"] == pytest.approx((m["val_entity_f1"] + m["val_relation_f1"]) / 2)
    assert 0.0 <= m["gazetteer_weight"] <= 1.0 and {"val_relation_f1_rule", "val_relation_f1_classifier"} <= set(m)
    somd.check_submission(Path(manifest["submission"]["path"]), data_dir)
    with zipfile.ZipFile(manifest["submission"]["path"]) as zf:
        assert zf.namelist() == ["predictions.entities.txt", "predictions.relations.txt"]
        relation_lines = zf.read("predictions.relations.txt").decode().split("\n")
        assert len(relation_lines) == len(somd.read_somd(data_dir).test_words) + 1


def test_a_relation_classifier_saved_with_its_recipe_loads_and_so_does_one_saved_before_the_recipe(tmp_path):
    import torch

    words = [["A", "1", "B", "2"]] * 8
    labels = [["B-Application", "B-Version", "B-Application", "B-Version"]] * 8
    ents = [somd.mentions(w, lab) for w, lab in zip(words, labels)]
    rels = [[("Version_of", 1, 0), ("Version_of", 3, 2)]] * 8
    vectors = _vectors(ents, [4] * 8)
    clf = rm.RelationClassifier(replace(rm.RELATION_RECIPE, epochs=2, lr=1e-2, seed=4), hidden=16).fit(vectors, ents,
                                                                                                      rels)
    clf.save(tmp_path / "new.pt")
    again = rm.RelationClassifier.load(tmp_path / "new.pt")
    assert again.recipe == clf.recipe and again.hidden == 16
    old = torch.load(tmp_path / "new.pt", weights_only=True)  # tensors and plain values only; the settings as the
    # kit wrote them before the recipe:
    old["settings"] = {"epochs": 2, "lr": 1e-2, "hidden": 16, "dropout": 0.2, "batch_size": 64,
                       "weight_decay": 0.01, "seed": 4, "device": "cpu"}
    torch.save(old, tmp_path / "old.pt")
    legacy = rm.RelationClassifier.load(tmp_path / "old.pt")
    assert legacy.recipe == clf.recipe and legacy.hidden == 16
    for a, b in zip(legacy.predict_proba(vectors, ents), clf.predict_proba(vectors, ents)):
        assert all(np.allclose(p, q) for (_, _, p), (_, _, q) in zip(a, b))


def test_a_planted_relation_classifier_that_would_run_code_is_refused_naming_it(tmp_path):
    """A fold's checkpoints may come from elsewhere (-p checkpoints): the classifier is read with weights_only."""
    from tiny_checkpoints import plant_code

    path = plant_code(tmp_path / "fold0" / "relation_classifier.pt", tmp_path / "ran")
    with pytest.raises(DataError, match=rf"^{path}: refused to load \(it calls posix.system\)"):
        rm.RelationClassifier.load(path)
    assert not (tmp_path / "ran").exists()
