"""The Markdown twin of the report: the same sections as the HTML page, as tables."""

from __future__ import annotations

from cur_nlp.incidents import Incident
from cur_nlp.labels import URGENCY_LEVELS
from cur_nlp.report.summary import Picture
from cur_nlp.report.wording import change, share, title, topic_name, urgency_name


def _table(header: list[str], rows: list[list[object]]) -> str:
    cell = lambda v: str(v).replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) if rows else "_нет данных_"


def _incident_rows(incidents: list[Incident]) -> list[list[object]]:
    return [[topic_name(i.topic), urgency_name(i.urgency), len(i.post_ids), (i.location or {}).get("normal") or i.area
             or "—", f"{i.first_seen:%d.%m %H:%M} — {i.last_seen:%d.%m %H:%M}", i.representative().text[:160]]
            for i in incidents]


def render_markdown(picture: Picture) -> str:
    """The report as Markdown."""
    p = picture
    municipalities = p.municipalities
    topics = [t for t, _ in p.topics.most_common()]
    parts = [
        f"# Обращения граждан: {title(p)}",
        f"Постов: **{p.posts}** (в прошлом периоде {p.previous_posts}, {change(p.posts, p.previous_posts)}). "
        f"Без места: **{p.unplaced}** ({share(p.unplaced, p.posts)}). Совпадений с реестром фейков: "
        f"**{sum(p.fakes.values())}**. Инцидентов открыто: **{len(p.open_incidents)}**, закрыто за период: "
        f"{p.closed_incidents}.",
        "## Топ-5 тем",
        _table(["Тема", "Постов", "Прошлый период", "Изменение"],
               [[topic_name(t), n, b, change(n, b)] for t, n, b in p.top_topics()]),
        "## Темы × муниципалитеты",
        _table(["Муниципалитет", *[topic_name(t) for t in topics], "Всего"],
               [[m, *[p.by_municipality[m].get(t, 0) for t in topics], sum(p.by_municipality[m].values())]
                for m in municipalities]),
        "## Топ-5 тем по муниципалитетам",
    ]
    for m in municipalities:
        parts += [f"### {m}", _table(["Тема", "Постов", "Прошлый период", "Изменение"],
                                     [[topic_name(t), n, b, change(n, b)] for t, n, b in p.top_topics(m)])]
    levels = [*URGENCY_LEVELS, "unknown"]
    parts += [
        "## Срочность по темам",
        _table(["Тема", *[urgency_name(u) for u in levels]],
               [[topic_name(t), *[p.urgency[t].get(u, 0) for u in levels]] for t in topics]),
        "## Крупнейшие открытые инциденты",
        _table(["Тема", "Срочность", "Постов", "Место", "Время", "Текст"], _incident_rows(p.largest())),
        "## Самые срочные открытые инциденты",
        _table(["Тема", "Срочность", "Постов", "Место", "Время", "Текст"], _incident_rows(p.most_urgent())),
        "## Фейки из реестра",
        _table(["Утверждение", "Постов"], [[f"{claim} ({claim_id})", n] for (claim_id, claim), n
                                             in p.fakes.most_common()]),
    ]
    return "\n\n".join(parts) + "\n"
