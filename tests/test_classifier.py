import numpy as np
import pytest

from cur_nlp.decoding import decide
from cur_nlp.model_dir import HeadSpec
from cur_nlp.results import Prediction

from conftest import SAMPLE_TEXTS


def test_predict_contract(tiny_classifier):
    results = tiny_classifier.predict(SAMPLE_TEXTS[:3])
    assert len(results) == 3 and all(isinstance(r, Prediction) for r in results)
    data = results[0].to_dict()
    assert set(data["topic"]) == {"label", "score", "top"} and len(data["topic"]["top"]) == 3
    assert data["urgency"]["label"] in ("critical", "high", "normal", "low")
    assert isinstance(data["fake"]["label"], bool) and 0.0 <= data["fake"]["score"] <= 1.0
    assert data["locations"] == [] and data["empty"] is False


def test_order_and_batching_do_not_change_results(tiny_classifier):
    one_by_one = [tiny_classifier(t).to_dict() for t in SAMPLE_TEXTS]
    batched = [p.to_dict() for p in tiny_classifier.predict(SAMPLE_TEXTS, batch_size=3)]
    for a, b in zip(one_by_one, batched):
        assert a["topic"]["label"] == b["topic"]["label"]
        assert a["topic"]["score"] == pytest.approx(b["topic"]["score"], abs=1e-3)


def test_empty_and_whitespace_posts_are_flagged(tiny_classifier):
    results = tiny_classifier.predict(["", "   \n", "<p></p>", SAMPLE_TEXTS[0]])
    assert [r.empty for r in results] == [True, True, True, False]
    assert results[0].topic is None and results[3].topic is not None


def test_long_post_is_truncated_not_rejected(tiny_classifier):
    result = tiny_classifier("яма " * 5000)
    assert result.truncated and result.topic is not None
    assert not tiny_classifier("яма").truncated


def test_predict_scores_are_probabilities(tiny_classifier):
    scores = tiny_classifier.predict_scores(SAMPLE_TEXTS)
    assert scores["topic"].shape == (len(SAMPLE_TEXTS), len(tiny_classifier.config.head("topic").labels))
    for probs in scores.values():
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_bad_input_types(tiny_classifier):
    with pytest.raises(TypeError, match="list of texts"):
        tiny_classifier.predict("одна строка")
    with pytest.raises(TypeError, match="text #1"):
        tiny_classifier.predict(["ok", 5])


def test_decision_rules():
    probs = np.array([[0.5, 0.3, 0.2], [0.1, 0.2, 0.7]])
    head = HeadSpec("u", "multiclass", ["a", "b", "c"])
    assert decide(head, probs).tolist() == [0, 2]
    head.class_bias = [0.0, 1.0, 0.0]  # log-space boost of "b"
    assert decide(head, probs).tolist() == [1, 2]
    binary = HeadSpec("f", "binary", ["false", "true"], threshold=0.25)
    assert decide(binary, np.array([[0.8, 0.2], [0.7, 0.3]])).tolist() == [0, 1]


def test_iter_predict_streams_in_order(tiny_classifier):
    texts = SAMPLE_TEXTS * 3
    streamed = [p.topic.label for p in tiny_classifier.iter_predict(iter(texts), chunk=5)]
    assert streamed == [p.topic.label for p in tiny_classifier.predict(texts)]


def test_places_come_back_per_post_in_order(tiny_model_dir):
    from cur_nlp.classifier import ComplaintClassifier

    class RecordingLocator:
        """Tags each text with its own length, and records how it was called."""

        def __init__(self):
            self.calls = []

        def __call__(self, text):
            return [len(text)]

        def locate_many(self, texts):
            self.calls.append(list(texts))
            return [[len(t)] for t in texts]

    locator = RecordingLocator()
    clf = ComplaintClassifier.from_pretrained(tiny_model_dir, locate=locator)
    posts = ["яма на улице Ленина", "", "   ", "нет света в доме 5"]
    results = clf.predict(posts)
    assert [r.locations for r in results] == [[len(posts[0])], [], [], [len(posts[3])]]
    assert locator.calls == [[posts[0], posts[3]]]  # one batched call, empty posts skipped
    clf.locator = lambda text: [text[:3]]  # a plain callable works too
    assert [r.locations for r in clf.predict(posts)] == [["яма"], [], [], ["нет"]]


