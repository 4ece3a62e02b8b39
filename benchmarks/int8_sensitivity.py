"""Which matmuls cost dynamic int8 its accuracy? The study for issue 6 behind ``MixedInt8`` in the export.

Exports the fp32 ONNX encoder of a model into a scratch copy, applies SmoothQuant (alpha 0.8, as
``cur-nlp export-onnx`` chose for the shipped model), then:

1. quantises one MatMul/Attention node at a time and records the drop of the mean cosine to the fp32 pooled vectors
   on held-out dev sequences (the node's sensitivity);
2. quantises everything except the ``k`` most sensitive nodes, for each ``--keep-fp32`` count, and reports the
   cosine, the file size, encoder speed and topic macro-F1 / accuracy on the SPb and Kursk test splits.

    python benchmarks/int8_sensitivity.py --model models/default --out reports/int8_sensitivity.json

The counts are not chosen here: picking one by its test score would leak the test sets. ``cur-nlp export-onnx``
picks it on dev (``cur_nlp.backends.export.MixedInt8``), as it picks the SmoothQuant strength.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="models/default")
    parser.add_argument("--data", default="artifacts/data")
    parser.add_argument("--keep-fp32", type=int, nargs="+", default=[0, 4, 8, 12, 16])
    parser.add_argument("--alpha", type=float, default=0.8)
    parser.add_argument("--dev-texts", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    import datasets
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from cur_nlp.backends import OnnxBackend, load_word_embeddings
    from cur_nlp.backends.export import (_cosines, _token_batches, activation_ranges, export_onnx, macro_f1,
                                         smooth_activations)
    from cur_nlp.classifier import ComplaintClassifier, load_tokenizer
    from cur_nlp.model_dir import ModelConfig

    work = Path(tempfile.mkdtemp(prefix="cur_nlp_int8_"))
    model_dir = work / "model"
    shutil.copytree(args.model, model_dir)
    dev = datasets.load_from_disk(f"{args.data}/spb")["dev"]["text"]
    export_onnx(model_dir, quantize=False, keep_fp32=True, texts=dev[:64], check_bf16=False)
    fp32 = model_dir / "encoder.onnx"
    table = load_word_embeddings(model_dir).astype(np.float32)
    batches = _token_batches(load_tokenizer(model_dir), ModelConfig.load(model_dir), dev[: args.dev_texts])
    calibration, selection = batches[0::2], batches[1::2]
    smoothed = work / "smoothed.onnx"
    smooth_activations(fp32, smoothed, activation_ranges(fp32, table, calibration), args.alpha)
    session = ort.InferenceSession(str(fp32), providers=["CPUExecutionProvider"])
    reference = np.concatenate([session.run(["pooled"], {"inputs_embeds": table[ids], "attention_mask": np.ones_like(ids)})[0]
                                for ids in selection])
    nodes = [n.name for n in onnx.load(str(smoothed)).graph.node if n.op_type in ("MatMul", "Attention")]

    def quantise(target: Path, exclude=(), only=None) -> float:
        quantize_dynamic(str(smoothed), str(target), weight_type=QuantType.QInt8, per_channel=True,
                         nodes_to_exclude=list(exclude), nodes_to_quantize=list(only) if only else None,
                         extra_options={"MatMulConstBOnly": True, "DefaultTensorType": TensorProto.FLOAT})
        return float(_cosines(target, table, selection, reference).mean())

    sensitivity = {n: 1.0 - quantise(work / "one.onnx", only=[n]) for n in nodes}
    order = sorted(sensitivity, key=sensitivity.get, reverse=True)
    print("most sensitive:", ", ".join(f"{n} {sensitivity[n]:.1e}" for n in order[:12]), flush=True)

    clf = ComplaintClassifier.from_pretrained(model_dir, backend="torch")
    tests = {s: datasets.load_from_disk(f"{args.data}/{s}")["test"] for s in ("spb", "kursk")}

    def evaluate() -> dict[str, dict[str, float]]:
        scores = {}
        for name, split in tests.items():
            keep = [i for i, topic in enumerate(split["topic"]) if topic]
            gold = np.array([split["topic"][i] for i in keep])
            pred = np.array([p.topic.label for p in clf.predict([split["text"][i] for i in keep])])
            scores[name] = {"macro_f1": round(macro_f1(gold, pred), 4), "accuracy": round(float((gold == pred).mean()), 4)}
        return scores

    texts = [t for split in tests.values() for t in split["text"]]
    rows = [{"variant": "torch fp32", **evaluate()}]
    for count in args.keep_fp32:
        path = work / f"int8_keep{count}.onnx"
        cosine = quantise(path, exclude=order[:count])
        clf.backend = OnnxBackend(path, table, name="onnx-int8")
        clf.embed(texts[:64])
        started = time.perf_counter()
        clf.embed(texts)
        speed = len(texts) / (time.perf_counter() - started)
        row = {"variant": f"int8, {count} most sensitive nodes in fp32", "kept_fp32": order[:count],
               "mean_cosine": round(cosine, 6), "mb": round(path.stat().st_size / 1e6, 1),
               "encoder_texts_per_s": round(speed, 1), **evaluate()}
        rows.append(row)
        print(f"keep {count:2d} in fp32: cosine {cosine:.5f}, {row['mb']} MB, {speed:.0f} texts/s, "
              f"SPb F1 {row['spb']['macro_f1']:.4f} acc {row['spb']['accuracy']:.4f}, "
              f"Kursk F1 {row['kursk']['macro_f1']:.4f} acc {row['kursk']['accuracy']:.4f}", flush=True)
    print(f"torch fp32: SPb F1 {rows[0]['spb']['macro_f1']:.4f}, Kursk F1 {rows[0]['kursk']['macro_f1']:.4f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"alpha": args.alpha, "sensitivity": sensitivity, "rows": rows}, indent=2,
                                       ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
