"""Pipes between the processes of one run."""

from __future__ import annotations

from typing import Any


def widen(pipe: Any) -> None:
    """A 1 MB pipe instead of 64 KB (Linux), so that a writer streaming megabytes of
    pickles seldom waits for a reader busy with its own work; `pipe` is a descriptor or
    has `fileno()`."""
    try:
        import fcntl

        fcntl.fcntl(pipe, fcntl.F_SETPIPE_SZ, 1 << 20)
    except (ImportError, AttributeError, OSError):
        pass  # another platform, or a lower limit: the default pipe works, only slower
