"""Load and validate the knowledge base (intents, answers, helplines) once, at start-up.

Every problem is reported with the file and the field it is in, and all problems are
collected before failing, so a content editor can fix a whole batch in one go. What each file
may hold is in content_models.py (pydantic models); here: reading the files, and the checks
across files (every contract intent present, every answer an intent names written).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from . import registry
from .content_errors import validate_file
from .content_models import (
    ConceptsFile,
    IntentFile,
    NormaliseFile,
    SharedUnless,
    TriageExamplesFile,
)
from .models import (
    AUDIENCES,
    CONTRACT_IDS,
    Helpline,
    Intent,
    IntentKind,
    KnowledgeBase,
)

# Answers the engine uses that belong to no single intent.
EXTRA_ANSWERS = ("did_you_mean", "emergency_lead", "self_harm_also", "something_wrong")
PLACEHOLDER = re.compile(r"\{([a-z0-9_]+)\.([a-z]+)\}")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.field}: {self.message}"


class KnowledgeBaseError(Exception):
    """The knowledge base has errors; `problems` names each file and field."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the knowledge base has {len(self.problems)} error(s):\n{lines}")


def default_root() -> Path:
    """The built-in knowledge base: inside the wheel, or the source checkout."""
    packaged = Path(__file__).parent / "_kb"
    if (packaged / "intents").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


