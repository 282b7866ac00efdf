"""The exception that turns one (rule, subject) evaluation into an `error` outcome."""

from __future__ import annotations

from ..source import Span

UNKNOWN = object()


class EvalError(Exception):
    """Evaluation could not decide: null operand, division by zero, bad data type, plugin failure."""

    def __init__(self, message: str, span: Span | None = None, path: str | None = None,
                 value: object = UNKNOWN):
        super().__init__(message)
        self.message = message
        self.span = span
        self.path = path
        self.value = value  # the offending operand's value, when known, for the evidence
