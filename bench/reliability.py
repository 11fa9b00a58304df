"""Reliability checks against a real `signpost serve` on loopback, bounded in time, with figures.

    python bench/reliability.py                     # every check, about 3 minutes
    python bench/reliability.py --only slow,abort   # some of them
    python bench/reliability.py --stalled 1000 --nofile 1024 --spread-runs 5

Checks (each starts its own server and stops it):

- slow:   N stalled connections from this one client (half stop inside the headers, half
          inside a body), under an open-file limit of --nofile (soft and hard, as in many
          containers, so raising it is no help). Health probes meanwhile: latency p50/p99 and
          failures. Then: were all stalled connections closed, and how long after they opened
          (against the configured deadlines)? How many log lines and tracebacks?
- abort:  requests whose client goes away mid-body: counted as 499 in the log and the
          metrics, never 500.
- redis:  shared rate limits with Redis killed, restarted and hung (SIGSTOP) under load:
          every chat still answered, and how many "unreachable" / "reachable again" lines.
- kill:   one of two workers killed (SIGKILL) under load: errors, and the supervisor's
          replacement listening again.
- sigterm: SIGTERM to the server under load: requests cut, 5xx, exit code and time.
- spread: --workers 2, 64 keep-alive clients, --spread-runs runs: each worker's share
          (bench/load.py --spread).

The exit code is 1 if any check failed its target.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import resource
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import load

ROOT = Path(__file__).resolve().parent.parent
CHAT = {"message": "what is grooming"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(values: list[float], q: float) -> float:
    return load.percentile(sorted(values), q) * 1000 if values else float("nan")


@dataclass
class Server:
    port: int
    metrics_port: int
    proc: subprocess.Popen
    log_path: Path
    metrics_dir: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def metric(self, prefix: str) -> float:
        text = httpx.get(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).text
        return sum(float(x.split()[-1]) for x in text.splitlines() if x.startswith(prefix))

    def workers(self) -> list[int]:
        return [
            p
            for p in load.process_tree(self.proc.pid)
            if p != self.proc.pid and "resource_tracker" not in load.cmdline(p)
        ]


@contextlib.contextmanager
def serve(
    workers: int = 1, env: dict[str, str] | None = None, nofile: int | None = None
) -> Iterator[Server]:
    port, metrics_port = free_port(), free_port()
    tmp = Path(tempfile.mkdtemp(prefix="signpost-reliability-"))
    full = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    full.update(
        SIGNPOST_RATE_LIMIT_ENABLED="false",
        SIGNPOST_METRICS_PORT=str(metrics_port),
        PROMETHEUS_MULTIPROC_DIR=str(tmp / "metrics"),
    )
    full.update(env or {})

    def limits() -> None:
        if nofile:  # soft and hard: the server cannot raise it
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    log_path = tmp / "server.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve", "--port", str(port), "--workers", str(workers)],
            cwd=ROOT,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=limits,
        )
    server = Server(port, metrics_port, proc, log_path, tmp / "metrics")
    try:
        load.wait_ready(server.base, proc, timeout=120)
        yield server
    finally:
        stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)


def stop(proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 40) -> float:
    started = time.monotonic()
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return time.monotonic() - started


class Report:
    def __init__(self) -> None:
        self.failed: list[str] = []

    def line(self, text: str) -> None:
        print(f"  {text}", flush=True)

    def check(self, ok: bool, text: str) -> None:
        print(f"  [{'ok' if ok else 'FAIL'}] {text}", flush=True)
        if not ok:
            self.failed.append(text)


# -- slow clients ---------------------------------------------------------------------------


def probe(port: int, timeout: float = 2.0) -> bool:
    """GET /healthz on a new connection, as kubelet or a load balancer does (raw socket: an
    HTTP client library would spend more time setting itself up than the server answering)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        return data.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def probe_loop(port: int, until: Callable[[], bool], every: float = 0.02) -> tuple[list, int]:
    """Probes one after another until told to stop: latencies (s) and failures."""
    took, failed = [], 0
    while not until():
        started = time.perf_counter()
        ok = probe(port)
        took.append(time.perf_counter() - started)
        failed += not ok
        time.sleep(every)
    return took, failed


