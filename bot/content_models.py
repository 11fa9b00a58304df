"""What each content file may hold, as pydantic models: an intent file, the text-speak table
(content/normalise.yaml), the safety concepts and the learned check's examples.

The loader reads a file and validates it here; content_errors.py says every error as a line
naming the file and the field in plain words ("examples: needs at least 15, found 2"), all of
a file's problems at once. A field that names something in another file (a helpline, a
concept) is checked against what the loader passes as validation context; when that other
file is itself broken the context says None and the check is skipped, so one broken file
gives its own errors and not a cascade in every file that uses it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    RootModel,
    StrictInt,
    ValidationInfo,
    field_validator,
    model_validator,
)

from .content_errors import fail as _fail
from .content_errors import with_errors
from .models import AUDIENCES, FALLBACK, Intent, IntentKind, Safety, Suggestion, Triage

MIN_EXAMPLES = 15
ANSWER_ID = re.compile(r"^[a-z][a-z0-9_]*$")


def _context(info: ValidationInfo, key: str) -> Any:
    return (info.context or {}).get(key)


def _names(values: Collection[str]) -> str:
    return ", ".join(repr(v) for v in values)


# ---- field types ---------------------------------------------------------------------------


_SCALAR = (str, int, float)


def _text_lines(value: Any) -> tuple[str, ...]:
    """A YAML list of lines as stripped text, blank lines dropped (numbers read as text)."""
    if value is None:
        return ()
    if not isinstance(value, list | tuple) or not all(isinstance(v, _SCALAR) for v in value):
        raise _fail("must be a list of text lines")
    if any(isinstance(v, bool) for v in value):
        raise _fail("a line reads as true/false: put it in quotes to keep it as text")
    return tuple(s for s in (str(v).strip() for v in value) if s)


def _lower(lines: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(line.lower() for line in lines)


def _regex(value: Any) -> re.Pattern[str]:
    try:
        return re.compile(value)
    except (re.error, TypeError) as exc:
        raise _fail(f"bad regular expression {value!r}: {exc}") from exc


def _or_empty(empty: Callable[[], object]) -> BeforeValidator:
    """An empty YAML entry ("patterns:" with nothing under it) reads as an empty one."""
    return BeforeValidator(lambda value: empty() if value is None else value)


def _as_text(value: Any) -> Any:
    # A bare number in YAML ("2: to") is a word to the editor.
    return str(value) if isinstance(value, int | float) and not isinstance(value, bool) else value


def _required(value: str) -> str:
    if not value.strip():
        raise _fail("is required")
    return value


def _answer_id(value: str) -> str:
    if not ANSWER_ID.match(value):
        raise _fail("must be an answer id (a file name in content/<audience>/)")
    return value


def _known_helplines(ids: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    if not ids:
        raise _fail("needs at least one helpline id")
    known = _context(info, "helplines")
    unknown = [h for h in ids if known is not None and h not in known]
    if unknown:
        raise _fail(f"unknown helpline{'s' if len(unknown) > 1 else ''} {_names(unknown)}")
    return ids


def _known_concepts(combo: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    known = _context(info, "concepts")
    unknown = [n for n in combo if known is not None and n.lstrip("!") not in known]
    if unknown:
        raise _fail(f"unknown concept{'s' if len(unknown) > 1 else ''} {_names(unknown)}")
    return combo


def _phrase(value: str) -> str:
    # Phrases are lower-cased like the text they match; a regex is kept as written, since
    # lower-casing would turn \S, \W or \D into their opposites.
    value = value.strip()
    if not value.startswith("re:"):
        return value.lower()
    try:
        re.compile(value[3:])
    except re.error as exc:
        raise _fail(f"bad regular expression: {exc}") from exc
    return value


TextLines = Annotated[tuple[str, ...], BeforeValidator(_text_lines)]
LowerLines = Annotated[TextLines, AfterValidator(_lower)]
Regexes = Annotated[
    tuple[Annotated[re.Pattern[str], PlainValidator(_regex)], ...], BeforeValidator(_text_lines)
]
Required = Annotated[str, AfterValidator(_required)]
Stripped = Annotated[str, AfterValidator(str.strip), AfterValidator(_required)]
AnswerId = Annotated[str, AfterValidator(_answer_id)]
HelplineIds = Annotated[tuple[str, ...], _or_empty(tuple), AfterValidator(_known_helplines)]
# Every concept named must appear in a message ("!name": must not), see content/safety_concepts.
Combo = Annotated[tuple[str, ...], Field(min_length=1), AfterValidator(_known_concepts)]
Combos = Annotated[tuple[Combo, ...], _or_empty(tuple)]
Word = Annotated[str, BeforeValidator(_as_text), AfterValidator(str.lower)]
Phrase = Annotated[str, BeforeValidator(_as_text), AfterValidator(_phrase)]


class ContentModel(BaseModel):
    """A content file or a part of one: unknown fields are errors (a misspelt optional field
    would otherwise be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # What the whole file must be, said when it is not even a mapping.
    SHAPE: ClassVar[str] = "must be a mapping of fields"


# ---- intents/<id>.yaml -----------------------------------------------------------------------


class SuggestionEntry(ContentModel):
    label: Stripped
    message: Stripped


class Signposts(ContentModel):
    """Helpline ids per audience, in the order they are shown."""

    young_person: HelplineIds
    parent: HelplineIds


class TriageRules(ContentModel):
    """A safety intent's rules (see docs/CONTENT.md)."""

    safety: Literal["urgent", "emergency"] = "urgent"
    priority: StrictInt = 9
    patterns: Regexes = ()
    phrases: TextLines = ()
    unless: Regexes = ()
    emergency_patterns: Regexes = ()
    combos: Combos = ()
    addenda: Annotated[dict[str, str], _or_empty(dict)] = Field(default_factory=dict)
    topic_first: Combos = ()
    topic_lead: AnswerId | None = None  # the answer that opens a topic_first reply

    @model_validator(mode="wrap")
    @classmethod
    def _lead_goes_with_topic_first(cls, data: Any, handler: Callable[[Any], TriageRules]) -> Any:
        # A rule across two fields, reported together with any error inside them (an "after"
        # model validator would only run once every field is valid).
        unpaired = isinstance(data, dict) and (data.get("topic_lead") is not None) != bool(
            data.get("topic_first")
        )
        extra = [("topic_first", "topic_first and topic_lead go together")] if unpaired else []
        return with_errors(cls, data, handler, extra)

    def to_triage(self) -> Triage:
        return Triage(
            safety=Safety(self.safety),
            priority=self.priority,
            patterns=self.patterns,
            phrases=self.phrases,
            unless=self.unless,
            emergency_patterns=self.emergency_patterns,
            addenda=MappingProxyType(dict(self.addenda)),
            combos=self.combos,
            topic_first=self.topic_first,
            topic_lead=self.topic_lead,
        )


class IntentFile(ContentModel):
    """One intent. Context: `file_stem` (the id must match it), `helplines`, `concepts`."""

    id: str
    title: Required
    kind: IntentKind = IntentKind.TOPIC
    examples: TextLines = Field(default=(), validate_default=True)
    keywords: LowerLines = ()
    requires: LowerLines = ()  # words that define the topic (see Intent.requires)
    answer: AnswerId | None = None  # default: the intent's own id
    suggestions: Annotated[tuple[SuggestionEntry, ...], _or_empty(tuple)] = ()
    signposts: Signposts
    triage: TriageRules | None = Field(default=None, validate_default=True)

    @field_validator("id")
    @classmethod
    def _named_like_its_file(cls, value: str, info: ValidationInfo) -> str:
        stem = _context(info, "file_stem")
        if stem is not None and value != stem:
            raise _fail(f"must be {stem!r} (the file name), found {value!r}")
        return value

    @field_validator("examples")
    @classmethod
    def _enough_distinct_examples(cls, examples: tuple[str, ...], info: ValidationInfo) -> Any:
        problems = []
        if info.data.get("id") != FALLBACK and len(examples) < MIN_EXAMPLES:
            problems.append(f"needs at least {MIN_EXAMPLES}, found {len(examples)}")
        seen: set[str] = set()
        for example in examples:
            if example.lower() in seen:
                problems.append(f"duplicate example {example!r}")
            seen.add(example.lower())
        if problems:
            raise _fail("; ".join(problems))
        return examples

    @field_validator("triage")
    @classmethod
    def _only_for_safety(cls, triage: TriageRules | None, info: ValidationInfo) -> Any:
        kind = info.data.get("kind")
        if kind is IntentKind.SAFETY and triage is None:
            raise _fail("a safety intent needs its triage rules")
        if kind not in (None, IntentKind.SAFETY) and triage is not None:
            raise _fail("only intents of kind 'safety' have triage rules")
        return triage

    def to_intent(self, source: str) -> Intent:
        return Intent(
            id=self.id,
            title=self.title,
            kind=self.kind,
            examples=self.examples,
            keywords=self.keywords,
            answer=self.answer or self.id,
            suggestions=tuple(Suggestion(s.label, s.message) for s in self.suggestions),
            signposts=MappingProxyType({a: getattr(self.signposts, a) for a in AUDIENCES}),
            triage=self.triage.to_triage() if self.triage else None,
            source=source,
            requires=self.requires,
        )


# ---- content/*.yaml ------------------------------------------------------------------------


class NormaliseFile(ContentModel):
    """content/normalise.yaml: whole-word replacements, stop-words and synonym groups."""

    SHAPE: ClassVar[str] = "must be a mapping"

    replacements: Annotated[dict[Word, Word | None], _or_empty(dict)] = Field(default_factory=dict)
    stopwords: Annotated[tuple[Word, ...], _or_empty(tuple)] = ()
    # the word a group becomes -> the words that become it
    synonyms: Annotated[dict[Word, tuple[Word, ...]], _or_empty(dict)] = Field(default_factory=dict)

    @field_validator("synonyms")
    @classmethod
    def _one_group_per_word(cls, groups: dict[str, tuple[str, ...]]) -> Any:
        owner: dict[str, str] = {}
        clashes = []
        for word, variants in groups.items():
            for v in variants:
                if owner.get(v, word) != word:
                    clashes.append(f"{v!r} is in both {owner[v]!r} and {word!r}")
                owner.setdefault(v, word)
        if clashes:
            raise _fail("; ".join(clashes))
        return groups

    def replacement_map(self) -> dict[str, str]:
        return {k: v for k, v in self.replacements.items() if v is not None}

    def synonym_map(self) -> dict[str, str]:
        """Each variant -> the word of its group."""
        return {v: word for word, variants in self.synonyms.items() for v in variants}


class SharedUnless(ContentModel):
    """`unless` lines that hold for several safety classes at once."""

    classes: Annotated[tuple[str, ...], Field(min_length=1)]
    why: Required
    patterns: Annotated[Regexes, Field(min_length=1)]


class ConceptsFile(ContentModel):
    """content/safety_concepts.yaml: concept name -> the phrases that mean it, and `unless`
    lines shared by several classes."""

    concepts: dict[str, Annotated[tuple[Phrase, ...], Field(min_length=1)]]
    shared_unless: tuple[SharedUnless, ...] = ()


def _safety_label(label: str, info: ValidationInfo) -> str:
    safety = _context(info, "safety_ids")
    broken = _context(info, "broken_ids") or ()  # intent files with errors: not known yet
    if label != "none" and safety is not None and label not in safety and label not in broken:
        raise _fail(f"must be 'none' or a safety intent: {', '.join(sorted(safety))}")
    return label


class TriageExamplesFile(RootModel[dict[Annotated[str, AfterValidator(_safety_label)], TextLines]]):
    """content/triage_examples.yaml: a safety intent id (or "none") -> messages of that class,
    the learned safety check's training set. Context: `safety_ids`, `broken_ids`."""

    SHAPE: ClassVar[str] = "must map a safety intent id (or 'none') to a list of messages"
