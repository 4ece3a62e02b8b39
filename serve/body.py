"""Reading a classify request body with bounded work, in a worker thread (never on the event loop).

The body arrives whole and at most ``max_body_bytes`` long (``BodyGuard``). Then, each step bounded by the one
before: JSON parsing (C speed, nesting deeper than the parser's recursion limit is a 422), the number of posts
(413 over ``max_items``, or ``max_explain_items`` with ``explain``) counted in the parsed JSON *before* pydantic
validates anything, and validation of at most that many posts. Problems raise FastAPI's
``RequestValidationError`` (the app's 422 handler lists the first ``max_errors``) or ``HTTPException`` (413).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from cur_nlp_serve.schemas import CLASSIFY_REQUEST, Item, request_items
from cur_nlp_serve.settings import Settings


def is_json(content_type: str | None) -> bool:
    """Whether a Content-Type names JSON (no header counts as JSON, as FastAPI reads it)."""
    if not content_type:
        return True
    media = content_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def post_count(data: Any) -> int:
    """How many posts a parsed body asks for: the length of ``items`` when it is a list, else one."""
    items = data.get("items") if isinstance(data, dict) else None
    return len(items) if isinstance(items, list) else 1


def check_limits(count: int, explain: bool, settings: Settings) -> None:
    """413 for more posts than ``max_items`` (or ``max_explain_items`` with ``explain``)."""
    if count > settings.max_items:
        raise HTTPException(413, f"{count} items in one request; the limit is {settings.max_items}")
    if explain and count > settings.max_explain_items:
        raise HTTPException(413, f"explain=true takes at most {settings.max_explain_items} items, got {count}")


def parse_json(body: bytes, content_type: str | None) -> Any:
    """The JSON value of a request body, or a 422 (not JSON, empty, malformed, nested too deeply)."""
    if not is_json(content_type):
        raise RequestValidationError([{"type": "model_attributes_type", "loc": ("body",)}], body=body)
    if not body.strip():
        raise RequestValidationError([{"type": "missing", "loc": ("body",)}])
    try:
        return json.loads(body)
    except json.JSONDecodeError as error:
        raise RequestValidationError([{"type": "json_invalid", "loc": ("body", error.pos),
                                       "ctx": {"error": error.msg}}]) from None
    except RecursionError:
        raise RequestValidationError([{"type": "value_error", "loc": ("body",),
                                       "ctx": {"error": "JSON nested too deeply"}}]) from None


def read_classify_body(body: bytes, content_type: str | None, explain: bool, settings: Settings) -> list[Item]:
    """The posts of a classify request body, checked step by step (see the module docstring)."""
    data = parse_json(body, content_type)
    check_limits(post_count(data), explain, settings)
    try:
        return request_items(CLASSIFY_REQUEST.validate_python(data))
    except ValidationError as error:
        raise RequestValidationError(error.errors(include_url=False, include_input=False)) from None
