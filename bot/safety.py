"""Safety triage: runs before topic matching and wins over it.

Rules are data. Each safety intent's `triage` block has regular expressions, whole phrases
matched with tolerance for typos, and `combos` of concepts from
content/safety_concepts.yaml ("a stranger" + "at my door"), all applied to the normalised
text. Recall comes first: a missed crisis is the worst failure this product can have, so
any class that fires is answered, and the most serious one (lowest priority) wins.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from .models import Intent, KnowledgeBase, Safety, Triage
from .normalise import normalise
from .prefilter import Group, Screen

PHRASE_CUTOFF = 88.0
TYPO_CUTOFF = 82.0  # how close a misspelt word must be to a concept word to be read as it
_GAP = r"(?: \S+){0,3}"


@dataclass(frozen=True, slots=True)
class SafetyHit:
    intent: str
    safety: Safety
    priority: int
    reason: str  # "pattern", "phrase", "combo", "example" or "model"
    concepts: frozenset[str] | None = None  # the message's concepts, if triage looked them up
    score: float = 1.0  # how sure: 1 for a rule, less for an example or the model


def compile_concept(phrases: Iterable[str]) -> re.Pattern[str]:
    """One regex for a concept: phrases as whole words, `~` a short gap, `word*` any ending."""
    alts = []
    for phrase in phrases:
        if phrase.startswith("re:"):
            alts.append(f"(?:{phrase[3:]})")
            continue
        parts = []
        for tok in phrase.split():
            if tok == "~":
                parts.append(_GAP)
            elif tok.endswith("*"):
                parts.append(" " + re.escape(tok[:-1]) + r"\w*")
            else:
                parts.append(" " + re.escape(tok))
        alts.append("".join(parts).lstrip(" "))
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)")


def concept_words(concepts: Mapping[str, Iterable[str]]) -> set[str]:
    return {
        tok.rstrip("*")
        for phrases in concepts.values()
        for p in phrases
        if not p.startswith("re:")
        for tok in p.split()
        if tok != "~" and len(tok) >= 4
    }


def rule_concepts(kb: KnowledgeBase) -> frozenset[str]:
    """The concepts some safety intent's rules name."""
    return frozenset(
        name.lstrip("!")
        for intent in kb.safety_intents()
        if intent.triage is not None
        for combo in (*intent.triage.combos, *intent.triage.topic_first)
        for name in combo
    )


