"""Security headers on every response: a Content-Security-Policy that lets a page load from
the service's own origin only (plus the map tiles' host), and the usual hardening headers.

Nothing is inline (no script, no style attribute, no eval: htmx is configured without them)
but the printable minutes' stylesheet, allowed by its digest, so the policy needs no
'unsafe-*' source.
"""

from __future__ import annotations

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send


def content_security_policy(tiles_origin: str | None, style_hashes: tuple[str, ...] = ()) -> str:
    """`style_hashes`: inline style elements allowed by their digest (the printable minutes,
    a page meant to be saved and read on its own, carry their stylesheet)."""
    images = " ".join(filter(None, ("'self'", "data:", tiles_origin)))
    styles = " ".join(("'self'", *(f"'{digest}'" for digest in style_hashes)))
    return "; ".join(
        (
            "default-src 'self'",
            "script-src 'self'",
            f"style-src {styles}",
            f"img-src {images}",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )


class SecurityHeadersMiddleware:
    def __init__(
        self, app: ASGIApp, *, tiles_origin: str | None, style_hashes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        policy = content_security_policy(tiles_origin, style_hashes)
        self.headers = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(header for header in self.headers if header[0] not in present),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class CompressPages:
    """gzip for what browsers load (the console's pages, static files, /docs): DSFR's
    stylesheet is 700 KiB, 100 KiB compressed. The API's JSON stays as it is (machines on a
    LAN; compressing it would cost more CPU than it saves)."""

    def __init__(self, app: ASGIApp, *, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes
        self.gzip = GZipMiddleware(app, minimum_size=1024, compresslevel=6)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)
