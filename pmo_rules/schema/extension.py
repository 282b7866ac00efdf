"""Load an organisation's JSON Schema extension of the portfolio data, and apply it.

An extension is one JSON (or YAML) document with a JSON Schema (Draft 2020-12) per
collection: the fields an organisation adds to projects, people or programs, and the
constraints its data must meet::

    {"$defs": {...},
     "projects": {"properties": {"cost_center": {"type": "string", "pattern": "^CC-"}}},
     "people":   {"properties": {"grade": {"type": "integer", "minimum": 1}}}}

It comes from `--schema-extension FILE` (or `schema_extension` in the config file) and
from plugins (`pmo_rules_schema`). `build_extension` returns one `Extension` that

- gives the checker typed collections (`Extension.collections`): declared fields become
  known, with the language type their JSON Schema type maps to (SCHEMA TYPES below);
- converts a record's declared fields the way pydantic converts built-in ones
  (`Extension.coerce`: text that spells a number, a boolean or a date becomes one, so CSV
  cells work), and validates records (`Extension.validate`), one problem per violation.

A declared field may add constraints to a built-in field but not give it another type;
that, an unknown top-level key, or an invalid schema is an `ExtensionError` naming the
extension and the place.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..diagnostics import did_you_mean
from ..types import (
    ANY,
    ANY_LIST,
    BOOL,
    DATE,
    NUMBER,
    TEXT,
    ListType,
    RecordType,
    Type,
    is_any,
)
from .models import COLLECTION_MODELS, VIEWS

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

COLLECTIONS = tuple(COLLECTION_MODELS)
DRAFT = "https://json-schema.org/draft/2020-12/schema"
# Keys a document may hold besides the collections.
DOCUMENT_KEYS = ("$schema", "$id", "$comment", "$defs", "title", "description")
_MAX_DEPTH = 64


@lru_cache(maxsize=1)
def _meta() -> Any:
    """The 2020-12 meta-schema's validator. jsonschema is imported only when an extension
    is read: a run without one (most) starts 50 ms sooner."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(Draft202012Validator.META_SCHEMA)

# SCHEMA TYPES: JSON Schema -> language type (`pmo_rules.types`).
#   string -> text; string with "format": "date" -> date; number, integer -> number;
#   boolean -> bool; array -> list of (items); object / "properties" -> record;
#   a `type` list with one type besides "null" -> that type; enum/const -> the values' type;
#   anything else (no type, several types, anyOf of different types) -> any.


class ExtensionError(ValueError):
    """An extension that cannot be used; the message names the extension and the place."""


# ------------------------------------------------------------------------ loading --


