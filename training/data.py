"""Loaders for every labelled source format, returning ``datasets.Dataset`` with unified columns.

Unified columns: ``id`` (str, prefixed by source), ``text`` (normalised), ``source``, ``created`` (ISO string or
None), ``topic``, ``urgency``, ``fake`` (None where the source says nothing), plus source columns worth keeping:
``reason``, ``district``, ``municipality``, ``lat``, ``lon``, ``address``, ``responsible``.
Each loader takes a path, so any file of the same format works.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any, Iterable

from datasets import Dataset, Features, Value

from cur_nlp.labels import URGENCY_LEVELS, topic_ids
from cur_nlp.normalize import normalize_text
from cur_nlp_training.mappings import load_mapping

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
"""Default location of the shared labelled data (``../shared/data`` next to the repository)."""

FEATURES = Features(
    {
        "id": Value("string"),
        "text": Value("string"),
        "source": Value("string"),
        "created": Value("string"),
        "topic": Value("string"),
        "urgency": Value("string"),
        "fake": Value("bool"),
        "reason": Value("string"),
        "district": Value("string"),
        "municipality": Value("string"),
        "lat": Value("float64"),
        "lon": Value("float64"),
        "address": Value("string"),
        "responsible": Value("string"),
        "region": Value("string"),
        "kind": Value("string"),
        "relevant": Value("bool"),
        "split": Value("string"),
    }
)

DEFAULT_FILES = {
    "spb": "spb_nash_gorod_2020-10_2021-03.jsonl.gz",
    "kursk": "kursk_appeals_train.csv",
    "ru22fact": "ru22fact_ru_test.csv",
    "almaty": "almaty_address_ner_dev.jsonl",
}
SOCIAL_DIR = Path(__file__).resolve().parent / "data" / "social"
"""The team-written social-network corpus (``training/data/social/*.jsonl``, data card: its README.md)."""
SOCIAL_KINDS = ("complaint", "question", "suggestion", "thanks", "official_reply", "chatter")


def _row(**values: Any) -> dict[str, Any]:
    return {name: values.get(name) for name in FEATURES}


def _to_dataset(rows: Iterable[dict[str, Any]]) -> Dataset:
    return Dataset.from_list(list(rows), features=FEATURES)


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _parse_date(value: str | None) -> str | None:
    """ISO date (``YYYY-MM-DD``) from the mixed formats of RU22Fact, or None when unparseable."""
    if not value:
        return None
    from datetime import datetime

    text = value.strip().split(" ")[0]
    for fmt in ("%Y/%m/%d", "%Y-%m-%d", "%d.%m.%Y", "%Y.%m.%d"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


def load_spb(path: str | Path) -> Dataset:
    """Petitions of «Наш Санкт-Петербург» (JSONL, optionally gzipped); topic/urgency from ``reason``."""
    mapping = load_mapping("spb_reason")
    rows = []
    with _open_text(Path(path)) as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            reason = record.get("reason")
            if reason not in mapping:
                raise ValueError(f"{path}:{line_number}: reason {reason!r} is not in training/mappings/spb_reason.csv")
            target = mapping[reason]
            rows.append(
                _row(
                    id=f"spb:{record['id']}",
                    text=normalize_text(record.get("text") or ""),
                    source="spb",
                    created=record.get("created"),
                    topic=target.topic,
                    urgency=target.urgency,
                    reason=reason,
                    district=record.get("district"),
                    municipality=record.get("municipality"),
                    lat=_float_or_none(record.get("lat")),
                    lon=_float_or_none(record.get("lon")),
                    address=record.get("full_address"),
                )
            )
    return _to_dataset(rows)


KURSK_TEST_CATEGORY = "12"
"""Kursk category 12 is «Тестовая категория» (one row in the source); its rows are dropped."""


def load_kursk(path: str | Path) -> Dataset:
    """Kursk region appeals (CSV with raw HTML); topic/urgency from ``Тематика``."""
    mapping = load_mapping("kursk_topic")
    rows = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            if record.get("Категория") == KURSK_TEST_CATEGORY:
                continue
            fine_topic = record["Тематика"]
            if fine_topic not in mapping:
                raise ValueError(f"{path}: topic {fine_topic!r} is not in training/mappings/kursk_topic.csv")
            target = mapping[fine_topic]
            rows.append(
                _row(
                    id=f"kursk:{record['id']}",
                    text=normalize_text(record["Текст Сообщения"]),
                    source="kursk",
                    topic=target.topic,
                    urgency=target.urgency,
                    reason=fine_topic,
                    responsible=record.get("Ответственное лицо"),
                )
            )
    return _to_dataset(rows)


def load_ru22fact(path: str | Path) -> Dataset:
    """RU22Fact claims with verdicts; ``fake`` is True for Refuted, False for Supported."""
    rows = []
    with Path(path).open(encoding="utf-8", newline="") as handle:
        for record in csv.DictReader(handle):
            verdict = record["label"]
            if verdict not in ("Supported", "Refuted"):
                raise ValueError(f"{path}: unknown verdict {verdict!r} for id {record['id']}")
            rows.append(
                _row(
                    id=f"ru22fact:{record['id']}",
                    text=normalize_text(record["claim"]),
                    source="ru22fact",
                    created=_parse_date(record.get("date")),
                    fake=verdict == "Refuted",
                    responsible=record.get("claimant") or None,
                )
            )
    return _to_dataset(rows)


def load_almaty(path: str | Path) -> Dataset:
    """Almaty complaints with hand-labelled address spans; text kept raw so span offsets stay valid.

    Adds an ``entities`` column: list of ``{"start", "end", "type", "text"}``.
    """
    rows, entities = [], []
    with Path(path).open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            record = json.loads(line)
            rows.append(_row(id=f"almaty:{line_number}", text=record["text"], source="almaty"))
            entities.append([{"start": s, "end": e, "type": t, "text": x} for s, e, t, x in record["entities"]])
    return _to_dataset(rows).add_column("entities", entities)


def load_social(path: str | Path) -> Dataset:
    """The team-written social-network posts: a folder of JSONL files (or one file) with ``text``, ``topic``,
    ``urgency``, ``relevant``, ``region``, ``kind`` and ``split`` (train/dev/test, assigned by writing batch)."""
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    if not files:
        raise FileNotFoundError(f"{path}: no .jsonl files")
    topics, levels = set(topic_ids()), set(URGENCY_LEVELS)
    rows = []
    for file in files:
        with file.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                record = json.loads(line)
                where = f"{file}:{line_number}"
                if record["topic"] not in topics or record["urgency"] not in levels:
                    raise ValueError(f"{where}: unknown topic {record['topic']!r} or urgency {record['urgency']!r}")
                if record["kind"] not in SOCIAL_KINDS or record["split"] not in ("train", "dev", "test"):
                    raise ValueError(f"{where}: unknown kind {record['kind']!r} or split {record['split']!r}")
                rows.append(_row(id=f"social:{record['id']}", text=normalize_text(record["text"]), source="social",
                                 topic=record["topic"], urgency=record["urgency"], relevant=bool(record["relevant"]),
                                 region=record.get("region"), kind=record["kind"], split=record["split"]))
    return _to_dataset(rows)


LOADERS = {"social": load_social, "spb": load_spb, "kursk": load_kursk, "ru22fact": load_ru22fact, "almaty": load_almaty}


def load_source(name: str, path: str | Path | None = None) -> Dataset:
    """Load a source by name from ``path`` or from its default file in ``../shared/data``."""
    if name not in LOADERS:
        raise ValueError(f"unknown source {name!r}; expected one of {sorted(LOADERS)}")
    file_path = Path(path) if path else SOCIAL_DIR if name == "social" else SHARED_DATA / DEFAULT_FILES[name]
    if not file_path.exists():
        raise FileNotFoundError(f"{file_path} not found: pass the path of a {name} file explicitly")
    return LOADERS[name](file_path)
