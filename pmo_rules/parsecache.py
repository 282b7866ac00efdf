"""Parsed policy files kept on disk, so that a run does not parse the same text again.

Parsing the policy library (five files, two hundred message templates) takes 0.2 s of
every run, as long as loading 3,000 projects. A file that parsed cleanly (no diagnostic
at all) is kept in the cache folder (`cachedir.py`), named by a hash of everything its
parse depends on: its bytes, the name it is shown by (spans hold it), the parse mode,
and the source of the modules that parse (this one's `_PARSING`), the grammar, and the
lark and Python versions. A change to any of them is a new name, so a stale entry is
never read; one that cannot be read is parsed again; one that cannot be written is not
kept. Files with diagnostics are always parsed, so their messages come from the parser.
"""

from __future__ import annotations

import hashlib
import pickle
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any

import lark

from . import ast, diagnostics, grammar, lexing, parse, source, values
from .cachedir import cache_dir, keep
from .resources import bundled

#: Entries kept at most (some 30 KB each) before the older half is removed.
KEEP = 256
#: The modules whose code decides what a text parses to.
_PARSING = (parse, ast, diagnostics, grammar, lexing, source, values)


def load(path: Path | None) -> Any | None:
    """(module, source file) of a clean parse kept at `path` (`entry`), or None."""
    if path is None:
        return None
    try:
        with path.open("rb") as fh:
            kept = pickle.load(fh)
    except Exception:  # noqa: BLE001 - missing, cut short or of another make: parse it
        return None
    if not (isinstance(kept, tuple) and len(kept) == 2 and isinstance(kept[0], ast.Module)
            and isinstance(kept[1], source.SourceFile)):
        return None
    return kept


def store(path: Path | None, parsed: tuple[ast.Module, source.SourceFile]) -> None:
    """Keep a clean parse at `path` (`entry`): written whole, then renamed."""
    if path is None:
        return
    if not keep(path, lambda fh: pickle.dump(parsed, fh, protocol=pickle.HIGHEST_PROTOCOL)):
        return
    _prune(path.parent)


def _prune(folder: Path) -> None:
    """Past `KEEP` entries (a policy author's every edit is one), the older half goes."""
    try:
        entries = list(folder.glob("*.pickle"))
        if len(entries) <= KEEP:
            return
        entries.sort(key=lambda p: p.stat().st_mtime)
        for old in entries[: len(entries) // 2]:
            old.unlink(missing_ok=True)
    except OSError:
        pass  # another run pruning at the same time, or a file gone: nothing lost


def entry(data: bytes, name: str, partial: bool) -> Path | None:
    """Where the parse of `data` shown as `name` is kept (None: nothing is kept)."""
    folder = cache_dir()
    code = _code_key()
    if folder is None or code is None:
        return None
    digest = hashlib.sha256(b"\0".join([code.encode(), name.encode("utf-8", "surrogatepass"),
                                        b"partial" if partial else b"whole", data])).hexdigest()
    return folder / "parsed" / f"{digest[:32]}.pickle"


@lru_cache(maxsize=1)
def _code_key() -> str | None:
    """A hash of the parsing code and grammar (None if a module's source cannot be read:
    then nothing is cached, rather than something a code change might not renew)."""
    h = hashlib.sha256(f"{lark.__version__}\0{sys.version}".encode())
    try:
        for module in _PARSING:
            h.update(Path(module.__file__ or "").read_bytes())
        h.update((bundled("grammar") / "pmo.lark").read_bytes())
    except OSError:
        return None
    return h.hexdigest()