def read_document(path: Path) -> dict[str, Any]:
    """Read an extension file (JSON, or YAML for `.yaml`/`.yml`)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ExtensionError(f"{path}: no such schema extension file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExtensionError(f"{path}: cannot be read: {exc}") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ExtensionError(f"{path}: invalid YAML: {exc}") from None
    else:
        try:
            doc = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise ExtensionError(f"{path}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    return doc


def check_document(doc: Any, name: str) -> dict[str, dict[str, Any]]:
    """Validate an extension document; returns the root schema per collection it extends."""
    if not isinstance(doc, dict):
        raise ExtensionError(f"{name}: a schema extension is an object with one JSON Schema per collection "
                             f"({', '.join(COLLECTIONS)}), not a {type(doc).__name__}")
    for key in doc:
        if key not in COLLECTIONS and key not in DOCUMENT_KEYS:
            hint = did_you_mean(str(key), COLLECTIONS + DOCUMENT_KEYS)
            where = "" if key not in VIEWS else (f"; `{key}` is a view of projects: extend its items under "
                                                 f"`projects.properties.{VIEWS[key]}.items`")
            raise ExtensionError(f"{name}: unknown key `{key}`" + (f"; {hint}" if hint else "") + where +
                                 f" (keys: {', '.join(COLLECTIONS)}, and {', '.join(DOCUMENT_KEYS)})")
    declared = doc.get("$schema")
    if declared is not None and str(declared).rstrip("#") != DRAFT:
        raise ExtensionError(f"{name}: `$schema` is {declared!r}; pmo-rules uses JSON Schema Draft 2020-12 ({DRAFT})")
    defs = doc.get("$defs", {})
    if not isinstance(defs, dict):
        raise ExtensionError(f"{name}: `$defs` must be an object of named schemas")
    roots: dict[str, dict[str, Any]] = {}
    for coll in COLLECTIONS:
        if coll not in doc:
            continue
        sub = doc[coll]
        if not isinstance(sub, dict):
            raise ExtensionError(f"{name}: `{coll}` must be a JSON Schema object for one {coll[:-1]} record, "
                                 f"like {{\"properties\": {{...}}}}, not a {type(sub).__name__}")
        if "type" in sub and sub["type"] != "object":
            raise ExtensionError(f"{name}: `{coll}` describes one record, so its `type` can only be \"object\"")
        root = dict(sub)
        root["$defs"] = {**defs, **(sub.get("$defs") or {})}
        root["$schema"] = DRAFT
        err = _best_match(_meta().iter_errors(root))
        if err is not None:
            at = ".".join(str(p) for p in err.absolute_path)
            raise ExtensionError(f"{name}: `{coll}` is not a valid JSON Schema"
                                 + (f" at `{coll}.{at}`" if at else "") + f": {err.message}") from None
        _check_refs(root, root["$defs"], name, coll)
        roots[coll] = root
    return roots


def _check_refs(node: Any, defs: dict[str, Any], name: str, path: str, depth: int = 0) -> None:
    """Only local `#/$defs/NAME` references: nothing is fetched, and every one resolves."""
    if depth > _MAX_DEPTH:
        raise ExtensionError(f"{name}: `{path}` is nested too deeply")
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref != "#":
            target = _def_name(ref)
            if target is None:
                raise ExtensionError(f"{name}: `{path}.$ref` is {ref!r}; only local references like "
                                     "\"#/$defs/NAME\" are supported")
            if target not in defs:
                hint = did_you_mean(target, defs)
                raise ExtensionError(f"{name}: `{path}.$ref` names `{target}`, which is not in `$defs`"
                                     + (f"; {hint}" if hint else ""))
        for k, v in node.items():
            if k not in ("enum", "const", "default", "examples"):
                _check_refs(v, defs, name, f"{path}.{k}", depth + 1)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_refs(v, defs, name, f"{path}.{i}", depth + 1)


def _def_name(ref: str) -> str | None:
    m = re.fullmatch(r"#/\$defs/([^/]+)", ref)
    return m.group(1).replace("~1", "/").replace("~0", "~") if m else None


# -------------------------------------------------------------------------- types --


def schema_type(schema: Any, name: str, defs: dict[str, Any], depth: int = 0,
                expanding: frozenset[str] = frozenset()) -> Type:
    """The language type of values a JSON Schema fragment describes (see SCHEMA TYPES)."""
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return ANY

    def sub(s: Any, n: str = name, exp: frozenset[str] = expanding) -> Type:
        return schema_type(s, n, defs, depth + 1, exp)

    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _def_name(ref)
        # NOTE: a recursive definition (a tree of records) is typed `any` below its first level.
        resolved = sub(defs.get(target), name, expanding | {target}) if target and target not in expanding else ANY
        own = sub({k: v for k, v in schema.items() if k != "$ref"})
        if is_any(own):
            return resolved
        if is_any(resolved):
            return own
        if isinstance(resolved, RecordType) and isinstance(own, RecordType):
            return RecordType(name, {**resolved.fields, **own.fields}, resolved.open and own.open)
        return resolved if str(resolved) == str(own) else ANY
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else ("*" if kinds else None)
    if kind == "*":
        return ANY
    if kind is None:
        if "properties" in schema:
            kind = "object"
        elif "items" in schema:
            kind = "array"
        elif "enum" in schema or "const" in schema:
            values = schema.get("enum") if "enum" in schema else [schema.get("const")]
            return _type_of_values(values if isinstance(values, list) else [])
        elif isinstance(schema.get("anyOf") or schema.get("oneOf"), list):
            return _same([sub(s) for s in schema.get("anyOf") or schema.get("oneOf")])
        elif isinstance(schema.get("allOf"), list):
            for s in schema["allOf"]:
                t = sub(s)
                if not is_any(t):
                    return t
            return ANY
        else:
            return ANY
    if kind == "string":
        return DATE if schema.get("format") == "date" else TEXT
    if kind in ("number", "integer"):
        return NUMBER
    if kind == "boolean":
        return BOOL
    if kind == "array":
        items = schema.get("items")
        return ListType("list", sub(items)) if isinstance(items, dict) else ANY_LIST
    if kind == "object":
        props = schema.get("properties")
        fields = {k: sub(v, k) for k, v in props.items()} if isinstance(props, dict) else {}
        closed = schema.get("additionalProperties") is False or schema.get("unevaluatedProperties") is False
        return RecordType(name, fields, not closed)
    return ANY


def _same(types: list[Type]) -> Type:
    """`anyOf`/`oneOf`: the alternatives' type when they all agree (null aside), else any."""
    known = [t for t in types if not is_any(t)]
    if not known or isinstance(known[0], RecordType):
        return ANY
    return known[0] if all(str(t) == str(known[0]) for t in known) else ANY


