"""The ``cur-nlp`` command line. Runtime commands live here; training commands import ``training`` lazily,
so the runtime library itself never depends on training code."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from cur_nlp.backends.export import DEFAULT_FP32_NODE_COUNTS

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="cur_nlp: topic, urgency, fake and places in citizens' posts (ЦУР).")
data_app = typer.Typer(no_args_is_help=True, help="Prepare the labelled data: loaders, dedup, splits, data card.")
app.add_typer(data_app, name="data")


def _setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def _training(module: str):
    import importlib

    try:
        return importlib.import_module(f"training.{module}")
    except ImportError as error:
        raise typer.BadParameter(
            f"this command needs the training extras and the repository's training/ package "
            f"(pip install -e '.[train]'): {error}"
        ) from error


@app.command()
def predict(
    input: str = typer.Argument(..., help="JSONL or CSV with a 'text' field (and optional 'id'); '-' for stdin."),
    output: str = typer.Option("-", "--output", "-o", help="Output JSONL/CSV path; '-' for stdout."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
    batch_size: int = typer.Option(64, help="Texts per model batch."),
    input_format: Optional[str] = typer.Option(None, "--input-format", help="jsonl or csv (default: from extension)."),
    output_format: Optional[str] = typer.Option(None, "--output-format", help="jsonl or csv (default: from extension)."),
    locate: bool = typer.Option(True, "--locate/--no-locate", help="Extract and geocode places."),
    chunk: int = typer.Option(512, help="Records read before each model call (memory bound for huge inputs)."),
    gazetteer: list[Path] = typer.Option([], "--gazetteer", "-g", help="Extra CSV/Parquet gazetteer (street registry); repeatable."),
    default_region: Optional[str] = typer.Option(None, help="Region assumed when a post names none."),
    default_city: Optional[str] = typer.Option(None, help="Settlement assumed for streets when a post names none."),
    backend: str = typer.Option("auto", help="Encoder backend: auto, torch, torch-bf16, onnx, onnx-int8, "
                                             "onnx-int8-checked (ONNX ones after `cur-nlp export-onnx`; onnx and "
                                             "onnx-int8 start without torch; onnx-int8-checked re-encodes posts near "
                                             "a decision boundary in fp32)."),
) -> None:
    """Classify posts: adds topic, urgency, fake (and locations) to every record, in input order.

    Bad lines are reported on stderr by line number and skipped; the exit code is 0 when all lines were
    classified, 3 when some were skipped.
    """
    from tqdm import tqdm

    from cur_nlp.backends import BACKEND_NAMES
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.io import RecordWriter, detect_format, open_input, open_output, read_records

    if backend not in BACKEND_NAMES:
        raise typer.BadParameter(f"one of {', '.join(BACKEND_NAMES)}; got {backend!r}", param_hint="--backend")
    _setup_logging()
    locator = False
    if locate:
        from cur_nlp.geo import Locator, TableGazetteer

        locator = Locator.default(*[TableGazetteer.from_file(p) for p in gazetteer],
                                  default_region=default_region, default_city=default_city)
    classifier = ComplaintClassifier.from_pretrained(model, locate=locator, backend=backend)
    in_fmt = detect_format(input, input_format)
    out_fmt = detect_format(output, output_format)
    skipped = written = 0
    with open_input(input) as source:
        out = open_output(output)
        writer = RecordWriter(out, out_fmt, tuple(classifier.head_names))
        batch: list[dict] = []

        def flush() -> None:
            nonlocal written
            predictions = classifier.predict([r["text"] for r in batch], batch_size=batch_size)
            for record, prediction in zip(batch, predictions):
                writer.write({**record, **prediction.to_dict()})
            written += len(batch)
            batch.clear()

        progress = tqdm(read_records(source, in_fmt), unit=" lines", disable=not sys.stderr.isatty(), file=sys.stderr)
        for line, record, problem in progress:
            if problem is not None:
                skipped += 1
                typer.echo(f"{input}:{problem.line}: skipped: {problem.message}", err=True)
                continue
            batch.append(record)
            if len(batch) >= chunk:
                flush()
        if batch:
            flush()
        if out is not sys.stdout:
            out.close()
    typer.echo(f"classified {written} records, skipped {skipped} bad lines", err=True)
    raise typer.Exit(3 if skipped else 0)


@app.command()
def labels(model: Optional[Path] = typer.Option(None, help="Show the labels of this model directory instead.")) -> None:
    """Print the label sets (topics and urgency levels with their definitions) as JSON."""
    from cur_nlp.labels import load_topics, load_urgency_levels

    if model:
        from cur_nlp.model_dir import ModelConfig

        config = ModelConfig.load(model)
        typer.echo(json.dumps({h.name: h.labels for h in config.heads}, ensure_ascii=False, indent=2))
        return
    data = {
        "topic": [t.__dict__ for t in load_topics()],
        "urgency": [u.__dict__ for u in load_urgency_levels()],
        "fake": [{"id": True, "description": "presents a false or fabricated claim as fact"},
                 {"id": False, "description": "no false claim presented as fact"}],
    }
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


@data_app.command("prepare")
def data_prepare(
    out: Path = typer.Option(Path("artifacts/data"), help="Where to save the splits (datasets format)."),
    card: Path = typer.Option(Path("reports/data_card.md"), help="Where to write the data card (Markdown)."),
) -> None:
    """Load every source from ../shared/data, deduplicate, split, save, and print the data card."""
    splits = _training("splits")
    data_card = _training("data_card")
    prepared = splits.prepare_all(out)
    text = data_card.data_card(prepared)
    evaluate = _training("evaluate")
    if evaluate.GOLD_FILE.exists():
        text += data_card.gold_card(evaluate.load_gold())
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(text, encoding="utf-8")
    typer.echo(text)


@app.command()
def train(config: Path = typer.Option(..., "--config", "-c", help="Training config YAML (training/configs/).")) -> None:
    """Train a model from a typed YAML config (full fine-tuning or fast heads-only mode), then evaluate it.

    The recipe: train (best dev epoch kept) → optional sparse n-gram heads → calibration and decisions on dev →
    registry threshold → evaluation report (metrics.json, eval/report.md) → model card (README.md).
    """
    _setup_logging()
    cfg = _training("config").TrainConfig.from_yaml(config)
    out = _training("pipeline").run(cfg)
    typer.echo(f"model written to {out}")


@app.command()
def baseline(
    config: Path = typer.Option(Path("training/configs/baseline.yaml"), "--config", "-c", help="Baseline config YAML."),
    out: Path = typer.Option(Path("artifacts/baseline"), help="Where to save the fitted baseline."),
    data: Path = typer.Option(Path("artifacts/data"), help="Prepared splits (cur-nlp data prepare)."),
    report: Path = typer.Option(Path("reports/baseline"), help="Where to write its evaluation report."),
) -> None:
    """Fit the TF-IDF + logistic-regression baseline per head and write its evaluation report."""
    _setup_logging()
    _training("evaluate").fit_and_report_baseline(config, out, data, report)


@app.command()
def evaluate(
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
    data: Path = typer.Option(Path("artifacts/data"), help="Prepared splits (cur-nlp data prepare)."),
    baseline_dir: Optional[Path] = typer.Option(Path("artifacts/baseline"), "--baseline", help="Fitted baseline to report beside."),
    out: Optional[Path] = typer.Option(None, help="Report directory (default: <model>/eval)."),
    split: str = typer.Option("test", help="Which split to evaluate."),
) -> None:
    """Evaluate a model on every held-out set: metrics.json, a Markdown report and plots."""
    from cur_nlp.classifier import default_model_path

    _setup_logging()
    _training("evaluate").evaluate_model_dir(model or default_model_path(), data, baseline_dir, out, split)


@app.command()
def heatmap(
    input: Path = typer.Argument(..., help="JSONL from `cur-nlp predict` (or raw posts with 'text')."),
    out: Path = typer.Option(Path("out/heatmap"), "--out", "-o", help="Folder for heatmap.csv, .html and .png."),
    gazetteer: list[Path] = typer.Option([], "--gazetteer", "-g", help="Extra CSV/Parquet gazetteer; repeatable."),
    default_region: Optional[str] = typer.Option(None, help="Region assumed when a post names none."),
    default_city: Optional[str] = typer.Option(None, help="Settlement assumed for streets when a post names none."),
    html: bool = typer.Option(True, "--html/--no-html", help="Write the HTML map (folium)."),
    png: bool = typer.Option(True, "--png/--no-png", help="Write the static PNG (renders offline)."),
) -> None:
    """Aggregate posts by municipality × topic × urgency: a CSV table, an HTML map and a static PNG."""
    from cur_nlp.geo import run_heatmap

    _setup_logging()
    result = run_heatmap(input, out, gazetteers=gazetteer, default_region=default_region,
                         default_city=default_city, html=html, png=png)
    typer.echo(str(result))


@app.command()
def serve(
    host: Optional[str] = typer.Option(None, help="Interface (default: $CUR_NLP_HOST or 127.0.0.1)."),
    port: Optional[int] = typer.Option(None, help="Port (default: $CUR_NLP_PORT or 8000)."),
    model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
    workers: Optional[int] = typer.Option(None, help="Uvicorn worker processes (default: $CUR_NLP_WORKERS or 1)."),
) -> None:
    """Start the classify HTTP service (POST /v1/classify, docs at /docs); other settings from CUR_NLP_* / .env."""
    try:
        from serve.app import run
    except ImportError as error:
        raise typer.BadParameter(f"the service needs the serve extras (pip install -e '.[serve]'): {error}") from error
    run(host=host, port=port, model=model, workers=workers)


def main() -> None:
    """Entry point of the ``cur-nlp`` console script."""
    app()



@app.command("export-onnx")
def export_onnx_command(
    model_dir: Path = typer.Argument(..., help="Model directory to export (files are written into it)."),
    quantize: bool = typer.Option(True, "--quantize/--no-quantize", help="Also write the int8 encoder.int8.onnx."),
    keep_fp32: Optional[bool] = typer.Option(None, "--keep-fp32/--drop-fp32",
                                             help="Keep encoder.onnx (fp32) next to int8 (default: only with --no-quantize)."),
    data: Optional[Path] = typer.Option(None, help="Prepared splits (cur-nlp data prepare): check on their texts."),
    split: str = typer.Option("dev", help="Split of --data to check on."),
    texts: Optional[Path] = typer.Option(None, help="JSONL/CSV with 'text' (and optional 'topic') to check on."),
    max_texts: int = typer.Option(4000, help="At most this many check texts."),
    onnx: bool = typer.Option(True, "--onnx/--no-onnx",
                              help="--no-onnx: write no ONNX file (removes existing ones), only check torch-bf16."),
    fp32_nodes: str = typer.Option(
        ",".join(map(str, DEFAULT_FP32_NODE_COUNTS)), "--fp32-nodes",
        help="int8: how many of the most sensitive matmuls to keep in fp32, tried in this order until the check "
             "passes ('0': quantise all: the fastest base for onnx-int8-checked)."),
) -> None:
    """Export the encoder to ONNX (fp32 and dynamic int8), check it (and bf16) against torch, record it in config.json.

    With int8 it also measures the recheck margins of ``onnx-int8-checked`` (int8, with the posts near a decision
    boundary re-encoded in fp32) on the same texts. ``from_pretrained(backend="auto")`` then takes the first
    backend whose check passed (label agreement with torch on every head, topic macro-F1 and accuracy at most half
    a point lower) of torch-bf16 (AMX CPUs), onnx-int8-checked, onnx-int8, onnx; without --data/--texts only a
    smoke set is used.
    """
    from cur_nlp.backends.export import export_onnx, prepared_check_texts
    from cur_nlp.io import detect_format, open_input, read_records

    _setup_logging()
    check_texts: list[str] = []
    topics: list = []
    if data is not None:
        check_texts, topics = prepared_check_texts(data, split, max_texts, _training("splits").load_prepared)
    if texts is not None:
        with open_input(str(texts)) as source_file:
            for _, record, _problem in read_records(source_file, detect_format(str(texts))):
                if record is not None:
                    check_texts.append(record["text"])
                    topics.append(record.get("topic"))
    step = max(1, len(check_texts) // max_texts) if check_texts else 1
    try:
        counts = [int(part) for part in fp32_nodes.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"--fp32-nodes takes comma-separated counts, e.g. 0,4,8; got {fp32_nodes!r}")
    if not counts or min(counts) < 0:
        raise typer.BadParameter(f"--fp32-nodes needs counts >= 0, got {fp32_nodes!r}")
    entries = export_onnx(model_dir, quantize=quantize, keep_fp32=keep_fp32, texts=check_texts[::step][:max_texts] or None,
                          topic_labels=topics[::step][:max_texts] or None, write_onnx=onnx, fp32_node_counts=counts)
    for name, entry in entries.items():
        check = entry["check"]
        typer.echo(f"{name}: {entry['file'] or '(no file)'} {entry['bytes'] / 1e6:.1f} MB, passed={entry['passed']}, "
                   f"agreement={check['agreement']}, min cosine={check['min_cosine']:.4f}, "
                   f"topic macro-F1={check.get('topic_macro_f1')}")


if __name__ == "__main__":
    main()
