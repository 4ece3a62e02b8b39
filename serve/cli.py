"""The ``cur-nlp serve`` command, added to the ``cur-nlp`` command line through the ``cur_nlp.commands`` entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def register(app: typer.Typer) -> None:
    """Add ``serve`` to ``app``."""

    @app.command()
    def serve(
        host: Optional[str] = typer.Option(None, help="Interface (default: $CUR_NLP_HOST or 127.0.0.1)."),
        port: Optional[int] = typer.Option(None, help="Port (default: $CUR_NLP_PORT or 8000)."),
        model: Optional[Path] = typer.Option(None, "--model", "-m", help="Model directory (default: embedded model)."),
        workers: Optional[int] = typer.Option(None, help="Uvicorn worker processes (default: $CUR_NLP_WORKERS or 1)."),
    ) -> None:
        """Start the classify HTTP service (POST /v1/classify, docs at /docs); other settings from CUR_NLP_* / .env."""
        try:
            from cur_nlp_serve.app import run
        except ImportError as error:
            raise typer.BadParameter(f"the service needs the serve extras (pip install -e '.[serve]'): {error}") from error
        run(host=host, port=port, model=model, workers=workers)
