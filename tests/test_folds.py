"""Fold assignment, negative down-sampling and out-of-fold storage."""
import numpy as np
import pandas as pd
import pytest

from kitlib.errors import DataError, ParameterError
from kitlib.folds import (
    FoldResult,
    assign_folds,
    cross_validate,
    downsample_negatives,
    empty_oof,
    fold_indices,
    fold_summary,
    holdout,
    load_oof,
    save_oof,
)


def test_plain_kfold_balances_rows_and_depends_only_on_seed():
    folds = assign_folds(10, n_splits=5, seed=3)
    assert folds.dtype == np.int64 and sorted(np.bincount(folds)) == [2] * 5
    assert np.array_equal(folds, assign_folds(list(range(10)), n_splits=5, seed=3))
    assert not np.array_equal(folds, assign_folds(10, n_splits=5, seed=4))


@pytest.mark.parametrize("seed", [0, 1])
def test_group_folds_never_split_a_document(seed):
    rng = np.random.default_rng(seed)
    documents = rng.integers(0, 23, size=200)
    folds = assign_folds(200, n_splits=4, groups=documents, seed=seed)
    for doc in np.unique(documents):
        assert len(set(folds[documents == doc])) == 1, f"document {doc} is split across folds"
    assert set(folds) == {0, 1, 2, 3}


def test_dataframe_columns_by_name_and_stratified_groups():
    df = pd.DataFrame({"doc": np.repeat(np.arange(40), 3), "y": np.tile([0, 0, 1], 40)})
    df.loc[df.doc < 20, "y"] = 1
    folds = assign_folds(df, n_splits=4, groups="doc", stratify="y", seed=0)
    assert all(df.assign(f=folds).groupby("doc").f.nunique() == 1)
    shares = df.assign(f=folds).groupby("f").y.mean()
    assert shares.max() - shares.min() < 0.15
    table = fold_summary(folds, df.doc, df.y)
    assert list(table.columns) == ["rows", "groups", "share_0", "share_1"] and table.rows.sum() == 120


def test_stratified_folds_keep_label_shares():
    y = np.array([0] * 80 + [1] * 20)
    folds = assign_folds(len(y), n_splits=5, stratify=y, seed=0)
    assert [int(y[folds == k].sum()) for k in range(5)] == [4] * 5


def test_bad_fold_requests_name_the_problem():
    with pytest.raises(ParameterError, match="cannot make 4 folds from 3 groups"):
        assign_folds(9, n_splits=4, groups=[0, 0, 0, 1, 1, 1, 2, 2, 2])
    with pytest.raises(ParameterError, match="n_splits must be at least 2"):
        assign_folds(9, n_splits=1)
    with pytest.raises(ParameterError, match=r"Unknown groups column 'document'; expected one of \['doc'\]"):
        assign_folds(pd.DataFrame({"doc": range(9)}), n_splits=3, groups="document")
    with pytest.raises(ParameterError, match=r"one value per row \(9\)"):
        assign_folds(9, n_splits=3, groups=[1, 2])


def test_fold_indices_partition_the_rows():
    folds = np.array([0, 1, 2, 0, 1, 2, -1])
    train, val = fold_indices(folds, 1)
    assert val.tolist() == [1, 4] and train.tolist() == [0, 2, 3, 5]  # row 6 (fold -1) is in neither
    with pytest.raises(ParameterError, match=r"no row is in fold 5; the folds are \[0, 1, 2\]"):
        fold_indices(folds, 5)


def test_downsampling_keeps_positives_and_a_share_of_negatives():
    is_negative = np.array([i % 2 == 0 for i in range(100)])  # 50 negatives
    folds = assign_folds(100, n_splits=4, seed=0)
    train, val = fold_indices(folds, 0)
    kept = downsample_negatives(train, is_negative, ratio=0.3, seed=0)
    assert set(kept) <= set(train) and not set(kept) & set(val)
    assert set(train[~is_negative[train]]) <= set(kept)  # every positive stays
    assert is_negative[kept].sum() == round(0.3 * is_negative[train].sum())
    assert np.all(np.diff(kept) > 0)  # original order
    assert np.array_equal(kept, downsample_negatives(train, is_negative, 0.3, seed=0))
    assert len(downsample_negatives(train, is_negative, 1.0)) == len(train)
    assert not is_negative[downsample_negatives(train, is_negative, 0.0)].any()
    with pytest.raises(ParameterError, match=r"negative ratio must be in \[0, 1\]; got 1.5"):
        downsample_negatives(train, is_negative, 1.5)


def test_dense_oof_round_trip(tmp_path):
    oof = empty_oof(4, (2,))
    assert np.isnan(oof).all() and oof.shape == (4, 2)
    oof[[0, 2]] = [[1, 2], [3, 4]]
    path = save_oof(tmp_path / "run" / "oof.npz", oof, np.array([0, 1, 0, 1]))
    values, folds = load_oof(path)
    assert np.array_equal(values, oof, equal_nan=True) and folds.tolist() == [0, 1, 0, 1]


def test_ragged_oof_round_trip_keeps_unfilled_rows(tmp_path):
    rows = [np.ones((3, 2), np.float32), None, np.zeros((1, 2), np.float32)]
    save_oof(tmp_path / "oof.npz", rows, np.array([0, -1, 1]), extra={"threshold": np.array(0.6)})
    values, folds = load_oof(tmp_path / "oof.npz")
    assert values[1] is None and values[0].shape == (3, 2) and values[2].tolist() == [[0.0, 0.0]]
    assert folds.tolist() == [0, -1, 1]


