"""Types shared by every domain's request and response schemas."""

from __future__ import annotations

from datetime import time
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from fastapi import Query
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    model_validator,
)

T = TypeVar("T")

MAX_LIMIT = 500


def _strip(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL; refuse it here rather than fail in the database."""
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\u0000) characters")
    return value


def _parse_time(value: Any) -> Any:
    """Accept ``HH:MM`` and ``HH:MM:SS`` (nothing else: no fractions, no offsets)."""
    if isinstance(value, time):
        return value
    if not isinstance(value, str):
        raise ValueError("time must be a string HH:MM or HH:MM:SS")
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(
        len(p) == 2 and p.isascii() and p.isdigit() for p in parts
    ):
        raise ValueError("time must be HH:MM or HH:MM:SS")
    hour, minute, second = (int(p) for p in [*parts, "00"][:3])
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("time out of range")
    return time(hour, minute, second)


Name = Annotated[
    str, BeforeValidator(_strip), Field(min_length=1, max_length=200), AfterValidator(_no_nul)
]
OptionalText = Annotated[
    str, BeforeValidator(_strip), Field(max_length=2000), AfterValidator(_no_nul)
]
SearchText = Annotated[str, AfterValidator(_no_nul)]
Slug = Annotated[str, Field(pattern=r"^[a-z0-9]+(-[a-z0-9]+)*$", min_length=1, max_length=80)]
Currency = Annotated[
    str, BeforeValidator(_strip), Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code")
]
Id = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_no_nul)]
TimeOfDay = Annotated[
    time,
    BeforeValidator(_parse_time),
    PlainSerializer(lambda t: t.strftime("%H:%M:%S"), return_type=str),
    Field(json_schema_extra={"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$"}),
]


def _whole_minute(value: time) -> time:
    if value.second:
        raise ValueError("times must fall on a whole minute")
    return value


MinuteTime = Annotated[TimeOfDay, AfterValidator(_whole_minute)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int


class PageParams(BaseModel):
    limit: int
    offset: int


async def page_params(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


class PatchModel(BaseModel):
    """A partial update: only fields sent are applied; ``null`` only where allowed."""

    model_config = ConfigDict(extra="forbid")
    nullable_fields: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _reject_null(self) -> Self:
        for name in self.model_fields_set:
            if getattr(self, name) is None and name not in self.nullable_fields:
                raise ValueError(f"{name} may not be null")
        return self

    def changes(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.model_fields_set}
