"""The dependency-free TF-IDF transform must reproduce scikit-learn's exactly; mixing must be a proper log-prob mix."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from cur_nlp.decoding import mix_logits, softmax
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


@pytest.mark.parametrize("analyzer,ngrams", [("word", (1, 2)), ("char_wb", (2, 5))])
def test_batch_transform_matches_sklearn_with_empty_and_unknown_rows(analyzer, ngrams):
    vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(TEXTS)
    block = TfidfBlock(analyzer, ngrams, sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_)
    probe = ["", TEXTS[0], "qqq zzz", TEXTS[4], ""]
    got = block.transform(probe)
    assert got.shape == (len(probe), len(vec.vocabulary_))
    np.testing.assert_allclose(got.toarray(), vec.transform(probe).toarray(), atol=1e-5)


def test_heads_logits_are_the_linear_layer_over_the_concatenated_blocks():
    blocks = []
    for analyzer, ngrams in (("word", (1, 2)), ("char_wb", (2, 5))):
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(TEXTS)
        blocks.append((vec, TfidfBlock(analyzer, ngrams, sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_)))
    width = sum(len(v.vocabulary_) for v, _ in blocks)
    rng = np.random.default_rng(1)
    weight, bias = rng.normal(size=(width, 4)).astype(np.float32), rng.normal(size=4).astype(np.float32)
    heads = SparseHeads([b for _, b in blocks], {"topic": weight}, {"topic": bias})
    probe = TEXTS + ["", "zzz"]
    dense = np.hstack([v.transform(probe).toarray() for v, _ in blocks])
    np.testing.assert_allclose(heads.logits(probe)["topic"], dense @ weight + bias, atol=1e-4)


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


def test_calibrated_nll_prefers_the_logits_that_explain_the_labels():
    from cur_nlp_training.hybrid import calibrated_nll

    gold = np.array([0, 1, 2, 0, 1, 2])
    right = np.eye(3)[gold] * 3.0
    wrong = np.eye(3)[(gold + 1) % 3] * 3.0
    assert calibrated_nll(right, gold) < calibrated_nll(np.zeros((6, 3)), gold) < calibrated_nll(wrong, gold) + 1e-9
    assert calibrated_nll(np.zeros((6, 3)), gold) == pytest.approx(np.log(3), abs=1e-6)


def test_alpha_criterion_is_validated():
    from cur_nlp_training.config import TrainConfig

    assert TrainConfig(name="x", output_dir="y", heads=[{"name": "t"}]).sparse_alpha_by == "f1"
    with pytest.raises(ValueError, match="sparse_alpha_by must be 'nll' or 'f1'"):
        TrainConfig(name="x", output_dir="y", heads=[{"name": "t"}], sparse_alpha_by="auc")


def _plain_cosines(heads, posts, claims):
    """Reference: unit TF-IDF vectors as {column: value} dicts and a dictionary dot product."""
    def vectors(texts):
        scale = 1.0 / np.sqrt(len(heads.blocks))
        rows = heads.features(texts)
        return [dict(zip(rows[i].indices.tolist(), (rows[i].data * scale).tolist())) for i in range(rows.shape[0])]

    left, right = vectors(posts), vectors(claims)
    return np.array([[sum(v * r.get(k, 0.0) for k, v in a.items()) for r in right] for a in left], dtype=np.float32)


def test_vectorised_cosine_equals_the_plain_sparse_dot_product():
    from cur_nlp.fakes.matcher import LexicalOverlap

    blocks = []
    for analyzer, ngrams in (("word", (1, 2)), ("char_wb", (2, 5))):
        vec = TfidfVectorizer(analyzer=analyzer, ngram_range=ngrams, sublinear_tf=True).fit(TEXTS)
        blocks.append(TfidfBlock(analyzer, ngrams, sorted(vec.vocabulary_, key=vec.vocabulary_.get), vec.idf_))
    heads = SparseHeads(blocks, {}, {})
    claims, posts = TEXTS[:3], TEXTS + ["лифт сломан во дворе", "", "zzz"]
    expected = _plain_cosines(heads, posts, claims)
    overlap = LexicalOverlap(heads, heads.features(claims))
    got = overlap.cosine(heads.features(posts))
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert got[0, 0] == pytest.approx(1.0, abs=1e-5) and got[-1].max() == 0.0
    # per pair: block cosines average to the cosine; a post covers all of an identical claim and none of an unrelated one
    rows, claim_index = np.array([0, 1, len(posts) - 1]), np.array([0, 0, 1])
    pairs = overlap.pairs(heads.features(posts), rows, claim_index)
    np.testing.assert_allclose(pairs[:, :2].mean(1), got[rows, claim_index], atol=1e-5)
    np.testing.assert_allclose(pairs[0, 2:], [1.0, 1.0], atol=1e-5)
    assert pairs[2, 2:].max() == 0.0
