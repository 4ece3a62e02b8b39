"""Heat map of complaints: counts by municipality × topic × urgency, an HTML map and a static PNG."""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from cur_nlp.io import Problem, output_file, read_jsonl

from .types import LEVELS, Location

UNRESOLVED = "(не определено)"
UNKNOWN = "unknown"


@dataclass
class HeatmapResult:
    """Paths written by :func:`run_heatmap` and a few totals."""

    csv_path: Path
    html_path: Path | None
    png_path: Path | None
    posts: int = 0
    located: int = 0  # posts with coordinates
    groups: int = 0  # rows of the CSV
    by_municipality: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list, repr=False)  # input lines reported (skipped or repaired)

    @property
    def skipped(self) -> int:
        """Input lines left out (bad JSON, not an object, unreadable locations)."""
        return sum(p.skipped for p in self.problems)


def _label(v: Any) -> str:
    if isinstance(v, dict):
        v = v.get("label")
    return str(v) if v not in (None, "") else UNKNOWN


def read_posts(path: str | Path) -> tuple[list[tuple[int, dict[str, Any]]], list[Problem]]:
    """The numbered records of a JSONL file, and the problems of its lines: bad JSON and values that are not
    objects are skipped, bytes that are not UTF-8 replaced (:func:`cur_nlp.io.read_jsonl`)."""
    records, problems = [], []
    with open(path, "rb") as handle:
        for number, value, problem in read_jsonl(handle):
            if value is not None and not isinstance(value, dict):
                problem = Problem(number, f"expected a JSON object, found {type(value).__name__}")
            if problem is not None:
                problems.append(problem)
            if problem is None or not problem.skipped:
                records.append((number, value))
    return records, problems


def primary_location(locations: Sequence[Location]) -> Location | None:
    """The post's place for the map: the most specific resolved level, then the highest confidence."""
    resolved = [l for l in locations if l.resolved]
    if not resolved:
        return None
    rank = {lvl: k for k, lvl in enumerate(LEVELS)}
    return min(resolved, key=lambda l: (rank.get(l.level or "", len(LEVELS)), -l.confidence, l.start))


def _place(rec: dict[str, Any], locator: Any | None) -> Location | None:
    """The post's place: from its ``locations`` (``cur-nlp predict`` output), else found by ``locator`` in its text."""
    if rec.get("locations") is not None:
        locations = rec["locations"]
        if not isinstance(locations, list) or not all(isinstance(d, dict) for d in locations):
            raise ValueError("'locations' must be a list of objects")
        locs = [Location.from_dict(d) for d in locations]
    elif locator is not None and rec.get("text"):
        locs = locator(str(rec["text"]))
    else:
        locs = []
    return primary_location(locs)


def aggregate(records: Iterable[tuple[int, dict[str, Any]]], locator: Any | None = None) -> tuple[
        dict[tuple[str, str, str, str], list[tuple[float, float]]], int, int, list[Problem]]:
    """Group numbered posts by (municipality, region, topic, urgency); returns groups → points, #posts, #located
    and the problems of posts left out (their ``locations`` could not be read).

    A record's ``locations`` (from ``cur-nlp predict``) are used as they are; records with only
    ``text`` are located with ``locator``.
    """
    groups: dict[tuple[str, str, str, str], list[tuple[float, float]]] = defaultdict(list)
    posts = located = 0
    problems: list[Problem] = []
    for number, rec in records:
        try:
            loc = _place(rec, locator)
            point = (math.nan, math.nan) if loc is None else (float(loc.lat), float(loc.lon))  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError, KeyError) as error:
            problems.append(Problem(number, f"unreadable locations ({type(error).__name__}: {error})"))
            continue
        posts += 1
        topic, urgency = _label(rec.get("topic")), _label(rec.get("urgency"))
        if loc is None:
            groups[(UNRESOLVED, "", topic, urgency)].append(point)
            continue
        located += 1
        muni = loc.municipality or loc.region or UNRESOLVED
        groups[(muni, loc.region or "", topic, urgency)].append(point)
    return groups, posts, located, problems


