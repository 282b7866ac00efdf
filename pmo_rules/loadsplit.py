"""Read one large file with two processes: a forked child reads the second part.

Loading 100,000 projects (260 MB of JSON Lines) is parsing and validating one record at
a time, several seconds of one core while the other waits. For a file of at least
`PARALLEL_BYTES` whose source can read a byte range (`SourceSpec.load_range`), a child
forked when the load begins (before the files ahead of this one are read) reads and
validates the records of its last part while the parent reads the first. The child has
no say in what is kept: it sends its valid records and its rejections, numbered within
its range, and the parent numbers them on from its own part's and runs the duplicate-id
check over all of them in file order, so the result is the serial one.

The records come back pickled (plain pickle: a cheaper format such as marshal would need
a walk over every record to turn Decimals and dates into something it can carry and
back, which costs more than pickle does), `BATCH` records at a time as the child reads
them, and a thread of the parent's unpickles them as they come. So neither process waits
for the other: the child need not pickle everything before the parent can start taking
it, and the parent's unpickling (about a quarter of what reading costs) fits between its
own records instead of after them. Each message has a pickler of its own: one pickler for
the whole part sent a string or date shared by records once, but its memo grew to
millions of entries and cost more than it saved (at 100,000 projects, loads took a median
of 4.25 s against 4.67 s). The child keeps every message it sent until it exits, so it
spends no time freeing records the parent now holds.

The child takes its part a block (`BLOCK` bytes) at a time, from a counter both
processes share, and the parent, once its own part is read, takes blocks back from the
end of the child's until the two meet: so they finish together however their speeds
vary (on this machine a fixed split ended either one up to half a second before the
other), and what the parent takes back is never pickled. The blocks the parent read are
added after the child's records, in file order, as if the child had read them.
A child that fails in any way (dies, raises, sends something unreadable) costs nothing
but time: the parent drops what came and reads the blocks the child took itself.
`PMO_RULES_LOAD_WORKERS=1` reads every file in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import load
from .findings import Rejected
from .pipes import widen
from .registry import SourceSpec
from .schema.models import COLLECTION_MODELS

if TYPE_CHECKING:
    from .schema.extension import Extension
    from .schema.runtime import Loader

#: Smaller files are read in one process: forking and pickling would cost more than they save.
PARALLEL_BYTES = 8 << 20
#: The part of a file's bytes the child is offered. Reading takes r per byte, pickling r/2
#: and unpickling r/3 (measured at 100,000 projects): the parent's (1 - x) r + x r/3
#: equals the child's 1.5 x r at x = 0.46. Offered more, the child is meant to be the one
#: still reading when the parent is done, so that the parent takes back the rest.
CHILD_SHARE = 0.55
#: Bytes the child claims at a time, and the parent takes back at a time: some 50 ms of
#: reading (740 projects).
BLOCK = 2 << 20
#: Records per message from the child: enough that a message's own cost is nothing, few
#: enough that the parent is never long without one to unpickle.
BATCH = 1000
WORKERS_ENV = "PMO_RULES_LOAD_WORKERS"

#: What a child sends per collection: (valid records, their numbers if not 1, 2, 3...,
#: rejections), numbered from the start of its range; None for an unknown collection.
Part = tuple[list[dict], list[int] | None, list[Rejected]] | None
#: A range's parts per collection, or what reading it raised (said in its turn).
Block = dict[str, Part] | BaseException


def workers() -> int:
    env = os.environ.get(WORKERS_ENV, "").strip()
    if env.isdigit():
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def start(spec: SourceSpec, file: Path, extension: Extension | None, loader: Loader | None) -> Split | None:
    """A child reading the last part of `file`, or None: read it all in this process."""
    if spec.load_range is None or workers() < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return None
    try:
        size = file.stat().st_size
    except OSError:
        return None  # said by the serial read
    if size < PARALLEL_BYTES:
        return None
    try:
        return Split(spec, file, int(size * (1 - CHILD_SHARE)), size, extension, loader or load.new_loader())
    except Exception:  # noqa: BLE001 - no process to spare (fork failed): read it here
        return None


class Split:
    """The child reading bytes [split, size) of a file, and how its records join the load."""

    def __init__(self, spec: SourceSpec, file: Path, split: int, size: int,
                 extension: Extension | None, loader: Loader) -> None:
        self.spec, self.file, self.split, self.size = spec, file, split, size
        self.extension, self.loader = extension, loader
        self.parts: dict[str, Part] | None = None  # the child's, as it sent them
        self.received = False
        self.added: set[str] = set()
        self.taker: threading.Thread | None = None
        ctx = multiprocessing.get_context("fork")
        # [the next byte the child claims, the end of what is left to claim]: the child
        # claims from the front, the parent takes back from the end (`_take_back`).
        self.bounds = ctx.Array("q", [split, size])
        self.taken: list[Block] = []  # the blocks the parent took back, in file order
        self.ordered: list[Block] | None = None  # `_in_order`
        readable, writable = os.pipe()
        widen(writable)
        self.receiver = open(readable, "rb")  # noqa: SIM115 - closed by `close`
        try:
            self.proc = ctx.Process(target=_child, args=(self, writable), daemon=True)
            self.proc.start()
        except BaseException:
            self.receiver.close()
            raise
        finally:
            os.close(writable)  # else a child that dies without sending would leave the read waiting

    def take(self) -> None:
        """Start unpickling the child's records as they come (a thread: call it after the
        last fork of the load, so that no child inherits it half-way through a message)."""
        self.taker = threading.Thread(target=self._take, daemon=True)
        self.taker.start()

    def add(self, coll: str, after: int | None, result: load.LoadResult, seen_ids: dict) -> None:
        """Add the child's records of `coll`, and those of the blocks taken back, after the
        parent's `after` first ones (None: the collection is unknown, and that has been said)."""
        self.added.add(coll)
        if after is None:
            return
        origin = str(self.file)
        for block in self._in_order():
            if isinstance(block, BaseException):
                raise block  # where the serial read would have met it
            if coll not in block:
                continue
            part = block[coll]
            if part is None:
                load.add_collections(result, seen_ids, {coll: ()}, origin)  # says it is unknown
                return
            after = _merge(result, seen_ids, coll, origin, after, part)

    def add_rest(self, result: load.LoadResult, seen_ids: dict) -> None:
        """The collections only the child's range gave (a source should not do that)."""
        for block in self._in_order():
            if isinstance(block, BaseException):
                raise block
            for coll in block:
                if coll not in self.added:
                    self.add(coll, 0, result, seen_ids)

    def _in_order(self) -> list[Block]:
        """Every part of the file after the parent's own, in file order: the child's (as it
        sent it, or read here if it failed: the blocks it claimed), then those taken back."""
        if self.ordered is None:
            self._take_back()  # first: the child reads on meanwhile
            child = self._receive()
            if child is None:
                with self.bounds.get_lock():
                    claimed = self.bounds[0]
                child = self._read(self.split, claimed) if claimed > self.split else {}
            self.ordered = [child, *self.taken]
        return self.ordered

    def _take_back(self) -> None:
        """Read blocks from the end of what the child has not claimed yet, until none is left."""
        while (block := _claim(self.bounds, from_end=True)) is not None:
            self.taken.insert(0, self._read(*block))

    def _read(self, start: int, stop: int) -> Block:
        """Bytes [start, stop), read here; or what reading them raised, to be raised in its
        turn (`add`), as the serial read would."""
        try:
            return _gathered(_read_block(self, start, stop, str(self.file)))
        except Exception as exc:  # noqa: BLE001 - said in its turn
            return exc

    def close(self) -> None:
        if self.parts is None and self.proc.is_alive():
            # Not needed any more (the load failed), or not sending: its end of the pipe
            # closes, so a thread still waiting to read from it stops.
            self.proc.kill()
        if self.taker is not None:
            self.taker.join()
        self.receiver.close()
        self.proc.join()

    def _receive(self) -> dict[str, Part] | None:
        if not self.received:
            self.received = True
            if self.taker is None:
                self._take()
            else:
                self.taker.join()
        return self.parts

    def _take(self) -> None:
        """The child's messages (`_read_range`) gathered per collection into `parts`; on any
        failure (the child died and the pickle ends early, a message is not one) `parts`
        stays None: the parent reads the range itself."""
        def messages() -> Iterator[Any]:
            while (message := pickle.Unpickler(self.receiver).load()) is not None:
                yield message

        try:
            self.parts = _gathered(messages())
        except Exception:  # noqa: BLE001 - anything: read the range here
            return


