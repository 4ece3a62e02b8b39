"""Reading posts from JSONL/CSV files or stdin and writing predictions, with line-numbered problems."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, TextIO


@dataclass(frozen=True)
class Problem:
    """A skipped input line: its 1-based line number and what was wrong (never the text itself)."""

    line: int
    message: str


def detect_format(path: str, explicit: str | None = None) -> str:
    """``jsonl`` or ``csv`` from an explicit choice or the file extension (stdin defaults to jsonl)."""
    if explicit:
        if explicit not in ("jsonl", "csv"):
            raise ValueError(f"format must be jsonl or csv, found {explicit!r}")
        return explicit
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def _validate(record: Any, line: int) -> tuple[dict | None, Problem | None]:
    if not isinstance(record, dict):
        return None, Problem(line, f"expected a JSON object, found {type(record).__name__}")
    if "text" not in record:
        return None, Problem(line, "missing field 'text'")
    if not isinstance(record["text"], str):
        return None, Problem(line, f"field 'text' must be a string, found {type(record['text']).__name__}")
    return record, None


def read_records(handle: TextIO, fmt: str) -> Iterator[tuple[int, dict | None, Problem | None]]:
    """Yield ``(line number, record, problem)``; exactly one of record/problem is set."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "text" not in reader.fieldnames:
            yield 1, None, Problem(1, f"CSV header must have a 'text' column, found {reader.fieldnames}")
            return
        for record in reader:
            yield (reader.line_num, *_validate(dict(record), reader.line_num))
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, None, Problem(number, f"invalid JSON ({error.msg} at column {error.colno})")
            continue
        yield (number, *_validate(record, number))


def open_input(path: str) -> TextIO:
    """A text handle for ``path`` or stdin (``-``); undecodable bytes are replaced, not fatal."""
    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return Path(path).open(encoding="utf-8", errors="replace", newline="")


def open_output(path: str) -> TextIO:
    if path == "-":
        return sys.stdout
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path).open("w", encoding="utf-8", newline="")


class RecordWriter:
    """Writes output records as JSONL, or CSV with nested fields flattened to ``head_label``/``head_score``."""

    def __init__(self, handle: TextIO, fmt: str, heads: tuple[str, ...] = ()) -> None:
        self.handle, self.fmt, self.heads, self._csv = handle, fmt, heads, None

    def write(self, record: dict) -> None:
        if self.fmt == "jsonl":
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        flat = flatten(record, self.heads)
        if self._csv is None:
            self._csv = csv.DictWriter(self.handle, fieldnames=list(flat), extrasaction="ignore")
            self._csv.writeheader()
        self._csv.writerow(flat)


def flatten(record: dict, heads: tuple[str, ...] = ()) -> dict:
    """CSV-friendly view of an output record: head dicts become ``<head>_label`` and ``<head>_score``."""
    flat = {}
    for key, value in record.items():
        if value is None and key in heads:
            flat[f"{key}_label"] = flat[f"{key}_score"] = None
        elif isinstance(value, dict) and "label" in value:
            flat[f"{key}_label"] = value["label"]
            flat[f"{key}_score"] = value["score"]
            if "source" in value:  # the fake decision: where it came from and the matched claim
                match = value.get("match") or {}
                flat[f"{key}_source"], flat[f"{key}_stance"] = value["source"], value.get("stance")
                flat[f"{key}_claim_id"], flat[f"{key}_refutation"] = match.get("id"), match.get("refutation")
        elif isinstance(value, (list, dict)):
            flat[key] = json.dumps(value, ensure_ascii=False)
        else:
            flat[key] = value
    return flat


@contextmanager
def atomic_text_writer(path: str | Path) -> Iterator[TextIO]:
    """A UTF-8 text handle whose content replaces ``path`` only when the block ends without an error: written to a
    temporary file in the same folder, flushed to disk and renamed, so a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=path.parent,
                                         prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
