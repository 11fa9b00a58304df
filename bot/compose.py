"""Build the reply: the answer for the audience, helplines from the registry, follow-ups.

Every reply is built here, from the safety verdict (assess.py), the matcher's ranking and
the data in content/ (answers, helplines, routing.yaml); no intent id is named in code
except the contract's fallback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from .assess import Verdict
from .matcher import Match
from .models import (
    AUDIENCES,
    FALLBACK,
    Audience,
    Helpline,
    Intent,
    IntentKind,
    KnowledgeBase,
    Reply,
    Safety,
    Suggestion,
)
from .readability import word_count
from .routing import FollowUpAnswer, Routing
from .situation import Situation

CONTEXT_VERSION = 1
DID_YOU_MEAN = "did_you_mean"
MAX_SUGGESTIONS = 4
MORE = "<!--more-->"  # in an answer file: the lead above, "Tell me more" below
# Words a reply's lead may have (docs/CONTENT.md): about one phone screen.
LEAD_WORDS = {"young_person": 60, "parent": 90}
# Who comes first for each audience when the intent names both (docs/DESIGN.md).
_FIRST = {"young_person": "childline", "parent": "nspcc_helpline"}
_OTHER = {"young_person": "nspcc_helpline", "parent": "childline"}


@dataclass(frozen=True, slots=True)
class Who:
    audience: Audience
    known: bool  # False: a guess (young-person wording, both helplines)


@dataclass(frozen=True, slots=True)
class Turn:
    """What a reply is built from: one message, understood."""

    text: str  # normalised
    who: Who
    context: Mapping[str, Any]  # cleaned (see clean_context)
    match: Match
    verdict: Verdict | None = None
    situation: Situation | None = None


def audience(routing: Routing, given: str | None, text: str, ctx: Mapping[str, Any]) -> Who:
    if given in AUDIENCES:
        return Who(given, True)  # type: ignore[arg-type]
    inferred = routing.audience_of(text)
    if inferred:
        return Who(inferred, True)
    remembered = ctx.get("audience")
    if remembered in AUDIENCES:
        return Who(remembered, True)
    # Unknown: plain young-person wording, and both helplines (see signposts).
    return Who("young_person", False)


def reply(kb: KnowledgeBase, routing: Routing, turn: Turn) -> Reply:
    out = _reply(kb, routing, turn)
    return replace(out, situation=turn.situation)


def _reply(kb: KnowledgeBase, routing: Routing, turn: Turn) -> Reply:
    v = turn.verdict
    if v is not None and not v.topic_first:
        return safety_reply(kb, turn, v)
    if v is None:
        previous = turn.context.get("topic")
        how = routing.follow_ups.answer_with.get(turn.match.intent)
        short = len(turn.text.split()) <= routing.follow_ups.max_words
        if previous and how is not None and short:
            return followup_reply(kb, turn, previous, how)
        if turn.match.intent == FALLBACK:
            return fallback_reply(kb, turn)
    return topic_reply(kb, routing, turn)


def safety_reply(kb: KnowledgeBase, turn: Turn, v: Verdict) -> Reply:
    aud, known = turn.who.audience, turn.who.known
    intent = kb.intents[v.intent]
    text, more = joined(kb, [v.lead, v.answer or intent.answer, v.addendum], aud)
    extra = [topic_suggestion(kb.intents[v.topic])] if v.topic and v.topic != intent.id else []
    also = kb.intents[v.also].signposts[aud] if v.also else ()
    ids = [*v.first, *intent.signposts[aud], *also]
    return Reply(
        intent=intent.id,
        confidence=round(v.score, 3),
        safety=v.level,
        answer=text,
        more=more,
        signposts=signposts(kb, ids, aud, v.level, known),
        suggestions=merge_suggestions(extra, intent.suggestions),
        context=context(kb, turn.who, v.topic or turn.context.get("topic")),
        audience=aud,
        candidates=turn.match.candidates[:5],
        triaged_by=v.source.value,
    )


def topic_reply(kb: KnowledgeBase, routing: Routing, turn: Turn) -> Reply:
    """A topic's answer; opened by the safety class's lead when the verdict says topic first."""
    aud, known, v = turn.who.audience, turn.who.known, turn.verdict
    intent = kb.intents[routing.without_topic.get(turn.match.intent, turn.match.intent)]
    topic = intent.id if intent.kind is IntentKind.TOPIC else turn.context.get("topic")
    parts = [intent.answer]
    helplines = list(intent.signposts[aud])
    suggestions: list[Suggestion] = []
    safety = Safety.NONE
    urgent = kb.intents[v.intent] if v is not None else None
    if v is not None and urgent and urgent.triage and urgent.triage.topic_lead:
        # Topic-first safety answer: the urgent lead, the class's helplines and its
        # follow-ups ("Who can I talk to?") come first.
        parts.insert(0, urgent.triage.topic_lead)
        helplines = [*urgent.signposts[aud], *helplines]
        suggestions = list(urgent.suggestions[:2])
        safety = v.level
    answer, more = joined(kb, parts, aud)
    return Reply(
        intent=intent.id,
        confidence=round(turn.match.confidence, 3),
        safety=safety,
        answer=answer,
        more=more,
        signposts=signposts(kb, helplines, aud, safety, known),
        suggestions=merge_suggestions(suggestions, intent.suggestions),
        context=context(kb, turn.who, topic),
        audience=aud,
        candidates=turn.match.candidates[:5],
        triaged_by=v.source.value if v is not None else None,
    )


def followup_reply(kb: KnowledgeBase, turn: Turn, previous: str, how: FollowUpAnswer) -> Reply:
    """A short follow-up is answered for the topic the person was reading about."""
    aud, known = turn.who.audience, turn.who.known
    topic = kb.intents[previous]
    answer_intent = topic if how is FollowUpAnswer.TOPIC else kb.intents[turn.match.intent]
    heading = f"**{topic.title}**\n\n" if answer_intent is not topic else ""
    answer, more = joined(kb, [answer_intent.answer], aud)
    ids = [*answer_intent.signposts[aud], *topic.signposts[aud]]
    return Reply(
        intent=answer_intent.id,
        confidence=round(max(turn.match.confidence, 0.0), 3),
        safety=Safety.NONE,
        answer=heading + answer,
        more=more,
        signposts=signposts(kb, ids, aud, Safety.NONE, known),
        suggestions=merge_suggestions(answer_intent.suggestions, topic.suggestions),
        context=context(kb, turn.who, topic.id),
        audience=aud,
        candidates=turn.match.candidates[:5],
    )


def fallback_reply(kb: KnowledgeBase, turn: Turn) -> Reply:
    """Nothing matched well enough: the close candidates as "did you mean", or the menu."""
    aud, known, match = turn.who.audience, turn.who.known, turn.match
    fb = kb.intents[FALLBACK]
    options = [kb.intents[i] for i in match.did_you_mean if i in kb.intents]
    if options:
        answer, more = joined(kb, [DID_YOU_MEAN], aud)
        suggestions = merge_suggestions([topic_suggestion(i) for i in options])
    else:
        answer, more = joined(kb, [fb.answer], aud)
        suggestions = merge_suggestions(fb.suggestions)
    return Reply(
        intent=FALLBACK,
        confidence=round(match.confidence, 3),
        safety=Safety.NONE,
        answer=answer,
        more=more,
        signposts=signposts(kb, fb.signposts[aud], aud, Safety.NONE, known),
        suggestions=suggestions,
        context=context(kb, turn.who, turn.context.get("topic")),
        audience=aud,
        candidates=match.candidates[:5],
        did_you_mean=bool(options),
    )


def context(kb: KnowledgeBase, who: Who, topic: object) -> dict[str, object]:
    """What the widget sends back with the next message: the audience (when known) and the
    topic being read about, nothing else."""
    ctx: dict[str, object] = {"v": CONTEXT_VERSION}
    if who.known:
        ctx["audience"] = who.audience
    if isinstance(topic, str) and topic in kb.intents:
        ctx["topic"] = topic
    return ctx


def clean_context(context: Mapping[str, Any] | None, kb: KnowledgeBase) -> dict[str, Any]:
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


def answer_text(kb: KnowledgeBase, answer_id: str, audience: Audience) -> str:
    return kb.answers[answer_id][audience]


def split_more(text: str) -> tuple[str, str]:
    """An answer file's lead and the rest behind "Tell me more" (split at MORE)."""
    lead, _, more = text.partition(MORE)
    return lead.strip(), more.strip()


