"""Speed and accuracy of cur_nlp's encoder backends on real SPb/Kursk test posts (issue 6).

One run, the same texts for every variant::

    .venv/bin/python benchmarks/speed.py --model models/default --out reports/speed/speed.json

Variants: a naive ``transformers.pipeline("feature-extraction")`` at batch 1 on the same weights, torch fp32
batched, ONNX fp32, ONNX int8 (both exported into a temporary copy of the model directory, so the model
directory itself is never written), the full ``predict`` (three heads, registry) with and without geo
extraction, cold start in a fresh subprocess, peak RSS, sizes on disk, accuracy (topic macro-F1 per test
set, label agreement with torch), and the arithmetic limit: encoder FLOPs per post at the measured token
lengths against the matmul throughput these cores reach. Prints a table and writes JSON (``--out``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SOURCES = ("spb", "kursk")
SHIPPED_LIMIT_MB = 120.0


# ----------------------------------------------------------------------------------------------- inputs
def load_posts(data_dir: Path, sources: Sequence[str], limit: int | None, split: str = "test") -> list[dict[str, Any]]:
    """Posts of one split (test by default) of each source: ``{"text", "topic", "source"}`` (at most ``limit`` per
    source)."""
    from training.splits import load_prepared

    posts = []
    for source in sources:
        test = load_prepared(data_dir, source)[split]
        rows = range(len(test)) if limit is None else range(min(limit, len(test)))
        texts, topics = test["text"], test["topic"]
        posts += [{"text": texts[i], "topic": topics[i], "source": source} for i in rows]
    return posts


def warmup_texts(data_dir: Path, sources: Sequence[str], n: int) -> list[str]:
    """Dev posts (never the measured test posts) that warm the morphology caches of the geo stage first, as the
    traffic before any moment of a running service would."""
    from training.splits import load_prepared

    texts: list[str] = []
    for source in sources:
        texts += load_prepared(data_dir, source)["dev"]["text"]
    return texts[:n]


def clear_word_caches() -> None:
    """Empty the per-word caches of ``cur_nlp.geo`` (morphology parses, predicates; every ``lru_cache`` that
    holds more than a few entries), so that a timed run does not profit from words an earlier run parsed. The
    loaded models and gazetteers (one-entry caches) stay."""
    for name, module in list(sys.modules.items()):
        if not name.startswith("cur_nlp.geo"):
            continue
        for value in vars(module).values():
            info = getattr(value, "cache_info", None)
            if info is not None and (info().maxsize or 0) >= 1000:
                value.cache_clear()


def token_lengths(clf: Any, texts: Sequence[str]) -> np.ndarray:
    """Tokens per text as ``ComplaintClassifier.embed`` counts them (prefix, normalisation), before clipping
    to ``max_length`` (a value of ``max_length + 1`` means the text was truncated)."""
    cleaned = clf._prepare(texts)
    encoded = clf.tokenizer([clf.config.text_prefix + t for t in cleaned], truncation=True,
                            max_length=clf.config.max_length + 1)["input_ids"]
    return np.array([len(x) for x in encoded])


def padding_overhead(lengths: np.ndarray, batch_size: int, sort: bool) -> float:
    """Padded tokens / real tokens - 1 when batching ``batch_size`` texts (sorted by length or in input order)."""
    order = np.argsort(lengths, kind="stable") if sort else np.arange(len(lengths))
    padded = sum(int(lengths[order[s:s + batch_size]].max()) * len(order[s:s + batch_size])
                 for s in range(0, len(order), batch_size))
    return padded / int(lengths.sum()) - 1.0


# ----------------------------------------------------------------------------------------------- arithmetic
def encoder_flops(encoder_config: Any, tokens: float) -> float:
    """FLOPs of one sequence of ``tokens`` tokens through the encoder: 2 per multiply-add in the dense layers
    (Q, K, V, output, two FFN matrices) plus the attention products QK^T and AV; embeddings, LayerNorm,
    softmax and pooling are lower order and left out."""
    d, layers, ff = encoder_config.hidden_size, encoder_config.num_hidden_layers, encoder_config.intermediate_size
    dense = 2.0 * tokens * layers * (4 * d * d + 2 * d * ff)
    attention = 4.0 * layers * tokens * tokens * d
    return dense + attention


def _best_rate(fn: Callable[[], Any], flops: float, seconds: float = 1.5) -> float:
    """Best GFLOP/s of ``fn`` (doing ``flops``) over repeated calls for about ``seconds``."""
    fn()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        fn()
        best = max(best, flops / (time.perf_counter() - start) / 1e9)
    return best


def matmul_peaks(hidden: int, intermediate: int) -> dict[str, float]:
    """Matmul throughput of these cores (GFLOP/s; int8 as GOP/s): a large square fp32 product (numpy and
    torch), the encoder's own FFN shape in fp32 and bf16, and in int8 (``torch._int_mm``) where available."""
    import torch

    peaks: dict[str, float] = {}
    n = 2048
    a, b = np.random.rand(n, n).astype(np.float32), np.random.rand(n, n).astype(np.float32)
    peaks["numpy_fp32_2048"] = _best_rate(lambda: a @ b, 2.0 * n ** 3)
    ta, tb = torch.from_numpy(a), torch.from_numpy(b)
    peaks["torch_fp32_2048"] = _best_rate(lambda: ta @ tb, 2.0 * n ** 3)
    tokens = 64 * 48
    x, w = torch.randn(tokens, hidden), torch.randn(hidden, intermediate)
    peaks["torch_fp32_ffn_shape"] = _best_rate(lambda: x @ w, 2.0 * tokens * hidden * intermediate)
    xb, wb = x.to(torch.bfloat16), w.to(torch.bfloat16)
    peaks["torch_bf16_ffn_shape"] = _best_rate(lambda: xb @ wb, 2.0 * tokens * hidden * intermediate)
    try:
        xi = torch.randint(-127, 127, (tokens, hidden), dtype=torch.int8)
        wi = torch.randint(-127, 127, (hidden, intermediate), dtype=torch.int8)
        peaks["torch_int8_ffn_shape"] = _best_rate(lambda: torch._int_mm(xi, wi), 2.0 * tokens * hidden * intermediate)
    except (AttributeError, RuntimeError):
        pass
    return peaks


