"""`signpost insights`: what people asked about and whether answers helped, from /metrics.

Reads a Prometheus text page (a live /metrics address or a saved scrape) and prints, per
intent: questions answered, safety answers, fallbacks, and "Was this helpful?" yes/no with
the helpful ratio. Any count under SMALL_CELL is shown as "<10" (small-cell suppression), and
a ratio is shown only when both of its counts are shown, so it cannot give a hidden count away.
Counts are summed over every series (replicas in a federated scrape, safety levels).
"""

from __future__ import annotations

import json
import sys
import urllib.request
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

SMALL_CELL = 10
HIDDEN = f"<{SMALL_CELL}"
FALLBACK_INTENTS = frozenset({"fallback", "out_of_scope"})


@dataclass
class Row:
    intent: str
    answered: float = 0
    safety: float = 0
    fallbacks: float = 0
    yes: float = 0
    no: float = 0


def read(source: str, timeout: float = 10.0) -> str:
    """The metrics text from an http(s) address or a file."""
    if source.startswith(("http://", "https://")):
        with urllib.request.urlopen(source, timeout=timeout) as r:
            return r.read().decode("utf-8")
    return Path(source).read_text(encoding="utf-8")


def tally(text: str) -> list[Row]:
    rows: dict[str, Row] = defaultdict(lambda: Row(""))
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            intent = s.labels.get("intent")
            if not intent:
                continue
            row = rows[intent]
            row.intent = intent
            if s.name == "signpost_chat_replies_total":
                row.answered += s.value
                if s.labels.get("safety", "none") != "none":
                    row.safety += s.value
                if intent in FALLBACK_INTENTS:
                    row.fallbacks += s.value
            elif s.name == "signpost_feedback_total":
                if s.labels.get("helpful") == "yes":
                    row.yes += s.value
                elif s.labels.get("helpful") == "no":
                    row.no += s.value
    return sorted(rows.values(), key=lambda r: (-r.answered, r.intent))


def _cell(n: float) -> str | int:
    return int(n) if n >= SMALL_CELL else HIDDEN


def suppressed(row: Row) -> dict[str, str | int]:
    out: dict[str, str | int] = {"intent": row.intent}
    for key, value in asdict(row).items():
        if key != "intent":
            out[key] = _cell(value)
    both = row.yes >= SMALL_CELL and row.no >= SMALL_CELL
    out["helpful_ratio"] = f"{row.yes / (row.yes + row.no):.0%}" if both else "-"
    return out


COLUMNS = ("intent", "answered", "safety", "fallbacks", "yes", "no", "helpful_ratio")
HEADINGS = ("intent", "answered", "safety", "fallbacks", "helpful yes", "no", "helpful %")


def to_text(rows: list[dict[str, str | int]]) -> str:
    if not rows:
        return "No chat or feedback counts found."
    table = [HEADINGS, *[tuple(str(r[c]) for c in COLUMNS) for r in rows]]
    widths = [max(len(line[i]) for line in table) for i in range(len(COLUMNS))]
    lines = [
        "  ".join(
            [line[0].ljust(widths[0])]
            + [v.rjust(w) for v, w in zip(line[1:], widths[1:], strict=True)]
        )
        for line in table
    ]
    note = f'Counts under {SMALL_CELL} are shown as "{HIDDEN}"; a ratio needs both counts shown.'
    return "\n".join([*lines, "", note])


def run(source: str, as_json: bool = False) -> int:
    try:
        text = read(source)
    except (OSError, ValueError) as exc:
        print(f"signpost insights: cannot read {source}: {exc}", file=sys.stderr)
        return 2
    try:
        rows = [suppressed(r) for r in tally(text)]
    except ValueError as exc:  # not Prometheus text
        print(f"signpost insights: {source} is not Prometheus text: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(rows, indent=2) if as_json else to_text(rows))
    return 0
