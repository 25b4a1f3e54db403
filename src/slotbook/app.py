"""The application factory and the one place errors become responses."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from slotbook import __version__
from slotbook.auth.routes import router as auth_router
from slotbook.availability.routes import router as availability_router
from slotbook.booking import service as booking_service
from slotbook.booking.routes import router as booking_router
from slotbook.booking.routes import waitlist_router
from slotbook.catalog.routes import router as catalog_router
from slotbook.clock import Clock, SystemClock
from slotbook.desk.routes import router as desk_router
from slotbook.docs import install_docs
from slotbook.errors import DomainError, ServiceBusy
from slotbook.feeds.routes import router as feeds_router
from slotbook.health import router as health_router
from slotbook.logging import configure_logging
from slotbook.middleware import BodyLimit, RequestContext
from slotbook.notifications.routes import router as webhooks_router
from slotbook.public.routes import router as public_router
from slotbook.settings import Settings, get_settings
from slotbook.storage import DATABASE_ERRORS, create_database, translate
from slotbook.timetable.routes import router as timetable_router
from slotbook.web.routes import router as web_router

log = structlog.get_logger("slotbook.app")
API_PREFIX = "/api/v1"
_UNPARSABLE_BODY = "There was an error parsing the body"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    database = create_database(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # What exists at start-up lives as long as the process: keep it out of the
        # collector's full passes, which otherwise walk it during large responses.
        gc.freeze()
        yield
        await database.dispose()

    app = FastAPI(
        title="Slotbook",
        version=__version__,
        description="Booking backend with parallel (group) booking. "
        "Authorize with a tenant user's email and password.",
        lifespan=lifespan,
        docs_url=None,  # served by slotbook.docs, without CDNs
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = database
    app.state.clock = clock or SystemClock()
    app.state.secret_key = settings.resolved_secret_key()
    # A changed service reaches its bookings and waitlist without the catalog importing
    # booking: warnings over a lowered capacity, promotions into a raised one.
    app.state.service_changed = booking_service.service_changed

    install_docs(app)
    app.include_router(health_router)
    for router in (
        auth_router,
        catalog_router,
        booking_router,
        waitlist_router,
        availability_router,
        timetable_router,
    ):
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(desk_router, prefix=API_PREFIX)
    app.include_router(webhooks_router, prefix=API_PREFIX)
    app.include_router(public_router, prefix=f"{API_PREFIX}/public")
    app.include_router(feeds_router)  # /api/v1/calendar-feeds and /feeds/{token}.ics
    app.include_router(web_router)
    _register_error_handlers(app)
    _document_errors(app)
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

    async def database_error(_request: Request, exc: Exception) -> JSONResponse:
        # The safety net for a database error raised outside the storage layer's own
        # calls (e.g. an ORM flush): the storage layer says what it means.
        domain = translate(exc)
        if domain is None:
            log.exception("database_error")
            return JSONResponse({"detail": "Internal server error"}, status_code=500)
        log.warning("database_error_translated", error=type(exc).__name__, code=domain.code)
        return JSONResponse(domain.body(), status_code=domain.status_code, headers=domain.headers())

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code in (204, 304):
            return Response(status_code=exc.status_code, headers=exc.headers)
        if exc.status_code == 400 and exc.detail == _UNPARSABLE_BODY:
            # FastAPI answers 400 for a body it cannot even decode (e.g. bytes that are not
            # UTF-8), 422 for one that is not valid JSON: both are invalid input, 422.
            return JSONResponse(
                {
                    "detail": [
                        {"loc": ["body"], "msg": "body: not valid JSON", "type": "json_invalid"}
                    ],
                    "code": "validation_error",
                },
                status_code=422,
            )
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.status_code == 413:
            body["code"] = "payload_too_large"
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    for error in DATABASE_ERRORS:
        app.add_exception_handler(cast(type[Exception], error), database_error)


_VALIDATION_DETAIL: dict[str, Any] = {
    "anyOf": [
        {"type": "string"},
        {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    ]
}


def _document_errors(app: FastAPI) -> None:
    """Make the OpenAPI document describe every error the handlers above can send.

    - A 422 is either a domain error (``detail`` a string) or a request validation error
      (``detail`` a list): routes that document ``InvalidInput`` get both shapes.
    - Every operation with a body may answer 413 (``BodyLimit``).
    - Every API operation may answer 503 with Retry-After (database unavailable or busy).
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build()
        for path, item in schema.get("paths", {}).items():
            for operation in item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                answers: dict[str, Any] = operation["responses"]
                for status, answer in answers.items():
                    if status == "422":
                        _widen_detail(answer)
                if "requestBody" in operation:
                    answers.setdefault("413", PayloadTooLarge.schema())
                if path.startswith(API_PREFIX) or path == "/readyz":
                    answers.setdefault("503", ServiceBusy.schema())
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _widen_detail(answer: dict[str, Any]) -> None:
    body = answer.get("content", {}).get("application/json", {}).get("schema", {})
    detail = body.get("properties", {}).get("detail")
    if detail == {"type": "string"}:
        body["properties"]["detail"] = _VALIDATION_DETAIL


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"
    default_detail = "Request body too large (limit 1 MiB)"


def _readable(error: Any) -> dict[str, Any]:
    loc = [str(part) for part in error.get("loc", ())]
    field = ".".join(part for part in loc if part not in ("body", "query", "path", "header"))
    message = str(error.get("msg", "invalid value"))
    return {
        "loc": loc,
        "msg": f"{field}: {message}" if field else message,
        "type": error.get("type", "value_error"),
    }
