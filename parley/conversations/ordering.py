"""Messages of one conversation are handled one at a time, in order, on any replica (SPEC §2).

The gateway holds a per-conversation lock for the whole turn (store the message, ask the bot,
store the replies). One API process needs only an in-process lock; several replicas share an
atomic Redis lock (SET NX PX, released only by its owner's token: redis-py's `Lock`). Rasa 3.6's
own RedisLockStore is not atomic across servers (RasaHQ/rasa#9213), so ordering is the
gateway's job, upstream of Rasa.

A lock has a lease (`PARLEY_TURN_LOCK_SECONDS`): a replica that dies mid-turn cannot keep a
conversation locked for ever. Waiting for the lock is bounded too; a message that waited too
long gets the usual "please try again" (503) and nothing of it is lost (it is not stored yet).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, suppress
from typing import Protocol

from parley.core.errors import BotUnavailable

BUSY = "Your previous message is still being answered. Please try again in a moment."


class TurnLocks(Protocol):
    def hold(self, key: str) -> AbstractAsyncContextManager[None]: ...

    async def close(self) -> None: ...


class LocalTurnLocks:
    """One asyncio lock per conversation, dropped when nobody holds or waits for it."""

    def __init__(self, wait_seconds: float) -> None:
        self._wait = wait_seconds
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            try:
                await asyncio.wait_for(lock.acquire(), self._wait)
            except asyncio.TimeoutError as exc:
                raise BotUnavailable("conversation_busy", BUSY) from exc
            try:
                yield
            finally:
                lock.release()
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    async def close(self) -> None:
        self._locks.clear()


class RedisTurnLocks:
    """An atomic lock in Redis, shared by every API replica."""

    def __init__(self, url: str, lease_seconds: float, wait_seconds: float) -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(url)  # type: ignore[no-untyped-call]
        self._lease = lease_seconds
        self._wait = wait_seconds

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        from redis.exceptions import LockError

        lock = self._redis.lock(
            f"parley:turn:{key}", timeout=self._lease, blocking_timeout=self._wait
        )
        if not await lock.acquire():
            raise BotUnavailable("conversation_busy", BUSY)
        try:
            yield
        finally:
            # LockError: the lease ran out mid-turn, and someone else may hold it now.
            with suppress(LockError):
                await lock.release()

    async def close(self) -> None:
        await self._redis.aclose()


def make_turn_locks(redis_url: str | None, lease_seconds: float, wait_seconds: float) -> TurnLocks:
    if redis_url:
        return RedisTurnLocks(redis_url, lease_seconds, wait_seconds)
    return LocalTurnLocks(wait_seconds)