def test_tokenizer_without_tokenizer_json_is_converted(tiny_model_dir, tmp_path):
    """A directory with only a vocabulary file (a slow tokenizer) still loads: transformers converts it once."""
    import json

    from transformers import AutoTokenizer

    from cur_nlp.tokenizer import EncoderTokenizer

    vocab = AutoTokenizer.from_pretrained(str(tiny_model_dir)).get_vocab()
    (tmp_path / "vocab.txt").write_text("\n".join(sorted(vocab, key=vocab.get)) + "\n", encoding="utf-8")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "BertTokenizer",
                                                                "do_lower_case": True}))
    tokenizer = EncoderTokenizer.from_dir(tmp_path)
    expected = AutoTokenizer.from_pretrained(str(tmp_path), use_fast=True)
    assert tokenizer(SAMPLE_TEXTS, truncation=True, max_length=8)["input_ids"] == \
        expected(SAMPLE_TEXTS, truncation=True, max_length=8)["input_ids"]
    assert tokenizer.pad_token_id == expected.pad_token_id
    assert tokenizer(SAMPLE_TEXTS[0])["input_ids"] == expected(SAMPLE_TEXTS[0])["input_ids"]
    with pytest.raises(ValueError, match="max_length"):
        tokenizer(SAMPLE_TEXTS, truncation=True)
    with pytest.raises(FileNotFoundError):
        EncoderTokenizer.from_dir(tmp_path / "missing")


@pytest.mark.parametrize("model", ["tiny", "shipped"])
def test_direct_tokenizer_gives_the_same_ids_as_autotokenizer(model, tiny_model_dir):
    from transformers import AutoTokenizer

    from conftest import DEFAULT_MODEL
    from cur_nlp.classifier import load_tokenizer

    directory = tiny_model_dir if model == "tiny" else DEFAULT_MODEL
    if not (directory / "tokenizer.json").exists():
        pytest.skip(f"no tokenizer.json in {directory}")
    texts = SAMPLE_TEXTS + ["", "Ёлка упала на ул.Ленина, д.5 😀", "<b>люк</b> &amp; яма", "я" * 2000]
    auto = AutoTokenizer.from_pretrained(str(directory), use_fast=True)
    direct = load_tokenizer(directory)
    assert direct(texts, truncation=True, max_length=129)["input_ids"] == \
        auto(texts, truncation=True, max_length=129)["input_ids"]
    assert direct.pad_token_id == auto.pad_token_id


def test_a_lone_surrogate_neither_crashes_predict_nor_loses_its_neighbours(tiny_model_dir):
    """Issue 22, defect 3: ``"\\ud83d"`` used to raise a TypeError in the tokenizer and lose the whole batch."""
    from cur_nlp.classifier import ComplaintClassifier

    seen = []
    clf = ComplaintClassifier.from_pretrained(tiny_model_dir, locate=lambda text: seen.append(text) or [])
    posts = ["Во дворе открыт люк", "\ud83d", "яма \udfff на дороге", "Не работает лифт"]
    results = clf.predict(posts)
    assert len(results) == 4 and all(r.topic is not None for r in results)
    assert [r.to_dict()["topic"] for r in results[::3]] == [p.to_dict()["topic"] for p in clf.predict(posts[::3])]
    assert seen[2] == "яма \ufffd на дороге"  # the locator gets the same offsets, encodable text
    assert clf.explain("люк \ud83d открыт").heads["topic"].words


@pytest.mark.parametrize("text", ["\u200d\u200c", "\ufeff", "\u2060\u2060", "\u3164", "\u200b\u200d"])
def test_invisible_only_posts_are_empty(tiny_classifier, text):
    result = tiny_classifier.predict([text, "люк"])
    assert result[0].empty and result[0].topic is None and not result[1].empty
