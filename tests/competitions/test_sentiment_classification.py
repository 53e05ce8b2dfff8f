import hashlib
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from kitlib.competitions import sentiment_classification as sentiment
from kitlib.errors import DataError


def digest(folder):
    return {f: hashlib.sha256((folder / f).read_bytes()).hexdigest() for f in sentiment.FILES}


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    return sentiment.write_demo(out, seed=3, n_train=120, n_val=60, n_test=40)


def test_demo_is_deterministic_and_in_aicrowd_format(small, tmp_path):
    again = sentiment.write_demo(tmp_path / "again", seed=3, n_train=120, n_val=60, n_test=40)
    assert digest(small) == digest(again)
    other = sentiment.write_demo(tmp_path / "other", seed=4, n_train=120, n_val=60, n_test=40)
    assert digest(other)["train.csv"] != digest(small)["train.csv"]
    train = pd.read_csv(small / "train.csv")
    assert list(train.columns) == ["embeddings", "label"]
    assert set(train.label) <= set(sentiment.LABELS)
    first = train.embeddings[0]
    assert first.startswith("[") and first.endswith("]") and len(first.split(",")) == 512
    sample = pd.read_csv(small / "sample_submission.csv", keep_default_na=False)
    assert list(sample.columns) == ["embeddings", "label"] and len(sample) == 40


def test_load(small):
    data = sentiment.load(small)
    assert data.X_train.shape == (120, 512) and data.X_train.dtype == np.float32
    assert data.X_test.shape == (40, 512)
    assert set(np.unique(data.y_train)) <= {0, 1, 2}


def test_unknown_label_is_named(small, tmp_path):
    for f in sentiment.FILES:
        (tmp_path / f).write_bytes((small / f).read_bytes())
    text = (tmp_path / "val.csv").read_text().splitlines()
    text[5] = text[5].rsplit(",", 1)[0] + ",happy"
    (tmp_path / "val.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(DataError, match=r"val.csv row 5: column 'label': 'happy' is not one of"):
        sentiment.load(tmp_path, cache=False)


def test_mlp_beats_forest_on_generated_data():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import StandardScaler

    from kitlib.metrics import weighted_f1

    X, y = sentiment.make_embeddings(1500, seed=1)
    X = StandardScaler().fit_transform(X).astype(np.float32)
    Xt, yt, Xv, yv = X[:1100], y[:1100], X[1100:], y[1100:]
    forest = RandomForestClassifier(100, random_state=0, n_jobs=2).fit(Xt, yt)
    fit = sentiment.fit_mlp(Xt, yt, Xv, yv, recipe=replace(sentiment.MLP_RECIPE, epochs=15, progress=False))
    assert fit.best_score > weighted_f1(yv, forest.predict(Xv)) + 0.03


def test_prediction_tables_score_and_submit_by_hand(small):
    frame = pd.DataFrame({"label": ["negative", "positive", "neutral", "neutral"],
                          "p_negative": [0.7, 0.1, 0.2, 0.5], "p_neutral": [0.2, 0.1, 0.7, 0.3],
                          "p_positive": [0.1, 0.8, 0.1, 0.2]})
    # predicted: negative, positive, neutral, negative -> neutral F1 2/3 (weight 2), others 1 and 2/3
    assert sentiment.score_predictions(frame) == pytest.approx((2 / 3 + 1 + 2 * (2 / 3)) / 4)
    data = sentiment.load(small)
    probs = np.zeros((40, 3))
    probs[np.arange(40), np.arange(40) % 3] = 1.0
    test = pd.concat([sentiment.test_keys(data), pd.DataFrame(probs, columns=list(sentiment.PROBABILITIES))], axis=1)
    sub = sentiment.predictions_to_submission(test.iloc[::-1], small)  # row order comes from the keys
    assert sub.label.tolist() == [sentiment.LABELS[i % 3] for i in range(40)]
    assert sub.embeddings.tolist() == data.sample.embeddings.tolist()
    with pytest.raises(DataError, match="39 test predictions for the 40 rows of sample_submission.csv"):
        sentiment.predictions_to_submission(test.iloc[:39], small)


def test_mlp_folds_never_train_on_their_validation_rows(small):
    from kitlib.folds import assign_folds, cross_validate

    data = sentiment.load(small)
    X, y, keys = sentiment.labelled_rows(data)
    assert len(X) == 180 and keys.iloc[120].tolist() == ["val.csv", 1]
    folds = assign_folds(len(y), n_splits=3, stratify=y, seed=0)
    seen = []
    fit_fold = sentiment.mlp_fold(X, y, data.X_test, {"hidden": 16}, recipe=replace(sentiment.MLP_RECIPE, epochs=2),
                                  n_seeds=2)

    def spy(k, tr, va):
        seen.append((set(tr.tolist()), set(va.tolist())))
        return fit_fold(k, tr, va)

    cv = cross_validate(spy, folds, score=lambda idx, p: float((p.argmax(1) == y[idx]).mean()))
    assert all(not (tr & va) for tr, va in seen) and cv.oof.shape == (180, 3) and cv.test.shape == (40, 3)
    np.testing.assert_allclose(cv.oof.sum(1), 1.0, rtol=1e-5)