def check_slow(args: argparse.Namespace, report: Report) -> None:
    h, b = args.header_timeout, args.body_timeout
    env = {"SIGNPOST_HEADER_TIMEOUT": str(h), "SIGNPOST_BODY_TIMEOUT": str(b)}
    print(
        f"slow: {args.stalled} stalled connections, open-file limit {args.nofile}, "
        f"header deadline {h:g} s, body deadline {b:g} s"
    )
    with serve(env=env, nofile=args.nofile) as server:
        log_before = len(server.log())
        sel = selectors.DefaultSelector()
        opened: dict[socket.socket, float] = {}
        headers = b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        for i in range(args.stalled):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            # Half stop inside the headers, half inside a body they said would be 100 bytes.
            s.sendall(headers if i % 2 else headers + b"Content-Length: 100\r\n\r\n{")
            s.setblocking(False)
            sel.register(s, selectors.EVENT_READ)
            opened[s] = time.monotonic()
        all_open = time.monotonic()
        report.line(f"{len(opened)} stalled connections open")

        probes: list[tuple[list[float], int]] = []
        done = threading.Event()
        t = threading.Thread(
            target=lambda: probes.append(probe_loop(server.port, done.is_set)), daemon=True
        )
        t.start()
        closed_after: list[float] = []
        got_408 = got_503 = 0
        deadline = all_open + max(h, b) + 15
        while opened and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.5):
                s = key.fileobj
                try:
                    data = s.recv(4096)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                if data.startswith(b"HTTP/1.1 408"):
                    got_408 += 1
                elif data.startswith(b"HTTP/1.1 503"):
                    got_503 += 1
                if not data or b"connection: close" in data.lower():
                    closed_after.append(time.monotonic() - opened.pop(s))  # type: ignore[arg-type]
                    sel.unregister(s)
                    s.close()  # type: ignore[union-attr]
        done.set()
        t.join(timeout=5)
        for s in opened:
            s.close()
        took, failed = probes[0] if probes else ([], 0)
        log = server.log()[log_before:]
        evicted = server.metric('signpost_slow_clients_total{stage="evicted"}')
    report.line(
        f"health probes while stalled: {len(took)}, failed {failed}, "
        f"p50 {pct(took, 0.5):.1f} ms, p99 {pct(took, 0.99):.1f} ms, max {pct(took, 1):.1f} ms"
    )
    report.check(failed == 0 and pct(took, 0.99) < 200, "probes answered, p99 under 200 ms")
    slowest = max(closed_after, default=float("nan"))
    report.line(
        f"stalled connections closed by the server: {len(closed_after)} of {args.stalled} "
        f"({got_408} with a 408, {got_503} with a 503 as the worker was full, {evicted:.0f} "
        "closed early to make room), slowest after "
        f"{slowest:.2f} s (deadlines {h:g} s headers, {b:g} s body)"
    )
    report.check(
        len(closed_after) == args.stalled and slowest <= max(h, b) + 1.5,
        "every stalled connection closed within its deadline (+1.5 s)",
    )
    lines = log.splitlines()
    access = sum("signpost.access" in x for x in lines)  # one per request, by design
    other = [x for x in lines if "signpost.access" not in x]
    tracebacks = log.count("Traceback")
    report.line(
        f"server log meanwhile: {len(lines)} lines ({access} access-log lines, one per "
        f"answered request), {len(log)} bytes, {tracebacks} tracebacks; other lines:"
    )
    for x in other[:10]:
        report.line(f"    {x[:160]}")
    report.check(tracebacks == 0 and len(other) < 20, "no traceback flood")


# -- aborted requests -----------------------------------------------------------------------


def check_abort(args: argparse.Namespace, report: Report) -> None:
    print(f"abort: {args.aborts} requests abandoned mid-body")
    with serve() as server:
        for i in range(args.aborts):
            s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            s.sendall(
                b"POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 60\r\n\r\n{"message": "what'
            )
            time.sleep(0.02)
            if i % 2:  # half with a reset, half with a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            s.close()
        time.sleep(0.5)
        m499 = server.metric(
            'signpost_http_requests_total{method="POST",route="/api/chat",status="499"}'
        )
        m500 = server.metric(
            'signpost_http_requests_total{method="POST",route="/api/chat",status="5'
        )
        timed = server.metric('signpost_http_request_duration_seconds_count{route="/api/chat"}')
        log = server.log()
    l499, l500 = log.count("POST /api/chat 499"), log.count("POST /api/chat 500")
    report.line(
        f"metrics: 499 x{m499:.0f}, 5xx x{m500:.0f}, timed {timed:.0f}; "
        f"log: 499 x{l499}, 500 x{l500}, tracebacks {log.count('Traceback')}"
    )
    report.check(
        m499 == l499 == args.aborts and m500 == l500 == 0 and timed == 0,
        "aborted requests are 499 in log and metrics, never 500, and not timed",
    )


