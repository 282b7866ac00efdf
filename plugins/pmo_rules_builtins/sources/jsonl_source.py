"""JSON Lines source: one record per line, the collection named by the file (`projects.jsonl`).

Streamed: `load` returns an iterator that reads and parses one line at a time while the
core validates each record, so neither the text nor the raw records of a 100k-project
file are ever held whole. A broken line (invalid JSON, not UTF-8, nested too deeply to
read) is reported as that record's problem, and the other lines still load.

Lines end at LF, CRLF or a lone CR, as in text mode, and a UTF-8 byte-order mark at the
start is skipped. The file is read as bytes and each line decoded on its own, so a line
that is not UTF-8 is one bad record (no byte of a multi-byte UTF-8 character is a CR or
LF, so the bytes can be split before decoding).

`load_range` reads a byte range, each bound moved on to just after the next LF, so that
the core can have two processes read one large file. No line end is then cut in two (an
LF ends a line, and a CR before it is part of the same line end), a BOM can only be at
byte 0, and the lines before the range are counted only if one of its lines is not UTF-8
and its message needs the line number.
"""

from __future__ import annotations

import codecs
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import BadRecord, SourceSpec
from pmo_rules_builtins.sources.json_source import decoder, loads, too_deep

_EOL = re.compile(rb"\r\n?|\n")
_BOM = codecs.BOM_UTF8
#: Bytes read at a time (whole lines: `readlines` stops after the line that passes it).
_READ = 1 << 20


def _record(line: str):
    try:
        return loads(line)
    except (json.JSONDecodeError, ValueError) as exc:
        return BadRecord(f"invalid JSON: {exc}")
    except RecursionError:
        return too_deep(line)


def _all_utf8(path: Path) -> bool:
    dec = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as fh:
        try:
            while block := fh.read(_READ):
                dec.decode(block)
            dec.decode(b"", final=True)
        except UnicodeDecodeError:
            return False
    return True


def _boundary(fh, offset: int, size: int) -> int:
    """The first line start at or after `offset` that follows an LF (or 0, or the end)."""
    if offset <= 0:
        return 0
    if offset >= size:
        return size
    fh.seek(offset - 1)
    pos = offset - 1
    while block := fh.read(_READ):
        at = block.find(b"\n")
        if at >= 0:
            return pos + at + 1
        pos += len(block)
    return size


def _lines_before(path: Path, end: int) -> int:
    """How many lines end in the first `end` bytes (which end just after an LF)."""
    count = 0
    with path.open("rb") as fh:
        while end > 0 and (block := fh.read(min(_READ, end))):
            end -= len(block)
            count += block.count(b"\n") + block.count(b"\r") - block.count(b"\r\n")
            if block[-1:] == b"\r" and end > 0 and fh.peek(1)[:1] == b"\n":
                count -= 1  # a CRLF across two blocks is one line end
    return count


def _records(path: Path, start: int = 0, stop: int | None = None) -> Iterator:
    dec = decoder()
    scan, decode = dec.scan_once, dec.decode
    text_mode: bool | None = None  # the whole file is UTF-8 (known once a line is bad)
    lineno = 0  # counted from the range's start: `before` is added when a message says it
    before: int | None = 0
    begin, left = 0, math.inf
    with path.open("rb") as fh:
        if start > 0 or stop is not None:
            size = fh.seek(0, 2)
            begin = _boundary(fh, start, size)
            left = (size if stop is None else _boundary(fh, stop, size)) - begin
            before = 0 if begin == 0 else None
            fh.seek(begin)
        while left > 0 and (chunk := fh.readlines(min(_READ, left))):
            for piece in chunk:
                # Pieces end at LFs, as the range's end does: they add up to it exactly.
                left -= len(piece)
                if left < 0:
                    break
                # (line, whether a line end followed it): most pieces are one line and an LF.
                if b"\r" in piece:
                    *ended, last = _EOL.split(piece)
                    lines = [(raw, True) for raw in ended] + ([(last, False)] if last else [])
                elif piece[-1:] == b"\n":
                    lines = ((piece[:-1], True),)
                else:
                    lines = ((piece, False),)
                for raw, eol in lines:
                    lineno += 1
                    if lineno == 1 and begin == 0 and raw.startswith(_BOM):
                        raw = raw[3:]
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        col = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
                        if before is None:
                            before = _lines_before(path, begin)
                        yield BadRecord(f"line {before + lineno} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                                        f" {col}); save the file as UTF-8")
                        continue
                    if not line or line.isspace():
                        continue
                    try:  # the usual line: one JSON value from its first character to its last
                        record, end = scan(line, 0)
                    except (StopIteration, ValueError, RecursionError):
                        end = -1
                    if end != len(line):
                        try:
                            record = decode(line)
                        except (ValueError, RecursionError):
                            # Said as it always has been: a file that is all UTF-8 is read as
                            # text, so the line still ends in "\n" where JSON's message counts
                            # lines and columns.
                            if text_mode is None:
                                text_mode = _all_utf8(path)
                            record = _record(line + "\n" if eol and text_mode else line)
                    yield record


def load(path: Path) -> dict[str, Iterator]:
    with path.open("rb"):
        pass  # a file that cannot be opened fails here, not halfway through the load
    return {path.stem: _records(path)}


def load_range(path: Path, start: int, stop: int) -> dict[str, Iterator]:
    with path.open("rb"):  # a file that cannot be opened fails here, as `load` fails, not mid-stream
        pass
    return {path.stem: _records(path, start, stop)}


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("jsonl", (".jsonl", ".ndjson"), load, "JSON Lines: one record per line",
                        load_range=load_range))
