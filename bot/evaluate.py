"""Evaluate the engine on labelled cases, like `rasa test nlu`: accuracy, per-intent
precision/recall/F1, confused pairs, out-of-scope false accepts, crisis recall, false alarms.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .engine import Engine
from .models import FALLBACK, SAFETY_IDS, Safety

# Classes where any urgent/emergency response counts as caught (docs/DESIGN.md, issue 4).
CRISIS = ("immediate_danger", "disclosure", "self_harm")


@dataclass(frozen=True, slots=True)
class Case:
    text: str
    expected: tuple[str, ...]
    audience: str | None
    kind: str


@dataclass(slots=True)
class Outcome:
    case: Case
    intent: str
    safety: str
    confidence: float
    # Topics whose own part a safety answer carried (its class's addendum for the topic).
    told: tuple[str, ...] = ()

    @property
    def correct(self) -> bool:
        return self.intent in self.case.expected

    @property
    def answered(self) -> bool:
        """Top-1, or a safety answer that also gave the expected topic's own part ("I'm
        being sextorted, what do I do?": the disclosure answer with the sextortion steps)."""
        return self.correct or any(t in self.case.expected for t in self.told)


@dataclass(slots=True)
class Report:
    name: str
    cases: int = 0
    in_scope: int = 0
    in_scope_accuracy: float = 0.0
    in_scope_answered: float = 0.0  # top-1, or a safety answer with the topic's part
    overall_accuracy: float = 0.0
    out_of_scope: int = 0
    out_of_scope_false_accept_rate: float = 0.0
    fallback_rate_in_scope: float = 0.0
    crisis_recall: dict[str, dict[str, float]] = field(default_factory=dict)
    near_miss: int = 0
    near_miss_false_alarm_rate: float = 0.0
    per_intent: dict[str, dict[str, float]] = field(default_factory=dict)
    confused_pairs: list[tuple[str, str, int]] = field(default_factory=list)
    by_kind: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: list[dict[str, object]] = field(default_factory=list)


class CaseError(ValueError):
    pass


