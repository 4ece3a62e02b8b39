"""Request and response models of the classify API, and error messages that never repeat a post's text.

A request is either a batch ``{"items": [{"id": ..., "text": ...}, ...]}`` or a single post ``{"text": ...}``.
"""

from __future__ import annotations

from typing import Annotated, Any, Sequence, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, StrictStr, Tag, TypeAdapter, field_validator,
                      model_validator)

from cur_nlp.normalize import replace_surrogates

ItemId = Union[StrictStr, int]


class Item(BaseModel):
    """One post to classify."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{"id": "vk-1", "text": "Во дворе открыт люк"}]})

    id: ItemId | None = Field(None, description="Caller's id (string up to 256 characters, or integer), echoed back; "
                              "default: the item's index in the request.", json_schema_extra={"maxLength": 256})
    text: StrictStr = Field(..., description="The post text (any length; empty text gives an `empty` result).")

    @field_validator("text")
    @classmethod
    def _text_unicode(cls, value: str) -> str:
        return replace_surrogates(value)

    @field_validator("id", mode="before")
    @classmethod
    def _id_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):  # JSON true/false is not an id (and would otherwise become 1/0)
            raise ValueError("must be a string or an integer")
        return value

    @field_validator("id")
    @classmethod
    def _id_unicode(cls, value: ItemId | None) -> ItemId | None:
        if isinstance(value, str):
            if len(value) > 256:
                raise ValueError("id is longer than 256 characters")
            return replace_surrogates(value)
        return value


class BatchRequest(BaseModel):
    """Many posts; results come back in the same order."""

    model_config = ConfigDict(extra="ignore")

    items: list[Item] = Field(..., description="Posts to classify (at most `max_items`; more gets 413).")

    @model_validator(mode="before")
    @classmethod
    def _one_form(cls, value: Any) -> Any:
        if isinstance(value, dict) and "text" in value:  # which did the caller mean? never guess
            raise ValueError("send either items or text, not both")
        return value


def _request_kind(value: Any) -> str:
    if isinstance(value, dict) and "items" in value:
        return "batch"
    if isinstance(value, BatchRequest):
        return "batch"
    return "single"


ClassifyRequest = Annotated[
    Union[Annotated[BatchRequest, Tag("batch")], Annotated[Item, Tag("single")]],
    Discriminator(_request_kind),
]
"""``{"items": [...]}`` or one ``{"text": ...}``."""

CLASSIFY_REQUEST = TypeAdapter(ClassifyRequest)
"""Validates a parsed request body (the handler reads the body itself, off the event loop)."""


def classify_request_schema() -> tuple[dict[str, Any], dict[str, Any]]:
    """The OpenAPI schema of a classify request body and the component schemas it refers to."""
    schema = CLASSIFY_REQUEST.json_schema(ref_template="#/components/schemas/{model}")
    return schema, schema.pop("$defs", {})


def request_items(request: BatchRequest | Item) -> list[Item]:
    """The posts of a request, whichever of the two forms it came in."""
    return request.items if isinstance(request, BatchRequest) else [request]


class ModelInfo(BaseModel):
    name: str
    version: str


class HeadResult(BaseModel):
    """The decision of a multiclass head: label, its calibrated probability and the top labels; ``decided_by`` (and
    ``threshold``) when a rule tuned on dev chose a label that is not the most probable one."""

    model_config = ConfigDict(extra="allow")

    label: str
    score: float = Field(..., description="Calibrated probability of the label shown.")
    top: list[tuple[str, float]] = []
    decided_by: str | None = Field(None, description="Why a label that is not the most probable one was chosen: "
                                   "'<label>_recall_threshold' (e.g. critical urgency) or 'class_bias'.")
    threshold: float | None = Field(None, description="The recall threshold the label's probability reached.")


class FakeMatchInfo(BaseModel):
    """The registered debunked claim a post is about, with the refutation to answer it with."""

    id: str
    claim: str
    refutation: str
    link: str | None = None
    similarity: float = Field(..., description="Retrieval similarity of the post to the claim (not a probability).")


class FakeResult(BaseModel):
    """The fake decision. ``score`` is always the probability that the post spreads a false claim."""

    model_config = ConfigDict(extra="allow")

    label: bool
    score: float = Field(..., description="Probability that the post spreads a false claim: p(spreads) of the "
                         "stance model for a registry match, else the claim-only model's p(fake).")
    source: str = Field(..., description="'registry' (the post is about a registered claim) or 'model'.")
    stance: str | None = Field(None, description="'spreads' or 'refutes' for a registry match, else null.")
    match: FakeMatchInfo | None = None


class Result(BaseModel):
    """Everything read from one post (the same fields as ``cur-nlp predict``); extra heads of a retrained model
    appear as extra keys."""

    model_config = ConfigDict(extra="allow")

    id: ItemId
    topic: HeadResult | None
    urgency: HeadResult | None
    fake: FakeResult | None
    locations: list[dict[str, Any]]
    empty: bool = Field(..., description="The post had no text to read; heads are null.")
    truncated: bool = Field(..., description="The post was longer than the model reads; only its beginning was used.")


class ClassifyResponse(BaseModel):
    model: ModelInfo
    results: list[Result]


class ErrorDetail(BaseModel):
    loc: list[str | int] = Field(..., description="Where the problem is, e.g. ['items', 2, 'text'].")
    item: int | None = Field(None, description="Index of the offending item, when the problem is inside one.")
    msg: str


class ErrorResponse(BaseModel):
    """Every error: a one-line summary and, for 422, one entry per problem (the first ``max_errors``; ``total``
    counts them all). Post texts are never repeated."""

    error: str
    detail: list[ErrorDetail] = []
    total: int | None = Field(None, description="Number of problems found (422), when more than `detail` lists.")

    def to_dict(self) -> dict[str, Any]:
        """The response body (``total`` only when set)."""
        return self.model_dump(exclude={"total"} if self.total is None else None)


class LabelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str | bool
    name: str | None = None
    description: str = ""


def _clean_loc(loc: Sequence[Any]) -> list[str | int]:
    """Drop FastAPI's ``body`` prefix and the union tag (``batch``/``single``) from an error location."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    if parts and parts[0] in ("batch", "single"):
        parts = parts[1:]
    return [p if isinstance(p, int) else replace_surrogates(str(p))[:64] for p in parts]


