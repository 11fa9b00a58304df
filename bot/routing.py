"""content/routing.yaml: how a few conversational moves are answered, as data.

Follow-ups ("how do I report it?" after a topic), what an intent stands for when there is no
topic yet, and the wording that tells a parent from a young person. Loaded and checked once;
an error names the file and the field.
"""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path
from typing import Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from .models import Audience, KnowledgeBase

FILE = "content/routing.yaml"


class FollowUpAnswer(StrEnum):
    ITSELF = "itself"  # the follow-up intent's own answer, headed by the topic's title
    TOPIC = "topic"  # the topic's own answer again


class FollowUps(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_words: int = Field(default=6, ge=1, le=30)
    answer_with: dict[str, FollowUpAnswer] = Field(default_factory=dict)


class Routing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    follow_ups: FollowUps = FollowUps()
    without_topic: dict[str, str] = Field(default_factory=dict)
    audience_cues: dict[Literal["parent", "young_person"], list[str]] = Field(default_factory=dict)
    _cues: list[tuple[Audience, re.Pattern[str]]] = PrivateAttr(default_factory=list)

    @field_validator("audience_cues")
    @classmethod
    def _regexes(cls, cues: dict[str, list[str]]) -> dict[str, list[str]]:
        for audience, patterns in cues.items():
            for i, pattern in enumerate(patterns):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    raise ValueError(f"{audience}[{i}]: bad regular expression: {exc}") from exc
        return cues

    def unknown_ids(self, known: frozenset[str]) -> list[tuple[str, str]]:
        """Fields that name an intent the knowledge base does not have."""
        named = [
            *(("follow_ups.answer_with", i) for i in self.follow_ups.answer_with),
            *(("without_topic", i) for i in self.without_topic),
            *(("without_topic", i) for i in self.without_topic.values()),
        ]
        return [(where, f"no intent {i!r}") for where, i in named if i not in known]

    def model_post_init(self, _context: object) -> None:
        # One regex per audience, parent cues first: compiled once, here.
        self._cues = [
            (audience, re.compile("|".join(self.audience_cues[audience])))
            for audience in ("parent", "young_person")
            if self.audience_cues.get(audience)
        ]

    def audience_of(self, text: str) -> Audience | None:
        """Who is typing, if their words say so (parent cues first)."""
        for audience, cue in self._cues:
            if cue.search(text):
                return audience
        return None


def load_routing(kb: KnowledgeBase) -> Routing:
    """The knowledge base's routing (the built-in one if its folder has none), checked
    against its intents."""
    from .loader import KnowledgeBaseError, Problem

    routing = read_content_model(kb, FILE, Routing)
    unknown = routing.unknown_ids(frozenset(kb.intents))
    if unknown:
        raise KnowledgeBaseError(Problem(FILE, where, what) for where, what in unknown)
    return routing


M = TypeVar("M", bound=BaseModel)


def read_content_model(kb: KnowledgeBase, file: str, model: type[M]) -> M:
    """A content file (the built-in one if the knowledge base has none) read into `model`;
    every problem named by file and field."""
    from .content_errors import plain_errors
    from .loader import KnowledgeBaseError, Problem, default_root

    path = Path(kb.root or ".") / file
    if not path.is_file():
        path = default_root() / file
    try:
        return model.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    except yaml.YAMLError as exc:
        raise KnowledgeBaseError([Problem(file, "file", f"not valid YAML: {exc}")]) from exc
    except ValidationError as exc:  # said as the loader says it (content_errors.py)
        errors = plain_errors(exc, "must be a mapping")
        raise KnowledgeBaseError(Problem(file, field, what) for field, what in errors) from exc
