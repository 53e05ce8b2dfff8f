"""kitlib.predictions: the prediction tables of a run folder."""
import numpy as np
import pandas as pd
import pytest

from kitlib import predictions
from kitlib.errors import DataError, ParameterError


def test_frame_orders_keys_fold_target_then_predictions(tmp_path):
    names = predictions.columns("p_", ["a", "b"])
    oof = predictions.frame({"id": [3, 1]}, [[0.2, 0.8], [0.6, 0.4]], names, fold=[0, 1], target={"label": ["b", "a"]})
    assert list(oof.columns) == ["id", "fold", "label", "p_a", "p_b"] and oof["p_b"].tolist() == [0.8, 0.4]
    assert predictions.prediction_columns(oof) == ["p_a", "p_b"]
    test = predictions.frame(pd.DataFrame({"id": [7]}), [0.5], ["pred_value"])
    written = predictions.write(tmp_path, oof, test)
    assert sorted(written) == ["oof.parquet", "test_predictions.parquet"]
    back, back_test = predictions.read(tmp_path)
    pd.testing.assert_frame_equal(back, oof)
    assert back_test["pred_value"].tolist() == [0.5]


def test_bad_tables_are_refused(tmp_path):
    with pytest.raises(ParameterError, match=r"predictions of shape \(2, 1\) for 3 rows"):
        predictions.frame({"id": [1, 2, 3]}, [[1.0], [2.0]], ["p_x"])
    with pytest.raises(ParameterError, match=r"prediction columns \['x'\] must start with one of"):
        predictions.frame({"id": [1]}, [1.0], ["x"])
    with pytest.raises(ParameterError, match="Unknown prediction prefix 'q_'"):
        predictions.columns("q_", ["a"])
    no_fold = predictions.frame({"id": [1]}, [1.0], ["p_x"])
    with pytest.raises(ParameterError, match="oof.parquet: needs a 'fold' column"):
        predictions.write(tmp_path, no_fold, None)
    with pytest.raises(DataError, match="no oof.parquet; the run kept no out-of-fold predictions"):
        predictions.read(tmp_path)
    assert np.isnan(predictions.frame({"id": [1]}, [np.nan], ["pred_x"])["pred_x"]).all()