def read_cases(path: Path) -> list[Case]:
    cases = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            expected = row["expected"]
            if isinstance(expected, str):
                expected = [expected]
            cases.append(
                Case(
                    text=str(row["text"]),
                    expected=tuple(str(e) for e in expected),
                    audience=row.get("audience"),
                    kind=str(row.get("kind", "")),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise CaseError(f"{path}:{n}: not a case ({exc})") from exc
    return cases


def _audience(a: str | None) -> str | None:
    if a in ("young_person", "parent"):
        return a
    return "parent" if a else None  # "professional" and other adults read the parent text


def run(engine: Engine, cases: Iterable[Case]) -> list[Outcome]:
    out = []
    for c in cases:
        r = engine.respond(c.text, _audience(c.audience))
        triage = engine.kb.intents[r.intent].triage
        topics = getattr(r.situation, "topics", ())
        told = tuple(t for t in topics if triage and t in triage.addenda)
        out.append(Outcome(c, r.intent, r.safety.value, r.confidence, told))
    return out


def _ratio(a: int, b: int) -> float:
    return round(a / b, 4) if b else 0.0


def report(name: str, outcomes: Sequence[Outcome]) -> Report:
    rep = Report(name=name, cases=len(outcomes))
    rep.overall_accuracy = _ratio(sum(o.correct for o in outcomes), len(outcomes))
    _matching(rep, outcomes)
    rep.crisis_recall = _crisis_recall(outcomes)
    near = [o for o in outcomes if o.case.kind == "near_miss"]
    rep.near_miss = len(near)
    rep.near_miss_false_alarm_rate = _ratio(sum(o.safety != Safety.NONE for o in near), len(near))
    gold = [o.intent if o.correct else o.case.expected[0] for o in outcomes]
    pred = [o.intent for o in outcomes]
    rep.per_intent = _per_intent(gold, pred)
    pairs = Counter((g, p) for g, p in zip(gold, pred, strict=True) if g != p)
    rep.confused_pairs = [(g, p, n) for (g, p), n in pairs.most_common(10)]
    rep.by_kind = _by_kind(outcomes)
    rep.errors = [_error(o) for o in outcomes if not o.correct]
    return rep


def _matching(rep: Report, outcomes: Sequence[Outcome]) -> None:
    """In-scope accuracy and fallbacks (near misses are not questions), out-of-scope accepts."""
    ins = [o for o in outcomes if FALLBACK not in o.case.expected and o.case.kind != "near_miss"]
    oos = [o for o in outcomes if o.case.expected == (FALLBACK,)]
    rep.in_scope = len(ins)
    rep.in_scope_accuracy = _ratio(sum(o.correct for o in ins), len(ins))
    rep.in_scope_answered = _ratio(sum(o.answered for o in ins), len(ins))
    rep.fallback_rate_in_scope = _ratio(sum(o.intent == FALLBACK for o in ins), len(ins))
    rep.out_of_scope = len(oos)
    rep.out_of_scope_false_accept_rate = _ratio(sum(o.intent != FALLBACK for o in oos), len(oos))


def _crisis_recall(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """Per safety class present: any urgent answer catches a crisis class; the other safety
    classes are caught only by their own intent."""
    out: dict[str, dict[str, float]] = {}
    for cls in SAFETY_IDS:
        group = [o for o in outcomes if o.case.expected and o.case.expected[0] == cls]
        if not group:
            continue
        if cls in CRISIS:
            caught = sum(o.safety != Safety.NONE for o in group)
        else:
            caught = sum(o.intent == cls for o in group)
        out[cls] = {"cases": len(group), "recall": _ratio(caught, len(group))}
    return out


def _per_intent(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    pairs = list(zip(gold, pred, strict=True))
    for label in sorted(set(gold) | set(pred)):
        tp = sum(g == label and p == label for g, p in pairs)
        fp = sum(g != label and p == label for g, p in pairs)
        fn = sum(g == label and p != label for g, p in pairs)
        prec, rec = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
        f1 = round(2 * prec * rec / (prec + rec), 4) if prec + rec else 0.0
        out[label] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    return out


def _by_kind(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for kind in sorted({o.case.kind for o in outcomes}):
        group = [o for o in outcomes if o.case.kind == kind]
        out[kind] = {
            "cases": len(group),
            "accuracy": _ratio(sum(o.correct for o in group), len(group)),
        }
    return out


def _error(o: Outcome) -> dict[str, object]:
    return {
        "text": o.case.text,
        "expected": list(o.case.expected),
        "got": o.intent,
        "confidence": o.confidence,
        "kind": o.case.kind,
    }


def to_json(reports: Sequence[Report]) -> str:
    return json.dumps([asdict(r) for r in reports], indent=2)


def to_text(rep: Report, show_errors: int = 0) -> str:
    lines = [
        f"== {rep.name}: {rep.cases} cases ==",
        f"top-1 accuracy, in scope     {rep.in_scope_accuracy:7.1%}  ({rep.in_scope} cases)",
        f"  or safety answer with topic {rep.in_scope_answered:7.1%}",
        f"top-1 accuracy, all cases    {rep.overall_accuracy:7.1%}",
        f"fallback rate, in scope      {rep.fallback_rate_in_scope:7.1%}",
        f"out-of-scope false accepts   {rep.out_of_scope_false_accept_rate:7.1%}"
        f"  ({rep.out_of_scope} cases)",
    ]
    if rep.near_miss:
        lines.append(
            f"near-miss false alarms       {rep.near_miss_false_alarm_rate:7.1%}"
            f"  ({rep.near_miss} cases)"
        )
    if rep.crisis_recall:
        lines.append("safety recall (danger/disclosure/self-harm: any urgent or emergency answer):")
        for cls, v in rep.crisis_recall.items():
            lines.append(f"  {cls:28s} {v['recall']:7.1%}  ({int(v['cases'])} cases)")
    lines.append("by kind:")
    for kind, v in rep.by_kind.items():
        lines.append(f"  {kind or '-':28s} {v['accuracy']:7.1%}  ({int(v['cases'])} cases)")
    lines.append(f"{'intent':30s} {'prec':>6s} {'recall':>6s} {'f1':>6s} {'n':>5s}")
    for label, v in rep.per_intent.items():
        lines.append(
            f"  {label:28s} {v['precision']:6.2f} {v['recall']:6.2f} {v['f1']:6.2f}"
            f" {int(v['support']):5d}"
        )
    if rep.confused_pairs:
        lines.append("most confused (expected -> got):")
        for g, p, n in rep.confused_pairs:
            lines.append(f"  {n:3d}  {g} -> {p}")
    for e in rep.errors[:show_errors]:
        lines.append(
            f"  x [{e['kind']}] {e['text']!r}: expected {e['expected']}, got {e['got']}"
            f" ({e['confidence']})"
        )
    return "\n".join(lines)
