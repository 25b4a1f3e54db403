"""The application factory and the one place errors become responses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from slotbook import __version__
from slotbook.auth.routes import router as auth_router
from slotbook.availability.routes import router as availability_router
from slotbook.booking.routes import router as booking_router
from slotbook.catalog.routes import router as catalog_router
from slotbook.clock import Clock, SystemClock
from slotbook.db import create_database, is_unavailable
from slotbook.errors import DomainError, ServiceBusy
from slotbook.health import router as health_router
from slotbook.logging import configure_logging
from slotbook.middleware import BodyLimit, RequestContext
from slotbook.public.routes import router as public_router
from slotbook.settings import Settings, get_settings
from slotbook.web.routes import router as web_router

log = structlog.get_logger("slotbook.app")
API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    database = create_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        await database.dispose()

    app = FastAPI(
        title="Slotbook",
        version=__version__,
        description="Booking backend with parallel (group) booking. "
        "Authorize with a tenant user's email and password.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock or SystemClock()
    app.state.secret_key = settings.resolved_secret_key()

    app.include_router(health_router)
    for router in (auth_router, catalog_router, booking_router, availability_router):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(public_router, prefix=f"{API_PREFIX}/public")
    app.include_router(web_router)
    _register_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContext)
    return app


def _register_error_handlers(app: FastAPI) -> None:
    async def domain_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers())

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse(
            {"detail": [_readable(error) for error in exc.errors()], "code": "validation_error"},
            status_code=422,
        )

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, IntegrityError):
            log.info("integrity_conflict", error=str(exc.orig))
            return JSONResponse(
                {"detail": "This conflicts with existing data", "code": "conflict"},
                status_code=409,
            )
        if is_unavailable(exc):
            log.warning("database_unavailable", error=type(exc).__name__, message=str(exc)[:300])
            busy = ServiceBusy()
            return JSONResponse(busy.body(), status_code=503, headers=busy.headers())
        log.exception("database_error")
        return JSONResponse({"detail": "Internal server error"}, status_code=500)

    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(SQLAlchemyError, database_error)
    app.add_exception_handler(OSError, database_error)
    app.add_exception_handler(TimeoutError, database_error)


def _readable(error: Any) -> dict[str, Any]:
    loc = [str(part) for part in error.get("loc", ())]
    field = ".".join(part for part in loc if part not in ("body", "query", "path", "header"))
    message = str(error.get("msg", "invalid value"))
    return {
        "loc": loc,
        "msg": f"{field}: {message}" if field else message,
        "type": error.get("type", "value_error"),
    }
