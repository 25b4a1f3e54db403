"""The storage layer: the one owner of the database.

It alone knows which database runs (PostgreSQL or the embedded SQLite), how a writing
transaction begins, how rows are locked, how statements reach the driver and what each
database error means. Everything else imports from here.
"""

from slotbook.storage.backend import TENANT_ID, LockTargets, Query, Storage, storage_of
from slotbook.storage.database import (
    Database,
    SessionDep,
    create_database,
    is_embedded,
    prepare_location,
    render_as_batch,
    request_session,
)
from slotbook.storage.errors import (
    DATABASE_ERRORS,
    RetryableConflict,
    translate,
)
from slotbook.storage.schema import Base, TenantScoped, UTCDateTime, epoch_seconds

__all__ = [
    "DATABASE_ERRORS",
    "TENANT_ID",
    "Base",
    "Database",
    "LockTargets",
    "Query",
    "RetryableConflict",
    "SessionDep",
    "Storage",
    "TenantScoped",
    "UTCDateTime",
    "create_database",
    "epoch_seconds",
    "is_embedded",
    "prepare_location",
    "render_as_batch",
    "request_session",
    "storage_of",
    "translate",
]
