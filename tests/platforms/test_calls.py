"""``kitlib.platforms.calls``: a client call in a child process, ended at its limit, in both ways of starting one."""
from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from kitlib.errors import ParameterError, UploadError
from kitlib.platforms import UploadUnknown, calls


@pytest.fixture(params=["fork", "spawn"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Each test runs with children forked (Linux) and spawned (macOS, Windows)."""
    monkeypatch.setattr(calls, "_context", lambda: multiprocessing.get_context(request.param))
    monkeypatch.setattr(calls, "RETRY_BACKOFF_S", 0.01)
    return request.param


def test_a_call_runs_in_a_child_process_and_returns_its_value(start_method: str) -> None:
    assert calls.ClientCalls("an upload", "the site", 30)("getpid", os.getpid) != os.getpid()


@pytest.mark.parametrize(("final", "error", "said"), [
    (False, UploadError, "an upload failed: a nap got no answer within 0.5 s (2 tries); no submission was created"),
    (True, UploadUnknown, "an upload: a nap got no answer within 0.5 s, so whether the submission was created is "
                          "unknown; check the site before submitting again"),
])
def test_a_call_past_its_limit_is_ended_and_named(start_method: str, monkeypatch: pytest.MonkeyPatch, final: bool,
                                                  error: type, said: str) -> None:
    monkeypatch.setattr(calls, "UPLOAD_TRIES", 2)
    started = time.monotonic()
    with pytest.raises(error) as caught:
        calls.ClientCalls("an upload", "the site", 0.5)("a nap", time.sleep, 30, final=final)
    assert str(caught.value) == said
    assert time.monotonic() - started < 10


def test_the_limit_comes_from_the_argument_the_environment_or_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KIT_UPLOAD_TIMEOUT_S", raising=False)
    assert calls.upload_timeout_s() == calls.UPLOAD_TIMEOUT_S
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "7.5")
    assert calls.upload_timeout_s() == 7.5 and calls.upload_timeout_s(2) == 2
    monkeypatch.setenv("KIT_UPLOAD_TIMEOUT_S", "soon")
    with pytest.raises(ParameterError, match=r"number of seconds above 0 .* got 'soon'"):
        calls.upload_timeout_s()
