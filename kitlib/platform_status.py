"""The platform's verdict on each upload in the ledger (``kit lb``'s first half): read through the official client,
matched to the ledger's rows, recorded.

:func:`check` reads a competition's submissions on Kaggle and appends, for each upload whose state changed, a row
with the platform's verdict (:data:`kitlib.ledger.PLATFORM_COLUMNS`): ``pending``, ``scored`` with the public and
private score as the very strings Kaggle gave, or ``error`` with its description. A check that changes nothing
appends nothing. Matching a ledger row to a listed submission:

- a row with the platform's ref (``platform_id``) is the submission with that ref;
- a row without one (``unknown``: the call that creates a submission ended without a clear answer; or an answer
  without a ref) is the submission whose file name is the one the kit sent (the file's own name, ``<run-id>.csv``
  for a run's file; a kernel's submission file, ``submission.csv``) and whose date lies within
  :data:`MATCH_WINDOW_S` (10 minutes) of the row's ``time``, and which no other row claims. The match settles the
  row ``uploaded`` with that ref; two candidates are said, and the row is left as it is.

Paging: ``ListSubmissions`` pages (newest first) are read until every ref looked for is found and every row
without a ref is older, by more than the window, than the oldest submission read, or there is no next page, or
``pages`` were read; refs still missing are asked for one by one (``GetSubmission``, at most :data:`MAX_GETS`). A
ref Kaggle does not know is said, and its row left as it is. Scored rows without a private score are updated when
a page read anyway holds them (the private score comes when the competition ends), but never drive the paging.

``wait_s``: while uploads looked at are pending, read again after a backoff (:data:`POLL_S`, doubling up to
:data:`POLL_MAX_S`) until none is or the time is up. Each read is bounded (``KIT_LB_TIMEOUT_S``, two tries); a
fault ends the check with one line naming the call (:attr:`Check.fault`); nothing is recorded from a read that
failed, so every score in the ledger is one the platform gave. AIcrowd: aicrowd-cli 0.1.18 has no call for a
submission's status or score, so the check says so and names each upload's page; the rows stay ``uploaded``.
"""
from __future__ import annotations

import datetime as _dt
import re
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import platforms
from .competitions import Competition, get_competition
from .errors import KitError
from .ledger import SUBMISSION_KEY, locked_ledger, read_ledger
from .uploads import now_iso

PAGES = 10  # ListSubmissions pages read at most per check
MAX_GETS = 10  # refs asked for one by one (GetSubmission) when the pages read do not hold them
MATCH_WINDOW_S = 600.0  # a row without a ref matches a submission of its file name dated this close to its time
POLL_S, POLL_MAX_S = 5.0, 60.0  # --wait: the first pause between reads, and the longest
LOOKED_AT = ("uploaded", "unknown")  # upload states a check reads the platform for


@dataclass
class Check:
    """What one check found: the uploads it looked for, the rows it appended (``changed``), the refs still pending,
    notes (one line each: a ref the platform does not know, a match it could not make, where to look on AIcrowd),
    and ``fault``: one line naming the call that failed (``""`` when none did)."""

    competition: str
    platform: str
    looked_for: int = 0
    changed: list[dict] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fault: str = ""


