"""The classify service (FastAPI): ``create_app(settings)`` builds it, ``run(...)`` serves it with uvicorn.

Handlers are thin: they validate, hand the posts to the micro-batcher (which calls
``ComplaintClassifier.predict``) and return ``Prediction.to_dict()`` per post. Post texts are personal data:
they are never logged and never repeated in error messages; logs carry request ids, sizes and timings.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import re
import time
import traceback
import uuid
from contextlib import asynccontextmanager
from functools import partial
from typing import Annotated, Any, AsyncIterator, Awaitable, Callable

from fastapi import Body, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from serve.batcher import BatcherClosed, MicroBatcher, QueueFull, model_thread
from serve.schemas import (
    ClassifyRequest,
    ClassifyResponse,
    ErrorDetail,
    ErrorResponse,
    LabelInfo,
    describe_errors,
    request_items,
)
from cur_nlp import __version__ as cur_nlp_version
from serve.settings import Settings

log = logging.getLogger("cur_nlp.serve")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FAKE_DESCRIPTIONS = {
    True: "presents a false or fabricated claim as fact",
    False: "no false claim presented as fact",
}
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
ROUTES = ("/v1/classify", "/v1/labels", "/health", "/ready", "/metrics", "/docs", "/openapi.json")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API keys are configured and X-API-Key is missing or wrong."},
    413: {"model": ErrorResponse, "description": "Body larger than `max_body_bytes` or more than `max_items` posts."},
    422: {"model": ErrorResponse, "description": "Malformed JSON, wrong types or missing text; says which item."},
    503: {"model": ErrorResponse, "description": "Model not loaded yet, overloaded or timed out; retry later."},
}


# --------------------------------------------------------------------------------------------- metrics


class Metrics:
    """Prometheus metrics of one app (its own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("cur_nlp_requests", "HTTP requests by route, method and status.",
                                ["route", "method", "status"], registry=r)
        self.latency = Histogram("cur_nlp_request_duration_seconds", "HTTP request latency by route.", ["route"],
                                 buckets=(0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                                 registry=r)
        self.batch_size = Histogram("cur_nlp_batch_size", "Posts per model call (micro-batches).",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=r)
        self.batch_requests = Histogram("cur_nlp_batch_requests", "Requests merged into one model call.",
                                        buckets=(1, 2, 4, 8, 16, 32, 64), registry=r)
        self.batch_latency = Histogram("cur_nlp_batch_duration_seconds", "Duration of one model call.",
                                       buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10), registry=r)
        self.posts = Counter("cur_nlp_posts", "Posts classified, by outcome.", ["outcome"], registry=r)
        self.errors = Counter("cur_nlp_errors", "Error responses by kind.", ["kind"], registry=r)
        self.queue = Gauge("cur_nlp_queue_posts", "Posts waiting for the model.", registry=r)
        self.model = Info("cur_nlp_model", "The loaded model.", registry=r)

    def on_batch(self, items: int, jobs: int, seconds: float) -> None:
        """Batcher hook: one model call of ``items`` posts from ``jobs`` requests took ``seconds``."""
        self.batch_size.observe(items)
        self.batch_requests.observe(jobs)
        self.batch_latency.observe(seconds)


ERROR_KINDS = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
               422: "validation", 503: "unavailable"}


# --------------------------------------------------------------------------------------------- middleware


def _error_body(status: int, error: str, detail: list[ErrorDetail] | None = None) -> bytes:
    return json.dumps(ErrorResponse(error=error, detail=detail or []).model_dump(), ensure_ascii=False).encode()