# -- faults under load ----------------------------------------------------------------------


async def _load(base: str, clients: int, seconds: float, events: list) -> None:
    """Chat from `clients` keep-alive clients; each result is (time, status or error name)."""
    end = time.monotonic() + seconds

    async def one(k: int) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=5, limits=load.ONE) as c:
            while time.monotonic() < end:
                started = time.monotonic()
                try:
                    r = await c.post("/api/chat", json=load.MESSAGES[k % len(load.MESSAGES)])
                    events.append((started, time.monotonic() - started, r.status_code))
                except httpx.HTTPError as exc:
                    events.append((started, time.monotonic() - started, type(exc).__name__))
                    await asyncio.sleep(0.05)
                k += 7

    await asyncio.gather(*(one(k) for k in range(clients)))


def run_load(base: str, clients: int, seconds: float) -> tuple[list, threading.Thread]:
    events: list = []
    t = threading.Thread(target=asyncio.run, args=(_load(base, clients, seconds, events),))
    t.start()
    return events, t


def summarise(events: list, since: float = 0.0) -> str:
    ev = [e for e in events if e[0] >= since]
    ok = [e for e in ev if e[2] == 200]
    other: dict[str, int] = {}
    for e in ev:
        if e[2] != 200:
            other[str(e[2])] = other.get(str(e[2]), 0) + 1
    p99 = pct([e[1] for e in ok], 0.99)
    return f"{len(ev)} chats, {len(ok)} answered 200 (p99 {p99:.0f} ms), others {other or 'none'}"


