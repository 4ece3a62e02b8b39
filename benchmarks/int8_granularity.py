"""How fine must int8 be to keep this encoder's labels? A dev-only study for issue 6's int8 rule.

``cur-nlp export-onnx`` quantises activations per tensor (ONNX Runtime's dynamic int8), after SmoothQuant, and
keeps the most sensitive matmuls in fp32 until its dev check passes. This study asks whether a finer int8 would
pass without fp32 nodes. Two parts, both on the dev splits only (the test sets stay unseen for any new choice):

1. **Simulation in torch.** ``cur_nlp.bert`` runs the encoder in fp32 with every linear layer's weight rounded to
   int8 per output channel and its input rounded to int8 by one of several rules (per tensor or per token,
   symmetric or with a zero point; or not at all: weights-only int8). It reports, per source, topic agreement
   with fp32, changed labels and the topic macro-F1 difference, through the full ``predict_scores`` path
   (sparse heads and decisions included), and the same for the bf16 encoder, which passes the rule. This
   separates the error of int8 weights from that of int8 activations, whatever kernel would run them.
2. **ONNX Runtime, per row.** A real int8 graph: the fused fp32 graph's 36 MatMuls get per-row (per-token)
   activation scales, built from standard operators (``ReduceMax`` of ``Abs``, one ``Cast`` to uint8,
   ``MatMulIntegerToFloat``, one ``Mul`` by the row scales); the attention QKV products and embedding lookups stay
   fp32 (the fused attention operator takes per-tensor int8 only). It is checked with the export's own check on
   the export's dev texts, and ``embed`` (batched, as ``predict`` runs it) is timed against all-per-tensor int8
   and fp32 on the same texts.

    python benchmarks/int8_granularity.py --model models/default --out reports/int8_granularity.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import tempfile
import time
import types
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

Rounding = Callable[[torch.Tensor], torch.Tensor]


def int8_weight(weight: torch.Tensor) -> torch.Tensor:
    """Symmetric int8 per output channel (as the export quantises weights), returned dequantised."""
    scale = weight.abs().amax(1, keepdim=True).clamp_min(1e-8) / 127
    return (weight / scale).round().clamp(-127, 127) * scale


def _symmetric(x: torch.Tensor, per_token: bool) -> torch.Tensor:
    peak = x.abs().amax(-1, keepdim=True) if per_token else x.abs().amax()
    scale = peak.clamp_min(1e-8) / 127
    return (x / scale).round().clamp(-127, 127) * scale


def _with_zero_point(x: torch.Tensor, per_token: bool) -> torch.Tensor:
    """uint8 with a zero point, the range stretched to include 0 (as ONNX Runtime's ``DynamicQuantizeLinear``)."""
    low = (x.amin(-1, keepdim=True) if per_token else x.amin()).clamp(max=0)
    high = (x.amax(-1, keepdim=True) if per_token else x.amax()).clamp(min=0)
    scale = ((high - low) / 255).clamp_min(1e-8)
    zero = (-low / scale).round()
    return ((x / scale).round() + zero).clamp(0, 255).sub(zero) * scale


ACTIVATION_RULES: dict[str, Rounding | None] = {
    "weights only (activations fp32)": None,
    "per tensor, symmetric": lambda x: _symmetric(x, False),
    "per tensor, zero point (ONNX Runtime dynamic)": lambda x: _with_zero_point(x, False),
    "per token, symmetric": lambda x: _symmetric(x, True),
    "per token, zero point": lambda x: _with_zero_point(x, True),
}


@contextlib.contextmanager
def fake_int8(rounding: Rounding | None) -> Iterator[None]:
    """Within the block, every ``F.linear`` of ``cur_nlp.bert`` runs with int8-rounded weights and inputs."""
    from cur_nlp import bert

    weights: dict[int, torch.Tensor] = {}

    def linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
        if id(weight) not in weights:
            weights[id(weight)] = int8_weight(weight)
        return F.linear(x if rounding is None else rounding(x), weights[id(weight)], bias)

    original = bert.F
    bert.F = types.SimpleNamespace(**{**{k: getattr(F, k) for k in dir(F) if not k.startswith("__")}, "linear": linear})
    try:
        yield
    finally:
        bert.F = original


def simulate(model: Path, data: Path, sources: Sequence[str]) -> dict:
    """Part 1: every rule of ``ACTIVATION_RULES`` against fp32 on the dev split of each source."""
    import datasets

    from cur_nlp.backends.export import macro_f1
    from cur_nlp.bert import BertEncoder
    from cur_nlp.classifier import ComplaintClassifier, decide

    classifier = ComplaintClassifier.from_pretrained(model, backend="torch-bf16")
    classifier.backend.encoder = BertEncoder.from_model_dir(model, torch.float32)  # fp32: equal to transformers'
    head = classifier.config.head("topic")
    dev = {s: datasets.load_from_disk(str(data / s))["dev"] for s in sources}

    def labels() -> dict[str, np.ndarray]:
        return {s: decide(head, classifier.predict_scores(list(d["text"]))["topic"]) for s, d in dev.items()}

    reference = labels()
    labelled = {s: [i for i, g in enumerate(d["topic"]) if g in head.labels] for s, d in dev.items()}
    gold = {s: np.array([head.labels.index(dev[s]["topic"][i]) for i in rows]) for s, rows in labelled.items()}
    results: dict = {}

    def record(name: str, got: dict[str, np.ndarray]) -> None:
        results[name] = {}
        for source, keep in labelled.items():
            ref, new = reference[source], got[source]
            results[name][source] = {
                "posts": len(ref), "agreement": round(float(np.mean(ref == new)), 4),
                "changed": int(np.sum(ref != new)),
                "topic_macro_f1_diff_pt": round(100 * (macro_f1(gold[source], new[keep])
                                                        - macro_f1(gold[source], ref[keep])), 2),
            }
        print(f"{name:48s} " + " | ".join(f"{s}: agree {r['agreement']:.4f}, {r['changed']} changed, "
                                          f"{r['topic_macro_f1_diff_pt']:+.2f} pt" for s, r in results[name].items()),
              flush=True)

    for name, rounding in ACTIVATION_RULES.items():
        with fake_int8(rounding):
            record(name, labels())
    classifier.backend.encoder = BertEncoder.from_model_dir(model, torch.bfloat16)
    record("bf16 (what torch-bf16 runs; for comparison)", labels())
    return results


def quantize_rows(source: Path, target: Path, nodes: Sequence[str]) -> int:
    """Replace each MatMul of ``nodes`` whose second input is a stored weight by per-row int8: the input's rows
    are scaled to 127 by their own largest magnitude and shifted by 128 into uint8, the weight is int8 per
    output column, ``MatMulIntegerToFloat`` applies the column scales and one ``Mul`` the row scales. Returns the
    number of nodes replaced."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    model = onnx.load(str(source))
    graph = model.graph
    weights = {i.name: i for i in graph.initializer}
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    shared = {"rows_inv127": np.array(1 / 127, np.float32), "rows_eps": np.array(1e-8, np.float32),
              "rows_shift": np.array(128.5, np.float32), "rows_zero": np.array(128, np.uint8),
              "rows_one": np.array(1.0, np.float32), "rows_weight_zero": np.array(0, np.int8),
              "rows_axes": np.array([-1], np.int64)}
    graph.initializer.extend(numpy_helper.from_array(value, name) for name, value in shared.items())
    wanted, nodes_out, replaced = set(nodes), [], 0
    for node in graph.node:
        if node.name not in wanted or node.op_type != "MatMul" or node.input[1] not in weights:
            nodes_out.append(node)
            continue
        x, p = node.input[0], node.name
        weight = numpy_helper.to_array(weights[node.input[1]]).astype(np.float32)
        column_scale = (np.maximum(np.abs(weight).max(0), 1e-8) / 127).astype(np.float32)
        graph.initializer.extend([
            numpy_helper.from_array(np.round(weight / column_scale).astype(np.int8), f"{p}_rows_weight"),
            numpy_helper.from_array(column_scale, f"{p}_rows_column_scale")])
        reduce_max = (helper.make_node("ReduceMax", [f"{p}_abs", "rows_axes"], [f"{p}_peak"], keepdims=1) if opset >= 18
                      else helper.make_node("ReduceMax", [f"{p}_abs"], [f"{p}_peak"], axes=[-1], keepdims=1))
        nodes_out += [
            helper.make_node("Abs", [x], [f"{p}_abs"]),
            reduce_max,
            helper.make_node("Mul", [f"{p}_peak", "rows_inv127"], [f"{p}_scale0"]),
            helper.make_node("Max", [f"{p}_scale0", "rows_eps"], [f"{p}_scale"]),
            helper.make_node("Reciprocal", [f"{p}_scale"], [f"{p}_inverse"]),
            helper.make_node("Mul", [x, f"{p}_inverse"], [f"{p}_scaled"]),
            helper.make_node("Add", [f"{p}_scaled", "rows_shift"], [f"{p}_shifted"]),
            # Cast truncates; v + 128.5 with |v| <= 127 is positive, so this rounds v + 128 to the nearest integer
            helper.make_node("Cast", [f"{p}_shifted"], [f"{p}_quantized"], to=TensorProto.UINT8),
            helper.make_node("MatMulIntegerToFloat", [f"{p}_quantized", f"{p}_rows_weight", "rows_one",
                                                      f"{p}_rows_column_scale", "rows_zero", "rows_weight_zero"],
                             [f"{p}_columns_scaled"], domain="com.microsoft", name=f"{p}_rows"),
            helper.make_node("Mul", [f"{p}_columns_scaled", f"{p}_scale"], [node.output[0]]),
        ]
        replaced += 1
    del graph.node[:]
    graph.node.extend(nodes_out)
    used = {name for node in graph.node for name in node.input}
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    onnx.save(model, str(target))
    return replaced


def onnx_per_row(model: Path, data: Path, max_texts: int, timing_texts: int) -> dict:
    """Part 2: the per-row graph through the export's dev check, and encoder time against per-tensor int8 and fp32."""
    from cur_nlp.backends.export import check_backend, export_onnx, prepared_check_texts, quantize_int8, weight_nodes
    from cur_nlp.classifier import ComplaintClassifier

    work = Path(tempfile.mkdtemp(prefix="cur_nlp_int8_rows_"))
    try:
        directory = work / "model"
        shutil.copytree(model, directory)
        texts, topics = prepared_check_texts(data, "dev", max_texts)
        export_onnx(directory, quantize=False, keep_fp32=True, texts=texts[:64], check_bf16=False)
        fp32, int8 = directory / "encoder.onnx", directory / "encoder.int8.onnx"
        nodes = weight_nodes(fp32)
        matmuls = [n for n in nodes if n.endswith("MatMul")]
        kept_fp32 = [n for n in nodes if n not in matmuls]  # fused attention, embedding lookups
        rows_graph, rows_file, per_tensor = work / "rows.onnx", work / "rows.int8.onnx", work / "per_tensor.onnx"
        replaced = quantize_rows(fp32, rows_graph, matmuls)
        quantize_int8(rows_graph, rows_file, exclude=kept_fp32)
        quantize_int8(fp32, per_tensor)
        shutil.copyfile(rows_file, int8)  # the backend reads encoder.int8.onnx
        reference = ComplaintClassifier.from_pretrained(directory, backend="torch")
        check = check_backend(directory, "onnx-int8", texts, topics, reference)
        f1 = check["topic_macro_f1"]
        timed = texts[:timing_texts]
        seconds = {}
        variants = (("fp32", "onnx", None),
                    ("int8 per tensor, all nodes, no smoothing", "onnx-int8", per_tensor),
                    ("int8 per row", "onnx-int8", rows_file))
        for name, backend, path in variants:
            if path is not None:
                shutil.copyfile(path, int8)
            classifier = ComplaintClassifier.from_pretrained(directory, backend=backend)
            classifier.embed(timed[:64])
            started = time.perf_counter()
            classifier.embed(timed)
            seconds[name] = time.perf_counter() - started
        result = {
            "nodes_per_row": replaced, "nodes_fp32": kept_fp32,
            "file_mb": round(rows_file.stat().st_size / 1e6, 1), "dev_texts": check["n_texts"],
            "agreement": {k: round(v, 4) for k, v in check["agreement"].items()},
            "min_cosine": round(check["min_cosine"], 4),
            "topic_macro_f1_diff_pt": round(100 * (f1["onnx-int8"] - f1["torch"]), 2),
            "topic_accuracy_diff_pt": round(100 * (f1["accuracy"] - f1["accuracy_torch"]), 2),
            "embed_texts_per_s": {k: round(len(timed) / v, 1) for k, v in seconds.items()},
            "timing_texts": len(timed),
        }
        print(json.dumps(result, ensure_ascii=False, indent=1), flush=True)
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=Path("models/default"))
    parser.add_argument("--data", type=Path, default=Path("artifacts/data"))
    parser.add_argument("--sources", nargs="+", default=["spb", "kursk"], help="Prepared sources with topic labels.")
    parser.add_argument("--max-texts", type=int, default=4000, help="Dev texts of the ONNX check (as the export).")
    parser.add_argument("--timing-texts", type=int, default=1000, help="Dev texts embedded per timed graph.")
    parser.add_argument("--no-onnx", action="store_true", help="Only the torch simulation.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    from cur_nlp.backends import physical_cores

    torch.set_num_threads(physical_cores())
    report = {"split": "dev", "simulation": simulate(args.model, args.data, args.sources)}
    if not args.no_onnx:
        report["onnx_per_row"] = onnx_per_row(args.model, args.data, args.max_texts, args.timing_texts)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