def _type_of_values(values: list[Any]) -> Type:
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, (int, float, Decimal)):
            kinds.add("number")
        elif isinstance(v, str):
            kinds.add("text")
        else:
            kinds.add("other")
    if len(kinds) != 1:
        return ANY
    return {"bool": BOOL, "number": NUMBER, "text": TEXT}.get(kinds.pop(), ANY)


class _Merge:
    """Merge declared types into the built-in ones, refusing redefinitions."""

    def __init__(self) -> None:
        # dotted path -> (type shown in messages, extension that declared it)
        self.declared: dict[str, tuple[str, str]] = {}

    def combine(self, have: Type, want: Type, path: str, part: str) -> Type:
        if is_any(want):
            return have
        if is_any(have):
            self.declared.setdefault(path, (str(want), part))
            return want
        if isinstance(have, RecordType) and isinstance(want, RecordType):
            fields = dict(have.fields)
            for key, t in want.fields.items():
                sub = f"{path}.{key}"
                if key in fields:
                    fields[key] = self.combine(fields[key], t, sub, part)
                else:
                    fields[key] = t
                    self.declared.setdefault(sub, (str(t), part))
            return RecordType(have.name, fields, have.open and want.open)
        if isinstance(have, ListType) and isinstance(want, ListType):
            return ListType("list", self.combine(have.elem, want.elem, f"{path}[]", part))
        if have == want:
            return have
        if have == DATE and want == TEXT:
            return have  # dates are written as text in JSON; the declaration only adds constraints
        previous = self.declared.get(path)
        shown = _describe(want)
        if previous is not None:
            raise ExtensionError(f"{part}: `{path}` is declared as {shown}, but extension {previous[1]} "
                                 f"declares it as {previous[0]}")
        raise ExtensionError(f"{part}: `{path}` is a built-in field of type {_describe(have)}; an extension "
                             f"cannot redeclare it as {shown} (add constraints without changing its type, "
                             "or choose another name)")


def _describe(t: Type) -> str:
    if isinstance(t, RecordType):
        return "a record"
    if isinstance(t, ListType):
        return "a list"
    return str(t)


# ----------------------------------------------------------------------- coercion --

