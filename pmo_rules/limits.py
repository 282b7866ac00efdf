"""Time limits that can stop anything, even a plugin stuck in a loop or a sleep.

A rule that runs past its limit must become `error` outcomes naming the rule, never a
stuck audit. Python cannot cancel a running function from outside, so the limit is an
interval timer (SIGALRM) whose handler raises `LimitExceeded` in the evaluating thread.
Only the main thread can receive it; elsewhere (or on a platform without SIGALRM) limits
are not enforced, and `enforceable()` says so.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class LimitExceeded(BaseException):
    """A BaseException, like KeyboardInterrupt, so that no `except Exception` around a
    plugin call can swallow it and let the next subject hang again."""

    def __init__(self, what: str, seconds: float):
        super().__init__(f"{what} exceeded its time limit of {seconds:g} s")
        self.what = what
        self.seconds = seconds


def enforceable() -> bool:
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def time_limit(seconds: float | None, what: str, limit: float | None = None) -> Iterator[None]:
    """Raise LimitExceeded inside the block once `seconds` have passed (None: no limit).
    The error names `limit`, the limit as set, when `seconds` is only what is left of it."""
    shown = seconds if limit is None else limit
    if seconds is None or not enforceable():
        yield
        return
    if seconds <= 0:
        raise LimitExceeded(what, shown)

    def on_alarm(signum, frame):  # noqa: ARG001
        raise LimitExceeded(what, shown)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
