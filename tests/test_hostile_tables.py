"""Generated hostile tables against every submission validator and against ``kit new``'s inference (hypothesis).

Each generated file starts from a valid one (a competition's good submission; a generated Kaggle-layout set for
``kit new``) and is damaged: cells replaced by hostile values (empty, NaN, inf, 1e309, text, quotes, separators,
NUL, very long), columns dropped, renamed, doubled or reordered, rows dropped, repeated, shuffled or cut to the
header, bytes cut short, made binary or re-encoded. Exactly two outcomes are allowed: a clear ``KitError`` (one
that names what is wrong, never an empty message) or a valid result; any other exception fails the test. SOMD's
``predictions.zip`` gets the same treatment at three levels: its lines (hostile labels and relation entries, lines
dropped, doubled, blank), its members (dropped, renamed, doubled, added, made binary, compressed four ways) and its
bytes (cut short, overwritten, replaced).
"""
from __future__ import annotations

import io
import warnings
import zipfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tabular_sets import KINDS, write_kaggle_set

from kitlib import scaffold, submit
from kitlib.competitions import get_competition
from kitlib.errors import KitError

SETTINGS = settings(max_examples=150, deadline=timedelta(seconds=10), derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.data_too_large])
HOSTILE_CELLS = ["", " ", "nan", "NaN", "None", "inf", "-inf", "1e309", "-1", "0", "1.0", "0.5", "2", "-0", "1e-320",
                 "x", "A B C D E", "A A A", "\t", '"', "'", "1,2", "a\nb", "\x00", "ünïcödé", "x" * 400,
                 "99999999999999999999", "0x10", "1_000", "True", "[1, 2]", "\\", "=cmd"]
_pool = st.sampled_from(HOSTILE_CELLS)
cells = st.one_of(_pool, _pool, _pool, st.text(max_size=12), st.integers(-10**20, 10**20).map(str),
                  st.floats(allow_nan=True, allow_infinity=True).map(repr))


# ----------------------------------------------------------------------------------------------- damage
@st.composite
def damaged_frame(draw, base: pd.DataFrame) -> pd.DataFrame:
    """``base`` (text cells) after one to three damaging edits."""
    frame = base.copy()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["cells", "cells", "column", "rows", "header"]))
        if kind == "cells" and len(frame) and len(frame.columns):
            for _ in range(draw(st.integers(1, 4))):
                row = draw(st.integers(0, len(frame) - 1))
                col = draw(st.integers(0, len(frame.columns) - 1))
                frame.iat[row, col] = draw(cells)
        elif kind == "column" and len(frame.columns):
            pos = draw(st.integers(0, len(frame.columns) - 1))
            col = frame.columns[pos]
            edit = draw(st.sampled_from(["drop", "rename", "double", "reorder", "fill"]))
            if edit == "drop":
                frame = frame.drop(columns=col)
            elif edit == "rename":
                frame = frame.rename(columns={col: draw(st.sampled_from(["", "fold", "p_1", "id", "x" * 300]) | cells)})
            elif edit == "double":
                frame = pd.concat([frame, frame.iloc[:, [pos]]], axis=1)
            elif edit == "reorder":
                frame = frame[list(reversed(frame.columns))]
            else:
                frame.iloc[:, pos] = draw(cells)
        elif kind == "rows":
            edit = draw(st.sampled_from(["drop", "repeat", "shuffle", "none", "extra"]))
            if edit == "drop" and len(frame):
                frame = frame.drop(index=frame.index[draw(st.integers(0, len(frame) - 1))])
            elif edit == "repeat" and len(frame):
                frame = pd.concat([frame, frame.iloc[:1]])
            elif edit == "shuffle":
                frame = frame.sample(frac=1.0, random_state=draw(st.integers(0, 9)))
            elif edit == "none":
                frame = frame.iloc[:0]
            elif len(frame):
                frame = pd.concat([frame, frame.iloc[:1].assign(**{frame.columns[0]: draw(cells)})])
        elif kind == "header":
            frame.columns = [draw(cells) if draw(st.booleans()) else c for c in frame.columns]
    return frame


