"""Per-client rate limiting for /api/ (chat and topics), in memory or shared through Redis.

The algorithm is GCRA (a token bucket without a background refill): a client may send
`burst` requests at once, then one every 60/`per_minute` seconds. One number per client and
route is stored: the "theoretical arrival time" of its next request.

- In memory (default): per process, so each replica/worker limits on its own.
- Redis (SIGNPOST_REDIS_URL): one atomic Lua script per request using Redis' clock, so the
  limit holds across all replicas. If Redis cannot be reached the request is let through
  (fail open: the service must still help a child) with one warning, and Redis is retried
  after 1 s, then 2, 4, ... up to every 30 s; "reachable again" is logged once, by that retry.

The client is the TCP peer address, or the address in SIGNPOST_TRUSTED_PROXY_HEADER when that
is configured (and, if SIGNPOST_TRUSTED_PROXIES is set, only when the peer is one of them).
IPv6 clients are grouped by /64, the block one household or phone usually gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import logging
import math
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import ASGIApp, Receive, Scope, Send

from . import metrics

log = logging.getLogger("signpost.ratelimit")

LIMITED_PREFIX = "/api/"


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    retry_after: float = 0.0  # seconds until the next request would be allowed


class Limiter(Protocol):
    async def hit(self, key: str) -> Decision: ...

    async def close(self) -> None: ...


class MemoryLimiter:
    """GCRA in a dict; the event loop is single-threaded, so no lock is needed."""

    def __init__(
        self,
        per_minute: float,
        burst: int,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 60.0 / per_minute
        self.tolerance = self.interval * burst
        self.max_keys = max_keys
        self.clock = clock
        self._tat: dict[str, float] = {}
        self._hits = 0

    async def hit(self, key: str) -> Decision:
        return self.hit_now(key)

    def hit_now(self, key: str) -> Decision:
        now = self.clock()
        tat = max(self._tat.get(key, now), now)
        new_tat = tat + self.interval
        wait = new_tat - now - self.tolerance
        if wait > 1e-6:  # not 0: (now + t) - now can be a hair over t in floating point
            return Decision(False, wait)
        self._tat[key] = new_tat
        self._hits += 1
        if self._hits % 1024 == 0 or len(self._tat) > self.max_keys:
            self._sweep(now)
        return Decision(True)

    def _sweep(self, now: float) -> None:
        # A client whose arrival time has passed is back to a full burst: forget it.
        for k in [k for k, t in self._tat.items() if t <= now]:
            del self._tat[k]
        excess = len(self._tat) - self.max_keys
        if excess > 0:  # bounded memory under a flood of addresses: forget the oldest
            for k in list(self._tat)[:excess]:
                del self._tat[k]

    async def close(self) -> None:
        self._tat.clear()


# KEYS[1] = client key; ARGV = interval ms, tolerance ms. Returns {allowed, wait ms}.
GCRA_LUA = """
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]))
if (not tat) or tat < now then tat = now end
local new_tat = tat + interval
local wait = new_tat - now - tolerance
if wait > 0.001 then return {0, math.ceil(wait)} end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil(new_tat - now) + 1000)
return {1, 0}
"""


class RedisLimiter:
    """GCRA in Redis, shared by every replica. Fails open while Redis is unreachable."""

    def __init__(
        self,
        url: str,
        per_minute: float,
        burst: int,
        timeout: float = 0.25,
        prefix: str = "signpost:rl:",
        retry_after_failure: float = 1.0,
        retry_max: float = 30.0,
    ) -> None:
        try:
            import redis.asyncio as aioredis
        except ImportError as exc:  # configuration error: stop at start-up, say what to do
            raise RuntimeError(
                "SIGNPOST_REDIS_URL is set but the 'redis' package is not installed: "
                "pip install 'signpost[redis]'"
            ) from exc
        self._aioredis = aioredis
        self.url = url
        self.interval_ms = 60_000.0 / per_minute
        self.tolerance_ms = self.interval_ms * burst
        self.timeout = timeout
        self.prefix = prefix
        self.retry_after_failure = retry_after_failure
        self.retry_max = retry_max
        # Up or down, changed (and logged) only by a failure while up or by the one probe
        # allowed while down: requests in flight when Redis goes away or comes back cannot
        # make it flap (it did, several times within a second after a restart).
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._backoff = retry_after_failure
        self._probing = False
        self._closing: set[asyncio.Task[None]] = set()
        # redis.asyncio connections belong to one event loop: keep one client per loop.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def _script(self) -> Any:
        loop = asyncio.get_running_loop()
        entry = self._clients.get(loop)
        if entry is None:
            client = self._aioredis.from_url(
                self.url,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                health_check_interval=30,
            )
            entry = (client, client.register_script(GCRA_LUA))
            self._clients[loop] = entry
        return entry[1]

    async def hit(self, key: str) -> Decision:
        now = time.monotonic()
        probe = False
        if self._down_since is not None:
            if now < self._retry_at or self._probing:  # down: let it through, unchecked
                metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
                return Decision(True)
            self._probing = probe = True  # this request tries Redis again
        try:
            allowed, wait_ms = await asyncio.wait_for(
                self._script()(
                    keys=[self.prefix + key], args=[self.interval_ms, self.tolerance_ms]
                ),
                timeout=self.timeout * 2,
            )
        except Exception as exc:  # any Redis or network failure: let the request through
            self._failed(time.monotonic(), type(exc).__name__, probe)
            metrics.RATE_LIMIT_BACKEND_ERRORS.inc()
            return Decision(True)
        finally:
            if probe:
                self._probing = False
        if probe:
            self._recovered(time.monotonic())
        return Decision(bool(allowed), float(wait_ms) / 1000.0)

    def _failed(self, now: float, error: str, probe: bool) -> None:
        if self._down_since is None:
            self._down_since, self._backoff = now, self.retry_after_failure
            # The pool's idle connections died with Redis: a retry on one of them would fail
            # even once Redis is back, and reused after the retry succeeded they made the
            # state flap. The retry gets a new client.
            self._drop_client()
            log.warning(
                "rate limiter: Redis unreachable (%s); letting requests through, "
                "retrying in %.3gs and then less often (up to every %.3gs)",
                error,
                self._backoff,
                self.retry_max,
                extra={"fields": {"error": error, "backend": "redis"}},
            )
        elif probe:  # still down: no new line, a longer wait
            self._backoff = min(self._backoff * 2, self.retry_max)
        else:  # a request sent before it went down: already counted
            return
        self._retry_at = now + self._backoff

    def _recovered(self, now: float) -> None:
        if self._down_since is not None:
            log.warning(
                "rate limiter: Redis reachable again after %.0fs",
                now - self._down_since,
                extra={"fields": {"backend": "redis"}},
            )
        self._down_since = None

    def _drop_client(self) -> None:
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            task = asyncio.get_running_loop().create_task(self._close_quietly(entry[0]))
            self._closing.add(task)  # held until done (the loop keeps only weak references)
            task.add_done_callback(self._closing.discard)

    @staticmethod
    async def _close_quietly(client: Any) -> None:
        with contextlib.suppress(Exception):  # closing a dead connection is not worth a log
            await client.aclose()

    async def close(self) -> None:
        """Close this event loop's connections (each loop's client belongs to that loop)."""
        entry = self._clients.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            with contextlib.suppress(Exception):  # closing a dead connection is not worth a log
                await entry[0].aclose()


def make_limiter(settings: Any) -> Limiter | None:
    if not settings.rate_limit_enabled:
        return None
    if settings.redis_url:
        return RedisLimiter(
            settings.redis_url,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
            timeout=settings.redis_timeout,
        )
    return MemoryLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)


# -- who is the client ----------------------------------------------------------------------


def _normal_ip(text: str) -> str | None:
    text = text.strip().strip('"')
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


class ClientKey:
    """The rate-limit identity of a request: its IP, or the one a trusted proxy reports."""

    def __init__(
        self,
        header: str | None = None,
        hops: int = 1,
        trusted: Sequence[ipaddress.IPv4Network | ipaddress.IPv6Network] = (),
    ) -> None:
        self.header = header.strip().lower().encode("latin-1") if header else None
        self.hops = hops
        self.trusted = tuple(trusted)

    def _peer_trusted(self, peer: str) -> bool:
        if not self.trusted:
            return True
        try:
            ip = ipaddress.ip_address(peer)
        except ValueError:
            return False
        return any(ip in net for net in self.trusted)

    def __call__(self, scope: Scope) -> str | None:
        """The client's IP (IPv6 as its /64), or None when there is no address to go by."""
        client = scope.get("client")
        peer = str(client[0]) if client else ""
        if self.header is not None and self._peer_trusted(peer):
            values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == self.header]
            parts = [p for p in ",".join(values).split(",") if p.strip()]
            if parts:
                chosen = parts[-self.hops] if len(parts) >= self.hops else parts[0]
                ip = _normal_ip(chosen)
                if ip is not None:
                    return ip
        return _normal_ip(peer)


# -- ASGI middleware ------------------------------------------------------------------------


class RateLimitMiddleware:
    """429 with Retry-After for /api/ requests over the limit; everything else passes."""

    def __init__(
        self,
        app: ASGIApp,
        limiter: Limiter,
        key: Callable[[Scope], str | None],
        routes: Sequence[str] = ("/api/chat", "/api/topics"),
        detail: str = "Too many messages in a short time. Please wait a moment and try again.",
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.key = key
        self.routes = frozenset(routes)
        self.detail = detail

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or not path.startswith(LIMITED_PREFIX)
            or scope["method"] == "OPTIONS"
        ):
            await self.app(scope, receive, send)
            return
        client = self.key(scope)
        if client is None:
            # No address (a Unix socket without a proxy header, an in-process test client):
            # every such request would share one bucket, so limiting would punish everyone.
            await self.app(scope, receive, send)
            return
        route = path if path in self.routes else "/api/other"
        decision = await self.limiter.hit(f"{route}|{client}")
        if decision.allowed:
            await self.app(scope, receive, send)
            return
        metrics.RATE_LIMITED.labels(route).inc()
        retry = max(1, math.ceil(decision.retry_after))
        body = json.dumps({"detail": self.detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"retry-after", str(retry).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
