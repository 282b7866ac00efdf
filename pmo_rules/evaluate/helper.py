"""A worker child kept after the evaluation, to compute one more thing from the snapshot.

After a parallel evaluation the parent builds the report alone while the other cores
idle, and part of that work reads the snapshot only: the roll-ups go over every project
(a second of one core at 100,000 projects). A worker child still holds the snapshot (it
was forked with it), and by then parent and child have each copied the pages they wrote
while evaluating, so either can read the whole snapshot again without copying much. So
the engine keeps one child waiting (`serve`) and hands the parent a `Helper`:
`submit(fn, *args)` has the child run `fn(snapshot, *args)` while the parent goes on, and
`result()` gives what it returned.

The child answers with the parent's decimal context, so its numbers are the ones the
parent would have made. Nothing is lost if it fails: `result()` then says so, and the
caller computes the value itself. A helper that is not used ends when it is dropped
(or `close`d), or when its parent is gone; nobody waits for it to end.
"""

from __future__ import annotations

import decimal
import os
import pickle
import weakref
from collections.abc import Callable
from typing import Any

#: The message a child sends when its chunks are done and it is waiting (`serve`).
READY = "ready"
_STOP = b""
_PARENT_CHECK_SECONDS = 1.0


def serve(snapshot: Any, results: Any, requests: Any) -> None:
    """In the child: wait for one request, answer it on `results`, and end. It ends without
    answering when the request pipe closes, a stop comes, or its parent is gone."""
    parent = os.getppid()
    try:
        while not requests.poll(_PARENT_CHECK_SECONDS):
            if os.getppid() != parent:
                return
        data = requests.recv_bytes()
    except (EOFError, OSError):
        return
    if data == _STOP:
        return
    try:
        fn, args, context = pickle.loads(data)
        with decimal.localcontext(context):
            answer = pickle.dumps((True, fn(snapshot, *args)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - said as a failure: the parent computes it itself
        answer = pickle.dumps((False, None))
    try:
        results.send_bytes(answer)
    except OSError:
        pass  # the parent stopped listening


class Helper:
    """The parent's end of a waiting child (`serve`): one `submit`, then one `result`."""

    def __init__(self, proc: Any, results: Any, requests: Any) -> None:
        self._proc, self._results, self._requests = proc, results, requests
        self._finalizer = weakref.finalize(self, end, proc, results, requests)

    def submit(self, fn: Callable[..., Any], *args: Any) -> bool:
        """Have the child run `fn(snapshot, *args)` (`fn` a module-level function, `args`
        picklable); False if it could not be asked (the helper is then closed)."""
        try:
            self._requests.send_bytes(pickle.dumps((fn, args, decimal.getcontext().copy()),
                                                   protocol=pickle.HIGHEST_PROTOCOL))
            return True
        except Exception:  # noqa: BLE001 - no child to ask: the caller computes it
            self.close()
            return False

    def result(self) -> tuple[bool, Any]:
        """(True, what `fn` returned), or (False, None) if the child failed or died."""
        try:
            while not self._results.poll(_PARENT_CHECK_SECONDS):
                if not self._proc.is_alive() and not self._results.poll(0):
                    return False, None
            ok, value = pickle.loads(self._results.recv_bytes())
            return (True, value) if ok is True else (False, None)
        except Exception:  # noqa: BLE001 - died mid-answer, or sent something unreadable
            return False, None
        finally:
            self.close()

    def holds(self, proc: Any) -> bool:
        return proc is self._proc

    def close(self) -> None:
        self._finalizer()


def end(proc: Any, results: Any, requests: Any) -> None:
    """End a waiting child (`serve`) that is not, or no longer, needed."""
    try:
        requests.send_bytes(_STOP)  # a later fork may hold the pipe open: say it outright
    except (OSError, ValueError):
        pass
    for conn in (requests, results):
        try:
            conn.close()
        except OSError:
            pass
    # Not joined here: its exit (unmapping a snapshot's worth of memory) takes 50-80 ms the
    # caller need not wait for. multiprocessing reaps it later (at the next fork, or at
    # exit, where a daemonic child still running is terminated).
