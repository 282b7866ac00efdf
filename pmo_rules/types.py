"""The language's static types, inferred by the checker from the data schema.

`ANY` is the type of values the schema cannot tell (custom fields, untyped extension
keys); it is compatible with everything, and runtime checks catch what it hides.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Type:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class ListType(Type):
    elem: Type = field(default=None)  # type: ignore[assignment]

    def __str__(self) -> str:
        return f"list of {self.elem}"


@dataclass(frozen=True, eq=False)
class RecordType(Type):
    """A record: known fields and their types; `open` records accept any key as ANY."""

    fields: dict[str, Type] = field(default_factory=dict)
    open: bool = False

    def __str__(self) -> str:
        return f"{self.name} record" if self.name != "record" else "record"

    def __hash__(self) -> int:
        return id(self)


NUMBER = Type("number")
TEXT = Type("text")
BOOL = Type("bool")
DATE = Type("date")
DURATION = Type("duration")
NULL = Type("null")
ANY = Type("any")
ANY_LIST = ListType("list", ANY)
ANY_RECORD = RecordType("record", {}, True)


def is_any(t: Type) -> bool:
    return t is ANY or t == ANY


def compatible(a: Type, b: Type) -> bool:
    """Could values of these types be compared with `==`?"""
    if is_any(a) or is_any(b) or a == NULL or b == NULL:
        return True
    if isinstance(a, ListType) and isinstance(b, ListType):
        return compatible(a.elem, b.elem)
    if isinstance(a, RecordType) and isinstance(b, RecordType):
        return True
    return a == b


def unify(a: Type, b: Type) -> Type:
    """The type of a value that is either an `a` or a `b` (for `??` and list literals)."""
    if a == NULL:
        return b
    if b == NULL:
        return a
    if is_any(a) or is_any(b):
        return ANY
    if a == b:
        return a
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType("list", unify(a.elem, b.elem))
    return ANY
