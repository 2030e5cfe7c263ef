"""Protections every request gets before and after its route, installed once by `create_app`.

- Body size: a body over the limit is refused with 413 before any route reads it, whether it
  declares its length or arrives chunked. JSON and forms get `GRIDGOV_API_MAX_BODY_BYTES`;
  multipart uploads and channel pushes (their photos travel inline) `GRIDGOV_API_MAX_UPLOAD_BYTES`.
- Security headers on every answer: a Content-Security-Policy that lets pages load only their own
  scripts, styles, images and workers (MapLibre builds its workers from blob: URLs; map images
  may be data: or blob:), no framing, no MIME sniffing, no referrer to other sites, and only
  geolocation and the camera, for this site alone (the worker and resident pages need them).
- Cross-site cookie requests: a state-changing request that carries the session cookie (or signs
  in) from a page of another origin is refused with 403 before it reaches the route. This is in
  addition to the session's CSRF token (gridgov/api/auth.py); bearer tokens and Open311's API keys
  are never sent by a browser on its own, so those requests are left alone.
- The documented error body: every operation's 4xx answers are declared as `ErrorBody` in OpenAPI
  (Open311 keeps the spec's own format), so clients and schemathesis check the real shape.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from gridgov.api.auth import SESSION_COOKIE
from gridgov.api.errors import ErrorBody, error_responses
from gridgov.config import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
SIGN_IN_PATHS = ("/api/v1/auth/sign-in", "/api/v1/auth/tokens")
UPLOAD_PREFIXES = ("/api/v1/intake/",)
OPEN311_PREFIX = "/open311/"
# FastAPI's own documentation pages load Swagger UI and ReDoc from their CDN with inline scripts.
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; "
    "connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'self'"
)


@dataclass(frozen=True, slots=True)
class HardeningOptions:
    max_body_bytes: int = 1024 * 1024
    max_upload_bytes: int = 16 * 1024 * 1024
    map_origins: tuple[str, ...] = ()  # a base map's tile server, if the city configures one

    @classmethod
    def from_settings(cls, settings: Settings) -> HardeningOptions:
        origin = _origin(settings.basemap_url)
        return cls(
            max_body_bytes=settings.api_max_body_bytes,
            max_upload_bytes=settings.api_max_upload_bytes,
            map_origins=(origin,) if origin else (),
        )


def content_security_policy(map_origins: tuple[str, ...] = ()) -> str:
    extra = "".join(f" {o}" for o in map_origins)
    return (
        "default-src 'self'; "
        "script-src 'self'; "
        "style-src 'self'; "
        f"img-src 'self' data: blob:{extra}; "
        "font-src 'self'; "
        f"connect-src 'self'{extra}; "
        "worker-src 'self' blob:; "
        "child-src 'self' blob:; "
        "frame-ancestors 'none'; "
        "form-action 'self'; "
        "base-uri 'self'; "
        "object-src 'none'"
    )


def install_hardening(app: FastAPI, options: HardeningOptions) -> None:
    """Add the middleware (outermost: headers, then the origin check, then the body limit) and
    the error documentation."""
    app.add_middleware(BodyLimit, options=options)
    app.add_middleware(CrossSiteCookies)
    app.add_middleware(SecurityHeaders, policy=content_security_policy(options.map_origins))
    document_errors(app)


class BodyLimit:
    """Refuse a request body over its limit with 413, reading at most the limit plus one chunk."""

    def __init__(self, app: ASGIApp, *, options: HardeningOptions) -> None:
        self.app = app
        self.options = options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not (declared.isascii() and declared.isdigit()):
                await _refuse(scope, send, 400, "Content-Length 无效 / malformed", "Content-Length")
                return
            if int(declared) > limit:
                await _too_large(scope, send, limit)
                return
        # Read the whole body first (at most `limit` bytes are kept), then replay it: a chunked
        # body has no length to check, and a route must never see part of a refused one.
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                # The client went away; the route sees the same.
                await self.app(scope, _replay([], message, receive), send)
                return
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await _too_large(scope, send, limit)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole: Message = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], None, receive), send)

    def _limit(self, scope: Scope) -> int:
        kind = (_header(scope, b"content-type") or "").lower()
        path = str(scope.get("path", ""))
        if kind.startswith("multipart/form-data") or path.startswith(UPLOAD_PREFIXES):
            return self.options.max_upload_bytes
        return self.options.max_body_bytes


def _replay(messages: list[Message], last: Message | None, receive: Receive) -> Receive:
    """A `receive` that gives the buffered messages, then defers to the real one (disconnects)."""
    pending = [*messages, *([last] if last is not None else [])]

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


class CrossSiteCookies:
    """Refuse state-changing cookie requests (and sign-ins) sent from another origin's page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._cross_site(scope):
            await _refuse(
                scope,
                send,
                403,
                "拒绝来自其他网站的请求 / a request from another site's page is refused",
                "Origin",
            )
            return
        await self.app(scope, receive, send)

    def _cross_site(self, scope: Scope) -> bool:
        if scope.get("method") not in UNSAFE_METHODS:
            return False
        path = str(scope.get("path", ""))
        if path.startswith(OPEN311_PREFIX) or _header(scope, b"authorization") is not None:
            return False
        cookies = _header(scope, b"cookie") or ""
        if f"{SESSION_COOKIE}=" not in cookies and not path.startswith(SIGN_IN_PATHS):
            return False
        source = _header(scope, b"origin") or _header(scope, b"referer")
        if source is None:
            # Browsers send Origin on every cross-origin POST; without it this is not one of them
            # (a script or a same-origin form from an old browser), and the CSRF token still holds.
            return False
        host = _header(scope, b"host")
        return source == "null" or host is None or urlsplit(source).netloc.lower() != host.lower()


