"""JSON Lines source: one record per line, the collection named by the file (`projects.jsonl`).

Read line by line, so a 100k-project file is never held twice; a broken line (invalid
JSON, not UTF-8, nested too deeply to read) is reported as that record's problem, and the
other lines still load.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import BadRecord, SourceSpec
from pmo_rules_builtins.sources.json_source import loads, too_deep


def _record(line: str):
    try:
        return loads(line)
    except (json.JSONDecodeError, ValueError) as exc:
        return BadRecord(f"invalid JSON: {exc}")
    except RecursionError:
        return too_deep(line)


def _records(path: Path):
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            if line.strip():
                yield _record(line)


_EOL = re.compile(rb"\r\n?|\n")


def _records_checked(path: Path):
    """The slow path, for a file that is not all UTF-8: each bad line is its own problem.

    Lines end at LF, CRLF or a lone CR, as in text mode (no byte of a multi-byte UTF-8
    character is a CR or LF, so the bytes can be split before decoding)."""
    lineno = 0
    with path.open("rb") as fh:
        for chunk in fh:
            pieces = _EOL.split(chunk)
            if pieces and pieces[-1] == b"":
                pieces.pop()
            for raw in pieces:
                lineno += 1
                if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                try:
                    line = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    col = len(raw[: exc.start].decode("utf-8", errors="replace")) + 1
                    yield BadRecord(f"line {lineno} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                                    f" {col}); save the file as UTF-8")
                    continue
                if line.strip():
                    yield _record(line)


def load(path: Path) -> dict[str, list]:
    try:
        return {path.stem: list(_records(path))}
    except UnicodeDecodeError:
        return {path.stem: list(_records_checked(path))}


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("jsonl", (".jsonl", ".ndjson"), load, "JSON Lines: one record per line"))
