"""Quantisation-aware distillation (training.qat): its fake int8 against ONNX Runtime's own int8 arithmetic, and a
training run on a tiny random teacher (fast)."""

import json

import numpy as np
import pytest
import torch
import yaml
from torch import nn

from cur_nlp.classifier import ComplaintClassifier
from cur_nlp.encoder import MultiHeadModel
from cur_nlp.model_dir import ModelConfig
from training.config import TrainConfig
from training.qat import (
    FakeInt8Linear, QatConfig, compare, fake_int8_per_channel, fake_uint8_per_tensor, insert_fake_int8,
    quantised_linears, remove_fake_int8, train_quantization_aware,
)
from training.train import train

from test_train import _config


def _run(model, feeds: dict) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, feeds)[0]


def test_fake_uint8_equals_dynamic_quantize_linear():
    pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper

    x = torch.randn(3, 7, 16, generator=torch.Generator().manual_seed(0))
    x[1, 2, 5] = 40.0  # one outlier sets the scale of the whole tensor
    graph = helper.make_graph(
        [helper.make_node("DynamicQuantizeLinear", ["x"], ["q", "scale", "zero"]),
         helper.make_node("DequantizeLinear", ["q", "scale", "zero"], ["y"])],
        "dql", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    expected = _run(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), {"x": x.numpy()})
    np.testing.assert_allclose(fake_uint8_per_tensor(x).numpy(), expected, rtol=0, atol=1e-6)


def test_fake_int8_linear_equals_onnx_runtime_dynamic_int8(tmp_path):
    pytest.importorskip("onnxruntime")
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from cur_nlp.backends.export import quantize_int8

    generator = torch.Generator().manual_seed(1)
    linear = nn.Linear(16, 6, bias=False)
    with torch.no_grad():
        linear.weight.copy_(torch.randn(6, 16, generator=generator) * torch.linspace(0.1, 2.0, 6)[:, None])
    x = torch.randn(2, 5, 16, generator=generator)
    x[..., 3] *= 30  # an outlier channel, as after this encoder's LayerNorms
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="matmul")], "mm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [numpy_helper.from_array(linear.weight.detach().numpy().T.copy(), "w")])
    source, target = tmp_path / "mm.onnx", tmp_path / "mm.int8.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(source))
    quantize_int8(source, target)  # the export's own call: QInt8 per-channel weights, dynamic uint8 activations
    expected = _run(onnx.load(str(target)), {"x": x.numpy()})
    with torch.no_grad():
        got = FakeInt8Linear(linear, torch.ones(16))(x).numpy()
        exact = linear(x).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.abs(got - exact).max() > 1e-3  # and it is not the fp32 product


def test_rounding_passes_gradients_straight_through():
    weight = torch.randn(4, 8, requires_grad=True)
    x = torch.randn(3, 8, requires_grad=True)
    rounded = fake_int8_per_channel(weight)
    scale = weight.detach().abs().amax(1, keepdim=True) / 127
    assert torch.allclose(rounded / scale, (rounded / scale).round(), atol=1e-4)  # on the int8 grid
    (rounded.sum() + fake_uint8_per_tensor(x).sum()).backward()
    assert torch.equal(weight.grad, torch.ones_like(weight)) and torch.equal(x.grad, torch.ones_like(x))


def test_fake_int8_goes_in_and_comes_out_without_touching_the_weights(tiny_model_dir):
    model = MultiHeadModel.load(tiny_model_dir, ModelConfig.load(tiny_model_dir))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    groups = quantised_linears(model)
    assert len(groups) == 4 * len(model.encoder.encoder.layer) and len(groups[0]) == 3  # query, key, value share input
    ids, mask = torch.tensor([[2, 10, 11, 12, 3]]), torch.ones(1, 5, dtype=torch.long)
    with torch.no_grad():
        exact = model.embed(ids, mask)
        insert_fake_int8(model, [torch.ones(parent.__getattr__(name).in_features) for parent, name in
                                 (group[0] for group in groups)])
        rounded = model.embed(ids, mask)
        remove_fake_int8(model)
        again = model.embed(ids, mask)
    assert not torch.equal(rounded, exact) and torch.allclose(rounded, exact, atol=0.1 * exact.abs().max())
    assert torch.equal(again, exact)
    assert model.state_dict().keys() == before.keys()
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_quantization_aware_training_changes_only_the_encoder(tmp_path, tiny_encoder_dir):
    path = tmp_path / "cfg.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path, tiny_encoder_dir, "full"), allow_unicode=True))
    teacher_dir = train(TrainConfig.from_yaml(path))
    with pytest.raises(ValueError, match="must differ"):
        train_quantization_aware(QatConfig(teacher=str(teacher_dir), output_dir=str(teacher_dir)))
    out = train_quantization_aware(QatConfig(teacher=str(teacher_dir), output_dir=str(tmp_path / "qat"),
                                             batch_size=8, lr=1e-3, calibration_texts=8))
    student = ComplaintClassifier.from_pretrained(out)
    teacher = ComplaintClassifier.from_pretrained(teacher_dir)
    record = student.config.extra["quantization_aware"]
    assert record["train_texts"] == 24 and len(record["history"]) == 1 and record["smooth_alpha"] == 0.8
    assert student.config.name == "routing-qat-int8" and "backends" not in student.config.extra
    assert student.config.heads == teacher.config.heads
    new, old = student.model.state_dict(), teacher.model.state_dict()
    assert new.keys() == old.keys()
    frozen = [k for k in new if k.startswith(("heads.", "encoder.embeddings.word_embeddings."))]
    assert frozen and all(torch.equal(new[k], old[k]) for k in frozen)
    assert any(not torch.equal(new[k], old[k]) for k in new if ".layer." in k)
    assert (out / "tokenizer.json").exists() and not (out / "metrics.json").exists()