def test_oof_errors(tmp_path):
    with pytest.raises(ParameterError, match="3 out-of-fold rows but 2 fold ids"):
        save_oof(tmp_path / "x.npz", np.zeros(3), np.zeros(2))
    with pytest.raises(DataError, match="no such out-of-fold file"):
        load_oof(tmp_path / "missing.npz")
    np.savez(tmp_path / "other.npz", a=np.zeros(1))
    with pytest.raises(DataError, match="not an out-of-fold file"):
        load_oof(tmp_path / "other.npz")


# ------------------------------------------------------------------------------- cross_validate
def test_out_of_fold_rows_never_come_from_a_model_that_saw_them():
    n = 30
    folds = assign_folds(n, n_splits=3, seed=0)
    x = np.arange(n, dtype=float)

    def fit_fold(k, train_idx, val_idx):
        seen = set(train_idx.tolist())  # the "model" is the set of rows it trained on
        return FoldResult(val=np.array([float(i in seen) for i in val_idx]), test=np.full(4, float(k)),
                          model=seen, info={"k": k})

    cv = cross_validate(fit_fold, folds, score=lambda idx, pred: float(np.mean(pred == 0.0)))
    assert cv.oof.shape == (n,) and not np.isnan(cv.oof).any()
    assert (cv.oof == 0.0).all()  # no row was predicted by a model trained on it
    assert cv.fold_scores == [1.0, 1.0, 1.0] and cv.score == 1.0 and cv.mean == 1.0 and cv.std == 0.0
    np.testing.assert_allclose(cv.test, np.full(4, 1.0))  # mean of the folds' test predictions (0, 1, 2)
    for model, k in zip(cv.models, cv.fold_ids):
        assert not model & set(np.flatnonzero(folds == k).tolist())
    assert [info["k"] for info in cv.infos] == [0, 1, 2]
    assert cv.summary("acc") == {"metric": "acc", "mean": 1.0, "std": 0.0, "folds": [1.0, 1.0, 1.0],
                                 "n_rows": n, "score": 1.0}
    assert x[cv.rows].tolist() == x.tolist()


def test_cross_validate_runs_only_the_asked_folds_and_keeps_ragged_predictions():
    folds = np.array([0, 1, 2, 0, 1, 2, -1])

    def fit_fold(k, train_idx, val_idx):
        return [np.full((int(i) + 1, 2), k, dtype=np.float32) for i in val_idx], [np.ones(3), np.ones(1)]

    cv = cross_validate(fit_fold, folds, only=[1], score=lambda idx, pred: float(len(idx)))
    assert cv.fold_ids == [1] and cv.rows.tolist() == [1, 4] and cv.fold_scores == [2.0] and cv.score == 2.0
    assert [None if p is None else p.shape for p in cv.oof] == [None, (2, 2), None, None, (5, 2), None, None]
    assert [t.tolist() for t in cv.test] == [[1.0, 1.0, 1.0], [1.0]]


def test_cross_validate_refuses_a_wrong_number_of_validation_predictions():
    folds = assign_folds(10, n_splits=2, seed=0)
    with pytest.raises(ParameterError, match=r"fold 0: 3 validation predictions for 5 validation rows"):
        cross_validate(lambda k, tr, va: (np.zeros(3), None), folds)


def test_a_stratified_holdout_is_scikit_learns_split_in_its_draw_order():
    from sklearn.model_selection import train_test_split

    y = np.repeat([0, 1, 2], [60, 30, 10])
    split = holdout(len(y), 0.2, seed=5, stratify=y)
    train, val = train_test_split(np.arange(len(y)), test_size=0.2, random_state=5, stratify=y)
    assert np.array_equal(split.train, train) and np.array_equal(split.val, val)  # not sorted: training reads it
    assert np.bincount(y[split.val]).tolist() == [12, 6, 2]
    frame = pd.DataFrame({"label": y})
    assert np.array_equal(holdout(frame, 0.2, seed=5, stratify="label").val, val)


def test_a_plain_holdout_takes_the_head_of_one_seeded_permutation():
    split = holdout(np.zeros((41, 3)), 0.15, seed=2)
    order = np.random.default_rng(2).permutation(41)
    assert len(split.val) == 6 and np.array_equal(split.val, order[:6]) and np.array_equal(split.train, order[6:])
    assert len(holdout(5, 0.01).val) == 1  # at least one row is held out
    assert not np.array_equal(split.val, holdout(41, 0.15, seed=3).val)


def test_a_holdout_is_one_fold_of_a_fold_column_and_one_fold_of_the_cv_record():
    split = holdout(20, 0.25, seed=0)
    assert split.folds.tolist().count(0) == 5 and set(split.folds[split.train]) == {1}
    train_idx, val_idx = fold_indices(split.folds, 0)
    assert np.array_equal(val_idx, np.sort(split.val)) and np.array_equal(train_idx, np.sort(split.train))
    cv = cross_validate(lambda k, tr, va: FoldResult(val=va * 1.0), split.folds, only=[0],
                        score=lambda idx, pred: float(len(idx)))
    assert cv.fold_ids == [0] and cv.score == 5.0
    assert split.summary("val_accuracy", 0.75) == {"metric": "val_accuracy", "mean": 0.75, "std": 0.0,
                                                   "folds": [0.75], "n_rows": 5}


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.95])
def test_a_holdout_refuses_a_fraction_that_leaves_a_side_empty(fraction):
    with pytest.raises(ParameterError, match=r"held-out fraction must be in \(0, 1\)|leaves none to train on"):
        holdout(10, fraction)