def _child(split: Split, writable: int) -> None:
    try:
        split.receiver.close()
        with open(writable, "wb") as out:
            # Kept, not freed: freeing the records one by one would take 0.4 s of this
            # process at 100,000 projects, and `os._exit` frees them all at once.
            sent = []
            for message in _read_range(split):
                pickle.Pickler(out, protocol=5).dump(message)
                out.flush()  # the parent may be waiting for the rest of this message
                sent.append(message)
            pickle.Pickler(out, protocol=5).dump(None)  # the end: all sent
    except BaseException:  # noqa: BLE001 - quietly: the parent reads the range itself
        return
    os._exit(0)


def _gathered(messages: Iterator[Any]) -> dict[str, Part]:
    """Messages (as `_read_block` makes them) gathered per collection; a ValueError or
    TypeError for anything else."""
    gathered: dict[str, tuple[list, list, list] | None] = {}
    for coll, batch in messages:
        if batch is None:
            gathered[coll] = None
            continue
        into = gathered.setdefault(coll, ([], [], []))
        if into is None:
            raise ValueError(f"records of `{coll}` after its end")
        for whole, part in zip(into, batch, strict=True):
            whole.extend(part)
    return {coll: None if g is None else (g[0], g[1] if g[2] else None, g[2]) for coll, g in gathered.items()}


