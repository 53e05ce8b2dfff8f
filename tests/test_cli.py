"""The kit command (kitlib.cli): whatever goes wrong is one line on stderr and a non-zero exit, never a traceback."""
from __future__ import annotations

import errno

import pytest

from kitlib import cli

LONG = "x" * 300  # over the 255 bytes a file name may have


@pytest.mark.parametrize("args", [
    ["submit", LONG],
    ["submit", LONG, "-c", "sentiment-classification"],
    ["blend", LONG, LONG + "y"],
    ["run", LONG],
    ["run", f"{LONG}.ipynb"],
    ["runs", LONG],
    ["new", LONG, "--data-dir", "."],
    ["new", "fine-name", "--data-dir", LONG],
    ["kernel", LONG],
])
def test_a_name_over_the_file_system_limit_is_one_line(kit_dirs, capsys, args):
    code = cli.main(args)
    err = capsys.readouterr().err
    assert code in (1, 2) and err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith(f"kit {args[0]}: ")


def test_an_os_error_anywhere_is_one_line_naming_the_file(kit_dirs, capsys, monkeypatch):
    from kitlib import runs_table

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", "/runs/x/manifest.json")

    monkeypatch.setattr(runs_table, "list_runs", full)
    assert cli.main(["runs"]) == 1
    assert capsys.readouterr().err == "kit runs: No space left on device: /runs/x/manifest.json\n"
