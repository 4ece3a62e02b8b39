"""The endpoints: ``/v1/classify`` and ``/v1/labels`` (behind the API key when keys are set) and the operations
endpoints ``/health``, ``/ready`` and ``/metrics``.

Handlers are thin: they check limits, hand the posts to the micro-batcher (which calls
``ComplaintClassifier.predict``) and return ``Prediction.to_dict()`` per post. What they need comes from
``app.state`` (set by ``create_app`` and the lifespan), through the dependencies below.
"""

from __future__ import annotations

import asyncio
import hmac
from typing import TYPE_CHECKING, Annotated, Any, Awaitable, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader

from cur_nlp import __version__ as cur_nlp_version
from cur_nlp_serve.batcher import BatcherClosed, QueueFull
from cur_nlp_serve.body import read_classify_body
from cur_nlp_serve.explaining import explain_posts
from cur_nlp_serve.metrics import Metrics
from cur_nlp_serve.schemas import ClassifyResponse, ErrorResponse, Item, LabelInfo, classify_request_schema
from cur_nlp_serve.settings import Settings

if TYPE_CHECKING:
    from cur_nlp import Prediction

T = TypeVar("T")

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "API keys are configured and X-API-Key is missing or wrong."},
    413: {"model": ErrorResponse, "description": "Body larger than `max_body_bytes` or more than `max_items` posts."},
    422: {"model": ErrorResponse, "description": "Malformed JSON, wrong types or missing text; says which item."},
    503: {"model": ErrorResponse, "description": "Model not loaded yet, overloaded or timed out; retry later."},
}
"""The error statuses as the OpenAPI spec documents them."""

CLASSIFY_SCHEMA, REQUEST_MODELS = classify_request_schema()
CLASSIFY_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": CLASSIFY_SCHEMA}}}}
"""The request body as the OpenAPI spec documents it (the handler reads it itself; ``REQUEST_MODELS`` go into the
spec's components, see ``app.create_app``)."""

NOT_LOADED = "model is not loaded yet"
RETRY = {"Retry-After": "1"}

router = APIRouter()


def app_settings(request: Request) -> Settings:
    """The settings the app was created with."""
    return request.app.state.settings


def app_metrics(request: Request) -> Metrics:
    """The app's Prometheus metrics."""
    return request.app.state.metrics


AppSettings = Annotated[Settings, Depends(app_settings)]
AppMetrics = Annotated[Metrics, Depends(app_metrics)]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                              description="Required when the service has API keys configured.")


def require_key(settings: AppSettings, key: Annotated[str | None, Depends(api_key_header)]) -> None:
    """401 unless no keys are configured or the header holds one of them."""
    if not settings.api_keys:
        return
    if key is None or not any(hmac.compare_digest(key.encode(), k.encode()) for k in settings.api_keys):
        raise HTTPException(401, "missing or invalid API key (header X-API-Key)", headers={"WWW-Authenticate": "ApiKey"})


async def model_result(work: Awaitable[T], timeout_s: float, what: str = "result") -> T:
    """``work`` queued for the model, within ``timeout_s``; else 503 (overloaded, too slow, stopping)."""
    try:
        return await asyncio.wait_for(work, timeout_s)
    except QueueFull:
        raise HTTPException(503, "service is overloaded; retry shortly", headers=RETRY) from None
    except asyncio.TimeoutError:
        raise HTTPException(503, f"no {what} within {timeout_s:g} s; retry shortly", headers=RETRY) from None
    except BatcherClosed as error:
        raise HTTPException(503, str(error), headers=RETRY) from None


def result_row(index: int, item: Item, prediction: Prediction, limit: int) -> dict[str, Any]:
    """``Prediction.to_dict()`` after the item's id (its index by default); ``truncated`` also when the text was
    cut at ``limit`` characters."""
    data = prediction.to_dict()
    if len(item.text) > limit and not prediction.empty:
        data["truncated"] = True
    return {"id": index if item.id is None else item.id, **data}


