"""Tenant-scoped data access: a statement goes in, models or views come out.

Every query of a tenant's rows starts from ``base_query`` (or, for statements built once
at import, from ``prepared_query`` with the tenant bound when it runs), and every
statement runs through the session's storage backend, which translates its errors.

Two ways to read, one per purpose: ORM objects (``get``, ``get_many``, ``page``) where the
request changes them, and frozen views (``views``, ``view_for_field``) for hot reads
that change nothing - an ORM load costs several times the CPU of a plain row.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.errors import InvalidInput, NotFound
from slotbook.ids import new_id
from slotbook.storage import TENANT_ID, Query, Storage, TenantScoped, storage_of

ModelT = TypeVar("ModelT", bound=TenantScoped)
ViewT = TypeVar("ViewT")


def well_formed_id(item_id: str) -> bool:
    """Ids we could have issued; anything else (too long, NUL) is simply not found.

    PostgreSQL refuses text with NUL outright, so such an id must never reach a query.
    """
    return 0 < len(item_id) <= 64 and "\x00" not in item_id


def prepared_query(model: type[TenantScoped]) -> sa.Select[Any]:
    """``base_query`` with the tenant as a bound parameter, for statements built once."""
    return sa.select(model).where(model.tenant_id == TENANT_ID)


def view_columns(model: type[TenantScoped], view: type[Any]) -> list[Any]:
    """The model's columns a frozen view is made of, in the view's field order."""
    return [getattr(model, field.name) for field in dataclasses.fields(view)]


class TenantRepository(Generic[ModelT]):
    model: ClassVar[type[Any]]
    label: ClassVar[str] = "Item"
    _by_id: ClassVar[sa.Select[Any]]
    _by_id_for_update: ClassVar[sa.Select[Any]]
    _by_ids: ClassVar[sa.Select[Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "model" not in cls.__dict__:  # an abstract base such as ViewRepository
            return
        cls._by_id = prepared_query(cls.model).where(cls.model.id == sa.bindparam("item_id"))
        cls._by_id_for_update = cls._by_id.with_for_update()
        in_ids = cls.model.id.in_(sa.bindparam("item_ids", expanding=True))
        cls._by_ids = prepared_query(cls.model).where(in_ids)

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    @property
    def storage(self) -> Storage:
        return storage_of(self.session)

    def base_query(self) -> sa.Select[ModelT]:
        """The one place tenant scoping happens: callers add filters to this (or, for
        statements built once, to ``prepared_query``, which ``run`` scopes)."""
        return sa.select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def execute(self, stmt: sa.Executable, params: Any = None) -> sa.Result[Any]:
        return await self.storage.execute(self.session, stmt, params)

    async def run(
        self, stmt: sa.Executable, params: Mapping[str, Any] | None = None
    ) -> sa.Result[Any]:
        """Execute a statement built from ``prepared_query`` for this repository's tenant."""
        return await self.execute(stmt, {**(params or {}), "tenant_id": self.tenant_id})

    async def fetch(self, query: Query, params: Mapping[str, Any]) -> Sequence[Any]:
        """Rows of a statement built once, for this repository's tenant."""
        params = {**params, "tenant_id": self.tenant_id}
        return await self.storage.fetch(self.session, query, params)

    async def get(self, item_id: str) -> ModelT | None:
        if not well_formed_id(item_id):
            return None
        result = await self.run(self._by_id, {"item_id": item_id})
        item: ModelT | None = result.scalar_one_or_none()
        return item

    async def get_or_404(self, item_id: str) -> ModelT:
        item = await self.get(item_id)
        if item is None:
            raise NotFound(f"{self.label} not found")
        return item

    async def get_for_field(self, item_id: str, field: str) -> ModelT:
        """An id given in a request body: unknown or foreign ids are 422 naming the field."""
        item = await self.get(item_id)
        if item is None:
            raise self.unknown(field)
        return item

    def unknown(self, field: str) -> InvalidInput:
        return InvalidInput(f"{field}: unknown {self.label.lower()} id", field=field)

    async def get_many(self, ids: Sequence[str]) -> dict[str, ModelT]:
        ids = [item_id for item_id in ids if well_formed_id(item_id)]
        if not ids:
            return {}
        result = await self.run(self._by_ids, {"item_ids": sorted(set(ids))})
        return {item.id: item for item in result.scalars()}

    async def page(
        self, stmt: sa.Select[ModelT], *, limit: int, offset: int
    ) -> tuple[list[ModelT], int]:
        total_stmt = sa.select(sa.func.count()).select_from(stmt.order_by(None).subquery())
        total = (await self.execute(total_stmt)).scalar_one()
        items = (await self.execute(stmt.limit(limit).offset(offset))).scalars().all()
        return list(items), int(total)

    def add(self, item: ModelT) -> ModelT:
        if not item.id:
            item.id = new_id()
        item.tenant_id = self.tenant_id
        self.session.add(item)
        return item

    async def flush(self) -> None:
        await self.storage.flush(self.session)

    async def refresh(self, item: ModelT) -> None:
        await self.storage.refresh(self.session, item)

    def savepoint(self) -> AbstractAsyncContextManager[None]:
        """A part of the request's transaction that can fail alone (``DuplicateRow`` when a
        constraint refuses its writes)."""
        return self.storage.savepoint(self.session)


class ViewRepository(TenantRepository[ModelT], Generic[ModelT, ViewT]):
    """A repository whose rows are also read as frozen views (``view``)."""

    view: ClassVar[type[Any]]
    _views_by_ids: ClassVar[Query]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "view" not in cls.__dict__:
            return
        cls._views_by_ids = Query(
            sa.select(*view_columns(cls.model, cls.view)).where(
                cls.model.tenant_id == TENANT_ID,
                cls.model.id.in_(sa.bindparam("item_ids", expanding=True)),
            )
        )

    async def views(self, ids: Sequence[str]) -> dict[str, ViewT]:
        """Rows by id as frozen views, for reads that change nothing."""
        ids = [item_id for item_id in ids if well_formed_id(item_id)]
        if not ids:
            return {}
        rows = await self.fetch(self._views_by_ids, {"item_ids": sorted(set(ids))})
        views: list[ViewT] = [self.view(*row) for row in rows]
        return {view.id: view for view in views}  # type: ignore[attr-defined]

    def view_of(self, item: ModelT) -> ViewT:
        """A row already at hand, as its frozen view."""
        view: ViewT = self.view(*(getattr(item, f.name) for f in dataclasses.fields(self.view)))
        return view

    async def view_for_field(self, item_id: str, field: str) -> ViewT:
        """``get_for_field``, as a frozen view."""
        item = (await self.views([item_id])).get(item_id)
        if item is None:
            raise self.unknown(field)
        return item
