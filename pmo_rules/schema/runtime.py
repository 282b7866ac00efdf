"""Validate raw records straight into the evaluators' plain dicts, fast.

The pydantic models in `models.py` are the single source of truth for the data schema,
but building model instances and dumping them again costs more than the whole
evaluation of a 100,000-project audit. So each model is mirrored, automatically, by a
`TypedDict` with the very same annotations (types, enums, bounds, `allow_inf_nan`), and
a pydantic `TypeAdapter` validates records into dicts in one pass: same coercions, same
error locations and messages, no instances. What the TypedDicts cannot express is done
here afterwards: defaults (`[]` for child lists, capacity 1.0) and turning the numbers
pydantic leaves alone (integers in `int` fields, in `custom` and in unknown keys) into
`Decimal`, since every number in the language is a Decimal.

Loading a large portfolio goes through a `Loader`, which takes the usual record (text
where the model says text, `YYYY-MM-DD` dates, numbers already Decimal or int, no
unknown types) in one pass of Python generated from the same annotations: it validates,
finishes, makes the checks `load._out_of_bounds` makes (numbers in range, no lone
surrogates, nesting), and shares equal values (a status, a person id, a risk title, a
date) between records, so 100,000 projects do not hold a million copies of the same few
strings. It only ever accepts what pydantic accepts, giving the same result; anything
else, from a wrong type to a `"2026-1-5"` date, it gives up on, and the record goes
the general way (`validate`, then `_out_of_bounds`), which says exactly what is wrong.
"""

from __future__ import annotations

import datetime as dt
import re
import types as pytypes
import typing
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from operator import itemgetter
from typing import Any, NotRequired, Required

import annotated_types
from pydantic import BaseModel, ConfigDict, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from typing_extensions import TypedDict

from ..snapshot import normalise


class _Shape:
    """What post-processing one record type needs."""

    def __init__(self) -> None:
        self.known: frozenset[str] = frozenset()
        self.defaults: dict[str, Any] = {}  # field -> default (factory called per record)
        self.children: dict[str, tuple[_Shape, bool]] = {}  # field -> (shape, is_list)
        self.to_decimal: tuple[str, ...] = ()  # int fields
        self.any_fields: tuple[str, ...] = ()  # dict/Any fields: normalise recursively


_SHAPES: dict[type, _Shape] = {}
_TYPED: dict[type, type] = {}


def _convert(ann: Any, shape_children: dict, name: str) -> Any:
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        inner, *meta = typing.get_args(ann)
        return typing.Annotated[(_convert(inner, shape_children, name), *meta)]  # type: ignore[misc]
    if origin in (typing.Union, pytypes.UnionType):
        args = tuple(_convert(a, shape_children, name) for a in typing.get_args(ann))
        return typing.Union[args]  # type: ignore[return-value]  # noqa: UP007
    if origin is list:
        (elem,) = typing.get_args(ann)
        converted = _convert(elem, {}, name)
        if isinstance(elem, type) and issubclass(elem, BaseModel):
            shape_children[name] = (_shape(elem), True)
        return list[converted]  # type: ignore[valid-type]
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        shape_children[name] = (_shape(ann), False)
        return _typed(ann)
    return ann


def _typed(model: type[BaseModel]) -> type:
    if model in _TYPED:
        return _TYPED[model]
    hints = typing.get_type_hints(model, include_extras=True)
    fields: dict[str, Any] = {}
    shape = _shape(model)
    children: dict[str, tuple[_Shape, bool]] = {}
    for name, info in model.model_fields.items():
        ann = _convert(hints[name], children, name)
        fields[name] = Required[ann] if info.is_required() else NotRequired[ann]
    shape.children = children
    td = TypedDict(f"{model.__name__}Record", fields, total=False)  # type: ignore[operator]
    td.__pydantic_config__ = ConfigDict(extra="allow")  # type: ignore[attr-defined]
    _TYPED[model] = td
    return td


