"""Reading posts from JSONL/CSV files or stdin and writing predictions, with line-numbered problems.

Readers take bytes: a UTF-8 byte-order mark (what Excel writes) is dropped, bytes that are not UTF-8 are replaced
and reported, lone surrogates in JSON strings are replaced (:mod:`cur_nlp.normalize` hygiene). A line that cannot
be read — bad JSON, a CSV record with an unterminated quote or the wrong number of fields — is reported by line and
skipped; the next line is read as if it were not there.

Writers write a file whole: into a temporary file beside the target, renamed over it at the end, so that a failure
(a full disk) leaves the target as it was. CSV output has the union of all records' columns, in first-seen order.
"""

from __future__ import annotations

import codecs
import csv
import json
import os
import re
import sys
import tempfile
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Iterator, TextIO

from cur_nlp.model_dir import readable_by_all
from cur_nlp.normalize import decode_text, replace_surrogates

_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


@dataclass(frozen=True)
class Problem:
    """A problem of an input line: its 1-based line number and what was wrong (never the text itself).
    ``skipped``: the line was left out; else it was read after a repair (e.g. invalid UTF-8 replaced)."""

    line: int
    message: str
    skipped: bool = True


Line = tuple[int, str, "Problem | None"]
"""A numbered, decoded input line and the repair it needed, if any."""

Read = tuple[int, Any, "Problem | None"]
"""``(line number, value, problem)``: value None with a problem that skipped the line; a value with a problem
was repaired."""


def detect_format(path: str, explicit: str | None = None) -> str:
    """``jsonl`` or ``csv`` from an explicit choice or the file extension (stdin defaults to jsonl)."""
    if explicit:
        if explicit not in ("jsonl", "csv"):
            raise ValueError(f"format must be jsonl or csv, found {explicit!r}")
        return explicit
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def decoded_lines(handle: BinaryIO) -> Iterator[Line]:
    """The lines of a byte stream as text (line endings kept), without a leading BOM; a line with bytes that are
    not UTF-8 comes with a repair problem saying where."""
    for number, raw in enumerate(handle, start=1):
        if number == 1:
            raw = raw.removeprefix(codecs.BOM_UTF8)
        text, bad = decode_text(raw)
        repair = None if bad is None else Problem(number, f"not UTF-8 at byte {bad + 1}; replaced by U+FFFD", False)
        yield number, text, repair


def _repaired(value: Any) -> Any:
    """``value`` with lone surrogates replaced in every string (JSON escapes such as ``"\\ud83d"``)."""
    if isinstance(value, str):
        return replace_surrogates(value)
    if isinstance(value, list):
        return [_repaired(v) for v in value]
    if isinstance(value, dict):
        return {_repaired(k): _repaired(v) for k, v in value.items()}
    return value


def read_jsonl(handle: BinaryIO) -> Iterator[Read]:
    """Every non-blank line of a JSONL stream parsed (any JSON value); bad JSON is a problem that skips the line."""
    for number, text, repair in decoded_lines(handle):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
            if _SURROGATE_ESCAPE.search(text):
                value = _repaired(value)
        except json.JSONDecodeError as error:
            yield number, None, Problem(number, f"invalid JSON ({error.msg} at column {error.colno})")
            continue
        except RecursionError:
            yield number, None, Problem(number, "invalid JSON (nested too deeply)")
            continue
        yield number, value, repair


class _Lines:
    """Decoded lines for ``csv.reader``, keeping the lines each record took, so that the lines after a bad
    record's first line can be put back and read again."""

    def __init__(self, lines: Iterator[Line]) -> None:
        self._lines = lines
        self._back: deque[Line] = deque()
        self.taken: list[Line] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._back.popleft() if self._back else next(self._lines)
        self.taken.append(line)
        return line[1]

    def put_back(self, lines: list[Line]) -> None:
        self._back.extendleft(reversed(lines))


