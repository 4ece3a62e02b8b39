"""Service settings, read from ``CUR_NLP_*`` environment variables and a ``.env`` file (pydantic-settings).

>>> Settings(max_items=10).max_items
10
>>> Settings(api_keys="a, b").api_keys
['a', 'b']
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from cur_nlp.backends import BACKEND_NAMES

log = logging.getLogger("cur_nlp.serve")


def geo_available() -> bool:
    """Whether place extraction (``cur_nlp.geo.Locator``) can be imported in this installation."""
    try:
        from cur_nlp.geo import Locator  # noqa: F401
    except Exception:  # ImportError, or a broken optional dependency of the geo package
        return False
    return True


class Settings(BaseSettings):
    """Everything the service can be configured with; each field is also the env var ``CUR_NLP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="CUR_NLP_", env_file=".env", extra="ignore")

    model: Path | None = Field(None, description="Model directory (default: the embedded model, models/default).")
    host: str = Field("127.0.0.1", description="Interface to listen on (0.0.0.0 in a container).")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    workers: int = Field(1, ge=1, description="Uvicorn worker processes (each loads its own model copy).")
    max_items: int = Field(256, ge=1, description="Most posts in one request; more gets 413.")
    max_explain_items: int = Field(4, ge=1, description="Most posts in one request with explain=true; more gets 413.")
    max_explain_words: int = Field(64, ge=1, description="Words of a post that explain=true weighs (the first ones; "
                                   "each costs one more text to score).")
    explain_timeout_s: float = Field(10.0, gt=0, description="Longest time for the explanations of one request "
                                     "before 503; the work stops then, or when the client disconnects.")
    max_errors: int = Field(20, ge=1, description="Validation problems listed in a 422 (the first ones; "
                            "`total` counts them all).")
    max_text_chars: int = Field(
        20_000, ge=1, description="Characters of a post passed on to the model; longer posts are cut and marked truncated."
    )
    max_body_bytes: int = Field(2 * 1024 * 1024, ge=1024, description="Largest request body; larger gets 413.")
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Accepted X-API-Key values, comma-separated; empty: no auth."
    )
    registry: str = Field("cur_nlp_registry.db", description="The registry of debunked claims: an SQLite file "
                          "(created on first use) or an SQLAlchemy URL (postgresql+psycopg://…) shared by replicas.")
    incidents_database: str | None = Field(
        None, description="Where /v1/incidents keeps incidents: an SQLite file or an SQLAlchemy URL shared by "
                          "replicas; default: the registry's database when CUR_NLP_REGISTRY is one, else "
                          "cur_nlp_incidents.db.")
    incidents_quiet_hours: float | None = Field(
        None, gt=0, description="Hours without a post after which an incident closes (default: the tuned 48).")
    routes: Path | None = Field(None, description="Routing table (CSV/Parquet: topic, optional settlement/"
                                "municipality/region/urgency, body, contact): adds `route` to /v1/classify results "
                                "and to incidents.")
    locate: bool | None = Field(
        None, description="Extract and geocode places; default: on when cur_nlp.geo is installed, else off."
    )
    batch_window_ms: float = Field(15.0, ge=0, description="Longest wait for more posts before a model call; the batcher "
                                   "waits only while fewer requests have come than were recently in flight at once.")
    max_batch_size: int = Field(64, ge=1, description="Most posts the batcher merges into one model call.")
    model_batch_size: int = Field(
        16, ge=1, description="Posts per forward pass inside a model call (sorted by length; small = less padding)."
    )
    max_queue_items: int = Field(1024, ge=1, description="Posts waiting for the model before new requests get 503.")
    request_timeout_s: float = Field(30.0, gt=0, description="Longest wait for a result before 503.")
    num_threads: int | None = Field(None, ge=1, description="Torch CPU threads (default: torch's choice).")
    backend: Literal[BACKEND_NAMES] = Field(  # type: ignore[valid-type]
        "auto", description="Encoder backend (cur_nlp.backends): auto picks torch-bf16 on CPUs with AMX or "
                            "AVX-512 BF16, else an ONNX file exported and checked for the model, else torch (fp32); "
                            "`cur-nlp info` says which and why.")
    warmup: bool = Field(True, description="Run one prediction at startup so the first request is not slow.")
    log_level: str = Field("info", description="Python logging level of the service.")

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            keys = [key.strip() for key in value.split(",") if key.strip()]
            if value and not keys:  # e.g. " , ": the operator meant to set keys; auth must not silently stay off
                raise ValueError("CUR_NLP_API_KEYS is set but holds no key; give comma-separated keys, or leave it "
                                 "empty to turn authentication off")
            return keys
        return value

    def open_to_the_network(self) -> bool:
        """Whether the service runs without API keys on an interface other than loopback (warned at start)."""
        if self.api_keys:
            return False
        try:
            return not ipaddress.ip_address(self.host).is_loopback
        except ValueError:  # a host name
            return self.host != "localhost"

    def incidents_location(self) -> str:
        """``incidents_database`` with its default filled in (see its description)."""
        from cur_nlp.fakes.matcher import is_database

        if self.incidents_database:
            return self.incidents_database
        return self.registry if is_database(self.registry) else "cur_nlp_incidents.db"

    def resolved_locate(self) -> bool:
        """``locate`` with its default filled in: on when ``cur_nlp.geo`` imports (logged either way)."""
        if self.locate is not None:
            return self.locate
        available = geo_available()
        log.info("locate=%s (cur_nlp.geo %s)", available, "available" if available else "not importable")
        return available
