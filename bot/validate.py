"""`signpost validate`: a content linter on top of the loader's structural checks.

Reports every answer's reading grade and length; fails on facts typed outside the
registry, unsafe links, answers above the reading limit and examples that collide
across intents.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median

import numpy as np
from rapidfuzz import fuzz, process

from .compose import LEAD_WORDS, MORE
from .engine import Engine
from .loader import PLACEHOLDER, KnowledgeBaseError, Problem, default_root, load
from .models import AUDIENCES, IntentKind, KnowledgeBase
from .normalise import normalise
from .readability import measure, plain, word_count
from .triage_model import training_set

GRADE_LIMIT = {"young_person": 6.0, "parent": 9.0}
# docs/CONTENT.md "Lead first": what shows before "Tell me more" fits one phone screen.
# The median full young-person answer (lead and "more") reads at this grade or below.
MEDIAN_GRADE_YOUNG = 5.0
# A lead names a helpline ({id.field} or a link) or a next step the reader can take now.
_NEXT_STEP = re.compile(
    r"\b(call|talk|tell|report|block|text|chat|email|use|go to|delete|tap|try|choose|pick"
    r"|type|ask|stop|save|leave|end|don't pay|say no)\b",
    re.I,
)
# docs/CONTENT.md house rules a machine can check: (rule, pattern that breaks it).
STYLE_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "the bot is not a person: it can't tell, call or get help for anyone",
        re.compile(r"\bI(?:'ll| will) (?:tell|call|contact|get help|send help|report|pass)", re.I),
    ),
    (
        "telling the bot is not telling someone",
        re.compile(r"\b(?:you(?:'ve| have)? told someone|by telling someone|telling us)\b", re.I),
    ),
    (
        "no promise of secrecy",
        re.compile(
            r"\b(?:I promise|won't tell anyone|will not tell anyone|keep (?:it|this) (?:a )?secret"
            r" for you|between (?:you and me|us))\b",
            re.I,
        ),
    ),
    (
        "no blame: only 'not/never your fault'",
        re.compile(
            r"(?<!not )(?<!never )(?<!isn't )(?<!wasn't )\byour fault\b|\bshould(?:n't)? have\b"
            r"|\bwhy did you\b",
            re.I,
        ),
    ),
    (
        "never advise confronting anyone",
        # "confront" with no "not", "never" or "n't" before it in the same sentence
        re.compile(r"(?:^|[.!?]\s)(?:(?!\bnot\b|\bnever\b|n't\b)[^.!?\n])*\bconfront", re.I | re.M),
    ),
)
MAX_SENTENCE_WORDS = {"young_person": 20, "parent": 30}
NEAR_DUPLICATE = 92.0

_PHONE = re.compile(r"(?<![\w.])(?:\+?\d[\d ]{1,14}\d)(?!\w)")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"\b(?:https?://|www\.)[^\s)>\]]+", re.I)
_LINK_TARGET = re.compile(r"\]\(([^)]*)\)")


@dataclass(slots=True)
class AnswerRow:
    answer: str
    audience: str
    grade: float
    words: int
    longest: int
    ok: bool


@dataclass(slots=True)
class ValidationResult:
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    rows: list[AnswerRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def _registry_facts(kb: KnowledgeBase) -> tuple[set[str], set[str], set[str]]:
    phones, emails, urls = set(), set(), set()
    for h in [*kb.helplines.values(), *kb.references.values()]:
        for v in (h.phone, h.sms):
            if v:
                phones.add(re.sub(r"\D", "", v))
        if h.text:
            phones.update(re.sub(r"\D", "", m) for m in _PHONE.findall(h.text))
        if h.email:
            emails.add(h.email.lower())
        if h.url:
            urls.add(h.url.rstrip("/").lower())
    return phones, emails, urls


def check_answer_text(
    kb: KnowledgeBase, rel: str, raw: str, rendered: str, out: ValidationResult
) -> None:
    """Facts must come from the registry; links must be https: or tel:."""
    phones, emails, urls = _registry_facts(kb)
    text = PLACEHOLDER.sub(" ", raw)  # what the editor typed by hand
    for target in _LINK_TARGET.findall(rendered):
        if target and not target.startswith(("https://", "tel:")):
            out.errors.append(Problem(rel, "link", f"only https: and tel: links, found {target!r}"))
    for url in _URL.findall(text):
        if url.rstrip("/").lower() not in urls:
            out.errors.append(
                Problem(rel, "url", f"{url!r} is not in the registry: use a placeholder")
            )
    for email in _EMAIL.findall(text):
        if email.lower() not in emails:
            out.errors.append(Problem(rel, "email", f"{email!r} is not in the registry"))
    for num in _PHONE.findall(_URL.sub(" ", text)):
        digits = re.sub(r"\D", "", num)
        if len(digits) >= 3 and digits not in phones:
            out.errors.append(Problem(rel, "number", f"{num.strip()!r} is not in the registry"))
        elif len(digits) >= 3:
            out.warnings.append(
                Problem(rel, "number", f"{num.strip()!r} typed by hand: use a placeholder")
            )


def check_shape(rel: str, aud: str, raw: str, out: ValidationResult) -> None:
    """docs/CONTENT.md: a short lead that names help or a next step, then the rest behind
    "Tell me more"; and the house rules that can be checked."""
    lead, _, _ = raw.partition(MORE)
    words = word_count(lead)
    if words > LEAD_WORDS[aud]:
        out.errors.append(
            Problem(rel, "lead", f"{words} words before {MORE} (limit {LEAD_WORDS[aud]})")
        )
    if not PLACEHOLDER.search(lead) and not _NEXT_STEP.search(plain(lead)):
        out.errors.append(
            Problem(rel, "lead", "names no helpline and no next step (call, talk, report...)")
        )
    if raw.count(MORE) > 1:
        out.errors.append(Problem(rel, "more", f"{MORE} appears more than once"))
    text = plain(raw.replace(MORE, "\n"))
    for rule, pattern in STYLE_RULES:
        m = pattern.search(text)
        if m:
            out.errors.append(Problem(rel, "style", f"{m.group(0)!r}: {rule} (docs/CONTENT.md)"))


def check_examples(kb: KnowledgeBase, out: ValidationResult) -> None:
    """Near-identical examples in two intents, and examples the matcher answers elsewhere."""
    owners: list[str] = []
    texts: list[str] = []
    for intent in kb.intents.values():
        for ex in intent.examples:
            owners.append(intent.id)
            # Whole normalised text: stop-word-free forms of short questions collide
            # ("who are you" / "who should i tell" are both "who").
            texts.append(normalise(ex, kb.replacements).text)
    # token_sort_ratio is ratio() on sorted words: one native all-pairs call does them all.
    words = [" ".join(sorted(t.split())) for t in texts]
    scores = process.cdist(
        words, words, scorer=fuzz.ratio, score_cutoff=NEAR_DUPLICATE, dtype=np.uint8, workers=-1
    )
    for i, j in zip(*np.nonzero(np.triu(scores, k=1)), strict=True):
        if owners[i] == owners[j]:
            continue
        out.errors.append(
            Problem(
                f"intents/{owners[i]}.yaml",
                "examples",
                f"{texts[i]!r} nearly repeats {texts[j]!r} in intents/{owners[j]}.yaml"
                f" ({scores[i, j]:.0f}%)",
            )
        )
    engine = Engine(kb)
    for intent in kb.intents.values():
        if intent.kind is IntentKind.OUT_OF_SCOPE or intent.id == "what_to_do":
            continue
        for ex in intent.examples:
            got = engine.respond(ex).intent  # triage first, then matching: the real route
            if got != intent.id:
                out.warnings.append(
                    Problem(f"intents/{intent.id}.yaml", "examples", f"{ex!r} is matched as {got}")
                )


_ESCAPE = re.compile(r"\\.")


def check_regex_case(kb: KnowledgeBase, out: ValidationResult) -> None:
    """Triage reads lower-cased text, so a capital letter in a regex (outside an escape such
    as \\S) can never match: a silent hole in safety, so it is named here."""
    found: list[tuple[str, str, str]] = [
        ("content/safety_concepts.yaml", f"concepts.{name}", p[3:])
        for name, phrases in kb.concepts.items()
        for p in phrases
        if p.startswith("re:")
    ]
    for intent in kb.safety_intents():
        t = intent.triage
        assert t is not None
        for field_name in ("patterns", "unless", "emergency_patterns"):
            for rx in getattr(t, field_name):
                found.append((intent.source, f"triage.{field_name}", rx.pattern))
    for source, where, pattern in found:
        if any(ch.isupper() for ch in _ESCAPE.sub("", pattern)):
            out.warnings.append(
                Problem(source, where, f"{pattern[:60]!r} has a capital letter; text is lower case")
            )


def check_triage_examples(kb: KnowledgeBase, out: ValidationResult) -> None:
    """A message the learned safety check is told is two different things (a crisis class and
    "none", or two classes, counting intents' examples) teaches it nothing but doubt."""
    texts, labels = training_set(kb)
    seen: dict[str, set[str]] = {}
    for text, label in zip(texts, labels, strict=True):
        seen.setdefault(text, set()).add(label)
    for label, examples in kb.triage_examples.items():
        for ex in examples:
            both = seen.get(normalise(ex, kb.replacements).text, set())
            if len(both) > 1:
                others = ", ".join(sorted(both - {label}))
                out.errors.append(
                    Problem(
                        "content/triage_examples.yaml",
                        label,
                        f"{ex!r} is also taught as {others} (here or in an intent's examples)",
                    )
                )


def validate(root: Path | str | None = None) -> ValidationResult:
    out = ValidationResult()
    try:
        kb = load(root)
    except KnowledgeBaseError as exc:
        out.errors.extend(exc.problems)
        return out
    base = Path(kb.root)
    for intent in kb.intents.values():
        n = len(intent.suggestions)
        if intent.kind is IntentKind.TOPIC and not 2 <= n <= 4:
            out.errors.append(
                Problem(intent.source, "suggestions", f"a topic needs 2 to 4, found {n}")
            )
    for answer_id in sorted(kb.answers):
        for aud in AUDIENCES:
            path = base / "content" / aud / f"{answer_id}.md"
            rel = f"content/{aud}/{answer_id}.md"
            raw = path.read_text(encoding="utf-8")
            check_answer_text(kb, rel, raw, kb.answers[answer_id][aud], out)
            check_shape(rel, aud, raw, out)
            r = measure(raw.replace(MORE, "\n"))
            ok = r.grade <= GRADE_LIMIT[aud] and r.longest_sentence <= MAX_SENTENCE_WORDS[aud]
            if r.grade > GRADE_LIMIT[aud]:
                out.errors.append(
                    Problem(rel, "reading grade", f"{r.grade} is above {GRADE_LIMIT[aud]:.0f}")
                )
            if r.longest_sentence > MAX_SENTENCE_WORDS[aud]:
                out.errors.append(
                    Problem(
                        rel,
                        "sentence length",
                        f"a sentence has {r.longest_sentence} words"
                        f" (limit {MAX_SENTENCE_WORDS[aud]})",
                    )
                )
            out.rows.append(AnswerRow(answer_id, aud, r.grade, r.words, r.longest_sentence, ok))
    young = sorted(r.grade for r in out.rows if r.audience == "young_person")
    if young and median(young) > MEDIAN_GRADE_YOUNG:
        out.errors.append(
            Problem(
                "content/young_person",
                "reading grade",
                f"median {median(young):.1f} is above {MEDIAN_GRADE_YOUNG:.0f}",
            )
        )
    check_regex_case(kb, out)
    check_triage_examples(kb, out)
    check_examples(kb, out)
    return out


def to_text(res: ValidationResult) -> str:
    lines = [f"{'answer':30s} {'audience':13s} {'grade':>5s} {'words':>5s} {'longest':>7s}"]
    for r in res.rows:
        flag = "" if r.ok else "  <- too hard"
        lines.append(
            f"{r.answer:30s} {r.audience:13s} {r.grade:5.1f} {r.words:5d} {r.longest:7d}{flag}"
        )
    for aud in AUDIENCES:
        grades = sorted(r.grade for r in res.rows if r.audience == aud)
        if grades:
            mid = (
                grades[len(grades) // 2]
                if len(grades) % 2
                else (grades[len(grades) // 2 - 1] + grades[len(grades) // 2]) / 2
            )
            lines.append(f"{aud}: median grade {mid:.1f}, highest {grades[-1]:.1f}")
    for w in res.warnings:
        lines.append(f"warning: {w}")
    for e in res.errors:
        lines.append(f"error: {e}")
    lines.append(
        "OK: the knowledge base is valid." if res.ok else f"FAILED: {len(res.errors)} error(s)."
    )
    return "\n".join(lines)


__all__ = ["ValidationResult", "default_root", "to_text", "validate"]
