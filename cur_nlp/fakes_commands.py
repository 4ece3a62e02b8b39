"""``cur-nlp fakes add|list|remove|import|export``: the registry of debunked claims in its database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

DEFAULT_REGISTRY = "cur_nlp_registry.db"

fakes_app = typer.Typer(no_args_is_help=True, help="The registry of debunked claims (SQLite file or database URL).")

RegistryOption = typer.Option(DEFAULT_REGISTRY, "--registry", "-r", envvar="CUR_NLP_REGISTRY",
                              help="SQLite file (created on first use) or SQLAlchemy URL, e.g. "
                                   "postgresql+psycopg://user@host/db; env CUR_NLP_REGISTRY.")
ModelOption = typer.Option(None, "--model", "-m", help="Model whose encoder embeds the claims (default: embedded model).")


def _store(registry: str, model: Path | None = None, embed: bool = False):
    """The claim store; with ``embed``, one that computes claim vectors with the model as claims are written."""
    from cur_nlp.database import DatabaseError
    from cur_nlp.fakes.store import ClaimStore

    try:
        if not embed:
            return ClaimStore.open(registry)
        from cur_nlp.classifier import ComplaintClassifier

        classifier = ComplaintClassifier.from_pretrained(model, registry=None)
        return ClaimStore.open(registry, embed=classifier.embed_claims, vector_model=classifier.fingerprint)
    except DatabaseError as error:
        raise typer.BadParameter(str(error), param_hint="--registry") from None


def _fail(error: Exception) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


@fakes_app.command("add")
def add(
    claim_id: str = typer.Option(..., "--id", help="A unique id, e.g. kursk-2026-031."),
    claim: str = typer.Option(..., "--claim", help="The rumour as the centre registers it."),
    refutation: str = typer.Option("", "--refutation", help="The official refutation operators answer with."),
    link: Optional[str] = typer.Option(None, "--link", help="Where the refutation is published."),
    region: Optional[str] = typer.Option(None, "--region", help="Region the rumour is about (none: everywhere)."),
    tag: list[str] = typer.Option([], "--tag", help="A tag; repeatable."),
    registry: str = RegistryOption,
    model: Optional[Path] = ModelOption,
) -> None:
    """Add one claim; it is matched from the next request on in every service that shares the registry."""
    from cur_nlp.fakes.claims import Claim

    try:
        entry = Claim(claim_id.strip(), claim.strip(), refutation.strip(), link, region, tuple(tag))
        _store(registry, model, embed=True).add([entry])
    except ValueError as error:
        _fail(error)
    typer.echo(f"added {claim_id}")


@fakes_app.command("list")
def list_claims(
    registry: str = RegistryOption,
    all_claims: bool = typer.Option(False, "--all", help="Include removed (inactive) claims."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line instead of a table."),
) -> None:
    """Print the registry's claims."""
    claims = _store(registry).claims(include_inactive=all_claims)
    for claim in claims:
        if as_json:
            typer.echo(json.dumps(claim.to_record(), ensure_ascii=False))
        else:
            state = "" if claim.active else " [removed]"
            typer.echo(f"{claim.id}{state}\t{claim.region or '-'}\t{claim.claim}")
    if not as_json:
        typer.echo(f"{len(claims)} claims", err=True)


@fakes_app.command("remove")
def remove(ids: list[str] = typer.Argument(..., help="Claim ids."), registry: str = RegistryOption) -> None:
    """Stop matching claims (they stay in the database as inactive, for the record)."""
    removed = _store(registry).remove(ids)
    missing = sorted(set(ids) - set(removed))
    typer.echo(f"removed {len(removed)}: {', '.join(removed) or '-'}")
    if missing:
        _fail(ValueError(f"not active in the registry: {', '.join(missing)}"))


@fakes_app.command("import")
def import_claims(
    file: Path = typer.Argument(..., help="Claims as .jsonl or .csv (id, claim, refutation, link, region, tags)."),
    registry: str = RegistryOption,
    replace: bool = typer.Option(False, "--replace", help="Overwrite claims whose id the registry already holds."),
    model: Optional[Path] = ModelOption,
) -> None:
    """Add every claim of a file, all or none: a broken line, a repeated id or an id the registry holds (without
    --replace) stops the import before anything is written."""
    from cur_nlp.fakes.claims import read_claims

    try:
        claims = read_claims(file)
        count = _store(registry, model, embed=True).add(claims, replace=replace)
    except (ValueError, FileNotFoundError) as error:
        _fail(error)
    typer.echo(f"imported {count} claims from {file}")


@fakes_app.command("export")
def export_claims(
    file: Path = typer.Argument(..., help="Output .jsonl or .csv."),
    registry: str = RegistryOption,
    all_claims: bool = typer.Option(False, "--all", help="Include removed (inactive) claims."),
) -> None:
    """Write the registry's claims to a file (written whole)."""
    from cur_nlp.fakes.claims import write_claims

    count = write_claims(_store(registry).claims(include_inactive=all_claims), file)
    typer.echo(f"exported {count} claims to {file}")
