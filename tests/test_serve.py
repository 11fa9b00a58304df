"""`signpost serve` starts a real server on the built-in content (README's first command)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx

from tests.conftest import ROOT


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_the_readme_curl() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        r = httpx.post(f"{base}/api/chat", json={"message": "what is grooming"}, timeout=5)
        assert r.status_code == 200
        assert r.json()["intent"] == "online_grooming"
        assert "set-cookie" not in r.headers
    finally:
        proc.terminate()
        out, _ = proc.communicate(timeout=10)
    # The access log has the path, never the message.
    assert "POST /api/chat 200" in out
    assert "what is grooming" not in out
