import csv
import gzip
import json

import pytest

from cur_nlp_training.data import SOCIAL_DIR, load_almaty, load_kursk, load_ru22fact, load_social, load_spb
from cur_nlp_training.splits import build_splits, deduplicate, near_duplicate_key, split_by_time, split_stratified

from conftest import requires_shared

UNIFIED = ["id", "text", "source", "created", "topic", "urgency", "fake", "reason", "district", "municipality",
           "lat", "lon", "address", "responsible", "region", "kind", "relevant", "split"]


def _spb_file(tmp_path, rows):
    path = tmp_path / "spb.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def _spb_row(i, text, created, reason="Открыт колодец, люк"):
    return {"id": i, "text": text, "created": created, "reason": reason, "category": "Благоустройство",
            "district": "Приморский", "municipality": "МО №65", "full_address": "ул. Мебельная, д. 47",
            "lat": "59.99", "lon": "30.19"}


def test_spb_loader_unifies_columns(tmp_path):
    ds = load_spb(_spb_file(tmp_path, [_spb_row(1, "<b>Открыт люк</b> у дома!!!!!", "2021-01-05T10:00:00")]))
    assert ds.column_names == UNIFIED
    row = ds[0]
    assert row["id"] == "spb:1" and row["source"] == "spb"
    assert row["text"] == "Открыт люк у дома!!!"
    assert (row["topic"], row["urgency"], row["fake"]) == ("improvement", "critical", None)
    assert row["lat"] == pytest.approx(59.99) and row["district"] == "Приморский"


def test_spb_loader_names_unmapped_reason(tmp_path):
    path = _spb_file(tmp_path, [_spb_row(1, "текст", "2021-01-05", reason="Неизвестная причина")])
    with pytest.raises(ValueError, match="Неизвестная причина"):
        load_spb(path)


def test_kursk_loader_strips_html_and_drops_test_category(tmp_path):
    path = tmp_path / "kursk.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "Текст Сообщения", "Тематика", "Ответственное лицо", "Категория"])
        topic = next(iter(__import__("cur_nlp_training.mappings").mappings.load_mapping("kursk_topic")))
        writer.writerow([7, "<p>Нет света&nbsp;в доме</p>", topic, "Администрация", "3"])
        writer.writerow([8, "тест", topic, "Администрация", "12"])
    ds = load_kursk(path)
    assert len(ds) == 1
    assert ds[0]["text"] == "Нет света в доме" and ds[0]["responsible"] == "Администрация"


def test_ru22fact_loader_maps_verdicts(tmp_path):
    path = tmp_path / "f.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "claim", "evidence", "referenced_explanation", "label", "url", "date", "claimant", "language", "split"])
        writer.writerow([1, "Утверждение один", "", "", "Refuted", "", "2022/10/24 8:28", "", "ru", "test"])
        writer.writerow([2, "Утверждение два", "", "", "Supported", "", "05.07.2022", "", "ru", "test"])
    ds = load_ru22fact(path)
    assert ds["fake"] == [True, False]
    assert ds["created"] == ["2022-10-24", "2022-07-05"]


def test_almaty_loader_keeps_spans(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"text": "Улица Абая, 5", "entities": [[0, 10, "Street", "Улица Абая"]]}, ensure_ascii=False) + "\n", encoding="utf-8")
    ds = load_almaty(path)
    assert ds[0]["entities"] == [{"start": 0, "end": 10, "type": "Street", "text": "Улица Абая"}]


def test_near_duplicates_are_removed_keeping_the_earliest(tmp_path):
    rows = [_spb_row(2, "Открыт люк!!!", "2021-02-01"), _spb_row(1, "открыт  люк", "2021-01-01"),
            _spb_row(3, "Другой текст", "2021-01-02")]
    ds = deduplicate(load_spb(_spb_file(tmp_path, rows)), order_by="created")
    assert sorted(ds["id"]) == ["spb:1", "spb:3"]
    assert near_duplicate_key("Ёлка, ЁЖ!") == near_duplicate_key("елка ёж")


