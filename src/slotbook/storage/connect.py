"""Opening a database for administration (migrations, schema checks) with a bounded
wait, and saying in one line why it could not be opened."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine
from sqlalchemy.pool import NullPool

from slotbook.storage.database import is_embedded, prepare_location

__all__ = ["DatabaseUnreachable", "connected", "explain_connect_error", "prepare_location"]


class DatabaseUnreachable(Exception):
    """The database could not be opened; the message is one line an operator can act on.

    ``transient`` when the server did not answer (down, restarting, failing over): that
    may pass by itself. Otherwise the server answered and refused (no such database, a
    refused login), which only a change of configuration mends.
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@asynccontextmanager
async def connected(database_url: str, seconds: float) -> AsyncIterator[AsyncConnection]:
    url = make_url(database_url)
    embedded = is_embedded(database_url)
    prepare_location(database_url)
    engine = create_async_engine(
        url, poolclass=NullPool, connect_args={} if embedded else {"timeout": seconds}
    )
    try:
        try:
            async with asyncio.timeout(seconds + 1):  # the driver's own bound comes first
                connection = await engine.connect()
        except Exception as exc:
            transient = isinstance(exc, OSError | TimeoutError) or _sqlstate(exc) in (
                "57P03",  # the server is starting up or shutting down
                "53300",  # too many connections
            )
            raise DatabaseUnreachable(explain_connect_error(exc, url), transient=transient) from exc
        try:
            yield connection
        finally:
            await connection.close()
    finally:
        await engine.dispose()


def explain_connect_error(exc: BaseException, url: URL) -> str:
    """One line saying why connecting to ``url`` failed (never with its password)."""
    if is_embedded(url.render_as_string(hide_password=False)):
        return f"cannot open the SQLite database {url.database}: {_first_line(exc)}"
    where = f"{url.host or 'localhost'}:{url.port or 5432}"
    code = _sqlstate(exc)
    if code == "3D000":
        return (
            f'database "{url.database}" does not exist on the PostgreSQL server at {where}; '
            f"create it (createdb {url.database}) or fix SLOTBOOK_DATABASE_URL"
        )
    if code in ("28000", "28P01"):
        return f"the PostgreSQL server at {where} refused the login: {_first_line(exc)}"
    if isinstance(exc, TimeoutError):
        return f"cannot reach the PostgreSQL server at {where}: no answer in time"
    if isinstance(exc, OSError):
        return f"cannot reach the PostgreSQL server at {where}: {_os_reason(exc)}"
    return f"cannot connect to the PostgreSQL server at {where}: {_first_line(exc)}"


def _os_reason(exc: OSError) -> str:
    """ "Connection refused" rather than asyncio's "Connect call failed ('10.0.0.5', 5432)"."""
    if isinstance(exc, socket.gaierror) or not exc.errno:
        return exc.strerror or _first_line(exc)
    return os.strerror(exc.errno)


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE anywhere in the chain (SQLAlchemy wraps the adapter, which wraps
    the driver)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        code = getattr(seen, "sqlstate", None)
        if isinstance(code, str):
            return code
        seen = getattr(seen, "orig", None) or seen.__cause__
    return None


def _first_line(exc: BaseException) -> str:
    """The driver's message without SQLAlchemy's "(sqlalchemy...Error)" prefix and
    "Background on this error" footer."""
    error: BaseException = getattr(exc, "orig", None) or exc
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