def _claim(bounds: Any, *, from_end: bool = False) -> tuple[int, int] | None:
    """A block of what is left (the child's next, or the parent's from the end), or None."""
    with bounds.get_lock():
        front, back = bounds[0], bounds[1]
        if front >= back:
            return None
        if from_end:
            bounds[1] = start = max(back - BLOCK, front)
            return start, back
        bounds[0] = stop = min(front + BLOCK, back)
        return front, stop


def _read_range(split: Split) -> Iterator[tuple[str, tuple[list, list, list] | None]]:
    """What the child sends, in file order: the blocks it claims, one after the other,
    read as one range would be (`_read_block`, numbered on from the block before). Then
    `_child` sends None, for the end."""
    origin = str(split.file)
    numbered: dict[str, int] = {}  # per collection, the records of the blocks before
    while (block := _claim(split.bounds)) is not None:
        yield from _read_block(split, *block, origin, numbered)


def _read_block(split: Split, start: int, stop: int, origin: str, numbered: dict[str, int] | None = None,
                ) -> Iterator[tuple[str, tuple[list, list, list] | None]]:
    """Bytes [start, stop) of the file: per collection, (collection, (valid records, their
    numbers, rejections)) for every `BATCH` valid records and once more at its end, or
    (collection, None) for an unknown one. Numbers count on from `numbered[coll]` (0),
    which is then moved on; a rejection goes with the batch of the next valid record."""
    numbered = {} if numbered is None else numbered
    for coll, records in load.read_source(split.spec, split.file, (start, stop)).items():
        if coll not in COLLECTION_MODELS:
            yield coll, None
            continue
        valid: list[dict] = []
        numbers: list[int] = []
        rejected: list[Rejected] = []
        for i, rec in load.validated(coll, records, origin, rejected, split.extension, split.loader,
                                     numbered.get(coll, 0)):
            if rec is None:
                numbered[coll] = i
                break
            valid.append(rec)
            numbers.append(i)
            if len(valid) == BATCH:
                yield coll, (valid, numbers, rejected[:])
                valid, numbers = [], []
                del rejected[:]  # the list `validated` adds to
        yield coll, (valid, numbers, rejected)


def _merge(result: load.LoadResult, seen_ids: dict, coll: str, origin: str, after: int, part: Part) -> int:
    """What `add_collections` does with valid records: the duplicate check, in file order.
    Returns the number of the part's last record (valid or not), counted on from `after`."""
    assert part is not None
    valid, numbers, rejected = part
    target = getattr(result.snapshot, coll)
    seen = seen_ids[coll]
    out = result.rejected
    k = 0
    for i, rec in zip(numbers or range(1, len(valid) + 1), valid):
        while k < len(rejected) and rejected[k].record < i:
            out.append(_renumbered(rejected[k], after))
            k += 1
        number = after + i
        rid = rec["id"]
        if rid in seen:
            out.append(load.duplicate(origin, number, rid, seen[rid]))
            continue
        seen[rid] = (origin, number)
        target.append(rec)
    out.extend(_renumbered(r, after) for r in rejected[k:])
    last = max(numbers[-1] if numbers else len(valid), rejected[-1].record if rejected else 0)
    return after + last


def _renumbered(r: Rejected, after: int) -> Rejected:
    return r.model_copy(update={"record": r.record + after})
