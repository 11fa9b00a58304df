"""Start-up: seconds from `signpost serve` to /readyz answering 200, and the server's peak
memory while starting (VmHWM) and after (VmRSS), on loopback.

    python bench/startup.py                       # this Python, its installed `bot`
    python bench/startup.py --python /tmp/venv/bin/python --runs 5

With a built artefact (a wheel, or `signpost train` run once) nothing is trained at start-up;
pass --cold to point the cache at an empty folder and time a start that must train.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def memory_kb(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(value.split()[0])
    return out


def start_once(python: str, cold: bool, timeout: float) -> tuple[float, dict[str, int]]:
    port = free_port()
    env = dict(os.environ)
    if cold:
        env["SIGNPOST_CACHE_DIR"] = tempfile.mkdtemp(prefix="signpost-cold-")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-m", "bot", "serve", "--port", str(port)],
        env=env,
        cwd=tempfile.gettempdir(),  # the installed package, not a checkout's `bot/`
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        took = time.perf_counter() - started
                        return took, memory_kb(proc.pid)
            except OSError:
                time.sleep(0.02)
        raise TimeoutError(f"not ready within {timeout} s")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--python", default=sys.executable)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--cold", action="store_true", help="empty model cache: must train")
    p.add_argument("--timeout", type=float, default=120.0)
    args = p.parse_args()
    times, peaks, rss = [], [], []
    for _ in range(args.runs):
        took, mem = start_once(args.python, args.cold, args.timeout)
        times.append(took)
        peaks.append(mem.get("VmHWM", 0) / 1024)
        rss.append(mem.get("VmRSS", 0) / 1024)
    print(f"python: {args.python}{' (cold cache)' if args.cold else ''}, {args.runs} runs")
    print(
        f"start-up to /readyz 200: median {statistics.median(times):.2f} s, max {max(times):.2f} s"
    )
    print(f"peak memory while starting (VmHWM): median {statistics.median(peaks):.0f} MB")
    print(f"memory when ready (VmRSS): median {statistics.median(rss):.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
