"""The HTTP contract (docs/DESIGN.md "HTTP API"), as pydantic models for validation and OpenAPI."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .models import Helpline, Reply
from .registry import open_now
from .situation import Situation

MAX_MESSAGE = 1000


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    message: str = Field(description="What the person typed: 1 to 1000 characters after trimming.")
    audience: Literal["young_person", "parent"] | None = Field(
        default=None, description="Who is asking, if known."
    )
    context: dict[str, Any] | None = Field(
        default=None, description="Opaque: send back the context of the previous reply."
    )

    @field_validator("message")
    @classmethod
    def _length(cls, v: str) -> str:
        v = v.strip()
        if not v:
            raise ValueError("message must not be empty")
        if len(v) > MAX_MESSAGE:
            raise ValueError(f"message must be at most {MAX_MESSAGE} characters")
        return v


class OpeningOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    opens: str = Field(description="HH:MM, Europe/London")
    closes: str = Field(description="HH:MM, Europe/London")


class ChannelOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: Literal["phone", "text", "chat", "email", "web", "report"]
    value: str
    label: str


class Signpost(BaseModel):
    model_config = ConfigDict(from_attributes=True)  # read straight from a models.Helpline

    id: str
    name: str
    description: str
    for_whom: str = Field(serialization_alias="for")
    phone: str | None = None
    text: str | None = None
    sms: str | None = None
    email: str | None = None
    url: str | None = None
    hours: str | None = Field(default=None, description="One line for people to read.")
    open_now: bool | None = Field(
        default=None,
        description="Open at reply time (Europe/London); true for 24-hour services; "
        "null when the hours are not known.",
    )
    opening: list[OpeningOut] = Field(
        default_factory=list,
        description="Opening hours in Europe/London; empty for 24-hour services or unknown.",
    )
    channels: list[ChannelOut] = Field(
        default_factory=list, description="Ways to get in touch, the one to offer first at the top."
    )
    contact_url: str | None = Field(default=None, description="The service's own contact page.")

    @classmethod
    def of(cls, h: Helpline, when: datetime | None = None) -> Signpost:
        """The registry's helpline as the API shows it, with `open_now` as of `when`."""
        out = cls.model_validate(h)
        out.open_now = open_now(h, when)
        return out


class SuggestionOut(BaseModel):
    label: str
    message: str


class SituationOut(BaseModel):
    speaker: Literal[
        "self",
        "friend",
        "parent_or_carer",
        "worried_about_adult",
        "finder",
        "own_thoughts",
        "seeking_to_harm",
        "unknown",
    ] = Field(description="Who the bot understood is speaking.")
    urgency: Literal["now", "ongoing", "past", "general"] = Field(
        description="Whether it is happening now, keeps happening, happened before, or a question."
    )
    topics: list[str] = Field(description="Intent ids the message is about, main first.")

    @classmethod
    def of(cls, s: Situation | None) -> SituationOut:
        if s is None:
            return cls(speaker="unknown", urgency="general", topics=[])
        return cls(speaker=s.speaker.value, urgency=s.urgency.value, topics=list(s.topics))


class ChatResponse(BaseModel):
    intent: str
    confidence: float = Field(ge=0, le=1)
    safety: Literal["none", "urgent", "emergency"]
    answer: str = Field(description="The short, action-first lead (Markdown).")
    more: str = Field(
        default="",
        description='The rest of the answer, behind "Tell me more" (Markdown; may be empty).',
    )
    signposts: list[Signpost] = Field(min_length=1)
    suggestions: list[SuggestionOut]
    context: dict[str, Any]
    audience: Literal["young_person", "parent"]
    did_you_mean: bool = Field(
        default=False, description="True when `suggestions` are guesses at what was meant."
    )
    situation: SituationOut = Field(description="What the bot understood of the situation.")

    @classmethod
    def of(cls, r: Reply) -> ChatResponse:
        now = datetime.now(UTC)
        return cls(
            intent=r.intent,
            confidence=min(1.0, max(0.0, r.confidence)),
            safety=r.safety.value,
            answer=r.answer,
            more=r.more,
            signposts=[Signpost.of(h, now) for h in r.signposts],
            suggestions=[SuggestionOut(label=s.label, message=s.message) for s in r.suggestions],
            context=r.context,
            audience=r.audience,
            did_you_mean=r.did_you_mean,
            situation=SituationOut.of(r.situation),  # type: ignore[arg-type]
        )


class Topic(BaseModel):
    id: str
    title: str
    message: str


class TopicsResponse(BaseModel):
    topics: list[Topic]


class HelplinesResponse(BaseModel):
    audience: Literal["young_person", "parent"]
    helplines: list[Signpost]


class Status(BaseModel):
    status: str


class ErrorResponse(BaseModel):
    detail: str


# What a POST under /api/ may answer besides 2xx (OpenAPI `responses`).
API_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Request body too large."},
    415: {"model": ErrorResponse, "description": "Body must be application/json."},
    422: {"model": ErrorResponse, "description": "Invalid input."},
    429: {"model": ErrorResponse, "description": "Too many requests; see Retry-After."},
}
