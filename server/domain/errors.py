"""hallq's one exception tree; the web edge maps ``status`` to HTTP and websocket close codes.

    HallqError (code, message zh, message_en, status, details)
    ├── BadRequest            400  invalid_request, validation_error, body_too_large
    ├── Unauthorized          401  unauthorized, token_expired, login_failed
    ├── Forbidden             403  forbidden, lane_not_allowed, wrong_window, wrong_hall
    ├── NotFound              404  hall_not_found, queue_not_found, window_not_found, …
    ├── Conflict              409  invalid_transition, window_busy, recall_limit, …
    │   └── IssueRefused      409  daily_cap_reached, issuing_stopped, hall_closed
    ├── IdempotencyMismatch   422  idempotency_key_reused
    ├── RateLimited           429  rate_limited (retry_after)
    ├── StoreUnavailable      503  store_unavailable (retry_after)
    ├── voice.RenderFailed    503  voice_unavailable (server/voice: the page speaks instead)
    └── ConfigError           —    a bad config.toml (CLI exit 1, start-up refused)

Messages: ``message`` is Chinese for hall users, ``message_en`` English for operators and
foreign applicants. Both say what was wrong and how to fix it.
"""

from __future__ import annotations

from typing import Any, ClassVar


class HallqError(Exception):
    """Base of every error hallq raises on purpose."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        message_en: str = "",
        *,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message_en or message)
        self.code = code or self.default_code
        self.message = message
        self.message_en = message_en or message
        self.details: dict[str, Any] = details or {}

    def to_json(self) -> dict[str, Any]:
        """The contract's body: ``{"error": {"code", "message", "message_en", "details"}}``."""
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "message_en": self.message_en,
                "details": self.details,
            }
        }


class BadRequest(HallqError):
    status = 400
    default_code = "invalid_request"


class Unauthorized(HallqError):
    status = 401
    default_code = "unauthorized"


class Forbidden(HallqError):
    status = 403
    default_code = "forbidden"


class NotFound(HallqError):
    status = 404
    default_code = "not_found"


class Conflict(HallqError):
    status = 409
    default_code = "conflict"


class IssueRefused(Conflict):
    """Issuing refused by a hall rule (cap, stop-issuing time, closed day)."""

    default_code = "issue_refused"


class IdempotencyMismatch(HallqError):
    status = 422
    default_code = "idempotency_key_reused"


class RateLimited(HallqError):
    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, message_en: str = "", *, retry_after: int = 1) -> None:
        super().__init__(message, message_en, details={"retry_after": retry_after})
        self.retry_after = retry_after


class StoreUnavailable(HallqError):
    status = 503
    default_code = "store_unavailable"

    def __init__(self, message: str, message_en: str = "", *, retry_after: int = 2) -> None:
        super().__init__(message, message_en, details={"retry_after": retry_after})
        self.retry_after = retry_after


class ConfigError(HallqError):
    """A configuration problem: ``problems`` lists each as "file: key: what is wrong. Fix: …"."""

    status = 500
    default_code = "config_invalid"

    def __init__(self, problems: list[str]) -> None:
        text = "\n".join(problems)
        super().__init__(text, text, details={"problems": problems})
        self.problems = problems


def not_found(kind: str, value: str, zh_kind: str) -> NotFound:
    """A 404 naming the unknown thing, e.g. ``not_found("queue", "x", "队列")``."""
    return NotFound(
        f"未找到{zh_kind}「{value}」，请检查编号是否正确。",
        f"Unknown {kind} {value!r}: check the id.",
        code=f"{kind}_not_found",
        details={kind: value},
    )


def invalid_transition(action: str, status: str) -> Conflict:
    """A 409 for an action the ticket's current status does not allow."""
    return Conflict(
        f"当前票号状态为「{status}」，不能执行「{action}」。请刷新后再试。",
        f"Cannot {action} a ticket that is {status}; refresh and try again.",
        code="invalid_transition",
        details={"action": action, "status": status},
    )
