"""The ``cur-nlp`` command line.

The runtime commands (``predict``, ``labels``, ``info``, ``heatmap``; ``fakes`` from :mod:`cur_nlp.fakes_commands`)
live here. The training and service packages add
theirs (``data``, ``train``, ``baseline``, ``evaluate``, ``export-onnx``; ``serve``) through the ``cur_nlp.commands``
entry-point group: each entry is a ``register(app)`` function, so this module never imports them.
"""

from __future__ import annotations

import json
import logging
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from cur_nlp.fakes_commands import fakes_app
from cur_nlp.incidents_commands import incidents, report

if TYPE_CHECKING:
    from cur_nlp.io import Problem

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="cur_nlp: topic, urgency, fake and places in citizens' posts (ЦУР).")
COMMAND_GROUP = "cur_nlp.commands"
"""Entry-point group of the packages that add commands to ``cur-nlp``."""
app.add_typer(fakes_app, name="fakes")
app.command()(incidents)
app.command()(report)

_log_level = logging.INFO
THIRD_PARTY_LOGGERS = ("transformers", "huggingface_hub", "datasets", "urllib3", "natasha")


def _version(value: bool) -> None:
    if value:
        from cur_nlp import __version__

        typer.echo(f"cur_nlp {__version__}")
        raise typer.Exit()


@app.callback()
def options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Only warnings and errors on stderr."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug messages of cur_nlp on stderr."),
) -> None:
    """Options of every command (before the command: `cur-nlp -q predict …`)."""
    global _log_level
    _log_level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO


def setup_logging(verbose: bool = False) -> None:
    """Log the ``cur_nlp`` loggers to stderr (INFO; DEBUG with ``--verbose``/``verbose``, WARNING with ``--quiet``);
    other libraries' loggers only say errors and transformers shows no progress bars. The root logger is left alone
    (no handler, no level), so an application that imports cur_nlp keeps its own logging."""
    logger = logging.getLogger("cur_nlp")
    if not any(getattr(h, "_cur_nlp", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler._cur_nlp = True
        logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else _log_level)
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    try:
        from transformers.utils import logging as transformers_logging

        transformers_logging.set_verbosity_error()
        transformers_logging.disable_progress_bar()
    except ImportError:  # an ONNX-only installation
        pass


def register_plugins(target: typer.Typer = app) -> list[str]:
    """Let every installed ``cur_nlp.commands`` entry point add its commands to ``target`` (once per target);
    returns their names. A plugin whose package cannot be imported (its extras missing) is skipped with a debug
    message."""
    if getattr(target, "_cur_nlp_plugins", None) is not None:
        return target._cur_nlp_plugins
    loaded: list[str] = []
    target._cur_nlp_plugins = loaded
    for entry in entry_points(group=COMMAND_GROUP):
        try:
            entry.load()(target)
        except ImportError as error:
            logging.getLogger(__name__).debug("cur-nlp commands of %s not available: %s", entry.name, error)
            continue
        loaded.append(entry.name)
    return loaded


def report(source: object, problem: Problem) -> None:
    """One line on stderr for a problem of an input line: ``file:line: skipped|repaired: message``."""
    typer.echo(f"{source}:{problem.line}: {'skipped' if problem.skipped else 'repaired'}: {problem.message}", err=True)


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
    backend: str = typer.Option("auto", help="Encoder backend: auto (see `cur-nlp info`), torch (fp32), torch-bf16, "
                                             "onnx, onnx-int8 (ONNX ones after `cur-nlp export-onnx`; they start "
                                             "without torch)."),
    registry: Optional[str] = typer.Option(None, "--registry", "-r", help="Debunked claims to match: a .jsonl/.csv "
                                           "file, an SQLite .db file or a database URL (default: the model's "
                                           "example registry, known_fakes.jsonl)."),
    routes: Optional[Path] = typer.Option(None, "--routes", help="Routing table (CSV/Parquet: topic, optional "
                                          "settlement/municipality/region/urgency, body, contact): adds `route`."),
) -> None:
    """Classify posts: adds topic, urgency, fake (and locations) to every record, in input order.

    Bad lines (bad JSON, malformed CSV records, no text) are reported on stderr by line number and skipped; bytes
    that are not UTF-8 are replaced and reported. An output file is written whole (a temporary file renamed at
    the end), so a failure leaves no half file. Exit code: 0 when every line was classified, 3 when some were
    skipped, 1 when the output could not be written.
    """
    from tqdm import tqdm

    from cur_nlp.backends import BACKEND_NAMES
    from cur_nlp.classifier import ComplaintClassifier
    from cur_nlp.incidents_commands import routing_table
    from cur_nlp.io import RecordWriter, detect_format, open_input, output_file, read_records
    from cur_nlp.routing import route_record

    if backend not in BACKEND_NAMES:
        raise typer.BadParameter(f"one of {', '.join(BACKEND_NAMES)}; got {backend!r}", param_hint="--backend")
    setup_logging()
    locator = False
    if locate:
        from cur_nlp.geo import Locator, TableGazetteer

        locator = Locator.default(*[TableGazetteer.from_file(p) for p in gazetteer],
                                  default_region=default_region, default_city=default_city)
    try:
        classifier = ComplaintClassifier.from_pretrained(model, locate=locator, backend=backend, registry=registry)
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2)
    table = routing_table(routes)
    routed = table is not None or "route" in classifier.head_names  # a trained route head is shown the same way
    in_fmt = detect_format(input, input_format)
    out_fmt = detect_format(output, output_format)
    skipped = written = repaired = 0
    try:
        with open_input(input) as source, output_file(output) as out:
            writer = RecordWriter(out, out_fmt, tuple(classifier.head_names))
            batch: list[dict] = []

            def flush() -> None:
                nonlocal written
                predictions = classifier.predict([r["text"] for r in batch], batch_size=batch_size)
                for record, prediction in zip(batch, predictions):
                    output_record = {**record, **prediction.to_dict()}
                    if routed:
                        output_record["route"] = route_record(output_record, table)
                    writer.write(output_record)
                written += len(batch)
                batch.clear()

            progress = tqdm(read_records(source, in_fmt), unit=" lines", disable=not sys.stderr.isatty(),
                            file=sys.stderr)
            for line, record, problem in progress:
                if problem is not None:
                    report(input, problem)
                if record is None:
                    skipped += 1
                    continue
                repaired += problem is not None
                batch.append(record)
                if len(batch) >= chunk:
                    flush()
            if batch:
                flush()
            writer.finish()
    except OSError as error:
        typer.echo(f"error: {error}; {output} was not written", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"classified {written} records, skipped {skipped} bad lines"
               + (f", repaired {repaired} lines with bytes that are not UTF-8" if repaired else ""), err=True)
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


