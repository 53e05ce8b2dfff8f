"""A Kaggle competition's submissions as the official client sees them: the list (``ListSubmissions``, paged), one
submission (``GetSubmission``), the day's limits (``GetSubmissionLimits``), and a code competition's submission of a
kernel version (``KaggleApi.competition_submit_code``, which sends ``CreateCodeSubmission``).

:class:`KaggleSubmissions` makes the status reads, each a call of :class:`~kitlib.platforms.calls.ClientCalls` in a
child process ended after :func:`~kitlib.runtime.lb_timeout_s` seconds (``KIT_LB_TIMEOUT_S``, default 30) and
tried :data:`STATUS_TRIES` times when it got no answer or a 429/5xx, so a stalled platform costs at most
2 x limit + 10 s per call. Every answer is checked before it is used and comes back as plain values
(:class:`Submission`, :class:`Limits`): the scores are the very strings Kaggle sent, never numbers made of them,
and an answer of another shape is a :class:`~kitlib.errors.PlatformError` naming the call. A failure is one
:class:`~kitlib.errors.PlatformError` saying which call failed and how.

:func:`submit_kernel_version` is an upload: ``CreateCodeSubmission`` is its final call, tried once, and an unclear
end is :class:`~kitlib.errors.UploadUnknown`.
"""
from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

from ..errors import PlatformError, UploadError, UploadUnknown
from ..runtime import lb_timeout_s
from .calls import ClientCalls, request_failure
from .client import UploadResult, _non_empty
from .kaggle import _http_answer, _kaggle_api_class, _kaggle_authenticated, _kaggle_call

STATUS_TRIES = 2  # how often a status read is tried (it is safe to repeat)
PAGE_SIZE = 20  # submissions per ListSubmissions page (the client's own default)
STATUSES = {"PENDING": "pending", "COMPLETE": "scored", "ERROR": "error"}  # Kaggle's -> the ledger's


@dataclass(frozen=True)
class Submission:
    """One submission as Kaggle listed it: ``ref`` (its id, as text), ``date`` (ISO 8601, UTC; ``""`` when Kaggle
    sent none), ``file_name``, ``status`` (``pending``, ``scored`` or ``error``), the public and private score as
    Kaggle wrote them (``""`` while pending or hidden), the error description and the submission's description."""

    ref: str
    date: str
    file_name: str
    status: str
    public_score: str
    private_score: str
    error: str
    description: str


@dataclass(frozen=True)
class Limits:
    """The day's submissions of a competition: made today, allowed now, and whether the competition's total limit
    (rather than the day's) is what stops them."""

    num_today: int
    num_allowed_now: int
    limited_by_total: bool


class KaggleSubmissions:
    """The status reads of one Kaggle competition (its slug ``competition``), each bounded in time (``timeout_s``,
    else ``KIT_LB_TIMEOUT_S``; see the module docstring)."""

    def __init__(self, competition: str, timeout_s: float | None = None) -> None:
        self.competition = _non_empty(competition, "competition")
        self.page_url = f"https://www.kaggle.com/competitions/{self.competition}/submissions"
        self.calls = ClientCalls(f"Kaggle status read of competition {self.competition!r}", self.page_url,
                                 lb_timeout_s(timeout_s), tries=STATUS_TRIES, error=PlatformError, after="")

    def page(self, token: str = "") -> tuple[list[Submission], str]:
        """One page of the competition's submissions, newest first (``ListSubmissions`` from ``token``, ``""`` for
        the first): ``(submissions, the next page's token or "")``. Raises ``PlatformError``."""
        _kaggle_api_class()  # a missing client is said here, before any child process
        return self.calls("ListSubmissions", _list_page, self.competition, token, PAGE_SIZE, self.calls.where)

    def get(self, ref: str) -> Submission | None:
        """The submission ``ref`` (``GetSubmission``); ``None`` when Kaggle answers 404. Raises ``PlatformError``."""
        return self.calls("GetSubmission", _get_one, ref, self.calls.where)

    def limits(self) -> Limits:
        """The day's limits (``GetSubmissionLimits``). Raises ``PlatformError``."""
        _kaggle_api_class()
        return self.calls("GetSubmissionLimits", _get_limits, self.competition, self.calls.where)


# ------------------------------------------------------------------------ in the child process of each call
def _list_page(competition: str, token: str, size: int, where: str) -> tuple[list[Submission], str]:
    from kagglesdk.competitions.types.competition_api_service import ApiListSubmissionsRequest
    from kagglesdk.competitions.types.competition_enums import SubmissionGroup, SubmissionSortBy

    request = ApiListSubmissionsRequest()
    request.competition_name, request.page_size = competition, size
    request.group, request.sort_by = SubmissionGroup.SUBMISSION_GROUP_ALL, SubmissionSortBy.SUBMISSION_SORT_BY_DATE
    if token:
        request.page_token = token
    response, _ = _kaggle_call(where, "list_submissions", request, error=PlatformError)
    found = response.submissions
    if not isinstance(found, list):
        raise PlatformError(f"{where} failed: ListSubmissions answered {found!r} as its submissions, not a list")
    token = response.next_page_token
    if not isinstance(token, str):
        raise PlatformError(f"{where} failed: ListSubmissions answered the page token {token!r}, not text")
    return [_plain(item, "ListSubmissions", where) for item in found], token


