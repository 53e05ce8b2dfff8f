"""The ``kit`` commands around submissions: ``kit submit`` (a file, a run, or a kernel version), ``kit lb`` (the
platform's verdict read back into the ledger, and CV against the leaderboard), and what ``kit kernel --push``
records and submits. :mod:`kitlib.cli` adds their parsers (:func:`add_parsers`) and calls :func:`after_push`.

    kit submit FILE|RUN-ID [-c C] [-m MSG] [--upload [--wait S]] [--data-dir DIR] [--force] [--timeout S]
    kit submit --kernel [OWNER/]SLUG [--version N] [-c C] [-m MSG] [--wait S] [--force]
    kit lb [COMPETITION] [--wait S] [--pages N]
"""
from __future__ import annotations

import argparse
import sys
import warnings

from .errors import ParameterError


def add_parsers(sub) -> None:
    """Add ``submit`` and ``lb`` to the ``kit`` subcommands ``sub``."""
    p = sub.add_parser("submit", help="validate a submission, record it in the ledger, optionally upload it")
    p.add_argument("target", nargs="?", help="submission file or run id (not with --kernel)")
    p.add_argument("--competition", "-c", help="competition (needed for a file; a run knows its own)")
    p.add_argument("-m", "--message", default="", help="submission description")
    p.add_argument("--upload", action="store_true", help="upload through the platform's official client")
    p.add_argument("--data-dir", help="competition data folder holding the sample submission")
    p.add_argument("--force", action="store_true", help="submit a file edited after the run that wrote it; upload a "
                   "smoke run, a run on the demo data or one that is not ok (marked [smoke], [demo], [forced])")
    p.add_argument("--timeout", type=float, help="seconds one client call may take (default $KIT_UPLOAD_TIMEOUT_S "
                                                 "or 120)")
    p.add_argument("--kernel", metavar="[OWNER/]SLUG", help="submit a pushed Kaggle kernel version to its code "
                   "competition (CreateCodeSubmission) instead of a file")
    p.add_argument("--version", type=int, help="the kernel version (default: the latest the ledger records pushed)")
    p.add_argument("--wait", type=float, metavar="SECONDS", help="after the upload, read the platform's verdict "
                   "until it is scored or SECONDS have passed (as kit lb --wait)")
    p.set_defaults(func=cmd_submit)

    p = sub.add_parser("lb", help="read the platform's verdict on the uploads; CV against the leaderboard")
    p.add_argument("competition", nargs="?", help="one competition (default: every one with uploads)")
    p.add_argument("--wait", type=float, default=0.0, metavar="SECONDS",
                   help="read again (with backoff) while an upload is pending, up to SECONDS")
    p.add_argument("--pages", type=int, default=10, help="most pages of the platform's list read (default 10)")
    p.set_defaults(func=cmd_lb)


def cmd_submit(args: argparse.Namespace) -> int:
    """``kit submit``: a file or run (``target``), or a kernel version (``--kernel``)."""
    from .submit import submit

    if bool(args.kernel) == bool(args.target):
        raise ParameterError("give a submission file or run id, or --kernel SLUG (one of the two)")
    if args.version is not None and not args.kernel:
        raise ParameterError("--version goes with --kernel")
    if args.wait is not None and not (args.upload or args.kernel):
        raise ParameterError("--wait reads the verdict on an upload: add --upload")
    with warnings.catch_warnings(record=True) as said:  # the run's concerns: one line each
        warnings.simplefilter("always")
        if args.kernel:
            from .code_submission import submit_kernel

            row = submit_kernel(args.kernel, args.version, args.competition, message=args.message, force=args.force,
                                timeout_s=args.timeout)
        else:
            row = submit(args.target, args.competition, message=args.message, upload=args.upload,
                         data_dir=args.data_dir, force=args.force, timeout_s=args.timeout)
    for warning in said:
        print(f"kit submit: warning: {warning.message}", file=sys.stderr)
    run = f", run {row['run_id']}" if row.get("run_id") else ""
    if args.kernel:
        print(f"submitted kernel {row['kernel']} version {row['kernel_version']} to {row['competition']}{run}: "
              f"{row['platform_message']}")
        return _wait(row, args.wait) if args.wait else 0
    edited = (" (edited after its run: recorded without the run's score)" if row["message"].startswith("[edited]")
              else "")
    print(f"valid: {row['file']} (sha256 {row['sha256'][:12]}{run}) recorded in the ledger{edited}")
    if args.upload:
        print(f"uploaded: {row['platform_message']}")
        return _wait(row, args.wait) if args.wait else 0
    return 0


