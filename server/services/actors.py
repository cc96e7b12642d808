"""Who is acting: a device or a staff member, with the hall and window their credential binds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from server.domain.errors import Forbidden

ActorKind = Literal["device", "staff", "system", "public"]
STAFF_ROLES = frozenset({"staff", "guide", "manager", "admin"})
DEVICE_ROLES = frozenset({"kiosk", "display", "terminal", "evaluator"})
# Roles that may run any window of their hall (admin: of every hall).
SUPERVISORS = frozenset({"manager", "admin"})


@dataclass(frozen=True, slots=True)
class Actor:
    """The authenticated caller. Hall and window come from here, never from a payload."""

    kind: ActorKind
    id: str
    role: str
    hall: str | None = None
    window: str | None = None
    zone: str | None = None
    name: str = ""
    token_hash: str | None = None  # staff sessions: which session row to bind a window to

    @property
    def audit_id(self) -> str:
        return f"{self.kind}:{self.id}"

    def require_hall(self, hall_id: str) -> None:
        """Refuse an actor bound to another hall (admins and the system act everywhere)."""
        if self.role == "admin" or self.kind == "system":
            return
        if self.hall != hall_id:
            raise Forbidden(
                "此凭证不属于该大厅，无法操作。请使用本大厅的设备或账号。",
                f"This credential belongs to hall {self.hall!r}, not {hall_id!r}.",
                code="wrong_hall",
            )

    def require_role(self, *roles: str) -> None:
        """Refuse unless the actor has one of ``roles`` (admin and system always pass)."""
        if self.role in roles or self.role == "admin" or self.kind == "system":
            return
        raise Forbidden(
            "您的角色无权执行此操作，请联系大厅管理员。",
            f"Role {self.role!r} may not do this; needs one of {', '.join(roles)}.",
            code="forbidden",
            details={"role": self.role, "allowed": list(roles)},
        )

    def require_window(self, hall_id: str, window_id: str) -> None:
        """Terminals and staff act on their own window only; managers on any in their hall."""
        self.require_hall(hall_id)
        if self.role in SUPERVISORS or self.kind == "system":
            return
        self.require_role("terminal", "staff", "guide")
        if self.window != window_id:
            raise Forbidden(
                f"您只能操作本窗口（{self.window or '未签入窗口'}），不能操作窗口 {window_id}。",
                f"This credential acts on window {self.window!r} only, not {window_id!r}.",
                code="wrong_window",
                details={"window": window_id, "own_window": self.window},
            )


SYSTEM = Actor(kind="system", id="hallq", role="system")
