"""Read data files through source plugins, validate every record, build the `Snapshot`.

A record that fails validation is quarantined: reported with file, record number, id and
field path, and kept out of the run; the rest of the run proceeds (`--strict` turns any
rejection into a failed run, in the CLI). With a schema extension (`schema/extension.py`)
a record must also satisfy the organisation's JSON Schema; its declared fields are first
converted the way pydantic converts built-in ones.

Large files stream: a source may give each collection as an iterator (the JSON Lines
source does), and each record is validated as it is read, by one `runtime.Loader` per
load, which takes the usual record in one fast pass and shares equal values between
records; anything unusual goes the general way (`runtime.validate`, `_out_of_bounds`).
A large file whose source can read byte ranges is read by two processes (`loadsplit`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from .errors import DataError, PluginError
from .findings import Rejected
from .registry import BadRecord, Registry, SourceSpec
from .schema import runtime
from .schema.models import COLLECTION_MODELS
from .snapshot import Snapshot

if TYPE_CHECKING:
    from . import loadsplit
    from .schema.extension import Extension

COLLECTIONS = tuple(COLLECTION_MODELS)
#: A record nesting deeper than this is refused: every later stage (evidence, report
#: formats) walks values recursively, and no real register nests anywhere near this deep.
MAX_DATA_DEPTH = 100
#: Numbers must have a magnitude below 10**28 and be 0 or at least 10**-28: the language
#: computes with 28 significant digits, and printing 1E+400000000 would take 400 MB.
NUMBER_EXPONENTS = (-28, 27)
_SURROGATE = re.compile("[\ud800-\udfff]")
#: A run over at least this many records is large: the CLI ends it without freeing it (`cli.entry`).
LARGE_RUN_RECORDS = 10_000
_COLLECTION_OF = {model: name for name, model in COLLECTION_MODELS.items()}


@dataclass
class LoadResult:
    snapshot: Snapshot
    files: list[str] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    records: dict[str, int] = field(default_factory=dict)


def data_files(path: Path, registry: Registry) -> list[Path]:
    """The files a `--data` path stands for: itself, or a folder's `projects.*` etc."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: no such file or folder")
    out = []
    for child in sorted(path.iterdir()):
        match = registry.match_source(child) if child.is_file() else None
        if match is not None and child.name[: -len(match[1])] in COLLECTIONS:
            out.append(child)
    if not out:
        exts = sorted({e for s in registry.sources.values() for e in s.extensions})
        raise DataError(f"{path}: no projects.*, people.* or programs.* file with a known extension ({', '.join(exts)})")
    return out


def load_paths(paths: list[Path], registry: Registry, *, extension: Extension | None = None) -> LoadResult:
    result = LoadResult(Snapshot(validated=True))
    seen_ids: dict[str, dict[str, tuple[str, int]]] = {c: {} for c in COLLECTIONS}
    loader = new_loader()
    files = [file for path in paths for file in data_files(path, registry)]
    from . import loadsplit

    # Each large file's child starts now, not when its turn comes: the files before it
    # (people.jsonl, programs.jsonl come before projects.jsonl) are read meanwhile.
    helpers: dict[int, loadsplit.Split] = {}
    try:
        specs = [registry.source_for(file) for file in files]
        for k, (file, spec) in enumerate(zip(files, specs)):
            if spec is not None and (helper := loadsplit.start(spec, file, extension, loader)) is not None:
                helpers[k] = helper
        for helper in helpers.values():  # after the last fork: no child inherits the threads
            helper.take()
        for k, (file, spec) in enumerate(zip(files, specs)):
            _load_file(file, spec, result, seen_ids, extension, loader, helpers.pop(k, None))
    finally:
        for helper in helpers.values():  # a file before theirs failed to load
            helper.close()
    for c in COLLECTIONS:
        result.records[c] = len(getattr(result.snapshot, c))
    return result


def _load_file(file: Path, spec: SourceSpec | None, result: LoadResult, seen_ids: dict,
               extension: Extension | None = None, loader: runtime.Loader | None = None,
               helper: loadsplit.Split | None = None) -> None:
    """Load one file through `spec` (the source `Registry.source_for` found, if any);
    `helper`, if given, is the child already reading its last part."""
    if spec is None:
        raise DataError(f"{file}: no data source reads `{file.suffix}` files")
    try:
        collections = read_source(spec, file, None if helper is None else (0, helper.split))
        result.files.append(str(file))
        if helper is None:
            add_collections(result, seen_ids, collections, str(file), extension, loader)
            return
        # Collection by collection, the parent's range and then the child's, as `load`
        # would give them: record numbers, duplicate ids and rejections in file order.
        for coll, records in collections.items():
            read = add_collections(result, seen_ids, {coll: records}, str(file), extension, loader)
            helper.add(coll, read.get(coll), result, seen_ids)
        helper.add_rest(result, seen_ids)
    finally:
        if helper is not None:
            helper.close()


