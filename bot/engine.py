"""The whole path for one message: normalise -> safety triage -> match -> compose.

Stateless: whatever must survive between messages travels in the `context` dict that the
client sends back, so any replica can answer any message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from . import compose
from .loader import load
from .matcher import Match, Matcher, MatcherConfig
from .models import (
    AUDIENCES,
    FALLBACK,
    Audience,
    Candidate,
    IntentKind,
    KnowledgeBase,
    Reply,
    Safety,
    Suggestion,
)
from .normalise import normalise
from .safety import SafetyHit, Triager
from .triage_model import TriageModel, TriageModelConfig

CONTEXT_VERSION = 1
# A safety intent reached through its example questions (not its rules) must score this high.
SAFETY_EXAMPLE_THRESHOLD = 0.88
# Follow-ups that only make sense about the previous topic ("how do I report it?").
FOLLOWUP_INTENTS = frozenset({"make_a_report", "talk_to_someone", "what_to_do"})
_FOLLOWUP_MAX_WORDS = 6
_PARENT = re.compile(
    r"\b(my|our) (son|daughter|child|children|kid|kids|boy|girl|teen|teenager|stepson|"
    r"stepdaughter|grandson|granddaughter|pupil|pupils|student|students|nephew|niece)\b"
    r"|\bmy \d{1,2} year old\b|\bas a (parent|carer|mum|dad|teacher)\b"
    r"|\bi am a (parent|carer|mum|dad|teacher|foster carer)\b"
)
_YOUNG = re.compile(
    r"\b(i am|im|i m) (1[0-7]|[5-9])\b(?! (children|kids))"
    r"|\bi am in year \d\b|\bmy (mum|dad|parents|teacher)\b"
)


def infer_audience(text: str) -> Audience | None:
    if _PARENT.search(text):
        return "parent"
    if _YOUNG.search(text):
        return "young_person"
    return None


class Engine:
    def __init__(
        self,
        kb: KnowledgeBase,
        config: MatcherConfig | None = None,
        triage_model: TriageModelConfig | None = None,
    ) -> None:
        self.kb = kb
        self.matcher = Matcher(kb, config)
        self.triager = Triager(kb)
        # After the matcher's, not beside it: two training children at once would double the
        # start-up memory peak (about 200 MB each) that a small container must hold.
        self.triage_model = TriageModel.train(kb, triage_model or TriageModelConfig())

    @classmethod
    def from_path(cls, root: str | None = None) -> Engine:
        return cls(load(root))

    def respond(
        self,
        message: str,
        audience: str | None = None,
        context: Mapping[str, Any] | None = None,
    ) -> Reply:
        ctx = _clean_context(context, self.kb)
        norm = normalise(message, self.kb.replacements)
        text = norm.text
        aud, known = self._audience(audience, text, ctx)
        hit = self.triager.triage(text)
        # The learned check needs no ranking, so it is asked first: a hit then ranks in full
        # once. It still comes after a safety example, which is the surer of the two.
        learned = self._safety_from_model(text) if hit is None else None
        # Topic answers only need the top of the ranking (see Matcher.rank); safety answers
        # use more of it (topic-first, addenda), so they are ranked in full.
        full = hit is not None or learned is not None
        match = self.matcher.match(text, full=full)
        if hit is None:
            example = self._safety_from_examples(match, text)
            if example is not None and not full:
                # Decide on the full ranking, as it is used: the shortlist can only make a
                # safety example look better than it is, never worse.
                match = self.matcher.match(text)
                example = self._safety_from_examples(match, text)
            hit = example or learned
        if hit is not None:
            if self._topic_first(hit, match, text):
                return self._topic_reply(match, text, aud, known, ctx, hit)
            return self._safety_reply(hit, match, aud, known, ctx)
        return self._topic_reply(match, text, aud, known, ctx)

    # -- pieces -----------------------------------------------------------------------------

    def _audience(
        self, given: str | None, text: str, ctx: Mapping[str, Any]
    ) -> tuple[Audience, bool]:
        if given in AUDIENCES:
            return given, True  # type: ignore[return-value]
        inferred = infer_audience(text)
        if inferred:
            return inferred, True
        remembered = ctx.get("audience")
        if remembered in AUDIENCES:
            return remembered, True
        # Unknown: plain young-person wording, and both helplines (see compose.signposts).
        return "young_person", False

    def _safety_from_examples(self, match: Match, text: str) -> SafetyHit | None:
        if not match.candidates:
            return None
        top = match.candidates[0]
        intent = self.kb.intents.get(top.intent)
        if intent is None or intent.triage is None or top.score < SAFETY_EXAMPLE_THRESHOLD:
            return None
        if self.triager.has_concept("topic_question", text):
            return None  # "what does self-harm mean" asks about a word, not for help now
        return SafetyHit(intent.id, intent.triage.safety, intent.triage.priority, "example")

    def _safety_from_model(self, text: str) -> SafetyHit | None:
        """The second net: wording the rules do not know that the model reads as a crisis."""
        if self.triage_model is None:
            return None
        found = self.triage_model.check(text)
        if found is None:
            return None
        triage = self.kb.intents[found.intent].triage
        assert triage is not None
        return SafetyHit(found.intent, triage.safety, triage.priority, "model", score=found.score)

    def _topic_first(self, hit: SafetyHit, match: Match, text: str) -> bool:
        """A question about a topic that also reads as a possible disclosure: answer the
        question, at the class's urgency (see Triage.topic_first)."""
        rule = self.kb.intents[hit.intent].triage
        topic = self.kb.intents.get(match.intent)
        return bool(
            rule
            and rule.topic_first
            and hit.reason != "example"
            and topic is not None
            and topic.kind is IntentKind.TOPIC
            and self.triager.topic_first(hit.intent, text, hit.concepts)
        )

    def _top_topic(self, match: Match) -> str | None:
        for c in match.candidates[:3]:
            intent = self.kb.intents.get(c.intent)
            if (
                intent
                and intent.kind is IntentKind.TOPIC
                and c.score >= self.matcher.config.suggest_floor
            ):
                return c.intent
        return None

    def _safety_reply(
        self, hit: SafetyHit, match: Match, aud: Audience, known: bool, ctx: Mapping[str, Any]
    ) -> Reply:
        kb = self.kb
        intent = kb.intents[hit.intent]
        assert intent.triage is not None
        text = compose.answer_text(kb, intent.answer, aud)
        topic = self._top_topic(match)
        extra: list[Suggestion] = []
        if topic:
            addendum = intent.triage.addenda.get(topic)
            if addendum:
                text = f"{text}\n\n{compose.answer_text(kb, addendum, aud)}"
            extra.append(compose.topic_suggestion(kb.intents[topic]))
        confidence = match.candidates[0].score if hit.reason == "example" else hit.score
        return Reply(
            intent=intent.id,
            confidence=round(confidence, 3),
            safety=hit.safety,
            answer=text,
            signposts=compose.signposts(kb, intent.signposts[aud], aud, hit.safety, known),
            suggestions=compose.merge_suggestions(extra, intent.suggestions),
            context=self._context(aud, known, topic or ctx.get("topic")),
            audience=aud,
            candidates=match.candidates[:5],
            triaged_by=hit.reason,
        )

    def _topic_reply(
        self,
        match: Match,
        text: str,
        aud: Audience,
        known: bool,
        ctx: Mapping[str, Any],
        hit: SafetyHit | None = None,
    ) -> Reply:
        kb = self.kb
        previous = ctx.get("topic")
        intent_id = match.intent
        if (
            hit is None
            and previous
            and intent_id in FOLLOWUP_INTENTS
            and len(text.split()) <= _FOLLOWUP_MAX_WORDS
        ):
            return self._followup_reply(intent_id, previous, match, aud, known)
        if intent_id == FALLBACK:
            return self._fallback_reply(match, aud, known, ctx)
        if intent_id == "what_to_do":
            # "what should I do?" with no topic yet: the talk-to-someone answer fits best.
            intent_id = "talk_to_someone"
        intent = kb.intents[intent_id]
        topic = intent_id if intent.kind is IntentKind.TOPIC else previous
        answer = compose.answer_text(kb, intent.answer, aud)
        helplines = list(intent.signposts[aud])
        suggestions: list[Suggestion] = []
        safety = Safety.NONE
        urgent = kb.intents[hit.intent] if hit is not None else None
        if hit is not None and urgent and urgent.triage and urgent.triage.topic_lead:
            # Topic-first safety answer: the urgent lead, the class's helplines and its
            # follow-ups ("Who can I talk to?") come first.
            lead = compose.answer_text(kb, urgent.triage.topic_lead, aud)
            answer = f"{lead}\n\n{answer}"
            helplines = [*urgent.signposts[aud], *helplines]
            suggestions = list(urgent.suggestions[:2])
            safety = hit.safety
        return Reply(
            intent=intent.id,
            confidence=round(match.confidence, 3),
            safety=safety,
            answer=answer,
            signposts=compose.signposts(kb, helplines, aud, safety, known),
            suggestions=compose.merge_suggestions(suggestions, intent.suggestions),
            context=self._context(aud, known, topic),
            audience=aud,
            candidates=match.candidates[:5],
            triaged_by=hit.reason if hit is not None else None,
        )

    def _followup_reply(
        self, intent_id: str, previous: str, match: Match, aud: Audience, known: bool
    ) -> Reply:
        """A short follow-up is answered for the topic the person was reading about."""
        kb = self.kb
        topic = kb.intents[previous]
        answer_intent = topic if intent_id == "what_to_do" else kb.intents[intent_id]
        lead = f"**{topic.title}**\n\n" if answer_intent is not topic else ""
        ids = [*answer_intent.signposts[aud], *topic.signposts[aud]]
        return Reply(
            intent=answer_intent.id,
            confidence=round(max(match.confidence, 0.0), 3),
            safety=Safety.NONE,
            answer=lead + compose.answer_text(kb, answer_intent.answer, aud),
            signposts=compose.signposts(kb, ids, aud, Safety.NONE, known),
            suggestions=compose.merge_suggestions(answer_intent.suggestions, topic.suggestions),
            context=self._context(aud, known, topic.id),
            audience=aud,
            candidates=match.candidates[:5],
        )

    def _fallback_reply(
        self, match: Match, aud: Audience, known: bool, ctx: Mapping[str, Any]
    ) -> Reply:
        kb = self.kb
        fb = kb.intents[FALLBACK]
        options = [kb.intents[i] for i in match.did_you_mean if i in kb.intents]
        if options:
            answer = compose.answer_text(kb, compose.DID_YOU_MEAN, aud)
            suggestions = compose.merge_suggestions([compose.topic_suggestion(i) for i in options])
        else:
            answer = compose.answer_text(kb, fb.answer, aud)
            suggestions = compose.merge_suggestions(fb.suggestions)
        return Reply(
            intent=FALLBACK,
            confidence=round(match.confidence, 3),
            safety=Safety.NONE,
            answer=answer,
            signposts=compose.signposts(kb, fb.signposts[aud], aud, Safety.NONE, known),
            suggestions=suggestions,
            context=self._context(aud, known, ctx.get("topic")),
            audience=aud,
            candidates=match.candidates[:5],
            did_you_mean=bool(options),
        )

    def _context(self, aud: Audience, known: bool, topic: object) -> dict[str, object]:
        ctx: dict[str, object] = {"v": CONTEXT_VERSION}
        if known:
            ctx["audience"] = aud
        if isinstance(topic, str) and topic in self.kb.intents:
            ctx["topic"] = topic
        return ctx


def _clean_context(context: Mapping[str, Any] | None, kb: KnowledgeBase) -> dict[str, Any]:
    """Keep only what we wrote ourselves: the context comes back from an untrusted client."""
    if not isinstance(context, Mapping):
        return {}
    out: dict[str, Any] = {}
    aud = context.get("audience")
    if aud in AUDIENCES:
        out["audience"] = aud
    topic = context.get("topic")
    if (
        isinstance(topic, str)
        and topic in kb.intents
        and kb.intents[topic].kind is IntentKind.TOPIC
    ):
        out["topic"] = topic
    return out


__all__ = ["Candidate", "Engine", "infer_audience"]
