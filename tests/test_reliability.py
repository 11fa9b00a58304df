"""Slow and abandoned clients, Host headers, HEAD, the widget folder, /metrics placement, log
floods and Redis state changes (issue 18). bench/reliability.py measures the same against a
real server under load."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import errno
import logging
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from bot import metrics
from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from bot.logs import RepeatFilter
from bot.ratelimit import RedisLimiter
from bot.static import is_asset
from tests.conftest import ROOT
from tests.servers import serve

JSON = (b"content-type", b"application/json")


@pytest.fixture(scope="module")
def app(engine: Engine) -> FastAPI:
    return create_app(Settings(rate_limit_enabled=False, body_timeout=0.3), engine=engine)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def in_own_loop(coro: Awaitable[object]) -> object:
    # Own thread, own loop (Playwright's sync API may hold the main thread's loop).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=30)  # type: ignore[arg-type]


async def call(
    app: FastAPI, receive: Callable[[], Awaitable[dict]], path: str = "/api/chat"
) -> list[dict]:
    """One request straight into the ASGI app (as uvicorn would), every message it sends."""
    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [JSON, (b"host", b"testserver"), (b"content-length", b"40")],
        "client": ("203.0.113.7", 5000),
        "server": ("testserver", 80),
    }
    await app(scope, receive, send)
    return sent


def _chat_count(status: str) -> float:
    return metrics.value(
        "signpost_http_requests_total", method="POST", route="/api/chat", status=status
    )


# -- a client that goes away mid-request is a 499, never a 500 -------------------------------


def test_aborted_request_is_499_in_log_and_metrics(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    parts = iter(
        [
            {"type": "http.request", "body": b'{"message": "what is', "more_body": True},
            {"type": "http.disconnect"},
        ]
    )

    async def receive() -> dict:
        return next(parts)

    before_500, before_499 = _chat_count("500"), _chat_count("499")
    timed = metrics.value("signpost_http_request_duration_seconds_count", route="/api/chat")
    with caplog.at_level(logging.INFO, logger="signpost.access"):
        sent = in_own_loop(call(app, receive))
    assert sent == []  # nobody left to answer
    assert _chat_count("499") == before_499 + 1
    assert _chat_count("500") == before_500
    # The time the client kept us waiting is not counted as our latency.
    assert metrics.value("signpost_http_request_duration_seconds_count", route="/api/chat") == (
        timed
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "signpost.access"]
    assert lines == [lines[0]] and lines[0].startswith("POST /api/chat 499 ")


def test_a_real_error_is_still_a_500(engine: Engine, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(rate_limit_enabled=False), engine=engine)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("boom")

    with TestClient(app, raise_server_exceptions=False) as c:
        assert c.get("/boom").status_code == 500
    assert (
        metrics.value("signpost_http_requests_total", method="GET", route="/boom", status="500")
        >= 1
    )


def test_body_sent_too_slowly_is_408_and_closes(app: FastAPI) -> None:
    async def receive() -> dict:
        await asyncio.sleep(5)  # the rest of the body never comes
        return {"type": "http.request", "body": b"", "more_body": False}

    before = metrics.value("signpost_slow_clients_total", stage="body")
    started = time.monotonic()
    sent = in_own_loop(call(app, receive))
    assert time.monotonic() - started < 2
    start = sent[0]
    assert start["status"] == 408
    assert (b"connection", b"close") in start["headers"]  # uvicorn then closes it
    assert metrics.value("signpost_slow_clients_total", stage="body") == before + 1


# -- Host header, HEAD, widget files, /metrics ------------------------------------------------


def test_host_header_never_comes_back(client: TestClient) -> None:
    for path in ("/widget", "/widget/", "/docs/", "/api/chat/"):
        r = client.get(path, headers={"host": "evil.example"}, follow_redirects=False)
        for name, value in r.headers.items():
            assert "evil.example" not in value, (path, name, value)
    r = client.get("/widget", headers={"host": "evil.example"}, follow_redirects=False)
    assert r.status_code in (301, 307, 308) and r.headers["location"] == "/widget/"


def test_allowed_hosts(engine: Engine) -> None:
    app = create_app(Settings(allowed_hosts="chat.example.org"), engine=engine)
    with TestClient(app, base_url="http://chat.example.org") as c:
        assert c.get("/api/topics").status_code == 200
        r = c.get("/api/topics", headers={"host": "evil.example"})
        assert r.status_code == 400 and "evil.example" not in str(r.headers)
        # Probes come by address, with any Host.
        assert c.get("/healthz", headers={"host": "10.1.2.3:8000"}).status_code == 200
        assert c.get("/readyz", headers={"host": "10.1.2.3:8000"}).status_code == 200
    with pytest.raises(ValueError):
        Settings(allowed_hosts="*")


def test_head_where_get_is(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/", "/widget/signpost.js", "/api/topics"):
        get, head = client.get(path), client.head(path)
        assert head.status_code == 200, path
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
        assert "x-content-type-options" in head.headers
    assert client.head("/api/chat").status_code == 405


def test_only_widget_assets_are_served(client: TestClient) -> None:
    assert client.get("/widget/signpost.js").status_code == 200
    assert client.get("/widget/signpost.css").status_code == 200
    assert client.get("/widget/demo.html").status_code == 200
    for path in ("/widget/README.md", "/widget/.gitignore", "/widget/../pyproject.toml"):
        assert client.get(path).status_code == 404, path
    assert is_asset("a/b.js") and not is_asset(".hidden/x.js") and not is_asset("README.md")


def test_metrics_are_not_on_the_public_port_by_default(engine: Engine) -> None:
    with TestClient(create_app(Settings(), engine=engine)) as c:
        assert c.get("/metrics").status_code == 404
    assert Settings().metrics_port > 0 and Settings().metrics_public is False


def test_metrics_render_adds_the_fallback_ratio() -> None:
    text = metrics.render().decode()
    assert "# TYPE signpost_chat_fallback_ratio gauge" in text
    assert "signpost_build_info" in text


# -- log floods, Redis state ------------------------------------------------------------------


def _record(exc: BaseException | None, msg: str = "socket.accept() out of system resource"):
    exc_info = (type(exc), exc, None) if exc is not None else None
    return logging.LogRecord("asyncio", logging.ERROR, __file__, 1, msg, (), exc_info)


def test_repeated_connection_errors_are_logged_once() -> None:
    f = RepeatFilter(window=60)
    emfile = OSError(errno.EMFILE, "Too many open files")
    kept = [r for r in (_record(emfile) for _ in range(1000)) if f.filter(r)]
    assert len(kept) == 1
    assert kept[0].exc_info is None and "OSError/24" in kept[0].getMessage()
    # Another kind is its own line; an ordinary error is never held back.
    assert f.filter(_record(ConnectionResetError(errno.ECONNRESET, "reset")))
    assert all(f.filter(_record(None, "something else")) for _ in range(3))
    warnings = [
        logging.LogRecord(
            "uvicorn.error",
            logging.WARNING,
            __file__,
            1,
            "Invalid HTTP request received.",
            (),
            None,
        )
        for _ in range(50)
    ]
    assert [f.filter(w) for w in warnings].count(True) == 1
    # After the window, one more line with the count held back.
    f.window = 0.0
    again = _record(emfile)
    assert f.filter(again) and "999 held back" in again.getMessage()


class _FlakyScript:
    """Stands in for the Redis Lua script: fails while `down`, slowly (like a timeout)."""

    def __init__(self) -> None:
        self.down = False
        self.calls = 0

    async def __call__(self, keys: list, args: list) -> list[int]:
        self.calls += 1
        was_down = self.down
        await asyncio.sleep(0.01)
        if was_down:
            raise ConnectionError("down")
        return [1, 0]


def test_redis_state_changes_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    lim = RedisLimiter("redis://127.0.0.1:1/0", per_minute=30, burst=3, retry_after_failure=0.2)
    script = _FlakyScript()
    lim._script = lambda: script  # type: ignore[method-assign]

    asked_while_down: list[int] = []

    async def burst() -> None:
        await asyncio.gather(*(lim.hit(f"k{i}") for i in range(20)))

    async def scenario() -> None:
        await burst()  # up
        script.down = True
        for _ in range(5):  # concurrent requests fail together, then retries back off
            await burst()
            await asyncio.sleep(0.1)
        asked_while_down.append(script.calls - 20)
        script.down = False
        for _ in range(12):  # comes back: some requests in flight, then the retry
            await burst()
            await asyncio.sleep(0.1)

    with caplog.at_level(logging.WARNING, logger="signpost.ratelimit"):
        in_own_loop(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "signpost.ratelimit"]
    assert len(lines) == 2, lines
    assert "unreachable" in lines[0] and "reachable again" in lines[1]
    # While down, Redis was asked by the first burst and then by one retry at a time.
    assert asked_while_down[0] <= 20 + 4, asked_while_down


class _FakeRedis:
    """redis.asyncio stand-in: a client's connections die when the server restarts, so a
    client made before an outage keeps failing after it (as a pool of dead connections)."""

    def __init__(self) -> None:
        self.up = True
        self.restarts = 0
        self.clients = 0

    def from_url(self, url: str, **_: object) -> object:
        fake, born = self, self.restarts
        self.clients += 1

        class Client:
            def register_script(self, _lua: str) -> Callable[..., Awaitable[list[int]]]:
                async def run(keys: list, args: list) -> list[int]:
                    await asyncio.sleep(0.005)
                    if not fake.up or born != fake.restarts:
                        raise ConnectionError("connection closed")
                    return [1, 0]

                return run

            async def aclose(self) -> None:
                pass

        return Client()


def test_redis_restart_does_not_make_the_state_flap(caplog: pytest.LogCaptureFixture) -> None:
    lim = RedisLimiter("redis://127.0.0.1:1/0", per_minute=30, burst=3, retry_after_failure=0.1)
    fake = _FakeRedis()
    lim._aioredis = fake  # type: ignore[assignment]

    async def scenario() -> list[bool]:
        await asyncio.gather(*(lim.hit(f"k{i}") for i in range(10)))
        fake.up, fake.restarts = False, fake.restarts + 1  # Redis dies
        await asyncio.gather(*(lim.hit(f"k{i}") for i in range(10)))
        fake.up = True  # and comes back, empty, with new connections needed
        await asyncio.sleep(0.15)
        seen = []
        for _ in range(10):
            seen.append(lim._down_since is None)
            await asyncio.gather(*(lim.hit(f"k{i}") for i in range(10)))
            await asyncio.sleep(0.05)
        return seen

    with caplog.at_level(logging.WARNING, logger="signpost.ratelimit"):
        up_after = in_own_loop(scenario())
    lines = [r.getMessage() for r in caplog.records if r.name == "signpost.ratelimit"]
    assert len(lines) == 2 and "reachable again" in lines[1], lines
    assert all(up_after[1:])  # up again at once, and stays up
    assert fake.clients == 2  # the dead client was dropped, one new one made


# -- a real server ----------------------------------------------------------------------------


def test_stalled_connections_are_closed_and_probes_answer() -> None:
    metrics_port = _free_port()
    env = {
        "SIGNPOST_HEADER_TIMEOUT": "1",
        "SIGNPOST_KEEP_ALIVE_TIMEOUT": "5",
        "SIGNPOST_MAX_CONNECTIONS": "32",  # fewer than the stalled ones: the oldest make room
        "SIGNPOST_METRICS_PORT": str(metrics_port),
    }
    with serve(env=env) as server:
        host, port = server.base.removeprefix("http://").split(":")
        stalled = []
        for i in range(50):
            s = socket.create_connection((host, int(port)))
            s.sendall(b"POST /api/chat HTTP/1.1\r\nHost: x\r\n" if i % 2 else b"GE")
            stalled.append(s)
        probes = []
        for _ in range(10):  # a new connection each, as kubelet probes
            started = time.perf_counter()
            with socket.create_connection((host, int(port)), timeout=2) as probe:
                assert _get(probe).startswith(b"HTTP/1.1 200")
            probes.append(time.perf_counter() - started)
        assert max(probes) < 0.5
        time.sleep(1.6)
        closed = 0
        for s in stalled:
            s.settimeout(2)
            try:
                closed += s.recv(1) == b""
            except OSError:  # reset: closed too
                closed += 1
            s.close()
        assert closed == len(stalled)
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        counts = {
            line.split('"')[1]: float(line.split()[-1])
            for line in text.splitlines()
            if line.startswith("signpost_slow_clients_total{")
        }
    assert counts["evicted"] >= len(stalled) - 32
    assert counts["evicted"] + counts["headers"] == len(stalled)
    assert "Traceback" not in server.output


def _get(s: socket.socket, path: bytes = b"/healthz") -> bytes:
    s.sendall(b"GET " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def test_keep_alive_outlasts_the_header_deadline_but_a_stalled_next_request_does_not() -> None:
    env = {"SIGNPOST_HEADER_TIMEOUT": "1", "SIGNPOST_KEEP_ALIVE_TIMEOUT": "4"}
    with serve(env=env) as server:
        host, port = server.base.removeprefix("http://").split(":")
        idle = socket.create_connection((host, int(port)), timeout=5)
        stalled = socket.create_connection((host, int(port)), timeout=5)
        assert _get(idle).startswith(b"HTTP/1.1 200")
        assert _get(stalled).startswith(b"HTTP/1.1 200")
        stalled.sendall(b"GET /hea")  # the next request starts, and stops
        time.sleep(2)  # past the header deadline, within the keep-alive timeout
        assert _get(idle).startswith(b"HTTP/1.1 200")  # idle: still open, reused
        with contextlib.suppress(ConnectionResetError):  # a reset is closed too
            assert stalled.recv(1) == b""
        idle.close()
        stalled.close()


def test_open_file_limit_is_raised_to_the_hard_limit() -> None:
    code = (
        "import resource as r; s, h = r.getrlimit(r.RLIMIT_NOFILE);"
        "r.setrlimit(r.RLIMIT_NOFILE, (256, h));"
        "from bot.server import raise_open_file_limit as f; print(f(), h)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True
    ).stdout.split()
    before, after, hard = out[0].strip("(,"), out[1].strip(")"), out[2]
    assert before == "256"
    assert after == hard or hard == str(resource.RLIM_INFINITY)


def test_two_workers_each_listen_and_metrics_add_up(tmp_path: Path) -> None:
    metrics_port = _free_port()
    stale = tmp_path / "counter_999999.db"
    stale.write_bytes(b"left by an earlier run")
    env = {
        "SIGNPOST_METRICS_PORT": str(metrics_port),
        "SIGNPOST_RATE_LIMIT_ENABLED": "false",
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path),
    }
    with serve("--workers", "2", env=env, start_timeout=90) as server:
        assert not stale.exists()  # emptied at start
        port = int(server.base.rsplit(":", 1)[1])
        # The public port has no /metrics; the metrics port counts every worker's requests.
        assert httpx.get(f"{server.base}/metrics", timeout=5).status_code == 404
        n = 40
        for _ in range(n):  # a new connection each: spread over both workers by the kernel
            assert httpx.get(f"{server.base}/healthz", timeout=5).status_code == 200
        text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        line = 'signpost_http_requests_total{method="GET",route="/healthz",status="200"}'
        counted = next(float(x.split()[-1]) for x in text.splitlines() if x.startswith(line))
        assert counted == n
        listeners = _listeners(port)
    assert listeners == 2, "one SO_REUSEPORT socket per worker"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(port: int) -> int:
    """Listening TCP sockets on this port, from /proc/net/tcp (state 0A = LISTEN)."""
    rows = open("/proc/net/tcp").read().splitlines()[1:]  # noqa: SIM115
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")
