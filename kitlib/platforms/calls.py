"""The client calls of one upload, each in a child process ended at a time limit, retried only when safe.

Neither official client takes a timeout, so a stalled server would hang an upload for ever. :class:`ClientCalls`
runs each call (a module-level function and its arguments) in a child process that is ended once
:func:`upload_timeout_s` seconds have passed, and turns every way a call can end into either its value or one
:class:`~kitlib.errors.UploadError` that says which call it was:

- a refusal the call raised itself (an :class:`~kitlib.errors.UploadError` with the platform's answer);
- no answer within the limit, Ctrl-C (``KeyboardInterrupt`` in the child, or in this process while it waits),
  or any other exception of the client (an answer it could not read: a non-JSON body, a wrongly shaped JSON);
- for the *final* call, the one that creates the submission, every unclear end is :class:`UploadUnknown`: the
  platform may have created the submission, so the message says where to look before submitting again.

A call that is safe to repeat (everything before the final one) is tried up to ``UPLOAD_TRIES`` times, with a
backoff of ``RETRY_BACKOFF_S`` doubling after each try, when it timed out or failed in a way marked
:func:`transient` (no answer, HTTP 429 or 5xx); the final call is never repeated. What the clients print and log
in the child is kept (:func:`~kitlib.platforms.client._captured_client_output`) and appended to the messages.

The child is forked on Linux (it inherits this process's state, client set-up included) and spawned elsewhere
(where fork is unsafe or missing). It is made a plain batch process first (:func:`_as_plain_process`): no
notebook display channel, no live terminal displays, so no progress bar lands in a message.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import multiprocessing
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from ..errors import PlatformError, UploadError, UploadUnknown  # noqa: F401 (UploadUnknown re-exported)
from ..runtime import UPLOAD_TIMEOUT_S, upload_timeout_s  # noqa: F401 (re-exported: the limit of one client call)
from .client import _captured_client_output

UPLOAD_TRIES = 3  # how often a call that is safe to repeat is tried
RETRY_BACKOFF_S = 2.0  # the wait before the second try, doubled before each later one
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})  # HTTP answers worth another try of a safe call
_END_GRACE_S = 2.0  # how long a child ended at the limit gets between SIGTERM and SIGKILL


def transient(exc: PlatformError) -> PlatformError:
    """Mark ``exc`` as a failure worth another try (when the call is safe to repeat); return it."""
    exc.transient = True
    return exc


def request_failure(failed: str, answer: str, exc: Exception, *, final: bool = False,
                    error: type[PlatformError] = UploadError) -> PlatformError:
    """The error for a ``requests`` exception ``exc`` of a call: ``"<failed>: <answer>"``.

    An HTTP answer is a refusal (its status in ``http_status``; :func:`transient` for 429/5xx, unless ``final``).
    Without an answer, a request that was never sent (no connection) is transient unless ``final``; one that may
    have reached the server is transient, or for the ``final`` call :class:`UploadUnknown`.
    """
    response = getattr(exc, "response", None)
    if response is not None:
        refused = error(f"{failed}: {answer}")
        refused.http_status = response.status_code
        return transient(refused) if response.status_code in RETRY_STATUSES and not final else refused
    if final and not _never_sent(exc):
        where = failed.removesuffix(" failed")
        return UploadUnknown(f"{where}: {answer}; whether the submission was created is unknown")
    failure = error(f"{failed}: {answer}")
    return failure if final else transient(failure)


def _never_sent(exc: BaseException) -> bool:
    """True when ``exc`` (from requests/urllib3) says no connection was made, so nothing reached the server."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    if isinstance(exc, requests.ConnectTimeout):
        return True
    seen: list[object] = [exc]
    while seen:
        item = seen.pop()
        if isinstance(item, (NewConnectionError, ConnectTimeoutError)):
            return True
        if isinstance(item, BaseException):
            seen.extend(a for a in item.args if isinstance(a, BaseException))
            seen.append(getattr(item, "reason", None))
    return False


def describe(exc: BaseException) -> str:
    """``"<type>: <text>"``, with the start of the body for an answer that was not JSON."""
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, json.JSONDecodeError):
        text += f"; the answer was {exc.doc[:200]!r}"
    return text


