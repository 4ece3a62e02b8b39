"""Golden predictions of the shipped model on obvious posts (skipped when models/default is absent)."""

import pytest

GOLDEN = [
    ("Во дворе открыт канализационный люк, рядом играют дети", "improvement", "critical"),
    ("В подъезде третий день не работает лифт, живём на 14 этаже", "housing", "high"),
    ("Огромная яма на проезжей части, машины бьют колёса", "roads", "high"),
    ("Контейнеры переполнены, мусор не вывозят неделю", "waste", None),
    ("С крыши свисают огромные сосульки прямо над входом", "housing", "critical"),
    ("Стены в подъезде исписаны граффити", "housing", "normal"),
    ("В поликлинике невозможно записаться к терапевту", "healthcare", None),
    ("Автобус 25 не ходит по расписанию, ждём по часу", "transport", None),
    ("Продают овощи с земли у метро без разрешения", "economy", None),
    ("Нет горячей воды уже неделю", "housing", "high"),
]


@pytest.mark.parametrize("text,topic,urgency", GOLDEN)
def test_obvious_posts(default_classifier, text, topic, urgency):
    prediction = default_classifier(text)
    assert prediction.topic.label == topic
    if urgency:
        assert prediction.urgency.label == urgency
    assert prediction.fake.label is False


@pytest.mark.parametrize("text,urgency", [("Пахнет газом в подъезде, вызвали аварийку", "critical"),
                                          ("Спасибо за новую детскую площадку, очень красиво", "low")])
def test_gas_smell_is_critical_and_thanks_are_low(default_classifier, text, urgency):
    assert default_classifier(text).urgency.label == urgency


@pytest.mark.parametrize("text,claim", [
    ("Говорят, с понедельника проезд в автобусах подорожает в два раза", "ex-019"),
    ("Ярославцы, правда что всё лето не будет холодной воды во всём городе? водовод меняют", "ex-001"),
])
def test_rumour_spread_is_flagged_with_its_refutation(default_classifier, text, claim):
    fake = default_classifier(text).fake
    assert (fake.label, fake.source, fake.stance, fake.match["id"]) == (True, "registry", "spreads", claim)
    assert fake.match["refutation"] and 0.5 < fake.score <= 1.0


@pytest.mark.parametrize("text", [
    "Опять пишут что в Самаре проезд подорожает вдвое — транспортный департамент уже опроверг, это фейк",
    "На Ленина 12 нет холодной воды с утра, когда дадут?",
    "Автобус 41 опять не пришёл, стоим на остановке сорок минут",
])
def test_refutations_and_complaints_on_the_subject_are_not_fake(default_classifier, text):
    assert default_classifier(text).fake.label is False


def test_scores_are_calibrated_probabilities(default_classifier):
    import numpy as np

    scores = default_classifier.predict_scores([g[0] for g in GOLDEN])
    for probs in scores.values():
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
