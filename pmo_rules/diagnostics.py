"""One diagnostic type for every user-facing policy error, from lexing to evaluation.

Rendered uniformly as ``file:line:col: error[code]: message``, then the source line with a
caret run under the span, detail lines and a ``hint:`` line. Stages collect diagnostics
instead of stopping at the first; `DiagnosticList.render` sorts and caps them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, field

from .source import SourceFile, Span

ERROR_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    message: str
    span: Span | None = None
    details: tuple[str, ...] = ()
    hint: str | None = None
    severity: str = "error"

    def render(self, source: SourceFile | None = None) -> str:
        where = f"{self.span}: " if self.span else ""
        out = [f"{where}{self.severity}[{self.code}]: {self.message}"]
        if source is not None and self.span is not None:
            excerpt = source.excerpt(self.span)
            if excerpt:
                out.append(excerpt)
        out.extend(f"  = {d}" for d in self.details)
        if self.hint:
            out.append(f"  = hint: {self.hint}")
        return "\n".join(out)

    def sort_key(self) -> tuple:
        s = self.span
        return (s.file, s.line, s.column, self.code) if s else ("", 0, 0, self.code)


@dataclass
class DiagnosticList:
    items: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, SourceFile] = field(default_factory=dict)

    def add(self, diag: Diagnostic) -> None:
        self.items.append(diag)

    def extend(self, diags: Iterable[Diagnostic]) -> None:
        self.items.extend(diags)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity == "error"]

    def __bool__(self) -> bool:
        return bool(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def sorted(self) -> list[Diagnostic]:
        seen: set[tuple] = set()
        out = []
        for d in sorted(self.items, key=Diagnostic.sort_key):
            key = (d.sort_key(), d.message)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out

    def render(self, limit: int = ERROR_LIMIT) -> str:
        ds = self.sorted()
        parts = [d.render(self.sources.get(d.span.file) if d.span else None) for d in ds[:limit]]
        if len(ds) > limit:
            parts.append(f"... and {len(ds) - limit} more error(s) not shown")
        n_err = sum(1 for d in ds if d.severity == "error")
        if n_err:
            parts.append(f"{n_err} error(s) found")
        return "\n\n".join(parts[:-1]) + ("\n\n" if len(parts) > 1 else "") + parts[-1] if parts else ""


def did_you_mean(word: str, candidates: Iterable[str]) -> str | None:
    """A `did you mean` hint for a misspelt name, or None when nothing is close."""
    cands = sorted(set(candidates))
    match = difflib.get_close_matches(word, cands, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in cands}
        if word.lower() in lowered:
            match = [lowered[word.lower()]]
    return f"did you mean `{match[0]}`?" if match else None


def one_of(candidates: Iterable[str], limit: int = 40) -> str:
    cands = sorted(set(candidates))
    shown = ", ".join(cands[:limit])
    return shown + (f", ... ({len(cands) - limit} more)" if len(cands) > limit else "")
