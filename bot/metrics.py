"""Prometheus metrics on prometheus_client, one process or many (`signpost serve --workers N`).

What is counted never includes message text: only route templates, status codes, intent
ids and safety levels (all from a small fixed set), and timings.

With several workers `signpost serve` sets PROMETHEUS_MULTIPROC_DIR (emptied at start) before
any worker starts: each worker then writes its samples to files there and the scrape
(`serve_separately`, in the supervisor) adds them up, so every scrape sees the whole server.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import prometheus_client
from prometheus_client import (
    CONTENT_TYPE_PLAIN_0_0_4,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# `_created` series double the output and no dashboard here uses them.
prometheus_client.disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

HTTP_REQUESTS = Counter(
    "signpost_http_requests",
    "HTTP requests by method, route template and status code (499: the client went away).",
    ("method", "route", "status"),
)
HTTP_LATENCY = Histogram(
    "signpost_http_request_duration_seconds",
    "Time from request start to the end of the response, by route template "
    "(requests the client abandoned or sent too slowly are not timed).",
    ("route",),
    buckets=LATENCY_BUCKETS,
)
CHAT_REPLIES = Counter(
    "signpost_chat_replies",
    "Chat replies by intent id and safety level (never message text).",
    ("intent", "safety"),
)
TRIAGE_MODEL_ANSWERS = Counter(
    "signpost_triage_model_answers",
    "Safety answers that came from the learned check (no rule fired), by intent id.",
    ("intent",),
)
CHAT_FALLBACKS = Counter(
    "signpost_chat_fallbacks", "Chat replies that fell back (intent 'fallback')."
)
CHAT_ERRORS = Counter(
    "signpost_chat_errors",
    "Chat requests where the engine failed and the safe generic reply was sent, by error type.",
    ("error",),
)
RATE_LIMITED = Counter("signpost_rate_limited", "Requests refused with 429, by route.", ("route",))
RATE_LIMIT_BACKEND_ERRORS = Counter(
    "signpost_rate_limit_backend_errors",
    "Requests let through unchecked because the shared (Redis) rate limiter was unreachable.",
)
SLOW_CLIENTS = Counter(
    "signpost_slow_clients",
    "Connections closed, or requests answered 408, because the client sent its request too "
    "slowly, by stage (headers, body), or closed to make room when the worker was full "
    "(evicted).",
    ("stage",),
)
FEEDBACK = Counter(
    "signpost_feedback",
    "'Was this helpful?' answers by intent id and yes/no (nothing else is kept).",
    ("intent", "helpful"),
)
# One value per worker file; "max" gives one series for the whole server.
BUILD_INFO = Gauge(
    "signpost_build_info",
    "Always 1; the version is a label.",
    ("version",),
    multiprocess_mode="max",
)


def value(sample: str, **labels: str) -> float:
    """This process's current value of one sample, e.g. value("signpost_chat_errors_total",
    error="ValueError") (tests, benchmarks)."""
    return prometheus_client.REGISTRY.get_sample_value(sample, labels) or 0.0


def observe_chat(intent: str, safety: str, triaged_by: str | None = None) -> None:
    CHAT_REPLIES.labels(intent, safety).inc()
    if triaged_by == "model":
        TRIAGE_MODEL_ANSWERS.labels(intent).inc()
    if intent == "fallback":
        CHAT_FALLBACKS.inc()


class _Exposed(Collector):
    """What a scrape shows: the samples (this process's, or every worker's) and
    signpost_chat_fallback_ratio, worked out from those (summed) counters in the same pass, so
    it is right with any number of workers."""

    def __init__(self, source: Collector) -> None:
        self.source = source

    def collect(self) -> Iterator[object]:
        replies = fallbacks = 0.0
        for family in self.source.collect():
            for s in family.samples:
                if s.name == "signpost_chat_replies_total":
                    replies += s.value
                elif s.name == "signpost_chat_fallbacks_total":
                    fallbacks += s.value
            yield family
        yield GaugeMetricFamily(
            "signpost_chat_fallback_ratio",
            "Share of chat replies that fell back, since the server started.",
            value=fallbacks / replies if replies else 0.0,
        )


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROC_ENV) or None


def exposed() -> Collector:
    """The registry a scrape reads: every worker's files in multi-process mode, else this
    process's own metrics (with prometheus_client's process and Python collectors)."""
    path = multiprocess_dir()
    if path is None:
        return _Exposed(prometheus_client.REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    prometheus_client.ProcessCollector(registry=registry)  # the supervisor: start time, fds
    return _Exposed(registry)


def render() -> bytes:
    return generate_latest(exposed())


def serve_separately(host: str, port: int) -> threading.Thread:
    """/metrics on its own port, in a daemon thread of the calling process (the supervisor
    with several workers, the server itself with one), so it is never on the public port."""
    _server, thread = prometheus_client.start_http_server(port, addr=host, registry=exposed())
    return thread
