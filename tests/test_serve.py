"""The classify service on the tiny random model: contract, bad input, limits, auth, metrics, micro-batching."""

from __future__ import annotations

import cur_nlp
import asyncio
import json
import logging
import re
import threading
import time

import pytest

pytest.importorskip("fastapi")

from fastapi.testclient import TestClient  # noqa: E402

from cur_nlp_serve.app import create_app  # noqa: E402
from cur_nlp_serve.batcher import BatcherClosed, MicroBatcher, QueueFull  # noqa: E402
from cur_nlp_serve.settings import Settings  # noqa: E402

SECRET = "СЕКРЕТНЫЙ-ТЕКСТ-42"
MAX_ITEMS = 8
MAX_CHARS = 5_000
MAX_BODY = 400_000


def make_settings(model_dir, **overrides) -> Settings:
    values = dict(model=model_dir, locate=False, max_items=MAX_ITEMS, max_text_chars=MAX_CHARS,
                  max_body_bytes=MAX_BODY, batch_window_ms=2, warmup=False)
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="module")
def client(tiny_model_dir):
    with TestClient(create_app(make_settings(tiny_model_dir))) as test_client:
        yield test_client


def classify(client: TestClient, body, **kwargs):
    return client.post("/v1/classify", json=body, **kwargs)


# ---------------------------------------------------------------------------------------------- contract


def test_contract_and_order(client):
    texts = ["Во дворе открыт люк", "Не работает лифт", "Яма на дороге", "Спасибо за ремонт"]
    response = classify(client, {"items": [{"id": f"p{i}", "text": t} for i, t in enumerate(texts)]})
    assert response.status_code == 200
    data = response.json()
    assert data["model"] == {"name": "tiny-test", "version": "0.0.1"}
    assert [r["id"] for r in data["results"]] == ["p0", "p1", "p2", "p3"]
    for result in data["results"]:
        assert set(result) >= {"id", "topic", "urgency", "fake", "locations", "empty", "truncated"}
        assert isinstance(result["topic"]["label"], str) and 0 <= result["topic"]["score"] <= 1
        assert result["urgency"]["label"] in {"critical", "high", "normal", "low"}
        assert isinstance(result["fake"]["label"], bool)
        assert result["locations"] == [] and result["empty"] is False


def test_results_match_the_library(client, tiny_classifier):
    """The service returns exactly ``Prediction.to_dict()`` per post (thin handler, no re-interpretation)."""
    texts = ["Мусор не вывозят третий день", "Граффити на стене дома", "  "]
    data = classify(client, {"items": [{"text": t} for t in texts]}).json()
    expected = [p.to_dict() for p in tiny_classifier.predict(texts)]
    for index, (result, want) in enumerate(zip(data["results"], expected)):
        assert result.pop("id") == index
        assert result == json.loads(json.dumps(want))


def test_order_is_kept_when_posts_differ_in_length(client):
    texts = ["слово " * n for n in (30, 1, 12, 0, 5, 2)]
    ids = [f"x{i}" for i in range(len(texts))]
    data = classify(client, {"items": [{"id": i, "text": t} for i, t in zip(ids, texts)]}).json()
    assert [r["id"] for r in data["results"]] == ids
    assert [r["empty"] for r in data["results"]] == [t.strip() == "" for t in texts]


def test_missing_ids_default_to_index_and_int_ids_are_kept(client):
    data = classify(client, {"items": [{"text": "а"}, {"id": 77, "text": "б"}, {"text": "в"}]}).json()
    assert [r["id"] for r in data["results"]] == [0, 77, 2]


def test_single_text_form(client):
    data = classify(client, {"text": "На тротуаре гололёд"}).json()
    assert len(data["results"]) == 1 and data["results"][0]["id"] == 0
    data = classify(client, {"id": "tg-5", "text": "На тротуаре гололёд"}).json()
    assert data["results"][0]["id"] == "tg-5"


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "\u200b"])
def test_empty_posts_are_flagged_not_errors(client, text):
    response = classify(client, {"items": [{"text": "Не работает лифт"}, {"text": text}]})
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["empty"] is False
    assert second["empty"] is True and second["topic"] is None and second["urgency"] is None and second["fake"] is None