class SecurityHeaders:
    """Add the security headers to every answer that does not set its own."""

    def __init__(self, app: ASGIApp, *, policy: str) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = str(scope.get("path", ""))
        headers = [
            (b"content-security-policy", (DOCS_CSP if path in DOCS_PATHS else self.policy)),
            (b"x-content-type-options", "nosniff"),
            (b"x-frame-options", "DENY"),
            (b"referrer-policy", "same-origin"),
            (b"permissions-policy", "geolocation=(self), camera=(self), microphone=()"),
            (b"cross-origin-opener-policy", "same-origin"),
        ]
        if scope.get("scheme") == "https":
            headers.append((b"strict-transport-security", "max-age=31536000"))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(n, v.encode("latin-1")) for n, v in headers if n not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _origin(url: str) -> str | None:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    # A tile URL template's host may hold {s} subdomains; the policy needs a host pattern.
    netloc = parts.netloc.replace("{s}", "*")
    return f"{parts.scheme}://{netloc}"


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await _refuse(
        scope,
        send,
        413,
        f"请求体超过 {limit} 字节 / the request body is larger than {limit} bytes",
        "body",
    )


async def _refuse(scope: Scope, send: Send, status: int, problem: str, field: str) -> None:
    if str(scope.get("path", "")).startswith(OPEN311_PREFIX):
        # Open311 clients read errors in the spec's own shape.
        body = json.dumps([{"code": status, "description": f"{field}: {problem}"}])
    else:
        body = json.dumps({"error": {"field": field, "problem": problem}})
    data = body.encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json; charset=utf-8"),
                (b"content-length", str(len(data)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": data})


def document_errors(app: FastAPI) -> None:
    """Declare `ErrorBody` for every operation's 4xx answers in the OpenAPI document."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()
        _declare_errors(schema)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _declare_errors(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    own = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(own.pop("$defs", {}))
    components.setdefault("ErrorBody", own)
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    declared = error_responses(413, 422)
    for path, item in schema.get("paths", {}).items():
        open311 = path.startswith(OPEN311_PREFIX)
        for method, operation in item.items():
            responses = operation.setdefault("responses", {})
            takes_input = bool(operation.get("parameters")) or "requestBody" in operation
            for status, entry in declared.items():
                key = str(status)
                if status == 413 and method.upper() not in UNSAFE_METHODS:
                    continue
                if status == 422 and not takes_input and key not in responses:
                    continue
                current = responses.get(key)
                if current is not None and "HTTPValidationError" not in json.dumps(current):
                    continue
                if open311 and status == 413:
                    responses[key] = {
                        "description": str(entry["description"]),
                        "content": {"application/json": {"schema": _OPEN311_ERRORS}},
                    }
                    continue
                responses[key] = {
                    "description": str(entry["description"]),
                    "content": {"application/json": {"schema": ref}},
                }
    text = json.dumps(schema.get("paths", {}))
    for unused in ("HTTPValidationError", "ValidationError"):
        if f"/{unused}" not in text:
            components.pop(unused, None)


_OPEN311_ERRORS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
