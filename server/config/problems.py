"""Problems found in a config: key paths that name ids, and pydantic errors in plain words."""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from datetime import time
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from server.config.schema import ConfigRaw

TOKEN = re.compile(r"^[A-Za-z0-9_-]+$")
DOCS = "docs/config.md"
Loc = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem: where (key path), what is wrong, and the fix."""

    path: str
    what: str
    fix: str

    def line(self, file: str) -> str:
        """``file: path: what. Fix: fix.`` on one line."""
        fix = self.fix if self.fix.endswith((".", "。", "?")) else self.fix + "."
        where = f"{self.path}: " if self.path else ""
        return f"{file}: {where}{self.what}. Fix: {fix}"


def shown(value: object) -> str:
    """A value as the operator wrote it in TOML, shortened."""
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, time):
        text = value.isoformat()
    elif isinstance(value, dict):
        text = "a table"
    else:
        text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def one_of(options: list[str] | tuple[str, ...] | set[str]) -> str:
    """``a, b, c`` (or ``(none)``)."""
    return ", ".join(options) or "(none)"


def suggest(value: str, options: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """The closest option to a misspelt value, if any is close."""
    close = difflib.get_close_matches(value, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def item_path(prefix: str, index: int, ident: object) -> str:
    """``prefix.id`` when the item has a usable id, else ``prefix[index]``."""
    if isinstance(ident, str) and TOKEN.match(ident):
        return f"{prefix}.{ident}"
    return f"{prefix}[{index}]"


def key_path(loc: Loc, doc: object) -> str:
    """A pydantic location as a key path, naming list items by their id or code."""
    path, node = "", doc
    for key in loc:
        if isinstance(key, int):
            node = node[key] if isinstance(node, list) and key < len(node) else None
            ident = node.get("id", node.get("code")) if isinstance(node, dict) else None
            path = item_path(path, key, ident)
        else:
            node = node.get(key) if isinstance(node, dict) else None
            path = f"{path}.{key}" if path else key
    return path


def model_at(loc: Loc) -> type[BaseModel] | None:
    """The schema model of the table at ``loc`` (None when it is not a table)."""
    tp: Any = ConfigRaw
    for key in loc:
        tp = _step(_unwrap(tp), key)
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def _step(tp: Any, key: str | int) -> Any:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(key) if isinstance(key, str) else None
        return field.annotation if field else None
    args = get_args(tp)
    if get_origin(tp) is list:
        return args[0]
    return args[1] if get_origin(tp) is dict else None


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, UnionType):
            tp = next(arg for arg in get_args(tp) if arg is not type(None))
        else:
            return tp


KINDS = {
    "string_type": ("a string", 'put the text in double quotes, e.g. {key} = "{value}"'),
    "int_type": ("a whole number", "write a whole number without quotes, e.g. {key} = 2"),
    "float_type": ("a number", "write a number without quotes, e.g. {key} = 10"),
    "bool_type": ("true or false", "write true or false (lowercase, without quotes)"),
    "list_type": ("an array", 'write an array, e.g. {key} = ["…", "…"]'),
    "dict_type": ("a table", "write a table: [{key}] with key = value lines under it"),
    "model_type": ("a table", "write a table: [{key}] with key = value lines under it"),
}
BOUNDS = {
    "greater_than_equal": ("ge", "≥", "set it to {} or more"),
    "greater_than": ("gt", ">", "set it above {}"),
    "less_than_equal": ("le", "≤", "set it to {} or less"),
    "less_than": ("lt", "<", "set it below {}"),
}


def from_pydantic(error: ErrorDetails, doc: object) -> Problem:
    """A pydantic validation error as a Problem with a key path and a fix."""
    loc: Loc = tuple(error["loc"])
    path, kind = key_path(loc, doc), error["type"]
    key = next((k for k in reversed(loc) if isinstance(k, str)), "value")
    value = error.get("input")
    ctx = error.get("ctx") or {}
    if kind == "extra_forbidden":
        return _unknown_key(path, str(loc[-1]), loc[:-1])
    if kind == "missing":
        return Problem(path, "required key is missing", f"add {key} = … here (see {DOCS})")
    if kind == "list_type" and isinstance(value, dict) and model_at((*loc, 0)):
        fix = f"write each entry as a [[…{key}]] table (double brackets)"
        return Problem(path, f"expected an array of tables, got {shown(value)}", fix)
    if kind in KINDS:
        return _wrong_type(path, key, value, kind)
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        return _not_one_of(path, value, options)
    if kind in BOUNDS:
        name, sign, fix = BOUNDS[kind]
        limit = ctx.get(name)
        what = f"{shown(value)} is out of range; must be {sign} {limit}"
        return Problem(path, what, fix.format(limit))
    if kind == "string_too_short":
        return Problem(path, "must not be empty", "write a non-empty text or remove the key")
    return Problem(path, f"{error['msg']} (got {shown(value)})", f"see {DOCS}")


def _wrong_type(path: str, key: str, value: object, kind: str) -> Problem:
    what, fix = KINDS[kind]
    if kind in ("int_type", "float_type") and isinstance(value, str) and _is_number(value):
        fix = f"remove the quotes: {key} = {value.strip()}"
    elif kind == "bool_type" and isinstance(value, str) and value.lower() in ("true", "false"):
        fix = f"remove the quotes: {key} = {value.lower()}"
    else:
        fix = fix.format(key=key, value=value if isinstance(value, str | int) else "…")
    return Problem(path, f"expected {what}, got {shown(value)}", fix)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _unknown_key(path: str, key: str, table: Loc) -> Problem:
    model = model_at(table)
    options = list(model.model_fields) if model else []
    close = suggest(key, options)
    fix = f'rename it to "{close}"' if close else f"remove it (keys are listed in {DOCS})"
    return Problem(path, f'unknown key "{key}"; expected one of {one_of(options)}', fix)


def _not_one_of(path: str, value: object, options: list[str]) -> Problem:
    close = suggest(value, options) if isinstance(value, str) else None
    fix = f'use "{close}"' if close else f"use one of {one_of(options)}"
    return Problem(path, f"{shown(value)} is not allowed; expected one of {one_of(options)}", fix)