class _ContentLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml when present
    """YAML as editors mean it: only true/false are booleans (a line "no" or "yes" under a
    list of messages stays text), and a key given twice is an error, not a silent overwrite
    of everything under the first one."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[object] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_ContentLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_ContentLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Collector:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[Problem] = []

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)

    def add(self, path: Path, field: str, message: str) -> None:
        self.problems.append(Problem(self.rel(path), field, message))

    def has_problems(self, path: Path) -> bool:
        """Whether a problem was already reported in this file."""
        rel = self.rel(path)
        return any(p.file == rel for p in self.problems)

    def read_model(self, path: Path, model: type[Any], empty: Any = None, **context: Any) -> Any:
        """The file read into `model`, or None (every problem reported). `empty`: what an
        empty file stands for (None: an empty file is an error)."""
        before = len(self.problems)
        data = self.read_yaml(path)
        if len(self.problems) > before:
            return None
        value, errors = validate_file(model, empty if data is None else data, context)
        for field, message in errors:
            self.add(path, field, message)
        return value

    def read_yaml(self, path: Path) -> Any:
        try:
            return yaml.load(path.read_text(encoding="utf-8"), Loader=_ContentLoader)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f"line {mark.line + 1}" if mark else "yaml"
            self.add(path, where, f"not valid YAML: {getattr(exc, 'problem', exc)}")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(path, "file", f"cannot read: {exc}")
        return None


def load_helplines(c: _Collector, path: Path) -> dict[str, Helpline]:
    return registry.load_helplines(c, path)  # pydantic models in bot/registry.py


def load_references(c: _Collector, path: Path) -> dict[str, Helpline]:
    return registry.load_references(c, path)


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


def load_normalise(
    c: _Collector, path: Path
) -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    table = c.read_model(path, NormaliseFile, empty={})
    if table is None:
        return {}, frozenset(), {}
    return table.replacement_map(), frozenset(table.stopwords), table.synonym_map()


def _broken_intents(c: _Collector) -> frozenset[str]:
    """Intent ids whose files had errors: not loaded, and not to be reported again."""
    return frozenset(Path(p.file).stem for p in c.problems if p.file.startswith("intents/"))


def load_concepts(c: _Collector, path: Path) -> ConceptsFile | None:
    """Concepts and shared `unless` lines; None when the file is broken (errors reported)."""
    return c.read_model(path, ConceptsFile)


def with_shared_unless(
    c: _Collector, path: Path, intents: dict[str, Intent], shared: Iterable[SharedUnless]
) -> dict[str, Intent]:
    """Each safety class with the shared `unless` lines that name it added to its own."""
    out = dict(intents)
    broken = _broken_intents(c)
    for i, rule in enumerate(shared):
        for name in rule.classes:
            intent = out.get(name)
            if intent is None and name in broken:
                continue  # its own errors are reported already
            if intent is None or intent.triage is None:
                c.add(path, f"shared_unless[{i}].classes", f"{name!r} is not a safety intent")
                continue
            unless = (*intent.triage.unless, *rule.patterns)
            out[name] = replace(intent, triage=replace(intent.triage, unless=unless))
    return out


def load_triage_examples(
    c: _Collector, path: Path, intents: Mapping[str, Intent]
) -> dict[str, tuple[str, ...]]:
    """Optional: without the file, triage runs on the rules and examples alone."""
    if not path.is_file():
        return {}
    safety = frozenset(i.id for i in intents.values() if i.kind is IntentKind.SAFETY)
    broken = _broken_intents(c)
    examples = c.read_model(
        path, TriageExamplesFile, empty={}, safety_ids=safety, broken_ids=broken
    )
    return {} if examples is None else dict(examples.root)


def load_intent(
    c: _Collector,
    path: Path,
    helplines: Mapping[str, Helpline] | None,
    concepts: Mapping[str, object] | None = None,
) -> Intent | None:
    """One intent file; helpline ids and concept names are checked against `helplines` and
    `concepts` (None: that file is broken, so they are not)."""
    intent = c.read_model(
        path, IntentFile, file_stem=path.stem, helplines=helplines, concepts=concepts
    )
    return None if intent is None else intent.to_intent(c.rel(path))


def render_placeholders(
    c: _Collector, path: Path, text: str, helplines: Mapping[str, Helpline]
) -> str:
    def sub(m: re.Match[str]) -> str:
        hid, fld = m.group(1), m.group(2)
        h = helplines.get(hid)
        if h is None:
            c.add(path, m.group(0), f"unknown helpline {hid!r}")
            return m.group(0)
        value = h.field(fld)
        if value is None:
            c.add(path, m.group(0), f"helpline {hid!r} has no {fld!r}")
            return m.group(0)
        return value

    return PLACEHOLDER.sub(sub, text)


def load(root: Path | str | None = None) -> KnowledgeBase:
    """Load and validate everything under `root` (default: the built-in content)."""
    root = Path(root) if root is not None else default_root()
    c = _Collector(root)
    content = root / "content"
    helplines = load_helplines(c, content / "helplines.yaml")
    known_helplines = helplines or None  # an unreadable registry: no error in every intent
    references = load_references(c, content / "helplines.yaml")
    for rid in references.keys() & helplines.keys():
        c.add(content / "helplines.yaml", f"references.{rid}", "id already used by a helpline")
    concepts_file = load_concepts(c, content / "safety_concepts.yaml")
    concepts = None if concepts_file is None else dict(concepts_file.concepts)
    replacements, stopwords, synonyms = load_normalise(c, content / "normalise.yaml")
    intents = load_intents(c, root / "intents", known_helplines, concepts)
    if concepts_file is not None:
        intents = with_shared_unless(
            c, content / "safety_concepts.yaml", intents, concepts_file.shared_unless
        )
    answers = load_answers(c, content, needed_answers(c, intents), {**references, **helplines})
    triage_examples = load_triage_examples(c, content / "triage_examples.yaml", intents)
    if c.problems:
        raise KnowledgeBaseError(c.problems)
    return KnowledgeBase(
        intents=MappingProxyType(intents),
        answers=MappingProxyType(answers),
        helplines=MappingProxyType(helplines),
        references=MappingProxyType(references),
        replacements=MappingProxyType(replacements),
        stopwords=stopwords,
        synonyms=MappingProxyType(synonyms),
        concepts=MappingProxyType(concepts or {}),
        triage_examples=MappingProxyType(triage_examples),
        root=str(root),
    )


def load_intents(
    c: _Collector,
    folder: Path,
    helplines: Mapping[str, Helpline] | None,
    concepts: Mapping[str, object] | None,
) -> dict[str, Intent]:
    """Every intents/*.yaml that is valid, by id; every id of the contract must be there."""
    files = sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    if not files:
        c.add(folder, "folder", "no intent files found")
    intents: dict[str, Intent] = {}
    for path in files:
        intent = load_intent(c, path, helplines, concepts)
        if intent is not None:
            intents[intent.id] = intent
    for cid in CONTRACT_IDS:
        if cid not in intents and not c.has_problems(folder / f"{cid}.yaml"):
            c.add(folder / f"{cid}.yaml", "file", "missing: this id is in the intent contract")
    return intents


def needed_answers(c: _Collector, intents: Mapping[str, Intent]) -> set[str]:
    """Every answer id the intents and the engine use; a triage addendum must name a topic."""
    needed = {i.answer for i in intents.values()} | set(EXTRA_ANSWERS)
    for i in intents.values():
        if i.triage is None:
            continue
        needed.update(i.triage.addenda.values())
        if i.triage.topic_lead:
            needed.add(i.triage.topic_lead)
        for topic in i.triage.addenda:
            # A topic whose own file is broken is reported there, not here again.
            if topic not in intents and not c.has_problems(c.root / "intents" / f"{topic}.yaml"):
                c.add(c.root / i.source, "triage.addenda", f"unknown intent {topic!r}")
    return needed


def load_answers(
    c: _Collector, content: Path, needed: Iterable[str], placeholders: Mapping[str, Helpline]
) -> dict[str, MappingProxyType[str, str]]:
    """answer id -> audience -> its Markdown, placeholders filled in."""
    answers: dict[str, MappingProxyType[str, str]] = {}
    for aid in sorted(needed):
        per: dict[str, str] = {}
        for aud in AUDIENCES:
            text = _read_answer(c, content / aud / f"{aid}.md", f"the {aud} answer for {aid!r}")
            if text is not None:
                per[aud] = render_placeholders(c, content / aud / f"{aid}.md", text, placeholders)
        answers[aid] = MappingProxyType(per)
    return answers


def _read_answer(c: _Collector, path: Path, what: str) -> str | None:
    try:
        raw = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        c.add(path, "file", f"missing: {what}")
        return None
    except (OSError, UnicodeDecodeError) as exc:
        c.add(path, "file", f"cannot read: {exc}")
        return None
    if not raw:
        c.add(path, "file", "is empty")
    return raw
