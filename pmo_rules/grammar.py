"""Build the lark parser for `grammar/pmo.lark` once per process, and once per grammar on disk.

The grammar ships inside the wheel (`pmo_rules/_bundled/grammar`); in a source checkout or
editable install it is read from the top-level `grammar/` folder (see `resources.py`).

Building the LALR tables, and checking in strict mode that no two terminals collide, takes
0.4 s: a third of the time a small `pmo-rules check` needs. So the built parser is kept in
the cache folder (`cachedir.py`), in a file named by the hash of the grammar and of the
lark and Python versions, and loaded from there (10 ms) by later runs. A cache file that
cannot be read is built again; one that cannot be written is not kept.
"""

from __future__ import annotations

import hashlib
import sys
from functools import lru_cache
from pathlib import Path

import lark
from lark import Lark

from .cachedir import cache_dir, keep
from .resources import bundled

OPTIONS = {"parser": "lalr", "strict": True, "propagate_positions": True, "maybe_placeholders": True,
           "start": ["start", "chunk", "expr"]}


@lru_cache(maxsize=1)
def parser() -> Lark:
    return build_parser((bundled("grammar") / "pmo.lark").read_text(encoding="utf-8"), cache_dir())


def build_parser(text: str, folder: Path | None) -> Lark:
    """The parser for grammar `text`, from the cache in `folder` if it holds it (None: no cache)."""
    path = None if folder is None else folder / f"grammar-{_key(text)}.lark"
    if path is not None:
        try:
            with path.open("rb") as fh:
                return Lark.load(fh)
        except Exception:  # noqa: BLE001, S110 - missing, or unreadable (cut short, another format): build it
            pass
    built = Lark(text, **OPTIONS)  # type: ignore[arg-type]
    if path is not None:
        keep(path, built.save)
    return built


def _key(text: str) -> str:
    what = "\0".join([text, repr(sorted(OPTIONS.items())), lark.__version__, sys.version])
    return hashlib.sha256(what.encode("utf-8")).hexdigest()[:24]


@lru_cache(maxsize=1)
def keywords() -> dict[str, str]:
    """Terminal name -> keyword text, for messages (`REQUIRE` -> `require`)."""
    out = {}
    for term in parser().terminals:
        pat = term.pattern
        if pat.type == "str" and pat.value.isidentifier():
            out[term.name] = pat.value
    return out