def joined(
    kb: KnowledgeBase, answer_ids: Sequence[str | None], audience: Audience
) -> tuple[str, str]:
    """Several answers in one reply (an urgent lead, the answer, an addendum): their leads
    first, most urgent first. The first two always show (999, then the class's own help);
    a later one only while all fit one screen (LEAD_WORDS), else it opens "Tell me more",
    then the rest of each."""
    parts = [split_more(answer_text(kb, a, audience)) for a in answer_ids if a]
    shown: list[str] = []
    held: list[str] = []
    words = 0
    for lead, _ in parts:
        if not lead:
            continue
        n = word_count(lead)
        if len(shown) >= 2 and (held or words + n > LEAD_WORDS[audience]):
            held.append(lead)
        else:
            shown.append(lead)
            words += n
    more = [*held, *(rest for _, rest in parts if rest)]
    return "\n\n".join(shown), "\n\n".join(more)


def signposts(
    kb: KnowledgeBase,
    ids: Iterable[str],
    audience: Audience,
    safety: Safety,
    audience_known: bool = True,
) -> tuple[Helpline, ...]:
    """Registry entries in order: danger gets 999 first; never an empty list."""
    order = list(dict.fromkeys(ids))
    if safety is Safety.EMERGENCY:
        order = ["emergency", *(i for i in order if i != "emergency")]
    if not audience_known and _OTHER[audience] not in order:
        # We don't know who is typing: make sure an adult also sees the adult helpline.
        order.append(_OTHER[audience])
    if not order:
        order = [_FIRST[audience]]
    return tuple(kb.helplines[i] for i in order if i in kb.helplines)


def topic_suggestion(intent: Intent) -> Suggestion:
    return Suggestion(
        label=intent.title, message=intent.examples[0] if intent.examples else intent.title
    )


def merge_suggestions(*groups: Sequence[Suggestion], exclude: str = "") -> tuple[Suggestion, ...]:
    seen: set[str] = set()
    out: list[Suggestion] = []
    for group in groups:
        for s in group:
            key = s.message.lower()
            if key in seen or key == exclude.lower():
                continue
            seen.add(key)
            out.append(s)
    return tuple(out[:MAX_SUGGESTIONS])
