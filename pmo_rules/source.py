"""Source text and spans: the one place that knows how offsets map to lines and columns.

Every diagnostic, finding and evidence location points at a `Span`; rendering the caret
excerpt lives here so that parse, check and evaluate errors look identical.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def shifted(self, line: int, column: int) -> Span:
        """Place a span parsed from a sub-string (a template field) into its file."""
        if self.line == 1:
            col, end_col = self.column + column - 1, self.end_column + column - 1
        else:
            col, end_col = self.column, self.end_column
        if self.end_line != 1:
            end_col = self.end_column
        return Span(self.file, self.line + line - 1, col, self.end_line + line - 1, end_col)


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A policy file's decoded text (BOM dropped, CRLF normalised) and its display name."""

    name: str
    text: str

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n")
        if 1 <= line <= len(lines):
            return lines[line - 1]
        return ""

    def excerpt(self, span: Span) -> str:
        """The source line and a caret run under the span (one column per character)."""
        text = visible(self.line_text(span.line).expandtabs(1))
        if not text.strip() and span.line > 1 and span.column == 1:
            return ""
        start = max(span.column, 1)
        if span.end_line == span.line and span.end_column > start:
            width = span.end_column - start
        else:
            width = max(len(text) - start + 1, 1)
        width = max(1, min(width, max(len(text) - start + 1, 1)))
        gutter = f"{span.line:>4} | "
        return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {' ' * (start - 1)}{'^' * width}"


def visible(text: str) -> str:
    """A source line safe to print on a terminal, one character per column: control and
    format characters (ESC of ANSI sequences, bidirectional overrides, line separators)
    become U+FFFD, so a policy file can neither restyle nor visually reorder the excerpt."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or unicodedata.category(c) == "Zs" else "\ufffd" for c in text)


def escaped(text: str) -> str:
    """Text for a message: control and format characters written as `\x1b` / `\u202e`."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or unicodedata.category(c) == "Zs"
                   else (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") for c in text)


def decode_policy_bytes(data: bytes) -> tuple[str, tuple[int, int, str] | None]:
    """Decode UTF-8 policy bytes; return (text, (line, col, problem) of the first bad byte)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8", errors="replace")
        line = good.count("\n") + 1
        col = len(good) - (good.rfind("\n") + 1) + 1
        text = data.decode("utf-8", errors="replace")
        return normalise_newlines(text), (line, col, f"invalid UTF-8 byte 0x{data[exc.start]:02x}")
    text = normalise_newlines(text)
    nul = text.find("\0")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        col = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return text, (line, col, "NUL character")
    return text, None


def normalise_newlines(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    return text.replace("\r\n", "\n").replace("\r", "\n")