def _shape(model: type[BaseModel]) -> _Shape:
    if model in _SHAPES:
        return _SHAPES[model]
    shape = _Shape()
    _SHAPES[model] = shape
    hints = typing.get_type_hints(model, include_extras=True)
    shape.known = frozenset(model.model_fields)
    to_decimal, any_fields = [], []
    for name, info in model.model_fields.items():
        if info.default_factory is not None:
            shape.defaults[name] = info.default_factory
        elif info.default is not PydanticUndefined and info.default is not None:
            shape.defaults[name] = info.default
        base = _base(hints[name])
        if base is int:
            to_decimal.append(name)
        elif base is dict or base is Any:
            any_fields.append(name)
    shape.to_decimal = tuple(to_decimal)
    shape.any_fields = tuple(any_fields)
    return shape


def _base(ann: Any) -> Any:
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _base(typing.get_args(ann)[0])
    if origin in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return _base(args[0]) if len(args) == 1 else Any
    if origin is dict:
        return dict
    return ann


@cache
def adapter(model: type[BaseModel]) -> TypeAdapter:
    return TypeAdapter(_typed(model))


def _finish(rec: dict, shape: _Shape) -> None:
    if len(rec) < len(shape.known) or not shape.known.issubset(rec):
        # Absent fields read as null (or their default), exactly as a model dump had them.
        for name in shape.known:
            if name not in rec:
                default = shape.defaults.get(name)
                rec[name] = default() if callable(default) else default
    for name in shape.to_decimal:
        v = rec.get(name)
        if v.__class__ is int:
            rec[name] = Decimal(v)
    for name in shape.any_fields:
        v = rec.get(name)
        if v is not None:
            rec[name] = normalise(v)
    for name, (child, is_list) in shape.children.items():
        v = rec.get(name)
        if v is None:
            continue
        if is_list:
            for item in v:
                _finish(item, child)
        else:
            _finish(v, child)
    if len(rec) > len(shape.known) or not shape.known.issuperset(rec):
        for key in rec.keys() - shape.known:
            v = rec[key]
            if not (v is None or v.__class__ in (str, Decimal, bool, dt.date)):
                rec[key] = normalise(v)


def validate(model: type[BaseModel], raw: dict) -> dict:
    """Validate one raw record into a runtime dict; raises pydantic's ValidationError."""
    rec = adapter(model).validate_python(raw)
    _finish(rec, _shape(model))
    return rec


# ------------------------------------------------------------ the fast path of loads --

_SURROGATE = re.compile("[\ud800-\udfff]")
#: Text up to this long is shared between records (ids, statuses, names, titles); longer
#: text is rarely repeated and would only grow the table.
_SHARE_TEXT = 100
#: At most this many integers are remembered (see `_Integers`).
_SHARE_NUMBERS = 50_000
_MISSING = object()
#: Text fields of a collection's records that are not shared: an id is one record's
#: own, and so, mostly, is a name (sharing them would only grow the table of shared text).
_OWN = ("id", "name")
_BOUNDS = {annotated_types.Ge: ("ge", ">="), annotated_types.Gt: ("gt", ">"),
           annotated_types.Le: ("le", "<="), annotated_types.Lt: ("lt", "<")}


class _GiveUp(Exception):
    """The fast path met something it does not take: the record goes the general way."""


class _Unsupported(Exception):
    """A field type the fast path has no code for: its record type always goes the general way."""


def _field_type(ann: Any) -> tuple[Any, bool, list]:
    """(type, whether null is allowed, constraints) of a field annotation."""
    nullable = False
    meta: list = []
    while True:
        origin = typing.get_origin(ann)
        if origin is typing.Annotated:
            ann, *extra = typing.get_args(ann)
            for m in extra:
                if isinstance(m, FieldInfo) and (m.alias or m.validation_alias):
                    raise _Unsupported(ann)
                meta.extend(m.metadata if isinstance(m, FieldInfo) else [m])
        elif origin in (typing.Union, pytypes.UnionType):
            args = [a for a in typing.get_args(ann) if a is not type(None)]
            if len(args) != 1:
                raise _Unsupported(ann)
            nullable, ann = True, args[0]
        else:
            return ann, nullable, meta


