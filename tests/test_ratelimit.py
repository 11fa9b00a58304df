"""Rate limiting per client: in memory, and shared through a real redis-server on loopback.

The Redis tests start their own `redis-server` (Debian package `redis-server`, installed by
./scripts/test). A missing binary is a failure, not a skip: CI must exercise the shared limit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from bot import metrics
from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.ratelimit import ClientKey, MemoryLimiter, RedisLimiter

IP = ("203.0.113.7", 40000)
OTHER_IP = ("203.0.113.8", 40000)


def limited_app(engine: Engine, **settings: object):
    base = {"rate_limit_per_minute": 30, "rate_limit_burst": 3}
    return create_app(Settings(**{**base, **settings}), engine=engine)


def chat(c: TestClient, **headers: str):
    return c.post("/api/chat", json={"message": "what is grooming"}, headers=headers)


# -- the algorithm ----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_limiter_burst_then_rate() -> None:
    clock = FakeClock()
    lim = MemoryLimiter(per_minute=30, burst=3, clock=clock)  # one every 2 s
    assert [lim.hit_now("a").allowed for _ in range(4)] == [True, True, True, False]
    refused = lim.hit_now("a")
    assert not refused.allowed and 1.9 < refused.retry_after <= 2.0
    assert lim.hit_now("b").allowed  # other clients are not affected
    clock.now += 2.0
    assert lim.hit_now("a").allowed and not lim.hit_now("a").allowed
    clock.now += 60
    assert [lim.hit_now("a").allowed for _ in range(4)] == [True, True, True, False]


def test_memory_limiter_burst_of_one_allows_the_first_request() -> None:
    # Floating point once made (now + t) - now - t a hair above 0, refusing a first request.
    for i in range(2000):
        clock = FakeClock()
        clock.now += i * 0.37
        lim = MemoryLimiter(per_minute=1, burst=1, clock=clock)
        assert lim.hit_now("a").allowed
        assert not lim.hit_now("a").allowed


def test_memory_limiter_memory_is_bounded() -> None:
    clock = FakeClock()
    lim = MemoryLimiter(per_minute=30, burst=3, max_keys=100, clock=clock)
    for i in range(5000):
        lim.hit_now(f"client-{i}")
    assert len(lim._tat) <= 101
    clock.now += 10
    for _ in range(2048):
        lim.hit_now("again")
        clock.now += 2.5
    assert len(lim._tat) <= 101


# -- who is the client ------------------------------------------------------------------------


def _scope(peer: str | None, headers: dict[str, str] | None = None) -> dict:
    return {
        "type": "http",
        "client": (peer, 1234) if peer else None,
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
    }


def test_client_key_ignores_forwarding_headers_unless_configured() -> None:
    key = ClientKey()
    spoof = {"X-Forwarded-For": "1.2.3.4", "X-Real-IP": "5.6.7.8", "Forwarded": "for=9.9.9.9"}
    assert key(_scope("198.51.100.1", spoof)) == "198.51.100.1"
    assert key(_scope(None)) is None
    assert key(_scope("testclient")) is None


def test_client_key_with_a_trusted_proxy_header() -> None:
    key = ClientKey("X-Forwarded-For")
    # The proxy appends the address it saw; anything to its left is the client's to invent.
    assert key(_scope("10.0.0.2", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9"})) == "203.0.113.9"
    assert key(_scope("10.0.0.2", {"X-Forwarded-For": "203.0.113.9:5555"})) == "203.0.113.9"
    assert key(_scope("10.0.0.2", {"X-Forwarded-For": "garbage"})) == "10.0.0.2"
    assert key(_scope("10.0.0.2")) == "10.0.0.2"
    two = ClientKey("X-Forwarded-For", hops=2)
    assert two(_scope("10.0.0.2", {"X-Forwarded-For": "6.6.6.6, 203.0.113.9, 10.0.0.1"})) == (
        "203.0.113.9"
    )
    real = ClientKey("X-Real-IP")
    assert real(_scope("10.0.0.2", {"X-Real-IP": "203.0.113.10"})) == "203.0.113.10"


def test_client_key_only_trusts_listed_proxies() -> None:
    settings = Settings(trusted_proxy_header="X-Forwarded-For", trusted_proxies="10.0.0.0/8")
    key = ClientKey(settings.trusted_proxy_header, 1, settings.trusted_proxy_networks)
    assert key(_scope("10.1.2.3", {"X-Forwarded-For": "203.0.113.9"})) == "203.0.113.9"
    assert key(_scope("198.51.100.1", {"X-Forwarded-For": "203.0.113.9"})) == "198.51.100.1"


def test_client_key_groups_ipv6_by_64() -> None:
    key = ClientKey()
    a = key(_scope("2001:db8:1:2:aaaa::1"))
    b = key(_scope("2001:db8:1:2:bbbb::2"))
    assert a == b == "2001:db8:1:2::/64"
    assert key(_scope("::ffff:192.0.2.1")) == "192.0.2.1"


# -- the middleware, in memory ----------------------------------------------------------------


def test_chat_gets_429_with_retry_after(engine: Engine) -> None:
    before = metrics.value("signpost_rate_limited_total", route="/api/chat")
    with TestClient(limited_app(engine), client=IP) as c:
        assert [chat(c).status_code for _ in range(3)] == [200, 200, 200]
        r = chat(c)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 2
        detail = r.json()["detail"]
        assert "wait" in detail and "0800 1111" in detail  # still points to help
        assert r.headers["x-content-type-options"] == "nosniff"  # headers on 429 too
        assert "set-cookie" not in r.headers
    assert metrics.value("signpost_rate_limited_total", route="/api/chat") == before + 1


def test_clients_are_limited_separately(engine: Engine) -> None:
    app = limited_app(engine)
    with TestClient(app, client=IP) as a, TestClient(app, client=OTHER_IP) as b:
        assert [chat(a).status_code for _ in range(4)][-1] == 429
        assert chat(b).status_code == 200


def test_topics_are_limited_and_ops_paths_are_not(engine: Engine) -> None:
    with TestClient(limited_app(engine, rate_limit_burst=2, metrics_public=True), client=IP) as c:
        assert [c.get("/api/topics").status_code for _ in range(3)] == [200, 200, 429]
        assert chat(c).status_code == 200  # chat has its own budget
        for _ in range(20):
            assert c.get("/healthz").status_code == 200
            assert c.get("/readyz").status_code == 200
            assert c.get("/metrics").status_code == 200
            assert c.get("/widget/signpost.js").status_code == 200
            assert c.get("/").status_code == 200


def test_spoofed_forwarding_header_does_not_escape_the_limit(engine: Engine) -> None:
    with TestClient(limited_app(engine), client=IP) as c:
        codes = [chat(c, **{"X-Forwarded-For": f"192.0.2.{i}"}).status_code for i in range(5)]
        assert codes[-1] == 429


def test_trusted_proxy_header_separates_clients_behind_the_proxy(engine: Engine) -> None:
    app = limited_app(engine, trusted_proxy_header="X-Forwarded-For")
    with TestClient(app, client=("10.0.0.2", 1)) as proxy:
        for _ in range(3):
            assert chat(proxy, **{"X-Forwarded-For": "203.0.113.20"}).status_code == 200
        assert chat(proxy, **{"X-Forwarded-For": "203.0.113.20"}).status_code == 429
        assert chat(proxy, **{"X-Forwarded-For": "203.0.113.21"}).status_code == 200


def test_rate_limit_can_be_disabled(engine: Engine) -> None:
    with TestClient(limited_app(engine, rate_limit_enabled=False), client=IP) as c:
        assert all(chat(c).status_code == 200 for _ in range(10))


def test_default_is_a_sensible_limit() -> None:
    s = Settings()
    assert s.rate_limit_enabled
    assert 10 <= s.rate_limit_per_minute <= 60
    assert 3 <= s.rate_limit_burst <= 20


# -- Redis --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if found is None:
        pytest.fail(
            "redis-server is not installed: the shared rate-limit tests need it "
            "(Debian: apt-get install redis-server; ./scripts/test does this)"
        )
    return found


class RedisServer:
    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                _redis_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--dir",
                "/tmp",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def command(self, *args: str) -> bytes:
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
            parts = [f"*{len(args)}\r\n".encode()]
            for a in args:
                parts.append(f"${len(a.encode())}\r\n{a}\r\n".encode())
            s.sendall(b"".join(parts))
            time.sleep(0.05)
            return s.recv(65536)


@pytest.fixture()
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer(_free_port()).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.redis
def test_redis_limiter_directly(redis_server: RedisServer) -> None:
    async def run() -> list:
        lim = RedisLimiter(redis_server.url, per_minute=30, burst=3)
        try:
            return [await lim.hit("k") for _ in range(4)]
        finally:
            await lim.close()

    # Own thread, own loop: Playwright's sync API (browser tests, same session) keeps an
    # event loop running in the main thread, where asyncio.run() refuses to start.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        decisions = pool.submit(asyncio.run, run()).result(timeout=30)
    assert [d.allowed for d in decisions] == [True, True, True, False]
    assert 1.5 < decisions[-1].retry_after <= 2.0
    keys = redis_server.command("KEYS", "*")
    assert b"signpost:rl:k" in keys
    ttl = redis_server.command("PTTL", "signpost:rl:k")
    assert 0 < int(ttl[1:].strip()) <= 8000  # expires on its own; nothing piles up


@pytest.mark.redis
def test_redis_limit_holds_across_replicas(engine: Engine, redis_server: RedisServer) -> None:
    settings = {"redis_url": redis_server.url, "rate_limit_burst": 4}
    replica_a, replica_b = limited_app(engine, **settings), limited_app(engine, **settings)
    with TestClient(replica_a, client=IP) as a, TestClient(replica_b, client=IP) as b:
        codes = [chat(a).status_code, chat(b).status_code, chat(a).status_code, chat(b).status_code]
        assert codes == [200, 200, 200, 200]
        r = chat(a)
        assert r.status_code == 429 and int(r.headers["retry-after"]) >= 1
        assert chat(b).status_code == 429  # the other replica knows too
        with TestClient(replica_b, client=OTHER_IP) as other:
            assert chat(other).status_code == 200
    # The same limit in memory would have let each replica take a full burst.
    mem_a, mem_b = limited_app(engine, rate_limit_burst=4), limited_app(engine, rate_limit_burst=4)
    with TestClient(mem_a, client=IP) as a, TestClient(mem_b, client=IP) as b:
        assert all(chat(x).status_code == 200 for x in (a, b, a, b, a, b, a, b))


@pytest.mark.redis
def test_redis_unreachable_fails_open_with_a_warning(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    port = _free_port()  # nothing listens here
    before = metrics.value("signpost_rate_limit_backend_errors_total")
    app = limited_app(engine, redis_url=f"redis://127.0.0.1:{port}/0", rate_limit_burst=1)
    with caplog.at_level(logging.WARNING, logger="signpost"), TestClient(app, client=IP) as c:
        started = time.monotonic()
        codes = [chat(c).status_code for _ in range(6)]
        elapsed = time.monotonic() - started
    assert codes == [200] * 6  # a child still gets help
    assert elapsed < 5  # and quickly: Redis is not retried on every request
    warnings = [r for r in caplog.records if r.name == "signpost.ratelimit"]
    assert warnings and "Redis unreachable" in warnings[0].getMessage()
    assert len(warnings) == 1  # one warning, not one per request
    assert metrics.value("signpost_rate_limit_backend_errors_total") >= before + 6


@pytest.mark.redis
def test_redis_outage_and_recovery(engine: Engine, redis_server: RedisServer) -> None:
    app = limited_app(engine, redis_url=redis_server.url, rate_limit_burst=2)
    app.state.rate_limiter.retry_after_failure = 0.3
    with TestClient(app, client=IP) as c:
        assert [chat(c).status_code for _ in range(3)] == [200, 200, 429]
        redis_server.stop()
        assert all(chat(c).status_code == 200 for _ in range(5))  # fail open
        redis_server.start()  # same port; empty again
        time.sleep(0.4)
        codes = [chat(c).status_code for _ in range(4)]
        assert codes[:2] == [200, 200] and codes[-1] == 429  # limiting again


def test_redis_url_without_the_package_is_a_clear_start_up_error(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_redis(name: str, *args: object, **kwargs: object):
        if name.startswith("redis"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_redis)
    with pytest.raises(RuntimeError, match=r"signpost\[redis\]"):
        limited_app(engine, redis_url="redis://127.0.0.1:1/0")
