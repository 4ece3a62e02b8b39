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


def test_empty_text_has_an_empty_explanation_without_labels(tiny_classifier):
    for text in ("", "   ", "\u200d\ufeff", "<p></p>"):
        result = explain(tiny_classifier, text)
        assert result.empty and result.heads == {} and result.to_dict() == {}


def test_max_words_weighs_only_the_first_words(tiny_classifier):
    text = "один два три четыре пять шесть"
    result = explain(tiny_classifier, text, max_words=2)
    assert result.truncated and {w.word for w in result.heads["topic"].words} == {"один", "два"}
    assert not explain(tiny_classifier, text).truncated


def test_occlusion_separates_the_texts_to_score_from_the_weights(tiny_classifier):
    from cur_nlp.explain import Occlusion

    text = "Яма на дороге у дома"
    occlusion = Occlusion.of(text, max_words=3)
    assert occlusion.texts == [text, " на дороге у дома", "Яма  дороге у дома", "Яма на  у дома"]
    weighed = occlusion.explanation(tiny_classifier, tiny_classifier.predict_scores(occlusion.texts))
    assert weighed.to_dict() == explain(tiny_classifier, text, max_words=3).to_dict()
    assert Occlusion.of("\u200d").texts == [] and Occlusion.of("\u200d").explanation(tiny_classifier, {}).empty
