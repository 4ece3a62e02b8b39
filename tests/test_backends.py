"""Encoder backends: ONNX export of the tiny model, ONNX vs torch, automatic selection and its fallbacks."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest
import torch

import cur_nlp.backends as backends
from cur_nlp.backends import ONNX_FILES, EncoderBackend, OnnxBackend, TorchBackend, TorchBf16Backend
from cur_nlp.classifier import ComplaintClassifier

from conftest import SAMPLE_TEXTS, min_cosine, padded_batch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def exported_dir(tiny_model_dir, tmp_path_factory):
    """A copy of the tiny model with fp32 and int8 ONNX files exported and checked on the sample texts."""
    from cur_nlp.backends.export import export_onnx

    directory = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(tiny_model_dir, directory)
    export_onnx(directory, quantize=True, keep_fp32=True, texts=SAMPLE_TEXTS * 2, check_bf16=True)
    return directory


def _recorded(directory) -> dict:
    return json.loads((directory / "config.json").read_text())["extra"]["backends"]


@pytest.fixture(autouse=True)
def no_native_bf16(monkeypatch):
    """Selection tests do not depend on this machine's CPU: no native bf16 unless a test says so."""
    monkeypatch.setattr(backends, "native_bf16", lambda: False)


def _set_passed(directory, passed: dict[str, bool]) -> None:
    data = json.loads((directory / "config.json").read_text())
    for name, value in passed.items():
        data["extra"]["backends"][name]["passed"] = value
    (directory / "config.json").write_text(json.dumps(data))


def test_export_writes_files_and_records_them(exported_dir):
    recorded = _recorded(exported_dir)
    assert set(recorded) == {"onnx", "onnx-int8", "onnx-int8-checked", "torch-bf16"}
    for name, entry in recorded.items():
        assert set(entry["check"]["agreement"]) == {"topic", "urgency", "fake"}
        if name != "torch-bf16":
            assert entry["file"] == ONNX_FILES[name]
            assert (exported_dir / entry["file"]).stat().st_size == entry["bytes"]
    assert recorded["torch-bf16"]["file"] is None
    assert "smooth_alpha" in recorded["onnx-int8"]["quantization"]
    assert recorded["onnx"]["passed"] is True
    assert recorded["onnx-int8"]["bytes"] < recorded["onnx"]["bytes"]


def test_export_without_fp32_records_only_existing_files(tiny_model_dir, tmp_path):
    from cur_nlp.backends.export import export_onnx

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    entries = export_onnx(directory, quantize=True, texts=SAMPLE_TEXTS, check_bf16=False)
    assert set(entries) == {"onnx-int8", "onnx-int8-checked"} == set(_recorded(directory))
    assert not (directory / ONNX_FILES["onnx"]).exists()
    assert (directory / ONNX_FILES["onnx-int8"]).exists()


def test_int8_export_keeps_sensitive_nodes_in_fp32_until_the_check_passes(tiny_model_dir, tmp_path):
    from cur_nlp.backends.export import export_onnx, weight_nodes

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    # an agreement above 1 cannot be reached: every rung of the ladder is tried and the last one is kept
    entries = export_onnx(directory, quantize=True, keep_fp32=True, texts=SAMPLE_TEXTS, check_bf16=False,
                          fp32_node_counts=(0, 1, 3), min_agreement=1.01)
    int8 = entries["onnx-int8"]
    quantization = int8["quantization"]
    assert int8["passed"] is False
    assert [t["fp32_nodes"] for t in quantization["tries"]] == [0, 1, 3]
    nodes = weight_nodes(directory / ONNX_FILES["onnx"])
    assert set(quantization["node_sensitivity"]) == set(nodes)
    ranked = sorted(nodes, key=quantization["node_sensitivity"].__getitem__, reverse=True)
    assert quantization["fp32_nodes"] == ranked[:3]
    assert int8["bytes"] == (directory / ONNX_FILES["onnx-int8"]).stat().st_size
    assert not list(directory.glob("*.tmp.onnx"))


