"""Load and validate the knowledge base (intents, answers, helplines) once, at start-up.

Every problem is reported with the file and the field it is in, and all problems are
collected before failing, so a content editor can fix a whole batch in one go.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from . import registry
from .models import (
    AUDIENCES,
    CONTRACT_IDS,
    FALLBACK,
    Helpline,
    Intent,
    IntentKind,
    KnowledgeBase,
    Safety,
    Suggestion,
    Triage,
)

MIN_EXAMPLES = 15
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


def _str_list(c: _Collector, path: Path, data: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str | int | float) for v in value):
        c.add(path, key, "must be a list of text lines")
        return ()
    if any(isinstance(v, bool) for v in value):
        c.add(path, key, "a line reads as true/false: put it in quotes to keep it as text")
        return ()
    return tuple(str(v).strip() for v in value if str(v).strip())


def _compile(c: _Collector, path: Path, field: str, patterns: Iterable[str]) -> tuple:
    out = []
    for i, pat in enumerate(patterns):
        try:
            out.append(re.compile(pat))
        except re.error as exc:
            c.add(path, f"{field}[{i}]", f"bad regular expression {pat!r}: {exc}")
    return tuple(out)


def load_helplines(c: _Collector, path: Path) -> dict[str, Helpline]:
    return registry.load_helplines(c, path)  # pydantic models in bot/registry.py


def load_references(c: _Collector, path: Path) -> dict[str, Helpline]:
    return registry.load_references(c, path)


def _opt(v: Any) -> str | None:
    return None if v is None else str(v)


def load_normalise(
    c: _Collector, path: Path
) -> tuple[dict[str, str], frozenset[str], dict[str, str]]:
    data = c.read_yaml(path) or {}
    if not isinstance(data, dict):
        c.add(path, "file", "must be a mapping")
        return {}, frozenset(), {}
    rep = data.get("replacements") or {}
    if not isinstance(rep, dict):
        c.add(path, "replacements", "must be a mapping of word: replacement")
        rep = {}
    replacements = {str(k).lower(): str(v).lower() for k, v in rep.items() if v is not None}
    stop = data.get("stopwords") or []
    if not isinstance(stop, list):
        c.add(path, "stopwords", "must be a list")
        stop = []
    synonyms: dict[str, str] = {}
    groups = data.get("synonyms") or {}
    if not isinstance(groups, dict):
        c.add(path, "synonyms", "must map a word to the list of words that become it")
        groups = {}
    for word, variants in groups.items():
        if not isinstance(variants, list):
            c.add(path, f"synonyms.{word}", "must be a list of words")
            continue
        for v in variants:
            v = str(v).lower()
            if v in synonyms and synonyms[v] != str(word).lower():
                c.add(path, f"synonyms.{word}", f"{v!r} is already a synonym of {synonyms[v]!r}")
            synonyms[v] = str(word).lower()
    return replacements, frozenset(str(s).lower() for s in stop), synonyms


def load_concepts(c: _Collector, path: Path) -> dict[str, tuple[str, ...]]:
    data = c.read_yaml(path)
    concepts = data.get("concepts") if isinstance(data, dict) else None
    if not isinstance(concepts, dict):
        c.add(path, "concepts", "must map a concept name to a list of phrases")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for name, phrases in concepts.items():
        if not isinstance(phrases, list) or not phrases:
            c.add(path, f"concepts.{name}", "must be a non-empty list of phrases")
            continue
        for i, ph in enumerate(phrases):
            if str(ph).startswith("re:"):
                try:
                    re.compile(str(ph)[3:])
                except re.error as exc:
                    c.add(path, f"concepts.{name}[{i}]", f"bad regular expression: {exc}")
        # Phrases are lower-cased like the text they match; a regex is kept as written, since
        # lower-casing would turn \S, \W or \D into their opposites.
        kept = (str(p).strip() for p in phrases)
        out[str(name)] = tuple(p if p.startswith("re:") else p.lower() for p in kept)
    return out


def load_triage_examples(
    c: _Collector, path: Path, intents: Mapping[str, Intent]
) -> dict[str, tuple[str, ...]]:
    """Optional: without the file, triage runs on the rules and examples alone."""
    if not path.is_file():
        return {}
    data = c.read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        c.add(path, "file", "must map a safety intent id (or 'none') to a list of messages")
        return {}
    safety = {i.id for i in intents.values() if i.kind is IntentKind.SAFETY}
    out: dict[str, tuple[str, ...]] = {}
    for label in map(str, data):
        if label != "none" and label not in safety:
            c.add(path, label, f"must be 'none' or a safety intent: {', '.join(sorted(safety))}")
            continue
        out[label] = _str_list(c, path, data, label)
    return out


def _combos(
    c: _Collector, path: Path, data: dict[str, Any], key: str = "combos"
) -> tuple[tuple[str, ...], ...]:
    raw = data.get(key) or []
    if not isinstance(raw, list) or not all(isinstance(x, list) and x for x in raw):
        c.add(path, f"triage.{key}", "must be a list of lists of concept names")
        return ()
    return tuple(tuple(str(name) for name in combo) for combo in raw)


def _load_triage(c: _Collector, path: Path, data: Any) -> Triage | None:
    if not isinstance(data, dict):
        c.add(path, "triage", "must be a mapping")
        return None
    try:
        safety = Safety(data.get("safety", "urgent"))
    except ValueError:
        c.add(path, "triage.safety", "must be 'urgent' or 'emergency'")
        safety = Safety.URGENT
    priority = data.get("priority", 9)
    if not isinstance(priority, int):
        c.add(path, "triage.priority", "must be a whole number")
        priority = 9
    addenda = data.get("addenda") or {}
    if not isinstance(addenda, dict):
        c.add(path, "triage.addenda", "must map a topic id to an answer id")
        addenda = {}
    return Triage(
        safety=safety,
        priority=priority,
        patterns=_compile(c, path, "triage.patterns", _str_list(c, path, data, "patterns")),
        phrases=_str_list(c, path, data, "phrases"),
        unless=_compile(c, path, "triage.unless", _str_list(c, path, data, "unless")),
        emergency_patterns=_compile(
            c, path, "triage.emergency_patterns", _str_list(c, path, data, "emergency_patterns")
        ),
        addenda=MappingProxyType({str(k): str(v) for k, v in addenda.items()}),
        combos=_combos(c, path, data),
        topic_first=_combos(c, path, data, "topic_first"),
        topic_lead=_topic_lead(c, path, data),
    )


def _topic_lead(c: _Collector, path: Path, data: dict[str, Any]) -> str | None:
    lead = data.get("topic_lead")
    if lead is not None and (not isinstance(lead, str) or not lead.strip()):
        c.add(path, "triage.topic_lead", "must be the id of an answer in content/")
        return None
    if bool(lead) != bool(data.get("topic_first")):
        c.add(path, "triage.topic_first", "topic_first and topic_lead go together")
    return lead


def load_intent(c: _Collector, path: Path, helplines: Mapping[str, Helpline]) -> Intent | None:
    data = c.read_yaml(path)
    if data is None:
        return None
    if not isinstance(data, dict):
        c.add(path, "file", "must be a mapping of fields")
        return None
    iid = data.get("id")
    if iid != path.stem:
        c.add(path, "id", f"must be {path.stem!r} (the file name), found {iid!r}")
        return None
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        c.add(path, "title", "is required")
    try:
        kind = IntentKind(data.get("kind", "topic"))
    except ValueError:
        c.add(path, "kind", f"must be one of {', '.join(k.value for k in IntentKind)}")
        return None
    examples = _str_list(c, path, data, "examples")
    if iid != FALLBACK and len(examples) < MIN_EXAMPLES:
        c.add(path, "examples", f"needs at least {MIN_EXAMPLES}, found {len(examples)}")
    seen: set[str] = set()
    for ex in examples:
        key = ex.lower()
        if key in seen:
            c.add(path, "examples", f"duplicate example {ex!r}")
        seen.add(key)
    suggestions = []
    raw = data.get("suggestions") or []
    if not isinstance(raw, list):
        c.add(path, "suggestions", "must be a list of {label, message}")
        raw = []
    for i, s in enumerate(raw):
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("label"), str)
            or not isinstance(s.get("message"), str)
        ):
            c.add(path, f"suggestions[{i}]", "needs a 'label' and a 'message'")
            continue
        suggestions.append(Suggestion(s["label"].strip(), s["message"].strip()))
    signposts: dict[str, tuple[str, ...]] = {}
    raw_sp = data.get("signposts")
    if not isinstance(raw_sp, dict):
        c.add(path, "signposts", "must map young_person and parent to helpline ids")
        raw_sp = {}
    for aud in AUDIENCES:
        ids = raw_sp.get(aud)
        if not isinstance(ids, list) or not ids:
            c.add(path, f"signposts.{aud}", "needs at least one helpline id")
            continue
        for hid in ids:
            if hid not in helplines:
                c.add(path, f"signposts.{aud}", f"unknown helpline {hid!r}")
        signposts[aud] = tuple(str(h) for h in ids)
    triage = None
    if kind is IntentKind.SAFETY:
        triage = _load_triage(c, path, data.get("triage"))
    elif "triage" in data:
        c.add(path, "triage", "only intents of kind 'safety' have triage rules")
    answer = data.get("answer", iid)
    if not isinstance(answer, str) or not _ID.match(answer):
        c.add(path, "answer", "must be an answer id (a file name in content/<audience>/)")
        answer = iid
    return Intent(
        id=iid,
        title=str(title or iid),
        kind=kind,
        examples=examples,
        keywords=tuple(k.lower() for k in _str_list(c, path, data, "keywords")),
        answer=answer,
        suggestions=tuple(suggestions),
        signposts=MappingProxyType(signposts),
        triage=triage,
        source=c.rel(path),
        requires=tuple(k.lower() for k in _str_list(c, path, data, "requires")),
    )


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
    references = load_references(c, content / "helplines.yaml")
    for rid in references.keys() & helplines.keys():
        c.add(content / "helplines.yaml", f"references.{rid}", "id already used by a helpline")
    placeholders = {**references, **helplines}
    concepts = load_concepts(c, content / "safety_concepts.yaml")
    replacements, stopwords, synonyms = load_normalise(c, content / "normalise.yaml")

    intents: dict[str, Intent] = {}
    intent_dir = root / "intents"
    files = sorted(intent_dir.glob("*.yaml")) if intent_dir.is_dir() else []
    if not files:
        c.add(intent_dir, "folder", "no intent files found")
    for path in files:
        intent = load_intent(c, path, helplines)
        if intent is not None:
            intents[intent.id] = intent
    for cid in CONTRACT_IDS:
        if cid not in intents and not any(p.file.endswith(f"{cid}.yaml") for p in c.problems):
            c.add(intent_dir / f"{cid}.yaml", "file", "missing: this id is in the intent contract")

    needed = {i.answer for i in intents.values()} | set(EXTRA_ANSWERS)
    for i in intents.values():
        if i.triage:
            needed.update(i.triage.addenda.values())
            if i.triage.topic_lead:
                needed.add(i.triage.topic_lead)
            for topic in i.triage.addenda:
                if topic not in intents:
                    c.add(root / i.source, "triage.addenda", f"unknown intent {topic!r}")
    answers: dict[str, MappingProxyType[str, str]] = {}
    for aid in sorted(needed):
        per: dict[str, str] = {}
        for aud in AUDIENCES:
            path = content / aud / f"{aid}.md"
            try:
                raw = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                c.add(path, "file", f"missing: the {aud} answer for {aid!r}")
                continue
            except (OSError, UnicodeDecodeError) as exc:
                c.add(path, "file", f"cannot read: {exc}")
                continue
            if not raw:
                c.add(path, "file", "is empty")
            per[aud] = render_placeholders(c, path, raw, placeholders)
        answers[aid] = MappingProxyType(per)

    for i in intents.values():
        for k, combo in enumerate(i.triage.combos if i.triage else ()):
            for name in combo:
                if name.lstrip("!") not in concepts:
                    c.add(root / i.source, f"triage.combos[{k}]", f"unknown concept {name!r}")
        for k, combo in enumerate(i.triage.topic_first if i.triage else ()):
            for name in combo:
                if name.lstrip("!") not in concepts:
                    c.add(root / i.source, f"triage.topic_first[{k}]", f"unknown concept {name!r}")
        for s in i.suggestions:
            if not s.label or not s.message:
                c.add(root / i.source, "suggestions", "label and message must not be empty")

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
        concepts=MappingProxyType(concepts),
        triage_examples=MappingProxyType(triage_examples),
        root=str(root),
    )
