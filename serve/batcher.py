"""Server-side micro-batching: many small requests share one model call.

Requests put their posts on a queue and await a future. One worker task takes what is queued, waits up to
``window_ms`` for more (until ``max_batch`` posts), runs the model in a single background thread and hands each
request its slice of the results. While the model is busy, new requests pile up and form the next batch, so
under load batches grow by themselves and an idle server adds at most ``window_ms`` of latency.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Callable, Generic, Sequence, TypeVar

log = logging.getLogger("cur_nlp.serve")

T = TypeVar("T")


class QueueFull(Exception):
    """More posts are waiting than the batcher accepts; the caller should retry later (503)."""


class BatcherClosed(Exception):
    """The batcher is not running (starting up or shutting down)."""


@dataclass
class _Job(Generic[T]):
    texts: list[str]
    future: asyncio.Future
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class BatchStats:
    """Counters for tests and metrics: model calls, posts, requests and the largest batch seen."""

    batches: int = 0
    items: int = 0
    jobs: int = 0
    max_batch: int = 0


class MicroBatcher(Generic[T]):
    """Collects posts from concurrent requests into batches for ``predict`` (a blocking, list-to-list function).

    ``on_batch(n_items, n_jobs, seconds)`` is called after every model call (metrics hook).
    """

    def __init__(
        self,
        predict: Callable[[list[str]], Sequence[T]],
        *,
        max_batch: int = 64,
        window_ms: float = 5.0,
        max_queue: int = 4096,
        on_batch: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch = max_batch
        self.window = window_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.stats = BatchStats()
        self.queued_items = 0
        self._queue: asyncio.Queue[_Job[T]] | None = None
        self._worker: asyncio.Task | None = None
        self._carry: _Job[T] | None = None
        self._executor: ThreadPoolExecutor | None = None

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        """Start the worker task on the running event loop."""
        if self.running:
            return
        self._queue = asyncio.Queue()
        self._carry = None
        # one model call at a time: torch already uses every core inside a call
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cur-nlp-model")
        self._worker = asyncio.create_task(self._run(), name="cur-nlp-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting get :class:`BatcherClosed`."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            try:
                await worker
            except asyncio.CancelledError:
                pass
        waiting = [self._carry] if self._carry is not None else []
        self._carry = None
        if self._queue is not None:
            while not self._queue.empty():
                waiting.append(self._queue.get_nowait())
        for job in waiting:
            if not job.future.done():
                job.future.set_exception(BatcherClosed("service is shutting down"))
        self.queued_items = 0
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> list[T]:
        """Queue ``texts`` and wait for their results, in order."""
        if not self.running or self._queue is None:
            raise BatcherClosed("model is not ready")
        if not texts:
            return []
        if self.queued_items + len(texts) > self.max_queue and self.queued_items > 0:
            raise QueueFull(f"{self.queued_items} posts are waiting for the model")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queued_items += len(texts)
        self._queue.put_nowait(_Job(list(texts), future))
        return await future

    async def _collect(self) -> list[_Job[T]]:
        """Wait for one job, then take more until ``max_batch`` posts or the window closes."""
        assert self._queue is not None
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            first = await self._queue.get()
        jobs = [first]
        size = len(first.texts)
        deadline = time.perf_counter() + self.window
        while size < self.max_batch:
            if self._queue.empty():
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            else:
                job = self._queue.get_nowait()
            if size + len(job.texts) > self.max_batch:
                self._carry = job  # it starts the next batch (a request is never split)
                break
            jobs.append(job)
            size += len(job.texts)
        return jobs

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            jobs = await self._collect()
            live = [job for job in jobs if not job.future.done()]  # skip requests whose clients gave up
            self.queued_items -= sum(len(job.texts) for job in jobs)
            if not live:
                continue
            texts = [text for job in live for text in job.texts]
            started = time.perf_counter()
            try:
                results = await loop.run_in_executor(self._executor, self.predict, texts)
            except asyncio.CancelledError:
                for job in live:
                    if not job.future.done():
                        job.future.set_exception(BatcherClosed("service is shutting down"))
                raise
            except Exception as error:  # one bad request must not fail the others batched with it
                if len(live) > 1:
                    await self._run_separately(live, loop)
                else:
                    log.error("model call failed: %s (%d posts)", type(error).__name__, len(texts))
                    if not live[0].future.done():
                        live[0].future.set_exception(error)
                continue
            elapsed = time.perf_counter() - started
            self._record(len(texts), len(live), elapsed)
            offset = 0
            for job in live:
                part = list(results[offset : offset + len(job.texts)])
                offset += len(job.texts)
                if not job.future.done():
                    job.future.set_result(part)

    async def _run_separately(self, jobs: list[_Job[T]], loop: asyncio.AbstractEventLoop) -> None:
        for job in jobs:
            started = time.perf_counter()
            try:
                result = await loop.run_in_executor(self._executor, self.predict, job.texts)
            except Exception as error:
                log.error("model call failed: %s (%d posts)", type(error).__name__, len(job.texts))
                if not job.future.done():
                    job.future.set_exception(error)
                continue
            self._record(len(job.texts), 1, time.perf_counter() - started)
            if not job.future.done():
                job.future.set_result(list(result))

    def _record(self, items: int, jobs: int, seconds: float) -> None:
        self.stats.batches += 1
        self.stats.items += items
        self.stats.jobs += jobs
        self.stats.max_batch = max(self.stats.max_batch, items)
        if self.on_batch is not None:
            self.on_batch(items, jobs, seconds)
