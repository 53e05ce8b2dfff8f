"""kitlib.cache: entries written whole (sums last), verified on read, removed only as far as the kit wrote them."""
from __future__ import annotations

import json

import pytest

from kitlib import cache


def test_an_entry_reads_back_until_a_file_changes_then_is_removed_with_a_warning(tmp_path):
    entry = tmp_path / "key.entry"
    assert cache.write_entry(entry, lambda folder: (folder / "a.bin").write_bytes(b"12345"))
    assert cache.read_entry(entry) == entry
    assert set(json.loads((entry / cache.SUMS).read_text())) == {"a.bin"}
    (entry / "a.bin").write_bytes(b"12")  # cut short
    (entry / "mine.txt").write_text("not the kit's")
    with pytest.warns(RuntimeWarning, match=r"key.entry: a.bin does not match its sha256.*rebuilding it"):
        assert cache.read_entry(entry) is None
    assert sorted(p.name for p in entry.iterdir()) == ["mine.txt"]  # only what the sums listed went


def test_a_failed_write_leaves_no_entry_and_nothing_temporary(tmp_path):
    def full(folder):
        (folder / "a.bin").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    assert not cache.write_entry(tmp_path / "key.entry", full)
    assert list(tmp_path.iterdir()) == []


def test_a_folder_without_sums_is_not_used_nor_replaced(tmp_path):
    entry = tmp_path / "key.entry"
    entry.mkdir()
    (entry / "data.npy").write_bytes(b"someone's")
    with pytest.warns(RuntimeWarning, match="not an entry the kit finished writing"):
        assert cache.read_entry(entry) is None
    assert not cache.write_entry(entry, lambda folder: (folder / "data.npy").write_bytes(b"ours"))
    assert (entry / "data.npy").read_bytes() == b"someone's"