class ClientCalls:
    """The client calls of one upload; ``where`` starts every message (``"Kaggle upload of F to competition C"``).

    ``check`` is where a user sees their submissions (said when the outcome is unknown); it may be set later,
    once known. ``timeout_s`` as :func:`upload_timeout_s` takes it. ``output`` collects what the clients printed.
    ``tries`` (default :data:`UPLOAD_TRIES`) is how often a call safe to repeat is tried; a failure of one is
    ``error`` (default :class:`UploadError`) saying ``after`` at its end (default: that no submission was created).
    """

    def __init__(self, where: str, check: str, timeout_s: float | None = None, *, tries: int | None = None,
                 error: type[PlatformError] = UploadError, after: str = "; no submission was created") -> None:
        self.where = where
        self.check = check
        self.limit = upload_timeout_s(timeout_s)
        self.output: list[str] = []
        self.tries, self.error, self.after = tries, error, after

    def said(self) -> str:
        """``"\\nClient output:\\n..."`` with what the clients printed or logged so far, else ``""``."""
        text = "\n".join(self.output)
        return f"\nClient output:\n{text}" if text else ""

    def __call__(self, name: str, call: Callable[..., Any], *args: Any, final: bool = False) -> Any:
        """Run ``call(*args)`` in a child process within the limit; return its value or raise an UploadError.

        ``name`` says what the call is (``"CreateSubmission"``); ``final`` marks the call that creates the
        submission: tried once, and an unclear end is :class:`UploadUnknown`.
        """
        tries = 1 if final else max(1, self.tries or UPLOAD_TRIES)
        for attempt in range(1, tries + 1):
            kind, value, said = _in_child(call, args, self.limit)
            done = kind == "ok" or attempt == tries
            failure = None if kind == "ok" else self._failure(name, kind, value, final, attempt)
            if said and (done or not getattr(failure, "transient", False)):  # not what a retried try printed
                self.output.append(said)
            if failure is None:
                return value
            if done or not getattr(failure, "transient", False):
                raise self._with_output(failure)
            try:
                time.sleep(RETRY_BACKOFF_S * 2 ** (attempt - 1))
            except KeyboardInterrupt as exc:
                raise self._with_output(self._failure(name, "interrupted", _how(exc), final, attempt)) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _failure(self, name: str, kind: str, value: Any, final: bool, tries: int) -> UploadError:
        """The error for a call ``name`` that ended as ``kind`` (``error``, ``timeout``, ``interrupted``,
        ``crashed``) after ``tries`` tries; ``value`` is the call's error or the crash's description."""
        if kind == "error" and isinstance(value, PlatformError):
            failure = value
            if tries > 1:
                failure.args = (f"{failure} ({tries} tries)",)
        else:
            what = {
                "timeout": f"{name} got no answer within {self.limit:g} s" + (f" ({tries} tries)" if tries > 1 else ""),
                "interrupted": f"interrupted ({value or 'Ctrl-C'}) during {name}",
            }.get(kind) or f"{name}: the client failed on an answer it did not expect ({value})"
            failure = (UploadUnknown(f"{self.where}: {what}, so whether the submission was created is unknown")
                       if final else self.error(f"{self.where} failed: {what}{self.after}"))
            if kind == "timeout":
                transient(failure)
        if isinstance(failure, UploadUnknown):
            failure.args = (f"{failure}; check {self.check} before submitting again",)
        return failure

    def _with_output(self, failure: UploadError) -> UploadError:
        failure.args = (f"{failure}{self.said()}",)
        return failure


# ----------------------------------------------------------------------------------- the child process
def _context() -> multiprocessing.context.BaseContext:
    """Fork on Linux (the child inherits the client's set-up); spawn where fork is unsafe (macOS) or missing."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _in_child(call: Callable[..., Any], args: tuple, limit: float) -> tuple[str, Any, str]:
    """Run ``call(*args)`` in a child process ended after ``limit`` seconds: ``(kind, value, client output)``.

    ``kind`` is ``ok`` (``value`` is the result), ``error`` (a PlatformError), ``crashed`` (a description),
    ``timeout`` or ``interrupted`` (Ctrl-C here or in the child).
    """
    context = _context()
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_child_main, args=(send, call, args, limit), daemon=True)
    child.start()
    send.close()
    try:
        if not receive.poll(limit):
            return "timeout", None, ""
        try:
            return receive.recv()
        except EOFError:
            _end(child)
            return "crashed", f"its process ended with exit code {child.exitcode} and no answer", ""
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM/SIGHUP turned into it (kitlib.runtime)
        return "interrupted", _how(exc), ""
    finally:
        _end(child)
        receive.close()


def _how(exc: KeyboardInterrupt) -> str:
    """``"SIGTERM"`` for a KeyboardInterrupt that a signal handler raised (``"signal SIGTERM"``), else ``"Ctrl-C"``."""
    return str(exc).removeprefix("signal ") if str(exc).startswith("signal ") else "Ctrl-C"


def _end(child: multiprocessing.process.BaseProcess) -> None:
    """Wait for ``child`` if it is ending anyway; otherwise SIGTERM it, then SIGKILL it after a grace period."""
    child.join(0.2)
    if child.is_alive():
        child.terminate()
        child.join(_END_GRACE_S)
    if child.is_alive():
        child.kill()
        child.join()


def _child_main(send: Any, call: Callable[..., Any], args: tuple, limit: float) -> None:
    """In the child: run the call with its output captured; send ``(kind, value, output)`` back. An alarm ends
    the child a little after ``limit`` even when no parent is left to end it."""
    for name in ("SIGTERM", "SIGHUP"):  # the parent's handlers (kitlib.runtime) must not outlive the fork:
        if hasattr(signal, name):  # ending the child (SIGTERM at the limit) just ends it
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if hasattr(signal, "alarm"):
        signal.alarm(int(limit + _END_GRACE_S) + 1)
    _as_plain_process()
    with _captured_client_output() as said:
        try:
            outcome: tuple[str, Any] = ("ok", call(*args))
        except PlatformError as exc:
            outcome = ("error", exc)
        except KeyboardInterrupt as exc:
            outcome = ("interrupted", _how(exc))
        except BaseException as exc:  # noqa: BLE001 - whatever the client raised becomes a clear message
            outcome = ("crashed", describe(exc))
    try:
        send.send((*outcome, said.text()))
    except Exception as exc:  # noqa: BLE001 - a value that cannot be sent back
        send.send(("crashed", f"its answer could not be passed back ({describe(exc)})", said.text()))
    send.close()


def _as_plain_process() -> None:
    """Make the child a plain batch process: forget a notebook kernel it was forked from (its display channel
    is the parent's), drop the parent's log handlers, switch off rich's live displays (the progress bars of
    aicrowd-cli; what is left of a bar in captured output cannot be told from text)."""
    shell = sys.modules.get("IPython.core.interactiveshell")
    if shell is not None:
        shell.InteractiveShell.clear_instance()
    logging.getLogger().handlers.clear()
    if importlib.util.find_spec("rich") is not None:
        import rich

        rich.reconfigure(quiet=True)
