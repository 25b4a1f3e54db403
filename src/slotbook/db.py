"""Engine, sessions and the one place a request's transaction is committed."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import Dialect, ExceptionContext
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, SessionTransaction, mapped_column
from sqlalchemy.pool import NullPool
from sqlalchemy.sql.compiler import SQLCompiler

from slotbook.errors import ServiceBusy
from slotbook.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, on PostgreSQL (timestamptz) and SQLite (naive text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg decodes every timestamptz as an aware UTC datetime already; skipping the
        # per-value call matters when a month's grid reads ten thousand rows.
        if dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class epoch_seconds(sa.sql.functions.FunctionElement[int]):
    """Seconds since 1970 of a ``UTCDateTime`` column, as an integer.

    For reads of many rows: the driver turns an integer into a Python int several times
    faster than a timestamp into an aware datetime. Stored instants are whole seconds
    (booking times are whole minutes of the outlet's clock), so nothing is rounded.
    """

    type = sa.BigInteger()
    inherit_cache = True
    name = "epoch_seconds"


@compiles(epoch_seconds, "postgresql")
def _epoch_seconds_postgresql(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(epoch_seconds, "sqlite")
def _epoch_seconds_sqlite(element: epoch_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class TenantScoped:
    """Columns every tenant-owned table carries."""

    id: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(
        sa.String(24), sa.ForeignKey("tenants.id", ondelete="CASCADE"), index=True
    )


@dataclass
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    async def dispose(self) -> None:
        await self.engine.dispose()


def create_database(settings: Settings, *, url: str | None = None) -> Database:
    url = url or settings.resolved_database_url()
    if url.startswith("sqlite"):
        engine = _sqlite_engine(url, settings)
    else:
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
        _treat_broken_connections_as_disconnects(engine)
    return Database(engine, async_sessionmaker(engine, expire_on_commit=False))


# asyncpg errors after which the connection is unusable, although asyncpg may not have
# marked it closed yet (SQLAlchemy's dialect only checks ``is_closed()``): e.g. the server
# terminated the backend mid-operation, leaving the protocol "in another operation".
_BROKEN_CONNECTION_ERRORS = (
    "InternalClientError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
)
_DISCONNECT_SQLSTATE_PREFIXES = ("08", "57P")


def _treat_broken_connections_as_disconnects(engine: AsyncEngine) -> None:
    """Invalidate a connection (and, as SQLAlchemy does on a disconnect, every pooled
    connection older than it) when an error shows the server side is gone."""

    @event.listens_for(engine.sync_engine, "handle_error")
    def _on_error(context: ExceptionContext) -> None:
        if context.is_disconnect:
            return
        # SQLAlchemy's asyncpg adapter wraps the driver's error: look at both.
        if _is_broken_connection(context.original_exception):
            context.is_disconnect = True


def _sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
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
        # Writing requests begin IMMEDIATE: SQLite's write lock is taken at BEGIN, in every
        # process, so a booking's count and insert cannot interleave with another's.
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


_UNAVAILABLE_SQLSTATES = {
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown (backend terminated)
    "57P02",
    "57P03",
    "08000",
    "08003",
    "08006",
}
RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wrapped by SQLAlchemy or straight from the driver."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "try again shortly" rather than a bug."""
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        code = sqlstate(exc)
        if code in _UNAVAILABLE_SQLSTATES or code in RETRYABLE_SQLSTATES:
            return True
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        return _is_broken_connection(exc.orig)
    # A driver error that escaped SQLAlchemy's wrapping (e.g. raised while a connection
    # was being reset or closed).
    if isinstance(exc, asyncpg.PostgresError):
        code = exc.sqlstate
        if code in _UNAVAILABLE_SQLSTATES or code in RETRYABLE_SQLSTATES:
            return True
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return _is_broken_connection(exc)


def _is_broken_connection(error: BaseException | None) -> bool:
    for candidate in (error, getattr(error, "__cause__", None)):
        if candidate is None:
            continue
        names = {cls.__name__ for cls in type(candidate).__mro__}
        if names.intersection(_BROKEN_CONNECTION_ERRORS):
            return True
        code = getattr(candidate, "sqlstate", None)
        if isinstance(code, str) and code.startswith(_DISCONNECT_SQLSTATE_PREFIXES):
            return True
    return False


def dialect_of(session: AsyncSession) -> str:
    """``"postgresql"`` or ``"sqlite"``: the few places whose SQL or locking differ ask this."""
    bind = session.bind
    assert bind is not None, "sessions are always bound to the engine"
    return bind.dialect.name


async def driver_connection(session: AsyncSession) -> Any:
    """The asyncpg connection under a PostgreSQL session, inside the session's transaction.

    SQLAlchemy's asyncpg adapter begins its transaction lazily, with its first statement;
    it is begun here when need be, so that a statement sent to the driver directly can
    never run outside the request's transaction (tests/test_request_transaction.py).
    """
    known = session.info.get(_DRIVER_CONNECTION)
    if known is not None:
        return known
    connection = await session.connection()
    adapted: Any = (await connection.get_raw_connection()).dbapi_connection
    if adapted._transaction is None:
        try:
            await adapted._start_transaction()
        except Exception as exc:
            # The adapter translates the driver's error into its own class, which no
            # handler knows outside SQLAlchemy's wrapping: raise the driver's, as the
            # statements sent to the driver do.
            error = exc.__cause__ or exc
            await _invalidate_if_broken(session, error)
            raise error from None
    session.info[_DRIVER_CONNECTION] = adapted._connection
    return adapted._connection


_DRIVER_CONNECTION = "slotbook.driver_connection"


async def _invalidate_if_broken(session: AsyncSession, error: BaseException) -> None:
    """Drop the session's connection when the driver shows it is broken (the server
    ended it, or its protocol is stuck mid-operation), as SQLAlchemy does for the
    statements it runs: it must not go back to the pool."""
    if not _is_broken_connection(error):
        return
    session.info.pop(_DRIVER_CONNECTION, None)
    with contextlib.suppress(Exception):  # the error being raised is what matters
        await (await session.connection()).invalidate()


@event.listens_for(Session, "after_transaction_end")
def _forget_driver_connection(session: Session, transaction: SessionTransaction) -> None:
    """The session may hold another connection in its next transaction."""
    if transaction.parent is None:
        session.info.pop(_DRIVER_CONNECTION, None)


class DriverQuery:
    """A Core statement that a request runs on the database driver itself, on PostgreSQL.

    A booking runs a dozen statements. Through SQLAlchemy each costs the worker ~0.2-0.3
    ms of CPU; sent to asyncpg directly, ~0.05 ms. The statement is still written once,
    as Core: it is compiled once per shape (the lengths of its IN lists) with SQLAlchemy's
    own bind processors, and its rows come back as the driver's records (indexable
    tuples; only types the driver decodes itself may be selected). On SQLite it simply
    runs through SQLAlchemy Core. Errors are the driver's; ``is_unavailable`` and the
    application's handlers treat them as SQLAlchemy's.
    """

    def __init__(self, statement: sa.Select[*tuple[Any, ...]] | sa.Insert) -> None:
        self.statement = statement
        self._plans: dict[tuple[tuple[str, int], ...], _DriverPlan] = {}

    async def fetch(self, session: AsyncSession, params: dict[str, Any]) -> Sequence[Any]:
        if dialect_of(session) != "postgresql":
            connection = await session.connection()
            return (await connection.execute(self.statement, params)).all()
        plan = self._plan(session, params)
        driver = await driver_connection(session)
        try:
            return await driver.fetch(plan.sql, *plan.arguments(params))  # type: ignore[no-any-return]
        except Exception as exc:
            await _invalidate_if_broken(session, exc)
            raise

    async def execute_many(self, session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
        if dialect_of(session) != "postgresql":
            connection = await session.connection()
            await connection.execute(self.statement, list(rows))
            return
        plan = self._plan(session, rows[0])
        driver = await driver_connection(session)
        try:
            if len(rows) == 1:
                await driver.execute(plan.sql, *plan.arguments(rows[0]))
            else:
                await driver.executemany(plan.sql, [plan.arguments(row) for row in rows])
        except Exception as exc:
            await _invalidate_if_broken(session, exc)
            raise

    def _plan(self, session: AsyncSession, params: dict[str, Any]) -> _DriverPlan:
        shape = tuple(sorted((k, len(v)) for k, v in params.items() if isinstance(v, list | tuple)))
        plan = self._plans.get(shape)
        if plan is None:
            bind = session.bind
            assert bind is not None
            compiled = self.statement.compile(dialect=bind.dialect)
            assert isinstance(compiled, SQLCompiler)
            plan = self._plans[shape] = _DriverPlan(compiled, params)
        return plan


class _DriverPlan:
    """Where each positional argument of one compiled shape comes from, and its processor."""

    def __init__(self, compiled: SQLCompiler, params: dict[str, Any]) -> None:
        state = compiled.construct_expanded_state(params)
        self.sql = state.statement
        origin = {
            expanded: (name, index)
            for name, expanded_names in state.parameter_expansion.items()
            for index, expanded in enumerate(expanded_names)
        }
        self._sources: list[tuple[str | None, int | None, Any, Any]] = []
        dialect = compiled.dialect
        for expanded in state.positiontup or ():
            name, index = origin.get(expanded, (expanded, None))
            bind_type = compiled.binds[name].type
            processor = bind_type.dialect_impl(dialect).bind_processor(dialect)
            if name in params:
                self._sources.append((name, index, None, processor))
            else:  # a value written into the statement itself, e.g. IN ('a', 'b')
                constant = state.parameters[expanded]
                self._sources.append(
                    (None, None, processor(constant) if processor else constant, None)
                )

    def arguments(self, params: dict[str, Any]) -> list[Any]:
        values = []
        for name, index, constant, processor in self._sources:
            if name is None:
                values.append(constant)
                continue
            value = params[name] if index is None else params[name][index]
            values.append(processor(value) if processor else value)
        return values


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's one transaction: committed here, before the response is sent.

    Used with ``scope="function"`` so FastAPI runs the commit as soon as the endpoint
    returns; a failing commit therefore still becomes an error response.
    """
    database: Database = request.app.state.database
    async with database.sessionmaker() as session:
        if database.is_sqlite and request.method not in ("GET", "HEAD", "OPTIONS"):
            locks_on = not request.app.state.settings.unsafe_disable_booking_locks
            await _begin(session, "IMMEDIATE" if locks_on else "DEFERRED")
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


async def _begin(session: AsyncSession, mode: str) -> None:
    try:
        await session.connection(execution_options={"sqlite_begin": mode})
    except Exception as exc:
        if is_unavailable(exc):
            raise ServiceBusy() from exc
        raise


SessionDep = Annotated[AsyncSession, Depends(request_session, scope="function")]
