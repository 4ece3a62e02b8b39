"""Fast tests of cur_nlp.geo: extraction golden tables, normalisation, gazetteers, resolution, heat map."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from cur_nlp.geo import (
    Extractor,
    GeonamesGazetteer,
    Location,
    Locator,
    TableGazetteer,
    extract_locations,
    run_heatmap,
)
from cur_nlp.geo.address import house_key, parse_address, registry_street_keys
from cur_nlp.geo.morph import normalize_phrase

CONTRACT_KEYS = {"text", "start", "end", "kind", "normal", "lat", "lon", "municipality", "region", "level",
                 "confidence", "parts"}


@pytest.fixture(scope="module")
def rules() -> Extractor:
    return Extractor(use_ner=False)


@pytest.fixture(scope="module")
def geonames() -> GeonamesGazetteer:
    return GeonamesGazetteer.shared()


@pytest.fixture(scope="module")
def locator(geonames: GeonamesGazetteer) -> Locator:
    return Locator.default()


def _find(locs: list[Location], kind: str | None = None, text: str | None = None) -> Location:
    for loc in locs:
        if (kind is None or loc.kind == kind) and (text is None or text in loc.text):
            return loc
    raise AssertionError(f"no {kind} {text!r} in {[(l.kind, l.text) for l in locs]}")


# ----------------------------------------------------------------------------- normalisation

@pytest.mark.parametrize("phrase, normal", [
    ("Тимашевске", "Тимашевск"),
    ("Нижнем Новгороде", "Нижний Новгород"),
    ("Набережных Челнах", "Набережные Челны"),
    ("Ростове-на-Дону", "Ростов-на-Дону"),
    ("Краснодарском крае", "Краснодарский край"),
    ("Ленинградской области", "Ленинградская область"),
])
def test_normalize_phrase_to_nominative(phrase: str, normal: str) -> None:
    assert normalize_phrase(phrase) == normal


@pytest.mark.parametrize("text, kind, normal", [
    ("В Тимашевске третий день нет воды", "settlement", "Тимашевск"),
    ("на улице Лесной прорвало трубу", "street", "улица Лесная"),
    ("Мусор на Лесной улице не вывозят", "street", "Лесная улица"),
    ("Яма на Невском проспекте", "street", "Невский проспект"),
    ("В Приморском районе нет света", "district", "Приморский район"),
    ("Снег в Ленинградской области не убирают", "region", "Ленинградская область"),
    ("Отключили воду в г. Сергиевом Посаде", "settlement", "Сергиев Посад"),
])
def test_nominative_normal_forms(text: str, kind: str, normal: str) -> None:
    locs = extract_locations(text)
    assert _find(locs, kind).normal == normal


# ----------------------------------------------------------------------------- addresses

@pytest.mark.parametrize("text, street, parts", [
    ("Яма у дома ул.Ленина 5", "улица Ленина", {"house": "5"}),
    ("на Ленина, 12 нет света", "Ленина", {"house": "12"}),
    ("пр-т Мира д.5 корп.2 кв.17 течет крыша", "проспект Мира", {"house": "5", "corpus": "2", "flat": "17"}),
    ("Мебельная ул., д. 47, к. 1, лит. А", "Мебельная улица", {"house": "47", "corpus": "1", "litera": "А"}),
    ("Невский пр., 28 — сосульки", "Невский проспект", {"house": "28"}),
    ("Возле дома 5Б на улице Байзакова парковка перегружена", "улица Байзакова", {"house": "5Б"}),
    ("фасад дома Рубинштейна 2/45 со стороны двора", "Рубинштейна", {"house": "2/45"}),
    ("Толе би 18N — около дома машины", "Толе би", {"house": "18N"}),
    ("Абая, 17-й дом. Проблемы с электричеством", "Абая", {"house": "17"}),
    ("у дома 14 по улице Руставели не расчищен переход", "улица Руставели", {"house": "14"}),
])
def test_house_addresses(rules: Extractor, text: str, street: str, parts: dict[str, str]) -> None:
    loc = _find(rules(text), "house")
    assert loc.parts["street"] == street
    for key, value in parts.items():
        assert loc.parts[key] == value
    assert text[loc.start:loc.end] == loc.text


@pytest.mark.parametrize("text, streets", [
    ("На углу Байзакова и Гоголя нет светофора", ["Байзакова", "Гоголя"]),
    ("перекресток ул. Ленина и пр. Мира — яма", ["улица Ленина", "проспект Мира"]),
    ("Также провал в асфальте по адресу Аносова/Райымбека", ["Аносова", "Райымбека"]),
    ("Гоголя и Байзакова — дорожное покрытие требует ремонта.", ["Гоголя", "Байзакова"]),
])
def test_intersections(rules: Extractor, text: str, streets: list[str]) -> None:
    locs = [l for l in rules(text) if l.kind == "street"]
    assert [l.normal for l in locs] == streets
    assert all(l.parts.get("intersection") == "1" for l in locs)


def test_range_from_to(rules: Extractor) -> None:
    locs = rules("Участок улицы Толе би от Гоголя до Байзакова без фонарей")
    roles = {l.normal: l.parts.get("role") for l in locs if l.kind == "street"}
    assert roles == {"улица Толе би": None, "Гоголя": "from", "Байзакова": "to"}


def test_landmarks(rules: Extractor) -> None:
    locs = rules("Остановка «Площадь Восстания» не убрана, у школы №5 тоже грязно, Центральный парк в мусоре")
    assert [(l.kind, l.parts.get("type")) for l in locs] == [
        ("landmark", "остановка"), ("landmark", "школа"), ("landmark", "парк")]


@pytest.mark.parametrize("text", [
    "Подъезд 3, квартира 5: нет отопления уже 2 недели",
    "Жду ответа 5 дней, позвонил 12 раз",
    "Здравствуйте! Прошу помочь, в 2021 году обещали ремонт",
])
def test_no_false_addresses(rules: Extractor, text: str) -> None:
    assert [l for l in rules(text) if l.kind in ("street", "house")] == []


def test_parse_registry_address() -> None:
    a = parse_address("г.Санкт-Петербург, Мебельная улица, дом 47, корпус 1, литера А")
    assert a is not None
    assert a.street == "Мебельная улица" and a.street_type == "улица"
    assert a.parts == {"house": "47", "corpus": "1", "litera": "А"}
    assert registry_street_keys("набережная реки Мойки")[1][-1] == "мойки"
    assert house_key("47", "1") == "47к1"


# ----------------------------------------------------------------------------- contract

def test_to_dict_contract(locator: Locator) -> None:
    locs = locator("В Тимашевске на улице Лесной прорвало трубу")
    assert locs
    for loc in locs:
        d = loc.to_dict()
        assert set(d) == CONTRACT_KEYS
        json.dumps(d, ensure_ascii=False)  # plain JSON types only, no yargy/slovnet objects
        assert all(isinstance(v, str) for v in d["parts"].values())
        assert Location.from_dict(d).to_dict() == d


# ----------------------------------------------------------------------------- resolution

def test_settlement_resolved_with_region(locator: Locator) -> None:
    loc = _find(locator("В Тимашевске третий день нет горячей воды"), "settlement")
    assert loc.level == "settlement" and loc.region == "Краснодарский край"
    assert 45.0 < loc.lat < 46.0 and 38.0 < loc.lon < 40.0
    assert 0.0 < loc.confidence <= 1.0


@pytest.mark.parametrize("region, lat_range", [
    ("Ленинградская область", (59.0, 61.0)),
    ("Мурманская область", (67.0, 68.5)),
])
def test_default_region_disambiguates(region: str, lat_range: tuple[float, float]) -> None:
    loc = _find(Locator.default(default_region=region)("В Кировске опять нет света"), "settlement")
    assert loc.region == region and lat_range[0] < loc.lat < lat_range[1]


def test_other_places_disambiguate(locator: Locator) -> None:
    loc = _find(locator("Город Кировск Мурманской области: не вывозят мусор"), "settlement")
    assert loc.region == "Мурманская область"


def test_unknown_places_are_kept_unresolved() -> None:
    empty = Locator(gazetteers=[])
    locs = empty("В деревне Верхние Пупки на улице Ленина, 5 прорвало трубу")
    kinds = {l.kind for l in locs}
    assert {"settlement", "house"} <= kinds
    assert all(l.lat is None and l.lon is None and l.level is None for l in locs)


def test_unknown_village_stays_unresolved(locator: Locator) -> None:
    loc = _find(locator("В деревне Верхние Пупкинские Выселки нет дороги"), "settlement")
    assert not loc.resolved and loc.level is None and loc.normal


# ----------------------------------------------------------------------------- user gazetteer

@pytest.fixture()
def registry(tmp_path: Path) -> Path:
    path = tmp_path / "streets.csv"
    rows = [
        # name, kind, lat, lon, municipality, region, settlement, house
        ("улица Ленина", "street", 45.6160, 38.9400, "Тимашевское городское поселение"),
        ("улица Ленина", "house", 45.6100, 38.9300, "Тимашевское городское поселение", "1"),
        ("улица Ленина", "house", 45.6200, 38.9500, "Тимашевское городское поселение", "9"),
        ("улица Ленина", "house", 45.6300, 38.9600, "Тимашевское городское поселение", "20"),
        ("Лесная улица", "street", 45.6050, 38.9550, "Тимашевское городское поселение"),
        ("Центральный парк", "landmark", 45.6180, 38.9420, "Тимашевское городское поселение"),
    ]
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "kind", "lat", "lon", "municipality", "region", "settlement", "house", "oktmo"])
        for name, kind, lat, lon, muni, *house in rows:
            w.writerow([name, kind, lat, lon, muni, "Краснодарский край", "Тимашевск", house[0] if house else "",
                        "03651101"])
    return path


@pytest.fixture()
def city_locator(registry: Path) -> Locator:
    return Locator.default(TableGazetteer.from_file(registry), default_region="Краснодарский край",
                           default_city="Тимашевск")


def test_table_gazetteer_lookup(registry: Path) -> None:
    g = TableGazetteer.from_file(registry)
    assert {"street", "house", "landmark"} <= g.kinds
    cands = g.lookup("улице Ленина", "street")
    assert len(cands) == 1 and cands[0].municipality == "Тимашевское городское поселение"
    assert cands[0].oktmo == "03651101" and cands[0].settlement == "Тимашевск"
    assert len(g.houses(registry_street_keys("ул. Ленина")[1])) == 3


def test_house_exact_and_interpolated(city_locator: Locator) -> None:
    exact = _find(city_locator("Течёт крыша: ул. Ленина, д. 9"), "house")
    assert exact.level == "house" and (exact.lat, exact.lon) == (45.62, 38.95)
    mid = _find(city_locator("Течёт крыша: ул. Ленина, д. 5"), "house")
    assert mid.level == "house" and 45.61 < mid.lat < 45.62 and mid.confidence < exact.confidence
    assert mid.municipality == "Тимашевское городское поселение"


def test_street_and_landmark_levels(city_locator: Locator) -> None:
    street = _find(city_locator("На Лесной улице не горят фонари"), "street")
    assert street.level == "street" and street.lat == pytest.approx(45.605)
    park = _find(city_locator("В Центральном парке сломаны скамейки"), "landmark")
    assert park.level == "landmark" and park.lat == pytest.approx(45.618)


def test_unknown_street_falls_back_to_city(city_locator: Locator) -> None:
    loc = _find(city_locator("Яма на улице Неизвестной, 3"), "house")
    assert loc.level == "settlement" and loc.confidence <= 0.3
    assert loc.region == "Краснодарский край"


def test_table_gazetteer_rejects_bad_rows() -> None:
    with pytest.raises(ValueError):
        TableGazetteer([{"name": "x", "kind": "planet", "lat": 0, "lon": 0, "municipality": "", "region": ""}])
    with pytest.raises(ValueError):
        TableGazetteer([{"name": "x", "kind": "street", "lat": 0}])


def test_parquet_gazetteer(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    path = tmp_path / "g.parquet"
    pd.DataFrame([{"name": "проспект Мира", "kind": "street", "lat": 55.78, "lon": 37.63,
                   "municipality": "Мещанский", "region": "Москва"}]).to_parquet(path)
    g = TableGazetteer.from_file(path)
    assert g.lookup("проспекте Мира", "street")[0].municipality == "Мещанский"


# ----------------------------------------------------------------------------- heat map

def test_heatmap_outputs(tmp_path: Path) -> None:
    posts = tmp_path / "posts.jsonl"
    records = [
        {"text": "В Тимашевске прорвало трубу", "topic": {"label": "ЖКХ"}, "urgency": {"label": "high"}},
        {"text": "Ямы на дорогах Краснодара", "topic": {"label": "Дороги"}, "urgency": {"label": "medium"}},
        {"text": "Ямы во дворах Краснодара", "topic": {"label": "Дороги"}, "urgency": {"label": "medium"}},
        {"text": "Нет света", "topic": {"label": "ЖКХ"}, "urgency": {"label": "low"}},
        {"text": "x", "topic": {"label": "Дороги"}, "locations": [
            {"text": "Сочи", "start": 0, "end": 4, "kind": "settlement", "normal": "Сочи", "lat": 43.6,
             "lon": 39.73, "municipality": "Сочи", "region": "Краснодарский край", "level": "settlement",
             "confidence": 0.9}]},
    ]
    posts.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records) + "\n", encoding="utf-8")
    res = run_heatmap(posts, tmp_path / "out", default_region="Краснодарский край")
    assert res.posts == 5 and res.located == 4
    with open(res.csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    counts = {(r["municipality"], r["topic"], r["urgency"]): int(r["count"]) for r in rows}
    assert counts[("Краснодар", "Дороги", "medium")] == 2
    assert counts[("Сочи", "Дороги", "unknown")] == 1
    assert sum(counts.values()) == 5
    assert "leaflet" in res.html_path.read_text(encoding="utf-8").lower()
    assert res.png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


MIXED_POSTS = [
    "В Курске на улице Ленина, 5 прорвало трубу, администрация Курска молчит",
    "",
    "   ",
    "Жители Тимашевска жалуются на ямы, в Краснодарском крае дороги не чинят",
    "Добрый день! Когда уберут снег во дворе?",
    "Москва, проспект Мира 12 — не работает лифт",
]


def test_batched_locate_equals_one_by_one(locator: Locator) -> None:
    one_by_one = [[loc.to_dict() for loc in locator(t)] for t in MIXED_POSTS]
    batched = [[loc.to_dict() for loc in found] for found in locator.locate_many(MIXED_POSTS)]
    assert batched == one_by_one
    assert batched[1] == [] and batched[2] == []
    assert any(loc["municipality"] == "Курск" for loc in batched[0])


def test_ner_batches_give_the_spans_of_single_calls() -> None:
    from cur_nlp.geo.ner import ner_spans, ner_spans_many

    batched = ner_spans_many(MIXED_POSTS)
    assert batched == [ner_spans(t) for t in MIXED_POSTS]
    assert any(t == "LOC" for _, _, t in batched[0])


def test_geonames_index_cache_round_trip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUR_NLP_CACHE_DIR", str(tmp_path))
    built = GeonamesGazetteer()
    [cache] = list(tmp_path.glob("geonames-RU-500-*.json"))
    cached = GeonamesGazetteer()
    assert [c.name for c in cached.regions] == [c.name for c in built.regions]
    for name in ("Курск", "Тимашевске", "Курская область", "Новосибирска"):
        assert cached.lookup(name) == built.lookup(name), name
    cache.write_text("{not json", encoding="utf-8")  # a damaged cache is rebuilt, not an error
    assert GeonamesGazetteer().lookup("Курск") == built.lookup("Курск")
    assert GeonamesGazetteer(use_cache=False).lookup("Курск") == built.lookup("Курск")