def run_heatmap(input_path: str | Path, out_dir: str | Path, *, locator: Any | None = None,
                gazetteers: Sequence[str | Path] = (), default_region: str | None = None,
                default_city: str | None = None, html: bool = True, png: bool = True,
                title: str = "Обращения граждан") -> HeatmapResult:
    """Aggregate posts into a heat map.

    Args:
        input_path: JSONL from ``cur-nlp predict`` (records with ``locations``, ``topic.label``,
            ``urgency.label``) or raw posts with ``text`` (then places are found here).
        out_dir: folder for ``heatmap.csv`` (municipality × topic × urgency counts), ``heatmap.html``
            (folium/Leaflet map; map tiles need internet when viewed) and ``heatmap.png`` (static,
            renders offline).
        locator: a ready :class:`cur_nlp.geo.Locator` for raw posts (default: built-in geonames +
            ``gazetteers``).
        gazetteers: extra CSV/Parquet gazetteers (e.g. the centre's street registry).
        default_region: region assumed when a post names none («Краснодарский край»).
        default_city: settlement assumed for streets when a post names none.
        html: write the HTML map (needs ``folium``).
        png: write the PNG (needs ``matplotlib``).
        title: title of the PNG and of the HTML page.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    records, problems = read_posts(input_path)
    if locator is None and any("locations" not in r for _, r in records):
        from .gazetteer_table import TableGazetteer
        from .resolve import Locator

        extra = [TableGazetteer.from_file(p) for p in gazetteers]
        locator = Locator.default(*extra, default_region=default_region, default_city=default_city)
    groups, posts, located, unreadable = aggregate(records, locator)
    problems = sorted(problems + unreadable, key=lambda p: p.line)
    rows = _rows(groups)
    csv_path = out / "heatmap.csv"
    with output_file(str(csv_path)) as f:
        w = csv.DictWriter(f, fieldnames=["municipality", "region", "topic", "urgency", "count", "lat", "lon"])
        w.writeheader()
        w.writerows(rows)
    points = _municipality_points(rows)
    html_path = _write_html(points, out / "heatmap.html", title) if html else None
    png_path = _write_png(points, out / "heatmap.png", title) if png else None
    by_muni = Counter()
    for r in rows:
        by_muni[r["municipality"]] += r["count"]
    return HeatmapResult(csv_path, html_path, png_path, posts, located, len(rows), dict(by_muni.most_common()),
                         problems)


def _rows(groups: dict[tuple[str, str, str, str], list[tuple[float, float]]]) -> list[dict[str, Any]]:
    rows = []
    for (muni, region, topic, urgency), pts in groups.items():
        good = [p for p in pts if not math.isnan(p[0])]
        lat = round(sum(p[0] for p in good) / len(good), 6) if good else None
        lon = round(sum(p[1] for p in good) / len(good), 6) if good else None
        rows.append({"municipality": muni, "region": region, "topic": topic, "urgency": urgency,
                     "count": len(pts), "lat": lat, "lon": lon})
    rows.sort(key=lambda r: (-r["count"], r["municipality"], r["topic"], r["urgency"]))
    return rows


@dataclass
class _Point:
    municipality: str
    lat: float
    lon: float
    count: int
    detail: list[tuple[str, str, int]]


def _municipality_points(rows: list[dict[str, Any]]) -> list[_Point]:
    acc: dict[str, dict[str, Any]] = {}
    for r in rows:
        if r["lat"] is None:
            continue
        a = acc.setdefault(r["municipality"], {"lat": 0.0, "lon": 0.0, "n": 0, "detail": []})
        a["lat"] += r["lat"] * r["count"]
        a["lon"] += r["lon"] * r["count"]
        a["n"] += r["count"]
        a["detail"].append((r["topic"], r["urgency"], r["count"]))
    return [_Point(m, a["lat"] / a["n"], a["lon"] / a["n"], a["n"], sorted(a["detail"], key=lambda d: -d[2]))
            for m, a in acc.items()]


def _color(frac: float) -> str:
    """Yellow → red for 0..1."""
    frac = min(1.0, max(0.0, frac))
    r, g, b = 255, int(220 * (1 - frac)), int(60 * (1 - frac))
    return f"#{r:02x}{g:02x}{b:02x}"


def _write_html(points: list[_Point], path: Path, title: str) -> Path:
    import html as _html

    import folium

    if points:
        lat = sum(p.lat * p.count for p in points) / sum(p.count for p in points)
        lon = sum(p.lon * p.count for p in points) / sum(p.count for p in points)
    else:
        lat, lon = 55.75, 37.62
    fmap = folium.Map(location=[lat, lon], zoom_start=10 if points else 4, tiles="OpenStreetMap")
    top = max((p.count for p in points), default=1)
    for p in sorted(points, key=lambda p: p.count):
        rows = "".join(f"<tr><td>{_html.escape(t)}</td><td>{_html.escape(u)}</td><td>{c}</td></tr>"
                       for t, u, c in p.detail[:15])
        popup = (f"<b>{_html.escape(p.municipality)}</b>: {p.count}<table>"
                 f"<tr><th>тема</th><th>срочность</th><th>n</th></tr>{rows}</table>")
        folium.CircleMarker(
            location=[p.lat, p.lon], radius=6 + 24 * math.sqrt(p.count / top), color=_color(p.count / top),
            fill=True, fill_opacity=0.7, popup=folium.Popup(popup, max_width=400),
            tooltip=f"{p.municipality}: {p.count}",
        ).add_to(fmap)
    fmap.get_root().html.add_child(folium.Element(f"<title>{_html.escape(title)}</title>"))
    fmap.save(str(path))
    return path


def _write_png(points: list[_Point], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 7), dpi=110)
    if points:
        xs = [p.lon for p in points]
        ys = [p.lat for p in points]
        cs = [p.count for p in points]
        top = max(cs)
        sizes = [40 + 900 * math.sqrt(c / top) for c in cs]
        sc = ax.scatter(xs, ys, s=sizes, c=cs, cmap="YlOrRd", vmin=0, vmax=max(top, 1), alpha=0.8,
                        edgecolors="k", linewidths=0.4)
        fig.colorbar(sc, ax=ax, label="число обращений")
        mid = sum(ys) / len(ys)
        k = max(0.2, math.cos(math.radians(mid)))  # degrees of longitude are shorter
        half = max((max(xs) - min(xs)) * k, max(ys) - min(ys), 0.02) * 0.6
        cx, cy = (max(xs) + min(xs)) / 2, (max(ys) + min(ys)) / 2
        ax.set_xlim(cx - half / k, cx + half / k)
        ax.set_ylim(cy - half, cy + half)
        ax.grid(alpha=0.3)
        for p in sorted(points, key=lambda p: -p.count)[:12]:
            ax.annotate(p.municipality, (p.lon, p.lat), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("долгота")
        ax.set_ylabel("широта")
    else:
        ax.text(0.5, 0.5, "нет обращений с координатами", ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
