"""Read one large file with two processes: a forked child reads the second part.

Loading 100,000 projects (260 MB of JSON Lines) is parsing and validating one record at
a time, several seconds of one core while the other waits. For a file of at least
`PARALLEL_BYTES` whose source can read a byte range (`SourceSpec.load_range`), a child
forked when the load begins (before the files ahead of this one are read) reads and
validates the records of its last part while the parent reads the first. The child has no say in what is kept: it sends its valid
records and its rejections, numbered within its range, and the parent numbers them on
from its own part's and runs the duplicate-id check over all of them in file order, so
the result is the serial one.

The records come back pickled (plain pickle: a cheaper format such as marshal would need
a walk over every record to turn Decimals and dates into something it can carry and
back, which costs more than pickle does). Pickling costs the child about half as long as
reading did, unpickling the parent about a quarter, and the parent can only start when
the child has pickled everything: `CHILD_SHARE` is chosen so that the parent finishes
its part as the child finishes pickling. On the 100,000-project benchmark the load takes
about 70% of the serial time. A child that fails in any way (dies, raises, sends
something unreadable) costs nothing but time: the parent reads that range itself.
`PMO_RULES_LOAD_WORKERS=1` reads every file in one process.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import load
from .findings import Rejected
from .registry import SourceSpec
from .schema.models import COLLECTION_MODELS

if TYPE_CHECKING:
    from .schema.extension import Extension
    from .schema.runtime import Loader

#: Smaller files are read in one process: forking and pickling would cost more than they save.
PARALLEL_BYTES = 8 << 20
#: The part of a file's bytes the child reads: reading takes r per byte, pickling r/2, so
#: the parent's (1 - x) r equals the child's 1.5 x r at x = 0.4.
CHILD_SHARE = 0.40
WORKERS_ENV = "PMO_RULES_LOAD_WORKERS"

#: What a child sends per collection: (valid records, their numbers if not 1, 2, 3...,
#: rejections), numbered from the start of its range; None for an unknown collection.
Part = tuple[list[dict], list[int] | None, list[Rejected]] | None


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
        self.parts: dict[str, Part] | None = None
        self.received = False
        self.own: dict[str, Any] | None = None  # the child's range, read here after all
        self.added: set[str] = set()
        ctx = multiprocessing.get_context("fork")
        readable, writable = os.pipe()
        self.receiver = open(readable, "rb")  # noqa: SIM115 - closed by `close`
        try:
            self.proc = ctx.Process(target=_child, args=(self, writable), daemon=True)
            self.proc.start()
        except BaseException:
            self.receiver.close()
            raise
        finally:
            os.close(writable)  # else a child that dies without sending would leave the read waiting

    def add(self, coll: str, after: int | None, result: load.LoadResult, seen_ids: dict) -> None:
        """Add the child's records of `coll` after the parent's `after` first ones (None:
        the collection is unknown, and that has been said)."""
        self.added.add(coll)
        if after is None:
            return
        parts = self._receive()
        if parts is None:
            if self.own is None:
                self.own = load.read_source(self.spec, self.file, (self.split, self.size))
            if coll in self.own:
                load.add_collections(result, seen_ids, {coll: self.own[coll]}, str(self.file), self.extension,
                                     self.loader, after={coll: after})
        elif coll in parts:
            part = parts[coll]
            if part is None:
                load.add_collections(result, seen_ids, {coll: ()}, str(self.file))  # says it is unknown
            else:
                _merge(result, seen_ids, coll, str(self.file), after, part)

    def add_rest(self, result: load.LoadResult, seen_ids: dict) -> None:
        """The collections only the child's range gave (a source should not do that)."""
        parts = self._receive()
        if parts is None and self.own is None:
            self.own = load.read_source(self.spec, self.file, (self.split, self.size))
        for coll in list(self.own if parts is None else parts):
            if coll not in self.added:
                self.add(coll, 0, result, seen_ids)

    def close(self) -> None:
        self.receiver.close()
        if self.parts is None and self.proc.is_alive():
            self.proc.kill()  # not needed any more (the load failed), or not sending
        self.proc.join()

    def _receive(self) -> dict[str, Part] | None:
        if not self.received:
            self.received = True
            try:
                # Unpickled as it comes, never held whole: 35 MB for 45,000 projects.
                self.parts = pickle.load(self.receiver)
            except Exception:  # noqa: BLE001 - the child died (the pickle ends early), or anything: read the range here
                self.parts = None
        return self.parts


def _child(split: Split, writable: int) -> None:
    try:
        split.receiver.close()
        # Pickled whole before it is sent: the parent may still be busy with its own part.
        data = pickle.dumps(_read_range(split), protocol=5)
        with open(writable, "wb") as out:
            out.write(data)
    except BaseException:  # noqa: BLE001, S110 - quietly: the parent reads the range itself
        pass


def _read_range(split: Split) -> dict[str, Part]:
    origin = str(split.file)
    parts: dict[str, Part] = {}
    for coll, records in load.read_source(split.spec, split.file, (split.split, split.size)).items():
        if coll not in COLLECTION_MODELS:
            parts[coll] = None
            continue
        valid: list[dict] = []
        numbers: list[int] = []
        rejected: list[Rejected] = []
        for i, rec in load.validated(coll, records, origin, rejected, split.extension, split.loader):
            if rec is None:
                break
            valid.append(rec)
            numbers.append(i)
        parts[coll] = (valid, numbers if rejected else None, rejected)
    return parts


def _merge(result: load.LoadResult, seen_ids: dict, coll: str, origin: str, after: int, part: Part) -> None:
    """What `add_collections` does with valid records: the duplicate check, in file order."""
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


def _renumbered(r: Rejected, after: int) -> Rejected:
    return r.model_copy(update={"record": r.record + after})