@st.composite
def damaged_bytes(draw, frame: pd.DataFrame) -> bytes:
    """``frame`` written as CSV, and sometimes its bytes damaged: cut short, binary, empty, re-encoded, NULs."""
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator=draw(st.sampled_from(["\n", "\r\n"])))
    data = buffer.getvalue().encode("utf-8")
    edit = draw(st.sampled_from(["none", "none", "none", "cut", "binary", "empty", "latin-1", "nul", "bom"]))
    if edit == "cut" and data:
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif edit == "binary":
        data = draw(st.binary(min_size=1, max_size=200))
    elif edit == "empty":
        data = b""
    elif edit == "latin-1":
        data = buffer.getvalue().encode("latin-1", errors="replace") + "\u00e9".encode("latin-1")
    elif edit == "nul" and data:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\x00" + data[at:]
    elif edit == "bom":
        data = b"\xef\xbb\xbf" + data
    return data


def outcome(call) -> None:
    """Run ``call``: it may return or raise a KitError with a message; anything else propagates (the test fails)."""
    try:
        call()
    except KitError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"


# --------------------------------------------------------------------------------- submission validators
def good_submissions(tmp: Path) -> dict[str, tuple[pd.DataFrame, Path | None]]:
    """A valid submission (as text cells) and the data folder it validates against, per competition."""
    from kitlib.competitions import llm_science_exam as se
    from kitlib.competitions import recommender
    from kitlib.competitions import sentiment_classification as sentiment

    out = {}
    data = sentiment.write_demo(tmp / "sentiment", seed=5, n_train=20, n_val=10, n_test=12)
    sample = pd.read_csv(data / "sample_submission.csv", dtype=str, keep_default_na=False)
    out["sentiment-classification"] = (sample.assign(label=["negative", "neutral", "positive"] * 4), data)
    demo = se.committed_demo_dir()
    ids = pd.read_csv(demo / "sample_submission.csv", dtype=str)["id"]
    out["llm-science-exam"] = (pd.DataFrame({"id": ids, "prediction": "B C D"}), demo)
    rec = get_competition("recommender").resolve_data_dir("")
    inter = recommender.read_interactions(rec)
    items = sorted(set(inter["attractionId"].astype(str)))
    rows = []
    for user, seen in inter.astype(str).groupby("userId")["attractionId"]:
        unseen = [i for i in items if i not in set(seen)][:3]
        rows += [(user, str(k + 1), item) for k, item in enumerate(unseen)]
    out["recommender"] = (pd.DataFrame(rows, columns=["userId", "rank", "attractionId"]), rec)
    clocks = get_competition("tell-the-time").resolve_data_dir("")
    n = int(np.load(clocks / "test_images.npy", mmap_mode="r").shape[0])
    out["tell-the-time"] = (pd.DataFrame({"id": [str(i) for i in range(n)], "hour": "3", "minute": "15"}), clocks)
    out["image-classification"] = (pd.DataFrame({"id": [str(i) for i in range(20)], "label": "7"}), None)
    return out


@pytest.fixture(scope="module")
def goods(tmp_path_factory):
    return good_submissions(tmp_path_factory.mktemp("goods"))


@pytest.mark.parametrize("name", ["sentiment-classification", "llm-science-exam", "recommender", "tell-the-time",
                                  "image-classification"])
def test_every_submission_validator_takes_hostile_tables(goods, tmp_path, name):
    good, data_dir = goods[name]
    comp = get_competition(name)
    submit.validate_submission(_written(tmp_path / "good.csv", good), comp, data_dir)  # the base is valid

    @SETTINGS
    @given(st.data())
    def check(data):
        frame = data.draw(damaged_frame(good))
        path = tmp_path / comp.submission.file_name
        path.write_bytes(data.draw(damaged_bytes(frame)))
        outcome(lambda: submit.validate_submission(path, comp, data_dir))

    check()


@pytest.mark.parametrize("name", ["sentiment-classification", "llm-science-exam", "recommender", "tell-the-time",
                                  "image-classification"])
