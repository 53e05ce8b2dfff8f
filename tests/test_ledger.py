"""The ledger (kitlib.ledger): a row is appended whole or not at all, and nothing in it is a secret.

Full disks are simulated two ways: the writer monkeypatched to fail after some bytes, and a child process whose
file-size limit (RLIMIT_FSIZE) stops the write part-way, as a full disk would.
"""
from __future__ import annotations

import errno
import multiprocessing

import pytest

from kitlib import cli, submit
from kitlib.errors import KitError

try:  # the module the ledger moved into (the tests below that patch its writer need it)
    from kitlib import ledger
    from kitlib.ledger import LedgerWriteError
except ImportError:  # pragma: no cover - only on the code from before the move
    ledger, LedgerWriteError = None, KitError

ROW = {"time": "2026-01-01T00:00:00+00:00", "competition": "c", "file": "/f.csv", "sha256": "0" * 64,
       "message": "a message long enough to be cut part-way " * 4, "upload_status": "not uploaded"}


def fail_after(limit: int):
    """A ``write_all`` that writes ``limit`` bytes and then fails as a full disk does."""
    def write(handle, data: bytes) -> None:
        handle.write(data[:limit])
        raise OSError(errno.ENOSPC, "No space left on device")

    return write


def test_a_write_that_fails_part_way_leaves_the_ledger_as_it_was(kit_dirs, monkeypatch):
    ledger.append_ledger(ROW)
    before = ledger.ledger_path().read_bytes()
    monkeypatch.setattr(ledger, "write_all", fail_after(25))
    with pytest.raises(LedgerWriteError, match=r"ledger.csv: the row could not be written \(No space left on "
                                                r"device\); nothing was recorded$"):
        ledger.append_ledger({**ROW, "time": "2026-01-02T00:00:00+00:00"})
    assert ledger.ledger_path().read_bytes() == before  # no partial row to be read back as a submission
    assert ledger.read_ledger().time.tolist() == [ROW["time"]]


def _append_under_a_size_limit(path_env: str, room: int, out) -> None:
    import os
    import resource
    import signal

    os.environ["KIT_SUBMISSIONS_DIR"] = path_env
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write then fails with EFBIG instead of killing us
    size = submit.ledger_path().stat().st_size
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + room, size + room))
    try:
        submit.append_ledger({**ROW, "time": "2026-01-02T00:00:00+00:00"})
        out.put("written")
    except KitError as exc:
        out.put(str(exc))
    except BaseException as exc:  # noqa: BLE001 - reported to the test
        out.put(f"{type(exc).__name__}: {exc}")


def test_a_file_size_limit_part_way_through_the_row_records_nothing(kit_dirs):
    _, subs = kit_dirs
    submit.append_ledger(ROW)
    before = submit.ledger_path().read_bytes()
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_append_under_a_size_limit, args=(str(subs), 30, out))
    child.start()
    said = out.get(timeout=60)
    child.join(60)
    assert said.endswith("nothing was recorded") and "File too large" in said, said
    assert submit.ledger_path().read_bytes() == before
    assert submit.read_ledger().time.tolist() == [ROW["time"]]


def no_status_reads(*args, **kwargs):
    from kitlib.errors import PlatformError

    raise PlatformError("no status reads in this test")


def test_an_upload_whose_settling_row_cannot_be_written_says_what_the_platform_answered(kit_dirs, tmp_path,
                                                                                       monkeypatch, capsys):
    from kaggle_stub import project_competition

    from kitlib import platforms
    from kitlib.platforms import UploadResult

    path = project_competition(tmp_path / "kit-project", "kaggle", "demo-competition")
    monkeypatch.setattr(platforms, "upload", lambda *a, **k: UploadResult("kaggle", True, "Kaggle took it", "4242"))
    monkeypatch.setattr(platforms, "submission_reader", no_status_reads)  # the day's limit: no network call
    real = ledger.write_all

    def settling_row_fails(handle, data: bytes) -> None:
        if b",uploaded," in data:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(handle, data)

    monkeypatch.setattr(ledger, "write_all", settling_row_fails)
    assert cli.main(["submit", str(path), "-c", "demo-competition", "--upload"]) == 1
    out, err = capsys.readouterr()
    assert "kaggle answered: Kaggle took it (submission id 4242)" in out
    assert err.count("\n") == 1 and "kaggle has the submission (id 4242: Kaggle took it)" in err
    assert "could not be written" in err and "Traceback" not in err
    assert submit.read_ledger(events=True).upload_status.tolist() == ["uploading"]  # nothing torn


