"""MAP@3 exactly as Kaggle scores LLM Science Exam, on examples worked out by hand.

Kaggle's definition: MAP@3 = 1/U sum_u sum_{k<=3} P(k) rel(k), one correct label per question; once the
correct label has been scored for a question, later predictions of it are skipped. So a correct answer
first seen at rank r scores P(r) = 1/r, and each question scores at most 1.
"""
import numpy as np
import pytest

from kitlib.metrics import map_at_k


def kaggle_notebook_map3(predictions, truths):
    """The literal formula as the competition's public notebooks wrote it (precision_at_k x rel_k,
    summed over the first three predictions). It has no "skip repeats" rule, so it only agrees with
    Kaggle's scorer when a prediction holds three distinct letters."""

    def precision_at_k(r, k):
        return sum(r[:k]) / k

    total = 0.0
    for pred, truth in zip(predictions, truths):
        labels = pred.split()
        rel = [1 if label == truth else 0 for label in labels]
        for k in range(min(len(labels), 3)):
            total += precision_at_k(rel, k + 1) * rel[k]
    return total / len(predictions)


@pytest.mark.parametrize(
    "prediction, score",
    [
        ("C A B", 1.0),  # right at rank 1
        ("A C B", 1 / 2),  # rank 2: P(2) = 1/2
        ("A B C", 1 / 3),  # rank 3: P(3) = 1/3
        ("A B D", 0.0),  # not in the top three
        ("A B D C", 0.0),  # rank 4 is cut off by k = 3
        ("A A C", 1 / 3),  # a repeated wrong letter still takes rank 2
    ],
)
def test_one_question_scores_one_over_the_rank_of_the_answer(prediction, score):
    assert map_at_k(["C"], [prediction]) == pytest.approx(score)


@pytest.mark.parametrize("prediction", ["A B C D E", "A A A A A", "A B A C A"])
def test_kaggle_examples_with_repeated_correct_label_all_score_one(prediction):
    # Kaggle's evaluation page: with answer A, these three predictions each score 1.0.
    assert map_at_k(["A"], [prediction]) == pytest.approx(1.0)


def test_repeats_of_the_answer_after_a_miss_count_once():
    # D at rank 2 scores 1/2; the second D at rank 3 is skipped (not + 1/3, not + 2/3).
    assert map_at_k(["D"], ["A D D"]) == pytest.approx(0.5)


def test_mean_over_questions():
    # (1 + 1/2 + 1/3 + 0) / 4 = (6/6 + 3/6 + 2/6) / 4 = 11/24
    truths = ["A", "B", "C", "E"]
    preds = ["A B C", "A B C", "A B C", "A B C"]
    assert map_at_k(truths, preds) == pytest.approx(11 / 24)


def test_lists_and_strings_are_the_same_prediction():
    truths = ["B", "E"]
    assert map_at_k(truths, [["D", "B", "A"], ["E", "A", "C"]]) == map_at_k(truths, ["D B A", "E A C"]) == 0.75


def test_k_truncates_the_ranking():
    assert map_at_k(["B"], ["A B C"], k=1) == 0.0
    assert map_at_k(["B"], ["A B C"], k=2) == pytest.approx(0.5)


def test_chance_level_of_a_random_ranking_is_eleven_thirtieths():
    # Over all 120 orderings of A-E the answer sits at each rank equally often:
    # (1 + 1/2 + 1/3) / 5 = 11/30.
    from itertools import permutations

    preds = [" ".join(p) for p in permutations("ABCDE")]
    assert map_at_k(["A"] * len(preds), preds) == pytest.approx(11 / 30)


def test_agrees_with_the_public_notebook_formula_on_distinct_letters():
    rng = np.random.default_rng(0)
    letters = np.array(list("ABCDE"))
    truths = rng.choice(letters, size=300).tolist()
    preds = [" ".join(rng.permutation(letters)[:3]) for _ in range(300)]
    assert map_at_k(truths, preds) == pytest.approx(kaggle_notebook_map3(preds, truths))


def test_the_public_notebook_formula_overcounts_repeats_but_map_at_k_does_not():
    # Why map_at_k needs the "skip repeats" rule: the naive formula gives 3.0 for one question.
    assert kaggle_notebook_map3(["A A A"], ["A"]) == pytest.approx(3.0)
    assert map_at_k(["A"], ["A A A"]) == pytest.approx(1.0)


def test_mismatched_or_empty_input_is_refused():
    with pytest.raises(ValueError, match="2 answers but 1 predictions"):
        map_at_k(["A", "B"], ["A B C"])
    with pytest.raises(ValueError, match="empty"):
        map_at_k([], [])
