"""Build the lark parser for `grammar/pmo.lark` once per process.

The grammar ships inside the wheel (`pmo_rules/_bundled/grammar`); in a source checkout or
editable install it is read from the top-level `grammar/` folder (see `resources.py`).
"""

from __future__ import annotations

from functools import lru_cache

from lark import Lark

from .resources import bundled


@lru_cache(maxsize=1)
def parser() -> Lark:
    text = (bundled("grammar") / "pmo.lark").read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        strict=True,
        propagate_positions=True,
        maybe_placeholders=True,
        start=["start", "chunk", "expr"],
    )


@lru_cache(maxsize=1)
def keywords() -> dict[str, str]:
    """Terminal name -> keyword text, for messages (`REQUIRE` -> `require`)."""
    out = {}
    for term in parser().terminals:
        pat = term.pattern
        if pat.type == "str" and pat.value.isidentifier():
            out[term.name] = pat.value
    return out
