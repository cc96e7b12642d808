"""Cross-checks of a well-typed config: ids, references, ranks, URLs and templates."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from string import Formatter

from server.config.problems import Problem, item_path, one_of, shown, suggest
from server.config.schema import ConfigRaw, LaneRaw, ServerRaw, ServiceRaw
from server.config.settings import ServerSettings, check_settings

ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
ID_RULE = "use lowercase letters, digits, - and _ (at most 32), starting with a letter or digit"
PLACEHOLDERS = ("number", "window")


@dataclass(frozen=True, slots=True)
class Known:
    """Ids written in the file, even on items dropped for type errors (so no false "unknown")."""

    lanes: set[str] = field(default_factory=set)
    queues: dict[str, None] = field(default_factory=dict)  # ordered set, file order
    halls: dict[str, dict[str, set[str]]] = field(default_factory=dict)

    def ids(self, hall: str, kind: str) -> set[str]:
        """The ``zones``, ``queues`` or ``windows`` ids of a hall as written."""
        return self.halls.get(hall, {}).get(kind, set())


def known_ids(doc: dict[str, object]) -> Known:
    """Collect ids from the raw TOML document, whatever the shape of its items."""
    known = Known(lanes=set(_ids(doc.get("lanes"))))
    halls = doc.get("halls")
    for hall in halls if isinstance(halls, list) else []:
        if isinstance(hall, dict) and isinstance(hall.get("id"), str):
            kinds = {kind: set(_ids(hall.get(kind))) for kind in ("zones", "queues", "windows")}
            known.halls[hall["id"]] = kinds
            known.queues.update(dict.fromkeys(_ids(hall.get("queues"))))
    return known


def _ids(items: object) -> list[str]:
    if not isinstance(items, list):
        return []
    return [i["id"] for i in items if isinstance(i, dict) and isinstance(i.get("id"), str)]


def server_settings(server: ServerRaw) -> ServerSettings:
    """The ``[server]`` table as settings."""
    values = server.model_dump()
    return ServerSettings(**{**values, "allowed_origins": tuple(server.allowed_origins)})


def global_problems(raw: ConfigRaw, known: Known) -> list[Problem]:
    """Problems of ``[server]``, ``[[lanes]]``, ``[[services]]`` and the list of halls."""
    server = [
        Problem(f"server.{name}", what, fix)
        for name, what, fix in check_settings(server_settings(raw.server))
    ]
    return server + lane_problems(raw.lanes) + service_problems(raw.services, known) + _halls(raw)


def _halls(raw: ConfigRaw) -> list[Problem]:
    if not raw.halls:
        return [
            Problem("halls", "no hall is configured", "add a [[halls]] table (see config.toml)")
        ]
    return duplicate_problems("halls", "hall", [h.id for h in raw.halls])


def lane_problems(lanes: list[LaneRaw]) -> list[Problem]:
    """Lane ids, ranks and roles; a ``normal`` lane with rank 0 must exist."""
    problems = duplicate_problems("lanes", "lane", [lane.id for lane in lanes])
    for index, lane in enumerate(lanes):
        path = item_path("lanes", index, lane.id)
        problems += id_problems(f"{path}.id", lane.id, ID)
        problems += _rank_problems(lane, path)
        if not lane.issued_by:
            problems.append(
                Problem(
                    f"{path}.issued_by", "no role may issue this lane", 'add roles, e.g. ["guide"]'
                )
            )
    if "normal" not in {lane.id for lane in lanes}:
        problems.append(
            Problem(
                "lanes",
                'no lane with id = "normal"; every ticket without a priority uses it',
                'add [[lanes]] with id = "normal", rank = 0, issued_by = ["kiosk", "guide"]',
            )
        )
    return problems


def _rank_problems(lane: LaneRaw, path: str) -> list[Problem]:
    if lane.id == "normal" and lane.rank != 0:
        return [Problem(f"{path}.rank", f"the normal lane has rank {lane.rank}", "set rank = 0")]
    if lane.id != "normal" and lane.rank == 0:
        return [
            Problem(
                f"{path}.rank",
                f'priority lane "{lane.id}" has rank 0, which is reserved for normal',
                "set rank = 1 or more (lower ranks are served first)",
            )
        ]
    return []


def service_problems(services: list[ServiceRaw], known: Known) -> list[Problem]:
    """Service codes are unique and each names a queue that some hall has."""
    problems = duplicate_problems("services", "service", [s.code for s in services], key="code")
    code = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    queues = list(known.queues)
    for index, service in enumerate(services):
        path = item_path("services", index, service.code)
        rule = "use letters, digits, ., - and _ (at most 64), e.g. M01"
        problems += id_problems(f"{path}.code", service.code, code, rule)
        if service.queue not in known.queues:
            problems.append(
                unknown_ref(f"{path}.queue", "queue", service.queue, queues, "[[halls.queues]]")
                if queues
                else Problem(f"{path}.queue", f'unknown queue "{service.queue}"', "add a queue")
            )
    return problems


def duplicate_problems(path: str, kind: str, values: list[str], key: str = "id") -> list[Problem]:
    """One problem per value used by more than one item."""
    return [
        Problem(
            path,
            f'{key} "{value}" is used by {count} {kind} entries',
            f"give each {kind} its own {key}",
        )
        for value, count in Counter(values).items()
        if count > 1
    ]


def id_problems(
    path: str, value: str, pattern: re.Pattern[str], rule: str = ID_RULE
) -> list[Problem]:
    """A problem when an id does not match its pattern."""
    if pattern.match(value):
        return []
    return [Problem(path, f"{shown(value)} is not a valid id; expected {pattern.pattern}", rule)]


def unknown_ref(path: str, kind: str, value: str, options: list[str], table: str) -> Problem:
    """``unknown <kind> "x"; expected one of …`` with the fix to correct or add it."""
    close = suggest(value, options)
    hint = f' (did you mean "{close}"?)' if close else ""
    return Problem(
        path,
        f'unknown {kind} "{value}"; expected one of {one_of(options)}',
        f'correct the id{hint} or add a {table} with id = "{value}"',
    )


def template_problems(text: str, path: str) -> list[Problem]:
    """Voice templates use only ``{number}`` and ``{window}`` and always say the number."""
    try:
        names = {name for _, name, _, _ in Formatter().parse(text) if name is not None}
    except ValueError as exc:
        return [Problem(path, f"{shown(text)} is not a valid template ({exc})", _BRACES)]
    problems = [
        Problem(
            path, f"unknown placeholder {{{name}}}; expected {{number}} and {{window}}", _BRACES
        )
        for name in sorted(names - set(PLACEHOLDERS))
    ]
    if "number" not in names:
        problems.append(Problem(path, "the template never says {number}", "add {number}"))
    return problems


_BRACES = "use only {number} and {window}; write a literal brace as {{ or }}"