_NUMBER = re.compile(r"\s*[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?\s*")
_INTEGER = re.compile(r"\s*[-+]?\d+\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"true", "yes", "on", "1", "y", "t"}
_FALSE = {"false", "no", "off", "0", "n", "f"}


def _scalar_kind(schema: dict[str, Any]) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    if kind == "string":
        return "date" if schema.get("format") == "date" else "string"
    return kind if kind in ("number", "integer", "boolean") else None


def _coerce(value: Any, schema: Any, defs: dict[str, Any], depth: int = 0) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return value
    ref = schema.get("$ref")
    if isinstance(ref, str) and (target := _def_name(ref)) is not None:
        value = _coerce(value, defs.get(target), defs, depth + 1)
    for sub in schema.get("allOf") or ():
        value = _coerce(value, sub, defs, depth + 1)
    kind = _scalar_kind(schema)
    if isinstance(value, str) and kind is not None:
        return _from_text(value, kind)
    if isinstance(value, (dt.date, dt.datetime)) and kind == "string":
        return value.isoformat()  # YAML reads 2026-11-26 as a date; the extension says text
    if isinstance(value, dict):
        props = schema.get("properties")
        if isinstance(props, dict) and any(k in value for k in props):
            return {k: _coerce(v, props[k], defs, depth + 1) if k in props else v for k, v in value.items()}
        return value
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_coerce(v, schema["items"], defs, depth + 1) for v in value]
    return value


def _from_text(text: str, kind: str) -> Any:
    """Text read as the declared type when it spells one (as pydantic reads built-in fields)."""
    if kind == "date":
        if _DATE.fullmatch(text):
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                return text
        return text
    if kind == "number" and _NUMBER.fullmatch(text):
        try:
            return Decimal(text.strip())
        except InvalidOperation:
            return text
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "boolean":
        low = text.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return text


