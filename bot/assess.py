"""The safety stage: the whole safety decision for one message, in one place.

Precedence, in the order `SafetyStage.assess` checks it:

1. a rule (safety.py: patterns, fuzzy phrases, concept combinations), the most serious
   class first;
2. a safety intent's own example questions, when the message is (nearly) one of them and
   ranks above every topic;
3. the learned check (triage_model.py), for crisis wording no rule knows.

The first that fires gives the verdict: the safety class, its level, what decided it, and
what the message is also about (a topic to offer, the class's addendum for it, and whether
the question is answered topic first at the class's urgency).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property

from .matcher import Match, Matcher
from .models import IntentKind, KnowledgeBase, Safety
from .safety import SafetyHit, Triager
from .triage_model import TriageModel

# A safety intent reached through its example questions (not its rules) must score this high.
SAFETY_EXAMPLE_THRESHOLD = 0.88


class Source(StrEnum):
    """What decided a safety verdict."""

    PATTERN = "pattern"
    PHRASE = "phrase"
    COMBO = "combo"
    EXAMPLE = "example"
    MODEL = "model"


@dataclass(frozen=True, slots=True)
class Verdict:
    intent: str  # the safety intent: its answer, helplines and follow-ups
    level: Safety
    source: Source
    score: float  # 1 for a rule; the example's or the model's confidence otherwise
    topic: str | None = None  # a topic the message is also about, offered as a follow-up
    addendum: str | None = None  # the class's extra answer for that topic (an answer id)
    topic_first: bool = False  # answer the topic's question first, at this class's urgency


class Ranking:
    """The matcher's ranking of one message, computed once, and in full only when needed.

    Topic answers need only the top of the ranking (Matcher.rank with full=False); safety
    answers use more of it (topic first, addenda), so they rank in full."""

    def __init__(self, matcher: Matcher, text: str) -> None:
        self._matcher = matcher
        self._text = text

    @cached_property
    def partial(self) -> Match:
        return self._matcher.match(self._text, full=False)

    @cached_property
    def full(self) -> Match:
        return self._matcher.match(self._text)

    def best(self) -> Match:
        """The full ranking if it was needed, else the top of it."""
        return self.__dict__.get("full") or self.partial


class SafetyStage:
    def __init__(
        self,
        kb: KnowledgeBase,
        triager: Triager,
        model: TriageModel | None,
        offer_floor: float,
    ) -> None:
        self.kb = kb
        self.triager = triager
        self.model = model
        self.offer_floor = offer_floor  # a topic scoring this high is worth offering

    def assess(self, text: str, ranking: Ranking) -> Verdict | None:
        """The safety verdict for the normalised text, or None when nothing fired."""
        hit = self.triager.triage(text) or self._example(text, ranking) or self._model(text)
        if hit is None:
            return None
        match = ranking.full
        topic = self._topic_to_offer(match)
        triage = self.kb.intents[hit.intent].triage
        assert triage is not None
        score = match.candidates[0].score if hit.reason == Source.EXAMPLE else hit.score
        return Verdict(
            intent=hit.intent,
            level=hit.safety,
            source=Source(hit.reason),
            score=score,
            topic=topic,
            addendum=triage.addenda.get(topic) if topic else None,
            topic_first=self._topic_first(hit, match, text),
        )

    def _example(self, text: str, ranking: Ranking) -> SafetyHit | None:
        # The top of the ranking can only make a safety example look better than in the
        # full ranking, never worse: a hit there is confirmed on the full ranking.
        if self._example_in(ranking.partial, text) is None:
            return None
        return self._example_in(ranking.full, text)

    def _example_in(self, match: Match, text: str) -> SafetyHit | None:
        if not match.candidates:
            return None
        top = match.candidates[0]
        intent = self.kb.intents.get(top.intent)
        if intent is None or intent.triage is None or top.score < SAFETY_EXAMPLE_THRESHOLD:
            return None
        if self.triager.has_concept("topic_question", text):
            return None  # "what does self-harm mean" asks about a word, not for help now
        triage = intent.triage
        return SafetyHit(intent.id, triage.safety, triage.priority, Source.EXAMPLE.value)

    def _model(self, text: str) -> SafetyHit | None:
        """The second net: wording the rules do not know that the model reads as a crisis."""
        if self.model is None:
            return None
        found = self.model.check(text)
        if found is None:
            return None
        triage = self.kb.intents[found.intent].triage
        assert triage is not None
        return SafetyHit(
            found.intent, triage.safety, triage.priority, Source.MODEL.value, score=found.score
        )

    def _topic_first(self, hit: SafetyHit, match: Match, text: str) -> bool:
        """A question about a topic that also reads as a possible disclosure: answer the
        question, at the class's urgency (see Triage.topic_first). Never for a message that
        is (nearly) one of the safety intent's own examples."""
        rule = self.kb.intents[hit.intent].triage
        topic = self.kb.intents.get(match.intent)
        return bool(
            rule
            and rule.topic_first
            and hit.reason != Source.EXAMPLE
            and topic is not None
            and topic.kind is IntentKind.TOPIC
            and self.triager.topic_first(hit.intent, text, hit.concepts)
        )

    def _topic_to_offer(self, match: Match) -> str | None:
        for c in match.candidates[:3]:
            intent = self.kb.intents.get(c.intent)
            if intent and intent.kind is IntentKind.TOPIC and c.score >= self.offer_floor:
                return c.intent
        return None
