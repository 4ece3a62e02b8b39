"""Words and numbers the HTML and Markdown reports share: Russian label names, changes, the period's title."""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache

from cur_nlp.labels import load_topics, load_urgency_levels
from cur_nlp.report.summary import Picture


@lru_cache(maxsize=1)
def _names() -> tuple[dict[str, str], dict[str, str]]:
    return ({t.id: t.name for t in load_topics()} | {"unknown": "(нет темы)"},
            {u.id: u.name for u in load_urgency_levels()} | {"unknown": "(нет оценки)"})


def topic_name(topic: str | None) -> str:
    """The Russian name of a topic id (the id itself when unknown)."""
    return _names()[0].get(topic or "unknown", topic or "")


def urgency_name(level: str | None) -> str:
    """The Russian name of an urgency level."""
    return _names()[1].get(level or "unknown", level or "")


def change(now: int, before: int) -> str:
    """«+3 (+50%)», «−2 (−40%)», «0», or «новое» when there was nothing before."""
    if before == 0:
        return "новое" if now else "0"
    delta = now - before
    if delta == 0:
        return "0"
    sign = "+" if delta > 0 else "−"
    return f"{sign}{abs(delta)} ({sign}{abs(delta) / before:.0%})"


def title(picture: Picture) -> str:
    """«Неделя 12.01.2026 — 18.01.2026» or «Месяц 01.2026»."""
    period = picture.period
    if period.kind == "month":
        return f"Месяц {period.start:%m.%Y}"
    return f"Неделя {period.start:%d.%m.%Y} — {period.end - timedelta(days=1):%d.%m.%Y}"


def share(part: int, whole: int) -> str:
    """A percentage with one decimal («12.5%»), «—» for an empty whole."""
    return f"{100 * part / whole:.1f}%" if whole else "—"
