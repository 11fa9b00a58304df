"""Immutable data the knowledge base is loaded into, and the engine's result types."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Literal

Audience = Literal["young_person", "parent"]
AUDIENCES: tuple[Audience, ...] = ("young_person", "parent")

# Ids fixed by the product contract (docs/DESIGN.md): they must exist and never be renamed.
TOPIC_IDS = (
    "what_is_a_child",
    "child_sexual_abuse",
    "child_sexual_exploitation",
    "online_csae",
    "online_grooming",
    "live_streaming_abuse",
    "coercion_and_blackmail",
    "indecent_images",
    "prohibited_images",
    "the_law",
    "make_a_report",
    "talk_to_someone",
    "remove_image",
    "staying_safe_online",
)
SAFETY_IDS = (
    "immediate_danger",
    "disclosure",
    "self_harm",
    "worried_about_own_thoughts",
    "harmful_request",
)
CONVERSATION_IDS = ("greeting", "goodbye", "about_the_bot", "privacy", "fallback")
CONTRACT_IDS = TOPIC_IDS + SAFETY_IDS + CONVERSATION_IDS
FALLBACK = "fallback"


class Safety(StrEnum):
    NONE = "none"
    URGENT = "urgent"
    EMERGENCY = "emergency"


class IntentKind(StrEnum):
    TOPIC = "topic"
    SAFETY = "safety"
    CONVERSATION = "conversation"
    OUT_OF_SCOPE = "out_of_scope"


@dataclass(frozen=True, slots=True)
class OpeningSlot:
    """Opening hours on some days, Europe/London time ("08:00" to "22:00")."""

    days: tuple[str, ...]
    opens: str
    closes: str


@dataclass(frozen=True, slots=True)
class Channel:
    kind: str  # phone | text | chat | email | web | report
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class Helpline:
    id: str
    name: str
    for_whom: str
    description: str
    phone: str | None = None
    text: str | None = None
    sms: str | None = None
    email: str | None = None
    url: str | None = None
    hours: str | None = None
    anonymous: bool = False
    contact_url: str | None = None  # the service's own contact page
    open_24h: bool = False
    opening: tuple[OpeningSlot, ...] = ()  # empty: 24 hours or not known
    channels: tuple[Channel, ...] = ()  # primary first

    def field(self, name: str) -> str | None:
        """A placeholder field for answer templates ({childline.phone})."""
        return {
            "name": self.name,
            "phone": self.phone,
            "text": self.text,
            "email": self.email,
            "url": self.url,
            "hours": self.hours,
            "description": self.description,
        }.get(name)


@dataclass(frozen=True, slots=True)
class Suggestion:
    label: str
    message: str


@dataclass(frozen=True, slots=True)
class Triage:
    """Rules that catch a safety class before topic matching (compiled at load time)."""

    safety: Safety
    priority: int
    patterns: tuple[re.Pattern[str], ...] = ()
    phrases: tuple[str, ...] = ()
    unless: tuple[re.Pattern[str], ...] = ()
    emergency_patterns: tuple[re.Pattern[str], ...] = ()
    # Any of these fires the class: every concept named must appear ("!name": must not).
    combos: tuple[tuple[str, ...], ...] = ()
    addenda: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # A question about a topic that also fires this class ("should you pay if someone is
    # blackmailing you?"): when these concepts hold and a topic matches, that topic is answered,
    # opened by `topic_lead` and kept at this class's urgency and helplines. Any combo may hold.
    topic_first: tuple[tuple[str, ...], ...] = ()
    topic_lead: str | None = None


@dataclass(frozen=True, slots=True)
class Intent:
    id: str
    title: str
    kind: IntentKind
    examples: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    suggestions: tuple[Suggestion, ...]
    signposts: MappingProxyType[str, tuple[str, ...]]
    triage: Triage | None = None
    source: str = ""
    # Words that define the topic: a message with none of them is unlikely to be about it.
    requires: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class KnowledgeBase:
    intents: MappingProxyType[str, Intent]
    # answers[answer_id][audience] -> Markdown with placeholders already filled in
    answers: MappingProxyType[str, MappingProxyType[str, str]]
    helplines: MappingProxyType[str, Helpline]
    references: MappingProxyType[str, Helpline]
    replacements: MappingProxyType[str, str]
    stopwords: frozenset[str]
    synonyms: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    # content/safety_concepts.yaml: concept name -> phrases (see that file for the syntax)
    concepts: MappingProxyType[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    # content/triage_examples.yaml: safety intent id or "none" -> messages the learned
    # safety check (triage_model.py) learns from
    triage_examples: MappingProxyType[str, tuple[str, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    root: str = ""

    def topics(self) -> list[Intent]:
        return [i for i in self.intents.values() if i.kind is IntentKind.TOPIC]

    def safety_intents(self) -> list[Intent]:
        return [i for i in self.intents.values() if i.triage is not None]


@dataclass(frozen=True, slots=True)
class Candidate:
    intent: str
    score: float  # 0..1
    evidence: float = 0.0  # IDF mass of the message's words typical of the intent


@dataclass(frozen=True, slots=True)
class Reply:
    intent: str
    confidence: float
    safety: Safety
    answer: str
    signposts: tuple[Helpline, ...]
    suggestions: tuple[Suggestion, ...]
    context: dict[str, object]
    audience: Audience
    more: str = ""  # the rest of the answer, behind "Tell me more"
    candidates: tuple[Candidate, ...] = ()
    did_you_mean: bool = False  # suggestions are the close candidates of an unclear message
    # What gave the safety answer: a rule ("pattern", "phrase", "combo"), "example",
    # "model" (the learned check), "situation" or "distress"; for metrics, never sent.
    triaged_by: str | None = None
    # What the bot understood: situation.Situation (who is speaking, how urgent, topics).
    situation: object | None = None
