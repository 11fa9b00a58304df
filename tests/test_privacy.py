"""Privacy guarantees (docs/DESIGN.md "Privacy"), tested with a unique sentinel string.

Whatever a client sends, its text ends up in no log line (ours, uvicorn's, any logger, at
debug level, in a real `signpost serve` too), in no file, in no response header and in no
response body; no cookie is ever set; access logs carry method, route, status and latency.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from bot.api import create_app
from bot.config import Settings
from bot.engine import Engine
from tests.conftest import ROOT
from tests.servers import serve

ACCESS_LINE = re.compile(r"(GET|POST|PUT|DELETE|OPTIONS|HEAD|PATCH|OTHER) (/\S*) (\d{3}) [\d.]+ms$")


def new_sentinel() -> str:
    # Made at run time, so it is in no source file; letters and digits survive normalising.
    return "zq" + uuid.uuid4().hex


def hostile_requests(s: str) -> list[tuple[str, str, dict]]:
    """(method, url, httpx kwargs): the sentinel in every place a client can put it."""
    j = {"content-type": "application/json"}
    return [
        ("POST", "/api/chat", {"json": {"message": f"what is grooming {s}"}}),
        ("POST", "/api/chat", {"json": {"message": f"he is blackmailing me with my pictures {s}"}}),
        ("POST", "/api/chat", {"json": {"message": f"i want to kill myself {s}"}}),
        ("POST", "/api/chat", {"json": {"message": f"{s} {s}", "audience": "parent"}}),
        ("POST", "/api/chat", {"json": {"message": "hello", "context": {"topic": s, s: s}}}),
        ("POST", "/api/chat", {"json": {"message": "hi", "audience": s}}),  # 422
        ("POST", "/api/chat", {"json": {"message": s * 40}}),  # 422, too long
        ("POST", "/api/chat", {"json": {"message": s, "context": s}}),  # 422
        ("POST", "/api/chat", {"content": f'{{"message": "{s}'.encode(), "headers": j}),  # bad JSON
        ("POST", "/api/chat", {"content": (s * 600).encode(), "headers": j}),  # 413
        (
            "POST",
            "/api/chat",
            {"content": f"message={s}".encode(), "headers": {"content-type": "text/plain"}},
        ),  # 415
        ("GET", f"/api/topics?q={s}", {}),
        ("GET", f"/{s}", {}),
        ("GET", f"/widget/{s}.js?{s}={s}", {}),
        ("GET", f"/healthz?{s}", {}),
        (
            "GET",
            "/readyz",
            {
                "headers": {
                    "x-note": s,
                    "user-agent": s,
                    "referer": f"https://x.example/{s}",
                    "cookie": f"id={s}",
                }
            },
        ),
        ("DELETE", f"/api/chat?{s}", {}),
    ]


def check_responses(responses: list[httpx.Response], s: str) -> None:
    for r in responses:
        assert r.status_code < 500, (r.request.method, r.status_code)
        assert "set-cookie" not in r.headers
        for name, value in r.headers.items():
            assert s not in name and s not in value, f"sentinel echoed in header {name}"
        assert s.encode() not in r.content, f"sentinel echoed in a {r.status_code} body"


def files_touched_since(start: float, roots: list[Path]) -> Iterator[Path]:
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root, onerror=lambda _: None):
            dirnames[:] = [d for d in dirnames if not Path(dirpath, d).is_symlink()]
            for name in filenames:
                path = Path(dirpath, name)
                try:
                    st = path.lstat()
                except OSError:
                    continue
                if path.is_file() and not path.is_symlink() and st.st_mtime >= start - 1:
                    yield path


def assert_in_no_file(s: str, start: float) -> None:
    needles = (s.encode(), s.encode("utf-16-le"))
    roots = [ROOT, Path(tempfile.gettempdir())]
    checked = 0
    for path in files_touched_since(start, roots):
        try:
            if path.stat().st_size > 50_000_000:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        checked += 1
        for needle in needles:
            assert needle not in data, f"sentinel found in file {path}"
    assert checked >= 0


# -- in-process: every logger, at debug level, including exceptions ----------------------------


class _Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("httpx", "httpcore")):
            return  # the test's own HTTP client (it logs the URLs it requests), not the server
        self.lines.append(self.format(record))


@pytest.fixture()
def all_logs() -> Iterator[_Everything]:
    handler = _Everything()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    # Loggers that do not propagate get the handler directly.
    extra = [
        logging.getLogger(n) for n in ("uvicorn", "uvicorn.error", "uvicorn.access", "signpost")
    ]
    for lg in extra:
        lg.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        for lg in extra:
            lg.removeHandler(handler)


def test_in_process_no_trace_of_the_message(engine: Engine, all_logs: _Everything) -> None:
    s = new_sentinel()
    start = time.time()
    app = create_app(Settings(rate_limit_enabled=False), engine=engine)
    with TestClient(app, client=("198.51.100.77", 5000), raise_server_exceptions=False) as c:
        responses = [c.request(m, url, **kw) for m, url, kw in hostile_requests(s)]
    check_responses(responses, s)
    logs = "\n".join(all_logs.lines)
    assert "signpost.access INFO POST /api/chat 200" in logs  # the capture works
    assert s not in logs
    for line in all_logs.lines:
        if line.startswith("signpost.access"):
            assert ACCESS_LINE.search(line), line
    assert_in_no_file(s, start)


def test_in_process_engine_failure_leaks_nothing(engine: Engine, all_logs: _Everything) -> None:
    s = new_sentinel()

    class Exploding:
        kb = engine.kb

        def respond(self, message: str, *_: object) -> object:
            raise RuntimeError(f"failed on {message}")

    app = create_app(Settings(rate_limit_enabled=False), engine=Exploding())  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.post("/api/chat", json={"message": f"help {s}"})
    check_responses([r], s)
    assert r.status_code == 200
    logs = "\n".join(all_logs.lines)
    assert "RuntimeError" in logs and s not in logs


# -- a real server --------------------------------------------------------------------------


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_real_server_no_trace_of_the_message(log_format: str) -> None:
    s = new_sentinel()
    start = time.time()
    env = {
        "SIGNPOST_LOG_FORMAT": log_format,
        "SIGNPOST_LOG_LEVEL": "debug",
        "SIGNPOST_RATE_LIMIT_BURST": "3",
        "PYTHONUNBUFFERED": "1",
    }
    responses: list[httpx.Response] = []
    with serve(env=env) as server, httpx.Client(base_url=server.base, timeout=10) as client:
        for m, url, kw in hostile_requests(s):
            responses.append(client.request(m, url, **kw))
    out = server.output
    check_responses(responses, s)
    assert 429 in [r.status_code for r in responses]  # rate limiting was on, and its 429 is clean
    assert "/api/chat" in out and "Application startup complete" in out  # capture works
    assert s not in out
    access = []
    for line in out.splitlines():
        if log_format == "json":
            record = json.loads(line)  # every line, uvicorn's included, is JSON
            if record["logger"] == "signpost.access":
                access.append(record)
                assert set(record) == {
                    "ts",
                    "level",
                    "logger",
                    "message",
                    "method",
                    "route",
                    "status",
                    "ms",
                }
                assert "?" not in record["route"]
        elif "signpost.access" in line:
            access.append(line)
            assert ACCESS_LINE.search(line), line
    assert len(access) >= len(hostile_requests(s))
    assert_in_no_file(s, start)
