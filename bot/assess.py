"""The safety stage: the whole safety decision for one message, in one place.

Precedence, in the order `SafetyStage.assess` checks it:

1. a rule (safety.py: patterns, fuzzy phrases, concept combinations), the most serious
   class first;
2. a safety intent's own example questions, when the message is (nearly) one of them and
   ranks above every topic;
3. the learned check (triage_model.py), for crisis wording no rule knows;
4. the semantic net (semantic_net.py), for crisis wording neither of those knows.

The first that fires gives the class. The situation (situation.py: who is speaking, how
urgent, what about) then decides the answer, in this order:

- a finder of abuse images, or an adult worried about another adult, gets their own answer,
  never the refusal; someone asking for help with their own thoughts is never refused;
- self-harm told together with another harm (its words, or the learned model's self-harm
  class) leads with the self-harm help;
- a crisis happening now (its words, or the learned model's danger class claiming it) is an
  emergency: 999 first;
- a friend telling about a friend's crisis gets how to help them (a question about a topic
  keeps the topic's answer);
- a message nothing placed but that carries distress gets "something might be wrong" with
  999 and a helpline first, never "Sorry, I didn't understand".

The verdict says the answer's intent, its level, what decided it, and what the message is
also about (a topic to offer, the class's addendum for it, and whether the question is
answered topic first at the class's urgency).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from functools import cached_property

from .matcher import Match, Matcher
from .models import FALLBACK, IntentKind, KnowledgeBase, Safety
from .safety import SafetyHit, Triager
from .semantic_net import SemanticNet
from .situation import Situation, SituationReader, SituationRules, Speaker, Urgency
from .triage_model import TriageModel

# A safety intent reached through its example questions (not its rules) must score this high.
SAFETY_EXAMPLE_THRESHOLD = 0.88
# Self-harm told inside another crisis ("blackmailed and now says his life is over"): the
# learned model's own self-harm decision value above this adds the self-harm help first.
# Chosen on probes 14 and 15 before they were learned (-0.25: 102 of their 117 mixed
# messages, 2 of 240 disclosures and 3 of 206 emergencies moved), then re-checked on probe_12
# after retraining in round 15: -0.2 keeps 56 of its 61 mixed messages and moves none of its
# 110 disclosures (-0.25: 57, and 1).
SELF_HARM_TOO = -0.2
# The semantic net's refusal stands unless the linear model puts "none" this far ahead.
# The linear model's refusal of a message with protective words ("job", "report", "signs")
# needs this much over "none". Round 16, read on probe_12, safety_probe_4 and near_miss_8: its 6
# true refusals with such words lean 0.48-2.33, its 2 false ones (a teenager asking about a
# crush, and about a job with children) 0.00-0.05.
PROTECTED_HARM_MARGIN = 0.25
# Round 16: -1.0 -> -0.75 after learning probe_16 gave the net more refusal lines; on
# probe_12's counts (no text read) it stopped refusing one finder and lost no refusal.
NET_HARM_LEAN = -0.75


class Source(StrEnum):
    """What decided a safety verdict."""

    PATTERN = "pattern"
    PHRASE = "phrase"
    COMBO = "combo"
    EXAMPLE = "example"
    MODEL = "model"
    SEMANTIC = "semantic"  # the semantic net: nearest labelled messages by meaning
    SITUATION = "situation"  # no class fired: the speaker's own answer
    DISTRESS = "distress"  # no class fired and nothing matched, but the words carry distress


HARM = "harmful_request"
OWN_THOUGHTS = "worried_about_own_thoughts"
SELF_HARM = "self_harm"
DISCLOSURE = "disclosure"
DANGER = "immediate_danger"
CRISIS = frozenset({DANGER, DISCLOSURE, SELF_HARM})
# Classes a finder's or a worried adult's words can set off without them being either.
SPEAKER_OVERRIDES = frozenset({HARM, OWN_THOUGHTS, DISCLOSURE})


@dataclass(frozen=True, slots=True)
class Verdict:
    intent: str  # the safety intent: its answer, helplines and follow-ups
    level: Safety
    source: Source
    score: float  # 1 for a rule; the example's or the model's confidence otherwise
    topic: str | None = None  # a topic the message is also about, offered as a follow-up
    addendum: str | None = None  # the class's extra answer for that topic (an answer id)
    topic_first: bool = False  # answer the topic's question first, at this class's urgency
    situation: Situation = field(default_factory=Situation)
    answer: str | None = None  # an answer id instead of the intent's own
    lead: str | None = None  # an answer id put first (999 when it is happening now)
    also: str | None = None  # another class told in the same message, whose helplines follow
    first: tuple[str, ...] = ()  # helpline ids that come first


@dataclass(frozen=True, slots=True)
class Assessment:
    situation: Situation
    verdict: Verdict | None = None


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
        rules: SituationRules | None = None,
        net: SemanticNet | None = None,
    ) -> None:
        self.kb = kb
        self.triager = triager
        self.model = model
        self.net = net
        self.offer_floor = offer_floor  # a topic scoring this high is worth offering
        self.rules = rules or SituationRules()
        self.reader = SituationReader(self.rules)

    def assess(self, text: str, ranking: Ranking) -> Assessment:
        """The situation, and the safety verdict when one applies, for the normalised text."""
        rule = self.triager.triage(text)
        hit = rule or self._example(text, ranking) or self._model(text) or self._net(text)
        present = hit.concepts if hit and hit.concepts is not None else None
        if present is None:
            present = self.triager.concepts_in(self.triager.correct(text))
        speaker = self.reader.speaker(present, hit.intent if hit else None)
        if hit is None:
            return self._without_class(ranking, present, speaker)
        match = ranking.full
        others = {h.intent for h in self.triager.hits(text)} if rule else set()
        urgency = self.reader.urgency(present, hit.safety is Safety.EMERGENCY, hit.intent in CRISIS)
        danger_too, self_harm_too = self._model_also_reads(hit, text)
        if danger_too:
            urgency = Urgency.NOW
        if self_harm_too or self.reader.self_harm(present):
            others.add(SELF_HARM)
        verdict = self._class_verdict(hit, match, text)
        verdict = self._route(verdict, speaker, urgency, others)
        situation = Situation(speaker, urgency, self._topics(verdict))
        return Assessment(situation, replace(verdict, situation=situation))

    def _class_verdict(self, hit: SafetyHit, match: Match, text: str) -> Verdict:
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

    def _route(self, v: Verdict, speaker: Speaker, urgency: Urgency, others: set[str]) -> Verdict:
        """What the situation changes about the class's own answer (see the module doc)."""
        rules = self.rules
        target = rules.answer_speaker.get(speaker)
        if target and v.intent in SPEAKER_OVERRIDES:
            return replace(v, intent=target, level=Safety.URGENT, addendum=None, topic_first=False)
        if speaker is Speaker.OWN_THOUGHTS and v.intent == HARM:
            return replace(v, intent=OWN_THOUGHTS, addendum=None, topic_first=False)
        if v.intent == HARM:
            return v
        if SELF_HARM in others and v.intent in CRISIS - {SELF_HARM}:
            level = max(v.level, Safety.URGENT, key=_rank)
            v = replace(v, intent=SELF_HARM, also=v.intent, level=level, topic_first=False)
        if v.intent == SELF_HARM and (v.also or v.topic):
            v = replace(v, addendum=rules.self_harm_also)
        if urgency is Urgency.NOW and v.intent in CRISIS:
            lead = None if v.intent == DANGER else rules.emergency_lead
            return replace(v, level=Safety.EMERGENCY, lead=lead, topic_first=False)
        if (
            speaker is Speaker.FRIEND
            and v.intent == DISCLOSURE
            and rules.friend_help
            and not v.topic_first
        ):
            # A question about a topic ("is that grooming?") keeps the topic's answer.
            return replace(v, intent=rules.friend_help, addendum=None, topic_first=False)
        return v

    def _without_class(
        self, ranking: Ranking, present: frozenset[str], speaker: Speaker
    ) -> Assessment:
        urgency = self.reader.urgency(present, False, False)
        match = ranking.best()
        target = self.rules.answer_speaker.get(speaker)
        if target and match.intent == FALLBACK:
            # Nothing else placed it: the speaker's own answer, not "didn't understand".
            situation = Situation(speaker, urgency, (target,))
            verdict = Verdict(target, Safety.NONE, Source.SITUATION, 1.0, situation=situation)
            return Assessment(situation, verdict)
        topics = (match.intent,) if match.intent != FALLBACK else ()
        if self.reader.self_harm(present):
            # Self-harm no rule caught, told with or without another topic: its help leads.
            situation = Situation(speaker, urgency, (SELF_HARM, *topics))
            now = urgency is Urgency.NOW
            verdict = Verdict(
                SELF_HARM,
                Safety.EMERGENCY if now else Safety.URGENT,
                Source.SITUATION,
                1.0,
                topic=topics[0] if topics else None,
                addendum=self.rules.self_harm_also if topics else None,
                situation=situation,
                lead=self.rules.emergency_lead if now else None,
            )
            return Assessment(situation, verdict)
        situation = Situation(speaker, urgency, topics)
        if match.intent == FALLBACK and self.rules.distress and self.reader.distressed(present):
            now = urgency is Urgency.NOW
            verdict = Verdict(
                FALLBACK,
                Safety.EMERGENCY if now else Safety.URGENT,
                Source.DISTRESS,
                1.0,
                situation=situation,
                answer=self.rules.distress,
                first=("emergency",),
            )
            return Assessment(situation, verdict)
        return Assessment(situation)

    def _model_also_reads(self, hit: SafetyHit, text: str) -> tuple[bool, bool]:
        """Whether, in a crisis another class won, the learned model's danger class claims
        the message on its own (above 0, the bar its own emergency answers need) and its
        self-harm class reads it (above SELF_HARM_TOO): one decision for both."""
        if self.model is None or hit.intent not in CRISIS:
            return False, False
        scores = self.model.scores(text)
        return (
            hit.intent != DANGER and scores.claim(DANGER) > 0,
            hit.intent != SELF_HARM and scores.claim(SELF_HARM) > SELF_HARM_TOO,
        )

    def _topics(self, v: Verdict) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t for t in (v.intent, v.also, v.topic) if t))

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
        return self._hit(intent.id, Source.EXAMPLE, text)

    def _model(self, text: str) -> SafetyHit | None:
        """The second net: wording the rules do not know that the model reads as a crisis."""
        if self.model is None:
            return None
        found = self.model.check(text)
        if found is None:
            return None
        if (
            found.intent == HARM
            and found.margin < PROTECTED_HARM_MARGIN
            and self.triager.has_concept("protective", text)
        ):
            return None  # "how can i get a job working with kids": a close call, words of care
        return self._hit(found.intent, Source.MODEL, text, found.score)

    def _net(self, text: str) -> SafetyHit | None:
        """The last net: wording whose meaning is close to known crises (semantic_net.py).
        A refusal also needs the linear model not to read the message plainly as none:
        meaning alone put "good apps for kids that don't have chat" next to requests for
        apps to reach children. An emergency also needs the words to say it is happening now."""
        found = self.net.check(text) if self.net is not None else None
        if found is None:
            return None
        if found.intent == HARM and self.model and self.model.lean(text, HARM) < NET_HARM_LEAN:
            return None
        present = None
        if found.intent == DANGER:
            present = self.triager.concepts_in(self.triager.correct(text))
            if self.reader.urgency(present, False, True) is not Urgency.NOW:
                # Meaning alone cannot tell "is going to meet him" from "is meeting him tonight".
                return None
        return self._hit(found.intent, Source.SEMANTIC, text, found.score, present)

    def _hit(
        self,
        intent_id: str,
        source: Source,
        text: str,
        score: float = 1.0,
        concepts: frozenset[str] | None = None,
    ) -> SafetyHit:
        """A class given by a safety example or a learned net: the class's own level, raised
        to an emergency by its `emergency_patterns` as for a rule ("shes cut her arms badly",
        read as self-harm by the model)."""
        triage = self.kb.intents[intent_id].triage
        assert triage is not None
        level = triage.safety
        if level is not Safety.EMERGENCY and self.triager.emergency(intent_id, text):
            level = Safety.EMERGENCY
        return SafetyHit(intent_id, level, triage.priority, source.value, concepts, score)

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


def _rank(level: Safety) -> int:
    return (Safety.NONE, Safety.URGENT, Safety.EMERGENCY).index(level)
