"""The rows a button press reads (the identity, the student, the chat's state, the student's
purchases), kept in this process after they are committed, so a press that changes nothing
costs no database round trip and does not queue for SQLite's one writer.

On SQLite the platform is the one process writing the file: every write goes through a unit
of work of this process, and each publishes what it changed right after its commit, before
it lets the next writer in. Two kinds of unit of work share the cache:
- *locked* (the default): takes the writer lock at the start, like any SQLite transaction.
  While it holds the lock the cache agrees with the database, so it reads from the cache
  freely and can never conflict.
- *optimistic* (a conversation turn): answers reads from the cache without the lock and takes
  the lock only when it must touch the database (a miss, any other query, a write). If a row
  it already read from the cache changed in between, it raises ``TransactionConflict`` before
  anything is written, and the caller runs the turn again.

On PostgreSQL (``shared``) other processes write too. Only optimistic units of work read from
the cache, and only until they open their transaction; everything else reads the database.
When a turn opens its transaction (to write, or for anything not cached), it reads again each
row it took from the cache and compares: a row another process changed makes it raise
``TransactionConflict`` before it writes anything. Every commit that changed cached rows
tells the other processes (``storage.invalidation``: NOTIFY), which drop them; that keeps
the cache fresh, the comparison keeps it safe (a notice may come after a decision).

What is cached is declared per repository method (``CACHED``): which reads are answered from
the cache under which key, which writes replace or drop which key. The other repositories
are not cached: their calls go to the database.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from core.models import ChatState, Identity, User
from core.ports import TransactionConflict
from storage.invalidation import CHANNEL, report
from storage.uow import REPOSITORIES, SqlUnitOfWork

Key = tuple[Hashable, ...]
Load = Callable[[SqlUnitOfWork], Awaitable[Any]]
_GONE = object()  # a key this transaction changed without knowing the new value


class RowCache:
    """Committed values by key, each with a stamp that changes whenever the value does.

    ``shared``: other processes write the same database and report the keys they changed
    (``invalidate``). A transaction notes ``epoch`` before its first query; what it read is
    cached at its commit only if no report about that key came since: the report may be about
    a change made after the read. Until reports are known to arrive (``enable``), a shared
    cache holds nothing."""

    def __init__(self, limit: int = 200_000, shared: bool = False) -> None:
        self.limit = limit
        self.shared = shared
        self.enabled = not shared
        self.origin = secrets.token_hex(8)  # tells this cache's own reports from others'
        self.epoch = 0
        self._entries: dict[Key, tuple[int, Any]] = {}
        self._stamps = itertools.count(1)
        self._reported: dict[Key, int] = {}  # key -> epoch of its last report
        self._floor = 0  # transactions begun before this epoch may not fill the cache

    def get(self, key: Key) -> tuple[int, Any] | None:
        return self._entries.get(key)

    def stamp(self, key: Key) -> int | None:
        entry = self._entries.get(key)
        return entry[0] if entry else None

    def publish(self, changed: dict[Key, Any], written: set[Key], since: int = 0) -> None:
        """After a commit: written keys get their new value (or leave); values this
        transaction only read are added where absent. ``since``: the epoch the transaction
        began in."""
        for key, value in changed.items():
            fresh = value is not _GONE and self._current(key, since)
            if key in written:
                self._entries.pop(key, None)  # re-inserted last: the oldest go first
                if fresh:
                    self._entries[key] = (next(self._stamps), value)
            elif fresh and key not in self._entries:
                self._entries[key] = (next(self._stamps), value)
        if len(self._entries) > self.limit:
            for key in list(itertools.islice(self._entries, len(self._entries) // 10)):
                del self._entries[key]

    def _current(self, key: Key, since: int) -> bool:
        return self.enabled and since >= self._floor and self._reported.get(key, 0) <= since

    def forget(self, keys: set[Key]) -> None:
        for key in keys:
            self._entries.pop(key, None)

    def invalidate(self, keys: list[Key] | None) -> None:
        """Another process changed these keys (None: any key)."""
        self.epoch += 1
        if keys is None or len(self._reported) + len(keys) > self.limit:
            self._entries.clear()
            self._reported.clear()
            self._floor = self.epoch
            return
        for key in keys:
            self._entries.pop(key, None)
            self._reported[key] = self.epoch

    def enable(self) -> None:
        """Reports arrive from now on: what is read from now on may be cached."""
        self.epoch += 1
        self._floor = self.epoch
        self._reported.clear()
        self.enabled = True

    def disable(self) -> None:
        """Reports may be missed: hold nothing until ``enable``."""
        self.enabled = False
        self.epoch += 1
        self._floor = self.epoch
        self._entries.clear()
        self._reported.clear()


def _shallow(entity: Any) -> Any:
    """A copy of a dataclass row whose fields are immutable values (``copy.copy`` without
    its generic machinery, which would cost more than the rest of a press)."""
    twin = object.__new__(type(entity))
    twin.__dict__.update(entity.__dict__)
    return twin


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_shallow(item) for item in value]  # purchases
    twin = _shallow(value)
    if isinstance(value, ChatState):
        twin.data = orjson.loads(orjson.dumps(value.data))  # JSON in the database too
    return twin


class CachedUnitOfWork:
    """A ``SqlUnitOfWork`` opened when first needed, with cached reads (see the module)."""

    def __init__(
        self,
        open_sql: Callable[[], SqlUnitOfWork],
        cache: RowCache,
        optimistic: bool,
        seen: Callable[[str, str, datetime], None] | None = None,
    ) -> None:
        self._open_sql = open_sql
        self._cache = cache
        self._optimistic = optimistic
        self._record_seen = seen
        self._sql: SqlUnitOfWork | None = None
        self._entered = False
        self._since = 0
        # read from the cache before the transaction: key -> (stamp, value, how to load it)
        self._seen: dict[Key, tuple[int, Any, Load]] = {}
        self._changed: dict[Key, Any] = {}  # this transaction's view of keys it touched
        self._written: set[Key] = set()

    async def __aenter__(self) -> CachedUnitOfWork:
        self._entered = True
        for name in REPOSITORIES:
            cached = CACHED_REPOSITORIES.get(name)
            setattr(self, name, cached(self, name) if cached else _Deferred(self, name))
        if not self._optimistic:
            await self.sql()
        return self

    async def __aexit__(self, *exc: object) -> None:
        sql, self._sql = self._sql, None
        self._entered = False
        self._seen.clear()
        self._changed.clear()
        self._written.clear()
        if sql is not None:
            await sql.__aexit__(*exc)

    async def sql(self) -> SqlUnitOfWork:
        """The database transaction, begun (and the writer lock taken) on first use."""
        if self._sql is not None:
            return self._sql
        if not self._entered:
            raise RuntimeError("the unit of work is not open: use `async with`")
        sql = self._open_sql()  # a unit of work belongs to one task: no race to open it
        await sql.__aenter__()
        self._sql = sql
        self._since = self._cache.epoch
        self._check_seen()
        if self._cache.shared:
            await self._check_seen_in(sql)
        return sql

    def _check_seen(self) -> None:
        """Rows read from the cache still have the stamp they had (none was written by this
        process, or reported changed by another, since)."""
        if any(self._cache.stamp(key) != seen[0] for key, seen in self._seen.items()):
            raise TransactionConflict("rows read from the cache changed meanwhile")
        if not self._cache.shared:
            self._seen.clear()

    async def _check_seen_in(self, sql: SqlUnitOfWork) -> None:
        """Rows read from the cache are still what the database holds (another process
        may have changed them, and its report may be on its way)."""
        seen, self._seen = self._seen, {}
        for key, (_stamp, value, load) in seen.items():
            if await load(sql) != value:
                self._cache.forget({key})
                raise TransactionConflict(f"{key} was changed by another process")
            self._changed.setdefault(key, value)

    async def commit(self) -> None:
        if self._sql is None:
            self._check_seen()  # read only, from the cache: still one consistent picture
            return
        if self._cache.shared and self._written:
            await self._sql.notify(CHANNEL, report(self._cache.origin, self._written))
        try:
            await self._sql.commit()
        except BaseException:
            self._cache.forget(self._written)  # the database may or may not have them
            raise
        self._cache.publish(self._changed, self._written, self._since)
        self._changed.clear()
        self._written.clear()

    async def rollback(self) -> None:
        self._changed.clear()
        self._written.clear()
        if self._sql is not None:
            await self._sql.rollback()

    # --- used by the repositories below --------------------------------------------------

    def _trusts_cache(self) -> bool:
        """SQLite: always (with the lock the cache is the database; without it, the stamps
        are checked when it is taken). PostgreSQL: a turn, before its transaction."""
        return not self._cache.shared or (self._optimistic and self._sql is None)

    async def read(self, key: Key, load: Load) -> Any:
        if key in self._changed:
            value = self._changed[key]
            if value is not _GONE:
                return _copy(value)
        elif self._trusts_cache() and (entry := self._cache.get(key)) is not None:
            if self._sql is None:
                self._seen.setdefault(key, (entry[0], entry[1], load))
            return _copy(entry[1])
        value = await load(await self.sql())
        if value is not None:
            self._changed[key] = _copy(value)
        return value

    def forget(self, key: Key) -> None:
        """A key this transaction changed in the database behind the cache's back."""
        self._changed[key] = _GONE
        self._written.add(key)

    async def write(self, key: Key, value: Any, store: Callable[[SqlUnitOfWork], Awaitable[Any]]):
        result = await store(await self.sql())
        self._changed[key] = _GONE if value is _GONE else _copy(value)
        self._written.add(key)
        return result

    async def write_new(self, store: Callable[[SqlUnitOfWork], Awaitable[Any]],
                        key_of: Callable[[Any], Key]) -> Any:
        """An insert: the row it returns (with its new id) is cached under ``key_of(row)``."""
        row = await store(await self.sql())
        stored = _shallow(row)  # as the database gives it back: datetimes in UTC
        for name, value in vars(stored).items():
            if isinstance(value, datetime) and value.tzinfo is not None:
                setattr(stored, name, value.astimezone(UTC))
        self.remember(key_of(row), stored)
        return row

    def remember(self, key: Key, value: Any) -> None:
        """This transaction made ``key`` hold ``value`` (cached once it commits)."""
        self._changed[key] = _copy(value)
        self._written.add(key)

    async def seen(self, identity: Identity, at: datetime) -> None:
        """Last seen, written behind: no transaction for it (``storage.seen``)."""
        if self._record_seen is not None:
            self._record_seen(identity.messenger, identity.external_id, at)
            return
        sql = await self.sql()
        stored = await sql.users.record_seen(identity.messenger, identity.external_id, at)
        self.refresh(("identity", identity.messenger, identity.external_id), stored)

    def refresh(self, key: Key, value: Any) -> None:
        """This transaction wrote ``key``; ``value`` is what the database now holds (None:
        unknown)."""
        self._changed[key] = _GONE if value is None else _copy(value)
        self._written.add(key)


