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

from cur_nlp.batching import padded_width

from conftest import SAMPLE_TEXTS, min_cosine, padded_batch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def exported_dir(tiny_model_dir, tmp_path_factory):
    """A copy of the tiny model with fp32 and int8 ONNX files exported and checked on the sample texts."""
    from cur_nlp_training.export_onnx import export_onnx

    directory = tmp_path_factory.mktemp("exported") / "model"
    shutil.copytree(tiny_model_dir, directory)
    export_onnx(directory, quantize=True, keep_fp32=True, texts=SAMPLE_TEXTS * 2, check_bf16=True)
    return directory


@pytest.fixture
def selectable_dir(exported_dir, tmp_path):
    """A copy of the exported model whose recorded checks a test may change."""
    directory = tmp_path / "model"
    shutil.copytree(exported_dir, directory)
    return directory


def _recorded(directory) -> dict:
    return json.loads((directory / "config.json").read_text())["extra"]["backends"]


def _cpu_flags(monkeypatch, *flags: str) -> None:
    """Pretend the CPU has exactly these ``/proc/cpuinfo`` flags."""
    monkeypatch.setattr(backends.cpu, "cpu_flags", lambda: frozenset(flags))


@pytest.fixture(autouse=True)
def no_native_bf16(monkeypatch):
    """Selection tests do not depend on this machine's CPU: no native bf16 unless a test says so."""
    _cpu_flags(monkeypatch, "avx2")


def _set_passed(directory, passed: dict[str, bool]) -> None:
    data = json.loads((directory / "config.json").read_text())
    for name, value in passed.items():
        data["extra"]["backends"][name]["passed"] = value
    (directory / "config.json").write_text(json.dumps(data))


def test_export_writes_files_and_records_them(exported_dir):
    recorded = _recorded(exported_dir)
    assert set(recorded) == {"onnx", "onnx-int8", "torch-bf16"}
    for name, entry in recorded.items():
        assert set(entry["check"]["agreement"]) == {"topic", "urgency", "fake"}
        if name != "torch-bf16":
            assert entry["file"] == ONNX_FILES[name]
            assert (exported_dir / entry["file"]).stat().st_size == entry["bytes"]
    assert recorded["torch-bf16"]["file"] is None
    assert recorded["onnx-int8"]["quantization"] == {"type": "dynamic", "weights": "QInt8", "per_channel": True}
    assert recorded["onnx"]["passed"] is True
    assert recorded["onnx-int8"]["bytes"] < recorded["onnx"]["bytes"]


def test_export_without_fp32_records_only_existing_files(tiny_model_dir, tmp_path):
    from cur_nlp_training.export_onnx import export_onnx

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    entries = export_onnx(directory, quantize=True, texts=SAMPLE_TEXTS, check_bf16=False)
    assert set(entries) == {"onnx-int8"} == set(_recorded(directory))
    assert not (directory / ONNX_FILES["onnx"]).exists()
    assert (directory / ONNX_FILES["onnx-int8"]).exists()


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
    assert bf16.backend.width_multiple == 16
    assert [padded_width(w, 16, limit) for w in (1, 16, 17)] == [16, 16, 32]
    assert padded_width(limit - 1, 16, limit) <= limit and padded_width(limit, 16, limit) == limit
    assert getattr(ComplaintClassifier.from_pretrained(exported_dir, backend="torch").backend, "width_multiple", 1) == 1
    alone = np.concatenate([bf16.embed([t])[0] for t in SAMPLE_TEXTS])
    batched, _ = bf16.embed(SAMPLE_TEXTS)
    cosine = (alone * batched).sum(1) / np.linalg.norm(alone, axis=1) / np.linalg.norm(batched, axis=1)
    assert cosine.min() > 0.99  # bf16 rounding differs with the width; a masking error would not stay this close