def read_source(spec: SourceSpec, file: Path, byte_range: tuple[int, int] | None = None) -> dict[str, Any]:
    """`spec.load(file)`, or `spec.load_range(file, *byte_range)`, checked; what the
    source raises, at once or later from a stream, is said as the file's problem or the
    plugin's."""
    try:
        collections = spec.load(file) if byte_range is None else spec.load_range(file, *byte_range)
    except Exception as exc:  # noqa: BLE001 - name the plugin
        raise _source_failed(exc, spec, file) from None
    if not isinstance(collections, dict):
        raise PluginError(spec.plugin, f"source `{spec.name}` returned a {type(collections).__name__} for {file},"
                                       " not a dict of collections ({\"projects\": [...]})")
    for coll, records in collections.items():
        if not isinstance(coll, str) or not isinstance(records, (list, tuple, Iterator)):
            what = f"collection `{coll}`" if isinstance(coll, str) else f"a {type(coll).__name__} key ({coll!r:.40})"
            raise PluginError(spec.plugin, f"source `{spec.name}` returned {what} for {file} as a "
                                           f"{type(records).__name__}, not a list of records")
    # A source may stream (an iterator per collection): each record is validated as it
    # is read, so the raw records of a large file are never all held at once.
    return {coll: records if isinstance(records, (list, tuple)) else _guarded(records, spec, file)
            for coll, records in collections.items()}


def _source_failed(exc: BaseException, spec: SourceSpec, file: Path) -> Exception:
    """What a source's exception means: the file cannot be read, or the plugin failed."""
    if isinstance(exc, DataError):
        return exc
    if isinstance(exc, (OSError, UnicodeDecodeError, ValueError)):
        return DataError(f"{file}: cannot be read as {spec.name}: {exc}")
    if isinstance(exc, RecursionError):
        return DataError(f"{file}: cannot be read as {spec.name}: it nests too deeply")
    return PluginError(spec.plugin, f"source `{spec.name}` failed on {file}: {type(exc).__name__}: {exc}")


def _guarded(records: Iterator, spec: SourceSpec, file: Path) -> Iterator:
    """A source's stream of records, its exceptions reported as if `load` had raised them."""
    while True:
        try:
            raw = next(records)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - name the plugin
            raise _source_failed(exc, spec, file) from None
        yield raw


def add_collections(result: LoadResult, seen_ids: dict[str, dict[str, tuple[str, int]]], collections: dict[str, Any],
                    name: str | Callable[[str], str], extension: Extension | None = None,
                    loader: runtime.Loader | None = None, *, after: dict[str, int] | None = None) -> dict[str, int]:
    """Validate raw records per collection into the snapshot: invalid records and repeated
    ids are quarantined in `result.rejected`. `name` labels the origin (a file name, or a
    function of the collection for inline data). Records may be a list or an iterator.

    Records are numbered on from `after[coll]` (0); the last number given per collection
    read is returned, so that a file read in ranges is numbered as a whole."""
    if loader is None:
        loader = new_loader()
    read = {}
    for coll, records in collections.items():
        origin = name(coll) if callable(name) else name
        if coll not in COLLECTION_MODELS:
            result.rejected.append(Rejected(file=origin, record=0, field=coll,
                                            message=f"unknown collection `{coll}` (expected {', '.join(COLLECTIONS)})"))
            continue
        target = getattr(result.snapshot, coll)
        seen = seen_ids[coll]
        rejected = result.rejected
        i = 0
        for i, rec in validated(coll, records, origin, rejected, extension, loader, (after or {}).get(coll, 0)):
            if rec is None:
                break
            rid = rec["id"]
            if rid in seen:
                rejected.append(duplicate(origin, i, rid, seen[rid]))
                continue
            seen[rid] = (origin, i)
            target.append(rec)
        read[coll] = i
    return read


def validated(coll: str, records: Any, origin: str, rejected: list[Rejected], extension: Extension | None,
              loader: runtime.Loader, start: int = 0) -> Iterator[tuple[int, dict | None]]:
    """(number, record) of each valid record, the others quarantined in `rejected` (before
    the next valid one is given). The last number is given at the end, with None."""
    model = COLLECTION_MODELS[coll]
    # The usual record in one call; anything else (a record the fast path leaves to
    # the general way, a broken one, an extended collection) the full way.
    fast = None if extension is not None and extension.extends(coll) else loader.fast_path(model)
    i = start
    for i, raw in enumerate(records, start=start + 1):
        rec = None
        if fast is not None:
            try:
                rec = fast(raw)
            except Exception:  # noqa: BLE001, S110 - validate_record says what is wrong
                pass
        if rec is None:
            rec = validate_record(model, raw, origin, i, rejected, extension=extension, loader=loader)
            if rec is None:
                continue
        yield i, rec
    yield i, None


def duplicate(origin: str, number: int, rid: str, first: tuple[str, int]) -> Rejected:
    return Rejected(file=origin, record=number, id=rid, field="id",
                    message=f"duplicate id `{rid}` (first seen in {first[0]} record {first[1]})")


def new_loader() -> runtime.Loader:
    """Validation for one load: the limits above, and the values records share."""
    return runtime.Loader(NUMBER_EXPONENTS, MAX_DATA_DEPTH)


