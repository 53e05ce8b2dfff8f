"""How every kit command ends on a stop signal: SIGTERM and SIGHUP as Ctrl-C (SIGINT) does, so each ends its
children and records its state, and code tidying up can tell a stop from a fault."""
from __future__ import annotations

import contextlib

STOP_SIGNALS = ("SIGTERM", "SIGHUP")  # ended like Ctrl-C (SIGINT) by every kit command


class Stop:
    """What :func:`interrupted_by_signals` yields: ``signal`` names the stop signal once one arrived (``"SIGINT"``
    for Ctrl-C), so code that tidies up after it can tell a stop from a fault while the ``KeyboardInterrupt`` is
    still on its way up."""

    def __init__(self) -> None:
        self.signal: str | None = None


@contextlib.contextmanager
def interrupted_by_signals():
    """While the block runs (in the main thread), SIGTERM and SIGHUP raise ``KeyboardInterrupt("signal SIGTERM")``
    as Ctrl-C does, so the command ends its children and records its state the way it does for Ctrl-C; the
    handlers before are put back afterwards. Ctrl-C still raises a bare ``KeyboardInterrupt`` (a SIGINT ignored by
    the shell that started the command stays ignored). Yields a :class:`Stop` that names the signal once one
    arrived. Elsewhere than the main thread it does nothing."""
    import signal
    import threading

    state = Stop()
    if threading.current_thread() is not threading.main_thread():
        yield state
        return

    def stop(signum, frame):
        state.signal = signal.Signals(signum).name
        raise KeyboardInterrupt(f"signal {state.signal}")

    def ctrl_c(signum, frame):
        state.signal = "SIGINT"
        raise KeyboardInterrupt

    before = {}
    for name in STOP_SIGNALS:
        number = getattr(signal, name, None)
        if number is not None:
            before[number] = signal.signal(number, stop)
    if signal.getsignal(signal.SIGINT) not in (signal.SIG_IGN, signal.SIG_DFL, None):  # Python's own, or another
        before[signal.SIGINT] = signal.signal(signal.SIGINT, ctrl_c)
    try:
        yield state
    finally:
        for number, handler in before.items():
            signal.signal(number, signal.SIG_DFL if handler is None else handler)