@router.post("/v1/classify", response_model=ClassifyResponse, responses=ERROR_RESPONSES,
             dependencies=[Depends(require_key)], tags=["classify"], openapi_extra=CLASSIFY_BODY)
async def classify(request: Request, settings: AppSettings, metrics: AppMetrics,
                   explain: Annotated[bool, Query(description="Add `explanation`: per head, the words that "
                                                  "pushed the decision (word occlusion: one more text to score "
                                                  "per word; at most `max_explain_items` posts and the first "
                                                  "`max_explain_words` words of each).")] = False) -> Response:
    """Classify posts: topic, urgency, fake and places for each, in input order.

    Send `{"items": [{"id": "...", "text": "..."}, ...]}` or one `{"text": "..."}`. Items without an id get
    their index. Empty posts come back with `empty: true` and null heads; posts longer than the model reads
    come back with `truncated: true`. With `?explain=true` (at most `max_explain_items` posts) each result
    also carries `explanation`.
    """
    # the body is read, counted and validated in a worker thread: the event loop stays free for every request
    items = await asyncio.to_thread(read_classify_body, await request.body(), request.headers.get("content-type"),
                                    explain, settings)
    request.state.items = len(items)  # sizes for the request's log line (never the text)
    texts = [item.text[: settings.max_text_chars] for item in items]
    request.state.chars = sum(len(item.text) for item in items)
    batcher = request.app.state.batcher
    if batcher is None:
        raise HTTPException(503, NOT_LOADED)
    predictions = await model_result(batcher.submit(texts), settings.request_timeout_s)
    rows = [result_row(index, item, prediction, settings.max_text_chars)
            for index, (item, prediction) in enumerate(zip(items, predictions))]
    if explain:
        explanations = await model_result(
            explain_posts(request, batcher, request.app.state.classifier, texts, settings.max_explain_words,
                          settings.model_batch_size), settings.explain_timeout_s, "explanation")
        for row, explanation in zip(rows, explanations):
            row["explanation"] = explanation
    table = request.app.state.routes
    if table is not None:
        from cur_nlp.routing import route_record

        for row in rows:
            row["route"] = route_record(row, table)
    for row, prediction in zip(rows, predictions):
        metrics.on_post(prediction.empty, row["truncated"])
    return JSONResponse({"model": request.app.state.model_info, "results": rows})


@router.get("/v1/labels", response_model=dict[str, list[LabelInfo]], dependencies=[Depends(require_key)],
            responses={401: ERROR_RESPONSES[401], 503: ERROR_RESPONSES[503]}, tags=["classify"])
async def labels(request: Request) -> Response:
    """The label sets of the loaded model (topics and urgency levels with names and definitions; fake)."""
    if request.app.state.classifier is None:
        raise HTTPException(503, NOT_LOADED)
    return JSONResponse(request.app.state.labels)


@router.get("/health", tags=["operations"])
async def health() -> dict[str, str]:
    """Liveness: the process answers (with the cur_nlp library version)."""
    return {"status": "ok", "cur_nlp": cur_nlp_version}


@router.get("/ready", tags=["operations"], responses={503: ERROR_RESPONSES[503]})
async def ready(request: Request) -> Response:
    """Readiness: the model is loaded and the batcher runs (503 otherwise)."""
    batcher = request.app.state.batcher
    if batcher is None or not batcher.running:
        return JSONResponse(ErrorResponse(error="model is not loaded").to_dict(), status_code=503)
    return JSONResponse({"status": "ready", "model": request.app.state.model_info})


@router.get("/metrics", tags=["operations"], response_class=Response)
async def metrics_endpoint(metrics: AppMetrics) -> Response:
    """Prometheus metrics: requests, latencies, batch sizes, posts, errors, queue."""
    return Response(metrics.render(), media_type=metrics.content_type)
