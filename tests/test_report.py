"""The weekly picture (`cur-nlp report`): what it counts, its Markdown twin, and the HTML page rendered offline in a
real headless Chromium (skipped with the reason where no browser is installed)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cur_nlp.cli import app
from cur_nlp.report import Period, build_picture, render_markdown

CHROMIUM = Path("/usr/bin/chromium")
KURSK = {"text": "Курске", "start": 0, "end": 6, "kind": "settlement", "normal": "Курск", "lat": 51.7373,
         "lon": 36.1874, "municipality": "Курск", "region": "Курская область", "level": "settlement",
         "confidence": 0.8, "parts": {}}
ZHELEZNOGORSK = {**KURSK, "text": "Железногорске", "normal": "Железногорск", "lat": 52.3388, "lon": 35.3510,
                 "municipality": "Железногорск"}


def post(post_id: str, text: str, day: int, topic: str, urgency: str = "normal", where: dict | None = KURSK,
         fake: dict | None = None) -> dict:
    created = datetime(2026, 2, 1, 9, 0) + timedelta(days=day, minutes=len(post_id))
    return {"id": post_id, "text": text, "created": created.isoformat(), "locations": [where] if where else [],
            "topic": {"label": topic, "score": 0.9, "top": [[topic, 0.9]]}, "urgency": {"label": urgency, "score": 0.8},
            "fake": fake or {"label": False, "score": 0.01, "source": "model", "stance": None, "match": None}}


RUMOUR = {"label": True, "score": 0.93, "source": "registry", "stance": "spreads",
          "match": {"id": "kursk-031", "claim": "В Курске на месяц отключат горячую воду во всех домах"}}
POSTS = [
    # the previous week (1-7 February): roads lead
    post("a1", "В Курске яма на Сумской у остановки", 1, "roads"),
    post("a2", "В Курске яма на Сумской, бьют колёса", 2, "roads"),
    post("a3", "В Курске не вывозят мусор", 3, "waste"),
    # this week (8-14 February)
    post("b1", "В Курске на Радищева 14 нет горячей воды", 12, "housing", "high"),
    post("b2", "В Курске на Радищева 14 нет горячей воды второй день", 13, "housing", "high"),
    post("b3", "С крыши в Курске на Ленина 10 падают сосульки", 13, "housing", "critical"),
    post("b4", "В Курске яма на Сумской так и не заделана", 10, "roads"),
    post("b5", "В Железногорске на Ленина 8 не горят фонари", 11, "improvement", where=ZHELEZNOGORSK),
    post("b6", "Говорят, горячую воду отключат на месяц во всех домах", 12, "housing", fake=RUMOUR, where=None),
    post("b7", "Когда уже что-то сделают", 13, "public_services", where=None),
]


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def test_the_period_is_the_week_or_month_of_the_newest_post():
    week = Period.ending_with("week", datetime(2026, 2, 14, 18, 0))
    assert (week.start, week.end, week.previous_start) == (datetime(2026, 2, 8), datetime(2026, 2, 15),
                                                           datetime(2026, 2, 1))
    month = Period.ending_with("month", datetime(2026, 3, 31, 23, 0))
    assert (month.start, month.end, month.previous_start) == (datetime(2026, 3, 1), datetime(2026, 4, 1),
                                                              datetime(2026, 2, 1))
    with pytest.raises(ValueError, match="period must be one of"):
        Period.ending_with("year", datetime(2026, 1, 1))


def test_the_picture_counts_topics_places_changes_fakes_and_open_incidents():
    picture = build_picture(lambda: iter(POSTS), "week")
    assert (picture.posts, picture.previous_posts, picture.unplaced) == (7, 3, 2)
    top = picture.top_topics()
    assert top == [("housing", 4, 0), ("improvement", 1, 0), ("public_services", 1, 0), ("roads", 1, 2)]
    assert picture.by_municipality["Железногорск"] == {"improvement": 1}
    assert picture.fakes == {("kursk-031", RUMOUR["match"]["claim"]): 1}
    # open at the end of the week: heard from within the last 48 hours
    assert [i.post_ids for i in picture.most_urgent()] == [["b3"], ["b1", "b2"], ["b6"], ["b7"]]
    assert [i.post_ids for i in picture.largest()][0] == ["b1", "b2"]  # one incident: hot water at Радищева 14
    assert picture.closed_incidents == 2  # the pothole of the 11th and the lights of the 12th
    markdown = render_markdown(picture)
    assert "# Обращения граждан: Неделя 08.02.2026 — 14.02.2026" in markdown
    assert "| ЖКХ | 4 | 0 | новое |" in markdown and "| Дороги | 1 | 2 | −1 (−50%) |" in markdown
    assert "Без места: **2** (28.6%)" in markdown and "Совпадений с реестром фейков: **1**" in markdown


def test_previous_period_from_another_file(tmp_path):
    current = write(tmp_path / "current.jsonl", POSTS[3:])
    older = write(tmp_path / "older.jsonl", POSTS[:3])
    out = tmp_path / "report" / "week.html"
    result = CliRunner().invoke(app, ["report", str(current), "--previous", str(older), "-o", str(out)])
    assert result.exit_code == 0, result.output
    markdown = out.with_suffix(".md").read_text(encoding="utf-8")
    assert "Постов: **7** (в прошлом периоде 3, +4 (+133%))" in markdown
    assert CliRunner().invoke(app, ["report", str(current), "--period", "year"]).exit_code == 2


@pytest.fixture(scope="module")
def report_page(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("report")
    source = write(folder / "predictions.jsonl", POSTS)
    with source.open("a", encoding="utf-8") as handle:
        handle.write("{broken\n")
    result = CliRunner().invoke(app, ["report", str(source), "-o", str(folder / "week.html")])
    assert result.exit_code == 3 and "predictions.jsonl:11: skipped" in result.output
    return folder / "week.html"


def test_the_page_is_self_contained(report_page):
    html = report_page.read_text(encoding="utf-8")
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    assert "<script src" not in html and "<link" not in html
    assert "Топ-5 тем" in html and "ЖКХ" in html and 'id="map-layer"' in html


def test_the_page_renders_offline_in_headless_chromium(report_page):
    playwright = pytest.importorskip("playwright.sync_api", reason="pip install playwright (a dev dependency)")
    if not CHROMIUM.exists() and not shutil.which("chromium"):
        pytest.skip("no Chromium: install it with `apt-get install chromium` (Debian's package)")
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")),
                                         args=["--headless", "--no-sandbox", "--disable-gpu",
                                               "--disable-background-networking"])
        page = browser.new_page()
        problems, requests = [], []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto(report_page.as_uri())
        page.wait_for_load_state("load")
        assert problems == [] and all(url.startswith("file://") for url in requests)
        assert page.locator("table").count() >= 7
        assert page.locator("#chart rect").count() >= 10  # two bars per topic and the legend
        assert page.locator("#map-layer circle").count() == 2  # Курск and Железногорск
        rows = page.locator("#top-topics tbody tr td:first-child")
        assert rows.first.inner_text() == "ЖКХ"
        page.locator("#top-topics th").nth(1).click()  # sort by posts: descending on the first click
        page.locator("#top-topics th").nth(1).click()
        assert rows.first.inner_text() != "ЖКХ" and problems == []
        browser.close()
