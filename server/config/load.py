"""Load config.toml: parse, validate the shape, cross-check, and report every problem at once."""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from server.config.build import build_config
from server.config.checks import global_problems, known_ids
from server.config.hall_checks import hall_problems
from server.config.model import AppConfig
from server.config.problems import Loc, Problem, from_pydantic, model_at
from server.config.schema import ConfigRaw
from server.domain.errors import ConfigError

# Each pass drops what failed and validates again so later sections still get checked.
MAX_PASSES = 4
_DROP = object()
_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")


class _Unreadable(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.what)
        self.problem = problem


def load_config(path: str | Path) -> AppConfig:
    """The typed config in ``path``; raises ``ConfigError`` listing every problem."""
    path = Path(path)
    raw, problems = _check_file(path)
    if problems or raw is None:
        raise ConfigError(problems)
    return build_config(raw, path)


def check_config(path: str | Path) -> list[str]:
    """Every problem of the config in ``path``, one line each; empty when it is fine."""
    return _check_file(Path(path))[1]


def _check_file(path: Path) -> tuple[ConfigRaw | None, list[str]]:
    try:
        doc = _read(path)
    except _Unreadable as exc:
        return None, [exc.problem.line(path.name)]
    raw, problems = validate_document(doc)
    return raw, list(dict.fromkeys(problem.line(path.name) for problem in problems))


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            return tomllib.load(file)
    except FileNotFoundError:
        raise _Unreadable(_missing(path)) from None
    except tomllib.TOMLDecodeError as exc:
        raise _Unreadable(_syntax(str(exc))) from None
    except UnicodeDecodeError as exc:
        fix = "save the file as UTF-8 (not GBK)"
        raise _Unreadable(Problem("", f"the file is not UTF-8 text ({exc.reason})", fix)) from None
    except OSError as exc:
        raise _Unreadable(
            Problem(
                "",
                f"cannot read {path.resolve()}: {exc.strerror}",
                "check the path and its permissions",
            )
        ) from None


def _missing(path: Path) -> Problem:
    return Problem(
        "",
        f"file not found at {path.resolve()}",
        "pass --config PATH or set HALLQ_CONFIG, or start from the repository's config.toml",
    )


def _syntax(message: str) -> Problem:
    position = _POSITION.search(message)
    where = f"line {position[1]}, column {position[2]}" if position else ""
    what = _POSITION.sub("", message)
    fix = 'correct the TOML there: strings in "quotes", one key per line, [[halls]] for lists'
    return Problem(where, f"TOML syntax error: {what}", fix)


def validate_document(doc: dict[str, Any]) -> tuple[ConfigRaw | None, list[Problem]]:
    """Validate a parsed TOML document; the raw config (None if unusable) and every problem."""
    known = known_ids(doc)
    work, problems = copy.deepcopy(doc), list[Problem]()
    for _ in range(MAX_PASSES):
        try:
            raw = ConfigRaw.model_validate(work)
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            problems += [from_pydantic(error, work) for error in errors]
            work = _repair(work, errors)
        else:
            problems += global_problems(raw, known)
            for index, hall in enumerate(raw.halls):
                problems += hall_problems(raw, hall, index, known)
            return raw, problems
    return None, problems


def _repair(doc: dict[str, Any], errors: list[ErrorDetails]) -> dict[str, Any]:
    """Remove what failed: the bad key when it has a default, else the smallest item holding it."""
    for error in errors:
        target = _repair_target(tuple(error["loc"]), error["type"])
        parent = _get(doc, target[:-1])
        key = target[-1]
        if isinstance(parent, list) and isinstance(key, int) and key < len(parent):
            parent[key] = _DROP
        elif isinstance(parent, dict):
            parent.pop(key, None)
    return _sweep(doc)  # type: ignore[no-any-return]


def _repair_target(loc: Loc, kind: str) -> Loc:
    if kind == "extra_forbidden" or _has_default(loc):
        return loc
    items = [i for i in range(len(loc)) if isinstance(loc[i], int) or model_at(loc[:i]) is None]
    return loc[: items[-1] + 1] if items else loc[:1]


def _has_default(loc: Loc) -> bool:
    model = model_at(loc[:-1]) if loc else None
    field = model.model_fields.get(str(loc[-1])) if model else None
    return field is not None and not field.is_required()


def _get(node: Any, loc: Loc) -> Any:
    for key in loc:
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _sweep(node: Any) -> Any:
    if isinstance(node, list):
        return [_sweep(item) for item in node if item is not _DROP]
    if isinstance(node, dict):
        return {key: _sweep(value) for key, value in node.items()}
    return node
