"""Engines, sessions and the one place a request's transaction begins and commits."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from slotbook.settings import Settings
from slotbook.storage.backend import PostgresStorage, SqliteStorage, Storage
from slotbook.storage.errors import is_broken_connection

_READ_ONLY_METHODS = ("GET", "HEAD", "OPTIONS")


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    storage: Storage

    async def dispose(self) -> None:
        await self.engine.dispose()

    @contextlib.asynccontextmanager
    async def transaction(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A session in one transaction, committed when the block ends without error."""
        async with self.sessionmaker() as session:
            if write:
                await self.storage.begin_write(session)
            try:
                yield session
                await self.storage.commit(session)
            except BaseException:
                with contextlib.suppress(Exception):  # the original error is what matters
                    await session.rollback()
                raise


def create_database(settings: Settings, *, url: str | None = None) -> Database:
    """The engine and the backend for a URL; the backend is chosen here, once."""
    url = url or settings.resolved_database_url()
    locks = not settings.unsafe_disable_booking_locks
    storage: Storage
    if is_embedded(url):
        engine = _sqlite_engine(url, settings)
        storage = SqliteStorage(locks=locks)
    else:
        engine = _postgres_engine(url, settings)
        storage = PostgresStorage(locks=locks, deadlock_retries=settings.deadlock_retries)
    maker = async_sessionmaker(engine, expire_on_commit=False, info=storage.session_info())
    return Database(engine, maker, storage)


def is_embedded(url: str) -> bool:
    """Whether a database URL names the embedded (SQLite) database."""
    return make_url(url).get_backend_name() == "sqlite"


def prepare_location(url: str) -> None:
    """Create the folder of an embedded database file, so a first run can create it."""
    parsed = make_url(url)
    if is_embedded(url) and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


def _postgres_engine(url: str, settings: Settings) -> AsyncEngine:
    engine = create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        # A connection the server dropped (restart, failover, pg_terminate_backend) is
        # found at checkout and replaced, instead of failing the request that drew it.
        pool_pre_ping=settings.db_pool_pre_ping,
        connect_args={
            "timeout": settings.db_connect_timeout_seconds,
            # Bounded waits: a lock or a statement never hangs a worker.
            "server_settings": {
                "lock_timeout": str(settings.lock_timeout_ms),
                "statement_timeout": "15000",
                "idle_in_transaction_session_timeout": "30000",
            },
        },
    )

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        # SQLAlchemy's dialect only trusts ``is_closed()``; an error showing the server
        # side is gone must also invalidate the connection (and older pooled ones).
        if not context.is_disconnect and is_broken_connection(context.original_exception):
            context.is_disconnect = True

    return engine


def _sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    prepare_location(url)
    # Each checkout gets a fresh connection: SQLite connections are cheap and this keeps
    # a worker from holding a file lock between requests.
    engine = create_async_engine(url, poolclass=NullPool)
    busy_timeout = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        # Writing requests begin IMMEDIATE (SqliteStorage.begin_write): SQLite's write
        # lock is taken at BEGIN, in every process, so a booking's count and insert
        # cannot interleave with another's.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def render_as_batch(connection: sa.Connection) -> bool:
    """Migrations alter SQLite tables by copying them (it has no ALTER for most changes)."""
    return connection.dialect.name == "sqlite"


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed here, before the response is sent.

    Used with ``scope="function"`` so FastAPI runs the commit as soon as the endpoint
    returns; a failing commit therefore still becomes an error response. Requests that
    may write begin as writers (see ``Storage.begin_write``).
    """
    database: Database = request.app.state.database
    write = request.method not in _READ_ONLY_METHODS
    async with database.transaction(write=write) as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
