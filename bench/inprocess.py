"""CPU time per request inside one process: the app behind uvicorn's own HTTP/1.1 protocol.

    python bench/inprocess.py                 # 7 rounds of 280 requests per endpoint
    python bench/inprocess.py --rounds 15 --requests 560

bench/load.py measures a real server, but its load generator shares the machine, so its
figures move with whatever else runs (the same code has measured 3 to 5 ms per chat). This
feeds the raw bytes of HTTP/1.1 requests (load.py's chat mix, and GET /healthz) to uvicorn's
h11 protocol over an in-memory transport, one at a time, and prints the CPU time
(process_time) per request: min and median over the rounds, for /healthz, /api/chat, and
Engine.respond alone. No sockets and no second process: a steady before/after comparison of
what the application itself costs. Rate limiting is switched off, as in load.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import MESSAGES  # bench/ is not a package: imported from beside this file

HEADERS = (
    "Host: 127.0.0.1:8000\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\n"
    "Connection: keep-alive\r\nUser-Agent: python-httpx/0.28.1\r\n"
)


class MemoryTransport(asyncio.Transport):
    """Keeps what is written; enough of a transport for uvicorn's protocol."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []

    def write(self, data: Any) -> None:
        self.written.append(bytes(data))

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return False

    def close(self) -> None:
        pass

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass


def request(path: str, body: bytes | None = None) -> bytes:
    if body is None:
        return f"GET {path} HTTP/1.1\r\n{HEADERS}\r\n".encode()
    head = f"POST {path} HTTP/1.1\r\n{HEADERS}Content-Length: {len(body)}\r\n"
    return (head + "Content-Type: application/json\r\n\r\n").encode() + body


def summary(samples: list[float]) -> str:
    return f"min {min(samples):6.3f}  median {statistics.median(samples):6.3f}"


async def measure(rounds: int, per_round: int) -> dict[str, list[float]]:
    from uvicorn.config import Config
    from uvicorn.protocols.http.h11_impl import H11Protocol
    from uvicorn.server import ServerState

    from bot.api import create_app

    app = create_app()
    config = Config(app=app, log_config=None, access_log=False, lifespan="off")
    config.load()
    loop = asyncio.get_running_loop()
    protocol = H11Protocol(config=config, server_state=ServerState(), app_state={}, _loop=loop)
    transport = MemoryTransport()
    protocol.connection_made(transport)
    done = asyncio.Event()
    complete = protocol.on_response_complete

    def on_response_complete() -> None:  # each request's cycle is handed this at its start
        complete()
        done.set()

    protocol.on_response_complete = on_response_complete

    async def send(raw: bytes) -> None:
        transport.written.clear()
        done.clear()
        protocol.data_received(raw)
        await done.wait()
        if not transport.written[0].startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"unexpected response: {transport.written[0][:60]!r}")

    chats = [request("/api/chat", json.dumps(m).encode()) for m in MESSAGES]
    health = request("/healthz")
    engine = app.state.engine

    def respond(i: int) -> None:
        m = MESSAGES[i % len(MESSAGES)]
        engine.respond(m["message"], m.get("audience"))

    jobs: dict[str, Callable[[int], Any]] = {
        "healthz": lambda i: send(health),
        "chat": lambda i: send(chats[i % len(chats)]),
        "engine": respond,
    }
    for raw in chats:  # warm up
        await send(raw)
    out: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(rounds):
        for name, job in jobs.items():
            start = time.process_time()
            for i in range(per_round):
                step = job(i)
                if step is not None:
                    await step
            out[name].append((time.process_time() - start) * 1000 / per_round)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=7, help="rounds per endpoint (min/median over)")
    p.add_argument("--requests", type=int, default=280, help="requests per round")
    args = p.parse_args(argv)
    if not (0 < args.rounds <= 1000 and 0 < args.requests <= 100_000):
        p.error("--rounds 1..1000 and --requests 1..100000")
    os.environ["SIGNPOST_RATE_LIMIT_ENABLED"] = "false"
    results = asyncio.run(measure(args.rounds, args.requests))
    print(f"CPU ms per request, in-process ({args.rounds} rounds of {args.requests}):")
    for name, samples in results.items():
        print(f"  {name:<8} {summary(samples)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