async def _send_error(send: Send, status: int, error: str, detail: list[ErrorDetail] | None = None) -> None:
    body = _error_body(status, error, detail)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class BodyGuard:
    """Reads request bodies up front: over ``max_bytes`` → 413; JSON that is not UTF-8 → 422. Then replays it."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = f"request body is larger than {self.max_bytes} bytes; send fewer or shorter posts per request"
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await _send_error(send, 413, too_large)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _send_error(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        content_type = headers.get(b"content-type", b"application/json").split(b";")[0].strip().lower()
        if body and (content_type == b"application/json" or content_type.endswith(b"+json")):
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as error:
                message = f"request: body is not valid UTF-8 (byte {error.start}); send JSON encoded as UTF-8"
                await _send_error(send, 422, message, [ErrorDetail(loc=[], msg=message)])
                return
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


class Observe:
    """Request ids, one log line per request (no text), Prometheus counters and latencies, and a 500 without
    details for anything unexpected (only the exception type and stack are logged, never its message)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        given = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.match(given) else uuid.uuid4().hex[:16]
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 500
        response_started = False

        async def send_observed(message: dict[str, Any]) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message = {**message, "headers": [*message.get("headers", []), (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_observed)
        except Exception as error:
            status = 500
            stack = "".join(traceback.format_tb(error.__traceback__))
            log.error("request_id=%s unhandled %s\n%s", request_id, type(error).__name__, stack)
            if not response_started:
                await _send_error(send, 500, f"internal error (request id {request_id})")
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", None) or (scope["path"] if scope["path"] in ROUTES else "other")
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
            self.metrics.latency.labels(path).observe(elapsed)
            if status >= 400:
                self.metrics.errors.labels(ERROR_KINDS.get(status, "internal" if status >= 500 else "client")).inc()
            items = state.get("items")
            log.info("request_id=%s %s %s status=%d%s ms=%.1f", request_id, scope["method"], path, status,
                     f" items={items} chars={state.get('chars', 0)}" if items is not None else "", elapsed * 1000)


# --------------------------------------------------------------------------------------------- app


def label_sets(classifier: Any) -> dict[str, list[dict[str, Any]]]:
    """The labels of every head of the loaded model, with names and descriptions where the package has them."""
    from cur_nlp.labels import load_topics, load_urgency_levels

    known = {"topic": {t.id: t for t in load_topics()}, "urgency": {u.id: u for u in load_urgency_levels()}}
    sets: dict[str, list[dict[str, Any]]] = {}
    for head in classifier.config.heads:
        if head.type == "binary":
            described = head.name == "fake"
            sets[head.name] = [{"id": value, "description": FAKE_DESCRIPTIONS[value] if described else ""}
                               for value in (True, False)]
            continue
        labels = known.get(head.name, {})
        sets[head.name] = [
            {"id": label, "name": labels[label].name, "description": labels[label].description}
            if label in labels else {"id": label, "name": label, "description": ""}
            for label in head.labels
        ]
    return sets


def create_app(settings: Settings | None = None, classifier: Any | None = None) -> FastAPI:
    """Build the service. The classifier is loaded once, in the lifespan (or pass a ready one, e.g. in tests)."""
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        executor = model_thread()  # load, warm-up and every batch run on this one thread
        clf = classifier
        if clf is None:
            from cur_nlp.classifier import ComplaintClassifier

            locate = settings.resolved_locate()
            started = time.perf_counter()
            clf = await loop.run_in_executor(executor, partial(
                ComplaintClassifier.from_pretrained, settings.model, locate=locate,
                num_threads=settings.num_threads, backend=settings.backend))
            log.info("model %s %s loaded in %.1f s (locate=%s)", clf.config.name, clf.config.version,
                     time.perf_counter() - started, locate)
        if settings.warmup:
            await loop.run_in_executor(executor, clf.predict, ["Во дворе дома открыт люк", " "])
        batcher: MicroBatcher = MicroBatcher(
            partial(clf.predict, batch_size=settings.model_batch_size),
            max_batch=settings.max_batch_size, window_ms=settings.batch_window_ms,
            max_queue=settings.max_queue_items, on_batch=metrics.on_batch, executor=executor,
        )
        await batcher.start()
        metrics.model.info({"name": str(clf.config.name), "version": str(clf.config.version)})
        metrics.queue.set_function(lambda: batcher.queued_items)
        app.state.classifier = clf
        app.state.batcher = batcher
        app.state.labels = label_sets(clf)
        app.state.model_info = {"name": str(clf.config.name), "version": str(clf.config.version)}
        try:
            yield
        finally:
            await batcher.stop()
            executor.shutdown(wait=False, cancel_futures=True)
            app.state.batcher = None
            log.info("service stopped")

    app = FastAPI(
        title="cur_nlp classify API",
        version=cur_nlp_version,
        description="Topic, urgency, fake and places in citizens' posts for regional control centres (ЦУР).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.batcher = None
    app.state.classifier = None

    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                                  description="Required when the service has API keys configured.")

    def require_key(key: str | None = Depends(api_key_header)) -> None:
        """401 unless no keys are configured or the header holds one of them."""
        if not settings.api_keys:
            return
        if key is None or not any(hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys):
            raise HTTPException(401, "missing or invalid API key (header X-API-Key)", headers={"WWW-Authenticate": "ApiKey"})

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
        response = describe_errors(error.errors())
        if isinstance(getattr(error, "body", None), (bytes, bytearray)):
            response = ErrorResponse(error="request: body must be JSON (Content-Type: application/json)",
                                     detail=[ErrorDetail(loc=[], msg="request: body must be JSON")])
        return JSONResponse(response.model_dump(), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(ErrorResponse(error=str(error.detail)).model_dump(), status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    @app.post("/v1/classify", response_model=ClassifyResponse, responses=ERROR_RESPONSES,
              dependencies=[Depends(require_key)], tags=["classify"])
    async def classify(request: Request, body: Annotated[ClassifyRequest, Body()],
                       explain: Annotated[bool, Query(description="Add `explanation`: per head, the words that "
                                                      "pushed the decision (word occlusion; costs one extra "
                                                      "forward pass per word).")] = False) -> Response:
        """Classify posts: topic, urgency, fake and places for each, in input order.

        Send `{"items": [{"id": "...", "text": "..."}, ...]}` or one `{"text": "..."}`. Items without an id get
        their index. Empty posts come back with `empty: true` and null heads; posts longer than the model reads
        come back with `truncated: true`. With `?explain=true` (at most `max_explain_items` posts) each result
        also carries `explanation`.
        """
        items = request_items(body)
        request.state.items = len(items)
        if len(items) > settings.max_items:
            raise HTTPException(413, f"{len(items)} items in one request; the limit is {settings.max_items}")
        if explain and len(items) > settings.max_explain_items:
            raise HTTPException(413, f"explain=true takes at most {settings.max_explain_items} items, got {len(items)}")
        limit = settings.max_text_chars
        texts = [item.text[:limit] for item in items]
        request.state.chars = sum(len(item.text) for item in items)
        batcher: MicroBatcher | None = request.app.state.batcher
        if batcher is None:
            raise HTTPException(503, "model is not loaded yet")
        try:
            predictions = await asyncio.wait_for(batcher.submit(texts), settings.request_timeout_s)
        except QueueFull:
            raise HTTPException(503, "service is overloaded; retry shortly", headers={"Retry-After": "1"}) from None
        except asyncio.TimeoutError:
            raise HTTPException(503, f"no result within {settings.request_timeout_s:g} s; retry shortly",
                                headers={"Retry-After": "1"}) from None
        except BatcherClosed as error:
            raise HTTPException(503, str(error), headers={"Retry-After": "1"}) from None
        explanations: list[dict | None] = [None] * len(items)
        if explain:
            clf = request.app.state.classifier
            explanations = await asyncio.to_thread(
                lambda: [clf.explain(t).to_dict() if t.strip() else None for t in texts])
        results = []
        for index, (item, prediction) in enumerate(zip(items, predictions)):
            data = prediction.to_dict()
            if explain:
                data["explanation"] = explanations[index]
            if len(item.text) > limit and not prediction.empty:
                data["truncated"] = True
            results.append({"id": index if item.id is None else item.id, **data})
            metrics.posts.labels("empty" if prediction.empty else "truncated" if data["truncated"] else "ok").inc()
        return JSONResponse({"model": request.app.state.model_info, "results": results})

    @app.get("/v1/labels", response_model=dict[str, list[LabelInfo]], dependencies=[Depends(require_key)],
             responses={401: ERROR_RESPONSES[401], 503: ERROR_RESPONSES[503]}, tags=["classify"])
    async def labels(request: Request) -> Response:
        """The label sets of the loaded model (topics and urgency levels with names and definitions; fake)."""
        if request.app.state.classifier is None:
            raise HTTPException(503, "model is not loaded yet")
        return JSONResponse(request.app.state.labels)

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers (with the cur_nlp library version)."""
        return {"status": "ok", "cur_nlp": cur_nlp_version}

    @app.get("/ready", tags=["operations"], responses={503: ERROR_RESPONSES[503]})
    async def ready(request: Request) -> Response:
        """Readiness: the model is loaded and the batcher runs (503 otherwise)."""
        batcher = request.app.state.batcher
        if batcher is None or not batcher.running:
            return JSONResponse(ErrorResponse(error="model is not loaded").model_dump(), status_code=503)
        return JSONResponse({"status": "ready", "model": request.app.state.model_info})

    @app.get("/metrics", tags=["operations"], response_class=Response)
    async def metrics_endpoint() -> Response:
        """Prometheus metrics: requests, latencies, batch sizes, posts, errors, queue."""
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    app.add_middleware(BodyGuard, max_bytes=settings.max_body_bytes)
    app.add_middleware(Observe, metrics=metrics)
    return app


def setup_logging(level: str = "info") -> None:
    """Plain log lines on stderr for the ``cur_nlp`` loggers."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: settings from the environment, logging set up in the worker."""
    settings = Settings()
    setup_logging(settings.log_level)
    return create_app(settings)


def run(host: str | None = None, port: int | None = None, model: str | os.PathLike | None = None,
        workers: int | None = None) -> None:
    """Serve with uvicorn; arguments left as None come from ``CUR_NLP_*`` settings (defaults 127.0.0.1:8000)."""
    import uvicorn

    overrides = {"host": host, "port": port, "model": model, "workers": workers}
    settings = Settings(**{k: v for k, v in overrides.items() if v is not None})
    setup_logging(settings.log_level)
    if settings.workers == 1:
        uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False,
                    log_level=settings.log_level, timeout_graceful_shutdown=10)
        return
    # worker processes build their own app from the environment
    for key, value in overrides.items():
        if value is not None:
            os.environ[f"CUR_NLP_{key.upper()}"] = str(value)
    uvicorn.run("serve.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, access_log=False, log_level=settings.log_level,
                timeout_graceful_shutdown=10)
