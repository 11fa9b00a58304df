"""content/helplines.yaml: the ONE helpline registry, read with pydantic.

Every fact (number, address, hours, who it is for) carries the page it was checked against and
the date; opening hours are data in Europe/London time, so "open now" is computed, never
typed. Errors name the file and the field (helplines.<id>.<field>).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .models import AUDIENCES, Channel, Helpline, OpeningSlot

LONDON = ZoneInfo("Europe/London")  # the tzdata package supplies it where the OS has none
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_HHMM = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
# Fields that state a fact a person relies on: each needs an entry in `sources`.
FACT_FIELDS = ("phone", "text", "sms", "email", "url", "contact_url", "hours", "opening", "for")
Https = Annotated[str, Field(pattern=r"^https://\S+$")]


class Source(BaseModel):
    """Where a fact was checked. `unverifiable` facts need a note saying what to check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: Annotated[str, Field(pattern=r"^https?://\S+$")]
    checked: dt.date
    status: Literal["confirmed", "unverifiable"] = "confirmed"
    note: str = ""

    @model_validator(mode="after")
    def _note_when_unverifiable(self) -> Source:
        if self.status == "unverifiable" and not self.note.strip():
            raise ValueError("an unverifiable fact needs a note saying what to check")
        return self


class Opening(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    days: list[Day] = Field(min_length=1)
    opens: str
    closes: str

    @field_validator("opens", "closes")
    @classmethod
    def _time(cls, v: str) -> str:
        if not _HHMM.match(str(v)):
            raise ValueError("must be a time like 08:00 (24-hour clock, in quotes)")
        return str(v)

    @model_validator(mode="after")
    def _order(self) -> Opening:
        if self.closes <= self.opens:
            raise ValueError("closes must be later than opens on the same day")
        return self


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["phone", "text", "chat", "email", "web", "report"]
    value: str = Field(min_length=1)
    label: str = Field(min_length=1)

    @model_validator(mode="after")
    def _link(self) -> ChannelIn:
        if self.kind in ("chat", "web", "report") and not self.value.startswith("https://"):
            raise ValueError(f"a {self.kind} channel's value must start with https://")
        return self


class HelplineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str
    name: str = Field(min_length=1)
    for_whom: str = Field(alias="for", min_length=1)
    description: str = Field(min_length=1)
    phone: str | None = None
    text: str | None = None
    sms: str | None = None
    email: str | None = None
    url: Https | None = None
    contact_url: Https | None = None
    hours: str | None = None
    open_24h: bool = False
    opening: list[Opening] = Field(default_factory=list)
    channels: list[ChannelIn] = Field(default_factory=list)
    anonymous: bool = False
    sources: dict[str, Source] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError("must be a lower_case id")
        return v

    @field_validator("phone", "text", "sms", mode="before")
    @classmethod
    def _as_text(cls, v: Any) -> Any:
        return None if v is None else str(v)

    @model_validator(mode="after")
    def _consistent(self) -> HelplineIn:
        if not any((self.phone, self.text, self.url, self.email)):
            raise ValueError("needs at least one of phone, text, url, email")
        if self.open_24h and self.opening:
            raise ValueError("open_24h and opening hours: give one or the other")
        if (self.opening or self.open_24h) and not self.hours:
            raise ValueError("hours: give the one-line hours people read as well")
        return self

    def facts(self) -> list[str]:
        """The fact fields this entry states (each needs a source)."""
        stated = {f: getattr(self, "for_whom" if f == "for" else f) for f in FACT_FIELDS}
        return [f for f, v in stated.items() if v]

    def unsourced(self) -> list[str]:
        have = set(self.sources)
        if have & {"opening", "hours"}:  # the one-line hours and the data state one fact
            have |= {"opening", "hours"}
        return [f for f in self.facts() if f not in have]


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str = Field(min_length=1)
    url: Https
    sources: dict[str, Source] = Field(default_factory=dict)


class Registry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    helplines: list[HelplineIn] = Field(min_length=1)
    talk_to_someone: dict[Literal["young_person", "parent"], list[str]] = Field(
        default_factory=dict
    )
    references: list[Reference] = Field(default_factory=list)

    @model_validator(mode="after")
    def _links(self) -> Registry:
        ids = [h.id for h in self.helplines]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate helpline id {sorted(dup)[0]!r}")
        for aud in AUDIENCES:
            for hid in self.talk_to_someone.get(aud, []):  # type: ignore[call-overload]
                if hid not in ids:
                    raise ValueError(f"talk_to_someone.{aud}: unknown helpline {hid!r}")
        return self


def problems(data: Any) -> tuple[Registry | None, list[tuple[str, str]]]:
    """The registry and every problem as (field, message); facts without a source included."""
    try:
        reg = Registry.model_validate(data)
    except ValidationError as exc:
        return None, [
            (_where(data, e["loc"]), e["msg"].removeprefix("Value error, ")) for e in exc.errors()
        ]
    out: list[tuple[str, str]] = []
    for h in reg.helplines:
        for f in h.unsourced():
            out.append((f"{h.id}.{f}", "has no source: add it under sources with a checked date"))
    for r in reg.references:
        if "url" not in r.sources:
            out.append((f"references.{r.id}.url", "has no source"))
    return reg, out


def _where(data: Any, loc: tuple[int | str, ...]) -> str:
    """helplines.3.phone -> nspcc_helpline.phone: editors know ids, not list positions."""
    parts = [str(p) for p in loc]
    if len(loc) >= 2 and loc[0] == "helplines" and isinstance(loc[1], int):
        try:
            parts[1] = str(data["helplines"][loc[1]]["id"])
            parts = parts[1:]
        except (KeyError, IndexError, TypeError):
            pass
    return ".".join(parts) or "file"


def load_helplines(c: Any, path: Path) -> dict[str, Helpline]:
    """For the loader: the registry's helplines; every problem added to `c` by field."""
    data = c.read_yaml(path)
    if data is None:
        if not c.problems:
            c.add(path, "file", "missing or empty")
        return {}
    reg, found = problems(data)
    for where, message in found:
        c.add(path, where, message)
    return {h.id: to_helpline(h) for h in reg.helplines} if reg else {}


def load_references(c: Any, path: Path) -> dict[str, Helpline]:
    """Pages answers may link to (the law); placeholders only, never signposts. Problems are
    reported once, by load_helplines."""
    reg, _ = problems(c.read_yaml(path))
    return {r.id: to_reference(r) for r in reg.references} if reg else {}


def read(path: Path) -> Registry:
    """The registry alone (for docs/SOURCES.md and the API)."""
    reg, found = problems(yaml.safe_load(path.read_text(encoding="utf-8")))
    if reg is None or found:
        raise ValueError("; ".join(f"{path.name}: {w}: {m}" for w, m in found))
    return reg


def talk_to_someone(reg: Registry, audience: str) -> list[str]:
    """Who an audience can talk to, in registry order."""
    wanted = set(reg.talk_to_someone.get(audience, []))  # type: ignore[call-overload]
    return [h.id for h in reg.helplines if h.id in wanted]


def to_helpline(h: HelplineIn) -> Helpline:
    return Helpline(
        id=h.id,
        name=h.name,
        for_whom=h.for_whom,
        description=h.description,
        phone=h.phone,
        text=h.text,
        sms=h.sms,
        email=h.email,
        url=h.url,
        hours=h.hours,
        anonymous=h.anonymous,
        contact_url=h.contact_url,
        open_24h=h.open_24h,
        opening=tuple(OpeningSlot(tuple(o.days), o.opens, o.closes) for o in h.opening),
        channels=tuple(Channel(c.kind, c.value, c.label) for c in h.channels),
    )


def to_reference(r: Reference) -> Helpline:
    return Helpline(id=r.id, name=r.name, for_whom="", description="", url=r.url)


def open_now(h: Helpline, when: dt.datetime | None = None) -> bool | None:
    """Open at `when` (default: now) in London? None when the hours are not known."""
    if h.open_24h:
        return True
    if not h.opening:
        return None
    local = (when or dt.datetime.now(dt.UTC)).astimezone(LONDON)
    day, hhmm = DAYS[local.weekday()], local.strftime("%H:%M")
    return any(day in o.days and o.opens <= hhmm < o.closes for o in h.opening)


def sources_markdown(reg: Registry) -> str:
    """docs/SOURCES.md: every fact, its page and the date it was checked."""
    lines = [
        "# Sources of the helpline facts",
        "",
        "Made from `content/helplines.yaml` by `python3 -m bot sources`; do not edit by hand",
        "(a test fails when this file and the registry differ). Facts marked *unverifiable*",
        "are kept out of answers until someone checks them on the live page.",
        "",
    ]
    for h in reg.helplines:
        lines += [f"## {h.name} (`{h.id}`)", "", "| fact | value | source | checked | status |"]
        lines.append("|---|---|---|---|---|")
        for f, s in sorted(h.sources.items()):
            value = _value(h, f)
            status = s.status + (f": {s.note}" if s.note else "")
            row = [f, _cell(value), f"<{s.source}>", s.checked.isoformat(), _cell(status)]
            lines.append("| " + " | ".join(row) + " |")
        lines.append("")
    if reg.references:
        lines += [
            "## Reference pages",
            "",
            "| id | address | source | checked |",
            "|---|---|---|---|",
        ]
        for r in reg.references:
            for s in r.sources.values():
                lines.append(f"| {r.id} | <{r.url}> | <{s.source}> | {s.checked.isoformat()} |")
        lines.append("")
    return "\n".join(lines)


def _value(h: HelplineIn, f: str) -> str:
    if f == "opening":
        return "; ".join(f"{'/'.join(o.days)} {o.opens}-{o.closes}" for o in h.opening) or "-"
    if f == "channels":
        return "; ".join(c.label for c in h.channels)
    v = getattr(h, "for_whom" if f == "for" else f, None)
    return str(v) if v else "-"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
