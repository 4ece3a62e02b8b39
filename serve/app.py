"""The classify service (FastAPI): ``create_app(settings)`` builds it, ``run(...)`` serves it with uvicorn.

Post texts are personal data: they are never logged and never repeated in error messages; logs carry request
ids, sizes and timings. The pieces: ``routes`` (the endpoints), ``middleware`` (body guard, request ids, logs,
metrics), ``metrics``, ``schemas``, ``settings``, ``batcher`` (micro-batching) and ``labels``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, AsyncIterator

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException

from cur_nlp import __version__ as cur_nlp_version
from cur_nlp.incidents import GroupingSettings
from cur_nlp.incidents.store import IncidentStore
from cur_nlp.routing import RoutingTable
from cur_nlp_serve.batcher import MicroBatcher, model_thread
from cur_nlp_serve.labels import label_sets
from cur_nlp_serve.metrics import Metrics
from cur_nlp_serve.middleware import BodyGuard, Observe
from cur_nlp_serve.fakes_routes import router as fakes_router
from cur_nlp_serve.incidents_routes import router as incidents_router
from cur_nlp_serve.routes import REQUEST_MODELS, router
from cur_nlp_serve.schemas import ErrorDetail, ErrorResponse, describe_errors
from cur_nlp_serve.settings import Settings

if TYPE_CHECKING:
    from cur_nlp import ComplaintClassifier

log = logging.getLogger("cur_nlp.serve")


async def load_classifier(settings: Settings, executor: ThreadPoolExecutor) -> ComplaintClassifier:
    """Load ``settings.model`` on the model thread (logged with the load time)."""
    from cur_nlp import ComplaintClassifier

    locate = settings.resolved_locate()
    started = time.perf_counter()
    clf = await asyncio.get_running_loop().run_in_executor(executor, partial(
        ComplaintClassifier.from_pretrained, settings.model, locate=locate,
        num_threads=settings.num_threads, backend=settings.backend, registry=settings.registry))
    log.info("model %s %s loaded in %.1f s (locate=%s)", clf.config.name, clf.config.version,
             time.perf_counter() - started, locate)
    return clf


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Load the model (unless ``create_app`` was given one) and warm it up, then run the batcher while serving."""
    settings: Settings = app.state.settings
    metrics: Metrics = app.state.metrics
    if settings.open_to_the_network():
        log.warning("authentication is off (CUR_NLP_API_KEYS is empty) and the service listens on %s, not only on "
                    "loopback: anyone who reaches the port can classify; set CUR_NLP_API_KEYS", settings.host)
    executor = model_thread()  # load, warm-up and every batch run on this one thread
    clf = app.state.preloaded_classifier
    if clf is None:
        clf = await load_classifier(settings, executor)
    if settings.warmup:
        await asyncio.get_running_loop().run_in_executor(executor, clf.predict, ["Во дворе дома открыт люк", " "])
    batcher: MicroBatcher = MicroBatcher(
        partial(clf.predict, batch_size=settings.model_batch_size),
        max_batch=settings.max_batch_size, window_ms=settings.batch_window_ms,
        max_queue=settings.max_queue_items, on_batch=metrics.on_batch, executor=executor,
    )
    app.state.routes = RoutingTable.from_file(settings.routes) if settings.routes else None
    app.state.incidents = IncidentStore.open(settings.incidents_location(), GroupingSettings(
        **({"quiet_hours": settings.incidents_quiet_hours} if settings.incidents_quiet_hours else {})))
    await batcher.start()
    model_info = {"name": str(clf.config.name), "version": str(clf.config.version)}
    metrics.on_model(model_info, lambda: batcher.queued_items)
    app.state.classifier = clf
    app.state.model_executor = executor
    app.state.batcher = batcher
    app.state.labels = label_sets(clf)
    app.state.model_info = model_info
    try:
        yield
    finally:
        await batcher.stop()
        executor.shutdown(wait=False, cancel_futures=True)
        app.state.batcher = None
        app.state.incidents.engine.dispose()
        log.info("service stopped")


async def on_validation_error(request: Request, error: RequestValidationError) -> JSONResponse:
    """422 with one message per problem (the first ``max_errors``), naming the item and never repeating its text."""
    response = describe_errors(error.errors(), request.app.state.settings.max_errors)
    if isinstance(getattr(error, "body", None), (bytes, bytearray)):  # the body is not JSON at all
        response = ErrorResponse(error="request: body must be JSON (Content-Type: application/json)",
                                 detail=[ErrorDetail(loc=[], msg="request: body must be JSON")])
    return JSONResponse(response.to_dict(), status_code=422)


async def on_http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
    """Every HTTP error (ours, 404, 405) as an ``ErrorResponse``."""
    return JSONResponse(ErrorResponse(error=str(error.detail)).to_dict(), status_code=error.status_code,
                        headers=getattr(error, "headers", None))


def document_request_models(app: FastAPI) -> None:
    """Add the request models to the app's OpenAPI components: the classify handler reads its body itself (off the
    event loop), so FastAPI does not see them, and the spec refers to them from the request body."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            build().setdefault("components", {}).setdefault("schemas", {}).update(REQUEST_MODELS)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def create_app(settings: Settings | None = None, classifier: ComplaintClassifier | None = None) -> FastAPI:
    """Build the service. The classifier is loaded once, in the lifespan (or pass a ready one, e.g. in tests)."""
    settings = settings or Settings()
    metrics = Metrics()
    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from files shipped in the package, not from a CDN
    app = FastAPIOffline(
        title="cur_nlp classify API",
        version=cur_nlp_version,
        description="Topic, urgency, fake and places in citizens' posts for regional control centres (ЦУР).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.preloaded_classifier = classifier
    app.state.batcher = None
    app.state.classifier = None
    app.state.incidents = None
    app.state.routes = None
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.include_router(router)
    app.include_router(fakes_router)
    app.include_router(incidents_router)
    document_request_models(app)
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
    uvicorn.run("cur_nlp_serve.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                workers=settings.workers, access_log=False, log_level=settings.log_level,
                timeout_graceful_shutdown=10)
