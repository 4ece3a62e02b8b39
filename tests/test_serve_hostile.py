"""Issue 22 «Hostile input»: every request does bounded work, off the event loop; explain has its own limits and
stops; metrics labels and settings cannot be turned against the service. Tiny random model, small limits."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import time

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402
from pydantic import ValidationError  # noqa: E402

from cur_nlp_serve.app import create_app  # noqa: E402
from cur_nlp_serve.batcher import MicroBatcher, QueueFull, model_thread  # noqa: E402
from cur_nlp_serve.middleware import METHODS  # noqa: E402
from cur_nlp_serve.settings import Settings  # noqa: E402

from test_serve import SECRET, make_settings  # noqa: E402


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    with TestClient(create_app(make_settings(tiny_model_dir, max_errors=3))) as test_client:
        yield test_client


def post_raw(client, body: bytes, path: str = "/v1/classify"):
    return client.post(path, content=body, headers={"content-type": "application/json"})


class SlowScores:
    """The tiny classifier whose ``predict`` takes ``predict_delay`` seconds and whose every ``predict_scores``
    call (what explain=true runs, chunk by chunk) takes ``delay`` seconds; counts those calls and their threads."""

    def __init__(self, inner, delay: float = 0.0, predict_delay: float = 0.0) -> None:
        self.inner, self.config, self.delay, self.predict_delay = inner, inner.config, delay, predict_delay
        self.calls = 0
        self.threads: set[str] = set()

    def predict(self, texts, batch_size=64):
        time.sleep(self.predict_delay)
        return self.inner.predict(texts, batch_size=batch_size)

    def predict_scores(self, texts, batch_size=64):
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self.delay)
        return self.inner.predict_scores(texts, batch_size)


# ---------------------------------------------------------------------------------------------- bounded validation


def test_item_count_is_refused_before_validation(client):
    """Defect 1: 150,000 integers as items used to be validated one by one (seconds, a 12 MB error body)."""
    started = time.perf_counter()
    response = post_raw(client, b'{"items": [' + b",".join([b"0"] * 150_000) + b"]}")
    assert response.status_code == 413 and time.perf_counter() - started < 2.0
    assert response.json()["error"] == "150000 items in one request; the limit is 8" and len(response.content) < 200


def test_validation_errors_are_capped_with_their_total(client):
    response = post_raw(client, json.dumps({"items": [0, {"id": [SECRET]}, 2, 3, 4, 5, 6, 7]}).encode())
    assert response.status_code == 422
    data = response.json()
    assert [d["item"] for d in data["detail"]] == [0, 1, 1] and data["total"] == 9
    assert SECRET not in response.text


@pytest.mark.parametrize("body", [b"[" * 5000 + b"]" * 5000, b'{"items": [' + b"[" * 5000 + b"]" * 5000 + b"]}",
                                  b'{"text": "x", "extra": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}"])
def test_deep_nesting_is_a_422_as_documented(client, body):
    """Defect 6: 5,000-deep nesting answered 400."""
    response = post_raw(client, body)
    assert response.status_code == 422
    assert response.json()["error"] == "request: JSON nested too deeply"


def test_text_beside_items_is_ambiguous(client):
    response = post_raw(client, json.dumps({"text": SECRET, "items": []}).encode())
    assert response.status_code == 422
    assert response.json()["error"] == "request: send either items or text, not both" and SECRET not in response.text
    assert post_raw(client, b'{"items": []}').json()["results"] == []


def test_health_answers_while_a_body_is_validated_and_while_the_model_works(tiny_model_dir, tiny_classifier,
                                                                           monkeypatch):
    """Defect 1: validation ran on the event loop and stalled every endpoint. Here reading a body takes 1 s and a
    model call 1 s; /health must answer in the meantime."""
    import httpx

    import cur_nlp_serve.routes as routes

    real_read = routes.read_classify_body

    def slow_read(*args):
        time.sleep(1.0)
        return real_read(*args)

    monkeypatch.setattr(routes, "read_classify_body", slow_read)
    app = create_app(make_settings(tiny_model_dir), classifier=SlowScores(tiny_classifier, predict_delay=1.0))

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                classify = asyncio.create_task(http.post("/v1/classify", json={"text": "люк"}))
                latencies = []
                while not classify.done():
                    started = time.perf_counter()
                    assert (await http.get("/health")).status_code == 200
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(0.05)
                return (await classify).status_code, latencies

    status, latencies = asyncio.run(scenario())
    assert status == 200 and len(latencies) >= 20  # 2 s of work, /health asked every 50 ms
    assert max(latencies) < 0.25, max(latencies)


# ---------------------------------------------------------------------------------------------- explain


def test_explain_weighs_at_most_max_explain_words(tiny_model_dir):
    settings = make_settings(tiny_model_dir, max_explain_words=3)
    with TestClient(create_app(settings)) as keyed:
        body = {"items": [{"text": "один два три четыре пять"}, {"text": "\u200d\ufeff"}]}
        first, invisible = keyed.post("/v1/classify?explain=true", json=body).json()["results"]
    assert {w["word"] for w in first["explanation"]["topic"]["words"]} == {"один", "два", "три"}
    assert invisible["empty"] and invisible["explanation"] is None


def test_explain_runs_on_the_model_thread_and_stops_at_its_timeout(tiny_model_dir, tiny_classifier):
    """Defect 2: a 1,000-word explanation ran 116 s past a 30 s timeout, on its own thread."""
    slow = SlowScores(tiny_classifier, delay=0.1)
    settings = make_settings(tiny_model_dir, explain_timeout_s=0.5, max_explain_words=200, model_batch_size=4)
    with TestClient(create_app(settings, classifier=slow)) as client:
        started = time.perf_counter()
        response = client.post("/v1/classify?explain=true", json={"text": "слово " * 200})
        elapsed = time.perf_counter() - started
        assert response.status_code == 503 and response.json()["error"] == "no explanation within 0.5 s; retry shortly"
        assert elapsed < 1.5  # 51 batches of 0.1 s were asked for
        time.sleep(0.3)
        calls = slow.calls
        time.sleep(0.5)
        assert slow.calls == calls < 15  # the work stopped too, not only the wait
        assert client.post("/v1/classify", json={"text": "люк"}).status_code == 200  # the model thread is free
    assert len(slow.threads) == 1 and next(iter(slow.threads)).startswith("cur-nlp-model")


def test_classify_requests_are_served_between_the_chunks_of_an_explanation(tiny_model_dir, tiny_classifier):
    """An explanation storm must not hold the model thread: a classify request that comes during a long
    explanation waits for one chunk, not for the whole explanation."""
    import httpx

    slow = SlowScores(tiny_classifier, delay=0.1)
    app = create_app(make_settings(tiny_model_dir, explain_timeout_s=30, max_explain_words=200, model_batch_size=4),
                     classifier=slow)

    async def scenario():
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test", timeout=60) as http:
                explaining = asyncio.create_task(http.post("/v1/classify?explain=true", json={"text": "слово " * 40}))
                await asyncio.sleep(0.35)
                started = time.perf_counter()
                classified = await http.post("/v1/classify", json={"text": "люк"})
                waited = time.perf_counter() - started
                return (await explaining).status_code, classified.status_code, waited, slow.calls

    explained, classified, waited, calls = asyncio.run(scenario())
    assert explained == 200 and classified == 200 and calls == 11  # 41 texts in chunks of 4
    assert waited < 0.5  # one chunk of 0.1 s at most, not the ~0.8 s left of the explanation


def test_explain_stops_when_the_client_disconnects(tiny_model_dir, tiny_classifier):
    import uvicorn

    slow = SlowScores(tiny_classifier, delay=0.1)
    settings = make_settings(tiny_model_dir, explain_timeout_s=60, max_explain_words=200, model_batch_size=4)
    app = create_app(settings, classifier=slow)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.time() + 30
        while not server.started and time.time() < deadline:
            time.sleep(0.05)
        body = json.dumps({"text": "слово " * 200}).encode()
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /v1/classify?explain=true HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % len(body) + body)
            time.sleep(0.6)
        time.sleep(0.6)  # the disconnect is polled every 0.1 s, then the current batch finishes
        calls = slow.calls
        time.sleep(0.5)
        assert slow.calls == calls < 20  # 51 batches were asked for; none ran after the client left
    finally:
        server.should_exit = True
        thread.join(10)


def test_explain_work_counts_against_the_queue():
    async def scenario():
        executor = model_thread()
        batcher = MicroBatcher(lambda texts: list(texts), max_queue=10, window_ms=0, executor=executor)
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.call(lambda: time.sleep(0.3) or "first", cost=5))
            await asyncio.sleep(0.05)  # running now, no longer queued
            waiting = asyncio.create_task(batcher.call(lambda: "second", cost=8))
            await asyncio.sleep(0.01)
            with pytest.raises(QueueFull):
                await batcher.call(lambda: "third", cost=3)  # 8 waiting + 3 > 10
            return await first, await waiting, batcher.queued_items
        finally:
            await batcher.stop()
            executor.shutdown()

    assert asyncio.run(scenario()) == ("first", "second", 0)


# ---------------------------------------------------------------------------------------------- metrics, settings, docs


def test_made_up_methods_do_not_grow_the_metrics(client):
    """Defect 5: every made-up method used to create new series."""
    for index in range(40):
        client.request(f"BREW{index}", "/health")
        client.request(f"X{index}", f"/nothing/{index}")
    text = client.get("/metrics").text
    methods = set(re.findall(r'cur_nlp_requests_total\{[^}]*method="([^"]+)"', text))
    routes = set(re.findall(r'cur_nlp_requests_total\{[^}]*route="([^"]+)"', text))
    assert "other" in methods and methods <= set(METHODS) | {"other"}
    assert not any(r.startswith("/nothing") for r in routes) and len(routes) <= 8


@pytest.mark.parametrize("value", [" , ", ",", "   ", ",,, ,"])
def test_api_keys_that_parse_to_no_key_are_an_error(monkeypatch, value):
    monkeypatch.setenv("CUR_NLP_API_KEYS", value)
    with pytest.raises(ValidationError, match="holds no key"):
        Settings()
    monkeypatch.setenv("CUR_NLP_API_KEYS", "")
    assert Settings().api_keys == []


def test_a_warning_when_auth_is_off_on_a_network_interface(tiny_model_dir, caplog):
    def warnings(**overrides):
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="cur_nlp.serve"):
            with TestClient(create_app(make_settings(tiny_model_dir, **overrides))):
                pass
        return [r.message for r in caplog.records if "authentication is off" in r.message]

    assert warnings(host="0.0.0.0") and warnings(host="10.1.2.3") and warnings(host="example.org")
    assert not warnings(host="127.0.0.1") and not warnings(host="::1") and not warnings(host="localhost")
    assert not warnings(host="0.0.0.0", api_keys="k1")


def test_docs_load_nothing_from_a_cdn(client):
    for page in ("/docs", "/redoc"):
        html = client.get(page)
        assert html.status_code == 200
        sources = re.findall(r'(?:src|href)="([^"]+)"', html.text) + re.findall(r"url: '([^']+)'", html.text)
        assert sources and not [s for s in sources if s.startswith(("http:", "https:", "//"))], sources
        for source in sources:
            assert client.get(source).status_code == 200, source
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/classify"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    refs = re.findall(r'"#/components/schemas/([^"]+)"', json.dumps(body))
    assert {"Item", "BatchRequest"} <= set(refs) <= set(spec["components"]["schemas"])


def test_waiting_posts_go_before_other_model_work():
    order = []

    async def scenario():
        batcher = MicroBatcher(lambda texts: order.extend(texts) or list(texts), window_ms=0)
        await batcher.start()
        try:
            busy = asyncio.create_task(batcher.call(lambda: time.sleep(0.2) or order.append("busy"), cost=1))
            await asyncio.sleep(0.05)  # the model thread is busy; then explanations and posts queue up
            later = [asyncio.create_task(batcher.call(lambda i=i: order.append(f"call{i}"), cost=1)) for i in range(2)]
            await asyncio.sleep(0.01)
            posts = asyncio.create_task(batcher.submit(["post"]))
            await asyncio.gather(busy, posts, *later)
        finally:
            await batcher.stop()

    asyncio.run(scenario())
    assert order == ["busy", "post", "call0", "call1"]