# --- what each cached repository's methods do to the cache ---------------------------------


@dataclass(frozen=True)
class Cached:
    """A read answered from the cache, under ``key(*arguments)``."""

    key: Callable[..., Key]


@dataclass(frozen=True)
class Uncached:
    """A read that goes to the database (it opens the transaction)."""


@dataclass(frozen=True)
class Writes:
    """A write. Afterwards ``key(*arguments)`` holds the entity passed (``keeps``) or is
    dropped; no key: it only inserts a row that no cached read can have returned."""

    key: Callable[..., Key] | None = None
    keeps: bool = False


@dataclass(frozen=True)
class ByHand:
    """Written out in the repository's class below."""


Rule = Cached | Uncached | Writes | ByHand


def _identity_key(identity: Identity) -> Key:
    return ("identity", identity.messenger, identity.external_id)


# Every method of a cached repository is declared here (a test walks the repositories): a
# new write method cannot leave the cache wrong unnoticed.
CACHED: dict[str, dict[str, Rule]] = {
    "users": {
        "get": Cached(lambda user_id: ("user", user_id)),
        "identity": Cached(lambda messenger, external_id: ("identity", messenger, external_id)),
        "by_referral_code": Uncached(),
        "identity_by_id": Uncached(),
        "identities": Uncached(),
        "add": ByHand(),
        "add_identity": ByHand(),
        "update": Writes(lambda user: ("user", user.id), keeps=True),
        "update_identity": Writes(_identity_key, keeps=True),
        "record_seen": Writes(lambda messenger, external_id, at: ("identity", messenger,
                                                                     external_id)),
        "seen": ByHand(),
        "record_seen_many": ByHand(),
        "merge": ByHand(),
    },
    "purchases": {
        "for_user": Cached(lambda user_id: ("purchases", user_id)),
        "get": Uncached(),
        "get_for_update": Uncached(),
        "for_order": Uncached(),
        "due_lessons": Uncached(),
        "due_expiry": Uncached(),
        "due_renewal": Uncached(),
        "due_reminders": Uncached(),
        "active_ids": Uncached(),
        "add": Writes(lambda purchase: ("purchases", purchase.user_id)),
        "update": Writes(lambda purchase: ("purchases", purchase.user_id)),
    },
    "chat_states": {
        "get": Cached(lambda messenger, chat_id: ("chat", messenger, chat_id)),
        "put": Writes(lambda state: ("chat", state.messenger, state.chat_id), keeps=True),
    },
    # Every offer card asks whether any code exists: the few codes made in the chat are
    # read once and kept, and dropped whenever one is added or disabled.
    "promo_codes": {
        "all": Cached(lambda: ("promo_codes",)),
        "add": Writes(lambda promo: ("promo_codes",)),
        "disable": Writes(lambda code, by, at: ("promo_codes",)),
    },
}


