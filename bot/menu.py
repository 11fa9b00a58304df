"""content/menu.yaml: the topic buttons each audience is offered first, in its own words."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .models import KnowledgeBase

FILE = "content/menu.yaml"


class MenuItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1, max_length=60)
    message: str = Field(min_length=1, max_length=200)
    intent: str = Field(min_length=1)


class Menu(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    young_person: list[MenuItem] = Field(min_length=4, max_length=8)
    parent: list[MenuItem] = Field(min_length=4, max_length=8)


def load_menu(kb: KnowledgeBase) -> Menu:
    """The menu (the built-in one if the knowledge base has none); every intent it names
    must exist, or start-up stops naming the file and field."""
    from .loader import KnowledgeBaseError, Problem
    from .routing import read_content_model

    menu = read_content_model(kb, FILE, Menu)
    unknown = [
        Problem(FILE, f"{aud}[{i}].intent", f"no intent {item.intent!r}")
        for aud in ("young_person", "parent")
        for i, item in enumerate(getattr(menu, aud))
        if item.intent not in kb.intents
    ]
    if unknown:
        raise KnowledgeBaseError(unknown)
    return menu
