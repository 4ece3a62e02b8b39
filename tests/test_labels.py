import csv
import gzip
import json

import pytest

from cur_nlp.labels import URGENCY_LEVELS, load_topics, load_urgency_levels, rubricator_group_to_topic, topic_ids
from cur_nlp_training.mappings import MAPPINGS_DIR, load_mapping

from conftest import SHARED, requires_shared


def test_topics_are_unique_and_described():
    topics = load_topics()
    assert len(topics) == len({t.id for t in topics}) >= 10
    assert all(t.name and t.description for t in topics)


def test_urgency_levels_in_order():
    assert [u.id for u in load_urgency_levels()] == list(URGENCY_LEVELS) == ["critical", "high", "normal", "low"]


@requires_shared
def test_every_rubricator_group_has_a_topic():
    rubricator = json.loads((SHARED / "data/cur_taxonomy/incident_topics_perm.json").read_text(encoding="utf-8"))
    assert set(rubricator.values()) == set(rubricator_group_to_topic())


@pytest.mark.parametrize("name", ["spb_reason", "kursk_topic"])
def test_mapping_targets_exist(name):
    table = load_mapping(name)
    assert table
    assert {t.topic for t in table.values()} <= set(topic_ids())
    assert {t.urgency for t in table.values()} <= set(URGENCY_LEVELS) | {None}


def test_mapping_rejects_unknown_topic(tmp_path, monkeypatch):
    (tmp_path / "bad.csv").write_text("source_label,topic,urgency\nЯма,potholes,\n", encoding="utf-8")
    monkeypatch.setattr("cur_nlp_training.mappings.MAPPINGS_DIR", tmp_path)
    with pytest.raises(ValueError, match="unknown topic 'potholes'"):
        load_mapping("bad")


def test_weak_urgency_examples_from_the_issue():
    spb = load_mapping("spb_reason")
    assert spb["Открыт колодец, люк"].urgency == "critical"
    lift = [t for label, t in spb.items() if "лифт" in label.lower()]
    assert lift and any(t.urgency == "high" for t in lift)
    graffiti = [t for label, t in spb.items() if "надписи" in label.lower()]
    assert graffiti and all(t.urgency == "normal" for t in graffiti)


@requires_shared
def test_every_spb_reason_is_mapped():
    with gzip.open(SHARED / "data/spb_nash_gorod_2020-10_2021-03.jsonl.gz", "rt", encoding="utf-8") as handle:
        reasons = {json.loads(line)["reason"] for line in handle}
    assert reasons == set(load_mapping("spb_reason"))


@requires_shared
def test_every_kursk_topic_is_mapped():
    with (SHARED / "data/kursk_appeals_train.csv").open(encoding="utf-8") as handle:
        topics = {row["Тематика"] for row in csv.DictReader(handle)}
    assert topics == set(load_mapping("kursk_topic"))


def test_mapping_files_have_the_reviewed_columns():
    for path in MAPPINGS_DIR.glob("*.csv"):
        with path.open(encoding="utf-8") as handle:
            assert next(csv.reader(handle)) == ["source_label", "topic", "urgency"]
