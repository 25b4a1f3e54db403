"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from slotbook.migrations.runner import schema_status_of

router = APIRouter(tags=["health"])
READY_TIMEOUT_SECONDS = 3


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about the database."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    responses={503: {"description": "The database is unreachable or its schema is behind"}},
)
async def readyz(request: Request) -> JSONResponse:
    """Ready when the database answers and its schema is the one this code expects.

    The schema is compared with the migrations' head only until it is seen up to date
    once (cached on the app): schemas do not go backwards under a running server, and the
    probe stays a single ``SELECT 1`` after that.
    """
    engine: AsyncEngine = request.app.state.database.engine
    schema_known_ok = getattr(request.app.state, "schema_ok", False)
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            async with engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
                status = None if schema_known_ok else await connection.run_sync(schema_status_of)
    except Exception as exc:  # any failure to reach the database means "not ready"
        return _unavailable(f"database unreachable: {type(exc).__name__}")
    if status is not None:
        if not status.ok:
            return _unavailable(f"database {status.describe()}")
        request.app.state.schema_ok = True
    return JSONResponse({"status": "ok"})


def _unavailable(detail: str) -> JSONResponse:
    return JSONResponse(
        {"status": "unavailable", "detail": detail},
        status_code=503,
        headers={"Retry-After": "1"},
    )
