"""Incidents: places and text similarity of posts, streaming grouping (same problem, same place, quiet period), the
shared database (SQLite always; PostgreSQL when a server is given), routing tables, `cur-nlp incidents` and
`/v1/incidents`."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
from typer.testing import CliRunner

from cur_nlp.cli import app
from cur_nlp.incidents import GroupingSettings, IncidentGrouper, group_records, post_from_record
from cur_nlp.incidents.places import House, leading_house, place_of, scan_houses, street_key
from cur_nlp.incidents.store import IncidentStore
from cur_nlp.incidents.textsim import cosine, text_vector
from cur_nlp.routing import RouteRule, RoutingTable, route_record

NOW = datetime(2026, 1, 20, 12, 0)


def house(text: str, street: str, number: str, **parts: str) -> dict:
    """A house-level location as `cur-nlp predict` writes it (unresolved: the built-in gazetteer has no streets)."""
    return {"text": text, "start": 0, "end": len(text), "kind": "house", "normal": f"{street}, {number}",
            "lat": None, "lon": None, "municipality": None, "region": None, "level": None, "confidence": 0.0,
            "parts": {"street": street, "house": number, **parts}}


def record(post_id: str, text: str, created: str, topic: str = "housing", locations: list | None = None,
           city: str = "Курск", urgency: str = "high", **extra) -> dict:
    return {"id": post_id, "text": text, "created": created, "city": city, "locations": locations or [],
            "topic": {"label": topic, "score": 0.9, "top": [[topic, 0.9]]},
            "urgency": {"label": urgency, "score": 0.8}, **extra}


HOT_WATER = [
    record("p1", "Третий день нет горячей воды на ул. Ленина 5, УК трубку не берет. Когда дадут??",
           "2026-01-12T07:41:00", locations=[house("ул. Ленина 5", "улица Ленина", "5")]),
    record("p2", "Третий день нет горячей воды на ул. Ленина 5!!! УК трубку не берёт 😡 Когда дадут??",
           "2026-01-12T08:03:00", locations=[house("ул. Ленина 5", "улица Ленина", "5")]),
    record("p3", "+1 ленина 5 второй подъезд тоже холодная только", "2026-01-12T12:30:00"),
    record("p4", "Администрация Курска, дом на Ленина д.5 с пятницы без горячего водоснабжения, примите меры",
           "2026-01-13T09:10:00", locations=[house("Ленина д.5", "Ленина", "5")], urgency="critical"),
]
OTHER_HOUSE = record("q1", "Ул Ленина 17 нет горячей воды со вчерашнего вечера, в подвале прорвало стояк",
                     "2026-01-12T09:00:00", locations=[house("Ул Ленина 17", "улица Ленина", "17")])
OTHER_PROBLEM = record("r1", "У дома Ленина 5 мусор не вывозят уже неделю, баки переполнены, пакеты рвут собаки",
                       "2026-01-12T15:00:00", topic="waste", urgency="normal",
                       locations=[house("Ленина 5", "Ленина", "5")])
A_MONTH_LATER = record("s1", "Ленина 5 снова без горячей воды!!! В январе неделю сидели и вот опять",
                       "2026-03-03T07:00:00", locations=[house("Ленина 5", "Ленина", "5")])
OTHER_TOWN = record("t1", "Железногорск, Ленина 5 нет горячей воды с утра, никаких объявлений",
                    "2026-01-12T10:00:00", city="Железногорск", locations=[house("Ленина 5", "Ленина", "5")])


# ------------------------------------------------------------------------------------------- text and places


def test_text_similarity_finds_near_duplicates_and_ignores_house_numbers():
    a, b = HOT_WATER[0]["text"], HOT_WATER[1]["text"]
    assert cosine(text_vector(a), text_vector(b)) > 0.7
    assert cosine(text_vector(a), text_vector(OTHER_PROBLEM["text"])) < 0.25
    assert cosine(text_vector("Ленина 5 нет воды"), text_vector("Ленина 17 нет воды")) == pytest.approx(1.0)
    assert cosine(text_vector(""), text_vector(a)) == 0.0


@pytest.mark.parametrize("street,number,parts,expected", [
    ("проспект Просвещения", "33", {"corpus": "1"}, House("просвещение", "33", "1")),
    ("Просвещения", "33/1", {}, House("просвещение", "33", "1")),
    ("улица К. Маркса", "62", {}, House("маркс", "62")),
    ("Карла Маркса", "62", {}, House("маркс", "62")),
])
def test_house_keys_from_extracted_locations(street, number, parts, expected):
    place = place_of({"locations": [house(f"{street} {number}", street, number, **parts)]})
    assert place.house == expected


def test_corpus_and_slash_name_one_building_and_a_bare_number_matches_any_corpus():
    assert House("просвещение", "33", "1").same_as(House("просвещение", "33", "1"))
    assert not House("просвещение", "33", "1").same_as(House("просвещение", "33", "2"))
    assert House("просвещение", "33").same_as(House("просвещение", "33", "2"))
    assert not House("ленин", "5").same_as(House("ленин", "17"))


@pytest.mark.parametrize("text,expected", [
    ("Победы 30 подтверждаю, сегодня опять застряли на выезде", House("победа", "30")),
    ("Мира, 30 — бродячие собаки живут за гаражами", House("мир", "30")),
    ("[id48211|Ольга] на ленина 5 тоже нет", House("ленин", "5")),
    ("Просвещения 33к2 лифт стоит", House("просвещение", "33", "2")),
    ("Уже 3 дня нет горячей воды", None),
    ("Спасибо 2 раза писали", None),
    ("Дом 5 на Ленина", None),
])
def test_a_reply_that_starts_with_an_address(text, expected):
    assert leading_house(text) == expected


def test_bare_addresses_on_streets_of_open_incidents():
    streets = {street_key("Ленина"), street_key("Просвещения"), street_key("Мира")}
    assert scan_houses("ленина 17 до сих пор без горячей", streets) == (House("ленин", "17"),)
    assert scan_houses("Наш 33 корпус 2 на Просвещения уже сутки без лифта", streets) == \
        (House("просвещение", "33", "2"),)
    assert scan_houses("у 44 дома на Мира еще одна машина колесо поймала", streets) == (House("мир", "44"),)
    assert scan_houses("мира сегодня 3 машины", streets) == ()
    assert scan_houses("ленина 17", set()) == ()


def test_the_record_town_and_point_come_first():
    place = place_of({"city": "Курск", "lat": "51.73", "lon": "36.19", "locations": [
        {"text": "Тимашевске", "kind": "settlement", "normal": "Тимашевск", "municipality": "Тимашевск",
         "lat": 45.6, "lon": 38.9, "level": "settlement", "parts": {}}]})
    assert place.area == "курск" and place.point == (51.73, 36.19)
    town_centre = place_of({"locations": [{"text": "Тимашевске", "kind": "settlement", "normal": "Тимашевск",
                                           "municipality": "Тимашевск", "lat": 45.6, "lon": 38.9,
                                           "level": "settlement", "parts": {}}]})
    assert town_centre.point is None and town_centre.area == "тимашевск"


# ------------------------------------------------------------------------------------------- grouping


def ids(incidents) -> list[list[str]]:
    return sorted(sorted(i.post_ids) for i in incidents)


def test_duplicates_paraphrases_and_replies_about_one_house_form_one_incident():
    incidents = list(group_records(HOT_WATER))
    assert ids(incidents) == [["p1", "p2", "p3", "p4"]]
    incident = incidents[0].to_dict()
    assert incident["posts"] == 4 and incident["topic"] == "housing" and incident["urgency"] == "critical"
    assert incident["place"]["parts"] == {"street": "улица Ленина", "house": "5"}
    assert incident["first_seen"] == "2026-01-12T07:41:00" and incident["last_seen"] == "2026-01-13T09:10:00"
    assert incident["text"] in {r["text"] for r in HOT_WATER} and incident["status"] == "open"


def test_another_house_another_problem_a_month_later_and_another_town_stay_apart():
    records = sorted([*HOT_WATER, OTHER_HOUSE, OTHER_PROBLEM, OTHER_TOWN, A_MONTH_LATER], key=lambda r: r["created"])
    assert ids(group_records(records)) == [["p1", "p2", "p3", "p4"], ["q1"], ["r1"], ["s1"], ["t1"]]


def test_posts_without_a_place_join_only_by_text():
    records = [
        record("m1", "маршрутка 48 после 20:00 просто исчезает, стояла на остановке час", "2026-01-12T21:00:00",
               topic="transport"),
        record("m2", "48 маршрутка после 20:00 исчезает, час стояла на остановке", "2026-01-13T21:10:00",
               topic="transport"),
        record("m3", "В поликлинике на Курчатова не дозвониться до регистратуры", "2026-01-13T09:00:00",
               topic="healthcare"),
    ]
    assert ids(group_records(sorted(records, key=lambda r: r["created"]))) == [["m1", "m2"], ["m3"]]


def test_points_within_the_radius_are_one_place():
    spot = dict(lat=59.99433, lon=30.19710)
    records = [record("a", "Во дворе не убран снег, машины буксуют", "2026-01-12T08:00:00", topic="improvement", **spot),
               record("b", "Двор не чистят от снега, не проехать", "2026-01-12T18:00:00", topic="improvement",
                      lat=59.99440, lon=30.19720),
               record("c", "Двор не чистят от снега, не проехать", "2026-01-12T19:00:00", topic="improvement",
                      lat=59.99900, lon=30.19710)]  # 500 m north
    assert ids(group_records(records)) == [["a", "b"], ["c"]]


def test_incidents_close_after_the_quiet_period_and_leave_memory():
    grouper = IncidentGrouper(GroupingSettings(quiet_hours=48))
    start = datetime(2026, 1, 1)
    closed = []
    for day in range(60):  # one post a day, each at another house
        post = post_from_record(record(f"d{day}", "Нет горячей воды", (start + timedelta(days=day)).isoformat(),
                                       locations=[house(f"Ленина {day + 1}", "Ленина", str(day + 1))]),
                                NOW, f"#{day}")
        grouper.assign(post)
        closed += grouper.close_quiet(post.time)
        assert len(grouper.open) <= 3
    assert len(closed) == 57 and all(i.closed for i in closed)
    assert sum(len(ids) for ids in grouper._by_street.values()) == len(grouper.open)


def test_records_without_a_time_take_the_time_of_processing():
    incidents = list(group_records([{"id": "x", "text": "Нет света в подъезде на Ленина 5"},
                                    {"text": "   "}], now=NOW))
    assert [(i.first_seen, i.post_ids) for i in incidents] == [(NOW, ["x"])]


# ------------------------------------------------------------------------------------------- the database


def posts_of(records):
    return [post_from_record(r, NOW, r["id"]) for r in records]


def test_replicas_sharing_a_database_assign_to_the_same_incidents(database):
    first, second = IncidentStore.open(database), IncidentStore.open(database)
    (a, new_a), = first.assign(posts_of(HOT_WATER[:1]))
    results = second.assign(posts_of([*HOT_WATER[1:3], OTHER_HOUSE]))
    assert new_a and [(i.id == a.id, new) for i, new in results] == [(True, False)] * 2 + [(False, True)]
    stored = first.get(a.id)
    assert stored.post_ids == ["p1", "p2", "p3"] and stored.to_dict()["text"] in {r["text"] for r in HOT_WATER}
    again = first.assign(posts_of(HOT_WATER[1:2]))  # a retried request: not counted twice
    assert again[0][0].id == a.id and not again[0][1] and len(first.get(a.id).post_ids) == 3
    # one batch with a late reply and a post a month later: the reply still joins, then the incident closes
    (late, late_new), (later, later_new) = second.assign(posts_of([HOT_WATER[3], A_MONTH_LATER]))
    assert late.id == a.id and not late_new and later_new and late.closed and not later.closed
    stored = first.get(a.id)
    assert stored.closed and stored.post_ids == ["p1", "p2", "p3", "p4"] and stored.urgency == "critical"
    assert [i.id for i in first.recent(status="open")] == [later.id]
    first.engine.dispose(), second.engine.dispose()


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    from sqlalchemy import create_engine, select

    from cur_nlp.database import SCHEMA_VERSION, open_database, schema_info

    path = tmp_path / "old.db"
    old = create_engine(f"sqlite:///{path}")
    schema_info.create(old)
    with old.begin() as connection:
        connection.execute(schema_info.insert().values(version=1))
    old.dispose()
    engine = open_database(path)
    with engine.connect() as connection:
        assert connection.execute(select(schema_info.c.version)).scalars().all() == [SCHEMA_VERSION]
    assert IncidentStore(engine).assign(posts_of(HOT_WATER[:1]))[0][1]


# ------------------------------------------------------------------------------------------- routing


ROUTES = RoutingTable([
    RouteRule("*", "Дежурный оператор ЦУР"),
    RouteRule("housing", "ГЖИ Курской области", region="Курская область"),
    RouteRule("housing", "Управление ЖКХ Курска", settlement="Курск"),
    RouteRule("housing", "ЕДДС Курска", settlement="Курск", urgency="critical"),
])


@pytest.mark.parametrize("topic,urgency,place,body", [
    ("housing", "high", {"settlement": "Курск", "region": "Курская область"}, "Управление ЖКХ Курска"),
    ("housing", "critical", {"settlement": "курск"}, "ЕДДС Курска"),
    ("housing", "high", {"settlement": "Железногорск", "region": "Курская область"}, "ГЖИ Курской области"),
    ("roads", "high", {"settlement": "Курск"}, "Дежурный оператор ЦУР"),
])
def test_routing_takes_the_most_specific_matching_row(topic, urgency, place, body):
    assert ROUTES.route(topic, urgency, place) == {"body": body, "contact": None, "source": "table", "score": 1.0}


def test_without_a_matching_row_the_route_is_null_and_a_route_head_is_the_fallback():
    table = RoutingTable([RouteRule("housing", "ГЖИ")])
    assert table.route("roads", None, {}) is None
    predicted = {"topic": {"label": "roads"}, "route": {"label": "Комитет дорожного хозяйства", "score": 0.71}}
    assert route_record(predicted, table) == {"body": "Комитет дорожного хозяйства", "contact": None,
                                              "source": "model", "score": 0.71}


@pytest.mark.parametrize("content,message", [
    ("topic,body\nhousing,\n", r"routes.csv:2: 'topic' and 'body' are required"),
    ("topic,organ\nhousing,ГЖИ\n", r"columns must be topic, body"),
    ("topic,body\n", r"no rows"),
])
def test_routing_table_errors_name_the_row(tmp_path, content, message):
    path = tmp_path / "routes.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        RoutingTable.from_file(path)


def test_example_routing_table_reads_as_csv_and_parquet(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    from tests.conftest import REPO

    table = RoutingTable.from_file(REPO / "examples" / "routes.csv")
    pd.read_csv(REPO / "examples" / "routes.csv").to_parquet(tmp_path / "routes.parquet")
    again = RoutingTable.from_file(tmp_path / "routes.parquet")
    place = {"settlement": "Железногорск", "region": "Курская область"}
    assert table.route("waste", None, place)["body"] == again.route("waste", None, place)["body"] == \
        "Региональный оператор по обращению с ТКО"
    assert table.route("safety", None, place)["body"] == "Дежурный оператор ЦУР (разбор вручную)"


# ------------------------------------------------------------------------------------------- the commands


def write_jsonl(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_cli_incidents_reports_bad_lines_and_routes(tmp_path):
    from tests.conftest import REPO

    source, out = tmp_path / "predictions.jsonl", tmp_path / "incidents.jsonl"
    write_jsonl(source, [*HOT_WATER, OTHER_PROBLEM])
    with source.open("a", encoding="utf-8") as handle:
        handle.write('{"text": "обрыв\n')
    result = CliRunner().invoke(app, ["incidents", str(source), "-o", str(out), "--routes",
                                      str(REPO / "examples" / "routes.csv")])
    assert result.exit_code == 3, result.output
    assert "predictions.jsonl:6: skipped: invalid JSON" in result.output
    incidents = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(i["post_ids"], i["route"]["body"]) for i in incidents] == [
        (["p1", "p2", "p3", "p4"], "Единая дежурно-диспетчерская служба Курска"),
        (["r1"], "Дежурный оператор ЦУР (разбор вручную)")]
    assert not list(tmp_path.glob(".incidents.jsonl.*"))  # the temporary file was renamed
    bad = CliRunner().invoke(app, ["incidents", str(source), "-o", str(out), "--quiet-hours", "0"])
    assert bad.exit_code == 2 and "quiet_hours" in bad.output


def test_predict_then_incidents_from_the_example_posts(tiny_model_dir, tmp_path):
    from tests.conftest import REPO

    runner = CliRunner()
    predictions, incidents = tmp_path / "predictions.jsonl", tmp_path / "incidents.jsonl"
    done = runner.invoke(app, ["predict", str(REPO / "examples" / "incident_posts.jsonl"), "-o", str(predictions),
                               "--model", str(tiny_model_dir), "--no-locate",
                               "--routes", str(REPO / "examples" / "routes.csv")])
    assert done.exit_code == 0, done.output
    rows = [json.loads(line) for line in predictions.read_text(encoding="utf-8").splitlines()]
    assert all(r["route"]["source"] == "table" and r["route"]["body"] for r in rows)
    assert runner.invoke(app, ["incidents", str(predictions), "-o", str(incidents)]).exit_code == 0
    grouped = [json.loads(line) for line in incidents.read_text(encoding="utf-8").splitlines()]
    assert sorted(p for i in grouped for p in i["post_ids"]) == sorted(r["id"] for r in rows)
    by_post = {p: i["id"] for i in grouped for p in i["post_ids"]}
    assert by_post["ex-101"] == by_post["ex-104"] != by_post["ex-114"]  # hot water vs the lift 9 days later


# ------------------------------------------------------------------------------------------- the service


def test_service_assigns_posts_and_replicas_agree(tiny_model_dir, tmp_path):
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from cur_nlp_serve.app import create_app
    from cur_nlp_serve.settings import Settings
    from tests.conftest import REPO

    settings = Settings(model=tiny_model_dir, locate=False, warmup=False, batch_window_ms=1, api_keys="k1",
                        registry=str(tmp_path / "shared.db"), routes=REPO / "examples" / "routes.csv")
    key = {"X-API-Key": "k1"}
    fields = ("id", "text", "created", "city", "topic", "urgency", "locations")
    first_items = [{k: HOT_WATER[0][k] for k in fields},  # a /v1/classify result: not classified again
                   {k: HOT_WATER[1][k] for k in ("id", "text", "created", "city")}]  # classified first
    with TestClient(create_app(settings)) as one, TestClient(create_app(settings)) as two:
        assert one.post("/v1/incidents/assign", json={"items": first_items}).status_code == 401
        answer = one.post("/v1/incidents/assign", json={"items": first_items}, headers=key)
        assert answer.status_code == 200, answer.text
        results = answer.json()["results"]
        incident_id = results[0]["incident"]["id"]
        assert results[0]["new"] and results[1]["incident"]["id"] == incident_id and not results[1]["new"]
        more = two.post("/v1/incidents/assign", headers=key, json={"items": [
            {k: HOT_WATER[2][k] for k in fields}, {"id": "blank", "text": "  "}]}).json()["results"]
        assert more[0]["incident"]["id"] == incident_id and not more[0]["new"]  # «+1 ленина 5…» on the other replica
        assert more[1] == {"id": "blank", "incident": None, "new": False}
        got = one.get(f"/v1/incidents/{incident_id}", headers=key).json()
        assert got["post_ids"] == ["p1", "p2", "p3"] and got["route"]["source"] == "table"
        assert [i["id"] for i in two.get("/v1/incidents", headers=key).json()] == [incident_id]
        assert one.get("/v1/incidents/nope", headers=key).status_code == 404
        routed = one.post("/v1/classify", json={"text": "Нет горячей воды", "id": 1}, headers=key).json()
        assert routed["results"][0]["route"]["source"] == "table"
