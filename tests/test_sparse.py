"""The dependency-free TF-IDF transform must reproduce scikit-learn's exactly; mixing must be a proper log-prob mix."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from cur_nlp.classifier import mix_logits, softmax
from cur_nlp.sparse import SparseHeads, TfidfBlock

TEXTS = ["Во дворе дома 5 открыт люк!!! Дети рядом", "Лифт не работает, лифт сломан", "Граффити на стене у дома",
         "а я о", "Мусор не вывозят, мусор везде", "ЁЛКА   упала на провода"]


@pytest.mark.parametrize("analyzer,ngrams", [("word", (1, 2)), ("char_wb", (2, 5))])
def test_transform_matches_sklearn(analyzer, ngrams):
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(TEXTS)
    block = TfidfBlock(analyzer, ngrams, sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_)
    probe = TEXTS + ["новый текст про люк и лифт"]
    expected = vec.transform(probe).toarray()
    for i, text in enumerate(probe):
        cols, values = block.transform_one(text)
        row = np.zeros(len(vec.vocabulary_))
        row[cols] = values
        np.testing.assert_allclose(row, expected[i], atol=1e-5)


def test_save_load_round_trip(tmp_path):
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(TEXTS)
    block = TfidfBlock("word", (1, 2), sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_)
    rng = np.random.default_rng(0)
    heads = SparseHeads([block], {"topic": rng.normal(size=(len(vec.vocabulary_), 3)).astype(np.float32)},
                        {"topic": np.zeros(3, dtype=np.float32)})
    heads.save(tmp_path)
    loaded = SparseHeads.load(tmp_path)
    np.testing.assert_allclose(loaded.logits(TEXTS)["topic"], heads.logits(TEXTS)["topic"], atol=1e-2)


def test_mixing_interpolates_log_probabilities():
    enc, sp = {"t": np.array([[2.0, 0.0]]), "u": np.array([[1.0, 1.0]])}, {"t": np.array([[0.0, 2.0]])}
    mixed = mix_logits(enc, sp, {"t": 0.5, "u": 0.7})
    np.testing.assert_allclose(softmax(mixed["t"]), [[0.5, 0.5]], atol=1e-6)
    np.testing.assert_array_equal(mixed["u"], enc["u"])  # no sparse weights for this head
    np.testing.assert_array_equal(mix_logits(enc, sp, {"t": 0.0})["t"], enc["t"])
