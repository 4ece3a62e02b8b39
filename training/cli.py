"""The training commands of ``cur-nlp`` (``data prepare``, ``train``, ``baseline``, ``evaluate``, ``export-onnx``), added
through the ``cur_nlp.commands`` entry point so that the runtime never imports training code."""

from __future__ import annotations

import importlib
import json
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import Iterator, Optional

import typer

from cur_nlp.cli import setup_logging
from cur_nlp_training.heads_data import SPLITS

Split = Enum("Split", {name: name for name in SPLITS}, type=str)  # type: ignore[misc]
"""The prepared splits, as a choice: an unknown one is a one-line usage error that lists them."""


def _module(name: str) -> ModuleType:
    """``cur_nlp_training.<name>``, or a one-line error naming the missing extras."""
    try:
        return importlib.import_module(f"cur_nlp_training.{name}")
    except ImportError as error:
        raise typer.BadParameter(f"this command needs the training extras (pip install 'cur_nlp[train]'): {error}") from error


@contextmanager
def one_line_errors() -> Iterator[None]:
    """A configuration or data error (``ValueError``, a missing file) as one line on stderr and exit code 1."""
    try:
        yield
    except (ValueError, FileNotFoundError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(1) from None


def register(app: typer.Typer) -> None:
    """Add the training commands to ``app``."""
    data_app = typer.Typer(no_args_is_help=True, help="Prepare the labelled data: loaders, dedup, splits, data card.")
    app.add_typer(data_app, name="data")

    @data_app.command("prepare")
    def data_prepare(
        out: Path = typer.Option(Path("artifacts/data"), help="Where to save the splits (datasets format)."),
        card: Path = typer.Option(Path("reports/data_card.md"), help="Where to write the data card (Markdown)."),
    ) -> None:
        """Load every source from ../shared/data, deduplicate, split, save, and print the data card."""
        data_card, evaluate = _module("data_card"), _module("evaluate")
        prepared = _module("splits").prepare_all(out)
        text = data_card.data_card(prepared)
        if evaluate.GOLD_FILE.exists():
            text += data_card.gold_card(evaluate.load_gold(), prepared)
        card.parent.mkdir(parents=True, exist_ok=True)
        card.write_text(text, encoding="utf-8")
        typer.echo(text)

    @app.command()
    def train(config: Path = typer.Option(..., "--config", "-c", help="Training config YAML (training/configs/).")) -> None:
        """Train a model from a typed YAML config (full fine-tuning or fast heads-only mode), then evaluate it.

        The recipe: train (best dev epoch kept) → optional sparse n-gram heads → calibration and decisions on dev →
        registry threshold → evaluation report (metrics.json, eval/report.md) → model card (README.md).
        """
        setup_logging()
        with one_line_errors():
            out = _module("pipeline").run(_module("config").TrainConfig.from_yaml(config))
        typer.echo(f"model written to {out}")

    @app.command()
    def baseline(
        config: Path = typer.Option(Path("training/configs/baseline.yaml"), "--config", "-c", help="Baseline config YAML."),
        out: Path = typer.Option(Path("artifacts/baseline"), help="Where to save the fitted baseline."),
        data: Path = typer.Option(Path("artifacts/data"), help="Prepared splits (cur-nlp data prepare)."),
        report: Path = typer.Option(Path("reports/baseline"), help="Where to write its evaluation report."),
    ) -> None:
        """Fit the TF-IDF + logistic-regression baseline per head and write its evaluation report."""
        setup_logging()
        _module("evaluate").fit_and_report_baseline(config, out, data, report)

    @app.command()
    def evaluate(
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
        data: Path = typer.Option(Path("artifacts/data"), help="Prepared splits (cur-nlp data prepare)."),
        baseline_dir: Optional[Path] = typer.Option(Path("artifacts/baseline"), "--baseline", help="Fitted baseline to report beside."),
        out: Optional[Path] = typer.Option(None, help="Report directory (default: <model>/eval)."),
        split: Split = typer.Option("test", help="Which split to evaluate."),
        compare: list[Path] = typer.Option([], "--compare", help="Another model directory to compare with, side by "
                                                                 "side with bootstrap intervals; repeatable."),
    ) -> None:
        """Evaluate a model on every held-out set: metrics.json, a Markdown report and plots (and comparison.md with
        --compare)."""
        from cur_nlp.classifier import default_model_path

        setup_logging()
        with one_line_errors():
            _module("evaluate").evaluate_model_dir(model or default_model_path(), data, baseline_dir, out,
                                                   split.value, compare)

    @app.command("train-stance")
    def train_stance(
        model: Path = typer.Option(..., "--model", "-m", help="Model directory (the stance model is written into it)."),
        data: Path = typer.Option(Path("training/data/fakes"), help="Team-written posts and claims (docs/fakes.md)."),
        registry: Path = typer.Option(Path("examples/fakes_registry.jsonl"), help="The claims the train posts are about."),
    ) -> None:
        """Train the registry's stance model (spreads / refutes / unrelated) on train posts, tune its thresholds on dev
        and evaluate on test claims; writes stance.safetensors, extra.fakes in config.json and eval/fakes.json."""
        setup_logging()
        result = _module("stance").train_stance(model, data, registry)
        typer.echo(json.dumps({k: result[k] for k in ("retrieval_threshold", "spread_threshold", "dev", "test")},
                              ensure_ascii=False, indent=2))

    @app.command("incidents-eval")
    def incidents_eval(
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
        data: Path = typer.Option(Path("training/data/incidents"), help="The team's pair set (posts.jsonl, pairs.jsonl)."),
        out: Path = typer.Option(Path("reports/incidents"), help="Where to write eval.json and eval.md."),
        silver: bool = typer.Option(True, "--silver/--no-silver", help="Also run the silver check on the SPb posts of "
                                                                      "March 2021 (../shared/data)."),
    ) -> None:
        """Incident grouping: tune on the dev part of the pair set, score on its test part (pairwise P/R/F1 by pair
        kind, purity), and the silver check on SPb March posts (same address and reason within 3 days)."""
        from cur_nlp.incidents import GroupingSettings

        setup_logging()
        evaluation = _module("incidents_eval")
        result = evaluation.evaluate_pair_set(model, data, log=typer.echo)
        if silver:
            settings = GroupingSettings(**result["chosen_settings"])
            result["silver"] = _module("incidents_silver").evaluate_silver(settings, model, log=typer.echo)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        (out / "eval.md").write_text(evaluation.report_markdown(result), encoding="utf-8")
        typer.echo(f"written {out / 'eval.json'} and {out / 'eval.md'}")

    @app.command("export-onnx")
    def export_onnx(
        model_dir: Path = typer.Argument(..., help="Model directory to export (files are written into it)."),
        quantize: bool = typer.Option(True, "--quantize/--no-quantize", help="Also write the int8 encoder.int8.onnx."),
        keep_fp32: Optional[bool] = typer.Option(None, "--keep-fp32/--drop-fp32",
                                                 help="Keep encoder.onnx (fp32) next to int8 (default: only with --no-quantize)."),
        data: Optional[Path] = typer.Option(None, help="Prepared splits (cur-nlp data prepare): check on their texts."),
        split: Split = typer.Option("dev", help="Split of --data to check on."),
        max_texts: int = typer.Option(4000, help="At most this many check texts."),
        onnx: bool = typer.Option(True, "--onnx/--no-onnx",
                                  help="--no-onnx: write no ONNX file (removes existing ones), only check torch-bf16."),
    ) -> None:
        """Export the encoder to ONNX (fp32 and dynamic int8), check it (and bf16) against torch, record it in config.json.

        `auto` then takes the first backend whose check passed (label agreement with torch on every head ≥ 0.99,
        topic macro-F1 and accuracy at most half a point lower) of torch-bf16 (CPUs with native bf16), onnx-int8,
        onnx; without --data only a smoke set of 12 texts is checked.
        """
        setup_logging()
        texts: list[str] = []
        topics: list[str | None] = []
        if data is not None:
            texts, topics = _module("splits").check_texts(data, split.value, max_texts)
        records = _module("export_onnx").export_onnx(model_dir, quantize=quantize, keep_fp32=keep_fp32,
                                                     texts=texts or None, topic_labels=topics or None, write_onnx=onnx)
        for name, record in records.items():
            check = record.check
            typer.echo(f"{name}: {record.file or '(no file)'} {record.bytes / 1e6:.1f} MB, passed={record.passed}, "
                       f"agreement={check['agreement']}, min cosine={check['min_cosine']:.4f}, "
                       f"topic macro-F1={check.get('topic_macro_f1')}")
