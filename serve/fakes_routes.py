"""``/v1/fakes``: the registry of debunked claims, read and written through the service (behind the API key).

Writes go to the database the classifier matches against (``CUR_NLP_REGISTRY``); claim vectors are computed once,
on the model thread, when a claim is written. Every replica that shares the database matches a new claim from its
next request on (the registry revision is checked per batch).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from cur_nlp_serve.routes import ERROR_RESPONSES, NOT_LOADED, require_key
from cur_nlp_serve.schemas import ClaimIn, ClaimOut, ClaimsIn

router = APIRouter(prefix="/v1/fakes", tags=["fakes"], dependencies=[Depends(require_key)])

READ_ONLY = ("the registry is a file (read-only); set CUR_NLP_REGISTRY to an SQLite file or a database URL to "
             "manage claims through the API")


def claim_store(request: Request) -> Any:
    """The database store behind the classifier's registry: 503 before the model is loaded, 409 for a file."""
    classifier = request.app.state.classifier
    if classifier is None:
        raise HTTPException(503, NOT_LOADED)
    matcher = classifier.registry
    if matcher is None or matcher.store is None:
        raise HTTPException(409, READ_ONLY)
    return matcher.store


Store = Annotated[Any, Depends(claim_store)]


@router.get("", response_model=list[ClaimOut], responses={401: ERROR_RESPONSES[401], 503: ERROR_RESPONSES[503]})
async def list_claims(store: Store, all: Annotated[bool, Query(description="Include removed claims.")] = False) -> Response:
    """The registered claims (active ones; `?all=true` adds removed ones)."""
    claims = await asyncio.to_thread(store.claims, all)
    return JSONResponse([claim.to_record() for claim in claims])


@router.post("", status_code=201, responses={**ERROR_RESPONSES, 409: {"description": "An id is already registered."}})
async def add_claims(request: Request, store: Store, body: Annotated[ClaimIn | ClaimsIn, Body()]) -> Response:
    """Register one claim (`{"id", "claim", "refutation", …}`) or several (`{"claims": [...]}`, all or none). A
    registered id is refused with 409 (remove it first)."""
    from cur_nlp.fakes.claims import Claim
    from cur_nlp.fakes.store import DuplicateClaimError

    entries = body.claims if isinstance(body, ClaimsIn) else [body]
    try:
        claims = [Claim.from_record(e.model_dump()) for e in entries]
    except ValueError as error:
        raise HTTPException(422, str(error)) from None
    loop = asyncio.get_running_loop()
    try:  # embedding runs on the model thread, like every other use of the encoder
        await loop.run_in_executor(request.app.state.model_executor, store.add, claims)
    except DuplicateClaimError as error:
        raise HTTPException(409, str(error)) from None
    return JSONResponse({"added": [c.id for c in claims]}, status_code=201)


@router.delete("/{claim_id}", responses={401: ERROR_RESPONSES[401], 404: {"description": "No such active claim."}})
async def remove_claim(claim_id: str, store: Store) -> Response:
    """Stop matching a claim (kept in the database as inactive)."""
    removed = await asyncio.to_thread(store.remove, [claim_id])
    if not removed:
        raise HTTPException(404, f"no active claim with id {claim_id!r}")
    return JSONResponse({"removed": removed})
