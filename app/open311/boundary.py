"""What every answer under /open311/v2 gets, whatever wrote it.

- **The specification's error shape.** The routes write their own errors; what the framework
  or the outer middleware writes (unknown path, wrong method, a body over the limit, a head
  too large, a failure of the server) is RFC 9457 problem+json, rewritten here as
  `[{"code", "description"}]`, or `<errors>` when the path ends in `.xml`. The status keeps
  its meaning (404, 405, 413, 431, 500), mapped as the routes map it (422 is 400).
- **CORS for reading.** Browser-based civic apps may GET from any origin:
  `Access-Control-Allow-Origin: *`, never with credentials, so a browser never attaches
  cookies or remembered HTTP authentication to a readable cross-origin request; a script
  reads only what the api_key it holds itself gives. `Authorization` may be sent (a script
  can as well put its key in the query string; the header keeps it out of logs).
- **No cross-origin POST.** A form POST needs no preflight, so CORS alone would not stop a
  page elsewhere from filing a request with a key the browser remembers; service requests
  come from partners' servers, which send no `Origin`. A POST (or any write) whose `Origin`
  is not the service's own is refused with 403 before it runs.

Installed outermost, so it also sees the answers of the request-context middleware.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.core.errors import PROBLEM_JSON
from app.open311.formats import errors_response, is_xml
from app.open311.router import OPEN311_STATUS, router

logger = logging.getLogger("app.open311")
PREFIX = router.prefix
READ_METHODS = frozenset({"GET"})
CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"Retry-After, X-Request-Id"),
]
PREFLIGHT_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET"),
    (b"access-control-allow-headers", b"Authorization"),
    (b"access-control-max-age", b"7200"),  # the longest Chromium keeps a preflight
    (b"content-length", b"0"),
]
DROPPED_HEADERS = frozenset({b"content-type", b"content-length", b"www-authenticate"})
READ_ONLY = "Cross-origin requests may only read (GET): service requests come from servers."


def origin_of(url: str) -> str:
    """`scheme://host[:port]` as a browser writes it in `Origin` (no default port)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def is_open311(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


class Open311Boundary:
    def __init__(self, app: ASGIApp, *, public_url: str) -> None:
        self.app = app
        self.own_origin = origin_of(public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_open311(scope["path"]):
            await self.app(scope, receive, send)
            return
        xml = is_xml(scope["path"])
        method = scope["method"]
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if method == "OPTIONS" and origin and "access-control-request-method" in headers:
            if headers["access-control-request-method"].upper() in READ_METHODS:
                start = {"type": "http.response.start", "status": 204, "headers": PREFLIGHT_HEADERS}
                await send(start)
                await send({"type": "http.response.body", "body": b""})
            else:
                await errors_response(403, READ_ONLY, xml=xml)(scope, receive, send)
            return
        if method not in READ_METHODS and origin is not None and origin != self.own_origin:
            # Answered before the request context: logged here, the origin included.
            fields = {"method": method, "path": scope["path"], "origin": origin[:200]}
            logger.warning("cross-origin write refused", extra={"fields": fields})
            await errors_response(403, READ_ONLY, xml=xml)(scope, receive, send)
            return
        cors = CORS_HEADERS if method in READ_METHODS else []
        await self.app(scope, receive, _Rewriting(send, xml=xml, cors=cors))


class _Rewriting:
    """A `send` that adds the CORS headers and rewrites a problem+json answer."""

    def __init__(self, send: Send, *, xml: bool, cors: list[tuple[bytes, bytes]]) -> None:
        self.send = send
        self.xml = xml
        self.cors = cors
        self.held: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            content_type = Headers(raw=message.get("headers", [])).get("content-type", "")
            if content_type.startswith(PROBLEM_JSON):
                self.held = message
                return
            message["headers"] = [*message.get("headers", []), *self.cors]
        elif message["type"] == "http.response.body" and self.held is not None:
            self.body += message.get("body", b"")
            if message.get("more_body", False):
                return
            await self._send_rewritten(self.held, self.body)
            return
        await self.send(message)

    async def _send_rewritten(self, start: Message, body: bytes) -> None:
        problem: dict[str, Any] = json.loads(body or b"{}")
        original: int = start["status"]
        status = OPEN311_STATUS.get(original, original)
        description = str(problem.get("detail") or problem.get("title") or "Error")
        if status >= 500 and problem.get("request_id"):
            description += f" Request id: {problem['request_id']}."
        rewritten = errors_response(status, description, xml=self.xml)
        kept = [(k, v) for k, v in start.get("headers", []) if k.lower() not in DROPPED_HEADERS]
        headers = [*rewritten.raw_headers, *kept, *self.cors]
        await self.send({"type": "http.response.start", "status": status, "headers": headers})
        await self.send({"type": "http.response.body", "body": rewritten.body})
