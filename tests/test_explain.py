from cur_nlp.explain import explain


def test_explain_returns_word_weights_with_offsets(tiny_classifier):
    text = "Во дворе открыт люк, дети рядом"
    result = explain(tiny_classifier, text)
    assert set(result.heads) == {"topic", "urgency", "fake"}
    words = result.heads["urgency"].words
    assert {w.word for w in words} == {"Во", "дворе", "открыт", "люк", "дети", "рядом"}
    assert all(text[w.start : w.end] == w.word for w in words)
    assert abs(words[0].weight) >= abs(words[-1].weight)
    assert "<span" in result.to_html("urgency") and result.to_dict()["topic"]["words"]


def test_weights_measure_the_probability_drop(tiny_classifier):
    text = "Яма на дороге"
    result = explain(tiny_classifier, text, heads=["topic"])
    head = result.heads["topic"]
    label_index = tiny_classifier.config.head("topic").labels.index(head.label)
    without_first = tiny_classifier.predict_scores(["на дороге"])["topic"][0, label_index]
    weight = next(w.weight for w in head.words if w.word == "Яма")
    assert abs(weight - (head.score - without_first)) < 1e-5
