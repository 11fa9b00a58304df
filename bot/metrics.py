"""Prometheus metrics, hand-written (text exposition format 0.0.4), no extra dependency.

What is counted never includes message text: only route templates, status codes, intent
ids and safety levels (all from a small fixed set), and timings.

Counters live in this process. With `signpost serve --workers N` each worker keeps its own
and a scrape reaches whichever worker accepts it, so run one worker per container and let
the orchestrator add replicas (docs/OPERATIONS.md).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Sequence
from typing import TypeVar

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _num(v: float) -> str:
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v)) if not float(v).is_integer() else str(int(v))


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.labelnames = tuple(labelnames)
        self._lock = threading.Lock()

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:  # pragma: no cover - abstract
        raise NotImplementedError


class Counter(_Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        key = tuple(str(x) for x in labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, *labels: str) -> float:
        with self._lock:
            return self._values.get(tuple(labels), 0.0)

    def total(self) -> float:
        with self._lock:
            return sum(self._values.values())

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        if not items and not self.labelnames:
            items = [((), 0.0)]
        return [f"{self.name}{_labels(self.labelnames, k)} {_num(v)}" for k, v in items]


class Gauge(_Metric):
    kind = "gauge"

    def __init__(self, name: str, help_text: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labelnames)
        self._values: dict[tuple[str, ...], float] = {}

    def set(self, value: float, *labels: str) -> None:
        with self._lock:
            self._values[tuple(labels)] = float(value)

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted(self._values.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {_num(v)}" for k, v in items]


class Histogram(_Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labelnames: Sequence[str] = (),
        buckets: Iterable[float] = LATENCY_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labelnames)
        self.buckets = tuple(sorted(buckets))
        self._data: dict[tuple[str, ...], list[float]] = {}  # bucket counts..., sum, count

    def observe(self, value: float, *labels: str) -> None:
        key = tuple(labels)
        with self._lock:
            row = self._data.get(key)
            if row is None:
                row = self._data[key] = [0.0] * (len(self.buckets) + 2)
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    row[i] += 1
            row[-2] += value
            row[-1] += 1

    def count(self, *labels: str) -> float:
        with self._lock:
            row = self._data.get(tuple(labels))
            return row[-1] if row else 0.0

    def samples(self) -> list[str]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._data.items())
        out = []
        for key, row in items:
            for bound, n in zip(self.buckets, row, strict=False):
                le = f'le="{_num(bound)}"'
                out.append(f"{self.name}_bucket{_labels(self.labelnames, key, le)} {_num(n)}")
            inf = 'le="+Inf"'
            out.append(f"{self.name}_bucket{_labels(self.labelnames, key, inf)} {_num(row[-1])}")
            out.append(f"{self.name}_sum{_labels(self.labelnames, key)} {_num(row[-2])}")
            out.append(f"{self.name}_count{_labels(self.labelnames, key)} {_num(row[-1])}")
        return out


M = TypeVar("M", bound=_Metric)


class Registry:
    def __init__(self) -> None:
        self.metrics: list[_Metric] = []

    def add(self, metric: M) -> M:
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        update_derived()
        lines: list[str] = []
        for m in self.metrics:
            lines += m.header()
            lines += m.samples()
        return "\n".join(lines) + "\n"


REGISTRY = Registry()
_START = time.time()

HTTP_REQUESTS = REGISTRY.add(
    Counter(
        "signpost_http_requests_total",
        "HTTP requests by method, route template and status code.",
        ("method", "route", "status"),
    )
)
HTTP_LATENCY = REGISTRY.add(
    Histogram(
        "signpost_http_request_duration_seconds",
        "Time from request start to the end of the response, by route template.",
        ("route",),
    )
)
CHAT_REPLIES = REGISTRY.add(
    Counter(
        "signpost_chat_replies_total",
        "Chat replies by intent id and safety level (never message text).",
        ("intent", "safety"),
    )
)
TRIAGE_MODEL_ANSWERS = REGISTRY.add(
    Counter(
        "signpost_triage_model_answers_total",
        "Safety answers that came from the learned check (no rule fired), by intent id.",
        ("intent",),
    )
)
CHAT_FALLBACKS = REGISTRY.add(
    Counter("signpost_chat_fallbacks_total", "Chat replies that fell back (intent 'fallback').")
)
CHAT_FALLBACK_RATIO = REGISTRY.add(
    Gauge(
        "signpost_chat_fallback_ratio",
        "Share of chat replies in this process that fell back, since it started.",
    )
)
CHAT_ERRORS = REGISTRY.add(
    Counter(
        "signpost_chat_errors_total",
        "Chat requests where the engine failed and the safe generic reply was sent, by error type.",
        ("error",),
    )
)
RATE_LIMITED = REGISTRY.add(
    Counter("signpost_rate_limited_total", "Requests refused with 429, by route.", ("route",))
)
RATE_LIMIT_BACKEND_ERRORS = REGISTRY.add(
    Counter(
        "signpost_rate_limit_backend_errors_total",
        "Requests let through unchecked because the shared (Redis) rate limiter was unreachable.",
    )
)
BUILD_INFO = REGISTRY.add(
    Gauge("signpost_build_info", "Always 1; the version is a label.", ("version",))
)
START_TIME = REGISTRY.add(
    Gauge("process_start_time_seconds", "When this process started, in Unix time.")
)
START_TIME.set(_START)


def update_derived() -> None:
    total = CHAT_REPLIES.total()
    CHAT_FALLBACK_RATIO.set(CHAT_FALLBACKS.total() / total if total else 0.0)


def observe_chat(intent: str, safety: str, triaged_by: str | None = None) -> None:
    CHAT_REPLIES.inc(intent, safety)
    if triaged_by == "model":
        TRIAGE_MODEL_ANSWERS.inc(intent)
    if intent == "fallback":
        CHAT_FALLBACKS.inc()


def render() -> str:
    return REGISTRY.render()