def one_line(text: object, limit: int = 600) -> str:
    """``text`` on one line (runs of white space made one space), cut to ``limit`` characters."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[:limit - 3] + "..."


def uploads_of(frame: pd.DataFrame, competition: str, keys: Collection[tuple] | None = None) -> list[dict]:
    """The ledger's uploads (``uploaded``, ``unknown``) to ``competition`` in their latest state, oldest first;
    only those whose :data:`~kitlib.ledger.SUBMISSION_KEY` is in ``keys`` when given."""
    if frame.empty:
        return []
    rows = frame[(frame["competition"] == competition) & frame["upload_status"].isin(LOOKED_AT)]
    records = rows.to_dict("records")
    return [r for r in records if keys is None or tuple(r[c] for c in SUBMISSION_KEY) in set(keys)]


def check(competition: str | Competition, *, wait_s: float = 0.0, pages: int = PAGES,
          keys: Collection[tuple] | None = None, timeout_s: float | None = None) -> Check:
    """Read the platform's verdict on the ledger's uploads to ``competition`` (those with ``keys`` when given) and
    record what changed (see the module docstring); ``wait_s``: keep reading while some are pending, up to that
    many seconds; ``timeout_s`` limits each read (else ``KIT_LB_TIMEOUT_S``). Returns a :class:`Check`; a fault of
    the platform or its client is its ``fault``, never an exception. Raises ``ParameterError`` for an unknown
    competition and ``KitError`` when the ledger cannot be written."""
    comp = get_competition(competition)
    report = Check(comp.name, comp.platform)
    rows = [r for r in uploads_of(read_ledger(), comp.name, keys) if not _settled(r)]
    if not rows:
        return report
    if comp.platform != "kaggle":
        report.notes += _elsewhere(comp, rows)
        return report
    report.looked_for = len(rows)
    deadline, pause = time.monotonic() + max(0.0, wait_s), POLL_S
    while True:
        try:
            reader = platforms.submission_reader(comp.platform, comp.slug, timeout_s)
            seen, read = _read(reader, rows, pages)
        except KitError as exc:  # the platform or its client failed: one line naming the call, nothing recorded
            report.fault = one_line(exc)
            return report
        waiting = _record(comp, rows, seen, read, report)
        left = deadline - time.monotonic()
        if not waiting or left <= 0:
            return report
        time.sleep(min(pause, left))
        pause = min(pause * 2, POLL_MAX_S)
        rows = [r for r in uploads_of(read_ledger(), comp.name, waiting) if not _settled(r)]


def _settled(row: dict) -> bool:
    """True when the platform's verdict cannot change any more: an error, or a score with its private part."""
    return row["platform_status"] == "error" or (row["platform_status"] == "scored" and bool(row["private_score"]))


def _wanted(row: dict) -> bool:
    """True when ``row`` drives the paging: not yet scored (a scored row only waits for its private score)."""
    return row["platform_status"] != "scored"


def _when(text: str) -> _dt.datetime | None:
    try:
        when = _dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.UTC)


def _read(reader, rows: list[dict], pages: int) -> tuple[dict, int]:
    """``({ref: Submission}, submissions listed)``: the pages of the competition's submissions needed for ``rows``
    (see the module docstring), then ``GetSubmission`` of each wanted ref still missing."""
    wanted = {r["platform_id"] for r in rows if r["platform_id"] and _wanted(r)}
    starts = [t for r in rows if not r["platform_id"] and (t := _when(r["time"])) is not None]
    horizon = min(starts) - _dt.timedelta(seconds=MATCH_WINDOW_S) if starts else None
    seen: dict = {}
    token, listed = "", 0
    for _ in range(max(1, pages)):
        page, token = reader.page(token)
        listed += len(page)
        seen.update({s.ref: s for s in page})
        dates = [d for s in page if (d := _when(s.date)) is not None]
        past = horizon is None or (bool(dates) and min(dates) < horizon)
        if not token or (wanted <= set(seen) and past):
            break
    for ref in sorted(r for r in wanted - set(seen) if r.isdigit())[:MAX_GETS]:  # Kaggle's refs are numbers
        found = reader.get(ref)
        if found is not None:
            seen[found.ref] = found
    return seen, listed


