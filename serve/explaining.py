"""``explain=true`` with bounded work: occlusion costs one scored text per word, so it gets its own limits.

At most ``max_explain_items`` posts (checked with the other limits, before validation) and the first
``max_explain_words`` words of each. The texts to score go through the batcher's queue in chunks of
``model_batch_size`` (each chunk counts its texts against ``max_queue_items`` and runs on the model thread), so
classify requests that come meanwhile are served between two chunks instead of after the whole explanation. The
work stops after the current chunk when ``explain_timeout_s`` passes (the handler answers 503) or the client
disconnects (499, which nobody reads but the log and the metrics).
"""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
from fastapi import HTTPException, Request

from cur_nlp.explain import Occlusion
from cur_nlp_serve.batcher import MicroBatcher

if TYPE_CHECKING:
    from cur_nlp import ComplaintClassifier

CLIENT_CLOSED = 499
"""Status logged for a request whose client went away before the answer (nginx's convention)."""

DISCONNECT_POLL_S = 0.1


async def scores(batcher: MicroBatcher, classifier: ComplaintClassifier, texts: list[str],
                 chunk: int) -> dict[str, np.ndarray]:
    """``classifier.predict_scores(texts)``, ``chunk`` texts per turn in the batcher's queue."""
    parts = [await batcher.call(partial(classifier.predict_scores, texts[start : start + chunk], chunk),
                                cost=len(texts[start : start + chunk]))
             for start in range(0, len(texts), chunk)]
    return {head: np.concatenate([part[head] for part in parts]) for head in parts[0]} if parts else {}


async def client_gone(request: Request) -> None:
    """Return once the client has disconnected (polled; the request body has been read already)."""
    while not await request.is_disconnected():
        await asyncio.sleep(DISCONNECT_POLL_S)


async def explain_posts(request: Request, batcher: MicroBatcher, classifier: ComplaintClassifier,
                        texts: list[str], max_words: int, chunk: int) -> list[dict[str, Any] | None]:
    """The explanations of ``texts`` (None for posts with nothing to read); 499 when the client went away first.
    Cancelling this coroutine (the caller's timeout) stops the work after the current chunk."""
    occlusions = [Occlusion.of(text, max_words) for text in texts]

    async def score_all() -> list[dict[str, np.ndarray]]:
        return [await scores(batcher, classifier, o.texts, chunk) for o in occlusions]

    scoring = asyncio.ensure_future(score_all())
    gone = asyncio.ensure_future(client_gone(request))
    try:
        await asyncio.wait({scoring, gone}, return_when=asyncio.FIRST_COMPLETED)
        if not scoring.done():
            raise HTTPException(CLIENT_CLOSED, "explanation stopped: the client disconnected")
        probs = scoring.result()
    finally:
        scoring.cancel()
        gone.cancel()
    explanations = [o.explanation(classifier, p) for o, p in zip(occlusions, probs)]
    return [None if e.empty else e.to_dict() for e in explanations]