def exact_numbers(value: Any) -> Any:
    """Floats as exact decimals (of their shortest repr), so `multipleOf: 0.01` holds for 0.3."""
    if isinstance(value, float):
        return Decimal(repr(value)) if value == value and value not in (float("inf"), float("-inf")) else value
    if isinstance(value, dict):
        return {k: exact_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [exact_numbers(v) for v in value]
    return value


def jsonable(value: Any) -> Any:
    """A loaded value as JSON Schema sees it: numbers exact (whole ones as `int`, so that
    `integer` holds), dates as ISO text."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, float):
        value = exact_numbers(value)
        if isinstance(value, float):
            return str(value)  # nan or infinity: not a number to JSON Schema
    if isinstance(value, Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value():
            return int(value)
        return value
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


# ---------------------------------------------------------------------- extension --


@dataclass(frozen=True)
class ExtensionPart:
    """One extension document: from a file, or registered by a plugin."""

    name: str  # shown in messages: the file path, or `NAME` (plugin `PLUGIN`)
    document: dict[str, Any]
    roots: dict[str, dict[str, Any]]
    validators: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_document(cls, doc: Any, name: str) -> ExtensionPart:
        doc = exact_numbers(doc)
        roots = check_document(doc, name)
        from jsonschema import Draft202012Validator

        validators = {c: Draft202012Validator(r, format_checker=Draft202012Validator.FORMAT_CHECKER)
                      for c, r in roots.items()}
        return cls(name, doc, roots, validators)


@dataclass(frozen=True)
class Violation:
    field: str  # dotted path in the record ("custom.cost-center", "risks.0.score")
    message: str


@dataclass
class Extension:
    """Every extension in effect for a session, merged."""

    parts: tuple[ExtensionPart, ...]
    collections: dict[str, ListType]

    @property
    def digest(self) -> str:
        """sha256 of the extension documents (canonical JSON), for reports and the audit trail."""
        text = json.dumps([[p.name, p.document] for p in self.parts], sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def extends(self, collection: str) -> bool:
        return any(collection in p.roots for p in self.parts)

    def coerce(self, collection: str, record: dict[str, Any]) -> dict[str, Any]:
        for p in self.parts:
            root = p.roots.get(collection)
            if root is not None:
                record = _coerce(record, root, root["$defs"])
        return record

    def validate(self, collection: str, record: dict[str, Any], given: Any = None) -> list[Violation]:
        """Every violation of every extension, each reduced to its most relevant cause.

        `record` is the validated record; with `given` (the raw record), only the keys
        given there are validated, so defaults filled in for absent fields are not."""
        instance = jsonable(record if given is None else given_only(record, given))
        out: list[Violation] = []
        for p in self.parts:
            validator = p.validators.get(collection)
            if validator is None:
                continue
            errors = sorted(validator.iter_errors(instance), key=lambda e: [str(x) for x in e.absolute_path])
            for err in errors:
                best = _best_match([err]) or err
                out.append(Violation(_field_path(best), f"{_message(best)} (schema extension {p.name})"))
        return out


def given_only(value: Any, given: Any) -> Any:
    """`value` without the dict keys `given` does not have (recursively)."""
    if isinstance(value, dict) and isinstance(given, dict):
        return {k: given_only(v, given[k]) for k, v in value.items() if k in given}
    if isinstance(value, list) and isinstance(given, list) and len(value) == len(given):
        return [given_only(v, g) for v, g in zip(value, given)]
    return value


def _best_match(errors: Iterable) -> Any:
    """jsonschema's pick of the most relevant error, or None (imported when first needed)."""
    from jsonschema.exceptions import best_match

    return best_match(errors)


def _field_path(err: ValidationError) -> str:
    path = [str(p) for p in err.absolute_path]
    if err.validator in ("required", "dependentRequired") and isinstance(err.instance, dict):
        wanted = err.validator_value if isinstance(err.validator_value, list) else []
        if err.validator == "dependentRequired" and isinstance(err.validator_value, dict):
            wanted = [x for deps in err.validator_value.values() for x in deps]
        missing = [w for w in wanted if w not in err.instance]
        if missing:
            path.append(str(missing[0]))
    return ".".join(path) or "(record)"


_DECIMAL_REPR = re.compile(r"Decimal\('([^']*)'\)")


def _message(err: ValidationError) -> str:
    msg = _DECIMAL_REPR.sub(r"\1", err.message)
    return msg if len(msg) <= 200 else msg[:197] + "..."


def build_extension(parts: Iterable[ExtensionPart]) -> Extension:
    """Merge parts, in order, into the checker's collections; raises ExtensionError on a conflict."""
    merger = _Merger()
    for part in parts:
        merger.add(part)
    return merger.extension()


class _Merger:
    def __init__(self) -> None:
        from .typeenv import record_type

        self.merge = _Merge()
        self.records: dict[str, RecordType] = {c: record_type(m) for c, m in COLLECTION_MODELS.items()}
        self.parts: list[ExtensionPart] = []

    def add(self, part: ExtensionPart) -> None:
        """Merge one part; on a conflict, raise and leave the merger as it was."""
        out = dict(self.records)
        saved = dict(self.merge.declared)
        try:
            for coll, root in part.roots.items():
                declared = schema_type({**root, "type": "object"}, out[coll].name, root["$defs"])
                if isinstance(declared, RecordType):
                    out[coll] = self.merge.combine(out[coll], declared, coll, part.name)
        except ExtensionError:
            self.merge.declared = saved
            raise
        self.records = out
        self.parts.append(part)

    def extension(self) -> Extension:
        from .typeenv import view_item_type_of

        colls: dict[str, ListType] = {c: ListType("list", rt) for c, rt in self.records.items()}
        for view in VIEWS:
            colls[view] = ListType("list", view_item_type_of(self.records["projects"], view))
        return Extension(tuple(self.parts), colls)


def load_extensions(file: Path | None, registered: Iterable[Any]) -> tuple[Extension | None, list[tuple[str, str]]]:
    """The session's extension: plugins' `SchemaExtension`s first, then the file.

    Returns the extension (None when there is none) and the problems of plugin extensions
    as `(plugin, message)`: a broken plugin extension is left out, not fatal. A broken
    file raises `ExtensionError`.
    """
    problems: list[tuple[str, str]] = []
    merger = _Merger()
    for ext in registered:
        label = f"`{ext.name}` (plugin `{ext.plugin}`)"
        try:
            merger.add(ExtensionPart.from_document(ext.schema, label))
        except ExtensionError as exc:
            problems.append((ext.plugin, f"schema extension {exc}"))
    if file is not None:
        merger.add(ExtensionPart.from_document(read_document(file), str(file)))
    if not merger.parts:
        return None, problems
    return merger.extension(), problems