def _message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "field required"
    if kind == "json_invalid":
        reason = (error.get("ctx") or {}).get("error", "")
        loc = error.get("loc", ())
        where = f" (character {loc[-1]})" if loc and isinstance(loc[-1], int) else ""
        return f"body is not valid JSON{': ' + reason if reason else ''}{where}"
    if kind in ("string_type",):
        return "must be a string"
    if kind in ("list_type",):
        return "must be a list of {\"id\", \"text\"} objects"
    if kind in ("model_type", "model_attributes_type", "dict_type", "union_tag_invalid"):
        return "must be an object"
    if kind == "value_error":
        return str((error.get("ctx") or {}).get("error", "invalid value"))
    # pydantic's own messages do not include the input value
    return str(error.get("msg", "invalid value"))


def describe_errors(errors: Sequence[dict[str, Any]], limit: int = 20) -> ErrorResponse:
    """Turn pydantic/FastAPI validation errors into messages that name the item and the problem, without input;
    the first ``limit`` of them, with their ``total`` when there are more."""
    details: list[ErrorDetail] = []
    seen: set[tuple[Any, ...]] = set()
    for error in errors:
        loc = _clean_loc(error.get("loc", ()))
        if error.get("type") == "json_invalid":
            loc = []
        # a failed union branch reports both ``id`` alternatives; keep one message per place
        if len(loc) >= 1 and loc[-1] in ("str", "int"):
            loc = loc[:-1]
            error = {"type": "id_type"}
            message = "must be a string or an integer"
        else:
            message = _message(error)
        key = (tuple(loc), message)
        if key in seen:
            continue
        seen.add(key)
        item = loc[1] if len(loc) >= 2 and loc[0] == "items" and isinstance(loc[1], int) else None
        details.append(ErrorDetail(loc=loc, item=item, msg=_where(loc) + message))
    summary = "; ".join(d.msg for d in details[:5]) or "invalid request"
    if len(details) > 5:
        summary += f"; and {len(details) - 5} more"
    if len(details) > limit:
        return ErrorResponse(error=summary, detail=details[:limit], total=len(details))
    return ErrorResponse(error=summary, detail=details)