def test_compare_reports_agreement_and_topic_f1(tmp_path, tiny_model_dir):
    import datasets

    clf = ComplaintClassifier.from_pretrained(tiny_model_dir)
    texts = ["Яма на дороге у дома 5", "Нет горячей воды третий день", "Мусор не вывозят", "Автобус не пришёл"]
    topic = clf.config.head("topic").labels if "topic" in clf.head_names else None
    rows = {"text": texts, "topic": [topic[i % len(topic)] for i in range(4)] if topic else [None] * 4}
    datasets.DatasetDict({"dev": datasets.Dataset.from_dict(rows)}).save_to_disk(str(tmp_path / "data" / "spb"))
    report = compare(tiny_model_dir, tiny_model_dir, "torch", tmp_path / "data")
    assert report["spb"]["posts"] == 4 and set(report["spb"]["agreement"].values()) == {1.0}
    assert report["spb"]["vectors"]["relative_error"] == 0 and report["spb"]["vectors"]["mean_cosine"] == pytest.approx(1)
    if topic:
        assert report["spb"]["topic"]["labels_changed"] == 0 and report["spb"]["topic"]["diff_pt"]["diff"] == 0


def test_export_rounds_on_the_grid_the_model_was_trained_on(tmp_path, tiny_model_dir):
    """With the factors of quantisation-aware training in the model directory, the exported int8 file computes
    what the fake int8 computed during training (up to float summation order), not a grid of its own."""
    pytest.importorskip("onnxruntime")
    import shutil

    from cur_nlp.backends import load_word_embeddings
    from cur_nlp.backends.export import SMOOTHING_FILE, _run_pooled, export_onnx
    from cur_nlp.classifier import load_tokenizer
    from training.qat import activation_ranges, save_smoothing, smoothing_factors

    from conftest import SAMPLE_TEXTS

    directory = tmp_path / "model"
    shutil.copytree(tiny_model_dir, directory)
    config = ModelConfig.load(directory)
    model = MultiHeadModel.load(directory, config)
    tokenizer = load_tokenizer(directory)
    ids = [tokenizer(config.text_prefix + t)["input_ids"] for t in SAMPLE_TEXTS]
    factors = smoothing_factors(model, activation_ranges(model, ids, 0), 0.8)
    save_smoothing(directory, factors)
    export_onnx(directory, quantize=True, keep_fp32=True, texts=SAMPLE_TEXTS, check_bf16=False,
                fp32_node_counts=(0,))
    quantization = json.loads((directory / "config.json").read_text())["extra"]["backends"]["onnx-int8"]["quantization"]
    assert quantization["smooth_alpha"] == "trained" and list(quantization["mean_cosine_by_alpha"]) == ["trained"]

    batches = [np.asarray([x]) for x in ids]
    table = load_word_embeddings(directory)
    int8 = _run_pooled(directory / "encoder.int8.onnx", table, batches)
    fp32 = _run_pooled(directory / "encoder.onnx", table, batches)
    insert_fake_int8(model, factors)
    with torch.no_grad():
        emulated = np.concatenate([model.embed(torch.tensor(b), torch.ones(b.shape, dtype=torch.long)).numpy()
                                   for b in batches])
    rounding = np.linalg.norm(int8 - fp32)
    assert rounding > 1e-4
    assert np.linalg.norm(emulated - int8) < 0.1 * rounding

    (directory / SMOOTHING_FILE).unlink()
    save_smoothing(directory, factors[:-1])  # one node short: not this model's file
    with pytest.raises(ValueError, match="trained for this export"):
        export_onnx(directory, quantize=True, texts=SAMPLE_TEXTS, check_bf16=False, fp32_node_counts=(0,))