def csv_rows(lines: Iterator[Line]) -> Iterator[Read]:
    """CSV records as lists of fields, numbered by their first line. A malformed record (an unterminated quote,
    text after a closing quote, a field over ``csv.field_size_limit()``) is reported at its first line, which is
    skipped; reading goes on at the next line."""
    source = _Lines(lines)
    reader = csv.reader(source, strict=True)
    while True:
        source.taken = []
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            (number, _, _), *rest = source.taken
            source.put_back(rest)
            reader = csv.reader(source, strict=True)
            yield number, None, Problem(number, f"malformed CSV record ({error})")
            continue
        if fields:  # blank lines have none
            repairs = [repair for _, _, repair in source.taken if repair is not None]
            yield source.taken[0][0], fields, repairs[0] if repairs else None


def _csv_records(lines: Iterator[Line]) -> Iterator[Read]:
    header: list[str] | None = None
    for number, fields, problem in csv_rows(lines):
        if fields is None:
            yield number, None, problem
        elif header is None:
            header = fields
            if "text" not in header:
                yield number, None, Problem(number, f"CSV header must have a 'text' column, found {header}")
                return
        elif len(fields) != len(header):
            yield number, None, Problem(number, f"{len(fields)} fields where the header has {len(header)}")
        else:
            yield number, dict(zip(header, fields)), problem


def _validate(record: Any, line: int) -> Problem | None:
    if not isinstance(record, dict):
        return Problem(line, f"expected a JSON object, found {type(record).__name__}")
    if "text" not in record:
        return Problem(line, "missing field 'text'")
    if not isinstance(record["text"], str):
        return Problem(line, f"field 'text' must be a string, found {type(record['text']).__name__}")
    return None


def read_records(handle: BinaryIO, fmt: str) -> Iterator[Read]:
    """Posts of a JSONL or CSV byte stream: ``(line number, record, problem)``. The record is None when the line
    was skipped (the problem says why); a record with a problem was repaired (the problem says how)."""
    reads = _csv_records(decoded_lines(handle)) if fmt == "csv" else read_jsonl(handle)
    for number, record, problem in reads:
        invalid = _validate(record, number) if record is not None else None
        yield (number, None, invalid) if invalid is not None else (number, record, problem)


def open_input(path: str) -> BinaryIO:
    """A byte stream of ``path`` or stdin (``-``), for :func:`read_records`."""
    if path == "-":
        return sys.stdin.buffer
    return Path(path).open("rb")



@contextmanager
def output_file(path: str) -> Iterator[TextIO]:
    """A text handle for ``path`` (``-``: stdout, written as it goes). A file is written to a temporary file in its
    folder and renamed over ``path`` when the block ends; after an error the temporary file is removed and
    ``path`` is left as it was (a full disk never leaves half a file)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=target.parent,
                                         prefix=f".{target.name}.", suffix=".part", delete=False)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        readable_by_all(handle.name)  # what a plain open() would have given
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


class RecordWriter:
    """Writes output records as JSONL, or CSV with nested fields flattened to ``head_label``/``head_score``.

    JSONL lines are written as they come. CSV needs every record's columns for its header (the union, in
    first-seen order), so its rows wait in a temporary spool file until :meth:`finish`.
    """

    def __init__(self, handle: TextIO, fmt: str, heads: tuple[str, ...] = ()) -> None:
        self.handle, self.fmt, self.heads = handle, fmt, heads
        self._columns: dict[str, None] = {}
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8") if fmt == "csv" else None

    def write(self, record: dict) -> None:
        """Write one record (CSV: spool it)."""
        if self._spool is None:
            self.handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        flat = flatten(record, self.heads)
        self._columns.update(dict.fromkeys(flat))
        self._spool.write(json.dumps(flat, ensure_ascii=False) + "\n")

    def finish(self) -> None:
        """Write what waits: for CSV the header and every spooled row."""
        if self._spool is None:
            return
        with self._spool:
            if self._columns:
                writer = csv.DictWriter(self.handle, fieldnames=list(self._columns))
                writer.writeheader()
                self._spool.seek(0)
                writer.writerows(json.loads(line) for line in self._spool)


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

