"""The two ASGI middlewares of the service: ``BodyGuard`` (body size and encoding) and ``Observe`` (request ids,
log lines, metrics and the last-resort 500).

They are plain ASGI so that they see the raw body and every response, including the errors they send themselves.
"""

from __future__ import annotations

import json
import logging
import re
import time
import traceback
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cur_nlp_serve.metrics import Metrics
from cur_nlp_serve.schemas import ErrorDetail, ErrorResponse

log = logging.getLogger("cur_nlp.serve")

ROUTES = ("/v1/classify", "/v1/labels", "/health", "/ready", "/metrics", "/docs", "/openapi.json")
"""Paths that get their own ``route`` label when no route matched them (e.g. 405); anything else is ``other``."""

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
"""Methods that get their own ``method`` label; any other (a client can send any token) is ``other``, so that
made-up methods cannot grow the metrics without bound."""

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


async def send_error(send: Send, status: int, error: str, detail: list[ErrorDetail] | None = None) -> None:
    """Answer with an ``ErrorResponse`` body, outside FastAPI (its exception handlers are not reached from here)."""
    body = json.dumps(ErrorResponse(error=error, detail=detail or []).to_dict(), ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def utf8_problem(body: bytes, headers: dict[bytes, bytes]) -> str | None:
    """Why a JSON ``body`` cannot be read as UTF-8, or None when it can (or is not JSON)."""
    content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
    if not body or not (content_type == b"application/json" or content_type.endswith(b"+json")):
        return None
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"request: body is not valid UTF-8 (byte {error.start}); send JSON encoded as UTF-8"
    return None


def replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands out ``body`` (already read) once, then whatever the client sends next."""
    replayed = False

    async def receive_again() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


class BodyGuard:
    """Reads request bodies up front: over ``max_bytes`` → 413; JSON that is not UTF-8 → 422. Then replays it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on with its whole body, or answer 413 / 422 (nothing for a client that left)."""
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        body = await self.read_body(headers, receive, send)
        if body is None:
            return
        problem = utf8_problem(body, headers)
        if problem is not None:
            await send_error(send, 422, problem, [ErrorDetail(loc=[], msg=problem)])
            return
        await self.app(scope, replay(body, receive), send)

    async def read_body(self, headers: dict[bytes, bytes], receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None after answering 413 (declared or streamed too large) or on a disconnect."""
        too_large = f"request body is larger than {self.max_bytes} bytes; send fewer or shorter posts per request"
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await send_error(send, 413, too_large)
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await send_error(send, 413, too_large)
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def request_id(scope: Scope) -> str:
    """The caller's ``X-Request-ID`` when it is a sane token, else a new random one."""
    given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]


class Observe:
    """Request ids, one log line per request (no text), Prometheus counters and latencies, and a 500 without
    details for anything unexpected (only the exception type and stack are logged, never its message)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Run the request with the id header added to its response, then count and log it."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id(scope)
        state: dict[str, Any] = scope.setdefault("state", {})  # handlers add ``items`` and ``chars`` for the log
        state["request_id"] = rid
        status = 500
        response_started = False

        async def send_observed(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception as error:
            status = 500
            stack = "".join(traceback.format_tb(error.__traceback__))
            log.error("request_id=%s unhandled %s\n%s", rid, type(error).__name__, stack)
            if not response_started:
                await send_error(send, 500, f"internal error (request id {rid})")
        finally:
            self.record(scope, state, status, time.perf_counter() - started)

    def record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        """Metrics and the log line of one request: sizes and timings, never the text."""
        route = scope.get("route")
        path = getattr(route, "path", None) or (scope["path"] if scope["path"] in ROUTES else "other")
        method = scope["method"] if scope["method"] in METHODS else "other"
        self.metrics.on_request(path, method, status, seconds)
        items = state.get("items")
        log.info("request_id=%s %s %s status=%d%s ms=%.1f", state["request_id"], method, path, status,
                 f" items={items} chars={state.get('chars', 0)}" if items is not None else "", seconds * 1000)