@app.command()
def info(model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model).")) -> None:
    """Show the model (name, version, heads) and the encoder backend `auto` picks on this machine, and why."""
    import platform

    from cur_nlp import __version__
    from cur_nlp.backends import cpu, explain_auto
    from cur_nlp.classifier import default_model_path
    from cur_nlp.model_dir import ModelConfig

    directory = model or default_model_path()
    config = ModelConfig.load(directory)
    chosen, candidates = explain_auto(directory, config)
    typer.echo(f"cur_nlp {__version__}, Python {platform.python_version()}")
    typer.echo(f"model: {directory} ({config.name} {config.version}); heads: "
               + ", ".join(f"{h.name} ({len(h.labels)})" for h in config.heads))
    typer.echo(f"CPU: {cpu.model_name()}, {cpu.physical_cores()} physical cores, "
               f"bf16 flags: {', '.join(cpu.bf16_flags()) or 'none'}")
    typer.echo(f"backend auto: {chosen}")
    for candidate in candidates:
        typer.echo(f"  {candidate.name}: {'usable' if candidate.usable else 'skipped'} - {candidate.reason}")
    if chosen == "torch":
        typer.echo("  torch: the fp32 reference, always available")


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
    """Aggregate posts by municipality × topic × urgency: a CSV table, an HTML map and a static PNG.

    Bad lines (bad JSON, not an object, unreadable locations) are reported on stderr by line number and skipped;
    the exit code is 3 when some were skipped, else 0.
    """
    from cur_nlp.geo import run_heatmap

    setup_logging()
    result = run_heatmap(input, out, gazetteers=gazetteer, default_region=default_region,
                         default_city=default_city, html=html, png=png)
    for problem in result.problems:
        report(input, problem)
    typer.echo(str(result))
    raise typer.Exit(3 if result.skipped else 0)


def main() -> None:
    """Entry point of the ``cur-nlp`` console script."""
    register_plugins()
    app()

if __name__ == "__main__":
    main()
