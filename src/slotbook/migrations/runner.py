"""Run the migrations from code and tell whether a database's schema matches this code.

The CLI, the readiness probe and the tests share this. Connecting is done here, with a
bounded wait, so that a database that is missing or unreachable becomes one sentence
for the operator (``DatabaseUnreachable``) instead of a driver traceback.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from slotbook.storage.connect import DatabaseUnreachable, connected

__all__ = ["DatabaseUnreachable", "SchemaStatus", "schema_status", "upgrade"]

HERE = Path(__file__).parent
UPGRADE_HINT = "run `slotbook db upgrade`"
# Long enough for a remote server; connecting is all it bounds, not the migrations.
DEFAULT_CONNECT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class SchemaStatus:
    """The revisions recorded in a database against the ones this code ends at."""

    current: tuple[str, ...]
    heads: tuple[str, ...]
    known: bool  # every recorded revision is one of this code's migrations

    @property
    def ok(self) -> bool:
        return set(self.current) == set(self.heads)

    @property
    def missing(self) -> bool:
        return not self.current

    def describe(self) -> str:
        """One line: what is wrong with the schema and what to do about it."""
        if self.ok:
            return "schema up to date"
        if self.missing:
            return f"schema missing (no migration recorded); {UPGRADE_HINT}"
        at, needs = ", ".join(self.current), ", ".join(self.heads)
        if not self.known:
            # `db upgrade` cannot help: this code does not know where the database is.
            return (
                f"schema at revision {at}, unknown to this version of Slotbook (it needs "
                f"{needs}); run the Slotbook version that migrated this database"
            )
        return f"schema behind (at revision {at}, this version needs {needs}); {UPGRADE_HINT}"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    """Parsed once per process: the probe asks until the schema is seen up to date."""
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


@lru_cache(maxsize=1)
def _known_revisions() -> frozenset[str]:
    return frozenset(revision.revision for revision in _script().walk_revisions())


def schema_status_of(connection: sa.Connection) -> SchemaStatus:
    """The schema status seen through an open connection (``AsyncConnection.run_sync``)."""
    current = tuple(sorted(MigrationContext.configure(connection).get_current_heads()))
    heads = tuple(sorted(_script().get_heads()))
    return SchemaStatus(current, heads, known=set(current) <= _known_revisions())


def schema_status(
    database_url: str, *, connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS
) -> SchemaStatus:
    """Connect once and read the schema status; ``DatabaseUnreachable`` if that fails."""

    async def read() -> SchemaStatus:
        async with connected(database_url, connect_timeout) as connection:
            return await connection.run_sync(schema_status_of)

    return asyncio.run(read())


def upgrade(
    database_url: str,
    revision: str = "head",
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT_SECONDS,
) -> None:
    """Migrate to ``revision``. The connection is opened here and handed to the
    environment (``env.py`` uses a connection it is given), so a failure to connect is
    ``DatabaseUnreachable`` and an error inside a migration keeps its traceback."""

    def run(connection: sa.Connection) -> None:
        config = alembic_config(database_url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    async def migrate() -> None:
        async with connected(database_url, connect_timeout) as connection:
            await connection.run_sync(run)
            await connection.commit()

    asyncio.run(migrate())


def revision(database_url: str, message: str, rev_id: str) -> None:
    command.revision(
        alembic_config(database_url), message=message, autogenerate=True, rev_id=rev_id
    )
