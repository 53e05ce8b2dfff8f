"""An upload's rows in the ledger, and the day's limit checked before the first of them.

Every upload (a file: :func:`kitlib.submit.submit`; a kernel version: :mod:`kitlib.code_submission`) goes through
:func:`record_upload`:

1. The day's limit. On Kaggle the kit asks ``GetSubmissionLimits`` (a status read, bounded like ``kit lb``'s) and
   refuses at ``numAllowedNow == 0``, saying when the UTC day resets; nothing is recorded or sent. When that call
   fails, and on a platform without one (AIcrowd), today's uploads of the competition in the ledger
   (:data:`COUNTED`: ``uploading``, ``uploaded``, ``unknown``, scored; not those the platform turned down with an
   error) are counted against the competition's ``daily_limit`` (its spec; none: no limit), inside the same hold
   of the ledger's lock that writes the ``uploading`` row, so two submits at once cannot both take the last place.
2. The ``uploading`` row, the client's calls, the row that settles it: ``uploaded`` (the platform's answer and
   id), ``failed`` (raises ``UploadError``) or ``unknown`` (raises ``UploadUnknown``: the platform may have it).
"""
from __future__ import annotations

import datetime as _dt
import warnings
from collections.abc import Callable

import pandas as pd

from .competitions import Competition
from .errors import KitError, PlatformError, UploadError
from .ledger import LedgerWriteError, append_ledger, locked_ledger
from .masking import mask
from .platforms.calls import UploadUnknown
from .platforms.client import UploadResult
from .stops import interrupted_by_signals

COUNTED = ("uploading", "uploaded", "unknown")  # upload states a day's limit counts (unless the platform said error)


def now_iso() -> str:
    """The time now, UTC, ISO 8601 with microseconds (the ledger's ``time`` and ``status_time``)."""
    return _dt.datetime.now(_dt.UTC).isoformat(timespec="microseconds")