def _get_one(ref: str, where: str) -> Submission | None:
    from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionRequest

    request = ApiGetSubmissionRequest()
    request.ref = int(ref)
    try:
        response, _ = _kaggle_call(where, "get_submission", request, error=PlatformError)
    except PlatformError as exc:
        if getattr(exc, "http_status", None) == 404:
            return None
        raise
    return _plain(response, "GetSubmission", where)


def _get_limits(competition: str, where: str) -> Limits:
    from kagglesdk.competitions.types.competition_api_service import ApiGetSubmissionLimitsRequest

    request = ApiGetSubmissionLimitsRequest()
    request.competition_name = competition
    response, body = _kaggle_call(where, "get_submission_limits", request, error=PlatformError)
    values = (response._num_today, response._num_allowed_now)  # as sent (proto3 leaves out a 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values) or \
            not isinstance(response._limited_by_total, bool):
        raise PlatformError(f"{where} failed: GetSubmissionLimits answered {body[:200]!r}, not whole numbers "
                            f"numToday and numAllowedNow")
    return Limits(*values, response._limited_by_total)


def _plain(item: object, call: str, where: str) -> Submission:
    """A :class:`Submission` of the client's ``ApiSubmission`` ``item``; raises ``PlatformError`` for a field of
    another shape than kagglesdk's (a score that is not text is never turned into one)."""
    ref = getattr(item, "_ref", None)
    if isinstance(ref, bool) or not (isinstance(ref, int) and ref > 0 or isinstance(ref, str) and ref.isdigit()):
        raise PlatformError(f"{where} failed: {call} answered a submission whose ref is {ref!r}, not a number")
    status = getattr(getattr(item, "_status", None), "name", None)
    if status not in STATUSES:
        raise PlatformError(f"{where} failed: {call} answered submission {ref} with status "
                            f"{getattr(item, '_status', None)!r}; expected one of {list(STATUSES)}")
    texts = {}
    for field in ("public_score", "private_score", "error_description", "file_name", "description"):
        value = getattr(item, f"_{field}", None)
        if value is not None and not isinstance(value, str):
            raise PlatformError(f"{where} failed: {call} answered {field} {value!r} for submission {ref}, not text "
                                f"(Kaggle sends scores as text); nothing of it was recorded")
        texts[field] = value or ""
    date = getattr(item, "_date", None)
    when = ""
    if isinstance(date, _dt.datetime):
        when = (date if date.tzinfo else date.replace(tzinfo=_dt.UTC)).isoformat(timespec="milliseconds")
    return Submission(str(ref), when, texts["file_name"], STATUSES[status], texts["public_score"],
                      texts["private_score"], texts["error_description"], texts["description"])


# ------------------------------------------------------------------------------------ code submissions
def submit_kernel_version(competition: str, kernel: str, version: int, file_name: str, message: str = "",
                          timeout_s: float | None = None) -> UploadResult:
    """Submit version ``version`` of the kernel ``kernel`` (``owner/slug``) to the code competition
    ``competition``: the client's ``competition_submit_code`` (``file_name`` is the file the kernel writes,
    ``message`` the description), in a child process within ``timeout_s`` (else ``KIT_UPLOAD_TIMEOUT_S``).

    Returns an :class:`UploadResult` with Kaggle's message and the submission's ref as ``submission_id``. Raises
    :class:`UploadError` (no credentials, a refusal with Kaggle's answer, the client refusing the arguments) and
    :class:`UploadUnknown` when the call ended without a clear answer (it is never repeated).
    """
    competition = _non_empty(competition, "competition")
    _kaggle_api_class()
    where = f"Kaggle code submission of kernel {kernel} version {version} to competition {competition!r}"
    calls = ClientCalls(where, f"https://www.kaggle.com/competitions/{competition}/submissions", timeout_s)
    answer, ref = calls("CreateCodeSubmission", _submit_code, competition, kernel, version, file_name, message, where,
                        final=True)
    answer = (answer or "Kaggle accepted the code submission") + (f" (submission ref {ref})" if ref else "")
    return UploadResult("kaggle", True, answer + calls.said(), ref)


def _submit_code(competition: str, kernel: str, version: int, file_name: str, message: str,
                 where: str) -> tuple[str, str | None]:
    import requests

    api = _kaggle_authenticated(_kaggle_api_class(), f"{where} failed", None, UploadError)
    try:
        response = api.competition_submit_code(file_name, message, competition, kernel, version, quiet=True)
    except requests.RequestException as exc:
        answer = _http_answer(exc) if exc.response is not None else f"CreateCodeSubmission: {_http_answer(exc)}"
        raise request_failure(f"{where} failed", answer, exc, final=True) from None
    except ValueError as exc:  # the client's own checks of its arguments; nothing was sent
        raise UploadError(f"{where} failed: the kaggle client refused it: {exc}; nothing was sent") from None
    if not (response.message or response.ref):
        raise UploadUnknown(f"{where}: CreateCodeSubmission answered without a message or a submission ref, so "
                            f"whether the submission was created is unknown")
    return response.message, str(response.ref) if response.ref else None
