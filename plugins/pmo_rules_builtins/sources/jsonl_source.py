"""JSON Lines source: one record per line, the collection named by the file (`projects.jsonl`).

Read line by line, so a 100k-project file is never held twice; a broken line is reported
as that record's problem, and the other lines still load.
"""

from __future__ import annotations

import json
from pathlib import Path

from pmo_rules import hookimpl
from pmo_rules.registry import BadRecord, SourceSpec
from pmo_rules_builtins.sources.json_source import loads


def _records(path: Path):
    with path.open(encoding="utf-8-sig") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                yield loads(line)
            except (json.JSONDecodeError, ValueError) as exc:
                yield BadRecord(f"invalid JSON: {exc}")


def load(path: Path) -> dict[str, list]:
    return {path.stem: list(_records(path))}


@hookimpl
def pmo_rules_sources(register):
    register(SourceSpec("jsonl", (".jsonl", ".ndjson"), load, "JSON Lines: one record per line"))
