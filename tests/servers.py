"""A real `signpost serve` subprocess on loopback, for tests that need the whole process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Served:
    base: str
    proc: subprocess.Popen[str]
    output: str = field(default="")  # everything it printed, filled in when it has stopped


@contextmanager
def serve(
    *args: str, env: dict[str, str] | None = None, start_timeout: float = 60
) -> Iterator[Served]:
    """Start `python -m bot serve` on a free port (SIGNPOST_* from our environment are
    dropped, `env` added), wait until /readyz answers, stop it with SIGTERM afterwards."""
    port = free_port()
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNPOST_")}
    full_env["SIGNPOST_METRICS_PORT"] = "0"  # tests run side by side: no fixed port
    full_env.update(env or {})
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    served = Served(base=f"http://127.0.0.1:{port}", proc=proc)
    try:
        deadline = time.monotonic() + start_timeout
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{served.base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail(f"signpost serve {' '.join(args)} did not start")
        yield served
    finally:
        proc.send_signal(signal.SIGTERM)
        served.output, _ = proc.communicate(timeout=30)