def test_ledger_rows_are_masked(kit_dirs, monkeypatch):
    monkeypatch.setenv("KAGGLE_KEY", "s3cr3t-kaggle-key")
    submit.append_ledger({**ROW, "message": "key s3cr3t-kaggle-key, db postgresql://u:pw-in-url@h/db",
                          "platform_message": "echoed s3cr3t-kaggle-key"})
    text = submit.ledger_path().read_text()
    assert "s3cr3t" not in text and "pw-in-url" not in text
    row = submit.read_ledger().iloc[0]
    assert row.message == "key ***, db postgresql://u:***@h/db" and row.platform_message == "echoed ***"


# ------------------------------------------------------------------ issue 26: the platform's columns
OLD = ("time,competition,file,sha256,run_id,score,message,upload_status,platform_message,status_time,platform_id,"
       "note\n"
       '2026-01-01T00:00:00+00:00,c,/a.csv,' + "a" * 64 + ',r1,0.91,"two\nlines, ""quoted""",uploaded,ok,'
       '2026-01-01T00:00:01+00:00,4242,mine\n'
       '2026-01-02T00:00:00+00:00,c,/b.csv,' + "b" * 64 + ',,,,not uploaded,,2026-01-02T00:00:00+00:00,,\n')


def test_an_old_header_is_rewritten_under_the_lock_with_every_row_kept(kit_dirs):
    import csv
    import io

    path = ledger.ledger_path()
    path.parent.mkdir(parents=True)
    path.write_text(OLD)
    before = ledger.read_ledger(events=True)
    ledger.append_ledger({**ROW, "time": "2026-01-03T00:00:00+00:00", "platform_status": "pending"})
    rows = list(csv.reader(io.StringIO(path.read_text(), newline="")))
    assert rows[0] == [*ledger.LEDGER_COLUMNS, "note"]  # a column the kit does not know is kept, after them
    old = list(csv.reader(io.StringIO(OLD, newline="")))
    for was, now in zip(old[1:], rows[1:3]):
        assert dict(zip(old[0], was)) == {k: v for k, v in zip(rows[0], now) if k in old[0]}
        assert all(v == "" for k, v in zip(rows[0], now) if k not in old[0])
    after = ledger.read_ledger(events=True)
    assert after.iloc[:2][list(before.columns)].equals(before)
    assert after.iloc[2].platform_status == "pending" and after.message.iloc[0] == 'two\nlines, "quoted"'
    assert not list(path.parent.glob(".ledger.csv*"))  # the new file took the old one's place


def test_a_header_rewrite_that_fails_leaves_the_old_file(kit_dirs, monkeypatch):
    path = ledger.ledger_path()
    path.parent.mkdir(parents=True)
    path.write_text(OLD)
    monkeypatch.setattr(ledger, "write_all", fail_after(40))
    with pytest.raises(LedgerWriteError, match=r"its header could not be rewritten with the new columns \(No space "
                                               r"left on device\); the file is as it was and nothing was recorded"):
        ledger.append_ledger(ROW)
    assert path.read_text() == OLD and not list(path.parent.glob(".ledger.csv*"))


def test_read_ledger_gives_each_submission_its_latest_upload_and_verdict(kit_dirs):
    key = {"time": "2026-01-05T00:00:00+00:00", "file": "/s.csv", "sha256": "5" * 64, "competition": "c"}
    for fields in ({"upload_status": "uploading"}, {"upload_status": "uploaded", "platform_id": "7"},
                   {"upload_status": "uploaded", "platform_id": "7", "platform_status": "pending"},
                   {"upload_status": "uploaded", "platform_id": "7", "platform_status": "scored",
                    "public_score": "0.50"},
                   {"upload_status": "uploaded", "platform_message": "a later upload row, no verdict in it"}):
        ledger.append_ledger({**key, **fields})
    ledger.append_ledger({**ROW, "time": "2026-01-06T00:00:00+00:00"})
    (first, second) = ledger.read_ledger().to_dict("records")
    assert (first["platform_status"], first["public_score"], first["platform_id"]) == ("scored", "0.50", "7")
    assert first["platform_message"] == "a later upload row, no verdict in it"
    assert second["time"] == "2026-01-06T00:00:00+00:00"
    assert len(ledger.read_ledger(events=True)) == 6
