"""JSON Lines source: one record per line, the collection named by the file (`projects.jsonl`).

Streamed: `load` returns an iterator that reads and parses one line at a time while the
core validates each record, so neither the text nor the raw records of a 100k-project
file are ever held whole. A broken line (invalid JSON, not UTF-8, nested too deeply to
read) is reported as that record's problem, and the other lines still load.

Lines end at LF, CRLF or a lone CR, as in text mode, and a UTF-8 byte-order mark at the
start is skipped. The file is read as bytes and each line decoded on its own, so a line
that is not UTF-8 is one bad record (no byte of a multi-byte UTF-8 character is a CR or
LF, so the bytes can be split before decoding).
"""

from __future__ import annotations

import codecs
import json
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


def _records(path: Path) -> Iterator:
    dec = decoder()
    scan, decode = dec.scan_once, dec.decode
    text_mode: bool | None = None  # the whole file is UTF-8 (known once a line is bad)
    lineno = 0
    with path.open("rb") as fh:
        while chunk := fh.readlines(_READ):
            for piece in chunk:
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
                    if lineno == 1 and raw.startswith(_BOM):
                        raw = raw[3:]
                    try:
                        line = raw.decode("utf-8")
                    except UnicodeDecodeError as exc:
                        col = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
                        yield BadRecord(f"line {lineno} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
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


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("jsonl", (".jsonl", ".ndjson"), load, "JSON Lines: one record per line"))
