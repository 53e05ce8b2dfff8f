import ast
import os
from pathlib import Path

import numpy as np
import pytest

from kitlib import data
from kitlib.competitions import COMPETITIONS
from kitlib.errors import DataError


def write_csv(path, rows, label="a"):
    lines = ["embeddings,label"] + [f'"{r}",{label}' for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_parse_matches_literal_eval(tmp_path):
    rng = np.random.default_rng(0)
    rows = ["[" + ", ".join(f"{v:.6f}" for v in rng.normal(size=7)) + "]" for _ in range(50)]
    rows[3] = "[1e-3, -2, 3.5E2, 0, 1, 2, 3]"
    frame, arrays = data.read_list_csv(write_csv(tmp_path / "t.csv", rows), {"embeddings": 7}, cache=False)
    expected = np.array([ast.literal_eval(r) for r in rows], dtype=np.float32)
    assert arrays["embeddings"].dtype == np.float32
    np.testing.assert_array_equal(arrays["embeddings"], expected)
    assert list(frame.columns) == ["label"]


@pytest.mark.parametrize("bad, message", [
    ("[1, 2]", r"t\.csv row 3: column 'embeddings': expected 3 numbers, got 2"),
    ("[1, 2, 3, 4]", r"t\.csv row 3: column 'embeddings': expected 3 numbers, got 4"),
    ("[1, x, 3]", r"t\.csv row 3: column 'embeddings': item 2 is 'x'; expected a finite number"),
    ("[1, nan, 3]", r"t\.csv row 3: column 'embeddings': item 2 is 'nan'"),
    ("[1, , 3]", r"t\.csv row 3: column 'embeddings': item 2 is ''"),
    ("1, 2, 3", r"t\.csv row 3: column 'embeddings': expected a list written as \[x, y, \.\.\.\]"),
])
def test_malformed_rows_are_named(tmp_path, bad, message):
    rows = ["[1, 2, 3]", "[4, 5, 6]", bad, "[7, 8, 9]"]
    with pytest.raises(DataError, match=message):
        data.read_list_csv(write_csv(tmp_path / "t.csv", rows), {"embeddings": 3}, cache=False)


def test_ragged_without_declared_length_uses_first_row(tmp_path):
    with pytest.raises(DataError, match="row 2: column 'embeddings': expected 2 numbers, got 3"):
        data.read_list_csv(write_csv(tmp_path / "t.csv", ["[1, 2]", "[1, 2, 3]"]), {"embeddings": None}, cache=False)


def test_empty_cell_and_missing_column_and_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('embeddings,label\n"[1, 2]",a\n,b\n')
    with pytest.raises(DataError, match="t.csv row 2: column 'embeddings': empty cell"):
        data.read_list_csv(path, {"embeddings": 2}, cache=False)
    with pytest.raises(DataError, match=r"missing column\(s\) \['vec'\]"):
        data.read_list_csv(path, {"vec": 2}, cache=False)
    with pytest.raises(DataError, match="file not found"):
        data.read_list_csv(tmp_path / "nope.csv", {"embeddings": 2})


def test_cache_is_used_and_keyed_by_content(tmp_path, monkeypatch):
    path = write_csv(tmp_path / "t.csv", ["[1, 2]", "[3, 4]"])
    _, first = data.read_list_csv(path, {"embeddings": 2})
    assert any((tmp_path / ".kitcache").iterdir())

    def no_parsing(*args, **kwargs):
        raise AssertionError("parsed again instead of reading the cache")

    monkeypatch.setattr(data, "parse_list_column", no_parsing)
    frame, second = data.read_list_csv(path, {"embeddings": 2})
    np.testing.assert_array_equal(first["embeddings"], second["embeddings"])
    assert frame["label"].tolist() == ["a", "a"]
    monkeypatch.undo()

    write_csv(path, ["[5, 6]", "[7, 8]"])  # same name, new content: the old cache must not answer
    _, third = data.read_list_csv(path, {"embeddings": 2})
    np.testing.assert_array_equal(third["embeddings"], [[5, 6], [7, 8]])


def test_read_only_folder_caches_in_user_cache(tmp_path, monkeypatch):
    folder = tmp_path / "input"
    folder.mkdir()
    path = write_csv(folder / "t.csv", ["[1, 2]"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(os, "access", lambda p, mode: False)
    data.read_list_csv(path, {"embeddings": 2})
    assert not (folder / ".kitcache").exists()
    assert any((tmp_path / "cache" / "kitlib").iterdir())


def test_resolve_data_dir(tmp_path, monkeypatch):
    comp = COMPETITIONS["sentiment-classification"]
    with pytest.raises(DataError, match="is not a folder"):
        comp.resolve_data_dir(tmp_path / "missing")
    assert comp.resolve_data_dir(str(tmp_path)) == tmp_path.resolve()
    monkeypatch.setattr(data.Path, "is_dir", lambda self: str(self) == "/kaggle/input/sentiment-classification")
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    assert str(comp.resolve_data_dir("")) == "/kaggle/input/sentiment-classification"


def test_resolve_data_dir_writes_the_demo_only_for_an_empty_choice(tmp_path):
    written = []
    demo = tmp_path / "demo"
    assert data.resolve_data_dir("", demo_dir=demo, write_demo=written.append) == demo.resolve()
    assert written == [demo]
    assert data.resolve_data_dir(str(tmp_path), demo_dir=demo, write_demo=written.append) == tmp_path.resolve()
    assert written == [demo]  # a real data folder never runs the demo generator


def test_require_files_lists_missing(tmp_path):
    (tmp_path / "train.csv").write_text("x\n")
    with pytest.raises(DataError, match=r"missing \['val.csv'\]; the folder holds \['train.csv'\]"):
        data.require_files(tmp_path, ["train.csv", "val.csv"])


def test_a_corrupt_cache_entry_is_rebuilt_from_the_source_with_a_warning(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text('embeddings,label\n"[1, 2]",a\n"[3, 4]",b\n')
    rest, arrays = data.read_list_csv(path, {"embeddings": 2})
    entry = next((tmp_path / ".kitcache").glob("*.entry/0.npy"))  # the embeddings column's array
    entry.write_bytes(entry.read_bytes()[:20])  # torn, as a crash mid-write would leave it
    with pytest.warns(RuntimeWarning, match=r"cache entry .*\.entry: 0.npy does not match its sha256.*rebuilding it"):
        again, arrays2 = data.read_list_csv(path, {"embeddings": 2})
    np.testing.assert_array_equal(arrays2["embeddings"], arrays["embeddings"])
    assert data.read_list_csv(path, {"embeddings": 2})[1]["embeddings"].shape == (2, 2)  # rebuilt entry reads
    assert not list((tmp_path / ".kitcache").glob(".*.tmp"))


def test_read_csv_names_the_file_for_binary_empty_and_cut_files(tmp_path):
    binary = tmp_path / "train.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    with pytest.raises(DataError, match=r"train.csv: not a text CSV file \(byte \d+ is not utf-8\)"):
        data.read_csv(binary)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty.csv: the file is empty"):
        data.read_csv(tmp_path / "empty.csv")
    cut = tmp_path / "cut.csv"
    cut.write_text("userId,attractionId,interactionType,timestamp\nu1,a1,view,2024-01-01\nu2,a")
    with pytest.raises(DataError, match=r"cut.csv: the last line holds 2 field\(s\) where the header has 4"):
        data.read_csv(cut)
    whole = tmp_path / "whole.csv"
    whole.write_text('a,b\n1,"x\ny"')  # a quoted last cell over two lines, no final newline: fine
    assert data.read_csv(whole).shape == (1, 2)


def test_a_relative_data_dir_is_found_in_the_project_folder_as_in_jupyter(tmp_path, monkeypatch):
    project = tmp_path / "project"
    (project / "data" / "mine").mkdir(parents=True)
    (project / "notebooks").mkdir()
    monkeypatch.setenv("KIT_PROJECT_DIR", str(project))
    monkeypatch.chdir(project / "notebooks")  # where a Jupyter kernel works
    comp = COMPETITIONS["sentiment-classification"]
    assert comp.resolve_data_dir("data/mine") == (project / "data" / "mine").resolve()
    with pytest.raises(DataError, match="is not a folder"):
        comp.resolve_data_dir("data/missing")


# ------------------------------------------------------------------ issue 24: caches beside a user's data
class _Planted:
    """Unpickling this writes a marker file: what a pickle planted in a data folder's cache could do."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path(self.marker).write_text, ("code ran",))


def test_a_pickle_planted_beside_the_data_is_never_unpickled(tmp_path):
    import hashlib
    import pickle

    path = write_csv(tmp_path / "t.csv", ["[1, 2]", "[3, 4]"])
    marker = tmp_path / "marker"
    cache = tmp_path / ".kitcache"
    cache.mkdir()
    settings = repr(sorted({"embeddings": 2}.items()))
    for version in ("1", data.CACHE_VERSION):  # where this and earlier versions of the kit kept their tables
        key = data.file_sha256(path)[:20] + "-" + hashlib.sha256((settings + version).encode()).hexdigest()[:8]
        (cache / f"t.csv.{key}.table.pkl").write_bytes(pickle.dumps(_Planted(marker)))
        np.save(cache / f"t.csv.{key}.embeddings.npy", np.zeros((2, 2), dtype=np.float32))
    frame, arrays = data.read_list_csv(path, {"embeddings": 2})
    assert not marker.exists()
    np.testing.assert_array_equal(arrays["embeddings"], [[1, 2], [3, 4]])  # parsed, not the planted zeros
    assert frame["label"].tolist() == ["a", "a"]
    (entry,) = cache.glob("*.entry")
    assert sorted(p.name for p in entry.iterdir()) == ["0.npy", "SHA256SUMS.json", "columns.json", "table.parquet"]


def test_a_folder_in_the_entrys_place_that_the_kit_did_not_write_is_left_alone(tmp_path):
    path = write_csv(tmp_path / "t.csv", ["[1, 2]"])
    data.read_list_csv(path, {"embeddings": 2})
    (entry,) = (tmp_path / ".kitcache").glob("*.entry")
    for file in entry.iterdir():
        file.unlink()
    (entry / "user-notes.txt").write_text("mine")  # no sums: not the kit's entry
    with pytest.warns(RuntimeWarning, match="not an entry the kit finished writing"):
        _, arrays = data.read_list_csv(path, {"embeddings": 2})
    np.testing.assert_array_equal(arrays["embeddings"], [[1, 2]])
    assert (entry / "user-notes.txt").read_text() == "mine"
