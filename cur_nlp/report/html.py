"""The report as one self-contained HTML page: styles, an SVG bar chart, an SVG map layer of municipalities and a
small script (sortable tables) all inline, so the file opens offline and can be mailed as it is."""

from __future__ import annotations

import math
from html import escape

from cur_nlp.incidents import Incident
from cur_nlp.labels import URGENCY_LEVELS
from cur_nlp.report.summary import Picture
from cur_nlp.report.wording import change, share, title, topic_name, urgency_name

STYLE = """
body{font-family:system-ui,'DejaVu Sans',Arial,sans-serif;margin:24px auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}h3{margin-bottom:.3em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:3px 8px}
th{background:#f0f0f0;cursor:pointer;user-select:none}td.n{text-align:right}.up{color:#b00020}.down{color:#1b7f3b}
.summary span{display:inline-block;margin-right:1.5em}.muted{color:#777}svg text{font-size:12px}
"""

SCRIPT = """
document.querySelectorAll('table.sortable th').forEach(function (th, column) {
  th.addEventListener('click', function () {
    var body = th.closest('table').tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var down = th.dataset.order !== 'desc';
    th.dataset.order = down ? 'desc' : 'asc';
    rows.sort(function (a, b) {
      var x = a.cells[column].dataset.v || a.cells[column].textContent;
      var y = b.cells[column].dataset.v || b.cells[column].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var r = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y, 'ru');
      return down ? -r : r;
    });
    rows.forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _table(header: list[str], rows: list[list[object]], table_id: str, numeric_from: int = 1) -> str:
    if not rows:
        return '<p class="muted">нет данных</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(v, i >= numeric_from) for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f'<table class="sortable" id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: object, numeric: bool) -> str:
    if numeric and isinstance(value, (int, float)):
        return f'<td class="n">{value}</td>'
    return f"<td>{escape(str(value))}</td>"


def _change_cell(now: int, before: int) -> str:
    text = change(now, before)
    css = "up" if now > before else "down" if now < before else ""
    return f'<td class="n {css}" data-v="{now - before}">{escape(text)}</td>'


def _top_table(rows: list[tuple[str, int, int]], table_id: str) -> str:
    if not rows:
        return '<p class="muted">нет данных</p>'
    body = "".join(f'<tr><td>{escape(topic_name(t))}</td><td class="n">{n}</td><td class="n">{b}</td>'
                   f"{_change_cell(n, b)}</tr>" for t, n, b in rows)
    return (f'<table class="sortable" id="{table_id}"><thead><tr><th>Тема</th><th>Постов</th><th>Прошлый период</th>'
            f"<th>Изменение</th></tr></thead><tbody>{body}</tbody></table>")


def bar_chart(rows: list[tuple[str, int, int]]) -> str:
    """Horizontal bars of the top topics: this period (blue) beside the previous one (grey)."""
    if not rows:
        return ""
    top = max(max(n, b) for _, n, b in rows) or 1
    left, width, row_height = 230, 380, 34
    height = row_height * len(rows) + 30
    parts = [f'<svg id="chart" role="img" aria-label="Топ-5 тем" width="{left + width + 60}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for k, (topic, now, before) in enumerate(rows):
        y = 10 + k * row_height
        parts.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(topic_name(topic))}</text>')
        for offset, value, color in ((0, now, "#2f6db5"), (14, before, "#b8b8b8")):
            w = width * value / top
            parts.append(f'<rect x="{left}" y="{y + offset}" width="{w:.1f}" height="12" fill="{color}">'
                         f"<title>{value}</title></rect>"
                         f'<text x="{left + w + 4:.1f}" y="{y + offset + 10}">{value}</text>')
    legend_y = height - 8
    parts.append(f'<rect x="{left}" y="{legend_y - 9}" width="10" height="10" fill="#2f6db5"/>'
                 f'<text x="{left + 14}" y="{legend_y}">этот период</text>'
                 f'<rect x="{left + 110}" y="{legend_y - 9}" width="10" height="10" fill="#b8b8b8"/>'
                 f'<text x="{left + 124}" y="{legend_y}">прошлый период</text></svg>')
    return "".join(parts)


def map_layer(picture: Picture) -> str:
    """Municipalities as circles at the mean of their posts' points (area ∝ posts), on a plain projection (no
    tiles: the page stays offline)."""
    points = {m: pts for m, pts in picture.points.items() if pts}
    if not points:
        return '<p class="muted" id="map-layer">нет координат для карты</p>'
    centres = {m: (sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)) for m, pts in points.items()}
    lats, lons = [c[0] for c in centres.values()], [c[1] for c in centres.values()]
    squeeze = math.cos(math.radians(sum(lats) / len(lats)))
    span_x, span_y = max((max(lons) - min(lons)) * squeeze, 1e-6), max(max(lats) - min(lats), 1e-6)
    width, height, pad = 640, 420, 50
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    totals = {m: sum(picture.by_municipality[m].values()) for m in centres}
    most = max(totals.values()) or 1
    parts = [f'<svg id="map-layer" role="img" aria-label="Карта муниципалитетов" width="{width}" height="{height}" '
             f'xmlns="http://www.w3.org/2000/svg"><rect width="{width}" height="{height}" fill="#eef3f7"/>']
    for m, (lat, lon) in sorted(centres.items(), key=lambda x: -totals[x[0]]):
        x = pad + (lon - min(lons)) * squeeze * scale if len(centres) > 1 else width / 2
        y = pad + (max(lats) - lat) * scale if len(centres) > 1 else height / 2
        r = 4 + 22 * math.sqrt(totals[m] / most)
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="#c0392b" fill-opacity="0.55" '
                     f'stroke="#7b241c"><title>{escape(m)}: {totals[m]}</title></circle>'
                     f'<text x="{x + r + 3:.1f}" y="{y + 4:.1f}">{escape(m)} ({totals[m]})</text>')
    parts.append("</svg>")
    return "".join(parts)


def _heat_table(picture: Picture) -> str:
    topics = [t for t, _ in picture.topics.most_common()]
    if not topics:
        return '<p class="muted">нет данных</p>'
    most = max((n for c in picture.by_municipality.values() for n in c.values()), default=1)
    head = "".join(f"<th>{escape(topic_name(t))}</th>" for t in topics)
    rows = []
    for m in picture.municipalities:
        counts = picture.by_municipality[m]
        cells = "".join(f'<td class="n" style="background:rgba(192,57,43,{0.08 + 0.8 * counts.get(t, 0) / most:.2f})">'
                        f"{counts.get(t, 0)}</td>" if counts.get(t, 0) else '<td class="n">0</td>' for t in topics)
        rows.append(f"<tr><td>{escape(m)}</td>{cells}<td class=\"n\">{sum(counts.values())}</td></tr>")
    return (f'<table class="sortable" id="heat"><thead><tr><th>Муниципалитет</th>{head}<th>Всего</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _incidents(incidents: list[Incident], table_id: str) -> str:
    return _table(["Тема", "Срочность", "Постов", "Место", "Время", "Текст"],
                  [[topic_name(i.topic), urgency_name(i.urgency), len(i.post_ids),
                    (i.location or {}).get("normal") or i.area or "—",
                    f"{i.first_seen:%d.%m %H:%M} — {i.last_seen:%d.%m %H:%M}", i.representative().text[:200]]
                   for i in incidents], table_id, numeric_from=2)


def render_html(picture: Picture) -> str:
    """The report as one HTML document."""
    p = picture
    heading = f"Обращения граждан: {title(p)}"
    levels = [*URGENCY_LEVELS, "unknown"]
    topics = [t for t, _ in p.topics.most_common()]
    per_municipality = "".join(f"<h3>{escape(m)}</h3>{_top_table(p.top_topics(m), f'top-{k}')}"
                               for k, m in enumerate(p.municipalities))
    sections = [
        f"<h1>{escape(heading)}</h1>",
        '<p class="summary">'
        f"<span>Постов: <b>{p.posts}</b> ({escape(change(p.posts, p.previous_posts))} к прошлому периоду)</span>"
        f"<span>Без места: <b>{p.unplaced}</b> ({share(p.unplaced, p.posts)})</span>"
        f"<span>Фейков из реестра: <b>{sum(p.fakes.values())}</b></span>"
        f"<span>Инцидентов открыто: <b>{len(p.open_incidents)}</b>, закрыто: {p.closed_incidents}</span></p>",
        f'<h2 id="top5">Топ-5 тем</h2>{_top_table(p.top_topics(), "top-topics")}{bar_chart(p.top_topics())}',
        f'<h2 id="heatmap">Темы × муниципалитеты</h2>{_heat_table(p)}',
        f'<h2 id="map">Карта</h2>{map_layer(p)}',
        f'<h2 id="by-municipality">Топ-5 тем по муниципалитетам</h2>{per_municipality}',
        '<h2 id="urgency">Срочность по темам</h2>' + _table(
            ["Тема", *[urgency_name(u) for u in levels]],
            [[topic_name(t), *[p.urgency[t].get(u, 0) for u in levels]] for t in topics], "urgency-table"),
        f'<h2 id="largest">Крупнейшие открытые инциденты</h2>{_incidents(p.largest(), "largest-incidents")}',
        f'<h2 id="urgent">Самые срочные открытые инциденты</h2>{_incidents(p.most_urgent(), "urgent-incidents")}',
        '<h2 id="fakes">Фейки из реестра</h2>' + _table(
            ["Утверждение", "Постов"], [[f"{claim} ({claim_id})", n] for (claim_id, claim), n in p.fakes.most_common()],
            "fakes-table"),
    ]
    return (f'<!DOCTYPE html><html lang="ru"><head><meta charset="utf-8"><title>{escape(heading)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>'
            f"<body>{''.join(sections)}<script>{SCRIPT}</script></body></html>\n")
