"""The contract's ``Hall`` object, from config plus the windows' run-time rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from server.config import HallConfig


def hall_view(hall: HallConfig, window_rows: Sequence[Any] | None) -> dict[str, Any]:
    """``Hall`` with zones, queues, lanes, windows and services (no personal data)."""
    return {
        "id": hall.id,
        "name": hall.name,
        "name_en": hall.name_en,
        "org_name": hall.org_name,
        "timezone": hall.timezone,
        "notice": hall.notice,
        "display": {
            "notice": hall.display.notice,
            "notice_en": hall.display.notice_en,
            "english": hall.display.english,
            "show_staff": hall.display.show_staff,
        },
        "zones": [
            {"id": z.id, "name": z.name, "name_en": z.name_en, "location": z.location}
            for z in hall.zones.values()
        ],
        "queues": [
            {
                "id": q.id,
                "prefix": q.prefix,
                "name": q.name,
                "name_en": q.name_en,
                "zone": q.zone,
                "policy": q.policy.mode,
            }
            for q in hall.queues.values()
        ],
        "lanes": [
            {"id": ln.id, "name": ln.name, "name_en": ln.name_en, "issued_by": sorted(ln.issued_by)}
            for ln in hall.lanes.values()
        ],
        "windows": _windows(hall, window_rows),
        "services": [
            {
                "code": s.code,
                "name": s.name,
                "name_en": s.name_en,
                "queue": s.queue,
                "materials": list(s.materials),
                "expected_minutes": s.expected_minutes,
            }
            for s in hall.services.values()
        ],
    }


def _windows(hall: HallConfig, rows: Sequence[Any] | None) -> list[dict[str, Any]]:
    if rows is None:  # the hall list: configured windows, status not read
        return [
            {
                "id": w.id,
                "number": w.number,
                "name": w.name,
                "zone": w.zone,
                "queues": list(w.queues),
                "status": None,
            }
            for w in hall.windows.values()
        ]
    return [
        {
            "id": r.id,
            "number": r.number,
            "name": r.name,
            "zone": r.zone,
            "queues": list(r.queues),
            "status": r.status,
        }
        for r in rows
    ]