def _finite_only(m: Any) -> bool:
    """Is this constraint `allow_inf_nan=False` alone? Pydantic spells it `AllowInfNan`
    (2.14) or a general metadata object holding just that (2.13)."""
    if getattr(m, "allow_inf_nan", None) is not False:
        return False
    name = type(m).__name__
    if name == "AllowInfNan":
        return True
    return name == "_PydanticGeneralMetadata" and set(vars(m)) == {"allow_inf_nan"}


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


class _Code:
    """Python source of one record type's fast path: nested record types are inlined."""

    def __init__(self, max_depth: int) -> None:
        self.lines: list[str] = []
        self.consts: dict[str, Any] = {}
        self.max_depth = max_depth
        self.n = 0

    def const(self, value: Any) -> str:
        name = f"K{len(self.consts)}"
        self.consts[name] = value
        return name

    def var(self, stem: str) -> str:
        self.n += 1
        return f"{stem}{self.n}"

    def emit(self, ind: int, line: str) -> None:
        self.lines.append("    " * ind + line)

    def record(self, model: type[BaseModel], r: str, depth: int, ind: int) -> str:
        """Code turning the raw dict in `r` (at path length `depth`) into a new record;
        returns the variable that holds it."""
        if depth >= self.max_depth:
            raise _Unsupported(model)
        self.emit(ind, f"if {r}.__class__ is not dict:")
        self.emit(ind + 1, "raise GiveUp")
        hints = typing.get_type_hints(model, include_extras=True)
        names = tuple(model.model_fields)
        n = len(names)
        known = self.const(frozenset(names))
        xs = [self.var("x") for _ in names]
        extra = self.var("e")
        if depth == 0 or n < 2:
            # A collection's records often leave fields out: fetch one by one.
            get = self.var("g")
            self.emit(ind, f"{get} = {r}.get")
            raws = [f"{get}({name!r}, MISSING)" for name in names]
            self.emit(ind, f"{extra} = len({r}) > {n} or not {known}.issuperset({r})")
        else:
            # Nested records usually have every field: fetch all at once, and then the
            # record has unknown fields if it has more than that.
            self.emit(ind, "try:")
            self.emit(ind + 1, f"{', '.join(xs)} = {self.const(itemgetter(*names))}({r})")
            self.emit(ind + 1, f"{extra} = len({r}) > {n}")
            self.emit(ind, "except KeyError:")
            self.emit(ind + 1, f"{', '.join(xs)} = map({r}.get, {self.const(names)}, {self.const((_MISSING,) * n)})")
            self.emit(ind + 1, f"{extra} = not {known}.issuperset({r})")
            raws = xs
        values = []
        for x, raw, (name, info) in zip(xs, raws, model.model_fields.items()):
            self.field(name, info, hints[name], raw, x, depth + 1, ind, own=depth == 0 and name in _OWN)
            values.append(f"{name!r}: {x}")
        out = self.var("o")
        self.emit(ind, f"{out} = {{{', '.join(values)}}}")
        self.emit(ind, f"if {extra}:")
        self.emit(ind + 1, f"extras({out}, {r}, {known}, {depth + 1})")
        return out

    def field(self, name: str, info: FieldInfo, ann: Any, raw: str, x: str, depth: int, ind: int, *,
              own: bool = False) -> None:
        """Code putting in `x` the record's value of field `name` (at path length `depth`),
        from its raw value, the expression `raw` (MISSING when absent). `own`: text that
        is not shared (a record's own id and name)."""
        if info.alias or info.validation_alias:
            raise _Unsupported(name)
        t, nullable, meta = _field_type(ann)
        nullable = nullable or t is Any
        meta = [*meta, *info.metadata]
        if info.is_required():
            default = _MISSING
        elif info.default_factory is not None:
            default = info.default_factory
            if default not in (list, dict):
                raise _Unsupported(name)
        else:
            default = info.default
        origin = typing.get_origin(t)
        if meta or (default is not None and default is not _MISSING):
            pass
        elif t is str and own:
            self.emit(ind, f"{x} = {raw}")
            if nullable:
                self.emit(ind, f"if {x} is MISSING:")
                self.emit(ind + 1, f"{x} = None")
                self.emit(ind, f"elif {x} is not None and ({x}.__class__ is not str or"
                               f" (not {x}.isascii() and SURROGATE({x}))):")
            else:
                self.emit(ind, f"if {x}.__class__ is not str or (not {x}.isascii() and SURROGATE({x})):")
            self.emit(ind + 1, "raise GiveUp")
            return
        elif t is str:
            # `text` and `dates` give null for null or absent.
            self.emit(ind, f"{x} = text({raw})")
            if not nullable:
                self.emit(ind, f"if {x} is None:")
                self.emit(ind + 1, "raise GiveUp")
            return
        elif origin is typing.Literal and nullable and all(type(a) is str for a in typing.get_args(t)):
            choices = self.const({None: None, _MISSING: None, **{a: a for a in typing.get_args(t)}})
            self.emit(ind, f"{x} = {choices}[{raw}]")
            return
        elif t is dt.date and nullable:
            self.emit(ind, f"{x} = dates[{raw}]")
            return
        elif t is dt.date:
            self.emit(ind, f"{x} = dates[{raw}]")
            self.emit(ind, f"if {x} is None:")
            self.emit(ind + 1, "raise GiveUp")
            return
        if raw != x:
            self.emit(ind, f"{x} = {raw}")
        if default is None:
            if not nullable:
                raise _Unsupported(name)
            self.emit(ind, f"if {x} is MISSING:")
            self.emit(ind + 1, f"{x} = None")
            self.emit(ind, f"elif {x} is not None:")
        else:
            # Absent: the default (or, for a required field, the general way); null is
            # refused by pydantic unless the type allows it.
            self.emit(ind, f"if {x} is MISSING:")
            if default is _MISSING:
                self.emit(ind + 1, "raise GiveUp")
            elif default is list or default is dict:
                self.emit(ind + 1, f"{x} = {default.__name__}()")
            else:
                self.emit(ind + 1, f"{x} = {self.const(default)}")
            self.emit(ind, f"elif {x} is not None:" if nullable else "else:")
        ind += 1
        if (t is str or t is dt.date) and not meta:
            # (Null is not refused by `text` and `dates`, and here it is not allowed.)
            self.emit(ind, f"{x} = {'text(' + x + ')' if t is str else 'dates[' + x + ']'}")
            if not nullable:
                self.emit(ind, f"if {x} is None:")
                self.emit(ind + 1, "raise GiveUp")
        elif origin is typing.Literal and all(type(a) is str for a in typing.get_args(t)) and not meta:
            self.emit(ind, f"if {x} not in {self.const(frozenset(typing.get_args(t)))}:")
            self.emit(ind + 1, "raise GiveUp")
            self.emit(ind, f"{x} = text({x})")
        elif t is bool and not meta:
            self.emit(ind, f"if {x}.__class__ is not bool:")
            self.emit(ind + 1, "raise GiveUp")
        elif t is Decimal:
            if not all(_finite_only(m) for m in meta):
                raise _Unsupported(name)
            # Not finite: the general way (refused by pydantic, or by `_out_of_bounds`).
            self.emit(ind, f"if {x}.__class__ is Decimal:")
            self.emit(ind + 1, f"a = {x}.adjusted()")
            self.emit(ind + 1, f"if a > HI or a < LO or (a == 0 and not {x}.is_finite()):")
            self.emit(ind + 2, f"check_decimal({x})")
            self.emit(ind, f"elif {x}.__class__ is int:")
            self.emit(ind + 1, f"{x} = ints[{x}]")
            self.emit(ind, "else:")
            self.emit(ind + 1, "raise GiveUp")
        elif t is int:
            bounds = []
            for m in meta:
                op = _BOUNDS.get(type(m))
                if op is None or type(getattr(m, op[0])) is not int:
                    raise _Unsupported(name)
                bounds.append(f" or not {x} {op[1]} {getattr(m, op[0])!r}")
            self.emit(ind, f"if {x}.__class__ is not int{''.join(bounds)}:")
            self.emit(ind + 1, "raise GiveUp")
            self.emit(ind, f"{x} = ints[{x}]")
        elif (t is Any or (origin is dict and typing.get_args(t)[:1] == (str,)
                           and typing.get_args(t)[1] is Any)) and not meta:
            self.emit(ind, f"{x} = {'norm' if t is Any else 'norm_dict'}({x}, {depth})")
        elif origin is list and typing.get_args(t) == (str,) and not meta:
            self.emit(ind, f"if {x}.__class__ is not list{' or True' if depth >= self.max_depth else ''}:")
            self.emit(ind + 1, "raise GiveUp")
            self.emit(ind, f"{x} = list(map(text, {x}))")
            self.emit(ind, f"if None in {x}:")
            self.emit(ind + 1, "raise GiveUp")
        elif _is_model(t) and not meta:
            self.emit(ind, f"{x} = {self.record(t, x, depth, ind)}")
        elif origin is list and _is_model(typing.get_args(t)[0]) and not meta:
            raws, item, out = self.var("l"), self.var("r"), self.var("l")
            self.emit(ind, f"if {x}.__class__ is not list{' or True' if depth >= self.max_depth else ''}:")
            self.emit(ind + 1, "raise GiveUp")
            self.emit(ind, f"{raws}, {out} = {x}, []")
            self.emit(ind, f"for {item} in {raws}:")
            self.emit(ind + 1, f"{out}.append({self.record(typing.get_args(t)[0], item, depth + 1, ind + 1)})")
            self.emit(ind, f"{x} = {out}")
        else:
            raise _Unsupported(name)


