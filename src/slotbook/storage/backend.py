"""The storage backends: everything that differs between PostgreSQL and SQLite.

A backend is chosen once, when the database is created, and reached from any session
with ``storage_of(session)``. Services and repositories ask it to begin a writing
transaction, to lock, to run a locked section, to upsert and to run statements; they
never ask which database they run on.

The locking protocol (``run_locked``): everything a decision depends on is named up front
(rows of staff, customers, appointments ...), locked in one sorted order, once per
transaction; the work then re-reads what it needs, decides and writes. A deadlock or
serialization failure rolls the section back to its savepoint and runs it again, a bounded
number of times. A lock that cannot be had within the lock timeout is a 503.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

import sqlalchemy as sa
import structlog
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.sql.compiler import SQLCompiler

from slotbook.errors import DomainError, ServiceBusy
from slotbook.storage.errors import RetryableConflict, is_broken_connection, translate
from slotbook.storage.schema import TenantScoped

log = structlog.get_logger("slotbook.storage")
T = TypeVar("T")
# The tenant of a statement built once, bound when it runs.
TENANT_ID = sa.bindparam("tenant_id", type_=sa.String)
_STORAGE = "slotbook.storage"
_DRIVER = "slotbook.driver_connection"
_LOCKED = "slotbook.locked"

Statement = (
    sa.Select[*tuple[Any, ...]]
    | sa.CompoundSelect[*tuple[Any, ...]]
    | sa.Insert
    | sa.Update
    | sa.Delete
)
# What a locked section locks: rows by table and id (``{Staff: ["st_1", "st_2"]}``).
LockTargets = Mapping[type[TenantScoped], Sequence[str]]


class Query:
    """A Core statement built once at import and run through the session's backend.

    Building a statement and its cache key costs more CPU than running it, and a booking
    runs a dozen. ``tenant_id`` is bound through ``TENANT_ID``. Rows come back as
    indexable tuples; select only columns whose values the driver decodes itself
    (strings, numbers, booleans, aware timestamps, JSON) or ``epoch_seconds``.
    """

    def __init__(self, statement: Statement) -> None:
        self.statement = statement
        # Compiled forms per shape (the lengths of its IN lists), for a backend's fast path.
        self.plans: dict[tuple[tuple[str, int], ...], Any] = {}


def storage_of(session: AsyncSession) -> Storage:
    """The backend of the database this session belongs to."""
    storage: Storage = session.info[_STORAGE]
    return storage


class Storage:
    """How one kind of database is written to. Subclasses fill in the differences."""

    dialect: ClassVar[str]

    def __init__(self, *, locks: bool = True, deadlock_retries: int = 3) -> None:
        # False only for the race-control tests: the same races must then be seen to fail.
        self.locks = locks
        self.deadlock_retries = deadlock_retries
        self._lock_queries: dict[type[TenantScoped], Query] = {}

    def session_info(self) -> dict[str, Any]:
        return {_STORAGE: self}

    # Transactions

    async def begin_write(self, session: AsyncSession) -> None:
        """Begin a transaction that will write (before its first statement)."""

    async def commit(self, session: AsyncSession) -> None:
        try:
            await session.commit()
        except Exception as exc:
            raise _translated(exc) from exc

    @contextlib.asynccontextmanager
    async def savepoint(self, session: AsyncSession) -> AsyncIterator[None]:
        """A part of the transaction that can fail alone: a constraint it breaks is
        ``DuplicateRow`` and undoes only this part."""
        try:
            async with session.begin_nested():
                yield
        except DomainError:
            raise
        except Exception as exc:
            raise _translated(exc) from exc

    # Locks

    async def run_locked(
        self,
        session: AsyncSession,
        tenant_id: str,
        targets: LockTargets,
        work: Callable[[], Awaitable[T]],
    ) -> T:
        """Lock ``targets`` (sorted, once per transaction), then run ``work``: the one
        locking protocol. A deadlock reruns the whole section, locks included."""
        if session.info.get(_LOCKED):
            raise RuntimeError("a transaction takes its locks once, in one sorted order")
        session.info[_LOCKED] = True
        for attempt in range(self.deadlock_retries + 1):
            try:
                async with self.savepoint(session):
                    await self.lock(session, tenant_id, targets)
                    return await work()
            except DomainError as exc:
                if not isinstance(exc, RetryableConflict):
                    raise
            except Exception as exc:
                if not isinstance(_translated(exc), RetryableConflict):
                    raise
            log.warning("locked_section_retry", attempt=attempt + 1)
        raise RetryableConflict()

    async def lock(self, session: AsyncSession, tenant_id: str, targets: LockTargets) -> None:
        """Take the row locks of ``targets`` in one global order: by table, then id."""

    async def lock_name(self, session: AsyncSession, name: str) -> None:
        """Serialise the creation of something that is not a row yet (e.g. a customer by
        email), until the transaction ends."""

    def skip_locked(self, candidates: sa.Select[Any]) -> sa.Select[Any]:
        """``candidates`` as a claim of queue rows (the outbox worker's): rows another
        claimer holds are passed over, not waited for. Unchanged here: a writing
        transaction holds the database's one write lock (SQLite), so no other claimer
        runs at the same time."""
        return candidates

    def _lock_query(self, table: type[TenantScoped]) -> Query:
        query = self._lock_queries.get(table)
        if query is None:
            query = self._lock_queries[table] = Query(
                sa.select(table.id)
                .where(
                    table.tenant_id == TENANT_ID,
                    table.id.in_(sa.bindparam("ids", expanding=True)),
                )
                .order_by(table.id)
                .with_for_update()
            )
        return query

    # Statements

    async def execute(
        self, session: AsyncSession, statement: sa.Executable, params: Any = None
    ) -> sa.Result[Any]:
        """Run a statement through the session (ORM or Core), its errors translated."""
        try:
            return await session.execute(statement, params)
        except Exception as exc:
            raise _translated(exc) from exc

    async def refresh(self, session: AsyncSession, item: object) -> None:
        """Read an ORM object's row again (e.g. after the locks that guard it were taken)."""
        try:
            await session.refresh(item)
        except Exception as exc:
            raise _translated(exc) from exc

    async def flush(self, session: AsyncSession) -> None:
        try:
            await session.flush()
        except Exception as exc:
            raise _translated(exc) from exc

    async def fetch(
        self, session: AsyncSession, query: Query, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        """All rows of a ``Query`` as indexable tuples."""
        return (await self.execute(session, query.statement, dict(params))).all()

    async def insert_rows(
        self, session: AsyncSession, query: Query, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run an insert ``Query`` for each of ``rows``."""
        if rows:
            await self.execute(session, query.statement, [dict(row) for row in rows])

    async def insert_or_ignore(
        self, session: AsyncSession, table: type[Any], values: Mapping[str, Any]
    ) -> bool:
        """Insert a row unless its primary key exists; whether it was inserted. Waits for
        a concurrent uncommitted insert of the same key."""
        stmt = self._insert(table).values(dict(values)).on_conflict_do_nothing()
        result = await self.execute(session, stmt.returning(*sa.inspect(table).primary_key))
        return result.first() is not None

    async def increment(
        self,
        session: AsyncSession,
        table: type[Any],
        values: Mapping[str, Any],
        counter: str,
    ) -> int:
        """Insert a row with ``counter`` at its given value, or add that value to the
        existing row's counter; the counter after, atomically."""
        column = getattr(table, counter)
        key = [column.key for column in sa.inspect(table).primary_key]
        stmt = (
            self._insert(table)
            .values(dict(values))
            .on_conflict_do_update(index_elements=key, set_={counter: column + values[counter]})
            .returning(column)
        )
        return int((await self.execute(session, stmt)).scalar_one())

    def _insert(self, table: type[Any]) -> Any:
        raise NotImplementedError


class SqliteStorage(Storage):
    """The embedded database: one writer at a time, across every process.

    A writing transaction begins ``BEGIN IMMEDIATE``, which takes SQLite's single write
    lock at once; everything it then reads and decides is therefore already serialised,
    so row locks are not needed (and SQLite has none).
    """

    dialect = "sqlite"

    async def begin_write(self, session: AsyncSession) -> None:
        # Without locks (race control), DEFERRED lets two writers read before either writes.
        mode = "IMMEDIATE" if self.locks else "DEFERRED"
        try:
            await session.connection(execution_options={"sqlite_begin": mode})
        except Exception as exc:
            raise _translated(exc) from exc

    def _insert(self, table: type[Any]) -> Any:
        return sqlite.insert(table)


class PostgresStorage(Storage):
    """PostgreSQL: row locks for decisions, advisory locks for names, and a fast path
    that sends hot statements to asyncpg itself.

    Through SQLAlchemy a statement costs the worker ~0.2 ms of CPU; sent to asyncpg
    directly, ~0.05 ms, and a booking runs a dozen. The fast path uses public API only:
    the pool's ``driver_connection`` and asyncpg's ``is_in_transaction``. SQLAlchemy's
    adapter begins its transaction lazily with its first statement, so a statement is
    only sent to the driver once that transaction is open; until then it runs through
    SQLAlchemy, which opens it (tests/test_request_transaction.py).
    """

    dialect = "postgresql"

    async def lock(self, session: AsyncSession, tenant_id: str, targets: LockTargets) -> None:
        if not self.locks:
            return
        for table in sorted(targets, key=lambda model: model.__name__):
            ids = sorted(set(targets[table]))
            if ids:
                # Row locks in id order: two sections that lock the same rows queue in
                # the same order and cannot deadlock on them.
                await self.fetch(
                    session, self._lock_query(table), {"tenant_id": tenant_id, "ids": ids}
                )

    async def lock_name(self, session: AsyncSession, name: str) -> None:
        if not self.locks:
            return
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        # A transaction-scoped advisory lock: released at commit or rollback, never leaked
        # to the next user of the pooled connection.
        await self.execute(session, sa.select(sa.func.pg_advisory_xact_lock(key)))

    def _insert(self, table: type[Any]) -> Any:
        return postgresql.insert(table)

    def skip_locked(self, candidates: sa.Select[Any]) -> sa.Select[Any]:
        # Several workers claim from one table: FOR UPDATE SKIP LOCKED lets each take
        # rows the others have not, instead of queueing behind their claims.
        return candidates.with_for_update(skip_locked=True)

    async def fetch(
        self, session: AsyncSession, query: Query, params: Mapping[str, Any]
    ) -> Sequence[Any]:
        driver = await self._driver(session)
        if driver is None:
            return await super().fetch(session, query, params)
        plan = self._plan(session, query, params)
        try:
            return await driver.fetch(plan.sql, *plan.arguments(params))  # type: ignore[no-any-return]
        except Exception as exc:
            await self._invalidate_if_broken(session, exc)
            raise _translated(exc) from exc

    async def insert_rows(
        self, session: AsyncSession, query: Query, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        if not rows:
            return
        driver = await self._driver(session)
        if driver is None:
            await super().insert_rows(session, query, rows)
            return
        plan = self._plan(session, query, rows[0])
        try:
            if len(rows) == 1:
                await driver.execute(plan.sql, *plan.arguments(rows[0]))
            else:
                await driver.executemany(plan.sql, [plan.arguments(row) for row in rows])
        except Exception as exc:
            await self._invalidate_if_broken(session, exc)
            raise _translated(exc) from exc

    async def _driver(self, session: AsyncSession) -> Any:
        """The asyncpg connection of the session's open transaction, or None while that
        transaction has not begun (its first statement then goes through SQLAlchemy)."""
        driver = session.info.get(_DRIVER)
        if driver is None:
            try:
                connection: AsyncConnection = await session.connection()
                driver = (await connection.get_raw_connection()).driver_connection
            except Exception as exc:
                raise _translated(exc) from exc
            if driver is None:
                return None
            # The session keeps this connection until its transaction ends (when the
            # entry is dropped): looking it up once saves two greenlet hops a statement.
            session.info[_DRIVER] = driver
        return driver if driver.is_in_transaction() else None

    def _plan(self, session: AsyncSession, query: Query, params: Mapping[str, Any]) -> _Plan:
        shape = tuple(sorted((k, len(v)) for k, v in params.items() if isinstance(v, list | tuple)))
        plan: _Plan | None = query.plans.get(shape)
        if plan is None:
            bind = session.bind
            assert bind is not None, "sessions are always bound to the engine"
            compiled = query.statement.compile(dialect=bind.dialect)
            assert isinstance(compiled, SQLCompiler)
            plan = query.plans[shape] = _Plan(compiled, params)
        return plan

    async def _invalidate_if_broken(self, session: AsyncSession, error: BaseException) -> None:
        """Drop the session's connection when the driver shows it is broken (the server
        ended it, or its protocol is stuck mid-operation), as SQLAlchemy does for the
        statements it runs: it must not go back to the pool."""
        if not is_broken_connection(error):
            return
        session.info.pop(_DRIVER, None)
        with contextlib.suppress(Exception):  # the error being raised is what matters
            await (await session.connection()).invalidate()


class _Plan:
    """One compiled shape of a ``Query``: its SQL, and where each positional argument
    comes from with SQLAlchemy's bind processor for its type."""

    def __init__(self, compiled: SQLCompiler, params: Mapping[str, Any]) -> None:
        state = compiled.construct_expanded_state(dict(params))
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

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = []
        for name, index, constant, processor in self._sources:
            if name is None:
                values.append(constant)
                continue
            value = params[name] if index is None else params[name][index]
            values.append(processor(value) if processor else value)
        return values


@event.listens_for(Session, "after_transaction_end")
def _forget_transaction_state(session: Session, transaction: SessionTransaction) -> None:
    """The next transaction may hold another connection, and takes its own locks."""
    if transaction.parent is None:
        session.info.pop(_DRIVER, None)
        session.info.pop(_LOCKED, None)


def _translated(exc: BaseException) -> BaseException:
    """The domain error for a database error; the error itself when it is a bug."""
    if isinstance(exc, DomainError):
        return exc
    domain = translate(exc)
    if domain is None:
        return exc
    if isinstance(domain, ServiceBusy):
        log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:300])
    return domain
