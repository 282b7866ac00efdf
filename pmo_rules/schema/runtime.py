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
"""

from __future__ import annotations

import datetime as dt
import types as pytypes
import typing
from decimal import Decimal
from functools import cache
from typing import Any, NotRequired, Required

from pydantic import BaseModel, ConfigDict, TypeAdapter
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
