"""Schemathesis against the service's own OpenAPI spec (in-process ASGI, tiny model): zero 5xx, and responses
that match the documented status codes, content types and schemas — for valid (positive) and invalid
(negative) requests generated from the spec.

The default run is small enough for CI (a few seconds); ``--run-slow`` runs a larger one.
(Cases are drawn with ``operation.as_strategy`` inside ordinary tests, because schemathesis' lazy-fixture
``parametrize`` does not work with pytest 9.)
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import (  # noqa: E402
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from cur_nlp_serve.app import create_app  # noqa: E402
from cur_nlp_serve.settings import Settings  # noqa: E402

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = [("POST", "/v1/classify"), ("GET", "/v1/labels"), ("GET", "/health"), ("GET", "/ready"),
              ("GET", "/metrics"), ("POST", "/v1/incidents/assign"), ("GET", "/v1/incidents"),
              ("GET", "/v1/incidents/{incident_id}")]
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir):
    app = create_app(Settings(model=tiny_model_dir, locate=False, max_items=16, max_body_bytes=256_000, warmup=False))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz(api_schema, method: str, path: str, mode: GenerationMode, examples: int) -> None:
    operation = api_schema[path][method]

    @settings(max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case) -> None:
        case.call_and_validate(checks=CHECKS)

    check()


@pytest.mark.parametrize("mode", MODES, ids=str)
@pytest.mark.parametrize("method, path", OPERATIONS)
def test_api_conforms_and_never_5xx(api_schema, method, path, mode):
    if mode is GenerationMode.NEGATIVE and method == "GET":
        pytest.skip("GET operations take no input to break")
    fuzz(api_schema, method, path, mode, examples={"/v1/classify": 60, "/v1/incidents/assign": 40}.get(path, 5))


@pytest.mark.slow
@pytest.mark.parametrize("mode", MODES, ids=str)
def test_classify_conforms_and_never_5xx_long(api_schema, mode):
    fuzz(api_schema, "POST", "/v1/classify", mode, examples=1000)