def _record(comp: Competition, rows: list[dict], seen: dict, listed: int, report: Check) -> set[tuple]:
    """Match ``rows`` to the submissions ``seen`` and append a row for each whose state changed (one hold of the
    ledger's lock, each row compared with the ledger's latest state of its submission); set ``report.pending``.
    Returns the keys of the submissions still pending."""
    claimed = {r["platform_id"] for r in rows if r["platform_id"]}
    updates: list[tuple[tuple, str, dict]] = []  # (submission key, ref, the columns to set)
    for row in rows:
        ref = row["platform_id"]
        key = tuple(row[c] for c in SUBMISSION_KEY)
        if ref:
            found = seen.get(ref)
            if found is None and _wanted(row):
                report.notes.append(f"Kaggle does not know submission {ref} (run {row['run_id'] or '-'}, recorded "
                                    f"{row['time'][:19]}): not among the {listed} submissions it lists for "
                                    f"{comp.slug}, and GetSubmission did not find it; its row is left as it is")
            if found is not None:
                updates.append((key, ref, _verdict(found)))
            continue
        found = _match(comp, row, seen, claimed, report)
        if found is not None:
            claimed.add(found.ref)
            matched = f"matched by kit lb: Kaggle submission {found.ref} of {found.file_name!r} at {found.date}"
            updates.append((key, found.ref, {**_verdict(found), "upload_status": "uploaded", "platform_id": found.ref,
                                             "platform_message": matched}))
    now = now_iso()
    with locked_ledger() as ledger:
        latest = {tuple(r[c] for c in SUBMISSION_KEY): r for r in ledger.read().to_dict("records")}
        for key, _, changes in updates:
            current = latest.get(key)
            if current is None or all(current.get(c, "") == v for c, v in changes.items()):
                continue
            row = {**current, **changes, "checked_time": now}
            if changes.get("upload_status", current["upload_status"]) != current["upload_status"]:
                row["status_time"] = now
            ledger.append(row)
            report.changed.append(row)
    waiting = [(key, ref) for key, ref, changes in updates if changes["platform_status"] == "pending"]
    report.pending = [ref for _, ref in waiting]
    return {key for key, _ in waiting}


def _verdict(found) -> dict:
    """The ledger's platform columns for the listed submission ``found``."""
    return {"platform_status": found.status, "public_score": found.public_score,
            "private_score": found.private_score, "platform_error": found.error}


def _match(comp: Competition, row: dict, seen: dict, claimed: set, report: Check):
    """The listed submission a row without a ref is, or ``None`` (with a note saying why)."""
    name = comp.submission.file_name if row.get("kernel") else Path(row["file"]).name
    when = _when(row["time"])
    what = f"the {row['upload_status']} upload of {name!r} recorded {row['time'][:19]}"
    if when is None:
        report.notes.append(f"{what}: its time cannot be read, so it cannot be matched; its row is left as it is")
        return None
    found = [s for s in seen.values() if s.ref not in claimed and s.file_name == name
             and (d := _when(s.date)) is not None and abs((d - when).total_seconds()) <= MATCH_WINDOW_S]
    if len(found) == 1:
        return found[0]
    if found:
        refs = ", ".join(sorted(s.ref for s in found))
        report.notes.append(f"{what} matches {len(found)} Kaggle submissions by file name and time (refs {refs}): "
                            f"left as it is; see https://www.kaggle.com/competitions/{comp.slug}/submissions")
    else:
        report.notes.append(f"{what} is not among the {len(seen)} Kaggle submissions read (none of that file name "
                            f"within {MATCH_WINDOW_S / 60:g} minutes): it was probably not created; left as it is")
    return None


def _elsewhere(comp: Competition, rows: list[dict]) -> list[str]:
    """The notes for a platform whose client cannot read a submission's state: what it lacks, where to look."""
    if comp.platform != "aicrowd":
        return [f"{comp.name} is on platform {comp.platform!r}, which the kit cannot ask for scores"]
    notes = ["aicrowd-cli 0.1.18 has no call for a submission's status or score: its rows stay 'uploaded'; "
             "look at each submission's page"]
    for row in rows:
        page = re.search(r"https://\S+/submissions/\d+", row["platform_message"] or "")
        url = page.group(0) if page else (
            f"https://www.aicrowd.com/challenges/{comp.slug}/submissions/{row['platform_id']}" if row["platform_id"]
            else f"https://www.aicrowd.com/challenges/{comp.slug}/submissions?my_submissions=true")
        notes.append(f"  {row['time'][:19]} run {row['run_id'] or '-'}: {url}")
    return notes
