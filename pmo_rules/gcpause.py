"""Pause Python's cyclic garbage collector while a run builds millions of objects.

A 100,000-project snapshot is tens of millions of dicts, Decimals and strings, none of
them in reference cycles. With the collector on, every 700 new objects trigger a young
collection and the older generations are rescanned again and again as the heap grows:
measured on the 10k-project benchmark, that doubled load time and added half again to
evaluation. Reference counting still frees everything; only cycle hunting waits until
the pause ends.

When it ends, the first collection would walk every container made during the pause:
0.9 s for a 100,000-project snapshot, 1.3 s for its report, and again at every full
collection after. What a run builds in a pause (the snapshot, the evaluation's results,
the report) lives as long as the run and holds no reference cycles, so a pause that
leaves at least `FREEZE_OBJECTS` new containers alive freezes them (`gc.freeze`): out of
the collector's reach for good, still freed by reference counting when they go.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

#: New containers alive at the end of a pause from which they are frozen (walking this
#: many takes the collector some 20 ms; a 10,000-project load makes 300,000).
FREEZE_OBJECTS = 100_000


@contextmanager
def gc_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
        if gc.get_count()[0] >= FREEZE_OBJECTS:  # containers made since the last collection
            gc.freeze()
    finally:
        if was_enabled:
            gc.enable()