def test_every_submission_validator_takes_each_hostile_value_in_each_column(goods, tmp_path, name):
    """The pool of hostile values, each in each column (first and middle row, and the whole column): exhaustive where
    the generated damage above is a sample."""
    good, data_dir = goods[name]
    comp = get_competition(name)
    path = tmp_path / comp.submission.file_name
    for pos in range(len(good.columns)):
        for value in HOSTILE_CELLS:
            for rows in ([0], [len(good) // 2], list(range(len(good)))):
                frame = good.copy()
                frame.iloc[rows, pos] = value
                frame.to_csv(path, index=False)
                outcome(lambda: submit.validate_submission(path, comp, data_dir))


def test_a_spec_competitions_validator_takes_hostile_tables(tmp_path, kit_project):
    folder = write_kaggle_set(tmp_path / "set", "multiclass", n_train=60, n_test=20)
    scaffold.new_competition("hostile", folder)
    comp = get_competition("hostile")
    sample = pd.read_csv(folder / "sample_submission.csv", dtype=str, keep_default_na=False)
    good = sample.assign(grade="low")
    submit.validate_submission(_written(tmp_path / "good.csv", good), comp, folder)

    @SETTINGS
    @given(st.data())
    def check(data):
        path = tmp_path / "submission.csv"
        path.write_bytes(data.draw(damaged_bytes(data.draw(damaged_frame(good)))))
        outcome(lambda: submit.validate_submission(path, comp, folder))

    check()


SOMD_LABELS = ["O", "B-Application", "I-Version", "B-Tool", "b-application", "B-", "I-URL", "O O"]
SOMD_ENTRIES = ["Version_of\t1\t0", "Version_of\t0\t0", "Made_of\t1\t0", "Version_of 1 0", "Version_of\t-1\t0",
                "Version_of\t99999999999999999999\t0", "Version_of\t1", "\t\t", ";", "; ;"]
_somd_cells = st.one_of(_pool, st.sampled_from(SOMD_LABELS), st.sampled_from(SOMD_ENTRIES), st.text(max_size=12))


@st.composite
def damaged_somd_lines(draw, text: str) -> bytes:
    """A member's ``text`` after up to three edits of its lines (a cell replaced, a line dropped, doubled or blank,
    blank lines added, the text cut), sometimes re-encoded."""
    lines = text.split("\n")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(lines) - 1))
        edit = draw(st.sampled_from(["cell", "cell", "line", "drop", "double", "blank", "tail", "cut"]))
        fields = lines[at].split(" ")
        if edit == "cell":
            fields[draw(st.integers(0, len(fields) - 1))] = draw(_somd_cells)
            lines[at] = " ".join(fields)
        elif edit == "line":
            lines[at] = "; ".join(draw(st.lists(_somd_cells, min_size=1, max_size=3)))
        elif edit == "drop" and len(lines) > 1:
            del lines[at]
        elif edit == "double":
            lines.insert(at, lines[at])
        elif edit == "blank":
            lines[at] = draw(st.sampled_from(["", " ", "\t", "\r"]))
        elif edit == "tail":
            lines += [""] * draw(st.integers(1, 50))
        elif edit == "cut":
            lines = lines[:at]
    data = "\n".join(lines)
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1", "utf-16", "binary"]))
    if encoding == "binary":
        return draw(st.binary(max_size=200))
    return data.encode(encoding, errors="replace")


@st.composite
def damaged_somd_zip(draw, members: dict[str, str]) -> bytes:
    """The bytes of a SOMD ``predictions.zip`` whose ``members`` are damaged (:func:`damaged_somd_lines`), dropped,
    renamed, doubled or joined by others, compressed one of four ways, and sometimes its bytes damaged."""
    entries = [(name, draw(damaged_somd_lines(text)) if draw(st.booleans()) else text.encode())
               for name, text in members.items()]
    for _ in range(draw(st.integers(0, 2))):
        edit = draw(st.sampled_from(["drop", "rename", "double", "extra", "folder"]))
        at = draw(st.integers(0, len(entries) - 1)) if entries else 0
        if edit == "drop" and entries:
            del entries[at]
        elif edit == "rename" and entries:
            name = draw(st.sampled_from(["predictions.txt", "PREDICTIONS.ENTITIES.TXT", "a/predictions.entities.txt",
                                         "../predictions.relations.txt", "", " ", "x" * 300]) | st.text(max_size=20))
            entries[at] = (name or "unnamed", entries[at][1])
        elif edit == "double" and entries:
            entries.append(entries[at])
        elif edit == "extra":
            entries.append((draw(st.sampled_from(["notes.txt", "__MACOSX/._x", "predictions.zip"])), b"x"))
        elif edit == "folder":
            entries.append(("predictions/", b""))
    method = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]))
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "Duplicate name": the doubled members are the point
        with zipfile.ZipFile(buffer, "w", method) as zf:
            for name, data in entries:
                zf.writestr(name, data)
    data = bytearray(buffer.getvalue())
    edit = draw(st.sampled_from(["none", "none", "none", "cut", "overwrite", "binary", "empty"]))
    if edit == "cut" and data:
        data = data[:draw(st.integers(0, len(data) - 1))]
    elif edit == "overwrite" and data:
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    elif edit == "binary":
        data = bytearray(draw(st.binary(min_size=1, max_size=300)))
    elif edit == "empty":
        data = bytearray()
    return bytes(data)