@cache
def _compiled(model: type[BaseModel], max_depth: int) -> Callable[..., Callable[[Any], dict]] | None:
    """`make(**state)` gives the fast path of `model` bound to one `Loader` (None: the model
    has a field type the fast path does not know)."""
    code = _Code(max_depth)
    code.emit(1, "def fast(r0):")
    try:
        out = code.record(model, "r0", 0, 2)
    except _Unsupported:
        return None
    code.emit(2, f"return {out}")
    code.emit(1, "return fast")
    params = ", ".join(["text", "dates", "ints", "norm", "norm_dict", "extras", "check_decimal", "HI", "LO",
                        "MISSING", "SURROGATE", "GiveUp", "Decimal", *code.consts])
    source = f"def make({params}):\n" + "\n".join(code.lines) + "\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<fast path for {model.__name__}>", "exec"), namespace)  # noqa: S102 - our own code
    make = namespace["make"]
    return lambda **state: make(**state, **code.consts)


class _Texts(dict):
    """Text seen so far, each kept once: `texts[v]` is the first text equal to `v` (and
    null, or absent, is null). New text is checked on the way in (Unicode: no lone
    surrogates)."""

    __slots__ = ()

    def __missing__(self, v: Any) -> str:
        if v.__class__ is not str:
            raise _GiveUp
        if not v.isascii() and _SURROGATE.search(v):
            raise _GiveUp
        if len(v) <= _SHARE_TEXT:
            self[v] = v
        return v