def _wait(row: dict, wait_s: float) -> int:
    """Read the platform's verdict on the upload ``row`` until it is scored or ``wait_s`` seconds have passed; say
    it. Returns 1 when the platform could not score it (the upload itself succeeded: a read that fails is a
    warning, never a failed upload), else 0."""
    from .ledger import SUBMISSION_KEY, read_ledger
    from .platform_status import check

    key = tuple(row[c] for c in SUBMISSION_KEY)
    report = check(row["competition"], wait_s=wait_s, keys=[key])
    for note in report.notes:
        print(note)
    if report.fault:
        print(f"kit submit: warning: the verdict could not be read: {report.fault}", file=sys.stderr)
        return 0
    latest = next((r for r in read_ledger().to_dict("records") if tuple(r[c] for c in SUBMISSION_KEY) == key), row)
    state = latest.get("platform_status")
    if state == "scored":
        private = f", private {latest['private_score']}" if latest.get("private_score") else ""
        print(f"scored: public {latest['public_score'] or '(hidden)'}{private}")
    elif state == "error":
        print(f"kit submit: {row['competition']} could not score the submission: {latest['platform_error']}",
              file=sys.stderr)
        return 1
    elif state == "pending":
        print(f"still pending after {wait_s:g} s: kit lb {row['competition']} --wait SECONDS reads it later")
    return 0


def cmd_lb(args: argparse.Namespace) -> int:
    """``kit lb``: for each competition, read the verdicts, then print the table, its summary and the plot's path."""
    from .competitions import get_competition
    from .leaderboard import competitions_uploaded, format_lb, lb_table, save_plot
    from .ledger import read_ledger
    from .platform_status import check

    if args.pages < 1:
        raise ParameterError(f"--pages must be 1 or more, got {args.pages}")
    if args.wait < 0:
        raise ParameterError(f"--wait must be 0 or more seconds, got {args.wait:g}")
    names = [get_competition(args.competition).name] if args.competition else competitions_uploaded(read_ledger())
    if not names:
        print("no uploads in the ledger yet (kit submit RUN --upload)")
    status = 0
    for name in names:
        try:
            comp = get_competition(name)
        except ParameterError as exc:
            print(f"kit lb: {exc}", file=sys.stderr)
            status = 1
            continue
        report = check(comp, wait_s=args.wait, pages=args.pages)
        read = f"{report.looked_for} uploads read, " if report.looked_for else ""
        waiting = f", {len(report.pending)} pending" if report.pending else ""
        print(f"== {comp.name} ({comp.platform}): {read}{len(report.changed)} changed{waiting}")
        for note in report.notes:
            print(note)
        if report.fault:
            print(f"kit lb: {report.fault}", file=sys.stderr)
            status = 1
        table = lb_table(read_ledger(), comp)
        print(format_lb(table, comp.mode))
        path = save_plot(table, comp)
        if path is not None:
            print(f"plot: {path}")
    return status


def after_push(args: argparse.Namespace, competition: str, bundle, pushed) -> int:
    """After ``kit kernel --push``: record the pushed version (``pushed``: its ``ref`` and ``version``); with
    ``--submit``, submit it (``-m`` its description) and with ``--wait`` read the verdict. Returns the exit
    status."""
    from .code_submission import record_push, submit_kernel

    row = record_push(competition, bundle, pushed.ref, pushed.version)
    print(f"recorded in the ledger: kernel {row['kernel']} version {row['kernel_version'] or '?'} pushed")
    if not args.submit:
        return 0
    if pushed.version is None:
        raise ParameterError(f"Kaggle named no version for kernel {pushed.ref}; submit it with kit submit --kernel "
                             f"{pushed.ref} --version N")
    done = submit_kernel(pushed.ref, pushed.version, competition, message=args.message)
    print(f"submitted kernel {done['kernel']} version {done['kernel_version']}: {done['platform_message']}")
    return _wait(done, args.wait) if args.wait else 0
