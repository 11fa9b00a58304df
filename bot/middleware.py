"""Cross-cutting HTTP concerns: body size limit, JSON-only chat, access log, headers.

Pure ASGI middleware, so the body is counted as it streams in and never buffered twice.
The access log carries method, path (no query string), status and latency: never a body.
"""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .config import Settings

access_log = logging.getLogger("signpost.access")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), interest-cohort=()"),
]
PAGE_CSP = (
    b"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
    b"script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'; "
    b"object-src 'none'"
)
API_CSP = b"default-src 'none'; frame-ancestors 'none'"
DOCS_CSP = (
    b"default-src 'self'; script-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; "
    b"style-src 'self' https://cdn.jsdelivr.net 'unsafe-inline'; img-src 'self' data: "
    b"https://fastapi.tiangolo.com; frame-ancestors 'none'"
)


async def _send_json(send: Send, status: int, detail: str, extra: list | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers + (extra or [])})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class GuardMiddleware:
    """413 for bodies over the limit; 415 for a chat body that is not JSON."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_big = int(length) > self.max_body
            except ValueError:
                await _send_json(send, 400, "invalid Content-Length header")
                return
            if too_big:
                await _send_json(send, 413, f"request body larger than {self.max_body} bytes")
                return
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if scope["path"].startswith("/api/") and ctype != b"application/json":
            await _send_json(send, 415, "send the request body as application/json")
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise _TooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await _send_json(send, 413, f"request body larger than {self.max_body} bytes")


class HeadersAndLogMiddleware:
    """Security headers on every response, and an access log line with no content."""

    def __init__(self, app: ASGIApp, json_logs: bool = False) -> None:
        self.app = app
        self.json_logs = json_logs

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope["path"]
        status = 500

        async def wrapped(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() not in (b"set-cookie", b"server")
                ]
                headers += SECURITY_HEADERS
                if path.startswith(("/docs", "/redoc")):
                    headers.append((b"content-security-policy", DOCS_CSP))
                elif path == "/" or path.endswith(".html"):
                    headers.append((b"content-security-policy", PAGE_CSP))
                else:
                    headers.append((b"content-security-policy", API_CSP))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, wrapped)
        finally:
            ms = (time.perf_counter() - start) * 1000
            if self.json_logs:
                access_log.info(
                    json.dumps(
                        {"method": scope["method"], "path": path, "status": status, "ms": round(ms, 2)}
                    )
                )
            else:
                access_log.info("%s %s %d %.1fms", scope["method"], path, status, ms)


def install_middleware(app: FastAPI, settings: Settings) -> None:
    # Order: the last added runs first, so headers/log wrap everything, including 413s.
    app.add_middleware(GuardMiddleware, max_body=settings.max_body_bytes)
    app.add_middleware(HeadersAndLogMiddleware, json_logs=settings.log_format == "json")
