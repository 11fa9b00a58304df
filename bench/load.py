"""Load benchmark: a real `signpost serve` on loopback, POST /api/chat next to GET /healthz.

    python bench/load.py                          # 10 s per level, 1 worker
    python bench/load.py --duration 30 --workers 2 --levels 1,16,64

Starts its own server (rate limiting switched off through SIGNPOST_RATE_LIMIT_ENABLED=false,
loopback only), then for each concurrency level runs chat and healthz for --duration seconds
each with httpx.AsyncClient, and prints requests per second, p50/p99 latency and errors, then
the resident memory (RSS from /proc) of every server process. The server's CPU time per
request (from /proc) is printed too: the load generator shares the machine, so it is the
steadier measure of what one core can serve. Bounded in time and in count
(--max-requests per run). The exit code is 1 if any request failed.

With several workers it also prints each worker's share of the requests of every run,
counted from the server's own metrics files (PROMETHEUS_MULTIPROC_DIR, set by this script):
no header or anything else in the responses says which worker answered.

    python bench/load.py --workers 2 --spread 5 --duration 10    # only the spread check

`--spread N` runs N times 64 (the last of --levels) keep-alive clients of chat, each run with
new connections, and checks that every worker served at least 35% of each run's requests.

Done-when (docs/OPERATIONS.md): no errors at 64 clients for 30 s, chat throughput at least
half of healthz throughput on the same server, and with --workers 2 each worker serving at
least 35% of requests in every spread run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from prometheus_client.multiprocess import MultiProcessCollector

ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = {"127.0.0.1", "::1", "localhost"}

# A realistic mix: mostly topic questions (young people's and parents'), some text-speak and
# misspellings, out-of-scope chatter, and a few crisis messages (plain, non-graphic).
MESSAGES: list[dict] = [
    {"message": "what is grooming"},
    {
        "message": "how can i tell if my 12 year old son is being groomed online",
        "audience": "parent",
    },
    {"message": "someone older online keeps saying im mature for my age"},
    {"message": "what is sextortion"},
    {"message": "how do i report something to ceop"},
    {"message": "is it illegal to have nudes of someone under 18"},
    {"message": "can i get a nude of me taken down"},
    {"message": "are ai pictures of children illegal", "audience": "parent"},
    {"message": "what counts as a child"},
    {"message": "what is child sexual exploitation"},
    {"message": "who can i talk to"},
    {"message": "how do i stay safe online"},
    {"message": "what is live streaming abuse", "audience": "parent"},
    {"message": "what does the law say", "audience": "parent"},
    {"message": "wot is groomin"},
    {"message": "sum1 sed they wud share my pics if i dont send more"},
    {"message": "hw do i tell sum1 wat happend"},
    {"message": "ppl r askin me 4 pics n i dont no wat 2 do"},
    {"message": "hi"},
    {"message": "thanks bye"},
    {"message": "whats the weather tomorrow"},
    {"message": "how do i live stream on twitch"},
    {"message": "dog grooming prices near me"},
    {"message": "best pizza in london"},
    {"message": "someone is threatening to share my pictures unless i pay them"},
    {"message": "i want to hurt myself"},
    {"message": "he is outside my house right now and i am scared"},
    {"message": "an adult did something to me that i did not want"},
]


@dataclass
class Result:
    endpoint: str
    clients: int
    requests: int
    errors: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float = float("nan")  # server CPU time (all processes) per request
    client_cpu_ms: float = float("nan")  # this load generator's CPU time per request
    worker_shares: list[float] | None = None  # each worker's share of the requests, largest first


SPREAD_MIN = 0.35
ONE = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one keep-alive connection


def worker_counts(metrics_dir: Path) -> dict[int, float]:
    """HTTP requests answered so far, by worker pid, from each worker's metrics file."""
    out: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        total = 0.0
        for metric in MultiProcessCollector.merge([str(path)], accumulate=False):
            if metric.name == "signpost_http_requests":
                total += sum(x.value for x in metric.samples if x.name.endswith("_total"))
        out[pid] = total
    return out


def shares(before: dict[int, float], after: dict[int, float], workers: int) -> list[float]:
    served = sorted((n - before.get(pid, 0.0) for pid, n in after.items()), reverse=True)
    served = (served + [0.0] * workers)[:workers]  # a worker that served nothing has no file
    total = sum(served)
    return [round(n / total, 4) if total else 0.0 for n in served]


def free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, round(q * (len(sorted_values) - 1))))
    return sorted_values[k]


