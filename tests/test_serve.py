"""`signpost serve` starts a real server on the built-in content (README's first command)."""

from __future__ import annotations

import httpx

from tests.servers import serve


def test_serve_answers_the_readme_curl() -> None:
    with serve() as server:
        r = httpx.post(f"{server.base}/api/chat", json={"message": "what is grooming"}, timeout=5)
        assert r.status_code == 200
        assert r.json()["intent"] == "online_grooming"
        assert "set-cookie" not in r.headers
    # The access log has the path, never the message.
    assert "POST /api/chat 200" in server.output
    assert "what is grooming" not in server.output