# ----------------------------------------------------------------------------------------------- accuracy
def topic_gold(clf: Any, posts: Sequence[dict], source: str) -> tuple[list[int], np.ndarray]:
    """Rows of ``source`` with a known topic, and their gold label indices."""
    labels = clf.config.head("topic").labels
    rows = [i for i, p in enumerate(posts) if p["source"] == source and p["topic"] in labels]
    return rows, np.array([labels.index(posts[i]["topic"]) for i in rows])


def topic_f1(clf: Any, scores: dict[str, np.ndarray], posts: Sequence[dict]) -> dict[str, float]:
    """Topic macro-F1 per source (classes present in gold or predictions, as the training evaluation)."""
    from cur_nlp.backends.export import macro_f1
    from cur_nlp.classifier import decide

    chosen = decide(clf.config.head("topic"), scores["topic"])
    result = {}
    for source in SOURCES:
        rows, gold = topic_gold(clf, posts, source)
        if rows:
            result[source] = macro_f1(gold, chosen[rows])
    return result


def topic_differences(clf: Any, reference: np.ndarray, chosen: np.ndarray, posts: Sequence[dict]) -> dict[str, Any]:
    """Per source: topic macro-F1 and accuracy of ``chosen`` minus those of ``reference`` (torch), with the
    paired-bootstrap 5-95% interval of the macro-F1 difference and the smallest class support."""
    from cur_nlp.backends.export import paired_bootstrap_f1

    result = {}
    for source in SOURCES:
        rows, gold = topic_gold(clf, posts, source)
        if rows:
            result[source] = {
                **paired_bootstrap_f1(gold, reference[rows], chosen[rows]),
                "accuracy_diff": float(np.mean(chosen[rows] == gold) - np.mean(reference[rows] == gold)),
                "n": len(rows), "smallest_class_support": int(np.bincount(gold)[np.bincount(gold) > 0].min()),
                "labels_changed": int(np.sum(chosen[rows] != reference[rows])),
            }
    return result