async def run_level(
    base: str, endpoint: str, clients: int, duration: float, max_requests: int
) -> Result:
    """`clients` concurrent users, each with its own keep-alive connection (its own
    httpx.AsyncClient: one shared pool of many connections costs the generator far more CPU)."""
    latencies: list[float] = []
    errors = 0
    budget = itertools.count()
    # Plain HTTP on loopback: verify=False spares each client loading the CA bundle.
    pool = [
        httpx.AsyncClient(base_url=base, limits=ONE, timeout=30.0, verify=False)
        for _ in range(clients)
    ]

    async def one_client(offset: int, client: httpx.AsyncClient) -> None:
        nonlocal errors
        i = offset
        async with client:
            while time.perf_counter() < deadline and next(budget) < max_requests:
                start = time.perf_counter()
                try:
                    if endpoint == "chat":
                        r = await client.post("/api/chat", json=MESSAGES[i % len(MESSAGES)])
                    else:
                        r = await client.get("/healthz")
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                latencies.append(time.perf_counter() - start)
                if not ok:
                    errors += 1
                i += 7  # walk the mix in a different order per client

    deadline = time.perf_counter() + duration
    began, cpu_began = time.perf_counter(), time.process_time()
    await asyncio.gather(*(one_client(k, c) for k, c in enumerate(pool)))
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu_began

    latencies.sort()
    return Result(
        endpoint=endpoint,
        clients=clients,
        requests=len(latencies),
        errors=errors,
        seconds=round(elapsed, 2),
        rps=round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        p50_ms=round(percentile(latencies, 0.50) * 1000, 2),
        p99_ms=round(percentile(latencies, 0.99) * 1000, 2),
        client_cpu_ms=round(cpu * 1000 / len(latencies), 3) if latencies else float("nan"),
    )


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of these processes so far, from /proc/<pid>/stat."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def start_server(
    host: str, port: int, workers: int, kb: str | None, metrics_dir: Path | None = None
) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    env.update(SIGNPOST_RATE_LIMIT_ENABLED="false", SIGNPOST_LOG_LEVEL="info")
    env["SIGNPOST_METRICS_PORT"] = "0"  # counted from the files; no port to collide with
    if metrics_dir is not None:
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if kb:
        env["SIGNPOST_KB_DIR"] = str(Path(kb).resolve())
    cmd = [sys.executable, "-m", "bot", "serve", "--host", host, "--port", str(port)]
    cmd += ["--workers", str(workers)]
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def spread_runs(
    base: str, workers: int, metrics_dir: Path, runs: int, clients: int, duration: float
) -> list[Result]:
    """`runs` times `clients` new keep-alive connections sending chats for `duration` s, with
    each worker's share of every run's requests."""
    out = []
    for k in range(runs):
        before = worker_counts(metrics_dir)
        r = asyncio.run(run_level(base, "chat", clients, duration, 500_000))
        r.worker_shares = shares(before, worker_counts(metrics_dir), workers)
        ok = min(r.worker_shares) >= SPREAD_MIN
        print(
            f"  spread run {k + 1}/{runs}: {r.requests} chats, {r.rps:.0f}/s, {r.errors} errors, "
            f"worker shares {' / '.join(f'{x:.1%}' for x in r.worker_shares)}"
            f" {'ok' if ok else 'UNEVEN'}",
            file=sys.stderr,
            flush=True,
        )
        out.append(r)
    return out


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with code {proc.returncode}")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not become ready")


