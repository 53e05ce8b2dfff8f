"""SOMD 2025 as the kit knows it: the shared task's submission rule and packing, the demo set, the prediction
tables a blend reads and the folds (sentences grouped by document; ``kit folds``)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..rows import FoldSettings, Rows, RowTables
from ..spec import Competition, Predictions, SubmissionSpec
from .dataset import read_somd
from .demo import write_demo
from .prediction_tables import PROBABILITIES, predictions_to_submission, score_predictions
from .relations import format_relations
from .submission import SUBMISSION, check_submission, pack_predictions

__all__ = ["COMPETITION", "SMOKE_SENTENCES", "fold_rows", "row_tables"]

SMOKE_SENTENCES = 120  # the training sentences a smoke run keeps: the first of the texts file


def fold_rows(data_dir: Path, settings: FoldSettings) -> pd.DataFrame:
    """``sentence, fold`` of every training sentence (the first :data:`SMOKE_SENTENCES` in smoke mode):
    ``settings.n_folds`` folds grouped by document (the sentence index: the files carry no document id), shuffled
    from ``settings.fold_seed``; the file names of ``settings.params["phase"]``."""
    from ...folds import assign_folds

    n = len(read_somd(data_dir, settings.params.get("phase", "auto")).train_words)
    n = min(n, SMOKE_SENTENCES) if settings.smoke else n
    sentences = np.arange(n, dtype=np.int64)
    return pd.DataFrame({"sentence": sentences}).assign(
        fold=assign_folds(n, n_splits=settings.n_folds, groups=sentences, seed=settings.fold_seed))


def row_tables(data_dir: Path, settings: FoldSettings) -> RowTables:
    """Every training word (``sentence, token, label, relations``: its gold BIO label and its sentence's gold
    relations line), every test word (``sentence, token``) and the label probabilities :data:`PROBABILITIES`."""
    data = read_somd(data_dir, settings.params.get("phase", "auto"))
    relations = data.train_relations or [[] for _ in data.train_words]
    counts = np.array([len(w) for w in data.train_words], dtype=np.int64)
    truth = pd.DataFrame({
        "sentence": np.repeat(np.arange(len(counts)), counts),
        "token": np.concatenate([np.arange(n) for n in counts]) if len(counts) else np.zeros(0, np.int64),
        "label": [lab for labs in data.train_labels for lab in labs],
        "relations": np.repeat(np.array([format_relations(r) for r in relations], dtype=object), counts)})
    test_counts = np.array([len(w) for w in data.test_words], dtype=np.int64)
    test = pd.DataFrame({"sentence": np.repeat(np.arange(len(test_counts)), test_counts),
                         "token": np.concatenate([np.arange(n) for n in test_counts]) if len(test_counts)
                         else np.zeros(0, np.int64)})
    return RowTables(truth, test, PROBABILITIES, (PROBABILITIES,))


COMPETITION = Competition(
    name="somd-ner",
    title="SOMD 2025 software mentions and their relations (entity F1 and relation F1, SOMD score)",
    platform="local",
    slug="somd-2025",
    metric="val_somd_score",
    mode="max",
    submission=SubmissionSpec(file_name=SUBMISSION, check=check_submission, pack=pack_predictions),
    demo=write_demo,
    predictions=Predictions(key=("sentence", "token"), target="label", score=score_predictions,
                            to_submission=predictions_to_submission),
    rows=Rows(folds=fold_rows, tables=row_tables, params=("phase",), smoke_n_folds=None),
)
