"""``cur-nlp incidents`` (posts with predictions → incidents) and ``cur-nlp report`` (the centre's weekly or monthly
picture), over files written by ``cur-nlp predict``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer


def _records(path: str, skipped: list[int] | None = None) -> Iterator[dict[str, Any]]:
    """The records of a JSONL/CSV file with a progress bar on a terminal; bad lines are skipped, and reported on
    stderr by number and counted in ``skipped`` when it is given."""
    from tqdm import tqdm

    from cur_nlp.io import detect_format, open_input, read_records

    with open_input(path) as source:
        lines = tqdm(read_records(source, detect_format(path)), unit=" lines", file=sys.stderr,
                     disable=skipped is None or not sys.stderr.isatty())
        for _, record, problem in lines:
            if problem is None:
                yield record
            elif skipped is not None:
                skipped.append(problem.line)
                typer.echo(f"{path}:{problem.line}: skipped: {problem.message}", err=True)


def routing_table(routes: Path | None) -> Any:
    """The routing table of ``--routes`` (None without one); a bad table is a usage error naming the row."""
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
    from cur_nlp.io import output_file

    settings = GroupingSettings()
    if quiet_hours is not None:
        try:
            settings = replace(settings, quiet_hours=quiet_hours)
        except ValueError as error:
            raise typer.BadParameter(str(error), param_hint="--quiet-hours") from None
    table = routing_table(routes)
    skipped: list[int] = []
    count = posts = 0
    with output_file(str(output)) as handle:
        for incident in group_records(_records(input, skipped), settings):
            handle.write(json.dumps(incident.to_dict(table), ensure_ascii=False) + "\n")
            count += 1
            posts += len(incident.post_ids)
    typer.echo(f"{count} incidents from {posts} posts written to {output}; skipped {len(skipped)} bad lines", err=True)
    raise typer.Exit(3 if skipped else 0)


def report(
    input: Path = typer.Argument(..., help="JSONL/CSV from `cur-nlp predict` (read twice: a file, not stdin)."),
    period: str = typer.Option("week", "--period", help="week (7 days up to the newest post) or month (its calendar "
                                                        "month)."),
    previous: Optional[Path] = typer.Option(None, "--previous", help="Older predictions for the previous period."),
    output: Path = typer.Option(Path("report.html"), "--output", "-o", help="The HTML page; the Markdown twin is "
                                                                            "written beside it (.md)."),
) -> None:
    """The centre's weekly or monthly picture: counts by topic × municipality, top-5 topics with change against
    the previous period, urgency by topic, the largest and most urgent open incidents, unplaced posts, fakes matched.
    One self-contained HTML page (opens offline) and its Markdown twin.

    Bad lines are reported on stderr by line number and skipped; the exit code is 3 when any were skipped.
    """
    from cur_nlp.io import output_file
    from cur_nlp.report import PERIODS, build_picture, render_html, render_markdown

    if period not in PERIODS:
        raise typer.BadParameter(f"one of {', '.join(PERIODS)}; got {period!r}", param_hint="--period")
    for path, hint in ((input, "INPUT"), (previous, "--previous")):
        if path is not None and not path.is_file():
            raise typer.BadParameter(f"{path} is not a file", param_hint=hint)
    skipped: list[int] = []
    passes = iter([None, skipped])  # bad lines are reported on the second pass only
    picture = build_picture(lambda: _records(str(input), next(passes, None)), period,
                            (lambda: _records(str(previous), skipped)) if previous is not None else None)
    markdown = output.with_suffix(".md")
    with output_file(str(output)) as handle:
        handle.write(render_html(picture))
    with output_file(str(markdown)) as handle:
        handle.write(render_markdown(picture))
    typer.echo(f"{picture.posts} posts of the {period} ({picture.previous_posts} in the previous one): {output}, "
               f"{markdown}; skipped {len(skipped)} bad lines", err=True)
    raise typer.Exit(3 if skipped else 0)