def day_reset(now: _dt.datetime | None = None) -> str:
    """``"the UTC day resets at 2026-05-02 00:00 UTC (in 3 h 12 min)"`` for the time ``now`` (default: now)."""
    now = now or _dt.datetime.now(_dt.UTC)
    reset = _dt.datetime.combine(now.date() + _dt.timedelta(days=1), _dt.time(), tzinfo=_dt.UTC)
    minutes = max(1, int((reset - now).total_seconds() // 60))
    return f"the UTC day resets at {reset:%Y-%m-%d %H:%M} UTC (in {minutes // 60} h {minutes % 60} min)"


def uploads_today(frame: pd.DataFrame, competition: str, now: _dt.datetime | None = None) -> int:
    """How many of the ledger's submissions (``frame``: :func:`kitlib.ledger.read_ledger`) to ``competition`` were
    recorded today (UTC) in a state the day's limit counts (:data:`COUNTED`, not ``error`` on the platform)."""
    if frame.empty:
        return 0
    today = (now or _dt.datetime.now(_dt.UTC)).date().isoformat()
    counted = (frame["competition"] == competition) & frame["upload_status"].isin(COUNTED) \
        & (frame["platform_status"] != "error") & frame["time"].str.startswith(today)
    return int(counted.sum())


def platform_limits(comp: Competition, timeout_s: float | None = None):
    """``(limits, why)``: the platform's answer to the day's limits (a
    :class:`~kitlib.platforms.kaggle_submissions.Limits`), or ``None`` and the one line saying why not (the call
    failed; ``""`` for a platform that has no such call)."""
    from . import platforms

    if comp.platform != "kaggle":
        return None, ""
    try:
        return platforms.submission_reader(comp.platform, comp.slug, timeout_s).limits(), ""
    except PlatformError as exc:
        return None, " ".join(str(exc).split())


def _refusal(what: str, comp: Competition, made: int, source: str, limit: int | None = None) -> str:
    cap = f" of {limit}" if limit is not None else ""
    return (f"not uploading {what}: {comp.platform} allows no more submissions to {comp.slug} today ({made}{cap} "
            f"made today, {source}); {day_reset()}. Nothing was recorded or sent")


def record_upload(row: dict, comp: Competition, send: Callable[[], UploadResult], what: str) -> dict:
    """Check the day's limit, record ``row`` as ``uploading``, call ``send()`` (the client's calls, which return
    the platform's :class:`UploadResult` or raise), settle the row; return the settled row (see the module
    docstring). ``what`` names the upload in messages (the file, the kernel version).

    Raises ``UploadError`` (nothing recorded or sent) when the day's limit is reached; ``LedgerWriteError`` when
    the ``uploading`` row cannot be written (nothing sent); ``UploadError`` after recording ``failed``;
    ``UploadUnknown`` after recording ``unknown`` (Ctrl-C, SIGTERM and SIGHUP included); ``LedgerWriteError``
    (after printing the platform's answer and id) when only the settling row could not be written.
    """
    limits, why = platform_limits(comp)
    if limits is not None and limits.num_allowed_now == 0:
        if limits.limited_by_total:
            raise UploadError(f"not uploading {what}: Kaggle allows no more submissions to {comp.slug} at all (the "
                              f"competition's total limit is reached). Nothing was recorded or sent")
        raise UploadError(_refusal(what, comp, limits.num_today, "Kaggle's GetSubmissionLimits says"))
    with locked_ledger() as ledger:
        if limits is None and comp.daily_limit:
            made = uploads_today(ledger.read(), comp.name)
            source = f"by the ledger{f'; Kaggle could not be asked: {why}' if why else ''}"
            if made >= comp.daily_limit:
                raise UploadError(_refusal(what, comp, made, source, comp.daily_limit))
        ledger.append({**row, "upload_status": "uploading"})
    if why and not comp.daily_limit:
        warnings.warn(f"the day's submission limit could not be checked ({why}) and {comp.name} sets no daily_limit "
                      f"to count the ledger's uploads against", UserWarning, stacklevel=2)
    return _upload(row, comp, send, what)


def _upload(row: dict, comp: Competition, send: Callable[[], UploadResult], what: str) -> dict:
    """``send()`` and the row that settles ``row`` (recorded ``uploading`` already)."""
    unknown = f"whether {comp.platform} has the submission is unknown; check before submitting again"
    try:
        with interrupted_by_signals():
            result = send()
    except UploadUnknown as exc:
        raise settled(row, "unknown", exc) from None
    except KitError as exc:  # a refusal, or nothing could be sent (no credentials, no client installed)
        raise settled(row, "failed", exc) from None
    except KeyboardInterrupt as exc:  # between two client calls (during one, the platform module says which)
        how = f"by {exc}" if str(exc).startswith("signal") else "(Ctrl-C)"
        raise settled(row, "unknown", UploadUnknown(f"upload of {what} interrupted {how}: {unknown}")) from None
    except Exception as exc:  # noqa: BLE001 - the platform modules turn client errors into UploadError: a slip
        raise settled(row, "unknown", UploadUnknown(f"upload of {what} ended with {type(exc).__name__}: {exc}: "
                                                    f"{unknown}")) from exc
    done = {**row, "upload_status": "uploaded", "platform_message": mask(result.message[:500]),
            "status_time": now_iso(), "platform_id": result.submission_id or ""}
    try:
        append_ledger(done)
    except LedgerWriteError as exc:  # the platform has it: say what it answered, so it can be recorded by hand
        answered = f"{done['platform_message']} (submission id {done['platform_id'] or '?'})"
        print(f"{comp.platform} answered: {answered}")
        raise LedgerWriteError(f"{comp.platform} has the submission (id {done['platform_id'] or '?'}: "
                               f"{done['platform_message']}), but the ledger row that settles it could not be "
                               f"written: {exc}") from None
    return done


def settled(row: dict, status: str, error: KitError) -> KitError:
    """Append the row that settles ``row`` as ``status`` with ``error``'s message; return ``error`` (to raise),
    saying so when even that row could not be written."""
    try:
        append_ledger({**row, "upload_status": status, "platform_message": str(error)[:500], "status_time": now_iso()})
    except LedgerWriteError as exc:
        error.args = (f"{error} (the ledger row that settles it as {status!r} could not be written: {exc})",)
    return error
