"""Request bodies: size-limited, strictly typed (pydantic), every bad field named in details."""

from __future__ import annotations

import json
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request

from server.domain.errors import BadRequest

M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class IssueBody(Body):
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    service: str | None = Field(default=None, min_length=1, max_length=64)
    lane: str = Field(default="normal", min_length=1, max_length=32)
    channel: str | None = Field(default=None, max_length=16)


class CallNextBody(Body):
    finish_current: bool = False


class CallNumberBody(Body):
    number: str = Field(min_length=2, max_length=16, pattern=r"^[A-Za-z]{1,2}\d{1,5}$")


class FinishBody(Body):
    outcome: Literal["accepted", "completed", "consulted", "supplement", "rejected"] | None = None


class TransferBody(Body):
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    window: str | None = Field(default=None, min_length=1, max_length=64)


class PauseBody(Body):
    reason: str = Field(min_length=1, max_length=100)


class EvaluationBody(Body):
    rating: int = Field(ge=1, le=5)
    reasons: list[str] = Field(default_factory=list, max_length=10)
    comment: str | None = Field(default=None, max_length=500)


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class EmptyBody(Body):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing more than ``limit`` bytes without reading them all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> BadRequest:
    return BadRequest(
        f"请求内容过大（上限 {limit // 1024} KB）。",
        f"Request body over {limit} bytes.",
        code="body_too_large",
        details={"limit": limit},
    )


def parse(model: type[M], raw: bytes) -> M:
    """Validate a JSON body; an empty body means ``{}``."""
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(
            "请求内容不是有效的 JSON。", "The body is not valid JSON.", code="invalid_json"
        ) from None
    if not isinstance(data, dict):
        raise BadRequest(
            "请求内容须为 JSON 对象。",
            "The body must be a JSON object.",
            code="validation_error",
            details={"fields": {"$": "object expected"}},
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {".".join(str(p) for p in e["loc"]) or "$": e["msg"] for e in exc.errors()}
        raise BadRequest(
            "请求参数有误：" + "、".join(fields),
            "Invalid fields: " + ", ".join(fields),
            code="validation_error",
            details={"fields": fields},
        ) from None