def test_truncation_flag(client):
    short, long = classify(client, {"items": [{"text": "люк"}, {"text": "открытый люк во дворе " * 40}]}).json()["results"]
    assert short["truncated"] is False
    assert long["truncated"] is True  # the tiny model reads 32 tokens


def test_text_over_max_chars_is_cut_and_marked_truncated(client):
    result = classify(client, {"text": "люк " * (MAX_CHARS // 2)}).json()["results"][0]
    assert result["truncated"] is True and result["empty"] is False


@pytest.mark.parametrize(
    "text",
    [
        "\x00\x01\x02\x07\x1b[31m\x7f",  # control characters only
        "люк\x00открыт\x1f во дворе\r\n",  # control characters inside text
        "😡😡😡🔥🚧",  # emoji only
        "🏳️‍🌈👨‍👩‍👧‍👦",  # ZWJ sequences
        "<script>alert(1)</script><b>Люк</b> открыт&nbsp;во&amp;дворе<br/>",  # HTML
        "<div><p></p></div>",  # HTML without text
        "а" * 100_000,  # 100 KB of one character (200 KB of UTF-8)
        "a" * 100_000,
        "!" * 100_000,
        " " * 100_000,
        "\u0301" * 1000,  # combining marks only
        "\ufeff\ufffd\uffff",
        "𝕷𝖔𝖑 ﷽ 𒐫",
    ],
)
def test_odd_texts_are_handled(client, text):
    response = classify(client, {"items": [{"id": "odd", "text": text}]})
    assert response.status_code == 200, response.text
    result = response.json()["results"][0]
    assert result["id"] == "odd"
    assert result["empty"] is (result["topic"] is None)


def test_lone_surrogate_escapes_are_handled(client):
    body = b'{"items": [{"id": "\\udc80", "text": "\\ud83d \\u043b\\u044e\\u043a \\udfff"}]}'
    response = client.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 200
    assert response.json()["results"][0]["id"] == "\ufffd"


# ---------------------------------------------------------------------------------------------- bad input


def test_422_names_the_item_and_the_problem_without_text(client):
    body = {"items": [{"id": "ok", "text": SECRET}, {"id": "a", "txt": SECRET}, {"id": [SECRET], "text": 5}]}
    response = classify(client, body)
    assert response.status_code == 422
    assert SECRET not in response.text
    data = response.json()
    by_item = {(d["item"], tuple(d["loc"])): d["msg"] for d in data["detail"]}
    assert by_item[(1, ("items", 1, "text"))] == "items[1].text: field required"
    assert by_item[(2, ("items", 2, "text"))] == "items[2].text: must be a string"
    assert by_item[(2, ("items", 2, "id"))] == "items[2].id: must be a string or an integer"
    assert "items[1].text" in data["error"]
    assert all(d["item"] != 0 for d in data["detail"])


@pytest.mark.parametrize(
    "body, expected",
    [
        (b'{"items": [{"text": "' + SECRET.encode() + b'"}', "body is not valid JSON"),
        (b'{"text": "' + SECRET.encode() + b'", }', "body is not valid JSON"),
        (b"[1, 2]", "request: must be an object"),
        (b'"' + SECRET.encode() + b'"', "request: must be an object"),
        (b'{"items": "' + SECRET.encode() + b'"}', "items: must be a list"),
        (b'{"items": [42]}', "items[0]: must be an object"),
        (b'{"items": [{"text": null}]}', "items[0].text: must be a string"),
        (b'{"text": ["' + SECRET.encode() + b'"]}', "text: must be a string"),
        (b"{}", "text: field required"),
        (b"", "field required"),
        (b'{"items": [{"text": "x", "id": true}]}', "items[0].id: must be a string or an integer"),
        (b'{"items": [{"text": "x", "id": "' + b"i" * 300 + b'"}]}', "items[0].id: id is longer than 256"),
    ],
)
def test_malformed_requests_get_clear_422(client, body, expected):
    response = client.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert expected in response.json()["error"]
    assert SECRET not in response.text


def test_non_utf8_body(client):
    body = '{"text": "люк во дворе"}'.encode("cp1251")
    response = client.post("/v1/classify", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "UTF-8" in response.json()["error"]


def test_non_json_content_type(client):
    response = client.post("/v1/classify", content=b'{"text": "x"}', headers={"content-type": "text/plain"})
    assert response.status_code == 422
    assert "JSON" in response.json()["error"]


def test_too_many_items_is_413(client):
    response = classify(client, {"items": [{"text": "люк"}] * (MAX_ITEMS + 1)})
    assert response.status_code == 413
    assert str(MAX_ITEMS) in response.json()["error"]
    assert classify(client, {"items": [{"text": "люк"}] * MAX_ITEMS}).status_code == 200


def test_body_over_limit_is_413(client):
    response = classify(client, {"text": "л" * MAX_BODY})
    assert response.status_code == 413
    assert "larger than" in response.json()["error"]


def test_chunked_body_over_limit_is_413(client):
    def chunks():
        yield b'{"text": "'
        for _ in range(MAX_BODY // 10_000 + 1):
            yield b"a" * 10_000
        yield b'"}'

    response = client.post("/v1/classify", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_wrong_method_and_unknown_path(client):
    assert client.get("/v1/classify").status_code == 405
    assert client.get("/v2/nothing").status_code == 404


# ---------------------------------------------------------------------------------------------- auth


def test_auth_off_by_default(client):
    assert classify(client, {"text": "люк"}).status_code == 200


def test_auth_on_when_keys_configured(tiny_model_dir):
    settings = make_settings(tiny_model_dir, api_keys="key-one, key-two")
    with TestClient(create_app(settings)) as keyed:
        assert classify(keyed, {"text": "люк"}).status_code == 401
        assert classify(keyed, {"text": "люк"}, headers={"X-API-Key": "wrong"}).status_code == 401
        assert keyed.get("/v1/labels").status_code == 401
        assert classify(keyed, {"text": "люк"}, headers={"X-API-Key": "key-two"}).status_code == 200
        assert keyed.get("/v1/labels", headers={"X-API-Key": "key-one"}).status_code == 200
        # operations endpoints stay open for probes and scrapers
        assert keyed.get("/health").status_code == 200
        assert keyed.get("/ready").status_code == 200
        assert keyed.get("/metrics").status_code == 200


def test_api_keys_from_environment(monkeypatch):
    monkeypatch.setenv("CUR_NLP_API_KEYS", "a,b")
    monkeypatch.setenv("CUR_NLP_MAX_ITEMS", "3")
    settings = Settings()
    assert settings.api_keys == ["a", "b"] and settings.max_items == 3


# ---------------------------------------------------------------------------------------------- other endpoints


def test_labels(client):
    from cur_nlp.labels import URGENCY_LEVELS, topic_ids

    data = client.get("/v1/labels").json()
    assert [t["id"] for t in data["topic"]] == topic_ids()
    assert [u["id"] for u in data["urgency"]] == list(URGENCY_LEVELS)
    assert all(t["name"] and t["description"] for t in data["topic"] + data["urgency"])
    assert {f["id"] for f in data["fake"]} == {True, False}


def test_health_and_ready(client, tiny_model_dir):
    assert client.get("/health").json() == {"status": "ok", "cur_nlp": cur_nlp.__version__}
    assert client.get("/ready").json() == {"status": "ready", "model": {"name": "tiny-test", "version": "0.0.1"}}
    not_started = TestClient(create_app(make_settings(tiny_model_dir)))  # no lifespan: model not loaded
    assert not_started.get("/health").status_code == 200
    assert not_started.get("/ready").status_code == 503
    assert not_started.post("/v1/classify", json={"text": "люк"}).status_code == 503


def test_docs_and_openapi(client):
    assert client.get("/docs").status_code == 200
    spec = client.get("/openapi.json").json()
    assert {"/v1/classify", "/v1/labels", "/health", "/ready", "/metrics"} <= set(spec["paths"])


def metric_value(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + re.escape(labels) + r"\}" if labels else "") + r" ([0-9.e+-]+)"
    match = re.search(pattern, text)
    return float(match.group(1)) if match else 0.0


def test_metrics(client):
    classify(client, {"items": [{"text": "люк"}, {"text": ""}]})
    classify(client, {"items": [{"txt": "x"}]})
    text = client.get("/metrics").text
    assert metric_value(text, "cur_nlp_requests_total", 'method="POST",route="/v1/classify",status="200"') >= 1
    assert metric_value(text, "cur_nlp_requests_total", 'method="POST",route="/v1/classify",status="422"') >= 1
    assert metric_value(text, "cur_nlp_errors_total", 'kind="validation"') >= 1
    assert metric_value(text, "cur_nlp_batch_size_count") >= 1
    assert metric_value(text, "cur_nlp_posts_total", 'outcome="empty"') >= 1
    assert "cur_nlp_request_duration_seconds_bucket" in text
    assert 'cur_nlp_model_info{name="tiny-test",version="0.0.1"} 1.0' in text


# ---------------------------------------------------------------------------------------------- privacy


def test_logs_carry_no_text(tiny_model_dir, caplog):
    with caplog.at_level(logging.DEBUG):
        with TestClient(create_app(make_settings(tiny_model_dir))) as fresh:
            classify(fresh, {"items": [{"id": "a", "text": SECRET}]})
            classify(fresh, {"items": [{"id": "a", "txt": SECRET}]})
            fresh.post("/v1/classify", content=b'{"text": "' + SECRET.encode() + b'"', headers={"content-type": "application/json"})
    assert "items=1" in caplog.text
    assert SECRET not in caplog.text


class ExplodingClassifier:
    """The tiny classifier, except that a batch containing ``BOOM`` raises with the text in its message."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.config = inner.config

    def predict(self, texts, batch_size=64):
        for text in texts:
            if "BOOM" in text:
                raise RuntimeError(f"cannot read {text!r}")
        return self.inner.predict(texts, batch_size=batch_size)


def post_concurrently(app, bodies, stagger: float = 0.0):
    """Run the app's lifespan and post ``bodies`` to /v1/classify, the i-th after ``i * stagger`` seconds, all
    in flight together; the responses in order and the /metrics text afterwards."""

    async def scenario():
        import httpx

        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:

                async def post(index, body):
                    await asyncio.sleep(index * stagger)
                    return await http.post("/v1/classify", json=body)

                responses = await asyncio.gather(*(post(index, body) for index, body in enumerate(bodies)))
                return responses, (await http.get("/metrics")).text

    return asyncio.run(scenario())


def test_model_failure_is_a_500_without_text_and_spares_batched_neighbours(tiny_model_dir, tiny_classifier, caplog):
    app = create_app(make_settings(tiny_model_dir, batch_window_ms=50), classifier=ExplodingClassifier(tiny_classifier))
    with caplog.at_level(logging.INFO):
        (bad, good), _ = post_concurrently(app, [{"text": f"BOOM {SECRET}"}, {"text": "люк во дворе"}])
    assert bad.status_code == 500 and SECRET not in bad.text and "internal error" in bad.json()["error"]
    assert good.status_code == 200
    assert SECRET not in caplog.text and "RuntimeError" in caplog.text


# ---------------------------------------------------------------------------------------------- micro-batching


def test_concurrent_single_requests_are_batched(tiny_model_dir):
    app = create_app(make_settings(tiny_model_dir, batch_window_ms=100, max_batch_size=64))
    n = 16
    responses, metrics = post_concurrently(app, [{"id": i, "text": f"люк номер {i}"} for i in range(n)])
    assert all(r.status_code == 200 for r in responses)
    assert [r.json()["results"][0]["id"] for r in responses] == list(range(n))
    assert metric_value(metrics, "cur_nlp_batch_size_sum") == n  # every post went through one model call
    assert metric_value(metrics, "cur_nlp_batch_requests_sum") == n
    assert 1 <= metric_value(metrics, "cur_nlp_batch_size_count") < n  # fewer model calls than requests


class SlowClassifier(ExplodingClassifier):
    """The tiny classifier, taking ``delay`` seconds per model call."""

    def __init__(self, inner, delay: float) -> None:
        super().__init__(inner)
        self.delay = delay

    def predict(self, texts, batch_size=64):
        time.sleep(self.delay)
        return super().predict(texts, batch_size=batch_size)


def test_overload_and_timeout_are_503_with_retry_after(tiny_model_dir, tiny_classifier):
    overloaded = create_app(make_settings(tiny_model_dir, max_queue_items=2, max_batch_size=2),
                            classifier=SlowClassifier(tiny_classifier, 0.5))
    pair = {"items": [{"text": "люк"}, {"text": "яма"}]}
    # the first pair keeps the model busy, the second fills the queue, the third finds it full
    (first, second, refused), _ = post_concurrently(overloaded, [pair, pair, pair], stagger=0.15)
    assert first.status_code == 200 and second.status_code == 200 and refused.status_code == 503
    assert refused.json() == {"error": "service is overloaded; retry shortly", "detail": []}
    assert refused.headers["Retry-After"] == "1"

    slow = create_app(make_settings(tiny_model_dir, request_timeout_s=0.1), classifier=SlowClassifier(tiny_classifier, 0.5))
    (late,), _ = post_concurrently(slow, [{"text": "люк"}])
    assert late.status_code == 503 and late.headers["Retry-After"] == "1"
    assert late.json()["error"] == "no result within 0.1 s; retry shortly"


def run_batcher(predict, jobs, **kwargs):
    async def scenario():
        batcher = MicroBatcher(predict, **kwargs)
        await batcher.start()
        try:
            return await asyncio.gather(*(batcher.submit(j) for j in jobs), return_exceptions=True), batcher.stats
        finally:
            await batcher.stop()

    return asyncio.run(scenario())


def test_batcher_merges_and_splits_in_order():
    calls = []

    def predict(texts):
        calls.append(list(texts))
        return [t.upper() for t in texts]

    jobs = [["a", "b"], ["c"], ["d", "e", "f"], ["g"]]
    results, stats = run_batcher(predict, jobs, max_batch=64, window_ms=50)
    assert results == [["A", "B"], ["C"], ["D", "E", "F"], ["G"]]
    assert len(calls) == 1 and stats.max_batch == 7


def test_batcher_respects_max_batch_without_splitting_requests():
    calls = []

    def predict(texts):
        calls.append(len(texts))
        return list(texts)

    jobs = [[str(i)] * 3 for i in range(5)]
    results, _ = run_batcher(predict, jobs, max_batch=7, window_ms=50)
    assert results == jobs
    assert all(size <= 7 for size in calls) and sum(calls) == 15


def test_batcher_isolates_a_failing_request():
    def predict(texts):
        if "bad" in texts:
            raise ValueError("bad input")
        return list(texts)

    results, _ = run_batcher(predict, [["ok1"], ["bad"], ["ok2"]], max_batch=64, window_ms=50)
    assert results[0] == ["ok1"] and results[2] == ["ok2"]
    assert isinstance(results[1], ValueError)


def test_a_lone_client_is_not_held_back_by_the_window():
    def predict(texts):
        return list(texts)

    async def scenario():
        batcher = MicroBatcher(predict, window_ms=5000)
        await batcher.start()
        try:
            started = time.perf_counter()
            for i in range(3):  # one request at a time: nothing else is expected, so no batch waits 5 s
                assert await batcher.submit([str(i)]) == [str(i)]
            return time.perf_counter() - started, batcher.stats.batches
        finally:
            await batcher.stop()

    seconds, batches = asyncio.run(scenario())
    assert batches == 3 and seconds < 2.5


def test_batcher_runs_the_model_on_the_given_thread():
    from cur_nlp_serve.batcher import model_thread

    executor = model_thread()
    warm_thread = executor.submit(lambda: threading.current_thread().name).result()
    seen = []

    def predict(texts):
        seen.append(threading.current_thread().name)
        return list(texts)

    results, _ = run_batcher(predict, [["a"], ["b"]], window_ms=20, executor=executor)
    executor.shutdown()
    assert results == [["a"], ["b"]] and set(seen) == {warm_thread}


def test_batcher_queue_limit_and_closed():
    def slow(texts):
        time.sleep(0.2)
        return list(texts)

    results, _ = run_batcher(slow, [["a"] * 3, ["b"] * 3, ["c"] * 3], max_batch=3, window_ms=0, max_queue=4)
    assert results[0] == ["a"] * 3
    assert any(isinstance(r, QueueFull) for r in results[1:])

    async def closed():
        batcher = MicroBatcher(slow)
        with pytest.raises(BatcherClosed):
            await batcher.submit(["x"])

    asyncio.run(closed())


# ---------------------------------------------------------------------------------------------- generated texts


def test_generated_texts_never_give_5xx(client):
    from hypothesis import HealthCheck, given, settings, strategies as st

    texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=400)
    items = st.lists(st.fixed_dictionaries({"text": texts}, optional={"id": st.one_of(st.integers(), st.text(max_size=20))}),
                     min_size=1, max_size=MAX_ITEMS)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(items)
    def check(batch):
        response = classify(client, {"items": batch})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert len(results) == len(batch)
        for index, (item, result) in enumerate(zip(batch, results)):
            assert result["id"] == item.get("id", index)
            assert result["empty"] is (result["topic"] is None)

    check()


def test_generated_json_never_gives_5xx(client):
    from hypothesis import HealthCheck, given, settings, strategies as st

    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),  # JSON has no inf/nan
        lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(["items", "text", "id", "x"]), children, max_size=4),
        max_leaves=12,
    )

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(json_values)
    def check(body):
        response = classify(client, body)
        assert response.status_code in (200, 413, 422), response.text

    check()


# ---------------------------------------------------------------------------------------------- places


def test_locate_default_follows_geo_availability(monkeypatch):
    import cur_nlp_serve.settings as settings_module

    monkeypatch.setattr(settings_module, "geo_available", lambda: False)
    assert Settings(locate=None).resolved_locate() is False
    monkeypatch.setattr(settings_module, "geo_available", lambda: True)
    assert Settings(locate=None).resolved_locate() is True
    assert Settings(locate=False).resolved_locate() is False


def test_locations_when_geo_is_installed(tiny_model_dir, caplog):
    from cur_nlp_serve.settings import geo_available

    if not geo_available():
        pytest.skip("cur_nlp.geo is not importable")
    text = f"Во дворе дома 5 на улице Ленина открыт люк {SECRET}"
    with caplog.at_level(logging.INFO):
        with TestClient(create_app(make_settings(tiny_model_dir, locate=None))) as located:
            response = classify(located, {"items": [{"text": text}, {"text": " "}]})
    assert response.status_code == 200
    first, empty = response.json()["results"]
    assert isinstance(first["locations"], list) and all(isinstance(loc, dict) for loc in first["locations"])
    assert empty["locations"] == []
    assert SECRET not in caplog.text


def test_explain_flag_adds_word_weights(tiny_model_dir):
    with TestClient(create_app(make_settings(tiny_model_dir, max_explain_items=2))) as client:
        body = {"items": [{"id": "a", "text": "Во дворе открыт люк"}, {"id": "b", "text": " "}]}
        results = client.post("/v1/classify?explain=true", json=body).json()["results"]
        words = results[0]["explanation"]["urgency"]["words"]
        assert {w["word"] for w in words} == {"Во", "дворе", "открыт", "люк"}
        assert results[1]["explanation"] is None
        assert "explanation" not in client.post("/v1/classify", json=body).json()["results"][0]
        too_many = {"items": [{"text": "яма"}] * 3}
        assert client.post("/v1/classify?explain=true", json=too_many).status_code == 413


def test_backend_setting_is_validated(monkeypatch):
    from pydantic import ValidationError

    monkeypatch.setenv("CUR_NLP_BACKEND", "torch")
    assert Settings().backend == "torch"
    assert Settings(backend="auto").backend == "auto"
    with pytest.raises(ValidationError):
        Settings(backend="tensorrt")
