"""Server-side micro-batching: many small requests share one model call.

Requests put their posts on a queue and await a future. One worker task takes what is queued, waits up to
``window_ms`` for more (until ``max_batch`` posts), runs the model in a single background thread and hands each
request its slice of the results. While the model is busy, new requests pile up and form the next batch, so
under load batches grow by themselves.

The batcher waits only while it expects more requests: as many as were recently in flight at once (a peak that
decays batch by batch). A lone client is never held back by the window; with N clients in a closed loop the
clients just answered are waited for, so they join the requests already queued instead of the two groups
alternating in half-size batches (measured with 8 clients: 4.8 requests per model call without this, 8 with it).

Other model work (explanations) goes through the same queue with :meth:`MicroBatcher.call`: it runs alone on the
model thread, after every post that is waiting (posts are the service's first job; a storm of explanations must
not hold classify requests back), and counts as many posts against the queue limit as it scores.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Generic, Sequence, TypeVar

log = logging.getLogger("cur_nlp.serve")

T = TypeVar("T")
R = TypeVar("R")


def model_thread() -> ThreadPoolExecutor:
    """A one-thread executor for all model work. Load, warm up and predict on the same thread: measured with the
    bf16 encoder on 2 cores, `predict` called from another thread than the one that loaded and warmed the model is
    about 30% slower (8 posts: 80 against 62 ms)."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="cur-nlp-model")


class QueueFull(Exception):
    """More posts are waiting than the batcher accepts; the caller should retry later (503)."""


class BatcherClosed(Exception):
    """The batcher is not running (starting up or shutting down)."""


@dataclass
class _Job(Generic[T]):
    texts: list[str]
    future: asyncio.Future
    call: Callable[[], Any] | None = None  # other model work, run alone instead of ``predict``
    cost: int = 0  # posts a ``call`` counts as against the queue limit
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def size(self) -> int:
        """Posts this job counts as in the queue."""
        return self.cost if self.call is not None else len(self.texts)


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

    EXPECTED_DECAY = 0.8
    """Per model call, the expected concurrency keeps this share of its value unless a new peak replaces it."""

    def __init__(
        self,
        predict: Callable[[list[str]], Sequence[T]],
        *,
        max_batch: int = 64,
        window_ms: float = 5.0,
        max_queue: int = 4096,
        on_batch: Callable[[int, int, float], None] | None = None,
        executor: ThreadPoolExecutor | None = None,
    ) -> None:
        self.predict = predict
        self.max_batch = max_batch
        self.window = window_ms / 1000.0
        self.max_queue = max_queue
        self.on_batch = on_batch
        self.stats = BatchStats()
        self.queued_items = 0
        self.in_flight = 0  # requests submitted and not answered yet
        self._peak_in_flight = 0  # most requests in flight at once since the last batch was collected
        self._expected = 0.0  # how many requests a batch may expect to gather (decaying recent peak)
        # (priority, arrival, job): posts (0) before other model work (1), each in arrival order
        self._queue: asyncio.PriorityQueue[tuple[int, int, _Job[T]]] | None = None
        self._arrivals = itertools.count()
        self._worker: asyncio.Task | None = None
        self._carry: _Job[T] | None = None
        self._executor: ThreadPoolExecutor | None = executor
        self._own_executor = executor is None

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        """Start the worker task on the running event loop."""
        if self.running:
            return
        self._queue = asyncio.PriorityQueue()
        self._carry = None
        # one model call at a time: torch already uses every core inside a call
        if self._own_executor:  # a stopped batcher shut its own thread down: start a new one
            self._executor = model_thread()
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
                waiting.append(self._queue.get_nowait()[-1])
        for job in waiting:
            if not job.future.done():
                job.future.set_exception(BatcherClosed("service is shutting down"))
        self.queued_items = 0
        if self._executor is not None and self._own_executor:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def submit(self, texts: list[str]) -> list[T]:
        """Queue ``texts`` and wait for their results, in order."""
        if not texts:
            self._check_open()
            return []
        return await self._enqueue(_Job(list(texts), self._new_future()))

    async def call(self, work: Callable[[], R], cost: int) -> R:
        """Run ``work()`` on the model thread when its turn in the queue comes, alone (never merged with posts),
        counting ``cost`` posts against the queue limit; its result, or :class:`QueueFull`."""
        return await self._enqueue(_Job([], self._new_future(), call=work, cost=max(1, cost)))

    def _check_open(self) -> None:
        if not self.running or self._queue is None:
            raise BatcherClosed("model is not ready")

    def _new_future(self) -> asyncio.Future:
        self._check_open()
        return asyncio.get_running_loop().create_future()

    async def _enqueue(self, job: _Job[T]) -> Any:
        assert self._queue is not None
        if self.queued_items + job.size > self.max_queue and self.queued_items > 0:
            raise QueueFull(f"{self.queued_items} posts are waiting for the model")
        self.queued_items += job.size
        self.in_flight += 1
        self._peak_in_flight = max(self._peak_in_flight, self.in_flight)
        self._queue.put_nowait((0 if job.call is None else 1, next(self._arrivals), job))
        try:
            return await job.future
        finally:
            self.in_flight -= 1

    async def _collect(self) -> list[_Job[T]]:
        """Wait for one job, then take what is queued and wait (at most the window) while fewer requests than
        expected have come, until ``max_batch`` posts. A ``call`` job is always collected alone, and only when no
        posts are waiting."""
        assert self._queue is not None
        if self._carry is not None:
            first, self._carry = self._carry, None
        else:
            first = (await self._queue.get())[-1]
        self._expected = max(float(self._peak_in_flight), self._expected * self.EXPECTED_DECAY)
        self._peak_in_flight = self.in_flight
        jobs = [first]
        size = len(first.texts)
        if first.call is not None:
            return jobs
        deadline = time.perf_counter() + self.window
        while size < self.max_batch:
            if self._queue.empty():
                if len(jobs) >= round(self._expected):
                    break  # every request we expect is here: do not wait
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                try:
                    job = (await asyncio.wait_for(self._queue.get(), remaining))[-1]
                except asyncio.TimeoutError:
                    break
            else:
                job = self._queue.get_nowait()[-1]
            if job.call is not None or size + len(job.texts) > self.max_batch:
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
            self.queued_items -= sum(job.size for job in jobs)
            if not live:
                continue
            if live[0].call is not None:
                await self._run_call(live[0], loop)
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

    async def _run_call(self, job: _Job[T], loop: asyncio.AbstractEventLoop) -> None:
        assert job.call is not None
        try:
            result = await loop.run_in_executor(self._executor, job.call)
        except asyncio.CancelledError:
            if not job.future.done():
                job.future.set_exception(BatcherClosed("service is shutting down"))
            raise
        except Exception as error:
            if not job.future.done():
                job.future.set_exception(error)
            return
        if not job.future.done():
            job.future.set_result(result)

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
