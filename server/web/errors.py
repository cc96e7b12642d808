"""Translates the exception tree to the contract's JSON errors, in one place."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from server.domain.errors import HallqError, RateLimited, StoreUnavailable

log = logging.getLogger("hallq.web")


def error_response(exc: HallqError) -> JSONResponse:
    headers = {}
    if isinstance(exc, RateLimited | StoreUnavailable):
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse(exc.to_json(), status_code=exc.status, headers=headers)


async def hallq_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HallqError)
    if exc.status >= 500:
        log.warning("%s: %s", exc.code, exc.message_en)
    return error_response(exc)


async def http_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    zh = {404: "找不到该地址，请检查网址。", 405: "不支持该请求方法。"}.get(
        exc.status_code, "请求无效。"
    )
    body = {"error": {"code": code, "message": zh, "message_en": str(exc.detail), "details": {}}}
    return JSONResponse(body, status_code=exc.status_code)


async def unexpected_error(_request: Request, exc: Exception) -> Response:
    # Operators get the traceback in the log; clients get a sentence, never a traceback.
    log.exception("unhandled error: %s", type(exc).__name__)
    body = {
        "error": {
            "code": "internal_error",
            "message": "系统内部错误，请稍后重试或联系管理员。",
            "message_en": "Internal error; the operator log has details.",
            "details": {},
        }
    }
    return JSONResponse(body, status_code=500)