class _Dates(dict):
    """The date of each `YYYY-MM-DD` text seen so far (and each date; null, or absent, is
    null), made once. Only that form: pydantic also reads others, and has the say on
    anything else."""

    __slots__ = ()

    def __missing__(self, v: Any) -> dt.date:
        c = v.__class__
        if c is dt.date:
            self[v] = v
            return v
        if c is not str or len(v) != 10 or not v.isascii() or v[4] != "-" or v[7] != "-" \
                or not (v[:4].isdigit() and v[5:7].isdigit() and v[8:].isdigit()):
            raise _GiveUp
        try:
            d = dt.date(int(v[:4]), int(v[5:7]), int(v[8:]))
        except ValueError:
            raise _GiveUp from None
        self[v] = d
        return d


class _Integers(dict):
    """The Decimal of each integer (checked for range), each made once, up to a point:
    amounts of money are often all different."""

    __slots__ = ("hi",)

    def __missing__(self, v: int) -> Decimal:
        d = Decimal(v)
        if d.adjusted() > self.hi:
            raise _GiveUp
        if len(self) < _SHARE_NUMBERS:
            self[v] = d
        return d


class Loader:
    """Validates records for one load: `validate(model, raw)` gives what `validate` gives,
    faster for the usual record, with equal values shared between records.

    It returns the record and whether it is checked: `False` when the record went the
    general way, and `load._out_of_bounds` must still look at it. `fast=False` sends every
    record the general way (tests compare the two).
    """

    def __init__(self, exponents: tuple[int, int] = (-28, 27), max_depth: int = 100, *, fast: bool = True) -> None:
        self.lo, self.hi = exponents
        self.max_depth = max_depth
        self.fast = fast
        self.texts = _Texts({None: None, _MISSING: None})
        self.text = self.texts.__getitem__
        self.dates = _Dates({None: None, _MISSING: None})
        self.ints = _Integers()
        self.ints.hi = self.hi
        self._fast: dict[type, Callable[[Any], dict] | None] = {}

    def fast_path(self, model: type[BaseModel]) -> Callable[[Any], dict] | None:
        """`fast(raw)`: the finished record, checked, or an exception (any: the record is
        then for the general way to say what is wrong with it). None: every record of
        this type goes the general way."""
        fast = self._fast.get(model, _MISSING)
        if fast is _MISSING:
            make = _compiled(model, self.max_depth) if self.fast else None
            fast = self._fast[model] = make and make(
                text=self.text, dates=self.dates, ints=self.ints, norm=self._norm, norm_dict=self._norm_dict,
                extras=self._extras, check_decimal=self._check_decimal, HI=self.hi, LO=self.lo,
                MISSING=_MISSING, SURROGATE=_SURROGATE.search, GiveUp=_GiveUp, Decimal=Decimal)
        return fast

    def validate(self, model: type[BaseModel], raw: Any) -> tuple[dict, bool]:
        fast = self.fast_path(model)
        if fast is not None:
            try:
                return fast(raw), True
            except Exception:  # noqa: BLE001, S110 - _GiveUp, or anything the general way will say
                pass
        return validate(model, raw), False

    def _check_decimal(self, v: Decimal) -> None:
        """`v` is near or past the limits, or not finite: give up if it is past them."""
        a = v.adjusted()
        if not v.is_finite() or ((a > self.hi or a < self.lo) and (v or a < -1000)):
            raise _GiveUp

    def _extras(self, rec: dict, raw: dict, known: frozenset, depth: int) -> None:
        """Copy the unknown fields of `raw` into `rec`, finished (as pydantic keeps them)."""
        for key, v in raw.items():
            if key not in known:
                if key.__class__ is not str or (not key.isascii() and _SURROGATE.search(key)):
                    raise _GiveUp
                rec[key] = self._norm(v, depth)

    def _norm_dict(self, v: Any, depth: int) -> dict:
        """`_norm(v)` for a field of text keys (`custom`), quicker when the values are text."""
        if v.__class__ is not dict or depth >= self.max_depth:
            raise _GiveUp
        text = self.text
        try:
            out = dict(zip(map(text, v), map(text, v.values())))
        except (_GiveUp, TypeError):
            out = None
        if out is None or None in out:
            for k in v:
                if k.__class__ is not str:
                    raise _GiveUp
            return self._norm(v, depth)
        return out

    def _norm(self, v: Any, depth: int) -> Any:
        """`normalise(v)`, checked like `_out_of_bounds`, with equal values shared."""
        c = v.__class__
        if c is str:
            return self.text(v)
        if c is Decimal:
            a = v.adjusted()
            if a > self.hi or a < self.lo or (a == 0 and not v.is_finite()):
                self._check_decimal(v)
            return v
        if c is dict:
            if depth >= self.max_depth:
                raise _GiveUp
            text, norm, inner = self.text, self._norm, depth + 1
            return {text(k) if k.__class__ is str else k: text(x) if x.__class__ is str else norm(x, inner)
                    for k, x in v.items()}
        if c is list or c is tuple:
            if depth >= self.max_depth:
                raise _GiveUp
            norm, inner = self._norm, depth + 1
            return [norm(x, inner) for x in v]
        if v is None or c is bool:
            return v
        if c is int:
            return self.ints[v]
        if c is dt.date:
            return self.dates[v]
        if c is float:
            return self._norm(Decimal(repr(v)), depth)
        raise _GiveUp
