"""Derive the checker's type environment from the pydantic models.

Walks the models' annotations (not their JSON Schema) so that `Decimal`, `date` and
`Literal` map to the language's number, date and text without guesswork. Flattened views
get a `project` field pointing at the project record type. An organisation's schema
extension adds typed fields on top of these (`schema/extension.py`, which builds its
collections with `record_type` and `view_item_type_of`).
"""

from __future__ import annotations

import datetime as dt
import types as pytypes
import typing
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ..types import ANY, ANY_RECORD, BOOL, DATE, NUMBER, TEXT, ListType, RecordType, Type
from .models import COLLECTION_MODELS, VIEWS, Project

_cache: dict[type, RecordType] = {}


def _from_annotation(ann: Any) -> Type:
    origin = typing.get_origin(ann)
    if origin is typing.Annotated:
        return _from_annotation(typing.get_args(ann)[0])
    if origin in (typing.Union, pytypes.UnionType):
        args = [a for a in typing.get_args(ann) if a is not type(None)]
        return _from_annotation(args[0]) if len(args) == 1 else ANY
    if origin is typing.Literal:
        return TEXT
    if origin is list:
        (elem,) = typing.get_args(ann) or (Any,)
        return ListType("list", _from_annotation(elem))
    if origin is dict:
        return ANY_RECORD
    if ann is Decimal or ann is int or ann is float:
        return NUMBER
    if ann is str:
        return TEXT
    if ann is bool:
        return BOOL
    if ann is dt.date:
        return DATE
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return record_type(ann)
    return ANY


def record_type(model: type[BaseModel]) -> RecordType:
    if model in _cache:
        return _cache[model]
    rt = RecordType(model.__name__.lower(), {}, False)
    _cache[model] = rt
    hints = typing.get_type_hints(model, include_extras=True)
    for name in model.model_fields:
        rt.fields[name] = _from_annotation(hints[name])
    return rt


def view_item_type(view: str) -> RecordType:
    base = typing.get_type_hints(Project, include_extras=True)[VIEWS[view]]
    elem = typing.get_args(base)[0]
    inner = record_type(elem)
    fields = dict(inner.fields)
    fields["project"] = record_type(Project)
    return RecordType(inner.name, fields, False)


def view_item_type_of(project: RecordType, view: str) -> RecordType:
    """A view's item type derived from a (possibly extended) project record type."""
    children = project.fields.get(VIEWS[view])
    if isinstance(children, ListType) and isinstance(children.elem, RecordType):
        inner = children.elem
    else:
        inner = RecordType(view, {}, True)
    fields = dict(inner.fields)
    fields["project"] = project
    return RecordType(inner.name, fields, inner.open)


def collections() -> dict[str, ListType]:
    """Collection name -> its type, for the checker's global scope."""
    out: dict[str, ListType] = {}
    for name, model in COLLECTION_MODELS.items():
        out[name] = ListType("list", record_type(model))
    for view in VIEWS:
        out[view] = ListType("list", view_item_type(view))
    return out
