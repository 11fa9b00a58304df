"""Who is speaking and how urgent it is (content/situation.yaml), read from a message's
concepts in the safety stage (assess.py), and what the bot then does with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from .models import KnowledgeBase

FILE = "content/situation.yaml"

Combos = list[list[str]]


class Speaker(StrEnum):
    SELF = "self"
    FRIEND = "friend"
    PARENT_OR_CARER = "parent_or_carer"
    WORRIED_ABOUT_ADULT = "worried_about_adult"
    FINDER = "finder"
    OWN_THOUGHTS = "own_thoughts"
    SEEKING_TO_HARM = "seeking_to_harm"
    UNKNOWN = "unknown"


class Urgency(StrEnum):
    NOW = "now"
    ONGOING = "ongoing"
    PAST = "past"
    GENERAL = "general"


# The safety classes that say who is speaking on their own.
CLASS_SPEAKER = {
    "harmful_request": Speaker.SEEKING_TO_HARM,
    "worried_about_own_thoughts": Speaker.OWN_THOUGHTS,
}


@dataclass(frozen=True, slots=True)
class Situation:
    speaker: Speaker = Speaker.UNKNOWN
    urgency: Urgency = Urgency.GENERAL
    topics: tuple[str, ...] = ()  # intent ids: safety classes and topics, main first


class SituationRules(BaseModel):
    """content/situation.yaml, as written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    speakers: dict[Speaker, Combos] = Field(default_factory=dict)
    urgency: dict[Urgency, Combos] = Field(default_factory=dict)
    answer_speaker: dict[Speaker, str] = Field(default_factory=dict)
    friend_help: str | None = None
    emergency_lead: str | None = None
    self_harm_also: str | None = None
    distress: str | None = None
    distress_when: Combos = Field(default_factory=list)
    self_harm_when: Combos = Field(default_factory=list)

    def concepts(self) -> set[str]:
        groups: Iterable[Combos] = [
            *self.speakers.values(),
            *self.urgency.values(),
            self.distress_when,
            self.self_harm_when,
        ]
        return {name.lstrip("!") for combos in groups for combo in combos for name in combo}

    def intents(self) -> dict[str, str]:
        named = {f"answer_speaker.{k.value}": v for k, v in self.answer_speaker.items()}
        if self.friend_help:
            named["friend_help"] = self.friend_help
        return named

    def answers(self) -> dict[str, str]:
        fields = ("emergency_lead", "self_harm_also", "distress")
        return {f: getattr(self, f) for f in fields if getattr(self, f)}


def holds(combos: Combos, present: frozenset[str]) -> bool:
    for combo in combos:
        need = {n for n in combo if not n.startswith("!")}
        avoid = {n[1:] for n in combo if n.startswith("!")}
        if need <= present and not avoid & present:
            return True
    return False


class SituationReader:
    def __init__(self, rules: SituationRules) -> None:
        self.rules = rules

    def speaker(self, present: frozenset[str], safety_class: str | None) -> Speaker:
        for speaker, combos in self.rules.speakers.items():
            first = speaker in (Speaker.OWN_THOUGHTS, Speaker.FINDER, Speaker.WORRIED_ABOUT_ADULT)
            if first and holds(combos, present):
                return speaker
        if safety_class in CLASS_SPEAKER:
            return CLASS_SPEAKER[safety_class]
        for speaker, combos in self.rules.speakers.items():
            if holds(combos, present):
                return speaker
        return Speaker.UNKNOWN

    def urgency(self, present: frozenset[str], emergency: bool, crisis: bool) -> Urgency:
        if emergency:
            return Urgency.NOW
        for urgency, combos in self.rules.urgency.items():
            if holds(combos, present):
                return urgency
        return Urgency.ONGOING if crisis else Urgency.GENERAL

    def distressed(self, present: frozenset[str]) -> bool:
        return holds(self.rules.distress_when, present)

    def self_harm(self, present: frozenset[str]) -> bool:
        return holds(self.rules.self_harm_when, present)


def load_situation(kb: KnowledgeBase) -> SituationRules:
    """The knowledge base's situation rules (the built-in ones if its folder has none),
    checked against its concepts, intents and answers."""
    from .loader import KnowledgeBaseError, Problem
    from .routing import read_content_model

    rules = read_content_model(kb, FILE, SituationRules)
    problems = [
        Problem(FILE, "concepts", f"unknown concept {c!r}")
        for c in sorted(rules.concepts() - set(kb.concepts))
    ]
    problems += [
        Problem(FILE, where, f"no intent {iid!r}")
        for where, iid in rules.intents().items()
        if iid not in kb.intents
    ]
    problems += _missing_answers(rules.answers(), kb.answers)
    if problems:
        raise KnowledgeBaseError(problems)
    return rules


def _missing_answers(named: Mapping[str, str], answers: Mapping[str, object]) -> list:
    from .loader import Problem

    return [
        Problem(FILE, where, f"no answer {aid!r} in content/<audience>/")
        for where, aid in named.items()
        if aid not in answers
    ]
