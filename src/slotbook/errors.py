"""Domain errors: each class carries its HTTP status and a stable code.

Services raise these; one handler in ``app.py`` renders them, so no service
needs to know about HTTP.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail
        self.extra = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "code": self.code, **self.extra}

    def headers(self) -> dict[str, str] | None:
        return None

    @classmethod
    def schema(cls) -> dict[str, Any]:
        """OpenAPI response entry for routes that can raise this error."""
        return {
            "description": cls.default_detail,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["detail"],
                        "properties": {
                            "detail": {"type": "string"},
                            "code": {"type": "string"},
                        },
                        "additionalProperties": True,
                    }
                }
            },
        }


class NotAuthenticated(DomainError):
    status_code = 401
    code = "not_authenticated"
    default_detail = "Not authenticated"

    def headers(self) -> dict[str, str] | None:
        return {"WWW-Authenticate": "Bearer"}


class InvalidCredentials(NotAuthenticated):
    code = "invalid_credentials"
    default_detail = "Incorrect email or password"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"
    default_detail = "Your role does not allow this action"


class NotFound(DomainError):
    status_code = 404
    code = "not_found"
    default_detail = "Not found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"
    default_detail = "Conflict with the current state"


class DuplicateRow(Conflict):
    """A constraint refused the write: usually a concurrent request got there first."""

    default_detail = "This conflicts with existing data"


class InvalidInput(DomainError):
    """422 for input that parses but cannot be used, e.g. an unknown id in the body."""

    status_code = 422
    code = "invalid_input"
    default_detail = "Invalid input"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        if field is not None:
            extra["field"] = field
        super().__init__(detail, **extra)


class ServiceBusy(DomainError):
    """The database is unreachable, overloaded or a lock could not be had in time."""

    status_code = 503
    code = "service_unavailable"
    default_detail = "The service is busy, please retry shortly"
    retry_after_seconds: ClassVar[int] = 1

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_seconds)}


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"
    default_detail = "Too many requests, slow down"

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__()
        self.retry_after_seconds = retry_after_seconds

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after_seconds)}


def responses(*errors: type[DomainError]) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the domain errors a route can answer with."""
    documented: dict[int | str, dict[str, Any]] = {}
    for error in errors:
        documented.setdefault(error.status_code, error.schema())
    return documented


AUTHED = (NotAuthenticated, Forbidden)
