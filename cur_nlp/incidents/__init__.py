"""Many posts, one problem: posts with their predictions grouped into incidents (same problem, same place, within
a quiet period), offline over a file and online in the service's database. See docs/incidents.md.

>>> from cur_nlp.incidents import group_records
>>> incidents = list(group_records(records))          # doctest: +SKIP
"""

from cur_nlp.incidents.grouping import GroupingSettings, IncidentGrouper
from cur_nlp.incidents.incident import Incident
from cur_nlp.incidents.post import Post, post_from_record
from cur_nlp.incidents.stream import group_records

__all__ = ["GroupingSettings", "Incident", "IncidentGrouper", "Post", "group_records", "post_from_record"]