class Triager:
    def __init__(self, kb: KnowledgeBase, reading_only: frozenset[str] = frozenset()) -> None:
        """`reading_only`: concepts used only to read the situation (situation.py); their
        words are never targets of the typo corrector ("tripped" must not become "trapped")."""
        # Every regex goes through one screen: a message is scanned once for all their
        # required literals, and most regexes are then skipped without running.
        self._screen = screen = Screen()
        rules: list[tuple[Intent, Triage, tuple[str, ...]]] = []
        self._regexes: dict[str, tuple[Group, Group, Group]] = {}
        for intent in kb.safety_intents():
            t = intent.triage
            assert t is not None
            # Shortest first, so a message splits them by length with one bisect.
            found = (normalise(x, kb.replacements).text for x in t.phrases)
            phrases = tuple(sorted((p for p in found if p), key=len))
            rules.append((intent, t, phrases))
            self._regexes[intent.id] = (
                screen.group(t.patterns),
                screen.group(t.unless),
                screen.group(t.emergency_patterns),
            )
        self._rules = sorted(rules, key=lambda r: r[1].priority)
        self._concepts = {name: screen.add(compile_concept(ph)) for name, ph in kb.concepts.items()}
        self._concept_at = {c.index: (name, c.regex) for name, c in self._concepts.items()}
        self._concept_ids = frozenset(self._concept_at)
        screen.build()  # now, not on the first message: requests may arrive on several threads
        # Combos as (must have, must not have) sets: checked with two set operations.
        self._combos = {
            intent.id: tuple(_split(combo) for combo in rule.combos) for intent, rule, _ in rules
        }
        self._topic_first = {
            intent.id: tuple(_split(combo) for combo in rule.topic_first)
            for intent, rule, _ in rules
        }
        typo_targets = {k: v for k, v in kb.concepts.items() if k not in reading_only}
        self._concept_vocab = sorted(concept_words(typo_targets))
        # Words we know as words: never "corrected" into a concept word.
        known = set(self._concept_vocab) | set(kb.stopwords) | set(kb.replacements.values())
        for intent in kb.intents.values():
            for ex in intent.examples:
                known.update(normalise(ex, kb.replacements).text.split())
        self._known = frozenset(known)

    def correct(self, text: str) -> str:
        """Read misspelt words as the concept words they are closest to ("forsed" -> "forced")."""
        out = []
        for tok in text.split():
            if len(tok) >= 5 and tok not in self._known and not tok.isdigit():
                hit = process.extractOne(
                    tok, self._concept_vocab, scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF
                )
                # Typos keep the first letter; "stored" is not a misspelt "sextorted".
                if hit is not None and hit[0][0] == tok[0]:
                    tok = hit[0]
            out.append(tok)
        return " ".join(out)

    def has_concept(self, name: str, text: str) -> bool:
        rx = self._concepts.get(name)
        return rx is not None and rx.search(text) is not None

    def emergency(self, intent_id: str, text: str) -> bool:
        """Whether the class's `emergency_patterns` match: asked also when a learned net, not
        a rule, gave the class ("shes cut her arms badly" read as self-harm by the model)."""
        regexes = self._regexes.get(intent_id)
        return regexes is not None and regexes[2].any(text, self._screen.scan(text))

    def topic_first(self, intent_id: str, text: str, present: frozenset[str] | None) -> bool:
        """Whether one of the class's `topic_first` combinations holds (typos read as concept
        words); `present` is the message's concepts when triage already looked them up."""
        combos = self._topic_first.get(intent_id, ())
        if combos and present is None:
            present = self.concepts_in(self.correct(text))
        return present is not None and _holds(combos, present)

    def concepts_in(self, text: str, seen: frozenset[int] | None = None) -> frozenset[str]:
        """Every concept the (typo-corrected) text contains."""
        if seen is None:
            seen = self._screen.scan(text)
        found = (self._concept_at[i] for i in self._concept_ids & seen)
        return frozenset(name for name, rx in found if rx.search(text))

    def _iter_hits(self, text: str) -> Iterator[SafetyHit]:
        corrected = self.correct(text)
        present: frozenset[str] | None = None  # looked up once, when a combination needs it
        seen = self._screen.scan(text)
        variants = [(text, seen)]
        if corrected != text:
            variants.append((corrected, self._screen.scan(corrected)))
        for intent, rule, phrases in self._rules:
            patterns, unless, emergency = self._regexes[intent.id]
            reason = None
            if any(patterns.any(v, s) for v, s in variants):
                reason = "pattern"
            elif _any_phrase_in(phrases, text):
                reason = "phrase"
            else:
                combos = self._combos[intent.id]
                if combos and present is None:
                    present = self.concepts_in(*variants[-1])
                if present is not None and _holds(combos, present):
                    reason = "combo"
            if reason is None or unless.any(text, seen):
                continue
            level = rule.safety
            if emergency.any(text, seen):
                level = Safety.EMERGENCY
            yield SafetyHit(intent.id, level, rule.priority, reason, present)

    def hits(self, text: str) -> list[SafetyHit]:
        """Every safety class the normalised text triggers, most serious first."""
        return list(self._iter_hits(text))

    def triage(self, text: str) -> SafetyHit | None:
        """The most serious class the text triggers (classes are tried in priority order)."""
        return next(self._iter_hits(text), None)


def _holds(
    combos: Iterable[tuple[frozenset[str], frozenset[str]]], present: frozenset[str]
) -> bool:
    return any(need <= present and not (avoid & present) for need, avoid in combos)


def _split(combo: tuple[str, ...]) -> tuple[frozenset[str], frozenset[str]]:
    need = frozenset(n for n in combo if not n.startswith("!"))
    return need, frozenset(n[1:] for n in combo if n.startswith("!"))


def _any_phrase_in(phrases: tuple[str, ...], text: str) -> bool:
    """Two native rapidfuzz calls: phrases that fit inside the message are looked for in it
    (partial_ratio scores 100 when the shorter string sits inside the longer one); a message
    shorter than a phrase is compared with it whole, never as a fragment, a little stricter.
    `phrases` are sorted by length."""
    cut = bisect_right(phrases, len(text), key=len)
    shorter, longer = phrases[:cut], phrases[cut:]
    if shorter and process.extractOne(
        text, shorter, scorer=fuzz.partial_ratio, score_cutoff=PHRASE_CUTOFF
    ):
        return True
    return bool(longer) and (
        process.extractOne(text, longer, scorer=fuzz.ratio, score_cutoff=PHRASE_CUTOFF + 4)
        is not None
    )