class _Deferred:
    """A repository the cache holds nothing of: every call opens the transaction and goes
    to the database."""

    def __init__(self, uow: CachedUnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        async def call(*args: Any, **kwargs: Any) -> Any:
            repository = getattr(await self._uow.sql(), self._name)
            return await getattr(repository, method)(*args, **kwargs)

        return call


class _CachedRepository:
    """A repository whose methods do what ``CACHED`` declares; an undeclared one does not
    exist."""

    def __init__(self, uow: CachedUnitOfWork, name: str) -> None:
        self._uow = uow
        self._name = name
        self._rules = CACHED[name]

    def __getattr__(self, method: str) -> Callable[..., Awaitable[Any]]:
        rule = self._rules.get(method)
        if rule is None or isinstance(rule, ByHand):
            raise AttributeError(f"{self._name}.{method} is not declared in storage.cache.CACHED")
        call = self._call(method, rule)
        setattr(self, method, call)  # built once per unit of work
        return call

    def _call(self, method: str, rule: Rule) -> Callable[..., Awaitable[Any]]:
        uow, name = self._uow, self._name

        def run(*args: Any, **kwargs: Any) -> Callable[[SqlUnitOfWork], Awaitable[Any]]:
            return lambda sql: getattr(getattr(sql, name), method)(*args, **kwargs)

        if isinstance(rule, Cached):
            async def read(*args: Any, **kwargs: Any) -> Any:
                return await uow.read(rule.key(*args, **kwargs), run(*args, **kwargs))

            return read
        if isinstance(rule, Writes) and rule.key is not None:
            key = rule.key

            async def write(*args: Any, **kwargs: Any) -> Any:
                value = (args or tuple(kwargs.values()))[0] if rule.keeps else _GONE
                return await uow.write(key(*args, **kwargs), value, run(*args, **kwargs))

            return write

        async def direct(*args: Any, **kwargs: Any) -> Any:
            return await run(*args, **kwargs)(await uow.sql())

        return direct


class _Users(_CachedRepository):
    async def add(self, user: User) -> User:
        """A new student: cached as written, with no purchases yet, so that their first
        press after /start finds their rows here."""
        added = await self._uow.write_new(lambda sql: sql.users.add(user),
                                          lambda row: ("user", row.id))
        self._uow.remember(("purchases", added.id), [])
        return added

    async def add_identity(self, identity: Identity) -> Identity:
        return await self._uow.write_new(lambda sql: sql.users.add_identity(identity),
                                         _identity_key)

    async def seen(self, identity: Identity, at: datetime) -> None:
        await self._uow.seen(identity, at)

    async def record_seen_many(self, seen: dict[tuple[str, str], datetime]) -> list[Identity]:
        """``storage.seen``'s flush: the identities as they now stand are cached."""
        sql = await self._uow.sql()
        stored = await sql.users.record_seen_many(seen)
        for identity in stored:
            self._uow.refresh(_identity_key(identity), identity)
        return stored

    async def merge(self, source_id: int, into_id: int) -> None:
        """Every cached row of either student may have changed owner."""
        sql = await self._uow.sql()
        moved = await sql.users.identities(source_id)
        await sql.users.merge(source_id, into_id)
        for identity in moved:
            self._uow.forget(_identity_key(identity))
        for user_id in (source_id, into_id):
            self._uow.forget(("user", user_id))
            self._uow.forget(("purchases", user_id))


CACHED_REPOSITORIES: dict[str, type[_CachedRepository]] = {
    "users": _Users,
    "purchases": _CachedRepository,
    "chat_states": _CachedRepository,
    "promo_codes": _CachedRepository,
}
