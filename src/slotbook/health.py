"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from slotbook.db import Database

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up; says nothing about the database."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "The database is unreachable"}})
async def readyz(request: Request) -> JSONResponse:
    database: Database = request.app.state.database
    try:
        async with asyncio.timeout(3):
            async with database.engine.connect() as connection:
                await connection.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        return JSONResponse(
            {"status": "unavailable", "detail": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
            headers={"Retry-After": "1"},
        )
    return JSONResponse({"status": "ok"})
