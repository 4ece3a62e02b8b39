"""``/v1/incidents``: assign posts to incidents, and read incidents (behind the API key).

Incidents live in the database of ``CUR_NLP_INCIDENTS_DATABASE`` (by default the fakes registry's), so every
replica that shares it assigns posts to the same incidents. Posts without predictions are classified through the
service's micro-batcher first, like /v1/classify posts.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from cur_nlp_serve.body import check_limits
from cur_nlp_serve.routes import ERROR_RESPONSES, NOT_LOADED, AppSettings, model_result, require_key
from cur_nlp_serve.schemas import AssignRequest, AssignResponse, IncidentOut

router = APIRouter(prefix="/v1/incidents", tags=["incidents"], dependencies=[Depends(require_key)])


def incident_store(request: Request) -> Any:
    """The incident store opened at startup: 503 before the model is loaded."""
    store = getattr(request.app.state, "incidents", None)
    if store is None:
        raise HTTPException(503, NOT_LOADED)
    return store


Store = Annotated[Any, Depends(incident_store)]


def incident_json(request: Request, incident: Any) -> dict[str, Any]:
    """The incident's JSON, routed when the service has a routing table."""
    return incident.to_dict(request.app.state.routes)


@router.post("/assign", response_model=AssignResponse, responses=ERROR_RESPONSES)
async def assign(request: Request, body: Annotated[AssignRequest, Body()], store: Store,
                 settings: AppSettings) -> Response:
    """Assign posts to incidents: each result has the post's incident as it stands after the request, and whether
    the post started it.

    Items that carry a /v1/classify `topic` are not classified again; the others are classified first. A post id
    that was assigned before gets its incident back and is not counted twice. Posts with no text get `incident:
    null`.
    """
    from cur_nlp.incidents import post_from_record

    items = body.items
    request.state.items = len(items)
    check_limits(len(items), False, settings)
    records = [item.model_dump(exclude_none=True) for item in items]
    todo = [k for k, record in enumerate(records) if "topic" not in record]
    if todo:
        texts = [records[k]["text"][: settings.max_text_chars] for k in todo]
        batcher = request.app.state.batcher
        if batcher is None:
            raise HTTPException(503, NOT_LOADED)
        predictions = await model_result(batcher.submit(texts), settings.request_timeout_s)
        for k, prediction in zip(todo, predictions):
            records[k] = {**records[k], **prediction.to_dict()}
    now = datetime.now(timezone.utc)
    posts = [post_from_record(record, now, str(index)) for index, record in enumerate(records)]
    order = sorted((p for p in posts if p is not None), key=lambda p: p.time)
    assigned = dict(zip((p.id for p in order), await asyncio.to_thread(store.assign, order)))
    results = []
    for index, (item, post) in enumerate(zip(items, posts)):
        incident, new = assigned[post.id] if post is not None else (None, False)
        results.append({"id": index if item.id is None else item.id,
                        "incident": incident_json(request, incident) if incident is not None else None, "new": new})
    return JSONResponse({"results": results})


@router.get("", response_model=list[IncidentOut], responses={401: ERROR_RESPONSES[401], 503: ERROR_RESPONSES[503]})
async def recent(request: Request, store: Store,
                 status: Annotated[str, Query(pattern="^(open|closed|all)$")] = "open",
                 limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """The incidents heard from most recently (`status` open, closed or all)."""
    found = await asyncio.to_thread(store.recent, limit, None if status == "all" else status)
    return JSONResponse([incident_json(request, i) for i in found])


@router.get("/{incident_id}", response_model=IncidentOut,
            responses={401: ERROR_RESPONSES[401], 404: {"description": "No such incident."}})
async def one(request: Request, incident_id: str, store: Store) -> Response:
    """One incident by id."""
    incident = await asyncio.to_thread(store.get, incident_id)
    if incident is None:
        raise HTTPException(404, f"no incident with id {incident_id!r}")
    return JSONResponse(incident_json(request, incident))
