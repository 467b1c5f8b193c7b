"""Database plumbing: the declarative base, engines, sessions and the transaction boundary."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    TypeDecorator,
    event,
    func,
    literal_column,
)
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import JSON

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BIGINT keys on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always returned timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; timestamps must be aware")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[str]: JSON(),
    }


class OrganizationRow:
    """Mixin of the rows that belong to one organisation: a surrogate id and the owner."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )


class DailyRollupRow:
    """Mixin of the daily rollups: sums over one agent's rows of one UTC day. Each declares its
    primary key, scope then time: (organization_id, agent_id, day, its own keys...)."""

    __scope__ = "agent"

    # First in the table, in the primary key's order.
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), sort_order=-3
    )
    agent_id: Mapped[int] = mapped_column(
        ForeignKey("agents.id", ondelete="CASCADE"), sort_order=-2
    )
    day: Mapped[dt.date] = mapped_column(Date, sort_order=-1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class FedState:
    """Mixin of the rows that keep a sequential test's running state (a calibration monitor, a
    policy's dead bands): fed the decided outcomes of matured days in the actions' order, up to
    the day ``through``; ``state`` is the engine's JSON of it. Optimistic lock on ``version``: a
    process that fed the same days meanwhile makes the other look again, so no outcome is fed
    twice."""

    through: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        return {"version_id_col": cls.version}


# A pooled PostgreSQL connection idle longer than this is pinged before use.
PING_IDLE_AFTER = 5.0  # seconds


def create_engine(
    url: str | URL, *, echo: bool = False, ping_idle_after: float = PING_IDLE_AFTER
) -> AsyncEngine:
    """An async engine for SQLite (aiosqlite) or PostgreSQL (asyncpg).

    PostgreSQL connections are checked before use only when they sat idle in the pool for more
    than ``ping_idle_after`` seconds, where a server restart, a failover or a firewall may have
    cut them: a dead one is replaced before the request sees it. A connection in steady use is
    known alive; checking it on every checkout (``pool_pre_ping``) cost three round trips
    (BEGIN, ping, ROLLBACK) per checkout, twice per request."""
    url_text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    is_sqlite = url_text.startswith("sqlite")
    options: dict[str, Any] = {"echo": echo}
    if is_sqlite:
        database = url_text.split(":///", 1)[1] if ":///" in url_text else ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        options["connect_args"] = {"timeout": 30}
    else:
        options.update(pool_size=10, max_overflow=20)
    engine = create_async_engine(url_text, **options)
    if is_sqlite:
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        pool = engine.sync_engine.pool
        event.listen(pool, "checkin", _note_idle)
        event.listen(pool, "checkout", functools.partial(_ping_if_idle, ping_idle_after))
    return engine


def _note_idle(_dbapi_connection: Any, record: Any) -> None:
    record.info["idle_since"] = time.monotonic()


def _ping_if_idle(limit: float, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """Ping a connection that sat idle over ``limit`` seconds; if it is dead, the pool
    discards it and checks out another (``DisconnectionError``)."""
    idle_since = record.info.get("idle_since")
    if idle_since is None or time.monotonic() - idle_since <= limit:
        return  # new, or in steady use
    try:
        dbapi_connection.ping()
    except Exception as exc:
        raise DisconnectionError("a pooled connection was found dead") from exc


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


T = TypeVar("T")
# Where reads get their sessions (`AppState.reads`: autocommit; or `sessions`).
Reads = Callable[[], AbstractAsyncContextManager[AsyncSession]]
READ_LANES = 4  # at most this many connections for one request's concurrent reads


async def read_concurrently(
    session: AsyncSession, reads: Reads, work: Mapping[str, Callable[[AsyncSession], Awaitable[T]]]
) -> dict[str, T]:
    """Each read of ``work`` by name. On PostgreSQL on up to `READ_LANES` sessions from
    ``reads`` side by side, each taking the next read when its last one is done, so the request
    waits for about the slowest rather than for their sum, and opens a few sessions, not one per
    read (each statement reads its own snapshot, as under READ COMMITTED in one transaction);
    on SQLite one after the other on ``session`` (one writer file, one connection)."""
    if not is_postgresql(session):
        return {name: await read(session) for name, read in work.items()}
    waiting = iter(work.items())  # shared by the lanes: each item is taken once
    done: dict[str, T] = {}

    async def lane() -> None:
        async with reads() as own:
            for name, read in waiting:
                done[name] = await read(own)

    await asyncio.gather(*(lane() for _ in range(min(READ_LANES, len(work)))))
    return {name: done[name] for name in work}


def one_of(column: str, values: Any, *, name: str | None = None) -> Any:
    """A CHECK that ``column`` holds one of ``values`` (an enum's members or plain strings)."""
    from sqlalchemy import CheckConstraint

    listed = ", ".join(f"'{getattr(v, 'value', v)}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name or column)


def between(column: str, low: float, high: float, *, nullable: bool = False) -> Any:
    """A CHECK that ``column`` lies in [low, high]; named after the column."""
    from sqlalchemy import CheckConstraint

    condition = f"{column} >= {low} AND {column} <= {high}"
    if nullable:
        condition = f"{column} IS NULL OR ({condition})"
    return CheckConstraint(condition, name=column)


def dialect_insert(session_or_connection: Any, table: Any) -> Any:
    """An INSERT that supports ON CONFLICT on the session's database (PostgreSQL or SQLite)."""
    name = session_or_connection.bind.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def is_postgresql(session: Any) -> bool:
    return session.bind.dialect.name == "postgresql"


def utc_day(dialect_name: str, column: Any) -> Any:
    """SQL for the UTC day of a timestamp column (SQLite stores UTC text; PostgreSQL a
    timestamptz, whose day depends on the session's time zone unless asked for UTC)."""
    if dialect_name == "postgresql":
        return func.date(func.timezone(literal_column("'UTC'"), column))
    return func.date(column)


def utc_date(moment: dt.datetime) -> dt.date:
    """The UTC day of an aware timestamp (naive ones are taken as UTC, as SQLite returns them)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


def as_date(value: Any) -> dt.date:
    """A day as the driver returns it (a date on PostgreSQL, ISO text on SQLite)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def among(session: Any, column: Any, values: Any) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(:array)``: one bind parameter, so the
    statement's text (and its prepared plan) is the same whatever the number of values."""
    values = sorted(values)
    if not is_postgresql(session):
        return column.in_(values)
    from sqlalchemy import any_, bindparam
    from sqlalchemy.dialects.postgresql import ARRAY

    return column == any_(bindparam(None, values, type_=ARRAY(column.type)))


def _unnest(
    session: Any, model: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]
) -> tuple[str, dict[str, list[Any]]]:
    """``unnest(CAST(:p0 AS type[]), ...)`` over the columns ``keys`` of ``rows`` (PostgreSQL):
    one array parameter per column, whatever the number of rows."""
    import json

    from sqlalchemy.types import JSON

    dialect = session.bind.dialect
    columns = {c.key: c.columns[0] for c in model.__mapper__.column_attrs}
    arrays, params = [], {}
    for i, key in enumerate(keys):
        column = columns[key]
        arrays.append(f"CAST(:p{i} AS {column.type.compile(dialect=dialect)}[])")
        values = [row[key] for row in rows]
        if isinstance(column.type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        params[f"p{i}"] = values
    return f"unnest({', '.join(arrays)})", params


def _column_names(model: Any, keys: tuple[str, ...]) -> list[str]:
    columns = {c.key: c.columns[0] for c in model.__mapper__.column_attrs}
    return [f'"{columns[key].name}"' for key in keys]


async def insert_rows(
    session: Any,
    model: Any,
    rows: list[dict[str, Any]],
    *,
    conflict: Sequence[str],
    add: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> list[Any]:
    """Set-based INSERT of ``rows`` (all with the same keys, every column given: Python-side
    defaults are not applied). A row whose unique ``conflict`` columns match an existing row is
    skipped or, with ``add``, adds its values of those columns to the existing row's (an atomic
    increment: concurrent writers never lose one). Returns the ``returning`` columns of the rows
    written.

    On PostgreSQL one ``INSERT ... SELECT * FROM unnest(array, ...)``: one bind parameter per
    column, compiled and prepared once whatever the number of rows. On SQLite (in-process, no
    round trips) an executemany of the same INSERT.
    """
    if not rows:
        return []
    if not is_postgresql(session):
        insert = dialect_insert(session, model)
        if add:
            statement = insert.on_conflict_do_update(
                index_elements=list(conflict),
                set_={name: getattr(model, name) + insert.excluded[name] for name in add},
            )
        else:
            statement = insert.on_conflict_do_nothing(index_elements=list(conflict))
        if not returning:
            await session.execute(statement, rows)
            return []
        columns = [getattr(model, name) for name in returning]
        return list(await session.execute(statement.returning(*columns), rows))
    from sqlalchemy import text

    keys = tuple(rows[0])
    source, params = _unnest(session, model, keys, rows)
    if add:
        action = "DO UPDATE SET " + ", ".join(
            f"{name} = t.{name} + excluded.{name}" for name in _column_names(model, tuple(add))
        )
    else:
        action = "DO NOTHING"
    sql = (
        f'INSERT INTO "{model.__tablename__}" AS t ({", ".join(_column_names(model, keys))}) '
        f"SELECT * FROM {source} "
        f"ON CONFLICT ({', '.join(_column_names(model, tuple(conflict)))}) {action}"
    )
    if not returning:
        await session.execute(text(sql), params)
        return []
    sql += f" RETURNING {', '.join(_column_names(model, tuple(returning)))}"
    return list(await session.execute(text(sql), params))


async def add_to_rollup(
    session: Any,
    model: Any,
    increments: Iterable[tuple[tuple[Any, ...], Sequence[Any]]],
    *,
    key: Sequence[str],
    sums: Sequence[str],
) -> None:
    """Add each ``(key values, amounts)`` to the rollup row of that key (``key`` and ``sums``
    name the columns): the amounts of one key summed first, rows whose amounts are all zero
    dropped, the rest written in key order (so concurrent writers lock rows in the same order:
    no deadlocks) with one atomic upsert (`insert_rows` with ``add``)."""
    totals: dict[tuple[Any, ...], list[Any]] = {}
    for values, amounts in increments:
        held = totals.get(values)
        totals[values] = (
            list(amounts) if held is None else [a + b for a, b in zip(held, amounts, strict=True)]
        )
    rows = [
        {**dict(zip(key, values, strict=True)), **dict(zip(sums, amounts, strict=True))}
        for values, amounts in sorted(totals.items())
        if any(amounts)
    ]
    await insert_rows(session, model, rows, conflict=key, add=sums)


async def update_rows_by_id(session: Any, model: Any, rows: list[dict[str, Any]]) -> None:
    """Set-based UPDATE of many rows by primary key.

    On PostgreSQL one ``UPDATE ... FROM unnest(array, ...)`` per group of rows changing the same
    columns: one bind parameter per column, compiled and prepared once, instead of a statement
    per row. On SQLite (in-process, no round trips) an executemany of the ORM bulk update.
    """
    if not rows:
        return
    if not is_postgresql(session):
        from sqlalchemy import update

        await session.execute(update(model), rows)
        return
    from sqlalchemy import text

    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    names_of: dict[tuple[str, ...], tuple[str, ...]] = {}  # rows built alike share their keys
    for row in rows:
        keys = tuple(row)
        if keys not in names_of:
            names_of[keys] = tuple(sorted(k for k in keys if k != "id"))
        groups.setdefault(names_of[keys], []).append(row)
    for names, group in groups.items():
        keys = ("id", *names)
        source, params = _unnest(session, model, keys, group)
        quoted = _column_names(model, keys)
        assignments = ", ".join(f"{name} = v.{name}" for name in quoted[1:])
        statement = text(
            f'UPDATE "{model.__tablename__}" AS t SET {assignments} '
            f"FROM {source} AS v({', '.join(quoted)}) WHERE t.id = v.id"
        )
        await session.execute(statement, params)
