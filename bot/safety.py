"""Safety triage: runs before topic matching and wins over it.

Rules are data (the `triage` block of each safety intent): regular expressions and whole
phrases matched with tolerance for typos, both on the normalised text. Recall comes first:
a missed crisis is the worst failure this product can have, so any class that fires is
answered, and the most serious one (lowest priority number) wins.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import fuzz

from .models import Intent, KnowledgeBase, Safety, Triage
from .normalise import normalise

PHRASE_CUTOFF = 88.0


@dataclass(frozen=True, slots=True)
class SafetyHit:
    intent: str
    safety: Safety
    priority: int
    reason: str  # "pattern", "phrase" or "example": for evaluation, never logged with text


class Triager:
    def __init__(self, kb: KnowledgeBase) -> None:
        rules: list[tuple[Intent, Triage, tuple[str, ...]]] = []
        for intent in kb.safety_intents():
            assert intent.triage is not None
            phrases = tuple(
                p for p in (normalise(x, kb.replacements).text for x in intent.triage.phrases) if p
            )
            rules.append((intent, intent.triage, phrases))
        self._rules = sorted(rules, key=lambda r: r[1].priority)

    def hits(self, text: str) -> list[SafetyHit]:
        """Every safety class the normalised text triggers, most serious first."""
        out: list[SafetyHit] = []
        for intent, rule, phrases in self._rules:
            reason = None
            if any(p.search(text) for p in rule.patterns):
                reason = "pattern"
            elif any(_phrase_in(p, text) for p in phrases):
                reason = "phrase"
            if reason is None or any(u.search(text) for u in rule.unless):
                continue
            level = rule.safety
            if any(p.search(text) for p in rule.emergency_patterns):
                level = Safety.EMERGENCY
            out.append(SafetyHit(intent.id, level, rule.priority, reason))
        return out

    def triage(self, text: str) -> SafetyHit | None:
        hits = self.hits(text)
        return hits[0] if hits else None


def _phrase_in(phrase: str, text: str) -> bool:
    # partial_ratio scores 100 when the shorter string sits inside the longer one, so a
    # message shorter than the phrase is compared whole, never as a fragment.
    if len(text) >= len(phrase):
        return fuzz.partial_ratio(phrase, text, score_cutoff=PHRASE_CUTOFF) > 0
    return fuzz.ratio(phrase, text, score_cutoff=PHRASE_CUTOFF + 4) > 0
