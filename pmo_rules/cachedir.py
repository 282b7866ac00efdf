"""The folder where runs keep what is costly to make and the same every time.

The built parser (`grammar.py`) and clean parses of policy files (`parsecache.py`) are kept
in `~/.cache/pmo-rules/` (or `$XDG_CACHE_HOME/pmo-rules/`). `PMO_RULES_CACHE_DIR` names
another folder; set to the empty string, it turns keeping off. Nothing kept is ever
needed: what cannot be read is made again, and what cannot be written is not kept.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

CACHE_ENV = "PMO_RULES_CACHE_DIR"


def cache_dir() -> Path | None:
    """The folder, or None: keeping is off, or there is no home folder to find."""
    env = os.environ.get(CACHE_ENV)
    if env is not None:
        return Path(env) if env.strip() else None
    base = os.environ.get("XDG_CACHE_HOME", "").strip()
    if base:
        return Path(base) / "pmo-rules"
    try:
        return Path.home() / ".cache" / "pmo-rules"
    except RuntimeError:  # no HOME and no user entry
        return None


def keep(path: Path, write: Callable[[BinaryIO], object]) -> bool:
    """Write a file whole (`write(file)`), then rename it into place: a run reading it at the
    same time finds the old file, no file or the new one, never half of one. False if it
    could not be kept (and then nothing is left behind)."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}-", suffix=".tmp")
    except OSError:
        return False
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
        return True
    except Exception:  # noqa: BLE001 - not kept, and nothing else lost
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False
