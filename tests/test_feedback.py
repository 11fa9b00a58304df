"""POST /api/feedback, its counters, `signpost insights` and the Grafana dashboard."""

from __future__ import annotations

import http.server
import json
import logging
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from bot import insights
from bot.api import create_app
from bot.cli import main
from bot.config import Settings
from bot.engine import Engine
from bot.metrics import value

ADDRESS = ("198.51.100.23", 41000)
DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "signpost-dashboard.json"


@pytest.fixture(scope="module")
def client(engine: Engine) -> Iterator[TestClient]:
    app = create_app(Settings(rate_limit_enabled=False, metrics_public=True), engine=engine)
    with TestClient(app, client=ADDRESS, raise_server_exceptions=False) as c:
        yield c


def count(intent: str, helpful: str) -> float:
    return value("signpost_feedback_total", intent=intent, helpful=helpful)


def test_yes_and_no_are_counted_per_intent(client: TestClient) -> None:
    yes, no = count("online_grooming", "yes"), count("online_grooming", "no")
    for helpful in (True, True, False):
        r = client.post("/api/feedback", json={"intent": "online_grooming", "helpful": helpful})
        assert r.status_code == 204 and r.content == b""
        assert "set-cookie" not in r.headers
    assert count("online_grooming", "yes") == yes + 2
    assert count("online_grooming", "no") == no + 1
    page = client.get("/metrics").text
    assert re.search(r'signpost_feedback_total\{helpful="yes",intent="online_grooming"\} \d', page)
    assert "# TYPE signpost_feedback_total counter" in page
    # The joined page is still one valid exposition (the bridge added nothing malformed).
    names = {f.name for f in text_string_to_metric_families(page)}
    assert {"signpost_feedback", "signpost_chat_replies"} <= names


@pytest.mark.parametrize(
    "body",
    [
        {"intent": "no_such_intent", "helpful": True},  # unknown ids are refused
        {"intent": "online_grooming"},
        {"helpful": True},
        {"intent": "online_grooming", "helpful": "yes"},  # strict: no "yes", 1 or "true"
        {"intent": "online_grooming", "helpful": 1},
        {"intent": "online_grooming", "helpful": None},
        {"intent": ["online_grooming"], "helpful": True},
        {"intent": "x" * 5000, "helpful": True},
        {"intent": "online_grooming", "helpful": True, "comment": "it was rubbish"},
        {"intent": "online_grooming", "helpful": True, "session": "abc123"},
        [],
        "yes",
    ],
)
def test_bad_inputs_get_422(client: TestClient, body: object) -> None:
    before = sum(count(i, h) for i in ("online_grooming", "no_such_intent") for h in ("yes", "no"))
    r = client.post("/api/feedback", json=body)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str)
    after = sum(count(i, h) for i in ("online_grooming", "no_such_intent") for h in ("yes", "no"))
    assert after == before


@pytest.mark.parametrize(
    "raw,ctype",
    [(b"{not json", "application/json"), (b"\xff\xfe", "application/json"), (b"", None)],
)
def test_unreadable_bodies_never_500(client: TestClient, raw: bytes, ctype: str | None) -> None:
    headers = {"content-type": ctype} if ctype else {}
    r = client.post("/api/feedback", content=raw, headers=headers)
    assert 400 <= r.status_code < 500 and r.status_code != 404, r.status_code


def test_only_post(client: TestClient) -> None:
    assert client.get("/api/feedback").status_code == 405


def test_rate_limited_like_chat(engine: Engine) -> None:
    settings = Settings(rate_limit_per_minute=1, rate_limit_burst=2, metrics_public=True)
    with TestClient(create_app(settings, engine=engine), client=ADDRESS) as c:
        codes = [
            c.post("/api/feedback", json={"intent": "the_law", "helpful": True}).status_code
            for _ in range(4)
        ]
        assert codes[:2] == [204, 204] and codes[2:] == [429, 429]
        limited = c.post("/api/feedback", json={"intent": "the_law", "helpful": True})
        assert int(limited.headers["retry-after"]) >= 1


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("httpx", "httpcore")):  # the test's own client
            self.lines.append(record.getMessage() + " " + json.dumps(record.__dict__, default=str))


def test_no_text_or_address_reaches_logs_or_metrics(client: TestClient) -> None:
    handler = _Capture()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    logging.getLogger("signpost").addHandler(handler)
    root.setLevel(logging.DEBUG)
    canary = "zz-feedback-canary-text"
    try:
        client.post("/api/feedback", json={"intent": "the_law", "helpful": False})
        client.post(
            "/api/feedback",
            json={"intent": "the_law", "helpful": False, "comment": canary},
            headers={"x-forwarded-for": "192.0.2.55", "user-agent": canary},
        )
        client.post("/api/feedback", json={"intent": canary, "helpful": True})
        client.post(f"/api/feedback?{canary}=1", json={"intent": "the_law", "helpful": True})
    finally:
        root.removeHandler(handler)
        logging.getLogger("signpost").removeHandler(handler)
        root.setLevel(old)
    logs = "\n".join(handler.lines)
    assert "/api/feedback" in logs  # the capture works: the access line is there
    page = client.get("/metrics").text
    for secret in (canary, ADDRESS[0], "192.0.2.55"):
        assert secret not in logs
        assert secret not in page
    assert 'signpost_feedback_total{helpful="no",intent="the_law"}' in page


# -- signpost insights ------------------------------------------------------------------------

