"""The one database of a centre's shared state: the fakes registry and the incidents.

SQLite by default (a file, created on first use); any SQLAlchemy URL, e.g. ``postgresql+psycopg://…``, when several
service replicas share one registry. Every table is declared here, once; :func:`open_database` creates missing
tables and refuses a database written by another schema version rather than guessing at it.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import (Boolean, Column, DateTime, Engine, Integer, LargeBinary, MetaData, String, Table, Text,
                        create_engine, event, select)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

SCHEMA_VERSION = 2
"""1: the fakes registry; 2: adds the incident tables (a version-1 database is upgraded in place: the new tables are
created beside the registry, nothing else changes)."""

metadata = MetaData()

schema_info = Table(
    "cur_nlp_schema", metadata,
    Column("version", Integer, primary_key=True),
)

# one row per debunked claim; ``vector`` is the claim's encoder vector (float32 bytes) computed once when the claim
# is written, ``vector_model`` names the model that computed it (another model recomputes it in memory)
fake_claims = Table(
    "fake_claims", metadata,
    Column("id", String(128), primary_key=True),
    Column("claim", Text, nullable=False),
    Column("refutation", Text, nullable=False, default=""),
    Column("link", Text),
    Column("region", String(200)),
    Column("tags", Text, nullable=False, default="[]"),  # a JSON list
    Column("active", Boolean, nullable=False, default=True),
    Column("added", DateTime(timezone=True), nullable=False),
    Column("updated", DateTime(timezone=True), nullable=False),
    Column("vector", LargeBinary),
    Column("vector_model", String(300)),
)

# a counter bumped in the same transaction as every registry write: replicas compare it to know when to reload
registry_revision = Table(
    "fake_registry_revision", metadata,
    Column("id", Integer, primary_key=True),
    Column("revision", Integer, nullable=False),
)


# incidents (cur_nlp.incidents.store): one row per incident; ``state`` is the JSON that grouping compares new posts
# with (houses, streets, point, place, topic counts, the kept members' texts and vectors)
incidents = Table(
    "incidents", metadata,
    Column("id", String(200), primary_key=True),
    Column("area", String(200), nullable=False, index=True),
    Column("status", String(10), nullable=False, index=True),  # open | closed
    Column("first_seen", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False, index=True),
    Column("posts", Integer, nullable=False),
    Column("topic", String(100)),
    Column("urgency", String(50)),
    Column("state", Text, nullable=False),
)

# which incident each post joined, in the order they joined (a post sent twice gets its incident back)
incident_posts = Table(
    "incident_posts", metadata,
    Column("post_id", String(300), primary_key=True),
    Column("incident_id", String(200), nullable=False, index=True),
    Column("position", Integer, nullable=False),
)

# one row every assignment updates first: replicas assign one batch at a time, so two of them never open two
# incidents for one problem
incident_lock = Table(
    "incident_lock", metadata,
    Column("id", Integer, primary_key=True),
    Column("writes", Integer, nullable=False),
)


class DatabaseError(RuntimeError):
    """The database cannot be used: unreachable, unreadable or of another schema version."""


def database_url(location: str | Path) -> str:
    """An SQLAlchemy URL for ``location``: a URL as given, a file path as SQLite (its folder created)."""
    text = str(location)
    if "://" in text:
        return text
    path = Path(text).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def describe(url: str) -> str:
    """Where ``url`` points, safe to print: the backend and host (or file), never the password."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unparseable database URL"
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite file {parsed.database or ':memory:'}"
    return f"{parsed.get_backend_name()} at host {parsed.host or 'localhost'}" + (f":{parsed.port}" if parsed.port else "")


def _sqlite_pragmas(connection, _record) -> None:
    # WAL lets readers (other replicas on one host) read while one process writes; wait instead of failing on a lock
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def open_database(location: str | Path) -> Engine:
    """Connect to ``location`` (a file path or an SQLAlchemy URL), create missing tables, check the schema version.

    Raises :class:`DatabaseError` naming the host (never the password) when the database cannot be reached.
    """
    url = database_url(location)
    where = describe(url)
    try:
        engine = create_engine(url, pool_pre_ping=True, future=True)
    except (ArgumentError, ImportError, SQLAlchemyError) as error:
        raise DatabaseError(f"cannot open the database ({where}): {type(error).__name__}") from error
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    try:
        metadata.create_all(engine)
        with engine.begin() as connection:
            found = connection.execute(select(schema_info.c.version)).scalars().all()
            if not found:
                connection.execute(schema_info.insert().values(version=SCHEMA_VERSION))
            elif found == [1]:  # create_all has just added the incident tables
                connection.execute(schema_info.update().values(version=SCHEMA_VERSION))
            elif found != [SCHEMA_VERSION]:
                raise DatabaseError(f"the database ({where}) has schema version {found}, this cur_nlp reads version "
                                    f"{SCHEMA_VERSION}; migrate it or use a new database")
            if connection.execute(select(registry_revision.c.revision)).first() is None:
                connection.execute(registry_revision.insert().values(id=1, revision=0))
            if connection.execute(select(incident_lock.c.writes)).first() is None:
                connection.execute(incident_lock.insert().values(id=1, writes=0))
    except OperationalError as error:
        engine.dispose()
        reason = str(error.orig).strip().splitlines()[0] if error.orig else type(error).__name__
        password = make_url(url).password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseError(f"cannot reach the database ({where}): {reason}") from error
    return engine
