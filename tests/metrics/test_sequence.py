"""Entity-level and token-level sequence metrics: hand-worked examples, then seqeval / scikit-learn."""
import random

import pytest

from kitlib.metrics import entity_f1, entity_prf, entity_report, sequence_scores, token_prf

# Two sentences worked by hand.
# true entities: Application(s0 0-1), Version(s0 3), PlugIn(s1 0), Application(s1 2)  -> 4
# predicted:     Application(s0 0-1),                PlugIn(s1 0), Version(s1 2)      -> 3, of which 2 right
TRUE = [["B-Application", "I-Application", "O", "B-Version"], ["B-PlugIn", "O", "B-Application"]]
PRED = [["B-Application", "I-Application", "O", "O"], ["B-PlugIn", "O", "B-Version"]]


def test_entity_prf_micro_by_hand():
    s = entity_prf(TRUE, PRED)
    assert s["precision"] == pytest.approx(2 / 3)
    assert s["recall"] == pytest.approx(2 / 4)
    assert s["f1"] == pytest.approx(4 / 7)  # 2PR/(P+R) = (2/3)/(7/6)
    assert s["support"] == 4
    assert entity_f1(TRUE, PRED) == pytest.approx(4 / 7)


def test_entity_report_per_type_by_hand():
    rep = entity_report(TRUE, PRED)
    assert list(rep.index) == ["Application", "PlugIn", "Version", "micro"]
    app = rep.loc["Application"]
    assert (app.precision, app.recall, app.f1, app.support, app.predicted) == pytest.approx((1.0, 0.5, 2 / 3, 2, 1))
    assert rep.loc["PlugIn", "f1"] == 1.0
    assert (rep.loc["Version", "f1"], rep.loc["Version", "support"], rep.loc["Version", "predicted"]) == (0.0, 1, 1)
    assert rep.loc["micro", "f1"] == pytest.approx(4 / 7)
    assert rep.loc["micro", "predicted"] == 3


def test_token_prf_by_hand():
    # non-O words: true 5, predicted 4, equal and non-O 3 (B-App, I-App, B-PlugIn)
    s = token_prf(TRUE, PRED)
    assert (s["precision"], s["recall"]) == pytest.approx((3 / 4, 3 / 5))
    assert s["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_a_half_found_entity_counts_for_tokens_but_not_for_entities():
    true, pred = [["B-Application", "I-Application", "O"]], [["B-Application", "O", "O"]]
    scores = sequence_scores(true, pred)
    assert scores["entity_f1"] == 0.0
    assert scores["token_precision"] == 1.0 and scores["token_recall"] == 0.5
    assert scores["token_f1"] == pytest.approx(2 / 3)


def test_stray_inside_label_conlleval_versus_strict():
    true, pred = [["O", "I-Version"]], [["O", "B-Version"]]
    assert entity_f1(true, pred) == 1.0  # conlleval: a stray I- starts an entity
    assert entity_f1(true, pred, mode="strict") == 0.0  # IOB2: it is no entity
    with pytest.raises(ValueError, match=r"Unknown mode 'loose'; expected one of \['conlleval', 'strict'\]"):
        entity_f1(true, pred, mode="loose")


def test_nothing_predicted_and_nothing_true_score_zero():
    assert entity_prf([["B-URL"]], [["O"]]) == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1.0}
    assert entity_report([["O"]], [["O"]]).loc["micro", "f1"] == 0.0


def test_mismatched_inputs_are_refused():
    with pytest.raises(ValueError, match="sentence 1: 3 true labels but 2 predicted labels"):
        entity_f1(TRUE, [PRED[0], ["O", "O"]])
    with pytest.raises(ValueError, match="2 true sentences but 1 predicted"):
        token_prf(TRUE, PRED[:1])
    with pytest.raises(ValueError, match="empty"):
        entity_f1([], [])


def _random_labels(rng, n_sent=40):
    types = ["Application", "Version", "PlugIn"]
    labels = ["O"] * 6 + [f"{p}-{t}" for t in types for p in "BI"]
    true = [[rng.choice(labels) for _ in range(rng.randint(1, 12))] for _ in range(n_sent)]
    pred = [[lab if rng.random() < 0.6 else rng.choice(labels) for lab in sent] for sent in true]
    return true, pred


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_seqeval_and_sklearn(seed):
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2
    from sklearn.metrics import precision_recall_fscore_support

    true, pred = _random_labels(random.Random(seed))
    s = entity_prf(true, pred)
    assert s["precision"] == pytest.approx(precision_score(true, pred))
    assert s["recall"] == pytest.approx(recall_score(true, pred))
    assert s["f1"] == pytest.approx(f1_score(true, pred))
    assert entity_f1(true, pred, mode="strict") == pytest.approx(f1_score(true, pred, mode="strict", scheme=IOB2))
    ref = classification_report(true, pred, output_dict=True, zero_division=0)
    rep = entity_report(true, pred)
    for name in rep.index.drop("micro"):
        assert rep.loc[name, "f1"] == pytest.approx(ref[name]["f1-score"])
        assert rep.loc[name, "support"] == ref[name]["support"]
    flat_t = [x for s_ in true for x in s_]
    flat_p = [x for s_ in pred for x in s_]
    non_o = sorted(set(flat_t + flat_p) - {"O"})
    p, r, f, _ = precision_recall_fscore_support(flat_t, flat_p, labels=non_o, average="micro", zero_division=0)
    tok = token_prf(true, pred)
    assert (tok["precision"], tok["recall"], tok["f1"]) == pytest.approx((p, r, f))