SCRAPE = """\
# HELP signpost_chat_replies_total Chat replies by intent id and safety level.
# TYPE signpost_chat_replies_total counter
signpost_chat_replies_total{intent="online_grooming",safety="none"} 120
signpost_chat_replies_total{intent="online_grooming",safety="urgent"} 15
signpost_chat_replies_total{intent="the_law",safety="none"} 9
signpost_chat_replies_total{intent="fallback",safety="none"} 40
signpost_chat_replies_total{intent="immediate_danger",safety="emergency"} 3
# HELP signpost_feedback_total Was this helpful.
# TYPE signpost_feedback_total counter
signpost_feedback_total{helpful="yes",intent="online_grooming"} 30
signpost_feedback_total{helpful="no",intent="online_grooming"} 10
signpost_feedback_total{helpful="yes",intent="fallback"} 2
signpost_feedback_total{helpful="no",intent="fallback"} 25
signpost_feedback_total{helpful="yes",intent="the_law"} 4
"""


def _rows(text: str) -> dict[str, dict]:
    return {r["intent"]: r for r in (insights.suppressed(x) for x in insights.tally(text))}


def test_insights_counts_and_small_cell_suppression() -> None:
    rows = _rows(SCRAPE)
    g = rows["online_grooming"]
    assert (g["answered"], g["safety"], g["yes"], g["no"]) == (135, 15, 30, 10)
    assert g["helpful_ratio"] == "75%"
    assert g["fallbacks"] == "<10"  # zero is a small count too
    law = rows["the_law"]
    assert law["answered"] == "<10" and law["yes"] == "<10" and law["no"] == "<10"
    assert law["helpful_ratio"] == "-"
    fb = rows["fallback"]
    assert fb["fallbacks"] == 40 and fb["no"] == 25 and fb["yes"] == "<10"
    # 25 No with a hidden Yes: a ratio would give the hidden count away.
    assert fb["helpful_ratio"] == "-"
    assert rows["immediate_danger"]["answered"] == "<10"
    assert rows["immediate_danger"]["safety"] == "<10"


def test_insights_sums_series_from_several_replicas() -> None:
    text = SCRAPE.replace(
        'signpost_chat_replies_total{intent="fallback"',
        'signpost_chat_replies_total{intent="the_law",safety="none",instance="b"} 4\n'
        'signpost_chat_replies_total{intent="fallback"',
    )
    assert _rows(text)["the_law"]["answered"] == 13


def test_insights_command_reads_a_file_and_prints_no_small_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scrape = tmp_path / "metrics.txt"
    scrape.write_text(SCRAPE)
    assert main(["insights", str(scrape)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("the_law"))
    assert line.split()[1:] == ["<10"] * 5 + ["-"]  # every count for the_law is under 10
    grooming = next(x for x in out.splitlines() if x.startswith("online_grooming"))
    assert grooming.split() == ["online_grooming", "135", "15", "<10", "30", "10", "75%"]
    assert main(["insights", "--json", str(scrape)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {r["intent"] for r in data} == {
        "online_grooming",
        "the_law",
        "fallback",
        "immediate_danger",
    }


def test_insights_reads_a_live_metrics_page(engine: Engine) -> None:
    """End to end: real traffic, the real /metrics text, the same numbers back."""
    app = create_app(Settings(rate_limit_enabled=False, metrics_public=True), engine=engine)
    with TestClient(app) as c:
        for _ in range(12):
            c.post("/api/feedback", json={"intent": "remove_image", "helpful": True})
        page = c.get("/metrics").text
    row = _rows(page)["remove_image"]
    assert isinstance(row["yes"], int) and row["yes"] >= 12


def test_insights_reads_over_http(capsys: pytest.CaptureFixture[str]) -> None:
    """The `http://HOST/metrics` form: a real HTTP server on loopback serving a scrape."""

    class Scrape(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = SCRAPE.encode()
            self.send_response(200)
            self.send_header("content-type", "text/plain; version=0.0.4")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # keep the test output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scrape)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/metrics"
        assert main(["insights", "--json", url]) == 0
    finally:
        server.shutdown()
        server.server_close()
    rows = {r["intent"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["online_grooming"]["answered"] == 135
    assert rows["the_law"]["answered"] == "<10"


def test_insights_bad_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["insights", str(tmp_path / "missing.txt")]) == 2
    bad = tmp_path / "bad.txt"
    bad.write_text("this is { not prometheus\n")
    assert main(["insights", str(bad)]) == 2
    assert "signpost insights" in capsys.readouterr().err


# -- the Grafana dashboard ---------------------------------------------------------------------


def test_grafana_dashboard_queries_real_metrics(client: TestClient) -> None:
    dash = json.loads(DASHBOARD.read_text())
    assert dash["title"] and dash["panels"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids))
    client.post("/api/chat", json={"message": "what is grooming"})
    client.post("/api/feedback", json={"intent": "online_grooming", "helpful": True})
    exposed = {
        s.name
        for f in text_string_to_metric_families(client.get("/metrics").text)
        for s in f.samples
    }
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        used = set(re.findall(r"\b(signpost_[a-z_]+)", expr))
        assert used, expr
        assert used <= exposed | {"signpost_rate_limited_total", "signpost_chat_errors_total"}, (
            used - exposed
        )
        assert expr.count("(") == expr.count(")"), expr
    # Feedback ratios are only drawn where there are at least 10 answers (small cells).
    assert any("signpost_feedback_total" in e and ">= 10" in e for e in exprs)
