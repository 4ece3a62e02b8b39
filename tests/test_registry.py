"""Known-fakes registry: mechanics on a tiny model, and real paraphrase matching with the shipped model.

The paraphrases here are a held-out set: the threshold was tuned on training/registry/paraphrases.jsonl.
"""

import json

import numpy as np
import pytest

from cur_nlp.registry import FakeRegistry, KnownFake, read_registry


def test_read_registry_errors_name_the_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"id": "a", "claim": "x"}\n{"claim": "no id"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="r.jsonl:2"):
        read_registry(path)


def test_match_uses_threshold():
    registry = FakeRegistry([KnownFake("a", "x", ""), KnownFake("b", "y", "")], np.eye(2, dtype=np.float32), 0.9)
    matches = registry.match(np.array([[1.0, 0.05], [0.6, 0.6], [0.0, 2.0]], dtype=np.float32))
    assert matches[0][0] == "a" and matches[1] is None and matches[2][0] == "b"


def test_registry_marks_fake_with_claim_id(tiny_model_dir, tmp_path):
    from cur_nlp.classifier import ComplaintClassifier

    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": "kf-x", "claim": "Во дворе яма", "refutation": "нет"}, ensure_ascii=False) + "\n")
    classifier = ComplaintClassifier.from_pretrained(tiny_model_dir, registry=path)
    classifier.registry.threshold = 0.999
    result = classifier("Во дворе яма").to_dict()
    assert result["fake"]["label"] is True and result["fake"]["matched_claim"] == "kf-x"


HELD_OUT = [
    ("Говорят, во всём городе не будет воды месяц из-за поломки на водоканале", "kf-001"),
    ("Школы закроют на карантин, до конца года учиться не будут", "kf-003"),
    ("Проезд в автобусе с понедельника будет стоить в два раза больше", "kf-004"),
    ("Пенсию перестанут платить, если пенсионер срочно не сходит в МФЦ", "kf-006"),
]
UNRELATED = [
    "У нас в подъезде не горит свет уже неделю",
    "Прошу убрать снег с тротуара у дома 8",
    "Сломали скамейку на детской площадке",
    "Во дворе стоит брошенная машина без колёс",
    "В автобусе 12 грубый водитель",
]


@pytest.mark.usefixtures("default_classifier")
def test_shipped_registry_matches_paraphrases_not_complaints(default_classifier):
    if default_classifier.registry is None:
        pytest.skip("the shipped model has no registry")
    for text, claim in HELD_OUT:
        fake = default_classifier(text).fake
        assert fake.matched_claim == claim, text
    for text in UNRELATED:
        assert default_classifier(text).fake.matched_claim is None, text