def load_collections(data: dict[str, list], *, extension: Extension | None = None) -> LoadResult:
    """A LoadResult from inline raw records (`{"projects": [...], ...}`), validated like files."""
    result = LoadResult(Snapshot(validated=True))
    add_collections(result, {c: {} for c in COLLECTIONS}, data, lambda coll: f"<{coll}>", extension)
    result.records = {c: len(getattr(result.snapshot, c)) for c in COLLECTIONS}
    return result


def validate_record(model: Any, raw: Any, file: str, index: int, rejected: list[Rejected], *,
                    extension: Extension | None = None, loader: runtime.Loader | None = None) -> dict | None:
    if isinstance(raw, BadRecord):
        # A source may say where in the record the problem is (`field`, `id` attributes).
        rejected.append(Rejected(file=file, record=index, id=_safe(getattr(raw, "id", None)),
                                 field=getattr(raw, "field", "") or "(record)", message=raw.message))
        return None
    if not isinstance(raw, dict):
        rejected.append(Rejected(file=file, record=index, field="(record)",
                                 message=f"a record must be an object, not {type(raw).__name__}"))
        return None
    given = raw
    collection = _COLLECTION_OF.get(model)
    if extension is not None and collection is not None and extension.extends(collection):
        raw = extension.coerce(collection, raw)
    else:
        extension = None
    try:
        record, checked = (loader or new_loader()).validate(model, raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            loc = ".".join(str(p) for p in err["loc"]) or "(record)"
            rejected.append(Rejected(file=file, record=index, id=_rid(given), field=loc, message=_message(err)))
        return None
    except RecursionError:
        where, problem = _out_of_bounds(raw) or ("(record)", f"nests more than {MAX_DATA_DEPTH} levels deep")
        rejected.append(Rejected(file=file, record=index, id=_rid(given), field=where, message=problem))
        return None
    except (ValueError, TypeError) as exc:
        rejected.append(Rejected(file=file, record=index, id=_rid(given), field="(record)", message=str(exc)[:200]))
        return None
    bad = None if checked else _out_of_bounds(record)
    if bad is not None:
        rejected.append(Rejected(file=file, record=index, id=_rid(given), field=bad[0], message=bad[1]))
        return None
    if extension is not None:
        # The validated record (built-in fields as the models read them: a CSV "12" is the
        # number 12), restricted to the keys `raw` gave: a field left out is not a null one.
        violations = extension.validate(collection, record, given=raw)
        for v in violations:
            rejected.append(Rejected(file=file, record=index, id=_rid(given), field=v.field, message=v.message))
        if violations:
            return None
    return record


def _rid(raw: dict) -> str | None:
    """The id a rejected record is reported with."""
    rid = raw.get("id")
    return _safe(rid) if isinstance(rid, str) else None


def _out_of_bounds(record: dict) -> tuple[str, str] | None:
    """(field path, problem) of a value nested too deeply, a number out of range or text
    that is not Unicode (a lone surrogate cannot even be written to a UTF-8 report), if any.

    Iterative, so that it can also describe a raw record too deep for recursion."""
    lo, hi = NUMBER_EXPONENTS
    stack: list[tuple[Any, tuple]] = [(record, ())]
    while stack:
        node, path = stack.pop()
        is_dict = node.__class__ is dict
        for k, v in (node.items() if is_dict else enumerate(node)):
            if is_dict and k.__class__ is str and not k.isascii() and _SURROGATE.search(k):
                return _path(path + (_safe(k),)), "a field name holds a lone UTF-16 surrogate, which is not Unicode text"
            c = v.__class__
            if c is Decimal:
                a = v.adjusted()
                if a > hi or a < lo or (a == 0 and not v.is_finite()):
                    if not v.is_finite():
                        return _path(path + (k,)), f"{v} is not a finite number"
                    if v or a < -1000:  # a zero is fine at any size, but 0E-400000000 prints 400 MB
                        return _path(path + (k,)), (f"number {v} is out of range: a number must be less than"
                                                    f" 1E+{hi + 1} in size and be 0 or at least 1E{lo}")
            elif c is str:
                if not v.isascii() and _SURROGATE.search(v):
                    return _path(path + (k,)), ("text holds a lone UTF-16 surrogate (such as a JSON \\ud800"
                                                " escape), which is not Unicode text")
            elif c is dict or c is list:
                if len(path) + 1 >= MAX_DATA_DEPTH:
                    return _path(path[:4]) + ".…", f"nests more than {MAX_DATA_DEPTH} levels deep"
                stack.append((v, path + (k,)))
    return None


def _safe(text: str | None) -> str | None:
    """Text as reports can print it: lone surrogates become U+FFFD."""
    if text is None or text.isascii():
        return text
    return _SURROGATE.sub("\ufffd", text)


def _path(parts: tuple) -> str:
    return ".".join(str(p) for p in parts) or "(record)"


def _message(err: dict) -> str:
    msg = err.get("msg", "invalid")
    inp = err.get("input")
    if isinstance(inp, (str, int, float)) and not isinstance(inp, bool):
        text = repr(inp)
        if len(text) > 60:
            text = text[:57] + "..."
        return f"{msg} (got {text})"
    return msg
