"""Token buckets by principal, for the API's cost budgets and rate limits: shared by every
process through Redis when the deployment has it (so N replicas give one budget, not N), kept in
this process otherwise (one process, or the embedded defaults)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from redis import exceptions as redis_errors

log = logging.getLogger(__name__)

MAX_LOCAL_PRINCIPALS = 100_000  # idle principals are forgotten rather than kept forever

# One atomic step on a bucket stored as a hash {tokens, updated}: refill by Redis's own clock
# (the same for every process), then take ARGV[3] tokens if there are enough (a negative amount
# gives tokens back, 0 only reads). Returns {1 or 0, tokens left}. An idle bucket expires once it
# would be full again.
_STEP = """
local capacity = tonumber(ARGV[1])
local refill = tonumber(ARGV[2])
local amount = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1]) or capacity
local updated = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - updated) * refill)
local taken = 0
if amount <= tokens then
  tokens = math.min(capacity, tokens - amount)
  taken = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(capacity / refill) + 60)
return {taken, tostring(tokens)}
"""


@dataclass
class TokenBucket:
    capacity: float
    refill_per_second: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def available(self) -> float:
        now = time.monotonic()
        refilled = self.tokens + (now - self.updated) * self.refill_per_second
        self.tokens = min(self.capacity, refilled)
        self.updated = now
        return self.tokens

    def take(self, amount: float) -> bool:
        if self.available() < amount:
            return False
        self.tokens = min(self.capacity, self.tokens - amount)
        return True


class Store(Protocol):
    async def step(
        self, key: str, capacity: float, refill: float, amount: float
    ) -> tuple[bool, float]:
        """Take ``amount`` tokens if there are enough (negative: give back; 0: read); returns
        whether it was taken and the tokens left."""
        ...


class LocalStore:
    """Buckets in this process."""

    def __init__(self) -> None:
        self._buckets: dict[str, TokenBucket] = {}

    async def step(
        self, key: str, capacity: float, refill: float, amount: float
    ) -> tuple[bool, float]:
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) > MAX_LOCAL_PRINCIPALS:
                self._buckets.clear()
            bucket = self._buckets[key] = TokenBucket(capacity, refill)
        taken = bucket.take(amount)
        return taken, bucket.tokens


class RedisStore:
    """Buckets in Redis, one atomic script per step (every process sees the same tokens). While
    Redis cannot be reached, this process's own buckets stand in (the API keeps answering, each
    process limiting on its own, as without Redis)."""

    def __init__(self, client: Any, *, prefix: str) -> None:
        self._step = client.register_script(_STEP)
        self._prefix = prefix
        self._fallback = LocalStore()

    async def step(
        self, key: str, capacity: float, refill: float, amount: float
    ) -> tuple[bool, float]:
        try:
            taken, tokens = await self._step(
                keys=[f"{self._prefix}bucket:{key}"], args=[capacity, refill, amount]
            )
        except (redis_errors.ConnectionError, redis_errors.TimeoutError) as exc:
            log.warning("Redis unreachable (%s): limiting in this process meanwhile", exc)
            return await self._fallback.step(key, capacity, refill, amount)
        return bool(int(taken)), float(tokens)


@dataclass(frozen=True)
class Buckets:
    """A kind of bucket (its name, size and refill); the tokens live in a :class:`Store`."""

    name: str
    capacity: float
    refill_per_second: float

    async def take(self, store: Store, principal: str, amount: float) -> tuple[bool, float]:
        return await store.step(
            f"{self.name}:{principal}", self.capacity, self.refill_per_second, amount
        )

    async def give_back(self, store: Store, principal: str, amount: float) -> float:
        return (await self.take(store, principal, -amount))[1]

    async def available(self, store: Store, principal: str) -> float:
        return (await self.take(store, principal, 0))[1]