@pytest.mark.parametrize("flag", ["amx_bf16", "avx512_bf16"])
def test_auto_prefers_bf16_on_amx_or_avx512_bf16_cpus(selectable_dir, monkeypatch, flag):
    _set_passed(selectable_dir, {"onnx": True, "onnx-int8": True, "torch-bf16": True})
    assert ComplaintClassifier.from_pretrained(selectable_dir).backend.name == "onnx-int8"
    _cpu_flags(monkeypatch, "avx2", flag)
    assert ComplaintClassifier.from_pretrained(selectable_dir).backend.name == "torch-bf16"
    chosen, candidates = backends.explain_auto(selectable_dir, ComplaintClassifier.from_pretrained(selectable_dir).config)
    assert chosen == "torch-bf16" and flag in candidates[0].reason
    _set_passed(selectable_dir, {"torch-bf16": False})
    assert ComplaintClassifier.from_pretrained(selectable_dir).backend.name == "onnx-int8"


def test_info_says_what_auto_picks_and_why(selectable_dir, monkeypatch):
    from typer.testing import CliRunner

    from cur_nlp.cli import app

    _set_passed(selectable_dir, {"onnx": False, "onnx-int8": False, "torch-bf16": True})
    result = CliRunner().invoke(app, ["info", "--model", str(selectable_dir)])
    assert result.exit_code == 0, result.output
    assert "backend auto: torch\n" in result.output and "the CPU has none of amx_bf16, avx512_bf16" in result.output
    assert "onnx-int8: skipped - its recorded check against torch fp32 failed" in result.output
    _cpu_flags(monkeypatch, "avx512_bf16")
    result = CliRunner().invoke(app, ["info", "--model", str(selectable_dir)])
    assert "backend auto: torch-bf16" in result.output and "CPU has avx512_bf16" in result.output


def test_auto_picks_int8_when_checked(selectable_dir):
    _set_passed(selectable_dir, {"onnx": True, "onnx-int8": True})
    assert ComplaintClassifier.from_pretrained(selectable_dir).backend.name == "onnx-int8"
    _set_passed(selectable_dir, {"onnx": True, "onnx-int8": False})
    assert ComplaintClassifier.from_pretrained(selectable_dir).backend.name == "onnx"
    _set_passed(selectable_dir, {"onnx": False, "onnx-int8": False})
    assert isinstance(ComplaintClassifier.from_pretrained(selectable_dir).backend, TorchBackend)


def test_auto_falls_back_to_torch_without_onnxruntime(selectable_dir, monkeypatch):
    _set_passed(selectable_dir, {"onnx": True, "onnx-int8": True})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails
    clf = ComplaintClassifier.from_pretrained(selectable_dir)
    assert clf.backend.name == "torch"
    assert clf.predict(SAMPLE_TEXTS[:2])[0].heads["topic"].label
    with pytest.raises(ImportError, match="onnxruntime"):
        ComplaintClassifier.from_pretrained(selectable_dir, backend="onnx-int8")


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

    from cur_nlp.cli import app, register_plugins

    register_plugins(app)
    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    result = CliRunner().invoke(app, ["export-onnx", str(directory), "--no-quantize"])
    assert result.exit_code == 0, result.output
    assert set(_recorded(directory)) == {"onnx"}
    assert "onnx: encoder.onnx" in result.output
    assert _recorded(directory)["onnx"]["check"]["texts"] == "built-in smoke set"


def test_onnx_splits_large_batches_without_changing_vectors(exported_dir):
    clf = ComplaintClassifier.from_pretrained(exported_dir, backend="onnx")
    clf.backend.rows_per_run = None
    whole, _ = clf.embed(SAMPLE_TEXTS)
    clf.backend.rows_per_run = 3
    split, _ = clf.embed(SAMPLE_TEXTS)
    np.testing.assert_allclose(whole, split, atol=1e-5)


def test_no_onnx_records_only_bf16_and_removes_files(exported_dir, tmp_path):
    from cur_nlp_training.export_onnx import export_onnx

    directory = tmp_path / "model"
    shutil.copytree(exported_dir, directory)
    entries = export_onnx(directory, texts=SAMPLE_TEXTS, write_onnx=False, check_bf16=True)
    assert set(entries) == {"torch-bf16"} == set(_recorded(directory))
    assert not any((directory / f).exists() for f in ONNX_FILES.values())
    check = entries["torch-bf16"].check
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