def table(results: list[Result]) -> str:
    head = f"{'endpoint':<10}{'clients':>8}{'requests':>10}{'errors':>8}{'rps':>10}"
    head += f"{'p50 ms':>10}{'p99 ms':>10}{'server CPU ms':>15}{'client CPU ms':>15}"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.endpoint:<10}{r.clients:>8}{r.requests:>10}{r.errors:>8}{r.rps:>10.1f}"
            f"{r.p50_ms:>10.2f}{r.p99_ms:>10.2f}{r.server_cpu_ms:>15.3f}{r.client_cpu_ms:>15.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=10.0, help="seconds per endpoint and level")
    p.add_argument("--levels", default="1,16,64", help="concurrent clients, comma-separated")
    p.add_argument("--workers", type=int, default=1, help="server worker processes")
    p.add_argument("--host", default="127.0.0.1", help="loopback address to serve on")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds of chat before measuring")
    p.add_argument("--max-requests", type=int, default=500_000, help="cap per endpoint and level")
    p.add_argument("--kb", help="knowledge base folder (default: built-in)")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    p.add_argument(
        "--spread", type=int, metavar="RUNS", help="only the worker spread check, RUNS times"
    )
    args = p.parse_args(argv)
    if args.host not in LOOPBACK:
        p.error("the benchmark runs on loopback only (127.0.0.1, ::1 or localhost)")
    if not 0 < args.duration <= 600:
        p.error("--duration must be between 0 and 600 seconds")
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if not levels or any(not 0 < n <= 512 for n in levels):
        p.error("--levels: between 1 and 512 clients each")
    if args.spread is not None and not (0 < args.spread <= 20 and args.workers > 1):
        p.error("--spread: 1 to 20 runs, with --workers 2 or more")

    port = free_port(args.host)
    base = f"http://{'[' + args.host + ']' if ':' in args.host else args.host}:{port}"
    metrics_dir = Path(tempfile.mkdtemp(prefix="signpost-bench-metrics-"))
    proc = start_server(args.host, port, args.workers, args.kb, metrics_dir)
    results: list[Result] = []
    try:
        wait_ready(base, proc)
        asyncio.run(run_level(base, "chat", 4, args.warmup, 10_000))  # warm caches and threads
        if args.spread:
            results = spread_runs(
                base, args.workers, metrics_dir, args.spread, levels[-1], args.duration
            )
        for clients in levels if not args.spread else []:
            for endpoint in ("chat", "healthz"):
                pids = process_tree(proc.pid)
                cpu_before = cpu_seconds(pids)
                counts_before = worker_counts(metrics_dir)
                r = asyncio.run(
                    run_level(base, endpoint, clients, args.duration, args.max_requests)
                )
                if r.requests:
                    cpu = cpu_seconds(pids) - cpu_before
                    r.server_cpu_ms = round(cpu * 1000 / r.requests, 3)
                if args.workers > 1:
                    after = worker_counts(metrics_dir)
                    r.worker_shares = shares(counts_before, after, args.workers)
                results.append(r)
                print(
                    f"  {endpoint:<8} {clients:>3} clients: {r.rps:8.1f} req/s, "
                    f"p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, {r.errors} errors, "
                    f"CPU per request: server {r.server_cpu_ms:.2f} ms, "
                    f"client {r.client_cpu_ms:.2f} ms",
                    file=sys.stderr,
                    flush=True,
                )
        pids = process_tree(proc.pid)
        memory = {pid: (rss_mb(pid), cmdline(pid)) for pid in pids}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(metrics_dir, ignore_errors=True)

    print(
        f"\nSignpost load benchmark: {args.workers} worker(s), {args.duration:g} s per run, "
        f"{len(MESSAGES)} chat messages in the mix, loopback, rate limiting off\n"
    )
    print(table(results))
    if args.workers > 1:
        print("\nEach worker's share of the requests (largest first):")
        for r in results:
            spread = " / ".join(f"{x:.1%}" for x in r.worker_shares or [])
            print(f"  {r.endpoint:<8} {r.clients:>3} clients: {spread}")
    print("\nResident memory after the run (VmRSS):")
    for pid, (mb, command) in memory.items():
        if pid == proc.pid:
            role = "server (the one worker)" if args.workers == 1 else "supervisor"
        elif "resource_tracker" in command:
            role = "multiprocessing helper"
        else:
            role = "worker"
        print(f"  pid {pid:<8} {role:<24} {mb:8.1f} MB" if mb else f"  pid {pid}: gone")

    uneven = [r for r in results if r.worker_shares and min(r.worker_shares) < SPREAD_MIN]
    if args.spread:
        print(
            f"\nspread: {args.spread - len(uneven)} of {args.spread} runs with every worker "
            f"at {SPREAD_MIN:.0%} or more of the requests"
        )
    by = {(r.endpoint, r.clients): r for r in results}
    top = max(levels)
    verdict = []
    if ("chat", top) in by and ("healthz", top) in by:
        chat, health = by[("chat", top)], by[("healthz", top)]
        ratio = chat.rps / health.rps if health.rps else 0.0
        verdict.append(
            f"at {top} clients: chat {chat.rps:.0f} req/s = {ratio:.0%} of healthz "
            f"{health.rps:.0f} req/s (target: at least 50%)"
        )
        verdict.append(f"errors at {top} clients: chat {chat.errors}, healthz {health.errors}")
        if chat.server_cpu_ms and health.server_cpu_ms:
            share = health.server_cpu_ms / chat.server_cpu_ms
            verdict.append(
                f"server CPU per request: chat {chat.server_cpu_ms:.2f} ms, healthz "
                f"{health.server_cpu_ms:.2f} ms: one core could serve about "
                f"{1000 / chat.server_cpu_ms:.0f} chats/s ({share:.0%} of its healthz capacity), "
                "whatever the load generator manages"
            )
    print("\n" + "\n".join(verdict))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "workers": args.workers,
                    "duration": args.duration,
                    "results": [asdict(r) for r in results],
                    "rss_mb": {str(k): v[0] for k, v in memory.items()},
                },
                indent=2,
            )
        )
    return 1 if any(r.errors for r in results) or (args.spread and uneven) else 0


if __name__ == "__main__":
    sys.exit(main())