def test_time_split_boundaries(tmp_path):
    rows = [_spb_row(1, "a1 текст", "2021-02-28T23:59:59"), _spb_row(2, "b2 текст", "2021-03-01T00:00:00"),
            _spb_row(3, "c3 текст", "2021-03-16T00:00:00")]
    split = split_by_time(load_spb(_spb_file(tmp_path, rows)))
    assert (split["train"]["id"], split["dev"]["id"], split["test"]["id"]) == (["spb:1"], ["spb:2"], ["spb:3"])


def test_stratified_split_is_deterministic_and_disjoint(tmp_path):
    from datasets import Dataset

    ds = Dataset.from_list([{"id": str(i), "label": "ab"[i % 2]} for i in range(100)])
    a, b = split_stratified(ds, "label", 0.15, 0.2), split_stratified(ds, "label", 0.15, 0.2)
    assert a["test"]["id"] == b["test"]["id"]
    ids = [set(a[s]["id"]) for s in ("train", "dev", "test")]
    assert sum(map(len, ids)) == 100 and not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])


@requires_shared
def test_real_spb_split_has_no_leak():
    from cur_nlp_training.splits import build_splits

    splits = build_splits("spb")
    keys = {s: {near_duplicate_key(t) for t in splits[s]["text"]} for s in ("train", "dev", "test")}
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["dev"]
    assert max(splits["train"]["created"]) < "2021-03-01" <= min(splits["dev"]["created"])
    assert len(splits["train"]) > 20_000


def _social_post(i, split="train", **changes):
    post = {"id": f"t-b1-{i:03d}", "text": f"[club1|Администрация], когда уберут двор на ленина {i}??", "topic": "improvement",
            "urgency": "normal", "relevant": True, "region": "Курская область", "kind": "question", "split": split,
            "provenance": "written"}
    return {**post, **changes}


def test_social_loader_keeps_labels_and_the_written_split(tmp_path):
    folder = tmp_path / "social"
    folder.mkdir()
    posts = [_social_post(1), _social_post(2, "dev"), _social_post(3, "test", relevant=False, kind="chatter"),
             _social_post(4, "test", text="[club1|Администрация], когда уберут двор на ленина 3??")]  # a duplicate
    (folder / "w_b1.jsonl").write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in posts) + "\n")
    ds = load_social(folder)
    assert ds.column_names == UNIFIED and ds[0]["id"] == "social:t-b1-001" and ds[0]["source"] == "social"
    assert ds[0]["text"].startswith("Администрация, когда")  # normalised: the mention's name is kept
    assert (ds[2]["relevant"], ds[2]["kind"], ds[2]["region"]) == (False, "chatter", "Курская область")
    splits = build_splits("social", folder)
    assert {s: len(splits[s]) for s in splits} == {"train": 1, "dev": 1, "test": 1}


def test_social_loader_names_the_bad_line(tmp_path):
    folder = tmp_path / "social"
    folder.mkdir()
    (folder / "w_b1.jsonl").write_text(json.dumps(_social_post(1)) + "\n" + json.dumps(_social_post(2, topic="ЖКХ")) + "\n")
    with pytest.raises(ValueError, match=r"w_b1.jsonl:2: unknown topic 'ЖКХ'"):
        load_social(folder)


@pytest.mark.skipif(not SOCIAL_DIR.exists(), reason="the social corpus is not in this checkout")
def test_the_committed_social_corpus_meets_its_data_card():
    from collections import Counter

    ds = load_social(SOCIAL_DIR)
    assert len(ds) >= 4000
    topics, urgency = Counter(ds["topic"]), Counter(ds["urgency"])
    assert min(topics.values()) >= 150 and len(topics) == 15
    assert urgency["critical"] >= 300 and urgency["high"] >= 700 and urgency["low"] >= 400
    assert {"official_reply", "chatter"} <= set(ds["kind"])
    assert len(set(ds["text"])) >= 0.99 * len(ds)  # a few one-liners («+1») recur, as in real threads; dedup drops them
