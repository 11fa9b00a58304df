"""Build the reply: the answer for the audience, helplines from the registry, follow-ups."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .models import (
    Audience,
    Helpline,
    Intent,
    KnowledgeBase,
    Safety,
    Suggestion,
)

DID_YOU_MEAN = "did_you_mean"
MAX_SUGGESTIONS = 4
# Who comes first for each audience when the intent names both (DESIGN.md).
_FIRST = {"young_person": "childline", "parent": "nspcc_helpline"}
_OTHER = {"young_person": "nspcc_helpline", "parent": "childline"}


def answer_text(kb: KnowledgeBase, answer_id: str, audience: Audience) -> str:
    return kb.answers[answer_id][audience]


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