def test_int8_export_stops_at_the_first_count_that_passes(tiny_model_dir, tmp_path):
    from cur_nlp.backends.export import export_onnx

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    entries = export_onnx(directory, quantize=True, texts=SAMPLE_TEXTS, check_bf16=False, fp32_node_counts=(0, 2),
                          min_agreement=0.0, max_f1_drop=1.0)
    quantization = entries["onnx-int8"]["quantization"]
    assert entries["onnx-int8"]["passed"] is True
    assert [t["fp32_nodes"] for t in quantization["tries"]] == [0]
    assert quantization["fp32_nodes"] == [] and "node_sensitivity" not in quantization


def test_mixed_int8_with_every_node_in_fp32_is_the_fp32_graph(exported_dir, tmp_path):
    from cur_nlp.backends import load_word_embeddings
    from cur_nlp.backends.export import MixedInt8, _run_pooled, weight_nodes

    fp32 = exported_dir / ONNX_FILES["onnx"]
    table = load_word_embeddings(exported_dir).astype(np.float32)
    batches = [np.array([[0, 5, 9, 14, 2]]), np.array([[0, 7, 3, 2]])]
    mixed = MixedInt8(fp32, table, batches)
    target = tmp_path / "mixed.onnx"
    assert mixed.write(target, 1000) == mixed.ranked_nodes() and len(mixed.kept) == len(weight_nodes(fp32))
    np.testing.assert_allclose(_run_pooled(target, table, batches), _run_pooled(fp32, table, batches), atol=1e-6)
    mixed.write(target, 0)
    assert mixed.kept == [] and target.stat().st_size < fp32.stat().st_size


def test_onnx_vectors_match_torch(exported_dir):
    torch_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="torch")
    onnx_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx")
    assert isinstance(onnx_clf.backend, OnnxBackend) and isinstance(onnx_clf.backend, EncoderBackend)
    a, _ = torch_clf.embed(SAMPLE_TEXTS)
    b, _ = onnx_clf.embed(SAMPLE_TEXTS)
    np.testing.assert_allclose(a, b, atol=1e-4, rtol=1e-3)
    for p, q in zip(torch_clf.predict(SAMPLE_TEXTS), onnx_clf.predict(SAMPLE_TEXTS)):
        assert {h: v.label for h, v in p.heads.items()} == {h: v.label for h, v in q.heads.items()}


def test_onnx_classifier_runs_without_torch_or_transformers(exported_dir):
    """The ONNX backends read the heads, word embeddings and tokenizer without torch: a fresh interpreter that
    classifies with them never imports torch or transformers (the cold-start saving of these backends)."""
    import subprocess

    script = (
        "import sys, json\n"
        "from cur_nlp.classifier import ComplaintClassifier\n"
        f"clf = ComplaintClassifier.from_pretrained({str(exported_dir)!r}, backend='onnx-int8')\n"
        f"labels = [p.topic.label for p in clf.predict({SAMPLE_TEXTS[:3]!r} + [''])[:3]]\n"
        "print(json.dumps({'model': clf.model is None, 'torch': 'torch' in sys.modules,\n"
        "                  'transformers': 'transformers' in sys.modules, 'labels': labels}))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    in_process = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx-int8")
    assert seen == {"model": True, "torch": False, "transformers": False,
                    "labels": [p.topic.label for p in in_process.predict(SAMPLE_TEXTS[:3])]}


def test_numpy_heads_match_the_torch_heads(exported_dir):
    torch_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="torch")
    onnx_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx")
    vectors = np.random.default_rng(0).normal(size=(5, torch_clf.heads.hidden_size)).astype(np.float32)
    with torch.inference_mode():
        expected = {k: v.numpy() for k, v in torch_clf.model.eval().classify(torch.from_numpy(vectors)).items()}
    for clf in (torch_clf, onnx_clf):
        got = clf.heads.logits(vectors)
        assert set(got) == set(expected)
        for name in expected:
            np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5)


def test_int8_vectors_are_close(exported_dir):
    torch_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="torch")
    int8 = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx-int8")
    assert min_cosine(torch_clf, int8) > 0.95


