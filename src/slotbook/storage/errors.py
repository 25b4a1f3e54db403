"""Every error the database stack can raise, turned into the domain's errors.

The only module that knows the driver's, SQLAlchemy's and sqlite3's exception classes.
Whatever raised it - a statement through SQLAlchemy, one sent to asyncpg directly, a
commit, a pool checkout, a connection attempt - the rest of the application sees one of:

- ``DuplicateRow`` (409): a unique or foreign key constraint refused the write;
- ``RetryableConflict`` (503 if it escapes): a deadlock or serialization failure, which
  ``Storage.run_locked`` retries;
- ``ServiceBusy`` (503 with Retry-After): unreachable, overloaded, a lock or statement
  timeout, a connection the server ended.

Anything else is a bug and stays what it is (a 500 with its traceback in the log).
"""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from slotbook.errors import DomainError, DuplicateRow, ServiceBusy


class RetryableConflict(ServiceBusy):
    """A deadlock or serialization failure: the transaction's locked part may run again."""

    default_detail = "The booking could not be completed, please retry"


# What the application's safety net hands to ``translate``.
DATABASE_ERRORS: tuple[type[BaseException], ...] = (
    SQLAlchemyError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    sqlite3.Error,
    OSError,
    TimeoutError,
)

_UNAVAILABLE_SQLSTATES = {
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown (backend terminated)
    "57P02",
    "57P03",
    "3D000",  # invalid_catalog_name: the database does not exist (yet, or any more)
    "28000",  # invalid_authorization_specification: the role is refused
    "28P01",  # invalid_password
    "08000",
    "08003",
    "08006",
}
_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock
# asyncpg errors after which the connection is unusable, although asyncpg may not have
# marked it closed yet: e.g. the server terminated the backend mid-operation, leaving the
# protocol "in another operation".
_BROKEN_CONNECTION_ERRORS = (
    "InternalClientError",
    "ConnectionDoesNotExistError",
    "ConnectionFailureError",
    "InterfaceError",
)
_DISCONNECT_SQLSTATE_PREFIXES = ("08", "57P")


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, wrapped by SQLAlchemy or straight from the driver."""
    orig = getattr(exc, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None), exc):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def translate(exc: BaseException) -> DomainError | None:
    """The domain error a database error means, or None when it is a bug."""
    if isinstance(exc, DomainError):
        return exc
    code = sqlstate(exc)
    if code in _RETRYABLE_SQLSTATES:
        return RetryableConflict()
    if isinstance(exc, IntegrityError | asyncpg.IntegrityConstraintViolationError):
        return DuplicateRow()
    if isinstance(exc, sqlite3.IntegrityError):
        return DuplicateRow()
    if is_unavailable(exc):
        return ServiceBusy()
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "try again shortly" rather than a bug."""
    if isinstance(exc, PoolTimeoutError | ConnectionError | TimeoutError | OSError):
        return True
    code = sqlstate(exc)
    if code in _UNAVAILABLE_SQLSTATES or code in _RETRYABLE_SQLSTATES:
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if isinstance(exc, OperationalError | InterfaceError):
            return True
        return is_broken_connection(exc.orig)
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc) or "unable to open" in str(exc)
    if isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError):
        return True
    return is_broken_connection(exc)


def is_broken_connection(error: BaseException | None) -> bool:
    """Whether the connection that raised this must not go back to the pool."""
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
