"""The int8 backend with an fp32 recheck: decision margins and shifts, the export's margins, the checked backend."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from cur_nlp import recheck
from cur_nlp.classifier import ComplaintClassifier, decide, softmax
from cur_nlp.model_dir import HeadSpec

from conftest import SAMPLE_TEXTS

MULTI = HeadSpec("topic", "multiclass", ["a", "b", "c", "d"], class_bias=[0.5, 0.0, -0.3, 0.1])
BINARY = HeadSpec("fake", "binary", ["false", "true"], threshold=0.7)


def _probs(rng, n, k, scale=2.0):
    return softmax(rng.normal(0, scale, (n, k)))


@pytest.mark.parametrize("head", [MULTI, BINARY], ids=["multiclass", "binary"])
def test_decision_scores_give_the_classifier_decisions(head):
    probs = _probs(np.random.default_rng(0), 500, len(head.labels))
    assert np.array_equal(recheck.decisions(head, recheck.decision_scores(head, probs)), decide(head, probs))


@pytest.mark.parametrize("head", [MULTI, BINARY], ids=["multiclass", "binary"])
def test_a_label_changes_only_where_the_margin_is_below_the_shift(head):
    rng = np.random.default_rng(1)
    reference = _probs(rng, 4000, len(head.labels))
    fast = softmax(np.log(reference) + rng.normal(0, 0.3, reference.shape))  # an approximate encoder
    s_fast, s_ref = recheck.decision_scores(head, fast), recheck.decision_scores(head, reference)
    changed = recheck.decisions(head, s_fast) != recheck.decisions(head, s_ref)
    assert changed.sum() > 20  # the perturbation does change labels
    margin, shift = recheck.margins(head, s_fast), recheck.shifts(head, s_fast, s_ref)
    assert np.all(margin[changed] <= shift[changed])
    assert np.all(shift >= 0) and np.all(margin >= 0)
    # the fitted bound rechecks every changed row and not every row
    bounds = recheck.fit_margins([head], {head.name: fast}, {head.name: reference})
    rows = recheck.needs_recheck([head], {head.name: fast}, bounds)
    assert rows[changed].all() and rows.mean() < 1.0


def _registry_decision(similarities, threshold):
    """What FakeRegistry.match decides: the best claim's index if it reaches the threshold, else -1."""
    best = similarities.argmax(axis=1)
    return np.where(similarities.max(axis=1) >= threshold, best, -1)


def test_registry_match_changes_only_where_the_margin_is_below_the_shift():
    rng = np.random.default_rng(2)
    reference = rng.uniform(0.0, 1.0, (3000, 3))
    fast = reference + rng.normal(0, 0.01, reference.shape)
    threshold = 0.85
    decided = _registry_decision(fast, threshold), _registry_decision(reference, threshold)
    assert np.array_equal(recheck.registry_scores(fast, threshold).argmax(1) % 4, decided[0] % 4)
    changed = decided[0] != decided[1]
    switched = changed & (decided[0] >= 0) & (decided[1] >= 0)  # another claim, not match against no match
    assert changed.sum() > 5 and switched.sum() > 0
    margin, shift = recheck.registry_margins(fast, threshold), recheck.registry_shifts(fast, reference, threshold)
    assert np.all(margin[changed] <= shift[changed])
    bounds = recheck.fit_margins([], {}, {}, fast, reference, threshold)
    rows = recheck.needs_recheck([], {"x": fast}, bounds, fast, threshold)
    assert rows[changed].all() and rows.mean() < 0.5


def test_heads_without_a_bound_are_not_rechecked():
    head = HeadSpec("topic", "multiclass", ["a", "b", "c", "d"])
    probs = {"topic": np.full((3, 4), 0.25)}  # ties: margin 0 everywhere
    assert not recheck.needs_recheck([head], probs, {}).any()
    assert recheck.needs_recheck([head], probs, {"topic": 0.0}).all()


pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def checked_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with an all-int8 file exported and its recheck margins fitted on the sample texts, and a
    small known-fakes registry."""
    from cur_nlp.backends.export import export_onnx

    directory = tmp_path_factory.mktemp("checked") / "model"
    shutil.copytree(tiny_model_dir, directory)
    claims = [{"id": f"kf-{i}", "claim": text} for i, text in enumerate(SAMPLE_TEXTS[:3])]
    (directory / "known_fakes.jsonl").write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in claims) + "\n")
    export_onnx(directory, quantize=True, texts=SAMPLE_TEXTS * 3, check_bf16=False, fp32_node_counts=(0,))
    return directory


def _entry(directory, name="onnx-int8-checked"):
    return json.loads((directory / "config.json").read_text())["extra"]["backends"][name]


def test_export_records_the_checked_backend(checked_dir):
    entry = _entry(checked_dir)
    fit = entry["recheck"]
    assert set(fit["bounds"]) == {"topic", "urgency", "fake", "registry"}
    assert all(v >= 0 for v in fit["bounds"].values())
    assert fit["fitted_on_texts"] == len(SAMPLE_TEXTS) * 3
    held = fit["held_out"]
    assert held["fitted_on_texts"] + held["checked_on_texts"] == fit["fitted_on_texts"]
    assert set(held["labels_changed_after_recheck"]) == {"topic", "urgency", "fake", "registry"}
    for name, after in held["labels_changed_after_recheck"].items():
        assert 0 <= after <= held["int8_labels_changed"][name]
    assert entry["file"] == _entry(checked_dir, "onnx-int8")["file"]
    # margins fitted on the check texts recheck every label int8 changed there
    assert set(entry["check"]["agreement"].values()) == {1.0}


def test_checked_backend_gives_fp32_scores_where_it_rechecks_and_int8_elsewhere(checked_dir):
    from cur_nlp.backends import CheckedBackend

    texts = SAMPLE_TEXTS[::-1]
    fp32 = ComplaintClassifier.from_pretrained(checked_dir, backend="torch").predict_scores(texts)
    int8 = ComplaintClassifier.from_pretrained(checked_dir, backend="onnx-int8").predict_scores(texts)
    checked = ComplaintClassifier.from_pretrained(checked_dir, backend="onnx-int8-checked")
    assert isinstance(checked.backend, CheckedBackend)
    assert not any(np.allclose(fp32[h], int8[h], atol=1e-6) for h in fp32)  # int8 does move the scores

    checked.backend.bounds = {name: np.inf for name in checked.backend.bounds}
    everything = checked.predict_scores(texts)
    assert checked.backend.rechecked == checked.backend.posts == len(texts)
    checked.backend.bounds = {name: -1.0 for name in checked.backend.bounds}
    nothing = checked.predict_scores(texts)
    assert checked.backend.rechecked == len(texts) and checked.backend.posts == 2 * len(texts)
    for head in fp32:
        np.testing.assert_allclose(everything[head], fp32[head], atol=1e-5)
        np.testing.assert_allclose(nothing[head], int8[head], atol=1e-6)


def test_checked_predict_matches_fp32_on_the_fitted_texts(checked_dir):
    texts = SAMPLE_TEXTS * 3
    fp32 = ComplaintClassifier.from_pretrained(checked_dir, backend="torch").predict(texts)
    checked = ComplaintClassifier.from_pretrained(checked_dir, backend="onnx-int8-checked")
    assert checked.registry is not None
    predicted = checked.predict(texts)
    for a, b in zip(fp32, predicted):
        assert {k: (v.label, v.matched_claim) for k, v in a.heads.items()} == \
               {k: (v.label, v.matched_claim) for k, v in b.heads.items()}
    assert checked.backend.posts == len(texts) and 0 <= checked.backend.rechecked_share <= 1


def test_checked_registry_embeds_claims_in_fp32(checked_dir):
    fp32 = ComplaintClassifier.from_pretrained(checked_dir, backend="torch")
    checked = ComplaintClassifier.from_pretrained(checked_dir, backend="onnx-int8-checked")
    np.testing.assert_allclose(checked.registry.vectors, fp32.registry.vectors, atol=1e-5)


def test_checked_backend_without_margins_is_refused(checked_dir, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(checked_dir, directory)
    data = json.loads((directory / "config.json").read_text())
    del data["extra"]["backends"]["onnx-int8-checked"]["recheck"]
    (directory / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="recheck margins"):
        ComplaintClassifier.from_pretrained(directory, backend="onnx-int8-checked")


@pytest.mark.parametrize("int8_passed", [True, False])
def test_auto_prefers_the_checked_backend_to_plain_int8(checked_dir, tmp_path, monkeypatch, int8_passed):
    import importlib.util

    import cur_nlp.backends as backends

    monkeypatch.setattr(backends, "native_bf16", lambda: False)
    directory = tmp_path / "model"
    shutil.copytree(checked_dir, directory)
    data = json.loads((directory / "config.json").read_text())
    data["extra"]["backends"]["onnx-int8"]["passed"] = int8_passed
    data["extra"]["backends"]["onnx-int8-checked"]["passed"] = True
    (directory / "config.json").write_text(json.dumps(data))
    assert ComplaintClassifier.from_pretrained(directory).backend.name == "onnx-int8-checked"
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    assert ComplaintClassifier.from_pretrained(directory).backend.name == ("onnx-int8" if int8_passed else "torch")


def _benchmark_module():
    import importlib.util
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    sys.path.insert(0, str(root / "benchmarks"))
    spec = importlib.util.spec_from_file_location("recheck_benchmark", root / "benchmarks" / "recheck.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_counts_changed_labels_per_source_and_prints_them():
    bench = _benchmark_module()
    posts = [{"source": "spb"}, {"source": "spb"}, {"source": "kursk"}]
    reference = {"topic": np.array([0, 1, 2]), "urgency": np.array([0, 0, 0])}
    chosen = {"topic": np.array([0, 2, 1]), "urgency": np.array([0, 0, 1])}
    changed = bench.labels_changed(reference, chosen, posts)
    assert changed == {"spb": {"topic": 1, "urgency": 0}, "kursk": {"topic": 1, "urgency": 1}}
    diff = {"diff": -0.0123, "p05": -0.03, "p95": 0.001}
    report = {"split": "test", "per_source": {"spb": 2, "kursk": 1}, "backends": {
        "torch": {"texts_per_s": 100.0},
        "onnx-int8-checked": {"texts_per_s": 150.0, "predict_with_places_per_s": 120.0, "rechecked_share": 0.1,
                              "cold_start_with_places": {"cold_start_median": 1.5}, "labels_changed": changed,
                              "topic_vs_torch": {"spb": diff, "kursk": diff}}}}
    table = bench.markdown_table(report)
    assert "| torch | 100.0 | – | – | – | – | – | – |" in table
    assert "| onnx-int8-checked | 150.0 | 120.0 | 10.0% | 1.50 | 1 / 1 | -1.23 pt (-3.00 … +0.10) |" in table
