"""The int8 study's own arithmetic (benchmarks/int8_granularity.py): per-row scales really are per row, and the
ONNX per-row graph computes what its numpy definition says."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("int8_granularity", ROOT / "benchmarks" / "int8_granularity.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _activations() -> np.ndarray:
    """Two sequences of 4 tokens, 16 channels; one token carries a value 60x larger than the rest."""
    x = np.random.default_rng(0).standard_normal((2, 4, 16)).astype(np.float32)
    x[0, 1, 3] = 60.0
    return x


def test_per_token_rounding_keeps_an_outlier_token_from_coarsening_the_others(study) -> None:
    x = torch.from_numpy(_activations())
    others = torch.ones(2, 4, dtype=torch.bool)
    others[0, 1] = False
    per_tensor = (study.ACTIVATION_RULES["per tensor, symmetric"](x) - x)[others].abs().max()
    per_token = (study.ACTIVATION_RULES["per token, symmetric"](x) - x)[others].abs().max()
    assert per_token < 0.02 < per_tensor  # per tensor, one step is 60/127 = 0.47 for every token
    for name in ("per token, zero point", "per tensor, zero point (ONNX Runtime dynamic)"):
        assert torch.allclose(study.ACTIVATION_RULES[name](x), x, atol=0.5)
    assert study.ACTIVATION_RULES["weights only (activations fp32)"] is None


def test_int8_weight_is_per_output_channel(study) -> None:
    weight = torch.randn(6, 16)
    weight[2] *= 100  # one output channel much larger: the others keep their own scale
    rounded = study.int8_weight(weight)
    steps = weight.abs().amax(1) / 127
    assert torch.all((rounded - weight).abs() <= steps[:, None] / 2 + 1e-6)


def test_onnx_per_row_graph_matches_its_definition(study, tmp_path) -> None:
    onnx = pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper

    x = _activations()
    weight = np.random.default_rng(1).standard_normal((16, 5)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"], name="proj/MatMul")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["b", "t", 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["b", "t", 5])],
        [numpy_helper.from_array(weight, "w")])
    source, target = tmp_path / "fp32.onnx", tmp_path / "rows.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=9), str(source))
    assert study.quantize_rows(source, target, ["proj/MatMul"]) == 1
    got = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"]).run(None, {"x": x})[0]

    row_scale = np.abs(x).max(-1, keepdims=True) / 127
    quantized = np.floor(x / row_scale + 128.5) - 128  # what the graph's Cast of v + 128.5 does
    column_scale = np.abs(weight).max(0) / 127
    expected = (quantized @ np.round(weight / column_scale)) * column_scale * row_scale
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-4)
    exact = x @ weight
    ordinary = np.ones(x.shape[:2], dtype=bool)
    ordinary[0, 1] = False
    assert np.abs(got - exact)[ordinary].max() < 0.05 * np.abs(exact)[ordinary].max()