def test_dynamic_batch_and_sequence(exported_dir):
    backend = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx").backend
    for batch, width in ((1, 3), (5, 17), (2, 32)):
        ids = np.full((batch, width), 5, dtype=np.int64)
        mask = np.ones_like(ids)
        mask[0, width // 2 :] = 0
        assert backend.embed(ids, mask).shape == (batch, 32)


def test_padding_does_not_change_vectors(exported_dir):
    clf = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx")
    alone = np.concatenate([clf.embed([t])[0] for t in SAMPLE_TEXTS])
    batched, _ = clf.embed(SAMPLE_TEXTS)
    np.testing.assert_allclose(alone, batched, atol=1e-5)


def test_bf16_vectors_are_close(exported_dir):
    torch_clf = ComplaintClassifier.from_pretrained(exported_dir, backend="torch")
    bf16 = ComplaintClassifier.from_pretrained(exported_dir, backend="torch-bf16")
    assert isinstance(bf16.backend, TorchBf16Backend)
    assert bf16.embed(SAMPLE_TEXTS)[0].dtype == np.float32
    assert min_cosine(torch_clf, bf16) > 0.99
    # the bf16 classifier loads its encoder in bf16 (no fp32 copy kept); a bf16 backend made from an fp32
    # model leaves that model as it is
    assert next(bf16.backend.encoder.parameters()).dtype == torch.bfloat16
    copied = TorchBf16Backend.from_model(torch_clf.model)
    assert copied.implementation == "transformers" and copied.encoder.encoder is not torch_clf.model.encoder
    assert next(torch_clf.model.encoder.parameters()).dtype == torch.float32
    np.testing.assert_allclose(copied.embed(*padded_batch(bf16)), bf16.backend.embed(*padded_batch(bf16)), atol=2e-2)


def test_bf16_pads_batches_to_a_multiple_of_16_without_changing_vectors(exported_dir):
    bf16 = ComplaintClassifier.from_pretrained(exported_dir, backend="torch-bf16")
    limit = bf16.config.max_length
    assert [bf16._padded_width(w) for w in (1, 16, 17)] == [16, 16, 32]
    assert bf16._padded_width(limit - 1) <= limit and bf16._padded_width(limit) == limit
    assert ComplaintClassifier.from_pretrained(exported_dir, backend="torch")._padded_width(17) == 17
    alone = np.concatenate([bf16.embed([t])[0] for t in SAMPLE_TEXTS])
    batched, _ = bf16.embed(SAMPLE_TEXTS)
    cosine = (alone * batched).sum(1) / np.linalg.norm(alone, axis=1) / np.linalg.norm(batched, axis=1)
    assert cosine.min() > 0.99  # bf16 rounding differs with the width; a masking error would not stay this close


def test_auto_prefers_bf16_only_on_native_bf16(exported_dir, monkeypatch):
    _set_passed(exported_dir, {"onnx": True, "onnx-int8": True, "onnx-int8-checked": False, "torch-bf16": True})
    assert ComplaintClassifier.from_pretrained(exported_dir).backend.name == "onnx-int8"
    monkeypatch.setattr(backends, "native_bf16", lambda: True)
    assert ComplaintClassifier.from_pretrained(exported_dir).backend.name == "torch-bf16"
    _set_passed(exported_dir, {"torch-bf16": False})
    assert ComplaintClassifier.from_pretrained(exported_dir).backend.name == "onnx-int8"


def test_auto_picks_int8_when_checked(exported_dir):
    _set_passed(exported_dir, {"onnx": True, "onnx-int8": True, "onnx-int8-checked": False})
    assert ComplaintClassifier.from_pretrained(exported_dir).backend.name == "onnx-int8"
    _set_passed(exported_dir, {"onnx": True, "onnx-int8": False})
    assert ComplaintClassifier.from_pretrained(exported_dir).backend.name == "onnx"
    _set_passed(exported_dir, {"onnx": False, "onnx-int8": False})
    assert isinstance(ComplaintClassifier.from_pretrained(exported_dir).backend, TorchBackend)


def test_auto_falls_back_to_torch_without_onnxruntime(exported_dir, monkeypatch):
    _set_passed(exported_dir, {"onnx": True, "onnx-int8": True, "onnx-int8-checked": True})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    clf = ComplaintClassifier.from_pretrained(exported_dir)
    assert clf.backend.name == "torch"
    assert clf.predict(SAMPLE_TEXTS[:2])[0].heads["topic"].label
    with pytest.raises(ImportError, match="onnxruntime"):
        ComplaintClassifier.from_pretrained(exported_dir, backend="onnx-int8")


def test_auto_falls_back_to_torch_without_file(exported_dir, tmp_path):
    directory = tmp_path / "model"
    shutil.copytree(exported_dir, directory)
    _set_passed(directory, {"onnx": True, "onnx-int8": True})
    (directory / ONNX_FILES["onnx-int8"]).unlink()
    (directory / ONNX_FILES["onnx"]).unlink()
    assert ComplaintClassifier.from_pretrained(directory).backend.name == "torch"
    with pytest.raises(FileNotFoundError, match="export-onnx"):
        ComplaintClassifier.from_pretrained(directory, backend="onnx")


def test_model_without_export_uses_torch(tiny_model_dir):
    assert ComplaintClassifier.from_pretrained(tiny_model_dir).backend.name == "torch"


def test_unknown_backend_is_rejected(tiny_model_dir):
    with pytest.raises(ValueError, match="backend must be one of"):
        ComplaintClassifier.from_pretrained(tiny_model_dir, backend="tensorrt")


def test_cli_export_onnx(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from cur_nlp.cli import app

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    texts = tmp_path / "texts.jsonl"
    texts.write_text("\n".join(json.dumps({"text": t, "topic": "housing"}, ensure_ascii=False) for t in SAMPLE_TEXTS))
    result = CliRunner().invoke(app, ["export-onnx", str(directory), "--no-quantize", "--texts", str(texts)])
    assert result.exit_code == 0, result.output
    assert set(_recorded(directory)) == {"onnx"}
    assert "onnx: encoder.onnx" in result.output
    assert _recorded(directory)["onnx"]["check"]["topic_macro_f1"]["n"] == len(SAMPLE_TEXTS)


def test_cli_export_onnx_fp32_nodes(tiny_model_dir, tmp_path):
    from typer.testing import CliRunner

    from cur_nlp.cli import app

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    result = CliRunner().invoke(app, ["export-onnx", str(directory), "--fp32-nodes", "0"])
    assert result.exit_code == 0, result.output
    assert [t["fp32_nodes"] for t in _recorded(directory)["onnx-int8"]["quantization"]["tries"]] == [0]
    result = CliRunner().invoke(app, ["export-onnx", str(directory), "--fp32-nodes", "4,x"])
    assert result.exit_code != 0 and "--fp32-nodes" in result.output


def test_onnx_splits_large_batches_without_changing_vectors(exported_dir):
    clf = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx")
    clf.backend.rows_per_run = None
    whole, _ = clf.embed(SAMPLE_TEXTS)
    clf.backend.rows_per_run = 3
    split, _ = clf.embed(SAMPLE_TEXTS)
    np.testing.assert_allclose(whole, split, atol=1e-5)


def test_no_onnx_records_only_bf16_and_removes_files(exported_dir, tmp_path):
    from cur_nlp.backends.export import export_onnx

    directory = tmp_path / "model"
    shutil.copytree(exported_dir, directory)
    entries = export_onnx(directory, texts=SAMPLE_TEXTS, write_onnx=False, check_bf16=True)
    assert set(entries) == {"torch-bf16"} == set(_recorded(directory))
    assert not any((directory / f).exists() for f in ONNX_FILES.values())
    check = entries["torch-bf16"]["check"]
    assert set(check["agreement"]) == {"topic", "urgency", "fake"}
    # the tiny random model has near-tied logits, so one of its 8 labels may flip under bf16 rounding;
    # the vectors themselves must stay close
    assert check["min_cosine"] > 0.99


def test_keep_freed_memory_is_applied_on_glibc_and_can_be_turned_off(monkeypatch):
    import platform

    apply = backends.keep_freed_memory.__wrapped__  # the cached call may already have run in this process
    monkeypatch.setenv(backends.MALLOC_TUNING_ENV, "0")
    assert apply() is False
    monkeypatch.delenv(backends.MALLOC_TUNING_ENV)
    assert apply() is (platform.libc_ver()[0] == "glibc")
