"""Per-request context: request id, JSON log lines, body size limit."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from app.core.metrics import Metrics

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
_REQUEST_ID_PATTERN = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_logger = logging.getLogger("app.access")
# What nginx allows by default (four 8 KiB buffers); the server protocol (`app.core.server`)
# closes a connection whose head grows past it before the app sees it.
MAX_HEADER_BYTES = 32 * 1024


def current_request_id() -> str | None:
    return _request_id.get()


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            # RFC 3339, in UTC, to the millisecond: lines of several hosts sort together.
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": current_request_id(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit (FastAPI re-raises it)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"The request body exceeds {limit} bytes.")


class RequestContextMiddleware:
    """Request id in and out, one JSON access line per request, and the body limit.

    The limit is checked on Content-Length first, then on the bytes actually received
    (chunked bodies), so a large body is refused before it is parsed.
    """

    def __init__(
        self, app: ASGIApp, *, max_body_bytes: int, metrics: Metrics | None = None
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        from app.core.errors import (  # errors imports this module
            problem_response,
            unexpected_error_response,
        )

        headers = dict(scope["headers"])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID_PATTERN.match(given) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        scope.setdefault("state", {})
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode("latin-1")),
                ]
            await send(message)

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
            return message

        too_large = f"The request body exceeds {self.max_body_bytes} bytes."
        head = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
        head += sum(len(name) + len(value) + 4 for name, value in scope["headers"])
        try:
            if head > MAX_HEADER_BYTES:
                response = problem_response(
                    431,
                    slug="headers-too-large",
                    title="Request Header Fields Too Large",
                    detail=f"The request line and headers exceed {MAX_HEADER_BYTES} bytes.",
                )
                await response(scope, receive, send_with_id)
                return
            length = headers.get(b"content-length", b"")
            if length.isdigit() and int(length) > self.max_body_bytes:
                response = problem_response(
                    413, slug="payload-too-large", title="Content Too Large", detail=too_large
                )
                await response(scope, receive, send_with_id)
                return
            await self.app(scope, limited_receive, send_with_id)
        except Exception as exc:
            if response_started:
                raise
            if isinstance(exc, BodyTooLarge):
                response = problem_response(
                    413, slug="payload-too-large", title="Content Too Large", detail=too_large
                )
            else:
                response = unexpected_error_response(exc)
            await response(scope, receive, send_with_id)
        finally:
            state = scope.get("state", {})
            seconds = time.perf_counter() - started
            # The caller's address as uvicorn gives it: X-Forwarded-For is honoured only
            # from the proxies FORWARDED_ALLOW_IPS names (README, "Behind a proxy").
            client = scope.get("client")
            access_logger.info(
                "request",
                extra={
                    "fields": {
                        "request_id": request_id,
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "duration_ms": round(seconds * 1000, 2),
                        "client": client[0] if client else None,
                        "user_id": state.get("user_id"),
                    }
                },
            )
            if self.metrics is not None:
                self.metrics.observe(scope, status, seconds)
            _request_id.reset(token)
