"""The server's guards, as plain ASGI middleware: a token on every request, a cap on every request body.

The token is compared in constant time; it may come as ``Authorization: Bearer <t>``, ``X-Dcmharness-Token: <t>``
or the query parameter ``token=<t>`` (so a browser can open the page from the printed URL). A request without it
is ``401`` before anything is read. A body larger than ``max_body`` bytes is ``413`` (``input_too_large``),
decided from ``Content-Length`` when sent and otherwise while the body streams in, before the app sees it.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qs

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

TOKEN_HEADER = "x-dcmharness-token"
TOKEN_QUERY = "token"


def new_token() -> str:
    """A fresh random token (48 hex digits: 192 bits), as Jupyter prints one at start."""
    return secrets.token_hex(24)


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


def cookie_name(scope: Scope) -> str:
    """The cookie of this server (cookies ignore ports: two servers on one host must not share one)."""
    server = scope.get("server") or ("", 0)
    return f"dcmharness-token-{server[1] or 0}"


def _cookie(scope: Scope, name: str) -> str | None:
    for part in _headers(scope).get("cookie", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def query_token(scope: Scope) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get(TOKEN_QUERY)
    return values[0] if values else None


def presented_token(scope: Scope) -> str | None:
    """The token a request carries (header first, then the query string, then this server's cookie), or None.

    The cookie counts for GET and HEAD only (no side effects): SameSite ignores ports, so a page served by another
    local server (say 127.0.0.1:3000) is "same-site" and its forms would carry the cookie; they cannot POST with it.
    """
    headers = _headers(scope)
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    if TOKEN_HEADER in headers:
        return headers[TOKEN_HEADER].strip()
    safe = scope.get("method") in ("GET", "HEAD")
    return query_token(scope) or (_cookie(scope, cookie_name(scope)) if safe else None)


def token_ok(expected: str, presented: str | None) -> bool:
    return presented is not None and hmac.compare_digest(expected.encode(), presented.encode())


async def send_error(send: Send, status: int, code: str, message: str, field: str | None) -> None:
    """A JSON error in the contract's response shape (``ok: false``, ``error: {code, message, field}``)."""
    body = json.dumps({"ok": False, "error": {"code": code, "message": message, "field": field}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="dcmharness"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TokenGuard:
    """Refuses (401) every HTTP request that does not carry the server's token.

    A request authenticated by ``?token=`` (the URL printed at start, opened in a browser) gets the token as
    this server's cookie (HttpOnly, SameSite=Strict: never sent by another site's page), so that the page can
    open a conformance report under the root without the token in its URL.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not token_ok(self.token, presented_token(scope)):
            await send_error(
                send, 401, "unauthorized", "a valid token is required (see the URL printed at start)", "token"
            )
            return
        if not token_ok(self.token, query_token(scope)) or _cookie(scope, cookie_name(scope)) == self.token:
            await self.app(scope, receive, send)
            return
        cookie = f"{cookie_name(scope)}={self.token}; Path=/; HttpOnly; SameSite=Strict".encode("latin-1")

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie)]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


class BodyLimit:
    """Refuses (413) a request body over ``max_body`` bytes; the app never sees a partial body."""

    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def _refuse(self, send: Send) -> None:
        await send_error(
            send, 413, "input_too_large", f"the request body exceeds --max-upload {self.max_body} bytes", "body"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _headers(scope).get("content-length")
        if declared is not None:
            try:
                too_large = int(declared) > self.max_body
            except ValueError:
                await send_error(send, 400, "invalid_request", "Content-Length is not a number", "body")
                return
            if too_large:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        more = scope.get("method") in ("POST", "PUT", "PATCH")
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._refuse(send)
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