def test_the_somd_zip_validator_takes_hostile_zips(tmp_path):
    from kitlib.competitions import somd_ner as somd

    comp = get_competition("somd-ner")
    data_dir = comp.resolve_data_dir("")
    sentences = somd.read_texts(data_dir / somd.TEST_TEXTS)[:40]
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / somd.TEST_TEXTS).write_text("".join(" ".join(s) + "\n" for s in sentences))
    data_dir = tmp_path / "data"
    labels = [["O"] * len(s) for s in sentences]
    labels[0][:2] = ["B-Application", "B-Version"]
    relations = [[("Version_of", 1, 0)]] + [[] for _ in sentences[1:]]
    path = tmp_path / comp.submission.file_name
    path.write_bytes(somd.submission_zip(labels, relations))
    submit.validate_submission(path, comp, data_dir)  # the base is valid
    members = {somd.ENTITIES_FILE: somd.entities_text(labels), somd.RELATIONS_FILE: somd.relations_text(relations)}

    @SETTINGS
    @given(st.data())
    def check(data):
        path.write_bytes(data.draw(damaged_somd_zip(members)))
        outcome(lambda: submit.validate_submission(path, comp, data_dir))

    check()


def _written(path: Path, frame: pd.DataFrame) -> Path:
    frame.to_csv(path, index=False)
    return path


# ------------------------------------------------------------------------------------------ kit new's inference
def base_set(tmp: Path, kind: str) -> dict[str, pd.DataFrame]:
    folder = write_kaggle_set(tmp / f"base-{kind}", kind, n_train=40, n_test=12)
    return {name: pd.read_csv(folder / name, dtype=str, keep_default_na=False)
            for name in ("train.csv", "test.csv", "sample_submission.csv")}


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bases")
    return {kind: base_set(tmp, kind) for kind in KINDS}


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression", "per-class", "multi-target",
                                  "integer-multiclass"])
def test_kit_new_inference_takes_hostile_tables(bases, tmp_path, kind):
    files = bases[kind]

    @SETTINGS
    @given(st.data())
    def check(data):
        folder = tmp_path / "set"
        folder.mkdir(exist_ok=True)
        damaged = data.draw(st.sets(st.sampled_from(sorted(files)), min_size=1, max_size=2))
        for name, frame in files.items():
            content = data.draw(damaged_bytes(data.draw(damaged_frame(frame)))) if name in damaged else \
                frame.to_csv(index=False).encode()
            (folder / name).write_bytes(content)
        metric = data.draw(st.sampled_from([None, None, "accuracy", "rmse", "roc_auc", "log_loss", "map_at_3"]))
        outcome(lambda: scaffold.infer(folder, metric=metric))

    check()


@pytest.mark.parametrize("rank, said", [("inf", "rank is not a positive integer"),
                                        ("99999999999999999999", "rank is above"),
                                        ("1e300", "rank is above")])
def test_a_recommendation_rank_that_no_integer_column_holds_is_refused(goods, tmp_path, rank, said):
    good, data_dir = goods["recommender"]
    path = tmp_path / "recommendations.csv"
    good.assign(rank=good["rank"].where(good.index != 0, rank)).to_csv(path, index=False)
    with pytest.raises(KitError, match=said):  # 1e20 once overflowed to a rank that passed
        submit.validate_submission(path, get_competition("recommender"), data_dir)
    good.assign(rank=good["rank"] + ".0").to_csv(path, index=False)  # "2.0" is rank 2
    submit.validate_submission(path, get_competition("recommender"), data_dir)


@pytest.mark.parametrize("kind", ["binary", "multiclass"])
def test_kit_new_inference_takes_each_hostile_value_in_each_column(bases, tmp_path, kind):
    """Each value of the hostile pool in each column that plays a role (id, a target, a numeric and a categorical
    feature, the sample's columns) of each file: one row, and the whole column."""
    files = bases[kind]
    for name, frame in files.items():
        for pos in [i for i, c in enumerate(frame.columns) if c not in ("x2", "x3", "x4", "x5")]:
            for value in HOSTILE_CELLS:
                for rows in ([3], list(range(len(frame)))):
                    for other, table in files.items():
                        table.to_csv(tmp_path / other, index=False)
                    damaged = frame.copy()
                    damaged.iloc[rows, pos] = value
                    damaged.to_csv(tmp_path / name, index=False)
                    outcome(lambda: scaffold.infer(tmp_path))