def _where(loc: Sequence[str | int]) -> str:
    if not loc:
        return "request: "
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text + ": "


class ClaimIn(BaseModel):
    """A debunked claim to register."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "id": "kursk-2026-031", "claim": "В Курске на месяц отключат горячую воду во всех домах",
        "refutation": "Квадра: плановые отключения идут по графику, массового отключения нет.",
        "link": "https://example.ru/news/1", "region": "Курская область", "tags": ["water"]}]})

    id: StrictStr = Field(..., min_length=1, max_length=128)
    claim: StrictStr = Field(..., min_length=1, max_length=2000)
    refutation: StrictStr = Field("", max_length=4000)
    link: StrictStr | None = Field(None, max_length=2000)
    region: StrictStr | None = Field(None, max_length=200)
    tags: list[StrictStr] = Field(default_factory=list, max_length=20)


class ClaimsIn(BaseModel):
    """Several claims, written all or none."""

    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimIn] = Field(..., min_length=1, max_length=1000)


class ClaimOut(ClaimIn):
    active: bool
    added: str | None = None
    updated: str | None = None


class AssignItem(Item):
    """A post to assign to an incident: its text and, when known, its time, coordinates and town; with the fields
    of a /v1/classify result (`topic`, `urgency`, `locations`) it is not classified again."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"examples": [{
        "id": "vk-7", "text": "Ленина 5 третий день нет горячей воды", "created": "2026-01-12T07:41:00+03:00",
        "city": "Курск"}]})

    created: StrictStr | None = Field(None, description="ISO 8601 time of the post (default: the time of the request).")
    lat: float | None = Field(None, ge=-90, le=90, description="Latitude of the post's place (portals, geotags).")
    lon: float | None = Field(None, ge=-180, le=180, description="Longitude of the post's place.")
    city: StrictStr | None = Field(None, max_length=200, description="The town the post is about (e.g. the town of "
                                   "the page it was written on); posts of different towns never share an incident.")
    municipality: StrictStr | None = Field(None, max_length=200)
    region: StrictStr | None = Field(None, max_length=200)
    topic: dict[str, Any] | None = Field(None, description="A /v1/classify `topic` result; absent: the post is "
                                         "classified first.")
    urgency: dict[str, Any] | None = None
    locations: list[dict[str, Any]] | None = None


class AssignRequest(BaseModel):
    """Posts to assign, in any order (grouped in time order of `created`)."""

    model_config = ConfigDict(extra="ignore")

    items: list[AssignItem] = Field(..., description="Posts (at most `max_items`).")


class IncidentOut(BaseModel):
    """An incident: the posts about one problem at one place."""

    model_config = ConfigDict(extra="allow")

    id: str
    topic: str | None
    urgency: str | None
    place: dict[str, Any] | None = Field(..., description="The most specific place its posts named (and lat/lon).")
    area: str | None = Field(..., description="The town (folded) its posts are about, when known.")
    first_seen: str
    last_seen: str
    posts: int
    text: str = Field(..., description="The representative post text.")
    post_ids: list[str]
    status: str = Field(..., description="open or closed (closed after the quiet period).")
    route: dict[str, Any] | None = Field(None, description="{body, contact, source, score} from the routing table.")


class AssignResult(BaseModel):
    id: ItemId
    incident: IncidentOut | None = Field(..., description="Null for a post with no text.")
    new: bool = Field(..., description="The post started this incident.")


class AssignResponse(BaseModel):
    results: list[AssignResult]
