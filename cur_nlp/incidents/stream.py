"""Offline grouping of a stream of prediction records: incidents come out as they close, memory stays bounded by
the incidents open at one time (those heard from within the quiet period)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Iterable, Iterator

from cur_nlp.incidents.grouping import GroupingSettings, IncidentGrouper
from cur_nlp.incidents.incident import Incident
from cur_nlp.incidents.post import post_from_record


def group_records(records: Iterable[dict[str, Any]], settings: GroupingSettings | None = None,
                  now: datetime | None = None) -> Iterator[Incident]:
    """Incidents of ``records`` (roughly in time order): each closed incident as soon as the newest post time seen
    is ``quiet_hours`` past its last post, then the incidents still open (``closed`` False) at the end.

    Records without text are skipped; records without a readable ``created`` take ``now`` (default: the time of
    the call), records without ``id`` their position (``"#12"``).
    """
    grouper = IncidentGrouper(settings)
    now = now or datetime.now(timezone.utc)
    newest: datetime | None = None
    for position, record in enumerate(records):
        post = post_from_record(record, now, f"#{position}")
        if post is None:
            continue
        grouper.assign(post)
        if newest is None or post.time > newest:
            newest = post.time
            yield from grouper.close_quiet(newest)
    yield from grouper.close_all()