def decisions(clf: Any, scores: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Label index per head from calibrated probabilities."""
    from cur_nlp.classifier import decide

    return {h.name: decide(h, scores[h.name]) for h in clf.config.heads}


def agreement(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, float]:
    """Share of texts with the same label, per head."""
    return {name: float(np.mean(a[name] == b[name])) for name in a}


# ----------------------------------------------------------------------------------------------- variants
def run_batched(clf: Any, texts: Sequence[str], batch_size: int) -> tuple[dict[str, np.ndarray], float]:
    """``predict_scores`` over all texts (tokenise, encode, heads), after a one-batch warm-up; seconds."""
    clf.predict_scores(texts[:batch_size], batch_size)
    start = time.perf_counter()
    scores = clf.predict_scores(texts, batch_size)
    return scores, time.perf_counter() - start


def run_naive(clf: Any, texts: Sequence[str]) -> tuple[np.ndarray, float]:
    """``transformers.pipeline("feature-extraction")`` one text at a time on the same fp32 weights, mean
    pooling and the linear heads per text; returns pooled vectors and seconds."""
    import torch
    from transformers import AutoTokenizer, pipeline

    from cur_nlp.normalize import normalize_text

    tokenizer = AutoTokenizer.from_pretrained(str(clf.tokenizer.source), use_fast=True)
    pipe = pipeline("feature-extraction", model=clf.model.encoder, tokenizer=tokenizer)
    kwargs = {"truncation": True, "max_length": clf.config.max_length}

    def one(text: str) -> np.ndarray:
        features = pipe(clf.config.text_prefix + normalize_text(text), return_tensors=True, tokenize_kwargs=kwargs)
        pooled = features[0].mean(0, keepdim=True) if clf.config.pooling == "mean" else features[0][:1]
        with torch.inference_mode():
            clf.model.classify(pooled.float())
        return pooled.float().numpy()[0]

    one(texts[0])
    start = time.perf_counter()
    vectors = np.stack([one(t) for t in texts])
    return vectors, time.perf_counter() - start


def export_variants(model_dir: Path, work: Path, data_dir: Path, max_texts: int) -> tuple[Path, dict[str, Any]]:
    """Copy the model directory to ``work`` and export fp32 + int8 ONNX there, calibrated and checked on the
    same dev texts as ``cur-nlp export-onnx MODEL --data DATA``; a shipped ``encoder.int8.onnx`` replaces the
    re-exported one, so the shipped file is what gets measured."""
    from cur_nlp.backends.export import export_onnx, prepared_check_texts

    copy = work / "model"
    shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns("encoder.onnx", "encoder.int8.onnx", "eval"))
    texts, topics = prepared_check_texts(data_dir, "dev", max_texts)
    start = time.perf_counter()
    entries = export_onnx(copy, quantize=True, keep_fp32=True, texts=texts, topic_labels=topics)
    info: dict[str, Any] = {"seconds": time.perf_counter() - start, "entries": entries, "int8_file": "exported here"}
    shipped = model_dir / "encoder.int8.onnx"
    if shipped.exists():
        shutil.copy2(shipped, copy / "encoder.int8.onnx")
        info["int8_file"] = f"shipped {shipped}"
    return copy, info


COLD_CHILD = r"""
import json, sys, time
launched, path, backend, locate, texts_file, full = sys.argv[1:7]
t0 = time.time()
from cur_nlp.classifier import ComplaintClassifier
t1 = time.time()
clf = ComplaintClassifier.from_pretrained(path, backend=backend, locate=locate == "1")
t2 = time.time()
texts = json.load(open(texts_file, encoding="utf-8"))
clf.predict(texts[:1])
t3 = time.time()
out = {"backend": clf.backend.name, "to_interpreter": t0 - float(launched), "import": t1 - t0,
       "from_pretrained": t2 - t1, "first_prediction": t3 - t2, "cold_start": t3 - float(launched),
       "torch_imported": "torch" in sys.modules}
if full == "1":
    start = time.perf_counter()
    clf.predict(texts)
    out["full_predict_seconds"] = time.perf_counter() - start
# VmHWM is this process image's own peak (ru_maxrss would carry the parent's peak over fork + exec)
status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
out["peak_rss_mb"] = int(status["VmHWM"].split()[0]) / 1024
print(json.dumps(out))
"""


def cold_start(path: Path, backend: str, locate: bool, texts_file: Path, runs: int, threads: int) -> dict[str, Any]:
    """Fresh-interpreter timings (spawn to first prediction) ``runs`` times; the first run then predicts all
    texts and reports the process's peak RSS."""
    results = []
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for run in range(runs):
        launched = time.time()
        done = subprocess.run(
            [sys.executable, "-c", COLD_CHILD, repr(launched), str(path), backend, "1" if locate else "0",
             str(texts_file), "1" if run == 0 else "0"],
            capture_output=True, text=True, env=env, cwd=str(REPO), check=False)
        if done.returncode != 0:
            return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    colds = [r["cold_start"] for r in results]
    first = results[0]
    return {"backend": first["backend"], "locate": locate, "runs": results, "cold_start_median": statistics.median(colds),
            "cold_start_min": min(colds), "peak_rss_mb": first["peak_rss_mb"],
            "full_predict_seconds": first.get("full_predict_seconds")}


def dir_size(path: Path, exclude: Sequence[str] = ()) -> int:
    """Bytes of all files under ``path`` except those named in ``exclude``."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name not in exclude)


# ----------------------------------------------------------------------------------------------- report
def print_table(report: dict[str, Any]) -> None:
    """The side-by-side table on stdout."""
    rows = report["variants"]
    naive = next((r["texts_per_s"] for r in rows if r["name"].startswith("naive")), None)
    header = (f"{'variant':34} {'texts/s':>8} {'x naive':>8} {'F1 spb':>7} {'F1 krsk':>7} "
              f"{'agree topic/urg/fake':>22} {'GFLOP/s':>8} {'% fp32 peak':>11}")
    print(header)
    print("-" * len(header))
    for r in rows:
        f1 = r.get("topic_macro_f1") or {}
        agree = r.get("agreement_vs_torch") or {}
        agree_text = "/".join(f"{agree[k]:.4f}" for k in ("topic", "urgency", "fake") if k in agree) or "-"
        speedup = f"{r['texts_per_s'] / naive:.1f}" if naive else "-"
        gflops = f"{r['achieved_gflops']:.1f}" if r.get("achieved_gflops") else "-"
        share = f"{100 * r['share_of_fp32_peak']:.0f}%" if r.get("share_of_fp32_peak") else "-"
        print(f"{r['name']:34} {r['texts_per_s']:8.1f} {speedup:>8} {f1.get('spb', float('nan')):7.4f} "
              f"{f1.get('kursk', float('nan')):7.4f} {agree_text:>22} {gflops:>8} {share:>11}")
    for r in rows:
        for source, d in (r.get("topic_vs_torch") or {}).items():
            if r["name"].startswith("torch fp32"):
                continue
            print(f"  {r['name']:24} {source:6} topic macro-F1 {100 * d['diff']:+.2f} pt (bootstrap 5-95% "
                  f"{100 * d['p05']:+.2f}..{100 * d['p95']:+.2f}), accuracy {100 * d['accuracy_diff']:+.2f} pt, "
                  f"{d['labels_changed']} of {d['n']} labels changed, smallest class {d['smallest_class_support']}")
    a = report["arithmetic"]
    print(f"\ntokens/post mean {a['mean_tokens']:.1f} (median {a['median_tokens']:.0f}, p95 {a['p95_tokens']:.0f}); "
          f"padding overhead batch {report['batch_size']}: sorted {100 * a['padding_overhead_sorted']:.1f}% "
          f"vs unsorted {100 * a['padding_overhead_unsorted']:.1f}%")
    print(f"encoder FLOPs/post at mean length {a['gflops_per_post_at_mean'] :.3f} GFLOP; "
          f"matmul peaks (GFLOP/s): " + ", ".join(f"{k} {v:.0f}" for k, v in a["matmul_peaks"].items()))
    print(f"arithmetic limit (matmul peak / FLOPs per post): fp32 {a['limit_posts_per_s_fp32']:.0f} posts/s"
          + "".join(f", {p} {a[f'limit_posts_per_s_{p}']:.0f}" for p in ("bf16", "int8") if a.get(f"limit_posts_per_s_{p}")))
    if report.get("batch_sweep"):
        print("batch sweep (texts/s, encoder + heads): " + "; ".join(
            f"{name}: " + ", ".join(f"{b} {v:.0f}" for b, v in sweep.items()) for name, sweep in report["batch_sweep"].items()))
    for c in report["cold_start"]:
        if "error" in c:
            print(f"cold start {c['name']}: failed: {c['error']}")
        else:
            first = c["runs"][0]
            print(f"cold start {c['name']:24} ({c['backend']}): median {c['cold_start_median']:.2f} s "
                  f"(min {c['cold_start_min']:.2f}; import {first['import']:.2f}, load {first['from_pretrained']:.2f}, "
                  f"first prediction {first['first_prediction']:.2f}), peak RSS {c['peak_rss_mb']:.0f} MB")
    s = report["sizes"]
    print(f"model dir {s['model_dir_mb']:.1f} MB ({s['model_dir_without_onnx_mb']:.1f} MB without ONNX files; "
          f"{s['shipped_mb']:.1f} MB with the int8 ONNX; limit {SHIPPED_LIMIT_MB:.0f}); files: "
          + ", ".join(f"{k} {v:.1f}" for k, v in s["files_mb"].items()))
    if "student_dir_mb" in s:
        print(f"student dir {s['student_dir_mb']:.1f} MB")
    print(f"auto picks: {report['auto_backend_on_model_dir']} on {report['model']} as given, "
          f"{report['auto_backend_after_export']} after export-onnx with dev checks; int8 file: {report['export']['int8_file']}")
    before, after = report["load_average_before_after"]
    print(f"load average (1/5/15 min) before {before}, after {after}; {report['threads']} threads")


def markdown_table(report: dict[str, Any]) -> str:
    """The variants table in Markdown (for docs/speed.md)."""
    naive = next((r["texts_per_s"] for r in report["variants"] if r["name"].startswith("naive")), None)
    lines = ["| variant | texts/s | × naive | topic macro-F1 SPb | topic macro-F1 Kursk | agreement with torch "
             "(topic / urgency / fake) | useful GFLOP/s | share of fp32 matmul peak | share of own-precision peak |",
             "|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in report["variants"]:
        f1 = r.get("topic_macro_f1") or {}
        agree = r.get("agreement_vs_torch") or {}
        cells = [
            r["name"], f"{r['texts_per_s']:.1f}", f"{r['texts_per_s'] / naive:.1f}" if naive else "–",
            f"{f1['spb']:.4f}" if "spb" in f1 else "–", f"{f1['kursk']:.4f}" if "kursk" in f1 else "–",
            " / ".join(f"{agree[k]:.4f}" for k in ("topic", "urgency", "fake") if k in agree) or "–",
            f"{r['achieved_gflops']:.1f}" if r.get("achieved_gflops") else "–",
            f"{100 * r['share_of_fp32_peak']:.0f}%" if r.get("share_of_fp32_peak") else "–",
            f"{100 * r['share_of_own_precision_peak']:.0f}% ({r['precision']})" if r.get("share_of_own_precision_peak") else "–",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    """Run every measurement, print the table, write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=REPO / "models" / "default", help="model directory")
    parser.add_argument("--data", type=Path, default=REPO / "artifacts" / "data", help="prepared splits")
    parser.add_argument("--out", type=Path, default=None, help="JSON report path")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--limit", type=int, default=None, help="at most this many test posts per source")
    parser.add_argument("--naive-limit", type=int, default=1000, help="posts for the (slow) naive pipeline")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: physical cores")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table as Markdown here")
    parser.add_argument("--geo-warmup", type=int, default=3000,
                        help="dev posts predicted before the timed `predict` + geo run (warm morphology caches)")
    parser.add_argument("--student", type=Path, default=None, help="a distilled student model directory to compare")
    parser.add_argument("--sweep", type=int, default=1024, help="posts for the batch-size sweep (0: none)")
    parser.add_argument("--export-texts", type=int, default=4000, help="dev texts for the export check")
    args = parser.parse_args(argv)

    import torch

    from cur_nlp.backends import malloc_tuning_wanted, native_bf16, physical_cores
    from cur_nlp.classifier import ComplaintClassifier

    threads = args.threads or physical_cores()
    torch.set_num_threads(threads)
    posts = load_posts(args.data, SOURCES, args.limit)
    texts = [p["text"] for p in posts]
    report: dict[str, Any] = {
        "model": str(args.model), "n_texts": len(texts), "per_source": {s: sum(p["source"] == s for p in posts) for s in SOURCES},
        "batch_size": args.batch_size, "threads": threads, "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(), "torch": torch.__version__, "variants": [], "cold_start": [],
        # whether the bf16 backend's allocator setting (cur_nlp.backends.keep_freed_memory) takes effect here
        "malloc_tuning": malloc_tuning_wanted(),
    }
    try:
        import onnxruntime

        report["onnxruntime"] = onnxruntime.__version__
    except ImportError:
        report["onnxruntime"] = None

    work = Path(tempfile.mkdtemp(prefix="cur_nlp_speed_"))
    try:
        load_before = os.getloadavg()
        exported, export_info = export_variants(args.model, work, args.data, args.export_texts)
        report["export"] = export_info
        torch_clf = ComplaintClassifier.from_pretrained(exported, backend="torch", num_threads=threads)
        enc_cfg = torch_clf.model.encoder.config

        # -- arithmetic
        raw_lengths = token_lengths(torch_clf, texts)
        lengths = np.minimum(raw_lengths, torch_clf.config.max_length)
        flops_each = np.array([encoder_flops(enc_cfg, int(n)) for n in lengths])
        peaks = matmul_peaks(enc_cfg.hidden_size, enc_cfg.intermediate_size)
        fp32_peak = max(v for k, v in peaks.items() if "fp32" in k)
        per_post = float(flops_each.mean())
        report["arithmetic"] = {
            "mean_tokens": float(lengths.mean()), "median_tokens": float(np.median(lengths)),
            "p95_tokens": float(np.percentile(lengths, 95)),
            "truncated_share": float(np.mean(raw_lengths > torch_clf.config.max_length)),
            "padding_overhead_sorted": padding_overhead(lengths, args.batch_size, True),
            "padding_overhead_unsorted": padding_overhead(lengths, args.batch_size, False),
            "gflops_per_post_at_mean": encoder_flops(enc_cfg, float(lengths.mean())) / 1e9,
            "gflops_per_post_mean_of_posts": per_post / 1e9,
            "encoder_params_excluding_embeddings": int(sum(
                p.numel() for n, p in torch_clf.model.encoder.named_parameters() if "embeddings" not in n)),
            "matmul_peaks": peaks, "fp32_peak_gflops": fp32_peak,
            "limit_posts_per_s_fp32": fp32_peak * 1e9 / per_post,
        }
        for precision in ("bf16", "int8"):
            if f"torch_{precision}_ffn_shape" in peaks:
                report["arithmetic"][f"limit_posts_per_s_{precision}"] = peaks[f"torch_{precision}_ffn_shape"] * 1e9 / per_post

        def add(name: str, seconds: float, n: int, scores: dict | None, reference: dict | None, clf: Any,
                flops: float | None, **extra: Any) -> dict:
            row = {"name": name, "texts_per_s": n / seconds, "seconds": seconds, "n": n, **extra}
            if scores is not None:
                row["topic_macro_f1"] = topic_f1(clf, scores, posts)
                if reference is not None:
                    chosen = decisions(clf, scores)
                    row["agreement_vs_torch"] = agreement(reference, chosen)
                    row["topic_vs_torch"] = topic_differences(clf, reference["topic"], chosen["topic"], posts)
            if flops is not None:
                row["achieved_gflops"] = flops / seconds / 1e9
                row["share_of_fp32_peak"] = row["achieved_gflops"] / fp32_peak
                precision = "int8" if "int8" in name else "bf16" if "bf16" in name else "fp32"
                own = {"fp32": fp32_peak, "bf16": peaks.get("torch_bf16_ffn_shape"),
                       "int8": peaks.get("torch_int8_ffn_shape")}[precision]
                if own:
                    row["precision"] = precision
                    row["share_of_own_precision_peak"] = row["achieved_gflops"] / own
            report["variants"].append(row)
            print(f"  {name}: {row['texts_per_s']:.1f} texts/s", file=sys.stderr)
            return row

        # -- naive pipeline, batch 1, same fp32 weights
        naive_n = min(args.naive_limit, len(texts))
        naive_vectors, naive_s = run_naive(torch_clf, texts[:naive_n])
        torch_vectors, _ = torch_clf.embed(texts[:naive_n])
        cosine = (naive_vectors * torch_vectors).sum(1) / (
            np.linalg.norm(naive_vectors, axis=1) * np.linalg.norm(torch_vectors, axis=1))
        add("naive pipeline (batch 1, fp32)", naive_s, naive_n, None, None, torch_clf, float(flops_each[:naive_n].sum()),
            min_cosine_vs_torch=float(cosine.min()))

        # -- encoder variants: predict_scores over all texts
        torch_scores, torch_s = run_batched(torch_clf, texts, args.batch_size)
        reference = decisions(torch_clf, torch_scores)
        add("torch fp32 batched", torch_s, len(texts), torch_scores, reference, torch_clf, float(flops_each.sum()))
        clfs = {"torch": torch_clf}
        names = ["onnx", "onnx-int8"] + (["torch-bf16"] if native_bf16() else [])
        for name in names:
            clf = ComplaintClassifier.from_pretrained(exported, backend=name, num_threads=threads)
            clfs[name] = clf
            scores, seconds = run_batched(clf, texts, args.batch_size)
            add(f"{name} batched", seconds, len(texts), scores, reference, clf, float(flops_each.sum()),
                implementation=getattr(clf.backend, "implementation", None))
        if "torch-bf16" in names and clfs["torch-bf16"].backend.implementation != "transformers":
            # the same bf16 weights through transformers' BertModel (what torch-bf16 ran before cur_nlp.bert)
            from cur_nlp.backends import TorchBf16Backend

            clf = ComplaintClassifier.from_pretrained(exported, backend="torch-bf16", num_threads=threads)
            clf.backend = TorchBf16Backend.from_model(torch_clf.model)
            scores, seconds = run_batched(clf, texts, args.batch_size)
            add("torch-bf16 (transformers encoder) batched", seconds, len(texts), scores, reference, clf,
                float(flops_each.sum()), implementation="transformers")
            del clf

        # -- batch size sweep of the fast backends on the first posts
        if args.sweep:
            sweep_texts = texts[: args.sweep]
            report["batch_sweep"] = {}
            for name in names[1:]:
                clf, rows = clfs[name], getattr(clfs[name].backend, "rows_per_run", None)
                if rows is not None:
                    clf.backend.rows_per_run = None  # the raw effect of the batch size
                report["batch_sweep"][name] = {}
                for size in (8, 16, 32, 64, 128):
                    _, seconds = run_batched(clf, sweep_texts, size)
                    report["batch_sweep"][name][size] = len(sweep_texts) / seconds
                if rows is not None:
                    clf.backend.rows_per_run = rows
                print(f"  sweep {name}: {report['batch_sweep'][name]}", file=sys.stderr)

        # -- what `auto` picks: on the model directory as given, and on the copy checked on dev texts above
        report["auto_backend_on_model_dir"] = ComplaintClassifier.from_pretrained(args.model).backend.name
        auto = ComplaintClassifier.from_pretrained(exported, num_threads=threads).backend.name
        report["auto_backend_after_export"] = auto

        # -- full predict (three heads + sparse heads + registry), with and without geo
        for backend_name in dict.fromkeys(["torch", "onnx-int8"] + names[2:] + [auto]):
            clf = clfs[backend_name]
            clf.predict(texts[: args.batch_size], args.batch_size)
            start = time.perf_counter()
            clf.predict(texts, args.batch_size)
            add(f"predict, {backend_name}, no geo", time.perf_counter() - start, len(texts), None, None, clf, None)
        warm = warmup_texts(args.data, SOURCES, args.geo_warmup)
        try:
            geo_clf = ComplaintClassifier.from_pretrained(exported, backend=auto, locate=True, num_threads=threads)
            geo_clf.predict(texts[: args.batch_size], args.batch_size)
            start = time.perf_counter()
            geo_clf.predict(texts, args.batch_size)
            add(f"predict, {auto}, + geo, first pass (cold morphology caches)", time.perf_counter() - start,
                len(texts), None, None, geo_clf, None)
            # the word caches are per process: empty them, so that only the dev posts warm them
            clear_word_caches()
            geo_clf.predict(warm, args.batch_size)
            start = time.perf_counter()
            geo_clf.predict(texts, args.batch_size)
            add(f"predict, {auto}, + geo (after {len(warm)} dev posts)", time.perf_counter() - start, len(texts),
                None, None, geo_clf, None)
            start = time.perf_counter()
            geo_clf.locator.locate_many(texts)
            add("geo locator alone (batched NER)", time.perf_counter() - start, len(texts), None, None, geo_clf, None)
            start = time.perf_counter()
            for text in texts:
                geo_clf.locator(text)
            add("geo locator alone (one text per call)", time.perf_counter() - start, len(texts), None, None,
                geo_clf, None)
            if auto != "onnx-int8":  # the torch-free backend (fastest cold start), same protocol
                int8_geo = ComplaintClassifier.from_pretrained(exported, backend="onnx-int8", locate=True,
                                                               num_threads=threads)
                clear_word_caches()
                int8_geo.predict(warm, args.batch_size)
                start = time.perf_counter()
                int8_geo.predict(texts, args.batch_size)
                add(f"predict, onnx-int8, + geo (after {len(warm)} dev posts)", time.perf_counter() - start,
                    len(texts), None, None, int8_geo, None)
                del int8_geo
            report["geo"] = {"available": True}
        except Exception as error:  # noqa: BLE001 - another team's module: report, do not fail the benchmark
            report["geo"] = {"available": False, "error": f"{type(error).__name__}: {error}"}
            print(f"  geo not available: {report['geo']['error']}", file=sys.stderr)

        # -- the distilled student (if given): encoder alone in fp32 and with `auto`, full predict with geo
        student_auto = None
        if args.student:
            for backend_name in ("torch", "auto"):
                clf = ComplaintClassifier.from_pretrained(args.student, backend=backend_name, num_threads=threads)
                if backend_name == "torch":  # an ONNX `auto` has no torch model to read the shape from
                    tag = f"student {clf.model.encoder.config.num_hidden_layers}l"
                    student_flops = float(sum(encoder_flops(clf.model.encoder.config, int(n)) for n in lengths))
                scores, seconds = run_batched(clf, texts, args.batch_size)
                add(f"{tag} {clf.backend.name} batched", seconds, len(texts), scores, reference, clf, student_flops)
            student_auto = clf.backend.name
            clf.predict(texts[: args.batch_size], args.batch_size)
            start = time.perf_counter()
            clf.predict(texts, args.batch_size)
            add(f"predict, {tag}, {student_auto}, no geo", time.perf_counter() - start, len(texts), None, None, clf, None)
            clf = ComplaintClassifier.from_pretrained(args.student, locate=True, num_threads=threads)
            clear_word_caches()
            clf.predict(warm, args.batch_size)
            start = time.perf_counter()
            clf.predict(texts, args.batch_size)
            add(f"predict, {tag}, {student_auto}, + geo (after {len(warm)} dev posts)", time.perf_counter() - start, len(texts), None, None, clf, None)
            report["student"] = {"model": str(args.student), "config": clf.config.extra.get("distillation", {})}

        # -- cold start and peak RSS in fresh interpreters
        texts_file = work / "texts.json"
        texts_file.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
        runs = [(exported, n, n, False) for n in dict.fromkeys(["torch", "onnx-int8", auto])] + [
            (exported, f"{n} + geo", n, True) for n in dict.fromkeys([auto, "onnx-int8"])]
        if args.student:
            runs += [(args.student, f"student, {student_auto}", "auto", False),
                     (args.student, f"student, {student_auto} + geo", "auto", True)]
        for path, name, backend, locate in runs:
            result = cold_start(path, backend, locate, texts_file, args.cold_runs, threads)
            report["cold_start"].append({"name": name, **result})
            print(f"  cold start {name}: {result.get('cold_start_median', result.get('error'))}", file=sys.stderr)

        # -- sizes on disk
        files = {p.name: p.stat().st_size for p in exported.iterdir() if p.is_file()}
        # what the model directory weighs with the int8 file added and no fp32 ONNX
        shipped = dir_size(args.model, exclude=("encoder.onnx", "encoder.int8.onnx")) + files["encoder.int8.onnx"]
        report["sizes"] = {
            "model_dir_mb": dir_size(args.model) / 1e6,
            "model_dir_without_onnx_mb": dir_size(args.model, exclude=("encoder.onnx", "encoder.int8.onnx")) / 1e6,
            "shipped_mb": shipped / 1e6,
            "files_mb": {k: v / 1e6 for k, v in sorted(files.items(), key=lambda kv: -kv[1]) if v > 1e5},
        }
        if args.student:
            report["sizes"]["student_dir_mb"] = dir_size(args.student) / 1e6
    finally:
        shutil.rmtree(work, ignore_errors=True)

    report["load_average_before_after"] = [load_before, os.getloadavg()]
    report["peak_rss_mb_benchmark_process"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print_table(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=float) + "\n", encoding="utf-8")
        print(f"\nwrote {args.out}")
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(markdown_table(report), encoding="utf-8")
    return report


if __name__ == "__main__":
    main()
