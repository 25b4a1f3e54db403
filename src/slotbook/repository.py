"""Tenant-scoped data access: every query of a tenant's rows starts from ``base_query``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from slotbook.db import DriverQuery, TenantScoped
from slotbook.errors import InvalidInput, NotFound
from slotbook.ids import new_id

ModelT = TypeVar("ModelT", bound=TenantScoped)
# The tenant of a prepared statement, filled by ``TenantRepository.run``.
TENANT_ID = sa.bindparam("tenant_id", type_=sa.String)


def well_formed_id(item_id: str) -> bool:
    """Ids we could have issued; anything else (too long, NUL) is simply not found.

    PostgreSQL refuses text with NUL outright, so such an id must never reach a query.
    """
    return 0 < len(item_id) <= 64 and "\x00" not in item_id


def prepared_query(model: type[TenantScoped]) -> sa.Select[Any]:
    """``base_query`` with the tenant as a bound parameter, for statements built once.

    Building a statement and computing its cache key costs more CPU than running it,
    and a booking runs a dozen; statements built once at import from this and run
    through ``TenantRepository.run`` skip that work on every request.
    """
    return sa.select(model).where(model.tenant_id == TENANT_ID)


class TenantRepository(Generic[ModelT]):
    model: ClassVar[type[Any]]
    label: ClassVar[str] = "Item"
    _by_id: ClassVar[sa.Select[Any]]
    _by_id_for_update: ClassVar[sa.Select[Any]]
    _by_ids: ClassVar[sa.Select[Any]]
    _copies_by_ids: ClassVar[DriverQuery]
    _column_keys: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._by_id = prepared_query(cls.model).where(cls.model.id == sa.bindparam("item_id"))
        cls._by_id_for_update = cls._by_id.with_for_update()
        in_ids = cls.model.id.in_(sa.bindparam("item_ids", expanding=True))
        cls._by_ids = prepared_query(cls.model).where(in_ids)
        columns = list(cls.model.__table__.columns)
        cls._column_keys = tuple(column.key for column in columns)
        cls._copies_by_ids = DriverQuery(
            sa.select(*columns).where(cls.model.tenant_id == TENANT_ID, in_ids)
        )

    def __init__(self, session: AsyncSession, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id

    def base_query(self) -> sa.Select[ModelT]:
        """The one place tenant scoping happens: callers add filters to this (or, for
        statements built once, to ``prepared_query``, which ``run`` scopes)."""
        return sa.select(self.model).where(self.model.tenant_id == self.tenant_id)

    async def run(
        self, stmt: sa.Executable, params: Mapping[str, Any] | None = None
    ) -> sa.Result[Any]:
        """Execute a statement built from ``prepared_query`` for this repository's tenant."""
        return await self.session.execute(stmt, {**(params or {}), "tenant_id": self.tenant_id})

    async def get(self, item_id: str, *, for_update: bool = False) -> ModelT | None:
        if not well_formed_id(item_id):
            return None
        stmt = self._by_id_for_update if for_update else self._by_id
        result = await self.run(stmt, {"item_id": item_id})
        item: ModelT | None = result.scalar_one_or_none()
        return item

    async def get_or_404(self, item_id: str, *, for_update: bool = False) -> ModelT:
        item = await self.get(item_id, for_update=for_update)
        if item is None:
            raise NotFound(f"{self.label} not found")
        return item

    async def get_for_field(self, item_id: str, field: str) -> ModelT:
        """An id given in a request body: unknown or foreign ids are 422 naming the field."""
        item = await self.get(item_id)
        if item is None:
            raise InvalidInput(f"{field}: unknown {self.label.lower()} id", field=field)
        return item

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
        total = (await self.session.execute(total_stmt)).scalar_one()
        items = (await self.session.execute(stmt.limit(limit).offset(offset))).scalars().all()
        return list(items), int(total)

    async def copies(self, ids: Sequence[str]) -> dict[str, ModelT]:
        """Rows by id as detached copies, outside the session, read on the driver.

        For the reads a booking makes on every request (outlet, customer, services):
        nothing changes them in the request, and an ORM load costs several times the CPU.
        """
        ids = [item_id for item_id in ids if well_formed_id(item_id)]
        if not ids:
            return {}
        params = {"tenant_id": self.tenant_id, "item_ids": sorted(set(ids))}
        records = await self._copies_by_ids.fetch(self.session, params)
        copies = (self.copy_of(record) for record in records)
        return {item.id: item for item in copies}

    @classmethod
    def copy_of(cls, record: Sequence[Any]) -> ModelT:
        """A model instance outside the session from a row of all its table's columns,
        in table order."""
        item: ModelT = cls.model(**dict(zip(cls._column_keys, record, strict=True)))
        return item

    async def copy_for_field(self, item_id: str, field: str) -> ModelT:
        """``get_for_field``, as a detached copy (see ``copies``)."""
        item = (await self.copies([item_id])).get(item_id)
        if item is None:
            raise InvalidInput(f"{field}: unknown {self.label.lower()} id", field=field)
        return item

    def add(self, item: ModelT) -> ModelT:
        if not item.id:
            item.id = new_id()
        item.tenant_id = self.tenant_id
        self.session.add(item)
        return item

    async def flush(self) -> None:
        await self.session.flush()
