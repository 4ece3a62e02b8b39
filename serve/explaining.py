"""``explain=true`` with bounded work: occlusion costs one scored text per word, so it gets its own limits.

At most ``max_explain_items`` posts (checked with the other limits, before validation) and the first
``max_explain_words`` words of each; the work goes through the batcher's queue (each scored text counts as one
post against ``max_queue_items``) and runs on the model thread, and it stops between batches when
``explain_timeout_s`` passes (the handler answers 503) or the client disconnects (499, which nobody reads but the
log and the metrics).
"""

from __future__ import annotations

import asyncio
import threading
from functools import partial
from typing import TYPE_CHECKING, Any

from fastapi import HTTPException, Request

from cur_nlp.explain import ExplainStopped, cost
from cur_nlp_serve.batcher import MicroBatcher
from cur_nlp_serve.settings import Settings

if TYPE_CHECKING:
    from cur_nlp import ComplaintClassifier

CLIENT_CLOSED = 499
"""Status logged for a request whose client went away before the answer (nginx's convention)."""

DISCONNECT_POLL_S = 0.1


def explain_all(classifier: ComplaintClassifier, texts: list[str], max_words: int, stop: threading.Event,
                batch_size: int) -> list[dict[str, Any] | None]:
    """``classifier.explain`` of each text (None for texts with nothing to read), on the calling thread."""
    explanations = [classifier.explain(text, max_words=max_words, stop=stop, batch_size=batch_size) for text in texts]
    return [None if e.empty else e.to_dict() for e in explanations]


async def stop_on_disconnect(request: Request, stop: threading.Event) -> None:
    """Set ``stop`` as soon as the client has gone (polled; the request body has been read already)."""
    while not stop.is_set():
        if await request.is_disconnected():
            stop.set()
            return
        await asyncio.sleep(DISCONNECT_POLL_S)


async def explain_posts(request: Request, batcher: MicroBatcher, classifier: ComplaintClassifier,
                        texts: list[str], settings: Settings) -> list[dict[str, Any] | None]:
    """The explanations of ``texts`` through the batcher's queue; 499 when the client went away. The work stops
    then, and when this coroutine is cancelled (the caller's timeout)."""
    stop = threading.Event()
    work = partial(explain_all, classifier, texts, settings.max_explain_words, stop, settings.model_batch_size)
    watcher = asyncio.create_task(stop_on_disconnect(request, stop))
    try:
        return await batcher.call(work, sum(cost(t, settings.max_explain_words) for t in texts))
    except ExplainStopped:
        raise HTTPException(CLIENT_CLOSED, "explanation stopped: the client disconnected") from None
    finally:
        stop.set()
        watcher.cancel()
