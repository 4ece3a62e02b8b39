"""``cur-nlp incidents`` (posts with predictions → incidents) and ``cur-nlp report`` (the centre's weekly or monthly
picture), over files written by ``cur-nlp predict``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer


def _records(path: str, skipped: list[int]) -> Iterator[dict[str, Any]]:
    """The records of a JSONL/CSV file; bad lines are reported on stderr by number, counted and skipped."""
    from tqdm import tqdm

    from cur_nlp.io import detect_format, open_input, read_records

    with open_input(path) as source:
        lines = tqdm(read_records(source, detect_format(path)), unit=" lines", disable=not sys.stderr.isatty(),
                     file=sys.stderr)
        for _, record, problem in lines:
            if problem is not None:
                skipped.append(problem.line)
                typer.echo(f"{path}:{problem.line}: skipped: {problem.message}", err=True)
                continue
            yield record


def _routing_table(routes: Path | None):
    if routes is None:
        return None
    from cur_nlp.routing import RoutingTable

    try:
        return RoutingTable.from_file(routes)
    except (ValueError, FileNotFoundError) as error:
        raise typer.BadParameter(str(error), param_hint="--routes") from None


def incidents(
    input: str = typer.Argument(..., help="JSONL/CSV from `cur-nlp predict` (records with text, optional id, created, "
                                          "lat/lon, city); '-' for stdin. Roughly in time order."),
    output: Path = typer.Option(..., "--output", "-o", help="Incidents as JSON lines (written whole at the end)."),
    quiet_hours: Optional[float] = typer.Option(None, help="Hours without a post after which an incident closes "
                                                           "(default: the tuned value, 48)."),
    routes: Optional[Path] = typer.Option(None, "--routes", help="Routing table (CSV/Parquet) to route each incident."),
) -> None:
    """Group posts into incidents (same problem, same place, within the quiet period): one JSON line per incident
    with id, topic, urgency, place, first/last seen, posts, text, post_ids, status (and route with --routes).

    Bad lines are reported on stderr by line number and skipped; the exit code is 3 when any were skipped.
    """
    from dataclasses import replace

    from cur_nlp.incidents import GroupingSettings, group_records
    from cur_nlp.io import atomic_text_writer
    from cur_nlp.routing import record_place

    settings = GroupingSettings()
    if quiet_hours is not None:
        try:
            settings = replace(settings, quiet_hours=quiet_hours)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--quiet-hours") from None
    table = _routing_table(routes)
    skipped: list[int] = []
    count = posts = 0
    with atomic_text_writer(output) as handle:
        for incident in group_records(_records(input, skipped), settings):
            route = None
            if table is not None:
                place = record_place({"city": incident.area}, incident.location)
                route = table.route(incident.topic, incident.urgency, place)
            handle.write(json.dumps(incident.to_dict(route), ensure_ascii=False) + "\n")
            count += 1
            posts += len(incident.post_ids)
    typer.echo(f"{count} incidents from {posts} posts written to {output}; skipped {len(skipped)} bad lines", err=True)
    raise typer.Exit(3 if skipped else 0)
