"""Credential look-ups for websocket hellos: many tokens per database read, kept a few seconds.

A reconnect storm sends a thousand hellos within a second. Checking each token in its own
read took a pool connection per socket and ran the pool dry; here every token asked while a
read is under way waits for the next one, which checks them all on one connection. Accepted
credentials are kept for ``ttl_s`` (by SHA-256 of the token: the secret itself is only held
until its batch is read). Refusals are never kept, so every bad hello is checked and audited.

Revocation stays prompt: ``forget`` drops a revoked credential at once (the hub calls it), and
a credential revoked in another process is at worst accepted for ``ttl_s`` — its socket is
then closed by the hub's revocation check (every 0.5 s) like any other open socket.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class TokenLookup(Generic[T]):
    """Resolves tokens to credentials in batches through ``fetch`` and caches accepted ones.

    ``fetch`` gets ``{digest: token}`` and answers ``{digest: credential or exception}``;
    an exception it raises fails the whole batch (store unavailable). ``cacheable`` says which
    credentials may be kept (e.g. devices, not staff sessions that expire).
    """

    def __init__(
        self,
        fetch: Callable[[dict[str, str]], Awaitable[dict[str, T | Exception]]],
        *,
        ttl_s: float = 2.0,
        cacheable: Callable[[T], bool] = lambda _: True,
        max_batch: int = 200,
        max_entries: int = 10_000,
    ) -> None:
        self.fetch = fetch
        self.ttl_s = ttl_s
        self.cacheable = cacheable
        self.max_batch = max_batch
        self.max_entries = max_entries
        self.reads = 0  # batches read (tests and the bench look)
        self._cache: dict[str, tuple[float, T]] = {}
        self._waiting: dict[str, tuple[str, list[asyncio.Future[T]]]] = {}
        self._reader: asyncio.Task[None] | None = None

    async def resolve(self, token: str) -> T:
        """The credential behind ``token``, or the exception ``fetch`` gave for it."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(digest, (token, []))[1].append(future)
        if self._reader is None:
            self._reader = asyncio.get_running_loop().create_task(self._read_batches())
        return await future

    def forget(self, match: Callable[[T], bool]) -> None:
        """Drop every cached credential ``match`` selects (a revoked device)."""
        for digest in [d for d, (_, value) in self._cache.items() if match(value)]:
            del self._cache[digest]

    async def _read_batches(self) -> None:
        try:
            for _ in range(1_000_000):  # bounded: ends as soon as nobody waits
                await asyncio.sleep(0)  # gather every hello of this turn of the loop
                if not self._waiting:
                    return
                batch = dict(itertools.islice(self._waiting.items(), self.max_batch))
                for digest in batch:
                    del self._waiting[digest]
                await self._read(batch)
        finally:
            self._reader = None

    async def _read(self, batch: dict[str, tuple[str, list[asyncio.Future[T]]]]) -> None:
        self.reads += 1
        try:
            found = await self.fetch({digest: token for digest, (token, _) in batch.items()})
        except Exception as exc:  # noqa: BLE001 - handed to every waiter of the batch
            for _, futures in batch.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        until = time.monotonic() + self.ttl_s
        for digest, (_, futures) in batch.items():
            result = found.get(digest, LookupError(f"fetch gave no answer for {digest[:10]}"))
            if not isinstance(result, Exception) and self.cacheable(result):
                self._keep(digest, until, result)
            for future in futures:
                if future.done():
                    continue  # its client left meanwhile
                if isinstance(result, Exception):
                    future.set_exception(result)
                else:
                    future.set_result(result)

    def _keep(self, digest: str, until: float, value: T) -> None:
        if len(self._cache) >= self.max_entries:
            now = time.monotonic()
            self._cache = {d: e for d, e in self._cache.items() if e[0] > now}
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
        self._cache[digest] = (until, value)