def check_redis(args: argparse.Namespace, report: Report) -> None:
    redis = shutil.which("redis-server")
    if redis is None:
        report.check(False, "redis: redis-server is not installed")
        return
    print("redis: shared rate limits; Redis killed, restarted, then hung, under load")
    rport = free_port()
    cmd = [redis, "--port", str(rport), "--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]

    def start_redis() -> subprocess.Popen:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        return p

    rds = start_redis()
    env = {
        "SIGNPOST_RATE_LIMIT_ENABLED": "true",
        "SIGNPOST_REDIS_URL": f"redis://127.0.0.1:{rport}/0",
        "SIGNPOST_RATE_LIMIT_PER_MINUTE": "100000",
        "SIGNPOST_RATE_LIMIT_BURST": "100000",
    }
    try:
        with serve(env=env) as server:
            events, t = run_load(server.base, 8, 14)
            time.sleep(2)
            rds.kill()
            rds.wait()
            killed = time.monotonic()
            report.line("Redis killed")
            time.sleep(3)
            rds = start_redis()
            report.line("Redis restarted")
            time.sleep(4)
            report.line("Redis hung (SIGSTOP) for 2 s")
            rds.send_signal(signal.SIGSTOP)  # hung: accepts nothing, answers nothing
            hung = time.monotonic()
            time.sleep(2)
            rds.send_signal(signal.SIGCONT)
            t.join(timeout=30)
            log = server.log()
    finally:
        with contextlib.suppress(ProcessLookupError):
            rds.send_signal(signal.SIGCONT)
        rds.kill()
        rds.wait()
    down, up = log.count("Redis unreachable"), log.count("Redis reachable again")
    report.line(f"whole run: {summarise(events)}")
    report.line(
        f"from the kill on: {summarise(events, killed)}; while hung: {summarise(events, hung)}"
    )
    report.line(f"log: 'unreachable' x{down}, 'reachable again' x{up}:")
    for x in log.splitlines():
        if "Redis" in x:
            report.line(f"    {x[:150]}")
    answered = all(e[2] == 200 for e in events)
    report.check(answered, "every chat answered 200 while Redis was down or hung (fail open)")
    report.check(down <= 2 and up <= 2 and down >= 1, "each Redis state change logged once")


def check_kill(args: argparse.Namespace, report: Report) -> None:
    print("kill: SIGKILL one of two workers under load")
    with serve(workers=2) as server:
        events, t = run_load(server.base, 16, 10)
        time.sleep(3)
        victim = server.workers()[0]
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        back = float("nan")
        while time.monotonic() - killed < 20:
            now_workers = server.workers()
            if victim not in now_workers and len(now_workers) == 2 and _listeners(server.port) == 2:
                back = time.monotonic() - killed
                break
            time.sleep(0.1)
        t.join(timeout=30)
        after = [e for e in events if e[0] > killed + (back if back == back else 0) + 0.5]
    errors = [e for e in events if e[2] != 200]
    report.line(f"{summarise(events)}")
    report.line(f"replacement worker listening {back:.1f} s after the kill")
    report.check(back == back, "the supervisor replaced the worker")
    report.check(
        all(e[2] == 200 for e in after) and len(errors) <= 16,
        f"errors only for requests on the killed worker ({len(errors)}), none afterwards",
    )


def check_sigterm(args: argparse.Namespace, report: Report) -> None:
    print("sigterm: SIGTERM to a 2-worker server under load")
    with serve(workers=2) as server:
        events, t = run_load(server.base, 16, 8)
        began = time.monotonic()
        while len(events) < 40 and time.monotonic() - began < 6:  # load flowing first
            time.sleep(0.05)
        sent = time.monotonic()
        took = stop(server.proc)
        t.join(timeout=30)
        code = server.proc.returncode
        log = server.log()
    before = [e for e in events if e[0] + e[1] < sent]
    in_flight = [e for e in events if e[0] < sent <= e[0] + e[1]]
    cut: dict[str, int] = {}
    for e in in_flight:
        if e[2] != 200:
            cut[str(e[2])] = cut.get(str(e[2]), 0) + 1
    five = [e for e in events if isinstance(e[2], int) and e[2] >= 500]
    report.line(f"before SIGTERM: {summarise(before)}")
    report.line(
        f"in flight at SIGTERM: {len(in_flight)}, answered 200: "
        f"{sum(e[2] == 200 for e in in_flight)}, not answered: {cut or 'none'} (a request "
        "sent as its idle keep-alive connection is closed cannot be answered)"
    )
    report.line(
        f"5xx: {len(five)}; "
        f"exit code {code} after {took:.1f} s; 'Finished server process' x"
        f"{log.count('Finished server process')}"
    )
    report.check(not five and code == 0 and took < 25, "graceful stop: no 5xx, exit 0")


def check_spread(args: argparse.Namespace, report: Report) -> None:
    runs, seconds = args.spread_runs, args.spread_seconds
    print(f"spread: 2 workers, 64 keep-alive clients, {runs} runs of {seconds:g} s")
    with serve(workers=2) as server:
        asyncio.run(load.run_level(server.base, "chat", 4, 1.0, 10_000))
        runs = load.spread_runs(
            server.base, 2, server.metrics_dir, args.spread_runs, 64, args.spread_seconds
        )
    good = sum(min(r.worker_shares or [0]) >= load.SPREAD_MIN for r in runs)
    report.check(good == len(runs), f"{good} of {len(runs)} runs with each worker at 35% or more")


def _listeners(port: int) -> int:
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return sum(1 for r in rows if r.split()[1].endswith(f":{port:04X}") and r.split()[3] == "0A")


CHECKS: dict[str, Callable[[argparse.Namespace, Report], None]] = {
    "slow": check_slow,
    "abort": check_abort,
    "redis": check_redis,
    "kill": check_kill,
    "sigterm": check_sigterm,
    "spread": check_spread,
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", help=f"comma-separated, from: {', '.join(CHECKS)}")
    p.add_argument("--stalled", type=int, default=1000, help="stalled connections (slow)")
    p.add_argument("--nofile", type=int, default=1024, help="server's open-file limit (slow)")
    p.add_argument("--header-timeout", type=float, default=5.0, help="server setting (slow)")
    p.add_argument("--body-timeout", type=float, default=5.0, help="server setting (slow)")
    p.add_argument("--aborts", type=int, default=20, help="abandoned requests (abort)")
    p.add_argument("--spread-runs", type=int, default=5)
    p.add_argument("--spread-seconds", type=float, default=8.0)
    args = p.parse_args(argv)
    names = args.only.split(",") if args.only else list(CHECKS)
    unknown = set(names) - set(CHECKS)
    if unknown:
        p.error(f"unknown check(s): {', '.join(sorted(unknown))}")
    if not (0 < args.stalled <= 5000 and 0 < args.spread_runs <= 20):
        p.error("--stalled: 1 to 5000; --spread-runs: 1 to 20")
    report = Report()
    began = time.monotonic()
    for name in names:
        started = time.monotonic()
        CHECKS[name](args, report)
        print(f"  ({time.monotonic() - started:.0f} s)\n", flush=True)
    took = time.monotonic() - began
    print(f"{len(names)} checks in {took:.0f} s; failed: {report.failed or 'none'}")
    return 1 if report.failed else 0


if __name__ == "__main__":
    sys.exit(main())
